/* sandbag: export descriptions (see describe.h for the format). */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "describe.h"

/* Length of the valid UTF-8 sequence at S (at most AVAIL bytes), with
 * its code point in *CP, or 0 if it is not valid.
 */
static size_t
utf8_seq (const unsigned char *s, size_t avail, uint32_t *cp)
{
  uint32_t c = s[0], min;
  size_t len, i;

  if (c < 0x80) {
    *cp = c;
    return 1;
  }
  else if ((c & 0xe0) == 0xc0) { len = 2; c &= 0x1f; min = 0x80; }
  else if ((c & 0xf0) == 0xe0) { len = 3; c &= 0x0f; min = 0x800; }
  else if ((c & 0xf8) == 0xf0) { len = 4; c &= 0x07; min = 0x10000; }
  else
    return 0;
  if (len > avail)
    return 0;
  for (i = 1; i < len; ++i) {
    if ((s[i] & 0xc0) != 0x80)
      return 0;
    c = (c << 6) | (s[i] & 0x3f);
  }
  if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
    return 0;
  *cp = c;
  return len;
}

size_t
describe_sanitize (char *text, size_t len)
{
  unsigned char *s = (unsigned char *) text;
  size_t in = 0, out = 0, n;
  bool pending_space = false;
  uint32_t cp;

  /* OUT never overtakes IN: every step writes at most what it reads. */
  while (in < len) {
    n = utf8_seq (&s[in], len - in, &cp);
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

void
describe_format (char *buf, size_t bufsize, uint64_t size,
                 time_t mtime, const char *text)
{
  char when[48];
  struct tm tm;

  /* Times too far away to format (on any sane system: none) print as
   * the epoch rather than as garbage. */
  if (gmtime_r (&mtime, &tm) == NULL ||
      strftime (when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
    strcpy (when, "1970-01-01T00:00:00Z");
  if (text != NULL && text[0] != '\0')
    snprintf (buf, bufsize, "%" PRIu64 " bytes, modified %s; %s",
              size, when, text);
  else
    snprintf (buf, bufsize, "%" PRIu64 " bytes, modified %s", size, when);
}
