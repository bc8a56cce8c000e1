/*
 * prog_workload.c - a real program that makes one of each state change the
 * sensor must see, run under capture-client by test_sensor.
 *
 *   prog_workload DIR TCP_PORT UDP_PORT TCP6_PORT UNIX_PATH
 *
 * Prints "pid=<pid> child=<pid> listen=<port>" on stdout so the test can
 * check the reported fields.  Every step must succeed: a failed call is not
 * a state change and the test would rightly not find it.
 */
#include <arpa/inet.h>
#include <err.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[4096];

static const char *at(const char *name)
{
	static char buf[2][8192];
	static int i;

	i ^= 1;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", dir, name);
	return buf[i];
}

static void files(void)
{
	int fd = open(at("created.txt"), O_CREAT | O_WRONLY | O_EXCL, 0644);

	if (fd < 0 || write(fd, "x", 1) != 1 || close(fd) < 0)
		err(1, "create");
	fd = open(at("created.txt"), O_WRONLY | O_TRUNC);
	if (fd < 0 || close(fd) < 0)
		err(1, "open for write");
	if (rename(at("created.txt"), at("renamed.txt")) < 0)
		err(1, "rename");
	if (link(at("renamed.txt"), at("hard.txt")) < 0)
		err(1, "link");
	if (symlink("renamed.txt", at("soft.txt")) < 0)
		err(1, "symlink");
	if (chmod(at("renamed.txt"), 0755) < 0)
		err(1, "chmod");
	if (mkdir(at("subdir"), 0700) < 0 || rmdir(at("subdir")) < 0)
		err(1, "mkdir/rmdir");
	if (unlink(at("hard.txt")) < 0 || unlink(at("soft.txt")) < 0)
		err(1, "unlink");
}

static pid_t child(void)
{
	pid_t pid = fork();
	int status;

	if (pid < 0)
		err(1, "fork");
	if (pid == 0) {
		execl("/bin/true", "true", "--capture-test-arg", (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		errx(1, "child failed");
	return pid;
}

static void connect_to(int family, int type, int port)
{
	struct sockaddr_in6 a6 = {
	    .sin6_family = AF_INET6, .sin6_port = htons(port), .sin6_addr = IN6ADDR_LOOPBACK_INIT};
	struct sockaddr_in a4 = {.sin_family = AF_INET,
				 .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int s = socket(family, type, 0);
	int rc = family == AF_INET6 ? connect(s, (struct sockaddr *)&a6, sizeof(a6))
				    : connect(s, (struct sockaddr *)&a4, sizeof(a4));

	if (s < 0 || rc < 0)
		err(1, "connect to port %d", port);
	if (type == SOCK_DGRAM && send(s, "ping", 4, 0) != 4)
		err(1, "send");
	close(s);
}

static int listen_any(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int s = socket(AF_INET, SOCK_STREAM, 0);

	if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(s, 1) < 0 ||
	    getsockname(s, (struct sockaddr *)&a, &len) < 0)
		err(1, "listen");
	close(s);
	return ntohs(a.sin_port);
}

static void unix_connect(const char *path)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	int s = socket(AF_UNIX, SOCK_STREAM, 0);

	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof(a)) < 0)
		err(1, "unix connect %s", path);
	close(s);
}

int main(int argc, char **argv)
{
	pid_t kid;
	int port;

	if (argc != 6)
		errx(2, "usage: prog_workload DIR TCP_PORT UDP_PORT TCP6_PORT UNIX_PATH");
	snprintf(dir, sizeof(dir), "%s", argv[1]);
	files();
	kid = child();
	connect_to(AF_INET, SOCK_STREAM, atoi(argv[2]));
	connect_to(AF_INET, SOCK_DGRAM, atoi(argv[3]));
	connect_to(AF_INET6, SOCK_STREAM, atoi(argv[4]));
	unix_connect(argv[5]);
	port = listen_any();
	printf("pid=%d child=%d listen=%d\n", (int)getpid(), (int)kid, port);
	return 0;
}
