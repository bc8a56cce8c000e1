/*
 * firefox.h - the "firefox" browser driver (driver.h): firefox-esr headless
 * with a fresh profile per browser, its user.js written in the guest at
 * launch, driven over Marionette (marionette.h) on the guest's
 * 127.0.0.1:2828 through a socket made in the guest's network namespace.
 * docs/firefox.md.
 */
#ifndef CAPTURE_FIREFOX_H
#define CAPTURE_FIREFOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client/apps/driver.h"

#define FIREFOX_PATH           "/usr/bin/firefox-esr"
#define FIREFOX_PROFILE_BASE   "/tmp/capture-profile-" /* + 16 hex digits (etc/exclusion/firefox) */
#define FIREFOX_START_S        30   /* from launch until Marionette answers, at most */
#define FIREFOX_REPLY_GRACE_MS 5000 /* past the page timeout for Marionette's own reply */
#define FIREFOX_SCRIPT_MS      5000 /* Marionette's script timeout (the status query) */

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

/* The quiet user.js (docs/firefox.md) without the port line, NUL-terminated. */
const char *firefox_user_js(void);

extern const struct driver_ops firefox_driver_ops;

#endif
