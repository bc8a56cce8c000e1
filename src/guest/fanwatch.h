/*
 * fanwatch.h - every file change on a guest's upper layer, with the pid.
 *
 * Syscall tracepoints miss work done inside the kernel (io_uring requests,
 * overlay copy-up).  fanotify in FID mode with a filesystem mark on the
 * tmpfs holding the overlay's upper and work directories sees every such
 * change and names the acting process.  Events under work/ (copy-up in
 * progress) are folded into the rename that publishes them; whiteouts
 * (char 0/0 created in upper) are deletions.  Paths are reported as the
 * guest sees them (upper/<p> -> /<p>).
 */
#ifndef CAPTURE_FANWATCH_H
#define CAPTURE_FANWATCH_H

#include <stdint.h>
#include <sys/types.h>

enum fanwatch_action {
	FANWATCH_CREATE = 0, /* file created */
	FANWATCH_WRITE,      /* content modified (or copied up to be modified) */
	FANWATCH_DELETE,     /* file deleted (incl. a whiteout of a lower file) */
	FANWATCH_RENAME,     /* path -> path2 */
	FANWATCH_ATTRIB,     /* mode, owner, times, xattrs */
	FANWATCH_MKDIR,
	FANWATCH_RMDIR,
};

struct fanwatch_event {
	enum fanwatch_action action;
	uint32_t pid;      /* tgid of the acting process, host pid namespace */
	const char *path;  /* guest path */
	const char *path2; /* FANWATCH_RENAME: the new guest path; NULL otherwise */
};

typedef void (*fanwatch_fn)(const struct fanwatch_event *ev, void *ctx);

struct fanwatch;

/*
 * Marks the file system mounted at TMPFS_DIR, whose subdirectories UPPER
 * and WORK are the overlay's upperdir and workdir.  Events caused by
 * IGNORE_PID (the client itself) are dropped.  0 or -1 with ERR.
 */
int fanwatch_open(const char *tmpfs_dir, const char *upper, const char *work, pid_t ignore_pid,
		  struct fanwatch **out, char *err, size_t errlen);
/* Readable when events wait. */
int fanwatch_fd(const struct fanwatch *w);
/* Reads every waiting event and calls FN for each; returns how many, or -1. */
int fanwatch_read(struct fanwatch *w, fanwatch_fn fn, void *ctx);
/* Queue overflows seen (events lost: the visit is then inconclusive). */
uint64_t fanwatch_overflows(const struct fanwatch *w);
/* Events dropped because a directory handle no longer resolved (e.g. removed since). */
uint64_t fanwatch_unresolved(const struct fanwatch *w);
void fanwatch_close(struct fanwatch *w);

#endif
