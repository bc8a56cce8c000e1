/*
 * strset.c - see strset.h.  Linear probing, load factor <= 1/2, grows by
 * doubling; no deletion (a visit only adds).
 */
#include "common/strset.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

struct strset {
	char **slot;
	size_t cap; /* power of two */
	size_t count;
};

struct strset *strset_new(void)
{
	struct strset *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->cap = 64;
	s->slot = calloc(s->cap, sizeof(*s->slot));
	if (!s->slot) {
		free(s);
		return NULL;
	}
	return s;
}

void strset_free(struct strset *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->cap; i++)
		free(s->slot[i]);
	free(s->slot);
	free(s);
}

static size_t find(char **slot, size_t cap, const char *str)
{
	size_t i = (size_t)util_fnv1a64(str) & (cap - 1);

	while (slot[i] && strcmp(slot[i], str) != 0)
		i = (i + 1) & (cap - 1);
	return i;
}

static int grow(struct strset *s)
{
	size_t cap = s->cap * 2;
	char **slot = calloc(cap, sizeof(*slot));

	if (!slot)
		return -1;
	for (size_t i = 0; i < s->cap; i++)
		if (s->slot[i])
			slot[find(slot, cap, s->slot[i])] = s->slot[i];
	free(s->slot);
	s->slot = slot;
	s->cap = cap;
	return 0;
}

int strset_add(struct strset *s, const char *str)
{
	size_t i;

	if ((s->count + 1) * 2 > s->cap && grow(s) < 0)
		return -1;
	i = find(s->slot, s->cap, str);
	if (s->slot[i])
		return 0;
	s->slot[i] = strdup(str);
	if (!s->slot[i])
		return -1;
	s->count++;
	return 1;
}

bool strset_has(const struct strset *s, const char *str)
{
	return s->slot[find(s->slot, s->cap, str)] != NULL;
}

size_t strset_count(const struct strset *s)
{
	return s->count;
}
