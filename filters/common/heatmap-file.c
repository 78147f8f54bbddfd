/* Heat map files on disk (see heatmap-file.h).
 *
 * Opening reads the header with pread and validates it against the file
 * length before mapping, so that a file shorter than its header claims
 * is never mapped (touching past its end would raise SIGBUS); the
 * records are checked through the mapping afterwards.  Writing whole
 * files goes through atomic-file.h, which also names the temporary
 * files.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>

#include "atomic-file.h"
#include "full-io.h"
#include "heatmap-file.h"

static enum hm_open_result
not_regular (const char *path, enum hm_status *status, GError **err)
{
  *status = HM_FOREIGN;
  g_set_error (err, G_FILE_ERROR, G_FILE_ERROR_INVAL,
               "%s: not a regular file", path);
  return HM_OPEN_INVALID;
}

/* Open PATH read-write into *FD (-1 if it cannot be opened), and find
 * its *SIZE; it must be a regular file. */
static enum hm_open_result
open_regular (const char *path, int *fd, uint64_t *size,
              enum hm_status *status, GError **err)
{
  struct stat st;

  *fd = open (path, O_RDWR | O_CLOEXEC | O_NOCTTY);
  if (*fd == -1 && errno == ENOENT)
    return HM_OPEN_MISSING;
  if (*fd == -1 && errno == EISDIR)
    return not_regular (path, status, err);
  if (*fd == -1) {
    file_set_error (err, errno, "open %s", path);
    return HM_OPEN_ERROR;
  }
  if (fstat (*fd, &st) == -1) {
    file_set_error (err, errno, "fstat %s", path);
    return HM_OPEN_ERROR;
  }
  if (!S_ISREG (st.st_mode))
    return not_regular (path, status, err);
  *size = st.st_size;
  return HM_OPEN_OK;
}

/* Read the header of M's file, SIZE bytes long, and validate it
 * against that length into M->hdr. */
static enum hm_open_result
read_header (struct hm_mapping *m, const char *path, uint64_t size,
             enum hm_status *status, GError **err)
{
  uint8_t header[HM_HEADER_SIZE];
  size_t got = MIN (size, HM_HEADER_SIZE);
  char why[256];

  if (full_pread (m->fd, header, got, 0) == -1) {
    file_set_error (err, errno, "read %s", path);
    return HM_OPEN_ERROR;
  }
  *status = hm_validate_header (header, got, size, &m->hdr, why, sizeof why);
  if (*status != HM_OK) {
    g_set_error (err, G_FILE_ERROR, G_FILE_ERROR_INVAL, "%s: %s: %s",
                 path, hm_status_name (*status), why);
    return HM_OPEN_INVALID;
  }
  return HM_OPEN_OK;
}

/* Map M's file, whose header is valid, and check its records. */
static enum hm_open_result
map_records (struct hm_mapping *m, const char *path,
             enum hm_status *status, GError **err)
{
  uint64_t bad;

  m->len = hm_file_size (m->hdr.nr_heat_blocks);
  m->base = mmap (NULL, m->len, PROT_READ | PROT_WRITE, MAP_SHARED,
                  m->fd, 0);
  if (m->base == MAP_FAILED) {
    m->base = NULL;
    file_set_error (err, errno, "mmap %s", path);
    return HM_OPEN_ERROR;
  }
  m->recs = (struct hm_record *) ((uint8_t *) m->base + HM_HEADER_SIZE);
  bad = hm_check_records (m->recs, m->hdr.nr_heat_blocks);
  if (bad < m->hdr.nr_heat_blocks) {
    *status = HM_CORRUPT;
    g_set_error (err, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                 "%s: corrupt: record %" G_GUINT64_FORMAT
                 " has an implausible time", path, bad);
    return HM_OPEN_INVALID;
  }
  return HM_OPEN_OK;
}

enum hm_open_result
hm_mapping_open (const char *path, struct hm_mapping *m,
                 enum hm_status *status, GError **err)
{
  enum hm_open_result r;
  uint64_t size = 0;

  memset (m, 0, sizeof *m);
  r = open_regular (path, &m->fd, &size, status, err);
  if (r == HM_OPEN_OK)
    r = read_header (m, path, size, status, err);
  if (r == HM_OPEN_OK)
    r = map_records (m, path, status, err);
  if (r != HM_OPEN_OK)
    hm_mapping_close (m);
  return r;
}

int
hm_mapping_sync (struct hm_mapping *m, GError **err)
{
  if (m->base && msync (m->base, m->len, MS_SYNC) == -1) {
    file_set_error (err, errno, "msync");
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

int
hm_file_create (const char *path, const struct hm_header *h,
                const struct hm_record *recs, GError **err)
{
  uint8_t header[HM_HEADER_SIZE];
  uint64_t size = hm_file_size (h->nr_heat_blocks);
  struct atomic_file f;
  int r;

  if (size == 0) {
    g_set_error (err, G_FILE_ERROR, G_FILE_ERROR_NOSPC,
                 "%s: map would be too large", path);
    return -1;
  }
  if (atomic_file_begin (&f, path, 0640, err) == -1)
    return -1;
  /* Allocate the whole file now, so that a full disk fails here and
   * never as SIGBUS when the filter first stores into a page. */
  r = posix_fallocate (f.fd, 0, size);
  if (r != 0) {
    file_set_error (err, r, "allocate %" G_GUINT64_FORMAT " bytes: %s",
                    size, f.tmp_path);
    goto fail;
  }
  hm_header_encode (h, header);
  if (full_pwrite (f.fd, header, sizeof header, 0) == -1 ||
      (recs && full_pwrite (f.fd, recs, size - HM_HEADER_SIZE,
                            HM_HEADER_SIZE) == -1)) {
    file_set_error (err, errno, "write %s", f.tmp_path);
    goto fail;
  }
  return atomic_file_commit (&f, true, err);

 fail:
  atomic_file_abort (&f);
  return -1;
}
