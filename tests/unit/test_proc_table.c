/*
 * test_proc_table.c - the pid -> image path table: set/get, fork, remove,
 * many pids, and the /proc/PID/exe fallback.
 *
 * Pids of entries the table is fed are above PID_MAX_LIMIT (4194304), so a
 * lookup that misses can never find a real process in /proc.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client/proc_table.h"

#define FAKE_PID(n) (0x10000000u + (uint32_t)(n)) /* never a live process */
#define DEAD_PID    0x7ffffff0u

static int setup(void **state)
{
	*state = proc_table_new();
	return *state ? 0 : -1;
}

static int teardown(void **state)
{
	proc_table_free(*state);
	return 0;
}

static void test_new_table_empty(void **state)
{
	struct proc_table *t = *state;

	assert_int_equal(proc_table_count(t), 0);
	proc_table_free(NULL); /* harmless */
}

static void test_set_get(void **state)
{
	struct proc_table *t = *state;
	char exe[] = "/usr/bin/firefox";

	assert_int_equal(proc_table_set(t, FAKE_PID(100), exe), 0);
	assert_int_equal(proc_table_count(t), 1);
	assert_string_equal(proc_table_exe(t, FAKE_PID(100)), "/usr/bin/firefox");
	/* the table keeps its own copy */
	exe[1] = 'X';
	assert_string_equal(proc_table_exe(t, FAKE_PID(100)), "/usr/bin/firefox");
	assert_ptr_not_equal(proc_table_exe(t, FAKE_PID(100)), exe);
	assert_int_equal(proc_table_set(t, FAKE_PID(101), "/bin/sh"), 0);
	assert_int_equal(proc_table_count(t), 2);
	assert_string_equal(proc_table_exe(t, FAKE_PID(100)), "/usr/bin/firefox");
	assert_string_equal(proc_table_exe(t, FAKE_PID(101)), "/bin/sh");
}

static void test_overwrite(void **state)
{
	struct proc_table *t = *state;

	assert_int_equal(proc_table_set(t, FAKE_PID(7), "/bin/bash"), 0);
	assert_int_equal(proc_table_set(t, FAKE_PID(7), "/usr/bin/python3"), 0);
	assert_int_equal(proc_table_count(t), 1);
	assert_string_equal(proc_table_exe(t, FAKE_PID(7)), "/usr/bin/python3");
	/* setting a value to the table's own string is fine */
	assert_int_equal(proc_table_set(t, FAKE_PID(7), proc_table_exe(t, FAKE_PID(7))), 0);
	assert_string_equal(proc_table_exe(t, FAKE_PID(7)), "/usr/bin/python3");
	assert_int_equal(proc_table_count(t), 1);
}

static void test_fork_inherits_parent_image(void **state)
{
	struct proc_table *t = *state;

	assert_int_equal(proc_table_set(t, FAKE_PID(10), "/bin/bash"), 0);
	assert_int_equal(proc_table_fork(t, FAKE_PID(11), FAKE_PID(10)), 0);
	assert_int_equal(proc_table_count(t), 2);
	assert_string_equal(proc_table_exe(t, FAKE_PID(11)), "/bin/bash");
	/* the child's copy is independent: the parent exec'ing does not change it */
	assert_int_equal(proc_table_set(t, FAKE_PID(10), "/usr/bin/vim"), 0);
	assert_string_equal(proc_table_exe(t, FAKE_PID(11)), "/bin/bash");
	/* a grandchild inherits the child's image */
	assert_int_equal(proc_table_fork(t, FAKE_PID(12), FAKE_PID(11)), 0);
	assert_string_equal(proc_table_exe(t, FAKE_PID(12)), "/bin/bash");
	/* the child exec'ing does not change the parent */
	assert_int_equal(proc_table_set(t, FAKE_PID(11), "/usr/bin/ls"), 0);
	assert_string_equal(proc_table_exe(t, FAKE_PID(10)), "/usr/bin/vim");
	assert_string_equal(proc_table_exe(t, FAKE_PID(12)), "/bin/bash");
	/* fork onto a pid already known replaces its image */
	assert_int_equal(proc_table_fork(t, FAKE_PID(12), FAKE_PID(10)), 0);
	assert_string_equal(proc_table_exe(t, FAKE_PID(12)), "/usr/bin/vim");
	assert_int_equal(proc_table_count(t), 3);
}

static void test_fork_of_unknown_dead_parent(void **state)
{
	struct proc_table *t = *state;

	assert_int_equal(proc_table_fork(t, FAKE_PID(1), DEAD_PID), 0);
	assert_string_equal(proc_table_exe(t, FAKE_PID(1)), PROC_TABLE_UNKNOWN);
}

static void test_remove(void **state)
{
	struct proc_table *t = *state;

	assert_int_equal(proc_table_set(t, FAKE_PID(5), "/bin/a"), 0);
	assert_int_equal(proc_table_set(t, FAKE_PID(6), "/bin/b"), 0);
	proc_table_remove(t, FAKE_PID(5));
	assert_int_equal(proc_table_count(t), 1);
	assert_string_equal(proc_table_exe(t, FAKE_PID(5)), PROC_TABLE_UNKNOWN);
	assert_string_equal(proc_table_exe(t, FAKE_PID(6)), "/bin/b");
	/* removing what is not there changes nothing */
	proc_table_remove(t, FAKE_PID(5));
	proc_table_remove(t, FAKE_PID(999));
	assert_int_equal(proc_table_count(t), 1);
	/* a removed pid can come back */
	assert_int_equal(proc_table_set(t, FAKE_PID(5), "/bin/c"), 0);
	assert_string_equal(proc_table_exe(t, FAKE_PID(5)), "/bin/c");
	assert_int_equal(proc_table_count(t), 2);
}

/* Pids 1 << 20 apart share a bucket in any power-of-two table up to that size. */
static void test_remove_within_collision_chain(void **state)
{
	struct proc_table *t = *state;
	const uint32_t stride = 1u << 20;
	char exe[32];

	for (uint32_t i = 0; i < 5; i++) {
		snprintf(exe, sizeof(exe), "/bin/p%u", i);
		assert_int_equal(proc_table_set(t, FAKE_PID(3) + i * stride, exe), 0);
	}
	assert_int_equal(proc_table_count(t), 5);
	/* middle, last inserted, first inserted */
	proc_table_remove(t, FAKE_PID(3) + 2 * stride);
	proc_table_remove(t, FAKE_PID(3) + 4 * stride);
	proc_table_remove(t, FAKE_PID(3));
	assert_int_equal(proc_table_count(t), 2);
	assert_string_equal(proc_table_exe(t, FAKE_PID(3) + 1 * stride), "/bin/p1");
	assert_string_equal(proc_table_exe(t, FAKE_PID(3) + 3 * stride), "/bin/p3");
	assert_string_equal(proc_table_exe(t, FAKE_PID(3) + 2 * stride), PROC_TABLE_UNKNOWN);
	assert_string_equal(proc_table_exe(t, FAKE_PID(3)), PROC_TABLE_UNKNOWN);
	assert_string_equal(proc_table_exe(t, FAKE_PID(3) + 4 * stride), PROC_TABLE_UNKNOWN);
}

static void test_many_pids(void **state)
{
	struct proc_table *t = *state;
	enum {
		N = 10000
	};
	char exe[32];

	/* consecutive pids (every bucket gets ~10) and a chain of 1000 in one bucket */
	for (uint32_t i = 0; i < N; i++) {
		snprintf(exe, sizeof(exe), "/bin/p%u", i);
		assert_int_equal(proc_table_set(t, FAKE_PID(i), exe), 0);
	}
	for (uint32_t i = 0; i < 1000; i++) {
		snprintf(exe, sizeof(exe), "/bin/q%u", i);
		assert_int_equal(proc_table_set(t, FAKE_PID(0x100000) + i * 4096, exe), 0);
	}
	assert_int_equal(proc_table_count(t), N + 1000);
	for (uint32_t i = 0; i < N; i++) {
		snprintf(exe, sizeof(exe), "/bin/p%u", i);
		if (strcmp(proc_table_exe(t, FAKE_PID(i)), exe) != 0)
			fail_msg("pid %u: '%s', want '%s'", i, proc_table_exe(t, FAKE_PID(i)), exe);
	}
	for (uint32_t i = 0; i < 1000; i++) {
		snprintf(exe, sizeof(exe), "/bin/q%u", i);
		assert_string_equal(proc_table_exe(t, FAKE_PID(0x100000) + i * 4096), exe);
	}
	/* remove the even pids; the odd ones stay */
	for (uint32_t i = 0; i < N; i += 2)
		proc_table_remove(t, FAKE_PID(i));
	assert_int_equal(proc_table_count(t), N / 2 + 1000);
	for (uint32_t i = 0; i < N; i++) {
		const char *got = proc_table_exe(t, FAKE_PID(i));

		snprintf(exe, sizeof(exe), "/bin/p%u", i);
		if (strcmp(got, i % 2 ? exe : PROC_TABLE_UNKNOWN) != 0)
			fail_msg("pid %u after removal: '%s'", i, got);
	}
}

static void test_unknown_pid_falls_back_to_proc(void **state)
{
	struct proc_table *t = *state;
	char want[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", want, sizeof(want) - 1);
	const char *got;

	assert_true(n > 0);
	want[n] = '\0';
	got = proc_table_exe(t, (uint32_t)getpid());
	assert_string_equal(got, want);
	/* looked up once: now known */
	assert_int_equal(proc_table_count(t), 1);
	assert_string_equal(proc_table_exe(t, (uint32_t)getpid()), want);
	assert_int_equal(proc_table_count(t), 1);
	/* a known entry wins over /proc */
	assert_int_equal(proc_table_set(t, (uint32_t)getpid(), "/opt/other"), 0);
	assert_string_equal(proc_table_exe(t, (uint32_t)getpid()), "/opt/other");
}

static void test_unknown_dead_pid_is_unknown(void **state)
{
	struct proc_table *t = *state;

	assert_string_equal(proc_table_exe(t, DEAD_PID), "UNKNOWN");
	assert_string_equal(proc_table_exe(t, DEAD_PID), PROC_TABLE_UNKNOWN);
	assert_string_equal(proc_table_exe(t, UINT32_MAX), PROC_TABLE_UNKNOWN);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_new_table_empty, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_set_get, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_overwrite, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fork_inherits_parent_image, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fork_of_unknown_dead_parent, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_remove, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_remove_within_collision_chain, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_many_pids, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unknown_pid_falls_back_to_proc, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unknown_dead_pid_is_unknown, setup, teardown),
	};

	return cmocka_run_group_tests_name("proc_table", tests, NULL, NULL);
}
