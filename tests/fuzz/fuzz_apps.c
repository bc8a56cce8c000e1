/*
 * fuzz_apps.c - libFuzzer harness for the applications.conf parser and the
 * argv builder.
 *
 * The input is loaded as a file.  If it loads, every entry is looked up
 * again by name and built with a URL cut from the input; the argv must hold
 * the URL as one whole element, byte for byte.  On
 * failure the table must be NULL and the message must start "fuzz.conf:".
 * The URL's origin (apps_url_origin) must be a port > 0 and "" or an
 * address inet_pton reads back.
 */
#include <arpa/inet.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "client/apps.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The URL must appear as one whole argv element. */
static void check_argv(const struct app_argv *a, const char *url)
{
	size_t i, hits = 0;

	if (!a->argv || a->argv[a->argc] || a->argv[0][0] != '/')
		abort();
	for (i = 0; i < a->argc; i++)
		hits += strcmp(a->argv[i], url) == 0;
	if (hits < 1)
		abort();
}

static void build_all(const struct app_table *t, const char *url)
{
	static const char *const builtins[] = {"curl", "wget", "curl-sh", "chromium"};
	struct app_argv a;
	char err[256];
	size_t i, n = apps_count(t);

	for (i = 0; i < n + 4; i++) {
		const char *name = i < n ? apps_get(t, i)->name : builtins[i - n];

		if (i < n && apps_find(t, name) != apps_get(t, i))
			abort();
		if (apps_build_argv(t, name, url, 5, &a, err, sizeof(err)) == 0) {
			check_argv(&a, url);
			apps_argv_free(&a);
		} else if (apps_check_url(url, err, sizeof(err)) == 0 || a.argv) {
			abort(); /* only a bad URL may fail here */
		}
	}
}

static void check_origin(const char *url)
{
	char host[64];
	unsigned char bin[16];
	uint16_t port = 0;

	if (apps_url_origin(url, host, sizeof(host), &port) < 0)
		return;
	if (port == 0 ||
	    (host[0] && inet_pton(AF_INET, host, bin) != 1 && inet_pton(AF_INET6, host, bin) != 1))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct app_table *t = NULL;
	char err[512], url[256];
	size_t ulen = size < sizeof(url) - 1 ? size : sizeof(url) - 1;

	memcpy(url, data + (size - ulen), ulen); /* the tail, so a URL can follow the lines */
	url[ulen] = '\0';
	check_origin(url);
	if (apps_load_buffer("fuzz.conf", (const char *)data, size, &t, err, sizeof(err)) < 0) {
		if (t || strncmp(err, "fuzz.conf:", 10) != 0)
			abort();
		return 0;
	}
	build_all(t, url);
	apps_free(t);
	return 0;
}
