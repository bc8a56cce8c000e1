/*
 * prog_daemon.c - double-forks a daemon that sleeps forever, then exits.
 * The run must not end while the daemon lives, and -t must kill it.
 *
 *   prog_daemon PIDFILE
 */
#include <err.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	pid_t pid;

	if (argc != 2)
		errx(2, "usage: prog_daemon PIDFILE");
	pid = fork();
	if (pid < 0)
		err(1, "fork");
	if (pid == 0) {
		setsid();
		if (fork() != 0)
			_exit(0);
		FILE *f = fopen(argv[1], "w");

		if (f) {
			fprintf(f, "%d\n", (int)getpid());
			fclose(f);
		}
		for (;;)
			pause();
	}
	return 0;
}
