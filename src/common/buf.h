/*
 * buf.h - a growable byte buffer with a hard maximum, for everything that
 * collects bytes from a peer or for a peer (curl's dynbuf, STYLE item 15).
 *
 * A buffer is created with its maximum: an append that would make it longer
 * than that fails with E2BIG and leaves the buffer exactly as it was, so a
 * peer can never make us allocate more than the maximum (plus one byte for a
 * terminating NUL kept after the data, so data can be logged as a string).
 * Memory grows by doubling and is released only by buf_free().  A zeroed
 * struct is an empty buffer with maximum 0; buf_init() sets the maximum.
 * Appends return 0, or -1 with errno E2BIG (maximum) or ENOMEM.
 * Full description: docs/protocol.md, section "The buffer module".
 */
#ifndef CAPTURE_BUF_H
#define CAPTURE_BUF_H

#include <stddef.h>

struct buf {
	char *data; /* NUL-terminated when non-NULL; NULL until the first append */
	size_t len; /* bytes in use, the NUL after them not counted */
	size_t cap; /* bytes allocated, the NUL included */
	size_t max; /* len never exceeds this */
};

/* Empties B and sets its maximum length in bytes; B holds no memory yet. */
void buf_init(struct buf *b, size_t max);
/* Releases B's memory; B is then empty (its maximum is kept). */
void buf_free(struct buf *b);
/* Empties B and keeps its memory for reuse. */
void buf_reset(struct buf *b);
/* Appends LEN bytes of DATA. */
int buf_add(struct buf *b, const void *data, size_t len);
/* Appends the NUL-terminated string S (without its NUL). */
int buf_addstr(struct buf *b, const char *s);
/* Appends printf-style output. */
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Shortens B to LEN bytes (no-op if it is not longer): undoes appends. */
void buf_truncate(struct buf *b, size_t len);
/* Drops the first N bytes (all if N >= len), moving the rest to the front. */
void buf_consume(struct buf *b, size_t n);
/* Changes the maximum; a buffer already longer keeps its bytes but cannot grow. */
void buf_set_max(struct buf *b, size_t max);

#endif
