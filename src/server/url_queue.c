/*
 * url_queue.c - see url_queue.h.
 *
 * Every distinct (URL, client, visit time) of the run is one struct url_key,
 * owned by an open-addressing hash set (linear probing, load <= 1/2, seeded
 * hash) that never forgets it: that is the duplicate check.  Waiting URLs
 * are heap items pointing at their key, ordered by (priority desc, seq
 * asc).  Front groups are a stack of item arrays.  A popped entry gets its
 * own copies of the strings, so keys can stay shared and immutable.
 */
#include "server/url_queue.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "common/config.h"

struct url_key {
	uint64_t hash;
	int visit_time; /* seconds, resolved */
	size_t url_len; /* bytes of the URL at data[0] */
	char *client;   /* resolved client name, points into data */
	char data[];    /* URL NUL client NUL */
};

struct qitem {
	struct url_key *key; /* owned by the set */
	double priority;     /* 0.0 .. 1.0 */
	uint64_t seq;        /* push order (FIFO among equal priorities); front: 1 = new key */
	unsigned long line;  /* source line, for the popped entry */
};

struct front_group {
	struct qitem *items;
	size_t n;   /* items in the group */
	size_t pos; /* next item to pop */
};

struct url_queue {
	struct qitem *heap;
	size_t nheap, heap_cap;
	struct url_key **slot; /* hash set; NULL = empty */
	size_t slot_cap;       /* power of two */
	size_t nkeys;
	struct front_group *front; /* stack: the last one pops first */
	size_t nfront, front_cap;
	size_t front_items; /* URLs waiting in front groups */
	uint64_t seq;       /* next sequence number */
	uint64_t seed;      /* hash seed, random per queue */
	char *default_client;
	int default_visit_time; /* seconds */
};

/* ---- keys and the set ---- */

static uint64_t mix(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	return h ^ (h >> 33);
}

static uint64_t hash_key(uint64_t seed, const char *url, size_t len, const char *client, int visit)
{
	uint64_t h = 1469598103934665603ull ^ seed;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)url[i]) * 1099511628211ull;
	h = (h ^ 0xff) * 1099511628211ull; /* 0xff cannot follow in UTF-8 text: a separator */
	for (; *client; client++)
		h = (h ^ (unsigned char)*client) * 1099511628211ull;
	return mix(h ^ (uint64_t)(unsigned)visit);
}

static bool key_equal(const struct url_key *k, uint64_t hash, const char *url, size_t len,
		      const char *client, int visit)
{
	return k->hash == hash && k->visit_time == visit && k->url_len == len &&
	       memcmp(k->data, url, len) == 0 && strcmp(k->client, client) == 0;
}

/* The slot holding the key, or the empty slot where it would go. */
static size_t set_probe(const struct url_queue *q, uint64_t hash, const char *url, size_t len,
			const char *client, int visit)
{
	size_t mask = q->slot_cap - 1, i = hash & mask;

	while (q->slot[i] && !key_equal(q->slot[i], hash, url, len, client, visit))
		i = (i + 1) & mask;
	return i;
}

/* Makes room for N more keys (load <= 1/2).  0 or -1. */
static int set_reserve(struct url_queue *q, size_t n)
{
	size_t cap = q->slot_cap ? q->slot_cap : 64, mask;
	struct url_key **slot;

	while ((q->nkeys + n) * 2 > cap)
		cap *= 2;
	if (cap == q->slot_cap)
		return 0;
	/* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
	slot = calloc(cap, sizeof(*slot));
	if (!slot)
		return -1;
	mask = cap - 1;
	for (size_t i = 0; i < q->slot_cap; i++) {
		size_t j;

		if (!q->slot[i])
			continue;
		for (j = q->slot[i]->hash & mask; slot[j]; j = (j + 1) & mask)
			;
		slot[j] = q->slot[i];
	}
	free(q->slot);
	q->slot = slot;
	q->slot_cap = cap;
	return 0;
}

/* Removes the key in slot I (backward-shift deletion keeps probe chains whole). */
static void set_remove_at(struct url_queue *q, size_t i)
{
	size_t mask = q->slot_cap - 1, j = i;

	q->slot[i] = NULL;
	q->nkeys--;
	for (;;) {
		size_t home;

		j = (j + 1) & mask;
		if (!q->slot[j])
			return;
		home = q->slot[j]->hash & mask;
		/* move slot[j] into the hole at i unless its home lies in (i, j] */
		if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
			q->slot[i] = q->slot[j];
			q->slot[j] = NULL;
			i = j;
		}
	}
}

static struct url_key *key_new(uint64_t hash, const char *url, size_t len, const char *client,
			       int visit)
{
	size_t clen = strlen(client);
	struct url_key *k = malloc(sizeof(*k) + len + 1 + clen + 1);

	if (!k)
		return NULL;
	k->hash = hash;
	k->visit_time = visit;
	k->url_len = len;
	memcpy(k->data, url, len);
	k->data[len] = '\0';
	k->client = k->data + len + 1;
	memcpy(k->client, client, clen + 1);
	return k;
}

/* ---- validation ---- */

/* Resolves E's defaults into *CLIENT and *VISIT; -1 (EINVAL) if E cannot be queued. */
static int resolve(const struct url_queue *q, const struct url_entry *e, const char **client,
		   int *visit)
{
	if (!e->url || !*e->url || !(e->priority >= 0.0 && e->priority <= 1.0) ||
	    e->visit_time < -1 || e->visit_time > CONFIG_VISIT_TIME_MAX_S ||
	    (e->client && !*e->client)) {
		errno = EINVAL;
		return -1;
	}
	*client = e->client ? e->client : q->default_client;
	*visit = e->visit_time >= 0 ? e->visit_time : q->default_visit_time;
	return 0;
}

/*
 * Finds or adds the key of E (room must be reserved).  *ADDED tells which.
 * NULL with errno set if E is invalid or on ENOMEM.
 */
static struct url_key *intern(struct url_queue *q, const struct url_entry *e, bool *added)
{
	const char *client;
	int visit;
	size_t len, i;
	uint64_t h;

	if (resolve(q, e, &client, &visit) < 0)
		return NULL;
	len = strlen(e->url);
	h = hash_key(q->seed, e->url, len, client, visit);
	i = set_probe(q, h, e->url, len, client, visit);
	*added = !q->slot[i];
	if (*added) {
		q->slot[i] = key_new(h, e->url, len, client, visit);
		if (!q->slot[i])
			return NULL;
		q->nkeys++;
	}
	return q->slot[i];
}

/* ---- the heap ---- */

static bool before(const struct qitem *a, const struct qitem *b)
{
	return a->priority > b->priority || (a->priority == b->priority && a->seq < b->seq);
}

static void sift_up(struct qitem *h, size_t i)
{
	struct qitem it = h[i];

	while (i > 0 && before(&it, &h[(i - 1) / 2])) {
		h[i] = h[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	h[i] = it;
}

static void sift_down(struct qitem *h, size_t n, size_t i)
{
	struct qitem it = h[i];

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= n)
			break;
		if (c + 1 < n && before(&h[c + 1], &h[c]))
			c++;
		if (!before(&h[c], &it))
			break;
		h[i] = h[c];
		i = c;
	}
	h[i] = it;
}

static void heap_pop(struct url_queue *q)
{
	q->heap[0] = q->heap[--q->nheap];
	if (q->nheap)
		sift_down(q->heap, q->nheap, 0);
}

/* Grows *ARR (of SIZE-byte items) to hold at least NEED; 0 or -1. */
static int reserve(void **arr, size_t *cap, size_t need, size_t size)
{
	size_t c = *cap ? *cap : 16;
	void *a;

	if (need <= *cap)
		return 0;
	while (c < need)
		c *= 2;
	a = realloc(*arr, c * size);
	if (!a)
		return -1;
	*arr = a;
	*cap = c;
	return 0;
}

/* ---- public ---- */

static uint64_t random_seed(void)
{
	uint64_t s;

	if (getrandom(&s, sizeof(s), GRND_NONBLOCK) == (ssize_t)sizeof(s))
		return s;
	return (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)&s;
}

struct url_queue *url_queue_new(const char *default_client, int default_visit_time_s)
{
	struct url_queue *q;

	if (!default_client || !*default_client || default_visit_time_s < 0) {
		errno = EINVAL;
		return NULL;
	}
	q = calloc(1, sizeof(*q));
	if (!q)
		return NULL;
	q->default_client = strdup(default_client);
	if (!q->default_client || set_reserve(q, 0) < 0) {
		url_queue_free(q);
		return NULL;
	}
	q->default_visit_time = default_visit_time_s;
	q->seed = random_seed();
	q->seq = 1;
	return q;
}

void url_queue_free(struct url_queue *q)
{
	if (!q)
		return;
	for (size_t i = 0; i < q->slot_cap; i++)
		free(q->slot[i]);
	for (size_t i = 0; i < q->nfront; i++)
		free(q->front[i].items);
	free(q->slot);
	free(q->heap);
	free(q->front);
	free(q->default_client);
	free(q);
}

int url_queue_push(struct url_queue *q, const struct url_entry *e)
{
	struct url_key *k;
	bool added = false;

	if (reserve((void **)&q->heap, &q->heap_cap, q->nheap + 1, sizeof(*q->heap)) < 0 ||
	    set_reserve(q, 1) < 0)
		return -1;
	k = intern(q, e, &added);
	if (!k)
		return -1;
	if (!added)
		return 0;
	q->heap[q->nheap] = (struct qitem){k, e->priority, q->seq++, e->line};
	sift_up(q->heap, q->nheap++);
	return 1;
}

/* Forgets the keys ITEMS[0..N) added (seq == 1) when a front push fails. */
static void unintern(struct url_queue *q, struct qitem *items, size_t n)
{
	while (n--) {
		struct url_key *k = items[n].key;

		if (items[n].seq != 1)
			continue;
		set_remove_at(q,
			      set_probe(q, k->hash, k->data, k->url_len, k->client, k->visit_time));
		free(k);
	}
}

int url_queue_push_front(struct url_queue *q, const struct url_entry *e, size_t n)
{
	struct qitem *items;
	size_t i;

	if (n == 0)
		return 0;
	if (reserve((void **)&q->front, &q->front_cap, q->nfront + 1, sizeof(*q->front)) < 0 ||
	    set_reserve(q, n) < 0)
		return -1;
	items = calloc(n, sizeof(*items));
	if (!items)
		return -1;
	for (i = 0; i < n; i++) {
		bool added = false;

		items[i].key = intern(q, &e[i], &added);
		if (!items[i].key) {
			unintern(q, items, i);
			free(items);
			return -1;
		}
		items[i].priority = e[i].priority;
		items[i].seq = added;
		items[i].line = e[i].line;
	}
	q->front[q->nfront++] = (struct front_group){items, n, 0};
	q->front_items += n;
	return 0;
}

/* Copies item IT into a new entry OUT; 0 or -1 (ENOMEM). */
static int entry_of(const struct qitem *it, struct url_entry *out)
{
	*out = (struct url_entry){NULL, NULL, it->key->visit_time, it->priority, it->line};
	out->url = strdup(it->key->data);
	out->client = strdup(it->key->client);
	if (!out->url || !out->client) {
		url_line_entry_free(out);
		return -1;
	}
	return 0;
}

static ssize_t pop_front(struct url_queue *q, struct url_entry *out, size_t max)
{
	struct front_group *g = &q->front[q->nfront - 1];
	size_t n = g->n - g->pos < max ? g->n - g->pos : max;

	for (size_t i = 0; i < n; i++) {
		if (entry_of(&g->items[g->pos + i], &out[i]) < 0) {
			while (i--)
				url_line_entry_free(&out[i]);
			return -1;
		}
	}
	g->pos += n;
	q->front_items -= n;
	if (g->pos == g->n) {
		free(g->items);
		q->nfront--;
	}
	return (ssize_t)n;
}

static bool same_group(const struct url_key *a, const struct url_key *b)
{
	return a->visit_time == b->visit_time && strcmp(a->client, b->client) == 0;
}

ssize_t url_queue_pop_group(struct url_queue *q, struct url_entry *out, size_t max)
{
	const struct url_key *first;
	size_t n = 0;

	if (max == 0)
		return 0;
	if (q->nfront)
		return pop_front(q, out, max);
	if (q->nheap == 0)
		return 0;
	first = q->heap[0].key;
	while (n < max && q->nheap && same_group(q->heap[0].key, first)) {
		if (entry_of(&q->heap[0], &out[n]) < 0)
			return n ? (ssize_t)n : -1; /* what was taken is returned */
		heap_pop(q);
		n++;
	}
	return (ssize_t)n;
}

size_t url_queue_len(const struct url_queue *q)
{
	return q->nheap + q->front_items;
}

size_t url_queue_seen(const struct url_queue *q)
{
	return q->nkeys;
}
