/*
 * test_progress.c - the run's counters, status line, stats line and table.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "server/progress.h"

static void test_counts_and_line(void **state)
{
	struct progress *p = progress_new(stdout, false);
	struct output_stats st;
	char line[256];

	(void)state;
	assert_non_null(p);
	progress_set_total(p, 5);
	progress_visiting(p, 2);
	progress_url_done(p, "http://a/", OUTPUT_BENIGN, NULL, 0, 2.0, -1);
	progress_url_done(p, "http://b/", OUTPUT_MALICIOUS, NULL, 4, 4.0, 1.5);
	progress_url_done(p, "http://c/", OUTPUT_VERDICT_ERROR, "NETWORK_ERROR-7", 0, 3.0, -1);
	progress_visiting(p, -2);
	progress_visiting(p, -5); /* never below zero */
	progress_retry(p);
	progress_revert(p, 0.5);
	progress_revert(p, 1.5);
	progress_client_inactivity(p);
	progress_vm_stalled(p);
	assert_int_equal(progress_done(p), 3);
	progress_format(p, line, sizeof(line));
	assert_non_null(strstr(line, "visited 3/5"));
	assert_non_null(strstr(line, "benign 1"));
	assert_non_null(strstr(line, "malicious 1"));
	assert_non_null(strstr(line, "errors 1"));
	assert_non_null(strstr(line, "URLs/min"));
	assert_non_null(strstr(line, "ETA "));
	progress_stats(p, &st);
	assert_int_equal(st.visiting, 0);
	assert_int_equal(st.visited, 2);
	assert_int_equal(st.safe, 1);
	assert_int_equal(st.malicious, 1);
	assert_int_equal(st.url_error, 1);
	assert_int_equal(st.vm_revert, 2);
	assert_int_equal(st.client_inactivity, 1);
	assert_int_equal(st.vm_stalled, 1);
	assert_true(st.avg_revert_time > 0.99 && st.avg_revert_time < 1.01);
	assert_true(st.avg_visiting_time > 2.99 && st.avg_visiting_time < 3.01);
	assert_true(st.avg_first_state_change_time > 1.49 && st.avg_first_state_change_time < 1.51);
	progress_free(p);
}

static void test_summary_table(void **state)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);
	struct progress *p = progress_new(out, false);
	char longurl[200];

	(void)state;
	memset(longurl, 'x', sizeof(longurl) - 1);
	longurl[sizeof(longurl) - 1] = '\0';
	memcpy(longurl, "http://", 7);
	progress_url_done(p, "http://evil/\x01", OUTPUT_MALICIOUS, NULL, 12, 3.25, 0.5);
	progress_url_done(p, longurl, OUTPUT_VERDICT_ERROR, "TIMEOUT_ERROR-0", 0, 9, -1);
	progress_print_summary(p);
	fclose(out);
	assert_non_null(strstr(buf, "URL"));
	assert_non_null(strstr(buf, "VERDICT"));
	assert_non_null(strstr(buf, "http://evil/\\x01")); /* control bytes escaped */
	assert_non_null(strstr(buf, "malicious"));
	assert_non_null(strstr(buf, "     12      3.2")); /* events, seconds */
	assert_non_null(strstr(buf, "error:TIMEOUT_ERROR-0"));
	assert_non_null(strstr(buf, "xxx...")); /* long URLs cut */
	progress_free(p);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_counts_and_line),
	    cmocka_unit_test(test_summary_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
