/*
 * cgroup.c - see cgroup.h.
 */
#include "guest/cgroup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/util.h"

int cgroup_v2_root(char *out, size_t len)
{
	CLEANUP_FILE FILE *f = fopen("/proc/self/mounts", "re");
	char dev[256], dir[4096], type[64];

	if (!f)
		return -1;
	while (fscanf(f, "%255s %4095s %63s %*[^\n]", dev, dir, type) == 3) {
		if (strcmp(type, "cgroup2") == 0) {
			snprintf(out, len, "%s", dir);
			return 0;
		}
	}
	errno = ENOENT;
	return -1;
}

int cgroup_create(const char *name, char *out, size_t len)
{
	char root[4096], base[4200];

	if (cgroup_v2_root(root, sizeof(root)) < 0)
		return -1;
	snprintf(base, sizeof(base), "%s/capture", root);
	if (mkdir(base, 0755) < 0 && errno != EEXIST)
		return -1;
	if ((size_t)snprintf(out, len, "%s/%s", base, name) >= len) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (mkdir(out, 0755) < 0)
		return -1;
	return 0;
}

static int write_file(const char *dir, const char *file, const char *text)
{
	char path[4200];
	CLEANUP_FD int fd = -1;
	size_t n = strlen(text);

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (write(fd, text, n) != (ssize_t)n)
		return -1;
	return 0;
}

/* Fallback for kernels before 5.14: signal each listed pid until none is left. */
static int kill_each(const char *dir)
{
	char path[4200];

	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	for (int round = 0; round < 50; round++) {
		CLEANUP_FILE FILE *f = fopen(path, "re");
		int pid, any = 0;

		if (!f)
			return -1;
		while (fscanf(f, "%d", &pid) == 1) {
			kill(pid, SIGKILL);
			any = 1;
		}
		if (!any)
			return 0;
		usleep(10000);
	}
	errno = EBUSY;
	return -1;
}

int cgroup_kill(const char *path)
{
	if (write_file(path, "cgroup.kill", "1") == 0)
		return 0;
	return kill_each(path);
}

int cgroup_populated(const char *path)
{
	char file[4200], key[64];
	CLEANUP_FILE FILE *f = NULL;
	int val;

	snprintf(file, sizeof(file), "%s/cgroup.events", path);
	f = fopen(file, "re");
	if (!f)
		return -1;
	while (fscanf(f, "%63s %d", key, &val) == 2) {
		if (strcmp(key, "populated") == 0)
			return val != 0;
	}
	errno = EINVAL;
	return -1;
}

/* One limit: the v2 file if it exists, else a v1 group with PID moved in. */
static int apply_limit(const char *v2_path, const char *v2_file, const char *controller,
		       const char *v1_file, const char *name, pid_t pid, const char *value,
		       char *v1_dir, size_t len)
{
	char path[4200], pidtext[32];

	v1_dir[0] = '\0';
	snprintf(path, sizeof(path), "%s/%s", v2_path, v2_file);
	if (access(path, W_OK) == 0)
		return write_file(v2_path, v2_file, value);
	snprintf(path, sizeof(path), "/sys/fs/cgroup/%s/capture", controller);
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		return -1;
	snprintf(v1_dir, len, "/sys/fs/cgroup/%s/capture/%s", controller, name);
	if (mkdir(v1_dir, 0755) < 0) {
		v1_dir[0] = '\0';
		return -1;
	}
	snprintf(pidtext, sizeof(pidtext), "%d", (int)pid);
	if (write_file(v1_dir, v1_file, value) < 0 ||
	    write_file(v1_dir, "cgroup.procs", pidtext) < 0)
		return -1;
	return 0;
}

int cgroup_apply_limits(const char *v2_path, const char *name, pid_t pid, unsigned long long memory,
			unsigned pids, char *v1_memory, size_t mlen, char *v1_pids, size_t plen)
{
	char value[32];

	v1_memory[0] = v1_pids[0] = '\0';
	if (memory) {
		snprintf(value, sizeof(value), "%llu", memory);
		if (apply_limit(v2_path, "memory.max", "memory", "memory.limit_in_bytes", name, pid,
				value, v1_memory, mlen) < 0)
			return -1;
	}
	if (pids) {
		snprintf(value, sizeof(value), "%u", pids);
		if (apply_limit(v2_path, "pids.max", "pids", "pids.max", name, pid, value, v1_pids,
				plen) < 0)
			return -1;
	}
	return 0;
}

int cgroup_remove(const char *path)
{
	struct timespec pause = {0, 2L * 1000 * 1000};

	for (int i = 0; i < 500; i++) {
		if (rmdir(path) == 0 || errno == ENOENT)
			return 0;
		if (errno != EBUSY)
			return -1;
		nanosleep(&pause, NULL);
	}
	return -1;
}

void cgroup_cleanup_stale(const char *prefix)
{
	char root[4096], base[4200];
	size_t n = strlen(prefix);
	struct dirent *e;
	DIR *d;

	if (cgroup_v2_root(root, sizeof(root)) < 0)
		return;
	snprintf(base, sizeof(base), "%s/capture", root);
	d = opendir(base);
	while (d && (e = readdir(d))) {
		char path[4500], *end;
		long pid;

		if (strncmp(e->d_name, prefix, n) != 0)
			continue;
		pid = strtol(e->d_name + n, &end, 10);
		if (pid <= 0 || *end || kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue;
		snprintf(path, sizeof(path), "%s/%.255s", base, e->d_name);
		if (cgroup_populated(path) > 0)
			cgroup_kill(path);
		cgroup_remove(path);
	}
	if (d)
		closedir(d);
}
