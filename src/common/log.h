/*
 * log.h - the one logger of Capture.
 *
 * Messages go to one stream (stderr by default) prefixed with the program name.
 * log_warn() appends strerror(errno); every function preserves errno, so a
 * caller can log and then still return -errno.  The level test happens before
 * the arguments are formatted, so disabled debug calls cost one branch.
 */
#ifndef CAPTURE_LOG_H
#define CAPTURE_LOG_H

#include <stdio.h>

enum log_level {
	LOG_LEVEL_WARN = 0, /* warnings and errors only */
	LOG_LEVEL_INFO = 1,
	LOG_LEVEL_DEBUG = 2,
};

extern int log_level; /* current threshold; written only by log_init()/log_set_level() */

/* Sets the program name shown in each line, the level and the stream (NULL = stderr). */
void log_init(const char *procname, int level, FILE *stream);
void log_set_level(int level);
/* BEFORE/AFTER run around every line (e.g. to take a live status line off the terminal). */
void log_set_hooks(void (*before)(void *), void (*after)(void *), void *arg);

void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_emit(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Start-up only: log and exit(3) ("error" exit status of capture-client). */
_Noreturn void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
_Noreturn void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define log_info(...)                                                                              \
	do {                                                                                       \
		if (log_level >= LOG_LEVEL_INFO)                                                   \
			log_emit(LOG_LEVEL_INFO, __VA_ARGS__);                                     \
	} while (0)
#define log_debug(...)                                                                             \
	do {                                                                                       \
		if (log_level >= LOG_LEVEL_DEBUG)                                                  \
			log_emit(LOG_LEVEL_DEBUG, __VA_ARGS__);                                    \
	} while (0)

#endif
