/*
 * fanwatch.c - see fanwatch.h and docs/collection.md ("fanotify").
 *
 * What overlayfs does on the upper tmpfs (kernel 6.x), and how it is read:
 *
 *   guest action                 events on the tmpfs               reported
 *   create/write an upper file   CREATE/MODIFY/CLOSE_WRITE upper/p  CREATE, WRITE
 *   modify a lower file          events on an O_TMPFILE in work/,   WRITE
 *     (copy-up)                  then CREATE upper/p (a link) with
 *                                the same file handle
 *   delete a lower file          RENAME work/#N -> upper/p where    DELETE
 *                                the object is a char device 0/0
 *   mkdir over a whiteout        RENAME work/#N -> upper/p (dir),   MKDIR
 *                                exchanged: the whiteout goes to work/
 *   rmdir of a merged directory  the same, but a directory goes     DELETE
 *                                back to work/; then a whiteout
 *   copy-up of a directory       RENAME work/#N -> upper/p (dir)    -
 *
 * Directory ATTRIB events are not reported: overlayfs itself sets times and
 * xattrs on directories during copy-up, indistinguishable from the guest's.
 */
#include "guest/fanwatch.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fanotify.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "common/util.h"

#define READ_BUF    (64 * 1024)
#define MAX_ROUNDS  64 /* reads per fanwatch_read: bounded under a flood */
#define CACHE_SLOTS 1024
#define WORKSET     64

/* events that come between the two halves of an exchange */
#define QUIET_MASK (FAN_MOVED_FROM | FAN_MOVED_TO | FAN_ONDIR | FAN_DELETE_SELF)

#define WATCH_MASK                                                                                 \
	(FAN_CREATE | FAN_DELETE | FAN_MODIFY | FAN_CLOSE_WRITE | FAN_MOVED_FROM | FAN_MOVED_TO |  \
	 FAN_RENAME | FAN_ATTRIB | FAN_DELETE_SELF | FAN_ONDIR)

/* A copy of a file handle from an info record. */
struct fhandle {
	int type;
	unsigned len; /* 0: empty */
	unsigned char b[MAX_HANDLE_SZ];
};

/* One FID-family info record. */
struct rec {
	int present;
	struct fhandle h;
	const char *name; /* NUL-terminated inside the read buffer; NULL without a name */
};

/* The records of one event. */
struct parsed {
	struct rec dir;      /* DFID_NAME or DFID */
	struct rec old, new; /* FAN_RENAME */
	struct rec obj;      /* FID: the object itself */
};

struct dir_slot {
	struct fhandle h;
	char *path; /* host path */
};

enum where {
	W_OTHER,
	W_UPPER,
	W_WORK
};

struct fanwatch {
	int fd, mount_fd;
	pid_t ignore_pid;
	char *upper, *work; /* canonical host paths */
	size_t upper_len, work_len;
	uint64_t overflows, unresolved;
	struct dir_slot cache[CACHE_SLOTS];
	struct fhandle workset[WORKSET]; /* objects seen in work/ not yet published */
	unsigned workset_next;
	char *pending; /* directory moved into upper/ (see resolve_pending) */
	uint32_t pending_pid;
	struct {
		int valid;
		enum fanwatch_action action;
		uint32_t pid;
		char *path, *path2;
	} last;
	fanwatch_fn fn;
	void *ctx;
	int delivered;
	unsigned char buf[READ_BUF] __attribute__((aligned(8)));
};

/* ---- handles ---- */

static int handle_eq(const struct fhandle *a, const struct fhandle *b)
{
	return a->len && a->len == b->len && a->type == b->type && !memcmp(a->b, b->b, a->len);
}

static unsigned handle_hash(const struct fhandle *h)
{
	uint32_t x = 2166136261u ^ (uint32_t)h->type;

	for (unsigned i = 0; i < h->len; i++)
		x = (x ^ h->b[i]) * 16777619u;
	return x % CACHE_SLOTS;
}

static int open_handle(const struct fanwatch *w, const struct fhandle *h, int flags)
{
	union {
		struct file_handle fh;
		unsigned char raw[sizeof(struct file_handle) + MAX_HANDLE_SZ];
	} u;

	u.fh.handle_bytes = h->len;
	u.fh.handle_type = h->type;
	memcpy(u.fh.f_handle, h->b, h->len);
	return open_by_handle_at(w->mount_fd, &u.fh, flags | O_CLOEXEC);
}

static void workset_add(struct fanwatch *w, const struct fhandle *h)
{
	for (unsigned i = 0; i < WORKSET; i++)
		if (handle_eq(&w->workset[i], h))
			return;
	w->workset[w->workset_next++ % WORKSET] = *h;
}

/* 1 if H was seen in work/ (and forgets it). */
static int workset_take(struct fanwatch *w, const struct fhandle *h)
{
	for (unsigned i = 0; i < WORKSET; i++) {
		if (handle_eq(&w->workset[i], h)) {
			w->workset[i].len = 0;
			return 1;
		}
	}
	return 0;
}

/* ---- directory paths ---- */

/*
 * Directory handle -> host path.  Filled from readlink of /proc/self/fd and,
 * above all, from the events themselves (a directory's handle and its new
 * name come with every mkdir and rename), so events read after their
 * directory was removed still resolve.
 */
static struct dir_slot *cache_slot(struct fanwatch *w, const struct fhandle *h)
{
	return &w->cache[handle_hash(h)];
}

static void cache_put(struct fanwatch *w, const struct fhandle *h, const char *path)
{
	struct dir_slot *slot = cache_slot(w, h);
	char *copy = strdup(path);

	if (!copy)
		return;
	free(slot->path);
	slot->h = *h;
	slot->path = copy;
}

/* Below FROM + "/": REWRITE ? moved below TO : forgotten. */
static void cache_move_below(struct fanwatch *w, const char *from, const char *to, int rewrite)
{
	size_t len = strlen(from);

	for (unsigned i = 0; i < CACHE_SLOTS; i++) {
		char *p = w->cache[i].path, *moved = NULL;

		if (!p || strncmp(p, from, len) != 0 || p[len] != '/')
			continue;
		if (rewrite && asprintf(&moved, "%s%s", to, p + len) < 0)
			moved = NULL;
		free(p);
		w->cache[i].path = moved;
	}
}

/* Host path of an O_PATH fd (malloc'ed); *GONE = 1 if it was unlinked. */
static char *fd_path(int fd, int *gone)
{
	static const char suffix[] = " (deleted)";
	char link[64], buf[PATH_MAX];
	struct stat st;
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, buf, sizeof(buf));
	if (n <= 0 || (size_t)n >= sizeof(buf) || fstat(fd, &st) < 0)
		return NULL;
	buf[n] = '\0';
	*gone = st.st_nlink == 0;
	if (*gone && (size_t)n >= sizeof(suffix) - 1 &&
	    strcmp(buf + n - (sizeof(suffix) - 1), suffix) == 0)
		buf[n - (sizeof(suffix) - 1)] = '\0';
	return strdup(buf);
}

/* Host path of directory handle H (malloc'ed), or NULL. */
static char *resolve_dir(struct fanwatch *w, const struct fhandle *h)
{
	struct dir_slot *slot = cache_slot(w, h);
	CLEANUP_FD int fd = -1;
	char *path;
	int gone = 0;

	if (slot->path && handle_eq(&slot->h, h))
		return strdup(slot->path);
	fd = open_handle(w, h, O_PATH);
	if (fd < 0)
		return NULL;
	path = fd_path(fd, &gone);
	if (path && !gone)
		cache_put(w, h, path);
	return path;
}

/* Where an event's entry is: host path, and guest path when in upper/. */
struct loc {
	enum where where;
	char *host;  /* directory + "/" + name */
	char *guest; /* W_UPPER only */
};

static void loc_free(struct loc *l)
{
	free(l->host);
	free(l->guest);
}

static int under(const char *path, const char *dir, size_t len)
{
	return !strncmp(path, dir, len) && (!path[len] || path[len] == '/');
}

/* Fills L for the entry of record R (directory handle + name). */
static void locate(struct fanwatch *w, const struct rec *r, struct loc *l)
{
	CLEANUP_FREE char *dir = resolve_dir(w, &r->h);
	int self = !r->name || !*r->name || !strcmp(r->name, ".");
	const char *rest;

	memset(l, 0, sizeof(*l));
	if (!dir) {
		w->unresolved++;
		return;
	}
	if (self ? !(l->host = strdup(dir)) : asprintf(&l->host, "%s/%s", dir, r->name) < 0) {
		l->host = NULL;
		return;
	}
	if (under(l->host, w->work, w->work_len)) {
		l->where = W_WORK;
	} else if (under(l->host, w->upper, w->upper_len)) {
		rest = l->host + w->upper_len;
		l->guest = strdup(*rest ? rest : "/");
		l->where = l->guest ? W_UPPER : W_OTHER;
	}
}

/* Type of the event's object, from its file handle. 0 or -1 (gone). */
static int object_stat(struct fanwatch *w, const struct parsed *p, struct stat *st)
{
	CLEANUP_FD int fd = p->obj.present ? open_handle(w, &p->obj.h, O_PATH) : -1;

	return fd >= 0 ? fstat(fd, st) : -1;
}

static int is_whiteout(const struct stat *st)
{
	return S_ISCHR(st->st_mode) && st->st_rdev == makedev(0, 0);
}

/* ---- delivery ---- */

static int same_as_last(const struct fanwatch *w, enum fanwatch_action a, uint32_t pid,
			const char *path, const char *path2)
{
	return w->last.valid && w->last.action == a && w->last.pid == pid &&
	       !strcmp(w->last.path, path) &&
	       (path2 ? w->last.path2 && !strcmp(w->last.path2, path2) : !w->last.path2);
}

static void forget_last(struct fanwatch *w)
{
	free(w->last.path);
	free(w->last.path2);
	w->last.path = w->last.path2 = NULL;
	w->last.valid = 0;
}

/* Calls the callback, merging an event identical to the one just delivered. */
static void emit(struct fanwatch *w, enum fanwatch_action a, uint32_t pid, const char *path,
		 const char *path2)
{
	struct fanwatch_event ev = {.action = a, .pid = pid, .path = path, .path2 = path2};

	if (!path || same_as_last(w, a, pid, path, path2))
		return;
	forget_last(w);
	w->last.path = strdup(path);
	w->last.path2 = path2 ? strdup(path2) : NULL;
	w->last.valid = w->last.path && (!path2 || w->last.path2);
	w->last.action = a;
	w->last.pid = pid;
	w->fn(&ev, w->ctx);
	w->delivered++;
}

/* ---- event handling ---- */

/*
 * A directory moved from work/ into upper/ is a copy-up, unless the same
 * process's next rename moves what was at that path back into work/ (an
 * exchange): a whiteout going out means mkdir over a deleted directory; a
 * directory going out is rmdir's clearing of a merged directory.
 */
static void resolve_pending(struct fanwatch *w, uint64_t mask, const struct loc *from,
			    const struct loc *to)
{
	char *path = steal_ptr(&w->pending);

	if (from && from->where == W_UPPER && to->where == W_WORK && !strcmp(from->guest, path) &&
	    !(mask & FAN_ONDIR))
		emit(w, FANWATCH_MKDIR, w->pending_pid, path, NULL);
	free(path);
}

/* Something moved from work/ into upper/ at TO: overlayfs published it. */
static void publish(struct fanwatch *w, uint64_t mask, uint32_t pid, const struct parsed *p,
		    const struct loc *to)
{
	struct stat st;

	if (p->obj.present)
		workset_take(w, &p->obj.h);
	if (mask & FAN_ONDIR) {
		free(w->pending);
		w->pending = strdup(to->guest);
		w->pending_pid = pid;
	} else if (object_stat(w, p, &st) == 0 && is_whiteout(&st)) {
		emit(w, FANWATCH_DELETE, pid, to->guest, NULL);
	} else {
		emit(w, FANWATCH_WRITE, pid, to->guest, NULL); /* re-created over a whiteout */
	}
}

static void handle_rename(struct fanwatch *w, uint64_t mask, uint32_t pid, const struct parsed *p)
{
	struct loc from, to;

	if (!p->old.present || !p->new.present) {
		w->unresolved++;
		return;
	}
	locate(w, &p->old, &from);
	locate(w, &p->new, &to);
	if (w->pending && w->pending_pid == pid)
		resolve_pending(w, mask, &from, &to);
	if ((mask & FAN_ONDIR) && from.host && to.host) {
		int both_upper = from.where == W_UPPER && to.where == W_UPPER;

		cache_move_below(w, from.host, to.host, both_upper);
		if (p->obj.present)
			cache_put(w, &p->obj.h, to.host);
	}
	if (from.where == W_UPPER && to.where == W_UPPER)
		emit(w, FANWATCH_RENAME, pid, from.guest, to.guest);
	else if (from.where == W_WORK && to.where == W_UPPER)
		publish(w, mask, pid, p, &to);
	loc_free(&from);
	loc_free(&to);
}

/* A non-directory entry event in upper/ at GPATH. */
static void file_event(struct fanwatch *w, uint64_t mask, uint32_t pid, const struct parsed *p,
		       const char *gpath)
{
	struct stat st;

	if (mask & FAN_CREATE) {
		if (p->obj.present && workset_take(w, &p->obj.h))
			emit(w, FANWATCH_WRITE, pid, gpath, NULL); /* copied up via O_TMPFILE */
		else if (object_stat(w, p, &st) == 0 && is_whiteout(&st))
			emit(w, FANWATCH_DELETE, pid, gpath, NULL);
		else
			emit(w, FANWATCH_CREATE, pid, gpath, NULL);
	}
	if (mask & (FAN_MODIFY | FAN_CLOSE_WRITE))
		emit(w, FANWATCH_WRITE, pid, gpath, NULL);
	if (mask & FAN_ATTRIB)
		emit(w, FANWATCH_ATTRIB, pid, gpath, NULL);
	if (mask & FAN_DELETE)
		emit(w, FANWATCH_DELETE, pid, gpath, NULL);
}

static void handle_entry(struct fanwatch *w, uint64_t mask, uint32_t pid, const struct parsed *p)
{
	struct loc l;

	locate(w, &p->dir, &l);
	if ((mask & FAN_ONDIR) && (mask & FAN_CREATE) && p->obj.present && l.host)
		cache_put(w, &p->obj.h, l.host); /* learn the new directory's path */
	if (l.where == W_WORK && (mask & (FAN_CREATE | FAN_MODIFY | FAN_ATTRIB)) && p->obj.present)
		workset_add(w, &p->obj.h);
	if (l.where == W_UPPER && !(mask & FAN_ONDIR))
		file_event(w, mask, pid, p, l.guest);
	if (l.where == W_UPPER && (mask & FAN_ONDIR) && (mask & FAN_CREATE))
		emit(w, FANWATCH_MKDIR, pid, l.guest, NULL);
	if (l.where == W_UPPER && (mask & FAN_ONDIR) && (mask & FAN_DELETE))
		emit(w, FANWATCH_RMDIR, pid, l.guest, NULL);
	loc_free(&l);
}

/*
 * Worth locating: entry changes, and file attributes.  Directory ATTRIB is
 * not reported (overlayfs sets times and xattrs on directories itself);
 * MOVED_FROM/MOVED_TO duplicate FAN_RENAME; DELETE_SELF duplicates DELETE.
 */
static int interesting(uint64_t mask)
{
	uint64_t m = mask & (FAN_CREATE | FAN_DELETE | FAN_MODIFY | FAN_CLOSE_WRITE | FAN_ATTRIB);

	if (mask & FAN_ONDIR)
		m &= ~(uint64_t)FAN_ATTRIB;
	return m != 0;
}

/* ---- parsing ---- */

/* Reads one FID-family record of LEN bytes at P into R. 0 or -1 (malformed). */
static int parse_fid(const unsigned char *p, size_t len, int named, struct rec *r)
{
	const size_t hoff = sizeof(struct fanotify_event_info_fid);
	const size_t doff = hoff + sizeof(struct file_handle);
	struct file_handle fh;

	if (len < doff)
		return -1;
	memcpy(&fh, p + hoff, sizeof(fh));
	if (fh.handle_bytes == 0 || fh.handle_bytes > MAX_HANDLE_SZ || fh.handle_bytes > len - doff)
		return -1;
	r->h.type = fh.handle_type;
	r->h.len = fh.handle_bytes;
	memcpy(r->h.b, p + doff, fh.handle_bytes);
	r->name = NULL;
	if (named) {
		const unsigned char *name = p + doff + fh.handle_bytes;

		if (!memchr(name, '\0', len - doff - fh.handle_bytes))
			return -1;
		r->name = (const char *)name;
	}
	r->present = 1;
	return 0;
}

/* Walks the info records after an event's metadata. 0 or -1 (malformed). */
static int parse_info(const unsigned char *p, size_t len, struct parsed *out)
{
	struct fanotify_event_info_header hdr;

	while (len > 0) {
		struct rec *r = NULL;
		int named;

		if (len < sizeof(hdr))
			return -1;
		memcpy(&hdr, p, sizeof(hdr));
		if (hdr.len < sizeof(hdr) || hdr.len > len)
			return -1;
		switch (hdr.info_type) {
		case FAN_EVENT_INFO_TYPE_DFID_NAME:
		case FAN_EVENT_INFO_TYPE_DFID: r = &out->dir; break;
		case FAN_EVENT_INFO_TYPE_OLD_DFID_NAME: r = &out->old; break;
		case FAN_EVENT_INFO_TYPE_NEW_DFID_NAME: r = &out->new; break;
		case FAN_EVENT_INFO_TYPE_FID: r = &out->obj; break;
		default: break; /* unknown records are skipped */
		}
		named = hdr.info_type == FAN_EVENT_INFO_TYPE_DFID_NAME ||
			hdr.info_type == FAN_EVENT_INFO_TYPE_OLD_DFID_NAME ||
			hdr.info_type == FAN_EVENT_INFO_TYPE_NEW_DFID_NAME;
		if (r && parse_fid(p, hdr.len, named, r) < 0)
			return -1;
		p += hdr.len;
		len -= hdr.len;
	}
	return 0;
}

static void handle_event(struct fanwatch *w, const struct fanotify_event_metadata *md,
			 const unsigned char *info, size_t len)
{
	struct parsed p;
	uint32_t pid = (uint32_t)md->pid;

	if (md->mask & FAN_Q_OVERFLOW) {
		w->overflows++;
		return;
	}
	if (w->ignore_pid > 0 && md->pid == w->ignore_pid)
		return;
	memset(&p, 0, sizeof(p));
	if (parse_info(info, len, &p) < 0) {
		w->unresolved++;
		return;
	}
	if (md->mask & FAN_RENAME) {
		handle_rename(w, md->mask, pid, &p);
		return;
	}
	if (w->pending && w->pending_pid == pid && (md->mask & ~QUIET_MASK))
		resolve_pending(w, md->mask, NULL, NULL);
	/* FID alone: a link count change or DELETE_SELF; the entry events say more */
	if (p.dir.present && interesting(md->mask))
		handle_entry(w, md->mask, pid, &p);
}

/* Handles the N bytes of events in the read buffer. */
static void handle_buffer(struct fanwatch *w, size_t n)
{
	size_t off = 0;

	while (n - off >= FAN_EVENT_METADATA_LEN) {
		struct fanotify_event_metadata md;

		/* events are only 4-byte aligned in the buffer: copy before use */
		memcpy(&md, w->buf + off, sizeof(md));
		if (!FAN_EVENT_OK(&md, (long)(n - off)) || md.vers != FANOTIFY_METADATA_VERSION ||
		    md.metadata_len < FAN_EVENT_METADATA_LEN || md.metadata_len > md.event_len)
			break;
		if (md.fd >= 0)
			close(md.fd);
		handle_event(w, &md, w->buf + off + md.metadata_len,
			     md.event_len - md.metadata_len);
		off += md.event_len;
	}
}

int fanwatch_read(struct fanwatch *w, fanwatch_fn fn, void *ctx)
{
	int rc = 0;

	w->fn = fn;
	w->ctx = ctx;
	w->delivered = 0;
	for (int round = 0; round < MAX_ROUNDS; round++) {
		ssize_t n = read(w->fd, w->buf, sizeof(w->buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN)
			rc = -1;
		if (n <= 0)
			break;
		handle_buffer(w, (size_t)n);
	}
	forget_last(w);
	return rc < 0 ? -1 : w->delivered;
}

/* ---- setup ---- */

/* Canonical path of SUB (relative to BASE unless absolute) on BASE's file system. */
static char *canonical_sub(const char *base, const char *sub, const struct stat *bst, char *err,
			   size_t errlen)
{
	CLEANUP_FREE char *joined = NULL;
	struct stat st;
	char *real;

	if (asprintf(&joined, "%s/%s", base, sub) < 0) {
		joined = NULL;
		snprintf(err, errlen, "%s: out of memory", sub);
		return NULL;
	}
	real = realpath(sub[0] == '/' ? sub : joined, NULL);
	if (!real || stat(real, &st) < 0) {
		snprintf(err, errlen, "%s: resolve: %s", sub[0] == '/' ? sub : joined,
			 strerror(errno));
		free(real);
		return NULL;
	}
	if (st.st_dev != bst->st_dev) {
		snprintf(err, errlen, "%s: not on the file system mounted at %s", real, base);
		free(real);
		return NULL;
	}
	return real;
}

/* fanotify_init, dropping FAN_REPORT_TARGET_FID and then FAN_UNLIMITED_QUEUE if refused. */
static int init_fanotify(void)
{
	const unsigned base =
	    FAN_CLASS_NOTIF | FAN_CLOEXEC | FAN_NONBLOCK | FAN_REPORT_DFID_NAME | FAN_REPORT_FID;
	const unsigned tries[] = {
	    base | FAN_REPORT_TARGET_FID | FAN_UNLIMITED_QUEUE,
	    base | FAN_REPORT_TARGET_FID,
	    base | FAN_UNLIMITED_QUEUE,
	    base,
	};
	int fd = -1;

	for (size_t i = 0; i < ARRAY_SIZE(tries) && fd < 0; i++) {
		fd = fanotify_init(tries[i], O_RDONLY | O_LARGEFILE);
		if (fd < 0 && errno != EINVAL && errno != EPERM)
			break;
	}
	return fd;
}

static int watch_setup(struct fanwatch *w, const char *tmpfs_dir, char *err, size_t errlen)
{
	w->fd = init_fanotify();
	if (w->fd < 0) {
		snprintf(err, errlen, "%s: fanotify_init: %s", tmpfs_dir, strerror(errno));
		return -1;
	}
	if (fanotify_mark(w->fd, FAN_MARK_ADD | FAN_MARK_FILESYSTEM, WATCH_MASK, AT_FDCWD,
			  tmpfs_dir) < 0) {
		snprintf(err, errlen, "%s: fanotify_mark: %s", tmpfs_dir, strerror(errno));
		return -1;
	}
	w->mount_fd = open(tmpfs_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (w->mount_fd < 0) {
		snprintf(err, errlen, "%s: open: %s", tmpfs_dir, strerror(errno));
		return -1;
	}
	return 0;
}

int fanwatch_open(const char *tmpfs_dir, const char *upper, const char *work, pid_t ignore_pid,
		  struct fanwatch **out, char *err, size_t errlen)
{
	struct fanwatch *w = calloc(1, sizeof(*w));
	struct stat bst;

	*out = NULL;
	if (!w) {
		snprintf(err, errlen, "%s: out of memory", tmpfs_dir);
		return -1;
	}
	w->fd = w->mount_fd = -1;
	w->ignore_pid = ignore_pid;
	if (stat(tmpfs_dir, &bst) < 0) {
		snprintf(err, errlen, "%s: stat: %s", tmpfs_dir, strerror(errno));
		fanwatch_close(w);
		return -1;
	}
	w->upper = canonical_sub(tmpfs_dir, upper, &bst, err, errlen);
	w->work = w->upper ? canonical_sub(tmpfs_dir, work, &bst, err, errlen) : NULL;
	if (!w->work || watch_setup(w, tmpfs_dir, err, errlen) < 0) {
		fanwatch_close(w);
		return -1;
	}
	w->upper_len = strlen(w->upper);
	w->work_len = strlen(w->work);
	*out = w;
	return 0;
}

int fanwatch_fd(const struct fanwatch *w)
{
	return w->fd;
}

uint64_t fanwatch_overflows(const struct fanwatch *w)
{
	return w->overflows;
}

uint64_t fanwatch_unresolved(const struct fanwatch *w)
{
	return w->unresolved;
}

void fanwatch_close(struct fanwatch *w)
{
	if (!w)
		return;
	if (w->fd >= 0)
		close(w->fd);
	if (w->mount_fd >= 0)
		close(w->mount_fd);
	for (unsigned i = 0; i < CACHE_SLOTS; i++)
		free(w->cache[i].path);
	forget_last(w);
	free(w->pending);
	free(w->upper);
	free(w->work);
	free(w);
}
