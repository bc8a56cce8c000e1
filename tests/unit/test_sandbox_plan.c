/*
 * test_sandbox_plan.c - the guest init's setup plan, read without mounting
 * anything (sandbox_plan()).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "guest/sandbox.h"

#define BASE "/run/capture/sandbox/t"

static struct sandbox_op ops[64];

static int find(int n, enum sandbox_op_type type, const char *dest)
{
	for (int i = 0; i < n; i++)
		if (ops[i].type == type && strcmp(ops[i].dest, dest) == 0)
			return i;
	return -1;
}

static void test_plan_order_and_mounts(void **state)
{
	struct sandbox_config c = {0};
	int n, ov, proc, sys, dev;

	(void)state;
	n = sandbox_plan(&c, BASE, ops, 64);
	assert_true(n > 10);
	/* nothing may propagate to the host: private first */
	assert_int_equal(ops[0].type, SBX_OP_PRIVATE);
	ov = find(n, SBX_OP_OVERLAY, BASE "/merged");
	assert_int_equal(ov, 1);
	assert_string_equal(ops[ov].data,
			    "lowerdir=/,upperdir=" BASE "/upper,workdir=" BASE "/work");
	proc = find(n, SBX_OP_MOUNT, BASE "/merged/proc");
	sys = find(n, SBX_OP_MOUNT, BASE "/merged/sys");
	dev = find(n, SBX_OP_MOUNT, BASE "/merged/dev");
	assert_true(proc > ov && sys > ov && dev > ov);
	assert_string_equal(ops[proc].fstype, "proc");
	assert_true(ops[sys].mountflags & MS_RDONLY);
	assert_true(ops[proc].mountflags & MS_NOSUID);
}

static void test_plan_minimal_dev(void **state)
{
	static const char *const nodes[] = {"null", "zero", "full", "random", "urandom", "tty"};
	struct sandbox_config c = {0};
	char dest[256];
	int n, i;

	(void)state;
	n = sandbox_plan(&c, BASE, ops, 64);
	for (size_t k = 0; k < sizeof(nodes) / sizeof(nodes[0]); k++) {
		snprintf(dest, sizeof(dest), BASE "/merged/dev/%s", nodes[k]);
		i = find(n, SBX_OP_BIND, dest);
		assert_true(i >= 0);
		assert_string_equal(ops[i].src + 5, nodes[k]); /* "/dev/" + node */
		assert_true(find(n, SBX_OP_MKNOD_FILE, dest) >= 0 &&
			    find(n, SBX_OP_MKNOD_FILE, dest) < i); /* target first */
	}
	i = find(n, SBX_OP_MOUNT, BASE "/merged/dev/pts");
	assert_true(i >= 0);
	assert_non_null(strstr(ops[i].data, "newinstance"));
	assert_true(find(n, SBX_OP_SYMLINK, BASE "/merged/dev/ptmx") >= 0);
	assert_true(find(n, SBX_OP_MOUNT, BASE "/merged/dev/shm") >= 0);
	/* no other device of the host is reachable */
	assert_int_equal(find(n, SBX_OP_BIND, BASE "/merged/dev/sda"), -1);
}

static void test_plan_etc_read_only_and_home_owned(void **state)
{
	struct sandbox_config c = {.user = "visitor"};
	int n, i;

	(void)state;
	n = sandbox_plan(&c, BASE, ops, 64);
	i = find(n, SBX_OP_BIND, BASE "/merged/etc/resolv.conf");
	assert_true(i >= 0);
	assert_string_equal(ops[i].src, BASE "/etc/resolv.conf");
	assert_true(ops[i].flags & SBX_F_RDONLY);
	assert_true(find(n, SBX_OP_BIND, BASE "/merged/etc/passwd") >= 0);
	i = find(n, SBX_OP_MKDIR, BASE "/merged/home/visitor");
	assert_true(i >= 0);
	assert_true(ops[i].flags & SBX_F_OWNED);
	assert_int_equal(ops[i].mode, 0700);
}

static void test_plan_prepared_root_gets_missing_targets(void **state)
{
	char root[] = "/tmp/capture-plan.XXXXXX", etc[64], merged[256];
	struct sandbox_config c = {0};
	int n;

	(void)state;
	assert_non_null(mkdtemp(root));
	snprintf(etc, sizeof(etc), "%s/etc", root);
	assert_int_equal(mkdir(etc, 0755), 0);
	c.root = root;
	n = sandbox_plan(&c, BASE, ops, 64);
	snprintf(merged, sizeof(merged), BASE "/merged/etc/hosts");
	/* an image without /etc/hosts gets an empty bind target first */
	assert_true(find(n, SBX_OP_MKNOD_FILE, merged) >= 0);
	assert_non_null(strstr(ops[1].data, root));
	rmdir(etc);
	rmdir(root);
}

static void test_plan_too_small(void **state)
{
	struct sandbox_config c = {0};

	(void)state;
	assert_int_equal(sandbox_plan(&c, BASE, ops, 3), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_plan_order_and_mounts),
	    cmocka_unit_test(test_plan_minimal_dev),
	    cmocka_unit_test(test_plan_etc_read_only_and_home_owned),
	    cmocka_unit_test(test_plan_prepared_root_gets_missing_targets),
	    cmocka_unit_test(test_plan_too_small),
	};

	return cmocka_run_group_tests_name("sandbox_plan", tests, NULL, NULL);
}
