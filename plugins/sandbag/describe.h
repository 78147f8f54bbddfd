/* sandbag: the export description format.
 *
 * NBD_OPT_LIST and NBD_INFO_DESCRIPTION carry, for every image, a
 * description in this stable format (documented in the man page; other
 * tools may parse it):
 *
 *   SIZE bytes, modified YYYY-MM-DDTHH:MM:SSZ
 *   SIZE bytes, modified YYYY-MM-DDTHH:MM:SSZ; TEXT
 *
 * SIZE is the image size in decimal bytes, the time is the image's
 * modification time in UTC (ISO 8601), and TEXT, present only when the
 * image has a non-empty sidecar file, is that file's first
 * IMAGEDIR_SIDECAR_MAX bytes sanitised by describe_sanitize.  TEXT is
 * everything after the first "; ".
 *
 * Everything here is pure (no I/O, no allocation, no nbdkit calls).
 */
#ifndef SANDBAG_DESCRIBE_H
#define SANDBAG_DESCRIBE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Turn TEXT (LEN bytes, need not be NUL-terminated, may hold any bytes)
 * into printable single-line UTF-8 in place: each invalid UTF-8 byte
 * becomes '?', each run of control characters (C0, DEL, C1) and spaces
 * becomes one space, and leading and trailing spaces are removed.  The
 * result is never longer than LEN; it is NUL-terminated, so TEXT must
 * have room for LEN + 1 bytes.  Returns the new length.
 */
extern size_t describe_sanitize (char *text, size_t len);

/* Room needed by describe_format for TEXT of up to TEXTLEN bytes. */
#define DESCRIBE_SIZE(textlen) (96 + (textlen))

/* Write the description of an image of SIZE bytes modified at MTIME
 * into BUF (BUFSIZE bytes, at least DESCRIBE_SIZE (strlen (TEXT))).
 * TEXT is already sanitised; NULL or "" means no sidecar text.
 */
extern void describe_format (char *buf, size_t bufsize, uint64_t size,
                             time_t mtime, const char *text);

#endif
