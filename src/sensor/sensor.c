/*
 * sensor.c - user side of the eBPF sensor: load, scope, decode, count.
 *
 * The BPF object comes from the skeleton generated at build time
 * (build/bpf/sensor.skel.h), so the binary carries its own kernel code and
 * needs no file at run time.  Scope and the set of produced ops are written
 * into rodata before load, so the verifier prunes what is disabled and the
 * scope test is a constant comparison.
 */
#include "sensor/sensor.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "common/log.h"
#include "common/util.h"
#include "sensor.skel.h"

_Static_assert(sizeof(struct sensor_event_hdr) == SENSOR_EVENT_HDR_SIZE,
	       "sensor_event_hdr layout changed: update SENSOR_EVENT_HDR_SIZE and both sides");
_Static_assert(SENSOR_OP_MAX <= 64, "enabled_ops is a 64-bit mask");

struct sensor {
	struct sensor_bpf *skel;
	struct ring_buffer *rb;
	sensor_record_fn fn;
	void *ctx;
	uint64_t malformed;
	int cgroup_fd;
};

static const char *const op_names[SENSOR_OP_MAX] = {
    [SENSOR_OP_NONE] = "none",       [SENSOR_OP_FORK] = "fork",
    [SENSOR_OP_EXEC] = "exec",       [SENSOR_OP_EXIT] = "exit",
    [SENSOR_OP_OPEN] = "open",       [SENSOR_OP_READ] = "read",
    [SENSOR_OP_CREATE] = "create",   [SENSOR_OP_WRITE] = "write",
    [SENSOR_OP_DELETE] = "delete",   [SENSOR_OP_RENAME] = "rename",
    [SENSOR_OP_LINK] = "link",       [SENSOR_OP_SYMLINK] = "symlink",
    [SENSOR_OP_MKDIR] = "mkdir",     [SENSOR_OP_RMDIR] = "rmdir",
    [SENSOR_OP_CHMOD] = "chmod",     [SENSOR_OP_CHOWN] = "chown",
    [SENSOR_OP_XATTR] = "xattr",     [SENSOR_OP_UTIMES] = "utimes",
    [SENSOR_OP_CONNECT] = "connect", [SENSOR_OP_LISTEN] = "listen",
    [SENSOR_OP_BIND] = "bind",       [SENSOR_OP_SENDTO] = "sendto",
    [SENSOR_OP_MODULE] = "module",   [SENSOR_OP_PTRACE] = "ptrace",
    [SENSOR_OP_MOUNT] = "mount",     [SENSOR_OP_SETUID] = "setuid",
    [SENSOR_OP_SETGID] = "setgid",   [SENSOR_OP_CAPSET] = "capset",
    [SENSOR_OP_BPF] = "bpf",         [SENSOR_OP_IO_URING] = "io_uring",
};

const char *sensor_op_name(unsigned op)
{
	return op < SENSOR_OP_MAX && op_names[op] ? op_names[op] : "unknown";
}

int sensor_decode(const void *data, size_t size, struct sensor_record *out)
{
	const struct sensor_event_hdr *h = data;
	const char *p;
	size_t want = sizeof(*h);

	if (size < sizeof(*h))
		return -EINVAL;
	if (h->op == SENSOR_OP_NONE || h->op >= SENSOR_OP_MAX)
		return -EINVAL;
	if (!memchr(h->comm, '\0', sizeof(h->comm)))
		return -EINVAL; /* the kernel always terminates comm; anything else is corrupt */
	for (int i = 0; i < SENSOR_NSTR; i++) {
		if (h->len[i] > SENSOR_STR_MAX)
			return -EINVAL;
		want += h->len[i];
	}
	if (size != want)
		return -EINVAL;
	out->hdr = h;
	p = (const char *)(h + 1);
	for (int i = 0; i < SENSOR_NSTR; i++) {
		if (h->len[i] == 0) {
			out->str[i] = NULL;
			out->len[i] = 0;
			continue;
		}
		if (p[h->len[i] - 1] != '\0')
			return -EINVAL;
		out->str[i] = p;
		out->len[i] = h->len[i] - 1;
		p += h->len[i];
	}
	return 0;
}

static int on_ringbuf_record(void *ctx, void *data, size_t size)
{
	struct sensor *s = ctx;
	struct sensor_record rec;

	if (sensor_decode(data, size, &rec) < 0) {
		s->malformed++;
		log_warnx("sensor: malformed record of %zu bytes dropped (counted as lost)", size);
		return 0;
	}
	return s->fn(&rec, s->ctx);
}

static int libbpf_log(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char *line = NULL;
	int n;

	if (level == LIBBPF_DEBUG && log_level < LOG_LEVEL_DEBUG)
		return 0;
	n = vasprintf(&line, fmt, ap);
	if (n < 0)
		return 0;
	while (n > 0 && line[n - 1] == '\n')
		line[--n] = '\0';
	if (level == LIBBPF_WARN)
		log_warnx("%s", line);
	else
		log_debug("%s", line);
	free(line);
	return 0;
}

/*
 * FMODE_CREATED tells an open that created its file from one that opened an
 * existing one.  It is a kernel-internal bit (not in BTF); it has been
 * 1 << 20 since Linux 4.19 and still is in 6.18 (checked by the e2e test
 * that expects "Create" for a new file).
 */
static uint32_t fmode_created_bit(void)
{
	struct utsname u;
	unsigned major = 0, minor = 0;

	if (uname(&u) < 0 || sscanf(u.release, "%u.%u", &major, &minor) != 2)
		return 0;
	if (major > 4 || (major == 4 && minor >= 19))
		return 1u << 20;
	return 0;
}

static int set_scope(struct sensor *s, const struct sensor_opts *o, char *err, size_t errlen)
{
	int key = 0;

	if (o->scope != SENSOR_SCOPE_CGROUP)
		return 0;
	s->cgroup_fd = open(o->cgroup_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->cgroup_fd < 0) {
		snprintf(err, errlen, "cannot open cgroup %s: %s", o->cgroup_path, strerror(errno));
		return -1;
	}
	if (bpf_map_update_elem(bpf_map__fd(s->skel->maps.scope_cgroup), &key, &s->cgroup_fd,
				BPF_ANY) < 0) {
		snprintf(err, errlen,
			 "cannot scope the sensor to %s (is it a cgroup v2 directory?): %s",
			 o->cgroup_path, strerror(errno));
		return -1;
	}
	return 0;
}

static int configure(struct sensor *s, const struct sensor_opts *o, char *err, size_t errlen)
{
	uint64_t rb = o->ringbuf_bytes ? o->ringbuf_bytes : SENSOR_RINGBUF_DEFAULT;
	long page = sysconf(_SC_PAGESIZE);

	if (rb < (uint64_t)page || (rb & (rb - 1)) || rb > (1ull << 31)) {
		snprintf(err, errlen,
			 "ring buffer size %llu: must be a power of two between %ld and 2G",
			 (unsigned long long)rb, page);
		return -1;
	}
	if (o->scope == SENSOR_SCOPE_CGROUP && !o->cgroup_path) {
		snprintf(err, errlen, "cgroup scope needs a cgroup path");
		return -1;
	}
	s->skel->rodata->scope_mode = o->scope;
	s->skel->rodata->client_tgid = (uint32_t)o->client_tgid;
	s->skel->rodata->enabled_ops = o->enabled_ops ? o->enabled_ops : ~0ull;
	s->skel->rodata->fmode_created = fmode_created_bit();
	if (bpf_map__set_max_entries(s->skel->maps.events, (uint32_t)rb) < 0) {
		snprintf(err, errlen, "cannot size the ring buffer to %llu bytes",
			 (unsigned long long)rb);
		return -1;
	}
	return 0;
}

/*
 * The ring buffer is mapped twice (data pages back to back) into this
 * process: 2 x 64 MiB of page tables that every fork() would copy and every
 * exec() tear down again - measured at 7 ms per fork+exec of a child of the
 * client.  No child needs the mapping, so mark every BPF map mapping
 * MADV_DONTFORK.
 */
static void dontfork_bpf_maps(void)
{
	CLEANUP_FILE FILE *f = fopen("/proc/self/maps", "re");
	char line[512];
	unsigned long start, end;

	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (!strstr(line, "anon_inode:bpf-map") ||
		    sscanf(line, "%lx-%lx", &start, &end) != 2)
			continue;
		if (madvise((void *)start, end - start, MADV_DONTFORK) < 0)
			log_debug("madvise(MADV_DONTFORK) on a BPF map mapping: %s",
				  strerror(errno));
	}
}

int sensor_open(const struct sensor_opts *opts, sensor_record_fn fn, void *ctx, struct sensor **out,
		char *err, size_t errlen)
{
	struct sensor *s = calloc(1, sizeof(*s));
	int rc;

	if (!s) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	s->fn = fn;
	s->ctx = ctx;
	s->cgroup_fd = -1;
	libbpf_set_print(libbpf_log);
	s->skel = sensor_bpf__open();
	if (!s->skel) {
		snprintf(err, errlen, "cannot open the BPF object: %s", strerror(errno));
		goto fail;
	}
	if (configure(s, opts, err, errlen) < 0)
		goto fail;
	rc = sensor_bpf__load(s->skel);
	if (rc) {
		snprintf(err, errlen,
			 "the kernel refused the sensor's BPF programs: %s (run capture-client "
			 "--self-test; -v shows the verifier log)",
			 strerror(-rc));
		goto fail;
	}
	if (set_scope(s, opts, err, errlen) < 0)
		goto fail;
	rc = sensor_bpf__attach(s->skel);
	if (rc) {
		snprintf(err, errlen, "cannot attach the sensor's tracepoints: %s", strerror(-rc));
		goto fail;
	}
	s->rb = ring_buffer__new(bpf_map__fd(s->skel->maps.events), on_ringbuf_record, s, NULL);
	if (!s->rb) {
		snprintf(err, errlen, "cannot map the ring buffer: %s", strerror(errno));
		goto fail;
	}
	dontfork_bpf_maps();
	*out = s;
	return 0;
fail:
	sensor_close(s);
	return -1;
}

int sensor_fd(const struct sensor *s)
{
	return ring_buffer__epoll_fd(s->rb);
}

long sensor_drain(struct sensor *s)
{
	int n = ring_buffer__consume(s->rb);

	if (n == -EINTR)
		return 0;
	return n;
}

static void sum_percpu(int map_fd, uint64_t *out, uint64_t *total)
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t *vals;

	*total = 0;
	if (ncpu <= 0)
		return;
	vals = calloc((size_t)ncpu, sizeof(*vals));
	if (!vals)
		return;
	for (uint32_t op = 0; op < SENSOR_OP_MAX; op++) {
		out[op] = 0;
		if (bpf_map_lookup_elem(map_fd, &op, vals) < 0)
			continue;
		for (int c = 0; c < ncpu; c++)
			out[op] += vals[c];
		*total += out[op];
	}
	free(vals);
}

void sensor_stats(const struct sensor *s, struct sensor_stats *out)
{
	memset(out, 0, sizeof(*out));
	sum_percpu(bpf_map__fd(s->skel->maps.emitted), out->emitted, &out->emitted_total);
	sum_percpu(bpf_map__fd(s->skel->maps.drops), out->drops, &out->drops_total);
	out->malformed = s->malformed;
}

void sensor_close(struct sensor *s)
{
	if (!s)
		return;
	ring_buffer__free(s->rb);
	sensor_bpf__destroy(s->skel);
	if (s->cgroup_fd >= 0)
		close(s->cgroup_fd);
	free(s);
}
