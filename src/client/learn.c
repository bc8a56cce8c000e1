/*
 * learn.c - see learn.h.
 *
 * Events are kept as added (one item each) and merged only when rules are
 * proposed: identical events first ("seen" events, with the set of runs
 * they occurred in), then every seen event becomes one candidate rule per
 * path it changes, as a list of tokens (literal text, literal words, and
 * the classes random parts become).  Candidates that render the same merge;
 * then words that vary between otherwise equal candidates become classes
 * (vary_pass) until nothing changes.  Tokens never span a '/', and no class
 * matches '/' or '.', so a generalised rule stays in the directory and the
 * file-name shape it was learnt from: it cannot reach ~/.bashrc or
 * ~/.config/autostart from a cache directory.
 */
#include "client/learn.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <errno.h>
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

#include "client/classify.h"
#include "common/path.h"
#include "common/strset.h"
#include "common/util.h"

#define EPHEMERAL_PORT_MIN 32768 /* Linux's default ip_local_port_range starts here */
#define RANDOM_MIN_LEN     6     /* mkstemp's XXXXXX */
#define RANDOM_MAX_LEN     64
#define UUID_CLASS         "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"

/* Locations whose changes are always reported (the default file.exl's '-' rules and more). */
static const struct guard {
	const char *name;
	const char *re; /* full match, caseless, like the lists */
} guards[] = {
    {"autostart", ".*/\\.config/autostart(/.*)?|/etc/xdg/autostart(/.*)?"},
    {"cron", "/etc/cron.*|/var/spool/cron(/.*)?"},
    {"shell start-up file", ".*/\\.(bashrc|bash_profile|bash_login|bash_logout|profile|zshrc|"
			    "zprofile|zshenv|zlogin|zlogout)|/etc/profile(\\.d(/.*)?)?|"
			    "/etc/bash\\.bashrc|/etc/zsh(/.*)?"},
    {"systemd unit", ".*/\\.config/systemd(/.*)?|/etc/systemd(/.*)?|/(usr/)?lib/systemd(/.*)?"},
    {"~/.local/bin", ".*/\\.local/bin(/.*)?"},
    {"~/Downloads", ".*/Downloads(/.*)?"},
    {"ld.so.preload", "/etc/ld\\.so\\.preload"},
    {"ssh keys (authorized_keys)", ".*/\\.ssh(/.*)?"},
    {"accounts and sudoers", "/etc/(passwd|shadow|group|gshadow)|/etc/sudoers(\\.d(/.*)?)?"},
    {"SysV start-up", "/etc/rc\\.local|/etc/init\\.d(/.*)?"},
};
#define N_GUARDS        (sizeof(guards) / sizeof(guards[0]))
#define MADE_EXECUTABLE "made executable"

/* Canary paths in the always-reported locations no proposed rule may match; ~ = each home. */
static const char *const canaries[] = {
    "~/.config/autostart/x.desktop",
    "/etc/xdg/autostart/x.desktop",
    "/etc/crontab",
    "/etc/cron.d/x",
    "/var/spool/cron/crontabs/root",
    "~/.bashrc",
    "~/.profile",
    "~/.zshrc",
    "~/.bash_profile",
    "/etc/profile",
    "/etc/profile.d/x.sh",
    "/etc/bash.bashrc",
    "~/.config/systemd/user/x.service",
    "/etc/systemd/system/x.service",
    "~/.local/bin/x",
    "~/Downloads/x",
    "/etc/ld.so.preload",
    "~/.ssh/authorized_keys",
    "/etc/sudoers",
    "/etc/passwd",
    "/etc/rc.local",
    "/etc/init.d/x",
};
static const char *const default_homes[] = {"/home/capture", "/root"};

struct item { /* one event as added */
	enum event_type type;
	char *action, *process, *object1, *object2;
	unsigned run;
	const char *always; /* category (static string) or NULL */
	bool chmod_file;    /* a chmod of a path not made by Mkdir in its run */
};

struct learn {
	struct item *items;
	size_t n, cap;
	unsigned runs;
	struct strset *dirs; /* paths made by Mkdir in the current run */
	pcre2_code *guard[N_GUARDS];
	pcre2_code *uuid;     /* a UUID at the start of a word */
	pcre2_code *wordlike; /* a word of natural case: "Chromium", "QuotaManager", "WAL" */
	pcre2_match_data *md;
};

/* ---- set-up ---- */

static pcre2_code *compile(const char *re, uint32_t opts)
{
	int errcode;
	PCRE2_SIZE off;

	return pcre2_compile((PCRE2_SPTR)re, PCRE2_ZERO_TERMINATED, opts, &errcode, &off, NULL);
}

struct learn *learn_new(void)
{
	const uint32_t full = PCRE2_ANCHORED | PCRE2_ENDANCHORED;
	struct learn *l = calloc(1, sizeof(*l));
	bool ok;

	if (!l)
		return NULL;
	l->dirs = strset_new();
	l->uuid = compile(UUID_CLASS "(?![0-9a-z])", PCRE2_ANCHORED | PCRE2_CASELESS);
	l->wordlike = compile("(?:[A-Z]*[a-z]{2,})*[A-Z]*", full);
	l->md = pcre2_match_data_create(4, NULL);
	ok = l->dirs && l->uuid && l->wordlike && l->md;
	for (size_t i = 0; i < N_GUARDS && ok; i++) {
		l->guard[i] = compile(guards[i].re, full | PCRE2_CASELESS | PCRE2_DOTALL);
		ok = l->guard[i] != NULL;
	}
	if (!ok) {
		learn_free(l);
		return NULL;
	}
	return l;
}

static void item_free(struct item *it)
{
	free(it->action);
	free(it->process);
	free(it->object1);
	free(it->object2);
}

void learn_free(struct learn *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++)
		item_free(&l->items[i]);
	free(l->items);
	strset_free(l->dirs);
	for (size_t i = 0; i < N_GUARDS; i++)
		pcre2_code_free(l->guard[i]);
	pcre2_code_free(l->uuid);
	pcre2_code_free(l->wordlike);
	pcre2_match_data_free(l->md);
	free(l);
}

/* ---- always-reported events ---- */

static bool matches(const struct learn *l, const pcre2_code *re, const char *s, size_t off)
{
	return pcre2_match(re, (PCRE2_SPTR)s, strlen(s), off, 0, l->md, NULL) >= 0;
}

static const char *guard_name(const struct learn *l, const char *path)
{
	for (size_t i = 0; path && i < N_GUARDS; i++)
		if (matches(l, l->guard[i], path, 0))
			return guards[i].name;
	return NULL;
}

/* The file actions that can plant or arm a file (the default list's '-' rules, and Mkdir). */
static bool plants(const char *action)
{
	static const char *const names[] = {"Create",  "Write",     "Rename", "Link",
					    "Symlink", "Attribute", "Mkdir"};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(action, names[i]) == 0)
			return true;
	return false;
}

/* "chmod 0755": true if any x bit is set. */
static bool chmod_x(const char *object2)
{
	char *end;
	unsigned long mode;

	if (!object2 || strncmp(object2, "chmod ", 6) != 0)
		return false;
	mode = strtoul(object2 + 6, &end, 8);
	return end != object2 + 6 && (mode & 0111);
}

const char *learn_always_reported(const struct learn *l, const struct capture_event *ev,
				  bool directory)
{
	const char *name;

	if (ev->type == EVENT_PROCESS)
		return guard_name(l, ev->object2); /* a program run from such a place */
	if (ev->type != EVENT_FILE || !plants(ev->action))
		return NULL;
	if (ev->flags & EVENT_F_EXECUTABLE)
		return MADE_EXECUTABLE; /* classify_is_reported() never lets a rule hide it */
	name = guard_name(l, ev->object1);
	if (!name && strcmp(ev->action, "Rename") == 0)
		name = guard_name(l, ev->object2);
	if (!name && strcmp(ev->action, "Attribute") == 0 && !directory && chmod_x(ev->object2))
		name = MADE_EXECUTABLE;
	return name;
}

/* ---- adding events ---- */

int learn_begin_run(struct learn *l)
{
	struct strset *dirs;

	if (l->runs >= LEARN_MAX_RUNS) {
		errno = E2BIG;
		return -1;
	}
	dirs = strset_new();
	if (!dirs)
		return -1;
	strset_free(l->dirs);
	l->dirs = dirs;
	l->runs++;
	return 0;
}

static char *dup_or_dash(const char *s)
{
	return strdup(s ? s : "-1");
}

int learn_add_event(struct learn *l, const struct capture_event *ev)
{
	struct item it = {.type = ev->type, .run = l->runs - 1};
	bool file = ev->type == EVENT_FILE, dir = false;

	if (!l->runs || ev->type >= EVENT_TYPE_COUNT || !ev->action) {
		errno = EINVAL;
		return -1;
	}
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 256;
		struct item *v = reallocarray(l->items, cap, sizeof(*v));

		if (!v)
			return -1;
		l->items = v;
		l->cap = cap;
	}
	if (file && strcmp(ev->action, "Mkdir") == 0 && ev->object1 &&
	    strset_add(l->dirs, ev->object1) < 0)
		return -1;
	if (file && strcmp(ev->action, "Attribute") == 0)
		dir = ev->object1 && strset_has(l->dirs, ev->object1);
	it.always = learn_always_reported(l, ev, dir);
	it.chmod_file = file && strcmp(ev->action, "Attribute") == 0 && !dir && ev->object2 &&
			strncmp(ev->object2, "chmod", 5) == 0;
	it.action = strdup(ev->action);
	it.process = dup_or_dash(ev->process);
	it.object1 = dup_or_dash(ev->object1);
	it.object2 = dup_or_dash(ev->object2);
	if (!it.action || !it.process || !it.object1 || !it.object2) {
		item_free(&it);
		return -1;
	}
	l->items[l->n++] = it;
	return 0;
}

/* ---- tokens: a subject or object as literal text and classes ---- */

enum tok_kind {
	TOK_LIT,    /* literal text that never generalises (separators, an address) */
	TOK_WORD,   /* a literal run of [A-Za-z0-9], may generalise when it varies */
	TOK_DIGITS, /* [0-9]+ */
	TOK_HEX,    /* [0-9a-f]{len} */
	TOK_ALNUM,  /* [A-Za-z0-9]{len} */
	TOK_UUID,
};

struct tok {
	enum tok_kind kind;
	unsigned len; /* bytes of the text it stands for (HEX, ALNUM) */
	char *text;   /* LIT, WORD; NULL otherwise */
};

struct toks {
	struct tok *v;
	size_t n, cap;
};

static void toks_free(struct toks *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->v[i].text);
	free(t->v);
	memset(t, 0, sizeof(*t));
}

static int toks_push(struct toks *t, enum tok_kind kind, const char *s, size_t len)
{
	struct tok k = {.kind = kind, .len = (unsigned)len};

	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		struct tok *v = reallocarray(t->v, cap, sizeof(*v));

		if (!v)
			return -1;
		t->v = v;
		t->cap = cap;
	}
	if (kind == TOK_LIT || kind == TOK_WORD) {
		k.text = strndup(s, len);
		if (!k.text)
			return -1;
	}
	t->v[t->n++] = k;
	return 0;
}

static bool is_alnum(unsigned char c)
{
	return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
}

static bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static bool is_hex_letter(unsigned char c)
{
	return (c | 0x20) >= 'a' && (c | 0x20) <= 'f';
}

/* Looks random: letters and digits mixed, or a case pattern no word has ("AbCdEf"). */
static bool looks_random(const struct learn *l, const char *w, size_t len)
{
	bool digit = false, letter = false;
	char buf[RANDOM_MAX_LEN + 1];

	if (len < RANDOM_MIN_LEN || len > RANDOM_MAX_LEN)
		return false;
	for (size_t i = 0; i < len; i++) {
		digit |= is_digit((unsigned char)w[i]);
		letter |= !is_digit((unsigned char)w[i]);
	}
	if (digit)
		return letter;
	memcpy(buf, w, len);
	buf[len] = '\0';
	return !matches(l, l->wordlike, buf, 0);
}

/* A pid or tid in /proc/PID/... or /proc/PID/task/TID/... */
static bool proc_pid_at(const char *s, size_t start, size_t end)
{
	if (strncmp(s, "/proc/", 6) != 0 || (s[end] && s[end] != '/'))
		return false;
	return start == 6 || (start > 11 && strncmp(s + start - 6, "/task/", 6) == 0);
}

/* The token kind of the word s[start, end). */
static enum tok_kind word_kind(const struct learn *l, const char *s, size_t start, size_t end)
{
	size_t len = end - start, digits = 0, hex = 0;
	char prev = start ? s[start - 1] : '/';

	for (size_t i = start; i < end; i++) {
		digits += is_digit((unsigned char)s[i]);
		hex += is_hex_letter((unsigned char)s[i]);
	}
	/* ids: hex with both digits and letters, or all digits at a hash's length */
	if (digits && digits + hex == len &&
	    (hex ? len >= 8 : len == 16 || len == 32 || len == 40 || len == 64))
		return TOK_HEX;
	if (digits == len)
		return len >= 3 || proc_pid_at(s, start, end) ? TOK_DIGITS : TOK_WORD;
	/* mkstemp-like: a random suffix ending a file name, after '.', '-' or '_' */
	if ((prev == '.' || prev == '-' || prev == '_') && (!s[end] || s[end] == '/') &&
	    looks_random(l, s + start, len))
		return TOK_ALNUM;
	return TOK_WORD;
}

/* Length of a UUID starting at s[i] (at a word start), or 0. */
static size_t uuid_at(const struct learn *l, const char *s, size_t i)
{
	if (i && is_alnum((unsigned char)s[i - 1]))
		return 0;
	if (pcre2_match(l->uuid, (PCRE2_SPTR)s, strlen(s), i, 0, l->md, NULL) < 0)
		return 0;
	return pcre2_get_ovector_pointer(l->md)[1] - i;
}

static int tokenize_path(const struct learn *l, const char *s, struct toks *out)
{
	size_t i = 0, n = strlen(s), j, u;
	int rc = 0;

	while (i < n && rc == 0) {
		if ((u = uuid_at(l, s, i)) > 0) {
			rc = toks_push(out, TOK_UUID, NULL, u);
			i += u;
			continue;
		}
		for (j = i;
		     j < n && is_alnum((unsigned char)s[j]) == is_alnum((unsigned char)s[i]);)
			j++;
		if (!is_alnum((unsigned char)s[i]))
			rc = toks_push(out, TOK_LIT, s + i, j - i);
		else
			rc = toks_push(out, word_kind(l, s, i, j), s + i, j - i);
		i = j;
	}
	return rc;
}

/*
 * "ip:port" or "[v6]:port": the address stays literal; an ephemeral port
 * becomes [0-9]+.  A remote service port (80, 53) never generalises; the
 * local port of a listening socket may, when it varies (LOCAL).
 */
static int tokenize_address(const struct learn *l, const char *s, bool local, struct toks *out)
{
	const char *colon = strrchr(s, ':');
	size_t hostlen = colon ? (size_t)(colon - s) + 1 : 0, plen = colon ? strlen(colon + 1) : 0;
	unsigned long port;
	bool numeric = plen > 0 && plen <= 5 && hostlen > 1;

	for (size_t i = 0; numeric && i < plen; i++)
		numeric = is_digit((unsigned char)colon[1 + i]);
	if (!numeric || (s[0] != '[' && strspn(s, "0123456789.") != hostlen - 1))
		return tokenize_path(l, s, out); /* a unix socket path, "@name", ... */
	port = strtoul(colon + 1, NULL, 10);
	if (toks_push(out, TOK_LIT, s, hostlen) < 0)
		return -1;
	if (port >= EPHEMERAL_PORT_MIN && port <= 65535)
		return toks_push(out, TOK_DIGITS, NULL, plen);
	return toks_push(out, local ? TOK_WORD : TOK_LIT, colon + 1, plen);
}

/* Literal bytes as regex text: metacharacters escaped, control and non-ASCII bytes as \xNN. */
static void render_literal(FILE *f, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p < 0x20 || *p >= 0x7f)
			fprintf(f, "\\x%02x", *p);
		else if (strchr("\\.^$|?*+()[]{}", *p))
			fprintf(f, "\\%c", *p);
		else
			fputc(*p, f);
	}
}

static void render_tok(FILE *f, const struct tok *t)
{
	switch (t->kind) {
	case TOK_LIT:
	case TOK_WORD: render_literal(f, t->text); break;
	case TOK_DIGITS: fputs("[0-9]+", f); break;
	case TOK_HEX: fprintf(f, "[0-9a-f]{%u}", t->len); break;
	case TOK_ALNUM: fprintf(f, "[A-Za-z0-9]{%u}", t->len); break;
	case TOK_UUID: fputs(UUID_CLASS, f); break;
	}
}

/* Renders T[FROM, TO) into F. */
static void render_range(FILE *f, const struct toks *t, size_t from, size_t to)
{
	for (size_t i = from; i < to; i++)
		render_tok(f, &t->v[i]);
}

/* The whole of T as a malloc'ed regex; NULL on allocation failure. */
static char *render(const struct toks *t)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	render_range(f, t, 0, t->n);
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* An object of MONITOR with key ACTION (NULL: a subject, always a path). */
static int tokenize(const struct learn *l, enum exclusion_monitor m, const char *action,
		    const char *s, struct toks *out)
{
	size_t alen = action ? strlen(action) : 0;
	bool local = alen > 10 && strcmp(action + alen - 10, "-listening") == 0;

	if (action && m == EXCL_CONNECTION)
		return tokenize_address(l, s, local, out);
	return tokenize_path(l, s, out);
}

int learn_generalize(const struct learn *l, enum event_type type, const char *action, const char *s,
		     char *out, size_t len)
{
	static const enum exclusion_monitor monitor[EVENT_TYPE_COUNT] = {
	    [EVENT_PROCESS] = EXCL_PROCESS,
	    [EVENT_FILE] = EXCL_FILE,
	    [EVENT_CONNECTION] = EXCL_CONNECTION,
	    [EVENT_SYSTEM] = EXCL_SYSTEM,
	};
	struct toks t = {0};
	char *re = NULL;
	int rc = -1;

	if (type < EVENT_TYPE_COUNT && tokenize(l, monitor[type], action, s, &t) == 0 &&
	    (re = render(&t)) && strlen(re) < len) {
		memcpy(out, re, strlen(re) + 1);
		rc = 0;
	}
	free(re);
	toks_free(&t);
	return rc;
}

/* ---- seen events: identical items merged, with the runs they occurred in ---- */

struct seen {
	const struct item *it; /* the first of its items (fields borrowed from the learn) */
	unsigned char *runs;   /* bit set of runs */
	uint64_t count;
	const char *why; /* why no rule excludes it (static or owned by a candidate), or NULL */
};

static int cmp_str(const char *a, const char *b)
{
	return strcmp(a, b);
}

static int cmp_items(const void *pa, const void *pb)
{
	const struct item *a = pa, *b = pb;
	int c = (int)a->type - (int)b->type;

	if (!c)
		c = cmp_str(a->action, b->action);
	if (!c)
		c = cmp_str(a->process, b->process);
	if (!c)
		c = cmp_str(a->object1, b->object1);
	if (!c)
		c = cmp_str(a->object2, b->object2);
	return c;
}

static size_t bits_bytes(unsigned runs)
{
	return (runs + 7) / 8;
}

static unsigned bits_count(const unsigned char *bits, unsigned runs)
{
	unsigned n = 0;

	for (unsigned i = 0; i < runs; i++)
		n += (bits[i / 8] >> (i % 8)) & 1;
	return n;
}

/* Sorts the items and merges identical ones into *OUT. */
static int make_seen(struct learn *l, struct seen **out, size_t *n_out)
{
	struct seen *v = calloc(l->n ? l->n : 1, sizeof(*v)), *last = NULL;
	size_t n = 0;

	if (!v)
		return -1;
	if (l->n) /* qsort wants a valid array even for none */
		qsort(l->items, l->n, sizeof(*l->items), cmp_items);
	for (size_t i = 0; i < l->n; i++) {
		const struct item *it = &l->items[i];

		if (!last || cmp_items(last->it, it) != 0) {
			last = &v[n++];
			last->it = it;
			last->runs = calloc(bits_bytes(l->runs), 1);
			if (!last->runs)
				goto fail;
		}
		last->runs[it->run / 8] |= (unsigned char)(1u << (it->run % 8));
		last->count++;
	}
	*out = v;
	*n_out = n;
	return 0;
fail:
	for (size_t i = 0; i < n; i++)
		free(v[i].runs);
	free(v);
	return -1;
}

static void seen_free(struct seen *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i].runs);
	free(v);
}

/* As classify.c presents the event to its list. */
static void seen_event(const struct seen *s, struct capture_event *ev)
{
	memset(ev, 0, sizeof(*ev));
	ev->type = s->it->type;
	ev->action = s->it->action;
	ev->process = s->it->process;
	ev->object1 = s->it->object1;
	ev->object2 = s->it->object2;
}

static const enum exclusion_monitor type_monitor[EVENT_TYPE_COUNT] = {
    [EVENT_PROCESS] = EXCL_PROCESS,
    [EVENT_FILE] = EXCL_FILE,
    [EVENT_CONNECTION] = EXCL_CONNECTION,
    [EVENT_SYSTEM] = EXCL_SYSTEM,
};

/* The key, subject and object SECOND (the Rename target or not) of S, as the lists see them. */
static void seen_columns(const struct seen *s, bool second, const char **key, const char **subject,
			 const char **object)
{
	/* NOLINTNEXTLINE(clang-analyzer-core.NullDereference): make_seen fills every slot < n */
	if (s->it->type == EVENT_PROCESS) {
		*key = path_basename(s->it->object2);
		*subject = path_basename(s->it->process);
		*object = s->it->object2;
		return;
	}
	*key = s->it->action;
	*subject = s->it->process;
	*object = second ? s->it->object2 : s->it->object1;
}

/* ---- candidate rules ---- */

struct src { /* an event a candidate was made from */
	size_t seen;
	bool second; /* its Rename target */
};

struct cand {
	enum exclusion_monitor m;
	const char *key; /* borrowed from the seen event */
	char *subject;   /* rendered regex */
	struct toks toks;
	char *object; /* TOKS rendered */
	unsigned char *runs;
	struct src *src;
	size_t nsrc;
	uint64_t events;
	char *why; /* dropped by the verification: why */
};

struct cands {
	struct cand *v;
	size_t n, cap;
	unsigned runs;
};

/* A reason that needs no memory (cand_free knows not to free it). */
static char why_no_memory[] = "no rule: out of memory";

static void cand_free(struct cand *c)
{
	free(c->subject);
	toks_free(&c->toks);
	free(c->object);
	free(c->runs);
	free(c->src);
	if (c->why != why_no_memory)
		free(c->why);
	memset(c, 0, sizeof(*c));
}

static void cands_free(struct cands *cs)
{
	for (size_t i = 0; i < cs->n; i++)
		cand_free(&cs->v[i]);
	free(cs->v);
	memset(cs, 0, sizeof(*cs));
}

/* One candidate for path SECOND of seen event I. */
static int cand_add(const struct learn *l, struct cands *cs, const struct seen *sv, size_t i,
		    bool second)
{
	const char *key, *subject, *object;
	struct toks st = {0};
	struct cand c = {.m = type_monitor[sv[i].it->type]};

	if (cs->n == cs->cap) {
		size_t cap = cs->cap ? cs->cap * 2 : 64;
		struct cand *v = reallocarray(cs->v, cap, sizeof(*v));

		if (!v)
			return -1;
		cs->v = v;
		cs->cap = cap;
	}
	seen_columns(&sv[i], second, &key, &subject, &object);
	c.key = key;
	if (tokenize(l, c.m, NULL, subject, &st) == 0)
		c.subject = render(&st);
	toks_free(&st);
	if (c.subject && tokenize(l, c.m, sv[i].it->action, object, &c.toks) == 0)
		c.object = render(&c.toks);
	c.runs = malloc(bits_bytes(cs->runs));
	c.src = malloc(sizeof(*c.src));
	if (!c.object || !c.runs || !c.src) {
		cand_free(&c);
		return -1;
	}
	memcpy(c.runs, sv[i].runs, bits_bytes(cs->runs));
	c.src[0] = (struct src){i, second};
	c.nsrc = 1;
	cs->v[cs->n++] = c;
	return 0;
}

static const char *const why_chmod =
    "no rule: an Attribute rule would also hide a later chmod +x of this path "
    "(a list cannot tell chmod modes apart)";

/* A candidate per changed path of every event that may get a rule. */
static int make_cands(const struct learn *l, struct seen *sv, size_t n, struct cands *cs)
{
	for (size_t i = 0; i < n; i++) {
		const struct item *it = sv[i].it;

		if (it->always)
			continue;
		if (it->chmod_file) {
			sv[i].why = why_chmod;
			continue;
		}
		if (cand_add(l, cs, sv, i, false) < 0)
			return -1;
		if (it->type == EVENT_FILE && strcmp(it->action, "Rename") == 0 &&
		    strcmp(it->object1, it->object2) != 0 && cand_add(l, cs, sv, i, true) < 0)
			return -1;
	}
	return 0;
}

static int cmp_cands(const void *pa, const void *pb)
{
	const struct cand *a = pa, *b = pb;
	int c = (int)a->m - (int)b->m;

	if (!c)
		c = strcmp(a->key, b->key);
	if (!c)
		c = strcmp(a->subject, b->subject);
	if (!c)
		c = strcmp(a->object, b->object);
	return c;
}

/* Moves B's events into A (same rule). */
static int cand_absorb(struct cand *a, struct cand *b, unsigned runs)
{
	struct src *v = reallocarray(a->src, a->nsrc + b->nsrc, sizeof(*v));

	if (!v)
		return -1;
	a->src = v;
	memcpy(a->src + a->nsrc, b->src, b->nsrc * sizeof(*v));
	a->nsrc += b->nsrc;
	for (size_t i = 0; i < bits_bytes(runs); i++)
		a->runs[i] |= b->runs[i];
	cand_free(b);
	return 0;
}

/* Merges candidates that render the same rule. */
static int merge_same(struct cands *cs)
{
	size_t out = 0;

	if (cs->n)
		qsort(cs->v, cs->n, sizeof(*cs->v), cmp_cands);
	for (size_t i = 0; i < cs->n; i++) {
		if (out && cmp_cands(&cs->v[out - 1], &cs->v[i]) == 0) {
			if (cand_absorb(&cs->v[out - 1], &cs->v[i], cs->runs) < 0)
				return -1;
			continue;
		}
		if (out != i) { /* moved: the old slot must not free it again */
			cs->v[out] = cs->v[i];
			memset(&cs->v[i], 0, sizeof(cs->v[i]));
		}
		out++;
	}
	cs->n = out;
	return 0;
}

/* ---- words that vary between otherwise equal candidates ---- */

struct entry {
	char *shape; /* the rule with one word position replaced by a placeholder */
	size_t cand, tok;
	bool digits;
};

static bool all_digits(const char *s)
{
	for (; *s; s++)
		if (!is_digit((unsigned char)*s))
			return false;
	return true;
}

/* Whether token T may vary: 0 no, 1 as digits, 2 as a same-length word. */
static int vary_kind(const struct tok *t)
{
	if (t->kind == TOK_DIGITS || (t->kind == TOK_WORD && all_digits(t->text)))
		return 1;
	if (t->kind == TOK_ALNUM)
		return 2;
	return t->kind == TOK_WORD && t->len >= RANDOM_MIN_LEN && t->len <= RANDOM_MAX_LEN ? 2 : 0;
}

static char *shape_of(const struct cand *c, size_t j, int kind)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	fprintf(f, "%d\t%s\t%s\t", (int)c->m, c->key, c->subject);
	render_range(f, &c->toks, 0, j);
	if (kind == 1)
		fputs("\x01"
		      "D",
		      f);
	else
		fprintf(f,
			"\x01"
			"A%u",
			c->toks.v[j].len);
	render_range(f, &c->toks, j + 1, c->toks.n);
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

static int cmp_entries(const void *pa, const void *pb)
{
	return strcmp(((const struct entry *)pa)->shape, ((const struct entry *)pb)->shape);
}

static void entries_free(struct entry *e, size_t n)
{
	for (size_t i = 0; e && i < n; i++)
		free(e[i].shape);
	free(e);
}

/* Every varying-capable word position of every candidate, sorted by shape. */
static struct entry *make_entries(const struct cands *cs, size_t *n_out)
{
	size_t n = 0, cap = 0;
	struct entry *e = NULL;

	for (size_t i = 0; i < cs->n; i++) {
		for (size_t j = 0; j < cs->v[i].toks.n; j++) {
			int kind = vary_kind(&cs->v[i].toks.v[j]);

			if (!kind)
				continue;
			if (n == cap) {
				struct entry *v =
				    reallocarray(e, cap = cap ? cap * 2 : 256, sizeof(*v));

				if (!v)
					goto fail;
				e = v;
			}
			e[n] = (struct entry){shape_of(&cs->v[i], j, kind), i, j, kind == 1};
			if (!e[n++].shape)
				goto fail;
		}
	}
	if (n)
		qsort(e, n, sizeof(*e), cmp_entries);
	*n_out = n;
	return e ? e : calloc(1, sizeof(*e));
fail:
	entries_free(e, n);
	return NULL;
}

/* Token J of T ends a file name after '.', '-' or '_': where mkstemp puts its XXXXXX. */
static bool suffix_position(const struct toks *t, size_t j)
{
	const struct tok *prev = j ? &t->v[j - 1] : NULL,
			 *next = j + 1 < t->n ? &t->v[j + 1] : NULL;
	size_t plen = prev && prev->kind == TOK_LIT ? strlen(prev->text) : 0;

	if (!plen || !strchr(".-_", prev->text[plen - 1]))
		return false;
	return !next || (next->kind == TOK_LIT && next->text[0] == '/');
}

/*
 * Decides one group of entries with the same shape: digits always become
 * [0-9]+; words become [A-Za-z0-9]{N} if they are a file name's suffix
 * (suffix_position) or at least half of the values (classes count as
 * random) look random.  Sets *CHANGED.
 */
static void decide_group(const struct learn *l, struct cands *cs, const struct entry *g, size_t n,
			 bool *changed)
{
	size_t words = 0, random = 0;

	for (size_t i = 0; i < n; i++) {
		const struct tok *t = &cs->v[g[i].cand].toks.v[g[i].tok];

		words += t->kind == TOK_WORD;
		random += t->kind != TOK_WORD || looks_random(l, t->text, t->len);
	}
	if (n < 2 || !words)
		return;
	if (!g[0].digits && random * 2 < n && !suffix_position(&cs->v[g[0].cand].toks, g[0].tok))
		return;
	for (size_t i = 0; i < n; i++) {
		struct tok *t = &cs->v[g[i].cand].toks.v[g[i].tok];

		if (t->kind != TOK_WORD)
			continue;
		t->kind = g[0].digits ? TOK_DIGITS : TOK_ALNUM;
		free(t->text);
		t->text = NULL;
		*changed = true;
	}
}

/* One pass over all word positions; *CHANGED if any word became a class. */
static int vary_pass(const struct learn *l, struct cands *cs, bool *changed)
{
	size_t n = 0;
	struct entry *e = make_entries(cs, &n);

	if (!e)
		return -1;
	*changed = false;
	for (size_t i = 0, j; i < n; i = j) {
		for (j = i + 1; j < n && strcmp(e[i].shape, e[j].shape) == 0;)
			j++;
		decide_group(l, cs, e + i, j - i, changed);
	}
	entries_free(e, n);
	for (size_t i = 0; *changed && i < cs->n; i++) {
		free(cs->v[i].object);
		cs->v[i].object = render(&cs->v[i].toks);
		if (!cs->v[i].object)
			return -1;
	}
	return *changed ? merge_same(cs) : 0;
}

/* Merges and generalises until nothing changes (each pass turns words into classes). */
static int generalize_all(const struct learn *l, struct cands *cs)
{
	bool changed = true;

	if (merge_same(cs) < 0)
		return -1;
	while (changed)
		if (vary_pass(l, cs, &changed) < 0)
			return -1;
	return 0;
}

/* ---- verification ---- */

/* Drops C for the reason FMT (one %s: ARG); the first reason stays. */
static void cand_drop(struct cand *c, const char *fmt, const char *arg)
{
	if (c->why)
		return;
	if (asprintf(&c->why, fmt, arg) < 0)
		c->why = why_no_memory; /* still dropped */
}

static bool cand_live(const struct cand *c)
{
	return !c->why;
}

/* Whether SET excludes the source S of a candidate. */
static bool excludes_src(struct exclusion_set *set, enum exclusion_monitor m, const char *key,
			 const struct seen *sv, struct src s)
{
	const char *k, *subject, *object;

	seen_columns(&sv[s.seen], s.second, &k, &subject, &object);
	return exclusion_is_excluded(set, m, key, subject, object);
}

/*
 * Would SET exclude the canary path PATH (~ = HOME) for the program of C's
 * first event?  For a process rule the canary is a program of the rule's
 * name in that place.
 */
static bool hides_canary(struct exclusion_set *set, const struct cand *c, const struct seen *sv,
			 const char *path, const char *home, char *shown, size_t len)
{
	const char *key, *subject, *object;
	size_t plen = strlen(path);
	bool exe = plen > 2 && strcmp(path + plen - 2, "/x") == 0;

	seen_columns(&sv[c->src[0].seen], c->src[0].second, &key, &subject, &object);
	if (c->m == EXCL_PROCESS && exe)
		plen--; /* the name is the rule's key */
	snprintf(shown, len, "%s%.*s%s", path[0] == '~' ? home : "", (int)plen - (path[0] == '~'),
		 path + (path[0] == '~'), c->m == EXCL_PROCESS && exe ? c->key : "");
	return exclusion_is_excluded(set, c->m, c->key, subject, shown);
}

/* The home directory in OBJECT ("/home/NAME"), or "" if none. */
static void home_of(const char *object, char *home, size_t len)
{
	const char *end = strncmp(object, "/home/", 6) == 0 ? strchr(object + 6, '/') : NULL;

	snprintf(home, len, "%.*s", end ? (int)(end - object) : 0, object);
}

/* Alone, C must exclude every event it was made from and no canary. */
static void verify_alone(struct cand *c, const struct seen *sv)
{
	struct exclusion_set *set = exclusion_set_new();
	char err[512], shown[4200], home[256];
	const char *key, *subject, *object;
	/* only changes are always reported: Open, Read, Delete rules cannot hide one */
	bool paths = (c->m == EXCL_FILE && plants(c->key)) || c->m == EXCL_PROCESS;

	if (!set || exclusion_add_rule(set, c->m, "+", c->key, c->subject, c->object, "learn", 0,
				       err, sizeof(err)) < 0) {
		cand_drop(c, "no rule: %s", set ? err : "out of memory");
		exclusion_set_free(set);
		return;
	}
	for (size_t i = 0; i < c->nsrc && cand_live(c); i++)
		if (!excludes_src(set, c->m, c->key, sv, c->src[i]))
			cand_drop(c, "no rule: the generalised rule %s does not match it",
				  c->object);
	seen_columns(&sv[c->src[0].seen], c->src[0].second, &key, &subject, &object);
	home_of(object, home, sizeof(home));
	for (size_t i = 0; paths && i < sizeof(canaries) / sizeof(canaries[0]) && cand_live(c);
	     i++) {
		for (size_t h = 0; h < 3 && cand_live(c); h++) {
			const char *hd = h < 2 ? default_homes[h] : home;

			if (hd[0] &&
			    hides_canary(set, c, sv, canaries[i], hd, shown, sizeof(shown)))
				cand_drop(c, "no rule: it would also hide %s", shown);
		}
	}
	exclusion_set_free(set);
}

/* A copy of BASE (rule by rule) plus every live candidate; NULL on error (ERR). */
static struct exclusion_set *combined(const struct exclusion_set *base, struct cands *cs, char *err,
				      size_t errlen)
{
	struct exclusion_set *set = exclusion_set_new();
	struct exclusion_rule_info r;
	int rc = set ? 0 : -1;

	for (size_t i = 0; base && rc == 0 && i < exclusion_rule_count(base); i++) {
		if (exclusion_rule_get(base, i, &r) < 0)
			continue;
		rc = exclusion_add_rule(set, r.monitor, r.sign == '+' ? "+" : "-", r.key, r.subject,
					r.object, r.origin, r.line, err, errlen);
	}
	for (size_t i = 0; rc == 0 && i < cs->n; i++) {
		const struct cand *c = &cs->v[i];

		if (cand_live(c))
			rc = exclusion_add_rule(set, c->m, "+", c->key, c->subject, c->object,
						"learn", (unsigned)i + 1, err, errlen);
	}
	if (rc < 0) {
		if (!set)
			snprintf(err, errlen, "out of memory");
		exclusion_set_free(set);
		return NULL;
	}
	return set;
}

/* Whether candidate C alone would exclude the always-reported event S. */
static bool cand_hides(const struct cand *c, const struct seen *s)
{
	struct exclusion_set *set = exclusion_set_new();
	struct capture_event ev;
	char err[512];
	bool hides = false;

	if (set && exclusion_add_rule(set, c->m, "+", c->key, c->subject, c->object, "learn", 0,
				      err, sizeof(err)) == 0) {
		seen_event(s, &ev);
		hides = !classify_is_reported(set, &ev);
	} else {
		hides = true; /* cannot tell: keep the always-reported event safe */
	}
	exclusion_set_free(set);
	return hides;
}

/*
 * With BASE and all rules together: no always-reported event may become
 * excluded (the rules that would hide one are dropped), and each rule must
 * still exclude its events (a '-' rule of BASE may win).  0, or -1 (ERR).
 */
static int verify_together(const struct exclusion_set *base, struct cands *cs,
			   const struct seen *sv, size_t n_seen, char *err, size_t errlen)
{
	struct exclusion_set *set = combined(base, cs, err, errlen);
	struct capture_event ev;
	bool dropped = false;

	for (size_t i = 0; set && i < n_seen; i++) {
		seen_event(&sv[i], &ev);
		if (!sv[i].it->always || classify_is_reported(set, &ev))
			continue;
		for (size_t j = 0; j < cs->n; j++)
			if (cand_live(&cs->v[j]) && cand_hides(&cs->v[j], &sv[i])) {
				cand_drop(&cs->v[j],
					  "no rule: it would hide an always-reported "
					  "event (%s)",
					  sv[i].it->always);
				dropped = true;
			}
	}
	if (set && dropped) {
		exclusion_set_free(set);
		set = combined(base, cs, err, errlen);
	}
	if (!set)
		return -1;
	/* dropping a '+' rule never un-excludes another rule's own events: one pass */
	for (size_t j = 0; j < cs->n; j++) {
		struct cand *c = &cs->v[j];

		for (size_t k = 0; k < c->nsrc && cand_live(c); k++)
			if (!excludes_src(set, c->m, c->key, sv, c->src[k]))
				cand_drop(c, "no rule: %s", "a '-' rule of the lists reports it");
	}
	exclusion_set_free(set);
	return 0;
}

/* ---- the result ---- */

static int cmp_rules(const void *pa, const void *pb)
{
	const struct learn_rule *a = pa, *b = pb;
	int c;

	if (a->runs != b->runs)
		return a->runs > b->runs ? -1 : 1;
	if (a->events != b->events)
		return a->events > b->events ? -1 : 1;
	c = (int)a->monitor - (int)b->monitor;
	if (!c)
		c = strcmp(a->key, b->key);
	return c ? c : strcmp(a->object, b->object);
}

static int cmp_left(const void *pa, const void *pb)
{
	const struct learn_left *a = pa, *b = pb;

	if (a->always != b->always)
		return a->always ? -1 : 1;
	if (a->runs != b->runs)
		return a->runs > b->runs ? -1 : 1;
	if (a->events != b->events)
		return a->events > b->events ? -1 : 1;
	return strcmp(a->object1, b->object1);
}

/* Events of C: each seen event once, even a Rename whose two paths it both covers. */
static uint64_t cand_events(const struct cand *c, const struct seen *sv, size_t *stamp, size_t id)
{
	uint64_t n = 0;

	for (size_t i = 0; i < c->nsrc; i++) {
		if (stamp[c->src[i].seen] == id)
			continue;
		stamp[c->src[i].seen] = id;
		n += sv[c->src[i].seen].count;
	}
	return n;
}

static int build_rules(const struct cands *cs, const struct seen *sv, size_t n_seen,
		       struct learn_result *out)
{
	size_t *stamp = malloc((n_seen ? n_seen : 1) * sizeof(*stamp));

	out->rules = calloc(cs->n ? cs->n : 1, sizeof(*out->rules));
	if (!stamp || !out->rules) {
		free(stamp);
		return -1;
	}
	memset(stamp, 0xff, (n_seen ? n_seen : 1) * sizeof(*stamp));
	for (size_t i = 0; i < cs->n; i++) {
		const struct cand *c = &cs->v[i];
		struct learn_rule *r = &out->rules[out->n_rules];

		if (!cand_live(c))
			continue;
		r->monitor = c->m;
		r->key = strdup(c->key);
		r->subject = strdup(c->subject);
		r->object = strdup(c->object);
		r->runs = bits_count(c->runs, cs->runs);
		r->events = cand_events(c, sv, stamp, i);
		out->n_rules++;
		if (!r->key || !r->subject || !r->object) {
			free(stamp);
			return -1;
		}
	}
	free(stamp);
	qsort(out->rules, out->n_rules, sizeof(*out->rules), cmp_rules);
	return 0;
}

/* Gives each event of a dropped candidate the reason (the first one wins). */
static void note_why(const struct cands *cs, struct seen *sv)
{
	for (size_t i = 0; i < cs->n; i++)
		for (size_t k = 0; !cand_live(&cs->v[i]) && k < cs->v[i].nsrc; k++)
			if (!sv[cs->v[i].src[k].seen].why)
				sv[cs->v[i].src[k].seen].why = cs->v[i].why;
}

static int left_add(struct learn_result *out, const struct seen *s, unsigned runs)
{
	struct learn_left *e = &out->left[out->n_left++];
	const char *why = s->it->always ? s->it->always : s->why ? s->why : "no rule proposed";

	e->type = s->it->type;
	e->always = s->it->always != NULL;
	e->runs = bits_count(s->runs, runs);
	e->events = s->count;
	e->action = strdup(s->it->action);
	e->process = strdup(s->it->process);
	e->object1 = strdup(s->it->object1);
	e->object2 = strdup(s->it->object2);
	e->why = strdup(why);
	out->events_left += s->count;
	return e->action && e->process && e->object1 && e->object2 && e->why ? 0 : -1;
}

/* The events that BASE plus the proposed rules still report. */
static int build_left(const struct exclusion_set *base, struct cands *cs, const struct seen *sv,
		      size_t n_seen, struct learn_result *out, char *err, size_t errlen)
{
	struct exclusion_set *set = combined(base, cs, err, errlen);
	struct capture_event ev;
	int rc = 0;

	out->left = calloc(n_seen ? n_seen : 1, sizeof(*out->left));
	if (!set || !out->left) {
		exclusion_set_free(set);
		return -1;
	}
	for (size_t i = 0; i < n_seen && rc == 0; i++) {
		seen_event(&sv[i], &ev);
		if (classify_is_reported(set, &ev))
			rc = left_add(out, &sv[i], cs->runs);
	}
	exclusion_set_free(set);
	qsort(out->left, out->n_left, sizeof(*out->left), cmp_left);
	return rc;
}

int learn_propose(struct learn *l, const struct exclusion_set *base, struct learn_result *out,
		  char *err, size_t errlen)
{
	struct cands cs = {.runs = l->runs};
	struct seen *sv = NULL;
	size_t n_seen = 0;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	snprintf(err, errlen, "out of memory");
	out->runs = l->runs;
	out->events = l->n;
	if (make_seen(l, &sv, &n_seen) == 0 && make_cands(l, sv, n_seen, &cs) == 0 &&
	    generalize_all(l, &cs) == 0) {
		for (size_t i = 0; i < cs.n; i++)
			verify_alone(&cs.v[i], sv);
		if (verify_together(base, &cs, sv, n_seen, err, errlen) == 0) {
			note_why(&cs, sv);
			if (build_rules(&cs, sv, n_seen, out) == 0 &&
			    build_left(base, &cs, sv, n_seen, out, err, errlen) == 0)
				rc = 0;
		}
	}
	cands_free(&cs);
	seen_free(sv, n_seen);
	if (rc < 0)
		learn_result_free(out);
	return rc;
}

void learn_result_free(struct learn_result *r)
{
	for (size_t i = 0; r->rules && i < r->n_rules; i++) {
		free(r->rules[i].key);
		free(r->rules[i].subject);
		free(r->rules[i].object);
	}
	for (size_t i = 0; r->left && i < r->n_left; i++) {
		free(r->left[i].action);
		free(r->left[i].process);
		free(r->left[i].object1);
		free(r->left[i].object2);
		free(r->left[i].why);
	}
	free(r->rules);
	free(r->left);
	memset(r, 0, sizeof(*r));
}

/* ---- output ---- */

static void write_comment(FILE *out, const char *text)
{
	for (const char *p = text, *nl; *p; p = nl ? nl + 1 : p + strlen(p)) {
		nl = strchr(p, '\n');
		fputs("# ", out);
		util_escape_bytes(out, p, nl ? (size_t)(nl - p) : strlen(p), 0);
		fputc('\n', out);
	}
}

static void write_rules(FILE *out, const struct learn_result *r, enum exclusion_monitor m)
{
	size_t n = 0;

	for (size_t i = 0; i < r->n_rules; i++) {
		const struct learn_rule *x = &r->rules[i];

		if (x->monitor != m)
			continue;
		fprintf(out, "# seen in %u/%u runs, %llu events\n+\t%s\t%s\t%s\n", x->runs, r->runs,
			(unsigned long long)x->events, x->key, x->subject, x->object);
		n++;
	}
	if (!n)
		fputs("# (no rules)\n", out);
}

static void write_left(FILE *out, const struct learn_result *r, bool always)
{
	fprintf(out, "\n# ==== not excluded: %s ====\n",
		always ? "always reported (no rule is ever proposed for these)" : "no rule");
	for (size_t i = 0; i < r->n_left; i++) {
		const struct learn_left *e = &r->left[i];

		if (e->always != always)
			continue;
		fprintf(out, "# %s: %s\t%s\t", e->why, event_type_name(e->type), e->action);
		util_escape_bytes(out, e->process, strlen(e->process), 0);
		fputc('\t', out);
		util_escape_bytes(out, e->object1, strlen(e->object1), 0);
		fputc('\t', out);
		util_escape_bytes(out, e->object2, strlen(e->object2), 0);
		fprintf(out, " (%u/%u runs, %llu events)\n", e->runs, r->runs,
			(unsigned long long)e->events);
	}
}

void learn_write(FILE *out, const struct learn_result *r, const char *header, int monitor)
{
	if (header)
		write_comment(out, header);
	for (int m = 0; m < EXCL_REGISTRY; m++) {
		if (monitor >= 0 && m != monitor)
			continue;
		if (monitor < 0)
			fprintf(out, "\n# ==== %s.exl ====\n",
				exclusion_monitor_name((enum exclusion_monitor)m));
		write_rules(out, r, (enum exclusion_monitor)m);
	}
	if (monitor >= 0)
		return;
	write_left(out, r, true);
	write_left(out, r, false);
}
