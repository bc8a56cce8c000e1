/*
 * pcap_capture.c - see pcap_capture.h.
 *
 * The packet socket is bound to the interface while the thread sits in the
 * namespace NETNS_FD; it keeps capturing there after the thread returns.
 */
#include "guest/pcap_capture.h"

#include <errno.h>
#include <fcntl.h>
#include <pcap/pcap.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"

#define SNAPLEN        65535
#define STOP_MAX_ROUND 64

struct pcap_capture {
	pcap_t *p;
	pcap_dumper_t *d;
	uint64_t packets;
	char ifname[64];
};

__attribute__((format(printf, 3, 4))) static int cap_fail(char *err, size_t errlen, const char *fmt,
							  ...)
{
	int e = errno;
	va_list ap;

	va_start(ap, fmt);
	if (err && errlen)
		/* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): va_start is above */
		vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	errno = e ? e : EIO;
	return -1;
}

/* Creates and activates the handle on IFNAME in the namespace NETNS_FD. */
static pcap_t *open_in_ns(int netns_fd, const char *ifname, char *err, size_t errlen)
{
	char ebuf[PCAP_ERRBUF_SIZE] = "";
	pcap_t *p = NULL;
	int saved, rc;

	saved = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (saved < 0) {
		cap_fail(err, errlen, "pcap %s: open own network namespace: %s", ifname,
			 strerror(errno));
		return NULL;
	}
	if (setns(netns_fd, CLONE_NEWNET) < 0) {
		cap_fail(err, errlen, "pcap %s: setns: %s", ifname, strerror(errno));
		close(saved);
		return NULL;
	}
	p = pcap_create(ifname, ebuf);
	if (!p) {
		cap_fail(err, errlen, "pcap_create %s: %s", ifname, ebuf);
	} else if (pcap_set_snaplen(p, SNAPLEN) != 0 || pcap_set_promisc(p, 0) != 0 ||
		   pcap_set_immediate_mode(p, 1) != 0 || (rc = pcap_activate(p)) < 0) {
		cap_fail(err, errlen, "pcap_activate %s: %s", ifname, pcap_geterr(p));
		pcap_close(p);
		p = NULL;
	} else if (rc > 0) {
		log_debug("pcap_activate %s: warning: %s", ifname, pcap_geterr(p));
	}
	if (setns(saved, CLONE_NEWNET) < 0) {
		log_warn("pcap %s: cannot return to the original network namespace", ifname);
		abort();
	}
	close(saved);
	return p;
}

/* Non-blocking, close-on-exec. */
static int prepare_handle(pcap_t *p, const char *ifname, char *err, size_t errlen)
{
	char ebuf[PCAP_ERRBUF_SIZE] = "";
	int fd = pcap_get_selectable_fd(p);

	if (pcap_setnonblock(p, 1, ebuf) < 0)
		return cap_fail(err, errlen, "pcap_setnonblock %s: %s", ifname, ebuf);
	if (fd < 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
		return cap_fail(err, errlen, "pcap %s: no selectable descriptor", ifname);
	return 0;
}

/* The dump file, opened close-on-exec (pcap_dump_open() would not). */
static pcap_dumper_t *open_dump(pcap_t *p, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "wbe");
	pcap_dumper_t *d;

	if (!f) {
		cap_fail(err, errlen, "pcap: open %s: %s", path, strerror(errno));
		return NULL;
	}
	d = pcap_dump_fopen(p, f);
	if (!d) {
		cap_fail(err, errlen, "pcap_dump_fopen %s: %s", path, pcap_geterr(p));
		fclose(f);
	}
	return d;
}

int pcap_capture_start(int netns_fd, const char *ifname, const char *path,
		       struct pcap_capture **out, char *err, size_t errlen)
{
	struct pcap_capture *c;

	*out = NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return cap_fail(err, errlen, "pcap %s: out of memory", ifname);
	snprintf(c->ifname, sizeof(c->ifname), "%s", ifname);
	c->p = open_in_ns(netns_fd, ifname, err, errlen);
	if (!c->p || prepare_handle(c->p, ifname, err, errlen) < 0 ||
	    !(c->d = open_dump(c->p, path, err, errlen))) {
		int e = errno;

		if (c->p)
			pcap_close(c->p);
		free(c);
		errno = e;
		return -1;
	}
	*out = c;
	return 0;
}

int pcap_capture_fd(const struct pcap_capture *c)
{
	return pcap_get_selectable_fd(c->p);
}

int pcap_capture_dispatch(struct pcap_capture *c)
{
	int n = pcap_dispatch(c->p, -1, pcap_dump, (u_char *)c->d);

	if (n == PCAP_ERROR) {
		log_warnx("pcap_dispatch %s: %s", c->ifname, pcap_geterr(c->p));
		return -1;
	}
	if (n < 0) /* PCAP_ERROR_BREAK */
		return 0;
	c->packets += (uint64_t)n;
	return n;
}

void pcap_capture_stop(struct pcap_capture *c, struct pcap_capture_stats *stats)
{
	struct pcap_stat ps;

	if (stats)
		memset(stats, 0, sizeof(*stats));
	if (!c)
		return;
	for (int i = 0; i < STOP_MAX_ROUND && pcap_capture_dispatch(c) > 0; i++)
		;
	if (stats) {
		stats->packets = c->packets;
		if (pcap_stats(c->p, &ps) == 0)
			stats->dropped = (uint64_t)ps.ps_drop + ps.ps_ifdrop;
	}
	if (pcap_dump_flush(c->d) < 0)
		log_warnx("pcap %s: flushing the capture file failed", c->ifname);
	pcap_dump_close(c->d);
	pcap_close(c->p);
	free(c);
}
