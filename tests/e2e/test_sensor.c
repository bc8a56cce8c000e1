/*
 * test_sensor.c - end to end: the real capture-client, the real kernel
 * sensor, real programs.  Needs root (the sensor and cgroups).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>

#include "e2e.h"

static char client[PATH_MAX];
static char tmpdir[256];

struct listeners {
	int tcp, udp, tcp6, unix_fd;
	int tcp_port, udp_port, tcp6_port;
	char unix_path[108];
};

static int bound_port(int s)
{
	struct sockaddr_storage a;
	socklen_t len = sizeof(a);

	if (getsockname(s, (struct sockaddr *)&a, &len) < 0)
		return -1;
	return a.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&a)->sin6_port)
				       : ntohs(((struct sockaddr_in *)&a)->sin_port);
}

static int listener(int family, int type)
{
	struct sockaddr_in a4 = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
	int s = socket(family, type, 0);
	int rc = family == AF_INET6 ? bind(s, (struct sockaddr *)&a6, sizeof(a6))
				    : bind(s, (struct sockaddr *)&a4, sizeof(a4));

	assert_true(s >= 0);
	assert_int_equal(rc, 0);
	if (type == SOCK_STREAM)
		assert_int_equal(listen(s, 16), 0);
	return s;
}

static void open_listeners(struct listeners *l)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};

	l->tcp = listener(AF_INET, SOCK_STREAM);
	l->udp = listener(AF_INET, SOCK_DGRAM);
	l->tcp6 = listener(AF_INET6, SOCK_STREAM);
	l->tcp_port = bound_port(l->tcp);
	l->udp_port = bound_port(l->udp);
	l->tcp6_port = bound_port(l->tcp6);
	snprintf(l->unix_path, sizeof(l->unix_path), "%s/sock", tmpdir);
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", l->unix_path);
	l->unix_fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(bind(l->unix_fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(l->unix_fd, 4), 0);
}

static void close_listeners(struct listeners *l)
{
	close(l->tcp);
	close(l->udp);
	close(l->tcp6);
	close(l->unix_fd);
	unlink(l->unix_path);
}

/* Busy file activity of this (out-of-scope) process while a run is going on. */
static volatile int outside_stop;
static void *outside_activity(void *arg)
{
	const char *dir = arg;
	char path[PATH_MAX];

	for (int i = 0; !outside_stop; i++) {
		snprintf(path, sizeof(path), "%s/outside-%d", dir, i % 8);
		FILE *f = fopen(path, "w");

		if (f)
			fclose(f);
		unlink(path);
		usleep(200);
	}
	return NULL;
}

static int count_containing(json_t *events, const char *needle)
{
	size_t i;
	json_t *o;
	int n = 0;

	json_array_foreach(events, i, o)
	{
		if (strstr(e2e_str(o, "object1"), needle) || strstr(e2e_str(o, "object2"), needle))
			n++;
	}
	return n;
}

static void path_in(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", tmpdir, name);
}

static void test_workload_events_exactly_once(void **state)
{
	struct listeners l;
	char prog[PATH_MAX], realprog[PATH_MAX], dir[PATH_MAX], log[PATH_MAX], out[PATH_MAX],
	    errf[PATH_MAX], ports[3][16], p[PATH_MAX], q[PATH_MAX], obj[64];
	int wpid = 0, kid = 0, lport = 0, status;
	pthread_t th;
	json_t *ev, *e;
	char *text;

	(void)state;
	open_listeners(&l);
	e2e_sibling("prog_workload", prog, sizeof(prog));
	assert_non_null(realpath(prog, realprog));
	path_in(dir, sizeof(dir), "work");
	path_in(log, sizeof(log), "work.jsonl");
	path_in(out, sizeof(out), "work.out");
	path_in(errf, sizeof(errf), "work.err");
	mkdir(dir, 0755);
	snprintf(ports[0], 16, "%d", l.tcp_port);
	snprintf(ports[1], 16, "%d", l.udp_port);
	snprintf(ports[2], 16, "%d", l.tcp6_port);
	char *argv[] = {client, "--json", "-x",     "none",   "-l",     log,         "--",
			prog,   dir,      ports[0], ports[1], ports[2], l.unix_path, NULL};

	outside_stop = 0;
	pthread_create(&th, NULL, outside_activity, dir);
	status = e2e_run(argv, out, errf);
	outside_stop = 1;
	pthread_join(th, NULL);
	close_listeners(&l);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 1); /* malicious: everything is reported */
	text = e2e_slurp(out);
	assert_non_null(text);
	assert_int_equal(sscanf(text, "pid=%d child=%d listen=%d", &wpid, &kid, &lport), 3);
	free(text);

	ev = e2e_load_jsonl(log);
	assert_true(json_array_size(ev) > 10);
	/* file events: each exactly once, with the workload as the actor */
	path_in(p, sizeof(p), "work/created.txt");
	assert_int_equal(e2e_count(ev, "file", "Create", p), 1);
	assert_int_equal(e2e_count(ev, "file", "Write", p), 1);
	e = e2e_find(ev, "file", "Create", p);
	assert_int_equal(json_integer_value(json_object_get(e, "pid")), wpid);
	assert_string_equal(e2e_str(e, "process"), realprog);
	assert_int_equal(e2e_count(ev, "file", "Rename", p), 1);
	path_in(q, sizeof(q), "work/renamed.txt");
	assert_string_equal(e2e_str(e2e_find(ev, "file", "Rename", p), "object2"), q);
	assert_int_equal(e2e_count(ev, "file", "Attribute", q), 1);
	assert_string_equal(e2e_str(e2e_find(ev, "file", "Attribute", q), "object2"), "chmod 0755");
	path_in(p, sizeof(p), "work/hard.txt");
	assert_int_equal(e2e_count(ev, "file", "Link", p), 1);
	assert_string_equal(e2e_str(e2e_find(ev, "file", "Link", p), "object2"), q);
	assert_int_equal(e2e_count(ev, "file", "Delete", p), 1);
	path_in(p, sizeof(p), "work/soft.txt");
	assert_int_equal(e2e_count(ev, "file", "Symlink", p), 1);
	assert_string_equal(e2e_str(e2e_find(ev, "file", "Symlink", p), "object2"), "renamed.txt");
	assert_int_equal(e2e_count(ev, "file", "Delete", p), 1);
	path_in(p, sizeof(p), "work/subdir");
	assert_int_equal(e2e_count(ev, "file", "Mkdir", p), 1);
	assert_int_equal(e2e_count(ev, "file", "Rmdir", p), 1);

	/* process events: the parent acts, as in the original */
	snprintf(obj, sizeof(obj), "%d", kid);
	assert_int_equal(e2e_count(ev, "process", "created", obj), 1);
	e = e2e_find(ev, "process", "created", obj);
	assert_int_equal(json_integer_value(json_object_get(e, "pid")), wpid);
	assert_string_equal(e2e_str(e, "process"), realprog);
	assert_string_equal(e2e_str(e, "object2"), "/usr/bin/true");
	assert_string_equal(json_string_value(json_array_get(json_object_get(e, "argv"), 1)),
			    "--capture-test-arg");
	assert_int_equal(e2e_count(ev, "process", "terminated", obj), 1);
	e = e2e_find(ev, "process", "terminated", obj);
	assert_int_equal(json_integer_value(json_object_get(e, "exit_status")), 0);
	/* the harness starting the workload is not a state change */
	snprintf(obj, sizeof(obj), "%d", wpid);
	assert_int_equal(e2e_count(ev, "process", "created", obj), 0);

	/* connections */
	snprintf(obj, sizeof(obj), "127.0.0.1:%d", l.tcp_port);
	assert_int_equal(e2e_count(ev, "connection", "tcp-connection", obj), 1);
	snprintf(obj, sizeof(obj), "127.0.0.1:%d", l.udp_port);
	assert_int_equal(e2e_count(ev, "connection", "udp-connection", obj), 1);
	snprintf(obj, sizeof(obj), "[::1]:%d", l.tcp6_port);
	assert_int_equal(e2e_count(ev, "connection", "tcp-connection", obj), 1);
	assert_int_equal(e2e_count(ev, "connection", "unix-connection", l.unix_path), 1);
	snprintf(obj, sizeof(obj), "127.0.0.1:%d", lport);
	assert_int_equal(e2e_count(ev, "connection", "tcp-listening", obj), 1);
	e = e2e_find(ev, "connection", "tcp-listening", obj);
	assert_int_equal(json_integer_value(json_object_get(e, "pid")), wpid);

	/* nothing from outside the scope, although it ran at the same time */
	assert_int_equal(count_containing(ev, "outside-"), 0);
	json_decref(ev);
}

static void test_io_uring_use_is_reported(void **state)
{
	char prog[PATH_MAX], realprog[PATH_MAX], f[PATH_MAX], log[PATH_MAX], out[PATH_MAX],
	    errf[PATH_MAX];
	json_t *ev, *e;
	char *text;
	int status;

	(void)state;
	e2e_sibling("prog_uring", prog, sizeof(prog));
	assert_non_null(realpath(prog, realprog));
	assert_int_equal(e2e_write(tmpdir, "uring.txt", "old content\n"), 0);
	path_in(f, sizeof(f), "uring.txt");
	path_in(log, sizeof(log), "uring.jsonl");
	path_in(out, sizeof(out), "uring.out");
	path_in(errf, sizeof(errf), "uring.err");
	char *argv[] = {client, "--json", "-x", "none", "-l", log, "--", prog, f, NULL};

	status = e2e_run(argv, out, errf);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 1);
	text = e2e_slurp(f);
	assert_non_null(strstr(text, "written through io_uring"));
	free(text);
	ev = e2e_load_jsonl(log);
	assert_int_equal(e2e_count(ev, "system", "io_uring", NULL), 1);
	e = e2e_find(ev, "system", "io_uring", NULL);
	assert_string_equal(e2e_str(e, "process"), realprog);
	json_decref(ev);
}

/* 400,000 iterations = 2,000,000 file operations, unless CAPTURE_FLOOD_ITERATIONS says otherwise.
 */
static long flood_iterations(void)
{
	const char *env = getenv("CAPTURE_FLOOD_ITERATIONS");

	return env ? atol(env) : 400000;
}

/* Runs prog_flood under lists that exclude its events; returns the summary. */
static json_t *flood(const char *ringbuf, int *exit_status)
{
	char prog[PATH_MAX], lists[PATH_MAX], dir[PATH_MAX], out[PATH_MAX], errf[PATH_MAX];
	char iters[32];
	int status;

	e2e_sibling("prog_flood", prog, sizeof(prog));
	path_in(lists, sizeof(lists), "flood-lists");
	path_in(dir, sizeof(dir), "flood");
	path_in(out, sizeof(out), "flood.out");
	path_in(errf, sizeof(errf), "flood.err");
	mkdir(dir, 0755);
	snprintf(iters, sizeof(iters), "%ld", flood_iterations());
	assert_int_equal(e2e_write(lists, "file.exl",
				   "# the flood's own files are expected noise here\n"
				   "+\tCreate\t.*\t.*/flood-a\n"
				   "+\tRename\t.*\t.*/flood-[ab]\n"
				   "+\tDelete\t.*\t.*/flood-b\n"
				   "+\tOpen\t.*\t.*\n"
				   "+\tRead\t.*\t.*\n"),
			 0);
	char *argv[] = {client,
			"--json",
			"-x",
			lists,
			"--ringbuf-size",
			(char *)ringbuf,
			"-l",
			"/dev/null",
			"--",
			prog,
			dir,
			iters,
			NULL};

	status = e2e_run(argv, out, errf);
	assert_true(WIFEXITED(status));
	*exit_status = WEXITSTATUS(status);
	return e2e_summary(errf);
}

static void test_flood_tiny_ringbuf_is_inconclusive(void **state)
{
	json_t *s;
	int code;

	(void)state;
	s = flood("4096", &code);
	assert_non_null(s);
	assert_true(json_integer_value(json_object_get(s, "lost")) > 0);
	assert_string_equal(e2e_str(s, "verdict"), "inconclusive");
	assert_int_equal(code, 2);
	json_decref(s);
}

static void test_flood_default_ringbuf_loses_nothing(void **state)
{
	json_t *s;
	int code;

	(void)state;
	s = flood("64M", &code);
	assert_non_null(s);
	assert_int_equal(json_integer_value(json_object_get(s, "lost")), 0);
	/* three records per iteration: Create, Rename, Delete */
	assert_true(json_integer_value(json_object_get(s, "records")) >= 3 * flood_iterations());
	assert_string_equal(e2e_str(s, "verdict"), "benign");
	assert_int_equal(code, 0);
	json_decref(s);
}

static void test_timeout_kills_daemonized_tree(void **state)
{
	char prog[PATH_MAX], pidfile[PATH_MAX], out[PATH_MAX], errf[PATH_MAX];
	time_t start = time(NULL);
	int status, dpid = 0;
	char *text;

	(void)state;
	e2e_sibling("prog_daemon", prog, sizeof(prog));
	path_in(pidfile, sizeof(pidfile), "daemon.pid");
	path_in(out, sizeof(out), "daemon.out");
	path_in(errf, sizeof(errf), "daemon.err");
	char *argv[] = {client,      "-x", "none", "-t",    "2", "-l",
			"/dev/null", "--", prog,   pidfile, NULL};

	status = e2e_run(argv, out, errf);
	assert_true(WIFEXITED(status));
	assert_true(time(NULL) - start >= 2); /* the run waited for the daemon */
	assert_true(time(NULL) - start < 30);
	text = e2e_slurp(pidfile);
	assert_non_null(text);
	dpid = atoi(text);
	free(text);
	assert_true(dpid > 0);
	assert_int_equal(kill(dpid, 0), -1); /* killed with the tree */
	assert_int_equal(errno, ESRCH);
	text = e2e_slurp(errf);
	assert_non_null(strstr(text, "(timeout)"));
	free(text);
}

static void test_program_not_found_is_an_error(void **state)
{
	char out[PATH_MAX], errf[PATH_MAX];
	char *argv[] = {client, "-x", "none", "--", "/nonexistent/capture-test", NULL};
	char *text;
	int status;

	(void)state;
	path_in(out, sizeof(out), "nf.out");
	path_in(errf, sizeof(errf), "nf.err");
	status = e2e_run(argv, out, errf);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 3);
	text = e2e_slurp(errf);
	assert_non_null(strstr(text, "cannot run /nonexistent/capture-test"));
	free(text);
}

static void test_bad_exclusion_list_is_an_error(void **state)
{
	char lists[PATH_MAX], out[PATH_MAX], errf[PATH_MAX];
	char *text;
	int status;

	(void)state;
	path_in(lists, sizeof(lists), "bad-lists");
	path_in(out, sizeof(out), "bad.out");
	path_in(errf, sizeof(errf), "bad.err");
	assert_int_equal(e2e_write(lists, "file.exl", "+\tWrite\t.*\t(unclosed\n"), 0);
	char *argv[] = {client, "-x", lists, "--", "/bin/true", NULL};

	status = e2e_run(argv, out, errf);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 3);
	text = e2e_slurp(errf);
	assert_non_null(strstr(text, "file.exl:1:"));
	free(text);
}

/* Marked executable by the kernel's view of the file: no '+' rule hides it. */
static bool executable(json_t *events, const char *action, const char *object1)
{
	json_t *e = e2e_find(events, "file", action, object1);

	return e && json_is_true(json_object_get(e, "executable"));
}

/*
 * Files made executable are reported although the list excludes every
 * change in the directory: a program copied in (created 0755), an append
 * to it, a chmod +x; a plain file, a chmod without x and a chmod 0755 of
 * a directory (search permission, not a program) stay excluded.
 */
static void test_executable_files_always_reported(void **state)
{
	char lists[PATH_MAX], dir[PATH_MAX], rules[3 * PATH_MAX], script[4 * PATH_MAX];
	char log[PATH_MAX], out[PATH_MAX], errf[PATH_MAX], prog[PATH_MAX], data[PATH_MAX];
	char sub[PATH_MAX];
	json_t *ev;
	int status;

	(void)state;
	path_in(lists, sizeof(lists), "exec-lists");
	path_in(dir, sizeof(dir), "exec-drop");
	path_in(log, sizeof(log), "exec.jsonl");
	path_in(out, sizeof(out), "exec.out");
	path_in(errf, sizeof(errf), "exec.err");
	assert_int_equal(mkdir(dir, 0755), 0);
	snprintf(prog, sizeof(prog), "%s/prog", dir);
	snprintf(data, sizeof(data), "%s/data", dir);
	snprintf(sub, sizeof(sub), "%s/sub", dir);
	snprintf(rules, sizeof(rules),
		 "+\tCreate\t.*\t%s/.*\n+\tWrite\t.*\t%s/.*\n+\tAttribute\t.*\t%s/.*\n"
		 "+\tMkdir\t.*\t%s/.*\n",
		 dir, dir, dir, dir);
	assert_int_equal(e2e_write(lists, "file.exl", rules), 0);
	snprintf(script, sizeof(script),
		 "umask 022; /bin/cp /bin/true %s; echo x >> %s; : > %s; /bin/chmod 0600 %s; "
		 "/bin/chmod 0700 %s; /bin/mkdir %s; /bin/chmod 0755 %s",
		 prog, prog, data, data, data, sub, sub);
	char *argv[] = {client, "--json",  "-x", lists,  "-l", log,
			"--",   "/bin/sh", "-c", script, NULL};

	status = e2e_run(argv, out, errf);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 1);
	ev = e2e_load_jsonl(log);
	assert_non_null(ev);
	assert_true(executable(ev, "Create", prog));
	assert_true(executable(ev, "Write", prog)); /* the append by the shell */
	assert_true(executable(ev, "Attribute", data));
	assert_int_equal(e2e_count(ev, "file", "Attribute", data), 1); /* 0600 stays excluded */
	assert_int_equal(e2e_count(ev, "file", "Create", data), 0);    /* a plain new file */
	assert_int_equal(e2e_count(ev, "file", "Attribute", sub), 0);  /* a directory */
	json_decref(ev);
}

static void test_csv_lines_survive_hostile_names(void **state)
{
	char out[PATH_MAX], errf[PATH_MAX], evil[PATH_MAX];
	char *text, *line;
	int status, lines = 0, hits = 0;

	(void)state;
	path_in(out, sizeof(out), "csv.out");
	path_in(errf, sizeof(errf), "csv.err");
	snprintf(evil, sizeof(evil), "%s/evil\n\"name,x", tmpdir);
	char *argv[] = {client, "-x", "none", "--", "/usr/bin/touch", evil, NULL};

	status = e2e_run(argv, out, errf);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 1);
	text = e2e_slurp(out);
	assert_non_null(text);
	for (line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
		int quotes = 0;

		lines++;
		for (char *c = line; *c; c++)
			quotes += *c == '"';
		assert_int_equal(quotes % 2, 0);          /* every field closed */
		assert_true(strncmp(line, "\"", 1) == 0); /* no line starts mid-field */
		if (strstr(line, "\"Create\"") && strstr(line, "evil\\x0a\"\"name,x"))
			hits++;
	}
	assert_true(lines > 0);
	assert_int_equal(hits, 1); /* the Create of the evil name, on one line, escaped */
	free(text);
}

static void test_system_events_reported(void **state)
{
	char prog[PATH_MAX], realprog[PATH_MAX], dir[PATH_MAX], log[PATH_MAX], out[PATH_MAX],
	    errf[PATH_MAX], obj[32];
	const char *actions[] = {"ptrace", "mount", "setuid", "setgid", "capset", "bpf"};
	int wpid = 0, tpid = 0, status;
	json_t *ev, *e;
	char *text;

	(void)state;
	e2e_sibling("prog_system", prog, sizeof(prog));
	assert_non_null(realpath(prog, realprog));
	path_in(dir, sizeof(dir), "mnt");
	path_in(log, sizeof(log), "system.jsonl");
	path_in(out, sizeof(out), "system.out");
	path_in(errf, sizeof(errf), "system.err");
	mkdir(dir, 0755);
	char *argv[] = {client, "--json", "-x", "none", "-l", log, "--", prog, dir, NULL};

	status = e2e_run(argv, out, errf);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 1);
	text = e2e_slurp(out);
	assert_int_equal(sscanf(text, "pid=%d traced=%d", &wpid, &tpid), 2);
	free(text);
	ev = e2e_load_jsonl(log);
	for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++) {
		e = e2e_find(ev, "system", actions[i], NULL);
		assert_non_null(e);
		assert_string_equal(e2e_str(e, "process"), realprog);
		assert_int_equal(json_integer_value(json_object_get(e, "pid")), wpid);
	}
	snprintf(obj, sizeof(obj), "%d", tpid);
	assert_int_equal(e2e_count(ev, "system", "ptrace", obj), 1);
	assert_int_equal(e2e_count(ev, "system", "mount", dir), 1);
	assert_string_equal(e2e_str(e2e_find(ev, "system", "mount", dir), "object2"),
			    "capture-test tmpfs");
	assert_int_equal(e2e_count(ev, "system", "setuid", "0"), 1);
	assert_int_equal(e2e_count(ev, "system", "bpf", "cmd 0"), 1);
	json_decref(ev);
	/* the mount happened in the program's private namespace, not here */
	text = e2e_slurp("/proc/self/mounts");
	assert_null(strstr(text, dir));
	free(text);
}

static void test_system_scope_sees_everything_but_the_client(void **state)
{
	char log[PATH_MAX], out[PATH_MAX], errf[PATH_MAX], dir[PATH_MAX], self[PATH_MAX];
	char *argv[] = {client, "--json", "--system", "-x", "none", "-t", "2", "-l", log, NULL};
	pthread_t th;
	json_t *ev, *sum, *o;
	size_t i;
	int status;

	(void)state;
	path_in(log, sizeof(log), "sys.jsonl");
	path_in(out, sizeof(out), "sys.out");
	path_in(errf, sizeof(errf), "sys.err");
	path_in(dir, sizeof(dir), "sysscope");
	mkdir(dir, 0755);
	outside_stop = 0;
	pthread_create(&th, NULL, outside_activity, dir);
	status = e2e_run(argv, out, errf);
	outside_stop = 1;
	pthread_join(th, NULL);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 1);
	ev = e2e_load_jsonl(log);
	/* this test process is outside any cgroup of the client, yet seen */
	assert_true(count_containing(ev, "/sysscope/outside-") > 0);
	/* the client's own writes (its event log) are never reported */
	assert_non_null(realpath(client, self));
	json_array_foreach(ev, i, o)
	{
		assert_string_not_equal(e2e_str(o, "process"), self);
	}
	assert_int_equal(count_containing(ev, "sys.jsonl"), 0);
	sum = e2e_summary(errf);
	assert_non_null(sum);
	assert_string_equal(e2e_str(sum, "scope"), "system");
	assert_true(json_is_true(json_object_get(sum, "timed_out")));
	json_decref(sum);
	json_decref(ev);
}

static void test_sigint_kills_tree_and_reports(void **state)
{
	char prog[PATH_MAX], pidfile[PATH_MAX], out[PATH_MAX], errf[PATH_MAX];
	char *argv[] = {client,      "--json", "-x", "none",  "-l",
			"/dev/null", "--",     prog, pidfile, NULL};
	json_t *sum;
	char *text;
	pid_t pid;
	int status, dpid;

	(void)state;
	e2e_sibling("prog_daemon", prog, sizeof(prog));
	path_in(pidfile, sizeof(pidfile), "sigint.pid");
	path_in(out, sizeof(out), "sigint.out");
	path_in(errf, sizeof(errf), "sigint.err");
	unlink(pidfile);
	pid = e2e_spawn(argv, out, errf);
	assert_true(pid > 0);
	for (int i = 0; i < 100 && access(pidfile, R_OK) != 0; i++)
		usleep(50000);
	usleep(100000); /* the daemon wrote its pid file: the tree is running */
	assert_int_equal(kill(pid, SIGINT), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 1); /* the daemon's fork and exit were reported */
	text = e2e_slurp(pidfile);
	assert_non_null(text);
	dpid = atoi(text);
	free(text);
	assert_true(dpid > 0);
	assert_int_equal(kill(dpid, 0), -1);
	assert_int_equal(errno, ESRCH);
	sum = e2e_summary(errf);
	assert_non_null(sum);
	assert_true(json_is_true(json_object_get(sum, "interrupted")));
	json_decref(sum);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_workload_events_exactly_once),
	    cmocka_unit_test(test_io_uring_use_is_reported),
	    cmocka_unit_test(test_system_events_reported),
	    cmocka_unit_test(test_system_scope_sees_everything_but_the_client),
	    cmocka_unit_test(test_sigint_kills_tree_and_reports),
	    cmocka_unit_test(test_timeout_kills_daemonized_tree),
	    cmocka_unit_test(test_program_not_found_is_an_error),
	    cmocka_unit_test(test_bad_exclusion_list_is_an_error),
	    cmocka_unit_test(test_executable_files_always_reported),
	    cmocka_unit_test(test_csv_lines_survive_hostile_names),
	    cmocka_unit_test(test_flood_tiny_ringbuf_is_inconclusive),
	    cmocka_unit_test(test_flood_default_ringbuf_loses_nothing),
	};
	char tmpl[] = "/tmp/capture-e2e.XXXXXX";

	if (getenv("CAPTURE_TEST_FILTER")) /* run one test: CAPTURE_TEST_FILTER=test_name */
		cmocka_set_test_filter(getenv("CAPTURE_TEST_FILTER"));
	e2e_sibling("../../capture-client", client, sizeof(client));
	if (!mkdtemp(tmpl)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(tmpdir, sizeof(tmpdir), "%s", tmpl);
	return cmocka_run_group_tests_name("e2e_sensor", tests, NULL, NULL);
}
