/*
 * test_corpus_site.c - capture-corpusd's site logic: Host header to site,
 * request target to path, traversal refusal, content types, _redirects
 * parsing, and corpus_resolve() on a real temporary site tree (symbolic
 * links out of the site, FIFOs, directories, the default site).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "corpus/corpus_site.h"

/* ---- host ---- */

static void expect_site(const char *host, const char *want)
{
	char out[CORPUS_HOST_MAX + 1];

	if (!want) {
		assert_int_equal(corpus_host_site(host, out, sizeof(out)), -1);
		return;
	}
	assert_int_equal(corpus_host_site(host, out, sizeof(out)), 0);
	assert_string_equal(out, want);
}

static void test_host_site(void **state)
{
	char big[300];

	(void)state;
	expect_site("dropper.corpus.test", "dropper.corpus.test");
	expect_site("Docs.Corpus.TEST:8080", "docs.corpus.test");
	expect_site("example.com.", "example.com");
	expect_site("example.com.:80", "example.com");
	expect_site("10.201.255.1:80", "10.201.255.1");
	expect_site("a-b.c", "a-b.c");
	expect_site(NULL, NULL);
	expect_site("", NULL);
	expect_site(":80", NULL);
	expect_site("[::1]:80", NULL); /* IPv6 literals go to the default site */
	expect_site("a..b", NULL);     /* empty label */
	expect_site(".a", NULL);       /* leading dot */
	expect_site("..", NULL);       /* never a parent directory */
	expect_site("a/b", NULL);      /* never a path */
	expect_site("a_b", NULL);      /* not a host name character */
	expect_site("a b", NULL);
	expect_site("a:80:90", NULL); /* junk port */
	expect_site("a:", NULL);
	expect_site("a:123456", NULL);
	expect_site("a\x01", NULL);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	expect_site(big, NULL); /* longer than a DNS name */
}

/* ---- request target ---- */

static void expect_path(const char *target, enum corpus_path_status st, const char *want)
{
	char out[CORPUS_PATH_MAX];

	assert_int_equal(corpus_path_decode(target, out, sizeof(out)), st);
	if (want)
		assert_string_equal(out, want);
}

static void test_path_decode(void **state)
{
	(void)state;
	expect_path("/", CORPUS_PATH_OK, "/");
	expect_path("/index.html", CORPUS_PATH_OK, "/index.html");
	expect_path("/a%20b/c.html?x=1#top", CORPUS_PATH_OK, "/a b/c.html");
	expect_path("//a///b/", CORPUS_PATH_OK, "/a/b/");
	expect_path("/a%2Fb", CORPUS_PATH_OK, "/a/b"); /* an encoded '/' separates too */
	expect_path("/%C3%A9t%C3%A9", CORPUS_PATH_OK, "/\xc3\xa9t\xc3\xa9");
	expect_path("/?only-query", CORPUS_PATH_OK, "/");
	expect_path("/a..b/c...", CORPUS_PATH_OK, "/a..b/c...");
	expect_path("/...", CORPUS_PATH_HIDDEN, NULL); /* starts with '.' */
}

static void test_path_traversal_refused(void **state)
{
	(void)state;
	expect_path("/..", CORPUS_PATH_TRAVERSAL, NULL);
	expect_path("/../etc/passwd", CORPUS_PATH_TRAVERSAL, NULL);
	expect_path("/a/../../etc/passwd", CORPUS_PATH_TRAVERSAL, NULL);
	expect_path("/a/./b", CORPUS_PATH_TRAVERSAL, NULL);
	expect_path("/%2e%2e/secret", CORPUS_PATH_TRAVERSAL, NULL);
	expect_path("/%2E%2e%2fsecret", CORPUS_PATH_TRAVERSAL, NULL);
	expect_path("/a%2f..%2f..%2fsecret", CORPUS_PATH_TRAVERSAL, NULL);
	expect_path("/.hidden/../x", CORPUS_PATH_TRAVERSAL, NULL); /* worst refusal wins */
}

static void test_path_bad_and_hidden(void **state)
{
	char big[CORPUS_PATH_MAX + 10];

	(void)state;
	expect_path("", CORPUS_PATH_BAD, NULL);
	expect_path("index.html", CORPUS_PATH_BAD, NULL); /* not absolute */
	expect_path("http://h/x", CORPUS_PATH_BAD, NULL); /* absolute-form */
	expect_path("*", CORPUS_PATH_BAD, NULL);
	expect_path("/a%00b", CORPUS_PATH_BAD, NULL); /* NUL */
	expect_path("/a%0ab", CORPUS_PATH_BAD, NULL); /* newline */
	expect_path("/a%7f", CORPUS_PATH_BAD, NULL);  /* DEL */
	expect_path("/a\tb", CORPUS_PATH_BAD, NULL);  /* raw control byte */
	expect_path("/a%", CORPUS_PATH_BAD, NULL);    /* truncated escapes */
	expect_path("/a%4", CORPUS_PATH_BAD, NULL);
	expect_path("/a%zz", CORPUS_PATH_BAD, NULL);
	expect_path(NULL, CORPUS_PATH_BAD, NULL);
	expect_path("/.git/config", CORPUS_PATH_HIDDEN, NULL);
	expect_path("/_redirects", CORPUS_PATH_HIDDEN, NULL);
	expect_path("/%5fredirects", CORPUS_PATH_HIDDEN, NULL);
	expect_path("/a/.htaccess", CORPUS_PATH_HIDDEN, NULL);
	big[0] = '/';
	memset(big + 1, 'a', sizeof(big) - 2);
	big[sizeof(big) - 1] = '\0';
	expect_path(big, CORPUS_PATH_BAD, NULL);
}

/* ---- content types ---- */

static void test_content_types(void **state)
{
	(void)state;
	assert_string_equal(corpus_content_type("/index.html"), "text/html; charset=utf-8");
	assert_string_equal(corpus_content_type("/A.HTM"), "text/html; charset=utf-8");
	assert_string_equal(corpus_content_type("/s/style.css"), "text/css; charset=utf-8");
	assert_string_equal(corpus_content_type("/app.js"), "text/javascript; charset=utf-8");
	assert_string_equal(corpus_content_type("/logo.png"), "image/png");
	assert_string_equal(corpus_content_type("/i.svg"), "image/svg+xml");
	assert_string_equal(corpus_content_type("/install.sh"),
			    "text/x-shellscript; charset=utf-8");
	assert_string_equal(corpus_content_type("/invoice.capdoc"),
			    "application/x-capture-document");
	assert_string_equal(corpus_content_type("/payload.bin"), CORPUS_TYPE_FALLBACK);
	assert_string_equal(corpus_content_type("/noext"), CORPUS_TYPE_FALLBACK);
	assert_string_equal(corpus_content_type("/.html"), CORPUS_TYPE_FALLBACK);
	assert_string_equal(corpus_content_type("/dir.html/x"), CORPUS_TYPE_FALLBACK);
}

/* ---- _redirects ---- */

static void expect_redirects_error(const char *text, const char *msg)
{
	struct corpus_redirects r = {0};
	char err[200];

	assert_int_equal(corpus_redirects_parse(text, strlen(text), &r, err, sizeof(err)), -1);
	assert_string_equal(err, msg);
	assert_null(r.v);
	assert_int_equal(r.n, 0);
}

static void test_redirects_parse(void **state)
{
	static const char text[] = "# comment\n"
				   "\n"
				   "/old\t301\t/new.html\r\n"
				   "  \t \n"
				   "/go%20there\t302\thttp://other.corpus.test/landing\n"
				   "/old\t307\t/shadowed-by-the-first\n"
				   "/last\t308\t/x";
	struct corpus_redirects r;
	const struct corpus_redirect *e;
	char err[200];

	(void)state;
	assert_int_equal(corpus_redirects_parse(text, strlen(text), &r, err, sizeof(err)), 0);
	assert_int_equal(r.n, 4);
	e = corpus_redirects_find(&r, "/old");
	assert_non_null(e);
	assert_int_equal(e->status, 301);
	assert_string_equal(e->location, "/new.html"); /* the '\r' of a CRLF line is dropped */
	e = corpus_redirects_find(&r, "/go there");    /* paths are matched decoded */
	assert_non_null(e);
	assert_int_equal(e->status, 302);
	assert_string_equal(e->location, "http://other.corpus.test/landing");
	e = corpus_redirects_find(&r, "/last");
	assert_non_null(e);
	assert_int_equal(e->status, 308);
	assert_null(corpus_redirects_find(&r, "/OLD"));
	assert_null(corpus_redirects_find(&r, "/old/"));
	corpus_redirects_free(&r);
	assert_int_equal(corpus_redirects_parse("", 0, &r, err, sizeof(err)), 0);
	assert_int_equal(r.n, 0);
}

static void test_redirects_errors(void **state)
{
	char big[CORPUS_REDIRECTS_MAX + 2];

	(void)state;
	expect_redirects_error("/a 301 /b\n",
			       "line 1: expected 3 TAB-separated columns (path, status, location)");
	expect_redirects_error("# x\n/a\t301\n",
			       "line 2: expected 3 TAB-separated columns (path, status, location)");
	expect_redirects_error("/a\t301\t/b\textra\n",
			       "line 1: expected 3 TAB-separated columns (path, status, location)");
	expect_redirects_error("a\t301\t/b\n", "line 1: the path must start with '/'");
	expect_redirects_error("/../a\t301\t/b\n", "line 1: the path is not a plain path (bad "
						   "escape, '.', '..' or hidden segment)");
	expect_redirects_error("/a\t200\t/b\n",
			       "line 1: the status must be 301, 302, 303, 307 or 308");
	expect_redirects_error("/a\t304\t/b\n",
			       "line 1: the status must be 301, 302, 303, 307 or 308");
	expect_redirects_error("/a\t30x\t/b\n",
			       "line 1: the status must be 301, 302, 303, 307 or 308");
	expect_redirects_error("/a\t301\t\n", "line 1: the location must be 1..2047 bytes "
					      "without spaces or control bytes");
	expect_redirects_error("/a\t301\t/b c\n", "line 1: the location must be 1..2047 bytes "
						  "without spaces or control bytes");
	assert_int_equal(
	    corpus_redirects_parse("/a\t301\t/b\x00", 10, &(struct corpus_redirects){0}, big, 100),
	    -1);
	assert_string_equal(big, "NUL byte in the file");
	memset(big, '#', sizeof(big));
	assert_int_equal(
	    corpus_redirects_parse(big, sizeof(big), &(struct corpus_redirects){0}, big, 100), -1);
	assert_string_equal(big, "file larger than 64 KiB");
}

/* ---- corpus_resolve on a real tree ---- */

static char tmpdir[PATH_MAX];
static int root_fd = -1;

static void put(const char *rel, const char *text)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, rel);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void mk(const char *rel)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", tmpdir, rel);
	assert_int_equal(mkdir(path, 0755), 0);
}

static void lnk(const char *target, const char *rel)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", tmpdir, rel);
	assert_int_equal(symlink(target, path), 0);
}

static int tree_setup(void **state)
{
	char path[PATH_MAX];

	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/capture-corpus-site.XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	put("secret", "outside\n");
	mk("sites");
	mk("sites/a.test");
	mk("sites/a.test/sub");
	mk("sites/a.test/noindex");
	mk("sites/default");
	put("sites/a.test/index.html", "<p>a</p>\n");
	put("sites/a.test/sub/index.html", "<p>sub</p>\n");
	put("sites/a.test/sub/style.css", "p{}\n");
	put("sites/a.test/a b.txt", "spaced\n");
	put("sites/a.test/_redirects", "/old\t302\t/sub/\n/gone\t301\thttp://b.test/\n");
	put("sites/default/index.html", "<p>default</p>\n");
	lnk("../../secret", "sites/a.test/leak");
	lnk("/etc/passwd", "sites/a.test/abs-leak");
	lnk("sub/style.css", "sites/a.test/alias.css");
	lnk("default", "sites/b.test"); /* a site may be another site's alias */
	snprintf(path, sizeof(path), "%s/sites/a.test/pipe", tmpdir);
	assert_int_equal(mkfifo(path, 0644), 0);
	snprintf(path, sizeof(path), "%s/sites", tmpdir);
	root_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return root_fd < 0 ? -1 : 0;
}

static int tree_teardown(void **state)
{
	char cmd[PATH_MAX + 16];

	(void)state;
	close(root_fd);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Resolves and checks the status and site; returns the body for a 200 (caller frees). */
static char *expect_answer(const char *host, const char *target, unsigned status, const char *site)
{
	struct corpus_answer a;
	char *body = NULL;

	assert_int_equal(corpus_resolve(root_fd, host, target, &a), 0);
	if (a.status != status)
		fail_msg("%s %s: status %u (%s), expected %u", host, target, a.status, a.reason,
			 status);
	assert_string_equal(a.site, site);
	if (status == 200) {
		body = calloc(1, a.size + 1);
		assert_non_null(body);
		assert_int_equal(read(a.fd, body, a.size), (ssize_t)a.size);
		close(a.fd);
	} else {
		assert_int_equal(a.fd, -1);
	}
	return body;
}

static void expect_body(const char *host, const char *target, const char *body)
{
	char *got =
	    expect_answer(host, target, 200, strstr(body, "default") ? "default" : "a.test");

	assert_string_equal(got, body);
	free(got);
}

static void test_resolve_sites_and_files(void **state)
{
	struct corpus_answer a;

	(void)state;
	expect_body("a.test", "/", "<p>a</p>\n");
	expect_body("A.TEST:8080", "/index.html", "<p>a</p>\n");
	expect_body("a.test", "/sub/", "<p>sub</p>\n");
	expect_body("a.test", "/sub/style.css?v=2", "p{}\n");
	expect_body("a.test", "/a%20b.txt", "spaced\n");
	expect_body("a.test", "/alias.css", "p{}\n"); /* a link inside the site is fine */
	expect_body("unknown.test", "/", "<p>default</p>\n");
	expect_body(NULL, "/", "<p>default</p>\n");
	expect_body("[::1]", "/", "<p>default</p>\n");
	free(expect_answer("b.test", "/", 200, "b.test"));
	assert_int_equal(corpus_resolve(root_fd, "a.test", "/sub/style.css", &a), 0);
	assert_string_equal(a.type, "text/css; charset=utf-8");
	assert_int_equal(a.size, 4);
	close(a.fd);
	assert_int_equal(corpus_resolve(root_fd, "a.test", "/", &a), 0);
	assert_string_equal(a.type, "text/html; charset=utf-8");
	close(a.fd);
}

static void test_resolve_refusals(void **state)
{
	(void)state;
	expect_answer("a.test", "/leak", 403, "a.test");
	expect_answer("a.test", "/abs-leak", 403, "a.test");
	expect_answer("a.test", "/../secret", 400, "");
	expect_answer("a.test", "/%2e%2e/secret", 400, "");
	expect_answer("a.test", "/sub/%2e%2e/%2e%2e/secret", 400, "");
	expect_answer("..", "/secret", 404, "default"); /* host ".." is not a path */
	expect_answer("a.test", "/a%00b", 400, "");
	expect_answer("a.test", "/_redirects", 404, "");
	expect_answer("a.test", "/.hidden", 404, "");
	expect_answer("a.test", "/pipe", 404, "a.test"); /* a FIFO is never opened blocking */
	expect_answer("a.test", "/missing.html", 404, "a.test");
	expect_answer("a.test", "/index.html/x", 404, "a.test");
	expect_answer("a.test", "/noindex/", 404, "a.test"); /* no directory listings */
}

static void test_resolve_redirects(void **state)
{
	struct corpus_answer a;

	(void)state;
	assert_int_equal(corpus_resolve(root_fd, "a.test", "/old", &a), 0);
	assert_int_equal(a.status, 302);
	assert_string_equal(a.location, "/sub/");
	assert_int_equal(corpus_resolve(root_fd, "a.test", "/gone?x=1", &a), 0);
	assert_int_equal(a.status, 301);
	assert_string_equal(a.location, "http://b.test/");
	/* a directory without its final '/' is redirected to it, %-encoded */
	assert_int_equal(corpus_resolve(root_fd, "a.test", "/sub", &a), 0);
	assert_int_equal(a.status, 301);
	assert_string_equal(a.location, "/sub/");
	/* the default site has no _redirects: no redirect */
	assert_int_equal(corpus_resolve(root_fd, "x.test", "/old", &a), 0);
	assert_int_equal(a.status, 404);
}

static void test_resolve_bad_redirects_file(void **state)
{
	struct corpus_answer a;
	char path[PATH_MAX];

	(void)state;
	mk("sites/bad.test");
	put("sites/bad.test/index.html", "x\n");
	put("sites/bad.test/_redirects", "/a 301 /b\n");
	assert_int_equal(corpus_resolve(root_fd, "bad.test", "/", &a), -1);
	assert_int_equal(a.status, 500);
	assert_string_equal(a.reason, "_redirects: line 1: expected 3 TAB-separated columns "
				      "(path, status, location)");
	snprintf(path, sizeof(path), "%s/sites/bad.test/_redirects", tmpdir);
	unlink(path);
	assert_int_equal(mkdir(path, 0755), 0); /* not a regular file */
	assert_int_equal(corpus_resolve(root_fd, "bad.test", "/", &a), -1);
	assert_int_equal(a.status, 500);
}

static void test_resolve_no_default_site(void **state)
{
	struct corpus_answer a;
	char path[PATH_MAX];
	int fd;

	(void)state;
	snprintf(path, sizeof(path), "%s/sites/a.test", tmpdir);
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC); /* a root without "default" */
	assert_true(fd >= 0);
	assert_int_equal(corpus_resolve(fd, "nothing.test", "/", &a), 0);
	assert_int_equal(a.status, 404);
	assert_string_equal(a.site, "");
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_host_site),
	    cmocka_unit_test(test_path_decode),
	    cmocka_unit_test(test_path_traversal_refused),
	    cmocka_unit_test(test_path_bad_and_hidden),
	    cmocka_unit_test(test_content_types),
	    cmocka_unit_test(test_redirects_parse),
	    cmocka_unit_test(test_redirects_errors),
	    cmocka_unit_test(test_resolve_sites_and_files),
	    cmocka_unit_test(test_resolve_refusals),
	    cmocka_unit_test(test_resolve_redirects),
	    cmocka_unit_test(test_resolve_bad_redirects_file),
	    cmocka_unit_test(test_resolve_no_default_site),
	};

	return cmocka_run_group_tests(tests, tree_setup, tree_teardown);
}
