/*
 * remote.c - see remote.h.
 *
 * One connection at a time.  Bytes from the server go to the session; what
 * the session has to say is written with one uv_write in flight at a time,
 * so that an upload is read from its file only as fast as the socket takes
 * it (server_session_output() tops the buffer up with parts on each call).
 * A connection that ends before the handshake is complete counts as a
 * failed attempt, like one that could not be made: the wait before the next
 * attempt doubles and --connect-retries applies.
 */
#include "client/remote.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "client/monitor.h"
#include "client/server_session.h"
#include "common/log.h"
#include "common/util.h"

struct remote {
	const struct remote_opts *o;
	uv_loop_t loop;
	uv_tcp_t tcp;
	uv_connect_t connect_req;
	uv_getaddrinfo_t gai_req;
	uv_timer_t retry;    /* backoff before the next attempt */
	uv_timer_t deadline; /* one connection attempt */
	uv_timer_t upload;   /* wait for file-accept */
	uv_signal_t sigint, sigterm;
	struct addrinfo *addrs; /* from getaddrinfo; freed when the attempt ends */
	struct addrinfo *next_addr;
	bool resolving;
	bool tcp_open;   /* tcp initialised and its close callback not yet run */
	bool connected;  /* TCP connected: the session is fed */
	bool writing;    /* one uv_write in flight */
	bool identified; /* this connection completed the handshake */
	bool ever_identified;
	bool stopping;
	int exit_code;
	unsigned failures; /* consecutive failed attempts */
	char peer[INET6_ADDRSTRLEN + 8];
	char workdir[64]; /* private directory for archives */
	struct server_session *session;
	/* the visit in flight */
	struct group_visit *gv;
	char visit_id[64];         /* for the log */
	struct proto_visit report; /* the request with each item's pid, program and time */
	char (*item_times)[32];
	bool malicious;
	uint32_t major, minor;
	char archive[PATH_MAX]; /* waiting for upload or deletion, "" if none */
};

uint64_t remote_backoff_ms(unsigned failures)
{
	uint64_t ms = REMOTE_BACKOFF_FIRST_MS;

	for (unsigned i = 1; i < failures && ms < REMOTE_BACKOFF_MAX_MS; i++)
		ms *= 2;
	return ms < REMOTE_BACKOFF_MAX_MS ? ms : REMOTE_BACKOFF_MAX_MS;
}

static void connection_lost(struct remote *r, const char *why);

/* ---- writing ---- */

static void flush(struct remote *r);

static void on_written(uv_write_t *req, int status)
{
	struct remote *r = req->data;

	free(req);
	r->writing = false;
	if (status == UV_ECANCELED)
		return; /* the connection is closing */
	if (status < 0) {
		connection_lost(r, uv_strerror(status));
		return;
	}
	flush(r); /* the next chunk: an upload goes on here */
}

/* Writes what the session holds (one write in flight; the data is copied). */
static void flush(struct remote *r)
{
	struct buf *b;
	uv_write_t *req;
	uv_buf_t ub;
	int rc;

	if (!r->connected || r->writing)
		return;
	b = server_session_output(r->session);
	/* the output call may end an upload, whose callback may have flushed already */
	if (b->len == 0 || r->writing || !r->connected)
		return;
	req = malloc(sizeof(*req) + b->len);
	if (!req) {
		connection_lost(r, "out of memory");
		return;
	}
	memcpy(req + 1, b->data, b->len);
	ub = uv_buf_init((char *)(req + 1), (unsigned)b->len);
	buf_consume(b, b->len);
	req->data = r;
	rc = uv_write(req, (uv_stream_t *)&r->tcp, &ub, 1, on_written);
	if (rc < 0) {
		free(req);
		connection_lost(r, uv_strerror(rc));
		return;
	}
	r->writing = true;
}

/* ---- the visit ---- */

static void visit_reset(struct remote *r)
{
	if (r->archive[0] && unlink(r->archive) < 0 && errno != ENOENT)
		log_warn("cannot delete %s", r->archive);
	r->archive[0] = '\0';
	free(r->report.items);
	free(r->item_times);
	memset(&r->report, 0, sizeof(r->report));
	r->report.items = NULL;
	r->item_times = NULL;
}

/* Empties DIR (archives and the pcap of an aborted guest; nothing else is put there). */
static void empty_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	while (d && (e = readdir(d))) {
		char path[PATH_MAX];

		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (unlink(path) < 0)
			log_warn("cannot delete %s", path);
	}
	if (d)
		closedir(d);
}

/* Aborts the visit in flight, if any (its guest is killed and reverted). */
static void visit_abort(struct remote *r)
{
	if (r->gv) {
		group_visit_free(r->gv);
		r->gv = NULL;
		empty_dir(r->workdir); /* an aborted guest's pcap stays behind */
	}
	uv_timer_stop(&r->upload);
	visit_reset(r);
}

static void send_finish(struct remote *r)
{
	const char *name = r->major ? proto_error_name(r->major) : NULL;

	/* without a report (out of memory) the stored request is sent back */
	if (server_session_visit_finish(r->session, r->report.items ? &r->report : NULL,
					r->malicious, r->major, r->minor) < 0)
		log_warn("visit %s: cannot send the end of the visit", r->visit_id);
	else if (r->major)
		log_info("visit %s: %serror %s (minor %u)", r->visit_id,
			 r->malicious ? "malicious, " : "", name ? name : "?", r->minor);
	visit_reset(r);
	flush(r);
}

static void on_upload_timeout(uv_timer_t *t)
{
	struct remote *r = t->data;

	server_session_upload_timeout(r->session); /* on_upload follows */
}

static void session_upload(struct server_session *s, const char *name, int status,
			   const char *reason, void *arg)
{
	struct remote *r = arg;

	(void)s;
	uv_timer_stop(&r->upload);
	if (!r->connected)
		return; /* connection lost: the visit is aborted elsewhere */
	if (status == 0)
		log_info("visit %s: uploaded %s", r->visit_id, name);
	else
		log_warnx("visit %s: upload of %s failed: %s", r->visit_id, name, reason);
	send_finish(r);
}

/* The server's options ask for this visit's archive. */
static bool wants_archive(const struct remote *r)
{
	const struct server_session_options *o = server_session_options(r->session);

	return r->malicious ? o->collect_modified_files || o->capture_packets_malicious
			    : o->capture_packets_benign;
}

static void start_upload(struct remote *r)
{
	char name[300];

	snprintf(name, sizeof(name), "%s.zip", r->visit_id);
	if (server_session_upload(r->session, name, r->archive) < 0) {
		log_warn("visit %s: cannot upload %s", r->visit_id, r->archive);
		send_finish(r);
		return;
	}
	uv_timer_start(&r->upload, on_upload_timeout, REMOTE_UPLOAD_ACCEPT_MS, 0);
	flush(r);
}

static void log_result(const struct remote *r, const struct group_visit_result *res)
{
	if (res->malicious)
		log_info("visit %s: malicious (%llu events)", r->visit_id,
			 (unsigned long long)res->reported);
	else if (!res->major)
		log_info("visit %s: benign", r->visit_id);
	if (res->lost)
		log_warnx("visit %s: %llu sensor records were lost", r->visit_id,
			  (unsigned long long)res->lost);
}

static void visit_done(struct group_visit *gv, const struct group_visit_result *res, void *arg)
{
	struct remote *r = arg;

	for (size_t i = 0; i < res->n_urls && i < r->report.n_items; i++) {
		struct proto_item *it = &r->report.items[i];

		it->process_id = res->urls[i].pid;
		it->major_error_code = res->urls[i].major; /* its own, in a group of several */
		it->minor_error_code = res->urls[i].minor;
		if (res->urls[i].start_ns) {
			event_format_time(res->urls[i].start_ns, r->item_times[i], 32);
			it->time = r->item_times[i];
		}
	}
	r->malicious = res->malicious;
	r->major = res->major;
	r->minor = res->minor;
	snprintf(r->archive, sizeof(r->archive), "%s", res->archive);
	log_result(r, res);
	group_visit_free(gv);
	r->gv = NULL;
	if (r->archive[0] && wants_archive(r) &&
	    server_session_state(r->session) == SERVER_SESSION_VISITING)
		start_upload(r);
	else
		send_finish(r);
}

static void visit_started(struct group_visit *gv, void *arg)
{
	struct remote *r = arg;

	if (server_session_visit_start(r->session, &r->report, group_visit_algorithm(gv)) < 0)
		log_warn("visit %s: cannot send the start of the visit", r->visit_id);
	flush(r);
}

static void visit_event(struct group_visit *gv, const struct capture_event *ev, void *arg)
{
	struct remote *r = arg;

	(void)gv;
	if (server_session_system_event(r->session, ev) < 0)
		log_warn("visit %s: cannot send a system-event", r->visit_id);
	flush(r);
}

/*
 * The server accepted us: it sends its options right after our <connect>
 * (as the original did), or at the latest a ping or a visit.  Until then a
 * dropped connection (a wrong key) is a failed attempt.
 */
static void accepted(struct remote *r)
{
	if (r->identified)
		return;
	r->identified = r->ever_identified = true;
	r->failures = 0;
}

/* A copy of the request whose items can carry what the visit learns. */
static int report_init(struct remote *r, const struct proto_visit *v)
{
	size_t n = v->n_items ? v->n_items : 1; /* a group without URLs ends as an error */

	r->report = *v;
	r->report.items = calloc(n, sizeof(*r->report.items));
	r->item_times = calloc(n, sizeof(*r->item_times));
	if (!r->report.items || !r->item_times) {
		visit_reset(r);
		return -1;
	}
	for (size_t i = 0; i < v->n_items; i++) {
		r->report.items[i].url = v->items[i].url;
		r->report.items[i].id = v->items[i].id;
	}
	return 0;
}

static void session_visit(struct server_session *s, const struct proto_msg *msg, void *arg)
{
	struct remote *r = arg;
	const struct proto_visit *v = &msg->u.visit;
	struct group_visit_callbacks cb = {visit_started, visit_event, visit_done, r};
	struct group_visit_opts go = r->o->visit;
	const struct server_session_options *so = server_session_options(s);

	accepted(r);
	snprintf(r->visit_id, sizeof(r->visit_id), "%s", v->identifier);
	for (size_t i = 0; i < v->n_items; i++)
		log_info("visit %s: %s with %s for %u s", v->identifier, v->items[i].url,
			 v->program, v->visit_time_s);
	if (go.sandbox && (so->collect_modified_files || so->capture_packets_malicious ||
			   so->capture_packets_benign))
		go.visit.collect_dir = r->workdir;
	/* bench/visit only: measures a page load without the sensor (see group_visit.h) */
	go.no_sensor = getenv("CAPTURE_BENCH_NO_SENSOR") != NULL;
	if (go.no_sensor)
		log_warnx("visit %s: CAPTURE_BENCH_NO_SENSOR is set: no kernel sensor, no verdict",
			  v->identifier);
	if (report_init(r, v) < 0 || group_visit_start(&r->loop, &go, v, &cb, &r->gv) < 0) {
		log_warn("visit %s: cannot start", v->identifier);
		r->malicious = false;
		r->major = PROTO_ERR_VISITATION_EXCEPTION;
		r->minor = 0;
		send_finish(r);
	}
}

static void session_option(struct server_session *s, const char *name, const char *value, void *arg)
{
	(void)s;
	log_debug("option %s=%s", name, value);
	accepted(arg);
}

static void session_closed(struct server_session *s, const char *reason, void *arg)
{
	struct remote *r = arg;

	(void)s;
	log_warnx("server %s: %s", r->peer, reason);
}

/* ---- the connection ---- */

static void schedule_attempt(struct remote *r, uint64_t ms);
static void try_next_address(struct remote *r);

static void close_all(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

/* Ends the run: every handle is closed and uv_run() returns. */
static void stop(struct remote *r, int exit_code)
{
	r->stopping = true;
	r->exit_code = exit_code;
	r->connected = false;
	visit_abort(r);
	if (r->resolving)
		uv_cancel((uv_req_t *)&r->gai_req);
	uv_walk(&r->loop, close_all, NULL);
}

/* After a connection or an attempt: the next address, the next attempt, or give up. */
static void after_attempt(struct remote *r)
{
	if (r->stopping)
		return;
	if (r->next_addr) {
		try_next_address(r);
		return;
	}
	if (r->o->connect_retries && r->failures >= r->o->connect_retries) {
		log_warnx("giving up after %u failed connections to %s port %u", r->failures,
			  r->o->host, r->o->port);
		stop(r, MONITOR_EXIT_ERROR);
		return;
	}
	schedule_attempt(r, remote_backoff_ms(r->failures));
}

static void on_tcp_closed(uv_handle_t *h)
{
	struct remote *r = h->data;

	r->tcp_open = false;
	after_attempt(r);
}

/* Closes the attempt's socket; on_tcp_closed() goes on (at once if there was none). */
static void close_tcp(struct remote *r)
{
	uv_timer_stop(&r->deadline);
	r->connected = false;
	if (!r->tcp_open)
		after_attempt(r);
	else if (!uv_is_closing((uv_handle_t *)&r->tcp))
		uv_close((uv_handle_t *)&r->tcp, on_tcp_closed);
}

/* A fresh session for a server that never identified us: it answers with <connect> again. */
static int new_session(struct remote *r);

/* The connection ended (EOF, error, protocol error): abort, then reconnect. */
static void connection_lost(struct remote *r, const char *why)
{
	if (!r->connected)
		return;
	log_warnx("connection to %s lost: %s", r->peer, why);
	visit_abort(r);
	r->connected = false; /* the session's "connection lost" upload callback is ignored */
	if (!r->identified)
		r->failures++; /* refused before the handshake: an attempt that failed */
	r->identified = false;
	if (r->ever_identified) {
		server_session_mark_reconnect(r->session);
	} else {
		server_session_free(r->session);
		if (new_session(r) < 0) {
			stop(r, MONITOR_EXIT_ERROR);
			return;
		}
	}
	r->tcp_open = r->tcp_open && !uv_is_closing((uv_handle_t *)&r->tcp);
	if (r->tcp_open)
		uv_close((uv_handle_t *)&r->tcp, on_tcp_closed);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
	static char buf[65536];

	(void)h;
	(void)suggested;
	*b = uv_buf_init(buf, sizeof(buf));
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	struct remote *r = s->data;

	if (n < 0) {
		connection_lost(r, n == UV_EOF ? "closed by the server" : uv_strerror((int)n));
		return;
	}
	if (n == 0)
		return;
	if (server_session_feed(r->session, b->base, (size_t)n) < 0) {
		connection_lost(r, server_session_close_reason(r->session)
				       ? server_session_close_reason(r->session)
				       : strerror(errno));
		return;
	}
	flush(r);
}

/* This address did not work: the next one, or the attempt failed. */
static void attempt_failed(struct remote *r, const char *why)
{
	log_warnx("cannot connect to %s: %s", r->peer[0] ? r->peer : r->o->host, why);
	if (!r->next_addr) {
		uv_freeaddrinfo(r->addrs);
		r->addrs = NULL;
		r->failures++;
	}
	close_tcp(r);
}

static void on_connect(uv_connect_t *req, int status)
{
	struct remote *r = req->data;
	int rc;

	uv_timer_stop(&r->deadline);
	if (r->stopping || status == UV_ECANCELED)
		return; /* closed by stop() or on_deadline(), which go on from there */
	if (status < 0) {
		attempt_failed(r, uv_strerror(status));
		return;
	}
	uv_freeaddrinfo(r->addrs);
	r->addrs = r->next_addr = NULL;
	r->connected = true;
	rc = uv_read_start((uv_stream_t *)&r->tcp, on_alloc, on_read);
	if (rc < 0) {
		connection_lost(r, uv_strerror(rc));
		return;
	}
	log_info("connected to %s as %s/%s", r->peer, r->o->vm_server_id, r->o->vm_id);
}

static void on_deadline(uv_timer_t *t)
{
	struct remote *r = t->data;

	/* closing the handle cancels the connect (on_connect gets UV_ECANCELED) */
	attempt_failed(r, "no answer within the connect timeout");
}

static void format_peer(char *out, size_t len, const struct sockaddr *sa)
{
	char ip[INET6_ADDRSTRLEN] = "?";

	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)(const void *)sa;

		inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip));
		snprintf(out, len, "[%s]:%u", ip, ntohs(s6->sin6_port));
	} else {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)(const void *)sa;

		inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip));
		snprintf(out, len, "%s:%u", ip, ntohs(s4->sin_port));
	}
}

static void try_next_address(struct remote *r)
{
	struct addrinfo *ai = r->next_addr;
	int rc;

	r->next_addr = ai->ai_next;
	format_peer(r->peer, sizeof(r->peer), ai->ai_addr);
	rc = uv_tcp_init(&r->loop, &r->tcp);
	if (rc == 0) {
		r->tcp_open = true;
		r->tcp.data = r;
		r->connect_req.data = r;
		rc = uv_tcp_connect(&r->connect_req, &r->tcp, ai->ai_addr, on_connect);
	}
	if (rc < 0) {
		attempt_failed(r, uv_strerror(rc));
		return;
	}
	uv_timer_start(&r->deadline, on_deadline, REMOTE_CONNECT_MS, 0);
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
	struct remote *r = req->data;

	r->resolving = false;
	if (r->stopping) {
		uv_freeaddrinfo(res);
		return;
	}
	if (status < 0) {
		log_warnx("cannot resolve %s: %s", r->o->host, uv_strerror(status));
		r->failures++;
		after_attempt(r);
		return;
	}
	r->addrs = r->next_addr = res;
	try_next_address(r);
}

static void attempt(uv_timer_t *t)
{
	struct remote *r = t->data;
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
	char port[8];
	int rc;

	snprintf(port, sizeof(port), "%u", r->o->port);
	r->peer[0] = '\0';
	r->gai_req.data = r;
	rc = uv_getaddrinfo(&r->loop, &r->gai_req, on_resolved, r->o->host, port, &hints);
	if (rc < 0) {
		log_warnx("cannot resolve %s: %s", r->o->host, uv_strerror(rc));
		r->failures++;
		after_attempt(r);
		return;
	}
	r->resolving = true;
}

static void schedule_attempt(struct remote *r, uint64_t ms)
{
	if (!r->stopping)
		uv_timer_start(&r->retry, attempt, ms, 0);
}

/* ---- start and stop ---- */

static void on_signal(uv_signal_t *h, int signum)
{
	struct remote *r = h->data;

	log_info("%s: stopping", strsignal(signum));
	stop(r, 0);
}

/* Removes the directories of clients that were killed (their pid is gone). */
static void cleanup_stale_workdirs(void)
{
	DIR *d = opendir("/run");
	struct dirent *e;

	while (d && (e = readdir(d))) {
		char path[PATH_MAX], proc[64];
		int pid;

		if (sscanf(e->d_name, "capture-client-%d", &pid) != 1 || pid <= 0)
			continue;
		snprintf(proc, sizeof(proc), "/proc/%d", pid);
		if (access(proc, F_OK) == 0)
			continue;
		snprintf(path, sizeof(path), "/run/%s", e->d_name);
		empty_dir(path);
		if (rmdir(path) < 0)
			log_warn("cannot remove %s", path);
	}
	if (d)
		closedir(d);
}

static int make_workdir(struct remote *r)
{
	cleanup_stale_workdirs();
	snprintf(r->workdir, sizeof(r->workdir), "/run/capture-client-%d", (int)getpid());
	if (mkdir(r->workdir, 0700) < 0 && errno != EEXIST) {
		log_warn("cannot create %s", r->workdir);
		return -1;
	}
	return 0;
}

static int init_loop(struct remote *r)
{
	int rc = uv_loop_init(&r->loop);

	if (rc == 0)
		rc = uv_timer_init(&r->loop, &r->retry);
	if (rc == 0)
		rc = uv_timer_init(&r->loop, &r->deadline);
	if (rc == 0)
		rc = uv_timer_init(&r->loop, &r->upload);
	if (rc == 0)
		rc = uv_signal_init(&r->loop, &r->sigint);
	if (rc == 0)
		rc = uv_signal_init(&r->loop, &r->sigterm);
	r->retry.data = r->deadline.data = r->upload.data = r;
	r->sigint.data = r->sigterm.data = r;
	if (rc == 0)
		rc = uv_signal_start(&r->sigint, on_signal, SIGINT);
	if (rc == 0)
		rc = uv_signal_start(&r->sigterm, on_signal, SIGTERM);
	if (rc) {
		log_warnx("event loop: %s", uv_strerror(rc));
		return -1;
	}
	return 0;
}

static int new_session(struct remote *r)
{
	struct server_session_config sc = {
	    .vm_server_id = r->o->vm_server_id,
	    .vm_id = r->o->vm_id,
	    .key = r->o->key,
	    .key_len = r->o->key_len,
	    .exclusions = r->o->visit.excl,
	};
	struct server_session_callbacks cb = {
	    .on_visit = session_visit,
	    .on_option = session_option,
	    .on_closed = session_closed,
	    .on_upload = session_upload,
	    .arg = r,
	};

	r->session = server_session_new(&sc, &cb);
	if (!r->session) {
		log_warn("cannot create the protocol session");
		return -1;
	}
	return 0;
}

/*
 * The programs of a guest inherit the client's standard descriptors; under
 * capture-server those are the client's log file, so every line a browser
 * prints would be a "file Write" of a host file, i.e. a false alarm.  The
 * client keeps its log on a close-on-exec duplicate of stderr and gives
 * descriptors 0-2 /dev/null.  Returns the log stream (the caller closes it).
 */
static FILE *quiet_stdio(void)
{
	int logfd = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	FILE *f = logfd >= 0 ? fdopen(logfd, "w") : NULL;

	if (!f || null < 0) {
		log_warn("cannot set up the standard descriptors");
		if (f)
			fclose(f);
		else if (logfd >= 0)
			close(logfd);
		if (null >= 0)
			close(null);
		return NULL;
	}
	setvbuf(f, NULL, _IOLBF, 0);
	log_init("capture-client", log_level, f);
	for (int fd = 0; fd <= STDERR_FILENO; fd++)
		if (dup2(null, fd) < 0)
			log_warn("dup2 /dev/null to %d", fd);
	close(null);
	return f;
}

/* Puts the log back on stderr (for main's last words) and closes LOGF. */
static void restore_stdio(FILE *logf)
{
	fflush(logf);
	if (dup2(fileno(logf), STDERR_FILENO) < 0)
		log_warn("restoring stderr");
	log_init("capture-client", log_level, stderr);
	fclose(logf);
}

int remote_run(const struct remote_opts *opts)
{
	struct remote r = {.o = opts, .exit_code = 0};
	FILE *logf = quiet_stdio();

	if (!logf)
		return MONITOR_EXIT_ERROR;
	if (make_workdir(&r) < 0 || new_session(&r) < 0) {
		server_session_free(r.session);
		restore_stdio(logf);
		return MONITOR_EXIT_ERROR;
	}
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
		log_warn("cannot become a child subreaper; orphans will be reaped by init");
	if (init_loop(&r) == 0) {
		schedule_attempt(&r, 0);
		uv_run(&r.loop, UV_RUN_DEFAULT);
		uv_walk(&r.loop, close_all, NULL);
		uv_run(&r.loop, UV_RUN_DEFAULT);
		if (uv_loop_close(&r.loop) != 0)
			log_warnx("event loop: handles left open");
	} else {
		r.exit_code = MONITOR_EXIT_ERROR;
	}
	visit_abort(&r);
	uv_freeaddrinfo(r.addrs);
	server_session_free(r.session);
	empty_dir(r.workdir);
	if (rmdir(r.workdir) < 0)
		log_warn("cannot remove %s", r.workdir);
	restore_stdio(logf);
	return r.exit_code;
}
