/*
 * path.h - lexical path joining for sensor paths.
 *
 * The sensor reports "directory + name as the program passed it"; joining
 * them here (not in the kernel) keeps the BPF side small.  Only "." and ".."
 * and repeated slashes are folded: symlinks are not resolved, because the
 * name may no longer exist (unlink, rename source).
 */
#ifndef CAPTURE_PATH_H
#define CAPTURE_PATH_H

#include <stddef.h>

/*
 * Writes the normalized absolute path of NAME relative to DIR into OUT
 * (OUTLEN bytes).  An absolute NAME ignores DIR; an empty NAME means DIR.
 * ".." at the root stays at the root.  Returns the length, or -1 if OUT is
 * too small (OUT then holds a truncated, still NUL-terminated path).
 */
int path_join(const char *dir, const char *name, char *out, size_t outlen);

/* Last component of PATH ("/usr/bin/sh" -> "sh"); PATH itself if it has no '/'. */
const char *path_basename(const char *path);

#endif
