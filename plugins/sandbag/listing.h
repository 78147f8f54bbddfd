/* sandbag: listing the images of a directory and describing them.
 *
 * listing_scan answers NBD_OPT_LIST in dir= mode with a bounded amount
 * of work: it examines at most SCAN directory entries and keeps at most
 * LIMIT of them, those that exportname_check accepts and imagedir_open
 * can open (so hidden, refused and unreadable entries never appear).
 * Each open is O_PATH first, so listing never blocks on a FIFO.
 *
 * listing_describe builds the description of one image (the format is
 * in describe.h) from its size, its modification time or its version's
 * metadata, and its sidecar file ".NAME.description" in the same
 * directory (NAME without the version, for a pinned version).  Names
 * are listed as they are asked for: a current-version link as NAME,
 * described as the version it resolves to, and every pinned version as
 * NAME@VERSION.
 *
 * Neither calls nbdkit; both are thread-safe and may run concurrently
 * (each scan opens its own directory stream).
 */
#ifndef SANDBAG_LISTING_H
#define SANDBAG_LISTING_H

#include <stdint.h>
#include <time.h>

#include <glib.h>

#include "version.h"

struct listing_entry {
  char *name;                   /* export name = file name */
  char *description;            /* see describe.h */
};

/* The description of image NAME in DIRFD, of SIZE bytes modified at
 * MTIME, or of the pinned version META (not NULL).  Never fails; free
 * with g_free.
 */
extern char *listing_describe (int dirfd, const char *name,
                               uint64_t size, time_t mtime,
                               const struct version_meta *meta);

/* The servable images of DIRFD, sorted by name, as a GPtrArray of
 * struct listing_entry * (freed with the array), or NULL with errno
 * set if the directory cannot be read.
 */
extern GPtrArray *listing_scan (int dirfd, unsigned limit, unsigned scan);

#endif
