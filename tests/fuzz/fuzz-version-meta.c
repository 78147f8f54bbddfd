/* libFuzzer harness: pinned version metadata (version_meta_parse in
 * filters/common/version.c), which the plugin reads from the served
 * directory -- hostile input -- on every connection to a version.
 *
 * An accepted input must be canonical: formatting the parsed metadata
 * gives back exactly the input, so nothing was accepted without being
 * understood, and every field passes its own rule.  A refused input
 * must come with a reason.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "version.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  struct version_meta m;
  const char *reason = NULL;
  g_autofree char *again = NULL;
  g_autofree char *pinned = NULL;
  size_t name_len;

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
  return 0;
}
