/*
 * guest_backend.h - how the server reverts a guest, whatever the guest is.
 *
 * A guest is one capture-client with the disposable system it watches: a
 * local sandbox client (guest_local.c), a libvirt domain or a VM reverted
 * by an operator's command (later).  The server owns the guest's state and
 * deadlines; a backend only knows how to bring a guest back to "a fresh
 * client is about to connect" (revert) and how to stop it for good.
 *
 * revert() is asynchronous: the backend calls the server's done callback
 * (given at creation) exactly once per revert, with 0 when the guest is
 * reverted and its client is starting, or a negative errno.  The client
 * then connects with the guest's vm-server-id/vm-id; the server's
 * vm_stalled_after_revert_timeout covers a client that never does.
 * exited() is how a backend reports that a guest died on its own (a local
 * client process exiting); the server then reverts it again.
 */
#ifndef CAPTURE_GUEST_BACKEND_H
#define CAPTURE_GUEST_BACKEND_H

#include <stdint.h>

struct guest_backend;

struct guest_backend_events {
	/* A revert of guest INDEX finished: STATUS 0, or a negative errno. */
	void (*reverted)(void *ctx, unsigned index, int status);
	/* Guest INDEX stopped without being asked to (e.g. its client exited). */
	void (*exited)(void *ctx, unsigned index, const char *why);
	void *ctx;
};

struct guest_backend_ops {
	const char *name; /* "local", "libvirt", "command" */
	/* Reverts guest INDEX (0..count-1); 0 = started, the result comes through reverted(). */
	int (*revert)(struct guest_backend *b, unsigned index);
	/* Stops guest INDEX for good (server shutdown); its client must go away. */
	void (*stop)(struct guest_backend *b, unsigned index);
	/* True while something of guest INDEX still runs (shutdown waits for it). */
	int (*busy)(const struct guest_backend *b, unsigned index);
	void (*free)(struct guest_backend *b);
};

/* Every backend starts with this; the server only uses these fields. */
struct guest_backend {
	const struct guest_backend_ops *ops;
	unsigned count;                                                      /* guests 0..count-1 */
	const char *vm_server_id;                                            /* -a of its clients */
	const char *(*vm_id)(const struct guest_backend *b, unsigned index); /* -b */
};

#endif
