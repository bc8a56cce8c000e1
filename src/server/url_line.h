/*
 * url_line.h - one line of a URL file: url[::client][::visittime][::priority].
 *
 * The forms are the original's (UrlFactory): fields after the URL are told
 * apart by what they look like: an integer is a visit time in seconds, a
 * number with a decimal point or exponent is a priority (0.0 low .. 1.0
 * high), a name is the client program.
 *
 *   url                      defaults
 *   url::N | url::D | url::name
 *   url::client::N | url::client::D | url::N::D
 *   url::client::N::D        all four (N an integer, D any number)
 *
 * Unlike the original, the URL is kept byte for byte (case, port,
 * user-info, fragment), "::" inside "[...]" (an IPv6 host) does not split,
 * and malformed lines are errors instead of being guessed at: no scheme,
 * an empty field, more than 4 fields, a space or control byte in the URL,
 * a priority outside 0.0..1.0, a negative or too long visit time.
 * The line is trimmed of blanks and control bytes at both ends; an empty
 * line or one starting with '#' is skipped; "end" (any case) ends the input.
 */
#ifndef CAPTURE_URL_LINE_H
#define CAPTURE_URL_LINE_H

#include <stddef.h>

#define URL_LINE_URL_MAX 8192                      /* bytes of one URL */
#define URL_LINE_MAX     (URL_LINE_URL_MAX + 1024) /* bytes of one line, blanks and fields */
#define URL_LINE_FIELDS  4                         /* url, client, visit time, priority */

struct url_entry {
	char *url;       /* byte-exact, NUL-terminated (never contains NUL); owned */
	char *client;    /* client program name; NULL = client-default; owned */
	int visit_time;  /* seconds, 0..CONFIG_VISIT_TIME_MAX_S; -1 = client-default-visit-time */
	double priority; /* 0.0 (default, low) .. 1.0 (high) */
	unsigned long line; /* 1-based line in its source; 0 if it came from elsewhere */
};

enum url_line_result {
	URL_LINE_NOMEM = -2,   /* out of memory (ERR says so) */
	URL_LINE_INVALID = -1, /* ERR says which field and why */
	URL_LINE_URL = 0,      /* OUT is filled; free it with url_line_entry_free() */
	URL_LINE_SKIP,         /* empty line or '#' comment */
	URL_LINE_END,          /* "end": stop reading this input */
};

/*
 * Parses LINE (LEN bytes, no newline needed, may hold any bytes) found at
 * LINENO of ORIGIN (a file name, or NULL).  Errors read
 * "ORIGIN:LINENO: field 3 (visit time): ..." ("line LINENO: ..." without
 * ORIGIN) and fit in ERRLEN bytes.  Returns an enum url_line_result.
 */
int url_line_parse(const char *line, size_t len, const char *origin, unsigned long lineno,
		   struct url_entry *out, char *err, size_t errlen);

/*
 * Checks one URL on its own (control socket, API): scheme, length, no
 * spaces or control bytes.  0, or -1 with the reason in ERR.
 */
int url_line_check_url(const char *url, size_t len, char *err, size_t errlen);

/* Deep copy of SRC into DST; 0, or -1 on ENOMEM (DST then empty). */
int url_line_entry_copy(struct url_entry *dst, const struct url_entry *src);
/* Frees the strings of E (not E) and resets it to the defaults. */
void url_line_entry_free(struct url_entry *e);

#endif
