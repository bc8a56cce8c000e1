/*
 * dropper.c - the bundled demo sample: behaves like the second stage of a
 * drive-by download, but only inside the throw-away directory it is given
 * (used as its HOME) and on loopback.
 *
 *   dropper HOME
 *
 * It drops a payload into ~/.local/bin and makes it executable, plants two
 * kinds of persistence (an XDG autostart entry and a line in ~/.bashrc),
 * runs the payload, opens a "bind shell" listener on a loopback port and
 * sends a UDP beacon to 127.0.0.1:4444.  Every step is a real state change.
 */
#include <arpa/inet.h>
#include <err.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void put(const char *path, const char *text, int flags)
{
	FILE *f = fopen(path, flags & O_APPEND ? "a" : "w");

	if (!f || fputs(text, f) < 0 || fclose(f) != 0)
		err(1, "%s", path);
}

static void sub(char *buf, size_t len, const char *home, const char *rel)
{
	snprintf(buf, len, "%s/%s", home, rel);
}

int main(int argc, char **argv)
{
	char bin[4096], payload[4096], autostart[4096], desktop[4096], rc[4096], line[8192];
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int s, status;
	pid_t pid;

	if (argc != 2)
		errx(2, "usage: dropper HOME");
	sub(bin, sizeof(bin), argv[1], ".local/bin");
	sub(payload, sizeof(payload), argv[1], ".local/bin/update-helper");
	sub(autostart, sizeof(autostart), argv[1], ".config/autostart");
	sub(desktop, sizeof(desktop), argv[1], ".config/autostart/update-helper.desktop");
	sub(rc, sizeof(rc), argv[1], ".bashrc");
	snprintf(line, sizeof(line), "%s/.local", argv[1]);
	mkdir(line, 0700);
	snprintf(line, sizeof(line), "%s/.config", argv[1]);
	mkdir(line, 0700);
	if ((mkdir(bin, 0700) < 0) || mkdir(autostart, 0700) < 0)
		err(1, "mkdir");

	put(payload, "#!/bin/sh\necho 'payload ran'\n", 0);
	if (chmod(payload, 0755) < 0)
		err(1, "chmod");
	snprintf(line, sizeof(line), "[Desktop Entry]\nType=Application\nExec=%s\n", payload);
	put(desktop, line, 0);
	snprintf(line, sizeof(line), "%s >/dev/null 2>&1 &\n", payload);
	put(rc, line, O_APPEND);

	pid = fork();
	if (pid == 0) {
		execl(payload, "update-helper", (char *)NULL);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) < 0)
		err(1, "running the payload");

	s = socket(AF_INET, SOCK_STREAM, 0);
	if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(s, 1) < 0)
		err(1, "listen");
	close(s);
	a.sin_port = htons(4444);
	s = socket(AF_INET, SOCK_DGRAM, 0);
	if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof(a)) < 0 || send(s, "hi", 2, 0) != 2)
		err(1, "beacon");
	close(s);
	return 0;
}
