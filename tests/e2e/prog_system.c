/*
 * prog_system.c - one of each "system" state change that can succeed on a
 * locked-down kernel: ptrace attach, mount (in a private mount namespace,
 * so the host is untouched), setuid, setgid, capset and a BPF map.
 *
 *   prog_system MOUNT_DIR
 *
 * Prints "pid=<pid> traced=<pid>".  Needs root.
 */
#include <err.h>
#include <linux/bpf.h>
#include <linux/capability.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static pid_t traced(void)
{
	pid_t pid = fork();
	int status;

	if (pid < 0)
		err(1, "fork");
	if (pid == 0) {
		for (;;)
			pause();
	}
	if (ptrace(PTRACE_ATTACH, pid, NULL, NULL) < 0)
		err(1, "ptrace attach");
	if (waitpid(pid, &status, 0) < 0 || ptrace(PTRACE_DETACH, pid, NULL, NULL) < 0)
		err(1, "ptrace detach");
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return pid;
}

static void mounts(const char *dir)
{
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		err(1, "private mount namespace");
	if (mount("capture-test", dir, "tmpfs", 0, "size=1m") < 0)
		err(1, "mount %s", dir);
}

static void creds(void)
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct data[2];

	if (setgid(0) < 0 || setuid(0) < 0)
		err(1, "setgid/setuid");
	if (syscall(SYS_capget, &hdr, data) < 0 || syscall(SYS_capset, &hdr, data) < 0)
		err(1, "capget/capset");
}

static void bpf_map(void)
{
	union bpf_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.map_type = BPF_MAP_TYPE_ARRAY;
	attr.key_size = 4;
	attr.value_size = 4;
	attr.max_entries = 1;
	if (syscall(SYS_bpf, BPF_MAP_CREATE, &attr, sizeof(attr)) < 0)
		err(1, "bpf map create");
}

int main(int argc, char **argv)
{
	pid_t t;

	if (argc != 2)
		errx(2, "usage: prog_system MOUNT_DIR");
	t = traced();
	mounts(argv[1]);
	creds();
	bpf_map();
	printf("pid=%d traced=%d\n", (int)getpid(), (int)t);
	return 0;
}
