/*
 * event.h - a state change as Capture reports it, whatever observed it.
 *
 * The vocabulary is the original Capture-HPC's (type process/file/
 * connection plus our system type) so exclusion lists, logs and the server
 * protocol stay compatible.  Strings are borrowed: whoever fills an event
 * owns them for the duration of the call that receives it.
 */
#ifndef CAPTURE_EVENT_H
#define CAPTURE_EVENT_H

#include <stdint.h>
#include <stdio.h>

enum event_type {
	EVENT_PROCESS = 0,
	EVENT_FILE,
	EVENT_CONNECTION,
	EVENT_SYSTEM,
	EVENT_TYPE_COUNT
};

#define EVENT_F_TRUNCATED  0x1 /* a path was too long and lost its beginning */
#define EVENT_F_EXECUTABLE 0x2 /* file: an executable file was created, written or chmod +x */

struct capture_event {
	enum event_type type;
	const char *action; /* "created", "Write", "tcp-connection", "ptrace", ... */
	uint64_t ts_ns;     /* kernel timestamp, CLOCK_BOOTTIME */
	uint64_t wall_ns;   /* the same instant on CLOCK_REALTIME */
	uint32_t pid;       /* acting process: the parent for process events */
	uint32_t tid;
	uint32_t ppid; /* the acting process's parent */
	uint32_t uid;
	uint64_t cgroup_id;
	const char *comm;    /* kernel task name of the task that acted */
	const char *process; /* full executable path of the acting process */
	const char *object1;
	const char *object2; /* "-1" where the original had none */
	const char *detail;  /* optional extra ("mode=0755", ...), NULL if none */
	const char *argv;    /* process created: NUL-separated words, argv_len bytes */
	size_t argv_len;
	int exit_status; /* process terminated: exit status, or -1 if killed */
	int exit_signal; /* process terminated: signal number, 0 if exited */
	uint32_t flags;  /* EVENT_F_* */
};

const char *event_type_name(enum event_type t);

/*
 * Original 7-column CSV line, fully quoted:
 * "type","time","processId","process","action","object1","object2"
 * Time is local "dd/MM/yyyy HH:mm:ss.mmm" (zero-padded, unlike the original).
 * Strings go through util_escape_bytes(), so a hostile name cannot split a line.
 */
void event_write_csv(FILE *out, const struct capture_event *ev);

/* One JSON object per line with every field (JSON Lines). 0 or -1. */
int event_write_json(FILE *out, const struct capture_event *ev);

/* Formats WALL_NS as "dd/MM/yyyy HH:mm:ss.mmm" local time into BUF (>= 24 bytes). */
void event_format_time(uint64_t wall_ns, char *buf, size_t len);

#endif
