/*
 * fuzz_exclusion.c - libFuzzer harness for the exclusion-list parser and
 * matcher.
 *
 * Input: byte 0 picks the monitor; the rest is loaded as a list.  If it loads,
 * the same bytes are cut at NUL, TAB and newline into strings that are
 * matched as keys, subjects and objects, so rules written by the fuzzer also
 * meet events made of their own text (that is what reaches the regex engine).
 * Finally the first token is used as the object regex of a one-rule set and
 * checked against a plain PCRE2 full match on the other tokens, so the
 * matcher's short-cuts (".*" search, literal prefix) cannot change results.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/exclusion.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_TOKENS 24

/* Copies the next run of up to MAX bytes up to a NUL, TAB or newline into a new string. */
static char *next_token(const uint8_t *data, size_t size, size_t *pos, size_t max)
{
	size_t start = *pos, end = start;
	char *s;

	while (end < size && end - start < max && data[end] != '\0' && data[end] != '\n' &&
	       data[end] != '\t')
		end++;
	s = malloc(end - start + 1);
	if (!s)
		abort();
	memcpy(s, data + start, end - start);
	s[end - start] = '\0';
	*pos = end < size ? end + 1 : end;
	return s;
}

/*
 * Every three consecutive tokens become key, subject and object, so the
 * columns of a rule line ("Write", ".*", "/tmp/x") are matched as an event.
 */
static void match_some(struct exclusion_set *set, enum exclusion_monitor m, const uint8_t *data,
		       size_t size)
{
	char *tok[MAX_TOKENS];
	size_t pos = 0, n = 0, i;

	while (n < MAX_TOKENS && pos < size)
		tok[n++] = next_token(data, size, &pos, 512);
	for (i = 0; i + 2 < n; i++) {
		(void)exclusion_is_excluded(set, m, tok[i], tok[i + 1], tok[i + 2]);
		(void)exclusion_key_always_excluded(set, m, tok[i]);
	}
	for (i = 0; i < n; i++)
		free(tok[i]);
}

/* Plain full match, as the rules are defined: 1, 0, or -1 (bad regex or a PCRE2 limit). */
static int reference_match(const char *pattern, const char *s)
{
	uint32_t opts =
	    PCRE2_CASELESS | PCRE2_DOTALL | PCRE2_ANCHORED | PCRE2_ENDANCHORED | PCRE2_NEVER_UTF;
	pcre2_match_context *mctx;
	pcre2_match_data *md;
	pcre2_code *code;
	PCRE2_SIZE off;
	int errcode, rc;

	code =
	    pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, opts, &errcode, &off, NULL);
	if (!code)
		return -1;
	md = pcre2_match_data_create(1, NULL);
	mctx = pcre2_match_context_create(NULL);
	if (!md || !mctx)
		abort();
	pcre2_set_match_limit(mctx, 100000);
	rc = pcre2_match(code, (PCRE2_SPTR)s, strlen(s), 0, 0, md, mctx);
	pcre2_match_context_free(mctx);
	pcre2_match_data_free(md);
	pcre2_code_free(code);
	if (rc >= 0)
		return 1;
	return rc == PCRE2_ERROR_NOMATCH ? 0 : -1;
}

static void check_equivalence(const uint8_t *data, size_t size)
{
	char *tok[MAX_TOKENS];
	size_t pos = 0, n = 0, i;
	struct exclusion_set *one;
	char err[512];

	while (n < MAX_TOKENS && pos < size)
		tok[n++] = next_token(data, size, &pos, 512);
	one = exclusion_set_new();
	if (!one)
		abort();
	if (n > 0 && exclusion_add_rule(one, EXCL_FILE, "+", "Write", ".*", tok[0], "fuzz", 1, err,
					sizeof(err)) == 0) {
		for (i = 1; i < n; i++) {
			int want = reference_match(tok[0], tok[i]);

			/* The set uses a higher match limit, so a limit hit here proves nothing. */
			if (want >= 0 && (bool)want != exclusion_is_excluded(one, EXCL_FILE,
									     "Write", "", tok[i]))
				abort();
		}
	}
	exclusion_set_free(one);
	for (i = 0; i < n; i++)
		free(tok[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *devnull; /* kept open for the whole run */
	enum exclusion_monitor m;
	struct exclusion_set *set;
	char err[512];
	size_t i, n;

	if (size < 1)
		return 0;
	m = (enum exclusion_monitor)(data[0] % EXCL_MONITOR_COUNT);
	set = exclusion_set_new();
	if (!set)
		abort();
	if (exclusion_load_buffer(set, m, "fuzz.exl", (const char *)data + 1, size - 1, err,
				  sizeof(err)) == 0) {
		match_some(set, m, data + 1, size - 1);
		if (!devnull)
			devnull = fopen("/dev/null", "w");
		if (devnull)
			exclusion_print_stats(set, devnull);
		n = exclusion_rule_count(set);
		for (i = 0; i < n; i++) {
			struct exclusion_rule_info info;

			if (exclusion_rule_get(set, i, &info) < 0 || !info.key || !info.origin)
				abort();
		}
	} else if (exclusion_rule_count(set) != 0 || strncmp(err, "fuzz.exl:", 9) != 0) {
		abort(); /* all-or-nothing and the message prefix are part of the contract */
	}
	exclusion_set_free(set);
	check_equivalence(data + 1, size - 1);
	return 0;
}
