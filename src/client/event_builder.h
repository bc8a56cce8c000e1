/*
 * event_builder.h - turns raw sensor records into Capture events.
 *
 * Joins directory + name into absolute paths, names the acting process's
 * image from the process table, formats addresses as ip:port ([v6]:port),
 * maps ops onto the original vocabulary, and keeps the process table up to
 * date.  As in the original, the acting process of a process event is the
 * parent.  Records of the harness itself (the process that launched the
 * observed program, or a sandbox's guest init) produce no event, nor do
 * those of a child of the harness before it has exec'd the program (a
 * sandbox drops privileges in that child).  The exec and exit of a program
 * the harness started are not changes; those of a process only reparented
 * to the harness (a double-forked daemon, orphaned before its exec) are.
 */
#ifndef CAPTURE_EVENT_BUILDER_H
#define CAPTURE_EVENT_BUILDER_H

#include <stdint.h>

#include "common/event.h"
#include "sensor/sensor.h"

#define EVENT_BUILDER_LAUNCHED_MAX 64 /* programs the harness runs at once */

struct event_builder;
struct proc_table;

/* HARNESS_PID: actions of this process are not state changes (0 = none). */
struct event_builder *event_builder_new(struct proc_table *procs, uint32_t harness_pid);
void event_builder_free(struct event_builder *b);
/* Also treat PID as the harness (a sandbox's guest init, which starts the program). */
void event_builder_add_harness(struct event_builder *b, uint32_t pid);

/*
 * Fills EV from REC.  Returns 1 if EV is an event, 0 if the record only
 * updated internal state (fork, or an action of the harness), -1 if the
 * record could not be understood.  EV's strings live until the next call.
 */
int event_builder_build(struct event_builder *b, const struct sensor_record *rec,
			struct capture_event *ev);

/* Formats a sensor address as "1.2.3.4:80" or "[::1]:80" into BUF. */
void event_builder_format_addr(const struct sensor_net *n, char *buf, size_t len);

#endif
