/*
 * test_chromium_driver.c - end to end: the "chromium" browser driver (CDP
 * over --remote-debugging-pipe) with the real Chromium in a real sandbox
 * guest, through the group_visit API, against capture-corpusd in a
 * services namespace of this test (every name resolves to 10.201.255.1).
 *
 * Needs root, /usr/lib/chromium/chromium and the kernel sensor; a test
 * that cannot run here says why in its skip line.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "client/exclusion.h"
#include "client/group_visit.h"
#include "common/util.h"
#include "e2e/e2e.h"
#include "guest/netns.h"
#include "guest/sandbox.h"

#define CHROMIUM   "/usr/lib/chromium/chromium"
#define HANG_PORT  81                       /* accepts and never answers */
#define CLOSED_URL "http://page.test:8089/" /* nothing listens: refused */
#define MAX_URLS   6                        /* per visit in these tests */

static char tmpdir[256], sites[PATH_MAX], services[64], corpusd[PATH_MAX];
static pid_t web_pid, hang_pid;
static struct net_services *svc;
static struct exclusion_set *excl;

/* What one URL gave, copied out of on_done. */
struct url_out {
	uint32_t major, minor;
	int status;
	char final_url[512];
	char hops[1024]; /* "url status;" per hop */
	unsigned downloads, downloads_done;
	uint64_t load_ms;
};

struct run {
	bool done;
	struct url_out urls[MAX_URLS];
	size_t n;
	uint32_t major;
	bool malicious;
	char events[16384]; /* "type action object1\n" per event */
	size_t events_len;
};

static void on_event(struct group_visit *gv, const struct capture_event *ev, void *arg)
{
	struct run *r = arg;
	int n;

	(void)gv;
	n = snprintf(r->events + r->events_len, sizeof(r->events) - r->events_len, "%s %s %s\n",
		     event_type_name(ev->type), ev->action, ev->object1 ? ev->object1 : "");
	if (n > 0 && r->events_len + (size_t)n < sizeof(r->events))
		r->events_len += (size_t)n;
}

static void copy_url(struct url_out *o, const struct group_visit_url *u)
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
	for (size_t i = 0; i < b->n_hops && len < sizeof(o->hops); i++) {
		int n = snprintf(o->hops + len, sizeof(o->hops) - len, "%s %d;", b->hops[i].url,
				 b->hops[i].status);

		len += n > 0 ? (size_t)n : 0;
	}
}

static void on_done(struct group_visit *gv, const struct group_visit_result *res, void *arg)
{
	struct run *r = arg;

	(void)gv;
	r->n = res->n_urls;
	for (size_t i = 0; i < res->n_urls && i < MAX_URLS; i++)
		copy_url(&r->urls[i], &res->urls[i]);
	r->major = res->major;
	r->malicious = res->malicious;
	r->done = true;
}

/* Visits URLS with chromium in a sandbox guest; returns the wall time in ms. */
static bool host_mode; /* no sandbox: a cgroup on this system */

static uint64_t visit(const char *const *urls, size_t n, enum driver_layout layout,
		      unsigned visit_s, unsigned page_timeout_s, struct run *r)
{
	struct proto_item items[MAX_URLS];
	struct proto_visit v = {.identifier = "cdp-e2e",
				.program = "chromium",
				.visit_time_s = visit_s,
				.n_items = n,
				.items = items};
	struct group_visit_opts o = {
	    .sandbox = !host_mode,
	    .visit = {.net = NET_SERVICES, .services_name = services},
	    .excl = excl,
	    .layout = layout,
	    .page_timeout_s = page_timeout_s,
	};
	struct group_visit_callbacks cb = {.on_event = on_event, .on_done = on_done, .arg = r};
	struct group_visit *gv = NULL;
	struct timespec t0, t1;
	uv_loop_t loop;

	memset(items, 0, sizeof(items));
	memset(r, 0, sizeof(*r));
	for (size_t i = 0; i < n; i++)
		items[i].url = (char *)urls[i];
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(uv_loop_init(&loop), 0);
	assert_int_equal(group_visit_start(&loop, &o, &v, &cb, &gv), 0);
	while (!r->done && uv_run(&loop, UV_RUN_ONCE))
		;
	assert_true(r->done);
	group_visit_free(gv);
	uv_run(&loop, UV_RUN_DEFAULT); /* the handles close */
	assert_int_equal(uv_loop_close(&loop), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (uint64_t)((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000);
}

/* ---- tests ---- */

/* Two URLs in tabs of one browser: a page (200) and a missing one (404 is a page, no error). */
static void test_group_tabs(void **state)
{
	const char *urls[] = {"http://page.test/", "http://page.test/missing"};
	struct run r;
	uint64_t ms;

	(void)state;
	ms = visit(urls, 2, DRIVER_LAYOUT_TABS, 1, 20, &r);
	print_message("dac group of 2: %llu ms, load %llu and %llu ms\n", (unsigned long long)ms,
		      (unsigned long long)r.urls[0].load_ms, (unsigned long long)r.urls[1].load_ms);
	assert_int_equal(r.n, 2);
	assert_int_equal(r.urls[0].major, 0);
	assert_int_equal(r.urls[0].status, 200);
	assert_string_equal(r.urls[0].final_url, "http://page.test/");
	assert_true(r.urls[0].load_ms > 0);
	assert_int_equal(r.urls[1].major, 0);
	assert_int_equal(r.urls[1].status, 404);
	assert_string_equal(r.urls[1].final_url, "http://page.test/missing");
	assert_int_equal(r.major, 0);
}

/* HTTP redirects 301 then 302: the chain and the final document. */
static void test_redirects(void **state)
{
	const char *urls[] = {"http://redir.test/old"};
	struct run r;

	(void)state;
	visit(urls, 1, DRIVER_LAYOUT_TABS, 1, 20, &r);
	assert_int_equal(r.urls[0].major, 0);
	assert_string_equal(r.urls[0].hops, "http://redir.test/old 301;http://redir.test/hop 302;");
	assert_string_equal(r.urls[0].final_url, "http://page.test/");
	assert_int_equal(r.urls[0].status, 200);
}

/*
 * Refused (port 8089) and unresolvable (a name the browser's rules map to
 * NOTFOUND), in bulk.  Neither is a change: the refused connect is the
 * browser reaching the URL it was given (watch_expect_connection).
 */
static void test_network_errors_bulk(void **state)
{
	const char *urls[] = {CLOSED_URL, "http://clients2.google.com/"};
	struct run r;

	(void)state;
	visit(urls, 2, DRIVER_LAYOUT_PROCESSES, 1, 20, &r);
	assert_int_equal(r.urls[0].major, PROTO_ERR_NETWORK_ERROR);
	assert_int_equal(r.urls[0].minor, 102); /* net::ERR_CONNECTION_REFUSED */
	assert_int_equal(r.urls[1].major, PROTO_ERR_NETWORK_ERROR);
	assert_int_equal(r.urls[1].minor, 105); /* net::ERR_NAME_NOT_RESOLVED */
	assert_int_equal(r.major, PROTO_ERR_NETWORK_ERROR);
	assert_false(r.malicious);
}

/*
 * "bulk" past the old limit of three browsers (sh redirected fds 0..9
 * only): five browsers, each on its own pipe pair (fds 3..12 of the
 * launcher), each URL with its own result.  The unresolvable one must not
 * make the visit malicious: the error page's DNS probe (UDP to 8.8.8.8)
 * is off through the profile's Preferences.
 */
static void test_bulk_five(void **state)
{
	const char *urls[] = {"http://page.test/", "http://page.test/missing",
			      "http://redir.test/old", "http://clients2.google.com/",
			      "http://page.test/?five"};
	struct run r;
	uint64_t ms;

	(void)state;
	ms = visit(urls, 5, DRIVER_LAYOUT_PROCESSES, 1, 30, &r);
	print_message("bulk group of 5: %llu ms, events:\n%s", (unsigned long long)ms, r.events);
	assert_int_equal(r.n, 5);
	assert_int_equal(r.urls[0].major, 0);
	assert_int_equal(r.urls[0].status, 200);
	assert_string_equal(r.urls[0].final_url, "http://page.test/");
	assert_int_equal(r.urls[1].status, 404);
	assert_string_equal(r.urls[2].hops, "http://redir.test/old 301;http://redir.test/hop 302;");
	assert_string_equal(r.urls[2].final_url, "http://page.test/");
	assert_int_equal(r.urls[3].major, PROTO_ERR_NETWORK_ERROR);
	assert_int_equal(r.urls[3].minor, 105);
	assert_int_equal(r.urls[4].major, 0);
	assert_string_equal(r.urls[4].final_url, "http://page.test/?five");
	assert_false(r.malicious);
}

/* A server that accepts and never answers: no load event within 3 s. */
static void test_timeout(void **state)
{
	const char *urls[] = {"http://page.test:81/"};
	struct run r;
	uint64_t ms;

	(void)state;
	ms = visit(urls, 1, DRIVER_LAYOUT_TABS, 1, 3, &r);
	assert_int_equal(r.urls[0].major, PROTO_ERR_TIMEOUT_ERROR);
	assert_true(ms < 20000);
}

/* The corpus drive-by: the file lands in ~/Downloads under its real name. */
static void test_download(void **state)
{
	const char *urls[] = {"http://download.corpus.test/"};
	struct run r;

	(void)state;
	visit(urls, 1, DRIVER_LAYOUT_TABS, 3, 20, &r);
	print_message("download visit events:\n%s", r.events);
	assert_int_equal(r.urls[0].major, 0);
	assert_int_equal(r.urls[0].downloads, 1);
	assert_int_equal(r.urls[0].downloads_done, 1);
	assert_true(r.malicious);
	assert_non_null(strstr(r.events, "/home/capture/Downloads/invoice-viewer.sh"));
}

static int write_site(const char *host, const char *name, const char *text);
static int wait_file(const char *path);

/* Without a sandbox: the browser in a fresh cgroup here, its pipes as fds 3/4 all the same. */
static void test_host_mode(void **state)
{
	char url[64], profile[128], port[16], pidfile[PATH_MAX], cmd[300];
	const char *urls[] = {url};
	int p = e2e_free_port();
	struct run r;
	pid_t pid;

	(void)state;
	snprintf(port, sizeof(port), "%d", p);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", p);
	snprintf(pidfile, sizeof(pidfile), "%s/host.pid", tmpdir);
	assert_int_equal(write_site("127.0.0.1", "index.html", "<html>host</html>\n"), 0);
	{
		char *argv[] = {corpusd, "--root",    sites,   "--port",
				port,    "--pidfile", pidfile, NULL};

		pid = e2e_spawn(argv, "/dev/null", "/dev/null");
	}
	assert_int_equal(wait_file(pidfile), 0);
	host_mode = true;
	visit(urls, 1, DRIVER_LAYOUT_TABS, 1, 20, &r);
	host_mode = false;
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	/* the profile this visit left on this system (driver: hash of "ID#0" ^ hash of URL) */
	snprintf(profile, sizeof(profile), "/tmp/capture-profile-%016llx",
		 (unsigned long long)(util_fnv1a64("cdp-e2e#0") ^ util_fnv1a64(url)));
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", profile);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(r.urls[0].major, 0);
	assert_int_equal(r.urls[0].status, 200);
	assert_string_equal(r.urls[0].final_url, url);
}

/* ---- the services namespace and its servers ---- */

static pid_t serve_hang(int nsfd, int port)
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

static int write_site(const char *host, const char *name, const char *text)
{
	char dir[PATH_MAX];

	snprintf(dir, sizeof(dir), "%s/%s", sites, host);
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return -1;
	return e2e_write(dir, name, text);
}

static int make_sites(void)
{
	char cmd[PATH_MAX * 2 + 64];

	snprintf(sites, sizeof(sites), "%s/sites", tmpdir);
	if (mkdir(sites, 0755) < 0)
		return -1;
	snprintf(cmd, sizeof(cmd), "cp -r %s/corpus/sites/download.corpus.test %s/",
		 CAPTURE_DATADIR, sites);
	if (system(cmd) != 0)
		return -1;
	return write_site("page.test", "index.html",
			  "<html><body>capture cdp e2e</body></html>\n") ||
	       write_site("redir.test", "_redirects",
			  "/old\t301\t/hop\n/hop\t302\thttp://page.test/\n");
}

static int wait_file(const char *path)
{
	for (int i = 0; i < 500; i++) {
		if (access(path, F_OK) == 0)
			return 0;
		usleep(10000);
	}
	return -1;
}

static int setup(void **state)
{
	char tmpl[] = "/tmp/capture-cdp.XXXXXX", pidfile[PATH_MAX], err[512];
	struct net_services_config nc = {.name = services, .mode = NET_SERVICES};

	(void)state;
	if (!mkdtemp(tmpl))
		return -1;
	snprintf(tmpdir, sizeof(tmpdir), "%s", tmpl);
	snprintf(services, sizeof(services), "capcdp%d", (int)getpid());
	e2e_sibling("../../capture-corpusd", corpusd, sizeof(corpusd));
	excl = exclusion_set_new();
	if (!excl ||
	    exclusion_load_dir(excl, CAPTURE_DATADIR "/etc/exclusion", err, sizeof(err)) < 0 ||
	    make_sites() < 0) {
		fprintf(stderr, "setup: %s\n", err);
		return -1;
	}
	nc.blocked_ports[0] = 7070;
	if (net_services_open(&nc, &svc, err, sizeof(err)) < 0) {
		fprintf(stderr, "setup: %s\n", err);
		return -1;
	}
	snprintf(pidfile, sizeof(pidfile), "%s/corpusd.pid", tmpdir);
	{
		char log[PATH_MAX], out[PATH_MAX];

		snprintf(log, sizeof(log), "%s/requests.log", tmpdir);
		snprintf(out, sizeof(out), "%s/corpusd.err", tmpdir);
		char *argv[] = {corpusd,     "--root", sites,   "--netns", services,
				"--pidfile", pidfile,  "--log", log,       NULL};

		web_pid = e2e_spawn(argv, "/dev/null", out);
	}
	hang_pid = serve_hang(net_services_fd(svc), HANG_PORT);
	return web_pid > 0 && hang_pid > 0 && wait_file(pidfile) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
	char err[512], cmd[300];

	(void)state;
	if (web_pid > 0 && kill(web_pid, SIGTERM) == 0)
		waitpid(web_pid, NULL, 0);
	if (hang_pid > 0 && kill(hang_pid, SIGKILL) == 0)
		waitpid(hang_pid, NULL, 0);
	net_services_close(svc);
	if (net_services_destroy(services, err, sizeof(err)) < 0)
		fprintf(stderr, "teardown: %s\n", err);
	exclusion_set_free(excl);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_group_tabs),
	    cmocka_unit_test(test_redirects),
	    cmocka_unit_test(test_network_errors_bulk),
	    cmocka_unit_test(test_bulk_five),
	    cmocka_unit_test(test_timeout),
	    cmocka_unit_test(test_download),
	    cmocka_unit_test(test_host_mode),
	};

	if (getenv("CAPTURE_TEST_FILTER"))
		cmocka_set_test_filter(getenv("CAPTURE_TEST_FILTER"));
	if (geteuid() != 0) {
		print_message("[  SKIPPED ] test_chromium_driver: needs root (sandbox, sensor)\n");
		return 0;
	}
	if (access(CHROMIUM, X_OK) != 0) {
		print_message("[  SKIPPED ] test_chromium_driver: no %s\n", CHROMIUM);
		return 0;
	}
	return cmocka_run_group_tests_name("e2e_chromium_driver", tests, setup, teardown);
}
