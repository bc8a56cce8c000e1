/*
 * test_corpusd.c - end to end: the real capture-corpusd on 127.0.0.1 (and in
 * a services namespace of its own) with a temporary site tree, driven with
 * raw HTTP requests over a socket, so the request targets reach it exactly
 * as written (no client-side normalisation of "..").  Needs root for the
 * namespace test only.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>

#include "e2e.h"
#include "guest/netns.h"

static char corpusd[PATH_MAX];
static char tmpdir[256];
static char sites[PATH_MAX];
static char services[64];

static void path_in(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", tmpdir, name);
}

/* Waits up to 5 s for PIDFILE to hold PID. */
static void wait_pidfile(const char *pidfile, pid_t pid)
{
	for (int i = 0; i < 500; i++) {
		char *text = e2e_slurp(pidfile);
		int got = text ? atoi(text) : 0;

		free(text);
		if (got == (int)pid)
			return;
		if (waitpid(pid, NULL, WNOHANG) == pid)
			fail_msg("capture-corpusd exited before listening");
		usleep(10000);
	}
	fail_msg("no pid file %s", pidfile);
}

struct server {
	pid_t pid;
	int port;
	char pidfile[PATH_MAX], log[PATH_MAX], out[PATH_MAX], err[PATH_MAX];
};

static void server_start(struct server *s, const char *netns)
{
	char port[16];

	s->port = netns ? 80 : e2e_free_port();
	snprintf(port, sizeof(port), "%d", s->port);
	path_in(s->pidfile, sizeof(s->pidfile), netns ? "ns.pid" : "corpusd.pid");
	path_in(s->log, sizeof(s->log), netns ? "ns-requests.log" : "requests.log");
	path_in(s->out, sizeof(s->out), "corpusd.out");
	path_in(s->err, sizeof(s->err), netns ? "ns.err" : "corpusd.err");
	unlink(s->log);
	if (netns) {
		char *argv[] = {corpusd,    "--root", sites,  "--netns", (char *)netns, "--pidfile",
				s->pidfile, "--log",  s->log, "-v",      NULL};

		s->pid = e2e_spawn(argv, s->out, s->err);
	} else {
		char *argv[] = {corpusd,    "--root", sites,  "--port", port, "--pidfile",
				s->pidfile, "--log",  s->log, "-v",     NULL};

		s->pid = e2e_spawn(argv, s->out, s->err);
	}
	assert_true(s->pid > 0);
	wait_pidfile(s->pidfile, s->pid);
}

/* SIGTERM: exits 0 and removes its pid file. */
static void server_stop(struct server *s)
{
	int status;

	assert_int_equal(kill(s->pid, SIGTERM), 0);
	assert_int_equal(waitpid(s->pid, &status, 0), s->pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(access(s->pidfile, F_OK), -1);
}

/* Sends REQUEST as is to ADDR:PORT; returns the whole response (the server closes). */
static char *http_raw(const char *addr, int port, const char *request)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	size_t len = 0, cap = 65536;
	char *buf = malloc(cap + 1);
	int s = socket(AF_INET, SOCK_STREAM, 0);
	ssize_t n;

	assert_non_null(buf);
	assert_int_equal(inet_pton(AF_INET, addr, &a.sin_addr), 1);
	assert_int_equal(connect(s, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(write(s, request, strlen(request)), (ssize_t)strlen(request));
	while (len < cap && (n = read(s, buf + len, cap - len)) > 0)
		len += (size_t)n;
	buf[len] = '\0';
	close(s);
	return buf;
}

/* GET (or METHOD) of TARGET with Host HOST on 127.0.0.1. */
static char *http(const struct server *s, const char *method, const char *host, const char *target)
{
	char req[1024];

	snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n",
		 method, target, host);
	return http_raw("127.0.0.1", s->port, req);
}

static void expect_status(char *resp, int status)
{
	int got = 0;

	if (sscanf(resp, "HTTP/1.%*d %d", &got) != 1 || got != status)
		fail_msg("expected %d, got:\n%s", status, resp);
}

/* Asserts the response status and that the body is BODY (NULL = do not check); frees RESP. */
static void expect_response(char *resp, int status, const char *body)
{
	const char *b = strstr(resp, "\r\n\r\n");

	expect_status(resp, status);
	assert_non_null(b);
	if (body)
		assert_string_equal(b + 4, body);
	assert_null(strstr(resp, "TOP-SECRET")); /* the file outside the sites, never */
	free(resp);
}

static int setup(void **state)
{
	char p[PATH_MAX], d[PATH_MAX];

	(void)state;
	snprintf(p, sizeof(p), "%s/secret.txt", tmpdir);
	e2e_write(tmpdir, "secret.txt", "TOP-SECRET\n");
	snprintf(sites, sizeof(sites), "%s/sites", tmpdir);
	mkdir(sites, 0755);
	snprintf(d, sizeof(d), "%s/www.corpus.test", sites);
	e2e_write(d, "index.html", "<h1>home</h1>\n");
	e2e_write(d, "style.css", "h1{color:red}\n");
	e2e_write(d, "_redirects",
		  "# moved pages\n/old.html\t302\t/index.html\n"
		  "/away\t301\thttp://other.corpus.test/\n");
	snprintf(p, sizeof(p), "%s/leak.txt", d);
	return symlink("../../secret.txt", p);
}

static void test_pages_types_head_and_default_site(void **state)
{
	struct server s;
	char d[PATH_MAX], *resp;

	(void)state;
	server_start(&s, NULL);
	resp = http(&s, "GET", "www.corpus.test", "/");
	assert_non_null(strstr(resp, "Content-Type: text/html; charset=utf-8\r\n"));
	expect_response(resp, 200, "<h1>home</h1>\n");
	resp = http(&s, "GET", "WWW.Corpus.Test:80", "/style.css?v=1");
	assert_non_null(strstr(resp, "Content-Type: text/css; charset=utf-8\r\n"));
	expect_response(resp, 200, "h1{color:red}\n");
	resp = http(&s, "HEAD", "www.corpus.test", "/style.css");
	assert_non_null(strstr(resp, "Content-Length: 14\r\n"));
	expect_response(resp, 200, "");
	/* no directory for the host, no default site yet: 404; then with one */
	expect_response(http(&s, "GET", "nowhere.corpus.test", "/"), 404, "404 Not Found\n");
	snprintf(d, sizeof(d), "%s/default", sites);
	e2e_write(d, "index.html", "<p>default</p>\n");
	expect_response(http(&s, "GET", "nowhere.corpus.test", "/"), 200, "<p>default</p>\n");
	expect_response(http(&s, "GET", "www.corpus.test", "/missing.html"), 404, NULL);
	expect_response(http(&s, "POST", "www.corpus.test", "/"), 405, NULL);
	server_stop(&s);
}

static void test_traversal_refused(void **state)
{
	static const char *const targets[] = {
	    "/../secret.txt",       "/../../secret.txt",       "/%2e%2e/secret.txt",
	    "/%2E%2E%2Fsecret.txt", "/x/..%2f..%2fsecret.txt", "/./index.html",
	};
	struct server s;
	size_t i;

	(void)state;
	server_start(&s, NULL);
	for (i = 0; i < sizeof(targets) / sizeof(targets[0]); i++)
		expect_response(http(&s, "GET", "www.corpus.test", targets[i]), 400, NULL);
	expect_response(http(&s, "GET", "www.corpus.test", "/a%00b"), 400, NULL);
	expect_response(http(&s, "GET", "www.corpus.test", "/leak.txt"), 403, NULL);
	expect_response(http(&s, "GET", "www.corpus.test", "/_redirects"), 404, NULL);
	expect_response(http(&s, "GET", "..", "/secret.txt"), 404, NULL);
	expect_response(http(&s, "GET", "../..", "/secret.txt"), 404, NULL);
	server_stop(&s);
}

static void test_redirects_and_request_log(void **state)
{
	struct server s;
	char *resp, *log;

	(void)state;
	server_start(&s, NULL);
	resp = http(&s, "GET", "www.corpus.test", "/old.html");
	assert_non_null(strstr(resp, "Location: /index.html\r\n"));
	expect_response(resp, 302, NULL);
	resp = http(&s, "GET", "www.corpus.test", "/away");
	assert_non_null(strstr(resp, "Location: http://other.corpus.test/\r\n"));
	expect_response(resp, 301, NULL);
	expect_response(http(&s, "GET", "www.corpus.test", "/style.css"), 200, NULL);
	server_stop(&s);
	log = e2e_slurp(s.log);
	assert_non_null(log);
	assert_non_null(strstr(log, "\t127.0.0.1\twww.corpus.test\tGET\t/old.html\t302\t"));
	assert_non_null(strstr(log, "\twww.corpus.test\tGET\t/away\t301\t"));
	assert_non_null(
	    strstr(log, "\twww.corpus.test\tGET\t/style.css\t200\t14\tsite=www.corpus.test\n"));
	free(log);
}

static void test_bad_command_lines(void **state)
{
	char out[PATH_MAX], errf[PATH_MAX], *text;
	char *no_root[] = {corpusd, "--port", "1", NULL};
	char *bad_port[] = {corpusd, "--root", sites, "--port", "70000", NULL};
	char *bad_dir[] = {corpusd, "--root", "/nonexistent/corpus", NULL};
	char *bad_addr[] = {corpusd, "--root", sites, "--address", "localhost", NULL};
	int status;

	(void)state;
	path_in(out, sizeof(out), "bad.out");
	path_in(errf, sizeof(errf), "bad.err");
	status = e2e_run(no_root, out, errf);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 2);
	text = e2e_slurp(errf);
	assert_non_null(strstr(text, "--root DIR is required"));
	free(text);
	status = e2e_run(bad_port, out, errf);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 2);
	text = e2e_slurp(errf);
	assert_non_null(strstr(text, "--port 70000: expected a port between 0 and 65535"));
	free(text);
	status = e2e_run(bad_dir, out, errf);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 1);
	text = e2e_slurp(errf);
	assert_non_null(strstr(text, "--root /nonexistent/corpus: No such file or directory"));
	free(text);
	status = e2e_run(bad_addr, out, errf);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 1);
	text = e2e_slurp(errf);
	assert_non_null(strstr(text, "--address localhost: expected an IPv4 or IPv6 address"));
	free(text);
}

/* GET TARGET from 10.201.255.1:80, as seen from inside the services namespace NAME. */
static char *http_in_netns(const char *name, const char *host, const char *target)
{
	char path[128], req[512];
	int fd[2], nsfd;
	pid_t pid;
	char *buf = calloc(1, 65536);

	assert_non_null(buf);
	snprintf(path, sizeof(path), "/run/netns/%s", name);
	snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n",
		 target, host);
	assert_int_equal(pipe(fd), 0);
	pid = fork();
	if (pid == 0) {
		char *resp;

		nsfd = open(path, O_RDONLY | O_CLOEXEC);
		if (nsfd < 0 || setns(nsfd, CLONE_NEWNET) < 0)
			_exit(1);
		resp = http_raw(NET_SERVICES_ADDR, 80, req);
		(void)!write(fd[1], resp, strlen(resp));
		_exit(0);
	}
	close(fd[1]);
	(void)!read(fd[0], buf, 65535);
	close(fd[0]);
	waitpid(pid, NULL, 0);
	return buf;
}

static void test_serves_in_a_services_namespace(void **state)
{
	struct server s;
	char *log;

	(void)state;
	if (geteuid() != 0)
		skip(); /* creating a network namespace needs root */
	server_start(&s, services);
	expect_response(http_in_netns(services, "www.corpus.test", "/"), 200, "<h1>home</h1>\n");
	expect_response(http_in_netns(services, "any.name.test", "/"), 200, "<p>default</p>\n");
	server_stop(&s);
	log = e2e_slurp(s.log);
	assert_non_null(strstr(log, "\t" NET_SERVICES_ADDR "\twww.corpus.test\tGET\t/\t200\t"));
	free(log);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pages_types_head_and_default_site),
	    cmocka_unit_test(test_traversal_refused),
	    cmocka_unit_test(test_redirects_and_request_log),
	    cmocka_unit_test(test_bad_command_lines),
	    cmocka_unit_test(test_serves_in_a_services_namespace),
	};
	char tmpl[] = "/tmp/capture-corpusd.XXXXXX";
	char err[256];
	int rc;

	if (getenv("CAPTURE_TEST_FILTER"))
		cmocka_set_test_filter(getenv("CAPTURE_TEST_FILTER"));
	e2e_sibling("../../capture-corpusd", corpusd, sizeof(corpusd));
	if (!mkdtemp(tmpl)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(tmpdir, sizeof(tmpdir), "%s", tmpl);
	snprintf(services, sizeof(services), "capture-test-corpus-%d", (int)getpid());
	rc = cmocka_run_group_tests_name("e2e_corpusd", tests, setup, NULL);
	if (geteuid() == 0)
		net_services_destroy(services, err, sizeof(err));
	snprintf(err, sizeof(err), "rm -rf '%s'", tmpdir);
	if (system(err) != 0)
		rc = 1;
	return rc;
}
