/*
 * test_protocol.c - the wire protocol codec (src/common/protocol.c): every
 * message round-trips in its direction, hostile strings survive byte-exact,
 * framing (split feeds, several messages per feed, oversize, NUL in a line),
 * every decoder error names its reason and position, original peers still
 * decode, the HMAC handshake, error-code names, upload chunking, and
 * allocation failure at every step of the decoder.
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

#include "common/buf.h"
#include "common/protocol.h"

#define NONCE "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
#define HEX2  "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100"

/* ---- helpers ---- */

static struct proto_reader *reader(enum proto_peer sender, size_t max)
{
	struct proto_reader *r = proto_reader_new(sender, max);

	assert_non_null(r);
	return r;
}

static void encode(enum proto_peer side, const struct proto_msg *m, struct buf *b)
{
	int rc = side == PROTO_PEER_SERVER ? proto_encode_server(m, b) : proto_encode_client(m, b);

	if (rc != 0)
		fail_msg("encoding <%s> failed: %s", proto_msg_name(m->type), strerror(errno));
}

/* Feeds LEN bytes to a reader for frames up to MAX and expects exactly one message. */
static void decode_one_max(enum proto_peer side, size_t max, const void *data, size_t len,
			   struct proto_msg *out)
{
	struct proto_reader *r = reader(side, max);
	struct proto_msg extra;
	char err[320] = "";

	assert_int_equal(proto_reader_feed(r, data, len), 0);
	if (proto_reader_next(r, out, err, sizeof(err)) != 1)
		fail_msg("decode failed: %s", err);
	assert_int_equal(proto_reader_next(r, &extra, err, sizeof(err)), 0);
	proto_reader_free(r);
}

static void decode_one(enum proto_peer side, const void *data, size_t len, struct proto_msg *out)
{
	decode_one_max(side, PROTO_MAX_MESSAGE_DEFAULT, data, len, out);
}

/* Feeds the NUL-terminated TEXT (plus its NUL when SIDE is the server) and expects an error. */
static void expect_error(enum proto_peer side, const char *text, const char *want)
{
	struct proto_reader *r = reader(side, PROTO_MAX_MESSAGE_DEFAULT);
	struct proto_msg m;
	char err[320] = "";
	int rc;

	assert_int_equal(proto_reader_feed(r, text, strlen(text) + (side == PROTO_PEER_SERVER)), 0);
	rc = proto_reader_next(r, &m, err, sizeof(err));
	if (rc != -1)
		fail_msg("accepted %s (rc %d)", text, rc);
	if (!strstr(err, want))
		fail_msg("error \"%s\" does not say \"%s\"", err, want);
	assert_int_equal(m.type, PROTO_MSG_NONE);
	proto_reader_free(r);
}

/* Feeds TEXT as above and expects one message of TYPE (caller frees OUT). */
static void expect_msg(enum proto_peer side, const char *text, enum proto_msg_type type,
		       struct proto_msg *out)
{
	decode_one(side, text, strlen(text) + (side == PROTO_PEER_SERVER), out);
	assert_int_equal(out->type, type);
}

static void assert_str_same(const char *a, const char *b)
{
	if (!a || !b)
		assert_ptr_equal(a, b);
	else
		assert_string_equal(a, b);
}

static void assert_item_same(const struct proto_item *a, const struct proto_item *b)
{
	assert_str_same(a->id, b->id);
	assert_str_same(a->url, b->url);
	assert_str_same(a->program, b->program);
	assert_str_same(a->time, b->time);
	assert_int_equal(a->process_id, b->process_id);
	assert_int_equal(a->major_error_code, b->major_error_code);
	assert_int_equal(a->minor_error_code, b->minor_error_code);
	assert_int_equal(a->visited, b->visited);
}

static void assert_visit_same(const struct proto_visit *a, const struct proto_visit *b)
{
	assert_int_equal(a->type, b->type);
	assert_str_same(a->identifier, b->identifier);
	assert_str_same(a->program, b->program);
	assert_int_equal(a->visit_time_s, b->visit_time_s);
	assert_str_same(a->time, b->time);
	assert_str_same(a->algorithm, b->algorithm);
	assert_int_equal(a->malicious, b->malicious);
	assert_int_equal(a->error_code, b->error_code);
	assert_int_equal(a->n_items, b->n_items);
	for (size_t i = 0; i < a->n_items; i++)
		assert_item_same(&a->items[i], &b->items[i]);
}

/* Field-by-field comparison written independently of proto_msg_equal(). */
static void assert_msg_same(const struct proto_msg *a, const struct proto_msg *b)
{
	assert_int_equal(a->type, b->type);
	switch (a->type) {
	case PROTO_MSG_CONNECT:
	case PROTO_MSG_RECONNECT:
		assert_str_same(a->u.connect.server, b->u.connect.server);
		assert_str_same(a->u.connect.challenge, b->u.connect.challenge);
		assert_str_same(a->u.connect.vm_server_id, b->u.connect.vm_server_id);
		assert_str_same(a->u.connect.vm_id, b->u.connect.vm_id);
		assert_int_equal(a->u.connect.capture_version, b->u.connect.capture_version);
		break;
	case PROTO_MSG_AUTH: assert_str_same(a->u.auth.response, b->u.auth.response); break;
	case PROTO_MSG_OPTION:
		assert_str_same(a->u.option.name, b->u.option.name);
		assert_str_same(a->u.option.value, b->u.option.value);
		break;
	case PROTO_MSG_FILE_EXCLUSION:
	case PROTO_MSG_REGISTRY_EXCLUSION:
	case PROTO_MSG_PROCESS_EXCLUSION:
	case PROTO_MSG_CONNECTION_EXCLUSION:
		assert_int_equal(a->u.exclusion.excluded, b->u.exclusion.excluded);
		assert_str_same(a->u.exclusion.action, b->u.exclusion.action);
		assert_str_same(a->u.exclusion.subject, b->u.exclusion.subject);
		assert_str_same(a->u.exclusion.object, b->u.exclusion.object);
		break;
	case PROTO_MSG_VISIT_EVENT: assert_visit_same(&a->u.visit, &b->u.visit); break;
	case PROTO_MSG_SYSTEM_EVENT:
		assert_str_same(a->u.event.time, b->u.event.time);
		assert_str_same(a->u.event.type, b->u.event.type);
		assert_int_equal(a->u.event.process_id, b->u.event.process_id);
		assert_str_same(a->u.event.process, b->u.event.process);
		assert_str_same(a->u.event.action, b->u.event.action);
		assert_str_same(a->u.event.object1, b->u.event.object1);
		assert_str_same(a->u.event.object2, b->u.event.object2);
		break;
	case PROTO_MSG_FILE:
	case PROTO_MSG_FILE_FINISHED:
	case PROTO_MSG_FILE_ACCEPT:
	case PROTO_MSG_FILE_REJECT:
		assert_str_same(a->u.file.name, b->u.file.name);
		assert_int_equal(a->u.file.size, b->u.file.size);
		assert_str_same(a->u.file.type, b->u.file.type);
		break;
	case PROTO_MSG_PART:
		assert_str_same(a->u.part.name, b->u.part.name);
		assert_int_equal(a->u.part.start, b->u.part.start);
		assert_int_equal(a->u.part.end, b->u.part.end);
		assert_int_equal(a->u.part.len, b->u.part.len);
		if (a->u.part.len)
			assert_memory_equal(a->u.part.data, b->u.part.data, a->u.part.len);
		break;
	default: break;
	}
	assert_true(proto_msg_equal(a, b));
}

/* Encodes M as SIDE sends it, decodes it with the matching reader, compares. */
static void roundtrip(enum proto_peer side, const struct proto_msg *m)
{
	struct buf b;
	struct proto_msg got;

	buf_init(&b, PROTO_MAX_MESSAGE_DEFAULT);
	encode(side, m, &b);
	assert_true(b.len > 0);
	if (side == PROTO_PEER_SERVER) {
		assert_int_equal(b.data[b.len - 1], '\0');
		assert_null(memchr(b.data, '\0', b.len - 1));
	} else {
		assert_memory_equal(b.data + b.len - 2, "\r\n", 2);
		assert_null(memchr(b.data, '\n', b.len - 1));
		assert_null(memchr(b.data, '\r', b.len - 2));
		assert_null(memchr(b.data, '\0', b.len));
	}
	decode_one(side, b.data, b.len, &got);
	assert_msg_same(m, &got);
	proto_msg_free(&got);
	buf_free(&b);
}

/* ---- sample messages, one or more of every type ---- */

static struct proto_item server_items[] = {
    {.id = "17", .url = "http://example.com/a?b=1&c=\"2\""},
    {.id = "null", .url = "https://xn--bcher-kva.example/<script>'"},
};

static struct proto_item client_items[] = {
    {.url = "http://example.com/a?b=1&c=\"2\"",
     .program = "firefox",
     .time = "3/10/2009 14:5:1.250",
     .process_id = 4242,
     .major_error_code = PROTO_ERR_NETWORK_ERROR,
     .minor_error_code = 2148270085u,
     .visited = true},
    {.url = "http://b.example/", .process_id = 0, .visited = false},
};

static unsigned char part_bytes[100];

/* Fills M with sample I of side SIDE; returns false past the last sample. */
static bool sample_msg(enum proto_peer side, int i, struct proto_msg *m)
{
	static const enum proto_msg_type excl[] = {
	    PROTO_MSG_FILE_EXCLUSION, PROTO_MSG_REGISTRY_EXCLUSION, PROTO_MSG_PROCESS_EXCLUSION,
	    PROTO_MSG_CONNECTION_EXCLUSION};

	memset(m, 0, sizeof(*m));
	if (side == PROTO_PEER_SERVER) {
		switch (i) {
		case 0:
			m->type = PROTO_MSG_CONNECT;
			m->u.connect.server = PROTO_SERVER_VERSION;
			m->u.connect.capture_version = PROTO_VERSION;
			m->u.connect.challenge = NONCE;
			return true;
		case 1:
			m->type = PROTO_MSG_CONNECT;
			m->u.connect.server = "2.5";
			return true;
		case 2:
			m->type = PROTO_MSG_OPTION;
			m->u.option.name = "collect-modified-files";
			m->u.option.value = "true";
			return true;
		case 3:
		case 4:
		case 5:
		case 6:
			m->type = excl[i - 3];
			m->u.exclusion.excluded = i % 2;
			m->u.exclusion.action = "Write";
			m->u.exclusion.subject = "C:\\\\Program Files\\\\Internet Explorer\\\\.*";
			m->u.exclusion.object = ".*\\.(tmp|log)";
			return true;
		case 7: m->type = PROTO_MSG_PING; return true;
		case 8:
			m->type = PROTO_MSG_VISIT_EVENT;
			m->u.visit.identifier = "42";
			m->u.visit.program = "iexplore";
			m->u.visit.visit_time_s = 30;
			m->u.visit.n_items = 2;
			m->u.visit.items = server_items;
			return true;
		case 9:
			m->type = PROTO_MSG_FILE_ACCEPT;
			m->u.file.name = "log/42.zip";
			return true;
		case 10:
			m->type = PROTO_MSG_FILE_REJECT;
			m->u.file.name = "capture_1012009_145.zip";
			return true;
		default: return false;
		}
	}
	switch (i) {
	case 0:
		m->type = PROTO_MSG_CONNECT;
		m->u.connect.vm_server_id = "vmserver-1";
		m->u.connect.vm_id = "7";
		m->u.connect.capture_version = PROTO_VERSION;
		return true;
	case 1:
		m->type = PROTO_MSG_RECONNECT;
		m->u.connect.vm_server_id = "1";
		m->u.connect.vm_id = "2";
		return true;
	case 2:
		m->type = PROTO_MSG_AUTH;
		m->u.auth.response = HEX2;
		return true;
	case 3: m->type = PROTO_MSG_PONG; return true;
	case 4:
	case 5:
	case 6:
		m->type = PROTO_MSG_VISIT_EVENT;
		m->u.visit.type = (enum proto_visit_type)(PROTO_VISIT_START + i - 4);
		m->u.visit.identifier = "42";
		m->u.visit.program = "firefox";
		m->u.visit.time = "3/10/2009 14:5:1.250";
		m->u.visit.algorithm = i == 5 ? NULL : "dac";
		m->u.visit.malicious = i != 4;
		m->u.visit.error_code = i == 6 ? PROTO_ERR_VISITATION_MULTIPLE_ERRORS : 0;
		m->u.visit.n_items = i == 5 ? 0 : 2;
		m->u.visit.items = i == 5 ? NULL : client_items;
		return true;
	case 7:
		m->type = PROTO_MSG_SYSTEM_EVENT;
		m->u.event.time = "3/10/2009 14:5:2.1";
		m->u.event.type = "file";
		m->u.event.process_id = 1234;
		m->u.event.process = "/usr/lib/firefox/firefox";
		m->u.event.action = "Write";
		m->u.event.object1 = "/home/user/.bashrc";
		m->u.event.object2 = "-1";
		return true;
	case 8:
		m->type = PROTO_MSG_FILE;
		m->u.file.name = "/tmp/capture_1.zip";
		m->u.file.size = 5000000000ull;
		m->u.file.type = "zip";
		return true;
	case 9:
		for (size_t k = 0; k < sizeof(part_bytes); k++)
			part_bytes[k] = (unsigned char)(k * 37 + 1);
		proto_part_set(m, "/tmp/capture_1.zip", 8192, part_bytes, sizeof(part_bytes));
		return true;
	case 10:
		m->type = PROTO_MSG_FILE_FINISHED;
		m->u.file.name = "/tmp/capture_1.zip";
		m->u.file.size = 8292;
		return true;
	case 11: m->type = PROTO_MSG_CLIENT; return true;
	case 12: proto_part_set(m, "empty", 0, NULL, 0); return true;
	default: return false;
	}
}

/* ---- tests: round trips ---- */

static void test_every_type_roundtrips(void **state)
{
	bool seen[PROTO_MSG_COUNT] = {false};
	struct proto_msg m;

	(void)state;
	for (int side = PROTO_PEER_SERVER; side <= PROTO_PEER_CLIENT; side++) {
		for (int i = 0; sample_msg((enum proto_peer)side, i, &m); i++) {
			roundtrip((enum proto_peer)side, &m);
			seen[m.type] = true;
		}
	}
	for (int t = PROTO_MSG_NONE + 1; t < PROTO_MSG_COUNT; t++)
		if (!seen[t])
			fail_msg("message type %d (<%s>) has no round-trip sample", t,
				 proto_msg_name((enum proto_msg_type)t));
}

static void test_equal_detects_differences(void **state)
{
	struct proto_msg a, b;
	struct proto_item items[2];

	(void)state;
	sample_msg(PROTO_PEER_CLIENT, 4, &a);
	memcpy(items, client_items, sizeof(items));
	b = a;
	b.u.visit.items = items;
	assert_true(proto_msg_equal(&a, &b));
	items[1].visited = true;
	assert_false(proto_msg_equal(&a, &b));
	items[1].visited = false;
	items[0].url = "http://other/";
	assert_false(proto_msg_equal(&a, &b));
	items[0].url = client_items[0].url;
	b.u.visit.algorithm = NULL;
	assert_false(proto_msg_equal(&a, &b));
	b.u.visit.algorithm = a.u.visit.algorithm;
	b.u.visit.type = PROTO_VISIT_FINISH;
	assert_false(proto_msg_equal(&a, &b));
	sample_msg(PROTO_PEER_CLIENT, 9, &a);
	sample_msg(PROTO_PEER_CLIENT, 9, &b);
	assert_true(proto_msg_equal(&a, &b));
	b.u.part.data = (unsigned char *)"x";
	b.u.part.len = 1;
	assert_false(proto_msg_equal(&a, &b));
}

/* ---- tests: escaping ---- */

/* Encodes S as an option value and a system-event object; both must come back byte-exact. */
static void escape_roundtrip(const char *s, size_t len)
{
	struct proto_msg m, got;
	struct buf b;

	buf_init(&b, 8 * PROTO_MAX_MESSAGE_DEFAULT);
	proto_msg_init(&m, PROTO_MSG_OPTION);
	m.u.option.name = (char *)s;
	m.u.option.value = (char *)s;
	encode(PROTO_PEER_SERVER, &m, &b);
	decode_one_max(PROTO_PEER_SERVER, 8 * PROTO_MAX_MESSAGE_DEFAULT, b.data, b.len, &got);
	assert_int_equal(strlen(got.u.option.value), len);
	assert_memory_equal(got.u.option.value, s, len);
	assert_memory_equal(got.u.option.name, s, len);
	proto_msg_free(&got);

	buf_reset(&b);
	sample_msg(PROTO_PEER_CLIENT, 7, &m);
	m.u.event.object1 = (char *)s;
	m.u.event.process = (char *)s;
	encode(PROTO_PEER_CLIENT, &m, &b);
	for (size_t i = 0; i + 2 < b.len; i++)
		assert_true((unsigned char)b.data[i] >= 0x20 && b.data[i] != 0x7f);
	decode_one_max(PROTO_PEER_CLIENT, 8 * PROTO_MAX_MESSAGE_DEFAULT, b.data, b.len, &got);
	assert_int_equal(strlen(got.u.event.object1), len);
	assert_memory_equal(got.u.event.object1, s, len);
	assert_memory_equal(got.u.event.process, s, len);
	proto_msg_free(&got);
	buf_free(&b);
}

static void test_hostile_strings_roundtrip(void **state)
{
	static const char *const hostile[] = {
	    "",
	    "plain",
	    "\"quoted\" and 'single'",
	    "<tag attr=\"x\">&amp;</tag>",
	    "a&b<c>d",
	    "line1\nline2\r\nline3\r",
	    "tab\there",
	    "\x01\x02\x03\x07\x08\x0b\x0c\x0e\x1b\x1f\x7f",
	    "invalid \xff\xfe utf-8 \xc0\x80 overlong \xed\xa0\x80 surrogate",
	    "truncated \xe2\x82",
	    "lone continuation \x80\xbf",
	    "escape char itself \xef\xb7\x90 and \xef\xb7\x90"
	    "41 and \xef\xb7\x90"
	    "00",
	    "nonchars \xef\xbf\xbe \xef\xbf\xbf",
	    "valid: caf\xc3\xa9 \xe4\xb8\xad \xf0\x9f\x98\x80 C1 \xc2\x85",
	    "C:\\Program Files\\x64\\a.exe \\\\server\\share \\x41",
	    "]]> <!-- --> <![CDATA[ x ]]> &#0; &lt;",
	};
	char all[256];
	char *big;

	(void)state;
	for (size_t i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++)
		escape_roundtrip(hostile[i], strlen(hostile[i]));
	for (int c = 1; c < 256; c++)
		all[c - 1] = (char)c;
	all[255] = '\0';
	escape_roundtrip(all, 255);
	big = malloc(200001);
	assert_non_null(big);
	for (size_t i = 0; i < 200000; i++)
		big[i] = "a<&\"\n\xff\xc3\xa9"[i % 8];
	big[200000] = '\0';
	escape_roundtrip(big, 200000);
	free(big);
}

static void test_wire_forms(void **state)
{
	struct proto_msg m;
	struct buf b;

	(void)state;
	buf_init(&b, 4096);
	proto_msg_init(&m, PROTO_MSG_OPTION);
	m.u.option.name = "C:\\Program Files\\x64";
	m.u.option.value = "a&b<c>\"d'\n\t\x01\xff";
	encode(PROTO_PEER_SERVER, &m, &b);
	/* backslashes untouched (original clients read paths and regexes unchanged) */
	assert_string_equal(b.data,
			    "<option name=\"C:\\Program Files\\x64\" value=\"a&amp;b&lt;c&gt;"
			    "&quot;d&apos;&#xA;&#x9;\xef\xb7\x90"
			    "01\xef\xb7\x90"
			    "FF\"/>");
	assert_int_equal(b.len, strlen(b.data) + 1);
	buf_free(&b);
}

static void test_char_refs_and_unknown_attrs(void **state)
{
	struct proto_msg m;

	(void)state;
	expect_msg(PROTO_PEER_SERVER,
		   "<option extra=\"ignored\" name=\"a&#10;b&#x9;&#233;\" value=\"&lt;&amp;\"/>",
		   PROTO_MSG_OPTION, &m);
	assert_string_equal(m.u.option.name, "a\nb\t\xc3\xa9");
	assert_string_equal(m.u.option.value, "<&");
	proto_msg_free(&m);
	/* a raw newline in an attribute is normalised to a space, as XML says */
	expect_msg(PROTO_PEER_SERVER, "<option name=\"a\nb\" value=\"\"/>", PROTO_MSG_OPTION, &m);
	assert_string_equal(m.u.option.name, "a b");
	assert_string_equal(m.u.option.value, "");
	proto_msg_free(&m);
}

/* ---- tests: framing ---- */

static void build_stream(enum proto_peer side, struct buf *b, struct proto_msg *msgs, int *n)
{
	int count = 0;

	buf_init(b, PROTO_MAX_MESSAGE_DEFAULT);
	for (int i = 0; sample_msg(side, i, &msgs[count]); i++)
		encode(side, &msgs[count++], b);
	*n = count;
}

static void feed_in_pieces(enum proto_peer side, size_t piece)
{
	struct proto_msg msgs[16], got;
	struct proto_reader *r = reader(side, PROTO_MAX_MESSAGE_DEFAULT);
	char err[320];
	struct buf b;
	int n, k = 0, rc;

	build_stream(side, &b, msgs, &n);
	for (size_t off = 0; off < b.len; off += piece) {
		size_t len = b.len - off < piece ? b.len - off : piece;

		assert_int_equal(proto_reader_feed(r, b.data + off, len), 0);
		while ((rc = proto_reader_next(r, &got, err, sizeof(err))) == 1) {
			assert_true(k < n);
			assert_msg_same(&msgs[k++], &got);
			proto_msg_free(&got);
		}
		if (rc < 0)
			fail_msg("%s", err);
	}
	assert_int_equal(k, n);
	proto_reader_free(r);
	buf_free(&b);
}

static void test_split_feeds(void **state)
{
	(void)state;
	for (int side = PROTO_PEER_SERVER; side <= PROTO_PEER_CLIENT; side++) {
		feed_in_pieces((enum proto_peer)side, 1);
		feed_in_pieces((enum proto_peer)side, 7);
		feed_in_pieces((enum proto_peer)side, 1 << 20);
	}
}

static void test_two_messages_one_feed(void **state)
{
	static const char lines[] = "<pong/>\r\n<connect vm-server-id=\"1\" vm-id=\"2\"/>\n";
	static const char frames[] = "<ping/>\n\0<file-accept name=\"x\"/>";
	struct proto_reader *r = reader(PROTO_PEER_CLIENT, 256);
	struct proto_msg m;
	char err[320];

	(void)state;
	assert_int_equal(proto_reader_feed(r, lines, sizeof(lines) - 1), 0);
	assert_int_equal(proto_reader_next(r, &m, err, sizeof(err)), 1);
	assert_int_equal(m.type, PROTO_MSG_PONG);
	assert_int_equal(proto_reader_next(r, &m, err, sizeof(err)), 1);
	assert_int_equal(m.type, PROTO_MSG_CONNECT);
	assert_string_equal(m.u.connect.vm_id, "2");
	proto_msg_free(&m);
	assert_int_equal(proto_reader_next(r, &m, err, sizeof(err)), 0);
	proto_reader_free(r);

	r = reader(PROTO_PEER_SERVER, 256);
	assert_int_equal(proto_reader_feed(r, frames, sizeof(frames)), 0);
	assert_int_equal(proto_reader_next(r, &m, err, sizeof(err)), 1);
	assert_int_equal(m.type, PROTO_MSG_PING);
	assert_int_equal(proto_reader_next(r, &m, err, sizeof(err)), 1);
	assert_int_equal(m.type, PROTO_MSG_FILE_ACCEPT);
	assert_string_equal(m.u.file.name, "x");
	proto_msg_free(&m);
	assert_int_equal(proto_reader_next(r, &m, err, sizeof(err)), 0);
	proto_reader_free(r);
}

static void test_blank_frames_skipped(void **state)
{
	static const char lines[] = "\r\n\n  \t\r\n<pong/>\r\n\r\n";
	struct proto_reader *r = reader(PROTO_PEER_CLIENT, 256);
	struct proto_msg m;
	char err[320];

	(void)state;
	assert_int_equal(proto_reader_feed(r, lines, sizeof(lines) - 1), 0);
	assert_int_equal(proto_reader_next(r, &m, err, sizeof(err)), 1);
	assert_int_equal(m.type, PROTO_MSG_PONG);
	assert_int_equal(proto_reader_next(r, &m, err, sizeof(err)), 0);
	proto_reader_free(r);
}

static void test_oversized_frame(void **state)
{
	struct proto_reader *r = reader(PROTO_PEER_SERVER, 64);
	char junk[100], frame[65], err[320];
	struct proto_msg m;
	const char *sample;
	size_t len;

	(void)state;
	memset(junk, 'a', sizeof(junk));
	assert_int_equal(proto_reader_feed(r, junk, 63), 0);
	assert_int_equal(proto_reader_next(r, &m, err, sizeof(err)),
			 0); /* 63 bytes may still end */
	assert_int_equal(proto_reader_feed(r, junk, 1), 0);
	assert_int_equal(proto_reader_next(r, &m, err, sizeof(err)), -1);
	assert_string_equal(err, "message at byte 0: longer than 64 bytes");
	sample = proto_reader_frame(r, &len);
	assert_int_equal(len, 64);
	assert_memory_equal(sample, junk, 64);
	/* failed until reset: no more input, same error again */
	assert_int_equal(proto_reader_next(r, &m, err, sizeof(err)), -1);
	assert_string_equal(err, "message at byte 0: longer than 64 bytes");
	errno = 0;
	assert_int_equal(proto_reader_feed(r, "<ping/>", 8), -1);
	assert_int_equal(errno, EPROTO);
	proto_reader_reset(r);

	/* exactly 64 bytes with the NUL is fine, 65 is not */
	memset(frame, ' ', sizeof(frame));
	memcpy(frame, "<ping/>", 7);
	frame[63] = '\0';
	assert_int_equal(proto_reader_feed(r, frame, 64), 0);
	assert_int_equal(proto_reader_next(r, &m, err, sizeof(err)), 1);
	assert_int_equal(m.type, PROTO_MSG_PING);
	frame[63] = ' ';
	frame[64] = '\0';
	assert_int_equal(proto_reader_feed(r, frame, 65), 0);
	assert_int_equal(proto_reader_next(r, &m, err, sizeof(err)), -1);
	assert_string_equal(err, "message at byte 64: longer than 64 bytes");
	proto_reader_free(r);
}

static void test_oversized_line_after_good_one(void **state)
{
	struct proto_reader *r = reader(PROTO_PEER_CLIENT, 64);
	char junk[200], err[320];
	struct proto_msg m;

	(void)state;
	memset(junk, 'x', sizeof(junk));
	memcpy(junk, "<pong/>\r\n", 9);
	assert_int_equal(proto_reader_feed(r, junk, sizeof(junk)), 0);
	assert_int_equal(proto_reader_next(r, &m, err, sizeof(err)), 1);
	assert_int_equal(m.type, PROTO_MSG_PONG);
	assert_int_equal(proto_reader_next(r, &m, err, sizeof(err)), -1);
	assert_string_equal(err, "message at byte 9: longer than 64 bytes");
	proto_reader_free(r);
}

static void test_feed_bound(void **state)
{
	struct proto_reader *r = reader(PROTO_PEER_CLIENT, 64);
	char *big = calloc(1, PROTO_FEED_MAX + 65);

	(void)state;
	assert_non_null(big);
	errno = 0;
	assert_int_equal(proto_reader_feed(r, big, PROTO_FEED_MAX + 65), -1);
	assert_int_equal(errno, ENOBUFS);
	free(big);
	proto_reader_free(r);
}

static void test_nul_in_line(void **state)
{
	static const char line[] = "<pong/>\0\r\n";
	struct proto_reader *r = reader(PROTO_PEER_CLIENT, 256);
	struct proto_msg m;
	char err[320];

	(void)state;
	assert_int_equal(proto_reader_feed(r, line, sizeof(line) - 1), 0);
	assert_int_equal(proto_reader_next(r, &m, err, sizeof(err)), -1);
	assert_string_equal(err, "message at byte 0: NUL byte at byte 7 inside a line");
	proto_reader_free(r);

	/* caught before the line ends */
	r = reader(PROTO_PEER_CLIENT, 256);
	assert_int_equal(proto_reader_feed(r, "<pong/>\r\n<po\0", 13), 0);
	assert_int_equal(proto_reader_next(r, &m, err, sizeof(err)), 1);
	assert_int_equal(proto_reader_next(r, &m, err, sizeof(err)), -1);
	assert_string_equal(err, "message at byte 9: NUL byte at byte 12 inside a line");
	proto_reader_free(r);
}

static void test_reader_limits(void **state)
{
	struct proto_reader *r;
	struct proto_msg m;
	struct buf b;
	char err[320];

	(void)state;
	assert_null(proto_reader_new(PROTO_PEER_CLIENT, 10));
	assert_null(proto_reader_new(PROTO_PEER_CLIENT, PROTO_MAX_MESSAGE_LIMIT + 1));
	assert_null(proto_reader_new((enum proto_peer)7, 1024));
	r = reader(PROTO_PEER_CLIENT, PROTO_MAX_MESSAGE_PREAUTH);
	assert_int_equal(proto_reader_set_max(r, 10), -1);
	sample_msg(PROTO_PEER_CLIENT, 7, &m);
	m.u.event.object1 = calloc(1, 2000);
	assert_non_null(m.u.event.object1);
	memset(m.u.event.object1, 'o', 1999);
	buf_init(&b, PROTO_MAX_MESSAGE_DEFAULT);
	encode(PROTO_PEER_CLIENT, &m, &b);
	free(m.u.event.object1);
	assert_int_equal(proto_reader_set_max(r, PROTO_MAX_MESSAGE_DEFAULT), 0);
	assert_int_equal(proto_reader_feed(r, b.data, b.len), 0);
	assert_int_equal(proto_reader_next(r, &m, err, sizeof(err)), 1);
	assert_int_equal(strlen(m.u.event.object1), 1999);
	proto_msg_free(&m);
	proto_reader_free(r);
	buf_free(&b);
}

/* ---- tests: decoder errors ---- */

static void test_malformed_xml(void **state)
{
	(void)state;
	expect_error(PROTO_PEER_CLIENT, "<pong\r\n", "message at byte 0: 1:1: unclosed token");
	expect_error(PROTO_PEER_CLIENT, "<pong/><pong/>\r\n", "1:8: junk after document element");
	expect_error(PROTO_PEER_CLIENT, "just text\r\n", "1:1: syntax error");
	expect_error(PROTO_PEER_CLIENT, "<!-- only a comment -->\r\n", "no element found");
	expect_error(PROTO_PEER_SERVER,
		     "<visit-event identifier=\"1\"\n program=\"x\" time=\"3\">\n"
		     "<item id=\"1\" url=\"u\"/>\n<item id=\"2\" url=\"v\"></visit-event>",
		     "message at byte 0: 4:24: mismatched tag");
	expect_error(PROTO_PEER_SERVER, "<option name=\"&x;\" value=\"v\"/>",
		     "1:1: undefined entity");
	expect_error(PROTO_PEER_SERVER, "<option name=\"&#1;\" value=\"v\"/>",
		     "reference to invalid character number");
	expect_error(PROTO_PEER_CLIENT, "<pong a=\"1\" a=\"2\"/>\r\n", "duplicate attribute");
	/* invalid UTF-8 on the wire is malformed XML (our encoder never sends it) */
	expect_error(PROTO_PEER_CLIENT, "<pong a=\"\xff\"/>\r\n", "not well-formed");
}

static void test_doctype_rejected(void **state)
{
	(void)state;
	expect_error(PROTO_PEER_CLIENT, "<!DOCTYPE pong [<!ENTITY a \"b\">]><pong/>\r\n",
		     "1:16: DOCTYPE declarations are not allowed");
	expect_error(PROTO_PEER_SERVER,
		     "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\">"
		     "<!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">]>"
		     "<option name=\"&lol2;\" value=\"x\"/>",
		     "DOCTYPE declarations are not allowed");
	expect_error(PROTO_PEER_SERVER, "<!DOCTYPE ping SYSTEM \"file:///etc/passwd\"><ping/>",
		     "DOCTYPE declarations are not allowed");
}

static void test_unknown_and_misplaced_elements(void **state)
{
	(void)state;
	expect_error(PROTO_PEER_CLIENT, "<foo/>\r\n",
		     "message at byte 0: 1:1: unknown element <foo>");
	expect_error(PROTO_PEER_CLIENT, "<option name=\"a\" value=\"b\"/>\r\n",
		     "<option> is not a message a client sends");
	expect_error(PROTO_PEER_SERVER, "<system-event/>",
		     "<system-event> is not a message a server");
	expect_error(PROTO_PEER_CLIENT, "<pong><item/></pong>\r\n",
		     "1:7: unexpected element <item> inside <pong>");
	expect_error(PROTO_PEER_SERVER,
		     "<visit-event identifier=\"1\" program=\"p\" time=\"1\">"
		     "<item id=\"1\" url=\"u\"><item id=\"2\" url=\"v\"/></item></visit-event>",
		     "unexpected element <item> inside <item>");
	expect_error(PROTO_PEER_SERVER,
		     "<visit-event identifier=\"1\" program=\"p\" time=\"1\"><url/></visit-event>",
		     "unexpected element <url> inside <visit-event>");
	expect_error(PROTO_PEER_CLIENT, "<pong>text</pong>\r\n", "unexpected text inside <pong>");
	expect_error(PROTO_PEER_CLIENT, "<x\x01y/>\r\n", "not well-formed");
}

static void test_missing_attributes(void **state)
{
	(void)state;
	expect_error(PROTO_PEER_CLIENT,
		     "<system-event time=\"t\" type=\"file\" process=\"p\" action=\"Write\"/>\r\n",
		     "1:1: <system-event> without required attribute object1");
	expect_error(PROTO_PEER_CLIENT, "<connect vm-id=\"1\"/>\r\n",
		     "<connect> without required attribute vm-server-id");
	expect_error(PROTO_PEER_SERVER, "<connect capture-version=\"1\"/>",
		     "<connect> without required attribute server");
	expect_error(PROTO_PEER_SERVER,
		     "<visit-event identifier=\"1\" program=\"p\" time=\"1\">\n  <item id=\"1\"/>"
		     "</visit-event>",
		     "2:3: <item> without required attribute url");
	expect_error(PROTO_PEER_CLIENT,
		     "<visit-event type=\"error\" identifier=\"1\" program=\"p\" time=\"t\" "
		     "malicious=\"0\"/>\r\n",
		     "1:1: <visit-event type=\"error\"> without a non-zero error-code");
	expect_error(PROTO_PEER_CLIENT,
		     "<visit-event type=\"finish\" identifier=\"1\" program=\"p\" time=\"t\"/>\r\n",
		     "without required attribute malicious");
	expect_error(PROTO_PEER_CLIENT, "<auth/>\r\n",
		     "<auth> without required attribute response");
}

static void test_bad_values(void **state)
{
	(void)state;
	expect_error(PROTO_PEER_CLIENT, "<file name=\"x\" size=\"12x\"/>\r\n",
		     "1:1: <file> attribute size=\"12x\": not a decimal number in [0, "
		     "18446744073709551615]");
	expect_error(PROTO_PEER_CLIENT, "<file name=\"x\" size=\"-1\"/>\r\n",
		     "not a decimal number");
	expect_error(PROTO_PEER_CLIENT, "<file name=\"x\" size=\" 1\"/>\r\n",
		     "not a decimal number");
	expect_error(PROTO_PEER_CLIENT, "<file name=\"x\" size=\"\"/>\r\n", "not a decimal number");
	expect_error(PROTO_PEER_CLIENT, "<file name=\"x\" size=\"18446744073709551616\"/>\r\n",
		     "not a decimal number");
	expect_error(
	    PROTO_PEER_CLIENT,
	    "<system-event time=\"t\" type=\"f\" processId=\"4294967296\" process=\"p\" "
	    "action=\"a\" object1=\"o\"/>\r\n",
	    "<system-event> attribute processId=\"4294967296\": not a decimal number in [0, "
	    "4294967295]");
	expect_error(PROTO_PEER_CLIENT,
		     "<visit-event type=\"begin\" identifier=\"1\" program=\"p\" time=\"t\" "
		     "malicious=\"0\"/>\r\n",
		     "type=\"begin\": not start, finish or error");
	expect_error(PROTO_PEER_CLIENT,
		     "<visit-event type=\"finish\" identifier=\"1\" program=\"p\" time=\"t\" "
		     "malicious=\"yes\"/>\r\n",
		     "malicious=\"yes\": not 0 or 1");
	expect_error(PROTO_PEER_SERVER,
		     "<file-exclusion excluded=\"maybe\" action=\"a\" subject=\"s\" object=\"o\"/>",
		     "excluded=\"maybe\": not +, -, yes or no");
	expect_error(PROTO_PEER_SERVER, "<connect server=\"2.5\" challenge=\"abc\"/>",
		     "challenge=\"abc\": not 64 hex digits");
	expect_error(PROTO_PEER_CLIENT, "<auth response=\"" NONCE "0\"/>\r\n", "not 64 hex digits");
	/* a hostile value is quoted only in part and without control bytes */
	expect_error(PROTO_PEER_CLIENT,
		     "<file name=\"x\" "
		     "size=\"1&#x9;xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"/>\r\n",
		     "size=\"1.xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...\"");
}

static void test_exclusion_sign_words(void **state)
{
	struct proto_msg m;

	(void)state;
	expect_msg(
	    PROTO_PEER_SERVER,
	    "<process-exclusion excluded=\"yes\" action=\"sh\" subject=\"bash\" object=\".*\"/>",
	    PROTO_MSG_PROCESS_EXCLUSION, &m);
	assert_true(m.u.exclusion.excluded);
	proto_msg_free(&m);
	expect_msg(PROTO_PEER_SERVER,
		   "<registry-exclusion excluded=\"no\" action=\"SetValueKey\" subject=\".*\" "
		   "object=\"HKLM\\\\.*\\\\Run\"/>",
		   PROTO_MSG_REGISTRY_EXCLUSION, &m);
	assert_false(m.u.exclusion.excluded);
	assert_string_equal(m.u.exclusion.object, "HKLM\\\\.*\\\\Run");
	proto_msg_free(&m);
}

static const char *part_line(const char *attrs, const char *body)
{
	static char line[512];

	snprintf(line, sizeof(line), "<part name=\"f\" %s>%s</part>\r\n", attrs, body);
	return line;
}

static void test_part_body_checks(void **state)
{
	static const char *const ok_attrs = "part-start=\"10\" part-end=\"13\" encoding=\"base64\"";
	struct proto_msg m;

	(void)state;
	expect_msg(PROTO_PEER_CLIENT, part_line(ok_attrs, "YWJj"), PROTO_MSG_PART, &m);
	assert_int_equal(m.u.part.len, 3);
	assert_memory_equal(m.u.part.data, "abc", 3);
	proto_msg_free(&m);
	expect_msg(PROTO_PEER_CLIENT,
		   part_line("part-start=\"0\" part-end=\"1\" encoding=\"base64\"", " YQ== "),
		   PROTO_MSG_PART, &m);
	assert_int_equal(m.u.part.len, 1);
	assert_int_equal(m.u.part.data[0], 'a');
	proto_msg_free(&m);
	expect_msg(PROTO_PEER_CLIENT,
		   part_line("part-start=\"0\" part-end=\"2\" encoding=\"base64\"", "YWI="),
		   PROTO_MSG_PART, &m);
	assert_memory_equal(m.u.part.data, "ab", 2);
	proto_msg_free(&m);

	expect_error(PROTO_PEER_CLIENT, part_line(ok_attrs, "YWJ"),
		     "1:1: body length is not a multiple of 4");
	expect_error(PROTO_PEER_CLIENT, part_line(ok_attrs, "YW*j"),
		     "character that is not base64");
	expect_error(PROTO_PEER_CLIENT, part_line(ok_attrs, "=YWJ"),
		     "character that is not base64");
	expect_error(PROTO_PEER_CLIENT, part_line(ok_attrs, "YQ=a"),
		     "character that is not base64");
	expect_error(PROTO_PEER_CLIENT, part_line(ok_attrs, "Y W J j"), "not a multiple of 4");
	expect_error(PROTO_PEER_CLIENT,
		     part_line("part-start=\"0\" part-end=\"2\" encoding=\"base64\"", "YQ=="),
		     "<part> body has 1 bytes, part-start=0 part-end=2");
	expect_error(PROTO_PEER_CLIENT,
		     part_line("part-start=\"5\" part-end=\"4\" encoding=\"base64\"", ""),
		     "part-start=5 part-end=4");
	expect_error(PROTO_PEER_CLIENT,
		     part_line("part-start=\"0\" part-end=\"3\" encoding=\"gzip\"", "YWJj"),
		     "encoding=\"gzip\": unsupported encoding");
	expect_error(PROTO_PEER_CLIENT, part_line("part-start=\"0\" part-end=\"3\"", "YWJj"),
		     "without required attribute encoding");
}

/* ---- tests: original peers ---- */

static void test_original_peers(void **state)
{
	struct proto_msg m;

	(void)state;
	expect_msg(PROTO_PEER_CLIENT, "<connect vm-server-id=\"1\" vm-id=\"2\"/>\r\n",
		   PROTO_MSG_CONNECT, &m);
	assert_int_equal(m.u.connect.capture_version, 0);
	assert_string_equal(m.u.connect.vm_server_id, "1");
	proto_msg_free(&m);
	expect_msg(PROTO_PEER_SERVER, "<connect server=\"2.5\"/>", PROTO_MSG_CONNECT, &m);
	assert_int_equal(m.u.connect.capture_version, 0);
	assert_null(m.u.connect.challenge);
	proto_msg_free(&m);
	expect_msg(PROTO_PEER_SERVER, "<ping/>\n", PROTO_MSG_PING, &m);
	/* a 3.0 client's finish, one line, unescaped URL-encoded values, no algorithm */
	expect_msg(PROTO_PEER_CLIENT,
		   "<visit-event identifier=\"5\" program=\"iexplore\" time=\"1/2/2009 3:4:5.6\" "
		   "type=\"finish\" malicious=\"0\"><item url=\"http%3a%2f%2fa.example%2f\" "
		   "program=\"iexplore\" major-error-code=\"0\" minor-error-code=\"0\" "
		   "visited=\"1\"/></visit-event>\r\n",
		   PROTO_MSG_VISIT_EVENT, &m);
	assert_int_equal(m.u.visit.type, PROTO_VISIT_FINISH);
	assert_null(m.u.visit.algorithm);
	assert_int_equal(m.u.visit.n_items, 1);
	assert_string_equal(m.u.visit.items[0].url, "http%3a%2f%2fa.example%2f");
	assert_true(m.u.visit.items[0].visited);
	assert_int_equal(m.u.visit.items[0].process_id, 0);
	proto_msg_free(&m);
	expect_msg(PROTO_PEER_CLIENT,
		   "<system-event time=\"1/2/2009 3:4:5.6\" type=\"registry\" processId=\"1234\" "
		   "process=\"C:\\WINDOWS\\explorer.exe\" action=\"SetValueKey\" "
		   "object1=\"HKLM\\Software\\x41\" object2=\"-1\"/>\n",
		   PROTO_MSG_SYSTEM_EVENT, &m);
	assert_string_equal(m.u.event.process, "C:\\WINDOWS\\explorer.exe");
	assert_string_equal(m.u.event.object1, "HKLM\\Software\\x41");
	proto_msg_free(&m);
	expect_msg(PROTO_PEER_CLIENT,
		   "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><client/>\r\n", PROTO_MSG_CLIENT,
		   &m);
}

/* ---- tests: encoder ---- */

static void test_encode_refuses(void **state)
{
	struct proto_msg m;
	struct buf b;

	(void)state;
	buf_init(&b, 1024);
	assert_int_equal(buf_addstr(&b, "kept"), 0);
	proto_msg_init(&m, PROTO_MSG_OPTION);
	m.u.option.name = "a";
	errno = 0;
	assert_int_equal(proto_encode_server(&m, &b), -1); /* value missing */
	assert_int_equal(errno, EINVAL);
	m.u.option.value = "b";
	assert_int_equal(proto_encode_client(&m, &b), -1); /* a client does not send options */
	assert_int_equal(errno, EINVAL);
	proto_msg_init(&m, PROTO_MSG_NONE);
	assert_int_equal(proto_encode_server(&m, &b), -1);
	sample_msg(PROTO_PEER_CLIENT, 6, &m);
	m.u.visit.error_code = 0;
	assert_int_equal(proto_encode_client(&m, &b), -1); /* error without a code */
	sample_msg(PROTO_PEER_CLIENT, 4, &m);
	m.u.visit.type = PROTO_VISIT_REQUEST;
	assert_int_equal(proto_encode_client(&m, &b), -1);
	sample_msg(PROTO_PEER_CLIENT, 9, &m);
	m.u.part.end++;
	assert_int_equal(proto_encode_client(&m, &b), -1);
	sample_msg(PROTO_PEER_SERVER, 0, &m);
	m.u.connect.challenge = "xyz";
	assert_int_equal(proto_encode_server(&m, &b), -1);
	sample_msg(PROTO_PEER_SERVER, 8, &m);
	m.u.visit.n_items = PROTO_MAX_ITEMS + 1;
	assert_int_equal(proto_encode_server(&m, &b), -1);
	assert_string_equal(b.data, "kept");

	/* the buffer's maximum: E2BIG and nothing of the message left behind */
	buf_free(&b);
	buf_init(&b, 12);
	assert_int_equal(buf_addstr(&b, "kept"), 0);
	proto_msg_init(&m, PROTO_MSG_PING);
	assert_int_equal(proto_encode_server(&m, &b), 0);
	assert_int_equal(b.len, 12);
	errno = 0;
	assert_int_equal(proto_encode_server(&m, &b), -1);
	assert_int_equal(errno, E2BIG);
	assert_int_equal(b.len, 12);
	assert_memory_equal(b.data, "kept<ping/>", 12);
	buf_free(&b);
}

static void test_part_chunking(void **state)
{
	enum {
		SIZE = 2 * PROTO_PART_SIZE + 3616
	};
	unsigned char *file = malloc(SIZE), *back = calloc(1, SIZE);
	struct proto_reader *r = reader(PROTO_PEER_CLIENT, PROTO_MAX_MESSAGE_DEFAULT);
	struct proto_msg m;
	struct buf b;
	char err[320];
	size_t off = 0, n, parts = 0;

	(void)state;
	assert_non_null(file);
	assert_non_null(back);
	for (size_t i = 0; i < SIZE; i++)
		file[i] = (unsigned char)(i * 7919 >> 3);
	buf_init(&b, PROTO_MAX_MESSAGE_DEFAULT);
	while ((n = proto_part_set(&m, "up.zip", off, file + off, SIZE - off)) > 0) {
		assert_int_equal(m.u.part.end - m.u.part.start, n);
		encode(PROTO_PEER_CLIENT, &m, &b);
		off += n;
		parts++;
	}
	assert_int_equal(parts, 3);
	assert_int_equal(m.type, PROTO_MSG_PART);
	assert_int_equal(m.u.part.len, 0);
	assert_int_equal(proto_reader_feed(r, b.data, b.len), 0);
	while (proto_reader_next(r, &m, err, sizeof(err)) == 1) {
		assert_true(m.u.part.end <= SIZE);
		assert_true(m.u.part.len <= PROTO_PART_SIZE);
		memcpy(back + m.u.part.start, m.u.part.data, m.u.part.len);
		proto_msg_free(&m);
		parts--;
	}
	assert_int_equal(parts, 0);
	assert_memory_equal(back, file, SIZE);
	free(file);
	free(back);
	buf_free(&b);
	proto_reader_free(r);
}

/* ---- tests: authentication ---- */

static void test_auth(void **state)
{
	static const char key[] = "shared secret";
	char nonce[PROTO_AUTH_HEX_LEN + 1], other[PROTO_AUTH_HEX_LEN + 1];
	char resp[PROTO_AUTH_HEX_LEN + 1], upper[PROTO_AUTH_HEX_LEN + 1],
	    bad[PROTO_AUTH_HEX_LEN + 2];

	(void)state;
	assert_int_equal(proto_auth_challenge(nonce), 0);
	assert_int_equal(proto_auth_challenge(other), 0);
	assert_int_equal(strlen(nonce), PROTO_AUTH_HEX_LEN);
	assert_int_equal(strspn(nonce, "0123456789abcdef"), PROTO_AUTH_HEX_LEN);
	assert_string_not_equal(nonce, other);

	assert_int_equal(proto_auth_response(key, strlen(key), nonce, resp), 0);
	assert_true(proto_auth_check(key, strlen(key), nonce, resp));
	for (int i = 0; i <= PROTO_AUTH_HEX_LEN; i++)
		upper[i] = (char)(resp[i] >= 'a' && resp[i] <= 'f' ? resp[i] - 32 : resp[i]);
	assert_true(proto_auth_check(key, strlen(key), nonce, upper));

	assert_false(proto_auth_check("other key", 9, nonce, resp));
	assert_false(proto_auth_check(key, strlen(key) - 1, nonce, resp));
	assert_false(proto_auth_check(key, strlen(key), other, resp));
	assert_false(proto_auth_check(key, 0, nonce, resp));
	assert_false(proto_auth_check(key, strlen(key), nonce, NULL));
	assert_false(proto_auth_check(key, strlen(key), "abc", resp));
	memcpy(bad, resp, sizeof(resp));
	bad[PROTO_AUTH_HEX_LEN - 1] = '\0';
	assert_false(proto_auth_check(key, strlen(key), nonce, bad)); /* 63 digits */
	memcpy(bad, resp, PROTO_AUTH_HEX_LEN);
	bad[PROTO_AUTH_HEX_LEN] = '0';
	bad[PROTO_AUTH_HEX_LEN + 1] = '\0';
	assert_false(proto_auth_check(key, strlen(key), nonce, bad)); /* 65 digits */
	memcpy(bad, resp, sizeof(resp));
	bad[10] = 'g';
	assert_false(proto_auth_check(key, strlen(key), nonce, bad)); /* not hex */
	memcpy(bad, resp, sizeof(resp));
	bad[0] = bad[0] == '0' ? '1' : '0';
	assert_false(proto_auth_check(key, strlen(key), nonce, bad)); /* one digit off */
	errno = 0;
	assert_int_equal(proto_auth_response(key, strlen(key), "zz", resp), -1);
	assert_int_equal(errno, EINVAL);
}

static void test_auth_known_answer(void **state)
{
	/* HMAC-SHA256("Jefe", the 32 nonce bytes), computed with `openssl dgst -mac HMAC` */
	static const char want[] =
	    "c78bd2d42b0d6beb90b025790d90503b0fb24de831be93caa1ffccea2732ec72";
	char resp[PROTO_AUTH_HEX_LEN + 1];

	(void)state;
	assert_int_equal(proto_auth_response("Jefe", 4, NONCE, resp), 0);
	assert_string_equal(resp, want);
	assert_true(proto_auth_check("Jefe", 4, NONCE, want));
	/* the nonce is hex-decoded first: upper-case hex is the same challenge */
	assert_true(proto_auth_check(
	    "Jefe", 4, "00112233445566778899AABBCCDDEEFF00112233445566778899AABBCCDDEEFF", want));
}

/* ---- tests: error codes ---- */

static void test_error_names(void **state)
{
	(void)state;
	assert_int_equal(PROTO_ERR_NETWORK_ERROR, 0x10000110);
	assert_int_equal(PROTO_ERR_PROCESS_ERROR, 0x10000111);
	assert_int_equal(PROTO_ERR_TIMEOUT_ERROR, 0x10000112);
	assert_int_equal(PROTO_ERR_VISITATION_MULTIPLE_ERRORS, 0x10000113);
	assert_int_equal(PROTO_ERR_ATTACH_PROCESS_ERROR, 0x10000114);
	assert_int_equal(PROTO_ERR_VISITATION_EXCEPTION, 0x10000200);
	assert_int_equal(PROTO_ERR_VISITATION_WARNING, 0x10000300);
	assert_int_equal(PROTO_ERR_CAPTURE_CLIENT_INACTIVITY, 0x10004000);
	assert_int_equal(PROTO_ERR_VM_STALLED, 0x10004100);
	assert_int_equal(PROTO_ERR_CAPTURE_CLIENT_CONNECTION_RESET, 0x10004200);
	assert_int_equal(PROTO_ERR_SOCKET_ERROR, 0x10004300);
	assert_int_equal(PROTO_ERR_PE_PROCESS_TERMINATED_FORCEFULLY, 0x10005000);
	assert_int_equal(PROTO_ERR_PE_SENT_URL_TO_DISCONNECTED_CLIENT, 0x10005003);
	assert_int_equal(PROTO_ERR_NE_CONNECT_ERROR_DL_TEMP_FILE, 0x10005001);
	assert_int_equal(PROTO_ERR_INVALID_ERROR_CODE_FROM_CLIENT, 0x10006000);
	assert_int_equal(PROTO_ERR_INVALID_URL, 0x10007000);

	assert_string_equal(proto_error_name(0), "OK");
	assert_string_equal(proto_error_name(268435728), "NETWORK_ERROR");
	assert_string_equal(proto_error_name(PROTO_ERR_VISITATION_MULTIPLE_ERRORS),
			    "VISITATION_MULTIPLE_ERRORS");
	assert_string_equal(proto_error_name(PROTO_ERR_ATTACH_PROCESS_ERROR),
			    "VISITATION_UNABLE_TO_START_CLIENT");
	assert_string_equal(proto_error_name(PROTO_ERR_VM_STALLED), "VM_STALLED");
	assert_string_equal(proto_error_name(PROTO_ERR_NE_CANT_DOWNLOAD_TEMP_FILE),
			    "PE_PROCESS_TERMINATED_FORCEFULLY");
	assert_string_equal(proto_error_name(PROTO_ERR_INVALID_URL), "INVALID_URL");
	assert_null(proto_error_name(1));
	assert_null(proto_error_name(0x10000100));
}

/* ---- tests: allocation failures ---- */

static void test_alloc_failures(void **state)
{
	struct proto_msg want[2], got;
	struct buf b;
	unsigned long n;
	char err[320];

	(void)state;
	buf_init(&b, PROTO_MAX_MESSAGE_DEFAULT);
	sample_msg(PROTO_PEER_CLIENT, 4, &want[0]);
	sample_msg(PROTO_PEER_CLIENT, 9, &want[1]);
	encode(PROTO_PEER_CLIENT, &want[0], &b);
	encode(PROTO_PEER_CLIENT, &want[1], &b);
	for (n = 1; n < 10000; n++) {
		struct proto_reader *r = reader(PROTO_PEER_CLIENT, PROTO_MAX_MESSAGE_DEFAULT);
		int k = 0, rc;

		assert_int_equal(proto_reader_feed(r, b.data, b.len), 0);
		proto_test_fail_alloc(n);
		while ((rc = proto_reader_next(r, &got, err, sizeof(err))) == 1) {
			assert_msg_same(&want[k++], &got);
			proto_msg_free(&got);
		}
		proto_test_fail_alloc(0);
		proto_reader_free(r);
		if (rc == 0) {
			assert_int_equal(k, 2);
			break;
		}
		if (!strstr(err, "out of memory"))
			fail_msg("allocation %lu failed with \"%s\"", n, err);
	}
	assert_true(n > 10); /* the loop really did fail allocations */
	assert_true(n < 10000);
	buf_free(&b);
}

/* ---- the buffer module ---- */

static void test_buf(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 10);
	assert_int_equal(buf_printf(&b, "%d-%s", 12, "ab"), 0);
	assert_string_equal(b.data, "12-ab");
	assert_int_equal(buf_add(&b, "12345", 5), 0);
	assert_int_equal(b.len, 10);
	errno = 0;
	assert_int_equal(buf_add(&b, "x", 1), -1);
	assert_int_equal(errno, E2BIG);
	assert_int_equal(buf_printf(&b, "%s", "y"), -1);
	assert_string_equal(b.data, "12-ab12345");
	assert_true(b.cap <= 11);
	buf_consume(&b, 3);
	assert_string_equal(b.data, "ab12345");
	buf_truncate(&b, 2);
	assert_string_equal(b.data, "ab");
	buf_consume(&b, 100);
	assert_int_equal(b.len, 0);
	buf_set_max(&b, 300);
	assert_int_equal(buf_printf(&b, "%0200d", 7), 0);
	assert_int_equal(b.len, 200);
	buf_free(&b);
	assert_null(b.data);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_every_type_roundtrips),
	    cmocka_unit_test(test_equal_detects_differences),
	    cmocka_unit_test(test_hostile_strings_roundtrip),
	    cmocka_unit_test(test_wire_forms),
	    cmocka_unit_test(test_char_refs_and_unknown_attrs),
	    cmocka_unit_test(test_split_feeds),
	    cmocka_unit_test(test_two_messages_one_feed),
	    cmocka_unit_test(test_blank_frames_skipped),
	    cmocka_unit_test(test_oversized_frame),
	    cmocka_unit_test(test_oversized_line_after_good_one),
	    cmocka_unit_test(test_feed_bound),
	    cmocka_unit_test(test_nul_in_line),
	    cmocka_unit_test(test_reader_limits),
	    cmocka_unit_test(test_malformed_xml),
	    cmocka_unit_test(test_doctype_rejected),
	    cmocka_unit_test(test_unknown_and_misplaced_elements),
	    cmocka_unit_test(test_missing_attributes),
	    cmocka_unit_test(test_bad_values),
	    cmocka_unit_test(test_exclusion_sign_words),
	    cmocka_unit_test(test_part_body_checks),
	    cmocka_unit_test(test_original_peers),
	    cmocka_unit_test(test_encode_refuses),
	    cmocka_unit_test(test_part_chunking),
	    cmocka_unit_test(test_auth),
	    cmocka_unit_test(test_auth_known_answer),
	    cmocka_unit_test(test_error_names),
	    cmocka_unit_test(test_alloc_failures),
	    cmocka_unit_test(test_buf),
	};

	return cmocka_run_group_tests_name("protocol", tests, NULL, NULL);
}
