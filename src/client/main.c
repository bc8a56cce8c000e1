/*
 * main.c - capture-client command line.
 *
 *   capture-client [-l FILE] [--json] [-x DIR] [-t SECONDS] [--ringbuf-size SIZE]
 *                  [--rule-stats] [--system] [-v] -- PROGRAM [ARGS...]
 *   capture-client --system [options]      (whole system until ^C or -t)
 *   capture-client -s HOST[:PORT] -a VM_SERVER_ID -b VM_ID [options]   (networked)
 *   capture-client --self-test
 *   capture-client learn --visits N --client PROGRAM [options] URL...   (learn mode)
 *
 * Exit status (standalone): 0 benign, 1 malicious, 2 inconclusive, 3 error;
 * networked: 0 after SIGINT/SIGTERM, 3 when the server cannot be reached.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client/apps.h"
#include "client/apps/driver.h"
#include "client/learn.h"
#include "client/learn_run.h"
#include "client/monitor.h"
#include "client/remote.h"
#include "client/selftest.h"
#include "common/log.h"
#include "common/protocol.h"
#include "common/util.h"

#ifndef CAPTURE_DATADIR
#define CAPTURE_DATADIR "/usr/share/capture"
#endif
#define DEFAULT_EXCLUSION_DIR CAPTURE_DATADIR "/etc/exclusion"
#define DEFAULT_APPLICATIONS  CAPTURE_DATADIR "/etc/applications.conf"
#define KEY_MAX_BYTES         4096 /* as capture-server reads its auth-key-file */

struct client_opts {
	struct monitor_opts mon;
	bool self_test;
	int verbose;
	/* networked mode (-s) */
	const char *server;       /* HOST[:PORT] */
	uint16_t port;            /* -p; 0 = not given */
	const char *vm_server_id; /* -a */
	const char *vm_id;        /* -b */
	const char *key_file;     /* --key */
	const char *apps_file;    /* --applications; NULL = the default file if present */
	unsigned connect_retries; /* 0 = forever */
	/* browser drivers (networked mode) */
	enum driver_layout layout; /* --browser-layout */
	unsigned page_timeout_s;   /* --page-timeout; 0 = the driver's default */
	const char *screenshots;   /* --screenshots DIR */
	const char *standalone;    /* an option only the standalone mode has, for the message */
};

static void usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: capture-client [options] -- PROGRAM [ARGS...]\n"
	    "       capture-client --system [options] [-- PROGRAM [ARGS...]]\n"
	    "       capture-client -s HOST[:PORT] -a VM_SERVER_ID -b VM_ID [options]\n"
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
	    "      --ringbuf-size SIZE kernel ring buffer, power of two (e.g. 4K, 64M; default "
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
	    "      --server-port PORT  port no guest may reach (default 7070, or -p)\n"
	    "  -h, --help              this text\n"
	    "\n"
	    "Networked mode (visits the URLs capture-server sends, docs/client-networked.md):\n"
	    "  -s, --server HOST[:PORT] capture-server to connect to ([v6]:PORT for IPv6)\n"
	    "  -p, --port PORT         its port (default 7070)\n"
	    "  -a, --vm-server-id ID   the vm-server-id this client reports\n"
	    "  -b, --vm-id ID          the vm-id this client reports\n"
	    "      --key FILE          shared HMAC key (mode 600) if the server asks for one\n"
	    "      --applications FILE applications.conf (default %s if present)\n"
	    "      --connect-retries N give up (exit 3) after N failed connections (default: "
	    "never)\n"
	    "      --browser-layout L  browsers: tabs (one browser, a tab per URL: dac; default)\n"
	    "                          or processes (a browser per URL: bulk)\n"
	    "      --page-timeout S    browsers: TIMEOUT_ERROR without a load event after S\n"
	    "                          seconds (default 60)\n"
	    "      --screenshots DIR   browsers: save a screenshot of every loaded page in DIR\n"
	    "  Without --sandbox each group runs in a fresh cgroup on this system.\n"
	    "\n"
	    "Exit status: 0 benign, 1 malicious, 2 inconclusive (events were lost), 3 error;\n"
	    "networked: 0 after SIGINT/SIGTERM, 3 if the server could not be reached.\n",
	    DEFAULT_EXCLUSION_DIR, DEFAULT_APPLICATIONS);
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
	OPT_GUEST_UID,
	OPT_RINGBUF,
	OPT_KEY,
	OPT_APPLICATIONS,
	OPT_CONNECT_RETRIES,
	OPT_LAYOUT,
	OPT_PAGE_TIMEOUT,
	OPT_SCREENSHOTS
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

/* HOST[:PORT], [V6]:PORT or a bare IPv6 literal; -p gives the port if the name has none. */
static int split_server(const char *arg, uint16_t p_port, char *host, size_t len, uint16_t *port)
{
	const char *colon = strrchr(arg, ':'), *end = arg + strlen(arg), *start = arg;
	uint64_t n;

	if (arg[0] == '[') {
		start = arg + 1;
		end = strchr(arg, ']');
		if (!end || (end[1] && end[1] != ':')) {
			log_warnx("-s %s: expected [IPV6]:PORT", arg);
			return -1;
		}
		colon = end[1] ? end + 1 : NULL;
	} else if (colon && strchr(arg, ':') != colon) {
		colon = NULL; /* several colons: an IPv6 literal without a port */
	} else if (colon) {
		end = colon;
	}
	if (end == start || (size_t)(end - start) >= len) {
		log_warnx("-s %s: expected HOST[:PORT]", arg);
		return -1;
	}
	snprintf(host, len, "%.*s", (int)(end - start), start);
	*port = p_port ? p_port : PROTO_PORT;
	if (!colon)
		return 0;
	if (util_parse_u64(colon + 1, 1, 65535, &n) < 0 || (p_port && n != p_port)) {
		log_warnx("-s %s: %s", arg,
			  p_port ? "port differs from -p" : "expected a port between 1 and 65535");
		return -1;
	}
	*port = (uint16_t)n;
	return 0;
}

/* Networked mode: -a and -b, no PROGRAM, no option of the standalone mode. */
static int check_networked(const struct client_opts *o)
{
	if (!o->vm_server_id || !o->vm_id) {
		log_warnx("-s needs -a VM_SERVER_ID and -b VM_ID");
		return -1;
	}
	if (o->mon.argv[0]) {
		log_warnx("-s takes no PROGRAM: the server says what to visit");
		return -1;
	}
	if (o->standalone || o->mon.system_scope || o->self_test) {
		log_warnx("%s is not an option of the networked mode (-s)",
			  o->standalone  ? o->standalone
			  : o->self_test ? "--self-test"
					 : "--system");
		return -1;
	}
	return 0;
}

static int parse_number(int c, const char *arg, struct client_opts *o)
{
	uint64_t v;

	switch (c) {
	case 't':
		if (util_parse_u64(arg, 1, 7ull * 24 * 3600, &v) < 0) {
			log_warnx("-t %s: expected seconds between 1 and 604800", arg);
			return -1;
		}
		o->mon.timeout_s = (unsigned)v;
		o->standalone = "-t";
		return 0;
	case OPT_RINGBUF:
		if (util_parse_size(arg, &v) < 0) {
			log_warnx("--ringbuf-size %s: expected a size such as 4096, 64K or 32M",
				  arg);
			return -1;
		}
		o->mon.ringbuf_bytes = v;
		return 0;
	case 'p':
		if (util_parse_u64(arg, 1, 65535, &v) < 0) {
			log_warnx("-p %s: expected a port between 1 and 65535", arg);
			return -1;
		}
		o->port = (uint16_t)v;
		return 0;
	case OPT_PAGE_TIMEOUT:
		if (util_parse_u64(arg, 1, 3600, &v) < 0) {
			log_warnx("--page-timeout %s: expected seconds between 1 and 3600", arg);
			return -1;
		}
		o->page_timeout_s = (unsigned)v;
		return 0;
	default: /* OPT_CONNECT_RETRIES */
		if (util_parse_u64(arg, 1, 1000000, &v) < 0) {
			log_warnx("--connect-retries %s: expected a number between 1 and 1000000",
				  arg);
			return -1;
		}
		o->connect_retries = (unsigned)v;
		return 0;
	}
}

/* One option; -1 after a message. */
static int parse_one(int c, const char *arg, struct client_opts *o)
{
	switch (c) {
	case 'l':
		o->mon.log_path = arg;
		o->standalone = "-l";
		return 0;
	case OPT_JSON:
		o->mon.json = true;
		o->standalone = "--json";
		return 0;
	case 'x': o->mon.excl_dir = strcmp(arg, "none") == 0 ? NULL : arg; return 0;
	case OPT_RULE_STATS:
		o->mon.rule_stats = true;
		o->standalone = "--rule-stats";
		return 0;
	case 'v': o->verbose++; return 0;
	case OPT_SELF_TEST: o->self_test = true; return 0;
	case OPT_SYSTEM: o->mon.system_scope = true; return 0;
	case OPT_SANDBOX: o->mon.sandbox = true; return 0;
	case OPT_USERNS: o->mon.visit.userns = true; return 0;
	case OPT_ROOT: o->mon.visit.root = arg; return 0;
	case OPT_COLLECT:
		o->mon.visit.collect_dir = arg;
		o->standalone = "--collect";
		return 0;
	case OPT_SERVICES: o->mon.visit.services_name = arg; return 0;
	case OPT_GUEST_USER: o->mon.visit.user = arg; return 0;
	case 's': o->server = arg; return 0;
	case 'a': o->vm_server_id = arg; return 0;
	case 'b': o->vm_id = arg; return 0;
	case OPT_KEY: o->key_file = arg; return 0;
	case OPT_APPLICATIONS: o->apps_file = arg; return 0;
	case OPT_SCREENSHOTS: o->screenshots = arg; return 0;
	case OPT_LAYOUT:
		if (strcmp(arg, "tabs") != 0 && strcmp(arg, "processes") != 0) {
			log_warnx("--browser-layout %s: expected tabs or processes", arg);
			return -1;
		}
		o->layout = strcmp(arg, "tabs") == 0 ? DRIVER_LAYOUT_TABS : DRIVER_LAYOUT_PROCESSES;
		return 0;
	case 'h': usage(stdout); exit(0);
	case 't':
	case 'p':
	case OPT_RINGBUF:
	case OPT_CONNECT_RETRIES:
	case OPT_PAGE_TIMEOUT: return parse_number(c, arg, o);
	case OPT_NETWORK:
	case OPT_TMPFS:
	case OPT_MEMORY:
	case OPT_PIDS:
	case OPT_SERVER_PORT:
	case OPT_GUEST_UID: return parse_sandbox_value(c, arg, &o->mon.visit);
	default: return -1;
	}
}

static int parse_args(int argc, char **argv, struct client_opts *o)
{
	static const struct option longopts[] = {
	    {"log", required_argument, NULL, 'l'},
	    {"json", no_argument, NULL, OPT_JSON},
	    {"exclusions", required_argument, NULL, 'x'},
	    {"timeout", required_argument, NULL, 't'},
	    {"ringbuf-size", required_argument, NULL, OPT_RINGBUF},
	    {"server", required_argument, NULL, 's'},
	    {"port", required_argument, NULL, 'p'},
	    {"vm-server-id", required_argument, NULL, 'a'},
	    {"vm-id", required_argument, NULL, 'b'},
	    {"key", required_argument, NULL, OPT_KEY},
	    {"applications", required_argument, NULL, OPT_APPLICATIONS},
	    {"connect-retries", required_argument, NULL, OPT_CONNECT_RETRIES},
	    {"browser-layout", required_argument, NULL, OPT_LAYOUT},
	    {"page-timeout", required_argument, NULL, OPT_PAGE_TIMEOUT},
	    {"screenshots", required_argument, NULL, OPT_SCREENSHOTS},
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
	int c;

	o->mon.excl_dir = DEFAULT_EXCLUSION_DIR;
	while ((c = getopt_long(argc, argv, "+l:x:t:s:p:a:b:vh", longopts, NULL)) != -1) {
		if (parse_one(c, optarg, o) < 0) {
			if (c == '?')
				usage(stderr);
			return -1;
		}
	}
	o->mon.argv = argv + optind;
	if (o->server)
		return check_networked(o);
	if (o->vm_server_id || o->vm_id || o->key_file || o->apps_file || o->connect_retries ||
	    o->page_timeout_s || o->screenshots || o->layout) {
		log_warnx(
		    "-a, -b, --key, --applications, --connect-retries and the browser options "
		    "need -s HOST");
		return -1;
	}
	if (!o->self_test && !o->mon.system_scope && optind >= argc) {
		log_warnx("no PROGRAM given (put it after --)");
		usage(stderr);
		return -1;
	}
	return 0;
}

/* The shared key: the whole file, which must not be open to group or others. */
static int read_key(const char *path, unsigned char *key, size_t *len)
{
	CLEANUP_FD int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	ssize_t n;

	if (fd < 0 || fstat(fd, &st) < 0) {
		log_warn("--key %s", path);
		return -1;
	}
	if (!S_ISREG(st.st_mode) || (st.st_mode & 077)) {
		log_warnx("--key %s: %s (mode %04o); chmod 600 it", path,
			  S_ISREG(st.st_mode) ? "readable by group or others"
					      : "not a regular file",
			  (unsigned)(st.st_mode & 07777));
		return -1;
	}
	n = read(fd, key, KEY_MAX_BYTES + 1);
	if (n <= 0 || n > KEY_MAX_BYTES) {
		if (n < 0)
			log_warn("--key %s", path);
		else
			log_warnx("--key %s: %s", path,
				  n == 0 ? "empty" : "longer than 4096 bytes (the server's limit)");
		return -1;
	}
	*len = (size_t)n;
	return 0;
}

/* The client's exclusion set: the lists of -x (the server may push more). */
static struct exclusion_set *load_exclusions(const char *dir)
{
	struct exclusion_set *set = exclusion_set_new();
	char err[1024];

	if (!set) {
		log_warnx("out of memory");
		return NULL;
	}
	if (dir && exclusion_load_dir(set, dir, err, sizeof(err)) < 0) {
		log_warnx("exclusion lists rejected: %s", err);
		exclusion_set_free(set);
		return NULL;
	}
	return set;
}

static int load_apps(const char *path, struct app_table **out)
{
	char err[1024];

	*out = NULL;
	if (!path && access(DEFAULT_APPLICATIONS, R_OK) != 0)
		return 0; /* built-in drivers only */
	if (path && strcmp(path, "none") == 0)
		return 0;
	if (apps_load(path ? path : DEFAULT_APPLICATIONS, out, err, sizeof(err)) < 0) {
		log_warnx("applications rejected: %s", err);
		return -1;
	}
	return 0;
}

static int run_networked(struct client_opts *o)
{
	unsigned char key[KEY_MAX_BYTES + 1];
	struct remote_opts r = {
	    .vm_server_id = o->vm_server_id,
	    .vm_id = o->vm_id,
	    .connect_retries = o->connect_retries,
	    .visit = {.sandbox = o->mon.sandbox,
		      .visit = o->mon.visit,
		      .ringbuf_bytes = o->mon.ringbuf_bytes,
		      .layout = o->layout,
		      .page_timeout_s = o->page_timeout_s,
		      .screenshot_dir = o->screenshots},
	};
	struct app_table *apps = NULL;
	char host[256];
	int rc = MONITOR_EXIT_ERROR;

	if (split_server(o->server, o->port, host, sizeof(host), &r.port) < 0)
		return rc;
	r.host = host;
	if (!r.visit.visit.server_port)
		r.visit.visit.server_port = r.port; /* no guest reaches the server it talks to */
	if (o->key_file && read_key(o->key_file, key, &r.key_len) < 0)
		return rc;
	r.key = o->key_file ? key : NULL;
	if (load_apps(o->apps_file, &apps) == 0) {
		r.visit.apps = apps;
		r.visit.excl = load_exclusions(o->mon.excl_dir);
		if (r.visit.excl)
			rc = remote_run(&r);
	}
	exclusion_set_free(r.visit.excl);
	apps_free(apps);
	explicit_bzero(key, sizeof(key));
	return rc;
}

/* ---- learn mode: capture-client learn ... URL... (docs/exclusion-lists.md) ---- */

#define LEARN_DEFAULT_VISITS 3
#define LEARN_DEFAULT_TIME_S 10
#define LEARN_MAX_VISITS     1000

struct learn_opts {
	struct learn_run_opts run;
	const char *excl_dir;   /* NULL = -x none */
	const char *apps_file;  /* NULL = the default file if present */
	const char *output;     /* NULL = standard output */
	const char *output_dir; /* one list file per monitor */
	int verbose;
};

static void learn_usage(FILE *out)
{
	fprintf(out,
		"usage: capture-client learn --client PROGRAM [--visits N] [options] URL...\n"
		"\n"
		"Visits each URL N times, each visit in a fresh sandbox guest, and proposes\n"
		"exclusion rules for every event the lists in force (-x) do not exclude.\n"
		"\n"
		"      --client PROGRAM    curl, chromium, ... or an applications.conf name\n"
		"      --visits N          visits of each URL (default %d, at most %d)\n"
		"  -t, --timeout SECONDS   visit time (default %d)\n"
		"  -x, --exclusions DIR    lists in force (default %s; none = no lists)\n"
		"      --output FILE       write the rules to FILE (default standard output)\n"
		"      --output-dir DIR    also write DIR/file.exl, process.exl, ... (rules only)\n"
		"      --applications FILE applications.conf (default %s if present)\n"
		"      --network MODE, --services NAME, --root DIR, --tmpfs-size SIZE,\n"
		"      --memory SIZE, --pids N, --userns, --guest-user NAME, --guest-uid N,\n"
		"      --server-port PORT, --ringbuf-size SIZE: as for --sandbox\n"
		"  -v, --verbose           log each visit (twice: debug)\n"
		"\n"
		"Exit status: 0 when the rules were proposed, 3 on error, interruption or when\n"
		"every visit ended with an error.\n",
		LEARN_DEFAULT_VISITS, LEARN_MAX_VISITS, LEARN_DEFAULT_TIME_S, DEFAULT_EXCLUSION_DIR,
		DEFAULT_APPLICATIONS);
}

enum learn_option {
	LOPT_CLIENT = 512,
	LOPT_VISITS,
	LOPT_OUTPUT,
	LOPT_OUTPUT_DIR,
};

static int learn_parse_number(int c, const char *arg, struct learn_opts *o)
{
	uint64_t v;

	if (c == LOPT_VISITS) {
		if (util_parse_u64(arg, 1, LEARN_MAX_VISITS, &v) < 0) {
			log_warnx("--visits %s: expected a number between 1 and %d", arg,
				  LEARN_MAX_VISITS);
			return -1;
		}
		o->run.visits = (unsigned)v;
		return 0;
	}
	if (c == 't') {
		if (util_parse_u64(arg, 1, APPS_MAX_VISIT_S, &v) < 0) {
			log_warnx("-t %s: expected seconds between 1 and %d", arg,
				  APPS_MAX_VISIT_S);
			return -1;
		}
		o->run.visit_time_s = (unsigned)v;
		return 0;
	}
	if (util_parse_size(arg, &v) < 0) {
		log_warnx("--ringbuf-size %s: expected a size such as 4096, 64K or 32M", arg);
		return -1;
	}
	o->run.visit.ringbuf_bytes = v;
	return 0;
}

static int learn_parse_one(int c, const char *arg, struct learn_opts *o)
{
	struct sandbox_visit_opts *v = &o->run.visit.visit;

	switch (c) {
	case LOPT_CLIENT: o->run.program = arg; return 0;
	case 'x': o->excl_dir = strcmp(arg, "none") == 0 ? NULL : arg; return 0;
	case LOPT_OUTPUT: o->output = arg; return 0;
	case LOPT_OUTPUT_DIR: o->output_dir = arg; return 0;
	case OPT_APPLICATIONS: o->apps_file = arg; return 0;
	case OPT_ROOT: v->root = arg; return 0;
	case OPT_SERVICES: v->services_name = arg; return 0;
	case OPT_GUEST_USER: v->user = arg; return 0;
	case OPT_USERNS: v->userns = true; return 0;
	case 'v': o->verbose++; return 0;
	case 'h': learn_usage(stdout); exit(0);
	case LOPT_VISITS:
	case 't':
	case OPT_RINGBUF: return learn_parse_number(c, arg, o);
	case OPT_NETWORK:
	case OPT_TMPFS:
	case OPT_MEMORY:
	case OPT_PIDS:
	case OPT_SERVER_PORT:
	case OPT_GUEST_UID: return parse_sandbox_value(c, arg, v);
	default: learn_usage(stderr); return -1;
	}
}

static int learn_parse(int argc, char **argv, struct learn_opts *o)
{
	static const struct option longopts[] = {
	    {"client", required_argument, NULL, LOPT_CLIENT},
	    {"visits", required_argument, NULL, LOPT_VISITS},
	    {"timeout", required_argument, NULL, 't'},
	    {"exclusions", required_argument, NULL, 'x'},
	    {"output", required_argument, NULL, LOPT_OUTPUT},
	    {"output-dir", required_argument, NULL, LOPT_OUTPUT_DIR},
	    {"applications", required_argument, NULL, OPT_APPLICATIONS},
	    {"ringbuf-size", required_argument, NULL, OPT_RINGBUF},
	    {"network", required_argument, NULL, OPT_NETWORK},
	    {"services", required_argument, NULL, OPT_SERVICES},
	    {"root", required_argument, NULL, OPT_ROOT},
	    {"tmpfs-size", required_argument, NULL, OPT_TMPFS},
	    {"memory", required_argument, NULL, OPT_MEMORY},
	    {"pids", required_argument, NULL, OPT_PIDS},
	    {"userns", no_argument, NULL, OPT_USERNS},
	    {"guest-user", required_argument, NULL, OPT_GUEST_USER},
	    {"guest-uid", required_argument, NULL, OPT_GUEST_UID},
	    {"server-port", required_argument, NULL, OPT_SERVER_PORT},
	    {"verbose", no_argument, NULL, 'v'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int c;

	o->excl_dir = DEFAULT_EXCLUSION_DIR;
	o->run.visits = LEARN_DEFAULT_VISITS;
	o->run.visit_time_s = LEARN_DEFAULT_TIME_S;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+x:t:vh", longopts, NULL)) != -1)
		if (learn_parse_one(c, optarg, o) < 0)
			return -1;
	o->run.urls = argv + optind;
	o->run.n_urls = (size_t)(argc - optind);
	if (!o->run.program || !o->run.n_urls) {
		log_warnx("learn needs --client PROGRAM and at least one URL");
		learn_usage(stderr);
		return -1;
	}
	return 0;
}

/* The rules as one list file per monitor in DIR. */
static int learn_write_dir(const char *dir, const struct learn_result *res, const char *header)
{
	char path[PATH_MAX];

	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		log_warn("--output-dir %s", dir);
		return -1;
	}
	for (int m = 0; m < EXCL_REGISTRY; m++) {
		FILE *f;

		snprintf(path, sizeof(path), "%s/%s.exl", dir,
			 exclusion_monitor_name((enum exclusion_monitor)m));
		f = fopen(path, "we");
		if (!f) {
			log_warn("%s", path);
			return -1;
		}
		learn_write(f, res, header, m);
		if (fclose(f) != 0) {
			log_warn("%s", path);
			return -1;
		}
	}
	return 0;
}

static int learn_output(const struct learn_opts *o, const struct learn_result *res)
{
	char header[1024];
	FILE *f = o->output ? fopen(o->output, "we") : stdout;
	int rc = 0;

	snprintf(header, sizeof(header),
		 "proposed by capture-client learn: %u visits with %s, %u s each, lists in force: "
		 "%s\nappend each rule to the list of its section (docs/exclusion-lists.md); "
		 "review before use",
		 res->runs, o->run.program, o->run.visit_time_s,
		 o->excl_dir ? o->excl_dir : "none");
	if (!f) {
		log_warn("--output %s", o->output);
		return -1;
	}
	learn_write(f, res, header, -1);
	if (fflush(f) != 0 || ferror(f)) {
		log_warn("writing the rules");
		rc = -1;
	}
	if (o->output && fclose(f) != 0 && rc == 0) {
		log_warn("--output %s", o->output);
		rc = -1;
	}
	if (rc == 0 && o->output_dir)
		rc = learn_write_dir(o->output_dir, res, header);
	return rc;
}

static void learn_summary(const struct learn_run_stats *st, const struct learn_result *res)
{
	size_t always = 0;

	for (size_t i = 0; i < res->n_left; i++)
		always += res->left[i].always ? res->left[i].events : 0;
	fprintf(stderr,
		"capture-client learn: %u visits (%u with errors), %llu events seen, %zu rules "
		"proposed, %llu events left (%zu always reported)%s\n",
		st->visits, st->errors, (unsigned long long)res->events, res->n_rules,
		(unsigned long long)res->events_left, always,
		st->lost ? ", sensor records were lost" : "");
}

/* Visits, proposes, writes.  0, or MONITOR_EXIT_ERROR. */
static int learn_go(struct learn_opts *o, struct learn *l)
{
	struct learn_run_stats st;
	struct learn_result res;
	char err[1024];
	int rc;

	if (learn_run(&o->run, l, &st) < 0)
		return MONITOR_EXIT_ERROR;
	if (learn_propose(l, o->run.visit.excl, &res, err, sizeof(err)) < 0) {
		log_warnx("proposing rules: %s", err);
		return MONITOR_EXIT_ERROR;
	}
	rc = learn_output(o, &res) == 0 ? 0 : MONITOR_EXIT_ERROR;
	learn_summary(&st, &res);
	if (st.errors == st.visits) { /* nothing was visited as it should be: not a result */
		log_warnx("every visit ended with an error; the proposal is not a baseline");
		rc = MONITOR_EXIT_ERROR;
	}
	learn_result_free(&res);
	return rc;
}

static int learn_main(int argc, char **argv)
{
	struct learn_opts o = {.run.visit.sandbox = true};
	struct app_table *apps = NULL;
	struct learn *l = NULL;
	struct stat st;
	int rc = MONITOR_EXIT_ERROR;

	if (learn_parse(argc, argv, &o) < 0)
		return rc;
	log_set_level(o.verbose >= 2 ? LOG_LEVEL_DEBUG
		      : o.verbose    ? LOG_LEVEL_INFO
				     : LOG_LEVEL_WARN);
	if (o.excl_dir && stat(o.excl_dir, &st) < 0) {
		log_warn("exclusion lists directory %s", o.excl_dir);
		return rc;
	}
	if (load_apps(o.apps_file, &apps) < 0)
		return rc;
	o.run.visit.apps = apps;
	o.run.visit.excl = load_exclusions(o.excl_dir);
	l = o.run.visit.excl ? learn_new() : NULL;
	if (l)
		rc = learn_go(&o, l);
	else if (o.run.visit.excl)
		log_warnx("out of memory");
	learn_free(l);
	exclusion_set_free(o.run.visit.excl);
	apps_free(apps);
	return rc;
}

int main(int argc, char **argv)
{
	struct client_opts o = {0};
	struct stat st;

	log_init("capture-client", LOG_LEVEL_WARN, stderr);
	if (argc > 1 && strcmp(argv[1], "learn") == 0)
		return learn_main(argc - 1, argv + 1);
	if (parse_args(argc, argv, &o) < 0)
		return MONITOR_EXIT_ERROR;
	log_set_level(o.verbose >= 2 ? LOG_LEVEL_DEBUG
		      : o.verbose    ? LOG_LEVEL_INFO
				     : LOG_LEVEL_WARN);
	if (o.self_test)
		return selftest_run(stdout);
	if (o.server && !o.verbose)
		log_set_level(LOG_LEVEL_INFO); /* a service: say what it is doing */
	if (o.mon.excl_dir && stat(o.mon.excl_dir, &st) < 0) {
		log_warn("exclusion lists directory %s", o.mon.excl_dir);
		return MONITOR_EXIT_ERROR;
	}
	if (o.server)
		return run_networked(&o);
	return monitor_run(&o.mon);
}
