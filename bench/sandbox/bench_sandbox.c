/*
 * bench_sandbox.c - how fast a guest is made, used and thrown away.
 *
 *   bench_sandbox CYCLES
 *
 * One cycle = sandbox_create + sandbox_start("/bin/true") + wait for the
 * guest to end + sandbox_revert, timed from the first call to the last
 * return.  CYCLES cycles without network, then CYCLES with a veth to the
 * services namespace (mode services).  Prints "key value" lines for
 * bench/sandbox/run.sh.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "guest/netns.h"
#include "guest/sandbox.h"

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static uint64_t one_cycle(struct sandbox_config *c, unsigned i)
{
	char *const argv[] = {"/bin/true", NULL};
	struct sandbox_error e;
	struct sandbox *sb;
	char name[64];
	uint64_t t0 = util_now_mono_ns();
	int status;

	snprintf(name, sizeof(name), "bench-%d-%u", (int)getpid(), i);
	c->net_index = i % 16000;
	if (sandbox_create(c, name, &sb, &e) < 0)
		fatalx("%s", e.msg);
	if (sandbox_start(sb, argv, &e) < 0)
		fatalx("%s", e.msg);
	if (waitpid(sandbox_init_pid(sb), &status, 0) == sandbox_init_pid(sb))
		sandbox_child_exited(sb, sandbox_init_pid(sb), status);
	if (sandbox_revert(sb, &e) < 0)
		fatalx("%s", e.msg);
	return util_now_mono_ns() - t0;
}

static void series(const char *key, struct sandbox_config *c, unsigned cycles)
{
	uint64_t *t = calloc(cycles, sizeof(*t));

	if (!t)
		fatalx("out of memory");
	one_cycle(c, 0); /* warm the page cache and the dentry cache once */
	for (unsigned i = 0; i < cycles; i++)
		t[i] = one_cycle(c, i + 1);
	qsort(t, cycles, sizeof(*t), cmp_u64);
	printf("%s_p50_ns %llu\n%s_p95_ns %llu\n%s_max_ns %llu\n", key,
	       (unsigned long long)t[cycles / 2], key, (unsigned long long)t[cycles * 95 / 100],
	       key, (unsigned long long)t[cycles - 1]);
	fflush(stdout);
	free(t);
}

int main(int argc, char **argv)
{
	struct net_services_config nc = {.name = "capture-bench", .mode = NET_SERVICES};
	struct sandbox_config c = {.net = NET_NONE};
	struct net_services *s;
	unsigned cycles;
	char err[512];

	log_init("bench_sandbox", LOG_LEVEL_WARN, stderr);
	if (argc != 2 || (cycles = (unsigned)atoi(argv[1])) < 1)
		fatalx("usage: bench_sandbox CYCLES");
	sandbox_cleanup_stale("bench-");
	printf("cycles %u\n", cycles);
	series("none", &c, cycles);
	nc.blocked_ports[0] = 7070;
	if (net_services_open(&nc, &s, err, sizeof(err)) < 0)
		fatalx("%s", err);
	c.net = NET_SERVICES;
	c.services = s;
	series("services", &c, cycles);
	net_services_close(s);
	net_services_destroy("capture-bench", err, sizeof(err));
	return 0;
}
