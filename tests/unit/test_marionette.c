/*
 * test_marionette.c - the Marionette client (marionette.h) against a fake
 * peer on a loopback TCP listener: greeting, command framing, partial
 * reads, several replies in one read, error replies, oversized and
 * malformed messages, EOF, a refused connect; the pure frame parser; and
 * the firefox driver's pure parts (firefox.h): error-page mapping, user.js,
 * and its launch script run for real with a fake browser.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "client/apps/driver.h"
#include "client/apps/firefox.h"
#include "client/apps/marionette.h"
#include "common/protocol.h"

#define GREETING "{\"applicationType\":\"gecko\",\"marionetteProtocol\":3}"

struct fake {
	uv_loop_t loop;
	struct marionette *m;
	int listener;
	int peer; /* the fake browser's end */
	struct sockaddr_in addr;
	bool ready;
	bool closed, connected;
	char reason[160];
	char replies[8][256];
	int n_replies;
};

static void on_ready(struct marionette *m, void *arg)
{
	struct fake *f = arg;

	(void)m;
	f->ready = true;
}

static void on_closed(struct marionette *m, bool connected, const char *reason, void *arg)
{
	struct fake *f = arg;

	(void)m;
	f->closed = true;
	f->connected = connected;
	snprintf(f->reason, sizeof(f->reason), "%s", reason);
}

static void on_reply(struct marionette *m, const json_t *error, const json_t *result, void *arg)
{
	struct fake *f = arg;
	char *r = json_dumps(result, JSON_ENCODE_ANY | JSON_COMPACT);

	(void)m;
	snprintf(f->replies[f->n_replies++ % 8], 256, "%s|%s|%s", marionette_error_kind(error),
		 marionette_error_message(error), r ? r : "?");
	free(r);
}

/* Runs the loop for about MS milliseconds. */
static void spin(struct fake *f, int ms)
{
	for (int i = 0; i < ms; i++) {
		uv_run(&f->loop, UV_RUN_NOWAIT);
		usleep(1000);
	}
}

static void peer_send(struct fake *f, const char *s)
{
	assert_int_equal(write(f->peer, s, strlen(s)), (ssize_t)strlen(s));
}

/* Everything the client wrote so far (waits up to 1 s for the first byte). */
static void peer_read(struct fake *f, char *buf, size_t len)
{
	struct pollfd p = {.fd = f->peer, .events = POLLIN};
	ssize_t n;

	spin(f, 20);
	assert_int_equal(poll(&p, 1, 1000), 1);
	n = read(f->peer, buf, len - 1);
	assert_true(n > 0);
	buf[n] = '\0';
}

static int open_listener(struct fake *f)
{
	socklen_t alen = sizeof(f->addr);

	f->listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	f->addr.sin_family = AF_INET;
	f->addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (f->listener < 0 ||
	    bind(f->listener, (struct sockaddr *)&f->addr, sizeof(f->addr)) < 0 ||
	    listen(f->listener, 4) < 0 ||
	    getsockname(f->listener, (struct sockaddr *)&f->addr, &alen) < 0)
		return -1;
	return 0;
}

/* A client connected to the fake peer, with MAX as its message limit. */
static int start(struct fake *f, size_t max)
{
	struct marionette_callbacks cb = {.on_ready = on_ready, .on_closed = on_closed, .arg = f};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	if (fd < 0 || marionette_connect(&f->loop, fd, &f->addr, max, &cb, &f->m) < 0)
		return -1;
	spin(f, 10);
	f->peer = accept4(f->listener, NULL, NULL, SOCK_CLOEXEC);
	/* every peer_send() is its own segment: no Nagle delay between the pieces */
	if (f->peer < 0 || setsockopt(f->peer, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0)
		return -1;
	return 0;
}

static int setup(void **state)
{
	struct fake *f = calloc(1, sizeof(*f));

	if (!f || uv_loop_init(&f->loop) != 0 || open_listener(f) < 0 || start(f, 256) < 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fake *f = *state;

	marionette_free(f->m);
	spin(f, 5);
	close(f->peer);
	close(f->listener);
	assert_int_equal(uv_loop_close(&f->loop), 0);
	free(f);
	return 0;
}

/* ---- the connection ---- */

static void test_greeting_and_framing(void **state)
{
	struct fake *f = *state;
	char buf[512];

	assert_int_equal(marionette_call(f->m, "WebDriver:Status", NULL, on_reply, f), 0);
	peer_send(f, "50:" GREETING);
	spin(f, 10);
	assert_true(f->ready);
	assert_true(marionette_is_ready(f->m));
	assert_int_equal(marionette_call(f->m, "WebDriver:NewSession",
					 json_pack("{s:s}", "pageLoadStrategy", "normal"), on_reply,
					 f),
			 1);
	peer_read(f, buf, sizeof(buf));
	assert_string_equal(buf,
			    "58:[0,1,\"WebDriver:NewSession\",{\"pageLoadStrategy\":\"normal\"}]");
	assert_int_equal(marionette_call(f->m, "WebDriver:GetCurrentURL", NULL, on_reply, f), 2);
	peer_read(f, buf, sizeof(buf));
	assert_string_equal(buf, "34:[0,2,\"WebDriver:GetCurrentURL\",{}]");
	peer_send(f, "22:[1,2,null,{\"value\":1}]22:[1,1,null,{\"value\":2}]");
	spin(f, 10);
	assert_int_equal(f->n_replies, 2);
	assert_string_equal(f->replies[0], "||{\"value\":1}");
	assert_string_equal(f->replies[1], "||{\"value\":2}");
	assert_false(f->closed);
}

static void test_partial_reads(void **state)
{
	struct fake *f = *state;
	const char *greeting = "50:" GREETING;
	char one[2] = "";

	for (size_t i = 0; i < strlen(greeting); i++) {
		one[0] = greeting[i];
		peer_send(f, one);
		spin(f, 1);
		assert_int_equal(f->ready, i + 1 == strlen(greeting));
	}
	assert_int_equal(marionette_call(f->m, "WebDriver:Navigate",
					 json_pack("{s:s}", "url", "http://a/"), on_reply, f),
			 1);
	peer_send(f, "2");
	spin(f, 3);
	peer_send(f, "5:[1,1,null,");
	spin(f, 3);
	assert_int_equal(f->n_replies, 0);
	peer_send(f, "{\"value\":null}]");
	spin(f, 5);
	assert_int_equal(f->n_replies, 1);
	assert_string_equal(f->replies[0], "||{\"value\":null}");
}

static void test_error_reply(void **state)
{
	struct fake *f = *state;

	peer_send(f, "50:" GREETING);
	spin(f, 5);
	assert_int_equal(marionette_call(f->m, "WebDriver:Navigate", NULL, on_reply, f), 1);
	peer_send(f, "93:[1,1,{\"error\":\"timeout\",\"message\":\"Navigation timed out after 3000 "
		     "ms\",\"stacktrace\":\"\"},null]");
	spin(f, 5);
	assert_int_equal(f->n_replies, 1);
	assert_string_equal(f->replies[0], "timeout|Navigation timed out after 3000 ms|null");
	assert_false(f->closed);
}

/* Sends RAW after the greeting (unless GREETED is false) and expects a close with REASON. */
static void expect_close(struct fake *f, bool greeted, const char *raw, const char *reason)
{
	if (greeted) {
		peer_send(f, "50:" GREETING);
		spin(f, 5);
		assert_true(f->ready);
		assert_int_not_equal(marionette_call(f->m, "WebDriver:Status", NULL, on_reply, f),
				     0);
	}
	peer_send(f, raw);
	spin(f, 10);
	assert_true(f->closed);
	assert_true(f->connected);
	assert_non_null(strstr(f->reason, reason));
	assert_int_equal(f->n_replies, 0); /* the pending command is dropped */
	assert_false(marionette_is_ready(f->m));
	assert_int_equal(marionette_call(f->m, "WebDriver:Status", NULL, on_reply, f), 0);
}

static void test_oversized(void **state)
{
	expect_close(*state, true, "257:[1,1,null,", "longer than the limit");
}

static void test_length_too_long(void **state)
{
	expect_close(*state, true, "12345678901", "longer than 10 digits");
}

static void test_malformed_length(void **state)
{
	expect_close(*state, true, "1x:[", "malformed length field");
}

static void test_zero_length(void **state)
{
	expect_close(*state, true, "0:", "zero");
}

static void test_not_json(void **state)
{
	expect_close(*state, true, "5:hello", "not JSON");
}

static void test_not_a_reply(void **state)
{
	expect_close(*state, true, "14:[0,1,\"x\",null]", "not a reply");
}

static void test_reply_unknown_id(void **state)
{
	expect_close(*state, true, "16:[1,99,null,null]", "not sent");
}

static void test_bad_greeting(void **state)
{
	expect_close(*state, false, "50:{\"applicationType\":\"gecko\",\"marionetteProtocol\":2}",
		     "protocol level 3");
}

static void test_eof(void **state)
{
	struct fake *f = *state;

	peer_send(f, "50:" GREETING);
	spin(f, 5);
	assert_int_not_equal(marionette_call(f->m, "WebDriver:Navigate", NULL, on_reply, f), 0);
	shutdown(f->peer, SHUT_WR);
	spin(f, 10);
	assert_true(f->closed);
	assert_true(f->connected);
	assert_string_equal(f->reason, "the browser closed the connection");
	assert_int_equal(f->n_replies, 0);
}

static void test_connect_refused(void **state)
{
	struct fake *f = *state;
	struct marionette_callbacks cb = {.on_ready = on_ready, .on_closed = on_closed, .arg = f};
	struct sockaddr_in addr = f->addr;
	struct marionette *m = NULL;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	close(f->listener); /* nothing listens on that port any more */
	f->listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(marionette_connect(&f->loop, fd, &addr, 0, &cb, &m), 0);
	f->closed = false;
	spin(f, 20);
	assert_true(f->closed);
	assert_false(f->connected);
	assert_non_null(strstr(f->reason, "connect"));
	marionette_free(m);
}

/* ---- pure parts ---- */

static void test_frame(void **state)
{
	size_t hdr = 0, body = 0;
	const char *why;

	(void)state;
	assert_int_equal(marionette_frame("", 0, 100, &hdr, &body, &why), 0);
	assert_int_equal(marionette_frame("12", 2, 100, &hdr, &body, &why), 0);
	assert_int_equal(marionette_frame("2:{}", 4, 100, &hdr, &body, &why), 1);
	assert_int_equal(hdr, 2);
	assert_int_equal(body, 2);
	assert_int_equal(marionette_frame("3:{}", 4, 100, &hdr, &body, &why), 0);
	assert_int_equal(marionette_frame("2:{}9:", 6, 100, &hdr, &body, &why), 1);
	assert_int_equal(marionette_frame(":{}", 3, 100, &hdr, &body, &why), -1);
	assert_int_equal(marionette_frame("02:{}", 5, 100, &hdr, &body, &why), -1);
	assert_int_equal(marionette_frame("-2:{}", 5, 100, &hdr, &body, &why), -1);
	assert_int_equal(marionette_frame("101:", 4, 100, &hdr, &body, &why), -1);
	assert_non_null(strstr(why, "limit"));
	assert_int_equal(marionette_frame("100:", 4, 100, &hdr, &body, &why), 0);
	assert_int_equal(marionette_frame("1234567890", 10, ~(size_t)0, &hdr, &body, &why), 0);
	assert_int_equal(marionette_frame("99999999999:", 12, ~(size_t)0, &hdr, &body, &why), -1);
}

static void expect_nav(const char *kind, const char *message, bool is_error, uint32_t major,
		       uint32_t minor, const char *name)
{
	uint32_t got_major = 7, got_minor = 7;
	char got_name[32];

	assert_int_equal(
	    firefox_nav_error(kind, message, &got_major, &got_minor, got_name, sizeof(got_name)),
	    is_error);
	assert_int_equal(got_major, major);
	assert_int_equal(got_minor, minor);
	assert_string_equal(got_name, name);
}

static void test_nav_errors(void **state)
{
	(void)state;
	expect_nav("unknown error",
		   "Reached error page: about:neterror?e=dnsNotFound&u=http%3A//x/&c=UTF-8", true,
		   PROTO_ERR_NETWORK_ERROR, FIREFOX_NE_DNS_NOT_FOUND, "dnsNotFound");
	expect_nav("unknown error",
		   "Reached error page: about:neterror?e=connectionFailure&u=", true,
		   PROTO_ERR_NETWORK_ERROR, 2, "connectionFailure");
	expect_nav("unknown error", "Reached error page: about:neterror?e=netTimeout", true,
		   PROTO_ERR_NETWORK_ERROR, 3, "netTimeout");
	expect_nav("unknown error", "Reached error page: about:certerror?e=nssBadCert&u=", true,
		   PROTO_ERR_NETWORK_ERROR, FIREFOX_NE_NSS_BAD_CERT, "nssBadCert");
	expect_nav("unknown error", "Reached error page: about:neterror?e=basicHttpAuthDisabled",
		   true, PROTO_ERR_NETWORK_ERROR, FIREFOX_NE_HTTP_AUTH_DISABLED,
		   "basicHttpAuthDisabled");
	expect_nav("unknown error", "Reached error page: about:neterror?e=somethingNew&u=", true,
		   PROTO_ERR_NETWORK_ERROR, FIREFOX_NE_UNKNOWN, "somethingNew");
	expect_nav("unknown error", "Reached error page: about:neterror?e=malformedURI", true,
		   PROTO_ERR_INVALID_URL, 0, "malformedURI");
	expect_nav("unknown error", "Reached error page: about:neterror?e=unknownProtocolFound",
		   true, PROTO_ERR_INVALID_URL, 0, "unknownProtocolFound");
	expect_nav("unknown error", "Reached error page: about:neterror?e=httpErrorPage&u=", false,
		   0, 0, "httpErrorPage");
	/* a name longer than the buffer is cut, never overflows */
	expect_nav("unknown error", "about:neterror?e=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		   true, PROTO_ERR_NETWORK_ERROR, 0, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	expect_nav("unknown error", "something broke", true, PROTO_ERR_PROCESS_ERROR, 0, "");
	expect_nav("timeout", "Navigation timed out after 3000 ms", true, PROTO_ERR_TIMEOUT_ERROR,
		   0, "");
	expect_nav("invalid argument", "Malformed URL", true, PROTO_ERR_INVALID_URL, 0, "");
	expect_nav("no such window", "", true, PROTO_ERR_PROCESS_ERROR, 0, "");
	expect_nav("unexpected alert open", "", false, 0, 0, "");
	expect_nav("", "", false, 0, 0, "");
	expect_nav(NULL, NULL, false, 0, 0, "");
}

static void test_user_js(void **state)
{
	const char *js = firefox_user_js(), *p = js;
	size_t lines = 0;

	(void)state;
	while (*p) {
		const char *nl = strchr(p, '\n');

		assert_non_null(nl);
		assert_memory_equal(p, "user_pref(\"", 11);
		assert_memory_equal(nl - 2, ");", 2);
		p = nl + 1;
		lines++;
	}
	assert_true(lines > 50);
	assert_non_null(strstr(js, "user_pref(\"remote.prefs.recommended\", false);"));
	assert_non_null(strstr(
	    js, "user_pref(\"services.settings.server\", \"data:,#remote-settings-dummy/v1\");"));
	assert_non_null(strstr(js, "user_pref(\"browser.download.useDownloadDir\", true);"));
	assert_null(strstr(js, "marionette.port")); /* the launch script adds it per browser */
}

/* ---- the launch ---- */

static void on_done(struct driver *d, void *arg)
{
	(void)d;
	(void)arg;
}

static struct driver *new_driver(uv_loop_t *loop, const char *const *urls, size_t n,
				 enum driver_layout layout, const char *exe, const char *dl)
{
	struct driver_callbacks cb = {.on_done = on_done};
	struct driver_visit v = {.urls = urls,
				 .n_urls = n,
				 .visit_time_s = 1,
				 .layout = layout,
				 .exe = exe,
				 .downloads_dir = dl,
				 .tag = "t1"};
	struct driver *d = NULL;
	char err[256];

	assert_int_equal(driver_new(loop, "FireFox", &v, &cb, &d, err, sizeof(err)), 0);
	return d;
}

static void test_launch_argv(void **state)
{
	const char *urls[] = {"http://a/", "http://b/"};
	uv_loop_t loop;
	struct driver *d;

	(void)state;
	assert_true(driver_handles("firefox"));
	uv_loop_init(&loop);
	d = new_driver(&loop, urls, 2, DRIVER_LAYOUT_TABS, NULL, "/home/u/Down\"loads");
	assert_string_equal(d->launch.exe, FIREFOX_PATH);
	assert_true(d->launch.launcher);
	assert_int_equal(d->launch.n_fds, 0);
	assert_string_equal(d->launch.argv[0], "/bin/sh");
	assert_non_null(strstr(d->launch.argv[4], firefox_user_js()));
	assert_non_null(strstr(d->launch.argv[4],
			       "user_pref(\"browser.download.dir\", \"/home/u/Down\\\"loads\");"));
	assert_string_equal(d->launch.argv[5], FIREFOX_PATH);
	assert_memory_equal(d->launch.argv[6], FIREFOX_PROFILE_BASE, strlen(FIREFOX_PROFILE_BASE));
	assert_int_equal(strlen(d->launch.argv[6]), strlen(FIREFOX_PROFILE_BASE) + 16);
	assert_null(d->launch.argv[7]); /* one browser for "dac" */
	driver_free(d);
	d = new_driver(&loop, urls, 2, DRIVER_LAYOUT_PROCESSES, "/opt/ff", NULL);
	assert_string_equal(d->launch.exe, "/opt/ff");
	assert_non_null(strstr(d->launch.argv[4], "browser.download.folderList\", 1"));
	assert_non_null(d->launch.argv[7]); /* one profile per URL for "bulk" */
	assert_string_not_equal(d->launch.argv[6], d->launch.argv[7]);
	driver_free(d);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
}

/* FILE's contents (at most LEN - 1 bytes). */
static void slurp(const char *path, char *buf, size_t len)
{
	FILE *fp = fopen(path, "r");
	size_t n;

	assert_non_null(fp);
	n = fread(buf, 1, len - 1, fp);
	buf[n] = '\0';
	fclose(fp);
}

/* Runs the real launch script with a fake browser that records its arguments. */
static void test_launch_script(void **state)
{
	const char *urls[] = {"http://a/", "http://b/"};
	char dir[] = "/tmp/test-marionette-XXXXXX", fakebr[64], out[64], buf[8192], path[128];
	uv_loop_t loop;
	struct driver *d;
	int status;
	pid_t pid;
	FILE *fp;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(fakebr, sizeof(fakebr), "%s/browser", dir);
	snprintf(out, sizeof(out), "%s/args", dir);
	fp = fopen(fakebr, "w");
	assert_non_null(fp);
	fprintf(fp, "#!/bin/sh\necho \"$MOZ_REMOTE_SETTINGS_DEVTOOLS $*\" >> %s\n", out);
	fclose(fp);
	chmod(fakebr, 0755);
	uv_loop_init(&loop);
	d = new_driver(&loop, urls, 2, DRIVER_LAYOUT_PROCESSES, fakebr, NULL);
	pid = fork();
	if (pid == 0) {
		execv(d->launch.argv[0], d->launch.argv);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	slurp(out, buf, sizeof(buf));
	assert_non_null(strstr(buf, "1 --headless --no-remote --marionette --profile "));
	assert_non_null(strstr(buf, d->launch.argv[6]));
	assert_non_null(strstr(buf, d->launch.argv[7]));
	for (int i = 0; i < 2; i++) {
		struct stat st;

		snprintf(path, sizeof(path), "%s/user.js", d->launch.argv[6 + i]);
		slurp(path, buf, sizeof(buf));
		assert_non_null(strstr(buf, firefox_user_js()));
		assert_non_null(strstr(buf, i ? "user_pref(\"marionette.port\", 2829);"
					      : "user_pref(\"marionette.port\", 2828);"));
		assert_int_equal(stat(d->launch.argv[6 + i], &st), 0);
		assert_int_equal(st.st_mode & 0777, 0700);
		unlink(path);
		rmdir(d->launch.argv[6 + i]);
	}
	driver_free(d);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
	unlink(out);
	unlink(fakebr);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_greeting_and_framing, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_partial_reads, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_error_reply, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_oversized, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_length_too_long, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_malformed_length, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_zero_length, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_not_json, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_not_a_reply, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reply_unknown_id, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_greeting, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_eof, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_connect_refused, setup, teardown),
	    cmocka_unit_test(test_frame),
	    cmocka_unit_test(test_nav_errors),
	    cmocka_unit_test(test_user_js),
	    cmocka_unit_test(test_launch_argv),
	    cmocka_unit_test(test_launch_script),
	};

	if (getenv("CAPTURE_TEST_FILTER")) /* run one test: CAPTURE_TEST_FILTER=test_name */
		cmocka_set_test_filter(getenv("CAPTURE_TEST_FILTER"));
	return cmocka_run_group_tests_name("marionette", tests, NULL, NULL);
}
