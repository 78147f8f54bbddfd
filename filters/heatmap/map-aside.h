/* Moving a file out of the way of a heat map without losing it.
 *
 * When the file at a map's path cannot serve the image version a
 * connection brings, the filter renames it next to where it was, to a
 * name that says why (file_rename_aside: never replacing a file, the
 * directory synced), so that the administrator and sandbag-heatmap
 * can still read it:
 *
 *   PATH.CREATED-ID   a valid map of another image version (or heat
 *                     block size): CREATED is its creation time as
 *                     YYYYMMDDTHHMMSSZ (UTC), ID the first 12 hex
 *                     digits of its identity;
 *   PATH.STATUS-NOW   not a valid map: STATUS is foreign, unsupported,
 *                     truncated or corrupt, NOW the time it was found.
 *
 * If that name is taken, ".1", ".2", ... is added.  These names are
 * user-visible, documented in nbdkit-heatmap-filter(1).
 *
 * Each function returns the new name (g_free it), or NULL and *ERR
 * (atomic-file.h's errors).  Threads: no shared state.
 */
#ifndef SANDBAG_HEATMAP_MAP_ASIDE_H
#define SANDBAG_HEATMAP_MAP_ASIDE_H

#include <glib.h>

#include "heatmap-format.h"

/* The file at PATH is a valid map with header H, of another version. */
char *hm_aside_other_version (const char *path, const struct hm_header *h,
                              GError **err);

/* The file at PATH is not a valid map (STATUS, not HM_OK). */
char *hm_aside_invalid (const char *path, enum hm_status status,
                        GError **err);

#endif /* SANDBAG_HEATMAP_MAP_ASIDE_H */
