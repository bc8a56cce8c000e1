/*
 * event_builder.c - see event_builder.h.
 */
#include "client/event_builder.h"

#include <arpa/inet.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "client/proc_table.h"
#include "common/path.h"
#include "common/util.h"

#define OBJ_MAX (2 * SENSOR_STR_MAX)

struct event_builder {
	struct proc_table *procs; /* borrowed */
	uint32_t harness_pid;
	uint32_t harness_pid2; /* a sandbox's guest init; 0 = none */
	/*
	 * Processes the harness itself started (its children, until they
	 * exit): their exec and exit are the launch and end of the observed
	 * program, not changes.  A process that was only reparented to the
	 * harness (an orphan: a double-forked daemon) is not among them.
	 */
	uint32_t launched[EVENT_BUILDER_LAUNCHED_MAX];
	int64_t boot_to_real_ns; /* CLOCK_REALTIME - CLOCK_BOOTTIME, sampled once */
	char obj1[OBJ_MAX];
	char obj2[OBJ_MAX];
	char exe[OBJ_MAX];  /* copy of an image path that is about to be forgotten */
	char proc[OBJ_MAX]; /* copy of the acting image of a process event */
};

struct event_builder *event_builder_new(struct proc_table *procs, uint32_t harness_pid)
{
	struct event_builder *b = calloc(1, sizeof(*b));

	if (!b)
		return NULL;
	b->procs = procs;
	b->harness_pid = harness_pid;
	b->boot_to_real_ns = (int64_t)util_now_real_ns() - (int64_t)util_now_boot_ns();
	return b;
}

void event_builder_free(struct event_builder *b)
{
	free(b);
}

void event_builder_add_harness(struct event_builder *b, uint32_t pid)
{
	b->harness_pid2 = pid;
}

static bool is_harness(const struct event_builder *b, uint32_t pid)
{
	return pid && (pid == b->harness_pid || pid == b->harness_pid2);
}

static uint32_t *launched_slot(struct event_builder *b, uint32_t pid)
{
	for (size_t i = 0; i < EVENT_BUILDER_LAUNCHED_MAX; i++)
		if (b->launched[i] == pid)
			return &b->launched[i];
	return NULL;
}

static void launched_add(struct event_builder *b, uint32_t pid)
{
	uint32_t *slot = launched_slot(b, pid);

	if (!slot)
		slot = launched_slot(b, 0);
	if (slot)
		*slot = pid; /* full: the program is reported, never hidden */
}

/*
 * True if the exec or exit of PID is the harness launching or reaping the
 * observed program.  KNOWN: PID was seen before this record (forked in scope).
 */
static bool harness_launch(struct event_builder *b, const struct sensor_event_hdr *h, bool known)
{
	uint32_t *slot = launched_slot(b, h->pid);

	if (h->op == SENSOR_OP_EXIT) {
		if (slot)
			*slot = 0;
		return slot != NULL;
	}
	if (!slot && is_harness(b, h->ppid) && !known)
		launched_add(b, h->pid); /* its fork was not in scope: a child of the harness */
	return slot || (is_harness(b, h->ppid) && !known);
}

void event_builder_format_addr(const struct sensor_net *n, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN] = "?";

	if (n->family == AF_INET6) {
		inet_ntop(AF_INET6, n->addr, ip, sizeof(ip));
		snprintf(buf, len, "[%s]:%u", ip, n->port);
	} else {
		inet_ntop(AF_INET, n->addr, ip, sizeof(ip));
		snprintf(buf, len, "%s:%u", ip, n->port);
	}
}

/* Path of strings I (dir) and I+1 (name) when JOIN is set, else string I. */
static void record_path(const struct sensor_record *r, int i, int join, char *out, size_t len)
{
	if (join) {
		if (path_join(r->str[i], r->str[i + 1], out, len) < 0)
			out[len - 1] = '\0';
	} else {
		snprintf(out, len, "%s", r->str[i] ? r->str[i] : "");
	}
}

static void base_event(struct event_builder *b, const struct sensor_record *r,
		       struct capture_event *ev)
{
	const struct sensor_event_hdr *h = r->hdr;

	memset(ev, 0, sizeof(*ev));
	ev->ts_ns = h->ts_ns;
	ev->wall_ns = h->ts_ns + (uint64_t)b->boot_to_real_ns; /* modular: no signed overflow */
	ev->pid = h->pid;
	ev->tid = h->tid;
	ev->ppid = h->ppid;
	ev->uid = h->uid;
	ev->cgroup_id = h->cgroup_id;
	ev->comm = h->comm;
	ev->object2 = "-1";
	if (h->flags & SENSOR_F_TRUNC)
		ev->flags |= EVENT_F_TRUNCATED;
}

static int build_process(struct event_builder *b, const struct sensor_record *r,
			 struct capture_event *ev)
{
	const struct sensor_event_hdr *h = r->hdr;
	bool launch;

	if (h->op == SENSOR_OP_FORK) {
		if (is_harness(b, h->pid))
			launched_add(b, (uint32_t)h->arg0);
		if (proc_table_fork(b->procs, (uint32_t)h->arg0, h->pid) < 0)
			return -1;
		return 0;
	}
	launch = harness_launch(b, h, proc_table_known(b->procs, h->pid));
	ev->type = EVENT_PROCESS;
	ev->pid = h->ppid; /* the parent acts, as in the original */
	ev->ppid = 0;
	ev->tid = 0;
	/*
	 * An orphan only reaped by the harness: the harness did not act, the
	 * process did (its image before the exec is the one that forked it).
	 */
	if (!launch && is_harness(b, h->ppid))
		ev->pid = h->pid;
	/* a copy: the table entry may be replaced or freed below (pid == ppid) */
	snprintf(b->proc, sizeof(b->proc), "%s", proc_table_exe(b->procs, ev->pid));
	ev->process = b->proc;
	snprintf(b->obj1, sizeof(b->obj1), "%u", h->pid);
	ev->object1 = b->obj1;
	if (h->op == SENSOR_OP_EXEC) {
		const char *image = r->str[0] ? r->str[0] : "";

		ev->action = "created";
		if (h->flags & SENSOR_F_SCRIPT) {
			/* name the script, not its interpreter: see docs/sensor.md */
			if (path_join(r->str[3], r->str[2], b->obj2, sizeof(b->obj2)) < 0)
				b->obj2[sizeof(b->obj2) - 1] = '\0';
			snprintf(b->exe, sizeof(b->exe), "interpreter %s", image);
			ev->detail = b->exe;
		} else {
			snprintf(b->obj2, sizeof(b->obj2), "%s", image);
		}
		ev->object2 = b->obj2;
		ev->argv = r->str[1];
		ev->argv_len = r->str[1] ? r->len[1] + 1 : 0;
		if (proc_table_set(b->procs, h->pid, image) < 0)
			return -1;
	} else {
		int code = (int)h->arg0;

		ev->action = "terminated";
		snprintf(b->exe, sizeof(b->exe), "%s", proc_table_exe(b->procs, h->pid));
		ev->object2 = b->exe;
		ev->exit_signal = code & 0x7f;
		ev->exit_status = ev->exit_signal ? -1 : (code >> 8) & 0xff;
		proc_table_remove(b->procs, h->pid);
	}
	/* the harness launching or reaping the observed program is not a change */
	return launch ? 0 : 1;
}

static const char *file_action(unsigned op)
{
	switch (op) {
	case SENSOR_OP_OPEN: return "Open";
	case SENSOR_OP_READ: return "Read";
	case SENSOR_OP_CREATE: return "Create";
	case SENSOR_OP_WRITE: return "Write";
	case SENSOR_OP_DELETE: return "Delete";
	case SENSOR_OP_RENAME: return "Rename";
	case SENSOR_OP_LINK: return "Link";
	case SENSOR_OP_SYMLINK: return "Symlink";
	case SENSOR_OP_MKDIR: return "Mkdir";
	case SENSOR_OP_RMDIR: return "Rmdir";
	default: return "Attribute";
	}
}

static void attribute_detail(const struct sensor_record *r, char *out, size_t len)
{
	const struct sensor_event_hdr *h = r->hdr;

	switch (h->op) {
	case SENSOR_OP_CHMOD:
		snprintf(out, len, "chmod %04llo", (unsigned long long)(h->arg0 & 07777));
		break;
	case SENSOR_OP_CHOWN: snprintf(out, len, "chown %d:%d", (int)h->arg0, (int)h->arg1); break;
	case SENSOR_OP_XATTR:
		snprintf(out, len, "%s %s", h->arg0 ? "setxattr" : "removexattr",
			 r->str[2] ? r->str[2] : "");
		break;
	default: snprintf(out, len, "utimes"); break;
	}
}

/*
 * Whether PATH is a directory as the actor sees it, through /proc/PID/root:
 * the actor, its parent, else the guest's init (sandbox) or this process
 * (same root as the program).  Records are drained in batches, so the
 * actor is often gone.  false when none is there any more: the event is
 * then reported, never hidden.
 */
static bool is_directory_of(const struct event_builder *b, const struct sensor_event_hdr *h,
			    const char *path)
{
	const uint32_t pids[] = {h->pid, h->ppid,
				 b->harness_pid2 ? b->harness_pid2 : b->harness_pid};
	char p[PATH_MAX + 32];
	struct stat st;

	for (size_t i = 0; i < ARRAY_SIZE(pids); i++) {
		if (!pids[i] ||
		    snprintf(p, sizeof(p), "/proc/%u/root%s", pids[i], path) >= (int)sizeof(p))
			continue;
		if (lstat(p, &st) == 0)
			return S_ISDIR(st.st_mode);
	}
	return false;
}

/*
 * An executable file created or written (the kernel saw its mode), or a
 * chmod that sets an execute bit on something that is not a directory (the
 * kernel knows for fchmod; a chmod by path is looked up in the actor's root).
 * A memfd (mode 0777 by birth, "/memfd:NAME") is not a dropped file: one
 * that is executed is a process start.
 */
static bool makes_executable(const struct event_builder *b, const struct sensor_event_hdr *h,
			     const char *path)
{
	if (strncmp(path, "/memfd:", 7) == 0)
		return false;
	if (h->op == SENSOR_OP_CREATE || h->op == SENSOR_OP_WRITE)
		return (h->flags & SENSOR_F_EXEC) != 0;
	return h->op == SENSOR_OP_CHMOD && (h->arg0 & 0111) && !(h->flags & SENSOR_F_DIR) &&
	       !is_directory_of(b, h, path);
}

static int build_file(struct event_builder *b, const struct sensor_record *r,
		      struct capture_event *ev)
{
	const struct sensor_event_hdr *h = r->hdr;
	int join = (h->flags & SENSOR_F_JOIN) != 0;

	ev->type = EVENT_FILE;
	ev->action = file_action(h->op);
	ev->object1 = b->obj1;
	switch (h->op) {
	case SENSOR_OP_RENAME: /* object1 = from, object2 = to */
		record_path(r, 0, join, b->obj1, sizeof(b->obj1));
		record_path(r, 2, (h->flags & SENSOR_F_JOIN2) != 0, b->obj2, sizeof(b->obj2));
		ev->object2 = b->obj2;
		break;
	case SENSOR_OP_LINK: /* object1 = the new name, object2 = what it points to */
		record_path(r, 2, (h->flags & SENSOR_F_JOIN2) != 0, b->obj1, sizeof(b->obj1));
		record_path(r, 0, join, b->obj2, sizeof(b->obj2));
		ev->object2 = b->obj2;
		break;
	case SENSOR_OP_SYMLINK: /* target kept as written */
		record_path(r, 2, (h->flags & SENSOR_F_JOIN2) != 0, b->obj1, sizeof(b->obj1));
		snprintf(b->obj2, sizeof(b->obj2), "%s", r->str[0] ? r->str[0] : "");
		ev->object2 = b->obj2;
		break;
	case SENSOR_OP_CHMOD:
	case SENSOR_OP_CHOWN:
	case SENSOR_OP_XATTR:
	case SENSOR_OP_UTIMES:
		record_path(r, 0, join, b->obj1, sizeof(b->obj1));
		attribute_detail(r, b->obj2, sizeof(b->obj2));
		ev->object2 = b->obj2;
		break;
	default: record_path(r, 0, join, b->obj1, sizeof(b->obj1)); break;
	}
	if (makes_executable(b, h, b->obj1))
		ev->flags |= EVENT_F_EXECUTABLE;
	return 1;
}

static int build_connection(struct event_builder *b, const struct sensor_record *r,
			    struct capture_event *ev)
{
	const struct sensor_event_hdr *h = r->hdr;
	int dgram = h->net.socktype == 2; /* SOCK_DGRAM */

	ev->type = EVENT_CONNECTION;
	ev->object1 = b->obj1;
	switch (h->op) {
	case SENSOR_OP_CONNECT:
		if (h->net.family == AF_UNIX) {
			ev->action = "unix-connection";
			snprintf(b->obj1, sizeof(b->obj1), "%s%s", h->arg0 ? "@" : "",
				 r->str[0] ? r->str[0] : "");
			return 1;
		}
		ev->action = dgram ? "udp-connection" : "tcp-connection";
		break;
	case SENSOR_OP_SENDTO: ev->action = "udp-connection"; break;
	case SENSOR_OP_LISTEN: ev->action = "tcp-listening"; break;
	default: ev->action = "udp-listening"; break;
	}
	event_builder_format_addr(&h->net, b->obj1, sizeof(b->obj1));
	return 1;
}

static const char *setid_name(uint64_t nr)
{
	switch (nr) {
	case 105: return "setuid";
	case 113: return "setreuid";
	case 117: return "setresuid";
	case 106: return "setgid";
	case 114: return "setregid";
	case 119: return "setresgid";
	case 116: return "setgroups";
	default: return "set-id";
	}
}

static int build_system(struct event_builder *b, const struct sensor_record *r,
			struct capture_event *ev)
{
	const struct sensor_event_hdr *h = r->hdr;

	ev->type = EVENT_SYSTEM;
	ev->object1 = b->obj1;
	ev->object2 = b->obj2;
	b->obj2[0] = '\0';
	switch (h->op) {
	case SENSOR_OP_MODULE:
		ev->action = "module-load";
		snprintf(b->obj1, sizeof(b->obj1), "%s", r->str[0] ? r->str[0] : "(memory image)");
		break;
	case SENSOR_OP_PTRACE:
		ev->action = "ptrace";
		snprintf(b->obj1, sizeof(b->obj1), "%llu", (unsigned long long)h->arg1);
		snprintf(b->obj2, sizeof(b->obj2), "request %llu", (unsigned long long)h->arg0);
		break;
	case SENSOR_OP_MOUNT:
		ev->action = "mount";
		record_path(r, 0, (h->flags & SENSOR_F_JOIN) != 0, b->obj1, sizeof(b->obj1));
		snprintf(b->obj2, sizeof(b->obj2), "%s %s", r->str[2] ? r->str[2] : "",
			 r->str[3] ? r->str[3] : "");
		break;
	case SENSOR_OP_SETUID:
	case SENSOR_OP_SETGID:
		ev->action = h->op == SENSOR_OP_SETUID ? "setuid" : "setgid";
		snprintf(b->obj1, sizeof(b->obj1), "%d", (int)h->arg1);
		snprintf(b->obj2, sizeof(b->obj2), "%s", setid_name(h->arg0));
		break;
	case SENSOR_OP_CAPSET:
		ev->action = "capset";
		snprintf(b->obj1, sizeof(b->obj1), "-1");
		break;
	case SENSOR_OP_BPF:
		ev->action = "bpf";
		snprintf(b->obj1, sizeof(b->obj1), "cmd %llu", (unsigned long long)h->arg0);
		break;
	default:
		ev->action = "io_uring";
		snprintf(b->obj1, sizeof(b->obj1), "entries=%llu", (unsigned long long)h->arg0);
		snprintf(b->obj2, sizeof(b->obj2), "flags=0x%llx", (unsigned long long)h->arg1);
		break;
	}
	return 1;
}

int event_builder_build(struct event_builder *b, const struct sensor_record *r,
			struct capture_event *ev)
{
	unsigned op = r->hdr->op;
	int rc;

	base_event(b, r, ev);
	if (op == SENSOR_OP_FORK || op == SENSOR_OP_EXEC || op == SENSOR_OP_EXIT)
		return build_process(b, r, ev);
	if (is_harness(b, r->hdr->pid))
		return 0;
	/* a child of the harness that has not exec'd (nor been forked in scope) yet */
	if (is_harness(b, r->hdr->ppid) && !proc_table_known(b->procs, r->hdr->pid))
		return 0;
	ev->process = proc_table_exe(b->procs, r->hdr->pid);
	if (op >= SENSOR_OP_OPEN && op <= SENSOR_OP_UTIMES)
		rc = build_file(b, r, ev);
	else if (op >= SENSOR_OP_CONNECT && op <= SENSOR_OP_SENDTO)
		rc = build_connection(b, r, ev);
	else if (op >= SENSOR_OP_MODULE && op < SENSOR_OP_MAX)
		rc = build_system(b, r, ev);
	else
		rc = -1;
	return rc;
}
