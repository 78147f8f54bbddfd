/* Parsing a duration parameter such as heatmap-sync.
 *
 * Contract of hm_parse_duration (WHAT, STR, &US): STR is a decimal
 * number followed by an optional unit, "ms", "s" (the default), "m",
 * "h" or "d" ("500ms", "30", "30s", "5m", "1h").  On success stores the
 * duration in microseconds (at least 1 ms, at most 7 days) and returns
 * 0; otherwise calls nbdkit_error naming WHAT and returns -1.
 */
#ifndef SANDBAG_HEATMAP_DURATION_H
#define SANDBAG_HEATMAP_DURATION_H

#include <stdint.h>

int hm_parse_duration (const char *what, const char *str, uint64_t *us);

#endif /* SANDBAG_HEATMAP_DURATION_H */
