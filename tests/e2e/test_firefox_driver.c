/*
 * test_firefox_driver.c - end to end: the "firefox" browser driver
 * (Marionette over a socket made in the guest's network namespace) with
 * the real firefox-esr in a real sandbox guest, through the group_visit
 * API, against capture-corpusd in a services namespace of this test
 * (every name resolves to 10.201.255.1).  Prints the seconds per visit.
 *
 * Needs root, /usr/bin/firefox-esr and the kernel sensor; a test that
 * cannot run here says why in its skip line.
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

#include "client/apps/firefox.h"
#include "client/exclusion.h"
#include "client/group_visit.h"
#include "common/log.h"
#include "common/util.h"
#include "e2e/e2e.h"
#include "guest/netns.h"
#include "guest/sandbox.h"

#define HANG_PORT  81                       /* accepts and never answers */
#define CLOSED_URL "http://page.test:8089/" /* nothing listens: refused */
#define MAX_URLS   8                        /* per visit in these tests */

static char tmpdir[256], sites[PATH_MAX], services[64], corpusd[PATH_MAX];
static pid_t web_pid, hang_pid;
static struct net_services *svc;
static struct exclusion_set *excl; /* empty: every event is reported */
static const char *screenshots;    /* the visit's screenshot directory, NULL = none */

/* What one URL gave, copied out of on_done. */
struct url_out {
	uint32_t major, minor;
	int status;
	char final_url[512];
	char hops[1024]; /* "url status;" per hop */
	char error_text[512];
	unsigned downloads, downloads_done;
	char screenshot[PATH_MAX]; /* "" if none */
	uint64_t load_ms;
};

struct run {
	bool done;
	struct url_out urls[MAX_URLS];
	size_t n;
	uint32_t major;
	char conns[8192]; /* "action object1\n" per connection event */
	size_t conns_len;
	char files[16384]; /* "action object1\n" of downloads and profile mkdirs */
	size_t files_len;
	char events[65536]; /* "pid comm type action object1\n" of every event but file ones */
	size_t events_len;
};

static void append(char *buf, size_t cap, size_t *len, const char *a, const char *b)
{
	int n = snprintf(buf + *len, cap - *len, "%s %s\n", a, b);

	if (n > 0 && *len + (size_t)n < cap)
		*len += (size_t)n;
}

static void on_event(struct group_visit *gv, const struct capture_event *ev, void *arg)
{
	struct run *r = arg;
	const char *type = event_type_name(ev->type);
	char line[256];

	(void)gv;
	snprintf(line, sizeof(line), "%u %s %s %s", ev->pid, ev->comm ? ev->comm : "?", type,
		 ev->action);
	if (strcmp(type, "file") != 0) /* the profile's files are the bulk and say little here */
		append(r->events, sizeof(r->events), &r->events_len, line,
		       ev->object1 ? ev->object1 : "");
	if (strcmp(type, "connection") == 0)
		append(r->conns, sizeof(r->conns), &r->conns_len, ev->action,
		       ev->object1 ? ev->object1 : "");
	else if (strcmp(type, "file") == 0 && ev->object1 &&
		 (strstr(ev->object1, "/Downloads/") ||
		  (strcmp(ev->action, "Mkdir") == 0 && strstr(ev->object1, FIREFOX_PROFILE_BASE))))
		append(r->files, sizeof(r->files), &r->files_len, ev->action,
		       ev->object1 ? ev->object1 : "");
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
	snprintf(o->error_text, sizeof(o->error_text), "%s", b->error_text ? b->error_text : "");
	snprintf(o->screenshot, sizeof(o->screenshot), "%s", b->screenshot ? b->screenshot : "");
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
	r->done = true;
}

/* Visits URLS with firefox in a sandbox guest (network NET); returns the wall time in ms. */
static uint64_t visit(const char *const *urls, size_t n, enum driver_layout layout,
		      enum net_mode net, unsigned visit_s, unsigned page_timeout_s, struct run *r)
{
	struct proto_item items[MAX_URLS];
	struct proto_visit v = {.identifier = "ff-e2e",
				.program = "firefox",
				.visit_time_s = visit_s,
				.n_items = n,
				.items = items};
	struct group_visit_opts o = {
	    .sandbox = true,
	    .visit = {.net = net, .services_name = services},
	    .excl = excl,
	    .layout = layout,
	    .page_timeout_s = page_timeout_s,
	    .screenshot_dir = screenshots,
	};
	struct group_visit_callbacks cb = {.on_event = on_event, .on_done = on_done, .arg = r};
	struct group_visit *gv = NULL;
	struct timespec t0, t1;
	uv_loop_t loop;
	uint64_t ms;

	assert_true(n <= MAX_URLS);
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
	ms = (uint64_t)((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000);
	for (size_t i = 0; i < r->n && i < MAX_URLS; i++)
		print_message("  URL %zu: major %u minor %u status %d load %llu ms final %s %s"
			      " hops %s downloads %u/%u screenshot %s\n",
			      i + 1, r->urls[i].major, r->urls[i].minor, r->urls[i].status,
			      (unsigned long long)r->urls[i].load_ms, r->urls[i].final_url,
			      r->urls[i].error_text, r->urls[i].hops, r->urls[i].downloads,
			      r->urls[i].downloads_done, r->urls[i].screenshot);
	print_message("  visit of %zu URL(s), visit time %u s: %.2f s\n", n, visit_s,
		      (double)ms / 1000);
	return ms;
}

/* Writes R's events to a file kept after the test; its path. */
static const char *dump_events(const struct run *r)
{
	static char path[PATH_MAX];
	FILE *fp;

	snprintf(path, sizeof(path), "/tmp/capture-ff-e2e-events.%d", (int)getpid());
	fp = fopen(path, "w");
	if (!fp)
		return "(not written)";
	fputs(r->events, fp);
	fclose(fp);
	return path;
}

/* A Marionette listener of one of the visit's browsers (2828, 2829, ...). */
static bool marionette_listener(const char *line)
{
	unsigned port;
	char end;

	return sscanf(line, "tcp-listening 127.0.0.1:%u%c", &port, &end) == 1 && port >= 2828 &&
	       port < 2828 + MAX_URLS;
}

/* Every connection event is one of the visit's own (no service look-ups, no telemetry). */
static void assert_quiet(const struct run *r)
{
	const char *p = r->conns;

	while (*p) {
		const char *nl = strchr(p, '\n');
		char line[256];

		snprintf(line, sizeof(line), "%.*s", (int)(nl - p), p);
		if (strcmp(line, "tcp-connection 10.201.255.1:80") != 0 &&
		    strcmp(line, "tcp-connection 10.201.255.1:8089") != 0 && /* CLOSED_URL */
		    strcmp(line, "udp-connection 10.201.255.1:53") != 0 &&
		    !marionette_listener(line)) {
			print_message("unexpected connection: %s (events in %s)\n", line,
				      dump_events(r));
			fail();
		}
		p = nl + 1;
	}
}

/* Lines of TEXT that are "Mkdir PROFILE" (a browser's profile itself, not a directory in it). */
static size_t profile_mkdirs(const char *text)
{
	static const char prefix[] = "Mkdir " FIREFOX_PROFILE_BASE;
	size_t n = 0;

	for (const char *p = text; *p;) {
		const char *nl = strchr(p, '\n');

		if (!nl)
			break;
		n += strncmp(p, prefix, strlen(prefix)) == 0 &&
		     (size_t)(nl - p) == strlen(prefix) + 16; /* + 16 hex digits */
		p = nl + 1;
	}
	return n;
}

/* ---- tests ---- */

/* A page: loaded, final URL, HTTP status, no hops, and nothing else on the net. */
static void test_page(void **state)
{
	const char *urls[] = {"http://page.test/"};
	struct run r;

	(void)state;
	visit(urls, 1, DRIVER_LAYOUT_TABS, NET_SERVICES, 2, 20, &r);
	fprintf(stderr, "  events:\n%s", r.events);
	assert_int_equal(r.urls[0].major, 0);
	assert_int_equal(r.major, 0);
	assert_string_equal(r.urls[0].final_url, "http://page.test/");
	assert_int_equal(r.urls[0].status, 200);
	assert_true(r.urls[0].load_ms > 0);
	assert_string_equal(r.urls[0].hops, "");
	assert_int_equal(r.urls[0].downloads, 0);
	assert_string_equal(r.urls[0].screenshot, ""); /* none asked for */
	/*
	 * The sensor saw the visit's network (its DNS query); the browser's
	 * own connection to the URL's port is no change and is dropped before
	 * the events come here (watch_expect_connection, docs/client-networked.md).
	 */
	assert_non_null(strstr(r.conns, "udp-connection 10.201.255.1:53\n"));
	assert_quiet(&r);
	/* the profile is where the driver put it, with the user.js it wrote */
	assert_non_null(strstr(r.files, FIREFOX_PROFILE_BASE));
}

/* Two URLs in tabs of one browser: a page and a missing one (404 is a page, no error). */
static void test_group_tabs(void **state)
{
	const char *urls[] = {"http://page.test/", "http://page.test/missing"};
	struct run r;

	(void)state;
	visit(urls, 2, DRIVER_LAYOUT_TABS, NET_SERVICES, 1, 20, &r);
	assert_int_equal(r.n, 2);
	assert_int_equal(r.urls[0].major, 0);
	assert_int_equal(r.urls[0].status, 200);
	assert_int_equal(r.urls[1].major, 0);
	assert_int_equal(r.urls[1].status, 404);
	assert_string_equal(r.urls[1].final_url, "http://page.test/missing");
	assert_quiet(&r);
}

/* HTTP redirects 301 then 302 (to another host): every hop with its code, then the document. */
static void test_redirect(void **state)
{
	const char *urls[] = {"http://redir.test/old"};
	struct run r;

	(void)state;
	visit(urls, 1, DRIVER_LAYOUT_TABS, NET_SERVICES, 1, 20, &r);
	assert_int_equal(r.urls[0].major, 0);
	assert_string_equal(r.urls[0].hops, "http://redir.test/old 301;http://redir.test/hop 302;");
	assert_string_equal(r.urls[0].final_url, "http://page.test/");
	assert_int_equal(r.urls[0].status, 200);
	assert_quiet(&r);
}

/*
 * Documents replaced after they were shown, in three tabs of one browser:
 * a meta refresh and a script (which then meets two HTTP redirects) leave
 * the replaced document as a hop with its status; pushState only changes
 * the address shown, which is no new document (and no way for a page to
 * forge its chain).  A redirect into a refused port ends on the error page.
 */
static void test_document_redirects(void **state)
{
	const char *urls[] = {"http://redir.test/meta.html", "http://redir.test/js.html",
			      "http://redir.test/push.html", "http://redir.test/refused"};
	struct run r;

	(void)state;
	visit(urls, 4, DRIVER_LAYOUT_TABS, NET_SERVICES, 1, 20, &r);
	assert_int_equal(r.urls[0].major, 0);
	assert_string_equal(r.urls[0].hops, "http://redir.test/meta.html 200;");
	assert_string_equal(r.urls[0].final_url, "http://page.test/");
	assert_int_equal(r.urls[0].status, 200);
	assert_int_equal(r.urls[1].major, 0);
	assert_string_equal(r.urls[1].hops, "http://redir.test/js.html 200;"
					    "http://redir.test/old 301;http://redir.test/hop 302;");
	assert_string_equal(r.urls[1].final_url, "http://page.test/");
	assert_int_equal(r.urls[1].status, 200);
	assert_int_equal(r.urls[2].major, 0);
	assert_string_equal(r.urls[2].hops, "");
	assert_string_equal(r.urls[2].final_url, "http://redir.test/push.html");
	assert_int_equal(r.urls[2].status, 200);
	assert_int_equal(r.urls[3].major, PROTO_ERR_NETWORK_ERROR);
	assert_int_equal(r.urls[3].minor, FIREFOX_NE_CONNECTION_FAILURE);
	assert_string_equal(r.urls[3].hops, "http://redir.test/refused 302;");
	assert_string_equal(r.urls[3].final_url, CLOSED_URL);
	assert_int_equal(r.urls[3].status, 0);
	assert_quiet(&r);
}

/* Refused, next to a page, in "bulk" (two browsers, ports 2828 and 2829). */
static void test_refused_bulk(void **state)
{
	const char *urls[] = {CLOSED_URL, "http://page.test/"};
	struct run r;

	(void)state;
	visit(urls, 2, DRIVER_LAYOUT_PROCESSES, NET_SERVICES, 1, 20, &r);
	assert_int_equal(r.urls[0].major, PROTO_ERR_NETWORK_ERROR);
	assert_int_equal(r.urls[0].minor, FIREFOX_NE_CONNECTION_FAILURE);
	assert_string_equal(r.urls[0].error_text, "about:neterror?e=connectionFailure");
	assert_string_equal(r.urls[0].final_url, CLOSED_URL);
	assert_int_equal(r.urls[1].major, 0);
	assert_int_equal(r.urls[1].status, 200);
	assert_int_equal(r.major, PROTO_ERR_NETWORK_ERROR);
}

/*
 * "bulk" with five browsers in one guest (ports 2828..2832, a profile
 * each): every URL its own result, chains included, and nothing on the
 * network but the visit's own.
 */
static void test_bulk_five(void **state)
{
	const char *urls[] = {"http://page.test/", "http://page.test/missing",
			      "http://redir.test/old", CLOSED_URL, "http://page.test/?five"};
	struct run r;

	(void)state;
	visit(urls, 5, DRIVER_LAYOUT_PROCESSES, NET_SERVICES, 1, 30, &r);
	assert_int_equal(r.n, 5);
	assert_int_equal(r.urls[0].major, 0);
	assert_int_equal(r.urls[0].status, 200);
	assert_string_equal(r.urls[0].final_url, "http://page.test/");
	assert_string_equal(r.urls[0].hops, "");
	assert_int_equal(r.urls[1].major, 0);
	assert_int_equal(r.urls[1].status, 404);
	assert_string_equal(r.urls[2].hops, "http://redir.test/old 301;http://redir.test/hop 302;");
	assert_string_equal(r.urls[2].final_url, "http://page.test/");
	assert_int_equal(r.urls[2].status, 200);
	assert_int_equal(r.urls[3].major, PROTO_ERR_NETWORK_ERROR);
	assert_int_equal(r.urls[3].minor, FIREFOX_NE_CONNECTION_FAILURE);
	assert_string_equal(r.urls[3].final_url, CLOSED_URL);
	assert_int_equal(r.urls[4].major, 0);
	assert_string_equal(r.urls[4].final_url, "http://page.test/?five");
	assert_int_equal(r.major, PROTO_ERR_NETWORK_ERROR);
	for (unsigned port = 2828; port < 2833; port++) {
		char listen[64];

		snprintf(listen, sizeof(listen), "tcp-listening 127.0.0.1:%u\n", port);
		assert_non_null(strstr(r.conns, listen));
	}
	assert_int_equal(profile_mkdirs(r.files), 5);
	assert_quiet(&r);
}

/* No network (nameserver 127.0.0.1, nothing there): the name does not resolve. */
static void test_unresolvable(void **state)
{
	const char *urls[] = {"http://nowhere.test/"};
	struct run r;

	(void)state;
	visit(urls, 1, DRIVER_LAYOUT_TABS, NET_NONE, 1, 20, &r);
	assert_int_equal(r.urls[0].major, PROTO_ERR_NETWORK_ERROR);
	assert_int_equal(r.urls[0].minor, FIREFOX_NE_DNS_NOT_FOUND);
	assert_string_equal(r.urls[0].error_text, "about:neterror?e=dnsNotFound");
}

/* A server that accepts and never answers: no load within a 3 s page timeout. */
static void test_timeout(void **state)
{
	const char *urls[] = {"http://page.test:81/"};
	struct run r;
	uint64_t ms;

	(void)state;
	ms = visit(urls, 1, DRIVER_LAYOUT_TABS, NET_SERVICES, 1, 3, &r);
	assert_int_equal(r.urls[0].major, PROTO_ERR_TIMEOUT_ERROR);
	assert_int_equal(r.urls[0].load_ms, 0);
	assert_true(ms < 20000);
}

/* The corpus drive-by: the file lands in ~/Downloads under its real name, no prompt. */
static void test_download(void **state)
{
	const char *urls[] = {"http://download.corpus.test/"};
	struct run r;

	(void)state;
	visit(urls, 1, DRIVER_LAYOUT_TABS, NET_SERVICES, 3, 20, &r);
	assert_int_equal(r.urls[0].major, 0);
	assert_int_equal(r.urls[0].downloads, 1);
	assert_int_equal(r.urls[0].downloads_done, 1);
	assert_non_null(strstr(r.files, "Rename /home/capture/Downloads/"));
	assert_non_null(strstr(r.files, "/home/capture/Downloads/invoice-viewer.sh\n"));
	assert_quiet(&r);
}

/* PATH is a PNG of at least 100x100 pixels (its signature and IHDR chunk); its size in bytes. */
static long assert_png(const char *path)
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

/*
 * Screenshots and downloads per tab, in four tabs of one browser: a page,
 * the drive-by (its download counts for its own tab only), a page whose
 * script writes the names the driver's chrome-side log uses into its own
 * window (the counts and the chain stay the browser's), and a refused
 * URL (an error page: no screenshot, as chromium).  Each loaded page's
 * screenshot is <dir>/<visit id>-<URL number>.png, a PNG of its own tab.
 */
static void test_screenshots(void **state)
{
	const char *urls[] = {"http://page.test/", "http://download.corpus.test/",
			      "http://redir.test/forge.html", CLOSED_URL};
	char dir[PATH_MAX], path[PATH_MAX + 32], cmd[PATH_MAX + 16];
	struct run r;
	long sizes[3];

	(void)state;
	snprintf(dir, sizeof(dir), "%s/shots", tmpdir);
	assert_int_equal(mkdir(dir, 0700), 0);
	screenshots = dir;
	visit(urls, 4, DRIVER_LAYOUT_TABS, NET_SERVICES, 2, 20, &r);
	screenshots = NULL;
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(r.urls[i].major, 0);
		snprintf(path, sizeof(path), "%s/ff-e2e-%zu.png", dir, i + 1);
		assert_string_equal(r.urls[i].screenshot, path);
		sizes[i] = assert_png(path);
	}
	/* three different pages, three different images */
	assert_true(sizes[0] != sizes[1] && sizes[1] != sizes[2]);
	assert_int_equal(r.urls[3].major, PROTO_ERR_NETWORK_ERROR);
	assert_string_equal(r.urls[3].screenshot, "");
	snprintf(path, sizeof(path), "%s/ff-e2e-4.png", dir);
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(r.urls[0].downloads, 0);
	assert_int_equal(r.urls[1].downloads, 1);
	assert_int_equal(r.urls[1].downloads_done, 1);
	assert_int_equal(r.urls[2].downloads, 0);
	assert_int_equal(r.urls[2].downloads_done, 0);
	assert_string_equal(r.urls[2].final_url, "http://redir.test/forge.html");
	assert_string_equal(r.urls[2].hops, "");
	assert_int_equal(r.urls[3].downloads, 0);
	assert_non_null(strstr(r.files, "/home/capture/Downloads/invoice-viewer.sh\n"));
	assert_quiet(&r);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
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
			  "<html><body>capture firefox e2e</body></html>\n") ||
	       write_site("redir.test", "_redirects",
			  "/old\t301\t/hop\n/hop\t302\thttp://page.test/\n"
			  "/refused\t302\t" CLOSED_URL "\n") ||
	       write_site("redir.test", "meta.html",
			  "<html><head><meta http-equiv=\"refresh\" content=\"0; "
			  "url=http://page.test/\"></head><body>meta</body></html>\n") ||
	       write_site("redir.test", "js.html",
			  "<html><body>js<script>setTimeout(() => location.replace(\"/old\"), "
			  "200);</script></body></html>\n") ||
	       write_site("redir.test", "push.html",
			  "<html><body>push<script>history.pushState({}, \"\", "
			  "\"/pushed\");</script></body></html>\n") ||
	       write_site("redir.test", "forge.html",
			  "<html><body style=\"background:#0a0\">forge<script>"
			  "window.captureDownloads = [9, 9, 9];"
			  "window.captureNavLog = new Map([[1, {docs: [], pending: [], dropped: 0, "
			  "dl: [9, 9]}]]);</script></body></html>\n");
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

static pid_t start_corpusd(char *pidfile)
{
	char log[PATH_MAX], out[PATH_MAX];

	snprintf(log, sizeof(log), "%s/requests.log", tmpdir);
	snprintf(out, sizeof(out), "%s/corpusd.err", tmpdir);
	char *argv[] = {corpusd,     "--root", sites,   "--netns", services,
			"--pidfile", pidfile,  "--log", log,       NULL};

	return e2e_spawn(argv, "/dev/null", out);
}

static int setup(void **state)
{
	char tmpl[] = "/tmp/capture-ff.XXXXXX", pidfile[PATH_MAX], err[512];
	struct net_services_config nc = {.name = services, .mode = NET_SERVICES};

	(void)state;
	if (!mkdtemp(tmpl))
		return -1;
	snprintf(tmpdir, sizeof(tmpdir), "%s", tmpl);
	snprintf(services, sizeof(services), "capff%d", (int)getpid());
	e2e_sibling("../../capture-corpusd", corpusd, sizeof(corpusd));
	excl = exclusion_set_new();
	if (!excl || make_sites() < 0)
		return -1;
	nc.blocked_ports[0] = 7070;
	if (net_services_open(&nc, &svc, err, sizeof(err)) < 0) {
		fprintf(stderr, "setup: %s\n", err);
		return -1;
	}
	snprintf(pidfile, sizeof(pidfile), "%s/corpusd.pid", tmpdir);
	web_pid = start_corpusd(pidfile);
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
	    cmocka_unit_test(test_page),         cmocka_unit_test(test_group_tabs),
	    cmocka_unit_test(test_redirect),     cmocka_unit_test(test_document_redirects),
	    cmocka_unit_test(test_refused_bulk), cmocka_unit_test(test_bulk_five),
	    cmocka_unit_test(test_unresolvable), cmocka_unit_test(test_timeout),
	    cmocka_unit_test(test_download),     cmocka_unit_test(test_screenshots),
	};

	if (getenv("CAPTURE_TEST_FILTER")) /* run one test: CAPTURE_TEST_FILTER=test_name */
		cmocka_set_test_filter(getenv("CAPTURE_TEST_FILTER"));
	if (getenv("CAPTURE_TEST_DEBUG")) /* the driver's steps on stderr */
		log_set_level(LOG_LEVEL_DEBUG);
	if (geteuid() != 0) {
		print_message("[  SKIPPED ] test_firefox_driver: needs root (sandbox, sensor)\n");
		return 0;
	}
	if (access(FIREFOX_PATH, X_OK) != 0) {
		print_message("[  SKIPPED ] test_firefox_driver: no %s\n", FIREFOX_PATH);
		return 0;
	}
	return cmocka_run_group_tests_name("e2e_firefox_driver", tests, setup, teardown);
}
