/* Heat map files on disk (see heatmap-file.h).
 *
 * Mapping reads the header with pread and validates it against the file
 * length before mapping, so that a file shorter than its header claims
 * is never mapped (touching past its end would raise SIGBUS); the
 * records are checked through the mapping afterwards.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <glib.h>

#include "heatmap-file.h"

static void
set_errno_error (GError **err, int errnum, const char *fs, ...)
  G_GNUC_PRINTF (3, 4);

static void
set_errno_error (GError **err, int errnum, const char *fs, ...)
{
  va_list args;
  g_autofree char *msg = NULL;

  va_start (args, fs);
  msg = g_strdup_vprintf (fs, args);
  va_end (args);
  g_set_error (err, G_FILE_ERROR, g_file_error_from_errno (errnum),
               "%s: %s", msg, g_strerror (errnum));
}

uint64_t
hm_now_us (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_REALTIME, &ts);
  return (uint64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void
hm_compact_time (uint64_t us, char out[17])
{
  time_t t = us / 1000000;
  struct tm tm;

  if (gmtime_r (&t, &tm) == NULL ||
      strftime (out, 17, "%Y%m%dT%H%M%SZ", &tm) == 0)
    g_strlcpy (out, "00000000T000000Z", 17);
}

static int
pread_full (int fd, void *buf, size_t len, off_t offset)
{
  uint8_t *p = buf;

  while (len > 0) {
    ssize_t r = pread (fd, p, len, offset);
    if (r == -1 && errno == EINTR)
      continue;
    if (r == -1)
      return -1;
    if (r == 0) {
      errno = EIO;              /* the file shrank under us */
      return -1;
    }
    p += r;
    len -= r;
    offset += r;
  }
  return 0;
}

static int
pwrite_full (int fd, const void *buf, size_t len, off_t offset)
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

enum hm_open_result
hm_mapping_open (const char *path, struct hm_mapping *m,
                 enum hm_status *status, GError **err)
{
  uint8_t header[HM_HEADER_SIZE];
  char why[256];
  struct stat st;
  size_t got;
  uint64_t bad;
  int fd;

  memset (m, 0, sizeof *m);
  m->fd = -1;
  fd = open (path, O_RDWR | O_CLOEXEC | O_NOCTTY);
  if (fd == -1) {
    if (errno == ENOENT)
      return HM_OPEN_MISSING;
    if (errno == EISDIR) {
      *status = HM_FOREIGN;
      g_set_error (err, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                   "%s: not a regular file", path);
      return HM_OPEN_INVALID;
    }
    set_errno_error (err, errno, "open: %s", path);
    return HM_OPEN_ERROR;
  }
  if (fstat (fd, &st) == -1) {
    set_errno_error (err, errno, "fstat: %s", path);
    close (fd);
    return HM_OPEN_ERROR;
  }
  if (!S_ISREG (st.st_mode)) {
    *status = HM_FOREIGN;
    g_set_error (err, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                 "%s: not a regular file", path);
    close (fd);
    return HM_OPEN_INVALID;
  }

  got = st.st_size < HM_HEADER_SIZE ? (size_t) st.st_size : HM_HEADER_SIZE;
  if (pread_full (fd, header, got, 0) == -1) {
    set_errno_error (err, errno, "read: %s", path);
    close (fd);
    return HM_OPEN_ERROR;
  }
  *status = hm_validate_header (header, got, st.st_size, &m->hdr,
                                why, sizeof why);
  if (*status != HM_OK) {
    g_set_error (err, G_FILE_ERROR, G_FILE_ERROR_INVAL, "%s: %s: %s",
                 path, hm_status_name (*status), why);
    close (fd);
    return HM_OPEN_INVALID;
  }

  m->len = hm_file_size (m->hdr.nr_blocks);
  m->base = mmap (NULL, m->len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (m->base == MAP_FAILED) {
    set_errno_error (err, errno, "mmap: %s", path);
    m->base = NULL;
    close (fd);
    return HM_OPEN_ERROR;
  }
  m->fd = fd;
  m->recs = (struct hm_record *) ((uint8_t *) m->base + HM_HEADER_SIZE);

  bad = hm_check_records (m->recs, m->hdr.nr_blocks);
  if (bad < m->hdr.nr_blocks) {
    *status = HM_CORRUPT;
    g_set_error (err, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                 "%s: corrupt: record %" G_GUINT64_FORMAT
                 " has an implausible time", path, bad);
    hm_mapping_close (m);
    return HM_OPEN_INVALID;
  }
  return HM_OPEN_OK;
}

int
hm_mapping_sync (struct hm_mapping *m, GError **err)
{
  if (m->base && msync (m->base, m->len, MS_SYNC) == -1) {
    set_errno_error (err, errno, "msync");
    return -1;
  }
  return 0;
}

void
hm_mapping_close (struct hm_mapping *m)
{
  if (m->base)
    munmap (m->base, m->len);
  if (m->fd >= 0)
    close (m->fd);
  m->base = NULL;
  m->recs = NULL;
  m->fd = -1;
}

/* fsync the directory holding PATH, so that a rename in it is durable. */
static int
sync_dir_of (const char *path, GError **err)
{
  g_autofree char *dir = g_path_get_dirname (path);
  int fd;

  fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd == -1) {
    set_errno_error (err, errno, "open: %s", dir);
    return -1;
  }
  if (fsync (fd) == -1 && errno != EINVAL) {
    set_errno_error (err, errno, "fsync: %s", dir);
    close (fd);
    return -1;
  }
  close (fd);
  return 0;
}

int
hm_file_create (const char *path, const struct hm_header *h,
                const struct hm_record *recs, GError **err)
{
  static int counter;           /* makes temporary names unique */
  g_autofree char *dir = g_path_get_dirname (path);
  g_autofree char *base = g_path_get_basename (path);
  g_autofree char *tmp = NULL;
  uint8_t header[HM_HEADER_SIZE];
  uint64_t size = hm_file_size (h->nr_blocks);
  int fd, r;

  if (size == 0) {
    g_set_error (err, G_FILE_ERROR, G_FILE_ERROR_NOSPC,
                 "%s: map would be too large", path);
    return -1;
  }
  tmp = g_strdup_printf ("%s/.%s.tmp.%ld.%d", dir, base, (long) getpid (),
                         __atomic_fetch_add (&counter, 1, __ATOMIC_RELAXED));
  fd = open (tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0640);
  if (fd == -1) {
    set_errno_error (err, errno, "create: %s", tmp);
    return -1;
  }
  r = posix_fallocate (fd, 0, size);
  if (r != 0) {
    set_errno_error (err, r, "allocate %" G_GUINT64_FORMAT " bytes: %s",
                     size, tmp);
    goto fail;
  }
  hm_header_encode (h, header);
  if (pwrite_full (fd, header, sizeof header, 0) == -1 ||
      (recs && pwrite_full (fd, recs, size - HM_HEADER_SIZE,
                            HM_HEADER_SIZE) == -1)) {
    set_errno_error (err, errno, "write: %s", tmp);
    goto fail;
  }
  if (fsync (fd) == -1) {
    set_errno_error (err, errno, "fsync: %s", tmp);
    goto fail;
  }
  if (close (fd) == -1) {
    fd = -1;
    set_errno_error (err, errno, "close: %s", tmp);
    goto fail;
  }
  fd = -1;
  if (rename (tmp, path) == -1) {
    set_errno_error (err, errno, "rename %s to %s", tmp, path);
    goto fail;
  }
  return sync_dir_of (path, err);

 fail:
  if (fd >= 0)
    close (fd);
  unlink (tmp);
  return -1;
}

char *
hm_file_rename_aside (const char *path, const char *tag, GError **err)
{
  int i;

  for (i = 0; i < 1000; i++) {
    g_autofree char *to = i == 0
      ? g_strdup_printf ("%s.%s", path, tag)
      : g_strdup_printf ("%s.%s.%d", path, tag, i);

    int r = renameat2 (AT_FDCWD, path, AT_FDCWD, to, RENAME_NOREPLACE);

    /* File systems without RENAME_NOREPLACE: link and unlink, which
     * also never replaces an existing file. */
    if (r == -1 && (errno == EINVAL || errno == ENOSYS)) {
      r = link (path, to);
      if (r == 0 && unlink (path) == -1) {
        set_errno_error (err, errno, "unlink: %s", path);
        unlink (to);
        return NULL;
      }
    }
    if (r == 0) {
      if (sync_dir_of (path, err) == -1)
        return NULL;
      return g_steal_pointer (&to);
    }
    if (errno != EEXIST) {
      set_errno_error (err, errno, "rename %s to %s", path, to);
      return NULL;
    }
  }
  g_set_error (err, G_FILE_ERROR, G_FILE_ERROR_EXIST,
               "rename %s: too many files named %s.%s.*", path, path, tag);
  return NULL;
}

int
hm_file_read (const char *path, size_t max_len,
              uint8_t **buf, size_t *len, GError **err)
{
  g_autofree uint8_t *data = NULL;
  struct stat st;
  size_t size;
  int fd;

  fd = open (path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd == -1) {
    set_errno_error (err, errno, "open: %s", path);
    return -1;
  }
  if (fstat (fd, &st) == -1) {
    set_errno_error (err, errno, "fstat: %s", path);
    close (fd);
    return -1;
  }
  if (!S_ISREG (st.st_mode)) {
    g_set_error (err, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                 "%s: not a regular file", path);
    close (fd);
    return -1;
  }
  if ((uint64_t) st.st_size > max_len) {
    set_errno_error (err, EFBIG, "%s", path);
    close (fd);
    return -1;
  }
  size = st.st_size;
  data = g_malloc (size > 0 ? size : 1);
  if (pread_full (fd, data, size, 0) == -1) {
    set_errno_error (err, errno, "read: %s", path);
    close (fd);
    return -1;
  }
  close (fd);
  *buf = g_steal_pointer (&data);
  *len = size;
  return 0;
}
