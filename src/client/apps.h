/*
 * apps.h - application drivers: how one URL is visited with one program,
 * as the argv the sandbox guest runs (docs/applications.md).
 *
 * Programs come from two places:
 *  - built-in drivers that need no configuration: "curl", "wget", "curl-sh"
 *    (the deliberately vulnerable `curl URL | sh` downloader), "chromium"
 *    and "firefox";
 *  - etc/applications.conf, the original Applications.conf format: one line
 *    "name<TAB>path[<TAB>yes]" per program, '#' comment lines.  Such a
 *    program is started as "path URL"; with "yes" the guest downloads the URL
 *    first and starts "path FILE".  A line named after a built-in driver only
 *    sets that driver's executable (curl-sh: its curl); "yes" is refused there.
 *
 * Also here: what a visiting program's exit status means for the server
 * (apps_exit_error).  The drivers' expected activity (their download file,
 * their connections) is excluded by the default lists in etc/exclusion.
 *
 * The URL is never put inside a shell string: it is always one argv element
 * of its own, byte for byte (shell drivers get it as "$1").  URLs with a
 * control byte or a leading '-' are refused.
 */
#ifndef CAPTURE_APPS_H
#define CAPTURE_APPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define APPS_MAX_NAME    63    /* bytes in a program name */
#define APPS_MAX_PATH    4095  /* bytes in an executable path */
#define APPS_MAX_URL     65536 /* bytes in a URL (the kernel allows 128 KiB per argument) */
#define APPS_MAX_VISIT_S 86400 /* longest visit time accepted */
#define APPS_MAX_FILE    (1 << 20)

/* Visiting algorithm the program is used with, as reported to the server (§2.5). */
enum apps_algorithm {
	APPS_ALGO_SEQ = 0,
	APPS_ALGO_DAC,
	APPS_ALGO_BULK,
};

/* "seq", "dac" or "bulk". */
const char *apps_algorithm_name(enum apps_algorithm a);

/* One line of applications.conf. */
struct app_entry {
	const char *name; /* as written; looked up case-insensitively */
	const char *path; /* absolute path of the executable in the guest */
	bool download_first;
	unsigned line;
};

struct app_table;

/*
 * Parses the file PATH (all or nothing).  0 and a new table in *OUT, or -1
 * with ERR = "file:line:col: message" (or "file: reason" if unreadable).
 */
int apps_load(const char *path, struct app_table **out, char *err, size_t errlen);
/* Same for text in memory; NAME stands for the file in messages. */
int apps_load_buffer(const char *name, const char *buf, size_t len, struct app_table **out,
		     char *err, size_t errlen);
void apps_free(struct app_table *t);

size_t apps_count(const struct app_table *t);
/* Entry I in file order, NULL if out of range. */
const struct app_entry *apps_get(const struct app_table *t, size_t i);
/* Case-insensitive look-up of a line of the file (a program or a built-in's path); NULL if none. */
const struct app_entry *apps_find(const struct app_table *t, const char *name);
/* True if NAME (case-insensitive) is a built-in driver. */
bool apps_is_builtin(const char *name);

/* Checks that URL may be passed to a program: 0, or -1 with ERR. */
int apps_check_url(const char *url, char *err, size_t errlen);

/*
 * Where a client given URL connects first: HOST gets the host if it is an
 * IP literal (IPv6 without brackets), "" for a name (which may resolve to
 * any address); PORT the explicit port or the scheme's (http 80, https 443,
 * ftp 21).  0, or -1 if URL is not "scheme://authority" with one of those
 * schemes, or its port or literal does not parse.
 */
int apps_url_origin(const char *url, char *host, size_t hostlen, uint16_t *port);

/* Whose exit codes the visit's exit status is (apps_exit_error). */
enum apps_fetcher {
	APPS_FETCH_NONE = 0, /* an application: its exit status means nothing to us */
	APPS_FETCH_CURL,     /* curl, curl-sh, download-first: curl's exit codes */
	APPS_FETCH_WGET,     /* wget's exit codes */
};

/* A built visit. */
struct app_argv {
	char **argv; /* NULL-terminated; argv[0] is an absolute path */
	size_t argc;
	enum apps_algorithm algorithm;
	/*
	 * true: the argv bounds its own run to the visit time (e.g. curl
	 * --max-time), so the visitor waits for it to exit and kills only what
	 * is left after the visit time; false: the program runs until killed,
	 * so the visitor sleeps the visit time and then kills the tree (as the
	 * original did for every generic application).
	 */
	bool waits_visit_time;
	/* Guest path of the per-URL file (download or profile directory), "" if none. */
	char file[96];
	enum apps_fetcher fetcher;
	/*
	 * argv[0] is a driver shell (curl-sh, download-first) around the
	 * visiting tool: its own forks and the processes it starts are
	 * plumbing, not changes; what those processes do is reported.
	 */
	bool wrapper;
	/* The visiting program in the guest (curl for curl-sh), checked before the visit. */
	char exe[APPS_MAX_PATH + 1];
};

/*
 * Builds the argv that visits URL with PROGRAM (a built-in driver or an
 * entry of T, which may be NULL) for VISIT_TIME_S seconds (1..86400).
 * 0 and OUT filled (free with apps_argv_free), or -1 with ERR and OUT empty.
 */
int apps_build_argv(const struct app_table *t, const char *program, const char *url,
		    unsigned visit_time_s, struct app_argv *out, char *err, size_t errlen);
/* Frees what OUT owns and empties it (safe on an empty or freed OUT). */
void apps_argv_free(struct app_argv *out);

/*
 * The error codes (enum proto_error) for a visiting program that exited with
 * EXIT_STATUS (0..255; negative: killed by a signal, as at the end of the
 * visit time) under fetcher F: 126/127 (not executable, not found) are
 * PROCESS_ERROR (minor PE_PROCESS_PATH_NOT_FOUND for 127); curl's and wget's
 * network and server failures are NETWORK_ERROR with minor = the exit code;
 * curl's unsupported or malformed URL is INVALID_URL; anything else is 0.
 */
void apps_exit_error(enum apps_fetcher f, int exit_status, uint32_t *major, uint32_t *minor);

#endif
