/* Durations in parameters and options ("90", "90s", "1.5h", "500ms"),
 * shared by the filters and the tools (nbdkit 1.32 has no
 * nbdkit_parse_delay).
 *
 * A duration is a non-negative decimal number, optionally with a
 * fraction, followed by an optional unit: ms, s (the default), m, h or
 * d.  Blanks are not allowed.
 */
#ifndef SANDBAG_DURATION_H
#define SANDBAG_DURATION_H

#include <stdbool.h>
#include <stdint.h>

/* Largest duration accepted: 100 years, in milliseconds. */
#define DURATION_MAX_MS (UINT64_C (100) * 366 * 24 * 3600 * 1000)

enum duration_result {
  DURATION_OK,
  DURATION_SYNTAX,              /* not a duration */
  DURATION_TOO_LONG,            /* more than DURATION_MAX_MS */
};

/* The message for a bad duration: "could not parse duration ..." or
 * "duration ... is too long", with %s for the value. */
#define DURATION_SYNTAX_FMT "could not parse duration \"%s\" " \
  "(expected a number of seconds, or a number followed by ms, s, m, h or d)"
#define DURATION_TOO_LONG_FMT "duration \"%s\" is too long"

/* Parse VALUE into milliseconds (rounded to the nearest).  Pure, for
 * tools and filters alike.
 */
extern enum duration_result duration_parse_ms (const char *value,
                                               uint64_t *ms);

/* The same for the value of parameter NAME inside nbdkit: returns 0,
 * or calls nbdkit_error naming NAME and returns -1 (in config.c, which
 * links nbdkit).
 */
extern int duration_parse (const char *name, const char *value,
                           uint64_t *ms);

#endif /* SANDBAG_DURATION_H */
