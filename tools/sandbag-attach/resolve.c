/* sandbag-attach: resolving a name to a pinned version (see resolve.h). */
#include <stdio.h>
#include <string.h>

#include <glib.h>

#include "nbd-uri.h"
#include "resolve.h"
#include "upstream.h"
#include "version.h"

/* Ask SERVER for NAME (learning) or for ID (checking). */
static enum upstream_result
ask (const char *server, const char *name, struct version_ident *id,
     int timeout_ms, const char **reason)
{
  g_autoptr (GError) err = NULL;
  g_autofree char *uri = nbd_uri_with_export (server, name, &err);
  struct upstream up;
  enum upstream_result r;

  if (uri == NULL) {
    *reason = g_intern_string (err->message);
    return UPSTREAM_FAILED;
  }
  r = upstream_connect (&up, uri, id, timeout_ms, NULL, reason);
  if (r == UPSTREAM_OK)
    upstream_close (&up);
  return r;
}

int
resolve_version (char *const *servers, const char *name, int timeout_ms,
                 struct version_ident *id, GError **err)
{
  const char *reason;
  size_t i, first;

  for (first = 0; servers[first]; first++) {
    memset (id, 0, sizeof *id);
    g_strlcpy (id->pinned, name, sizeof id->pinned);
    if (ask (servers[first], name, id, timeout_ms, &reason) == UPSTREAM_OK)
      break;
    fprintf (stderr, "sandbag-attach: %s: %s\n", servers[first], reason);
  }
  if (servers[first] == NULL) {
    g_set_error (err, G_FILE_ERROR, G_FILE_ERROR_NOENT,
                 "no server serves %s", name);
    return -1;
  }
  for (i = first + 1; servers[i]; i++) {
    struct version_ident check = *id;

    if (ask (servers[i], id->pinned, &check, timeout_ms, &reason) !=
        UPSTREAM_OK)
      fprintf (stderr, "sandbag-attach: %s: %s (it stays a source: the "
               "relay checks it again on every connection)\n",
               servers[i], reason);
  }
  return 0;
}
