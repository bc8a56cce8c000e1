/*
 * test_collector.c - collector_scan and collector_write_archive on a real
 * overlay: a lower directory, a tmpfs holding upper/ and work/, changes made
 * through the merged view, then the upper layer read back.  Needs root
 * (mount, trusted.* xattrs); skipped otherwise.  Every mount is undone in
 * the group teardown, also when a test fails.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/util.h"
#include "guest/collector.h"

#define WEIRD   "/we\"ird\nname"
#define BADUTF8 "/bad\xff name"
#define BIG_LEN (1024 * 1024)

static char base[64];
static char lower[128], tmpfs[128], upper[128], work[128], merged[128], small[128];
static int mounted_tmpfs, mounted_ovl, mounted_small;
static unsigned char *big;
static struct collection *coll;

/* ---- helpers ---- */

static void pathf(char *buf, size_t len, const char *dir, const char *rel)
{
	snprintf(buf, len, "%s%s", dir, rel);
}

static int put(const char *dir, const char *rel, const void *data, size_t len)
{
	char p[PATH_MAX];
	int fd;

	pathf(p, sizeof(p), dir, rel);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, data, len) != (ssize_t)len) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return close(fd);
}

static int puts_file(const char *dir, const char *rel, const char *text)
{
	return put(dir, rel, text, strlen(text));
}

static int mkdir_in(const char *dir, const char *rel)
{
	char p[PATH_MAX];

	pathf(p, sizeof(p), dir, rel);
	return mkdir(p, 0755);
}

static int open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)))
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

static int rm_tree_cb(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p) < 0 && errno != ENOENT ? -1 : 0;
}

static void sha256_hex(const void *data, size_t len, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned n = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	assert_non_null(ctx);
	assert_true(EVP_DigestInit_ex(ctx, EVP_sha256(), NULL));
	assert_true(EVP_DigestUpdate(ctx, data, len));
	assert_true(EVP_DigestFinal_ex(ctx, md, &n));
	EVP_MD_CTX_free(ctx);
	for (unsigned i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", md[i]);
}

static const struct collect_entry *find(const char *path)
{
	for (size_t i = 0; i < collection_count(coll); i++) {
		const struct collect_entry *e = collection_get(coll, i);

		if (strcmp(e->path, path) == 0)
			return e;
	}
	return NULL;
}

static const struct collect_entry *expect(const char *path, enum collect_kind kind)
{
	const struct collect_entry *e = find(path);

	if (!e)
		fail_msg("no entry for %s", path);
	if (e->kind != kind)
		fail_msg("%s: kind %s, expected %s", path, collect_kind_name(e->kind),
			 collect_kind_name(kind));
	return e;
}

static void expect_file(const char *path, enum collect_kind kind, const void *data, size_t len)
{
	const struct collect_entry *e = expect(path, kind);
	char sum[65];

	sha256_hex(data, len, sum);
	assert_string_equal(e->sha256, sum);
	assert_int_equal(e->size, len);
	assert_true(S_ISREG(e->mode));
}

/* ---- the overlay and what the guest does to it ---- */

static int fill_lower(void)
{
	const char *dirs[] = {"/etc", "/olddir", "/olddir/sub", "/replaced"};

	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++)
		if (mkdir_in(lower, dirs[i]) < 0)
			return -1;
	return puts_file(lower, "/etc/a", "hello\n") | puts_file(lower, "/etc/b", "keep me\n") |
	       puts_file(lower, "/etc/c", "mode change only\n") |
	       puts_file(lower, "/etc/same", "untouched\n") | puts_file(lower, "/olddir/x", "x\n") |
	       puts_file(lower, "/olddir/sub/y", "y\n") |
	       puts_file(lower, "/replaced/old1", "old one\n") |
	       puts_file(lower, "/replaced/old2", "old two\n");
}

static int mount_overlay(void)
{
	char opts[512];

	if (mount("tmpfs", tmpfs, "tmpfs", 0, "size=16m") < 0)
		return -1;
	mounted_tmpfs = 1;
	if (mkdir(upper, 0755) < 0 || mkdir(work, 0755) < 0)
		return -1;
	snprintf(opts, sizeof(opts), "lowerdir=%s,upperdir=%s,workdir=%s", lower, upper, work);
	if (mount("overlay", merged, "overlay", 0, opts) < 0)
		return -1;
	mounted_ovl = 1;
	return 0;
}

static int append(const char *rel, const char *text)
{
	char p[PATH_MAX];
	int fd, rc;

	pathf(p, sizeof(p), merged, rel);
	fd = open(p, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (fd < 0)
		return -1;
	rc = write(fd, text, strlen(text)) == (ssize_t)strlen(text) ? 0 : -1;
	return close(fd) | rc;
}

static int at_merged(int (*fn)(const char *), const char *rel)
{
	char p[PATH_MAX];

	pathf(p, sizeof(p), merged, rel);
	return fn(p);
}

static int touch_rw(const char *p)
{
	int fd = open(p, O_RDWR | O_CLOEXEC); /* copy-up, nothing changed */

	return fd < 0 ? -1 : close(fd);
}

static int chmod600(const char *p)
{
	return chmod(p, 0600);
}

static int symlink_a(const char *p)
{
	return symlink("etc/a", p);
}

static int guest_actions(void)
{
	int rc = 0;

	rc |= puts_file(merged, "/newfile", "brand new\n");
	rc |= append("/etc/a", "more\n");
	rc |= at_merged(chmod600, "/etc/c");
	rc |= at_merged(touch_rw, "/etc/same");
	rc |= at_merged(unlink, "/etc/b");
	rc |= at_merged(unlink, "/olddir/x") | at_merged(unlink, "/olddir/sub/y");
	rc |= at_merged(rmdir, "/olddir/sub") | at_merged(rmdir, "/olddir");
	rc |= mkdir_in(merged, "/newdir") | puts_file(merged, "/newdir/f", "in new dir\n");
	rc |= at_merged(symlink_a, "/link");
	rc |= puts_file(merged, WEIRD, "weird\n") | puts_file(merged, BADUTF8, "bad\n");
	rc |= put(merged, "/big", big, BIG_LEN);
	rc |= at_merged(unlink, "/replaced/old1") | at_merged(unlink, "/replaced/old2");
	rc |= at_merged(rmdir, "/replaced") | mkdir_in(merged, "/replaced");
	rc |= puts_file(merged, "/replaced/old1", "new one\n");
	return rc;
}

static int group_teardown(void **state)
{
	(void)state;
	collection_free(coll);
	coll = NULL;
	if (mounted_ovl)
		umount2(merged, MNT_DETACH);
	if (mounted_tmpfs)
		umount2(tmpfs, MNT_DETACH);
	if (mounted_small)
		umount2(small, MNT_DETACH);
	mounted_ovl = mounted_tmpfs = mounted_small = 0;
	if (base[0])
		nftw(base, rm_tree_cb, 16, FTW_DEPTH | FTW_PHYS);
	free(big);
	big = NULL;
	return 0;
}

static int group_setup(void **state)
{
	char err[512];

	if (geteuid() != 0)
		return 0; /* every test skips */
	snprintf(base, sizeof(base), "/tmp/capture-collector.XXXXXX");
	if (!mkdtemp(base))
		return -1;
	snprintf(lower, sizeof(lower), "%s/lower", base);
	snprintf(tmpfs, sizeof(tmpfs), "%s/t", base);
	snprintf(upper, sizeof(upper), "%s/upper", tmpfs);
	snprintf(work, sizeof(work), "%s/work", tmpfs);
	snprintf(merged, sizeof(merged), "%s/merged", base);
	snprintf(small, sizeof(small), "%s/small", base);
	big = malloc(BIG_LEN);
	if (!big || mkdir(lower, 0755) < 0 || mkdir(tmpfs, 0755) < 0 || mkdir(merged, 0755) < 0 ||
	    mkdir(small, 0755) < 0)
		goto fail;
	for (size_t i = 0, x = 88172645463325252ull; i < BIG_LEN;
	     i++) { /* xorshift: incompressible */
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		big[i] = (unsigned char)(x >> 24);
	}
	if (fill_lower() < 0 || mount_overlay() < 0 || guest_actions() < 0)
		goto fail;
	umount2(merged, 0);
	mounted_ovl = 0;
	if (collector_scan(upper, lower, &coll, err, sizeof(err)) < 0) {
		fprintf(stderr, "collector_scan: %s\n", err);
		goto fail;
	}
	return 0;
fail:
	fprintf(stderr, "setup: %s\n", strerror(errno));
	group_teardown(state);
	return -1;
}

#define NEED_ROOT()                                                                                \
	do {                                                                                       \
		if (geteuid() != 0)                                                                \
			skip();                                                                    \
	} while (0)

/* ---- scan ---- */

static void test_scan_kinds(void **state)
{
	const struct collect_entry *e;

	(void)state;
	NEED_ROOT();
	expect_file("/newfile", COLLECT_CREATED, "brand new\n", 10);
	expect_file("/etc/a", COLLECT_MODIFIED, "hello\nmore\n", 11);
	e = find("/etc/c");
	expect_file("/etc/c", COLLECT_ATTRIBUTES, "mode change only\n", 17);
	assert_int_equal(e->mode & 07777, 0600);
	assert_null(find("/etc/same")); /* copied up without change */
	assert_null(find("/etc"));      /* copied-up parent, same attributes */
	e = expect("/etc/b", COLLECT_DELETED);
	assert_string_equal(e->sha256, "");
	assert_true(S_ISREG(e->mode)); /* what was deleted: the lower file */
	e = expect("/olddir", COLLECT_DELETED);
	assert_true(S_ISDIR(e->mode));
	assert_null(find("/olddir/x"));
	expect("/newdir", COLLECT_DIR_CREATED);
	expect_file("/newdir/f", COLLECT_CREATED, "in new dir\n", 11);
	e = expect("/link", COLLECT_SYMLINK);
	assert_string_equal(e->link_target, "etc/a");
	expect_file(WEIRD, COLLECT_CREATED, "weird\n", 6);
	expect_file(BADUTF8, COLLECT_CREATED, "bad\n", 4);
	expect_file("/big", COLLECT_CREATED, big, BIG_LEN);
}

static void test_scan_opaque_dir(void **state)
{
	(void)state;
	NEED_ROOT();
	expect("/replaced", COLLECT_DIR_REPLACED);
	expect_file("/replaced/old1", COLLECT_MODIFIED, "new one\n", 8);
	expect("/replaced/old2", COLLECT_DELETED); /* hidden by the opaque directory */
}

static void test_scan_sorted_and_complete(void **state)
{
	(void)state;
	NEED_ROOT();
	assert_int_equal(collection_count(coll), 14);
	for (size_t i = 1; i < collection_count(coll); i++)
		assert_true(
		    strcmp(collection_get(coll, i - 1)->path, collection_get(coll, i)->path) < 0);
	assert_null(collection_get(coll, collection_count(coll)));
	assert_string_equal(collect_kind_name(COLLECT_DIR_REPLACED), "dir_replaced");
}

/* A hostile guest nests directories without end: an error, not a crash or an fd leak. */
static void test_scan_too_deep(void **state)
{
	struct collection *c = NULL;
	char dir[PATH_MAX], err[512] = "";
	int fds = open_fds();
	size_t len;

	(void)state;
	NEED_ROOT();
	len = (size_t)snprintf(dir, sizeof(dir), "%s/deep", base);
	assert_int_equal(mkdir(dir, 0755), 0);
	for (int i = 0; i < 300; i++) {
		len += (size_t)snprintf(dir + len, sizeof(dir) - len, "/d");
		assert_int_equal(mkdir(dir, 0755), 0);
	}
	snprintf(dir, sizeof(dir), "%s/deep", base);
	assert_int_equal(collector_scan(dir, lower, &c, err, sizeof(err)), -1);
	assert_null(c);
	assert_non_null(strstr(err, "nested directories"));
	assert_int_equal(open_fds(), fds);
}

static void test_scan_missing_upper(void **state)
{
	struct collection *c = (struct collection *)1;
	char err[512] = "";

	(void)state;
	assert_int_equal(collector_scan("/nonexistent/capture-upper", "/", &c, err, sizeof(err)),
			 -1);
	assert_null(c);
	assert_non_null(strstr(err, "/nonexistent/capture-upper"));
	assert_non_null(strstr(err, "No such file or directory"));
}

/* ---- archive ---- */

struct member {
	char *name;
	char *data;
	size_t len;
};

struct members {
	struct member v[64];
	size_t n;
};

static void read_zip(const char *path, struct members *m)
{
	struct archive *a = archive_read_new();
	struct archive_entry *ae;

	assert_non_null(a);
	archive_read_support_format_zip(a);
	if (archive_read_open_filename(a, path, 65536) != ARCHIVE_OK)
		fail_msg("%s: %s", path, archive_error_string(a));
	while (archive_read_next_header(a, &ae) == ARCHIVE_OK) {
		struct member *mb = &m->v[m->n++];
		size_t cap = (size_t)archive_entry_size(ae) + 1;
		la_ssize_t n;

		assert_true(m->n < ARRAY_SIZE(m->v));
		mb->name = strdup(archive_entry_pathname(ae));
		mb->data = malloc(cap);
		assert_non_null(mb->data);
		while ((n = archive_read_data(a, mb->data + mb->len, cap - mb->len)) > 0)
			mb->len += (size_t)n;
		assert_true(n == 0);
	}
	archive_read_free(a);
}

static void members_free(struct members *m)
{
	for (size_t i = 0; i < m->n; i++) {
		free(m->v[i].name);
		free(m->v[i].data);
	}
}

static const struct member *member(const struct members *m, const char *name)
{
	for (size_t i = 0; i < m->n; i++)
		if (strcmp(m->v[i].name, name) == 0)
			return &m->v[i];
	return NULL;
}

static void expect_member(const struct members *m, const char *name, const void *data, size_t len)
{
	const struct member *mb = member(m, name);

	if (!mb)
		fail_msg("archive has no member %s", name);
	assert_int_equal(mb->len, len);
	assert_memory_equal(mb->data, data, len);
}

static json_t *manifest_entry(json_t *entries, const char *path)
{
	size_t i;
	json_t *o;

	json_array_foreach(entries, i, o)
	{
		if (strcmp(json_string_value(json_object_get(o, "path")), path) == 0)
			return o;
	}
	return NULL;
}

static void check_manifest(const struct member *mb)
{
	json_error_t jerr;
	json_t *root = json_loadb(mb->data, mb->len, 0, &jerr);
	json_t *counts = json_object_get(root, "counts"),
	       *entries = json_object_get(root, "entries");
	json_t *e;

	if (!root)
		fail_msg("manifest.json: %s", jerr.text);
	assert_int_equal(json_array_size(entries), 14);
	assert_int_equal(json_integer_value(json_object_get(counts, "created")), 5);
	assert_int_equal(json_integer_value(json_object_get(counts, "modified")), 2);
	assert_int_equal(json_integer_value(json_object_get(counts, "attributes")), 1);
	assert_int_equal(json_integer_value(json_object_get(counts, "deleted")), 3);
	assert_int_equal(json_integer_value(json_object_get(counts, "dir_created")), 1);
	assert_int_equal(json_integer_value(json_object_get(counts, "dir_replaced")), 1);
	assert_int_equal(json_integer_value(json_object_get(counts, "symlink")), 1);
	assert_int_equal(json_integer_value(json_object_get(counts, "total")), 14);
	e = manifest_entry(entries, "/etc/c");
	assert_non_null(e);
	assert_string_equal(json_string_value(json_object_get(e, "mode")), "0600");
	assert_string_equal(json_string_value(json_object_get(e, "kind")), "attributes");
	assert_int_equal(json_string_length(json_object_get(e, "sha256")), 64);
	e = manifest_entry(entries, "/link");
	assert_string_equal(json_string_value(json_object_get(e, "link_target")), "etc/a");
	/* names that are not valid UTF-8 (or hold control bytes) are escaped, not lost */
	assert_non_null(manifest_entry(entries, "/bad\\xff name"));
	assert_non_null(manifest_entry(entries, "/we\"ird\\x0aname"));
	json_decref(root);
}

static void test_archive(void **state)
{
	char zip[256], pcap[256], err[512] = "";
	struct members m = {0};
	int fds = open_fds();

	(void)state;
	NEED_ROOT();
	snprintf(zip, sizeof(zip), "%s/visit.zip", base);
	snprintf(pcap, sizeof(pcap), "%s/visit.pcap", base);
	assert_int_equal(puts_file(pcap, "", "pcap bytes"), 0);
	if (collector_write_archive(coll, upper, lower, pcap, zip, err, sizeof(err)) < 0)
		fail_msg("collector_write_archive: %s", err);
	assert_int_equal(open_fds(), fds);
	read_zip(zip, &m);
	expect_member(&m, "modified_files/newfile", "brand new\n", 10);
	expect_member(&m, "modified_files/etc/a", "hello\nmore\n", 11);
	expect_member(&m, "modified_files/etc/c", "mode change only\n", 17);
	expect_member(&m, "modified_files/newdir/f", "in new dir\n", 11);
	expect_member(&m, "modified_files/we\"ird\nname", "weird\n", 6);
	expect_member(&m, "modified_files/bad\xff name", "bad\n", 4);
	expect_member(&m, "modified_files/big", big, BIG_LEN);
	expect_member(&m, "modified_files/replaced/old1", "new one\n", 8);
	expect_member(&m, "deleted_files/etc/b", "keep me\n", 8);
	expect_member(&m, "deleted_files/replaced/old2", "old two\n", 8);
	expect_member(&m, "visit.pcap", "pcap bytes", 10);
	assert_non_null(member(&m, "manifest.json"));
	check_manifest(member(&m, "manifest.json"));
	assert_int_equal(m.n, 12); /* nothing else: no symlink, no deleted directory */
	members_free(&m);
}

static void test_archive_unwritable(void **state)
{
	const char *zip = "/nonexistent/capture-dir/visit.zip";
	char err[512] = "";

	(void)state;
	NEED_ROOT();
	assert_int_equal(collector_write_archive(coll, upper, lower, NULL, zip, err, sizeof(err)),
			 -1);
	assert_non_null(strstr(err, zip));
	assert_int_equal(access(zip, F_OK), -1);
}

/* Runs out of space half-way: -1, no partial archive, an older archive kept. */
static void test_archive_no_space(void **state)
{
	char zip[256], err[512] = "", *old;
	struct dirent *de;
	DIR *d;
	int files = 0;

	(void)state;
	NEED_ROOT();
	assert_int_equal(mount("tmpfs", small, "tmpfs", 0, "size=256k"), 0);
	mounted_small = 1;
	snprintf(zip, sizeof(zip), "%s/visit.zip", small);
	assert_int_equal(puts_file(zip, "", "older"), 0);
	assert_int_equal(collector_write_archive(coll, upper, lower, NULL, zip, err, sizeof(err)),
			 -1);
	assert_non_null(strstr(err, small));
	old = NULL;
	d = opendir(small);
	assert_non_null(d);
	while ((de = readdir(d)))
		files += de->d_name[0] != '.';
	closedir(d);
	assert_int_equal(files, 1); /* the temporary file is gone */
	{
		FILE *f = fopen(zip, "r");
		size_t len = 0;

		assert_non_null(f);
		assert_true(getline(&old, &len, f) > 0);
		fclose(f);
	}
	assert_string_equal(old, "older");
	free(old);
	umount2(small, MNT_DETACH);
	mounted_small = 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_scan_kinds),
	    cmocka_unit_test(test_scan_opaque_dir),
	    cmocka_unit_test(test_scan_sorted_and_complete),
	    cmocka_unit_test(test_scan_too_deep),
	    cmocka_unit_test(test_scan_missing_upper),
	    cmocka_unit_test(test_archive),
	    cmocka_unit_test(test_archive_unwritable),
	    cmocka_unit_test(test_archive_no_space),
	};

	return cmocka_run_group_tests_name("collector", tests, group_setup, group_teardown);
}
