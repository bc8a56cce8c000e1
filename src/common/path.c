/*
 * path.c - see path.h.
 */
#include "common/path.h"

#include <string.h>

const char *path_basename(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash && slash[1] ? slash + 1 : path;
}

/* Appends component C (length n) to OUT (length *len), folding "." and "..". */
static int push_component(char *out, size_t outlen, size_t *len, const char *c, size_t n)
{
	if (n == 0 || (n == 1 && c[0] == '.'))
		return 0;
	if (n == 2 && c[0] == '.' && c[1] == '.') {
		while (*len > 0 && out[*len - 1] != '/')
			(*len)--;
		if (*len > 0)
			(*len)--; /* drop the slash too, except at the root */
		out[*len] = '\0';
		return 0;
	}
	if (*len + 1 + n + 1 > outlen)
		return -1;
	out[(*len)++] = '/';
	memcpy(out + *len, c, n);
	*len += n;
	out[*len] = '\0';
	return 0;
}

static int push_path(char *out, size_t outlen, size_t *len, const char *p)
{
	while (*p) {
		const char *end = strchr(p, '/');
		size_t n = end ? (size_t)(end - p) : strlen(p);

		if (push_component(out, outlen, len, p, n) < 0)
			return -1;
		p += n;
		while (*p == '/')
			p++;
	}
	return 0;
}

int path_join(const char *dir, const char *name, char *out, size_t outlen)
{
	size_t len = 0;
	int rc = 0;

	if (outlen < 2)
		return -1;
	out[0] = '\0';
	if (!name || name[0] != '/')
		rc = push_path(out, outlen, &len, dir ? dir : "");
	if (rc == 0 && name)
		rc = push_path(out, outlen, &len, name);
	if (len == 0) {
		out[0] = '/';
		out[1] = '\0';
		len = 1;
	}
	return rc < 0 ? -1 : (int)len;
}
