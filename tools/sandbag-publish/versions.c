/* sandbag-publish: scanning and pruning versions (see versions.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>

#include "exportname.h"
#include "full-io.h"
#include "version.h"
#include "versions.h"

/* Orphaned metadata younger than this may belong to a publish that is
 * about to rename its image into place. */
#define ORPHAN_GRACE_S 60

/* Read and check the metadata of NAME@VERSION into E. */
static void
read_meta (int dirfd, const char *name, struct version_entry *e)
{
  g_autofree char *file = g_strdup_printf (".%s@%s" VERSION_META_SUFFIX,
                                           name, e->version);
  char text[VERSION_META_MAX + 1];
  struct stat st;
  size_t want;
  int fd;

  fd = openat (dirfd, file, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd == -1 || fstat (fd, &st) == -1 || !S_ISREG (st.st_mode)) {
    e->problem = "metadata missing or not a regular file";
    if (fd >= 0)
      close (fd);
    return;
  }
  want = MIN ((uint64_t) st.st_size, sizeof text);
  if (full_pread (fd, text, want, 0) == -1)
    e->problem = "metadata unreadable";
  else if (version_meta_parse (text, want, &e->meta, &e->problem)) {
    if (strcmp (e->meta.name, name) != 0 ||
        strcmp (e->meta.version, e->version) != 0)
      e->problem = "metadata names another version";
    else
      e->meta_ok = true;
  }
  close (fd);
}

/* The entry for VERSION in ENTRIES, added if new. */
static struct version_entry *
entry_for (GHashTable *entries, const char *version)
{
  struct version_entry *e = g_hash_table_lookup (entries, version);

  if (e == NULL) {
    e = g_new0 (struct version_entry, 1);
    g_strlcpy (e->version, version, sizeof e->version);
    g_hash_table_insert (entries, e->version, e);
  }
  return e;
}

/* If D_NAME is "NAME@VERSION" or ".NAME@VERSION.meta" for this NAME,
 * the VERSION part (in BUF), else NULL. */
static const char *
version_of (const char *d_name, const char *name, char *buf, size_t size,
            bool *is_meta)
{
  size_t nlen = strlen (name), dlen = strlen (d_name);
  const char *v;

  *is_meta = d_name[0] == '.';
  if (*is_meta) {
    size_t slen = strlen (VERSION_META_SUFFIX);

    if (dlen <= slen + 1 ||
        strcmp (d_name + dlen - slen, VERSION_META_SUFFIX) != 0)
      return NULL;
    d_name++;
    dlen -= slen + 1;
  }
  if (dlen <= nlen + 1 || memcmp (d_name, name, nlen) != 0 ||
      d_name[nlen] != '@' || dlen - nlen - 1 >= size)
    return NULL;
  v = d_name + nlen + 1;
  memcpy (buf, v, dlen - nlen - 1);
  buf[dlen - nlen - 1] = '\0';
  return version_label_check (buf, NULL) ? buf : NULL;
}

static gint
by_published (gconstpointer a, gconstpointer b)
{
  const struct version_entry *x = *(struct version_entry *const *) a;
  const struct version_entry *y = *(struct version_entry *const *) b;

  if (x->meta_ok != y->meta_ok)
    return x->meta_ok ? -1 : 1;
  if (x->meta.published != y->meta.published)
    return x->meta.published < y->meta.published ? -1 : 1;
  return strcmp (x->version, y->version);
}

/* Set each entry's superseded time: the publish time of the next
 * newer version with valid metadata and an image. */
static void
mark_superseded (GPtrArray *list)
{
  int64_t next = 0;
  guint i;

  for (i = list->len; i-- > 0;) {
    struct version_entry *e = g_ptr_array_index (list, i);

    if (!e->meta_ok)
      continue;
    e->superseded = e->current ? 0 : next;
    if (e->has_image)
      next = e->meta.published;
  }
}

/* A stream over the entries of DIRFD (which stays open), or NULL and
 * *ERR. */
static DIR *
dir_stream (int dirfd, GError **err)
{
  int fd = openat (dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  DIR *dir = fd >= 0 ? fdopendir (fd) : NULL;

  if (dir == NULL) {
    g_set_error (err, G_FILE_ERROR, g_file_error_from_errno (errno),
                 "cannot read the directory: %s", g_strerror (errno));
    if (fd >= 0)
      close (fd);
  }
  return dir;
}

GPtrArray *
versions_scan (int dirfd, const char *name, char **current, GError **err)
{
  g_autoptr (GHashTable) entries =
    g_hash_table_new_full (g_str_hash, g_str_equal, NULL, g_free);
  char link[VERSION_NAME_MAX + 1], buf[VERSION_LABEL_MAX + 1];
  GPtrArray *list;
  struct dirent *d;
  ssize_t r;
  DIR *dir;

  *current = NULL;
  r = readlinkat (dirfd, name, link, sizeof link - 1);
  if (r > 0) {
    link[r] = '\0';
    if (version_is_link_of (name, link))
      *current = g_strdup (link + strlen (name) + 1);
  }

  dir = dir_stream (dirfd, err);
  if (dir == NULL)
    return NULL;
  while ((d = readdir (dir)) != NULL) {
    bool is_meta;
    const char *v = version_of (d->d_name, name, buf, sizeof buf, &is_meta);
    struct stat st;

    if (v == NULL)
      continue;
    if (!is_meta) {
      if (fstatat (dirfd, d->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
          S_ISREG (st.st_mode))
        entry_for (entries, v)->has_image = true;
    }
    else
      entry_for (entries, v);
  }
  closedir (dir);

  list = g_ptr_array_new_with_free_func (g_free);
  {
    GHashTableIter iter;
    gpointer value;

    g_hash_table_iter_init (&iter, entries);
    while (g_hash_table_iter_next (&iter, NULL, &value)) {
      struct version_entry *e = value;

      g_hash_table_iter_steal (&iter);
      read_meta (dirfd, name, e);
      e->current = *current && strcmp (*current, e->version) == 0;
      g_ptr_array_add (list, e);
    }
  }
  g_ptr_array_sort (list, by_published);
  mark_superseded (list);
  return list;
}

static gint
by_string (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

GPtrArray *
versions_names (int dirfd, GError **err)
{
  char target[VERSION_NAME_MAX + 1];
  GPtrArray *names;
  struct dirent *d;
  DIR *dir;

  dir = dir_stream (dirfd, err);
  if (dir == NULL)
    return NULL;
  names = g_ptr_array_new_with_free_func (g_free);
  while ((d = readdir (dir)) != NULL) {
    ssize_t r;

    if (d->d_type != DT_LNK && d->d_type != DT_UNKNOWN)
      continue;
    if (!exportname_check (d->d_name, NULL))
      continue;
    r = readlinkat (dirfd, d->d_name, target, sizeof target - 1);
    if (r <= 0)
      continue;
    target[r] = '\0';
    if (version_is_link_of (d->d_name, target))
      g_ptr_array_add (names, g_strdup (d->d_name));
  }
  closedir (dir);
  g_ptr_array_sort (names, by_string);
  return names;
}

bool
version_expired (const struct version_entry *e, int64_t now,
                 uint64_t retention_s)
{
  return e->meta_ok && e->has_image && !e->current && e->superseded > 0 &&
    (uint64_t) MAX (now - e->superseded, 0) >= retention_s;
}

/* Remove the orphaned metadata of E if it is old enough. */
static void
remove_orphan (int dirfd, const char *name, const struct version_entry *e,
               int64_t now, FILE *report)
{
  g_autofree char *meta = g_strdup_printf (".%s@%s" VERSION_META_SUFFIX,
                                           name, e->version);
  struct stat st;

  if (fstatat (dirfd, meta, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
      now - st.st_mtime >= ORPHAN_GRACE_S &&
      unlinkat (dirfd, meta, 0) == 0)
    fprintf (report, "removed orphaned metadata %s\n", meta);
}

int
versions_prune (int dirfd, const char *dir, const char *name, int64_t now,
                uint64_t retention_s, FILE *report, GError **err)
{
  g_autoptr (GPtrArray) list = NULL;
  g_autofree char *current = NULL;
  int removed = 0;
  guint i;

  list = versions_scan (dirfd, name, &current, err);
  if (list == NULL)
    return -1;
  if (current == NULL && list->len > 0) {
    fprintf (stderr, "sandbag-publish: %s/%s is not a version link; "
             "nothing of %s pruned\n", dir, name, name);
    return 0;
  }
  for (i = 0; i < list->len; i++) {
    struct version_entry *e = g_ptr_array_index (list, i);
    g_autofree char *image = g_strdup_printf ("%s@%s", name, e->version);
    g_autofree char *meta = g_strdup_printf ("." "%s" VERSION_META_SUFFIX,
                                             image);

    if (!e->has_image) {
      remove_orphan (dirfd, name, e, now, report);
      continue;
    }
    if (!e->meta_ok) {
      fprintf (stderr, "sandbag-publish: %s/%s kept: %s\n", dir, image,
               e->problem);
      continue;
    }
    if (!version_expired (e, now, retention_s))
      continue;
    if (unlinkat (dirfd, image, 0) == -1 ||
        (unlinkat (dirfd, meta, 0) == -1 && errno != ENOENT)) {
      g_set_error (err, G_FILE_ERROR, g_file_error_from_errno (errno),
                   "%s/%s: cannot remove: %s", dir, image,
                   g_strerror (errno));
      return -1;
    }
    fprintf (report, "removed %s (superseded %" PRId64 " s ago)\n", image,
             now - e->superseded);
    removed++;
  }
  if (removed > 0 && fsync (dirfd) == -1 && errno != EINVAL) {
    g_set_error (err, G_FILE_ERROR, g_file_error_from_errno (errno),
                 "%s: fsync: %s", dir, g_strerror (errno));
    return -1;
  }
  return removed;
}
