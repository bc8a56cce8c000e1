/*
 * netns.c - see netns.h.
 *
 * Every netlink socket is opened while the thread sits in the namespace it
 * must act on (a netlink socket stays bound to the namespace it was made
 * in), so the process leaves its own namespace only for the instant of a
 * socket(2), a sysctl open or one libnftables transaction, and always
 * returns to it.  The address plan and the rules are described in
 * docs/network.md.
 */
#include "guest/netns.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <net/if.h>
#include <linux/if_link.h>
#include <linux/nsfs.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <nftables/libnftables.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"

#define NETNS_RUN_DIR  "/run/netns"
#define NAT_HOST_IF    "capn0"
#define NAT_SVC_IF     "capn1"
#define NAT_HOST_IP    "10.199.0.1"
#define NAT_SVC_IP     "10.199.0.2"
#define NAT_NET        "10.199.0.0/24"
#define GUEST_NET      "10.201.0.0/16"
#define GUEST_BASE     0x0ac90000u /* 10.201.0.0 */
#define GUEST_MAX_LINK 16383u
#define SVC_TABLE      "capture"
#define HOST_TABLE     "capture_nat"
#define NL_BUF         8192
#define NL_DUMP_BUF    32768
#define MAX_HOST_ADDRS 512

struct net_services {
	char name[64];
	enum net_mode mode;
	int fd; /* the services namespace */
};

struct nl {
	struct mnl_socket *sk;
	unsigned portid;
	unsigned seq;
};

struct host_addr {
	int family;
	unsigned char a[16];
};

struct host_addrs {
	struct host_addr v[MAX_HOST_ADDRS];
	size_t n;
	bool overflow;
};

/* ---- modes ---- */

int net_mode_from_name(const char *name)
{
	if (!name)
		return -1;
	if (strcmp(name, "none") == 0)
		return NET_NONE;
	if (strcmp(name, "services") == 0)
		return NET_SERVICES;
	if (strcmp(name, "nat") == 0)
		return NET_NAT;
	return -1;
}

const char *net_mode_name(enum net_mode m)
{
	switch (m) {
	case NET_NONE: return "none";
	case NET_SERVICES: return "services";
	case NET_NAT: return "nat";
	}
	return "?";
}

/* ---- errors ---- */

/* Formats FMT into ERR followed by ": " and strerror(E); returns -1 with errno = E. */
__attribute__((format(printf, 4, 5))) static int fail(char *err, size_t errlen, int e,
						      const char *fmt, ...)
{
	char what[384];
	va_list ap;

	va_start(ap, fmt);
	/* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): va_start is above */
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (err && errlen)
		snprintf(err, errlen, "%s: %s", what, strerror(e));
	errno = e;
	return -1;
}

/* ---- namespace switching ---- */

/* Moves the calling thread into NSFD; *SAVED receives its original namespace. */
static int ns_enter(int nsfd, int *saved, const char *what, char *err, size_t errlen)
{
	*saved = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (*saved < 0)
		return fail(err, errlen, errno, "%s: open own network namespace", what);
	if (setns(nsfd, CLONE_NEWNET) < 0) {
		int e = errno;

		close(*saved);
		*saved = -1;
		return fail(err, errlen, e, "%s: setns", what);
	}
	return 0;
}

/*
 * Returns to the namespace saved by ns_enter().  Carrying on in the wrong
 * namespace would send traffic and rules where they do not belong, so a
 * failure here (which the kernel has no reason to produce) aborts.
 */
static void ns_leave(int saved)
{
	if (saved < 0)
		return;
	if (setns(saved, CLONE_NEWNET) < 0) {
		log_warn("cannot return to the original network namespace");
		abort();
	}
	close(saved);
}

int net_socket_in(int netns_fd, int domain, int type, int protocol, char *err, size_t errlen)
{
	int saved = -1, fd, e;

	if (ns_enter(netns_fd, &saved, "socket in a namespace", err, errlen) < 0)
		return -1;
	fd = socket(domain, type | SOCK_CLOEXEC, protocol);
	e = errno;
	ns_leave(saved);
	if (fd < 0)
		return fail(err, errlen, e, "socket in a namespace");
	return fd;
}

/* ---- rtnetlink ---- */

/* Opens a NETLINK_ROUTE socket in the namespace NSFD (-1: the current one). */
static int nl_open(struct nl *nl, int nsfd, const char *where, char *err, size_t errlen)
{
	int saved = -1, e = 0;

	memset(nl, 0, sizeof(*nl));
	if (nsfd >= 0 && ns_enter(nsfd, &saved, where, err, errlen) < 0)
		return -1;
	nl->sk = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	if (!nl->sk || mnl_socket_bind(nl->sk, 0, MNL_SOCKET_AUTOPID) < 0)
		e = errno;
	ns_leave(saved);
	if (e) {
		if (nl->sk)
			mnl_socket_close(nl->sk);
		nl->sk = NULL;
		return fail(err, errlen, e, "open rtnetlink socket in %s", where);
	}
	nl->portid = mnl_socket_get_portid(nl->sk);
	nl->seq = (unsigned)time(NULL);
	return 0;
}

static void nl_close(struct nl *nl)
{
	if (nl->sk)
		mnl_socket_close(nl->sk);
	nl->sk = NULL;
}

static struct nlmsghdr *nl_msg(struct nl *nl, char *buf, uint16_t type, uint16_t flags)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	nlh->nlmsg_seq = ++nl->seq;
	return nlh;
}

/*
 * Sends NLH and reads until the kernel's ACK, error or end of dump; CB sees
 * every data message.  0, or -1 with errno (the kernel's error for a NACK).
 */
static int nl_talk(struct nl *nl, struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
	char buf[NL_DUMP_BUF];
	int ret;

	/* NLM_F_DUMP shares bits with NLM_F_EXCL and NLM_F_REPLACE: test all of them */
	if ((nlh->nlmsg_flags & NLM_F_DUMP) != NLM_F_DUMP)
		nlh->nlmsg_flags |= NLM_F_ACK;
	if (mnl_socket_sendto(nl->sk, nlh, nlh->nlmsg_len) < 0)
		return -1;
	do {
		ssize_t n = mnl_socket_recvfrom(nl->sk, buf, sizeof(buf));

		if (n < 0)
			return -1;
		ret = mnl_cb_run(buf, (size_t)n, nlh->nlmsg_seq, nl->portid, cb, data);
	} while (ret > MNL_CB_STOP);
	return ret < 0 ? -1 : 0;
}

static int ifindex_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct ifinfomsg *ifm = mnl_nlmsg_get_payload(nlh);

	if (nlh->nlmsg_type == RTM_NEWLINK)
		*(int *)data = ifm->ifi_index;
	return MNL_CB_OK;
}

/* Index of the link NAME in NL's namespace; -1 with errno (ENODEV if absent). */
static int nl_ifindex(struct nl *nl, const char *name)
{
	char buf[NL_BUF];
	struct nlmsghdr *nlh = nl_msg(nl, buf, RTM_GETLINK, 0);
	struct ifinfomsg *ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));
	int index = 0;

	ifm->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	if (nl_talk(nl, nlh, ifindex_cb, &index) < 0)
		return -1;
	if (index <= 0) {
		errno = ENODEV;
		return -1;
	}
	return index;
}

/* RTM_NEWLINK on an existing link NAME: sets IFF_UP. */
static int nl_link_up(struct nl *nl, const char *name)
{
	char buf[NL_BUF];
	struct nlmsghdr *nlh = nl_msg(nl, buf, RTM_NEWLINK, 0);
	struct ifinfomsg *ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));

	ifm->ifi_family = AF_UNSPEC;
	ifm->ifi_change = IFF_UP;
	ifm->ifi_flags = IFF_UP;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	return nl_talk(nl, nlh, NULL, NULL);
}

static int nl_link_del(struct nl *nl, const char *name)
{
	char buf[NL_BUF];
	struct nlmsghdr *nlh = nl_msg(nl, buf, RTM_DELLINK, 0);
	struct ifinfomsg *ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));

	ifm->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	return nl_talk(nl, nlh, NULL, NULL);
}

/* Creates veth NAME in NL's namespace with its peer PEER in the namespace PEER_NSFD. */
static int nl_veth_add(struct nl *nl, const char *name, const char *peer, int peer_nsfd)
{
	char buf[NL_BUF];
	struct nlmsghdr *nlh = nl_msg(nl, buf, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
	struct ifinfomsg *ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));
	struct nlattr *linkinfo, *data, *peerattr;
	struct ifinfomsg *pifm;

	ifm->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	linkinfo = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "veth");
	data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
	peerattr = mnl_attr_nest_start(nlh, VETH_INFO_PEER);
	pifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*pifm));
	pifm->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, peer);
	mnl_attr_put_u32(nlh, IFLA_NET_NS_FD, (uint32_t)peer_nsfd);
	mnl_attr_nest_end(nlh, peerattr);
	mnl_attr_nest_end(nlh, data);
	mnl_attr_nest_end(nlh, linkinfo);
	return nl_talk(nl, nlh, NULL, NULL);
}

/* Adds (or replaces) the IPv4 address ADDR/PREFIX on link IFINDEX. */
static int nl_addr_add(struct nl *nl, int ifindex, uint32_t addr, unsigned prefix)
{
	char buf[NL_BUF];
	struct nlmsghdr *nlh = nl_msg(nl, buf, RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE);
	struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));

	ifa->ifa_family = AF_INET;
	ifa->ifa_prefixlen = (unsigned char)prefix;
	ifa->ifa_scope = RT_SCOPE_UNIVERSE;
	ifa->ifa_index = (unsigned)ifindex;
	mnl_attr_put_u32(nlh, IFA_LOCAL, addr);
	mnl_attr_put_u32(nlh, IFA_ADDRESS, addr);
	return nl_talk(nl, nlh, NULL, NULL);
}

/* Adds (or replaces) the IPv4 route DST/DSTLEN via GW on link OIF (main table). */
static int nl_route_add(struct nl *nl, uint32_t dst, unsigned dstlen, uint32_t gw, int oif)
{
	char buf[NL_BUF];
	struct nlmsghdr *nlh = nl_msg(nl, buf, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE);
	struct rtmsg *rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));

	rtm->rtm_family = AF_INET;
	rtm->rtm_dst_len = (unsigned char)dstlen;
	rtm->rtm_table = RT_TABLE_MAIN;
	rtm->rtm_protocol = RTPROT_STATIC;
	rtm->rtm_scope = RT_SCOPE_UNIVERSE;
	rtm->rtm_type = RTN_UNICAST;
	if (dstlen)
		mnl_attr_put_u32(nlh, RTA_DST, dst);
	mnl_attr_put_u32(nlh, RTA_GATEWAY, gw);
	mnl_attr_put_u32(nlh, RTA_OIF, (uint32_t)oif);
	return nl_talk(nl, nlh, NULL, NULL);
}

static void host_addrs_add(struct host_addrs *h, int family, const void *a, size_t len)
{
	struct host_addr x = {.family = family};

	memcpy(x.a, a, len);
	for (size_t i = 0; i < h->n; i++)
		if (memcmp(&h->v[i], &x, sizeof(x)) == 0)
			return;
	if (h->n == MAX_HOST_ADDRS) {
		h->overflow = true;
		return;
	}
	h->v[h->n++] = x;
}

static int addr_attr_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;
	int type = mnl_attr_get_type(attr);

	if ((type == IFA_LOCAL || type == IFA_ADDRESS) &&
	    mnl_attr_validate(attr, MNL_TYPE_BINARY) >= 0)
		tb[type] = attr;
	return MNL_CB_OK;
}

static int addr_dump_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *tb[IFA_MAX + 1] = {0};
	const struct nlattr *a;
	size_t want = ifa->ifa_family == AF_INET ? 4 : 16;

	if (nlh->nlmsg_type != RTM_NEWADDR ||
	    (ifa->ifa_family != AF_INET && ifa->ifa_family != AF_INET6))
		return MNL_CB_OK;
	mnl_attr_parse(nlh, sizeof(*ifa), addr_attr_cb, tb);
	a = tb[IFA_LOCAL] ? tb[IFA_LOCAL] : tb[IFA_ADDRESS];
	if (a && mnl_attr_get_payload_len(a) == want)
		host_addrs_add(data, ifa->ifa_family, mnl_attr_get_payload(a), want);
	return MNL_CB_OK;
}

/* Every IPv4 and IPv6 address of NL's namespace. */
static int nl_addr_dump(struct nl *nl, struct host_addrs *h)
{
	char buf[NL_BUF];
	struct nlmsghdr *nlh = nl_msg(nl, buf, RTM_GETADDR, NLM_F_DUMP);
	struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));

	ifa->ifa_family = AF_UNSPEC;
	if (nl_talk(nl, nlh, addr_dump_cb, h) < 0)
		return -1;
	if (h->overflow) {
		errno = E2BIG;
		return -1;
	}
	return 0;
}

static int route_attr_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;
	int type = mnl_attr_get_type(attr);

	if ((type == RTA_OIF || type == RTA_TABLE) && mnl_attr_validate(attr, MNL_TYPE_U32) >= 0)
		tb[type] = attr;
	return MNL_CB_OK;
}

static int default_route_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *tb[RTA_MAX + 1] = {0};
	unsigned table;

	if (nlh->nlmsg_type != RTM_NEWROUTE || rtm->rtm_dst_len != 0 ||
	    rtm->rtm_type != RTN_UNICAST)
		return MNL_CB_OK;
	mnl_attr_parse(nlh, sizeof(*rtm), route_attr_cb, tb);
	table = tb[RTA_TABLE] ? mnl_attr_get_u32(tb[RTA_TABLE]) : rtm->rtm_table;
	if (table == RT_TABLE_MAIN && tb[RTA_OIF] && *(int *)data == 0)
		*(int *)data = (int)mnl_attr_get_u32(tb[RTA_OIF]);
	return MNL_CB_OK;
}

/* Link index of the IPv4 default route of NL's namespace; -1 with errno. */
static int nl_default_oif(struct nl *nl)
{
	char buf[NL_BUF];
	struct nlmsghdr *nlh = nl_msg(nl, buf, RTM_GETROUTE, NLM_F_DUMP);
	struct rtmsg *rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	int oif = 0;

	rtm->rtm_family = AF_INET;
	if (nl_talk(nl, nlh, default_route_cb, &oif) < 0)
		return -1;
	if (oif <= 0) {
		errno = ENETUNREACH;
		return -1;
	}
	return oif;
}

static uint32_t ip4(const char *s)
{
	struct in_addr a = {0};

	inet_pton(AF_INET, s, &a);
	return a.s_addr;
}

static void ip4_str(uint32_t host_order, char *out)
{
	struct in_addr a = {.s_addr = htonl(host_order)};

	inet_ntop(AF_INET, &a, out, 16);
}

/* ---- small helpers ---- */

/* Interface names go into nft rules between quotes: allow only harmless characters. */
static bool ifname_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= IFNAMSIZ)
		return false;
	for (; *s; s++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-@",
			    *s))
			return false;
	return true;
}

static bool nsname_ok(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n < sizeof(((struct net_services *)0)->name) && !strchr(s, '/') &&
	       strcmp(s, ".") != 0 && strcmp(s, "..") != 0;
}

/* Writes "1" to the sysctl PATH of the namespace NSFD (-1: current). */
static int sysctl_on(int nsfd, const char *path, const char *where, char *err, size_t errlen)
{
	int saved = -1, e = 0;
	char cur[4] = "";
	CLEANUP_FD int fd = -1;

	if (nsfd >= 0 && ns_enter(nsfd, &saved, where, err, errlen) < 0)
		return -1;
	fd = open(path, O_RDWR | O_CLOEXEC);
	ns_leave(saved);
	if (fd < 0)
		return fail(err, errlen, errno, "open %s in %s", path, where);
	if (read(fd, cur, sizeof(cur) - 1) > 0 && cur[0] == '1')
		return 0;
	if (pwrite(fd, "1\n", 2, 0) != 2)
		e = errno ? errno : EIO;
	if (e)
		return fail(err, errlen, e, "write 1 to %s in %s", path, where);
	return 0;
}

/* Runs one libnftables transaction RULES in the namespace NSFD (-1: current). */
static int nft_run(int nsfd, const char *rules, const char *where, char *err, size_t errlen)
{
	int saved = -1, rc = -1;
	struct nft_ctx *ctx;

	if (nsfd >= 0 && ns_enter(nsfd, &saved, where, err, errlen) < 0)
		return -1;
	ctx = nft_ctx_new(NFT_CTX_DEFAULT);
	if (!ctx) {
		ns_leave(saved);
		return fail(err, errlen, ENOMEM, "nftables context in %s", where);
	}
	nft_ctx_buffer_output(ctx);
	nft_ctx_buffer_error(ctx);
	rc = nft_run_cmd_from_buffer(ctx, rules);
	if (rc != 0 && err && errlen) {
		const char *msg = nft_ctx_get_error_buffer(ctx);
		size_t n;

		snprintf(err, errlen, "nftables in %s: %s", where, msg && *msg ? msg : "failed");
		n = strlen(err);
		while (n && (err[n - 1] == '\n' || err[n - 1] == ' '))
			err[--n] = '\0';
	}
	nft_ctx_free(ctx);
	ns_leave(saved);
	if (rc != 0) {
		errno = EINVAL;
		return -1;
	}
	return 0;
}

/* ---- the namespace itself ---- */

/* /run/netns as a shared mount point, as ip-netns makes it. */
static int netns_dir_prepare(char *err, size_t errlen)
{
	if (mkdir(NETNS_RUN_DIR, 0755) < 0 && errno != EEXIST)
		return fail(err, errlen, errno, "mkdir %s", NETNS_RUN_DIR);
	if (mount("", NETNS_RUN_DIR, "none", MS_SHARED | MS_REC, NULL) == 0)
		return 0;
	if (errno != EINVAL)
		return fail(err, errlen, errno, "make %s a shared mount", NETNS_RUN_DIR);
	if (mount(NETNS_RUN_DIR, NETNS_RUN_DIR, "none", MS_BIND | MS_REC, NULL) < 0)
		return fail(err, errlen, errno, "bind-mount %s on itself", NETNS_RUN_DIR);
	if (mount("", NETNS_RUN_DIR, "none", MS_SHARED | MS_REC, NULL) < 0)
		return fail(err, errlen, errno, "make %s a shared mount", NETNS_RUN_DIR);
	return 0;
}

/* Opens PATH if it is a network namespace; -1 with errno (EINVAL: a plain file). */
static int netns_open_path(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	if (ioctl(fd, NS_GET_NSTYPE) != CLONE_NEWNET) {
		close(fd);
		errno = EINVAL;
		return -1;
	}
	return fd;
}

/*
 * A child unshares a new network namespace and bind-mounts its
 * /proc/self/ns/net on PATH (which exists, empty); the mount outlives it.
 */
static int netns_mount_new(const char *path, char *err, size_t errlen)
{
	int p[2], report[2] = {0, 0}, status;
	pid_t pid;
	ssize_t n;

	if (pipe2(p, O_CLOEXEC) < 0)
		return fail(err, errlen, errno, "pipe for namespace %s", path);
	pid = fork();
	if (pid < 0) {
		int e = errno;

		close(p[0]);
		close(p[1]);
		return fail(err, errlen, e, "fork to create namespace %s", path);
	}
	if (pid == 0) {
		close(p[0]);
		if (unshare(CLONE_NEWNET) < 0)
			report[0] = 1, report[1] = errno;
		else if (mount("/proc/self/ns/net", path, "none", MS_BIND, NULL) < 0)
			report[0] = 2, report[1] = errno;
		if (write(p[1], report, sizeof(report)) < 0)
			_exit(2);
		_exit(report[0] ? 1 : 0);
	}
	close(p[1]);
	n = read(p[0], report, sizeof(report));
	close(p[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (n != (ssize_t)sizeof(report))
		return fail(err, errlen, EPIPE, "create namespace %s: child died", path);
	if (report[0] == 1)
		return fail(err, errlen, report[1], "unshare(CLONE_NEWNET) for %s", path);
	if (report[0] == 2)
		return fail(err, errlen, report[1], "bind-mount a new namespace on %s", path);
	return 0;
}

static void netns_remove_path(const char *path)
{
	umount2(path, MNT_DETACH);
	unlink(path);
}

/*
 * Opens the namespace at PATH, creating it if absent.  A file that is not a
 * namespace (a creator still busy, or a stale leftover) is waited for
 * briefly, then replaced.  *CREATED tells whether this call made it.
 */
static int netns_get(const char *path, bool *created, char *err, size_t errlen)
{
	for (int attempt = 0; attempt < 3; attempt++) {
		int fd = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);

		if (fd >= 0) {
			close(fd);
			if (netns_mount_new(path, err, errlen) < 0) {
				int e = errno;

				netns_remove_path(path);
				errno = e;
				return -1;
			}
			fd = netns_open_path(path);
			if (fd < 0) {
				int e = errno;

				netns_remove_path(path);
				return fail(err, errlen, e, "open new namespace %s", path);
			}
			*created = true;
			return fd;
		}
		if (errno != EEXIST)
			return fail(err, errlen, errno, "create %s", path);
		for (int i = 0; i < 25; i++) {
			fd = netns_open_path(path);
			if (fd >= 0 || errno != EINVAL)
				break;
			usleep(20000);
		}
		if (fd >= 0)
			return fd;
		if (errno != EINVAL && errno != ENOENT)
			return fail(err, errlen, errno, "open %s", path);
		if (errno == EINVAL)
			unlink(path); /* stale file: no namespace behind it */
	}
	return fail(err, errlen, EAGAIN, "create or open %s", path);
}

/* ---- nftables rule sets ---- */

static void put_ports(FILE *f, const uint16_t *ports)
{
	bool any = false;

	fputs("\tset blocked_ports {\n\t\ttype inet_service\n", f);
	for (size_t i = 0; i < NET_MAX_BLOCKED_PORTS; i++) {
		bool dup = false;

		for (size_t j = 0; j < i; j++)
			dup = dup || ports[j] == ports[i];
		if (ports[i] == 0 || dup)
			continue;
		fprintf(f, "%s%u", any ? ", " : "\t\telements = { ", ports[i]);
		any = true;
	}
	fputs(any ? " }\n\t}\n" : "\t}\n", f);
}

static void put_addrs(FILE *f, const char *set, int family, const struct host_addrs *h)
{
	bool any = false;
	char s[INET6_ADDRSTRLEN];

	fprintf(f, "\tset %s {\n\t\ttype %s\n", set, family == AF_INET ? "ipv4_addr" : "ipv6_addr");
	for (size_t i = 0; h && i < h->n; i++) {
		if (h->v[i].family != family || !inet_ntop(family, h->v[i].a, s, sizeof(s)))
			continue;
		fprintf(f, "%s%s", any ? ", " : "\t\telements = { ", s);
		any = true;
	}
	fputs(any ? " }\n\t}\n" : "\t}\n", f);
}

/* Drops every guest packet to a blocked port, for the chain guests enter through IIF. */
static void put_port_drops(FILE *f, const char *iif)
{
	fprintf(f, "\t\tiifname \"%s\" tcp dport @blocked_ports drop\n", iif);
	fprintf(f, "\t\tiifname \"%s\" udp dport @blocked_ports drop\n", iif);
}

/*
 * The services namespace's table: guests may talk to the namespace itself
 * (DNS stub, test servers) but not to a blocked port, not to each other, not
 * over IPv6, and - in nat mode - not to any host address; in services mode
 * nothing of theirs is forwarded at all.
 */
static char *services_rules(const struct net_services_config *cfg, const struct host_addrs *h)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	bool nat = cfg->mode == NET_NAT;

	if (!f)
		return NULL;
	fputs("table inet " SVC_TABLE " {}\ndelete table inet " SVC_TABLE "\n", f);
	fputs("table inet " SVC_TABLE " {\n", f);
	put_ports(f, cfg->blocked_ports);
	if (nat) {
		put_addrs(f, "host4", AF_INET, h);
		put_addrs(f, "host6", AF_INET6, h);
	}
	fputs("\tchain input {\n\t\ttype filter hook input priority filter; policy accept;\n"
	      "\t\tiifname \"capg*\" meta nfproto ipv6 drop\n"
	      "\t\tiifname \"capg*\" ip daddr 127.0.0.0/8 drop\n",
	      f);
	put_port_drops(f, "capg*");
	fputs(
	    "\t}\n\tchain forward {\n\t\ttype filter hook forward priority filter; policy accept;\n"
	    "\t\tiifname \"capg*\" meta nfproto ipv6 drop\n"
	    "\t\tiifname \"capg*\" oifname \"capg*\" drop\n",
	    f);
	put_port_drops(f, "capg*");
	if (nat)
		fputs("\t\tiifname \"capg*\" ip daddr " NAT_NET " drop\n"
		      "\t\tiifname \"capg*\" ip daddr @host4 drop\n"
		      "\t\tiifname \"capg*\" ip6 daddr @host6 drop\n"
		      "\t\tiifname \"capg*\" oifname != \"" NAT_SVC_IF "\" drop\n",
		      f);
	else
		fputs("\t\tiifname \"capg*\" drop\n", f);
	fputs("\t}\n}\n", f);
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

/*
 * The host's table (nat mode): guest traffic from the services link is
 * masqueraded out of UPLINK only, and never delivered to the host itself,
 * to the nat link's network, to a host address or to a blocked port.
 */
static char *host_rules(const struct net_services_config *cfg, const struct host_addrs *h,
			const char *uplink)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	fputs("table inet " HOST_TABLE " {}\ndelete table inet " HOST_TABLE "\n", f);
	fputs("table inet " HOST_TABLE " {\n", f);
	put_ports(f, cfg->blocked_ports);
	put_addrs(f, "host4", AF_INET, h);
	fputs(
	    "\tchain input {\n\t\ttype filter hook input priority filter; policy accept;\n"
	    "\t\tiifname \"" NAT_HOST_IF "\" ip saddr " GUEST_NET " drop\n"
	    "\t}\n\tchain forward {\n\t\ttype filter hook forward priority filter; policy accept;\n"
	    "\t\tiifname \"" NAT_HOST_IF "\" meta nfproto ipv6 drop\n"
	    "\t\tiifname \"" NAT_HOST_IF "\" ip saddr != " GUEST_NET " drop\n"
	    "\t\tiifname \"" NAT_HOST_IF "\" ip daddr " NAT_NET " drop\n"
	    "\t\tiifname \"" NAT_HOST_IF "\" ip daddr @host4 drop\n",
	    f);
	put_port_drops(f, NAT_HOST_IF);
	fprintf(f, "\t\tiifname \"" NAT_HOST_IF "\" oifname != \"%s\" drop\n", uplink);
	fputs("\t}\n\tchain postrouting {\n"
	      "\t\ttype nat hook postrouting priority srcnat; policy accept;\n",
	      f);
	fprintf(f, "\t\toifname \"%s\" ip saddr " GUEST_NET " masquerade\n\t}\n}\n", uplink);
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

static int install_rules(int nsfd, char *rules, const char *where, char *err, size_t errlen)
{
	int rc;

	if (!rules)
		return fail(err, errlen, ENOMEM, "build nftables rules for %s", where);
	rc = nft_run(nsfd, rules, where, err, errlen);
	free(rules);
	return rc;
}

/* ---- nat link between the host and the services namespace ---- */

/* Removes the nat veth pair and the host table (both absent is fine). */
static int nat_teardown(char *err, size_t errlen)
{
	struct nl host;
	int rc = 0;

	if (nl_open(&host, -1, "the root namespace", err, errlen) < 0)
		return -1;
	if (nl_link_del(&host, NAT_HOST_IF) < 0 && errno != ENODEV)
		rc = fail(err, errlen, errno, "delete link %s", NAT_HOST_IF);
	nl_close(&host);
	if (nft_run(-1, "table inet " HOST_TABLE " {}\ndelete table inet " HOST_TABLE "\n",
		    "the root namespace", rc ? NULL : err, errlen) < 0)
		rc = -1;
	return rc;
}

static int nat_addresses(struct nl *host, struct nl *svc, char *err, size_t errlen)
{
	int hidx = nl_ifindex(host, NAT_HOST_IF), sidx;

	if (hidx < 0)
		return fail(err, errlen, errno, "find link %s in the root namespace", NAT_HOST_IF);
	sidx = nl_ifindex(svc, NAT_SVC_IF);
	if (sidx < 0)
		return fail(err, errlen, errno, "find link %s in the services namespace",
			    NAT_SVC_IF);
	if (nl_addr_add(host, hidx, ip4(NAT_HOST_IP), 24) < 0)
		return fail(err, errlen, errno, "add address %s/24 to %s", NAT_HOST_IP,
			    NAT_HOST_IF);
	if (nl_addr_add(svc, sidx, ip4(NAT_SVC_IP), 24) < 0)
		return fail(err, errlen, errno, "add address %s/24 to %s", NAT_SVC_IP, NAT_SVC_IF);
	if (nl_link_up(host, NAT_HOST_IF) < 0)
		return fail(err, errlen, errno, "set link %s up", NAT_HOST_IF);
	if (nl_link_up(svc, NAT_SVC_IF) < 0)
		return fail(err, errlen, errno, "set link %s up", NAT_SVC_IF);
	if (nl_route_add(svc, 0, 0, ip4(NAT_HOST_IP), sidx) < 0)
		return fail(err, errlen, errno, "add default route via %s dev %s", NAT_HOST_IP,
			    NAT_SVC_IF);
	if (nl_route_add(host, ip4("10.201.0.0"), 16, ip4(NAT_SVC_IP), hidx) < 0)
		return fail(err, errlen, errno, "add route %s via %s dev %s", GUEST_NET, NAT_SVC_IP,
			    NAT_HOST_IF);
	return 0;
}

/* Creates (unless present) and addresses capn0 (host) <-> capn1 (services). */
static int nat_links(struct nl *host, struct nl *svc, int svc_fd, char *err, size_t errlen)
{
	bool created = false;

	if (nl_ifindex(svc, NAT_SVC_IF) < 0) {
		if (errno != ENODEV)
			return fail(err, errlen, errno, "look up link %s", NAT_SVC_IF);
		if (nl_veth_add(host, NAT_HOST_IF, NAT_SVC_IF, svc_fd) < 0)
			return fail(
			    err, errlen, errno, "create veth %s/%s%s", NAT_HOST_IF, NAT_SVC_IF,
			    errno == EEXIST ? " (in use by another services namespace?)" : "");
		created = true;
	}
	if (nat_addresses(host, svc, err, errlen) < 0) {
		int e = errno;

		if (created)
			nl_link_del(host, NAT_HOST_IF);
		errno = e;
		return -1;
	}
	return 0;
}

/* The uplink to masquerade out of: the configured one or the default route's. */
static int nat_uplink(struct nl *host, const char *cfg_uplink, char *out, char *err, size_t errlen)
{
	int oif;

	if (cfg_uplink) {
		snprintf(out, IFNAMSIZ, "%s", cfg_uplink);
	} else {
		oif = nl_default_oif(host);
		if (oif < 0)
			return fail(err, errlen, errno, "find the default route's interface");
		if (!if_indextoname((unsigned)oif, out))
			return fail(err, errlen, errno, "name of interface %d", oif);
	}
	if (!ifname_ok(cfg_uplink ? cfg_uplink : out))
		return fail(err, errlen, EINVAL, "uplink \"%s\"", cfg_uplink ? cfg_uplink : out);
	return 0;
}

static int nat_setup(struct net_services *s, const struct net_services_config *cfg, struct nl *svc,
		     struct host_addrs *h, char *err, size_t errlen)
{
	char uplink[IFNAMSIZ];
	struct nl host;
	int rc = -1;

	if (nl_open(&host, -1, "the root namespace", err, errlen) < 0)
		return -1;
	if (nat_uplink(&host, cfg->uplink, uplink, err, errlen) < 0 ||
	    nat_links(&host, svc, s->fd, err, errlen) < 0)
		goto out;
	if (nl_addr_dump(&host, h) < 0) {
		fail(err, errlen, errno, "read the addresses of the root namespace");
		goto out;
	}
	if (install_rules(s->fd, services_rules(cfg, h), s->name, err, errlen) < 0 ||
	    install_rules(-1, host_rules(cfg, h, uplink), "the root namespace", err, errlen) < 0 ||
	    sysctl_on(s->fd, "/proc/sys/net/ipv4/ip_forward", s->name, err, errlen) < 0 ||
	    sysctl_on(-1, "/proc/sys/net/ipv4/ip_forward", "the root namespace", err, errlen) < 0)
		goto out;
	rc = 0;
out:
	nl_close(&host);
	return rc;
}

/* ---- services namespace ---- */

static int services_configure(struct net_services *s, const struct net_services_config *cfg,
			      char *err, size_t errlen)
{
	struct nl svc;
	struct host_addrs *h = NULL;
	int rc = -1;

	if (nl_open(&svc, s->fd, s->name, err, errlen) < 0)
		return -1;
	if (nl_link_up(&svc, "lo") < 0) {
		fail(err, errlen, errno, "set link lo up in %s", s->name);
		goto out;
	}
	if (nl_addr_add(&svc, nl_ifindex(&svc, "lo"), ip4(NET_SERVICES_ADDR), 32) < 0) {
		fail(err, errlen, errno, "add %s/32 to lo in %s", NET_SERVICES_ADDR, s->name);
		goto out;
	}
	if (cfg->mode == NET_NAT) {
		h = calloc(1, sizeof(*h));
		if (!h) {
			fail(err, errlen, ENOMEM, "host address list");
			goto out;
		}
		rc = nat_setup(s, cfg, &svc, h, err, errlen);
		goto out;
	}
	if (nl_ifindex(&svc, NAT_SVC_IF) >= 0 && nat_teardown(err, errlen) < 0)
		goto out;
	rc = install_rules(s->fd, services_rules(cfg, NULL), s->name, err, errlen);
out:
	free(h);
	nl_close(&svc);
	return rc;
}

int net_services_open(const struct net_services_config *cfg, struct net_services **out, char *err,
		      size_t errlen)
{
	const char *name = cfg->name ? cfg->name : NET_SERVICES_DEFAULT;
	struct net_services *s;
	char path[128];
	bool created = false;

	*out = NULL;
	if (!nsname_ok(name))
		return fail(err, errlen, EINVAL, "services namespace name \"%s\"", name);
	if (cfg->mode != NET_SERVICES && cfg->mode != NET_NAT)
		return fail(err, errlen, EINVAL, "services namespace mode %s",
			    net_mode_name(cfg->mode));
	if (netns_dir_prepare(err, errlen) < 0)
		return -1;
	s = calloc(1, sizeof(*s));
	if (!s)
		return fail(err, errlen, ENOMEM, "services namespace %s", name);
	snprintf(s->name, sizeof(s->name), "%s", name);
	s->mode = cfg->mode;
	snprintf(path, sizeof(path), NETNS_RUN_DIR "/%s", name);
	s->fd = netns_get(path, &created, err, errlen);
	if (s->fd < 0 || services_configure(s, cfg, err, errlen) < 0) {
		int e = errno;

		if (created)
			net_services_destroy(name, NULL, 0);
		net_services_close(s);
		errno = e;
		return -1;
	}
	*out = s;
	return 0;
}

int net_services_fd(const struct net_services *s)
{
	return s->fd;
}

void net_services_close(struct net_services *s)
{
	if (!s)
		return;
	if (s->fd >= 0)
		close(s->fd);
	free(s);
}

/* Tears down the nat pieces if this namespace holds the nat link. */
static int services_unlink_nat(int fd, const char *name, char *err, size_t errlen)
{
	struct nl svc;
	int has_nat;

	if (nl_open(&svc, fd, name, err, errlen) < 0)
		return -1;
	has_nat = nl_ifindex(&svc, NAT_SVC_IF) >= 0;
	nl_close(&svc);
	return has_nat ? nat_teardown(err, errlen) : 0;
}

int net_services_destroy(const char *name, char *err, size_t errlen)
{
	char path[128];
	int fd, rc = 0;

	if (!name)
		name = NET_SERVICES_DEFAULT;
	if (!nsname_ok(name))
		return fail(err, errlen, EINVAL, "services namespace name \"%s\"", name);
	snprintf(path, sizeof(path), NETNS_RUN_DIR "/%s", name);
	fd = netns_open_path(path);
	if (fd < 0 && errno == ENOENT)
		return 0;
	if (fd < 0 && errno != EINVAL)
		return fail(err, errlen, errno, "open %s", path);
	if (fd >= 0) {
		rc = services_unlink_nat(fd, name, err, errlen);
		close(fd);
		if (umount2(path, MNT_DETACH) < 0)
			rc = fail(err, errlen, errno, "unmount %s", path);
	}
	if (unlink(path) < 0 && errno != ENOENT)
		rc = fail(err, errlen, errno, "unlink %s", path);
	return rc;
}

/* ---- guest links ---- */

static int link_configure(struct nl *svc, struct nl *guest, const struct net_link *l,
			  const char *where, char *err, size_t errlen)
{
	int sidx = nl_ifindex(svc, l->services_if), gidx;

	if (sidx < 0)
		return fail(err, errlen, errno, "find link %s in %s", l->services_if, where);
	gidx = nl_ifindex(guest, "eth0");
	if (gidx < 0)
		return fail(err, errlen, errno, "find link eth0 in the guest");
	if (nl_addr_add(svc, sidx, ip4(l->services_ip), 30) < 0)
		return fail(err, errlen, errno, "add address %s/30 to %s", l->services_ip,
			    l->services_if);
	if (nl_addr_add(guest, gidx, ip4(l->guest_ip), 30) < 0)
		return fail(err, errlen, errno, "add address %s/30 to eth0 in the guest",
			    l->guest_ip);
	if (nl_link_up(svc, l->services_if) < 0)
		return fail(err, errlen, errno, "set link %s up", l->services_if);
	if (nl_link_up(guest, "eth0") < 0)
		return fail(err, errlen, errno, "set link eth0 up in the guest");
	if (nl_link_up(guest, "lo") < 0)
		return fail(err, errlen, errno, "set link lo up in the guest");
	if (nl_route_add(guest, 0, 0, ip4(l->services_ip), gidx) < 0)
		return fail(err, errlen, errno, "add default route via %s dev eth0 in the guest",
			    l->services_ip);
	return 0;
}

int net_link_create(struct net_services *s, int guest_netns_fd, unsigned index,
		    struct net_link *out, char *err, size_t errlen)
{
	uint32_t base = GUEST_BASE + index * 4;
	struct nl svc, guest;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (index > GUEST_MAX_LINK)
		return fail(err, errlen, EINVAL, "guest link index %u (0..%u)", index,
			    GUEST_MAX_LINK);
	out->index = index;
	snprintf(out->services_if, sizeof(out->services_if), "capg%u", index);
	ip4_str(base + 1, out->services_ip);
	ip4_str(base + 2, out->guest_ip);
	if (nl_open(&svc, s->fd, s->name, err, errlen) < 0)
		return -1;
	if (nl_open(&guest, guest_netns_fd, "the guest namespace", err, errlen) < 0)
		goto out_svc;
	if (nl_veth_add(&svc, out->services_if, "eth0", guest_netns_fd) < 0) {
		fail(err, errlen, errno, "create veth %s in %s (peer eth0 in the guest)",
		     out->services_if, s->name);
		goto out;
	}
	rc = link_configure(&svc, &guest, out, s->name, err, errlen);
	if (rc < 0) {
		int e = errno;

		nl_link_del(&svc, out->services_if);
		errno = e;
	}
out:
	nl_close(&guest);
out_svc:
	nl_close(&svc);
	return rc;
}

int net_link_destroy(struct net_services *s, const struct net_link *link)
{
	char err[256];
	struct nl svc;
	int rc = 0;

	if (nl_open(&svc, s->fd, s->name, err, sizeof(err)) < 0) {
		log_warnx("%s", err);
		return -1;
	}
	if (nl_link_del(&svc, link->services_if) < 0 && errno != ENODEV) {
		log_warn("delete link %s in %s", link->services_if, s->name);
		rc = -1;
	}
	nl_close(&svc);
	return rc;
}

int net_loopback_up(int netns_fd, char *err, size_t errlen)
{
	struct nl nl;
	int rc = 0;

	if (nl_open(&nl, netns_fd, "the guest namespace", err, errlen) < 0)
		return -1;
	if (nl_link_up(&nl, "lo") < 0)
		rc = fail(err, errlen, errno, "set link lo up in the guest namespace");
	nl_close(&nl);
	return rc;
}
