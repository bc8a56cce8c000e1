/*
 * server.c - see server.h.
 *
 * Ownership: a struct group owns its URL entries and per-URL results from
 * the moment it is taken from the queue until every URL has ended or the
 * group was turned into retry groups; the retry list and a guest's
 * in-flight pointer are the only places a group lives.  A connection has a
 * slot (its ctx) that says which guest it is, set on identification and
 * freed in on_closed().
 */
#include "server/server.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "common/log.h"
#include "common/util.h"
#include "server/client_conn.h"
#include "server/client_setup.h"
#include "server/guest_local.h"
#include "server/outputs.h"
#include "server/progress.h"
#include "server/url_queue.h"
#include "server/url_result.h"
#include "server/url_source.h"

#define SHUTDOWN_WAIT_MS 100

struct group {
	struct group *next; /* retry list */
	char id[16];
	struct url_entry *urls;
	size_t n;
	unsigned attempts[CONFIG_RETRY_COUNT];
	uint64_t queued_ns;     /* CLOCK_REALTIME, first queued */
	uint64_t dispatched_ns; /* CLOCK_MONOTONIC */
	uint64_t started_ns;    /* CLOCK_REALTIME of the client's start (0 before) */
	struct url_result *res; /* n entries while in flight */
};

enum guest_state {
	GUEST_DOWN = 0,  /* nothing runs: to be reverted */
	GUEST_REVERTING, /* backend working */
	GUEST_STARTING,  /* reverted; waiting for its client to identify */
	GUEST_READY,     /* client connected */
};

struct guest {
	struct server *srv;
	int index; /* backend guest, or -1 for a client started by hand */
	char vm_server_id[64], vm_id[64];
	enum guest_state state;
	struct client_conn *conn;
	struct group *group; /* in flight */
	uv_timer_t stall;    /* vm_stalled_after_revert_timeout */
	uint64_t revert_ns;  /* CLOCK_MONOTONIC start of the last revert */
	struct guest *next;  /* external guests list */
};

struct conn_slot {
	struct server *srv;
	struct guest *guest;
};

struct server {
	const struct server_opts *o;
	const struct capture_config *cfg;
	uv_loop_t loop;
	uv_tcp_t listener;
	uv_timer_t poll_timer, stats_timer, draw_timer, shutdown_timer;
	uv_signal_t sigint, sigterm;
	struct outputs *out;
	struct url_queue *queue;
	struct url_source *src;
	struct progress *prog;
	struct group *retries; /* LIFO: pushed at the front */
	struct guest_backend *backend;
	struct guest *guests; /* backend guests, backend->count */
	struct guest *external;
	struct client_setup setup; /* key, pushed rules, local clients' command line */
	char upload_dir[4096];
	uint64_t in_flight;     /* URLs */
	uint64_t last_input_ns; /* CLOCK_MONOTONIC of the last new input line */
	bool listening;         /* the listener handle is initialised */
	bool stopping;
	int exit_code;
};

static void dispatch_all(struct server *s);
static void shutdown_server(struct server *s, int code);
static void revert_guest(struct guest *g, const char *why, uint32_t code);
static void arm_stall(struct guest *g);

/* ---- groups ---- */

static void group_free(struct group *grp)
{
	if (!grp)
		return;
	for (size_t i = 0; i < grp->n; i++) {
		url_line_entry_free(&grp->urls[i]);
		if (grp->res)
			url_result_free(&grp->res[i]);
	}
	free(grp->urls);
	free(grp->res);
	free(grp);
}

static struct group *group_new(size_t n)
{
	struct group *grp = calloc(1, sizeof(*grp));

	if (!grp || !(grp->urls = calloc(n, sizeof(*grp->urls)))) {
		free(grp);
		return NULL;
	}
	grp->n = n;
	/* random 32-bit ids, as the original; a retry gets a new one */
	snprintf(grp->id, sizeof(grp->id), "%u", arc4random());
	grp->queued_ns = util_now_real_ns();
	return grp;
}

/* The next group: a retry first, else up to the algorithm's size from the queue. */
static struct group *next_group(struct server *s)
{
	struct url_entry e[1];
	struct group *grp = s->retries;
	ssize_t n;

	if (grp) {
		s->retries = grp->next;
		grp->next = NULL;
		return grp;
	}
	/* seq: one URL per group, so every event belongs to its URL */
	n = url_queue_pop_group(s->queue, e, 1);
	if (n <= 0)
		return NULL;
	grp = group_new(1);
	if (!grp) {
		log_warnx("out of memory: %s stays queued", e[0].url);
		if (url_queue_push_front(s->queue, e, 1) < 0)
			log_warnx("out of memory: %s is lost", e[0].url);
		url_line_entry_free(&e[0]);
		return NULL;
	}
	grp->urls[0] = e[0];
	return grp;
}

static struct output_visit visit_of(const struct group *grp, size_t i)
{
	return (struct output_visit){
	    .group_id = grp->id,
	    .url = grp->urls[i].url,
	    .client = grp->urls[i].client,
	    .visit_time = grp->urls[i].visit_time,
	    .started_ns = grp->started_ns,
	    .name_suffix = grp->res ? grp->res[i].name_suffix : NULL,
	};
}

/*
 * The visit of URL I as named in per-URL files.  The original's name is the
 * URL and the second the visit started; when the same URL was visited in
 * the same second (e.g. with two clients), this visit's files get its group
 * id appended instead of overwriting or appending to the other's.
 */
static struct output_visit visit_name(struct server *s, struct group *grp, size_t i)
{
	struct url_result *r = &grp->res[i];
	static const char *const exts[] = {".json", ".log", ".zip"};

	if (!grp->started_ns)
		grp->started_ns = util_now_real_ns();
	if (!r->named) {
		struct output_visit v = visit_of(grp, i);

		for (size_t k = 0; k < ARRAY_SIZE(exts) && !r->name_suffix; k++) {
			char *path = outputs_url_path(s->out, &v, exts[k]);

			if (path && access(path, F_OK) == 0)
				r->name_suffix = grp->id;
			free(path);
		}
		r->named = true;
	}
	return visit_of(grp, i);
}

/* ---- URL ends ---- */

static double since_s(uint64_t mono_ns)
{
	return mono_ns ? (double)(util_now_mono_ns() - mono_ns) / 1e9 : -1;
}

static void write_report(struct server *s, struct group *grp, size_t i, enum output_verdict v,
			 const struct output_error *err)
{
	struct url_result *r = &grp->res[i];
	struct capture_event *evs = url_result_events(r);
	struct output_report rep = {
	    .visit = visit_name(s, grp, i),
	    .verdict = v,
	    .error = err,
	    .queued_ns = grp->queued_ns,
	    .started_ns = grp->started_ns,
	    .finished_ns = util_now_real_ns(),
	    .events = evs,
	    .nevents = evs ? r->nevents : 0,
	    .files = r->files,
	    .nfiles = r->nfiles,
	    .archive = r->archive,
	};

	if (r->nevents && !evs)
		log_warnx("out of memory: the report of %s lists no events", grp->urls[i].url);
	if (outputs_report_write(s->out, &rep) < 0)
		log_warn("writing the report of %s", grp->urls[i].url);
	free(evs);
}

/* URL I of GRP has its verdict: logs, report, counters. */
static void url_end(struct server *s, struct group *grp, size_t i, enum output_verdict v,
		    const struct output_error *err)
{
	struct output_visit vis = visit_of(grp, i);
	struct url_result *r = &grp->res[i];
	char ename[96] = "";
	double first = -1;

	if (v == OUTPUT_MALICIOUS) {
		outputs_malicious(s->out, &vis);
		outputs_progress(s->out, OUTPUT_VISITED, &vis, NULL);
	} else if (v == OUTPUT_BENIGN) {
		outputs_safe(s->out, &vis);
		outputs_progress(s->out, OUTPUT_VISITED, &vis, NULL);
	} else {
		const char *name = proto_error_name(err->major);

		outputs_error(s->out, &vis, err);
		outputs_progress(s->out, OUTPUT_ERROR, &vis, err);
		snprintf(ename, sizeof(ename), "%s-%u", name ? name : "UNKNOWN", err->minor);
	}
	write_report(s, grp, i, v, v == OUTPUT_VERDICT_ERROR ? err : NULL);
	if (r->first_event_ns && grp->started_ns && r->first_event_ns >= grp->started_ns)
		first = (double)(r->first_event_ns - grp->started_ns) / 1e9;
	progress_url_done(s->prog, vis.url, v, ename, r->total_events, since_s(grp->dispatched_ns),
			  first);
}

static int retry_class(uint32_t code)
{
	switch (code) {
	case PROTO_ERR_NETWORK_ERROR: return CONFIG_RETRY_NETWORK_ERROR;
	case PROTO_ERR_PROCESS_ERROR: return CONFIG_RETRY_PROCESS_ERROR;
	case PROTO_ERR_TIMEOUT_ERROR: return CONFIG_RETRY_TIMEOUT_ERROR;
	case PROTO_ERR_ATTACH_PROCESS_ERROR: return CONFIG_RETRY_ATTACH_PROCESS_ERROR;
	case PROTO_ERR_VISITATION_EXCEPTION: return CONFIG_RETRY_VISITATION_EXCEPTION;
	case PROTO_ERR_CAPTURE_CLIENT_INACTIVITY: return CONFIG_RETRY_CLIENT_INACTIVITY;
	case PROTO_ERR_VM_STALLED: return CONFIG_RETRY_VM_STALLED;
	case PROTO_ERR_CAPTURE_CLIENT_CONNECTION_RESET: return CONFIG_RETRY_CONNECTION_RESET;
	case PROTO_ERR_SOCKET_ERROR: return CONFIG_RETRY_SOCKET_ERROR;
	case PROTO_ERR_SANDBOX_ERROR: return CONFIG_RETRY_SANDBOX_ERROR;
	case PROTO_ERR_EVENTS_LOST: return CONFIG_RETRY_INCONCLUSIVE;
	default: return -1; /* INVALID_URL and the like: another visit would not help */
	}
}

/*
 * URL I of GRP failed with ERR: visit it again (alone, before any new URL)
 * while its error class has retries left, else it ends in error.log.
 */
static void url_failed(struct server *s, struct group *grp, size_t i, struct output_error err)
{
	struct output_visit vis = visit_of(grp, i);
	int cls = retry_class(err.major);
	struct group *again;

	if (!proto_error_name(err.major)) {
		err.minor = err.major; /* keep the client's code visible */
		err.major = PROTO_ERR_INVALID_ERROR_CODE_FROM_CLIENT;
	}
	if (cls < 0 || grp->attempts[cls] >= s->cfg->retries[cls] || s->stopping ||
	    !(again = group_new(1))) {
		url_end(s, grp, i, OUTPUT_VERDICT_ERROR, &err);
		return;
	}
	if (url_line_entry_copy(&again->urls[0], &grp->urls[i]) < 0) {
		group_free(again);
		url_end(s, grp, i, OUTPUT_VERDICT_ERROR, &err);
		return;
	}
	memcpy(again->attempts, grp->attempts, sizeof(again->attempts));
	again->attempts[cls]++;
	again->queued_ns = grp->queued_ns;
	outputs_progress(s->out, OUTPUT_ERROR, &vis, &err);
	log_info("%s: %s-%u, visiting it again (%s retry %u of %u)", vis.url,
		 proto_error_name(err.major), err.minor, config_retry_name(cls),
		 again->attempts[cls], s->cfg->retries[cls]);
	progress_retry(s->prog);
	again->next = s->retries;
	s->retries = again;
}

/* ---- the group in flight of a guest ---- */

static void take_group(struct guest *g)
{
	struct group *grp = g->group;

	g->group = NULL;
	if (grp) {
		g->srv->in_flight -= grp->n;
		progress_visiting(g->srv->prog, -(int)grp->n);
	}
}

/* The client reported the end of the visit. */
static void group_done(struct guest *g, const struct proto_visit *end)
{
	struct server *s = g->srv;
	struct group *grp = g->group;

	take_group(g);
	for (size_t i = 0; i < grp->n; i++) {
		struct output_error err = url_result_item_error(end, i);

		if (end->malicious || grp->res[i].total_events > 0)
			url_end(s, grp, i, OUTPUT_MALICIOUS, NULL);
		else if (err.major)
			url_failed(s, grp, i, err);
		else
			url_end(s, grp, i, OUTPUT_BENIGN, NULL);
	}
	group_free(grp);
}

/* The visit ended without a report from the client (connection lost, stall, ...). */
static void group_lost(struct guest *g, uint32_t code)
{
	struct server *s = g->srv;
	struct group *grp = g->group;

	if (!code) /* closed by us: the client is being replaced */
		code = PROTO_ERR_CAPTURE_CLIENT_CONNECTION_RESET;
	take_group(g);
	for (size_t i = 0; i < grp->n; i++) {
		if (s->stopping && !grp->res[i].total_events)
			log_warnx("%s: visit interrupted by the shutdown: no verdict recorded",
				  grp->urls[i].url);
		else if (grp->res[i].total_events > 0)
			url_end(s, grp, i, OUTPUT_MALICIOUS, NULL);
		else
			url_failed(s, grp, i, (struct output_error){.major = code});
	}
	group_free(grp);
}

static int send_group(struct guest *g, struct group *grp)
{
	struct server *s = g->srv;
	struct client_conn_visit v = {
	    .identifier = grp->id,
	    .program = grp->urls[0].client,
	    .visit_time_s = (uint32_t)grp->urls[0].visit_time,
	    .urls = grp->urls,
	    .n = grp->n,
	};
	int rc;

	grp->res = calloc(grp->n, sizeof(*grp->res));
	if (!grp->res)
		return -ENOMEM;
	rc = client_conn_send_visit(g->conn, &v, grp);
	if (rc < 0) {
		free(grp->res);
		grp->res = NULL;
		return rc;
	}
	grp->dispatched_ns = util_now_mono_ns();
	grp->started_ns = 0;
	g->group = grp;
	s->in_flight += grp->n;
	progress_visiting(s->prog, (int)grp->n);
	for (size_t i = 0; i < grp->n; i++) {
		struct output_visit vis = visit_of(grp, i);

		vis.started_ns = util_now_real_ns();
		outputs_progress(s->out, OUTPUT_VISITING, &vis, NULL);
	}
	log_debug("group %s (%s) to %s/%s", grp->id, grp->urls[0].url, g->vm_server_id, g->vm_id);
	return 0;
}

/* Gives G's idle client the next group, if there is one. */
static void dispatch(struct guest *g)
{
	struct server *s = g->srv;
	struct group *grp;
	int rc;

	if (s->stopping || g->state != GUEST_READY || g->group || !g->conn ||
	    client_conn_state(g->conn) != CLIENT_CONN_WAITING)
		return;
	grp = next_group(s);
	if (!grp)
		return;
	rc = send_group(g, grp);
	if (rc < 0) {
		log_warnx("cannot send group %s to %s: %s; it stays queued", grp->id, g->vm_id,
			  strerror(-rc));
		grp->next = s->retries;
		s->retries = grp;
		client_conn_close(g->conn);
	}
}

/*
 * The input is over: an "end" line, the end of a pipe, or (like the
 * original's idle check) a file that has not grown for SERVER_QUIET_MS.
 */
static bool input_done(const struct server *s)
{
	if (!s->src || url_source_ended(s->src))
		return true;
	return util_now_mono_ns() - s->last_input_ns >= (uint64_t)SERVER_QUIET_MS * 1000000;
}

static void check_finished(struct server *s)
{
	if (s->stopping || !s->cfg->terminate)
		return;
	if (!input_done(s))
		return;
	if (s->retries || url_queue_len(s->queue) || s->in_flight)
		return;
	log_info("every URL has been visited: stopping (terminate=true)");
	shutdown_server(s, SERVER_EXIT_DONE);
}

static void dispatch_all(struct server *s)
{
	for (unsigned i = 0; s->backend && i < s->backend->count; i++)
		dispatch(&s->guests[i]);
	for (struct guest *g = s->external; g; g = g->next)
		dispatch(g);
	check_finished(s);
}

/* ---- events and uploads ---- */

/* "dd/MM/yyyy HH:mm:ss.mmm" (client clock, local time) -> CLOCK_REALTIME ns; 0 if unparsable. */
static void record_event(struct server *s, struct group *grp, const struct proto_system_event *pe)
{
	struct output_visit vis = visit_name(s, grp, 0); /* seq groups hold one URL */

	url_result_event(&grp->res[0], s->out, &vis, pe);
}

static void keep_upload(struct server *s, struct group *grp, const char *path)
{
	struct output_visit vis = visit_name(s, grp, 0);

	url_result_archive(&grp->res[0], s->out, &vis, path);
}

/* ---- connection callbacks ---- */

static struct guest *guest_of(struct client_conn *c)
{
	struct conn_slot *slot = client_conn_ctx(c);

	return slot ? slot->guest : NULL;
}

static struct guest *find_guest(struct server *s, const char *vms, const char *vm)
{
	for (unsigned i = 0; s->backend && i < s->backend->count; i++)
		if (!strcmp(vms, s->backend->vm_server_id) &&
		    !strcmp(vm, s->backend->vm_id(s->backend, i)))
			return &s->guests[i];
	for (struct guest *g = s->external; g; g = g->next)
		if (!strcmp(vms, g->vm_server_id) && !strcmp(vm, g->vm_id))
			return g;
	return NULL;
}

static struct guest *add_external(struct server *s, const char *vms, const char *vm)
{
	struct guest *g = calloc(1, sizeof(*g));

	if (!g)
		return NULL;
	g->srv = s;
	g->index = -1;
	snprintf(g->vm_server_id, sizeof(g->vm_server_id), "%s", vms);
	snprintf(g->vm_id, sizeof(g->vm_id), "%s", vm);
	g->next = s->external;
	s->external = g;
	log_info("client %s/%s is not one of this server's guests: it visits, but is never "
		 "reverted by the server",
		 vms, vm);
	return g;
}

static void remove_external(struct server *s, struct guest *g)
{
	for (struct guest **p = &s->external; *p; p = &(*p)->next)
		if (*p == g) {
			*p = g->next;
			free(g);
			return;
		}
}

/* First WAITING of a connection: which guest is it? */
static struct guest *identify(struct server *s, struct client_conn *c)
{
	const char *vms = client_conn_vm_server_id(c), *vm = client_conn_vm_id(c);
	struct guest *g = find_guest(s, vms, vm);

	if (!g && !(g = add_external(s, vms, vm)))
		return NULL;
	if (g->conn && g->conn != c) {
		log_warnx("guest %s/%s connected again: dropping its previous connection", vms, vm);
		client_conn_close(g->conn);
		g->conn = NULL;
	}
	if (g->index >= 0 && g->state != GUEST_READY && g->revert_ns)
		progress_revert(s->prog, since_s(g->revert_ns));
	g->conn = c;
	g->state = GUEST_READY;
	uv_timer_stop(&g->stall);
	log_info("guest %s/%s: client %s from %s", vms, vm,
		 client_conn_reconnected(c) ? "reconnected" : "connected", client_conn_peer(c));
	return g;
}

static void on_ready(struct client_conn *c)
{
	struct conn_slot *slot = client_conn_ctx(c);
	struct server *s = slot->srv;

	if (!slot->guest && !(slot->guest = identify(s, c))) {
		log_warnx("out of memory: dropping client %s", client_conn_peer(c));
		client_conn_close(c);
		return;
	}
	dispatch(slot->guest);
	check_finished(s);
}

static void on_visit_started(struct client_conn *c, const struct proto_msg *start)
{
	struct guest *g = guest_of(c);

	(void)start;
	if (g && g->group && !g->group->started_ns)
		g->group->started_ns = util_now_real_ns();
}

static void on_system_event(struct client_conn *c, const struct proto_msg *ev)
{
	struct guest *g = guest_of(c);

	if (g && g->group)
		record_event(g->srv, g->group, &ev->u.event);
}

static void on_file(struct client_conn *c, const char *path)
{
	struct guest *g = guest_of(c);

	if (g && g->group)
		keep_upload(g->srv, g->group, path);
	else if (unlink(path) < 0)
		log_warn("removing %s", path);
}

static void on_visit_done(struct client_conn *c, const struct proto_msg *end, void *group)
{
	struct guest *g = guest_of(c);

	if (!g || g->group != group)
		return;
	group_done(g, &end->u.visit);
	if (g->srv->o->halt_on_revert && end->u.visit.type == PROTO_VISIT_ERROR)
		log_info("-r: not halting for a visit error the client reported itself");
	dispatch_all(g->srv);
}

static void on_closed(struct client_conn *c, enum client_conn_close reason, void *group)
{
	struct conn_slot *slot = client_conn_ctx(c);
	struct server *s = slot->srv;
	struct guest *g = slot->guest;

	free(slot);
	if (!g)
		return;
	if (g->group && g->group == group)
		group_lost(g, client_conn_error_code(reason));
	if (g->conn != c) /* an older connection of a guest that reconnected */
		return;
	g->conn = NULL;
	if (reason == CLIENT_CONN_CLOSE_INACTIVITY)
		progress_client_inactivity(s->prog);
	else if (reason == CLIENT_CONN_CLOSE_STALLED)
		progress_vm_stalled(s->prog);
	if (s->stopping) {
		if (g->index < 0)
			remove_external(s, g);
		return;
	}
	log_warnx("guest %s/%s: connection closed (%s%s%s)", g->vm_server_id, g->vm_id,
		  client_conn_close_name(reason), client_conn_close_message(c)[0] ? ": " : "",
		  client_conn_close_message(c));
	if (g->index < 0) {
		remove_external(s, g);
	} else if (reason == CLIENT_CONN_CLOSE_INACTIVITY || reason == CLIENT_CONN_CLOSE_STALLED ||
		   reason == CLIENT_CONN_CLOSE_PROTOCOL) {
		revert_guest(g, client_conn_close_name(reason), client_conn_error_code(reason));
	} else {
		/* the client reconnects by itself, or its exit makes the backend say so */
		g->state = GUEST_STARTING;
		arm_stall(g);
	}
	dispatch_all(s);
}

static const struct client_conn_callbacks conn_cb = {
    .on_ready = on_ready,
    .on_visit_started = on_visit_started,
    .on_system_event = on_system_event,
    .on_file = on_file,
    .on_visit_done = on_visit_done,
    .on_closed = on_closed,
};

/* ---- guests: reverts and the stall-after-revert deadline ---- */

static void on_stall(uv_timer_t *t)
{
	struct guest *g = t->data;

	log_warnx(
	    "guest %s/%s: no client within vm_stalled_after_revert_timeout (%u s): VM_STALLED",
	    g->vm_server_id, g->vm_id, g->srv->cfg->vm_stalled_after_revert_timeout);
	progress_vm_stalled(g->srv->prog);
	revert_guest(g, "stalled after revert", PROTO_ERR_VM_STALLED);
}

static void arm_stall(struct guest *g)
{
	uv_timer_start(&g->stall, on_stall,
		       (uint64_t)g->srv->cfg->vm_stalled_after_revert_timeout * 1000, 0);
}

/*
 * Reverts G; WHY (NULL for the start-up revert) is logged; a group in
 * flight ends with CODE (0: the connection's own reason, see group_lost()).
 */
static void revert_guest(struct guest *g, const char *why, uint32_t code)
{
	struct server *s = g->srv;
	int rc;

	if (s->stopping || g->index < 0)
		return;
	if (s->o->halt_on_revert && why) {
		log_warnx("guest %s/%s needs a revert (%s): halting (-r)", g->vm_server_id,
			  g->vm_id, why);
		shutdown_server(s, SERVER_EXIT_HALTED);
		return;
	}
	if (g->group) /* its client is going away: the visit is lost */
		group_lost(g, code);
	if (g->conn) {
		struct client_conn *c = g->conn;

		g->conn = NULL;
		client_conn_close(c);
	}
	g->state = GUEST_REVERTING;
	g->revert_ns = util_now_mono_ns();
	arm_stall(g);
	rc = s->backend->ops->revert(s->backend, (unsigned)g->index);
	if (rc < 0)
		log_warnx("guest %s/%s: revert failed: %s (trying again after the stall timeout)",
			  g->vm_server_id, g->vm_id, strerror(-rc));
}

static void on_reverted(void *ctx, unsigned index, int status)
{
	struct server *s = ctx;
	struct guest *g = &s->guests[index];

	if (s->stopping || g->state != GUEST_REVERTING)
		return;
	if (status < 0) {
		log_warnx("guest %s/%s: revert failed: %s", g->vm_server_id, g->vm_id,
			  strerror(-status));
		g->state = GUEST_DOWN; /* the stall timer tries again */
		return;
	}
	g->state = GUEST_STARTING;
	arm_stall(g);
}

static void on_exited(void *ctx, unsigned index, const char *why)
{
	struct server *s = ctx;
	struct guest *g = &s->guests[index];

	if (s->stopping)
		return;
	revert_guest(g, why, PROTO_ERR_CAPTURE_CLIENT_CONNECTION_RESET);
}

/* ---- URL input ---- */

static void on_entry(void *arg, const struct url_entry *e)
{
	struct server *s = arg;
	int rc = url_queue_push(s->queue, e);

	if (rc == 0)
		log_info("%s:%lu: %s is already in this run: not visited again", s->o->url_file,
			 e->line, e->url);
	else if (rc < 0)
		log_warn("%s:%lu: cannot queue %s", s->o->url_file, e->line, e->url);
}

static void on_invalid(void *arg, unsigned long line, const char *raw, size_t len, const char *msg)
{
	struct server *s = arg;

	log_warnx("%s", msg);
	if (outputs_invalid_url(s->out, raw, len, line) < 0)
		log_warn("writing error.log");
}

static const struct url_source_ops source_ops = {.entry = on_entry, .invalid = on_invalid};

static void poll_source(struct server *s)
{
	int rc;
	unsigned long lines;

	if (!s->src || url_source_ended(s->src))
		return;
	lines = url_source_lines(s->src);
	do
		rc = url_source_poll(s->src, &source_ops, s, 10000);
	while (rc == 1);
	if (url_source_lines(s->src) != lines || !s->last_input_ns)
		s->last_input_ns = util_now_mono_ns();
	if (rc < 0)
		log_warn("reading %s", s->o->url_file);
	progress_set_total(s->prog, url_queue_seen(s->queue));
}

static void on_poll(uv_timer_t *t)
{
	struct server *s = t->data;

	poll_source(s);
	dispatch_all(s);
}

static void on_stats(uv_timer_t *t)
{
	struct server *s = t->data;
	struct output_stats st;

	progress_stats(s->prog, &st);
	if (outputs_stats(s->out, &st) < 0)
		log_warn("writing stats.log");
}

static void on_draw(uv_timer_t *t)
{
	struct server *s = t->data;

	progress_draw(s->prog, false);
}

/* ---- listener ---- */

static void on_connection(uv_stream_t *listener, int status)
{
	struct server *s = listener->data;
	struct conn_slot *slot;
	struct client_conn *c;
	struct client_conn_params p = {
	    .cfg = s->cfg,
	    .auth_key = s->setup.keylen ? s->setup.key : NULL,
	    .auth_key_len = s->setup.keylen,
	    .upload_dir = s->upload_dir,
	    .exclusions = s->setup.exclusions,
	    .nexclusions = s->setup.nexclusions,
	    .cb = &conn_cb,
	};
	int rc;

	if (status < 0) {
		log_warnx("accepting a client: %s", uv_strerror(status));
		return;
	}
	slot = calloc(1, sizeof(*slot));
	if (!slot) {
		log_warnx("out of memory: a client is not accepted");
		return;
	}
	slot->srv = s;
	p.ctx = slot;
	rc = client_conn_accept(listener, &p, &c);
	if (rc < 0) {
		log_warnx("accepting a client: %s", uv_strerror(rc));
		free(slot);
		return;
	}
	if (s->stopping)
		client_conn_close(c);
}

static const char *listen_address(const struct server *s)
{
	return s->o->listen_address ? s->o->listen_address : s->cfg->listen_address;
}

static uint16_t listen_port(const struct server *s)
{
	return s->o->listen_port ? s->o->listen_port : s->cfg->listen_port;
}

static int listen_on(struct server *s)
{
	const char *addr = listen_address(s);
	unsigned port = listen_port(s);
	struct sockaddr_storage sa;
	int rc;

	rc = strchr(addr, ':') ? uv_ip6_addr(addr, (int)port, (struct sockaddr_in6 *)&sa)
			       : uv_ip4_addr(addr, (int)port, (struct sockaddr_in *)&sa);
	if (rc == 0)
		rc = uv_tcp_init(&s->loop, &s->listener);
	s->listening = rc == 0;
	s->listener.data = s;
	if (rc == 0)
		rc = uv_tcp_bind(&s->listener, (struct sockaddr *)&sa, 0);
	if (rc == 0)
		rc = uv_listen((uv_stream_t *)&s->listener, 128, on_connection);
	if (rc < 0) {
		log_warnx("cannot listen on %s port %u: %s", addr, port, uv_strerror(rc));
		return -1;
	}
	log_info("listening on %s port %u", addr, port);
	return 0;
}

/* ---- shutdown ---- */

static bool guests_busy(struct server *s)
{
	for (unsigned i = 0; s->backend && i < s->backend->count; i++)
		if (s->backend->ops->busy(s->backend, i))
			return true;
	return false;
}

static void close_handle(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

static void on_shutdown_wait(uv_timer_t *t)
{
	struct server *s = t->data;

	if (guests_busy(s))
		return;
	uv_timer_stop(t);
	if (s->backend) {
		s->backend->ops->free(s->backend);
		s->backend = NULL;
	}
	uv_walk(&s->loop, close_handle, NULL);
}

static void shutdown_server(struct server *s, int code)
{
	if (s->stopping)
		return;
	s->stopping = true;
	s->exit_code = code;
	uv_timer_stop(&s->poll_timer);
	uv_timer_stop(&s->draw_timer);
	uv_timer_stop(&s->stats_timer);
	uv_signal_stop(&s->sigint);
	uv_signal_stop(&s->sigterm);
	if (s->listening)
		uv_close((uv_handle_t *)&s->listener, NULL);
	for (unsigned i = 0; s->backend && i < s->backend->count; i++) {
		struct guest *g = &s->guests[i];

		uv_timer_stop(&g->stall);
		if (g->conn)
			client_conn_close(g->conn);
		s->backend->ops->stop(s->backend, i);
	}
	for (struct guest *g = s->external; g; g = g->next)
		if (g->conn)
			client_conn_close(g->conn);
	uv_timer_start(&s->shutdown_timer, on_shutdown_wait, 0, SHUTDOWN_WAIT_MS);
}

static void on_signal(uv_signal_t *h, int signo)
{
	struct server *s = h->data;

	log_warnx("%s: stopping; URLs not visited yet stay in %s", strsignal(signo),
		  s->o->url_file ? s->o->url_file : "the input");
	shutdown_server(s, SERVER_EXIT_INTERRUPTED);
}

/* ---- setup ---- */

static int start_guests(struct server *s)
{
	struct guest_local_params p = {
	    .loop = &s->loop,
	    .count = s->cfg->sandbox_count,
	    .vm_server_id = CLIENT_SETUP_VM_SERVER,
	    .argv = s->setup.argv,
	    .log_dir = outputs_dir(s->out),
	    .events = {.reverted = on_reverted, .exited = on_exited, .ctx = s},
	};

	if (!s->cfg->sandbox_count) {
		log_info("no local guests: waiting for clients started by hand");
		return 0;
	}
	if (client_setup_local(&s->setup, s->cfg, s->o->client_path, listen_address(s),
			       listen_port(s)) < 0)
		return -1;
	s->backend = guest_local_new(&p);
	s->guests = s->backend ? calloc(s->backend->count, sizeof(*s->guests)) : NULL;
	if (!s->guests) {
		log_warn("local guests");
		return -1;
	}
	for (unsigned i = 0; i < s->backend->count; i++) {
		struct guest *g = &s->guests[i];

		g->srv = s;
		g->index = (int)i;
		snprintf(g->vm_server_id, sizeof(g->vm_server_id), "%s", CLIENT_SETUP_VM_SERVER);
		snprintf(g->vm_id, sizeof(g->vm_id), "%s", s->backend->vm_id(s->backend, i));
		uv_timer_init(&s->loop, &g->stall);
		g->stall.data = g;
		revert_guest(g, NULL, 0); /* every guest starts from a revert, as the original */
	}
	log_info("%u local sandbox guests, client %s", s->backend->count, s->o->client_path);
	return 0;
}

static int open_inputs(struct server *s)
{
	const struct capture_config *cfg = s->cfg;

	s->queue = url_queue_new(cfg->client_default, (int)cfg->client_default_visit_time);
	s->prog = progress_new(s->o->out ? s->o->out : stdout, s->o->tty);
	if (!s->queue || !s->prog)
		return -1;
	s->out = outputs_open(cfg->log_directory);
	if (!s->out) {
		log_warn("cannot open the log directory %s", cfg->log_directory);
		return -1;
	}
	snprintf(s->upload_dir, sizeof(s->upload_dir), "%s/.incoming", cfg->log_directory);
	if (mkdir(s->upload_dir, 0700) < 0 && errno != EEXIST) {
		log_warn("cannot create %s", s->upload_dir);
		return -1;
	}
	if (s->o->url_file && !strcmp(s->o->url_file, "-")) {
		int fl = fcntl(0, F_GETFL);

		if (fl < 0 || fcntl(0, F_SETFL, fl | O_NONBLOCK) < 0 ||
		    !(s->src = url_source_new_fd(0, "standard input"))) {
			log_warn("standard input");
			return -1;
		}
	} else if (s->o->url_file && url_source_open(s->o->url_file, &s->src) < 0) {
		log_warn("cannot read the URL file %s", s->o->url_file);
		return -1;
	}
	return client_setup_init(&s->setup, cfg);
}

static int start_loop(struct server *s)
{
	uv_timer_t *timers[] = {&s->poll_timer, &s->stats_timer, &s->draw_timer,
				&s->shutdown_timer};
	uint64_t stats =
	    s->o->stats_interval_ms ? s->o->stats_interval_ms : SERVER_STATS_INTERVAL_MS;

	if (uv_loop_init(&s->loop) < 0)
		return -1;
	for (size_t i = 0; i < ARRAY_SIZE(timers); i++) {
		uv_timer_init(&s->loop, timers[i]);
		timers[i]->data = s;
	}
	uv_signal_init(&s->loop, &s->sigint);
	uv_signal_init(&s->loop, &s->sigterm);
	s->sigint.data = s->sigterm.data = s;
	uv_signal_start(&s->sigint, on_signal, SIGINT);
	uv_signal_start(&s->sigterm, on_signal, SIGTERM);
	uv_timer_start(&s->poll_timer, on_poll, 0, SERVER_POLL_MS);
	uv_timer_start(&s->stats_timer, on_stats, stats, stats);
	if (s->o->tty)
		uv_timer_start(&s->draw_timer, on_draw, 1000, 1000);
	return 0;
}

static void cleanup(struct server *s)
{
	struct output_stats st;

	while (s->retries) {
		struct group *g = s->retries;

		s->retries = g->next;
		for (size_t i = 0; i < g->n; i++)
			log_warnx("%s: not visited (the server stopped before its retry)",
				  g->urls[i].url);
		group_free(g);
	}
	if (s->queue && url_queue_len(s->queue))
		log_warnx("%zu URLs were not visited", url_queue_len(s->queue));
	if (s->out) {
		progress_stats(s->prog, &st);
		outputs_stats(s->out, &st);
	}
	if (s->prog)
		progress_print_summary(s->prog);
	while (s->external) {
		struct guest *g = s->external;

		s->external = g->next;
		free(g);
	}
	free(s->guests);
	client_setup_free(&s->setup);
	url_source_free(s->src);
	url_queue_free(s->queue);
	progress_free(s->prog);
	if (outputs_close(s->out) < 0)
		log_warn("closing the logs");
}

int server_run(const struct server_opts *o)
{
	struct server *s = calloc(1, sizeof(*s));
	int code = SERVER_EXIT_SETUP;

	if (!s) {
		log_warnx("out of memory");
		return SERVER_EXIT_SETUP;
	}
	s->o = o;
	s->cfg = o->cfg;
	if (start_loop(s) < 0) {
		free(s);
		return SERVER_EXIT_SETUP;
	}
	if (open_inputs(s) == 0 && listen_on(s) == 0 && start_guests(s) == 0) {
		poll_source(s);
		uv_run(&s->loop, UV_RUN_DEFAULT);
		code = s->exit_code;
	} else {
		shutdown_server(s, SERVER_EXIT_SETUP);
		uv_run(&s->loop, UV_RUN_DEFAULT);
	}
	if (uv_loop_close(&s->loop) != 0)
		log_warnx("event loop closed with handles still open");
	cleanup(s);
	free(s);
	return code;
}
