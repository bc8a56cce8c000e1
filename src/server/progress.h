/*
 * progress.h - the run's counters, its live status line and its final table.
 *
 * The server records every URL that reaches an end (benign, malicious,
 * error) and every revert/stall; progress.c turns that into the stats.log
 * line, a one-line status ("visited 12/40  benign 8  malicious 3  errors 1
 * 5.2 URLs/min  ETA 0:05:23") and, at the end, a table of the URLs of the
 * run (URL, verdict, events, seconds).
 *
 * On a terminal the status line is redrawn in place (at most 4 times a
 * second, and on every result); log lines take it off the screen first and
 * put it back after (log_set_hooks()), so they are never garbled.  Without a
 * terminal nothing is drawn: each result is a plain log line instead.
 */
#ifndef CAPTURE_PROGRESS_H
#define CAPTURE_PROGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "server/outputs.h"

#define PROGRESS_TABLE_MAX 200 /* URLs kept for the final table; beyond, totals only */

struct progress;

/* OUT is where the status line and the table go; TTY: draw the live line. */
struct progress *progress_new(FILE *out, bool tty);
/* Takes the status line off the screen and frees P. */
void progress_free(struct progress *p);

/* URLs known to the run (queued, in flight or done): the "/total". */
void progress_set_total(struct progress *p, uint64_t total);
void progress_visiting(struct progress *p, int delta);
/*
 * A URL ended.  VERDICT is OUTPUT_BENIGN, OUTPUT_MALICIOUS or
 * OUTPUT_VERDICT_ERROR (ERROR_NAME then says which, e.g. "NETWORK_ERROR-7");
 * VISIT_S from dispatch to verdict; FIRST_CHANGE_S from visit start to the
 * first state change, < 0 if none.
 */
void progress_url_done(struct progress *p, const char *url, enum output_verdict verdict,
		       const char *error_name, size_t events, double visit_s,
		       double first_change_s);
/* A group was re-queued after an error (another attempt follows). */
void progress_retry(struct progress *p);
/* A guest was reverted in SECONDS; STALLED/INACTIVE say why, if that was the cause. */
void progress_revert(struct progress *p, double seconds);
void progress_client_inactivity(struct progress *p);
void progress_vm_stalled(struct progress *p);

/* The stats.log line for now (VISITING is the number of URLs in flight). */
void progress_stats(const struct progress *p, struct output_stats *out);
/* The status line (no newline) into BUF. */
void progress_format(const struct progress *p, char *buf, size_t len);
/* Redraws the status line if it is due (FORCE: now). No-op without a TTY. */
void progress_draw(struct progress *p, bool force);
/* Prints the final table and totals to OUT. */
void progress_print_summary(struct progress *p);

/* Counters, for tests and the server's exit decision. */
uint64_t progress_done(const struct progress *p);

#endif
