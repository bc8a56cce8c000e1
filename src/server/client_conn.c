/*
 * client_conn.c - one capture-client connection on the server side (see
 * client_conn.h and docs/server-connections.md).
 *
 * Four libuv handles per connection: the TCP stream and three timers
 * (inactivity, stall, ping).  Closing issues uv_close() on all four and the
 * last close callback calls on_closed() and frees: nothing is freed inside
 * a read callback.  Callbacks may call client_conn_close() or
 * client_conn_send_visit(); after each one the state is checked again.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "server/client_conn.h"

#define CONN_WHY_MAX     320 /* bytes of the close message */
#define CONN_SAMPLE_HEAD 64  /* bytes of a frame logged from its start */
#define CONN_SAMPLE_TAIL 32  /* and from its end */
#define CONN_ID_MAX      128 /* bytes of a vm id kept */

struct conn_upload {
	int fd;            /* -1: no upload */
	bool failed;       /* a write failed: absorb the rest, report nothing */
	char *client_name; /* <file name=...> */
	char *server_name; /* our name, sent in <file-accept> */
	char *path;        /* upload_dir/server_name */
	uint64_t size;     /* declared */
	uint64_t written;
};

struct client_conn {
	uv_tcp_t tcp;
	uv_timer_t idle, stall, ping;
	unsigned open_handles; /* closed when 0 */
	enum client_conn_state state;
	enum client_conn_close reason;
	char why[CONN_WHY_MAX];

	struct client_conn_params p; /* key and upload dir point at our copies */
	void *key;
	char *upload_dir;
	size_t max_message;
	uint64_t inactivity_ms, stalled_ms, ping_ms;

	struct proto_reader *reader;
	char rbuf[PROTO_FEED_MAX];
	char challenge[PROTO_AUTH_HEX_LEN + 1];
	bool authed, reconnect;
	char *vm_server_id, *vm_id;
	char peer[64];

	char *group_id; /* of the visit in flight */
	void *group;
	struct conn_upload up;
	unsigned long uploads;
};

struct conn_write {
	uv_write_t req;
	struct buf b;
};

static void conn_close(struct client_conn *c, enum client_conn_close reason, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- small accessors ---- */

enum client_conn_state client_conn_state(const struct client_conn *c)
{
	return c->state;
}

void *client_conn_ctx(const struct client_conn *c)
{
	return c->p.ctx;
}

const char *client_conn_vm_server_id(const struct client_conn *c)
{
	return c->vm_server_id;
}

const char *client_conn_vm_id(const struct client_conn *c)
{
	return c->vm_id;
}

bool client_conn_reconnected(const struct client_conn *c)
{
	return c->reconnect;
}

const char *client_conn_peer(const struct client_conn *c)
{
	return c->peer;
}

const char *client_conn_close_message(const struct client_conn *c)
{
	return c->why;
}

uint32_t client_conn_error_code(enum client_conn_close reason)
{
	switch (reason) {
	case CLIENT_CONN_CLOSE_LOCAL: return PROTO_ERR_OK;
	case CLIENT_CONN_CLOSE_RESET: return PROTO_ERR_CAPTURE_CLIENT_CONNECTION_RESET;
	case CLIENT_CONN_CLOSE_INACTIVITY: return PROTO_ERR_CAPTURE_CLIENT_INACTIVITY;
	case CLIENT_CONN_CLOSE_STALLED: return PROTO_ERR_VM_STALLED;
	case CLIENT_CONN_CLOSE_SOCKET:
	case CLIENT_CONN_CLOSE_PROTOCOL: break;
	}
	return PROTO_ERR_SOCKET_ERROR;
}

const char *client_conn_close_name(enum client_conn_close reason)
{
	static const char *const names[] = {
	    [CLIENT_CONN_CLOSE_LOCAL] = "local",
	    [CLIENT_CONN_CLOSE_RESET] = "connection reset",
	    [CLIENT_CONN_CLOSE_SOCKET] = "socket error",
	    [CLIENT_CONN_CLOSE_PROTOCOL] = "protocol error",
	    [CLIENT_CONN_CLOSE_INACTIVITY] = "inactivity",
	    [CLIENT_CONN_CLOSE_STALLED] = "stalled",
	};

	if ((unsigned)reason >= sizeof(names) / sizeof(names[0]))
		return "?";
	return names[reason];
}

static const char *conn_who(const struct client_conn *c)
{
	return c->vm_id ? c->vm_id : "(unidentified)";
}

static bool conn_open(const struct client_conn *c)
{
	return c->state != CLIENT_CONN_CLOSING;
}

/* ---- uploads ---- */

static void upload_clear(struct conn_upload *u, bool keep_file)
{
	if (u->fd >= 0)
		close(u->fd);
	if (u->path && !keep_file && (u->fd >= 0 || u->failed))
		unlink(u->path);
	free(u->client_name);
	free(u->server_name);
	free(u->path);
	memset(u, 0, sizeof(*u));
	u->fd = -1;
}

/* ---- closing ---- */

static void conn_free(struct client_conn *c)
{
	upload_clear(&c->up, false);
	proto_reader_free(c->reader);
	free(c->key);
	free(c->upload_dir);
	free(c->vm_server_id);
	free(c->vm_id);
	free(c->group_id);
	free(c);
}

static void conn_handle_closed(uv_handle_t *h)
{
	struct client_conn *c = h->data;
	void *group = c->group;

	if (--c->open_handles)
		return;
	c->group = NULL;
	if (c->p.cb && c->p.cb->on_closed)
		c->p.cb->on_closed(c, c->reason, group);
	conn_free(c);
}

static void conn_close_handles(struct client_conn *c)
{
	uv_handle_t *hs[] = {(uv_handle_t *)&c->tcp, (uv_handle_t *)&c->idle,
			     (uv_handle_t *)&c->stall, (uv_handle_t *)&c->ping};

	for (size_t i = 0; i < sizeof(hs) / sizeof(hs[0]); i++)
		if (!uv_is_closing(hs[i]))
			uv_close(hs[i], conn_handle_closed);
}

static void conn_close(struct client_conn *c, enum client_conn_close reason, const char *fmt, ...)
{
	va_list ap;

	if (!conn_open(c))
		return;
	c->state = CLIENT_CONN_CLOSING;
	c->reason = reason;
	va_start(ap, fmt);
	/* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): va_start is above */
	vsnprintf(c->why, sizeof(c->why), fmt, ap);
	va_end(ap);
	if (reason != CLIENT_CONN_CLOSE_PROTOCOL)
		log_info("client %s (%s): closing (%s): %s", conn_who(c), c->peer,
			 client_conn_close_name(reason), c->why);
	uv_read_stop((uv_stream_t *)&c->tcp);
	conn_close_handles(c);
}

void client_conn_close(struct client_conn *c)
{
	conn_close(c, CLIENT_CONN_CLOSE_LOCAL, "closed by the server");
}

/* Copies up to N bytes of S into OUT, non-printables as '.'; returns OUT's end. */
static char *sample_put(char *out, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		*out++ = ch >= 0x20 && ch < 0x7f ? (char)ch : '.';
	}
	return out;
}

/* OUT = sanitised head (and tail) of the last frame the reader looked at. */
static void frame_sample(const struct client_conn *c, char *out, size_t *framelen)
{
	size_t len;
	const char *f = proto_reader_frame(c->reader, &len);
	char *o = out;

	*framelen = len;
	if (!f || !len) {
		*o = '\0';
		return;
	}
	if (len <= CONN_SAMPLE_HEAD + CONN_SAMPLE_TAIL) {
		o = sample_put(o, f, len);
	} else {
		o = sample_put(o, f, CONN_SAMPLE_HEAD);
		memcpy(o, " ... ", 5);
		o = sample_put(o + 5, f + len - CONN_SAMPLE_TAIL, CONN_SAMPLE_TAIL);
	}
	*o = '\0';
}

/*
 * The one exit for protocol errors: logs the reason, the client, its address
 * and a sample of the offending bytes, then closes (the caller requeues the
 * group in on_closed()).
 */
static void client_protocol_error(struct client_conn *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void client_protocol_error(struct client_conn *c, const char *fmt, ...)
{
	char reason[CONN_WHY_MAX], sample[CONN_SAMPLE_HEAD + CONN_SAMPLE_TAIL + 8];
	size_t framelen;
	va_list ap;

	if (!conn_open(c))
		return;
	va_start(ap, fmt);
	/* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): va_start is above */
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	frame_sample(c, sample, &framelen);
	log_warnx("client %s (%s): protocol error: %s; closing; frame (%zu bytes): \"%s\"",
		  conn_who(c), c->peer, reason, framelen, sample);
	conn_close(c, CLIENT_CONN_CLOSE_PROTOCOL, "%s", reason);
}

/* ---- writing ---- */

static void conn_write_done(uv_write_t *req, int status)
{
	struct conn_write *w = (struct conn_write *)req;
	struct client_conn *c = req->data;

	buf_free(&w->b);
	free(w);
	if (status < 0 && status != UV_ECANCELED)
		conn_close(c, CLIENT_CONN_CLOSE_SOCKET, "write: %s", uv_strerror(status));
}

/* Encodes MSG and queues it; 0, or -errno (the connection is then closing). */
static int conn_send(struct client_conn *c, const struct proto_msg *msg)
{
	struct conn_write *w;
	uv_buf_t ub;
	int rc;

	if (!conn_open(c))
		return -EPIPE;
	if (uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) > CLIENT_CONN_WRITE_QUEUE_MAX) {
		conn_close(c, CLIENT_CONN_CLOSE_SOCKET, "client does not read (write queue full)");
		return -EPIPE;
	}
	w = calloc(1, sizeof(*w));
	if (!w)
		goto nomem;
	buf_init(&w->b, PROTO_MAX_MESSAGE_LIMIT);
	if (proto_encode_server(msg, &w->b) < 0) {
		rc = -errno;
		free(w);
		log_warn("client %s: cannot encode <%s>", conn_who(c), proto_msg_name(msg->type));
		return rc;
	}
	w->req.data = c;
	ub = uv_buf_init(w->b.data, (unsigned)w->b.len);
	rc = uv_write(&w->req, (uv_stream_t *)&c->tcp, &ub, 1, conn_write_done);
	if (rc < 0) {
		buf_free(&w->b);
		free(w);
		conn_close(c, CLIENT_CONN_CLOSE_SOCKET, "write: %s", uv_strerror(rc));
		return -EPIPE;
	}
	return 0;
nomem:
	conn_close(c, CLIENT_CONN_CLOSE_SOCKET, "out of memory");
	return -ENOMEM;
}

static int send_simple(struct client_conn *c, enum proto_msg_type type)
{
	struct proto_msg m;

	proto_msg_init(&m, type);
	return conn_send(c, &m);
}

static int send_option(struct client_conn *c, const char *name, bool value)
{
	struct proto_msg m;

	proto_msg_init(&m, PROTO_MSG_OPTION);
	m.u.option.name = (char *)name;
	m.u.option.value = value ? "true" : "false";
	return conn_send(c, &m);
}

static int send_file_reply(struct client_conn *c, enum proto_msg_type type, const char *name)
{
	struct proto_msg m;

	proto_msg_init(&m, type);
	m.u.file.name = (char *)name;
	return conn_send(c, &m);
}

/* ---- timers ---- */

static void on_idle_timeout(uv_timer_t *t)
{
	struct client_conn *c = t->data;

	log_warnx("client %s (%s): no message for %llu ms", conn_who(c), c->peer,
		  (unsigned long long)c->inactivity_ms);
	conn_close(c, CLIENT_CONN_CLOSE_INACTIVITY, "no message for %llu ms",
		   (unsigned long long)c->inactivity_ms);
}

static void on_stall_timeout(uv_timer_t *t)
{
	struct client_conn *c = t->data;

	log_warnx("client %s (%s): visit of group %s not finished after %llu ms", conn_who(c),
		  c->peer, c->group_id ? c->group_id : "?", (unsigned long long)c->stalled_ms);
	conn_close(c, CLIENT_CONN_CLOSE_STALLED, "visit not finished after %llu ms",
		   (unsigned long long)c->stalled_ms);
}

static void on_ping(uv_timer_t *t)
{
	send_simple(t->data, PROTO_MSG_PING);
}

static void conn_touch(struct client_conn *c)
{
	uv_timer_start(&c->idle, on_idle_timeout, c->inactivity_ms, 0);
}

/* ---- state changes ---- */

static void conn_enter_waiting(struct client_conn *c)
{
	uv_timer_stop(&c->stall);
	free(c->group_id);
	c->group_id = NULL;
	c->group = NULL;
	c->state = CLIENT_CONN_WAITING;
	if (c->p.cb && c->p.cb->on_ready)
		c->p.cb->on_ready(c);
}

static int send_setup(struct client_conn *c)
{
	const struct capture_config *cfg = c->p.cfg;
	int rc = 0;

	rc |= send_option(c, "collect-modified-files", cfg->collect_modified_files);
	rc |= send_option(c, "capture-network-packets-malicious",
			  cfg->capture_network_packets_malicious);
	rc |= send_option(c, "capture-network-packets-benign", cfg->capture_network_packets_benign);
	for (size_t i = 0; cfg->send_exclusion_lists && i < c->p.nexclusions && !rc; i++)
		rc = conn_send(c, &c->p.exclusions[i]);
	return rc ? -1 : 0;
}

static bool id_ok(const char *s)
{
	size_t n = strlen(s);

	if (!n || n > CONN_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	return true;
}

static void handle_identify(struct client_conn *c, struct proto_msg *m)
{
	struct proto_connect *k = &m->u.connect;

	if (c->key && !c->authed) {
		client_protocol_error(c, "<%s> before authentication", proto_msg_name(m->type));
		return;
	}
	if (!id_ok(k->vm_server_id) || !id_ok(k->vm_id)) {
		client_protocol_error(c, "bad vm-server-id or vm-id in <%s>",
				      proto_msg_name(m->type));
		return;
	}
	c->vm_server_id = k->vm_server_id;
	c->vm_id = k->vm_id;
	k->vm_server_id = k->vm_id = NULL; /* taken */
	c->reconnect = m->type == PROTO_MSG_RECONNECT;
	if (proto_reader_set_max(c->reader, c->max_message) < 0 || send_setup(c) < 0) {
		conn_close(c, CLIENT_CONN_CLOSE_SOCKET, "cannot set up the client");
		return;
	}
	uv_timer_start(&c->ping, on_ping, c->ping_ms, c->ping_ms);
	log_info("client %s/%s (%s) %s", c->vm_server_id, c->vm_id, c->peer,
		 c->reconnect ? "reconnected" : "connected");
	conn_enter_waiting(c);
}

static void handle_auth(struct client_conn *c, const struct proto_msg *m)
{
	if (!c->key || c->authed) {
		client_protocol_error(c, "unexpected <auth>");
		return;
	}
	if (!proto_auth_check(c->key, c->p.auth_key_len, c->challenge, m->u.auth.response)) {
		client_protocol_error(c, "authentication failed (wrong HMAC response)");
		return;
	}
	c->authed = true;
}

/* ---- visits ---- */

static bool group_matches(const struct client_conn *c, const struct proto_msg *m)
{
	return c->group_id && strcmp(c->group_id, m->u.visit.identifier) == 0;
}

static void visit_done(struct client_conn *c, const struct proto_msg *m)
{
	void *group = c->group;

	if (c->up.fd >= 0 || c->up.failed) {
		log_warnx("client %s: upload %s unfinished at the end of the visit; discarded",
			  conn_who(c), c->up.server_name);
		upload_clear(&c->up, false);
	}
	uv_timer_stop(&c->stall);
	c->group = NULL;
	if (c->p.cb && c->p.cb->on_visit_done)
		c->p.cb->on_visit_done(c, m, group);
	if (conn_open(c))
		conn_enter_waiting(c);
}

static void handle_visit_event(struct client_conn *c, const struct proto_msg *m)
{
	enum proto_visit_type t = m->u.visit.type;

	if (!group_matches(c, m)) {
		client_protocol_error(c, "<visit-event> for group %s, expected %s",
				      m->u.visit.identifier, c->group_id ? c->group_id : "none");
		return;
	}
	if (t == PROTO_VISIT_START && c->state == CLIENT_CONN_AWAITING_VISITING) {
		c->state = CLIENT_CONN_VISITING;
		if (c->p.cb && c->p.cb->on_visit_started)
			c->p.cb->on_visit_started(c, m);
	} else if (t == PROTO_VISIT_ERROR ||
		   (t == PROTO_VISIT_FINISH && c->state == CLIENT_CONN_VISITING)) {
		visit_done(c, m);
	} else {
		client_protocol_error(c, "unexpected <visit-event type=%s> in state %s",
				      t == PROTO_VISIT_START ? "start" : "finish",
				      c->state == CLIENT_CONN_VISITING ? "visiting"
								       : "awaiting-visiting");
	}
}

static int visit_fill(struct proto_msg *m, const struct client_conn_visit *v)
{
	proto_msg_init(m, PROTO_MSG_VISIT_EVENT);
	m->u.visit.type = PROTO_VISIT_REQUEST;
	m->u.visit.identifier = (char *)v->identifier;
	m->u.visit.program = (char *)v->program;
	m->u.visit.visit_time_s = v->visit_time_s;
	m->u.visit.n_items = v->n;
	m->u.visit.items = calloc(v->n, sizeof(*m->u.visit.items));
	if (!m->u.visit.items)
		return -ENOMEM;
	for (size_t i = 0; i < v->n; i++) {
		m->u.visit.items[i].id = (char *)(v->ids && v->ids[i] ? v->ids[i] : "null");
		m->u.visit.items[i].url = v->urls[i].url;
	}
	return 0;
}

int client_conn_send_visit(struct client_conn *c, const struct client_conn_visit *v, void *group)
{
	struct proto_msg m;
	int rc;

	if (!conn_open(c))
		return -EPIPE;
	if (c->state != CLIENT_CONN_WAITING)
		return -EBUSY;
	if (!v || !v->identifier || !v->program || !v->urls || !v->n || v->n > PROTO_MAX_ITEMS)
		return -EINVAL;
	c->group_id = strdup(v->identifier);
	if (!c->group_id || visit_fill(&m, v) < 0) {
		free(c->group_id);
		c->group_id = NULL;
		return -ENOMEM;
	}
	rc = conn_send(c, &m);
	free(m.u.visit.items);
	if (rc < 0) {
		if (conn_open(c)) { /* encoding failed: nothing was sent */
			free(c->group_id);
			c->group_id = NULL;
		}
		return rc;
	}
	c->group = group;
	c->state = CLIENT_CONN_AWAITING_VISITING;
	uv_timer_start(&c->stall, on_stall_timeout, c->stalled_ms, 0);
	return 0;
}

/* ---- uploads: file, part, file-finished ---- */

/* "<group>-<n>[.<type>]" with only [A-Za-z0-9._-] from the group and type. */
static char *upload_name(struct client_conn *c, const char *type)
{
	char g[64], t[17] = "";
	size_t i, n = 0;
	char *out;

	for (i = 0; c->group_id[i] && n < sizeof(g) - 1; i++) {
		char ch = c->group_id[i];

		g[n++] = (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') ||
				 (ch >= 'A' && ch <= 'Z') || ch == '-' || ch == '_'
			     ? ch
			     : '_';
	}
	g[n] = '\0';
	for (i = 0, n = 0; type && type[i] && n < sizeof(t) - 1; i++)
		if ((type[i] >= '0' && type[i] <= '9') || (type[i] >= 'a' && type[i] <= 'z') ||
		    (type[i] >= 'A' && type[i] <= 'Z'))
			t[n++] = type[i];
	t[n] = '\0';
	if (asprintf(&out, "%s-%lu%s%s", g, ++c->uploads, n ? "." : "", t) < 0)
		return NULL;
	return out;
}

static int upload_open(struct client_conn *c, const struct proto_file *f)
{
	struct conn_upload *u = &c->up;

	u->client_name = strdup(f->name);
	u->server_name = upload_name(c, f->type);
	if (!u->client_name || !u->server_name ||
	    asprintf(&u->path, "%s/%s", c->upload_dir, u->server_name) < 0) {
		u->path = NULL;
		return -1;
	}
	u->fd = open(u->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (u->fd < 0) {
		log_warn("client %s: cannot create %s", conn_who(c), u->path);
		return -1;
	}
	u->size = f->size;
	return 0;
}

static void handle_file(struct client_conn *c, const struct proto_msg *m)
{
	const struct proto_file *f = &m->u.file;

	if (c->up.client_name) {
		client_protocol_error(c, "<file> while upload %s is in progress",
				      c->up.client_name);
		return;
	}
	if (!c->upload_dir || f->size > c->p.max_upload || upload_open(c, f) < 0) {
		log_warnx("client %s: upload of %s (%llu bytes) refused", conn_who(c), f->name,
			  (unsigned long long)f->size);
		upload_clear(&c->up, false);
		send_file_reply(c, PROTO_MSG_FILE_REJECT, f->name);
		return;
	}
	send_file_reply(c, PROTO_MSG_FILE_ACCEPT, c->up.server_name);
}

static bool upload_named(const struct conn_upload *u, const char *name)
{
	return u->client_name &&
	       (strcmp(u->client_name, name) == 0 || strcmp(u->server_name, name) == 0);
}

static void handle_part(struct client_conn *c, const struct proto_msg *m)
{
	const struct proto_part *p = &m->u.part;
	struct conn_upload *u = &c->up;

	if (!upload_named(u, p->name)) {
		client_protocol_error(c, "<part> of %s without <file>", p->name);
		return;
	}
	if (p->start != u->written || p->end > u->size) {
		client_protocol_error(
		    c, "<part> [%llu, %llu) of %s: expected start %llu, size %llu",
		    (unsigned long long)p->start, (unsigned long long)p->end, p->name,
		    (unsigned long long)u->written, (unsigned long long)u->size);
		return;
	}
	u->written = p->end;
	if (u->failed)
		return;
	if (util_write_all(u->fd, p->data, p->len) < 0) {
		log_warn("client %s: writing %s", conn_who(c), u->path);
		close(u->fd);
		u->fd = -1;
		u->failed = true;
	}
}

static void handle_file_finished(struct client_conn *c, const struct proto_msg *m)
{
	struct conn_upload *u = &c->up;
	bool ok;

	if (!upload_named(u, m->u.file.name)) {
		client_protocol_error(c, "<file-finished> of %s without <file>", m->u.file.name);
		return;
	}
	ok = !u->failed && u->written == u->size && m->u.file.size == u->size;
	if (ok && close(u->fd) < 0) {
		log_warn("client %s: closing %s", conn_who(c), u->path);
		ok = false;
	}
	if (ok) {
		char *path = u->path;

		u->fd = -1;
		u->path = NULL;
		upload_clear(u, true);
		if (c->p.cb && c->p.cb->on_file)
			c->p.cb->on_file(c, path);
		free(path);
		return;
	}
	log_warnx("client %s: upload %s incomplete (%llu of %llu bytes); discarded", conn_who(c),
		  u->client_name, (unsigned long long)u->written, (unsigned long long)u->size);
	upload_clear(u, false);
}

/* ---- dispatch ---- */

static void dispatch_connecting(struct client_conn *c, struct proto_msg *m)
{
	switch (m->type) {
	case PROTO_MSG_AUTH: handle_auth(c, m); break;
	case PROTO_MSG_CONNECT:
	case PROTO_MSG_RECONNECT: handle_identify(c, m); break;
	default: client_protocol_error(c, "<%s> before <connect>", proto_msg_name(m->type));
	}
}

static void dispatch_visiting(struct client_conn *c, struct proto_msg *m)
{
	switch (m->type) {
	case PROTO_MSG_SYSTEM_EVENT:
		if (c->p.cb && c->p.cb->on_system_event)
			c->p.cb->on_system_event(c, m);
		break;
	case PROTO_MSG_FILE: handle_file(c, m); break;
	case PROTO_MSG_PART: handle_part(c, m); break;
	case PROTO_MSG_FILE_FINISHED: handle_file_finished(c, m); break;
	default:
		client_protocol_error(c, "unexpected <%s> while visiting", proto_msg_name(m->type));
	}
}

static const char *state_name(enum client_conn_state s)
{
	static const char *const names[] = {"connecting", "waiting", "awaiting-visiting",
					    "visiting", "closing"};

	return names[s];
}

static void dispatch(struct client_conn *c, struct proto_msg *m)
{
	if (m->type == PROTO_MSG_PONG || m->type == PROTO_MSG_CLIENT)
		return; /* any message already refreshed the deadline */
	if (c->state == CLIENT_CONN_CONNECTING)
		dispatch_connecting(c, m);
	else if (m->type == PROTO_MSG_VISIT_EVENT && c->state != CLIENT_CONN_WAITING)
		handle_visit_event(c, m);
	else if (c->state == CLIENT_CONN_VISITING)
		dispatch_visiting(c, m);
	else
		client_protocol_error(c, "unexpected <%s> in state %s", proto_msg_name(m->type),
				      state_name(c->state));
}

/* ---- reading ---- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
	struct client_conn *c = h->data;

	(void)suggested;
	*b = uv_buf_init(c->rbuf, sizeof(c->rbuf));
}

static void drain(struct client_conn *c)
{
	struct proto_msg m;
	char err[320];
	int rc;

	proto_msg_init(&m, PROTO_MSG_NONE);
	while (conn_open(c) && (rc = proto_reader_next(c->reader, &m, err, sizeof(err))) != 0) {
		if (rc < 0) {
			client_protocol_error(c, "%s", err);
			break;
		}
		conn_touch(c);
		dispatch(c, &m);
		proto_msg_free(&m);
	}
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
	struct client_conn *c = s->data;

	if (!conn_open(c) || nread == 0)
		return;
	if (nread == UV_EOF || nread == UV_ECONNRESET) {
		conn_close(c, CLIENT_CONN_CLOSE_RESET, "connection closed by the client");
		return;
	}
	if (nread < 0) {
		conn_close(c, CLIENT_CONN_CLOSE_SOCKET, "read: %s", uv_strerror((int)nread));
		return;
	}
	if (proto_reader_feed(c->reader, b->base, (size_t)nread) < 0) {
		client_protocol_error(c, "cannot buffer %zd bytes: %s", nread, strerror(errno));
		return;
	}
	drain(c);
}

/* ---- creation ---- */

static int conn_copy_params(struct client_conn *c, const struct client_conn_params *p)
{
	c->p = *p;
	c->max_message = p->max_message ? p->max_message : PROTO_MAX_MESSAGE_DEFAULT;
	if (!c->p.max_upload)
		c->p.max_upload = CLIENT_CONN_UPLOAD_MAX;
	c->inactivity_ms =
	    p->inactivity_ms ? p->inactivity_ms : 1000ull * p->cfg->client_inactivity_timeout;
	c->stalled_ms =
	    p->stalled_ms ? p->stalled_ms : 1000ull * p->cfg->vm_stalled_during_operation_timeout;
	c->ping_ms = p->ping_ms ? p->ping_ms : CLIENT_CONN_PING_MS;
	/* a healthy idle client must answer a ping before its inactivity deadline */
	if (!p->ping_ms && c->ping_ms > c->inactivity_ms / 3)
		c->ping_ms = c->inactivity_ms / 3 ? c->inactivity_ms / 3 : 1;
	if (p->auth_key) {
		c->key = malloc(p->auth_key_len ? p->auth_key_len : 1);
		if (!c->key)
			return -ENOMEM;
		memcpy(c->key, p->auth_key, p->auth_key_len);
	}
	if (p->upload_dir && !(c->upload_dir = strdup(p->upload_dir)))
		return -ENOMEM;
	c->reader = proto_reader_new(PROTO_PEER_CLIENT, PROTO_MAX_MESSAGE_PREAUTH);
	return c->reader ? 0 : -ENOMEM;
}

static void conn_peer_name(struct client_conn *c)
{
	struct sockaddr_storage ss;
	int len = sizeof(ss);
	char host[INET6_ADDRSTRLEN] = "?";
	int port = 0;

	if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) == 0) {
		if (ss.ss_family == AF_INET6) {
			uv_ip6_name((struct sockaddr_in6 *)&ss, host, sizeof(host));
			port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
		} else {
			uv_ip4_name((struct sockaddr_in *)&ss, host, sizeof(host));
			port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
		}
	}
	snprintf(c->peer, sizeof(c->peer), "%s:%d", host, port);
}

static int send_hello(struct client_conn *c)
{
	struct proto_msg m;

	proto_msg_init(&m, PROTO_MSG_CONNECT);
	m.u.connect.server = PROTO_SERVER_VERSION;
	m.u.connect.capture_version = PROTO_VERSION;
	if (c->key) {
		if (proto_auth_challenge(c->challenge) < 0)
			return -EIO;
		m.u.connect.challenge = c->challenge;
	}
	return conn_send(c, &m);
}

static void conn_init_handles(struct client_conn *c, uv_loop_t *loop)
{
	uv_timer_init(loop, &c->idle);
	uv_timer_init(loop, &c->stall);
	uv_timer_init(loop, &c->ping);
	c->tcp.data = c->idle.data = c->stall.data = c->ping.data = c;
	c->open_handles = 4;
}

int client_conn_accept(uv_stream_t *server, const struct client_conn_params *p,
		       struct client_conn **out)
{
	struct client_conn *c = calloc(1, sizeof(*c));
	int rc;

	if (!c)
		return -ENOMEM;
	c->up.fd = -1;
	c->state = CLIENT_CONN_CONNECTING;
	rc = uv_tcp_init(server->loop, &c->tcp);
	if (rc < 0) {
		free(c);
		return rc;
	}
	conn_init_handles(c, server->loop);
	rc = uv_accept(server, (uv_stream_t *)&c->tcp);
	if (rc == 0)
		rc = conn_copy_params(c, p);
	if (rc == 0)
		rc = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
	if (rc < 0) {
		c->p.cb = NULL; /* no on_closed for a connection never handed out */
		conn_close(c, CLIENT_CONN_CLOSE_SOCKET, "accept: %s", uv_strerror(rc));
		return rc;
	}
	conn_peer_name(c);
	conn_touch(c);
	*out = c;
	if (send_hello(c) < 0) /* on_closed() reports it */
		conn_close(c, CLIENT_CONN_CLOSE_SOCKET, "cannot send <connect>");
	return 0;
}
