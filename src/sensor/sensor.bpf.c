// SPDX-License-Identifier: GPL-2.0
/*
 * sensor.bpf.c - Capture's kernel sensor: unauthorized state changes of the
 * processes in scope, as records in one ring buffer.
 *
 * Built on tracepoints only (tp_btf sched_process_{fork,exec,exit} and one
 * tp_btf/sys_exit program) because BPF LSM, fentry and kprobes cannot be
 * loaded on our target kernels (docs/known-limits.md).  sys_exit alone is
 * enough: the syscall arguments are still in pt_regs at exit, so there is no
 * sys_enter stash, and only calls that succeeded (ret >= 0) are reported.
 *
 * Every program tests the scope first, so processes outside it cost one
 * helper call.  Full paths are rebuilt by walking dentry and mount chains
 * with bpf_loop(), stopping at the task's root, so a process in a
 * pivot_root'ed guest gets paths as the guest sees them.
 *
 * Nothing is lost silently: a record the ring buffer cannot take is counted
 * in the per-CPU `drops` array, per op.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>

#include "sensor_event.h"
#include "sensor_syscalls.h"

char LICENSE[] SEC("license") = "GPL";

/* Set by user space between open and load (sensor.c). */
const volatile __u32 scope_mode = SENSOR_SCOPE_CGROUP;
const volatile __u32 client_tgid = 0;
const volatile __u64 enabled_ops = ~0ULL; /* bit (1 << op) */
const volatile __u32 fmode_created = 0;   /* FMODE_CREATED of this kernel */

#define AT_FDCWD     -100
#define AT_REMOVEDIR 0x200
#define O_WRONLY     01
#define O_RDWR       02
#define O_CREAT      0100
#define O_TRUNC      01000
#define O_PATH       010000000
#define S_IFMT       0170000
#define S_IFREG      0100000
#define S_IFDIR      0040000
#define AF_UNIX      1
#define AF_INET      2
#define AF_INET6     10
#define SOCK_STREAM  1
#define SOCK_DGRAM   2
#define EINPROGRESS  115
#define TS_COMPAT    0x0002
#define NAME_MAX     255

#define WALK_END   (SENSOR_STR_MAX - 1) /* index of the NUL ending a walked path */
#define WALK_DEPTH 256                  /* components walked at most */

struct scratch {
	struct sensor_event_hdr hdr;
	/* slack: a string of SENSOR_STR_MAX may start at any masked offset */
	char data[SENSOR_DATA_MAX + SENSOR_STR_MAX];
};

/*
 * The walk's state lives in this per-CPU map value, not on the stack: the
 * verifier then sees it as unknown scalars, so the bpf_loop() callback is
 * verified once instead of once per distinct (constant) position.
 */
struct walkbuf {
	__u64 dentry; /* struct dentry * */
	__u64 vfsmnt; /* struct vfsmount * */
	__u64 mnt;    /* struct mount * containing vfsmnt */
	__u64 root_dentry;
	__u64 root_mnt;
	__u64 mnt_off; /* offsetof(struct mount, mnt) */
	__u32 pos;     /* first byte of the path written so far */
	__u32 trunc;
	char buf[SENSOR_STR_MAX + NAME_MAX + 1]; /* written right to left */
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 32 << 20); /* user space resizes before load */
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_CGROUP_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} scope_cgroup SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SENSOR_OP_MAX);
	__type(key, __u32);
	__type(value, __u64);
} emitted SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SENSOR_OP_MAX);
	__type(key, __u32);
	__type(value, __u64);
} drops SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} scratch_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct walkbuf);
} walk_map SEC(".maps");

/*
 * Open files whose Read/Write was already reported, keyed by struct file
 * address, so "first read" and "first write" are reported once per open.
 * Reset by every open in scope; LRU so it never fills up.
 */
#define SEEN_READ  0x1
#define SEEN_WRITE 0x2
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, __u8);
} file_seen SEC(".maps");

/* (socket, destination) pairs already reported for unconnected datagrams. */
struct dgram_key {
	__u64 sock;
	__u8 addr[16];
	__u16 port;
	__u16 family;
	__u32 pad;
};
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct dgram_key);
	__type(value, __u8);
} dgram_seen SEC(".maps");

static __always_inline bool in_scope(void)
{
	if (scope_mode == SENSOR_SCOPE_CGROUP)
		return bpf_current_task_under_cgroup(&scope_cgroup, 0) == 1;
	return (bpf_get_current_pid_tgid() >> 32) != client_tgid;
}

static __always_inline bool op_enabled(__u32 op)
{
	return enabled_ops & (1ULL << op);
}

static __always_inline void counter_inc(void *map, __u32 op)
{
	__u64 *v = bpf_map_lookup_elem(map, &op);

	if (v)
		*v += 1;
}

static __always_inline struct scratch *ev_begin(__u32 op)
{
	__u32 zero = 0;
	struct scratch *s = bpf_map_lookup_elem(&scratch_map, &zero);
	struct task_struct *task = bpf_get_current_task_btf();
	__u64 id = bpf_get_current_pid_tgid();

	if (!s)
		return NULL;
	s->hdr.ts_ns = bpf_ktime_get_boot_ns();
	s->hdr.cgroup_id = bpf_get_current_cgroup_id();
	s->hdr.arg0 = 0;
	s->hdr.arg1 = 0;
	s->hdr.pid = id >> 32;
	s->hdr.tid = (__u32)id;
	s->hdr.ppid = BPF_CORE_READ(task, real_parent, tgid);
	s->hdr.uid = (__u32)bpf_get_current_uid_gid();
	s->hdr.op = op;
	s->hdr.flags = 0;
	for (int i = 0; i < SENSOR_NSTR; i++)
		s->hdr.len[i] = 0;
	bpf_get_current_comm(s->hdr.comm, sizeof(s->hdr.comm));
	__builtin_memset(&s->hdr.net, 0, sizeof(s->hdr.net));
	return s;
}

/*
 * Waking the reader costs an interrupt per record when it keeps up, which
 * doubled the cost of a monitored syscall.  So records are written without
 * wake-up and the reader drains on a short timer; only when the backlog
 * crosses WAKEUP_BYTES is it woken at once, so a burst cannot fill the
 * buffer between two timer ticks.
 */
#define WAKEUP_BYTES (256 << 10)

static __always_inline void ev_submit(struct scratch *s, __u32 off)
{
	__u32 op = s->hdr.op;
	__u64 size, avail, flags = BPF_RB_NO_WAKEUP;

	if (off > SENSOR_DATA_MAX)
		off = SENSOR_DATA_MAX;
	size = sizeof(struct sensor_event_hdr) + off;
	avail = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);
	if (avail >= WAKEUP_BYTES && avail < WAKEUP_BYTES + 2 * size)
		flags = BPF_RB_FORCE_WAKEUP;
	if (bpf_ringbuf_output(&events, s, size, flags))
		counter_inc(&drops, op);
	else
		counter_inc(&emitted, op);
}

/* ---- strings ---- */

static __always_inline __u32 put_user_str(struct scratch *s, __u32 off, int i, const char *uptr)
{
	__u32 o = off & (SENSOR_DATA_MAX - 1);
	long n = bpf_probe_read_user_str(&s->data[o], SENSOR_STR_MAX, uptr);

	if (n <= 0) {
		s->data[o] = '\0';
		n = 1;
	}
	s->hdr.len[i & (SENSOR_NSTR - 1)] = n;
	return off + n;
}

static __always_inline __u32 put_kernel_str(struct scratch *s, __u32 off, int i, const char *kptr)
{
	__u32 o = off & (SENSOR_DATA_MAX - 1);
	long n = bpf_probe_read_kernel_str(&s->data[o], SENSOR_STR_MAX, kptr);

	if (n <= 0) {
		s->data[o] = '\0';
		n = 1;
	}
	s->hdr.len[i & (SENSOR_NSTR - 1)] = n;
	return off + n;
}

static __always_inline __u32 put_empty(struct scratch *s, __u32 off, int i)
{
	s->data[off & (SENSOR_DATA_MAX - 1)] = '\0';
	s->hdr.len[i & (SENSOR_NSTR - 1)] = 1;
	return off + 1;
}

/* ---- path walk ---- */

static long walk_step(__u32 i, void *arg)
{
	__u32 zero = 0;
	struct walkbuf *w = bpf_map_lookup_elem(&walk_map, &zero);
	struct dentry *d, *parent, *mnt_root;
	struct vfsmount *vm;
	const unsigned char *name;
	__u32 len, pos;

	if (!w)
		return 1;
	d = (struct dentry *)w->dentry;
	vm = (struct vfsmount *)w->vfsmnt;
	if (w->dentry == w->root_dentry && w->vfsmnt == w->root_mnt)
		return 1;
	mnt_root = BPF_CORE_READ(vm, mnt_root);
	if (d == mnt_root) {
		struct mount *m = (struct mount *)w->mnt;
		struct mount *mp = BPF_CORE_READ(m, mnt_parent);

		if (m == mp)
			return 1; /* top of the mount tree */
		w->dentry = (__u64)BPF_CORE_READ(m, mnt_mountpoint);
		w->mnt = (__u64)mp;
		w->vfsmnt = (__u64)mp + w->mnt_off;
		return 0;
	}
	parent = BPF_CORE_READ(d, d_parent);
	len = BPF_CORE_READ(d, d_name.len);
	name = BPF_CORE_READ(d, d_name.name);
	if (len > NAME_MAX)
		len = NAME_MAX;
	if (w->pos < len + 1) {
		w->trunc = 1;
		return 1;
	}
	pos = w->pos - len;
	bpf_probe_read_kernel(&w->buf[pos & (SENSOR_STR_MAX - 1)], len, name);
	pos -= 1;
	w->buf[pos & (SENSOR_STR_MAX - 1)] = '/';
	w->pos = pos;
	if (d == parent)
		return 1; /* detached or pseudo file system (pipe, memfd): name only */
	w->dentry = (__u64)parent;
	return 0;
}

/* Appends the absolute path of PATH (a kernel struct path) as string I. */
static __noinline __u32 put_path(struct scratch *s, __u32 off, int i, const struct path *path)
{
	__u32 zero = 0, o = off & (SENSOR_DATA_MAX - 1), n;
	struct walkbuf *w = bpf_map_lookup_elem(&walk_map, &zero);
	struct task_struct *task = bpf_get_current_task_btf();
	struct vfsmount *vm;
	__u32 pos;

	if (!w || !path)
		return put_empty(s, off, i);
	vm = BPF_CORE_READ(path, mnt);
	w->mnt_off = bpf_core_field_offset(struct mount, mnt);
	w->dentry = (__u64)BPF_CORE_READ(path, dentry);
	w->vfsmnt = (__u64)vm;
	w->mnt = (__u64)vm - w->mnt_off;
	w->root_dentry = (__u64)BPF_CORE_READ(task, fs, root.dentry);
	w->root_mnt = (__u64)BPF_CORE_READ(task, fs, root.mnt);
	w->pos = WALK_END;
	w->trunc = 0;
	w->buf[WALK_END] = '\0';
	bpf_loop(WALK_DEPTH, walk_step, NULL, 0);
	if (w->trunc)
		s->hdr.flags |= SENSOR_F_TRUNC;
	pos = w->pos;
	if (pos >= WALK_END) { /* the root itself */
		s->data[o] = '/';
		s->data[(o + 1) & (SENSOR_DATA_MAX + SENSOR_STR_MAX - 1)] = '\0';
		s->hdr.len[i & (SENSOR_NSTR - 1)] = 2;
		return off + 2;
	}
	n = SENSOR_STR_MAX - pos; /* bytes from pos to the NUL, NUL included */
	if (n > SENSOR_STR_MAX)
		n = SENSOR_STR_MAX;
	if (n < 1)
		n = 1;
	bpf_probe_read_kernel(&s->data[o], n, &w->buf[pos & (SENSOR_STR_MAX - 1)]);
	s->hdr.len[i & (SENSOR_NSTR - 1)] = n;
	return off + n;
}

static __always_inline struct file *fd_file(int fd)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	struct file **fds;
	struct file *f = NULL;

	if (fd < 0 || !fdt || (unsigned int)fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	fds = BPF_CORE_READ(fdt, fd);
	bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]);
	return f;
}

static __always_inline const struct path *file_path(struct file *f)
{
	return f ? &f->f_path : NULL;
}

static __always_inline __u32 file_mode_type(struct file *f)
{
	return BPF_CORE_READ(f, f_inode, i_mode) & S_IFMT;
}

/* SENSOR_F_EXEC for a regular file with any execute bit (a dropped program). */
static __always_inline __u32 exec_flag(struct file *f)
{
	__u32 mode = BPF_CORE_READ(f, f_inode, i_mode);

	return (mode & S_IFMT) == S_IFREG && (mode & 0111) ? SENSOR_F_EXEC : 0;
}

/*
 * Appends "directory of DFD (or cwd)" and NAME as strings I and I+1, so user
 * space can join them (SENSOR_F_JOIN).  An absolute NAME needs no directory.
 */
static __noinline __u32 put_at_path(struct scratch *s, __u32 off, int i, int dfd, const char *name)
{
	struct task_struct *task = bpf_get_current_task_btf();
	char first = 0;

	if (name)
		bpf_probe_read_user(&first, 1, name);
	if (first == '/')
		off = put_empty(s, off, i);
	else if (dfd == AT_FDCWD)
		off = put_path(s, off, i, &task->fs->pwd);
	else
		off = put_path(s, off, i, file_path(fd_file(dfd)));
	if (name)
		return put_user_str(s, off, i + 1, name);
	return put_empty(s, off, i + 1);
}

/* ---- handlers, one per family ---- */

static __always_inline void mark_file(struct file *f, __u8 bits)
{
	__u64 key = (__u64)f;

	bpf_map_update_elem(&file_seen, &key, &bits, BPF_ANY);
}

static __noinline int on_open(int fd, __u64 flags)
{
	struct file *f;
	struct scratch *s;
	__u32 op, fmode;
	bool write;

	if (flags & O_PATH)
		return 0;
	f = fd_file(fd);
	if (!f)
		return 0;
	fmode = BPF_CORE_READ(f, f_mode);
	write = (flags & (O_WRONLY | O_RDWR | O_TRUNC)) != 0;
	if (fmode_created && (fmode & fmode_created))
		op = SENSOR_OP_CREATE;
	else if (write)
		op = SENSOR_OP_WRITE;
	else
		op = SENSOR_OP_OPEN;
	mark_file(f, write || op == SENSOR_OP_CREATE ? SEEN_WRITE : 0);
	if (!op_enabled(op))
		return 0;
	s = ev_begin(op);
	if (!s)
		return 0;
	s->hdr.arg0 = flags;
	s->hdr.arg1 = fmode;
	if (file_mode_type(f) == S_IFDIR)
		s->hdr.flags |= SENSOR_F_DIR;
	if (op != SENSOR_OP_OPEN)
		s->hdr.flags |= exec_flag(f);
	ev_submit(s, put_path(s, 0, 0, file_path(f)));
	return 0;
}

/* First read or write of an open regular file not yet reported. */
static __noinline int on_rw(int fd, __u32 op)
{
	__u8 bit = op == SENSOR_OP_WRITE ? SEEN_WRITE : SEEN_READ;
	struct file *f = fd_file(fd);
	struct scratch *s;
	__u64 key = (__u64)f;
	__u8 *seen, bits = bit;

	if (!f || file_mode_type(f) != S_IFREG)
		return 0;
	seen = bpf_map_lookup_elem(&file_seen, &key);
	if (seen) {
		if (*seen & bit)
			return 0;
		bits |= *seen;
	}
	bpf_map_update_elem(&file_seen, &key, &bits, BPF_ANY);
	s = ev_begin(op);
	if (!s)
		return 0;
	if (op == SENSOR_OP_WRITE)
		s->hdr.flags |= exec_flag(f);
	ev_submit(s, put_path(s, 0, 0, file_path(f)));
	return 0;
}

/* An op on DFD/NAME (SENSOR_F_JOIN) with optional ARG0/ARG1. */
static __noinline int on_at(__u32 op, int dfd, const char *name, __u64 arg0, __u64 arg1)
{
	struct scratch *s;

	if (!op_enabled(op))
		return 0;
	s = ev_begin(op);
	if (!s)
		return 0;
	s->hdr.flags |= SENSOR_F_JOIN;
	s->hdr.arg0 = arg0;
	s->hdr.arg1 = arg1;
	ev_submit(s, put_at_path(s, 0, 0, dfd, name));
	return 0;
}

/* An op on an open file descriptor (fchmod, ftruncate, ...). */
static __noinline int on_fd(__u32 op, int fd, __u64 arg0, __u64 arg1)
{
	struct file *f;
	struct scratch *s;

	if (!op_enabled(op))
		return 0;
	s = ev_begin(op);
	if (!s)
		return 0;
	f = fd_file(fd);
	s->hdr.arg0 = arg0;
	s->hdr.arg1 = arg1;
	if (f && file_mode_type(f) == S_IFDIR)
		s->hdr.flags |= SENSOR_F_DIR;
	if (f && op == SENSOR_OP_WRITE)
		s->hdr.flags |= exec_flag(f);
	ev_submit(s, put_path(s, 0, 0, file_path(f)));
	return 0;
}

/* Two-path ops: rename and link (from, to). */
static __noinline int on_two(__u32 op, int odfd, const char *oname, int ndfd, const char *nname)
{
	struct scratch *s;
	__u32 off;

	if (!op_enabled(op))
		return 0;
	s = ev_begin(op);
	if (!s)
		return 0;
	s->hdr.flags |= SENSOR_F_JOIN | SENSOR_F_JOIN2;
	off = put_at_path(s, 0, 0, odfd, oname);
	ev_submit(s, put_at_path(s, off, 2, ndfd, nname));
	return 0;
}

static __noinline int on_symlink(const char *target, int ndfd, const char *nname)
{
	struct scratch *s;
	__u32 off;

	if (!op_enabled(SENSOR_OP_SYMLINK))
		return 0;
	s = ev_begin(SENSOR_OP_SYMLINK);
	if (!s)
		return 0;
	s->hdr.flags |= SENSOR_F_JOIN2;
	off = put_user_str(s, 0, 0, target);
	off = put_empty(s, off, 1);
	ev_submit(s, put_at_path(s, off, 2, ndfd, nname));
	return 0;
}

/* setxattr family: path (or fd) plus the attribute name as string 2. */
static __noinline int on_xattr(int dfd, const char *name, int fd, const char *attr, __u64 set)
{
	struct scratch *s;
	__u32 off;

	if (!op_enabled(SENSOR_OP_XATTR))
		return 0;
	s = ev_begin(SENSOR_OP_XATTR);
	if (!s)
		return 0;
	s->hdr.arg0 = set;
	if (fd >= 0) {
		off = put_path(s, 0, 0, file_path(fd_file(fd)));
		off = put_empty(s, off, 1);
	} else {
		s->hdr.flags |= SENSOR_F_JOIN;
		off = put_at_path(s, 0, 0, dfd, name);
	}
	ev_submit(s, put_user_str(s, off, 2, attr));
	return 0;
}

/* utimensat/futimesat: a NULL name means the descriptor itself. */
static __always_inline int on_at_or_fd(__u32 op, int dfd, const char *name)
{
	if (!name)
		return on_fd(op, dfd, 0, 0);
	return on_at(op, dfd, name, 0, 0);
}

/* ---- network ---- */

static __always_inline struct sock *fd_sock(int fd, struct file **fp)
{
	struct file *f = fd_file(fd);
	struct socket *sock;

	*fp = f;
	if (!f)
		return NULL;
	sock = BPF_CORE_READ(f, private_data);
	if (!sock)
		return NULL;
	return BPF_CORE_READ(sock, sk);
}

static __always_inline void net_from_sock(struct sensor_net *n, struct sock *sk, bool remote)
{
	n->family = BPF_CORE_READ(sk, __sk_common.skc_family);
	n->socktype = BPF_CORE_READ(sk, sk_type);
	n->protocol = BPF_CORE_READ(sk, sk_protocol);
	if (remote)
		n->port = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	else
		n->port = BPF_CORE_READ(sk, __sk_common.skc_num);
	if (n->family == AF_INET) {
		__u32 a = remote ? BPF_CORE_READ(sk, __sk_common.skc_daddr)
				 : BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);

		__builtin_memcpy(n->addr, &a, 4);
	} else if (n->family == AF_INET6) {
		if (remote)
			BPF_CORE_READ_INTO(&n->addr, sk, __sk_common.skc_v6_daddr);
		else
			BPF_CORE_READ_INTO(&n->addr, sk, __sk_common.skc_v6_rcv_saddr);
	}
}

static __noinline int on_connect(int fd, const void *uaddr, __u32 addrlen)
{
	struct file *f;
	struct sock *sk = fd_sock(fd, &f);
	struct scratch *s;
	__u32 off = 0;
	__u16 family;

	if (!sk || !op_enabled(SENSOR_OP_CONNECT))
		return 0;
	s = ev_begin(SENSOR_OP_CONNECT);
	if (!s)
		return 0;
	net_from_sock(&s->hdr.net, sk, true);
	family = s->hdr.net.family;
	if (family == AF_UNIX) {
		char first = 0;
		const char *path = (const char *)uaddr + 2;

		bpf_probe_read_user(&first, 1, path);
		if (first == '\0' && addrlen > 3) { /* abstract socket name */
			s->hdr.arg0 = 1;
			path++;
		}
		off = put_user_str(s, off, 0, path);
	} else if (family != AF_INET && family != AF_INET6) {
		return 0; /* netlink, packet, vsock...: not a connection */
	}
	ev_submit(s, off);
	return 0;
}

static __noinline int on_local(__u32 op, int fd)
{
	struct file *f;
	struct sock *sk = fd_sock(fd, &f);
	struct scratch *s;
	__u16 family, type;

	if (!sk || !op_enabled(op))
		return 0;
	family = BPF_CORE_READ(sk, __sk_common.skc_family);
	type = BPF_CORE_READ(sk, sk_type);
	if (family != AF_INET && family != AF_INET6)
		return 0;
	if (op == SENSOR_OP_BIND && type != SOCK_DGRAM)
		return 0; /* a stream socket is reported when it listens */
	s = ev_begin(op);
	if (!s)
		return 0;
	net_from_sock(&s->hdr.net, sk, false);
	ev_submit(s, 0);
	return 0;
}

/* First datagram of a socket to a destination given with the call. */
static __noinline int on_sendto(int fd, const void *uaddr)
{
	struct file *f;
	struct sock *sk = fd_sock(fd, &f);
	struct dgram_key k = {};
	struct scratch *s;
	__u16 family = 0, port = 0;
	__u8 one = 1;

	if (!sk || !uaddr || !op_enabled(SENSOR_OP_SENDTO))
		return 0;
	if (BPF_CORE_READ(sk, sk_type) != SOCK_DGRAM)
		return 0;
	bpf_probe_read_user(&family, 2, uaddr);
	bpf_probe_read_user(&port, 2, (const char *)uaddr + 2);
	if (family == AF_INET)
		bpf_probe_read_user(k.addr, 4, (const char *)uaddr + 4);
	else if (family == AF_INET6)
		bpf_probe_read_user(k.addr, 16, (const char *)uaddr + 8);
	else
		return 0;
	k.sock = (__u64)sk;
	k.port = bpf_ntohs(port);
	k.family = family;
	if (bpf_map_lookup_elem(&dgram_seen, &k))
		return 0;
	bpf_map_update_elem(&dgram_seen, &k, &one, BPF_ANY);
	s = ev_begin(SENSOR_OP_SENDTO);
	if (!s)
		return 0;
	s->hdr.net.family = family;
	s->hdr.net.port = k.port;
	s->hdr.net.socktype = SOCK_DGRAM;
	s->hdr.net.protocol = BPF_CORE_READ(sk, sk_protocol);
	__builtin_memcpy(s->hdr.net.addr, k.addr, 16);
	ev_submit(s, 0);
	return 0;
}

static __noinline int on_sendmsg(int fd, const struct user_msghdr *umsg)
{
	void *name = NULL;

	bpf_probe_read_user(&name, sizeof(name), &umsg->msg_name);
	return on_sendto(fd, name);
}

/* ---- system ---- */

static __noinline int on_sys(__u32 op, __u64 arg0, __u64 arg1)
{
	struct scratch *s;

	if (!op_enabled(op))
		return 0;
	s = ev_begin(op);
	if (!s)
		return 0;
	s->hdr.arg0 = arg0;
	s->hdr.arg1 = arg1;
	ev_submit(s, 0);
	return 0;
}

static __noinline int on_mount(int dfd, const char *target, const char *source, const char *fstype)
{
	struct scratch *s;
	__u32 off;

	if (!op_enabled(SENSOR_OP_MOUNT))
		return 0;
	s = ev_begin(SENSOR_OP_MOUNT);
	if (!s)
		return 0;
	s->hdr.flags |= SENSOR_F_JOIN;
	off = put_at_path(s, 0, 0, dfd, target);
	off = source ? put_user_str(s, off, 2, source) : put_empty(s, off, 2);
	ev_submit(s, fstype ? put_user_str(s, off, 3, fstype) : put_empty(s, off, 3));
	return 0;
}

static __always_inline bool ptrace_changes_state(long req)
{
	/* TRACEME, POKETEXT/DATA/USER, SETREGS, SETFPREGS, ATTACH, SEIZE, SETREGSET */
	return req == 0 || req == 4 || req == 5 || req == 6 || req == 13 || req == 15 ||
	       req == 16 || req == 0x4206 || req == 0x4205;
}

static __always_inline bool bpf_cmd_changes_state(long cmd)
{
	/* MAP_CREATE, PROG_LOAD, PROG_ATTACH, RAW_TRACEPOINT_OPEN, BTF_LOAD, LINK_CREATE */
	return cmd == 0 || cmd == 5 || cmd == 8 || cmd == 17 || cmd == 18 || cmd == 28;
}

/* ---- the dispatcher ---- */

static __always_inline int file_syscall(long nr, struct pt_regs *regs, long ret)
{
	long di = regs->di, si = regs->si, dx = regs->dx, r10 = regs->r10;

	switch (nr) {
	case __NR_open: return on_open(ret, si);
	case __NR_openat: return on_open(ret, dx);
	case __NR_creat: return on_open(ret, O_CREAT | O_WRONLY | O_TRUNC);
	case __NR_openat2: {
		__u64 flags = 0;

		bpf_probe_read_user(&flags, sizeof(flags), (void *)dx);
		return on_open(ret, flags);
	}
	case __NR_write:
	case __NR_pwrite64:
	case __NR_writev:
	case __NR_pwritev:
	case __NR_pwritev2:
	case __NR_sendfile:
		return op_enabled(SENSOR_OP_WRITE) && ret > 0 ? on_rw(di, SENSOR_OP_WRITE) : 0;
	case __NR_copy_file_range:
		return op_enabled(SENSOR_OP_WRITE) && ret > 0 ? on_rw(dx, SENSOR_OP_WRITE) : 0;
	case __NR_splice:
		return op_enabled(SENSOR_OP_WRITE) && ret > 0 ? on_rw(r10, SENSOR_OP_WRITE) : 0;
	case __NR_read:
	case __NR_pread64:
	case __NR_readv:
	case __NR_preadv:
	case __NR_preadv2:
		return op_enabled(SENSOR_OP_READ) && ret > 0 ? on_rw(di, SENSOR_OP_READ) : 0;
	case __NR_unlink: return on_at(SENSOR_OP_DELETE, AT_FDCWD, (const char *)di, 0, 0);
	case __NR_unlinkat:
		return on_at(dx & AT_REMOVEDIR ? SENSOR_OP_RMDIR : SENSOR_OP_DELETE, di,
			     (const char *)si, 0, 0);
	case __NR_rmdir: return on_at(SENSOR_OP_RMDIR, AT_FDCWD, (const char *)di, 0, 0);
	case __NR_mkdir: return on_at(SENSOR_OP_MKDIR, AT_FDCWD, (const char *)di, si, 0);
	case __NR_mkdirat: return on_at(SENSOR_OP_MKDIR, di, (const char *)si, dx, 0);
	case __NR_mknod: return on_at(SENSOR_OP_CREATE, AT_FDCWD, (const char *)di, si, 0);
	case __NR_mknodat: return on_at(SENSOR_OP_CREATE, di, (const char *)si, dx, 0);
	case __NR_rename:
		return on_two(SENSOR_OP_RENAME, AT_FDCWD, (const char *)di, AT_FDCWD,
			      (const char *)si);
	case __NR_renameat:
	case __NR_renameat2:
		return on_two(SENSOR_OP_RENAME, di, (const char *)si, dx, (const char *)r10);
	case __NR_link:
		return on_two(SENSOR_OP_LINK, AT_FDCWD, (const char *)di, AT_FDCWD,
			      (const char *)si);
	case __NR_linkat:
		return on_two(SENSOR_OP_LINK, di, (const char *)si, dx, (const char *)r10);
	case __NR_symlink: return on_symlink((const char *)di, AT_FDCWD, (const char *)si);
	case __NR_symlinkat: return on_symlink((const char *)di, si, (const char *)dx);
	case __NR_chmod: return on_at(SENSOR_OP_CHMOD, AT_FDCWD, (const char *)di, si, 0);
	case __NR_fchmod: return on_fd(SENSOR_OP_CHMOD, di, si, 0);
	case __NR_fchmodat:
	case __NR_fchmodat2: return on_at(SENSOR_OP_CHMOD, di, (const char *)si, dx, 0);
	case __NR_chown:
	case __NR_lchown: return on_at(SENSOR_OP_CHOWN, AT_FDCWD, (const char *)di, si, dx);
	case __NR_fchown: return on_fd(SENSOR_OP_CHOWN, di, si, dx);
	case __NR_fchownat: return on_at(SENSOR_OP_CHOWN, di, (const char *)si, dx, r10);
	case __NR_setxattr:
	case __NR_lsetxattr: return on_xattr(AT_FDCWD, (const char *)di, -1, (const char *)si, 1);
	case __NR_removexattr:
	case __NR_lremovexattr:
		return on_xattr(AT_FDCWD, (const char *)di, -1, (const char *)si, 0);
	case __NR_fsetxattr: return on_xattr(0, NULL, di, (const char *)si, 1);
	case __NR_fremovexattr: return on_xattr(0, NULL, di, (const char *)si, 0);
	case __NR_setxattrat: return on_xattr(di, (const char *)si, -1, (const char *)r10, 1);
	case __NR_removexattrat: return on_xattr(di, (const char *)si, -1, (const char *)r10, 0);
	case __NR_utime:
	case __NR_utimes: return on_at(SENSOR_OP_UTIMES, AT_FDCWD, (const char *)di, 0, 0);
	case __NR_utimensat:
	case __NR_futimesat: return on_at_or_fd(SENSOR_OP_UTIMES, di, (const char *)si);
	case __NR_truncate: return on_at(SENSOR_OP_WRITE, AT_FDCWD, (const char *)di, 0, 0);
	case __NR_ftruncate: return on_fd(SENSOR_OP_WRITE, di, 0, 0);
	}
	return -1;
}

static __always_inline int other_syscall(long nr, struct pt_regs *regs, long ret)
{
	long di = regs->di, si = regs->si, dx = regs->dx, r10 = regs->r10, r8 = regs->r8;

	switch (nr) {
	case __NR_connect: return on_connect(di, (const void *)si, dx);
	case __NR_listen: return on_local(SENSOR_OP_LISTEN, di);
	case __NR_bind: return on_local(SENSOR_OP_BIND, di);
	case __NR_sendto: return on_sendto(di, (const void *)r8);
	case __NR_sendmsg: return on_sendmsg(di, (const struct user_msghdr *)si);
	case __NR_sendmmsg:
		/* msgvec[0].msg_hdr is at offset 0: its destination stands for all */
		return on_sendmsg(di, (const struct user_msghdr *)si);
	case __NR_init_module: return on_sys(SENSOR_OP_MODULE, si, 0);
	case __NR_finit_module: return on_fd(SENSOR_OP_MODULE, di, 0, 0);
	case __NR_ptrace: return ptrace_changes_state(di) ? on_sys(SENSOR_OP_PTRACE, di, si) : 0;
	case __NR_mount:
		return on_mount(AT_FDCWD, (const char *)si, (const char *)di, (const char *)dx);
	case __NR_move_mount: return on_mount(dx, (const char *)r10, NULL, NULL);
	case __NR_setuid:
	case __NR_setreuid:
	case __NR_setresuid: return on_sys(SENSOR_OP_SETUID, nr, di);
	case __NR_setgid:
	case __NR_setregid:
	case __NR_setresgid:
	case __NR_setgroups: return on_sys(SENSOR_OP_SETGID, nr, di);
	case __NR_capset: return on_sys(SENSOR_OP_CAPSET, 0, 0);
	case __NR_bpf: return bpf_cmd_changes_state(di) ? on_sys(SENSOR_OP_BPF, di, 0) : 0;
	case __NR_io_uring_setup: {
		__u32 flags = 0;

		bpf_probe_read_user(&flags, sizeof(flags), (const char *)si + 8);
		return on_sys(SENSOR_OP_IO_URING, di, flags);
	}
	}
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(capture_sys_exit, struct pt_regs *regs, long ret)
{
	struct task_struct *task;
	long nr;

	if (!in_scope())
		return 0;
	nr = regs->orig_ax;
	if (ret < 0 && !(ret == -EINPROGRESS && nr == __NR_connect))
		return 0; /* failed calls change nothing */
	task = bpf_get_current_task_btf();
	if (task->thread_info.status & TS_COMPAT)
		return 0; /* ia32 numbers differ: see docs/known-limits.md */
	if (file_syscall(nr, regs, ret) >= 0)
		return 0;
	return other_syscall(nr, regs, ret);
}

/* ---- processes ---- */

SEC("tp_btf/sched_process_fork")
int BPF_PROG(capture_fork, struct task_struct *parent, struct task_struct *child)
{
	if (!in_scope())
		return 0;
	if (child->pid != child->tgid)
		return 0; /* a new thread, not a process */
	return on_sys(SENSOR_OP_FORK, child->tgid, 0);
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(capture_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	struct scratch *s;
	const char *filename;
	__u64 start, end, n;
	__u32 off, o;

	if (!in_scope() || !op_enabled(SENSOR_OP_EXEC))
		return 0;
	s = ev_begin(SENSOR_OP_EXEC);
	if (!s)
		return 0;
	off = put_path(s, 0, 0, &bprm->file->f_path);
	start = BPF_CORE_READ(p, mm, arg_start);
	end = BPF_CORE_READ(p, mm, arg_end);
	n = end > start ? end - start : 0;
	if (n > SENSOR_ARGV_MAX)
		n = SENSOR_ARGV_MAX;
	n &= (SENSOR_STR_MAX - 1); /* a bound the verifier can see */
	o = off & (SENSOR_DATA_MAX - 1);
	if (n == 0 || bpf_probe_read_user(&s->data[o], n, (void *)start)) {
		off = put_empty(s, off, 1);
	} else {
		s->data[(o + n - 1) & (SENSOR_DATA_MAX + SENSOR_STR_MAX - 1)] = '\0';
		s->hdr.len[1] = n;
		off += n;
	}
	filename = BPF_CORE_READ(bprm, filename);
	off = put_kernel_str(s, off, 2, filename);
	/*
	 * A script: binfmt_script replaced interp with the interpreter's name.
	 * Keep the cwd for a relative script name so user space can name the
	 * script (a dropped script must not hide behind "/usr/bin/dash").
	 */
	if (BPF_CORE_READ(bprm, interp) != filename) {
		char first = 0;

		s->hdr.flags |= SENSOR_F_SCRIPT;
		bpf_probe_read_kernel(&first, 1, filename);
		if (first != '/') {
			struct task_struct *task = bpf_get_current_task_btf();

			off = put_path(s, off, 3, &task->fs->pwd);
		}
	}
	ev_submit(s, off);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(capture_exit, struct task_struct *p)
{
	if (!in_scope())
		return 0;
	/* report the process, not each thread: only when the last one leaves */
	if (BPF_CORE_READ(p, signal, live.counter) != 0)
		return 0;
	return on_sys(SENSOR_OP_EXIT, BPF_CORE_READ(p, exit_code), 0);
}
