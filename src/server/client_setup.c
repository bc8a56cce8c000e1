/*
 * client_setup.c - see client_setup.h.
 */
#include "server/client_setup.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client/apps.h"
#include "client/exclusion.h"
#include "common/log.h"
#include "common/util.h"

static int load_key(struct client_setup *cs, const struct capture_config *cfg)
{
	const char *path = cfg->auth_key_file;
	CLEANUP_FD int fd = -1;
	ssize_t n;

	if (!path)
		return 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	n = fd < 0 ? -1 : read(fd, cs->key, sizeof(cs->key));
	if (n <= 0) {
		log_warn("cannot read the authentication key %s", path);
		return -1;
	}
	cs->keylen = (size_t)n;
	return 0;
}

static int proto_exclusion_type(enum exclusion_monitor m)
{
	switch (m) {
	case EXCL_FILE: return PROTO_MSG_FILE_EXCLUSION;
	case EXCL_PROCESS: return PROTO_MSG_PROCESS_EXCLUSION;
	case EXCL_CONNECTION: return PROTO_MSG_CONNECTION_EXCLUSION;
	case EXCL_REGISTRY: return PROTO_MSG_REGISTRY_EXCLUSION;
	default: return -1; /* the protocol has no message for system rules */
	}
}

/* send-exclusion-lists: the <exclusion-list> files, checked, as messages. */
static int load_exclusions(struct client_setup *cs, const struct capture_config *cfg)
{
	struct exclusion_rule_info ri;
	char err[1024];
	size_t n;

	if (!cfg->send_exclusion_lists || !cfg->nexclusion_lists)
		return 0;
	cs->excl = exclusion_set_new();
	if (!cs->excl)
		return -1;
	for (size_t i = 0; i < cfg->nexclusion_lists; i++)
		if (exclusion_load_file(cs->excl,
					(enum exclusion_monitor)cfg->exclusion_lists[i].monitor,
					cfg->exclusion_lists[i].file, err, sizeof(err)) < 0) {
			log_warnx("exclusion list rejected: %s", err);
			return -1;
		}
	n = exclusion_rule_count(cs->excl);
	cs->exclusions = calloc(n ? n : 1, sizeof(*cs->exclusions));
	if (!cs->exclusions)
		return -1;
	for (size_t i = 0; i < n; i++) {
		struct proto_msg *m = &cs->exclusions[cs->nexclusions];
		int type;

		if (exclusion_rule_get(cs->excl, i, &ri) < 0 ||
		    (type = proto_exclusion_type(ri.monitor)) < 0)
			continue;
		proto_msg_init(m, (enum proto_msg_type)type);
		m->u.exclusion.excluded = ri.sign == '+';
		m->u.exclusion.action = (char *)(uintptr_t)ri.key;
		m->u.exclusion.subject = (char *)(uintptr_t)ri.subject;
		m->u.exclusion.object = (char *)(uintptr_t)ri.object;
		cs->nexclusions++;
	}
	log_info("%zu exclusion rules will be sent to every client", cs->nexclusions);
	return 0;
}

static int write_app_line(FILE *f, const char *name, const char *path, bool download)
{
	return fprintf(f, "%s\t%s%s\n", name, path, download ? "\tyes" : "") < 0 ? -1 : 0;
}

/*
 * The clients' applications file: the <application>s of config.xml, then
 * the lines of <applications file> (checked here, so a bad file stops the
 * server, not every client).
 */
static int write_applications(struct client_setup *cs, const struct capture_config *cfg)
{
	struct app_table *t = NULL;
	char err[1024];
	FILE *f;
	int rc = 0;

	if (cfg->applications_file && apps_load(cfg->applications_file, &t, err, sizeof(err)) < 0) {
		log_warnx("applications file rejected: %s", err);
		return -1;
	}
	snprintf(cs->apps_path, sizeof(cs->apps_path), "%s/applications.conf", cs->run_dir);
	f = fopen(cs->apps_path, "we");
	if (!f) {
		log_warn("cannot write %s", cs->apps_path);
		apps_free(t);
		return -1;
	}
	fputs("# written by capture-server from its config.xml\n", f);
	for (size_t i = 0; i < cfg->napplications && rc == 0; i++)
		rc = write_app_line(f, cfg->applications[i].name, cfg->applications[i].path,
				    cfg->applications[i].download);
	for (size_t i = 0; t && i < apps_count(t) && rc == 0; i++) {
		const struct app_entry *e = apps_get(t, i);

		rc = write_app_line(f, e->name, e->path, e->download_first);
	}
	apps_free(t);
	if (fclose(f) != 0 || rc < 0) {
		log_warn("cannot write %s", cs->apps_path);
		return -1;
	}
	return 0;
}

static void size_arg(char *buf, size_t len, uint64_t bytes)
{
	snprintf(buf, len, "%llu", (unsigned long long)bytes);
}

/* The local clients' command line (guest_local adds -b VM_ID). */
/* The address a local client connects to: loopback for a wildcard listener. */
static const char *client_address(const char *addr)
{
	if (!strcmp(addr, "0.0.0.0"))
		return "127.0.0.1";
	if (!strcmp(addr, "::"))
		return "::1";
	return addr;
}

/* The local clients' command line (guest_local adds -b VM_ID). */
static void build_argv(struct client_setup *cs, const struct capture_config *cfg,
		       const char *client_path, const char *addr)
{
	const char **a = cs->argv;
	size_t n = 0;

	a[n++] = client_path;
	a[n++] = "-s";
	a[n++] = client_address(addr);
	a[n++] = "-p";
	a[n++] = cs->port;
	a[n++] = "-a";
	a[n++] = CLIENT_SETUP_VM_SERVER;
	if (cfg->auth_key_file) {
		a[n++] = "--key";
		a[n++] = cfg->auth_key_file;
	}
	a[n++] = "--sandbox";
	a[n++] = "--network";
	a[n++] = cfg->sandbox_network == CONFIG_NET_NONE       ? "none"
		 : cfg->sandbox_network == CONFIG_NET_SERVICES ? "services"
							       : "nat";
	if (cfg->sandbox_services) {
		a[n++] = "--services";
		a[n++] = cfg->sandbox_services;
	}
	a[n++] = "--root";
	a[n++] = cfg->sandbox_root;
	size_arg(cs->tmpfs, sizeof(cs->tmpfs), cfg->sandbox_tmpfs_bytes);
	a[n++] = "--tmpfs-size";
	a[n++] = cs->tmpfs;
	if (cfg->sandbox_memory_bytes) {
		size_arg(cs->memory, sizeof(cs->memory), cfg->sandbox_memory_bytes);
		a[n++] = "--memory";
		a[n++] = cs->memory;
	}
	if (cfg->sandbox_pids_max) {
		snprintf(cs->pids, sizeof(cs->pids), "%u", cfg->sandbox_pids_max);
		a[n++] = "--pids";
		a[n++] = cs->pids;
	}
	a[n++] = "--server-port";
	a[n++] = cs->port;
	a[n++] = "--applications";
	a[n++] = cs->apps_path;
	a[n] = NULL;
}

int client_setup_init(struct client_setup *cs, const struct capture_config *cfg)
{
	return load_key(cs, cfg) < 0 || load_exclusions(cs, cfg) < 0 ? -1 : 0;
}

int client_setup_local(struct client_setup *cs, const struct capture_config *cfg,
		       const char *client_path, const char *addr, uint16_t port)
{
	if (!mkdtemp(strcpy(cs->run_dir, "/tmp/capture-server-XXXXXX"))) {
		log_warn("cannot create a run directory");
		cs->run_dir[0] = '\0';
		return -1;
	}
	if (write_applications(cs, cfg) < 0)
		return -1;
	snprintf(cs->port, sizeof(cs->port), "%u", port);
	build_argv(cs, cfg, client_path, addr);
	return 0;
}

void client_setup_free(struct client_setup *cs)
{
	free(cs->exclusions);
	cs->exclusions = NULL;
	exclusion_set_free(cs->excl);
	cs->excl = NULL;
	if (cs->apps_path[0] && unlink(cs->apps_path) < 0)
		log_warn("removing %s", cs->apps_path);
	if (cs->run_dir[0] && rmdir(cs->run_dir) < 0)
		log_warn("removing %s", cs->run_dir);
	cs->apps_path[0] = cs->run_dir[0] = '\0';
	explicit_bzero(cs->key, sizeof(cs->key));
	cs->keylen = 0;
}
