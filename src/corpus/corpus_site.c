/*
 * corpus_site.c - host and path mapping, content types, _redirects and the
 * file look-up of capture-corpusd (see corpus_site.h for the guarantees).
 *
 * The checks come in two layers on purpose: the decoded path is refused
 * textually when it could climb ("." and ".." segments), and the file is
 * then opened with openat2(RESOLVE_BENEATH) from the site's directory, which
 * the kernel enforces even for symbolic links planted inside the site.
 */
#include "corpus/corpus_site.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/util.h"

/* ---- host ---- */

static bool host_char_ok(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
}

/* LEN bytes of lower-cased HOST form labels joined by single dots. */
static bool host_labels_ok(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || s[0] == '.' || s[len - 1] == '.')
		return false;
	for (i = 0; i < len; i++) {
		if (!host_char_ok(s[i]) || (s[i] == '.' && s[i + 1] == '.'))
			return false;
	}
	return true;
}

/* ":digits" at the end of a Host value (1..5 digits); false for anything else. */
static bool port_ok(const char *p)
{
	size_t n = strspn(p, "0123456789");

	return n >= 1 && n <= 5 && p[n] == '\0';
}

int corpus_host_site(const char *host, char *out, size_t outlen)
{
	const char *colon;
	size_t len, i;

	if (!host || host[0] == '\0' || host[0] == '[')
		return -1;
	colon = strchr(host, ':');
	if (colon && !port_ok(colon + 1))
		return -1;
	len = colon ? (size_t)(colon - host) : strlen(host);
	if (len > 0 && host[len - 1] == '.')
		len--; /* "example.com." is the same host */
	if (len == 0 || len > CORPUS_HOST_MAX || len >= outlen)
		return -1;
	for (i = 0; i < len; i++) {
		char c = host[i];

		out[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
	}
	out[len] = '\0';
	return host_labels_ok(out, len) ? 0 : -1;
}

/* ---- path ---- */

/* %-decodes TARGET up to '?' or '#' into BUF; false on a bad escape or a control byte. */
static bool percent_decode(const char *target, char *buf, size_t buflen)
{
	size_t o = 0;
	const char *p;

	for (p = target; *p && *p != '?' && *p != '#'; p++) {
		unsigned char c = (unsigned char)*p;

		if (c == '%') {
			int hi = util_hex_value((unsigned char)p[1]),
			    lo = hi < 0 ? -1 : util_hex_value((unsigned char)p[2]);

			if (lo < 0)
				return false;
			c = (unsigned char)(hi * 16 + lo);
			p += 2;
		}
		if (c < 0x20 || c == 0x7f || o + 1 >= buflen)
			return false; /* NUL and other control bytes never name a file here */
		buf[o++] = (char)c;
	}
	buf[o] = '\0';
	return true;
}

/* Classifies one segment of LEN bytes. */
static enum corpus_path_status segment_status(const char *s, size_t len)
{
	if ((len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.'))
		return CORPUS_PATH_TRAVERSAL;
	if (s[0] == '.')
		return CORPUS_PATH_HIDDEN;
	if (len == strlen(CORPUS_REDIRECTS_FILE) && memcmp(s, CORPUS_REDIRECTS_FILE, len) == 0)
		return CORPUS_PATH_HIDDEN;
	return CORPUS_PATH_OK;
}

/* Rebuilds DECODED as "/" + its non-empty segments into OUT; checks each segment. */
static enum corpus_path_status normalize(const char *decoded, char *out, size_t outlen)
{
	enum corpus_path_status worst = CORPUS_PATH_OK;
	size_t n = strlen(decoded), i = 0, o = 0;

	while (i < n) {
		size_t len;
		enum corpus_path_status st;

		while (i < n && decoded[i] == '/')
			i++;
		len = strcspn(decoded + i, "/");
		if (len == 0)
			break;
		st = segment_status(decoded + i, len);
		if (st == CORPUS_PATH_TRAVERSAL)
			return st; /* the strongest refusal wins over a hidden name */
		if (st != CORPUS_PATH_OK)
			worst = st;
		if (o + 1 + len + 2 > outlen)
			return CORPUS_PATH_BAD;
		out[o++] = '/';
		memcpy(out + o, decoded + i, len);
		o += len;
		i += len;
	}
	if (o == 0 || decoded[n - 1] == '/')
		out[o++] = '/';
	out[o] = '\0';
	return worst;
}

enum corpus_path_status corpus_path_decode(const char *target, char *out, size_t outlen)
{
	char decoded[CORPUS_PATH_MAX] = {
	    0}; /* zeroed: clang's analyzer cannot follow the decoder */

	if (!target || target[0] != '/' || outlen < 2)
		return CORPUS_PATH_BAD;
	if (!percent_decode(target, decoded, sizeof(decoded)))
		return CORPUS_PATH_BAD;
	return normalize(decoded, out, outlen);
}

/* ---- content types ---- */

static const struct {
	const char *ext;
	const char *type;
} content_types[] = {
    {"html", "text/html; charset=utf-8"},
    {"htm", "text/html; charset=utf-8"},
    {"css", "text/css; charset=utf-8"},
    {"js", "text/javascript; charset=utf-8"},
    {"mjs", "text/javascript; charset=utf-8"},
    {"json", "application/json"},
    {"txt", "text/plain; charset=utf-8"},
    {"sh", "text/x-shellscript; charset=utf-8"},
    {"xml", "application/xml"},
    {"svg", "image/svg+xml"},
    {"png", "image/png"},
    {"gif", "image/gif"},
    {"jpg", "image/jpeg"},
    {"jpeg", "image/jpeg"},
    {"webp", "image/webp"},
    {"ico", "image/x-icon"},
    {"woff2", "font/woff2"},
    {"wasm", "application/wasm"},
    {"pdf", "application/pdf"},
    {"zip", "application/zip"},
    {"capdoc", "application/x-capture-document"},
};

const char *corpus_content_type(const char *path)
{
	const char *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;
	const char *dot = strrchr(base, '.');
	size_t i;

	if (!dot || dot == base)
		return CORPUS_TYPE_FALLBACK;
	for (i = 0; i < ARRAY_SIZE(content_types); i++) {
		if (strcasecmp(dot + 1, content_types[i].ext) == 0)
			return content_types[i].type;
	}
	return CORPUS_TYPE_FALLBACK;
}

/* ---- _redirects ---- */

void corpus_redirects_free(struct corpus_redirects *r)
{
	size_t i;

	if (!r)
		return;
	for (i = 0; i < r->n; i++) {
		free(r->v[i].path);
		free(r->v[i].location);
	}
	free(r->v);
	r->v = NULL;
	r->n = 0;
}

const struct corpus_redirect *corpus_redirects_find(const struct corpus_redirects *r,
						    const char *path)
{
	size_t i;

	for (i = 0; r && i < r->n; i++) {
		if (strcmp(r->v[i].path, path) == 0)
			return &r->v[i];
	}
	return NULL;
}

static bool status_is_redirect(unsigned s)
{
	return s == 301 || s == 302 || s == 303 || s == 307 || s == 308;
}

static bool location_ok(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len >= CORPUS_LOCATION_MAX)
		return false;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c <= 0x20 || c == 0x7f) /* a header value: no controls, no spaces */
			return false;
	}
	return true;
}

/* Parses one rule line of LEN bytes (no '\n') into R; NULL, or the reason it is bad. */
static const char *parse_rule(const char *line, size_t len, struct corpus_redirect *r)
{
	const char *tab1 = memchr(line, '\t', len), *tab2;
	char path[CORPUS_PATH_MAX], decoded[CORPUS_PATH_MAX], num[8];
	uint64_t status;
	size_t plen, nlen, llen;

	tab2 = tab1 ? memchr(tab1 + 1, '\t', len - (size_t)(tab1 + 1 - line)) : NULL;
	if (!tab2 || memchr(tab2 + 1, '\t', len - (size_t)(tab2 + 1 - line)))
		return "expected 3 TAB-separated columns (path, status, location)";
	plen = (size_t)(tab1 - line);
	nlen = (size_t)(tab2 - tab1 - 1);
	llen = len - (size_t)(tab2 + 1 - line);
	if (plen == 0 || plen >= sizeof(path) || line[0] != '/')
		return "the path must start with '/'";
	memcpy(path, line, plen);
	path[plen] = '\0';
	if (corpus_path_decode(path, decoded, sizeof(decoded)) != CORPUS_PATH_OK)
		return "the path is not a plain path (bad escape, '.', '..' or hidden segment)";
	if (nlen == 0 || nlen >= sizeof(num))
		return "the status must be 301, 302, 303, 307 or 308";
	memcpy(num, tab1 + 1, nlen);
	num[nlen] = '\0';
	if (util_parse_u64(num, 300, 399, &status) < 0 || !status_is_redirect((unsigned)status))
		return "the status must be 301, 302, 303, 307 or 308";
	if (!location_ok(tab2 + 1, llen))
		return "the location must be 1..2047 bytes without spaces or control bytes";
	r->path = strdup(decoded);
	r->location = strndup(tab2 + 1, llen);
	r->status = (unsigned)status;
	if (!r->path || !r->location) {
		free(r->path);
		free(r->location);
		return "out of memory";
	}
	return NULL;
}

static bool line_is_blank(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (s[i] != ' ' && s[i] != '\t')
			return false;
	}
	return true;
}

static int add_rule(struct corpus_redirects *out, const struct corpus_redirect *r)
{
	struct corpus_redirect *v = realloc(out->v, (out->n + 1) * sizeof(*v));

	if (!v)
		return -1;
	out->v = v;
	out->v[out->n++] = *r;
	return 0;
}

int corpus_redirects_parse(const char *buf, size_t len, struct corpus_redirects *out, char *err,
			   size_t errlen)
{
	const char *p = buf, *end = buf + len, *why = NULL;
	unsigned line = 0;

	out->v = NULL;
	out->n = 0;
	if (len > CORPUS_REDIRECTS_MAX)
		why = "file larger than 64 KiB";
	else if (memchr(buf, '\0', len))
		why = "NUL byte in the file";
	while (!why && p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t llen = nl ? (size_t)(nl - p) : (size_t)(end - p);
		struct corpus_redirect r;

		line++;
		if (llen > 0 && p[llen - 1] == '\r')
			llen--;
		if (!line_is_blank(p, llen) && p[0] != '#') {
			why = parse_rule(p, llen, &r);
			if (!why && add_rule(out, &r) < 0) {
				free(r.path);
				free(r.location);
				why = "out of memory";
			}
		}
		p = nl ? nl + 1 : end;
	}
	if (!why)
		return 0;
	if (line == 0)
		snprintf(err, errlen, "%s", why);
	else
		snprintf(err, errlen, "line %u: %s", line, why);
	corpus_redirects_free(out);
	return -1;
}

/* ---- resolving a request ---- */

/* openat2 with the site's confinement; glibc 2.36 has no wrapper. */
static int open_beneath(int dirfd, const char *path, int flags)
{
	struct open_how how = {
	    .flags = (uint64_t)(flags | O_CLOEXEC | O_NOCTTY),
	    .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
	};

	return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
}

static void answer(struct corpus_answer *out, unsigned status, const char *reason)
{
	out->status = status;
	snprintf(out->reason, sizeof(out->reason), "%s", reason);
}

/* Maps an open error to an answer; returns -1 for a server error. */
static int answer_errno(struct corpus_answer *out, int err)
{
	switch (err) {
	case ENOENT:
	case ENOTDIR:
	case ENAMETOOLONG: answer(out, 404, "no such file"); return 0;
	case EXDEV:
	case ELOOP: answer(out, 403, "a symbolic link leads out of the site"); return 0;
	case EACCES:
	case EPERM: answer(out, 403, "permission denied"); return 0;
	default:
		snprintf(out->reason, sizeof(out->reason), "open: %s", strerror(err));
		out->status = 500;
		errno = err;
		return -1;
	}
}

/* Opens the directory of the site HOST names, else the default site; -1 if none. */
static int open_site(int root_fd, const char *host, struct corpus_answer *out)
{
	char name[CORPUS_HOST_MAX + 1];
	int fd = -1;

	if (corpus_host_site(host, name, sizeof(name)) == 0)
		fd = open_beneath(root_fd, name, O_RDONLY | O_DIRECTORY);
	if (fd >= 0) {
		snprintf(out->site, sizeof(out->site), "%s", name);
		return fd;
	}
	fd = open_beneath(root_fd, CORPUS_DEFAULT_SITE, O_RDONLY | O_DIRECTORY);
	if (fd >= 0)
		snprintf(out->site, sizeof(out->site), "%s", CORPUS_DEFAULT_SITE);
	return fd;
}

/* Reads SITE_FD/_redirects (absent = no rules) into R; -1 with a 500 answer if unusable. */
static int load_redirects(int site_fd, struct corpus_redirects *r, struct corpus_answer *out)
{
	CLEANUP_FD int fd = open_beneath(site_fd, CORPUS_REDIRECTS_FILE, O_RDONLY | O_NONBLOCK);
	char buf[CORPUS_REDIRECTS_MAX + 1], err[120];
	struct stat st;
	ssize_t n;

	r->v = NULL;
	r->n = 0;
	if (fd < 0 && errno == ENOENT)
		return 0;
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		answer(out, 500, "_redirects: not a readable regular file");
		return -1;
	}
	n = read(fd, buf, sizeof(buf));
	if (n < 0) {
		answer(out, 500, "_redirects: read error");
		return -1;
	}
	if (corpus_redirects_parse(buf, (size_t)n, r, err, sizeof(err)) < 0) {
		snprintf(out->reason, sizeof(out->reason), "_redirects: %s", err);
		out->status = 500;
		return -1;
	}
	return 0;
}

/* Percent-encodes PATH for a Location header (RFC 3986 path characters kept). */
static void encode_location(const char *path, char *out, size_t outlen)
{
	static const char keep[] = "-._~/!$&'()*+,;=:@";
	size_t o = 0;
	const unsigned char *p;

	for (p = (const unsigned char *)path; *p && o + 4 < outlen; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || strchr(keep, *p))
			out[o++] = (char)*p;
		else
			o += (size_t)snprintf(out + o, outlen - o, "%%%02X", *p);
	}
	out[o] = '\0';
}

/* A directory: index.html, after a redirect to the path with its final '/'. */
static int answer_directory(int site_fd, const char *rel, struct corpus_answer *out)
{
	char index[CORPUS_PATH_MAX + sizeof(CORPUS_INDEX_FILE)];
	size_t plen = strlen(out->path);
	struct stat st;
	int fd;

	if (out->path[plen - 1] != '/') {
		char with_slash[CORPUS_PATH_MAX + 1];

		snprintf(with_slash, sizeof(with_slash), "%s/", out->path);
		encode_location(with_slash, out->location, sizeof(out->location));
		answer(out, 301, "directory without its final '/'");
		return 0;
	}
	snprintf(index, sizeof(index), "%s%s", rel, CORPUS_INDEX_FILE);
	fd = open_beneath(site_fd, index, O_RDONLY | O_NONBLOCK);
	if (fd < 0)
		return answer_errno(out, errno);
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		answer(out, 404, "index.html is not a regular file");
		return 0;
	}
	out->fd = fd;
	out->size = (uint64_t)st.st_size;
	out->type = corpus_content_type(CORPUS_INDEX_FILE);
	answer(out, 200, "");
	return 0;
}

/* The file OUT->path names in the site. */
static int answer_file(int site_fd, struct corpus_answer *out)
{
	const char *rel = out->path[1] ? out->path + 1 : "./";
	struct stat st;
	int fd, rc = 0;

	/* O_NONBLOCK: opening a FIFO planted in a site must not hang the server */
	fd = open_beneath(site_fd, rel, O_RDONLY | O_NONBLOCK);
	if (fd < 0)
		return answer_errno(out, errno);
	if (fstat(fd, &st) < 0) {
		rc = answer_errno(out, errno);
	} else if (S_ISDIR(st.st_mode)) {
		rc = answer_directory(site_fd, strcmp(rel, "./") == 0 ? "" : rel, out);
	} else if (S_ISREG(st.st_mode)) {
		out->fd = fd;
		out->size = (uint64_t)st.st_size;
		out->type = corpus_content_type(out->path);
		answer(out, 200, "");
		return 0;
	} else {
		answer(out, 404, "not a regular file");
	}
	close(fd);
	return rc;
}

static void answer_init(struct corpus_answer *out)
{
	memset(out, 0, sizeof(*out));
	out->fd = -1;
	out->status = 500;
	out->type = CORPUS_TYPE_FALLBACK;
}

int corpus_resolve(int root_fd, const char *host, const char *target, struct corpus_answer *out)
{
	struct corpus_redirects redirects;
	const struct corpus_redirect *r;
	CLEANUP_FD int site_fd = -1;
	int rc;

	answer_init(out);
	switch (corpus_path_decode(target, out->path, sizeof(out->path))) {
	case CORPUS_PATH_OK: break;
	case CORPUS_PATH_BAD:
		out->path[0] = '\0';
		answer(out, 400, "bad request target");
		return 0;
	case CORPUS_PATH_TRAVERSAL:
		out->path[0] = '\0';
		answer(out, 400, "'.' or '..' segment refused");
		return 0;
	case CORPUS_PATH_HIDDEN: answer(out, 404, "hidden name"); return 0;
	}
	site_fd = open_site(root_fd, host, out);
	if (site_fd < 0) {
		answer(out, 404, "no site for this host and no default site");
		return 0;
	}
	if (load_redirects(site_fd, &redirects, out) < 0)
		return -1;
	r = corpus_redirects_find(&redirects, out->path);
	if (r) {
		snprintf(out->location, sizeof(out->location), "%s", r->location);
		answer(out, r->status, "_redirects");
		rc = 0;
	} else {
		rc = answer_file(site_fd, out);
	}
	corpus_redirects_free(&redirects);
	return rc;
}
