/*
 * test_learn.c - learn mode's pure part (learn.c): generalisation of each
 * kind of random part, merging, coverage counts, the always-reported
 * categories never getting a rule, and proposed rules that compile, match
 * the events they were made from and load back as lists.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/classify.h"
#include "client/exclusion.h"
#include "client/learn.h"

static char err[1024];

static int setup(void **state)
{
	*state = learn_new();
	return *state ? 0 : -1;
}

static int teardown(void **state)
{
	learn_free(*state);
	return 0;
}

/* ---- helpers ---- */

static struct capture_event event(enum event_type t, const char *action, const char *process,
				  const char *o1, const char *o2)
{
	struct capture_event ev = {.type = t,
				   .action = action,
				   .process = process,
				   .object1 = o1,
				   .object2 = o2 ? o2 : "-1"};

	return ev;
}

static void add(struct learn *l, enum event_type t, const char *action, const char *process,
		const char *o1, const char *o2)
{
	struct capture_event ev = event(t, action, process, o1, o2);

	assert_int_equal(learn_add_event(l, &ev), 0);
}

static void add_file(struct learn *l, const char *action, const char *path)
{
	add(l, EVENT_FILE, action, "/usr/bin/app", path, NULL);
}

static void expect_gen(struct learn *l, enum event_type t, const char *action, const char *in,
		       const char *want)
{
	char out[1024];

	assert_int_equal(learn_generalize(l, t, action, in, out, sizeof(out)), 0);
	if (strcmp(out, want) != 0)
		fail_msg("%s: got %s, want %s", in, out, want);
}

static void expect_path(struct learn *l, const char *in, const char *want)
{
	expect_gen(l, EVENT_FILE, "Write", in, want);
}

static void propose(struct learn *l, const struct exclusion_set *base, struct learn_result *r)
{
	if (learn_propose(l, base, r, err, sizeof(err)) < 0)
		fail_msg("learn_propose: %s", err);
}

/* The rule with this key and object, or NULL. */
static const struct learn_rule *find_rule(const struct learn_result *r, const char *key,
					  const char *object)
{
	for (size_t i = 0; i < r->n_rules; i++)
		if (strcmp(r->rules[i].key, key) == 0 && strcmp(r->rules[i].object, object) == 0)
			return &r->rules[i];
	return NULL;
}

static const struct learn_rule *expect_rule(const struct learn_result *r, const char *key,
					    const char *object)
{
	const struct learn_rule *x = find_rule(r, key, object);

	if (!x) {
		for (size_t i = 0; i < r->n_rules; i++)
			fprintf(stderr, "  rule: %s %s %s\n", r->rules[i].key, r->rules[i].subject,
				r->rules[i].object);
		fail_msg("no rule %s %s", key, object);
	}
	return x;
}

static const struct learn_left *find_left(const struct learn_result *r, const char *object1)
{
	for (size_t i = 0; i < r->n_left; i++)
		if (strcmp(r->left[i].object1, object1) == 0)
			return &r->left[i];
	return NULL;
}

/* The rules of R loaded as lists (the written output, section by section). */
static struct exclusion_set *load_output(const struct learn_result *r)
{
	struct exclusion_set *set = exclusion_set_new();

	assert_non_null(set);
	for (int m = 0; m < EXCL_REGISTRY; m++) {
		char *buf = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&buf, &len);

		assert_non_null(f);
		learn_write(f, r, "test header\nsecond line", m);
		assert_int_equal(fclose(f), 0);
		if (exclusion_load_buffer(set, (enum exclusion_monitor)m, "learnt", buf, len, err,
					  sizeof(err)) < 0)
			fail_msg("written list does not load: %s\n%s", err, buf);
		free(buf);
	}
	return set;
}

/* ---- generalisation of each kind of random part ---- */

static void test_generalize_ids(void **state)
{
	struct learn *l = *state;

	/* per-visit profile and download names (apps.c: 16 hex digits, even all decimal) */
	expect_path(l, "/tmp/capture-profile-000000005182b73c/Default/Cookies",
		    "/tmp/capture-profile-[0-9a-f]{16}/Default/Cookies");
	expect_path(l, "/tmp/capture-download-0000000051823731",
		    "/tmp/capture-download-[0-9a-f]{16}");
	/* hex hashes and ids with both digits and letters */
	expect_path(l, "/home/u/.cache/fontconfig/d589a48862398ed80a3d6066f4f56f4c-le64.cache-8",
		    "/home/u/\\.cache/fontconfig/[0-9a-f]{32}-le64\\.cache-8");
	expect_path(l, "/p/Cache_Data/todelete_fc9793c8bd8636c7_0_1",
		    "/p/Cache_Data/todelete_[0-9a-f]{16}_0_1");
	/* UUIDs, either case */
	expect_path(
	    l, "/p/blob_storage/0f8fad5b-d9cb-469f-a165-70867728950E/1",
	    "/p/blob_storage/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/1");
	/* a hex-looking word without digits is a word */
	expect_path(l, "/p/deadbeefcafe", "/p/deadbeefcafe");
}

static void test_generalize_numbers(void **state)
{
	struct learn *l = *state;

	/* numeric ids and timestamps */
	expect_path(l, "/p/Default/shared_proto_db/MANIFEST-000001",
		    "/p/Default/shared_proto_db/MANIFEST-[0-9]+");
	expect_path(l, "/p/Sessions/Session_13412345678901234", "/p/Sessions/Session_[0-9]+");
	/* pids and tids in /proc paths, however short */
	expect_path(l, "/proc/83/oom_score_adj", "/proc/[0-9]+/oom_score_adj");
	expect_path(l, "/proc/7/task/9/comm", "/proc/[0-9]+/task/[0-9]+/comm");
	expect_path(l, "/proc/7", "/proc/[0-9]+");
	/* short numbers elsewhere are versions and names: literal */
	expect_path(l, "/usr/lib/x86_64-linux-gnu/libc.so.6",
		    "/usr/lib/x86_64-linux-gnu/libc\\.so\\.6");
	expect_path(l, "/proc/sys/vm/overcommit_memory", "/proc/sys/vm/overcommit_memory");
}

static void test_generalize_random_suffixes(void **state)
{
	struct learn *l = *state;

	expect_path(l, "/tmp/.org.chromium.Chromium.AbC123",
		    "/tmp/\\.org\\.chromium\\.Chromium\\.[A-Za-z0-9]{6}");
	expect_path(l, "/tmp/org.chromium.Chromium.96ZkQD/SingletonCookie",
		    "/tmp/org\\.chromium\\.Chromium\\.[A-Za-z0-9]{6}/SingletonCookie");
	/* no digit, but a case pattern no word has */
	expect_path(l, "/h/.cache/fontconfig/CACHEDIR.TAG.TMP-aCvgYQ",
		    "/h/\\.cache/fontconfig/CACHEDIR\\.TAG\\.TMP-[A-Za-z0-9]{6}");
	/* words stay words: a capitalised suffix is generalised only when it varies */
	expect_path(l, "/p/.org.chromium.Chromium.Local State.Bejkfb",
		    "/p/\\.org\\.chromium\\.Chromium\\.Local State\\.Bejkfb");
	expect_path(l, "/p/Default/SingletonCookie", "/p/Default/SingletonCookie");
	expect_path(l, "/p/GPUCache/index", "/p/GPUCache/index");
	/* a random-looking word that does not end a file name is not a suffix */
	expect_path(l, "/p/D7SUUCI24GPNIWI4TBSONDRU5YULWTFI/cache.journal",
		    "/p/D7SUUCI24GPNIWI4TBSONDRU5YULWTFI/cache\\.journal");
}

static void test_generalize_ports_and_escapes(void **state)
{
	struct learn *l = *state;

	/* ephemeral ports become classes, service ports and addresses never */
	expect_gen(l, EVENT_CONNECTION, "udp-listening", "0.0.0.0:56108", "0\\.0\\.0\\.0:[0-9]+");
	expect_gen(l, EVENT_CONNECTION, "tcp-connection", "10.201.255.1:80",
		   "10\\.201\\.255\\.1:80");
	expect_gen(l, EVENT_CONNECTION, "tcp-connection", "10.201.255.1:45000",
		   "10\\.201\\.255\\.1:[0-9]+");
	expect_gen(l, EVENT_CONNECTION, "udp-connection", "[2001:db8::1]:443",
		   "\\[2001:db8::1\\]:443");
	/* unix sockets are paths */
	expect_gen(l, EVENT_CONNECTION, "unix-connection", "/tmp/org.chromium.Chromium.x1Y2z3/s",
		   "/tmp/org\\.chromium\\.Chromium\\.[A-Za-z0-9]{6}/s");
	/* subjects (action NULL) are paths */
	expect_gen(l, EVENT_FILE, NULL, "/usr/lib/chromium/chromium", "/usr/lib/chromium/chromium");
	/* metacharacters are escaped, control and non-ASCII bytes are \xNN */
	expect_path(l, "/p/a+b (1)[x]{y}|z^$?*.txt",
		    "/p/a\\+b \\(1\\)\\[x\\]\\{y\\}\\|z\\^\\$\\?\\*\\.txt");
	expect_path(l, "/p/tab\there\xc3\xa9\\", "/p/tab\\x09here\\xc3\\xa9\\\\");
}

/* ---- merging and coverage ---- */

static void test_merge_varying_words(void **state)
{
	struct learn *l = *state;
	struct learn_result r;
	static const char *const suffix[] = {"Bejkfb", "y3CDv5", "WAHnbn"};

	for (int run = 0; run < 3; run++) {
		char from[256];

		assert_int_equal(learn_begin_run(l), 0);
		snprintf(from, sizeof(from), "/p/.org.chromium.Chromium.Local State.%s",
			 suffix[run]);
		add(l, EVENT_FILE, "Rename", "/usr/bin/app", from, "/p/Local State");
		for (int i = 0; i < 4; i++) { /* data_0 .. data_3: small numbers that vary */
			char path[64];

			snprintf(path, sizeof(path), "/p/GPUCache/data_%d", i);
			add_file(l, "Write", path);
		}
		/* same-length natural words in one directory stay apart */
		add_file(l, "Write", "/p/Default/Cookies");
		add_file(l, "Write", "/p/Default/History");
		/* a listening port below 32768 that changes: generalised */
		add(l, EVENT_CONNECTION, "udp-listening", "/usr/bin/app",
		    run == 0   ? "0.0.0.0:2010"
		    : run == 1 ? "0.0.0.0:27499"
			       : "0.0.0.0:5334",
		    NULL);
	}
	propose(l, NULL, &r);
	expect_rule(&r, "Rename", "/p/\\.org\\.chromium\\.Chromium\\.Local State\\.[A-Za-z0-9]{6}");
	expect_rule(&r, "Rename", "/p/Local State");
	assert_int_equal(expect_rule(&r, "Write", "/p/GPUCache/data_[0-9]+")->events, 12);
	expect_rule(&r, "Write", "/p/Default/Cookies");
	expect_rule(&r, "Write", "/p/Default/History");
	assert_null(find_rule(&r, "Write", "/p/Default/[A-Za-z0-9]{7}"));
	assert_int_equal(expect_rule(&r, "udp-listening", "0\\.0\\.0\\.0:[0-9]+")->runs, 3);
	assert_int_equal(r.n_rules, 6);
	assert_int_equal(r.events_left, 0);
	learn_result_free(&r);
}

static void test_coverage_and_order(void **state)
{
	struct learn *l = *state;
	struct learn_result r;
	const struct learn_rule *a, *b, *c;

	for (int run = 0; run < 3; run++) {
		char path[64];

		assert_int_equal(learn_begin_run(l), 0);
		add_file(l, "Write", "/p/once"); /* 3 runs, 2 events each */
		add_file(l, "Write", "/p/once");
		if (run > 0) /* 2 runs, 1 event each, different pids: one rule */
		{
			snprintf(path, sizeof(path), "/proc/%d/clear_refs", 10 + run);
			add_file(l, "Write", path);
		}
		if (run == 2)
			add(l, EVENT_SYSTEM, "capset", "/usr/bin/app", "-1", NULL);
	}
	assert_int_equal(learn_add_event(l, &(struct capture_event){.type = EVENT_FILE}), -1);
	propose(l, NULL, &r);
	assert_int_equal(r.runs, 3);
	assert_int_equal(r.events, 9);
	a = expect_rule(&r, "Write", "/p/once");
	b = expect_rule(&r, "Write", "/proc/[0-9]+/clear_refs");
	c = expect_rule(&r, "capset", "-1");
	assert_int_equal(a->runs, 3);
	assert_int_equal(a->events, 6);
	assert_int_equal(b->runs, 2);
	assert_int_equal(b->events, 2);
	assert_int_equal(c->runs, 1);
	assert_int_equal(c->monitor, EXCL_SYSTEM);
	assert_string_equal(a->subject, "/usr/bin/app");
	/* sorted by coverage: runs, then events */
	assert_ptr_equal(a, &r.rules[0]);
	assert_ptr_equal(b, &r.rules[1]);
	assert_ptr_equal(c, &r.rules[2]);
	learn_result_free(&r);
}

static void test_process_rules(void **state)
{
	struct learn *l = *state;
	struct learn_result r;
	const struct learn_rule *x;

	assert_int_equal(learn_begin_run(l), 0);
	add(l, EVENT_PROCESS, "created", "/usr/lib/chromium/chromium", "123",
	    "/usr/lib/chromium/chrome_crashpad_handler");
	add(l, EVENT_PROCESS, "terminated", "/usr/lib/chromium/chromium", "123",
	    "/usr/lib/chromium/chrome_crashpad_handler");
	/* a key with regex characters cannot be written: left, with the loader's reason */
	add(l, EVENT_PROCESS, "created", "/usr/bin/app", "124", "/opt/a+b");
	propose(l, NULL, &r);
	x = expect_rule(&r, "chrome_crashpad_handler", "/usr/lib/chromium/chrome_crashpad_handler");
	assert_int_equal(x->monitor, EXCL_PROCESS);
	assert_string_equal(x->subject, "chromium"); /* the parent's module name */
	assert_int_equal(x->events, 2);
	assert_non_null(find_left(&r, "124"));
	assert_non_null(strstr(find_left(&r, "124")->why, "contains '+'"));
	assert_int_equal(r.events_left, 1);
	learn_result_free(&r);
}

/* ---- the always-reported categories ---- */

static void test_always_reported_categories(void **state)
{
	struct learn *l = *state;
	static const struct {
		const char *action, *path, *o2, *category;
	} cases[] = {
	    {"Create", "/home/capture/.config/autostart/u.desktop", NULL, "autostart"},
	    {"Write", "/etc/xdg/autostart/u.desktop", NULL, "autostart"},
	    {"Create", "/var/spool/cron/crontabs/capture", NULL, "cron"},
	    {"Write", "/etc/cron.d/job", NULL, "cron"},
	    {"Write", "/home/capture/.bashrc", NULL, "shell start-up file"},
	    {"Write", "/home/capture/.profile", NULL, "shell start-up file"},
	    {"Create", "/home/capture/.zshrc", NULL, "shell start-up file"},
	    {"Create", "/home/capture/.config/systemd/user/x.service", NULL, "systemd unit"},
	    {"Symlink", "/etc/systemd/system/multi-user.target.wants/x.service", "/x",
	     "systemd unit"},
	    {"Create", "/home/capture/.local/bin/update", NULL, "~/.local/bin"},
	    {"Mkdir", "/home/capture/Downloads", NULL, "~/Downloads"},
	    {"Create", "/home/capture/Downloads/Unconfirmed 1.crdownload", NULL, "~/Downloads"},
	    {"Write", "/etc/ld.so.preload", NULL, "ld.so.preload"},
	    {"Write", "/home/capture/.ssh/authorized_keys", NULL, "ssh keys (authorized_keys)"},
	    {"Attribute", "/tmp/implant", "chmod 0755", "made executable"},
	    {"Attribute", "/tmp/implant", "chmod 4700", "made executable"},
	    {"Rename", "/tmp/x.desktop", "/home/capture/.config/autostart/x.desktop", "autostart"},
	};
	struct capture_event ev;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *got;

		ev = event(EVENT_FILE, cases[i].action, "/bin/sh", cases[i].path, cases[i].o2);
		got = learn_always_reported(l, &ev, false);
		if (!got || strcmp(got, cases[i].category) != 0)
			fail_msg("%s %s: got %s, want %s", cases[i].action, cases[i].path,
				 got ? got : "(none)", cases[i].category);
	}
	/* reading is not a change; x on a directory is search permission; 0644 is not x */
	ev = event(EVENT_FILE, "Open", "/bin/bash", "/home/capture/.bashrc", NULL);
	assert_null(learn_always_reported(l, &ev, false));
	ev = event(EVENT_FILE, "Attribute", "/bin/sh", "/home/capture/.cache", "chmod 0755");
	assert_null(learn_always_reported(l, &ev, true));
	ev = event(EVENT_FILE, "Attribute", "/bin/sh", "/tmp/f", "chmod 0644");
	assert_null(learn_always_reported(l, &ev, false));
	/* a file the kernel saw created executable (EVENT_F_EXECUTABLE), anywhere */
	ev = event(EVENT_FILE, "Create", "/usr/bin/curl", "/tmp/cache/x", NULL);
	assert_null(learn_always_reported(l, &ev, false));
	ev.flags = EVENT_F_EXECUTABLE;
	assert_string_equal(learn_always_reported(l, &ev, false), "made executable");
	/* a program started from a drop location */
	ev = event(EVENT_PROCESS, "created", "/bin/sh", "9", "/home/capture/.local/bin/update");
	assert_string_equal(learn_always_reported(l, &ev, false), "~/.local/bin");
}

static void test_never_a_rule_for_always_reported(void **state)
{
	struct learn *l = *state;
	struct learn_result r;
	struct exclusion_set *set;
	struct capture_event ev;

	for (int run = 0; run < 2; run++) {
		assert_int_equal(learn_begin_run(l), 0);
		add_file(l, "Create", "/home/capture/.config/autostart/u.desktop");
		add_file(l, "Write", "/home/capture/.bashrc");
		add_file(l, "Create", "/home/capture/.local/bin/update");
		add(l, EVENT_FILE, "Rename", "/usr/bin/app", "/tmp/x", "/home/capture/.profile");
		/* a file made executable, and a directory made by Mkdir in this run */
		add(l, EVENT_FILE, "Attribute", "/usr/bin/app", "/tmp/implant", "chmod 0755");
		add_file(l, "Mkdir", "/home/capture/.cache");
		add(l, EVENT_FILE, "Attribute", "/usr/bin/app", "/home/capture/.cache",
		    "chmod 0755");
		/* a chmod without x would, as a rule, also hide a later chmod +x */
		add(l, EVENT_FILE, "Attribute", "/usr/bin/app", "/tmp/plain", "chmod 0644");
		add_file(l, "Write", "/tmp/noise");
	}
	propose(l, NULL, &r);
	for (size_t i = 0; i < r.n_rules; i++) {
		assert_null(strstr(r.rules[i].object, "autostart"));
		assert_null(strstr(r.rules[i].object, "bashrc"));
		assert_null(strstr(r.rules[i].object, "local/bin"));
		assert_null(strstr(r.rules[i].object, "profile"));
		assert_null(strstr(r.rules[i].object, "implant"));
		assert_null(strstr(r.rules[i].object, "plain"));
		assert_null(strstr(r.rules[i].object, "/tmp/x"));
	}
	expect_rule(&r, "Attribute", "/home/capture/\\.cache");
	expect_rule(&r, "Write", "/tmp/noise");
	assert_true(find_left(&r, "/home/capture/.config/autostart/u.desktop")->always);
	assert_string_equal(find_left(&r, "/tmp/x")->why, "shell start-up file");
	assert_string_equal(find_left(&r, "/tmp/implant")->why, "made executable");
	assert_false(find_left(&r, "/tmp/plain")->always);
	assert_non_null(strstr(find_left(&r, "/tmp/plain")->why, "chmod +x"));
	assert_true(r.left[0].always); /* listed first */
	/* loaded as lists, the rules still report every always-reported event */
	set = load_output(&r);
	ev = event(EVENT_FILE, "Create", "/usr/bin/app",
		   "/home/capture/.config/autostart/u.desktop", NULL);
	assert_true(classify_is_reported(set, &ev));
	ev = event(EVENT_FILE, "Rename", "/usr/bin/app", "/tmp/x", "/home/capture/.profile");
	assert_true(classify_is_reported(set, &ev));
	exclusion_set_free(set);
	learn_result_free(&r);
}

/* A rule generalised so far that it would reach a persistence location is dropped. */
static void test_rule_reaching_a_guarded_place_is_dropped(void **state)
{
	struct learn *l = *state;
	struct learn_result r;

	assert_int_equal(learn_begin_run(l), 0);
	/* two random 7-character directories: [A-Za-z0-9]{7} would also match "systemd" */
	add_file(l, "Create", "/home/capture/.config/Ab12cd3/user/x.service");
	add_file(l, "Create", "/home/capture/.config/Zq98xw1/user/x.service");
	/* an Attribute rule from a utimes would hide a chmod +x of the same file */
	add(l, EVENT_FILE, "Attribute", "/usr/bin/app", "/tmp/tool", "utimes");
	add(l, EVENT_FILE, "Attribute", "/usr/bin/app", "/tmp/tool", "chmod 0700");
	propose(l, NULL, &r);
	assert_int_equal(r.n_rules, 0);
	assert_non_null(strstr(find_left(&r, "/home/capture/.config/Ab12cd3/user/x.service")->why,
			       "/home/capture/.config/systemd/user/x.service"));
	assert_non_null(strstr(find_left(&r, "/tmp/tool")->why, "made executable"));
	assert_int_equal(r.events_left, 4);
	learn_result_free(&r);
}

/* ---- verification against the lists in force ---- */

static void test_rules_compile_and_match_their_events(void **state)
{
	struct learn *l = *state;
	struct learn_result r;
	struct exclusion_set *set, *one;
	static const char *const paths[] = {
	    "/tmp/capture-profile-000000005182b73c/Default/Cookies",
	    "/tmp/.org.chromium.Chromium.jjx1aY",
	    "/proc/83/oom_score_adj",
	    "/p/blob_storage/0f8fad5b-d9cb-469f-a165-70867728950e",
	    "/p/Session_13412345678901234",
	    "/p/a+b (1)[x].txt",
	};
	struct capture_event ev;

	assert_int_equal(learn_begin_run(l), 0);
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		add_file(l, "Write", paths[i]);
	add(l, EVENT_CONNECTION, "udp-listening", "/usr/bin/app", "0.0.0.0:56108", NULL);
	propose(l, NULL, &r);
	assert_int_equal(r.n_rules, sizeof(paths) / sizeof(paths[0]) + 1);
	/* each rule alone compiles and excludes its event (and only where it was made) */
	for (size_t i = 0; i < r.n_rules; i++) {
		one = exclusion_set_new();
		assert_int_equal(exclusion_add_rule(one, r.rules[i].monitor, "+", r.rules[i].key,
						    r.rules[i].subject, r.rules[i].object, "t", 0,
						    err, sizeof(err)),
				 0);
		ev = event(EVENT_FILE, "Write", "/usr/bin/other", paths[0], NULL);
		assert_true(classify_is_reported(one, &ev)); /* another program: reported */
		exclusion_set_free(one);
	}
	/* all together, loaded from the written lists: every event excluded */
	set = load_output(&r);
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		ev = event(EVENT_FILE, "Write", "/usr/bin/app", paths[i], NULL);
		assert_false(classify_is_reported(set, &ev));
	}
	/* the next visit's random names too */
	ev = event(EVENT_FILE, "Write", "/usr/bin/app",
		   "/tmp/capture-profile-00000000deadbeef/Default/Cookies", NULL);
	assert_false(classify_is_reported(set, &ev));
	ev = event(EVENT_FILE, "Write", "/usr/bin/app", "/proc/9/oom_score_adj", NULL);
	assert_false(classify_is_reported(set, &ev));
	ev = event(EVENT_FILE, "Write", "/usr/bin/app", "/proc/9/mem", NULL);
	assert_true(classify_is_reported(set, &ev));
	exclusion_set_free(set);
	learn_result_free(&r);
}

static void test_minus_rule_of_the_lists_wins(void **state)
{
	struct learn *l = *state;
	struct exclusion_set *base = exclusion_set_new();
	struct learn_result r;
	static const char list[] = "-\tWrite\t.*\t/tmp/keep.*\n+\tOpen\t.*\t.*\n";

	assert_non_null(base);
	assert_int_equal(
	    exclusion_load_buffer(base, EXCL_FILE, "base", list, strlen(list), err, sizeof(err)),
	    0);
	assert_int_equal(learn_begin_run(l), 0);
	add_file(l, "Write", "/tmp/keep1");
	add_file(l, "Write", "/tmp/other");
	propose(l, base, &r);
	assert_int_equal(r.n_rules, 1);
	expect_rule(&r, "Write", "/tmp/other");
	assert_non_null(strstr(find_left(&r, "/tmp/keep1")->why, "'-' rule"));
	assert_int_equal(r.events_left, 1);
	learn_result_free(&r);
	exclusion_set_free(base);
}

static void test_output_format(void **state)
{
	struct learn *l = *state;
	struct learn_result r;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	assert_int_equal(learn_begin_run(l), 0);
	assert_int_equal(learn_begin_run(l), 0);
	add_file(l, "Write", "/tmp/noise");
	add_file(l, "Write", "/tmp/noise");
	add_file(l, "Create", "/home/capture/.bashrc");
	propose(l, NULL, &r);
	f = open_memstream(&buf, &len);
	assert_non_null(f);
	learn_write(f, &r, "head", -1);
	assert_int_equal(fclose(f), 0);
	assert_non_null(strstr(buf, "# head\n"));
	assert_non_null(strstr(buf, "# ==== file.exl ====\n# seen in 1/2 runs, 2 events\n"
				    "+\tWrite\t/usr/bin/app\t/tmp/noise\n"));
	assert_non_null(strstr(buf, "# ==== process.exl ====\n# (no rules)\n"));
	assert_non_null(strstr(buf, "# ==== connection.exl ===="));
	assert_non_null(strstr(buf, "# ==== system.exl ===="));
	assert_non_null(strstr(buf, "# shell start-up file: file\tCreate\t/usr/bin/app\t"
				    "/home/capture/.bashrc\t-1 (1/2 runs, 1 events)\n"));
	free(buf);
	learn_result_free(&r);
}

static void test_nothing_learnt(void **state)
{
	struct learn *l = *state;
	struct learn_result r;
	struct capture_event ev = event(EVENT_FILE, "Write", "/a", "/b", NULL);

	assert_int_equal(learn_add_event(l, &ev), -1); /* no run begun */
	propose(l, NULL, &r);
	assert_int_equal(r.n_rules, 0);
	assert_int_equal(r.n_left, 0);
	assert_int_equal(r.runs, 0);
	learn_result_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_generalize_ids, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_generalize_numbers, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_generalize_random_suffixes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_generalize_ports_and_escapes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_merge_varying_words, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_coverage_and_order, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_process_rules, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_always_reported_categories, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_never_a_rule_for_always_reported, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rule_reaching_a_guarded_place_is_dropped, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_rules_compile_and_match_their_events, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_minus_rule_of_the_lists_wins, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_output_format, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_nothing_learnt, setup, teardown),
	};

	if (getenv("CAPTURE_TEST_FILTER")) /* run one test: CAPTURE_TEST_FILTER=test_name */
		cmocka_set_test_filter(getenv("CAPTURE_TEST_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
