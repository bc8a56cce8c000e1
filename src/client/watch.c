/*
 * watch.c - see watch.h.
 */
#include "client/watch.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "client/classify.h"
#include "client/event_builder.h"
#include "client/proc_table.h"
#include "common/log.h"
#include "common/util.h"

struct origin {
	char *exe;
	int family; /* AF_INET/AF_INET6 of ADDR, 0 = any address */
	unsigned char addr[16];
	uint16_t port;
};

struct watch {
	struct exclusion_set *excl; /* borrowed */
	struct origin origins[WATCH_MAX_ORIGINS];
	size_t n_origins;
	struct sandbox_visit *visit; /* borrowed, may be NULL */
	struct proc_table *procs;
	struct event_builder *builder;
	watch_emit_fn emit;
	void *ctx;
	struct watch_counts counts;
};

struct watch *watch_new(struct exclusion_set *excl, uint32_t harness_pid, watch_emit_fn emit,
			void *ctx)
{
	struct watch *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	w->excl = excl;
	w->emit = emit;
	w->ctx = ctx;
	w->procs = proc_table_new();
	w->builder = w->procs ? event_builder_new(w->procs, harness_pid) : NULL;
	if (!w->builder) {
		watch_free(w);
		return NULL;
	}
	return w;
}

void watch_free(struct watch *w)
{
	if (!w)
		return;
	event_builder_free(w->builder);
	proc_table_free(w->procs);
	for (size_t i = 0; i < w->n_origins; i++)
		free(w->origins[i].exe);
	free(w);
}

struct event_builder *watch_builder(struct watch *w)
{
	return w->builder;
}

struct proc_table *watch_procs(struct watch *w)
{
	return w->procs;
}

void watch_set_visit(struct watch *w, struct sandbox_visit *v)
{
	w->visit = v;
}

int watch_build(struct watch *w, const struct sensor_record *rec, struct capture_event *ev)
{
	int rc = event_builder_build(w->builder, rec, ev);

	if (rc < 0) {
		w->counts.undecodable++;
		return -1;
	}
	/* excluded or not, a path the sensor saw need not be repeated from fanotify */
	if (rc > 0 && w->visit)
		sandbox_visit_note(w->visit, ev);
	return rc;
}

/* ADDR ("1.2.3.4", "::1") into FAMILY and BIN; false if it is neither. */
static bool parse_addr(const char *addr, int *family, unsigned char bin[16])
{
	if (inet_pton(AF_INET, addr, bin) == 1) {
		*family = AF_INET;
		return true;
	}
	if (inet_pton(AF_INET6, addr, bin) == 1) {
		*family = AF_INET6;
		return true;
	}
	return false;
}

int watch_expect_connection(struct watch *w, const char *exe, const char *host, uint16_t port)
{
	struct origin *o;

	if (w->n_origins >= WATCH_MAX_ORIGINS) {
		errno = ENOSPC;
		return -1;
	}
	o = &w->origins[w->n_origins];
	*o = (struct origin){.port = port};
	if (host[0] && !parse_addr(host, &o->family, o->addr)) {
		errno = EINVAL;
		return -1;
	}
	o->exe = strdup(exe);
	if (!o->exe)
		return -1;
	w->n_origins++;
	return 0;
}

/* "1.2.3.4:80" or "[::1]:80" (event_builder_format_addr) against O. */
static bool origin_matches(const struct origin *o, const char *object)
{
	const char *colon = strrchr(object, ':');
	char addr[INET6_ADDRSTRLEN];
	unsigned char bin[16];
	size_t len;
	int family;

	if (!colon || strtoul(colon + 1, NULL, 10) != o->port)
		return false;
	if (!o->family)
		return true;
	len = (size_t)(colon - object);
	if (len >= 2 && object[0] == '[' && object[len - 1] == ']') {
		object++;
		len -= 2;
	}
	if (len >= sizeof(addr))
		return false;
	memcpy(addr, object, len);
	addr[len] = '\0';
	return parse_addr(addr, &family, bin) && family == o->family &&
	       memcmp(bin, o->addr, family == AF_INET ? 4 : 16) == 0;
}

static bool is_origin(const struct watch *w, const struct capture_event *ev)
{
	if (ev->type != EVENT_CONNECTION || strcmp(ev->action, "tcp-connection") != 0 ||
	    !ev->process || !ev->object1)
		return false;
	for (size_t i = 0; i < w->n_origins; i++) {
		if (strcmp(w->origins[i].exe, ev->process) == 0 &&
		    origin_matches(&w->origins[i], ev->object1))
			return true;
	}
	return false;
}

void watch_handle(const struct capture_event *ev, void *ctx)
{
	struct watch *w = ctx;

	if (is_origin(w, ev) || !classify_is_reported(w->excl, ev)) {
		w->counts.excluded[ev->type]++;
		return;
	}
	w->counts.reported[ev->type]++;
	w->emit(ev, w->ctx);
}

int watch_on_record(const struct sensor_record *rec, void *ctx)
{
	struct watch *w = ctx;
	struct capture_event ev;

	if (watch_build(w, rec, &ev) > 0)
		watch_handle(&ev, w);
	return 0;
}

void watch_drain(struct sensor *s)
{
	long n;

	if (!s)
		return; /* a visit without the sensor (benchmarks) */
	do {
		n = sensor_drain(s);
		if (n < 0) {
			log_warnx("reading the sensor's ring buffer: %s", strerror((int)-n));
			break;
		}
	} while (n > 0);
}

const struct watch_counts *watch_counts(const struct watch *w)
{
	return &w->counts;
}

uint64_t watch_reported_total(const struct watch *w)
{
	uint64_t total = 0;

	for (int t = 0; t < EVENT_TYPE_COUNT; t++)
		total += w->counts.reported[t];
	return total;
}

uint64_t watch_lost(const struct watch *w, const struct sensor_stats *st, uint64_t fanotify_lost)
{
	return st->drops_total + st->malformed + w->counts.undecodable + fanotify_lost;
}

/*
 * The child reports a failed exec through a close-on-exec pipe, so
 * "program not found" is an error of the run, not an event of it.
 */
int watch_spawn(const char *cgroup, char *const argv[], pid_t *pid, int *exec_errno)
{
	CLEANUP_FD int cgfd = open(cgroup, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	/* CLONE_CLEAR_SIGHAND: the child must not run the client's libuv signal handlers */
	struct clone_args args = {.flags = CLONE_INTO_CGROUP | CLONE_CLEAR_SIGHAND,
				  .exit_signal = SIGCHLD};
	int pipefd[2], err = 0;
	ssize_t n;

	*exec_errno = 0;
	if (cgfd < 0 || pipe2(pipefd, O_CLOEXEC) < 0)
		return -1;
	args.cgroup = (uint64_t)cgfd;
	*pid = (pid_t)syscall(SYS_clone3, &args, sizeof(args));
	if (*pid < 0) {
		err = errno;
		close(pipefd[0]);
		close(pipefd[1]);
		errno = err;
		return -1;
	}
	if (*pid == 0) {
		sigset_t none;

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		execvp(argv[0], argv);
		err = errno;
		(void)!write(pipefd[1], &err, sizeof(err));
		_exit(127);
	}
	close(pipefd[1]);
	n = read(pipefd[0], &err, sizeof(err));
	close(pipefd[0]);
	if (n == sizeof(err)) {
		waitpid(*pid, NULL, 0);
		*exec_errno = err;
		errno = err;
		return -1;
	}
	return 0;
}
