/*
 * url_source.h - reads a URL file as it grows (the original tailed its -f
 * file forever, sleeping 60 s at the end).
 *
 * Each call of url_source_poll() reads what was appended since the last
 * one and hands every complete line to the callbacks: valid URL lines to
 * .entry, invalid ones (with the reason) to .invalid; empty and '#' lines
 * are skipped; an "end" line ends the source (nothing after it is read).
 * A last line without a newline is kept until its newline arrives; a pipe
 * or FIFO that closes ends the source and completes such a line, and
 * url_source_finish() does so for a file the caller knows is complete.
 * A line longer than URL_LINE_MAX is an error for that line only; the rest
 * of it is skipped up to its newline.  A UTF-8 byte order mark before the
 * first line is ignored.  If a regular file shrinks (truncated and
 * rewritten) it is read again from the start (the queue drops the URLs it
 * has already seen).  Line numbers count every line, like an editor.
 * The caller polls from its event loop: on a timer, or when inotify
 * (IN_MODIFY on the file) or a readable pipe says there is more.
 */
#ifndef CAPTURE_URL_SOURCE_H
#define CAPTURE_URL_SOURCE_H

#include <stdbool.h>
#include <stddef.h>

#include "server/url_line.h"

#define URL_SOURCE_READ_CHUNK 65536 /* bytes read per read(2) */

struct url_source;

struct url_source_ops {
	/* A valid line; E (with E->line set) is only valid during the call. */
	void (*entry)(void *arg, const struct url_entry *e);
	/*
	 * An invalid line (also: out of memory): RAW/LEN is the line (at most
	 * URL_LINE_MAX bytes of it, not NUL-terminated), MSG "file:line: why".
	 */
	void (*invalid)(void *arg, unsigned long line, const char *raw, size_t len,
			const char *msg);
};

/*
 * Opens PATH for reading (O_CLOEXEC; O_NONBLOCK too, so a FIFO without a
 * writer does not block).  0, or -1 with errno.
 */
int url_source_open(const char *path, struct url_source **out);
/* Reads from FD, which stays the caller's (stdin, a socket); NAME is used in messages. */
struct url_source *url_source_new_fd(int fd, const char *name);
void url_source_free(struct url_source *src);

/*
 * Reads what is there and delivers up to MAX_LINES complete lines (0 = no
 * limit) through OPS.  Returns 1 if it stopped at MAX_LINES with more to
 * do, 0 if it is caught up (or the source has ended), -1 on a read error
 * (errno; the source stays usable).
 */
int url_source_poll(struct url_source *src, const struct url_source_ops *ops, void *arg,
		    size_t max_lines);
/* Delivers a last line that has no newline (the caller knows the file is complete). */
void url_source_finish(struct url_source *src, const struct url_source_ops *ops, void *arg);

/* True after an "end" line, or the end of a pipe/FIFO. */
bool url_source_ended(const struct url_source *src);
/* The file descriptor (for inotify or the event loop). */
int url_source_fd(const struct url_source *src);
/* Lines read so far. */
unsigned long url_source_lines(const struct url_source *src);

#endif
