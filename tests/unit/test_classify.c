/*
 * test_classify.c - which events are reported under an exclusion set, the
 * run's verdict, and which sensor ops the lists make useless.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "client/classify.h"
#include "client/exclusion.h"
#include "sensor/sensor_event.h"

#define OP_BIT(op) (1ull << (op))

static int setup(void **state)
{
	*state = exclusion_set_new();
	return *state ? 0 : -1;
}

static int teardown(void **state)
{
	exclusion_set_free(*state);
	return 0;
}

static void load(struct exclusion_set *set, enum exclusion_monitor m, const char *text)
{
	char err[512] = "";

	if (exclusion_load_buffer(set, m, "test.exl", text, strlen(text), err, sizeof(err)) != 0)
		fail_msg("list rejected: %s", err);
}

static struct capture_event event(enum event_type type, const char *action, const char *process,
				  const char *object1, const char *object2)
{
	struct capture_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.type = type;
	ev.action = action;
	ev.pid = 1000;
	ev.process = process;
	ev.object1 = object1;
	ev.object2 = object2;
	return ev;
}

static bool reported(struct exclusion_set *set, enum event_type type, const char *action,
		     const char *process, const char *object1, const char *object2)
{
	struct capture_event ev = event(type, action, process, object1, object2);

	return classify_is_reported(set, &ev);
}

/* ---- process events ---- */

static void test_process_key_subject_object(void **state)
{
	struct exclusion_set *set = *state;

	/* full-match regexes: "bash" only matches a basename, "/usr/bin/ls" only a path */
	load(set, EXCL_PROCESS, "+\tls\tbash\t/usr/bin/ls\n");
	assert_false(reported(set, EVENT_PROCESS, "created", "/bin/bash", "4242", "/usr/bin/ls"));
	assert_false(
	    reported(set, EVENT_PROCESS, "terminated", "/usr/bin/bash", "4242", "/usr/bin/ls"));
	/* key = basename(object2): another program */
	assert_true(reported(set, EVENT_PROCESS, "created", "/bin/bash", "4242", "/usr/bin/cat"));
	/* subject = basename(process): another parent */
	assert_true(reported(set, EVENT_PROCESS, "created", "/bin/zsh", "4242", "/usr/bin/ls"));
	/* object = object2 (the full image path), not object1 */
	assert_true(reported(set, EVENT_PROCESS, "created", "/bin/bash", "4242", "/tmp/ls"));
}

static void test_process_subject_is_basename_not_path(void **state)
{
	struct exclusion_set *set = *state;

	/* a subject regex written as a path never matches: the subject is a module name */
	load(set, EXCL_PROCESS, "+\tsh\t/usr/bin/python3\t.*\n");
	assert_true(reported(set, EVENT_PROCESS, "created", "/usr/bin/python3", "1", "/bin/sh"));
	load(set, EXCL_PROCESS, "+\tdash\tpython3\t.*\n");
	assert_false(reported(set, EVENT_PROCESS, "created", "/usr/bin/python3", "1", "/bin/dash"));
	/* the key is not the action */
	load(set, EXCL_PROCESS, "+\tcreated\t.*\t.*\n");
	assert_true(reported(set, EVENT_PROCESS, "created", "/bin/bash", "1", "/usr/bin/id"));
}

/* ---- file, connection, system ---- */

static void test_file_key_action_subject_process_object_object1(void **state)
{
	struct exclusion_set *set = *state;

	load(set, EXCL_FILE, "+\tWrite\t/usr/bin/cat\t/tmp/.*\n");
	assert_false(reported(set, EVENT_FILE, "Write", "/usr/bin/cat", "/tmp/x", "-1"));
	assert_true(reported(set, EVENT_FILE, "Write", "/usr/bin/cat", "/etc/x", "-1"));
	assert_true(reported(set, EVENT_FILE, "Write", "/bin/cat", "/tmp/x", "-1"));
	assert_true(reported(set, EVENT_FILE, "Create", "/usr/bin/cat", "/tmp/x", "-1"));
	/* object2 is not looked at for ordinary file events */
	assert_true(reported(set, EVENT_FILE, "Write", "/usr/bin/cat", "/etc/x", "/tmp/x"));
}

static void test_connection_and_system(void **state)
{
	struct exclusion_set *set = *state;

	load(set, EXCL_CONNECTION, "+\ttcp-connection\t.*\t127\\.0\\.0\\.1:.*\n");
	load(set, EXCL_SYSTEM, "+\tptrace\t/usr/bin/gdb\t.*\n");
	assert_false(reported(set, EVENT_CONNECTION, "tcp-connection", "/x", "127.0.0.1:80", "-1"));
	assert_true(reported(set, EVENT_CONNECTION, "tcp-connection", "/x", "10.0.0.1:80", "-1"));
	assert_true(reported(set, EVENT_CONNECTION, "udp-connection", "/x", "127.0.0.1:53", "-1"));
	assert_false(reported(set, EVENT_SYSTEM, "ptrace", "/usr/bin/gdb", "1234", "request 16"));
	assert_true(reported(set, EVENT_SYSTEM, "ptrace", "/tmp/evil", "1234", "request 16"));
}

static void test_rules_of_other_monitor_ignored(void **state)
{
	struct exclusion_set *set = *state;

	/* "mount" in the system list only; a "Write" rule only in the file list */
	load(set, EXCL_SYSTEM, "+\tmount\t.*\t.*\n");
	load(set, EXCL_FILE, "+\tWrite\t.*\t.*\n");
	assert_false(reported(set, EVENT_SYSTEM, "mount", "/bin/mount", "/mnt", "x"));
	assert_false(reported(set, EVENT_FILE, "Write", "/bin/x", "/tmp/x", "-1"));
	/* a process whose module name is "Write" is not a file Write */
	assert_true(reported(set, EVENT_PROCESS, "created", "/bin/sh", "1", "/tmp/Write"));
	/* a connection event is looked up in the connection list only */
	load(set, EXCL_PROCESS, "+\ttcp-connection\t.*\t.*\n");
	assert_true(reported(set, EVENT_CONNECTION, "tcp-connection", "/x", "1.2.3.4:80", "-1"));
}

static void test_rename_needs_both_paths_excluded(void **state)
{
	struct exclusion_set *set = *state;

	load(set, EXCL_FILE, "+\tRename\t.*\t/tmp/.*\n");
	assert_false(reported(set, EVENT_FILE, "Rename", "/bin/mv", "/tmp/a", "/tmp/b"));
	/* out of /tmp into the home directory: reported */
	assert_true(reported(set, EVENT_FILE, "Rename", "/bin/mv", "/tmp/a", "/home/u/.bashrc"));
	/* into /tmp from elsewhere: reported */
	assert_true(reported(set, EVENT_FILE, "Rename", "/bin/mv", "/home/u/doc", "/tmp/b"));
	assert_true(reported(set, EVENT_FILE, "Rename", "/bin/mv", "/etc/a", "/etc/b"));
}

static void test_link_decided_by_object1(void **state)
{
	struct exclusion_set *set = *state;

	/* only Rename looks at both paths */
	load(set, EXCL_FILE, "+\tLink\t.*\t/tmp/.*\n");
	assert_false(reported(set, EVENT_FILE, "Link", "/bin/ln", "/tmp/new", "/etc/shadow"));
	assert_true(reported(set, EVENT_FILE, "Link", "/bin/ln", "/etc/new", "/tmp/x"));
}

static void test_minus_rule_reports(void **state)
{
	struct exclusion_set *set = *state;

	load(set, EXCL_FILE, "+\tWrite\t.*\t/tmp/.*\n-\tWrite\t.*\t/tmp/\\.X11-unix/.*\n");
	assert_false(reported(set, EVENT_FILE, "Write", "/bin/x", "/tmp/a", "-1"));
	assert_true(reported(set, EVENT_FILE, "Write", "/bin/x", "/tmp/.X11-unix/X0", "-1"));
}

/* A file event that made an executable file is reported whatever the '+' rules say. */
static void test_executable_never_excluded(void **state)
{
	struct exclusion_set *set = *state;
	struct capture_event ev;

	load(set, EXCL_FILE,
	     "+\tCreate\t.*\t/tmp/.*\n+\tWrite\t.*\t/tmp/.*\n+\tAttribute\t.*\t/tmp/.*\n"
	     "+\tRename\t.*\t/tmp/.*\n");
	ev = event(EVENT_FILE, "Create", "/usr/bin/curl", "/tmp/x", "-1");
	assert_false(classify_is_reported(set, &ev));
	ev.flags = EVENT_F_EXECUTABLE;
	assert_true(classify_is_reported(set, &ev));
	ev = event(EVENT_FILE, "Attribute", "/usr/bin/chmod", "/tmp/x", "chmod 0644");
	assert_false(classify_is_reported(set, &ev));
	ev = event(EVENT_FILE, "Attribute", "/usr/bin/chmod", "/tmp/x", "chmod 0755");
	ev.flags = EVENT_F_EXECUTABLE;
	assert_true(classify_is_reported(set, &ev));
	ev = event(EVENT_FILE, "Rename", "/bin/mv", "/tmp/a", "/tmp/b");
	ev.flags = EVENT_F_EXECUTABLE;
	assert_true(classify_is_reported(set, &ev));
	/* the flag means nothing outside the file monitor */
	load(set, EXCL_CONNECTION, "+\ttcp-connection\t.*\t.*\n");
	ev = event(EVENT_CONNECTION, "tcp-connection", "/bin/x", "10.0.0.1:80", "-1");
	ev.flags = EVENT_F_EXECUTABLE;
	assert_false(classify_is_reported(set, &ev));
}

static void test_null_set_reports_everything(void **state)
{
	(void)state;
	assert_true(reported(NULL, EVENT_PROCESS, "created", "/bin/bash", "1", "/usr/bin/ls"));
	assert_true(reported(NULL, EVENT_PROCESS, "terminated", "/bin/bash", "1", "/usr/bin/ls"));
	assert_true(reported(NULL, EVENT_FILE, "Open", "/bin/cat", "/etc/ld.so.cache", "-1"));
	assert_true(reported(NULL, EVENT_FILE, "Rename", "/bin/mv", "/tmp/a", "/tmp/b"));
	assert_true(reported(NULL, EVENT_CONNECTION, "tcp-connection", "/x", "1.1.1.1:443", "-1"));
	assert_true(reported(NULL, EVENT_SYSTEM, "ptrace", "/x", "1", "request 0"));
}

static void test_empty_set_reports_everything(void **state)
{
	struct exclusion_set *set = *state;

	assert_true(reported(set, EVENT_PROCESS, "created", "/bin/bash", "1", "/usr/bin/ls"));
	assert_true(reported(set, EVENT_FILE, "Rename", "/bin/mv", "/tmp/a", "/tmp/b"));
	assert_true(reported(set, EVENT_SYSTEM, "bpf", "/x", "cmd 5", ""));
}

/* ---- verdict ---- */

static void test_verdict(void **state)
{
	(void)state;
	assert_int_equal(classify_verdict(0, 0), VERDICT_BENIGN);
	assert_int_equal(classify_verdict(1, 0), VERDICT_MALICIOUS);
	assert_int_equal(classify_verdict(12345, 0), VERDICT_MALICIOUS);
	/* something reported: malicious even when records were lost */
	assert_int_equal(classify_verdict(1, 1), VERDICT_MALICIOUS);
	assert_int_equal(classify_verdict(3, 1000000), VERDICT_MALICIOUS);
	/* nothing reported but loss: never benign */
	assert_int_equal(classify_verdict(0, 1), VERDICT_INCONCLUSIVE);
	assert_int_equal(classify_verdict(0, UINT64_MAX), VERDICT_INCONCLUSIVE);
	assert_int_equal(classify_verdict(UINT64_MAX, UINT64_MAX), VERDICT_MALICIOUS);
	/* the values are the exit statuses */
	assert_int_equal(VERDICT_BENIGN, 0);
	assert_int_equal(VERDICT_MALICIOUS, 1);
	assert_int_equal(VERDICT_INCONCLUSIVE, 2);
	assert_string_equal(verdict_name(VERDICT_BENIGN), "benign");
	assert_string_equal(verdict_name(VERDICT_MALICIOUS), "malicious");
	assert_string_equal(verdict_name(VERDICT_INCONCLUSIVE), "inconclusive");
}

/* ---- enabled ops ---- */

static void test_enabled_ops_no_lists(void **state)
{
	struct exclusion_set *set = *state;

	assert_true(classify_enabled_ops(NULL) == ~0ull);
	assert_true(classify_enabled_ops(set) == ~0ull);
}

static void test_enabled_ops_open_off(void **state)
{
	struct exclusion_set *set = *state;
	uint64_t ops;

	load(set, EXCL_FILE, "+\tOpen\t.*\t.*\n");
	ops = classify_enabled_ops(set);
	assert_false(ops & OP_BIT(SENSOR_OP_OPEN));
	assert_true(ops & OP_BIT(SENSOR_OP_READ));
	assert_true(ops & OP_BIT(SENSOR_OP_WRITE));
	assert_true(ops & OP_BIT(SENSOR_OP_CREATE));
	assert_true(ops & OP_BIT(SENSOR_OP_EXEC));
	assert_true(ops & OP_BIT(SENSOR_OP_CONNECT));
	/* exactly one bit cleared */
	assert_true(ops == ~OP_BIT(SENSOR_OP_OPEN));
}

static bool kernel_filtered(struct exclusion_set *set, size_t idx)
{
	struct exclusion_rule_info info;

	assert_int_equal(exclusion_rule_get(set, idx, &info), 0);
	return info.kernel_filtered;
}

static void test_enabled_ops_marks_rule_kernel_filtered(void **state)
{
	struct exclusion_set *set = *state;

	load(set, EXCL_FILE,
	     "+\tOpen\t.*\t.*\n"
	     "+\tWrite\t.*\t.*\n"
	     "+\tRead\t.*\t/tmp/.*\n"
	     "+\tDelete\t.*\t.*\n"
	     "-\tDelete\t.*\t/etc/.*\n");
	assert_false(kernel_filtered(set, 0));
	(void)classify_enabled_ops(set);
	/* the rule that switched Open off */
	assert_true(kernel_filtered(set, 0));
	/* Write is never switched off; Read is partial; Delete has a '-' rule */
	assert_false(kernel_filtered(set, 1));
	assert_false(kernel_filtered(set, 2));
	assert_false(kernel_filtered(set, 3));
	assert_false(kernel_filtered(set, 4));
}

static void test_enabled_ops_open_and_read_off(void **state)
{
	struct exclusion_set *set = *state;

	load(set, EXCL_FILE, "+\tOpen\t.*\t.*\n+\tRead\t(.*)\t.*\n");
	assert_true(classify_enabled_ops(set) ==
		    ~(OP_BIT(SENSOR_OP_OPEN) | OP_BIT(SENSOR_OP_READ)));
}

static void test_enabled_ops_minus_rule_keeps_open(void **state)
{
	struct exclusion_set *set = *state;

	load(set, EXCL_FILE,
	     "+\tOpen\t.*\t.*\n-\tOpen\t.*\t/home/.*/\\.ssh/.*\n"
	     "+\tRead\t.*\t.*\n");
	assert_true(classify_enabled_ops(set) & OP_BIT(SENSOR_OP_OPEN));
	assert_false(classify_enabled_ops(set) & OP_BIT(SENSOR_OP_READ));
}

static void test_enabled_ops_partial_rule_keeps_open(void **state)
{
	struct exclusion_set *set = *state;

	load(set, EXCL_FILE, "+\tOpen\t/usr/bin/.*\t.*\n+\tRead\t.*\t/usr/lib/.*\n");
	assert_true(classify_enabled_ops(set) == ~0ull);
}

static void test_enabled_ops_other_monitor_keeps_open(void **state)
{
	struct exclusion_set *set = *state;

	/* a process named "Open" is not the file action */
	load(set, EXCL_PROCESS, "+\tOpen\t.*\t.*\n+\tRead\t.*\t.*\n");
	assert_true(classify_enabled_ops(set) == ~0ull);
}

static void test_enabled_ops_key_case_insensitive(void **state)
{
	struct exclusion_set *set = *state;

	load(set, EXCL_FILE, "+\topen\t.*\t.*\n");
	assert_false(classify_enabled_ops(set) & OP_BIT(SENSOR_OP_OPEN));
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(test_process_key_subject_object),
	    T(test_process_subject_is_basename_not_path),
	    T(test_file_key_action_subject_process_object_object1),
	    T(test_connection_and_system),
	    T(test_rules_of_other_monitor_ignored),
	    T(test_rename_needs_both_paths_excluded),
	    T(test_link_decided_by_object1),
	    T(test_minus_rule_reports),
	    T(test_executable_never_excluded),
	    cmocka_unit_test(test_null_set_reports_everything),
	    T(test_empty_set_reports_everything),
	    cmocka_unit_test(test_verdict),
	    T(test_enabled_ops_no_lists),
	    T(test_enabled_ops_open_off),
	    T(test_enabled_ops_open_and_read_off),
	    T(test_enabled_ops_marks_rule_kernel_filtered),
	    T(test_enabled_ops_minus_rule_keeps_open),
	    T(test_enabled_ops_partial_rule_keeps_open),
	    T(test_enabled_ops_other_monitor_keeps_open),
	    T(test_enabled_ops_key_case_insensitive),
	};
#undef T

	return cmocka_run_group_tests_name("classify", tests, NULL, NULL);
}
