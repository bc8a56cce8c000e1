/*
 * fuzz_config.c - libFuzzer harness for the config.xml parser.
 *
 * Input: the bytes of a config.xml, loaded from memory as "fuzz.xml".
 * Checks:
 *   - the result is 0 exactly when no error was counted;
 *   - every kept message starts with "fuzz.xml" and is a single line;
 *   - at most CONFIG_ERRORS_MAX messages are kept and the counts add up;
 *   - a successful load has values inside their documented ranges, one
 *     virtual machine at least per VM server, and named applications;
 *   - everything is freed (ASan's leak check).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_messages(const struct config_errors *e)
{
	if (e->count > CONFIG_ERRORS_MAX || e->count + e->dropped != e->nerrors + e->nwarnings)
		abort();
	for (size_t i = 0; i < e->count; i++)
		if (strncmp(e->msgs[i], "fuzz.xml", 8) != 0 || strchr(e->msgs[i], '\n'))
			abort();
}

static void check_config(const struct capture_config *c)
{
	if (c->group_size < 1 || c->group_size > 1000 ||
	    c->client_default_visit_time > CONFIG_VISIT_TIME_MAX_S || !c->client_default ||
	    !config_client_name_ok(c->client_default, strlen(c->client_default)) ||
	    c->listen_port == 0 || !c->listen_address || !c->db_url || !c->log_directory)
		abort();
	if (c->sandbox_count == 0 && c->nvm_servers == 0)
		abort();
	for (size_t i = 0; i < c->nvm_servers; i++)
		if (c->vm_servers[i].nvms == 0 || !c->vm_servers[i].vms[0].vm_path)
			abort();
	for (size_t i = 0; i < c->napplications; i++)
		if (!c->applications[i].name || !c->applications[i].path)
			abort();
	for (int i = 0; i < CONFIG_RETRY_COUNT; i++)
		if (c->retries[i] > CONFIG_RETRIES_MAX)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct capture_config cfg;
	struct config_errors errs;
	int rc;

	config_errors_init(&errs);
	rc = config_load_buffer("fuzz.xml", (const char *)data, size, &cfg, &errs);
	if ((rc == 0) != (errs.nerrors == 0))
		abort();
	check_messages(&errs);
	if (rc == 0)
		check_config(&cfg);
	config_free(&cfg);
	config_errors_free(&errs);
	return 0;
}
