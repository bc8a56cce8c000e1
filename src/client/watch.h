/*
 * watch.h - the path every sensor record takes in capture-client, shared by
 * the standalone monitor (monitor.c) and the networked group visit
 * (group_visit.c): record -> event (event_builder, process table) ->
 * exclusion lists (classify) -> the caller's emit callback, with per-type
 * counts of reported and excluded events; and starting a program inside a
 * cgroup so that it is never unobserved.
 *
 * A watch borrows the exclusion set and the sandbox visit; it owns its
 * process table and event builder.
 */
#ifndef CAPTURE_WATCH_H
#define CAPTURE_WATCH_H

#include <stdint.h>
#include <sys/types.h>

#include "client/exclusion.h"
#include "client/sandbox_visit.h"
#include "common/event.h"
#include "sensor/sensor.h"

/* Receives each reported event (not excluded by the lists). */
typedef void (*watch_emit_fn)(const struct capture_event *ev, void *ctx);

struct watch_counts {
	uint64_t reported[EVENT_TYPE_COUNT];
	uint64_t excluded[EVENT_TYPE_COUNT];
	uint64_t undecodable; /* records the builder could not understand (counted as lost) */
};

struct watch;

/* HARNESS_PID: the process that starts the observed program (its actions are not changes). */
struct watch *watch_new(struct exclusion_set *excl, uint32_t harness_pid, watch_emit_fn emit,
			void *ctx);
void watch_free(struct watch *w);
struct event_builder *watch_builder(struct watch *w);
struct proc_table *watch_procs(struct watch *w);
/* File events are noted in V (sandbox_visit_note) so fanotify does not repeat them; may be NULL. */
void watch_set_visit(struct watch *w, struct sandbox_visit *v);

/*
 * A tcp-connection of program EXE (its real path in the guest) to PORT,
 * and to address HOST unless HOST is "" (a name), is the visit itself: the
 * client reaching the URL it was given (a refused or unusual port would
 * otherwise look like a connect-back).  Never a state change.  0, or -1
 * when WATCH_MAX_ORIGINS are noted already (the connection is then
 * reported).
 */
#define WATCH_MAX_ORIGINS 64
int watch_expect_connection(struct watch *w, const char *exe, const char *host, uint16_t port);

/* Builds REC into EV: 1 an event, 0 only internal state, -1 undecodable (counted). */
int watch_build(struct watch *w, const struct sensor_record *rec, struct capture_event *ev);
/* Classifies EV and emits it if reported; a sandbox_visit_emit_fn (CTX is the watch). */
void watch_handle(const struct capture_event *ev, void *ctx);
/* watch_build() then watch_handle(): a sensor_record_fn (CTX is the watch). */
int watch_on_record(const struct sensor_record *rec, void *ctx);

/* Drains every waiting record of S (warns once on a read error). */
void watch_drain(struct sensor *s);

const struct watch_counts *watch_counts(const struct watch *w);
uint64_t watch_reported_total(const struct watch *w);
/* Records lost: ring buffer drops, malformed, undecodable, plus FANOTIFY_LOST. */
uint64_t watch_lost(const struct watch *w, const struct sensor_stats *st, uint64_t fanotify_lost);

/*
 * Starts ARGV (execvp) as a child born inside the cgroup v2 directory
 * CGROUP (clone3 CLONE_INTO_CGROUP), with signals unblocked.  0 and *PID
 * once it has exec'd; -1 if it could not: *EXEC_ERRNO is the exec's errno
 * (the child is then reaped) or 0 if it was never started (errno set).
 */
int watch_spawn(const char *cgroup, char *const argv[], pid_t *pid, int *exec_errno);

#endif
