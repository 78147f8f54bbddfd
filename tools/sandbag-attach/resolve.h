/* sandbag-attach: which pinned version a name means, asked of the
 * servers themselves.
 *
 * Each server is asked, with libnbd, for NAME (plain or pinned) with
 * NBD_OPT_GO and full info; its export description names the version
 * it serves (filters/common/version.h).  The first server that answers
 * decides the version; every other server is then asked for that
 * pinned name and checked against its size and SHA-256.  Servers that
 * do not answer, or serve something else, are reported but do not stop
 * the mount as long as one has the version: the relay keeps trying
 * them.  Every wait is bounded by TIMEOUT_MS per server.
 */
#ifndef SANDBAG_ATTACH_RESOLVE_H
#define SANDBAG_ATTACH_RESOLVE_H

#include <stdbool.h>

#include <glib.h>

#include "version.h"

/* Resolve NAME on SERVERS (a NULL-terminated list of nbd URIs without
 * export names) into *ID.  Messages about servers that cannot be used
 * go to stderr.  Returns 0, or -1 and *ERR if no server has NAME. */
extern int resolve_version (char *const *servers, const char *name,
                            int timeout_ms, struct version_ident *id,
                            GError **err);

#endif /* SANDBAG_ATTACH_RESOLVE_H */
