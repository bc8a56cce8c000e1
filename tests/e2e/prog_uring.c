/*
 * prog_uring.c - writes a file through io_uring (liburing), which syscall
 * tracepoints cannot see; the sensor must at least report the io_uring use.
 *
 *   prog_uring FILE
 */
#include <err.h>
#include <fcntl.h>
#include <liburing.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	static const char msg[] = "written through io_uring\n";
	struct io_uring ring;
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	int fd, rc;

	if (argc != 2)
		errx(2, "usage: prog_uring FILE");
	/* the file exists already and is opened read-write *before* the ring,
	 * so the only visible trace of the write is the io_uring instance */
	fd = open(argv[1], O_RDWR);
	if (fd < 0)
		err(1, "open %s", argv[1]);
	rc = io_uring_queue_init(4, &ring, 0);
	if (rc < 0)
		errx(1, "io_uring_queue_init: %s", strerror(-rc));
	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_write(sqe, fd, msg, sizeof(msg) - 1, 0);
	io_uring_submit(&ring);
	rc = io_uring_wait_cqe(&ring, &cqe);
	if (rc < 0 || cqe->res != (int)sizeof(msg) - 1)
		errx(1, "io_uring write failed");
	io_uring_cqe_seen(&ring, cqe);
	io_uring_queue_exit(&ring);
	return 0;
}
