/*
 * main.c - capture-corpusd: the web server of the local test corpus.
 *
 *   capture-corpusd --root DIR [--netns NAME] [--address ADDR] [--port N]
 *                   [--server-port N] [--pidfile FILE] [--log FILE] [-v]
 *
 * Serves ROOT/<host>/ by the Host header (corpus_site.h) to GET and HEAD.
 * With --netns it joins the services network namespace NAME (creating it
 * like capture-client does) and listens on 10.201.255.1:80, the address the
 * guests' DNS stub gives for every name, so one server answers every host
 * name a guest visits.  Without it, it listens on 127.0.0.1:8080 of the
 * current namespace.  Every request is logged as one TAB-separated line
 * (time, client, host, method, target, status, bytes, site or reason), so
 * tests can assert what the guests fetched.
 *
 * It runs in the foreground until SIGTERM or SIGINT; the pid file is written
 * once the socket listens (scripts wait for it) and removed at exit.
 * libmicrohttpd runs its own polling thread; the main thread only waits for
 * the signal.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <microhttpd.h>
#include <pthread.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "corpus/corpus_site.h"
#include "guest/netns.h"

#define DEFAULT_ADDRESS      "127.0.0.1"
#define DEFAULT_PORT         8080
#define NETNS_PORT           80
#define DEFAULT_SERVER_PORT  7070 /* the capture-server port guests may never reach */
#define CONNECTION_LIMIT     256
#define CONNECTION_TIMEOUT_S 30
#define REQUEST_TARGET_MAX   8192 /* longer request targets are answered 414 */

struct corpusd_opts {
	const char *root;    /* corpus root directory */
	const char *netns;   /* services namespace to join, NULL = stay */
	const char *address; /* NULL = DEFAULT_ADDRESS, or NET_SERVICES_ADDR with --netns */
	int port;            /* -1 = DEFAULT_PORT, or NETNS_PORT with --netns */
	uint16_t server_port;
	const char *pidfile;
	const char *log; /* request log, NULL = stderr */
	int verbose;
};

struct corpusd {
	int root_fd;
	FILE *log; /* request log; written by the MHD thread only */
};

/* One request, from its first line to its completion (MHD's per-request pointer). */
struct request {
	char *target; /* raw request target, as sent */
	char method[16];
	char client[INET6_ADDRSTRLEN];
	char *host; /* Host header, NULL if none */
	unsigned status;
	uint64_t bytes;                   /* body bytes queued (0 for HEAD) */
	char note[CORPUS_HOST_MAX + 160]; /* "site=NAME" or why it was refused */
};

/* ---- command line ---- */

static void usage(FILE *out)
{
	fputs("usage: capture-corpusd --root DIR [--netns NAME] [--address ADDR] [--port N]\n"
	      "                       [--server-port N] [--pidfile FILE] [--log FILE] [-v]\n"
	      "\n"
	      "Serves the test sites DIR/<host>/ (DIR/default/ for other hosts) by the Host\n"
	      "header, to GET and HEAD, in the foreground until SIGTERM or SIGINT.\n"
	      "\n"
	      "  --root DIR        corpus root: one directory per host name (required)\n"
	      "  --netns NAME      join (create if needed) the services network namespace\n"
	      "                    NAME first; then the defaults are " NET_SERVICES_ADDR ":80\n"
	      "  --address ADDR    IPv4 or IPv6 address to listen on (default 127.0.0.1)\n"
	      "  --port N          TCP port, 0 = any free one (default 8080)\n"
	      "  --server-port N   with --netns: the port guests may never reach (default 7070)\n"
	      "  --pidfile FILE    write the pid to FILE once listening; removed at exit\n"
	      "  --log FILE        append one line per request to FILE (default stderr)\n"
	      "  -v, --verbose     log start-up and shut-down\n"
	      "  -h, --help        this text\n",
	      out);
}

enum long_option {
	OPT_ROOT = 256,
	OPT_NETNS,
	OPT_ADDRESS,
	OPT_PORT,
	OPT_SERVER_PORT,
	OPT_PIDFILE,
	OPT_LOG,
};

static int parse_port(const char *name, const char *arg, uint64_t min, uint64_t *out)
{
	if (util_parse_u64(arg, min, 65535, out) < 0) {
		log_warnx("--%s %s: expected a port between %llu and 65535", name, arg,
			  (unsigned long long)min);
		return -1;
	}
	return 0;
}

static int parse_option(int c, const char *arg, struct corpusd_opts *o)
{
	uint64_t n;

	switch (c) {
	case OPT_ROOT: o->root = arg; return 0;
	case OPT_NETNS: o->netns = arg; return 0;
	case OPT_ADDRESS: o->address = arg; return 0;
	case OPT_PIDFILE: o->pidfile = arg; return 0;
	case OPT_LOG: o->log = arg; return 0;
	case 'v': o->verbose++; return 0;
	case OPT_PORT:
		if (parse_port("port", arg, 0, &n) < 0)
			return -1;
		o->port = (int)n;
		return 0;
	case OPT_SERVER_PORT:
		if (parse_port("server-port", arg, 1, &n) < 0)
			return -1;
		o->server_port = (uint16_t)n;
		return 0;
	case 'h': usage(stdout); exit(0);
	default: usage(stderr); return -1;
	}
}

static int parse_args(int argc, char **argv, struct corpusd_opts *o)
{
	static const struct option longopts[] = {
	    {"root", required_argument, NULL, OPT_ROOT},
	    {"netns", required_argument, NULL, OPT_NETNS},
	    {"address", required_argument, NULL, OPT_ADDRESS},
	    {"port", required_argument, NULL, OPT_PORT},
	    {"server-port", required_argument, NULL, OPT_SERVER_PORT},
	    {"pidfile", required_argument, NULL, OPT_PIDFILE},
	    {"log", required_argument, NULL, OPT_LOG},
	    {"verbose", no_argument, NULL, 'v'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int c;

	o->port = -1;
	o->server_port = DEFAULT_SERVER_PORT;
	while ((c = getopt_long(argc, argv, "vh", longopts, NULL)) != -1) {
		if (parse_option(c, optarg, o) < 0)
			return -1;
	}
	if (optind < argc) {
		log_warnx("unexpected argument '%s'", argv[optind]);
		return -1;
	}
	if (!o->root) {
		log_warnx("--root DIR is required");
		usage(stderr);
		return -1;
	}
	if (!o->address)
		o->address = o->netns ? NET_SERVICES_ADDR : DEFAULT_ADDRESS;
	if (o->port < 0)
		o->port = o->netns ? NETNS_PORT : DEFAULT_PORT;
	return 0;
}

/* ---- request log ---- */

/* "2026-11-26T06:25:23.280Z" */
static void format_now(char *buf, size_t len)
{
	uint64_t ns = util_now_real_ns();
	time_t secs = (time_t)(ns / 1000000000u);
	struct tm tm;
	size_t n;

	gmtime_r(&secs, &tm);
	n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, len - n, ".%03uZ", (unsigned)(ns / 1000000u % 1000u));
}

/* A field of the log line: byte-safe (a TAB or newline in it becomes \xNN), "-" if empty. */
static void log_field(FILE *f, const char *s)
{
	if (!s || !*s)
		fputc('-', f);
	else
		util_escape_bytes(f, s, strlen(s), 0);
}

static void log_request(FILE *f, const struct request *r, bool completed)
{
	char when[40];

	format_now(when, sizeof(when));
	fprintf(f, "%s\t%s\t", when, r->client[0] ? r->client : "-");
	log_field(f, r->host);
	fputc('\t', f);
	log_field(f, r->method);
	fputc('\t', f);
	log_field(f, r->target);
	fprintf(f, "\t%u\t%llu\t", r->status, (unsigned long long)r->bytes);
	log_field(f, r->note);
	fputs(completed ? "\n" : " (connection closed before the end)\n", f);
	fflush(f);
}

/* ---- libmicrohttpd callbacks ---- */

/* Keeps the raw request target: MHD hands the handler a decoded one, cut at a %00. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
	struct request *r = calloc(1, sizeof(*r));
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);

	(void)cls;
	if (!r)
		return NULL;
	r->target = strdup(uri ? uri : "");
	if (ci && ci->client_addr) {
		const struct sockaddr *sa = ci->client_addr;
		const void *a = sa->sa_family == AF_INET6
				    ? (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr
				    : (const void *)&((const struct sockaddr_in *)sa)->sin_addr;

		inet_ntop(sa->sa_family, a, r->client, sizeof(r->client));
	}
	return r;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct corpusd *d = cls;
	struct request *r = *req_cls;

	(void)conn;
	if (!r)
		return;
	if (r->status)
		log_request(d->log, r, toe == MHD_REQUEST_TERMINATED_COMPLETED_OK);
	free(r->target);
	free(r->host);
	free(r);
	*req_cls = NULL;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char buf[512];
	size_t n;

	(void)cls;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	n = strlen(buf);
	if (n > 0 && buf[n - 1] == '\n')
		buf[n - 1] = '\0';
	log_warnx("libmicrohttpd: %s", buf);
}

static void add_common_headers(struct MHD_Response *resp)
{
	/* every visit must fetch the page again: a cached page is no visit */
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_SERVER, "capture-corpusd");
}

static const char *status_text(unsigned status)
{
	switch (status) {
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 303: return "See Other";
	case 307: return "Temporary Redirect";
	case 308: return "Permanent Redirect";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 414: return "URI Too Long";
	default: return "Internal Server Error";
	}
}

/* A short text/plain answer ("404 Not Found\n"); R records what was sent. */
static enum MHD_Result queue_text(struct MHD_Connection *conn, struct request *r, unsigned status,
				  const char *location)
{
	char body[80];
	struct MHD_Response *resp;
	enum MHD_Result ret;
	int n = snprintf(body, sizeof(body), "%u %s\n", status, status_text(status));

	resp = MHD_create_response_from_buffer((size_t)n, body, MHD_RESPMEM_MUST_COPY);
	if (!resp)
		return MHD_NO;
	add_common_headers(resp);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
	if (location)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, location);
	if (status == 405)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	r->status = status;
	r->bytes = strcmp(r->method, "HEAD") == 0 ? 0 : (uint64_t)n;
	return ret;
}

/* 200 with the file A holds; the response owns the descriptor from here on. */
static enum MHD_Result queue_file(struct MHD_Connection *conn, struct request *r,
				  struct corpus_answer *a)
{
	struct MHD_Response *resp = MHD_create_response_from_fd64(a->size, a->fd);
	enum MHD_Result ret;

	if (!resp) {
		close(a->fd);
		return MHD_NO;
	}
	a->fd = -1;
	add_common_headers(resp);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, a->type);
	ret = MHD_queue_response(conn, MHD_HTTP_OK, resp);
	MHD_destroy_response(resp);
	r->status = MHD_HTTP_OK;
	r->bytes = strcmp(r->method, "HEAD") == 0 ? 0 : a->size;
	return ret;
}

static enum MHD_Result answer_request(struct corpusd *d, struct MHD_Connection *conn,
				      struct request *r)
{
	struct corpus_answer a;

	if (strlen(r->target) > REQUEST_TARGET_MAX) {
		snprintf(r->note, sizeof(r->note), "request target too long");
		return queue_text(conn, r, 414, NULL);
	}
	if (corpus_resolve(d->root_fd, r->host, r->target, &a) < 0)
		log_warn("%s %s: %s", r->host ? r->host : "-", r->target, a.reason);
	if (a.status == MHD_HTTP_OK) {
		snprintf(r->note, sizeof(r->note), "site=%s", a.site);
		return queue_file(conn, r, &a);
	}
	snprintf(r->note, sizeof(r->note), "%s%s%s", a.site[0] ? "site=" : "", a.site,
		 a.site[0] ? " " : "");
	snprintf(r->note + strlen(r->note), sizeof(r->note) - strlen(r->note), "%s", a.reason);
	return queue_text(conn, r, a.status, a.status / 100 == 3 ? a.location : NULL);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_data_size, void **req_cls)
{
	struct request *r = *req_cls;
	const char *host;

	(void)url; /* decoded and cut at %00 by MHD; the raw target is in R */
	(void)version;
	(void)upload_data;
	if (!r || !r->target)
		return MHD_NO; /* out of memory in on_uri: drop the connection */
	if (r->status) {
		*upload_data_size = 0; /* answered already; ignore any request body */
		return MHD_YES;
	}
	snprintf(r->method, sizeof(r->method), "%s", method);
	host = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
	r->host = host ? strdup(host) : NULL;
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
		snprintf(r->note, sizeof(r->note), "only GET and HEAD");
		return queue_text(conn, r, 405, NULL);
	}
	return answer_request(cls, conn, r);
}

/* ---- start-up ---- */

/* Joins (creating if needed) the services namespace NAME, as capture-client opens it. */
static int join_services(const char *name, uint16_t server_port)
{
	struct net_services_config nc = {.name = name, .mode = NET_SERVICES};
	struct net_services *s = NULL;
	char err[512];
	int rc;

	nc.blocked_ports[0] = server_port;
	if (net_services_open(&nc, &s, err, sizeof(err)) < 0) {
		log_warnx("services namespace %s: %s", name, err);
		return -1;
	}
	rc = setns(net_services_fd(s), CLONE_NEWNET);
	if (rc < 0)
		log_warn("joining the services namespace %s", name);
	net_services_close(s);
	return rc;
}

/* ADDR:PORT as a socket address; -1 if ADDR is not an IP literal. */
static int make_sockaddr(const char *addr, int port, struct sockaddr_storage *ss)
{
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, addr, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons((uint16_t)port);
		return 0;
	}
	if (inet_pton(AF_INET6, addr, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		return 0;
	}
	log_warnx("--address %s: expected an IPv4 or IPv6 address", addr);
	return -1;
}

static struct MHD_Daemon *start_daemon(struct corpusd *d, const struct corpusd_opts *o)
{
	struct sockaddr_storage ss;
	unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG;
	struct MHD_Daemon *daemon;

	if (make_sockaddr(o->address, o->port, &ss) < 0)
		return NULL;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	daemon = MHD_start_daemon(
	    flags, (uint16_t)o->port, NULL, NULL, on_request, d,
	    /* first, or MHD prints some messages its own way */
	    MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, d, MHD_OPTION_SOCK_ADDR, &ss,
	    MHD_OPTION_URI_LOG_CALLBACK, on_uri, d, MHD_OPTION_NOTIFY_COMPLETED, on_completed, d,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned)CONNECTION_LIMIT, MHD_OPTION_CONNECTION_TIMEOUT,
	    (unsigned)CONNECTION_TIMEOUT_S, MHD_OPTION_END);
	if (!daemon)
		log_warnx("cannot listen on %s port %d (address in use, or not an address of %s)",
			  o->address, o->port, o->netns ? o->netns : "this namespace");
	return daemon;
}

/* Writes the pid to PATH through a temporary file, so a reader never sees half of it. */
static int write_pidfile(const char *path)
{
	char tmp[4096];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "we");
	if (!f) {
		log_warn("pid file %s", tmp);
		return -1;
	}
	fprintf(f, "%d\n", (int)getpid());
	if (fclose(f) != 0 || rename(tmp, path) < 0) {
		log_warn("pid file %s", path);
		unlink(tmp);
		return -1;
	}
	return 0;
}

/* Blocks SIGINT and SIGTERM in every thread (MHD's inherits the mask); SET gets them. */
static void block_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, set, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static int open_outputs(const struct corpusd_opts *o, struct corpusd *d)
{
	d->root_fd = open(o->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (d->root_fd < 0) {
		log_warn("--root %s", o->root);
		return -1;
	}
	d->log = stderr;
	if (o->log) {
		d->log = fopen(o->log, "ae");
		if (!d->log) {
			log_warn("--log %s", o->log);
			return -1;
		}
	}
	return 0;
}

static int serve(const struct corpusd_opts *o, struct corpusd *d)
{
	struct MHD_Daemon *daemon;
	const union MHD_DaemonInfo *info;
	sigset_t set;
	int sig = 0;

	block_signals(&set);
	if (o->netns && join_services(o->netns, o->server_port) < 0)
		return -1;
	daemon = start_daemon(d, o);
	if (!daemon)
		return -1;
	info = MHD_get_daemon_info(daemon, MHD_DAEMON_INFO_BIND_PORT);
	log_info("serving %s on %s port %u%s%s", o->root, o->address,
		 info ? (unsigned)info->port : (unsigned)o->port, o->netns ? " in " : "",
		 o->netns ? o->netns : "");
	if (o->pidfile && write_pidfile(o->pidfile) < 0) {
		MHD_stop_daemon(daemon);
		return -1;
	}
	while (sigwait(&set, &sig) != 0)
		;
	log_info("signal %d: stopping", sig);
	MHD_stop_daemon(daemon);
	if (o->pidfile)
		unlink(o->pidfile);
	return 0;
}

int main(int argc, char **argv)
{
	struct corpusd_opts o = {0};
	struct corpusd d = {.root_fd = -1};
	int rc;

	log_init("capture-corpusd", LOG_LEVEL_WARN, NULL);
	if (parse_args(argc, argv, &o) < 0)
		return 2;
	log_set_level(o.verbose ? LOG_LEVEL_INFO : LOG_LEVEL_WARN);
	if (open_outputs(&o, &d) < 0)
		return 1;
	rc = serve(&o, &d);
	if (d.log && d.log != stderr)
		fclose(d.log);
	close(d.root_fd);
	return rc < 0 ? 1 : 0;
}
