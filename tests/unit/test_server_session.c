/*
 * test_server_session.c - the client's protocol state machine
 * (src/client/server_session.c) against a scripted fake server: messages
 * are encoded with the codec as a server sends them, and what the session
 * outputs is decoded with a client-direction reader and compared.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client/exclusion.h"
#include "client/server_session.h"
#include "common/buf.h"
#include "common/event.h"
#include "common/protocol.h"

#define NONCE "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
#define KEY   "secret key bytes"

struct fx {
	struct server_session *s;
	struct exclusion_set *excl;
	struct proto_reader *r; /* decodes what the session sends */
	int visits;
	char visit_id[64];
	char option[128];
	char closed[320];
	int closes;
	int uploads;
	int upload_status;
	char upload_reason[128];
	int rule_errors;
};

/* ---- callbacks ---- */

static void cb_visit(struct server_session *s, const struct proto_msg *v, void *arg)
{
	struct fx *f = arg;

	(void)s;
	f->visits++;
	snprintf(f->visit_id, sizeof(f->visit_id), "%s", v->u.visit.identifier);
}

static void cb_option(struct server_session *s, const char *name, const char *value, void *arg)
{
	struct fx *f = arg;

	(void)s;
	snprintf(f->option, sizeof(f->option), "%s=%s", name, value);
}

static void cb_closed(struct server_session *s, const char *reason, void *arg)
{
	struct fx *f = arg;

	(void)s;
	f->closes++;
	snprintf(f->closed, sizeof(f->closed), "%s", reason);
}

static void cb_upload(struct server_session *s, const char *name, int status, const char *reason,
		      void *arg)
{
	struct fx *f = arg;

	(void)s;
	(void)name;
	f->uploads++;
	f->upload_status = status;
	snprintf(f->upload_reason, sizeof(f->upload_reason), "%s", reason ? reason : "");
}

static void cb_rule_error(struct server_session *s, const char *reason, void *arg)
{
	struct fx *f = arg;

	(void)s;
	(void)reason;
	f->rule_errors++;
}

/* ---- fixture ---- */

static struct fx *fx_new(const char *key)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct server_session_config cfg = {.vm_server_id = "sandbox", .vm_id = "7"};
	struct server_session_callbacks cb = {.on_visit = cb_visit,
					      .on_option = cb_option,
					      .on_closed = cb_closed,
					      .on_upload = cb_upload,
					      .on_rule_error = cb_rule_error};

	assert_non_null(f);
	cb.arg = f;
	f->excl = exclusion_set_new();
	assert_non_null(f->excl);
	cfg.exclusions = f->excl;
	cfg.key = key;
	cfg.key_len = key ? strlen(key) : 0;
	f->s = server_session_new(&cfg, &cb);
	assert_non_null(f->s);
	f->r = proto_reader_new(PROTO_PEER_CLIENT, PROTO_MAX_MESSAGE_DEFAULT);
	assert_non_null(f->r);
	return f;
}

static void fx_free(struct fx *f)
{
	server_session_free(f->s);
	exclusion_set_free(f->excl);
	proto_reader_free(f->r);
	free(f);
}

/* Encodes M as the server sends it and feeds it; returns the feed's result. */
static int srv_send(struct fx *f, const struct proto_msg *m)
{
	struct buf b;
	int rc;

	buf_init(&b, PROTO_MAX_MESSAGE_DEFAULT);
	assert_int_equal(proto_encode_server(m, &b), 0);
	rc = server_session_feed(f->s, b.data, b.len);
	buf_free(&b);
	return rc;
}

static int srv_connect(struct fx *f, const char *challenge)
{
	struct proto_msg m;

	proto_msg_init(&m, PROTO_MSG_CONNECT);
	m.u.connect.server = "2.5";
	m.u.connect.capture_version = 1;
	m.u.connect.challenge = (char *)challenge;
	return srv_send(f, &m);
}

/* Next message the session sent into OUT: 1, or 0 if it sent nothing more. */
static int out_next(struct fx *f, struct proto_msg *out)
{
	char err[320];
	int rc;

	for (;;) {
		rc = proto_reader_next(f->r, out, err, sizeof(err));
		if (rc < 0)
			fail_msg("session sent bad output: %s", err);
		if (rc == 1)
			return 1;
		struct buf *b = server_session_output(f->s);
		size_t n = b->len < PROTO_FEED_MAX ? b->len : PROTO_FEED_MAX;

		if (n == 0)
			return 0;
		assert_int_equal(proto_reader_feed(f->r, b->data, n), 0);
		buf_consume(b, n);
	}
}

static void out_expect(struct fx *f, enum proto_msg_type type, struct proto_msg *out)
{
	assert_int_equal(out_next(f, out), 1);
	if (out->type != type)
		fail_msg("expected <%s>, got <%s>", proto_msg_name(type),
			 proto_msg_name(out->type));
}

static void out_none(struct fx *f)
{
	struct proto_msg m;

	assert_int_equal(out_next(f, &m), 0);
}

static struct fx *fx_connected(void)
{
	struct fx *f = fx_new(NULL);
	struct proto_msg m;

	assert_int_equal(srv_connect(f, NULL), 0);
	out_expect(f, PROTO_MSG_CONNECT, &m);
	proto_msg_free(&m);
	return f;
}

/* ---- handshake ---- */

static void test_handshake_plain(void **state)
{
	struct fx *f = fx_new(NULL);
	struct proto_msg m;

	(void)state;
	assert_int_equal(server_session_state(f->s), SERVER_SESSION_AWAIT_CONNECT);
	assert_int_equal(srv_connect(f, NULL), 0);
	out_expect(f, PROTO_MSG_CONNECT, &m);
	assert_string_equal(m.u.connect.vm_server_id, "sandbox");
	assert_string_equal(m.u.connect.vm_id, "7");
	assert_int_equal(m.u.connect.capture_version, PROTO_VERSION);
	proto_msg_free(&m);
	out_none(f);
	assert_int_equal(server_session_state(f->s), SERVER_SESSION_READY);
	assert_int_equal(server_session_version(f->s), 1);
	assert_null(server_session_close_reason(f->s));
	fx_free(f);
}

static void test_handshake_auth(void **state)
{
	struct fx *f = fx_new(KEY);
	struct proto_msg m;

	(void)state;
	assert_int_equal(srv_connect(f, NONCE), 0);
	out_expect(f, PROTO_MSG_AUTH, &m);
	assert_true(proto_auth_check(KEY, strlen(KEY), NONCE, m.u.auth.response));
	assert_false(proto_auth_check("other", 5, NONCE, m.u.auth.response));
	proto_msg_free(&m);
	out_expect(f, PROTO_MSG_CONNECT, &m);
	assert_string_equal(m.u.connect.vm_id, "7");
	proto_msg_free(&m);
	assert_int_equal(server_session_state(f->s), SERVER_SESSION_READY);
	fx_free(f);
}

static void test_handshake_missing_key(void **state)
{
	struct fx *f = fx_new(NULL);

	(void)state;
	assert_int_equal(srv_connect(f, NONCE), -1);
	assert_int_equal(errno, EPIPE);
	assert_int_equal(f->closes, 1);
	assert_non_null(strstr(f->closed, "--key FILE"));
	assert_string_equal(server_session_close_reason(f->s), f->closed);
	assert_int_equal(server_session_state(f->s), SERVER_SESSION_CLOSED);
	out_none(f);
	fx_free(f);
}

static void test_key_without_challenge(void **state)
{
	struct fx *f = fx_new(KEY);
	struct proto_msg m;

	(void)state;
	assert_int_equal(srv_connect(f, NULL), 0);
	out_expect(f, PROTO_MSG_CONNECT, &m); /* no <auth> to a server that did not ask */
	proto_msg_free(&m);
	fx_free(f);
}

static void test_reconnect(void **state)
{
	struct fx *f = fx_connected();
	struct proto_msg m;

	(void)state;
	server_session_mark_reconnect(f->s);
	assert_int_equal(server_session_state(f->s), SERVER_SESSION_AWAIT_CONNECT);
	assert_int_equal(srv_connect(f, NULL), 0);
	out_expect(f, PROTO_MSG_RECONNECT, &m);
	assert_string_equal(m.u.connect.vm_server_id, "sandbox");
	proto_msg_free(&m);
	fx_free(f);
}

/* ---- options, exclusions, ping ---- */

static void send_option(struct fx *f, const char *name, const char *value)
{
	struct proto_msg m;

	proto_msg_init(&m, PROTO_MSG_OPTION);
	m.u.option.name = (char *)name;
	m.u.option.value = (char *)value;
	assert_int_equal(srv_send(f, &m), 0);
}

static int send_rule(struct fx *f, enum proto_msg_type t, bool excl, const char *action,
		     const char *subject, const char *object)
{
	struct proto_msg m;

	proto_msg_init(&m, t);
	m.u.exclusion.excluded = excl;
	m.u.exclusion.action = (char *)action;
	m.u.exclusion.subject = (char *)subject;
	m.u.exclusion.object = (char *)object;
	return srv_send(f, &m);
}

static void test_options(void **state)
{
	struct fx *f = fx_connected();
	const struct server_session_options *o = server_session_options(f->s);

	(void)state;
	send_option(f, "collect-modified-files", "true");
	send_option(f, "capture-network-packets-malicious", "true");
	send_option(f, "capture-network-packets-benign", "false");
	assert_true(o->collect_modified_files);
	assert_true(o->capture_packets_malicious);
	assert_false(o->capture_packets_benign);
	assert_string_equal(f->option, "capture-network-packets-benign=false");
	send_option(f, "something-new", "1"); /* unknown: passed on, not fatal */
	assert_string_equal(f->option, "something-new=1");
	out_none(f);
	fx_free(f);
}

static void test_exclusions(void **state)
{
	struct fx *f = fx_connected();

	(void)state;
	assert_int_equal(send_rule(f, PROTO_MSG_FILE_EXCLUSION, true, "Write", ".*", "/tmp/.*"), 0);
	assert_int_equal(send_rule(f, PROTO_MSG_PROCESS_EXCLUSION, true, "sh", "bash", ".*"), 0);
	assert_int_equal(
	    send_rule(f, PROTO_MSG_CONNECTION_EXCLUSION, true, "tcp-connection", ".*", ".*:53"), 0);
	assert_int_equal(send_rule(f, PROTO_MSG_REGISTRY_EXCLUSION, false, "OpenKey", ".*", ".*"),
			 0);
	assert_int_equal(send_rule(f, PROTO_MSG_FILE_EXCLUSION, true, "Read", ".*", "(unclosed"),
			 0);
	assert_int_equal(server_session_state(f->s), SERVER_SESSION_READY);
	assert_int_equal(server_session_rule_errors(f->s), 1);
	assert_int_equal(f->rule_errors, 1);
	assert_int_equal(exclusion_rule_count(f->excl), 4);
	assert_true(exclusion_is_excluded(f->excl, EXCL_FILE, "Write", "/bin/x", "/tmp/a"));
	assert_false(exclusion_is_excluded(f->excl, EXCL_FILE, "Write", "/bin/x", "/etc/passwd"));
	assert_true(exclusion_is_excluded(f->excl, EXCL_PROCESS, "sh", "bash", "/bin/sh"));
	assert_true(
	    exclusion_is_excluded(f->excl, EXCL_CONNECTION, "tcp-connection", "x", "1.2.3.4:53"));
	assert_false(exclusion_is_excluded(f->excl, EXCL_REGISTRY, "OpenKey", "a", "b"));
	fx_free(f);
}

static void test_ping(void **state)
{
	struct fx *f = fx_connected();
	struct proto_msg m;

	(void)state;
	proto_msg_init(&m, PROTO_MSG_PING);
	assert_int_equal(srv_send(f, &m), 0);
	assert_int_equal(srv_send(f, &m), 0);
	out_expect(f, PROTO_MSG_PONG, &m);
	out_expect(f, PROTO_MSG_PONG, &m);
	out_none(f);
	fx_free(f);
}

/* ---- visits ---- */

static void send_visit(struct fx *f)
{
	struct proto_item items[2] = {{.id = "1", .url = "http://a.example/"},
				      {.id = "null", .url = "http://b.example/x?y=1&z=2"}};
	struct proto_msg m;

	proto_msg_init(&m, PROTO_MSG_VISIT_EVENT);
	m.u.visit.identifier = "42";
	m.u.visit.program = "firefox";
	m.u.visit.visit_time_s = 30;
	m.u.visit.n_items = 2;
	m.u.visit.items = items;
	assert_int_equal(srv_send(f, &m), 0);
}

static void check_items(const struct proto_msg *m, bool visited, uint32_t major, uint32_t minor)
{
	assert_int_equal(m->u.visit.n_items, 2);
	assert_string_equal(m->u.visit.items[0].url, "http://a.example/");
	assert_string_equal(m->u.visit.items[1].url, "http://b.example/x?y=1&z=2");
	for (size_t i = 0; i < 2; i++) {
		const struct proto_item *it = &m->u.visit.items[i];

		assert_string_equal(it->program, "firefox");
		assert_non_null(it->time);
		assert_int_equal(it->visited, visited);
		assert_int_equal(it->major_error_code, major);
		assert_int_equal(it->minor_error_code, minor);
	}
}

static void test_visit(void **state)
{
	struct fx *f = fx_connected();
	struct capture_event ev = {.type = EVENT_FILE,
				   .action = "Write",
				   .wall_ns = 1700000000123000000ull,
				   .pid = 1234,
				   .process = "/usr/bin/firefox",
				   .object1 = "/home/u/evil.sh",
				   .object2 = "-1"};
	struct proto_msg m;
	char when[32];

	(void)state;
	assert_int_equal(server_session_system_event(f->s, &ev), 0); /* allowed outside a visit */
	out_expect(f, PROTO_MSG_SYSTEM_EVENT, &m);
	proto_msg_free(&m);
	assert_int_equal(server_session_visit_start(f->s, NULL, "seq"), -1); /* no visit yet */
	assert_int_equal(errno, EINVAL);
	send_visit(f);
	assert_int_equal(f->visits, 1);
	assert_string_equal(f->visit_id, "42");
	assert_int_equal(server_session_state(f->s), SERVER_SESSION_VISIT_REQUESTED);

	assert_int_equal(server_session_visit_start(f->s, NULL, "seq"), 0);
	out_expect(f, PROTO_MSG_VISIT_EVENT, &m);
	assert_int_equal(m.u.visit.type, PROTO_VISIT_START);
	assert_string_equal(m.u.visit.identifier, "42");
	assert_string_equal(m.u.visit.program, "firefox");
	assert_string_equal(m.u.visit.algorithm, "seq");
	assert_false(m.u.visit.malicious);
	assert_int_equal(strlen(m.u.visit.time), 23); /* dd/MM/yyyy HH:mm:ss.mmm */
	check_items(&m, false, 0, 0);
	proto_msg_free(&m);

	assert_int_equal(server_session_system_event(f->s, &ev), 0);
	out_expect(f, PROTO_MSG_SYSTEM_EVENT, &m);
	event_format_time(ev.wall_ns, when, sizeof(when));
	assert_string_equal(m.u.event.time, when);
	assert_int_equal(strlen(when), 23);
	assert_true(when[2] == '/' && when[5] == '/' && when[19] == '.');
	assert_string_equal(m.u.event.type, "file");
	assert_int_equal(m.u.event.process_id, 1234);
	assert_string_equal(m.u.event.process, "/usr/bin/firefox");
	assert_string_equal(m.u.event.action, "Write");
	assert_string_equal(m.u.event.object1, "/home/u/evil.sh");
	assert_string_equal(m.u.event.object2, "-1");
	proto_msg_free(&m);

	assert_int_equal(server_session_visit_finish(f->s, NULL, true, 0, 0), 0);
	out_expect(f, PROTO_MSG_VISIT_EVENT, &m);
	assert_int_equal(m.u.visit.type, PROTO_VISIT_FINISH);
	assert_true(m.u.visit.malicious);
	assert_int_equal(m.u.visit.error_code, 0);
	check_items(&m, true, 0, 0);
	proto_msg_free(&m);
	out_none(f);
	assert_int_equal(server_session_state(f->s), SERVER_SESSION_READY);
	assert_int_equal(server_session_visit_finish(f->s, NULL, false, 0, 0), -1);
	fx_free(f);
}

static void test_visit_error(void **state)
{
	struct fx *f = fx_connected();
	struct proto_msg m;

	(void)state;
	send_visit(f);
	assert_int_equal(server_session_visit_start(f->s, NULL, NULL), 0);
	out_expect(f, PROTO_MSG_VISIT_EVENT, &m);
	assert_null(m.u.visit.algorithm);
	proto_msg_free(&m);
	assert_int_equal(
	    server_session_visit_finish(f->s, NULL, false, PROTO_ERR_NETWORK_ERROR, 404), 0);
	out_expect(f, PROTO_MSG_VISIT_EVENT, &m);
	assert_int_equal(m.u.visit.type, PROTO_VISIT_ERROR);
	assert_int_equal(m.u.visit.error_code, PROTO_ERR_NETWORK_ERROR);
	assert_false(m.u.visit.malicious);
	check_items(&m, true, PROTO_ERR_NETWORK_ERROR, 404);
	proto_msg_free(&m);
	fx_free(f);
}

/* A group whose URLs failed differently: each item carries its own code, 0 for the fine one. */
static void test_visit_error_per_item(void **state)
{
	struct fx *f = fx_connected();
	struct proto_item items[2] = {
	    {.id = "1", .url = "http://a.example/", .process_id = 7},
	    {.id = "null",
	     .url = "http://b.example/x?y=1&z=2",
	     .major_error_code = PROTO_ERR_NETWORK_ERROR,
	     .minor_error_code = 102},
	};
	struct proto_visit report = {
	    .identifier = "42", .program = "firefox", .n_items = 2, .items = items};
	struct proto_msg m;

	(void)state;
	send_visit(f);
	assert_int_equal(server_session_visit_start(f->s, NULL, "bulk"), 0);
	out_expect(f, PROTO_MSG_VISIT_EVENT, &m);
	proto_msg_free(&m);
	assert_int_equal(
	    server_session_visit_finish(f->s, &report, false, PROTO_ERR_NETWORK_ERROR, 102), 0);
	out_expect(f, PROTO_MSG_VISIT_EVENT, &m);
	assert_int_equal(m.u.visit.type, PROTO_VISIT_ERROR);
	assert_int_equal(m.u.visit.n_items, 2);
	assert_int_equal(m.u.visit.items[0].major_error_code, 0);
	assert_int_equal(m.u.visit.items[0].minor_error_code, 0);
	assert_int_equal(m.u.visit.items[0].process_id, 7);
	assert_int_equal(m.u.visit.items[1].major_error_code, PROTO_ERR_NETWORK_ERROR);
	assert_int_equal(m.u.visit.items[1].minor_error_code, 102);
	proto_msg_free(&m);
	fx_free(f);
}

static void test_second_visit_closes(void **state)
{
	struct fx *f = fx_connected();
	struct proto_item item = {.id = "1", .url = "http://c/"};
	struct proto_msg m;

	(void)state;
	send_visit(f);
	proto_msg_init(&m, PROTO_MSG_VISIT_EVENT);
	m.u.visit.identifier = "43";
	m.u.visit.program = "firefox";
	m.u.visit.n_items = 1;
	m.u.visit.items = &item;
	assert_int_equal(srv_send(f, &m), -1);
	assert_non_null(strstr(f->closed, "visit"));
	assert_int_equal(server_session_visit_start(f->s, NULL, NULL), -1);
	assert_int_equal(errno, EPIPE);
	fx_free(f);
}

/* ---- uploads ---- */

static char *temp_file(unsigned char *data, size_t len)
{
	char *path = strdup("/tmp/test_server_session.XXXXXX.zip");
	int fd;

	assert_non_null(path);
	fd = mkstemps(path, 4);
	assert_true(fd >= 0);
	for (size_t i = 0; i < len; i++)
		data[i] = (unsigned char)(rand() & 0xff);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
	return path;
}

static void send_file_reply(struct fx *f, enum proto_msg_type t, const char *name, int want)
{
	struct proto_msg m;

	proto_msg_init(&m, t);
	m.u.file.name = (char *)name;
	assert_int_equal(srv_send(f, &m), want);
}

static void test_upload(void **state)
{
	enum {
		LEN = 20 * 1024
	};
	static unsigned char data[LEN], got[LEN];
	struct fx *f = fx_connected();
	char *path = temp_file(data, LEN);
	struct proto_msg m;
	size_t parts = 0, total = 0;

	(void)state;
	assert_int_equal(server_session_upload(f->s, "capture_1.zip", path), 0);
	assert_true(server_session_upload_pending(f->s));
	assert_int_equal(server_session_upload(f->s, "other.zip", path), -1); /* one at a time */
	out_expect(f, PROTO_MSG_FILE, &m);
	assert_string_equal(m.u.file.name, "capture_1.zip");
	assert_int_equal(m.u.file.size, LEN);
	assert_string_equal(m.u.file.type, "zip");
	proto_msg_free(&m);
	out_none(f); /* nothing before file-accept */

	send_file_reply(f, PROTO_MSG_FILE_ACCEPT, "capture_1.zip", 0);
	while (out_next(f, &m) == 1 && m.type == PROTO_MSG_PART) {
		assert_string_equal(m.u.part.name, "capture_1.zip");
		assert_int_equal(m.u.part.start, total);
		assert_true(m.u.part.len <= PROTO_PART_SIZE);
		memcpy(got + total, m.u.part.data, m.u.part.len);
		total += m.u.part.len;
		parts++;
		proto_msg_free(&m);
	}
	assert_int_equal(m.type, PROTO_MSG_FILE_FINISHED);
	assert_string_equal(m.u.file.name, "capture_1.zip");
	assert_int_equal(m.u.file.size, LEN);
	proto_msg_free(&m);
	assert_int_equal(parts, 3);
	assert_int_equal(total, LEN);
	assert_memory_equal(got, data, LEN);
	assert_int_equal(f->uploads, 1);
	assert_int_equal(f->upload_status, 0);
	assert_false(server_session_upload_pending(f->s));
	out_none(f);
	unlink(path);
	free(path);
	fx_free(f);
}

static void test_upload_reject_and_timeout(void **state)
{
	static unsigned char data[100];
	struct fx *f = fx_connected();
	char *path = temp_file(data, sizeof(data));
	struct proto_msg m;

	(void)state;
	assert_int_equal(server_session_upload(f->s, "a.zip", path), 0);
	out_expect(f, PROTO_MSG_FILE, &m);
	proto_msg_free(&m);
	send_file_reply(f, PROTO_MSG_FILE_REJECT, "a.zip", 0);
	assert_int_equal(f->uploads, 1);
	assert_int_equal(f->upload_status, -1);
	assert_non_null(strstr(f->upload_reason, "rejected"));
	assert_false(server_session_upload_pending(f->s));
	out_none(f);

	assert_int_equal(server_session_upload(f->s, "b.zip", path), 0);
	out_expect(f, PROTO_MSG_FILE, &m);
	proto_msg_free(&m);
	server_session_upload_timeout(f->s);
	assert_int_equal(f->uploads, 2);
	assert_int_equal(f->upload_status, -1);
	assert_non_null(strstr(f->upload_reason, "file-accept"));
	out_none(f);

	assert_int_equal(server_session_upload(f->s, "c.zip", "/nonexistent/x.zip"), -1);
	assert_int_equal(errno, ENOENT);
	/* a file-accept nobody asked for closes the session */
	send_file_reply(f, PROTO_MSG_FILE_ACCEPT, "a.zip", -1);
	assert_non_null(strstr(f->closed, "file-accept"));
	assert_int_equal(server_session_state(f->s), SERVER_SESSION_CLOSED);
	unlink(path);
	free(path);
	fx_free(f);
}

/* ---- hostile input ---- */

static void test_garbage(void **state)
{
	static const char junk[] = "<connect server=\"2.5\"<<>>\0";
	struct fx *f = fx_new(NULL);

	(void)state;
	assert_int_equal(server_session_feed(f->s, junk, sizeof(junk) - 1), -1);
	assert_int_equal(f->closes, 1);
	assert_non_null(strstr(f->closed, "bad input from the server"));
	assert_int_equal(server_session_feed(f->s, "x", 1), -1);
	assert_int_equal(errno, EPIPE);
	assert_int_equal(f->closes, 1);
	fx_free(f);
}

static void test_before_connect_and_oversize(void **state)
{
	struct fx *f = fx_new(NULL);
	struct proto_msg m;
	char *big;

	(void)state;
	proto_msg_init(&m, PROTO_MSG_PING);
	assert_int_equal(srv_send(f, &m), -1);
	assert_non_null(strstr(f->closed, "before <connect>"));
	fx_free(f);

	f = fx_connected();
	big = malloc(PROTO_MAX_MESSAGE_DEFAULT + 16);
	assert_non_null(big);
	memset(big, 'a', PROTO_MAX_MESSAGE_DEFAULT + 16);
	assert_int_equal(server_session_feed(f->s, big, PROTO_MAX_MESSAGE_DEFAULT + 16), -1);
	assert_non_null(strstr(f->closed, "bad input"));
	free(big);
	fx_free(f);
}

static void test_new_invalid(void **state)
{
	struct server_session_config cfg = {.vm_server_id = "a"};

	(void)state;
	assert_null(server_session_new(&cfg, NULL));
	assert_int_equal(errno, EINVAL);
	assert_null(server_session_new(NULL, NULL));
	server_session_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_handshake_plain),
	    cmocka_unit_test(test_handshake_auth),
	    cmocka_unit_test(test_handshake_missing_key),
	    cmocka_unit_test(test_key_without_challenge),
	    cmocka_unit_test(test_reconnect),
	    cmocka_unit_test(test_options),
	    cmocka_unit_test(test_exclusions),
	    cmocka_unit_test(test_ping),
	    cmocka_unit_test(test_visit),
	    cmocka_unit_test(test_visit_error),
	    cmocka_unit_test(test_visit_error_per_item),
	    cmocka_unit_test(test_second_visit_closes),
	    cmocka_unit_test(test_upload),
	    cmocka_unit_test(test_upload_reject_and_timeout),
	    cmocka_unit_test(test_garbage),
	    cmocka_unit_test(test_before_connect_and_oversize),
	    cmocka_unit_test(test_new_invalid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
