/*
 * test_url_result.c - what a visit gathers for one URL: events into the
 * event log and the report, the client's clock, the uploaded archive.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "server/url_result.h"

static void test_parse_time(void **state)
{
	uint64_t a, b;

	(void)state;
	a = url_result_parse_time("26/11/2026 09:05:07.556");
	b = url_result_parse_time("26/11/2026 09:05:08.556");
	assert_true(a > 0);
	assert_int_equal(b - a, 1000000000ull);
	/* the original's unpadded form */
	assert_int_equal(url_result_parse_time("26/11/2026 9:5:7.556"), a);
	assert_int_equal(url_result_parse_time("yesterday"), 0);
	assert_int_equal(url_result_parse_time(NULL), 0);
	assert_int_equal(url_result_parse_time("26/11/2026 09:05:07.5000"), 0);
}

static void test_events_logged_and_kept(void **state)
{
	char dir[] = "/tmp/capture-ur-XXXXXX", cmd[64];
	struct outputs *o;
	struct url_result r = {0};
	struct output_visit v = {.group_id = "7",
				 .url = "http://x.test/",
				 .client = "curl",
				 .visit_time = 3,
				 .started_ns = 1};
	struct proto_system_event pe = {.time = "26/11/2026 09:05:07.556",
					.type = "file",
					.process_id = 42,
					.process = "/bin/sh",
					.action = "Write",
					.object1 = "/home/capture/x"};
	struct capture_event *evs;
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	o = outputs_open(dir);
	assert_non_null(o);
	url_result_event(&r, o, &v, &pe);
	pe.type = "registry"; /* an original Windows client's type */
	pe.object2 = NULL;
	url_result_event(&r, o, &v, &pe);
	assert_int_equal(r.total_events, 2);
	assert_int_equal(r.nevents, 2);
	assert_true(r.first_event_ns > 0);
	evs = url_result_events(&r);
	assert_non_null(evs);
	assert_int_equal(evs[0].type, EVENT_FILE);
	assert_string_equal(evs[0].object1, "/home/capture/x");
	assert_int_equal(evs[1].type, EVENT_SYSTEM);
	assert_string_equal(evs[1].object2, "-1");
	assert_int_equal(evs[0].pid, 42);
	free(evs);
	f = fopen(outputs_eventlog_path(r.elog), "r");
	assert_non_null(f);
	assert_true(getdelim(&text, &len, '\0', f) > 0);
	fclose(f);
	assert_non_null(strstr(text, "\"file\",\"26/11/2026 09:05:07.556\",\"42\",\"/bin/sh\""));
	free(text);
	url_result_free(&r);
	assert_int_equal(r.nevents, 0);
	/* an upload becomes the archive (no manifest: no files) */
	snprintf(cmd, sizeof(cmd), "%s/upload", dir);
	f = fopen(cmd, "w");
	fputs("not a zip", f);
	fclose(f);
	url_result_archive(&r, o, &v, cmd);
	assert_non_null(r.archive);
	assert_non_null(strstr(r.archive, "http%3A%2F%2Fx.test%2F_"));
	assert_int_not_equal(access(cmd, F_OK), 0); /* moved */
	url_result_free(&r);
	assert_int_equal(outputs_close(o), 0);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

/* Per-item codes when any item has one; else the visit's code for all (the original's way). */
static void test_item_error(void **state)
{
	struct proto_item items[3] = {
	    {.url = "http://a/"},
	    {.url = "http://b/",
	     .major_error_code = PROTO_ERR_NETWORK_ERROR,
	     .minor_error_code = 102},
	    {.url = "http://c/", .major_error_code = PROTO_ERR_TIMEOUT_ERROR}};
	struct proto_visit end = {.type = PROTO_VISIT_ERROR,
				  .error_code = PROTO_ERR_VISITATION_MULTIPLE_ERRORS,
				  .n_items = 3,
				  .items = items};
	struct output_error e;

	(void)state;
	e = url_result_item_error(&end, 0);
	assert_int_equal(e.major, 0); /* fine in a group where others failed */
	e = url_result_item_error(&end, 1);
	assert_int_equal(e.major, PROTO_ERR_NETWORK_ERROR);
	assert_int_equal(e.minor, 102);
	e = url_result_item_error(&end, 2);
	assert_int_equal(e.major, PROTO_ERR_TIMEOUT_ERROR);
	e = url_result_item_error(&end, 3); /* an item the client did not send */
	assert_int_equal(e.major, 0);

	/* no item code: the visit's code for every URL */
	items[1].major_error_code = items[2].major_error_code = 0;
	end.error_code = PROTO_ERR_NETWORK_ERROR;
	for (size_t i = 0; i < 3; i++)
		assert_int_equal(url_result_item_error(&end, i).major, PROTO_ERR_NETWORK_ERROR);
	end.type = PROTO_VISIT_FINISH;
	assert_int_equal(url_result_item_error(&end, 0).major, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_time),
	    cmocka_unit_test(test_events_logged_and_kept),
	    cmocka_unit_test(test_item_error),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
