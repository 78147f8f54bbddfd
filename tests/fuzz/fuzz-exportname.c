/* libFuzzer harness: the checks applied to export names, which arrive
 * from the network before anything else: sandbag's exportname_check
 * (filters/common/exportname.h) and heatmap's hm_map_basename
 * (filters/heatmap/export-name.h).
 *
 * The input is split at its first NUL into two names A and B (nbdkit
 * hands plugins C strings, so a name never holds a NUL).  Checks:
 *  - exportname_check accepts only 1..EXPORTNAME_MAX bytes of valid
 *    UTF-8 with no control character, no '/', no leading '.', and says
 *    why when it refuses;
 *  - hm_map_basename gives a plain, bounded, non-hidden file name ending
 *    in ".heatmap" from the allowed alphabet, and different names give
 *    different file names (A != B implies basename(A) != basename(B)).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "nbdkit-shim.h"
#include "exportname.h"
#include "export-name.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
check_sandbag (const char *name)
{
  const char *reason = NULL;
  size_t len = strlen (name), i;
  const char *p;

  if (!exportname_check (name, &reason)) {
    if (reason == NULL || reason[0] == '\0')
      abort ();
    return;
  }
  if (len < 1 || len > EXPORTNAME_MAX || name[0] == '.' ||
      strchr (name, '/') || !g_utf8_validate (name, len, NULL))
    abort ();
  for (i = 0; i < len; i++)
    if ((unsigned char) name[i] < 0x20 || name[i] == 0x7f)
      abort ();
  for (p = name; *p; p = g_utf8_next_char (p)) {
    gunichar c = g_utf8_get_char (p);
    if (c >= 0x80 && c < 0xa0)  /* C1 controls */
      abort ();
  }
}

static char *
check_heatmap (const char *name)
{
  char *base = hm_map_basename (name);
  size_t len, i;

  if (base == NULL)
    abort ();
  len = strlen (base);
  if (len > HM_MAX_BASENAME || len <= strlen (HM_MAP_SUFFIX) ||
      !g_str_has_suffix (base, HM_MAP_SUFFIX) || base[0] == '.')
    abort ();
  for (i = 0; i < len; i++)
    if (!g_ascii_isalnum (base[i]) && !strchr ("._%~=-", base[i]))
      abort ();
  return base;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autofree char *a = g_strndup ((const char *) data, size);
  const uint8_t *nul = memchr (data, '\0', size);
  g_autofree char *b = nul ? g_strndup ((const char *) nul + 1,
                                        size - (nul + 1 - data))
                           : g_strdup ("");
  g_autofree char *ba = NULL, *bb = NULL;

  check_sandbag (a);
  check_sandbag (b);
  ba = check_heatmap (a);
  bb = check_heatmap (b);
  if (strcmp (a, b) != 0 && strcmp (ba, bb) == 0)
    abort ();                   /* two exports would share one map */
  return 0;
}
