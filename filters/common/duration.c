/* Durations (see duration.h).
 *
 * Digits are accumulated by hand (no strtod) so that locale, hex,
 * exponents, "inf" and "nan" can never be accepted by accident.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

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

enum duration_result
duration_parse_ms (const char *value, uint64_t *ms)
{
  const char *p = value;
  uint64_t whole = 0, frac = 0, frac_scale = 1, unit = 0, r;
  bool digits = false;
  size_t i;

  while (*p >= '0' && *p <= '9') {
    if (whole > DURATION_MAX_MS)
      return DURATION_TOO_LONG;
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
  if (!digits || unit == 0)
    return DURATION_SYNTAX;
  if (whole > DURATION_MAX_MS / unit)
    return DURATION_TOO_LONG;
  r = whole * unit + (frac * unit + frac_scale / 2) / frac_scale;
  if (r > DURATION_MAX_MS)
    return DURATION_TOO_LONG;
  *ms = r;
  return DURATION_OK;
}
