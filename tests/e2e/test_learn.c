/*
 * test_learn.c - end to end: `capture-client learn` with the real sensor,
 * real sandbox guests and capture-corpusd serving a test site in a
 * services namespace of this test.  Learning from curl with no lists
 * (-x none, so every event is noise to learn) must propose rules that,
 * loaded as lists, make a third visit benign (no event left); learning
 * from a curl-sh script that appends to ~/.bashrc must list that write as
 * always reported and propose no rule that hides it.  Needs root.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>

#include "e2e.h"
#include "guest/netns.h"

static char client[PATH_MAX], corpusd[PATH_MAX];
static char tmpdir[256], services[64];
static pid_t corpusd_pid;

static void path_in(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", tmpdir, name);
}

#define LEARN_RUN_MAX_S 120 /* a learn that takes longer is hung: killed, the test fails */

/* Waits for PID at most LEARN_RUN_MAX_S; its wait status. */
static int wait_bounded(pid_t pid)
{
	int status;

	for (int i = 0; i < LEARN_RUN_MAX_S * 20; i++) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return status;
		usleep(50000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	fail_msg("capture-client learn (pid %d) still ran after %d s: killed", (int)pid,
		 LEARN_RUN_MAX_S);
	return status;
}

/* capture-client learn ARGS... (NULL-terminated) with out/err in the test directory; the exit code.
 */
static int learn(const char *tag, char *const *args, char *out, char *errf)
{
	char *argv[40] = {client,       "learn",  "--network", "services",
			  "--services", services, "-t",        "5"};
	size_t n = 8;
	int status;

	while (*args && n < 39)
		argv[n++] = *args++;
	argv[n] = NULL;
	snprintf(out, PATH_MAX, "%s/%s.out", tmpdir, tag);
	snprintf(errf, PATH_MAX, "%s/%s.err", tmpdir, tag);
	status = wait_bounded(e2e_spawn(argv, out, errf));
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

/* Splits the sections "# ==== NAME.exl ====" of the rules file RULES into DIR/NAME.exl. */
static void split_sections(const char *rules, const char *dir)
{
	char *text = e2e_slurp(rules), *line, *save = NULL, path[PATH_MAX], name[64];
	FILE *f = NULL;

	assert_non_null(text);
	assert_int_equal(mkdir(dir, 0755), 0);
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "# ==== not excluded", 19) == 0) {
			if (f)
				assert_int_equal(fclose(f), 0);
			f = NULL;
		} else if (sscanf(line, "# ==== %63[a-z].exl ====", name) == 1) {
			if (f)
				assert_int_equal(fclose(f), 0);
			snprintf(path, sizeof(path), "%s/%s.exl", dir, name);
			f = fopen(path, "w");
			assert_non_null(f);
		} else if (f) {
			fprintf(f, "%s\n", line);
		}
	}
	if (f)
		assert_int_equal(fclose(f), 0);
	free(text);
}

static void expect_in(const char *path, const char *needle)
{
	char *text = e2e_slurp(path);

	assert_non_null(text);
	if (!strstr(text, needle))
		fail_msg("%s lacks \"%s\":\n%s", path, needle, text);
	free(text);
}

/* No rule line ("+\t...") of PATH contains WORD. */
static void no_rule_mentions(const char *path, const char *word)
{
	char *text = e2e_slurp(path), *line, *save = NULL;

	assert_non_null(text);
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		if (line[0] == '+' && strstr(line, word))
			fail_msg("a rule mentions %s: %s", word, line);
	free(text);
}

/* PATH does not contain NEEDLE. */
static void expect_not_in(const char *path, const char *needle)
{
	char *text = e2e_slurp(path);

	assert_non_null(text);
	if (strstr(text, needle))
		fail_msg("%s has \"%s\":\n%s", path, needle, text);
	free(text);
}

static void test_learnt_rules_make_the_next_visit_benign(void **state)
{
	char out[PATH_MAX], errf[PATH_MAX], rules[PATH_MAX], lists[PATH_MAX], dir[PATH_MAX];
	char *first[] = {"--visits",     "2",    "--client",           "curl",
			 "-x",           "none", "--output",           rules,
			 "--output-dir", dir,    "http://learn.test/", NULL};
	char *third[] = {"--visits", "1",   "--client",           "curl", "-x", lists,
			 "--output", rules, "http://learn.test/", NULL};
	char *none[] = {"--visits", "1",    "--client",           "curl",
			"-x",       "none", "http://learn.test/", NULL};

	(void)state;
	path_in(rules, sizeof(rules), "curl.rules");
	path_in(lists, sizeof(lists), "curl-lists");
	path_in(dir, sizeof(dir), "curl-dir");
	assert_int_equal(learn("learn", first, out, errf), 0);
	expect_in(errf, "learn: 2 visits (0 with errors), ");
	expect_in(errf, " events left (0 always reported)");
	/* the driver's download file, generalised and covering both runs */
	expect_in(rules, "# ==== file.exl ====\n");
	expect_in(rules, "# seen in 2/2 runs, 2 events\n"
			 "+\tCreate\t/usr/bin/curl\t/tmp/capture-download-[0-9a-f]{16}\n");
	/* curl reaching the URL it was given is never a change: no rule is needed for it */
	expect_not_in(rules, "+\ttcp-connection\t/usr/bin/curl\t10\\.201\\.255\\.1:80\n");
	expect_in(rules, "+\tudp-connection\t/usr/bin/curl\t10\\.201\\.255\\.1:53\n");
	path_in(out, sizeof(out), "curl-dir/file.exl");
	expect_in(out, "+\tCreate\t/usr/bin/curl\t/tmp/capture-download-[0-9a-f]{16}\n");

	/* the output loaded as lists (split by its section lines): a third visit is benign */
	split_sections(rules, lists);
	assert_int_equal(learn("third", third, out, errf), 0);
	expect_in(errf, "learn: 1 visits (0 with errors), 0 events seen, 0 rules proposed, "
			"0 events left");

	/* the control: the same visit without the lists is not */
	assert_int_equal(learn("control", none, out, errf), 0);
	expect_in(errf, "learn: 1 visits (0 with errors), ");
	expect_not_in(errf, " 0 events seen");
}

static void test_always_reported_is_never_hidden(void **state)
{
	char out[PATH_MAX], errf[PATH_MAX], rules[PATH_MAX], lists[PATH_MAX];
	char *first[] = {"--visits", "2",   "--client",
			 "curl-sh",  "-x",  "none",
			 "--output", rules, "http://learn.test/drop.sh",
			 NULL};
	char *again[] = {"--visits", "1",   "--client",
			 "curl-sh",  "-x",  lists,
			 "--output", rules, "http://learn.test/drop.sh",
			 NULL};
	(void)state;
	path_in(rules, sizeof(rules), "sh.rules");
	path_in(lists, sizeof(lists), "sh-lists");
	assert_int_equal(learn("sh", first, out, errf), 0);
	expect_in(errf, "learn: 2 visits (0 with errors), ");
	expect_in(rules, "# ==== not excluded: always reported");
	expect_in(rules, "# shell start-up file: file\tCreate\t/usr/bin/dash\t/home/capture/.bashrc"
			 "\t-1 (2/2 runs, 2 events)\n");
	/* the noise file of the same script got a rule, its timestamp generalised */
	expect_in(rules, "\t/tmp/learn-noise-[0-9]+\n");
	no_rule_mentions(rules, "bashrc");
	/* with the learnt lists the next visit still reports the .bashrc write, and only it */
	split_sections(rules, lists);
	assert_int_equal(learn("sh-again", again, out, errf), 0);
	expect_in(errf, "learn: 1 visits (0 with errors), 1 events seen, 0 rules proposed, "
			"1 events left (1 always reported)");
	expect_in(rules,
		  "# shell start-up file: file\tCreate\t/usr/bin/dash\t/home/capture/.bashrc");
}

static int setup(void **state)
{
	char sites[PATH_MAX], d[PATH_MAX], pidfile[PATH_MAX], out[PATH_MAX], errf[PATH_MAX];

	(void)state;
	snprintf(sites, sizeof(sites), "%s/sites", tmpdir);
	snprintf(d, sizeof(d), "%s/learn.test", sites);
	mkdir(sites, 0755);
	e2e_write(d, "index.html", "<h1>benign</h1>\n");
	e2e_write(d, "drop.sh",
		  "echo '# learn test' >> \"$HOME/.bashrc\"\n"
		  "echo noise > /tmp/learn-noise-$(date +%s%N)\n");
	path_in(pidfile, sizeof(pidfile), "corpusd.pid");
	path_in(out, sizeof(out), "corpusd.out");
	path_in(errf, sizeof(errf), "corpusd.err");
	{
		char *argv[] = {corpusd,  "--root",    sites,   "--netns",
				services, "--pidfile", pidfile, NULL};

		corpusd_pid = e2e_spawn(argv, out, errf);
	}
	for (int i = 0; i < 500; i++) {
		char *text = e2e_slurp(pidfile);
		int got = text ? atoi(text) : 0;

		free(text);
		if (got == (int)corpusd_pid)
			return 0;
		usleep(10000);
	}
	fprintf(stderr, "capture-corpusd did not start (see %s)\n", errf);
	return -1;
}

static int teardown(void **state)
{
	(void)state;
	if (corpusd_pid > 0) {
		kill(corpusd_pid, SIGTERM);
		waitpid(corpusd_pid, NULL, 0);
	}
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_learnt_rules_make_the_next_visit_benign),
	    cmocka_unit_test(test_always_reported_is_never_hidden),
	};
	char tmpl[] = "/tmp/capture-learn-e2e.XXXXXX", err[256];
	int rc;

	if (geteuid() != 0) {
		printf("skipped: learn mode needs root (sandbox guests, the kernel sensor)\n");
		return 0;
	}
	if (getenv("CAPTURE_TEST_FILTER")) /* run one test: CAPTURE_TEST_FILTER=test_name */
		cmocka_set_test_filter(getenv("CAPTURE_TEST_FILTER"));
	e2e_sibling("../../capture-client", client, sizeof(client));
	e2e_sibling("../../capture-corpusd", corpusd, sizeof(corpusd));
	if (!mkdtemp(tmpl)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(tmpdir, sizeof(tmpdir), "%s", tmpl);
	snprintf(services, sizeof(services), "capture-learn-%d", (int)getpid());
	rc = cmocka_run_group_tests_name("e2e_learn", tests, setup, teardown);
	net_services_destroy(services, err, sizeof(err));
	if (rc == 0) { /* keep the logs of a failed run */
		snprintf(err, sizeof(err), "rm -rf '%s'", tmpdir);
		if (system(err) != 0)
			fprintf(stderr, "cannot remove %s\n", tmpdir);
	}
	return rc;
}
