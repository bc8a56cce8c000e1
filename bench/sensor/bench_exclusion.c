/*
 * bench_exclusion.c - throughput of the exclusion-list filter on one core.
 *
 * Usage: bench_exclusion DIR
 * Loads the lists in DIR (normally etc/exclusion), builds a fixed synthetic
 * mix of 1,000,000 events shaped like a browser visit (mostly Open/Read, some
 * writes under /tmp and the home directory, a few connections and process
 * starts; a few hundred distinct paths of 30-80 bytes), times
 * exclusion_is_excluded() over the whole mix three times and prints the best:
 *
 *   exclusion_filter_events_per_s N
 *   excluded X reported Y
 *
 * The mix is generated from a fixed seed, so runs are comparable.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client/exclusion.h"

#define NEVENTS  1000000
#define NPATHS   320
#define NREPEATS 3

struct event {
	enum exclusion_monitor monitor;
	const char *key;
	const char *subject;
	const char *object;
};

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

/* xorshift64*: fast, and the same sequence on every run. */
static uint64_t rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

static const char *pick(const char *const *v, size_t n)
{
	return v[rng() % n];
}

static const char *const programs[] = {
    "/usr/lib/chromium/chromium",
    "/usr/lib/firefox-esr/firefox-esr",
    "/usr/bin/bash",
    "/usr/bin/python3.11",
    "/usr/lib/systemd/systemd-journald",
    "/usr/bin/dbus-daemon",
    "/usr/libexec/gvfsd",
    "/usr/bin/Xvfb",
};

static const char *const modules[] = {"chromium",    "firefox-esr", "sh",          "bash",
				      "lsb_release", "xdg-open",    "dbus-launch", "cat"};

static const char *const dirs[] = {
    "/tmp/",
    "/tmp/.org.chromium.Chromium.",
    "/home/capture/.cache/chromium/Default/Cache/Cache_Data/",
    "/home/capture/.config/chromium/Default/",
    "/home/capture/.mozilla/firefox/x1y2z3.default-esr/",
    "/usr/lib/x86_64-linux-gnu/",
    "/usr/share/fonts/truetype/dejavu/",
    "/etc/",
    "/proc/self/",
    "/var/tmp/",
};

static const char *const leaves[] = {
    "index",
    "data_0",
    "data_1",
    "f_00001a",
    "Preferences",
    "Cookies-journal",
    "libnss3.so",
    "DejaVuSans.ttf",
    "oom_score_adj",
    "cert9.db",
    "places.sqlite-wal",
    "hosts",
    "resolv.conf",
    "Local State",
    "a.out",
    "session.json",
    "x.desktop",
    "prefs.js",
    "libGL.so.1",
    "tmpfile.XXXX",
};

static const char *const devices[] = {"/dev/null", "/dev/pts/0", "/dev/urandom", "/dev/shm/x"};

static char *paths[NPATHS];
static char *addrs[64];

/* A few hundred distinct paths of 30-80 bytes. */
static void make_paths(void)
{
	size_t i;

	for (i = 0; i < NPATHS; i++) {
		char buf[128];
		int n = snprintf(buf, sizeof(buf), "%s%s.%03zu",
				 pick(dirs, sizeof(dirs) / sizeof(*dirs)),
				 pick(leaves, sizeof(leaves) / sizeof(*leaves)), i);

		while (n < 30)
			buf[n++] = 'x';
		buf[n > 80 ? 80 : n] = '\0';
		paths[i] = strdup(buf);
	}
	/* A couple of persistence writes, which the default lists always report. */
	free(paths[7]);
	paths[7] = strdup("/home/capture/.config/autostart/update-helper.desktop");
	free(paths[11]);
	paths[11] = strdup("/home/capture/.local/bin/update-helper-binary");
	for (i = 0; i < 64; i++) {
		char buf[64];

		snprintf(buf, sizeof(buf), "%u.%u.%u.%u:%u", 10 + (unsigned)(rng() % 200),
			 (unsigned)(rng() % 256), (unsigned)(rng() % 256),
			 1 + (unsigned)(rng() % 254), (unsigned[]){80, 443, 53, 8080}[rng() % 4]);
		addrs[i] = strdup(buf);
	}
}

static void make_event(struct event *e)
{
	unsigned r = (unsigned)(rng() % 100);

	*e = (struct event){EXCL_FILE, NULL, pick(programs, sizeof(programs) / sizeof(*programs)),
			    paths[rng() % NPATHS]};
	if (r < 40) {
		e->key = "Open";
	} else if (r < 60) {
		e->key = "Read";
	} else if (r < 75) {
		e->key = "Write";
		if (rng() % 4 == 0)
			e->object = pick(devices, sizeof(devices) / sizeof(*devices));
	} else if (r < 80) {
		e->key = "Create";
	} else if (r < 85) {
		e->key = "Delete";
	} else if (r < 90) {
		e->key = "Rename";
	} else if (r < 95) {
		e->monitor = EXCL_CONNECTION;
		e->key = "tcp-connection";
		e->object = addrs[rng() % 64];
	} else {
		e->monitor = EXCL_PROCESS;
		e->key = pick(modules, sizeof(modules) / sizeof(*modules));
		e->subject = pick(modules, sizeof(modules) / sizeof(*modules));
		e->object = "/usr/bin/lsb_release";
	}
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t run(struct exclusion_set *set, const struct event *ev, size_t n)
{
	size_t i, excluded = 0;

	for (i = 0; i < n; i++)
		excluded += exclusion_is_excluded(set, ev[i].monitor, ev[i].key, ev[i].subject,
						  ev[i].object);
	return excluded;
}

int main(int argc, char **argv)
{
	struct exclusion_set *set;
	struct event *ev;
	char err[1024];
	double best = 1e30;
	size_t i, excluded = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: %s EXCLUSION_DIR\n", argv[0]);
		return 2;
	}
	set = exclusion_set_new();
	ev = calloc(NEVENTS, sizeof(*ev));
	if (!set || !ev)
		return 1;
	if (exclusion_load_dir(set, argv[1], err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	make_paths();
	for (i = 0; i < NEVENTS; i++)
		make_event(&ev[i]);
	for (i = 0; i < NREPEATS; i++) {
		double t0 = now_s(), t;

		excluded = run(set, ev, NEVENTS);
		t = now_s() - t0;
		if (t < best)
			best = t;
	}
	printf("exclusion_filter_events_per_s %.0f\n", NEVENTS / best);
	printf("excluded %zu reported %zu\n", excluded, (size_t)NEVENTS - excluded);
	for (i = 0; i < NPATHS; i++)
		free(paths[i]);
	for (i = 0; i < 64; i++)
		free(addrs[i]);
	free(ev);
	exclusion_set_free(set);
	return 0;
}
