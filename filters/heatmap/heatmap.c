/* nbdkit-heatmap-filter: per-heat-block read statistics, kept in a
 * memory-mapped file per export and image version.
 *
 * Design: when a connection is ready (.prepare) the filter works out
 * which image version it sees (identity.h) and acquires that version's
 * map from the table (map-table.h), which opens, creates or renames
 * files as needed.  A successful read then costs one clock_gettime (vDSO)
 * and four relaxed atomics per heat block touched (map-account.h): no
 * lock, no allocation, no system call.  A background thread, started in
 * .after_fork, msyncs every map every heatmap-sync interval, and all maps
 * are synced again at .cleanup and closed at .unload.
 *
 * Nothing here can fail a client's request: a connection whose map
 * cannot be had is served without one.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <glib.h>
#include <nbdkit-filter.h>

#include "clock.h"
#include "config.h"
#include "export-name.h"
#include "identity.h"
#include "map-account.h"
#include "map-table.h"

/* heatmap=FILE: the map of every connection, whatever export name it
 * asked for (for plugins that serve one image), absolute; or NULL. */
static char *map_file;
/* heatmap-dir=DIR: directory of per-export maps (absolute), or NULL. */
static char *map_dir;
/* heatmap-block: log2 of the heat block size in bytes. */
static uint32_t heat_block_shift = HM_DEFAULT_SHIFT;
/* heatmap-sync: interval between msyncs of every map, in ms (1 ms to
 * SYNC_MAX_MS). */
static uint64_t sync_ms = 30 * 1000;
#define SYNC_MAX_MS (UINT64_C(7) * 24 * 3600 * 1000)

/* The sync thread and how to stop it.  sync_lock protects sync_stop. */
static GThread *sync_thread;
static GMutex sync_lock;
static GCond sync_cond;
static bool sync_stop;

struct handle {
  char *exportname;             /* as the client asked for it */
  struct hm_map *map;           /* NULL: not recording */
  /* Copies of the map's geometry, so the request path reads one line. */
  struct hm_record *recs;
  uint64_t nr_heat_blocks;
  uint32_t shift;
};

static void
heatmap_unload (void)
{
  hm_table_close_all ();
  free (map_file);
  free (map_dir);
  config_reset ();
}

/* heatmap-block=SIZE: a power of two from 4K to 1G, kept as its log2. */
static int
config_heat_block (const char *key, const char *value)
{
  int64_t size;

  if (config_size (key, value, 0, INT64_MAX, &size) == CONFIG_ERROR)
    return CONFIG_ERROR;
  if (size < (INT64_C(1) << HM_MIN_SHIFT) ||
      size > (INT64_C(1) << HM_MAX_SHIFT) || (size & (size - 1)) != 0) {
    nbdkit_error ("%s: %s must be a power of two from 4K to 1G", key, value);
    return CONFIG_ERROR;
  }
  heat_block_shift = __builtin_ctzll (size);
  return CONFIG_OK;
}

static int
heatmap_config (nbdkit_next_config *next, nbdkit_backend *nxdata,
                const char *key, const char *value)
{
  if (strcmp (key, "heatmap") == 0)
    return config_path (key, value, &map_file);
  else if (strcmp (key, "heatmap-dir") == 0)
    return config_path (key, value, &map_dir);
  else if (strcmp (key, "heatmap-block") == 0)
    return config_heat_block (key, value);
  else if (strcmp (key, "heatmap-sync") == 0)
    return config_duration (key, value, 1, SYNC_MAX_MS, &sync_ms);
  else
    return next (nxdata, key, value);
}

/* DIR must exist and be a directory; KEY names the parameter. */
static int
check_dir (const char *key, const char *dir)
{
  struct stat st;

  if (stat (dir, &st) == -1) {
    nbdkit_error ("%s: %s: %m", key, dir);
    return -1;
  }
  if (!S_ISDIR (st.st_mode)) {
    nbdkit_error ("%s: %s: not a directory", key, dir);
    return -1;
  }
  return 0;
}

static int
heatmap_config_complete (nbdkit_next_config_complete *next,
                         nbdkit_backend *nxdata)
{
  if (!map_file == !map_dir) {
    nbdkit_error ("heatmap: give exactly one of heatmap=FILE or "
                  "heatmap-dir=DIR");
    return -1;
  }
  if (map_dir && check_dir ("heatmap-dir", map_dir) == -1)
    return -1;
  if (map_file) {
    g_autofree char *dir = g_path_get_dirname (map_file);
    if (check_dir ("heatmap", dir) == -1)
      return -1;
  }
  return next (nxdata);
}

#define heatmap_config_help \
  "heatmap=FILE          The heat map (for a plugin serving one image).\n" \
  "heatmap-dir=DIR       Directory of heat maps, one per export.\n" \
  "heatmap-block=SIZE    Heat block size (power of two, default 1M).\n" \
  "heatmap-sync=DURATION Interval between flushes to disk (default 30s)."

/* Wait until the next sync is due: true, or false when told to stop. */
static bool
sync_wait (void)
{
  g_autoptr (GMutexLocker) locker G_GNUC_UNUSED =
    g_mutex_locker_new (&sync_lock);
  gint64 deadline = g_get_monotonic_time () + sync_ms * 1000;

  while (!sync_stop && g_cond_wait_until (&sync_cond, &sync_lock, deadline))
    ;
  return !sync_stop;
}

static gpointer
sync_thread_main (gpointer data)
{
  while (sync_wait ())
    hm_table_sync_all ();
  return NULL;
}

static int
heatmap_after_fork (nbdkit_backend *nxdata)
{
  g_autoptr (GError) err = NULL;

  sync_thread = g_thread_try_new ("heatmap-sync", sync_thread_main,
                                  NULL, &err);
  if (sync_thread == NULL) {
    nbdkit_error ("heatmap: cannot start the sync thread: %s",
                  err->message);
    return -1;
  }
  return 0;
}

static void
sync_thread_stop (void)
{
  {
    g_autoptr (GMutexLocker) locker G_GNUC_UNUSED =
      g_mutex_locker_new (&sync_lock);

    sync_stop = true;
    g_cond_signal (&sync_cond);
  }
  g_thread_join (g_steal_pointer (&sync_thread));
}

static void
heatmap_cleanup (nbdkit_backend *nxdata)
{
  if (sync_thread)
    sync_thread_stop ();
  hm_table_sync_all ();
}

static void *
heatmap_open (nbdkit_next_open *next, nbdkit_context *nxdata,
              int readonly, const char *exportname, int is_tls)
{
  struct handle *h;

  if (next (nxdata, readonly, exportname) == -1)
    return NULL;
  h = g_new0 (struct handle, 1);
  h->exportname = g_strdup (exportname);
  return h;
}

static void
heatmap_close (void *handle)
{
  struct handle *h = handle;

  hm_table_release (h->map);
  g_free (h->exportname);
  g_free (h);
}

/* Read LEN bytes at OFFSET through the backend into BUF, in requests
 * of at most CHUNK bytes (the backend may refuse longer ones).  0 or
 * -1. */
static int
sample (nbdkit_next *next, uint8_t *buf, uint64_t len, uint64_t offset,
        uint32_t chunk)
{
  int err = 0;

  while (len > 0) {
    uint32_t n = len < chunk ? len : chunk;

    if (next->pread (next, buf, n, offset, 0, &err) == -1) {
      nbdkit_debug ("heatmap: identity read of %" PRIu32 " bytes at %"
                    PRIu64 " failed: %s", n, offset, strerror (err));
      return -1;
    }
    buf += n;
    offset += n;
    len -= n;
  }
  return 0;
}

/* The map file of this connection's export. */
static char *
map_path (const struct handle *h)
{
  g_autofree char *base = NULL;

  if (map_file)
    return g_strdup (map_file);
  base = hm_map_basename (h->exportname);
  return g_build_filename (map_dir, base, NULL);
}

/* The identity of the image version that NEXT serves, SIZE > 0 bytes
 * (identity.h).  0, or -1 if a sample cannot be read. */
static int
identify_version (nbdkit_next *next, int64_t size,
                  uint8_t identity[HM_IDENTITY_LEN],
                  char idtext[HM_TEXT_LEN])
{
  const char *desc = next->export_description (next);
  g_autofree uint8_t *head = NULL, *tail = NULL;
  uint32_t nbd_minimum = 0, nbd_preferred = 0, nbd_maximum = 0, chunk;
  uint64_t n, end;

  /* The samples are the first and the last (up to) HM_ID_SAMPLE bytes
   * of the image that a client can read: requests of at most the
   * backend's NBD maximum block size, and an end rounded down to its
   * NBD minimum block size (a backend may refuse the partial NBD block at
   * the end of an image whose size is not a multiple of it). */
  if (next->block_size (next, &nbd_minimum, &nbd_preferred,
                        &nbd_maximum) == -1 ||
      nbd_minimum == 0 || (nbd_minimum & (nbd_minimum - 1)) != 0)
    nbd_minimum = 1, nbd_maximum = 0;
  chunk = HM_ID_SAMPLE;
  if (nbd_maximum > 0 && nbd_maximum < chunk)
    chunk = nbd_maximum;
  end = size & ~((uint64_t) nbd_minimum - 1);
  if (end == 0)
    end = size;
  n = end < HM_ID_SAMPLE ? end : HM_ID_SAMPLE;
  head = g_malloc (n);
  tail = g_malloc (n);
  if (sample (next, head, n, 0, chunk) == -1 ||
      sample (next, tail, n, end - n, chunk) == -1)
    return -1;
  hm_identity_compute (size, desc, head, n, tail, n, identity, idtext);
  return 0;
}

/* Find this connection's image version and acquire its map.  Never
 * fails the connection. */
static int
heatmap_prepare (nbdkit_next *next, void *handle, int readonly)
{
  struct handle *h = handle;
  g_autofree char *path = map_path (h);
  uint8_t identity[HM_IDENTITY_LEN];
  char idtext[HM_TEXT_LEN];
  int64_t size;

  /* Should nbdkit prepare a handle twice, do not leak the first map. */
  hm_table_release (g_steal_pointer (&h->map));
  h->recs = NULL;

  size = next->get_size (next);
  if (size <= 0)
    nbdkit_debug ("heatmap: export size %" PRIi64 ": not recorded", size);
  else if (identify_version (next, size, identity, idtext) == 0)
    h->map = hm_table_acquire (path, heat_block_shift, size, identity, idtext,
                               h->exportname);
  if (h->map) {
    h->recs = h->map->m.recs;
    h->nr_heat_blocks = h->map->m.hdr.nr_heat_blocks;
    h->shift = h->map->m.hdr.heat_block_shift;
  }
  return 0;
}

static int
heatmap_pread (nbdkit_next *next, void *handle, void *buf, uint32_t count,
               uint64_t offset, uint32_t flags, int *err)
{
  struct handle *h = handle;

  if (next->pread (next, buf, count, offset, flags, err) == -1)
    return -1;
  if (h->recs)
    hm_account (h->recs, h->nr_heat_blocks, h->shift, offset, count,
                clock_real_us ());
  return 0;
}

static struct nbdkit_filter filter = {
  .name              = "heatmap",
  .longname          = "sandbag heatmap filter",
  .unload            = heatmap_unload,
  .config            = heatmap_config,
  .config_complete   = heatmap_config_complete,
  .config_help       = heatmap_config_help,
  .after_fork        = heatmap_after_fork,
  .cleanup           = heatmap_cleanup,
  .open              = heatmap_open,
  .close             = heatmap_close,
  .prepare           = heatmap_prepare,
  .pread             = heatmap_pread,
};

/* The one exported symbol (NBDKIT_REGISTER_FILTER defines it); declared
 * here for -Wmissing-prototypes. */
NBDKIT_DLL_PUBLIC struct nbdkit_filter *filter_init (void);
NBDKIT_REGISTER_FILTER (filter)
