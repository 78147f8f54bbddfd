/* sandbag: export name validation (see exportname.h for the contract).
 *
 * A single pass over the characters (glib's strict UTF-8 decoder, which
 * refuses overlong forms, surrogates and code points past U+10FFFF)
 * checks every rule (length, encoding, control characters, separators)
 * in one place, with no locale dependence and no allocation.
 */
#include <stdbool.h>
#include <stddef.h>

#include <glib.h>

#include "exportname.h"

bool
exportname_check (const char *name, const char **reason)
{
  const unsigned char *s = (const unsigned char *) name;
  const char *why = NULL;
  size_t i = 0, n;
  gunichar cp;

  if (s[0] == '\0')
    why = "empty name";
  else if (s[0] == '.')
    why = "name begins with '.'";

  while (why == NULL && s[i] != '\0') {
    if (i >= EXPORTNAME_MAX) {
      why = "name too long";
      break;
    }
    cp = g_utf8_get_char_validated (&name[i], -1);
    n = g_utf8_skip[s[i]];
    if (cp == (gunichar) -1 || cp == (gunichar) -2)
      why = "name is not valid UTF-8";
    else if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f))
      why = "name contains a control character";
    else if (cp == '/')
      why = "name contains '/'";
    else if (i + n > EXPORTNAME_MAX)
      why = "name too long";
    else
      i += n;
  }

  if (why != NULL && reason != NULL)
    *reason = why;
  return why == NULL;
}
