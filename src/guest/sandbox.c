/*
 * sandbox.c - see sandbox.h.
 *
 * The guest init is the clone3() child: pid 1 of the guest's pid namespace.
 * It applies a plan built in the parent (sandbox_plan: bubblewrap's SetupOp
 * idea, so tests can read the plan without mounting anything), starts the
 * program in the app cgroup, and reaps every process of the guest until none
 * is left.  Everything the init does happens outside the sensor's scope (the
 * app cgroup), so setting up the guest is never reported as a state change.
 *
 * Parent and init talk over two pipes: "go" (parent -> init, one byte once
 * the network and limits are in place) and "status" (fixed-size struct
 * sbx_msg records; the reader checks the exact length).  The program's exec
 * closes the status pipe (O_CLOEXEC), so EOF after READY means "exec'd".
 */
#include "guest/sandbox.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/sched.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "guest/cgroup.h"
#include "guest/pcap_capture.h"

#define SBX_MAX_OPS 48

enum sbx_msg_type {
	SBX_MSG_READY = 1,   /* setup done, program forked (pid = its guest pid) */
	SBX_MSG_FAILED,      /* setup failed at step/path with errnum */
	SBX_MSG_EXEC_FAILED, /* the program could not be exec'd */
};

struct sbx_msg {
	uint32_t type;
	uint32_t step;
	int32_t errnum;
	int32_t pid;
	char path[512];
};

struct sandbox {
	struct sandbox_config cfg;
	char name[64];
	char base[600]; /* SANDBOX_BASE_DIR/name: the tmpfs */
	char lower[PATH_MAX];
	char user[64];
	char home[128];
	char cg[4200];     /* guest init's cgroup */
	char cg_app[4300]; /* the program's: sensor scope */
	char v1_memory[256];
	char v1_pids[256];
	bool base_made, tmpfs_mounted, cg_made, cg_app_made;
	struct sandbox_op ops[SBX_MAX_OPS];
	int nops;
	pid_t init_pid;
	bool init_reaped;
	int init_status;
	struct net_link link;
	struct pcap_capture *pcap;
};

/* ---- errors ---- */

static const char *const step_names[] = {
    [SBX_STEP_CONFIG] = "checking the configuration",
    [SBX_STEP_CGROUP] = "creating the guest's cgroup",
    [SBX_STEP_LIMITS] = "applying memory and pids limits",
    [SBX_STEP_TMPFS] = "mounting the guest's tmpfs",
    [SBX_STEP_FILES] = "writing the guest's /etc files",
    [SBX_STEP_CLONE] = "creating the guest's namespaces",
    [SBX_STEP_NETWORK] = "linking the guest's network",
    [SBX_STEP_PCAP] = "starting the packet capture",
    [SBX_STEP_MOUNT] = "mounting the guest's file systems",
    [SBX_STEP_PIVOT] = "switching to the guest's root",
    [SBX_STEP_HOSTNAME] = "setting the guest's hostname",
    [SBX_STEP_USERNS] = "entering a user namespace",
    [SBX_STEP_USER] = "dropping to the guest user",
    [SBX_STEP_EXEC] = "running the program",
    [SBX_STEP_REVERT] = "reverting the guest",
};

static const char *hint(enum sandbox_step step, int errnum)
{
	if (step == SBX_STEP_MOUNT && errnum == EINVAL)
		return " (overlay on overlay, or a lower layer on a file system overlayfs "
		       "cannot use, is refused by the kernel)";
	if (errnum == ENOSPC)
		return " (the guest's tmpfs is full: raise the tmpfs size)";
	if (step == SBX_STEP_CGROUP && errnum == ENOENT)
		return " (no cgroup2 mount: mount -t cgroup2 none /sys/fs/cgroup/unified)";
	if (errnum == EPERM || errnum == EACCES)
		return " (capture-client must run as root)";
	return "";
}

static void set_error(struct sandbox_error *e, enum sandbox_step step, int errnum, const char *path,
		      const char *what)
{
	if (!e)
		return;
	e->step = step;
	e->errnum = errnum;
	snprintf(e->path, sizeof(e->path), "%s", path ? path : "");
	snprintf(e->msg, sizeof(e->msg), "sandbox: %s: %s%s%s%s%s%s", step_names[step],
		 what ? what : "", what && path && *path ? " " : "", path ? path : "",
		 errnum ? ": " : "", errnum ? strerror(errnum) : "", hint(step, errnum));
}

/* ---- the plan ---- */

static struct sandbox_op *op_add(struct sandbox_op *ops, int *n, int max, enum sandbox_op_type type)
{
	if (*n >= max)
		return NULL;
	memset(&ops[*n], 0, sizeof(ops[*n]));
	ops[*n].type = type;
	return &ops[(*n)++];
}

#define PLAN(type)                                                                                 \
	do {                                                                                       \
		if (!(o = op_add(ops, &n, max, (type))))                                           \
			return -1;                                                                 \
	} while (0)

static int plan_dev(const char *m, struct sandbox_op *ops, int n, int max)
{
	static const char *const nodes[] = {"null", "zero", "full", "random", "urandom", "tty"};
	static const char *const links[][2] = {{"/proc/self/fd", "fd"},
					       {"/proc/self/fd/0", "stdin"},
					       {"/proc/self/fd/1", "stdout"},
					       {"/proc/self/fd/2", "stderr"},
					       {"pts/ptmx", "ptmx"}};
	struct sandbox_op *o;

	PLAN(SBX_OP_MOUNT);
	snprintf(o->src, sizeof(o->src), "tmpfs");
	snprintf(o->fstype, sizeof(o->fstype), "tmpfs");
	snprintf(o->dest, sizeof(o->dest), "%s/dev", m);
	snprintf(o->data, sizeof(o->data), "mode=0755,size=1m");
	o->mountflags = MS_NOSUID | MS_NOEXEC;
	for (size_t i = 0; i < ARRAY_SIZE(nodes); i++) {
		PLAN(SBX_OP_MKNOD_FILE);
		snprintf(o->dest, sizeof(o->dest), "%s/dev/%s", m, nodes[i]);
		PLAN(SBX_OP_BIND);
		snprintf(o->src, sizeof(o->src), "/dev/%s", nodes[i]);
		snprintf(o->dest, sizeof(o->dest), "%s/dev/%s", m, nodes[i]);
	}
	PLAN(SBX_OP_MKDIR);
	snprintf(o->dest, sizeof(o->dest), "%s/dev/pts", m);
	o->mode = 0755;
	PLAN(SBX_OP_MOUNT);
	snprintf(o->src, sizeof(o->src), "devpts");
	snprintf(o->fstype, sizeof(o->fstype), "devpts");
	snprintf(o->dest, sizeof(o->dest), "%s/dev/pts", m);
	snprintf(o->data, sizeof(o->data), "newinstance,ptmxmode=0666,mode=620");
	o->mountflags = MS_NOSUID | MS_NOEXEC;
	PLAN(SBX_OP_MKDIR);
	snprintf(o->dest, sizeof(o->dest), "%s/dev/shm", m);
	o->mode = 01777;
	PLAN(SBX_OP_MOUNT);
	snprintf(o->src, sizeof(o->src), "shm");
	snprintf(o->fstype, sizeof(o->fstype), "tmpfs");
	snprintf(o->dest, sizeof(o->dest), "%s/dev/shm", m);
	snprintf(o->data, sizeof(o->data), "mode=1777,size=64m");
	o->mountflags = MS_NOSUID | MS_NODEV;
	for (size_t i = 0; i < ARRAY_SIZE(links); i++) {
		PLAN(SBX_OP_SYMLINK);
		snprintf(o->src, sizeof(o->src), "%s", links[i][0]);
		snprintf(o->dest, sizeof(o->dest), "%s/dev/%s", m, links[i][1]);
	}
	return n;
}

static const char *const etc_files[] = {"resolv.conf", "hosts", "hostname", "passwd", "group"};

int sandbox_plan(const struct sandbox_config *cfg, const char *base, struct sandbox_op *ops,
		 int max)
{
	const char *lower = cfg->root ? cfg->root : "/";
	const char *user = cfg->user ? cfg->user : SANDBOX_USER_DEFAULT;
	char m[700];
	struct sandbox_op *o;
	int n = 0;

	snprintf(m, sizeof(m), "%s/merged", base);
	PLAN(SBX_OP_PRIVATE);
	PLAN(SBX_OP_OVERLAY);
	snprintf(o->src, sizeof(o->src), "overlay");
	snprintf(o->fstype, sizeof(o->fstype), "overlay");
	snprintf(o->dest, sizeof(o->dest), "%s", m);
	snprintf(o->data, sizeof(o->data), "lowerdir=%s,upperdir=%s/upper,workdir=%s/work", lower,
		 base, base);
	PLAN(SBX_OP_MOUNT);
	snprintf(o->src, sizeof(o->src), "proc");
	snprintf(o->fstype, sizeof(o->fstype), "proc");
	snprintf(o->dest, sizeof(o->dest), "%s/proc", m);
	o->mountflags = MS_NOSUID | MS_NODEV | MS_NOEXEC;
	PLAN(SBX_OP_MOUNT);
	snprintf(o->src, sizeof(o->src), "sysfs");
	snprintf(o->fstype, sizeof(o->fstype), "sysfs");
	snprintf(o->dest, sizeof(o->dest), "%s/sys", m);
	o->mountflags = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC;
	if ((n = plan_dev(m, ops, n, max)) < 0)
		return -1;
	for (size_t i = 0; i < ARRAY_SIZE(etc_files); i++) {
		char lower_file[PATH_MAX];
		struct stat st;

		/* a bind needs a target; create one only if the image lacks the file */
		snprintf(lower_file, sizeof(lower_file), "%s/etc/%s", lower, etc_files[i]);
		if (lstat(lower_file, &st) < 0) {
			PLAN(SBX_OP_MKNOD_FILE);
			snprintf(o->dest, sizeof(o->dest), "%s/etc/%s", m, etc_files[i]);
		}
		PLAN(SBX_OP_BIND);
		snprintf(o->src, sizeof(o->src), "%s/etc/%s", base, etc_files[i]);
		snprintf(o->dest, sizeof(o->dest), "%s/etc/%s", m, etc_files[i]);
		o->flags = SBX_F_RDONLY;
	}
	PLAN(SBX_OP_MKDIR);
	snprintf(o->dest, sizeof(o->dest), "%s/home/%s", m, user);
	o->mode = 0700;
	o->flags = SBX_F_OWNED;
	return n;
}

/* ---- parent side: create ---- */

static int write_text(const char *dir, const char *name, const char *text)
{
	char path[PATH_MAX];
	FILE *f;
	int rc;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "we");
	if (!f)
		return -1;
	rc = fputs(text, f) < 0 ? -1 : 0;
	if (fclose(f) != 0) /* a full tmpfs shows here */
		rc = -1;
	return rc;
}

/* passwd/group of the image plus the guest user, so getpwuid() works inside. */
static int write_account(struct sandbox *sb, const char *etc, const char *file, const char *entry)
{
	char src[PATH_MAX + 64], *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	CLEANUP_FILE FILE *in = NULL;
	char line[4096];
	int rc;

	if (!out)
		return -1;
	snprintf(src, sizeof(src), "%s/etc/%s", sb->lower, file);
	in = fopen(src, "re");
	while (in && fgets(line, sizeof(line), in))
		fputs(line, out);
	fputs(entry, out);
	if (fclose(out) != 0) {
		free(text);
		return -1;
	}
	rc = write_text(etc, file, text);
	free(text);
	return rc;
}

static int write_etc(struct sandbox *sb, struct sandbox_error *err)
{
	char etc[700], buf[1024];
	const char *ns = sb->cfg.nameserver        ? sb->cfg.nameserver
			 : sb->cfg.net == NET_NONE ? "127.0.0.1"
						   : SANDBOX_SERVICES_ADDR;
	uid_t uid = sb->cfg.uid ? sb->cfg.uid : SANDBOX_UID_DEFAULT;
	gid_t gid = sb->cfg.gid ? sb->cfg.gid : uid;

	snprintf(etc, sizeof(etc), "%s/etc", sb->base);
	if (mkdir(etc, 0755) < 0) {
		set_error(err, SBX_STEP_FILES, errno, etc, "mkdir");
		return -1;
	}
	/*
	 * The stub answers within microseconds (mode services) or relays to
	 * the host's resolvers (nat), so a query unanswered after 1 s is
	 * lost or slow upstream: ask again then, up to 3 times, instead of
	 * glibc's 5 s wait, longer than a short visit.  A late answer to the
	 * first try still counts (same ID, same socket).
	 */
	snprintf(buf, sizeof(buf),
		 "# written by capture-client for this guest\nnameserver %s\n"
		 "options timeout:1 attempts:3\n",
		 ns);
	if (write_text(etc, "resolv.conf", buf) < 0)
		goto fail;
	snprintf(buf, sizeof(buf), "127.0.0.1\tlocalhost\n::1\tlocalhost\n127.0.1.1\t%s\n",
		 SANDBOX_HOSTNAME);
	if (write_text(etc, "hosts", buf) < 0)
		goto fail;
	if (write_text(etc, "hostname", SANDBOX_HOSTNAME "\n") < 0)
		goto fail;
	snprintf(buf, sizeof(buf), "%s:x:%u:%u:Capture guest:%s:/bin/sh\n", sb->user, (unsigned)uid,
		 (unsigned)gid, sb->home);
	if (write_account(sb, etc, "passwd", buf) < 0)
		goto fail;
	snprintf(buf, sizeof(buf), "%s:x:%u:\n", sb->user, (unsigned)gid);
	if (write_account(sb, etc, "group", buf) < 0)
		goto fail;
	return 0;
fail:
	set_error(err, SBX_STEP_FILES, errno, etc, "writing");
	return -1;
}

static int check_config(struct sandbox *sb, struct sandbox_error *err)
{
	const struct sandbox_config *c = &sb->cfg;
	struct stat st;

	if (!realpath(c->root ? c->root : "/", sb->lower) || stat(sb->lower, &st) < 0) {
		set_error(err, SBX_STEP_CONFIG, errno, c->root, "root image");
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		set_error(err, SBX_STEP_CONFIG, ENOTDIR, c->root, "root image");
		return -1;
	}
	if (strpbrk(sb->lower, ",:\\")) {
		set_error(err, SBX_STEP_CONFIG, 0, sb->lower,
			  "overlayfs cannot use a lower directory whose name has ',' ':' or '\\':");
		return -1;
	}
	if (c->net != NET_NONE && !c->services) {
		set_error(err, SBX_STEP_CONFIG, 0, NULL, "network mode needs a services namespace");
		return -1;
	}
	if (c->n_program_fds > SANDBOX_MAX_PROGRAM_FDS || (c->n_program_fds && !c->program_fds)) {
		set_error(err, SBX_STEP_CONFIG, 0, NULL, "too many fds for the program");
		return -1;
	}
	snprintf(sb->user, sizeof(sb->user), "%s", c->user ? c->user : SANDBOX_USER_DEFAULT);
	if (!*sb->user || strchr(sb->user, '/') || strchr(sb->user, ':')) {
		set_error(err, SBX_STEP_CONFIG, 0, sb->user, "invalid user name");
		return -1;
	}
	snprintf(sb->home, sizeof(sb->home), "/home/%s", sb->user);
	return 0;
}

static int make_tmpfs(struct sandbox *sb, struct sandbox_error *err)
{
	char opts[64], dir[700];
	static const char *const sub[] = {"upper", "work", "merged"};

	if (mkdir("/run/capture", 0755) < 0 && errno != EEXIST)
		goto fail_dir;
	if (mkdir(SANDBOX_BASE_DIR, 0755) < 0 && errno != EEXIST)
		goto fail_dir;
	if (mkdir(sb->base, 0700) < 0)
		goto fail_dir;
	sb->base_made = true;
	snprintf(opts, sizeof(opts), "size=%llu,mode=0755",
		 (unsigned long long)(sb->cfg.tmpfs_bytes ? sb->cfg.tmpfs_bytes
							  : SANDBOX_TMPFS_DEFAULT));
	if (mount("capture-guest", sb->base, "tmpfs", MS_NOSUID | MS_NODEV, opts) < 0) {
		set_error(err, SBX_STEP_TMPFS, errno, sb->base, "mount tmpfs on");
		return -1;
	}
	sb->tmpfs_mounted = true;
	for (size_t i = 0; i < ARRAY_SIZE(sub); i++) {
		snprintf(dir, sizeof(dir), "%s/%s", sb->base, sub[i]);
		if (mkdir(dir, 0755) < 0) {
			set_error(err, SBX_STEP_TMPFS, errno, dir, "mkdir");
			return -1;
		}
	}
	return 0;
fail_dir:
	set_error(err, SBX_STEP_TMPFS, errno, sb->base, "mkdir");
	return -1;
}

static int make_cgroups(struct sandbox *sb, struct sandbox_error *err)
{
	char name[96];

	snprintf(name, sizeof(name), "sbx-%s", sb->name);
	if (cgroup_create(name, sb->cg, sizeof(sb->cg)) < 0) {
		set_error(err, SBX_STEP_CGROUP, errno, name, "cgroup");
		return -1;
	}
	sb->cg_made = true;
	snprintf(sb->cg_app, sizeof(sb->cg_app), "%s/app", sb->cg);
	if (mkdir(sb->cg_app, 0755) < 0) {
		set_error(err, SBX_STEP_CGROUP, errno, sb->cg_app, "mkdir");
		return -1;
	}
	sb->cg_app_made = true;
	return 0;
}

int sandbox_create(const struct sandbox_config *cfg, const char *name, struct sandbox **out,
		   struct sandbox_error *err)
{
	struct sandbox *sb = calloc(1, sizeof(*sb));

	*out = NULL;
	if (!sb) {
		set_error(err, SBX_STEP_CONFIG, ENOMEM, NULL, "allocating");
		return -1;
	}
	sb->cfg = *cfg;
	sb->init_pid = -1;
	snprintf(sb->name, sizeof(sb->name), "%s", name);
	snprintf(sb->base, sizeof(sb->base), "%s/%s", SANDBOX_BASE_DIR, name);
	if (!*name || strchr(name, '/') || strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
		set_error(err, SBX_STEP_CONFIG, 0, name, "invalid sandbox name");
		goto fail;
	}
	if (cfg->uid == 0 && cfg->gid != 0) {
		set_error(err, SBX_STEP_CONFIG, 0, NULL, "the guest user may not be root");
		goto fail;
	}
	if (check_config(sb, err) < 0 || make_tmpfs(sb, err) < 0 || write_etc(sb, err) < 0 ||
	    make_cgroups(sb, err) < 0)
		goto fail;
	sb->nops = sandbox_plan(cfg, sb->base, sb->ops, SBX_MAX_OPS);
	if (sb->nops < 0) {
		set_error(err, SBX_STEP_CONFIG, 0, NULL, "setup plan too long");
		goto fail;
	}
	*out = sb;
	return 0;
fail:
	sandbox_revert(sb, NULL);
	return -1;
}

const char *sandbox_app_cgroup(const struct sandbox *sb)
{
	return sb->cg_app;
}

const char *sandbox_tmpfs_dir(const struct sandbox *sb)
{
	return sb->base;
}

const char *sandbox_lower_dir(const struct sandbox *sb)
{
	return sb->lower;
}

bool sandbox_is_own_path(const struct sandbox *sb, const char *guest_path)
{
	/* the home directory the init made for the guest user */
	return strcmp(guest_path, sb->home) == 0;
}

/* Reads one decimal number from DIR/FILE; 0 if absent or unreadable. */
static uint64_t read_counter(const char *dir, const char *file)
{
	char path[4400];
	unsigned long long v = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	f = fopen(path, "re");
	if (!f)
		return 0;
	if (fscanf(f, "%llu", &v) != 1)
		v = 0;
	fclose(f);
	return v;
}

uint64_t sandbox_memory_peak(const struct sandbox *sb)
{
	uint64_t v = sb->cg[0] ? read_counter(sb->cg, "memory.peak") : 0;

	if (!v && sb->v1_memory[0])
		v = read_counter(sb->v1_memory, "memory.max_usage_in_bytes");
	return v;
}

pid_t sandbox_init_pid(const struct sandbox *sb)
{
	return sb->init_pid;
}

/* ---- the guest init (child side) ---- */

static void send_msg(int fd, uint32_t type, enum sandbox_step step, int errnum, int pid,
		     const char *path)
{
	struct sbx_msg m = {.type = type, .step = step, .errnum = errnum, .pid = pid};

	snprintf(m.path, sizeof(m.path), "%s", path ? path : "");
	(void)!write(fd, &m, sizeof(m));
}

static int apply_op(const struct sandbox_op *o, uid_t uid, gid_t gid)
{
	int fd;

	switch (o->type) {
	case SBX_OP_PRIVATE: return mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL);
	case SBX_OP_OVERLAY:
	case SBX_OP_MOUNT:
		return mount(o->src, o->dest, o->fstype, o->mountflags,
			     o->data[0] ? o->data : NULL);
	case SBX_OP_BIND:
		if (mount(o->src, o->dest, NULL, MS_BIND, NULL) < 0)
			return -1;
		if (!(o->flags & SBX_F_RDONLY))
			return 0;
		return mount(NULL, o->dest, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL);
	case SBX_OP_MKDIR:
		if (mkdir(o->dest, o->mode) < 0 && errno != EEXIST)
			return -1;
		if (o->flags & SBX_F_OWNED)
			return chown(o->dest, uid, gid);
		return chmod(o->dest, o->mode);
	case SBX_OP_MKNOD_FILE:
		fd = open(o->dest, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
		return fd < 0 ? -1 : close(fd);
	case SBX_OP_SYMLINK: return symlink(o->src, o->dest);
	}
	errno = EINVAL;
	return -1;
}

/*
 * Maps root and the guest user to themselves in the user namespace of PID.
 * Written by the guest init, which is in the parent user namespace with
 * CAP_SETUID: a process inside the new namespace may write only one line
 * mapping itself.
 */
static int map_userns(pid_t pid, uid_t uid, gid_t gid)
{
	char path[64], map[64];
	int fd, rc = 0;

	snprintf(path, sizeof(path), "/proc/%d/uid_map", (int)pid);
	snprintf(map, sizeof(map), "0 0 1\n%u %u 1\n", (unsigned)uid, (unsigned)uid);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, map, strlen(map)) != (ssize_t)strlen(map))
		rc = -1;
	if (fd >= 0)
		close(fd);
	snprintf(path, sizeof(path), "/proc/%d/gid_map", (int)pid);
	snprintf(map, sizeof(map), "0 0 1\n%u %u 1\n", (unsigned)gid, (unsigned)gid);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (rc == 0 && (fd < 0 || write(fd, map, strlen(map)) != (ssize_t)strlen(map)))
		rc = -1;
	if (fd >= 0)
		close(fd);
	return rc;
}

static char **program_env(const struct sandbox *sb)
{
	static char *env[64];
	static char home[160], user[96], logname[96];
	size_t n = 0;

	snprintf(home, sizeof(home), "HOME=%s", sb->home);
	snprintf(user, sizeof(user), "USER=%s", sb->user);
	snprintf(logname, sizeof(logname), "LOGNAME=%s", sb->user);
	env[n++] = home;
	env[n++] = user;
	env[n++] = logname;
	env[n++] = "PATH=/usr/local/bin:/usr/bin:/bin";
	env[n++] = "SHELL=/bin/sh";
	env[n++] = "LANG=C.UTF-8";
	env[n++] = "TERM=dumb";
	for (size_t i = 0; sb->cfg.env && sb->cfg.env[i] && n < ARRAY_SIZE(env) - 1; i++)
		env[n++] = sb->cfg.env[i];
	env[n] = NULL;
	return env;
}

/* The program: guest user, no capabilities, no_new_privs, clean fds. */
static _Noreturn void run_program(const struct sandbox *sb, char *const argv[], int status_fd)
{
	uid_t uid = sb->cfg.uid ? sb->cfg.uid : SANDBOX_UID_DEFAULT;
	gid_t gid = sb->cfg.gid ? sb->cfg.gid : uid;
	sigset_t none;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 ||
	    setresuid(uid, uid, uid) < 0 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		send_msg(status_fd, SBX_MSG_FAILED, SBX_STEP_USER, errno, 0, sb->user);
		_exit(126);
	}
	if (chdir(sb->home) < 0)
		(void)!chdir("/");
	/* stdio, the program's fds at 3.. and the status pipe (close-on-exec): nothing else */
	status_fd = sandbox_pass_fds(sb->cfg.program_fds, sb->cfg.n_program_fds, status_fd);
	if (status_fd < 0)
		_exit(126); /* the status pipe may be gone: the parent sees EOF without READY */
	execvpe(argv[0], argv, program_env(sb));
	send_msg(status_fd, SBX_MSG_EXEC_FAILED, SBX_STEP_EXEC, errno, 0, argv[0]);
	_exit(127);
}

int sandbox_pass_fds(const int *fds, size_t n, int keep)
{
	int floor = 3 + (int)n, moved[SANDBOX_MAX_PROGRAM_FDS];

	if (n > SANDBOX_MAX_PROGRAM_FDS) {
		errno = EINVAL;
		return -1;
	}
	/* first above the target range, so that no dup2 below overwrites a source */
	for (size_t i = 0; i < n; i++) {
		moved[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, floor);
		if (moved[i] < 0)
			return -1;
	}
	if (keep >= 0 && (keep = fcntl(keep, F_DUPFD_CLOEXEC, floor)) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (dup2(moved[i], 3 + (int)i) < 0) /* dup2 clears close-on-exec */
			return -1;
	}
	if (keep < 0)
		return syscall(SYS_close_range, (unsigned)floor, ~0u, 0) < 0 ? -1 : 0;
	if (keep > floor && syscall(SYS_close_range, (unsigned)floor, (unsigned)keep - 1, 0) < 0)
		return -1;
	if (syscall(SYS_close_range, (unsigned)keep + 1, ~0u, 0) < 0)
		return -1;
	return keep;
}

/* pid 1 of the guest: reap everything, leave when nothing is left. */
static _Noreturn void reap_all(pid_t program)
{
	int status, code = 0;
	pid_t pid;

	for (;;) {
		pid = wait(&status);
		if (pid < 0 && errno == EINTR)
			continue;
		if (pid < 0)
			break;
		if (pid == program)
			code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	}
	_exit(code);
}

static _Noreturn void guest_init(struct sandbox *sb, char *const argv[], int go_fd, int status_fd,
				 int app_fd)
{
	uid_t uid = sb->cfg.uid ? sb->cfg.uid : SANDBOX_UID_DEFAULT;
	gid_t gid = sb->cfg.gid ? sb->cfg.gid : uid;
	/* CLONE_CLEAR_SIGHAND: the child must not run the client's libuv signal handlers */
	struct clone_args args = {.flags = CLONE_INTO_CGROUP | CLONE_CLEAR_SIGHAND,
				  .exit_signal = SIGCHLD};
	char merged[700], go;
	int sync[2] = {-1, -1};
	pid_t pid;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (read(go_fd, &go, 1) != 1)
		_exit(1); /* the parent gave up */
	close(go_fd);
	for (int i = 0; i < sb->nops; i++) {
		if (apply_op(&sb->ops[i], uid, gid) < 0) {
			send_msg(status_fd, SBX_MSG_FAILED, SBX_STEP_MOUNT, errno, 0,
				 sb->ops[i].dest[0] ? sb->ops[i].dest : "/");
			_exit(1);
		}
	}
	if (sethostname(SANDBOX_HOSTNAME, strlen(SANDBOX_HOSTNAME)) < 0) {
		send_msg(status_fd, SBX_MSG_FAILED, SBX_STEP_HOSTNAME, errno, 0, SANDBOX_HOSTNAME);
		_exit(1);
	}
	snprintf(merged, sizeof(merged), "%s/merged", sb->base);
	/* pivot_root(".", ".") stacks the old root on the new one; detach it */
	if (chdir(merged) < 0 || syscall(SYS_pivot_root, ".", ".") < 0 ||
	    umount2(".", MNT_DETACH) < 0 || chdir("/") < 0) {
		send_msg(status_fd, SBX_MSG_FAILED, SBX_STEP_PIVOT, errno, 0, merged);
		_exit(1);
	}
	/*
	 * With --userns the program is born in a new user namespace (after the
	 * mounts, which it then cannot undo) and waits until its ids are mapped.
	 */
	if (sb->cfg.userns && pipe2(sync, O_CLOEXEC) < 0) {
		send_msg(status_fd, SBX_MSG_FAILED, SBX_STEP_USERNS, errno, 0, "pipe");
		_exit(1);
	}
	if (sb->cfg.userns)
		args.flags |= CLONE_NEWUSER;
	args.cgroup = (uint64_t)app_fd;
	pid = (pid_t)syscall(SYS_clone3, &args, sizeof(args));
	if (pid == 0) {
		if (sb->cfg.userns && (close(sync[1]), read(sync[0], &go, 1) != 1))
			_exit(126);
		run_program(sb, argv, status_fd);
	}
	if (pid < 0) {
		send_msg(status_fd, SBX_MSG_FAILED, SBX_STEP_EXEC, errno, 0, argv[0]);
		_exit(1);
	}
	if (sb->cfg.userns) {
		if (map_userns(pid, uid, gid) < 0) {
			send_msg(status_fd, SBX_MSG_FAILED, SBX_STEP_USERNS, errno, 0, "uid_map");
			_exit(1);
		}
		(void)!write(sync[1], "g", 1);
		close(sync[0]);
		close(sync[1]);
	}
	close(app_fd);
	/* the program has its fds: without our copies its exit is EOF for the client */
	for (size_t i = 0; i < sb->cfg.n_program_fds; i++)
		close(sb->cfg.program_fds[i]);
	send_msg(status_fd, SBX_MSG_READY, SBX_STEP_EXEC, 0, pid, NULL);
	close(status_fd);
	reap_all(pid);
}

/* ---- parent side: start ---- */

static int apply_limits(struct sandbox *sb, struct sandbox_error *err)
{
	if (!sb->cfg.memory_bytes && !sb->cfg.pids_max)
		return 0;
	if (cgroup_apply_limits(sb->cg, sb->name, sb->init_pid, sb->cfg.memory_bytes,
				sb->cfg.pids_max, sb->v1_memory, sizeof(sb->v1_memory), sb->v1_pids,
				sizeof(sb->v1_pids)) < 0) {
		set_error(err, SBX_STEP_LIMITS, errno, sb->cg, "limits for");
		return -1;
	}
	return 0;
}

/*
 * The services network is IPv4 only.  Left on, IPv6 gives the guest's
 * interfaces link-local addresses a moment after they come up, and a
 * browser that sees its network change while loading aborts the page
 * (Chromium: ERR_NETWORK_CHANGED).  /proc/sys/net is per network
 * namespace of the writer, so write it from inside the guest's.
 */
static int disable_ipv6(int nsfd)
{
	static const char *const files[] = {"/proc/sys/net/ipv6/conf/all/disable_ipv6",
					    "/proc/sys/net/ipv6/conf/default/disable_ipv6"};
	CLEANUP_FD int self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	int rc = 0;

	if (self < 0 || setns(nsfd, CLONE_NEWNET) < 0)
		return -1;
	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		int fd = open(files[i], O_WRONLY | O_CLOEXEC);

		if (fd < 0) {
			if (errno != ENOENT) /* a kernel without IPv6 is fine */
				rc = -1;
			continue;
		}
		if (write(fd, "1", 1) != 1)
			rc = -1;
		close(fd);
	}
	if (setns(self, CLONE_NEWNET) < 0)
		fatal("cannot return to the client's network namespace");
	return rc;
}

static int link_network(struct sandbox *sb, struct sandbox_error *err)
{
	char path[64], msg[512] = "";
	CLEANUP_FD int nsfd = -1;

	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)sb->init_pid);
	nsfd = open(path, O_RDONLY | O_CLOEXEC);
	if (nsfd < 0) {
		set_error(err, SBX_STEP_NETWORK, errno, path, "open");
		return -1;
	}
	if (disable_ipv6(nsfd) < 0) {
		set_error(err, SBX_STEP_NETWORK, errno, "/proc/sys/net/ipv6", "disabling IPv6 in");
		return -1;
	}
	if (sb->cfg.net == NET_NONE) {
		if (net_loopback_up(nsfd, msg, sizeof(msg)) < 0) {
			set_error(err, SBX_STEP_NETWORK, 0, NULL, msg);
			return -1;
		}
		return 0;
	}
	if (net_link_create(sb->cfg.services, nsfd, sb->cfg.net_index, &sb->link, msg,
			    sizeof(msg)) < 0) {
		set_error(err, SBX_STEP_NETWORK, 0, NULL, msg);
		return -1;
	}
	if (sb->cfg.pcap_path &&
	    pcap_capture_start(net_services_fd(sb->cfg.services), sb->link.services_if,
			       sb->cfg.pcap_path, &sb->pcap, msg, sizeof(msg)) < 0) {
		set_error(err, SBX_STEP_PCAP, 0, NULL, msg);
		return -1;
	}
	return 0;
}

/* Reads the init's reports until EOF: READY and then EOF means the program runs. */
static int await_program(int status_fd, struct sandbox_error *err)
{
	struct sbx_msg m;
	bool ready = false;
	ssize_t n;

	while ((n = read(status_fd, &m, sizeof(m))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n != (ssize_t)sizeof(m)) {
			set_error(err, SBX_STEP_CLONE, n < 0 ? errno : EPROTO, NULL,
				  "reading the guest init's report");
			return -1;
		}
		m.path[sizeof(m.path) - 1] = '\0';
		if (m.type == SBX_MSG_READY) {
			ready = true;
			continue;
		}
		if (m.step > SBX_STEP_REVERT)
			m.step = SBX_STEP_CLONE;
		set_error(err, m.step, m.errnum, m.path,
			  m.type == SBX_MSG_EXEC_FAILED ? "cannot run" : "at");
		return -1;
	}
	if (!ready) {
		set_error(err, SBX_STEP_CLONE, 0, NULL, "the guest init died during setup");
		return -1;
	}
	return 0;
}

static pid_t clone_init(struct sandbox *sb, char *const argv[], int go_rd, int status_wr,
			struct sandbox_error *err)
{
	CLEANUP_FD int cgfd = open(sb->cg, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int appfd = open(sb->cg_app, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	/*
	 * CLONE_CLEAR_SIGHAND: the init must not run the client's libuv signal
	 * handlers (one killed while holding libuv's signal lock froze the client).
	 */
	struct clone_args args = {
	    .flags = CLONE_INTO_CGROUP | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC |
		     CLONE_NEWNET | CLONE_NEWCGROUP | CLONE_CLEAR_SIGHAND,
	    .exit_signal = SIGCHLD,
	};
	pid_t pid;

	if (cgfd < 0 || appfd < 0) {
		set_error(err, SBX_STEP_CLONE, errno, sb->cg, "open");
		if (appfd >= 0)
			close(appfd);
		return -1;
	}
	args.cgroup = (uint64_t)cgfd;
	pid = (pid_t)syscall(SYS_clone3, &args, sizeof(args));
	if (pid == 0)
		guest_init(sb, argv, go_rd, status_wr, appfd);
	close(appfd);
	if (pid < 0)
		set_error(err, SBX_STEP_CLONE, errno, sb->cg, "clone3 into");
	return pid;
}

int sandbox_start(struct sandbox *sb, char *const argv[], struct sandbox_error *err)
{
	int go[2], status[2], rc = -1;

	if (pipe2(go, O_CLOEXEC) < 0) {
		set_error(err, SBX_STEP_CLONE, errno, NULL, "pipe");
		return -1;
	}
	if (pipe2(status, O_CLOEXEC) < 0) {
		set_error(err, SBX_STEP_CLONE, errno, NULL, "pipe");
		close(go[0]);
		close(go[1]);
		return -1;
	}
	sb->init_pid = clone_init(sb, argv, go[0], status[1], err);
	close(go[0]);
	close(status[1]);
	if (sb->init_pid < 0)
		goto out;
	if (apply_limits(sb, err) < 0 || link_network(sb, err) < 0)
		goto out;
	if (write(go[1], "g", 1) != 1) {
		set_error(err, SBX_STEP_CLONE, errno, NULL, "releasing the guest init");
		goto out;
	}
	rc = await_program(status[0], err);
out:
	close(go[1]);
	close(status[0]);
	return rc;
}

/* ---- running ---- */

int sandbox_running(const struct sandbox *sb)
{
	return cgroup_populated(sb->cg_app);
}

void sandbox_tick(struct sandbox *sb)
{
	if (sb->pcap)
		pcap_capture_dispatch(sb->pcap);
}

void sandbox_kill(struct sandbox *sb)
{
	if (sb->cg_made && cgroup_kill(sb->cg) < 0)
		log_warn("sandbox %s: cannot kill the guest", sb->name);
}

/* Reaps the init (only this pid: the caller's other children are not ours). */
static void reap_init(struct sandbox *sb, bool wait)
{
	int status;

	if (sb->init_pid <= 0 || sb->init_reaped)
		return;
	for (int i = 0; i < (wait ? 500 : 1); i++) {
		pid_t r = waitpid(sb->init_pid, &status, WNOHANG);

		if (r == sb->init_pid) {
			sb->init_reaped = true;
			sb->init_status = status;
			return;
		}
		if (r < 0 && errno == ECHILD) {
			sb->init_reaped = true; /* reaped elsewhere without telling us */
			return;
		}
		if (wait)
			usleep(2000);
	}
}

int sandbox_program_status(const struct sandbox *sb)
{
	/* the init exits with the program's exit code, or 128 + its signal */
	return sb->init_reaped ? sb->init_status : 0;
}

void sandbox_child_exited(struct sandbox *sb, pid_t pid, int status)
{
	if (pid == sb->init_pid && !sb->init_reaped) {
		sb->init_reaped = true;
		sb->init_status = status;
	}
}

bool sandbox_exited(const struct sandbox *sb)
{
	return sb->init_reaped;
}

bool sandbox_tmpfs_full(const struct sandbox *sb)
{
	struct statvfs st;

	if (!sb->tmpfs_mounted || statvfs(sb->base, &st) < 0)
		return false;
	return st.f_bavail == 0 || st.f_favail == 0;
}

int sandbox_stop_capture(struct sandbox *sb, uint64_t *packets, uint64_t *dropped)
{
	struct pcap_capture_stats st = {0};

	*packets = *dropped = 0;
	if (!sb->pcap)
		return -1;
	pcap_capture_stop(sb->pcap, &st);
	sb->pcap = NULL;
	*packets = st.packets;
	*dropped = st.dropped;
	return 0;
}

/* ---- revert ---- */

static int remove_dirs(struct sandbox *sb, struct sandbox_error *err)
{
	int rc = 0;

	if (sb->tmpfs_mounted && umount2(sb->base, MNT_DETACH) < 0 && errno != EINVAL &&
	    errno != ENOENT) { /* EINVAL: not mounted (any more) */
		set_error(err, SBX_STEP_REVERT, errno, sb->base, "umount");
		rc = -1;
	} else {
		sb->tmpfs_mounted = false;
	}
	if (sb->base_made && !sb->tmpfs_mounted && rmdir(sb->base) < 0 && errno != ENOENT) {
		set_error(err, SBX_STEP_REVERT, errno, sb->base, "rmdir");
		rc = -1;
	}
	return rc;
}

static int remove_cgroups(struct sandbox *sb, struct sandbox_error *err)
{
	int rc = 0;

	if (sb->cg_app_made && cgroup_remove(sb->cg_app) < 0) {
		set_error(err, SBX_STEP_REVERT, errno, sb->cg_app, "rmdir cgroup");
		rc = -1;
	}
	if (sb->cg_made && cgroup_remove(sb->cg) < 0) {
		set_error(err, SBX_STEP_REVERT, errno, sb->cg, "rmdir cgroup");
		rc = -1;
	}
	if (sb->v1_memory[0] && cgroup_remove(sb->v1_memory) < 0)
		rc = -1;
	if (sb->v1_pids[0] && cgroup_remove(sb->v1_pids) < 0)
		rc = -1;
	return rc;
}

int sandbox_revert(struct sandbox *sb, struct sandbox_error *err)
{
	int rc = 0;

	if (!sb)
		return 0;
	if (sb->init_pid > 0 && !sb->init_reaped) {
		sandbox_kill(sb);
		reap_init(sb, true);
	}
	if (sb->cg_made && cgroup_populated(sb->cg) > 0) {
		sandbox_kill(sb); /* something escaped the first kill */
		for (int i = 0; i < 500 && cgroup_populated(sb->cg) > 0; i++)
			usleep(2000);
	}
	if (sb->pcap) {
		uint64_t packets, dropped;

		sandbox_stop_capture(sb, &packets, &dropped);
	}
	/*
	 * No explicit delete of the veth: it goes with the guest's network
	 * namespace, which the kernel tears down as soon as the guest's last
	 * process is gone.  Deleting it here would wait ~25 ms for an RCU grace
	 * period (unregister_netdevice) on every revert.
	 */
	if (remove_dirs(sb, err) < 0)
		rc = -1;
	if (remove_cgroups(sb, err) < 0)
		rc = -1;
	free(sb);
	return rc;
}

/* The pid a sandbox name "PREFIX<pid>-<n>" belongs to, or 0. */
static pid_t owner_pid(const char *name, const char *prefix)
{
	size_t n = strlen(prefix);
	char *end;
	long pid;

	if (strncmp(name, prefix, n) != 0)
		return 0;
	pid = strtol(name + n, &end, 10);
	return pid > 0 && *end == '-' ? (pid_t)pid : 0;
}

int sandbox_cleanup_stale(const char *prefix)
{
	DIR *d = opendir(SANDBOX_BASE_DIR);
	struct dirent *e;
	int removed = 0;

	if (!d)
		return 0;
	while ((e = readdir(d))) {
		struct sandbox *sb = NULL;
		char root[PATH_MAX];
		pid_t pid = owner_pid(e->d_name, prefix);

		if (pid <= 0 || strlen(e->d_name) >= sizeof(sb->name) || kill(pid, 0) == 0 ||
		    errno != ESRCH)
			continue; /* not ours, or its client still runs */
		sb = calloc(1, sizeof(*sb));
		if (!sb || cgroup_v2_root(root, sizeof(root)) < 0) {
			free(sb);
			break;
		}
		snprintf(sb->name, sizeof(sb->name), "%.60s", e->d_name);
		snprintf(sb->base, sizeof(sb->base), "%s/%s", SANDBOX_BASE_DIR, sb->name);
		snprintf(sb->cg, sizeof(sb->cg), "%.4000s/capture/sbx-%s", root, sb->name);
		snprintf(sb->cg_app, sizeof(sb->cg_app), "%s/app", sb->cg);
		sb->base_made = true;
		sb->tmpfs_mounted = true;
		sb->cg_made = access(sb->cg, F_OK) == 0;
		sb->cg_app_made = access(sb->cg_app, F_OK) == 0;
		snprintf(sb->v1_memory, sizeof(sb->v1_memory), "/sys/fs/cgroup/memory/capture/%s",
			 sb->name);
		snprintf(sb->v1_pids, sizeof(sb->v1_pids), "/sys/fs/cgroup/pids/capture/%s",
			 sb->name);
		if (access(sb->v1_memory, F_OK) != 0)
			sb->v1_memory[0] = '\0';
		if (access(sb->v1_pids, F_OK) != 0)
			sb->v1_pids[0] = '\0';
		sandbox_kill(sb);
		log_info("reverting sandbox %s left by a client that is gone", e->d_name);
		if (sandbox_revert(sb, NULL) == 0)
			removed++;
	}
	closedir(d);
	return removed;
}
