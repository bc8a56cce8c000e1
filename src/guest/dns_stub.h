/*
 * dns_stub.h - the DNS server every guest asks: 10.201.255.1:53 in the
 * services namespace (the guests' resolv.conf names only that address).
 *
 * Two modes.  ANSWER (network mode services): browsers must never stall on
 * name lookups and test traffic must never leave the namespaces we made, so
 * every A query is answered with one configured address (IN class, TTL 60),
 * AAAA and other types with an empty NOERROR answer, malformed queries with
 * FORMERR or nothing.  FORWARD (mode nat, real visits): each query datagram
 * is relayed, unchanged but for its ID, to the host's resolvers (the
 * nameserver lines of the host's /etc/resolv.conf) from sockets made in the
 * host's network namespace, and the answer back; so a loopback resolver
 * such as 127.0.0.53 serves guests that themselves still reach no host
 * address.  UDP only: a truncated answer (TC) goes back as it came, and the
 * guest's retry over TCP finds no listener.
 *
 * The stub runs in its own process inside the services namespace and stops
 * with its parent (PR_SET_PDEATHSIG).  The pure parts (answers, the
 * resolv.conf parser, the relay's table) are exported for the tests and
 * the fuzzer.  docs/network.md "DNS stub" has the whole story.
 */
#ifndef CAPTURE_DNS_STUB_H
#define CAPTURE_DNS_STUB_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#define DNS_STUB_MAX_UPSTREAMS 3   /* glibc's MAXNS: later nameserver lines are ignored */
#define DNS_STUB_MAX_QUERY     512 /* bytes; a longer datagram from a guest is dropped */
#define DNS_STUB_TRY_MS        500 /* default wait for one upstream before the next is asked */
#define DNS_STUB_QUERY_MS                                                                          \
	3000                     /* a relayed query unanswered this long is forgotten: the         \
				  * guest's resolver has given up (timeout:1 attempts:3) */
#define DNS_STUB_INFLIGHT    256 /* relayed queries awaiting an answer, per stub */
#define DNS_STUB_RESOLV_CONF "/etc/resolv.conf"

/*
 * Builds the answer to QUERY (QLEN bytes) into ANSWER (ANSLEN bytes).
 * A_ADDR is the IPv4 address (network order) to answer A queries with.
 * Returns the answer length, 0 if nothing should be sent, -1 if ANSLEN is
 * too small.  Pure function: this is the part the fuzzer exercises.
 */
long dns_stub_answer(const uint8_t *query, size_t qlen, uint32_t a_addr, uint8_t *answer,
		     size_t anslen);

/* Where a forwarding stub sends queries. */
struct dns_stub_upstreams {
	unsigned n;                                           /* 0..DNS_STUB_MAX_UPSTREAMS */
	struct sockaddr_storage addr[DNS_STUB_MAX_UPSTREAMS]; /* AF_INET or AF_INET6, port set */
};

/*
 * Parses resolv.conf text (LEN bytes, need not end in NUL) as glibc does:
 * lines "nameserver ADDR" (the keyword at the start of the line, then
 * blanks), ADDR an IPv4 address (inet_aton forms) or an IPv6 address with
 * an optional %interface or %index, the rest of the line ignored; '#' and
 * ';' lines are comments.  The first DNS_STUB_MAX_UPSTREAMS addresses go to
 * OUT, port 53.  A nameserver line whose address does not parse is
 * skipped with a warning naming NAME and the line.  Returns the number of
 * lines skipped so.  Pure but for the warnings and if_nametoindex().
 */
unsigned dns_stub_parse_resolv(const char *name, const char *text, size_t len,
			       struct dns_stub_upstreams *out);
/*
 * The nameservers of the resolv.conf at PATH (NULL = DNS_STUB_RESOLV_CONF);
 * like glibc, 127.0.0.1 if it names none or does not exist.  0, or -1 with
 * ERR (unreadable).
 */
int dns_stub_read_resolv(const char *path, struct dns_stub_upstreams *out, char *err,
			 size_t errlen);

enum dns_stub_mode {
	DNS_STUB_ANSWER = 0, /* answer every name with A_ADDR (network mode services) */
	DNS_STUB_FORWARD,    /* relay to the host's resolvers (network mode nat) */
};

struct dns_stub_config {
	enum dns_stub_mode mode;
	uint32_t a_addr;                     /* ANSWER: the A record's address, network order */
	struct dns_stub_upstreams upstreams; /* FORWARD: n = 0 reads RESOLV_CONF at the start */
	const char *resolv_conf;             /* FORWARD: NULL = DNS_STUB_RESOLV_CONF */
	unsigned try_ms;                     /* FORWARD: per upstream; 0 = DNS_STUB_TRY_MS */
};

/* A stub's counters (they only grow); see dns_stub_stats(). */
struct dns_stub_stats {
	uint64_t queries;         /* datagrams from guests taken as queries */
	uint64_t answers;         /* answers handed back to guests */
	uint64_t bad_queries;     /* from guests, dropped: too short or long, a response, ... */
	uint64_t bad_answers;     /* from upstreams, dropped: too short, not a response, no such
				   * query in flight (stray, late or forged) */
	uint64_t retries;         /* queries sent on to the next upstream */
	uint64_t unanswered;      /* relayed queries forgotten after DNS_STUB_QUERY_MS */
	uint64_t evicted;         /* relayed queries forgotten because the table was full */
	uint64_t upstream_errors; /* failed sends to upstreams, ICMP errors from them */
	uint64_t send_errors;     /* failed sends to guests */
};

/*
 * Forks the stub into the network namespace NETNS_FD, bound to UDP port 53
 * on every address there with SO_REUSEPORT, so the stubs of concurrent
 * visits coexist and each can stop its own.  In FORWARD mode its upstream
 * sockets are made (and connected) in the caller's network namespace
 * first; an upstream that cannot be reached from there is left out with a
 * warning, and none at all is an error.  If the port is taken by a socket
 * without SO_REUSEPORT, that is success with *PID = 0.  0, or -1 with ERR.
 */
int dns_stub_start_with(int netns_fd, const struct dns_stub_config *cfg, pid_t *pid, char *err,
			size_t errlen);
/* dns_stub_start_with() in mode ANSWER. */
int dns_stub_start(int netns_fd, uint32_t a_addr, pid_t *pid, char *err, size_t errlen);
/*
 * The live counters of the stub PID started by this process.  0, or -1 if
 * it is none (or more than 64 of them ran at once: counters of the later
 * ones are not kept).
 */
int dns_stub_stats(pid_t pid, struct dns_stub_stats *out);
/*
 * Stops a stub started by this process (no-op for PID 0) without losing a
 * query: the stub leaves the port group first, so new queries go to the
 * other stubs, answers every query already queued to it and, forwarding,
 * waits up to 1 s for the answers still due from upstreams, then exits
 * (tens of ms).  SIGKILL only if it has not exited after 5 s.  Logs its
 * counters (info level if anything was dropped, else debug).
 */
void dns_stub_stop(pid_t pid);

/*
 * ---- the relay's table (FORWARD), exported for tests and the fuzzer ----
 *
 * Every query from a guest gets a fresh random ID, unique among the
 * queries in flight, before it goes to an upstream, so two guests (or two
 * sockets of one guest) using the same ID never get each other's answer;
 * the answer gets the guest's ID back.  An answer counts only if it comes
 * from an upstream the query was sent to.  Times are monotonic ms.
 */
struct dns_relay;

enum dns_relay_action {
	DNS_RELAY_DROP = 0, /* nothing to send (counted) */
	DNS_RELAY_UPSTREAM, /* send the datagram to upstream OUT.upstream */
	DNS_RELAY_GUEST,    /* send the datagram to OUT.guest, from OUT.local */
};

struct dns_relay_out {
	unsigned upstream;        /* UPSTREAM: index into the upstream list */
	struct sockaddr_in guest; /* GUEST: the address and port that asked */
	struct in_addr local;     /* GUEST: the address it asked (0: unknown) */
};

/*
 * A table for N_UPSTREAMS (1..DNS_STUB_MAX_UPSTREAMS) upstreams holding at
 * most CAPACITY queries; the next upstream is asked after TRY_MS (0 =
 * DNS_STUB_TRY_MS).  Counters go to STATS, which must outlive the table.
 * NULL if the arguments are out of range or memory is short.
 */
struct dns_relay *dns_relay_new(unsigned n_upstreams, unsigned capacity, unsigned try_ms,
				struct dns_stub_stats *stats);
void dns_relay_free(struct dns_relay *r);
/*
 * A datagram PKT (LEN bytes) from GUEST to LOCAL.  A query (12 to
 * DNS_STUB_MAX_QUERY bytes, QR clear) is remembered, its ID rewritten in
 * PKT, and goes to upstream 0 (UPSTREAM); if the table is full, the
 * oldest query is forgotten for it.  Anything else: DROP.
 */
enum dns_relay_action dns_relay_query(struct dns_relay *r, uint64_t now_ms, uint8_t *pkt,
				      size_t len, const struct sockaddr_in *guest,
				      struct in_addr local, struct dns_relay_out *out);
/*
 * A datagram PKT (LEN bytes) from upstream UPSTREAM.  The answer (QR set)
 * to a query in flight that was sent there gets the guest's ID back in
 * PKT and goes to it (GUEST); the query is forgotten.  Anything else: DROP.
 */
enum dns_relay_action dns_relay_answer(struct dns_relay *r, unsigned upstream, uint8_t *pkt,
				       size_t len, struct dns_relay_out *out);
/*
 * Forgets the queries unanswered for DNS_STUB_QUERY_MS, then returns the
 * next query due for another upstream at NOW (*LEN bytes, to *UPSTREAM;
 * valid until the next call), or NULL when none is due.  Call until NULL.
 */
const uint8_t *dns_relay_due(struct dns_relay *r, uint64_t now_ms, size_t *len, unsigned *upstream);
/* Upstream UPSTREAM failed (ICMP error, failed send): its queries are due for the next at once. */
void dns_relay_upstream_failed(struct dns_relay *r, unsigned upstream, uint64_t now_ms);
/* Milliseconds until dns_relay_due() has work (0: now), -1 if nothing is in flight. */
int dns_relay_timeout(const struct dns_relay *r, uint64_t now_ms);
/* Queries in flight. */
unsigned dns_relay_pending(const struct dns_relay *r);

#endif
