/*
 * marionette.c - see marionette.h.
 *
 * Input is appended to one buffer bounded by the largest frame plus one
 * read; complete frames are parsed from its start and the rest is moved
 * down.  A callback may free the connection: parsing stops as soon as the
 * state is CLOSED, and the memory stays valid until the handle's close
 * callback.
 */
#include "client/apps/marionette.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define READ_CHUNK 65536

enum mn_state {
	MN_CONNECTING = 0,
	MN_GREETING, /* connected, waiting for the server's greeting */
	MN_READY,
	MN_CLOSED,
};

struct mn_pending {
	uint32_t id;
	marionette_reply_fn fn;
	void *arg;
};

struct marionette {
	uv_tcp_t tcp;
	uv_connect_t connect_req;
	struct marionette_callbacks cb;
	enum mn_state state;
	bool connected;     /* the TCP connection was made */
	bool freeing;       /* marionette_free was called */
	bool handle_closed; /* the tcp handle's close callback ran */
	size_t max_message;
	char *in; /* unparsed input, at most in_cap bytes */
	size_t in_len, in_cap;
	char chunk[READ_CHUNK];
	uint32_t next_id;
	struct mn_pending pending[MARIONETTE_MAX_PENDING];
	size_t n_pending;
};

struct mn_write {
	uv_write_t req;
	size_t len;
	char data[]; /* "LEN:JSON" */
};

/* ---- framing ---- */

int marionette_frame(const char *buf, size_t len, size_t max, size_t *hdr, size_t *body,
		     const char **reason)
{
	uint64_t value = 0;
	size_t i = 0;

	*reason = NULL;
	while (i < len && buf[i] >= '0' && buf[i] <= '9') {
		if (i == MARIONETTE_MAX_LEN_DIGITS) {
			*reason = "length field longer than 10 digits";
			return -1;
		}
		value = value * 10 + (uint64_t)(buf[i] - '0');
		i++;
	}
	if (i == len)
		return 0; /* digits so far, the ':' has not arrived */
	if (buf[i] != ':' || i == 0) {
		*reason = "malformed length field (expected digits and ':')";
		return -1;
	}
	if (buf[0] == '0') {
		*reason = "zero or zero-padded message length";
		return -1;
	}
	if (value > max) {
		*reason = "message longer than the limit";
		return -1;
	}
	*hdr = i + 1;
	*body = (size_t)value;
	return len - *hdr >= *body ? 1 : 0;
}

const char *marionette_error_kind(const json_t *error)
{
	const char *s = json_string_value(json_object_get(error, "error"));

	return s ? s : "";
}

const char *marionette_error_message(const json_t *error)
{
	const char *s = json_string_value(json_object_get(error, "message"));

	return s ? s : "";
}

/* ---- closing ---- */

static void on_handle_closed(uv_handle_t *h)
{
	struct marionette *m = h->data;

	m->handle_closed = true;
	if (m->freeing) {
		free(m->in);
		free(m);
	}
}

/* Ends the connection; on_closed with REASON unless the owner is freeing it. */
static void close_with(struct marionette *m, const char *reason)
{
	if (m->state == MN_CLOSED)
		return;
	m->state = MN_CLOSED;
	m->n_pending = 0;
	uv_close((uv_handle_t *)&m->tcp, on_handle_closed);
	if (!m->freeing && m->cb.on_closed)
		m->cb.on_closed(m, m->connected, reason, m->cb.arg);
}

void marionette_free(struct marionette *m)
{
	if (!m || m->freeing)
		return;
	m->freeing = true;
	if (m->state != MN_CLOSED) {
		close_with(m, "closed by the client");
		return;
	}
	if (m->handle_closed) {
		free(m->in);
		free(m);
	}
}

bool marionette_is_ready(const struct marionette *m)
{
	return m && m->state == MN_READY;
}

/* ---- messages ---- */

static void on_greeting(struct marionette *m, const json_t *msg)
{
	const json_t *level = json_object_get(msg, "marionetteProtocol");

	if (!json_is_object(msg) || !json_is_integer(level) ||
	    json_integer_value(level) < MARIONETTE_PROTOCOL) {
		close_with(m, "the greeting is not Marionette protocol level 3");
		return;
	}
	m->state = MN_READY;
	if (m->cb.on_ready)
		m->cb.on_ready(m, m->cb.arg);
}

/* Index of the pending command ID, or -1. */
static int pending_find(const struct marionette *m, json_int_t id)
{
	for (size_t i = 0; i < m->n_pending; i++) {
		if (m->pending[i].id == id)
			return (int)i;
	}
	return -1;
}

static void on_reply(struct marionette *m, const json_t *msg)
{
	const json_t *type = json_array_get(msg, 0), *id = json_array_get(msg, 1);
	const json_t *error = json_array_get(msg, 2);
	struct mn_pending p;
	int i;

	if (!json_is_array(msg) || json_array_size(msg) != 4 || !json_is_integer(type) ||
	    json_integer_value(type) != 1 || !json_is_integer(id) ||
	    !(json_is_null(error) || json_is_object(error))) {
		close_with(m, "a message that is not a reply [1,id,error,result]");
		return;
	}
	i = pending_find(m, json_integer_value(id));
	if (i < 0) {
		close_with(m, "a reply to a command that was not sent");
		return;
	}
	p = m->pending[i];
	m->pending[i] = m->pending[--m->n_pending];
	if (p.fn)
		p.fn(m, json_is_object(error) ? error : NULL, json_array_get(msg, 3), p.arg);
}

static void on_message(struct marionette *m, const char *text, size_t len)
{
	json_error_t jerr;
	json_t *msg = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);

	if (!msg) {
		close_with(m, "a message that is not JSON");
		return;
	}
	if (m->state == MN_GREETING)
		on_greeting(m, msg);
	else
		on_reply(m, msg);
	json_decref(msg);
}

/* Parses every complete frame at the start of the input buffer. */
static void parse_input(struct marionette *m)
{
	size_t off = 0, hdr, body;
	const char *reason;

	while (m->state == MN_GREETING || m->state == MN_READY) {
		int rc = marionette_frame(m->in + off, m->in_len - off, m->max_message, &hdr, &body,
					  &reason);

		if (rc < 0) {
			close_with(m, reason);
			return;
		}
		if (rc == 0)
			break;
		on_message(m, m->in + off + hdr, body);
		off += hdr + body;
	}
	if (m->state == MN_CLOSED)
		return;
	memmove(m->in, m->in + off, m->in_len - off);
	m->in_len -= off;
	if (m->in_len == 0 && m->in_cap > (size_t)4 * READ_CHUNK) {
		/* a large reply (a screenshot) is done: a browser's connection keeps no megabytes
		 */
		free(m->in);
		m->in = NULL;
		m->in_cap = 0;
	}
}

static int append_input(struct marionette *m, const char *data, size_t len)
{
	if (m->in_len + len > m->in_cap) {
		/* doubling: a reply of megabytes comes in many reads, each must not copy it all */
		size_t limit = m->max_message + MARIONETTE_MAX_LEN_DIGITS + 1 + READ_CHUNK;
		size_t cap = m->in_cap ? m->in_cap * 2 : READ_CHUNK;
		char *in;

		if (cap > limit)
			cap = limit;
		if (cap < m->in_len + len)
			cap = m->in_len + len;
		in = realloc(m->in, cap);
		if (!in)
			return -1;
		m->in = in;
		m->in_cap = cap;
	}
	memcpy(m->in + m->in_len, data, len);
	m->in_len += len;
	return 0;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct marionette *m = h->data;

	(void)suggested;
	buf->base = m->chunk;
	buf->len = sizeof(m->chunk);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct marionette *m = s->data;
	char reason[128];

	if (nread == 0 || m->state == MN_CLOSED)
		return;
	if (nread < 0) {
		snprintf(reason, sizeof(reason), "%s",
			 nread == UV_EOF ? "the browser closed the connection"
					 : uv_strerror((int)nread));
		close_with(m, reason);
		return;
	}
	/* never more than one partial frame plus one read is kept (parse_input) */
	if (append_input(m, buf->base, (size_t)nread) < 0) {
		close_with(m, "out of memory for input");
		return;
	}
	parse_input(m);
}

static void on_connect(uv_connect_t *req, int status)
{
	struct marionette *m = req->data;
	char reason[128];
	int rc;

	if (m->state != MN_CONNECTING)
		return; /* closed meanwhile (ECANCELED) */
	if (status < 0) {
		snprintf(reason, sizeof(reason), "connect: %s", uv_strerror(status));
		close_with(m, reason);
		return;
	}
	m->connected = true;
	m->state = MN_GREETING;
	(void)uv_tcp_nodelay(&m->tcp, 1); /* one small command, then wait: no Nagle delay */
	rc = uv_read_start((uv_stream_t *)&m->tcp, on_alloc, on_read);
	if (rc < 0) {
		snprintf(reason, sizeof(reason), "read: %s", uv_strerror(rc));
		close_with(m, reason);
	}
}

int marionette_connect(uv_loop_t *loop, int fd, const struct sockaddr_in *addr, size_t max_message,
		       const struct marionette_callbacks *cb, struct marionette **out)
{
	struct marionette *m = calloc(1, sizeof(*m));
	int rc;

	*out = NULL;
	if (!m || uv_tcp_init(loop, &m->tcp) < 0) {
		free(m);
		close(fd);
		errno = ENOMEM;
		return -1;
	}
	m->tcp.data = m;
	m->connect_req.data = m;
	m->cb = *cb;
	m->max_message = max_message ? max_message : MARIONETTE_MAX_MESSAGE;
	m->next_id = 1;
	rc = uv_tcp_open(&m->tcp, fd);
	if (rc < 0)
		close(fd); /* not the handle's yet */
	if (rc == 0)
		rc = uv_tcp_connect(&m->connect_req, &m->tcp, (const struct sockaddr *)addr,
				    on_connect);
	if (rc < 0) {
		m->freeing = true; /* no callback: the caller learns it from the return */
		m->state = MN_CLOSED;
		uv_close((uv_handle_t *)&m->tcp, on_handle_closed);
		errno = -rc;
		return -1;
	}
	*out = m;
	return 0;
}

/* ---- commands ---- */

static void on_written(uv_write_t *req, int status)
{
	struct mn_write *w = (struct mn_write *)req;
	struct marionette *m = req->data;

	free(w);
	if (status < 0 && status != UV_ECANCELED && m->state != MN_CLOSED)
		close_with(m, "cannot write to the browser");
}

/* Frames TEXT and queues it; 0 or -1. */
static int send_text(struct marionette *m, const char *text)
{
	size_t len = strlen(text);
	struct mn_write *w = malloc(sizeof(*w) + len + MARIONETTE_MAX_LEN_DIGITS + 2);
	uv_buf_t buf;
	int n;

	if (!w)
		return -1;
	n = snprintf(w->data, MARIONETTE_MAX_LEN_DIGITS + 2, "%zu:", len);
	memcpy(w->data + n, text, len);
	w->len = (size_t)n + len;
	w->req.data = m;
	buf = uv_buf_init(w->data, (unsigned)w->len);
	if (uv_write(&w->req, (uv_stream_t *)&m->tcp, &buf, 1, on_written) < 0) {
		free(w);
		return -1;
	}
	return 0;
}

uint32_t marionette_call(struct marionette *m, const char *name, json_t *params,
			 marionette_reply_fn fn, void *arg)
{
	json_t *msg;
	char *text;
	uint32_t id;

	if (!params)
		params = json_object();
	if (!m || m->state != MN_READY || m->n_pending == MARIONETTE_MAX_PENDING || !params) {
		json_decref(params);
		return 0;
	}
	id = m->next_id++;
	if (m->next_id == 0)
		m->next_id = 1;
	msg = json_pack("[i,I,s,o]", 0, (json_int_t)id, name, params); /* "o" steals params */
	text = msg ? json_dumps(msg, JSON_COMPACT) : NULL;
	json_decref(msg);
	if (!text || strlen(text) > m->max_message || send_text(m, text) < 0) {
		free(text);
		return 0;
	}
	free(text);
	m->pending[m->n_pending++] = (struct mn_pending){.id = id, .fn = fn, .arg = arg};
	return id;
}
