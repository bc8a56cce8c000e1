/*
 * corpus_site.h - what capture-corpusd serves for a request, without the HTTP
 * library: the site a Host header names, the file a request target names,
 * its content type, and the per-site redirect table (corpus/README.md).
 *
 * Layout of a corpus root:
 *
 *   ROOT/<host>/...          one directory per host name, lower-case
 *   ROOT/default/...         served for a host that has no directory (optional)
 *   ROOT/<host>/_redirects   lines "path<TAB>status<TAB>location" (optional)
 *
 * Guarantees: nothing outside ROOT/<site>/ is ever opened.  A request target
 * whose decoded path has a "." or ".." segment, a NUL or another control
 * byte, or a bad %-escape is refused (400) before any file is touched; files
 * are opened with openat2(RESOLVE_BENEATH) from the site's directory, so a
 * symbolic link may point inside the site but not out of it (403); names
 * starting with '.' and the _redirects file are never served (404); only
 * regular files are served (a FIFO or device is 404 and is never opened
 * blocking).
 */
#ifndef CAPTURE_CORPUS_SITE_H
#define CAPTURE_CORPUS_SITE_H

#include <stddef.h>
#include <stdint.h>

#define CORPUS_HOST_MAX       253          /* bytes in a host name (DNS limit) */
#define CORPUS_PATH_MAX       4096         /* bytes in a decoded request path */
#define CORPUS_LOCATION_MAX   2048         /* bytes in a redirect target */
#define CORPUS_REDIRECTS_MAX  65536        /* bytes in one _redirects file (64 KiB) */
#define CORPUS_DEFAULT_SITE   "default"    /* site for hosts without a directory */
#define CORPUS_REDIRECTS_FILE "_redirects" /* per-site redirect table */
#define CORPUS_INDEX_FILE     "index.html" /* served for a directory */
#define CORPUS_TYPE_FALLBACK  "application/octet-stream"

/*
 * Site name of a Host header value: lower-cased, ":port" stripped.  Accepts
 * DNS names and dotted IPv4 ([a-z0-9-] labels joined by single dots, a final
 * dot dropped).  0 with OUT set, or -1 if HOST is NULL, empty, too long, an
 * IPv6 literal or has any other byte (the caller then uses the default site).
 */
int corpus_host_site(const char *host, char *out, size_t outlen);

/* Outcome of decoding a request target. */
enum corpus_path_status {
	CORPUS_PATH_OK = 0,
	CORPUS_PATH_BAD,       /* not "/...", bad %-escape, NUL or control byte, too long: 400 */
	CORPUS_PATH_TRAVERSAL, /* a "." or ".." segment (also %-encoded): 400 */
	CORPUS_PATH_HIDDEN,    /* a segment starting with '.', or the _redirects file: 404 */
};

/*
 * Decodes the raw request target TARGET ("/a%20b//c/?q#f") into a clean
 * absolute path ("/a b/c/"): the query and fragment are cut, %XX decoded
 * (an encoded '/' separates segments like a plain one), empty segments
 * dropped, a final '/' kept.  OUT holds the result when CORPUS_PATH_OK.
 */
enum corpus_path_status corpus_path_decode(const char *target, char *out, size_t outlen);

/* Content type for the extension of PATH's last segment (case-insensitive). */
const char *corpus_content_type(const char *path);

/* One line of a _redirects file. */
struct corpus_redirect {
	char *path;      /* decoded absolute path it applies to, matched exactly */
	unsigned status; /* 301, 302, 303, 307 or 308 */
	char *location;  /* sent as is in the Location header */
};

struct corpus_redirects {
	struct corpus_redirect *v;
	size_t n;
};

/*
 * Parses a _redirects file held in BUF (LEN bytes): lines
 * "path<TAB>status<TAB>location", '#' comment lines and blank lines
 * skipped, a trailing '\r' dropped.  All or nothing: 0 with OUT filled
 * (free with corpus_redirects_free), or -1 with ERR = "line N: reason".
 */
int corpus_redirects_parse(const char *buf, size_t len, struct corpus_redirects *out, char *err,
			   size_t errlen);
/* The first rule for exactly PATH, or NULL. */
const struct corpus_redirect *corpus_redirects_find(const struct corpus_redirects *r,
						    const char *path);
void corpus_redirects_free(struct corpus_redirects *r);

/* What to answer to one request. */
struct corpus_answer {
	unsigned status;                    /* HTTP status */
	int fd;                             /* 200: the open file, owned by the caller; else -1 */
	uint64_t size;                      /* 200: its size in bytes */
	const char *type;                   /* 200: content type (static string) */
	char location[CORPUS_LOCATION_MAX]; /* 3xx: the Location header */
	char site[CORPUS_HOST_MAX + 1];     /* the site directory used, "" if none */
	char path[CORPUS_PATH_MAX];         /* decoded path, "" if it did not decode */
	char reason[160];                   /* for the log when not 200: why */
};

/*
 * Resolves a GET or HEAD of TARGET with Host header HOST (may be NULL)
 * against the corpus root open as ROOT_FD.  Always fills OUT; returns 0, or
 * -1 when the answer is a server error (500, errno set).
 */
int corpus_resolve(int root_fd, const char *host, const char *target, struct corpus_answer *out);

#endif
