/*
 * remote.h - capture-client's networked mode: one TCP connection to
 * capture-server, driven by a libuv loop around the protocol session
 * (server_session.h).
 *
 * The client resolves and connects (IPv4 or IPv6), retrying with
 * exponential backoff, answers the handshake, and visits every group the
 * server sends in a fresh guest (group_visit.h): visit-event start, each
 * reported event as a system-event as it happens, the guest's archive when
 * the server's options ask for it, then finish or error.  A lost connection
 * aborts the running visit (its guest is killed and reverted) and the client
 * reconnects, identifying itself with <reconnect>.  SIGINT/SIGTERM abort any
 * visit, revert and end the run with status 0.  docs/client-networked.md.
 */
#ifndef CAPTURE_REMOTE_H
#define CAPTURE_REMOTE_H

#include <stddef.h>
#include <stdint.h>

#include "client/group_visit.h"

#define REMOTE_BACKOFF_FIRST_MS 250   /* first wait before reconnecting */
#define REMOTE_BACKOFF_MAX_MS   10000 /* the wait doubles up to this */
#define REMOTE_CONNECT_MS       10000 /* one connection attempt (per address) at most */
#define REMOTE_UPLOAD_ACCEPT_MS 5000  /* wait for <file-accept>, as the original */

struct remote_opts {
	const char *host;         /* server name or address literal */
	uint16_t port;            /* default PROTO_PORT */
	const char *vm_server_id; /* -a */
	const char *vm_id;        /* -b */
	const void *key;          /* shared HMAC key (--key), NULL = none */
	size_t key_len;
	unsigned connect_retries;      /* give up after this many failed connections; 0 = never */
	struct group_visit_opts visit; /* guests, exclusion set (borrowed), applications */
};

/* Wait before connection attempt number FAILURES + 1 (0 after a lost connection). */
uint64_t remote_backoff_ms(unsigned failures);

/* Runs until a signal (0) or until the server cannot be reached (MONITOR_EXIT_ERROR). */
int remote_run(const struct remote_opts *opts);

#endif
