/* Heat map files on disk: creating them safely and mapping them.
 * Shared by the filter (which maps files read-write and updates them
 * in place) and the tool (which reads them whole with
 * file_read_bounded and writes merged maps with hm_file_create).
 * Errors are GErrors in the style of atomic-file.h (domain
 * G_FILE_ERROR, the code from errno, the message naming the file),
 * never logged here; a file to be kept out of the way is moved with
 * file_rename_aside.
 *
 * Crash safety of creation: a new map is written as a hidden temporary
 * file in the same directory (atomic-file.h), its whole length is
 * allocated with posix_fallocate (so a full disk fails here, not later
 * as SIGBUS on first touch of a page of the mapping), its header and
 * records are written and fsync'd, and only then is it renamed into
 * place and the directory fsync'd.  After a crash the name holds either
 * nothing, an older map or the complete new one; a stray temporary file
 * is never loaded (its name is not one the filter looks for).
 *
 * Threads: no shared state.
 */
#ifndef SANDBAG_HEATMAP_FILE_H
#define SANDBAG_HEATMAP_FILE_H

#include <stddef.h>
#include <stdint.h>

#include <glib.h>

#include "heatmap-format.h"

/* A map file mapped read-write and shared: stores into RECS reach the
 * file (the page cache at once, the disk at the next hm_mapping_sync
 * or whenever the kernel writes back). */
struct hm_mapping {
  int fd;
  void *base;                   /* the whole file */
  size_t len;
  struct hm_header hdr;
  struct hm_record *recs;       /* base + HM_HEADER_SIZE */
};

enum hm_open_result {
  HM_OPEN_OK,                   /* *M is ready */
  HM_OPEN_MISSING,              /* no such file */
  HM_OPEN_INVALID,              /* a file that is not a valid map:
                                 * *STATUS says why, *ERR has details */
  HM_OPEN_ERROR,                /* could not open, read or map it */
};

/* Open PATH read-write (it must be a regular file, perhaps through a
 * symbolic link), validate it completely (heatmap-format.h) and map
 * it. */
enum hm_open_result hm_mapping_open (const char *path, struct hm_mapping *m,
                                     enum hm_status *status, GError **err);

/* Write all dirty pages of M to disk and wait (msync: may take long;
 * never call it with a lock held).  -1 and *ERR on error. */
int hm_mapping_sync (struct hm_mapping *m, GError **err);

/* Unmap and close (without syncing; the kernel still writes the dirty
 * pages back). */
void hm_mapping_close (struct hm_mapping *m);

/* Create a complete map file at PATH (replacing any file there) with
 * header H and the given records (NULL: all zero), crash-safely as
 * described above, mode 0640 (a map tells which parts of an image
 * clients read; less if the umask says so).  0, or -1 and *ERR. */
int hm_file_create (const char *path, const struct hm_header *h,
                    const struct hm_record *recs, GError **err);

#endif /* SANDBAG_HEATMAP_FILE_H */
