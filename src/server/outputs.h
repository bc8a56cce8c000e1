/*
 * outputs.h - the server's result files, in the original Capture-HPC formats
 * (see docs/outputs.md for every file, its columns and how ours differ).
 *
 * One struct outputs owns progress.log, safe.log, malicious.log, error.log
 * and stats.log in a log directory.  Files are opened O_APPEND|O_CLOEXEC and
 * never truncated.  Every line is fully quoted CSV, made byte-safe with
 * util_escape_bytes() ('"' doubled), formatted in memory and written with a
 * single write(), so a line is never split or interleaved.
 *
 * Per-URL files share one base name "<escaped-url>_<ddMMyyyy_HHmmss>" (the
 * visit's start, local time): .log (events, created on the first event),
 * .zip (the client's upload, named here, moved there by the server) and
 * .json (the report).
 *
 * Every writer returns 0 or -1 (errno set).  A failing file is reported once
 * (path and errno) until it works again; nothing aborts.
 */
#ifndef CAPTURE_OUTPUTS_H
#define CAPTURE_OUTPUTS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common/event.h"

#define OUTPUTS_NAME_URL_MAX 200 /* bytes of escaped URL in a file name before hashing */

struct outputs;
struct outputs_eventlog;

/* Which URL a line is about. */
struct output_visit {
	const char *group_id; /* NULL: "nogroup" */
	const char *url;      /* any bytes, NUL-terminated */
	const char *client;   /* client program; NULL: "unknown" */
	int visit_time;       /* seconds; < 0: "unknown" */
	uint64_t started_ns;  /* CLOCK_REALTIME start of the visit: names per-URL files; 0 = now */
	const char *name_suffix; /* [A-Za-z0-9] appended to per-URL names as "_SUFFIX" (the
				  * same URL visited twice in one second); NULL = none */
};

/* An error code pair as on the wire; the major is written by its original name. */
struct output_error {
	uint32_t major; /* PROTO_ERR_* */
	uint32_t minor;
};

enum output_progress {
	OUTPUT_VISITING = 0,
	OUTPUT_VISITED,
	OUTPUT_ERROR, /* needs an error */
};

/* One stats.log line; times are averages in seconds. */
struct output_stats {
	uint64_t visiting, visited, safe, malicious, url_error;
	uint64_t vm_revert, client_inactivity, vm_stalled;
	double avg_revert_time, avg_visiting_time, avg_first_state_change_time;
	uint64_t visited_urls_per_day;
};

enum output_verdict {
	OUTPUT_BENIGN = 0,
	OUTPUT_MALICIOUS,
	OUTPUT_VERDICT_ERROR,
	OUTPUT_INCONCLUSIVE,
};

/* A collected file: borrowed strings. */
struct output_file {
	const char *path;
	const char *sha256; /* 64 hex digits, or NULL */
	uint64_t size;
};

/* Everything the JSON report of one URL says; all borrowed. */
struct output_report {
	struct output_visit visit;
	enum output_verdict verdict;
	const struct output_error *error;            /* NULL if none */
	uint64_t queued_ns, started_ns, finished_ns; /* CLOCK_REALTIME; 0 = unknown */
	const struct capture_event *events;
	size_t nevents;
	const struct output_file *files;
	size_t nfiles;
	const char *archive; /* archive file name (no directory), NULL if none */
};

/* Creates DIR (and parents) if missing and opens the five logs. NULL + errno. */
struct outputs *outputs_open(const char *dir);
/* Closes everything; 0, or -1 if a close failed. NULL is a no-op. */
int outputs_close(struct outputs *o);
const char *outputs_dir(const struct outputs *o);

/* progress.log: "date","visiting"|"visited"|"error:NAME-minor","groupID","url","client","visitTime"
 */
int outputs_progress(struct outputs *o, enum output_progress state, const struct output_visit *v,
		     const struct output_error *err);
/* safe.log: "date","benign",... */
int outputs_safe(struct outputs *o, const struct output_visit *v);
/* malicious.log: "date","malicious",... */
int outputs_malicious(struct outputs *o, const struct output_visit *v);
/* error.log: "date","error:NAME-minor",... */
int outputs_error(struct outputs *o, const struct output_visit *v, const struct output_error *err);
/*
 * error.log: "date","error:INVALID_URL","nogroup","LINE","unknown","unknown".
 * LINENO (1-based, 0 = unknown) goes to the server log, not the file.
 */
int outputs_invalid_url(struct outputs *o, const char *line, size_t len, unsigned long lineno);
/* stats.log: one line (the header was written at open if the file was empty). */
int outputs_stats(struct outputs *o, const struct output_stats *s);

/*
 * Base file name "<escaped-url>_<ddMMyyyy_HHmmss>" for URL at STARTED_NS
 * (0 = now) into BUF.  Escaped as %XX: \ / : ? " * < > | & % (the original's
 * set plus '%'), bytes < 0x20, 0x7f and >= 0x80.  An escaped URL longer than
 * OUTPUTS_NAME_URL_MAX bytes is cut there and gets "~<16 hex digits>" (a hash
 * of the whole URL).  Returns the length, or -1 (ENAMETOOLONG) if BUF is short;
 * 256 bytes always suffice.
 */
int outputs_url_basename(const char *url, uint64_t started_ns, char *buf, size_t len);
/* "<dir>/<basename><EXT>" (EXT like ".zip"), malloc'ed; NULL + errno. */
char *outputs_url_path(const struct outputs *o, const struct output_visit *v, const char *ext);
/* Same as outputs_url_path(o, v, ".zip"). */
char *outputs_archive_path(const struct outputs *o, const struct output_visit *v);

/*
 * Per-URL event log "<basename>.log", 7-column lines as event_write_csv().
 * _new() copies what it needs from V and creates no file; the file is opened
 * (appending) on the first _write().  _close() frees L; 0, or -1 on a failed close.
 */
struct outputs_eventlog *outputs_eventlog_new(struct outputs *o, const struct output_visit *v);
int outputs_eventlog_write(struct outputs_eventlog *l, const struct capture_event *ev);
/* The file's path (whether created yet or not). */
const char *outputs_eventlog_path(const struct outputs_eventlog *l);
int outputs_eventlog_close(struct outputs_eventlog *l);

/* The report as a JSON object (new reference), NULL on ENOMEM. */
json_t *outputs_report_json(const struct output_report *r);
/* Writes "<basename>.json" (temporary file + rename).  0 or -1. */
int outputs_report_write(struct outputs *o, const struct output_report *r);

const char *outputs_verdict_name(enum output_verdict v);

#endif
