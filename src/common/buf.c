/*
 * buf.c - see buf.h.
 */
#include "buf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUF_MIN_CAP 64

/* Keeps len + 1 and the doubling below free of overflow. */
static size_t buf_clamp(size_t max)
{
	return max > SIZE_MAX / 4 ? SIZE_MAX / 4 : max;
}

void buf_init(struct buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = buf_clamp(max);
}

void buf_free(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

void buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

/* Makes room for LEN more bytes plus the NUL; 0 or -1 (E2BIG, ENOMEM). */
static int buf_reserve(struct buf *b, size_t len)
{
	size_t need, cap;
	char *p;

	if (len > b->max || b->len > b->max - len) {
		errno = E2BIG;
		return -1;
	}
	need = b->len + len + 1;
	if (need <= b->cap)
		return 0;
	cap = b->cap ? b->cap : BUF_MIN_CAP;
	if (cap > b->max + 1)
		cap = b->max + 1;
	while (cap < need)
		cap = cap > b->max / 2 + 1 ? b->max + 1 : cap * 2;
	p = realloc(b->data, cap);
	if (!p) {
		errno = ENOMEM;
		return -1;
	}
	b->data = p;
	b->cap = cap;
	return 0;
}

int buf_add(struct buf *b, const void *data, size_t len)
{
	if (buf_reserve(b, len) < 0)
		return -1;
	if (len)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
	return 0;
}

int buf_addstr(struct buf *b, const char *s)
{
	return buf_add(b, s, strlen(s));
}

/* Formats into the free space when it fits, else measures, reserves and formats again. */
static int buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
	va_list again;
	size_t room = b->cap > b->len ? b->cap - b->len : 0;
	int n;

	va_copy(again, ap);
	/* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): buf_printf() va_starts it */
	n = vsnprintf(room ? b->data + b->len : NULL, room, fmt, ap);
	if (n >= 0 && (size_t)n >= room && buf_reserve(b, (size_t)n) == 0)
		vsnprintf(b->data + b->len, (size_t)n + 1, fmt, again);
	else if (n >= 0 && (size_t)n >= room)
		n = -2; /* buf_reserve() failed and set errno */
	va_end(again);
	if (n == -1)
		errno = EINVAL;
	if (n < 0) {
		if (b->data)
			b->data[b->len] = '\0'; /* undo a truncated write into the free space */
		return -1;
	}
	b->len += (size_t)n;
	return 0;
}

int buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = buf_vprintf(b, fmt, ap);
	va_end(ap);
	return rc;
}

void buf_truncate(struct buf *b, size_t len)
{
	if (len >= b->len)
		return;
	b->len = len;
	b->data[len] = '\0';
}

void buf_consume(struct buf *b, size_t n)
{
	if (n >= b->len) {
		buf_reset(b);
		return;
	}
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
	b->data[b->len] = '\0';
}

void buf_set_max(struct buf *b, size_t max)
{
	b->max = buf_clamp(max);
}
