/*
 * test_sandbox.c - end to end: capture-client --sandbox runs real programs
 * in fresh sandbox guests, reports their changes, collects them, reverts,
 * and leaves nothing behind.  Needs root.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <archive.h>
#include <archive_entry.h>
#include <arpa/inet.h>
#include <dirent.h>
#include <net/if.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>

#include "e2e.h"
#include "guest/cgroup.h"
#include "guest/netns.h"
#include "guest/sandbox.h"

static char client[PATH_MAX];
static char tmpdir[256];
static char services[64];

static void path_in(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", tmpdir, name);
}

/* SHA-256 of a file as hex, or "" if unreadable. */
static void sha256_file(const char *path, char out[65])
{
	unsigned char md[32], buf[4096];
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	FILE *f = fopen(path, "rb");
	unsigned len = 0;
	size_t n;

	out[0] = '\0';
	if (!f || !ctx) {
		if (f)
			fclose(f);
		EVP_MD_CTX_free(ctx);
		return;
	}
	EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		EVP_DigestUpdate(ctx, buf, n);
	EVP_DigestFinal_ex(ctx, md, &len);
	for (unsigned i = 0; i < len; i++)
		sprintf(out + 2 * i, "%02x", md[i]);
	EVP_MD_CTX_free(ctx);
	fclose(f);
}

/* Runs capture-client with ARGV[1..]; returns its exit code and its pid. */
static int run_client(char *const argv[], const char *out, const char *errf, pid_t *pid_out)
{
	pid_t pid = e2e_spawn(argv, out, errf);
	int status;

	assert_true(pid > 0);
	if (pid_out)
		*pid_out = pid;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

/* Nothing of the guest of client PID may survive: dirs, mounts, cgroups, processes. */
static void assert_no_residue(pid_t client_pid)
{
	char name[64], path[PATH_MAX], root[PATH_MAX];
	char *mounts;

	snprintf(name, sizeof(name), "c%d-0", (int)client_pid);
	snprintf(path, sizeof(path), "%s/%s", SANDBOX_BASE_DIR, name);
	assert_int_equal(access(path, F_OK), -1);
	mounts = e2e_slurp("/proc/self/mountinfo");
	assert_null(strstr(mounts, name));
	free(mounts);
	assert_int_equal(cgroup_v2_root(root, sizeof(root)), 0);
	snprintf(path, sizeof(path), "%s/capture/sbx-%s", root, name);
	assert_int_equal(access(path, F_OK), -1);
	snprintf(path, sizeof(path), "/sys/fs/cgroup/memory/capture/%s", name);
	assert_int_equal(access(path, F_OK), -1);
	snprintf(path, sizeof(path), "/sys/fs/cgroup/pids/capture/%s", name);
	assert_int_equal(access(path, F_OK), -1);
}

/* Any process whose command line mentions MARKER (a path unique to this test). */
static int processes_mentioning(const char *marker)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int n = 0;

	while (d && (e = readdir(d))) {
		char path[300], buf[4096];
		FILE *f;
		size_t len;

		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/cmdline", e->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		len = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		for (size_t i = 0; i < len; i++)
			if (buf[i] == '\0')
				buf[i] = ' ';
		buf[len] = '\0';
		if (strstr(buf, marker) && !strstr(buf, "capture-client"))
			n++;
	}
	if (d)
		closedir(d);
	return n;
}

static void test_guest_changes_reported_collected_host_untouched(void **state)
{
	char prog[PATH_MAX], lower[PATH_MAX], log[PATH_MAX], out[PATH_MAX], errf[PATH_MAX],
	    collect[PATH_MAX], before[3][65], after[3][65], p[PATH_MAX], archive[PATH_MAX];
	const char *files[] = {"modify-me.txt", "rename-me.txt", "delete-me.txt"};
	json_t *ev, *sum, *guest;
	struct archive *a;
	struct archive_entry *ent;
	int found_modified = 0, found_deleted = 0, found_dropped = 0, found_manifest = 0;
	pid_t cpid;
	char *text;

	(void)state;
	e2e_sibling("prog_guestfs", prog, sizeof(prog));
	path_in(lower, sizeof(lower), "lower");
	path_in(log, sizeof(log), "fs.jsonl");
	path_in(out, sizeof(out), "fs.out");
	path_in(errf, sizeof(errf), "fs.err");
	path_in(collect, sizeof(collect), "collect");
	mkdir(lower, 0777);
	chmod(lower, 0777); /* the guest user may change what is in it, through the overlay */
	for (int i = 0; i < 3; i++) {
		assert_int_equal(e2e_write(lower, files[i], "original host content\n"), 0);
		snprintf(p, sizeof(p), "%s/%s", lower, files[i]);
		chmod(p, 0666);
		sha256_file(p, before[i]);
	}
	char *argv[] = {client,      "--sandbox", "--json", "-x", "none", "-l", log,
			"--collect", collect,     "--",     prog, lower,  NULL};

	assert_int_equal(run_client(argv, out, errf, &cpid), 1);
	text = e2e_slurp(out);
	assert_string_equal(text, "ok\n");
	free(text);

	/* the host's files are untouched, byte for byte */
	for (int i = 0; i < 3; i++) {
		snprintf(p, sizeof(p), "%s/%s", lower, files[i]);
		sha256_file(p, after[i]);
		assert_string_equal(before[i], after[i]);
	}
	snprintf(p, sizeof(p), "%s/renamed.txt", lower);
	assert_int_equal(access(p, F_OK), -1);

	/* events carry guest paths */
	ev = e2e_load_jsonl(log);
	assert_int_equal(e2e_count(ev, "file", "Create", "/home/capture/dropped.txt"), 1);
	snprintf(p, sizeof(p), "%s/modify-me.txt", lower);
	assert_int_equal(e2e_count(ev, "file", "Write", p), 1);
	snprintf(p, sizeof(p), "%s/rename-me.txt", lower);
	assert_int_equal(e2e_count(ev, "file", "Rename", p), 1);
	snprintf(p, sizeof(p), "%s/delete-me.txt", lower);
	assert_int_equal(e2e_count(ev, "file", "Delete", p), 1);
	json_decref(ev);

	/* the collection */
	sum = e2e_summary(errf);
	assert_non_null(sum);
	assert_string_equal(e2e_str(sum, "scope"), "sandbox");
	guest = json_object_get(sum, "guest");
	assert_non_null(guest);
	assert_true(json_integer_value(json_object_get(guest, "created")) >=
		    2); /* dropped, renamed */
	assert_int_equal(json_integer_value(json_object_get(guest, "modified")), 1);
	assert_int_equal(json_integer_value(json_object_get(guest, "deleted")),
			 2); /* deleted, renamed away */
	snprintf(archive, sizeof(archive), "%s", e2e_str(guest, "archive"));
	json_decref(sum);
	a = archive_read_new();
	archive_read_support_format_zip(a);
	assert_int_equal(archive_read_open_filename(a, archive, 16384), ARCHIVE_OK);
	while (archive_read_next_header(a, &ent) == ARCHIVE_OK) {
		const char *name = archive_entry_pathname(ent);

		snprintf(p, sizeof(p), "modified_files%s/modify-me.txt", lower);
		found_modified += strcmp(name, p) == 0;
		snprintf(p, sizeof(p), "deleted_files%s/delete-me.txt", lower);
		found_deleted += strcmp(name, p) == 0;
		found_dropped += strcmp(name, "modified_files/home/capture/dropped.txt") == 0;
		found_manifest += strcmp(name, "manifest.json") == 0;
		archive_read_data_skip(a);
	}
	archive_read_free(a);
	assert_int_equal(found_modified, 1);
	assert_int_equal(found_deleted, 1);
	assert_int_equal(found_dropped, 1);
	assert_int_equal(found_manifest, 1);
	assert_no_residue(cpid);
}

static void test_daemon_is_killed_at_revert(void **state)
{
	char prog[PATH_MAX], marker[PATH_MAX], out[PATH_MAX], errf[PATH_MAX];
	time_t start = time(NULL);
	pid_t cpid;

	(void)state;
	e2e_sibling("prog_daemon", prog, sizeof(prog));
	path_in(marker, sizeof(marker), "daemon-marker-in-guest");
	path_in(out, sizeof(out), "sd.out");
	path_in(errf, sizeof(errf), "sd.err");
	char *argv[] = {client, "--sandbox", "-x", "none", "-t",   "2",
			"-l",   "/dev/null", "--", prog,   marker, NULL};

	run_client(argv, out, errf, &cpid);
	assert_true(time(NULL) - start >= 2); /* the daemon kept the guest alive */
	assert_int_equal(processes_mentioning(marker), 0);
	assert_no_residue(cpid);
}

/* A TCP server in namespace NSFD on PORT answering every request with a marker page. */
static pid_t serve(int nsfd, int port)
{
	return e2e_serve(nsfd, port,
			 "HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n\r\n"
			 "<html><body>capture-e2e-marker</body></html>\n");
}

static struct net_services *open_services(void)
{
	struct net_services_config nc = {.name = services, .mode = NET_SERVICES};
	struct net_services *s = NULL;
	char err[512];

	nc.blocked_ports[0] = 7070;
	if (net_services_open(&nc, &s, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	return s;
}

/* Guest links (capg*) present in the services namespace. */
static int services_links(struct net_services *s)
{
	int fd[2], n = -1;
	pid_t pid;

	assert_int_equal(pipe(fd), 0);
	pid = fork();
	if (pid == 0) {
		struct if_nameindex *ifs, *i;
		int count = 0;

		if (setns(net_services_fd(s), CLONE_NEWNET) < 0 || !(ifs = if_nameindex()))
			_exit(1);
		for (i = ifs; i->if_index; i++)
			count += strncmp(i->if_name, "capg", 4) == 0;
		(void)!write(fd[1], &count, sizeof(count));
		_exit(0);
	}
	close(fd[1]);
	if (read(fd[0], &n, sizeof(n)) != sizeof(n))
		n = -1;
	close(fd[0]);
	waitpid(pid, NULL, 0);
	return n;
}

static void test_guest_network_reaches_services_only(void **state)
{
	char prog[PATH_MAX], out[PATH_MAX], errf[PATH_MAX], collect[PATH_MAX];
	struct net_services *s = open_services();
	json_t *sum;
	int host = socket(AF_INET, SOCK_STREAM, 0), host_port;
	struct sockaddr_in ha = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_ANY)};
	socklen_t hl = sizeof(ha);
	pid_t web, blocked, cpid;
	char hp[16], *text;

	(void)state;
	/* a listener of the host itself, on every host address */
	assert_int_equal(bind(host, (struct sockaddr *)&ha, sizeof(ha)), 0);
	assert_int_equal(listen(host, 4), 0);
	getsockname(host, (struct sockaddr *)&ha, &hl);
	host_port = ntohs(ha.sin_port);
	snprintf(hp, sizeof(hp), "%d", host_port);
	web = serve(net_services_fd(s), 8080);
	blocked = serve(net_services_fd(s), 7070);
	usleep(200000);
	e2e_sibling("prog_netcheck", prog, sizeof(prog));
	path_in(out, sizeof(out), "net.out");
	path_in(errf, sizeof(errf), "net.err");
	path_in(collect, sizeof(collect), "net-collect");
	/* clang-format off */
	char *argv[] = {client, "--sandbox", "--json", "--network", "services",
			"--services", services, "--collect", collect, "-x", "none",
			"-l", "/dev/null", "--", prog, "any-name.test", "8080", "7070",
			"127.0.0.1", hp, NULL};
	/* clang-format on */

	run_client(argv, out, errf, &cpid);
	sum = e2e_summary(errf);
	assert_non_null(sum);
	/* the guest's traffic was captured on its veth and went into the archive */
	assert_true(
	    json_integer_value(json_object_get(json_object_get(sum, "guest"), "pcap_packets")) > 0);
	json_decref(sum);
	assert_int_equal(services_links(s), 0); /* its veth is gone with it */
	text = e2e_slurp(out);
	assert_non_null(strstr(text, "dns " SANDBOX_SERVICES_ADDR "\n"));
	assert_non_null(strstr(text, "web ok\n"));
	assert_non_null(strstr(text, "blocked closed\n")); /* the server port, though it listens */
	assert_non_null(strstr(text, "host closed\n"));    /* the host's own listener */
	free(text);
	kill(web, SIGKILL);
	kill(blocked, SIGKILL);
	waitpid(web, NULL, 0);
	waitpid(blocked, NULL, 0);
	close(host);
	net_services_close(s);
	assert_no_residue(cpid);
}

static void test_chromium_loads_a_page_in_the_guest(void **state)
{
	char log[PATH_MAX], out[PATH_MAX], errf[PATH_MAX];
	struct net_services *s;
	json_t *ev;
	pid_t web, cpid;
	char *text;
	int code;

	(void)state;
	if (access("/usr/lib/chromium/chromium", X_OK) != 0)
		skip(); /* scripts/deps.sh installs it; without it there is nothing to run */
	s = open_services();
	web = serve(net_services_fd(s), 8081);
	usleep(200000);
	path_in(log, sizeof(log), "chromium.jsonl");
	path_in(out, sizeof(out), "chromium.out");
	path_in(errf, sizeof(errf), "chromium.err");
	char *argv[] = {client,
			"--sandbox",
			"--network",
			"services",
			"--services",
			services,
			"--json",
			"-x",
			"none",
			"-t",
			"60",
			"-l",
			log,
			"--",
			"/usr/lib/chromium/chromium",
			"--headless=new",
			"--no-sandbox",
			"--disable-gpu",
			"--no-first-run",
			"--disable-background-networking",
			"--disable-component-update",
			"--disable-sync",
			"--user-data-dir=/tmp/capture-profile",
			"--dump-dom",
			"http://page.test:8081/",
			NULL};

	code = run_client(argv, out, errf, &cpid);
	text = e2e_slurp(out);
	if (!strstr(text, "capture-e2e-marker")) {
		char *err = e2e_slurp(errf);

		fprintf(stderr, "chromium stdout:\n%s\nclient stderr:\n%s\n", text, err);
		free(err);
	}
	assert_non_null(strstr(text, "capture-e2e-marker"));
	free(text);
	assert_int_equal(code, 1);
	ev = e2e_load_jsonl(log);
	assert_true(e2e_count(ev, "process", "created", NULL) >= 2); /* chromium's helpers */
	assert_true(json_array_size(ev) > 20);
	json_decref(ev);
	kill(web, SIGKILL);
	waitpid(web, NULL, 0);
	net_services_close(s);
	assert_no_residue(cpid);
}

static void test_bad_input_clear_error_no_residue(void **state)
{
	char prog[PATH_MAX], lower[PATH_MAX], out[PATH_MAX], errf[PATH_MAX];
	json_t *sum;
	pid_t cpid;
	char *text;

	(void)state;
	path_in(out, sizeof(out), "bad.out");
	path_in(errf, sizeof(errf), "bad.err");
	/* a root image that does not exist */
	char *a1[] = {client, "--sandbox", "--root", "/nonexistent/capture-root",
		      "--",   "/bin/true", NULL};
	assert_int_equal(run_client(a1, out, errf, &cpid), 3);
	text = e2e_slurp(errf);
	assert_non_null(strstr(text, "root image /nonexistent/capture-root"));
	free(text);
	assert_no_residue(cpid);
	/* a program that does not exist in the guest */
	char *a2[] = {client, "--sandbox", "--", "/nonexistent/capture-program", NULL};
	assert_int_equal(run_client(a2, out, errf, &cpid), 3);
	text = e2e_slurp(errf);
	assert_non_null(strstr(text, "cannot run /nonexistent/capture-program"));
	free(text);
	assert_no_residue(cpid);
	/* a guest that fills its tmpfs: the run completes and says so */
	e2e_sibling("prog_guestfs", prog, sizeof(prog));
	path_in(lower, sizeof(lower), "lower-full");
	mkdir(lower, 0777);
	chmod(lower, 0777);
	e2e_write(lower, "modify-me.txt", "x\n");
	e2e_write(lower, "rename-me.txt", "x\n");
	e2e_write(lower, "delete-me.txt", "x\n");
	char *a3[] = {client, "--sandbox", "--json", "-x", "none", "--tmpfs-size", "1M",
		      "-l",   "/dev/null", "--",     prog, lower,  "4194304",      NULL};
	assert_int_equal(run_client(a3, out, errf, &cpid), 1);
	text = e2e_slurp(out);
	assert_non_null(strstr(text, "failed: fill"));
	free(text);
	sum = e2e_summary(errf);
	assert_non_null(sum);
	assert_true(json_is_true(json_object_get(json_object_get(sum, "guest"), "tmpfs_full")));
	json_decref(sum);
	assert_no_residue(cpid);
}

/*
 * Runs prog_uring MODE PATH in a sandbox guest without lists (files NAME.*);
 * returns its events, *SUM the client's summary, *CPID the client.
 */
static json_t *run_uring(const char *mode, const char *path, const char *name, json_t **sum,
			 pid_t *cpid)
{
	char prog[PATH_MAX], log[PATH_MAX], out[PATH_MAX], errf[PATH_MAX], file[64];
	json_t *ev;

	e2e_sibling("prog_uring", prog, sizeof(prog));
	snprintf(file, sizeof(file), "%s.jsonl", name);
	path_in(log, sizeof(log), file);
	snprintf(file, sizeof(file), "%s.out", name);
	path_in(out, sizeof(out), file);
	snprintf(file, sizeof(file), "%s.err", name);
	path_in(errf, sizeof(errf), file);
	char *argv[] = {client, "--sandbox", "--json", "-x",         "none",       "-l",
			log,    "--",        prog,     (char *)mode, (char *)path, NULL};

	assert_int_equal(run_client(argv, out, errf, cpid), 1);
	ev = e2e_load_jsonl(log);
	assert_non_null(ev);
	*sum = e2e_summary(errf);
	assert_non_null(*sum);
	return ev;
}

static void test_io_uring_file_seen_by_fanotify_once(void **state)
{
	json_t *ev, *e, *sum;
	pid_t cpid;

	(void)state;
	ev = run_uring("--create", "/home/capture/through-the-ring.txt", "uring", &sum, &cpid);
	/* the sensor saw the ring, not the file; fanotify saw the file: reported once */
	assert_int_equal(e2e_count(ev, "system", "io_uring", NULL), 1);
	assert_int_equal(e2e_count(ev, "file", "Create", "/home/capture/through-the-ring.txt"), 1);
	e = e2e_find(ev, "file", "Create", "/home/capture/through-the-ring.txt");
	assert_string_equal(e2e_str(e, "detail"), "seen by fanotify only");
	assert_null(json_object_get(e, "executable")); /* created 0644 */
	assert_int_equal(
	    json_integer_value(json_object_get(e, "pid")),
	    json_integer_value(json_object_get(e2e_find(ev, "system", "io_uring", NULL), "pid")));
	assert_true(e2e_count(ev, "file", "Write", "/home/capture/through-the-ring.txt") <= 1);
	json_decref(ev);
	assert_true(json_integer_value(
			json_object_get(json_object_get(sum, "guest"), "fanotify_only")) >= 1);
	json_decref(sum);
	assert_no_residue(cpid);
}

/* A program dropped through the ring: fanotify's event is marked executable from the upper layer.
 */
static void test_io_uring_program_marked_executable(void **state)
{
	json_t *ev, *e, *sum;
	pid_t cpid;

	(void)state;
	ev = run_uring("--create-exec", "/home/capture/.local-implant", "uring-exec", &sum, &cpid);
	e = e2e_find(ev, "file", "Create", "/home/capture/.local-implant");
	assert_non_null(e);
	assert_string_equal(e2e_str(e, "detail"), "seen by fanotify only");
	assert_true(json_is_true(json_object_get(e, "executable")));
	json_decref(ev);
	json_decref(sum);
	assert_no_residue(cpid);
}

static void test_pids_limit_stops_a_fork_bomb(void **state)
{
	char prog[PATH_MAX], out[PATH_MAX], errf[PATH_MAX];
	char *text;
	pid_t cpid;
	int started = 99;

	(void)state;
	e2e_sibling("prog_forks", prog, sizeof(prog));
	path_in(out, sizeof(out), "pids.out");
	path_in(errf, sizeof(errf), "pids.err");
	char *argv[] = {client, "--sandbox", "--pids", "8",  "-x", "none",
			"-l",   "/dev/null", "--",     prog, "32", NULL};

	run_client(argv, out, errf, &cpid);
	text = e2e_slurp(out);
	assert_non_null(strstr(text, "started="));
	started = atoi(strstr(text, "started=") + 8);
	free(text);
	assert_true(started >= 1);
	assert_true(started < 8); /* the init and the program count too */
	assert_no_residue(cpid);
}

static void test_userns_program_runs_mapped(void **state)
{
	char out[PATH_MAX], errf[PATH_MAX];
	char *argv[] = {client,
			"--sandbox",
			"--userns",
			"-x",
			"none",
			"-l",
			"/dev/null",
			"--",
			"/bin/sh",
			"-c",
			"id -u; cat /proc/self/uid_map",
			NULL};
	char *text;
	pid_t cpid;

	(void)state;
	path_in(out, sizeof(out), "userns.out");
	path_in(errf, sizeof(errf), "userns.err");
	assert_int_equal(run_client(argv, out, errf, &cpid), 1);
	text = e2e_slurp(out);
	assert_non_null(strstr(text, "4242\n"));
	/* root and the guest user map to themselves; nothing else exists */
	assert_non_null(strstr(text, "4242       4242          1"));
	free(text);
	assert_no_residue(cpid);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_guest_changes_reported_collected_host_untouched),
	    cmocka_unit_test(test_daemon_is_killed_at_revert),
	    cmocka_unit_test(test_guest_network_reaches_services_only),
	    cmocka_unit_test(test_chromium_loads_a_page_in_the_guest),
	    cmocka_unit_test(test_bad_input_clear_error_no_residue),
	    cmocka_unit_test(test_io_uring_file_seen_by_fanotify_once),
	    cmocka_unit_test(test_io_uring_program_marked_executable),
	    cmocka_unit_test(test_pids_limit_stops_a_fork_bomb),
	    cmocka_unit_test(test_userns_program_runs_mapped),
	};
	char tmpl[] = "/tmp/capture-sbx.XXXXXX";
	char err[256];
	int rc;

	if (getenv("CAPTURE_TEST_FILTER")) /* run one test: CAPTURE_TEST_FILTER=test_name */
		cmocka_set_test_filter(getenv("CAPTURE_TEST_FILTER"));
	e2e_sibling("../../capture-client", client, sizeof(client));
	if (!mkdtemp(tmpl)) {
		perror("mkdtemp");
		return 1;
	}
	chmod(tmpl, 0755); /* the guest user walks through it to the lower test files */
	snprintf(tmpdir, sizeof(tmpdir), "%s", tmpl);
	snprintf(services, sizeof(services), "capture-test-%d", (int)getpid());
	rc = cmocka_run_group_tests_name("e2e_sandbox", tests, NULL, NULL);
	net_services_destroy(services, err, sizeof(err));
	return rc;
}
