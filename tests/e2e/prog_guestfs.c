/*
 * prog_guestfs.c - file changes a guest makes, run inside a sandbox by
 * test_sandbox: it creates a file in its home, modifies, renames and
 * deletes files of the lower layer (a host directory the test made
 * world-writable), and writes N bytes to fill a tmpfs if asked.
 *
 *   prog_guestfs LOWER_DIR [FILL_BYTES]
 *
 * Prints "ok" and one line per failed step on stdout (a full tmpfs is an
 * expected failure there).
 */
#include <err.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char buf[1 << 16];

static void put(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (!f || fputs(text, f) < 0 || fclose(f) != 0)
		printf("failed: write %s\n", path);
}

static void fill(const char *path, long bytes)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	memset(buf, 'x', sizeof(buf));
	for (long done = 0; fd >= 0 && done < bytes; done += sizeof(buf)) {
		if (write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf)) {
			printf("failed: fill %s\n", path);
			break;
		}
	}
	if (fd >= 0)
		close(fd);
}

int main(int argc, char **argv)
{
	char a[4096], b[4096];
	const char *home = getenv("HOME");

	if (argc < 2 || !home)
		errx(2, "usage: prog_guestfs LOWER_DIR [FILL_BYTES] (with HOME set)");
	snprintf(a, sizeof(a), "%s/dropped.txt", home);
	put(a, "dropped by the guest\n");
	snprintf(a, sizeof(a), "%s/modify-me.txt", argv[1]);
	put(a, "modified by the guest\n");
	snprintf(a, sizeof(a), "%s/rename-me.txt", argv[1]);
	snprintf(b, sizeof(b), "%s/renamed.txt", argv[1]);
	if (rename(a, b) < 0)
		printf("failed: rename %s\n", a);
	snprintf(a, sizeof(a), "%s/delete-me.txt", argv[1]);
	if (unlink(a) < 0)
		printf("failed: unlink %s\n", a);
	if (argc > 2) {
		snprintf(a, sizeof(a), "%s/big.bin", home);
		fill(a, atol(argv[2]));
	}
	printf("ok\n");
	return 0;
}
