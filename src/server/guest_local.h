/*
 * guest_local.h - the embedded default guest backend: N capture-client
 * processes on this machine, each visiting in its own sandbox guests.
 *
 * A local client reverts its sandbox after every visit by itself, so a
 * revert here is the heavier one the server asks for after an error: stop
 * the client process (SIGTERM, SIGKILL after GUEST_LOCAL_KILL_MS; the next
 * client reverts any guest the old one left) and start a new one.  A client
 * that exits on its own is reported through exited(); one that exits again
 * within GUEST_LOCAL_QUICK_MS of its start is restarted only after a
 * back-off (1 s doubling to GUEST_LOCAL_BACKOFF_MAX_MS), so a client that
 * cannot start does not spin.  Each client's stdout and stderr are appended
 * to its own log file, so its messages never garble the server's terminal.
 */
#ifndef CAPTURE_GUEST_LOCAL_H
#define CAPTURE_GUEST_LOCAL_H

#include <uv.h>

#include "server/guest_backend.h"

#define GUEST_LOCAL_KILL_MS        5000
#define GUEST_LOCAL_QUICK_MS       5000
#define GUEST_LOCAL_BACKOFF_MAX_MS 30000

struct guest_local_params {
	uv_loop_t *loop;
	unsigned count;           /* guests, 1..256 */
	const char *vm_server_id; /* -a of every client ("local") */
	const char *const *argv;  /* client path and options without -b; NULL-terminated */
	const char *log_dir;      /* client-<vm-id>.log files go here */
	struct guest_backend_events events;
};

/* The backend (guest I has vm-id "guest-<I+1>"); NULL with errno. Nothing runs yet. */
struct guest_backend *guest_local_new(const struct guest_local_params *p);

#endif
