/*
 * test_util.c - checked number parsing (util_parse_u64, util_parse_size) and
 * the byte-safe text escape (util_escape_bytes, util_escape_dup).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

/* ---- helpers ---- */

/* Parses S expecting failure with errno ERR; OUT must not be written. */
static void expect_u64_fail(const char *s, uint64_t min, uint64_t max, int err)
{
	uint64_t v = 0xdeadbeef;

	errno = 0;
	if (util_parse_u64(s, min, max, &v) != -1)
		fail_msg("util_parse_u64(\"%s\") accepted", s ? s : "(null)");
	if (errno != err)
		fail_msg("util_parse_u64(\"%s\"): errno %d, expected %d", s ? s : "(null)", errno,
			 err);
	assert_int_equal(v, 0xdeadbeef);
}

static uint64_t parse_u64_ok(const char *s, uint64_t min, uint64_t max)
{
	uint64_t v = 0xdeadbeef;

	if (util_parse_u64(s, min, max, &v) != 0)
		fail_msg("util_parse_u64(\"%s\") rejected (errno %d)", s, errno);
	return v;
}

static void expect_size_fail(const char *s, int err)
{
	uint64_t v = 0xdeadbeef;

	errno = 0;
	if (util_parse_size(s, &v) != -1)
		fail_msg("util_parse_size(\"%s\") accepted", s ? s : "(null)");
	if (errno != err)
		fail_msg("util_parse_size(\"%s\"): errno %d, expected %d", s ? s : "(null)", errno,
			 err);
	assert_int_equal(v, 0xdeadbeef);
}

static uint64_t parse_size_ok(const char *s)
{
	uint64_t v = 0xdeadbeef;

	if (util_parse_size(s, &v) != 0)
		fail_msg("util_parse_size(\"%s\") rejected (errno %d)", s, errno);
	return v;
}

/* util_escape_bytes() of LEN bytes of S into a malloc'ed, NUL-terminated string. */
static char *escape(const void *s, size_t len, char quote)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);

	assert_non_null(f);
	util_escape_bytes(f, s, len, quote);
	assert_int_equal(fclose(f), 0);
	assert_non_null(buf);
	return buf;
}

/* Checks both util_escape_bytes (no quote) and util_escape_dup give WANT. */
static void expect_escape(const void *s, size_t len, const char *want)
{
	char *got = escape(s, len, 0);
	char *dup = util_escape_dup(s, len);

	assert_string_equal(got, want);
	assert_non_null(dup);
	assert_string_equal(dup, want);
	free(got);
	free(dup);
}

/* ---- util_parse_u64 ---- */

static void test_parse_u64_valid(void **state)
{
	(void)state;
	assert_int_equal(parse_u64_ok("0", 0, 10), 0);
	assert_int_equal(parse_u64_ok("42", 0, 100), 42);
	assert_int_equal(parse_u64_ok("007", 0, 100), 7);
	assert_true(parse_u64_ok("18446744073709551615", 0, UINT64_MAX) == UINT64_MAX);
	assert_true(parse_u64_ok("4294967296", 0, UINT64_MAX) == 4294967296ull);
}

static void test_parse_u64_bounds_inclusive(void **state)
{
	(void)state;
	assert_int_equal(parse_u64_ok("10", 10, 20), 10);
	assert_int_equal(parse_u64_ok("20", 10, 20), 20);
	assert_int_equal(parse_u64_ok("15", 15, 15), 15);
	expect_u64_fail("9", 10, 20, ERANGE);
	expect_u64_fail("21", 10, 20, ERANGE);
	expect_u64_fail("0", 1, 20, ERANGE);
	expect_u64_fail("65536", 0, 65535, ERANGE);
}

static void test_parse_u64_junk(void **state)
{
	static const char *const junk[] = {
	    "12a", "a12", " 12", "12 ", "+1", "-1", "0x10", "1.5", "1e3", "12\n", "--1", "١",
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(junk); i++)
		expect_u64_fail(junk[i], 0, UINT64_MAX, EINVAL);
}

static void test_parse_u64_empty_and_null(void **state)
{
	(void)state;
	expect_u64_fail("", 0, UINT64_MAX, EINVAL);
	expect_u64_fail(NULL, 0, UINT64_MAX, EINVAL);
}

static void test_parse_u64_overflow(void **state)
{
	(void)state;
	expect_u64_fail("18446744073709551616", 0, UINT64_MAX, ERANGE);
	expect_u64_fail("99999999999999999999999999", 0, UINT64_MAX, ERANGE);
	/* too big and followed by junk: either errno will do, but it must fail */
	assert_int_equal(util_parse_u64("18446744073709551616x", 0, UINT64_MAX, &(uint64_t){0}),
			 -1);
}

/* ---- util_parse_size ---- */

static void test_parse_size_plain(void **state)
{
	(void)state;
	assert_int_equal(parse_size_ok("0"), 0);
	assert_int_equal(parse_size_ok("4096"), 4096);
	assert_true(parse_size_ok("18446744073709551615") == UINT64_MAX);
}

static void test_parse_size_suffixes(void **state)
{
	(void)state;
	assert_int_equal(parse_size_ok("1K"), 1024);
	assert_int_equal(parse_size_ok("64K"), 64 * 1024);
	assert_int_equal(parse_size_ok("64k"), 64 * 1024);
	assert_int_equal(parse_size_ok("32M"), 32ull << 20);
	assert_int_equal(parse_size_ok("32m"), 32ull << 20);
	assert_int_equal(parse_size_ok("2G"), 2ull << 30);
	assert_int_equal(parse_size_ok("3g"), 3ull << 30);
	assert_int_equal(parse_size_ok("0G"), 0);
	/* largest values that still fit in 64 bits */
	assert_true(parse_size_ok("17179869183G") == (17179869183ull << 30));
	assert_true(parse_size_ok("18014398509481983K") == (18014398509481983ull << 10));
}

static void test_parse_size_overflow(void **state)
{
	(void)state;
	expect_size_fail("17179869184G", ERANGE);       /* 2^34 GiB = 2^64 */
	expect_size_fail("17592186044416M", ERANGE);    /* 2^44 MiB = 2^64 */
	expect_size_fail("18014398509481984K", ERANGE); /* 2^54 KiB = 2^64 */
	expect_size_fail("18446744073709551615K", ERANGE);
	expect_size_fail("18446744073709551616", ERANGE);
}

static void test_parse_size_junk(void **state)
{
	static const char *const junk[] = {
	    "K",   "M",   "12KB", "1.5M", "12T", "12E",   "1KK",
	    " 1K", "-1K", "+1K",  "K1",   "1 K", "0x10K",
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(junk); i++)
		expect_size_fail(junk[i], EINVAL);
	expect_size_fail("", EINVAL);
	expect_size_fail(NULL, EINVAL);
}

/* ---- util_escape_bytes / util_escape_dup ---- */

static void test_escape_plain_ascii_unchanged(void **state)
{
	const char *s = "/usr/bin/firefox --private ~!@#$%^&*()_+{}|:<>?=";

	(void)state;
	expect_escape(s, strlen(s), s);
	expect_escape("", 0, "");
}

static void test_escape_respects_length(void **state)
{
	(void)state;
	expect_escape("abcdef", 3, "abc");
	/* an embedded NUL is a byte like any other control byte */
	expect_escape("a\0b", 3, "a\\x00b");
}

static void test_escape_backslash_doubled(void **state)
{
	(void)state;
	expect_escape("a\\b", 3, "a\\\\b");
	expect_escape("\\", 1, "\\\\");
	expect_escape("\\x41", 4, "\\\\x41"); /* cannot be confused with an escape */
}

static void test_escape_control_bytes(void **state)
{
	(void)state;
	expect_escape("a\nb", 3, "a\\x0ab");
	expect_escape("\t", 1, "\\x09");
	expect_escape("\r", 1, "\\x0d");
	expect_escape("\x7f", 1, "\\x7f");
	expect_escape("\x1b[31m", 5, "\\x1b[31m");
	expect_escape("\x01\x1f", 2, "\\x01\\x1f");
}

/* Every single byte: printable ASCII kept, '\\' doubled, the rest \xNN. */
static void test_escape_every_single_byte(void **state)
{
	(void)state;
	for (unsigned b = 0; b < 256; b++) {
		char in = (char)b, want[8];
		char *got;

		if (b == '\\')
			snprintf(want, sizeof(want), "\\\\");
		else if (b >= 0x20 && b < 0x7f)
			snprintf(want, sizeof(want), "%c", b);
		else
			snprintf(want, sizeof(want), "\\x%02x", b);
		got = escape(&in, 1, 0);
		if (strcmp(got, want) != 0)
			fail_msg("byte 0x%02x: got '%s', want '%s'", b, got, want);
		free(got);
	}
}

static void test_escape_valid_utf8_kept(void **state)
{
	static const char *const ok[] = {
	    "h\xc3\xa9llo",                          /* é, 2 bytes */
	    "\xc2\x80",                              /* U+0080, smallest 2-byte */
	    "\xe2\x82\xac",                          /* €, 3 bytes */
	    "\xe0\xa0\x80",                          /* U+0800, smallest 3-byte */
	    "\xef\xbf\xbd",                          /* U+FFFD */
	    "\xf0\x9f\x98\x80",                      /* 😀, 4 bytes */
	    "\xf0\x90\x80\x80",                      /* U+10000, smallest 4-byte */
	    "\xf4\x8f\xbf\xbf",                      /* U+10FFFF, largest */
	    "/tmp/\xd1\x84\xd0\xb0\xd0\xb9\xd0\xbb", /* Cyrillic */
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(ok); i++)
		expect_escape(ok[i], strlen(ok[i]), ok[i]);
}

static void test_escape_invalid_utf8(void **state)
{
	(void)state;
	expect_escape("\xff", 1, "\\xff");
	expect_escape("a\377b", 3, "a\\xffb"); /* octal: "\xffb" would be one escape */
	expect_escape("\xfe\xff", 2, "\\xfe\\xff");
	/* lone continuation byte */
	expect_escape("\x80", 1, "\\x80");
	/* truncated sequences, at the end and followed by ASCII */
	expect_escape("\xe2\x82", 2, "\\xe2\\x82");
	expect_escape("\342\202A", 3, "\\xe2\\x82A");
	expect_escape("\xf0\x9f\x98", 3, "\\xf0\\x9f\\x98");
	expect_escape("\xc3", 1, "\\xc3");
	/* valid sequence cut by the length argument */
	expect_escape("\xe2\x82\xac", 2, "\\xe2\\x82");
	/* overlong forms */
	expect_escape("\xc0\xaf", 2, "\\xc0\\xaf");
	expect_escape("\xc1\xbf", 2, "\\xc1\\xbf");
	expect_escape("\xe0\x80\xaf", 3, "\\xe0\\x80\\xaf");
	expect_escape("\xf0\x80\x80\xaf", 4, "\\xf0\\x80\\x80\\xaf");
	/* UTF-16 surrogates */
	expect_escape("\xed\xa0\x80", 3, "\\xed\\xa0\\x80");
	expect_escape("\xed\xbf\xbf", 3, "\\xed\\xbf\\xbf");
	/* beyond U+10FFFF and invalid lead bytes */
	expect_escape("\xf4\x90\x80\x80", 4, "\\xf4\\x90\\x80\\x80");
	expect_escape("\xf5\x80\x80\x80", 4, "\\xf5\\x80\\x80\\x80");
	/* the largest valid code point just before a surrogate is kept */
	expect_escape("\xed\x9f\xbf", 3, "\xed\x9f\xbf");
	/* invalid byte then a valid sequence: the valid one survives */
	expect_escape("\xff\xc3\xa9", 3, "\\xff\xc3\xa9");
}

static void test_escape_quote_doubled(void **state)
{
	const char *s = "say \"hi\"";
	char *got;

	(void)state;
	got = escape(s, strlen(s), '"');
	assert_string_equal(got, "say \"\"hi\"\"");
	free(got);
	/* without a quote char the quote is plain text */
	got = escape(s, strlen(s), 0);
	assert_string_equal(got, s);
	free(got);
	/* util_escape_dup never doubles quotes */
	got = util_escape_dup(s, strlen(s));
	assert_non_null(got);
	assert_string_equal(got, s);
	free(got);
	/* another quote char, and escapes still applied next to it */
	got = escape("it's\n\\", 6, '\'');
	assert_string_equal(got, "it''s\\x0a\\\\");
	free(got);
}

/* Strict base64: RFC 4648 alphabet, whole quads, '=' only at the end. */
static void test_base64_decode(void **state)
{
	static const struct {
		const char *in;
		long len;
		const char *out;
	} cases[] = {
	    {"", 0, ""},          {"YQ==", 1, "a"},        {"YWI=", 2, "ab"},
	    {"YWJj", 3, "abc"},   {"YWJjZA==", 4, "abcd"}, {"+/+/", 3, "\xfb\xff\xbf"},
	    {"YQ=", -1, NULL},    {"Y=Q=", -1, NULL},      {"YW J", -1, NULL},
	    {"=AAA", -1, NULL},   {"AA=A", -1, NULL},      {"YQ==YQ==", -1, NULL},
	    {"YWJj\n", -1, NULL}, {"-_-_", -1, NULL},      {"YQ===", -1, NULL},
	};
	unsigned char out[16];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		long got = util_base64_decode(cases[i].in, strlen(cases[i].in), out);

		if (got != cases[i].len)
			fail_msg("\"%s\": %ld bytes, want %ld", cases[i].in, got, cases[i].len);
		if (got > 0)
			assert_memory_equal(out, cases[i].out, (size_t)got);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_u64_valid),
	    cmocka_unit_test(test_parse_u64_bounds_inclusive),
	    cmocka_unit_test(test_parse_u64_junk),
	    cmocka_unit_test(test_parse_u64_empty_and_null),
	    cmocka_unit_test(test_parse_u64_overflow),
	    cmocka_unit_test(test_parse_size_plain),
	    cmocka_unit_test(test_parse_size_suffixes),
	    cmocka_unit_test(test_parse_size_overflow),
	    cmocka_unit_test(test_parse_size_junk),
	    cmocka_unit_test(test_escape_plain_ascii_unchanged),
	    cmocka_unit_test(test_escape_respects_length),
	    cmocka_unit_test(test_escape_backslash_doubled),
	    cmocka_unit_test(test_escape_control_bytes),
	    cmocka_unit_test(test_escape_every_single_byte),
	    cmocka_unit_test(test_escape_valid_utf8_kept),
	    cmocka_unit_test(test_escape_invalid_utf8),
	    cmocka_unit_test(test_escape_quote_doubled),
	    cmocka_unit_test(test_base64_decode),
	};

	return cmocka_run_group_tests_name("util", tests, NULL, NULL);
}
