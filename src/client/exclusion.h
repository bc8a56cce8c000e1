/*
 * exclusion.h - Capture-HPC exclusion lists: which events are expected noise.
 *
 * Format and semantics are the original's (docs/exclusion-lists.md): one list
 * per monitor, lines of 4 TAB-separated columns "+|-", key, subject regex,
 * object regex; '#' starts a comment line.  The key is the action name
 * (exact, case-insensitive); for the process monitor it is the module name
 * (basename) of the new process, the subject is the parent's module name and
 * the object the new process's image path.  Regexes are PCRE2 (JIT),
 * full-match, case-insensitive, '.' matches newline (as Boost did).  For one
 * event every rule of its key is considered: a matching '-' rule means
 * "reported" whatever the order; else a matching '+' rule means "excluded";
 * no match at all means "reported".
 *
 * A bad line rejects the whole file with "file:line:col: message".  Each rule
 * counts the events it decided (hits), so dead rules can be found.
 * Not thread-safe: a set owns one PCRE2 match block that every match uses, so
 * one set is used by one thread (exclusion_is_excluded also counts hits).
 */
#ifndef CAPTURE_EXCLUSION_H
#define CAPTURE_EXCLUSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum exclusion_monitor {
	EXCL_FILE = 0,
	EXCL_PROCESS,
	EXCL_CONNECTION,
	EXCL_SYSTEM,
	EXCL_REGISTRY, /* original Windows clients only; kept so pushed lists round-trip */
	EXCL_MONITOR_COUNT
};

struct exclusion_set;

struct exclusion_rule_info {
	const char *origin; /* file name (or "server") the rule came from */
	unsigned line;      /* 1-based line in origin, 0 if pushed */
	enum exclusion_monitor monitor;
	char sign;       /* '+' exclude, '-' always report */
	const char *key; /* action or process module name, as written */
	const char *subject;
	const char *object;
	uint64_t hits;        /* events this rule decided */
	bool kernel_filtered; /* see exclusion_mark_kernel_filtered() */
};

/* Monitor name as used in file names and messages ("file", "process", ...). */
const char *exclusion_monitor_name(enum exclusion_monitor m);
/* Parses "file"/"process"/"connection"/"system"/"registry" (case-insensitive); -1 if unknown. */
int exclusion_monitor_from_name(const char *name);

struct exclusion_set *exclusion_set_new(void);
void exclusion_set_free(struct exclusion_set *set);

/*
 * Loads the list file PATH for MONITOR and appends its rules.  All or
 * nothing: on the first bad line the set is left unchanged, ERR gets
 * "PATH:LINE:COL: message" and -1 is returned.
 */
int exclusion_load_file(struct exclusion_set *set, enum exclusion_monitor monitor, const char *path,
			char *err, size_t errlen);

/* Same for a list held in memory; NAME stands for the file in messages. */
int exclusion_load_buffer(struct exclusion_set *set, enum exclusion_monitor monitor,
			  const char *name, const char *buf, size_t len, char *err, size_t errlen);

/*
 * Loads every list found in DIR: file.exl, process.exl, connection.exl,
 * system.exl, registry.exl (the original names FileMonitor.exl,
 * ProcessMonitor.exl, ConnectionMonitor.exl, RegistryMonitor.exl are also
 * accepted), then the same names in each subdirectory of DIR (one level; in
 * bytewise order of their names; names starting with '.' skipped), so that
 * lists of several origins (base image, each client) load together.  A
 * missing file is fine; a bad one, or a "*.exl" file that is no list name,
 * fails the whole call and leaves SET unchanged.
 */
int exclusion_load_dir(struct exclusion_set *set, const char *dir, char *err, size_t errlen);

/*
 * Adds one rule as pushed by a server: SIGN is "+", "-", "yes" (= "+") or
 * "no" (= "-").  ORIGIN/LINE are for messages and statistics.
 */
int exclusion_add_rule(struct exclusion_set *set, enum exclusion_monitor monitor, const char *sign,
		       const char *key, const char *subject, const char *object, const char *origin,
		       unsigned line, char *err, size_t errlen);

/* True if the event is expected noise (excluded), false if it is reported. */
bool exclusion_is_excluded(struct exclusion_set *set, enum exclusion_monitor monitor,
			   const char *key, const char *subject, const char *object);

/*
 * True if every event of MONITOR/KEY is excluded whatever its subject and
 * object (a "+ KEY .* .*" rule and no '-' rule for KEY), so the sensor need
 * not produce it at all.
 */
bool exclusion_key_always_excluded(const struct exclusion_set *set, enum exclusion_monitor monitor,
				   const char *key);

/*
 * Records that the sensor drops MONITOR/KEY events itself because the key is
 * always excluded: the deciding '+' rule then shows as "(kernel-filtered)"
 * rather than "(dead)" in the statistics.  Returns false (and marks nothing)
 * if the key is not always excluded.
 */
bool exclusion_mark_kernel_filtered(struct exclusion_set *set, enum exclusion_monitor monitor,
				    const char *key);

size_t exclusion_rule_count(const struct exclusion_set *set);
/* Rule IDX in load order; -1 if out of range. Strings stay owned by the set. */
int exclusion_rule_get(const struct exclusion_set *set, size_t idx,
		       struct exclusion_rule_info *out);

/*
 * Prints one line per rule in load order,
 * "origin:line  hits=N  sign  key  subject  object", with " (dead)" appended
 * when hits is 0 (or " (kernel-filtered)", see above).  Bytes outside
 * printable ASCII are shown as \xNN; backslashes are not doubled, so regexes
 * read as written.
 */
void exclusion_print_stats(const struct exclusion_set *set, FILE *out);

#endif
