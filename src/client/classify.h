/*
 * classify.h - which events are state changes, and the run's verdict.
 *
 * An event is looked up in the exclusion list of its monitor: the key is the
 * action, or for process events the new process's module name with the
 * parent's module name as subject (the original's rule).  A Rename changes
 * two places, so it is excluded only if both paths are.  A file event that
 * made an executable file (EVENT_F_EXECUTABLE) is never excluded.  The verdict is
 * malicious if anything was reported, otherwise inconclusive if any record
 * was lost, otherwise benign: a run with loss is never called benign.
 */
#ifndef CAPTURE_CLASSIFY_H
#define CAPTURE_CLASSIFY_H

#include <stdbool.h>
#include <stdint.h>

#include "client/exclusion.h"
#include "common/event.h"

enum verdict {
	VERDICT_BENIGN = 0,       /* exit status 0 */
	VERDICT_MALICIOUS = 1,    /* exit status 1 */
	VERDICT_INCONCLUSIVE = 2, /* exit status 2 */
};

const char *verdict_name(enum verdict v);
enum verdict classify_verdict(uint64_t reported, uint64_t lost);

/* True if EV is a state change (not excluded by SET; a NULL SET excludes nothing). */
bool classify_is_reported(struct exclusion_set *set, const struct capture_event *ev);

/*
 * The sensor ops (bit 1 << enum sensor_op) worth producing under SET: an op
 * whose every event the lists exclude anyway is switched off in the kernel,
 * and the rule that excludes it is marked kernel-filtered in SET's statistics.
 */
uint64_t classify_enabled_ops(struct exclusion_set *set);

#endif
