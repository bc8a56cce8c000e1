/*
 * archive_manifest.h - the file list of a client's upload, for the report.
 *
 * A capture-client archive (docs/collection.md) carries manifest.json:
 * every created, modified, attribute-changed or deleted path of the guest
 * with its size and SHA-256.  The server reads it back (libarchive, the zip
 * is never unpacked to disk) so the URL's JSON report lists the files.
 * Archives of original clients have no manifest: that is not an error.
 */
#ifndef CAPTURE_ARCHIVE_MANIFEST_H
#define CAPTURE_ARCHIVE_MANIFEST_H

#include <stddef.h>

#include "server/outputs.h"

#define ARCHIVE_MANIFEST_MAX (16u << 20) /* bytes of manifest.json read */

/*
 * Reads ZIP's manifest.json into a new array *FILES of *N entries (paths as
 * the manifest has them, kind prefixed: "created /home/x").  0 (also when
 * there is no manifest: *N = 0), or -1 with ERR.  Free with
 * archive_manifest_free().
 */
int archive_manifest_read(const char *zip, struct output_file **files, size_t *n, char *err,
			  size_t errlen);
void archive_manifest_free(struct output_file *files, size_t n);

#endif
