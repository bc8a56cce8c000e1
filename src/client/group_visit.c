/*
 * group_visit.c - see group_visit.h.
 *
 * A guest runs one program (sandbox_visit_start), so the URLs of a group
 * run under a guest-side sequencer: SEQ_SCRIPT, a fixed /bin/sh script that
 * gets each URL's argv as positional parameters ("count, words..." per
 * URL; the words are only ever expanded as "${N}", never parsed), starts it
 * in the background, waits for it and stops itself (SIGSTOP) before the
 * next one.  The client keeps the time: it learns each URL's process from
 * the sensor (the sequencer's fork, then its exec), kills what is left of a
 * URL's process tree (tracked from fork records) at the end of its time and
 * then continues the sequencer (SIGCONT).  With one URL the sequencer runs
 * it and waits, nothing more.
 *
 * Plumbing is not a change: the sequencer, the wrapper shells of curl-sh
 * and download-first programs, and their forks that have not exec'd
 * ("drivers") act only to start tools.  Their own records are dropped, and
 * so are the process created/terminated events they are the actor of.
 * What the started tools and scripts do is reported.
 */
#include "client/group_visit.h"

#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "client/apps/driver.h"
#include "client/classify.h"
#include "client/event_builder.h"
#include "client/watch.h"
#include "common/log.h"
#include "common/util.h"
#include "guest/cgroup.h"
#include "guest/sandbox.h"
#include "sensor/sensor.h"

#define SEQ_SH "/bin/sh"
#define SEQ_SCRIPT                                                                                 \
	"while [ $# -gt 0 ]; do c=$1; shift; cmd=; j=1; while [ $j -le $c ]; do "                  \
	"cmd=\"$cmd \\\"\\${$j}\\\"\"; j=$((j + 1)); done; eval \"$cmd &\"; wait $!; shift $c; "   \
	"if [ $# -gt 0 ]; then kill -s STOP $$; fi; done"
#define TICK_MS      SENSOR_DRAIN_INTERVAL_MS
#define KILL_WAIT_MS 2000 /* how long a killed tree may take to be seen gone */
#define STOP_WAIT_MS 5000 /* how long the sequencer may take to stop itself after that */

enum url_state {
	URL_SKIPPED = 0, /* refused before the visit (bad URL, unknown or missing program) */
	URL_WAITING,     /* to be run */
	URL_RUNNING,     /* the sequencer was told to run it; its time runs */
	URL_ENDING,      /* its time is over: the rest of its tree is being killed */
	URL_DONE,
};

struct gv_url {
	struct app_argv argv; /* empty if skipped */
	enum url_state state;
	uint32_t pid;   /* the sequencer's fork that runs it */
	unsigned execs; /* execs of pid seen: 1 = the driver, 2 = a download-first app */
	bool exited;
	int exit_status; /* -1 if killed by a signal */
	bool grace;      /* waited past the visit time for a self-bounded driver */
	uint64_t deadline_ms;
	uint64_t kill_until_ms;
	struct group_visit_url res;
};

struct pidset {
	uint32_t *v;
	size_t n, cap;
	bool failed; /* an allocation failed: membership may be incomplete */
};

enum gv_phase {
	GV_SETUP = 0,
	GV_RUNNING,
	GV_FINISHING, /* guest killed; waiting for its processes to be gone */
	GV_DONE,      /* on_done delivered (or pending in the defer timer) */
};

struct group_visit {
	uv_loop_t *loop;
	struct group_visit_opts opts;
	struct group_visit_callbacks cb;
	char *identifier;
	char *program;
	unsigned visit_time_s;
	struct gv_url *urls;
	size_t n;
	size_t cur; /* the URL the sequencer runs */
	enum gv_phase phase;
	uint64_t finish_until_ms;
	uint32_t seq_pid;
	bool seq_exited;
	struct pidset drivers;
	struct pidset tree; /* the current URL's processes */
	/*
	 * Exits we caused are not changes: a process this client SIGKILLed at
	 * the end of a URL's time (KILLED) or after the whole guest was killed
	 * (GUEST_KILLED_NS, CLOCK_BOOTTIME like the records).
	 */
	struct pidset killed;
	uint64_t guest_killed_ns;
	struct watch *watch;
	struct sensor *sensor;
	struct sandbox_visit *sv;
	char cgroup[4200]; /* without a sandbox: the guest's cgroup, "" if none */
	pid_t child;       /* without a sandbox: the sequencer as spawned */
	uv_timer_t tick, defer;
	uv_poll_t poll;
	uv_signal_t sigchld;
	bool poll_init;
	int open_handles;
	bool freeing;
	struct group_visit_url *results;
	struct group_visit_result res;
	/* a browser driver's visit (driver.h), NULL for sequenced programs */
	struct driver *drv;
	size_t *drv_urls; /* the driver's URL i is urls[drv_urls[i]] */
	size_t n_drv;
	uint64_t drv_deadline_ms; /* the whole visit, in case the driver never ends */
	char downloads_dir[PATH_MAX];
};

/* ---- pid sets ---- */

static bool pidset_has(const struct pidset *s, uint32_t pid)
{
	for (size_t i = 0; i < s->n; i++) {
		if (s->v[i] == pid)
			return true;
	}
	return false;
}

static void pidset_add(struct pidset *s, uint32_t pid)
{
	if (pidset_has(s, pid))
		return;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		uint32_t *v = reallocarray(s->v, cap, sizeof(*v));

		if (!v) {
			s->failed = true;
			return;
		}
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = pid;
}

static void pidset_remove(struct pidset *s, uint32_t pid)
{
	for (size_t i = 0; i < s->n; i++) {
		if (s->v[i] == pid) {
			s->v[i] = s->v[--s->n];
			return;
		}
	}
}

/* ---- summary ---- */

void group_visit_summarize(const struct group_visit_url *urls, size_t n, uint64_t reported,
			   uint64_t lost, uint32_t *major, uint32_t *minor)
{
	*major = 0;
	*minor = 0;
	if (reported == 0 && lost > 0) {
		*major = PROTO_ERR_EVENTS_LOST;
		*minor = lost > UINT32_MAX ? UINT32_MAX : (uint32_t)lost;
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if (!urls[i].major)
			continue;
		if (!*major) {
			*major = urls[i].major;
			*minor = urls[i].minor;
		} else if (urls[i].major != *major) {
			*major = PROTO_ERR_VISITATION_MULTIPLE_ERRORS;
			*minor = 0;
			return;
		}
	}
}

/* ---- URLs ---- */

static void url_fail(struct gv_url *u, uint32_t major, uint32_t minor)
{
	if (u->res.major)
		return; /* the first error of a URL is its error */
	u->res.major = major;
	u->res.minor = minor;
}

/* True if PATH is an executable regular file in the guest's root. */
/* The guest's lower root on this host: "" for the host's own root. */
static const char *guest_root(const struct group_visit *gv)
{
	return gv->opts.sandbox && gv->opts.visit.root ? gv->opts.visit.root : "";
}

static bool guest_has_exe(const struct group_visit *gv, const char *path)
{
	const char *root = guest_root(gv);
	char full[PATH_MAX * 2];
	struct stat st;

	snprintf(full, sizeof(full), "%s%s", root, path);
	return stat(full, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111);
}

/*
 * PATH with its symlinks followed inside the guest's root (the process
 * path events carry), into OUT; PATH itself if that fails (e.g. an
 * absolute link in another --root).
 */
static void guest_real_exe(const struct group_visit *gv, const char *path, char *out, size_t len)
{
	const char *root = guest_root(gv);
	char full[PATH_MAX * 2], real[PATH_MAX], rroot[PATH_MAX] = "";
	size_t n;

	snprintf(out, len, "%s", path);
	snprintf(full, sizeof(full), "%s%s", root, path);
	if (!realpath(full, real) || (root[0] && !realpath(root, rroot)))
		return;
	n = strcmp(rroot, "/") == 0 ? 0 : strlen(rroot);
	if (strncmp(real, rroot, n) == 0 && real[n] == '/')
		snprintf(out, len, "%s", real + n);
}

/* URL's own connection by EXE is the visit, not a change (watch_expect_connection). */
static void expect_origin(struct group_visit *gv, size_t i, const char *url, const char *exe)
{
	char host[INET6_ADDRSTRLEN], real[PATH_MAX];
	uint16_t port;

	if (apps_url_origin(url, host, sizeof(host), &port) < 0)
		return; /* not http(s)/ftp: whatever it connects to is reported */
	guest_real_exe(gv, exe, real, sizeof(real));
	if (watch_expect_connection(gv->watch, real, host, port) < 0)
		log_warnx("visit %s: URL %zu: its own connection will be reported: %s",
			  gv->identifier, i + 1, strerror(errno));
}

/* Builds URL I's argv, or records why it cannot be visited. */
static void url_prepare(struct group_visit *gv, size_t i, const char *url)
{
	struct gv_url *u = &gv->urls[i];
	char err[512];

	u->state = URL_SKIPPED;
	if (apps_check_url(url, err, sizeof(err)) < 0) {
		log_warnx("visit %s: URL %zu refused: %s", gv->identifier, i + 1, err);
		url_fail(u, PROTO_ERR_INVALID_URL, 0);
		return;
	}
	if (driver_handles(gv->program)) {
		u->state = URL_WAITING; /* the driver builds the browser's command line */
		return;
	}
	if (apps_build_argv(gv->opts.apps, gv->program, url, gv->visit_time_s, &u->argv, err,
			    sizeof(err)) < 0) {
		log_warnx("visit %s: %s", gv->identifier, err);
		url_fail(u, PROTO_ERR_PROCESS_ERROR,
			 apps_is_builtin(gv->program) || apps_find(gv->opts.apps, gv->program)
			     ? 0
			     : PROTO_ERR_PE_PROCESS_PATH_NOT_FOUND);
		return;
	}
	if (!guest_has_exe(gv, u->argv.argv[0]) || !guest_has_exe(gv, u->argv.exe)) {
		log_warnx("visit %s: %s is not in the guest", gv->identifier,
			  guest_has_exe(gv, u->argv.argv[0]) ? u->argv.exe : u->argv.argv[0]);
		url_fail(u, PROTO_ERR_PROCESS_ERROR, PROTO_ERR_PE_PROCESS_PATH_NOT_FOUND);
		apps_argv_free(&u->argv);
		return;
	}
	expect_origin(gv, i, url, u->argv.exe);
	u->state = URL_WAITING;
}

static size_t next_waiting(const struct group_visit *gv, size_t from)
{
	while (from < gv->n && gv->urls[from].state != URL_WAITING)
		from++;
	return from;
}

/* The sequencer's argv: SEQ_SH -c SEQ_SCRIPT name, then "count words..." per URL. */
static char **seq_argv(const struct group_visit *gv, char counts[][12])
{
	size_t words = 4;
	char **argv;

	for (size_t i = 0; i < gv->n; i++)
		if (gv->urls[i].state == URL_WAITING)
			words += 1 + gv->urls[i].argv.argc;
	argv = calloc(words + 1, sizeof(*argv));
	if (!argv)
		return NULL;
	words = 0;
	argv[words++] = SEQ_SH;
	argv[words++] = "-c";
	argv[words++] = SEQ_SCRIPT;
	argv[words++] = "capture-seq";
	for (size_t i = 0; i < gv->n; i++) {
		const struct app_argv *a = &gv->urls[i].argv;

		if (gv->urls[i].state != URL_WAITING)
			continue;
		snprintf(counts[i], sizeof(counts[i]), "%zu", a->argc);
		argv[words++] = counts[i];
		for (size_t j = 0; j < a->argc; j++)
			argv[words++] = a->argv[j];
	}
	return argv;
}

/* ---- events ---- */

static void emit_event(const struct capture_event *ev, void *ctx)
{
	struct group_visit *gv = ctx;

	if (gv->cb.on_event)
		gv->cb.on_event(gv, ev, gv->cb.arg);
}

static void note_fork(struct group_visit *gv, uint32_t parent, uint32_t child)
{
	struct gv_url *u = gv->cur < gv->n ? &gv->urls[gv->cur] : NULL;

	if (pidset_has(&gv->drivers, parent))
		pidset_add(&gv->drivers, child);
	if (parent == gv->seq_pid && u && u->state == URL_RUNNING && !u->pid) {
		u->pid = child; /* the sequencer forks once per URL */
		pidset_add(&gv->tree, child);
	} else if (pidset_has(&gv->tree, parent)) {
		pidset_add(&gv->tree, child);
	}
}

static void note_exec(struct group_visit *gv, uint32_t pid, int built)
{
	struct gv_url *u = gv->cur < gv->n ? &gv->urls[gv->cur] : NULL;

	pidset_remove(&gv->drivers, pid); /* it runs a program of its own now */
	if (!gv->seq_pid && built == 0) {
		gv->seq_pid = pid; /* the only program its harness starts */
		if (!gv->drv || gv->drv->launch.launcher)
			pidset_add(&gv->drivers, pid); /* a browser itself is what we watch */
		return;
	}
	if (!u || pid != u->pid)
		return;
	if (u->execs++ == 0) {
		u->res.pid = pid;
		u->res.start_ns = util_now_real_ns();
		if (u->argv.wrapper)
			pidset_add(&gv->drivers, pid);
	}
}

static void note_exit(struct group_visit *gv, uint32_t pid, const struct capture_event *ev)
{
	struct gv_url *u = gv->cur < gv->n ? &gv->urls[gv->cur] : NULL;

	pidset_remove(&gv->drivers, pid);
	pidset_remove(&gv->tree, pid);
	if (pid == gv->seq_pid)
		gv->seq_exited = true;
	if (u && pid == u->pid && !u->exited) {
		u->exited = true;
		u->exit_status = ev->exit_status;
	}
}

static bool killed_by_us(const struct group_visit *gv, const struct sensor_event_hdr *h);

/* Sensor callback: driver plumbing filtered out, the rest classified and emitted. */
static int on_record(const struct sensor_record *rec, void *ctx)
{
	struct group_visit *gv = ctx;
	const struct sensor_event_hdr *h = rec->hdr;
	bool process =
	    h->op == SENSOR_OP_FORK || h->op == SENSOR_OP_EXEC || h->op == SENSOR_OP_EXIT;
	struct capture_event ev;
	int rc;

	/* plumbing's records are built too: the paths it wrote are noted, so the
	 * end-of-visit fanotify merge does not report them as someone else's */
	rc = watch_build(gv->watch, rec, &ev);
	if (rc < 0 || (!process && pidset_has(&gv->drivers, h->pid)))
		return 0;
	if (h->op == SENSOR_OP_FORK)
		note_fork(gv, h->pid, (uint32_t)h->arg0);
	else if (h->op == SENSOR_OP_EXEC)
		note_exec(gv, h->pid, rc);
	else if (h->op == SENSOR_OP_EXIT && rc >= 0)
		note_exit(gv, h->pid, &ev);
	if (rc > 0 && !(process && pidset_has(&gv->drivers, ev.pid)) &&
	    (ev.pid != gv->seq_pid || (gv->drv && !gv->drv->launch.launcher)) &&
	    !killed_by_us(gv, h))
		watch_handle(&ev, gv->watch);
	return 0;
}

/* ---- the guest ---- */

static void kill_guest(struct group_visit *gv)
{
	if (!gv->guest_killed_ns)
		gv->guest_killed_ns = util_now_boot_ns();
	if (gv->sv)
		sandbox_visit_kill(gv->sv);
	else if (gv->cgroup[0] && cgroup_kill(gv->cgroup) < 0)
		log_warn("cannot kill the processes of %s", gv->cgroup);
}

/* 1 while anything of the guest runs, 0 when all is gone, -1 on error. */
static int guest_running(const struct group_visit *gv)
{
	if (gv->sv)
		return sandbox_visit_running(gv->sv);
	return gv->cgroup[0] ? cgroup_populated(gv->cgroup) : 0;
}

static void reap(struct group_visit *gv)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if (gv->sv)
			sandbox_visit_child_exited(gv->sv, pid, status);
	}
}

/* Closes the sensor and reverts the guest (kills what is left first). */
static void teardown_guest(struct group_visit *gv)
{
	if (gv->poll_init && uv_is_active((uv_handle_t *)&gv->poll))
		uv_poll_stop(&gv->poll);
	sensor_close(gv->sensor);
	gv->sensor = NULL;
	if (gv->sv) {
		sandbox_visit_kill(gv->sv);
		if (sandbox_visit_revert(gv->sv) < 0)
			log_warnx("visit %s: the guest left residue (see above)", gv->identifier);
		gv->sv = NULL;
	}
	if (gv->cgroup[0]) {
		if (cgroup_populated(gv->cgroup) > 0)
			cgroup_kill(gv->cgroup);
		for (int i = 0; i < 200 && cgroup_populated(gv->cgroup) > 0; i++)
			usleep(5000);
		reap(gv);
		if (cgroup_remove(gv->cgroup) < 0)
			log_warn("cannot remove cgroup %s", gv->cgroup);
		gv->cgroup[0] = '\0';
	}
	reap(gv);
}

/* ---- the end ---- */

static void deliver(uv_timer_t *t)
{
	struct group_visit *gv = t->data;

	if (gv->cb.on_done)
		gv->cb.on_done(gv, &gv->res, gv->cb.arg);
}

/* Fills the result, reverts the guest and schedules on_done. */
static void complete(struct group_visit *gv, uint64_t reported, uint64_t lost)
{
	for (size_t i = 0; i < gv->n; i++)
		gv->results[i] = gv->urls[i].res;
	gv->res.urls = gv->results;
	gv->res.n_urls = gv->n;
	gv->res.reported = reported;
	gv->res.lost = lost;
	gv->res.malicious = reported > 0;
	group_visit_summarize(gv->results, gv->n, reported, lost, &gv->res.major, &gv->res.minor);
	teardown_guest(gv);
	uv_timer_stop(&gv->tick);
	gv->phase = GV_DONE;
	uv_timer_start(&gv->defer, deliver, 0, 0);
}

/* The guest could not be set up: every URL not yet refused gets CODE. */
static void fail_setup(struct group_visit *gv, uint32_t code, const char *why)
{
	log_warnx("visit %s: %s", gv->identifier, why);
	for (size_t i = 0; i < gv->n; i++)
		url_fail(&gv->urls[i], code, 0);
	complete(gv, 0, 0);
}

static void conclude(struct group_visit *gv)
{
	struct sandbox_visit_result vres;
	struct sensor_stats st;
	char err[1024];
	uint64_t lost;

	watch_drain(gv->sensor);
	memset(&vres, 0, sizeof(vres));
	if (gv->sv && sandbox_visit_finish(gv->sv, watch_procs(gv->watch), watch_handle, gv->watch,
					   &vres, err, sizeof(err)) < 0)
		log_warnx("visit %s: collecting the guest's changes: %s", gv->identifier, err);
	snprintf(gv->res.archive, sizeof(gv->res.archive), "%s", vres.archive);
	gv->res.memory_peak = vres.memory_peak;
	if (vres.memory_peak)
		log_info("visit %s: guest memory peak %.1f MiB", gv->identifier,
			 (double)vres.memory_peak / (1 << 20));
	memset(&st, 0, sizeof(st));
	if (gv->sensor)
		sensor_stats(gv->sensor, &st);
	lost =
	    watch_lost(gv->watch, &st, vres.fanotify_lost) + gv->drivers.failed + gv->tree.failed;
	if (vres.tmpfs_full)
		log_warnx("visit %s: the guest's tmpfs is full: some of its writes failed",
			  gv->identifier);
	complete(gv, watch_reported_total(gv->watch), lost);
}

static void finish_visit(struct group_visit *gv)
{
	for (size_t i = gv->cur; i < gv->n; i++) {
		if (gv->urls[i].state == URL_WAITING)
			url_fail(&gv->urls[i], PROTO_ERR_PROCESS_ERROR, 0); /* never run */
	}
	kill_guest(gv);
	gv->phase = GV_FINISHING;
	gv->finish_until_ms = uv_now(gv->loop) + KILL_WAIT_MS;
}

/* ---- the URLs' time ---- */

static void kill_tree(struct group_visit *gv)
{
	for (size_t i = 0; i < gv->tree.n; i++) {
		pidset_add(&gv->killed, gv->tree.v[i]);
		kill((pid_t)gv->tree.v[i], SIGKILL);
	}
}

/* True if REC is the exit of a process this client killed. */
static bool killed_by_us(const struct group_visit *gv, const struct sensor_event_hdr *h)
{
	if (h->op != SENSOR_OP_EXIT || (h->arg0 & 0x7f) != SIGKILL)
		return false;
	return pidset_has(&gv->killed, h->pid) ||
	       (gv->guest_killed_ns && h->ts_ns >= gv->guest_killed_ns);
}

/* URL U's time is over: its error from how it ended, then its leftovers are killed. */
static void url_end(struct group_visit *gv, struct gv_url *u, uint64_t now)
{
	uint32_t major, minor;

	if (u->exited && u->execs) {
		/* after a download-first exec the status is the application's */
		apps_exit_error(u->execs > 1 ? APPS_FETCH_NONE : u->argv.fetcher, u->exit_status,
				&major, &minor);
		if (major)
			url_fail(u, major, minor);
	}
	u->state = URL_ENDING;
	u->kill_until_ms = now + KILL_WAIT_MS;
	if (next_waiting(gv, gv->cur + 1) >= gv->n) {
		finish_visit(gv); /* the last one: the whole guest goes */
		return;
	}
	kill_tree(gv);
}

/* The sequencer has stopped itself: after its kill -s STOP, waiting for SIGCONT. */
static bool seq_stopped(const struct group_visit *gv)
{
	char path[64], buf[256], *p;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%u/stat", gv->seq_pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')'); /* the name may hold spaces and parentheses */
	return p && p[1] == ' ' && p[2] == 'T';
}

static void url_next(struct group_visit *gv, uint64_t now)
{
	struct gv_url *u = &gv->urls[gv->cur];
	size_t next = next_waiting(gv, gv->cur + 1);

	if (gv->tree.n && now < u->kill_until_ms) {
		kill_tree(gv); /* a fork seen late */
		return;
	}
	if (!gv->seq_exited && !seq_stopped(gv) && now < u->kill_until_ms + STOP_WAIT_MS)
		return;
	u->state = URL_DONE;
	gv->cur = next;
	if (gv->seq_exited || !seq_stopped(gv)) {
		log_warnx("visit %s: the URL sequencer is gone", gv->identifier);
		finish_visit(gv);
		return;
	}
	gv->tree.n = 0;
	gv->urls[next].state = URL_RUNNING;
	gv->urls[next].deadline_ms = now + (uint64_t)gv->visit_time_s * 1000;
	kill((pid_t)gv->seq_pid, SIGCONT);
}

static void url_step(struct group_visit *gv, struct gv_url *u, uint64_t now)
{
	if (u->execs && u->pid && gv->tree.n == 0) {
		url_end(gv, u, now); /* nothing of it is left */
	} else if (u->pid && !u->execs && u->exited) {
		url_fail(u, PROTO_ERR_PROCESS_ERROR, PROTO_ERR_PE_PROCESS_PATH_NOT_FOUND);
		url_end(gv, u, now); /* the sequencer's fork could not exec it */
	} else if (now >= u->deadline_ms) {
		if (u->argv.waits_visit_time && u->execs && !u->exited && !u->grace) {
			u->grace = true;
			u->deadline_ms += GROUP_VISIT_GRACE_MS;
			return;
		}
		if (!u->execs)
			url_fail(u, PROTO_ERR_PROCESS_ERROR, 0);
		else if (u->grace && !u->exited)
			url_fail(u, PROTO_ERR_TIMEOUT_ERROR, 0);
		url_end(gv, u, now);
	} else if (gv->seq_exited && !u->pid) {
		url_fail(u, PROTO_ERR_PROCESS_ERROR, 0);
		finish_visit(gv);
	}
}

static void browser_tick(struct group_visit *gv, uint64_t now, int running);

static void on_tick(uv_timer_t *t)
{
	struct group_visit *gv = t->data;
	uint64_t now = uv_now(gv->loop);
	int running;

	watch_drain(gv->sensor);
	reap(gv);
	if (gv->sv)
		sandbox_visit_tick(gv->sv);
	running = guest_running(gv);
	if (gv->phase == GV_FINISHING) {
		if (running <= 0 || now >= gv->finish_until_ms)
			conclude(gv);
		return;
	}
	if (gv->drv) {
		browser_tick(gv, now, running);
		return;
	}
	if (running <= 0 && gv->seq_pid) {
		if (gv->urls[gv->cur].state == URL_RUNNING)
			url_end(gv, &gv->urls[gv->cur], now);
		if (gv->phase != GV_FINISHING)
			finish_visit(gv); /* everything exited on its own */
		return;
	}
	if (gv->urls[gv->cur].state == URL_RUNNING)
		url_step(gv, &gv->urls[gv->cur], now);
	else if (gv->urls[gv->cur].state == URL_ENDING)
		url_next(gv, now);
}

/* ---- setup ---- */

static void on_readable(uv_poll_t *h, int status, int events)
{
	struct group_visit *gv = h->data;

	(void)status;
	(void)events;
	watch_drain(gv->sensor);
}

static void on_sigchld(uv_signal_t *h, int signum)
{
	(void)signum;
	reap(h->data);
}

static int open_guest(struct group_visit *gv, char *err, size_t errlen)
{
	static unsigned counter;
	char name[64];

	if (gv->opts.sandbox) {
		if (sandbox_visit_create(&gv->opts.visit, &gv->sv, err, errlen) < 0)
			return -1;
		watch_set_visit(gv->watch, gv->sv);
		return 0;
	}
	cgroup_cleanup_stale("remote-"); /* of clients that were killed */
	snprintf(name, sizeof(name), "remote-%d-%u", (int)getpid(), counter++);
	if (cgroup_create(name, gv->cgroup, sizeof(gv->cgroup)) < 0) {
		snprintf(err, errlen, "cannot create cgroup %s: %s", name, strerror(errno));
		gv->cgroup[0] = '\0';
		return -1;
	}
	return 0;
}

static int open_sensor(struct group_visit *gv, char *err, size_t errlen)
{
	struct sensor_opts so = {
	    .scope = SENSOR_SCOPE_CGROUP,
	    .cgroup_path = gv->sv ? sandbox_visit_scope(gv->sv) : gv->cgroup,
	    .client_tgid = getpid(),
	    .ringbuf_bytes = gv->opts.ringbuf_bytes,
	    .enabled_ops = classify_enabled_ops(gv->opts.excl),
	};
	int rc;

	if (gv->opts.no_sensor) {
		if (gv->drv)
			return 0; /* bench/visit: the page load without the sensor */
		snprintf(err, errlen, "visits without the sensor are for browser drivers only");
		return -1;
	}
	if (sensor_open(&so, on_record, gv, &gv->sensor, err, errlen) < 0)
		return -1;
	rc = uv_poll_init(gv->loop, &gv->poll, sensor_fd(gv->sensor));
	if (rc == 0) {
		gv->poll_init = true;
		gv->open_handles++;
		gv->poll.data = gv;
		rc = uv_poll_start(&gv->poll, UV_READABLE, on_readable);
	}
	if (rc) {
		snprintf(err, errlen, "polling the sensor: %s", uv_strerror(rc));
		return -1;
	}
	return 0;
}

static int run_sequencer(struct group_visit *gv, char *err, size_t errlen)
{
	char(*counts)[12] = calloc(gv->n, sizeof(*counts));
	char **argv = counts ? seq_argv(gv, counts) : NULL;
	int rc = -1, exec_errno;

	if (!argv) {
		snprintf(err, errlen, "out of memory");
	} else if (gv->sv) {
		rc = sandbox_visit_start(gv->sv, argv, watch_builder(gv->watch), err, errlen);
	} else if (watch_spawn(gv->cgroup, argv, &gv->child, &exec_errno) == 0) {
		rc = 0;
	} else {
		snprintf(err, errlen, "cannot start %s: %s", SEQ_SH, strerror(errno));
	}
	free(argv);
	free(counts);
	return rc;
}

/* ---- browser drivers ---- */

/*
 * Host mode (no sandbox): starts ARGV in the guest's cgroup with FDS as its
 * fds 3, 4, ...; a failed exec is an error of the start (as watch_spawn).
 */
static int spawn_fds(struct group_visit *gv, char *const argv[], const int *fds, size_t n,
		     char *err, size_t errlen)
{
	CLEANUP_FD int cgfd = open(gv->cgroup, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	/* CLONE_CLEAR_SIGHAND: the child must not run the client's libuv signal handlers */
	struct clone_args args = {.flags = CLONE_INTO_CGROUP | CLONE_CLEAR_SIGHAND,
				  .exit_signal = SIGCHLD};
	int pipefd[2], child_err = 0;
	ssize_t r;
	pid_t pid;

	if (cgfd < 0 || pipe2(pipefd, O_CLOEXEC) < 0) {
		snprintf(err, errlen, "cannot start %s: %s", argv[0], strerror(errno));
		return -1;
	}
	args.cgroup = (uint64_t)cgfd;
	pid = (pid_t)syscall(SYS_clone3, &args, sizeof(args));
	if (pid == 0) {
		sigset_t none;
		int keep;

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		keep = sandbox_pass_fds(fds, n, pipefd[1]);
		if (keep >= 0)
			execvp(argv[0], argv);
		child_err = errno;
		(void)!write(keep >= 0 ? keep : pipefd[1], &child_err, sizeof(child_err));
		_exit(127);
	}
	close(pipefd[1]);
	if (pid < 0) {
		snprintf(err, errlen, "cannot start %s: %s", argv[0], strerror(errno));
		close(pipefd[0]);
		return -1;
	}
	gv->child = pid;
	do
		r = read(pipefd[0], &child_err, sizeof(child_err));
	while (r < 0 && errno == EINTR);
	close(pipefd[0]);
	if (r == (ssize_t)sizeof(child_err)) {
		snprintf(err, errlen, "cannot start %s: %s", argv[0], strerror(child_err));
		return -1;
	}
	return 0;
}

static void log_hops(const struct group_visit *gv, size_t i, const struct driver_result *r)
{
	char line[2048];
	size_t len = 0;

	line[0] = '\0';
	for (size_t h = 0; h < r->n_hops && len < sizeof(line); h++) {
		int n = snprintf(line + len, sizeof(line) - len, "%s%s (%d)", h ? " -> " : "",
				 r->hops[h].url, r->hops[h].status);

		len = n < 0 ? sizeof(line) : len + (size_t)n;
	}
	log_info("visit %s: URL %zu: redirects (%zu%s): %s", gv->identifier, i + 1, r->n_hops,
		 r->hops_dropped ? ", more dropped" : "", line);
}

/* The client's log line of one browser URL (docs/applications.md "What goes where"). */
static void log_browser(const struct group_visit *gv, size_t i, const struct driver_result *r)
{
	if (r->major)
		log_info("visit %s: URL %zu: %s (minor %u): %s", gv->identifier, i + 1,
			 proto_error_name(r->major) ? proto_error_name(r->major) : "?", r->minor,
			 r->error_text ? r->error_text : "-");
	else
		log_info("visit %s: URL %zu: loaded in %llu ms, status %d, final URL %s",
			 gv->identifier, i + 1, (unsigned long long)r->load_ms, r->status,
			 r->final_url ? r->final_url : "-");
	if (r->n_hops)
		log_hops(gv, i, r);
	if (r->downloads)
		log_info("visit %s: URL %zu: %u download(s), %u completed", gv->identifier, i + 1,
			 r->downloads, r->downloads_done);
	if (r->screenshot)
		log_info("visit %s: URL %zu: screenshot %s", gv->identifier, i + 1, r->screenshot);
}

static void browser_done(struct driver *d, void *arg)
{
	struct group_visit *gv = arg;

	for (size_t i = 0; i < gv->n_drv; i++) {
		struct gv_url *u = &gv->urls[gv->drv_urls[i]];
		const struct driver_result *r = driver_result(d, i);

		url_fail(u, r->major, r->minor);
		u->res.start_ns = r->start_ns;
		u->res.pid = r->start_ns ? gv->seq_pid : 0;
		u->res.browser = r;
		u->state = URL_DONE;
		log_browser(gv, gv->drv_urls[i], r);
	}
	if (gv->phase == GV_RUNNING)
		finish_visit(gv);
}

/* Where downloads go in the guest: the guest user's, or this system's, ~/Downloads. */
static void set_downloads_dir(struct group_visit *gv)
{
	const char *home = getenv("HOME");

	if (gv->opts.sandbox)
		snprintf(gv->downloads_dir, sizeof(gv->downloads_dir), "/home/%s/Downloads",
			 gv->opts.visit.user ? gv->opts.visit.user : SANDBOX_USER_DEFAULT);
	else
		snprintf(gv->downloads_dir, sizeof(gv->downloads_dir), "%s/Downloads",
			 home && home[0] == '/' ? home : "/root");
}

/* The driver for the URLs not refused; their failures if it cannot be made. */
static void browser_new(struct group_visit *gv, const struct proto_visit *visit)
{
	const struct app_entry *e = apps_find(gv->opts.apps, gv->program);
	const char **urls = calloc(gv->n ? gv->n : 1, sizeof(*urls)); /* n >= 1 (start) */
	struct driver_callbacks cb = {.on_done = browser_done, .arg = gv};
	struct driver_visit v = {
	    .visit_time_s = gv->visit_time_s,
	    .page_timeout_s = gv->opts.page_timeout_s,
	    .layout = gv->opts.layout,
	    .exe = e ? e->path : NULL,
	    .downloads_dir = gv->downloads_dir,
	    .screenshot_dir = gv->opts.screenshot_dir,
	    .tag = gv->identifier,
	};
	char err[512] = "out of memory";

	gv->drv_urls = calloc(gv->n ? gv->n : 1, sizeof(*gv->drv_urls));
	set_downloads_dir(gv);
	for (size_t i = 0; urls && gv->drv_urls && i < gv->n; i++) {
		if (gv->urls[i].state != URL_WAITING)
			continue;
		gv->drv_urls[gv->n_drv] = i;
		urls[gv->n_drv++] = visit->items[i].url;
	}
	v.urls = urls;
	v.n_urls = gv->n_drv;
	if (gv->n_drv &&
	    (!urls || !gv->drv_urls ||
	     driver_new(gv->loop, gv->program, &v, &cb, &gv->drv, err, sizeof(err)) < 0)) {
		log_warnx("visit %s: %s", gv->identifier, err);
		for (size_t i = 0; i < gv->n; i++) {
			if (gv->urls[i].state == URL_WAITING)
				gv->urls[i].state = URL_SKIPPED;
			url_fail(&gv->urls[i], PROTO_ERR_PROCESS_ERROR, 0);
		}
	}
	for (size_t k = 0; gv->drv && urls && gv->drv_urls && k < gv->n_drv; k++)
		expect_origin(gv, gv->drv_urls[k], urls[k], gv->drv->launch.exe);
	free(urls);
}

/* Starts the browser (or the launcher) with its pipes, then the driver. */
static int browser_run(struct group_visit *gv, char *err, size_t errlen)
{
	const struct driver_launch *l = &gv->drv->launch;
	pid_t pid;

	if (gv->sv) {
		if (sandbox_visit_start(gv->sv, l->argv, watch_builder(gv->watch), err, errlen) < 0)
			return -1;
		pid = sandbox_visit_init_pid(gv->sv);
	} else {
		if (spawn_fds(gv, l->argv, l->fds, l->n_fds, err, errlen) < 0)
			return -1;
		pid = gv->child;
	}
	if (driver_start(gv->drv, pid, err, errlen) < 0) {
		log_warnx("visit %s: %s", gv->identifier, err);
		driver_abort(gv->drv, PROTO_ERR_PROCESS_ERROR, 0); /* on_done follows */
	}
	return 0;
}

/* Tick of a browser visit: the driver keeps the time; this only catches a dead guest. */
static void browser_tick(struct group_visit *gv, uint64_t now, int running)
{
	if (gv->drv->done)
		return;
	if (running <= 0 && gv->seq_pid) {
		log_warnx("visit %s: the browser is gone", gv->identifier);
		driver_abort(gv->drv, PROTO_ERR_PROCESS_ERROR, 0);
	} else if (now >= gv->drv_deadline_ms) {
		log_warnx("visit %s: the browser driver did not finish in time", gv->identifier);
		driver_abort(gv->drv, PROTO_ERR_TIMEOUT_ERROR, 0);
	}
}

/* The launch's programs exist in the guest; else every URL is PROCESS_ERROR. */
static bool browser_in_guest(struct group_visit *gv)
{
	const struct driver_launch *l = &gv->drv->launch;
	const char *missing = !guest_has_exe(gv, l->argv[0]) ? l->argv[0]
			      : !guest_has_exe(gv, l->exe)   ? l->exe
							     : NULL;

	if (!missing) {
		gv->opts.visit.program_fds = l->fds;
		gv->opts.visit.n_program_fds = l->n_fds;
		return true;
	}
	log_warnx("visit %s: %s is not in the guest", gv->identifier, missing);
	for (size_t i = 0; i < gv->n; i++)
		url_fail(&gv->urls[i], PROTO_ERR_PROCESS_ERROR,
			 PROTO_ERR_PE_PROCESS_PATH_NOT_FOUND);
	complete(gv, 0, 0);
	return false;
}

const char *group_visit_algorithm(const struct group_visit *gv)
{
	if (!gv->drv)
		return GROUP_VISIT_ALGORITHM;
	return gv->opts.layout == DRIVER_LAYOUT_PROCESSES ? "bulk" : "dac";
}

/* Creates the guest, opens the sensor, starts the first URL. */
static void begin(struct group_visit *gv)
{
	char err[1024];

	gv->cur = next_waiting(gv, 0);
	if (gv->cur >= gv->n) {
		complete(gv, 0, 0); /* every URL was refused */
		return;
	}
	if (gv->drv && !browser_in_guest(gv))
		return;
	if (open_guest(gv, err, sizeof(err)) < 0 || open_sensor(gv, err, sizeof(err)) < 0 ||
	    (gv->drv ? browser_run(gv, err, sizeof(err)) : run_sequencer(gv, err, sizeof(err))) <
		0) {
		fail_setup(gv, PROTO_ERR_SANDBOX_ERROR, err);
		return;
	}
	gv->phase = GV_RUNNING;
	if (gv->drv) {
		gv->drv_deadline_ms =
		    uv_now(gv->loop) +
		    (uint64_t)(gv->drv->visit.page_timeout_s * 2 + gv->visit_time_s) * 1000 +
		    (uint64_t)3 * GROUP_VISIT_GRACE_MS;
	} else {
		gv->urls[gv->cur].state = URL_RUNNING;
		gv->urls[gv->cur].deadline_ms =
		    uv_now(gv->loop) + (uint64_t)gv->visit_time_s * 1000;
	}
	uv_timer_start(&gv->tick, on_tick, TICK_MS, TICK_MS);
	if (gv->cb.on_started)
		gv->cb.on_started(gv, gv->cb.arg);
}

static int init_handles(struct group_visit *gv)
{
	int rc = uv_timer_init(gv->loop, &gv->tick);

	if (rc == 0) {
		gv->open_handles++;
		rc = uv_timer_init(gv->loop, &gv->defer);
	}
	if (rc == 0) {
		gv->open_handles++;
		rc = uv_signal_init(gv->loop, &gv->sigchld);
	}
	if (rc == 0) {
		gv->open_handles++;
		rc = uv_signal_start(&gv->sigchld, on_sigchld, SIGCHLD);
	}
	gv->tick.data = gv->defer.data = gv->sigchld.data = gv;
	return rc;
}

int group_visit_start(uv_loop_t *loop, const struct group_visit_opts *opts,
		      const struct proto_visit *visit, const struct group_visit_callbacks *cb,
		      struct group_visit **out)
{
	struct group_visit *gv;

	*out = NULL;
	if (!loop || !opts || !visit || !cb || !visit->n_items) {
		errno = EINVAL;
		return -1;
	}
	gv = calloc(1, sizeof(*gv));
	if (!gv)
		return -1;
	gv->loop = loop;
	gv->opts = *opts;
	gv->cb = *cb;
	gv->n = visit->n_items;
	gv->visit_time_s = visit->visit_time_s ? visit->visit_time_s : 1;
	gv->identifier = strdup(visit->identifier);
	gv->program = strdup(visit->program);
	gv->urls = calloc(gv->n, sizeof(*gv->urls));
	gv->results = calloc(gv->n, sizeof(*gv->results));
	gv->watch = watch_new(opts->excl, (uint32_t)getpid(), emit_event, gv);
	if (!gv->identifier || !gv->program || !gv->urls || !gv->results || !gv->watch ||
	    init_handles(gv) != 0) {
		group_visit_free(gv);
		errno = ENOMEM;
		return -1;
	}
	for (size_t i = 0; i < gv->n; i++)
		url_prepare(gv, i, visit->items[i].url);
	if (driver_handles(gv->program))
		browser_new(gv, visit);
	begin(gv);
	*out = gv;
	return 0;
}

/* ---- freeing ---- */

static void release(struct group_visit *gv)
{
	for (size_t i = 0; i < gv->n; i++)
		apps_argv_free(&gv->urls[i].argv);
	free(gv->urls);
	free(gv->results);
	free(gv->drivers.v);
	free(gv->tree.v);
	free(gv->killed.v);
	watch_free(gv->watch);
	driver_free(gv->drv); /* closes its own handles, frees itself from the loop */
	free(gv->drv_urls);
	free(gv->identifier);
	free(gv->program);
	free(gv);
}

static void on_closed(uv_handle_t *h)
{
	struct group_visit *gv = h->data;

	if (--gv->open_handles == 0)
		release(gv);
}

void group_visit_free(struct group_visit *gv)
{
	if (!gv || gv->freeing)
		return;
	gv->freeing = true;
	if (gv->phase == GV_RUNNING || gv->phase == GV_FINISHING) {
		log_info("visit %s: aborted; reverting the guest", gv->identifier);
		teardown_guest(gv);
	}
	if (gv->open_handles == 0) {
		release(gv);
		return;
	}
	/* every handle counted in open_handles was initialised; close them all */
	uv_close((uv_handle_t *)&gv->tick, on_closed);
	if (gv->open_handles > 1)
		uv_close((uv_handle_t *)&gv->defer, on_closed);
	if (gv->open_handles > 2)
		uv_close((uv_handle_t *)&gv->sigchld, on_closed);
	if (gv->poll_init)
		uv_close((uv_handle_t *)&gv->poll, on_closed);
}
