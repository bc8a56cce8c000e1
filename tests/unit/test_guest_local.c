/*
 * test_guest_local.c - the local guest backend with real processes: start,
 * revert (stop + start), a client that exits on its own, back-off, stop,
 * per-client log files.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/util.h"
#include "server/guest_local.h"

struct world {
	uv_loop_t loop;
	char dir[64];
	int reverted, exited, last_status;
	char why[128];
};

static void on_reverted(void *ctx, unsigned index, int status)
{
	struct world *w = ctx;

	assert_int_equal(index, 0);
	w->reverted++;
	w->last_status = status;
}

static void on_exited(void *ctx, unsigned index, const char *why)
{
	struct world *w = ctx;

	assert_int_equal(index, 0);
	w->exited++;
	snprintf(w->why, sizeof(w->why), "%s", why);
}

/* Runs the loop until *COUNTER reaches WANT (or 10 s pass). */
static void run_until(struct world *w, int *counter, int want)
{
	uint64_t end = util_now_mono_ns() + 10000000000ull;

	while (*counter < want && util_now_mono_ns() < end)
		uv_run(&w->loop, UV_RUN_NOWAIT), usleep(5000);
	assert_int_equal(*counter, want);
}

static struct guest_backend *make(struct world *w, const char *script)
{
	static const char *argv[5];
	struct guest_local_params p = {
	    .loop = &w->loop,
	    .count = 1,
	    .vm_server_id = "local",
	    .argv = argv,
	    .log_dir = w->dir,
	    .events = {.reverted = on_reverted, .exited = on_exited, .ctx = w},
	};

	argv[0] = "/bin/sh";
	argv[1] = "-c";
	argv[2] = script;
	argv[3] = "sh";
	argv[4] = NULL;
	return guest_local_new(&p);
}

static void destroy(struct world *w, struct guest_backend *b)
{
	uint64_t end = util_now_mono_ns() + 10000000000ull;

	b->ops->stop(b, 0);
	while (b->ops->busy(b, 0) && util_now_mono_ns() < end)
		uv_run(&w->loop, UV_RUN_NOWAIT), usleep(5000);
	assert_false(b->ops->busy(b, 0));
	b->ops->free(b);
	uv_run(&w->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&w->loop), 0);
}

static void test_start_revert_stop_and_log(void **state)
{
	struct world w = {0};
	struct guest_backend *b;
	char path[128], *text;
	FILE *f;

	(void)state;
	snprintf(w.dir, sizeof(w.dir), "/tmp/capture-gl-XXXXXX");
	assert_non_null(mkdtemp(w.dir));
	assert_int_equal(uv_loop_init(&w.loop), 0);
	/* the client prints its -b argument and waits */
	b = make(&w, "echo \"started as $2\"; exec sleep 30");
	assert_non_null(b);
	assert_string_equal(b->vm_id(b, 0), "guest-1");
	assert_false(b->ops->busy(b, 0));
	assert_int_equal(b->ops->revert(b, 0), 0);
	run_until(&w, &w.reverted, 1);
	assert_int_equal(w.last_status, 0);
	assert_true(b->ops->busy(b, 0));
	/* a revert of a running client: stopped (SIGTERM), then started again */
	assert_int_equal(b->ops->revert(b, 0), 0);
	run_until(&w, &w.reverted, 2);
	assert_int_equal(w.exited, 0); /* asked for: not reported as an exit */
	assert_true(b->ops->busy(b, 0));
	assert_int_equal(b->ops->revert(b, 5), -EINVAL);
	destroy(&w, b);
	snprintf(path, sizeof(path), "%s/client-guest-1.log", w.dir);
	f = fopen(path, "r");
	assert_non_null(f);
	text = calloc(1, 4096);
	assert_true(fread(text, 1, 4095, f) > 0);
	fclose(f);
	if (!strstr(text, "started as guest-1"))
		fail_msg("client log: %s", text);
	free(text);
	unlink(path);
	rmdir(w.dir);
}

static void test_exit_reported_and_backoff(void **state)
{
	struct world w = {0};
	struct guest_backend *b;
	uint64_t t0;
	char path[128];

	(void)state;
	snprintf(w.dir, sizeof(w.dir), "/tmp/capture-gl-XXXXXX");
	assert_non_null(mkdtemp(w.dir));
	assert_int_equal(uv_loop_init(&w.loop), 0);
	b = make(&w, "exit 3");
	assert_int_equal(b->ops->revert(b, 0), 0);
	run_until(&w, &w.exited, 1);
	assert_non_null(strstr(w.why, "status 3"));
	/* it died young: the next start waits for the back-off (1 s) */
	t0 = util_now_mono_ns();
	assert_int_equal(b->ops->revert(b, 0), 0);
	run_until(&w, &w.reverted, 2);
	assert_true(util_now_mono_ns() - t0 >= 900000000ull);
	run_until(&w, &w.exited, 2);
	destroy(&w, b);
	snprintf(path, sizeof(path), "%s/client-guest-1.log", w.dir);
	unlink(path);
	rmdir(w.dir);
}

static void test_bad_params(void **state)
{
	struct guest_local_params p = {0};

	(void)state;
	assert_null(guest_local_new(&p));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_start_revert_stop_and_log),
	    cmocka_unit_test(test_exit_reported_and_backoff),
	    cmocka_unit_test(test_bad_params),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
