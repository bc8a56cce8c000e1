/*
 * outputs.c - see outputs.h.
 *
 * A line is built in a memory stream (fields quoted, made byte-safe with
 * util_escape_bytes) and written with one write() on an O_APPEND descriptor.
 * Each file remembers whether its last failure was reported, so an outage
 * is logged once, and again only after the file worked in between.
 */
#include "server/outputs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/protocol.h"
#include "common/util.h"

enum {
	F_PROGRESS,
	F_SAFE,
	F_MALICIOUS,
	F_ERROR,
	F_STATS,
	F_COUNT
};

static const char *const file_names[F_COUNT] = {
    [F_PROGRESS] = "progress.log", [F_SAFE] = "safe.log",   [F_MALICIOUS] = "malicious.log",
    [F_ERROR] = "error.log",       [F_STATS] = "stats.log",
};

#define NCOLS 6 /* progress, safe, malicious, error */

static const char *const stats_header[] = {
    "time",
    "visiting",
    "visited",
    "safe",
    "malicious",
    "urlError",
    "vmRevert",
    "clientInactivity",
    "vmStalled",
    "avgRevertTime",
    "avgVisitingTime",
    "avgFirstStateChangeTime",
    "visitedUrlsPerDay",
};

#define NSTATS ARRAY_SIZE(stats_header)

struct ofile {
	int fd;
	char *path;
	bool warned; /* the current failure streak was logged */
};

struct outputs {
	char *dir;
	struct ofile f[F_COUNT];
	bool report_warned;
};

struct outputs_eventlog {
	struct ofile f; /* fd -1 until the first event */
};

/* ---- files ---- */

static int ofile_fail(struct ofile *f, const char *what)
{
	int saved = errno;

	if (!f->warned)
		log_warn("%s: %s", f->path, what);
	f->warned = true;
	errno = saved;
	return -1;
}

static int ofile_open(struct ofile *f)
{
	f->fd = open(f->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (f->fd < 0)
		return ofile_fail(f, "cannot open");
	return 0;
}

/* Writes the N bytes of one line in a single write(). */
static int ofile_write(struct ofile *f, const char *buf, size_t n)
{
	if (f->fd < 0 && ofile_open(f) < 0)
		return -1;
	if (util_write_all(f->fd, buf, n) < 0)
		return ofile_fail(f, "cannot write");
	f->warned = false;
	return 0;
}

static int ofile_close(struct ofile *f)
{
	int rc = 0;

	if (f->fd >= 0 && close(f->fd) < 0)
		rc = ofile_fail(f, "cannot close");
	f->fd = -1;
	free(f->path);
	f->path = NULL;
	return rc;
}

/* ---- lines ---- */

static void csv_field(FILE *m, const char *s, size_t len, bool last)
{
	fputc('"', m);
	util_escape_bytes(m, s, len, '"');
	fputc('"', m);
	fputc(last ? '\n' : ',', m);
}

/* Writes FIELDS[0..N) as one fully quoted line to F. */
static int write_fields(struct ofile *f, const char *const *fields, size_t n)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *m = open_memstream(&buf, &size);
	int rc;

	if (!m)
		return ofile_fail(f, "cannot format a line");
	for (size_t i = 0; i < n; i++)
		csv_field(m, fields[i], strlen(fields[i]), i + 1 == n);
	if (fclose(m) != 0) {
		free(buf);
		return ofile_fail(f, "cannot format a line");
	}
	rc = ofile_write(f, buf, size);
	free(buf);
	return rc;
}

static void now_text(char *buf, size_t len)
{
	event_format_time(util_now_real_ns(), buf, len);
}

static void error_status(const struct output_error *err, char *buf, size_t len)
{
	const char *name = err ? proto_error_name(err->major) : NULL;

	if (!err)
		snprintf(buf, len, "error:UNKNOWN-0");
	else if (name)
		snprintf(buf, len, "error:%s-%u", name, err->minor);
	else
		snprintf(buf, len, "error:%u-%u", err->major, err->minor);
}

static int write_visit(struct outputs *o, int which, const char *status,
		       const struct output_visit *v)
{
	char date[96], vt[24];
	const char *fields[NCOLS];

	now_text(date, sizeof(date));
	if (v->visit_time < 0)
		snprintf(vt, sizeof(vt), "unknown");
	else
		snprintf(vt, sizeof(vt), "%d", v->visit_time);
	fields[0] = date;
	fields[1] = status;
	fields[2] = v->group_id ? v->group_id : "nogroup";
	fields[3] = v->url ? v->url : "";
	fields[4] = v->client ? v->client : "unknown";
	fields[5] = vt;
	return write_fields(&o->f[which], fields, NCOLS);
}

int outputs_progress(struct outputs *o, enum output_progress state, const struct output_visit *v,
		     const struct output_error *err)
{
	char status[96];

	if (state == OUTPUT_VISITING)
		snprintf(status, sizeof(status), "visiting");
	else if (state == OUTPUT_VISITED)
		snprintf(status, sizeof(status), "visited");
	else
		error_status(err, status, sizeof(status));
	return write_visit(o, F_PROGRESS, status, v);
}

int outputs_safe(struct outputs *o, const struct output_visit *v)
{
	return write_visit(o, F_SAFE, "benign", v);
}

int outputs_malicious(struct outputs *o, const struct output_visit *v)
{
	return write_visit(o, F_MALICIOUS, "malicious", v);
}

int outputs_error(struct outputs *o, const struct output_visit *v, const struct output_error *err)
{
	char status[96];

	error_status(err, status, sizeof(status));
	return write_visit(o, F_ERROR, status, v);
}

int outputs_invalid_url(struct outputs *o, const char *line, size_t len, unsigned long lineno)
{
	char date[96];
	char *copy = strndup(line ? line : "", line ? len : 0);
	const char *fields[NCOLS];
	int rc;

	if (!copy)
		return ofile_fail(&o->f[F_ERROR], "cannot format a line");
	now_text(date, sizeof(date));
	fields[0] = date;
	fields[1] = "error:INVALID_URL";
	fields[2] = "nogroup";
	fields[3] = copy; /* a NUL byte in LINE ends it: the file could not show it anyway */
	fields[4] = "unknown";
	fields[5] = "unknown";
	rc = write_fields(&o->f[F_ERROR], fields, NCOLS);
	free(copy);
	if (lineno)
		log_warnx("invalid URL on input line %lu (see %s)", lineno, o->f[F_ERROR].path);
	return rc;
}

int outputs_stats(struct outputs *o, const struct output_stats *s)
{
	char v[NSTATS][48];
	const char *fields[NSTATS];
	const uint64_t counts[] = {s->visiting,          s->visited,   s->safe,
				   s->malicious,         s->url_error, s->vm_revert,
				   s->client_inactivity, s->vm_stalled};
	size_t i;

	now_text(v[0], sizeof(v[0]));
	for (i = 0; i < ARRAY_SIZE(counts); i++)
		snprintf(v[i + 1], sizeof(v[i + 1]), "%llu", (unsigned long long)counts[i]);
	snprintf(v[9], sizeof(v[9]), "%.3f", s->avg_revert_time);
	snprintf(v[10], sizeof(v[10]), "%.3f", s->avg_visiting_time);
	snprintf(v[11], sizeof(v[11]), "%.3f", s->avg_first_state_change_time);
	snprintf(v[12], sizeof(v[12]), "%llu", (unsigned long long)s->visited_urls_per_day);
	for (i = 0; i < NSTATS; i++)
		fields[i] = v[i];
	return write_fields(&o->f[F_STATS], fields, NSTATS);
}

/* ---- open / close ---- */

static int mkdir_p(const char *dir)
{
	char p[PATH_MAX];

	if (!*dir) {
		errno = ENOENT;
		return -1;
	}
	if (snprintf(p, sizeof(p), "%s", dir) >= (int)sizeof(p)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0755) < 0 && errno != EEXIST)
			return -1;
		*s = '/';
	}
	if (mkdir(p, 0755) < 0 && errno != EEXIST)
		return -1;
	return 0;
}

static int stats_header_if_empty(struct outputs *o)
{
	struct stat st;

	if (fstat(o->f[F_STATS].fd, &st) < 0)
		return ofile_fail(&o->f[F_STATS], "cannot stat");
	if (st.st_size > 0)
		return 0;
	return write_fields(&o->f[F_STATS], stats_header, NSTATS);
}

static int open_files(struct outputs *o)
{
	for (int i = 0; i < F_COUNT; i++) {
		if (asprintf(&o->f[i].path, "%s/%s", o->dir, file_names[i]) < 0) {
			o->f[i].path = NULL;
			errno = ENOMEM;
			return -1;
		}
		if (ofile_open(&o->f[i]) < 0)
			return -1;
	}
	return stats_header_if_empty(o);
}

struct outputs *outputs_open(const char *dir)
{
	struct outputs *o = calloc(1, sizeof(*o));
	int saved;

	if (!o)
		return NULL;
	for (int i = 0; i < F_COUNT; i++)
		o->f[i].fd = -1;
	o->dir = strdup(dir);
	if (!o->dir)
		goto fail;
	if (mkdir_p(dir) < 0) {
		log_warn("%s: cannot create the log directory", dir);
		goto fail;
	}
	if (open_files(o) < 0)
		goto fail;
	return o;
fail:
	saved = errno;
	outputs_close(o);
	errno = saved;
	return NULL;
}

int outputs_close(struct outputs *o)
{
	int rc = 0;

	if (!o)
		return 0;
	for (int i = 0; i < F_COUNT; i++)
		if (o->f[i].path && ofile_close(&o->f[i]) < 0)
			rc = -1;
	free(o->dir);
	free(o);
	return rc;
}

const char *outputs_dir(const struct outputs *o)
{
	return o->dir;
}

/* ---- per-URL file names ---- */

static bool name_byte_ok(unsigned char c)
{
	return c >= 0x20 && c < 0x7f && !strchr("\\/:?\"*<>|&%", c);
}

/* Escaped URL into OUT (>= OUTPUTS_NAME_URL_MAX + 18 bytes), cut and hashed if too long. */
static void escape_url_name(const char *url, char *out)
{
	size_t n = 0;
	const unsigned char *p = (const unsigned char *)url;

	for (; *p; p++) {
		size_t need = name_byte_ok(*p) ? 1 : 3;

		if (n + need > OUTPUTS_NAME_URL_MAX) {
			snprintf(out + n, 18, "~%016llx", (unsigned long long)util_fnv1a64(url));
			return;
		}
		if (need == 1)
			out[n] = (char)*p;
		else
			snprintf(out + n, 4, "%%%02X", *p);
		n += need;
	}
	out[n] = '\0';
}

int outputs_url_basename(const char *url, uint64_t started_ns, char *buf, size_t len)
{
	char name[OUTPUTS_NAME_URL_MAX + 24], when[32];
	time_t sec = (time_t)((started_ns ? started_ns : util_now_real_ns()) / 1000000000ull);
	struct tm tm;
	int n;

	escape_url_name(url ? url : "", name);
	localtime_r(&sec, &tm);
	strftime(when, sizeof(when), "%d%m%Y_%H%M%S", &tm);
	n = snprintf(buf, len, "%s_%s", name, when);
	if (n < 0 || (size_t)n >= len) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return n;
}

char *outputs_url_path(const struct outputs *o, const struct output_visit *v, const char *ext)
{
	char base[256];
	char *path;

	if (outputs_url_basename(v->url, v->started_ns, base, sizeof(base)) < 0)
		return NULL;
	if (v->name_suffix &&
	    strspn(v->name_suffix, "0123456789abcdefghijklmnopqrstuvwxyz"
				   "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != strlen(v->name_suffix)) {
		errno = EINVAL;
		return NULL;
	}
	if (asprintf(&path, "%s/%s%s%s%s", o->dir, base, v->name_suffix ? "_" : "",
		     v->name_suffix ? v->name_suffix : "", ext ? ext : "") < 0) {
		errno = ENOMEM;
		return NULL;
	}
	return path;
}

char *outputs_archive_path(const struct outputs *o, const struct output_visit *v)
{
	return outputs_url_path(o, v, ".zip");
}

/* ---- per-URL event log ---- */

struct outputs_eventlog *outputs_eventlog_new(struct outputs *o, const struct output_visit *v)
{
	struct outputs_eventlog *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	l->f.fd = -1;
	l->f.path = outputs_url_path(o, v, ".log");
	if (!l->f.path) {
		free(l);
		return NULL;
	}
	return l;
}

int outputs_eventlog_write(struct outputs_eventlog *l, const struct capture_event *ev)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *m = open_memstream(&buf, &size);
	int rc;

	if (!m)
		return ofile_fail(&l->f, "cannot format a line");
	event_write_csv(m, ev);
	if (fclose(m) != 0) {
		free(buf);
		return ofile_fail(&l->f, "cannot format a line");
	}
	rc = ofile_write(&l->f, buf, size);
	free(buf);
	return rc;
}

const char *outputs_eventlog_path(const struct outputs_eventlog *l)
{
	return l->f.path;
}

int outputs_eventlog_close(struct outputs_eventlog *l)
{
	int rc;

	if (!l)
		return 0;
	rc = ofile_close(&l->f);
	free(l);
	return rc;
}

/* ---- JSON report ---- */

static const char *const verdict_names[] = {
    [OUTPUT_BENIGN] = "benign",
    [OUTPUT_MALICIOUS] = "malicious",
    [OUTPUT_VERDICT_ERROR] = "error",
    [OUTPUT_INCONCLUSIVE] = "inconclusive",
};

const char *outputs_verdict_name(enum output_verdict v)
{
	return (unsigned)v < ARRAY_SIZE(verdict_names) ? verdict_names[v] : "inconclusive";
}

/* Byte-safe JSON string of S; json null if S is NULL; NULL on ENOMEM. */
static json_t *json_text(const char *s)
{
	char *safe;
	json_t *j;

	if (!s)
		return json_null();
	safe = util_escape_dup(s, strlen(s));
	if (!safe)
		return NULL;
	j = json_string(safe);
	free(safe);
	return j;
}

/* ISO 8601 UTC with milliseconds, or null for 0. */
static json_t *json_time(uint64_t ns)
{
	char buf[48];
	time_t sec = (time_t)(ns / 1000000000ull);
	struct tm tm;

	if (!ns)
		return json_null();
	gmtime_r(&sec, &tm);
	strftime(buf, 21, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + 19, sizeof(buf) - 19, ".%03lluZ",
		 (unsigned long long)(ns / 1000000ull % 1000));
	return json_string(buf);
}

static json_t *report_error(const struct output_error *err)
{
	const char *name;

	if (!err)
		return json_null();
	name = proto_error_name(err->major);
	return json_pack("{s:o,s:I,s:I}", "major", name ? json_string(name) : json_null(), "code",
			 (json_int_t)err->major, "minor", (json_int_t)err->minor);
}

static json_t *report_timings(const struct output_report *r)
{
	json_t *secs = json_null();

	if (r->started_ns && r->finished_ns >= r->started_ns)
		secs = json_real((double)(r->finished_ns - r->started_ns) / 1e9);
	return json_pack("{s:o,s:o,s:o,s:o}", "queued", json_time(r->queued_ns), "started",
			 json_time(r->started_ns), "finished", json_time(r->finished_ns), "seconds",
			 secs);
}

/* EV as event_write_json() writes it, parsed back. */
static json_t *event_json(const struct capture_event *ev)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *m = open_memstream(&buf, &size);
	json_t *j = NULL;
	int rc;

	if (!m)
		return NULL;
	rc = event_write_json(m, ev);
	if (fclose(m) == 0 && rc == 0)
		j = json_loadb(buf, size, 0, NULL);
	free(buf);
	return j;
}

static json_t *report_events(const struct output_report *r)
{
	json_t *arr = json_array();

	for (size_t i = 0; arr && i < r->nevents; i++) {
		if (json_array_append_new(arr, event_json(&r->events[i])) < 0) {
			json_decref(arr);
			return NULL;
		}
	}
	return arr;
}

static json_t *report_files(const struct output_report *r)
{
	json_t *arr = json_array();

	for (size_t i = 0; arr && i < r->nfiles; i++) {
		const struct output_file *f = &r->files[i];
		json_t *o = json_pack("{s:o,s:o,s:I}", "path", json_text(f->path), "sha256",
				      json_text(f->sha256), "size", (json_int_t)f->size);

		if (json_array_append_new(arr, o) < 0) {
			json_decref(arr);
			return NULL;
		}
	}
	return arr;
}

/* ---- process tree ---- */

struct pnode {
	uint32_t pid;
	json_t *obj; /* {pid, image, argv?, children[], exit_*?}; one reference held here */
	long parent; /* index, -1 = root */
	bool live;   /* not terminated yet */
};

struct ptree {
	struct pnode *n;
	size_t len, cap;
};

static long ptree_find_live(const struct ptree *t, uint32_t pid)
{
	for (size_t i = t->len; i-- > 0;)
		if (t->n[i].pid == pid && t->n[i].live)
			return (long)i;
	return -1;
}

static long ptree_add(struct ptree *t, uint32_t pid, json_t *image)
{
	struct pnode *n;

	if (t->len == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		struct pnode *p = realloc(t->n, cap * sizeof(*p));

		if (!p)
			goto fail;
		t->n = p;
		t->cap = cap;
	}
	n = &t->n[t->len];
	n->obj = json_pack("{s:I,s:O,s:[]}", "pid", (json_int_t)pid, "image",
			   image ? image : json_null(), "children");
	if (!n->obj)
		goto fail;
	n->pid = pid;
	n->parent = -1;
	n->live = true;
	return (long)t->len++;
fail:
	errno = ENOMEM;
	return -1;
}

/* True if A is B or one of B's ancestors. */
static bool ptree_is_ancestor(const struct ptree *t, long a, long b)
{
	for (; b >= 0; b = t->n[b].parent)
		if (a == b)
			return true;
	return false;
}

static int ptree_link(struct ptree *t, long parent, long child)
{
	json_t *children;

	if (t->n[child].parent >= 0 || ptree_is_ancestor(t, child, parent))
		return 0; /* already placed, or a cycle from inconsistent events */
	children = json_object_get(t->n[parent].obj, "children");
	if (json_array_append(children, t->n[child].obj) < 0)
		return -1;
	t->n[child].parent = parent;
	return 0;
}

/* The live node of the acting (parent) process, created as a root if unseen. */
static long ptree_parent(struct ptree *t, const struct capture_event *ev, json_t *ej)
{
	long i = ptree_find_live(t, ev->pid);

	return i >= 0 ? i : ptree_add(t, ev->pid, json_object_get(ej, "process"));
}

static int ptree_created(struct ptree *t, uint32_t cpid, const struct capture_event *ev, json_t *ej)
{
	long parent = ptree_parent(t, ev, ej), child;
	json_t *argv = json_object_get(ej, "argv");
	json_t *image = json_object_get(ej, "object2");

	if (parent < 0)
		return -1;
	child = ptree_find_live(t, cpid);
	if (child < 0)
		child = ptree_add(t, cpid, NULL);
	if (child < 0)
		return -1;
	/* a second exec of a live process replaces its image and argv */
	if (json_object_set(t->n[child].obj, "image", image ? image : json_null()) < 0 ||
	    (argv && json_object_set(t->n[child].obj, "argv", argv) < 0))
		return -1;
	return ptree_link(t, parent, child);
}

static int ptree_terminated(struct ptree *t, uint32_t cpid, const struct capture_event *ev,
			    json_t *ej)
{
	long child = ptree_find_live(t, cpid), parent;
	json_t *obj;

	if (child < 0) {
		parent = ptree_parent(t, ev, ej);
		child = parent < 0 ? -1 : ptree_add(t, cpid, json_object_get(ej, "object2"));
		if (child < 0 || ptree_link(t, parent, child) < 0)
			return -1;
	}
	t->n[child].live = false;
	obj = t->n[child].obj;
	if (json_object_set_new(obj, "exit_status", json_integer(ev->exit_status)) < 0 ||
	    json_object_set_new(obj, "exit_signal", json_integer(ev->exit_signal)) < 0)
		return -1;
	return 0;
}

/* Adds process event EV (JSON form EJ) to T; other events are ignored. */
static int ptree_event(struct ptree *t, const struct capture_event *ev, json_t *ej)
{
	uint64_t cpid;

	if (ev->type != EVENT_PROCESS || !ev->action || !ev->object1)
		return 0;
	if (util_parse_u64(ev->object1, 0, UINT32_MAX, &cpid) < 0 || cpid == ev->pid)
		return 0;
	if (strcmp(ev->action, "created") == 0)
		return ptree_created(t, (uint32_t)cpid, ev, ej);
	if (strcmp(ev->action, "terminated") == 0)
		return ptree_terminated(t, (uint32_t)cpid, ev, ej);
	return 0;
}

static json_t *ptree_roots(struct ptree *t)
{
	json_t *roots = json_array();

	for (size_t i = 0; roots && i < t->len; i++) {
		if (t->n[i].parent < 0 && json_array_append(roots, t->n[i].obj) < 0) {
			json_decref(roots);
			return NULL;
		}
	}
	return roots;
}

static json_t *report_tree(const struct output_report *r, json_t *events)
{
	struct ptree t = {0};
	json_t *roots = NULL;
	size_t i;

	for (i = 0; i < r->nevents; i++)
		if (ptree_event(&t, &r->events[i], json_array_get(events, i)) < 0)
			break;
	if (i == r->nevents)
		roots = ptree_roots(&t);
	for (i = 0; i < t.len; i++)
		json_decref(t.n[i].obj);
	free(t.n);
	return roots;
}

static json_t *report_visit(const struct output_report *r)
{
	const struct output_visit *v = &r->visit;
	json_t *vt = v->visit_time < 0 ? json_null() : json_integer(v->visit_time);

	return json_pack("{s:o,s:o,s:o,s:o,s:s,s:o}", "url", json_text(v->url ? v->url : ""),
			 "client", json_text(v->client), "visit_time", vt, "group_id",
			 json_text(v->group_id ? v->group_id : "nogroup"), "verdict",
			 outputs_verdict_name(r->verdict), "error", report_error(r->error));
}

json_t *outputs_report_json(const struct output_report *r)
{
	json_t *o = report_visit(r), *events = report_events(r);
	int rc = -1;

	if (o && events) {
		rc = json_object_set_new(o, "timings", report_timings(r));
		rc |= json_object_set(o, "events", events);
		rc |= json_object_set_new(o, "process_tree", report_tree(r, events));
		rc |= json_object_set_new(o, "files", report_files(r));
		rc |= json_object_set_new(o, "archive", json_text(r->archive));
	}
	json_decref(events);
	if (rc) {
		json_decref(o);
		errno = ENOMEM;
		return NULL;
	}
	return o;
}

static int report_fail(struct outputs *o, const char *path, const char *what)
{
	int saved = errno;

	if (!o->report_warned)
		log_warn("%s: %s", path, what);
	o->report_warned = true;
	errno = saved;
	return -1;
}

/* Writes TEXT to PATH.tmp and renames it to PATH. */
static int replace_file(const char *path, const char *text)
{
	char *tmp CLEANUP_FREE = NULL;
	int fd, rc;

	if (asprintf(&tmp, "%s.tmp", path) < 0) {
		tmp = NULL;
		errno = ENOMEM;
		return -1;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	rc = util_write_all(fd, text, strlen(text));
	if (close(fd) < 0)
		rc = -1;
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -1;
	if (rc < 0) {
		int saved = errno;

		unlink(tmp);
		errno = saved;
	}
	return rc;
}

int outputs_report_write(struct outputs *o, const struct output_report *r)
{
	char *path CLEANUP_FREE = outputs_url_path(o, &r->visit, ".json");
	char *text CLEANUP_FREE = NULL;
	json_t *j;

	if (!path)
		return report_fail(o, o->dir, "cannot name a report");
	j = outputs_report_json(r);
	text = j ? json_dumps(j, JSON_INDENT(2)) : NULL;
	json_decref(j);
	if (!text) {
		errno = ENOMEM;
		return report_fail(o, path, "cannot build the report");
	}
	if (replace_file(path, text) < 0)
		return report_fail(o, path, "cannot write the report");
	o->report_warned = false;
	return 0;
}
