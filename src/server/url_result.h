/*
 * url_result.h - what one visit gathered for one URL: its events (written
 * to the URL's event log as they arrive and kept for the report), the time
 * of its first state change, and the archive the client uploaded with the
 * file list of its manifest.
 *
 * The server owns one per URL of a group in flight and frees it when the
 * URL ends.  Events sent as system-events carry the client's clock as
 * "dd/MM/yyyy HH:mm:ss.mmm" (the original also sent it unpadded); an
 * unparsable time is replaced by the server's.  At most URL_RESULT_EVENTS_MAX
 * events are kept in memory for the report; the event log has them all.
 */
#ifndef CAPTURE_URL_RESULT_H
#define CAPTURE_URL_RESULT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/protocol.h"
#include "server/outputs.h"

#define URL_RESULT_EVENTS_MAX 100000

struct url_result_event {
	struct capture_event ev;
	char *strs[4]; /* action, process, object1, object2 (owned) */
};

struct url_result {
	struct outputs_eventlog *elog; /* created on the first event */
	struct url_result_event *events;
	size_t nevents, cap;
	size_t total_events;     /* including those not kept */
	uint64_t first_event_ns; /* CLOCK_REALTIME of the first event, 0 = none */
	char *archive;           /* file name in the log directory, NULL if none */
	struct output_file *files;
	size_t nfiles;
	bool named;              /* name_suffix decided (the server's naming) */
	const char *name_suffix; /* see struct output_visit */
};

/* One system-event of the visit V: appended to the event log and kept. */
void url_result_event(struct url_result *r, struct outputs *o, const struct output_visit *v,
		      const struct proto_system_event *pe);

/* The upload at PATH becomes the archive of V (moved into the log directory). */
void url_result_archive(struct url_result *r, struct outputs *o, const struct output_visit *v,
			const char *path);

/* The kept events as a new array of borrowed events (for a report); NULL if none or ENOMEM. */
struct capture_event *url_result_events(const struct url_result *r);

/* Frees what R holds (closing its event log) and zeroes it. */
void url_result_free(struct url_result *r);

/* "dd/MM/yyyy HH:mm:ss.mmm" (local time) -> CLOCK_REALTIME ns; 0 if unparsable. */
uint64_t url_result_parse_time(const char *t);

/*
 * URL I's error in a client's end-of-visit report END: its item's own code
 * when any item carries one (URLs of a group can fail differently, or not
 * at all), else the visit's code (type=error) for every URL, as the
 * original sends it.
 */
struct output_error url_result_item_error(const struct proto_visit *end, size_t i);

#endif
