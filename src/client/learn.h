/*
 * learn.h - learn mode's pure part: reported events of benign visits in,
 * proposed exclusion rules out (docs/exclusion-lists.md, "Building lists
 * for a new guest image").
 *
 * Events are added run by run (one run = one visit in a fresh guest).
 * learn_propose() then
 *  1. sets aside the events of the always-reported categories (autostart,
 *     cron, shell start-up files, systemd units, ~/.local/bin, ~/Downloads,
 *     ld.so.preload, ssh keys, accounts, SysV start-up, and files made
 *     executable): no rule is ever proposed for them;
 *  2. turns every other event into the columns its list matches (classify.c:
 *     key, subject, object; a Rename gives one rule per path) and generalises
 *     the random parts of subject and object: UUIDs, hex ids, numbers of 3+
 *     digits, pids in /proc paths, ephemeral ports (>= 32768) and
 *     mkstemp-like suffixes become classes; everything else stays literal
 *     (escaped), so a rule names one program and one place;
 *  3. merges rules that differ in one literal word that varies between
 *     events: digits become [0-9]+, same-length words of which at least half
 *     look random become [A-Za-z0-9]{N} (so a suffix seen once in each run
 *     is generalised even when one of its values looks like a word);
 *  4. verifies every rule with exclusion_add_rule(): alone it must exclude
 *     every event it was made from and none of a set of canary paths in the
 *     always-reported locations; added with all other rules to a copy of
 *     BASE (the lists in force) it must still exclude its events (a '-' rule
 *     of BASE may win) and no always-reported event may become excluded.
 *     A rule that fails is dropped and its events are "left".
 * Rules come out sorted by coverage (runs, then events).  Not thread-safe.
 */
#ifndef CAPTURE_LEARN_H
#define CAPTURE_LEARN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "client/exclusion.h"
#include "common/event.h"

#define LEARN_MAX_RUNS 10000 /* runs one learn may hold */

struct learn;

/* One proposed '+' rule. */
struct learn_rule {
	enum exclusion_monitor monitor;
	char *key;     /* as written in column 2 */
	char *subject; /* column 3, a regex */
	char *object;  /* column 4, a regex */
	unsigned runs; /* runs in which at least one of its events was seen */
	uint64_t events;
};

/* An event (identical ones merged) that no proposed rule excludes. */
struct learn_left {
	enum event_type type;
	char *action, *process, *object1, *object2; /* owned by the result */
	char *why;   /* the always-reported category, or why no rule was proposed */
	bool always; /* of an always-reported category */
	unsigned runs;
	uint64_t events;
};

struct learn_result {
	struct learn_rule *rules; /* sorted by coverage */
	size_t n_rules;
	struct learn_left *left; /* always-reported first, then by coverage */
	size_t n_left;
	unsigned runs;        /* runs learnt from */
	uint64_t events;      /* events added */
	uint64_t events_left; /* of those, not excluded by BASE plus the rules */
};

struct learn *learn_new(void);
void learn_free(struct learn *l);

/* Starts the next run: events added from now on belong to it.  0, or -1 (too many runs). */
int learn_begin_run(struct learn *l);
/* Adds one reported event of the current run (copied).  0, or -1 (no run begun, memory). */
int learn_add_event(struct learn *l, const struct capture_event *ev);

/*
 * The always-reported category of EV ("autostart", "made executable", ...)
 * or NULL.  A chmod with an x bit counts unless DIRECTORY (the path is known
 * to be a directory, where x means search).
 */
const char *learn_always_reported(const struct learn *l, const struct capture_event *ev,
				  bool directory);

/*
 * Generalises one object of an event of TYPE and ACTION (NULL: a subject)
 * as step 2 above does, into the regex OUT (LEN bytes).  0, or -1 if it
 * does not fit.  (Step 3 may generalise more when words vary.)
 */
int learn_generalize(const struct learn *l, enum event_type type, const char *action, const char *s,
		     char *out, size_t len);

/*
 * Proposes the rules for every event added so far, verified against BASE
 * (may be NULL: no lists).  0 and *OUT (free with learn_result_free), or -1
 * with ERR.  BASE's hit counts change.
 */
int learn_propose(struct learn *l, const struct exclusion_set *base, struct learn_result *out,
		  char *err, size_t errlen);
void learn_result_free(struct learn_result *r);

/*
 * Writes the rules as exclusion lists, one section per monitor headed
 * "# ==== NAME.exl ====", each rule under "# seen in R/N runs, E events",
 * then the left events as comment lines.  HEADER (may be NULL) is written
 * first as comment lines.  MONITOR >= 0 writes only that monitor's rules
 * (a list file of its own, no left events).
 */
void learn_write(FILE *out, const struct learn_result *r, const char *header, int monitor);

#endif
