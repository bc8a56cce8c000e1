/*
 * test_corpus.c - the detection test: the whole corpus (corpus/expected.tsv)
 * visited through the real capture-server with local sandbox guests and the
 * real clients (curl, curl-sh, chromium, firefox, helper applications),
 * against capture-corpusd in a services namespace of this test, repeated
 * CAPTURE_CORPUS_RUNS times (default 1; `make corpus` runs it 3 times, which
 * takes about 15 minutes on 2 cores, too long for every `make check`).
 * Every visit must get its expected verdict and every required event; a
 * confusion table per client is printed.
 */
#include <dirent.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <cmocka.h>

#include "e2e/e2e.h"
#include "guest/netns.h"

#define MAX_CASES       256
#define RUN_TIMEOUT_S   900
#define BROWSER_VISIT_S 5
#define OFFICE_VISIT_S  10 /* LibreOffice takes 2-4 s to run a document's macro */
#define OTHER_VISIT_S   4
#define VERDICT_KINDS   3 /* benign, malicious, error */

struct scenario {
	char *url, *client, *verdict, *events; /* from expected.tsv (owned) */
	unsigned ok, runs;
	char got[64]; /* last verdict seen */
};

static struct scenario cases[MAX_CASES];
static size_t ncases;
static char top[PATH_MAX], bindir[PATH_MAX], tmpdir[256], services[64];
static pid_t corpusd = -1;

static void path_in(char *buf, size_t len, const char *dir, const char *name)
{
	snprintf(buf, len, "%s/%s", dir, name);
}

/* expected.tsv: url<TAB>client<TAB>verdict<TAB>events; '#' comments. */
static int load_expected(const char *path)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	if (!f)
		return -1;
	while ((n = getline(&line, &cap, f)) > 0 && ncases < MAX_CASES) {
		char *fields[4], *save = NULL, *p = line;
		int k = 0;

		if (line[n - 1] == '\n')
			line[--n] = '\0';
		if (!n || line[0] == '#')
			continue;
		for (; k < 4 && (fields[k] = strtok_r(p, "\t", &save)); k++)
			p = NULL;
		if (k != 4)
			continue;
		cases[ncases++] = (struct scenario){.url = strdup(fields[0]),
						    .client = strdup(fields[1]),
						    .verdict = strdup(fields[2]),
						    .events = strdup(fields[3])};
	}
	free(line);
	fclose(f);
	return ncases ? 0 : -1;
}

static int group_setup(void **state)
{
	char sites[PATH_MAX + 16];
	char corpusd_bin[PATH_MAX + 32], expected[PATH_MAX + 32];

	(void)state;
	e2e_sibling("", bindir, sizeof(bindir));
	/* the source tree (corpus/, etc/): the build passes it, whatever BUILD is */
	if (!realpath(CAPTURE_DATADIR, top))
		return -1;
	snprintf(expected, sizeof(expected), "%s/corpus/expected.tsv", top);
	if (load_expected(expected) < 0)
		return -1;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/capture-e2e-corpus-XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	chmod(tmpdir, 0755);
	snprintf(services, sizeof(services), "capture-e2e-cor%d", (int)getpid());
	snprintf(corpusd_bin, sizeof(corpusd_bin), "%s/../../capture-corpusd", bindir);
	snprintf(sites, sizeof(sites), "%s/corpus/sites", top);
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
	for (size_t i = 0; i < ncases; i++) {
		free(cases[i].url);
		free(cases[i].client);
		free(cases[i].verdict);
		free(cases[i].events);
	}
	if (getenv("CAPTURE_KEEP"))
		return 0;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Visit time per client: long enough for its slowest scenario. */
static int visit_time(const char *client)
{
	if (!strcmp(client, "chromium") || !strcmp(client, "firefox"))
		return BROWSER_VISIT_S;
	if (!strncmp(client, "libreoffice", 11))
		return OFFICE_VISIT_S;
	return OTHER_VISIT_S;
}

/* The run directory DIR: config.xml from the demo's template, urls.txt of every case. */
static void prepare_run(const char *dir, int port)
{
	char tmpl[PATH_MAX + 64], cmd[4 * PATH_MAX], path[PATH_MAX + 16];
	FILE *f;

	assert_int_equal(mkdir(dir, 0755), 0);
	snprintf(tmpl, sizeof(tmpl), "%s/corpus/demo/config.xml.in", top);
	snprintf(cmd, sizeof(cmd),
		 "sed -e 's|@TOP@|%s|g' -e 's|capture-services|%s|' "
		 "-e 's|listen-port=\"7070\"|listen-port=\"%d\"|' '%s' > '%s/config.xml'",
		 top, services, port, tmpl, dir);
	assert_int_equal(system(cmd), 0);
	path_in(path, sizeof(path), dir, "urls.txt");
	f = fopen(path, "w");
	assert_non_null(f);
	for (size_t i = 0; i < ncases; i++)
		fprintf(f, "%s::%s::%d\n", cases[i].url, cases[i].client,
			visit_time(cases[i].client));
	fputs("end\n", f);
	assert_int_equal(fclose(f), 0);
}

/* Runs capture-server in DIR until it exits; returns its exit status. */
static int run_server(const char *dir)
{
	char server[PATH_MAX + 32];
	int status = -1;
	pid_t pid;

	snprintf(server, sizeof(server), "%s/../../capture-server", bindir);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int fd;

		if (chdir(dir) < 0 || (fd = open("server.log", O_WRONLY | O_CREAT, 0644)) < 0)
			_exit(126);
		dup2(fd, 1);
		dup2(fd, 2);
		execl(server, server, "-c", "config.xml", "-f", "urls.txt", (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < RUN_TIMEOUT_S * 10; i++) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		usleep(100000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	fail_msg("capture-server did not finish the corpus within %d s", RUN_TIMEOUT_S);
	return -1;
}

static struct scenario *find_case(const char *url, const char *client)
{
	for (size_t i = 0; i < ncases; i++)
		if (!strcmp(cases[i].url, url) && !strcmp(cases[i].client, client))
			return &cases[i];
	return NULL;
}

static bool regex_full(const char *re, const char *s)
{
	int err;
	PCRE2_SIZE off;
	pcre2_code *c = pcre2_compile((PCRE2_SPTR)re, PCRE2_ZERO_TERMINATED,
				      PCRE2_ANCHORED | PCRE2_ENDANCHORED, &err, &off, NULL);
	pcre2_match_data *m;
	bool ok;

	if (!c)
		return false;
	m = pcre2_match_data_create_from_pattern(c, NULL);
	ok = s && pcre2_match(c, (PCRE2_SPTR)s, strlen(s), 0, 0, m, NULL) >= 0;
	pcre2_match_data_free(m);
	pcre2_code_free(c);
	return ok;
}

/* One required event "type action regex" among EVENTS? */
static bool has_event(json_t *events, const char *want)
{
	char type[32], action[64];
	int used = 0;
	size_t i;
	json_t *e;

	if (sscanf(want, "%31s %63s %n", type, action, &used) < 2 || !used)
		return false;
	json_array_foreach(events, i, e)
	{
		if (strcmp(e2e_str(e, "type"), type) || strcmp(e2e_str(e, "action"), action))
			continue;
		if (regex_full(want + used, e2e_str(e, "object1")) ||
		    regex_full(want + used, e2e_str(e, "object2")))
			return true;
	}
	return false;
}

/* Checks the report of one visit against its case; prints why not. */
static void judge(struct scenario *c, json_t *rep)
{
	const char *verdict = e2e_str(rep, "verdict");
	json_t *err = json_object_get(rep, "error"), *events = json_object_get(rep, "events");
	char *list, *save = NULL, *tok;
	bool ok = true;

	if (!strcmp(verdict, "error") && json_is_object(err))
		snprintf(c->got, sizeof(c->got), "error:%s", e2e_str(err, "major"));
	else
		snprintf(c->got, sizeof(c->got), "%s", verdict);
	c->runs++;
	if (strncmp(c->got, c->verdict, strlen(c->verdict)) != 0) {
		fprintf(stderr, "MISMATCH %s (%s): expected %s, got %s\n", c->url, c->client,
			c->verdict, c->got);
		ok = false;
	}
	list = strcmp(c->events, "-") ? strdup(c->events) : NULL;
	for (tok = list ? strtok_r(list, ";", &save) : NULL; tok; tok = strtok_r(NULL, ";", &save))
		if (!has_event(events, tok)) {
			fprintf(stderr, "MISSING %s (%s): no event \"%s\"\n", c->url, c->client,
				tok);
			ok = false;
		}
	free(list);
	c->ok += ok;
}

/* Every report of the run in LOGDIR, judged; returns how many were found. */
static size_t judge_run(const char *logdir)
{
	DIR *d = opendir(logdir);
	struct dirent *de;
	size_t n = 0;

	assert_non_null(d);
	while ((de = readdir(d))) {
		char path[PATH_MAX + 256];
		size_t len = strlen(de->d_name);
		struct scenario *c;
		json_error_t je;
		json_t *rep;

		if (len < 6 || strcmp(de->d_name + len - 5, ".json"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", logdir, de->d_name);
		rep = json_load_file(path, 0, &je);
		if (!rep)
			continue;
		c = find_case(e2e_str(rep, "url"), e2e_str(rep, "client"));
		if (c) {
			judge(c, rep);
			n++;
		}
		json_decref(rep);
	}
	closedir(d);
	return n;
}

static int kind_of(const char *verdict)
{
	if (!strcmp(verdict, "benign"))
		return 0;
	if (!strcmp(verdict, "malicious"))
		return 1;
	return 2;
}

/* Confusion table per client: expected (rows) x got (columns), over all runs. */
static void print_confusion(void)
{
	static const char *const names[VERDICT_KINDS] = {"benign", "malicious", "error"};
	const char *clients[32];
	size_t nclients = 0;

	for (size_t i = 0; i < ncases; i++) {
		size_t k = 0;

		while (k < nclients && strcmp(clients[k], cases[i].client))
			k++;
		if (k == nclients && nclients < 32)
			clients[nclients++] = cases[i].client;
	}
	printf("\ncorpus detection: confusion per client (expected x got, all runs)\n");
	for (size_t k = 0; k < nclients; k++) {
		unsigned t[VERDICT_KINDS][VERDICT_KINDS] = {{0}};

		for (size_t i = 0; i < ncases; i++) {
			if (strcmp(cases[i].client, clients[k]))
				continue;
			/* correct runs on the diagonal, the others under the last verdict seen */
			t[kind_of(cases[i].verdict)][kind_of(cases[i].verdict)] += cases[i].ok;
			t[kind_of(cases[i].verdict)][kind_of(cases[i].got)] +=
			    cases[i].runs - cases[i].ok;
		}
		printf("  %-10s %12s %12s %12s\n", clients[k], "got benign", "got malicious",
		       "got error");
		for (int r = 0; r < VERDICT_KINDS; r++)
			printf("  %-10s %12u %12u %12u\n", names[r], t[r][0], t[r][1], t[r][2]);
	}
}

static void test_corpus_verdicts(void **state)
{
	const char *env = getenv("CAPTURE_CORPUS_RUNS");
	int runs = env ? atoi(env) : 1;
	size_t failed = 0;

	(void)state;
	for (int r = 0; r < runs; r++) {
		char dir[PATH_MAX], logdir[PATH_MAX + 8], name[16];
		int port = e2e_free_port();

		snprintf(name, sizeof(name), "run%d", r + 1);
		path_in(dir, sizeof(dir), tmpdir, name);
		prepare_run(dir, port);
		assert_int_equal(run_server(dir), 0);
		snprintf(logdir, sizeof(logdir), "%s/log", dir);
		assert_int_equal(judge_run(logdir), ncases);
	}
	print_confusion();
	for (size_t i = 0; i < ncases; i++)
		if (cases[i].ok != cases[i].runs || cases[i].runs != (unsigned)runs) {
			fprintf(stderr, "FAILED %s (%s): %u of %u runs right\n", cases[i].url,
				cases[i].client, cases[i].ok, cases[i].runs);
			failed++;
		}
	assert_int_equal(failed, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_corpus_verdicts),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
