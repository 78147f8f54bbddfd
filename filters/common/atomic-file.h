/* Files of our own that must never be seen half-written: the ratetier
 * state and status files and the heat maps.  Shared by the filters and
 * the tools, so errors are GErrors (domain G_FILE_ERROR, the code from
 * errno, the message naming the file), never logged here.
 *
 * Replacing a file: the new content is written to a temporary file in
 * the same directory, named ".BASENAME.tmp.XXXXXX" (hidden, so that a
 * directory listing of exports or of Prometheus text files never shows
 * it), then renamed over PATH; readers see the old file or the new one,
 * never a mixture.  DURABLE adds an fsync of the file before the rename
 * and of the directory after it, so that after a machine crash PATH
 * holds either the old or the new content.  On any error the temporary
 * file is removed and PATH is left as it was.
 *
 * Threads: no shared state; concurrent replacements of one PATH each
 * complete, the last rename winning.
 */
#ifndef SANDBAG_ATOMIC_FILE_H
#define SANDBAG_ATOMIC_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <glib.h>

/* The errors of this header, for callers that do file I/O of their
 * own in the same style: *ERR = "FS...: strerror (ERRNUM)" in
 * G_FILE_ERROR, with the code from ERRNUM (FS names the call and the
 * file, as in "open %s"). */
extern void file_set_error (GError **err, int errnum, const char *fs, ...)
  G_GNUC_PRINTF (3, 4);

/* A replacement in progress: write to FD, then commit or abort. */
struct atomic_file {
  int fd;                       /* the temporary file, open read-write */
  char *tmp_path;
  char *path;
};

/* Create the temporary file for replacing PATH, with permissions MODE
 * (less the umask).  0, or -1 and *ERR. */
extern int atomic_file_begin (struct atomic_file *f, const char *path,
                              mode_t mode, GError **err);

/* Close the temporary file and rename it over PATH (durably if
 * DURABLE).  0, or -1 and *ERR; either way F is finished. */
extern int atomic_file_commit (struct atomic_file *f, bool durable,
                               GError **err);

/* The same, but never replacing: if PATH exists, fail with
 * G_FILE_ERROR_EXIST and leave it alone (for files that, once
 * published, must never change). */
extern int atomic_file_commit_new (struct atomic_file *f, bool durable,
                                   GError **err);

/* Remove the temporary file and finish F. */
extern void atomic_file_abort (struct atomic_file *f);

/* Begin, write LEN bytes of DATA, commit. */
extern int atomic_file_replace (const char *path, const void *data,
                                size_t len, mode_t mode, bool durable,
                                GError **err);

/* Move a file we refuse to use (corrupt, foreign, superseded) out of
 * the way without losing it: rename PATH to "PATH.TAG", or to
 * "PATH.TAG.1", ".2", ... (up to 999) if that exists, never replacing
 * a file, and fsync the directory.  Returns the new name (g_free it),
 * or NULL and *ERR. */
extern char *file_rename_aside (const char *path, const char *tag,
                                GError **err);

/* fsync the directory holding PATH, so that a rename in it survives a
 * crash.  0, or -1 and *ERR. */
extern int file_sync_dir_of (const char *path, GError **err);

/* Read the whole of PATH, which must be a regular file of at most
 * MAX_LEN bytes (else G_FILE_ERROR_INVAL or _FAILED naming the limit),
 * into a new buffer (g_free it; NUL-terminated after LEN bytes, for
 * text).  0, or -1 and *ERR; a missing file is G_FILE_ERROR_NOENT. */
extern int file_read_bounded (const char *path, size_t max_len,
                              uint8_t **buf, size_t *len, GError **err);

#endif /* SANDBAG_ATOMIC_FILE_H */
