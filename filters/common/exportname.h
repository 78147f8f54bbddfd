/* Which export names may name an image in dir= mode (the plugin checks
 * every name a client sends; sandbag-publish checks the names it
 * publishes under).
 *
 * Export names arrive from the network before any authentication and
 * are then used as a file name inside the image directory, so they are
 * hostile input.  exportname_check decides, without touching the file
 * system or calling into nbdkit, whether a name is acceptable as a
 * single, visible directory entry.
 *
 * Contract of exportname_check (NAME, REASON):
 *  - NAME is a NUL-terminated string of any content (may be empty, may
 *    hold any bytes); it is only read, never beyond its terminator.
 *  - Returns true if NAME is acceptable: 1 to EXPORTNAME_MAX bytes,
 *    valid UTF-8, no control character (C0, DEL or C1), no '/', no
 *    leading '.' (so neither "." nor ".." nor hidden files such as the
 *    ".NAME.description" sidecars).
 *  - Otherwise returns false and, if REASON is not NULL, sets *REASON to
 *    a static, human-readable string saying which rule was broken.  The
 *    reason never quotes NAME, so it is safe to log as is.
 *  - Pure: no allocation, no global state, safe from any thread.
 *
 * Accepting a name says nothing about whether a file of that name
 * exists or is servable; imagedir_open decides that.
 */
#ifndef SANDBAG_EXPORTNAME_H
#define SANDBAG_EXPORTNAME_H

#include <stdbool.h>

/* Longest accepted name in bytes: one file name component (NAME_MAX). */
#define EXPORTNAME_MAX 255

extern bool exportname_check (const char *name, const char **reason);

#endif
