/* Durations for filter parameters (see duration.h).  nbdkit 1.32 has
 * no nbdkit_parse_delay, so we parse our own small grammar. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <nbdkit-filter.h>

#include "duration.h"

#define MS UINT64_C(1000)
#define MAX_US (UINT64_C(7) * 24 * 3600 * 1000000)

int
hm_parse_duration (const char *what, const char *str, uint64_t *us)
{
  static const struct { const char *suffix; uint64_t scale; } units[] = {
    { "ms", MS }, { "s", 1000 * MS }, { "", 1000 * MS },
    { "m", 60 * 1000 * MS }, { "h", 3600 * 1000 * MS },
    { "d", 24 * 3600 * 1000 * MS },
  };
  unsigned long long n;
  char *end;
  size_t i;

  if (str[0] < '0' || str[0] > '9') {
    nbdkit_error ("%s: could not parse duration \"%s\" (use e.g. 30s, "
                  "500ms, 5m)", what, str);
    return -1;
  }
  errno = 0;
  n = strtoull (str, &end, 10);
  for (i = 0; i < sizeof units / sizeof units[0]; i++) {
    if (strcmp (end, units[i].suffix) == 0) {
      if (errno == ERANGE || n > MAX_US / units[i].scale ||
          n * units[i].scale > MAX_US) {
        nbdkit_error ("%s: duration \"%s\" is longer than 7 days",
                      what, str);
        return -1;
      }
      if (n * units[i].scale < MS) {
        nbdkit_error ("%s: duration \"%s\" is shorter than 1ms", what, str);
        return -1;
      }
      *us = n * units[i].scale;
      return 0;
    }
  }
  nbdkit_error ("%s: unknown unit in duration \"%s\" (use ms, s, m, h "
                "or d)", what, str);
  return -1;
}
