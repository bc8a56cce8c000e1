/*
 * e2e_browser.h - what the browser-driver tests (test_chromium_driver.c,
 * test_firefox_driver.c) share: their world (capture-corpusd serving test
 * sites in a services namespace of the test, where every name resolves to
 * 10.201.255.1, and a web server that accepts and never answers), one visit
 * through the group_visit API with each URL's result and the events copied
 * out, and the checks both drivers must pass on the same sites.
 *
 * Each test keeps one struct e2e_browser_env (its setup and teardown call
 * e2e_browser_setup and e2e_browser_teardown) and visits with
 * e2e_browser_visit.  Needs root (sandbox, sensor), as the tests do.
 */
#ifndef CAPTURE_E2E_BROWSER_H
#define CAPTURE_E2E_BROWSER_H

#include "e2e/e2e.h"

#include <sys/stat.h>
#include <time.h>

#include "client/exclusion.h"
#include "client/group_visit.h"
#include "guest/netns.h"
#include "guest/sandbox.h"

#define E2E_BROWSER_MAX_URLS 8                        /* per visit in these tests */
#define E2E_HANG_PORT        81                       /* accepts and never answers */
#define E2E_CLOSED_URL       "http://page.test:8089/" /* nothing listens: refused */
#define E2E_PROFILE_BASE     "/tmp/capture-profile-"  /* both drivers' profiles (+ 16 hex) */

/* The test's world, made by e2e_browser_setup, and how it visits. */
struct e2e_browser_env {
	const char *program;        /* "chromium", "firefox" */
	char identifier[32];        /* the visits' id (NAME-e2e): names profiles and screenshots */
	bool host;                  /* visit without a sandbox (the test sets it) */
	const char *screenshot_dir; /* the visits' screenshots (the test sets it), NULL = none */
	char tmpdir[256];           /* removed by the teardown */
	char sites[PATH_MAX];       /* tmpdir/sites: one directory per host name */
	char services[64];          /* the services namespace's name */
	char corpusd[PATH_MAX];
	pid_t web_pid, hang_pid;
	struct net_services *svc;
	struct exclusion_set *excl; /* the shipped lists, or empty: every event reported */
};

/* What one URL gave, copied out of on_done. */
struct e2e_url_out {
	uint32_t major, minor;
	int status;
	char final_url[512];
	char hops[1024]; /* "url status;" per hop */
	char error_text[512];
	unsigned downloads, downloads_done;
	char screenshot[PATH_MAX]; /* "" if none */
	uint64_t load_ms;
};

/* One visit's outcome and events. */
struct e2e_browser_run {
	bool done;
	struct e2e_url_out urls[E2E_BROWSER_MAX_URLS];
	size_t n;
	uint32_t major;
	bool malicious;
	char conns[8192]; /* "action object1\n" per connection event */
	size_t conns_len;
	char
	    files[16384]; /* "action object1\n" of files in a Downloads directory, profile mkdirs */
	size_t files_len;
	char events[65536]; /* "pid comm type action object1\n" of every event but file ones */
	size_t events_len;
};

/* ---- the world ---- */

/*
 * Forks a TCP server in the network namespace NSFD on PORT that accepts
 * and never sends a byte (the first 64 connections stay open); it dies
 * with this process.  Its pid.
 */
static inline pid_t e2e_serve_hang(int nsfd, int port)
{
	pid_t pid = fork();

	if (pid == 0) {
		struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
		int s, one = 1, held = 0;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (setns(nsfd, CLONE_NEWNET) < 0 || (s = socket(AF_INET, SOCK_STREAM, 0)) < 0)
			_exit(1);
		setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(s, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(s, 16) < 0)
			_exit(1);
		for (;;) {
			int c = accept(s, NULL, NULL); /* and never a byte back */

			if (c >= 0 && ++held > 64)
				close(c); /* the first 64 stay open, silent */
		}
	}
	return pid;
}

/* Waits up to 5 s for PATH to exist; 0 or -1. */
static inline int e2e_wait_file(const char *path)
{
	for (int i = 0; i < 500; i++) {
		if (access(path, F_OK) == 0)
			return 0;
		usleep(10000);
	}
	return -1;
}

/* Writes TEXT as ENV's site HOST's file NAME; 0 or -1. */
static inline int e2e_write_site(const struct e2e_browser_env *env, const char *host,
				 const char *name, const char *text)
{
	char dir[PATH_MAX];

	snprintf(dir, sizeof(dir), "%s/%s", env->sites, host);
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return -1;
	return e2e_write(dir, name, text);
}

/*
 * The sites both drivers visit: the corpus drive-by (download.corpus.test),
 * page.test (a page saying PAGE_TEXT; anything else there is a 404), and
 * redir.test (/old 301 to /hop, 302 to page.test; /refused 302 to
 * E2E_CLOSED_URL).  0 or -1.
 */
static inline int e2e_browser_sites(struct e2e_browser_env *env, const char *page_text)
{
	char cmd[PATH_MAX * 2 + 64], page[256];

	snprintf(env->sites, sizeof(env->sites), "%s/sites", env->tmpdir);
	if (mkdir(env->sites, 0755) < 0)
		return -1;
	snprintf(cmd, sizeof(cmd), "cp -r %s/corpus/sites/download.corpus.test %s/",
		 CAPTURE_DATADIR, env->sites);
	if (system(cmd) != 0)
		return -1;
	snprintf(page, sizeof(page), "<html><body>%s</body></html>\n", page_text);
	return e2e_write_site(env, "page.test", "index.html", page) ||
	       e2e_write_site(env, "redir.test", "_redirects",
			      "/old\t301\t/hop\n/hop\t302\thttp://page.test/\n"
			      "/refused\t302\t" E2E_CLOSED_URL "\n");
}

/*
 * Makes ENV (zeroed) for visits with PROGRAM: a temporary directory
 * /tmp/capture-NAME.XXXXXX, the services namespace "capNAME<pid>" (port
 * 7070 blocked), the exclusion lists (the shipped ones if SHIPPED, else
 * none), the sites (e2e_browser_sites with PAGE_TEXT, then MORE_SITES if
 * not NULL), capture-corpusd serving them and the silent server on
 * E2E_HANG_PORT.  0 or -1 (for a cmocka setup).
 */
static inline int e2e_browser_setup(struct e2e_browser_env *env, const char *name,
				    const char *program, bool shipped, const char *page_text,
				    int (*more_sites)(struct e2e_browser_env *env))
{
	struct net_services_config nc = {.name = env->services, .mode = NET_SERVICES};
	char err[512] = "";

	env->program = program;
	snprintf(env->identifier, sizeof(env->identifier), "%s-e2e", name);
	snprintf(env->tmpdir, sizeof(env->tmpdir), "/tmp/capture-%s.XXXXXX", name);
	if (!mkdtemp(env->tmpdir))
		return -1;
	snprintf(env->services, sizeof(env->services), "cap%s%d", name, (int)getpid());
	e2e_sibling("../../capture-corpusd", env->corpusd, sizeof(env->corpusd));
	env->excl = exclusion_set_new();
	if (!env->excl ||
	    (shipped && exclusion_load_dir(env->excl, CAPTURE_DATADIR "/etc/exclusion", err,
					   sizeof(err)) < 0) ||
	    e2e_browser_sites(env, page_text) < 0 || (more_sites && more_sites(env) < 0)) {
		fprintf(stderr, "setup: %s\n", err[0] ? err : "cannot make the sites");
		return -1;
	}
	nc.blocked_ports[0] = 7070;
	if (net_services_open(&nc, &env->svc, err, sizeof(err)) < 0) {
		fprintf(stderr, "setup: %s\n", err);
		return -1;
	}
	env->web_pid = e2e_start_corpusd(env->corpusd, env->sites, env->services, env->tmpdir);
	env->hang_pid = e2e_serve_hang(net_services_fd(env->svc), E2E_HANG_PORT);
	return env->web_pid > 0 && env->hang_pid > 0 ? 0 : -1;
}

/* Stops what e2e_browser_setup started and removes the temporary directory; 0 or -1. */
static inline int e2e_browser_teardown(struct e2e_browser_env *env)
{
	char err[512], cmd[300];

	if (env->web_pid > 0 && kill(env->web_pid, SIGTERM) == 0)
		waitpid(env->web_pid, NULL, 0);
	if (env->hang_pid > 0 && kill(env->hang_pid, SIGKILL) == 0)
		waitpid(env->hang_pid, NULL, 0);
	net_services_close(env->svc);
	if (net_services_destroy(env->services, err, sizeof(err)) < 0)
		fprintf(stderr, "teardown: %s\n", err);
	exclusion_set_free(env->excl);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", env->tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* ---- one visit ---- */

static inline void e2e_append(char *buf, size_t cap, size_t *len, const char *a, const char *b)
{
	int n = snprintf(buf + *len, cap - *len, "%s %s\n", a, b);

	if (n > 0 && *len + (size_t)n < cap)
		*len += (size_t)n;
}

static inline void e2e_browser_on_event(struct group_visit *gv, const struct capture_event *ev,
					void *arg)
{
	struct e2e_browser_run *r = arg;
	const char *type = event_type_name(ev->type), *obj = ev->object1 ? ev->object1 : "";
	char line[256];

	(void)gv;
	snprintf(line, sizeof(line), "%u %s %s %s", ev->pid, ev->comm ? ev->comm : "?", type,
		 ev->action);
	if (strcmp(type, "file") != 0) /* the profile's files are the bulk and say little here */
		e2e_append(r->events, sizeof(r->events), &r->events_len, line, obj);
	if (strcmp(type, "connection") == 0)
		e2e_append(r->conns, sizeof(r->conns), &r->conns_len, ev->action, obj);
	else if (strcmp(type, "file") == 0 &&
		 (strstr(obj, "/Downloads/") ||
		  (strcmp(ev->action, "Mkdir") == 0 && strstr(obj, E2E_PROFILE_BASE))))
		e2e_append(r->files, sizeof(r->files), &r->files_len, ev->action, obj);
}

static inline void e2e_copy_url(struct e2e_url_out *o, const struct group_visit_url *u)
{
	const struct driver_result *b = u->browser;
	size_t len = 0;

	o->major = u->major;
	o->minor = u->minor;
	if (!b)
		return;
	o->status = b->status;
	o->load_ms = b->load_ms;
	o->downloads = b->downloads;
	o->downloads_done = b->downloads_done;
	snprintf(o->final_url, sizeof(o->final_url), "%s", b->final_url ? b->final_url : "");
	snprintf(o->error_text, sizeof(o->error_text), "%s", b->error_text ? b->error_text : "");
	snprintf(o->screenshot, sizeof(o->screenshot), "%s", b->screenshot ? b->screenshot : "");
	for (size_t i = 0; i < b->n_hops && len < sizeof(o->hops); i++) {
		int n = snprintf(o->hops + len, sizeof(o->hops) - len, "%s %d;", b->hops[i].url,
				 b->hops[i].status);

		len += n > 0 ? (size_t)n : 0;
	}
}

static inline void e2e_browser_on_done(struct group_visit *gv, const struct group_visit_result *res,
				       void *arg)
{
	struct e2e_browser_run *r = arg;

	(void)gv;
	r->n = res->n_urls;
	for (size_t i = 0; i < res->n_urls && i < E2E_BROWSER_MAX_URLS; i++)
		e2e_copy_url(&r->urls[i], &res->urls[i]);
	r->major = res->major;
	r->malicious = res->malicious;
	r->done = true;
}

/*
 * Visits the N URLS with ENV's program in LAYOUT, network NET, staying
 * VISIT_S after each load, PAGE_TIMEOUT_S at most until it, into R
 * (cleared first), and prints each URL's result; the wall time in ms.
 * Asserts every step.
 */
static inline uint64_t e2e_browser_visit(const struct e2e_browser_env *env, const char *const *urls,
					 size_t n, enum driver_layout layout, enum net_mode net,
					 unsigned visit_s, unsigned page_timeout_s,
					 struct e2e_browser_run *r)
{
	struct proto_item items[E2E_BROWSER_MAX_URLS];
	struct proto_visit pv = {.identifier = (char *)env->identifier,
				 .program = (char *)env->program,
				 .visit_time_s = visit_s,
				 .n_items = n,
				 .items = items};
	struct group_visit_opts o = {
	    .sandbox = !env->host,
	    .visit = {.net = net, .services_name = env->services},
	    .excl = env->excl,
	    .layout = layout,
	    .page_timeout_s = page_timeout_s,
	    .screenshot_dir = env->screenshot_dir,
	};
	struct group_visit_callbacks cb = {
	    .on_event = e2e_browser_on_event, .on_done = e2e_browser_on_done, .arg = r};
	struct group_visit *gv = NULL;
	struct timespec t0, t1;
	uv_loop_t loop;
	uint64_t ms;

	assert_true(n <= E2E_BROWSER_MAX_URLS);
	memset(items, 0, sizeof(items));
	memset(r, 0, sizeof(*r));
	for (size_t i = 0; i < n; i++)
		items[i].url = (char *)urls[i];
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(uv_loop_init(&loop), 0);
	assert_int_equal(group_visit_start(&loop, &o, &pv, &cb, &gv), 0);
	while (!r->done && uv_run(&loop, UV_RUN_ONCE))
		;
	assert_true(r->done);
	group_visit_free(gv);
	uv_run(&loop, UV_RUN_DEFAULT); /* the handles close */
	assert_int_equal(uv_loop_close(&loop), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (uint64_t)((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000);
	for (size_t i = 0; i < r->n && i < E2E_BROWSER_MAX_URLS; i++) {
		const struct e2e_url_out *u = &r->urls[i];

		print_message("  URL %zu: major %u minor %u status %d load %llu ms final %s %s"
			      " hops %s downloads %u/%u screenshot %s\n",
			      i + 1, u->major, u->minor, u->status, (unsigned long long)u->load_ms,
			      u->final_url, u->error_text, u->hops, u->downloads, u->downloads_done,
			      u->screenshot);
	}
	print_message("  visit of %zu URL(s), visit time %u s: %.2f s\n", n, visit_s,
		      (double)ms / 1000);
	return ms;
}

/* ---- checks both drivers pass ---- */

/* Two URLs in tabs, "http://page.test/" then "http://page.test/missing": a 200, then a 404. */
static inline void e2e_check_page_and_missing(const struct e2e_browser_run *r)
{
	assert_int_equal(r->n, 2);
	assert_int_equal(r->urls[0].major, 0);
	assert_int_equal(r->urls[0].status, 200);
	assert_int_equal(r->urls[1].major, 0);
	assert_int_equal(r->urls[1].status, 404); /* a page, no error */
	assert_string_equal(r->urls[1].final_url, "http://page.test/missing");
}

/* URL I was "http://redir.test/old": two HTTP redirects with their codes, then the page. */
static inline void e2e_check_redirects(const struct e2e_browser_run *r, size_t i)
{
	assert_int_equal(r->urls[i].major, 0);
	assert_string_equal(r->urls[i].hops,
			    "http://redir.test/old 301;http://redir.test/hop 302;");
	assert_string_equal(r->urls[i].final_url, "http://page.test/");
	assert_int_equal(r->urls[i].status, 200);
}

/*
 * The five URLs of the "bulk" test, "http://page.test/", ".../missing",
 * "http://redir.test/old", an error of the driver's own (NET_MAJOR, NET_MINOR)
 * and "http://page.test/?five": each its own result.
 */
static inline void e2e_check_bulk_five(const struct e2e_browser_run *r, uint32_t net_minor)
{
	assert_int_equal(r->n, 5);
	assert_int_equal(r->urls[0].major, 0);
	assert_int_equal(r->urls[0].status, 200);
	assert_string_equal(r->urls[0].final_url, "http://page.test/");
	assert_int_equal(r->urls[1].status, 404);
	assert_string_equal(r->urls[2].hops,
			    "http://redir.test/old 301;http://redir.test/hop 302;");
	assert_string_equal(r->urls[2].final_url, "http://page.test/");
	assert_int_equal(r->urls[3].major, PROTO_ERR_NETWORK_ERROR);
	assert_int_equal(r->urls[3].minor, net_minor);
	assert_int_equal(r->urls[4].major, 0);
	assert_string_equal(r->urls[4].final_url, "http://page.test/?five");
}

/* "http://page.test:81/" (the silent server) with a 3 s page timeout, in MS: a time-out. */
static inline void e2e_check_timeout(const struct e2e_browser_run *r, uint64_t ms)
{
	assert_int_equal(r->urls[0].major, PROTO_ERR_TIMEOUT_ERROR);
	assert_true(ms < 20000);
}

/* "http://download.corpus.test/": loaded, one download, done, in ~/Downloads by its name. */
static inline void e2e_check_download(const struct e2e_browser_run *r)
{
	assert_int_equal(r->urls[0].major, 0);
	assert_int_equal(r->urls[0].downloads, 1);
	assert_int_equal(r->urls[0].downloads_done, 1);
	assert_non_null(strstr(r->files, "/home/capture/Downloads/invoice-viewer.sh\n"));
}

/* PATH is a PNG of at least 100x100 pixels (its signature and IHDR chunk); its size in bytes. */
static inline long e2e_assert_png(const char *path)
{
	static const unsigned char signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
	unsigned char head[24];
	struct stat st;
	FILE *fp = fopen(path, "rb");

	assert_non_null(fp);
	assert_int_equal(fread(head, 1, sizeof(head), fp), sizeof(head));
	fclose(fp);
	assert_memory_equal(head, signature, sizeof(signature));
	assert_memory_equal(head + 12, "IHDR", 4);
	assert_true(((unsigned)head[16] << 24 | head[17] << 16 | head[18] << 8 | head[19]) >= 100);
	assert_true(((unsigned)head[20] << 24 | head[21] << 16 | head[22] << 8 | head[23]) >= 100);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	return (long)st.st_size;
}

#endif
