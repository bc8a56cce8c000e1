/*
 * test_apps.c - application drivers: applications.conf format and errors,
 * the argv of every driver, download-first files and hostile URLs.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "client/apps.h"
#include "common/protocol.h"

#ifndef CAPTURE_DATADIR
#define CAPTURE_DATADIR "."
#endif

static char err[1024];

static int load(const char *text, struct app_table **t)
{
	err[0] = '\0';
	return apps_load_buffer("a.conf", text, strlen(text), t, err, sizeof(err));
}

/* Asserts that TEXT fails to load with exactly MSG. */
static void expect_error(const char *text, const char *msg)
{
	struct app_table *t = (struct app_table *)1;

	assert_int_equal(load(text, &t), -1);
	assert_null(t);
	assert_string_equal(err, msg);
}

/* Asserts that OUT's argv is exactly WANT (NULL-terminated). */
static void expect_argv(const struct app_argv *out, const char *const *want)
{
	size_t i;

	for (i = 0; want[i]; i++) {
		assert_non_null(out->argv[i]);
		assert_string_equal(out->argv[i], want[i]);
	}
	assert_null(out->argv[i]);
	assert_int_equal(out->argc, i);
}

/* ---- applications.conf ---- */

static void test_shipped_conf(void **state)
{
	struct app_table *t = NULL;
	const struct app_entry *e;

	(void)state;
	assert_int_equal(apps_load(CAPTURE_DATADIR "/etc/applications.conf", &t, err, sizeof(err)),
			 0);
	assert_int_equal(apps_count(t), 4);
	e = apps_find(t, "FireFox");
	assert_non_null(e);
	assert_string_equal(e->name, "firefox");
	assert_string_equal(e->path, "/usr/bin/firefox-esr");
	assert_false(e->download_first);
	e = apps_find(t, "libreoffice");
	assert_non_null(e);
	assert_true(e->download_first);
	assert_ptr_equal(apps_get(t, 1), e);
	assert_null(apps_get(t, 4));
	assert_null(apps_find(t, "curl"));
	apps_free(t);
}

static void test_format_details(void **state)
{
	struct app_table *t = NULL;

	(void)state;
	assert_int_equal(load("\xef\xbb\xbf# comment\r\n\n \t \nA.b_c-1\t/x y/z\tNO\r\n"
			      "pdf\t/usr/bin/evince\tYes",
			      &t),
			 0);
	assert_int_equal(apps_count(t), 2);
	assert_string_equal(apps_get(t, 0)->name, "A.b_c-1");
	assert_string_equal(apps_get(t, 0)->path, "/x y/z");
	assert_false(apps_get(t, 0)->download_first);
	assert_int_equal(apps_get(t, 0)->line, 4);
	assert_true(apps_get(t, 1)->download_first);
	assert_int_equal(apps_get(t, 1)->line, 5);
	apps_free(t);
	assert_int_equal(load("", &t), 0);
	assert_int_equal(apps_count(t), 0);
	apps_free(t);
}

static void test_malformed(void **state)
{
	char longname[100], longline[9000];

	(void)state;
	expect_error("firefox /usr/bin/firefox\n",
		     "a.conf:1:1: expected 2 or 3 TAB-separated columns (name, path[, yes]), found "
		     "1 (separate columns with TAB, not spaces)");
	expect_error("# ok\nfirefox\n",
		     "a.conf:2:1: expected 2 or 3 TAB-separated columns (name, path[, yes]), "
		     "found 1");
	expect_error("a\t/b\tyes\textra\n",
		     "a.conf:1:10: expected 2 or 3 TAB-separated columns (name, path[, yes]), "
		     "found more than 3");
	expect_error("\t/usr/bin/x\n", "a.conf:1:1: empty program name");
	expect_error("fire fox\t/usr/bin/x\n",
		     "a.conf:1:5: bad character ' ' in program name (allowed: A-Z a-z 0-9 . _ -)");
	expect_error("f\xc3\xa9\t/x\n",
		     "a.conf:1:2: bad character '\\xc3' in program name (allowed: A-Z a-z 0-9 . _ "
		     "-)");
	memset(longname, 'n', 64);
	strcpy(longname + 64, "\t/x\n");
	expect_error(longname, "a.conf:1:1: program name longer than 63 bytes");
	expect_error("x\tusr/bin/x\n", "a.conf:1:3: path must be absolute, found 'usr/bin/x'");
	expect_error("x\t\tyes\n", "a.conf:1:3: path must be absolute, found ''");
	expect_error("x\t/a\x01"
		     "b\n",
		     "a.conf:1:5: control byte 0x01 in path");
	expect_error("x\t/a \n", "a.conf:1:5: trailing space in path");
	expect_error("x\t/a\ty\n", "a.conf:1:6: third column must be 'yes' or 'no', found 'y'");
	expect_error("x\t/a\t\n", "a.conf:1:6: third column must be 'yes' or 'no', found ''");
	memset(longline, 'x', sizeof(longline));
	longline[sizeof(longline) - 1] = '\0';
	expect_error(longline, "a.conf:1:8193: line longer than 8192 bytes");
}

static void test_malformed_nul(void **state)
{
	static const char text[] = "x\t/a\0b\n";
	struct app_table *t = NULL;

	(void)state;
	assert_int_equal(apps_load_buffer("n.conf", text, sizeof(text) - 1, &t, err, sizeof(err)),
			 -1);
	assert_string_equal(err, "n.conf:1:5: NUL byte in line");
	assert_null(t);
}

static void test_duplicates_and_builtins(void **state)
{
	(void)state;
	expect_error("ff\t/a\n# c\nFF\t/b\n",
		     "a.conf:3:1: duplicate program name 'FF' (first defined on line 1)");
	expect_error("ok\t/a\nChromium\t/usr/bin/chromium\tyes\n",
		     "a.conf:2:1: 'Chromium' is a built-in driver: its line sets the executable "
		     "only, 'yes' is not allowed");
	expect_error("curl\t/a\nCURL\t/b\n",
		     "a.conf:2:1: duplicate program name 'CURL' (first defined on line 1)");
	assert_true(apps_is_builtin("WGET"));
	assert_true(apps_is_builtin("firefox"));
	assert_false(apps_is_builtin(NULL));
}

static void test_load_missing(void **state)
{
	struct app_table *t = (struct app_table *)1;

	(void)state;
	assert_int_equal(apps_load("/nonexistent/apps.conf", &t, err, sizeof(err)), -1);
	assert_null(t);
	assert_string_equal(err, "/nonexistent/apps.conf: No such file or directory");
}

/* ---- drivers ---- */

#define URL  "http://example.test/a/b.html?q=1"
#define HASH "/tmp/capture-download-"

static void build_ok(const struct app_table *t, const char *prog, const char *url,
		     struct app_argv *out)
{
	err[0] = '\0';
	assert_int_equal(apps_build_argv(t, prog, url, 30, out, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	assert_non_null(out->argv);
	assert_int_equal(out->algorithm, APPS_ALGO_DAC);
}

static void test_curl(void **state)
{
	struct app_argv out;

	(void)state;
	build_ok(NULL, "curl", URL, &out);
	assert_true(out.waits_visit_time);
	assert_int_equal(strncmp(out.file, HASH, strlen(HASH)), 0);
	assert_int_equal(strlen(out.file), strlen(HASH) + 16 + 5); /* ".html" */
	assert_string_equal(out.file + strlen(out.file) - 5, ".html");
	expect_argv(&out, (const char *const[]){"/usr/bin/curl", "-g", "-sS", "-L", "--max-time",
						"30", "-o", out.file, "--", URL, NULL});
	apps_argv_free(&out);
	apps_argv_free(&out); /* safe twice */
}

static void test_wget(void **state)
{
	struct app_argv out;

	(void)state;
	build_ok(NULL, "Wget", URL, &out);
	assert_false(out.waits_visit_time);
	expect_argv(&out, (const char *const[]){"/usr/bin/wget", "-q", "--timeout=30", "--tries=1",
						"-O", out.file, "--", URL, NULL});
	apps_argv_free(&out);
}

static const char *curl_sh_script =
    "exec 4>&1; s=$({ { \"$2\" -gfsSL -- \"$1\" 3>&- 4>&-; echo $? >&3; } | /bin/sh 3>&- >&4 "
    "4>&-; } 3>&1); exit \"${s:-1}\"";

static void test_curl_sh(void **state)
{
	struct app_argv out;

	(void)state;
	build_ok(NULL, "curl-sh", URL, &out);
	assert_false(out.waits_visit_time);
	assert_string_equal(out.file, "");
	assert_true(out.wrapper);
	assert_int_equal(out.fetcher, APPS_FETCH_CURL);
	assert_string_equal(out.exe, "/usr/bin/curl");
	expect_argv(&out, (const char *const[]){"/bin/sh", "-c", curl_sh_script, "sh", URL,
						"/usr/bin/curl", NULL});
	apps_argv_free(&out);
}

static void test_chromium(void **state)
{
	struct app_argv out;
	char profile[160];

	(void)state;
	build_ok(NULL, "chromium", URL, &out);
	assert_false(out.waits_visit_time);
	assert_int_equal(strncmp(out.file, "/tmp/capture-profile-", 21), 0);
	assert_int_equal(strlen(out.file), 21 + 16);
	snprintf(profile, sizeof(profile), "--user-data-dir=%s", out.file);
	expect_argv(&out,
		    (const char *const[]){
			"/usr/lib/chromium/chromium",
			"--headless=new",
			"--no-sandbox",
			"--disable-gpu",
			"--no-first-run",
			"--no-default-browser-check",
			"--disable-background-networking",
			"--disable-component-update",
			"--disable-sync",
			"--disable-dev-shm-usage",
			"--disable-extensions",
			"--disable-default-apps",
			"--disable-client-side-phishing-detection",
			"--disable-domain-reliability",
			"--no-pings",
			"--metrics-recording-only",
			"--disable-breakpad",
			"--host-resolver-rules=MAP update.googleapis.com ~NOTFOUND, MAP "
			"clients2.google.com ~NOTFOUND, MAP accounts.google.com ~NOTFOUND, MAP "
			"sb-ssl.google.com ~NOTFOUND",
			profile,
			"--",
			URL,
			NULL,
		    });
	apps_argv_free(&out);
}

static void test_per_url_names(void **state)
{
	struct app_argv a, b, c;

	(void)state;
	build_ok(NULL, "chromium", "http://h/1", &a);
	build_ok(NULL, "chromium", "http://h/2", &b);
	build_ok(NULL, "chromium", "http://h/1", &c);
	assert_string_not_equal(a.file, b.file);
	assert_string_equal(a.file, c.file); /* stable: the same URL names the same file */
	apps_argv_free(&a);
	apps_argv_free(&b);
	apps_argv_free(&c);
}

static void test_generic_entry(void **state)
{
	struct app_table *t = NULL;
	struct app_argv out;

	(void)state;
	assert_int_equal(load("viewer\t/opt/v/bin/viewer\n", &t), 0);
	build_ok(t, "VIEWER", URL, &out);
	assert_false(out.waits_visit_time);
	assert_string_equal(out.file, "");
	expect_argv(&out, (const char *const[]){"/opt/v/bin/viewer", URL, NULL});
	apps_argv_free(&out);
	assert_int_equal(apps_build_argv(t, "nothere", URL, 30, &out, err, sizeof(err)), -1);
	assert_string_equal(err, "unknown program 'nothere'");
	assert_null(out.argv);
	apps_free(t);
}

static const char *download_script =
    "\"$4\" -gfsSL --connect-timeout 30 --max-time 60 -o \"$2\" -- \"$1\" && exec \"$3\" "
    "\"$2\"";

static void test_download_first(void **state)
{
	struct app_table *t = NULL;
	struct app_argv out;

	(void)state;
	assert_int_equal(load("pdf\t/usr/bin/evince\tyes\n", &t), 0);
	build_ok(t, "pdf", "https://h/docs/Report.PDF?x=1#p", &out);
	assert_false(out.waits_visit_time);
	assert_string_equal(out.file + strlen(out.file) - 4, ".PDF");
	assert_true(out.wrapper);
	assert_int_equal(out.fetcher, APPS_FETCH_CURL);
	assert_string_equal(out.exe, "/usr/bin/evince");
	expect_argv(&out, (const char *const[]){"/bin/sh", "-c", download_script, "sh",
						"https://h/docs/Report.PDF?x=1#p", out.file,
						"/usr/bin/evince", "/usr/bin/curl", NULL});
	apps_argv_free(&out);
	apps_free(t);
}

/* Extension of the download file for URL ("" = none). */
static void expect_ext(const char *url, const char *ext)
{
	struct app_argv out;
	const char *f;

	build_ok(NULL, "curl", url, &out);
	f = out.file + strlen(HASH) + 16;
	assert_string_equal(f, ext);
	apps_argv_free(&out);
}

static void test_extension_sanitising(void **state)
{
	(void)state;
	expect_ext("http://h/a.pdf", ".pdf");
	expect_ext("http://h/a.tar.gz", ".gz");
	expect_ext("http://h/a.verylongext1", ".verylong");
	expect_ext("http://h/a.p$(x)df", ".p");
	expect_ext("http://h/a.;rm", "");
	expect_ext("http://h/a.", "");
	expect_ext("http://h/noext", "");
	expect_ext("http://h.example.com", "");          /* dots of the host are not the path */
	expect_ext("http://h.example.com/?f=x.exe", ""); /* nor those of the query */
	expect_ext("http://h/dir.d/file", "");
	expect_ext("http://h/x.doc#frag.exe", ".doc");
	expect_ext("file:///tmp/x.odt", ".odt");
	expect_ext("x.rtf", ".rtf");
	expect_ext("http://h/%2e%2e/a.js%00", ".js");
}

/* ---- hostile URLs ---- */

static void expect_bad_url(const char *url, const char *msg)
{
	struct app_argv out;

	err[0] = '\0';
	assert_int_equal(apps_build_argv(NULL, "curl-sh", url, 30, &out, err, sizeof(err)), -1);
	assert_string_equal(err, msg);
	assert_null(out.argv);
}

static void test_bad_urls(void **state)
{
	struct app_argv out;

	(void)state;
	expect_bad_url("", "empty URL");
	expect_bad_url(NULL, "empty URL");
	expect_bad_url("-o/etc/passwd", "URL starts with '-' (would be read as an option)");
	expect_bad_url("--config=/x", "URL starts with '-' (would be read as an option)");
	expect_bad_url("http://x/\nid", "control byte 0x0a at offset 9 of the URL");
	expect_bad_url("http://x/\rid", "control byte 0x0d at offset 9 of the URL");
	expect_bad_url("http://x/\tid", "control byte 0x09 at offset 9 of the URL");
	expect_bad_url("http://x/\x7f", "control byte 0x7f at offset 9 of the URL");
	assert_int_equal(apps_build_argv(NULL, "curl", URL, 0, &out, err, sizeof(err)), -1);
	assert_string_equal(err, "visit time 0 s out of range 1..86400");
	assert_int_equal(apps_build_argv(NULL, "", URL, 5, &out, err, sizeof(err)), -1);
	assert_string_equal(err, "no program name");
}

static void test_long_url(void **state)
{
	size_t n = APPS_MAX_URL + 1;
	char *url = malloc(n + 1);
	struct app_argv out;

	(void)state;
	assert_non_null(url);
	memset(url, 'a', n);
	url[n] = '\0';
	assert_int_equal(apps_build_argv(NULL, "curl", url, 5, &out, err, sizeof(err)), -1);
	assert_string_equal(err, "URL longer than 65536 bytes");
	url[n - 1] = '\0';
	assert_int_equal(apps_build_argv(NULL, "curl", url, 5, &out, err, sizeof(err)), 0);
	assert_string_equal(out.argv[out.argc - 1], url);
	apps_argv_free(&out);
	free(url);
}

#define HOSTILE "http://x/$(touch /tmp/pwned);'\"`id` ${IFS}|;&<>*?[ ] \\ \xff"

/* The URL is one argv element, byte-exact, and in no other element. */
static void expect_isolated(const char *prog, const struct app_table *t)
{
	struct app_argv out;
	size_t i, hits = 0;

	build_ok(t, prog, HOSTILE, &out);
	for (i = 0; i < out.argc; i++) {
		if (strcmp(out.argv[i], HOSTILE) == 0)
			hits++;
		else
			assert_null(strstr(out.argv[i], "touch"));
	}
	assert_int_equal(hits, 1);
	apps_argv_free(&out);
}

static void test_hostile_url_isolated(void **state)
{
	struct app_table *t = NULL;

	(void)state;
	assert_int_equal(load("g\t/usr/bin/g\nd\t/usr/bin/d\tyes\n", &t), 0);
	expect_isolated("curl", t);
	expect_isolated("wget", t);
	expect_isolated("curl-sh", t);
	expect_isolated("chromium", t);
	expect_isolated("g", t);
	expect_isolated("d", t);
	apps_free(t);
}

/* Runs ARGV in DIR with stdout and stderr on /dev/null; returns the exit status. */
static int run_in(const char *dir, char *const argv[])
{
	int status = -1;
	pid_t pid = fork();

	if (pid == 0) {
		int fd = open("/dev/null", O_WRONLY);

		if (fd < 0 || chdir(dir) < 0)
			_exit(126);
		dup2(fd, 1);
		dup2(fd, 2);
		execv(argv[0], argv);
		_exit(127);
	}
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return status;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

/*
 * Real run of the shell drivers: the served "script" is a local file whose
 * name is a command substitution; it must be fetched (the script runs) and
 * never evaluated (no "pwned" file).
 */
static void test_hostile_url_not_evaluated(void **state)
{
	char dir[] = "/tmp/capture-test-apps-XXXXXX", path[256], url[300], probe[300];
	struct app_table *t = NULL;
	struct app_argv out;
	const char *name = "$(touch${IFS}pwned);'\"`touch${IFS}pwned2`";

	(void)state;
	if (access("/usr/bin/curl", X_OK) < 0)
		skip();
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	write_file(path, "echo ran > ran\n");
	snprintf(url, sizeof(url), "file://%s", path);

	build_ok(NULL, "curl-sh", url, &out);
	assert_int_equal(run_in(dir, out.argv), 0);
	apps_argv_free(&out);
	snprintf(probe, sizeof(probe), "%s/ran", dir);
	assert_int_equal(access(probe, F_OK), 0);

	assert_int_equal(load("rm\t/bin/rm\tyes\n", &t), 0);
	build_ok(t, "rm", url, &out);
	assert_int_equal(run_in(dir, out.argv), 0); /* curl fetched it, rm removed it */
	assert_int_not_equal(access(out.file, F_OK), 0);
	apps_argv_free(&out);
	apps_free(t);

	snprintf(probe, sizeof(probe), "%s/pwned", dir);
	assert_int_not_equal(access(probe, F_OK), 0);
	snprintf(probe, sizeof(probe), "%s/pwned2", dir);
	assert_int_not_equal(access(probe, F_OK), 0);
	assert_int_not_equal(access("/tmp/pwned", F_OK), 0);
	unlink(path);
	snprintf(probe, sizeof(probe), "%s/ran", dir);
	unlink(probe);
	assert_int_equal(rmdir(dir), 0);
}

static void test_builtin_overrides(void **state)
{
	struct app_table *t = NULL;
	struct app_argv out;

	(void)state;
	assert_int_equal(load("chromium\t/opt/chromium/chrome\ncurl\t/opt/curl\tno\n"
			      "wget\t/opt/wget\npdf\t/usr/bin/evince\tyes\n",
			      &t),
			 0);
	assert_int_equal(apps_count(t), 4);
	build_ok(t, "chromium", URL, &out);
	assert_string_equal(out.argv[0], "/opt/chromium/chrome");
	assert_string_equal(out.exe, "/opt/chromium/chrome");
	assert_int_equal(out.fetcher, APPS_FETCH_NONE);
	assert_false(out.wrapper);
	apps_argv_free(&out);
	build_ok(t, "curl", URL, &out);
	assert_string_equal(out.argv[0], "/opt/curl");
	assert_int_equal(out.fetcher, APPS_FETCH_CURL);
	apps_argv_free(&out);
	build_ok(t, "wget", URL, &out);
	assert_string_equal(out.argv[0], "/opt/wget");
	assert_int_equal(out.fetcher, APPS_FETCH_WGET);
	apps_argv_free(&out);
	/* curl-sh and download-first use the curl of the curl line */
	build_ok(t, "curl-sh", URL, &out);
	assert_string_equal(out.argv[out.argc - 1], "/opt/curl");
	assert_string_equal(out.exe, "/opt/curl");
	apps_argv_free(&out);
	build_ok(t, "pdf", URL, &out);
	assert_string_equal(out.argv[out.argc - 1], "/opt/curl");
	apps_argv_free(&out);
	apps_free(t);
	/* a curl-sh line sets the curl of curl-sh only */
	assert_int_equal(load("curl-sh\t/x/curl\n", &t), 0);
	build_ok(t, "curl-sh", URL, &out);
	assert_string_equal(out.argv[out.argc - 1], "/x/curl");
	apps_argv_free(&out);
	build_ok(t, "curl", URL, &out);
	assert_string_equal(out.argv[0], "/usr/bin/curl");
	apps_argv_free(&out);
	apps_free(t);
}

/* Asserts the error codes of exit status CODE under fetcher F. */
static void expect_exit(enum apps_fetcher f, int code, uint32_t major, uint32_t minor)
{
	uint32_t got_major = 1, got_minor = 1;

	apps_exit_error(f, code, &got_major, &got_minor);
	assert_int_equal(got_major, major);
	assert_int_equal(got_minor, minor);
}

static void test_exit_error(void **state)
{
	static const int curl_network[] = {5, 6, 7, 22, 28, 35, 52, 56};

	(void)state;
	expect_exit(APPS_FETCH_CURL, 0, 0, 0);
	expect_exit(APPS_FETCH_CURL, -1, 0, 0); /* killed at the end of the visit time */
	for (size_t i = 0; i < sizeof(curl_network) / sizeof(curl_network[0]); i++)
		expect_exit(APPS_FETCH_CURL, curl_network[i], PROTO_ERR_NETWORK_ERROR,
			    (uint32_t)curl_network[i]);
	expect_exit(APPS_FETCH_CURL, 3, PROTO_ERR_INVALID_URL, 0);
	expect_exit(APPS_FETCH_CURL, 1, PROTO_ERR_INVALID_URL, 0);
	expect_exit(APPS_FETCH_CURL, 23, 0, 0); /* a write error is not the network's */
	expect_exit(APPS_FETCH_WGET, 4, PROTO_ERR_NETWORK_ERROR, 4);
	expect_exit(APPS_FETCH_WGET, 8, PROTO_ERR_NETWORK_ERROR, 8);
	expect_exit(APPS_FETCH_WGET, 7, 0, 0);
	expect_exit(APPS_FETCH_WGET, 3, 0, 0); /* wget's 3 is a file error */
	expect_exit(APPS_FETCH_NONE, 7, 0, 0); /* an application's own status means nothing */
	expect_exit(APPS_FETCH_NONE, 127, PROTO_ERR_PROCESS_ERROR,
		    PROTO_ERR_PE_PROCESS_PATH_NOT_FOUND);
	expect_exit(APPS_FETCH_CURL, 127, PROTO_ERR_PROCESS_ERROR,
		    PROTO_ERR_PE_PROCESS_PATH_NOT_FOUND);
	expect_exit(APPS_FETCH_NONE, 126, PROTO_ERR_PROCESS_ERROR, 0);
}

/* curl-sh for real: the script's status is hidden, curl's comes through. */
static void test_curl_sh_status_is_curls(void **state)
{
	char dir[] = "/tmp/capture-test-apps-XXXXXX", path[256], url[300];
	struct app_argv out;
	int status;

	(void)state;
	if (access("/usr/bin/curl", X_OK) < 0)
		skip();
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/script", dir);
	write_file(path, "echo piped > piped; exit 9\n");
	snprintf(url, sizeof(url), "file://%s", path);
	build_ok(NULL, "curl-sh", url, &out);
	status = run_in(dir, out.argv);
	apps_argv_free(&out);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0); /* fetched; the script's 9 is its own */
	snprintf(path, sizeof(path), "%s/piped", dir);
	assert_int_equal(access(path, F_OK), 0);
	unlink(path);
	snprintf(url, sizeof(url), "file://%s/missing", dir);
	build_ok(NULL, "curl-sh", url, &out);
	status = run_in(dir, out.argv);
	apps_argv_free(&out);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 37); /* curl: FILE could not read the file */
	snprintf(path, sizeof(path), "%s/script", dir);
	unlink(path);
	assert_int_equal(rmdir(dir), 0);
}

static void test_algorithm_names(void **state)
{
	(void)state;
	assert_string_equal(apps_algorithm_name(APPS_ALGO_SEQ), "seq");
	assert_string_equal(apps_algorithm_name(APPS_ALGO_DAC), "dac");
	assert_string_equal(apps_algorithm_name(APPS_ALGO_BULK), "bulk");
	assert_string_equal(apps_algorithm_name((enum apps_algorithm)9), "?");
}

/* Where a client given a URL connects first: the literal or "" (a name), and the port. */
static void test_url_origin(void **state)
{
	static const struct {
		const char *url;
		int rc;
		const char *host;
		unsigned port;
	} cases[] = {
	    {"http://page.test/", 0, "", 80},
	    {"HTTPS://page.test", 0, "", 443},
	    {"ftp://files.test/a", 0, "", 21},
	    {"http://page.test:8089/x?y#z", 0, "", 8089},
	    {"http://user:pw@10.0.0.7:8000/bins.sh", 0, "10.0.0.7", 8000},
	    {"http://a@b@10.0.0.7/", 0, "10.0.0.7", 80},
	    {"http://[::1]:8443/", 0, "::1", 8443},
	    {"https://[2001:db8::7]/", 0, "2001:db8::7", 443},
	    {"http://page.test:/", 0, "", 80}, /* an empty port is the default */
	    {"http://page.test?q=http://x:1/", 0, "", 80},
	    {"http://999.1.1.1/", 0, "", 80}, /* not a literal: a name */
	    {"http://page.test:0/", -1, NULL, 0},
	    {"http://page.test:65536/", -1, NULL, 0},
	    {"http://page.test:80x/", -1, NULL, 0},
	    {"http://page.test:+80/", -1, NULL, 0},
	    {"http://[fe80::1%25eth0]/", -1, NULL, 0},
	    {"http://[nonsense]/", -1, NULL, 0},
	    {"http:///path", -1, NULL, 0},
	    {"file:///etc/passwd", -1, NULL, 0},
	    {"mailto:a@b.test", -1, NULL, 0},
	    {"page.test/a://b", -1, NULL, 0},
	    {"://page.test/", -1, NULL, 0},
	};
	char host[64];
	uint16_t port;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = apps_url_origin(cases[i].url, host, sizeof(host), &port);

		if (rc != cases[i].rc)
			fail_msg("%s: rc %d, want %d", cases[i].url, rc, cases[i].rc);
		if (rc == 0 && (strcmp(host, cases[i].host) != 0 || port != cases[i].port))
			fail_msg("%s: %s port %u, want %s port %u", cases[i].url, host, port,
				 cases[i].host, cases[i].port);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_shipped_conf),
	    cmocka_unit_test(test_format_details),
	    cmocka_unit_test(test_malformed),
	    cmocka_unit_test(test_malformed_nul),
	    cmocka_unit_test(test_duplicates_and_builtins),
	    cmocka_unit_test(test_load_missing),
	    cmocka_unit_test(test_curl),
	    cmocka_unit_test(test_wget),
	    cmocka_unit_test(test_curl_sh),
	    cmocka_unit_test(test_chromium),
	    cmocka_unit_test(test_per_url_names),
	    cmocka_unit_test(test_generic_entry),
	    cmocka_unit_test(test_download_first),
	    cmocka_unit_test(test_extension_sanitising),
	    cmocka_unit_test(test_bad_urls),
	    cmocka_unit_test(test_long_url),
	    cmocka_unit_test(test_hostile_url_isolated),
	    cmocka_unit_test(test_hostile_url_not_evaluated),
	    cmocka_unit_test(test_builtin_overrides),
	    cmocka_unit_test(test_exit_error),
	    cmocka_unit_test(test_curl_sh_status_is_curls),
	    cmocka_unit_test(test_algorithm_names),
	    cmocka_unit_test(test_url_origin),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
