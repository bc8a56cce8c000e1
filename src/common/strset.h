/*
 * strset.h - a set of byte strings (open addressing, FNV-1a), used to report
 * each file change once when two observers (the kernel sensor and fanotify)
 * may both see it.  Strings are copied; lookups are O(1) on average.
 */
#ifndef CAPTURE_STRSET_H
#define CAPTURE_STRSET_H

#include <stdbool.h>
#include <stddef.h>

struct strset;

struct strset *strset_new(void);
void strset_free(struct strset *s);
/* Adds S; returns 1 if it was new, 0 if already there, -1 on allocation failure. */
int strset_add(struct strset *s, const char *str);
bool strset_has(const struct strset *s, const char *str);
size_t strset_count(const struct strset *s);

#endif
