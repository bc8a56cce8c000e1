/*
 * test_url_line.c - URL lines: every form of the original's table, the URL
 * kept byte for byte, skipped and "end" lines, and each kind of invalid line
 * with its message.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/url_line.h"

static char err[512];

/* Parses TEXT expecting a URL line; returns the entry (free it). */
static struct url_entry parse_ok(const char *text)
{
	struct url_entry e;
	int r = url_line_parse(text, strlen(text), "urls.txt", 7, &e, err, sizeof(err));

	if (r != URL_LINE_URL)
		fail_msg("'%s': result %d, '%s'", text, r, err);
	assert_int_equal(e.line, 7);
	return e;
}

static void expect_entry(const char *text, const char *url, const char *client, int visit,
			 double priority)
{
	struct url_entry e = parse_ok(text);

	assert_string_equal(e.url, url);
	if (client)
		assert_string_equal(e.client, client);
	else
		assert_null(e.client);
	assert_int_equal(e.visit_time, visit);
	assert_true(e.priority == priority);
	url_line_entry_free(&e);
}

/* TEXT must be invalid with exactly MESSAGE. */
static void expect_invalid(const char *text, const char *message)
{
	struct url_entry e;
	int r = url_line_parse(text, strlen(text), "urls.txt", 7, &e, err, sizeof(err));

	if (r != URL_LINE_INVALID || strcmp(err, message) != 0)
		fail_msg("'%s': result %d, message '%s', expected '%s'", text, r, err, message);
	assert_null(e.url);
	assert_null(e.client);
}

/* ---- the original's forms ---- */

static void test_url_only(void **state)
{
	(void)state;
	expect_entry("http://example.com/", "http://example.com/", NULL, -1, 0.0);
}

static void test_two_fields(void **state)
{
	(void)state;
	expect_entry("http://a/::30", "http://a/", NULL, 30, 0.0);           /* url::N */
	expect_entry("http://a/::0.75", "http://a/", NULL, -1, 0.75);        /* url::D */
	expect_entry("http://a/::firefox", "http://a/", "firefox", -1, 0.0); /* url::name */
	expect_entry("http://a/::.5", "http://a/", NULL, -1, 0.5);
	expect_entry("http://a/::1e-1", "http://a/", NULL, -1, 0.1);
	expect_entry("http://a/::+5", "http://a/", NULL, 5, 0.0);
	expect_entry("http://a/::0", "http://a/", NULL, 0, 0.0); /* an integer: a visit time */
}

static void test_three_fields(void **state)
{
	(void)state;
	expect_entry("http://a/::iexplore::45", "http://a/", "iexplore", 45, 0.0);
	expect_entry("http://a/::iexplore::0.9", "http://a/", "iexplore", -1, 0.9);
	/* the original's parser never reached this form; its table promises it */
	expect_entry("http://a/::45::0.9", "http://a/", NULL, 45, 0.9);
	expect_entry("http://a/::45::1.0", "http://a/", NULL, 45, 1.0);
}

static void test_four_fields(void **state)
{
	(void)state;
	expect_entry("http://a/::firefox::10::0.25", "http://a/", "firefox", 10, 0.25);
	expect_entry("http://a/::firefox::10::1", "http://a/", "firefox", 10, 1.0);
	expect_entry("http://a/::firefox::0::0", "http://a/", "firefox", 0, 0.0);
}

static void test_blanks_are_trimmed(void **state)
{
	(void)state;
	expect_entry("  \thttp://a/b \t\r", "http://a/b", NULL, -1, 0.0);
	expect_entry("http://a/ :: firefox :: 20 :: 0.5\r\n", "http://a/", "firefox", 20, 0.5);
}

/* ---- byte-exact URLs ---- */

static void test_url_kept_byte_exact(void **state)
{
	static const char *const urls[] = {
	    "HTTP://User:Pass@Example.COM:8080/Path/To/Page.PHP?Q=A&b=C#Frag",
	    "https://example.com:8443/x?y=%2F%41#section-2",
	    "http://user@host/",
	    "ftp://ftp.example.org/pub/FILE.TXT",
	    "file:///tmp/Test.html",
	    "data:text/html,<script>alert(1)</script>",
	    "http://[::1]:8080/index.html",
	    "http://u@[2001:db8::7]/x",
	    "http://example.com/caf\xc3\xa9?\xff",
	    "view-source:http://x/",
	    "x-custom+scheme.1:opaque",
	};
	char line[256];

	(void)state;
	for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
		expect_entry(urls[i], urls[i], NULL, -1, 0.0);
		snprintf(line, sizeof(line), "%s::Chromium::15::0.3", urls[i]);
		expect_entry(line, urls[i], "Chromium", 15, 0.3);
	}
}

/* ---- skipped lines and end ---- */

static void test_skip_and_end(void **state)
{
	static const char *const skip[] = {"", "   ", "\t\r", "#", "# comment", "  #http://x/"};
	static const char *const end[] = {"end", "END", " End \r"};
	struct url_entry e;

	(void)state;
	for (size_t i = 0; i < sizeof(skip) / sizeof(skip[0]); i++)
		assert_int_equal(
		    url_line_parse(skip[i], strlen(skip[i]), NULL, 1, &e, err, sizeof(err)),
		    URL_LINE_SKIP);
	for (size_t i = 0; i < sizeof(end) / sizeof(end[0]); i++)
		assert_int_equal(
		    url_line_parse(end[i], strlen(end[i]), NULL, 1, &e, err, sizeof(err)),
		    URL_LINE_END);
	/* "end" only on its own */
	expect_invalid("endless", "urls.txt:7: field 1 (URL) 'endless': no scheme (expected e.g. "
				  "http://host/path)");
}

/* ---- invalid lines ---- */

static void test_invalid_url(void **state)
{
	(void)state;
	expect_invalid("www.example.com/index.html",
		       "urls.txt:7: field 1 (URL) 'www.example.com/index.html': no scheme "
		       "(expected e.g. http://host/path)");
	expect_invalid("example.com:8080/x", "urls.txt:7: field 1 (URL) 'example.com:8080/x': no "
					     "scheme (expected e.g. http://host/path)");
	expect_invalid("localhost:80", "urls.txt:7: field 1 (URL) 'localhost:80': no scheme "
				       "(expected e.g. http://host/path)");
	expect_invalid("1http://x/", "urls.txt:7: field 1 (URL) '1http://x/': no scheme (expected "
				     "e.g. http://host/path)");
	expect_invalid("http:", "urls.txt:7: field 1 (URL) 'http:': nothing after the scheme");
	expect_invalid("http:/x", "urls.txt:7: field 1 (URL) 'http:/x': no host (expected "
				  "http://host/...)");
	expect_invalid("https://user@/x", "urls.txt:7: field 1 (URL) 'https://user@/x': no host "
					  "(expected https://host/...)");
	expect_invalid("http://a b/", "urls.txt:7: field 1 (URL) 'http://a b/': space at byte 9 of "
				      "the URL (write it as %20)");
	expect_invalid("http://a/\x01x", "urls.txt:7: field 1 (URL) 'http://a/\\x01x': control "
					 "byte 0x01 at byte 10 of the URL");
	expect_invalid("::firefox", "urls.txt:7: field 1 (URL) is empty");
}

static void test_invalid_fields(void **state)
{
	(void)state;
	expect_invalid("http://a/::firefox::1.5",
		       "urls.txt:7: field 3 (priority): expected a priority between 0.0 and 1.0, "
		       "found '1.5'");
	expect_invalid("http://a/::-0.5", "urls.txt:7: field 2 (priority): expected a priority "
					  "between 0.0 and 1.0, found '-0.5'");
	expect_invalid("http://a/::-5", "urls.txt:7: field 2 (visit time): expected a visit time "
					"between 0 and 86400 seconds, found '-5'");
	expect_invalid("http://a/::86401", "urls.txt:7: field 2 (visit time): expected a visit "
					   "time between 0 and 86400 seconds, found '86401'");
	expect_invalid("http://a/::99999999999999999999",
		       "urls.txt:7: field 2 (visit time): expected a visit time between 0 and "
		       "86400 seconds, found '99999999999999999999'");
	expect_invalid("http://a/::fire fox", "urls.txt:7: field 2: expected a client name, a "
					      "visit time (integer) or a priority (0.0..1.0), "
					      "found 'fire fox'");
	expect_invalid("http://a/::", "urls.txt:7: field 2 is empty");
	expect_invalid("http://a/::::firefox", "urls.txt:7: field 2 is empty");
	expect_invalid("http://a/::10::20", "urls.txt:7: fields 2 and 3 are both integers (visit "
					    "times); write a priority with a decimal point, e.g. "
					    "1.0");
	expect_invalid("http://a/::0.5::20", "urls.txt:7: field 2: expected a client name or a "
					     "visit time (integer), found '0.5'");
	expect_invalid("http://a/::firefox::chrome", "urls.txt:7: field 3: expected a visit time "
						     "(integer) or a priority (0.0..1.0), found "
						     "'chrome'");
	expect_invalid("http://a/::10::firefox", "urls.txt:7: field 3 (priority): expected a "
						 "priority between 0.0 and 1.0, found 'firefox'");
	expect_invalid("http://a/::10::20::0.5", "urls.txt:7: field 2 (client): expected a client "
						 "program name (letters, digits, '.', '_', '+', "
						 "'-'), found '10'");
	expect_invalid("http://a/::ff::0.5::0.5", "urls.txt:7: field 3 (visit time): expected a "
						  "visit time in seconds, found '0.5'");
	expect_invalid("http://a/::ff::5::x", "urls.txt:7: field 4 (priority): expected a priority "
					      "between 0.0 and 1.0, found 'x'");
	expect_invalid("http://a/::a::1::0.5::x", "urls.txt:7: more than 4 '::'-separated fields "
						  "(url::client::visittime::priority)");
	expect_invalid("http://a/b::c::d::e::f::g", "urls.txt:7: more than 4 '::'-separated "
						    "fields (url::client::visittime::priority)");
}

static void test_length_limits(void **state)
{
	size_t n = URL_LINE_URL_MAX + 1;
	char *line = malloc(URL_LINE_MAX + 16);
	struct url_entry e;

	(void)state;
	assert_non_null(line);
	memcpy(line, "http://a/", 9);
	memset(line + 9, 'x', URL_LINE_URL_MAX - 9);
	line[URL_LINE_URL_MAX] = '\0';
	e = parse_ok(line); /* exactly the maximum */
	assert_int_equal(strlen(e.url), URL_LINE_URL_MAX);
	url_line_entry_free(&e);
	line[n - 1] = 'x';
	line[n] = '\0';
	assert_int_equal(url_line_parse(line, n, NULL, 3, &e, err, sizeof(err)), URL_LINE_INVALID);
	assert_non_null(strstr(err, "URL of 8193 bytes (at most 8192)"));
	assert_int_equal(strncmp(err, "line 3: field 1 (URL) 'http://a/xxx", 35), 0);
	memset(line + 9, 'x', URL_LINE_MAX + 1 - 9);
	assert_int_equal(url_line_parse(line, URL_LINE_MAX + 1, NULL, 3, &e, err, sizeof(err)),
			 URL_LINE_INVALID);
	assert_string_equal(err, "line 3: line of 9217 bytes (at most 9216)");
	free(line);
}

static void test_nul_and_small_buffers(void **state)
{
	struct url_entry e;
	char tiny[12];

	(void)state;
	assert_int_equal(url_line_parse("http://a/\0b", 11, NULL, 1, &e, err, sizeof(err)),
			 URL_LINE_INVALID);
	assert_string_equal(err, "line 1: field 1 (URL) 'http://a/\\x00b': control byte 0x00 at "
				 "byte 10 of the URL");
	/* a message always fits, cut if need be */
	assert_int_equal(
	    url_line_parse("nope", 4, "a-long-file-name.txt", 1, &e, tiny, sizeof(tiny)),
	    URL_LINE_INVALID);
	assert_int_equal(strlen(tiny), sizeof(tiny) - 1);
	assert_int_equal(url_line_parse("nope", 4, NULL, 1, &e, NULL, 0), URL_LINE_INVALID);
}

static void test_check_url_alone(void **state)
{
	(void)state;
	assert_int_equal(url_line_check_url("http://a/", 9, err, sizeof(err)), 0);
	assert_int_equal(url_line_check_url("", 0, err, sizeof(err)), -1);
	assert_string_equal(err, "empty URL");
	assert_int_equal(url_line_check_url("mailto:a b", 10, err, sizeof(err)), -1);
	assert_string_equal(err, "space at byte 9 of the URL (write it as %20)");
}

static void test_entry_copy(void **state)
{
	struct url_entry e = parse_ok("http://a/::ff::3::0.5"), c;

	(void)state;
	assert_int_equal(url_line_entry_copy(&c, &e), 0);
	assert_ptr_not_equal(c.url, e.url);
	assert_string_equal(c.url, "http://a/");
	assert_string_equal(c.client, "ff");
	assert_int_equal(c.visit_time, 3);
	url_line_entry_free(&e);
	url_line_entry_free(&c);
	assert_null(c.url);
	assert_int_equal(c.visit_time, -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_url_only),
	    cmocka_unit_test(test_two_fields),
	    cmocka_unit_test(test_three_fields),
	    cmocka_unit_test(test_four_fields),
	    cmocka_unit_test(test_blanks_are_trimmed),
	    cmocka_unit_test(test_url_kept_byte_exact),
	    cmocka_unit_test(test_skip_and_end),
	    cmocka_unit_test(test_invalid_url),
	    cmocka_unit_test(test_invalid_fields),
	    cmocka_unit_test(test_length_limits),
	    cmocka_unit_test(test_nul_and_small_buffers),
	    cmocka_unit_test(test_check_url_alone),
	    cmocka_unit_test(test_entry_copy),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
