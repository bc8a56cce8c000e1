/*
 * guest_local.c - see guest_local.h.
 *
 * Every spawn gets a fresh uv_process_t (freed in its close callback), so a
 * restart never waits for the old handle to close.
 */
#include "server/guest_local.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"

#define BACKOFF_MIN_MS 1000

struct local_proc {
	uv_process_t h;
	struct local_guest *g; /* NULL once the guest forgot it */
};

struct local_guest {
	struct guest_local *owner;
	unsigned index;
	char vm_id[32];
	char log_path[4096];
	struct local_proc *proc; /* the running client, NULL if none */
	uv_timer_t kill_timer;   /* SIGKILL after SIGTERM */
	uv_timer_t start_timer;  /* delayed (backed-off) start */
	uint64_t started_ns;
	uint64_t backoff_ms;
	bool revert_pending; /* start a new client once the old one is gone */
	bool stopping;       /* stop(): never start again */
};

struct guest_local {
	struct guest_backend base; /* first: the server sees only this */
	struct guest_local_params p;
	char **argv; /* owned copy of p.argv plus "-b" VM_ID (per spawn) */
	size_t argc;
	struct local_guest *g;
	unsigned closing; /* handles still to close in free() */
};

static struct guest_local *owner_of(const struct guest_backend *b)
{
	return (struct guest_local *)(uintptr_t)b;
}

static void proc_closed(uv_handle_t *h)
{
	free(h->data);
}

static void release_proc(struct local_guest *g)
{
	if (!g->proc)
		return;
	g->proc->g = NULL;
	uv_close((uv_handle_t *)&g->proc->h, proc_closed);
	g->proc = NULL;
	uv_timer_stop(&g->kill_timer);
}

static int spawn_client(struct local_guest *g);

/* The revert is over, one way or the other. */
static void revert_done(struct local_guest *g, int status)
{
	const struct guest_backend_events *ev = &g->owner->p.events;

	g->revert_pending = false;
	if (ev->reverted)
		ev->reverted(ev->ctx, g->index, status);
}

static void on_start_timer(uv_timer_t *t)
{
	struct local_guest *g = t->data;
	int rc;

	if (g->stopping)
		return;
	rc = spawn_client(g);
	revert_done(g, rc);
}

/* Starts the client now, or after the back-off if the last one died young. */
static void start_client(struct local_guest *g)
{
	if (g->backoff_ms) {
		log_info("guest %s: starting its client again in %.1f s", g->vm_id,
			 (double)g->backoff_ms / 1000);
		uv_timer_start(&g->start_timer, on_start_timer, g->backoff_ms, 0);
		return;
	}
	on_start_timer(&g->start_timer);
}

static void on_exit_cb(uv_process_t *h, int64_t status, int signo)
{
	struct local_proc *p = h->data;
	struct local_guest *g = p->g;
	char why[96];

	if (!g) {
		uv_close((uv_handle_t *)h, proc_closed);
		return;
	}
	if (signo)
		snprintf(why, sizeof(why), "its client was killed by signal %d", signo);
	else
		snprintf(why, sizeof(why), "its client exited with status %lld", (long long)status);
	release_proc(g);
	if (util_now_mono_ns() - g->started_ns < (uint64_t)GUEST_LOCAL_QUICK_MS * 1000000)
		g->backoff_ms = g->backoff_ms ? g->backoff_ms * 2 : BACKOFF_MIN_MS;
	else
		g->backoff_ms = 0;
	if (g->backoff_ms > GUEST_LOCAL_BACKOFF_MAX_MS)
		g->backoff_ms = GUEST_LOCAL_BACKOFF_MAX_MS;
	if (g->stopping)
		return;
	if (g->revert_pending) {
		start_client(g);
		return;
	}
	log_warnx("guest %s: %s (log: %s)", g->vm_id, why, g->log_path);
	if (g->owner->p.events.exited)
		g->owner->p.events.exited(g->owner->p.events.ctx, g->index, why);
}

static int open_log(const struct local_guest *g)
{
	int fd = open(g->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);

	if (fd < 0)
		log_warn("guest %s: cannot open its client log %s", g->vm_id, g->log_path);
	return fd;
}

static int spawn_client(struct local_guest *g)
{
	struct guest_local *o = g->owner;
	struct local_proc *p = calloc(1, sizeof(*p));
	uv_stdio_container_t stdio[3];
	uv_process_options_t opt = {0};
	int fd, rc;

	if (!p)
		return -ENOMEM;
	fd = open_log(g);
	if (fd < 0) {
		free(p);
		return -errno;
	}
	o->argv[o->argc - 1] = g->vm_id; /* after "-b": the last word */
	stdio[0].flags = UV_IGNORE;
	stdio[1].flags = stdio[2].flags = UV_INHERIT_FD;
	stdio[1].data.fd = stdio[2].data.fd = fd;
	opt.file = o->argv[0];
	opt.args = o->argv;
	opt.exit_cb = on_exit_cb;
	opt.stdio = stdio;
	opt.stdio_count = 3;
	p->h.data = p;
	p->g = g;
	rc = uv_spawn(o->p.loop, &p->h, &opt);
	close(fd);
	if (rc < 0) {
		log_warnx("guest %s: cannot start %s: %s", g->vm_id, o->argv[0], uv_strerror(rc));
		uv_close((uv_handle_t *)&p->h, proc_closed);
		return rc;
	}
	g->proc = p;
	g->started_ns = util_now_mono_ns();
	log_info("guest %s: client started (pid %d, log %s)", g->vm_id, p->h.pid, g->log_path);
	return 0;
}

static void on_kill_timer(uv_timer_t *t)
{
	struct local_guest *g = t->data;

	if (g->proc) {
		log_warnx("guest %s: client did not stop within %d s: killing it", g->vm_id,
			  GUEST_LOCAL_KILL_MS / 1000);
		uv_process_kill(&g->proc->h, SIGKILL);
	}
}

static void terminate(struct local_guest *g)
{
	if (!g->proc)
		return;
	uv_process_kill(&g->proc->h, SIGTERM);
	uv_timer_start(&g->kill_timer, on_kill_timer, GUEST_LOCAL_KILL_MS, 0);
}

static int local_revert(struct guest_backend *b, unsigned index)
{
	struct local_guest *g;

	if (index >= b->count)
		return -EINVAL;
	g = &owner_of(b)->g[index];
	if (g->stopping)
		return -ESHUTDOWN;
	if (g->revert_pending)
		return 0; /* already on its way */
	g->revert_pending = true;
	uv_timer_stop(&g->start_timer);
	if (g->proc)
		terminate(g); /* the new client starts when this one has exited */
	else
		start_client(g);
	return 0;
}

static void local_stop(struct guest_backend *b, unsigned index)
{
	struct local_guest *g;

	if (index >= b->count)
		return;
	g = &owner_of(b)->g[index];
	g->stopping = true;
	g->revert_pending = false;
	uv_timer_stop(&g->start_timer);
	terminate(g);
}

static int local_busy(const struct guest_backend *b, unsigned index)
{
	return index < b->count && owner_of(b)->g[index].proc != NULL;
}

static const char *local_vm_id(const struct guest_backend *b, unsigned index)
{
	return index < b->count ? owner_of(b)->g[index].vm_id : NULL;
}

static void timer_closed(uv_handle_t *h)
{
	struct local_guest *g = h->data;
	struct guest_local *o = g->owner;

	if (--o->closing)
		return;
	for (unsigned i = 0; i < o->base.count; i++)
		release_proc(&o->g[i]);
	free(o->g);
	free(o->argv);
	free(o);
}

/* Frees the backend; its clients must have been stopped (busy() false) before. */
static void local_free(struct guest_backend *b)
{
	struct guest_local *o = owner_of(b);

	if (!o)
		return;
	o->closing = 2 * b->count;
	for (unsigned i = 0; i < b->count; i++) {
		uv_close((uv_handle_t *)&o->g[i].kill_timer, timer_closed);
		uv_close((uv_handle_t *)&o->g[i].start_timer, timer_closed);
	}
}

static const struct guest_backend_ops local_ops = {
    .name = "local",
    .revert = local_revert,
    .stop = local_stop,
    .busy = local_busy,
    .free = local_free,
};

static int init_guests(struct guest_local *o)
{
	for (unsigned i = 0; i < o->p.count; i++) {
		struct local_guest *g = &o->g[i];

		g->owner = o;
		g->index = i;
		snprintf(g->vm_id, sizeof(g->vm_id), "guest-%u", i + 1);
		if (snprintf(g->log_path, sizeof(g->log_path), "%s/client-%s.log", o->p.log_dir,
			     g->vm_id) >= (int)sizeof(g->log_path)) {
			errno = ENAMETOOLONG;
			return -1;
		}
	}
	/* only now, so a failure above leaves no handle in the loop */
	for (unsigned i = 0; i < o->p.count; i++) {
		struct local_guest *g = &o->g[i];

		uv_timer_init(o->p.loop, &g->kill_timer);
		uv_timer_init(o->p.loop, &g->start_timer);
		g->kill_timer.data = g->start_timer.data = g;
	}
	return 0;
}

struct guest_backend *guest_local_new(const struct guest_local_params *p)
{
	struct guest_local *o;
	size_t n = 0;

	if (!p->loop || !p->argv || !p->argv[0] || !p->log_dir || p->count < 1 || p->count > 256) {
		errno = EINVAL;
		return NULL;
	}
	while (p->argv[n])
		n++;
	o = calloc(1, sizeof(*o));
	if (!o || !(o->argv = calloc(n + 3, sizeof(*o->argv))) ||
	    !(o->g = calloc(p->count, sizeof(*o->g)))) {
		if (o)
			free(o->argv);
		free(o);
		errno = ENOMEM;
		return NULL;
	}
	o->p = *p;
	memcpy(o->argv, p->argv, n * sizeof(*o->argv));
	o->argv[n] = (char *)"-b";
	o->argc = n + 2; /* argv[n + 1] is set per spawn, argv[n + 2] stays NULL */
	o->base.ops = &local_ops;
	o->base.count = p->count;
	o->base.vm_server_id = p->vm_server_id;
	o->base.vm_id = local_vm_id;
	if (init_guests(o) < 0) {
		free(o->g);
		free(o->argv);
		free(o);
		return NULL;
	}
	return &o->base;
}
