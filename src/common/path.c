/*
 * path.c - see path.h.
 */
#include "common/path.h"

#include <stdlib.h>
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

/* Joins into WORK (WORKLEN >= strlen(dir) + strlen(name) + 3: no step can overflow). */
static size_t join_into(const char *dir, const char *name, char *work, size_t worklen)
{
	size_t len = 0;

	work[0] = '\0';
	if (!name || name[0] != '/')
		(void)push_path(work, worklen, &len, dir ? dir : "");
	if (name)
		(void)push_path(work, worklen, &len, name);
	if (len == 0) {
		work[0] = '/';
		work[1] = '\0';
		len = 1;
	}
	return len;
}

int path_join(const char *dir, const char *name, char *out, size_t outlen)
{
	char stack[8200];
	size_t need = (dir ? strlen(dir) : 0) + (name ? strlen(name) : 0) + 3, len;
	char *work;

	if (outlen == 0)
		return -1;
	out[0] = '\0';
	work = need <= sizeof(stack) ? stack : malloc(need);
	if (!work)
		return -1;
	/* fold in a buffer big enough for every intermediate step, then copy:
	 * "/a/b" + ".." fits in 3 bytes although "/a/b" does not */
	len = join_into(dir, name, work, need);
	if (len + 1 > outlen) {
		memcpy(out, work, outlen - 1);
		out[outlen - 1] = '\0';
		if (work != stack)
			free(work);
		return -1;
	}
	memcpy(out, work, len + 1);
	if (work != stack)
		free(work);
	return (int)len;
}
