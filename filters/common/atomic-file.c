/* Files never seen half-written (see atomic-file.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "atomic-file.h"
#include "full-io.h"

void
file_set_error (GError **err, int errnum, const char *fs, ...)
{
  g_autofree char *msg = NULL;
  va_list args;

  va_start (args, fs);
  msg = g_strdup_vprintf (fs, args);
  va_end (args);
  g_set_error (err, G_FILE_ERROR, g_file_error_from_errno (errnum),
               "%s: %s", msg, g_strerror (errnum));
}

int
file_sync_dir_of (const char *path, GError **err)
{
  g_autofree char *dir = g_path_get_dirname (path);
  int fd, r;

  fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd == -1) {
    file_set_error (err, errno, "open %s", dir);
    return -1;
  }
  /* Some file systems cannot sync a directory and say EINVAL. */
  r = fsync (fd);
  if (r == -1 && errno != EINVAL)
    file_set_error (err, errno, "fsync %s", dir);
  else
    r = 0;
  close (fd);
  return r;
}

int
atomic_file_begin (struct atomic_file *f, const char *path, mode_t mode,
                   GError **err)
{
  g_autofree char *dir = g_path_get_dirname (path);
  g_autofree char *base = g_path_get_basename (path);

  f->path = g_strdup (path);
  f->tmp_path = g_strdup_printf ("%s/.%s.tmp.XXXXXX", dir, base);
  f->fd = g_mkstemp_full (f->tmp_path, O_RDWR | O_CLOEXEC, mode);
  if (f->fd == -1) {
    file_set_error (err, errno, "create a temporary file for %s", path);
    g_clear_pointer (&f->path, g_free);
    g_clear_pointer (&f->tmp_path, g_free);
    return -1;
  }
  return 0;
}

void
atomic_file_abort (struct atomic_file *f)
{
  if (f->fd >= 0)
    close (f->fd);
  f->fd = -1;
  if (f->tmp_path)
    unlink (f->tmp_path);
  g_clear_pointer (&f->path, g_free);
  g_clear_pointer (&f->tmp_path, g_free);
}

/* rename FROM to TO, but never over an existing TO (EEXIST).  File
 * systems without RENAME_NOREPLACE get link and unlink, which never
 * replaces either. */
static int
rename_noreplace (const char *from, const char *to)
{
  int r = renameat2 (AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE);

  if (r == -1 && (errno == EINVAL || errno == ENOSYS)) {
    r = link (from, to);
    if (r == 0 && unlink (from) == -1) {
      int saved = errno;

      unlink (to);
      errno = saved;
      r = -1;
    }
  }
  return r;
}

static int
commit (struct atomic_file *f, bool durable, bool replace, GError **err)
{
  int fd = f->fd;

  f->fd = -1;
  if (durable && fsync (fd) == -1) {
    file_set_error (err, errno, "fsync %s", f->tmp_path);
    close (fd);
    goto fail;
  }
  /* close can report a deferred write error (NFS, quota). */
  if (close (fd) == -1) {
    file_set_error (err, errno, "close %s", f->tmp_path);
    goto fail;
  }
  if ((replace ? rename (f->tmp_path, f->path)
       : rename_noreplace (f->tmp_path, f->path)) == -1) {
    file_set_error (err, errno, "rename %s to %s", f->tmp_path, f->path);
    goto fail;
  }
  g_clear_pointer (&f->tmp_path, g_free);
  if (durable && file_sync_dir_of (f->path, err) == -1) {
    /* The new file is in place; only its durability is in doubt. */
    g_clear_pointer (&f->path, g_free);
    return -1;
  }
  g_clear_pointer (&f->path, g_free);
  return 0;

 fail:
  atomic_file_abort (f);
  return -1;
}

int
atomic_file_commit (struct atomic_file *f, bool durable, GError **err)
{
  return commit (f, durable, true, err);
}

int
atomic_file_commit_new (struct atomic_file *f, bool durable, GError **err)
{
  return commit (f, durable, false, err);
}

int
atomic_file_replace (const char *path, const void *data, size_t len,
                     mode_t mode, bool durable, GError **err)
{
  struct atomic_file f;

  if (atomic_file_begin (&f, path, mode, err) == -1)
    return -1;
  if (full_write (f.fd, data, len) == -1) {
    file_set_error (err, errno, "write %s", f.tmp_path);
    atomic_file_abort (&f);
    return -1;
  }
  return atomic_file_commit (&f, durable, err);
}

char *
file_rename_aside (const char *path, const char *tag, GError **err)
{
  int i;

  for (i = 0; i < 1000; i++) {
    g_autofree char *to = i == 0
      ? g_strdup_printf ("%s.%s", path, tag)
      : g_strdup_printf ("%s.%s.%d", path, tag, i);
    int r = rename_noreplace (path, to);

    if (r == 0)
      return file_sync_dir_of (path, err) == 0 ? g_steal_pointer (&to) : NULL;
    if (errno != EEXIST) {
      file_set_error (err, errno, "rename %s to %s", path, to);
      return NULL;
    }
  }
  g_set_error (err, G_FILE_ERROR, G_FILE_ERROR_EXIST,
               "rename %s: too many files named %s.%s.*", path, path, tag);
  return NULL;
}

int
file_read_bounded (const char *path, size_t max_len,
                   uint8_t **buf, size_t *len, GError **err)
{
  g_autofree uint8_t *data = NULL;
  struct stat st;
  int fd, r = -1;

  fd = open (path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd == -1) {
    file_set_error (err, errno, "open %s", path);
    return -1;
  }
  if (fstat (fd, &st) == -1)
    file_set_error (err, errno, "fstat %s", path);
  else if (!S_ISREG (st.st_mode))
    g_set_error (err, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                 "%s: not a regular file", path);
  else if ((uint64_t) st.st_size > max_len)
    g_set_error (err, G_FILE_ERROR, G_FILE_ERROR_FAILED,
                 "%s: larger than %zu bytes", path, max_len);
  else {
    data = g_malloc (st.st_size + 1);
    if (full_pread (fd, data, st.st_size, 0) == -1)
      file_set_error (err, errno, "read %s", path);
    else {
      data[st.st_size] = '\0';
      *len = st.st_size;
      *buf = g_steal_pointer (&data);
      r = 0;
    }
  }
  close (fd);
  return r;
}
