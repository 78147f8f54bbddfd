/* libFuzzer harness: the heat map loader (filters/common/heatmap-format.c
 * and heatmap-file.c), which reads files left by earlier runs, other
 * versions, crashes or anyone who can write the map directory.
 *
 * Each input is checked twice by hm_validate: as it is, and with its
 * header checksum recomputed, so that the fuzzer gets past the CRC to
 * the field checks.  When the input is accepted, re-encoding the decoded
 * header must give back the input's header byte for byte, and the length
 * must be exactly what the header says.  Then the input is written to a
 * file in a private tmpfs directory and opened with hm_mapping_open (the
 * filter's real path: open, fstat, mmap, validate), which must agree
 * with hm_validate.  A disagreement aborts (libFuzzer reports a crash).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>

#include "nbdkit-shim.h"
#include "heatmap-format.h"
#include "heatmap-file.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

#define CRC_OFFSET 596

static char *dir;
static char *path;

static enum hm_status
check_buffer (const uint8_t *buf, size_t len)
{
  struct hm_header h;
  char why[256];
  enum hm_status st;
  uint8_t again[HM_HEADER_SIZE];

  why[0] = '\0';
  st = hm_validate (buf, len, &h, why, sizeof why);
  if (st == HM_OK) {
    if (len < HM_HEADER_SIZE ||
        hm_file_size (h.nr_heat_blocks) != len ||
        h.nr_heat_blocks != hm_nr_heat_blocks (h.image_size,
                                               h.heat_block_shift))
      abort ();
    hm_header_encode (&h, again);
    if (memcmp (again, buf, HM_HEADER_SIZE) != 0)
      abort ();                 /* accepted a header it would not write */
    if (hm_check_records (buf + HM_HEADER_SIZE, h.nr_heat_blocks) !=
        h.nr_heat_blocks)
      abort ();
  }
  else if (why[0] == '\0' || strlen (why) >= sizeof why)
    abort ();                   /* refused without a reason */
  if (hm_status_name (st) == NULL)
    abort ();
  return st;
}

static void
check_file (const uint8_t *buf, size_t len, enum hm_status expect)
{
  struct hm_mapping m;
  enum hm_status st = HM_OK;
  g_autoptr (GError) err = NULL;
  enum hm_open_result r;
  int fd;

  fd = open (path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd == -1 || (len && write (fd, buf, len) != (ssize_t) len) ||
      close (fd) == -1)
    abort ();                   /* the harness's own I/O */
  r = hm_mapping_open (path, &m, &st, &err);
  switch (r) {
  case HM_OPEN_OK:
    if (expect != HM_OK || m.len != len)
      abort ();
    hm_mapping_close (&m);
    break;
  case HM_OPEN_INVALID:
    if (expect == HM_OK || err == NULL)
      abort ();
    break;
  case HM_OPEN_ERROR:
    /* Only a file too large to map may fail to open; nothing here is. */
    abort ();
  case HM_OPEN_MISSING:
    abort ();
  }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autofree uint8_t *fixed = NULL;
  enum hm_status st;
  uint32_t crc;

  if (dir == NULL) {
    dir = g_strdup ("/dev/shm/sandbag-fuzz-XXXXXX");
    if (g_mkdtemp (dir) == NULL) {
      g_free (dir);
      dir = g_dir_make_tmp ("sandbag-fuzz-XXXXXX", NULL);
      if (dir == NULL)
        abort ();
    }
    path = g_build_filename (dir, "map.heatmap", NULL);
  }

  st = check_buffer (data, size);
  check_file (data, size, st);

  if (size >= HM_HEADER_SIZE) {
    fixed = g_memdup2 (data, size);
    memset (fixed + CRC_OFFSET, 0, 4);
    crc = hm_crc32 (0, fixed, HM_HEADER_SIZE);
    fixed[CRC_OFFSET] = crc & 0xff;
    fixed[CRC_OFFSET + 1] = (crc >> 8) & 0xff;
    fixed[CRC_OFFSET + 2] = (crc >> 16) & 0xff;
    fixed[CRC_OFFSET + 3] = (crc >> 24) & 0xff;
    st = check_buffer (fixed, size);
    check_file (fixed, size, st);
  }
  return 0;
}
