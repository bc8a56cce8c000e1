/*
 * fuzz_dns_stub.c - libFuzzer harness for the DNS stub's pure parts:
 * dns_stub_answer(), dns_stub_parse_resolv() and the forwarding relay's
 * datagram checks and table (dns_relay_*).  Each input goes through all
 * three.
 *
 * Answering: the whole input is one query (libFuzzer hands it over in an exact-size
 * buffer, so ASan sees any read past its end).  It is answered into a
 * buffer large enough for any answer, then into exact-size heap buffers of
 * every length up to that answer, where ASan sees any write past the end.
 * Checks:
 *   - fewer than 12 bytes or QR set: no answer (0);
 *   - otherwise an answer of 12 bytes (FORMERR/NOTIMP, no sections) or of
 *     12 + question (+ 16 for one A record), with the query's ID, QR set and
 *     the question copied byte for byte;
 *   - an A record is the pointer 0xC00C, type A, class IN, TTL 60 and the
 *     configured address;
 *   - a smaller buffer gives -1 or the same answer, never a different one.
 *
 * resolv.conf: the input is the file; at most 3 upstreams, each IPv4 or
 * IPv6 with port 53, and no more lines skipped than there are lines.
 *
 * Relay: the input is a script of events for a table of 4 entries and 2
 * upstreams (see relay_script()): datagrams from guests, datagrams from
 * upstreams (some carrying an ID the relay used), time passing, failing
 * upstreams.  Every datagram is in an exact-size heap buffer.  Checks:
 *   - a well-formed query is relayed, differs from the guest's only in
 *     its ID, and goes to upstream 0; anything else is dropped;
 *   - a retry is a query relayed before, byte for byte, to a later upstream;
 *   - an answer handed to a guest has that guest's address and ID back and
 *     is otherwise the upstream's datagram;
 *   - no more than 4 in flight, and every query relayed is answered,
 *     forgotten (unanswered, evicted) or still in flight.
 */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "guest/dns_stub.h"

#define ADDR 0x4d4dc90au /* 10.201.77.77 in network order on little-endian */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static unsigned u16(const uint8_t *p)
{
	return (unsigned)p[0] << 8 | p[1];
}

static void check_a_record(const uint8_t *rr)
{
	static const uint8_t want[12] = {0xC0, 0x0C, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4};
	uint32_t a;

	if (memcmp(rr, want, sizeof(want)) != 0)
		abort();
	memcpy(&a, rr + 12, 4);
	if (a != ADDR)
		abort();
}

static void check_answer(const uint8_t *q, size_t qlen, const uint8_t *a, long n)
{
	size_t len = (size_t)n, ql;

	if (qlen < 12 || (q[2] & 0x80)) {
		if (n != 0)
			abort();
		return;
	}
	if (n < 12 || a[0] != q[0] || a[1] != q[1] || !(a[2] & 0x80))
		abort();
	if (len == 12) {
		if ((a[3] & 0x0f) != 1 && (a[3] & 0x0f) != 4)
			abort();
		return;
	}
	if ((a[3] & 0x0f) != 0 || u16(a + 4) != 1 || u16(a + 6) > 1)
		abort();
	ql = len - 12 - (u16(a + 6) ? 16 : 0);
	if (12 + ql > qlen || memcmp(a + 12, q + 12, ql) != 0)
		abort();
	if (u16(a + 6))
		check_a_record(a + 12 + ql);
}

static void fuzz_answer(const uint8_t *data, size_t size)
{
	uint8_t big[1024];
	long n = dns_stub_answer(data, size, ADDR, big, sizeof(big));

	if (n < 0 && size < sizeof(big) - 16)
		abort(); /* any answer fits in query size + 16 */
	if (n < 0)
		return;
	check_answer(data, size, big, n);
	for (size_t len = 0; n > 0 && len <= (size_t)n; len++) {
		uint8_t *small = malloc(len ? len : 1);
		long m;

		if (!small)
			abort();
		m = dns_stub_answer(data, size, ADDR, small, len);
		if (len < (size_t)n ? m != -1 : (m != n || memcmp(small, big, (size_t)n) != 0))
			abort();
		free(small);
	}
}

static void fuzz_resolv(const uint8_t *data, size_t size)
{
	struct dns_stub_upstreams u;
	size_t lines = 1;
	unsigned skipped = dns_stub_parse_resolv("fuzz", (const char *)data, size, &u);

	for (size_t i = 0; i < size; i++)
		lines += data[i] == '\n';
	if (u.n > DNS_STUB_MAX_UPSTREAMS || skipped > lines)
		abort();
	for (unsigned i = 0; i < u.n; i++) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)&u.addr[i];
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&u.addr[i];

		if (u.addr[i].ss_family == AF_INET    ? sin->sin_port != htons(53)
		    : u.addr[i].ss_family == AF_INET6 ? sin6->sin6_port != htons(53)
						      : 1)
			abort();
	}
}

/* ---- the relay ---- */

#define RELAY_CAP 4
#define RELAY_UPS 2
#define SENT_MAX  8192 /* more queries than a 64 KiB input can carry */

/* What the harness relayed: enough to check what comes back. */
struct sent {
	uint16_t up_id, guest_id;
	unsigned guest;
	size_t len;
	uint8_t q[DNS_STUB_MAX_QUERY];
};

struct script {
	const uint8_t *p, *end;
	struct sent sent[SENT_MAX]; /* every query relayed, in order */
	unsigned nsent;
	bool full; /* SENT lost some: what comes back may not be found there */
	uint64_t now;
};

static unsigned next_byte(struct script *s)
{
	return s->p < s->end ? *s->p++ : 0;
}

/* The next LEN (capped by what is left) input bytes as an exact-size heap datagram. */
static uint8_t *next_datagram(struct script *s, size_t *len)
{
	size_t want = next_byte(s) * 3, left = (size_t)(s->end - s->p);
	uint8_t *d;

	*len = want < left ? want : left;
	d = malloc(*len ? *len : 1);
	if (!d)
		abort();
	memcpy(d, s->p, *len);
	s->p += *len;
	return d;
}

static struct sockaddr_in guest_of(unsigned g)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)(1000 + g))};

	sin.sin_addr.s_addr = htonl(0x0ac90002u + 4 * (g & 1)); /* 10.201.0.2, 10.201.0.6 */
	return sin;
}

static const struct sent *find_sent(const struct script *s, unsigned up_id)
{
	for (unsigned i = s->nsent; i-- > 0;)
		if (s->sent[i].up_id == up_id)
			return &s->sent[i];
	return NULL;
}

static void check_conservation(const struct dns_relay *r, const struct dns_stub_stats *st)
{
	if (dns_relay_pending(r) > RELAY_CAP ||
	    st->queries != st->answers + st->unanswered + st->evicted + dns_relay_pending(r))
		abort();
}

static void relay_from_guest(struct dns_relay *r, struct script *s, unsigned op)
{
	struct sockaddr_in g = guest_of(op >> 2 & 3);
	struct dns_relay_out out;
	struct in_addr local = {htonl(0x0ac9ff01u)};
	size_t len;
	uint8_t *d = next_datagram(s, &len), *orig = malloc(len ? len : 1);

	if (!orig)
		abort();
	memcpy(orig, d, len);
	if (dns_relay_query(r, s->now, d, len, &g, local, &out) == DNS_RELAY_UPSTREAM) {
		struct sent *e;

		if (len < 12 || len > DNS_STUB_MAX_QUERY || (orig[2] & 0x80) || out.upstream != 0 ||
		    memcmp(d + 2, orig + 2, len - 2) != 0)
			abort();
		if (s->nsent == SENT_MAX) {
			s->full = true;
			goto done;
		}
		e = &s->sent[s->nsent++];
		e->up_id = (uint16_t)(d[0] << 8 | d[1]);
		e->guest_id = (uint16_t)(orig[0] << 8 | orig[1]);
		e->guest = op >> 2 & 3;
		e->len = len;
		memcpy(e->q, d, len);
	} else if (len >= 12 && len <= DNS_STUB_MAX_QUERY && !(orig[2] & 0x80)) {
		abort(); /* a well-formed query is always relayed */
	}
done:
	free(orig);
	free(d);
}

static void relay_from_upstream(struct dns_relay *r, struct script *s, unsigned op)
{
	struct dns_relay_out out;
	unsigned k = (op >> 2) % (RELAY_UPS + 1); /* sometimes an upstream that does not exist */
	size_t len;
	uint8_t *d = next_datagram(s, &len), *orig = malloc(len ? len : 1);
	const struct sent *e;

	if (!orig)
		abort();
	if ((op & 0x10) && len >= 2 && s->nsent) { /* an ID the relay used: a real match */
		const struct sent *pick = &s->sent[next_byte(s) % s->nsent];

		d[0] = (uint8_t)(pick->up_id >> 8);
		d[1] = (uint8_t)pick->up_id;
	}
	if ((op & 0x20) && len >= 3)
		d[2] |= 0x80;
	memcpy(orig, d, len);
	if (dns_relay_answer(r, k, d, len, &out) == DNS_RELAY_GUEST) {
		struct sockaddr_in g;

		e = find_sent(s, (unsigned)orig[0] << 8 | orig[1]);
		if (!e && s->full)
			goto done;
		if (!e || len < 12 || !(orig[2] & 0x80) || k >= RELAY_UPS)
			abort();
		g = guest_of(e->guest);
		if (memcmp(&out.guest, &g, sizeof(g)) != 0 || (d[0] << 8 | d[1]) != e->guest_id ||
		    memcmp(d + 2, orig + 2, len - 2) != 0)
			abort();
	}
done:
	free(orig);
	free(d);
}

/* Runs every retry due now; each must be a query relayed before. */
static void relay_due(struct dns_relay *r, struct script *s)
{
	const uint8_t *q;
	size_t len;
	unsigned k, n = 0;

	while ((q = dns_relay_due(r, s->now, &len, &k))) {
		const struct sent *e = find_sent(s, (unsigned)q[0] << 8 | q[1]);

		if (k == 0 || k >= RELAY_UPS || ++n > RELAY_CAP * RELAY_UPS)
			abort();
		if ((!e && !s->full) || (e && (e->len != len || memcmp(e->q, q, len) != 0)))
			abort();
	}
}

/*
 * Each event is one op byte: low 2 bits the kind (guest datagram, upstream
 * datagram, time passes, an upstream fails), the rest its details; a
 * datagram's length is the next byte * 3, its bytes follow.
 */
static void fuzz_relay(const uint8_t *data, size_t size)
{
	static struct script s;
	struct dns_stub_stats st = {0};
	struct dns_relay *r = dns_relay_new(RELAY_UPS, RELAY_CAP, 50, &st);

	if (!r)
		abort();
	memset(&s, 0, sizeof(s));
	s.p = data;
	s.end = data + size;
	s.now = 1000;
	while (s.p < s.end) {
		unsigned op = next_byte(&s);

		switch (op & 3) {
		case 0: relay_from_guest(r, &s, op); break;
		case 1: relay_from_upstream(r, &s, op); break;
		case 2: s.now += (uint64_t)next_byte(&s) * 16; break;
		default: dns_relay_upstream_failed(r, (op >> 2) % RELAY_UPS, s.now); break;
		}
		relay_due(r, &s);
		check_conservation(r, &st);
		if (dns_relay_timeout(r, s.now) < -1)
			abort();
	}
	dns_relay_free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int quiet;

	if (!quiet) { /* the parser's warnings about garbage lines are expected */
		log_init("fuzz", LOG_LEVEL_WARN, fopen("/dev/null", "we"));
		quiet = 1;
	}
	fuzz_answer(data, size);
	fuzz_resolv(data, size);
	fuzz_relay(data, size);
	return 0;
}
