/*
 * prog_forks.c - tries to start N processes that wait; prints how many
 * started, then ends them.  Run in a guest with a pids limit.
 *
 *   prog_forks N
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	int n = argc == 2 ? atoi(argv[1]) : 0, started = 0;
	pid_t kids[256];

	for (int i = 0; i < n && i < 256; i++) {
		pid_t pid = fork();

		if (pid == 0) {
			pause();
			_exit(0);
		}
		if (pid < 0)
			continue; /* the limit: EAGAIN */
		kids[started++] = pid;
	}
	printf("started=%d\n", started);
	fflush(stdout);
	for (int i = 0; i < started; i++) {
		kill(kids[i], SIGKILL);
		waitpid(kids[i], NULL, 0);
	}
	return 0;
}
