/*
 * group_visit.h - one group visit of the networked client: the URLs of one
 * <visit-event>, visited one after another ("seq") in one fresh guest, all
 * inside the caller's libuv loop.
 *
 * group_visit_start() builds each URL's argv (apps_build_argv), creates the
 * guest (a sandbox guest, or without one a fresh cgroup on this system, as
 * in a VM guest), opens the sensor scoped to it and starts the URLs' runner.
 * A program with a browser driver (driver.h: "chromium") is different: the
 * guest runs the browser (or, for "bulk", a launcher of one browser per URL)
 * with its control pipes as fds 3 and 4, and the driver, in this loop,
 * opens every URL (tabs of one browser for "dac"), waits for its load event
 * (page timeout), stays the visit time and reports final URL, redirects,
 * HTTP status and errors per URL (group_visit_url.browser).
 * Otherwise each URL gets the visit time (a driver that bounds its own run, such
 * as curl, is waited for, at most 10 s past the visit time, then it is a
 * TIMEOUT_ERROR) and what is left of it is killed before the next URL starts.
 * At the end the guest is killed, fanotify-only changes are merged, the
 * archive is written (when opts.visit.collect_dir is set) and the guest is
 * reverted.  Every reported event goes to on_event as it happens; the end to
 * on_done, once, from the loop (never from inside group_visit_start()).
 * Error codes per URL and for the group: docs/client-networked.md.
 */
#ifndef CAPTURE_GROUP_VISIT_H
#define CAPTURE_GROUP_VISIT_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "client/apps.h"
#include "client/apps/driver.h"
#include "client/exclusion.h"
#include "client/sandbox_visit.h"
#include "common/event.h"
#include "common/protocol.h"

#define GROUP_VISIT_ALGORITHM "seq" /* reported in visit-event type=start */
#define GROUP_VISIT_GRACE_MS  10000 /* a self-bounded driver's time past the visit time */

struct group_visit_opts {
	bool sandbox;                    /* a sandbox guest; else a fresh cgroup on this system */
	struct sandbox_visit_opts visit; /* sandbox options; collect_dir = where the archive goes */
	struct exclusion_set *excl;      /* borrowed: the client's lists and pushed rules */
	const struct app_table *apps;    /* borrowed, may be NULL (built-in drivers only) */
	uint64_t ringbuf_bytes;          /* 0 = the sensor's default */
	/* browser drivers (apps/driver.h), for programs such as "chromium" */
	enum driver_layout layout;  /* DRIVER_LAYOUT_TABS ("dac", default) or _PROCESSES ("bulk") */
	unsigned page_timeout_s;    /* 0 = DRIVER_PAGE_TIMEOUT_DEFAULT */
	const char *screenshot_dir; /* host directory for screenshots; NULL = none */
	/*
	 * Benchmarks only (bench/visit): a browser visit without the kernel
	 * sensor, to measure what the sensor costs a page load.  Such a visit
	 * sees no event: its verdict means nothing.  Refused for other programs.
	 */
	bool no_sensor;
};

/* What happened to one URL (same order as the request's items). */
struct group_visit_url {
	uint32_t major;    /* enum proto_error, 0 = visited without error */
	uint32_t minor;    /* minor code (exit code of curl/wget, PE_*), 0 if none */
	uint32_t pid;      /* process of the URL's program (host pid), 0 if it never ran */
	uint64_t start_ns; /* CLOCK_REALTIME when it started, 0 if it never ran */
	/* what a browser driver learnt (NULL/0 for other programs), valid during on_done */
	const struct driver_result *browser;
};

struct group_visit_result {
	const struct group_visit_url *urls; /* n_urls entries, valid during on_done */
	size_t n_urls;
	bool malicious;       /* at least one event was reported */
	uint64_t reported;    /* events reported */
	uint64_t lost;        /* sensor records (and fanotify events) lost */
	uint64_t memory_peak; /* bytes the guest used at most, 0 if unknown */
	uint32_t major;       /* the group's error code: 0, one URL's code, MULTIPLE_ERRORS, ... */
	uint32_t minor;
	char archive[PATH_MAX]; /* the guest's archive, "" if none (the caller deletes it) */
};

struct group_visit;

struct group_visit_callbacks {
	/* The guest runs the first URL: send visit-event type=start.  Not called if setup failed.
	 */
	void (*on_started)(struct group_visit *gv, void *arg);
	/* One reported event, as it happens. */
	void (*on_event)(struct group_visit *gv, const struct capture_event *ev, void *arg);
	/* The visit is over and the guest reverted; call group_visit_free() afterwards. */
	void (*on_done)(struct group_visit *gv, const struct group_visit_result *res, void *arg);
	void *arg;
};

/*
 * Starts visiting the request VISIT (copied) in LOOP.  0 and *OUT, or -1
 * with errno (out of memory, bad arguments): a guest that cannot be set up
 * is not a failure here, it ends the visit with SANDBOX_ERROR via on_done.
 */
int group_visit_start(uv_loop_t *loop, const struct group_visit_opts *opts,
		      const struct proto_visit *visit, const struct group_visit_callbacks *cb,
		      struct group_visit **out);
/* "seq", or for a browser driver "dac" (tabs) or "bulk" (processes): for visit-event start. */
const char *group_visit_algorithm(const struct group_visit *gv);
/*
 * Frees GV from the loop (handles are closed first).  A visit still running
 * is aborted: its guest is killed and reverted now, and on_done never comes.
 */
void group_visit_free(struct group_visit *gv);

/*
 * The group's error code from its URLs' codes, the events reported and the
 * records lost: nothing reported but records lost is EVENTS_LOST (minor =
 * lost, capped); else no URL error is 0, one distinct code is that code
 * (minor of its first URL), several are VISITATION_MULTIPLE_ERRORS.
 */
void group_visit_summarize(const struct group_visit_url *urls, size_t n, uint64_t reported,
			   uint64_t lost, uint32_t *major, uint32_t *minor);

#endif
