/*
 * test_chromium_driver.c - end to end: the "chromium" browser driver (CDP
 * over --remote-debugging-pipe) with the real Chromium in a real sandbox
 * guest, through the group_visit API, against capture-corpusd in a
 * services namespace of this test (every name resolves to 10.201.255.1).
 *
 * Needs root, /usr/lib/chromium/chromium and the kernel sensor; a test
 * that cannot run here says why in its skip line.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/util.h"
#include "e2e/e2e_browser.h"

#define CHROMIUM   "/usr/lib/chromium/chromium"
#define CLOSED_URL E2E_CLOSED_URL

static struct e2e_browser_env env; /* the shipped exclusion lists */

/* Visits URLS with chromium in a sandbox guest (unless env.host); returns the wall time in ms. */
static uint64_t visit(const char *const *urls, size_t n, enum driver_layout layout,
		      unsigned visit_s, unsigned page_timeout_s, struct e2e_browser_run *r)
{
	return e2e_browser_visit(&env, urls, n, layout, NET_SERVICES, visit_s, page_timeout_s, r);
}

/* ---- tests ---- */

/* Two URLs in tabs of one browser: a page (200) and a missing one (404 is a page, no error). */
static void test_group_tabs(void **state)
{
	const char *urls[] = {"http://page.test/", "http://page.test/missing"};
	struct e2e_browser_run r;
	uint64_t ms;

	(void)state;
	ms = visit(urls, 2, DRIVER_LAYOUT_TABS, 1, 20, &r);
	print_message("dac group of 2: %llu ms, load %llu and %llu ms\n", (unsigned long long)ms,
		      (unsigned long long)r.urls[0].load_ms, (unsigned long long)r.urls[1].load_ms);
	e2e_check_page_and_missing(&r);
	assert_string_equal(r.urls[0].final_url, "http://page.test/");
	assert_true(r.urls[0].load_ms > 0);
	assert_int_equal(r.major, 0);
}

/* HTTP redirects 301 then 302: the chain and the final document. */
static void test_redirects(void **state)
{
	const char *urls[] = {"http://redir.test/old"};
	struct e2e_browser_run r;

	(void)state;
	visit(urls, 1, DRIVER_LAYOUT_TABS, 1, 20, &r);
	e2e_check_redirects(&r, 0);
}

/*
 * Refused (port 8089) and unresolvable (a name the browser's rules map to
 * NOTFOUND), in bulk.  Neither is a change: the refused connect is the
 * browser reaching the URL it was given (watch_expect_connection).
 */
static void test_network_errors_bulk(void **state)
{
	const char *urls[] = {CLOSED_URL, "http://clients2.google.com/"};
	struct e2e_browser_run r;

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
	struct e2e_browser_run r;
	uint64_t ms;

	(void)state;
	ms = visit(urls, 5, DRIVER_LAYOUT_PROCESSES, 1, 30, &r);
	print_message("bulk group of 5: %llu ms, events:\n%s%s", (unsigned long long)ms, r.events,
		      r.files);
	e2e_check_bulk_five(&r, 105); /* net::ERR_NAME_NOT_RESOLVED */
	assert_false(r.malicious);
}

/* A server that accepts and never answers: no load event within 3 s. */
static void test_timeout(void **state)
{
	const char *urls[] = {"http://page.test:81/"};
	struct e2e_browser_run r;
	uint64_t ms;

	(void)state;
	ms = visit(urls, 1, DRIVER_LAYOUT_TABS, 1, 3, &r);
	e2e_check_timeout(&r, ms);
}

/* The corpus drive-by: the file lands in ~/Downloads under its real name. */
static void test_download(void **state)
{
	const char *urls[] = {"http://download.corpus.test/"};
	struct e2e_browser_run r;

	(void)state;
	visit(urls, 1, DRIVER_LAYOUT_TABS, 3, 20, &r);
	print_message("download visit events:\n%s%s", r.events, r.files);
	e2e_check_download(&r);
	assert_true(r.malicious);
}

/* --screenshots: a PNG per loaded tab, <dir>/<visit id>-<URL number>.png, mode 0600. */
static void test_screenshots(void **state)
{
	const char *urls[] = {"http://page.test/", "http://page.test/missing"};
	char dir[PATH_MAX], path[PATH_MAX + 32], cmd[PATH_MAX + 16];
	struct e2e_browser_run r;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/shots", env.tmpdir);
	assert_int_equal(mkdir(dir, 0700), 0);
	env.screenshot_dir = dir;
	visit(urls, 2, DRIVER_LAYOUT_TABS, 1, 20, &r);
	env.screenshot_dir = NULL;
	for (size_t i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/cdp-e2e-%zu.png", dir, i + 1);
		assert_string_equal(r.urls[i].screenshot, path);
		e2e_assert_png(path);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

/* Without a sandbox: the browser in a fresh cgroup here, its pipes as fds 3/4 all the same. */
static void test_host_mode(void **state)
{
	char url[64], profile[128], port[16], pidfile[PATH_MAX], cmd[300];
	const char *urls[] = {url};
	int p = e2e_free_port();
	struct e2e_browser_run r;
	pid_t pid;

	(void)state;
	snprintf(port, sizeof(port), "%d", p);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", p);
	snprintf(pidfile, sizeof(pidfile), "%s/host.pid", env.tmpdir);
	assert_int_equal(e2e_write_site(&env, "127.0.0.1", "index.html", "<html>host</html>\n"), 0);
	{
		char *argv[] = {env.corpusd, "--root",    env.sites, "--port",
				port,        "--pidfile", pidfile,   NULL};

		pid = e2e_spawn(argv, "/dev/null", "/dev/null");
	}
	assert_int_equal(e2e_wait_file(pidfile), 0);
	env.host = true;
	visit(urls, 1, DRIVER_LAYOUT_TABS, 1, 20, &r);
	env.host = false;
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

/* ---- the world ---- */

static int setup(void **state)
{
	(void)state;
	return e2e_browser_setup(&env, "cdp", "chromium", true, "capture cdp e2e", NULL);
}

static int teardown(void **state)
{
	(void)state;
	return e2e_browser_teardown(&env);
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
	    cmocka_unit_test(test_screenshots),
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
