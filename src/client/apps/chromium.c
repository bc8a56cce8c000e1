/*
 * chromium.c - see chromium.h.
 *
 * Per browser (one for "dac", one per URL for "bulk"), once it runs:
 *   Browser.setDownloadBehavior allow, eventsEnabled   (browser session)
 *   per URL: Target.createTarget about:blank -> Target.attachToTarget
 *   flatten -> in that session, pipelined (CDP keeps a session's order):
 *   Page.enable, Network.enable, Page.setLifecycleEventsEnabled, Page.navigate.
 * A tab is loaded at Page.lifecycleEvent "load" of the navigation's loader
 * (its loaderId comes with the navigate reply; a load seen before the reply
 * is remembered), then it stays visit_time_s.  The main frame's id is the
 * target's id, so the main document's requests and responses are told from
 * sub-frames' by frameId and type "Document".
 */
#include "client/apps/chromium.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client/apps/cdp.h"
#include "client/apps/driver.h"
#include "common/log.h"
#include "common/protocol.h"
#include "common/util.h"

#define TICK_MS       200
#define MAX_DOWNLOADS 64 /* per browser, tracked by guid */
#define BASH_PATH     "/bin/bash"

/* No look-ups of Google service names (background and Safe Browsing traffic). */
static const char host_rules[] =
    "--host-resolver-rules=MAP update.googleapis.com ~NOTFOUND, "
    "MAP clients2.google.com ~NOTFOUND, MAP accounts.google.com ~NOTFOUND, "
    "MAP sb-ssl.google.com ~NOTFOUND";

static const char *const flags[] = {
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--disable-extensions",
    "--disable-default-apps",
    "--disable-client-side-phishing-detection",
    "--disable-domain-reliability",
    "--no-pings",
    "--metrics-recording-only",
    "--disable-breakpad",
    host_rules,
};

/*
 * The guest program is this launcher (bash: dash redirects only fds 0..9):
 * for each browser i ("dac": one; "bulk": one per URL) it writes the
 * profile's Preferences (PREFS) and starts the browser as its child with
 * its pipe pair (passed as fds 3+2i, 4+2i) as fds 3 and 4 and none of the
 * others' pipes.  The shell's own writes are plumbing; the browsers are
 * watched.  It closes its copies before waiting, so that a browser's exit
 * is EOF on its pipe.  Arguments: count, the Preferences text, the
 * profiles, then the browser's argv.
 */
#define LAUNCH_SCRIPT                                                                              \
	"k=$1; prefs=$2; shift 2; prof=(\"${@:1:k}\"); shift \"$k\"; last=$((2 + 2 * k)); "        \
	"for ((i = 0; i < k; i++)); do /bin/mkdir -p -m 700 -- \"${prof[i]}/Default\" && "         \
	"printf '%s\\n' \"$prefs\" > \"${prof[i]}/Default/Preferences\" || exit 1; "               \
	"( exec 3<&\"$((3 + 2 * i))\" 4>&\"$((4 + 2 * i))\" || exit 126; "                         \
	"for ((c = 5; c <= last; c++)); do exec {c}>&-; done; "                                    \
	"exec \"$@\" --user-data-dir=\"${prof[i]}\" about:blank ) & done; "                        \
	"for ((c = 3; c <= last; c++)); do exec {c}>&-; done; wait"

/*
 * Profile preferences no flag reaches: alternate_error_pages off stops
 * the DNS probe of the error page, which on ERR_NAME_NOT_RESOLVED asks
 * 8.8.8.8 and 8.8.4.4 (a udp-connection of the browser on every dead
 * domain, i.e. a false alarm).
 */
static const char prefs[] = "{\"alternate_error_pages\":{\"enabled\":false}}";

_Static_assert(2 * DRIVER_PROCESSES_MAX_URLS <= DRIVER_MAX_FDS, "a pipe pair per bulk browser");

enum tab_state {
	TAB_NEW = 0,
	TAB_OPENING,    /* createTarget / attachToTarget sent */
	TAB_NAVIGATING, /* navigate sent, no load yet */
	TAB_STAYING,    /* loaded: visit time runs */
	TAB_FINISHING,  /* stay over: screenshot or downloads pending */
	TAB_DONE,
};

struct cr_browser;

struct cr_tab {
	struct chromium *cr;
	struct cr_browser *b;
	size_t url;
	enum tab_state state;
	char *target; /* also the main frame's id */
	char *session;
	char *loader;         /* the navigation's loaderId (navigate reply) */
	char *early_load;     /* loaderId of a "load" seen before the reply */
	uint64_t nav_ms;      /* loop time the navigation was sent */
	uint64_t deadline_ms; /* page timeout, then end of stay, then of finishing */
	unsigned downloads_running;
	bool shooting; /* screenshot requested */
};

struct cr_download {
	char guid[64];
	size_t tab;
};

struct cr_browser {
	struct chromium *cr;
	struct cdp *cdp;
	int client_w, client_r; /* our ends until the channel opens */
	size_t first, n;        /* its tabs */
	struct cr_download downloads[MAX_DOWNLOADS];
	size_t n_downloads;
};

struct chromium {
	struct driver base; /* first: a struct driver * is a struct chromium * */
	struct cr_browser browsers[DRIVER_PROCESSES_MAX_URLS];
	size_t n_browsers;
	struct cr_tab *tabs;
	size_t n_tabs; /* visit.n_urls, kept for cr_destroy (the visit is freed first) */
	uv_timer_t tick;
	bool tick_init;
	bool stopped;
};

const char *const *chromium_flags(size_t *n)
{
	*n = ARRAY_SIZE(flags);
	return flags;
}

bool chromium_nav_error(const char *error_text, bool is_download, uint32_t *major, uint32_t *minor)
{
	int code = cdp_net_error(error_text);

	*major = *minor = 0;
	if (!error_text || !error_text[0] || is_download || code == -379)
		return false; /* -379: ERR_HTTP_RESPONSE_CODE_FAILURE, a 4xx/5xx page */
	*major = code <= -300 && code >= -302 ? PROTO_ERR_INVALID_URL : PROTO_ERR_NETWORK_ERROR;
	*minor = code < 0 ? (uint32_t)-code : 0;
	return true;
}

/* ---- small helpers ---- */

static const char *jstr(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

static int jint(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);

	return json_is_number(v) ? (int)json_number_value(v) : 0;
}

static void set_str(char **dst, const char *src)
{
	free(*dst);
	*dst = src ? strdup(src) : NULL;
}

static uint64_t now_ms(const struct chromium *cr)
{
	return uv_now(cr->base.loop);
}

static void check_all_done(struct chromium *cr)
{
	for (size_t i = 0; i < cr->base.visit.n_urls; i++) {
		if (cr->tabs[i].state != TAB_DONE)
			return;
	}
	if (cr->tick_init)
		uv_timer_stop(&cr->tick);
	driver_done(&cr->base);
}

static void tab_done(struct cr_tab *t)
{
	t->state = TAB_DONE;
	check_all_done(t->cr);
}

static void tab_fail(struct cr_tab *t, uint32_t major, uint32_t minor, const char *text)
{
	driver_url_fail(&t->cr->base, t->url, major, minor, text);
	tab_done(t);
}

/* ---- screenshots ---- */

static void on_screenshot(struct cdp *c, const json_t *result, const json_t *error, void *arg)
{
	struct cr_tab *t = arg;
	struct driver *d = &t->cr->base;
	const char *why = "no image in the reply";

	(void)c;
	(void)error;
	if (!result || driver_save_screenshot(d, t->url, json_object_get(result, "data"), &why) < 0)
		log_warnx("%s: URL %zu: no screenshot (%s)", d->visit.tag, t->url + 1, why);
	tab_done(t);
}

/* ---- the stay ---- */

static void tab_finish(struct cr_tab *t, uint64_t now)
{
	struct driver *d = &t->cr->base;

	t->state = TAB_FINISHING;
	t->deadline_ms = now + CHROMIUM_DOWNLOAD_GRACE_MS;
	if (d->visit.screenshot_dir && !t->shooting && t->session) {
		json_t *p = json_pack("{s:s}", "format", "png");

		t->shooting = cdp_call(t->b->cdp, t->session, "Page.captureScreenshot", p,
				       on_screenshot, t) != 0;
		if (t->shooting) {
			t->deadline_ms = now + CHROMIUM_SCREENSHOT_WAIT_MS;
			return;
		}
	}
	if (!t->downloads_running)
		tab_done(t);
}

static void tab_loaded(struct cr_tab *t)
{
	struct driver_result *r = &t->cr->base.results[t->url];
	uint64_t now = now_ms(t->cr);

	if (t->state != TAB_NAVIGATING)
		return;
	r->load_ms = now > t->nav_ms ? now - t->nav_ms : 1;
	t->state = TAB_STAYING;
	t->deadline_ms = now + (uint64_t)t->cr->base.visit.visit_time_s * 1000;
}

static void tab_tick(struct cr_tab *t, uint64_t now)
{
	if (t->state == TAB_DONE || now < t->deadline_ms)
		return;
	switch (t->state) {
	case TAB_NEW:
	case TAB_OPENING:
		log_warnx("%s: URL %zu: the browser did not open a tab in time",
			  t->cr->base.visit.tag, t->url + 1);
		tab_fail(t, PROTO_ERR_PROCESS_ERROR, 0, NULL);
		break;
	case TAB_NAVIGATING:
		tab_fail(t, PROTO_ERR_TIMEOUT_ERROR, 0, "no load event within the page timeout");
		break;
	case TAB_STAYING: tab_finish(t, now); break;
	case TAB_FINISHING: tab_done(t); break; /* screenshot or download did not end */
	case TAB_DONE: break;
	}
}

static void on_tick(uv_timer_t *h)
{
	struct chromium *cr = h->data;
	uint64_t now = now_ms(cr);

	for (size_t i = 0; i < cr->base.visit.n_urls && !cr->stopped; i++)
		tab_tick(&cr->tabs[i], now);
}

/* ---- navigation ---- */

static void on_navigate(struct cdp *c, const json_t *result, const json_t *error, void *arg)
{
	struct cr_tab *t = arg;
	const char *text = result ? jstr(result, "errorText") : NULL;
	bool is_download = result && json_is_true(json_object_get(result, "isDownload"));
	uint32_t major, minor;

	(void)c;
	if (t->state != TAB_NAVIGATING)
		return;
	if (error) {
		tab_fail(t, PROTO_ERR_INVALID_URL, 0, jstr(error, "message"));
		return;
	}
	if (chromium_nav_error(text, is_download, &major, &minor)) {
		tab_fail(t, major, minor, text);
		return;
	}
	set_str(&t->loader, jstr(result, "loaderId"));
	/* no loader: a same-document navigation; an error page or a download: no load to wait */
	if (!t->loader || (text && text[0]) ||
	    (t->early_load && strcmp(t->early_load, t->loader) == 0))
		tab_loaded(t);
}

static void on_call_error(struct cdp *c, const json_t *result, const json_t *error, void *arg)
{
	struct cr_tab *t = arg;

	(void)c;
	(void)result;
	if (error)
		log_warnx("%s: URL %zu: CDP error: %s", t->cr->base.visit.tag, t->url + 1,
			  jstr(error, "message") ? jstr(error, "message") : "?");
}

static void navigate(struct cr_tab *t)
{
	struct cdp *c = t->b->cdp;
	const char *url = t->cr->base.visit.urls[t->url];
	int ok = 1;

	ok &= cdp_call(c, t->session, "Page.enable", NULL, on_call_error, t) != 0;
	ok &= cdp_call(c, t->session, "Network.enable", NULL, on_call_error, t) != 0;
	ok &= cdp_call(c, t->session, "Page.setLifecycleEventsEnabled",
		       json_pack("{s:b}", "enabled", 1), on_call_error, t) != 0;
	t->state = TAB_NAVIGATING;
	t->nav_ms = now_ms(t->cr);
	t->deadline_ms = t->nav_ms + (uint64_t)t->cr->base.visit.page_timeout_s * 1000;
	ok &= cdp_call(c, t->session, "Page.navigate", json_pack("{s:s}", "url", url), on_navigate,
		       t) != 0;
	if (!ok) {
		tab_fail(t, PROTO_ERR_PROCESS_ERROR, 0, "cannot send to the browser");
		return;
	}
	driver_url_started(&t->cr->base, t->url);
}

static void on_attached(struct cdp *c, const json_t *result, const json_t *error, void *arg)
{
	struct cr_tab *t = arg;

	(void)c;
	set_str(&t->session, result ? jstr(result, "sessionId") : NULL);
	if (error || !t->session) {
		tab_fail(t, PROTO_ERR_PROCESS_ERROR, 0, "cannot attach to the tab");
		return;
	}
	navigate(t);
}

static void on_created(struct cdp *c, const json_t *result, const json_t *error, void *arg)
{
	struct cr_tab *t = arg;
	json_t *p;

	set_str(&t->target, result ? jstr(result, "targetId") : NULL);
	if (error || !t->target) {
		tab_fail(t, PROTO_ERR_PROCESS_ERROR, 0, "cannot open a tab");
		return;
	}
	p = json_pack("{s:s,s:b}", "targetId", t->target, "flatten", 1);
	if (!cdp_call(c, NULL, "Target.attachToTarget", p, on_attached, t))
		tab_fail(t, PROTO_ERR_PROCESS_ERROR, 0, "cannot send to the browser");
}

static void open_tab(struct cr_tab *t)
{
	json_t *p = json_pack("{s:s}", "url", "about:blank");

	t->state = TAB_OPENING;
	if (!cdp_call(t->b->cdp, NULL, "Target.createTarget", p, on_created, t))
		tab_fail(t, PROTO_ERR_PROCESS_ERROR, 0, "cannot send to the browser");
}

/* ---- events ---- */

static struct cr_tab *tab_of_session(struct cr_browser *b, const char *session)
{
	for (size_t i = b->first; session && i < b->first + b->n; i++) {
		struct cr_tab *t = &b->cr->tabs[i];

		if (t->session && strcmp(t->session, session) == 0)
			return t;
	}
	return NULL;
}

static struct cr_tab *tab_of_frame(struct cr_browser *b, const char *frame)
{
	for (size_t i = b->first; frame && i < b->first + b->n; i++) {
		struct cr_tab *t = &b->cr->tabs[i];

		if (t->target && strcmp(t->target, frame) == 0)
			return t;
	}
	return NULL;
}

static bool main_document(const struct cr_tab *t, const json_t *params)
{
	const char *frame = jstr(params, "frameId"), *type = jstr(params, "type");

	return frame && type && t->target && strcmp(frame, t->target) == 0 &&
	       strcmp(type, "Document") == 0;
}

static void on_request(struct cr_tab *t, const json_t *params)
{
	struct driver *d = &t->cr->base;
	struct driver_result *r = &d->results[t->url];
	const json_t *redirect = json_object_get(params, "redirectResponse");
	int rc = 0;

	if (!main_document(t, params))
		return;
	if (json_is_object(redirect) && jstr(redirect, "url"))
		rc = driver_add_hop(d, t->url, jstr(redirect, "url"), jint(redirect, "status"));
	else if (r->final_url) /* a new document after one was shown (script, refresh) */
		rc = driver_add_hop(d, t->url, r->final_url, r->status);
	if (!json_is_object(redirect) && r->final_url) {
		free(r->final_url);
		r->final_url = NULL;
		r->status = 0;
	}
	if (rc < 0)
		log_warnx("%s: URL %zu: out of memory for its redirects", d->visit.tag, t->url + 1);
}

static void on_response(struct cr_tab *t, const json_t *params)
{
	const json_t *resp = json_object_get(params, "response");

	if (!main_document(t, params) || !json_is_object(resp) || !jstr(resp, "url"))
		return;
	if (driver_set_final(&t->cr->base, t->url, jstr(resp, "url"), jint(resp, "status")) < 0)
		log_warnx("%s: out of memory for a final URL", t->cr->base.visit.tag);
}

static void on_frame_navigated(struct cr_tab *t, const json_t *params)
{
	const json_t *frame = json_object_get(params, "frame");
	struct driver_result *r = &t->cr->base.results[t->url];
	const char *url = json_is_object(frame) ? jstr(frame, "url") : NULL;

	if (!url || json_object_get(frame, "parentId") || t->state < TAB_NAVIGATING)
		return;
	if (!r->final_url || strcmp(r->final_url, url) != 0)
		(void)driver_set_final(&t->cr->base, t->url, url, 0); /* no HTTP response of it */
}

static void on_lifecycle(struct cr_tab *t, const json_t *params)
{
	const char *name = jstr(params, "name"), *frame = jstr(params, "frameId");
	const char *loader = jstr(params, "loaderId");

	if (!name || strcmp(name, "load") != 0 || !frame || !t->target ||
	    strcmp(frame, t->target) != 0 || !loader)
		return;
	if (t->loader && strcmp(t->loader, loader) == 0)
		tab_loaded(t);
	else if (!t->loader)
		set_str(&t->early_load, loader);
}

static void on_tab_event(struct cr_tab *t, const char *method, const json_t *params)
{
	if (strcmp(method, "Network.requestWillBeSent") == 0)
		on_request(t, params);
	else if (strcmp(method, "Network.responseReceived") == 0)
		on_response(t, params);
	else if (strcmp(method, "Page.frameNavigated") == 0)
		on_frame_navigated(t, params);
	else if (strcmp(method, "Page.lifecycleEvent") == 0)
		on_lifecycle(t, params);
	else if (strcmp(method, "Page.javascriptDialogOpening") == 0)
		/* an alert() would hold the load event forever: answer it as a user would */
		(void)cdp_call(t->b->cdp, t->session, "Page.handleJavaScriptDialog",
			       json_pack("{s:b}", "accept", 1), NULL, NULL);
	else if (strcmp(method, "Inspector.targetCrashed") == 0 && t->state != TAB_DONE)
		tab_fail(t, PROTO_ERR_PROCESS_ERROR, 0, "the tab crashed");
}

static void on_download_begin(struct cr_browser *b, const json_t *params)
{
	struct cr_tab *t = tab_of_frame(b, jstr(params, "frameId"));
	const char *guid = jstr(params, "guid");

	if (!t)
		t = &b->cr->tabs[b->first]; /* a frame we do not know: the browser's first tab */
	b->cr->base.results[t->url].downloads++;
	log_info("%s: URL %zu: download of %s as '%s'", b->cr->base.visit.tag, t->url + 1,
		 jstr(params, "url") ? jstr(params, "url") : "?",
		 jstr(params, "suggestedFilename") ? jstr(params, "suggestedFilename") : "?");
	if (!guid || b->n_downloads == MAX_DOWNLOADS)
		return;
	snprintf(b->downloads[b->n_downloads].guid, sizeof(b->downloads[0].guid), "%s", guid);
	b->downloads[b->n_downloads++].tab = t->url;
	t->downloads_running++;
}

static void on_download_progress(struct cr_browser *b, const json_t *params)
{
	const char *guid = jstr(params, "guid"), *state = jstr(params, "state");

	if (!guid || !state || strcmp(state, "inProgress") == 0)
		return;
	for (size_t i = 0; i < b->n_downloads; i++) {
		struct cr_tab *t = &b->cr->tabs[b->downloads[i].tab];

		if (strcmp(b->downloads[i].guid, guid) != 0)
			continue;
		if (strcmp(state, "completed") == 0)
			b->cr->base.results[t->url].downloads_done++;
		b->downloads[i] = b->downloads[--b->n_downloads];
		if (t->downloads_running && --t->downloads_running == 0 &&
		    t->state == TAB_FINISHING && !t->shooting)
			tab_done(t);
		return;
	}
}

static void on_event(struct cdp *c, const char *session, const char *method, const json_t *params,
		     void *arg)
{
	struct cr_browser *b = arg;
	struct cr_tab *t;

	(void)c;
	if (!params)
		return;
	if (!session) {
		if (strcmp(method, "Browser.downloadWillBegin") == 0)
			on_download_begin(b, params);
		else if (strcmp(method, "Browser.downloadProgress") == 0)
			on_download_progress(b, params);
		return;
	}
	t = tab_of_session(b, session);
	if (t && t->state != TAB_DONE)
		on_tab_event(t, method, params);
}

static void on_closed(struct cdp *c, const char *reason, void *arg)
{
	struct cr_browser *b = arg;

	(void)c;
	for (size_t i = b->first; i < b->first + b->n; i++) {
		struct cr_tab *t = &b->cr->tabs[i];

		if (t->state == TAB_DONE)
			continue;
		log_warnx("%s: URL %zu: the browser's channel closed: %s", b->cr->base.visit.tag,
			  i + 1, reason);
		tab_fail(t, PROTO_ERR_PROCESS_ERROR, 0, reason);
	}
}

/* ---- driver kind ---- */

static void on_download_behavior(struct cdp *c, const json_t *result, const json_t *error,
				 void *arg)
{
	struct cr_browser *b = arg;

	(void)c;
	(void)result;
	if (error)
		log_warnx("%s: downloads stay unconfirmed: %s", b->cr->base.visit.tag,
			  jstr(error, "message") ? jstr(error, "message") : "?");
}

static int browser_start(struct cr_browser *b, char *err, size_t errlen)
{
	struct cdp_callbacks cb = {on_event, on_closed, b};
	struct driver *d = &b->cr->base;
	json_t *p;

	if (cdp_open(d->loop, b->client_w, b->client_r, 0, &cb, &b->cdp) < 0) {
		b->client_w = b->client_r = -1; /* closed by cdp_open */
		snprintf(err, errlen, "CDP channel: %s", strerror(errno));
		return -1;
	}
	b->client_w = b->client_r = -1;
	p = json_pack("{s:s,s:s,s:b}", "behavior", "allow", "downloadPath",
		      d->visit.downloads_dir ? d->visit.downloads_dir : "/tmp", "eventsEnabled", 1);
	(void)cdp_call(b->cdp, NULL, "Browser.setDownloadBehavior", p, on_download_behavior, b);
	for (size_t i = b->first; i < b->first + b->n; i++)
		open_tab(&b->cr->tabs[i]);
	return 0;
}

static int cr_start(struct driver *d, pid_t pid, char *err, size_t errlen)
{
	struct chromium *cr = (struct chromium *)d;
	uint64_t deadline = now_ms(cr) + (uint64_t)d->visit.page_timeout_s * 1000;

	(void)pid;
	for (size_t i = 0; i < d->visit.n_urls; i++)
		cr->tabs[i].deadline_ms = deadline; /* for opening the tab */
	if (uv_timer_start(&cr->tick, on_tick, TICK_MS, TICK_MS) != 0) {
		snprintf(err, errlen, "cannot start a timer");
		return -1;
	}
	for (size_t i = 0; i < cr->n_browsers; i++) {
		if (browser_start(&cr->browsers[i], err, errlen) < 0)
			return -1;
	}
	return 0;
}

static void cr_stop(struct driver *d)
{
	struct chromium *cr = (struct chromium *)d;

	cr->stopped = true;
	for (size_t i = 0; i < cr->n_browsers; i++) {
		struct cr_browser *b = &cr->browsers[i];

		cdp_free(b->cdp);
		b->cdp = NULL;
		if (b->client_w >= 0)
			close(b->client_w);
		if (b->client_r >= 0)
			close(b->client_r);
		b->client_w = b->client_r = -1;
	}
	if (cr->tick_init) {
		uv_timer_stop(&cr->tick);
		if (d->freeing)
			driver_close_handle(d, (uv_handle_t *)&cr->tick);
	}
}

static void cr_destroy(struct driver *d)
{
	struct chromium *cr = (struct chromium *)d;

	for (size_t i = 0; cr->tabs && i < cr->n_tabs; i++) {
		free(cr->tabs[i].target);
		free(cr->tabs[i].session);
		free(cr->tabs[i].loader);
		free(cr->tabs[i].early_load);
	}
	free(cr->tabs);
	free(cr);
}

/* ---- launch ---- */

/* Two pipes: guest reads commands on fds[2k] (its fd 3), writes on fds[2k+1] (its fd 4). */
static int make_pipes(struct chromium *cr, struct cr_browser *b, char *err, size_t errlen)
{
	struct driver_launch *l = &cr->base.launch;
	int cmd[2], msg[2];

	if (pipe2(cmd, O_CLOEXEC) < 0) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		return -1;
	}
	if (pipe2(msg, O_CLOEXEC) < 0) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		close(cmd[0]);
		close(cmd[1]);
		return -1;
	}
	l->fds[l->n_fds++] = cmd[0];
	l->fds[l->n_fds++] = msg[1];
	b->client_w = cmd[1];
	b->client_r = msg[0];
	return 0;
}

static void profile_of(const struct driver_visit *v, size_t i, char out[64])
{
	char key[80];

	/* one URL's hash (per URL in "bulk"), else of the group's tag and first URL */
	snprintf(key, sizeof(key), "%s#%zu", v->tag, i);
	snprintf(out, 64, "%s%016llx", CHROMIUM_PROFILE_BASE,
		 (unsigned long long)(util_fnv1a64(key) ^ util_fnv1a64(v->urls[i])));
}

struct argv_builder {
	char **argv;
	size_t n, max;
	bool failed;
};

static void add_arg(struct argv_builder *a, const char *s)
{
	if (a->failed)
		return; /* argv stays NULL-terminated at the first failure */
	if (!a->argv || a->n >= a->max - 1 || !(a->argv[a->n++] = strdup(s)))
		a->failed = true;
}

/* ARGV: LAUNCH_SCRIPT, its arguments, then the browser's argv. */
static int build_argv(struct chromium *cr)
{
	struct driver_visit *v = &cr->base.visit;
	struct argv_builder a = {.max = ARRAY_SIZE(flags) + DRIVER_PROCESSES_MAX_URLS + 12};
	char profile[64], arg[32];

	a.argv = calloc(a.max, sizeof(*a.argv));
	cr->base.launch.argv = a.argv; /* freed with the driver, also when incomplete */
	snprintf(arg, sizeof(arg), "%zu", cr->n_browsers);
	add_arg(&a, BASH_PATH);
	add_arg(&a, "-c");
	add_arg(&a, LAUNCH_SCRIPT);
	add_arg(&a, "bash");
	add_arg(&a, arg);
	add_arg(&a, prefs);
	for (size_t i = 0; i < cr->n_browsers; i++) {
		profile_of(v, i, profile);
		add_arg(&a, profile);
	}
	add_arg(&a, cr->base.launch.exe);
	for (size_t i = 0; i < ARRAY_SIZE(flags); i++)
		add_arg(&a, flags[i]);
	add_arg(&a, "--remote-debugging-pipe");
	return a.failed ? -1 : 0;
}

static int cr_prepare(struct driver *d, char *err, size_t errlen)
{
	struct chromium *cr = (struct chromium *)d;
	size_t n = d->visit.n_urls;

	snprintf(d->launch.exe, sizeof(d->launch.exe), "%s",
		 d->visit.exe ? d->visit.exe : CHROMIUM_PATH);
	cr->n_browsers = d->visit.layout == DRIVER_LAYOUT_PROCESSES ? n : 1;
	cr->tabs = calloc(n, sizeof(*cr->tabs));
	cr->n_tabs = cr->tabs ? n : 0;
	if (!cr->tabs || uv_timer_init(d->loop, &cr->tick) != 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	cr->tick_init = true;
	cr->tick.data = cr;
	for (size_t i = 0; i < cr->n_browsers; i++) {
		struct cr_browser *b = &cr->browsers[i];

		*b = (struct cr_browser){.cr = cr, .client_w = -1, .client_r = -1};
		b->first = cr->n_browsers > 1 ? i : 0;
		b->n = cr->n_browsers > 1 ? 1 : n;
		if (make_pipes(cr, b, err, errlen) < 0)
			return -1;
	}
	for (size_t i = 0; i < n; i++) {
		cr->tabs[i].cr = cr;
		cr->tabs[i].url = i;
		cr->tabs[i].b = &cr->browsers[cr->n_browsers > 1 ? i : 0];
	}
	d->launch.launcher = true; /* the shell that writes the profiles */
	if (build_argv(cr) < 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

const struct driver_ops chromium_driver_ops = {
    .program = "chromium",
    .prepare = cr_prepare,
    .start = cr_start,
    .stop = cr_stop,
    .destroy = cr_destroy,
    .size = sizeof(struct chromium),
};
