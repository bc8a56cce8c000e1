/*
 * learn_run.h - learn mode's visiting loop: every URL is visited VISITS
 * times with one program, each visit in a fresh sandbox guest through the
 * networked mode's group visit (group_visit.h, one URL per group), and
 * every event the lists in force do not exclude is added to a learn
 * (learn.h) as a run of its own.  Visits run one after another in a libuv
 * loop of their own; SIGINT/SIGTERM abort the running visit (its guest is
 * reverted) and end the loop.
 *
 * While visiting, standard input, output and error are /dev/null for the
 * guest programs (the log goes to a close-on-exec copy of stderr), so what
 * a browser prints is not learnt as a write of whatever stdout is.
 */
#ifndef CAPTURE_LEARN_RUN_H
#define CAPTURE_LEARN_RUN_H

#include <stddef.h>
#include <stdint.h>

#include "client/group_visit.h"
#include "client/learn.h"

struct learn_run_opts {
	const char *program; /* --client: a built-in driver or applications.conf name */
	char *const *urls;   /* n_urls URLs */
	size_t n_urls;
	unsigned visits;               /* per URL */
	unsigned visit_time_s;         /* per visit */
	struct group_visit_opts visit; /* guests (sandbox), lists in force (borrowed), apps */
};

struct learn_run_stats {
	unsigned visits; /* visits that ran to their end */
	unsigned errors; /* of those, visits with an error code (logged) */
	uint64_t events; /* events reported */
	uint64_t lost;   /* sensor records lost (the rules may miss what they held) */
};

/*
 * Visits every URL VISITS times (URL order, then again), adding the events
 * to L.  0 after the last visit; -1 if interrupted by a signal, if a visit
 * could not be started or if L ran out of memory (logged).
 */
int learn_run(const struct learn_run_opts *o, struct learn *l, struct learn_run_stats *st);

#endif
