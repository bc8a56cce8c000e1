/*
 * test_outputs.c - the server's result files: each log's columns, quoting
 * and order, a hostile URL kept on one line with a portable file name,
 * appending across opens, the stats header once, the lazy per-URL event
 * log, and the JSON report with its process tree.
 *
 * TZ is set to UTC so file-name dates are predictable.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/protocol.h"
#include "server/outputs.h"

/* 2023-11-14 22:13:20 UTC */
#define START_NS 1700000000123456789ull
#define MAXF     16

struct csv_line {
	int n;
	char *f[MAXF];
};

static char tmpdir[64];

static int setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_outputs.XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	assert_int_equal(system(cmd), 0);
	return 0;
}

static char *logdir(void)
{
	static char d[128];

	snprintf(d, sizeof(d), "%s/a/log", tmpdir); /* parents are created too */
	return d;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t size = 0;
	FILE *m = open_memstream(&buf, &size);
	int c;

	assert_non_null(m);
	if (!f) {
		fail_msg("%s: %s", path, strerror(errno));
		return NULL;
	}
	while ((c = fgetc(f)) != EOF)
		fputc(c, m);
	fclose(f);
	fclose(m);
	return buf;
}

static char *slurp_log(const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", logdir(), name);
	return slurp(path);
}

/*
 * Parses one strictly fully-quoted CSV line at *P (advanced past its '\n').
 * Fails the test on anything else: an unquoted field, a stray quote, a
 * newline inside a field.
 */
static void parse_line(const char **p, struct csv_line *out)
{
	const char *s = *p;

	out->n = 0;
	for (;;) {
		char *buf = NULL;
		size_t size = 0;
		FILE *m = open_memstream(&buf, &size);

		assert_int_equal(*s, '"');
		for (s++;; s++) {
			assert_true(*s != '\0' && *s != '\n');
			if (*s == '"' && s[1] == '"') {
				fputc('"', m);
				s++;
			} else if (*s == '"') {
				break;
			} else {
				fputc(*s, m);
			}
		}
		fclose(m);
		assert_true(out->n < MAXF);
		out->f[out->n++] = buf;
		s++;
		if (*s == '\n')
			break;
		assert_int_equal(*s, ',');
		s++;
	}
	*p = s + 1;
}

static void free_line(struct csv_line *l)
{
	for (int i = 0; i < l->n; i++)
		free(l->f[i]);
	l->n = 0;
}

/* Parses the whole TEXT into LINES; returns the count. */
static int parse_all(const char *text, struct csv_line *lines, int max)
{
	int n = 0;

	while (*text) {
		assert_true(n < max);
		parse_line(&text, &lines[n++]);
	}
	return n;
}

/* "dd/MM/yyyy HH:mm:ss.mmm" */
static void assert_date(const char *s)
{
	const char *pat = "00/00/0000 00:00:00.000";

	assert_int_equal(strlen(s), strlen(pat));
	for (size_t i = 0; pat[i]; i++) {
		if (pat[i] == '0')
			assert_true(isdigit((unsigned char)s[i]));
		else
			assert_int_equal(s[i], pat[i]);
	}
}

static void expect_row(const struct csv_line *l, const char *status, const char *group,
		       const char *url, const char *client, const char *vt)
{
	assert_int_equal(l->n, 6);
	assert_date(l->f[0]);
	assert_string_equal(l->f[1], status);
	assert_string_equal(l->f[2], group);
	assert_string_equal(l->f[3], url);
	assert_string_equal(l->f[4], client);
	assert_string_equal(l->f[5], vt);
}

static const struct output_visit visit = {
    .group_id = "17",
    .url = "http://example.com/a?b=1",
    .client = "firefox",
    .visit_time = 30,
    .started_ns = START_NS,
};

/* ---- the five logs ---- */

static void test_visit_logs(void **state)
{
	struct outputs *o = outputs_open(logdir());
	struct output_error ne = {PROTO_ERR_NETWORK_ERROR, 2148270085u};
	struct output_error odd = {12345, 6};
	struct output_visit anon = {.url = "http://x/", .visit_time = -1};
	struct csv_line l[8];
	char *text;

	(void)state;
	assert_non_null(o);
	assert_int_equal(outputs_progress(o, OUTPUT_VISITING, &visit, NULL), 0);
	assert_int_equal(outputs_progress(o, OUTPUT_VISITED, &visit, NULL), 0);
	assert_int_equal(outputs_progress(o, OUTPUT_ERROR, &visit, &ne), 0);
	assert_int_equal(outputs_safe(o, &visit), 0);
	assert_int_equal(outputs_malicious(o, &anon), 0);
	assert_int_equal(outputs_error(o, &visit, &odd), 0);
	assert_int_equal(outputs_invalid_url(o, "not a url, \"really\"", 19, 12), 0);
	assert_int_equal(outputs_close(o), 0);

	text = slurp_log("progress.log");
	assert_int_equal(parse_all(text, l, 8), 3);
	expect_row(&l[0], "visiting", "17", visit.url, "firefox", "30");
	expect_row(&l[1], "visited", "17", visit.url, "firefox", "30");
	expect_row(&l[2], "error:NETWORK_ERROR-2148270085", "17", visit.url, "firefox", "30");
	for (int i = 0; i < 3; i++)
		free_line(&l[i]);
	free(text);

	text = slurp_log("safe.log");
	assert_int_equal(parse_all(text, l, 8), 1);
	expect_row(&l[0], "benign", "17", visit.url, "firefox", "30");
	free_line(&l[0]);
	free(text);

	text = slurp_log("malicious.log");
	assert_int_equal(parse_all(text, l, 8), 1);
	expect_row(&l[0], "malicious", "nogroup", "http://x/", "unknown", "unknown");
	free_line(&l[0]);
	free(text);

	text = slurp_log("error.log");
	assert_int_equal(parse_all(text, l, 8), 2);
	expect_row(&l[0], "error:12345-6", "17", visit.url, "firefox", "30");
	expect_row(&l[1], "error:INVALID_URL", "nogroup", "not a url, \"really\"", "unknown",
		   "unknown");
	assert_non_null(strstr(text, "\"not a url, \"\"really\"\"\""));
	free_line(&l[0]);
	free_line(&l[1]);
	free(text);
}

/* ---- stats ---- */

static void test_stats_header_once(void **state)
{
	struct output_stats s = {.visiting = 1,
				 .visited = 2,
				 .safe = 3,
				 .malicious = 4,
				 .url_error = 5,
				 .vm_revert = 6,
				 .client_inactivity = 7,
				 .vm_stalled = 8,
				 .avg_revert_time = 1.5,
				 .avg_visiting_time = 2.25,
				 .avg_first_state_change_time = 0,
				 .visited_urls_per_day = 99};
	const char *want[] = {"1", "2", "3",     "4",     "5",     "6",
			      "7", "8", "1.500", "2.250", "0.000", "99"};
	struct csv_line l[4];
	char *text;

	(void)state;
	for (int round = 0; round < 2; round++) {
		struct outputs *o = outputs_open(logdir());

		assert_non_null(o);
		assert_int_equal(outputs_stats(o, &s), 0);
		assert_int_equal(outputs_close(o), 0);
	}
	text = slurp_log("stats.log");
	assert_int_equal(parse_all(text, l, 4), 3);
	assert_int_equal(l[0].n, 13);
	assert_string_equal(l[0].f[0], "time");
	assert_string_equal(l[0].f[9], "avgRevertTime");
	assert_string_equal(l[0].f[12], "visitedUrlsPerDay");
	for (int i = 1; i < 3; i++) {
		assert_int_equal(l[i].n, 13);
		assert_date(l[i].f[0]);
		for (int k = 0; k < 12; k++)
			assert_string_equal(l[i].f[k + 1], want[k]);
	}
	for (int i = 0; i < 3; i++)
		free_line(&l[i]);
	free(text);
}

/* ---- appending ---- */

static void test_append_across_opens(void **state)
{
	struct csv_line l[4];
	char *text;

	(void)state;
	for (int round = 0; round < 2; round++) {
		struct outputs *o = outputs_open(logdir());

		assert_non_null(o);
		assert_int_equal(outputs_safe(o, &visit), 0);
		assert_int_equal(outputs_close(o), 0);
	}
	text = slurp_log("safe.log");
	assert_int_equal(parse_all(text, l, 4), 2);
	free_line(&l[0]);
	free_line(&l[1]);
	free(text);
}

/* ---- hostile URL ---- */

static void assert_prefix(const char *s, const char *prefix)
{
	if (strncmp(s, prefix, strlen(prefix)) != 0)
		fail_msg("'%.80s' does not start with '%s'", s, prefix);
}

static char *hostile_url(void)
{
	static const char head[] = "http://e.com/\"q\",c\nnl\xff\xfe%/\\:*?<>|&\x7f";
	char *u = malloc(5001);

	assert_non_null(u);
	memcpy(u, head, sizeof(head) - 1);
	memset(u + sizeof(head) - 1, 'A', 5000 - (sizeof(head) - 1));
	u[5000] = '\0';
	return u;
}

static void test_hostile_url(void **state)
{
	char *url = hostile_url();
	struct output_visit v = visit;
	struct outputs *o = outputs_open(logdir());
	struct outputs_eventlog *el;
	struct capture_event ev = {.type = EVENT_FILE,
				   .action = "Write",
				   .wall_ns = START_NS,
				   .pid = 7,
				   .process = "/bin/x",
				   .object1 = "/tmp/f",
				   .object2 = "-1"};
	struct csv_line l[2];
	char base[256], *text, *zip;
	int n;

	(void)state;
	v.url = url;
	assert_non_null(o);
	assert_int_equal(outputs_malicious(o, &v), 0);

	text = slurp_log("malicious.log");
	assert_int_equal(strchr(text, '\n') - text + 1, (long)strlen(text)); /* one line */
	assert_int_equal(parse_all(text, l, 2), 1);
	assert_int_equal(l[0].n, 6);
	assert_prefix(l[0].f[3], "http://e.com/\"q\",c\\x0anl\\xff\\xfe%/\\\\:*?<>|&\\x7fAAA");
	assert_int_equal(strlen(l[0].f[3]), 5000 + 4 * 3 + 1); /* \n \xff \xfe \x7f; \ doubled */
	free_line(&l[0]);
	free(text);

	n = outputs_url_basename(url, START_NS, base, sizeof(base));
	assert_true(n > 0 && n < 255);
	for (int i = 0; i < n; i++)
		assert_true(isalnum((unsigned char)base[i]) || strchr("%_~.=-,", base[i]));
	assert_prefix(
	    base, "http%3A%2F%2Fe.com%2F%22q%22,c%0Anl%FF%FE%25%2F%5C%3A%2A%3F%3C%3E%7C%26%7FAAA");
	assert_non_null(strchr(base, '~'));
	assert_string_equal(base + n - 16, "_14112023_221320");

	zip = outputs_archive_path(o, &v);
	assert_non_null(zip);
	assert_true(strncmp(zip, logdir(), strlen(logdir())) == 0);
	assert_string_equal(zip + strlen(logdir()) + 1 + n, ".zip");
	free(zip);

	el = outputs_eventlog_new(o, &v);
	assert_non_null(el);
	assert_int_equal(outputs_eventlog_write(el, &ev), 0);
	assert_int_equal(access(outputs_eventlog_path(el), F_OK), 0);
	assert_int_equal(outputs_eventlog_close(el), 0);
	assert_int_equal(outputs_close(o), 0);
	free(url);
}

static void test_basename_short(void **state)
{
	char base[256];

	(void)state;
	assert_int_equal(outputs_url_basename("http://a.b/c?d=e&f", START_NS, base, sizeof(base)),
			 (int)strlen("http%3A%2F%2Fa.b%2Fc%3Fd=e%26f_14112023_221320"));
	assert_string_equal(base, "http%3A%2F%2Fa.b%2Fc%3Fd=e%26f_14112023_221320");
	assert_int_equal(outputs_url_basename("http://a.b/", START_NS, base, 10), -1);
	assert_int_equal(errno, ENAMETOOLONG);
}

/* ---- per-URL event log ---- */

static void test_eventlog_lazy(void **state)
{
	struct outputs *o = outputs_open(logdir());
	struct outputs_eventlog *el, *unused;
	struct capture_event ev = {.type = EVENT_PROCESS,
				   .action = "created",
				   .wall_ns = START_NS,
				   .pid = 10,
				   .process = "/bin/sh",
				   .object1 = "11",
				   .object2 = "/bin/ls"};
	struct csv_line l[3];
	char *text;

	(void)state;
	assert_non_null(o);
	el = outputs_eventlog_new(o, &visit);
	unused = outputs_eventlog_new(o, &(struct output_visit){.url = "http://unused/"});
	assert_non_null(el);
	assert_non_null(unused);
	assert_int_equal(access(outputs_eventlog_path(el), F_OK), -1);
	assert_int_equal(outputs_eventlog_write(el, &ev), 0);
	ev.action = "terminated";
	assert_int_equal(outputs_eventlog_write(el, &ev), 0);
	text = slurp(outputs_eventlog_path(el));
	assert_int_equal(parse_all(text, l, 3), 2);
	assert_int_equal(l[0].n, 7);
	assert_string_equal(l[0].f[0], "process");
	assert_string_equal(l[0].f[2], "10");
	assert_string_equal(l[0].f[4], "created");
	assert_string_equal(l[1].f[4], "terminated");
	assert_non_null(strstr(outputs_eventlog_path(el), "_14112023_221320.log"));
	free_line(&l[0]);
	free_line(&l[1]);
	free(text);
	assert_int_equal(access(outputs_eventlog_path(unused), F_OK), -1);
	assert_int_equal(outputs_eventlog_close(unused), 0);
	assert_int_equal(outputs_eventlog_close(el), 0);
	assert_int_equal(outputs_close(o), 0);
}

/* A file that cannot be opened: -1, errno kept, no abort, and it can recover. */
static void test_write_failure(void **state)
{
	struct outputs *o = outputs_open(logdir());
	struct outputs_eventlog *el;
	struct capture_event ev = {.type = EVENT_FILE,
				   .action = "Write",
				   .wall_ns = START_NS,
				   .object1 = "/f",
				   .object2 = "-1"};
	char moved[160];

	(void)state;
	assert_non_null(o);
	el = outputs_eventlog_new(o, &visit);
	assert_non_null(el);
	snprintf(moved, sizeof(moved), "%s/moved", tmpdir);
	assert_int_equal(rename(logdir(), moved), 0);
	assert_int_equal(outputs_eventlog_write(el, &ev), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(outputs_eventlog_write(el, &ev), -1);
	assert_int_equal(rename(moved, logdir()), 0);
	assert_int_equal(outputs_eventlog_write(el, &ev), 0);
	assert_int_equal(outputs_eventlog_close(el), 0);
	assert_int_equal(outputs_close(o), 0);
}

/* ---- JSON report ---- */

static struct capture_event proc_event(const char *action, uint32_t parent, const char *pimage,
				       const char *child, const char *cimage)
{
	struct capture_event ev = {.type = EVENT_PROCESS,
				   .action = action,
				   .wall_ns = START_NS,
				   .pid = parent,
				   .process = pimage,
				   .object1 = child,
				   .object2 = cimage};

	return ev;
}

static json_t *child_at(json_t *node, size_t i)
{
	return json_array_get(json_object_get(node, "children"), i);
}

static void expect_node(json_t *n, json_int_t pid, const char *image, size_t nchildren)
{
	assert_non_null(n);
	assert_int_equal(json_integer_value(json_object_get(n, "pid")), pid);
	assert_string_equal(json_string_value(json_object_get(n, "image")), image);
	assert_int_equal(json_array_size(json_object_get(n, "children")), nchildren);
}

static void check_tree(json_t *tree)
{
	json_t *root, *curl, *sh;

	assert_int_equal(json_array_size(tree), 1);
	root = json_array_get(tree, 0);
	expect_node(root, 100, "/bin/bash", 2);
	assert_null(json_object_get(root, "argv"));
	curl = child_at(root, 0);
	expect_node(curl, 200, "/usr/bin/curl", 1);
	assert_string_equal(json_string_value(json_array_get(json_object_get(curl, "argv"), 1)),
			    "-s");
	assert_null(json_object_get(curl, "exit_status"));
	sh = child_at(curl, 0);
	expect_node(sh, 300, "/bin/sh", 0);
	assert_int_equal(json_integer_value(json_object_get(sh, "exit_status")), 3);
	assert_int_equal(json_integer_value(json_object_get(sh, "exit_signal")), 0);
	expect_node(child_at(root, 1), 400, "/usr/bin/x", 0);
}

static void check_report(json_t *j)
{
	json_t *err = json_object_get(j, "error"), *t = json_object_get(j, "timings");
	json_t *files = json_object_get(j, "files");

	assert_string_equal(json_string_value(json_object_get(j, "url")), visit.url);
	assert_string_equal(json_string_value(json_object_get(j, "client")), "firefox");
	assert_string_equal(json_string_value(json_object_get(j, "group_id")), "17");
	assert_int_equal(json_integer_value(json_object_get(j, "visit_time")), 30);
	assert_string_equal(json_string_value(json_object_get(j, "verdict")), "malicious");
	assert_string_equal(json_string_value(json_object_get(err, "major")), "NETWORK_ERROR");
	assert_int_equal(json_integer_value(json_object_get(err, "minor")), 5);
	assert_string_equal(json_string_value(json_object_get(t, "started")),
			    "2023-11-14T22:13:20.123Z");
	assert_true(json_is_null(json_object_get(t, "queued")));
	assert_true(json_real_value(json_object_get(t, "seconds")) == 2.5);
	assert_int_equal(json_array_size(json_object_get(j, "events")), 6);
	assert_string_equal(json_string_value(json_object_get(
				json_array_get(json_object_get(j, "events"), 2), "object1")),
			    "/tmp/x\\x0a");
	assert_int_equal(json_array_size(files), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(files, 0), "sha256")),
			    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	assert_int_equal(json_integer_value(json_object_get(json_array_get(files, 0), "size")), 0);
	assert_string_equal(json_string_value(json_object_get(j, "archive")), "a.zip");
	check_tree(json_object_get(j, "process_tree"));
}

static void test_report(void **state)
{
	static const char curl_argv[] = "curl\0-s\0http://x/";
	struct capture_event ev[6];
	struct output_error err = {PROTO_ERR_NETWORK_ERROR, 5};
	struct output_file file = {"/tmp/x",
				   "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca4"
				   "95991b7852b855",
				   0};
	struct output_report r = {.visit = visit,
				  .verdict = OUTPUT_MALICIOUS,
				  .error = &err,
				  .started_ns = START_NS,
				  .finished_ns = START_NS + 2500000000ull,
				  .events = ev,
				  .nevents = 6,
				  .files = &file,
				  .nfiles = 1,
				  .archive = "a.zip"};
	struct outputs *o = outputs_open(logdir());
	json_t *j;
	char *path;

	(void)state;
	assert_non_null(o);
	ev[0] = proc_event("created", 100, "/bin/bash", "200", "/usr/bin/curl");
	ev[0].argv = curl_argv;
	ev[0].argv_len = sizeof(curl_argv);
	ev[1] = proc_event("created", 200, "/usr/bin/curl", "300", "/bin/sh");
	ev[2] = (struct capture_event){.type = EVENT_FILE,
				       .action = "Write",
				       .pid = 300,
				       .process = "/bin/sh",
				       .object1 = "/tmp/x\n",
				       .object2 = "-1"};
	ev[3] = proc_event("terminated", 200, "/usr/bin/curl", "300", "/bin/sh");
	ev[3].exit_status = 3;
	ev[4] = proc_event("created", 100, "/bin/bash", "400", "/usr/bin/x");
	ev[5] = proc_event("created", 200, "/usr/bin/curl", "200", "/usr/bin/curl"); /* ignored */

	j = outputs_report_json(&r);
	assert_non_null(j);
	check_report(j);
	json_decref(j);

	assert_int_equal(outputs_report_write(o, &r), 0);
	path = outputs_url_path(o, &r.visit, ".json");
	assert_non_null(path);
	j = json_load_file(path, 0, NULL);
	assert_non_null(j);
	check_report(j);
	json_decref(j);
	free(path);
	assert_int_equal(outputs_close(o), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_visit_logs, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stats_header_once, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_append_across_opens, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_hostile_url, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_basename_short, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_eventlog_lazy, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_write_failure, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_report, setup, teardown),
	};

	setenv("TZ", "UTC", 1);
	tzset();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
