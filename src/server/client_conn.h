/*
 * client_conn.h - one capture-client connection on the server side, over
 * libuv, with no global state.
 *
 * A connection is created on an accepted stream (client_conn_accept(); the
 * caller owns the listener) and speaks the Capture-HPC handshake: the server
 * sends <connect server="2.5" capture-version=...> (plus a challenge when a
 * key is set), the client answers <auth> (keyed only) and then <connect> or
 * <reconnect>; the server sends the options and, if send-exclusion-lists,
 * the caller's exclusion rules, and the connection becomes WAITING.  The
 * caller then hands it a group (client_conn_send_visit()) and hears about
 * the visit through callbacks; every callback may be NULL.
 *
 * Until the client is identified the reader accepts frames of at most
 * PROTO_MAX_MESSAGE_PREAUTH bytes, afterwards the configured maximum.  Every
 * protocol error (malformed, oversized, unexpected element for the state,
 * failed authentication) is logged once with the client, its address and a
 * sanitised sample of the bytes, and closes the connection; nothing a client
 * sends stops the server.  Closing always goes through uv_close(): the
 * connection is freed after on_closed() returns, in the last close callback.
 * States, deadlines and errors: docs/server-connections.md.
 */
#ifndef CAPTURE_CLIENT_CONN_H
#define CAPTURE_CLIENT_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "common/config.h"
#include "common/protocol.h"
#include "server/url_line.h"

#define CLIENT_CONN_PING_MS         10000          /* ping interval of the original */
#define CLIENT_CONN_UPLOAD_MAX      (256ull << 20) /* default bytes of one upload */
#define CLIENT_CONN_WRITE_QUEUE_MAX (16u << 20)    /* unsent bytes before we give up */

enum client_conn_state {
	CLIENT_CONN_CONNECTING = 0,    /* <connect> sent; waiting for auth/connect */
	CLIENT_CONN_WAITING,           /* identified and idle: ready for a group */
	CLIENT_CONN_AWAITING_VISITING, /* visit-event sent, no start yet */
	CLIENT_CONN_VISITING,          /* start received */
	CLIENT_CONN_CLOSING,           /* uv_close() issued; freed after on_closed() */
};

/* Why a connection closed. */
enum client_conn_close {
	CLIENT_CONN_CLOSE_LOCAL = 0,  /* client_conn_close() by the caller */
	CLIENT_CONN_CLOSE_RESET,      /* the peer closed or reset the connection */
	CLIENT_CONN_CLOSE_SOCKET,     /* read/write error, out of memory, write queue full */
	CLIENT_CONN_CLOSE_PROTOCOL,   /* malformed/oversized/unexpected message, bad auth */
	CLIENT_CONN_CLOSE_INACTIVITY, /* no message within the inactivity timeout */
	CLIENT_CONN_CLOSE_STALLED,    /* a visit not finished within the stall timeout */
};

struct client_conn;

struct client_conn_callbacks {
	/* WAITING: idle, give it a group (now or later) with client_conn_send_visit(). */
	void (*on_ready)(struct client_conn *c);
	/* The client's <visit-event type="start">. */
	void (*on_visit_started)(struct client_conn *c, const struct proto_msg *start);
	/* One <system-event> of the visit. */
	void (*on_system_event)(struct client_conn *c, const struct proto_msg *ev);
	/* An upload completed: PATH (in the upload directory) holds all its bytes. */
	void (*on_file)(struct client_conn *c, const char *path);
	/* type=finish or type=error; GROUP is the caller's pointer given with the visit. */
	void (*on_visit_done)(struct client_conn *c, const struct proto_msg *end, void *group);
	/* Last call: GROUP is the group in flight (NULL if none): requeue it.  C is freed after. */
	void (*on_closed)(struct client_conn *c, enum client_conn_close reason, void *group);
};

struct client_conn_params {
	const struct capture_config *cfg; /* options and timeouts; must outlive the connection */
	const void *auth_key;             /* shared HMAC key (copied); NULL = no authentication */
	size_t auth_key_len;
	const char *upload_dir;             /* where uploads are written (copied); NULL = refused */
	const struct proto_msg *exclusions; /* *_EXCLUSION messages, sent if send-exclusion-lists;
					     * must outlive the connection */
	size_t nexclusions;
	size_t max_message;     /* frame maximum once identified; 0 = PROTO_MAX_MESSAGE_DEFAULT */
	uint64_t max_upload;    /* bytes per upload; 0 = CLIENT_CONN_UPLOAD_MAX */
	uint64_t inactivity_ms; /* 0 = cfg->client_inactivity_timeout seconds */
	uint64_t stalled_ms;    /* 0 = cfg->vm_stalled_during_operation_timeout seconds */
	uint64_t ping_ms;       /* 0 = CLIENT_CONN_PING_MS */
	const struct client_conn_callbacks *cb; /* must outlive the connection */
	void *ctx;                              /* the caller's, see client_conn_ctx() */
};

/* A group to visit; URL ids are optional ("null" when IDS or IDS[i] is NULL). */
struct client_conn_visit {
	const char *identifier; /* group id */
	const char *program;    /* client program of the whole group */
	uint32_t visit_time_s;
	const struct url_entry *urls;
	const char *const *ids;
	size_t n; /* 1..PROTO_MAX_ITEMS */
};

/*
 * Accepts a pending connection on SERVER into a new client_conn, sends the
 * server's <connect> and starts the inactivity deadline.  0 and *OUT set,
 * or a negative errno/libuv code (the pending connection is then dropped).
 */
int client_conn_accept(uv_stream_t *server, const struct client_conn_params *p,
		       struct client_conn **out);

/*
 * Sends the group V to a WAITING client -> AWAITING_VISITING and starts the
 * stall deadline.  GROUP is the caller's and comes back in on_visit_done()
 * or on_closed().  0, or -EBUSY (not WAITING), -EINVAL, -ENOMEM, -EPIPE.
 */
int client_conn_send_visit(struct client_conn *c, const struct client_conn_visit *v, void *group);

/* Closes C (reason LOCAL); on_closed() follows from the loop.  No-op if closing. */
void client_conn_close(struct client_conn *c);

enum client_conn_state client_conn_state(const struct client_conn *c);
void *client_conn_ctx(const struct client_conn *c);
/* vm-server-id / vm-id of the client's connect; NULL before identification. */
const char *client_conn_vm_server_id(const struct client_conn *c);
const char *client_conn_vm_id(const struct client_conn *c);
/* True if the client identified itself with <reconnect>. */
bool client_conn_reconnected(const struct client_conn *c);
/* "address:port" of the peer. */
const char *client_conn_peer(const struct client_conn *c);
/* Why C is closing ("" while open), for the caller's logs in on_closed(). */
const char *client_conn_close_message(const struct client_conn *c);

/* The error code of the original for REASON (CAPTURE_CLIENT_INACTIVITY, ...); 0 for LOCAL. */
uint32_t client_conn_error_code(enum client_conn_close reason);
/* "inactivity", "stalled", ... */
const char *client_conn_close_name(enum client_conn_close reason);

#endif
