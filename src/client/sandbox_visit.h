/*
 * sandbox_visit.h - one run of a program in a fresh sandbox guest, as
 * capture-client sees it: services namespace and DNS stub (for network
 * modes), the sandbox itself, fanotify on its upper layer, and at the end
 * the merge of fanotify-only file changes, the collection archive and the
 * revert.
 *
 * Merging: the kernel sensor reports most file changes first-hand (with
 * the syscall's details); fanotify sees every change on the upper layer,
 * including those the sensor cannot (io_uring, in-kernel copy-up).  A path
 * the sensor reported anything for is covered; every other changed path is
 * reported once per action from fanotify, with the pid fanotify names.
 */
#ifndef CAPTURE_SANDBOX_VISIT_H
#define CAPTURE_SANDBOX_VISIT_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/event.h"
#include "guest/netns.h"

struct event_builder;
struct proc_table;

struct sandbox_visit_opts {
	enum net_mode net;
	const char *root;          /* lower layer; NULL = "/" */
	const char *collect_dir;   /* write <dir>/<name>.zip; NULL = no archive */
	const char *services_name; /* NULL = NET_SERVICES_DEFAULT */
	uint64_t tmpfs_bytes;      /* 0 = default */
	uint64_t memory_bytes;     /* 0 = no limit */
	unsigned pids_max;         /* 0 = no limit */
	bool userns;
	uint16_t server_port; /* blocked for every guest; 0 = 7070 */
	const char *user;     /* guest user name; NULL = "capture" (home /home/USER) */
	uid_t uid;            /* guest uid and gid; 0 = 4242 */
	/* fds the program gets as 3, 4, ... (sandbox_config.program_fds); borrowed until start */
	const int *program_fds;
	size_t n_program_fds;
};

struct sandbox_visit_result {
	size_t created, modified, attributes, deleted, dirs, other; /* collection counts */
	uint64_t fanotify_only; /* file changes only fanotify saw, reported at the end */
	uint64_t fanotify_lost; /* fanotify queue overflows */
	uint64_t pcap_packets, pcap_dropped;
	bool tmpfs_full;
	uint64_t memory_peak;   /* bytes, 0 if unknown (sandbox_memory_peak()) */
	char archive[PATH_MAX]; /* "" if none */
	char name[64];
};

/* Reports one event (the monitor's classify-and-write path). */
typedef void (*sandbox_visit_emit_fn)(const struct capture_event *ev, void *ctx);

struct sandbox_visit;

int sandbox_visit_create(const struct sandbox_visit_opts *opts, struct sandbox_visit **out,
			 char *err, size_t errlen);
/* The sensor's scope: the program's cgroup. */
const char *sandbox_visit_scope(const struct sandbox_visit *v);
/* Starts ARGV; makes B treat the guest init as the harness. */
int sandbox_visit_start(struct sandbox_visit *v, char *const argv[], struct event_builder *b,
			char *err, size_t errlen);
/* Host pid of the guest init (in the guest's namespaces), 0 before start. */
pid_t sandbox_visit_init_pid(const struct sandbox_visit *v);
/* Timer work: packet capture and fanotify reading. */
void sandbox_visit_tick(struct sandbox_visit *v);
/* A child of the client was reaped (it may be the guest init). */
void sandbox_visit_child_exited(struct sandbox_visit *v, pid_t pid, int status);
/* 1 while the program's tree lives, 0 when it is gone, -1 on error. */
int sandbox_visit_running(const struct sandbox_visit *v);
void sandbox_visit_kill(struct sandbox_visit *v);
/* Exit code of the program (the guest init passes it on; 128+N for signal N). */
int sandbox_visit_program_code(const struct sandbox_visit *v);
/* Remembers that the sensor reported a change of a guest path (file events only). */
void sandbox_visit_note(struct sandbox_visit *v, const struct capture_event *ev);

/*
 * Ends the visit: reads the last fanotify events, reports the fanotify-only
 * changes through EMIT (PROCS names their processes), stops the capture,
 * collects the upper layer and writes the archive.  0 or -1 with ERR.
 */
int sandbox_visit_finish(struct sandbox_visit *v, struct proc_table *procs,
			 sandbox_visit_emit_fn emit, void *ctx, struct sandbox_visit_result *res,
			 char *err, size_t errlen);
/* Reverts the guest and frees V (always safe). 0, or -1 if residue remained. */
int sandbox_visit_revert(struct sandbox_visit *v);

#endif
