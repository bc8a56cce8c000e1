/*
 * util.h - small helpers shared by every program: scope-bound cleanup,
 * checked number parsing, and the byte-safe text escape used in every output.
 *
 * Cleanup attributes live here and only here (see docs/architecture.md).
 */
#ifndef CAPTURE_UTIL_H
#define CAPTURE_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

void util_freep(void *p);
void util_closep(int *fd);
void util_fclosep(FILE **f);

#define CLEANUP_FREE __attribute__((cleanup(util_freep)))
#define CLEANUP_FD   __attribute__((cleanup(util_closep)))
#define CLEANUP_FILE __attribute__((cleanup(util_fclosep)))

/* Hands a pointer to a longer-lived owner: returns *pp and clears it. */
static inline void *steal_ptr(void *pp)
{
	void **p = (void **)pp;
	void *ret = *p;

	*p = NULL;
	return ret;
}

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/*
 * Parses a decimal unsigned integer in [min, max]. Returns 0, or -1 with
 * errno = EINVAL (not a number, trailing junk) or ERANGE.
 */
int util_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/*
 * Parses a byte size with an optional K, M or G suffix (powers of 1024),
 * e.g. "4096", "64K", "32M". Same return convention as util_parse_u64().
 */
int util_parse_size(const char *s, uint64_t *out);

/*
 * Writes S (LEN bytes) to OUT as byte-safe text: valid UTF-8 is copied,
 * backslash becomes "\\", control bytes, DEL and bytes that are not valid
 * UTF-8 become "\xNN". The result is always valid UTF-8 with no control
 * characters, so a hostile file name cannot break a CSV/JSON line or a
 * terminal. QUOTE, if non-zero, is doubled (CSV quoting).
 */
void util_escape_bytes(FILE *out, const char *s, size_t len, char quote);

/*
 * Decodes the UTF-8 sequence at S (LEN bytes available): returns its length
 * (1..4) with the code point in *CP, or 0 if it is not valid UTF-8 (overlong
 * forms, surrogates and values beyond U+10FFFF are invalid).
 */
size_t util_utf8_decode(const unsigned char *s, size_t len, uint32_t *cp);

/* Same into a malloc'ed string (NULL on allocation failure). */
char *util_escape_dup(const char *s, size_t len);

/* ERR = "NAME:LINE:COL: " + the formatted message (cut to ERRLEN); no-op if ERR is NULL. */
void util_set_pos_err(char *err, size_t errlen, const char *name, unsigned line, unsigned col,
		      const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* Writes all N bytes of BUF to FD (EINTR retried); 0, or -1 with errno (EIO if none taken). */
int util_write_all(int fd, const void *buf, size_t n);

/* Value of the hex digit C (either case), or -1. */
int util_hex_value(unsigned char c);

/*
 * Strictly decodes N bytes of base64 S (RFC 4648 alphabet, length a
 * multiple of 4, '=' only as the last one or two characters, nothing
 * else: OpenSSL alone would skip white space) into OUT, which has room for
 * N / 4 * 3 bytes.  Returns the decoded length, or -1.
 */
long util_base64_decode(const char *s, size_t n, unsigned char *out);

/*
 * Copies the first 40 bytes of S (LEN bytes) into DST for an error message:
 * printable ASCII as is, other bytes as \xNN, "..." if cut, always
 * NUL-terminated, so a garbage line cannot mess up a terminal.
 */
void util_quote_sample(char *dst, size_t dstlen, const char *s, size_t len);

/* FNV-1a 64 hash of the NUL-terminated string S (names, hash tables; not for security). */
uint64_t util_fnv1a64(const char *s);

/* Monotonic and wall clocks in nanoseconds. */
uint64_t util_now_mono_ns(void);
uint64_t util_now_boot_ns(void);
uint64_t util_now_real_ns(void);

#endif
