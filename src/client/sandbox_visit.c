/*
 * sandbox_visit.c - see sandbox_visit.h.
 */
#include "client/sandbox_visit.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "client/event_builder.h"
#include "client/proc_table.h"
#include "common/log.h"
#include "common/strset.h"
#include "common/util.h"
#include "guest/collector.h"
#include "guest/dns_stub.h"
#include "guest/fanwatch.h"
#include "guest/sandbox.h"

struct fan_change {
	enum fanwatch_action action;
	uint32_t pid;
	char *path;
	char *path2;
};

struct sandbox_visit {
	struct sandbox_visit_opts opts;
	char name[64];
	char pcap[PATH_MAX];
	struct net_services *services;
	pid_t dns_pid;
	struct sandbox *sb;
	struct fanwatch *fan;
	struct fan_change *changes; /* fanotify's view, in arrival order */
	size_t nchanges, capchanges;
	struct strset *sensor_paths; /* guest paths the sensor reported */
	bool alloc_failed;
};

/*
 * The services namespace and the visit's DNS stub.  The guest's resolv.conf
 * names SANDBOX_SERVICES_ADDR in both modes, so both need the stub: in
 * services it answers every name with that address; in nat it relays to
 * the resolvers of the host's /etc/resolv.conf (read now, so a change is
 * seen by the next visit), which the guest could not reach itself.
 */
static int open_network(struct sandbox_visit *v, char *err, size_t errlen)
{
	struct net_services_config nc = {.name = v->opts.services_name, .mode = v->opts.net};
	struct dns_stub_config dc = {.mode = DNS_STUB_ANSWER};
	struct in_addr a;

	nc.blocked_ports[0] = v->opts.server_port ? v->opts.server_port : 7070;
	if (net_services_open(&nc, &v->services, err, errlen) < 0)
		return -1;
	if (v->opts.net == NET_NAT) {
		dc.mode = DNS_STUB_FORWARD;
	} else {
		inet_pton(AF_INET, SANDBOX_SERVICES_ADDR, &a);
		dc.a_addr = a.s_addr;
	}
	return dns_stub_start_with(net_services_fd(v->services), &dc, &v->dns_pid, err, errlen);
}

static int make_sandbox(struct sandbox_visit *v, char *err, size_t errlen)
{
	struct sandbox_config c = {
	    .root = v->opts.root,
	    .tmpfs_bytes = v->opts.tmpfs_bytes,
	    .userns = v->opts.userns,
	    .memory_bytes = v->opts.memory_bytes,
	    .pids_max = v->opts.pids_max,
	    .net = v->opts.net,
	    .services = v->services,
	    .net_index = (unsigned)getpid() % 16000,
	    .user = v->opts.user,
	    .uid = v->opts.uid,
	    .gid = v->opts.uid,
	    .program_fds = v->opts.program_fds,
	    .n_program_fds = v->opts.n_program_fds,
	};
	struct sandbox_error e;

	if (v->opts.collect_dir && v->opts.net != NET_NONE) {
		snprintf(v->pcap, sizeof(v->pcap), "%s/%s.pcap", v->opts.collect_dir, v->name);
		c.pcap_path = v->pcap;
	}
	if (sandbox_create(&c, v->name, &v->sb, &e) < 0) {
		snprintf(err, errlen, "%s", e.msg);
		return -1;
	}
	if (fanwatch_open(sandbox_tmpfs_dir(v->sb), "upper", "work", getpid(), &v->fan, err,
			  errlen) < 0)
		return -1;
	return 0;
}

int sandbox_visit_create(const struct sandbox_visit_opts *opts, struct sandbox_visit **out,
			 char *err, size_t errlen)
{
	static unsigned counter;
	struct sandbox_visit *v = calloc(1, sizeof(*v));

	*out = NULL;
	if (!v || !(v->sensor_paths = strset_new())) {
		free(v);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	v->opts = *opts;
	sandbox_cleanup_stale("c"); /* guests of clients that were killed */
	snprintf(v->name, sizeof(v->name), "c%d-%u", (int)getpid(), counter++);
	if (opts->collect_dir && mkdir(opts->collect_dir, 0755) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "cannot create the collection directory %s: %s",
			 opts->collect_dir, strerror(errno));
		goto fail;
	}
	if ((opts->net != NET_NONE && open_network(v, err, errlen) < 0) ||
	    make_sandbox(v, err, errlen) < 0)
		goto fail;
	*out = v;
	return 0;
fail:
	sandbox_visit_revert(v);
	return -1;
}

const char *sandbox_visit_scope(const struct sandbox_visit *v)
{
	return sandbox_app_cgroup(v->sb);
}

int sandbox_visit_start(struct sandbox_visit *v, char *const argv[], struct event_builder *b,
			char *err, size_t errlen)
{
	struct sandbox_error e;

	if (sandbox_start(v->sb, argv, &e) < 0) {
		snprintf(err, errlen, "%s", e.msg);
		return -1;
	}
	event_builder_add_harness(b, (uint32_t)sandbox_init_pid(v->sb));
	return 0;
}

pid_t sandbox_visit_init_pid(const struct sandbox_visit *v)
{
	pid_t pid = v->sb ? sandbox_init_pid(v->sb) : 0;

	return pid > 0 ? pid : 0;
}

static void on_fan(const struct fanwatch_event *ev, void *ctx)
{
	struct sandbox_visit *v = ctx;
	struct fan_change *c;

	if (ev->pid == (uint32_t)sandbox_init_pid(v->sb))
		return; /* the guest init setting up, not the program */
	if (v->nchanges == v->capchanges) {
		size_t cap = v->capchanges ? v->capchanges * 2 : 64;
		struct fan_change *n = reallocarray(v->changes, cap, sizeof(*n));

		if (!n) {
			v->alloc_failed = true;
			return;
		}
		v->changes = n;
		v->capchanges = cap;
	}
	c = &v->changes[v->nchanges];
	c->action = ev->action;
	c->pid = ev->pid;
	c->path = strdup(ev->path);
	c->path2 = ev->path2 ? strdup(ev->path2) : NULL;
	if (!c->path || (ev->path2 && !c->path2)) {
		free(c->path);
		free(c->path2);
		v->alloc_failed = true;
		return;
	}
	v->nchanges++;
}

void sandbox_visit_tick(struct sandbox_visit *v)
{
	sandbox_tick(v->sb);
	if (v->fan && fanwatch_read(v->fan, on_fan, v) < 0)
		log_warn("reading fanotify events");
}

void sandbox_visit_child_exited(struct sandbox_visit *v, pid_t pid, int status)
{
	sandbox_child_exited(v->sb, pid, status);
}

int sandbox_visit_running(const struct sandbox_visit *v)
{
	if (sandbox_exited(v->sb))
		return 0;
	return sandbox_running(v->sb);
}

void sandbox_visit_kill(struct sandbox_visit *v)
{
	sandbox_kill(v->sb);
}

int sandbox_visit_program_code(const struct sandbox_visit *v)
{
	int st = sandbox_program_status(v->sb);

	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

void sandbox_visit_note(struct sandbox_visit *v, const struct capture_event *ev)
{
	if (ev->type != EVENT_FILE)
		return;
	if (strset_add(v->sensor_paths, ev->object1) < 0)
		v->alloc_failed = true;
	if (strcmp(ev->action, "Rename") == 0 && strset_add(v->sensor_paths, ev->object2) < 0)
		v->alloc_failed = true;
}

static const char *fan_action_name(enum fanwatch_action a)
{
	switch (a) {
	case FANWATCH_CREATE: return "Create";
	case FANWATCH_WRITE: return "Write";
	case FANWATCH_DELETE: return "Delete";
	case FANWATCH_RENAME: return "Rename";
	case FANWATCH_ATTRIB: return "Attribute";
	case FANWATCH_MKDIR: return "Mkdir";
	default: return "Rmdir";
	}
}

/*
 * Whether guest PATH is now an executable regular file in the upper layer
 * (fanotify gives no mode; the layer is still there when this runs).
 */
static bool upper_executable(const struct sandbox_visit *v, const char *path)
{
	char host[PATH_MAX + 64];
	struct stat st;

	if (!path || path[0] != '/' ||
	    snprintf(host, sizeof(host), "%s/upper%s", sandbox_tmpfs_dir(v->sb), path) >=
		(int)sizeof(host))
		return false;
	return lstat(host, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111);
}

/* Reports the changes only fanotify saw, once per (action, path). */
static uint64_t report_fan_only(struct sandbox_visit *v, struct proc_table *procs,
				sandbox_visit_emit_fn emit, void *ctx)
{
	struct strset *done = strset_new();
	uint64_t n = 0;

	if (!done) {
		v->alloc_failed = true;
		return 0;
	}
	for (size_t i = 0; i < v->nchanges; i++) {
		struct fan_change *c = &v->changes[i];
		struct capture_event ev = {.type = EVENT_FILE, .object2 = "-1"};
		char key[8200];

		if (strset_has(v->sensor_paths, c->path) ||
		    (c->path2 && strset_has(v->sensor_paths, c->path2)) ||
		    sandbox_is_own_path(v->sb, c->path))
			continue;
		snprintf(key, sizeof(key), "%d:%s", (int)c->action, c->path);
		if (strset_add(done, key) != 1)
			continue;
		ev.action = fan_action_name(c->action);
		ev.pid = c->pid;
		ev.process = proc_table_exe(procs, c->pid);
		ev.object1 = c->path;
		if (c->path2)
			ev.object2 = c->path2;
		ev.detail = "seen by fanotify only";
		if (c->action != FANWATCH_DELETE && c->action != FANWATCH_RMDIR &&
		    upper_executable(v, c->path2 ? c->path2 : c->path))
			ev.flags |= EVENT_F_EXECUTABLE;
		ev.wall_ns = util_now_real_ns();
		ev.ts_ns = util_now_boot_ns();
		emit(&ev, ctx);
		n++;
	}
	strset_free(done);
	return n;
}

static void count_collection(const struct collection *c, const struct sandbox *sb,
			     struct sandbox_visit_result *r)
{
	for (size_t i = 0; i < collection_count(c); i++) {
		const struct collect_entry *e = collection_get(c, i);

		if (sandbox_is_own_path(sb, e->path))
			continue;
		switch (e->kind) {
		case COLLECT_CREATED: r->created++; break;
		case COLLECT_MODIFIED: r->modified++; break;
		case COLLECT_ATTRIBUTES: r->attributes++; break;
		case COLLECT_DELETED: r->deleted++; break;
		case COLLECT_DIR_CREATED:
		case COLLECT_DIR_REPLACED: r->dirs++; break;
		default: r->other++; break;
		}
	}
}

static int collect(struct sandbox_visit *v, struct sandbox_visit_result *r, char *err,
		   size_t errlen)
{
	char upper[PATH_MAX];
	struct collection *c = NULL;
	int rc = 0;

	snprintf(upper, sizeof(upper), "%s/upper", sandbox_tmpfs_dir(v->sb));
	if (collector_scan(upper, sandbox_lower_dir(v->sb), &c, err, errlen) < 0)
		return -1;
	count_collection(c, v->sb, r);
	if (v->opts.collect_dir) {
		snprintf(r->archive, sizeof(r->archive), "%s/%s.zip", v->opts.collect_dir, v->name);
		rc = collector_write_archive(c, upper, sandbox_lower_dir(v->sb),
					     v->pcap[0] ? v->pcap : NULL, r->archive, err, errlen);
		if (rc < 0)
			r->archive[0] = '\0';
	}
	collection_free(c);
	return rc;
}

int sandbox_visit_finish(struct sandbox_visit *v, struct proc_table *procs,
			 sandbox_visit_emit_fn emit, void *ctx, struct sandbox_visit_result *res,
			 char *err, size_t errlen)
{
	memset(res, 0, sizeof(*res));
	snprintf(res->name, sizeof(res->name), "%s", v->name);
	if (v->fan) {
		fanwatch_read(v->fan, on_fan, v);
		res->fanotify_lost = fanwatch_overflows(v->fan);
	}
	res->fanotify_only = report_fan_only(v, procs, emit, ctx);
	if (v->alloc_failed)
		res->fanotify_lost++; /* a change we could not keep is a change lost */
	res->tmpfs_full = sandbox_tmpfs_full(v->sb);
	res->memory_peak = sandbox_memory_peak(v->sb);
	sandbox_stop_capture(v->sb, &res->pcap_packets, &res->pcap_dropped);
	if (collect(v, res, err, errlen) < 0)
		return -1;
	if (v->pcap[0])
		unlink(v->pcap); /* it is inside the archive now */
	return 0;
}

int sandbox_visit_revert(struct sandbox_visit *v)
{
	struct sandbox_error e;
	int rc = 0;

	if (!v)
		return 0;
	fanwatch_close(v->fan);
	if (v->sb && sandbox_revert(v->sb, &e) < 0) {
		log_warnx("%s", e.msg);
		rc = -1;
	}
	if (v->dns_pid > 0)
		dns_stub_stop(v->dns_pid);
	if (v->services)
		net_services_close(v->services);
	for (size_t i = 0; i < v->nchanges; i++) {
		free(v->changes[i].path);
		free(v->changes[i].path2);
	}
	free(v->changes);
	strset_free(v->sensor_paths);
	free(v);
	return rc;
}
