/*
 * test_client_setup.c - what the server gives its clients: key, pushed
 * exclusion rules, the local clients' command line and applications file.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "server/client_setup.h"

static char dir[64];

static void put(const char *name, const char *text, mode_t mode)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	chmod(path, mode);
}

static int load(const char *xml, struct capture_config *cfg)
{
	struct config_errors errs;
	char name[128];
	int rc;

	snprintf(name, sizeof(name), "%s/config.xml", dir);
	config_errors_init(&errs);
	rc = config_load_buffer(name, xml, strlen(xml), cfg, &errs);
	config_print_errors(&errs, stderr);
	config_errors_free(&errs);
	return rc;
}

static int setup(void **state)
{
	(void)state;
	strcpy(dir, "/tmp/capture-cs-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	put("file.exl", "+\tWrite\t.*\t/dev/null\n-\tWrite\t.*\t.*/autostart/.*\n", 0644);
	put("system.exl", "+\tcapset\t.*\t.*\n", 0644);
	put("bad.exl", "+\tWrite\t.*\t(unclosed\n", 0644);
	put("key", "secret-key", 0600);
	put("apps.conf", "viewer\t/usr/bin/viewer\tyes\n", 0644);
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static bool has_pair(const char *const *argv, const char *opt, const char *val)
{
	for (size_t i = 0; argv[i] && argv[i + 1]; i++)
		if (!strcmp(argv[i], opt) && (!val || !strcmp(argv[i + 1], val)))
			return true;
	return false;
}

static void test_key_rules_and_local_argv(void **state)
{
	struct capture_config cfg;
	struct client_setup cs = {0};
	char *text = NULL, apps[128];
	size_t len = 0;
	FILE *f;

	(void)state;
	assert_int_equal(load("<config><global send-exclusion-lists=\"true\"/>"
			      "<exclusion-list monitor=\"file\" file=\"file.exl\"/>"
			      "<exclusion-list monitor=\"system\" file=\"system.exl\"/>"
			      "<server listen-address=\"0.0.0.0\" auth-key-file=\"key\"/>"
			      "<sandbox-guests count=\"1\" network=\"services\" memory=\"0\"/>"
			      "<application name=\"chromium\" path=\"/opt/chromium\"/>"
			      "<applications file=\"apps.conf\"/></config>",
			      &cfg),
			 0);
	assert_int_equal(client_setup_init(&cs, &cfg), 0);
	assert_int_equal(cs.keylen, 10);
	assert_memory_equal(cs.key, "secret-key", 10);
	/* the two file rules; the system rule has no protocol message */
	assert_int_equal(cs.nexclusions, 2);
	assert_int_equal(cs.exclusions[0].type, PROTO_MSG_FILE_EXCLUSION);
	assert_true(cs.exclusions[0].u.exclusion.excluded);
	assert_string_equal(cs.exclusions[0].u.exclusion.object, "/dev/null");
	assert_false(cs.exclusions[1].u.exclusion.excluded);
	assert_int_equal(client_setup_local(&cs, &cfg, "/bin/capture-client", "0.0.0.0", 7123), 0);
	assert_string_equal(cs.argv[0], "/bin/capture-client");
	assert_true(has_pair(cs.argv, "-s", "127.0.0.1")); /* wildcard -> loopback */
	assert_true(has_pair(cs.argv, "-p", "7123"));
	assert_true(has_pair(cs.argv, "--server-port", "7123"));
	assert_true(has_pair(cs.argv, "-a", CLIENT_SETUP_VM_SERVER));
	assert_true(has_pair(cs.argv, "--network", "services"));
	assert_true(has_pair(cs.argv, "--key", NULL));
	assert_false(has_pair(cs.argv, "--memory", NULL)); /* memory="0": no limit */
	assert_true(has_pair(cs.argv, "--applications", cs.apps_path));
	f = fopen(cs.apps_path, "r");
	assert_non_null(f);
	assert_true(getdelim(&text, &len, '\0', f) > 0);
	fclose(f);
	assert_non_null(strstr(text, "chromium\t/opt/chromium\n"));
	assert_non_null(strstr(text, "viewer\t/usr/bin/viewer\tyes\n"));
	free(text);
	snprintf(apps, sizeof(apps), "%s", cs.apps_path);
	client_setup_free(&cs);
	assert_int_not_equal(access(apps, F_OK), 0); /* generated files removed */
	config_free(&cfg);
}

static void test_bad_list_refused(void **state)
{
	struct capture_config cfg;
	struct client_setup cs = {0};

	(void)state;
	assert_int_equal(load("<config><global send-exclusion-lists=\"true\"/>"
			      "<exclusion-list monitor=\"file\" file=\"bad.exl\"/>"
			      "<sandbox-guests count=\"1\"/></config>",
			      &cfg),
			 0);
	assert_int_equal(client_setup_init(&cs, &cfg), -1);
	client_setup_free(&cs);
	config_free(&cfg);
}

static void test_no_push_without_option(void **state)
{
	struct capture_config cfg;
	struct client_setup cs = {0};

	(void)state;
	assert_int_equal(load("<config><exclusion-list monitor=\"file\" file=\"bad.exl\"/>"
			      "<sandbox-guests count=\"1\"/></config>",
			      &cfg),
			 0);
	assert_int_equal(client_setup_init(&cs, &cfg), 0);
	assert_int_equal(cs.nexclusions, 0);
	assert_int_equal(cs.keylen, 0);
	client_setup_free(&cs);
	config_free(&cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_key_rules_and_local_argv),
	    cmocka_unit_test(test_bad_list_refused),
	    cmocka_unit_test(test_no_push_without_option),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
