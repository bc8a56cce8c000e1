/*
 * prog_uring.c - file work through io_uring (liburing), which syscall
 * tracepoints cannot see.
 *
 *   prog_uring FILE            write to an existing FILE, opened before the ring
 *   prog_uring --create FILE   create FILE and write it, both through the ring
 *   prog_uring --create-exec FILE   the same with mode 0755 (a dropped program)
 *
 * In the first form the only syscall-visible trace of the write is the
 * io_uring instance; in the second not even the open is (only fanotify on a
 * sandbox's upper layer sees the new file).
 */
#include <err.h>
#include <fcntl.h>
#include <liburing.h>
#include <string.h>
#include <unistd.h>

static const char msg[] = "written through io_uring\n";

static int submit_wait(struct io_uring *ring)
{
	struct io_uring_cqe *cqe;
	int rc;

	io_uring_submit(ring);
	rc = io_uring_wait_cqe(ring, &cqe);
	if (rc < 0)
		return rc;
	rc = cqe->res;
	io_uring_cqe_seen(ring, cqe);
	return rc;
}

int main(int argc, char **argv)
{
	struct io_uring ring;
	int exec = argc == 3 && strcmp(argv[1], "--create-exec") == 0;
	int create = exec || (argc == 3 && strcmp(argv[1], "--create") == 0);
	const char *path = argv[argc - 1];
	int fd = -1, rc;

	if (argc != 2 && !create)
		errx(2, "usage: prog_uring [--create|--create-exec] FILE");
	if (!create && (fd = open(path, O_RDWR)) < 0)
		err(1, "open %s", path);
	rc = io_uring_queue_init(4, &ring, 0);
	if (rc < 0)
		errx(1, "io_uring_queue_init: %s", strerror(-rc));
	if (create) {
		io_uring_prep_openat(io_uring_get_sqe(&ring), AT_FDCWD, path,
				     O_CREAT | O_WRONLY | O_TRUNC, exec ? 0755 : 0644);
		fd = submit_wait(&ring);
		if (fd < 0)
			errx(1, "io_uring openat %s: %s", path, strerror(-fd));
	}
	io_uring_prep_write(io_uring_get_sqe(&ring), fd, msg, sizeof(msg) - 1, 0);
	if (submit_wait(&ring) != (int)sizeof(msg) - 1)
		errx(1, "io_uring write failed");
	io_uring_queue_exit(&ring);
	return 0;
}
