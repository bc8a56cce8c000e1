/*
 * config.h - capture-server's config.xml: the original Capture-HPC schema
 * (<global> with its 14 options, <database>, <exclusion-list>,
 * <virtual-machine-server>/<virtual-machine>) plus Capture's own elements
 * (<server>, <sandbox-guests>, <application>, <applications>, <retries>).
 * docs/config.md describes every element and attribute; etc/config.xml is
 * the commented default.
 *
 * Parsed with expat.  Every problem is collected (not only the first) as
 * "file:line:col: message", naming the element, the attribute and what was
 * expected; an expat well-formedness error ends the pass.  Relative paths
 * of inputs (exclusion lists, applications file, key file, guest root,
 * client binary) are taken from the config file's directory; outputs (log
 * directory, SQLite file) from the server's working directory, as the
 * original wrote log/ there.
 */
#ifndef CAPTURE_CONFIG_H
#define CAPTURE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CONFIG_MAX_BYTES        (1u << 20) /* largest config.xml read */
#define CONFIG_ERRORS_MAX       100        /* messages kept; further ones are only counted */
#define CONFIG_VISIT_TIME_MAX_S 86400      /* longest visit time, config and URL lines */
#define CONFIG_CLIENT_NAME_MAX  64         /* bytes of a client program name */
#define CONFIG_RETRIES_MAX      10         /* largest retry count of one error class */

enum config_db_type {
	CONFIG_DB_SQLITE = 0, /* embedded store, database-url = file path */
	CONFIG_DB_POSTGRESQL, /* database-url = libpq URI/conninfo or the original JDBC URL */
	CONFIG_DB_MYSQL,      /* MySQL or MariaDB; same */
};

/* Same order as enum exclusion_monitor (client/exclusion.h). */
enum config_monitor {
	CONFIG_MON_FILE = 0,
	CONFIG_MON_PROCESS,
	CONFIG_MON_CONNECTION,
	CONFIG_MON_SYSTEM,
	CONFIG_MON_REGISTRY, /* original Windows clients only */
};

/* Same order as enum net_mode (guest/netns.h). */
enum config_net_mode {
	CONFIG_NET_NONE = 0, /* loopback only */
	CONFIG_NET_SERVICES, /* veth to the services namespace, no route beyond */
	CONFIG_NET_NAT,      /* services plus masquerading out of the host's uplink */
};

enum config_vm_server_type {
	CONFIG_VMS_LIBVIRT = 0, /* revert through libvirt (uri, or qemu+ssh://address) */
	CONFIG_VMS_COMMAND,     /* run revert-command (vmrun, VBoxManage, a script) */
	CONFIG_VMS_NONE,        /* "no-vm-server": clients are started by hand */
	CONFIG_VMS_MOCK,        /* "mock-vm-server": reverts succeed at once (tests) */
	CONFIG_VMS_VMWARE,      /* "vmware-server" (VIX): recognised, rejected */
};

/* Error classes with their own retry budget (<retries>); names in config_retry_name(). */
enum config_retry_class {
	CONFIG_RETRY_NETWORK_ERROR = 0,    /* NETWORK_ERROR 0x10000110 */
	CONFIG_RETRY_PROCESS_ERROR,        /* PROCESS_ERROR 0x10000111 */
	CONFIG_RETRY_TIMEOUT_ERROR,        /* TIMEOUT_ERROR 0x10000112 */
	CONFIG_RETRY_ATTACH_PROCESS_ERROR, /* ATTACH_PROCESS_ERROR 0x10000114 */
	CONFIG_RETRY_VISITATION_EXCEPTION, /* VISITATION_EXCEPTION 0x10000200 */
	CONFIG_RETRY_CLIENT_INACTIVITY,    /* CAPTURE_CLIENT_INACTIVITY 0x10004000 */
	CONFIG_RETRY_VM_STALLED,           /* VM_STALLED 0x10004100 */
	CONFIG_RETRY_CONNECTION_RESET,     /* CAPTURE_CLIENT_CONNECTION_RESET 0x10004200 */
	CONFIG_RETRY_SOCKET_ERROR,         /* SOCKET_ERROR 0x10004300 */
	CONFIG_RETRY_SANDBOX_ERROR,        /* ours: a sandbox guest could not be set up */
	CONFIG_RETRY_INCONCLUSIVE,         /* ours: events were lost during the visit */
	CONFIG_RETRY_COUNT
};

struct config_exclusion_list {
	enum config_monitor monitor;
	char *file;    /* resolved path (relative = to the config file's directory) */
	unsigned line; /* where it was declared, for messages */
};

struct config_vm {
	char *vm_path;     /* VM on its host: .vmx path, libvirt domain name, ... */
	char *client_path; /* capture client inside the guest; NULL = the guest starts it */
	char *username;    /* guest account; NULL = none */
	char *password;    /* its password; NULL = none */
	char *snapshot;    /* named snapshot to revert to; NULL = the current/root one */
	unsigned line;
};

struct config_vm_server {
	enum config_vm_server_type type;
	char *address;        /* host name or address of the hypervisor; NULL = local */
	uint16_t port;        /* hypervisor port; 0 = the backend's default (honoured, bug 706) */
	char *username;       /* host account; NULL = none */
	char *password;       /* its password; NULL = none */
	char *uri;            /* libvirt connection URI; NULL = derived from address */
	char *revert_command; /* command type: program + arguments, {vm} and {snapshot}
			       * replaced; NULL for other types */
	struct config_vm *vms;
	size_t nvms; /* at least 1 */
	unsigned line;
};

struct config_application {
	char *name;    /* client program name used in URL lines and client-default */
	char *path;    /* program inside the guest (not checked here: the guest's root) */
	bool download; /* download the URL first and pass the file (original "yes") */
	unsigned line;
};

struct capture_config {
	char *path; /* the file as given, used in messages */

	/* <global>: the original options, same names and meaning */
	bool collect_modified_files; /* upload modified/deleted files of malicious visits; false */
	char *client_default;        /* program for URLs that name none; "chromium" */
	unsigned client_default_visit_time;       /* seconds a page stays open; 20 */
	bool capture_network_packets_malicious;   /* keep the pcap of malicious visits; false */
	bool capture_network_packets_benign;      /* keep the pcap of benign visits; false */
	bool send_exclusion_lists;                /* push <exclusion-list>s to clients; false */
	bool terminate;                           /* exit when all URLs are done; true */
	unsigned group_size;                      /* max URLs per visit group, 1..1000; 20 */
	unsigned client_inactivity_timeout;       /* s without a message from a busy client; 60 */
	unsigned revert_timeout;                  /* s one revert may take; 120 */
	unsigned vm_stalled_after_revert_timeout; /* s a guest may stay not running; 120 */
	unsigned vm_stalled_during_operation_timeout; /* s one group visit may take; 300 */
	unsigned same_vm_revert_delay;      /* s pause after reverting the same VM again; 6 */
	unsigned different_vm_revert_delay; /* s pause after reverting another VM; 24 */

	/* <database> */
	enum config_db_type db_type; /* CONFIG_DB_SQLITE */
	char *db_url;                /* "capture.db" (relative = to the working directory) */
	char *db_username;           /* NULL = none */
	char *db_password;           /* NULL = none */

	/* <exclusion-list>, in file order */
	struct config_exclusion_list *exclusion_lists;
	size_t nexclusion_lists;

	/* <virtual-machine-server>, in file order */
	struct config_vm_server *vm_servers;
	size_t nvm_servers;

	/* <server> (ours) */
	char *listen_address; /* IPv4/IPv6 literal; "127.0.0.1" */
	uint16_t listen_port; /* 7070 */
	char *auth_key_file;  /* shared HMAC key, mode 0600; NULL = no authentication */
	char *log_directory;  /* "log" (relative = to the working directory) */

	/* <sandbox-guests> (ours) */
	unsigned sandbox_count;               /* local guests; 2 if no VM server, else 0 */
	enum config_net_mode sandbox_network; /* CONFIG_NET_NAT */
	char *sandbox_root;                   /* lower layer; "/" = the host's system */
	uint64_t sandbox_tmpfs_bytes;         /* what a guest may write; 512 MiB */
	uint64_t sandbox_memory_bytes;        /* memory limit of a guest; 2 GiB; 0 = none */
	unsigned sandbox_pids_max;            /* process limit of a guest; 1024; 0 = none */
	char *sandbox_client_path;            /* capture-client binary; NULL = beside the server */
	char *sandbox_services; /* services network namespace; NULL = "capture-services" */

	/* <application> (ours), in file order, and <applications file> */
	struct config_application *applications;
	size_t napplications;
	char *applications_file; /* original Applications.conf format; NULL = none */

	/* <retries> (ours): extra attempts per error class, 0..10; 1 each (the original's) */
	unsigned retries[CONFIG_RETRY_COUNT];
};

/* Problems found by config_load(), in file order. */
struct config_errors {
	char **msgs;      /* "file:line:col: message"; warnings say "warning: " after the place */
	size_t count;     /* entries in msgs */
	size_t cap;       /* allocated entries */
	size_t nerrors;   /* errors, including those not kept */
	size_t nwarnings; /* warnings, including those not kept */
	size_t dropped;   /* messages not kept beyond CONFIG_ERRORS_MAX */
};

/* Fills CFG with the defaults above.  0, or -1 (ENOMEM; CFG is then safe to free). */
int config_defaults(struct capture_config *cfg);
/* Frees every field of CFG (not CFG itself) and zeroes it. */
void config_free(struct capture_config *cfg);

/*
 * Loads PATH into CFG (which config_load() initialises with the defaults)
 * and appends every problem to ERRS (initialised by the caller with
 * config_errors_init()).  Returns 0 if there was no error (warnings may
 * remain in ERRS), -1 otherwise; either way CFG must be config_free()d, and
 * after -1 it must not be used.
 */
int config_load(const char *path, struct capture_config *cfg, struct config_errors *errs);
/* The same from memory; NAME is used in messages and its directory for relative paths. */
int config_load_buffer(const char *name, const char *buf, size_t len, struct capture_config *cfg,
		       struct config_errors *errs);

void config_errors_init(struct config_errors *errs);
void config_errors_free(struct config_errors *errs);
/* Prints every message, one per line, and "... N more" if some were not kept. */
void config_print_errors(const struct config_errors *errs, FILE *out);

/*
 * Check mode (capture-server -n): loads PATH, prints its warnings and then
 * "configuration OK", or every problem.  0 if OK, -1 otherwise.
 */
int config_check(const char *path, FILE *out);

/* True if S (LEN bytes) is a client program name: 1..64 of [A-Za-z0-9._+-], a letter among them. */
bool config_client_name_ok(const char *s, size_t len);
/* "network-error", "vm-stalled", ... (the <retries> attribute of CLS). */
const char *config_retry_name(enum config_retry_class cls);

#endif
