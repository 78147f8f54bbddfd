/* The table of open heat maps (see map-table.h).
 *
 * A plain GPtrArray searched linearly: it is touched only when a
 * connection starts or ends and by the sync thread, and holds one entry
 * per export and live image version.
 *
 * Acquiring a map goes in three steps, all with the lock held: find an
 * open map of the wanted version; else reconcile the path with the
 * wanted version (retire the table's map of another version, or look
 * at the file there: use it, or rename it aside); else create a new
 * map.  Functions named *_locked need the lock.
 *
 * msync can take seconds and every connection's start and end waits
 * for the lock, so maps leave the table under the lock but are synced
 * and freed only after it is released: the steps collect them in a
 * LEAVING array whose free function does that.
 */
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>

#include <glib.h>
#include <nbdkit-filter.h>

#include "clock.h"
#include "map-aside.h"
#include "map-table.h"

/* Protects maps, warned and every field of every struct hm_map except
 * the records themselves (which are updated lock-free) and
 * sync_failed (see hm_table_sync_all). */
static GMutex lock;
/* struct hm_map *, in no particular order. */
static GPtrArray *maps;
/* Paths whose failure has been logged already (path -> itself); cleared
 * for a path when a map is opened there again. */
static GHashTable *warned;

/* The map a connection asks for (hm_table_acquire's arguments). */
struct wanted {
  const char *path;
  uint32_t shift;
  uint64_t image_size;
  const uint8_t *identity;      /* HM_IDENTITY_LEN bytes */
  const char *idtext;
  const char *label;
};

/* What reconcile_locked found at the wanted path. */
enum path_state {
  PATH_HAS_MAP,                 /* a valid map of the wanted version */
  PATH_IS_FREE,                 /* nothing (any old file is set aside) */
  PATH_UNUSABLE,                /* neither: logged, serve without a map */
};

/* Log MSG about PATH with nbdkit_error the first time, then only as
 * debug, so that a full disk does not flood the log. */
static void
warn_once_locked (const char *path, const char *msg)
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

/* Sync and free MAP, which is no longer in the table.  Without the
 * lock. */
static void
map_sync_and_free (gpointer data)
{
  struct hm_map *map = data;
  g_autoptr (GError) err = NULL;

  if (hm_mapping_sync (&map->m, &err) == -1)
    nbdkit_error ("heatmap: %s: %s", map->path, err->message);
  hm_mapping_close (&map->m);
  g_free (map->path);
  g_free (map->origin);
  g_free (map);
}

/* Take MAP out of the table and hand it to LEAVING. */
static void
drop_locked (struct hm_map *map, GPtrArray *leaving)
{
  g_ptr_array_remove_fast (maps, map);
  g_ptr_array_add (leaving, map);
}

/* The current map MAP describes another version than the connection
 * wants: rename its file aside, and retire it (closed once unused). */
static void
retire_locked (struct hm_map *map, GPtrArray *leaving)
{
  g_autoptr (GError) err = NULL;
  char *to = hm_aside_other_version (map->path, &map->m.hdr, &err);

  if (to == NULL)
    nbdkit_error ("heatmap: %s: %s; the old map could not be kept",
                  map->path, err->message);
  else {
    nbdkit_debug ("heatmap: %s: image version changed: old map kept as %s",
                  map->path, to);
    g_free (map->path);
    map->path = to;
  }
  map->retired = 1;
  if (map->refs == 0)
    drop_locked (map, leaving);
}

/* MAP's file was removed, moved or replaced at its path by someone
 * else: connections that have it keep it, later ones never get it. */
static void
forget_locked (struct hm_map *map, GPtrArray *leaving)
{
  nbdkit_debug ("heatmap: %s was removed or replaced by someone else: "
                "looking again", map->path);
  map->retired = 1;
  g_free (map->origin);
  map->origin = g_strdup ("");
  if (map->refs == 0)
    drop_locked (map, leaving);
}

/* Is MAP's file still the one at its path? */
static bool
still_at_path (const struct hm_map *map)
{
  struct stat a, b;

  return fstat (map->m.fd, &a) == 0 && stat (map->path, &b) == 0 &&
    a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

static bool
same_version (const struct hm_header *h, const struct wanted *w)
{
  return h->heat_block_shift == w->shift && h->image_size == w->image_size &&
    memcmp (h->identity, w->identity, HM_IDENTITY_LEN) == 0;
}

/* The current (not retired) map at PATH, or NULL. */
static struct hm_map *
current_at_locked (const char *path)
{
  guint i;

  for (i = 0; i < maps->len; i++) {
    struct hm_map *map = g_ptr_array_index (maps, i);

    if (!map->retired && strcmp (map->path, path) == 0)
      return map;
  }
  return NULL;
}

/* Step 1: an open map of the wanted version, current or retired but
 * still in use, or NULL.  A current map whose file someone else
 * removed or replaced is forgotten first. */
static struct hm_map *
find_locked (const struct wanted *w, GPtrArray *leaving)
{
  struct hm_map *current = current_at_locked (w->path);
  guint i;

  if (current && !still_at_path (current))
    forget_locked (current, leaving);
  for (i = 0; i < maps->len; i++) {
    struct hm_map *map = g_ptr_array_index (maps, i);

    if (strcmp (map->origin, w->path) == 0 && same_version (&map->m.hdr, w))
      return map;
  }
  return NULL;
}

/* The file at W's path cannot be used: TO is where it was renamed,
 * or NULL after ERR (then log WHY and ERR once).  The path is free
 * unless the file is still there. */
static enum path_state
set_aside_locked (const struct wanted *w, const char *to, const GError *err,
                  const char *why)
{
  g_autofree char *msg = NULL;

  if (to != NULL)
    return PATH_IS_FREE;
  msg = g_strdup_printf ("%s; cannot rename it aside: %s", why, err->message);
  warn_once_locked (w->path, msg);
  return PATH_UNUSABLE;
}

/* The file at W's path is a valid map of another version, H. */
static enum path_state
set_aside_other_version_locked (const struct wanted *w,
                                const struct hm_header *h)
{
  g_autoptr (GError) err = NULL;
  g_autofree char *to = hm_aside_other_version (w->path, h, &err);
  g_autofree char *why =
    g_strdup_printf ("%s describes another image version", w->path);

  if (to)
    nbdkit_debug ("heatmap: %s: image version changed since the map was "
                  "made: old map kept as %s", w->path, to);
  return set_aside_locked (w, to, err, why);
}

/* The file at W's path is not a valid map (STATUS; WHY says why). */
static enum path_state
set_aside_invalid_locked (const struct wanted *w, enum hm_status status,
                          const GError *why)
{
  g_autoptr (GError) err = NULL;
  g_autofree char *to = hm_aside_invalid (w->path, status, &err);

  if (to)
    nbdkit_error ("heatmap: %s; renamed it to %s and started a new map",
                  why->message, to);
  return set_aside_locked (w, to, err, why->message);
}

/* Step 2: make W's path hold a map of the wanted version (opened into
 * *M) or nothing.  The table's current map there describes another
 * version (else find_locked would have found it) and is retired;
 * without one, the file there is opened: a valid map of the wanted
 * version is used, anything else is renamed aside. */
static enum path_state
reconcile_locked (const struct wanted *w, struct hm_mapping *m,
                  GPtrArray *leaving)
{
  g_autoptr (GError) err = NULL;
  struct hm_map *current = current_at_locked (w->path);
  enum hm_status status = HM_OK;

  if (current) {
    retire_locked (current, leaving);
    return PATH_IS_FREE;
  }
  switch (hm_mapping_open (w->path, m, &status, &err)) {
  case HM_OPEN_OK:
    if (same_version (&m->hdr, w))
      return PATH_HAS_MAP;
    hm_mapping_close (m);
    return set_aside_other_version_locked (w, &m->hdr);
  case HM_OPEN_MISSING:
    return PATH_IS_FREE;
  case HM_OPEN_INVALID:
    return set_aside_invalid_locked (w, status, err);
  case HM_OPEN_ERROR:
    warn_once_locked (w->path, err->message);
    return PATH_UNUSABLE;
  }
  return PATH_UNUSABLE;
}

/* Make room for one more map: when the table is full, every map that
 * no connection uses leaves it (not just one, so that the next few
 * connections find room at once; they are opened again when needed).
 * false (logged) if all are in use. */
static bool
make_room_locked (GPtrArray *leaving)
{
  guint i = 0;

  if (maps->len < HM_MAX_MAPS)
    return true;
  while (i < maps->len) {
    struct hm_map *map = g_ptr_array_index (maps, i);

    if (map->refs == 0)
      g_ptr_array_add (leaving, g_ptr_array_steal_index_fast (maps, i));
    else
      i++;
  }
  if (maps->len >= HM_MAX_MAPS) {
    warn_once_locked ("", "too many heat maps open");
    return false;
  }
  return true;
}

/* Put the mapping M of PATH in the table, with one user. */
static struct hm_map *
add_locked (const char *path, const struct hm_mapping *m)
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

/* Use the map opened at W's path, if there is room for it. */
static struct hm_map *
adopt_locked (const struct wanted *w, struct hm_mapping *m,
              GPtrArray *leaving)
{
  if (!make_room_locked (leaving)) {
    hm_mapping_close (m);
    return NULL;
  }
  return add_locked (w->path, m);
}

/* Step 3: create a new, empty map at W's path and open it. */
static struct hm_map *
create_locked (const struct wanted *w, GPtrArray *leaving)
{
  g_autoptr (GError) err = NULL;
  enum hm_status status;
  struct hm_mapping m;
  struct hm_header h;

  if (!make_room_locked (leaving))
    return NULL;
  if (hm_header_init (&h, w->shift, w->image_size, clock_real_us (),
                      w->identity, w->idtext, w->label) == -1) {
    g_autofree char *msg =
      g_strdup_printf ("%s: an image of %" G_GUINT64_FORMAT
                       " bytes cannot have a map", w->path, w->image_size);
    warn_once_locked (w->path, msg);
    return NULL;
  }
  if (hm_file_create (w->path, &h, NULL, &err) == -1) {
    warn_once_locked (w->path, err->message);
    return NULL;
  }
  if (hm_mapping_open (w->path, &m, &status, &err) != HM_OPEN_OK) {
    warn_once_locked (w->path, err ? err->message : "new map is not valid");
    return NULL;
  }
  nbdkit_debug ("heatmap: %s: new map, %" G_GUINT64_FORMAT " heat blocks of %"
                G_GUINT64_FORMAT " bytes, %s", w->path, h.nr_heat_blocks,
                UINT64_C(1) << w->shift, h.identity_text);
  return add_locked (w->path, &m);
}

static struct hm_map *
acquire_locked (const struct wanted *w, GPtrArray *leaving)
{
  struct hm_mapping m;
  struct hm_map *map;

  if (!maps)
    maps = g_ptr_array_new ();
  map = find_locked (w, leaving);
  if (map) {
    map->refs++;
    return map;
  }
  switch (reconcile_locked (w, &m, leaving)) {
  case PATH_HAS_MAP:
    return adopt_locked (w, &m, leaving);
  case PATH_IS_FREE:
    return create_locked (w, leaving);
  case PATH_UNUSABLE:
    break;
  }
  return NULL;
}

struct hm_map *
hm_table_acquire (const char *path, uint32_t shift, uint64_t image_size,
                  const uint8_t identity[HM_IDENTITY_LEN],
                  const char *idtext, const char *label)
{
  const struct wanted w = {
    .path = path, .shift = shift, .image_size = image_size,
    .identity = identity, .idtext = idtext, .label = label,
  };
  /* Freed (each map synced) when this function returns, after the lock
   * is released at the end of the { } below. */
  g_autoptr (GPtrArray) leaving =
    g_ptr_array_new_with_free_func (map_sync_and_free);
  struct hm_map *map;

  {
    g_autoptr (GMutexLocker) locker G_GNUC_UNUSED =
      g_mutex_locker_new (&lock);
    map = acquire_locked (&w, leaving);
  }
  return map;
}

void
hm_table_release (struct hm_map *map)
{
  bool last = false;

  if (map == NULL)
    return;
  {
    g_autoptr (GMutexLocker) locker G_GNUC_UNUSED =
      g_mutex_locker_new (&lock);

    if (--map->refs == 0 && map->retired) {
      g_ptr_array_remove_fast (maps, map);
      last = true;
    }
  }
  if (last)
    map_sync_and_free (map);
}

/* The maps in the table, each with one more user (release them). */
static GPtrArray *
hold_all (void)
{
  g_autoptr (GMutexLocker) locker G_GNUC_UNUSED = g_mutex_locker_new (&lock);
  GPtrArray *all = g_ptr_array_new ();
  guint i;

  for (i = 0; maps && i < maps->len; i++) {
    struct hm_map *map = g_ptr_array_index (maps, i);

    map->refs++;
    g_ptr_array_add (all, map);
  }
  return all;
}

void
hm_table_sync_all (void)
{
  g_autoptr (GPtrArray) held = hold_all ();
  guint i;

  for (i = 0; i < held->len; i++) {
    struct hm_map *map = g_ptr_array_index (held, i);
    g_autoptr (GError) err = NULL;

    /* sync_failed is only touched here, by the single sync thread and
     * at shutdown, so no lock is needed for it. */
    if (hm_mapping_sync (&map->m, &err) == -1) {
      if (!map->sync_failed)
        nbdkit_error ("heatmap: %s: %s", map->path, err->message);
      map->sync_failed = 1;
    }
    else
      map->sync_failed = 0;
    hm_table_release (map);
  }
}

void
hm_table_close_all (void)
{
  g_autoptr (GPtrArray) all = NULL;

  {
    g_autoptr (GMutexLocker) locker G_GNUC_UNUSED =
      g_mutex_locker_new (&lock);

    all = g_steal_pointer (&maps);
    g_clear_pointer (&warned, g_hash_table_unref);
  }
  if (all) {
    g_ptr_array_set_free_func (all, map_sync_and_free);
    g_clear_pointer (&all, g_ptr_array_unref);
  }
}

unsigned
hm_table_count (void)
{
  g_autoptr (GMutexLocker) locker G_GNUC_UNUSED = g_mutex_locker_new (&lock);

  return maps ? maps->len : 0;
}
