/*
 * test_url_queue.c - the URL queue: priority order, FIFO among equal
 * priorities at scale, duplicates refused for the whole run, groups that end
 * at a different client or visit time, front groups, and no leaks (ASan).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server/url_queue.h"

#define BIG 100000

static int setup(void **state)
{
	*state = url_queue_new("chromium", 20);
	return *state ? 0 : -1;
}

static int teardown(void **state)
{
	url_queue_free(*state);
	return 0;
}

static struct url_entry entry(const char *url, const char *client, int visit, double prio)
{
	return (struct url_entry){(char *)url, (char *)client, visit, prio, 0};
}

static int push(struct url_queue *q, const char *url, const char *client, int visit, double prio)
{
	struct url_entry e = entry(url, client, visit, prio);

	return url_queue_push(q, &e);
}

/* Pops a group of at most MAX and checks it is exactly URLS (NULL-terminated). */
static void expect_group(struct url_queue *q, size_t max, const char *const *urls)
{
	struct url_entry out[16];
	ssize_t n = url_queue_pop_group(q, out, max);
	size_t want = 0;

	while (urls[want])
		want++;
	assert_true(max <= 16);
	assert_int_equal(n, (ssize_t)want);
	for (size_t i = 0; i < want; i++) {
		assert_string_equal(out[i].url, urls[i]);
		assert_non_null(out[i].client); /* defaults are resolved */
		assert_true(out[i].visit_time >= 0);
		url_line_entry_free(&out[i]);
	}
}

static double ms_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

/* ---- order ---- */

static void test_priority_order(void **state)
{
	struct url_queue *q = *state;

	assert_int_equal(push(q, "http://low/", NULL, -1, 0.1), 1);
	assert_int_equal(push(q, "http://high/", NULL, -1, 0.9), 1);
	assert_int_equal(push(q, "http://mid/", NULL, -1, 0.5), 1);
	assert_int_equal(push(q, "http://zero/", NULL, -1, 0.0), 1);
	assert_int_equal(push(q, "http://top/", NULL, -1, 1.0), 1);
	expect_group(q, 16,
		     (const char *const[]){"http://top/", "http://high/", "http://mid/",
					   "http://low/", "http://zero/", NULL});
	assert_int_equal(url_queue_len(q), 0);
	expect_group(q, 16, (const char *const[]){NULL});
}

static void test_fifo_among_equal_priorities_at_scale(void **state)
{
	struct url_queue *q = *state;
	static struct url_entry out[1000];
	unsigned long next[5] = {0};
	char url[64];
	struct timespec t0;
	size_t total = 0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (unsigned long i = 0; i < BIG; i++) {
		struct url_entry e;

		snprintf(url, sizeof(url), "http://example.com/%lu", i);
		e = entry(url, NULL, -1, (double)(i % 5) * 0.25); /* 5 priority classes */
		e.line = i;
		assert_int_equal(url_queue_push(q, &e), 1);
	}
	assert_int_equal(url_queue_len(q), BIG);
	/* highest class first; inside a class, the order of pushing */
	for (int cls = 4; cls >= 0; cls--)
		next[cls] = (unsigned long)cls;
	for (;;) {
		ssize_t n = url_queue_pop_group(q, out, 1000);

		if (n == 0)
			break;
		for (ssize_t i = 0; i < n; i++) {
			int cls = (int)(out[i].priority / 0.25 + 0.5);

			for (int higher = cls + 1; higher < 5; higher++)
				assert_true(next[higher] >= BIG); /* all higher ones came first */
			assert_int_equal(out[i].line, next[cls]);
			next[cls] += 5;
			url_line_entry_free(&out[i]);
		}
		total += (size_t)n;
	}
	assert_int_equal(total, BIG);
	print_message("%d pushes and pops in %.1f ms\n", BIG, ms_since(&t0));
}

/* ---- duplicates ---- */

static void test_duplicates_refused_for_the_run(void **state)
{
	struct url_queue *q = *state;
	struct url_entry out[4];
	ssize_t n;

	assert_int_equal(push(q, "http://a/X", NULL, -1, 0.0), 1);
	assert_int_equal(push(q, "http://a/X", NULL, -1, 0.7), 0);       /* still queued */
	assert_int_equal(push(q, "http://a/X", "chromium", 20, 0.0), 0); /* defaults resolved */
	assert_int_equal(push(q, "http://a/x", NULL, -1, 0.0), 1);       /* byte-exact */
	assert_int_equal(push(q, "http://a/X", "firefox", -1, 0.0), 1);  /* other client */
	assert_int_equal(push(q, "http://a/X", NULL, 30, 0.0), 1);       /* other visit time */
	assert_int_equal(push(q, "http://a/X#f", NULL, -1, 0.0), 1);     /* fragment counts */
	assert_int_equal(url_queue_len(q), 5);
	assert_int_equal(url_queue_seen(q), 5);
	while ((n = url_queue_pop_group(q, out, 4)) > 0)
		for (ssize_t i = 0; i < n; i++)
			url_line_entry_free(&out[i]);
	assert_int_equal(url_queue_len(q), 0);
	assert_int_equal(push(q, "http://a/X", NULL, -1, 0.0), 0); /* visited in this run */
	assert_int_equal(push(q, "http://a/X", "firefox", -1, 1.0), 0);
	assert_int_equal(url_queue_seen(q), 5);
}

static void test_invalid_entries(void **state)
{
	struct url_queue *q = *state;

	errno = 0;
	assert_int_equal(push(q, "http://a/", NULL, -1, 1.5), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(push(q, "http://a/", NULL, -1, -0.1), -1);
	assert_int_equal(push(q, "http://a/", NULL, -2, 0.0), -1);
	assert_int_equal(push(q, "http://a/", "", -1, 0.0), -1);
	assert_int_equal(push(q, NULL, NULL, -1, 0.0), -1);
	assert_int_equal(push(q, "", NULL, -1, 0.0), -1);
	assert_int_equal(url_queue_len(q), 0);
	assert_int_equal(url_queue_seen(q), 0);
	assert_null(url_queue_new("", 20));
	assert_null(url_queue_new("x", -1));
}

/* ---- groups ---- */

static void test_group_stops_at_other_client_or_visit_time(void **state)
{
	struct url_queue *q = *state;

	push(q, "http://1/", "firefox", 10, 0.0);
	push(q, "http://2/", "firefox", 10, 0.0);
	push(q, "http://3/", NULL, 10, 0.0); /* chromium */
	push(q, "http://4/", "firefox", 10, 0.0);
	push(q, "http://5/", "firefox", 11, 0.0);
	push(q, "http://6/", NULL, -1, 0.0); /* chromium, 20 */
	push(q, "http://7/", "chromium", 20, 0.0);
	expect_group(q, 10, (const char *const[]){"http://1/", "http://2/", NULL});
	expect_group(q, 10, (const char *const[]){"http://3/", NULL});
	expect_group(q, 10, (const char *const[]){"http://4/", NULL});
	expect_group(q, 10, (const char *const[]){"http://5/", NULL});
	expect_group(q, 10, (const char *const[]){"http://6/", "http://7/", NULL});
	assert_int_equal(url_queue_len(q), 0);
}

static void test_group_size_limit(void **state)
{
	struct url_queue *q = *state;
	char url[32];

	for (int i = 0; i < 5; i++) {
		snprintf(url, sizeof(url), "http://%d/", i);
		push(q, url, NULL, -1, 0.0);
	}
	expect_group(q, 2, (const char *const[]){"http://0/", "http://1/", NULL});
	expect_group(q, 2, (const char *const[]){"http://2/", "http://3/", NULL});
	expect_group(q, 2, (const char *const[]){"http://4/", NULL});
	expect_group(q, 0, (const char *const[]){NULL});
}

/* ---- front ---- */

static void test_push_front_groups(void **state)
{
	struct url_queue *q = *state;
	struct url_entry half1[2] = {entry("http://a/", "firefox", 5, 0.0),
				     entry("http://b/", NULL, -1, 0.0)}; /* mixed: kept as pushed */
	struct url_entry half2[3] = {entry("http://c/", NULL, -1, 0.0),
				     entry("http://d/", NULL, -1, 0.0),
				     entry("http://e/", NULL, -1, 0.0)};

	push(q, "http://queued-1/", NULL, -1, 1.0);
	push(q, "http://queued-2/", NULL, -1, 1.0);
	assert_int_equal(url_queue_push_front(q, half2, 3), 0); /* pushed first, popped last */
	assert_int_equal(url_queue_push_front(q, half1, 2), 0);
	assert_int_equal(url_queue_len(q), 7);
	expect_group(q, 10, (const char *const[]){"http://a/", "http://b/", NULL});
	/* a front group larger than the limit: the rest stays in front */
	expect_group(q, 2, (const char *const[]){"http://c/", "http://d/", NULL});
	expect_group(q, 2, (const char *const[]){"http://e/", NULL});
	expect_group(q, 10, (const char *const[]){"http://queued-1/", "http://queued-2/", NULL});
	/* front URLs count as seen */
	assert_int_equal(push(q, "http://c/", NULL, -1, 0.0), 0);
	assert_int_equal(url_queue_seen(q), 7);
	assert_int_equal(url_queue_push_front(q, half2, 0), 0);
}

static void test_retry_of_a_popped_group(void **state)
{
	struct url_queue *q = *state;
	struct url_entry out[4];
	ssize_t n;

	push(q, "http://x/", NULL, -1, 0.2);
	push(q, "http://y/", NULL, -1, 0.2);
	push(q, "http://later/", NULL, -1, 0.9);
	n = url_queue_pop_group(q, out, 4);
	assert_int_equal(n, 3);
	/* the group failed: it goes back in front, ahead of anything new */
	push(q, "http://new/", NULL, -1, 1.0);
	assert_int_equal(url_queue_push_front(q, out, (size_t)n), 0);
	for (ssize_t i = 0; i < n; i++)
		url_line_entry_free(&out[i]);
	assert_int_equal(url_queue_seen(q), 4);
	expect_group(q, 4, (const char *const[]){"http://later/", "http://x/", "http://y/", NULL});
	expect_group(q, 4, (const char *const[]){"http://new/", NULL});
}

static void test_push_front_invalid_changes_nothing(void **state)
{
	struct url_queue *q = *state;
	struct url_entry bad[3] = {entry("http://new1/", NULL, -1, 0.0),
				   entry("http://new2/", NULL, -1, 0.0),
				   entry("http://bad/", NULL, -1, 7.0)};

	errno = 0;
	assert_int_equal(url_queue_push_front(q, bad, 3), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(url_queue_len(q), 0);
	assert_int_equal(url_queue_seen(q), 0); /* the first two were forgotten again */
	assert_int_equal(push(q, "http://new1/", NULL, -1, 0.0), 1);
	assert_int_equal(push(q, "http://new2/", NULL, -1, 0.0), 1);
}

/* Set deletion keeps probe chains whole: many rolled-back front pushes, then lookups. */
static void test_rollback_keeps_set_consistent(void **state)
{
	struct url_queue *q = *state;
	char url[64];

	for (int i = 0; i < 2000; i++) {
		snprintf(url, sizeof(url), "http://k/%d", i);
		assert_int_equal(push(q, url, NULL, -1, 0.0), 1);
	}
	for (int i = 0; i < 2000; i++) {
		char a[64], b[64];
		struct url_entry two[2];

		snprintf(a, sizeof(a), "http://r/%d", i);
		snprintf(b, sizeof(b), "http://k/%d", i);
		two[0] = entry(a, NULL, -1, 0.0);
		two[1] = entry(b, NULL, -1, 2.0); /* invalid: rolls back a */
		assert_int_equal(url_queue_push_front(q, two, 2), -1);
	}
	assert_int_equal(url_queue_seen(q), 2000);
	for (int i = 0; i < 2000; i++) {
		snprintf(url, sizeof(url), "http://k/%d", i);
		assert_int_equal(push(q, url, NULL, -1, 0.0), 0);
	}
}

static void test_freed_with_urls_waiting(void **state)
{
	struct url_queue *q = url_queue_new("c", 1);
	struct url_entry front[1] = {entry("http://f/", NULL, -1, 0.0)};
	char url[32];

	(void)state;
	assert_non_null(q);
	for (int i = 0; i < 1000; i++) {
		snprintf(url, sizeof(url), "http://%d/", i);
		push(q, url, i % 2 ? "x" : NULL, i % 3, 0.5);
	}
	assert_int_equal(url_queue_push_front(q, front, 1), 0);
	url_queue_free(q); /* ASan's leak check proves everything went */
	url_queue_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_priority_order, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fifo_among_equal_priorities_at_scale, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_duplicates_refused_for_the_run, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_invalid_entries, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_group_stops_at_other_client_or_visit_time, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_group_size_limit, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_push_front_groups, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_retry_of_a_popped_group, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_push_front_invalid_changes_nothing, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_rollback_keeps_set_consistent, setup, teardown),
	    cmocka_unit_test(test_freed_with_urls_waiting),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
