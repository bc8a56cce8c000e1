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
#include <limits.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "client/apps/driver.h"
#include "client/apps/firefox.h"
#include "client/apps/marionette.h"
#include "common/log.h"
#include "common/protocol.h"
#include "common/util.h"
#include "guest/netns.h"

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

/* Records the length of a reply's string value and whether it is all 'A's. */
static void on_big_reply(struct marionette *m, const json_t *error, const json_t *result, void *arg)
{
	struct fake *f = arg;
	const char *v = json_string_value(json_object_get(result, "value"));
	size_t n = v ? strlen(v) : 0, a = 0;

	(void)m;
	(void)error;
	while (a < n && v[a] == 'A')
		a++;
	snprintf(f->replies[f->n_replies++ % 8], 256, "%zu%s", n, a == n ? "" : " (not all A)");
}

/* Sends LEN bytes of TEXT in pieces of 64 KiB, letting the client read between them. */
static void peer_send_big(struct fake *f, const char *text, size_t len)
{
	for (size_t off = 0; off < len;) {
		size_t n = len - off < 65536 ? len - off : 65536;
		ssize_t w = write(f->peer, text + off, n);

		assert_true(w > 0);
		off += (size_t)w;
		spin(f, 1);
	}
}

/* Replies to ID with {"value":"AAA..."} (N letters), framed, sent in pieces. */
static void peer_send_letters(struct fake *f, uint32_t id, size_t n)
{
	char head[64], *msg;
	int h = snprintf(head, sizeof(head), "[1,%u,null,{\"value\":\"", id);
	size_t body = (size_t)h + n + 3;
	int pre;

	msg = malloc(body + 32);
	assert_non_null(msg);
	pre = snprintf(msg, 32, "%zu:%s", body, head);
	memset(msg + pre, 'A', n);
	memcpy(msg + (size_t)pre + n, "\"}]", 3);
	peer_send_big(f, msg, (size_t)pre + n + 3);
	free(msg);
}

/*
 * Screenshot-sized replies (6 MiB of base64 under the firefox driver's
 * 16 MiB limit), one after the other, then a small one: each arrives
 * whole, over many reads.
 */
static void test_large_replies(void **state)
{
	struct fake *f = *state;
	uint32_t id;

	marionette_free(f->m); /* a client with the firefox driver's limit instead */
	spin(f, 5);
	close(f->peer);
	assert_int_equal(start(f, FIREFOX_MAX_MESSAGE), 0);
	peer_send(f, "50:" GREETING);
	spin(f, 5);
	assert_true(f->ready);
	for (size_t i = 0; i < 3; i++) {
		static const size_t sizes[] = {6u << 20, (6u << 20) - 1, 6};

		id = marionette_call(f->m, "WebDriver:TakeScreenshot", NULL, on_big_reply, f);
		assert_true(id > 0);
		peer_send_letters(f, id, sizes[i]);
		spin(f, 10);
	}
	assert_int_equal(f->n_replies, 3);
	assert_string_equal(f->replies[0], "6291456");
	assert_string_equal(f->replies[1], "6291455");
	assert_string_equal(f->replies[2], "6");
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

static void test_url_navigable(void **state)
{
	static const char *const ok[] = {
	    "http://a/", "HTTPS://a/",         "  http://a/", "file:///tmp/x", "blob:http://a/1",
	    "data:,hi",  "javascript:void(0)", "about:blank", "about:blank#x", "about:blank?q",
	    "http:a",
	};
	static const char *const refused[] = {
	    "chrome://browser/content/browser.xhtml",
	    "resource://gre/modules/Services.sys.mjs",
	    "about:config",
	    "about:blankx",
	    "moz-extension://x/",
	    "view-source:http://a/",
	    "jar:file:///x!/y",
	    "httpx://a/",
	    "no scheme",
	    "",
	    ":",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		assert_true(firefox_url_navigable(ok[i]));
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		if (firefox_url_navigable(refused[i]))
			fail_msg("navigable: %s", refused[i]);
	}
}

/* Parses TEXT (JSON) as a log answer up to UNTIL; the return code. */
static int parse_docs(const char *text, uint64_t until, struct firefox_docs *out,
		      const char **reason, json_t **keep)
{
	json_error_t jerr;

	*keep = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL,
			   &jerr); /* NUL: the parser checks too */
	assert_non_null(*keep);
	return firefox_docs_parse(*keep, until, out, reason);
}

static void test_docs_parse(void **state)
{
	struct firefox_docs d;
	const char *why;
	json_t *j;

	(void)state;
	/* two HTTP redirects, the document, then a meta refresh to another one */
	assert_int_equal(
	    parse_docs("{\"docs\":[[\"http://a/old\",301,10],[\"http://a/hop\",302,10],"
		       "[\"http://b/\",200,10],[\"http://c/\",200,20]],"
		       "\"pending\":[],\"dropped\":0}",
		       100, &d, &why, &j),
	    0);
	assert_true(d.committed);
	assert_int_equal(d.n, 4);
	assert_string_equal(d.v[0].url, "http://a/old");
	assert_int_equal(d.v[0].status, 301);
	assert_int_equal(d.v[1].status, 302);
	assert_string_equal(d.v[3].url, "http://c/");
	assert_int_equal(d.v[3].status, 200);
	assert_int_equal(d.dropped, 0);
	/* the visit ended at 15: the later document is not its own */
	assert_int_equal(firefox_docs_parse(j, 15, &d, &why), 0);
	assert_int_equal(d.n, 3);
	assert_string_equal(d.v[2].url, "http://b/");
	json_decref(j);

	/* statuses out of range are unknown (0); the dropped count is passed on */
	assert_int_equal(parse_docs("{\"docs\":[[\"http://a/\",99,1],[\"http://b/\",600,1],"
				    "[\"about:blank\",0,1]],\"pending\":[[\"http://z/\",302,1]],"
				    "\"dropped\":7}",
				    1, &d, &why, &j),
			 0);
	assert_int_equal(d.n, 3);
	assert_int_equal(d.v[0].status, 0);
	assert_int_equal(d.v[1].status, 0);
	assert_int_equal(d.dropped, 7);
	assert_true(d.committed); /* pending counts only when nothing was shown */
	json_decref(j);

	/* nothing shown: the redirects under way, not the download that never showed */
	assert_int_equal(parse_docs("{\"docs\":[],\"pending\":[[\"http://a/\",302,1],"
				    "[\"http://b/\",307,2],[\"http://f/x.bin\",200,3],"
				    "[\"http://late/\",301,50]],\"dropped\":0}",
				    10, &d, &why, &j),
			 0);
	assert_false(d.committed);
	assert_int_equal(d.n, 2);
	assert_string_equal(d.v[1].url, "http://b/");
	assert_int_equal(d.v[1].status, 307);
	json_decref(j);

	/* an empty log: nothing to say, but not an error */
	assert_int_equal(parse_docs("{\"docs\":[],\"pending\":[],\"dropped\":0}", 1, &d, &why, &j),
			 0);
	assert_false(d.committed);
	assert_int_equal(d.n, 0);
	json_decref(j);

	/* a huge dropped count is capped, never wraps */
	assert_int_equal(parse_docs("{\"docs\":[],\"pending\":[],\"dropped\":9007199254740993}", 1,
				    &d, &why, &j),
			 0);
	assert_int_equal(d.dropped, INT_MAX);
	json_decref(j);
}

/* TEXT is refused as a log answer. */
static void expect_refused(const char *text)
{
	struct firefox_docs d;
	const char *why = NULL;
	json_t *j;

	if (parse_docs(text, UINT64_MAX, &d, &why, &j) != -1)
		fail_msg("accepted: %.200s", text);
	assert_non_null(why);
	assert_int_equal(d.n, 0);
	json_decref(j);
}

/* A list of N copies of ENTRY as a log answer's "docs". */
static char *docs_of(size_t n, const char *entry)
{
	size_t len = 64 + n * (strlen(entry) + 1);
	char *s = malloc(len), *p = s;

	assert_non_null(s);
	p += sprintf(p, "{\"pending\":[],\"dropped\":0,\"docs\":[");
	for (size_t i = 0; i < n; i++)
		p += sprintf(p, "%s%s", i ? "," : "", entry);
	sprintf(p, "]}");
	return s;
}

/* ["http://aaa...",200,1] with a URL of LEN bytes. */
static char *long_entry(size_t len)
{
	size_t size = len + 16;
	char *e = malloc(size);

	assert_non_null(e);
	assert_true(len >= 7);
	snprintf(e, size, "[\"http://%0*d\",200,1]", (int)(len - 7), 0);
	memset(e + 9, 'a', len - 7); /* the URL: "http://" and LEN - 7 letters */
	return e;
}

/* A hostile or broken browser: every malformed answer is refused as a whole. */
static void test_docs_parse_hostile(void **state)
{
	char *text, *url;

	(void)state;
	expect_refused("null");
	expect_refused("[]");
	expect_refused("\"docs\"");
	expect_refused("{\"docs\":[],\"pending\":[]}");
	expect_refused("{\"docs\":[],\"pending\":[],\"dropped\":-1}");
	expect_refused("{\"docs\":[],\"pending\":[],\"dropped\":\"1\"}");
	expect_refused("{\"pending\":[],\"dropped\":0}");
	expect_refused("{\"docs\":[],\"dropped\":0}");
	expect_refused("{\"docs\":{},\"pending\":[],\"dropped\":0}");
	expect_refused("{\"docs\":[[\"http://a/\",200]],\"pending\":[],\"dropped\":0}");
	expect_refused("{\"docs\":[[\"http://a/\",200,1,4]],\"pending\":[],\"dropped\":0}");
	expect_refused("{\"docs\":[\"http://a/\"],\"pending\":[],\"dropped\":0}");
	expect_refused("{\"docs\":[[1,200,1]],\"pending\":[],\"dropped\":0}");
	expect_refused("{\"docs\":[[\"\",200,1]],\"pending\":[],\"dropped\":0}");
	expect_refused("{\"docs\":[[\"http://a/\",\"200\",1]],\"pending\":[],\"dropped\":0}");
	expect_refused("{\"docs\":[[\"http://a/\",200.5,1]],\"pending\":[],\"dropped\":0}");
	expect_refused("{\"docs\":[[\"http://a/\",200,-1]],\"pending\":[],\"dropped\":0}");
	expect_refused("{\"docs\":[[\"http://a/\",200,null]],\"pending\":[],\"dropped\":0}");
	/* a URL that could forge a line downstream, or hide a tail behind a NUL */
	expect_refused("{\"docs\":[[\"http://a/\\n<x>\",200,1]],\"pending\":[],\"dropped\":0}");
	expect_refused("{\"docs\":[[\"http://a/\\u007f\",200,1]],\"pending\":[],\"dropped\":0}");
	expect_refused("{\"docs\":[[\"http://a/\\u0000b\",200,1]],\"pending\":[],\"dropped\":0}");
	/* a malformed pending entry spoils the answer even when documents were shown */
	expect_refused("{\"docs\":[[\"http://a/\",200,1]],\"pending\":[[\"x\"]],\"dropped\":0}");
	/* more entries than the log keeps */
	text = docs_of(FIREFOX_MAX_DOCS, "[\"http://a/\",302,1]");
	{
		struct firefox_docs d;
		const char *why;
		json_t *j;

		assert_int_equal(parse_docs(text, 1, &d, &why, &j), 0);
		assert_int_equal(d.n, FIREFOX_MAX_DOCS);
		json_decref(j);
	}
	free(text);
	text = docs_of(FIREFOX_MAX_DOCS + 1, "[\"http://a/\",302,1]");
	expect_refused(text);
	free(text);
	/* a URL as long as the client takes is kept, one byte more and the answer is refused */
	url = long_entry(APPS_MAX_URL);
	text = docs_of(1, url);
	{
		struct firefox_docs d;
		const char *why;
		json_t *j;

		assert_int_equal(parse_docs(text, 1, &d, &why, &j), 0);
		assert_int_equal(strlen(d.v[0].url), APPS_MAX_URL);
		json_decref(j);
	}
	free(text);
	free(url);
	url = long_entry(APPS_MAX_URL + 1);
	text = docs_of(1, url);
	expect_refused(text);
	free(text);
	free(url);
}

/* Parses TEXT (JSON) as a log answer's "downloads"; the return code. */
static int parse_downloads(const char *text, struct firefox_downloads *out, const char **reason)
{
	json_error_t jerr;
	json_t *j = json_loads(text, JSON_DECODE_ANY, &jerr);
	int rc;

	assert_non_null(j);
	rc = firefox_downloads_parse(j, out, reason);
	json_decref(j);
	return rc;
}

static void test_downloads_parse(void **state)
{
	struct firefox_downloads dl;
	const char *why;

	(void)state;
	assert_int_equal(parse_downloads("{\"tab\":[2,1],\"all\":[3,1],\"running\":1}", &dl, &why),
			 0);
	assert_true(dl.counted);
	assert_int_equal(dl.started, 2);
	assert_int_equal(dl.done, 1);
	assert_int_equal(dl.all_started, 3);
	assert_int_equal(dl.all_done, 1);
	assert_int_equal(dl.running, 1);
	/* none at all, and the largest count taken */
	assert_int_equal(parse_downloads("{\"running\":0,\"all\":[0,0],\"tab\":[0,0]}", &dl, &why),
			 0);
	assert_true(dl.counted);
	assert_int_equal(dl.all_started, 0);
	assert_int_equal(parse_downloads("{\"tab\":[16777216,16777216],\"all\":[16777216,16777216],"
					 "\"running\":0}",
					 &dl, &why),
			 0);
	assert_int_equal(dl.started, FIREFOX_MAX_DOWNLOADS);
	/* null: the browser could not add its download view; nothing counted, no error */
	assert_int_equal(parse_downloads("null", &dl, &why), 0);
	assert_false(dl.counted);
	assert_int_equal(dl.started, 0);
}

/* TEXT is refused as a log answer's "downloads", and nothing is counted. */
static void expect_downloads_refused(const char *text)
{
	struct firefox_downloads dl;
	const char *why = NULL;

	if (parse_downloads(text, &dl, &why) != -1)
		fail_msg("accepted: %s", text);
	assert_non_null(why);
	assert_false(dl.counted);
	assert_int_equal(dl.started + dl.done + dl.all_started + dl.all_done + dl.running, 0);
}

/* A hostile or broken browser: counts it could not have are refused. */
static void test_downloads_parse_hostile(void **state)
{
	(void)state;
	expect_downloads_refused("{}");
	expect_downloads_refused("[]");
	expect_downloads_refused("1");
	expect_downloads_refused("\"tab\"");
	expect_downloads_refused("{\"tab\":[1,1],\"all\":[1,1]}");
	expect_downloads_refused("{\"tab\":[1,1],\"running\":0}");
	expect_downloads_refused("{\"all\":[1,1],\"running\":0}");
	expect_downloads_refused("{\"tab\":[1,1],\"all\":[1,1],\"running\":0,\"more\":1}");
	expect_downloads_refused("{\"tab\":[1],\"all\":[1,1],\"running\":0}");
	expect_downloads_refused("{\"tab\":[1,1,1],\"all\":[1,1],\"running\":0}");
	expect_downloads_refused("{\"tab\":{\"0\":1},\"all\":[1,1],\"running\":0}");
	expect_downloads_refused("{\"tab\":[\"1\",1],\"all\":[1,1],\"running\":0}");
	expect_downloads_refused("{\"tab\":[1.5,1],\"all\":[2,1],\"running\":0}");
	expect_downloads_refused("{\"tab\":[1,null],\"all\":[1,1],\"running\":0}");
	expect_downloads_refused("{\"tab\":[1,1],\"all\":[1,1],\"running\":null}");
	expect_downloads_refused("{\"tab\":[1,1],\"all\":[1,1],\"running\":true}");
	/* negative, or past what a browser does (and what the sums can hold) */
	expect_downloads_refused("{\"tab\":[-1,0],\"all\":[1,1],\"running\":0}");
	expect_downloads_refused("{\"tab\":[0,-1],\"all\":[1,1],\"running\":0}");
	expect_downloads_refused("{\"tab\":[0,0],\"all\":[1,1],\"running\":-1}");
	expect_downloads_refused("{\"tab\":[0,0],\"all\":[16777217,0],\"running\":0}");
	expect_downloads_refused("{\"tab\":[0,0],\"all\":[4294967297,1],\"running\":0}");
	expect_downloads_refused(
	    "{\"tab\":[0,0],\"all\":[9223372036854775807,0],\"running\":9223372036854775807}");
	/* counts that contradict each other */
	expect_downloads_refused("{\"tab\":[1,2],\"all\":[3,2],\"running\":0}");
	expect_downloads_refused("{\"tab\":[2,0],\"all\":[1,0],\"running\":0}");
	expect_downloads_refused("{\"tab\":[1,1],\"all\":[2,0],\"running\":0}");
	expect_downloads_refused("{\"tab\":[0,0],\"all\":[2,1],\"running\":2}");
}

/* Base64 of LEN bytes of DATA (OpenSSL's encoder, a malloc'ed string). */
static char *b64_of(const unsigned char *data, size_t len)
{
	char *out = malloc(4 * ((len + 2) / 3) + 1);

	assert_non_null(out);
	assert_int_equal(EVP_EncodeBlock((unsigned char *)out, data, (int)len),
			 (int)(4 * ((len + 2) / 3)));
	return out;
}

/* Decodes TEXT (a JSON string literal, or any JSON) with limit MAX; the return code. */
static int decode_png(const char *json, size_t max, unsigned char **png, size_t *len,
		      const char **why)
{
	json_error_t jerr;
	json_t *j = json_loads(json, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
	int rc;

	assert_non_null(j);
	rc = driver_png_decode(j, max, png, len, why);
	json_decref(j);
	return rc;
}

/* A PNG's signature followed by N - 8 bytes (N >= 8) of a pattern. */
static unsigned char *fake_png(size_t n)
{
	static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
	unsigned char *p = malloc(n);

	assert_non_null(p);
	memcpy(p, sig, sizeof(sig));
	for (size_t i = sizeof(sig); i < n; i++)
		p[i] = (unsigned char)(i * 7);
	return p;
}

/* The PNG of N bytes as base64 decodes back to the same bytes (N % 3: padding 0, 2, 1). */
static void expect_png_roundtrip(size_t n, size_t max)
{
	unsigned char *png = fake_png(n), *out = NULL;
	char *b64 = b64_of(png, n), json[4096];
	const char *why;
	size_t len;

	snprintf(json, sizeof(json), "\"%s\"", b64);
	assert_int_equal(decode_png(json, max, &out, &len, &why), 0);
	assert_int_equal(len, n);
	assert_memory_equal(out, png, n);
	assert_null(why);
	free(out);
	free(b64);
	free(png);
}

/* JSON is refused as a screenshot (with limit MAX), nothing is returned. */
static void expect_png_refused(const char *json, size_t max, const char *reason)
{
	unsigned char *out = (unsigned char *)"x";
	const char *why = NULL;
	size_t len = 1;

	if (decode_png(json, max, &out, &len, &why) != -1)
		fail_msg("accepted: %.200s", json);
	assert_null(out);
	assert_int_equal(len, 0);
	assert_non_null(why);
	if (reason && strcmp(why, reason) != 0)
		fail_msg("%.100s: refused for \"%s\", not \"%s\"", json, why, reason);
}

static void test_png_decode(void **state)
{
	unsigned char *png = fake_png(30);
	char *b64 = b64_of(png, 30), json[256];

	(void)state;
	expect_png_roundtrip(30, 1000); /* no padding */
	expect_png_roundtrip(31, 1000); /* "==" */
	expect_png_roundtrip(32, 1000); /* "=" */
	expect_png_roundtrip(8, 8);     /* the signature alone, at the limit */
	expect_png_roundtrip(1000, 1000);
	/* 1002 bytes are 1336 characters: more than 999 bytes can need, refused undecoded */
	{
		unsigned char *big = fake_png(1002);
		char *text = b64_of(big, 1002), *j = malloc(strlen(text) + 3);

		assert_non_null(j);
		sprintf(j, "\"%s\"", text);
		expect_png_refused(j, 999, "larger than the screenshot limit");
		expect_png_refused(j, 1001, "larger than the screenshot limit"); /* decoded */
		expect_png_roundtrip(1002, 1002);
		free(j);
		free(text);
		free(big);
	}
	/* the same count of characters may decode to less: "=" counts, 1001 is over 1000 */
	{
		unsigned char *big = fake_png(1001);
		char *text = b64_of(big, 1001), *j = malloc(strlen(text) + 3);

		assert_non_null(j);
		sprintf(j, "\"%s\"", text);
		expect_png_refused(j, 1000, "larger than the screenshot limit");
		free(j);
		free(text);
		free(big);
	}
	/* not a string, empty, not base64 */
	expect_png_refused("null", 1000, "not a string of base64");
	expect_png_refused("{\"value\":\"iVBORw0K\"}", 1000, "not a string of base64");
	expect_png_refused("[\"iVBORw0KGgo=\"]", 1000, "not a string of base64");
	expect_png_refused("\"\"", 1000, "not a string of base64");
	expect_png_refused("\"iVBORw0KGgo\"", 1000, "not a string of base64"); /* 11 chars */
	/* white space and '-' (its end marker) OpenSSL would pass over: not from Marionette */
	expect_png_refused("\"iVBORw0 KGg=\"", 1000, "not a string of base64");
	expect_png_refused("\"iVBORw0K\\nGg=\"", 1000, "not a string of base64");
	expect_png_refused("\"iVBORw0-KGg=\"", 1000, "not a string of base64");
	expect_png_refused("\"iVBORw0_Ggo=\"", 1000, "not a string of base64"); /* URL-safe */
	expect_png_refused("\"iVBO=w0KGgo=\"", 1000, "not a string of base64"); /* '=' inside */
	expect_png_refused("\"iVBORw0KGg==\"", 1000, "not a PNG image");        /* 7 bytes only */
	expect_png_refused("\"iVBORw0KGgo===\"", 1000, "not a string of base64");
	expect_png_refused("\"iVBORw0KG===\"", 1000, "not a string of base64");
	expect_png_refused("\"iVBORw0K\\u0000Gg=\"", 1000, "not a string of base64");    /* NUL */
	expect_png_refused("\"/9j/4AAQSkZJRgABAQAAAQABAAD/\"", 1000, "not a PNG image"); /* JPEG */
	snprintf(json, sizeof(json), "\"%s\"", b64);
	json[3] = '\x7f';
	expect_png_refused(json, 1000, "not a string of base64");
	free(b64);
	free(png);
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
	/* no GMP (Widevine) check at update.googleapis.com 10 s after start-up */
	assert_non_null(strstr(js, "user_pref(\"media.gmp-manager.updateEnabled\", false);"));
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
	assert_non_null(strstr(
	    buf, "1 --headless --no-remote --marionette --remote-allow-system-access --profile "));
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

/* ---- the driver against a fake browser ---- */

/*
 * A fake Marionette on 127.0.0.1:2828 of a network namespace of its own
 * (a child holds it; the driver joins it as it joins a guest's): it plays
 * a browser with the scripted answers below, tracks the context that
 * Marionette:SetContext chose, and records every command.
 */
struct fakebr {
	uv_loop_t loop;
	pid_t ns_pid;
	int listener, peer;
	char *in; /* unparsed input */
	size_t in_len;
	bool chrome;         /* the session's context */
	bool refuse_chrome;  /* answer SetContext chrome like a browser without system access */
	bool stall_install;  /* never answer the log's install script (a hung browser) */
	const char *logs[4]; /* the log read's value for tab-1.. (JSON); NULL = a script error */
	const char *current_url; /* WebDriver:GetCurrentURL */
	unsigned tabs;
	char current[16]; /* the session's current tab ("tab-1", ...) */
	enum {
		SHOT_PNG = 0,
		SHOT_ERROR,
		SHOT_JPEG,
		SHOT_STALL
	} shot;                 /* TakeScreenshot's answer */
	const char *shot_dir;   /* the visit's screenshot directory, NULL = none */
	const char *hold_tab;   /* hold the reply to a navigation in this tab... */
	unsigned hold_ms;       /* ...this long (a slow page) */
	json_int_t held_id;     /* the navigation held, 0 if none */
	uint64_t held_until_ns; /* when its reply goes */
	unsigned running_reads; /* answer this many log reads with a download running */
	json_int_t max_wait;    /* the largest wait a log read asked for */
	char calls[2048];       /* "Name[:detail] " per command */
	unsigned misplaced;     /* commands sent in the wrong context, or while a navigation runs */
	struct driver *d;       /* the visit's driver, freed by the test or its teardown */
	bool done;
};

#define FAKE_IN_MAX (1u << 20)

/* Answers ID with RESULT (stolen) or, if KIND, with that error. */
static void fake_reply(struct fakebr *f, json_int_t id, const char *kind, json_t *result)
{
	json_t *msg = kind ? json_pack("[i,I,{s:s,s:s},n]", 1, id, "error", kind, "message",
				       "fake browser says no")
			   : json_pack("[i,I,n,o]", 1, id, result);
	char *text = json_dumps(msg, JSON_COMPACT);
	char head[32];
	int n = snprintf(head, sizeof(head), "%zu:", strlen(text));

	assert_int_equal(write(f->peer, head, (size_t)n), n);
	assert_int_equal(write(f->peer, text, strlen(text)), (ssize_t)strlen(text));
	free(text);
	json_decref(msg);
}

static void fake_call(struct fakebr *f, const char *name, const char *detail)
{
	size_t len = strlen(f->calls);

	snprintf(f->calls + len, sizeof(f->calls) - len, "%s%s%s ",
		 name + (name[0] == 'W' ? 10 : 11), detail[0] ? ":" : "", detail);
}

/* The answer to a script: the log's install and read in chrome, the status in content. */
static void fake_script(struct fakebr *f, json_int_t id, const json_t *params)
{
	const char *script = json_string_value(json_object_get(params, "script"));
	const char *handle = json_string_value(json_array_get(json_object_get(params, "args"), 0));
	bool install = strstr(script, "captureNavLog = tabs") != NULL;
	bool read = strstr(script, "NavigableManager") != NULL;
	json_error_t jerr;
	unsigned tab;

	fake_call(f, "WebDriver:ExecuteScript", install ? "install" : read ? "read" : "status");
	if ((install || read) != f->chrome) {
		f->misplaced++;
		fake_reply(f, id, "javascript error", NULL);
	} else if (install) {
		if (!f->stall_install)
			fake_reply(f, id, NULL, json_pack("{s:b}", "value", 1));
	} else if (!read) {
		fake_reply(f, id, NULL, json_pack("{s:[i,i]}", "value", 200, 0));
	} else if (!handle || sscanf(handle, "tab-%u", &tab) != 1 || tab < 1 || tab > 4 ||
		   !f->logs[tab - 1]) {
		fake_reply(f, id, "javascript error", NULL);
	} else {
		json_t *v = json_loads(f->logs[tab - 1], JSON_DECODE_ANY, &jerr);
		json_t *wait = json_array_get(json_object_get(params, "args"), 1);
		json_t *dl = json_object_get(v, "downloads");

		assert_non_null(v);
		assert_true(json_is_integer(wait));
		if (json_integer_value(wait) > f->max_wait)
			f->max_wait = json_integer_value(wait);
		if (f->running_reads && json_is_object(dl)) {
			f->running_reads--; /* a download still under way */
			json_object_set_new(dl, "running", json_integer(1));
		}
		fake_reply(f, id, NULL, json_pack("{s:o}", "value", v));
	}
}

/* The screenshot of the current tab: a PNG signature and "shot of tab-N", or no PNG. */
static void fake_screenshot(struct fakebr *f, json_int_t id)
{
	unsigned char png[64] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
	char b64[128];
	int n = 8 + snprintf((char *)png + 8, sizeof(png) - 8, "shot of %s", f->current);

	f->misplaced += f->chrome; /* a screenshot of the chrome window is no page's */
	if (f->shot == SHOT_ERROR) {
		fake_reply(f, id, "unknown error", NULL);
		return;
	}
	if (f->shot == SHOT_STALL)
		return; /* never an answer */
	if (f->shot == SHOT_JPEG)
		png[1] = 0xd8; /* not the signature any more */
	EVP_EncodeBlock((unsigned char *)b64, png, n);
	fake_reply(f, id, NULL, json_pack("{s:s}", "value", b64));
}

static void fake_command(struct fakebr *f, const json_t *msg)
{
	json_int_t id = json_integer_value(json_array_get(msg, 1));
	const char *name = json_string_value(json_array_get(msg, 2));
	const json_t *params = json_array_get(msg, 3);
	const char *value = json_string_value(json_object_get(params, "value"));
	const char *target = json_string_value(json_object_get(params, "handle"));
	char handle[16];

	assert_non_null(name);
	f->misplaced += f->held_id != 0; /* the driver sends nothing while a page loads */
	if (strcmp(name, "WebDriver:ExecuteScript") == 0) {
		fake_script(f, id, params);
		return;
	}
	if (strcmp(name, "WebDriver:SwitchToWindow") == 0 && target)
		snprintf(f->current, sizeof(f->current), "%s", target);
	fake_call(f, name,
		  value && strcmp(name, "Marionette:SetContext") == 0 ? value
		  : strcmp(name, "WebDriver:SwitchToWindow") == 0 ||
			  strcmp(name, "WebDriver:TakeScreenshot") == 0
		      ? f->current
		      : "");
	if (strcmp(name, "WebDriver:NewSession") == 0) {
		fake_reply(f, id, NULL, json_pack("{s:s,s:{}}", "sessionId", "s", "capabilities"));
	} else if (strcmp(name, "WebDriver:GetWindowHandle") == 0) {
		fake_reply(f, id, NULL, json_pack("{s:s}", "value", "tab-1"));
	} else if (strcmp(name, "Marionette:SetContext") == 0) {
		if (value && strcmp(value, "chrome") == 0 && f->refuse_chrome) {
			fake_reply(f, id, "unsupported operation", NULL);
			return;
		}
		f->chrome = value && strcmp(value, "chrome") == 0;
		fake_reply(f, id, NULL, json_pack("{s:n}", "value"));
	} else if (strcmp(name, "WebDriver:NewWindow") == 0) {
		snprintf(handle, sizeof(handle), "tab-%u", ++f->tabs);
		fake_reply(f, id, NULL, json_pack("{s:s,s:s}", "handle", handle, "type", "tab"));
	} else if (strcmp(name, "WebDriver:TakeScreenshot") == 0) {
		fake_screenshot(f, id);
	} else if (strcmp(name, "WebDriver:Navigate") == 0 && f->hold_tab &&
		   strcmp(f->current, f->hold_tab) == 0) {
		f->misplaced += f->chrome;
		f->held_id = id; /* answered by fake_pump when the time is up */
		f->held_until_ns = util_now_mono_ns() + (uint64_t)f->hold_ms * 1000000;
	} else if (strcmp(name, "WebDriver:Navigate") == 0 ||
		   strcmp(name, "WebDriver:SwitchToWindow") == 0 ||
		   strcmp(name, "WebDriver:GetCurrentURL") == 0) {
		f->misplaced += f->chrome; /* content commands: never in the chrome context */
		fake_reply(f, id, NULL,
			   json_pack("{s:s?}", "value", name[10] == 'G' ? f->current_url : NULL));
	} else {
		fake_reply(f, id, "unknown command", NULL);
	}
}

static void fake_send_greeting(struct fakebr *f)
{
	char buf[128];
	int n = snprintf(buf, sizeof(buf), "%zu:%s", strlen(GREETING), GREETING);

	assert_int_equal(write(f->peer, buf, (size_t)n), n);
}

/* Accepts the driver, reads what it sent and answers every complete command. */
static void fake_pump(struct fakebr *f)
{
	size_t off = 0, hdr, body;
	const char *why;
	ssize_t n;

	if (f->held_id && util_now_mono_ns() >= f->held_until_ns) {
		fake_reply(f, f->held_id, NULL, json_pack("{s:n}", "value"));
		f->held_id = 0;
	}
	if (f->peer < 0) {
		f->peer = accept4(f->listener, NULL, NULL, SOCK_CLOEXEC);
		if (f->peer >= 0)
			fake_send_greeting(f);
		return;
	}
	n = recv(f->peer, f->in + f->in_len, FAKE_IN_MAX - f->in_len, MSG_DONTWAIT);
	if (n <= 0)
		return;
	f->in_len += (size_t)n;
	while (marionette_frame(f->in + off, f->in_len - off, FAKE_IN_MAX, &hdr, &body, &why) ==
	       1) {
		json_error_t jerr;
		json_t *msg = json_loadb(f->in + off + hdr, body, 0, &jerr);

		assert_non_null(msg);
		fake_command(f, msg);
		json_decref(msg);
		off += hdr + body;
	}
	memmove(f->in, f->in + off, f->in_len - off);
	f->in_len -= off;
}

static void fake_done(struct driver *d, void *arg)
{
	struct fakebr *f = arg;

	(void)d;
	f->done = true;
}

/* A child in a fresh network namespace, its loopback up, a listener on its 127.0.0.1:2828. */
static int fake_open(struct fakebr *f)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(MARIONETTE_PORT_DEFAULT)};
	char path[64], err[256], c = 'n';
	int sync[2], nsfd;

	if (pipe2(sync, O_CLOEXEC) < 0)
		return -1;
	f->ns_pid = fork();
	if (f->ns_pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		c = unshare(CLONE_NEWNET) == 0 ? 'y' : 'n';
		if (write(sync[1], &c, 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	close(sync[1]);
	if (f->ns_pid < 0 || read(sync[0], &c, 1) != 1 || c != 'y') {
		close(sync[0]);
		return -1;
	}
	close(sync[0]);
	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)f->ns_pid);
	nsfd = open(path, O_RDONLY | O_CLOEXEC);
	if (nsfd < 0 || net_loopback_up(nsfd, err, sizeof(err)) < 0) {
		if (nsfd >= 0)
			close(nsfd);
		return -1;
	}
	f->listener =
	    net_socket_in(nsfd, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0, err, sizeof(err));
	close(nsfd);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (f->listener < 0 || bind(f->listener, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(f->listener, 4) < 0)
		return -1;
	return 0;
}

static int fake_setup(void **state)
{
	struct fakebr *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	*state = f;
	f->peer = f->listener = -1;
	f->tabs = 1; /* tab-1 is the first tab, new ones are tab-2, ... */
	snprintf(f->current, sizeof(f->current), "tab-1");
	f->in = malloc(FAKE_IN_MAX);
	if (!f->in || uv_loop_init(&f->loop) != 0)
		return -1;
	if (geteuid() != 0)
		return 0; /* the test skips: a network namespace needs root */
	return fake_open(f);
}

static int fake_teardown(void **state)
{
	struct fakebr *f = *state;

	if (f->d) { /* a failed test left it */
		driver_free(f->d);
		uv_run(&f->loop, UV_RUN_DEFAULT);
	}
	if (f->peer >= 0)
		close(f->peer);
	if (f->listener >= 0)
		close(f->listener);
	if (f->ns_pid > 0 && kill(f->ns_pid, SIGKILL) == 0)
		waitpid(f->ns_pid, NULL, 0);
	assert_int_equal(uv_loop_close(&f->loop), 0);
	free(f->in);
	free(f);
	log_init("test_marionette", LOG_LEVEL_WARN, NULL);
	return 0;
}

/* Visits URLS in tabs with the driver against F; the driver, done (free it). */
static struct driver *fake_visit(struct fakebr *f, const char *const *urls, size_t n)
{
	struct driver_callbacks cb = {.on_done = fake_done, .arg = f};
	struct driver_visit v = {.urls = urls,
				 .n_urls = n,
				 .visit_time_s = 1,
				 .page_timeout_s = 5,
				 .layout = DRIVER_LAYOUT_TABS,
				 .screenshot_dir = f->shot_dir,
				 .tag = "fake"};
	struct driver *d = NULL;
	char err[256];

	assert_int_equal(driver_new(&f->loop, "firefox", &v, &cb, &d, err, sizeof(err)), 0);
	f->d = d;
	assert_int_equal(driver_start(d, f->ns_pid, err, sizeof(err)), 0);
	for (int i = 0; i < 20000 && !f->done; i++) {
		uv_run(&f->loop, UV_RUN_NOWAIT);
		fake_pump(f);
		usleep(1000);
	}
	print_message("  commands: %s\n", f->calls);
	assert_true(f->done);
	return d;
}

static void fake_end(struct fakebr *f, struct driver *d)
{
	driver_free(d);
	f->d = NULL;
	uv_run(&f->loop, UV_RUN_DEFAULT);
}

/* URL I's hops as "url status;" each. */
static const char *hops_of(const struct driver *d, size_t i, char *buf, size_t len)
{
	const struct driver_result *r = driver_result(d, i);
	size_t used = 0;

	buf[0] = '\0';
	for (size_t k = 0; k < r->n_hops && used < len; k++) {
		int n =
		    snprintf(buf + used, len - used, "%s %d;", r->hops[k].url, r->hops[k].status);

		used += n > 0 ? (size_t)n : 0;
	}
	return buf;
}

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;

	for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

static bool ends_with(const char *s, const char *tail)
{
	size_t n = strlen(s), t = strlen(tail);

	return n >= t && strcmp(s + n - t, tail) == 0;
}

/* Logs into a temporary file from now on; its stream. */
static FILE *log_to_file(void)
{
	FILE *fp = tmpfile();

	assert_non_null(fp);
	log_init("test_marionette", LOG_LEVEL_WARN, fp);
	return fp;
}

static void slurp_stream(FILE *fp, char *buf, size_t len)
{
	size_t n;

	fflush(fp);
	rewind(fp);
	n = fread(buf, 1, len - 1, fp);
	buf[n] = '\0';
	fclose(fp);
}

/*
 * The log gives each tab's chain: HTTP redirects with their codes, a
 * script-replaced document with its status, a later document cut off by
 * the visit's end; it is installed before the first navigation, read after
 * the last URL ended, and no content command is ever sent in the chrome
 * context.  A chrome:// URL is never navigated to.
 */
static void test_driver_chain(void **state)
{
	struct fakebr *f = *state;
	const char *urls[] = {"http://a/old", "http://c/",
			      "chrome://browser/content/browser.xhtml"};
	unsigned long long now = util_now_real_ns() / 1000000;
	char log1[512], log2[512], hops[512], log[2048];
	const struct driver_result *r;
	struct driver *d;
	FILE *fp;

	if (geteuid() != 0)
		skip();
	snprintf(
	    log1, sizeof(log1),
	    "{\"docs\":[[\"http://a/old\",301,%llu],[\"http://a/hop\",302,%llu],"
	    "[\"http://b/\",200,%llu],[\"http://late/\",200,%llu]],\"pending\":[],\"dropped\":0,"
	    "\"downloads\":null}",
	    now, now, now, now + 3600ULL * 1000);
	snprintf(log2, sizeof(log2),
		 "{\"docs\":[[\"http://c/\",200,%llu],[\"about:blank\",0,%llu]],\"pending\":[],"
		 "\"dropped\":2,\"downloads\":null}",
		 now, now);
	f->logs[0] = log1;
	f->logs[1] = log2;
	/* no download view in this browser: no counts, one log line, the chains all the same */
	f->logs[2] = "{\"docs\":[],\"pending\":[],\"dropped\":0,\"downloads\":null}";
	f->current_url = "http://pushed/"; /* what the tab says (pushState): the log wins */
	fp = log_to_file();
	d = fake_visit(f, urls, 3);
	slurp_stream(fp, log, sizeof(log));
	assert_int_equal(count(log, "no download counts"), 1);
	assert_non_null(strstr(log,
			       "browser on port 2828: no download counts: it keeps no download "
			       "log"));
	r = driver_result(d, 0);
	assert_int_equal(r->major, 0);
	assert_int_equal(r->downloads, 0);
	assert_string_equal(hops_of(d, 0, hops, sizeof(hops)),
			    "http://a/old 301;http://a/hop 302;");
	assert_string_equal(r->final_url, "http://b/");
	assert_int_equal(r->status, 200);
	r = driver_result(d, 1);
	assert_string_equal(hops_of(d, 1, hops, sizeof(hops)), "http://c/ 200;");
	assert_string_equal(r->final_url, "about:blank");
	assert_int_equal(r->status, 0);
	assert_int_equal(r->hops_dropped, 2);
	r = driver_result(d, 2);
	assert_int_equal(r->major, PROTO_ERR_INVALID_URL);
	assert_int_equal(r->n_hops, 0);
	assert_int_equal(count(f->calls, "Navigate"), 2);
	assert_memory_equal(
	    f->calls,
	    "NewSession GetWindowHandle SetContext:chrome ExecuteScript:install "
	    "SetContext:content Navigate ",
	    strlen("NewSession GetWindowHandle SetContext:chrome ExecuteScript:install "
		   "SetContext:content Navigate "));
	/* the reads come last, after one switch to the chrome context */
	assert_true(ends_with(f->calls, "SetContext:chrome ExecuteScript:read ExecuteScript:read "
					"ExecuteScript:read "));
	assert_int_equal(count(f->calls, "SetContext"), 3);
	assert_int_equal(f->misplaced, 0);
	fake_end(f, d);
}

/* A browser without system access: requested -> final URL, and a log line says why. */
static void test_driver_no_chrome(void **state)
{
	struct fakebr *f = *state;
	const char *urls[] = {"http://a/old"};
	char hops[512], log[2048];
	const struct driver_result *r;
	struct driver *d;
	FILE *fp;

	if (geteuid() != 0)
		skip();
	fp = log_to_file();
	f->refuse_chrome = true;
	f->current_url = "http://b/";
	d = fake_visit(f, urls, 1);
	slurp_stream(fp, log, sizeof(log));
	r = driver_result(d, 0);
	assert_int_equal(r->major, 0);
	assert_string_equal(hops_of(d, 0, hops, sizeof(hops)), "http://a/old 0;");
	assert_string_equal(r->final_url, "http://b/");
	assert_int_equal(r->status, 200);
	assert_null(strstr(f->calls, "install"));
	assert_null(strstr(f->calls, "read"));
	assert_int_equal(f->misplaced, 0);
	assert_non_null(strstr(log, "no redirect chain (requested and final URL only): no chrome "
				    "context: fake browser says no"));
	fake_end(f, d);
}

/*
 * The install script never answers: after its deadline the URL goes on
 * without the log, and the session is back in the content context before
 * the navigation (Navigate fails in the chrome context).
 */
static void test_driver_install_timeout(void **state)
{
	struct fakebr *f = *state;
	const char *urls[] = {"http://a/old"};
	char hops[512], log[2048];
	struct driver *d;
	FILE *fp;

	if (geteuid() != 0)
		skip();
	fp = log_to_file();
	f->stall_install = true;
	f->current_url = "http://b/";
	d = fake_visit(f, urls, 1);
	slurp_stream(fp, log, sizeof(log));
	assert_int_equal(driver_result(d, 0)->major, 0);
	assert_string_equal(hops_of(d, 0, hops, sizeof(hops)), "http://a/old 0;");
	assert_non_null(strstr(f->calls, "ExecuteScript:install SetContext:content Navigate "));
	assert_null(strstr(f->calls, "read"));
	assert_int_equal(f->misplaced, 0);
	assert_non_null(strstr(log, "no redirect chain (requested and final URL only): no answer "
				    "in time"));
	fake_end(f, d);
}

/* A hostile answer and a failed read: both URLs keep the fallback, each with a log line. */
static void test_driver_bad_log(void **state)
{
	struct fakebr *f = *state;
	const char *urls[] = {"http://a/old", "http://c/"};
	char hops[512], log[2048];
	struct driver *d;
	FILE *fp;

	if (geteuid() != 0)
		skip();
	fp = log_to_file();
	f->logs[0] = "{\"docs\":[[\"http://evil/\\n<visit-event>\",200,1]],\"pending\":[],"
		     "\"dropped\":0}";
	f->logs[1] = NULL;
	f->current_url = "http://b/";
	d = fake_visit(f, urls, 2);
	slurp_stream(fp, log, sizeof(log));
	assert_string_equal(hops_of(d, 0, hops, sizeof(hops)), "http://a/old 0;");
	assert_string_equal(driver_result(d, 0)->final_url, "http://b/");
	assert_string_equal(hops_of(d, 1, hops, sizeof(hops)), "http://c/ 0;");
	assert_int_equal(count(log, "no redirect chain from the navigation log"), 2);
	assert_non_null(strstr(log, "URL 1: no redirect chain from the navigation log: an entry"));
	assert_int_equal(count(f->calls, "ExecuteScript:read"), 2);
	fake_end(f, d);
}

/* DIR/NAME's bytes after the 8-byte PNG signature, as a string ("" if unreadable). */
static const char *shot_text(const char *dir, const char *name, char *buf, size_t len)
{
	char path[PATH_MAX];
	FILE *fp;
	size_t n = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fp = fopen(path, "rb");
	if (fp) {
		n = fread(buf, 1, len - 1, fp);
		fclose(fp);
	}
	buf[n] = '\0';
	return n > 8 ? buf + 8 : "";
}

/* A tab's log answer into BUF: one document URL shown at MS, and DOWNLOADS (JSON). */
static const char *tab_log(char *buf, size_t len, const char *url, unsigned long long ms,
			   const char *downloads)
{
	snprintf(buf, len,
		 "{\"docs\":[[\"%s\",200,%llu]],\"pending\":[],\"dropped\":0,\"downloads\":%s}",
		 url, ms, downloads);
	return buf;
}

static void remove_dir(const char *dir)
{
	char cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

/*
 * Screenshots and downloads.  URL 1's stay ends while URL 2's page is
 * still loading: its screenshot waits until that navigation (and its
 * queries) are over, then the session switches to tab-1 and takes it, so
 * no command ever overlaps a navigation; every URL's image is of its own
 * tab, in <dir>/<tag>-<N>.png.  A download still running makes the driver
 * read that tab again (once the fake says it is over); a download of the
 * browser that no tab got counts for the first URL.
 */
static void test_driver_screenshots(void **state)
{
	struct fakebr *f = *state;
	const char *urls[] = {"http://a/", "http://b/", "http://c/"};
	unsigned long long now = util_now_real_ns() / 1000000;
	char dir[] = "/tmp/capture-shots.XXXXXX", log1[512], log2[512], log3[512], buf[128];
	char path[PATH_MAX];
	const struct driver_result *r;
	struct driver *d;

	if (geteuid() != 0)
		skip();
	assert_non_null(mkdtemp(dir));
	f->shot_dir = dir;
	f->hold_tab = "tab-2";
	f->hold_ms = 1500; /* URL 1's stay (1 s) ends meanwhile */
	f->running_reads = 1;
	f->logs[0] = tab_log(log1, sizeof(log1), "http://a/", now,
			     "{\"tab\":[1,1],\"all\":[3,2],\"running\":0}");
	f->logs[1] = tab_log(log2, sizeof(log2), "http://b/", now,
			     "{\"tab\":[0,0],\"all\":[3,2],\"running\":0}");
	f->logs[2] = tab_log(log3, sizeof(log3), "http://c/", now,
			     "{\"tab\":[1,0],\"all\":[3,2],\"running\":0}");
	f->current_url = "http://x/";
	d = fake_visit(f, urls, 3);
	assert_int_equal(f->misplaced, 0);
	for (size_t i = 0; i < 3; i++) {
		char name[32], want[32];

		r = driver_result(d, i);
		assert_int_equal(r->major, 0);
		snprintf(name, sizeof(name), "fake-%zu.png", i + 1);
		snprintf(path, sizeof(path), "%s/%s", dir, name);
		assert_non_null(r->screenshot);
		assert_string_equal(r->screenshot, path);
		snprintf(want, sizeof(want), "shot of tab-%zu", i + 1);
		assert_string_equal(shot_text(dir, name, buf, sizeof(buf)), want);
	}
	/* tab-1's screenshot came after tab-2's navigation, before tab-3 opened */
	assert_non_null(strstr(f->calls, "SwitchToWindow:tab-2 Navigate GetCurrentURL "
					 "ExecuteScript:status SwitchToWindow:tab-1 "
					 "TakeScreenshot:tab-1 NewWindow SwitchToWindow:tab-3 "));
	assert_int_equal(count(f->calls, "TakeScreenshot"), 3);
	/* downloads: tab-1 read twice (running), the unattributed one is URL 1's */
	assert_int_equal(count(f->calls, "ExecuteScript:read"), 4);
	assert_true(f->max_wait > 0 && f->max_wait <= FIREFOX_DOWNLOAD_WAIT_MS);
	assert_int_equal(driver_result(d, 0)->downloads, 2);
	assert_int_equal(driver_result(d, 0)->downloads_done, 2);
	assert_int_equal(driver_result(d, 1)->downloads, 0);
	assert_int_equal(driver_result(d, 2)->downloads, 1);
	assert_int_equal(driver_result(d, 2)->downloads_done, 0);
	assert_string_equal(driver_result(d, 1)->final_url, "http://b/");
	fake_end(f, d);
	remove_dir(dir);
}

/*
 * A browser that answers a screenshot with something that is not a PNG,
 * with an error, or not at all, and download counts it could not have: no
 * image, no count, a log line each, and the rest of the visit as it was
 * (the chain from the log, the downloads of a tab whose answer was fine).
 */
static void test_driver_bad_screenshot(void **state)
{
	struct fakebr *f = *state;
	const char *urls[] = {"http://a/", "http://b/"};
	unsigned long long now = util_now_real_ns() / 1000000;
	char dir[] = "/tmp/capture-shots.XXXXXX", log1[512], log2[512], logtext[4096];
	struct driver *d;
	FILE *fp;

	if (geteuid() != 0)
		skip();
	assert_non_null(mkdtemp(dir));
	fp = log_to_file();
	f->shot_dir = dir;
	f->shot = SHOT_JPEG;
	snprintf(log1, sizeof(log1),
		 "{\"docs\":[[\"http://a/\",302,%llu],[\"http://a2/\",200,%llu]],\"pending\":[],"
		 "\"dropped\":0,\"downloads\":{\"tab\":[5,1],\"all\":[1,1],\"running\":0}}",
		 now, now);
	f->logs[0] = log1;
	f->logs[1] = tab_log(log2, sizeof(log2), "http://b/", now,
			     "{\"tab\":[1,1],\"all\":[1,1],\"running\":0}");
	f->current_url = "http://x/";
	d = fake_visit(f, urls, 2);
	slurp_stream(fp, logtext, sizeof(logtext));
	assert_int_equal(f->misplaced, 0);
	assert_int_equal(count(logtext, "no screenshot: not a PNG image"), 2);
	assert_non_null(strstr(logtext, "URL 1: no download counts from the navigation log: more "
					"downloads for the tab than for the browser"));
	for (size_t i = 0; i < 2; i++) {
		assert_int_equal(driver_result(d, i)->major, 0);
		assert_null(driver_result(d, i)->screenshot);
	}
	assert_string_equal(driver_result(d, 0)->final_url, "http://a2/");
	assert_int_equal(driver_result(d, 0)->downloads, 0);
	assert_int_equal(driver_result(d, 1)->downloads, 1);
	assert_int_equal(driver_result(d, 1)->downloads_done, 1);
	assert_int_equal(count(f->calls, "ExecuteScript:read"), 2);
	fake_end(f, d);
	/* an error instead of an image: the same */
	fp = log_to_file();
	f->shot = SHOT_ERROR;
	f->done = false;
	f->calls[0] = '\0';
	f->tabs = 1;
	snprintf(f->current, sizeof(f->current), "tab-1");
	close(f->peer); /* the next visit connects anew */
	f->peer = -1;
	d = fake_visit(f, urls, 1);
	slurp_stream(fp, logtext, sizeof(logtext));
	assert_non_null(
	    strstr(logtext, "URL 1: no screenshot: unknown error: fake browser says no"));
	assert_null(driver_result(d, 0)->screenshot);
	assert_int_equal(driver_result(d, 0)->major, 0);
	fake_end(f, d);
	/* no answer at all: given up after FIREFOX_SCREENSHOT_MS, the log is still read */
	fp = log_to_file();
	f->shot = SHOT_STALL;
	f->done = false;
	f->calls[0] = '\0';
	snprintf(f->current, sizeof(f->current), "tab-1");
	close(f->peer);
	f->peer = -1;
	d = fake_visit(f, urls, 1);
	slurp_stream(fp, logtext, sizeof(logtext));
	assert_non_null(strstr(logtext, "URL 1: no screenshot: no answer in time"));
	assert_true(
	    ends_with(f->calls, "TakeScreenshot:tab-1 SetContext:chrome ExecuteScript:read "));
	assert_string_equal(driver_result(d, 0)->final_url, "http://a2/");
	assert_null(driver_result(d, 0)->screenshot);
	fake_end(f, d);
	assert_int_equal(rmdir(dir), 0); /* nothing was written */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_greeting_and_framing, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_partial_reads, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_error_reply, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_large_replies, setup, teardown),
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
	    cmocka_unit_test(test_url_navigable),
	    cmocka_unit_test(test_docs_parse),
	    cmocka_unit_test(test_docs_parse_hostile),
	    cmocka_unit_test(test_downloads_parse),
	    cmocka_unit_test(test_downloads_parse_hostile),
	    cmocka_unit_test(test_png_decode),
	    cmocka_unit_test(test_user_js),
	    cmocka_unit_test(test_launch_argv),
	    cmocka_unit_test(test_launch_script),
	    cmocka_unit_test_setup_teardown(test_driver_chain, fake_setup, fake_teardown),
	    cmocka_unit_test_setup_teardown(test_driver_no_chrome, fake_setup, fake_teardown),
	    cmocka_unit_test_setup_teardown(test_driver_bad_log, fake_setup, fake_teardown),
	    cmocka_unit_test_setup_teardown(test_driver_install_timeout, fake_setup, fake_teardown),
	    cmocka_unit_test_setup_teardown(test_driver_screenshots, fake_setup, fake_teardown),
	    cmocka_unit_test_setup_teardown(test_driver_bad_screenshot, fake_setup, fake_teardown),
	};

	if (getenv("CAPTURE_TEST_FILTER")) /* run one test: CAPTURE_TEST_FILTER=test_name */
		cmocka_set_test_filter(getenv("CAPTURE_TEST_FILTER"));
	return cmocka_run_group_tests_name("marionette", tests, NULL, NULL);
}
