/*
 * archive_manifest.c - see archive_manifest.h.
 */
#include "server/archive_manifest.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Reads the current entry (at most ARCHIVE_MANIFEST_MAX bytes) into a new buffer. */
static char *read_entry(struct archive *a, size_t *len)
{
	size_t cap = 65536, n = 0;
	char *buf = malloc(cap + 1);
	la_ssize_t r;

	while (buf && (r = archive_read_data(a, buf + n, cap - n)) > 0) {
		n += (size_t)r;
		if (n == cap) {
			char *nb = cap < ARCHIVE_MANIFEST_MAX ? realloc(buf, cap * 2 + 1) : NULL;

			if (!nb) {
				free(buf);
				return NULL;
			}
			buf = nb;
			cap *= 2;
		}
	}
	if (buf && r < 0) {
		free(buf);
		return NULL;
	}
	if (buf)
		buf[n] = '\0';
	*len = n;
	return buf;
}

static int fill(json_t *root, struct output_file **files, size_t *n)
{
	json_t *entries = json_object_get(root, "entries"), *e;
	size_t i, k = 0;
	struct output_file *v;

	if (!json_is_array(entries))
		return 0;
	v = calloc(json_array_size(entries) + 1, sizeof(*v));
	if (!v)
		return -1;
	json_array_foreach(entries, i, e)
	{
		const char *kind = json_string_value(json_object_get(e, "kind"));
		const char *path = json_string_value(json_object_get(e, "path"));
		const char *sha = json_string_value(json_object_get(e, "sha256"));
		char *p = NULL;

		if (!path || asprintf(&p, "%s %s", kind ? kind : "changed", path) < 0)
			continue;
		v[k].path = p;
		v[k].sha256 = sha && strlen(sha) == 64 ? strdup(sha) : NULL;
		v[k].size = (uint64_t)json_integer_value(json_object_get(e, "size"));
		k++;
	}
	*files = v;
	*n = k;
	return 0;
}

static int parse(const char *zip, const char *text, size_t len, struct output_file **files,
		 size_t *n, char *err, size_t errlen)
{
	json_error_t je;
	json_t *root = json_loadb(text, len, 0, &je);
	int rc;

	if (!root) {
		snprintf(err, errlen, "%s: manifest.json:%d:%d: %s", zip, je.line, je.column,
			 je.text);
		return -1;
	}
	rc = fill(root, files, n);
	json_decref(root);
	if (rc < 0)
		snprintf(err, errlen, "%s: out of memory", zip);
	return rc;
}

int archive_manifest_read(const char *zip, struct output_file **files, size_t *n, char *err,
			  size_t errlen)
{
	struct archive *a = archive_read_new();
	struct archive_entry *ent;
	int rc = 0, r;

	*files = NULL;
	*n = 0;
	if (!a || archive_read_support_format_zip(a) != ARCHIVE_OK ||
	    archive_read_open_filename(a, zip, 65536) != ARCHIVE_OK) {
		snprintf(err, errlen, "%s: %s", zip, a ? archive_error_string(a) : "out of memory");
		archive_read_free(a);
		return -1;
	}
	while ((r = archive_read_next_header(a, &ent)) == ARCHIVE_OK) {
		size_t len = 0;
		char *text;

		if (strcmp(archive_entry_pathname(ent), "manifest.json") != 0)
			continue;
		text = read_entry(a, &len);
		if (!text) {
			snprintf(err, errlen, "%s: manifest.json unreadable or over %u bytes", zip,
				 ARCHIVE_MANIFEST_MAX);
			rc = -1;
		} else {
			rc = parse(zip, text, len, files, n, err, errlen);
		}
		free(text);
		break;
	}
	if (r != ARCHIVE_OK && r != ARCHIVE_EOF) {
		snprintf(err, errlen, "%s: %s", zip, archive_error_string(a));
		rc = -1;
	}
	archive_read_free(a);
	return rc;
}

void archive_manifest_free(struct output_file *files, size_t n)
{
	for (size_t i = 0; files && i < n; i++) {
		free((char *)(uintptr_t)files[i].path);
		free((char *)(uintptr_t)files[i].sha256);
	}
	free(files);
}
