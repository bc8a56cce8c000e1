/*
 * firefox.c - see firefox.h.
 *
 * The guest program is a launcher shell (LAUNCH_SCRIPT): it makes each
 * browser's profile directory, writes its user.js (the quiet prefs plus
 * the browser's Marionette port) and runs firefox-esr as its child, so
 * the shell stays plumbing and the browser is what the sensor reports.
 *
 * Per browser ("dac": one for the group; "bulk": one per URL, ports 2828,
 * 2829, ...), once the launcher runs: connect to 127.0.0.1:PORT with a
 * socket made in the guest's network namespace, retried every
 * CONNECT_RETRY_MS until Marionette listens (FIREFOX_START_S at most);
 * WebDriver:NewSession (page load strategy "normal", page-load timeout =
 * the page timeout); then per URL, one after another on the connection
 * (Marionette runs one command at a time): a new tab for every URL but the
 * first (WebDriver:NewWindow, WebDriver:SwitchToWindow), WebDriver:Navigate
 * (its reply comes after the load event, or with the error page or the
 * timeout), WebDriver:GetCurrentURL (the final URL) and, for a loaded page,
 * the navigation entry's HTTP status (WebDriver:ExecuteScript in a
 * Marionette sandbox, so the page's own scripts cannot fake it).  A loaded
 * page then stays visit_time_s in its tab while the next URL loads in the
 * next tab.  Every step has a deadline; a late reply is ignored.
 */
#include "client/apps/firefox.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client/apps/marionette.h"
#include "common/log.h"
#include "common/protocol.h"
#include "common/util.h"
#include "guest/netns.h"

#define TICK_MS          100
#define CONNECT_RETRY_MS 100
#define SH_PATH          "/bin/sh"
#define MAX_ERROR_TEXT   300 /* bytes of Marionette's message kept as the error text */

/*
 * Arguments: the user.js text, the browser, then one profile per browser.
 * The environment: MOZ_REMOTE_SETTINGS_DEVTOOLS=1 is the only way a release
 * build honours services.settings.server (remote settings would otherwise
 * poll firefox.settings.services.mozilla.com); MOZ_CRASHREPORTER_DISABLE=1
 * stops the crash helper (a daemon outliving the browser, and reports to
 * Mozilla).  The browsers are children, never exec'd: the shell is the
 * group's launcher (its own records are plumbing), a browser is watched.
 */
#define LAUNCH_SCRIPT                                                                              \
	"u=$1; f=$2; shift 2; export MOZ_REMOTE_SETTINGS_DEVTOOLS=1 MOZ_CRASHREPORTER_DISABLE=1; " \
	"/bin/mkdir -p -m 700 -- \"$@\" || exit 1; n=2828; for p do "                              \
	"printf '%s\\nuser_pref(\"marionette.port\", %d);\\n' \"$u\" \"$n\" > \"$p/user.js\" "     \
	"|| exit 1; \"$f\" --headless --no-remote --marionette --profile \"$p\" about:blank & "    \
	"n=$((n + 1)); done; wait"

/* In the Marionette sandbox "capture": the page cannot replace performance.* there. */
#define STATUS_SCRIPT                                                                              \
	"const e = performance.getEntriesByType(\"navigation\")[0]; "                              \
	"return e ? [e.responseStatus, e.redirectCount] : null;"

/*
 * The quiet profile (docs/firefox.md has the reason for each line): no
 * update, telemetry, normandy, remote settings, captive-portal or
 * connectivity checks, Safe Browsing, push, crash reports, first-run pages,
 * speculative connections or other service look-ups; downloads without a
 * prompt.  Marionette's own "recommended preferences" are off: they turn
 * off the popup blocker and other protections a real user has.
 */
static const char user_js[] =
    "user_pref(\"remote.prefs.recommended\", false);\n"
    "user_pref(\"app.update.disabledForTesting\", true);\n"
    "user_pref(\"app.update.auto\", false);\n"
    "user_pref(\"app.normandy.enabled\", false);\n"
    "user_pref(\"app.normandy.api_url\", \"\");\n"
    "user_pref(\"app.shield.optoutstudies.enabled\", false);\n"
    "user_pref(\"services.settings.server\", \"data:,#remote-settings-dummy/v1\");\n"
    "user_pref(\"security.remote_settings.intermediates.enabled\", false);\n"
    "user_pref(\"security.remote_settings.crlite_filters.enabled\", false);\n"
    "user_pref(\"network.captive-portal-service.enabled\", false);\n"
    "user_pref(\"network.connectivity-service.enabled\", false);\n"
    "user_pref(\"network.trr.mode\", 5);\n"
    "user_pref(\"network.dns.disablePrefetch\", true);\n"
    "user_pref(\"network.prefetch-next\", false);\n"
    "user_pref(\"network.http.speculative-parallel-limit\", 0);\n"
    "user_pref(\"browser.places.speculativeConnect.enabled\", false);\n"
    "user_pref(\"network.sntp.pools\", \"\");\n"
    "user_pref(\"dom.push.connection.enabled\", false);\n"
    "user_pref(\"dom.push.serverURL\", \"\");\n"
    "user_pref(\"geo.provider.network.url\", \"\");\n"
    "user_pref(\"browser.region.network.url\", \"\");\n"
    "user_pref(\"browser.region.update.enabled\", false);\n"
    "user_pref(\"browser.safebrowsing.malware.enabled\", false);\n"
    "user_pref(\"browser.safebrowsing.phishing.enabled\", false);\n"
    "user_pref(\"browser.safebrowsing.downloads.enabled\", false);\n"
    "user_pref(\"browser.safebrowsing.downloads.remote.enabled\", false);\n"
    "user_pref(\"browser.safebrowsing.blockedURIs.enabled\", false);\n"
    "user_pref(\"browser.safebrowsing.update.enabled\", false);\n"
    "user_pref(\"browser.safebrowsing.provider.mozilla.updateURL\", \"\");\n"
    "user_pref(\"browser.safebrowsing.provider.google4.updateURL\", \"\");\n"
    "user_pref(\"browser.safebrowsing.provider.google.updateURL\", \"\");\n"
    "user_pref(\"datareporting.healthreport.uploadEnabled\", false);\n"
    "user_pref(\"datareporting.policy.dataSubmissionEnabled\", false);\n"
    "user_pref(\"datareporting.policy.dataSubmissionPolicyBypassNotification\", true);\n"
    "user_pref(\"datareporting.usage.uploadEnabled\", false);\n"
    "user_pref(\"telemetry.fog.test.localhost_port\", -1);\n"
    "user_pref(\"toolkit.telemetry.enabled\", false);\n"
    "user_pref(\"toolkit.telemetry.unified\", false);\n"
    "user_pref(\"toolkit.telemetry.archive.enabled\", false);\n"
    "user_pref(\"toolkit.telemetry.server\", \"\");\n"
    "user_pref(\"browser.ping-centre.telemetry\", false);\n"
    "user_pref(\"toolkit.crashreporter.enabled\", false);\n"
    "user_pref(\"browser.tabs.crashReporting.sendReport\", false);\n"
    "user_pref(\"browser.crashReports.unsubmittedCheck.autoSubmit2\", false);\n"
    "user_pref(\"extensions.update.enabled\", false);\n"
    "user_pref(\"extensions.getAddons.cache.enabled\", false);\n"
    "user_pref(\"extensions.getAddons.discovery.api_url\", \"data:, \");\n"
    "user_pref(\"extensions.systemAddon.update.enabled\", false);\n"
    "user_pref(\"media.gmp-manager.url\", \"\");\n"
    "user_pref(\"media.gmp-gmpopenh264.enabled\", false);\n"
    "user_pref(\"general.useragent.updates.enabled\", false);\n"
    "user_pref(\"browser.search.update\", false);\n"
    "user_pref(\"browser.discovery.enabled\", false);\n"
    "user_pref(\"browser.translations.enable\", false);\n"
    "user_pref(\"browser.ml.enable\", false);\n"
    "user_pref(\"browser.backup.enabled\", false);\n"
    "user_pref(\"identity.fxaccounts.enabled\", false);\n"
    "user_pref(\"browser.newtabpage.enabled\", false);\n"
    "user_pref(\"browser.newtabpage.activity-stream.feeds.topsites\", false);\n"
    "user_pref(\"browser.newtabpage.activity-stream.feeds.system.topsites\", false);\n"
    "user_pref(\"browser.newtabpage.activity-stream.default.sites\", \"\");\n"
    "user_pref(\"browser.topsites.contile.enabled\", false);\n"
    "user_pref(\"browser.urlbar.suggest.quicksuggest.sponsored\", false);\n"
    "user_pref(\"browser.urlbar.quicksuggest.enabled\", false);\n"
    "user_pref(\"browser.urlbar.suggest.searches\", false);\n"
    "user_pref(\"browser.urlbar.merino.endpointURL\", \"\");\n"
    "user_pref(\"browser.pagethumbnails.capturing_disabled\", true);\n"
    "user_pref(\"browser.startup.homepage_override.mstone\", \"ignore\");\n"
    "user_pref(\"browser.startup.page\", 0);\n"
    "user_pref(\"browser.startup.homepage\", \"about:blank\");\n"
    "user_pref(\"startup.homepage_welcome_url\", \"about:blank\");\n"
    "user_pref(\"startup.homepage_welcome_url.additional\", \"\");\n"
    "user_pref(\"browser.aboutwelcome.enabled\", false);\n"
    "user_pref(\"termsofuse.bypassNotification\", true);\n"
    "user_pref(\"browser.shell.checkDefaultBrowser\", false);\n"
    "user_pref(\"browser.download.useDownloadDir\", true);\n"
    "user_pref(\"browser.download.always_ask_before_handling_new_types\", false);\n"
    "user_pref(\"browser.download.start_downloads_in_tmp_dir\", false);\n"
    "user_pref(\"browser.download.panel.shown\", true);\n";

const char *firefox_user_js(void)
{
	return user_js;
}

/* ---- error pages ---- */

/* Names of the error pages, indexed by enum firefox_net_error (net-errors.mjs of 153). */
static const char *const net_error_names[] = {
    [FIREFOX_NE_UNKNOWN] = "",
    [FIREFOX_NE_DNS_NOT_FOUND] = "dnsNotFound",
    [FIREFOX_NE_CONNECTION_FAILURE] = "connectionFailure",
    [FIREFOX_NE_NET_TIMEOUT] = "netTimeout",
    [FIREFOX_NE_NET_RESET] = "netReset",
    [FIREFOX_NE_NET_INTERRUPT] = "netInterrupt",
    [FIREFOX_NE_NET_OFFLINE] = "netOffline",
    [FIREFOX_NE_REDIRECT_LOOP] = "redirectLoop",
    [FIREFOX_NE_UNKNOWN_SOCKET_TYPE] = "unknownSocketType",
    [FIREFOX_NE_NSS_FAILURE] = "nssFailure2",
    [FIREFOX_NE_NSS_BAD_CERT] = "nssBadCert",
    [FIREFOX_NE_CONTENT_ENCODING] = "contentEncodingError",
    [FIREFOX_NE_CORRUPTED_CONTENT] = "corruptedContentErrorv2",
    [FIREFOX_NE_UNSAFE_CONTENT_TYPE] = "unsafeContentType",
    [FIREFOX_NE_DENIED_PORT] = "deniedPortAccess",
    [FIREFOX_NE_PROXY_CONNECT] = "proxyConnectFailure",
    [FIREFOX_NE_PROXY_RESOLVE] = "proxyResolveFailure",
    [FIREFOX_NE_FILE_NOT_FOUND] = "fileNotFound",
    [FIREFOX_NE_FILE_ACCESS_DENIED] = "fileAccessDenied",
    [FIREFOX_NE_NOT_CACHED] = "notCached",
    [FIREFOX_NE_PROTOCOL_ERROR] = "networkProtocolError",
    [FIREFOX_NE_INADEQUATE_SECURITY] = "inadequateSecurityError",
    [FIREFOX_NE_SSLV3_USED] = "sslv3Used",
    [FIREFOX_NE_BLOCKED_BY_POLICY] = "blockedByPolicy",
    [FIREFOX_NE_CSP_BLOCKED] = "cspBlocked",
    [FIREFOX_NE_XFO_BLOCKED] = "xfoBlocked",
    [FIREFOX_NE_BLOCKED_BY_COOP] = "blockedByCOOP",
    [FIREFOX_NE_BLOCKED_BY_COEP] = "blockedByCOEP",
    [FIREFOX_NE_INVALID_HEADER] = "invalidHeaderValue",
    [FIREFOX_NE_CAPTIVE_PORTAL] = "captivePortal",
    [FIREFOX_NE_VPN_FAILURE] = "vpnFailure",
    [FIREFOX_NE_HTTP_AUTH_DISABLED] = "basicHttpAuthDisabled",
};

/* Copies the "e=" value of an about:neterror/about:certerror URL in MESSAGE into NAME. */
static bool error_page_name(const char *message, char *name, size_t namelen)
{
	static const char *const pages[] = {"about:neterror?e=", "about:certerror?e="};
	const char *p = NULL;
	size_t n = 0;

	for (size_t i = 0; i < ARRAY_SIZE(pages) && !p; i++) {
		p = strstr(message, pages[i]);
		if (p)
			p += strlen(pages[i]);
	}
	if (!p || namelen == 0)
		return false;
	while (n + 1 < namelen && ((p[n] >= 'a' && p[n] <= 'z') || (p[n] >= 'A' && p[n] <= 'Z') ||
				   (p[n] >= '0' && p[n] <= '9')))
		n++;
	memcpy(name, p, n);
	name[n] = '\0';
	return true;
}

static bool page_error(const char *name, uint32_t *major, uint32_t *minor)
{
	if (strcmp(name, "httpErrorPage") == 0 || strcmp(name, "serverError") == 0)
		return false; /* an HTTP error answer with an empty body: the server answered */
	if (strcmp(name, "malformedURI") == 0 || strcmp(name, "unknownProtocolFound") == 0) {
		*major = PROTO_ERR_INVALID_URL;
		return true;
	}
	*major = PROTO_ERR_NETWORK_ERROR;
	for (size_t i = 1; i < ARRAY_SIZE(net_error_names); i++) {
		if (strcmp(name, net_error_names[i]) == 0)
			*minor = (uint32_t)i;
	}
	return true;
}

bool firefox_nav_error(const char *kind, const char *message, uint32_t *major, uint32_t *minor,
		       char *name, size_t namelen)
{
	*major = *minor = 0;
	if (namelen)
		name[0] = '\0';
	if (!kind || !kind[0])
		return false;
	if (strcmp(kind, "unknown error") == 0 && message &&
	    error_page_name(message, name, namelen))
		return page_error(name, major, minor);
	if (strcmp(kind, "unexpected alert open") == 0)
		return false; /* the page loaded and opened a dialog */
	if (strcmp(kind, "timeout") == 0)
		*major = PROTO_ERR_TIMEOUT_ERROR;
	else if (strcmp(kind, "invalid argument") == 0)
		*major = PROTO_ERR_INVALID_URL;
	else
		*major = PROTO_ERR_PROCESS_ERROR;
	return true;
}

/* ---- the driver's state ---- */

enum ff_step {
	FF_WAITING = 0, /* not started */
	FF_OPENING,     /* new tab requested and switched to */
	FF_NAVIGATING,  /* WebDriver:Navigate sent */
	FF_QUERYING,    /* final URL and status asked for */
	FF_STAYING,     /* loaded: its visit time runs */
	FF_DONE,
};

struct firefox;
struct ff_browser;

struct ff_url {
	struct ff_browser *b;
	size_t i; /* index in the visit */
	enum ff_step step;
	bool loaded;          /* the load event came (or the server answered) */
	uint64_t nav_ms;      /* loop time WebDriver:Navigate was sent */
	uint64_t deadline_ms; /* of the current step */
};

struct ff_browser {
	struct firefox *ff;
	unsigned port;
	size_t first, n, next; /* its URLs; the next one to start */
	struct marionette *mn;
	bool session;      /* WebDriver:NewSession succeeded */
	uint64_t retry_ms; /* next connect attempt */
	bool gone;         /* the connection ended after it was up */
};

struct firefox {
	struct driver base; /* first: a struct driver * is a struct firefox * */
	struct ff_browser browsers[DRIVER_PROCESSES_MAX_URLS];
	size_t n_browsers;
	struct ff_url *urls;
	int netns_fd;               /* the guest's network namespace, -1 before start */
	uint64_t start_deadline_ms; /* Marionette must answer by then */
	uv_timer_t tick;
	bool tick_init;
	bool stopped;
};

static uint64_t now_ms(const struct firefox *ff)
{
	return uv_now(ff->base.loop);
}

static const char *tag(const struct firefox *ff)
{
	return ff->base.visit.tag;
}

static void check_all_done(struct firefox *ff)
{
	for (size_t i = 0; i < ff->base.visit.n_urls; i++) {
		if (ff->urls[i].step != FF_DONE)
			return;
	}
	if (ff->tick_init)
		uv_timer_stop(&ff->tick);
	driver_done(&ff->base);
}

static void url_done(struct ff_url *u)
{
	u->step = FF_DONE;
	check_all_done(u->b->ff);
}

/* URL U failed (a loaded page keeps its outcome); TEXT is cut to MAX_ERROR_TEXT. */
static void url_fail(struct ff_url *u, uint32_t major, uint32_t minor, const char *text)
{
	char cut[MAX_ERROR_TEXT + 1];

	snprintf(cut, sizeof(cut), "%s", text ? text : "");
	if (!u->loaded)
		driver_url_fail(&u->b->ff->base, u->i, major, minor, text ? cut : NULL);
	url_done(u);
}

/* Every URL of B that is not done fails with MAJOR. */
static void browser_fail(struct ff_browser *b, uint32_t major, const char *why)
{
	for (size_t i = b->first; i < b->first + b->n; i++) {
		struct ff_url *u = &b->ff->urls[i];

		if (u->step == FF_DONE)
			continue;
		if (u->step == FF_STAYING) {
			url_done(u); /* loaded and visited; its stay was cut short */
			continue;
		}
		log_warnx("%s: URL %zu: %s", tag(b->ff), i + 1, why);
		url_fail(u, major, 0, why);
	}
}

static void start_next(struct ff_browser *b);

/* ---- one URL ---- */

static void url_stay(struct ff_url *u)
{
	struct firefox *ff = u->b->ff;

	if (!u->loaded) {
		url_done(u); /* an error page: nothing to stay for */
	} else {
		u->step = FF_STAYING;
		u->deadline_ms = now_ms(ff) + (uint64_t)ff->base.visit.visit_time_s * 1000;
	}
	start_next(u->b);
}

static void on_status(struct marionette *m, const json_t *error, const json_t *result, void *arg)
{
	struct ff_url *u = arg;
	struct driver_result *r = &u->b->ff->base.results[u->i];
	const json_t *status = json_array_get(json_object_get(result, "value"), 0);

	(void)m;
	if (u->step != FF_QUERYING)
		return;
	/* the sandbox keeps page scripts out, the range keeps nonsense out */
	if (!error && json_is_integer(status) && json_integer_value(status) >= 100 &&
	    json_integer_value(status) <= 599)
		r->status = (int)json_integer_value(status);
	url_stay(u);
}

/* The final URL; a different one than asked for means the way had hops (status unknown). */
static void record_final(struct ff_url *u, const char *url)
{
	struct driver *d = &u->b->ff->base;
	const char *asked = d->visit.urls[u->i];
	size_t alen = strlen(asked);
	bool same = strcmp(url, asked) == 0 ||
		    (strncmp(url, asked, alen) == 0 && strcmp(url + alen, "/") == 0);

	if ((!same && driver_add_hop(d, u->i, asked, 0) < 0) || driver_set_final(d, u->i, url, 0))
		log_warnx("%s: URL %zu: out of memory for its final URL", tag(u->b->ff), u->i + 1);
}

static void on_current_url(struct marionette *m, const json_t *error, const json_t *result,
			   void *arg)
{
	struct ff_url *u = arg;
	const char *url = json_string_value(json_object_get(result, "value"));
	json_t *p;

	if (u->step != FF_QUERYING)
		return;
	if (!error && url && url[0])
		record_final(u, url);
	if (!u->loaded) {
		url_stay(u);
		return;
	}
	p = json_pack("{s:s,s:[],s:s}", "script", STATUS_SCRIPT, "args", "sandbox", "capture");
	if (!marionette_call(m, "WebDriver:ExecuteScript", p, on_status, u))
		url_stay(u);
}

static void on_navigate(struct marionette *m, const json_t *error, const json_t *result, void *arg)
{
	struct ff_url *u = arg;
	struct firefox *ff = u->b->ff;
	uint32_t major, minor;
	char name[64], text[MAX_ERROR_TEXT + 1];

	(void)result;
	if (u->step != FF_NAVIGATING)
		return;
	if (firefox_nav_error(marionette_error_kind(error), marionette_error_message(error), &major,
			      &minor, name, sizeof(name))) {
		if (name[0])
			snprintf(text, sizeof(text), "about:neterror?e=%s", name);
		else
			snprintf(text, sizeof(text), "%s: %s", marionette_error_kind(error),
				 marionette_error_message(error));
		driver_url_fail(&ff->base, u->i, major, minor, text);
	} else {
		u->loaded = true;
		ff->base.results[u->i].load_ms =
		    now_ms(ff) > u->nav_ms ? now_ms(ff) - u->nav_ms : 1;
	}
	u->step = FF_QUERYING;
	u->deadline_ms = now_ms(ff) + FIREFOX_REPLY_GRACE_MS + FIREFOX_SCRIPT_MS;
	if (major == PROTO_ERR_PROCESS_ERROR ||
	    !marionette_call(m, "WebDriver:GetCurrentURL", NULL, on_current_url, u))
		url_stay(u);
}

static void navigate(struct ff_url *u)
{
	struct firefox *ff = u->b->ff;
	json_t *p = json_pack("{s:s}", "url", ff->base.visit.urls[u->i]);

	u->step = FF_NAVIGATING;
	u->nav_ms = now_ms(ff);
	u->deadline_ms =
	    u->nav_ms + (uint64_t)ff->base.visit.page_timeout_s * 1000 + FIREFOX_REPLY_GRACE_MS;
	if (!marionette_call(u->b->mn, "WebDriver:Navigate", p, on_navigate, u)) {
		url_fail(u, PROTO_ERR_PROCESS_ERROR, 0, "cannot send to the browser");
		start_next(u->b);
		return;
	}
	driver_url_started(&ff->base, u->i);
}

static void on_switched(struct marionette *m, const json_t *error, const json_t *result, void *arg)
{
	struct ff_url *u = arg;

	(void)m;
	(void)result;
	if (u->step != FF_OPENING)
		return;
	if (error) {
		url_fail(u, PROTO_ERR_PROCESS_ERROR, 0, "cannot switch to a new tab");
		start_next(u->b);
		return;
	}
	navigate(u);
}

static void on_new_window(struct marionette *m, const json_t *error, const json_t *result,
			  void *arg)
{
	struct ff_url *u = arg;
	const char *handle = json_string_value(json_object_get(result, "handle"));

	if (u->step != FF_OPENING)
		return;
	if (error || !handle ||
	    !marionette_call(m, "WebDriver:SwitchToWindow", json_pack("{s:s}", "handle", handle),
			     on_switched, u)) {
		url_fail(u, PROTO_ERR_PROCESS_ERROR, 0, "cannot open a tab");
		start_next(u->b);
	}
}

/* Starts B's next URL: in the first tab, or in a new one. */
static void start_next(struct ff_browser *b)
{
	struct ff_url *u;

	if (b->next >= b->first + b->n || !b->session)
		return;
	u = &b->ff->urls[b->next++];
	if (u == &b->ff->urls[b->first]) {
		navigate(u);
		return;
	}
	u->step = FF_OPENING;
	u->deadline_ms = now_ms(b->ff) + (uint64_t)b->ff->base.visit.page_timeout_s * 1000;
	if (!marionette_call(b->mn, "WebDriver:NewWindow", json_pack("{s:s}", "type", "tab"),
			     on_new_window, u)) {
		url_fail(u, PROTO_ERR_PROCESS_ERROR, 0, "cannot send to the browser");
		start_next(b);
	}
}

/* ---- the connection ---- */

static void on_session(struct marionette *m, const json_t *error, const json_t *result, void *arg)
{
	struct ff_browser *b = arg;

	(void)m;
	(void)result;
	if (error) {
		browser_fail(b, PROTO_ERR_PROCESS_ERROR, "Marionette refused a session");
		return;
	}
	b->session = true;
	start_next(b);
}

static void on_ready(struct marionette *m, void *arg)
{
	struct ff_browser *b = arg;
	const struct driver_visit *v = &b->ff->base.visit;
	/* flat capabilities: Marionette itself does not take WebDriver's alwaysMatch */
	json_t *caps = json_pack("{s:s,s:s,s:{s:I,s:I}}", "pageLoadStrategy", "normal",
				 "unhandledPromptBehavior", "accept", "timeouts", "pageLoad",
				 (json_int_t)v->page_timeout_s * 1000, "script",
				 (json_int_t)FIREFOX_SCRIPT_MS);

	log_debug("%s: Marionette on port %u answers", tag(b->ff), b->port);
	if (!marionette_call(m, "WebDriver:NewSession", caps, on_session, b))
		browser_fail(b, PROTO_ERR_PROCESS_ERROR, "cannot send to the browser");
}

static void on_closed(struct marionette *m, bool connected, const char *reason, void *arg)
{
	struct ff_browser *b = arg;
	struct firefox *ff = b->ff;

	marionette_free(m); /* freed from the loop, after this callback */
	b->mn = NULL;
	if (!connected && now_ms(ff) < ff->start_deadline_ms) {
		b->retry_ms = now_ms(ff) + CONNECT_RETRY_MS; /* not listening yet */
		return;
	}
	b->gone = true;
	browser_fail(b, PROTO_ERR_PROCESS_ERROR, reason);
}

static void try_connect(struct ff_browser *b)
{
	struct marionette_callbacks cb = {.on_ready = on_ready, .on_closed = on_closed, .arg = b};
	struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)b->port)};
	char err[256];
	int fd;

	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = net_socket_in(b->ff->netns_fd, AF_INET, SOCK_STREAM, 0, err, sizeof(err));
	if (fd < 0 || marionette_connect(b->ff->base.loop, fd, &addr, 0, &cb, &b->mn) < 0) {
		b->gone = true;
		browser_fail(b, PROTO_ERR_PROCESS_ERROR,
			     fd < 0 ? err : "cannot connect to Marionette");
	}
}

/* ---- time ---- */

static void url_tick(struct ff_url *u, uint64_t now)
{
	if (u->step == FF_WAITING || u->step == FF_DONE || now < u->deadline_ms)
		return;
	switch (u->step) {
	case FF_NAVIGATING:
		url_fail(u, PROTO_ERR_TIMEOUT_ERROR, 0, "no reply to the navigation in time");
		start_next(u->b); /* queued behind it: the browser may still come back */
		break;
	case FF_OPENING:
	case FF_QUERYING:
		log_warnx("%s: URL %zu: the browser did not answer in time", tag(u->b->ff),
			  u->i + 1);
		if (u->step == FF_OPENING)
			url_fail(u, PROTO_ERR_PROCESS_ERROR, 0, "no new tab in time");
		else
			url_stay(u);
		break;
	case FF_STAYING: url_done(u); break;
	case FF_WAITING:
	case FF_DONE: break;
	}
}

static void browser_tick(struct ff_browser *b, uint64_t now)
{
	if (b->mn || b->gone || b->session)
		return;
	if (now >= b->ff->start_deadline_ms) {
		b->gone = true;
		browser_fail(b, PROTO_ERR_PROCESS_ERROR, "Marionette did not answer in time");
	} else if (now >= b->retry_ms) {
		try_connect(b);
	}
}

static void on_tick(uv_timer_t *h)
{
	struct firefox *ff = h->data;
	uint64_t now = now_ms(ff);

	for (size_t i = 0; i < ff->n_browsers && !ff->stopped && !ff->base.done; i++)
		browser_tick(&ff->browsers[i], now);
	for (size_t i = 0; i < ff->base.visit.n_urls && !ff->stopped && !ff->base.done; i++)
		url_tick(&ff->urls[i], now);
}

/* ---- driver kind ---- */

static int ff_start(struct driver *d, pid_t pid, char *err, size_t errlen)
{
	struct firefox *ff = (struct firefox *)d;
	char path[64];

	/* the guest's network namespace, where Marionette listens on 127.0.0.1 */
	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
	ff->netns_fd = open(path, O_RDONLY | O_CLOEXEC);
	if (ff->netns_fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	ff->start_deadline_ms = now_ms(ff) + (uint64_t)FIREFOX_START_S * 1000;
	if (uv_timer_start(&ff->tick, on_tick, TICK_MS, TICK_MS) != 0) {
		snprintf(err, errlen, "cannot start a timer");
		return -1;
	}
	for (size_t i = 0; i < ff->n_browsers; i++)
		ff->browsers[i].retry_ms = now_ms(ff); /* the first attempt at the first tick */
	return 0;
}

static void ff_stop(struct driver *d)
{
	struct firefox *ff = (struct firefox *)d;

	ff->stopped = true;
	for (size_t i = 0; i < ff->n_browsers; i++) {
		marionette_free(ff->browsers[i].mn);
		ff->browsers[i].mn = NULL;
	}
	if (ff->netns_fd >= 0)
		close(ff->netns_fd);
	ff->netns_fd = -1;
	if (ff->tick_init) {
		uv_timer_stop(&ff->tick);
		if (d->freeing)
			driver_close_handle(d, (uv_handle_t *)&ff->tick);
	}
}

static void ff_destroy(struct driver *d)
{
	struct firefox *ff = (struct firefox *)d;

	free(ff->urls);
	free(ff);
}

/* ---- launch ---- */

static void profile_of(const struct driver_visit *v, size_t i, char out[64])
{
	char key[80];

	snprintf(key, sizeof(key), "%s#%zu", v->tag, i);
	snprintf(out, 64, "%s%016llx", FIREFOX_PROFILE_BASE,
		 (unsigned long long)(util_fnv1a64(key) ^ util_fnv1a64(v->urls[i])));
}

/*
 * The user.js of this visit: the quiet prefs, and the download directory
 * (a JSON string is a valid JavaScript string literal) when one is given.
 */
static char *visit_user_js(const struct driver_visit *v)
{
	json_t *dir = v->downloads_dir ? json_string(v->downloads_dir) : NULL;
	char *quoted = dir ? json_dumps(dir, JSON_ENCODE_ANY) : NULL;
	char *out = NULL;
	int rc;

	json_decref(dir);
	if (v->downloads_dir && !quoted)
		return NULL;
	if (quoted)
		rc = asprintf(&out,
			      "%suser_pref(\"browser.download.folderList\", 2);\n"
			      "user_pref(\"browser.download.dir\", %s);\n",
			      user_js, quoted);
	else
		rc = asprintf(&out, "%suser_pref(\"browser.download.folderList\", 1);\n", user_js);
	free(quoted);
	return rc < 0 ? NULL : out;
}

static int build_argv(struct firefox *ff)
{
	const struct driver_visit *v = &ff->base.visit;
	size_t n = 0, max = 6 + ff->n_browsers;
	char **argv = calloc(max + 1, sizeof(*argv));
	char profile[64];
	bool failed = !argv;

	ff->base.launch.argv = argv; /* freed with the driver, also when incomplete */
	if (failed)
		return -1;
	argv[n++] = strdup(SH_PATH);
	argv[n++] = strdup("-c");
	argv[n++] = strdup(LAUNCH_SCRIPT);
	argv[n++] = strdup("sh");
	argv[n++] = visit_user_js(v);
	argv[n++] = strdup(ff->base.launch.exe);
	for (size_t i = 0; i < ff->n_browsers; i++) {
		profile_of(v, i, profile);
		argv[n++] = strdup(profile);
	}
	for (size_t i = 0; i < n; i++)
		failed |= !argv[i];
	return failed ? -1 : 0;
}

static int ff_prepare(struct driver *d, char *err, size_t errlen)
{
	struct firefox *ff = (struct firefox *)d;
	size_t n = d->visit.n_urls;

	ff->netns_fd = -1;
	snprintf(d->launch.exe, sizeof(d->launch.exe), "%s",
		 d->visit.exe ? d->visit.exe : FIREFOX_PATH);
	ff->n_browsers = d->visit.layout == DRIVER_LAYOUT_PROCESSES ? n : 1;
	ff->urls = calloc(n, sizeof(*ff->urls));
	if (!ff->urls || uv_timer_init(d->loop, &ff->tick) != 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	ff->tick_init = true;
	ff->tick.data = ff;
	for (size_t i = 0; i < ff->n_browsers; i++) {
		struct ff_browser *b = &ff->browsers[i];

		*b = (struct ff_browser){.ff = ff, .port = MARIONETTE_PORT_DEFAULT + (unsigned)i};
		b->first = b->next = ff->n_browsers > 1 ? i : 0;
		b->n = ff->n_browsers > 1 ? 1 : n;
	}
	for (size_t i = 0; i < n; i++)
		ff->urls[i] =
		    (struct ff_url){.b = &ff->browsers[ff->n_browsers > 1 ? i : 0], .i = i};
	d->launch.launcher = true; /* the shell that writes the profiles */
	if (build_argv(ff) < 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

const struct driver_ops firefox_driver_ops = {
    .program = "firefox",
    .prepare = ff_prepare,
    .start = ff_start,
    .stop = ff_stop,
    .destroy = ff_destroy,
    .size = sizeof(struct firefox),
};
