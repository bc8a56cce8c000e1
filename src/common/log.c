/*
 * log.c - see log.h.  Lines look like "capture-client: warning: message".
 */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

int log_level = LOG_LEVEL_WARN;
static const char *log_procname = "capture";
static FILE *log_stream;
static void (*hook_before)(void *), (*hook_after)(void *);
static void *hook_arg;

void log_init(const char *procname, int level, FILE *stream)
{
	log_procname = procname;
	log_level = level;
	log_stream = stream;
}

void log_set_level(int level)
{
	log_level = level;
}

void log_set_hooks(void (*before)(void *), void (*after)(void *), void *arg)
{
	hook_before = before;
	hook_after = after;
	hook_arg = arg;
}

static void log_vwrite(const char *prefix, const char *fmt, va_list ap, const char *suffix)
{
	FILE *out = log_stream ? log_stream : stderr;
	int saved = errno;

	if (hook_before)
		hook_before(hook_arg);
	fprintf(out, "%s: %s", log_procname, prefix);
	/* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): the callers va_start it */
	vfprintf(out, fmt, ap);
	if (suffix)
		fprintf(out, ": %s", suffix);
	fputc('\n', out);
	fflush(out);
	if (hook_after)
		hook_after(hook_arg);
	errno = saved;
}

void log_warn(const char *fmt, ...)
{
	va_list ap;
	const char *err = strerror(errno);

	va_start(ap, fmt);
	log_vwrite("", fmt, ap, err);
	va_end(ap);
}

void log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite("", fmt, ap, NULL);
	va_end(ap);
}

void log_emit(int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(level >= LOG_LEVEL_DEBUG ? "debug: " : "", fmt, ap, NULL);
	va_end(ap);
}

void fatal(const char *fmt, ...)
{
	va_list ap;
	const char *err = strerror(errno);

	va_start(ap, fmt);
	log_vwrite("fatal: ", fmt, ap, err);
	va_end(ap);
	exit(3);
}

void fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite("fatal: ", fmt, ap, NULL);
	va_end(ap);
	exit(3);
}
