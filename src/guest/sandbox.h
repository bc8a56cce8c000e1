/*
 * sandbox.h - the embedded default guest: a disposable sandbox per visit.
 *
 * create  -> a cgroup v2 pair (GUEST for the guest init, GUEST/app for the
 *            program: the sensor's scope), limits, a size-limited tmpfs with
 *            the overlay's upper and work directories, generated /etc files;
 * start   -> clone3(CLONE_INTO_CGROUP | NEWNS|NEWPID|NEWUTS|NEWIPC|NEWNET|
 *            NEWCGROUP): the guest init mounts the overlay (lower = the host's
 *            / or a prepared root), /proc, read-only /sys, a minimal /dev,
 *            pivot_root()s, optionally enters a user namespace, and starts the
 *            program in GUEST/app as an unprivileged user with no capabilities
 *            and no_new_privs; the client meanwhile links the guest's network
 *            namespace to the services namespace and starts the packet capture;
 * collect -> the overlay's upper layer is the list of changes (collector.h);
 * revert  -> cgroup.kill, reap, unmount, discard the tmpfs, remove cgroups and
 *            the veth.  Nothing of the guest survives; the host is not changed.
 *
 * Errors name the step and the path and never leave residue.
 */
#ifndef CAPTURE_SANDBOX_H
#define CAPTURE_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <limits.h>
#include <stdint.h>
#include <sys/types.h>

#include "guest/netns.h"

#define SANDBOX_TMPFS_DEFAULT   (512ull << 20) /* bytes of upper layer a guest may write */
#define SANDBOX_UID_DEFAULT     4242
#define SANDBOX_USER_DEFAULT    "capture"
#define SANDBOX_HOSTNAME        "capture-guest"
#define SANDBOX_BASE_DIR        "/run/capture/sandbox" /* tmpfs mounts live below */
#define SANDBOX_SERVICES_ADDR   "10.201.255.1"         /* the guests' nameserver: the DNS stub */
#define SANDBOX_MAX_PROGRAM_FDS 64                     /* extra fds a program may get (3..66) */

struct sandbox_config {
	const char *root;              /* lower layer; NULL = "/" */
	uint64_t tmpfs_bytes;          /* upper layer limit; 0 = SANDBOX_TMPFS_DEFAULT */
	uid_t uid;                     /* guest user; 0 = SANDBOX_UID_DEFAULT (root is refused) */
	gid_t gid;                     /* 0 = same as uid */
	const char *user;              /* NULL = SANDBOX_USER_DEFAULT; home is /home/USER */
	bool userns;                   /* enter a user namespace after the mounts */
	uint64_t memory_bytes;         /* 0 = no limit */
	unsigned pids_max;             /* 0 = no limit */
	enum net_mode net;             /* NET_NONE, NET_SERVICES or NET_NAT */
	struct net_services *services; /* borrowed; required unless net == NET_NONE */
	unsigned net_index;            /* which /30 of the services network this guest uses */
	const char
	    *nameserver; /* resolv.conf; NULL = SANDBOX_SERVICES_ADDR (or 127.0.0.1 for none) */
	const char *pcap_path; /* capture the guest's traffic here; NULL = no capture */
	char *const *env;      /* extra "NAME=value" entries for the program; may be NULL */
	/*
	 * Extra fds for the program: program_fds[i] becomes its fd 3+i (a
	 * browser's control pipes); every other fd above 2 is closed.  Borrowed
	 * until sandbox_start() returns; the guest init closes its copies once
	 * the program is forked.  At most SANDBOX_MAX_PROGRAM_FDS.
	 */
	const int *program_fds;
	size_t n_program_fds;
};

enum sandbox_step {
	SBX_STEP_CONFIG = 0,
	SBX_STEP_CGROUP,
	SBX_STEP_LIMITS,
	SBX_STEP_TMPFS,
	SBX_STEP_FILES,
	SBX_STEP_CLONE,
	SBX_STEP_NETWORK,
	SBX_STEP_PCAP,
	SBX_STEP_MOUNT,
	SBX_STEP_PIVOT,
	SBX_STEP_HOSTNAME,
	SBX_STEP_USERNS,
	SBX_STEP_USER,
	SBX_STEP_EXEC,
	SBX_STEP_REVERT,
};

struct sandbox_error {
	enum sandbox_step step;
	int errnum;     /* errno of the failing call, 0 if none */
	char path[512]; /* what it was done to */
	char msg[1024]; /* the whole sentence, with a hint for known causes */
};

/* One mount/setup operation of the guest init, planned before clone (testable). */
enum sandbox_op_type {
	SBX_OP_PRIVATE = 0, /* make every mount private (nothing propagates to the host) */
	SBX_OP_OVERLAY,     /* overlay: data = options, dest = merged dir */
	SBX_OP_MOUNT,       /* mount src (fs type data2) on dest with flags, options data */
	SBX_OP_BIND,        /* bind src on dest (read-only if SBX_F_RDONLY) */
	SBX_OP_MKDIR,       /* mkdir dest (mode), chown to uid/gid if SBX_F_OWNED */
	SBX_OP_MKNOD_FILE,  /* create an empty file dest (a bind target) */
	SBX_OP_SYMLINK,     /* symlink src -> dest */
};
#define SBX_F_RDONLY 0x1
#define SBX_F_OWNED  0x2

struct sandbox_op {
	enum sandbox_op_type type;
	char src[1024];
	char dest[1024];
	char data[PATH_MAX + 1536]; /* overlay options hold the lower directory's path */
	char fstype[32];
	unsigned long mountflags;
	unsigned flags;
	mode_t mode;
};

struct sandbox;

/*
 * Builds the guest init's setup plan for CFG with the sandbox directory BASE
 * (holding upper/, work/, merged/, etc/) into OPS (room for MAX).  Returns the
 * number of operations, or -1 if MAX is too small.  Nothing is touched.
 */
int sandbox_plan(const struct sandbox_config *cfg, const char *base, struct sandbox_op *ops,
		 int max);

/*
 * In a child about to exec: makes FDS[i] its fd 3+i (N at most
 * SANDBOX_MAX_PROGRAM_FDS, inheritable), moves KEEP (a close-on-exec status
 * pipe, or -1) above them and closes every other fd above 2.  Returns the
 * new number of KEEP (or 0 with KEEP -1), or -1 with errno (fds unchanged
 * only as far as the failing step).  Async-signal-safe.
 */
int sandbox_pass_fds(const int *fds, size_t n, int keep);

/* Creates everything up to the clone; NAME must be unique among live sandboxes. */
int sandbox_create(const struct sandbox_config *cfg, const char *name, struct sandbox **out,
		   struct sandbox_error *err);
/* The cgroup v2 directory of the program and its descendants (the sensor's scope). */
const char *sandbox_app_cgroup(const struct sandbox *sb);
/* The tmpfs directory holding upper/ and work/ (for fanotify), and the lower layer. */
const char *sandbox_tmpfs_dir(const struct sandbox *sb);
const char *sandbox_lower_dir(const struct sandbox *sb);
/* Paths the sandbox itself made in the upper layer (not changes of the guest). */
bool sandbox_is_own_path(const struct sandbox *sb, const char *guest_path);

/*
 * Starts ARGV in the guest and returns once the program has been exec'd
 * (or with the step that failed: "program not found" is SBX_STEP_EXEC).
 */
int sandbox_start(struct sandbox *sb, char *const argv[], struct sandbox_error *err);
/* Host pid of the guest init (its actions are the harness's, not the program's). */
pid_t sandbox_init_pid(const struct sandbox *sb);
/*
 * Highest memory use of the guest so far in bytes (v2 memory.peak of its
 * cgroup, else the v1 group of --memory), 0 if the host keeps no count.
 */
uint64_t sandbox_memory_peak(const struct sandbox *sb);
/* 1 while any process of the program's tree lives, 0 when none, -1 on error. */
int sandbox_running(const struct sandbox *sb);
/* Work to do on the client's timer: packet capture dispatch. */
void sandbox_tick(struct sandbox *sb);
/* Kills the whole guest now (timeout, ^C). */
void sandbox_kill(struct sandbox *sb);
/* Wait status of the program itself (valid once the tree has exited). */
int sandbox_program_status(const struct sandbox *sb);
/* True if the guest filled its tmpfs (writes failed with ENOSPC). */
bool sandbox_tmpfs_full(const struct sandbox *sb);
/*
 * Tells the sandbox that the caller reaped PID with STATUS (a client reaps
 * all its children with waitpid(-1); the guest init is one of them).
 */
void sandbox_child_exited(struct sandbox *sb, pid_t pid, int status);
/* True once the guest init has exited (every guest process is gone). */
bool sandbox_exited(const struct sandbox *sb);
/*
 * Stops the packet capture and flushes the pcap file (before it is
 * archived); PACKETS and DROPPED get its counts.  -1 if there was none.
 */
int sandbox_stop_capture(struct sandbox *sb, uint64_t *packets, uint64_t *dropped);

/*
 * Kills what is left, stops the capture, unmounts and discards the upper
 * layer, removes cgroups and the veth, frees SB.  Safe on a half-created
 * sandbox.  0, or -1 with ERR if something could not be removed.
 */
int sandbox_revert(struct sandbox *sb, struct sandbox_error *err);

/*
 * Reverts what a killed client left behind: every sandbox whose name starts
 * with PREFIX followed by the pid of a process that no longer exists ("c1234-0").
 * Returns how many were removed.
 */
int sandbox_cleanup_stale(const char *prefix);

#endif
