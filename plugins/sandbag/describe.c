/* sandbag: export descriptions (see describe.h for the format). */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <glib.h>

#include "describe.h"

/* Length of the valid UTF-8 character at S (at most AVAIL bytes), with
 * its code point in *CP, or 0 if it is not valid.  A NUL byte is a
 * character here (a control character to squeeze), not a terminator.
 */
static size_t
utf8_char (const unsigned char *s, size_t avail, gunichar *cp)
{
  if (s[0] == '\0') {
    *cp = 0;
    return 1;
  }
  *cp = g_utf8_get_char_validated ((const gchar *) s, avail);
  if (*cp == (gunichar) -1 || *cp == (gunichar) -2)
    return 0;
  return g_utf8_skip[s[0]];
}

size_t
describe_sanitize (char *text, size_t len)
{
  unsigned char *s = (unsigned char *) text;
  size_t in = 0, out = 0, n;
  bool pending_space = false;
  gunichar cp;

  /* OUT never overtakes IN: every step writes at most what it reads. */
  while (in < len) {
    n = utf8_char (&s[in], len - in, &cp);
    if (n != 0 && (cp <= 0x20 || (cp >= 0x7f && cp <= 0x9f))) {
      pending_space = out > 0;
      in += n;
      continue;
    }
    if (pending_space) {
      s[out++] = ' ';
      pending_space = false;
    }
    if (n == 0) {
      s[out++] = '?';
      in++;
    }
    else {
      memmove (&s[out], &s[in], n);
      out += n;
      in += n;
    }
  }
  s[out] = '\0';
  return out;
}

/* TIME as YYYY-MM-DDTHH:MM:SSZ into WHEN (at least 48 bytes).  Times
 * too far away to format (on any sane system: none) print as the epoch
 * rather than as garbage. */
static void
format_time (time_t t, char *when, size_t size)
{
  struct tm tm;

  if (gmtime_r (&t, &tm) == NULL ||
      strftime (when, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
    g_strlcpy (when, "1970-01-01T00:00:00Z", size);
}

/* "; TEXT", or "" without text. */
static const char *
text_separator (const char *text)
{
  return text != NULL && text[0] != '\0' ? "; " : "";
}

void
describe_format (char *buf, size_t bufsize, uint64_t size,
                 time_t mtime, const char *text)
{
  char when[48];

  format_time (mtime, when, sizeof when);
  snprintf (buf, bufsize, "%" PRIu64 " bytes, modified %s%s%s",
            size, when, text_separator (text), text ? text : "");
}

void
describe_format_version (char *buf, size_t bufsize,
                         const struct version_meta *meta, const char *text)
{
  g_autofree char *head = version_describe (meta);

  snprintf (buf, bufsize, "%s%s%s", head, text_separator (text),
            text ? text : "");
}
