/*
 * sensor.h - loads the eBPF sensor, scopes it, and hands decoded records to
 * a callback.  One sensor per capture-client; not thread-safe.
 *
 * Life cycle: sensor_open() (load + attach, scope decided in the kernel) ->
 * poll sensor_fd() in the event loop -> sensor_drain() when readable and
 * once more before the verdict -> sensor_stats() -> sensor_close().
 */
#ifndef CAPTURE_SENSOR_H
#define CAPTURE_SENSOR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "sensor/sensor_event.h"

#define SENSOR_RINGBUF_DEFAULT (64u << 20) /* bytes; absorbs bursts of ~400k records */

struct sensor;

struct sensor_opts {
	enum sensor_scope scope;
	const char *cgroup_path; /* SENSOR_SCOPE_CGROUP: a cgroup v2 directory (its subtree) */
	pid_t client_tgid;       /* SENSOR_SCOPE_SYSTEM: this process is never reported */
	uint64_t ringbuf_bytes;  /* power of two >= 4096; 0 = SENSOR_RINGBUF_DEFAULT */
	uint64_t enabled_ops;    /* bit (1 << op) per enum sensor_op to produce; 0 = all */
};

/* A decoded record: a view into ring buffer memory, valid during the callback. */
struct sensor_record {
	const struct sensor_event_hdr *hdr;
	const char *str[SENSOR_NSTR]; /* NUL-terminated, NULL if absent */
	size_t len[SENSOR_NSTR];      /* bytes without the final NUL */
};

/* Called for every record; a non-zero return stops the current drain. */
typedef int (*sensor_record_fn)(const struct sensor_record *rec, void *ctx);

struct sensor_stats {
	uint64_t emitted[SENSOR_OP_MAX]; /* records the kernel wrote, per op */
	uint64_t drops[SENSOR_OP_MAX];   /* records lost because the ring buffer was full */
	uint64_t emitted_total;
	uint64_t drops_total;
	uint64_t malformed; /* records the decoder rejected (a bug: counted as lost) */
};

/* Loads and attaches; on failure returns -1 with a sentence in ERR. */
int sensor_open(const struct sensor_opts *opts, sensor_record_fn fn, void *ctx, struct sensor **out,
		char *err, size_t errlen);
/*
 * A file descriptor that becomes readable when a large backlog is waiting.
 * Records are written without waking the reader (a wake-up per record
 * costs an interrupt each), so callers must also drain every
 * SENSOR_DRAIN_INTERVAL_MS.
 */
int sensor_fd(const struct sensor *s);
#define SENSOR_DRAIN_INTERVAL_MS 10
/* Consumes every waiting record; returns how many, or -errno. */
long sensor_drain(struct sensor *s);
void sensor_stats(const struct sensor *s, struct sensor_stats *out);
void sensor_close(struct sensor *s);

/* Checks one raw record (exact length rule); 0 if valid, -EINVAL if not. */
int sensor_decode(const void *data, size_t size, struct sensor_record *out);
/* Short name of an op ("exec", "open", ...). */
const char *sensor_op_name(unsigned op);

/* What this kernel offers, for --self-test. */
struct sensor_features {
	int btf;       /* /sys/kernel/btf/vmlinux readable */
	int ringbuf;   /* BPF_MAP_TYPE_RINGBUF can be created */
	int tracing;   /* tp_btf programs load (the sensor itself) */
	int cgroup_v2; /* a cgroup2 mount exists */
	int lsm;       /* BPF LSM programs load (optional extra) */
	int fentry;    /* fentry programs load (optional extra) */
	int lsm_errno, fentry_errno;
};
void sensor_probe_features(struct sensor_features *f);

#endif
