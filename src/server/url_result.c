/*
 * url_result.c - see url_result.h.
 */
#include "server/url_result.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "server/archive_manifest.h"

uint64_t url_result_parse_time(const char *t)
{
	struct tm tm = {0};
	time_t secs;
	int ms = 0;

	if (!t || sscanf(t, "%d/%d/%d %d:%d:%d.%d", &tm.tm_mday, &tm.tm_mon, &tm.tm_year,
			 &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms) < 6)
		return 0;
	tm.tm_mon -= 1;
	tm.tm_year -= 1900;
	tm.tm_isdst = -1;
	secs = mktime(&tm);
	if (secs == (time_t)-1 || ms < 0 || ms > 999)
		return 0;
	return (uint64_t)secs * 1000000000ull + (uint64_t)ms * 1000000ull;
}

static enum event_type event_type_of(const char *name)
{
	for (int t = 0; t < EVENT_TYPE_COUNT; t++)
		if (!strcmp(name, event_type_name(t)))
			return t;
	return EVENT_SYSTEM; /* e.g. "registry" of an original client */
}

static int keep_event(struct url_result *r, const struct capture_event *ev)
{
	struct url_result_event *se;

	if (r->nevents == URL_RESULT_EVENTS_MAX)
		return 0;
	if (r->nevents == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 64;
		struct url_result_event *nv = realloc(r->events, cap * sizeof(*nv));

		if (!nv)
			return -1;
		r->events = nv;
		r->cap = cap;
	}
	se = &r->events[r->nevents];
	*se = (struct url_result_event){.ev = *ev};
	se->strs[0] = strdup(ev->action);
	se->strs[1] = strdup(ev->process);
	se->strs[2] = strdup(ev->object1);
	se->strs[3] = strdup(ev->object2);
	if (!se->strs[0] || !se->strs[1] || !se->strs[2] || !se->strs[3]) {
		for (int k = 0; k < 4; k++)
			free(se->strs[k]);
		return -1;
	}
	se->ev.action = se->strs[0];
	se->ev.process = se->strs[1];
	se->ev.object1 = se->strs[2];
	se->ev.object2 = se->strs[3];
	r->nevents++;
	return 0;
}

void url_result_event(struct url_result *r, struct outputs *o, const struct output_visit *v,
		      const struct proto_system_event *pe)
{
	struct capture_event ev = {
	    .type = event_type_of(pe->type),
	    .action = pe->action,
	    .pid = pe->process_id,
	    .process = pe->process,
	    .object1 = pe->object1,
	    .object2 = pe->object2 ? pe->object2 : "-1",
	    .exit_status = -1,
	};

	ev.wall_ns = url_result_parse_time(pe->time);
	if (!ev.wall_ns)
		ev.wall_ns = util_now_real_ns();
	if (!r->first_event_ns)
		r->first_event_ns = util_now_real_ns();
	r->total_events++;
	if (!r->elog && !(r->elog = outputs_eventlog_new(o, v)))
		log_warn("event log of %s", v->url);
	if (r->elog && outputs_eventlog_write(r->elog, &ev) < 0)
		log_warn("writing %s", outputs_eventlog_path(r->elog));
	if (keep_event(r, &ev) < 0)
		log_warnx("out of memory: an event of %s is only in its event log", v->url);
}

void url_result_archive(struct url_result *r, struct outputs *o, const struct output_visit *v,
			const char *path)
{
	char *dest = outputs_archive_path(o, v), err[512];
	const char *base;

	if (!dest || rename(path, dest) < 0) {
		log_warn("keeping the upload of %s", v->url);
		if (unlink(path) < 0)
			log_warn("removing %s", path);
		free(dest);
		return;
	}
	/* a second upload of the same visit: the newest is the archive */
	archive_manifest_free(r->files, r->nfiles);
	r->files = NULL;
	r->nfiles = 0;
	free(r->archive);
	base = strrchr(dest, '/');
	r->archive = strdup(base ? base + 1 : dest);
	if (archive_manifest_read(dest, &r->files, &r->nfiles, err, sizeof(err)) < 0)
		log_warnx("%s", err);
	log_info("%s: archive %s (%zu files)", v->url, dest, r->nfiles);
	free(dest);
}

struct capture_event *url_result_events(const struct url_result *r)
{
	struct capture_event *evs;

	if (!r->nevents || !(evs = calloc(r->nevents, sizeof(*evs))))
		return NULL;
	for (size_t k = 0; k < r->nevents; k++)
		evs[k] = r->events[k].ev;
	return evs;
}

void url_result_free(struct url_result *r)
{
	for (size_t i = 0; i < r->nevents; i++)
		for (size_t k = 0; k < 4; k++)
			free(r->events[i].strs[k]);
	free(r->events);
	if (r->elog && outputs_eventlog_close(r->elog) < 0)
		log_warn("closing an event log");
	free(r->archive);
	archive_manifest_free(r->files, r->nfiles);
	memset(r, 0, sizeof(*r));
}

struct output_error url_result_item_error(const struct proto_visit *end, size_t i)
{
	const struct proto_item *it = i < end->n_items ? &end->items[i] : NULL;
	bool own = false;

	for (size_t k = 0; k < end->n_items; k++)
		own = own || end->items[k].major_error_code != 0;
	if (own)
		return (struct output_error){.major = it ? it->major_error_code : 0,
					     .minor = it ? it->minor_error_code : 0};
	return (struct output_error){
	    .major = end->type == PROTO_VISIT_ERROR ? end->error_code : 0,
	    .minor = it ? it->minor_error_code : 0,
	};
}
