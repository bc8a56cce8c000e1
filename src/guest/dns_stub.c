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
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
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

#define STOP_TIMEOUT      5000 /* ms a stopping stub gets to answer its queue, then SIGKILL */
#define SERVE_BURST       64   /* queries answered between two looks at the stop signal */
#define LEAVE_QUIET_MS    20   /* a leaving stub exits once its queue stayed empty this long */
#define LEAVE_MAX_ANSWERS 4096 /* more than a socket's receive buffer holds */

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

/*
 * Every visit runs its own stub, and all stubs of a services namespace share
 * 0.0.0.0:53 through SO_REUSEPORT: the kernel steers each query, by a hash
 * of its addresses and ports, to ONE member socket, and a query queued in a
 * socket that is then closed is gone.  Visits of other clients start and
 * stop stubs every few seconds, so a stub must never close its socket while
 * a query can still be queued to it.  Stopping therefore goes: connect() the
 * socket (the kernel takes a connected UDP socket out of the group: no new
 * query is steered to it, the queued ones stay), answer everything queued
 * until no packet can still be on its way to it, exit.  tests/e2e/test_netns.c
 * checks it against a stub stopped with queries queued.
 */

struct start_report {
	int step; /* 0: bound; else which step failed */
	int err;
};

enum {
	STEP_OK,
	STEP_SIGNALS,
	STEP_SETNS,
	STEP_SOCKET,
	STEP_BIND,
	STEP_PRIV
};

static const char *step_name(int step)
{
	switch (step) {
	case STEP_SIGNALS: return "signalfd";
	case STEP_SETNS: return "setns into the services namespace";
	case STEP_SOCKET: return "socket";
	case STEP_BIND: return "bind 0.0.0.0:53/udp";
	case STEP_PRIV: return "drop privileges to nobody";
	}
	return "start";
}

/*
 * Reads one queued query, without blocking, and answers it from the address
 * it was sent to (IP_PKTINFO): the socket is bound to 0.0.0.0, and a
 * resolver on a connected UDP socket (glibc) drops a reply whose source is
 * the services end of its veth instead of the nameserver address it asked.
 * 0 if nothing was queued, else 1 (a datagram or an error consumed).
 */
static int answer_one(int sock, uint32_t a_addr)
{
	uint8_t q[4096], a[4096];
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
	ssize_t n = recvmsg(sock, &msg, MSG_DONTWAIT);
	long m;

	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : 1;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO)
			to = (struct in_pktinfo *)CMSG_DATA(c);
	m = dns_stub_answer(q, (size_t)n, a_addr, a, sizeof(a));
	if (m <= 0)
		return 1;
	iov.iov_base = a;
	iov.iov_len = (size_t)m;
	if (to) {
		to->ipi_ifindex = 0; /* let routing pick the way back, keep the source */
		to->ipi_spec_dst = to->ipi_addr;
	} else {
		msg.msg_control = NULL;
		msg.msg_controllen = 0;
	}
	/* a failed send is one lost answer; the resolver asks again (resolv.conf options) */
	(void)sendmsg(sock, &msg, 0);
	return 1;
}

/*
 * Leaves the port group without losing a query (see the top of this
 * section), then exits.  Every way out of the stub after its bind comes
 * here.
 */
static __attribute__((noreturn)) void stub_leave(int sock, uint32_t a_addr)
{
	struct sockaddr_in nowhere = {
	    .sin_family = AF_INET, .sin_port = htons(9), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct pollfd p = {.fd = sock, .events = POLLIN};
	int answered = 0;

	/*
	 * 127.0.0.1:9 sends nothing to port 53, so the connected socket gets
	 * nothing new.  If connect() failed (lo down: never, the services
	 * namespace keeps it up) the socket stays in the group and what
	 * follows is only the best that can be done.
	 */
	(void)connect(sock, (struct sockaddr *)&nowhere, sizeof(nowhere));
	/*
	 * A packet steered here just before the connect() is still queued:
	 * the receive path looks the socket up and queues the packet in one
	 * softirq pass, microseconds.  Answer until the queue has stayed
	 * empty for LEAVE_QUIET_MS.  (Waiting for an RCU grace period instead,
	 * membarrier(MEMBARRIER_CMD_GLOBAL), took over 2 s on a loaded VM.)
	 */
	for (;;) {
		while (answered < LEAVE_MAX_ANSWERS && answer_one(sock, a_addr))
			answered++;
		if (answered >= LEAVE_MAX_ANSWERS || poll(&p, 1, LEAVE_QUIET_MS) <= 0)
			break;
	}
	_exit(0);
}

/*
 * Answers queries until a stop signal (SIGTERM from dns_stub_stop, or the
 * parent-death signal) is readable on SIGFD, then leaves.  All signals stay
 * blocked in the stub, so neither a signal handler inherited from the
 * client (libuv's write to the client's own signal pipe) nor a default
 * action can end it with queries queued.
 */
static __attribute__((noreturn)) void stub_serve(int sock, int sigfd, uint32_t a_addr)
{
	struct pollfd p[2] = {{.fd = sock, .events = POLLIN}, {.fd = sigfd, .events = POLLIN}};

	for (;;) {
		if (poll(p, 2, -1) < 0)
			continue; /* EINTR cannot happen: every signal is blocked */
		if (p[1].revents)
			stub_leave(sock, a_addr);
		/* a bounded burst, so a flood does not hide the stop signal */
		for (int i = 0; i < SERVE_BURST && answer_one(sock, a_addr); i++)
			;
	}
}

/* Closes every descriptor above stderr except A and B. */
static void close_others(int a, int b)
{
	unsigned lo = (unsigned)(a < b ? a : b), hi = (unsigned)(a < b ? b : a);

	if (lo > 3)
		syscall(SYS_close_range, 3u, lo - 1, 0u);
	if (hi > lo + 1)
		syscall(SYS_close_range, lo + 1, hi - 1, 0u);
	syscall(SYS_close_range, hi + 1, ~0u, 0u);
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

/* A socket for 0.0.0.0:53 in the port group; -1 with errno. */
static int stub_socket(void)
{
	int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), one = 1;

	if (sock < 0)
		return -1;
	/* before the bind: the first query may arrive the instant after it */
	if (setsockopt(sock, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0 ||
	    setsockopt(sock, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one)) < 0) {
		int e = errno;

		close(sock);
		errno = e;
		return -1;
	}
	return sock;
}

/* Runs with every signal blocked (dns_stub_start). */
static __attribute__((noreturn)) void stub_child(int netns_fd, uint32_t a_addr, pid_t parent,
						 int report_fd)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(53)};
	struct start_report r = {STEP_OK, 0};
	int sock = -1, sigfd;
	bool bound = false;
	sigset_t stop;

	/*
	 * SIGTERM, blocked, is only read by stub_serve: a client that dies
	 * while this stub starts still gets a stub that leaves cleanly.
	 */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != parent)
		_exit(1);
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGHUP);
	sigfd = signalfd(-1, &stop, SFD_CLOEXEC);
	if (sigfd < 0)
		r = (struct start_report){STEP_SIGNALS, errno};
	else if (setns(netns_fd, CLONE_NEWNET) < 0)
		r = (struct start_report){STEP_SETNS, errno};
	else if ((sock = stub_socket()) < 0)
		r = (struct start_report){STEP_SOCKET, errno};
	else if (bind(sock, (struct sockaddr *)&sin, sizeof(sin)) < 0)
		r = (struct start_report){STEP_BIND, errno};
	else {
		bound = true; /* from here on, queries are queued to this socket */
		if (drop_privileges() < 0)
			r = (struct start_report){STEP_PRIV, errno};
	}
	if (write(report_fd, &r, sizeof(r)) != (ssize_t)sizeof(r) || r.step != STEP_OK) {
		if (bound)
			stub_leave(sock, a_addr);
		_exit(1);
	}
	/*
	 * Changing credentials cleared the parent-death signal: set it again,
	 * so a client that is killed does not leave its stub behind.  And the
	 * client's stdout/stderr (a test's pipe, a log file) are not the
	 * stub's.
	 */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != parent)
		stub_leave(sock, a_addr);
	null_stdio();
	close_others(sock, sigfd);
	stub_serve(sock, sigfd, a_addr);
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

/*
 * fork() with every signal blocked in the child from its first instruction:
 * until the stub has its signalfd, a signal must neither run one of the
 * client's handlers in it nor kill it.  Only this thread's mask changes,
 * and only for the fork.
 */
static pid_t fork_blocked(void)
{
	sigset_t all, old;
	pid_t child;
	int e;

	sigfillset(&all);
	e = pthread_sigmask(SIG_BLOCK, &all, &old);
	if (e) {
		errno = e;
		return -1;
	}
	child = fork();
	if (child == 0)
		return 0;
	e = errno;
	(void)pthread_sigmask(SIG_SETMASK, &old, NULL); /* cannot fail: OLD came from the kernel */
	errno = e;
	return child;
}

int dns_stub_start(int netns_fd, uint32_t a_addr, pid_t *pid, char *err, size_t errlen)
{
	struct start_report r;
	pid_t parent = getpid(), child;
	int p[2], rc;

	*pid = 0;
	if (pipe2(p, O_CLOEXEC) < 0)
		return stub_fail(err, errlen, errno, "pipe");
	child = fork_blocked();
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

/*
 * Reaps PID once it has exited, waiting up to TIMEOUT_MS (at least); 0 if
 * it was reaped or is no child of ours (ECHILD: reaped elsewhere), -1 if it
 * still runs.
 */
static int reap_within(pid_t pid, int timeout_ms)
{
	struct timespec tick = {.tv_nsec = 1000000};

	for (int waited = 0;; waited++) {
		pid_t w = waitpid(pid, NULL, WNOHANG);

		if (w == pid || (w < 0 && errno != EINTR))
			return 0;
		if (waited >= timeout_ms)
			return -1;
		nanosleep(&tick, NULL);
	}
}

void dns_stub_stop(pid_t pid)
{
	if (pid <= 0)
		return;
	/*
	 * SIGTERM makes the stub leave the port group and answer what is
	 * queued to it; SIGKILL would drop those queries, which no other
	 * stub can see.  SIGCONT wakes a stub someone stopped.  SIGKILL only
	 * if it has not finished in time.
	 */
	if (kill(pid, SIGTERM) < 0 || kill(pid, SIGCONT) < 0) {
		(void)reap_within(pid, 0); /* already reaped elsewhere, or not ours */
		return;
	}
	if (reap_within(pid, STOP_TIMEOUT) == 0)
		return;
	(void)kill(pid, SIGKILL); /* it exists: the wait above did not reap it */
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
}
