/* sandbag: export names to image versions (see pinned.h).
 *
 * The metadata is checked against the opened image, not against the
 * directory entry, so that what is served is what was checked; the
 * image of a pinned name is never modified, so its size alone ties the
 * two together (the SHA-256 is for clients, which cannot be made to
 * wait while the server hashes a large image).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>

#include "imagedir.h"
#include "pinned.h"
#include "version.h"

bool
pinned_resolve (int dirfd, const char *name,
                char pinned[VERSION_NAME_MAX + 1])
{
  size_t name_len;
  ssize_t r;

  if (strchr (name, '@') != NULL) {
    if (!version_split (name, &name_len, NULL))
      return false;
    g_strlcpy (pinned, name, VERSION_NAME_MAX + 1);
    return true;
  }
  r = readlinkat (dirfd, name, pinned, VERSION_NAME_MAX + 1);
  if (r <= 0 || r > VERSION_NAME_MAX)
    return false;
  pinned[r] = '\0';
  return version_is_link_of (name, pinned);
}

/* Read and check the metadata of PINNED (NAME_LEN bytes of name) for
 * an image of SIZE bytes. */
static int
read_meta (int dirfd, const char *pinned, size_t name_len, uint64_t size,
           struct version_meta *meta, const char **reason)
{
  char text[VERSION_META_MAX + 2];
  ssize_t n;

  n = imagedir_read_sidecar (dirfd, pinned, "meta", IMAGEDIR_NO_LINKS,
                             text, VERSION_META_MAX + 1);
  if (n < 0) {
    *reason = "version metadata missing or unreadable";
    return -1;
  }
  if (!version_meta_parse (text, n, meta, reason))
    return -1;
  if (strlen (meta->name) != name_len ||
      memcmp (meta->name, pinned, name_len) != 0 ||
      strcmp (meta->version, pinned + name_len + 1) != 0) {
    *reason = "version metadata names another version";
    return -1;
  }
  if (meta->size != size) {
    *reason = "version metadata gives another size";
    return -1;
  }
  return 0;
}

int
pinned_open (int dirfd, const char *name, struct pinned_image *img,
             const char **reason)
{
  size_t name_len;
  struct stat st;

  memset (img, 0, sizeof *img);
  if (!pinned_resolve (dirfd, name, img->pinned)) {
    if (strchr (name, '@') != NULL) {
      /* Never fall back to serving an '@' name unversioned. */
      version_split (name, &name_len, reason);
      errno = EINVAL;
      return -1;
    }
    img->fd = imagedir_open (dirfd, name, IMAGEDIR_BENEATH, reason);
    return img->fd == -1 ? -1 : 0;
  }

  img->versioned = true;
  version_split (img->pinned, &name_len, NULL);
  img->fd = imagedir_open (dirfd, img->pinned, IMAGEDIR_NO_LINKS, reason);
  if (img->fd == -1)
    return -1;
  if (fstat (img->fd, &st) == -1) {
    *reason = NULL;
    goto fail;
  }
  if (read_meta (dirfd, img->pinned, name_len, st.st_size, &img->meta,
                 reason) == -1) {
    errno = EINVAL;
    goto fail;
  }
  return 0;

 fail:
  {
    int saved = errno;

    close (img->fd);
    img->fd = -1;
    errno = saved;
  }
  return -1;
}
