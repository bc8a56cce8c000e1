/*
 * event.c - see event.h.  JSON goes through jansson; every string is first
 * made byte-safe (util_escape_dup) because jansson requires UTF-8.
 */
#include "common/event.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/util.h"

static const char *const type_names[EVENT_TYPE_COUNT] = {
    [EVENT_PROCESS] = "process",
    [EVENT_FILE] = "file",
    [EVENT_CONNECTION] = "connection",
    [EVENT_SYSTEM] = "system",
};

const char *event_type_name(enum event_type t)
{
	return (unsigned)t < EVENT_TYPE_COUNT ? type_names[t] : "unknown";
}

void event_format_time(uint64_t wall_ns, char *buf, size_t len)
{
	/* events come in bursts within one second: convert each second once */
	static __thread time_t cached_sec = -1;
	static __thread char cached[80];
	time_t sec = (time_t)(wall_ns / 1000000000ull);
	unsigned ms = (unsigned)((wall_ns / 1000000ull) % 1000);

	if (sec != cached_sec) {
		struct tm tm;

		localtime_r(&sec, &tm);
		snprintf(cached, sizeof(cached), "%02d/%02d/%04d %02d:%02d:%02d", tm.tm_mday,
			 tm.tm_mon + 1, tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
		cached_sec = sec;
	}
	snprintf(buf, len, "%s.%03u", cached, ms);
}

static void csv_field(FILE *out, const char *s, int last)
{
	fputc('"', out);
	if (s)
		util_escape_bytes(out, s, strlen(s), '"');
	fputc('"', out);
	fputc(last ? '\n' : ',', out);
}

void event_write_csv(FILE *out, const struct capture_event *ev)
{
	char when[96], pid[16];

	event_format_time(ev->wall_ns, when, sizeof(when));
	snprintf(pid, sizeof(pid), "%u", ev->pid);
	csv_field(out, event_type_name(ev->type), 0);
	csv_field(out, when, 0);
	csv_field(out, pid, 0);
	csv_field(out, ev->process, 0);
	csv_field(out, ev->action, 0);
	csv_field(out, ev->object1, 0);
	csv_field(out, ev->object2, 1);
}

/* Adds KEY = byte-safe copy of S (or nothing if S is NULL). */
static int json_set_text(json_t *obj, const char *key, const char *s, size_t len)
{
	char *safe;
	int rc;

	if (!s)
		return 0;
	safe = util_escape_dup(s, len);
	if (!safe)
		return -1;
	rc = json_object_set_new(obj, key, json_string(safe));
	free(safe);
	return rc;
}

static int json_set_argv(json_t *obj, const struct capture_event *ev)
{
	json_t *arr = json_array();
	size_t i = 0;

	if (!arr)
		return -1;
	while (i < ev->argv_len) {
		size_t n = strnlen(ev->argv + i, ev->argv_len - i);
		char *safe = util_escape_dup(ev->argv + i, n);

		if (!safe || json_array_append_new(arr, json_string(safe)) < 0) {
			free(safe);
			json_decref(arr);
			return -1;
		}
		free(safe);
		i += n + 1;
	}
	return json_object_set_new(obj, "argv", arr);
}

static json_t *event_to_json(const struct capture_event *ev)
{
	json_t *o = json_object();
	char when[40];
	time_t sec = (time_t)(ev->wall_ns / 1000000000ull);
	struct tm tm;
	int rc = 0;

	if (!o)
		return NULL;
	gmtime_r(&sec, &tm);
	strftime(when, 21, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(when + 19, sizeof(when) - 19, ".%09lluZ",
		 (unsigned long long)(ev->wall_ns % 1000000000ull));
	rc |= json_object_set_new(o, "type", json_string(event_type_name(ev->type)));
	rc |= json_object_set_new(o, "time", json_string(when));
	rc |= json_object_set_new(o, "ts_ns", json_integer((json_int_t)ev->ts_ns));
	rc |= json_object_set_new(o, "pid", json_integer(ev->pid));
	rc |= json_object_set_new(o, "tid", json_integer(ev->tid));
	rc |= json_object_set_new(o, "ppid", json_integer(ev->ppid));
	rc |= json_object_set_new(o, "uid", json_integer(ev->uid));
	rc |= json_object_set_new(o, "cgroup", json_integer((json_int_t)ev->cgroup_id));
	rc |= json_set_text(o, "comm", ev->comm, ev->comm ? strlen(ev->comm) : 0);
	rc |= json_set_text(o, "process", ev->process, ev->process ? strlen(ev->process) : 0);
	rc |= json_object_set_new(o, "action", json_string(ev->action));
	rc |= json_set_text(o, "object1", ev->object1, ev->object1 ? strlen(ev->object1) : 0);
	rc |= json_set_text(o, "object2", ev->object2, ev->object2 ? strlen(ev->object2) : 0);
	rc |= json_set_text(o, "detail", ev->detail, ev->detail ? strlen(ev->detail) : 0);
	if (ev->argv)
		rc |= json_set_argv(o, ev);
	if (ev->type == EVENT_PROCESS && strcmp(ev->action, "terminated") == 0) {
		rc |= json_object_set_new(o, "exit_status", json_integer(ev->exit_status));
		rc |= json_object_set_new(o, "exit_signal", json_integer(ev->exit_signal));
	}
	if (ev->flags & EVENT_F_TRUNCATED)
		rc |= json_object_set_new(o, "truncated", json_true());
	if (ev->flags & EVENT_F_EXECUTABLE)
		rc |= json_object_set_new(o, "executable", json_true());
	if (rc) {
		json_decref(o);
		return NULL;
	}
	return o;
}

int event_write_json(FILE *out, const struct capture_event *ev)
{
	json_t *o = event_to_json(ev);
	int rc;

	if (!o)
		return -1;
	rc = json_dumpf(o, out, JSON_COMPACT);
	json_decref(o);
	if (rc < 0)
		return -1;
	fputc('\n', out);
	return 0;
}
