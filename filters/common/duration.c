/* Duration parameters (see duration.h).
 *
 * Digits are accumulated by hand (no strtod) so that locale, hex,
 * exponents, "inf" and "nan" can never be accepted by accident.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <nbdkit-filter.h>

#include "duration.h"

static const struct {
  const char *suffix;
  uint64_t ms;
} units[] = {
  { "ms", 1 },
  { "s", 1000 },
  { "", 1000 },
  { "m", 60 * 1000 },
  { "h", 3600 * 1000 },
  { "d", 24 * 3600 * 1000 },
};

int
duration_parse (const char *name, const char *value, uint64_t *ms)
{
  const char *p = value;
  uint64_t whole = 0, frac = 0, frac_scale = 1, unit = 0, r;
  bool digits = false;
  size_t i;

  while (*p >= '0' && *p <= '9') {
    if (whole > DURATION_MAX_MS)
      goto too_long;
    whole = whole * 10 + (*p++ - '0');
    digits = true;
  }
  if (*p == '.') {
    p++;
    while (*p >= '0' && *p <= '9') {
      if (frac_scale < UINT64_C (1000000000)) {
        frac = frac * 10 + (*p - '0');
        frac_scale *= 10;
      }
      p++;
      digits = true;
    }
  }
  for (i = 0; i < sizeof units / sizeof units[0]; i++)
    if (strcmp (p, units[i].suffix) == 0) {
      unit = units[i].ms;
      break;
    }
  if (!digits || unit == 0) {
    nbdkit_error ("%s: could not parse duration \"%s\" "
                  "(expected a number of seconds, or a number followed "
                  "by ms, s, m, h or d)", name, value);
    return -1;
  }
  if (whole > DURATION_MAX_MS / unit)
    goto too_long;
  r = whole * unit + (frac * unit + frac_scale / 2) / frac_scale;
  if (r > DURATION_MAX_MS)
    goto too_long;
  *ms = r;
  return 0;

 too_long:
  nbdkit_error ("%s: duration \"%s\" is too long", name, value);
  return -1;
}
