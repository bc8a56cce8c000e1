/*
 * fuzz_protocol.c - libFuzzer harness for the wire protocol codec.
 *
 * Input: byte 0 picks the sender (bit 0: server = NUL frames, client =
 * lines), the frame limit (bit 1: PROTO_MIN_MESSAGE bytes, else 4096) and
 * whether the bytes are also used as strings (bit 2); byte 1 seeds the
 * split points.  The rest is fed to a reader in pieces of 1..64 bytes, and
 * the reader is drained after each piece.  Properties checked:
 *   - every decoded message encodes again (same sender), with its framing
 *     intact, and a fresh reader decodes exactly that one message back,
 *     equal to the first (decode . encode is the identity on decoded values);
 *   - an error leaves the reader failed: the same message again, input
 *     refused with EPROTO, and short error buffers stay NUL-terminated;
 *   - a feed after a full drain never fails for lack of room;
 *   - (bit 2) the input cut at NUL bytes, used as attribute values, comes
 *     back byte-exact from both encoders.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/protocol.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint32_t next_rand(uint32_t *s)
{
	*s = *s * 1103515245u + 12345u;
	return *s >> 16;
}

static int encode_as(enum proto_peer side, const struct proto_msg *m, struct buf *b)
{
	return side == PROTO_PEER_SERVER ? proto_encode_server(m, b) : proto_encode_client(m, b);
}

/* The framing of one encoded message: one terminator, at the end. */
static void check_framing(enum proto_peer side, const struct buf *b)
{
	if (b->len < 2)
		abort();
	if (side == PROTO_PEER_SERVER) {
		if (b->data[b->len - 1] != '\0' || memchr(b->data, '\0', b->len - 1))
			abort();
		return;
	}
	if (memcmp(b->data + b->len - 2, "\r\n", 2) != 0 || memchr(b->data, '\0', b->len) ||
	    memchr(b->data, '\n', b->len - 1) || memchr(b->data, '\r', b->len - 2))
		abort();
}

/* Decodes the one message in B with a fresh reader; aborts unless it equals WANT. */
static void check_decodes_to(enum proto_peer side, const struct buf *b,
			     const struct proto_msg *want)
{
	struct proto_reader *r = proto_reader_new(side, PROTO_MAX_MESSAGE_LIMIT);
	struct proto_msg got;
	char err[320];

	if (!r || proto_reader_feed(r, b->data, b->len) < 0)
		abort();
	if (proto_reader_next(r, &got, err, sizeof(err)) != 1)
		abort(); /* our own encoding was refused: err says why */
	if (!proto_msg_equal(want, &got) || !proto_msg_equal(&got, want))
		abort();
	proto_msg_free(&got);
	if (proto_reader_next(r, &got, err, sizeof(err)) != 0)
		abort();
	proto_reader_free(r);
}

static void check_reencode(enum proto_peer side, const struct proto_msg *m)
{
	struct buf b;

	if (!proto_msg_equal(m, m) || !proto_msg_name(m->type))
		abort();
	buf_init(&b, PROTO_MAX_MESSAGE_LIMIT);
	if (encode_as(side, m, &b) < 0)
		abort(); /* a decoded message must always be encodable */
	check_framing(side, &b);
	check_decodes_to(side, &b, m);
	buf_free(&b);
}

static void check_failed(struct proto_reader *r, const char *first)
{
	struct proto_msg m;
	char again[128], tiny[1] = {'x'};

	if (strncmp(first, "message at byte ", 16) != 0)
		abort();
	if (proto_reader_next(r, &m, again, sizeof(again)) != -1 || strcmp(first, again) != 0)
		abort();
	if (m.type != PROTO_MSG_NONE)
		abort();
	if (proto_reader_next(r, &m, tiny, sizeof(tiny)) != -1 || tiny[0] != '\0')
		abort();
	if (proto_reader_next(r, &m, NULL, 0) != -1)
		abort();
	errno = 0;
	if (proto_reader_feed(r, "x", 1) != -1 || errno != EPROTO)
		abort();
}

/* Drains R; returns -1 once it has failed. */
static int drain(struct proto_reader *r, enum proto_peer side)
{
	struct proto_msg m;
	char err[128];
	int rc;

	while ((rc = proto_reader_next(r, &m, err, sizeof(err))) == 1) {
		check_reencode(side, &m);
		proto_msg_free(&m);
	}
	if (rc == 0)
		return 0;
	check_failed(r, err);
	return -1;
}

/* S as an option (server) and a system-event (client) must come back byte-exact. */
static void check_string(const char *s)
{
	struct proto_msg m;
	struct buf b;

	buf_init(&b, PROTO_MAX_MESSAGE_LIMIT);
	proto_msg_init(&m, PROTO_MSG_OPTION);
	m.u.option.name = (char *)s;
	m.u.option.value = (char *)s;
	if (proto_encode_server(&m, &b) < 0)
		abort();
	check_framing(PROTO_PEER_SERVER, &b);
	check_decodes_to(PROTO_PEER_SERVER, &b, &m);
	buf_reset(&b);
	proto_msg_init(&m, PROTO_MSG_SYSTEM_EVENT);
	m.u.event.time = m.u.event.type = m.u.event.process = (char *)s;
	m.u.event.action = m.u.event.object1 = m.u.event.object2 = (char *)s;
	if (proto_encode_client(&m, &b) < 0)
		abort();
	check_framing(PROTO_PEER_CLIENT, &b);
	check_decodes_to(PROTO_PEER_CLIENT, &b, &m);
	buf_free(&b);
}

static void check_strings(const uint8_t *data, size_t size)
{
	char *copy = malloc(size + 1);
	size_t start = 0;

	if (!copy)
		abort();
	memcpy(copy, data, size);
	copy[size] = '\0';
	for (size_t i = 0; i <= size; i++) {
		if (copy[i] == '\0') {
			check_string(copy + start);
			start = i + 1;
		}
	}
	free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum proto_peer side;
	struct proto_reader *r;
	uint32_t seed;
	size_t off = 2;

	if (size < 2)
		return 0;
	side = (data[0] & 1) ? PROTO_PEER_CLIENT : PROTO_PEER_SERVER;
	seed = (uint32_t)data[1] | (uint32_t)data[0] << 8;
	r = proto_reader_new(side, (data[0] & 2) ? PROTO_MIN_MESSAGE : 4096);
	if (!r)
		abort();
	while (off < size) {
		size_t n = 1 + next_rand(&seed) % 64;

		if (n > size - off)
			n = size - off;
		if (proto_reader_feed(r, data + off, n) < 0)
			abort(); /* drained before, so there is always room */
		off += n;
		if (drain(r, side) < 0)
			break;
	}
	proto_reader_free(r);
	if (data[0] & 4)
		check_strings(data + 2, size - 2);
	return 0;
}
