/*
 * fuzz_dns_stub.c - libFuzzer harness for dns_stub_answer().
 *
 * The whole input is one query (libFuzzer hands it over in an exact-size
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
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t big[1024];
	long n = dns_stub_answer(data, size, ADDR, big, sizeof(big));

	if (n < 0 && size < sizeof(big) - 16)
		abort(); /* any answer fits in query size + 16 */
	if (n < 0)
		return 0;
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
	return 0;
}
