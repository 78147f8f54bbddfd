/* sandbag: opening images safely (see imagedir.h for the contract).
 *
 * openat2 is reached through syscall () because glibc 2.36 has no
 * wrapper.  The probe result is written once before any connection is
 * served and only read afterwards.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/openat2.h>

#include <glib.h>

#include "full-io.h"

#include "imagedir.h"

/* Whether openat2 RESOLVE_BENEATH is usable: set by imagedir_init. */
static bool have_openat2;

static int
sys_openat2 (int dirfd, const char *name, int flags, unsigned long long resolve)
{
#ifdef SYS_openat2
  struct open_how how = { .flags = flags, .resolve = resolve };

  return syscall (SYS_openat2, dirfd, name, &how, sizeof how);
#else
  errno = ENOSYS;
  return -1;
#endif
}

bool
imagedir_init (int dirfd)
{
  int fd = sys_openat2 (dirfd, ".", O_PATH | O_CLOEXEC,
                        RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS);

  have_openat2 = fd >= 0;
  if (fd >= 0)
    close (fd);
  return have_openat2;
}

void
imagedir_set_openat2 (bool use)
{
  have_openat2 = use;
}

/* One open of NAME with FLAGS under the rules for LINKS. */
static int
open_one (int dirfd, const char *name, int flags, enum imagedir_links links)
{
  switch (links) {
  case IMAGEDIR_ANY_PATH:
    return openat (dirfd, name, flags);
  case IMAGEDIR_BENEATH:
    if (have_openat2)
      return sys_openat2 (dirfd, name, flags,
                          RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS);
    break;
  case IMAGEDIR_NO_LINKS:
    break;
  }
  /* O_NOFOLLOW refuses a link in the last component; a name without
   * '/' has no other. */
  return openat (dirfd, name, flags | O_NOFOLLOW);
}

static const char *
open_reason (int err)
{
  switch (err) {
  case ENOENT: return "no such file";
  case EACCES: case EPERM: return "not readable";
  case EXDEV: return "symbolic link leads outside the directory";
  case ELOOP: return "symbolic link refused";
  case ENAMETOOLONG: return "name too long";
  case ENOTDIR: return "not a regular file";
  case EMFILE: case ENFILE: return "too many open files";
  case ENOMEM: return "out of memory";
  default: return NULL;         /* errno says it all */
  }
}

int
imagedir_open (int dirfd, const char *name, enum imagedir_links links,
               const char **reason)
{
  struct stat st;
  int fd, flags, saved;

  /* O_PATH opens nothing: no FIFO rendezvous, no device open. */
  fd = open_one (dirfd, name, O_PATH | O_CLOEXEC, links);
  if (fd == -1) {
    *reason = open_reason (errno);
    return -1;
  }
  if (fstat (fd, &st) == -1) {
    saved = errno;
    close (fd);
    errno = saved;
    *reason = NULL;
    return -1;
  }
  close (fd);
  if (!S_ISREG (st.st_mode)) {
    errno = EINVAL;
    *reason = S_ISLNK (st.st_mode) ? "symbolic link refused"
                                   : "not a regular file";
    return -1;
  }

  /* The name may have been replaced since; O_NONBLOCK keeps a FIFO
   * from blocking us, and the second fstat catches it.
   */
  fd = open_one (dirfd, name,
                 O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC, links);
  if (fd == -1) {
    *reason = open_reason (errno);
    return -1;
  }
  if (fstat (fd, &st) == -1 || !S_ISREG (st.st_mode)) {
    *reason = "not a regular file";
    errno = EINVAL;
    goto fail;
  }
  flags = fcntl (fd, F_GETFL);
  if (flags == -1 || fcntl (fd, F_SETFL, flags & ~O_NONBLOCK) == -1) {
    *reason = NULL;
    goto fail;
  }
  return fd;

 fail:
  saved = errno;
  close (fd);
  errno = saved;
  return -1;
}

ssize_t
imagedir_read_sidecar (int dirfd, const char *name, const char *suffix,
                       enum imagedir_links links, char *buf, size_t max)
{
  g_autofree char *sidecar = g_strdup_printf (".%s.%s", name, suffix);
  const char *reason;
  struct stat st;
  ssize_t n = -1;
  size_t want;
  int fd;

  buf[0] = '\0';
  fd = imagedir_open (dirfd, sidecar, links, &reason);
  if (fd == -1)
    return -1;
  if (fstat (fd, &st) == 0) {
    want = MIN ((uint64_t) st.st_size, max);
    if (full_pread (fd, buf, want, 0) == 0)
      n = want;
  }
  close (fd);
  if (n >= 0)
    buf[n] = '\0';
  return n;
}
