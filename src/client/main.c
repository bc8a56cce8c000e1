/*
 * main.c - capture-client command line.
 *
 *   capture-client [-l FILE] [--json] [-x DIR] [-t SECONDS] [-b SIZE]
 *                  [--rule-stats] [--system] [-v] -- PROGRAM [ARGS...]
 *   capture-client --system [options]      (whole system until ^C or -t)
 *   capture-client --self-test
 *
 * Exit status: 0 benign, 1 malicious, 2 inconclusive, 3 error.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "client/monitor.h"
#include "client/selftest.h"
#include "common/log.h"
#include "common/util.h"

#ifndef CAPTURE_DATADIR
#define CAPTURE_DATADIR "/usr/share/capture"
#endif
#define DEFAULT_EXCLUSION_DIR CAPTURE_DATADIR "/etc/exclusion"

struct client_opts {
	struct monitor_opts mon;
	bool self_test;
	int verbose;
};

static void usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: capture-client [options] -- PROGRAM [ARGS...]\n"
	    "       capture-client --system [options] [-- PROGRAM [ARGS...]]\n"
	    "       capture-client --self-test\n"
	    "\n"
	    "Runs PROGRAM in a new cgroup, watches its whole process tree with the kernel\n"
	    "sensor and reports every state change the exclusion lists do not exclude.\n"
	    "\n"
	    "  -l, --log FILE          write events to FILE instead of standard output\n"
	    "      --json              JSON Lines instead of the original 7-column CSV\n"
	    "  -x, --exclusions DIR    exclusion lists directory (default %s;\n"
	    "                          -x none reports everything)\n"
	    "  -t, --timeout SECONDS   kill the process tree after SECONDS\n"
	    "  -b, --ringbuf-size SIZE kernel ring buffer, power of two (e.g. 4K, 64M; default "
	    "64M)\n"
	    "      --rule-stats        print each exclusion rule with its hit count at the end\n"
	    "      --system            watch every process but capture-client itself (the\n"
	    "                          original Capture-BAT); without PROGRAM, until ^C or -t\n"
	    "  -v, --verbose           more log output (twice: debug, with the BPF verifier log)\n"
	    "      --self-test         check the kernel features the sensor needs and exit\n"
	    "\n"
	    "Sandbox guest (a fresh, disposable system for the program, reverted afterwards):\n"
	    "      --sandbox           run PROGRAM in a sandbox guest instead of on the host\n"
	    "      --network MODE      none (loopback only, default), services (veth to the\n"
	    "                          services namespace with its DNS stub), nat (services\n"
	    "                          plus masquerading out of the host's uplink)\n"
	    "      --root DIR          lower layer of the guest (default /: the host's system)\n"
	    "      --collect DIR       write DIR/<guest>.zip: modified and deleted files, pcap,\n"
	    "                          manifest.json\n"
	    "      --tmpfs-size SIZE   how much the guest may write (default 512M)\n"
	    "      --memory SIZE       memory limit of the guest\n"
	    "      --pids N            process limit of the guest\n"
	    "      --userns            run the program in a user namespace\n"
	    "      --guest-user NAME   the guest user (default capture, home /home/NAME)\n"
	    "      --guest-uid N       its uid and gid (default 4242; never 0)\n"
	    "      --services NAME     services network namespace (default capture-services)\n"
	    "      --server-port PORT  port no guest may reach (default 7070)\n"
	    "  -h, --help              this text\n"
	    "\n"
	    "Exit status: 0 benign, 1 malicious, 2 inconclusive (events were lost), 3 error.\n",
	    DEFAULT_EXCLUSION_DIR);
}

/* long options without a short form */
enum long_option {
	OPT_JSON = 256,
	OPT_RULE_STATS,
	OPT_SELF_TEST,
	OPT_SYSTEM,
	OPT_SANDBOX,
	OPT_NETWORK,
	OPT_ROOT,
	OPT_COLLECT,
	OPT_TMPFS,
	OPT_MEMORY,
	OPT_PIDS,
	OPT_USERNS,
	OPT_SERVICES,
	OPT_SERVER_PORT,
	OPT_GUEST_USER,
	OPT_GUEST_UID
};

/* The valued sandbox options: one message per bad value, naming the option. */
static int parse_sandbox_value(int c, const char *arg, struct sandbox_visit_opts *v)
{
	uint64_t n;
	int mode;

	switch (c) {
	case OPT_NETWORK:
		mode = net_mode_from_name(arg);
		if (mode < 0) {
			log_warnx("--network %s: expected none, services or nat", arg);
			return -1;
		}
		v->net = (enum net_mode)mode;
		return 0;
	case OPT_TMPFS:
	case OPT_MEMORY:
		if (util_parse_size(arg, &n) < 0 || n < 65536) {
			log_warnx("--%s %s: expected a size of at least 64K (e.g. 512M)",
				  c == OPT_TMPFS ? "tmpfs-size" : "memory", arg);
			return -1;
		}
		*(c == OPT_TMPFS ? &v->tmpfs_bytes : &v->memory_bytes) = n;
		return 0;
	case OPT_PIDS:
		if (util_parse_u64(arg, 1, 1000000, &n) < 0) {
			log_warnx("--pids %s: expected a number between 1 and 1000000", arg);
			return -1;
		}
		v->pids_max = (unsigned)n;
		return 0;
	case OPT_GUEST_UID:
		if (util_parse_u64(arg, 1, 4294967294u, &n) < 0) {
			log_warnx("--guest-uid %s: expected a uid other than 0 (root)", arg);
			return -1;
		}
		v->uid = (uid_t)n;
		return 0;
	default: /* OPT_SERVER_PORT */
		if (util_parse_u64(arg, 1, 65535, &n) < 0) {
			log_warnx("--server-port %s: expected a port between 1 and 65535", arg);
			return -1;
		}
		v->server_port = (uint16_t)n;
		return 0;
	}
}

static int parse_args(int argc, char **argv, struct client_opts *o)
{
	static const struct option longopts[] = {
	    {"log", required_argument, NULL, 'l'},
	    {"json", no_argument, NULL, OPT_JSON},
	    {"exclusions", required_argument, NULL, 'x'},
	    {"timeout", required_argument, NULL, 't'},
	    {"ringbuf-size", required_argument, NULL, 'b'},
	    {"rule-stats", no_argument, NULL, OPT_RULE_STATS},
	    {"verbose", no_argument, NULL, 'v'},
	    {"self-test", no_argument, NULL, OPT_SELF_TEST},
	    {"system", no_argument, NULL, OPT_SYSTEM},
	    {"sandbox", no_argument, NULL, OPT_SANDBOX},
	    {"network", required_argument, NULL, OPT_NETWORK},
	    {"root", required_argument, NULL, OPT_ROOT},
	    {"collect", required_argument, NULL, OPT_COLLECT},
	    {"tmpfs-size", required_argument, NULL, OPT_TMPFS},
	    {"memory", required_argument, NULL, OPT_MEMORY},
	    {"pids", required_argument, NULL, OPT_PIDS},
	    {"userns", no_argument, NULL, OPT_USERNS},
	    {"services", required_argument, NULL, OPT_SERVICES},
	    {"server-port", required_argument, NULL, OPT_SERVER_PORT},
	    {"guest-user", required_argument, NULL, OPT_GUEST_USER},
	    {"guest-uid", required_argument, NULL, OPT_GUEST_UID},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	uint64_t v;
	int c;

	o->mon.excl_dir = DEFAULT_EXCLUSION_DIR;
	while ((c = getopt_long(argc, argv, "+l:x:t:b:vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'l': o->mon.log_path = optarg; break;
		case OPT_JSON: o->mon.json = true; break;
		case 'x': o->mon.excl_dir = strcmp(optarg, "none") == 0 ? NULL : optarg; break;
		case 't':
			if (util_parse_u64(optarg, 1, 7ull * 24 * 3600, &v) < 0) {
				log_warnx("-t %s: expected seconds between 1 and 604800", optarg);
				return -1;
			}
			o->mon.timeout_s = (unsigned)v;
			break;
		case 'b':
			if (util_parse_size(optarg, &v) < 0) {
				log_warnx("-b %s: expected a size such as 4096, 64K or 32M",
					  optarg);
				return -1;
			}
			o->mon.ringbuf_bytes = v;
			break;
		case OPT_RULE_STATS: o->mon.rule_stats = true; break;
		case 'v': o->verbose++; break;
		case OPT_SELF_TEST: o->self_test = true; break;
		case OPT_SYSTEM: o->mon.system_scope = true; break;
		case OPT_SANDBOX: o->mon.sandbox = true; break;
		case OPT_USERNS: o->mon.visit.userns = true; break;
		case OPT_ROOT: o->mon.visit.root = optarg; break;
		case OPT_COLLECT: o->mon.visit.collect_dir = optarg; break;
		case OPT_SERVICES: o->mon.visit.services_name = optarg; break;
		case OPT_GUEST_USER: o->mon.visit.user = optarg; break;
		case 'h': usage(stdout); exit(0);
		case OPT_NETWORK:
		case OPT_TMPFS:
		case OPT_MEMORY:
		case OPT_PIDS:
		case OPT_SERVER_PORT:
		case OPT_GUEST_UID:
			if (parse_sandbox_value(c, optarg, &o->mon.visit) < 0)
				return -1;
			break;
		default: usage(stderr); return -1;
		}
	}
	if (!o->self_test && !o->mon.system_scope && optind >= argc) {
		log_warnx("no PROGRAM given (put it after --)");
		usage(stderr);
		return -1;
	}
	o->mon.argv = argv + optind;
	return 0;
}

int main(int argc, char **argv)
{
	struct client_opts o = {0};
	struct stat st;

	log_init("capture-client", LOG_LEVEL_WARN, stderr);
	if (parse_args(argc, argv, &o) < 0)
		return MONITOR_EXIT_ERROR;
	log_set_level(o.verbose >= 2 ? LOG_LEVEL_DEBUG
		      : o.verbose    ? LOG_LEVEL_INFO
				     : LOG_LEVEL_WARN);
	if (o.self_test)
		return selftest_run(stdout);
	if (o.mon.excl_dir && stat(o.mon.excl_dir, &st) < 0) {
		log_warn("exclusion lists directory %s", o.mon.excl_dir);
		return MONITOR_EXIT_ERROR;
	}
	return monitor_run(&o.mon);
}
