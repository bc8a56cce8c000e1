/*
 * test_remote_client.c - end to end: the real capture-client in networked
 * mode (-s) against a server built in this process from
 * src/server/client_conn.c (e2e_server of e2e.h: a libuv listener on
 * 127.0.0.1:<ephemeral>).
 *
 * Covered: the handshake with and without a key (a wrong or missing key is
 * dropped, and --connect-retries ends the client with status 3; a key file
 * open to others is refused), a curl-sh visit of a script served in a
 * services namespace of this test (malicious, the dropped file among the
 * system-events and in the uploaded zip), a benign curl visit with the
 * default exclusion lists, an unreachable URL (NETWORK_ERROR, minor = curl's
 * exit code), unknown and missing programs (PROCESS_ERROR,
 * PE_PROCESS_PATH_NOT_FOUND), a group of two URLs visited in turn in one
 * guest, a visit without a sandbox (a cgroup on this system), and a server
 * that drops the connection, idle or mid-visit (the client aborts and
 * reverts the visit and reconnects with <reconnect>).
 * Nothing may be left behind: guests, cgroups, the client's directory.
 * Needs root.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <ftw.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <uv.h>

#include "common/config.h"
#include "common/log.h"
#include "common/protocol.h"
#include "e2e.h"
#include "guest/cgroup.h"
#include "guest/netns.h"
#include "guest/sandbox.h"
#include "server/client_conn.h"

#define KEY        "remote-client-test-key\n"
#define DROPPED    "/home/capture/capture-remote-dropped.txt"
#define WEB_PORT   80
#define MAX_EVENTS 16384

static char client[PATH_MAX];
static char tmpdir[256];
static char services[64];
static struct net_services *svc;
static pid_t web = -1;

/* ---- the server side: e2e_server (e2e.h) and recording callbacks ---- */

struct world {
	struct e2e_server srv; /* loop, listener, options, upload directory, files */
	/* the group handed out on the next on_ready */
	bool pending;
	const char *program;
	unsigned visit_time;
	struct url_entry urls[2];
	size_t nurls;
	int group;
	/* what the server saw */
	struct client_conn *conn;
	int ready, started, done, closed, reconnects;
	enum client_conn_close last_close;
	char events[MAX_EVENTS];
	enum proto_visit_type end_type;
	bool malicious;
	uint32_t error_code;
	uint32_t major[2], minor[2], pid[2];
	pid_t cpid;
	char cerr[PATH_MAX];
};

static void on_ready(struct client_conn *c)
{
	struct world *w = client_conn_ctx(c);
	struct client_conn_visit v = {.identifier = "g1",
				      .program = w->program,
				      .visit_time_s = w->visit_time,
				      .urls = w->urls,
				      .n = w->nurls};

	w->conn = c;
	w->ready++;
	if (client_conn_reconnected(c))
		w->reconnects++;
	if (!w->pending)
		return;
	w->pending = false;
	assert_int_equal(client_conn_send_visit(c, &v, &w->group), 0);
}

static void on_started(struct client_conn *c, const struct proto_msg *m)
{
	struct world *w = client_conn_ctx(c);

	assert_string_equal(m->u.visit.algorithm, "seq");
	w->started++;
}

static void on_event(struct client_conn *c, const struct proto_msg *m)
{
	struct world *w = client_conn_ctx(c);
	size_t n = strlen(w->events);

	snprintf(w->events + n, sizeof(w->events) - n, "%s|%s|%s|%s\n", m->u.event.type,
		 m->u.event.action, m->u.event.process, m->u.event.object1);
}

static void on_file(struct client_conn *c, const char *path)
{
	struct world *w = client_conn_ctx(c);

	e2e_server_file(&w->srv, path);
}

static void on_done(struct client_conn *c, const struct proto_msg *m, void *group)
{
	struct world *w = client_conn_ctx(c);

	assert_ptr_equal(group, &w->group);
	w->done++;
	w->end_type = m->u.visit.type;
	w->malicious = m->u.visit.malicious;
	w->error_code = m->u.visit.error_code;
	for (size_t i = 0; i < m->u.visit.n_items && i < 2; i++) {
		w->major[i] = m->u.visit.items[i].major_error_code;
		w->minor[i] = m->u.visit.items[i].minor_error_code;
		w->pid[i] = m->u.visit.items[i].process_id;
	}
}

static void on_closed(struct client_conn *c, enum client_conn_close reason, void *group)
{
	struct world *w = client_conn_ctx(c);

	(void)group;
	if (w->conn == c)
		w->conn = NULL;
	w->closed++;
	w->last_close = reason;
}

static int world_setup(void **state)
{
	static const struct client_conn_callbacks cb = {on_ready, on_started, on_event,
							on_file,  on_done,    on_closed};
	struct world *w = calloc(1, sizeof(*w));
	char updir[PATH_MAX];

	assert_non_null(w);
	snprintf(updir, sizeof(updir), "%s/uploads.XXXXXX", tmpdir);
	e2e_server_open(&w->srv, &cb, w, updir);
	w->program = "curl";
	w->visit_time = 5;
	w->nurls = 1;
	w->cpid = -1;
	*state = w;
	return 0;
}

static void close_conn(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

static int client_wait(struct world *w, uint64_t ms);

static int world_teardown(void **state)
{
	struct world *w = *state;
	DIR *d;
	struct dirent *e;

	if (w->cpid > 0) { /* a test failed with its client running */
		kill(w->cpid, SIGTERM);
		client_wait(w, 20000);
	}
	if (w->conn)
		client_conn_close(w->conn);
	uv_run(&w->srv.loop, UV_RUN_NOWAIT);
	uv_walk(&w->srv.loop, close_conn, NULL);
	e2e_server_close(&w->srv);
	d = opendir(w->srv.updir);
	while (d && (e = readdir(d))) {
		char p[PATH_MAX * 2];

		snprintf(p, sizeof(p), "%s/%s", w->srv.updir, e->d_name);
		if (e->d_name[0] != '.')
			unlink(p);
	}
	if (d)
		closedir(d);
	rmdir(w->srv.updir);
	free(w);
	return 0;
}

/* Runs the server's loop until *FLAG >= WANT or MS milliseconds pass. */
static bool run_until(struct world *w, const int *flag, int want, uint64_t ms)
{
	uint64_t end = uv_now(&w->srv.loop) + ms;

	while (*flag < want && uv_now(&w->srv.loop) < end)
		uv_run(&w->srv.loop, UV_RUN_ONCE);
	return *flag >= want;
}

/* ---- the client ---- */

static void client_log_dump(const struct world *w)
{
	char *text = e2e_slurp(w->cerr);

	fprintf(stderr, "---- capture-client stderr ----\n%s\n---- server events ----\n%s\n",
		text ? text : "(none)", w->events);
	free(text);
}

/* Starts capture-client -s 127.0.0.1:PORT with EXTRA options (NULL-terminated). */
static void client_start(struct world *w, const char *name, const char *const *extra)
{
	char server[64], out[PATH_MAX];
	const char *argv[40] = {client, "-s", server, "-a", "local", "-b", "guest-1", "-v"};
	size_t n = 8;

	snprintf(server, sizeof(server), "127.0.0.1:%d", w->srv.port);
	snprintf(w->cerr, sizeof(w->cerr), "%s/%s.err", tmpdir, name);
	snprintf(out, sizeof(out), "%s/%s.out", tmpdir, name);
	for (size_t i = 0; extra && extra[i]; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;
	w->cpid = e2e_spawn((char *const *)argv, out, w->cerr);
	assert_true(w->cpid > 0);
}

/* Waits for the client to exit while the server's loop runs; its exit code, -1 if it did not. */
static int client_wait(struct world *w, uint64_t ms)
{
	uint64_t end = uv_now(&w->srv.loop) + ms;
	int status;

	while (uv_now(&w->srv.loop) < end) {
		if (waitpid(w->cpid, &status, WNOHANG) == w->cpid) {
			w->cpid = -1;
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		}
		uv_run(&w->srv.loop, UV_RUN_ONCE);
	}
	return -1;
}

static bool exists_with_prefix(const char *dir, const char *prefix)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	bool found = false;

	while (d && (e = readdir(d)))
		found |= strncmp(e->d_name, prefix, strlen(prefix)) == 0;
	if (d)
		closedir(d);
	return found;
}

/* SIGTERM: the client reverts and exits 0, leaving nothing behind. */
static void client_stop(struct world *w)
{
	char prefix[64], root[PATH_MAX], cg[PATH_MAX * 2];
	pid_t pid = w->cpid;
	int code;

	kill(pid, SIGTERM);
	code = client_wait(w, 20000);
	if (code != 0)
		client_log_dump(w);
	assert_int_equal(code, 0);
	snprintf(prefix, sizeof(prefix), "c%d-", (int)pid);
	assert_false(exists_with_prefix(SANDBOX_BASE_DIR, prefix));
	assert_int_equal(cgroup_v2_root(root, sizeof(root)), 0);
	snprintf(cg, sizeof(cg), "%s/capture", root);
	snprintf(prefix, sizeof(prefix), "sbx-c%d-", (int)pid);
	assert_false(exists_with_prefix(cg, prefix));
	snprintf(prefix, sizeof(prefix), "remote-%d-", (int)pid);
	assert_false(exists_with_prefix(cg, prefix));
	snprintf(prefix, sizeof(prefix), "capture-client-%d", (int)pid);
	assert_false(exists_with_prefix("/run", prefix));
}

/* One visit of URL(s) with PROGRAM; returns once the server has the end of it. */
static void visit(struct world *w, const char *name, const char *program, const char *url1,
		  const char *url2, const char *const *extra)
{
	w->program = program;
	w->urls[0].url = (char *)url1;
	w->urls[1].url = (char *)url2;
	w->nurls = url2 ? 2 : 1;
	w->pending = true;
	client_start(w, name, extra);
	if (!run_until(w, &w->done, 1, 60000)) {
		client_log_dump(w);
		fail_msg("no end of the visit");
	}
}

static const char *const sandbox_opts[] = {"--sandbox",  "--network",         "services",
					   "--services", NULL /* services */, NULL};

static const char *const *sandboxed(void)
{
	static const char *opts[6];

	memcpy(opts, sandbox_opts, sizeof(opts));
	opts[4] = services;
	return opts;
}

/* ---- the web server in the services namespace ---- */

/* Serves BODY for every request on WEB_PORT of the services namespace. */
static pid_t serve(const char *body)
{
	char resp[1024];
	pid_t pid;

	assert_true((size_t)snprintf(resp, sizeof(resp),
				     "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n"
				     "Content-Length: %zu\r\n\r\n%s",
				     strlen(body), body) < sizeof(resp));
	pid = e2e_serve(net_services_fd(svc), WEB_PORT, resp);
	usleep(200000);
	return pid;
}

static void stop_web(void)
{
	if (web > 0) {
		kill(web, SIGKILL);
		waitpid(web, NULL, 0);
	}
	web = -1;
}

/* True if the zip at PATH has an entry NAME. */
static bool zip_has(const char *path, const char *name)
{
	struct archive *a = archive_read_new();
	struct archive_entry *ent;
	bool found = false;

	archive_read_support_format_zip(a);
	if (archive_read_open_filename(a, path, 16384) == ARCHIVE_OK) {
		while (archive_read_next_header(a, &ent) == ARCHIVE_OK) {
			found |= strcmp(archive_entry_pathname(ent), name) == 0;
			archive_read_data_skip(a);
		}
	}
	archive_read_free(a);
	return found;
}

/* ---- tests ---- */

static void write_key(const char *path, const char *text, mode_t mode)
{
	assert_int_equal(e2e_write_file(path, text, mode), 0);
}

static void test_handshake_with_and_without_key(void **state)
{
	struct world *w = *state;
	char good[PATH_MAX], bad[PATH_MAX], open_key[PATH_MAX];
	char *text;

	snprintf(good, sizeof(good), "%s/good.key", tmpdir);
	snprintf(bad, sizeof(bad), "%s/bad.key", tmpdir);
	snprintf(open_key, sizeof(open_key), "%s/open.key", tmpdir);
	write_key(good, KEY, 0600);
	write_key(bad, "not-the-key\n", 0600);
	write_key(open_key, KEY, 0644);

	/* no key on either side */
	client_start(w, "nokey", NULL);
	assert_true(run_until(w, &w->ready, 1, 10000));
	client_stop(w);
	text = e2e_slurp(w->cerr);
	assert_non_null(strstr(text, "as local/guest-1"));
	free(text);

	w->srv.params.auth_key = KEY;
	w->srv.params.auth_key_len = strlen(KEY);
	client_start(w, "goodkey", (const char *const[]){"--key", good, NULL});
	assert_true(run_until(w, &w->ready, 2, 10000));
	client_stop(w);

	/* a wrong key and no key are dropped; the client gives up after two tries */
	client_start(w, "badkey",
		     (const char *const[]){"--key", bad, "--connect-retries", "2", NULL});
	assert_int_equal(client_wait(w, 20000), 3);
	assert_int_equal(w->ready, 2);
	assert_int_equal(w->last_close, CLIENT_CONN_CLOSE_PROTOCOL);
	client_start(w, "missingkey", (const char *const[]){"--connect-retries", "1", NULL});
	assert_int_equal(client_wait(w, 20000), 3);
	text = e2e_slurp(w->cerr);
	assert_non_null(strstr(text, "server requires authentication: pass --key FILE"));
	free(text);
	assert_int_equal(w->ready, 2);

	/* a key file others may read is refused before anything else */
	client_start(w, "openkey", (const char *const[]){"--key", open_key, NULL});
	assert_int_equal(client_wait(w, 10000), 3);
	text = e2e_slurp(w->cerr);
	assert_non_null(strstr(text, "readable by group or others"));
	free(text);
}

static void test_curl_sh_script_is_malicious_and_uploaded(void **state)
{
	struct world *w = *state;
	char line[512];

	w->srv.cfg.collect_modified_files = true;
	web = serve("echo dropped > \"$HOME/capture-remote-dropped.txt\"\n");
	visit(w, "curlsh", "curl-sh", "http://drop.test/install.sh", NULL, sandboxed());
	assert_int_equal(w->started, 1);
	assert_int_equal(w->end_type, PROTO_VISIT_FINISH);
	assert_true(w->malicious);
	assert_int_equal(w->error_code, 0);
	assert_true(w->pid[0] > 0);
	snprintf(line, sizeof(line), "file|Create|/usr/bin/dash|%s\n", DROPPED);
	if (!strstr(w->events, line))
		client_log_dump(w);
	assert_non_null(strstr(w->events, line));
	/* the driver's plumbing (its shells and curl) is not a change */
	assert_null(strstr(w->events, "process|created|/usr/bin/dash|"));
	assert_int_equal(w->srv.nfiles, 1);
	assert_true(zip_has(w->srv.files[0], "modified_files" DROPPED));
	client_stop(w);
	stop_web();
}

static void test_benign_curl_visit(void **state)
{
	struct world *w = *state;

	web = serve("<html><body>nothing to see</body></html>\n");
	visit(w, "benign", "curl", "http://page.test/", NULL, sandboxed());
	if (w->malicious)
		client_log_dump(w);
	assert_int_equal(w->end_type, PROTO_VISIT_FINISH);
	assert_false(w->malicious);
	assert_int_equal(w->major[0], 0);
	assert_true(w->pid[0] > 0);
	assert_string_equal(w->events, "");
	assert_int_equal(w->srv.nfiles, 0); /* benign and no pcap wanted: nothing uploaded */
	client_stop(w);
	stop_web();
}

static void test_unreachable_url_is_network_error(void **state)
{
	struct world *w = *state;

	visit(w, "unreachable", "curl", "http://nothing.test:9/", NULL, sandboxed());
	assert_int_equal(w->end_type, PROTO_VISIT_ERROR);
	assert_int_equal(w->error_code, PROTO_ERR_NETWORK_ERROR);
	assert_int_equal(w->major[0], PROTO_ERR_NETWORK_ERROR);
	assert_int_equal(w->minor[0], 7); /* curl: could not connect */
	/*
	 * The refused attempt is a tcp-connection to :9 for the sensor
	 * (docs/sensor.md: EINPROGRESS), but it is curl reaching the URL it was
	 * given: not a change (watch_expect_connection).
	 */
	assert_string_equal(w->events, "");
	assert_false(w->malicious);
	client_stop(w);
}

static void test_program_not_found(void **state)
{
	struct world *w = *state;
	char apps[PATH_MAX];
	const char *extra[] = {"--sandbox", "--applications", apps, NULL};

	snprintf(apps, sizeof(apps), "%s/apps.conf", tmpdir);
	assert_int_equal(e2e_write(tmpdir, "apps.conf", "ghost\t/nonexistent/ghost\n"), 0);
	visit(w, "ghost", "ghost", "http://page.test/", NULL, extra);
	assert_int_equal(w->end_type, PROTO_VISIT_ERROR);
	assert_int_equal(w->error_code, PROTO_ERR_PROCESS_ERROR);
	assert_int_equal(w->minor[0], PROTO_ERR_PE_PROCESS_PATH_NOT_FOUND);
	assert_int_equal(w->started, 0); /* no guest was made for it */
	client_stop(w);

	w->done = 0;
	visit(w, "unknown", "no-such-program", "http://page.test/", NULL, extra);
	assert_int_equal(w->error_code, PROTO_ERR_PROCESS_ERROR);
	assert_int_equal(w->minor[0], PROTO_ERR_PE_PROCESS_PATH_NOT_FOUND);
	client_stop(w);
}

static void test_group_of_two_in_one_guest(void **state)
{
	struct world *w = *state;
	char line[512];

	web = serve("echo dropped > \"$HOME/capture-remote-dropped.txt\"\n");
	visit(w, "group", "curl-sh", "http://first.test/a.sh", "http://second.test/b.sh",
	      sandboxed());
	assert_int_equal(w->end_type, PROTO_VISIT_FINISH);
	assert_true(w->malicious);
	assert_true(w->pid[0] > 0 && w->pid[1] > 0 && w->pid[0] != w->pid[1]);
	/* one guest: the second script finds the first one's file and writes it again */
	snprintf(line, sizeof(line), "file|Create|/usr/bin/dash|%s\n", DROPPED);
	assert_non_null(strstr(w->events, line));
	assert_null(strstr(strstr(w->events, line) + 1, line));
	client_stop(w);
	stop_web();
}

static void test_without_sandbox_a_cgroup(void **state)
{
	struct world *w = *state;
	char script[PATH_MAX], url[PATH_MAX + 16], body[PATH_MAX + 64], marker[PATH_MAX];
	char line[PATH_MAX + 64];

	snprintf(marker, sizeof(marker), "%s/host-marker", tmpdir);
	snprintf(body, sizeof(body), "echo x > %s\n", marker);
	assert_int_equal(e2e_write(tmpdir, "host.sh", body), 0);
	snprintf(script, sizeof(script), "%s/host.sh", tmpdir);
	snprintf(url, sizeof(url), "file://%s", script);
	visit(w, "host", "curl-sh", url, NULL, NULL);
	assert_int_equal(w->end_type, PROTO_VISIT_FINISH);
	assert_true(w->malicious);
	snprintf(line, sizeof(line), "file|Create|/usr/bin/dash|%s\n", marker);
	assert_non_null(strstr(w->events, line));
	assert_int_equal(access(marker, F_OK), 0);
	client_stop(w);
}

static void test_reconnect_after_a_drop(void **state)
{
	struct world *w = *state;
	char *text;

	client_start(w, "reconnect", NULL);
	assert_true(run_until(w, &w->ready, 1, 10000));
	assert_int_equal(w->reconnects, 0);
	client_conn_close(w->conn); /* the server drops an idle client */
	assert_true(run_until(w, &w->ready, 2, 10000));
	assert_int_equal(w->reconnects, 1);
	client_stop(w);
	text = e2e_slurp(w->cerr);
	assert_non_null(strstr(text, "connection to 127.0.0.1:"));
	free(text);
}

static void test_drop_mid_visit_aborts_and_reverts(void **state)
{
	struct world *w = *state;
	char prefix[64];

	/* the guest gets a pcap in the client's directory */
	w->srv.cfg.collect_modified_files = true;
	web = serve("sleep 60\n");
	w->program = "curl-sh";
	w->visit_time = 60;
	w->urls[0].url = "http://slow.test/s.sh";
	w->pending = true;
	client_start(w, "drop", sandboxed());
	assert_true(run_until(w, &w->started, 1, 30000));
	snprintf(prefix, sizeof(prefix), "c%d-", (int)w->cpid);
	assert_true(exists_with_prefix(SANDBOX_BASE_DIR, prefix));
	client_conn_close(w->conn); /* mid-visit: the client aborts it and comes back */
	assert_true(run_until(w, &w->ready, 2, 10000));
	assert_int_equal(w->reconnects, 1);
	assert_int_equal(w->done, 0);
	assert_false(exists_with_prefix(SANDBOX_BASE_DIR, prefix)); /* reverted at once */
	client_stop(w);
	stop_web();
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_handshake_with_and_without_key, world_setup,
					    world_teardown),
	    cmocka_unit_test_setup_teardown(test_curl_sh_script_is_malicious_and_uploaded,
					    world_setup, world_teardown),
	    cmocka_unit_test_setup_teardown(test_benign_curl_visit, world_setup, world_teardown),
	    cmocka_unit_test_setup_teardown(test_unreachable_url_is_network_error, world_setup,
					    world_teardown),
	    cmocka_unit_test_setup_teardown(test_program_not_found, world_setup, world_teardown),
	    cmocka_unit_test_setup_teardown(test_group_of_two_in_one_guest, world_setup,
					    world_teardown),
	    cmocka_unit_test_setup_teardown(test_without_sandbox_a_cgroup, world_setup,
					    world_teardown),
	    cmocka_unit_test_setup_teardown(test_reconnect_after_a_drop, world_setup,
					    world_teardown),
	    cmocka_unit_test_setup_teardown(test_drop_mid_visit_aborts_and_reverts, world_setup,
					    world_teardown),
	};
	struct net_services_config nc = {.mode = NET_SERVICES};
	char tmpl[] = "/tmp/capture-remote.XXXXXX", err[512];
	int rc;

	if (getenv("CAPTURE_TEST_FILTER")) /* run one test: CAPTURE_TEST_FILTER=test_name */
		cmocka_set_test_filter(getenv("CAPTURE_TEST_FILTER"));
	signal(SIGPIPE, SIG_IGN);
	e2e_sibling("../../capture-client", client, sizeof(client));
	if (!mkdtemp(tmpl)) {
		perror("mkdtemp");
		return 1;
	}
	chmod(tmpl, 0755);
	snprintf(tmpdir, sizeof(tmpdir), "%s", tmpl);
	snprintf(services, sizeof(services), "capture-rtest-%d", (int)getpid());
	nc.name = services;
	nc.blocked_ports[0] = 7070;
	if (net_services_open(&nc, &svc, err, sizeof(err)) < 0) {
		fprintf(stderr, "services namespace: %s\n", err);
		return 1;
	}
	log_init("test_remote_client", LOG_LEVEL_WARN, NULL);
	rc = cmocka_run_group_tests_name("e2e_remote_client", tests, NULL, NULL);
	stop_web();
	net_services_close(svc);
	net_services_destroy(services, err, sizeof(err));
	if (rc == 0) /* keep the clients' logs of a failed run */
		nftw(tmpdir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
	return rc;
}
