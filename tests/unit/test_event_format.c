/*
 * test_event_format.c - the two output formats of an event: the original
 * 7-column CSV line (event_write_csv) and JSON Lines (event_write_json),
 * including hostile strings that must not break a line or the JSON.
 *
 * TZ is set to UTC so local time is predictable.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/event.h"
#include "common/util.h"

#define NCOL 7

/* 2023-11-14 22:13:20.123456789 UTC */
#define WALL_NS 1700000000123456789ull
/* 2001-02-03 04:05:06.007 UTC: every field needs zero padding */
#define WALL_NS_PAD 981173106007000000ull

static void base_event(struct capture_event *ev, enum event_type type, const char *action)
{
	memset(ev, 0, sizeof(*ev));
	ev->type = type;
	ev->action = action;
	ev->ts_ns = 123456789;
	ev->wall_ns = WALL_NS;
	ev->pid = 4321;
	ev->tid = 4322;
	ev->ppid = 1;
	ev->uid = 1000;
	ev->cgroup_id = 77;
	ev->comm = "curl";
	ev->process = "/usr/bin/curl";
	ev->object1 = "/tmp/a";
	ev->object2 = "-1";
}

/* Output of event_write_csv (malloc'ed). */
static char *csv(const struct capture_event *ev)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);

	assert_non_null(f);
	event_write_csv(f, ev);
	assert_int_equal(fclose(f), 0);
	assert_non_null(buf);
	return buf;
}

/* Output of event_write_json (malloc'ed); the call must succeed. */
static char *json_text(const struct capture_event *ev)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);

	assert_non_null(f);
	assert_int_equal(event_write_json(f, ev), 0);
	assert_int_equal(fclose(f), 0);
	assert_non_null(buf);
	return buf;
}

/* event_write_json parsed back; the text must be exactly one line. */
static json_t *json_event(const struct capture_event *ev)
{
	char *text = json_text(ev);
	size_t len = strlen(text);
	json_error_t err;
	json_t *o;

	assert_true(len > 1);
	assert_int_equal(text[len - 1], '\n');
	assert_ptr_equal(strchr(text, '\n'), text + len - 1);
	o = json_loads(text, 0, &err);
	if (!o)
		fail_msg("invalid JSON (%s at %d): %s", err.text, err.position, text);
	free(text);
	assert_true(json_is_object(o));
	return o;
}

static const char *jstr(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_string(v))
		fail_msg("JSON key '%s' is not a string", key);
	return json_string_value(v);
}

static long long jint(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_integer(v))
		fail_msg("JSON key '%s' is not an integer", key);
	return json_integer_value(v);
}

/*
 * Splits a CSV line into NCOL fields, undoing the "" quoting.  Checks every
 * field is double-quoted, fields are separated by single commas and the line
 * ends with exactly one newline.  FIELDS[i] are malloc'ed.
 */
static void parse_csv(const char *line, char *fields[NCOL])
{
	const char *p = line;

	for (int i = 0; i < NCOL; i++) {
		size_t n = 0;

		fields[i] = malloc(strlen(line) + 1);
		assert_non_null(fields[i]);
		if (*p != '"')
			fail_msg("column %d does not start with a quote: %s", i, line);
		p++;
		for (;;) {
			if (*p == '\0')
				fail_msg("column %d is not closed: %s", i, line);
			if (*p == '"' && p[1] == '"') {
				fields[i][n++] = '"';
				p += 2;
			} else if (*p == '"') {
				p++;
				break;
			} else {
				fields[i][n++] = *p++;
			}
		}
		fields[i][n] = '\0';
		if (*p != (i == NCOL - 1 ? '\n' : ','))
			fail_msg("column %d followed by 0x%02x: %s", i, (unsigned char)*p, line);
		p++;
	}
	if (*p != '\0')
		fail_msg("text after the 7th column: %s", line);
}

static void free_fields(char *fields[NCOL])
{
	for (int i = 0; i < NCOL; i++)
		free(fields[i]);
}

/* ---- CSV ---- */

static void test_csv_exact_line(void **state)
{
	struct capture_event ev;
	char *line;

	(void)state;
	base_event(&ev, EVENT_FILE, "Write");
	line = csv(&ev);
	assert_string_equal(line, "\"file\",\"14/11/2023 22:13:20.123\",\"4321\",\"/usr/bin/curl\","
				  "\"Write\",\"/tmp/a\",\"-1\"\n");
	free(line);
}

static void test_csv_seven_columns(void **state)
{
	static const struct {
		enum event_type type;
		const char *name, *action;
	} types[] = {
	    {EVENT_PROCESS, "process", "created"},
	    {EVENT_FILE, "file", "Delete"},
	    {EVENT_CONNECTION, "connection", "tcp-connection"},
	    {EVENT_SYSTEM, "system", "ptrace"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		struct capture_event ev;
		char *line, *fields[NCOL];

		base_event(&ev, types[i].type, types[i].action);
		ev.pid = 4294967295u;
		ev.object1 = "o1";
		ev.object2 = "o2";
		line = csv(&ev);
		parse_csv(line, fields);
		assert_string_equal(fields[0], types[i].name);
		assert_string_equal(fields[1], "14/11/2023 22:13:20.123");
		assert_string_equal(fields[2], "4294967295");
		assert_string_equal(fields[3], "/usr/bin/curl");
		assert_string_equal(fields[4], types[i].action);
		assert_string_equal(fields[5], "o1");
		assert_string_equal(fields[6], "o2");
		free_fields(fields);
		free(line);
	}
}

static void test_csv_time_zero_padded(void **state)
{
	struct capture_event ev;
	char *line, *fields[NCOL], buf[32];

	(void)state;
	base_event(&ev, EVENT_FILE, "Write");
	ev.wall_ns = WALL_NS_PAD;
	line = csv(&ev);
	parse_csv(line, fields);
	assert_string_equal(fields[1], "03/02/2001 04:05:06.007");
	/* dd/MM/yyyy HH:mm:ss.mmm, digit by digit */
	assert_int_equal(strlen(fields[1]), 23);
	for (int i = 0; i < 23; i++) {
		char c = fields[1][i];
		char want = "99/99/9999 99:99:99.999"[i];

		if (want == '9' ? (c < '0' || c > '9') : c != want)
			fail_msg("time '%s' does not match dd/MM/yyyy HH:mm:ss.mmm", fields[1]);
	}
	free_fields(fields);
	free(line);
	/* milliseconds are truncated, not rounded; the epoch itself */
	event_format_time(999999999ull, buf, sizeof(buf));
	assert_string_equal(buf, "01/01/1970 00:00:00.999");
	event_format_time(WALL_NS, buf, sizeof(buf));
	assert_string_equal(buf, "14/11/2023 22:13:20.123");
}

static void test_csv_quote_doubled(void **state)
{
	struct capture_event ev;
	char *line, *fields[NCOL];

	(void)state;
	base_event(&ev, EVENT_FILE, "Create");
	ev.object1 = "/tmp/a\"b";
	ev.object2 = "\"";
	line = csv(&ev);
	assert_non_null(strstr(line, ",\"/tmp/a\"\"b\","));
	assert_non_null(strstr(line, ",\"\"\"\"\n"));
	parse_csv(line, fields);
	assert_string_equal(fields[5], "/tmp/a\"b");
	assert_string_equal(fields[6], "\"");
	free_fields(fields);
	free(line);
}

static void test_csv_newline_escaped_one_line(void **state)
{
	struct capture_event ev;
	char *line, *fields[NCOL];

	(void)state;
	base_event(&ev, EVENT_FILE, "Create");
	ev.object1 = "/tmp/a\nb";
	ev.object2 = "x\r\n\"y\",\"z";
	ev.process = "/tmp/evil\\name";
	line = csv(&ev);
	/* exactly one newline, at the end */
	assert_ptr_equal(strchr(line, '\n'), line + strlen(line) - 1);
	assert_null(strchr(line, '\r'));
	parse_csv(line, fields);
	assert_string_equal(fields[3], "/tmp/evil\\\\name");
	assert_string_equal(fields[5], "/tmp/a\\x0ab");
	assert_string_equal(fields[6], "x\\x0d\\x0a\"y\",\"z");
	free_fields(fields);
	free(line);
}

static void test_csv_non_utf8_escaped(void **state)
{
	struct capture_event ev;
	char *line, *fields[NCOL];

	(void)state;
	base_event(&ev, EVENT_FILE, "Write");
	ev.object1 = "/tmp/\xff\xfe\xc3\xa9";
	line = csv(&ev);
	parse_csv(line, fields);
	assert_string_equal(fields[5], "/tmp/\\xff\\xfe\xc3\xa9");
	free_fields(fields);
	free(line);
}

/* ---- JSON ---- */

static void test_json_fields(void **state)
{
	struct capture_event ev;
	json_t *o;

	(void)state;
	base_event(&ev, EVENT_FILE, "Write");
	ev.detail = "mode=0644";
	o = json_event(&ev);
	assert_string_equal(jstr(o, "type"), "file");
	assert_string_equal(jstr(o, "action"), "Write");
	assert_string_equal(jstr(o, "time"), "2023-11-14T22:13:20.123456789Z");
	assert_int_equal(jint(o, "ts_ns"), 123456789);
	assert_int_equal(jint(o, "pid"), 4321);
	assert_int_equal(jint(o, "tid"), 4322);
	assert_int_equal(jint(o, "ppid"), 1);
	assert_int_equal(jint(o, "uid"), 1000);
	assert_int_equal(jint(o, "cgroup"), 77);
	assert_string_equal(jstr(o, "comm"), "curl");
	assert_string_equal(jstr(o, "process"), "/usr/bin/curl");
	assert_string_equal(jstr(o, "object1"), "/tmp/a");
	assert_string_equal(jstr(o, "object2"), "-1");
	assert_string_equal(jstr(o, "detail"), "mode=0644");
	/* only for process created / terminated / truncated */
	assert_null(json_object_get(o, "argv"));
	assert_null(json_object_get(o, "exit_status"));
	assert_null(json_object_get(o, "truncated"));
	json_decref(o);
}

static void test_json_time_utc_z(void **state)
{
	struct capture_event ev;
	json_t *o;
	const char *t;

	(void)state;
	base_event(&ev, EVENT_SYSTEM, "mount");
	ev.wall_ns = WALL_NS_PAD;
	o = json_event(&ev);
	t = jstr(o, "time");
	assert_int_equal(t[strlen(t) - 1], 'Z');
	assert_string_equal(t, "2001-02-03T04:05:06.007000000Z");
	json_decref(o);
}

static void test_json_created_argv(void **state)
{
	static const char argv[] =
	    "sh\0-c\0echo \"hi\""; /* 3 words, the last ended by the literal's NUL */
	struct capture_event ev;
	json_t *o, *a;

	(void)state;
	base_event(&ev, EVENT_PROCESS, "created");
	ev.object1 = "5000";
	ev.object2 = "/usr/bin/sh";
	ev.argv = argv;
	ev.argv_len = sizeof(argv); /* the whole blob, final NUL included */
	o = json_event(&ev);
	assert_string_equal(jstr(o, "type"), "process");
	assert_string_equal(jstr(o, "action"), "created");
	assert_string_equal(jstr(o, "object1"), "5000");
	assert_string_equal(jstr(o, "object2"), "/usr/bin/sh");
	a = json_object_get(o, "argv");
	assert_true(json_is_array(a));
	assert_int_equal(json_array_size(a), 3);
	assert_string_equal(json_string_value(json_array_get(a, 0)), "sh");
	assert_string_equal(json_string_value(json_array_get(a, 1)), "-c");
	assert_string_equal(json_string_value(json_array_get(a, 2)), "echo \"hi\"");
	assert_null(json_object_get(o, "exit_status"));
	json_decref(o);
}

static void test_json_argv_empty_word_and_hostile_bytes(void **state)
{
	static const char argv[] = "a\0\0b\n\xff\0";
	struct capture_event ev;
	json_t *o, *a;

	(void)state;
	base_event(&ev, EVENT_PROCESS, "created");
	ev.argv = argv;
	ev.argv_len = sizeof(argv) - 1;
	o = json_event(&ev);
	a = json_object_get(o, "argv");
	assert_true(json_is_array(a));
	assert_int_equal(json_array_size(a), 3);
	assert_string_equal(json_string_value(json_array_get(a, 0)), "a");
	assert_string_equal(json_string_value(json_array_get(a, 1)), "");
	assert_string_equal(json_string_value(json_array_get(a, 2)), "b\\x0a\\xff");
	json_decref(o);
}

static void test_json_terminated_exit(void **state)
{
	struct capture_event ev;
	json_t *o;

	(void)state;
	base_event(&ev, EVENT_PROCESS, "terminated");
	ev.object1 = "5000";
	ev.object2 = "/usr/bin/sh";
	ev.exit_status = 3;
	ev.exit_signal = 0;
	o = json_event(&ev);
	assert_string_equal(jstr(o, "action"), "terminated");
	assert_int_equal(jint(o, "exit_status"), 3);
	assert_int_equal(jint(o, "exit_signal"), 0);
	assert_null(json_object_get(o, "argv"));
	json_decref(o);
	/* killed */
	ev.exit_status = -1;
	ev.exit_signal = 9;
	o = json_event(&ev);
	assert_int_equal(jint(o, "exit_status"), -1);
	assert_int_equal(jint(o, "exit_signal"), 9);
	json_decref(o);
}

static void test_json_non_utf8_valid(void **state)
{
	struct capture_event ev;
	json_t *o;

	(void)state;
	base_event(&ev, EVENT_FILE, "Write");
	ev.object1 = "/tmp/\xff\xfe\xc0\xaf\xed\xa0\x80";
	ev.object2 = "\"quoted\"\n\\";
	ev.process = "/tmp/\x80";
	ev.comm = "\x1b[31m";
	o = json_event(&ev);
	assert_string_equal(jstr(o, "object1"), "/tmp/\\xff\\xfe\\xc0\\xaf\\xed\\xa0\\x80");
	assert_string_equal(jstr(o, "object2"), "\"quoted\"\\x0a\\\\");
	assert_string_equal(jstr(o, "process"), "/tmp/\\x80");
	assert_string_equal(jstr(o, "comm"), "\\x1b[31m");
	json_decref(o);
	/* valid UTF-8 passes unchanged */
	ev.object1 = "/home/\xd0\xbf\xd1\x80\xd0\xb8/\xf0\x9f\x98\x80";
	o = json_event(&ev);
	assert_string_equal(jstr(o, "object1"), "/home/\xd0\xbf\xd1\x80\xd0\xb8/\xf0\x9f\x98\x80");
	json_decref(o);
}

static void test_json_truncated_flag(void **state)
{
	struct capture_event ev;
	json_t *o;

	(void)state;
	base_event(&ev, EVENT_FILE, "Write");
	ev.flags = EVENT_F_TRUNCATED;
	o = json_event(&ev);
	assert_true(json_is_true(json_object_get(o, "truncated")));
	json_decref(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_csv_exact_line),
	    cmocka_unit_test(test_csv_seven_columns),
	    cmocka_unit_test(test_csv_time_zero_padded),
	    cmocka_unit_test(test_csv_quote_doubled),
	    cmocka_unit_test(test_csv_newline_escaped_one_line),
	    cmocka_unit_test(test_csv_non_utf8_escaped),
	    cmocka_unit_test(test_json_fields),
	    cmocka_unit_test(test_json_time_utc_z),
	    cmocka_unit_test(test_json_created_argv),
	    cmocka_unit_test(test_json_argv_empty_word_and_hostile_bytes),
	    cmocka_unit_test(test_json_terminated_exit),
	    cmocka_unit_test(test_json_non_utf8_valid),
	    cmocka_unit_test(test_json_truncated_flag),
	};

	if (setenv("TZ", "UTC", 1) != 0)
		return 1;
	tzset();
	return cmocka_run_group_tests_name("event_format", tests, NULL, NULL);
}
