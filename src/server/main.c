/*
 * main.c - capture-server command line (the original's, plus -c, -n, -v).
 *
 *   capture-server [-s ADDR[:PORT]] [-f URLFILE] [-r [true|false]] [-c CONFIG] [-n] [-v] [-h]
 *
 * Exit status: enum server_exit (0 all URLs done, 1 setup error, 2
 * interrupted, 4 halted by -r).
 */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/config.h"
#include "common/log.h"
#include "server/server.h"

#ifndef CAPTURE_DATADIR
#define CAPTURE_DATADIR "/usr/share/capture"
#endif
#define DEFAULT_CONFIG CAPTURE_DATADIR "/etc/config.xml"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: capture-server [-s ADDR[:PORT]] [-f URLFILE] [-r] [-c CONFIG] [-v]\n"
		"       capture-server -n [-c CONFIG]\n"
		"\n"
		"Visits every URL of URLFILE with a capture-client in a fresh guest and writes\n"
		"the verdicts to the log directory (progress.log, safe.log, malicious.log,\n"
		"error.log, stats.log, per-URL event logs, archives and JSON reports).\n"
		"\n"
		"  -s ADDR[:PORT]  listen address and port (default: config.xml <server>, else\n"
		"                  127.0.0.1:7070); IPv6 as [ADDR]:PORT\n"
		"  -f URLFILE      URL lines url[::client][::visittime][::priority]; the file is\n"
		"                  tailed, '#' starts a comment, a line \"end\" ends the input;\n"
		"                  - reads standard input\n"
		"  -r [true]       halt on revert: stop instead of reverting a guest after an\n"
		"                  error, leaving the evidence (debugging)\n"
		"  -c CONFIG       config.xml (default: ./config.xml if present, else %s)\n"
		"  -n              check the configuration, print every problem, and exit\n"
		"  -v              debug log output\n"
		"  -h              this text\n"
		"\n"
		"Exit status: 0 every URL done, 1 setup error, 2 interrupted, 4 halted by -r.\n",
		DEFAULT_CONFIG);
}

/* "ADDR", "ADDR:PORT", "[V6]" or "[V6]:PORT" into ADDR/PORT; -1 if malformed. */
static int parse_listen(const char *arg, char *addr, size_t len, uint16_t *port)
{
	const char *colon, *end = arg + strlen(arg);
	char *e;
	unsigned long p;

	if (arg[0] == '[') {
		const char *close = strchr(arg, ']');

		if (!close || (close[1] && close[1] != ':'))
			return -1;
		if ((size_t)(close - arg - 1) >= len)
			return -1;
		snprintf(addr, len, "%.*s", (int)(close - arg - 1), arg + 1);
		colon = close[1] ? close + 1 : NULL;
	} else {
		colon = strchr(arg, ':');
		if (colon && strchr(colon + 1, ':'))
			colon = NULL; /* a bare IPv6 address */
		if ((size_t)((colon ? colon : end) - arg) >= len)
			return -1;
		snprintf(addr, len, "%.*s", (int)((colon ? colon : end) - arg), arg);
	}
	*port = 7070;
	if (colon) {
		errno = 0;
		p = strtoul(colon + 1, &e, 10);
		if (errno || *e || e == colon + 1 || p < 1 || p > 65535)
			return -1;
		*port = (uint16_t)p;
	}
	return addr[0] ? 0 : -1;
}

/* The capture-client beside this binary. */
static int client_beside_me(char *buf, size_t len)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n < 0)
		return -1;
	self[n] = '\0';
	return snprintf(buf, len, "%s/capture-client", dirname(self)) < (int)len ? 0 : -1;
}

static const char *default_config(void)
{
	return access("config.xml", R_OK) == 0 ? "config.xml" : DEFAULT_CONFIG;
}

static int load_config(const char *path, struct capture_config *cfg)
{
	struct config_errors errs;
	int rc;

	config_errors_init(&errs);
	rc = config_load(path, cfg, &errs);
	config_print_errors(&errs, stderr);
	config_errors_free(&errs);
	return rc;
}

struct cli {
	const char *config, *listen, *urls;
	bool halt, check;
	int verbose;
};

static int parse_args(int argc, char **argv, struct cli *c)
{
	int ch;

	while ((ch = getopt(argc, argv, "s:f:rc:nvh")) != -1) {
		switch (ch) {
		case 's': c->listen = optarg; break;
		case 'f': c->urls = optarg; break;
		case 'c': c->config = optarg; break;
		case 'n': c->check = true; break;
		case 'v': c->verbose++; break;
		case 'r':
			c->halt = true;
			/* the original's "-r true" / "-r false" */
			if (optind < argc &&
			    (!strcmp(argv[optind], "true") || !strcmp(argv[optind], "false")))
				c->halt = !strcmp(argv[optind++], "true");
			break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "capture-server: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct cli c = {0};
	struct capture_config cfg;
	struct server_opts o = {.out = stdout};
	char addr[128], client[PATH_MAX];
	const char *term;
	int rc;

	log_init("capture-server", LOG_LEVEL_INFO, stderr);
	if (parse_args(argc, argv, &c) < 0)
		return SERVER_EXIT_SETUP;
	if (!c.config)
		c.config = default_config();
	if (c.check)
		return config_check(c.config, stdout) == 0 ? 0 : SERVER_EXIT_SETUP;
	log_set_level(c.verbose ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO);
	if (c.listen && parse_listen(c.listen, addr, sizeof(addr), &o.listen_port) < 0) {
		fprintf(stderr,
			"capture-server: -s %s: expected ADDR[:PORT] (e.g. 127.0.0.1:7070)\n",
			c.listen);
		return SERVER_EXIT_SETUP;
	}
	o.listen_address = c.listen ? addr : NULL;
	if (load_config(c.config, &cfg) < 0) {
		config_free(&cfg);
		return SERVER_EXIT_SETUP;
	}
	if (cfg.sandbox_client_path)
		snprintf(client, sizeof(client), "%s", cfg.sandbox_client_path);
	else if (client_beside_me(client, sizeof(client)) < 0)
		snprintf(client, sizeof(client), "capture-client");
	o.cfg = &cfg;
	o.url_file = c.urls;
	o.halt_on_revert = c.halt;
	o.client_path = client;
	term = getenv("TERM");
	o.tty = isatty(STDOUT_FILENO) && term && strcmp(term, "dumb") != 0;
	if (!o.url_file)
		log_warnx("no -f URLFILE: waiting for URLs from nowhere (nothing to visit)");
	rc = server_run(&o);
	config_free(&cfg);
	return rc;
}
