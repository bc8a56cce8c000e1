/*
 * dns_stub.c - see dns_stub.h.
 *
 * Only the question section is parsed (RFC 1035 4.1): additional records
 * such as an EDNS OPT are ignored, so answers never carry one.  Every read
 * of the query is checked against QLEN first.
 */
#include "guest/dns_stub.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define DNS_HDR       12
#define DNS_QR        0x80
#define DNS_AA        0x04
#define DNS_RD        0x01
#define DNS_FORMERR   1
#define DNS_NOTIMP    4
#define DNS_TYPE_A    1
#define DNS_CLASS_IN  1
#define DNS_MAX_NAME  255
#define DNS_MAX_LABEL 63
#define DNS_TTL       60
#define DNS_RR_A_LEN  16 /* pointer 2, type 2, class 2, ttl 4, rdlength 2, address 4 */
#define STUB_UID      65534
#define START_TIMEOUT 5000 /* ms */

static unsigned get16(const uint8_t *p)
{
	return (unsigned)p[0] << 8 | p[1];
}

static void put16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/*
 * Length of the question (QNAME, QTYPE, QCLASS) starting at offset 12, or 0
 * if it is malformed: runs past QLEN, uses a compression pointer or a
 * reserved label type, or names more than 255 bytes.
 */
static size_t question_len(const uint8_t *q, size_t qlen)
{
	size_t off = DNS_HDR;

	for (;;) {
		unsigned l;

		if (off >= qlen)
			return 0;
		l = q[off];
		if (l == 0)
			break;
		if (l > DNS_MAX_LABEL) /* 0xC0 pointer, 0x40/0x80 reserved */
			return 0;
		off += 1 + l;
		if (off - DNS_HDR >= DNS_MAX_NAME)
			return 0;
	}
	off++; /* the root label */
	if (qlen - off < 4)
		return 0;
	return off + 4 - DNS_HDR;
}

/* A header-only answer (no question) with RCODE; -1 if it does not fit. */
static long header_only(const uint8_t *q, uint8_t *a, size_t anslen, unsigned rcode)
{
	if (anslen < DNS_HDR)
		return -1;
	memset(a, 0, DNS_HDR);
	a[0] = q[0];
	a[1] = q[1];
	a[2] = (uint8_t)(DNS_QR | (q[2] & 0x78) | DNS_AA | (q[2] & DNS_RD));
	a[3] = (uint8_t)rcode;
	return DNS_HDR;
}

long dns_stub_answer(const uint8_t *query, size_t qlen, uint32_t a_addr, uint8_t *answer,
		     size_t anslen)
{
	size_t ql, n;
	int want_a;

	if (!query || qlen < DNS_HDR || (query[2] & DNS_QR))
		return 0;
	if (((query[2] >> 3) & 0x0f) != 0) /* only OPCODE QUERY */
		return header_only(query, answer, anslen, DNS_NOTIMP);
	if (get16(query + 4) != 1)
		return header_only(query, answer, anslen, DNS_FORMERR);
	ql = question_len(query, qlen);
	if (ql == 0)
		return header_only(query, answer, anslen, DNS_FORMERR);
	want_a = get16(query + DNS_HDR + ql - 4) == DNS_TYPE_A &&
		 get16(query + DNS_HDR + ql - 2) == DNS_CLASS_IN;
	n = DNS_HDR + ql + (want_a ? DNS_RR_A_LEN : 0);
	if (anslen < n)
		return -1;
	header_only(query, answer, anslen, 0);
	put16(answer + 4, 1);
	put16(answer + 6, want_a ? 1 : 0);
	memcpy(answer + DNS_HDR, query + DNS_HDR, ql);
	if (want_a) {
		uint8_t *rr = answer + DNS_HDR + ql;

		put16(rr, 0xC000 | DNS_HDR);
		put16(rr + 2, DNS_TYPE_A);
		put16(rr + 4, DNS_CLASS_IN);
		put16(rr + 6, 0);
		put16(rr + 8, DNS_TTL);
		put16(rr + 10, 4);
		memcpy(rr + 12, &a_addr, 4);
	}
	return (long)n;
}

/* ---- the stub process ---- */

struct start_report {
	int step; /* 0: bound; else which step failed */
	int err;
};

enum {
	STEP_OK,
	STEP_SETNS,
	STEP_SOCKET,
	STEP_BIND,
	STEP_PRIV
};

static const char *step_name(int step)
{
	switch (step) {
	case STEP_SETNS: return "setns into the services namespace";
	case STEP_SOCKET: return "socket";
	case STEP_BIND: return "bind 0.0.0.0:53/udp";
	case STEP_PRIV: return "drop privileges to nobody";
	}
	return "start";
}

/*
 * Answers from the address the query was sent to (IP_PKTINFO): the socket is
 * bound to 0.0.0.0, and a resolver on a connected UDP socket (glibc) drops
 * a reply whose source is the services end of its veth instead of the
 * nameserver address it asked.
 */
static __attribute__((noreturn)) void stub_serve(int sock, uint32_t a_addr)
{
	uint8_t q[4096], a[4096];
	int one = 1;

	setsockopt(sock, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one));
	for (;;) {
		struct sockaddr_storage from;
		union {
			char buf[CMSG_SPACE(sizeof(struct in_pktinfo))];
			struct cmsghdr align;
		} ctl;
		struct iovec iov = {.iov_base = q, .iov_len = sizeof(q)};
		struct msghdr msg = {.msg_name = &from,
				     .msg_namelen = sizeof(from),
				     .msg_iov = &iov,
				     .msg_iovlen = 1,
				     .msg_control = ctl.buf,
				     .msg_controllen = sizeof(ctl.buf)};
		struct in_pktinfo *to = NULL;
		ssize_t n = recvmsg(sock, &msg, 0);
		long m;

		if (n < 0)
			continue;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
			if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO)
				to = (struct in_pktinfo *)CMSG_DATA(c);
		m = dns_stub_answer(q, (size_t)n, a_addr, a, sizeof(a));
		if (m <= 0)
			continue;
		iov.iov_base = a;
		iov.iov_len = (size_t)m;
		if (to) {
			to->ipi_ifindex = 0; /* let routing pick the way back, keep the source */
			to->ipi_spec_dst = to->ipi_addr;
		} else {
			msg.msg_control = NULL;
			msg.msg_controllen = 0;
		}
		sendmsg(sock, &msg, 0);
	}
}

/* Closes every descriptor above stderr except KEEP. */
static void close_others(int keep)
{
	if (keep > 3)
		syscall(SYS_close_range, 3u, (unsigned)keep - 1, 0u);
	syscall(SYS_close_range, (unsigned)keep + 1, ~0u, 0u);
}

static void null_stdio(void)
{
	int fd = open("/dev/null", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return;
	for (int i = 0; i <= 2; i++)
		dup2(fd, i);
	close(fd);
}

/* Root is no longer needed once the port is bound. */
static int drop_privileges(void)
{
	if (geteuid() != 0)
		return 0;
	if (setgroups(0, NULL) < 0 || setgid(STUB_UID) < 0 || setuid(STUB_UID) < 0)
		return -1;
	return 0;
}

static __attribute__((noreturn)) void stub_child(int netns_fd, uint32_t a_addr, pid_t parent,
						 int report_fd)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(53)};
	struct start_report r = {STEP_OK, 0};
	int sock = -1;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(1);
	if (setns(netns_fd, CLONE_NEWNET) < 0)
		r = (struct start_report){STEP_SETNS, errno};
	/*
	 * Every visit runs its own stub: with SO_REUSEPORT they share port 53,
	 * and one visit's revert (which stops its stub) never leaves another
	 * visit of the same services namespace without DNS.
	 */
	else if ((sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0 ||
		 setsockopt(sock, SOL_SOCKET, SO_REUSEPORT, &(int){1}, sizeof(int)) < 0)
		r = (struct start_report){STEP_SOCKET, errno};
	else if (bind(sock, (struct sockaddr *)&sin, sizeof(sin)) < 0)
		r = (struct start_report){STEP_BIND, errno};
	else if (drop_privileges() < 0)
		r = (struct start_report){STEP_PRIV, errno};
	if (write(report_fd, &r, sizeof(r)) != (ssize_t)sizeof(r) || r.step != STEP_OK)
		_exit(1);
	/*
	 * Changing credentials cleared the parent-death signal: set it again,
	 * so a client that is killed does not leave its stub behind.  And the
	 * client's stdout/stderr (a test's pipe, a log file) are not the stub's.
	 */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(1);
	null_stdio();
	close_others(sock);
	stub_serve(sock, a_addr);
}

static int stub_fail(char *err, size_t errlen, int e, const char *what)
{
	if (err && errlen)
		snprintf(err, errlen, "dns stub: %s: %s", what, strerror(e));
	errno = e;
	return -1;
}

/* Waits up to START_TIMEOUT for the child's report. */
static int read_report(int fd, struct start_report *r)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	ssize_t n;
	int p;

	do
		p = poll(&pfd, 1, START_TIMEOUT);
	while (p < 0 && errno == EINTR);
	if (p <= 0)
		return p == 0 ? (errno = ETIMEDOUT, -1) : -1;
	do
		n = read(fd, r, sizeof(*r));
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof(*r))
		return n < 0 ? -1 : (errno = ECHILD, -1);
	return 0;
}

int dns_stub_start(int netns_fd, uint32_t a_addr, pid_t *pid, char *err, size_t errlen)
{
	struct start_report r;
	pid_t parent = getpid(), child;
	int p[2], rc;

	*pid = 0;
	if (pipe2(p, O_CLOEXEC) < 0)
		return stub_fail(err, errlen, errno, "pipe");
	child = fork();
	if (child < 0) {
		int e = errno;

		close(p[0]);
		close(p[1]);
		return stub_fail(err, errlen, e, "fork");
	}
	if (child == 0) {
		close(p[0]);
		stub_child(netns_fd, a_addr, parent, p[1]);
	}
	close(p[1]);
	rc = read_report(p[0], &r);
	close(p[0]);
	if (rc < 0) {
		int e = errno;

		dns_stub_stop(child);
		return stub_fail(err, errlen, e, "no report from the stub process");
	}
	if (r.step == STEP_OK) {
		*pid = child;
		return 0;
	}
	dns_stub_stop(child);
	if (r.step == STEP_BIND && r.err == EADDRINUSE)
		return 0; /* another client's stub serves this namespace */
	return stub_fail(err, errlen, r.err, step_name(r.step));
}

void dns_stub_stop(pid_t pid)
{
	if (pid <= 0)
		return;
	kill(pid, SIGKILL);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
}
