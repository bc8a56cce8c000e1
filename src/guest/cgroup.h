/*
 * cgroup.h - cgroup v2 leaves: the kill switch and the sensor's scope.
 *
 * A guest (or a standalone run) lives in its own v2 cgroup, so the kernel
 * sensor can filter by subtree and the whole tree, daemons included, can be
 * killed at once with cgroup.kill.  Works with a pure v2 host (/sys/fs/cgroup)
 * and a hybrid one (/sys/fs/cgroup/unified).
 */
#ifndef CAPTURE_CGROUP_H
#define CAPTURE_CGROUP_H

#include <stddef.h>
#include <sys/types.h>

/* Finds the cgroup2 mount point; 0, or -1 with errno = ENOENT if there is none. */
int cgroup_v2_root(char *out, size_t len);

/* Creates ROOT/capture/NAME (and ROOT/capture); writes its path into OUT. 0 or -1 (errno). */
int cgroup_create(const char *name, char *out, size_t len);

/* Kills every process in the cgroup (cgroup.kill, or one by one on kernels without it). */
int cgroup_kill(const char *path);

/* 1 if any process is in the cgroup, 0 if none, -1 on error. */
int cgroup_populated(const char *path);

/*
 * Limits memory (bytes, 0 = none) and pids (0 = none) of the tree of PID.
 * Uses V2_PATH's own memory.max/pids.max when the v2 hierarchy has those
 * controllers; otherwise (hybrid hosts) makes v1 groups CONTROLLER/capture/
 * NAME, writes the limit and moves PID there; their paths go to V1_MEMORY and
 * V1_PIDS ("" if not made) so the caller can remove them.  0 or -1 (errno).
 */
int cgroup_apply_limits(const char *v2_path, const char *name, pid_t pid, unsigned long long memory,
			unsigned pids, char *v1_memory, size_t mlen, char *v1_pids, size_t plen);

/*
 * Removes ROOT/capture/PREFIX<pid> cgroups whose pid no longer exists (left
 * by a client that was killed), killing what is still in them.
 */
void cgroup_cleanup_stale(const char *prefix);

/* Removes the (empty) cgroup, retrying while the kernel still frees it. 0 or -1. */
int cgroup_remove(const char *path);

#endif
