/*
 * netns.h - guest networking: the long-lived "services" network namespace
 * and one veth link per guest.
 *
 * Every guest gets a veth pair: "eth0" inside the guest, "capg<N>" inside
 * the services namespace, a /30 from 10.201.0.0/16 (services end .1, guest
 * end .2, default route via .1).  The services namespace is where test web
 * servers and the DNS stub live (mode services) and, in mode nat, where
 * guest traffic is masqueraded towards the host's uplink.  nftables rules in
 * the services namespace (and, for nat, on the host) stop every guest from
 * reaching any address of the host itself and the capture-server's port.
 * Links, addresses and routes are set over rtnetlink (libmnl); rules through
 * libnftables.  Nothing forks ip(8) or nft(8).
 */
#ifndef CAPTURE_NETNS_H
#define CAPTURE_NETNS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define NET_SERVICES_DEFAULT "capture-services" /* /run/netns/NAME, like ip-netns */
#define NET_SERVICES_ADDR                                                                          \
	"10.201.255.1" /* on the services namespace's lo: one address                              \
			* every guest reaches (DNS stub, test servers) */
#define NET_MAX_BLOCKED_PORTS 8

enum net_mode {
	NET_NONE = 0, /* loopback only */
	NET_SERVICES, /* veth to the services namespace; no route beyond it */
	NET_NAT,      /* as services, plus masquerading out of the host's uplink */
};

/* Parses "none", "services", "nat"; -1 if unknown. */
int net_mode_from_name(const char *name);
const char *net_mode_name(enum net_mode m);

struct net_services_config {
	const char *name;                              /* NULL = NET_SERVICES_DEFAULT */
	enum net_mode mode;                            /* NET_SERVICES or NET_NAT */
	uint16_t blocked_ports[NET_MAX_BLOCKED_PORTS]; /* TCP/UDP ports no guest may reach anywhere
							* (the capture-server's); 0 = unused slot */
	const char *uplink; /* nat: host interface to masquerade out of; NULL = default route's */
};

struct net_services;

/*
 * Creates the services namespace NAME (or joins it if it exists), brings its
 * loopback up and (re)installs its nftables rules; in nat mode also links it
 * to the host and enables masquerading.  Idempotent.  0, or -1 with ERR.
 */
int net_services_open(const struct net_services_config *cfg, struct net_services **out, char *err,
		      size_t errlen);
/* A file descriptor of the services namespace (for setns()). */
int net_services_fd(const struct net_services *s);
/* Closes what this process holds; the namespace itself stays for other clients. */
void net_services_close(struct net_services *s);
/* Deletes the namespace NAME and its host-side links and rules (tests, uninstall). */
int net_services_destroy(const char *name, char *err, size_t errlen);

struct net_link {
	unsigned index;       /* which /30 */
	char services_if[16]; /* "capg<index>" in the services namespace */
	char services_ip[16]; /* dotted quad of the services end (.1): gateway and DNS */
	char guest_ip[16];    /* dotted quad of the guest end (.2) */
};

/*
 * Creates the veth pair between the services namespace and the network
 * namespace GUEST_NETNS_FD, addresses both ends, brings them and the
 * guest's loopback up and sets the guest's default route.  INDEX picks the
 * /30 (0..16383); callers choose it unique among live guests.
 */
int net_link_create(struct net_services *s, int guest_netns_fd, unsigned index,
		    struct net_link *out, char *err, size_t errlen);
/* Removes the services end (the guest end dies with the guest namespace). */
int net_link_destroy(struct net_services *s, const struct net_link *link);

/*
 * A socket(DOMAIN, TYPE, PROTOCOL) that belongs to the network namespace
 * NETNS_FD (a socket keeps the namespace it was created in, so the caller
 * may connect it to a guest's 127.0.0.1 from outside the guest).  The
 * calling thread enters the namespace only for the socket() call.  The fd,
 * or -1 with errno and ERR.
 */
int net_socket_in(int netns_fd, int domain, int type, int protocol, char *err, size_t errlen);

/* Brings "lo" up in the namespace GUEST_NETNS_FD (mode none). */
int net_loopback_up(int netns_fd, char *err, size_t errlen);

#endif
