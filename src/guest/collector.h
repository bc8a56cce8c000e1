/*
 * collector.h - what a guest changed, read from its overlay's upper layer.
 *
 * The upper layer *is* the list of changes: a regular file there was
 * created (absent from the lower layer) or modified (present there); a
 * character device 0/0 is a whiteout, i.e. a deleted lower file; a directory
 * with the trusted.overlay.opaque xattr replaced a lower directory; an entry
 * whose content equals the lower one but whose mode/owner differ changed
 * attributes only.  Files are hashed with SHA-256 (OpenSSL EVP).
 * The archive (libarchive, zip) has the original Capture-HPC layout:
 * modified_files/<guest path>, deleted_files/<guest path> (content taken
 * from the lower layer), the visit's pcap, and manifest.json.
 */
#ifndef CAPTURE_COLLECTOR_H
#define CAPTURE_COLLECTOR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum collect_kind {
	COLLECT_CREATED = 0,  /* regular file, not in the lower layer */
	COLLECT_MODIFIED,     /* regular file, content differs from the lower one */
	COLLECT_ATTRIBUTES,   /* same content as lower, mode/uid/gid differ */
	COLLECT_DELETED,      /* whiteout of a lower file or directory */
	COLLECT_DIR_CREATED,  /* directory not in the lower layer */
	COLLECT_DIR_REPLACED, /* opaque directory hiding a lower one */
	COLLECT_SYMLINK,      /* symlink created or changed */
	COLLECT_OTHER,        /* fifo, socket, device other than a whiteout */
};

struct collect_entry {
	enum collect_kind kind;
	char *path;        /* guest path, absolute ("/home/capture/x") */
	char *link_target; /* COLLECT_SYMLINK */
	uint64_t size;     /* regular files */
	char sha256[65];   /* hex, regular files (created/modified/attributes); "" otherwise */
	mode_t mode;
	uid_t uid;
	gid_t gid;
};

struct collection;

const char *collect_kind_name(enum collect_kind k);

/*
 * Walks UPPER_DIR (the overlay's upperdir) comparing with LOWER_DIR (the
 * lowerdir as the host sees it).  Never follows symlinks; skips nothing
 * silently (unreadable entries are errors naming the path).  0 or -1 with ERR.
 */
int collector_scan(const char *upper_dir, const char *lower_dir, struct collection **out, char *err,
		   size_t errlen);
size_t collection_count(const struct collection *c);
const struct collect_entry *collection_get(const struct collection *c, size_t i);
void collection_free(struct collection *c);

/*
 * Writes the zip archive ARCHIVE_PATH: file contents for created/modified/
 * attributes entries from UPPER_DIR under modified_files/, deleted lower
 * files from LOWER_DIR under deleted_files/, PCAP_PATH (if not NULL) under
 * its base name, and manifest.json (every entry with kind, path, size,
 * sha256, mode, uid, gid).  Entry names are the guest paths without the
 * leading '/', byte-exact.  0 or -1 with ERR.
 */
int collector_write_archive(const struct collection *c, const char *upper_dir,
			    const char *lower_dir, const char *pcap_path, const char *archive_path,
			    char *err, size_t errlen);

#endif
