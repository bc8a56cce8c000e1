/*
 * test_dns_stub.c - the DNS stub's answer builder (dns_stub_answer): A and
 * other types, header bits, and every malformed or truncated query.  Each
 * query is copied into a buffer of exactly its length, so ASan reports any
 * read past its end.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

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
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
