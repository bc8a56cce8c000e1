/*
 * server.h - capture-server's run: URLs in, groups out to guests, verdicts
 * into log/, guests reverted; one libuv loop, one thread.
 *
 * Dispatch is pull: a guest whose client is idle takes the next group (a
 * retry first, else the queue's next URLs).  This build's algorithm is seq
 * with groups of one URL, so every event of a visit belongs to its URL.
 * Every URL ends exactly once: benign (safe.log), malicious
 * (malicious.log, event log, archive), or error (error.log) once its error
 * class has no retry left (<retries> of config.xml); until then it is
 * visited again, before any new URL.  Deadlines: the client connection's
 * inactivity and stall timers (client_conn.c) and, per guest,
 * vm_stalled_after_revert_timeout from a revert to its client's
 * identification.  docs/server.md has the states and the exit statuses.
 */
#ifndef CAPTURE_SERVER_H
#define CAPTURE_SERVER_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "common/config.h"

enum server_exit {
	SERVER_EXIT_DONE = 0,        /* every URL ended (terminate) */
	SERVER_EXIT_SETUP = 1,       /* could not start: bad input, port taken, ... */
	SERVER_EXIT_INTERRUPTED = 2, /* SIGINT/SIGTERM; URLs were left */
	SERVER_EXIT_HALTED = 4,      /* -r: a guest needed a revert */
};

#define SERVER_STATS_INTERVAL_MS (5ull * 60 * 1000) /* stats.log line, as the original */
#define SERVER_POLL_MS           500                /* URL file tailing */
#define SERVER_QUIET_MS                                                                            \
	10000 /* terminate: a URL file without "end", unchanged for                                \
	       * this long with nothing left to do, is finished */

struct server_opts {
	const struct capture_config *cfg; /* must outlive the run */
	const char *url_file;             /* -f; "-" = standard input; NULL = none */
	const char *listen_address;       /* NULL = cfg->listen_address */
	uint16_t listen_port;             /* 0 = cfg->listen_port */
	bool halt_on_revert;              /* -r */
	const char *client_path;          /* capture-client for local guests (resolved) */
	FILE *out;                        /* status line and final table */
	bool tty;                         /* OUT is a terminal: live status line */
	uint64_t stats_interval_ms;       /* 0 = SERVER_STATS_INTERVAL_MS */
};

/* Runs until the input is done (terminate), a signal, or -r; returns enum server_exit. */
int server_run(const struct server_opts *o);

#endif
