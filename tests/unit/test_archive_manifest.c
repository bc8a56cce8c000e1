/*
 * test_archive_manifest.c - reading the file list of a client's upload.
 */
#include <archive.h>
#include <archive_entry.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "server/archive_manifest.h"

static char zip[64];

static void write_zip(const char *manifest)
{
	struct archive *a = archive_write_new();
	struct archive_entry *e = archive_entry_new();
	const char *body = "payload";

	strcpy(zip, "/tmp/capture-am-XXXXXX");
	close(mkstemp(zip));
	archive_write_set_format_zip(a);
	assert_int_equal(archive_write_open_filename(a, zip), ARCHIVE_OK);
	archive_entry_set_pathname(e, "modified_files/home/capture/x");
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_size(e, (la_int64_t)strlen(body));
	archive_write_header(a, e);
	archive_write_data(a, body, strlen(body));
	if (manifest) {
		archive_entry_clear(e);
		archive_entry_set_pathname(e, "manifest.json");
		archive_entry_set_filetype(e, AE_IFREG);
		archive_entry_set_perm(e, 0644);
		archive_entry_set_size(e, (la_int64_t)strlen(manifest));
		archive_write_header(a, e);
		archive_write_data(a, manifest, strlen(manifest));
	}
	archive_entry_free(e);
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
}

static void test_reads_entries(void **state)
{
	struct output_file *f;
	size_t n;
	char err[256];

	(void)state;
	write_zip(
	    "{\"entries\":[{\"kind\":\"created\",\"path\":\"/home/capture/x\",\"size\":7,"
	    "\"sha256\":\"239f59ed55e737c77147cf55ad0c1b030b6d7ee748a7426952f9b852d5a935e5\"},"
	    "{\"kind\":\"deleted\",\"path\":\"/etc/y\",\"size\":0,\"sha256\":null}],"
	    "\"counts\":{\"total\":2}}");
	assert_int_equal(archive_manifest_read(zip, &f, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 2);
	assert_string_equal(f[0].path, "created /home/capture/x");
	assert_int_equal(f[0].size, 7);
	assert_string_equal(f[0].sha256,
			    "239f59ed55e737c77147cf55ad0c1b030b6d7ee748a7426952f9b852d5a935e5");
	assert_string_equal(f[1].path, "deleted /etc/y");
	assert_null(f[1].sha256);
	archive_manifest_free(f, n);
	unlink(zip);
}

static void test_no_manifest_is_empty(void **state)
{
	struct output_file *f;
	size_t n = 9;
	char err[256];

	(void)state;
	write_zip(NULL);
	assert_int_equal(archive_manifest_read(zip, &f, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 0);
	archive_manifest_free(f, n);
	unlink(zip);
}

static void test_bad_inputs(void **state)
{
	struct output_file *f;
	size_t n;
	char err[256];
	FILE *o;

	(void)state;
	write_zip("{\"entries\": [ oops");
	assert_int_equal(archive_manifest_read(zip, &f, &n, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "manifest.json:1:"));
	unlink(zip);
	strcpy(zip, "/tmp/capture-am-XXXXXX");
	close(mkstemp(zip));
	o = fopen(zip, "w");
	fputs("not a zip at all", o);
	fclose(o);
	assert_int_equal(archive_manifest_read(zip, &f, &n, err, sizeof(err)), -1);
	assert_non_null(strstr(err, zip));
	unlink(zip);
	assert_int_equal(archive_manifest_read("/nonexistent/x.zip", &f, &n, err, sizeof(err)), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_reads_entries),
	    cmocka_unit_test(test_no_manifest_is_empty),
	    cmocka_unit_test(test_bad_inputs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
