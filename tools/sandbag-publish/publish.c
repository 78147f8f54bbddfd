/* sandbag-publish: publishing a version (see publish.h).
 *
 * The copy is a plain read/write loop rather than copy_file_range
 * because every byte has to pass through the hash anyway.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <glib.h>

#include "atomic-file.h"
#include "exportname.h"
#include "full-io.h"
#include "publish.h"
#include "version.h"

#define CHUNK (1024 * 1024)

/* Hash FD from its start; with OUT_FD >= 0 also copy it there.  Sets
 * *SIZE and SHA256 (65 bytes, hex). */
static int
hash_and_copy (int fd, const char *what, int out_fd, const char *out_what,
               uint64_t *size, char *sha256, GError **err)
{
  g_autoptr (GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);
  g_autofree uint8_t *buf = g_malloc (CHUNK);
  uint64_t total = 0;

  for (;;) {
    ssize_t r = pread (fd, buf, CHUNK, total);

    if (r == -1 && errno == EINTR)
      continue;
    if (r == -1) {
      file_set_error (err, errno, "read %s", what);
      return -1;
    }
    if (r == 0)
      break;
    g_checksum_update (sum, buf, r);
    if (out_fd >= 0 && full_write (out_fd, buf, r) == -1) {
      file_set_error (err, errno, "write %s", out_what);
      return -1;
    }
    total += r;
  }
  *size = total;
  g_strlcpy (sha256, g_checksum_get_string (sum), 65);
  return 0;
}

/* The default version label: the publish time, YYYYMMDDTHHMMSSZ. */
static char *
time_label (int64_t now)
{
  time_t t = now;
  struct tm tm;
  char buf[32];

  if (gmtime_r (&t, &tm) == NULL ||
      strftime (buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm) == 0)
    return g_strdup ("19700101T000000Z");
  return g_strdup (buf);
}

/* Check NAME and the entry of that name in DIRFD: absent, or a version
 * link.  Sets *CURRENT to the pinned name it links to, or NULL. */
static int
check_name (int dirfd, const struct publish_request *req, char **current,
            GError **err)
{
  char target[VERSION_NAME_MAX + 1];
  const char *reason;
  struct stat st;
  ssize_t r;

  *current = NULL;
  if (!exportname_check (req->name, &reason) ||
      strpbrk (req->name, "@,") != NULL) {
    g_set_error (err, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                 "name \"%s\" refused: %s", req->name,
                 strpbrk (req->name, "@,") ? "it contains '@' or ','"
                 : reason);
    return -1;
  }
  if (fstatat (dirfd, req->name, &st, AT_SYMLINK_NOFOLLOW) == -1) {
    if (errno == ENOENT)
      return 0;
    file_set_error (err, errno, "%s/%s", req->dir, req->name);
    return -1;
  }
  r = S_ISLNK (st.st_mode)
    ? readlinkat (dirfd, req->name, target, sizeof target - 1) : -1;
  if (r <= 0) {
    g_set_error (err, G_FILE_ERROR, G_FILE_ERROR_EXIST,
                 "%s/%s exists and is not a version link (an unversioned "
                 "image?); move it away or publish under another name",
                 req->dir, req->name);
    return -1;
  }
  target[r] = '\0';
  if (!version_is_link_of (req->name, target)) {
    g_set_error (err, G_FILE_ERROR, G_FILE_ERROR_EXIST,
                 "%s/%s is a link to \"%s\", not to a version of %s",
                 req->dir, req->name, target, req->name);
    return -1;
  }
  *current = g_strdup (target);
  return 0;
}

/* NAME@VERSION exists already: fine only if it is the current version
 * and holds exactly SIZE bytes with hash SHA256. */
static int
check_existing (int dirfd, const struct publish_request *req,
                const char *pinned, const char *current, uint64_t size,
                const char *sha256, GError **err)
{
  g_autofree char *meta_name = g_strdup_printf (".%s" VERSION_META_SUFFIX,
                                                pinned);
  char text[VERSION_META_MAX + 1];
  struct version_meta meta;
  const char *reason;
  ssize_t n = -1;
  int fd;

  fd = openat (dirfd, meta_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd >= 0) {
    n = read (fd, text, sizeof text);
    close (fd);
  }
  if (n < 0 || !version_meta_parse (text, n, &meta, &reason) ||
      meta.size != size || strcmp (meta.sha256, sha256) != 0) {
    g_set_error (err, G_FILE_ERROR, G_FILE_ERROR_EXIST,
                 "%s/%s exists with other content (a pinned name always "
                 "means the same bytes): choose another --version",
                 req->dir, pinned);
    return -1;
  }
  if (current == NULL || strcmp (current, pinned) != 0) {
    g_set_error (err, G_FILE_ERROR, G_FILE_ERROR_EXIST,
                 "%s/%s was published before and is not current; "
                 "publish it again under a new --version", req->dir, pinned);
    return -1;
  }
  return 0;
}

/* Step 2: the metadata, before the image appears. */
static int
write_meta (const struct publish_request *req, const char *version,
            const char *pinned, uint64_t size, const char *sha256,
            GError **err)
{
  struct version_meta meta = { .size = size, .published = req->now };
  g_autofree char *path =
    g_strdup_printf ("%s/.%s" VERSION_META_SUFFIX, req->dir, pinned);
  g_autofree char *text = NULL;
  struct atomic_file f;

  g_strlcpy (meta.name, req->name, sizeof meta.name);
  g_strlcpy (meta.version, version, sizeof meta.version);
  g_strlcpy (meta.sha256, sha256, sizeof meta.sha256);
  text = version_meta_format (&meta);
  if (atomic_file_begin (&f, path, 0444, err) == -1)
    return -1;
  if (full_write (f.fd, text, strlen (text)) == -1) {
    file_set_error (err, errno, "write %s", f.tmp_path);
    atomic_file_abort (&f);
    return -1;
  }
  return atomic_file_commit_new (&f, true, err);
}

/* Step 4: NAME -> PINNED, atomically. */
static int
switch_link (int dirfd, const struct publish_request *req,
             const char *pinned, GError **err)
{
  g_autofree char *tmp = NULL;
  int i;

  for (i = 0; i < 100; i++) {
    g_free (tmp);
    tmp = g_strdup_printf (".%s.link.%08x", req->name, g_random_int ());
    if (symlinkat (pinned, dirfd, tmp) == 0)
      break;
    if (errno != EEXIST) {
      file_set_error (err, errno, "%s/%s", req->dir, tmp);
      return -1;
    }
  }
  if (renameat (dirfd, tmp, dirfd, req->name) == -1) {
    file_set_error (err, errno, "rename %s/%s to %s", req->dir, tmp, req->name);
    unlinkat (dirfd, tmp, 0);
    return -1;
  }
  if (fsync (dirfd) == -1 && errno != EINVAL) {
    file_set_error (err, errno, "fsync %s", req->dir);
    return -1;
  }
  return 0;
}

/* Steps 1 and 3 with a copy: the image, hashed, under PINNED. */
static int
copy_in (int src, int dirfd, const struct publish_request *req,
         const char *pinned, const char *version, const char *current,
         GError **err)
{
  g_autofree char *path = g_strdup_printf ("%s/%s", req->dir, pinned);
  char sha256[65];
  struct atomic_file f;
  uint64_t size;
  struct stat st;

  if (atomic_file_begin (&f, path, 0444, err) == -1)
    return -1;
  if (hash_and_copy (src, req->image, f.fd, f.tmp_path, &size, sha256,
                     err) == -1)
    goto fail;
  if (fstatat (dirfd, pinned, &st, AT_SYMLINK_NOFOLLOW) == 0) {
    atomic_file_abort (&f);
    return check_existing (dirfd, req, pinned, current, size, sha256, err)
      == 0 ? 1 : -1;
  }
  if (write_meta (req, version, pinned, size, sha256, err) == -1)
    goto fail;
  return atomic_file_commit_new (&f, true, err);

 fail:
  atomic_file_abort (&f);
  return -1;
}

/* Steps 1 and 3 with MOVE: hash IMAGE where it is, then rename it. */
static int
move_in (int src, int dirfd, const struct publish_request *req,
         const char *pinned, const char *version, const char *current,
         GError **err)
{
  char sha256[65];
  uint64_t size;
  struct stat st;

  if (hash_and_copy (src, req->image, -1, NULL, &size, sha256, err) == -1)
    return -1;
  if (fstatat (dirfd, pinned, &st, AT_SYMLINK_NOFOLLOW) == 0)
    return check_existing (dirfd, req, pinned, current, size, sha256, err)
      == 0 ? 1 : -1;
  if (write_meta (req, version, pinned, size, sha256, err) == -1)
    return -1;
  if (renameat2 (AT_FDCWD, req->image, dirfd, pinned,
                 RENAME_NOREPLACE) == -1) {
    file_set_error (err, errno, "rename %s to %s/%s%s", req->image, req->dir,
               pinned, errno == EXDEV ? " (--move needs the image on the "
               "same file system as the directory)" : "");
    return -1;
  }
  if (fchmod (src, 0444) == -1 || fsync (dirfd) == -1) {
    file_set_error (err, errno, "%s/%s", req->dir, pinned);
    return -1;
  }
  return 0;
}

char *
publish (const struct publish_request *req, GError **err)
{
  g_autofree char *version = NULL, *pinned = NULL, *current = NULL;
  const char *reason;
  struct stat st;
  int dirfd = -1, src = -1, r = -1;

  version = req->version ? g_strdup (req->version) : time_label (req->now);
  if (!version_label_check (version, &reason)) {
    g_set_error (err, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                 "version \"%s\" refused: %s", version, reason);
    return NULL;
  }
  pinned = g_strdup_printf ("%s@%s", req->name, version);
  dirfd = open (req->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dirfd == -1) {
    file_set_error (err, errno, "%s", req->dir);
    return NULL;
  }
  if (check_name (dirfd, req, &current, err) == -1)
    goto out;
  if (strlen (pinned) > VERSION_NAME_MAX) {
    g_set_error (err, G_FILE_ERROR, G_FILE_ERROR_NAMETOOLONG,
                 "%s: longer than %d bytes", pinned, VERSION_NAME_MAX);
    goto out;
  }
  src = open (req->image, O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
  if (src == -1 || fstat (src, &st) == -1) {
    file_set_error (err, errno, "%s", req->image);
    goto out;
  }
  if (!S_ISREG (st.st_mode)) {
    g_set_error (err, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                 "%s: not a regular file", req->image);
    goto out;
  }
  r = req->move ? move_in (src, dirfd, req, pinned, version, current, err)
    : copy_in (src, dirfd, req, pinned, version, current, err);
  /* r == 1: already published and current; nothing more to do. */
  if (r == 0)
    r = switch_link (dirfd, req, pinned, err);

 out:
  if (src >= 0)
    close (src);
  close (dirfd);
  return r >= 0 ? g_steal_pointer (&pinned) : NULL;
}
