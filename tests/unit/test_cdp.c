/*
 * test_cdp.c - the CDP connection (cdp.h) against a fake peer over two
 * socketpairs: framing, partial reads, oversized and malformed messages,
 * out-of-order replies, events; and the net error table.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client/apps/cdp.h"
#include "client/apps/chromium.h"
#include "common/protocol.h"

struct fake {
	uv_loop_t loop;
	struct cdp *c;
	int peer_in;  /* the peer reads our commands here */
	int peer_out; /* and writes its messages here */
	char replies[8][256];
	int n_replies;
	char events[8][256];
	int n_events;
	char closed[128];
};

static void on_event(struct cdp *c, const char *session, const char *method, const json_t *params,
		     void *arg)
{
	struct fake *f = arg;

	(void)c;
	snprintf(f->events[f->n_events++ % 8], 256, "%s|%s|%d", session ? session : "-", method,
		 params ? (int)json_integer_value(json_object_get(params, "n")) : -1);
}

static void on_closed(struct cdp *c, const char *reason, void *arg)
{
	struct fake *f = arg;

	(void)c;
	snprintf(f->closed, sizeof(f->closed), "%s", reason);
}

static void on_reply(struct cdp *c, const json_t *result, const json_t *error, void *arg)
{
	struct fake *f = arg;

	(void)c;
	snprintf(f->replies[f->n_replies++ % 8], 256, "%s:%d", error ? "error" : "result",
		 (int)json_integer_value(json_object_get(error ? error : result, "v")));
}

static int setup(void **state)
{
	struct fake *f = calloc(1, sizeof(*f));
	struct cdp_callbacks cb = {on_event, on_closed, f};
	int cmd[2], msg[2];

	assert_non_null(f);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, cmd), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, msg), 0);
	assert_int_equal(uv_loop_init(&f->loop), 0);
	f->peer_in = cmd[1];
	f->peer_out = msg[1];
	assert_int_equal(cdp_open(&f->loop, cmd[0], msg[0], 256, &cb, &f->c), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fake *f = *state;

	cdp_free(f->c);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&f->loop), 0);
	close(f->peer_in);
	close(f->peer_out);
	free(f);
	return 0;
}

static void peer_send(struct fake *f, const char *bytes, size_t len)
{
	assert_int_equal(write(f->peer_out, bytes, len), (ssize_t)len);
}

static void spin(struct fake *f)
{
	for (int i = 0; i < 5; i++)
		uv_run(&f->loop, UV_RUN_NOWAIT);
}

/* The command as the peer reads it: one NUL-terminated JSON object. */
static void test_command_framing(void **state)
{
	struct fake *f = *state;
	char buf[512];
	ssize_t n;
	json_t *m;

	assert_int_equal(
	    cdp_call(f->c, "S1", "Page.navigate", json_pack("{s:s}", "url", "x"), on_reply, f), 1);
	assert_int_equal(cdp_call(f->c, NULL, "Browser.close", NULL, NULL, NULL), 2);
	spin(f);
	n = read(f->peer_in, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(buf[strlen(buf)], '\0');
	m = json_loads(buf, 0, NULL);
	assert_non_null(m);
	assert_int_equal(json_integer_value(json_object_get(m, "id")), 1);
	assert_string_equal(json_string_value(json_object_get(m, "method")), "Page.navigate");
	assert_string_equal(json_string_value(json_object_get(m, "sessionId")), "S1");
	json_decref(m);
	/* the second command follows the first NUL, without a session */
	m = json_loads(buf + strlen(buf) + 1, 0, NULL);
	assert_non_null(m);
	assert_null(json_object_get(m, "sessionId"));
	assert_true(json_is_object(json_object_get(m, "params")));
	json_decref(m);
}

/* Replies in any order; a message split across reads; two in one read. */
static void test_out_of_order_and_partial(void **state)
{
	struct fake *f = *state;
	static const char two[] =
	    "{\"id\":2,\"result\":{\"v\":22}}\0{\"method\":\"E\",\"params\":{\"n\":7}}";

	cdp_call(f->c, NULL, "A", NULL, on_reply, f);
	cdp_call(f->c, NULL, "B", NULL, on_reply, f);
	peer_send(f, two, sizeof(two)); /* sizeof includes the final NUL */
	spin(f);
	assert_int_equal(f->n_replies, 1);
	assert_string_equal(f->replies[0], "result:22");
	assert_int_equal(f->n_events, 1);
	assert_string_equal(f->events[0], "-|E|7");
	peer_send(f, "{\"id\":1,\"err", 12);
	spin(f);
	assert_int_equal(f->n_replies, 1); /* not complete yet */
	peer_send(f, "or\":{\"v\":11},\"sessionId\":\"S\"}", 30);
	spin(f);
	assert_int_equal(f->n_replies, 2);
	assert_string_equal(f->replies[1], "error:11");
	assert_string_equal(f->closed, "");
	assert_true(cdp_is_open(f->c));
}

static void test_session_event(void **state)
{
	struct fake *f = *state;
	static const char ev[] =
	    "{\"method\":\"Page.lifecycleEvent\",\"sessionId\":\"AB\",\"params\":{\"n\":3}}";

	peer_send(f, ev, sizeof(ev));
	spin(f);
	assert_string_equal(f->events[0], "AB|Page.lifecycleEvent|3");
}

/* A reply nobody asked for, or the same one twice, ends the connection. */
static void test_unknown_reply(void **state)
{
	struct fake *f = *state;
	static const char r1[] = "{\"id\":1,\"result\":{\"v\":1}}";

	cdp_call(f->c, NULL, "A", NULL, on_reply, f);
	peer_send(f, r1, sizeof(r1));
	peer_send(f, r1, sizeof(r1));
	spin(f);
	assert_int_equal(f->n_replies, 1);
	assert_string_equal(f->closed, "reply to a command that was not sent");
	assert_false(cdp_is_open(f->c));
	assert_int_equal(cdp_call(f->c, NULL, "B", NULL, on_reply, f), 0);
}

static void test_malformed(void **state)
{
	struct fake *f = *state;
	static const char bad[] = "{\"method\":";

	peer_send(f, bad, sizeof(bad));
	spin(f);
	assert_string_equal(f->closed, "malformed JSON message");
}

static void test_not_an_object(void **state)
{
	struct fake *f = *state;
	static const char bad[] = "[1,2]";

	peer_send(f, bad, sizeof(bad));
	spin(f);
	assert_string_equal(f->closed, "malformed JSON message");
}

static void test_badly_typed(void **state)
{
	struct fake *f = *state;
	static const char bad[] = "{\"method\":5}";

	peer_send(f, bad, sizeof(bad));
	spin(f);
	assert_string_equal(f->closed, "message without a method or with badly typed fields");
}

/* The limit is 256 bytes here: a longer message, even without its NUL yet, is refused. */
static void test_oversized(void **state)
{
	struct fake *f = *state;
	char big[600];

	memset(big, ' ', sizeof(big));
	big[0] = '{';
	peer_send(f, big, sizeof(big));
	spin(f);
	assert_string_equal(f->closed, "message too long");
	assert_int_equal(f->n_events, 0);
}

static void test_eof(void **state)
{
	struct fake *f = *state;

	close(f->peer_out);
	f->peer_out = socket(AF_UNIX, SOCK_STREAM, 0); /* for teardown */
	spin(f);
	assert_string_equal(f->closed, "the browser closed the pipe");
}

static void test_net_errors(void **state)
{
	uint32_t major, minor;

	(void)state;
	assert_int_equal(cdp_net_error("net::ERR_CONNECTION_REFUSED"), -102);
	assert_int_equal(cdp_net_error("net::ERR_NAME_NOT_RESOLVED"), -105);
	assert_int_equal(cdp_net_error("net::ERR_SOMETHING_NEW"), 0);
	assert_int_equal(cdp_net_error(NULL), 0);
	assert_true(chromium_nav_error("net::ERR_CONNECTION_REFUSED", false, &major, &minor));
	assert_int_equal(major, PROTO_ERR_NETWORK_ERROR);
	assert_int_equal(minor, 102);
	assert_true(chromium_nav_error("net::ERR_UNKNOWN_URL_SCHEME", false, &major, &minor));
	assert_int_equal(major, PROTO_ERR_INVALID_URL);
	assert_int_equal(minor, 302);
	assert_false(
	    chromium_nav_error("net::ERR_HTTP_RESPONSE_CODE_FAILURE", false, &major, &minor));
	assert_false(chromium_nav_error("net::ERR_ABORTED", true, &major, &minor));
	assert_false(chromium_nav_error("", false, &major, &minor));
	assert_int_equal(major, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_command_framing, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_out_of_order_and_partial, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_session_event, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unknown_reply, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_malformed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_not_an_object, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_badly_typed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_oversized, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_eof, setup, teardown),
	    cmocka_unit_test(test_net_errors),
	};

	return cmocka_run_group_tests_name("cdp", tests, NULL, NULL);
}
