/*
 * dns_stub.h - a minimal DNS responder for the services namespace.
 *
 * Browsers in a guest must never stall on name lookups, and test traffic
 * must never leave the namespaces we made.  The stub answers every A query
 * with one configured address (IN class, TTL 60), AAAA and other types with
 * an empty NOERROR answer, and malformed queries with FORMERR or nothing.
 * It runs in its own process inside the services namespace and stops with
 * its parent (PR_SET_PDEATHSIG).
 */
#ifndef CAPTURE_DNS_STUB_H
#define CAPTURE_DNS_STUB_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * Builds the answer to QUERY (QLEN bytes) into ANSWER (ANSLEN bytes).
 * A_ADDR is the IPv4 address (network order) to answer A queries with.
 * Returns the answer length, 0 if nothing should be sent, -1 if ANSLEN is
 * too small.  Pure function: this is the part the fuzzer exercises.
 */
long dns_stub_answer(const uint8_t *query, size_t qlen, uint32_t a_addr, uint8_t *answer,
		     size_t anslen);

/*
 * Forks the stub into the network namespace NETNS_FD, bound to UDP port 53
 * on every address there with SO_REUSEPORT, so the stubs of concurrent
 * visits coexist and each can stop its own.  If the port is taken by a
 * socket without SO_REUSEPORT, that is success with *PID = 0.
 * 0, or -1 with ERR.
 */
int dns_stub_start(int netns_fd, uint32_t a_addr, pid_t *pid, char *err, size_t errlen);
/*
 * Stops a stub started by this process (no-op for PID 0) without losing a
 * query: the stub leaves the port group first, so new queries go to the
 * other stubs, and answers every query already queued to it before it
 * exits (tens of ms).  SIGKILL only if it has not exited after 5 s.
 */
void dns_stub_stop(pid_t pid);

#endif
