/*
 * selftest.c - see selftest.h.  Required: BTF, ring buffer, tp_btf programs
 * (the sensor loads), a cgroup2 mount, root.  Optional: BPF LSM and fentry,
 * which would allow blocking and exact d_path; their absence is reported
 * but is not a failure.
 */
#include "client/selftest.h"

#include <string.h>
#include <unistd.h>

#include "sensor/sensor.h"

static int line(FILE *out, const char *what, int ok, int required, const char *missing)
{
	fprintf(out, "  %-34s %s%s%s\n", what,
		ok         ? "ok"
		: required ? "MISSING"
			   : "not available",
		ok ? "" : " - ", ok ? "" : missing);
	return ok || !required ? 0 : 1;
}

int selftest_run(FILE *out)
{
	struct sensor_features f;
	char lsm[256], fentry[256];
	int bad = 0;

	sensor_probe_features(&f);
	snprintf(lsm, sizeof(lsm), "loading a BPF LSM program failed (%s); optional",
		 strerror(f.lsm_errno));
	snprintf(fentry, sizeof(fentry), "loading an fentry program failed (%s); optional",
		 strerror(f.fentry_errno));
	fprintf(out, "capture-client self-test\n");
	bad += line(out, "running as root", geteuid() == 0, 1,
		    "the sensor and cgroups need root (CAP_BPF, CAP_PERFMON, CAP_SYS_ADMIN)");
	bad += line(out, "kernel BTF (/sys/kernel/btf/vmlinux)", f.btf, 1,
		    "the kernel was built without CONFIG_DEBUG_INFO_BTF; CO-RE cannot work");
	bad += line(out, "BPF ring buffer", f.ringbuf, 1, "needs Linux 5.8 or later");
	bad += line(out, "sensor tracepoint programs load", f.tracing, 1,
		    "tp_btf programs were refused; run with -v to see the verifier log");
	bad += line(out, "cgroup v2 mounted", f.cgroup_v2, 1,
		    "mount -t cgroup2 none /sys/fs/cgroup/unified");
	line(out, "BPF LSM (optional)", f.lsm, 0, lsm);
	line(out, "fentry/fexit (optional)", f.fentry, 0, fentry);
	fprintf(out, "%s\n",
		bad ? "self-test FAILED: capture-client cannot monitor on this machine"
		    : "self-test passed: the sensor works on this machine");
	return bad ? 3 : 0;
}
