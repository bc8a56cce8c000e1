/*
 * test_path.c - lexical path joining (path_join) and path_basename.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "common/path.h"
#include "common/util.h"

/* Joins DIR and NAME into a large buffer and checks the result is WANT. */
static void expect_join(const char *dir, const char *name, const char *want)
{
	char out[4096];
	int rc;

	memset(out, 'X', sizeof(out));
	rc = path_join(dir, name, out, sizeof(out));
	if (rc < 0 || strcmp(out, want) != 0 || (size_t)rc != strlen(want))
		fail_msg("path_join(\"%s\", \"%s\") = %d \"%.*s\", want \"%s\"",
			 dir ? dir : "(null)", name ? name : "(null)", rc, (int)sizeof(out), out,
			 want);
}

/*
 * Joins into a buffer of OUTLEN bytes that lies inside a larger one filled
 * with 'X', so a write past OUTLEN is seen.  Returns the return code; the
 * result is copied to RESULT (which must hold OUTLEN bytes).
 */
static int join_small(const char *dir, const char *name, size_t outlen, char *result)
{
	char buf[128];
	int rc;

	assert_true(outlen > 0 && outlen < sizeof(buf));
	memset(buf, 'X', sizeof(buf));
	rc = path_join(dir, name, buf, outlen);
	for (size_t i = outlen; i < sizeof(buf); i++) {
		if (buf[i] != 'X')
			fail_msg("path_join wrote byte %zu with outlen %zu", i, outlen);
	}
	if (!memchr(buf, '\0', outlen))
		fail_msg("path_join(\"%s\", \"%s\", outlen %zu) = %d left OUT unterminated",
			 dir ? dir : "(null)", name ? name : "(null)", outlen, rc);
	memcpy(result, buf, outlen);
	return rc;
}

static void test_absolute_name_ignores_dir(void **state)
{
	(void)state;
	expect_join("/home/user", "/etc/passwd", "/etc/passwd");
	expect_join("/home/user", "/", "/");
	expect_join("relative/dir", "/abs", "/abs");
	expect_join("/a", "/b/../c", "/c");
}

static void test_relative_name_joined(void **state)
{
	(void)state;
	expect_join("/home/user", "file.txt", "/home/user/file.txt");
	expect_join("/home/user", "a/b/c", "/home/user/a/b/c");
	expect_join("/", "etc", "/etc");
	expect_join("/home/user/", "x", "/home/user/x");
	/* names that only look like dot components are kept */
	expect_join("/a", "...", "/a/...");
	expect_join("/a", "..x", "/a/..x");
	expect_join("/a", ".hidden", "/a/.hidden");
	expect_join("/a", "x..", "/a/x..");
}

static void test_dot_and_dotdot_folded(void **state)
{
	(void)state;
	expect_join("/home/user", "./a/./b/.", "/home/user/a/b");
	expect_join("/home/user", "../v/x", "/home/v/x");
	expect_join("/a/b/c", "../../d", "/a/d");
	expect_join("/a/b", "c/../../d", "/a/d");
	expect_join("/a/./b/../c", "d", "/a/c/d");
	expect_join("/tmp/x", "../y/./z", "/tmp/y/z");
	expect_join("/a/b", "..", "/a");
	expect_join("/a/b", ".", "/a/b");
	expect_join("/a", "b/..", "/a");
}

static void test_dotdot_above_root_stays_root(void **state)
{
	(void)state;
	expect_join("/", "..", "/");
	expect_join("/", "../..", "/");
	expect_join("/a", "../../../..", "/");
	expect_join("/", "../etc/passwd", "/etc/passwd");
	expect_join("/a", "../../b", "/b");
	expect_join("/..", "x", "/x");
	expect_join("/a", "/../../x", "/x");
}

static void test_repeated_slashes(void **state)
{
	(void)state;
	expect_join("//a///b//", "c//d", "/a/b/c/d");
	expect_join("/a", "///x", "/x");
	expect_join("/a", "b/", "/a/b");
	expect_join("/a", "b///", "/a/b");
	expect_join("///", "", "/");
	expect_join("/a", ".//./", "/a");
}

static void test_empty_name_is_dir(void **state)
{
	(void)state;
	expect_join("/var/tmp", "", "/var/tmp");
	expect_join("/var/tmp/", "", "/var/tmp");
	expect_join("/var/./tmp/..", "", "/var");
	expect_join("/", "", "/");
}

static void test_null_dir_relative_name(void **state)
{
	(void)state;
	expect_join(NULL, "a/b", "/a/b");
	expect_join(NULL, "/x/y", "/x/y");
	expect_join(NULL, "../x", "/x");
	expect_join(NULL, "", "/");
	expect_join("", "", "/");
	expect_join("", "a", "/a");
}

static void test_exact_fit(void **state)
{
	char out[8];

	(void)state;
	/* "/ab" needs 4 bytes with its NUL */
	assert_int_equal(join_small("/", "ab", 4, out), 3);
	assert_string_equal(out, "/ab");
	assert_int_equal(join_small("/", "ab", 3, out), -1);
	/* "/" needs 2 */
	assert_int_equal(join_small("/", "", 2, out), 1);
	assert_string_equal(out, "/");
}

/*
 * "-1 if OUT is too small": the result "/a" (3 bytes) fits, so a longer
 * intermediate ("/a/b" before ".." folds it) must not make the join fail.
 */
static void test_result_that_fits_not_rejected(void **state)
{
	char out[8];

	(void)state;
	assert_int_equal(join_small("/a/b", "..", 3, out), 2);
	assert_string_equal(out, "/a");
	assert_int_equal(join_small("/a", "bcdefgh/..", 3, out), 2);
	assert_string_equal(out, "/a");
}

static void test_overflow_truncated_and_terminated(void **state)
{
	const char *full = "/home/user/file";
	char out[16];

	(void)state;
	for (size_t outlen = 2; outlen <= strlen(full); outlen++) {
		int rc = join_small("/home/user", "file", outlen, out);

		if (rc != -1)
			fail_msg("outlen %zu: rc %d, want -1", outlen, rc);
		/* what was written is a beginning of the full path */
		if (strncmp(full, out, strlen(out)) != 0)
			fail_msg("outlen %zu: '%s' is not a prefix of '%s'", outlen, out, full);
		assert_true(strlen(out) < outlen);
	}
	assert_int_equal(join_small("/home/user", "file", strlen(full) + 1, out),
			 (int)strlen(full));
	assert_string_equal(out, full);
}

/* A one-byte buffer can only hold the empty string, and must hold it. */
static void test_overflow_one_byte_buffer_terminated(void **state)
{
	char out[1];

	(void)state;
	assert_int_equal(join_small("/a", "b", 1, out), -1);
	assert_int_equal(out[0], '\0');
}

static void test_long_paths(void **state)
{
	char *name = malloc(4096), *out = malloc(8192);

	(void)state;
	assert_non_null(name);
	assert_non_null(out);
	/* "/" + 4094 bytes + NUL = 4096: fits exactly */
	memset(name, 'a', 4094);
	name[4094] = '\0';
	assert_int_equal(path_join("/", name, out, 4096), 4095);
	assert_int_equal(out[0], '/');
	assert_int_equal(strlen(out), 4095);
	/* one byte more does not */
	memset(name, 'a', 4095);
	name[4095] = '\0';
	assert_int_equal(path_join("/", name, out, 4096), -1);
	assert_true(strlen(out) < 4096);
	/* but fits once ".." folds it back */
	assert_int_equal(path_join("/", "x/../y", out, 8192), 2);
	assert_string_equal(out, "/y");
	free(name);
	free(out);
}

static void test_basename(void **state)
{
	(void)state;
	assert_string_equal(path_basename("/usr/bin/sh"), "sh");
	assert_string_equal(path_basename("/sh"), "sh");
	assert_string_equal(path_basename("a/b"), "b");
	assert_string_equal(path_basename("sh"), "sh");
	assert_string_equal(path_basename(""), "");
	assert_string_equal(path_basename("/"), "/");
	assert_string_equal(path_basename("/opt/google/chrome/chrome"), "chrome");
	assert_string_equal(path_basename("/lib/ld-linux.so.2"), "ld-linux.so.2");
	/* the result points into the argument */
	{
		const char *p = "/usr/bin/python3";

		assert_ptr_equal(path_basename(p), p + 9);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_absolute_name_ignores_dir),
	    cmocka_unit_test(test_relative_name_joined),
	    cmocka_unit_test(test_dot_and_dotdot_folded),
	    cmocka_unit_test(test_dotdot_above_root_stays_root),
	    cmocka_unit_test(test_repeated_slashes),
	    cmocka_unit_test(test_empty_name_is_dir),
	    cmocka_unit_test(test_null_dir_relative_name),
	    cmocka_unit_test(test_exact_fit),
	    cmocka_unit_test(test_result_that_fits_not_rejected),
	    cmocka_unit_test(test_overflow_truncated_and_terminated),
	    cmocka_unit_test(test_overflow_one_byte_buffer_terminated),
	    cmocka_unit_test(test_long_paths),
	    cmocka_unit_test(test_basename),
	};

	return cmocka_run_group_tests_name("path", tests, NULL, NULL);
}
