/*
 * prog_flood.c - a burst of file operations to overrun the ring buffer.
 *
 *   prog_flood DIR ITERATIONS
 *
 * Each iteration is open(O_CREAT|O_TRUNC) + write + close + rename + unlink:
 * five file operations and three sensor records (Create, Rename, Delete).
 */
#include <err.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	char a[4096], b[4096];
	long n;

	if (argc != 3)
		errx(2, "usage: prog_flood DIR ITERATIONS");
	n = atol(argv[2]);
	snprintf(a, sizeof(a), "%s/flood-a", argv[1]);
	snprintf(b, sizeof(b), "%s/flood-b", argv[1]);
	for (long i = 0; i < n; i++) {
		int fd = open(a, O_CREAT | O_WRONLY | O_TRUNC, 0644);

		if (fd < 0 || write(fd, "x", 1) != 1 || close(fd) < 0)
			err(1, "iteration %ld", i);
		if (rename(a, b) < 0 || unlink(b) < 0)
			err(1, "iteration %ld", i);
	}
	return 0;
}
