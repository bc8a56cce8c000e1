/*
 * fuzz_url_line.c - libFuzzer harness for URL lines and the URL queue.
 *
 * Input: lines separated by '\n'.  Each is parsed; a URL line must give
 * an entry that honours the documented limits (URL of 1..8192 bytes with
 * no space or control byte and a valid scheme, client name or NULL, visit
 * time -1..86400, priority 0.0..1.0), an invalid one a message that starts
 * with "fuzz:<line>:".  Valid entries are pushed into a queue; a line's
 * first byte also decides whether a group is popped (and sometimes pushed
 * back to the front).  At the end the queue is drained: every group shares
 * one client and visit time, and every URL comes out exactly once.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "server/url_line.h"
#include "server/url_queue.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_entry(const struct url_entry *e)
{
	char why[256];
	size_t len = strlen(e->url);

	if (len == 0 || len > URL_LINE_URL_MAX || url_line_check_url(e->url, len, why, sizeof(why)))
		abort();
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)e->url[i] <= 0x20 || e->url[i] == 0x7f)
			abort();
	if (e->client && !config_client_name_ok(e->client, strlen(e->client)))
		abort();
	if (e->visit_time < -1 || e->visit_time > CONFIG_VISIT_TIME_MAX_S ||
	    !(e->priority >= 0.0 && e->priority <= 1.0))
		abort();
}

/* Every group shares one client and visit time (front groups are popped groups pushed back). */
static void check_group(const struct url_entry *out, ssize_t n)
{
	for (ssize_t i = 1; i < n; i++)
		if (out[i].visit_time != out[0].visit_time || strcmp(out[i].client, out[0].client))
			abort();
}

/* Pops one group of at most MAX and checks it; PUSH_BACK puts it in front again. */
static size_t pop_check(struct url_queue *q, size_t max, int push_back)
{
	struct url_entry out[8];
	ssize_t n = url_queue_pop_group(q, out, max);

	if (n < 0 || (size_t)n > max)
		abort();
	check_group(out, n);
	if (push_back && n > 0 && url_queue_push_front(q, out, (size_t)n) < 0)
		abort();
	for (ssize_t i = 0; i < n; i++)
		url_line_entry_free(&out[i]);
	return push_back ? 0 : (size_t)n;
}

static size_t drain(struct url_queue *q)
{
	struct url_entry out[8];
	size_t total = 0;
	ssize_t n;

	while ((n = url_queue_pop_group(q, out, 8)) > 0) {
		check_group(out, n);
		for (ssize_t i = 0; i < n; i++)
			url_line_entry_free(&out[i]);
		total += (size_t)n;
	}
	if (n < 0)
		abort();
	return total;
}

/* Parses one line; a valid one is pushed.  Returns 1 if it was queued. */
static int one_line(struct url_queue *q, const char *s, size_t len, unsigned long line)
{
	struct url_entry e;
	char err[512], prefix[48];
	int r = url_line_parse(s, len, "fuzz", line, &e, err, sizeof(err));

	snprintf(prefix, sizeof(prefix), "fuzz:%lu:", line);
	if (r == URL_LINE_INVALID && strncmp(err, prefix, strlen(prefix)) != 0)
		abort();
	if (r != URL_LINE_URL)
		return 0;
	check_entry(&e);
	r = url_queue_push(q, &e);
	url_line_entry_free(&e);
	if (r < 0)
		abort();
	return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct url_queue *q = url_queue_new("chromium", 20);
	size_t pos = 0, queued = 0, popped = 0;
	unsigned long line = 0;

	if (!q)
		abort();
	while (pos < size) {
		const char *s = (const char *)data + pos;
		const char *nl = memchr(s, '\n', size - pos);
		size_t len = nl ? (size_t)(nl - s) : size - pos;

		pos += len + 1;
		queued += (size_t)one_line(q, s, len, ++line);
		if (len && (unsigned char)s[0] % 4 == 0)
			popped += pop_check(q, (unsigned char)s[len - 1] % 8 + 1, s[len - 1] & 1);
	}
	if (popped + url_queue_len(q) != queued || url_queue_seen(q) != queued)
		abort();
	if (drain(q) + popped != queued)
		abort();
	url_queue_free(q);
	return 0;
}
