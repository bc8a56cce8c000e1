/*
 * url_source.c - see url_source.h.
 *
 * One buffer of URL_SOURCE_READ_CHUNK bytes holds the unconsumed bytes
 * buf[start..len).  Complete lines are parsed in place; a partial line is
 * moved to the front before the next read.  A partial line never grows
 * past URL_LINE_MAX (it is reported and skipped instead), so a read always
 * has room.
 */
#include "server/url_source.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"

_Static_assert(URL_SOURCE_READ_CHUNK > 2 * URL_LINE_MAX, "a partial line leaves room to read");

struct url_source {
	int fd;
	bool own_fd;        /* close fd in url_source_free() */
	bool regular;       /* a regular file: end of file only means "nothing yet" */
	char *name;         /* for messages */
	char *buf;          /* URL_SOURCE_READ_CHUNK bytes */
	size_t start, len;  /* unconsumed bytes are buf[start..len) */
	off_t offset;       /* bytes read from a regular file (to notice truncation) */
	unsigned long line; /* lines begun */
	bool skipping;      /* inside an over-long line, already reported */
	bool ended;         /* "end" line, end of a pipe, or url_source_finish() */
};

static struct url_source *source_new(int fd, const char *name, bool own)
{
	struct url_source *src = calloc(1, sizeof(*src));
	struct stat st;

	if (!src)
		return NULL;
	src->fd = fd;
	src->own_fd = own;
	src->regular = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
	src->name = strdup(name);
	src->buf = malloc(URL_SOURCE_READ_CHUNK);
	if (!src->name || !src->buf) {
		src->own_fd = false; /* the caller still owns fd on failure */
		url_source_free(src);
		return NULL;
	}
	return src;
}

struct url_source *url_source_new_fd(int fd, const char *name)
{
	return source_new(fd, name, false);
}

int url_source_open(const char *path, struct url_source **out)
{
	struct stat st;
	int fd, flags = O_RDONLY;

	/* a FIFO is opened read-write so that writers may come and go: only "end" ends it */
	if (stat(path, &st) == 0 && S_ISFIFO(st.st_mode))
		flags = O_RDWR;
	fd = open(path, flags | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -1;
	*out = source_new(fd, path, true);
	if (!*out) {
		close(fd);
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

void url_source_free(struct url_source *src)
{
	if (!src)
		return;
	if (src->own_fd)
		close(src->fd);
	free(src->name);
	free(src->buf);
	free(src);
}

/* ---- lines ---- */

static void deliver(struct url_source *src, const char *p, size_t n,
		    const struct url_source_ops *ops, void *arg)
{
	struct url_entry e;
	char err[512];
	int r;

	if (src->line == 1 && n >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0) {
		p += 3; /* byte order mark */
		n -= 3;
	}
	r = url_line_parse(p, n, src->name, src->line, &e, err, sizeof(err));
	switch (r) {
	case URL_LINE_URL:
		ops->entry(arg, &e);
		url_line_entry_free(&e);
		break;
	case URL_LINE_SKIP: break;
	case URL_LINE_END: src->ended = true; break;
	default: ops->invalid(arg, src->line, p, n, err); break;
	}
}

/* A partial line that can no longer become valid: report it once, skip to its end. */
static void too_long(struct url_source *src, const struct url_source_ops *ops, void *arg)
{
	char err[256];

	src->line++;
	snprintf(err, sizeof(err), "%s:%lu: line longer than %d bytes; skipped", src->name,
		 src->line, URL_LINE_MAX);
	ops->invalid(arg, src->line, src->buf + src->start, URL_LINE_MAX, err);
	src->skipping = true;
	src->start = src->len;
}

/*
 * Handles the next complete line in the buffer.  1 if something was
 * consumed, 0 if no complete line is buffered.
 */
static int next_line(struct url_source *src, const struct url_source_ops *ops, void *arg)
{
	char *p = src->buf + src->start;
	size_t avail = src->len - src->start;
	char *nl = memchr(p, '\n', avail);

	if (!nl) {
		if (src->skipping)
			src->start = src->len; /* more of the over-long line */
		else if (avail > URL_LINE_MAX)
			too_long(src, ops, arg);
		return 0;
	}
	src->start += (size_t)(nl - p) + 1;
	if (src->skipping) {
		src->skipping = false; /* its line number was counted when reported */
		return 1;
	}
	src->line++;
	deliver(src, p, (size_t)(nl - p), ops, arg);
	return 1;
}

/* ---- reading ---- */

/* A regular file that shrank was rewritten: read it again from the start. */
static void check_truncated(struct url_source *src)
{
	struct stat st;

	if (!src->regular || fstat(src->fd, &st) < 0 || st.st_size >= src->offset)
		return;
	if (lseek(src->fd, 0, SEEK_SET) < 0)
		return;
	log_warnx("%s: the file shrank (truncated?); reading it again from the start", src->name);
	src->offset = 0;
	src->start = src->len = 0;
	src->line = 0;
	src->skipping = false;
}

/* Reads more bytes; the count, 0 if none now (or end of file), -1 on error. */
static ssize_t read_more(struct url_source *src, bool *eof)
{
	ssize_t n;

	memmove(src->buf, src->buf + src->start, src->len - src->start);
	src->len -= src->start;
	src->start = 0;
	do
		n = read(src->fd, src->buf + src->len, URL_SOURCE_READ_CHUNK - src->len);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
	*eof = n == 0;
	src->len += (size_t)n;
	src->offset += n;
	return n;
}

void url_source_finish(struct url_source *src, const struct url_source_ops *ops, void *arg)
{
	if (src->ended)
		return;
	if (src->start < src->len && !src->skipping) {
		src->line++;
		deliver(src, src->buf + src->start, src->len - src->start, ops, arg);
	}
	src->start = src->len = 0;
	src->ended = true;
}

int url_source_poll(struct url_source *src, const struct url_source_ops *ops, void *arg,
		    size_t max_lines)
{
	size_t done = 0;
	bool eof = false;
	ssize_t n;

	if (src->ended)
		return 0;
	check_truncated(src);
	for (;;) {
		while (!src->ended && next_line(src, ops, arg))
			if (max_lines && ++done >= max_lines)
				return src->ended ? 0 : 1;
		if (src->ended)
			return 0;
		n = read_more(src, &eof);
		if (n < 0)
			return -1;
		if (eof && !src->regular)
			url_source_finish(src, ops, arg); /* the writer closed the pipe */
		if (n == 0)
			return 0;
	}
}

bool url_source_ended(const struct url_source *src)
{
	return src->ended;
}

int url_source_fd(const struct url_source *src)
{
	return src->fd;
}

unsigned long url_source_lines(const struct url_source *src)
{
	return src->line;
}
