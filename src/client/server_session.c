/*
 * server_session.c - the client's protocol state machine (server_session.h,
 * docs/client-session.md).  Input: a server-direction proto_reader; output:
 * client-encoded lines appended to one bounded buffer.
 */
#include "client/server_session.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"

#define SS_REASON_MAX 320
#define SS_UPLOAD_CHUNK                                                                            \
	((size_t)8 * PROTO_PART_SIZE) /* output kept below this much during an upload */
#define SS_OUT_MAX PROTO_MAX_MESSAGE_LIMIT

struct ss_upload {
	int fd;
	char *name;
	char *type;
	uint64_t size;
	uint64_t sent;
	bool accepted;
};

struct server_session {
	struct server_session_config cfg;
	char *vm_server_id;
	char *vm_id;
	unsigned char *key;
	struct server_session_callbacks cb;
	struct proto_reader *reader;
	struct buf out;
	enum server_session_state state;
	bool reconnect;
	uint32_t version;
	struct server_session_options opts;
	unsigned rule_errors;
	unsigned rules_pushed;
	struct proto_msg visit; /* the request being visited (owned) */
	struct ss_upload up;
	char reason[SS_REASON_MAX];
};

/* ---- helpers ---- */

static void server_session_close(struct server_session *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void server_session_close(struct server_session *s, const char *fmt, ...)
{
	va_list ap;

	if (s->state == SERVER_SESSION_CLOSED)
		return;
	va_start(ap, fmt);
	/* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): va_start is above */
	vsnprintf(s->reason, sizeof(s->reason), fmt, ap);
	va_end(ap);
	s->state = SERVER_SESSION_CLOSED;
	log_debug("server session closed: %s", s->reason);
	if (s->cb.on_closed)
		s->cb.on_closed(s, s->reason, s->cb.arg);
}

static int server_session_send(struct server_session *s, const struct proto_msg *m)
{
	if (proto_encode_client(m, &s->out) < 0) {
		log_warn("cannot encode <%s>", proto_msg_name(m->type));
		return -1;
	}
	return 0;
}

static char *server_session_strdup(const char *src)
{
	return src ? strdup(src) : NULL;
}

static void server_session_now(char *out, size_t len)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	event_format_time((uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec, out, len);
}

static bool server_session_open(const struct server_session *s)
{
	return s->state != SERVER_SESSION_AWAIT_CONNECT && s->state != SERVER_SESSION_CLOSED;
}

static int server_session_check(const struct server_session *s, bool ok)
{
	if (s->state == SERVER_SESSION_CLOSED) {
		errno = EPIPE;
		return -1;
	}
	if (!ok) {
		errno = EINVAL;
		return -1;
	}
	return 0;
}

/* ---- upload ---- */

static void server_session_upload_end(struct server_session *s, int status, const char *reason)
{
	char *name = s->up.name;

	if (s->up.fd >= 0)
		close(s->up.fd);
	free(s->up.type);
	memset(&s->up, 0, sizeof(s->up));
	s->up.fd = -1;
	if (status < 0)
		log_warnx("upload of %s failed: %s", name ? name : "?", reason);
	if (s->cb.on_upload)
		s->cb.on_upload(s, name ? name : "", status, reason, s->cb.arg);
	free(name);
}

static int server_session_send_finished(struct server_session *s)
{
	struct proto_msg m;

	proto_msg_init(&m, PROTO_MSG_FILE_FINISHED);
	m.u.file.name = s->up.name;
	m.u.file.size = s->up.sent;
	m.u.file.type = s->up.type;
	return server_session_send(s, &m);
}

/* Appends one part read from the upload file; 1 part sent, 0 end of file, -1 error. */
static int server_session_send_part(struct server_session *s, char *reason, size_t len)
{
	unsigned char data[PROTO_PART_SIZE];
	uint64_t left = s->up.size - s->up.sent;
	size_t want = left < sizeof(data) ? (size_t)left : sizeof(data);
	struct proto_msg m;
	ssize_t n;

	if (want == 0)
		return 0;
	n = pread(s->up.fd, data, want, (off_t)s->up.sent);
	if (n <= 0) {
		snprintf(reason, len, "read: %s", n < 0 ? strerror(errno) : "file shrank");
		return -1;
	}
	proto_part_set(&m, s->up.name, s->up.sent, data, (size_t)n);
	if (server_session_send(s, &m) < 0) {
		snprintf(reason, len, "encoding a part: %s", strerror(errno));
		return -1;
	}
	s->up.sent += (uint64_t)n;
	return 1;
}

/* Tops the output up with parts while an accepted upload has data left. */
static void server_session_pump(struct server_session *s)
{
	char reason[SS_REASON_MAX];
	int rc = 1;

	if (!s->up.accepted)
		return;
	while (s->out.len < SS_UPLOAD_CHUNK && rc > 0)
		rc = server_session_send_part(s, reason, sizeof(reason));
	if (rc < 0) {
		server_session_upload_end(s, -1, reason);
	} else if (rc == 0) {
		if (server_session_send_finished(s) < 0)
			server_session_upload_end(s, -1, "cannot encode <file-finished>");
		else
			server_session_upload_end(s, 0, NULL);
	}
}

/* ---- server messages ---- */

static void server_session_on_connect(struct server_session *s, const struct proto_connect *c)
{
	struct proto_msg m;
	char resp[PROTO_AUTH_HEX_LEN + 1];

	if (strcmp(c->server, PROTO_SERVER_VERSION) != 0)
		log_info("server announces version %s (expected %s)", c->server,
			 PROTO_SERVER_VERSION);
	if (c->challenge && !s->key) {
		server_session_close(s, "server requires authentication: pass --key FILE");
		return;
	}
	if (c->challenge) {
		if (proto_auth_response(s->key, s->cfg.key_len, c->challenge, resp) < 0) {
			server_session_close(s, "cannot answer the server's challenge");
			return;
		}
		proto_msg_init(&m, PROTO_MSG_AUTH);
		m.u.auth.response = resp;
		if (server_session_send(s, &m) < 0)
			goto fail;
	} else if (s->key) {
		log_info("server did not ask for authentication; key not used");
	}
	proto_msg_init(&m, s->reconnect ? PROTO_MSG_RECONNECT : PROTO_MSG_CONNECT);
	m.u.connect.vm_server_id = s->vm_server_id;
	m.u.connect.vm_id = s->vm_id;
	m.u.connect.capture_version = PROTO_VERSION;
	if (server_session_send(s, &m) < 0)
		goto fail;
	s->version = c->capture_version < PROTO_VERSION ? c->capture_version : PROTO_VERSION;
	s->reconnect = false;
	s->state = SERVER_SESSION_READY;
	return;
fail:
	server_session_close(s, "cannot encode the handshake: %s", strerror(errno));
}

static void server_session_on_option(struct server_session *s, const struct proto_option *o)
{
	bool on = strcmp(o->value, "true") == 0;

	if (strcmp(o->name, "collect-modified-files") == 0)
		s->opts.collect_modified_files = on;
	else if (strcmp(o->name, "capture-network-packets-malicious") == 0)
		s->opts.capture_packets_malicious = on;
	else if (strcmp(o->name, "capture-network-packets-benign") == 0)
		s->opts.capture_packets_benign = on;
	else
		log_debug("unknown option %s=%s", o->name, o->value);
	if (s->cb.on_option)
		s->cb.on_option(s, o->name, o->value, s->cb.arg);
}

static enum exclusion_monitor server_session_monitor(enum proto_msg_type t)
{
	switch (t) {
	case PROTO_MSG_FILE_EXCLUSION: return EXCL_FILE;
	case PROTO_MSG_PROCESS_EXCLUSION: return EXCL_PROCESS;
	case PROTO_MSG_REGISTRY_EXCLUSION: return EXCL_REGISTRY;
	default: return EXCL_CONNECTION;
	}
}

static void server_session_on_exclusion(struct server_session *s, const struct proto_msg *m)
{
	const struct proto_exclusion *e = &m->u.exclusion;
	char err[256], reason[SS_REASON_MAX];

	s->rules_pushed++;
	if (!s->cfg.exclusions) {
		log_debug("pushed <%s> ignored: no exclusion set", proto_msg_name(m->type));
		return;
	}
	if (exclusion_add_rule(s->cfg.exclusions, server_session_monitor(m->type),
			       e->excluded ? "+" : "-", e->action, e->subject, e->object, "server",
			       s->rules_pushed, err, sizeof(err)) == 0)
		return;
	s->rule_errors++;
	snprintf(reason, sizeof(reason), "pushed <%s> rule %u rejected: %s",
		 proto_msg_name(m->type), s->rules_pushed, err);
	log_warnx("%s", reason);
	if (s->cb.on_rule_error)
		s->cb.on_rule_error(s, reason, s->cb.arg);
}

static void server_session_on_visit(struct server_session *s, struct proto_msg *m)
{
	if (s->state != SERVER_SESSION_READY) {
		server_session_close(s, "<visit-event> while a visit is running");
		return;
	}
	s->visit = *m; /* takes ownership */
	proto_msg_init(m, PROTO_MSG_NONE);
	s->state = SERVER_SESSION_VISIT_REQUESTED;
	if (s->cb.on_visit)
		s->cb.on_visit(s, &s->visit, s->cb.arg);
}

static void server_session_on_file_reply(struct server_session *s, const struct proto_msg *m)
{
	if (!s->up.name || s->up.accepted) {
		server_session_close(s, "unexpected <%s>", proto_msg_name(m->type));
		return;
	}
	if (m->type == PROTO_MSG_FILE_REJECT) {
		server_session_upload_end(s, -1, "server rejected the file");
		return;
	}
	if (strcmp(m->u.file.name, s->up.name) != 0)
		log_debug("server stores %s as %s", s->up.name, m->u.file.name);
	s->up.accepted = true;
	server_session_pump(s);
}

static void server_session_dispatch(struct server_session *s, struct proto_msg *m)
{
	if (s->state == SERVER_SESSION_AWAIT_CONNECT && m->type != PROTO_MSG_CONNECT) {
		server_session_close(s, "<%s> before <connect>", proto_msg_name(m->type));
		return;
	}
	switch (m->type) {
	case PROTO_MSG_CONNECT:
		if (s->state != SERVER_SESSION_AWAIT_CONNECT)
			server_session_close(s, "second <connect>");
		else
			server_session_on_connect(s, &m->u.connect);
		break;
	case PROTO_MSG_OPTION: server_session_on_option(s, &m->u.option); break;
	case PROTO_MSG_FILE_EXCLUSION:
	case PROTO_MSG_PROCESS_EXCLUSION:
	case PROTO_MSG_REGISTRY_EXCLUSION:
	case PROTO_MSG_CONNECTION_EXCLUSION: server_session_on_exclusion(s, m); break;
	case PROTO_MSG_PING: {
		struct proto_msg pong;

		proto_msg_init(&pong, PROTO_MSG_PONG);
		if (server_session_send(s, &pong) < 0)
			server_session_close(s, "cannot queue <pong>: %s", strerror(errno));
		break;
	}
	case PROTO_MSG_VISIT_EVENT: server_session_on_visit(s, m); break;
	case PROTO_MSG_FILE_ACCEPT:
	case PROTO_MSG_FILE_REJECT: server_session_on_file_reply(s, m); break;
	default:
		server_session_close(s, "unexpected <%s> from the server", proto_msg_name(m->type));
		break;
	}
}

/* Decodes and handles every buffered message; -1 once closed. */
static int server_session_drain(struct server_session *s)
{
	char err[SS_REASON_MAX - 32];
	struct proto_msg m;

	while (s->state != SERVER_SESSION_CLOSED) {
		int rc = proto_reader_next(s->reader, &m, err, sizeof(err));
		if (rc == 0)
			return 0;
		if (rc < 0) {
			server_session_close(s, "bad input from the server: %s", err);
			break;
		}
		server_session_dispatch(s, &m);
		proto_msg_free(&m);
	}
	errno = EPIPE;
	return -1;
}

/* ---- public API ---- */

struct server_session *server_session_new(const struct server_session_config *cfg,
					  const struct server_session_callbacks *cb)
{
	size_t max = cfg && cfg->max_message ? cfg->max_message : PROTO_MAX_MESSAGE_DEFAULT;
	struct server_session *s;

	if (!cfg || !cfg->vm_server_id || !cfg->vm_id || (cfg->key && !cfg->key_len)) {
		errno = EINVAL;
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->cfg = *cfg;
	s->up.fd = -1;
	if (cb)
		s->cb = *cb;
	buf_init(&s->out, SS_OUT_MAX);
	s->vm_server_id = strdup(cfg->vm_server_id);
	s->vm_id = strdup(cfg->vm_id);
	s->key = cfg->key ? malloc(cfg->key_len) : NULL;
	s->reader = proto_reader_new(PROTO_PEER_SERVER, max);
	if (!s->vm_server_id || !s->vm_id || (cfg->key && !s->key) || !s->reader) {
		server_session_free(s);
		return NULL;
	}
	if (s->key)
		memcpy(s->key, cfg->key, cfg->key_len);
	return s;
}

void server_session_free(struct server_session *s)
{
	if (!s)
		return;
	if (s->up.fd >= 0)
		close(s->up.fd);
	free(s->up.name);
	free(s->up.type);
	proto_msg_free(&s->visit);
	proto_reader_free(s->reader);
	buf_free(&s->out);
	if (s->key)
		explicit_bzero(s->key, s->cfg.key_len);
	free(s->key);
	free(s->vm_server_id);
	free(s->vm_id);
	free(s);
}

void server_session_mark_reconnect(struct server_session *s)
{
	if (s->up.name)
		server_session_upload_end(s, -1, "connection lost");
	proto_msg_free(&s->visit);
	proto_reader_reset(s->reader);
	buf_reset(&s->out);
	s->reconnect = true;
	s->reason[0] = '\0';
	s->state = SERVER_SESSION_AWAIT_CONNECT;
}

int server_session_feed(struct server_session *s, const void *data, size_t len)
{
	const char *p = data;

	if (server_session_check(s, true) < 0)
		return -1;
	while (len > 0) {
		size_t n = len < PROTO_FEED_MAX ? len : PROTO_FEED_MAX;

		if (proto_reader_feed(s->reader, p, n) < 0) {
			server_session_close(s, "cannot buffer server input: %s", strerror(errno));
			errno = EPIPE;
			return -1;
		}
		if (server_session_drain(s) < 0)
			return -1;
		p += n;
		len -= n;
	}
	return 0;
}

struct buf *server_session_output(struct server_session *s)
{
	if (s->state != SERVER_SESSION_CLOSED)
		server_session_pump(s);
	return &s->out;
}

enum server_session_state server_session_state(const struct server_session *s)
{
	return s->state;
}

const char *server_session_close_reason(const struct server_session *s)
{
	return s->state == SERVER_SESSION_CLOSED ? s->reason : NULL;
}

const struct server_session_options *server_session_options(const struct server_session *s)
{
	return &s->opts;
}

uint32_t server_session_version(const struct server_session *s)
{
	return s->version;
}

unsigned server_session_rule_errors(const struct server_session *s)
{
	return s->rule_errors;
}

bool server_session_upload_pending(const struct server_session *s)
{
	return s->up.name != NULL;
}

/* ---- visit reports ---- */

/* Builds a C->S visit-event from VISIT into M with ITEMS (n_items of VISIT). */
static void server_session_visit_msg(struct proto_msg *m, struct proto_item *items,
				     const struct proto_visit *visit, const char *now)
{
	proto_msg_init(m, PROTO_MSG_VISIT_EVENT);
	m->u.visit.identifier = visit->identifier;
	m->u.visit.program = visit->program;
	m->u.visit.time = (char *)now;
	m->u.visit.n_items = visit->n_items;
	m->u.visit.items = items;
	for (size_t i = 0; i < visit->n_items; i++) {
		const struct proto_item *in = &visit->items[i];

		items[i] = (struct proto_item){
		    .url = in->url,
		    .program = in->program ? in->program : visit->program,
		    .time = in->time ? in->time : (char *)now,
		    .process_id = in->process_id,
		};
	}
}

static int server_session_send_visit(struct server_session *s, struct proto_msg *m,
				     struct proto_item *items)
{
	int rc = server_session_send(s, m);

	free(items);
	return rc;
}

static struct proto_item *server_session_items(const struct proto_visit *visit)
{
	return calloc(visit->n_items ? visit->n_items : 1, sizeof(struct proto_item));
}

static const struct proto_visit *server_session_pick(const struct server_session *s,
						     const struct proto_visit *visit)
{
	return visit ? visit : &s->visit.u.visit;
}

int server_session_visit_start(struct server_session *s, const struct proto_visit *visit,
			       const char *algorithm)
{
	struct proto_item *items;
	struct proto_msg m;
	char now[32];

	if (server_session_check(s, s->state == SERVER_SESSION_VISIT_REQUESTED) < 0)
		return -1;
	visit = server_session_pick(s, visit);
	items = server_session_items(visit);
	if (!items)
		return -1;
	server_session_now(now, sizeof(now));
	server_session_visit_msg(&m, items, visit, now);
	m.u.visit.type = PROTO_VISIT_START;
	m.u.visit.algorithm = (char *)algorithm;
	if (server_session_send_visit(s, &m, items) < 0)
		return -1;
	s->state = SERVER_SESSION_VISITING;
	return 0;
}

static bool items_have_codes(const struct proto_visit *visit)
{
	for (size_t i = 0; i < visit->n_items; i++)
		if (visit->items[i].major_error_code)
			return true;
	return false;
}

int server_session_visit_finish(struct server_session *s, const struct proto_visit *visit,
				bool malicious, uint32_t error_code, uint32_t minor)
{
	struct proto_item *items;
	struct proto_msg m;
	char now[32];
	bool own;

	if (server_session_check(s, s->state == SERVER_SESSION_VISITING ||
					s->state == SERVER_SESSION_VISIT_REQUESTED) < 0)
		return -1;
	visit = server_session_pick(s, visit);
	items = server_session_items(visit);
	if (!items)
		return -1;
	server_session_now(now, sizeof(now));
	server_session_visit_msg(&m, items, visit, now);
	m.u.visit.type = error_code ? PROTO_VISIT_ERROR : PROTO_VISIT_FINISH;
	m.u.visit.malicious = malicious;
	m.u.visit.error_code = error_code;
	own = items_have_codes(visit);
	for (size_t i = 0; i < visit->n_items; i++) {
		items[i].major_error_code = own ? visit->items[i].major_error_code : error_code;
		items[i].minor_error_code = own ? visit->items[i].minor_error_code : minor;
		items[i].visited = true;
	}
	if (server_session_send_visit(s, &m, items) < 0)
		return -1;
	proto_msg_free(&s->visit);
	s->state = SERVER_SESSION_READY;
	return 0;
}

int server_session_system_event(struct server_session *s, const struct capture_event *ev)
{
	struct proto_msg m;
	char time[32];

	if (server_session_check(s, server_session_open(s) && ev && ev->action) < 0)
		return -1;
	event_format_time(ev->wall_ns, time, sizeof(time));
	proto_msg_init(&m, PROTO_MSG_SYSTEM_EVENT);
	m.u.event.time = time;
	m.u.event.type = (char *)event_type_name(ev->type);
	m.u.event.process_id = ev->pid;
	m.u.event.process = (char *)(ev->process ? ev->process : "UNKNOWN");
	m.u.event.action = (char *)ev->action;
	m.u.event.object1 = (char *)(ev->object1 ? ev->object1 : "-1");
	m.u.event.object2 = (char *)(ev->object2 ? ev->object2 : "-1");
	return server_session_send(s, &m);
}

/* ---- upload start ---- */

static char *server_session_ext(const char *name)
{
	const char *base = strrchr(name, '/');
	const char *dot = strrchr(base ? base + 1 : name, '.');

	return server_session_strdup(dot && dot[1] ? dot + 1 : NULL);
}

int server_session_upload(struct server_session *s, const char *name, const char *path)
{
	struct proto_msg m;
	struct stat st;
	int fd;

	if (server_session_check(s, server_session_open(s) && !s->up.name && name && path) < 0)
		return -1;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		errno = errno ? errno : EINVAL;
		close(fd);
		return -1;
	}
	s->up = (struct ss_upload){.fd = fd, .size = (uint64_t)st.st_size};
	s->up.name = strdup(name);
	s->up.type = server_session_ext(name);
	proto_msg_init(&m, PROTO_MSG_FILE);
	m.u.file.name = s->up.name;
	m.u.file.size = s->up.size;
	m.u.file.type = s->up.type;
	if (!s->up.name || server_session_send(s, &m) < 0) {
		int e = errno;

		close(fd);
		free(s->up.name);
		free(s->up.type);
		s->up = (struct ss_upload){.fd = -1};
		errno = e;
		return -1;
	}
	return 0;
}

void server_session_upload_timeout(struct server_session *s)
{
	if (s->up.name && !s->up.accepted)
		server_session_upload_end(s, -1, "no <file-accept> from the server");
}
