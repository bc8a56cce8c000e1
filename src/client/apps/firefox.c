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
 * (the next command after the previous reply: the current tab and the
 * context belong to the session): a new tab for every URL but the
 * first (WebDriver:NewWindow, WebDriver:SwitchToWindow), WebDriver:Navigate
 * (its reply comes after the load event, or with the error page or the
 * timeout), WebDriver:GetCurrentURL (the final URL) and, for a loaded page,
 * the navigation entry's HTTP status (WebDriver:ExecuteScript in a
 * Marionette sandbox, so the page's own scripts cannot fake it).  A loaded
 * page then stays visit_time_s in its tab while the next URL loads in the
 * next tab.  Every step has a deadline; a late reply is ignored.
 *
 * The redirect chain: Marionette has no network events, so right after the
 * session the driver installs a navigation log in the browser's chrome
 * (privileged) context (NAV_LOG_INSTALL: an HTTP response observer and a
 * tabs progress listener, out of reach of any page).  When every URL of a
 * browser has ended, the driver reads each tab's log (NAV_LOG_READ), keeps
 * what happened until that URL's end, and rebuilds the URL's hops and final
 * document from it.  The final URL and status from the steps above are
 * then only the fallback: when the log cannot be installed or read, the
 * chain is "requested URL -> final URL" with status 0, and a log line says
 * why.  docs/firefox.md "Redirect chain".
 *
 * Downloads are counted by the same chrome-side script (a view on the
 * browser's download list, per tab) and read with the chains.  With a
 * screenshot directory, a loaded page's tab is photographed at the end of
 * its stay (WebDriver:SwitchToWindow, WebDriver:TakeScreenshot), as soon
 * as no other command of its browser is under way.  docs/firefox.md
 * "Downloads", "Screenshots".
 */
#include "client/apps/firefox.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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
#define MAX_REREADS      8   /* log reads sent again for running downloads, per browser */

/*
 * Arguments: the user.js text, the browser, then one profile per browser.
 * The environment: MOZ_REMOTE_SETTINGS_DEVTOOLS=1 is the only way a release
 * build honours services.settings.server (remote settings would otherwise
 * poll firefox.settings.services.mozilla.com); MOZ_CRASHREPORTER_DISABLE=1
 * stops the crash helper (a daemon outliving the browser, and reports to
 * Mozilla).  The browsers are children, never exec'd: the shell is the
 * group's launcher (its own records are plumbing), a browser is watched.
 * --remote-allow-system-access lets Marionette run the driver's navigation
 * log in the chrome context (docs/firefox.md has why that is safe).
 */
#define LAUNCH_SCRIPT                                                                              \
	"u=$1; f=$2; shift 2; export MOZ_REMOTE_SETTINGS_DEVTOOLS=1 MOZ_CRASHREPORTER_DISABLE=1; " \
	"/bin/mkdir -p -m 700 -- \"$@\" || exit 1; n=2828; for p do "                              \
	"printf '%s\\nuser_pref(\"marionette.port\", %d);\\n' \"$u\" \"$n\" > \"$p/user.js\" "     \
	"|| exit 1; \"$f\" --headless --no-remote --marionette --remote-allow-system-access "      \
	"--profile \"$p\" about:blank & "                                                          \
	"n=$((n + 1)); done; wait"

/* In the Marionette sandbox "capture": the page cannot replace performance.* there. */
#define STATUS_SCRIPT                                                                              \
	"const e = performance.getEntriesByType(\"navigation\")[0]; "                              \
	"return e ? [e.responseStatus, e.redirectCount] : null;"

/*
 * The navigation log, installed once per browser in the chrome context
 * (arguments: FIREFOX_MAX_DOCS, APPS_MAX_URL, FIREFOX_MAX_TABS).  Per tab
 * (browserId): "pending", the HTTP responses of top-level document loads
 * (redirects included) not shown yet, and "docs", the documents shown, each
 * with the chain that led to it, stamped with the time it was shown.  A
 * response that was not a redirect and was not shown (a download, a 204)
 * is dropped when the next one comes.  A shown document that does not
 * match the last response (not HTTP, an error page) is added with status 0.
 * Same-document changes (pushState, fragments) are not documents.  Lists
 * are bounded: past the limit the last entry is replaced and counted.  The
 * log lives on the browser window's chrome global, which no page reaches.
 *
 * Downloads: a view on the browser's download list (Downloads.sys.mjs)
 * counts, per tab ("dl": started, done) and for the whole browser
 * (captureDownloads: started, done, ended), each download once.  A
 * download belongs to the tab of the browsing context that started it
 * (its source.browsingContextId, a frame's too), or to the tab that opened
 * that context's popup.  The list is the parent process's own: a page can
 * start downloads, but not touch the counts.  If the view cannot be added,
 * the navigation log still works and captureDownloads stays unset.
 */
#define NAV_LOG_INSTALL                                                                            \
	"const [maxDocs, maxUrl, maxTabs] = arguments;"                                            \
	"if (window.captureNavLog) return true;"                                                   \
	"const tabs = new Map(), WPL = Ci.nsIWebProgressListener;"                                 \
	"const redirect = s => [301, 302, 303, 307, 308].includes(s);"                             \
	"const cut = u => (u.length > maxUrl ? u.substring(0, maxUrl) : u);"                       \
	"const tab = id => {"                                                                      \
	"  let t = tabs.get(id);"                                                                  \
	"  if (!t && id && tabs.size < maxTabs) {"                                                 \
	"    t = {docs: [], pending: [], dropped: 0, dl: [0, 0]};"                                 \
	"    tabs.set(id, t);"                                                                     \
	"  }"                                                                                      \
	"  return t;"                                                                              \
	"};"                                                                                       \
	"const add = (t, list, e) => {"                                                            \
	"  if (list.length < maxDocs) list.push(e);"                                               \
	"  else { list[list.length - 1] = e; t.dropped++; }"                                       \
	"};"                                                                                       \
	"const observer = { observe(subject) { try {"                                              \
	"  const ch = subject.QueryInterface(Ci.nsIHttpChannel);"                                  \
	"  if (ch.loadInfo.externalContentPolicyType !== Ci.nsIContentPolicy.TYPE_DOCUMENT)"       \
	"    return;"                                                                              \
	"  const t = tab(ch.browserId);"                                                           \
	"  if (!t) return;"                                                                        \
	"  const last = t.pending[t.pending.length - 1];"                                          \
	"  if (last && !redirect(last[1])) t.pending = [];"                                        \
	"  let status = 0;"                                                                        \
	"  try { status = ch.responseStatus; } catch (e) {}"                                       \
	"  add(t, t.pending, [cut(ch.URI.spec), status, Date.now()]);"                             \
	"} catch (e) {} } };"                                                                      \
	"for (const topic of ['http-on-examine-response', 'http-on-examine-cached-response',"      \
	"    'http-on-examine-merged-response'])"                                                  \
	"  Services.obs.addObserver(observer, topic);"                                             \
	"gBrowser.addTabsProgressListener({"                                                       \
	"  onLocationChange(browser, progress, request, location, flags) { try {"                  \
	"    if (!progress.isTopLevel || flags & WPL.LOCATION_CHANGE_SAME_DOCUMENT) return;"       \
	"    const t = tab(browser.browserId);"                                                    \
	"    if (!t) return;"                                                                      \
	"    const url = cut(location.spec), now = Date.now(), p = t.pending;"                     \
	"    const last = p[p.length - 1];"                                                        \
	"    if (!last || last[0] !== url || flags & WPL.LOCATION_CHANGE_ERROR_PAGE) {"            \
	"      if (last && !redirect(last[1])) p.pop();"                                           \
	"      p.push([url, 0, now]);"                                                             \
	"    }"                                                                                    \
	"    for (const e of p) add(t, t.docs, [e[0], e[1], now]);"                                \
	"    t.pending = [];"                                                                      \
	"  } catch (e) {} }"                                                                       \
	"});"                                                                                      \
	"window.captureNavLog = tabs;"                                                             \
	"const all = [0, 0, 0], seen = new WeakMap();"                                             \
	"const owner = d => { try {"                                                               \
	"  let bc = BrowsingContext.get(d.source.browsingContextId);"                              \
	"  bc = bc && bc.top;"                                                                     \
	"  for (let i = 0; bc && bc.opener && i < 8; i++) bc = bc.opener.top;"                     \
	"  return bc ? tab(bc.browserId) : null;"                                                  \
	"} catch (e) { return null; } };"                                                          \
	"const count = (r, k) => { all[k]++; if (r.t) r.t.dl[k]++; };"                             \
	"const view = {"                                                                           \
	"  onDownloadAdded(d) { try {"                                                             \
	"    if (seen.has(d)) return;"                                                             \
	"    const r = {t: owner(d), done: false, ended: false};"                                  \
	"    seen.set(d, r);"                                                                      \
	"    count(r, 0);"                                                                         \
	"    view.onDownloadChanged(d);"                                                           \
	"  } catch (e) {} },"                                                                      \
	"  onDownloadChanged(d) { try {"                                                           \
	"    const r = seen.get(d);"                                                               \
	"    if (r && d.succeeded && !r.done) { r.done = true; count(r, 1); }"                     \
	"    if (r && d.stopped && !r.ended) { r.ended = true; all[2]++; }"                        \
	"  } catch (e) {} }"                                                                       \
	"};"                                                                                       \
	"const {Downloads} = ChromeUtils.importESModule("                                          \
	"  'resource://gre/modules/Downloads.sys.mjs');"                                           \
	"return Downloads.getList(Downloads.ALL).then(list => list.addView(view))"                 \
	"  .then(() => { window.captureDownloads = all; return true; }, () => true);"

/*
 * One tab's log (arguments: its Marionette window handle, which
 * Marionette's own NavigableManager maps to the tab's browser, and how
 * many ms to wait while a download of the browser is under way); null if
 * there is no log or no such tab.  "downloads" is null without the
 * download view.
 */
#define NAV_LOG_READ                                                                               \
	"const [handle, waitMs] = arguments, tabs = window.captureNavLog;"                         \
	"const all = window.captureDownloads;"                                                     \
	"const {NavigableManager} = ChromeUtils.importESModule("                                   \
	"  'chrome://remote/content/shared/NavigableManager.sys.mjs');"                            \
	"const browser = NavigableManager.getBrowserById(handle);"                                 \
	"if (!tabs || !browser) return null;"                                                      \
	"const until = Date.now() + waitMs;"                                                       \
	"const answer = () => {"                                                                   \
	"  const t = tabs.get(browser.browserId) || {docs: [], pending: [], dropped: 0, dl: [0, "  \
	"0]};"                                                                                     \
	"  return {docs: t.docs, pending: t.pending, dropped: t.dropped, downloads: all"           \
	"    ? {tab: t.dl, all: [all[0], all[1]], running: all[0] - all[2]} : null};"              \
	"};"                                                                                       \
	"const wait = () => (all && all[0] > all[2] && Date.now() < until"                         \
	"  ? new Promise(r => setTimeout(r, 100)).then(wait) : answer());"                         \
	"return wait();"

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
    "user_pref(\"media.gmp-manager.updateEnabled\", false);\n"
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

/* ---- URLs and the navigation log's answers ---- */

bool firefox_url_navigable(const char *url)
{
	static const char *const schemes[] = {"http", "https", "file",
					      "blob", "data",  "javascript"};
	const char *colon;
	size_t n;

	while (*url == ' ')
		url++; /* the URL parser skips them, so Marionette's check did */
	colon = strchr(url, ':');
	if (!colon)
		return false;
	n = (size_t)(colon - url);
	for (size_t i = 0; i < ARRAY_SIZE(schemes); i++) {
		if (strlen(schemes[i]) == n && strncasecmp(url, schemes[i], n) == 0)
			return true;
	}
	return n == 5 && strncasecmp(url, "about", 5) == 0 && strncmp(colon + 1, "blank", 5) == 0 &&
	       (colon[6] == '\0' || colon[6] == '?' || colon[6] == '#');
}

static bool is_redirect(int status)
{
	return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

/* One [URL,STATUS,MS] entry into DOC and *MS; -1 if it is malformed. */
static int doc_entry(const json_t *e, struct firefox_doc *doc, uint64_t *ms)
{
	const json_t *url = json_array_get(e, 0), *status = json_array_get(e, 1);
	const json_t *t = json_array_get(e, 2);
	const char *s = json_string_value(url);
	size_t len = json_string_length(url);
	json_int_t code;

	if (json_array_size(e) != 3 || !s || !json_is_integer(status) || !json_is_integer(t) ||
	    json_integer_value(t) < 0 || len == 0 || len > APPS_MAX_URL || strlen(s) != len)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return -1; /* never a URL the browser shows; could forge lines downstream */
	}
	code = json_integer_value(status);
	doc->url = s;
	doc->status = code >= 100 && code <= 599 ? (int)code : 0;
	*ms = (uint64_t)json_integer_value(t);
	return 0;
}

/* LIST's entries up to UNTIL_MS (only redirects if REDIRECTS) into OUT; -1 with *REASON. */
static int doc_list(const json_t *list, uint64_t until_ms, bool redirects, struct firefox_docs *out,
		    const char **reason)
{
	const json_t *e;
	size_t i;

	if (!json_is_array(list) || json_array_size(list) > FIREFOX_MAX_DOCS) {
		*reason = "a list that is missing or longer than the log keeps";
		return -1;
	}
	json_array_foreach(list, i, e)
	{
		struct firefox_doc doc;
		uint64_t ms;

		if (doc_entry(e, &doc, &ms) < 0) {
			*reason = "an entry that is not [URL, status, time]";
			return -1;
		}
		if (ms <= until_ms && (!redirects || is_redirect(doc.status)))
			out->v[out->n++] = doc;
	}
	return 0;
}

int firefox_docs_parse(const json_t *value, uint64_t until_ms, struct firefox_docs *out,
		       const char **reason)
{
	const json_t *dropped = json_object_get(value, "dropped");
	struct firefox_docs pending = {.n = 0};

	memset(out, 0, sizeof(*out));
	*reason = NULL;
	if (!json_is_object(value)) {
		*reason = "no log for the tab";
		return -1;
	}
	if (!json_is_integer(dropped) || json_integer_value(dropped) < 0) {
		*reason = "no count of dropped entries";
		return -1;
	}
	if (doc_list(json_object_get(value, "docs"), until_ms, false, out, reason) < 0 ||
	    doc_list(json_object_get(value, "pending"), until_ms, true, &pending, reason) < 0) {
		out->n = 0;
		return -1;
	}
	out->committed = out->n > 0;
	if (!out->committed)
		*out = pending;
	out->dropped =
	    json_integer_value(dropped) > INT_MAX ? INT_MAX : (size_t)json_integer_value(dropped);
	return 0;
}

/* Two counts [STARTED, DONE] into *STARTED and *DONE; -1 if malformed or DONE > STARTED. */
static int count_pair(const json_t *pair, unsigned *started, unsigned *done)
{
	const json_t *s = json_array_get(pair, 0), *d = json_array_get(pair, 1);

	if (json_array_size(pair) != 2 || !json_is_integer(s) || !json_is_integer(d) ||
	    json_integer_value(s) < 0 || json_integer_value(s) > FIREFOX_MAX_DOWNLOADS ||
	    json_integer_value(d) < 0 || json_integer_value(d) > json_integer_value(s))
		return -1;
	*started = (unsigned)json_integer_value(s);
	*done = (unsigned)json_integer_value(d);
	return 0;
}

int firefox_downloads_parse(const json_t *value, struct firefox_downloads *out, const char **reason)
{
	const json_t *running = json_object_get(value, "running");

	memset(out, 0, sizeof(*out));
	*reason = NULL;
	if (json_is_null(value))
		return 0; /* the browser could not add the download view */
	if (!json_is_object(value) || json_object_size(value) != 3 ||
	    count_pair(json_object_get(value, "tab"), &out->started, &out->done) < 0 ||
	    count_pair(json_object_get(value, "all"), &out->all_started, &out->all_done) < 0 ||
	    !json_is_integer(running) || json_integer_value(running) < 0) {
		*reason = "not {\"tab\":[started, done], \"all\":[started, done], \"running\":N}";
		goto refused;
	}
	if (out->started > out->all_started || out->done > out->all_done) {
		*reason = "more downloads for the tab than for the browser";
		goto refused;
	}
	if (json_integer_value(running) > out->all_started - out->all_done) {
		*reason = "more downloads running than started and not done";
		goto refused;
	}
	out->running = (unsigned)json_integer_value(running);
	out->counted = true;
	return 0;
refused:
	memset(out, 0, sizeof(*out));
	return -1;
}

/* ---- the driver's state ---- */

enum ff_step {
	FF_WAITING = 0, /* not started */
	FF_OPENING,     /* new tab requested and switched to */
	FF_NAVIGATING,  /* WebDriver:Navigate sent */
	FF_QUERYING,    /* final URL and status asked for */
	FF_STAYING,     /* loaded: its visit time runs */
	FF_SHOT_QUEUED, /* its stay is over; its screenshot waits until the browser is free */
	FF_SHOOTING,    /* switched to its tab, screenshot asked for */
	FF_ENDED,       /* its visit is over; its tab's log is read when its browser's URLs are */
	FF_COLLECTING,  /* its tab's log asked for */
	FF_READ,        /* its tab's log read; finished with the browser's other tabs */
	FF_DONE,
};

/* The navigation log of one browser. */
enum ff_log {
	FF_LOG_OFF = 0,    /* not installed (yet, or it failed): requested -> final URL only */
	FF_LOG_INSTALLING, /* being installed, before the first URL */
	FF_LOG_ON,         /* installed: URLs' chains are read once they have all ended */
	FF_LOG_READING,    /* the tabs' logs are being read */
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
	uint64_t end_real_ms; /* CLOCK_REALTIME ms its visit ended: later log entries are not its */
	bool chain;           /* its chain came from the navigation log (else the fallback) */
	char handle[FIREFOX_MAX_HANDLE]; /* its tab's Marionette window handle, "" if unknown */
};

struct ff_browser {
	struct firefox *ff;
	unsigned port;
	size_t first, n, next; /* its URLs; the next one to start */
	struct marionette *mn;
	bool session;      /* WebDriver:NewSession succeeded */
	uint64_t retry_ms; /* next connect attempt */
	bool gone;         /* the connection ended after it was up */
	enum ff_log log;
	uint64_t log_deadline_ms; /* of the log step under way */
	uint64_t log_start_ms;    /* loop time the install began */
	char log_why[160];        /* why installing the log failed, "" if it did not */
	struct ff_url *shooting;  /* the URL whose screenshot is under way, NULL if none */
	uint64_t dl_grace_ms;     /* loop time after which running downloads delay no read */
	bool dl_counted;          /* a read gave download counts */
	bool dl_unlogged;         /* said once: the browser keeps no download log */
	unsigned dl_rereads;      /* reads sent again because a download was running */
	bool dl_settled;          /* the downloads no tab was given are counted */
	unsigned dl_tabs_started, dl_tabs_done; /* the sums of the tabs' counts */
	unsigned dl_all_started, dl_all_done;   /* the whole browser's, from the latest read */
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

/* Without the log: the requested URL is the one hop when the final URL is another. */
static void fallback_hop(struct ff_url *u)
{
	struct driver *d = &u->b->ff->base;
	const struct driver_result *r = &d->results[u->i];
	const char *asked = d->visit.urls[u->i];
	size_t alen = strlen(asked);

	if (!r->final_url || r->n_hops || strcmp(r->final_url, asked) == 0 ||
	    (strncmp(r->final_url, asked, alen) == 0 && strcmp(r->final_url + alen, "/") == 0))
		return;
	if (driver_add_hop(d, u->i, asked, 0) < 0)
		log_warnx("%s: URL %zu: out of memory for its redirects", tag(u->b->ff), u->i + 1);
}

/* U is finished; CHAIN: its chain came from the navigation log (else the fallback). */
static void url_finish(struct ff_url *u, bool chain)
{
	if (!chain)
		fallback_hop(u);
	u->step = FF_DONE;
	check_all_done(u->b->ff);
}

static void log_off(struct ff_browser *b, const char *why)
{
	log_warnx("%s: browser on port %u: no redirect chain (requested and final URL only): %s",
		  tag(b->ff), b->port, why);
	b->log = FF_LOG_OFF;
}

static void read_logs(struct ff_browser *b);

/* U's visit is over: its chain is read with its browser's other tabs, or it is finished. */
static void url_done(struct ff_url *u)
{
	struct ff_browser *b = u->b;

	if (!u->end_real_ms) /* a loaded page's end is its stay's, before its screenshot */
		u->end_real_ms = util_now_real_ns() / 1000000;
	if (b->log != FF_LOG_ON || !b->mn || b->gone) {
		url_finish(u, false);
		return;
	}
	u->step = FF_ENDED;
	read_logs(b);
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

/*
 * Downloads of B that no read gave to a tab (a tab the log did not follow,
 * a context gone before the download began, or a tab whose read failed)
 * count for B's first URL, as chromium counts a download of a frame it
 * does not know.  Once, after the reads.
 */
static void settle_downloads(struct ff_browser *b)
{
	struct driver_result *r = &b->ff->base.results[b->first];
	unsigned started = 0, done = 0;

	if (!b->dl_counted || b->dl_settled)
		return;
	b->dl_settled = true;
	if (b->dl_all_started > b->dl_tabs_started)
		started = b->dl_all_started - b->dl_tabs_started;
	if (b->dl_all_done > b->dl_tabs_done)
		done = b->dl_all_done - b->dl_tabs_done;
	if (!started && !done)
		return;
	r->downloads += started;
	r->downloads_done += done;
	log_info("%s: URL %zu: %u download(s) of its browser (%u done) not from a known tab: "
		 "counted for it",
		 tag(b->ff), b->first + 1, started, done);
}

/* Every read of B is over (answered, refused or given up): its URLs are finished. */
static void reads_over(struct ff_browser *b)
{
	settle_downloads(b);
	for (size_t i = b->first; i < b->first + b->n; i++) {
		struct ff_url *u = &b->ff->urls[i];

		if (u->step == FF_READ)
			url_finish(u, u->chain);
	}
}

/* Every URL of B that is not done fails with MAJOR; nothing more is sent to B. */
static void browser_fail(struct ff_browser *b, uint32_t major, const char *why)
{
	b->log = FF_LOG_OFF;
	b->shooting = NULL;
	reads_over(b);
	for (size_t i = b->first; i < b->first + b->n; i++) {
		struct ff_url *u = &b->ff->urls[i];

		if (u->step == FF_DONE)
			continue;
		if (u->step == FF_STAYING || u->step == FF_SHOT_QUEUED || u->step == FF_SHOOTING ||
		    u->step == FF_ENDED || u->step == FF_COLLECTING) {
			url_finish(u, false); /* visited; its stay cut short or its log not read */
			continue;
		}
		log_warnx("%s: URL %zu: %s", tag(b->ff), i + 1, why);
		url_fail(u, major, 0, why);
	}
}

static void start_next(struct ff_browser *b);

/* ---- screenshots ---- */

/* U's screenshot is over (WHY: why there is none, NULL if saved or logged); B goes on. */
static void shot_over(struct ff_url *u, const char *why)
{
	struct ff_browser *b = u->b;

	if (why)
		log_warnx("%s: URL %zu: no screenshot: %s", tag(b->ff), u->i + 1, why);
	b->shooting = NULL;
	url_done(u);
	start_next(b);
}

/* U's screenshot failed at step WHAT ("" or "...: ") with Marionette's ERROR. */
static void shot_error(struct ff_url *u, const char *what, const json_t *error)
{
	char why[240];

	snprintf(why, sizeof(why), "%s%s: %s", what, marionette_error_kind(error),
		 marionette_error_message(error));
	shot_over(u, why);
}

static void on_shot(struct marionette *m, const json_t *error, const json_t *result, void *arg)
{
	struct ff_url *u = arg;
	struct driver *d = &u->b->ff->base;
	const char *why;

	(void)m;
	if (u->step != FF_SHOOTING || u->b->shooting != u)
		return; /* too late */
	if (error) {
		shot_error(u, "", error);
		return;
	}
	if (driver_save_screenshot(d, u->i, json_object_get(result, "value"), &why) < 0) {
		shot_over(u, why);
		return;
	}
	log_debug("%s: URL %zu: screenshot in %llu ms", tag(u->b->ff), u->i + 1,
		  (unsigned long long)(now_ms(u->b->ff) + FIREFOX_SCREENSHOT_MS - u->deadline_ms));
	shot_over(u, NULL);
}

static void on_shot_tab(struct marionette *m, const json_t *error, const json_t *result, void *arg)
{
	struct ff_url *u = arg;

	(void)result;
	if (u->step != FF_SHOOTING || u->b->shooting != u)
		return;
	if (error) {
		shot_error(u, "cannot switch to its tab: ", error);
		return;
	}
	/* the viewport, as chromium's: a whole page could be 32767 pixels high */
	if (!marionette_call(m, "WebDriver:TakeScreenshot", json_pack("{s:b}", "full", 0), on_shot,
			     u))
		shot_over(u, "cannot send to the browser");
}

/*
 * Starts the screenshot of B's first URL that waits for one: its tab
 * becomes the session's current one (WebDriver:SwitchToWindow), then
 * WebDriver:TakeScreenshot.  Only while no other command of B is under
 * way, as every step of a URL works on the session's current tab.  True
 * if one runs now.
 */
static bool shoot_next(struct ff_browser *b)
{
	for (size_t i = b->first; i < b->first + b->n && !b->shooting; i++) {
		struct ff_url *u = &b->ff->urls[i];

		if (u->step != FF_SHOT_QUEUED)
			continue;
		b->shooting = u;
		u->step = FF_SHOOTING;
		u->deadline_ms = now_ms(b->ff) + FIREFOX_SCREENSHOT_MS;
		if (!u->handle[0])
			shot_over(u, "no window handle for its tab");
		else if (!marionette_call(b->mn, "WebDriver:SwitchToWindow",
					  json_pack("{s:s}", "handle", u->handle), on_shot_tab, u))
			shot_over(u, "cannot send to the browser");
		return true; /* shot_over went on with B's next step */
	}
	return b->shooting != NULL;
}

/* True while a command of B is under way that works on the session's current tab or context. */
static bool browser_busy(const struct ff_browser *b)
{
	if (b->shooting || b->log == FF_LOG_INSTALLING)
		return true;
	for (size_t i = b->first; i < b->first + b->n; i++) {
		enum ff_step step = b->ff->urls[i].step;

		if (step == FF_OPENING || step == FF_NAVIGATING || step == FF_QUERYING)
			return true;
	}
	return false;
}

/* U's stay is over: its screenshot (if asked for) when B is free, then its end. */
static void url_stay_over(struct ff_url *u)
{
	struct ff_browser *b = u->b;

	u->end_real_ms = util_now_real_ns() / 1000000;
	if (!b->ff->base.visit.screenshot_dir || !b->mn || b->gone || !b->session) {
		url_done(u);
		return;
	}
	u->step = FF_SHOT_QUEUED;
	if (!browser_busy(b))
		start_next(b);
}

/* ---- the navigation log: reading it ---- */

/* Rebuilds U's chain from its tab's documents. */
static void apply_docs(struct ff_url *u, const struct firefox_docs *docs)
{
	struct driver *d = &u->b->ff->base;
	size_t hops = docs->committed ? docs->n - 1 : docs->n; /* committed: n >= 1 */
	int rc = 0;

	d->results[u->i].hops_dropped += docs->dropped;
	for (size_t k = 0; k < hops; k++)
		rc |= driver_add_hop(d, u->i, docs->v[k].url, docs->v[k].status);
	if (docs->committed)
		rc |= driver_set_final(d, u->i, docs->v[hops].url, docs->v[hops].status);
	if (rc < 0)
		log_warnx("%s: URL %zu: out of memory for its redirects", tag(u->b->ff), u->i + 1);
}

/* U's tab's download counts; B's sums and browser-wide counts for settle_downloads. */
static void apply_downloads(struct ff_url *u, const struct firefox_downloads *dl)
{
	struct ff_browser *b = u->b;
	struct driver_result *r = &b->ff->base.results[u->i];

	r->downloads += dl->started;
	r->downloads_done += dl->done;
	b->dl_tabs_started += dl->started;
	b->dl_tabs_done += dl->done;
	b->dl_all_started = dl->all_started; /* the latest read knows the most */
	b->dl_all_done = dl->all_done;
	b->dl_counted = true;
}

/* Reading B's logs failed: every URL not read yet keeps the fallback. */
static void read_fail(struct ff_browser *b, const char *why)
{
	log_off(b, why);
	for (size_t i = b->first; i < b->first + b->n; i++) {
		struct ff_url *u = &b->ff->urls[i];

		if (u->step == FF_ENDED || u->step == FF_COLLECTING)
			u->step = FF_READ; /* u->chain false: the fallback */
	}
	reads_over(b);
}

static void read_next(struct ff_browser *b);
static bool read_send(struct ff_url *u);

/* The downloads part of U's log answer (VALUE); true if it must be read again. */
static bool take_downloads(struct ff_url *u, const json_t *value)
{
	struct ff_browser *b = u->b;
	struct firefox_downloads dl;
	const char *reason;

	if (firefox_downloads_parse(json_object_get(value, "downloads"), &dl, &reason) < 0) {
		log_warnx("%s: URL %zu: no download counts from the navigation log: %s", tag(b->ff),
			  u->i + 1, reason);
		return false;
	}
	if (!dl.counted) {
		if (!b->dl_unlogged)
			log_warnx("%s: browser on port %u: no download counts: it keeps no "
				  "download log",
				  tag(b->ff), b->port);
		b->dl_unlogged = true;
		return false;
	}
	/*
	 * a download under way: read again (the script waits) until the grace
	 * is over; a browser that does not wait cannot make the driver spin
	 */
	if (dl.running && now_ms(b->ff) < b->dl_grace_ms && b->dl_rereads < MAX_REREADS) {
		b->dl_rereads++;
		return true;
	}
	apply_downloads(u, &dl);
	return false;
}

static void on_log(struct marionette *m, const json_t *error, const json_t *result, void *arg)
{
	struct ff_url *u = arg;
	const json_t *value = json_object_get(result, "value");
	struct firefox_docs docs;
	const char *reason = marionette_error_message(error);

	(void)m;
	if (u->step != FF_COLLECTING)
		return;
	if (!error && take_downloads(u, value)) {
		if (!read_send(u))
			read_fail(u->b, "cannot send to the browser");
		return;
	}
	if (!error && firefox_docs_parse(value, u->end_real_ms, &docs, &reason) == 0) {
		apply_docs(u, &docs);
		u->chain = true;
	} else {
		log_warnx("%s: URL %zu: no redirect chain from the navigation log: %s",
			  tag(u->b->ff), u->i + 1, reason);
	}
	u->step = FF_READ;
	read_next(u->b);
}

/* Asks for U's tab's log; false if it cannot be sent. */
static bool read_send(struct ff_url *u)
{
	struct ff_browser *b = u->b;
	uint64_t now = now_ms(b->ff);
	uint64_t wait = b->dl_grace_ms > now ? b->dl_grace_ms - now : 0;
	json_t *p;

	if (wait > FIREFOX_DOWNLOAD_WAIT_MS)
		wait = FIREFOX_DOWNLOAD_WAIT_MS; /* within Marionette's script timeout */
	u->step = FF_COLLECTING;
	b->log_deadline_ms = now + FIREFOX_REPLY_GRACE_MS + FIREFOX_SCRIPT_MS;
	p = json_pack("{s:s,s:[s,I]}", "script", NAV_LOG_READ, "args", u->handle, (json_int_t)wait);
	return marionette_call(b->mn, "WebDriver:ExecuteScript", p, on_log, u) != 0;
}

/* Asks for the log of B's next ended URL (one at a time: each answer is bounded). */
static void read_next(struct ff_browser *b)
{
	for (size_t i = b->first; i < b->first + b->n; i++) {
		struct ff_url *u = &b->ff->urls[i];

		if (u->step != FF_ENDED)
			continue;
		if (!u->handle[0]) {
			log_warnx("%s: URL %zu: no window handle for its tab's log", tag(b->ff),
				  i + 1);
			u->step = FF_READ;
			continue;
		}
		if (!read_send(u))
			read_fail(b, "cannot send to the browser");
		return;
	}
	reads_over(b);
}

static void on_read_context(struct marionette *m, const json_t *error, const json_t *result,
			    void *arg)
{
	struct ff_browser *b = arg;
	char why[200];

	(void)m;
	(void)result;
	if (b->log != FF_LOG_READING)
		return;
	if (error) {
		snprintf(why, sizeof(why), "no chrome context: %s",
			 marionette_error_message(error));
		read_fail(b, why);
		return;
	}
	read_next(b);
}

/*
 * Once every URL of B has ended, reads their tabs' logs.  All at the end,
 * because a visit's pages keep navigating while later URLs load, and
 * Marionette's context is per session: switching it while another tab
 * navigates could disturb that tab's commands.  B stays in the chrome
 * context afterwards, no content command follows.  Downloads still
 * running then may delay the reads by FIREFOX_DOWNLOAD_GRACE_MS, as a
 * running download delays the end of a chromium tab.
 */
static void read_logs(struct ff_browser *b)
{
	bool ended = false;

	for (size_t i = b->first; i < b->first + b->n; i++) {
		enum ff_step step = b->ff->urls[i].step;

		if (step != FF_ENDED && step != FF_DONE)
			return;
		ended |= step == FF_ENDED;
	}
	if (!ended || b->log != FF_LOG_ON)
		return;
	b->log = FF_LOG_READING;
	b->dl_grace_ms = now_ms(b->ff) + FIREFOX_DOWNLOAD_GRACE_MS;
	b->log_deadline_ms = now_ms(b->ff) + FIREFOX_REPLY_GRACE_MS + FIREFOX_SCRIPT_MS;
	if (!marionette_call(b->mn, "Marionette:SetContext", json_pack("{s:s}", "value", "chrome"),
			     on_read_context, b))
		read_fail(b, "cannot send to the browser");
}

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

static void on_current_url(struct marionette *m, const json_t *error, const json_t *result,
			   void *arg)
{
	struct ff_url *u = arg;
	const char *url = json_string_value(json_object_get(result, "value"));
	json_t *p;

	if (u->step != FF_QUERYING)
		return;
	/* what the tab shows now: the final URL unless its log gives the chain */
	if (!error && url && url[0] && driver_set_final(&u->b->ff->base, u->i, url, 0) < 0)
		log_warnx("%s: URL %zu: out of memory for its final URL", tag(u->b->ff), u->i + 1);
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
	const char *url = ff->base.visit.urls[u->i];
	json_t *p;

	if (!firefox_url_navigable(url)) {
		url_fail(u, PROTO_ERR_INVALID_URL, 0,
			 "unsupported operation: navigation to this URL is not allowed");
		start_next(u->b);
		return;
	}
	p = json_pack("{s:s}", "url", url);
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
	if (error || !handle || strlen(handle) >= sizeof(u->handle) ||
	    !marionette_call(m, "WebDriver:SwitchToWindow", json_pack("{s:s}", "handle", handle),
			     on_switched, u)) {
		url_fail(u, PROTO_ERR_PROCESS_ERROR, 0, "cannot open a tab");
		start_next(u->b);
		return;
	}
	snprintf(u->handle, sizeof(u->handle), "%s", handle);
}

/*
 * B's commands are free: a waiting screenshot first (it belongs to a stay
 * that is over), else B's next URL, in the first tab or in a new one.
 */
static void start_next(struct ff_browser *b)
{
	struct ff_url *u;

	if (!b->session || shoot_next(b) || b->next >= b->first + b->n)
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

/* ---- the navigation log: installing it ---- */

/* The log is installed (WHY NULL) or not (the fallback, with a log line); the URLs start. */
static void install_done(struct ff_browser *b, const char *why)
{
	if (why) {
		log_off(b, why);
	} else {
		b->log = FF_LOG_ON;
		log_debug("%s: browser on port %u: navigation log installed in %llu ms", tag(b->ff),
			  b->port, (unsigned long long)(now_ms(b->ff) - b->log_start_ms));
	}
	start_next(b);
}

static void on_content_again(struct marionette *m, const json_t *error, const json_t *result,
			     void *arg)
{
	struct ff_browser *b = arg;

	(void)m;
	(void)result;
	if (b->log != FF_LOG_INSTALLING)
		return;
	if (error) {
		/* WebDriver:Navigate works in the content context only: nothing could load */
		browser_fail(b, PROTO_ERR_PROCESS_ERROR,
			     "cannot switch back to the content context");
		return;
	}
	install_done(b, b->log_why[0] ? b->log_why : NULL);
}

/* Back to the content context, whatever the install gave. */
static void install_back(struct ff_browser *b)
{
	if (!marionette_call(b->mn, "Marionette:SetContext", json_pack("{s:s}", "value", "content"),
			     on_content_again, b))
		browser_fail(b, PROTO_ERR_PROCESS_ERROR, "cannot send to the browser");
}

static void on_installed(struct marionette *m, const json_t *error, const json_t *result, void *arg)
{
	struct ff_browser *b = arg;

	(void)m;
	if (b->log != FF_LOG_INSTALLING)
		return;
	if (error || !json_is_true(json_object_get(result, "value")))
		snprintf(b->log_why, sizeof(b->log_why), "the log script failed: %s: %s",
			 marionette_error_kind(error), marionette_error_message(error));
	install_back(b);
}

static void on_chrome(struct marionette *m, const json_t *error, const json_t *result, void *arg)
{
	struct ff_browser *b = arg;
	json_t *p;

	(void)result;
	if (b->log != FF_LOG_INSTALLING)
		return;
	if (error) {
		/* e.g. the browser does not grant system access: still in the content context */
		snprintf(b->log_why, sizeof(b->log_why), "no chrome context: %s",
			 marionette_error_message(error));
		install_done(b, b->log_why);
		return;
	}
	p = json_pack("{s:s,s:[i,i,i]}", "script", NAV_LOG_INSTALL, "args", FIREFOX_MAX_DOCS,
		      APPS_MAX_URL, FIREFOX_MAX_TABS);
	if (!marionette_call(m, "WebDriver:ExecuteScript", p, on_installed, b)) {
		snprintf(b->log_why, sizeof(b->log_why), "cannot send to the browser");
		install_back(b);
	}
}

static void on_first_handle(struct marionette *m, const json_t *error, const json_t *result,
			    void *arg)
{
	struct ff_browser *b = arg;
	struct ff_url *first = &b->ff->urls[b->first];
	const char *handle = json_string_value(json_object_get(result, "value"));

	if (b->log != FF_LOG_INSTALLING)
		return;
	if (error || !handle || strlen(handle) >= sizeof(first->handle)) {
		install_done(b, "no window handle for the first tab");
		return;
	}
	snprintf(first->handle, sizeof(first->handle), "%s", handle);
	if (!marionette_call(m, "Marionette:SetContext", json_pack("{s:s}", "value", "chrome"),
			     on_chrome, b))
		install_done(b, "cannot send to the browser");
}

/* The first tab's handle, then the log in the chrome context, then back to content. */
static void install_log(struct ff_browser *b)
{
	b->log = FF_LOG_INSTALLING;
	b->log_why[0] = '\0';
	b->log_start_ms = now_ms(b->ff);
	b->log_deadline_ms = now_ms(b->ff) + FIREFOX_REPLY_GRACE_MS + FIREFOX_SCRIPT_MS;
	if (!marionette_call(b->mn, "WebDriver:GetWindowHandle", NULL, on_first_handle, b))
		install_done(b, "cannot send to the browser");
}

/*
 * No answer in time: the URLs go on without the log.  The session may be
 * in the chrome context by now, where WebDriver:Navigate fails, so it is
 * switched back first; Marionette starts commands in the order they
 * arrive, and a context switch completes at once, so the navigation that
 * follows finds the content context.
 */
static void install_timeout(struct ff_browser *b)
{
	if (!marionette_call(b->mn, "Marionette:SetContext", json_pack("{s:s}", "value", "content"),
			     NULL, NULL))
		log_warnx("%s: browser on port %u: cannot send to the browser", tag(b->ff),
			  b->port);
	install_done(b, "no answer in time");
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
	install_log(b);
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
	if (fd < 0 ||
	    marionette_connect(b->ff->base.loop, fd, &addr, FIREFOX_MAX_MESSAGE, &cb, &b->mn) < 0) {
		b->gone = true;
		browser_fail(b, PROTO_ERR_PROCESS_ERROR,
			     fd < 0 ? err : "cannot connect to Marionette");
	}
}

/* ---- time ---- */

static void url_tick(struct ff_url *u, uint64_t now)
{
	/*
	 * an ended URL waits for its browser's log step, which has its own
	 * deadline; a queued screenshot for the step under way, which has one
	 */
	if (u->step == FF_WAITING || u->step == FF_SHOT_QUEUED || u->step >= FF_ENDED ||
	    now < u->deadline_ms)
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
		if (u->step == FF_OPENING) {
			url_fail(u, PROTO_ERR_PROCESS_ERROR, 0, "no new tab in time");
			start_next(u->b); /* the browser's other URLs go on */
		} else {
			url_stay(u);
		}
		break;
	case FF_STAYING: url_stay_over(u); break;
	case FF_SHOOTING: shot_over(u, "no answer in time"); break;
	case FF_WAITING:
	case FF_SHOT_QUEUED:
	case FF_ENDED:
	case FF_COLLECTING:
	case FF_READ:
	case FF_DONE: break;
	}
}

static void browser_tick(struct ff_browser *b, uint64_t now)
{
	if (b->log == FF_LOG_INSTALLING && now >= b->log_deadline_ms)
		install_timeout(b);
	else if (b->log == FF_LOG_READING && now >= b->log_deadline_ms)
		read_fail(b, "no answer in time");
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
