/* ratetier: atomic file replacement (see atomic-file.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>
#include <nbdkit-filter.h>

#include "atomic-file.h"

int
atomic_file_write (const char *what, const char *path,
                   const void *data, size_t len, bool sync)
{
  g_autofree char *tmp = g_strdup_printf ("%s.tmp.XXXXXX", path);
  g_autofree char *dir = g_path_get_dirname (path);
  const char *p = data;
  int fd, dfd;

  fd = g_mkstemp_full (tmp, O_WRONLY | O_CLOEXEC, 0644);
  if (fd == -1) {
    nbdkit_error ("%s: %s: cannot create a temporary file: %m", what, tmp);
    return -1;
  }
  while (len > 0) {
    ssize_t r = write (fd, p, len);
    if (r == -1 && errno == EINTR)
      continue;
    if (r == -1) {
      nbdkit_error ("%s: %s: write: %m", what, tmp);
      goto err;
    }
    p += r;
    len -= r;
  }
  if (sync && fsync (fd) == -1) {
    nbdkit_error ("%s: %s: fsync: %m", what, tmp);
    goto err;
  }
  if (close (fd) == -1) {
    fd = -1;
    nbdkit_error ("%s: %s: close: %m", what, tmp);
    goto err;
  }
  fd = -1;
  if (rename (tmp, path) == -1) {
    nbdkit_error ("%s: %s: rename to %s: %m", what, tmp, path);
    goto err;
  }
  if (sync) {
    dfd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
      fsync (dfd);
      close (dfd);
    }
  }
  return 0;

 err:
  if (fd >= 0)
    close (fd);
  unlink (tmp);
  return -1;
}
