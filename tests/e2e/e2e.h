/*
 * e2e.h - helpers for end-to-end tests that run the real capture-client.
 *
 * Test binaries live in BUILD/tests/e2e/; the workload programs sit next to
 * them and the client under test is BUILD/capture-client.  Everything runs
 * for real: the kernel sensor, cgroups, loopback listeners.  Helpers that
 * check their own steps do so with cmocka assertions (every e2e test is a
 * cmocka test).
 */
#ifndef CAPTURE_E2E_H
#define CAPTURE_E2E_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include "common/config.h"
#include "server/client_conn.h"

/* BUF = directory of this test binary + "/" + NAME. */
static inline void e2e_sibling(const char *name, char *buf, size_t len)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	self[n > 0 ? n : 0] = '\0';
	snprintf(buf, len, "%s/%s", dirname(self), name);
}

/* Starts ARGV with stdout and stderr redirected to files; returns its pid. */
static inline pid_t e2e_spawn(char *const argv[], const char *out, const char *errf)
{
	pid_t pid = fork();

	if (pid == 0) {
		int o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int e = open(errf, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		if (o < 0 || e < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0)
			_exit(126);
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

/* Runs ARGV with stdout and stderr redirected to files; returns the wait status. */
static inline int e2e_run(char *const argv[], const char *out, const char *errf)
{
	pid_t pid = e2e_spawn(argv, out, errf);
	int status = -1;

	if (pid < 0 || waitpid(pid, &status, 0) < 0)
		return -1;
	return status;
}

/* Whole file as a malloc'ed string (NULL if unreadable). */
static inline char *e2e_slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t len = 0;

	if (!f)
		return NULL;
	if (getdelim(&buf, &len, '\0', f) < 0) {
		free(buf);
		buf = strdup("");
	}
	fclose(f);
	return buf;
}

/* Every line of a JSON Lines file as an array (objects only). */
static inline json_t *e2e_load_jsonl(const char *path)
{
	json_t *arr = json_array();
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;

	if (!f)
		return arr;
	while (getline(&line, &cap, f) > 0) {
		json_t *o = json_loads(line, 0, NULL);

		if (o && json_is_object(o))
			json_array_append_new(arr, o);
		else
			json_decref(o);
	}
	free(line);
	fclose(f);
	return arr;
}

/* The summary object capture-client --json prints last on stderr (NULL if none). */
static inline json_t *e2e_summary(const char *errpath)
{
	json_t *arr = e2e_load_jsonl(errpath), *found = NULL;
	size_t i;
	json_t *o;

	json_array_foreach(arr, i, o)
	{
		if (json_object_get(o, "summary"))
			found = o;
	}
	if (found)
		json_incref(found);
	json_decref(arr);
	return found;
}

static inline const char *e2e_str(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "";
}

/* Events with this type, action and object1 (NULL = any). */
static inline size_t e2e_count(json_t *events, const char *type, const char *action,
			       const char *object1)
{
	size_t i, n = 0;
	json_t *o;

	json_array_foreach(events, i, o)
	{
		if (strcmp(e2e_str(o, "type"), type) == 0 &&
		    strcmp(e2e_str(o, "action"), action) == 0 &&
		    (!object1 || strcmp(e2e_str(o, "object1"), object1) == 0))
			n++;
	}
	return n;
}

/* First such event (borrowed reference) or NULL. */
static inline json_t *e2e_find(json_t *events, const char *type, const char *action,
			       const char *object1)
{
	size_t i;
	json_t *o;

	json_array_foreach(events, i, o)
	{
		if (strcmp(e2e_str(o, "type"), type) == 0 &&
		    strcmp(e2e_str(o, "action"), action) == 0 &&
		    (!object1 || strcmp(e2e_str(o, "object1"), object1) == 0))
			return o;
	}
	return NULL;
}

/* Writes TEXT to DIR/NAME (creating DIR). */
static inline int e2e_write(const char *dir, const char *name, const char *text)
{
	char path[PATH_MAX];
	FILE *f;

	mkdir(dir, 0755);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	if (!f)
		return -1;
	fputs(text, f);
	return fclose(f);
}

/* Writes TEXT to PATH with MODE; 0 or -1. */
static inline int e2e_write_file(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return -1;
	fputs(text, f);
	if (fclose(f) != 0)
		return -1;
	return chmod(path, mode);
}

/* A loopback TCP port nobody listens on right now (bound and released); -1 on error. */
static inline int e2e_free_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port = -1;

	if (s < 0)
		return -1;
	if (bind(s, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(s, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	close(s);
	return port;
}

/*
 * Starts BIN (capture-corpusd) serving ROOT in the services namespace NETNS,
 * with its pid file, request log (corpusd.log) and output in DIR; waits up to
 * 10 s for it to listen.  Returns its pid, or -1 (nothing left running).
 */
static inline pid_t e2e_start_corpusd(const char *bin, const char *root, const char *netns,
				      const char *dir)
{
	char pidfile[PATH_MAX], logf[PATH_MAX], out[PATH_MAX];
	pid_t pid;

	snprintf(pidfile, sizeof(pidfile), "%s/corpusd.pid", dir);
	snprintf(logf, sizeof(logf), "%s/corpusd.log", dir);
	snprintf(out, sizeof(out), "%s/corpusd.out", dir);
	char *argv[] = {(char *)bin, "--root", (char *)root, "--netns", (char *)netns,
			"--pidfile", pidfile,  "--log",      logf,      NULL};
	pid = e2e_spawn(argv, out, out);
	for (int i = 0; pid > 0 && i < 200 && access(pidfile, F_OK) != 0; i++)
		usleep(50000);
	if (pid > 0 && access(pidfile, F_OK) != 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return -1;
	}
	return pid;
}

/*
 * Forks a TCP server in the network namespace NSFD (a services namespace)
 * on PORT that, for every connection, reads the request and answers
 * RESPONSE (the whole HTTP response); it runs until killed or until this
 * process dies.  Returns its pid at once: give it a moment to listen.
 */
static inline pid_t e2e_serve(int nsfd, int port, const char *response)
{
	pid_t pid = fork();

	if (pid == 0) {
		struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
		int s, one = 1;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (setns(nsfd, CLONE_NEWNET) < 0)
			_exit(1);
		s = socket(AF_INET, SOCK_STREAM, 0);
		setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(s, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(s, 64) < 0)
			_exit(1);
		for (;;) {
			char req[4096];
			int c = accept(s, NULL, NULL);

			if (c < 0)
				continue;
			(void)!read(c, req, sizeof(req));
			(void)!write(c, response, strlen(response));
			close(c);
		}
	}
	return pid;
}

/* ---- an in-process capture-server: src/server/client_conn.c on a libuv loop ---- */

#define E2E_SERVER_MAX_FILES 4

/*
 * A libuv loop with a listener on 127.0.0.1:<ephemeral> that hands every
 * accepted connection to client_conn_accept() with PARAMS, and a 10 ms tick
 * so that each UV_RUN_ONCE of the test's loop returns soon.  A test embeds it
 * in its own state (PARAMS.ctx, given back by client_conn_ctx()) and records
 * in its callbacks what the server saw.
 */
struct e2e_server {
	uv_loop_t loop;
	uv_tcp_t listener;
	uv_timer_t tick;
	int port;                  /* the listener's */
	struct capture_config cfg; /* config_defaults(); the test may change it */
	struct client_conn_callbacks cb;
	/* cfg, upload_dir, cb and ctx set; the rest (key, timeouts, exclusions) is the test's */
	struct client_conn_params params;
	char updir[PATH_MAX]; /* the upload directory, made by e2e_server_open() */
	char files[E2E_SERVER_MAX_FILES][PATH_MAX]; /* uploads seen, by e2e_server_file() */
	int nfiles;
};

static inline void e2e_server_on_connection(uv_stream_t *listener, int status)
{
	struct e2e_server *s = listener->data;
	struct client_conn *c;

	assert_int_equal(status, 0);
	assert_int_equal(client_conn_accept(listener, &s->params, &c), 0);
	assert_int_equal(client_conn_state(c), CLIENT_CONN_CONNECTING);
}

static inline void e2e_server_on_tick(uv_timer_t *t)
{
	(void)t;
}

/*
 * Opens S (zeroed): the loop, default options, callbacks CB (copied) with
 * context CTX, an upload directory made from the mkdtemp() template
 * UPDIR_TEMPLATE, the listener (S->port) and the tick.  Asserts every step.
 */
static inline void e2e_server_open(struct e2e_server *s, const struct client_conn_callbacks *cb,
				   void *ctx, const char *updir_template)
{
	struct sockaddr_in sa;
	int len = sizeof(sa);

	assert_int_equal(uv_loop_init(&s->loop), 0);
	assert_int_equal(config_defaults(&s->cfg), 0);
	s->cb = *cb;
	snprintf(s->updir, sizeof(s->updir), "%s", updir_template);
	assert_non_null(mkdtemp(s->updir));
	s->params = (struct client_conn_params){
	    .cfg = &s->cfg, .upload_dir = s->updir, .cb = &s->cb, .ctx = ctx};
	assert_int_equal(uv_tcp_init(&s->loop, &s->listener), 0);
	s->listener.data = s;
	uv_ip4_addr("127.0.0.1", 0, &sa);
	assert_int_equal(uv_tcp_bind(&s->listener, (struct sockaddr *)&sa, 0), 0);
	assert_int_equal(uv_listen((uv_stream_t *)&s->listener, 16, e2e_server_on_connection), 0);
	assert_int_equal(uv_tcp_getsockname(&s->listener, (struct sockaddr *)&sa, &len), 0);
	s->port = ntohs(sa.sin_port);
	uv_timer_init(&s->loop, &s->tick);
	uv_timer_start(&s->tick, e2e_server_on_tick, 10, 10);
}

/* For on_file: records PATH in S->files (asserts there is room). */
static inline void e2e_server_file(struct e2e_server *s, const char *path)
{
	assert_true(s->nfiles < E2E_SERVER_MAX_FILES);
	snprintf(s->files[s->nfiles++], PATH_MAX, "%s", path);
}

/*
 * Closes the listener and the tick (unless already closing), runs the loop
 * until nothing is left, asserts that the loop closes (no handle of a
 * connection still open) and frees the options.  The upload directory is
 * the caller's to empty and remove.
 */
static inline void e2e_server_close(struct e2e_server *s)
{
	if (!uv_is_closing((uv_handle_t *)&s->listener))
		uv_close((uv_handle_t *)&s->listener, NULL);
	if (!uv_is_closing((uv_handle_t *)&s->tick))
		uv_close((uv_handle_t *)&s->tick, NULL);
	uv_run(&s->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&s->loop), 0);
	config_free(&s->cfg);
}

#endif
