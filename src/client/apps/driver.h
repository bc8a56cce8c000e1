/*
 * driver.h - browser drivers: programs that the client controls while they
 * visit (docs/applications.md "Browser drivers").
 *
 * A plain program (apps.h) is an argv that the guest runs for the visit
 * time.  A browser driver also talks to the browser over a control channel
 * (Chromium: CDP on --remote-debugging-pipe; Firefox: Marionette), so it
 * knows when the page has loaded, where it ended up, with which HTTP status,
 * and why it failed.  The browser runs INSIDE the guest; the driver runs in
 * capture-client, OUTSIDE, in the client's libuv loop (no threads).
 *
 * One driver object serves one group visit:
 *
 *   driver_new()      builds the guest program (argv) and the guest ends of
 *                     its control channel (fds the guest program gets as
 *                     3, 4, ...: struct driver_launch); nothing runs yet.
 *   (group_visit starts launch.argv in the guest with launch.fds)
 *   driver_start()    the guest program runs: the driver closes its copies
 *                     of the guest ends, opens the control channel and
 *                     visits every URL: navigate, wait for the load event
 *                     (at most page_timeout_s), then stay visit_time_s.
 *   on_url_started    a URL's navigation was sent (its start time);
 *   on_done           every URL has an outcome (once, from the loop); the
 *                     caller then kills the guest and reads the results.
 *   driver_free()     closes the channel (from the loop) and frees.
 *
 * The browser and what it sends are untrusted (the page may own the
 * renderer, and a browser is big): every message is bounded and checked,
 * and a broken channel ends the visit with PROCESS_ERROR, never the client.
 *
 * Layouts: DRIVER_LAYOUT_TABS ("dac": one browser, one tab per URL) and
 * DRIVER_LAYOUT_PROCESSES ("bulk": one browser process per URL).
 */
#ifndef CAPTURE_DRIVER_H
#define CAPTURE_DRIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include <sys/types.h>
#include <uv.h>

#include "client/apps.h"

#define DRIVER_MAX_FDS              40 /* guest ends passed to the guest program (fd 3..42) */
#define DRIVER_PAGE_TIMEOUT_DEFAULT 60 /* s from navigation to load event, then TIMEOUT_ERROR */
#define DRIVER_MAX_REDIRECTS        20 /* hops kept per URL; more are counted, not kept */
#define DRIVER_PROCESSES_MAX_URLS   20 /* "bulk" in one guest: group_size's default */
#define DRIVER_MAX_SCREENSHOT       (8u << 20) /* bytes of PNG accepted from a browser */

enum driver_layout {
	DRIVER_LAYOUT_TABS = 0,  /* "dac": every URL in a tab of one browser */
	DRIVER_LAYOUT_PROCESSES, /* "bulk": one browser process per URL */
};

/* What the caller asks for (copied by driver_new; strings too). */
struct driver_visit {
	const char *const *urls; /* n_urls URLs, each already checked by apps_check_url */
	size_t n_urls;
	unsigned visit_time_s;   /* stay after the load event, 1..APPS_MAX_VISIT_S */
	unsigned page_timeout_s; /* 0 = DRIVER_PAGE_TIMEOUT_DEFAULT */
	enum driver_layout layout;
	const char *exe;            /* guest path of the browser; NULL = the driver's default */
	const char *downloads_dir;  /* guest directory downloads go to (HOME/Downloads) */
	const char *screenshot_dir; /* host directory for PNG screenshots; NULL = none */
	const char *tag;            /* names screenshot files and log lines (the visit id) */
};

/* One hop of a URL's way to its final document. */
struct driver_hop {
	char *url;  /* the document's URL */
	int status; /* its HTTP status (3xx for an HTTP redirect), 0 if no response */
};

/* What a URL's visit gave (owned by the driver, valid until driver_free). */
struct driver_result {
	uint32_t major;   /* enum proto_error, 0 = loaded (HTTP 4xx/5xx pages included) */
	uint32_t minor;   /* e.g. Chromium's net error as a positive number */
	char *error_text; /* the browser's words for the error ("net::ERR_..."), NULL if none */
	char *final_url;  /* the main document's URL at the end, NULL if none */
	int status;       /* HTTP status of the final main document, 0 if none */
	struct driver_hop *hops; /* earlier main documents, first to last (redirects) */
	size_t n_hops;
	size_t hops_dropped;     /* hops past DRIVER_MAX_REDIRECTS */
	unsigned downloads;      /* downloads the page started */
	unsigned downloads_done; /* of those, completed */
	char *screenshot;        /* host path of the PNG, NULL if none */
	uint64_t start_ns;       /* CLOCK_REALTIME of the navigation, 0 if never sent */
	uint64_t load_ms;        /* navigation to load event, 0 if no load event */
};

/* How the guest program is started. */
struct driver_launch {
	char **argv;             /* NULL-terminated, owned by the driver */
	int fds[DRIVER_MAX_FDS]; /* guest ends: fds[i] becomes fd 3+i of the program */
	size_t n_fds;
	/*
	 * argv[0] is a launcher shell (several browsers in one guest): its
	 * own forks are plumbing, not changes.
	 */
	bool launcher;
	char exe[APPS_MAX_PATH + 1]; /* the browser in the guest, checked before the visit */
};

struct driver;

struct driver_callbacks {
	void (*on_url_started)(struct driver *d, size_t url, void *arg);
	void (*on_done)(struct driver *d, void *arg);
	void *arg;
};

/* One kind of driver (chromium_driver_ops, firefox_driver_ops): registered in driver.c. */
struct driver_ops {
	const char *program; /* the program name it drives ("chromium") */
	/* Fills D's launch (D's common part is set up); 0 or -1 with ERR. */
	int (*prepare)(struct driver *d, char *err, size_t errlen);
	/* The guest program runs: start the conversation; 0 or -1 with ERR. */
	int (*start)(struct driver *d, pid_t pid, char *err, size_t errlen);
	/*
	 * Stop talking now (abort, free): close the channel, stop timers (close
	 * them with driver_close_handle when D->freeing).  Called more than once.
	 */
	void (*stop)(struct driver *d);
	/* Free D and what the kind added (every handle is closed by then). */
	void (*destroy)(struct driver *d);
	size_t size; /* of the kind's struct, whose first member is struct driver */
};

/*
 * The part every driver shares (the first member of each kind's struct).
 * Kinds write results[] and call driver_url_started/driver_done; the
 * caller only uses the functions below.
 */
struct driver {
	const struct driver_ops *ops;
	uv_loop_t *loop;
	struct driver_callbacks cb;
	struct driver_visit visit; /* deep copy */
	struct driver_launch launch;
	struct driver_result *results; /* visit.n_urls */
	uv_timer_t done_timer;         /* delivers on_done from the loop */
	bool done;                     /* on_done scheduled or delivered */
	bool freeing;
	int closing; /* handles being closed: D is released when the last one is */
};

/* True if PROGRAM (case-insensitive) is driven by a browser driver. */
bool driver_handles(const char *program);

/*
 * A driver for PROGRAM visiting V in LOOP.  0 with *OUT (its launch filled),
 * or -1 with ERR (unknown program, bad arguments, out of memory, no pipes).
 */
int driver_new(uv_loop_t *loop, const char *program, const struct driver_visit *v,
	       const struct driver_callbacks *cb, struct driver **out, char *err, size_t errlen);
/*
 * The guest program runs (host pid PID, e.g. for a control channel that
 * must join the guest's network namespace): closes the guest ends and starts
 * the conversation.  0, or -1 with ERR (then call driver_abort).
 */
int driver_start(struct driver *d, pid_t pid, char *err, size_t errlen);
/*
 * The guest program could not start or the guest is gone: the channel is
 * closed, every URL that did not load gets MAJOR/MINOR (a loaded page cut
 * short keeps its outcome), on_done follows from the loop; nothing happens
 * once on_done is scheduled.
 */
void driver_abort(struct driver *d, uint32_t major, uint32_t minor);
/* URL I's result (I < n_urls). */
const struct driver_result *driver_result(const struct driver *d, size_t i);
/* Closes the channel and frees D from the loop; on_done never comes after. */
void driver_free(struct driver *d);

/* ---- for the kinds ---- */

/* Records URL I's navigation start and tells the caller. */
void driver_url_started(struct driver *d, size_t i);
/* URL I's first error wins: sets MAJOR/MINOR (and TEXT, copied) unless it has one. */
void driver_url_fail(struct driver *d, size_t i, uint32_t major, uint32_t minor, const char *text);
/* Appends a hop (URL copied) to URL I's chain; -1 if out of memory. */
int driver_add_hop(struct driver *d, size_t i, const char *url, int status);
/* Sets URL I's final URL (copied); -1 if out of memory. */
int driver_set_final(struct driver *d, size_t i, const char *url, int status);
/* Every URL has its outcome: on_done from the loop, once. */
void driver_done(struct driver *d);
/* Closes H (a handle of D's kind); D is freed only once every such handle is closed. */
void driver_close_handle(struct driver *d, uv_handle_t *h);
/* Closes the guest ends of the launch (the guest program has them now). */
void driver_close_guest_fds(struct driver *d);

extern const struct driver_ops chromium_driver_ops;

/*
 * Decodes VALUE, a browser's screenshot (a JSON string of base64 PNG):
 * base64 characters only (padding at its end), whose decoded bytes are a
 * PNG (its 8-byte signature) of at most MAX bytes; anything longer is
 * refused before decoding.  0 with *PNG (malloc'ed) and *LEN, or -1 with
 * *REASON (static text).
 */
int driver_png_decode(const json_t *value, size_t max, unsigned char **png, size_t *len,
		      const char **reason);

/*
 * URL I's screenshot VALUE (as driver_png_decode, DRIVER_MAX_SCREENSHOT)
 * saved as SCREENSHOT_DIR/TAG-(I+1).png (a new file, mode 0600, no link
 * followed, nothing left behind on failure) and recorded in its result.
 * 0, or -1 with *REASON (valid until the next call).
 */
int driver_save_screenshot(struct driver *d, size_t i, const json_t *value, const char **reason);

#endif
