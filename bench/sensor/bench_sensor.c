/*
 * bench_sensor.c - cost and capacity of the kernel sensor, measured side by
 * side in one run (bench/sensor/run.sh prints the table).
 *
 *   bench_sensor LISTS_DIR FS_ITERATIONS EXEC_ITERATIONS REPEAT
 *
 * Workloads, each run in a child placed in its own cgroup v2 leaf:
 *   fsloop    open(O_CREAT|O_TRUNC)+write+close+rename+unlink on tmpfs (/dev/shm)
 *             (5 syscalls, 3 sensor records per iteration)
 *   getppid   a cheap syscall in a loop (worst case for a sys_exit hook)
 *   forkexec  fork + exec /bin/true + wait
 * Configurations:
 *   none      no sensor loaded
 *   outside   sensor loaded, scoped to another (empty) cgroup
 *   inside    sensor scoped to the workload's cgroup, records drained
 *             through the whole pipeline (builder, exclusion lists, CSV log)
 * Capacity: the fsloop runs inside the scope with a 512 MiB ring buffer
 * that is not read until it ends; then the full backlog is drained through
 * the pipeline and timed: events/s from kernel to the filtered log.
 *
 * Output: "key value" lines parsed by run.sh.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "client/classify.h"
#include "client/event_builder.h"
#include "client/exclusion.h"
#include "client/proc_table.h"
#include "common/log.h"
#include "common/util.h"
#include "guest/cgroup.h"
#include "sensor/sensor.h"

enum workload {
	W_FSLOOP,
	W_GETPPID,
	W_FORKEXEC
};

struct pipeline {
	struct exclusion_set *excl;
	struct proc_table *procs;
	struct event_builder *builder;
	FILE *log;
	uint64_t reported, excluded;
};

static int on_record(const struct sensor_record *rec, void *ctx)
{
	struct pipeline *p = ctx;
	struct capture_event ev;

	if (event_builder_build(p->builder, rec, &ev) != 1)
		return 0;
	if (!classify_is_reported(p->excl, &ev)) {
		p->excluded++;
		return 0;
	}
	p->reported++;
	event_write_csv(p->log, &ev);
	return 0;
}

static void fsloop(long n)
{
	char a[64], b[64];

	snprintf(a, sizeof(a), "/dev/shm/bench-sensor-%d-a", (int)getpid());
	snprintf(b, sizeof(b), "/dev/shm/bench-sensor-%d-b", (int)getpid());
	for (long i = 0; i < n; i++) {
		int fd = open(a, O_CREAT | O_WRONLY | O_TRUNC, 0644);

		if (fd < 0 || write(fd, "x", 1) != 1 || close(fd) < 0 || rename(a, b) < 0 ||
		    unlink(b) < 0)
			_exit(1);
	}
}

static void forkexec(long n)
{
	for (long i = 0; i < n; i++) {
		pid_t pid = fork();
		int st;

		if (pid == 0) {
			execl("/bin/true", "true", (char *)NULL);
			_exit(127);
		}
		if (pid < 0 || waitpid(pid, &st, 0) < 0)
			_exit(1);
	}
}

/* Runs workload W in cgroup CG; the child times itself and reports ns on a pipe. */
static pid_t start(enum workload w, long n, const char *cg, int *rfd)
{
	int cgfd = open(cg, O_RDONLY | O_DIRECTORY | O_CLOEXEC), p[2];
	struct clone_args args = {.flags = CLONE_INTO_CGROUP, .exit_signal = SIGCHLD};
	pid_t pid;

	if (cgfd < 0 || pipe(p) < 0) /* p[1] without CLOEXEC: the workload writes to it */
		fatal("bench setup");
	args.cgroup = (uint64_t)cgfd;
	pid = (pid_t)syscall(SYS_clone3, &args, sizeof(args));
	if (pid == 0) {
		char ws[16], ns[32], fds[16];

		/*
		 * exec a fresh image, as every monitored program does: a child
		 * that never execs still runs the harness's image, and the event
		 * builder rightly treats its actions as the harness's own
		 */
		snprintf(ws, sizeof(ws), "%d", (int)w);
		snprintf(ns, sizeof(ns), "%ld", n);
		snprintf(fds, sizeof(fds), "%d", p[1]);
		execl("/proc/self/exe", "bench_sensor", "--workload", ws, ns, fds, (char *)NULL);
		_exit(127);
	}
	close(cgfd);
	close(p[1]);
	if (pid < 0)
		fatal("clone3");
	*rfd = p[0];
	return pid;
}

/* bench_sensor --workload W N FD: run workload W N times, write the ns it took to FD. */
static int workload_main(char **argv)
{
	enum workload w = (enum workload)atoi(argv[2]);
	long n = atol(argv[3]);
	int fd = atoi(argv[4]);
	cpu_set_t one;
	uint64_t t0, dt;

	/* the workload on CPU 1, the consumer on CPU 0: fewer migrations, less noise */
	CPU_ZERO(&one);
	CPU_SET(1, &one);
	sched_setaffinity(0, sizeof(one), &one);
	t0 = util_now_mono_ns();
	if (w == W_FSLOOP)
		fsloop(n);
	else if (w == W_GETPPID)
		for (long i = 0; i < n; i++)
			syscall(SYS_getppid);
	else
		forkexec(n);
	dt = util_now_mono_ns() - t0;
	return write(fd, &dt, sizeof(dt)) == sizeof(dt) ? 0 : 1;
}

static uint64_t finish(pid_t pid, int rfd)
{
	uint64_t dt = 0;
	int st;

	if (read(rfd, &dt, sizeof(dt)) != sizeof(dt))
		fatalx("workload failed");
	close(rfd);
	waitpid(pid, &st, 0);
	return dt;
}

static void drain_all(struct sensor *s)
{
	while (sensor_drain(s) > 0)
		;
}

/* One timed run of W in cgroup LOOP_CG; drains S (if any) while it runs. */
static uint64_t run_once(enum workload w, long n, const char *loop_cg, struct sensor *s)
{
	int rfd;
	pid_t pid = start(w, n, loop_cg, &rfd);
	struct pollfd pf = {.fd = s ? sensor_fd(s) : -1, .events = POLLIN};
	uint64_t dt;

	if (s) {
		for (;;) {
			int st;

			poll(&pf, 1, SENSOR_DRAIN_INTERVAL_MS);
			drain_all(s);
			if (waitpid(pid, &st, WNOHANG) == pid) {
				uint64_t t = 0;

				if (read(rfd, &t, sizeof(t)) != sizeof(t))
					fatalx("workload failed");
				close(rfd);
				drain_all(s);
				return t;
			}
		}
	}
	dt = finish(pid, rfd);
	return dt;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static uint64_t median(uint64_t *t, int n)
{
	qsort(t, (size_t)n, sizeof(t[0]), cmp_u64);
	return t[n / 2];
}

static struct sensor *open_sensor(const char *cg, struct pipeline *p, uint64_t rb)
{
	struct sensor_opts so = {.scope = SENSOR_SCOPE_CGROUP,
				 .cgroup_path = cg,
				 .ringbuf_bytes = rb,
				 .enabled_ops = classify_enabled_ops(p->excl)};
	struct sensor *s;
	char err[512];

	if (sensor_open(&so, on_record, p, &s, err, sizeof(err)) < 0)
		fatalx("%s", err);
	return s;
}

int main(int argc, char **argv)
{
	static const char *const wname[] = {"fsloop", "getppid", "forkexec"};
	char loop_cg[4200], empty_cg[4200], name[64], err[512];
	struct pipeline p = {0};
	long fs_n, exec_n;
	int repeat;
	struct sensor *s;

	cpu_set_t zero;

	if (argc == 5 && strcmp(argv[1], "--workload") == 0)
		return workload_main(argv);
	log_init("bench_sensor", LOG_LEVEL_WARN, stderr);
	CPU_ZERO(&zero);
	CPU_SET(0, &zero);
	sched_setaffinity(0, sizeof(zero), &zero);
	if (argc != 5)
		fatalx("usage: bench_sensor LISTS_DIR FS_ITERATIONS EXEC_ITERATIONS REPEAT");
	fs_n = atol(argv[2]);
	exec_n = atol(argv[3]);
	repeat = atoi(argv[4]);
	if (repeat < 1 || repeat > 16)
		fatalx("REPEAT must be 1..16");
	p.excl = exclusion_set_new();
	if (exclusion_load_dir(p.excl, argv[1], err, sizeof(err)) < 0)
		fatalx("%s", err);
	p.procs = proc_table_new();
	p.builder = event_builder_new(p.procs, (uint32_t)getpid());
	p.log = fopen("/tmp/bench-sensor.log", "w");
	if (!p.log)
		fatal("/tmp/bench-sensor.log");
	setvbuf(p.log, NULL, _IOFBF, 1 << 20);
	snprintf(name, sizeof(name), "bench-loop-%d", (int)getpid());
	if (cgroup_create(name, loop_cg, sizeof(loop_cg)) < 0)
		fatal("cgroup");
	snprintf(name, sizeof(name), "bench-empty-%d", (int)getpid());
	if (cgroup_create(name, empty_cg, sizeof(empty_cg)) < 0)
		fatal("cgroup");

	/*
	 * The three configurations are interleaved (none, outside, inside, none,
	 * ...) so that drift of this shared machine hits all of them alike.
	 */
	for (int w = 0; w < 3; w++) {
		long n = w == W_FORKEXEC ? exec_n : fs_n * (w == W_GETPPID ? 20 : 1);
		uint64_t t_none[16], t_out[16], t_in[16], records = 0, lost = 0;
		struct sensor_stats st;

		for (int r = 0; r < repeat; r++) {
			t_none[r] = run_once(w, n, loop_cg, NULL);
			s = open_sensor(empty_cg, &p, 0);
			t_out[r] = run_once(w, n, loop_cg, s);
			sensor_close(s);
			s = open_sensor(loop_cg, &p, 0);
			t_in[r] = run_once(w, n, loop_cg, s);
			sensor_stats(s, &st);
			records += st.emitted_total;
			lost += st.drops_total + st.malformed;
			sensor_close(s);
		}
		printf("%s_iterations %ld\n", wname[w], n);
		printf("%s_none_ns %llu\n", wname[w], (unsigned long long)median(t_none, repeat));
		printf("%s_outside_ns %llu\n", wname[w], (unsigned long long)median(t_out, repeat));
		printf("%s_inside_ns %llu\n", wname[w], (unsigned long long)median(t_in, repeat));
		/* records of one run, for the sustained rate next to the median time */
		printf("%s_inside_records %llu\n%s_inside_lost %llu\n", wname[w],
		       (unsigned long long)(records / (uint64_t)repeat), wname[w],
		       (unsigned long long)lost);
		fflush(stdout);
	}

	/* capacity: fill a big ring buffer, then time the drain of the backlog */
	{
		struct sensor_stats st;
		uint64_t before = p.reported + p.excluded, t0, dt;
		int rfd;
		pid_t pid;

		s = open_sensor(loop_cg, &p, 512u << 20);
		pid = start(W_FSLOOP, fs_n, loop_cg, &rfd);
		finish(pid, rfd);
		t0 = util_now_mono_ns();
		drain_all(s);
		fflush(p.log);
		dt = util_now_mono_ns() - t0;
		sensor_stats(s, &st);
		printf("drain_records %llu\ndrain_events %llu\ndrain_ns %llu\ndrain_lost %llu\n",
		       (unsigned long long)st.emitted_total,
		       (unsigned long long)(p.reported + p.excluded - before),
		       (unsigned long long)dt, (unsigned long long)st.drops_total);
		sensor_close(s);
	}
	fclose(p.log);
	unlink("/tmp/bench-sensor.log");
	cgroup_remove(loop_cg);
	cgroup_remove(empty_cg);
	event_builder_free(p.builder);
	proc_table_free(p.procs);
	exclusion_set_free(p.excl);
	return 0;
}
