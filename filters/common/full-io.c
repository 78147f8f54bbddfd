/* Whole reads and writes (see full-io.h). */
#include <errno.h>
#include <stdint.h>
#include <unistd.h>

#include "full-io.h"

int
full_pread (int fd, void *buf, size_t len, off_t offset)
{
  uint8_t *p = buf;

  while (len > 0) {
    ssize_t r = pread (fd, p, len, offset);

    if (r == -1 && errno == EINTR)
      continue;
    if (r == -1)
      return -1;
    if (r == 0) {
      errno = EIO;
      return -1;
    }
    p += r;
    len -= r;
    offset += r;
  }
  return 0;
}

int
full_pwrite (int fd, const void *buf, size_t len, off_t offset)
{
  const uint8_t *p = buf;

  while (len > 0) {
    ssize_t r = pwrite (fd, p, len, offset);

    if (r == -1 && errno == EINTR)
      continue;
    if (r == -1)
      return -1;
    p += r;
    len -= r;
    offset += r;
  }
  return 0;
}

int
full_write (int fd, const void *buf, size_t len)
{
  const uint8_t *p = buf;

  while (len > 0) {
    ssize_t r = write (fd, p, len);

    if (r == -1 && errno == EINTR)
      continue;
    if (r == -1)
      return -1;
    p += r;
    len -= r;
  }
  return 0;
}
