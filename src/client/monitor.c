/*
 * monitor.c - see monitor.h.
 *
 * Order matters: the cgroup exists and the sensor is attached before the
 * program is started, and the program is born inside the cgroup
 * (clone3 CLONE_INTO_CGROUP), so there is no window in which it acts
 * unobserved.  capture-client makes itself a child subreaper so daemons of
 * the program are reaped here, not by an init that may not reap.  With
 * --sandbox the program runs in a fresh guest (sandbox_visit.c) whose init
 * reaps inside the guest; the run ends when the program's cgroup is empty.
 */
#include "client/monitor.h"

#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include "client/classify.h"
#include "client/exclusion.h"
#include "client/proc_table.h"
#include "client/watch.h"
#include "common/log.h"
#include "common/util.h"
#include "guest/cgroup.h"
#include "sensor/sensor.h"

/* how often the ring buffer is drained and "has the whole tree exited?" asked */
#define MONITOR_POLL_MS SENSOR_DRAIN_INTERVAL_MS

struct monitor {
	const struct monitor_opts *opts;
	uv_loop_t loop;
	uv_poll_t sensor_poll;
	uv_timer_t tick;
	uv_timer_t deadline;
	uv_signal_t sigint, sigterm, sigchld;
	struct sensor *sensor;
	struct exclusion_set *excl;
	struct watch *watch; /* record -> event -> classify, counts */
	FILE *out;
	char cgroup[4200];
	pid_t child;
	int child_status; /* wait status of the program itself */
	bool child_reaped;
	bool stopped_by_signal; /* SIGINT/SIGTERM */
	bool timed_out;
	bool output_failed;
	uint64_t start_ns;
	uint64_t enabled_ops; /* ops the kernel produces; the others the lists exclude whole */
	struct sandbox_visit *visit; /* --sandbox: the guest */
	struct sandbox_visit_result vres;
	bool have_vres;
};

/* Writes a reported event (the watch's emit callback). */
static void write_event(const struct capture_event *ev, void *ctx)
{
	struct monitor *m = ctx;

	if (m->opts->json ? event_write_json(m->out, ev) < 0 : (event_write_csv(m->out, ev), 0))
		m->output_failed = true;
}

static void on_sensor_readable(uv_poll_t *h, int status, int events)
{
	(void)status;
	(void)events;
	watch_drain(((struct monitor *)h->data)->sensor);
}

static void reap(struct monitor *m)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if (m->visit)
			sandbox_visit_child_exited(m->visit, pid, status);
		if (pid == m->child) {
			m->child_status = status;
			m->child_reaped = true;
		}
	}
}

static void finish(struct monitor *m)
{
	uv_timer_stop(&m->tick);
	uv_timer_stop(&m->deadline);
	uv_poll_stop(&m->sensor_poll);
	uv_signal_stop(&m->sigint);
	uv_signal_stop(&m->sigterm);
	uv_signal_stop(&m->sigchld);
}

static void on_tick(uv_timer_t *t)
{
	struct monitor *m = t->data;
	int populated;

	watch_drain(m->sensor);
	reap(m);
	if (!m->opts->argv[0])
		return; /* no program: the run ends on a signal or the timeout */
	if (m->visit) {
		sandbox_visit_tick(m->visit);
		if (sandbox_visit_running(m->visit) == 0)
			finish(m);
		return;
	}
	populated = cgroup_populated(m->cgroup);
	if (populated == 0 && m->child_reaped)
		finish(m);
	else if (populated < 0) {
		log_warn("cannot read %s/cgroup.events", m->cgroup);
		finish(m);
	}
}

static void kill_tree(struct monitor *m)
{
	if (m->visit) {
		sandbox_visit_kill(m->visit);
		return;
	}
	if (cgroup_kill(m->cgroup) < 0)
		log_warn("cannot kill the processes of %s", m->cgroup);
}

static void on_deadline(uv_timer_t *t)
{
	struct monitor *m = t->data;

	log_info("timeout of %u s reached%s", m->opts->timeout_s,
		 m->opts->argv[0] ? ": killing the program's process tree" : "");
	m->timed_out = true;
	kill_tree(m);
	if (!m->opts->argv[0])
		finish(m);
}

static void on_stop_signal(uv_signal_t *h, int signum)
{
	struct monitor *m = h->data;

	log_info("%s: killing the program's process tree", strsignal(signum));
	m->stopped_by_signal = true;
	kill_tree(m);
	if (!m->opts->argv[0])
		finish(m);
}

static void on_sigchld(uv_signal_t *h, int signum)
{
	(void)signum;
	reap(h->data);
}

/* Starts ARGV in the cgroup; "program not found" is an error of this run. */
static int spawn(struct monitor *m, char **argv)
{
	int exec_errno;

	if (watch_spawn(m->cgroup, argv, &m->child, &exec_errno) == 0)
		return 0;
	if (exec_errno) {
		log_warnx("cannot run %s: %s", argv[0], strerror(exec_errno));
		m->child_reaped = true;
	} else {
		log_warn("cannot start %s in cgroup %s", argv[0], m->cgroup);
	}
	return -1;
}

static int setup(struct monitor *m)
{
	const struct monitor_opts *o = m->opts;
	char name[64], err[512] = "";
	struct sensor_opts so = {
	    .scope = o->system_scope ? SENSOR_SCOPE_SYSTEM : SENSOR_SCOPE_CGROUP,
	    .client_tgid = getpid(),
	};

	m->excl = exclusion_set_new();
	m->watch = m->excl ? watch_new(m->excl, (uint32_t)getpid(), write_event, m) : NULL;
	if (!m->watch) {
		log_warnx("out of memory");
		return -1;
	}
	if (o->excl_dir && exclusion_load_dir(m->excl, o->excl_dir, err, sizeof(err)) < 0) {
		log_warnx("exclusion lists rejected: %s", err);
		return -1;
	}
	m->out = o->log_path ? fopen(o->log_path, "we") : stdout;
	if (!m->out) {
		log_warn("cannot open event log %s", o->log_path);
		return -1;
	}
	setvbuf(m->out, NULL, _IOFBF, 1 << 20);
	if (o->sandbox) {
		if (sandbox_visit_create(&o->visit, &m->visit, err, sizeof(err)) < 0) {
			log_warnx("%s", err);
			return -1;
		}
		so.cgroup_path = sandbox_visit_scope(m->visit);
		watch_set_visit(m->watch, m->visit);
	} else {
		cgroup_cleanup_stale("standalone-"); /* of clients that were killed */
		snprintf(name, sizeof(name), "standalone-%d", (int)getpid());
		if (cgroup_create(name, m->cgroup, sizeof(m->cgroup)) < 0) {
			log_warn("cannot create a cgroup v2 for the program (is cgroup2 mounted?)");
			m->cgroup[0] = '\0';
			return -1;
		}
		so.cgroup_path = m->cgroup;
	}
	so.ringbuf_bytes = o->ringbuf_bytes;
	so.enabled_ops = m->enabled_ops = classify_enabled_ops(m->excl);
	if (sensor_open(&so, watch_on_record, m->watch, &m->sensor, err, sizeof(err)) < 0) {
		log_warnx("%s", err);
		return -1;
	}
	if (o->system_scope)
		log_info("%u running processes named from /proc",
			 proc_table_seed(watch_procs(m->watch)));
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
		log_warn("cannot become a child subreaper; orphans will be reaped by init");
	return 0;
}

static int start_loop(struct monitor *m)
{
	int rc = uv_loop_init(&m->loop);

	if (rc == 0)
		m->loop.data = m;
	if (rc == 0)
		rc = uv_poll_init(&m->loop, &m->sensor_poll, sensor_fd(m->sensor));
	if (rc == 0)
		rc = uv_poll_start(&m->sensor_poll, UV_READABLE, on_sensor_readable);
	m->sensor_poll.data = m;
	if (rc == 0)
		rc = uv_timer_init(&m->loop, &m->tick);
	if (rc == 0)
		rc = uv_timer_init(&m->loop, &m->deadline);
	m->tick.data = m->deadline.data = m;
	if (rc == 0)
		rc = uv_signal_init(&m->loop, &m->sigint);
	if (rc == 0)
		rc = uv_signal_init(&m->loop, &m->sigterm);
	if (rc == 0)
		rc = uv_signal_init(&m->loop, &m->sigchld);
	m->sigint.data = m->sigterm.data = m->sigchld.data = m;
	if (rc == 0)
		rc = uv_signal_start(&m->sigint, on_stop_signal, SIGINT);
	if (rc == 0)
		rc = uv_signal_start(&m->sigterm, on_stop_signal, SIGTERM);
	if (rc == 0)
		rc = uv_signal_start(&m->sigchld, on_sigchld, SIGCHLD);
	if (rc) {
		log_warnx("event loop: %s", uv_strerror(rc));
		return -1;
	}
	return 0;
}

static void print_visit_text(const struct sandbox_visit_result *r)
{
	fprintf(stderr,
		"  guest:    %s; upper layer: %zu created, %zu modified, %zu attributes, "
		"%zu deleted, %zu directories, %zu other\n",
		r->name, r->created, r->modified, r->attributes, r->deleted, r->dirs, r->other);
	fprintf(stderr, "  fanotify: %llu changes only it saw, %llu lost\n",
		(unsigned long long)r->fanotify_only, (unsigned long long)r->fanotify_lost);
	if (r->pcap_packets || r->pcap_dropped)
		fprintf(stderr, "  packets:  %llu captured, %llu dropped\n",
			(unsigned long long)r->pcap_packets, (unsigned long long)r->pcap_dropped);
	if (r->archive[0])
		fprintf(stderr, "  archive:  %s\n", r->archive);
	if (r->tmpfs_full)
		fprintf(stderr,
			"  warning:  the guest's tmpfs is full: some of its writes failed\n");
}

static json_t *visit_json(const struct sandbox_visit_result *r)
{
	json_t *g = json_object();

	if (!g)
		return NULL;
	json_object_set_new(g, "name", json_string(r->name));
	json_object_set_new(g, "created", json_integer((json_int_t)r->created));
	json_object_set_new(g, "modified", json_integer((json_int_t)r->modified));
	json_object_set_new(g, "attributes", json_integer((json_int_t)r->attributes));
	json_object_set_new(g, "deleted", json_integer((json_int_t)r->deleted));
	json_object_set_new(g, "directories", json_integer((json_int_t)r->dirs));
	json_object_set_new(g, "other", json_integer((json_int_t)r->other));
	json_object_set_new(g, "fanotify_only", json_integer((json_int_t)r->fanotify_only));
	json_object_set_new(g, "fanotify_lost", json_integer((json_int_t)r->fanotify_lost));
	json_object_set_new(g, "pcap_packets", json_integer((json_int_t)r->pcap_packets));
	json_object_set_new(g, "pcap_dropped", json_integer((json_int_t)r->pcap_dropped));
	json_object_set_new(g, "tmpfs_full", json_boolean(r->tmpfs_full));
	if (r->archive[0])
		json_object_set_new(g, "archive", json_string(r->archive));
	return g;
}

static void print_summary_text(struct monitor *m, const struct sensor_stats *st, uint64_t lost,
			       enum verdict v)
{
	const struct watch_counts *c = watch_counts(m->watch);
	uint64_t total = 0, excl = 0;
	double secs = (double)(util_now_mono_ns() - m->start_ns) / 1e9;

	for (int t = 0; t < EVENT_TYPE_COUNT; t++) {
		total += c->reported[t];
		excl += c->excluded[t];
	}
	fprintf(stderr, "capture-client: summary\n");
	fprintf(stderr, "  scope:    %s\n",
		m->opts->system_scope ? "the whole system but capture-client"
		: m->visit            ? "a sandbox guest (its program's cgroup)"
				      : m->cgroup);
	if (m->visit)
		fprintf(stderr, "  program:  %s exited with code %d after %.3f s%s%s\n",
			m->opts->argv[0], sandbox_visit_program_code(m->visit), secs,
			m->timed_out ? " (timeout)" : "",
			m->stopped_by_signal ? " (interrupted)" : "");
	else if (!m->opts->argv[0])
		fprintf(stderr, "  program:  none; watched for %.3f s%s\n", secs,
			m->timed_out ? " (timeout)" : " (interrupted)");
	else if (WIFEXITED(m->child_status))
		fprintf(stderr, "  program:  %s exited with status %d after %.3f s%s\n",
			m->opts->argv[0], WEXITSTATUS(m->child_status), secs,
			m->timed_out ? " (timeout)" : "");
	else
		fprintf(stderr, "  program:  %s killed by signal %d after %.3f s%s%s\n",
			m->opts->argv[0], WTERMSIG(m->child_status), secs,
			m->timed_out ? " (timeout)" : "",
			m->stopped_by_signal ? " (interrupted)" : "");
	fprintf(stderr,
		"  reported: %llu (process %llu, file %llu, connection %llu, system %llu)\n",
		(unsigned long long)total, (unsigned long long)c->reported[EVENT_PROCESS],
		(unsigned long long)c->reported[EVENT_FILE],
		(unsigned long long)c->reported[EVENT_CONNECTION],
		(unsigned long long)c->reported[EVENT_SYSTEM]);
	fprintf(stderr, "  excluded: %llu", (unsigned long long)excl);
	for (unsigned op = 1, first = 1; op < SENSOR_OP_MAX; op++) {
		if (m->enabled_ops & (1ull << op))
			continue;
		fprintf(stderr, "%s%s", first ? " (not produced by the kernel at all: " : ", ",
			sensor_op_name(op));
		first = 0;
	}
	fprintf(stderr, "%s\n", m->enabled_ops == ~0ull ? "" : ")");
	fprintf(stderr, "  sensor:   %llu records, lost %llu\n",
		(unsigned long long)st->emitted_total, (unsigned long long)lost);
	if (m->have_vres)
		print_visit_text(&m->vres);
	fprintf(stderr, "  verdict:  %s\n", verdict_name(v));
}

static void print_summary_json(struct monitor *m, const struct sensor_stats *st, uint64_t lost,
			       enum verdict v)
{
	json_t *o = json_object(), *rep = json_object(), *exc = json_object(), *ops = json_object();
	const struct watch_counts *c = watch_counts(m->watch);

	if (!o || !rep || !exc || !ops)
		goto out;
	for (int t = 0; t < EVENT_TYPE_COUNT; t++) {
		json_object_set_new(rep, event_type_name(t),
				    json_integer((json_int_t)c->reported[t]));
		json_object_set_new(exc, event_type_name(t),
				    json_integer((json_int_t)c->excluded[t]));
	}
	for (unsigned op = 1; op < SENSOR_OP_MAX; op++)
		json_object_set_new(ops, sensor_op_name(op),
				    json_integer((json_int_t)st->emitted[op]));
	json_object_set_new(o, "summary", json_true());
	json_object_set_new(o, "verdict", json_string(verdict_name(v)));
	json_object_set_new(o, "reported", rep);
	json_object_set_new(o, "excluded", exc);
	json_object_set_new(o, "sensor_records", ops);
	json_object_set_new(o, "records", json_integer((json_int_t)st->emitted_total));
	json_object_set_new(o, "lost", json_integer((json_int_t)lost));
	json_object_set_new(o, "timed_out", json_boolean(m->timed_out));
	json_object_set_new(o, "interrupted", json_boolean(m->stopped_by_signal));
	json_object_set_new(o, "scope",
			    json_string(m->opts->system_scope ? "system"
					: m->visit            ? "sandbox"
							      : "cgroup"));
	if (m->have_vres)
		json_object_set_new(o, "guest", visit_json(&m->vres));
	if (m->visit)
		json_object_set_new(o, "exit_status",
				    json_integer(sandbox_visit_program_code(m->visit)));
	else if (!m->opts->argv[0])
		;
	else if (WIFEXITED(m->child_status))
		json_object_set_new(o, "exit_status", json_integer(WEXITSTATUS(m->child_status)));
	else
		json_object_set_new(o, "exit_signal", json_integer(WTERMSIG(m->child_status)));
	rep = exc = ops = NULL;
	json_dumpf(o, stderr, JSON_COMPACT);
	fputc('\n', stderr);
out:
	json_decref(o);
	json_decref(rep);
	json_decref(exc);
	json_decref(ops);
}

static int conclude(struct monitor *m)
{
	struct sensor_stats st;
	uint64_t lost;
	enum verdict v;

	watch_drain(m->sensor);
	if (m->visit) {
		char err[1024];

		if (sandbox_visit_finish(m->visit, watch_procs(m->watch), watch_handle, m->watch,
					 &m->vres, err, sizeof(err)) < 0) {
			log_warnx("collecting the guest's changes: %s", err);
			return MONITOR_EXIT_ERROR;
		}
		m->have_vres = true;
	}
	sensor_stats(m->sensor, &st);
	lost = watch_lost(m->watch, &st, m->have_vres ? m->vres.fanotify_lost : 0);
	v = classify_verdict(watch_reported_total(m->watch), lost);
	if (fflush(m->out) != 0 || m->output_failed) {
		log_warn("writing the event log failed");
		return MONITOR_EXIT_ERROR;
	}
	if (lost)
		log_warnx("%llu sensor records were lost (ring buffer full): the run is %s",
			  (unsigned long long)lost, verdict_name(v));
	if (m->opts->json)
		print_summary_json(m, &st, lost, v);
	else
		print_summary_text(m, &st, lost, v);
	if (m->opts->rule_stats)
		exclusion_print_stats(m->excl, stderr);
	return (int)v;
}

static void close_handle(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

static void teardown(struct monitor *m)
{
	if (m->loop.data == m) {
		uv_walk(&m->loop, close_handle, NULL);
		uv_run(&m->loop, UV_RUN_DEFAULT);
		uv_loop_close(&m->loop);
	}
	sensor_close(m->sensor);
	if (m->visit && sandbox_visit_revert(m->visit) < 0)
		log_warnx("the guest left residue (see above)");
	m->visit = NULL;
	if (m->cgroup[0]) {
		if (cgroup_populated(m->cgroup) > 0)
			cgroup_kill(m->cgroup);
		reap(m);
		if (cgroup_remove(m->cgroup) < 0)
			log_warn("cannot remove cgroup %s", m->cgroup);
	}
	if (m->out && m->out != stdout)
		fclose(m->out);
	else if (m->out)
		fflush(m->out);
	watch_free(m->watch);
	exclusion_set_free(m->excl);
}

int monitor_run(const struct monitor_opts *opts)
{
	struct monitor m = {.opts = opts, .child = -1};
	int rc = MONITOR_EXIT_ERROR;

	if (setup(&m) < 0 || start_loop(&m) < 0)
		goto out;
	m.start_ns = util_now_mono_ns();
	m.child_reaped = !opts->argv[0];
	if (m.visit) {
		char err[1024];

		if (sandbox_visit_start(m.visit, opts->argv, watch_builder(m.watch), err,
					sizeof(err)) < 0) {
			log_warnx("%s", err);
			goto out;
		}
	} else if (opts->argv[0] && spawn(&m, opts->argv) < 0) {
		goto out;
	}
	uv_timer_start(&m.tick, on_tick, MONITOR_POLL_MS, MONITOR_POLL_MS);
	if (opts->timeout_s)
		uv_timer_start(&m.deadline, on_deadline, (uint64_t)opts->timeout_s * 1000, 0);
	uv_run(&m.loop, UV_RUN_DEFAULT);
	rc = conclude(&m);
out:
	teardown(&m);
	return rc;
}
