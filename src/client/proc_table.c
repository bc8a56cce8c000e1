/*
 * proc_table.c - see proc_table.h.  Chained hash on pid; a browser session
 * has a few hundred processes, so 1024 buckets keep chains short.
 */
#include "client/proc_table.h"

#include <ctype.h>
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PROC_TABLE_BUCKETS 1024

struct proc_entry {
	struct proc_entry *next;
	uint32_t pid;
	char *exe; /* owned */
};

struct proc_table {
	struct proc_entry *bucket[PROC_TABLE_BUCKETS];
	unsigned count;
};

struct proc_table *proc_table_new(void)
{
	return calloc(1, sizeof(struct proc_table));
}

void proc_table_free(struct proc_table *t)
{
	if (!t)
		return;
	for (unsigned i = 0; i < PROC_TABLE_BUCKETS; i++) {
		struct proc_entry *e = t->bucket[i];

		while (e) {
			struct proc_entry *next = e->next;

			free(e->exe);
			free(e);
			e = next;
		}
	}
	free(t);
}

static struct proc_entry **slot(struct proc_table *t, uint32_t pid)
{
	struct proc_entry **p = &t->bucket[pid % PROC_TABLE_BUCKETS];

	while (*p && (*p)->pid != pid)
		p = &(*p)->next;
	return p;
}

/* Records PID's image; returns its entry, or NULL on allocation failure. */
static struct proc_entry *set_entry(struct proc_table *t, uint32_t pid, const char *exe)
{
	struct proc_entry **p = slot(t, pid);
	char *copy = strdup(exe);

	if (!copy)
		return NULL;
	if (*p) {
		free((*p)->exe);
		(*p)->exe = copy;
		return *p;
	}
	*p = calloc(1, sizeof(**p));
	if (!*p) {
		free(copy);
		return NULL;
	}
	(*p)->pid = pid;
	(*p)->exe = copy;
	t->count++;
	return *p;
}

int proc_table_set(struct proc_table *t, uint32_t pid, const char *exe)
{
	return set_entry(t, pid, exe) ? 0 : -1;
}

int proc_table_fork(struct proc_table *t, uint32_t child, uint32_t parent)
{
	return proc_table_set(t, child, proc_table_exe(t, parent));
}

void proc_table_remove(struct proc_table *t, uint32_t pid)
{
	struct proc_entry **p = slot(t, pid);
	struct proc_entry *e = *p;

	if (!e)
		return;
	*p = e->next;
	free(e->exe);
	free(e);
	t->count--;
}

bool proc_table_known(struct proc_table *t, uint32_t pid)
{
	return *slot(t, pid) != NULL;
}

const char *proc_table_exe(struct proc_table *t, uint32_t pid)
{
	struct proc_entry **p = slot(t, pid), *e;
	char link[64], exe[PATH_MAX];
	ssize_t n;

	if (*p)
		return (*p)->exe;
	snprintf(link, sizeof(link), "/proc/%u/exe", pid);
	n = readlink(link, exe, sizeof(exe) - 1);
	/* remember a miss too: one readlink per unknown pid, not one per event */
	if (n <= 0)
		snprintf(exe, sizeof(exe), "%s", PROC_TABLE_UNKNOWN);
	else
		exe[n] = '\0';
	e = set_entry(t, pid, exe);
	return e ? e->exe : PROC_TABLE_UNKNOWN;
}

unsigned proc_table_seed(struct proc_table *t)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	unsigned n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d))) {
		if (!isdigit((unsigned char)e->d_name[0]))
			continue;
		/* proc_table_exe() reads /proc/PID/exe and remembers the answer */
		if (strcmp(proc_table_exe(t, (uint32_t)strtoul(e->d_name, NULL, 10)),
			   PROC_TABLE_UNKNOWN) != 0)
			n++;
	}
	closedir(d);
	return n;
}

unsigned proc_table_count(const struct proc_table *t)
{
	return t->count;
}
