/*
 * cdp.c - see cdp.h.
 *
 * Reading: bytes are appended to one buffer (bounded by max_message plus
 * one read) and every complete NUL-terminated message in it is dispatched;
 * the rest waits for the next read.  A callback may call cdp_free(): the
 * dispatch loop checks the closed flag after every message, and the memory
 * is freed only from the handles' close callbacks, never under a callback.
 *
 * Writing: each command is serialised once (json_dumps + NUL) and queued
 * with uv_write; the buffer is freed in the write callback.
 */
#include "client/apps/cdp.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"

#define READ_CHUNK ((size_t)64 * 1024)

struct pending {
	uint64_t id; /* 0 = free slot */
	cdp_reply_fn fn;
	void *arg;
};

struct cdp {
	uv_pipe_t out, in;
	struct cdp_callbacks cb;
	size_t max_message;
	char *buf; /* received bytes not yet dispatched */
	size_t len, cap;
	uint64_t next_id;
	struct pending *pending; /* CDP_MAX_PENDING slots */
	size_t n_pending;
	bool closed;      /* no more callbacks */
	bool freeing;     /* cdp_free was called */
	int handles_open; /* initialised handles not yet closed */
};

struct write_req {
	uv_write_t req;
	char *data;
};

/* ---- closing ---- */

static void on_handle_closed(uv_handle_t *h)
{
	struct cdp *c = h->data;

	if (--c->handles_open > 0 || !c->freeing)
		return;
	free(c->buf);
	free(c->pending);
	free(c);
}

static void close_handles(struct cdp *c)
{
	if (!uv_is_closing((uv_handle_t *)&c->out))
		uv_close((uv_handle_t *)&c->out, on_handle_closed);
	if (!uv_is_closing((uv_handle_t *)&c->in))
		uv_close((uv_handle_t *)&c->in, on_handle_closed);
}

/* The connection is over: one on_closed, then silence. */
static void fail(struct cdp *c, const char *reason)
{
	if (c->closed)
		return;
	c->closed = true;
	uv_read_stop((uv_stream_t *)&c->in);
	c->n_pending = 0;
	memset(c->pending, 0, CDP_MAX_PENDING * sizeof(*c->pending));
	if (c->cb.on_closed)
		c->cb.on_closed(c, reason, c->cb.arg);
}

void cdp_free(struct cdp *c)
{
	if (!c || c->freeing)
		return;
	c->freeing = true;
	c->closed = true;
	close_handles(c);
}

int cdp_is_open(const struct cdp *c)
{
	return c && !c->closed;
}

/* ---- dispatch ---- */

static struct pending *pending_find(struct cdp *c, uint64_t id)
{
	for (size_t i = 0; id && i < CDP_MAX_PENDING; i++) {
		if (c->pending[i].id == id)
			return &c->pending[i];
	}
	return NULL;
}

static void dispatch_reply(struct cdp *c, json_t *msg, json_t *id)
{
	json_t *result = json_object_get(msg, "result");
	json_t *error = json_object_get(msg, "error");
	struct pending *p;
	struct pending copy;

	if (!json_is_integer(id) || json_integer_value(id) <= 0) {
		fail(c, "reply with a bad id");
		return;
	}
	p = pending_find(c, (uint64_t)json_integer_value(id));
	if (!p) {
		fail(c, "reply to a command that was not sent");
		return;
	}
	if (error ? !json_is_object(error) : !json_is_object(result)) {
		fail(c, "reply without a result or error object");
		return;
	}
	copy = *p;
	memset(p, 0, sizeof(*p));
	c->n_pending--;
	if (copy.fn)
		copy.fn(c, error ? NULL : result, error, copy.arg);
}

static void dispatch_event(struct cdp *c, json_t *msg)
{
	json_t *method = json_object_get(msg, "method");
	json_t *session = json_object_get(msg, "sessionId");
	json_t *params = json_object_get(msg, "params");

	if (!json_is_string(method) || (session && !json_is_string(session)) ||
	    (params && !json_is_object(params))) {
		fail(c, "message without a method or with badly typed fields");
		return;
	}
	if (c->cb.on_event)
		c->cb.on_event(c, session ? json_string_value(session) : NULL,
			       json_string_value(method), params, c->cb.arg);
}

static void dispatch(struct cdp *c, const char *data, size_t len)
{
	json_error_t jerr;
	json_t *msg = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
	json_t *id;

	if (!json_is_object(msg)) {
		log_debug("cdp: bad message: %s", msg ? "not an object" : jerr.text);
		json_decref(msg);
		fail(c, "malformed JSON message");
		return;
	}
	id = json_object_get(msg, "id");
	if (id)
		dispatch_reply(c, msg, id);
	else
		dispatch_event(c, msg);
	json_decref(msg);
}

/* Dispatches every complete message in the buffer; keeps the rest. */
static void drain(struct cdp *c)
{
	size_t start = 0;

	while (!c->closed && start < c->len) {
		char *nul = memchr(c->buf + start, '\0', c->len - start);
		size_t n;

		if (!nul)
			break;
		n = (size_t)(nul - (c->buf + start));
		if (n > c->max_message) {
			fail(c, "message too long");
			return;
		}
		dispatch(c, c->buf + start, n);
		start += n + 1;
	}
	if (c->closed)
		return;
	memmove(c->buf, c->buf + start, c->len - start);
	c->len -= start;
	if (c->len > c->max_message)
		fail(c, "message too long");
}

/* ---- reading ---- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct cdp *c = h->data;
	size_t want = c->len + READ_CHUNK;

	(void)suggested;
	if (want > c->cap) {
		char *nbuf = realloc(c->buf, want);

		if (!nbuf) {
			*buf = uv_buf_init(NULL, 0); /* libuv reports UV_ENOBUFS */
			return;
		}
		c->buf = nbuf;
		c->cap = want;
	}
	*buf = uv_buf_init(c->buf + c->len, (unsigned)(c->cap - c->len));
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct cdp *c = s->data;

	(void)buf;
	if (c->closed)
		return;
	if (n == UV_EOF) {
		fail(c, "the browser closed the pipe");
		return;
	}
	if (n < 0) {
		fail(c, uv_strerror((int)n));
		return;
	}
	c->len += (size_t)n;
	drain(c);
}

/* ---- writing ---- */

static void on_written(uv_write_t *req, int status)
{
	struct write_req *w = (struct write_req *)req;
	struct cdp *c = req->handle->data;

	free(w->data);
	free(w);
	if (status < 0 && status != UV_ECANCELED && c && !c->freeing)
		fail(c, uv_strerror(status));
}

static int send_json(struct cdp *c, json_t *msg)
{
	struct write_req *w = calloc(1, sizeof(*w));
	char *text = json_dumps(msg, JSON_COMPACT);
	uv_buf_t b;

	if (!w || !text) {
		free(w);
		free(text);
		return -1;
	}
	w->data = text;
	b = uv_buf_init(text, (unsigned)strlen(text) + 1); /* the NUL is the frame's end */
	if (uv_write(&w->req, (uv_stream_t *)&c->out, &b, 1, on_written) != 0) {
		free(text);
		free(w);
		return -1;
	}
	return 0;
}

static struct pending *pending_slot(struct cdp *c)
{
	for (size_t i = 0; c->n_pending < CDP_MAX_PENDING && i < CDP_MAX_PENDING; i++) {
		if (!c->pending[i].id)
			return &c->pending[i];
	}
	return NULL;
}

uint64_t cdp_call(struct cdp *c, const char *session, const char *method, json_t *params,
		  cdp_reply_fn fn, void *arg)
{
	struct pending *slot = c && !c->closed ? pending_slot(c) : NULL;
	json_t *msg = slot ? json_object() : NULL;
	uint64_t id = c ? ++c->next_id : 0;
	int rc = msg ? 0 : -1;

	if (msg) {
		rc |= json_object_set_new(msg, "id", json_integer((json_int_t)id));
		rc |= json_object_set_new(msg, "method", json_string(method));
		if (session)
			rc |= json_object_set_new(msg, "sessionId", json_string(session));
		rc |= json_object_set_new(msg, "params", params ? params : json_object());
		params = NULL;
	}
	json_decref(params);
	if (rc == 0)
		rc = send_json(c, msg);
	json_decref(msg);
	if (rc < 0)
		return 0;
	*slot = (struct pending){.id = id, .fn = fn, .arg = arg};
	c->n_pending++;
	return id;
}

/* ---- opening ---- */

static int open_pipe(uv_loop_t *loop, struct cdp *c, uv_pipe_t *p, int fd)
{
	int rc = uv_pipe_init(loop, p, 0);

	if (rc)
		return rc;
	p->data = c;
	c->handles_open++;
	return uv_pipe_open(p, fd);
}

int cdp_open(uv_loop_t *loop, int wfd, int rfd, size_t max_message, const struct cdp_callbacks *cb,
	     struct cdp **out)
{
	struct cdp *c = calloc(1, sizeof(*c));
	int rc;

	*out = NULL;
	if (!c || !(c->pending = calloc(CDP_MAX_PENDING, sizeof(*c->pending)))) {
		free(c);
		close(wfd);
		close(rfd);
		errno = ENOMEM;
		return -1;
	}
	c->cb = *cb;
	c->max_message = max_message ? max_message : CDP_MAX_MESSAGE_DEFAULT;
	rc = open_pipe(loop, c, &c->out, wfd);
	if (rc == 0)
		wfd = -1;
	if (rc == 0)
		rc = open_pipe(loop, c, &c->in, rfd);
	if (rc == 0)
		rfd = -1;
	if (rc == 0)
		rc = uv_read_start((uv_stream_t *)&c->in, on_alloc, on_read);
	if (rc) {
		if (wfd >= 0)
			close(wfd);
		if (rfd >= 0)
			close(rfd);
		c->freeing = c->closed = true;
		if (c->handles_open)
			close_handles(c); /* frees C from the loop */
		else
			free(c->pending), free(c);
		errno = -rc;
		return -1;
	}
	*out = c;
	return 0;
}

/* ---- net errors ---- */

/* Chromium's net/base/net_error_list.h, the names a navigation can fail with. */
static const struct {
	const char *name;
	int code;
} net_errors[] = {
    {"FAILED", -2},
    {"ABORTED", -3},
    {"INVALID_ARGUMENT", -4},
    {"FILE_NOT_FOUND", -6},
    {"TIMED_OUT", -7},
    {"FILE_TOO_BIG", -8},
    {"ACCESS_DENIED", -10},
    {"INSUFFICIENT_RESOURCES", -12},
    {"OUT_OF_MEMORY", -13},
    {"BLOCKED_BY_CLIENT", -20},
    {"NETWORK_CHANGED", -21},
    {"BLOCKED_BY_ADMINISTRATOR", -22},
    {"BLOCKED_BY_RESPONSE", -27},
    {"CONNECTION_CLOSED", -100},
    {"CONNECTION_RESET", -101},
    {"CONNECTION_REFUSED", -102},
    {"CONNECTION_ABORTED", -103},
    {"CONNECTION_FAILED", -104},
    {"NAME_NOT_RESOLVED", -105},
    {"INTERNET_DISCONNECTED", -106},
    {"SSL_PROTOCOL_ERROR", -107},
    {"ADDRESS_INVALID", -108},
    {"ADDRESS_UNREACHABLE", -109},
    {"CONNECTION_TIMED_OUT", -118},
    {"PROXY_CONNECTION_FAILED", -130},
    {"NAME_RESOLUTION_FAILED", -137},
    {"NETWORK_ACCESS_DENIED", -138},
    {"CERT_COMMON_NAME_INVALID", -200},
    {"CERT_DATE_INVALID", -201},
    {"CERT_AUTHORITY_INVALID", -202},
    {"INVALID_URL", -300},
    {"DISALLOWED_URL_SCHEME", -301},
    {"UNKNOWN_URL_SCHEME", -302},
    {"INVALID_REDIRECT", -303},
    {"TOO_MANY_REDIRECTS", -310},
    {"UNSAFE_REDIRECT", -311},
    {"UNSAFE_PORT", -312},
    {"INVALID_RESPONSE", -320},
    {"INVALID_CHUNKED_ENCODING", -321},
    {"EMPTY_RESPONSE", -324},
    {"RESPONSE_HEADERS_TOO_BIG", -325},
    {"CONTENT_DECODING_FAILED", -330},
    {"INCOMPLETE_CHUNKED_ENCODING", -355},
    {"INVALID_HTTP_RESPONSE", -370},
    {"HTTP_RESPONSE_CODE_FAILURE", -379},
};

int cdp_net_error(const char *error_text)
{
	const char *name;

	if (!error_text)
		return 0;
	name = strstr(error_text, "ERR_");
	if (!name)
		return 0;
	name += 4;
	for (size_t i = 0; i < sizeof(net_errors) / sizeof(net_errors[0]); i++) {
		if (strcmp(name, net_errors[i].name) == 0)
			return net_errors[i].code;
	}
	return 0;
}
