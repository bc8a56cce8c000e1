/*
 * test_netns.c - guest networking for real (needs root): the services
 * namespace, guest veth links, the nftables rules, the DNS stub and the
 * packet capture.
 *
 * "Guests" are network namespaces of short-lived children; every probe runs
 * in a child that setns()'d into a guest.  Listeners are bound only to
 * addresses of namespaces this test made (and, in nat mode, to the nat
 * link's host end and one extra address the test puts on it), so no packet
 * can leave the machine.  Three groups: mode services ("capture-test-<pid>"),
 * the forwarding DNS stub in another mode services namespace
 * ("capture-test-fwd-<pid>", its upstream resolvers fakes on the host's
 * loopback) and mode nat ("capture-test-nat-<pid>"); each ends by
 * destroying its namespace and checking nothing is left.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <nftables/libnftables.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <resolv.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>

#include "common/util.h"
#include "e2e.h"
#include "guest/dns_stub.h"
#include "guest/netns.h"
#include "guest/pcap_capture.h"

#define BLOCKED_PORT  7070
#define SVC_PORT      8080
#define HOST_PORT     8181
#define GUEST_PORT    9090
#define STUB_ADDR     "10.201.77.77"
#define EXTRA_HOST_IP "10.201.255.254" /* put on capn0 in the root namespace */
#define TIMEOUT_MS    500

struct guest {
	int fd; /* its network namespace */
	struct net_link link;
	bool linked;
};

struct world {
	char name[64];
	enum net_mode mode;
	struct net_services *s;
	pid_t stub;
	struct guest a, b;
	int listeners[8];
	size_t nlisteners;
	char ip_forward[8]; /* the root namespace's, restored at the end */
};

static struct world services_world, fwd_world, nat_world;

/* ---- namespaces and sockets ---- */

/* A new network namespace, held by an fd after its creator has gone. */
static int guest_new(struct guest *g)
{
	char path[64], c;
	int p[2];
	pid_t pid;

	memset(g, 0, sizeof(*g));
	g->fd = -1;
	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (unshare(CLONE_NEWNET) < 0 || write(p[1], "x", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	close(p[1]);
	if (pid > 0 && read(p[0], &c, 1) == 1) {
		snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
		g->fd = open(path, O_RDONLY | O_CLOEXEC);
	}
	close(p[0]);
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	return g->fd >= 0 ? 0 : -1;
}

static void guest_free(struct guest *g)
{
	if (g->fd >= 0)
		close(g->fd);
	g->fd = -1;
}

/* Runs FN(ARG) in a child inside the namespace NSFD; its exit code, or 255. */
static int in_ns(int nsfd, int (*fn)(const void *), const void *arg)
{
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		if (setns(nsfd, CLONE_NEWNET) < 0)
			_exit(254);
		_exit(fn(arg));
	}
	if (pid < 0 || waitpid(pid, &status, 0) < 0)
		return 255;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 255;
}

/* A TCP listener on IP:PORT in the namespace NSFD (-1: this one). */
static int listen_in(int nsfd, const char *ip, uint16_t port)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port)};
	int saved = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC), fd = -1, one = 1;

	assert_true(saved >= 0);
	inet_pton(AF_INET, ip, &sin.sin_addr);
	if (nsfd < 0 || setns(nsfd, CLONE_NEWNET) == 0) {
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0 &&
		    (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
		     bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 || listen(fd, 16) < 0)) {
			print_error("listen on %s:%u: %s\n", ip, port, strerror(errno));
			close(fd);
			fd = -1;
		}
	}
	assert_int_equal(setns(saved, CLONE_NEWNET), 0);
	close(saved);
	assert_true(fd >= 0);
	return fd;
}

static void keep_listener(struct world *w, int fd)
{
	assert_true(w->nlisteners < ARRAY_SIZE(w->listeners));
	w->listeners[w->nlisteners++] = fd;
}

struct target {
	const char *ip;
	uint16_t port;
};

/* 0 if a TCP connection to T completes within TIMEOUT_MS, else 1. */
static int connect_fn(const void *arg)
{
	const struct target *t = arg;
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(t->port)};
	struct pollfd pfd = {.events = POLLOUT};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), e = -1;
	socklen_t el = sizeof(e);

	inet_pton(AF_INET, t->ip, &sin.sin_addr);
	if (fd < 0)
		return 2;
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0)
		return 0;
	if (errno != EINPROGRESS)
		return 1;
	pfd.fd = fd;
	if (poll(&pfd, 1, TIMEOUT_MS) != 1)
		return 1;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el) < 0 || e != 0)
		return 1;
	return 0;
}

static int connect_from(int nsfd, const char *ip, uint16_t port)
{
	struct target t = {ip, port};

	return in_ns(nsfd, connect_fn, &t);
}

/* "Capture.TEST" A, ID 0x5aa5 */
static const uint8_t dns_query[] = {0x5a, 0xa5, 0x01, 0x00, 0,   1,   0,   0,   0,   0,
				    0,    0,    7,    'C',  'a', 'p', 't', 'u', 'r', 'e',
				    4,    'T',  'E',  'S',  'T', 0,   0,   1,   0,   1};

/* 0 if A (N bytes) answers dns_query with ID (ID) and STUB_ADDR, else why not (4, 5). */
static int dns_check(const uint8_t *a, ssize_t n, unsigned id)
{
	struct in_addr got;

	if (n != (ssize_t)sizeof(dns_query) + 16 || ((unsigned)a[0] << 8 | a[1]) != id ||
	    !(a[2] & 0x80) || (a[3] & 0x0f) != 0 || a[7] != 1 ||
	    memcmp(a + 12, dns_query + 12, sizeof(dns_query) - 12) != 0)
		return 4;
	memcpy(&got, a + sizeof(dns_query) + 12, 4);
	return strcmp(inet_ntoa(got), STUB_ADDR) == 0 ? 0 : 5;
}

/* Asks IP:53 for "Capture.TEST" A; 0 if the answer carries STUB_ADDR. */
static int dns_fn(const void *arg)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(53)};
	struct timeval tv = {.tv_sec = 1};
	uint8_t a[512];
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	inet_pton(AF_INET, arg, &sin.sin_addr);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0)
		return 2;
	if (sendto(fd, dns_query, sizeof(dns_query), 0, (struct sockaddr *)&sin, sizeof(sin)) !=
	    sizeof(dns_query))
		return 3;
	return dns_check(a, recv(fd, a, sizeof(a), 0), 0x5aa5);
}

/* CMD's output from libnftables run in the namespace NSFD (-1: this one). */
static char *nft_output(int nsfd, const char *cmd)
{
	int saved = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	struct nft_ctx *ctx;
	char *out = NULL;

	assert_true(saved >= 0);
	if (nsfd >= 0)
		assert_int_equal(setns(nsfd, CLONE_NEWNET), 0);
	ctx = nft_ctx_new(NFT_CTX_DEFAULT);
	assert_non_null(ctx);
	nft_ctx_buffer_output(ctx);
	nft_ctx_buffer_error(ctx);
	if (nft_run_cmd_from_buffer(ctx, cmd) == 0)
		out = strdup(nft_ctx_get_output_buffer(ctx));
	nft_ctx_free(ctx);
	assert_int_equal(setns(saved, CLONE_NEWNET), 0);
	close(saved);
	return out;
}

/* Adds IP/32 to the link IFNAME of this namespace (RTM_NEWADDR). */
static void addr_add_here(const char *ifname, const char *ip)
{
	char buf[4096];
	struct mnl_socket *nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifaddrmsg *ifa;
	struct in_addr a;
	ssize_t n;

	assert_non_null(nl);
	assert_int_equal(mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID), 0);
	nlh->nlmsg_type = RTM_NEWADDR;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_REPLACE | NLM_F_ACK;
	nlh->nlmsg_seq = 1;
	ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = AF_INET;
	ifa->ifa_prefixlen = 32;
	ifa->ifa_index = if_nametoindex(ifname);
	assert_true(ifa->ifa_index > 0);
	inet_pton(AF_INET, ip, &a);
	mnl_attr_put_u32(nlh, IFA_LOCAL, a.s_addr);
	mnl_attr_put_u32(nlh, IFA_ADDRESS, a.s_addr);
	assert_true(mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) > 0);
	n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
	assert_true(n > 0);
	assert_true(mnl_cb_run(buf, (size_t)n, 1, mnl_socket_get_portid(nl), NULL, NULL) >= 0);
	mnl_socket_close(nl);
}

static int read_sysctl(const char *path, char *out, size_t len)
{
	FILE *f = fopen(path, "re");

	if (!f)
		return -1;
	if (!fgets(out, (int)len, f))
		out[0] = '\0';
	fclose(f);
	return 0;
}

static void write_sysctl(const char *path, const char *val)
{
	FILE *f = fopen(path, "we");

	if (f) {
		fputs(val, f);
		fclose(f);
	}
}

/* Number of capg and capn links in this (the root) namespace. */
static int cap_links_in_root(void)
{
	DIR *d = opendir("/sys/class/net");
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		if (strncmp(e->d_name, "capg", 4) == 0 || strncmp(e->d_name, "capn", 4) == 0)
			n++;
	closedir(d);
	return n;
}

/* ---- set-up ---- */

static int open_services(struct world *w, char *err, size_t errlen)
{
	struct net_services_config cfg = {
	    .name = w->name, .mode = w->mode, .blocked_ports = {BLOCKED_PORT, 0}};

	return net_services_open(&cfg, &w->s, err, errlen);
}

static int world_link(struct world *w, struct guest *g, unsigned index)
{
	char err[512];

	if (guest_new(g) < 0)
		return -1;
	if (net_link_create(w->s, g->fd, index, &g->link, err, sizeof(err)) < 0) {
		print_error("net_link_create %u: %s\n", index, err);
		return -1;
	}
	g->linked = true;
	return 0;
}

static int world_up(struct world *w, enum net_mode mode, const char *fmt)
{
	char err[512];

	memset(w, 0, sizeof(*w));
	w->a.fd = w->b.fd = -1;
	w->mode = mode;
	snprintf(w->name, sizeof(w->name), fmt, (int)getpid());
	read_sysctl("/proc/sys/net/ipv4/ip_forward", w->ip_forward, sizeof(w->ip_forward));
	net_services_destroy(w->name, NULL, 0);
	if (open_services(w, err, sizeof(err)) < 0) {
		print_error("net_services_open %s: %s\n", w->name, err);
		return -1;
	}
	if (dns_stub_start(net_services_fd(w->s), inet_addr(STUB_ADDR), &w->stub, err,
			   sizeof(err)) < 0) {
		print_error("dns_stub_start: %s\n", err);
		return -1;
	}
	if (world_link(w, &w->a, 0) < 0 || world_link(w, &w->b, 1) < 0)
		return -1;
	return 0;
}

/* Lets go of everything but the namespace itself. */
static void world_release(struct world *w)
{
	for (size_t i = 0; i < w->nlisteners; i++)
		close(w->listeners[i]);
	w->nlisteners = 0;
	dns_stub_stop(w->stub);
	w->stub = 0;
	guest_free(&w->a);
	guest_free(&w->b);
	net_services_close(w->s);
	w->s = NULL;
}

static void world_down(struct world *w)
{
	world_release(w);
	if (w->name[0])
		net_services_destroy(w->name, NULL, 0);
	if (w->ip_forward[0])
		write_sysctl("/proc/sys/net/ipv4/ip_forward", w->ip_forward);
}

static int setup_services(void **state)
{
	if (geteuid() != 0) {
		print_error("test_netns needs root\n");
		return -1;
	}
	return world_up(*state, NET_SERVICES, "capture-test-%d");
}

static int setup_nat(void **state)
{
	if (geteuid() != 0)
		return -1;
	return world_up(*state, NET_NAT, "capture-test-nat-%d");
}

static int teardown_all(void **state)
{
	(void)state;
	world_down(&services_world);
	world_down(&fwd_world);
	world_down(&nat_world);
	return 0;
}

/* The world of this test; skips it if the world could not be built. */
static struct world *need(void **state)
{
	struct world *w = *state;

	if (!w->s)
		skip();
	return w;
}

/* ---- mode services ---- */

static void test_link_addresses(void **state)
{
	struct world *w = need(state);

	assert_string_equal(w->a.link.services_if, "capg0");
	assert_string_equal(w->a.link.services_ip, "10.201.0.1");
	assert_string_equal(w->a.link.guest_ip, "10.201.0.2");
	assert_string_equal(w->b.link.services_if, "capg1");
	assert_string_equal(w->b.link.services_ip, "10.201.0.5");
	assert_string_equal(w->b.link.guest_ip, "10.201.0.6");
}

static void test_open_idempotent(void **state)
{
	struct world *w = need(state);
	struct net_services *again = NULL;
	char err[512], *before, *after;
	struct net_services_config cfg = {
	    .name = w->name, .mode = w->mode, .blocked_ports = {BLOCKED_PORT, 0}};

	before = nft_output(net_services_fd(w->s), "list ruleset");
	assert_non_null(before);
	assert_non_null(strstr(before, "table inet capture"));
	assert_non_null(strstr(before, "7070"));
	if (net_services_open(&cfg, &again, err, sizeof(err)) < 0)
		fail_msg("second net_services_open: %s", err);
	after = nft_output(net_services_fd(again), "list ruleset");
	assert_non_null(after);
	assert_string_equal(before, after);
	if (getenv("TEST_NETNS_SHOW"))
		print_message("ruleset of %s:\n%s", w->name, after);
	net_services_close(again);
	free(before);
	free(after);
}

static void test_tcp_to_services(void **state)
{
	struct world *w = need(state);

	keep_listener(w, listen_in(net_services_fd(w->s), w->a.link.services_ip, SVC_PORT));
	assert_int_equal(connect_from(w->a.fd, w->a.link.services_ip, SVC_PORT), 0);
	/* the other guest reaches the services namespace through its own link */
	keep_listener(w, listen_in(net_services_fd(w->s), "0.0.0.0", SVC_PORT + 1));
	assert_int_equal(connect_from(w->b.fd, w->b.link.services_ip, SVC_PORT + 1), 0);
}

static void test_dns(void **state)
{
	struct world *w = need(state);
	char err[256];
	pid_t second = -1;

	assert_true(w->stub > 0);
	assert_int_equal(in_ns(w->a.fd, dns_fn, w->a.link.services_ip), 0);
	assert_int_equal(in_ns(w->b.fd, dns_fn, w->b.link.services_ip), 0);
	/* a second client's stub shares the port (SO_REUSEPORT) ... */
	if (dns_stub_start(net_services_fd(w->s), inet_addr(STUB_ADDR), &second, err, sizeof(err)) <
	    0)
		fail_msg("second dns_stub_start: %s", err);
	assert_true(second > 0);
	/* ... so stopping the first (the end of its visit) leaves the guests their DNS */
	dns_stub_stop(w->stub);
	w->stub = second;
	for (int i = 0; i < 5; i++) {
		assert_int_equal(in_ns(w->a.fd, dns_fn, w->a.link.services_ip), 0);
		assert_int_equal(in_ns(w->b.fd, dns_fn, w->b.link.services_ip), 0);
	}
}

/* Sends dns_query with ID to NET_SERVICES_ADDR:53 from a new socket in the namespace NSFD. */
static int dns_send_from(int nsfd, unsigned id)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(53)};
	uint8_t q[sizeof(dns_query)];
	char err[256];
	int fd = net_socket_in(nsfd, AF_INET, SOCK_DGRAM, 0, err, sizeof(err));

	if (fd < 0)
		fail_msg("%s", err);
	inet_pton(AF_INET, NET_SERVICES_ADDR, &sin.sin_addr);
	memcpy(q, dns_query, sizeof(q));
	q[0] = (uint8_t)(id >> 8);
	q[1] = (uint8_t)id;
	/* connected, as glibc's resolver: only an answer from the address asked counts */
	assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(send(fd, q, sizeof(q), 0), sizeof(q));
	return fd;
}

/* How many of the N sockets FDS (query ID0 + index) have their answer within MS; closes them. */
static int dns_answered(int *fds, int n, unsigned id0, int ms)
{
	int answered = 0;
	uint64_t end = util_now_mono_ns() + (uint64_t)ms * 1000000;

	for (int i = 0; i < n; i++) {
		struct pollfd p = {.fd = fds[i], .events = POLLIN};
		uint64_t now = util_now_mono_ns();
		int left = now < end ? (int)((end - now) / 1000000) : 0;
		uint8_t a[512];

		if (poll(&p, 1, left) == 1 &&
		    dns_check(a, recv(fds[i], a, sizeof(a), 0), id0 + (unsigned)i) == 0)
			answered++;
		close(fds[i]);
	}
	return answered;
}

#define DNS_BURST 32 /* queries in flight: none lands on the stopped stub with odds 2^-32 */

/*
 * Another client's visit ends while queries of this guest sit in its stub's
 * queue: SO_REUSEPORT steered them to that stub alone, so it must answer
 * them before it goes.  SIGSTOP holds them there, as a loaded machine does
 * between a query's arrival and the stub's next read.  (A stub SIGKILLed at
 * that moment lost them: the guest's resolver waited 5 s.)
 */
static void test_dns_stop_answers_queued(void **state)
{
	struct world *w = need(state);
	char err[256];

	for (int round = 0; round < 3; round++) {
		int fds[DNS_BURST], st;
		pid_t other;

		if (dns_stub_start(net_services_fd(w->s), inet_addr(STUB_ADDR), &other, err,
				   sizeof(err)) < 0)
			fail_msg("dns_stub_start: %s", err);
		assert_true(other > 0);
		assert_int_equal(kill(other, SIGSTOP), 0);
		assert_int_equal(waitpid(other, &st, WUNTRACED), other);
		assert_true(WIFSTOPPED(st));
		for (int i = 0; i < DNS_BURST; i++)
			fds[i] = dns_send_from(w->a.fd, (unsigned)i);
		dns_stub_stop(other);
		assert_int_equal(dns_answered(fds, DNS_BURST, 0, 1000), DNS_BURST);
	}
}

/* Starts and stops stubs in NSFD until STOP_FD reads EOF (another client's visits). */
static __attribute__((noreturn)) void churn_stubs(int nsfd, int stop_fd)
{
	struct pollfd p = {.fd = stop_fd, .events = POLLIN};
	char err[256];

	for (unsigned i = 0; poll(&p, 1, 0) == 0; i++) {
		pid_t pid;

		if (dns_stub_start(nsfd, inet_addr(STUB_ADDR), &pid, err, sizeof(err)) < 0)
			_exit(1);
		usleep(10000 + (i % 4) * 5000);
		dns_stub_stop(pid);
	}
	_exit(0);
}

/*
 * The same for real: stubs come and go (concurrent visits of other
 * clients) while a guest keeps asking its nameserver; every query is
 * answered.  The guest's own stub (w->stub) lives throughout, as a visit's
 * does.  Each query waits for its answer, so a lost one costs CHURN_WAIT_MS.
 */
#define CHURN_QUERIES 400
#define CHURN_WAIT_MS 1000

static void test_dns_churn(void **state)
{
	struct world *w = need(state);
	int stop[2], lost = 0, status;
	pid_t churner;

	assert_true(w->stub > 0);
	assert_int_equal(pipe2(stop, O_CLOEXEC), 0);
	churner = fork();
	assert_true(churner >= 0);
	if (churner == 0) {
		close(stop[1]);
		churn_stubs(net_services_fd(w->s), stop[0]);
	}
	close(stop[0]);
	for (int i = 0; i < CHURN_QUERIES; i++) {
		int fd = dns_send_from(w->a.fd, (unsigned)i);

		lost += 1 - dns_answered(&fd, 1, (unsigned)i, CHURN_WAIT_MS);
		usleep(1000);
	}
	close(stop[1]);
	assert_int_equal(waitpid(churner, &status, 0), churner);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(lost, 0);
}

static void test_blocked_port(void **state)
{
	struct world *w = need(state);

	keep_listener(w, listen_in(net_services_fd(w->s), "0.0.0.0", BLOCKED_PORT));
	/* reachable inside the services namespace itself ... */
	assert_int_equal(connect_from(net_services_fd(w->s), w->a.link.services_ip, BLOCKED_PORT),
			 0);
	/* ... but not from a guest */
	assert_int_equal(connect_from(w->a.fd, w->a.link.services_ip, BLOCKED_PORT), 1);
}

static void test_guest_to_guest(void **state)
{
	struct world *w = need(state);

	keep_listener(w, listen_in(w->a.fd, "0.0.0.0", GUEST_PORT));
	assert_int_equal(connect_from(w->a.fd, w->a.link.guest_ip, GUEST_PORT), 0);
	assert_int_equal(connect_from(w->b.fd, w->a.link.guest_ip, GUEST_PORT), 1);
}

static void test_pcap(void **state)
{
	struct world *w = need(state);
	char path[] = "/tmp/capture-test-pcap-XXXXXX", err[512], ebuf[PCAP_ERRBUF_SIZE];
	struct pcap_capture *c = NULL;
	struct pcap_capture_stats st;
	struct pcap_pkthdr *h;
	const u_char *data;
	int fd = mkstemp(path), n = 0, tcp = 0;
	pcap_t *p;

	assert_true(fd >= 0);
	close(fd);
	if (pcap_capture_start(net_services_fd(w->s), w->a.link.services_if, path, &c, err,
			       sizeof(err)) < 0)
		fail_msg("pcap_capture_start: %s", err);
	keep_listener(w, listen_in(net_services_fd(w->s), w->a.link.services_ip, SVC_PORT + 2));
	assert_int_equal(connect_from(w->a.fd, w->a.link.services_ip, SVC_PORT + 2), 0);
	for (int i = 0; i < 10 && n < 3; i++) {
		struct pollfd pfd = {.fd = pcap_capture_fd(c), .events = POLLIN};

		poll(&pfd, 1, 100);
		n += pcap_capture_dispatch(c);
	}
	pcap_capture_stop(c, &st);
	assert_true(st.packets > 0);
	p = pcap_open_offline(path, ebuf);
	assert_non_null(p);
	assert_int_equal(pcap_datalink(p), DLT_EN10MB);
	n = 0;
	while (pcap_next_ex(p, &h, &data) == 1) {
		n++;
		if (h->caplen >= 34 && data[12] == 0x08 && data[13] == 0x00 && data[23] == 6)
			tcp++;
	}
	pcap_close(p);
	unlink(path);
	assert_int_equal((uint64_t)n, st.packets);
	assert_true(tcp > 0);
}

static void test_pcap_errors(void **state)
{
	struct world *w = need(state);
	struct pcap_capture *c = (struct pcap_capture *)1;
	char err[512] = "";

	assert_int_equal(pcap_capture_start(net_services_fd(w->s), "capg999", "/tmp/x.pcap", &c,
					    err, sizeof(err)),
			 -1);
	assert_null(c);
	assert_non_null(strstr(err, "capg999"));
	assert_int_equal(pcap_capture_start(net_services_fd(w->s), w->a.link.services_if,
					    "/nonexistent/dir/x.pcap", &c, err, sizeof(err)),
			 -1);
	assert_non_null(strstr(err, "/nonexistent/dir/x.pcap"));
}

/* Failures name the step and leave no link behind. */
static void test_link_errors(void **state)
{
	struct world *w = need(state);
	struct net_link l;
	char err[512] = "";

	assert_int_equal(net_link_create(w->s, w->a.fd, 16384, &l, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "16384"));
	/* capg0 already exists */
	assert_int_equal(net_link_create(w->s, w->b.fd, 0, &l, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "capg0"));
	assert_non_null(strstr(err, strerror(EEXIST)));
	/* guest a already has an eth0: the veth is refused, capg7 must not remain */
	assert_int_equal(net_link_create(w->s, w->a.fd, 7, &l, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "capg7"));
	assert_int_equal(connect_from(w->a.fd, w->a.link.services_ip, SVC_PORT), 0);
}

static int has_link_fn(const void *name)
{
	return if_nametoindex(name) > 0 ? 0 : 1;
}

static void test_link_destroy(void **state)
{
	struct world *w = need(state);

	assert_int_equal(in_ns(net_services_fd(w->s), has_link_fn, "capg1"), 0);
	assert_int_equal(in_ns(net_services_fd(w->s), has_link_fn, "capg7"), 1);
	assert_int_equal(net_link_destroy(w->s, &w->b.link), 0);
	assert_int_equal(in_ns(net_services_fd(w->s), has_link_fn, "capg1"), 1);
	assert_int_equal(in_ns(w->b.fd, has_link_fn, "eth0"), 1);
	assert_int_equal(net_link_destroy(w->s, &w->b.link), 0); /* already gone */
	assert_int_equal(net_loopback_up(w->b.fd, NULL, 0), 0);
}

static void test_destroy(void **state)
{
	struct world *w = need(state);

	world_release(w);
	char path[128], err[512];
	struct stat st;

	if (net_services_destroy(w->name, err, sizeof(err)) < 0)
		fail_msg("net_services_destroy: %s", err);
	snprintf(path, sizeof(path), "/run/netns/%s", w->name);
	assert_int_equal(stat(path, &st), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(cap_links_in_root(), 0);
	/* idempotent */
	assert_int_equal(net_services_destroy(w->name, err, sizeof(err)), 0);
	if (w->mode == NET_NAT) {
		char *t = nft_output(-1, "list tables");

		assert_non_null(t);
		assert_null(strstr(t, "capture_nat"));
		free(t);
	}
}

/* ---- the forwarding DNS stub (mode nat's), in a mode services namespace ---- */

/*
 * The relay does not depend on the nat rules: what matters is that the
 * stub's upstream sockets live in this (the root) namespace, where the
 * fake resolvers listen on loopback, while guests ask 10.201.255.1.
 */
#define FAKE_ANSWER "192.0.2.53" /* the fake upstream's A record: data only, never dialled */

static int setup_fwd(void **state)
{
	struct world *w = *state;

	if (geteuid() != 0)
		return -1;
	if (world_up(w, NET_SERVICES, "capture-test-fwd-%d") < 0)
		return -1;
	dns_stub_stop(w->stub); /* each test starts the forwarding stubs it needs */
	w->stub = 0;
	return 0;
}

struct fake_upstream {
	pid_t pid;
	struct sockaddr_in addr; /* 127.x.x.x:port in the root namespace */
	int seen;                /* read end: the 2-byte ID of every query it received */
};

/* The fakes running, so a failed test's teardown can stop them (fwd_cleanup). */
static pid_t fakes_running[8];

struct fake_opts {
	const char *ip; /* NULL = 127.0.0.1 */
	uint16_t port;  /* 0 = any free one */
	int hold;       /* answers wait until this many queries came, then go in reverse order */
	int delay_ms;   /* before answering */
	bool silent;    /* never answers */
	bool junk;      /* before each answer: 3 bytes, the query itself, the answer with ID + 1 */
};

static void fake_answer(int fd, const uint8_t *q, size_t n, const struct sockaddr_in *to,
			const struct fake_opts *o)
{
	uint8_t a[600];
	long m = dns_stub_answer(q, n, inet_addr(FAKE_ANSWER), a, sizeof(a));
	socklen_t tl = sizeof(*to);

	if (m <= 0)
		return;
	if (o->junk) {
		uint8_t wrong[600];

		memcpy(wrong, a, (size_t)m);
		wrong[1]++;
		sendto(fd, "xyz", 3, 0, (const struct sockaddr *)to, tl);
		sendto(fd, q, n, 0, (const struct sockaddr *)to, tl);
		sendto(fd, wrong, (size_t)m, 0, (const struct sockaddr *)to, tl);
	}
	sendto(fd, a, (size_t)m, 0, (const struct sockaddr *)to, tl);
}

static __attribute__((noreturn)) void fake_run(int fd, int seen, const struct fake_opts *o)
{
	struct {
		uint8_t q[512];
		size_t n;
		struct sockaddr_in from;
	} held[8];
	int nheld = 0, hold = o->hold > 0 && o->hold <= 8 ? o->hold : 1;

	for (;;) {
		socklen_t fl = sizeof(held[0].from);
		ssize_t n = recvfrom(fd, held[nheld].q, sizeof(held[nheld].q), 0,
				     (struct sockaddr *)&held[nheld].from, &fl);

		if (n < 12 || write(seen, held[nheld].q, 2) != 2 || o->silent)
			continue;
		held[nheld++].n = (size_t)n;
		if (nheld < hold)
			continue;
		if (o->delay_ms)
			usleep((useconds_t)o->delay_ms * 1000);
		while (nheld > 0) {
			nheld--;
			fake_answer(fd, held[nheld].q, held[nheld].n, &held[nheld].from, o);
		}
	}
}

/* A fake resolver in the root namespace; 0, or -1 if its address cannot be bound. */
static int fake_start(struct fake_upstream *u, const struct fake_opts *o)
{
	socklen_t al = sizeof(u->addr);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), p[2];

	memset(u, 0, sizeof(*u));
	assert_true(fd >= 0);
	u->addr.sin_family = AF_INET;
	u->addr.sin_port = htons(o->port);
	inet_pton(AF_INET, o->ip ? o->ip : "127.0.0.1", &u->addr.sin_addr);
	if (bind(fd, (struct sockaddr *)&u->addr, sizeof(u->addr)) < 0) {
		close(fd);
		return -1;
	}
	assert_int_equal(getsockname(fd, (struct sockaddr *)&u->addr, &al), 0);
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	u->pid = fork();
	assert_true(u->pid >= 0);
	if (u->pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(p[0]);
		fake_run(fd, p[1], o);
	}
	close(fd);
	close(p[1]);
	u->seen = p[0];
	for (size_t i = 0; i < ARRAY_SIZE(fakes_running); i++)
		if (fakes_running[i] == 0) {
			fakes_running[i] = u->pid;
			break;
		}
	return 0;
}

static void fake_kill(pid_t *pid)
{
	if (*pid > 0) {
		kill(*pid, SIGKILL);
		waitpid(*pid, NULL, 0);
	}
	*pid = 0;
}

static void fake_stop(struct fake_upstream *u)
{
	for (size_t i = 0; i < ARRAY_SIZE(fakes_running); i++)
		if (fakes_running[i] == u->pid)
			fake_kill(&fakes_running[i]);
	close(u->seen);
}

/*
 * After each forwarding test, even a failed one: its stub must not stay
 * in the port group (the next test's queries would be steered to it), nor
 * its fakes on their ports.
 */
static int fwd_cleanup(void **state)
{
	struct world *w = *state;

	dns_stub_stop(w->stub);
	w->stub = 0;
	for (size_t i = 0; i < ARRAY_SIZE(fakes_running); i++)
		fake_kill(&fakes_running[i]);
	return 0;
}

/* Up to MAX IDs the fake received within MS (in order); how many. */
static int fake_seen(struct fake_upstream *u, unsigned *ids, int max, int ms)
{
	int n = 0;

	while (n < max) {
		struct pollfd p = {.fd = u->seen, .events = POLLIN};
		uint8_t id[2];

		if (poll(&p, 1, ms) != 1 || read(u->seen, id, 2) != 2)
			break;
		ids[n++] = (unsigned)id[0] << 8 | id[1];
	}
	return n;
}

/* A forwarding stub in W's namespace (W->stub) asking the N fakes UPS in order. */
static pid_t fwd_start(struct world *w, struct fake_upstream *ups, unsigned n, unsigned try_ms)
{
	struct dns_stub_config cfg = {.mode = DNS_STUB_FORWARD, .try_ms = try_ms};
	char err[512];

	for (unsigned i = 0; i < n; i++)
		memcpy(&cfg.upstreams.addr[i], &ups[i].addr, sizeof(ups[i].addr));
	cfg.upstreams.n = n;
	if (dns_stub_start_with(net_services_fd(w->s), &cfg, &w->stub, err, sizeof(err)) < 0)
		fail_msg("dns_stub_start_with: %s", err);
	assert_true(w->stub > 0);
	return w->stub;
}

/* Stops W's stub, as the end of a visit does. */
static void fwd_stop(struct world *w)
{
	dns_stub_stop(w->stub);
	w->stub = 0;
}

/* Into Q: an A query for "LABEL.Capture.TEST" with ID; its length. */
static size_t fwd_query(uint8_t *q, const char *label, unsigned id)
{
	size_t l = strlen(label), off = 12;

	memcpy(q, dns_query, 12);
	q[0] = (uint8_t)(id >> 8);
	q[1] = (uint8_t)id;
	q[off++] = (uint8_t)l;
	memcpy(q + off, label, l);
	off += l;
	memcpy(q + off, dns_query + 12, sizeof(dns_query) - 12);
	return off + sizeof(dns_query) - 12;
}

/* A socket in NSFD connected to 10.201.255.1:53 that sent LEN bytes of Q. */
static int fwd_send(int nsfd, const uint8_t *q, size_t len)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(53)};
	char err[256];
	int fd = net_socket_in(nsfd, AF_INET, SOCK_DGRAM, 0, err, sizeof(err));

	if (fd < 0)
		fail_msg("%s", err);
	inet_pton(AF_INET, NET_SERVICES_ADDR, &sin.sin_addr);
	/* connected, as glibc's resolver: only an answer from the address asked counts */
	assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(send(fd, q, len, 0), (ssize_t)len);
	return fd;
}

/*
 * 0 if FD gets, within MS, the fake's answer to Q (QLEN bytes): the
 * guest's ID, its question and FAKE_ANSWER; else why not.  Closes FD.
 */
static int fwd_answer(int fd, const uint8_t *q, size_t qlen, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	uint8_t a[600];
	struct in_addr got;
	ssize_t n = poll(&p, 1, ms) == 1 ? recv(fd, a, sizeof(a), 0) : -1;

	close(fd);
	if (n < 0)
		return 1;
	if (n != (ssize_t)qlen + 16 || a[0] != q[0] || a[1] != q[1] || !(a[2] & 0x80) ||
	    (a[3] & 0x0f) || a[7] != 1 || memcmp(a + 12, q + 12, qlen - 12) != 0)
		return 2;
	memcpy(&got, a + n - 4, 4);
	return strcmp(inet_ntoa(got), FAKE_ANSWER) == 0 ? 0 : 3;
}

static struct dns_stub_stats fwd_stats(pid_t stub)
{
	struct dns_stub_stats st;

	assert_int_equal(dns_stub_stats(stub, &st), 0);
	return st;
}

/* glibc's own resolver, run in a guest and pointed at 10.201.255.1: 0 if it resolves. */
static int fwd_glibc_fn(const void *arg)
{
	struct __res_state rs;
	unsigned char a[512];
	struct in_addr got;
	int n;

	(void)arg;
	memset(&rs, 0, sizeof(rs));
	if (res_ninit(&rs) < 0)
		return 2;
	rs.nscount = 1;
	rs.nsaddr_list[0].sin_family = AF_INET;
	rs.nsaddr_list[0].sin_port = htons(53);
	inet_pton(AF_INET, NET_SERVICES_ADDR, &rs.nsaddr_list[0].sin_addr);
	rs.retrans = 1;
	rs.retry = 2;
	n = res_nquery(&rs, "glibc.capture.test", ns_c_in, ns_t_a, a, sizeof(a));
	res_nclose(&rs);
	if (n < 16)
		return 3;
	memcpy(&got, a + n - 4, 4); /* the fake's one A record ends the answer */
	return strcmp(inet_ntoa(got), FAKE_ANSWER) == 0 ? 0 : 4;
}

/*
 * The bug: in mode nat no stub answered 10.201.255.1, so no guest name
 * resolved.  The forwarding stub relays to a resolver on the host's
 * loopback, which no guest can reach itself, and the guest gets the answer
 * with its own ID.
 */
static void test_fwd_relay(void **state)
{
	struct world *w = need(state);
	struct fake_opts o = {.hold = 1};
	struct fake_upstream up;
	struct dns_stub_stats st;
	uint8_t q[300];
	size_t ql = fwd_query(q, "one", 0x5aa5);
	unsigned ids[2];
	pid_t stub;

	assert_int_equal(fake_start(&up, &o), 0);
	stub = fwd_start(w, &up, 1, 0);
	assert_int_equal(fwd_answer(fwd_send(w->a.fd, q, ql), q, ql, 1000), 0);
	assert_int_equal(fake_seen(&up, ids, 2, 100), 1);
	/* ... also to glibc's resolver, which checks the answer's source and question */
	assert_int_equal(in_ns(w->b.fd, fwd_glibc_fn, NULL), 0);
	assert_int_equal(fake_seen(&up, ids, 2, 100), 1);
	st = fwd_stats(stub);
	assert_int_equal(st.queries, 2);
	assert_int_equal(st.answers, 2);
	assert_int_equal(st.bad_queries + st.bad_answers + st.unanswered + st.upstream_errors, 0);
	fwd_stop(w);
	fake_stop(&up);
}

/*
 * Three queries with the same ID at once, from two sockets of guest a and
 * from guest b: the upstream sees three different IDs, answers them in
 * reverse order, and each asker gets its own answer with its own ID.
 */
static void test_fwd_same_id(void **state)
{
	struct world *w = need(state);
	struct fake_opts o = {.hold = 3};
	struct fake_upstream up;
	uint8_t q[3][300];
	size_t ql[3] = {fwd_query(q[0], "a1", 0x1234), fwd_query(q[1], "a2", 0x1234),
			fwd_query(q[2], "b", 0x1234)};
	int fds[3];
	unsigned ids[4];
	pid_t stub;

	assert_int_equal(fake_start(&up, &o), 0);
	stub = fwd_start(w, &up, 1, 0);
	fds[0] = fwd_send(w->a.fd, q[0], ql[0]);
	fds[1] = fwd_send(w->a.fd, q[1], ql[1]);
	fds[2] = fwd_send(w->b.fd, q[2], ql[2]);
	for (int i = 0; i < 3; i++)
		assert_int_equal(fwd_answer(fds[i], q[i], ql[i], 1000), 0);
	assert_int_equal(fake_seen(&up, ids, 4, 100), 3);
	assert_true(ids[0] != ids[1] && ids[1] != ids[2] && ids[0] != ids[2]);
	assert_int_equal(fwd_stats(stub).answers, 3);
	fwd_stop(w);
	fake_stop(&up);
}

/* The first upstream never answers: after its try the second is asked, and answers. */
static void test_fwd_next_upstream(void **state)
{
	struct world *w = need(state);
	struct fake_opts silent = {.silent = true}, good = {.hold = 1};
	struct fake_upstream up[2];
	struct dns_stub_stats st;
	uint8_t q[300];
	size_t ql = fwd_query(q, "second", 0x0101);
	unsigned ids[2];
	uint64_t t0;
	pid_t stub;

	assert_int_equal(fake_start(&up[0], &silent), 0);
	assert_int_equal(fake_start(&up[1], &good), 0);
	stub = fwd_start(w, up, 2, 200);
	t0 = util_now_mono_ns();
	assert_int_equal(fwd_answer(fwd_send(w->a.fd, q, ql), q, ql, 1500), 0);
	assert_true(util_now_mono_ns() - t0 >= 150 * 1000000ull); /* not before the try ended */
	assert_int_equal(fake_seen(&up[0], ids, 2, 100), 1);
	assert_int_equal(fake_seen(&up[1], ids + 1, 1, 100), 1);
	assert_int_equal(ids[0], ids[1]); /* the same query, the same upstream ID */
	st = fwd_stats(stub);
	assert_int_equal(st.retries, 1);
	assert_int_equal(st.answers, 1);
	fwd_stop(w);
	fake_stop(&up[0]);
	fake_stop(&up[1]);
}

/*
 * Nothing listens at the first upstream: its ICMP port unreachable sends
 * the query on to the second at once, long before the (3 s) try ends.
 */
static void test_fwd_refused_upstream(void **state)
{
	struct world *w = need(state);
	struct fake_opts closed = {.silent = true}, good = {.hold = 1};
	struct fake_upstream up[2];
	uint8_t q[300];
	size_t ql = fwd_query(q, "refused", 0x0202);
	pid_t stub;

	/* a free port: bound by a fake that is gone again */
	assert_int_equal(fake_start(&up[0], &closed), 0);
	fake_stop(&up[0]);
	assert_int_equal(fake_start(&up[1], &good), 0);
	stub = fwd_start(w, up, 2, 3000);
	assert_int_equal(fwd_answer(fwd_send(w->a.fd, q, ql), q, ql, 1000), 0);
	assert_true(fwd_stats(stub).upstream_errors >= 1);
	fwd_stop(w);
	fake_stop(&up[1]);
}

/*
 * Garbage from a guest (empty, short, a response, longer than 512 bytes)
 * and from the upstream (short, not a response, an unknown ID) is dropped
 * and counted; the stub lives on and relays the real query.
 */
static void test_fwd_garbage(void **state)
{
	struct world *w = need(state);
	struct fake_opts o = {.hold = 1, .junk = true};
	struct fake_upstream up;
	struct dns_stub_stats st;
	uint8_t q[300], big[700] = {0}, resp[300];
	size_t ql = fwd_query(q, "junk", 0x0303);
	int fds[4];
	pid_t stub;

	assert_int_equal(fake_start(&up, &o), 0);
	stub = fwd_start(w, &up, 1, 0);
	memcpy(resp, q, ql);
	resp[2] |= 0x80;
	fds[0] = fwd_send(w->a.fd, q, 0);
	fds[1] = fwd_send(w->a.fd, q, 5);
	fds[2] = fwd_send(w->a.fd, resp, ql);
	memcpy(big, q, ql);
	fds[3] = fwd_send(w->a.fd, big, sizeof(big));
	for (int i = 0; i < 4; i++)
		assert_int_equal(fwd_answer(fds[i], q, ql, 100), 1); /* no answer at all */
	assert_int_equal(kill(stub, 0), 0);
	assert_int_equal(fwd_answer(fwd_send(w->a.fd, q, ql), q, ql, 1000), 0);
	usleep(50000); /* the fake's junk went before its answer; let the stub count it all */
	st = fwd_stats(stub);
	assert_int_equal(st.bad_queries, 4);
	assert_int_equal(st.bad_answers, 3);
	assert_int_equal(st.queries, 1);
	assert_int_equal(st.answers, 1);
	fwd_stop(w);
	fake_stop(&up);
}

/*
 * The visit ends (dns_stub_stop) while a relayed query still waits for a
 * slow upstream: the stub has left the port group but relays that answer
 * before it exits, as it answers the queries queued to it.
 */
static void test_fwd_stop_waits_for_answer(void **state)
{
	struct world *w = need(state);
	struct fake_opts o = {.hold = 1, .delay_ms = 200};
	struct fake_upstream up;
	uint8_t q[300];
	size_t ql = fwd_query(q, "slow", 0x0404);
	unsigned id;
	int fd;

	assert_int_equal(fake_start(&up, &o), 0);
	fwd_start(w, &up, 1, 0);
	fd = fwd_send(w->a.fd, q, ql);
	assert_int_equal(fake_seen(&up, &id, 1, 1000), 1); /* in flight */
	fwd_stop(w);
	assert_int_equal(fwd_answer(fd, q, ql, 1000), 0);
	fake_stop(&up);
}

/*
 * An upstream that cannot be reached from the host is left out; with none
 * left the stub does not start, and says why.
 */
static void test_fwd_upstream_left_out(void **state)
{
	struct world *w = need(state);
	struct fake_opts o = {.hold = 1};
	struct dns_stub_config cfg = {.mode = DNS_STUB_FORWARD};
	struct fake_upstream up;
	uint8_t q[300];
	size_t ql = fwd_query(q, "left", 0x0505);
	char err[512] = "";

	cfg.upstreams.n = 1;
	cfg.upstreams.addr[0].ss_family = AF_UNIX; /* no IP address: connect() cannot work */
	assert_int_equal(
	    dns_stub_start_with(net_services_fd(w->s), &cfg, &w->stub, err, sizeof(err)), -1);
	assert_int_equal(w->stub, 0);
	assert_non_null(strstr(err, "no upstream resolver"));
	assert_int_equal(fake_start(&up, &o), 0);
	memcpy(&cfg.upstreams.addr[1], &up.addr, sizeof(up.addr));
	cfg.upstreams.n = 2;
	if (dns_stub_start_with(net_services_fd(w->s), &cfg, &w->stub, err, sizeof(err)) < 0)
		fail_msg("dns_stub_start_with: %s", err);
	assert_int_equal(fwd_answer(fwd_send(w->a.fd, q, ql), q, ql, 1000), 0);
	assert_int_equal(fwd_stats(w->stub).retries, 0); /* the fake is upstream 0 now */
	fwd_stop(w);
	fake_stop(&up);
}

/*
 * The upstreams come from a resolv.conf (the host's /etc/resolv.conf in
 * real use): a fake on 127.53.0.1:53, named there among comments and
 * garbage.
 */
static void test_fwd_resolv_conf(void **state)
{
	struct world *w = need(state);
	struct fake_opts o = {.ip = "127.53.0.1", .port = 53, .hold = 1};
	struct dns_stub_config cfg = {.mode = DNS_STUB_FORWARD};
	char path[] = "/tmp/capture-test-resolv-XXXXXX", err[512];
	static const char text[] = "# the host's\nsearch example.org\nnameserver not-an-address\n"
				   "nameserver\t127.53.0.1  # loopback\noptions edns0\n";
	struct fake_upstream up;
	uint8_t q[300];
	size_t ql = fwd_query(q, "conf", 0x0606);
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, sizeof(text) - 1), (ssize_t)sizeof(text) - 1);
	close(fd);
	if (fake_start(&up, &o) < 0) {
		unlink(path);
		print_message("127.53.0.1:53 is taken here: %s\n", strerror(errno));
		skip();
	}
	cfg.resolv_conf = path;
	if (dns_stub_start_with(net_services_fd(w->s), &cfg, &w->stub, err, sizeof(err)) < 0)
		fail_msg("dns_stub_start_with: %s", err);
	unlink(path);
	assert_int_equal(fwd_answer(fwd_send(w->a.fd, q, ql), q, ql, 1000), 0);
	fwd_stop(w);
	fake_stop(&up);
}

/* ---- mode nat ---- */

static void test_nat_open(void **state)
{
	struct world *w = need(state);
	struct net_services *again = NULL;
	char err[512], *host, *svc, *before;

	assert_int_equal(if_nametoindex("capn0") > 0, 1);
	before = nft_output(-1, "list table inet capture_nat");
	assert_non_null(before);
	/* an address the host gains later is covered after the next open */
	addr_add_here("capn0", EXTRA_HOST_IP);
	net_services_close(w->s);
	w->s = NULL;
	if (open_services(w, err, sizeof(err)) < 0)
		fail_msg("second net_services_open (nat): %s", err);
	again = w->s;
	w->s = NULL;
	if (open_services(w, err, sizeof(err)) < 0)
		fail_msg("third net_services_open (nat): %s", err);
	net_services_close(again);
	host = nft_output(-1, "list table inet capture_nat");
	svc = nft_output(net_services_fd(w->s), "list ruleset");
	assert_non_null(host);
	assert_non_null(svc);
	assert_non_null(strstr(host, "masquerade"));
	assert_non_null(strstr(host, EXTRA_HOST_IP));
	assert_non_null(strstr(svc, EXTRA_HOST_IP));
	assert_non_null(strstr(svc, "10.199.0.0/24"));
	/* one table each, whatever the number of opens */
	assert_null(strstr(strstr(svc, "table inet capture") + 1, "table inet capture"));
	assert_int_equal(strlen(host) > strlen(before), 1);
	if (getenv("TEST_NETNS_SHOW"))
		print_message("host table:\n%s\nruleset of %s:\n%s", host, w->name, svc);
	free(before);
	free(host);
	free(svc);
}

static void test_nat_services_reachable(void **state)
{
	struct world *w = need(state);

	keep_listener(w, listen_in(net_services_fd(w->s), "0.0.0.0", SVC_PORT));
	assert_int_equal(connect_from(w->a.fd, w->a.link.services_ip, SVC_PORT), 0);
	assert_int_equal(in_ns(w->a.fd, dns_fn, w->a.link.services_ip), 0);
	assert_int_equal(connect_from(w->a.fd, w->a.link.services_ip, BLOCKED_PORT), 1);
}

static void test_nat_host_blocked(void **state)
{
	struct world *w = need(state);

	keep_listener(w, listen_in(-1, "10.199.0.1", HOST_PORT));
	keep_listener(w, listen_in(-1, EXTRA_HOST_IP, HOST_PORT));
	/* the path exists: the services namespace itself reaches the host ... */
	assert_int_equal(connect_from(net_services_fd(w->s), "10.199.0.1", HOST_PORT), 0);
	/* ... but no guest does */
	assert_int_equal(connect_from(w->a.fd, "10.199.0.1", HOST_PORT), 1);
	assert_int_equal(connect_from(w->a.fd, EXTRA_HOST_IP, HOST_PORT), 1);
	assert_int_equal(connect_from(w->b.fd, "10.199.0.1", HOST_PORT), 1);
}

static void test_nat_guest_to_guest(void **state)
{
	struct world *w = need(state);

	keep_listener(w, listen_in(w->a.fd, "0.0.0.0", GUEST_PORT));
	assert_int_equal(connect_from(w->a.fd, w->a.link.guest_ip, GUEST_PORT), 0);
	assert_int_equal(connect_from(w->b.fd, w->a.link.guest_ip, GUEST_PORT), 1);
}

#define T(f, world)           cmocka_unit_test_prestate(f, world)
#define T_FWD(f)              cmocka_unit_test_prestate_setup_teardown(f, NULL, fwd_cleanup, &fwd_world)
#define T_FIRST(f, world, up) cmocka_unit_test_prestate_setup_teardown(f, up, NULL, world)

/* A second nat namespace cannot take the nat link: refused, and nothing of it remains. */
static void test_nat_second_refused(void **state)
{
	struct world *w = need(state);
	struct net_services_config cfg = {.mode = NET_NAT};
	struct net_services *s2 = NULL;
	char name[64], path[128], err[512] = "";
	struct stat st;

	snprintf(name, sizeof(name), "capture-test-nat2-%d", (int)getpid());
	snprintf(path, sizeof(path), "/run/netns/%s", name);
	cfg.name = name;
	assert_int_equal(net_services_open(&cfg, &s2, err, sizeof(err)), -1);
	assert_null(s2);
	assert_non_null(strstr(err, "capn0"));
	assert_non_null(strstr(err, strerror(EEXIST)));
	assert_int_equal(stat(path, &st), -1);
	/* the first one is untouched */
	assert_int_equal(in_ns(w->a.fd, dns_fn, w->a.link.services_ip), 0);
	assert_int_equal(connect_from(net_services_fd(w->s), "10.199.0.1", HOST_PORT), 0);
}

static void test_bad_config(void **state)
{
	struct net_services_config cfg = {.name = "a/b", .mode = NET_SERVICES};
	struct net_services *s = NULL;
	char err[512] = "";

	(void)state;
	assert_int_equal(net_services_open(&cfg, &s, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "a/b"));
	cfg.name = "capture-test-bad";
	cfg.mode = NET_NONE;
	assert_int_equal(net_services_open(&cfg, &s, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "none"));
	assert_null(s);
	assert_int_equal(net_mode_from_name("nat"), NET_NAT);
	assert_int_equal(net_mode_from_name("services"), NET_SERVICES);
	assert_int_equal(net_mode_from_name("none"), NET_NONE);
	assert_int_equal(net_mode_from_name("NAT"), -1);
	assert_string_equal(net_mode_name(NET_SERVICES), "services");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_bad_config, NULL),
	    T_FIRST(test_link_addresses, &services_world, setup_services),
	    T(test_open_idempotent, &services_world),
	    T(test_tcp_to_services, &services_world),
	    T(test_dns, &services_world),
	    T(test_dns_stop_answers_queued, &services_world),
	    T(test_dns_churn, &services_world),
	    T(test_blocked_port, &services_world),
	    T(test_guest_to_guest, &services_world),
	    T(test_pcap, &services_world),
	    T(test_pcap_errors, &services_world),
	    T(test_link_errors, &services_world),
	    T(test_link_destroy, &services_world),
	    T(test_destroy, &services_world),
	    cmocka_unit_test_prestate_setup_teardown(test_fwd_relay, setup_fwd, fwd_cleanup,
						     &fwd_world),
	    T_FWD(test_fwd_same_id),
	    T_FWD(test_fwd_next_upstream),
	    T_FWD(test_fwd_refused_upstream),
	    T_FWD(test_fwd_garbage),
	    T_FWD(test_fwd_stop_waits_for_answer),
	    T_FWD(test_fwd_upstream_left_out),
	    T_FWD(test_fwd_resolv_conf),
	    T(test_destroy, &fwd_world),
	    T_FIRST(test_nat_open, &nat_world, setup_nat),
	    T(test_nat_services_reachable, &nat_world),
	    T(test_nat_host_blocked, &nat_world),
	    T(test_nat_guest_to_guest, &nat_world),
	    T(test_nat_second_refused, &nat_world),
	    T(test_destroy, &nat_world),
	};

	services_world.a.fd = services_world.b.fd = nat_world.a.fd = nat_world.b.fd = -1;
	fwd_world.a.fd = fwd_world.b.fd = -1;
	return cmocka_run_group_tests_name("netns", tests, NULL, teardown_all);
}
