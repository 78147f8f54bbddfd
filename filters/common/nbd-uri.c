/* NBD URIs (see nbd-uri.h), built with glib's GUri. */
#include <string.h>

#include <glib.h>

#include "nbd-uri.h"

char *
nbd_uri_with_export (const char *server, const char *name, GError **err)
{
  static const char *const schemes[] = {
    "nbd", "nbds", "nbd+unix", "nbds+unix", NULL
  };
  g_autoptr (GUri) u = g_uri_parse (server, G_URI_FLAGS_ENCODED, err);
  g_autofree char *escaped = NULL, *path = NULL;
  const char *p;

  if (u == NULL)
    return NULL;
  if (!g_strv_contains (schemes, g_uri_get_scheme (u))) {
    g_set_error (err, G_URI_ERROR, G_URI_ERROR_BAD_SCHEME,
                 "%s: not an nbd:, nbds:, nbd+unix: or nbds+unix: URI",
                 server);
    return NULL;
  }
  p = g_uri_get_path (u);
  if (p[0] != '\0' && strcmp (p, "/") != 0) {
    g_set_error (err, G_URI_ERROR, G_URI_ERROR_BAD_PATH,
                 "%s: give the server only, without an export name",
                 server);
    return NULL;
  }
  escaped = g_uri_escape_string (name, NULL, FALSE);
  path = g_strconcat ("/", escaped, NULL);
  return g_uri_join (G_URI_FLAGS_ENCODED, g_uri_get_scheme (u),
                     g_uri_get_userinfo (u), g_uri_get_host (u),
                     g_uri_get_port (u), path, g_uri_get_query (u), NULL);
}
