/*
 * collector.c - see collector.h and docs/collection.md.
 *
 * The walk holds one directory fd per level for the upper layer and one for
 * the lower layer (or -1 where the lower layer has no such directory); every
 * lookup is relative to those fds with O_NOFOLLOW / AT_SYMLINK_NOFOLLOW, so a
 * hostile symlink in either layer is never followed.  The lower root is a
 * non-recursive clone of LOWER_DIR (open_tree) when we may make one, so mounts
 * stacked on the host's lower directory (/proc, /tmp, ...) are not looked
 * into: the overlay does not see them either.
 */
#include "guest/collector.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "common/path.h"
#include "common/util.h"

#define CHUNK     ((size_t)64 * 1024)
#define MAX_DEPTH 256 /* two fds per level: stays well under RLIMIT_NOFILE */
#define STR_(x)   #x
#define STR(x)    STR_(x)

struct collection {
	struct collect_entry *v;
	size_t n, cap;
};

/* Walk state. */
struct scan {
	struct collection *c;
	unsigned char *buf; /* CHUNK bytes for hashing */
	const char *upper_dir, *lower_dir;
	char *err;
	size_t errlen;
	int depth;
};

/* One side (upper or lower) of an entry. */
struct side {
	int dfd; /* directory holding NAME, -1 if that directory does not exist */
	struct stat st;
	int exists;
};

static const char *const kind_names[] = {
    [COLLECT_CREATED] = "created",         [COLLECT_MODIFIED] = "modified",
    [COLLECT_ATTRIBUTES] = "attributes",   [COLLECT_DELETED] = "deleted",
    [COLLECT_DIR_CREATED] = "dir_created", [COLLECT_DIR_REPLACED] = "dir_replaced",
    [COLLECT_SYMLINK] = "symlink",         [COLLECT_OTHER] = "other",
};

const char *collect_kind_name(enum collect_kind k)
{
	return (unsigned)k < ARRAY_SIZE(kind_names) ? kind_names[k] : "unknown";
}

size_t collection_count(const struct collection *c)
{
	return c ? c->n : 0;
}

const struct collect_entry *collection_get(const struct collection *c, size_t i)
{
	return c && i < c->n ? &c->v[i] : NULL;
}

void collection_free(struct collection *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++) {
		free(c->v[i].path);
		free(c->v[i].link_target);
	}
	free(c->v);
	free(c);
}

/* ---- errors ---- */

/* Cuts the middle out of a long escaped path (at character boundaries) so WHAT still fits. */
static void shorten(char *safe)
{
	size_t len = strlen(safe), head = 40, tail;

	if (len <= 120)
		return;
	tail = len - 77;
	while (head > 0 && ((unsigned char)safe[head] & 0xc0) == 0x80)
		head--;
	while (((unsigned char)safe[tail] & 0xc0) == 0x80)
		tail++;
	safe[head] = safe[head + 1] = safe[head + 2] = '.';
	memmove(safe + head + 3, safe + tail, len - tail + 1);
}

/* "ROOT+GPATH: WHAT: strerror(errno)" with the path made byte-safe; returns -1. */
static int fail_path(char *err, size_t errlen, const char *root, const char *gpath,
		     const char *what)
{
	int saved = errno;
	char *raw = NULL, *safe = NULL;

	if (asprintf(&raw, "%s%s", root, gpath ? gpath : "") >= 0)
		safe = util_escape_dup(raw, strlen(raw));
	else
		raw = NULL;
	if (safe)
		shorten(safe);
	snprintf(err, errlen, "%s: %s: %s", safe ? safe : root, what, strerror(saved));
	free(raw);
	free(safe);
	errno = saved;
	return -1;
}

static int scan_fail(struct scan *s, const char *gpath, const char *what)
{
	return fail_path(s->err, s->errlen, s->upper_dir, gpath, what);
}

/* ---- small helpers ---- */

static char *join_guest(const char *dir, const char *name)
{
	char *p = NULL;

	if (asprintf(&p, "%s/%s", dir, name) < 0)
		return NULL;
	return p;
}

static int meta_equal(const struct stat *a, const struct stat *b)
{
	return a->st_mode == b->st_mode && a->st_uid == b->st_uid && a->st_gid == b->st_gid;
}

static int is_whiteout_dev(const struct stat *st)
{
	return S_ISCHR(st->st_mode) && st->st_rdev == makedev(0, 0);
}

/* Overlay xattrs come as trusted.overlay.* or, with -o userxattr, user.overlay.*. */
static int ovl_xattr(int fd, const char *name, char *val, size_t len)
{
	char key[64];
	ssize_t n;

	snprintf(key, sizeof(key), "trusted.overlay.%s", name);
	n = fgetxattr(fd, key, val, len);
	if (n < 0) {
		snprintf(key, sizeof(key), "user.overlay.%s", name);
		n = fgetxattr(fd, key, val, len);
	}
	return (int)n;
}

/* Opens a directory below DFD without following a symlink; -1 if absent (errno set). */
static int open_subdir(int dfd, const char *name)
{
	return openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

/*
 * The lower root as the overlay sees it: a detached, non-recursive clone of
 * DIR (no submounts), or DIR itself if we may not clone mounts.
 */
static int open_lower_root(const char *dir)
{
	int tree = open_tree(AT_FDCWD, dir, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
	int fd;

	if (tree < 0)
		return open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	fd = openat(tree, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	close(tree);
	return fd;
}

/* ---- hashing ---- */

static void hex(const unsigned char *md, unsigned len, char out[65])
{
	static const char digits[] = "0123456789abcdef";

	if (len > 32)
		len = 32;
	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[md[i] >> 4];
		out[2 * i + 1] = digits[md[i] & 15];
	}
	out[(size_t)2 * len] = '\0';
}

/* SHA-256 of the rest of FD into OUT (hex); the byte count into SIZE. 0 or -1 (errno). */
static int sha256_fd(int fd, unsigned char *buf, char out[65], uint64_t *size)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	uint64_t total = 0;
	ssize_t n = 0;
	int ok;

	ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	while (ok && (n = read(fd, buf, CHUNK)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		ok = n > 0 && EVP_DigestUpdate(ctx, buf, (size_t)n);
		total += n > 0 ? (uint64_t)n : 0;
	}
	ok = ok && EVP_DigestFinal_ex(ctx, md, &mdlen);
	EVP_MD_CTX_free(ctx);
	if (!ok) {
		if (n >= 0)
			errno = EIO;
		return -1;
	}
	hex(md, mdlen, out);
	*size = total;
	return 0;
}

/* Opens NAME below DFD as a regular file (never a symlink, fifo or device). */
static int open_regular(int dfd, const char *name)
{
	int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	struct stat st;

	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		errno = EINVAL;
		return -1;
	}
	return fd;
}

static int hash_at(int dfd, const char *name, unsigned char *buf, char out[65], uint64_t *size)
{
	CLEANUP_FD int fd = open_regular(dfd, name);

	if (fd < 0)
		return -1;
	return sha256_fd(fd, buf, out, size);
}

/* ---- collection ---- */

/* Appends an entry for GPATH (taken over) with the metadata of ST. */
static struct collect_entry *add_entry(struct scan *s, enum collect_kind kind, char *gpath,
				       const struct stat *st)
{
	struct collect_entry *e;

	if (s->c->n == s->c->cap) {
		size_t cap = s->c->cap ? 2 * s->c->cap : 64;
		struct collect_entry *v = realloc(s->c->v, cap * sizeof(*v));

		if (!v) {
			free(gpath);
			errno = ENOMEM;
			return NULL;
		}
		s->c->v = v;
		s->c->cap = cap;
	}
	e = &s->c->v[s->c->n++];
	memset(e, 0, sizeof(*e));
	e->kind = kind;
	e->path = gpath;
	e->mode = st->st_mode;
	e->uid = st->st_uid;
	e->gid = st->st_gid;
	if (S_ISREG(st->st_mode))
		e->size = (uint64_t)st->st_size;
	return e;
}

/* Stats NAME in a lower directory; sets L->exists. 0, or -1 on a real error. */
static int lower_stat(struct side *l, const char *name)
{
	l->exists = 0;
	if (l->dfd < 0)
		return 0;
	if (fstatat(l->dfd, name, &l->st, AT_SYMLINK_NOFOLLOW) == 0) {
		l->exists = 1;
		return 0;
	}
	return errno == ENOENT || errno == ENOTDIR ? 0 : -1;
}

/* ---- entry kinds ---- */

static int add_deleted(struct scan *s, char *gpath, const struct side *u, const struct side *l)
{
	struct collect_entry *e = add_entry(s, COLLECT_DELETED, gpath, l->exists ? &l->st : &u->st);

	return e ? 0 : scan_fail(s, NULL, "out of memory");
}

#define SKIP (-2) /* not a state change */

/*
 * Kind of regular file NAME whose content hashes to SUM (SIZE bytes): CREATED,
 * MODIFIED, ATTRIBUTES or SKIP (copied up without change); -1 on error.
 */
static int file_kind(struct scan *s, const char *gpath, const char *name, const struct side *u,
		     const struct side *l, const char *sum, uint64_t size)
{
	char lsum[65];
	uint64_t lsize;

	if (!l->exists)
		return COLLECT_CREATED;
	if (!S_ISREG(l->st.st_mode) || l->st.st_size != u->st.st_size)
		return COLLECT_MODIFIED;
	if (hash_at(l->dfd, name, s->buf, lsum, &lsize) < 0)
		return fail_path(s->err, s->errlen, s->lower_dir, gpath, "read");
	if (lsize != size || strcmp(sum, lsum) != 0)
		return COLLECT_MODIFIED;
	return meta_equal(&u->st, &l->st) ? SKIP : COLLECT_ATTRIBUTES;
}

static int scan_file(struct scan *s, char *gpath, const char *name, struct side *u, struct side *l)
{
	char sum[65];
	uint64_t size;
	struct collect_entry *e;
	int kind;

	if (hash_at(u->dfd, name, s->buf, sum, &size) < 0)
		kind = scan_fail(s, gpath, "read");
	else
		kind = file_kind(s, gpath, name, u, l, sum, size);
	if (kind < 0) {
		free(gpath);
		return kind == SKIP ? 0 : -1;
	}
	e = add_entry(s, (enum collect_kind)kind, gpath, &u->st);
	if (!e)
		return scan_fail(s, NULL, "out of memory");
	memcpy(e->sha256, sum, sizeof(sum));
	e->size = size;
	return 0;
}

/* Reads the target of symlink NAME (st_size bytes expected). NULL on error. */
static char *read_link(int dfd, const char *name, const struct stat *st)
{
	size_t cap = (size_t)st->st_size + 2;
	char *buf = malloc(cap);
	ssize_t n;

	if (!buf)
		return NULL;
	n = readlinkat(dfd, name, buf, cap);
	if (n < 0 || (size_t)n >= cap) {
		if (n >= 0)
			errno = EAGAIN; /* grew under us */
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	return buf;
}

/* 1 if the lower entry is the same symlink (same target and owner): a copy-up. */
static int same_symlink(const struct side *u, const struct side *l, const char *name,
			const char *target)
{
	char *old;
	int same;

	if (!l->exists || !S_ISLNK(l->st.st_mode) || !meta_equal(&u->st, &l->st))
		return 0;
	old = read_link(l->dfd, name, &l->st);
	same = old && strcmp(old, target) == 0;
	free(old);
	return same;
}

static int scan_symlink(struct scan *s, char *gpath, const char *name, struct side *u,
			struct side *l)
{
	char *target = read_link(u->dfd, name, &u->st);
	struct collect_entry *e;

	if (!target) {
		scan_fail(s, gpath, "readlink");
		free(gpath);
		return -1;
	}
	if (same_symlink(u, l, name, target)) {
		free(target);
		free(gpath);
		return 0;
	}
	e = add_entry(s, COLLECT_SYMLINK, gpath, &u->st);
	if (!e) {
		free(target);
		return scan_fail(s, NULL, "out of memory");
	}
	e->link_target = target;
	return 0;
}

static int scan_other(struct scan *s, char *gpath, struct side *u, struct side *l)
{
	if (l->exists && meta_equal(&u->st, &l->st) && u->st.st_rdev == l->st.st_rdev) {
		free(gpath);
		return 0;
	}
	return add_entry(s, COLLECT_OTHER, gpath, &u->st) ? 0 : scan_fail(s, NULL, "out of memory");
}

/* A zero-length regular file marked with the overlay.whiteout xattr (kernel >= 6.7 form). */
static int is_xattr_whiteout(int dfd, const char *name, const struct stat *st)
{
	CLEANUP_FD int fd = -1;
	char v[8];

	if (!S_ISREG(st->st_mode) || st->st_size != 0)
		return 0;
	fd = open_regular(dfd, name);
	return fd >= 0 && ovl_xattr(fd, "whiteout", v, sizeof(v)) >= 0;
}

static int scan_dir(struct scan *s, int ufd, int lfd, const char *gdir, int hides_lower);

/*
 * A directory: created (absent below), replaced (opaque, or hiding a lower
 * non-directory), attribute change, or just a directory to descend into.
 */
static int scan_subdir(struct scan *s, char *gpath, const char *name, struct side *u,
		       struct side *l)
{
	CLEANUP_FD int ufd = open_subdir(u->dfd, name);
	CLEANUP_FD int lfd = -1;
	enum collect_kind kind = COLLECT_OTHER; /* OTHER = no entry of its own */
	char v[4];
	int rc, opaque = 0;

	if (ufd < 0) {
		scan_fail(s, gpath, "open directory");
		free(gpath);
		return -1;
	}
	if (l->exists && S_ISDIR(l->st.st_mode)) {
		lfd = open_subdir(l->dfd, name);
		if (lfd < 0) {
			fail_path(s->err, s->errlen, s->lower_dir, gpath, "open directory");
			free(gpath);
			return -1;
		}
		opaque = ovl_xattr(ufd, "opaque", v, sizeof(v)) == 1 && v[0] == 'y';
		if (opaque)
			kind = COLLECT_DIR_REPLACED;
		else if (!meta_equal(&u->st, &l->st))
			kind = COLLECT_ATTRIBUTES;
	} else {
		kind = l->exists ? COLLECT_DIR_REPLACED : COLLECT_DIR_CREATED;
	}
	if (kind != COLLECT_OTHER) {
		if (!add_entry(s, kind, gpath, &u->st))
			return scan_fail(s, NULL, "out of memory");
		gpath = s->c->v[s->c->n - 1].path; /* now owned by the entry */
	}
	rc = scan_dir(s, ufd, lfd, gpath, opaque);
	if (kind == COLLECT_OTHER)
		free(gpath);
	return rc;
}

/* Classifies NAME of the upper directory U->dfd (guest directory GDIR). */
static int scan_entry(struct scan *s, const char *gdir, const char *name, int ufd, int lfd)
{
	struct side u = {.dfd = ufd, .exists = 1}, l = {.dfd = lfd};
	char *gpath = join_guest(gdir, name);

	if (!gpath)
		return scan_fail(s, NULL, "out of memory");
	if (fstatat(ufd, name, &u.st, AT_SYMLINK_NOFOLLOW) < 0) {
		scan_fail(s, gpath, "stat");
		free(gpath);
		return -1;
	}
	if (lower_stat(&l, name) < 0) {
		fail_path(s->err, s->errlen, s->lower_dir, gpath, "stat");
		free(gpath);
		return -1;
	}
	if (is_whiteout_dev(&u.st) || is_xattr_whiteout(ufd, name, &u.st))
		return add_deleted(s, gpath, &u, &l);
	if (S_ISREG(u.st.st_mode))
		return scan_file(s, gpath, name, &u, &l);
	if (S_ISDIR(u.st.st_mode))
		return scan_subdir(s, gpath, name, &u, &l);
	if (S_ISLNK(u.st.st_mode))
		return scan_symlink(s, gpath, name, &u, &l);
	return scan_other(s, gpath, &u, &l);
}

/* ---- directories ---- */

struct names {
	char **v;
	size_t n, cap;
};

static void names_free(struct names *ns)
{
	for (size_t i = 0; i < ns->n; i++)
		free(ns->v[i]);
	free(ns->v);
}

static int names_add(struct names *ns, const char *name)
{
	if (ns->n == ns->cap) {
		size_t cap = ns->cap ? 2 * ns->cap : 32;
		char **v = realloc(ns->v, cap * sizeof(*v));

		if (!v)
			return -1;
		ns->v = v;
		ns->cap = cap;
	}
	ns->v[ns->n] = strdup(name);
	return ns->v[ns->n] ? (int)++ns->n : -1;
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every name in directory DFD but "." and "..", sorted. 0 or -1 (errno). */
static int list_dir(int dfd, struct names *ns)
{
	int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;
	int rc = 0;

	if (!d) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	errno = 0;
	while (rc == 0 && (de = readdir(d))) {
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			rc = names_add(ns, de->d_name) < 0 ? -1 : 0;
		errno = 0;
	}
	if (errno)
		rc = -1;
	closedir(d);
	if (rc == 0 && ns->n)
		qsort(ns->v, ns->n, sizeof(*ns->v), cmp_name);
	return rc;
}

/*
 * Under an opaque directory the lower entries are hidden: every lower name
 * the upper directory does not have again was deleted by the guest.
 */
static int scan_hidden(struct scan *s, int lfd, const char *gdir, const struct names *upper)
{
	struct names lower = {0};
	int rc = 0;

	if (list_dir(lfd, &lower) < 0)
		rc = fail_path(s->err, s->errlen, s->lower_dir, gdir, "read directory");
	for (size_t i = 0; rc == 0 && i < lower.n; i++) {
		struct side u = {.dfd = -1}, l = {.dfd = lfd};
		char *gpath;

		if (upper->n &&
		    bsearch(&lower.v[i], upper->v, upper->n, sizeof(*upper->v), cmp_name))
			continue;
		gpath = join_guest(gdir, lower.v[i]);
		if (!gpath) {
			rc = scan_fail(s, NULL, "out of memory");
		} else if (lower_stat(&l, lower.v[i]) < 0) {
			rc = fail_path(s->err, s->errlen, s->lower_dir, gpath, "stat");
			free(gpath);
		} else if (!l.exists) {
			free(gpath); /* vanished: nothing left to hide */
		} else {
			rc = add_deleted(s, gpath, &u, &l);
		}
	}
	names_free(&lower);
	return rc;
}

/* Walks upper directory UFD (guest GDIR) against lower directory LFD (-1 = none). */
static int scan_dir(struct scan *s, int ufd, int lfd, const char *gdir, int hides_lower)
{
	struct names ns = {0};
	int rc = 0;

	if (++s->depth > MAX_DEPTH) {
		errno = ENAMETOOLONG;
		rc = scan_fail(s, gdir, "more than " STR(MAX_DEPTH) " nested directories");
		goto out;
	}
	if (list_dir(ufd, &ns) < 0) {
		rc = scan_fail(s, gdir, "read directory");
		goto out;
	}
	for (size_t i = 0; rc == 0 && i < ns.n; i++)
		rc = scan_entry(s, gdir, ns.v[i], ufd, lfd);
	if (rc == 0 && hides_lower && lfd >= 0)
		rc = scan_hidden(s, lfd, gdir, &ns);
out:
	names_free(&ns);
	s->depth--;
	return rc;
}

static int cmp_entry(const void *a, const void *b)
{
	return strcmp(((const struct collect_entry *)a)->path,
		      ((const struct collect_entry *)b)->path);
}

/* Walks upper root UFD against lower root LFD into a new, sorted collection. */
static int scan_roots(struct scan *s, int ufd, int lfd)
{
	int rc;

	s->c = calloc(1, sizeof(*s->c));
	s->buf = malloc(CHUNK);
	if (!s->c || !s->buf) {
		free(s->c);
		free(s->buf);
		s->c = NULL;
		s->buf = NULL;
		errno = ENOMEM;
		return fail_path(s->err, s->errlen, s->upper_dir, NULL, "scan");
	}
	rc = scan_dir(s, ufd, lfd, "", 0);
	free(s->buf);
	s->buf = NULL;
	if (rc < 0) {
		collection_free(s->c);
		s->c = NULL;
	} else if (s->c->n > 1) {
		qsort(s->c->v, s->c->n, sizeof(*s->c->v), cmp_entry);
	}
	return rc;
}

int collector_scan(const char *upper_dir, const char *lower_dir, struct collection **out, char *err,
		   size_t errlen)
{
	CLEANUP_FD int ufd = open(upper_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	CLEANUP_FD int lfd = -1;
	struct scan s = {
	    .upper_dir = upper_dir, .lower_dir = lower_dir, .err = err, .errlen = errlen};

	*out = NULL;
	if (ufd < 0)
		return fail_path(err, errlen, upper_dir, NULL, "open upper directory");
	lfd = open_lower_root(lower_dir);
	if (lfd < 0)
		return fail_path(err, errlen, lower_dir, NULL, "open lower directory");
	if (scan_roots(&s, ufd, lfd) < 0)
		return -1;
	*out = s.c;
	return 0;
}

/* ---- archive ---- */

struct zipw {
	struct archive *a;
	int fd;       /* the temporary file */
	int io_errno; /* first write error (see zip_write_cb) */
	const char *archive_path;
	unsigned char *buf;
	char *err;
	size_t errlen;
};

/* Opens PATH (modified in place) below ROOTFD one component at a time, never following a symlink.
 */
static int walk_open(int rootfd, char *path)
{
	char *save = NULL, *comp, *next;
	int dfd = -1, fd;

	comp = strtok_r(path, "/", &save);
	while (comp && (next = strtok_r(NULL, "/", &save))) {
		fd = openat(dfd < 0 ? rootfd : dfd, comp,
			    O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (dfd >= 0)
			close(dfd);
		if (fd < 0)
			return -1;
		dfd = fd;
		comp = next;
	}
	if (!comp) {
		if (dfd >= 0)
			close(dfd);
		errno = EINVAL;
		return -1;
	}
	fd = open_regular(dfd < 0 ? rootfd : dfd, comp);
	if (dfd >= 0)
		close(dfd);
	return fd;
}

/* Opens guest path GPATH below ROOTFD as a regular file. */
static int open_beneath(int rootfd, const char *gpath)
{
	char *copy = strdup(gpath);
	int fd;

	if (!copy)
		return -1;
	fd = walk_open(rootfd, copy);
	free(copy);
	return fd;
}

static int zip_fail(struct zipw *z, const char *name, const char *what)
{
	CLEANUP_FREE char *safe = util_escape_dup(name, strlen(name));
	const char *msg = z->io_errno ? strerror(z->io_errno) : archive_error_string(z->a);

	snprintf(z->err, z->errlen, "%s: %s %s: %s", z->archive_path, what, safe ? safe : "?",
		 msg ? msg : strerror(archive_errno(z->a) > 0 ? archive_errno(z->a) : EIO));
	return -1;
}

static int zip_header(struct zipw *z, const char *name, const struct stat *st, uint64_t size)
{
	struct archive_entry *ae = archive_entry_new();
	int rc;

	if (!ae)
		return zip_fail(z, name, "add");
	archive_entry_set_pathname(ae, name);
	archive_entry_set_filetype(ae, AE_IFREG);
	archive_entry_set_perm(ae, st->st_mode & 07777);
	archive_entry_set_uid(ae, st->st_uid);
	archive_entry_set_gid(ae, st->st_gid);
	archive_entry_set_size(ae, (la_int64_t)size);
	archive_entry_set_mtime(ae, st->st_mtim.tv_sec, st->st_mtim.tv_nsec);
	rc = archive_write_header(z->a, ae);
	archive_entry_free(ae);
	return rc == ARCHIVE_OK && !z->io_errno ? 0 : zip_fail(z, name, "write header of");
}

static int zip_data(struct zipw *z, const char *name, const void *p, size_t n)
{
	if (archive_write_data(z->a, p, n) != (la_ssize_t)n || z->io_errno)
		return zip_fail(z, name, "write");
	return 0;
}

/* Streams FD (a regular file, host path HOST for messages) as entry NAME. */
static int zip_fd(struct zipw *z, const char *name, int fd, const char *host)
{
	struct stat st;
	uint64_t left;
	ssize_t n;

	if (fstat(fd, &st) < 0)
		return fail_path(z->err, z->errlen, host, NULL, "stat");
	if (zip_header(z, name, &st, (uint64_t)st.st_size) < 0)
		return -1;
	for (left = (uint64_t)st.st_size; left > 0; left -= (uint64_t)n) {
		n = read(fd, z->buf, left < CHUNK ? (size_t)left : CHUNK);
		if (n < 0 && errno == EINTR) {
			n = 0;
			continue;
		}
		if (n <= 0) {
			if (n == 0)
				errno = EIO; /* shrank while archived */
			return fail_path(z->err, z->errlen, host, NULL, "read");
		}
		if (zip_data(z, name, z->buf, (size_t)n) < 0)
			return -1;
	}
	return 0;
}

/* Adds ROOT + GPATH (from ROOTFD) as PREFIX + GPATH without its leading '/'. */
static int zip_layer_file(struct zipw *z, int rootfd, const char *root, const char *prefix,
			  const char *gpath)
{
	CLEANUP_FREE char *name = NULL;
	CLEANUP_FREE char *host = NULL;
	CLEANUP_FD int fd = open_beneath(rootfd, gpath);

	if (asprintf(&host, "%s%s", root, gpath) < 0 ||
	    asprintf(&name, "%s%s", prefix, gpath + 1) < 0) {
		host = NULL; /* asprintf leaves it undefined on failure */
		errno = ENOMEM;
		return fail_path(z->err, z->errlen, z->archive_path, NULL, "write");
	}
	if (fd < 0)
		return fail_path(z->err, z->errlen, root, gpath, "open");
	return zip_fd(z, name, fd, host);
}

static int zip_entries(struct zipw *z, const struct collection *c, int ufd, int lfd,
		       const char *upper_dir, const char *lower_dir)
{
	for (size_t i = 0; i < c->n; i++) {
		const struct collect_entry *e = &c->v[i];
		int rc = 0;

		if (e->kind == COLLECT_CREATED || e->kind == COLLECT_MODIFIED ||
		    e->kind == COLLECT_ATTRIBUTES) {
			if (S_ISREG(e->mode))
				rc = zip_layer_file(z, ufd, upper_dir, "modified_files/", e->path);
		} else if (e->kind == COLLECT_DELETED && S_ISREG(e->mode)) {
			rc = zip_layer_file(z, lfd, lower_dir, "deleted_files/", e->path);
		}
		if (rc < 0)
			return -1;
	}
	return 0;
}

static int zip_pcap(struct zipw *z, const char *pcap_path)
{
	CLEANUP_FD int fd = -1;

	if (!pcap_path)
		return 0;
	fd = open(pcap_path, O_RDONLY | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return fail_path(z->err, z->errlen, pcap_path, NULL, "open");
	return zip_fd(z, path_basename(pcap_path), fd, pcap_path);
}

/* ---- manifest ---- */

static const char *type_name(mode_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG: return "file";
	case S_IFDIR: return "dir";
	case S_IFLNK: return "symlink";
	case S_IFIFO: return "fifo";
	case S_IFSOCK: return "socket";
	case S_IFBLK: return "blockdev";
	case S_IFCHR: return "chardev";
	default: return "unknown";
	}
}

/* A byte-safe JSON string for S (json null for NULL). */
static json_t *safe_string(const char *s)
{
	CLEANUP_FREE char *safe = NULL;

	if (!s)
		return json_null();
	safe = util_escape_dup(s, strlen(s));
	return safe ? json_string(safe) : NULL;
}

static json_t *manifest_entry(const struct collect_entry *e)
{
	char mode[16];

	snprintf(mode, sizeof(mode), "%04o", (unsigned)(e->mode & 07777));
	return json_pack("{s:s, s:o, s:s, s:I, s:s, s:s, s:I, s:I, s:o}", "kind",
			 collect_kind_name(e->kind), "path", safe_string(e->path), "type",
			 type_name(e->mode), "size", (json_int_t)e->size, "sha256", e->sha256,
			 "mode", mode, "uid", (json_int_t)e->uid, "gid", (json_int_t)e->gid,
			 "link_target", safe_string(e->link_target));
}

static json_t *manifest_json(const struct collection *c)
{
	json_t *root = json_object(), *entries = json_array(), *counts = json_object();
	size_t per_kind[ARRAY_SIZE(kind_names)] = {0};
	int bad = !root || !entries || !counts;

	for (size_t i = 0; !bad && i < c->n; i++) {
		bad = json_array_append_new(entries, manifest_entry(&c->v[i])) < 0;
		if ((unsigned)c->v[i].kind < ARRAY_SIZE(per_kind))
			per_kind[c->v[i].kind]++;
	}
	for (size_t k = 0; !bad && k < ARRAY_SIZE(kind_names); k++)
		bad = json_object_set_new(counts, kind_names[k],
					  json_integer((json_int_t)per_kind[k]));
	bad = bad || json_object_set_new(counts, "total", json_integer((json_int_t)c->n)) < 0;
	bad = bad || json_object_set(root, "entries", entries) < 0;
	bad = bad || json_object_set(root, "counts", counts) < 0;
	json_decref(entries);
	json_decref(counts);
	if (bad) {
		json_decref(root);
		return NULL;
	}
	return root;
}

static int zip_manifest(struct zipw *z, const struct collection *c)
{
	json_t *m = manifest_json(c);
	CLEANUP_FREE char *text = m ? json_dumps(m, JSON_INDENT(1)) : NULL;
	struct stat st = {.st_mode = S_IFREG | 0644};
	size_t len;

	json_decref(m);
	if (!text) {
		errno = ENOMEM;
		return fail_path(z->err, z->errlen, z->archive_path, NULL, "manifest.json");
	}
	len = strlen(text);
	st.st_mtim.tv_sec = time(NULL);
	if (zip_header(z, "manifest.json", &st, len) < 0)
		return -1;
	return zip_data(z, "manifest.json", text, len);
}

static int zip_all(struct zipw *z, const struct collection *c, const char *upper_dir,
		   const char *lower_dir, const char *pcap_path)
{
	CLEANUP_FD int ufd = open(upper_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	CLEANUP_FD int lfd = -1;

	if (ufd < 0)
		return fail_path(z->err, z->errlen, upper_dir, NULL, "open upper directory");
	lfd = open_lower_root(lower_dir);
	if (lfd < 0)
		return fail_path(z->err, z->errlen, lower_dir, NULL, "open lower directory");
	if (zip_entries(z, c, ufd, lfd, upper_dir, lower_dir) < 0 || zip_pcap(z, pcap_path) < 0 ||
	    zip_manifest(z, c) < 0)
		return -1;
	if (archive_write_close(z->a) != ARCHIVE_OK || z->io_errno)
		return zip_fail(z, "zip", "close");
	return 0;
}

/*
 * libarchive is handed writes that never fail: an I/O error is kept here and
 * reported by the next zip_* call.  A write error inside libarchive would
 * leave its zip writer in the FATAL state, from which archive_write_free()
 * does not release the entry's deflate stream.
 */
static la_ssize_t zip_write_cb(struct archive *a, void *ctx, const void *data, size_t len)
{
	struct zipw *z = ctx;
	const char *p = data;
	size_t left = len;

	(void)a;
	while (!z->io_errno && left > 0) {
		ssize_t n = write(z->fd, p, left);

		if (n < 0 && errno != EINTR)
			z->io_errno = errno;
		if (n > 0) {
			p += n;
			left -= (size_t)n;
		}
	}
	return (la_ssize_t)len;
}

static int zip_open(struct zipw *z)
{
	z->a = archive_write_new();
	if (!z->a) {
		errno = ENOMEM;
		return fail_path(z->err, z->errlen, z->archive_path, NULL, "archive_write_new");
	}
	if (archive_write_set_format_zip(z->a) != ARCHIVE_OK ||
	    archive_write_set_bytes_in_last_block(z->a, 1) != ARCHIVE_OK ||
	    archive_write_open(z->a, z, NULL, zip_write_cb, NULL) != ARCHIVE_OK)
		return zip_fail(z, "zip", "open");
	return 0;
}

/*
 * Written to a temporary name next to ARCHIVE_PATH and renamed into place
 * on success, so a failure never leaves a partial (or clobbered) archive.
 */
int collector_write_archive(const struct collection *c, const char *upper_dir,
			    const char *lower_dir, const char *pcap_path, const char *archive_path,
			    char *err, size_t errlen)
{
	CLEANUP_FREE char *tmp = NULL;
	CLEANUP_FD int fd = -1;
	struct zipw z = {.archive_path = archive_path, .err = err, .errlen = errlen};
	int rc;

	if (!c || asprintf(&tmp, "%s.XXXXXX", archive_path) < 0) {
		tmp = NULL;
		errno = c ? ENOMEM : EINVAL;
		return fail_path(err, errlen, archive_path, NULL, "write archive");
	}
	fd = z.fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return fail_path(err, errlen, archive_path, NULL, "create");
	z.buf = malloc(CHUNK);
	rc = z.buf ? zip_open(&z) : fail_path(err, errlen, archive_path, NULL, "out of memory");
	if (rc == 0)
		rc = zip_all(&z, c, upper_dir, lower_dir, pcap_path);
	if (z.a)
		archive_write_free(z.a);
	free(z.buf);
	if (rc == 0 && fsync(fd) < 0)
		rc = fail_path(err, errlen, archive_path, NULL, "fsync");
	if (rc == 0 && rename(tmp, archive_path) < 0)
		rc = fail_path(err, errlen, archive_path, NULL, "rename into place");
	if (rc < 0)
		unlink(tmp);
	return rc;
}
