/*
 * monitor.h - capture-client's standalone mode (the original's Capture-BAT).
 *
 * Runs a program in a fresh cgroup with the kernel sensor scoped to it (or
 * to the whole system but the client itself, as the original Capture-BAT),
 * streams every non-excluded event as it happens (CSV or JSON Lines), stops
 * when the program's whole process tree has exited (or on SIGINT/SIGTERM or
 * the timeout, killing the tree), prints a summary and returns the verdict.
 */
#ifndef CAPTURE_MONITOR_H
#define CAPTURE_MONITOR_H

#include <stdbool.h>
#include <stdint.h>

#include "client/sandbox_visit.h"

#define MONITOR_EXIT_ERROR 3 /* after 0 benign, 1 malicious, 2 inconclusive */

struct monitor_opts {
	char **argv;            /* program and arguments, NULL-terminated; may be empty */
	bool system_scope;      /* every process but the client (else the program's cgroup);
				 * with an empty argv the run lasts until a signal or -t */
	const char *log_path;   /* events go here; NULL = stdout */
	const char *excl_dir;   /* directory of exclusion lists; NULL = none (report all) */
	bool json;              /* JSON Lines instead of the original CSV */
	bool rule_stats;        /* print per-rule hit counters at the end */
	unsigned timeout_s;     /* 0 = no limit */
	uint64_t ringbuf_bytes; /* 0 = default */
	bool sandbox;           /* run the program in a fresh sandbox guest, then revert it */
	struct sandbox_visit_opts visit; /* with sandbox: network, root, collection, limits */
};

/* Runs the whole thing; returns the exit status (0, 1, 2 or MONITOR_EXIT_ERROR). */
int monitor_run(const struct monitor_opts *opts);

#endif
