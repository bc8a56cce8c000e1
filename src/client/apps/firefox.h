/*
 * firefox.h - the "firefox" browser driver (driver.h): firefox-esr headless
 * with a fresh profile per browser, its user.js written in the guest at
 * launch, driven over Marionette (marionette.h) on the guest's
 * 127.0.0.1:2828 through a socket made in the guest's network namespace.
 * docs/firefox.md.
 */
#ifndef CAPTURE_FIREFOX_H
#define CAPTURE_FIREFOX_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client/apps/driver.h"

#define FIREFOX_PATH           "/usr/bin/firefox-esr"
#define FIREFOX_PROFILE_BASE   "/tmp/capture-profile-" /* + 16 hex digits (etc/exclusion/firefox) */
#define FIREFOX_START_S        30   /* from launch until Marionette answers, at most */
#define FIREFOX_REPLY_GRACE_MS 5000 /* past the page timeout for Marionette's own reply */
#define FIREFOX_SCRIPT_MS      5000 /* Marionette's script timeout (status and log queries) */
#define FIREFOX_MAX_DOCS       (DRIVER_MAX_REDIRECTS + 1) /* a tab's log: the hops and the final */
#define FIREFOX_MAX_TABS       256 /* tabs (and popups) the navigation log follows per browser */
#define FIREFOX_MAX_HANDLE     64  /* bytes of a Marionette window handle (a UUID: 36) */
/*
 * The connection's message limit.  A viewport screenshot (1366x682 pixels
 * headless; a page cannot resize its tab) is at most its raw RGBA size,
 * 3.7 MB, plus a few bytes per row as PNG: about 5 MB as base64.
 */
#define FIREFOX_MAX_MESSAGE       (16u << 20)
#define FIREFOX_SCREENSHOT_MS     5000  /* switching to the tab and taking the screenshot */
#define FIREFOX_DOWNLOAD_WAIT_MS  3000  /* one log read waits this long for running downloads */
#define FIREFOX_DOWNLOAD_GRACE_MS 10000 /* running downloads may delay the reads (as chromium) */
#define FIREFOX_MAX_DOWNLOADS     (1u << 24) /* a larger count is not a browser's: refused */

/* Error kinds of about:neterror / about:certerror pages, in minor-code order (docs/firefox.md). */
enum firefox_net_error {
	FIREFOX_NE_UNKNOWN = 0, /* an error page of a kind not in the table */
	FIREFOX_NE_DNS_NOT_FOUND,
	FIREFOX_NE_CONNECTION_FAILURE,
	FIREFOX_NE_NET_TIMEOUT,
	FIREFOX_NE_NET_RESET,
	FIREFOX_NE_NET_INTERRUPT,
	FIREFOX_NE_NET_OFFLINE,
	FIREFOX_NE_REDIRECT_LOOP,
	FIREFOX_NE_UNKNOWN_SOCKET_TYPE,
	FIREFOX_NE_NSS_FAILURE,
	FIREFOX_NE_NSS_BAD_CERT,
	FIREFOX_NE_CONTENT_ENCODING,
	FIREFOX_NE_CORRUPTED_CONTENT,
	FIREFOX_NE_UNSAFE_CONTENT_TYPE,
	FIREFOX_NE_DENIED_PORT,
	FIREFOX_NE_PROXY_CONNECT,
	FIREFOX_NE_PROXY_RESOLVE,
	FIREFOX_NE_FILE_NOT_FOUND,
	FIREFOX_NE_FILE_ACCESS_DENIED,
	FIREFOX_NE_NOT_CACHED,
	FIREFOX_NE_PROTOCOL_ERROR,
	FIREFOX_NE_INADEQUATE_SECURITY,
	FIREFOX_NE_SSLV3_USED,
	FIREFOX_NE_BLOCKED_BY_POLICY,
	FIREFOX_NE_CSP_BLOCKED,
	FIREFOX_NE_XFO_BLOCKED,
	FIREFOX_NE_BLOCKED_BY_COOP,
	FIREFOX_NE_BLOCKED_BY_COEP,
	FIREFOX_NE_INVALID_HEADER,
	FIREFOX_NE_CAPTIVE_PORTAL,
	FIREFOX_NE_VPN_FAILURE,
	FIREFOX_NE_HTTP_AUTH_DISABLED,
};

/*
 * The error codes of a WebDriver:Navigate that failed with Marionette error
 * KIND and MESSAGE.  "unknown error" with "about:neterror?e=NAME" or
 * "about:certerror?e=NAME" in the message is NETWORK_ERROR with MINOR = the
 * enum firefox_net_error of NAME (INVALID_URL for malformedURI and
 * unknownProtocolFound, no error for httpErrorPage and serverError: the
 * server answered); "timeout" is TIMEOUT_ERROR; "invalid argument" (a URL
 * Marionette refuses) INVALID_URL; anything else PROCESS_ERROR.  NAME (at
 * most NAMELEN bytes, "" if none) gets the page's error name.  Returns
 * false (codes 0) if it is not an error of the visit.
 */
bool firefox_nav_error(const char *kind, const char *message, uint32_t *major, uint32_t *minor,
		       char *name, size_t namelen);

/*
 * True if WebDriver:Navigate may be sent URL: the URLs Marionette itself
 * accepts without --remote-allow-system-access (http, https, file, blob,
 * data and javascript in a web-content tab, about:blank).  The driver gives
 * Marionette that flag for the navigation log, which also lifts
 * Marionette's own check, so the driver keeps it (docs/firefox.md).
 */
bool firefox_url_navigable(const char *url);

/* One main document of a tab (docs/firefox.md "Redirect chain"). */
struct firefox_doc {
	const char *url; /* borrowed from the parsed reply */
	int status;      /* HTTP status (3xx for a redirect), 0 if none (not HTTP, error page) */
};

/* What a tab's navigation log gave (firefox_docs_parse). */
struct firefox_docs {
	struct firefox_doc v[FIREFOX_MAX_DOCS];
	size_t n;
	/*
	 * true: V are the documents the tab showed, first to last (redirects
	 * included), the last one is the final document; false: no document
	 * was shown and V are the redirects of the navigation under way.
	 */
	bool committed;
	size_t dropped; /* documents the log could not keep (past FIREFOX_MAX_DOCS) */
};

/*
 * Parses VALUE, the navigation log's answer for one tab:
 * {"docs":[[URL,STATUS,MS],...],"pending":[[URL,STATUS,MS],...],"dropped":N}
 * (MS: CLOCK_REALTIME milliseconds of the entry).  Entries later than
 * UNTIL_MS are not part of the visit and are left out; a status outside
 * 100..599 becomes 0; "pending" counts only when no document was shown, and
 * then only its redirects (3xx).  The browser is untrusted: any other shape,
 * more than FIREFOX_MAX_DOCS entries in a list, or a URL that is empty,
 * longer than APPS_MAX_URL or holds a control byte, and the whole answer is
 * refused.  0 with OUT (URLs borrowed from VALUE), or -1 with *REASON.
 */
int firefox_docs_parse(const json_t *value, uint64_t until_ms, struct firefox_docs *out,
		       const char **reason);

/* A tab's download counts from the navigation log (firefox_downloads_parse). */
struct firefox_downloads {
	bool counted;                   /* false: the browser keeps no download log */
	unsigned started, done;         /* downloads the tab (its frames, its popups) started */
	unsigned all_started, all_done; /* the whole browser's, attributed to a tab or not */
	unsigned running;               /* the browser's downloads still under way */
};

/*
 * Parses VALUE, the "downloads" member of the navigation log's answer for
 * one tab: {"tab":[STARTED,DONE],"all":[STARTED,DONE],"running":N}, or
 * JSON null when the browser keeps no download log (OUT->counted false).
 * The browser is untrusted: any other shape, a count that is not an
 * integer from 0 to FIREFOX_MAX_DOWNLOADS, more done than started, more
 * for the tab than for the whole browser, or more running than started
 * and not done, and the whole member is refused.  0 with OUT, or -1 with
 * *REASON.
 */
int firefox_downloads_parse(const json_t *value, struct firefox_downloads *out,
			    const char **reason);

/* The quiet user.js (docs/firefox.md) without the port line, NUL-terminated. */
const char *firefox_user_js(void);

extern const struct driver_ops firefox_driver_ops;

#endif
