/*
 * exclusion.c - Capture-HPC exclusion lists (see exclusion.h and
 * docs/exclusion-lists.md).
 *
 * Rules are kept twice: in load order (for statistics and rule_get) and in a
 * per-monitor index of key buckets sorted by lower-cased key, each bucket
 * holding its '-' and '+' rules in load order.  An event therefore only meets
 * the rules of its own key, and the hot path does no allocation: the key is
 * compared case-insensitively in place and ".*" regexes never reach PCRE2.
 *
 * Loading appends rules straight into the set and, on the first error,
 * truncates back to the previous rule count.  Because rules are only ever
 * appended, the rules to undo are always the last ones of their buckets, so
 * the rollback needs no allocation and cannot fail.
 */
#define PCRE2_CODE_UNIT_WIDTH 8

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pcre2.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client/exclusion.h"
#include "common/log.h"
#include "common/util.h"

#define EXCL_MAX_LINE 65536 /* bytes in one list line */
#define EXCL_MAX_FILE (64 * 1024 * 1024)
/* Bounds a pathological regex (catastrophic backtracking) on one event. */
#define EXCL_MATCH_LIMIT 1000000
/* Full match, like Boost's regex_match; no UTF: paths are arbitrary bytes. */
#define EXCL_PCRE2_OPTIONS                                                                         \
	(PCRE2_CASELESS | PCRE2_DOTALL | PCRE2_ANCHORED | PCRE2_ENDANCHORED | PCRE2_NEVER_UTF)

#define EXCL_PREFIX_MAX 16

struct pattern {
	pcre2_code *code; /* NULL when match_all */
	bool match_all;
	bool jit;
	bool search; /* CODE is the pattern without its leading ".*", run unanchored */
	unsigned char prefix_len;
	char prefix[EXCL_PREFIX_MAX]; /* lower-cased literal every match starts with */
};

struct rule {
	char *origin;
	unsigned line;
	enum exclusion_monitor monitor;
	char sign;
	bool kernel_filtered;
	char *key;
	char *subject;
	char *object;
	struct pattern subj;
	struct pattern obj;
	uint64_t hits;
};

struct rule_list {
	struct rule **v;
	size_t n, cap;
};

struct bucket {
	char *key; /* ASCII lower-cased */
	struct rule_list minus;
	struct rule_list plus;
};

struct bucket_index {
	struct bucket *v; /* sorted by key, bytewise */
	size_t n, cap;
};

struct exclusion_set {
	struct rule **rules; /* load order */
	size_t nrules, cap;
	struct bucket_index index[EXCL_MONITOR_COUNT];
	pcre2_match_data *md;
	pcre2_match_context *mctx;
};

/* One column of a line: where it starts (for messages) and its bytes. */
struct field {
	const char *s;
	size_t len;
	unsigned col;
};

static const char *const file_actions[] = {"Create",    "Write",  "Open",  "Read",
					   "Delete",    "Rename", "Link",  "Symlink",
					   "Attribute", "Mkdir",  "Rmdir", NULL};
static const char *const connection_actions[] = {
    "tcp-connection", "tcp-listening", "udp-connection", "udp-listening", "unix-connection", NULL};
static const char *const system_actions[] = {
    "module-load", "ptrace", "mount", "setuid", "setgid", "capset", "bpf", "io_uring", NULL};
static const char *const registry_actions[] = {"CreateKey",         "OpenKey",     "DeleteKey",
					       "DeleteValueKey",    "SetValueKey", "EnumerateKey",
					       "EnumerateValueKey", "QueryKey",    "QueryValueKey",
					       "CloseKey",          NULL};

/* NULL: the process monitor's key is a free module name. */
static const char *const *const monitor_actions[EXCL_MONITOR_COUNT] = {
    [EXCL_FILE] = file_actions,
    [EXCL_PROCESS] = NULL,
    [EXCL_CONNECTION] = connection_actions,
    [EXCL_SYSTEM] = system_actions,
    [EXCL_REGISTRY] = registry_actions,
};

static const char *const monitor_names[EXCL_MONITOR_COUNT] = {
    [EXCL_FILE] = "file",     [EXCL_PROCESS] = "process",   [EXCL_CONNECTION] = "connection",
    [EXCL_SYSTEM] = "system", [EXCL_REGISTRY] = "registry",
};

/* Names of the original Windows client, accepted by exclusion_load_dir(). */
static const char *const original_file_names[EXCL_MONITOR_COUNT] = {
    [EXCL_FILE] = "FileMonitor.exl",
    [EXCL_PROCESS] = "ProcessMonitor.exl",
    [EXCL_CONNECTION] = "ConnectionMonitor.exl",
    [EXCL_SYSTEM] = NULL,
    [EXCL_REGISTRY] = "RegistryMonitor.exl",
};

/* ---- small helpers ---- */

/* ASCII only, so the result does not depend on the locale. */
static inline unsigned char ascii_lower(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + ('a' - 'A')) : c;
}

static bool ascii_caseeq(const char *a, size_t alen, const char *b)
{
	size_t i;

	for (i = 0; i < alen; i++) {
		if (b[i] == '\0' ||
		    ascii_lower((unsigned char)a[i]) != ascii_lower((unsigned char)b[i]))
			return false;
	}
	return b[i] == '\0';
}

static bool valid_monitor(enum exclusion_monitor m)
{
	return (unsigned)m < EXCL_MONITOR_COUNT;
}

static void join_actions(char *dst, size_t dstlen, const char *const *actions)
{
	size_t o = 0;

	dst[0] = '\0';
	for (; *actions && o < dstlen; actions++) {
		int n = snprintf(dst + o, dstlen - o, "%s%s", o ? ", " : "", *actions);

		if (n < 0)
			break;
		o += (size_t)n;
	}
}

/* ---- patterns ---- */

/* ".*" and its trivial groupings match everything under DOTALL. */
static bool pattern_is_match_all(const char *s, size_t len)
{
	static const char *const forms[] = {".*", "(.*)", "(?:.*)"};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(forms); i++) {
		if (len == strlen(forms[i]) && memcmp(s, forms[i], len) == 0)
			return true;
	}
	return false;
}

/* Index of the ']' closing the class opened at S[I] (len if unterminated). */
static size_t skip_class(const char *s, size_t len, size_t i)
{
	i++;
	if (i < len && s[i] == '^')
		i++;
	if (i < len && s[i] == ']')
		i++; /* a leading ']' is a literal */
	for (; i < len && s[i] != ']'; i++) {
		if (s[i] == '\\') {
			i++;
		} else if (s[i] == '[' && i + 1 < len && strchr(":.=", s[i + 1])) {
			/* POSIX class such as [:alpha:]: skip to its closing ":]" */
			const char *end =
			    memmem(s + i + 2, len - i - 2, (char[]){s[i + 1], ']'}, 2);

			if (!end)
				return len;
			i = (size_t)(end - s) + 1;
		}
	}
	return i;
}

/*
 * True if the regex S has no top-level '|' and nothing the scan cannot
 * follow (comments, \Q..\E, \c, verbs, callouts): then S can be cut or
 * prefixed without changing what it means.  False only costs speed.
 */
static bool regex_is_plain(const char *s, size_t len)
{
	size_t i;
	int depth = 0;

	for (i = 0; i < len; i++) {
		switch (s[i]) {
		case '#': return false;
		case '\\':
			if (i + 1 >= len || s[i + 1] == 'Q' || s[i + 1] == 'c')
				return false;
			i++;
			break;
		case '[':
			i = skip_class(s, len, i);
			if (i >= len)
				return false;
			break;
		case '(':
			if (i + 1 < len && (s[i + 1] == '*' ||
					    (s[i + 1] == '?' && i + 2 < len && s[i + 2] == 'C')))
				return false;
			depth++;
			break;
		case ')':
			if (--depth < 0)
				return false;
			break;
		case '|':
			if (depth == 0)
				return false;
			break;
		}
	}
	return depth == 0;
}

/*
 * The literal every match of anchored regex S starts with (escaped
 * punctuation included), stopping at the first metacharacter or at a
 * character a quantifier makes optional.  Lets most rules reject an event
 * with a byte compare instead of a PCRE2 call.
 */
static size_t literal_prefix(const char *s, size_t len, char *out, size_t max)
{
	size_t i = 0, n = 0;

	while (i < len && n < max) {
		unsigned char c = (unsigned char)s[i];
		size_t step = 1;

		if (c == '\\') {
			c = i + 1 < len ? (unsigned char)s[i + 1] : 0;
			if (c == 0 || c >= 0x80 || !ispunct(c))
				break;
			step = 2;
		} else if (c >= 0x80 || strchr(".^$|()[]{}*+?#", c)) {
			break;
		}
		if (i + step < len && strchr("?*+{", s[i + step]))
			break;
		out[n++] = (char)ascii_lower(c);
		i += step;
	}
	return n;
}

/*
 * ".*R" full-matches S exactly when R matches a suffix of S, which PCRE2
 * finds with an unanchored, end-anchored search: it skips ahead to R's first
 * character instead of backtracking ".*" through every position, several
 * times faster on paths.  Keeps P as it is when R does not qualify.
 */
static void pattern_try_search(struct pattern *p, const char *s, size_t len)
{
	const char *r = s + 2;
	size_t rlen = len - 2;
	pcre2_code *code;
	PCRE2_SIZE erroff;
	int errcode;

	if (len < 3 || memcmp(s, ".*", 2) != 0 || strchr("?+{*", r[0]) || !regex_is_plain(r, rlen))
		return;
	code = pcre2_compile((PCRE2_SPTR)r, rlen, EXCL_PCRE2_OPTIONS & ~PCRE2_ANCHORED, &errcode,
			     &erroff, NULL);
	if (!code)
		return;
	pcre2_code_free(p->code);
	p->code = code;
	p->search = true;
}

static int pattern_compile(struct pattern *p, const char *s, size_t len, int *errcode,
			   size_t *erroff)
{
	memset(p, 0, sizeof(*p));
	if (pattern_is_match_all(s, len)) {
		p->match_all = true;
		return 0;
	}
	/* The pattern as written is compiled first: it validates and gives the error offsets. */
	p->code = pcre2_compile((PCRE2_SPTR)s, len, EXCL_PCRE2_OPTIONS, errcode, erroff, NULL);
	if (!p->code)
		return -1;
	pattern_try_search(p, s, len);
	if (!p->search && regex_is_plain(s, len))
		p->prefix_len = (unsigned char)literal_prefix(s, len, p->prefix, EXCL_PREFIX_MAX);
	/* Without JIT (unsupported CPU, no executable memory) the interpreter still works. */
	p->jit = pcre2_jit_compile(p->code, PCRE2_JIT_COMPLETE) == 0;
	return 0;
}

static void pattern_free(struct pattern *p)
{
	pcre2_code_free(p->code);
	p->code = NULL;
}

/* 1 match, 0 no match, negative: PCRE2 error (limit hit, ...). */
static int pattern_match(struct exclusion_set *set, const struct pattern *p, const char *s,
			 size_t len)
{
	size_t i;
	int rc;

	if (p->match_all)
		return 1;
	if (len < p->prefix_len)
		return 0;
	for (i = 0; i < p->prefix_len; i++) {
		if (ascii_lower((unsigned char)s[i]) != (unsigned char)p->prefix[i])
			return 0;
	}
	if (p->jit)
		rc = pcre2_jit_match(p->code, (PCRE2_SPTR)s, len, 0, 0, set->md, set->mctx);
	else
		rc = pcre2_match(p->code, (PCRE2_SPTR)s, len, 0, 0, set->md, set->mctx);
	if (rc >= 0)
		return 1; /* 0 only says the 1-pair ovector was too small for groups */
	return rc == PCRE2_ERROR_NOMATCH ? 0 : rc;
}

struct event_text {
	const char *subj;
	size_t slen;
	const char *obj;
	size_t olen;
};

/*
 * Does rule R match the event?  A PCRE2 error is resolved towards reporting
 * the event: it counts as a match for a '-' rule and as none for a '+' rule.
 */
static bool rule_matches(struct exclusion_set *set, const struct rule *r,
			 const struct event_text *ev)
{
	int rc = pattern_match(set, &r->subj, ev->subj, ev->slen);

	if (rc == 1)
		rc = pattern_match(set, &r->obj, ev->obj, ev->olen);
	if (rc < 0) {
		log_debug("exclusion rule %s:%u: regex match error %d", r->origin, r->line, rc);
		return r->sign == '-';
	}
	return rc == 1;
}

/* ---- rules ---- */

static void rule_free(struct rule *r)
{
	if (!r)
		return;
	pattern_free(&r->subj);
	pattern_free(&r->obj);
	free(r->origin);
	free(r->key);
	free(r->subject);
	free(r->object);
	free(r);
}

static bool rule_match_all(const struct rule *r)
{
	return r->subj.match_all && r->obj.match_all;
}

static int rule_list_push(struct rule_list *l, struct rule *r)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 4;
		/* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
		struct rule **v = reallocarray(l->v, cap, sizeof(*v));

		if (!v)
			return -1;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = r;
	return 0;
}

/* ---- index ---- */

/* Compares an event key (any case, LEN bytes) with a lower-cased bucket key. */
static int key_cmp(const char *key, size_t len, const char *lc)
{
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char a = ascii_lower((unsigned char)key[i]);
		unsigned char b = (unsigned char)lc[i];

		if (a != b)
			return a < b ? -1 : 1;
	}
	return lc[len] == '\0' ? 0 : -1;
}

/* Binary search; *POS gets the insertion point when the key is absent. */
static struct bucket *bucket_find(const struct bucket_index *idx, const char *key, size_t len,
				  size_t *pos)
{
	size_t lo = 0, hi = idx->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = key_cmp(key, len, idx->v[mid].key);

		if (c == 0) {
			if (pos)
				*pos = mid;
			return &idx->v[mid];
		}
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	if (pos)
		*pos = lo;
	return NULL;
}

static struct bucket *bucket_add(struct bucket_index *idx, const char *key, size_t pos)
{
	struct bucket b = {0};
	size_t i;

	if (idx->n == idx->cap) {
		size_t cap = idx->cap ? idx->cap * 2 : 8;
		struct bucket *v = reallocarray(idx->v, cap, sizeof(*v));

		if (!v)
			return NULL;
		idx->v = v;
		idx->cap = cap;
	}
	b.key = strdup(key);
	if (!b.key)
		return NULL;
	for (i = 0; b.key[i]; i++)
		b.key[i] = (char)ascii_lower((unsigned char)b.key[i]);
	memmove(&idx->v[pos + 1], &idx->v[pos], (idx->n - pos) * sizeof(*idx->v));
	idx->v[pos] = b;
	idx->n++;
	return &idx->v[pos];
}

static void bucket_release(struct bucket *b)
{
	free(b->key);
	free(b->minus.v);
	free(b->plus.v);
}

static int index_add(struct exclusion_set *set, struct rule *r)
{
	struct bucket_index *idx = &set->index[r->monitor];
	size_t len = strlen(r->key), pos;
	struct bucket *b = bucket_find(idx, r->key, len, &pos);

	if (!b)
		b = bucket_add(idx, r->key, pos);
	if (!b)
		return -1;
	/* A fresh empty bucket left behind on failure is removed by the rollback. */
	return rule_list_push(r->sign == '-' ? &b->minus : &b->plus, r);
}

/* Undoes index_add() for R, which must be the last rule added to its bucket. */
static void index_remove_last(struct exclusion_set *set, const struct rule *r)
{
	struct bucket_index *idx = &set->index[r->monitor];
	size_t pos;
	struct bucket *b = bucket_find(idx, r->key, strlen(r->key), &pos);
	struct rule_list *l;

	if (!b)
		return;
	l = r->sign == '-' ? &b->minus : &b->plus;
	if (l->n > 0 && l->v[l->n - 1] == r)
		l->n--;
	if (b->minus.n == 0 && b->plus.n == 0) {
		bucket_release(b);
		memmove(&idx->v[pos], &idx->v[pos + 1], (idx->n - pos - 1) * sizeof(*idx->v));
		idx->n--;
	}
}

/* Drops every rule after the first N: the rollback of a failed load. */
static void set_truncate(struct exclusion_set *set, size_t n)
{
	while (set->nrules > n) {
		struct rule *r = set->rules[--set->nrules];

		index_remove_last(set, r);
		rule_free(r);
	}
}

static int set_append(struct exclusion_set *set, struct rule *r)
{
	if (set->nrules == set->cap) {
		size_t cap = set->cap ? set->cap * 2 : 64;
		/* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
		struct rule **v = reallocarray(set->rules, cap, sizeof(*v));

		if (!v)
			return -1;
		set->rules = v;
		set->cap = cap;
	}
	set->rules[set->nrules++] = r;
	if (index_add(set, r) < 0) {
		/* Unlink only: the caller still owns R and frees it. */
		set->nrules--;
		index_remove_last(set, r);
		return -1;
	}
	return 0;
}

/* ---- public: names, set life cycle ---- */

const char *exclusion_monitor_name(enum exclusion_monitor m)
{
	return valid_monitor(m) ? monitor_names[m] : "unknown";
}

int exclusion_monitor_from_name(const char *name)
{
	int m;

	if (!name)
		return -1;
	for (m = 0; m < EXCL_MONITOR_COUNT; m++) {
		if (ascii_caseeq(name, strlen(name), monitor_names[m]))
			return m;
	}
	return -1;
}

struct exclusion_set *exclusion_set_new(void)
{
	struct exclusion_set *set = calloc(1, sizeof(*set));

	if (!set)
		return NULL;
	/* One pair is enough: only "matched or not" is used. */
	set->md = pcre2_match_data_create(1, NULL);
	set->mctx = pcre2_match_context_create(NULL);
	if (!set->md || !set->mctx) {
		exclusion_set_free(set);
		return NULL;
	}
	pcre2_set_match_limit(set->mctx, EXCL_MATCH_LIMIT);
	return set;
}

void exclusion_set_free(struct exclusion_set *set)
{
	int m;

	if (!set)
		return;
	set_truncate(set, 0);
	for (m = 0; m < EXCL_MONITOR_COUNT; m++)
		free(set->index[m].v);
	free(set->rules);
	pcre2_match_data_free(set->md);
	pcre2_match_context_free(set->mctx);
	free(set);
}

/* ---- parsing ---- */

/* Checks the key column; on error writes the message (without prefix) to MSG. */
static int check_key(enum exclusion_monitor monitor, const struct field *f, char *msg,
		     size_t msglen)
{
	const char *const *actions = monitor_actions[monitor];
	char q[200], list[400];
	size_t i;

	util_quote_sample(q, sizeof(q), f->s, f->len);
	if (f->len == 0) {
		snprintf(msg, msglen, "empty key column");
		return -1;
	}
	if (actions) {
		for (i = 0; actions[i]; i++) {
			if (ascii_caseeq(f->s, f->len, actions[i]))
				return 0;
		}
		join_actions(list, sizeof(list), actions);
		snprintf(msg, msglen, "unknown action '%s' for the %s monitor (expected %s)", q,
			 monitor_names[monitor], list);
		return -1;
	}
	for (i = 0; i < f->len; i++) {
		char c = f->s[i];

		if (c == '/') {
			snprintf(msg, msglen,
				 "process key '%s' must be a module name (basename), not a path",
				 q);
			return -1;
		}
		if (c && strchr("*?[]()|^$\\{}+", c)) {
			snprintf(msg, msglen,
				 "process key '%s' contains '%c': the key column is an exact "
				 "module name, not a regex",
				 q, c);
			return -1;
		}
	}
	return 0;
}

static int compile_field(struct pattern *p, const struct field *f, const char *what,
			 const char *name, unsigned line, char *err, size_t errlen)
{
	PCRE2_UCHAR buf[256];
	size_t erroff = 0;
	int errcode = 0;

	if (pattern_compile(p, f->s, f->len, &errcode, &erroff) == 0)
		return 0;
	pcre2_get_error_message(errcode, buf, sizeof(buf));
	util_set_pos_err(err, errlen, name, line, f->col + (unsigned)erroff, "bad %s regex: %s",
			 what, (const char *)buf);
	return -1;
}

static struct rule *rule_new(enum exclusion_monitor monitor, char sign, const char *origin,
			     unsigned line, const struct field f[4])
{
	struct rule *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->monitor = monitor;
	r->sign = sign;
	r->line = line;
	r->origin = strdup(origin);
	r->key = strndup(f[1].s, f[1].len);
	r->subject = strndup(f[2].s, f[2].len);
	r->object = strndup(f[3].s, f[3].len);
	if (!r->origin || !r->key || !r->subject || !r->object) {
		rule_free(r);
		return NULL;
	}
	return r;
}

/* Validates, compiles and appends one rule whose columns are F[1..3]. */
static int add_fields(struct exclusion_set *set, enum exclusion_monitor monitor, char sign,
		      const char *origin, unsigned line, const struct field f[4], char *err,
		      size_t errlen)
{
	struct rule *r;
	char msg[1024];

	if (check_key(monitor, &f[1], msg, sizeof(msg)) < 0) {
		util_set_pos_err(err, errlen, origin, line, f[1].col, "%s", msg);
		return -1;
	}
	r = rule_new(monitor, sign, origin, line, f);
	if (!r)
		goto nomem;
	if (compile_field(&r->subj, &f[2], "subject", origin, line, err, errlen) < 0 ||
	    compile_field(&r->obj, &f[3], "object", origin, line, err, errlen) < 0) {
		rule_free(r);
		return -1;
	}
	if (set_append(set, r) < 0) {
		rule_free(r);
		goto nomem;
	}
	return 0;
nomem:
	util_set_pos_err(err, errlen, origin, line, 1, "out of memory");
	return -1;
}

/* Splits LINE on TABs into exactly 4 fields; returns the number of columns found. */
static unsigned split_fields(const char *line, size_t len, struct field f[4])
{
	unsigned n = 0;
	size_t start = 0, i;

	for (i = 0; i <= len; i++) {
		if (i < len && line[i] != '\t')
			continue;
		if (n < 4)
			f[n] = (struct field){line + start, i - start, (unsigned)start + 1};
		n++;
		start = i + 1;
	}
	return n;
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

/* Checks what makes a line unusable before its columns are looked at. */
static int check_line_bytes(const char *line, size_t len, const char *name, unsigned lineno,
			    char *err, size_t errlen)
{
	const char *nul;

	if (len > EXCL_MAX_LINE) {
		util_set_pos_err(err, errlen, name, lineno, EXCL_MAX_LINE + 1,
				 "line longer than %d bytes", EXCL_MAX_LINE);
		return -1;
	}
	nul = memchr(line, '\0', len);
	if (nul) {
		util_set_pos_err(err, errlen, name, lineno, (unsigned)(nul - line) + 1,
				 "NUL byte in line");
		return -1;
	}
	return 0;
}

static int parse_line(struct exclusion_set *set, enum exclusion_monitor monitor, const char *name,
		      unsigned lineno, const char *line, size_t len, char *err, size_t errlen)
{
	struct field f[4];
	unsigned n;
	char q[200];

	if (len > 0 && line[len - 1] == '\r')
		len--;
	if (check_line_bytes(line, len, name, lineno, err, errlen) < 0)
		return -1;
	if (line_is_blank(line, len) || line[0] == '#')
		return 0;
	n = split_fields(line, len, f);
	if (n != 4) {
		util_set_pos_err(
		    err, errlen, name, lineno, 1, "expected 4 TAB-separated columns, found %u%s", n,
		    n == 1 && memchr(line, ' ', len) ? " (separate columns with TAB, not spaces)"
						     : "");
		return -1;
	}
	if (f[0].len != 1 || (f[0].s[0] != '+' && f[0].s[0] != '-')) {
		util_quote_sample(q, sizeof(q), f[0].s, f[0].len);
		util_set_pos_err(err, errlen, name, lineno, 1,
				 "first column must be '+' or '-', found '%s'", q);
		return -1;
	}
	return add_fields(set, monitor, f[0].s[0], name, lineno, f, err, errlen);
}

/* ---- public: loading ---- */

int exclusion_load_buffer(struct exclusion_set *set, enum exclusion_monitor monitor,
			  const char *name, const char *buf, size_t len, char *err, size_t errlen)
{
	size_t before = set->nrules;
	const char *p = buf, *end = buf + len;
	unsigned lineno = 0;

	if (!name)
		name = "(buffer)";
	if (!valid_monitor(monitor)) {
		util_set_pos_err(err, errlen, name, 0, 0, "unknown monitor %d", (int)monitor);
		return -1;
	}
	/* A UTF-8 byte-order mark, as Windows editors write them, is not part of line 1. */
	if (len >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0)
		p += 3;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);

		if (parse_line(set, monitor, name, ++lineno, p, n, err, errlen) < 0) {
			set_truncate(set, before);
			return -1;
		}
		p = nl ? nl + 1 : end;
	}
	return 0;
}

/* Reads all of FD into a malloc'ed buffer (whole lists are small). */
static char *read_all(int fd, size_t *lenp)
{
	size_t len = 0, cap = 0;
	char *buf = NULL;

	for (;;) {
		ssize_t n;

		if (len == cap) {
			char *nbuf;

			cap = cap ? cap * 2 : 16384;
			if (cap > EXCL_MAX_FILE + 1 || !(nbuf = realloc(buf, cap))) {
				errno = cap > EXCL_MAX_FILE + 1 ? EFBIG : ENOMEM;
				free(buf);
				return NULL;
			}
			buf = nbuf;
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

/* MISSING_OK: a file that does not exist loads as an empty list (returns 1). */
static int load_file(struct exclusion_set *set, enum exclusion_monitor monitor, const char *path,
		     bool missing_ok, char *err, size_t errlen)
{
	CLEANUP_FD int fd = open(path, O_RDONLY | O_CLOEXEC);
	CLEANUP_FREE char *buf = NULL;
	size_t len = 0;

	if (fd < 0 && missing_ok && errno == ENOENT)
		return 1;
	if (fd >= 0)
		buf = read_all(fd, &len);
	if (!buf) {
		if (err && errlen)
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	return exclusion_load_buffer(set, monitor, path, buf, len, err, errlen);
}

int exclusion_load_file(struct exclusion_set *set, enum exclusion_monitor monitor, const char *path,
			char *err, size_t errlen)
{
	return load_file(set, monitor, path, false, err, errlen) < 0 ? -1 : 0;
}

static int load_dir_file(struct exclusion_set *set, enum exclusion_monitor monitor, const char *dir,
			 const char *file, char *err, size_t errlen)
{
	CLEANUP_FREE char *path = NULL;

	if (asprintf(&path, "%s/%s", dir, file) < 0) {
		path = NULL;
		if (err && errlen)
			snprintf(err, errlen, "%s: out of memory", dir);
		return -1;
	}
	return load_file(set, monitor, path, true, err, errlen) < 0 ? -1 : 0;
}

/* The lists of one directory, in monitor order: new name, then original name. */
static int load_dir_lists(struct exclusion_set *set, const char *dir, char *err, size_t errlen)
{
	for (int m = 0; m < EXCL_MONITOR_COUNT; m++) {
		char name[64];

		snprintf(name, sizeof(name), "%s.exl", monitor_names[m]);
		if (load_dir_file(set, m, dir, name, err, errlen) < 0 ||
		    (original_file_names[m] &&
		     load_dir_file(set, m, dir, original_file_names[m], err, errlen) < 0))
			return -1;
	}
	return 0;
}

/* True if NAME is one of the list names exclusion_load_dir() reads. */
static bool is_list_name(const char *name)
{
	for (int m = 0; m < EXCL_MONITOR_COUNT; m++) {
		size_t n = strlen(monitor_names[m]);

		if (strncmp(name, monitor_names[m], n) == 0 && strcmp(name + n, ".exl") == 0)
			return true;
		if (original_file_names[m] && strcmp(name, original_file_names[m]) == 0)
			return true;
	}
	return false;
}

/* True if NAME ends in ".exl". */
static bool has_exl_suffix(const char *name)
{
	size_t n = strlen(name);

	return n > 4 && strcmp(name + n - 4, ".exl") == 0;
}

struct name_list {
	char **v;
	size_t n, cap;
};

static void name_list_free(struct name_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = l->cap = 0;
}

static int name_list_push(struct name_list *l, const char *name)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 8;
		char **v = realloc(l->v, cap * sizeof(*v));

		if (!v)
			return -1;
		l->v = v;
		l->cap = cap;
	}
	if (!(l->v[l->n] = strdup(name)))
		return -1;
	l->n++;
	return 0;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * Looks at one entry of DIR (open as DFD): a subdirectory not starting with
 * '.' is added to SUBDIRS; a file named "*.exl" that is no list name is an
 * error (a misspelt list would otherwise be skipped without a word).
 */
static int scan_entry(int dfd, const char *dir, const char *name, bool top,
		      struct name_list *subdirs, char *err, size_t errlen)
{
	struct stat st;

	if (name[0] == '.')
		return 0;
	if (fstatat(dfd, name, &st, 0) < 0) {
		if (errno == ENOENT) /* a dangling link, or removed meanwhile */
			return 0;
		if (err && errlen)
			snprintf(err, errlen, "%s/%s: %s", dir, name, strerror(errno));
		return -1;
	}
	if (S_ISDIR(st.st_mode))
		return top && name_list_push(subdirs, name) < 0 ? -1 : 0;
	if (S_ISREG(st.st_mode) && has_exl_suffix(name) && !is_list_name(name)) {
		if (err && errlen)
			snprintf(err, errlen,
				 "%s/%s: not a list name (expected file.exl, process.exl, "
				 "connection.exl, system.exl, registry.exl or an original "
				 "name such as FileMonitor.exl)",
				 dir, name);
		return -1;
	}
	return 0;
}

/*
 * Checks the entries of DIR and, if TOP, puts its subdirectories into
 * SUBDIRS sorted bytewise (the order does not depend on the locale).
 */
static int scan_dir(const char *dir, bool top, struct name_list *subdirs, char *err, size_t errlen)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int rc = 0;

	if (!d) {
		if (err && errlen)
			snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	errno = 0;
	while (rc == 0 && (de = readdir(d)))
		rc = scan_entry(dirfd(d), dir, de->d_name, top, subdirs, err, errlen);
	if (rc == 0 && errno) {
		if (err && errlen)
			snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		rc = -1;
	}
	closedir(d);
	if (rc == 0 && subdirs->n > 1)
		qsort(subdirs->v, subdirs->n, sizeof(*subdirs->v), name_cmp);
	return rc;
}

/* The lists of DIR/SUB (one level down: SUB's own subdirectories are ignored). */
static int load_subdir(struct exclusion_set *set, const char *dir, const char *sub, char *err,
		       size_t errlen)
{
	struct name_list none = {0};
	CLEANUP_FREE char *path = NULL;

	if (asprintf(&path, "%s/%s", dir, sub) < 0) {
		path = NULL;
		if (err && errlen)
			snprintf(err, errlen, "%s: out of memory", dir);
		return -1;
	}
	if (scan_dir(path, false, &none, err, errlen) < 0)
		return -1;
	return load_dir_lists(set, path, err, errlen);
}

static int check_is_dir(const char *dir, char *err, size_t errlen)
{
	struct stat st;

	if (stat(dir, &st) < 0) {
		if (err && errlen)
			snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		if (err && errlen)
			snprintf(err, errlen, "%s: not a directory", dir);
		return -1;
	}
	return 0;
}

int exclusion_load_dir(struct exclusion_set *set, const char *dir, char *err, size_t errlen)
{
	size_t before = set->nrules;
	struct name_list subdirs = {0};
	int rc;

	if (check_is_dir(dir, err, errlen) < 0)
		return -1;
	rc = scan_dir(dir, true, &subdirs, err, errlen);
	if (rc == 0)
		rc = load_dir_lists(set, dir, err, errlen);
	for (size_t i = 0; rc == 0 && i < subdirs.n; i++)
		rc = load_subdir(set, dir, subdirs.v[i], err, errlen);
	name_list_free(&subdirs);
	if (rc < 0)
		set_truncate(set, before);
	return rc;
}

int exclusion_add_rule(struct exclusion_set *set, enum exclusion_monitor monitor, const char *sign,
		       const char *key, const char *subject, const char *object, const char *origin,
		       unsigned line, char *err, size_t errlen)
{
	struct field f[4];
	char s, q[200];

	if (!origin)
		origin = "server";
	if (!valid_monitor(monitor) || !sign || !key || !subject || !object) {
		util_set_pos_err(err, errlen, origin, line, 1, "incomplete rule");
		return -1;
	}
	/* Columns are those of the rule written as a TAB-separated line. */
	f[0] = (struct field){sign, strlen(sign), 1};
	f[1] = (struct field){key, strlen(key), f[0].col + (unsigned)f[0].len + 1};
	f[2] = (struct field){subject, strlen(subject), f[1].col + (unsigned)f[1].len + 1};
	f[3] = (struct field){object, strlen(object), f[2].col + (unsigned)f[2].len + 1};
	if (!strcmp(sign, "+") || ascii_caseeq(sign, f[0].len, "yes")) {
		s = '+';
	} else if (!strcmp(sign, "-") || ascii_caseeq(sign, f[0].len, "no")) {
		s = '-';
	} else {
		util_quote_sample(q, sizeof(q), sign, f[0].len);
		util_set_pos_err(err, errlen, origin, line, 1,
				 "sign must be '+', '-', 'yes' or 'no', found '%s'", q);
		return -1;
	}
	return add_fields(set, monitor, s, origin, line, f, err, errlen);
}

/* ---- public: matching ---- */

bool exclusion_is_excluded(struct exclusion_set *set, enum exclusion_monitor monitor,
			   const char *key, const char *subject, const char *object)
{
	const struct bucket *b;
	struct event_text ev;
	size_t i;

	if (!set || !valid_monitor(monitor) || !key)
		return false;
	b = bucket_find(&set->index[monitor], key, strlen(key), NULL);
	if (!b)
		return false;
	ev.subj = subject ? subject : "";
	ev.slen = strlen(ev.subj);
	ev.obj = object ? object : "";
	ev.olen = strlen(ev.obj);
	for (i = 0; i < b->minus.n; i++) {
		if (rule_matches(set, b->minus.v[i], &ev)) {
			b->minus.v[i]->hits++;
			return false;
		}
	}
	for (i = 0; i < b->plus.n; i++) {
		if (rule_matches(set, b->plus.v[i], &ev)) {
			b->plus.v[i]->hits++;
			return true;
		}
	}
	return false;
}

/* The '+' rule that makes KEY always excluded, or NULL. */
static struct rule *always_rule(const struct exclusion_set *set, enum exclusion_monitor monitor,
				const char *key)
{
	const struct bucket *b;
	size_t i;

	if (!set || !valid_monitor(monitor) || !key)
		return NULL;
	b = bucket_find(&set->index[monitor], key, strlen(key), NULL);
	if (!b || b->minus.n > 0)
		return NULL;
	for (i = 0; i < b->plus.n; i++) {
		if (rule_match_all(b->plus.v[i]))
			return b->plus.v[i];
	}
	return NULL;
}

bool exclusion_key_always_excluded(const struct exclusion_set *set, enum exclusion_monitor monitor,
				   const char *key)
{
	return always_rule(set, monitor, key) != NULL;
}

bool exclusion_mark_kernel_filtered(struct exclusion_set *set, enum exclusion_monitor monitor,
				    const char *key)
{
	struct rule *r = always_rule(set, monitor, key);

	if (r)
		r->kernel_filtered = true;
	return r != NULL;
}

/* ---- public: statistics ---- */

size_t exclusion_rule_count(const struct exclusion_set *set)
{
	return set ? set->nrules : 0;
}

int exclusion_rule_get(const struct exclusion_set *set, size_t idx, struct exclusion_rule_info *out)
{
	const struct rule *r;

	if (!set || idx >= set->nrules)
		return -1;
	r = set->rules[idx];
	*out = (struct exclusion_rule_info){
	    .origin = r->origin,
	    .line = r->line,
	    .monitor = r->monitor,
	    .sign = r->sign,
	    .key = r->key,
	    .subject = r->subject,
	    .object = r->object,
	    .hits = r->hits,
	    .kernel_filtered = r->kernel_filtered,
	};
	return 0;
}

/*
 * Prints S with every byte outside printable ASCII as \xNN.  Backslashes stay
 * as they are, so a printed regex reads as written and is still the same
 * regex (\xNN is PCRE2 for that byte).
 */
static void print_text(FILE *out, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c >= 0x20 && c < 0x7f)
			fputc(c, out);
		else
			fprintf(out, "\\x%02x", c);
	}
}

void exclusion_print_stats(const struct exclusion_set *set, FILE *out)
{
	size_t i;

	for (i = 0; set && i < set->nrules; i++) {
		const struct rule *r = set->rules[i];

		print_text(out, r->origin);
		fprintf(out, ":%u  hits=%" PRIu64 "  %c  ", r->line, r->hits, r->sign);
		print_text(out, r->key);
		fputs("  ", out);
		print_text(out, r->subject);
		fputs("  ", out);
		print_text(out, r->object);
		if (r->kernel_filtered)
			fputs(" (kernel-filtered)", out);
		else if (r->hits == 0)
			fputs(" (dead)", out);
		fputc('\n', out);
	}
}
