/*
 * prog_netcheck.c - what a guest can reach, run inside a sandbox by
 * test_sandbox.
 *
 *   prog_netcheck NAME WEB_PORT BLOCKED_PORT HOST_IP HOST_PORT
 *
 * Prints one line per check: "dns <addr>", "web <ok|fail>", "blocked
 * <open|closed>", "host <open|closed>".  Connections time out after 1 s.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* 1 if a TCP connection to IP:PORT is established within 1 s. */
static int try_connect(const char *ip, int port, int *fd_out)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
	struct pollfd p;
	int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), err = 0;
	socklen_t len = sizeof(err);

	inet_pton(AF_INET, ip, &a.sin_addr);
	if (s < 0)
		return 0;
	if (connect(s, (struct sockaddr *)&a, sizeof(a)) < 0 && errno != EINPROGRESS) {
		close(s);
		return 0;
	}
	p.fd = s;
	p.events = POLLOUT;
	if (poll(&p, 1, 1000) != 1 || getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err) {
		close(s);
		return 0;
	}
	if (fd_out) {
		fcntl(s, F_SETFL, 0);
		*fd_out = s;
	} else {
		close(s);
	}
	return 1;
}

static const char *fetch(const char *ip, int port)
{
	static char page[4096];
	const char req[] = "GET / HTTP/1.0\r\nHost: page.test\r\n\r\n";
	ssize_t n, got = 0;
	int s;

	if (!try_connect(ip, port, &s))
		return "fail";
	if (write(s, req, sizeof(req) - 1) != (ssize_t)sizeof(req) - 1) {
		close(s);
		return "fail";
	}
	while (got < (ssize_t)sizeof(page) - 1 &&
	       (n = read(s, page + got, sizeof(page) - 1 - got)) > 0)
		got += n;
	page[got] = '\0';
	close(s);
	return strstr(page, "capture-e2e-marker") ? "ok" : "fail";
}

int main(int argc, char **argv)
{
	struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *res = NULL;
	char ip[INET_ADDRSTRLEN] = "none";

	if (argc != 6)
		return 2;
	if (getaddrinfo(argv[1], NULL, &hints, &res) == 0) {
		inet_ntop(AF_INET, &((struct sockaddr_in *)res->ai_addr)->sin_addr, ip, sizeof(ip));
		freeaddrinfo(res);
	}
	printf("dns %s\n", ip);
	printf("web %s\n", strcmp(ip, "none") ? fetch(ip, atoi(argv[2])) : "fail");
	printf("blocked %s\n", try_connect(ip, atoi(argv[3]), NULL) ? "open" : "closed");
	printf("host %s\n", try_connect(argv[4], atoi(argv[5]), NULL) ? "open" : "closed");
	return 0;
}
