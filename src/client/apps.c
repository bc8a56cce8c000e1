/*
 * apps.c - application drivers and the applications.conf parser.
 */
#include "client/apps.h"
#include "client/apps/chromium.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common/protocol.h"
#include "common/util.h"

#define APPS_MAX_LINE 8192
#define MAX_ARGS      40

struct app_table {
	struct app_entry *v;
	size_t n, cap;
};

/* The executable a built-in driver runs: its override in T, else DEFAULT_PATH. */
static const char *builtin_exe(const struct app_table *t, const char *name,
			       const char *default_path)
{
	const struct app_entry *e = apps_find(t, name);

	return e ? e->path : default_path;
}

/* ---- built-in drivers ---- */

#define CURL_PATH     "/usr/bin/curl"
#define WGET_PATH     "/usr/bin/wget"
#define SH_PATH       "/bin/sh"
#define CHROMIUM_PATH "/usr/lib/chromium/chromium"
#define FIREFOX_PATH  "/usr/bin/firefox-esr"
#define DOWNLOAD_BASE "/tmp/capture-download-"
#define PROFILE_BASE  "/tmp/capture-profile-"

/*
 * The shell programs: the URL, file and path arrive as "$1", "$2", "$3".
 * curl -g (--globoff): curl would otherwise expand {a,b} and [1-9] in the URL.
 *
 * curl-sh ("$2" = curl): the body streams into a real "| sh", and the
 * script exits with curl's status, which a plain pipe would hide behind
 * sh's (dash has no pipefail).  curl's side of the pipe writes its status
 * on fd 3, the capture of $(...); sh gets neither fd 3 nor the saved stdout
 * (fd 4) so a daemon it leaves cannot hold the capture open.  The status is
 * curl's whatever the script does, so a fetch failure maps to an error code
 * and the script's own exit code never does.
 */
#define CURL_SH_SCRIPT                                                                             \
	"exec 4>&1; s=$({ { \"$2\" -gfsSL -- \"$1\" 3>&- 4>&-; echo $? >&3; } | "                  \
	"/bin/sh 3>&- >&4 4>&-; } 3>&1); exit \"${s:-1}\""
#define DOWNLOAD_SCRIPT                                                                            \
	"\"$4\" -gfsSL --connect-timeout 30 --max-time 60 -o \"$2\" -- \"$1\" && exec \"$3\" "     \
	"\"$2\""

enum builtin {
	BUILTIN_NONE = -1,
	BUILTIN_CURL,
	BUILTIN_WGET,
	BUILTIN_CURL_SH,
	BUILTIN_CHROMIUM,
	BUILTIN_FIREFOX,
};

static const char *const builtin_names[] = {"curl", "wget", "curl-sh", "chromium", "firefox"};

static enum builtin builtin_find(const char *name)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(builtin_names); i++) {
		if (strcasecmp(name, builtin_names[i]) == 0)
			return (enum builtin)i;
	}
	return BUILTIN_NONE;
}

bool apps_is_builtin(const char *name)
{
	return name && builtin_find(name) != BUILTIN_NONE;
}

const char *apps_algorithm_name(enum apps_algorithm a)
{
	switch (a) {
	case APPS_ALGO_SEQ: return "seq";
	case APPS_ALGO_DAC: return "dac";
	case APPS_ALGO_BULK: return "bulk";
	}
	return "?";
}

/* ---- errors ---- */

static void __attribute__((format(printf, 3, 4)))
plain_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || errlen == 0)
		return;
	va_start(ap, fmt);
	/* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): va_start is above */
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* ---- table ---- */

void apps_free(struct app_table *t)
{
	size_t i;

	if (!t)
		return;
	for (i = 0; i < t->n; i++) {
		free((char *)t->v[i].name);
		free((char *)t->v[i].path);
	}
	free(t->v);
	free(t);
}

size_t apps_count(const struct app_table *t)
{
	return t ? t->n : 0;
}

const struct app_entry *apps_get(const struct app_table *t, size_t i)
{
	return t && i < t->n ? &t->v[i] : NULL;
}

const struct app_entry *apps_find(const struct app_table *t, const char *name)
{
	size_t i;

	if (!t || !name)
		return NULL;
	for (i = 0; i < t->n; i++) {
		if (strcasecmp(t->v[i].name, name) == 0)
			return &t->v[i];
	}
	return NULL;
}

static int table_add(struct app_table *t, const char *name, size_t nlen, const char *path,
		     size_t plen, bool yes, unsigned line)
{
	struct app_entry *e;

	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 8;
		struct app_entry *v = realloc(t->v, cap * sizeof(*v));

		if (!v)
			return -1;
		t->v = v;
		t->cap = cap;
	}
	e = &t->v[t->n];
	e->name = strndup(name, nlen);
	e->path = strndup(path, plen);
	if (!e->name || !e->path) {
		free((char *)e->name);
		free((char *)e->path);
		return -1;
	}
	e->download_first = yes;
	e->line = line;
	t->n++;
	return 0;
}

/* ---- parser ---- */

struct field {
	const char *s;
	size_t len;
	unsigned col; /* 1-based */
};

struct line_ctx {
	const char *file;
	unsigned line;
	char *err;
	size_t errlen;
};

/* Splits at TAB into at most 4 fields; returns the count (4 = too many). */
static unsigned split_fields(const char *line, size_t len, struct field f[4])
{
	unsigned n = 0;
	size_t start = 0, i;

	for (i = 0; i <= len && n < 4; i++) {
		if (i == len || line[i] == '\t') {
			f[n].s = line + start;
			f[n].len = i - start;
			f[n].col = (unsigned)start + 1;
			n++;
			start = i + 1;
		}
	}
	return n;
}

static bool name_char_ok(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == '-';
}

static int check_name(const struct line_ctx *lc, const struct field *f)
{
	char q[200];
	size_t i;

	if (f->len == 0) {
		util_set_pos_err(lc->err, lc->errlen, lc->file, lc->line, f->col,
				 "empty program name");
		return -1;
	}
	if (f->len > APPS_MAX_NAME) {
		util_set_pos_err(lc->err, lc->errlen, lc->file, lc->line, f->col,
				 "program name longer than %d bytes", APPS_MAX_NAME);
		return -1;
	}
	for (i = 0; i < f->len; i++) {
		if (!name_char_ok(f->s[i])) {
			util_quote_sample(q, sizeof(q), f->s + i, 1);
			util_set_pos_err(
			    lc->err, lc->errlen, lc->file, lc->line, f->col + (unsigned)i,
			    "bad character '%s' in program name (allowed: A-Z a-z 0-9 . _ -)", q);
			return -1;
		}
	}
	return 0;
}

static int check_path(const struct line_ctx *lc, const struct field *f)
{
	char q[200];
	size_t i;

	if (f->len == 0 || f->s[0] != '/') {
		util_quote_sample(q, sizeof(q), f->s, f->len);
		util_set_pos_err(lc->err, lc->errlen, lc->file, lc->line, f->col,
				 "path must be absolute, found '%s'", q);
		return -1;
	}
	if (f->len > APPS_MAX_PATH) {
		util_set_pos_err(lc->err, lc->errlen, lc->file, lc->line, f->col,
				 "path longer than %d bytes", APPS_MAX_PATH);
		return -1;
	}
	for (i = 0; i < f->len; i++) {
		unsigned char c = (unsigned char)f->s[i];

		if (c < 0x20 || c == 0x7f) {
			util_set_pos_err(lc->err, lc->errlen, lc->file, lc->line,
					 f->col + (unsigned)i, "control byte 0x%02x in path", c);
			return -1;
		}
	}
	if (f->s[f->len - 1] == ' ') {
		util_set_pos_err(lc->err, lc->errlen, lc->file, lc->line,
				 f->col + (unsigned)f->len - 1, "trailing space in path");
		return -1;
	}
	return 0;
}

/* Third column: "yes" or "no" (case-insensitive); 1, 0 or -1. */
static int parse_yes(const struct line_ctx *lc, const struct field *f)
{
	char q[200];

	if (f->len == 3 && strncasecmp(f->s, "yes", 3) == 0)
		return 1;
	if (f->len == 2 && strncasecmp(f->s, "no", 2) == 0)
		return 0;
	util_quote_sample(q, sizeof(q), f->s, f->len);
	util_set_pos_err(lc->err, lc->errlen, lc->file, lc->line, f->col,
			 "third column must be 'yes' or 'no', found '%s'", q);
	return -1;
}

static int check_unique(const struct line_ctx *lc, const struct app_table *t, const struct field *f)
{
	char name[APPS_MAX_NAME + 1];
	const struct app_entry *e;

	memcpy(name, f->s, f->len);
	name[f->len] = '\0';
	e = apps_find(t, name);
	if (e) {
		util_set_pos_err(lc->err, lc->errlen, lc->file, lc->line, f->col,
				 "duplicate program name '%s' (first defined on line %u)", name,
				 e->line);
		return -1;
	}
	return 0;
}

/* A built-in name only sets its driver's executable: the driver decides how it visits. */
static int check_builtin_yes(const struct line_ctx *lc, const struct field *f)
{
	char name[APPS_MAX_NAME + 1];

	memcpy(name, f->s, f->len);
	name[f->len] = '\0';
	if (builtin_find(name) == BUILTIN_NONE)
		return 0;
	util_set_pos_err(
	    lc->err, lc->errlen, lc->file, lc->line, f->col,
	    "'%s' is a built-in driver: its line sets the executable only, 'yes' is not allowed",
	    name);
	return -1;
}

static int check_line_bytes(const struct line_ctx *lc, const char *line, size_t len)
{
	const char *nul;

	if (len > APPS_MAX_LINE) {
		util_set_pos_err(lc->err, lc->errlen, lc->file, lc->line, APPS_MAX_LINE + 1,
				 "line longer than %d bytes", APPS_MAX_LINE);
		return -1;
	}
	nul = memchr(line, '\0', len);
	if (nul) {
		util_set_pos_err(lc->err, lc->errlen, lc->file, lc->line,
				 (unsigned)(nul - line) + 1, "NUL byte in line");
		return -1;
	}
	return 0;
}

static bool line_is_blank(const char *line, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (line[i] != ' ' && line[i] != '\t')
			return false;
	}
	return true;
}

static int parse_line(struct app_table *t, const struct line_ctx *lc, const char *line, size_t len)
{
	struct field f[4];
	unsigned n;
	int yes = 0;

	if (len > 0 && line[len - 1] == '\r')
		len--;
	if (check_line_bytes(lc, line, len) < 0)
		return -1;
	if (line_is_blank(line, len) || line[0] == '#')
		return 0;
	n = split_fields(line, len, f);
	if (n < 2 || n > 3) {
		util_set_pos_err(
		    lc->err, lc->errlen, lc->file, lc->line, n > 3 ? f[3].col : 1,
		    "expected 2 or 3 TAB-separated columns (name, path[, yes]), found %s%s",
		    n > 3 ? "more than 3" : "1",
		    n == 1 && memchr(line, ' ', len) ? " (separate columns with TAB, not spaces)"
						     : "");
		return -1;
	}
	if (check_name(lc, &f[0]) < 0 || check_path(lc, &f[1]) < 0)
		return -1;
	if (n == 3 && (yes = parse_yes(lc, &f[2])) < 0)
		return -1;
	if (yes == 1 && check_builtin_yes(lc, &f[0]) < 0)
		return -1;
	if (check_unique(lc, t, &f[0]) < 0)
		return -1;
	if (table_add(t, f[0].s, f[0].len, f[1].s, f[1].len, yes == 1, lc->line) < 0) {
		util_set_pos_err(lc->err, lc->errlen, lc->file, lc->line, 1, "out of memory");
		return -1;
	}
	return 0;
}

int apps_load_buffer(const char *name, const char *buf, size_t len, struct app_table **out,
		     char *err, size_t errlen)
{
	struct line_ctx lc = {.file = name ? name : "(buffer)", .err = err, .errlen = errlen};
	const char *p = buf, *end = buf + len;
	struct app_table *t;

	*out = NULL;
	t = calloc(1, sizeof(*t));
	if (!t) {
		plain_err(err, errlen, "%s: out of memory", lc.file);
		return -1;
	}
	if (len >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0)
		p += 3; /* a UTF-8 byte-order mark is not part of line 1 */
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);

		lc.line++;
		if (parse_line(t, &lc, p, n) < 0) {
			apps_free(t);
			return -1;
		}
		p = nl ? nl + 1 : end;
	}
	*out = t;
	return 0;
}

/* Reads all of FD (at most APPS_MAX_FILE bytes) into a malloc'ed buffer. */
static char *read_all(int fd, size_t *lenp)
{
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap);

	while (buf) {
		ssize_t n;

		if (len == cap) {
			char *nbuf = cap > APPS_MAX_FILE ? NULL : realloc(buf, cap * 2);

			if (!nbuf) {
				free(buf);
				errno = cap > APPS_MAX_FILE ? EFBIG : ENOMEM;
				return NULL;
			}
			buf = nbuf;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			free(buf);
			return NULL;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	*lenp = len;
	return buf;
}

int apps_load(const char *path, struct app_table **out, char *err, size_t errlen)
{
	CLEANUP_FD int fd = open(path, O_RDONLY | O_CLOEXEC);
	CLEANUP_FREE char *buf = NULL;
	size_t len = 0;

	*out = NULL;
	if (fd >= 0)
		buf = read_all(fd, &len);
	if (!buf) {
		plain_err(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	return apps_load_buffer(path, buf, len, out, err, errlen);
}

/* ---- URLs ---- */

int apps_check_url(const char *url, char *err, size_t errlen)
{
	size_t i, len;

	if (!url || !url[0]) {
		plain_err(err, errlen, "empty URL");
		return -1;
	}
	len = strnlen(url, APPS_MAX_URL + 1);
	if (len > APPS_MAX_URL) {
		plain_err(err, errlen, "URL longer than %d bytes", APPS_MAX_URL);
		return -1;
	}
	if (url[0] == '-') {
		plain_err(err, errlen, "URL starts with '-' (would be read as an option)");
		return -1;
	}
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)url[i];

		if (c < 0x20 || c == 0x7f) {
			plain_err(err, errlen, "control byte 0x%02x at offset %zu of the URL", c,
				  i);
			return -1;
		}
	}
	return 0;
}

static bool is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static int scheme_port(const char *url, size_t len, uint16_t *port)
{
	static const struct {
		const char *scheme;
		uint16_t port;
	} known[] = {{"http", 80}, {"https", 443}, {"ftp", 21}};

	for (size_t i = 0; i < ARRAY_SIZE(known); i++) {
		if (strlen(known[i].scheme) == len && strncasecmp(url, known[i].scheme, len) == 0) {
			*port = known[i].port;
			return 0;
		}
	}
	return -1;
}

/* "[v6]", "v4" or a name from HOST (LEN bytes): the literal, or "" for a name. */
static int origin_host(const char *host, size_t len, char *out, size_t outlen)
{
	char lit[INET6_ADDRSTRLEN];
	unsigned char bin[sizeof(struct in6_addr)];
	bool v6 = len >= 2 && host[0] == '[' && host[len - 1] == ']';

	if (v6) {
		host++;
		len -= 2;
	}
	if (len == 0)
		return -1;
	if (len < sizeof(lit)) {
		memcpy(lit, host, len);
		lit[len] = '\0';
		if (inet_pton(v6 ? AF_INET6 : AF_INET, lit, bin) == 1)
			return snprintf(out, outlen, "%s", lit) < (int)outlen ? 0 : -1;
	}
	if (v6)
		return -1; /* a zone id or garbage in brackets */
	out[0] = '\0';
	return 0;
}

int apps_url_origin(const char *url, char *host, size_t hostlen, uint16_t *port)
{
	const char *sep = strstr(url, "://"), *auth, *end, *at, *colon = NULL;
	unsigned long n;
	char *stop;

	if (!sep || sep == url || sep > url + strcspn(url, "/?#") || !hostlen ||
	    scheme_port(url, (size_t)(sep - url), port) < 0)
		return -1;
	auth = sep + 3;
	end = auth + strcspn(auth, "/?#");
	for (at = end; at > auth && at[-1] != '@'; at--)
		;
	auth = at; /* past any user:password@ */
	for (const char *p = end; p > auth && p[-1] != ']'; p--) {
		if (p[-1] == ':') {
			colon = p - 1;
			break;
		}
	}
	if (colon && colon + 1 < end) {
		errno = 0;
		n = strtoul(colon + 1, &stop, 10);
		if (stop != end || errno || n == 0 || n > 65535 ||
		    !isdigit((unsigned char)colon[1]))
			return -1;
		*port = (uint16_t)n;
	}
	return origin_host(auth, (size_t)((colon ? colon : end) - auth), host, hostlen);
}

/* Start and end of the URL's path: after "scheme://authority", before '?' or '#'. */
static void url_path(const char *url, const char **start, const char **end)
{
	const char *p = url, *sep = strstr(url, "://");

	if (sep && sep < url + strcspn(url, "/?#"))
		p = sep + 3 + strcspn(sep + 3, "/?#");
	*start = p;
	*end = p + strcspn(p, "?#");
}

/*
 * Writes ".ext" (or "") into EXT: the leading run of [A-Za-z0-9] after the
 * last '.' of the last path segment, at most 8 bytes.
 */
static void url_extension(const char *url, char ext[10])
{
	const char *start, *end, *seg, *dot = NULL, *p;
	size_t n = 0;

	url_path(url, &start, &end);
	seg = start;
	for (p = start; p < end; p++) {
		if (*p == '/')
			seg = p + 1;
	}
	for (p = seg; p < end; p++) {
		if (*p == '.')
			dot = p;
	}
	ext[0] = '\0';
	if (!dot)
		return;
	for (p = dot + 1; p < end && n < 8 && is_alnum(*p); p++)
		ext[1 + n++] = *p;
	if (n == 0)
		return;
	ext[0] = '.';
	ext[1 + n] = '\0';
}

/* ---- argv ---- */

struct argv_plan {
	const char *items[MAX_ARGS];
	size_t n;
};

static void plan_add(struct argv_plan *p, const char *s)
{
	if (p->n < MAX_ARGS)
		p->items[p->n++] = s;
}

void apps_argv_free(struct app_argv *out)
{
	size_t i;

	if (!out)
		return;
	if (out->argv) {
		for (i = 0; out->argv[i]; i++)
			free(out->argv[i]);
		free(out->argv);
	}
	memset(out, 0, sizeof(*out));
}

static int plan_copy(const struct argv_plan *p, struct app_argv *out)
{
	size_t i;

	out->argv = calloc(p->n + 1, sizeof(char *));
	if (!out->argv)
		return -1;
	for (i = 0; i < p->n; i++) {
		out->argv[i] = strdup(p->items[i]);
		if (!out->argv[i]) {
			apps_argv_free(out);
			return -1;
		}
	}
	out->argc = p->n;
	return 0;
}

/* Per-visit strings the plan points into. */
struct scratch {
	char max_time[16];
	char timeout[32];
	char profile[128];
};

static void plan_curl(struct argv_plan *p, struct scratch *s, const char *curl, const char *url,
		      unsigned visit, const struct app_argv *out)
{
	snprintf(s->max_time, sizeof(s->max_time), "%u", visit);
	plan_add(p, curl);
	plan_add(p, "-g");
	plan_add(p, "-sS");
	plan_add(p, "-L");
	plan_add(p, "--max-time");
	plan_add(p, s->max_time);
	plan_add(p, "-o");
	plan_add(p, out->file);
	plan_add(p, "--");
	plan_add(p, url);
}

static void plan_wget(struct argv_plan *p, struct scratch *s, const char *wget, const char *url,
		      unsigned visit, const struct app_argv *out)
{
	snprintf(s->timeout, sizeof(s->timeout), "--timeout=%u", visit);
	plan_add(p, wget);
	plan_add(p, "-q");
	plan_add(p, s->timeout);
	plan_add(p, "--tries=1");
	plan_add(p, "-O");
	plan_add(p, out->file);
	plan_add(p, "--");
	plan_add(p, url);
}

static void plan_curl_sh(struct argv_plan *p, const char *curl, const char *url)
{
	plan_add(p, SH_PATH);
	plan_add(p, "-c");
	plan_add(p, CURL_SH_SCRIPT);
	plan_add(p, "sh");
	plan_add(p, url);
	plan_add(p, curl);
}

static void plan_chromium(struct argv_plan *p, struct scratch *s, const char *chromium,
			  const char *url, const struct app_argv *out)
{
	const char *const *flags;
	size_t i, nflags;

	snprintf(s->profile, sizeof(s->profile), "--user-data-dir=%s", out->file);
	plan_add(p, chromium);
	flags = chromium_flags(&nflags); /* one flag list: the CDP driver's (apps/chromium.c) */
	for (i = 0; i < nflags; i++)
		plan_add(p, flags[i]);
	plan_add(p, s->profile);
	plan_add(p, "--");
	plan_add(p, url);
}

/*
 * Plain stay-mode firefox (the networked client drives it over Marionette
 * instead, src/client/apps/firefox.c): its default profile in the fresh home.
 */
static void plan_firefox(struct argv_plan *p, const char *firefox, const char *url)
{
	plan_add(p, firefox);
	plan_add(p, "--headless");
	plan_add(p, "--no-remote");
	plan_add(p, url);
}

static void plan_entry(struct argv_plan *p, const struct app_table *t, const struct app_entry *e,
		       const char *url, const struct app_argv *out)
{
	if (!e->download_first) {
		plan_add(p, e->path);
		plan_add(p, url);
		return;
	}
	plan_add(p, SH_PATH);
	plan_add(p, "-c");
	plan_add(p, DOWNLOAD_SCRIPT);
	plan_add(p, "sh");
	plan_add(p, url);
	plan_add(p, out->file);
	plan_add(p, e->path);
	plan_add(p, builtin_exe(t, "curl", CURL_PATH));
}

/* Sets OUT's per-URL file: BASE + hash, plus the URL's extension for downloads. */
static void set_file(struct app_argv *out, const char *base, const char *url, bool ext)
{
	char e[10] = "";

	if (ext)
		url_extension(url, e);
	snprintf(out->file, sizeof(out->file), "%s%016llx%s", base,
		 (unsigned long long)util_fnv1a64(url), e);
}

/* The executable of the visit (checked in the guest before it starts). */
static void set_exe(struct app_argv *out, const char *path)
{
	snprintf(out->exe, sizeof(out->exe), "%s", path);
}

static void plan_builtin(struct argv_plan *p, struct scratch *s, const struct app_table *t,
			 enum builtin b, const char *url, unsigned visit, struct app_argv *out)
{
	const char *curl = builtin_exe(t, "curl", CURL_PATH);

	switch (b) {
	case BUILTIN_CURL:
		set_file(out, DOWNLOAD_BASE, url, true);
		out->waits_visit_time = true;
		out->fetcher = APPS_FETCH_CURL;
		plan_curl(p, s, curl, url, visit, out);
		set_exe(out, curl);
		break;
	case BUILTIN_WGET:
		set_file(out, DOWNLOAD_BASE, url, true);
		out->fetcher = APPS_FETCH_WGET;
		set_exe(out, builtin_exe(t, "wget", WGET_PATH));
		plan_wget(p, s, out->exe, url, visit, out);
		break;
	case BUILTIN_CURL_SH:
		out->fetcher = APPS_FETCH_CURL;
		out->wrapper = true;
		set_exe(out, builtin_exe(t, "curl-sh", curl));
		plan_curl_sh(p, out->exe, url);
		break;
	case BUILTIN_CHROMIUM:
		set_file(out, PROFILE_BASE, url, false);
		set_exe(out, builtin_exe(t, "chromium", CHROMIUM_PATH));
		plan_chromium(p, s, out->exe, url, out);
		break;
	case BUILTIN_FIREFOX:
		set_exe(out, builtin_exe(t, "firefox", FIREFOX_PATH));
		plan_firefox(p, out->exe, url);
		break;
	case BUILTIN_NONE: break;
	}
}

static int check_args(const char *program, const char *url, unsigned visit, char *err,
		      size_t errlen)
{
	if (!program || !program[0]) {
		plain_err(err, errlen, "no program name");
		return -1;
	}
	if (visit < 1 || visit > APPS_MAX_VISIT_S) {
		plain_err(err, errlen, "visit time %u s out of range 1..%d", visit,
			  APPS_MAX_VISIT_S);
		return -1;
	}
	return apps_check_url(url, err, errlen);
}

int apps_build_argv(const struct app_table *t, const char *program, const char *url,
		    unsigned visit_time_s, struct app_argv *out, char *err, size_t errlen)
{
	struct argv_plan plan = {.n = 0};
	struct scratch s;
	const struct app_entry *e = NULL;
	enum builtin b;

	memset(out, 0, sizeof(*out));
	if (check_args(program, url, visit_time_s, err, errlen) < 0)
		return -1;
	b = builtin_find(program);
	if (b == BUILTIN_NONE && !(e = apps_find(t, program))) {
		plain_err(err, errlen, "unknown program '%.*s'", APPS_MAX_NAME, program);
		return -1;
	}
	out->algorithm = APPS_ALGO_DAC;
	if (e && e->download_first) {
		set_file(out, DOWNLOAD_BASE, url, true);
		out->fetcher = APPS_FETCH_CURL;
		out->wrapper = true;
	}
	if (e) {
		set_exe(out, e->path);
		plan_entry(&plan, t, e, url, out);
	} else {
		plan_builtin(&plan, &s, t, b, url, visit_time_s, out);
	}
	if (plan_copy(&plan, out) < 0) {
		plain_err(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

/* ---- what a visit's end means ---- */

/* curl exit codes of a fetch that failed on the network or at the server (curl(1) EXIT CODES). */
static bool curl_network_code(int code)
{
	static const unsigned char codes[] = {5,  6,  7,  16, 18, 22, 28, 35, 47,
					      52, 55, 56, 58, 60, 77, 92, 95, 97};

	for (size_t i = 0; i < sizeof(codes); i++) {
		if (codes[i] == code)
			return true;
	}
	return false;
}

void apps_exit_error(enum apps_fetcher f, int exit_status, uint32_t *major, uint32_t *minor)
{
	*major = PROTO_ERR_OK;
	*minor = 0;
	if (exit_status <= 0)
		return; /* done, or killed at the end of the visit time */
	if (exit_status == 127 || exit_status == 126) {
		/* the shell's "not found" and "not executable" */
		*major = PROTO_ERR_PROCESS_ERROR;
		*minor = exit_status == 127 ? PROTO_ERR_PE_PROCESS_PATH_NOT_FOUND : 0;
		return;
	}
	if (f == APPS_FETCH_CURL && (exit_status == 1 || exit_status == 3)) {
		*major = PROTO_ERR_INVALID_URL; /* unsupported protocol, malformed URL */
		return;
	}
	if ((f == APPS_FETCH_CURL && curl_network_code(exit_status)) ||
	    (f == APPS_FETCH_WGET && (exit_status == 4 || exit_status == 5 || exit_status == 8))) {
		*major = PROTO_ERR_NETWORK_ERROR;
		*minor = (uint32_t)exit_status;
	}
}
