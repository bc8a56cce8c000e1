/*
 * sensor_probe.c - what this kernel offers the sensor (capture-client --self-test).
 *
 * Each check does the real thing once (create a ring buffer, load the sensor,
 * load a two-instruction LSM/fentry program) rather than guessing from
 * kernel config, because lockdown and ftrace restrictions only show up when
 * a program is actually loaded.
 */
#include "sensor/sensor.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include "sensor.skel.h"

static int quiet_log(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	(void)level;
	(void)fmt;
	(void)ap;
	return 0;
}

static int has_cgroup2(void)
{
	FILE *f = fopen("/proc/self/mounts", "re");
	char line[4096];
	int found = 0;

	if (!f)
		return 0;
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, " cgroup2 ") != NULL;
	fclose(f);
	return found;
}

/* Loads "r0 = 0; exit" as TYPE/ATTACH against kernel function NAME; 0 or -errno. */
static int try_load(enum bpf_prog_type type, enum bpf_attach_type attach, const char *name)
{
	struct bpf_insn insns[] = {
	    {.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0},
	    {.code = BPF_JMP | BPF_EXIT},
	};
	struct bpf_prog_load_opts opts = {
	    .sz = sizeof(opts),
	    .expected_attach_type = attach,
	};
	int id = libbpf_find_vmlinux_btf_id(name, attach);
	int fd;

	if (id < 0)
		return id;
	opts.attach_btf_id = (__u32)id;
	fd = bpf_prog_load(type, "capture_probe", "GPL", insns, 2, &opts);
	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

void sensor_probe_features(struct sensor_features *f)
{
	libbpf_print_fn_t old = libbpf_set_print(quiet_log);
	struct sensor_bpf *skel;
	int fd;

	memset(f, 0, sizeof(*f));
	f->btf = access("/sys/kernel/btf/vmlinux", R_OK) == 0;
	fd = bpf_map_create(BPF_MAP_TYPE_RINGBUF, NULL, 0, 0, 4096, NULL);
	f->ringbuf = fd >= 0;
	if (fd >= 0)
		close(fd);
	skel = sensor_bpf__open_and_load();
	f->tracing = skel != NULL;
	sensor_bpf__destroy(skel);
	f->cgroup_v2 = has_cgroup2();
	f->lsm_errno = -try_load(BPF_PROG_TYPE_LSM, BPF_LSM_MAC, "file_open");
	f->lsm = f->lsm_errno == 0;
	f->fentry_errno = -try_load(BPF_PROG_TYPE_TRACING, BPF_TRACE_FENTRY, "vfs_unlink");
	f->fentry = f->fentry_errno == 0;
	libbpf_set_print(old);
}
