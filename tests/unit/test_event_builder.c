/*
 * test_event_builder.c - raw sensor records -> Capture events: process
 * events (parent acts, process table kept up to date), file paths joined,
 * connections formatted, system ops named, harness records dropped.
 *
 * Pids are above PID_MAX_LIMIT so no lookup can reach a real process.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include "client/event_builder.h"
#include "client/proc_table.h"
#include "common/util.h"

#if defined(__SANITIZE_ADDRESS__)
#define HAVE_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HAVE_ASAN 1
#endif
#endif
#ifdef HAVE_ASAN
#include <sanitizer/asan_interface.h>
#endif

#define FAKE_PID(n) (0x10000000u + (uint32_t)(n))
#define HARNESS     FAKE_PID(1)
#define PARENT      FAKE_PID(2)
#define CHILD       FAKE_PID(3)
#define ACTOR       FAKE_PID(4)
#define DEAD_PID    0x7ffffff0u

struct fx {
	struct proc_table *procs;
	struct event_builder *b;
	struct sensor_event_hdr h;
	struct sensor_record rec;
	struct capture_event ev;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	f->procs = proc_table_new();
	f->b = f->procs ? event_builder_new(f->procs, HARNESS) : NULL;
	if (!f->b || proc_table_set(f->procs, HARNESS, "/usr/libexec/capture/harness") < 0 ||
	    proc_table_set(f->procs, PARENT, "/bin/bash") < 0 ||
	    proc_table_set(f->procs, ACTOR, "/usr/bin/curl") < 0) {
		event_builder_free(f->b);
		proc_table_free(f->procs);
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	event_builder_free(f->b);
	proc_table_free(f->procs);
	free(f);
	return 0;
}

/* Starts a new record of OP by PID (whose parent is PPID). */
static void rec_new(struct fx *f, unsigned op, uint32_t pid, uint32_t ppid)
{
	memset(&f->h, 0, sizeof(f->h));
	memset(&f->rec, 0, sizeof(f->rec));
	f->h.op = op;
	f->h.pid = pid;
	f->h.tid = pid + 100;
	f->h.ppid = ppid;
	f->h.uid = 1000;
	f->h.cgroup_id = 4242;
	f->h.ts_ns = util_now_boot_ns();
	memcpy(f->h.comm, "worker", 7);
	f->rec.hdr = &f->h;
}

static void rec_str(struct fx *f, int i, const char *s)
{
	f->rec.str[i] = s;
	f->rec.len[i] = strlen(s);
}

static int build(struct fx *f)
{
	memset(&f->ev, 0x5a, sizeof(f->ev));
	return event_builder_build(f->b, &f->rec, &f->ev);
}

static void set_ipv4(struct sensor_net *n, const char *ip, uint16_t port, int socktype)
{
	memset(n, 0, sizeof(*n));
	n->family = AF_INET;
	n->socktype = (uint16_t)socktype;
	n->port = port;
	assert_int_equal(inet_pton(AF_INET, ip, n->addr), 1);
}

static void set_ipv6(struct sensor_net *n, const char *ip, uint16_t port, int socktype)
{
	memset(n, 0, sizeof(*n));
	n->family = AF_INET6;
	n->socktype = (uint16_t)socktype;
	n->port = port;
	assert_int_equal(inet_pton(AF_INET6, ip, n->addr), 1);
}

/* ---- process events ---- */

static void test_exec_created(void **state)
{
	static const char argv[] = "ls\0-l\0/tmp"; /* 3 words, 11 bytes with the final NUL */
	struct fx *f = *state;
	char child[16];

	rec_new(f, SENSOR_OP_EXEC, CHILD, PARENT);
	rec_str(f, 0, "/usr/bin/ls");
	f->rec.str[1] = argv;
	f->rec.len[1] = sizeof(argv) - 1;
	rec_str(f, 2, "ls");
	assert_int_equal(build(f), 1);
	assert_int_equal(f->ev.type, EVENT_PROCESS);
	assert_string_equal(f->ev.action, "created");
	assert_int_equal(f->ev.pid, PARENT);
	assert_string_equal(f->ev.process, "/bin/bash");
	snprintf(child, sizeof(child), "%u", CHILD);
	assert_string_equal(f->ev.object1, child);
	assert_string_equal(f->ev.object2, "/usr/bin/ls");
	assert_ptr_equal(f->ev.argv, argv);
	assert_int_equal(f->ev.argv_len, sizeof(argv));
	assert_memory_equal(f->ev.argv, "ls\0-l\0/tmp\0", 11);
	/* the child now runs the new image */
	assert_string_equal(proc_table_exe(f->procs, CHILD), "/usr/bin/ls");
	assert_string_equal(proc_table_exe(f->procs, PARENT), "/bin/bash");
}

static void test_exec_without_argv(void **state)
{
	struct fx *f = *state;

	rec_new(f, SENSOR_OP_EXEC, CHILD, PARENT);
	rec_str(f, 0, "/usr/bin/true");
	assert_int_equal(build(f), 1);
	assert_null(f->ev.argv);
	assert_int_equal(f->ev.argv_len, 0);
	assert_string_equal(f->ev.object2, "/usr/bin/true");
}

static void test_exec_script_names_script(void **state)
{
	struct fx *f = *state;

	/* "./drop.sh" run from /home/u/Downloads: s0 interpreter, s2 as passed, s3 cwd */
	rec_new(f, SENSOR_OP_EXEC, CHILD, PARENT);
	f->h.flags = SENSOR_F_SCRIPT;
	rec_str(f, 0, "/usr/bin/dash");
	rec_str(f, 2, "./drop.sh");
	rec_str(f, 3, "/home/u/Downloads");
	assert_int_equal(build(f), 1);
	assert_string_equal(f->ev.action, "created");
	assert_string_equal(f->ev.object2, "/home/u/Downloads/drop.sh");
	assert_non_null(f->ev.detail);
	assert_string_equal(f->ev.detail, "interpreter /usr/bin/dash");
	/* the process runs the interpreter: that is what its later events name */
	assert_string_equal(proc_table_exe(f->procs, CHILD), "/usr/bin/dash");
	/* an absolute script name comes without a cwd */
	rec_new(f, SENSOR_OP_EXEC, CHILD, PARENT);
	f->h.flags = SENSOR_F_SCRIPT;
	rec_str(f, 0, "/usr/bin/python3");
	rec_str(f, 2, "/tmp/x/../stage2.py");
	assert_int_equal(build(f), 1);
	assert_string_equal(f->ev.object2, "/tmp/stage2.py");
	assert_string_equal(f->ev.detail, "interpreter /usr/bin/python3");
	assert_string_equal(proc_table_exe(f->procs, CHILD), "/usr/bin/python3");
	/* not a script: no detail */
	rec_new(f, SENSOR_OP_EXEC, CHILD, PARENT);
	rec_str(f, 0, "/usr/bin/id");
	rec_str(f, 2, "id");
	assert_int_equal(build(f), 1);
	assert_string_equal(f->ev.object2, "/usr/bin/id");
	assert_null(f->ev.detail);
}

static void test_exec_by_unknown_dead_parent(void **state)
{
	struct fx *f = *state;

	rec_new(f, SENSOR_OP_EXEC, CHILD, DEAD_PID);
	rec_str(f, 0, "/usr/bin/ls");
	assert_int_equal(build(f), 1);
	assert_int_equal(f->ev.pid, DEAD_PID);
	assert_string_equal(f->ev.process, PROC_TABLE_UNKNOWN);
}

static void test_exit_status(void **state)
{
	struct fx *f = *state;
	char child[16];

	assert_int_equal(proc_table_set(f->procs, CHILD, "/usr/bin/ls"), 0);
	rec_new(f, SENSOR_OP_EXIT, CHILD, PARENT);
	f->h.arg0 = 3 << 8;
	assert_int_equal(build(f), 1);
	assert_int_equal(f->ev.type, EVENT_PROCESS);
	assert_string_equal(f->ev.action, "terminated");
	assert_int_equal(f->ev.pid, PARENT);
	assert_string_equal(f->ev.process, "/bin/bash");
	snprintf(child, sizeof(child), "%u", CHILD);
	assert_string_equal(f->ev.object1, child);
	assert_string_equal(f->ev.object2, "/usr/bin/ls");
	assert_int_equal(f->ev.exit_status, 3);
	assert_int_equal(f->ev.exit_signal, 0);
	assert_null(f->ev.argv);
	/* the child is forgotten, its image still named by the event */
	assert_string_equal(proc_table_exe(f->procs, CHILD), PROC_TABLE_UNKNOWN);
}

static void test_exit_codes_decoded(void **state)
{
	static const struct {
		uint64_t word;
		int status, signal;
	} cases[] = {
	    {0, 0, 0},         {1 << 8, 1, 0}, {255 << 8, 255, 0},
	    {9, -1, 9},        {15, -1, 15},   {0x80 | 11, -1, 11}, /* SIGSEGV + core */
	    {0x80 | 6, -1, 6}, {2, -1, 2},
	};
	struct fx *f = *state;

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		assert_int_equal(proc_table_set(f->procs, CHILD, "/usr/bin/x"), 0);
		rec_new(f, SENSOR_OP_EXIT, CHILD, PARENT);
		f->h.arg0 = cases[i].word;
		assert_int_equal(build(f), 1);
		if (f->ev.exit_status != cases[i].status || f->ev.exit_signal != cases[i].signal)
			fail_msg("word 0x%llx: status %d signal %d, want %d %d",
				 (unsigned long long)cases[i].word, f->ev.exit_status,
				 f->ev.exit_signal, cases[i].status, cases[i].signal);
	}
}

/*
 * "EV's strings live until the next call": a record whose pid equals its
 * ppid (malformed, but sensor_decode accepts it) must not leave ev.process
 * pointing at the table entry the same call replaced (exec) or removed
 * (exit).  Checked with ASan's shadow memory, so the test itself never reads
 * freed memory; without ASan it is skipped.
 */
static void test_process_record_pid_equal_ppid_keeps_process_valid(void **state)
{
#ifdef HAVE_ASAN
	struct fx *f = *state;
	bool exec_ok, exit_ok;

	assert_int_equal(proc_table_set(f->procs, CHILD, "/usr/bin/old"), 0);
	rec_new(f, SENSOR_OP_EXEC, CHILD, CHILD);
	rec_str(f, 0, "/usr/bin/new");
	assert_int_equal(build(f), 1);
	exec_ok = !__asan_address_is_poisoned(f->ev.process);

	assert_int_equal(proc_table_set(f->procs, CHILD, "/usr/bin/old"), 0);
	rec_new(f, SENSOR_OP_EXIT, CHILD, CHILD);
	assert_int_equal(build(f), 1);
	exit_ok = !__asan_address_is_poisoned(f->ev.process);

	if (!exec_ok || !exit_ok)
		fail_msg("ev.process points to freed memory after %s%s%s with pid == ppid",
			 exec_ok ? "" : "EXEC", !exec_ok && !exit_ok ? " and " : "",
			 exit_ok ? "" : "EXIT");
#else
	(void)state;
	skip();
#endif
}

static void test_fork_inherits_image_no_event(void **state)
{
	struct fx *f = *state;

	rec_new(f, SENSOR_OP_FORK, PARENT, FAKE_PID(99));
	f->h.arg0 = CHILD;
	assert_int_equal(build(f), 0);
	assert_string_equal(proc_table_exe(f->procs, CHILD), "/bin/bash");
	/* a file event of the child is then attributed to the inherited image */
	rec_new(f, SENSOR_OP_WRITE, CHILD, PARENT);
	rec_str(f, 0, "/tmp/out");
	assert_int_equal(build(f), 1);
	assert_string_equal(f->ev.process, "/bin/bash");
}

static void test_full_process_life(void **state)
{
	struct fx *f = *state;

	rec_new(f, SENSOR_OP_FORK, PARENT, FAKE_PID(99));
	f->h.arg0 = CHILD;
	assert_int_equal(build(f), 0);
	rec_new(f, SENSOR_OP_EXEC, CHILD, PARENT);
	rec_str(f, 0, "/usr/bin/wget");
	assert_int_equal(build(f), 1);
	rec_new(f, SENSOR_OP_CONNECT, CHILD, PARENT);
	set_ipv4(&f->h.net, "10.1.2.3", 80, SOCK_STREAM);
	assert_int_equal(build(f), 1);
	assert_string_equal(f->ev.process, "/usr/bin/wget");
	assert_int_equal(f->ev.pid, CHILD);
	rec_new(f, SENSOR_OP_EXIT, CHILD, PARENT);
	assert_int_equal(build(f), 1);
	assert_string_equal(f->ev.object2, "/usr/bin/wget");
	assert_string_equal(f->ev.process, "/bin/bash");
	assert_string_equal(proc_table_exe(f->procs, CHILD), PROC_TABLE_UNKNOWN);
}

static void test_harness_records_dropped(void **state)
{
	struct fx *f = *state;

	/* the harness acting on a file */
	rec_new(f, SENSOR_OP_WRITE, HARNESS, PARENT);
	rec_str(f, 0, "/tmp/log");
	assert_int_equal(build(f), 0);
	rec_new(f, SENSOR_OP_CONNECT, HARNESS, PARENT);
	set_ipv4(&f->h.net, "127.0.0.1", 80, SOCK_STREAM);
	assert_int_equal(build(f), 0);
	/* the harness launching the observed program: no event, but the table learns it */
	rec_new(f, SENSOR_OP_EXEC, CHILD, HARNESS);
	rec_str(f, 0, "/usr/bin/firefox");
	assert_int_equal(build(f), 0);
	assert_string_equal(proc_table_exe(f->procs, CHILD), "/usr/bin/firefox");
	/* ... and reaping it */
	rec_new(f, SENSOR_OP_EXIT, CHILD, HARNESS);
	assert_int_equal(build(f), 0);
	assert_string_equal(proc_table_exe(f->procs, CHILD), PROC_TABLE_UNKNOWN);
	/* the observed program itself is reported */
	rec_new(f, SENSOR_OP_WRITE, ACTOR, HARNESS);
	rec_str(f, 0, "/tmp/x");
	assert_int_equal(build(f), 1);
}

/* A daemon orphaned before its exec is reparented to the harness: still reported. */
static void test_orphan_reparented_to_harness_reported(void **state)
{
	struct fx *f = *state;

	/* the program (launched by the harness) forks a child, which is orphaned */
	rec_new(f, SENSOR_OP_EXEC, CHILD, HARNESS);
	rec_str(f, 0, "/bin/sh");
	assert_int_equal(build(f), 0);
	rec_new(f, SENSOR_OP_FORK, CHILD, HARNESS);
	f->h.arg0 = ACTOR;
	assert_int_equal(build(f), 0);
	/* its exec, now with the harness as parent, is a change */
	rec_new(f, SENSOR_OP_EXEC, ACTOR, HARNESS);
	rec_str(f, 0, "/tmp/.implant");
	assert_int_equal(build(f), 1);
	assert_string_equal(f->ev.action, "created");
	assert_string_equal(f->ev.object2, "/tmp/.implant");
	/* the actor is the orphan's own image before the exec (its forker's), not the harness */
	assert_int_equal(f->ev.pid, ACTOR);
	assert_string_equal(f->ev.process, "/bin/sh");
	rec_new(f, SENSOR_OP_EXIT, ACTOR, HARNESS);
	assert_int_equal(build(f), 1);
	assert_string_equal(f->ev.action, "terminated");
	/* a child the harness forked itself is its launch, also after a second exec */
	rec_new(f, SENSOR_OP_FORK, HARNESS, PARENT);
	f->h.arg0 = CHILD + 7;
	assert_int_equal(build(f), 0);
	rec_new(f, SENSOR_OP_EXEC, CHILD + 7, HARNESS);
	rec_str(f, 0, "/usr/bin/curl");
	assert_int_equal(build(f), 0);
	rec_new(f, SENSOR_OP_EXIT, CHILD + 7, HARNESS);
	assert_int_equal(build(f), 0);
}

static void test_no_harness_reports_everything(void **state)
{
	struct fx *f = *state;
	struct event_builder *b = event_builder_new(f->procs, 0);

	assert_non_null(b);
	rec_new(f, SENSOR_OP_WRITE, 0, 0);
	rec_str(f, 0, "/tmp/x");
	assert_int_equal(event_builder_build(b, &f->rec, &f->ev), 1);
	rec_new(f, SENSOR_OP_EXEC, CHILD, 0);
	rec_str(f, 0, "/bin/true");
	assert_int_equal(event_builder_build(b, &f->rec, &f->ev), 1);
	event_builder_free(b);
}

/* ---- common fields ---- */

static void test_base_fields(void **state)
{
	struct fx *f = *state;
	uint64_t real;
	int64_t diff;

	rec_new(f, SENSOR_OP_DELETE, ACTOR, PARENT);
	f->h.flags = SENSOR_F_TRUNC;
	rec_str(f, 0, "/tmp/gone");
	assert_int_equal(build(f), 1);
	real = util_now_real_ns();
	assert_int_equal(f->ev.ts_ns, f->h.ts_ns);
	diff = (int64_t)(real - f->ev.wall_ns);
	if (diff < 0 || diff > 2000000000)
		fail_msg("wall_ns is %lld ns from CLOCK_REALTIME", (long long)diff);
	assert_int_equal(f->ev.pid, ACTOR);
	assert_int_equal(f->ev.tid, ACTOR + 100);
	assert_int_equal(f->ev.ppid, PARENT);
	assert_int_equal(f->ev.uid, 1000);
	assert_int_equal(f->ev.cgroup_id, 4242);
	assert_string_equal(f->ev.comm, "worker");
	assert_string_equal(f->ev.process, "/usr/bin/curl");
	assert_true(f->ev.flags & EVENT_F_TRUNCATED);
	assert_null(f->ev.argv);
	/* no truncation flag without SENSOR_F_TRUNC */
	rec_new(f, SENSOR_OP_DELETE, ACTOR, PARENT);
	rec_str(f, 0, "/tmp/gone");
	assert_int_equal(build(f), 1);
	assert_false(f->ev.flags & EVENT_F_TRUNCATED);
}

static void test_bad_op_rejected(void **state)
{
	struct fx *f = *state;

	rec_new(f, SENSOR_OP_NONE, ACTOR, PARENT);
	assert_int_equal(build(f), -1);
	rec_new(f, SENSOR_OP_MAX, ACTOR, PARENT);
	assert_int_equal(build(f), -1);
}

/* ---- file events ---- */

static void test_file_join(void **state)
{
	struct fx *f = *state;

	rec_new(f, SENSOR_OP_WRITE, ACTOR, PARENT);
	f->h.flags = SENSOR_F_JOIN;
	rec_str(f, 0, "/tmp/x");
	rec_str(f, 1, "../y/./z");
	assert_int_equal(build(f), 1);
	assert_int_equal(f->ev.type, EVENT_FILE);
	assert_string_equal(f->ev.action, "Write");
	assert_int_equal(f->ev.pid, ACTOR);
	assert_string_equal(f->ev.process, "/usr/bin/curl");
	assert_string_equal(f->ev.object1, "/tmp/y/z");
	assert_string_equal(f->ev.object2, "-1");
	/* an absolute name ignores the directory */
	rec_new(f, SENSOR_OP_CREATE, ACTOR, PARENT);
	f->h.flags = SENSOR_F_JOIN;
	rec_str(f, 0, "/home/u");
	rec_str(f, 1, "/etc/cron.d/x");
	assert_int_equal(build(f), 1);
	assert_string_equal(f->ev.object1, "/etc/cron.d/x");
}

static void test_file_without_join_kept(void **state)
{
	struct fx *f = *state;

	/* a resolved path is taken as is, even with dots in it */
	rec_new(f, SENSOR_OP_OPEN, ACTOR, PARENT);
	rec_str(f, 0, "/etc/passwd");
	rec_str(f, 1, "ignored");
	assert_int_equal(build(f), 1);
	assert_string_equal(f->ev.object1, "/etc/passwd");
	assert_string_equal(f->ev.object2, "-1");
}

static void test_file_actions(void **state)
{
	static const struct {
		unsigned op;
		const char *action;
	} cases[] = {
	    {SENSOR_OP_OPEN, "Open"},     {SENSOR_OP_READ, "Read"},
	    {SENSOR_OP_CREATE, "Create"}, {SENSOR_OP_WRITE, "Write"},
	    {SENSOR_OP_DELETE, "Delete"}, {SENSOR_OP_MKDIR, "Mkdir"},
	    {SENSOR_OP_RMDIR, "Rmdir"},   {SENSOR_OP_UTIMES, "Attribute"},
	};
	struct fx *f = *state;

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		rec_new(f, cases[i].op, ACTOR, PARENT);
		f->h.flags = SENSOR_F_JOIN;
		rec_str(f, 0, "/srv");
		rec_str(f, 1, "data");
		assert_int_equal(build(f), 1);
		assert_int_equal(f->ev.type, EVENT_FILE);
		assert_string_equal(f->ev.action, cases[i].action);
		assert_string_equal(f->ev.object1, "/srv/data");
	}
}

static void test_rename_from_to(void **state)
{
	struct fx *f = *state;

	rec_new(f, SENSOR_OP_RENAME, ACTOR, PARENT);
	f->h.flags = SENSOR_F_JOIN | SENSOR_F_JOIN2;
	rec_str(f, 0, "/home/u/Downloads");
	rec_str(f, 1, "payload.part");
	rec_str(f, 2, "/home/u");
	rec_str(f, 3, "./.config/../.bashrc");
	assert_int_equal(build(f), 1);
	assert_string_equal(f->ev.action, "Rename");
	assert_string_equal(f->ev.object1, "/home/u/Downloads/payload.part");
	assert_string_equal(f->ev.object2, "/home/u/.bashrc");
	/* JOIN2 alone: the source is a resolved path */
	rec_new(f, SENSOR_OP_RENAME, ACTOR, PARENT);
	f->h.flags = SENSOR_F_JOIN2;
	rec_str(f, 0, "/a/b");
	rec_str(f, 2, "/c");
	rec_str(f, 3, "d");
	assert_int_equal(build(f), 1);
	assert_string_equal(f->ev.object1, "/a/b");
	assert_string_equal(f->ev.object2, "/c/d");
}

static void test_link_new_name_then_target(void **state)
{
	struct fx *f = *state;

	rec_new(f, SENSOR_OP_LINK, ACTOR, PARENT);
	f->h.flags = SENSOR_F_JOIN | SENSOR_F_JOIN2;
	rec_str(f, 0, "/etc");
	rec_str(f, 1, "shadow");
	rec_str(f, 2, "/tmp");
	rec_str(f, 3, "copy");
	assert_int_equal(build(f), 1);
	assert_string_equal(f->ev.action, "Link");
	assert_string_equal(f->ev.object1, "/tmp/copy");
	assert_string_equal(f->ev.object2, "/etc/shadow");
}

static void test_symlink_target_as_written(void **state)
{
	struct fx *f = *state;

	rec_new(f, SENSOR_OP_SYMLINK, ACTOR, PARENT);
	f->h.flags = SENSOR_F_JOIN2;
	rec_str(f, 0, "../../etc/passwd");
	rec_str(f, 2, "/tmp/a");
	rec_str(f, 3, "lnk");
	assert_int_equal(build(f), 1);
	assert_string_equal(f->ev.action, "Symlink");
	assert_string_equal(f->ev.object1, "/tmp/a/lnk");
	assert_string_equal(f->ev.object2, "../../etc/passwd");
}

static void test_attribute_details(void **state)
{
	struct fx *f = *state;

	rec_new(f, SENSOR_OP_CHMOD, ACTOR, PARENT);
	f->h.flags = SENSOR_F_JOIN;
	rec_str(f, 0, "/tmp");
	rec_str(f, 1, "run.sh");
	f->h.arg0 = 0100755; /* S_IFREG | 0755: only the permission bits are shown */
	assert_int_equal(build(f), 1);
	assert_string_equal(f->ev.action, "Attribute");
	assert_string_equal(f->ev.object1, "/tmp/run.sh");
	assert_string_equal(f->ev.object2, "chmod 0755");
	f->h.arg0 = 04711;
	assert_int_equal(build(f), 1);
	assert_string_equal(f->ev.object2, "chmod 4711");

	rec_new(f, SENSOR_OP_CHOWN, ACTOR, PARENT);
	rec_str(f, 0, "/tmp/f");
	f->h.arg0 = 1000;
	f->h.arg1 = 0xffffffffu; /* -1 = unchanged */
	assert_int_equal(build(f), 1);
	assert_string_equal(f->ev.action, "Attribute");
	assert_string_equal(f->ev.object2, "chown 1000:-1");

	rec_new(f, SENSOR_OP_XATTR, ACTOR, PARENT);
	rec_str(f, 0, "/tmp/f");
	rec_str(f, 2, "security.capability");
	f->h.arg0 = 1;
	assert_int_equal(build(f), 1);
	assert_string_equal(f->ev.object1, "/tmp/f");
	assert_string_equal(f->ev.object2, "setxattr security.capability");
	f->h.arg0 = 0;
	assert_int_equal(build(f), 1);
	assert_string_equal(f->ev.object2, "removexattr security.capability");

	rec_new(f, SENSOR_OP_UTIMES, ACTOR, PARENT);
	rec_str(f, 0, "/tmp/f");
	assert_int_equal(build(f), 1);
	assert_string_equal(f->ev.object2, "utimes");
}

/* EVENT_F_EXECUTABLE: the kernel's SENSOR_F_EXEC on create/write, an x bit on chmod. */
static void test_executable_flag(void **state)
{
	static const struct {
		unsigned op;
		uint32_t flags;
		uint64_t mode;
		bool executable;
	} cases[] = {
	    {SENSOR_OP_CREATE, SENSOR_F_EXEC, 0, true},
	    {SENSOR_OP_CREATE, 0, 0, false},
	    {SENSOR_OP_WRITE, SENSOR_F_EXEC, 0, true},
	    {SENSOR_OP_WRITE, 0, 0, false},
	    {SENSOR_OP_OPEN, SENSOR_F_EXEC, 0, false}, /* reading a program plants nothing */
	    {SENSOR_OP_CHMOD, 0, 0100755, true},
	    {SENSOR_OP_CHMOD, 0, 0100, true},
	    {SENSOR_OP_CHMOD, 0, 0644, false},
	    {SENSOR_OP_CHMOD, 0, 04600, false},
	    {SENSOR_OP_CHMOD, SENSOR_F_DIR, 0755, false}, /* fchmod of a directory */
	    {SENSOR_OP_UTIMES, SENSOR_F_EXEC, 0755, false},
	};
	struct fx *f = *state;

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		rec_new(f, cases[i].op, ACTOR, PARENT);
		f->h.flags = cases[i].flags;
		f->h.arg0 = cases[i].mode;
		rec_str(f, 0, "/tmp/payload");
		assert_int_equal(build(f), 1);
		if (((f->ev.flags & EVENT_F_EXECUTABLE) != 0) != cases[i].executable)
			fail_msg("case %zu (op %u): executable should be %d", i, cases[i].op,
				 cases[i].executable);
	}
	/* a memfd is born 0777: writing one drops no file */
	rec_new(f, SENSOR_OP_WRITE, ACTOR, PARENT);
	f->h.flags = SENSOR_F_EXEC;
	rec_str(f, 0, "/memfd:pulseaudio");
	assert_int_equal(build(f), 1);
	assert_false(f->ev.flags & EVENT_F_EXECUTABLE);
	/* chmod 0755 by path of what the actor sees as a directory (its /proc/PID/root) */
	rec_new(f, SENSOR_OP_CHMOD, (uint32_t)getpid(), PARENT);
	f->h.arg0 = 0755;
	rec_str(f, 0, "/tmp");
	assert_int_equal(build(f), 1);
	assert_false(f->ev.flags & EVENT_F_EXECUTABLE);
	/* ... and of a file there */
	rec_new(f, SENSOR_OP_CHMOD, (uint32_t)getpid(), PARENT);
	f->h.arg0 = 0755;
	rec_str(f, 0, "/etc/passwd");
	assert_int_equal(build(f), 1);
	assert_true(f->ev.flags & EVENT_F_EXECUTABLE);
}

/* ---- connections ---- */

static void test_connect_tcp_ipv4(void **state)
{
	struct fx *f = *state;

	rec_new(f, SENSOR_OP_CONNECT, ACTOR, PARENT);
	set_ipv4(&f->h.net, "127.0.0.1", 80, SOCK_STREAM);
	assert_int_equal(build(f), 1);
	assert_int_equal(f->ev.type, EVENT_CONNECTION);
	assert_string_equal(f->ev.action, "tcp-connection");
	assert_string_equal(f->ev.object1, "127.0.0.1:80");
	assert_string_equal(f->ev.object2, "-1");
	assert_string_equal(f->ev.process, "/usr/bin/curl");
}

static void test_connect_tcp_ipv6(void **state)
{
	struct fx *f = *state;

	rec_new(f, SENSOR_OP_CONNECT, ACTOR, PARENT);
	set_ipv6(&f->h.net, "::1", 443, SOCK_STREAM);
	assert_int_equal(build(f), 1);
	assert_string_equal(f->ev.action, "tcp-connection");
	assert_string_equal(f->ev.object1, "[::1]:443");
}

static void test_connect_udp(void **state)
{
	struct fx *f = *state;

	rec_new(f, SENSOR_OP_CONNECT, ACTOR, PARENT);
	set_ipv4(&f->h.net, "8.8.8.8", 53, SOCK_DGRAM);
	assert_int_equal(build(f), 1);
	assert_string_equal(f->ev.action, "udp-connection");
	assert_string_equal(f->ev.object1, "8.8.8.8:53");
	/* the first datagram to a destination is a udp-connection too */
	rec_new(f, SENSOR_OP_SENDTO, ACTOR, PARENT);
	set_ipv6(&f->h.net, "2001:db8::53", 5353, SOCK_DGRAM);
	assert_int_equal(build(f), 1);
	assert_string_equal(f->ev.action, "udp-connection");
	assert_string_equal(f->ev.object1, "[2001:db8::53]:5353");
}

static void test_connect_unix(void **state)
{
	struct fx *f = *state;

	rec_new(f, SENSOR_OP_CONNECT, ACTOR, PARENT);
	f->h.net.family = AF_UNIX;
	f->h.net.socktype = SOCK_STREAM;
	rec_str(f, 0, "/run/dbus/system_bus_socket");
	assert_int_equal(build(f), 1);
	assert_int_equal(f->ev.type, EVENT_CONNECTION);
	assert_string_equal(f->ev.action, "unix-connection");
	assert_string_equal(f->ev.object1, "/run/dbus/system_bus_socket");
	/* abstract name */
	rec_new(f, SENSOR_OP_CONNECT, ACTOR, PARENT);
	f->h.net.family = AF_UNIX;
	f->h.net.socktype = SOCK_DGRAM; /* still a unix-connection */
	f->h.arg0 = 1;
	rec_str(f, 0, "/tmp/.X11-unix/X0");
	assert_int_equal(build(f), 1);
	assert_string_equal(f->ev.action, "unix-connection");
	assert_string_equal(f->ev.object1, "@/tmp/.X11-unix/X0");
}

static void test_listen_and_bind(void **state)
{
	struct fx *f = *state;

	rec_new(f, SENSOR_OP_LISTEN, ACTOR, PARENT);
	set_ipv4(&f->h.net, "0.0.0.0", 4444, SOCK_STREAM);
	assert_int_equal(build(f), 1);
	assert_int_equal(f->ev.type, EVENT_CONNECTION);
	assert_string_equal(f->ev.action, "tcp-listening");
	assert_string_equal(f->ev.object1, "0.0.0.0:4444");
	rec_new(f, SENSOR_OP_BIND, ACTOR, PARENT);
	set_ipv6(&f->h.net, "::", 53, SOCK_DGRAM);
	assert_int_equal(build(f), 1);
	assert_string_equal(f->ev.action, "udp-listening");
	assert_string_equal(f->ev.object1, "[::]:53");
}

static void test_format_addr(void **state)
{
	struct sensor_net n;
	char buf[64];

	(void)state;
	set_ipv4(&n, "192.168.1.20", 8080, SOCK_STREAM);
	event_builder_format_addr(&n, buf, sizeof(buf));
	assert_string_equal(buf, "192.168.1.20:8080");
	set_ipv4(&n, "255.255.255.255", 65535, SOCK_STREAM);
	event_builder_format_addr(&n, buf, sizeof(buf));
	assert_string_equal(buf, "255.255.255.255:65535");
	set_ipv4(&n, "0.0.0.0", 0, SOCK_DGRAM);
	event_builder_format_addr(&n, buf, sizeof(buf));
	assert_string_equal(buf, "0.0.0.0:0");
	set_ipv6(&n, "2001:db8::1", 443, SOCK_STREAM);
	event_builder_format_addr(&n, buf, sizeof(buf));
	assert_string_equal(buf, "[2001:db8::1]:443");
	set_ipv6(&n, "::ffff:10.0.0.1", 22, SOCK_STREAM);
	event_builder_format_addr(&n, buf, sizeof(buf));
	assert_string_equal(buf, "[::ffff:10.0.0.1]:22");
	set_ipv6(&n, "fe80:1:2:3:4:5:6:7", 1, SOCK_STREAM);
	event_builder_format_addr(&n, buf, sizeof(buf));
	assert_string_equal(buf, "[fe80:1:2:3:4:5:6:7]:1");
	/* a short buffer is cut and stays terminated */
	set_ipv4(&n, "10.20.30.40", 80, SOCK_STREAM);
	memset(buf, 'X', sizeof(buf));
	event_builder_format_addr(&n, buf, 6);
	assert_string_equal(buf, "10.20");
	assert_int_equal(buf[6], 'X');
}

/* ---- system events ---- */

static void test_system_ops(void **state)
{
	struct fx *f = *state;

	rec_new(f, SENSOR_OP_PTRACE, ACTOR, PARENT);
	f->h.arg0 = 16; /* PTRACE_ATTACH */
	f->h.arg1 = 1234;
	assert_int_equal(build(f), 1);
	assert_int_equal(f->ev.type, EVENT_SYSTEM);
	assert_string_equal(f->ev.action, "ptrace");
	assert_string_equal(f->ev.object1, "1234");
	assert_string_equal(f->ev.object2, "request 16");
	assert_string_equal(f->ev.process, "/usr/bin/curl");

	rec_new(f, SENSOR_OP_MOUNT, ACTOR, PARENT);
	f->h.flags = SENSOR_F_JOIN;
	rec_str(f, 0, "/mnt");
	rec_str(f, 1, "./usb/");
	rec_str(f, 2, "/dev/sdb1");
	rec_str(f, 3, "vfat");
	assert_int_equal(build(f), 1);
	assert_int_equal(f->ev.type, EVENT_SYSTEM);
	assert_string_equal(f->ev.action, "mount");
	assert_string_equal(f->ev.object1, "/mnt/usb");
	assert_string_equal(f->ev.object2, "/dev/sdb1 vfat");

	rec_new(f, SENSOR_OP_SETUID, ACTOR, PARENT);
	f->h.arg0 = 105; /* __NR_setuid on x86-64 */
	f->h.arg1 = 0;
	assert_int_equal(build(f), 1);
	assert_string_equal(f->ev.action, "setuid");
	assert_string_equal(f->ev.object1, "0");
	assert_string_equal(f->ev.object2, "setuid");

	rec_new(f, SENSOR_OP_SETGID, ACTOR, PARENT);
	f->h.arg0 = 119; /* __NR_setresgid */
	f->h.arg1 = 27;
	assert_int_equal(build(f), 1);
	assert_string_equal(f->ev.action, "setgid");
	assert_string_equal(f->ev.object1, "27");
	assert_string_equal(f->ev.object2, "setresgid");

	rec_new(f, SENSOR_OP_BPF, ACTOR, PARENT);
	f->h.arg0 = 5; /* BPF_PROG_LOAD */
	assert_int_equal(build(f), 1);
	assert_string_equal(f->ev.action, "bpf");
	assert_string_equal(f->ev.object1, "cmd 5");

	rec_new(f, SENSOR_OP_IO_URING, ACTOR, PARENT);
	f->h.arg0 = 8;
	f->h.arg1 = 0x2;
	assert_int_equal(build(f), 1);
	assert_string_equal(f->ev.action, "io_uring");
	assert_string_equal(f->ev.object1, "entries=8");
	assert_string_equal(f->ev.object2, "flags=0x2");

	rec_new(f, SENSOR_OP_MODULE, ACTOR, PARENT);
	rec_str(f, 0, "/tmp/rootkit.ko");
	assert_int_equal(build(f), 1);
	assert_string_equal(f->ev.action, "module-load");
	assert_string_equal(f->ev.object1, "/tmp/rootkit.ko");
	rec_new(f, SENSOR_OP_MODULE, ACTOR, PARENT); /* init_module: no file */
	assert_int_equal(build(f), 1);
	assert_string_equal(f->ev.action, "module-load");
	assert_string_equal(f->ev.object1, "(memory image)");

	rec_new(f, SENSOR_OP_CAPSET, ACTOR, PARENT);
	assert_int_equal(build(f), 1);
	assert_int_equal(f->ev.type, EVENT_SYSTEM);
	assert_string_equal(f->ev.action, "capset");
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(test_exec_created),
	    T(test_exec_without_argv),
	    T(test_exec_script_names_script),
	    T(test_exec_by_unknown_dead_parent),
	    T(test_exit_status),
	    T(test_exit_codes_decoded),
	    T(test_process_record_pid_equal_ppid_keeps_process_valid),
	    T(test_fork_inherits_image_no_event),
	    T(test_full_process_life),
	    T(test_harness_records_dropped),
	    T(test_orphan_reparented_to_harness_reported),
	    T(test_no_harness_reports_everything),
	    T(test_base_fields),
	    T(test_bad_op_rejected),
	    T(test_file_join),
	    T(test_file_without_join_kept),
	    T(test_file_actions),
	    T(test_rename_from_to),
	    T(test_link_new_name_then_target),
	    T(test_symlink_target_as_written),
	    T(test_attribute_details),
	    T(test_executable_flag),
	    T(test_connect_tcp_ipv4),
	    T(test_connect_tcp_ipv6),
	    T(test_connect_udp),
	    T(test_connect_unix),
	    T(test_listen_and_bind),
	    cmocka_unit_test(test_format_addr),
	    T(test_system_ops),
	};
#undef T

	return cmocka_run_group_tests_name("event_builder", tests, NULL, NULL);
}
