/*
 * dns_stub.c - see dns_stub.h.
 *
 * Answering, only the question section is parsed (RFC 1035 4.1):
 * additional records such as an EDNS OPT are ignored, so answers never
 * carry one.  Every read of the query is checked against QLEN first.
 * Forwarding, nothing beyond the 12-byte header is read: the upstream
 * resolver and the guest's resolver check the rest.
 */
#include "guest/dns_stub.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"

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
#define LEAVE_FORWARD_MS  1000 /* a leaving forwarder waits this long for answers in flight */

#define RESOLV_MAX       65536 /* bytes of resolv.conf read; glibc's files are a few hundred */
#define OWNED_MAX        64    /* stubs of this process whose counters are kept */
#define RELAY_MAX_TRY_MS 60000 /* longer is a caller's mistake: guests give up after 3 s */

/* The counters live in memory shared with the parent, read while they move. */
#define STAT_INC(st, f) __atomic_fetch_add(&(st)->f, 1, __ATOMIC_RELAXED)

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

/* ---- the host's resolvers: resolv.conf ---- */

static bool is_blank(char c)
{
	/* glibc ends the address at a blank; here '\r' too, so a DOS line still counts */
	return c == ' ' || c == '\t' || c == '\r';
}

/* The scope of "fe80::1%eth0" or "fe80::1%2"; 0 if it names no interface. */
static uint32_t scope_id(const char *s)
{
	char *end;
	unsigned long v;

	if (*s >= '0' && *s <= '9') {
		errno = 0;
		v = strtoul(s, &end, 10);
		return errno || *end || v > UINT32_MAX ? 0 : (uint32_t)v;
	}
	return strlen(s) < IF_NAMESIZE ? if_nametoindex(s) : 0;
}

/* The address T (TLEN bytes) of a nameserver line, port 53, into SS; 0, or -1 if it is none. */
static int parse_nameserver(const char *t, size_t tlen, struct sockaddr_storage *ss)
{
	char buf[INET6_ADDRSTRLEN + IF_NAMESIZE + 2], *pct;
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	if (tlen == 0 || tlen >= sizeof(buf) || memchr(t, '\0', tlen))
		return -1;
	memcpy(buf, t, tlen);
	buf[tlen] = '\0';
	memset(ss, 0, sizeof(*ss));
	/* inet_aton, not inet_pton: glibc takes "127.1" and the other old forms here */
	if (inet_aton(buf, &sin->sin_addr)) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(53);
		return 0;
	}
	memset(ss, 0, sizeof(*ss));
	pct = strchr(buf, '%');
	if (pct)
		*pct++ = '\0';
	if (inet_pton(AF_INET6, buf, &sin6->sin6_addr) != 1)
		return -1;
	if (pct && (sin6->sin6_scope_id = scope_id(pct)) == 0)
		return -1;
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons(53);
	return 0;
}

unsigned dns_stub_parse_resolv(const char *name, const char *text, size_t len,
			       struct dns_stub_upstreams *out)
{
	static const char kw[] = "nameserver";
	const size_t kwlen = sizeof(kw) - 1;
	unsigned skipped = 0, lineno = 0;
	size_t off = 0;

	memset(out, 0, sizeof(*out));
	while (text && off < len) {
		const char *line = text + off, *nl = memchr(line, '\n', len - off);
		size_t ll = nl ? (size_t)(nl - line) : len - off, i = kwlen, tlen = 0;
		char sample[200];

		off += ll + (nl ? 1 : 0);
		lineno++;
		/* glibc: the keyword at the very start of the line, then a blank */
		if (ll <= kwlen || memcmp(line, kw, kwlen) != 0 ||
		    (line[kwlen] != ' ' && line[kwlen] != '\t'))
			continue;
		if (out->n == DNS_STUB_MAX_UPSTREAMS)
			continue; /* glibc uses the first three too */
		while (i < ll && is_blank(line[i]))
			i++;
		while (i + tlen < ll && !is_blank(line[i + tlen]))
			tlen++;
		if (parse_nameserver(line + i, tlen, &out->addr[out->n]) == 0) {
			out->n++;
			continue;
		}
		skipped++;
		util_quote_sample(sample, sizeof(sample), line + i, tlen);
		log_warnx("%s:%u: nameserver \"%s\" is no IP address; line skipped",
			  name ? name : "resolv.conf", lineno, sample);
	}
	return skipped;
}

static void loopback_upstream(struct dns_stub_upstreams *out)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&out->addr[0];

	memset(out, 0, sizeof(*out));
	sin->sin_family = AF_INET;
	sin->sin_port = htons(53);
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	out->n = 1;
}

int dns_stub_read_resolv(const char *path, struct dns_stub_upstreams *out, char *err, size_t errlen)
{
	CLEANUP_FREE char *text = NULL;
	CLEANUP_FD int fd = -1;
	struct stat st;
	size_t len = 0;

	if (!path)
		path = DNS_STUB_RESOLV_CONF;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0 && errno == ENOENT) {
		log_info("%s does not exist: DNS goes to 127.0.0.1, as glibc's", path);
		loopback_upstream(out);
		return 0;
	}
	if (fd < 0 || fstat(fd, &st) < 0) {
		snprintf(err, errlen, "dns stub: %s: %s", path, strerror(errno));
		return -1;
	}
	/* a FIFO or a device put there would block or feed us forever */
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "dns stub: %s: not a regular file", path);
		return -1;
	}
	text = malloc(RESOLV_MAX);
	if (!text) {
		snprintf(err, errlen, "dns stub: %s: out of memory", path);
		return -1;
	}
	while (len < RESOLV_MAX) {
		ssize_t n = read(fd, text + len, RESOLV_MAX - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(err, errlen, "dns stub: read %s: %s", path, strerror(errno));
			return -1;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len == RESOLV_MAX)
		log_warnx("%s: only its first %d bytes are read", path, RESOLV_MAX);
	dns_stub_parse_resolv(path, text, len, out);
	if (out->n == 0) {
		log_info("%s names no nameserver: DNS goes to 127.0.0.1, as glibc's", path);
		loopback_upstream(out);
	}
	return 0;
}

/* "192.0.2.1:53", "[fe80::1%2]:53" */
static void addr_text(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN] = "?";

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;

		inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof(ip));
		snprintf(buf, len, "%s:%u", ip, ntohs(sin->sin_port));
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;

		inet_ntop(AF_INET6, &sin6->sin6_addr, ip, sizeof(ip));
		if (sin6->sin6_scope_id)
			snprintf(buf, len, "[%s%%%u]:%u", ip, sin6->sin6_scope_id,
				 ntohs(sin6->sin6_port));
		else
			snprintf(buf, len, "[%s]:%u", ip, ntohs(sin6->sin6_port));
	} else {
		snprintf(buf, len, "(address family %u)", ss->ss_family);
	}
}

/* ---- the relay's table ---- */

struct relay_entry {
	uint64_t next_try_ms;     /* when the next upstream is asked (while tried < n_up) */
	uint64_t expires_ms;      /* forgotten unanswered then; the oldest has the smallest */
	struct sockaddr_in guest; /* where the answer goes */
	struct in_addr local;     /* the address the guest asked: the answer's source */
	uint16_t guest_id;        /* restored in the answer */
	uint16_t up_id;           /* the ID upstream: unique among the entries in use */
	uint16_t len;
	uint8_t tried;                     /* upstreams asked: 0..tried-1; 0 = a free slot */
	uint8_t query[DNS_STUB_MAX_QUERY]; /* as sent upstream (ID = up_id), for the next try */
};

struct dns_relay {
	unsigned n_up, cap, used;
	unsigned try_ms;
	uint64_t life_ms; /* an entry's whole life: every upstream gets its try */
	struct dns_stub_stats *stats;
	struct relay_entry e[];
};

struct dns_relay *dns_relay_new(unsigned n_upstreams, unsigned capacity, unsigned try_ms,
				struct dns_stub_stats *stats)
{
	struct dns_relay *r;

	if (try_ms == 0)
		try_ms = DNS_STUB_TRY_MS;
	/* fewer entries than IDs, so a free ID always exists */
	if (!stats || n_upstreams == 0 || n_upstreams > DNS_STUB_MAX_UPSTREAMS || capacity == 0 ||
	    capacity > 4096 || try_ms > RELAY_MAX_TRY_MS) {
		errno = EINVAL;
		return NULL;
	}
	r = calloc(1, sizeof(*r) + (size_t)capacity * sizeof(r->e[0]));
	if (!r)
		return NULL;
	r->n_up = n_upstreams;
	r->cap = capacity;
	r->try_ms = try_ms;
	r->life_ms = (uint64_t)n_upstreams * try_ms;
	if (r->life_ms < DNS_STUB_QUERY_MS)
		r->life_ms = DNS_STUB_QUERY_MS;
	r->stats = stats;
	return r;
}

void dns_relay_free(struct dns_relay *r)
{
	free(r);
}

static bool id_in_use(const struct dns_relay *r, unsigned id)
{
	for (unsigned i = 0; i < r->cap; i++)
		if (r->e[i].tried && r->e[i].up_id == id)
			return true;
	return false;
}

/*
 * An ID for the upstream side.  Random, so a host on the path to the
 * upstream cannot guess it to forge answers (the guest's own ID is the
 * guest's to choose); a collision goes on to the next free one.
 */
static uint16_t fresh_id(const struct dns_relay *r)
{
	unsigned id = arc4random() & 0xffff;

	while (id_in_use(r, id))
		id = (id + 1) & 0xffff; /* ends: fewer entries than IDs */
	return (uint16_t)id;
}

static void forget(struct dns_relay *r, struct relay_entry *e)
{
	e->tried = 0;
	r->used--;
}

/* A free slot, or the oldest entry forgotten (counted) to make one. */
static struct relay_entry *take_slot(struct dns_relay *r)
{
	struct relay_entry *oldest = &r->e[0]; /* the capacity is at least 1 */

	for (unsigned i = 0; i < r->cap; i++) {
		struct relay_entry *e = &r->e[i];

		if (!e->tried)
			return e;
		if (e->expires_ms < oldest->expires_ms)
			oldest = e;
	}
	/*
	 * The newest query is the one most likely still awaited; the oldest
	 * has had its answer late, or its guest asked again.
	 */
	forget(r, oldest);
	STAT_INC(r->stats, evicted);
	return oldest;
}

enum dns_relay_action dns_relay_query(struct dns_relay *r, uint64_t now_ms, uint8_t *pkt,
				      size_t len, const struct sockaddr_in *guest,
				      struct in_addr local, struct dns_relay_out *out)
{
	struct relay_entry *e;

	if (!pkt || len < DNS_HDR || len > DNS_STUB_MAX_QUERY || (pkt[2] & DNS_QR)) {
		STAT_INC(r->stats, bad_queries);
		return DNS_RELAY_DROP;
	}
	e = take_slot(r);
	e->guest = *guest;
	e->local = local;
	e->guest_id = (uint16_t)get16(pkt);
	e->up_id = fresh_id(r); /* before the slot counts as used: its old ID is free */
	put16(pkt, e->up_id);
	memcpy(e->query, pkt, len);
	e->len = (uint16_t)len;
	e->tried = 1;
	e->next_try_ms = now_ms + r->try_ms;
	e->expires_ms = now_ms + r->life_ms;
	r->used++;
	STAT_INC(r->stats, queries);
	out->upstream = 0;
	return DNS_RELAY_UPSTREAM;
}

enum dns_relay_action dns_relay_answer(struct dns_relay *r, unsigned upstream, uint8_t *pkt,
				       size_t len, struct dns_relay_out *out)
{
	unsigned id;

	if (!pkt || len < DNS_HDR || !(pkt[2] & DNS_QR) || upstream >= r->n_up) {
		STAT_INC(r->stats, bad_answers);
		return DNS_RELAY_DROP;
	}
	id = get16(pkt);
	for (unsigned i = 0; i < r->cap; i++) {
		struct relay_entry *e = &r->e[i];

		/* a late answer from an upstream asked earlier is as good as any */
		if (e->tried > upstream && e->up_id == id) {
			put16(pkt, e->guest_id);
			out->guest = e->guest;
			out->local = e->local;
			forget(r, e);
			STAT_INC(r->stats, answers);
			return DNS_RELAY_GUEST;
		}
	}
	STAT_INC(r->stats, bad_answers); /* stray: answered already, forgotten, or forged */
	return DNS_RELAY_DROP;
}

const uint8_t *dns_relay_due(struct dns_relay *r, uint64_t now_ms, size_t *len, unsigned *upstream)
{
	for (unsigned i = 0; i < r->cap; i++) {
		struct relay_entry *e = &r->e[i];

		if (e->tried && now_ms >= e->expires_ms) {
			forget(r, e);
			STAT_INC(r->stats, unanswered);
		}
	}
	for (unsigned i = 0; i < r->cap; i++) {
		struct relay_entry *e = &r->e[i];

		if (e->tried && e->tried < r->n_up && now_ms >= e->next_try_ms) {
			*upstream = e->tried++;
			e->next_try_ms = now_ms + r->try_ms;
			*len = e->len;
			STAT_INC(r->stats, retries);
			return e->query;
		}
	}
	return NULL;
}

void dns_relay_upstream_failed(struct dns_relay *r, unsigned upstream, uint64_t now_ms)
{
	for (unsigned i = 0; i < r->cap; i++) {
		struct relay_entry *e = &r->e[i];

		if (e->tried && e->tried - 1u == upstream && e->tried < r->n_up)
			e->next_try_ms = now_ms;
	}
}

int dns_relay_timeout(const struct dns_relay *r, uint64_t now_ms)
{
	uint64_t next = UINT64_MAX;

	for (unsigned i = 0; i < r->cap; i++) {
		const struct relay_entry *e = &r->e[i];

		if (!e->tried)
			continue;
		if (e->expires_ms < next)
			next = e->expires_ms;
		if (e->tried < r->n_up && e->next_try_ms < next)
			next = e->next_try_ms;
	}
	if (next == UINT64_MAX)
		return -1;
	if (next <= now_ms)
		return 0;
	return next - now_ms > INT_MAX ? INT_MAX : (int)(next - now_ms);
}

unsigned dns_relay_pending(const struct dns_relay *r)
{
	return r->used;
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
 * until no packet can still be on its way to it, exit.  A forwarding stub
 * also waits for the answers of what it relayed (up to LEAVE_FORWARD_MS).
 * tests/e2e/test_netns.c checks it against a stub stopped with queries
 * queued.
 */

struct stub {
	enum dns_stub_mode mode;
	uint32_t a_addr;                /* ANSWER */
	int sock;                       /* 0.0.0.0:53 in the services namespace */
	int sigfd;                      /* the stop signals */
	int up[DNS_STUB_MAX_UPSTREAMS]; /* FORWARD: one connected socket per usable upstream,
					 * made in the host's namespace */
	unsigned n_up;
	struct dns_relay *relay;      /* FORWARD */
	struct dns_stub_stats *stats; /* shared with the parent */
};

struct start_report {
	int step; /* 0: bound; else which step failed */
	int err;
	int up_err[DNS_STUB_MAX_UPSTREAMS]; /* FORWARD: why upstream i is left out; 0: it is not */
};

enum {
	STEP_OK,
	STEP_SIGNALS,
	STEP_UPSTREAM,
	STEP_RELAY,
	STEP_SETNS,
	STEP_SOCKET,
	STEP_BIND,
	STEP_PRIV
};

static const char *step_name(int step)
{
	switch (step) {
	case STEP_SIGNALS: return "signalfd";
	case STEP_UPSTREAM: return "no upstream resolver can be reached";
	case STEP_RELAY: return "relay table";
	case STEP_SETNS: return "setns into the services namespace";
	case STEP_SOCKET: return "socket";
	case STEP_BIND: return "bind 0.0.0.0:53/udp";
	case STEP_PRIV: return "drop privileges to nobody";
	}
	return "start";
}

static uint64_t now_ms(void)
{
	return util_now_mono_ns() / 1000000;
}

/*
 * Sends LEN bytes of BUF to TO from LOCAL (IP_PKTINFO): the socket is bound
 * to 0.0.0.0, and a resolver on a connected UDP socket (glibc) drops a
 * reply whose source is the services end of its veth instead of the
 * nameserver address it asked.
 */
static void send_to_guest(struct stub *st, const uint8_t *buf, size_t len,
			  const struct sockaddr_in *to, struct in_addr local)
{
	union {
		char buf[CMSG_SPACE(sizeof(struct in_pktinfo))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
	struct msghdr msg = {
	    .msg_name = (void *)to, .msg_namelen = sizeof(*to), .msg_iov = &iov, .msg_iovlen = 1};

	if (local.s_addr) {
		/* ifindex 0: routing picks the way back, the source stays LOCAL */
		struct in_pktinfo pi = {.ipi_spec_dst = local};
		struct cmsghdr *c;

		memset(&ctl, 0, sizeof(ctl));
		msg.msg_control = ctl.buf;
		msg.msg_controllen = sizeof(ctl.buf);
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = IPPROTO_IP;
		c->cmsg_type = IP_PKTINFO;
		c->cmsg_len = CMSG_LEN(sizeof(pi));
		memcpy(CMSG_DATA(c), &pi, sizeof(pi));
	}
	/* a failed send is one lost answer; the resolver asks again (resolv.conf options) */
	if (sendmsg(st->sock, &msg, MSG_DONTWAIT) < 0)
		STAT_INC(st->stats, send_errors);
}

/*
 * Sends a query to upstream K; if that fails, the query is due for the
 * next upstream at once rather than after its try.
 */
static void send_upstream(struct stub *st, unsigned k, const uint8_t *q, size_t len, uint64_t now)
{
	if (send(st->up[k], q, len, MSG_DONTWAIT) == (ssize_t)len)
		return;
	STAT_INC(st->stats, upstream_errors);
	dns_relay_upstream_failed(st->relay, k, now);
}

/*
 * Reads one datagram queued from a guest, without blocking, and answers it
 * (ANSWER) or relays it (FORWARD).  0 if nothing was queued, else 1 (a
 * datagram or an error consumed).
 */
static int guest_one(struct stub *st, uint64_t now)
{
	uint8_t q[4096], a[4096];
	struct sockaddr_in from;
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
	struct in_addr local = {0};
	struct dns_relay_out out;
	ssize_t n = recvmsg(st->sock, &msg, MSG_DONTWAIT);
	long m;

	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : 1;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
			struct in_pktinfo pi;

			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			local = pi.ipi_addr; /* the header's destination: what the guest asked */
		}
	}
	/* cut (above 4096 bytes) or from no IPv4 peer: no query of a guest */
	if ((msg.msg_flags & MSG_TRUNC) || msg.msg_namelen != sizeof(from) ||
	    from.sin_family != AF_INET) {
		STAT_INC(st->stats, bad_queries);
		return 1;
	}
	if (st->mode == DNS_STUB_FORWARD) {
		if (dns_relay_query(st->relay, now, q, (size_t)n, &from, local, &out) ==
		    DNS_RELAY_UPSTREAM)
			send_upstream(st, out.upstream, q, (size_t)n, now);
		return 1;
	}
	m = dns_stub_answer(q, (size_t)n, st->a_addr, a, sizeof(a));
	if (m <= 0) {
		STAT_INC(st->stats, bad_queries);
		return 1;
	}
	STAT_INC(st->stats, queries);
	STAT_INC(st->stats, answers);
	send_to_guest(st, a, (size_t)m, &from, local);
	return 1;
}

/*
 * Reads one datagram queued from upstream K and passes an answer on to
 * its guest.  0 if nothing was queued, else 1.
 */
static int upstream_one(struct stub *st, unsigned k, uint64_t now)
{
	static uint8_t a[65536]; /* any UDP datagram; the stub is single-threaded */
	struct dns_relay_out out;
	ssize_t n = recv(st->up[k], a, sizeof(a), MSG_DONTWAIT);

	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return 0;
	if (n < 0) {
		/* an ICMP error (port unreachable, ...): ask the next one now */
		STAT_INC(st->stats, upstream_errors);
		dns_relay_upstream_failed(st->relay, k, now);
		return 1;
	}
	/*
	 * No question check: the guest's resolver compares the question
	 * itself, and a forger must hit the random ID and the upstream
	 * socket's port anyway.  A TC answer goes on as it is.
	 */
	if (dns_relay_answer(st->relay, k, a, (size_t)n, &out) == DNS_RELAY_GUEST)
		send_to_guest(st, a, (size_t)n, &out.guest, out.local);
	return 1;
}

/* P: [0] the guest socket, [1] the stop signals, [2..] the upstreams. */
static unsigned stub_pollfds(const struct stub *st, struct pollfd *p)
{
	p[0] = (struct pollfd){.fd = st->sock, .events = POLLIN};
	p[1] = (struct pollfd){.fd = st->sigfd, .events = POLLIN};
	for (unsigned k = 0; k < st->n_up; k++)
		p[2 + k] = (struct pollfd){.fd = st->up[k], .events = POLLIN};
	return 2 + st->n_up;
}

/*
 * Handles what poll() found readable in P, a bounded burst per socket so a
 * flood does not hide the stop signal, then the retries that are due.
 * Returns the number of guest datagrams read.
 */
static int stub_work(struct stub *st, const struct pollfd *p, unsigned np)
{
	uint64_t now = now_ms();
	int got = 0;

	if (p[0].revents)
		while (got < SERVE_BURST && guest_one(st, now))
			got++;
	for (unsigned k = 0; k + 2 < np; k++)
		if (p[2 + k].revents)
			for (int i = 0; i < SERVE_BURST && upstream_one(st, k, now); i++)
				;
	if (st->relay) {
		const uint8_t *q;
		size_t len;
		unsigned k;

		now = now_ms();
		while ((q = dns_relay_due(st->relay, now, &len, &k)))
			send_upstream(st, k, q, len, now);
	}
	return got;
}

/*
 * Leaves the port group without losing a query (see the top of this
 * section), then exits.  Every way out of the stub after its bind comes
 * here.
 */
static __attribute__((noreturn)) void stub_leave(struct stub *st)
{
	struct sockaddr_in nowhere = {
	    .sin_family = AF_INET, .sin_port = htons(9), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct pollfd p[2 + DNS_STUB_MAX_UPSTREAMS];
	unsigned np = stub_pollfds(st, p);
	uint64_t give_up = now_ms() + LEAVE_FORWARD_MS;
	int answered = 0;

	/*
	 * 127.0.0.1:9 sends nothing to port 53, so the connected socket gets
	 * nothing new.  If connect() failed (lo down: never, the services
	 * namespace keeps it up) the socket stays in the group and what
	 * follows is only the best that can be done.
	 */
	(void)connect(st->sock, (struct sockaddr *)&nowhere, sizeof(nowhere));
	p[1].fd = -1; /* the stop signal stays readable: poll() ignores a negative fd */
	/*
	 * A packet steered here just before the connect() is still queued:
	 * the receive path looks the socket up and queues the packet in one
	 * softirq pass, microseconds.  Answer until the queue has stayed
	 * empty for LEAVE_QUIET_MS.  (Waiting for an RCU grace period instead,
	 * membarrier(MEMBARRIER_CMD_GLOBAL), took over 2 s on a loaded VM.)
	 * Forwarding, wait also for the answers to what was relayed: an
	 * answer later than LEAVE_FORWARD_MS comes after the guest's resolver
	 * has asked again (timeout:1), and that query went to another stub.
	 */
	while (answered < LEAVE_MAX_ANSWERS) {
		uint64_t now = now_ms();
		bool waiting = st->relay && dns_relay_pending(st->relay) > 0 && now < give_up;
		int timeout = LEAVE_QUIET_MS, n;

		if (waiting) {
			timeout = dns_relay_timeout(st->relay, now);
			if (timeout < 0 || (uint64_t)timeout > give_up - now)
				timeout = (int)(give_up - now);
		}
		n = poll(p, np, timeout);
		if (n < 0 || (n == 0 && !waiting))
			break;
		answered += stub_work(st, p, np);
	}
	if (st->relay) /* given up on: they count as unanswered */
		__atomic_fetch_add(&st->stats->unanswered, dns_relay_pending(st->relay),
				   __ATOMIC_RELAXED);
	_exit(0);
}

/*
 * Serves until a stop signal (SIGTERM from dns_stub_stop, or the
 * parent-death signal) is readable on the signalfd, then leaves.  All
 * signals stay blocked in the stub, so neither a signal handler inherited
 * from the client (libuv's write to the client's own signal pipe) nor a
 * default action can end it with queries queued.
 */
static __attribute__((noreturn)) void stub_serve(struct stub *st)
{
	struct pollfd p[2 + DNS_STUB_MAX_UPSTREAMS];
	unsigned np = stub_pollfds(st, p);

	for (;;) {
		int timeout = st->relay ? dns_relay_timeout(st->relay, now_ms()) : -1;

		if (poll(p, np, timeout) < 0)
			continue; /* EINTR cannot happen: every signal is blocked */
		if (p[1].revents)
			stub_leave(st);
		stub_work(st, p, np);
	}
}

/* Closes every descriptor above stderr except the N in KEEP (sorted here). */
static void close_others(int *keep, unsigned n)
{
	unsigned from = 3;

	for (unsigned i = 1; i < n; i++)
		for (unsigned j = i; j > 0 && keep[j - 1] > keep[j]; j--) {
			int t = keep[j];

			keep[j] = keep[j - 1];
			keep[j - 1] = t;
		}
	for (unsigned i = 0; i < n; i++) {
		if (keep[i] < 0 || (unsigned)keep[i] < from)
			continue;
		if ((unsigned)keep[i] > from)
			syscall(SYS_close_range, from, (unsigned)keep[i] - 1, 0u);
		from = (unsigned)keep[i] + 1;
	}
	syscall(SYS_close_range, from, ~0u, 0u);
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

/* Root is no longer needed once the port is bound and the upstream sockets connected. */
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

/*
 * One socket connected to each upstream, made here, in the caller's (the
 * host's) network namespace, before the stub joins the services one: so
 * the stub reaches whatever resolver the host uses, 127.0.0.53 included,
 * while the guests themselves still reach no host address.  Connected, so
 * the kernel delivers only datagrams from that upstream and reports its
 * ICMP errors.  Those that fail get their errno in UP_ERR and are left out.
 */
static void open_upstreams(struct stub *st, const struct dns_stub_upstreams *ups, int *up_err)
{
	for (unsigned i = 0; i < ups->n; i++) {
		const struct sockaddr_storage *a = &ups->addr[i];
		socklen_t alen = a->ss_family == AF_INET ? sizeof(struct sockaddr_in)
							 : sizeof(struct sockaddr_in6);
		int fd = -1;

		if (a->ss_family != AF_INET && a->ss_family != AF_INET6)
			errno = EAFNOSUPPORT;
		else if ((fd = socket(a->ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0)) >= 0 &&
			 connect(fd, (const struct sockaddr *)a, alen) == 0) {
			st->up[st->n_up++] = fd;
			continue;
		}
		up_err[i] = errno ? errno : EINVAL;
		if (fd >= 0)
			close(fd);
	}
}

/*
 * The stub's set-up, in this order: the signalfd; FORWARD, the upstream
 * sockets (still in the host's namespace) and the relay's table; the
 * services namespace; the bound socket; nobody.  Returns whether the socket
 * is bound (queries are queued to it from then on), with the outcome in R.
 */
static bool stub_setup(struct stub *st, int netns_fd, const struct dns_stub_config *cfg,
		       const struct dns_stub_upstreams *ups, struct start_report *r)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(53)};
	sigset_t stop;

	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGHUP);
	st->sigfd = signalfd(-1, &stop, SFD_CLOEXEC);
	if (st->sigfd < 0) {
		r->step = STEP_SIGNALS, r->err = errno;
		return false;
	}
	if (cfg->mode == DNS_STUB_FORWARD) {
		open_upstreams(st, ups, r->up_err);
		if (st->n_up == 0) {
			r->step = STEP_UPSTREAM, r->err = r->up_err[0];
			return false;
		}
		st->relay = dns_relay_new(st->n_up, DNS_STUB_INFLIGHT, cfg->try_ms, st->stats);
		if (!st->relay) {
			r->step = STEP_RELAY, r->err = errno;
			return false;
		}
	}
	if (setns(netns_fd, CLONE_NEWNET) < 0)
		r->step = STEP_SETNS, r->err = errno;
	else if ((st->sock = stub_socket()) < 0)
		r->step = STEP_SOCKET, r->err = errno;
	else if (bind(st->sock, (struct sockaddr *)&sin, sizeof(sin)) < 0)
		r->step = STEP_BIND, r->err = errno;
	else {
		if (drop_privileges() < 0)
			r->step = STEP_PRIV, r->err = errno;
		return true;
	}
	return false;
}

/* Runs with every signal blocked (dns_stub_start_with). */
static __attribute__((noreturn)) void stub_child(int netns_fd, const struct dns_stub_config *cfg,
						 const struct dns_stub_upstreams *ups,
						 struct dns_stub_stats *stats, pid_t parent,
						 int report_fd)
{
	struct start_report r = {STEP_OK, 0, {0}};
	struct stub st = {
	    .mode = cfg->mode, .a_addr = cfg->a_addr, .sock = -1, .sigfd = -1, .stats = stats};
	int keep[2 + DNS_STUB_MAX_UPSTREAMS];
	bool bound;

	/*
	 * SIGTERM, blocked, is only read by stub_serve: a client that dies
	 * while this stub starts still gets a stub that leaves cleanly.
	 */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != parent)
		_exit(1);
	bound = stub_setup(&st, netns_fd, cfg, ups, &r);
	if (write(report_fd, &r, sizeof(r)) != (ssize_t)sizeof(r) || r.step != STEP_OK) {
		if (bound)
			stub_leave(&st);
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
		stub_leave(&st);
	null_stdio();
	keep[0] = st.sock;
	keep[1] = st.sigfd;
	for (unsigned k = 0; k < st.n_up; k++)
		keep[2 + k] = st.up[k];
	close_others(keep, 2 + st.n_up);
	stub_serve(&st);
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

/*
 * The counters of the stubs this process started, so dns_stub_stats() can
 * read them and dns_stub_stop() log them.  Each page is MAP_SHARED with
 * its stub; a stub that finds no slot still runs, without visible counters.
 */
static struct owned_stub {
	pid_t pid;
	struct dns_stub_stats *stats;
} owned[OWNED_MAX];

static struct owned_stub *owned_find(pid_t pid)
{
	for (size_t i = 0; pid > 0 && i < OWNED_MAX; i++)
		if (owned[i].pid == pid)
			return &owned[i];
	return NULL;
}

static void stats_read(const struct dns_stub_stats *s, struct dns_stub_stats *out)
{
#define LOAD(f) out->f = __atomic_load_n(&s->f, __ATOMIC_RELAXED)
	LOAD(queries);
	LOAD(answers);
	LOAD(bad_queries);
	LOAD(bad_answers);
	LOAD(retries);
	LOAD(unanswered);
	LOAD(evicted);
	LOAD(upstream_errors);
	LOAD(send_errors);
#undef LOAD
}

int dns_stub_stats(pid_t pid, struct dns_stub_stats *out)
{
	const struct owned_stub *o = owned_find(pid);

	if (!o) {
		errno = ESRCH;
		return -1;
	}
	stats_read(o->stats, out);
	return 0;
}

/* Logs the counters of the stub PID, which has exited, and lets them go. */
static void owned_release(pid_t pid)
{
	struct owned_stub *o = owned_find(pid);
	struct dns_stub_stats s;
	char line[400];

	if (!o)
		return;
	stats_read(o->stats, &s);
	munmap(o->stats, sizeof(*o->stats));
	*o = (struct owned_stub){0};
	snprintf(line, sizeof(line),
		 "dns stub %d: %" PRIu64 " queries, %" PRIu64 " answers, %" PRIu64
		 " retries; dropped: %" PRIu64 " bad queries, %" PRIu64 " bad answers, %" PRIu64
		 " unanswered, %" PRIu64 " evicted; %" PRIu64 " upstream errors, %" PRIu64
		 " send errors",
		 (int)pid, s.queries, s.answers, s.retries, s.bad_queries, s.bad_answers,
		 s.unanswered, s.evicted, s.upstream_errors, s.send_errors);
	/* a visit's DNS trouble is worth a line at info level; a clean stub only at debug */
	if (s.bad_queries || s.bad_answers || s.unanswered || s.evicted || s.upstream_errors ||
	    s.send_errors)
		log_info("%s", line);
	else
		log_debug("%s", line);
}

/* Warns about each upstream the stub had to leave out. */
static void log_upstreams(const struct dns_stub_upstreams *ups, const struct start_report *r)
{
	for (unsigned i = 0; i < ups->n; i++) {
		char a[80];

		addr_text(&ups->addr[i], a, sizeof(a));
		if (r->up_err[i])
			log_warnx("dns stub: upstream resolver %s cannot be reached: %s; left out",
				  a, strerror(r->up_err[i]));
		else
			log_debug("dns stub: upstream resolver %s", a);
	}
}

int dns_stub_start_with(int netns_fd, const struct dns_stub_config *cfg, pid_t *pid, char *err,
			size_t errlen)
{
	struct dns_stub_upstreams ups = {0};
	struct start_report r;
	struct dns_stub_stats *stats;
	struct owned_stub *slot = NULL;
	pid_t parent = getpid(), child;
	int p[2], rc;

	*pid = 0;
	if (cfg->mode == DNS_STUB_FORWARD) {
		if (cfg->upstreams.n > DNS_STUB_MAX_UPSTREAMS || cfg->try_ms > RELAY_MAX_TRY_MS)
			return stub_fail(err, errlen, EINVAL, "forwarding configuration");
		if (cfg->upstreams.n > 0)
			ups = cfg->upstreams;
		else if (dns_stub_read_resolv(cfg->resolv_conf, &ups, err, errlen) < 0)
			return -1;
	} else if (cfg->mode != DNS_STUB_ANSWER) {
		return stub_fail(err, errlen, EINVAL, "mode");
	}
	stats =
	    mmap(NULL, sizeof(*stats), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (stats == MAP_FAILED)
		return stub_fail(err, errlen, errno, "mmap the counters");
	if (pipe2(p, O_CLOEXEC) < 0) {
		int e = errno;

		munmap(stats, sizeof(*stats));
		return stub_fail(err, errlen, e, "pipe");
	}
	child = fork_blocked();
	if (child < 0) {
		int e = errno;

		close(p[0]);
		close(p[1]);
		munmap(stats, sizeof(*stats));
		return stub_fail(err, errlen, e, "fork");
	}
	if (child == 0) {
		close(p[0]);
		stub_child(netns_fd, cfg, &ups, stats, parent, p[1]);
	}
	close(p[1]);
	rc = read_report(p[0], &r);
	close(p[0]);
	if (rc < 0) {
		int e = errno;

		dns_stub_stop(child);
		munmap(stats, sizeof(*stats));
		return stub_fail(err, errlen, e, "no report from the stub process");
	}
	if (cfg->mode == DNS_STUB_FORWARD)
		log_upstreams(&ups, &r);
	if (r.step != STEP_OK) {
		dns_stub_stop(child);
		munmap(stats, sizeof(*stats));
		if (r.step == STEP_BIND && r.err == EADDRINUSE)
			return 0; /* another client's stub serves this namespace */
		return stub_fail(err, errlen, r.err, step_name(r.step));
	}
	*pid = child;
	for (size_t i = 0; !slot && i < OWNED_MAX; i++)
		if (owned[i].pid == 0)
			slot = &owned[i];
	if (slot)
		*slot = (struct owned_stub){child, stats};
	else
		munmap(stats, sizeof(*stats)); /* the stub keeps its own mapping */
	return 0;
}

int dns_stub_start(int netns_fd, uint32_t a_addr, pid_t *pid, char *err, size_t errlen)
{
	struct dns_stub_config cfg = {.mode = DNS_STUB_ANSWER, .a_addr = a_addr};

	return dns_stub_start_with(netns_fd, &cfg, pid, err, errlen);
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
		owned_release(pid);
		return;
	}
	if (reap_within(pid, STOP_TIMEOUT) != 0) {
		(void)kill(pid, SIGKILL); /* it exists: the wait above did not reap it */
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	owned_release(pid);
}
