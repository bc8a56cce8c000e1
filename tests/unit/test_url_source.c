/*
 * test_url_source.c - tailing a URL file: lines appended in several writes
 * (a last line without newline waits), comments, "end", invalid and
 * over-long lines, a pipe that closes, a truncated file, read limits.
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
#include <unistd.h>

#include "server/url_source.h"

#define MAXGOT 6000

struct got {
	char *url[MAXGOT];
	unsigned long line[MAXGOT];
	size_t n;
	char *bad[64];
	unsigned long bad_line[64];
	size_t bad_len[64];
	size_t nbad;
};

struct fixture {
	char path[64];
	int wfd; /* the writer's end */
	struct url_source *src;
	struct got got;
};

static void on_entry(void *arg, const struct url_entry *e)
{
	struct got *g = arg;

	assert_true(g->n < MAXGOT);
	g->url[g->n] = strdup(e->url);
	g->line[g->n++] = e->line;
}

static void on_invalid(void *arg, unsigned long line, const char *raw, size_t len, const char *msg)
{
	struct got *g = arg;

	(void)raw;
	assert_true(g->nbad < 64);
	g->bad[g->nbad] = strdup(msg);
	g->bad_line[g->nbad] = line;
	g->bad_len[g->nbad++] = len;
}

static const struct url_source_ops ops = {on_entry, on_invalid};

static void got_clear(struct got *g)
{
	for (size_t i = 0; i < g->n; i++)
		free(g->url[i]);
	for (size_t i = 0; i < g->nbad; i++)
		free(g->bad[i]);
	memset(g, 0, sizeof(*g));
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	snprintf(f->path, sizeof(f->path), "/tmp/capture-urls-XXXXXX");
	f->wfd = mkstemp(f->path);
	if (f->wfd < 0 || url_source_open(f->path, &f->src) < 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	url_source_free(f->src);
	close(f->wfd);
	unlink(f->path);
	got_clear(&f->got);
	free(f);
	return 0;
}

static void put(int fd, const char *s)
{
	assert_int_equal(write(fd, s, strlen(s)), (ssize_t)strlen(s));
}

static int poll_all(struct fixture *f)
{
	return url_source_poll(f->src, &ops, &f->got, 0);
}

/* ---- tailing ---- */

static void test_lines_in_several_writes(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(poll_all(f), 0); /* empty so far */
	put(f->wfd, "http://a/\nhttp://b");
	assert_int_equal(poll_all(f), 0);
	assert_int_equal(f->got.n, 1); /* b has no newline yet: it waits */
	assert_string_equal(f->got.url[0], "http://a/");
	put(f->wfd, "/rest");
	assert_int_equal(poll_all(f), 0);
	assert_int_equal(f->got.n, 1);
	put(f->wfd, "::firefox\nhttp://c/\n");
	assert_int_equal(poll_all(f), 0);
	assert_int_equal(f->got.n, 3);
	assert_string_equal(f->got.url[1], "http://b/rest");
	assert_int_equal(f->got.line[1], 2);
	assert_string_equal(f->got.url[2], "http://c/");
	assert_int_equal(f->got.line[2], 3);
	assert_int_equal(url_source_lines(f->src), 3);
	assert_false(url_source_ended(f->src));
	assert_true(url_source_fd(f->src) >= 0);
}

static void test_comments_blank_lines_and_crlf(void **state)
{
	struct fixture *f = *state;

	put(f->wfd,
	    "\xef\xbb\xbfhttp://bom/\r\n# a comment\r\n\r\n   \n#http://not/\nhttp://x/\r\n");
	assert_int_equal(poll_all(f), 0);
	assert_int_equal(f->got.n, 2);
	assert_string_equal(f->got.url[0], "http://bom/");
	assert_int_equal(f->got.line[0], 1);
	assert_string_equal(f->got.url[1], "http://x/");
	assert_int_equal(f->got.line[1], 6);
	assert_int_equal(f->got.nbad, 0);
}

static void test_end_stops_reading(void **state)
{
	struct fixture *f = *state;

	put(f->wfd, "http://a/\n  End  \nhttp://after/\n");
	assert_int_equal(poll_all(f), 0);
	assert_int_equal(f->got.n, 1);
	assert_true(url_source_ended(f->src));
	put(f->wfd, "http://more/\n");
	assert_int_equal(poll_all(f), 0);
	assert_int_equal(f->got.n, 1);
	assert_int_equal(url_source_lines(f->src), 2);
}

static void test_invalid_lines_are_reported_and_skipped(void **state)
{
	struct fixture *f = *state;

	put(f->wfd, "http://ok/\nwww.example.com\nhttp://a/::firefox::2.0\nhttp://ok2/\n");
	assert_int_equal(poll_all(f), 0);
	assert_int_equal(f->got.n, 2);
	assert_int_equal(f->got.nbad, 2);
	assert_int_equal(f->got.bad_line[0], 2);
	assert_true(strncmp(f->got.bad[0], f->path, strlen(f->path)) == 0);
	assert_non_null(strstr(f->got.bad[0], ":2: field 1 (URL) 'www.example.com': no scheme"));
	assert_non_null(strstr(f->got.bad[1], ":3: field 3 (priority)"));
	assert_int_equal(f->got.bad_len[1], strlen("http://a/::firefox::2.0"));
	assert_int_equal(f->got.line[1], 4);
}

static void test_overlong_line_is_one_error(void **state)
{
	struct fixture *f = *state;
	char chunk[5000];

	memset(chunk, 'x', sizeof(chunk) - 1);
	chunk[sizeof(chunk) - 1] = '\0';
	put(f->wfd, "http://first/\nhttp://");
	for (int i = 0; i < 40; i++) { /* 200 KB without a newline, polled as it grows */
		put(f->wfd, chunk);
		assert_int_equal(poll_all(f), 0);
	}
	put(f->wfd, "\nhttp://next/\n");
	assert_int_equal(poll_all(f), 0);
	assert_int_equal(f->got.nbad, 1);
	assert_int_equal(f->got.bad_line[0], 2);
	assert_int_equal(f->got.bad_len[0], URL_LINE_MAX);
	assert_non_null(strstr(f->got.bad[0], ":2: line longer than 9216 bytes; skipped"));
	assert_int_equal(f->got.n, 2);
	assert_string_equal(f->got.url[1], "http://next/");
	assert_int_equal(f->got.line[1], 3);
}

static void test_max_lines_per_poll(void **state)
{
	struct fixture *f = *state;
	char line[64];

	for (int i = 0; i < 10; i++) {
		snprintf(line, sizeof(line), "http://%d/\n", i);
		put(f->wfd, line);
	}
	assert_int_equal(url_source_poll(f->src, &ops, &f->got, 4), 1);
	assert_int_equal(f->got.n, 4);
	assert_int_equal(url_source_poll(f->src, &ops, &f->got, 4), 1);
	assert_int_equal(f->got.n, 8);
	assert_int_equal(url_source_poll(f->src, &ops, &f->got, 4), 0);
	assert_int_equal(f->got.n, 10);
	for (int i = 0; i < 10; i++) {
		snprintf(line, sizeof(line), "http://%d/", i);
		assert_string_equal(f->got.url[i], line);
	}
}

static void test_many_lines_across_reads(void **state)
{
	struct fixture *f = *state;
	char *text = malloc(5000 * 64), line[64];
	size_t len = 0, off = 0, step = 1;

	assert_non_null(text);
	for (int i = 0; i < 5000; i++)
		len += (size_t)snprintf(text + len, 64, "http://example.org/page/%d?q=%d\n", i, i);
	while (off < len) { /* uneven writes, a poll after each */
		size_t n = step < len - off ? step : len - off;

		assert_int_equal(write(f->wfd, text + off, n), (ssize_t)n);
		off += n;
		step = step * 7 % 70001 + 1;
		assert_int_equal(poll_all(f), 0);
	}
	free(text);
	assert_int_equal(f->got.n, 5000);
	for (int i = 0; i < 5000; i++) {
		snprintf(line, sizeof(line), "http://example.org/page/%d?q=%d", i, i);
		assert_string_equal(f->got.url[i], line);
		assert_int_equal(f->got.line[i], (unsigned long)i + 1);
	}
}

static void test_truncated_file_is_read_again(void **state)
{
	struct fixture *f = *state;

	put(f->wfd, "http://one/\nhttp://two/\n");
	assert_int_equal(poll_all(f), 0);
	assert_int_equal(f->got.n, 2);
	assert_int_equal(ftruncate(f->wfd, 0), 0);
	assert_int_equal(lseek(f->wfd, 0, SEEK_SET), 0);
	put(f->wfd, "http://3/\n");
	assert_int_equal(poll_all(f), 0);
	assert_int_equal(f->got.n, 3);
	assert_string_equal(f->got.url[2], "http://3/");
	assert_int_equal(f->got.line[2], 1);
}

static void test_finish_delivers_last_line(void **state)
{
	struct fixture *f = *state;

	put(f->wfd, "http://a/\nhttp://no-newline/");
	assert_int_equal(poll_all(f), 0);
	assert_int_equal(f->got.n, 1);
	url_source_finish(f->src, &ops, &f->got);
	assert_int_equal(f->got.n, 2);
	assert_string_equal(f->got.url[1], "http://no-newline/");
	assert_int_equal(f->got.line[1], 2);
	assert_true(url_source_ended(f->src));
	url_source_finish(f->src, &ops, &f->got); /* once only */
	assert_int_equal(f->got.n, 2);
}

/* ---- pipes ---- */

static void test_pipe_end_completes_last_line(void **state)
{
	struct got g = {0};
	struct url_source *src;
	int p[2];

	(void)state;
	assert_int_equal(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
	src = url_source_new_fd(p[0], "stdin");
	assert_non_null(src);
	put(p[1], "http://a/\nhttp://b/");
	assert_int_equal(url_source_poll(src, &ops, &g, 0), 0); /* writer open: b waits */
	assert_int_equal(g.n, 1);
	assert_false(url_source_ended(src));
	close(p[1]);
	assert_int_equal(url_source_poll(src, &ops, &g, 0), 0);
	assert_int_equal(g.n, 2);
	assert_string_equal(g.url[1], "http://b/");
	assert_true(url_source_ended(src));
	url_source_free(src);
	close(p[0]); /* new_fd does not own it */
	got_clear(&g);
}

static void test_fifo_survives_writers(void **state)
{
	char path[64] = "/tmp/capture-fifo-XXXXXX";
	struct got g = {0};
	struct url_source *src;
	int w;

	(void)state;
	assert_non_null(mkdtemp(path));
	strcat(path, "/f");
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(url_source_open(path, &src), 0); /* no writer yet: does not block */
	assert_int_equal(url_source_poll(src, &ops, &g, 0), 0);
	for (int round = 0; round < 2; round++) { /* a writer comes, writes and goes, twice */
		w = open(path, O_WRONLY | O_CLOEXEC);
		assert_true(w >= 0);
		put(w, round ? "http://2/\n" : "http://1/\n");
		close(w);
		assert_int_equal(url_source_poll(src, &ops, &g, 0), 0);
		assert_false(url_source_ended(src));
	}
	assert_int_equal(g.n, 2);
	url_source_free(src);
	unlink(path);
	*strrchr(path, '/') = '\0';
	rmdir(path);
	got_clear(&g);
}

static void test_open_missing_file(void **state)
{
	struct url_source *src = NULL;

	(void)state;
	assert_int_equal(url_source_open("/nonexistent/urls.txt", &src), -1);
	assert_null(src);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_lines_in_several_writes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_comments_blank_lines_and_crlf, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_end_stops_reading, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_invalid_lines_are_reported_and_skipped, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_overlong_line_is_one_error, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_max_lines_per_poll, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_many_lines_across_reads, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_truncated_file_is_read_again, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_finish_delivers_last_line, setup, teardown),
	    cmocka_unit_test(test_pipe_end_completes_last_line),
	    cmocka_unit_test(test_fifo_survives_writers),
	    cmocka_unit_test(test_open_missing_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
