/*
 * chromium.h - the "chromium" browser driver (driver.h): the real binary,
 * headless, a fresh profile per browser, driven over CDP on
 * --remote-debugging-pipe (cdp.h).  docs/applications.md "chromium".
 */
#ifndef CAPTURE_CHROMIUM_H
#define CAPTURE_CHROMIUM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CHROMIUM_PATH               "/usr/lib/chromium/chromium"
#define CHROMIUM_PROFILE_BASE       "/tmp/capture-profile-" /* + 16 hex digits (file.exl) */
#define CHROMIUM_SCREENSHOT_WAIT_MS 5000  /* a screenshot reply after the stay, at most */
#define CHROMIUM_DOWNLOAD_GRACE_MS  10000 /* a running download may extend the stay */

/* The browser's flags (quiet variant, clients-baseline.md §2.1); N gets their count. */
const char *const *chromium_flags(size_t *n);

/*
 * The error codes of a failed Page.navigate with ERROR_TEXT: INVALID_URL
 * for the URL errors (-300..-302), else NETWORK_ERROR; MINOR = the net
 * error as a positive number (0 if the name is unknown).  Returns false
 * (codes 0) for what is not an error of the visit: HTTP 4xx/5xx pages
 * (ERR_HTTP_RESPONSE_CODE_FAILURE) and navigations that became downloads.
 */
bool chromium_nav_error(const char *error_text, bool is_download, uint32_t *major, uint32_t *minor);

#endif
