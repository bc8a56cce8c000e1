/*
 * url_queue.h - the URLs waiting to be visited, in the order they will be.
 *
 * Guarantees:
 *  - Higher priority first (0.0 .. 1.0, from "::priority" on a URL line);
 *    among equal priorities, first in first out (a sequence number; the
 *    original's PriorityBlockingQueue did not promise it).
 *  - No URL is queued twice in one run: a push of a URL that is queued or
 *    was popped before (same bytes, same client program, same visit time,
 *    defaults resolved) is refused.  The original only looked at the queue.
 *  - A popped group holds up to MAX URLs that share the client program and
 *    visit time of its first URL: it ends at the first URL that differs,
 *    which stays queued (the original took the first URL's program for the
 *    whole group and only warned).
 *  - Groups pushed to the front (retries, halves of a divide-and-conquer
 *    split) come out before any other URL, last pushed first, each exactly
 *    as it was pushed (never merged with other URLs).
 * Driven by config.xml: client-default and client-default-visit-time
 * resolve URLs that name none (url_queue_new()); group_size is the MAX the
 * server passes to url_queue_pop_group().  Push and pop are O(log n) (a
 * binary heap), the duplicate check O(1) on average (a hash set that keeps
 * every URL of the run).  Single-threaded, like the server's event loop.
 */
#ifndef CAPTURE_URL_QUEUE_H
#define CAPTURE_URL_QUEUE_H

#include <stddef.h>
#include <sys/types.h>

#include "server/url_line.h"

struct url_queue;

/* A new empty queue; URLs without a client/visit time get these.  NULL on ENOMEM. */
struct url_queue *url_queue_new(const char *default_client, int default_visit_time_s);
void url_queue_free(struct url_queue *q);

/*
 * Queues a copy of E (its defaults resolved).  1 if queued, 0 if it is a
 * duplicate of this run, -1 with errno EINVAL (bad priority, visit time or
 * no URL) or ENOMEM.
 */
int url_queue_push(struct url_queue *q, const struct url_entry *e);

/*
 * Puts a copy of the group E[0..N) before everything else, to come out as
 * one group by the next pop.  Its URLs count as seen.  0, or -1 (ENOMEM,
 * EINVAL); nothing is queued on failure.
 */
int url_queue_push_front(struct url_queue *q, const struct url_entry *e, size_t n);

/*
 * Pops the next group into OUT[0..MAX): a front group if there is one (at
 * most MAX of it; the rest stays in front), else up to MAX URLs of the
 * same client and visit time in priority order.  Entries have client and
 * visit time resolved; the caller frees each with url_line_entry_free().
 * Returns how many (0 if empty), or -1 (ENOMEM; nothing was taken).
 */
ssize_t url_queue_pop_group(struct url_queue *q, struct url_entry *out, size_t max);

/* URLs waiting (front groups included). */
size_t url_queue_len(const struct url_queue *q);
/* Distinct URLs seen in this run (waiting, popped, pushed to the front). */
size_t url_queue_seen(const struct url_queue *q);

#endif
