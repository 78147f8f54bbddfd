/* sandbag: directory listings and descriptions (see listing.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>

#include "describe.h"
#include "exportname.h"
#include "imagedir.h"
#include "listing.h"
#include "pinned.h"

char *
listing_describe (int dirfd, const char *name, uint64_t size, time_t mtime,
                  const struct version_meta *meta)
{
  char text[IMAGEDIR_SIDECAR_MAX + 1];
  char desc[DESCRIBE_SIZE (IMAGEDIR_SIDECAR_MAX)];
  ssize_t n;

  n = imagedir_read_sidecar (dirfd, meta ? meta->name : name,
                             "description", IMAGEDIR_BENEATH,
                             text, IMAGEDIR_SIDECAR_MAX);
  describe_sanitize (text, MAX (n, 0));
  if (meta)
    describe_format_version (desc, sizeof desc, meta, text);
  else
    describe_format (desc, sizeof desc, size, mtime, text);
  return g_strdup (desc);
}

static void
entry_free (gpointer p)
{
  struct listing_entry *e = p;

  g_free (e->name);
  g_free (e->description);
  g_free (e);
}

static gint
entry_compare (gconstpointer a, gconstpointer b)
{
  const struct listing_entry *ea = *(struct listing_entry *const *) a;
  const struct listing_entry *eb = *(struct listing_entry *const *) b;

  return strcmp (ea->name, eb->name);
}

/* The entry for NAME if it would be served, else NULL. */
static struct listing_entry *
entry_new (int dirfd, const char *name)
{
  struct listing_entry *e;
  struct pinned_image img;
  const char *reason;
  struct stat st;
  int r;

  if (!exportname_check (name, &reason) ||
      pinned_open (dirfd, name, &img, &reason) == -1)
    return NULL;
  r = fstat (img.fd, &st);
  close (img.fd);
  if (r == -1)
    return NULL;
  e = g_new (struct listing_entry, 1);
  e->name = g_strdup (name);
  e->description = listing_describe (dirfd, name, st.st_size, st.st_mtime,
                                     img.versioned ? &img.meta : NULL);
  return e;
}

GPtrArray *
listing_scan (int dirfd, unsigned limit, unsigned scan)
{
  g_autoptr (GPtrArray) found = g_ptr_array_new_with_free_func (entry_free);
  struct listing_entry *e;
  unsigned examined = 0;
  struct dirent *d;
  DIR *dir;
  int fd, saved;

  /* A fresh open file description, so that concurrent scans do not
   * share a directory offset.
   */
  fd = openat (dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd == -1)
    return NULL;
  dir = fdopendir (fd);
  if (dir == NULL) {
    saved = errno;
    close (fd);
    errno = saved;
    return NULL;
  }
  while (found->len < limit && examined < scan &&
         (d = readdir (dir)) != NULL) {
    examined++;
    /* Skip what cannot be an image without a system call. */
    if (d->d_type != DT_REG && d->d_type != DT_LNK &&
        d->d_type != DT_UNKNOWN)
      continue;
    e = entry_new (dirfd, d->d_name);
    if (e != NULL)
      g_ptr_array_add (found, e);
  }
  closedir (dir);

  g_ptr_array_sort (found, entry_compare);
  return g_steal_pointer (&found);
}
