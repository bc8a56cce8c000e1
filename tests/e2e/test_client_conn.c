/*
 * test_client_conn.c - the server side of one capture-client connection
 * (src/server/client_conn.c) against scripted fake clients.
 *
 * The test runs a libuv loop with a listener on 127.0.0.1:0 that creates a
 * client_conn per accepted connection (e2e_server, e2e.h); each fake client
 * is a pthread with a blocking socket speaking the real codec.  Covered: a
 * full visit with system events and a 20 KiB upload (callback order and
 * content, uploaded bytes), HMAC authentication (wrong and right), hostile
 * clients (garbage, an oversized line, an element in the wrong state)
 * followed by a good client on the same loop, the inactivity and stall
 * deadlines.  No root.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>
#include <uv.h>

#include "common/buf.h"
#include "common/config.h"
#include "common/log.h"
#include "common/protocol.h"
#include "e2e.h"
#include "server/client_conn.h"

#define FILE_BYTES 20480
#define KEY        "s3cret-key"
#define MAX_CLOSED 8

enum script_kind {
	S_GOOD,
	S_BAD_AUTH,
	S_GARBAGE,
	S_OVERSIZE,
	S_WRONG_STATE,
	S_SILENT,
	S_STALL,
};

/* ---- the server side: e2e_server (e2e.h) and recording callbacks ---- */

struct world {
	struct e2e_server srv; /* loop, listener, options, upload directory, files */
	struct proto_msg excl;
	FILE *logf;
	char trace[4096];
	int visits_left; /* groups still to hand out in on_ready */
	int next_group;
	int groups[8];
	struct url_entry urls[2];
	int closed;
	enum client_conn_close reasons[MAX_CLOSED];
	int closed_group[MAX_CLOSED]; /* group index, -1 = none */
};

static void tracef(struct world *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void tracef(struct world *w, const char *fmt, ...)
{
	size_t n = strlen(w->trace);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(w->trace + n, sizeof(w->trace) - n, fmt, ap);
	va_end(ap);
}

static int group_index(struct world *w, void *group)
{
	return group ? (int)((int *)group - w->groups) : -1;
}

static void on_ready(struct client_conn *c)
{
	struct world *w = client_conn_ctx(c);
	static const char *const ids[] = {"17", NULL};
	struct client_conn_visit v = {
	    .program = "firefox", .visit_time_s = 5, .urls = w->urls, .ids = ids, .n = 2};
	char gid[16];
	int g;

	tracef(w, "ready;");
	if (w->visits_left <= 0)
		return;
	w->visits_left--;
	g = w->next_group++;
	snprintf(gid, sizeof(gid), "g%d", g);
	v.identifier = gid;
	assert_int_equal(client_conn_send_visit(c, &v, &w->groups[g]), 0);
	assert_int_equal(client_conn_state(c), CLIENT_CONN_AWAITING_VISITING);
	assert_int_equal(client_conn_send_visit(c, &v, NULL), -EBUSY);
	tracef(w, "visit:%s;", gid);
}

static void on_visit_started(struct client_conn *c, const struct proto_msg *m)
{
	tracef(client_conn_ctx(c), "start:%s;", m->u.visit.identifier);
}

static void on_system_event(struct client_conn *c, const struct proto_msg *m)
{
	tracef(client_conn_ctx(c), "event:%s:%s;", m->u.event.type, m->u.event.action);
}

static void on_file(struct client_conn *c, const char *path)
{
	struct world *w = client_conn_ctx(c);

	e2e_server_file(&w->srv, path);
	tracef(w, "file;");
}

static void on_visit_done(struct client_conn *c, const struct proto_msg *m, void *group)
{
	struct world *w = client_conn_ctx(c);

	tracef(w, "done:%s:%d;", m->u.visit.type == PROTO_VISIT_FINISH ? "finish" : "error",
	       group_index(w, group));
}

static void on_closed(struct client_conn *c, enum client_conn_close reason, void *group)
{
	struct world *w = client_conn_ctx(c);

	tracef(w, "closed:%s:%d;", client_conn_close_name(reason), group_index(w, group));
	if (w->closed < MAX_CLOSED) {
		w->reasons[w->closed] = reason;
		w->closed_group[w->closed] = group_index(w, group);
	}
	w->closed++;
}

static int world_setup(void **state)
{
	static const struct client_conn_callbacks cb = {on_ready, on_visit_started, on_system_event,
							on_file,  on_visit_done,    on_closed};
	struct world *w = calloc(1, sizeof(*w));

	assert_non_null(w);
	e2e_server_open(&w->srv, &cb, w, "/tmp/test_client_conn.XXXXXX");
	w->srv.cfg.send_exclusion_lists = true;
	w->srv.cfg.collect_modified_files = true;
	proto_msg_init(&w->excl, PROTO_MSG_FILE_EXCLUSION);
	w->excl.u.exclusion.excluded = true;
	w->excl.u.exclusion.action = "Write";
	w->excl.u.exclusion.subject = ".*";
	w->excl.u.exclusion.object = "/tmp/.*";
	w->srv.params.exclusions = &w->excl;
	w->srv.params.nexclusions = 1;
	w->urls[0].url = "http://a.example/";
	w->urls[1].url = "http://b.example/?q=1&r=2";
	w->logf = tmpfile();
	assert_non_null(w->logf);
	log_init("test_client_conn", LOG_LEVEL_WARN, w->logf);
	*state = w;
	return 0;
}

static int world_teardown(void **state)
{
	struct world *w = *state;

	e2e_server_close(&w->srv);
	for (int i = 0; i < w->srv.nfiles; i++)
		unlink(w->srv.files[i]);
	assert_int_equal(rmdir(w->srv.updir), 0); /* nothing else was left behind */
	log_init("test_client_conn", LOG_LEVEL_WARN, NULL);
	fclose(w->logf);
	free(w);
	return 0;
}

/* The log written so far (static buffer). */
static const char *world_log(struct world *w)
{
	static char text[16384];
	size_t n;

	fflush(w->logf);
	rewind(w->logf);
	n = fread(text, 1, sizeof(text) - 1, w->logf);
	text[n] = '\0';
	fseek(w->logf, 0, SEEK_END);
	return text;
}

/* ---- fake clients: blocking sockets in threads ---- */

struct script {
	enum script_kind kind;
	int port;
	const char *key;
	unsigned char file[FILE_BYTES];
	char err[256];
	atomic_int done;
	pthread_t thread;
};

struct fake {
	int fd;
	struct proto_reader *r;
	struct script *s;
	bool pong;
};

static int fake_fail(struct fake *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fake_fail(struct fake *f, const char *fmt, ...)
{
	va_list ap;

	if (f->s->err[0])
		return -1;
	va_start(ap, fmt);
	vsnprintf(f->s->err, sizeof(f->s->err), fmt, ap);
	va_end(ap);
	return -1;
}

static int fake_write(struct fake *f, const void *p, size_t len)
{
	const char *c = p;

	while (len) {
		ssize_t n = send(f->fd, c, len, MSG_NOSIGNAL);

		if (n <= 0)
			return fake_fail(f, "send: %s", strerror(errno));
		c += n;
		len -= (size_t)n;
	}
	return 0;
}

static int fake_send(struct fake *f, const struct proto_msg *m)
{
	struct buf b;
	int rc;

	buf_init(&b, PROTO_MAX_MESSAGE_DEFAULT);
	if (proto_encode_client(m, &b) < 0)
		return fake_fail(f, "encode <%s>: %s", proto_msg_name(m->type), strerror(errno));
	rc = fake_write(f, b.data, b.len);
	buf_free(&b);
	return rc;
}

/* Next message other than ping (answered with pong if F->pong): 1, 0 at EOF, -1. */
static int fake_recv(struct fake *f, struct proto_msg *m)
{
	char err[320], rb[4096];
	struct proto_msg pong;

	proto_msg_init(&pong, PROTO_MSG_PONG);
	for (;;) {
		int rc = proto_reader_next(f->r, m, err, sizeof(err));
		ssize_t n;

		if (rc < 0)
			return fake_fail(f, "decode: %s", err);
		if (rc > 0 && m->type == PROTO_MSG_PING) {
			proto_msg_free(m);
			if (f->pong && fake_send(f, &pong) < 0)
				return -1;
			continue;
		}
		if (rc > 0)
			return 1;
		n = recv(f->fd, rb, sizeof(rb), 0);
		if (n == 0 || (n < 0 && errno == ECONNRESET))
			return 0;
		if (n < 0)
			return fake_fail(f, "recv: %s", strerror(errno));
		if (proto_reader_feed(f->r, rb, (size_t)n) < 0)
			return fake_fail(f, "feed: %s", strerror(errno));
	}
}

static int fake_expect(struct fake *f, enum proto_msg_type type, struct proto_msg *m)
{
	int rc = fake_recv(f, m);

	if (rc == 0)
		return fake_fail(f, "EOF while expecting <%s>", proto_msg_name(type));
	if (rc < 0)
		return -1;
	if (m->type != type) {
		fake_fail(f, "got <%s>, expected <%s>", proto_msg_name(m->type),
			  proto_msg_name(type));
		proto_msg_free(m);
		return -1;
	}
	return 0;
}

/* Reads until the server closes; messages in between are dropped. */
static int fake_wait_eof(struct fake *f)
{
	struct proto_msg m;
	int rc;

	while ((rc = fake_recv(f, &m)) > 0)
		proto_msg_free(&m);
	return rc;
}

static int fake_open(struct fake *f, struct script *s)
{
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_port = htons((uint16_t)s->port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct timeval tv = {.tv_sec = 5};

	f->s = s;
	f->r = proto_reader_new(PROTO_PEER_SERVER, PROTO_MAX_MESSAGE_DEFAULT);
	f->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (!f->r || f->fd < 0)
		return fake_fail(f, "socket: %s", strerror(errno));
	setsockopt(f->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(f->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return fake_fail(f, "connect: %s", strerror(errno));
	return 0;
}

static int fake_auth(struct fake *f, const char *challenge)
{
	const char *key = f->s->kind == S_BAD_AUTH ? "wrong-key" : f->s->key;
	char resp[PROTO_AUTH_HEX_LEN + 1];
	struct proto_msg m;

	if (!challenge)
		return fake_fail(f, "no challenge with a key set");
	if (proto_auth_response(key, strlen(key), challenge, resp) < 0)
		return fake_fail(f, "auth response");
	proto_msg_init(&m, PROTO_MSG_AUTH);
	m.u.auth.response = resp;
	return fake_send(f, &m);
}

/* Server connect, [auth], our connect, then options and the exclusion. */
static int fake_hello(struct fake *f)
{
	struct proto_msg m;
	int rc = 0;

	if (fake_expect(f, PROTO_MSG_CONNECT, &m) < 0)
		return -1;
	if (strcmp(m.u.connect.server, "2.5") != 0 || m.u.connect.capture_version != PROTO_VERSION)
		rc = fake_fail(f, "bad server connect");
	else if (f->s->key)
		rc = fake_auth(f, m.u.connect.challenge);
	else if (m.u.connect.challenge)
		rc = fake_fail(f, "challenge without a key");
	proto_msg_free(&m);
	if (rc < 0 || f->s->kind == S_BAD_AUTH)
		return rc;
	proto_msg_init(&m, PROTO_MSG_CONNECT);
	m.u.connect.vm_server_id = "1";
	m.u.connect.vm_id = "vm7";
	if (fake_send(f, &m) < 0)
		return -1;
	for (int i = 0; i < 4; i++) {
		if (fake_expect(f, i < 3 ? PROTO_MSG_OPTION : PROTO_MSG_FILE_EXCLUSION, &m) < 0)
			return -1;
		if (i == 0 && (strcmp(m.u.option.name, "collect-modified-files") != 0 ||
			       strcmp(m.u.option.value, "true") != 0))
			rc = fake_fail(f, "first option %s=%s", m.u.option.name, m.u.option.value);
		proto_msg_free(&m);
	}
	return rc;
}

/* Receives the group; checks its items; keeps its identifier in ID. */
static int fake_get_visit(struct fake *f, char *id, size_t idlen)
{
	struct proto_msg m;
	int rc = 0;

	if (fake_expect(f, PROTO_MSG_VISIT_EVENT, &m) < 0)
		return -1;
	if (m.u.visit.n_items != 2 || strcmp(m.u.visit.items[0].id, "17") != 0 ||
	    strcmp(m.u.visit.items[1].id, "null") != 0 ||
	    strcmp(m.u.visit.items[1].url, "http://b.example/?q=1&r=2") != 0 ||
	    strcmp(m.u.visit.program, "firefox") != 0 || m.u.visit.visit_time_s != 5)
		rc = fake_fail(f, "bad visit-event");
	snprintf(id, idlen, "%s", m.u.visit.identifier);
	proto_msg_free(&m);
	return rc;
}

static int fake_visit_event(struct fake *f, enum proto_visit_type type, const char *id)
{
	struct proto_msg m;

	proto_msg_init(&m, PROTO_MSG_VISIT_EVENT);
	m.u.visit.type = type;
	m.u.visit.identifier = (char *)id;
	m.u.visit.program = "firefox";
	m.u.visit.time = "14/3/2025 10:2:7.120";
	m.u.visit.algorithm = "dac";
	m.u.visit.malicious = type == PROTO_VISIT_FINISH;
	return fake_send(f, &m);
}

static int fake_event(struct fake *f, const char *type, const char *action)
{
	struct proto_msg m;

	proto_msg_init(&m, PROTO_MSG_SYSTEM_EVENT);
	m.u.event.time = "14/3/2025 10:2:9.311";
	m.u.event.type = (char *)type;
	m.u.event.process_id = 4242;
	m.u.event.process = "/usr/lib/firefox/firefox";
	m.u.event.action = (char *)action;
	m.u.event.object1 = "4301";
	return fake_send(f, &m);
}

static int fake_upload(struct fake *f)
{
	const char *name = "/var/lib/capture/5.zip";
	struct proto_msg m;
	size_t off = 0, n;

	proto_msg_init(&m, PROTO_MSG_FILE);
	m.u.file.name = (char *)name;
	m.u.file.size = FILE_BYTES;
	m.u.file.type = "zip";
	if (fake_send(f, &m) < 0 || fake_expect(f, PROTO_MSG_FILE_ACCEPT, &m) < 0)
		return -1;
	proto_msg_free(&m);
	while ((n = proto_part_set(&m, name, off, f->s->file + off, FILE_BYTES - off)) > 0) {
		if (fake_send(f, &m) < 0)
			return -1;
		off += n;
	}
	proto_msg_init(&m, PROTO_MSG_FILE_FINISHED);
	m.u.file.name = (char *)name;
	m.u.file.size = FILE_BYTES;
	m.u.file.type = "zip";
	return fake_send(f, &m);
}

static int script_good(struct fake *f)
{
	char id[32];

	if (fake_hello(f) < 0 || fake_get_visit(f, id, sizeof(id)) < 0 ||
	    fake_visit_event(f, PROTO_VISIT_START, id) < 0 ||
	    fake_event(f, "process", "created") < 0 || fake_event(f, "file", "Write") < 0 ||
	    fake_upload(f) < 0)
		return -1;
	return fake_visit_event(f, PROTO_VISIT_FINISH, id);
}

static int script_hostile(struct fake *f)
{
	static char big[2000];
	struct proto_msg m;
	char id[32];

	switch (f->s->kind) {
	case S_GARBAGE:
		if (fake_expect(f, PROTO_MSG_CONNECT, &m) < 0)
			return -1;
		proto_msg_free(&m);
		return fake_write(f, "hello \x01garbage\r\n", 16);
	case S_OVERSIZE: memset(big, 'a', sizeof(big)); return fake_write(f, big, sizeof(big));
	case S_WRONG_STATE:
		if (fake_hello(f) < 0 || fake_get_visit(f, id, sizeof(id)) < 0)
			return -1;
		return fake_event(f, "process", "created"); /* before start */
	default: return fake_hello(f);
	}
}

static int script_stall(struct fake *f)
{
	char id[32];

	f->pong = true;
	if (fake_hello(f) < 0 || fake_get_visit(f, id, sizeof(id)) < 0)
		return -1;
	return fake_visit_event(f, PROTO_VISIT_START, id);
}

static void *script_main(void *arg)
{
	struct script *s = arg;
	struct fake f = {.fd = -1};
	int rc = fake_open(&f, s);

	if (rc == 0) {
		if (s->kind == S_GOOD)
			rc = script_good(&f);
		else if (s->kind == S_STALL)
			rc = script_stall(&f);
		else if (s->kind != S_SILENT)
			rc = script_hostile(&f);
	}
	/* a good client hangs up; everyone else waits to be closed by the server */
	if (rc == 0 && s->kind != S_GOOD && fake_wait_eof(&f) != 0)
		fake_fail(&f, "not closed by the server");
	if (f.fd >= 0)
		close(f.fd);
	proto_reader_free(f.r);
	atomic_store(&s->done, 1);
	return NULL;
}

static struct script *script_start(struct world *w, enum script_kind kind, const char *key)
{
	struct script *s = calloc(1, sizeof(*s));

	assert_non_null(s);
	s->kind = kind;
	s->port = w->srv.port;
	s->key = key;
	for (size_t i = 0; i < FILE_BYTES; i++)
		s->file[i] = (unsigned char)(i * 7 + i / 251);
	assert_int_equal(pthread_create(&s->thread, NULL, script_main, s), 0);
	return s;
}

/* Runs the loop until S is done and CLOSED connections have closed (10 s at most). */
static void run_until(struct world *w, struct script *s, int closed)
{
	uint64_t end = uv_now(&w->srv.loop) + 10000;

	while ((!atomic_load(&s->done) || w->closed < closed) && uv_now(&w->srv.loop) < end)
		uv_run(&w->srv.loop, UV_RUN_ONCE);
	pthread_join(s->thread, NULL);
	if (s->err[0])
		fail_msg("fake client (kind %d): %s; trace %s", s->kind, s->err, w->trace);
	assert_int_equal(w->closed, closed);
}

static void check_upload(struct world *w, struct script *s, int i)
{
	unsigned char got[FILE_BYTES + 1];
	FILE *fp = fopen(w->srv.files[i], "rb");
	size_t n;

	assert_non_null(fp);
	n = fread(got, 1, sizeof(got), fp);
	fclose(fp);
	assert_int_equal(n, FILE_BYTES);
	assert_memory_equal(got, s->file, FILE_BYTES);
	assert_non_null(strstr(w->srv.files[i], ".zip"));
	assert_int_equal(strncmp(w->srv.files[i], w->srv.updir, strlen(w->srv.updir)), 0);
}

#define GOOD_TRACE(g)                                                                              \
	"ready;visit:g" #g ";start:g" #g ";event:process:created;event:file:Write;file;"           \
	"done:finish:" #g ";ready;closed:connection reset:-1;"

/* ---- tests ---- */

static void test_good_client(void **state)
{
	struct world *w = *state;
	struct script *s;

	w->visits_left = 1;
	s = script_start(w, S_GOOD, NULL);
	run_until(w, s, 1);
	assert_string_equal(w->trace, GOOD_TRACE(0));
	assert_int_equal(w->srv.nfiles, 1);
	check_upload(w, s, 0);
	free(s);
}

static void test_auth(void **state)
{
	struct world *w = *state;
	struct script *s;

	w->srv.params.auth_key = KEY;
	w->srv.params.auth_key_len = strlen(KEY);
	s = script_start(w, S_BAD_AUTH, KEY);
	run_until(w, s, 1);
	free(s);
	assert_string_equal(w->trace, "closed:protocol error:-1;");
	assert_non_null(strstr(world_log(w), "authentication failed"));

	w->trace[0] = '\0';
	w->visits_left = 1;
	s = script_start(w, S_GOOD, KEY);
	run_until(w, s, 2);
	assert_string_equal(w->trace, GOOD_TRACE(0));
	check_upload(w, s, 0);
	free(s);
}

static void test_hostile_then_good(void **state)
{
	struct world *w = *state;
	static const enum script_kind kinds[] = {S_GARBAGE, S_OVERSIZE, S_WRONG_STATE};
	struct script *s;
	const char *log;

	w->visits_left = 2;
	for (int i = 0; i < 3; i++) {
		s = script_start(w, kinds[i], NULL);
		run_until(w, s, i + 1);
		free(s);
		assert_int_equal(w->reasons[i], CLIENT_CONN_CLOSE_PROTOCOL);
	}
	assert_int_equal(w->closed_group[0], -1);
	assert_int_equal(w->closed_group[1], -1);
	assert_int_equal(w->closed_group[2], 0); /* the group in flight comes back */
	log = world_log(w);
	assert_non_null(strstr(log, "protocol error"));
	assert_non_null(strstr(log, "\"hello .garbage\""));     /* sanitised sample */
	assert_non_null(strstr(log, "longer than 1024 bytes")); /* pre-auth cap */
	assert_non_null(strstr(log, "aaaa ... aaaa"));          /* head and tail */
	assert_non_null(strstr(log, "unexpected <system-event> in state awaiting-visiting"));
	assert_non_null(strstr(log, "(127.0.0.1:"));

	w->trace[0] = '\0';
	s = script_start(w, S_GOOD, NULL);
	run_until(w, s, 4);
	assert_string_equal(w->trace, GOOD_TRACE(1));
	check_upload(w, s, 0);
	free(s);
}

static void test_deadlines(void **state)
{
	struct world *w = *state;
	struct script *s;

	w->srv.params.inactivity_ms = 200;
	s = script_start(w, S_SILENT, NULL);
	run_until(w, s, 1);
	free(s);
	assert_int_equal(w->reasons[0], CLIENT_CONN_CLOSE_INACTIVITY);
	assert_int_equal(client_conn_error_code(w->reasons[0]),
			 PROTO_ERR_CAPTURE_CLIENT_INACTIVITY);

	/* pongs every 50 ms keep it alive well past 200 ms; the visit stalls at 600 ms */
	w->srv.params.ping_ms = 50;
	w->srv.params.stalled_ms = 600;
	w->visits_left = 1;
	w->trace[0] = '\0';
	s = script_start(w, S_STALL, NULL);
	run_until(w, s, 2);
	free(s);
	assert_string_equal(w->trace, "ready;visit:g0;start:g0;closed:stalled:0;");
	assert_int_equal(client_conn_error_code(w->reasons[1]), PROTO_ERR_VM_STALLED);
	assert_non_null(strstr(world_log(w), "not finished after 600 ms"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_good_client, world_setup, world_teardown),
	    cmocka_unit_test_setup_teardown(test_auth, world_setup, world_teardown),
	    cmocka_unit_test_setup_teardown(test_hostile_then_good, world_setup, world_teardown),
	    cmocka_unit_test_setup_teardown(test_deadlines, world_setup, world_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
