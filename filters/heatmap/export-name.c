/* Export name to map file name (see export-name.h).
 *
 * Percent-encoding keeps ordinary names readable in the directory
 * listing ("debian-12.img" stays "debian-12.img.heatmap") while making
 * '/', "..", control bytes and anything else harmless.  Very long names
 * fall back to a digest so that the result fits any file system.
 */
#include <string.h>

#include <glib.h>

#include "export-name.h"

/* Room left for the encoding once the suffix is added. */
#define ENCODED_MAX (HM_MAX_BASENAME - sizeof HM_MAP_SUFFIX + 1)
/* A long name keeps this much of its encoding before '~' and the
 * 64-character digest. */
#define PREFIX_MAX (ENCODED_MAX - 1 - 64)

static int
plain_byte (unsigned char c, size_t pos)
{
  if (g_ascii_isalnum (c) || c == '_' || c == '-')
    return 1;
  return c == '.' && pos > 0;
}

char *
hm_map_basename (const char *name)
{
  g_autoptr (GString) s = g_string_new (NULL);
  size_t i;

  if (name[0] == '\0')
    return g_strdup ("=default" HM_MAP_SUFFIX);

  for (i = 0; name[i] != '\0'; i++) {
    unsigned char c = name[i];

    if (plain_byte (c, i))
      g_string_append_c (s, c);
    else
      g_string_append_printf (s, "%%%02X", c);
  }

  if (s->len > ENCODED_MAX) {
    g_autofree char *digest =
      g_compute_checksum_for_string (G_CHECKSUM_SHA256, name, -1);
    size_t keep = PREFIX_MAX;

    /* Do not cut an escape in half. */
    if (keep >= 1 && s->str[keep - 1] == '%')
      keep -= 1;
    else if (keep >= 2 && s->str[keep - 2] == '%')
      keep -= 2;
    g_string_truncate (s, keep);
    g_string_append_c (s, '~');
    g_string_append (s, digest);
  }
  g_string_append (s, HM_MAP_SUFFIX);
  return g_string_free (g_steal_pointer (&s), FALSE);
}
