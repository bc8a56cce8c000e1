/*
 * sensor_event.h - the record the kernel sensor writes into the ring buffer.
 *
 * The only header shared by src/sensor/sensor.bpf.c and user space, so it
 * uses only fixed-width __u types, largest fields first.  A record is a
 * struct sensor_event_hdr followed by hdr.len[0..SENSOR_NSTR-1] bytes of
 * string data, each string NUL-terminated (the argv blob of an exec is a
 * sequence of NUL-terminated words).  The decoder in sensor.c checks that
 * the record size equals sizeof(hdr) + the sum of len[] before reading.
 */
#ifndef CAPTURE_SENSOR_EVENT_H
#define CAPTURE_SENSOR_EVENT_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define SENSOR_NSTR           4    /* strings per record */
#define SENSOR_STR_MAX        4096 /* bytes of one string, NUL included (PATH_MAX) */
#define SENSOR_DATA_MAX       (SENSOR_NSTR * SENSOR_STR_MAX)
#define SENSOR_ARGV_MAX       2048 /* bytes of argv kept for an exec */
#define SENSOR_COMM_LEN       16
#define SENSOR_EVENT_HDR_SIZE 104

/* Scope of the sensor, decided in the kernel (rodata scope_mode). */
enum sensor_scope {
	SENSOR_SCOPE_CGROUP = 1, /* the cgroup v2 subtree in the scope_cgroup map */
	SENSOR_SCOPE_SYSTEM = 2, /* every process except client_tgid */
};

enum sensor_op {
	SENSOR_OP_NONE = 0, /* never emitted */
	/* process; the record's pid/tid are the acting task */
	SENSOR_OP_FORK, /* internal, not a state change: arg0 = child tgid */
	SENSOR_OP_EXEC, /* s0 image path, s1 argv blob, s2 filename as passed,
			 * s3 cwd if SENSOR_F_SCRIPT and s2 is relative */
	SENSOR_OP_EXIT, /* arg0 = exit code word (status << 8 | signal) */
	/* file; paths are either s0 resolved, or s0 dir + s1 name (SENSOR_F_JOIN) */
	SENSOR_OP_OPEN,   /* read-only open, arg0 = open flags, arg1 = f_mode */
	SENSOR_OP_READ,   /* first read of an opened regular file */
	SENSOR_OP_CREATE, /* open that created the file (or mknod), arg0 = flags */
	SENSOR_OP_WRITE,  /* open for write/trunc, truncate, or first write */
	SENSOR_OP_DELETE,
	SENSOR_OP_RENAME,  /* s0/s1 from dir/name, s2/s3 to dir/name */
	SENSOR_OP_LINK,    /* s0/s1 existing dir/name, s2/s3 new dir/name */
	SENSOR_OP_SYMLINK, /* s0 target as given, s2/s3 new dir/name */
	SENSOR_OP_MKDIR,
	SENSOR_OP_RMDIR,
	SENSOR_OP_CHMOD, /* arg0 = mode */
	SENSOR_OP_CHOWN, /* arg0 = uid, arg1 = gid (as passed; -1 = unchanged) */
	SENSOR_OP_XATTR, /* s2 = attribute name, arg0 = 1 set / 0 remove */
	SENSOR_OP_UTIMES,
	/* network; net.* filled in */
	SENSOR_OP_CONNECT, /* connect() accepted (0 or EINPROGRESS); unix: s0 path */
	SENSOR_OP_LISTEN,  /* listen() on a TCP socket, net = local address */
	SENSOR_OP_BIND,    /* bind() of a UDP socket, net = local address */
	SENSOR_OP_SENDTO,  /* first datagram of a socket to a new destination */
	/* system */
	SENSOR_OP_MODULE, /* init_module/finit_module; s0 = file (finit) */
	SENSOR_OP_PTRACE, /* arg0 = request, arg1 = target pid */
	SENSOR_OP_MOUNT,  /* s0 = target dir/name pair (F_JOIN), s2 = source, s3 = fstype */
	SENSOR_OP_SETUID, /* arg0 = syscall nr, arg1 = first id argument */
	SENSOR_OP_SETGID, /* arg0 = syscall nr, arg1 = first id argument */
	SENSOR_OP_CAPSET,
	SENSOR_OP_BPF,      /* arg0 = bpf command */
	SENSOR_OP_IO_URING, /* io_uring_setup: arg0 = entries, arg1 = setup flags */
	SENSOR_OP_MAX
};

/* hdr.flags */
#define SENSOR_F_JOIN   0x1  /* s0 is a directory and s1 a name relative to it */
#define SENSOR_F_JOIN2  0x2  /* s2 is a directory and s3 a name relative to it */
#define SENSOR_F_TRUNC  0x4  /* a string was cut to fit (path deeper than SENSOR_STR_MAX) */
#define SENSOR_F_DIR    0x8  /* the object is a directory */
#define SENSOR_F_SCRIPT 0x10 /* exec of a script: s0 is its interpreter, s2 the script */
#define SENSOR_F_EXEC   0x20 /* create/write: the file is a regular file with an execute bit */

struct sensor_net {
	__u8 addr[16];  /* IPv4 in the first 4 bytes, or IPv6 */
	__u16 port;     /* host byte order */
	__u16 family;   /* AF_INET, AF_INET6, AF_UNIX */
	__u16 socktype; /* SOCK_STREAM, SOCK_DGRAM, ... */
	__u16 protocol; /* IPPROTO_TCP, IPPROTO_UDP, ... */
};

struct sensor_event_hdr {
	__u64 ts_ns;     /* bpf_ktime_get_boot_ns(): CLOCK_BOOTTIME */
	__u64 cgroup_id; /* cgroup v2 id of the acting task */
	__u64 arg0;      /* op-specific, see enum sensor_op */
	__u64 arg1;
	__u32 pid; /* tgid of the acting process (host pid namespace) */
	__u32 tid;
	__u32 ppid; /* tgid of the real parent */
	__u32 uid;
	__u32 op;               /* enum sensor_op */
	__u32 flags;            /* SENSOR_F_* */
	__u16 len[SENSOR_NSTR]; /* bytes of each string in data, NUL included; 0 = absent */
	char comm[SENSOR_COMM_LEN];
	struct sensor_net net;
};

#endif
