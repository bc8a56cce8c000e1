/*
 * fuzz_sensor_decode.c - libFuzzer harness for the path a ring buffer record
 * takes through user space: sensor_decode(), then (if it is accepted) the
 * event builder with a process table, then both output formats.
 *
 * Input: one raw record (struct sensor_event_hdr + strings).  An accepted
 * record is built twice (so the process table sees e.g. an exec then an
 * exit of the same pid), and every produced event is written as CSV and as
 * JSON into memory.  Checks, beyond "no crash, no leak, no UB":
 *   - the decoder's strings are NUL-terminated inside the record;
 *   - the builder returns -1, 0 or 1;
 *   - a CSV line is exactly one line with no control byte;
 *   - the JSON line parses back (jansson) and is one line.
 */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/event_builder.h"
#include "client/proc_table.h"
#include "common/event.h"
#include "sensor/sensor.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_record(const struct sensor_record *rec, const uint8_t *data, size_t size)
{
	const char *start = (const char *)data + sizeof(struct sensor_event_hdr);
	const char *end = (const char *)data + size;

	if ((const void *)rec->hdr != (const void *)data)
		abort();
	for (int i = 0; i < SENSOR_NSTR; i++) {
		if (!rec->str[i]) {
			if (rec->len[i] != 0)
				abort();
			continue;
		}
		if (rec->str[i] < start || rec->str[i] + rec->len[i] >= end ||
		    rec->str[i][rec->len[i]] != '\0')
			abort();
	}
}

static void check_csv(const char *buf, size_t len)
{
	if (len < 2 || buf[len - 1] != '\n')
		abort();
	for (size_t i = 0; i + 1 < len; i++) {
		unsigned char c = (unsigned char)buf[i];

		if (c < 0x20 || c == 0x7f)
			abort();
	}
}

static void check_json(const char *buf, size_t len)
{
	json_error_t err;
	json_t *o;

	if (len < 2 || buf[len - 1] != '\n' || memchr(buf, '\n', len - 1))
		abort();
	o = json_loadb(buf, len, 0, &err);
	if (!o || !json_is_object(o))
		abort();
	json_decref(o);
}

static void write_event(const struct capture_event *ev)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	f = open_memstream(&buf, &len);
	if (!f)
		abort();
	event_write_csv(f, ev);
	if (fclose(f) != 0)
		abort();
	check_csv(buf, len);
	free(buf);

	buf = NULL;
	len = 0;
	f = open_memstream(&buf, &len);
	if (!f)
		abort();
	if (event_write_json(f, ev) != 0)
		abort();
	if (fclose(f) != 0)
		abort();
	check_json(buf, len);
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sensor_record rec;
	struct proc_table *procs;
	struct event_builder *b;
	uint32_t harness;

	if (sensor_decode(data, size, &rec) != 0)
		return 0;
	check_record(&rec, data, size);

	procs = proc_table_new();
	if (!procs)
		abort();
	/* sometimes the parent is the harness, sometimes there is none */
	harness = (rec.hdr->cgroup_id & 1) ? rec.hdr->ppid : 0;
	b = event_builder_new(procs, harness);
	if (!b)
		abort();
	/* a known parent, so its image comes from the table and not from /proc */
	if (rec.hdr->cgroup_id & 2) {
		if (proc_table_set(procs, rec.hdr->ppid, "/usr/bin/parent") < 0)
			abort();
	}
	for (int round = 0; round < 2; round++) {
		struct capture_event ev;
		int rc = event_builder_build(b, &rec, &ev);

		if (rc < -1 || rc > 1)
			abort();
		if (rc == 1) {
			if (!ev.action || !ev.process || !ev.object1 || !ev.object2)
				abort();
			write_event(&ev);
		}
	}
	event_builder_free(b);
	proc_table_free(procs);
	return 0;
}
