/*
 * test_exclusion.c - exclusion lists: format, errors, matching semantics,
 * statistics and the shipped default lists.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client/exclusion.h"
#include "common/util.h"

#ifndef CAPTURE_DATADIR
#define CAPTURE_DATADIR "."
#endif

static char err[1024];

static int setup(void **state)
{
	*state = exclusion_set_new();
	err[0] = '\0';
	return *state ? 0 : -1;
}

static int teardown(void **state)
{
	exclusion_set_free(*state);
	return 0;
}

static int load(struct exclusion_set *set, enum exclusion_monitor m, const char *name,
		const char *text)
{
	err[0] = '\0';
	return exclusion_load_buffer(set, m, name, text, strlen(text), err, sizeof(err));
}

static bool excluded(struct exclusion_set *set, enum exclusion_monitor m, const char *key,
		     const char *subject, const char *object)
{
	return exclusion_is_excluded(set, m, key, subject, object);
}

static uint64_t hits(struct exclusion_set *set, size_t idx)
{
	struct exclusion_rule_info info;

	assert_int_equal(exclusion_rule_get(set, idx, &info), 0);
	return info.hits;
}

/* Loads TEXT expecting failure; checks the message starts with PREFIX and contains WORDS. */
static void expect_error(struct exclusion_set *set, enum exclusion_monitor m, const char *name,
			 const char *text, const char *prefix, const char *words)
{
	size_t before = exclusion_rule_count(set);

	assert_int_equal(load(set, m, name, text), -1);
	if (strncmp(err, prefix, strlen(prefix)) != 0 || (words && !strstr(err, words)))
		fail_msg("error '%s' does not start with '%s' / contain '%s'", err, prefix,
			 words ? words : "");
	assert_int_equal(exclusion_rule_count(set), before);
}

/* ---- semantics ---- */

static void test_minus_beats_plus_minus_first(void **state)
{
	struct exclusion_set *set = *state;

	assert_int_equal(load(set, EXCL_FILE, "a.exl",
			      "-\tWrite\t.*\t/tmp/evil\n"
			      "+\tWrite\t.*\t/tmp/.*\n"),
			 0);
	assert_false(excluded(set, EXCL_FILE, "Write", "/bin/sh", "/tmp/evil"));
	assert_true(excluded(set, EXCL_FILE, "Write", "/bin/sh", "/tmp/fine"));
}

static void test_minus_beats_plus_minus_after(void **state)
{
	struct exclusion_set *set = *state;

	assert_int_equal(load(set, EXCL_FILE, "a.exl",
			      "+\tWrite\t.*\t/tmp/.*\n"
			      "-\tWrite\t.*\t/tmp/evil\n"),
			 0);
	assert_false(excluded(set, EXCL_FILE, "Write", "/bin/sh", "/tmp/evil"));
	assert_true(excluded(set, EXCL_FILE, "Write", "/bin/sh", "/tmp/fine"));
	/* The deciding rule gets the hit, in both directions. */
	assert_int_equal(hits(set, 0), 1);
	assert_int_equal(hits(set, 1), 1);
}

static void test_full_match(void **state)
{
	struct exclusion_set *set = *state;

	assert_int_equal(load(set, EXCL_FILE, "a.exl", "+\tWrite\t/bin/sh\t/tmp/a\n"), 0);
	assert_true(excluded(set, EXCL_FILE, "Write", "/bin/sh", "/tmp/a"));
	assert_false(excluded(set, EXCL_FILE, "Write", "/bin/sh", "/tmp/ab"));
	assert_false(excluded(set, EXCL_FILE, "Write", "/bin/sh", "x/tmp/a"));
	assert_false(excluded(set, EXCL_FILE, "Write", "/bin/shx", "/tmp/a"));
	assert_false(excluded(set, EXCL_FILE, "Write", "/bin/sh", "/tmp/a\n"));
}

static void test_case_insensitive(void **state)
{
	struct exclusion_set *set = *state;

	assert_int_equal(load(set, EXCL_FILE, "a.exl", "+\twRiTe\t/BIN/sh\t/tmp/AbC\n"), 0);
	assert_true(excluded(set, EXCL_FILE, "WRITE", "/bin/SH", "/TMP/abc"));
	assert_true(excluded(set, EXCL_FILE, "write", "/bin/sh", "/tmp/abc"));
	assert_false(excluded(set, EXCL_FILE, "Wri", "/bin/sh", "/tmp/abc"));
	assert_false(excluded(set, EXCL_FILE, "Writer", "/bin/sh", "/tmp/abc"));
}

static void test_alternation_full_match(void **state)
{
	struct exclusion_set *set = *state;

	/* Anchoring must cover the whole alternation, not just its first branch. */
	assert_int_equal(load(set, EXCL_FILE, "a.exl",
			      "+\tWrite\t.*\ta|ab\n"
			      "+\tDelete\t.*\t/tmp/(a|ab)\n"),
			 0);
	assert_true(excluded(set, EXCL_FILE, "Write", "p", "ab"));
	assert_true(excluded(set, EXCL_FILE, "Write", "p", "a"));
	assert_false(excluded(set, EXCL_FILE, "Write", "p", "abc"));
	assert_false(excluded(set, EXCL_FILE, "Write", "p", "b"));
	assert_true(excluded(set, EXCL_FILE, "Delete", "p", "/tmp/ab"));
	assert_false(excluded(set, EXCL_FILE, "Delete", "p", "/tmp/abb"));
}

static void test_no_match_reported(void **state)
{
	struct exclusion_set *set = *state;

	assert_false(excluded(set, EXCL_FILE, "Write", "/bin/sh", "/tmp/x"));
	assert_int_equal(load(set, EXCL_FILE, "a.exl", "+\tWrite\t/usr/bin/.*\t/tmp/.*\n"), 0);
	assert_false(excluded(set, EXCL_FILE, "Write", "/bin/sh", "/tmp/x"));
	assert_false(excluded(set, EXCL_FILE, "Write", "/usr/bin/x", "/var/tmp/x"));
	assert_int_equal(hits(set, 0), 0);
}

static void test_key_not_matching_reported(void **state)
{
	struct exclusion_set *set = *state;

	assert_int_equal(load(set, EXCL_FILE, "a.exl", "+\tWrite\t.*\t.*\n"), 0);
	assert_false(excluded(set, EXCL_FILE, "Delete", "/bin/sh", "/tmp/x"));
	assert_false(excluded(set, EXCL_FILE, "Create", "/bin/sh", "/tmp/x"));
	/* Rules of one monitor do not apply to another. */
	assert_false(excluded(set, EXCL_PROCESS, "Write", "/bin/sh", "/tmp/x"));
	assert_true(excluded(set, EXCL_FILE, "Write", "/bin/sh", "/tmp/x"));
}

static void test_process_semantics(void **state)
{
	struct exclusion_set *set = *state;

	/* key = new process's module name, subject = parent module, object = image path */
	assert_int_equal(load(set, EXCL_PROCESS, "process.exl",
			      "+\tlsb_release\tchromium\t/usr/bin/lsb_release\n"
			      "+\tsh\tchrom(e|ium)\t/(usr/)?bin/sh\n"),
			 0);
	assert_true(excluded(set, EXCL_PROCESS, "lsb_release", "chromium", "/usr/bin/lsb_release"));
	assert_false(excluded(set, EXCL_PROCESS, "lsb_release", "bash", "/usr/bin/lsb_release"));
	assert_false(excluded(set, EXCL_PROCESS, "lsb_release", "chromium", "/tmp/lsb_release"));
	assert_true(excluded(set, EXCL_PROCESS, "SH", "Chrome", "/bin/sh"));
	assert_true(excluded(set, EXCL_PROCESS, "sh", "chromium", "/usr/bin/sh"));
	assert_false(excluded(set, EXCL_PROCESS, "dash", "chromium", "/usr/bin/sh"));
	/* A module name with dots is an exact name, not a regex. */
	assert_int_equal(load(set, EXCL_PROCESS, "p2.exl", "+\tld.so\t.*\t.*\n"), 0);
	assert_true(excluded(set, EXCL_PROCESS, "ld.so", "x", "/lib/ld.so"));
	assert_false(excluded(set, EXCL_PROCESS, "ldxso", "x", "/lib/ld.so"));
}

static void test_dotall_newline(void **state)
{
	struct exclusion_set *set = *state;

	assert_int_equal(load(set, EXCL_FILE, "a.exl",
			      "+\tWrite\t(?:.*)\t/tmp/.*\n"
			      "+\tCreate\t/usr/bin/.*\t.*\n"),
			 0);
	assert_true(excluded(set, EXCL_FILE, "Write", "a\nb", "/tmp/x\ny"));
	assert_true(excluded(set, EXCL_FILE, "Write", "", "/tmp/\n"));
	assert_true(excluded(set, EXCL_FILE, "Create", "/usr/bin/a\nb", "\n"));
}

static void test_null_strings(void **state)
{
	struct exclusion_set *set = *state;

	assert_int_equal(load(set, EXCL_FILE, "a.exl", "+\tWrite\t.*\t\n"), 0);
	assert_true(excluded(set, EXCL_FILE, "Write", NULL, NULL));
	assert_false(excluded(set, EXCL_FILE, NULL, "x", ""));
}

static void test_pathological_regex_reported(void **state)
{
	struct exclusion_set *set = *state;
	char subject[64];

	/* Catastrophic backtracking stops at the match limit and resolves to "reported". */
	assert_int_equal(load(set, EXCL_FILE, "a.exl", "+\tWrite\t.*\t(a|aa)*(b|c)\n"), 0);
	memset(subject, 'a', sizeof(subject) - 1);
	subject[sizeof(subject) - 1] = '\0';
	assert_false(excluded(set, EXCL_FILE, "Write", "p", subject));
	assert_true(excluded(set, EXCL_FILE, "Write", "p", "aab"));
}

/* Full match of PATTERN on S the plain way, as the set must behave (-1: bad pattern). */
static int reference_match(const char *pattern, const char *s)
{
	uint32_t opts = PCRE2_CASELESS | PCRE2_DOTALL | PCRE2_ANCHORED | PCRE2_ENDANCHORED;
	pcre2_code *code;
	pcre2_match_data *md;
	PCRE2_SIZE off;
	int errcode, rc;

	code =
	    pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, opts, &errcode, &off, NULL);
	if (!code)
		return -1;
	md = pcre2_match_data_create_from_pattern(code, NULL);
	rc = pcre2_match(code, (PCRE2_SPTR)s, strlen(s), 0, 0, md, NULL);
	pcre2_match_data_free(md);
	pcre2_code_free(code);
	return rc >= 0;
}

/*
 * The set runs ".*R" as an unanchored search for R and rejects on a literal
 * prefix before calling PCRE2; both must give exactly the plain full-match
 * answer, including on the constructs that disable them.
 */
static void test_optimised_matching_equivalent(void **state)
{
	static const char *const patterns[] = {
	    ".*/\\.ssh/.*",
	    ".*a|b",
	    ".*(a|b)",
	    ".*x?",
	    ".*+a",
	    ".*?a",
	    ".*{2}a",
	    "/etc/cron.*",
	    "/etc/crons?",
	    "/etc/a|/var/b",
	    "ab{2}c",
	    "\\/etc\\.d",
	    "[/]etc/x",
	    "(?-i)ABC",
	    "abc(?-i)D",
	    ".*[|]x",
	    ".*(?#|)x",
	    ".*\\Q|\\Ex",
	    ".*[[:alpha:]|]x",
	    ".*[]|]x",
	    ".*(?<=/)x",
	    "\\Aabc",
	    ".*^abc",
	    ".*\\Gabc",
	    ".*$",
	    ".*\\bx",
	    ".*(?:a|b)|c",
	    "a\\|b",
	    "ab*c",
	    "a.c",
	    ".*(*COMMIT)x",
	    ".*(?(?=a)a|b)",
	    "(?x) a b",
	    ".*\\Kx",
	    "ABC.*",
	    "/etc/ld\\.so\\.preload",
	    ".*(?i:X)",
	    "\\x41b",
	    "#abc",
	    ".*x(?C1)",
	    "/dev/pts/[0-9]+",
	    ".*/\\.(bashrc|profile)",
	    "a{,2}",
	    ".*[^/]x",
	};
	static const char *const subjects[] = {
	    "",
	    "a",
	    "b",
	    "c",
	    "x",
	    "ab",
	    "abc",
	    "ABC",
	    "abd",
	    "abD",
	    "b|",
	    "|x",
	    "a|x",
	    "Q|x",
	    "zzx",
	    "/x",
	    "/a/x",
	    "aabc",
	    "abbc",
	    "ac",
	    "a.c",
	    "aXc",
	    "/etc/a",
	    "/var/b",
	    "/ETC/CRON.d/x",
	    "/etc/cron",
	    "/etc/cronss",
	    "/etc/crons",
	    "/etc/x",
	    "\\etc.d",
	    "/etc.d",
	    "abc\n",
	    "a\nb",
	    "/home/u/.ssh/id",
	    "/home/u/.SSH/",
	    "x.ssh/",
	    "a b",
	    "ab",
	    "Ab",
	    "a,b",
	    "/etc/ld.so.preload",
	    "/etc/ldxso.preload",
	    "Ab",
	    "/dev/pts/12",
	    "/dev/pts/",
	    "/root/.profile",
	    "/root/.profilex",
	    "]x",
	    "a{,2}",
	    "ax",
	    "/x",
	};
	struct exclusion_set *set = *state;
	size_t i, j;

	for (i = 0; i < ARRAY_SIZE(patterns); i++) {
		struct exclusion_set *one = exclusion_set_new();
		int loaded = exclusion_add_rule(one, EXCL_FILE, "+", "Write", ".*", patterns[i],
						"t", 1, err, sizeof(err));

		assert_non_null(one);
		for (j = 0; j < ARRAY_SIZE(subjects); j++) {
			int want = reference_match(patterns[i], subjects[j]);
			bool got = exclusion_is_excluded(one, EXCL_FILE, "Write", "p", subjects[j]);

			if (want < 0 ? loaded == 0 : (bool)want != got)
				fail_msg("pattern '%s' on '%s': want %d got %d", patterns[i],
					 subjects[j], want, got);
		}
		exclusion_set_free(one);
	}
	(void)set;
}

/* ---- format and errors ---- */

static void test_comments_blank_crlf(void **state)
{
	struct exclusion_set *set = *state;

	assert_int_equal(load(set, EXCL_FILE, "a.exl",
			      "\xef\xbb\xbf# comment\r\n"
			      "\r\n"
			      "\n"
			      "   \n"
			      "#-\tWrite\t.*\t.*\n"
			      "+\tWrite\t.*\t/tmp/a\r\n"
			      "+\tDelete\t.*\t/tmp/b"),
			 0);
	assert_int_equal(exclusion_rule_count(set), 2);
	/* The '\r' is not part of the object regex. */
	assert_true(excluded(set, EXCL_FILE, "Write", "p", "/tmp/a"));
	assert_true(excluded(set, EXCL_FILE, "Delete", "p", "/tmp/b"));

	struct exclusion_rule_info info;

	assert_int_equal(exclusion_rule_get(set, 0, &info), 0);
	assert_int_equal(info.line, 6);
	assert_string_equal(info.origin, "a.exl");
	assert_string_equal(info.object, "/tmp/a");
	assert_int_equal(info.sign, '+');
	assert_int_equal(info.monitor, EXCL_FILE);
	assert_int_equal(exclusion_rule_get(set, 1, &info), 0);
	assert_int_equal(info.line, 7);
	assert_int_equal(exclusion_rule_get(set, 2, &info), -1);
}

static void test_error_column_count(void **state)
{
	struct exclusion_set *set = *state;

	expect_error(set, EXCL_FILE, "x.exl", "# c\n\n\n+\tWrite\t.*\n",
		     "x.exl:4:1: expected 4 TAB-separated columns, found 3", NULL);
	assert_string_equal(err, "x.exl:4:1: expected 4 TAB-separated columns, found 3");
	expect_error(set, EXCL_FILE, "x.exl", "+\tWrite\t.*\t.*\textra\n",
		     "x.exl:1:1: expected 4 TAB-separated columns, found 5", NULL);
	expect_error(set, EXCL_FILE, "x.exl", "+ Write .* .*\n",
		     "x.exl:1:1: expected 4 TAB-separated columns, found 1", "TAB, not spaces");
}

static void test_error_bad_sign(void **state)
{
	struct exclusion_set *set = *state;

	expect_error(set, EXCL_FILE, "x.exl", "+\tOpen\t.*\t.*\nx\tWrite\t.*\t.*\n",
		     "x.exl:2:1: first column must be '+' or '-', found 'x'", NULL);
	assert_string_equal(err, "x.exl:2:1: first column must be '+' or '-', found 'x'");
	expect_error(set, EXCL_FILE, "x.exl", "++\tWrite\t.*\t.*\n", "x.exl:1:1: ", "'++'");
	expect_error(set, EXCL_FILE, "x.exl", "yes\tWrite\t.*\t.*\n", "x.exl:1:1: ", "'yes'");
	expect_error(set, EXCL_FILE, "x.exl", "\tWrite\t.*\t.*\n", "x.exl:1:1: ", "found ''");
}

static void test_error_bad_regex(void **state)
{
	struct exclusion_set *set = *state;

	/* Subject starts at column 9; PCRE2 reports the error at offset 3 (end of pattern). */
	expect_error(set, EXCL_FILE, "file.exl", "+\tWrite\t(ab\t.*\n",
		     "file.exl:1:12: bad subject regex: missing closing parenthesis", NULL);
	assert_string_equal(err, "file.exl:1:12: bad subject regex: missing closing parenthesis");
	/* Object starts at column 12; "[a" fails at offset 2 -> column 14. */
	expect_error(set, EXCL_FILE, "file.exl", "\n+\tWrite\t.*\t[a\n",
		     "file.exl:2:14: ", "bad object regex: missing terminating ]");
	expect_error(set, EXCL_FILE, "file.exl", "-\tDelete\t.*\t/x/(?<n\n",
		     "file.exl:1:", "bad object regex");
}

static void test_error_unknown_action(void **state)
{
	struct exclusion_set *set = *state;

	expect_error(set, EXCL_FILE, "file.exl", "\n\n\n\n\n\n+\tWirte\t.*\t.*\n",
		     "file.exl:7:3: unknown action 'Wirte' for the file monitor (expected Create, "
		     "Write, Open, Read, Delete, Rename, Link, Symlink, Attribute, Mkdir, Rmdir)",
		     NULL);
	expect_error(set, EXCL_CONNECTION, "c.exl", "+\ttcp\t.*\t.*\n",
		     "c.exl:1:3: unknown action 'tcp' for the connection monitor",
		     "unix-connection");
	expect_error(set, EXCL_SYSTEM, "s.exl", "+\tWrite\t.*\t.*\n",
		     "s.exl:1:3: unknown action 'Write' for the system monitor", "io_uring");
	expect_error(set, EXCL_REGISTRY, "r.exl", "+\tSetValue\t.*\t.*\n",
		     "r.exl:1:3: unknown action 'SetValue' for the registry monitor",
		     "SetValueKey");
	/* A regex in the key column of an action monitor is just an unknown action. */
	expect_error(set, EXCL_FILE, "f.exl", "+\t.*\t.*\t.*\n", "f.exl:1:3: unknown action '.*'",
		     NULL);
	expect_error(set, EXCL_FILE, "f.exl", "+\t\t.*\t.*\n", "f.exl:1:3: empty key column", NULL);
	/* Known keys of each monitor load, in any case. */
	assert_int_equal(load(set, EXCL_CONNECTION, "c.exl", "+\tUDP-Connection\t.*\t.*:53\n"), 0);
	assert_int_equal(load(set, EXCL_SYSTEM, "s.exl", "+\tIO_URING\t.*\t.*\n"), 0);
	assert_int_equal(load(set, EXCL_REGISTRY, "r.exl", "-\tsetvaluekey\t.*\tHKLM\\\\.*\n"), 0);
	assert_true(excluded(set, EXCL_CONNECTION, "udp-connection", "/x", "10.0.0.1:53"));
	assert_false(excluded(set, EXCL_CONNECTION, "udp-connection", "/x", "10.0.0.1:530"));
}

static void test_error_regex_in_process_key(void **state)
{
	struct exclusion_set *set = *state;

	expect_error(set, EXCL_PROCESS, "p.exl", "+\tchrom.*\t.*\t.*\n",
		     "p.exl:1:3: process key 'chrom.*' contains '*'", "not a regex");
	expect_error(set, EXCL_PROCESS, "p.exl", "+\t(sh|bash)\t.*\t.*\n",
		     "p.exl:1:3: ", "not a regex");
	expect_error(set, EXCL_PROCESS, "p.exl", "+\t/bin/sh\t.*\t.*\n",
		     "p.exl:1:3: ", "not a path");
	expect_error(set, EXCL_PROCESS, "p.exl", "+\t\t.*\t.*\n", "p.exl:1:3: empty key column",
		     NULL);
}

static void test_error_nul_and_long_line(void **state)
{
	struct exclusion_set *set = *state;
	static const char text[] = "+\tOpen\t.*\t.*\n+\tWrite\t.*\t/tmp/\0x\n";
	size_t big = 70 * 1024;
	char *buf = malloc(big + 1);
	int rc;

	assert_int_equal(exclusion_load_buffer(set, EXCL_FILE, "n.exl", text, sizeof(text) - 1, err,
					       sizeof(err)),
			 -1);
	assert_string_equal(err, "n.exl:2:17: NUL byte in line");
	assert_int_equal(exclusion_rule_count(set), 0);

	assert_non_null(buf);
	memset(buf, 'a', big);
	memcpy(buf, "+\tWrite\t.*\t", 11);
	buf[big] = '\0';
	expect_error(set, EXCL_FILE, "l.exl", buf, "l.exl:1:65537: line longer than 65536 bytes",
		     NULL);
	/* Exactly at the limit is fine (a regex comment keeps the compiled pattern small). */
	memcpy(buf, "+\tWrite\t.*\t.*(?#", 16);
	buf[64 * 1024 - 1] = ')';
	buf[64 * 1024] = '\0';
	rc = load(set, EXCL_FILE, "l.exl", buf);
	free(buf);
	if (rc != 0)
		fail_msg("%s", err);
	assert_true(excluded(set, EXCL_FILE, "Write", "p", "/x"));
}

static void test_all_or_nothing(void **state)
{
	struct exclusion_set *set = *state;

	assert_int_equal(load(set, EXCL_FILE, "a.exl", "+\tWrite\t.*\t/tmp/a\n"), 0);
	assert_int_equal(exclusion_rule_count(set), 1);
	/* Good rules (one with a new key, one with an existing key) then a bad line. */
	expect_error(set, EXCL_FILE, "b.exl",
		     "+\tDelete\t.*\t.*\n"
		     "-\tWrite\t.*\t/tmp/a\n"
		     "+\tWrite\t.*\t/tmp/b\n"
		     "+\tWrite\t.*\t(\n",
		     "b.exl:4:", "bad object regex");
	assert_int_equal(exclusion_rule_count(set), 1);
	assert_true(excluded(set, EXCL_FILE, "Write", "p", "/tmp/a"));
	assert_false(excluded(set, EXCL_FILE, "Write", "p", "/tmp/b"));
	assert_false(excluded(set, EXCL_FILE, "Delete", "p", "/tmp/a"));
	assert_true(exclusion_key_always_excluded(set, EXCL_FILE, "Write") == false);
	/* The set is still usable after the rollback. */
	assert_int_equal(load(set, EXCL_FILE, "c.exl", "+\tDelete\t.*\t.*\n"), 0);
	assert_true(excluded(set, EXCL_FILE, "Delete", "p", "/tmp/a"));
	assert_int_equal(exclusion_rule_count(set), 2);
}

/* ---- statistics and helpers ---- */

static void test_hit_counters(void **state)
{
	struct exclusion_set *set = *state;
	int i;

	assert_int_equal(load(set, EXCL_FILE, "h.exl",
			      "+\tWrite\t.*\t/tmp/.*\n"   /* 0 */
			      "+\tWrite\t.*\t/tmp/a\n"    /* 1: shadowed by 0 */
			      "-\tWrite\t.*\t/tmp/evil\n" /* 2 */
			      "-\tWrite\t.*\t/tmp/ev.*\n" /* 3: shadowed by 2 for /tmp/evil */
			      "+\tDelete\t.*\t.*\n"),     /* 4: never used */
			 0);
	for (i = 0; i < 3; i++)
		assert_true(excluded(set, EXCL_FILE, "Write", "p", "/tmp/a"));
	assert_false(excluded(set, EXCL_FILE, "Write", "p", "/tmp/evil"));
	assert_false(excluded(set, EXCL_FILE, "Write", "p", "/tmp/eve"));
	assert_false(excluded(set, EXCL_FILE, "Write", "p", "/home/x"));
	assert_int_equal(hits(set, 0), 3);
	assert_int_equal(hits(set, 1), 0);
	assert_int_equal(hits(set, 2), 1);
	assert_int_equal(hits(set, 3), 1);
	assert_int_equal(hits(set, 4), 0);
}

static void test_print_stats(void **state)
{
	struct exclusion_set *set = *state;
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	assert_int_equal(load(set, EXCL_FILE, "s.exl",
			      "+\tWrite\t.*\t.*\n"
			      "-\tCreate\t/bin/.*\t/etc/x\n"
			      "+\tDelete\t.*\t/a\\.b\xc3\xa9\n"),
			 0);
	/* Regexes print as written; other bytes as \xNN, which is the same regex. */
	assert_int_equal(exclusion_add_rule(set, EXCL_FILE, "+", "Mkdir", ".*", "x\ny", NULL, 0,
					    err, sizeof(err)),
			 0);
	assert_true(excluded(set, EXCL_FILE, "write", "p", "/tmp/a"));
	assert_true(exclusion_mark_kernel_filtered(set, EXCL_FILE, "Write"));
	f = open_memstream(&text, &len);
	assert_non_null(f);
	exclusion_print_stats(set, f);
	fclose(f);
	assert_string_equal(text, "s.exl:1  hits=1  +  Write  .*  .* (kernel-filtered)\n"
				  "s.exl:2  hits=0  -  Create  /bin/.*  /etc/x (dead)\n"
				  "s.exl:3  hits=0  +  Delete  .*  /a\\.b\\xc3\\xa9 (dead)\n"
				  "server:0  hits=0  +  Mkdir  .*  x\\x0ay (dead)\n");
	free(text);
}

static void test_always_excluded(void **state)
{
	struct exclusion_set *set = *state;

	assert_int_equal(load(set, EXCL_FILE, "a.exl",
			      "+\tOpen\t.*\t.*\n"
			      "+\tRead\t(.*)\t(?:.*)\n"
			      "+\tWrite\t.*\t.*\n"
			      "-\tWrite\t.*\t/etc/.*\n"
			      "+\tDelete\t.*\t/tmp/.*\n"
			      "+\tMkdir\t.*\t.*x\n"),
			 0);
	assert_true(exclusion_key_always_excluded(set, EXCL_FILE, "Open"));
	assert_true(exclusion_key_always_excluded(set, EXCL_FILE, "OPEN"));
	assert_true(exclusion_key_always_excluded(set, EXCL_FILE, "read"));
	assert_false(exclusion_key_always_excluded(set, EXCL_FILE, "Write")); /* has a '-' rule */
	assert_false(exclusion_key_always_excluded(set, EXCL_FILE, "Delete"));
	assert_false(exclusion_key_always_excluded(set, EXCL_FILE, "Mkdir"));
	assert_false(exclusion_key_always_excluded(set, EXCL_FILE, "Rmdir")); /* no rule */
	assert_false(exclusion_key_always_excluded(set, EXCL_PROCESS, "Open"));

	/* Kernel-filtered rules are not reported as dead. */
	assert_true(exclusion_mark_kernel_filtered(set, EXCL_FILE, "open"));
	assert_false(exclusion_mark_kernel_filtered(set, EXCL_FILE, "Write"));

	struct exclusion_rule_info info;

	assert_int_equal(exclusion_rule_get(set, 0, &info), 0);
	assert_true(info.kernel_filtered);
	assert_int_equal(exclusion_rule_get(set, 1, &info), 0);
	assert_false(info.kernel_filtered);
}

static void test_server_push(void **state)
{
	struct exclusion_set *set = *state;

	assert_int_equal(exclusion_add_rule(set, EXCL_FILE, "yes", "Write", ".*", "/tmp/.*",
					    "server", 1, err, sizeof(err)),
			 0);
	assert_int_equal(exclusion_add_rule(set, EXCL_FILE, "no", "Write", ".*", "/tmp/evil",
					    "server", 2, err, sizeof(err)),
			 0);
	assert_int_equal(
	    exclusion_add_rule(set, EXCL_PROCESS, "+", "sh", ".*", ".*", NULL, 3, err, sizeof(err)),
	    0);
	assert_int_equal(exclusion_add_rule(set, EXCL_PROCESS, "-", "sh", "evil", ".*", NULL, 4,
					    err, sizeof(err)),
			 0);
	assert_true(excluded(set, EXCL_FILE, "Write", "p", "/tmp/a"));
	assert_false(excluded(set, EXCL_FILE, "Write", "p", "/tmp/evil"));
	assert_true(excluded(set, EXCL_PROCESS, "sh", "bash", "/bin/sh"));
	assert_false(excluded(set, EXCL_PROCESS, "sh", "evil", "/bin/sh"));

	struct exclusion_rule_info info;

	assert_int_equal(exclusion_rule_get(set, 0, &info), 0);
	assert_int_equal(info.sign, '+');
	assert_string_equal(info.origin, "server");
	assert_int_equal(exclusion_rule_get(set, 1, &info), 0);
	assert_int_equal(info.sign, '-');
	assert_int_equal(exclusion_rule_get(set, 2, &info), 0);
	assert_string_equal(info.origin, "server");

	assert_int_equal(exclusion_add_rule(set, EXCL_FILE, "maybe", "Write", ".*", ".*", "srv", 5,
					    err, sizeof(err)),
			 -1);
	assert_string_equal(err, "srv:5:1: sign must be '+', '-', 'yes' or 'no', found 'maybe'");
	/* Columns are those of the rule as a TAB-separated line: "+\tWrite\t.*\t(" */
	assert_int_equal(
	    exclusion_add_rule(set, EXCL_FILE, "+", "Write", ".*", "(", "srv", 6, err, sizeof(err)),
	    -1);
	assert_string_equal(err, "srv:6:13: bad object regex: missing closing parenthesis");
	assert_int_equal(
	    exclusion_add_rule(set, EXCL_FILE, "+", "Wrte", ".*", ".*", "srv", 7, err, sizeof(err)),
	    -1);
	assert_non_null(strstr(err, "srv:7:3: unknown action 'Wrte'"));
	assert_int_equal(exclusion_rule_count(set), 4);
}

static void test_monitor_names(void **state)
{
	(void)state;
	assert_string_equal(exclusion_monitor_name(EXCL_FILE), "file");
	assert_string_equal(exclusion_monitor_name(EXCL_PROCESS), "process");
	assert_string_equal(exclusion_monitor_name(EXCL_CONNECTION), "connection");
	assert_string_equal(exclusion_monitor_name(EXCL_SYSTEM), "system");
	assert_string_equal(exclusion_monitor_name(EXCL_REGISTRY), "registry");
	assert_int_equal(exclusion_monitor_from_name("FILE"), EXCL_FILE);
	assert_int_equal(exclusion_monitor_from_name("Registry"), EXCL_REGISTRY);
	assert_int_equal(exclusion_monitor_from_name("files"), -1);
	assert_int_equal(exclusion_monitor_from_name(""), -1);
}

/* ---- directories and files ---- */

static void write_file(const char *dir, const char *name, const char *text)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void remove_file(const char *dir, const char *name)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	unlink(path);
}

static void test_load_dir(void **state)
{
	struct exclusion_set *set = *state;
	char dir[] = "/tmp/test_exclusion.XXXXXX";

	assert_non_null(mkdtemp(dir));
	write_file(dir, "file.exl", "+\tWrite\t.*\t/tmp/.*\n");
	write_file(dir, "process.exl", "# none\n+\tsh\tbash\t/bin/sh\n");
	/* The original Windows client's file name is accepted as well. */
	write_file(dir, "FileMonitor.exl", "+\tDelete\tC:\\\\.*\t.*\r\n");
	assert_int_equal(exclusion_load_dir(set, dir, err, sizeof(err)), 0);
	assert_int_equal(exclusion_rule_count(set), 3);
	assert_true(excluded(set, EXCL_FILE, "Write", "p", "/tmp/x"));
	assert_true(excluded(set, EXCL_PROCESS, "sh", "bash", "/bin/sh"));
	assert_true(excluded(set, EXCL_FILE, "Delete", "c:\\windows\\x.exe", "y"));

	/* A bad file fails the whole call and leaves the set as it was. */
	write_file(dir, "connection.exl", "+\ttcp-connection\t.*\t.*\n");
	write_file(dir, "system.exl", "+\tptrace\t.*\n");
	assert_int_equal(exclusion_load_dir(set, dir, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "/system.exl:1:1: expected 4 TAB-separated columns"));
	assert_int_equal(exclusion_rule_count(set), 3);
	assert_false(excluded(set, EXCL_CONNECTION, "tcp-connection", "p", "1.2.3.4:80"));

	assert_int_equal(
	    exclusion_load_file(set, EXCL_FILE, "/nonexistent/x.exl", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "/nonexistent/x.exl: "));
	assert_int_equal(exclusion_load_dir(set, "/nonexistent/dir", err, sizeof(err)), -1);

	remove_file(dir, "file.exl");
	remove_file(dir, "process.exl");
	remove_file(dir, "FileMonitor.exl");
	remove_file(dir, "connection.exl");
	remove_file(dir, "system.exl");
	assert_int_equal(rmdir(dir), 0);
}

static void make_dir(const char *dir, const char *name)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_int_equal(mkdir(path, 0755), 0);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void remove_tree(const char *dir)
{
	assert_int_equal(nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS), 0);
}

/* Origin of rule IDX (load order). */
static const char *rule_origin(const struct exclusion_set *set, size_t idx)
{
	struct exclusion_rule_info ri;

	assert_int_equal(exclusion_rule_get(set, idx, &ri), 0);
	return ri.origin;
}

static void test_load_dir_subdirs(void **state)
{
	struct exclusion_set *set = *state;
	char dir[] = "/tmp/test_exclusion.XXXXXX";
	char want[4200];

	assert_non_null(mkdtemp(dir));
	write_file(dir, "file.exl", "-\tCreate\t.*\t.*/Downloads/.*\n");
	/* created in reverse order: loading follows the names, not readdir */
	make_dir(dir, "zeta");
	make_dir(dir, "alpha");
	make_dir(dir, ".hidden");
	make_dir(dir, "alpha/deeper");
	write_file(dir, "zeta/file.exl", "+\tCreate\t/usr/bin/z\t/home/u/.*\n");
	write_file(dir, "zeta/process.exl", "+\tz-helper\tz\t/usr/lib/z/z-helper\n");
	write_file(dir, "alpha/FileMonitor.exl", "+\tWrite\t/usr/bin/a\t/tmp/a-.*\r\n");
	write_file(dir, "alpha/README", "not a list\n");
	write_file(dir, ".hidden/file.exl", "+\tDelete\t.*\t.*\n");
	write_file(dir, "alpha/deeper/file.exl", "+\tRmdir\t.*\t.*\n");
	assert_int_equal(exclusion_load_dir(set, dir, err, sizeof(err)), 0);

	/* top level first, then alpha, then zeta; nothing from .hidden or deeper */
	assert_int_equal(exclusion_rule_count(set), 4);
	snprintf(want, sizeof(want), "%s/file.exl", dir);
	assert_string_equal(rule_origin(set, 0), want);
	snprintf(want, sizeof(want), "%s/alpha/FileMonitor.exl", dir);
	assert_string_equal(rule_origin(set, 1), want);
	snprintf(want, sizeof(want), "%s/zeta/file.exl", dir);
	assert_string_equal(rule_origin(set, 2), want);
	snprintf(want, sizeof(want), "%s/zeta/process.exl", dir);
	assert_string_equal(rule_origin(set, 3), want);
	assert_true(excluded(set, EXCL_FILE, "Write", "/usr/bin/a", "/tmp/a-1"));
	assert_true(excluded(set, EXCL_PROCESS, "z-helper", "z", "/usr/lib/z/z-helper"));
	assert_true(excluded(set, EXCL_FILE, "Create", "/usr/bin/z", "/home/u/x"));
	/* a '-' rule of the top level holds against a '+' rule of a subdirectory */
	assert_false(excluded(set, EXCL_FILE, "Create", "/usr/bin/z", "/home/u/Downloads/x"));
	assert_false(excluded(set, EXCL_FILE, "Delete", "/x", "/y"));
	assert_false(excluded(set, EXCL_FILE, "Rmdir", "/x", "/y"));

	/* a bad line in a subdirectory names its file, line and column ... */
	write_file(dir, "zeta/connection.exl", "# c\n+\ttcp-connect\t.*\t.*\n");
	assert_int_equal(exclusion_load_dir(set, dir, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s/zeta/connection.exl:2:3: unknown action", dir);
	assert_non_null(strstr(err, want));
	/* ... and nothing of the directory is loaded (all or nothing) */
	assert_int_equal(exclusion_rule_count(set), 4);
	remove_file(dir, "zeta/connection.exl");

	/* a misspelt list name is an error, not a silently skipped list */
	write_file(dir, "alpha/flie.exl", "+\tWrite\t.*\t.*\n");
	assert_int_equal(exclusion_load_dir(set, dir, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s/alpha/flie.exl: not a list name", dir);
	assert_non_null(strstr(err, want));
	assert_int_equal(exclusion_rule_count(set), 4);
	remove_tree(dir);
}

static void test_default_lists_load(void **state)
{
	struct exclusion_set *set = *state;
	static const char *const persist[] = {
	    "/home/u/.config/autostart/x.desktop",
	    "/etc/xdg/autostart/evil.desktop",
	    "/etc/cron.d/job",
	    "/etc/crontab",
	    "/var/spool/cron/crontabs/root",
	    "/home/u/.bashrc",
	    "/root/.profile",
	    "/etc/profile.d/x.sh",
	    "/etc/systemd/system/evil.service",
	    "/usr/lib/systemd/system/evil.service",
	    "/home/u/.config/systemd/user/x.service",
	    "/home/u/.local/bin/ls",
	    "/etc/ld.so.preload",
	    "/home/u/.ssh/authorized_keys",
	    "/etc/sudoers.d/x",
	    "/etc/shadow",
	    "/home/u/Downloads/payload.elf",
	    "/etc/rc.local",
	    "/etc/init.d/evil",
	    "/home/u/.local/share/applications/handler.desktop",
	    "/home/u/.config/mimeapps.list",
	    "/home/u/.xsessionrc",
	    "/home/u/.config/environment.d/10-path.conf",
	};
	static const char *const actions[] = {"Create", "Write",   "Rename",
					      "Link",   "Symlink", "Attribute"};
	/* the clients of the subdirectories: their '+' rules must not open any of them */
	static const char *const programs[] = {
	    "/usr/bin/x",
	    "/usr/lib/chromium/chromium",
	    "/usr/lib/firefox-esr/firefox-esr",
	    "/usr/bin/curl",
	};
	size_t i, j, k;

	if (exclusion_load_dir(set, CAPTURE_DATADIR "/etc/exclusion", err, sizeof(err)) < 0)
		fail_msg("%s", err);
	assert_true(exclusion_rule_count(set) > 100);

	assert_false(excluded(set, EXCL_FILE, "Write", "/usr/bin/python3",
			      "/home/u/.config/autostart/x.desktop"));
	assert_true(excluded(set, EXCL_FILE, "Write", "/usr/bin/python3", "/dev/null"));
	assert_true(excluded(set, EXCL_FILE, "Write", "/usr/bin/python3", "/dev/pts/3"));
	assert_true(excluded(set, EXCL_FILE, "Write", "/usr/bin/x", "/proc/self/oom_score_adj"));
	assert_false(excluded(set, EXCL_FILE, "Write", "/usr/bin/x", "/proc/self/mem"));
	assert_true(excluded(set, EXCL_FILE, "Open", "/usr/bin/x", "/etc/shadow"));
	assert_true(excluded(set, EXCL_FILE, "open", "/x", "/home/u/.ssh/id_rsa"));
	assert_true(excluded(set, EXCL_FILE, "Read", "/x", "/anything"));
	assert_true(exclusion_key_always_excluded(set, EXCL_FILE, "Open"));
	assert_true(exclusion_key_always_excluded(set, EXCL_FILE, "Read"));
	assert_false(exclusion_key_always_excluded(set, EXCL_FILE, "Write"));
	/* Home directories and /tmp are not excluded. */
	assert_false(excluded(set, EXCL_FILE, "Write", "/x", "/tmp/a.out"));
	assert_false(excluded(set, EXCL_FILE, "Create", "/x", "/home/u/notes.txt"));
	assert_false(excluded(set, EXCL_FILE, "Delete", "/x", "/home/u/notes.txt"));
	/* Everything else is reported by default. */
	assert_false(excluded(set, EXCL_PROCESS, "sh", "chromium", "/bin/sh"));
	assert_false(excluded(set, EXCL_CONNECTION, "udp-connection", "/x", "1.1.1.1:53"));
	assert_false(excluded(set, EXCL_SYSTEM, "ptrace", "/x", "1234"));

	for (i = 0; i < ARRAY_SIZE(persist); i++)
		for (j = 0; j < ARRAY_SIZE(actions); j++)
			for (k = 0; k < ARRAY_SIZE(programs); k++)
				if (excluded(set, EXCL_FILE, actions[j], programs[k], persist[i]))
					fail_msg("%s %s by %s is excluded", actions[j], persist[i],
						 programs[k]);

	/* the subdirectories are loaded: each client's own noise is excluded ... */
	assert_true(excluded(set, EXCL_FILE, "Write", "/usr/lib/chromium/chromium",
			     "/tmp/capture-profile-0123456789abcdef/Default/Cookies"));
	assert_true(excluded(set, EXCL_FILE, "Create", "/usr/lib/firefox-esr/firefox-esr",
			     "/tmp/capture-profile-0123456789abcdef/cookies.sqlite"));
	assert_true(excluded(set, EXCL_FILE, "Mkdir", "/usr/lib/firefox-esr/firefox-esr",
			     "/home/u/Downloads"));
	assert_true(excluded(set, EXCL_FILE, "Create", "/usr/bin/curl",
			     "/tmp/capture-download-0123456789abcdef.pdf"));
	assert_true(excluded(set, EXCL_PROCESS, "firefox-esr", "firefox-esr",
			     "/usr/lib/firefox-esr/firefox-esr"));
	assert_true(excluded(set, EXCL_CONNECTION, "udp-connection", "/x", "10.201.255.1:53"));
	assert_true(excluded(set, EXCL_SYSTEM, "capset", "/usr/lib/chromium/chromium", "-1"));
	/* ... by that client only, and not what would run code in its profile */
	assert_false(excluded(set, EXCL_FILE, "Create", "/usr/bin/python3",
			      "/tmp/capture-profile-0123456789abcdef/cookies.sqlite"));
	assert_false(excluded(set, EXCL_FILE, "Create", "/usr/lib/firefox-esr/firefox-esr",
			      "/tmp/capture-profile-0123456789abcdef/user.js"));
	assert_false(excluded(set, EXCL_FILE, "Create", "/usr/lib/firefox-esr/firefox-esr",
			      "/home/u/.mozilla/firefox/x.default/extensions/evil.xpi"));
	assert_false(excluded(set, EXCL_FILE, "Write", "/usr/lib/chromium/chromium",
			      "/tmp/capture-profile-0123456789abcdef/Default/Extensions/x/m.json"));
	assert_false(excluded(set, EXCL_FILE, "Attribute", "/usr/lib/firefox-esr/firefox-esr",
			      "/home/u/Downloads/update.sh"));
	assert_false(excluded(set, EXCL_PROCESS, "sh", "firefox-esr", "/bin/sh"));
	assert_false(excluded(set, EXCL_CONNECTION, "tcp-connection",
			      "/usr/lib/firefox-esr/firefox-esr", "10.201.255.1:4444"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_minus_beats_plus_minus_first, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_minus_beats_plus_minus_after, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_full_match, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_case_insensitive, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_alternation_full_match, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_no_match_reported, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_key_not_matching_reported, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_process_semantics, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_dotall_newline, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_null_strings, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pathological_regex_reported, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_optimised_matching_equivalent, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_comments_blank_crlf, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_error_column_count, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_error_bad_sign, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_error_bad_regex, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_error_unknown_action, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_error_regex_in_process_key, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_error_nul_and_long_line, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_all_or_nothing, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_hit_counters, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_print_stats, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_always_excluded, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_server_push, setup, teardown),
	    cmocka_unit_test(test_monitor_names),
	    cmocka_unit_test_setup_teardown(test_load_dir, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_load_dir_subdirs, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_default_lists_load, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
