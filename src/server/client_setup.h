/*
 * client_setup.h - what capture-server gives its clients: the shared HMAC
 * key, the exclusion rules it pushes (send-exclusion-lists), and for local
 * guests the capture-client command line with an applications file
 * generated from config.xml.
 *
 * Everything is checked here, at start-up, so a bad key file, exclusion
 * list or applications file stops the server with a message naming it
 * instead of failing in every client.  The struct owns all it holds;
 * client_setup_free() releases it and removes the generated files.
 */
#ifndef CAPTURE_CLIENT_SETUP_H
#define CAPTURE_CLIENT_SETUP_H

#include <stddef.h>
#include <stdint.h>

#include "common/config.h"
#include "common/protocol.h"

#define CLIENT_SETUP_KEY_MAX   4096 /* bytes of the shared key read */
#define CLIENT_SETUP_ARGV_MAX  40
#define CLIENT_SETUP_VM_SERVER "local" /* vm-server-id of local sandbox guests */

struct exclusion_set;

struct client_setup {
	unsigned char key[CLIENT_SETUP_KEY_MAX];
	size_t keylen; /* 0 = no authentication */
	struct exclusion_set *excl;
	struct proto_msg *exclusions; /* point into EXCL */
	size_t nexclusions;
	char run_dir[64];    /* private directory for generated files, "" if none */
	char apps_path[128]; /* the generated applications file, "" if none */
	char port[8], tmpfs[24], memory[24], pids[16];
	const char *argv[CLIENT_SETUP_ARGV_MAX]; /* local clients, without "-b VM_ID" */
};

/* Reads the key and the exclusion lists of CFG into CS (zeroed by the caller).  0 or -1. */
int client_setup_init(struct client_setup *cs, const struct capture_config *cfg);

/*
 * Writes the applications file and fills CS->argv for local sandbox guests
 * of CFG: CLIENT_PATH connecting to ADDR:PORT.  0 or -1 (logged).
 */
int client_setup_local(struct client_setup *cs, const struct capture_config *cfg,
		       const char *client_path, const char *addr, uint16_t port);

void client_setup_free(struct client_setup *cs);

#endif
