/*
 * test_config.c - config.xml: the shipped default, every original option,
 * original files, our elements, and the exact "file:line:col:" messages for
 * unknown names, bad values and malformed XML, several in one pass.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/config.h"

#ifndef CAPTURE_DATADIR
#define CAPTURE_DATADIR "."
#endif

#define EXL CAPTURE_DATADIR "/etc/exclusion/file.exl"

struct ctx {
	struct capture_config cfg;
	struct config_errors errs;
};

static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));

	if (!c)
		return -1;
	config_errors_init(&c->errs);
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;

	config_free(&c->cfg);
	config_errors_free(&c->errs);
	free(c);
	return 0;
}

/* Loads XML as "t.xml" into C (freeing what an earlier load left). */
static int load(struct ctx *c, const char *xml)
{
	config_free(&c->cfg);
	config_errors_free(&c->errs);
	config_errors_init(&c->errs);
	return config_load_buffer("t.xml", xml, strlen(xml), &c->cfg, &c->errs);
}

static void dump(const struct ctx *c)
{
	config_print_errors(&c->errs, stderr);
}

/* Message I must be exactly WANT. */
static void expect_msg(const struct ctx *c, size_t i, const char *want)
{
	if (i >= c->errs.count || strcmp(c->errs.msgs[i], want) != 0) {
		dump(c);
		fail_msg("message %zu is '%s', expected '%s'", i,
			 i < c->errs.count ? c->errs.msgs[i] : "(none)", want);
	}
}

/* Message I must start with PREFIX (and contain WORDS if given). */
static void expect_prefix(const struct ctx *c, size_t i, const char *prefix, const char *words)
{
	const char *m = i < c->errs.count ? c->errs.msgs[i] : "";

	if (strncmp(m, prefix, strlen(prefix)) != 0 || (words && !strstr(m, words))) {
		dump(c);
		fail_msg("message %zu is '%s', expected '%s'...'%s'", i, m, prefix,
			 words ? words : "");
	}
}

/* A valid document: BODY inside <config>, after one sandbox guest. */
static int load_body(struct ctx *c, const char *body)
{
	char xml[8192];

	snprintf(xml, sizeof(xml), "<config>\n%s\n</config>\n", body);
	return load(c, xml);
}

/* ---- the shipped default and defaults ---- */

static void test_shipped_config_loads(void **state)
{
	struct ctx *c = *state;
	const struct capture_config *cfg = &c->cfg;

	if (config_load(CAPTURE_DATADIR "/etc/config.xml", &c->cfg, &c->errs) != 0)
		dump(c);
	assert_int_equal(c->errs.nerrors, 0);
	assert_int_equal(c->errs.nwarnings, 0);
	assert_string_equal(cfg->client_default, "chromium");
	assert_int_equal(cfg->client_default_visit_time, 20);
	assert_int_equal(cfg->group_size, 20);
	assert_true(cfg->terminate);
	assert_int_equal(cfg->db_type, CONFIG_DB_SQLITE);
	assert_string_equal(cfg->db_url, "capture.db");
	/* the four top-level lists, then one per origin (etc/exclusion/<origin>/) */
	assert_true(cfg->nexclusion_lists >= 4);
	for (size_t i = 0; i < cfg->nexclusion_lists; i++)
		assert_int_equal(access(cfg->exclusion_lists[i].file, R_OK), 0);
	assert_int_equal(cfg->exclusion_lists[0].monitor, CONFIG_MON_FILE);
	assert_string_equal(cfg->exclusion_lists[0].file,
			    CAPTURE_DATADIR "/etc/exclusion/file.exl");
	assert_int_equal(cfg->exclusion_lists[3].monitor, CONFIG_MON_SYSTEM);
	assert_string_equal(cfg->listen_address, "127.0.0.1");
	assert_int_equal(cfg->listen_port, 7070);
	assert_null(cfg->auth_key_file);
	assert_string_equal(cfg->log_directory, "log");
	assert_int_equal(cfg->sandbox_count, 2);
	assert_int_equal(cfg->sandbox_network, CONFIG_NET_NAT);
	assert_string_equal(cfg->sandbox_root, "/");
	assert_int_equal(cfg->sandbox_tmpfs_bytes, 512ull << 20);
	assert_int_equal(cfg->sandbox_memory_bytes, 2ull << 30);
	assert_int_equal(cfg->sandbox_pids_max, 1024);
	assert_int_equal(cfg->napplications, 3);
	assert_string_equal(cfg->applications[0].name, "chromium");
	assert_int_equal(cfg->nvm_servers, 0);
	for (int i = 0; i < CONFIG_RETRY_COUNT; i++)
		assert_int_equal(cfg->retries[i], 1);
}

static void test_check_mode_prints_ok(void **state)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	(void)state;
	assert_non_null(f);
	assert_int_equal(config_check(CAPTURE_DATADIR "/etc/config.xml", f), 0);
	fclose(f);
	assert_string_equal(out, "configuration OK\n");
	free(out);
}

static void test_empty_config_gets_defaults(void **state)
{
	struct ctx *c = *state;

	assert_int_equal(load(c, "<config/>"), 0);
	assert_int_equal(c->errs.count, 0);
	assert_string_equal(c->cfg.client_default, "chromium");
	assert_int_equal(c->cfg.sandbox_count, 2);
	assert_int_equal(c->cfg.vm_stalled_during_operation_timeout, 300);
	assert_string_equal(c->cfg.path, "t.xml");
}

/* ---- <global> ---- */

static void test_every_global_option(void **state)
{
	struct ctx *c = *state;
	const struct capture_config *g = &c->cfg;

	assert_int_equal(load_body(c, "<global collect-modified-files=\"true\"\n"
				      " client-default=\"firefox\"\n"
				      " client-default-visit-time=\"33\"\n"
				      " capture-network-packets-malicious=\"true\"\n"
				      " capture-network-packets-benign=\"1\"\n"
				      " send-exclusion-lists=\"yes\"\n"
				      " terminate=\"false\"\n"
				      " group_size=\"54\"\n"
				      " client_inactivity_timeout=\"61\"\n"
				      " revert_timeout=\"121\"\n"
				      " vm_stalled_after_revert_timeout=\"122\"\n"
				      " vm_stalled_during_operation_timeout=\"301\"\n"
				      " same_vm_revert_delay=\"7\"\n"
				      " different_vm_revert_delay=\"25\"/>"),
			 0);
	assert_true(g->collect_modified_files);
	assert_string_equal(g->client_default, "firefox");
	assert_int_equal(g->client_default_visit_time, 33);
	assert_true(g->capture_network_packets_malicious);
	assert_true(g->capture_network_packets_benign);
	assert_true(g->send_exclusion_lists);
	assert_false(g->terminate);
	assert_int_equal(g->group_size, 54);
	assert_int_equal(g->client_inactivity_timeout, 61);
	assert_int_equal(g->revert_timeout, 121);
	assert_int_equal(g->vm_stalled_after_revert_timeout, 122);
	assert_int_equal(g->vm_stalled_during_operation_timeout, 301);
	assert_int_equal(g->same_vm_revert_delay, 7);
	assert_int_equal(g->different_vm_revert_delay, 25);
}

/* The 2.5 file as the original shipped it (VMware replaced by the mock server). */
static void test_original_file_loads(void **state)
{
	struct ctx *c = *state;

	assert_int_equal(
	    load(c, "<config xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" \n"
		    "\txsi:noNamespaceSchemaLocation=\"config.xsd\">\n"
		    "\t<!-- version 2.5 -->\n"
		    "\t<global collect-modified-files=\"false\" \n"
		    "\t\t\tclient-default=\"iexplorebulk\"\n"
		    "\t\t\tclient-default-visit-time=\"20\"\n"
		    "\t\t\tcapture-network-packets-malicious=\"false\"\n"
		    "\t\t\tcapture-network-packets-benign=\"false\"\n"
		    "\t\t\tsend-exclusion-lists=\"false\"\n"
		    "        \tgroup_size=\"20\"\n"
		    "\t\t\tvm_stalled_after_revert_timeout=\"120\"\n"
		    "            revert_timeout=\"120\"\n"
		    "            client_inactivity_timeout=\"60\"\n"
		    "            vm_stalled_during_operation_timeout=\"300\"\n"
		    "            same_vm_revert_delay=\"6\"\n"
		    "            different_vm_revert_delay=\"24\"\n"
		    "    />\n"
		    "\t<exclusion-list monitor=\"file\" file=\"" EXL "\" />\n"
		    "\t<exclusion-list monitor=\"registry\" file=\"" EXL "\" />\n"
		    "\t<database database-type=\"PostgreSQL\"\n"
		    "\t\tdatabase-url=\"jdbc:postgresql://localhost/capturehpc\"\n"
		    "\t\tdatabase-username=\"capture\" database-password=\"capture\"/>\n"
		    "\t<virtual-machine-server type=\"mock-vm-server\" address=\"127.0.0.1\" "
		    "port=\"902\"\n"
		    "\t\tusername=\"User\" password=\"Password\">\n"
		    "\t\t<virtual-machine vm-path=\"dummyPath\"\n"
		    "\t\t\t\t\t\t client-path=\"dummyClientPath\"\n"
		    "\t\t\t\t\t\t username=\"User\"\n"
		    "\t\t\t\t\t\t password=\"\"/>\n"
		    "\t</virtual-machine-server>\n"
		    "</config>\n"),
	    0);
	assert_int_equal(c->errs.count, 0);
	assert_string_equal(c->cfg.client_default, "iexplorebulk");
	assert_int_equal(c->cfg.exclusion_lists[1].monitor, CONFIG_MON_REGISTRY);
	assert_int_equal(c->cfg.db_type, CONFIG_DB_POSTGRESQL);
	assert_string_equal(c->cfg.db_url, "jdbc:postgresql://localhost/capturehpc");
	assert_string_equal(c->cfg.db_username, "capture");
	assert_int_equal(c->cfg.nvm_servers, 1);
	assert_int_equal(c->cfg.vm_servers[0].type, CONFIG_VMS_MOCK);
	assert_int_equal(c->cfg.vm_servers[0].port, 902);
	assert_int_equal(c->cfg.vm_servers[0].nvms, 1);
	assert_string_equal(c->cfg.vm_servers[0].vms[0].client_path, "dummyClientPath");
	assert_string_equal(c->cfg.vm_servers[0].vms[0].password, ""); /* bug 676: fine here */
	assert_int_equal(c->cfg.vm_servers[0].vms[0].line, 25);
	/* a VM server and no <sandbox-guests>: no sandbox guests */
	assert_int_equal(c->cfg.sandbox_count, 0);
}

static void test_historic_options_warn(void **state)
{
	struct ctx *c = *state;

	assert_int_equal(load_body(c, "<global p_m=\"0.01\" timeout_factor=\"1.5\"/>"), 0);
	assert_int_equal(c->errs.nerrors, 0);
	assert_int_equal(c->errs.nwarnings, 2);
	expect_prefix(c, 0, "t.xml:2:1: warning: timeout_factor is obsolete", NULL);
	expect_msg(c, 1,
		   "t.xml:2:1: warning: p_m is obsolete (Capture-HPC 2.1-2.2); p_m=0.01 "
		   "gives group_size=27 as it did then");
	assert_int_equal(c->cfg.group_size, 27);

	assert_int_equal(load_body(c, "<global p_m=\"0.001\" group_size=\"3\"/>"), 0);
	assert_int_equal(c->cfg.group_size, 3);
	expect_msg(c, 0, "t.xml:2:1: warning: p_m is obsolete and ignored: group_size is set");

	assert_int_equal(load_body(c, "<global p_m=\"2\"/>"), -1);
	expect_msg(c, 0, "t.xml:2:1: p_m: expected a fraction between 0.0 and 1.0, found '2'");
}

static void test_visit_time_above_stall_timeout_warns(void **state)
{
	struct ctx *c = *state;

	assert_int_equal(load_body(c, "<global client-default-visit-time=\"400\"/>"), 0);
	expect_prefix(c, 0, "t.xml:2:1: warning: client-default-visit-time (400 s) is not shorter",
		      "vm_stalled_during_operation_timeout (300 s)");
}

/* ---- exact messages ---- */

static void test_unknown_attribute_message(void **state)
{
	struct ctx *c = *state;

	assert_int_equal(load(c, "<config>\n"
				 "  <global\n"
				 "    grup_size=\"20\"/>\n"
				 "</config>\n"),
			 -1);
	assert_int_equal(c->errs.count, 1);
	expect_msg(c, 0,
		   "t.xml:2:3: unknown attribute 'grup_size' in <global> (expected one of "
		   "collect-modified-files, client-default, client-default-visit-time, "
		   "capture-network-packets-malicious, capture-network-packets-benign, "
		   "send-exclusion-lists, terminate, group_size, client_inactivity_timeout, "
		   "revert_timeout, vm_stalled_after_revert_timeout, "
		   "vm_stalled_during_operation_timeout, same_vm_revert_delay, "
		   "different_vm_revert_delay, p_m, timeout_factor); did you mean 'group_size'?");
	/* "-" for "_": the original's mixed spelling is the usual slip */
	assert_int_equal(load_body(c, "<global group-size=\"20\"/>"), -1);
	expect_prefix(c, 0, "t.xml:2:1: unknown attribute 'group-size' in <global>",
		      "did you mean 'group_size'?");
	assert_int_equal(load(c, "<config version=\"2\"/>"), -1);
	expect_msg(c, 0,
		   "t.xml:1:1: unknown attribute 'version' in <config> (expected only xmlns "
		   "and xsi: attributes)");
}

static void test_unknown_element_message(void **state)
{
	struct ctx *c = *state;

	assert_int_equal(load_body(c, "  <globl/>"), -1);
	expect_msg(c, 0,
		   "t.xml:2:3: unknown element <globl> in <config> (expected one of global, "
		   "database, exclusion-list, virtual-machine-server, preprocessor, "
		   "postprocessor, server, sandbox-guests, application, applications, "
		   "retries); did you mean 'global'?");
	assert_int_equal(load_body(c, "<global><x><y/></x></global>"), -1);
	assert_int_equal(c->errs.count, 1); /* the subtree is skipped */
	expect_msg(c, 0,
		   "t.xml:2:9: unexpected element <x> in <global> (it has no child elements)");
	assert_int_equal(load_body(c, "<virtual-machine vm-path=\"a\"/>"), -1);
	expect_msg(c, 0,
		   "t.xml:2:1: unexpected element <virtual-machine> in <config> (it belongs "
		   "in <virtual-machine-server>)");
	assert_int_equal(load(c, "<capture/>"), -1);
	expect_msg(c, 0, "t.xml:1:1: expected the root element <config>, found <capture>");
}

static void test_bad_values_messages(void **state)
{
	struct ctx *c = *state;

	assert_int_equal(load_body(c, "<global group_size=\"x\"/>"), -1);
	expect_msg(c, 0,
		   "t.xml:2:1: group_size: expected an integer between 1 and 1000, found 'x'");
	assert_int_equal(load_body(c, "<global group_size=\"1001\"/>"), -1);
	expect_msg(c, 0,
		   "t.xml:2:1: group_size: expected an integer between 1 and 1000, found '1001'");
	assert_int_equal(load_body(c, "<global terminate=\"maybe\"/>"), -1);
	expect_msg(c, 0, "t.xml:2:1: terminate: expected true or false, found 'maybe'");
	assert_int_equal(load_body(c, "<global client-default=\"my browser\"/>"), -1);
	expect_prefix(c, 0, "t.xml:2:1: client-default: expected a client program name",
		      "found 'my browser'");
	assert_int_equal(load_body(c, "<database database-type=\"Oracle\"/>"), -1);
	expect_msg(c, 0,
		   "t.xml:2:1: database-type: expected one of sqlite, postgresql, mysql, "
		   "mariadb, found 'Oracle'");
	assert_int_equal(load_body(c, "<server listen-address=\"localhost\" listen-port=\"0\"/>"),
			 -1);
	expect_msg(
	    c, 0, "t.xml:2:1: listen-address: expected an IPv4 or IPv6 address, found 'localhost'");
	expect_msg(c, 1,
		   "t.xml:2:1: listen-port: expected an integer between 1 and 65535, found '0'");
	assert_int_equal(load_body(c, "<sandbox-guests tmpfs-size=\"1K\" memory=\"lots\"/>"), -1);
	expect_msg(c, 0,
		   "t.xml:2:1: tmpfs-size: expected a size in bytes between 64K and 1T "
		   "(suffix K, M or G allowed), found '1K'");
	expect_msg(c, 1,
		   "t.xml:2:1: memory: expected 0 (no limit) or a size in bytes between 64K "
		   "and 1T (suffix K, M or G allowed), found 'lots'");
	/* control bytes in a value are shown escaped, long values cut */
	assert_int_equal(load_body(c, "<global client-default=\"a&#9;b\"/>"), -1);
	expect_prefix(c, 0, "t.xml:2:1: client-default: expected", "found 'a\\x09b'");
}

static void test_malformed_xml_message(void **state)
{
	struct ctx *c = *state;

	assert_int_equal(load(c, "<config>\n  <global>\n</config>\n"), -1);
	expect_msg(c, 0, "t.xml:3:3: malformed XML: mismatched tag");
	assert_int_equal(load(c, "<config><global group_size=\"1\" group_size=\"2\"/></config>"),
			 -1);
	expect_msg(c, 0, "t.xml:1:32: malformed XML: duplicate attribute");
	assert_int_equal(load(c, ""), -1);
	expect_msg(c, 0, "t.xml:1:1: malformed XML: no element found");
	assert_int_equal(load(c, "<config>&bogus;</config>"), -1);
	expect_msg(c, 0, "t.xml:1:9: malformed XML: undefined entity");
}

static void test_doctype_refused(void **state)
{
	struct ctx *c = *state;

	assert_int_equal(load(c, "<?xml version=\"1.0\"?>\n"
				 "<!DOCTYPE config [<!ENTITY a \"aaaaaaaaaa\">]>\n"
				 "<config/>\n"),
			 -1);
	assert_int_equal(c->errs.count, 1);
	expect_msg(c, 0, "t.xml:2:18: DOCTYPE declarations are not allowed in a config file");
}

static void test_several_errors_in_one_pass(void **state)
{
	struct ctx *c = *state;

	assert_int_equal(load(c, "<config>\n"
				 "  <global group_size=\"0\" terminate=\"nope\"/>\n"
				 "  <global/>\n"
				 "  <exclusion-list monitor=\"disk\"/>\n"
				 "  <virtual-machine-server type=\"command\">\n"
				 "  </virtual-machine-server>\n"
				 "  <bogus/>\n"
				 "  <retries vm-stalled=\"11\"/>\n"
				 "</config>\n"),
			 -1);
	expect_msg(c, 0,
		   "t.xml:2:3: group_size: expected an integer between 1 and 1000, found '0'");
	expect_msg(c, 1, "t.xml:2:3: terminate: expected true or false, found 'nope'");
	expect_msg(c, 2, "t.xml:3:3: duplicate <global> (the first one is at line 2)");
	expect_msg(c, 3,
		   "t.xml:4:3: monitor: expected one of file, process, connection, system, "
		   "registry, found 'disk'");
	expect_msg(c, 4, "t.xml:4:3: <exclusion-list> is missing required attribute 'file'");
	expect_msg(c, 5,
		   "t.xml:5:3: <virtual-machine-server type=\"command\"> needs a revert-command");
	expect_msg(c, 6,
		   "t.xml:5:3: <virtual-machine-server> needs at least one <virtual-machine>");
	expect_prefix(c, 7, "t.xml:7:3: unknown element <bogus> in <config>", NULL);
	expect_msg(c, 8, "t.xml:8:3: vm-stalled: expected an integer between 0 and 10, found '11'");
	assert_int_equal(c->errs.count, 9);
	assert_int_equal(c->errs.nerrors, 9);
}

static void test_error_count_is_bounded(void **state)
{
	struct ctx *c = *state;
	size_t cap = 200 * 16 + 64, used;
	char *xml = malloc(cap), *out = NULL;
	FILE *f;

	assert_non_null(xml);
	used = (size_t)snprintf(xml, cap, "<config>");
	for (int i = 0; i < 150; i++)
		used += (size_t)snprintf(xml + used, cap - used, "<x%d/>", i);
	snprintf(xml + used, cap - used, "</config>");
	assert_int_equal(load(c, xml), -1);
	free(xml);
	assert_int_equal(c->errs.count, CONFIG_ERRORS_MAX);
	assert_int_equal(c->errs.nerrors, 150);
	assert_int_equal(c->errs.dropped, 50);
	f = open_memstream(&out, &used);
	assert_non_null(f);
	config_print_errors(&c->errs, f);
	fclose(f);
	assert_non_null(strstr(out, "\n... and 50 more problems not shown\n"));
	free(out);
}

static void test_text_in_element(void **state)
{
	struct ctx *c = *state;

	assert_int_equal(load(c, "<config><global>hello</global></config>"), -1);
	expect_msg(c, 0,
		   "t.xml:1:17: unexpected text in <global> (only attributes and child "
		   "elements)");
	/* the plug-ins' configuration body is text, and plug-ins only warn */
	assert_int_equal(load_body(c, "<preprocessor classname=\"a.B\"><![CDATA[<x/>]]>"
				      "</preprocessor>"),
			 0);
	expect_msg(c, 0,
		   "t.xml:2:1: warning: <preprocessor>: Java plug-ins are not supported; "
		   "ignored");
}

/* ---- other elements ---- */

static void test_database_rules(void **state)
{
	struct ctx *c = *state;

	assert_int_equal(load_body(c, "<database database-type=\"MySQL\"/>"), -1);
	expect_msg(c, 0, "t.xml:2:1: <database> of type MySQL needs a database-url");
	assert_int_equal(load_body(c, "<database database-url=\"x.db\"/>"), -1);
	expect_msg(c, 0, "t.xml:2:1: <database> is missing required attribute 'database-type'");
	assert_int_equal(load_body(c, "<database database-type=\"sqlite\"/>"), 0);
	assert_string_equal(c->cfg.db_url, "capture.db");
	assert_int_equal(load_body(c, "<database database-type=\"MariaDB\" "
				      "database-url=\"mysql://h/capturehpc\"/>"),
			 0);
	assert_int_equal(c->cfg.db_type, CONFIG_DB_MYSQL);
}

static void test_vm_servers(void **state)
{
	struct ctx *c = *state;

	assert_int_equal(
	    load_body(c, "<virtual-machine-server type=\"libvirt\" uri=\"qemu+ssh://h/system\">\n"
			 "  <virtual-machine vm-path=\"g1\" snapshot=\"clean\"/>\n"
			 "  <virtual-machine vm-path=\"g2\"/>\n"
			 "</virtual-machine-server>\n"
			 "<virtual-machine-server type=\"command\" revert-command=\"vmrun x {vm}\">"
			 "<virtual-machine vm-path=\"/vm/a.vmx\"/></virtual-machine-server>"),
	    0);
	assert_int_equal(c->cfg.nvm_servers, 2);
	assert_int_equal(c->cfg.vm_servers[0].type, CONFIG_VMS_LIBVIRT);
	assert_string_equal(c->cfg.vm_servers[0].uri, "qemu+ssh://h/system");
	assert_int_equal(c->cfg.vm_servers[0].nvms, 2);
	assert_string_equal(c->cfg.vm_servers[0].vms[0].snapshot, "clean");
	assert_null(c->cfg.vm_servers[0].vms[1].snapshot);
	assert_string_equal(c->cfg.vm_servers[1].revert_command, "vmrun x {vm}");
	assert_int_equal(c->cfg.sandbox_count, 0);

	assert_int_equal(load_body(c, "<virtual-machine-server type=\"vmware-server\" "
				      "address=\"h\" port=\"902\"><virtual-machine vm-path=\"x\"/>"
				      "</virtual-machine-server>"),
			 -1);
	expect_prefix(c, 0,
		      "t.xml:2:1: type: 'vmware-server' (VMware Server 1.x through VIX) is "
		      "not supported",
		      NULL);
	assert_int_equal(load_body(c, "<virtual-machine-server type=\"mock-vm-server\" "
				      "uri=\"x\"><virtual-machine/></virtual-machine-server>"),
			 -1);
	expect_msg(c, 0, "t.xml:2:1: warning: uri is only used with type=\"libvirt\"; ignored");
	expect_msg(c, 1, "t.xml:2:55: <virtual-machine> is missing required attribute 'vm-path'");
}

static void test_sandbox_and_guests(void **state)
{
	struct ctx *c = *state;

	assert_int_equal(
	    load_body(c,
		      "<sandbox-guests count=\"4\" network=\"services\" "
		      "tmpfs-size=\"1G\" memory=\"0\" pids=\"0\" root=\"" CAPTURE_DATADIR "\"/>"),
	    0);
	assert_int_equal(c->cfg.sandbox_count, 4);
	assert_int_equal(c->cfg.sandbox_network, CONFIG_NET_SERVICES);
	assert_int_equal(c->cfg.sandbox_tmpfs_bytes, 1ull << 30);
	assert_int_equal(c->cfg.sandbox_memory_bytes, 0);
	assert_int_equal(c->cfg.sandbox_pids_max, 0);
	assert_string_equal(c->cfg.sandbox_root, CAPTURE_DATADIR);

	assert_int_equal(load_body(c, "<sandbox-guests count=\"0\"/>"), -1);
	expect_msg(c, 0,
		   "t.xml:1:1: no guests: <sandbox-guests count> is 0 and there is no "
		   "<virtual-machine-server>");
	assert_int_equal(load_body(c, "<sandbox-guests root=\"" EXL "\"/>"), -1);
	expect_msg(c, 0, "t.xml:2:1: root: cannot use '" EXL "': not a directory");
	assert_int_equal(load_body(c, "<sandbox-guests client-path=\"" EXL "\"/>"), -1);
	expect_msg(c, 0, "t.xml:2:1: client-path: cannot use '" EXL "': Permission denied");
}

static void test_applications(void **state)
{
	struct ctx *c = *state;

	assert_int_equal(load_body(c, "<application name=\"acrobatreader\" path=\"/a\" "
				      "download=\"yes\"/>\n<application name=\"oowriter\" "
				      "path=\"/o\"/>\n<applications file=\"" EXL "\"/>"),
			 0);
	assert_int_equal(c->cfg.napplications, 2);
	assert_true(c->cfg.applications[0].download);
	assert_false(c->cfg.applications[1].download);
	assert_string_equal(c->cfg.applications_file, EXL);
	assert_int_equal(load_body(c, "<application name=\"a\" path=\"/a\"/>\n"
				      "<application name=\"a\" path=\"/b\"/>\n<application/>"),
			 -1);
	expect_msg(c, 0, "t.xml:3:1: <application name=\"a\"> is already defined at line 2");
	expect_msg(c, 1, "t.xml:4:1: <application> is missing required attribute 'name'");
	expect_msg(c, 2, "t.xml:4:1: <application> is missing required attribute 'path'");
}

static void test_retries(void **state)
{
	struct ctx *c = *state;

	assert_int_equal(load_body(c, "<retries network-error=\"0\" vm-stalled=\"5\" "
				      "inconclusive=\"10\"/>"),
			 0);
	assert_int_equal(c->cfg.retries[CONFIG_RETRY_NETWORK_ERROR], 0);
	assert_int_equal(c->cfg.retries[CONFIG_RETRY_VM_STALLED], 5);
	assert_int_equal(c->cfg.retries[CONFIG_RETRY_INCONCLUSIVE], 10);
	assert_int_equal(c->cfg.retries[CONFIG_RETRY_SOCKET_ERROR], 1);
	assert_string_equal(config_retry_name(CONFIG_RETRY_CLIENT_INACTIVITY), "client-inactivity");
	assert_string_equal(config_retry_name(CONFIG_RETRY_INCONCLUSIVE), "inconclusive");
	assert_string_equal(config_retry_name(CONFIG_RETRY_COUNT), "?");
}

/* ---- paths ---- */

static void test_relative_paths_from_config_dir(void **state)
{
	struct ctx *c = *state;
	char dir[] = "/tmp/capture-config-XXXXXX", path[128], key[128], xml[512];
	FILE *f;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/my.exl", dir);
	snprintf(key, sizeof(key), "%s/key", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fclose(f);
	f = fopen(key, "w");
	assert_non_null(f);
	fputs("secret\n", f);
	fclose(f);
	assert_int_equal(chmod(key, 0644), 0);
	snprintf(xml, sizeof(xml), "%s/config.xml", dir);
	f = fopen(xml, "w");
	assert_non_null(f);
	fputs("<config><exclusion-list monitor=\"file\" file=\"my.exl\"/>"
	      "<server auth-key-file=\"key\" log-directory=\"out\"/></config>",
	      f);
	fclose(f);

	assert_int_equal(config_load(xml, &c->cfg, &c->errs), -1);
	assert_string_equal(c->cfg.exclusion_lists[0].file, path);
	assert_int_equal(c->errs.count, 1);
	assert_non_null(strstr(c->errs.msgs[0], ":1:55: auth-key-file: cannot use '"));
	assert_non_null(strstr(c->errs.msgs[0], "/key': readable by group or others (mode 0644); "
						"chmod 600 it"));
	assert_int_equal(chmod(key, 0600), 0);
	config_free(&c->cfg);
	config_errors_free(&c->errs);
	assert_int_equal(config_load(xml, &c->cfg, &c->errs), 0);
	assert_string_equal(c->cfg.auth_key_file, key);
	assert_string_equal(c->cfg.log_directory, "out"); /* outputs: as written */

	unlink(path);
	unlink(key);
	unlink(xml);
	rmdir(dir);
}

static void test_missing_file(void **state)
{
	struct ctx *c = *state;

	assert_int_equal(config_load("/nonexistent/config.xml", &c->cfg, &c->errs), -1);
	expect_msg(c, 0, "/nonexistent/config.xml: cannot open: No such file or directory");
	assert_int_equal(load_body(c, "<exclusion-list monitor=\"file\" file=\"nope.exl\"/>"), -1);
	expect_msg(c, 0, "t.xml:2:1: file: cannot use 'nope.exl': No such file or directory");
}

static void test_client_names(void **state)
{
	(void)state;
	assert_true(config_client_name_ok("iexplorebulk", 12));
	assert_true(config_client_name_ok("firefox-esr.2_x+y", 17));
	assert_false(config_client_name_ok("", 0));
	assert_false(config_client_name_ok("20", 2));
	assert_false(config_client_name_ok("0.5", 3));
	assert_false(config_client_name_ok("a b", 3));
	assert_false(config_client_name_ok("a/b", 3));
	assert_false(config_client_name_ok(
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 65));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_shipped_config_loads, setup, teardown),
	    cmocka_unit_test(test_check_mode_prints_ok),
	    cmocka_unit_test_setup_teardown(test_empty_config_gets_defaults, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_every_global_option, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_original_file_loads, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_historic_options_warn, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_visit_time_above_stall_timeout_warns, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_unknown_attribute_message, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unknown_element_message, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_values_messages, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_malformed_xml_message, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_doctype_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_several_errors_in_one_pass, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_error_count_is_bounded, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_text_in_element, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_database_rules, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_vm_servers, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sandbox_and_guests, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_applications, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_retries, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_relative_paths_from_config_dir, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_missing_file, setup, teardown),
	    cmocka_unit_test(test_client_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
