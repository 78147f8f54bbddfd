/* NBD URIs naming a server (nbd://HOST[:PORT], nbds://..., or
 * nbd+unix:///?socket=PATH), made to ask for one export.  Shared by the
 * relay and sandbag-attach, which take servers from users and always
 * choose the export name themselves.
 */
#ifndef SANDBAG_NBD_URI_H
#define SANDBAG_NBD_URI_H

#include <glib.h>

/* SERVER with its path set to the export NAME (percent-escaped, so
 * that "NAME@VERSION" survives every URI parser), as a new string; or
 * NULL and *ERR if SERVER is not an nbd:, nbds:, nbd+unix: or
 * nbds+unix: URI, or already names an export. */
extern char *nbd_uri_with_export (const char *server, const char *name,
                                  GError **err);

#endif /* SANDBAG_NBD_URI_H */
