/* sandbag: export name validation (see exportname.h for the contract).
 *
 * A single pass over the bytes decodes UTF-8 by hand so that every rule
 * (length, encoding, control characters, separators) is checked in one
 * place, with no locale dependence and no allocation.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "exportname.h"

/* Decode one UTF-8 sequence at S (not at the terminator).  Returns its
 * length in bytes and stores the code point in *CP, or returns 0 if the
 * sequence is malformed, overlong, a surrogate or beyond U+10FFFF.
 */
static size_t
decode_utf8 (const unsigned char *s, uint32_t *cp)
{
  uint32_t c = s[0], min;
  size_t len, i;

  if (c < 0x80) {
    *cp = c;
    return 1;
  }
  else if ((c & 0xe0) == 0xc0) {
    len = 2; c &= 0x1f; min = 0x80;
  }
  else if ((c & 0xf0) == 0xe0) {
    len = 3; c &= 0x0f; min = 0x800;
  }
  else if ((c & 0xf8) == 0xf0) {
    len = 4; c &= 0x07; min = 0x10000;
  }
  else
    return 0;

  for (i = 1; i < len; ++i) {
    /* A terminator here fails this test, so we never read past it. */
    if ((s[i] & 0xc0) != 0x80)
      return 0;
    c = (c << 6) | (s[i] & 0x3f);
  }
  if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
    return 0;
  *cp = c;
  return len;
}

bool
exportname_check (const char *name, const char **reason)
{
  const unsigned char *s = (const unsigned char *) name;
  const char *why = NULL;
  size_t i = 0, n;
  uint32_t cp;

  if (s[0] == '\0')
    why = "empty name";
  else if (s[0] == '.')
    why = "name begins with '.'";

  while (why == NULL && s[i] != '\0') {
    if (i >= EXPORTNAME_MAX) {
      why = "name too long";
      break;
    }
    n = decode_utf8 (&s[i], &cp);
    if (n == 0)
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
