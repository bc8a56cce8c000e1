/*
 * marionette.h - a client of Firefox's Marionette remote protocol (level 3)
 * over TCP, in a libuv loop (docs/firefox.md "Marionette").
 *
 * Framing: every message in both directions is "LEN:JSON", LEN the JSON's
 * length in bytes as ASCII decimal.  The server speaks first with a greeting
 * object ({"applicationType":"gecko","marionetteProtocol":3}); then the
 * client sends commands [0,ID,NAME,PARAMS] and the server answers each with
 * [1,ID,ERROR,RESULT], ERROR null or {"error":KIND,"message":TEXT,...}.
 * Marionette starts each command as it arrives (server.sys.mjs runs them as
 * async tasks), so a quick command's reply may overtake a slow one's:
 * replies are matched to their commands by id.
 *
 * The peer is untrusted (a page may own the browser): a message is at most
 * max_message bytes, its length field at most MARIONETTE_MAX_LEN_DIGITS
 * digits, and it must be the expected JSON shape.  Any violation, EOF or a
 * read error closes the connection and is reported once through on_closed
 * with the reason; pending commands are dropped without their callbacks.
 */
#ifndef CAPTURE_MARIONETTE_H
#define CAPTURE_MARIONETTE_H

#include <jansson.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#define MARIONETTE_PORT_DEFAULT   2828
#define MARIONETTE_PROTOCOL       3          /* the level the greeting must announce */
#define MARIONETTE_MAX_MESSAGE    (4u << 20) /* bytes, default: URLs and short values */
#define MARIONETTE_MAX_LEN_DIGITS 10         /* a longer length field is malformed */
#define MARIONETTE_MAX_PENDING    64         /* commands awaiting replies */

struct marionette;

/*
 * Reply to one command: ERROR is the error object (NULL on success),
 * RESULT the result value (may be JSON null); both borrowed for the call.
 */
typedef void (*marionette_reply_fn)(struct marionette *m, const json_t *error, const json_t *result,
				    void *arg);

struct marionette_callbacks {
	/* The greeting arrived: commands may be sent now. */
	void (*on_ready)(struct marionette *m, void *arg);
	/*
	 * The connection is over.  CONNECTED says whether it ever got as far
	 * as the TCP connection (false: the connect itself failed, e.g.
	 * ECONNREFUSED while the browser starts, so a caller may retry);
	 * REASON says why.
	 */
	void (*on_closed)(struct marionette *m, bool connected, const char *reason, void *arg);
	void *arg;
};

/*
 * Connects the TCP socket FD (owned from now on, closed also on failure)
 * to ADDR in LOOP and talks Marionette over it.  MAX_MESSAGE 0 =
 * MARIONETTE_MAX_MESSAGE.  0 and *OUT, or -1 with errno (then nothing is
 * called back).
 */
int marionette_connect(uv_loop_t *loop, int fd, const struct sockaddr_in *addr, size_t max_message,
		       const struct marionette_callbacks *cb, struct marionette **out);
/*
 * Sends command NAME with PARAMS (stolen; NULL = {}).  FN (may be NULL)
 * gets the reply.  The command's id (> 0), or 0 if it cannot be sent (not
 * ready, closed, too many pending, out of memory).
 */
uint32_t marionette_call(struct marionette *m, const char *name, json_t *params,
			 marionette_reply_fn fn, void *arg);
/* True from the greeting until the connection is closed. */
bool marionette_is_ready(const struct marionette *m);
/* Closes the connection (no callback after this) and frees M from the loop. */
void marionette_free(struct marionette *m);

/* ---- pure helpers (unit-tested) ---- */

/*
 * Looks for one frame at the start of BUF (LEN bytes): 1 if complete, with
 * *HDR = bytes of "LEN:" and *BODY = bytes of JSON; 0 if more bytes are
 * needed; -1 if malformed (not digits then ':', no digits, a leading zero,
 * too many digits, body length 0) or longer than MAX (REASON says which).
 */
int marionette_frame(const char *buf, size_t len, size_t max, size_t *hdr, size_t *body,
		     const char **reason);

/* The "error" kind of a reply's error object ("timeout", ...), "" if none. */
const char *marionette_error_kind(const json_t *error);
/* Its "message", "" if none. */
const char *marionette_error_message(const json_t *error);

#endif
