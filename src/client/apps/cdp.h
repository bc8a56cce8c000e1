/*
 * cdp.h - a Chrome DevTools Protocol connection over --remote-debugging-pipe,
 * in a libuv loop (docs/applications.md "CDP").
 *
 * Framing: every message is one JSON object followed by a NUL byte, in both
 * directions; Chromium reads commands on its fd 3 and writes replies and
 * events on its fd 4.  A command is {"id":N,"method":M,"params":P} plus
 * "sessionId" for a target attached with flatten=true; its reply carries the
 * same id and "result" or "error"; an event has "method" and no "id".
 *
 * The peer is untrusted (the browser may be owned by the page it shows):
 * a message is at most max_message bytes, must be a JSON object and must
 * carry a well-typed id or method.  Any violation, like EOF or a read
 * error, closes the connection and is reported once through on_closed
 * with the reason; pending commands are then dropped without their
 * callbacks.  Replies may come in any order; a reply for an id that was
 * never sent (or already answered) is a protocol error.
 */
#ifndef CAPTURE_CDP_H
#define CAPTURE_CDP_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#define CDP_MAX_MESSAGE_DEFAULT (64u << 20) /* bytes: a full-page screenshot is base64 */
#define CDP_MAX_PENDING         1024        /* commands awaiting replies */

struct cdp;

/*
 * Reply to one command: RESULT (the "result" object) or ERROR (the "error"
 * object), exactly one non-NULL; both are borrowed for the call only.
 */
typedef void (*cdp_reply_fn)(struct cdp *c, const json_t *result, const json_t *error, void *arg);

struct cdp_callbacks {
	/* An event; SESSION is NULL for the browser's own; PARAMS may be NULL. */
	void (*on_event)(struct cdp *c, const char *session, const char *method,
			 const json_t *params, void *arg);
	/* The connection is over (EOF, error, bad message); REASON says which. */
	void (*on_closed)(struct cdp *c, const char *reason, void *arg);
	void *arg;
};

/*
 * Talks over WFD (commands out) and RFD (messages in) in LOOP; both become
 * owned by the connection (closed by cdp_free, also on failure).
 * MAX_MESSAGE 0 = CDP_MAX_MESSAGE_DEFAULT.  0 and *OUT, or -1 with errno.
 */
int cdp_open(uv_loop_t *loop, int wfd, int rfd, size_t max_message, const struct cdp_callbacks *cb,
	     struct cdp **out);
/*
 * Sends METHOD with PARAMS (stolen, may be NULL) to SESSION (NULL: the
 * browser).  FN (may be NULL) gets the reply.  Returns the command's id
 * (> 0), or 0 if it cannot be sent (closed, too many pending, out of memory).
 */
uint64_t cdp_call(struct cdp *c, const char *session, const char *method, json_t *params,
		  cdp_reply_fn fn, void *arg);
/* True until the connection is closed (by the peer, an error, or cdp_free). */
int cdp_is_open(const struct cdp *c);
/* Closes the connection (no callback after this) and frees C from the loop. */
void cdp_free(struct cdp *c);

/* ---- pure helpers (unit-tested) ---- */

/*
 * Chromium's net error number for the name in an errorText
 * ("net::ERR_CONNECTION_REFUSED" -> -102); 0 if the name is unknown.
 */
int cdp_net_error(const char *error_text);

#endif
