/*
 * test_watch.c - the visit's own connections (watch_expect_connection):
 * the client reaching the URL it was given is never a state change; any
 * other program, port, address or action still is.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "client/watch.h"

#define CHROMIUM "/usr/lib/chromium/chromium"

static unsigned emitted;

static void count(const struct capture_event *ev, void *ctx)
{
	(void)ev;
	(void)ctx;
	emitted++;
}

static int setup(void **state)
{
	*state = watch_new(NULL, 1, count, NULL);
	emitted = 0;
	return *state ? 0 : -1;
}

static int teardown(void **state)
{
	watch_free(*state);
	return 0;
}

/* Whether W reports a connection event of PROCESS with ACTION to OBJECT. */
static bool reported(struct watch *w, const char *process, const char *action, const char *object)
{
	struct capture_event ev = {.type = EVENT_CONNECTION,
				   .action = action,
				   .process = process,
				   .object1 = object,
				   .object2 = "-1"};
	unsigned before = emitted;

	watch_handle(&ev, w);
	return emitted > before;
}

static void test_name_matches_any_address(void **state)
{
	struct watch *w = *state;

	assert_int_equal(watch_expect_connection(w, CHROMIUM, "", 8089), 0);
	assert_false(reported(w, CHROMIUM, "tcp-connection", "10.201.255.1:8089"));
	assert_false(reported(w, CHROMIUM, "tcp-connection", "[2001:db8::1]:8089"));
	assert_true(reported(w, CHROMIUM, "tcp-connection", "10.201.255.1:4444")); /* other port */
	assert_true(reported(w, "/tmp/implant", "tcp-connection", "10.201.255.1:8089"));
	assert_true(reported(w, CHROMIUM, "tcp-listening", "0.0.0.0:8089"));
	assert_true(reported(w, CHROMIUM, "udp-connection", "10.201.255.1:8089"));
	assert_true(reported(w, CHROMIUM, "tcp-connection", "10.201.255.1:80890"));
	assert_true(reported(w, CHROMIUM, "tcp-connection", "garbage"));
}

static void test_literal_matches_its_address_only(void **state)
{
	struct watch *w = *state;

	assert_int_equal(watch_expect_connection(w, "/usr/bin/curl", "10.0.0.7", 8000), 0);
	assert_int_equal(watch_expect_connection(w, "/usr/bin/curl", "2001:db8::7", 443), 0);
	assert_false(reported(w, "/usr/bin/curl", "tcp-connection", "10.0.0.7:8000"));
	assert_true(reported(w, "/usr/bin/curl", "tcp-connection", "10.0.0.8:8000"));
	/* the same address however the event spells it */
	assert_false(reported(w, "/usr/bin/curl", "tcp-connection", "[2001:db8:0::7]:443"));
	assert_true(reported(w, "/usr/bin/curl", "tcp-connection", "[2001:db8::8]:443"));
	assert_true(reported(w, "/usr/bin/curl", "tcp-connection", "10.0.0.7:443"));
}

static void test_bad_literal_and_full_table(void **state)
{
	struct watch *w = *state;
	size_t i;

	assert_int_equal(watch_expect_connection(w, CHROMIUM, "not-an-address", 80), -1);
	assert_int_equal(errno, EINVAL);
	for (i = 0; i < WATCH_MAX_ORIGINS; i++)
		assert_int_equal(watch_expect_connection(w, CHROMIUM, "", (uint16_t)(1000 + i)), 0);
	assert_int_equal(watch_expect_connection(w, CHROMIUM, "", 9999), -1);
	assert_int_equal(errno, ENOSPC);
	assert_true(reported(w, CHROMIUM, "tcp-connection", "10.201.255.1:9999"));
	assert_false(reported(w, CHROMIUM, "tcp-connection", "10.201.255.1:1000"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_name_matches_any_address, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_literal_matches_its_address_only, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_literal_and_full_table, setup, teardown),
	};

	return cmocka_run_group_tests_name("watch", tests, NULL, NULL);
}
