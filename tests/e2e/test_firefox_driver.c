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
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "client/apps/firefox.h"
#include "common/log.h"
#include "common/util.h"
#include "e2e/e2e_browser.h"

#define CLOSED_URL E2E_CLOSED_URL
#define MAX_URLS   E2E_BROWSER_MAX_URLS

static struct e2e_browser_env env; /* no exclusion lists: every event is reported */

/* Visits URLS with firefox in a sandbox guest (network NET); returns the wall time in ms. */
static uint64_t visit(const char *const *urls, size_t n, enum driver_layout layout,
		      enum net_mode net, unsigned visit_s, unsigned page_timeout_s,
		      struct e2e_browser_run *r)
{
	return e2e_browser_visit(&env, urls, n, layout, net, visit_s, page_timeout_s, r);
}

/* Writes R's events to a file kept after the test; its path. */
static const char *dump_events(const struct e2e_browser_run *r)
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
static void assert_quiet(const struct e2e_browser_run *r)
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
	struct e2e_browser_run r;

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
	struct e2e_browser_run r;

	(void)state;
	visit(urls, 2, DRIVER_LAYOUT_TABS, NET_SERVICES, 1, 20, &r);
	e2e_check_page_and_missing(&r);
	assert_quiet(&r);
}

/* HTTP redirects 301 then 302 (to another host): every hop with its code, then the document. */
static void test_redirect(void **state)
{
	const char *urls[] = {"http://redir.test/old"};
	struct e2e_browser_run r;

	(void)state;
	visit(urls, 1, DRIVER_LAYOUT_TABS, NET_SERVICES, 1, 20, &r);
	e2e_check_redirects(&r, 0);
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
	struct e2e_browser_run r;

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
	struct e2e_browser_run r;

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
	struct e2e_browser_run r;

	(void)state;
	visit(urls, 5, DRIVER_LAYOUT_PROCESSES, NET_SERVICES, 1, 30, &r);
	e2e_check_bulk_five(&r, FIREFOX_NE_CONNECTION_FAILURE);
	assert_string_equal(r.urls[0].hops, "");
	assert_int_equal(r.urls[1].major, 0);
	assert_int_equal(r.urls[2].status, 200);
	assert_string_equal(r.urls[3].final_url, CLOSED_URL);
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
	struct e2e_browser_run r;

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
	struct e2e_browser_run r;
	uint64_t ms;

	(void)state;
	ms = visit(urls, 1, DRIVER_LAYOUT_TABS, NET_SERVICES, 1, 3, &r);
	e2e_check_timeout(&r, ms);
	assert_int_equal(r.urls[0].load_ms, 0);
}

/* The corpus drive-by: the file lands in ~/Downloads under its real name, no prompt. */
static void test_download(void **state)
{
	const char *urls[] = {"http://download.corpus.test/"};
	struct e2e_browser_run r;

	(void)state;
	visit(urls, 1, DRIVER_LAYOUT_TABS, NET_SERVICES, 3, 20, &r);
	e2e_check_download(&r);
	assert_non_null(strstr(r.files, "Rename /home/capture/Downloads/"));
	assert_quiet(&r);
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
	struct e2e_browser_run r;
	long sizes[3];

	(void)state;
	snprintf(dir, sizeof(dir), "%s/shots", env.tmpdir);
	assert_int_equal(mkdir(dir, 0700), 0);
	env.screenshot_dir = dir;
	visit(urls, 4, DRIVER_LAYOUT_TABS, NET_SERVICES, 2, 20, &r);
	env.screenshot_dir = NULL;
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(r.urls[i].major, 0);
		snprintf(path, sizeof(path), "%s/ff-e2e-%zu.png", dir, i + 1);
		assert_string_equal(r.urls[i].screenshot, path);
		sizes[i] = e2e_assert_png(path);
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

/* ---- the sites and the world ---- */

/* Pages that replace themselves, and one that plays with the names of the driver's log. */
static int more_sites(struct e2e_browser_env *e)
{
	return e2e_write_site(e, "redir.test", "meta.html",
			      "<html><head><meta http-equiv=\"refresh\" content=\"0; "
			      "url=http://page.test/\"></head><body>meta</body></html>\n") ||
	       e2e_write_site(e, "redir.test", "js.html",
			      "<html><body>js<script>setTimeout(() => location.replace(\"/old\"), "
			      "200);</script></body></html>\n") ||
	       e2e_write_site(e, "redir.test", "push.html",
			      "<html><body>push<script>history.pushState({}, \"\", "
			      "\"/pushed\");</script></body></html>\n") ||
	       e2e_write_site(e, "redir.test", "forge.html",
			      "<html><body style=\"background:#0a0\">forge<script>"
			      "window.captureDownloads = [9, 9, 9];"
			      "window.captureNavLog = new Map([[1, {docs: [], pending: [], "
			      "dropped: 0, dl: [9, 9]}]]);</script></body></html>\n");
}

static int setup(void **state)
{
	(void)state;
	return e2e_browser_setup(&env, "ff", "firefox", false, "capture firefox e2e", more_sites);
}

static int teardown(void **state)
{
	(void)state;
	return e2e_browser_teardown(&env);
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
