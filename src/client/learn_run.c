/*
 * learn_run.c - see learn_run.h.
 */
#include "client/learn_run.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "common/log.h"
#include "common/protocol.h"

struct lr {
	const struct learn_run_opts *o;
	struct learn *l;
	struct learn_run_stats *st;
	uv_loop_t loop;
	uv_signal_t sigint, sigterm;
	struct group_visit *gv;
	size_t next;     /* visits started */
	bool add_failed; /* learn_add_event ran out of memory */
	int rc;
};

static void start_next(struct lr *r);

static void on_event(struct group_visit *gv, const struct capture_event *ev, void *arg)
{
	struct lr *r = arg;

	(void)gv;
	r->st->events++;
	if (learn_add_event(r->l, ev) < 0)
		r->add_failed = true;
}

static void on_done(struct group_visit *gv, const struct group_visit_result *res, void *arg)
{
	struct lr *r = arg;

	r->st->visits++;
	r->st->lost += res->lost;
	if (res->major) {
		r->st->errors++;
		log_warnx("visit %zu: %s (minor %u): its events are learnt all the same", r->next,
			  proto_error_name(res->major), res->minor);
	} else {
		log_info("visit %zu: %llu events", r->next, (unsigned long long)res->reported);
	}
	if (res->lost)
		log_warnx("visit %zu: %llu sensor records were lost", r->next,
			  (unsigned long long)res->lost);
	group_visit_free(gv);
	r->gv = NULL;
	start_next(r);
}

static void stop(struct lr *r, int rc)
{
	if (rc < 0)
		r->rc = rc;
	if (r->gv) {
		group_visit_free(r->gv); /* aborts: the guest is killed and reverted */
		r->gv = NULL;
	}
	uv_signal_stop(&r->sigint);
	uv_signal_stop(&r->sigterm);
}

static void start_next(struct lr *r)
{
	const struct learn_run_opts *o = r->o;
	struct group_visit_callbacks cb = {NULL, on_event, on_done, r};
	struct proto_item item = {.id = "null"};
	struct proto_visit v = {.program = (char *)o->program,
				.visit_time_s = o->visit_time_s,
				.n_items = 1,
				.items = &item};
	char id[32];

	if (r->add_failed) {
		log_warnx("out of memory while learning");
		stop(r, -1);
		return;
	}
	if (r->next >= (size_t)o->visits * o->n_urls) {
		stop(r, 0);
		return;
	}
	item.url = o->urls[r->next % o->n_urls];
	snprintf(id, sizeof(id), "learn-%zu", r->next + 1);
	v.identifier = id;
	r->next++;
	log_info("visit %zu of %zu: %s with %s for %u s", r->next, (size_t)o->visits * o->n_urls,
		 item.url, o->program, o->visit_time_s);
	if (learn_begin_run(r->l) < 0 ||
	    group_visit_start(&r->loop, &o->visit, &v, &cb, &r->gv) < 0) {
		log_warn("visit %zu: cannot start", r->next);
		stop(r, -1);
	}
}

static void on_signal(uv_signal_t *h, int signum)
{
	struct lr *r = h->data;

	log_warnx("%s: aborting the visit and stopping", strsignal(signum));
	stop(r, -1);
}

/* The signal handles (the loop itself is initialised). */
static int init_handles(struct lr *r)
{
	int rc = uv_signal_init(&r->loop, &r->sigint);

	if (rc == 0)
		rc = uv_signal_init(&r->loop, &r->sigterm);
	r->sigint.data = r->sigterm.data = r;
	if (rc == 0)
		rc = uv_signal_start(&r->sigint, on_signal, SIGINT);
	if (rc == 0)
		rc = uv_signal_start(&r->sigterm, on_signal, SIGTERM);
	if (rc)
		log_warnx("event loop: %s", uv_strerror(rc));
	return rc ? -1 : 0;
}

static void close_all(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

/*
 * Guest programs inherit descriptors 0-2: /dev/null for them, the log on a
 * close-on-exec copy of stderr.  *SAVED gets copies of 0-2 to restore;
 * returns the log stream or NULL.
 */
static FILE *quiet_stdio(int saved[3])
{
	int null = open("/dev/null", O_RDWR | O_CLOEXEC), fd;
	FILE *logf = NULL;

	for (fd = 0; fd < 3; fd++)
		saved[fd] = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	fd = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
	if (fd >= 0 && !(logf = fdopen(fd, "w")))
		close(fd);
	if (null < 0 || !logf || saved[0] < 0 || saved[1] < 0 || saved[2] < 0) {
		log_warn("cannot set up the standard descriptors");
		if (logf)
			fclose(logf);
		for (fd = 0; fd < 3; fd++)
			if (saved[fd] >= 0)
				close(saved[fd]);
		if (null >= 0)
			close(null);
		return NULL;
	}
	setvbuf(logf, NULL, _IOLBF, 0);
	log_init("capture-client", log_level, logf);
	fflush(stdout);
	for (fd = 0; fd < 3; fd++)
		if (dup2(null, fd) < 0)
			log_warn("dup2 /dev/null to %d", fd);
	close(null);
	return logf;
}

static void restore_stdio(FILE *logf, int saved[3])
{
	fflush(logf);
	for (int fd = 0; fd < 3; fd++) {
		if (dup2(saved[fd], fd) < 0)
			log_warn("restoring descriptor %d", fd);
		close(saved[fd]);
	}
	log_init("capture-client", log_level, stderr);
	fclose(logf);
}

int learn_run(const struct learn_run_opts *o, struct learn *l, struct learn_run_stats *st)
{
	struct lr r = {.o = o, .l = l, .st = st};
	int saved[3];
	FILE *logf;

	memset(st, 0, sizeof(*st));
	if (!o->n_urls || !o->visits)
		return 0;
	logf = quiet_stdio(saved);
	if (!logf)
		return -1;
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
		log_warn("cannot become a child subreaper; orphans will be reaped by init");
	if (uv_loop_init(&r.loop) == 0) {
		if (init_handles(&r) == 0) {
			start_next(&r);
			uv_run(&r.loop, UV_RUN_DEFAULT);
		} else {
			r.rc = -1;
		}
		uv_walk(&r.loop, close_all, NULL);
		uv_run(&r.loop, UV_RUN_DEFAULT);
		if (uv_loop_close(&r.loop) != 0)
			log_warnx("event loop: handles left open");
	} else {
		log_warnx("event loop: cannot initialise it");
		r.rc = -1;
	}
	restore_stdio(logf, saved);
	return r.rc;
}
