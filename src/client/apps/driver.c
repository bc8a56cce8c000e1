/*
 * driver.c - see driver.h: the registry of driver kinds and the part every
 * driver shares (the visit's copy, the results, on_done from the loop).
 */
#include "client/apps/driver.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "client/apps/firefox.h"
#include "common/util.h"

/* The kinds; a new one (firefox_driver_ops) is added here. */
static const struct driver_ops *const kinds[] = {&chromium_driver_ops, &firefox_driver_ops};

static const struct driver_ops *kind_find(const char *program)
{
	for (size_t i = 0; program && i < ARRAY_SIZE(kinds); i++) {
		if (strcasecmp(kinds[i]->program, program) == 0)
			return kinds[i];
	}
	return NULL;
}

bool driver_handles(const char *program)
{
	return kind_find(program) != NULL;
}

/* ---- the visit's copy ---- */

static char *dup_opt(const char *s, bool *failed)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		*failed = true;
	return d;
}

static int copy_visit(struct driver_visit *dst, const struct driver_visit *src)
{
	char **urls = calloc(src->n_urls ? src->n_urls : 1, sizeof(*urls));
	bool failed = !urls;

	*dst = *src;
	for (size_t i = 0; urls && i < src->n_urls; i++)
		urls[i] = dup_opt(src->urls[i], &failed);
	dst->urls = (const char *const *)urls;
	dst->exe = dup_opt(src->exe, &failed);
	dst->downloads_dir = dup_opt(src->downloads_dir, &failed);
	dst->screenshot_dir = dup_opt(src->screenshot_dir, &failed);
	dst->tag = dup_opt(src->tag ? src->tag : "visit", &failed);
	if (!dst->page_timeout_s)
		dst->page_timeout_s = DRIVER_PAGE_TIMEOUT_DEFAULT;
	return failed ? -1 : 0;
}

static void free_visit(struct driver_visit *v)
{
	for (size_t i = 0; v->urls && i < v->n_urls; i++)
		free((char *)v->urls[i]);
	free((void *)v->urls);
	free((char *)v->exe);
	free((char *)v->downloads_dir);
	free((char *)v->screenshot_dir);
	free((char *)v->tag);
	memset(v, 0, sizeof(*v));
}

static void free_result(struct driver_result *r)
{
	for (size_t i = 0; i < r->n_hops; i++)
		free(r->hops[i].url);
	free(r->hops);
	free(r->error_text);
	free(r->final_url);
	free(r->screenshot);
}

/* ---- life cycle ---- */

static int check_visit(const struct driver_visit *v, char *err, size_t errlen)
{
	if (!v->n_urls || !v->urls || v->visit_time_s < 1 || v->visit_time_s > APPS_MAX_VISIT_S) {
		snprintf(err, errlen, "no URLs or visit time out of range 1..%d", APPS_MAX_VISIT_S);
		return -1;
	}
	if (v->layout == DRIVER_LAYOUT_PROCESSES && v->n_urls > DRIVER_PROCESSES_MAX_URLS) {
		snprintf(err, errlen, "a bulk group holds at most %d URLs per guest, not %zu",
			 DRIVER_PROCESSES_MAX_URLS, v->n_urls);
		return -1;
	}
	for (size_t i = 0; i < v->n_urls; i++) {
		if (apps_check_url(v->urls[i], err, errlen) < 0)
			return -1;
	}
	return 0;
}

int driver_new(uv_loop_t *loop, const char *program, const struct driver_visit *v,
	       const struct driver_callbacks *cb, struct driver **out, char *err, size_t errlen)
{
	const struct driver_ops *ops = kind_find(program);
	struct driver *d;

	*out = NULL;
	if (!ops) {
		snprintf(err, errlen, "no browser driver for '%.*s'", APPS_MAX_NAME, program);
		return -1;
	}
	if (check_visit(v, err, errlen) < 0)
		return -1;
	d = calloc(1, ops->size);
	if (!d) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	d->ops = ops;
	d->loop = loop;
	d->cb = *cb;
	for (size_t i = 0; i < DRIVER_MAX_FDS; i++)
		d->launch.fds[i] = -1;
	d->results = calloc(v->n_urls, sizeof(*d->results));
	if (copy_visit(&d->visit, v) < 0 || !d->results ||
	    uv_timer_init(loop, &d->done_timer) != 0) {
		snprintf(err, errlen, "out of memory");
		free_visit(&d->visit);
		free(d->results);
		free(d);
		return -1;
	}
	d->done_timer.data = d;
	if (ops->prepare(d, err, errlen) < 0) {
		driver_free(d);
		return -1;
	}
	*out = d;
	return 0;
}

void driver_close_guest_fds(struct driver *d)
{
	for (size_t i = 0; i < d->launch.n_fds; i++) {
		if (d->launch.fds[i] >= 0)
			close(d->launch.fds[i]);
		d->launch.fds[i] = -1;
	}
}

int driver_start(struct driver *d, pid_t pid, char *err, size_t errlen)
{
	driver_close_guest_fds(d);
	return d->ops->start(d, pid, err, errlen);
}

const struct driver_result *driver_result(const struct driver *d, size_t i)
{
	return i < d->visit.n_urls ? &d->results[i] : NULL;
}

static void deliver(uv_timer_t *t)
{
	struct driver *d = t->data;

	if (d->cb.on_done && !d->freeing)
		d->cb.on_done(d, d->cb.arg);
}

void driver_done(struct driver *d)
{
	if (d->done || d->freeing)
		return;
	d->done = true;
	uv_timer_start(&d->done_timer, deliver, 0, 0);
}

void driver_abort(struct driver *d, uint32_t major, uint32_t minor)
{
	if (d->done)
		return; /* every URL has its outcome already */
	d->ops->stop(d);
	for (size_t i = 0; i < d->visit.n_urls; i++) {
		if (!d->results[i].load_ms) /* a loaded page was visited, even if cut short */
			driver_url_fail(d, i, major, minor, NULL);
	}
	driver_done(d);
}

static void release(struct driver *d)
{
	for (size_t i = 0; i < d->visit.n_urls; i++)
		free_result(&d->results[i]);
	free(d->results);
	if (d->launch.argv) {
		for (size_t i = 0; d->launch.argv[i]; i++)
			free(d->launch.argv[i]);
		free(d->launch.argv);
	}
	free_visit(&d->visit);
	d->ops->destroy(d);
}

static void on_closed(uv_handle_t *h)
{
	struct driver *d = h->data;

	if (--d->closing == 0 && d->freeing)
		release(d);
}

void driver_close_handle(struct driver *d, uv_handle_t *h)
{
	if (uv_is_closing(h))
		return;
	h->data = d;
	d->closing++;
	uv_close(h, on_closed);
}

void driver_free(struct driver *d)
{
	if (!d || d->freeing)
		return;
	d->freeing = true;
	d->ops->stop(d);
	driver_close_guest_fds(d);
	driver_close_handle(d, (uv_handle_t *)&d->done_timer);
}

/* ---- results ---- */

void driver_url_started(struct driver *d, size_t i)
{
	if (i >= d->visit.n_urls)
		return;
	d->results[i].start_ns = util_now_real_ns();
	if (d->cb.on_url_started)
		d->cb.on_url_started(d, i, d->cb.arg);
}

void driver_url_fail(struct driver *d, size_t i, uint32_t major, uint32_t minor, const char *text)
{
	struct driver_result *r = &d->results[i];

	if (i >= d->visit.n_urls || r->major || !major)
		return;
	r->major = major;
	r->minor = minor;
	if (text && !r->error_text)
		r->error_text = strdup(text); /* NULL if out of memory: the codes stay */
}

int driver_add_hop(struct driver *d, size_t i, const char *url, int status)
{
	struct driver_result *r = &d->results[i];
	struct driver_hop *hops;

	if (r->n_hops >= DRIVER_MAX_REDIRECTS) {
		r->hops_dropped++;
		return 0;
	}
	hops = reallocarray(r->hops, r->n_hops + 1, sizeof(*hops));
	if (!hops)
		return -1;
	r->hops = hops;
	hops[r->n_hops].url = strdup(url);
	if (!hops[r->n_hops].url)
		return -1;
	hops[r->n_hops++].status = status;
	return 0;
}

int driver_set_final(struct driver *d, size_t i, const char *url, int status)
{
	struct driver_result *r = &d->results[i];
	char *copy = strdup(url);

	if (!copy)
		return -1;
	free(r->final_url);
	r->final_url = copy;
	r->status = status;
	return 0;
}

/* ---- screenshots ---- */

int driver_png_decode(const json_t *value, size_t max, unsigned char **png, size_t *len,
		      const char **reason)
{
	static const unsigned char signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
	const char *text = json_string_value(value);
	size_t n = json_string_length(value);
	unsigned char *out;
	long got;

	*png = NULL;
	*len = 0;
	*reason = "not a string of base64";
	if (!text || n == 0 || n % 4 || strlen(text) != n)
		return -1;
	/* 3 bytes per 4 characters: refuse more than MAX before decoding */
	if (n / 4 > (max + 2) / 3) {
		*reason = "larger than the screenshot limit";
		return -1;
	}
	out = malloc(n / 4 * 3);
	if (!out) {
		*reason = "out of memory";
		return -1;
	}
	got = util_base64_decode(text, n, out);
	if (got < 0 || (size_t)got > max || got < (long)sizeof(signature) ||
	    memcmp(out, signature, sizeof(signature)) != 0) {
		*reason = got < 0             ? "not a string of base64"
			  : (size_t)got > max ? "larger than the screenshot limit"
					      : "not a PNG image";
		free(out);
		return -1;
	}
	*png = out;
	*len = (size_t)got;
	*reason = NULL;
	return 0;
}

/* Writes LEN bytes to PATH (a new file, no link followed); 0, or -1 with errno. */
static int write_new_file(const char *path, const unsigned char *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	int rc, saved;

	if (fd < 0)
		return -1;
	rc = util_write_all(fd, data, len);
	saved = errno;
	if (close(fd) < 0 && rc == 0) {
		saved = errno;
		rc = -1;
	}
	if (rc < 0)
		unlink(path); /* no half image under the URL's name */
	errno = saved;
	return rc;
}

int driver_save_screenshot(struct driver *d, size_t i, const json_t *value, const char **reason)
{
	char path[PATH_MAX];
	unsigned char *png;
	size_t len;
	char *copy;

	if (driver_png_decode(value, DRIVER_MAX_SCREENSHOT, &png, &len, reason) < 0)
		return -1;
	snprintf(path, sizeof(path), "%s/%s-%zu.png", d->visit.screenshot_dir, d->visit.tag, i + 1);
	if (write_new_file(path, png, len) < 0) {
		*reason = strerror(errno);
		free(png);
		return -1;
	}
	free(png);
	copy = strdup(path);
	if (!copy) {
		*reason = "out of memory";
		return -1;
	}
	free(d->results[i].screenshot);
	d->results[i].screenshot = copy;
	return 0;
}
