/* The filter's table of open heat maps, one per image version.
 *
 * A map is identified by its path and the identity of the image version
 * it describes.  Each connection acquires the map of the version it
 * opened and releases it when it closes; acquiring is done once per
 * connection (it may create, validate or rename files) and the request
 * path only uses the returned records.
 *
 * When a connection brings a new version (its identity, image size or
 * heat block size differs from the map currently at the path), the
 * current file is renamed aside to "PATH.CREATED-IDHEX" (its creation
 * time and the start of its identity) and a fresh map is created at the
 * path.  Connections that still use the old version keep counting into
 * the renamed file through their existing mapping; it is synced and
 * closed when the last of them goes.
 *
 * A map file that was removed, moved or replaced at its path by someone
 * else is not handed out again (connections that have it keep it); the
 * next connection looks at the path afresh.
 *
 * A file at the path that is not a valid map (foreign, truncated,
 * corrupt, another format version) is renamed to "PATH.STATUS-NOW" with
 * an nbdkit_error saying why, and a fresh map is started.  If a map
 * cannot be opened or created (permissions, read-only or full file
 * system), hm_table_acquire logs once per path and returns NULL: the
 * caller serves the connection without a map.
 *
 * Threads: all functions are thread-safe.  One lock protects the
 * table; it is held while files of the table are opened, created or
 * renamed, never during msync: a map that leaves the table (retired
 * and no longer used, or unused when the table is full) is synced and
 * closed after the lock is released.
 *
 * Lifetime: a map from hm_table_acquire stays valid, mapped and
 * counted into until the matching hm_table_release, whatever happens
 * to its file meanwhile.
 */
#ifndef SANDBAG_HEATMAP_MAP_TABLE_H
#define SANDBAG_HEATMAP_MAP_TABLE_H

#include <stdint.h>

#include "heatmap-format.h"
#include "heatmap-file.h"

/* At most this many maps are open at once.  When the table is full,
 * maps no connection uses are synced and closed; if all are in use,
 * new versions or exports are served without a map (logged once). */
#define HM_MAX_MAPS 4096

struct hm_map {
  char *path;                   /* where the file is now */
  char *origin;                 /* the path it was acquired for */
  struct hm_mapping m;
  unsigned refs;                /* connections (and syncs) using it */
  int retired;                  /* renamed aside: close at refs == 0 */
  int sync_failed;              /* msync error already logged */
};

/* The map for image version IDENTITY at PATH, creating it if needed
 * (heat blocks of 2^SHIFT bytes, IMAGE_SIZE > 0; IDTEXT and LABEL are
 * stored in a new header).  NULL if there is none to be had. */
struct hm_map *hm_table_acquire (const char *path, uint32_t shift,
                                 uint64_t image_size,
                                 const uint8_t identity[HM_IDENTITY_LEN],
                                 const char *idtext, const char *label);

/* Give back a map from hm_table_acquire (NULL is ignored). */
void hm_table_release (struct hm_map *map);

/* msync every open map (logging a failure once per map). */
void hm_table_sync_all (void);

/* Sync, unmap and forget every map.  Only when no connection is left. */
void hm_table_close_all (void);

/* Number of open maps (for tests). */
unsigned hm_table_count (void);

#endif /* SANDBAG_HEATMAP_MAP_TABLE_H */
