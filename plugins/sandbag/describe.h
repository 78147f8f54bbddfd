/* sandbag: the export description format.
 *
 * NBD_OPT_LIST and NBD_INFO_DESCRIPTION carry, for every image, a
 * description in this stable format (documented in the man page; other
 * tools may parse it):
 *
 *   SIZE bytes, modified YYYY-MM-DDTHH:MM:SSZ
 *   SIZE bytes, modified YYYY-MM-DDTHH:MM:SSZ; TEXT
 *
 * and for a pinned version (version.h), or a name that resolves to one:
 *
 *   NAME@VERSION, SIZE bytes, published YYYY-MM-DDTHH:MM:SSZ, sha256 HEX
 *   NAME@VERSION, SIZE bytes, published YYYY-MM-DDTHH:MM:SSZ, sha256 HEX; TEXT
 *
 * SIZE is the image size in decimal bytes, the time is the image's
 * modification time, or a version's publish time, in UTC (ISO 8601),
 * HEX the version's SHA-256 from its metadata, and TEXT, present only
 * when the image has a non-empty sidecar file ".NAME.description", is
 * that file's first IMAGEDIR_SIDECAR_MAX bytes sanitised by
 * describe_sanitize.  TEXT is everything after the first "; ".  A
 * description starts with a pinned name exactly when it contains '@'
 * before the first ','; clients find the pinned name of a plain NAME
 * there, because nbdkit 1.32 answers NBD_INFO_NAME with the name the
 * client asked for (except for the default export).
 *
 * Everything here is pure (no I/O, no allocation, no nbdkit calls).
 */
#ifndef SANDBAG_DESCRIBE_H
#define SANDBAG_DESCRIBE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "version.h"

/* Turn TEXT (LEN bytes, need not be NUL-terminated, may hold any bytes)
 * into printable single-line UTF-8 in place: each invalid UTF-8 byte
 * becomes '?', each run of control characters (C0, DEL, C1) and spaces
 * becomes one space, and leading and trailing spaces are removed.  The
 * result is never longer than LEN; it is NUL-terminated, so TEXT must
 * have room for LEN + 1 bytes.  Returns the new length.
 */
extern size_t describe_sanitize (char *text, size_t len);

/* Room needed by describe_format for TEXT of up to TEXTLEN bytes,
 * with a pinned name of up to VERSION_NAME_MAX bytes. */
#define DESCRIBE_SIZE(textlen) (96 + 256 + 72 + (textlen))

/* Write the description of an image of SIZE bytes modified at MTIME
 * into BUF (BUFSIZE bytes, at least DESCRIBE_SIZE (strlen (TEXT))).
 * TEXT is already sanitised; NULL or "" means no sidecar text.
 */
extern void describe_format (char *buf, size_t bufsize, uint64_t size,
                             time_t mtime, const char *text);

/* The same for the pinned version described by META. */
extern void describe_format_version (char *buf, size_t bufsize,
                                     const struct version_meta *meta,
                                     const char *text);

#endif
