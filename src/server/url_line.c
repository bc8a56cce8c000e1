/*
 * url_line.c - see url_line.h.
 *
 * A line is trimmed, cut into at most 5 fields at "::" (not inside
 * "[...]"), each field trimmed of blanks; then the fields after the URL
 * are classified (integer, other number, client name, other) and matched
 * against the forms of the original.  Every rejection names the field.
 */
#include "server/url_line.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/config.h"
#include "common/util.h"

#define SHOW_MAX 60 /* bytes of a field quoted in a message */

struct field {
	const char *s; /* not NUL-terminated */
	size_t len;
};

enum field_kind {
	FK_INT,   /* [+-]digits: a visit time */
	FK_NUM,   /* another decimal number: a priority */
	FK_NAME,  /* a client program name */
	FK_OTHER, /* none of these */
};

/* ---- messages ---- */

struct msg {
	char *buf;
	size_t len;
	const char *origin;
	unsigned long line;
};

static void say(const struct msg *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(const struct msg *m, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!m->buf || m->len == 0)
		return;
	if (m->origin)
		n = snprintf(m->buf, m->len, "%s:%lu: ", m->origin, m->line);
	else
		n = snprintf(m->buf, m->len, "line %lu: ", m->line);
	if (n < 0 || (size_t)n >= m->len)
		return;
	va_start(ap, fmt);
	/* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): va_start is above */
	vsnprintf(m->buf + n, m->len - (size_t)n, fmt, ap);
	va_end(ap);
}

/* F shown safely: escaped, at most SHOW_MAX bytes of it, "..." if cut.  Caller frees. */
static char *show(struct field f)
{
	size_t n = f.len > SHOW_MAX ? SHOW_MAX : f.len;
	char *esc = util_escape_dup(f.s, n), *out = NULL;

	if (!esc || asprintf(&out, "%s%s", esc, n < f.len ? "..." : "") < 0)
		out = NULL;
	free(esc);
	return out;
}

/*
 * "field 3 (visit time): expected ..., found 'x'" for field I (1-based)
 * holding F, read as WHAT (NULL while its role is still unknown).
 */
static void bad_field(const struct msg *m, int i, const char *what, struct field f,
		      const char *want)
{
	char *shown = show(f);

	say(m, "field %d%s%s%s: expected %s, found '%s'", i, what ? " (" : "", what ? what : "",
	    what ? ")" : "", want, shown ? shown : "?");
	free(shown);
}

/* ---- the URL ---- */

static bool is_alpha(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

/* Length of the RFC 3986 scheme at the start of U (before ':'), 0 if there is none. */
static size_t scheme_len(const char *u, size_t len)
{
	size_t i = 0;

	if (len == 0 || !is_alpha((unsigned char)u[0]))
		return 0;
	while (i < len && (is_alpha((unsigned char)u[i]) || is_digit((unsigned char)u[i]) ||
			   u[i] == '+' || u[i] == '-' || u[i] == '.'))
		i++;
	return i < len && u[i] == ':' ? i : 0;
}

/* "host:8080" or "localhost:80/x": a host and port, not a scheme. */
static bool looks_like_host_port(const char *u, size_t slen, size_t len)
{
	size_t i = slen + 1, digits = 0;

	if (!memchr(u, '.', slen) && !(slen == 9 && strncasecmp(u, "localhost", 9) == 0))
		return false;
	while (i < len && is_digit((unsigned char)u[i]) && digits < 6) {
		i++;
		digits++;
	}
	return digits >= 1 && digits <= 5 &&
	       (i == len || u[i] == '/' || u[i] == '?' || u[i] == '#');
}

static bool needs_host(const char *u, size_t slen)
{
	static const char *const schemes[] = {"http", "https", "ftp", "ws", "wss"};

	for (size_t i = 0; i < ARRAY_SIZE(schemes); i++)
		if (strlen(schemes[i]) == slen && strncasecmp(u, schemes[i], slen) == 0)
			return true;
	return false;
}

/* For "scheme://authority...": true if the authority names a host. */
static bool has_host(const char *u, size_t len, size_t slen)
{
	size_t start = slen + 3, end = start, at;

	if (len < start || u[slen + 1] != '/' || u[slen + 2] != '/')
		return false;
	while (end < len && u[end] != '/' && u[end] != '?' && u[end] != '#')
		end++;
	at = start;
	for (size_t i = start; i < end; i++)
		if (u[i] == '@')
			at = i + 1; /* user-info ends at the last '@' */
	return at < end && u[at] != ':';
}

static int check_bytes(const char *url, size_t len, char *err, size_t errlen)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)url[i];

		if (c == ' ') {
			snprintf(err, errlen, "space at byte %zu of the URL (write it as %%20)",
				 i + 1);
			return -1;
		}
		if (c < 0x20 || c == 0x7f) {
			snprintf(err, errlen, "control byte 0x%02x at byte %zu of the URL", c,
				 i + 1);
			return -1;
		}
	}
	return 0;
}

int url_line_check_url(const char *url, size_t len, char *err, size_t errlen)
{
	size_t slen;

	if (len == 0) {
		snprintf(err, errlen, "empty URL");
		return -1;
	}
	if (len > URL_LINE_URL_MAX) {
		snprintf(err, errlen, "URL of %zu bytes (at most %d)", len, URL_LINE_URL_MAX);
		return -1;
	}
	if (check_bytes(url, len, err, errlen) < 0)
		return -1;
	slen = scheme_len(url, len);
	if (slen == 0 || looks_like_host_port(url, slen, len)) {
		snprintf(err, errlen, "no scheme (expected e.g. http://host/path)");
		return -1;
	}
	if (slen + 1 == len) {
		snprintf(err, errlen, "nothing after the scheme");
		return -1;
	}
	if (needs_host(url, slen) && !has_host(url, len, slen)) {
		snprintf(err, errlen, "no host (expected %.*s://host/...)", (int)slen, url);
		return -1;
	}
	return 0;
}

/* ---- fields ---- */

static bool is_blank(unsigned char c)
{
	return c <= 0x20;
}

static struct field trim(struct field f)
{
	while (f.len && is_blank((unsigned char)f.s[0])) {
		f.s++;
		f.len--;
	}
	while (f.len && is_blank((unsigned char)f.s[f.len - 1]))
		f.len--;
	return f;
}

/*
 * Cuts LINE at "::" outside "[...]" into at most MAX fields (the last one
 * takes the rest).  Returns the number of fields, MAX + 1 if there were more.
 */
static int split(struct field line, struct field *out, int max)
{
	size_t start = 0, depth = 0;
	int n = 0;

	for (size_t i = 0; i + 1 < line.len; i++) {
		/* an IPv6 host: "[" right after "//" or after the user-info's "@" */
		if (line.s[i] == '[' && i > 0 && (line.s[i - 1] == '/' || line.s[i - 1] == '@'))
			depth++;
		else if (line.s[i] == ']' && depth)
			depth--;
		if (depth || line.s[i] != ':' || line.s[i + 1] != ':')
			continue;
		if (n == max)
			return max + 1;
		out[n++] = (struct field){line.s + start, i - start};
		start = i + 2;
		i++;
	}
	if (n == max)
		return max + 1;
	out[n++] = (struct field){line.s + start, line.len - start};
	return n;
}

static enum field_kind classify(struct field f)
{
	size_t i = 0, digits = 0;
	bool point = false, exp = false;

	if (i < f.len && (f.s[i] == '+' || f.s[i] == '-'))
		i++;
	for (; i < f.len && is_digit((unsigned char)f.s[i]); i++)
		digits++;
	if (i == f.len && digits)
		return FK_INT;
	if (i < f.len && f.s[i] == '.') {
		point = true;
		for (i++; i < f.len && is_digit((unsigned char)f.s[i]); i++)
			digits++;
	}
	if (digits && i < f.len && (f.s[i] == 'e' || f.s[i] == 'E')) {
		size_t d = 0;

		i++;
		if (i < f.len && (f.s[i] == '+' || f.s[i] == '-'))
			i++;
		for (; i < f.len && is_digit((unsigned char)f.s[i]); i++)
			d++;
		exp = d > 0;
	}
	if (i == f.len && digits && (point || exp))
		return FK_NUM;
	return config_client_name_ok(f.s, f.len) ? FK_NAME : FK_OTHER;
}

/* Field I (1-based) F as a visit time into *OUT; -1 after saying why not. */
static int visit_time(const struct msg *m, int i, struct field f, int *out)
{
	char buf[32];
	long v;

	if (classify(f) != FK_INT) {
		bad_field(m, i, "visit time", f, "a visit time in seconds");
		return -1;
	}
	if (f.len >= sizeof(buf) || f.s[0] == '-') {
		bad_field(m, i, "visit time", f, "a visit time between 0 and 86400 seconds");
		return -1;
	}
	memcpy(buf, f.s, f.len);
	buf[f.len] = '\0';
	v = strtol(buf, NULL, 10);
	if (v < 0 || v > CONFIG_VISIT_TIME_MAX_S) {
		bad_field(m, i, "visit time", f, "a visit time between 0 and 86400 seconds");
		return -1;
	}
	*out = (int)v;
	return 0;
}

/* Field I F as a priority into *OUT; -1 after saying why not. */
static int priority(const struct msg *m, int i, struct field f, double *out)
{
	enum field_kind k = classify(f);
	char buf[64];
	double v;

	if ((k != FK_INT && k != FK_NUM) || f.len >= sizeof(buf)) {
		bad_field(m, i, "priority", f, "a priority between 0.0 and 1.0");
		return -1;
	}
	memcpy(buf, f.s, f.len);
	buf[f.len] = '\0';
	v = strtod(buf, NULL) + 0.0; /* + 0.0: no -0.0 */
	if (!(v >= 0.0 && v <= 1.0)) {
		bad_field(m, i, "priority", f, "a priority between 0.0 and 1.0");
		return -1;
	}
	*out = v;
	return 0;
}

static int client(const struct msg *m, int i, struct field f, struct url_entry *e)
{
	if (classify(f) != FK_NAME) {
		bad_field(m, i, "client", f,
			  "a client program name (letters, digits, '.', '_', '+', '-')");
		return -1;
	}
	e->client = strndup(f.s, f.len);
	return e->client ? 0 : URL_LINE_NOMEM;
}

/* url::X: whatever X looks like. */
static int two_fields(const struct msg *m, const struct field *f, struct url_entry *e)
{
	switch (classify(f[1])) {
	case FK_INT: return visit_time(m, 2, f[1], &e->visit_time);
	case FK_NUM: return priority(m, 2, f[1], &e->priority);
	case FK_NAME: return client(m, 2, f[1], e);
	default:
		bad_field(m, 2, NULL, f[1],
			  "a client name, a visit time (integer) or a priority (0.0..1.0)");
		return -1;
	}
}

/* url::client::N, url::client::D or url::N::D. */
static int three_fields(const struct msg *m, const struct field *f, struct url_entry *e)
{
	enum field_kind a = classify(f[1]), b = classify(f[2]);
	int rc;

	if (a == FK_INT && b == FK_INT) {
		say(m, "fields 2 and 3 are both integers (visit times); write a priority with a "
		       "decimal point, e.g. 1.0");
		return -1;
	}
	if (a == FK_INT) {
		rc = visit_time(m, 2, f[1], &e->visit_time);
		return rc ? rc : priority(m, 3, f[2], &e->priority);
	}
	if (a != FK_NAME) {
		bad_field(m, 2, NULL, f[1], "a client name or a visit time (integer)");
		return -1;
	}
	if (b != FK_INT && b != FK_NUM) {
		bad_field(m, 3, NULL, f[2], "a visit time (integer) or a priority (0.0..1.0)");
		return -1;
	}
	rc = client(m, 2, f[1], e);
	if (rc)
		return rc;
	if (b == FK_INT)
		return visit_time(m, 3, f[2], &e->visit_time);
	return priority(m, 3, f[2], &e->priority);
}

/* url::client::N::D. */
static int four_fields(const struct msg *m, const struct field *f, struct url_entry *e)
{
	int rc = client(m, 2, f[1], e);

	if (!rc)
		rc = visit_time(m, 3, f[2], &e->visit_time);
	if (!rc)
		rc = priority(m, 4, f[3], &e->priority);
	return rc;
}

typedef int form_fn(const struct msg *m, const struct field *f, struct url_entry *e);

/* The forms by number of fields (url alone needs nothing). */
static form_fn *const forms[URL_LINE_FIELDS + 1] = {NULL, NULL, two_fields, three_fields,
						    four_fields};

static int parse_fields(const struct msg *m, struct field *f, int n, struct url_entry *e)
{
	char why[128];
	int rc;

	for (int i = 0; i < n; i++) {
		f[i] = trim(f[i]);
		if (f[i].len == 0) {
			say(m, "field %d%s is empty", i + 1, i == 0 ? " (URL)" : "");
			return -1;
		}
	}
	if (url_line_check_url(f[0].s, f[0].len, why, sizeof(why)) < 0) {
		char *shown = show(f[0]);

		say(m, "field 1 (URL) '%s': %s", shown ? shown : "?", why);
		free(shown);
		return -1;
	}
	rc = n > 1 ? forms[n](m, f, e) : 0;
	if (rc)
		return rc;
	e->url = strndup(f[0].s, f[0].len);
	return e->url ? 0 : URL_LINE_NOMEM;
}

static void entry_init(struct url_entry *e, unsigned long lineno)
{
	*e = (struct url_entry){.visit_time = -1, .priority = 0.0, .line = lineno};
}

int url_line_parse(const char *line, size_t len, const char *origin, unsigned long lineno,
		   struct url_entry *out, char *err, size_t errlen)
{
	struct msg m = {err, errlen, origin, lineno};
	struct field all = trim((struct field){line, len}), f[URL_LINE_FIELDS];
	int n, rc;

	entry_init(out, lineno);
	if (errlen)
		err[0] = '\0';
	if (all.len == 0 || all.s[0] == '#')
		return URL_LINE_SKIP;
	if (all.len == 3 && strncasecmp(all.s, "end", 3) == 0)
		return URL_LINE_END;
	if (all.len > URL_LINE_MAX) {
		say(&m, "line of %zu bytes (at most %d)", all.len, URL_LINE_MAX);
		return URL_LINE_INVALID;
	}
	n = split(all, f, URL_LINE_FIELDS);
	if (n > URL_LINE_FIELDS) {
		say(&m, "more than %d '::'-separated fields (url::client::visittime::priority)",
		    URL_LINE_FIELDS);
		return URL_LINE_INVALID;
	}
	rc = parse_fields(&m, f, n, out);
	if (rc == 0)
		return URL_LINE_URL;
	if (rc == URL_LINE_NOMEM)
		say(&m, "out of memory");
	url_line_entry_free(out);
	return rc == URL_LINE_NOMEM ? URL_LINE_NOMEM : URL_LINE_INVALID;
}

int url_line_entry_copy(struct url_entry *dst, const struct url_entry *src)
{
	*dst = *src;
	dst->url = src->url ? strdup(src->url) : NULL;
	dst->client = src->client ? strdup(src->client) : NULL;
	if ((src->url && !dst->url) || (src->client && !dst->client)) {
		url_line_entry_free(dst);
		return -1;
	}
	return 0;
}

void url_line_entry_free(struct url_entry *e)
{
	free(e->url);
	free(e->client);
	entry_init(e, 0);
}
