/*
 * util.c - see util.h.
 */
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void util_freep(void *p)
{
	free(*(void **)p);
}

void util_closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;

		close(*fd);
		errno = saved;
	}
}

void util_fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}

int util_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!s || !isdigit((unsigned char)*s)) {
		errno = EINVAL;
		return -1;
	}
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno == ERANGE)
		return -1;
	if (*end != '\0') {
		errno = EINVAL;
		return -1;
	}
	if (v < min || v > max) {
		errno = ERANGE;
		return -1;
	}
	*out = v;
	return 0;
}

int util_parse_size(const char *s, uint64_t *out)
{
	char buf[32];
	size_t n;
	unsigned shift = 0;
	uint64_t v;

	if (!s || (n = strlen(s)) == 0 || n >= sizeof(buf)) {
		errno = EINVAL;
		return -1;
	}
	memcpy(buf, s, n + 1);
	switch (buf[n - 1]) {
	case 'k':
	case 'K': shift = 10; break;
	case 'm':
	case 'M': shift = 20; break;
	case 'g':
	case 'G': shift = 30; break;
	default: break;
	}
	if (shift)
		buf[n - 1] = '\0';
	if (util_parse_u64(buf, 0, UINT64_MAX >> shift, &v) < 0)
		return -1;
	*out = v << shift;
	return 0;
}

size_t util_utf8_decode(const unsigned char *s, size_t len, uint32_t *cp)
{
	size_t need;
	uint32_t v;

	if (len == 0)
		return 0;
	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		need = 2, v = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		need = 3, v = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		need = 4, v = s[0] & 0x07;
	else
		return 0;
	if (len < need)
		return 0;
	for (size_t i = 1; i < need; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		v = (v << 6) | (s[i] & 0x3f);
	}
	/* reject overlong forms, surrogates and values beyond U+10FFFF */
	if ((need == 3 && v < 0x800) || (need == 4 && v < 0x10000) || v > 0x10ffff ||
	    (v >= 0xd800 && v <= 0xdfff))
		return 0;
	*cp = v;
	return need;
}

void util_escape_bytes(FILE *out, const char *s, size_t len, char quote)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while (i < len) {
		size_t run = i, n;
		uint32_t cp;

		/* fast path: a run of printable ASCII that needs no escaping */
		while (run < len && p[run] >= 0x20 && p[run] < 0x7f && p[run] != '\\' &&
		       p[run] != (unsigned char)quote)
			run++;
		if (run > i) {
			fwrite(p + i, 1, run - i, out);
			i = run;
			continue;
		}
		n = util_utf8_decode(p + i, len - i, &cp);

		if (n == 1 && p[i] >= 0x20 && p[i] != 0x7f) {
			if (p[i] == '\\')
				fputs("\\\\", out);
			else if (quote && p[i] == (unsigned char)quote) {
				fputc(quote, out);
				fputc(quote, out);
			} else
				fputc(p[i], out);
			i++;
		} else if (n > 1) {
			fwrite(p + i, 1, n, out);
			i += n;
		} else {
			fprintf(out, "\\x%02x", p[i]);
			i++;
		}
	}
}

char *util_escape_dup(const char *s, size_t len)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);

	if (!f)
		return NULL;
	util_escape_bytes(f, s, len, 0);
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

void util_quote_sample(char *dst, size_t dstlen, const char *s, size_t len)
{
	size_t i, o = 0;
	size_t max = len > 40 ? 40 : len;

	for (i = 0; i < max && o + 5 < dstlen; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x20 && c < 0x7f)
			dst[o++] = (char)c;
		else
			o += (size_t)snprintf(dst + o, dstlen - o, "\\x%02x", c);
	}
	if (max < len && o + 4 < dstlen) {
		memcpy(dst + o, "...", 3);
		o += 3;
	}
	dst[o] = '\0';
}

uint64_t util_fnv1a64(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ull;
	}
	return h;
}

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t util_now_mono_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

uint64_t util_now_boot_ns(void)
{
	return clock_ns(CLOCK_BOOTTIME);
}

uint64_t util_now_real_ns(void)
{
	return clock_ns(CLOCK_REALTIME);
}

int util_hex_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int util_write_all(int fd, const void *buf, size_t n)
{
	const unsigned char *p = buf;

	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			if (w == 0)
				errno = EIO;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static bool is_base64(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '+' || c == '/';
}

long util_base64_decode(const char *s, size_t n, unsigned char *out)
{
	size_t pad = 0;
	int got;

	if (n % 4 || n > INT_MAX)
		return -1;
	if (n && s[n - 1] == '=')
		pad = s[n - 2] == '=' ? 2 : 1;
	for (size_t i = 0; i < n - pad; i++)
		if (!is_base64((unsigned char)s[i]))
			return -1;
	got = n ? EVP_DecodeBlock(out, (const unsigned char *)s, (int)n) : 0;
	if (got < 0 || (size_t)got < pad)
		return -1;
	return (long)((size_t)got - pad); /* EVP_DecodeBlock counts the padding as zero bytes */
}

void util_set_pos_err(char *err, size_t errlen, const char *name, unsigned line, unsigned col,
		      const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!err || errlen == 0)
		return;
	n = snprintf(err, errlen, "%s:%u:%u: ", name, line, col);
	if (n < 0 || (size_t)n >= errlen)
		return;
	va_start(ap, fmt);
	/* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): va_start is above */
	vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
	va_end(ap);
}
