/* Durations in filter parameters ("90", "90s", "1.5h", "500ms"), shared
 * by ratetier and heatmap (nbdkit 1.32 has no nbdkit_parse_delay).
 *
 * A duration is a non-negative decimal number, optionally with a
 * fraction, followed by an optional unit: ms, s (the default), m, h or
 * d.  Blanks are not allowed.  Pure; nbdkit_error on bad input.
 */
#ifndef SANDBAG_DURATION_H
#define SANDBAG_DURATION_H

#include <stdint.h>

/* Largest duration accepted: 100 years, in milliseconds. */
#define DURATION_MAX_MS (UINT64_C (100) * 366 * 24 * 3600 * 1000)

/* Parse VALUE, the value of parameter NAME, into milliseconds (rounded
 * to the nearest).  Returns 0, or calls nbdkit_error naming NAME and
 * returns -1.
 */
extern int duration_parse (const char *name, const char *value,
                           uint64_t *ms);

#endif /* SANDBAG_DURATION_H */
