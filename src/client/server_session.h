/*
 * server_session.h - the client's side of one connection to capture-server,
 * as a pure state machine over bytes: no sockets, no timers, no event loop.
 *
 * The caller feeds what it reads from the server to server_session_feed(),
 * and writes what server_session_output() holds (then buf_consume()s what it
 * wrote).  The session answers the handshake (auth when challenged, connect or
 * reconnect), records options, applies pushed exclusion rules, answers pings,
 * hands visit requests to on_visit and encodes the visit reports (start,
 * system events, uploads, finish/error).  Protocol states and what is sent
 * when: docs/client-session.md.
 *
 * Errors in the server's input (malformed, oversized or unexpected elements,
 * a challenge without a key) close the session: on_closed gets the reason,
 * every later call fails with EPIPE, and the caller closes the socket.  The
 * reporting calls return 0, or -1 with errno (EINVAL: wrong state or
 * argument, EPIPE: closed, E2BIG/ENOMEM: output full, or a file error).
 * Callbacks must not free the session.
 */
#ifndef CAPTURE_SERVER_SESSION_H
#define CAPTURE_SERVER_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client/exclusion.h"
#include "common/buf.h"
#include "common/event.h"
#include "common/protocol.h"

struct server_session;

enum server_session_state {
	SERVER_SESSION_AWAIT_CONNECT = 0, /* waiting for the server's <connect> */
	SERVER_SESSION_READY,             /* connected, no visit */
	SERVER_SESSION_VISIT_REQUESTED,   /* on_visit fired, start not yet sent */
	SERVER_SESSION_VISITING,          /* start sent, finish not yet sent */
	SERVER_SESSION_CLOSED,
};

struct server_session_callbacks {
	/* A group to visit; VISIT (a request, u.visit) stays valid until the visit finishes. */
	void (*on_visit)(struct server_session *s, const struct proto_msg *visit, void *arg);
	/* An <option> (also recorded, see server_session_options()). */
	void (*on_option)(struct server_session *s, const char *name, const char *value, void *arg);
	/* The session closed; REASON says why (for the log). */
	void (*on_closed)(struct server_session *s, const char *reason, void *arg);
	/* An upload ended: STATUS 0 done (all parts queued), -1 rejected/failed with REASON. */
	void (*on_upload)(struct server_session *s, const char *name, int status,
			  const char *reason, void *arg);
	/* Optional: a pushed exclusion rule was bad (not fatal). */
	void (*on_rule_error)(struct server_session *s, const char *reason, void *arg);
	void *arg;
};

struct server_session_config {
	const char *vm_server_id; /* required */
	const char *vm_id;        /* required */
	const void *key;          /* optional authentication key bytes (copied) */
	size_t key_len;
	struct exclusion_set *exclusions; /* optional: receives pushed rules (borrowed) */
	size_t max_message;               /* frame maximum; 0 = PROTO_MAX_MESSAGE_DEFAULT */
};

/* Options the server pushed (false until it says "true"). */
struct server_session_options {
	bool collect_modified_files;
	bool capture_packets_malicious;
	bool capture_packets_benign;
};

/* New session; NULL with errno (EINVAL for a missing id or a bad maximum). */
struct server_session *server_session_new(const struct server_session_config *cfg,
					  const struct server_session_callbacks *cb);
/* Frees S (NULL is fine), closing an upload file if one is open. */
void server_session_free(struct server_session *s);

/* After a reconnect: answer the next <connect> with <reconnect> and expect a new stream. */
void server_session_mark_reconnect(struct server_session *s);

/* Consumes LEN bytes from the server; 0, or -1 (EPIPE) if the session is (now) closed. */
int server_session_feed(struct server_session *s, const void *data, size_t len);
/* Bytes to send; the caller writes them and buf_consume()s what was written.  During an
 * upload each call tops the buffer up with further parts. */
struct buf *server_session_output(struct server_session *s);

enum server_session_state server_session_state(const struct server_session *s);
/* Why the session closed, or NULL while open. */
const char *server_session_close_reason(const struct server_session *s);
const struct server_session_options *server_session_options(const struct server_session *s);
/* Protocol version in use: min(server's, ours); 0 for an original server. */
uint32_t server_session_version(const struct server_session *s);
/* Pushed rules that were bad and not applied. */
unsigned server_session_rule_errors(const struct server_session *s);
/* True while an upload is waiting for file-accept or sending parts. */
bool server_session_upload_pending(const struct server_session *s);

/* Sends visit-event type=start for VISIT (the request's u.visit), ALGORITHM may be NULL. */
int server_session_visit_start(struct server_session *s, const struct proto_visit *visit,
			       const char *algorithm);
/* Sends one system-event (time zero-padded "dd/MM/yyyy HH:mm:ss.mmm"). */
int server_session_system_event(struct server_session *s, const struct capture_event *ev);
/* Sends <file> for the file at PATH under NAME; parts follow the server's file-accept.
 * The result comes through on_upload. */
int server_session_upload(struct server_session *s, const char *name, const char *path);
/* The caller's wait for file-accept expired: the upload fails (on_upload gets -1). */
void server_session_upload_timeout(struct server_session *s);
/*
 * Sends type=finish (ERROR_CODE 0) or type=error; items get processId from
 * VISIT's items.  If any of VISIT's items carries its own code (a group
 * where URLs failed differently), every item is sent with its own code (0
 * for one that was fine); otherwise every item gets ERROR_CODE/MINOR.
 */
int server_session_visit_finish(struct server_session *s, const struct proto_visit *visit,
				bool malicious, uint32_t error_code, uint32_t minor);

#endif
