/*
 * classify.c - see classify.h.
 */
#include "client/classify.h"

#include <string.h>

#include "common/path.h"
#include "sensor/sensor_event.h"

static const enum exclusion_monitor type_monitor[EVENT_TYPE_COUNT] = {
    [EVENT_PROCESS] = EXCL_PROCESS,
    [EVENT_FILE] = EXCL_FILE,
    [EVENT_CONNECTION] = EXCL_CONNECTION,
    [EVENT_SYSTEM] = EXCL_SYSTEM,
};

const char *verdict_name(enum verdict v)
{
	switch (v) {
	case VERDICT_BENIGN: return "benign";
	case VERDICT_MALICIOUS: return "malicious";
	default: return "inconclusive";
	}
}

enum verdict classify_verdict(uint64_t reported, uint64_t lost)
{
	if (reported)
		return VERDICT_MALICIOUS;
	return lost ? VERDICT_INCONCLUSIVE : VERDICT_BENIGN;
}

bool classify_is_reported(struct exclusion_set *set, const struct capture_event *ev)
{
	enum exclusion_monitor m = type_monitor[ev->type];

	if (!set)
		return true;
	/* a dropped program is always a change: no '+' rule may hide one */
	if (ev->type == EVENT_FILE && (ev->flags & EVENT_F_EXECUTABLE))
		return true;
	if (ev->type == EVENT_PROCESS)
		return !exclusion_is_excluded(set, m, path_basename(ev->object2),
					      path_basename(ev->process), ev->object2);
	if (!exclusion_is_excluded(set, m, ev->action, ev->process, ev->object1))
		return true;
	if (ev->type == EVENT_FILE && strcmp(ev->action, "Rename") == 0)
		return !exclusion_is_excluded(set, m, ev->action, ev->process, ev->object2);
	return false;
}

uint64_t classify_enabled_ops(struct exclusion_set *set)
{
	static const struct {
		unsigned op;
		const char *action;
	} file_ops[] = {
	    {SENSOR_OP_OPEN, "Open"},   {SENSOR_OP_READ, "Read"},   {SENSOR_OP_DELETE, "Delete"},
	    {SENSOR_OP_MKDIR, "Mkdir"}, {SENSOR_OP_RMDIR, "Rmdir"}, {SENSOR_OP_SYMLINK, "Symlink"},
	};
	uint64_t mask = ~0ull;

	if (!set)
		return mask;
	for (size_t i = 0; i < sizeof(file_ops) / sizeof(file_ops[0]); i++)
		if (exclusion_key_always_excluded(set, EXCL_FILE, file_ops[i].action)) {
			mask &= ~(1ull << file_ops[i].op);
			exclusion_mark_kernel_filtered(set, EXCL_FILE, file_ops[i].action);
		}
	return mask;
}
