/*
 * config.c - see config.h.
 *
 * The parser is table-driven: each element has a spec (its parent, whether
 * it may appear once, its attributes and a few hooks), each attribute a kind
 * that says how its text is checked and where the value goes (an offset
 * into the struct the element fills).  Expat calls start/end/text handlers;
 * an unknown element is reported once and its subtree skipped, so one pass
 * reports every problem.  Cross-element rules run after the document.
 */
#include "common/config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <expat.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/util.h"

#define MAX_FRAMES    3  /* config > virtual-machine-server > virtual-machine */
#define MAX_ATTRS     32 /* attributes of one element (bit mask of those given) */
#define QUOTE_MAX     60 /* bytes of a value shown in a message */
#define SANDBOX_COUNT 2  /* sandbox guests when no VM server is configured */

/* ---- messages ---- */

void config_errors_init(struct config_errors *errs)
{
	memset(errs, 0, sizeof(*errs));
}

void config_errors_free(struct config_errors *errs)
{
	for (size_t i = 0; i < errs->count; i++)
		free(errs->msgs[i]);
	free(errs->msgs);
	memset(errs, 0, sizeof(*errs));
}

/* Keeps MSG (taking ownership), or counts it as dropped. */
static void errors_keep(struct config_errors *errs, char *msg)
{
	if (msg && errs->count == errs->cap) {
		size_t cap = errs->cap ? errs->cap * 2 : 8;
		char **m = realloc(errs->msgs, cap * sizeof(*m));

		if (!m) {
			free(msg);
			msg = NULL;
		} else {
			errs->msgs = m;
			errs->cap = cap;
		}
	}
	if (!msg) {
		errs->dropped++;
		return;
	}
	errs->msgs[errs->count++] = msg;
}

static void errors_vadd(struct config_errors *errs, bool warning, const char *fmt, va_list ap)
{
	char *msg = NULL;

	if (warning)
		errs->nwarnings++;
	else
		errs->nerrors++;
	if (errs->count >= CONFIG_ERRORS_MAX) {
		errs->dropped++;
		return;
	}
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	errors_keep(errs, msg);
}

static void errors_add(struct config_errors *errs, bool warning, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void errors_add(struct config_errors *errs, bool warning, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	errors_vadd(errs, warning, fmt, ap);
	va_end(ap);
}

void config_print_errors(const struct config_errors *errs, FILE *out)
{
	for (size_t i = 0; i < errs->count; i++)
		fprintf(out, "%s\n", errs->msgs[i]);
	if (errs->dropped)
		fprintf(out, "... and %zu more problems not shown\n", errs->dropped);
}

/* ---- names ---- */

bool config_client_name_ok(const char *s, size_t len)
{
	bool letter = false;

	if (len == 0 || len > CONFIG_CLIENT_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
			letter = true;
		else if (!(c >= '0' && c <= '9') && c != '.' && c != '_' && c != '+' && c != '-')
			return false;
	}
	return letter;
}

/* ---- defaults and freeing ---- */

static int set_str(char **dst, const char *s)
{
	char *copy = s ? strdup(s) : NULL;

	if (s && !copy)
		return -1;
	free(*dst);
	*dst = copy;
	return 0;
}

int config_defaults(struct capture_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->client_default_visit_time = 20;
	cfg->terminate = true;
	cfg->group_size = 20;
	cfg->client_inactivity_timeout = 60;
	cfg->revert_timeout = 120;
	cfg->vm_stalled_after_revert_timeout = 120;
	cfg->vm_stalled_during_operation_timeout = 300;
	cfg->same_vm_revert_delay = 6;
	cfg->different_vm_revert_delay = 24;
	cfg->db_type = CONFIG_DB_SQLITE;
	cfg->listen_port = 7070;
	cfg->sandbox_count = SANDBOX_COUNT;
	cfg->sandbox_network = CONFIG_NET_NAT;
	cfg->sandbox_tmpfs_bytes = 512ull << 20;
	cfg->sandbox_memory_bytes = 2ull << 30;
	cfg->sandbox_pids_max = 1024;
	for (int i = 0; i < CONFIG_RETRY_COUNT; i++)
		cfg->retries[i] = 1;
	if (set_str(&cfg->client_default, "chromium") < 0 ||
	    set_str(&cfg->db_url, "capture.db") < 0 ||
	    set_str(&cfg->listen_address, "127.0.0.1") < 0 ||
	    set_str(&cfg->log_directory, "log") < 0 || set_str(&cfg->sandbox_root, "/") < 0)
		return -1;
	return 0;
}

static void free_vm_server(struct config_vm_server *s)
{
	for (size_t i = 0; i < s->nvms; i++) {
		free(s->vms[i].vm_path);
		free(s->vms[i].client_path);
		free(s->vms[i].username);
		free(s->vms[i].password);
		free(s->vms[i].snapshot);
	}
	free(s->vms);
	free(s->address);
	free(s->username);
	free(s->password);
	free(s->uri);
	free(s->revert_command);
}

void config_free(struct capture_config *cfg)
{
	for (size_t i = 0; i < cfg->nexclusion_lists; i++)
		free(cfg->exclusion_lists[i].file);
	free(cfg->exclusion_lists);
	for (size_t i = 0; i < cfg->nvm_servers; i++)
		free_vm_server(&cfg->vm_servers[i]);
	free(cfg->vm_servers);
	for (size_t i = 0; i < cfg->napplications; i++) {
		free(cfg->applications[i].name);
		free(cfg->applications[i].path);
	}
	free(cfg->applications);
	free(cfg->path);
	free(cfg->client_default);
	free(cfg->db_url);
	free(cfg->db_username);
	free(cfg->db_password);
	free(cfg->listen_address);
	free(cfg->auth_key_file);
	free(cfg->log_directory);
	free(cfg->sandbox_root);
	free(cfg->sandbox_client_path);
	free(cfg->sandbox_services);
	free(cfg->applications_file);
	memset(cfg, 0, sizeof(*cfg));
}

/* ---- element and attribute specs ---- */

enum attr_kind {
	ATTR_BOOL,     /* bool: true/false/1/0/yes/no */
	ATTR_UINT,     /* unsigned integer of WIDTH bytes in [min, max] */
	ATTR_SIZE,     /* uint64_t bytes with K/M/G suffix in [min, max] */
	ATTR_SIZE0,    /* the same, or 0 ("no limit") */
	ATTR_STRING,   /* char *, any text */
	ATTR_TEXT,     /* char *, not empty */
	ATTR_CLIENT,   /* char *, a client program name */
	ATTR_ADDRESS,  /* char *, IPv4 or IPv6 literal */
	ATTR_ENUM,     /* int, one of NAMES (case-insensitive) */
	ATTR_INPUT,    /* char *, readable file, relative to the config's directory; "" = NULL */
	ATTR_SECRET,   /* as ATTR_INPUT, and no access for group or others */
	ATTR_DIR,      /* char *, directory, relative to the config's directory */
	ATTR_EXEC,     /* char *, executable file, relative to the config's directory; "" = NULL */
	ATTR_OBSOLETE, /* accepted with a warning (historic options) */
};

struct enum_name {
	const char *name;
	int value;
};

struct attr_spec {
	const char *name;
	enum attr_kind kind;
	bool required;
	size_t offset; /* into the element's target */
	size_t width;  /* ATTR_UINT: bytes of the field */
	uint64_t min, max;
	const struct enum_name *names; /* ATTR_ENUM, ends with a NULL name */
};

#define FIELD(type, f) offsetof(type, f), sizeof(((type *)0)->f)
#define CFG(f)         FIELD(struct capture_config, f)
#define A_BOOL(n, f)                                                                               \
	{                                                                                          \
		n, ATTR_BOOL, false, CFG(f), 0, 0, NULL                                            \
	}
#define A_UINT(n, f, lo, hi)                                                                       \
	{                                                                                          \
		n, ATTR_UINT, false, CFG(f), lo, hi, NULL                                          \
	}
#define A_END                                                                                      \
	{                                                                                          \
		NULL, ATTR_STRING, false, 0, 0, 0, 0, NULL                                         \
	}

static const struct attr_spec global_attrs[] = {
    A_BOOL("collect-modified-files", collect_modified_files),
    {"client-default", ATTR_CLIENT, false, CFG(client_default), 0, 0, NULL},
    A_UINT("client-default-visit-time", client_default_visit_time, 0, CONFIG_VISIT_TIME_MAX_S),
    A_BOOL("capture-network-packets-malicious", capture_network_packets_malicious),
    A_BOOL("capture-network-packets-benign", capture_network_packets_benign),
    A_BOOL("send-exclusion-lists", send_exclusion_lists),
    A_BOOL("terminate", terminate),
    A_UINT("group_size", group_size, 1, 1000),
    A_UINT("client_inactivity_timeout", client_inactivity_timeout, 1, 86400),
    A_UINT("revert_timeout", revert_timeout, 1, 86400),
    A_UINT("vm_stalled_after_revert_timeout", vm_stalled_after_revert_timeout, 1, 86400),
    A_UINT("vm_stalled_during_operation_timeout", vm_stalled_during_operation_timeout, 1, 86400),
    A_UINT("same_vm_revert_delay", same_vm_revert_delay, 0, 3600),
    A_UINT("different_vm_revert_delay", different_vm_revert_delay, 0, 3600),
    {"p_m", ATTR_OBSOLETE, false, 0, 0, 0, 0, NULL},
    {"timeout_factor", ATTR_OBSOLETE, false, 0, 0, 0, 0, NULL},
    A_END,
};

static const struct enum_name db_types[] = {
    {"sqlite", CONFIG_DB_SQLITE},
    {"postgresql", CONFIG_DB_POSTGRESQL},
    {"mysql", CONFIG_DB_MYSQL},
    {"mariadb", CONFIG_DB_MYSQL},
    {NULL, 0},
};

static const struct attr_spec database_attrs[] = {
    {"database-type", ATTR_ENUM, true, CFG(db_type), 0, 0, db_types},
    {"database-url", ATTR_TEXT, false, CFG(db_url), 0, 0, NULL},
    {"database-username", ATTR_STRING, false, CFG(db_username), 0, 0, NULL},
    {"database-password", ATTR_STRING, false, CFG(db_password), 0, 0, NULL},
    A_END,
};

static const struct enum_name monitors[] = {
    {"file", CONFIG_MON_FILE},
    {"process", CONFIG_MON_PROCESS},
    {"connection", CONFIG_MON_CONNECTION},
    {"system", CONFIG_MON_SYSTEM},
    {"registry", CONFIG_MON_REGISTRY},
    {NULL, 0},
};

#define EXL(f) FIELD(struct config_exclusion_list, f)
static const struct attr_spec exclusion_attrs[] = {
    {"monitor", ATTR_ENUM, true, EXL(monitor), 0, 0, monitors},
    {"file", ATTR_INPUT, true, EXL(file), 0, 0, NULL},
    A_END,
};

static const struct enum_name vms_types[] = {
    {"libvirt", CONFIG_VMS_LIBVIRT},      {"command", CONFIG_VMS_COMMAND},
    {"no-vm-server", CONFIG_VMS_NONE},    {"mock-vm-server", CONFIG_VMS_MOCK},
    {"vmware-server", CONFIG_VMS_VMWARE}, {NULL, 0},
};

#define VMS(f) FIELD(struct config_vm_server, f)
static const struct attr_spec vms_attrs[] = {
    {"type", ATTR_ENUM, true, VMS(type), 0, 0, vms_types},
    {"address", ATTR_TEXT, false, VMS(address), 0, 0, NULL},
    {"port", ATTR_UINT, false, VMS(port), 0, 65535, NULL},
    {"username", ATTR_STRING, false, VMS(username), 0, 0, NULL},
    {"password", ATTR_STRING, false, VMS(password), 0, 0, NULL},
    {"uri", ATTR_TEXT, false, VMS(uri), 0, 0, NULL},
    {"revert-command", ATTR_TEXT, false, VMS(revert_command), 0, 0, NULL},
    A_END,
};

#define VM(f) FIELD(struct config_vm, f)
static const struct attr_spec vm_attrs[] = {
    {"vm-path", ATTR_TEXT, true, VM(vm_path), 0, 0, NULL},
    {"client-path", ATTR_TEXT, false, VM(client_path), 0, 0, NULL},
    {"username", ATTR_STRING, false, VM(username), 0, 0, NULL},
    {"password", ATTR_STRING, false, VM(password), 0, 0, NULL},
    {"snapshot", ATTR_TEXT, false, VM(snapshot), 0, 0, NULL},
    A_END,
};

static const struct attr_spec plugin_attrs[] = {
    {"classname", ATTR_TEXT, true, 0, 0, 0, 0, NULL},
    A_END,
};

static const struct attr_spec server_attrs[] = {
    {"listen-address", ATTR_ADDRESS, false, CFG(listen_address), 0, 0, NULL},
    {"listen-port", ATTR_UINT, false, CFG(listen_port), 1, 65535, NULL},
    {"auth-key-file", ATTR_SECRET, false, CFG(auth_key_file), 0, 0, NULL},
    {"log-directory", ATTR_TEXT, false, CFG(log_directory), 0, 0, NULL},
    A_END,
};

static const struct enum_name net_modes[] = {
    {"none", CONFIG_NET_NONE},
    {"services", CONFIG_NET_SERVICES},
    {"nat", CONFIG_NET_NAT},
    {NULL, 0},
};

static const struct attr_spec sandbox_attrs[] = {
    A_UINT("count", sandbox_count, 0, 256),
    {"network", ATTR_ENUM, false, CFG(sandbox_network), 0, 0, net_modes},
    {"root", ATTR_DIR, false, CFG(sandbox_root), 0, 0, NULL},
    {"tmpfs-size", ATTR_SIZE, false, CFG(sandbox_tmpfs_bytes), 1ull << 16, 1ull << 40, NULL},
    {"memory", ATTR_SIZE0, false, CFG(sandbox_memory_bytes), 1ull << 16, 1ull << 40, NULL},
    A_UINT("pids", sandbox_pids_max, 0, 1000000),
    {"client-path", ATTR_EXEC, false, CFG(sandbox_client_path), 0, 0, NULL},
    {"services-namespace", ATTR_TEXT, false, CFG(sandbox_services), 0, 0, NULL},
    A_END,
};

#define APP(f) FIELD(struct config_application, f)
static const struct attr_spec application_attrs[] = {
    {"name", ATTR_CLIENT, true, APP(name), 0, 0, NULL},
    {"path", ATTR_TEXT, true, APP(path), 0, 0, NULL},
    {"download", ATTR_BOOL, false, APP(download), 0, 0, NULL},
    A_END,
};

static const struct attr_spec applications_attrs[] = {
    {"file", ATTR_INPUT, true, CFG(applications_file), 0, 0, NULL},
    A_END,
};

#define A_RETRY(n, c)                                                                              \
	{                                                                                          \
		n, ATTR_UINT, false, CFG(retries[c]), 0, CONFIG_RETRIES_MAX, NULL                  \
	}
/* In enum config_retry_class order: config_retry_name() indexes it. */
static const struct attr_spec retries_attrs[] = {
    A_RETRY("network-error", CONFIG_RETRY_NETWORK_ERROR),
    A_RETRY("process-error", CONFIG_RETRY_PROCESS_ERROR),
    A_RETRY("timeout-error", CONFIG_RETRY_TIMEOUT_ERROR),
    A_RETRY("attach-process-error", CONFIG_RETRY_ATTACH_PROCESS_ERROR),
    A_RETRY("visitation-exception", CONFIG_RETRY_VISITATION_EXCEPTION),
    A_RETRY("client-inactivity", CONFIG_RETRY_CLIENT_INACTIVITY),
    A_RETRY("vm-stalled", CONFIG_RETRY_VM_STALLED),
    A_RETRY("connection-reset", CONFIG_RETRY_CONNECTION_RESET),
    A_RETRY("socket-error", CONFIG_RETRY_SOCKET_ERROR),
    A_RETRY("sandbox-error", CONFIG_RETRY_SANDBOX_ERROR),
    A_RETRY("inconclusive", CONFIG_RETRY_INCONCLUSIVE),
    A_END,
};
_Static_assert(ARRAY_SIZE(retries_attrs) == CONFIG_RETRY_COUNT + 1, "one attribute per class");

const char *config_retry_name(enum config_retry_class cls)
{
	return (unsigned)cls < CONFIG_RETRY_COUNT ? retries_attrs[cls].name : "?";
}

enum elem_id {
	EL_CONFIG = 0,
	EL_GLOBAL,
	EL_DATABASE,
	EL_EXCLUSION,
	EL_VMS,
	EL_VM,
	EL_PREPROCESSOR,
	EL_POSTPROCESSOR,
	EL_SERVER,
	EL_SANDBOX,
	EL_APPLICATION,
	EL_APPLICATIONS,
	EL_RETRIES,
	EL_COUNT
};

struct parser;

struct elem_spec {
	const char *name;
	int parent; /* enum elem_id, -1 for the root */
	bool once;  /* at most one */
	bool text;  /* character data allowed (plug-in configuration) */
	const struct attr_spec *attrs;
	/* Where the attributes go (a new list item, or the config); NULL on ENOMEM. */
	void *(*begin)(struct parser *p); /* NULL: the attributes are only checked */
	/* Checks after the attributes; GIVEN has bit i set if attrs[i] was present. */
	void (*after)(struct parser *p, void *target, uint32_t given);
	/* At the end tag. */
	void (*close)(struct parser *p);
};

struct frame {
	int elem;           /* enum elem_id */
	unsigned long line; /* of the start tag, 1-based */
	unsigned long col;  /* 1-based */
	bool text_reported; /* "unexpected text" said once per element */
};

struct parser {
	XML_Parser xp;
	const char *file; /* name in messages */
	char *dir;        /* directory for relative inputs; NULL = as written */
	struct capture_config *cfg;
	struct config_errors *errs;
	struct frame stack[MAX_FRAMES];
	int depth;                          /* frames in stack */
	unsigned long skip;                 /* > 0: inside a skipped subtree, its depth */
	unsigned long first_line[EL_COUNT]; /* first occurrence, 0 = not seen */
	unsigned long first_col[EL_COUNT];
	bool group_size_given;
	bool sandbox_count_given;
	bool p_m_given;
	double p_m;   /* historic expected malicious fraction */
	bool doctype; /* stopped on a DOCTYPE */
	bool oom;
};

/* ---- reporting ---- */

static void report_at(struct parser *p, unsigned long line, unsigned long col, bool warning,
		      const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void report_at(struct parser *p, unsigned long line, unsigned long col, bool warning,
		      const char *fmt, ...)
{
	char *body = NULL;
	va_list ap;

	if (p->errs->count >= CONFIG_ERRORS_MAX) {
		errors_add(p->errs, warning, "(not kept)"); /* only counted */
		return;
	}
	va_start(ap, fmt);
	if (vasprintf(&body, fmt, ap) < 0)
		body = NULL;
	va_end(ap);
	errors_add(p->errs, warning, "%s:%lu:%lu: %s%s", p->file, line, col,
		   warning ? "warning: " : "", body ? body : "(out of memory)");
	free(body);
}

/* The place of the element being handled (top frame). */
#define REPORT(p, warn, ...)                                                                       \
	report_at(p, (p)->stack[(p)->depth - 1].line, (p)->stack[(p)->depth - 1].col, warn,        \
		  __VA_ARGS__)

/* Writes V shown safely (escaped, at most QUOTE_MAX bytes, "..." if cut) into OUT. */
static void quote(char *out, size_t outlen, const char *v)
{
	size_t len = strlen(v), n = len > QUOTE_MAX ? QUOTE_MAX : len;
	char *esc = util_escape_dup(v, n);

	snprintf(out, outlen, "%s%s", esc ? esc : "?", n < len ? "..." : "");
	free(esc);
}

/* "a, b, c" of the attribute names of SPEC (or NAMES of an enum) into OUT. */
static void list_attrs(char *out, size_t outlen, const struct attr_spec *spec)
{
	size_t used = 0;

	out[0] = '\0';
	for (; spec && spec->name && used < outlen; spec++)
		used += (size_t)snprintf(out + used, outlen - used, "%s%s", used ? ", " : "",
					 spec->name);
}

static void list_enum(char *out, size_t outlen, const struct enum_name *names)
{
	size_t used = 0;

	out[0] = '\0';
	for (; names->name && used < outlen; names++)
		used += (size_t)snprintf(out + used, outlen - used, "%s%s", used ? ", " : "",
					 names->name);
}

/* '-' and '_' count as equal: the original mixes them (group_size, client-default). */
static bool same_char(char a, char b)
{
	return a == b || ((a == '-' || a == '_') && (b == '-' || b == '_'));
}

/* Edit distance of A and B if both are short, capped at 3 (for "did you mean"). */
static unsigned distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	unsigned row[48], prev;

	if (la >= 47 || lb >= 47)
		return 3;
	for (size_t j = 0; j <= lb; j++)
		row[j] = (unsigned)j;
	for (size_t i = 1; i <= la; i++) {
		prev = row[0];
		row[0] = (unsigned)i;
		for (size_t j = 1; j <= lb; j++) {
			unsigned cur = row[j];
			unsigned sub = prev + !same_char(a[i - 1], b[j - 1]);

			row[j] = sub;
			if (row[j - 1] + 1 < row[j])
				row[j] = row[j - 1] + 1;
			if (cur + 1 < row[j])
				row[j] = cur + 1;
			prev = cur;
		}
	}
	return row[lb] < 3 ? row[lb] : 3;
}

/* "; did you mean 'x'?" for the closest name within 2 edits, or "". */
static void suggest(char *out, size_t outlen, const char *name, const char *const *cands, size_t n)
{
	unsigned best = 3;
	const char *pick = NULL;

	out[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		unsigned d = distance(name, cands[i]);

		if (d < best) {
			best = d;
			pick = cands[i];
		}
	}
	if (pick)
		snprintf(out, outlen, "; did you mean '%s'?", pick);
}

static void note_oom(struct parser *p)
{
	if (!p->oom)
		errors_add(p->errs, false, "%s: out of memory", p->file);
	p->oom = true;
	XML_StopParser(p->xp, XML_FALSE);
}

/* ---- value parsing ---- */

static int parse_bool(const char *v, bool *out)
{
	static const char *const yes[] = {"true", "1", "yes"}, *const no[] = {"false", "0", "no"};

	for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
		if (strcasecmp(v, yes[i]) == 0 || strcasecmp(v, no[i]) == 0) {
			*out = strcasecmp(v, yes[i]) == 0;
			return 0;
		}
	}
	return -1;
}

static void store_uint(void *field, size_t width, uint64_t v)
{
	if (width == sizeof(uint16_t))
		*(uint16_t *)field = (uint16_t)v;
	else if (width == sizeof(uint32_t))
		*(uint32_t *)field = (uint32_t)v;
	else
		*(uint64_t *)field = v;
}

/* "64K", "1T", "512M" for a power-of-two boundary, else the number. */
static void format_size(char *out, size_t outlen, uint64_t v)
{
	static const char suffix[] = "KMGT";
	int i = -1;

	while (v >= 1024 && v % 1024 == 0 && i < 3) {
		v /= 1024;
		i++;
	}
	if (i < 0)
		snprintf(out, outlen, "%llu", (unsigned long long)v);
	else
		snprintf(out, outlen, "%llu%c", (unsigned long long)v, suffix[i]);
}

/* Joins a relative path to the config's directory; NULL on ENOMEM. */
static char *resolve(const struct parser *p, const char *v)
{
	char *out = NULL;

	if (v[0] == '/' || !p->dir)
		return strdup(v);
	if (asprintf(&out, "%s/%s", p->dir, v) < 0)
		return NULL;
	return out;
}

/*
 * Checks that PATH exists with the properties KIND asks for; on failure
 * writes the reason (after "cannot use '...': ") into WHY.
 */
static int check_path(const char *path, enum attr_kind kind, char *why, size_t whylen)
{
	struct stat st;

	if (stat(path, &st) < 0) {
		snprintf(why, whylen, "%s", strerror(errno));
		return -1;
	}
	if (kind == ATTR_DIR) {
		if (!S_ISDIR(st.st_mode)) {
			snprintf(why, whylen, "not a directory");
			return -1;
		}
		return 0;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(why, whylen, "not a regular file");
		return -1;
	}
	if (access(path, kind == ATTR_EXEC ? X_OK : R_OK) < 0) {
		snprintf(why, whylen, "%s", strerror(errno));
		return -1;
	}
	if (kind == ATTR_SECRET && (st.st_mode & 077)) {
		snprintf(why, whylen, "readable by group or others (mode %04o); chmod 600 it",
			 (unsigned)(st.st_mode & 07777));
		return -1;
	}
	return 0;
}

/* Stores a path attribute; 0, or -1 after reporting. */
static int set_path(struct parser *p, const struct attr_spec *a, const char *v, char **field)
{
	char why[160], shown[QUOTE_MAX * 4 + 8];
	char *path;

	if (!*v && (a->required || a->kind == ATTR_DIR)) {
		REPORT(p, false, "%s: expected a path, found ''", a->name);
		return -1;
	}
	if (!*v) {
		free(*field);
		*field = NULL; /* "" = none */
		return 0;
	}
	path = resolve(p, v);
	if (!path) {
		note_oom(p);
		return -1;
	}
	if (check_path(path, a->kind, why, sizeof(why)) < 0) {
		quote(shown, sizeof(shown), path);
		REPORT(p, false, "%s: cannot use '%s': %s", a->name, shown, why);
		free(path);
		return -1;
	}
	free(*field);
	*field = path;
	return 0;
}

static int parse_enum(const struct enum_name *names, const char *v, int *out)
{
	for (; names->name; names++) {
		if (strcasecmp(v, names->name) == 0) {
			*out = names->value;
			return 0;
		}
	}
	return -1;
}

/* Writes "expected ..." for kind A into OUT (the value was rejected). */
static void expected(const struct attr_spec *a, char *out, size_t outlen)
{
	char lo[32], hi[32], list[256];

	switch (a->kind) {
	case ATTR_BOOL: snprintf(out, outlen, "true or false"); break;
	case ATTR_UINT:
		snprintf(out, outlen, "an integer between %llu and %llu",
			 (unsigned long long)a->min, (unsigned long long)a->max);
		break;
	case ATTR_SIZE:
	case ATTR_SIZE0:
		format_size(lo, sizeof(lo), a->min);
		format_size(hi, sizeof(hi), a->max);
		snprintf(out, outlen,
			 "%sa size in bytes between %s and %s (suffix K, M or G allowed)",
			 a->kind == ATTR_SIZE0 ? "0 (no limit) or " : "", lo, hi);
		break;
	case ATTR_CLIENT:
		snprintf(out, outlen,
			 "a client program name (1 to %d letters, digits, '.', '_', "
			 "'+' or '-', with at least one letter)",
			 CONFIG_CLIENT_NAME_MAX);
		break;
	case ATTR_ADDRESS: snprintf(out, outlen, "an IPv4 or IPv6 address"); break;
	case ATTR_ENUM:
		list_enum(list, sizeof(list), a->names);
		snprintf(out, outlen, "one of %s", list);
		break;
	default: snprintf(out, outlen, "a non-empty value"); break;
	}
}

/* Parses V for A into FIELD; 0, or -1 if V is not acceptable (paths report themselves). */
static int parse_value(struct parser *p, const struct attr_spec *a, const char *v, void *field)
{
	unsigned char addr[16];
	uint64_t n;

	switch (a->kind) {
	case ATTR_BOOL: return parse_bool(v, field);
	case ATTR_UINT:
		if (util_parse_u64(v, a->min, a->max, &n) < 0)
			return -1;
		store_uint(field, a->width, n);
		return 0;
	case ATTR_SIZE:
	case ATTR_SIZE0:
		if (util_parse_size(v, &n) < 0 ||
		    ((n != 0 || a->kind == ATTR_SIZE) && (n < a->min || n > a->max)))
			return -1;
		*(uint64_t *)field = n;
		return 0;
	case ATTR_ENUM: return parse_enum(a->names, v, field);
	case ATTR_CLIENT:
		if (!config_client_name_ok(v, strlen(v)))
			return -1;
		break;
	case ATTR_ADDRESS:
		if (inet_pton(AF_INET, v, addr) != 1 && inet_pton(AF_INET6, v, addr) != 1)
			return -1;
		break;
	case ATTR_TEXT:
		if (!*v)
			return -1;
		break;
	default: break;
	}
	if (set_str(field, v) < 0)
		note_oom(p);
	return 0;
}

/* The historic <global> options: accepted so that 2.1/2.2 files load, with a warning. */
static void obsolete_attr(struct parser *p, const char *name, const char *v)
{
	char *end = NULL;
	double d;

	if (strcmp(name, "timeout_factor") == 0) {
		REPORT(p, true,
		       "timeout_factor is obsolete (Capture-HPC 2.1-2.2) and ignored; "
		       "set the *_timeout options instead");
		return;
	}
	errno = 0;
	d = strtod(v, &end);
	if (!*v || *end || errno || !(d >= 0.0 && d <= 1.0)) {
		char shown[QUOTE_MAX * 4 + 8];

		quote(shown, sizeof(shown), v);
		REPORT(p, false, "p_m: expected a fraction between 0.0 and 1.0, found '%s'", shown);
		return;
	}
	p->p_m = d;
	p->p_m_given = true;
}

static void attribute(struct parser *p, const struct attr_spec *a, void *target, const char *v)
{
	char want[512], shown[QUOTE_MAX * 4 + 8];
	void *field = (char *)target + a->offset;

	if (a->kind == ATTR_OBSOLETE) {
		obsolete_attr(p, a->name, v);
		return;
	}
	if (a->kind == ATTR_INPUT || a->kind == ATTR_SECRET || a->kind == ATTR_DIR ||
	    a->kind == ATTR_EXEC) {
		set_path(p, a, v, field);
		return;
	}
	if (parse_value(p, a, v, field) == 0)
		return;
	expected(a, want, sizeof(want));
	quote(shown, sizeof(shown), v);
	REPORT(p, false, "%s: expected %s, found '%s'", a->name, want, shown);
}

/* ---- element hooks ---- */

/* Appends a zeroed item to *ARR (N items of SIZE bytes); NULL on ENOMEM. */
static void *append(void **arr, size_t *n, size_t size)
{
	char *a = *arr;

	/* capacity is the next power of two of n: grow when n is 0 or a power of two */
	if ((*n & (*n - 1)) == 0) {
		size_t cap = *n ? *n * 2 : 1;

		a = realloc(a, cap * size);
		if (!a)
			return NULL;
		*arr = a;
	}
	memset(a + *n * size, 0, size);
	return a + (*n)++ * size;
}

static unsigned long cur_line(const struct parser *p)
{
	return p->stack[p->depth - 1].line;
}

static void *begin_config(struct parser *p)
{
	return p->cfg;
}

static void *begin_exclusion(struct parser *p)
{
	struct config_exclusion_list *l =
	    append((void **)&p->cfg->exclusion_lists, &p->cfg->nexclusion_lists, sizeof(*l));

	if (l)
		l->line = (unsigned)cur_line(p);
	return l;
}

static void *begin_vms(struct parser *p)
{
	struct config_vm_server *s =
	    append((void **)&p->cfg->vm_servers, &p->cfg->nvm_servers, sizeof(*s));

	if (s)
		s->line = (unsigned)cur_line(p);
	return s;
}

static void *begin_vm(struct parser *p)
{
	struct config_vm_server *s = &p->cfg->vm_servers[p->cfg->nvm_servers - 1];
	struct config_vm *vm = append((void **)&s->vms, &s->nvms, sizeof(*vm));

	if (vm)
		vm->line = (unsigned)cur_line(p);
	return vm;
}

static void *begin_application(struct parser *p)
{
	struct config_application *a =
	    append((void **)&p->cfg->applications, &p->cfg->napplications, sizeof(*a));

	if (a)
		a->line = (unsigned)cur_line(p);
	return a;
}

static bool given(uint32_t mask, const struct attr_spec *attrs, const char *name)
{
	for (uint32_t i = 0; attrs[i].name; i++)
		if (strcmp(attrs[i].name, name) == 0)
			return mask & (1u << i);
	return false;
}

static void after_global(struct parser *p, void *target, uint32_t mask)
{
	(void)target;
	p->group_size_given = given(mask, global_attrs, "group_size");
}

static void after_database(struct parser *p, void *target, uint32_t mask)
{
	(void)target;
	if (p->cfg->db_type != CONFIG_DB_SQLITE && !given(mask, database_attrs, "database-url"))
		REPORT(p, false, "<database> of type %s needs a database-url",
		       p->cfg->db_type == CONFIG_DB_MYSQL ? "MySQL" : "PostgreSQL");
}

static void after_vms(struct parser *p, void *target, uint32_t mask)
{
	struct config_vm_server *s = target;

	if (s->type == CONFIG_VMS_VMWARE)
		REPORT(p, false,
		       "type: 'vmware-server' (VMware Server 1.x through VIX) is not "
		       "supported; use type=\"libvirt\", or type=\"command\" with a "
		       "revert-command such as vmrun");
	if (s->type == CONFIG_VMS_COMMAND && !s->revert_command)
		REPORT(p, false,
		       "<virtual-machine-server type=\"command\"> needs a revert-command");
	if (s->type != CONFIG_VMS_COMMAND && given(mask, vms_attrs, "revert-command"))
		REPORT(p, true, "revert-command is only used with type=\"command\"; ignored");
	if (s->type != CONFIG_VMS_LIBVIRT && given(mask, vms_attrs, "uri"))
		REPORT(p, true, "uri is only used with type=\"libvirt\"; ignored");
}

static void close_vms(struct parser *p)
{
	struct config_vm_server *s;

	if (!p->cfg->nvm_servers)
		return;
	s = &p->cfg->vm_servers[p->cfg->nvm_servers - 1];
	if (s->nvms == 0)
		REPORT(p, false, "<virtual-machine-server> needs at least one <virtual-machine>");
}

static void after_plugin(struct parser *p, void *target, uint32_t mask)
{
	(void)target;
	(void)mask;
	REPORT(p, true, "<%s>: Java plug-ins are not supported; ignored",
	       p->stack[p->depth - 1].elem == EL_PREPROCESSOR ? "preprocessor" : "postprocessor");
}

static void after_sandbox(struct parser *p, void *target, uint32_t mask)
{
	(void)target;
	p->sandbox_count_given = given(mask, sandbox_attrs, "count");
}

static void after_application(struct parser *p, void *target, uint32_t mask)
{
	struct config_application *app = target;

	(void)mask;
	if (!app->name)
		return;
	for (size_t i = 0; i + 1 < p->cfg->napplications; i++) {
		if (p->cfg->applications[i].name &&
		    strcmp(p->cfg->applications[i].name, app->name) == 0)
			REPORT(p, false, "<application name=\"%s\"> is already defined at line %u",
			       app->name, p->cfg->applications[i].line);
	}
}

static const struct elem_spec elems[EL_COUNT] = {
    [EL_CONFIG] = {"config", -1, true, false, NULL, begin_config, NULL, NULL},
    [EL_GLOBAL] = {"global", EL_CONFIG, true, false, global_attrs, begin_config, after_global,
		   NULL},
    [EL_DATABASE] = {"database", EL_CONFIG, true, false, database_attrs, begin_config,
		     after_database, NULL},
    [EL_EXCLUSION] = {"exclusion-list", EL_CONFIG, false, false, exclusion_attrs, begin_exclusion,
		      NULL, NULL},
    [EL_VMS] = {"virtual-machine-server", EL_CONFIG, false, false, vms_attrs, begin_vms, after_vms,
		close_vms},
    [EL_VM] = {"virtual-machine", EL_VMS, false, false, vm_attrs, begin_vm, NULL, NULL},
    [EL_PREPROCESSOR] = {"preprocessor", EL_CONFIG, true, true, plugin_attrs, NULL, after_plugin,
			 NULL},
    [EL_POSTPROCESSOR] = {"postprocessor", EL_CONFIG, true, true, plugin_attrs, NULL, after_plugin,
			  NULL},
    [EL_SERVER] = {"server", EL_CONFIG, true, false, server_attrs, begin_config, NULL, NULL},
    [EL_SANDBOX] = {"sandbox-guests", EL_CONFIG, true, false, sandbox_attrs, begin_config,
		    after_sandbox, NULL},
    [EL_APPLICATION] = {"application", EL_CONFIG, false, false, application_attrs,
			begin_application, after_application, NULL},
    [EL_APPLICATIONS] = {"applications", EL_CONFIG, true, false, applications_attrs, begin_config,
			 NULL, NULL},
    [EL_RETRIES] = {"retries", EL_CONFIG, true, false, retries_attrs, begin_config, NULL, NULL},
};

/* ---- expat handlers ---- */

static const struct attr_spec *find_attr(const struct attr_spec *attrs, const char *name,
					 uint32_t *index)
{
	for (uint32_t i = 0; attrs && attrs[i].name; i++) {
		if (strcmp(attrs[i].name, name) == 0) {
			*index = i;
			return &attrs[i];
		}
	}
	return NULL;
}

static void unknown_attr(struct parser *p, const struct elem_spec *e, const char *name)
{
	const char *cands[MAX_ATTRS] = {NULL};
	char list[1024], hint[128], shown[QUOTE_MAX * 4 + 8];
	size_t n = 0;

	for (; e->attrs && e->attrs[n].name && n < MAX_ATTRS; n++)
		cands[n] = e->attrs[n].name;
	list_attrs(list, sizeof(list), e->attrs);
	suggest(hint, sizeof(hint), name, cands, n);
	quote(shown, sizeof(shown), name);
	if (n == 0)
		REPORT(p, false,
		       "unknown attribute '%s' in <%s> (expected only xmlns and xsi: "
		       "attributes)",
		       shown, e->name);
	else
		REPORT(p, false, "unknown attribute '%s' in <%s> (expected one of %s)%s", shown,
		       e->name, list, hint);
}

/* xmlns and xsi: attributes of the root (the original files carry a schema location). */
static bool root_attr_ok(const char *name)
{
	return strcmp(name, "xmlns") == 0 || strncmp(name, "xmlns:", 6) == 0 ||
	       strncmp(name, "xsi:", 4) == 0;
}

static void attributes(struct parser *p, const struct elem_spec *e, void *target,
		       const XML_Char **atts)
{
	uint32_t mask = 0, idx = 0;

	for (size_t i = 0; atts[i]; i += 2) {
		const struct attr_spec *a = find_attr(e->attrs, atts[i], &idx);

		if (!a) {
			if (!(e == &elems[EL_CONFIG] && root_attr_ok(atts[i])))
				unknown_attr(p, e, atts[i]);
			continue;
		}
		mask |= 1u << idx;
		if (target || a->kind == ATTR_OBSOLETE)
			attribute(p, a, target, atts[i + 1]);
	}
	for (uint32_t i = 0; e->attrs && e->attrs[i].name; i++)
		if (e->attrs[i].required && !(mask & (1u << i)))
			REPORT(p, false, "<%s> is missing required attribute '%s'", e->name,
			       e->attrs[i].name);
	if (e->after && !p->oom)
		e->after(p, target, mask);
}

/* The child spec NAME of the element PARENT, or -1. */
static int child_elem(int parent, const char *name)
{
	for (int i = 0; i < EL_COUNT; i++)
		if (elems[i].parent == parent && strcmp(elems[i].name, name) == 0)
			return i;
	return -1;
}

static void unknown_elem(struct parser *p, int parent, const char *name, unsigned long line,
			 unsigned long col)
{
	const char *cands[EL_COUNT] = {NULL};
	char list[512], hint[128], shown[QUOTE_MAX * 4 + 8];
	size_t n = 0, used = 0;

	list[0] = '\0';
	for (int i = 0; i < EL_COUNT; i++) {
		if (elems[i].parent != parent)
			continue;
		cands[n++] = elems[i].name;
		used += (size_t)snprintf(list + used, sizeof(list) - used, "%s%s", used ? ", " : "",
					 elems[i].name);
	}
	suggest(hint, sizeof(hint), name, cands, n);
	quote(shown, sizeof(shown), name);
	for (int i = 1; i < EL_COUNT; i++) {
		if (strcmp(elems[i].name, name) == 0) {
			report_at(p, line, col, false,
				  "unexpected element <%s> in <%s> (it belongs "
				  "in <%s>)",
				  name, elems[parent].name, elems[elems[i].parent].name);
			return;
		}
	}
	if (n == 0)
		report_at(p, line, col, false,
			  "unexpected element <%s> in <%s> (it has no child "
			  "elements)",
			  shown, elems[parent].name);
	else
		report_at(p, line, col, false,
			  "unknown element <%s> in <%s> (expected one of %s)%s", shown,
			  elems[parent].name, list, hint);
}

/* Decides which element NAME is here; -1 after reporting why it is not accepted. */
static int classify(struct parser *p, const char *name, unsigned long line, unsigned long col)
{
	int parent, id;
	char shown[QUOTE_MAX * 4 + 8];

	if (p->depth == 0) {
		if (strcmp(name, "config") == 0)
			return EL_CONFIG;
		quote(shown, sizeof(shown), name);
		report_at(p, line, col, false, "expected the root element <config>, found <%s>",
			  shown);
		return -1;
	}
	parent = p->stack[p->depth - 1].elem;
	id = child_elem(parent, name);
	if (id < 0) {
		unknown_elem(p, parent, name, line, col);
		return -1;
	}
	if (elems[id].once && p->first_line[id]) {
		report_at(p, line, col, false, "duplicate <%s> (the first one is at line %lu)",
			  name, p->first_line[id]);
		return -1;
	}
	return id;
}

static void XMLCALL on_start(void *ud, const XML_Char *name, const XML_Char **atts)
{
	struct parser *p = ud;
	unsigned long line = XML_GetCurrentLineNumber(p->xp);
	unsigned long col = XML_GetCurrentColumnNumber(p->xp) + 1;
	const struct elem_spec *e;
	void *target = NULL;
	int id;

	if (p->skip) {
		p->skip++;
		return;
	}
	id = classify(p, name, line, col);
	if (id < 0 || p->depth >= MAX_FRAMES) {
		p->skip = 1;
		return;
	}
	e = &elems[id];
	p->first_line[id] = p->first_line[id] ? p->first_line[id] : line;
	p->first_col[id] = p->first_col[id] ? p->first_col[id] : col;
	p->stack[p->depth++] = (struct frame){id, line, col, false};
	if (e->begin) {
		target = e->begin(p);
		if (!target) {
			note_oom(p);
			return;
		}
	}
	attributes(p, e, target, atts);
}

static void XMLCALL on_end(void *ud, const XML_Char *name)
{
	struct parser *p = ud;
	const struct elem_spec *e;

	(void)name;
	if (p->skip) {
		p->skip--;
		return;
	}
	if (p->depth == 0)
		return;
	e = &elems[p->stack[p->depth - 1].elem];
	if (e->close && !p->oom)
		e->close(p);
	p->depth--;
}

static void XMLCALL on_text(void *ud, const XML_Char *s, int len)
{
	struct parser *p = ud;
	struct frame *f;

	if (p->skip || p->depth == 0)
		return;
	f = &p->stack[p->depth - 1];
	if (elems[f->elem].text || f->text_reported)
		return;
	for (int i = 0; i < len; i++) {
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r') {
			f->text_reported = true;
			report_at(p, XML_GetCurrentLineNumber(p->xp),
				  XML_GetCurrentColumnNumber(p->xp) + 1, false,
				  "unexpected text in <%s> (only attributes and child elements)",
				  elems[f->elem].name);
			return;
		}
	}
}

/* A DTD could declare entities (and "billion laughs"): config.xml has no use for one. */
static void XMLCALL on_doctype(void *ud, const XML_Char *name, const XML_Char *sysid,
			       const XML_Char *pubid, int has_internal_subset)
{
	struct parser *p = ud;

	(void)name;
	(void)sysid;
	(void)pubid;
	(void)has_internal_subset;
	report_at(p, XML_GetCurrentLineNumber(p->xp), XML_GetCurrentColumnNumber(p->xp) + 1, false,
		  "DOCTYPE declarations are not allowed in a config file");
	p->doctype = true;
	XML_StopParser(p->xp, XML_FALSE);
}

/* ---- after the document ---- */

/* The 2.1 heuristic: expected malicious fraction -> group size. */
static unsigned p_m_group_size(double p_m)
{
	static const struct {
		double below;
		unsigned size;
	} map[] = {{0.005, 80}, {0.01, 40},  {0.015, 27}, {0.02, 20}, {0.025, 16},
		   {0.03, 13},  {0.035, 11}, {0.04, 10},  {0.045, 9}, {0.05, 8},
		   {0.06, 7},   {0.07, 6},   {0.09, 5}};

	for (size_t i = 0; i < ARRAY_SIZE(map); i++)
		if (p_m < map[i].below)
			return map[i].size;
	return 1;
}

static void finish_global(struct parser *p)
{
	struct capture_config *c = p->cfg;
	unsigned long line = p->first_line[EL_GLOBAL], col = p->first_col[EL_GLOBAL];

	if (p->p_m_given && !p->group_size_given) {
		c->group_size = p_m_group_size(p->p_m);
		report_at(p, line, col, true,
			  "p_m is obsolete (Capture-HPC 2.1-2.2); p_m=%g gives "
			  "group_size=%u as it did then",
			  p->p_m, c->group_size);
	} else if (p->p_m_given) {
		report_at(p, line, col, true, "p_m is obsolete and ignored: group_size is set");
	}
	if (line && c->client_default_visit_time >= c->vm_stalled_during_operation_timeout)
		report_at(p, line, col, true,
			  "client-default-visit-time (%u s) is not shorter than "
			  "vm_stalled_during_operation_timeout (%u s): every visit will be "
			  "declared stalled",
			  c->client_default_visit_time, c->vm_stalled_during_operation_timeout);
}

static void finish(struct parser *p)
{
	struct capture_config *c = p->cfg;

	finish_global(p);
	if (!p->sandbox_count_given)
		c->sandbox_count = c->nvm_servers ? 0 : SANDBOX_COUNT;
	if (c->sandbox_count == 0 && c->nvm_servers == 0)
		report_at(p, p->first_line[EL_CONFIG], p->first_col[EL_CONFIG], false,
			  "no guests: <sandbox-guests count> is 0 and there is no "
			  "<virtual-machine-server>");
}

/* ---- loading ---- */

/* Directory of NAME for relative inputs: NULL if NAME has none, "" for "/". */
static char *dir_of(const char *name)
{
	const char *slash = strrchr(name, '/');

	if (!slash)
		return NULL;
	return strndup(name, (size_t)(slash - name));
}

static void run_expat(struct parser *p, const char *buf, size_t len)
{
	enum XML_Status st;

	XML_SetUserData(p->xp, p);
	XML_SetElementHandler(p->xp, on_start, on_end);
	XML_SetCharacterDataHandler(p->xp, on_text);
	XML_SetStartDoctypeDeclHandler(p->xp, on_doctype);
	st = XML_Parse(p->xp, buf, (int)len, XML_TRUE);
	if (st == XML_STATUS_OK) {
		finish(p);
		return;
	}
	if (p->doctype || p->oom)
		return;
	report_at(p, XML_GetCurrentLineNumber(p->xp), XML_GetCurrentColumnNumber(p->xp) + 1, false,
		  "malformed XML: %s", XML_ErrorString(XML_GetErrorCode(p->xp)));
}

int config_load_buffer(const char *name, const char *buf, size_t len, struct capture_config *cfg,
		       struct config_errors *errs)
{
	struct parser p = {.file = name, .cfg = cfg, .errs = errs};
	size_t before = errs->nerrors;

	if (config_defaults(cfg) < 0 || set_str(&cfg->path, name) < 0) {
		errors_add(errs, false, "%s: out of memory", name);
		return -1;
	}
	if (len > CONFIG_MAX_BYTES) {
		errors_add(errs, false, "%s: larger than %u bytes", name, CONFIG_MAX_BYTES);
		return -1;
	}
	p.dir = dir_of(name);
	p.xp = XML_ParserCreate(NULL);
	if (!p.xp || (strchr(name, '/') && !p.dir)) {
		errors_add(errs, false, "%s: out of memory", name);
	} else {
		run_expat(&p, buf, len);
	}
	if (p.xp)
		XML_ParserFree(p.xp);
	free(p.dir);
	return errs->nerrors > before ? -1 : 0;
}

/* Reads up to LEN bytes into BUF; returns the count (less at end of file), -1 on error. */
static ssize_t read_all(int fd, char *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, buf + got, len - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

/* Reads PATH whole (at most CONFIG_MAX_BYTES); NULL after adding the reason to ERRS. */
static char *read_file(const char *path, size_t *len, struct config_errors *errs)
{
	CLEANUP_FD int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	ssize_t n;
	char *buf;

	if (fd < 0 || fstat(fd, &st) < 0) {
		errors_add(errs, false, "%s: cannot open: %s", path, strerror(errno));
		return NULL;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > (off_t)CONFIG_MAX_BYTES) {
		errors_add(errs, false, "%s: %s", path,
			   S_ISREG(st.st_mode) ? "larger than 1 MiB" : "not a regular file");
		return NULL;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		errors_add(errs, false, "%s: out of memory", path);
		return NULL;
	}
	n = read_all(fd, buf, (size_t)st.st_size);
	if (n < 0) {
		errors_add(errs, false, "%s: cannot read: %s", path, strerror(errno));
		free(buf);
		return NULL;
	}
	*len = (size_t)n;
	return buf;
}

int config_load(const char *path, struct capture_config *cfg, struct config_errors *errs)
{
	size_t len = 0;
	char *buf = read_file(path, &len, errs);
	int rc;

	if (!buf) {
		(void)config_defaults(cfg); /* safe to free even if this fails */
		return -1;
	}
	rc = config_load_buffer(path, buf, len, cfg, errs);
	free(buf);
	return rc;
}

int config_check(const char *path, FILE *out)
{
	struct capture_config cfg;
	struct config_errors errs;
	int rc;

	config_errors_init(&errs);
	rc = config_load(path, &cfg, &errs);
	config_print_errors(&errs, out);
	if (rc == 0)
		fprintf(out, "configuration OK\n");
	config_free(&cfg);
	config_errors_free(&errs);
	return rc;
}
