/* The table of open heat maps (see map-table.h).
 *
 * A plain GPtrArray searched linearly: it is touched only when a
 * connection starts or ends and by the sync thread, and holds one entry
 * per export and live image version.
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include <glib.h>
#include <nbdkit-filter.h>

#include "atomic-file.h"
#include "clock.h"
#include "map-table.h"

/* Protects maps, warned and every field of every struct hm_map except
 * the records themselves (which are updated lock-free). */
static GMutex lock;
/* struct hm_map *, in no particular order. */
static GPtrArray *maps;
/* Paths whose failure has been logged already (path -> itself); cleared
 * for a path when a map is opened there again. */
static GHashTable *warned;

/* Log MSG about PATH with nbdkit_error the first time, then only as
 * debug, so that a full disk does not flood the log. */
static void
warn_once (const char *path, const char *msg)
{
  if (!warned)
    warned = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  if (g_hash_table_contains (warned, path)) {
    nbdkit_debug ("heatmap: %s (already reported)", msg);
    return;
  }
  nbdkit_error ("heatmap: %s; serving this export without a heat map", msg);
  g_hash_table_add (warned, g_strdup (path));
}

static void
map_free (struct hm_map *map)
{
  hm_mapping_close (&map->m);
  g_free (map->path);
  g_free (map->origin);
  g_free (map);
}

/* Sync and free MAP, which is no longer in the table.  Called without
 * the lock. */
static void
map_sync_and_free (struct hm_map *map)
{
  g_autoptr (GError) err = NULL;

  if (hm_mapping_sync (&map->m, &err) == -1)
    nbdkit_error ("heatmap: %s: %s", map->path, err->message);
  map_free (map);
}

/* "CREATED-IDHEX" naming the version a map describes. */
static char *
version_tag (const struct hm_header *h)
{
  char when[17], id[13];

  hm_compact_time (h->created_us, when);
  hm_identity_hex (h->identity, 6, id);
  return g_strdup_printf ("%s-%s", when, id);
}

/* Rename the current map MAP aside and retire it.  With lock held. */
static void
retire (struct hm_map *map, const char *why)
{
  g_autoptr (GError) err = NULL;
  g_autofree char *tag = version_tag (&map->m.hdr);
  char *to;

  to = file_rename_aside (map->path, tag, &err);
  if (to == NULL)
    nbdkit_error ("heatmap: %s: %s; the old map could not be kept",
                  map->path, err->message);
  else {
    nbdkit_debug ("heatmap: %s: %s: old map kept as %s",
                  map->path, why, to);
    g_free (map->path);
    map->path = to;
  }
  map->retired = 1;
}

/* Make room when the table is full: forget current maps that no
 * connection uses (their pages are still written back by the kernel;
 * they are opened again when needed).  With lock held; no msync, so it
 * is quick. */
static void
evict_unused (void)
{
  guint i = 0;

  while (i < maps->len) {
    struct hm_map *map = g_ptr_array_index (maps, i);

    if (map->refs == 0) {
      g_ptr_array_remove_index_fast (maps, i);
      map_free (map);
    }
    else
      i++;
  }
}

/* Is MAP's file still the one at its path?  An administrator may have
 * removed, moved or replaced it; then it must not be used for new
 * connections. */
static int
still_at_path (const struct hm_map *map)
{
  struct stat a, b;

  return fstat (map->m.fd, &a) == 0 && stat (map->path, &b) == 0 &&
    a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

static int
same_version (const struct hm_header *h, uint32_t shift,
              uint64_t image_size, const uint8_t identity[HM_IDENTITY_LEN])
{
  return h->block_shift == shift && h->image_size == image_size &&
    memcmp (h->identity, identity, HM_IDENTITY_LEN) == 0;
}

static struct hm_map *
add (const char *path, const struct hm_mapping *m)
{
  struct hm_map *map = g_new0 (struct hm_map, 1);

  map->path = g_strdup (path);
  map->origin = g_strdup (path);
  map->m = *m;
  map->refs = 1;
  g_ptr_array_add (maps, map);
  if (warned)
    g_hash_table_remove (warned, path);
  return map;
}

struct hm_map *
hm_table_acquire (const char *path, uint32_t shift, uint64_t image_size,
                  const uint8_t identity[HM_IDENTITY_LEN],
                  const char *idtext, const char *label)
{
  g_autoptr (GMutexLocker) locker G_GNUC_UNUSED = g_mutex_locker_new (&lock);
  g_autoptr (GError) err = NULL;
  struct hm_mapping m;
  struct hm_header h;
  enum hm_status status = HM_OK;
  struct hm_map *current = NULL;
  guint i;

  if (!maps)
    maps = g_ptr_array_new ();

  /* Already open: the current map or a retired one still in use. */
  for (i = 0; i < maps->len; i++) {
    struct hm_map *map = g_ptr_array_index (maps, i);

    if (!map->retired && strcmp (map->path, path) == 0) {
      if (!still_at_path (map)) {
        nbdkit_debug ("heatmap: %s was removed or replaced by someone "
                      "else: looking again", path);
        map->retired = 1;
        /* Nor is it to be found again by later connections. */
        g_free (map->origin);
        map->origin = g_strdup ("");
        if (map->refs == 0) {
          g_ptr_array_remove_index_fast (maps, i);
          map_free (map);
          i--;
        }
        continue;
      }
      current = map;
    }
    if (strcmp (map->origin, path) == 0 &&
        same_version (&map->m.hdr, shift, image_size, identity)) {
      map->refs++;
      return map;
    }
  }

  if (current) {
    retire (current, "image version changed");
    if (current->refs == 0) {
      g_ptr_array_remove_fast (maps, current);
      map_sync_and_free (current);
    }
  }
  else {
    switch (hm_mapping_open (path, &m, &status, &err)) {
    case HM_OPEN_OK:
      if (same_version (&m.hdr, shift, image_size, identity)) {
        if (maps->len >= HM_MAX_MAPS)
          evict_unused ();
        if (maps->len >= HM_MAX_MAPS) {
          hm_mapping_close (&m);
          warn_once ("", "too many heat maps open");
          return NULL;
        }
        return add (path, &m);
      }
      else {
        g_autofree char *tag = version_tag (&m.hdr);
        g_autofree char *to = NULL;

        hm_mapping_close (&m);
        to = file_rename_aside (path, tag, &err);
        if (!to) {
          g_autofree char *msg =
            g_strdup_printf ("%s describes another image version and "
                             "cannot be renamed aside: %s",
                             path, err->message);
          warn_once (path, msg);
          return NULL;
        }
        nbdkit_debug ("heatmap: %s: image version changed since the map "
                      "was made: old map kept as %s", path, to);
      }
      break;

    case HM_OPEN_MISSING:
      break;

    case HM_OPEN_INVALID: {
      char when[17];
      g_autofree char *tag = NULL;
      g_autofree char *to = NULL;
      g_autofree char *reason = g_strdup (err->message);

      g_clear_error (&err);
      hm_compact_time (clock_real_us (), when);
      tag = g_strdup_printf ("%s-%s", hm_status_name (status), when);
      to = file_rename_aside (path, tag, &err);
      if (!to) {
        g_autofree char *msg =
          g_strdup_printf ("%s; cannot rename it aside: %s",
                           reason, err->message);
        warn_once (path, msg);
        return NULL;
      }
      nbdkit_error ("heatmap: %s; renamed it to %s and started a new map",
                    reason, to);
      break;
    }

    case HM_OPEN_ERROR:
      warn_once (path, err->message);
      return NULL;
    }
  }

  if (maps->len >= HM_MAX_MAPS)
    evict_unused ();
  if (maps->len >= HM_MAX_MAPS) {
    warn_once ("", "too many heat maps open");
    return NULL;
  }
  if (hm_header_init (&h, shift, image_size, clock_real_us (), identity,
                      idtext, label) == -1) {
    g_autofree char *msg =
      g_strdup_printf ("%s: an image of %" G_GUINT64_FORMAT
                       " bytes cannot have a map", path, image_size);
    warn_once (path, msg);
    return NULL;
  }
  g_clear_error (&err);
  if (hm_file_create (path, &h, NULL, &err) == -1) {
    warn_once (path, err->message);
    return NULL;
  }
  if (hm_mapping_open (path, &m, &status, &err) != HM_OPEN_OK) {
    warn_once (path, err ? err->message : "new map is not valid");
    return NULL;
  }
  nbdkit_debug ("heatmap: %s: new map, %" G_GUINT64_FORMAT " blocks of %"
                G_GUINT64_FORMAT " bytes, %s", path, h.nr_blocks,
                UINT64_C(1) << shift, h.identity_text);
  return add (path, &m);
}

void
hm_table_release (struct hm_map *map)
{
  int free_it = 0;

  if (map == NULL)
    return;
  g_mutex_lock (&lock);
  if (--map->refs == 0 && map->retired) {
    g_ptr_array_remove_fast (maps, map);
    free_it = 1;
  }
  g_mutex_unlock (&lock);
  if (free_it)
    map_sync_and_free (map);
}

void
hm_table_sync_all (void)
{
  g_autoptr (GPtrArray) todo = g_ptr_array_new ();
  guint i;

  g_mutex_lock (&lock);
  for (i = 0; maps && i < maps->len; i++) {
    struct hm_map *map = g_ptr_array_index (maps, i);

    map->refs++;
    g_ptr_array_add (todo, map);
  }
  g_mutex_unlock (&lock);

  for (i = 0; i < todo->len; i++) {
    struct hm_map *map = g_ptr_array_index (todo, i);
    g_autoptr (GError) err = NULL;

    if (hm_mapping_sync (&map->m, &err) == -1) {
      /* sync_failed is only touched by the single sync thread and at
       * shutdown, so no lock is needed for it. */
      if (!map->sync_failed)
        nbdkit_error ("heatmap: %s: %s", map->path, err->message);
      map->sync_failed = 1;
    }
    else
      map->sync_failed = 0;
  }

  for (i = 0; i < todo->len; i++)
    hm_table_release (g_ptr_array_index (todo, i));
}

void
hm_table_close_all (void)
{
  g_autoptr (GPtrArray) all = NULL;
  guint i;

  g_mutex_lock (&lock);
  all = g_steal_pointer (&maps);
  g_clear_pointer (&warned, g_hash_table_unref);
  g_mutex_unlock (&lock);

  for (i = 0; all && i < all->len; i++)
    map_sync_and_free (g_ptr_array_index (all, i));
}

unsigned
hm_table_count (void)
{
  g_autoptr (GMutexLocker) locker G_GNUC_UNUSED = g_mutex_locker_new (&lock);

  return maps ? maps->len : 0;
}
