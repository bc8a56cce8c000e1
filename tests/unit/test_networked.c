/*
 * test_networked.c - the pure parts of capture-client's networked mode:
 * the reconnect backoff (remote.c) and a group's error code from its URLs'
 * codes, the events reported and the records lost (group_visit.c).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "client/group_visit.h"
#include "client/remote.h"
#include "common/protocol.h"

static void test_backoff(void **state)
{
	static const uint64_t want[] = {250, 250, 500, 1000, 2000, 4000, 8000, 10000, 10000};

	(void)state;
	for (unsigned i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		assert_int_equal(remote_backoff_ms(i), want[i]);
	assert_int_equal(remote_backoff_ms(1000000), REMOTE_BACKOFF_MAX_MS);
}

static void expect(const struct group_visit_url *u, size_t n, uint64_t reported, uint64_t lost,
		   uint32_t major, uint32_t minor)
{
	uint32_t got_major = 1, got_minor = 1;

	group_visit_summarize(u, n, reported, lost, &got_major, &got_minor);
	assert_int_equal(got_major, major);
	assert_int_equal(got_minor, minor);
}

static void test_group_error(void **state)
{
	struct group_visit_url ok = {0};
	struct group_visit_url net = {.major = PROTO_ERR_NETWORK_ERROR, .minor = 7};
	struct group_visit_url net6 = {.major = PROTO_ERR_NETWORK_ERROR, .minor = 6};
	struct group_visit_url proc = {.major = PROTO_ERR_PROCESS_ERROR,
				       .minor = PROTO_ERR_PE_PROCESS_PATH_NOT_FOUND};

	(void)state;
	expect((struct group_visit_url[]){ok}, 1, 0, 0, 0, 0);
	expect((struct group_visit_url[]){ok}, 1, 3, 0, 0, 0);
	expect((struct group_visit_url[]){net}, 1, 0, 0, PROTO_ERR_NETWORK_ERROR, 7);
	/* events with an error: the code stays (malicious comes from the events) */
	expect((struct group_visit_url[]){net}, 1, 2, 0, PROTO_ERR_NETWORK_ERROR, 7);
	expect((struct group_visit_url[]){ok, net, net6}, 3, 0, 0, PROTO_ERR_NETWORK_ERROR, 7);
	expect((struct group_visit_url[]){net, proc}, 2, 0, 0, PROTO_ERR_VISITATION_MULTIPLE_ERRORS,
	       0);
	/* records lost and nothing reported: inconclusive, whatever the URLs did */
	expect((struct group_visit_url[]){net}, 1, 0, 12, PROTO_ERR_EVENTS_LOST, 12);
	expect((struct group_visit_url[]){ok}, 1, 0, 1ull << 40, PROTO_ERR_EVENTS_LOST, UINT32_MAX);
	/* reported anyway: not lost as far as the verdict goes */
	expect((struct group_visit_url[]){ok}, 1, 1, 12, 0, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_backoff),
	    cmocka_unit_test(test_group_error),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
