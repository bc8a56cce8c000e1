/*
 * test_document_client.c - the LibreOffice document client
 * (etc/drivers/libreoffice, etc/drivers/libreoffice-vulnerable;
 * docs/applications.md, "Document client (LibreOffice)") run by the real
 * standalone capture-client in sandbox guests, on the documents of
 * corpus/sites/office.corpus.test:
 *
 *   - the macro document, downloaded from capture-corpusd in a services
 *     namespace of this test with the download-first argv of apps.c and
 *     opened by the vulnerable client: malicious, with the dropped
 *     executable, its chmod, the autostart entry and the implant's start;
 *   - the same document opened by the safe client: the macro does not run;
 *   - the benign document opened by the vulnerable client: no event, once
 *     the LibreOffice rules are in the default exclusion lists
 *     (etc/exclusion/libreoffice/; skipped until then, saying so).
 *
 * The client's standard error goes to a pipe (through a shell and cat), as
 * in scripts/corpus-check.sh: LibreOffice writes to it, and a write to a
 * file there would be reported.  Needs root, LibreOffice (libreoffice-
 * writer-nogui) and a source tree readable by the guest user.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <cmocka.h>

#include "e2e/e2e.h"
#include "guest/netns.h"

#define OOSPLASH    "/usr/lib/libreoffice/program/oosplash"
#define VISIT_S     "15" /* seconds; LibreOffice needs 2 to 3.5 s to run the macro */
#define HOME        "/home/capture"
#define IMPLANT     HOME "/.local/bin/invoice-sync"
#define AUTOSTART   HOME "/.config/autostart/invoice-sync.desktop"
#define INVOICE_URL "http://office.corpus.test/invoice.fodt"
/* apps.c's download-first argv: fetch to the per-URL file, then the program */
#define DOWNLOAD_SH                                                                                \
	"\"$4\" -gfsSL --connect-timeout 30 --max-time 60 -o \"$2\" -- \"$1\" && exec \"$3\" "     \
	"\"$2\""

static char top[PATH_MAX], bindir[PATH_MAX], tmpdir[256], services[64];
static pid_t corpusd = -1;

static int group_setup(void **state)
{
	char sites[PATH_MAX + 16];
	char corpusd_bin[PATH_MAX + 32];

	(void)state;
	e2e_sibling("", bindir, sizeof(bindir));
	/* the source tree (corpus/, etc/): the build passes it, whatever BUILD is */
	if (!realpath(CAPTURE_DATADIR, top))
		return -1;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/capture-e2e-doc-XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	chmod(tmpdir, 0755);
	if (geteuid() != 0 || access(OOSPLASH, X_OK) != 0)
		return 0; /* every test skips, saying why */
	snprintf(services, sizeof(services), "capture-e2e-doc%d", (int)getpid());
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
		net_services_destroy(services, err, sizeof(err));
	}
	if (getenv("CAPTURE_KEEP")) {
		fprintf(stderr, "kept %s\n", tmpdir);
		return 0;
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static void require_environment(void)
{
	if (geteuid() != 0)
		skip(); /* the kernel sensor and the namespaces need root */
	if (access(OOSPLASH, X_OK) != 0)
		skip(); /* scripts/deps.sh installs libreoffice-writer-nogui */
}

/*
 * One visit: capture-client --sandbox ... -- ARGS with the default lists;
 * NAME.jsonl gets the events, NAME.err the client's stderr (through a pipe).
 * Returns the verdict of its JSON summary as the client's exit codes do (0
 * benign, 1 malicious, 2 inconclusive), -1 without a summary.
 */
static int visit(const char *name, char *const args[])
{
	/* sh -c SCRIPT ERRF CLIENT OPTIONS... -- ARGS: stderr through cat into ERRF */
	static char script[] = "\"$@\" 2>&1 >/dev/null </dev/null | cat >\"$0\"";
	char client[PATH_MAX + 32], events[PATH_MAX + 8], errf[PATH_MAX + 8];
	char *argv[64];
	const char *verdict;
	size_t n = 0;
	json_t *sum;
	int status;

	snprintf(client, sizeof(client), "%s/../../capture-client", bindir);
	snprintf(events, sizeof(events), "%s/%s.jsonl", tmpdir, name);
	snprintf(errf, sizeof(errf), "%s/%s.err", tmpdir, name);
	argv[n++] = "/bin/sh";
	argv[n++] = "-c";
	argv[n++] = script;
	argv[n++] = errf;
	argv[n++] = client;
	argv[n++] = "--sandbox";
	argv[n++] = "--network";
	argv[n++] = services[0] ? "services" : "none";
	if (services[0]) {
		argv[n++] = "--services";
		argv[n++] = services;
	}
	argv[n++] = "--json";
	argv[n++] = "-l";
	argv[n++] = events;
	argv[n++] = "-t";
	argv[n++] = VISIT_S;
	argv[n++] = "--";
	for (size_t i = 0; args[i] && n < 63; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	status = e2e_run(argv, "/dev/null", "/dev/null");
	assert_true(WIFEXITED(status));
	sum = e2e_summary(errf);
	if (!sum)
		return -1;
	verdict = e2e_str(sum, "verdict");
	status = !strcmp(verdict, "benign") ? 0 : !strcmp(verdict, "malicious") ? 1 : 2;
	json_decref(sum);
	return status;
}

static json_t *events_of(const char *name)
{
	char path[PATH_MAX + 8];

	snprintf(path, sizeof(path), "%s/%s.jsonl", tmpdir, name);
	return e2e_load_jsonl(path);
}

/* A process start whose image (object2) is IMAGE. */
static bool started(json_t *events, const char *image)
{
	size_t i;
	json_t *o;

	json_array_foreach(events, i, o)
	{
		if (!strcmp(e2e_str(o, "type"), "process") &&
		    !strcmp(e2e_str(o, "action"), "created") &&
		    !strcmp(e2e_str(o, "object2"), image))
			return true;
	}
	return false;
}

/* etc/drivers/DRIVER on URL, downloaded first as apps.c does. */
static int visit_download(const char *name, const char *driver, const char *url)
{
	char path[PATH_MAX + 64];

	snprintf(path, sizeof(path), "%s/etc/drivers/%s", top, driver);
	char *args[] = {"/bin/sh",   "-c",
			DOWNLOAD_SH, "sh",
			(char *)url, "/tmp/capture-download-00000000000000e2.fodt",
			path,        "/usr/bin/curl",
			NULL};
	return visit(name, args);
}

static void test_macro_document_vulnerable_client(void **state)
{
	json_t *ev, *attr;

	(void)state;
	require_environment();
	assert_int_equal(visit_download("vulnerable", "libreoffice-vulnerable", INVOICE_URL), 1);
	ev = events_of("vulnerable");
	assert_non_null(e2e_find(ev, "file", "Create", IMPLANT));
	attr = e2e_find(ev, "file", "Attribute", IMPLANT);
	assert_non_null(attr);
	assert_string_equal(e2e_str(attr, "object2"), "chmod 0755");
	assert_non_null(e2e_find(ev, "file", "Create", AUTOSTART));
	assert_true(started(ev, IMPLANT));
	json_decref(ev);
}

static void test_macro_document_safe_client(void **state)
{
	json_t *ev;

	(void)state;
	require_environment();
	visit_download("safe", "libreoffice", INVOICE_URL);
	ev = events_of("safe");
	assert_true(json_array_size(ev) > 0); /* the visit ran: curl, at least */
	assert_null(e2e_find(ev, "file", "Create", IMPLANT));
	assert_null(e2e_find(ev, "file", "Create", AUTOSTART));
	assert_false(started(ev, IMPLANT));
	json_decref(ev);
}

static void test_benign_document_vulnerable_client(void **state)
{
	char rules[PATH_MAX + 32], driver[PATH_MAX + 64], doc[PATH_MAX + 64];
	json_t *ev;

	(void)state;
	require_environment();
	snprintf(rules, sizeof(rules), "%s/etc/exclusion/libreoffice", top);
	if (access(rules, F_OK) != 0) {
		fprintf(stderr, "skip: no LibreOffice rules in %s yet (docs/applications.md)\n",
			rules);
		skip();
	}
	/* the driver as the guest's program, on the tree's copy of the document:
	 * no download, whose curl start the standalone client reports */
	snprintf(driver, sizeof(driver), "%s/etc/drivers/libreoffice-vulnerable", top);
	snprintf(doc, sizeof(doc), "%s/corpus/sites/office.corpus.test/report.fodt", top);
	char *args[] = {driver, doc, NULL};
	assert_int_equal(visit("benign", args), 0);
	ev = events_of("benign");
	assert_int_equal(json_array_size(ev), 0);
	json_decref(ev);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_macro_document_vulnerable_client),
	    cmocka_unit_test(test_macro_document_safe_client),
	    cmocka_unit_test(test_benign_document_vulnerable_client),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
