/*
 * test_dns_stub.c - the DNS stub's pure parts: the answer builder
 * (dns_stub_answer: A and other types, header bits, every malformed or
 * truncated query), the resolv.conf parser (dns_stub_parse_resolv,
 * dns_stub_read_resolv) and the forwarding relay's table (dns_relay_*: IDs
 * rewritten and restored, answers matched to the right guest and upstream,
 * tries, timeouts, a full table, garbage).  Inputs are copied into buffers
 * of exactly their length, so ASan reports any read past the end.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "guest/dns_stub.h"

#define ADDR "10.201.77.77"

/* ---- helpers ---- */

static uint32_t addr(void)
{
	return inet_addr(ADDR);
}

/* Builds a query for NAME (dotted) with ID, TYPE and flags byte 2 = FLAGS2. */
static size_t make_query(uint8_t *q, const char *name, unsigned id, unsigned type, uint8_t flags2)
{
	size_t off = 12;
	const char *p = name;

	memset(q, 0, 12);
	q[0] = (uint8_t)(id >> 8);
	q[1] = (uint8_t)id;
	q[2] = flags2;
	q[5] = 1; /* QDCOUNT */
	while (*p) {
		const char *dot = strchr(p, '.');
		size_t l = dot ? (size_t)(dot - p) : strlen(p);

		q[off++] = (uint8_t)l;
		memcpy(q + off, p, l);
		off += l;
		p += l + (dot ? 1 : 0);
	}
	q[off++] = 0;
	q[off++] = (uint8_t)(type >> 8);
	q[off++] = (uint8_t)type;
	q[off++] = 0;
	q[off++] = 1; /* IN */
	return off;
}

/* Runs dns_stub_answer on an exact-size heap copy of Q. */
static long answer(const uint8_t *q, size_t qlen, uint8_t *a, size_t alen)
{
	uint8_t *copy = malloc(qlen ? qlen : 1);
	long n;

	assert_non_null(copy);
	memcpy(copy, q, qlen);
	n = dns_stub_answer(copy, qlen, addr(), a, alen);
	free(copy);
	return n;
}

static unsigned rcode(const uint8_t *a)
{
	return a[3] & 0x0f;
}

static unsigned u16(const uint8_t *p)
{
	return (unsigned)p[0] << 8 | p[1];
}

/* ---- tests ---- */

static void test_a_query(void **state)
{
	uint8_t q[512], a[512];
	size_t ql = make_query(q, "www.example.com", 0x1234, 1, 0x01);
	long n = answer(q, ql, a, sizeof(a));
	const uint8_t *rr = a + ql;
	uint32_t got;

	(void)state;
	assert_int_equal(n, (long)ql + 16);
	assert_int_equal(u16(a), 0x1234);
	assert_true(a[2] & 0x80);         /* QR */
	assert_true(a[2] & 0x04);         /* AA */
	assert_true(a[2] & 0x01);         /* RD copied */
	assert_int_equal(rcode(a), 0);    /* NOERROR */
	assert_int_equal(u16(a + 4), 1);  /* QDCOUNT */
	assert_int_equal(u16(a + 6), 1);  /* ANCOUNT */
	assert_int_equal(u16(a + 8), 0);  /* NSCOUNT */
	assert_int_equal(u16(a + 10), 0); /* ARCOUNT */
	assert_memory_equal(a + 12, q + 12, ql - 12);
	assert_int_equal(u16(rr), 0xC00C); /* name: pointer to the question */
	assert_int_equal(u16(rr + 2), 1);  /* A */
	assert_int_equal(u16(rr + 4), 1);  /* IN */
	assert_int_equal(u16(rr + 6) << 16 | u16(rr + 8), 60);
	assert_int_equal(u16(rr + 10), 4);
	memcpy(&got, rr + 12, 4);
	assert_int_equal(got, addr());
}

static void test_rd_not_set(void **state)
{
	uint8_t q[512], a[512];
	size_t ql = make_query(q, "a.b", 7, 1, 0x00);

	(void)state;
	assert_int_equal(answer(q, ql, a, sizeof(a)), (long)ql + 16);
	assert_int_equal(a[2] & 0x01, 0);
}

static void test_aaaa_empty(void **state)
{
	uint8_t q[512], a[512];
	size_t ql = make_query(q, "www.example.com", 0xbeef, 28, 0x01);
	long n = answer(q, ql, a, sizeof(a));

	(void)state;
	assert_int_equal(n, (long)ql);
	assert_int_equal(u16(a), 0xbeef);
	assert_int_equal(rcode(a), 0);
	assert_int_equal(u16(a + 4), 1);
	assert_int_equal(u16(a + 6), 0);
	assert_memory_equal(a + 12, q + 12, ql - 12);
}

static void test_case_and_id_preserved(void **state)
{
	uint8_t q[512], a[512];
	size_t ql = make_query(q, "WwW.ExAmPlE.CoM", 0xffff, 1, 0x01);
	long n = answer(q, ql, a, sizeof(a));

	(void)state;
	assert_int_equal(n, (long)ql + 16);
	assert_int_equal(u16(a), 0xffff);
	assert_memory_equal(a + 13, "WwW", 3);
	assert_memory_equal(a + 12, q + 12, ql - 12);
}

static void test_root_name(void **state)
{
	uint8_t q[512], a[512];
	size_t ql = make_query(q, "", 1, 1, 0);

	(void)state;
	assert_int_equal(ql, 17);
	assert_int_equal(answer(q, ql, a, sizeof(a)), 17 + 16);
	assert_int_equal(rcode(a), 0);
}

static void test_edns_additional_ignored(void **state)
{
	uint8_t q[512], a[512];
	size_t ql = make_query(q, "example.org", 9, 1, 0x01);
	static const uint8_t opt[] = {0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0};

	(void)state;
	q[11] = 1; /* ARCOUNT */
	memcpy(q + ql, opt, sizeof(opt));
	assert_int_equal(answer(q, ql + sizeof(opt), a, sizeof(a)), (long)ql + 16);
	assert_int_equal(u16(a + 10), 0);
	assert_int_equal(rcode(a), 0);
}

/* Every prefix of a valid query: nothing below the header, FORMERR after. */
static void test_every_prefix(void **state)
{
	uint8_t q[512], a[512];
	size_t ql = make_query(q, "www.example.com", 0x4242, 1, 0x01);

	(void)state;
	for (size_t len = 0; len < ql; len++) {
		long n = answer(q, len, a, sizeof(a));

		if (len < 12) {
			assert_int_equal(n, 0);
			continue;
		}
		assert_int_equal(n, 12);
		assert_int_equal(rcode(a), 1);
		assert_int_equal(u16(a), 0x4242);
		assert_true(a[2] & 0x80);
		assert_int_equal(u16(a + 4), 0);
	}
}

/* Pseudo-random garbage of every length: answers are well-formed or absent. */
static void test_garbage(void **state)
{
	uint8_t q[300] = {0}, a[600];
	uint32_t x = 2463534242u;

	(void)state;
	for (int round = 0; round < 20000; round++) {
		size_t len = (size_t)(round % (int)sizeof(q));
		long n;

		for (size_t i = 0; i < len; i++) {
			x ^= x << 13, x ^= x >> 17, x ^= x << 5;
			q[i] = (uint8_t)x;
		}
		if (len > 5 && round % 2) /* make half of them pass the QDCOUNT check */
			q[4] = 0, q[5] = 1;
		n = answer(q, len, a, sizeof(a));
		assert_true(n == 0 || n == 12 || (n > 12 && (size_t)n <= len + 16));
		if (n > 0)
			assert_true(a[2] & 0x80);
	}
}

static void test_qdcount_not_one(void **state)
{
	uint8_t q[512], a[512];
	size_t ql = make_query(q, "example.com", 5, 1, 0x01);

	(void)state;
	q[5] = 0;
	assert_int_equal(answer(q, ql, a, sizeof(a)), 12);
	assert_int_equal(rcode(a), 1);
	q[5] = 2;
	assert_int_equal(answer(q, ql, a, sizeof(a)), 12);
	assert_int_equal(rcode(a), 1);
	q[4] = 1, q[5] = 1;
	assert_int_equal(answer(q, ql, a, sizeof(a)), 12);
	assert_int_equal(rcode(a), 1);
}

static void test_compression_pointer(void **state)
{
	uint8_t q[512], a[512];
	size_t ql = make_query(q, "example.com", 5, 1, 0x01);

	(void)state;
	/* "example" then a pointer back to offset 12 instead of "com" */
	q[20] = 0xC0;
	q[21] = 12;
	q[22] = 0, q[23] = 1, q[24] = 0, q[25] = 1;
	assert_int_equal(answer(q, 26, a, sizeof(a)), 12);
	assert_int_equal(rcode(a), 1);
	/* a pointer as the very first label */
	q[12] = 0xC0, q[13] = 12;
	assert_int_equal(answer(q, ql, a, sizeof(a)), 12);
	assert_int_equal(rcode(a), 1);
}

static void test_long_label(void **state)
{
	uint8_t q[512], a[512];
	char name[80];
	size_t ql;

	(void)state;
	memset(name, 'x', 63);
	name[63] = '\0';
	ql = make_query(q, name, 1, 1, 0);
	assert_int_equal(answer(q, ql, a, sizeof(a)), (long)ql + 16);
	memset(name, 'x', 64);
	name[64] = '\0';
	ql = make_query(q, name, 1, 1, 0);
	assert_int_equal(answer(q, ql, a, sizeof(a)), 12);
	assert_int_equal(rcode(a), 1);
}

static void test_long_name(void **state)
{
	uint8_t q[600], a[600];
	char name[300];
	size_t ql;

	(void)state;
	/* 4 x 63-byte labels = 4 * 64 + 1 = 257 bytes on the wire: too long */
	memset(name, 'y', sizeof(name));
	for (int i = 63; i < 255; i += 64)
		name[i] = '.';
	name[255] = '\0';
	ql = make_query(q, name, 1, 1, 0);
	assert_int_equal(answer(q, ql, a, sizeof(a)), 12);
	assert_int_equal(rcode(a), 1);
	/* 3 x 63 + 61: 3 * 64 + 62 + 1 = 255 bytes: the maximum */
	name[253] = '\0';
	ql = make_query(q, name, 1, 1, 0);
	assert_int_equal(ql, 12 + 255 + 4);
	assert_int_equal(answer(q, ql, a, sizeof(a)), (long)ql + 16);
}

static void test_answer_buffer_too_small(void **state)
{
	uint8_t q[512], a[512];
	size_t ql = make_query(q, "example.com", 5, 1, 0x01);

	(void)state;
	assert_int_equal(answer(q, ql, a, ql + 15), -1);
	assert_int_equal(answer(q, ql, a, ql + 16), (long)ql + 16);
	assert_int_equal(answer(q, ql, a, 11), -1);
	q[5] = 2; /* FORMERR needs 12 bytes */
	assert_int_equal(answer(q, ql, a, 11), -1);
	assert_int_equal(answer(q, ql, a, 12), 12);
	q[5] = 1;
	ql = make_query(q, "example.com", 5, 28, 0x01);
	assert_int_equal(answer(q, ql, a, ql - 1), -1);
	assert_int_equal(answer(q, ql, a, ql), (long)ql);
}

static void test_response_ignored(void **state)
{
	uint8_t q[512], a[512];
	size_t ql = make_query(q, "example.com", 5, 1, 0x81);

	(void)state;
	assert_int_equal(answer(q, ql, a, sizeof(a)), 0);
	assert_int_equal(answer(q, 12, a, sizeof(a)), 0);
}

static void test_other_opcode_notimp(void **state)
{
	uint8_t q[512], a[512];
	size_t ql = make_query(q, "example.com", 5, 1, 0x28); /* opcode 5, UPDATE */

	(void)state;
	assert_int_equal(answer(q, ql, a, sizeof(a)), 12);
	assert_int_equal(rcode(a), 4);
	assert_int_equal((a[2] >> 3) & 0x0f, 5);
}

static void test_non_in_class_empty(void **state)
{
	uint8_t q[512], a[512];
	size_t ql = make_query(q, "version.bind", 5, 16, 0);

	(void)state;
	q[ql - 1] = 3; /* CHAOS */
	assert_int_equal(answer(q, ql, a, sizeof(a)), (long)ql);
	assert_int_equal(u16(a + 6), 0);
	assert_int_equal(rcode(a), 0);
}

/* ---- resolv.conf ---- */

/* dns_stub_parse_resolv on an exact-size heap copy of TEXT (no NUL after it). */
static unsigned parse(const char *text, size_t len, struct dns_stub_upstreams *out)
{
	char *copy = malloc(len ? len : 1);
	unsigned skipped;

	assert_non_null(copy);
	memcpy(copy, text, len);
	skipped = dns_stub_parse_resolv("test.conf", copy, len, out);
	free(copy);
	return skipped;
}

static unsigned parse_str(const char *text, struct dns_stub_upstreams *out)
{
	return parse(text, strlen(text), out);
}

/* Upstream I of U is IP port 53 (either family). */
static void assert_upstream(const struct dns_stub_upstreams *u, unsigned i, const char *ip)
{
	char got[INET6_ADDRSTRLEN] = "";

	assert_true(i < u->n);
	if (u->addr[i].ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)&u->addr[i];

		inet_ntop(AF_INET, &sin->sin_addr, got, sizeof(got));
		assert_int_equal(ntohs(sin->sin_port), 53);
	} else {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&u->addr[i];

		assert_int_equal(u->addr[i].ss_family, AF_INET6);
		inet_ntop(AF_INET6, &sin6->sin6_addr, got, sizeof(got));
		assert_int_equal(ntohs(sin6->sin6_port), 53);
	}
	assert_string_equal(got, ip);
}

static void test_resolv_basic(void **state)
{
	struct dns_stub_upstreams u;

	(void)state;
	assert_int_equal(parse_str("# generated\n"
				   "search example.org\n"
				   "nameserver 127.0.0.53\n"
				   "options edns0 trust-ad\n",
				   &u),
			 0);
	assert_int_equal(u.n, 1);
	assert_upstream(&u, 0, "127.0.0.53");
	/* IPv6, tabs, trailing text ignored, no final newline */
	assert_int_equal(parse_str("nameserver\t2001:db8::1\tsecond word\n"
				   "nameserver 192.0.2.1 # comment\n"
				   "nameserver ::1",
				   &u),
			 0);
	assert_int_equal(u.n, 3);
	assert_upstream(&u, 0, "2001:db8::1");
	assert_upstream(&u, 1, "192.0.2.1");
	assert_upstream(&u, 2, "::1");
}

/* glibc takes the first three; later ones, garbage or not, are not looked at. */
static void test_resolv_three_max(void **state)
{
	struct dns_stub_upstreams u;

	(void)state;
	assert_int_equal(parse_str("nameserver 192.0.2.1\nnameserver 192.0.2.2\n"
				   "nameserver 192.0.2.3\nnameserver 192.0.2.4\nnameserver junk\n",
				   &u),
			 0);
	assert_int_equal(u.n, 3);
	assert_upstream(&u, 2, "192.0.2.3");
}

/* Lines glibc does not take as nameserver lines, and addresses it would not take. */
static void test_resolv_garbage(void **state)
{
	struct dns_stub_upstreams u;

	(void)state;
	/* not nameserver lines at all: nothing skipped, nothing found */
	assert_int_equal(parse_str(" nameserver 192.0.2.1\n"
				   "#nameserver 192.0.2.1\n"
				   ";nameserver 192.0.2.1\n"
				   "nameserver\n"
				   "nameservers 192.0.2.1\n"
				   "NAMESERVER 192.0.2.1\n",
				   &u),
			 0);
	assert_int_equal(u.n, 0);
	/* nameserver lines whose address is no address: skipped and counted */
	assert_int_equal(parse_str("nameserver \n"
				   "nameserver dns.example.org\n"
				   "nameserver 192.0.2.300\n"
				   "nameserver 192.0.2.1#x\n"
				   "nameserver 2001:db8::1%\n"
				   "nameserver 2001:db8::1%no-such-interface0\n"
				   "nameserver fe80::1%99999999999\n"
				   "nameserver 2001:db8:::1\n"
				   "nameserver 192.0.2.9\n",
				   &u),
			 8);
	assert_int_equal(u.n, 1);
	assert_upstream(&u, 0, "192.0.2.9");
	/* NUL inside the address, an overlong one */
	assert_int_equal(parse("nameserver 192.0\0.2.1\n", 22, &u), 1);
	assert_int_equal(u.n, 0);
	{
		char line[400] = "nameserver ";

		memset(line + 11, '1', 300);
		assert_int_equal(parse(line, 311, &u), 1);
		assert_int_equal(u.n, 0);
	}
}

static void test_resolv_forms(void **state)
{
	struct dns_stub_upstreams u;
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&u.addr[1];
	char text[128];

	(void)state;
	/* inet_aton's old forms, as glibc reads them; CRLF lines */
	assert_int_equal(parse_str("nameserver 127.1\r\nnameserver fe80::1%7\r\n", &u), 0);
	assert_int_equal(u.n, 2);
	assert_upstream(&u, 0, "127.0.0.1");
	assert_upstream(&u, 1, "fe80::1");
	assert_int_equal(sin6->sin6_scope_id, 7);
	/* a scope by interface name */
	snprintf(text, sizeof(text), "nameserver 192.0.2.1\nnameserver fe80::2%%lo\n");
	assert_int_equal(parse_str(text, &u), 0);
	assert_int_equal(u.n, 2);
	assert_int_equal(sin6->sin6_scope_id, if_nametoindex("lo"));
	/* an empty text, and text without any newline */
	assert_int_equal(parse("", 0, &u), 0);
	assert_int_equal(u.n, 0);
	assert_int_equal(parse("nameserver 192.0.2.5", 20, &u), 0);
	assert_upstream(&u, 0, "192.0.2.5");
}

/* Every prefix of a file: never a read past its end, never more than it names. */
static void test_resolv_every_prefix(void **state)
{
	static const char text[] =
	    "nameserver 192.0.2.1\nnameserver 2001:db8::53\nnameserver 10.0.0.1";
	struct dns_stub_upstreams u;

	(void)state;
	for (size_t len = 0; len <= sizeof(text) - 1; len++) {
		parse(text, len, &u);
		assert_true(u.n <= 3);
	}
	assert_int_equal(u.n, 3);
}

static void test_resolv_read(void **state)
{
	char path[] = "/tmp/test-dns-stub-XXXXXX", err[256] = "";
	struct dns_stub_upstreams u;
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "nameserver 192.0.2.7\n", 21), 21);
	assert_int_equal(dns_stub_read_resolv(path, &u, err, sizeof(err)), 0);
	assert_int_equal(u.n, 1);
	assert_upstream(&u, 0, "192.0.2.7");
	/* no nameserver, and no file: 127.0.0.1, as glibc */
	assert_int_equal(ftruncate(fd, 0), 0);
	assert_int_equal(dns_stub_read_resolv(path, &u, err, sizeof(err)), 0);
	assert_int_equal(u.n, 1);
	assert_upstream(&u, 0, "127.0.0.1");
	close(fd);
	unlink(path);
	assert_int_equal(dns_stub_read_resolv(path, &u, err, sizeof(err)), 0);
	assert_upstream(&u, 0, "127.0.0.1");
	/* a directory is an error that names it */
	assert_int_equal(dns_stub_read_resolv("/tmp", &u, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "/tmp"));
}

/* ---- the relay's table ---- */

static struct sockaddr_in guest_addr(const char *ip, unsigned port)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};

	inet_pton(AF_INET, ip, &sin.sin_addr);
	return sin;
}

static struct in_addr services_addr(void)
{
	struct in_addr a;

	inet_pton(AF_INET, "10.201.255.1", &a);
	return a;
}

/* Relays query Q (from make_query) from GUEST; the upstream ID it got. */
static unsigned relay_query(struct dns_relay *r, uint64_t now, uint8_t *q, size_t ql,
			    const struct sockaddr_in *guest)
{
	struct dns_relay_out out = {.upstream = 99};
	uint8_t *copy = malloc(ql);
	unsigned id;

	assert_non_null(copy);
	memcpy(copy, q, ql);
	assert_int_equal(dns_relay_query(r, now, copy, ql, guest, services_addr(), &out),
			 DNS_RELAY_UPSTREAM);
	assert_int_equal(out.upstream, 0);
	assert_memory_equal(copy + 2, q + 2, ql - 2); /* only the ID changes */
	id = u16(copy);
	free(copy);
	return id;
}

/* The upstream's answer to Q under upstream ID UP_ID (QLEN + 16 bytes into A). */
static size_t upstream_answer(const uint8_t *q, size_t ql, unsigned up_id, uint8_t *a)
{
	long n = dns_stub_answer(q, ql, addr(), a, 600);

	assert_true(n > 0);
	a[0] = (uint8_t)(up_id >> 8);
	a[1] = (uint8_t)up_id;
	return (size_t)n;
}

static void test_relay_restores_id(void **state)
{
	struct dns_stub_stats st = {0};
	struct dns_relay *r = dns_relay_new(1, 8, 0, &st);
	struct sockaddr_in g = guest_addr("10.201.0.2", 40000);
	struct dns_relay_out out;
	uint8_t q[512], a[600];
	size_t ql = make_query(q, "www.example.com", 0xabcd, 1, 0x01), al;
	unsigned up;

	(void)state;
	assert_non_null(r);
	up = relay_query(r, 1000, q, ql, &g);
	assert_int_equal(dns_relay_pending(r), 1);
	al = upstream_answer(q, ql, up, a);
	assert_int_equal(dns_relay_answer(r, 0, a, al, &out), DNS_RELAY_GUEST);
	assert_int_equal(u16(a), 0xabcd);
	assert_memory_equal(&out.guest, &g, sizeof(g));
	assert_int_equal(out.local.s_addr, services_addr().s_addr);
	assert_int_equal(dns_relay_pending(r), 0);
	/* the same answer again: no query in flight any more */
	al = upstream_answer(q, ql, up, a);
	assert_int_equal(dns_relay_answer(r, 0, a, al, &out), DNS_RELAY_DROP);
	assert_int_equal(st.queries, 1);
	assert_int_equal(st.answers, 1);
	assert_int_equal(st.bad_answers, 1);
	dns_relay_free(r);
}

/* Guests with the same ID, answered in reverse order: each gets its own. */
static void test_relay_same_id(void **state)
{
	struct dns_stub_stats st = {0};
	struct dns_relay *r = dns_relay_new(1, 64, 0, &st);
	struct sockaddr_in g[40];
	uint8_t q[40][512], a[600];
	size_t ql[40];
	unsigned up[40];

	(void)state;
	for (int i = 0; i < 40; i++) {
		char name[32];

		snprintf(name, sizeof(name), "guest%d.example", i);
		g[i] = guest_addr(i % 2 ? "10.201.0.2" : "10.201.0.6", 5353 + (unsigned)i / 2);
		ql[i] = make_query(q[i], name, 0x0001, 1, 0x01);
		up[i] = relay_query(r, 1000, q[i], ql[i], &g[i]);
		for (int j = 0; j < i; j++)
			assert_int_not_equal(up[i], up[j]);
	}
	for (int i = 39; i >= 0; i--) {
		struct dns_relay_out out;
		size_t al = upstream_answer(q[i], ql[i], up[i], a);

		assert_int_equal(dns_relay_answer(r, 0, a, al, &out), DNS_RELAY_GUEST);
		assert_int_equal(u16(a), 1);
		assert_memory_equal(&out.guest, &g[i], sizeof(g[i]));
		assert_memory_equal(a + 12, q[i] + 12, ql[i] - 12);
	}
	assert_int_equal(st.answers, 40);
	dns_relay_free(r);
}

/* After its try, a query goes to the next upstream, with the same upstream ID; then it expires. */
static void test_relay_tries_and_expiry(void **state)
{
	struct dns_stub_stats st = {0};
	struct dns_relay *r = dns_relay_new(3, 8, 100, &st);
	struct sockaddr_in g = guest_addr("10.201.0.2", 40000);
	struct dns_relay_out out;
	uint8_t q[512], a[600];
	size_t ql = make_query(q, "slow.example", 7, 1, 0x01), len, al;
	const uint8_t *due;
	unsigned up, k;

	(void)state;
	assert_int_equal(dns_relay_timeout(r, 0), -1);
	up = relay_query(r, 1000, q, ql, &g);
	assert_int_equal(dns_relay_timeout(r, 1000), 100);
	assert_null(dns_relay_due(r, 1099, &len, &k));
	due = dns_relay_due(r, 1100, &len, &k);
	assert_non_null(due);
	assert_int_equal(k, 1);
	assert_int_equal(len, ql);
	assert_int_equal(u16(due), up);
	assert_memory_equal(due + 2, q + 2, ql - 2);
	assert_null(dns_relay_due(r, 1100, &len, &k)); /* one retry per try */
	/* upstream 2 has not been asked yet: its answer is no answer */
	al = upstream_answer(q, ql, up, a);
	assert_int_equal(dns_relay_answer(r, 2, a, al, &out), DNS_RELAY_DROP);
	due = dns_relay_due(r, 1200, &len, &k);
	assert_non_null(due);
	assert_int_equal(k, 2);
	assert_null(dns_relay_due(r, 4000 - 1, &len, &k)); /* no upstream left; still waiting */
	assert_int_equal(dns_relay_pending(r), 1);
	assert_int_equal(dns_relay_timeout(r, 3000), 1000); /* DNS_STUB_QUERY_MS after it came */
	assert_null(dns_relay_due(r, 4000, &len, &k));
	assert_int_equal(dns_relay_pending(r), 0);
	assert_int_equal(st.retries, 2);
	assert_int_equal(st.unanswered, 1);
	assert_int_equal(st.bad_answers, 1);
	dns_relay_free(r);
}

/* A late answer from an upstream asked earlier still counts. */
static void test_relay_late_answer(void **state)
{
	struct dns_stub_stats st = {0};
	struct dns_relay *r = dns_relay_new(2, 8, 100, &st);
	struct sockaddr_in g = guest_addr("10.201.0.2", 40000);
	struct dns_relay_out out;
	uint8_t q[512], a[600];
	size_t ql = make_query(q, "late.example", 7, 1, 0x01), len, al;
	unsigned up, k;

	(void)state;
	up = relay_query(r, 0, q, ql, &g);
	assert_non_null(dns_relay_due(r, 100, &len, &k));
	al = upstream_answer(q, ql, up, a);
	assert_int_equal(dns_relay_answer(r, 0, a, al, &out), DNS_RELAY_GUEST);
	assert_int_equal(u16(a), 7);
	/* the second upstream's answer comes too: a stray now */
	al = upstream_answer(q, ql, up, a);
	assert_int_equal(dns_relay_answer(r, 1, a, al, &out), DNS_RELAY_DROP);
	assert_int_equal(st.answers, 1);
	assert_int_equal(st.bad_answers, 1);
	dns_relay_free(r);
}

/* A failed upstream makes its queries due for the next at once. */
static void test_relay_upstream_failed(void **state)
{
	struct dns_stub_stats st = {0};
	struct dns_relay *r = dns_relay_new(2, 8, 1000, &st);
	struct sockaddr_in g = guest_addr("10.201.0.2", 40000);
	uint8_t q[512];
	size_t ql = make_query(q, "down.example", 7, 1, 0x01), len;
	unsigned k;

	(void)state;
	relay_query(r, 0, q, ql, &g);
	dns_relay_upstream_failed(r, 1, 10); /* not the one it is at */
	assert_null(dns_relay_due(r, 10, &len, &k));
	dns_relay_upstream_failed(r, 0, 10);
	assert_int_equal(dns_relay_timeout(r, 10), 0);
	assert_non_null(dns_relay_due(r, 10, &len, &k));
	assert_int_equal(k, 1);
	dns_relay_upstream_failed(r, 1, 20); /* the last one: nothing more to try */
	assert_null(dns_relay_due(r, 20, &len, &k));
	dns_relay_free(r);
}

/* A full table forgets its oldest query for a new one. */
static void test_relay_full(void **state)
{
	struct dns_stub_stats st = {0};
	struct dns_relay *r = dns_relay_new(1, 4, 0, &st);
	struct sockaddr_in g = guest_addr("10.201.0.2", 40000);
	struct dns_relay_out out;
	uint8_t q[512], a[600];
	size_t ql = make_query(q, "full.example", 7, 1, 0x01), al;
	unsigned up[6];

	(void)state;
	for (int i = 0; i < 6; i++)
		up[i] = relay_query(r, 100 * (uint64_t)i, q, ql, &g);
	assert_int_equal(dns_relay_pending(r), 4);
	assert_int_equal(st.evicted, 2);
	for (int i = 0; i < 6; i++) {
		al = upstream_answer(q, ql, up[i], a);
		assert_int_equal(dns_relay_answer(r, 0, a, al, &out),
				 i < 2 ? DNS_RELAY_DROP : DNS_RELAY_GUEST);
	}
	assert_int_equal(dns_relay_pending(r), 0);
	dns_relay_free(r);
}

/* Garbage either way: dropped and counted, the table unchanged. */
static void test_relay_garbage(void **state)
{
	struct dns_stub_stats st = {0};
	struct dns_relay *r = dns_relay_new(1, 4, 0, &st);
	struct sockaddr_in g = guest_addr("10.201.0.2", 40000);
	struct dns_relay_out out;
	uint8_t q[DNS_STUB_MAX_QUERY + 1] = {0}, a[600];
	size_t ql = make_query(q, "ok.example", 7, 1, 0x01), al;
	unsigned up;

	(void)state;
	for (size_t len = 0; len < 12; len++)
		assert_int_equal(dns_relay_query(r, 0, q, len, &g, services_addr(), &out),
				 DNS_RELAY_DROP);
	q[2] |= 0x80; /* a response */
	assert_int_equal(dns_relay_query(r, 0, q, ql, &g, services_addr(), &out), DNS_RELAY_DROP);
	q[2] &= 0x7f;
	assert_int_equal(dns_relay_query(r, 0, q, sizeof(q), &g, services_addr(), &out),
			 DNS_RELAY_DROP);
	assert_int_equal(st.bad_queries, 14);
	assert_int_equal(dns_relay_pending(r), 0);
	/* the largest query is fine; header-only too */
	assert_int_equal(dns_relay_query(r, 0, q, DNS_STUB_MAX_QUERY, &g, services_addr(), &out),
			 DNS_RELAY_UPSTREAM);
	up = relay_query(r, 0, q, 12, &g);
	al = upstream_answer(q, ql, up, a);
	for (size_t len = 0; len < 12; len++)
		assert_int_equal(dns_relay_answer(r, 0, a, len, &out), DNS_RELAY_DROP);
	a[2] &= 0x7f; /* not a response */
	assert_int_equal(dns_relay_answer(r, 0, a, al, &out), DNS_RELAY_DROP);
	a[2] |= 0x80;
	assert_int_equal(dns_relay_answer(r, 1, a, al, &out), DNS_RELAY_DROP); /* no upstream 1 */
	assert_int_equal(st.bad_answers, 14);
	assert_int_equal(dns_relay_answer(r, 0, a, 12, &out), DNS_RELAY_GUEST); /* header only */
	assert_int_equal(dns_relay_pending(r), 1);
	dns_relay_free(r);
}

static void test_relay_bad_args(void **state)
{
	struct dns_stub_stats st = {0};

	(void)state;
	assert_null(dns_relay_new(0, 8, 0, &st));
	assert_null(dns_relay_new(DNS_STUB_MAX_UPSTREAMS + 1, 8, 0, &st));
	assert_null(dns_relay_new(1, 0, 0, &st));
	assert_null(dns_relay_new(1, 65536, 0, &st));
	assert_null(dns_relay_new(1, 8, 0, NULL));
	dns_relay_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_a_query),
	    cmocka_unit_test(test_rd_not_set),
	    cmocka_unit_test(test_aaaa_empty),
	    cmocka_unit_test(test_case_and_id_preserved),
	    cmocka_unit_test(test_root_name),
	    cmocka_unit_test(test_edns_additional_ignored),
	    cmocka_unit_test(test_every_prefix),
	    cmocka_unit_test(test_garbage),
	    cmocka_unit_test(test_qdcount_not_one),
	    cmocka_unit_test(test_compression_pointer),
	    cmocka_unit_test(test_long_label),
	    cmocka_unit_test(test_long_name),
	    cmocka_unit_test(test_answer_buffer_too_small),
	    cmocka_unit_test(test_response_ignored),
	    cmocka_unit_test(test_other_opcode_notimp),
	    cmocka_unit_test(test_non_in_class_empty),
	    cmocka_unit_test(test_resolv_basic),
	    cmocka_unit_test(test_resolv_three_max),
	    cmocka_unit_test(test_resolv_garbage),
	    cmocka_unit_test(test_resolv_forms),
	    cmocka_unit_test(test_resolv_every_prefix),
	    cmocka_unit_test(test_resolv_read),
	    cmocka_unit_test(test_relay_restores_id),
	    cmocka_unit_test(test_relay_same_id),
	    cmocka_unit_test(test_relay_tries_and_expiry),
	    cmocka_unit_test(test_relay_late_answer),
	    cmocka_unit_test(test_relay_upstream_failed),
	    cmocka_unit_test(test_relay_full),
	    cmocka_unit_test(test_relay_garbage),
	    cmocka_unit_test(test_relay_bad_args),
	};

	/* the parser's warnings about skipped lines are expected here */
	log_init("test_dns_stub", LOG_LEVEL_WARN, fopen("/dev/null", "we"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
