/*
 * pcap_capture.h - per-visit packet capture on a guest's veth (libpcap).
 *
 * The capture runs on the services end of the guest's veth, inside the
 * services namespace, so the guest cannot interfere with it.  The handle
 * is opened in that namespace and then used from the caller's event loop
 * (non-blocking, selectable fd).
 */
#ifndef CAPTURE_PCAP_CAPTURE_H
#define CAPTURE_PCAP_CAPTURE_H

#include <stddef.h>
#include <stdint.h>

struct pcap_capture;

struct pcap_capture_stats {
	uint64_t packets; /* written to the file */
	uint64_t dropped; /* dropped by the kernel (ps_drop + ps_ifdrop) */
};

/* Starts capturing IFNAME of the namespace NETNS_FD into the pcap file PATH. */
int pcap_capture_start(int netns_fd, const char *ifname, const char *path,
		       struct pcap_capture **out, char *err, size_t errlen);
/* Becomes readable when packets wait. */
int pcap_capture_fd(const struct pcap_capture *c);
/* Writes every waiting packet; returns how many, or -1. */
int pcap_capture_dispatch(struct pcap_capture *c);
/* Final dispatch, statistics, flush and close. */
void pcap_capture_stop(struct pcap_capture *c, struct pcap_capture_stats *stats);

#endif
