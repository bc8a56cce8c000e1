/*
 * proc_table.h - what user space knows about the processes in scope.
 *
 * The kernel sends the image path only with an exec; every other record
 * carries just the pid.  This table maps pid -> image path, fed by the
 * sensor's fork (inherit the parent's image), exec (new image) and exit
 * (forget) records, so each event can name the full executable path of
 * the process that acted.  A pid never seen (started before the sensor) is
 * looked up once in /proc/PID/exe; if that is gone too it is "UNKNOWN", as
 * in the original.
 */
#ifndef CAPTURE_PROC_TABLE_H
#define CAPTURE_PROC_TABLE_H

#include <stdbool.h>
#include <stdint.h>

#define PROC_TABLE_UNKNOWN "UNKNOWN"

struct proc_table;

struct proc_table *proc_table_new(void);
void proc_table_free(struct proc_table *t);

/* Records PID's image path (copied). 0, or -1 on allocation failure. */
int proc_table_set(struct proc_table *t, uint32_t pid, const char *exe);
/* CHILD starts with PARENT's image (fork without exec). */
int proc_table_fork(struct proc_table *t, uint32_t child, uint32_t parent);
/* Forgets PID. */
void proc_table_remove(struct proc_table *t, uint32_t pid);
/* True if PID was recorded (fork, exec or set), without asking /proc. */
bool proc_table_known(struct proc_table *t, uint32_t pid);
/* PID's image path; never NULL (PROC_TABLE_UNKNOWN at worst). Valid until the next change. */
const char *proc_table_exe(struct proc_table *t, uint32_t pid);
/*
 * Records the image of every process now running (from /proc), so that
 * processes started before the sensor are named even if they exit before
 * their first event is read.  Returns how many were recorded.
 */
unsigned proc_table_seed(struct proc_table *t);
/* Number of processes known (for tests). */
unsigned proc_table_count(const struct proc_table *t);

#endif
