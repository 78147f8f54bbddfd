/* libFuzzer harness: pinned versions' metadata and descriptions
 * (filters/common/version.c).  The plugin reads metadata from the
 * served directory, and the client reads descriptions from servers:
 * both hostile.
 *
 * Each input is parsed as metadata and, NUL-terminated, as a
 * description.  Accepted metadata must be canonical (formatting it
 * gives back exactly the input) and its description must parse back to
 * the same identity; an accepted description must hold a valid pinned
 * name and a 64-digit hash.  A refusal must come with a reason.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "version.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
check_description (const uint8_t *data, size_t size)
{
  g_autofree char *desc = g_strndup ((const char *) data, size);
  struct version_ident id;
  const char *reason = NULL;
  size_t name_len;

  if (!version_description_parse (desc, &id, &reason)) {
    if (reason == NULL)
      abort ();
    return;
  }
  if (!version_split (id.pinned, &name_len, &reason) ||
      strlen (id.sha256) != 64)
    abort ();
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  struct version_ident id;
  struct version_meta m;
  const char *reason = NULL;
  g_autofree char *again = NULL;
  g_autofree char *pinned = NULL;
  size_t name_len;

  check_description (data, size);
  if (!version_meta_parse ((const char *) data, size, &m, &reason)) {
    if (reason == NULL)
      abort ();
    return 0;
  }
  again = version_meta_format (&m);
  if (strlen (again) != size || memcmp (again, data, size) != 0)
    abort ();
  pinned = g_strdup_printf ("%s@%s", m.name, m.version);
  if (!version_split (pinned, &name_len, &reason) ||
      name_len != strlen (m.name) || strlen (m.sha256) != 64)
    abort ();
  g_free (again);
  again = version_describe (&m);
  if (!version_description_parse (again, &id, &reason) ||
      strcmp (id.pinned, pinned) != 0 || id.size != m.size ||
      strcmp (id.sha256, m.sha256) != 0)
    abort ();
  return 0;
}
