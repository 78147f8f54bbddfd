/* sandbag: opening images safely, and reading their sidecar text.
 *
 * In dir= mode every export name is used as a file name inside one
 * directory, which the plugin holds open (DIRFD) for its lifetime.
 * imagedir_open opens such a name so that:
 *  - symbolic links are followed only while they stay beneath the
 *    directory (openat2 RESOLVE_BENEATH; where the kernel or a seccomp
 *    policy refuses openat2, no symbolic link is followed at all);
 *  - only a regular file is ever opened for reading: the name is first
 *    opened with O_PATH, which never blocks and has no side effects, and
 *    checked with fstat; then it is opened O_RDONLY|O_NONBLOCK (so that a
 *    FIFO swapped in meanwhile cannot hang the thread) and checked again;
 *  - the returned descriptor is blocking, close-on-exec and read-only.
 *
 * Functions here never call nbdkit: failures return -1 with errno set
 * and *REASON set to a static string suitable for the server log (it
 * never contains NAME or any path), or to NULL when errno alone
 * explains the failure (g_strerror (errno) then serves as the reason).
 * All functions are thread-safe.
 */
#ifndef SANDBAG_IMAGEDIR_H
#define SANDBAG_IMAGEDIR_H

#include <stdbool.h>
#include <stddef.h>

/* Probe once whether openat2 with RESOLVE_BENEATH works on DIRFD.
 * Returns true if it does; otherwise imagedir_open falls back to
 * refusing every symbolic link.  Call before imagedir_open.
 */
extern bool imagedir_init (int dirfd);

/* Tests only: behave as if openat2 were available (USE true, and the
 * kernel really has it) or not (USE false), whatever the probe found.
 */
extern void imagedir_set_openat2 (bool use);

/* Which symbolic links imagedir_open follows. */
enum imagedir_links {
  IMAGEDIR_ANY_PATH,            /* NAME may be any path, links followed
                                 * freely (file= mode: the administrator
                                 * named the file) */
  IMAGEDIR_BENEATH,             /* links followed while they stay beneath
                                 * the directory (unversioned images and
                                 * their descriptions) */
  IMAGEDIR_NO_LINKS,            /* no link at all (pinned versions and
                                 * their metadata, which must be the
                                 * files themselves to stay immutable) */
};

/* Open NAME (relative to DIRFD) as described above.  Returns the
 * descriptor, or -1 with errno set and *REASON set.
 */
extern int imagedir_open (int dirfd, const char *name,
                          enum imagedir_links links, const char **reason);

/* Longest description text read, in bytes; the rest is ignored. */
#define IMAGEDIR_SIDECAR_MAX 256

/* Read at most MAX bytes of the sidecar ".NAME.SUFFIX" of NAME in DIRFD
 * (opened with LINKS) into BUF (MAX + 1 bytes at least),
 * NUL-terminated and unsanitised.  Returns the number of bytes read, or
 * -1 if there is no readable regular sidecar file.  To tell a file
 * longer than a limit L from one of L bytes, pass MAX = L + 1.
 */
extern ssize_t imagedir_read_sidecar (int dirfd, const char *name,
                                      const char *suffix,
                                      enum imagedir_links links,
                                      char *buf, size_t max);

#endif
