/*
 * test_fanwatch.c - end to end: a real overlay (lower directory, tmpfs with
 * upper/ and work/), fanwatch on the tmpfs, and a forked child changing
 * files through the merged view, with plain syscalls and with io_uring
 * (raw io_uring_setup/io_uring_enter: work the syscall tracepoints never
 * see).  Checks each change arrives once as the guest sees it, with the
 * child's pid, and that the watcher's own pid is ignored.  Needs root.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <ftw.h>
#include <linux/io_uring.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <time.h>

#include "e2e.h"
#include "guest/fanwatch.h"

static char base[64], lower[128], tmpfs[128], merged[128];
static int mounted_tmpfs, mounted_ovl;
static struct fanwatch *watch; /* of the running test, closed by teardown */
static struct log *events;

struct seen {
	enum fanwatch_action action;
	uint32_t pid;
	char *path, *path2;
};

struct log {
	struct seen v[512];
	size_t n;
};

static const char *action_name(enum fanwatch_action a)
{
	static const char *const names[] = {"create", "write", "delete", "rename",
					    "attrib", "mkdir", "rmdir"};

	return (unsigned)a < sizeof(names) / sizeof(names[0]) ? names[a] : "?";
}

static void record(const struct fanwatch_event *ev, void *ctx)
{
	struct log *log = ctx;
	struct seen *s;

	if (log->n == sizeof(log->v) / sizeof(log->v[0]))
		return;
	s = &log->v[log->n++];
	s->action = ev->action;
	s->pid = ev->pid;
	s->path = strdup(ev->path);
	s->path2 = ev->path2 ? strdup(ev->path2) : NULL;
}

static void log_free(struct log *log)
{
	for (size_t i = 0; i < log->n; i++) {
		free(log->v[i].path);
		free(log->v[i].path2);
	}
	log->n = 0;
}

static void log_print(const struct log *log)
{
	for (size_t i = 0; i < log->n; i++)
		print_message("  %-6s pid %u %s%s%s\n", action_name(log->v[i].action),
			      log->v[i].pid, log->v[i].path, log->v[i].path2 ? " -> " : "",
			      log->v[i].path2 ? log->v[i].path2 : "");
}

static size_t count(const struct log *log, enum fanwatch_action a, const char *path)
{
	size_t n = 0;

	for (size_t i = 0; i < log->n; i++)
		n += log->v[i].action == a && strcmp(log->v[i].path, path) == 0;
	return n;
}

/* The one event (A, PATH); fails unless there is exactly one and it is PID's. */
static const struct seen *expect_one(const struct log *log, enum fanwatch_action a,
				     const char *path, pid_t pid)
{
	const struct seen *found = NULL;

	for (size_t i = 0; i < log->n; i++)
		if (log->v[i].action == a && strcmp(log->v[i].path, path) == 0)
			found = &log->v[i];
	if (!found || count(log, a, path) != 1) {
		log_print(log);
		fail_msg("expected one %s %s, got %zu", action_name(a), path, count(log, a, path));
		return NULL;
	}
	assert_int_equal(found->pid, pid);
	return found;
}

/* ---- raw io_uring: one request at a time ---- */

struct ring {
	int fd;
	void *sq, *cq;
	size_t sq_len, cq_len;
	struct io_uring_sqe *sqes;
	size_t sqes_len;
	struct io_uring_params p;
};

static int ring_open(struct ring *r)
{
	memset(r, 0, sizeof(*r));
	r->fd = (int)syscall(SYS_io_uring_setup, 4, &r->p);
	if (r->fd < 0)
		return -1;
	r->sq_len = r->p.sq_off.array + r->p.sq_entries * sizeof(unsigned);
	r->cq_len = r->p.cq_off.cqes + r->p.cq_entries * sizeof(struct io_uring_cqe);
	r->sqes_len = r->p.sq_entries * sizeof(struct io_uring_sqe);
	r->sq = mmap(NULL, r->sq_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, r->fd,
		     IORING_OFF_SQ_RING);
	r->cq = mmap(NULL, r->cq_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, r->fd,
		     IORING_OFF_CQ_RING);
	r->sqes = mmap(NULL, r->sqes_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, r->fd,
		       IORING_OFF_SQES);
	return r->sq == MAP_FAILED || r->cq == MAP_FAILED || r->sqes == MAP_FAILED ? -1 : 0;
}

#define RING_U32(base, off) ((unsigned *)((char *)(base) + (off)))

/* Submits SQE and waits for its completion; returns cqe->res. */
static int ring_do(struct ring *r, const struct io_uring_sqe *sqe)
{
	unsigned tail = __atomic_load_n(RING_U32(r->sq, r->p.sq_off.tail), __ATOMIC_ACQUIRE);
	unsigned mask = *RING_U32(r->sq, r->p.sq_off.ring_mask);
	unsigned head, cmask = *RING_U32(r->cq, r->p.cq_off.ring_mask);
	struct io_uring_cqe *cqes = (void *)((char *)r->cq + r->p.cq_off.cqes);
	int res;

	r->sqes[tail & mask] = *sqe;
	RING_U32(r->sq, r->p.sq_off.array)[tail & mask] = tail & mask;
	__atomic_store_n(RING_U32(r->sq, r->p.sq_off.tail), tail + 1, __ATOMIC_RELEASE);
	if (syscall(SYS_io_uring_enter, r->fd, 1, 1, IORING_ENTER_GETEVENTS, NULL, 0) < 0)
		return -errno;
	head = __atomic_load_n(RING_U32(r->cq, r->p.cq_off.head), __ATOMIC_ACQUIRE);
	res = cqes[head & cmask].res;
	__atomic_store_n(RING_U32(r->cq, r->p.cq_off.head), head + 1, __ATOMIC_RELEASE);
	return res;
}

static void ring_close(struct ring *r)
{
	munmap(r->sq, r->sq_len);
	munmap(r->cq, r->cq_len);
	munmap(r->sqes, r->sqes_len);
	close(r->fd);
}

/* Creates PATH and writes TEXT into it, all through io_uring. 0 or -1. */
static int uring_write_file(const char *path, const char *text)
{
	struct ring r;
	struct io_uring_sqe sqe;
	int fd, rc;

	if (ring_open(&r) < 0)
		return -1;
	memset(&sqe, 0, sizeof(sqe));
	sqe.opcode = IORING_OP_OPENAT;
	sqe.fd = AT_FDCWD;
	sqe.addr = (uintptr_t)path;
	sqe.open_flags = O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC;
	sqe.len = 0644;
	fd = ring_do(&r, &sqe);
	memset(&sqe, 0, sizeof(sqe));
	sqe.opcode = IORING_OP_WRITE;
	sqe.fd = fd;
	sqe.addr = (uintptr_t)text;
	sqe.len = (unsigned)strlen(text);
	rc = fd >= 0 ? ring_do(&r, &sqe) : -1;
	memset(&sqe, 0, sizeof(sqe));
	sqe.opcode = IORING_OP_CLOSE;
	sqe.fd = fd;
	if (fd >= 0)
		ring_do(&r, &sqe);
	ring_close(&r);
	return rc == (int)strlen(text) ? 0 : -1;
}

/* ---- overlay ---- */

static int rm_tree_cb(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p) < 0 && errno != ENOENT ? -1 : 0;
}

static int teardown(void **state)
{
	(void)state;
	fanwatch_close(watch);
	watch = NULL;
	if (events)
		log_free(events);
	free(events);
	events = NULL;
	if (mounted_ovl)
		umount2(merged, MNT_DETACH);
	if (mounted_tmpfs)
		umount2(tmpfs, MNT_DETACH);
	mounted_ovl = mounted_tmpfs = 0;
	if (base[0])
		nftw(base, rm_tree_cb, 16, FTW_DEPTH | FTW_PHYS);
	base[0] = '\0';
	return 0;
}

static int setup(void **state)
{
	char dir[256], opts[512];

	(void)state;
	if (geteuid() != 0)
		return 0;
	snprintf(base, sizeof(base), "/tmp/capture-fanwatch.XXXXXX");
	if (!mkdtemp(base))
		return -1;
	snprintf(lower, sizeof(lower), "%s/lower", base);
	snprintf(tmpfs, sizeof(tmpfs), "%s/t", base);
	snprintf(merged, sizeof(merged), "%s/merged", base);
	snprintf(dir, sizeof(dir), "%s/etc", lower);
	if (mkdir(lower, 0755) < 0 || mkdir(tmpfs, 0755) < 0 || mkdir(merged, 0755) < 0 ||
	    e2e_write(dir, "a", "lower a\n") < 0 || e2e_write(dir, "b", "lower b\n") < 0 ||
	    e2e_write(dir, "c", "lower c\n") < 0)
		goto fail;
	snprintf(dir, sizeof(dir), "%s/tree", lower); /* lower files exist before the mount */
	if (mkdir(dir, 0755) < 0)
		goto fail;
	snprintf(dir, sizeof(dir), "%s/tree/sub", lower);
	if (e2e_write(dir, "f", "f\n") < 0)
		goto fail;
	if (mount("tmpfs", tmpfs, "tmpfs", 0, "size=16m") < 0)
		goto fail;
	mounted_tmpfs = 1;
	snprintf(opts, sizeof(opts), "lowerdir=%s,upperdir=%s/upper,workdir=%s/work", lower, tmpfs,
		 tmpfs);
	snprintf(dir, sizeof(dir), "%s/upper", tmpfs);
	if (mkdir(dir, 0755) < 0)
		goto fail;
	snprintf(dir, sizeof(dir), "%s/work", tmpfs);
	if (mkdir(dir, 0755) < 0 || mount("overlay", merged, "overlay", 0, opts) < 0)
		goto fail;
	mounted_ovl = 1;
	return 0;
fail:
	perror("setup");
	teardown(state);
	return -1;
}

#define NEED_ROOT()                                                                                \
	do {                                                                                       \
		if (geteuid() != 0)                                                                \
			skip();                                                                    \
	} while (0)

static void at(char *buf, size_t len, const char *rel)
{
	snprintf(buf, len, "%s%s", merged, rel);
}

/* What the guest does: each step a different way of changing a file. */
static int guest(void)
{
	char p[PATH_MAX], q[PATH_MAX];
	int fd, rc = 0;

	rc |= e2e_write(merged, "new", "created\n");
	at(p, sizeof(p), "/etc/a"); /* copy-up */
	fd = open(p, O_WRONLY | O_APPEND | O_CLOEXEC);
	rc |= fd < 0 || write(fd, "more\n", 5) != 5;
	if (fd >= 0)
		close(fd);
	at(p, sizeof(p), "/etc/b"); /* whiteout */
	rc |= unlink(p);
	at(p, sizeof(p), "/new");
	at(q, sizeof(q), "/renamed");
	rc |= rename(p, q);
	at(p, sizeof(p), "/etc/c"); /* copy-up + attributes */
	rc |= chmod(p, 0600);
	at(p, sizeof(p), "/dir");
	rc |= mkdir(p, 0700);
	at(p, sizeof(p), "/dir/uring");
	rc |= uring_write_file(p, "through io_uring\n");
	return rc ? 1 : 0;
}

/* Reads events until none has come for a while. */
static void drain(struct fanwatch *w, struct log *log)
{
	struct pollfd pfd = {.fd = fanwatch_fd(w), .events = POLLIN};

	while (poll(&pfd, 1, 300) > 0)
		assert_true(fanwatch_read(w, record, log) >= 0);
}

static void test_guest_changes(void **state)
{
	struct fanwatch *w = NULL;
	struct log *log = events = calloc(1, sizeof(*log));
	const struct seen *s;
	char err[512] = "";
	pid_t child;
	int status;

	(void)state;
	NEED_ROOT();
	assert_non_null(log);
	if (fanwatch_open(tmpfs, "upper", "work", getpid(), &w, err, sizeof(err)) < 0)
		fail_msg("fanwatch_open: %s", err);
	watch = w;
	/* our own change, through the same overlay: dropped */
	assert_int_equal(e2e_write(merged, "mine", "by the watcher\n"), 0);
	child = fork();
	if (child == 0)
		_exit(guest());
	assert_true(child > 0);
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_int_equal(status, 0);
	drain(w, log);
	log_print(log);

	expect_one(log, FANWATCH_CREATE, "/new", child);
	expect_one(log, FANWATCH_WRITE, "/new", child);
	expect_one(log, FANWATCH_WRITE, "/etc/a", child); /* copy-up and write: one WRITE */
	assert_int_equal(count(log, FANWATCH_CREATE, "/etc/a"), 0);
	expect_one(log, FANWATCH_DELETE, "/etc/b", child); /* the whiteout */
	assert_int_equal(count(log, FANWATCH_CREATE, "/etc/b"), 0);
	s = expect_one(log, FANWATCH_RENAME, "/new", child);
	assert_string_equal(s->path2, "/renamed");
	expect_one(log, FANWATCH_ATTRIB, "/etc/c", child);
	assert_int_equal(count(log, FANWATCH_CREATE, "/etc/c"), 0);
	expect_one(log, FANWATCH_MKDIR, "/dir", child);
	expect_one(log, FANWATCH_CREATE, "/dir/uring", child);
	expect_one(log, FANWATCH_WRITE, "/dir/uring", child);

	for (size_t i = 0; i < log->n; i++) {
		assert_int_equal(log->v[i].pid, child); /* nothing of ours, nothing else */
		assert_true(log->v[i].path[0] == '/');
		assert_null(strchr(log->v[i].path, '#')); /* no work/ scratch names */
	}
	assert_int_equal(count(log, FANWATCH_CREATE, "/mine"), 0);
	assert_int_equal(fanwatch_overflows(w), 0);
}

/* Deleting a directory tree and re-creating it: the overlay's internal renames stay hidden. */
static void test_dir_replace(void **state)
{
	struct fanwatch *w = NULL;
	struct log *log = events = calloc(1, sizeof(*log));
	char err[512] = "", p[PATH_MAX];
	pid_t child;
	int status;

	(void)state;
	NEED_ROOT();
	assert_non_null(log);
	if (fanwatch_open(tmpfs, "upper", "work", getpid(), &w, err, sizeof(err)) < 0)
		fail_msg("fanwatch_open: %s", err);
	watch = w;
	child = fork();
	if (child == 0) {
		int rc = 0;

		at(p, sizeof(p), "/tree/sub/f");
		rc |= unlink(p);
		at(p, sizeof(p), "/tree/sub");
		rc |= rmdir(p);
		at(p, sizeof(p), "/tree");
		rc |= rmdir(p) | mkdir(p, 0755);
		_exit(rc ? 1 : 0);
	}
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_int_equal(status, 0);
	drain(w, log);
	log_print(log);
	expect_one(log, FANWATCH_DELETE, "/tree/sub/f", child);
	expect_one(log, FANWATCH_DELETE, "/tree/sub", child); /* whiteout of a lower directory */
	expect_one(log, FANWATCH_DELETE, "/tree", child);
	expect_one(log, FANWATCH_MKDIR, "/tree", child); /* once: not for rmdir's exchange */
	assert_int_equal(log->n, 4);
}

static int open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)))
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

static void test_open_errors(void **state)
{
	struct fanwatch *w = (struct fanwatch *)1;
	char err[512] = "";
	int fds = open_fds();

	(void)state;
	NEED_ROOT();
	assert_int_equal(fanwatch_open(tmpfs, "no-such-upper", "work", 0, &w, err, sizeof(err)),
			 -1);
	assert_null(w);
	assert_non_null(strstr(err, "no-such-upper"));
	/* upper on another file system than the marked one */
	assert_int_equal(fanwatch_open(tmpfs, lower, "work", 0, &w, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not on the file system"));
	assert_int_equal(open_fds(), fds);
	/* open, read nothing, close: every fd is given back */
	assert_int_equal(fanwatch_open(tmpfs, "upper", "work", 0, &w, err, sizeof(err)), 0);
	assert_true(open_fds() > fds);
	events = calloc(1, sizeof(*events));
	assert_non_null(events);
	assert_int_equal(fanwatch_read(w, record, events), 0);
	fanwatch_close(w);
	assert_int_equal(open_fds(), fds);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_guest_changes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_dir_replace, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_open_errors, setup, teardown),
	};

	return cmocka_run_group_tests_name("fanwatch", tests, NULL, NULL);
}
