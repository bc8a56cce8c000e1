/*
 * test_sensor_decode.c - the user-space check of raw ring buffer records
 * (sensor_decode) and sensor_op_name.
 *
 * Records are built in a byte buffer exactly as the kernel writes them
 * (struct sensor_event_hdr followed by the strings) and decoded from an
 * exact-size heap copy, so any read past the record is an ASan error.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "sensor/sensor.h"

#define HDR sizeof(struct sensor_event_hdr)

/* A record being built: header + up to SENSOR_DATA_MAX bytes of strings. */
struct rec {
	union {
		struct sensor_event_hdr hdr;
		unsigned char bytes[SENSOR_EVENT_HDR_SIZE + SENSOR_DATA_MAX + 64];
	} u;
	size_t size;
};

static void rec_init(struct rec *r, unsigned op)
{
	memset(r, 0, sizeof(*r));
	r->u.hdr.op = op;
	r->u.hdr.pid = 1234;
	r->u.hdr.tid = 1235;
	r->u.hdr.ppid = 1;
	memcpy(r->u.hdr.comm, "test", 5);
	r->size = HDR;
}

/* Appends LEN raw bytes as string I (strings must be added in index order). */
static void rec_add(struct rec *r, int i, const void *bytes, size_t len)
{
	assert_true(r->size + len <= sizeof(r->u.bytes));
	memcpy(r->u.bytes + r->size, bytes, len);
	r->u.hdr.len[i] = (uint16_t)len;
	r->size += len;
}

/* Appends C string S (with its NUL) as string I. */
static void rec_add_str(struct rec *r, int i, const char *s)
{
	rec_add(r, i, s, strlen(s) + 1);
}

/*
 * Decodes the first SIZE bytes of R from an exact-size heap copy.  On
 * success the string pointers are turned into offsets from the record start
 * (OFF[i], -1 if absent) so they can be checked after the copy is freed.
 */
static int decode(const struct rec *r, size_t size, struct sensor_record *out,
		  long off[SENSOR_NSTR])
{
	unsigned char *copy = malloc(size ? size : 1);
	int rc;

	assert_non_null(copy);
	memcpy(copy, r->u.bytes, size);
	memset(out, 0x5a, sizeof(*out));
	rc = sensor_decode(copy, size, out);
	if (rc == 0) {
		assert_ptr_equal(out->hdr, copy);
		for (int i = 0; i < SENSOR_NSTR; i++) {
			if (!out->str[i]) {
				off[i] = -1;
				continue;
			}
			off[i] = out->str[i] - (const char *)copy;
			assert_true(off[i] >= (long)HDR && (size_t)off[i] + out->len[i] < size);
			/* the NUL the decoder promised */
			assert_int_equal(out->str[i][out->len[i]], '\0');
		}
		out->hdr = NULL;
		memset(out->str, 0, sizeof(out->str));
	}
	free(copy);
	return rc;
}

static void expect_invalid(const struct rec *r, size_t size)
{
	struct sensor_record out;
	long off[SENSOR_NSTR];

	assert_int_equal(decode(r, size, &out, off), -EINVAL);
}

/* ---- valid records ---- */

static void test_valid_no_strings(void **state)
{
	struct rec r;
	struct sensor_record out;
	long off[SENSOR_NSTR];

	(void)state;
	rec_init(&r, SENSOR_OP_EXIT);
	r.u.hdr.arg0 = 3 << 8;
	assert_int_equal(r.size, SENSOR_EVENT_HDR_SIZE);
	assert_int_equal(decode(&r, r.size, &out, off), 0);
	for (int i = 0; i < SENSOR_NSTR; i++) {
		assert_int_equal(off[i], -1);
		assert_int_equal(out.len[i], 0);
	}
}

static void test_valid_one_to_four_strings(void **state)
{
	static const char *const s[SENSOR_NSTR] = {"/tmp", "a.txt", "/var", "longer-name"};

	(void)state;
	for (int n = 1; n <= SENSOR_NSTR; n++) {
		struct rec r;
		struct sensor_record out;
		long off[SENSOR_NSTR], want = HDR;

		rec_init(&r, SENSOR_OP_RENAME);
		for (int i = 0; i < n; i++)
			rec_add_str(&r, i, s[i]);
		if (decode(&r, r.size, &out, off) != 0)
			fail_msg("record with %d strings rejected", n);
		for (int i = 0; i < SENSOR_NSTR; i++) {
			if (i >= n) {
				assert_int_equal(off[i], -1);
				assert_int_equal(out.len[i], 0);
				continue;
			}
			assert_int_equal(off[i], want);
			assert_int_equal(out.len[i], strlen(s[i]));
			assert_memory_equal(r.u.bytes + off[i], s[i], strlen(s[i]) + 1);
			want += (long)strlen(s[i]) + 1;
		}
	}
}

static void test_valid_sparse_strings(void **state)
{
	struct rec r;
	struct sensor_record out;
	long off[SENSOR_NSTR];

	(void)state;
	rec_init(&r, SENSOR_OP_SYMLINK); /* s0 target, s2/s3 new dir/name */
	rec_add_str(&r, 0, "../target");
	rec_add_str(&r, 2, "/tmp");
	rec_add_str(&r, 3, "link");
	assert_int_equal(decode(&r, r.size, &out, off), 0);
	assert_int_equal(off[0], HDR);
	assert_int_equal(off[1], -1);
	assert_int_equal(off[2], HDR + 10);
	assert_int_equal(off[3], HDR + 15);
	assert_int_equal(out.len[0], 9);
	assert_int_equal(out.len[2], 4);
	assert_int_equal(out.len[3], 4);
}

static void test_valid_empty_string(void **state)
{
	struct rec r;
	struct sensor_record out;
	long off[SENSOR_NSTR];

	(void)state;
	/* len 1 = just the NUL: present but empty, unlike len 0 = absent */
	rec_init(&r, SENSOR_OP_WRITE);
	rec_add_str(&r, 0, "/tmp");
	rec_add_str(&r, 1, "");
	assert_int_equal(decode(&r, r.size, &out, off), 0);
	assert_int_equal(off[1], HDR + 5);
	assert_int_equal(out.len[1], 0);
}

static void test_exec_argv_blob_accepted(void **state)
{
	static const char argv[] = "sh\0-c\0echo hi\0--\0"; /* + the literal's own NUL */
	struct rec r;
	struct sensor_record out;
	long off[SENSOR_NSTR];

	(void)state;
	rec_init(&r, SENSOR_OP_EXEC);
	rec_add_str(&r, 0, "/usr/bin/sh");
	rec_add(&r, 1, argv, sizeof(argv) - 1); /* ends with the NUL of "--" */
	rec_add_str(&r, 2, "sh");
	assert_int_equal(decode(&r, r.size, &out, off), 0);
	assert_int_equal(out.len[0], 11);
	assert_int_equal(off[1], HDR + 12);
	/* len is the whole blob without its final NUL: the inner NULs are kept */
	assert_int_equal(out.len[1], sizeof(argv) - 2);
	assert_memory_equal(r.u.bytes + off[1], argv, sizeof(argv) - 1);
	assert_int_equal(off[2], HDR + 12 + sizeof(argv) - 1);
	assert_int_equal(out.len[2], 2);
}

static void test_every_valid_op_accepted(void **state)
{
	(void)state;
	for (unsigned op = 1; op < SENSOR_OP_MAX; op++) {
		struct rec r;
		struct sensor_record out;
		long off[SENSOR_NSTR];

		rec_init(&r, op);
		rec_add_str(&r, 0, "/x");
		if (decode(&r, r.size, &out, off) != 0)
			fail_msg("op %u rejected", op);
	}
}

static void test_max_string_length_accepted(void **state)
{
	struct rec r;
	struct sensor_record out;
	long off[SENSOR_NSTR];
	char *s = malloc(SENSOR_STR_MAX);

	(void)state;
	assert_non_null(s);
	memset(s, 'a', SENSOR_STR_MAX - 1);
	s[SENSOR_STR_MAX - 1] = '\0';
	rec_init(&r, SENSOR_OP_RENAME);
	for (int i = 0; i < SENSOR_NSTR; i++)
		rec_add(&r, i, s, SENSOR_STR_MAX);
	assert_int_equal(r.size, HDR + SENSOR_DATA_MAX);
	assert_int_equal(decode(&r, r.size, &out, off), 0);
	for (int i = 0; i < SENSOR_NSTR; i++) {
		assert_int_equal(out.len[i], SENSOR_STR_MAX - 1);
		assert_int_equal(off[i], HDR + (size_t)i * SENSOR_STR_MAX);
	}
	free(s);
}

/* ---- rejected records ---- */

static void test_shorter_than_header_rejected(void **state)
{
	struct rec r;

	(void)state;
	rec_init(&r, SENSOR_OP_EXIT);
	expect_invalid(&r, 0);
	expect_invalid(&r, 1);
	expect_invalid(&r, 8);
	expect_invalid(&r, HDR - 1);
}

static void test_op_out_of_range_rejected(void **state)
{
	static const unsigned bad[] = {SENSOR_OP_NONE, SENSOR_OP_MAX, SENSOR_OP_MAX + 1, 64,
				       1000,           UINT_MAX};
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct rec r;

		rec_init(&r, bad[i]);
		rec_add_str(&r, 0, "/x");
		expect_invalid(&r, r.size);
	}
}

static void test_size_mismatch_rejected(void **state)
{
	struct rec r;

	(void)state;
	rec_init(&r, SENSOR_OP_OPEN);
	rec_add_str(&r, 0, "/etc/passwd");
	/* bigger than header + sum(len): trailing bytes */
	expect_invalid(&r, r.size + 1);
	expect_invalid(&r, r.size + 8);
	/* smaller: a string would run past the record */
	expect_invalid(&r, r.size - 1);
	expect_invalid(&r, HDR);
	/* no strings at all but trailing bytes */
	rec_init(&r, SENSOR_OP_EXIT);
	expect_invalid(&r, HDR + 4);
	/* lengths claiming more than is there (header alone, len[3] = 10) */
	rec_init(&r, SENSOR_OP_EXIT);
	r.u.hdr.len[3] = 10;
	expect_invalid(&r, HDR);
}

static void test_unterminated_string_rejected(void **state)
{
	struct rec r;

	(void)state;
	rec_init(&r, SENSOR_OP_OPEN);
	rec_add(&r, 0, "abc", 3); /* no NUL */
	expect_invalid(&r, r.size);
	/* a NUL inside does not help: the last byte must be NUL */
	rec_init(&r, SENSOR_OP_OPEN);
	rec_add(&r, 0, "ab\0c", 4);
	expect_invalid(&r, r.size);
	/* a later string unterminated while the first is fine */
	rec_init(&r, SENSOR_OP_RENAME);
	rec_add_str(&r, 0, "/tmp");
	rec_add_str(&r, 1, "a");
	rec_add_str(&r, 2, "/tmp");
	rec_add(&r, 3, "bb", 2);
	expect_invalid(&r, r.size);
	/* the exec argv blob too */
	rec_init(&r, SENSOR_OP_EXEC);
	rec_add_str(&r, 0, "/bin/sh");
	rec_add(&r, 1, "sh\0-c", 5);
	expect_invalid(&r, r.size);
}

static void test_unterminated_comm_rejected(void **state)
{
	struct rec r;

	(void)state;
	rec_init(&r, SENSOR_OP_WRITE);
	memset(r.u.hdr.comm, 'A', sizeof(r.u.hdr.comm));
	memset(&r.u.hdr.net, 1, sizeof(r.u.hdr.net));
	expect_invalid(&r, r.size);
	r.u.hdr.comm[sizeof(r.u.hdr.comm) - 1] = '\0';
	{
		struct sensor_record out;
		long off[SENSOR_NSTR];

		assert_int_equal(decode(&r, r.size, &out, off), 0);
	}
}

static void test_string_longer_than_max_rejected(void **state)
{
	struct rec r;
	char *s = malloc(SENSOR_STR_MAX + 1);

	(void)state;
	assert_non_null(s);
	memset(s, 'a', SENSOR_STR_MAX);
	s[SENSOR_STR_MAX] = '\0';
	rec_init(&r, SENSOR_OP_OPEN);
	rec_add(&r, 0, s, SENSOR_STR_MAX + 1);
	expect_invalid(&r, r.size);
	/* also when it is not the first string */
	rec_init(&r, SENSOR_OP_WRITE);
	rec_add_str(&r, 0, "/tmp");
	rec_add(&r, 1, s, SENSOR_STR_MAX + 1);
	expect_invalid(&r, r.size);
	/* a length of 65535 with a matching size is still rejected */
	rec_init(&r, SENSOR_OP_OPEN);
	r.u.hdr.len[0] = UINT16_MAX;
	{
		unsigned char *big = calloc(1, HDR + UINT16_MAX);
		struct sensor_record out;

		assert_non_null(big);
		memcpy(big, &r.u.hdr, HDR);
		assert_int_equal(sensor_decode(big, HDR + UINT16_MAX, &out), -EINVAL);
		free(big);
	}
	free(s);
}

/* ---- sensor_op_name ---- */

static void test_op_name_known(void **state)
{
	(void)state;
	assert_string_equal(sensor_op_name(SENSOR_OP_FORK), "fork");
	assert_string_equal(sensor_op_name(SENSOR_OP_EXEC), "exec");
	assert_string_equal(sensor_op_name(SENSOR_OP_EXIT), "exit");
	assert_string_equal(sensor_op_name(SENSOR_OP_OPEN), "open");
	assert_string_equal(sensor_op_name(SENSOR_OP_RENAME), "rename");
	assert_string_equal(sensor_op_name(SENSOR_OP_CONNECT), "connect");
	assert_string_equal(sensor_op_name(SENSOR_OP_PTRACE), "ptrace");
	assert_string_equal(sensor_op_name(SENSOR_OP_IO_URING), "io_uring");
}

static void test_op_name_every_op_named_uniquely(void **state)
{
	(void)state;
	for (unsigned op = 1; op < SENSOR_OP_MAX; op++) {
		const char *n = sensor_op_name(op);

		assert_non_null(n);
		if (strcmp(n, "unknown") == 0 || n[0] == '\0')
			fail_msg("op %u has no name", op);
		for (unsigned o = 1; o < op; o++) {
			if (strcmp(n, sensor_op_name(o)) == 0)
				fail_msg("ops %u and %u are both '%s'", o, op, n);
		}
	}
}

static void test_op_name_out_of_range(void **state)
{
	(void)state;
	assert_string_equal(sensor_op_name(SENSOR_OP_MAX), "unknown");
	assert_string_equal(sensor_op_name(SENSOR_OP_MAX + 1), "unknown");
	assert_string_equal(sensor_op_name(1000), "unknown");
	assert_string_equal(sensor_op_name(UINT_MAX), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_valid_no_strings),
	    cmocka_unit_test(test_valid_one_to_four_strings),
	    cmocka_unit_test(test_valid_sparse_strings),
	    cmocka_unit_test(test_valid_empty_string),
	    cmocka_unit_test(test_exec_argv_blob_accepted),
	    cmocka_unit_test(test_every_valid_op_accepted),
	    cmocka_unit_test(test_max_string_length_accepted),
	    cmocka_unit_test(test_shorter_than_header_rejected),
	    cmocka_unit_test(test_op_out_of_range_rejected),
	    cmocka_unit_test(test_size_mismatch_rejected),
	    cmocka_unit_test(test_unterminated_string_rejected),
	    cmocka_unit_test(test_unterminated_comm_rejected),
	    cmocka_unit_test(test_string_longer_than_max_rejected),
	    cmocka_unit_test(test_op_name_known),
	    cmocka_unit_test(test_op_name_every_op_named_uniquely),
	    cmocka_unit_test(test_op_name_out_of_range),
	};

	return cmocka_run_group_tests_name("sensor_decode", tests, NULL, NULL);
}
