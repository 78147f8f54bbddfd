/* ratetier: parser for the tier table (see tiers.h for the grammar).
 *
 * A hand-written recursive-descent parser over a cursor.  Every error
 * quotes the input from the point of failure (shortened to a few dozen
 * characters) or, for a semantically wrong tuple, the tuple's own text,
 * so the user can find the mistake in a long command line.  Numbers are
 * plain decimal; a sign, a suffix or hex is refused rather than guessed.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <nbdkit-filter.h>

#include "tiers.h"

/* How much of the input an error message quotes. */
#define QUOTE_MAX 40

struct cursor {
  const char *str;       /* whole input, for messages */
  const char *p;         /* current position */
};

static void
skip_blanks (struct cursor *c)
{
  while (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r')
    c->p++;
}

/* Report an error at the cursor: WHAT is expected. */
static void
error_at (const struct cursor *c, const char *what)
{
  if (*c->p == '\0')
    nbdkit_error ("ratetier: expected %s at the end of \"%s\"", what, c->str);
  else
    nbdkit_error ("ratetier: expected %s at \"%.*s%s\" in \"%s\"",
                  what, QUOTE_MAX, c->p,
                  strlen (c->p) > QUOTE_MAX ? "..." : "", c->str);
}

static bool
take (struct cursor *c, char ch)
{
  skip_blanks (c);
  if (*c->p == ch) {
    c->p++;
    return true;
  }
  return false;
}

static bool
expect (struct cursor *c, char ch)
{
  char what[8];

  if (take (c, ch))
    return true;
  snprintf (what, sizeof what, "'%c'", ch);
  error_at (c, what);
  return false;
}

/* A decimal number in [1, max]. */
static bool
number (struct cursor *c, const char *name, uint64_t max, uint64_t *r)
{
  const char *start;
  uint64_t v = 0;

  skip_blanks (c);
  start = c->p;
  if (*c->p < '0' || *c->p > '9') {
    error_at (c, name);
    return false;
  }
  while (*c->p >= '0' && *c->p <= '9') {
    unsigned d = *c->p - '0';
    if (v > (max - d) / 10) {
      nbdkit_error ("ratetier: %s \"%.*s\" is too large (at most %" PRIu64
                    ") in \"%s\"", name, (int) strspn (start, "0123456789"),
                    start, max, c->str);
      return false;
    }
    v = v * 10 + d;
    c->p++;
  }
  if (v == 0) {
    nbdkit_error ("ratetier: %s must be at least 1, not \"%.*s\" in \"%s\"",
                  name, (int) (c->p - start), start, c->str);
    return false;
  }
  *r = v;
  return true;
}

/* Append (below, weight) parsed from TEXT..END to TIERS, checking the
 * order of thresholds.
 */
static bool
add_tier (struct tiers *tiers, const struct cursor *c,
          const char *text, const char *end, uint64_t below, uint64_t weight)
{
  if (tiers->n >= TIERS_MAX - 1) {
    nbdkit_error ("ratetier: too many tiers (at most %d) at \"%.*s\" in \"%s\"",
                  TIERS_MAX - 1, (int) (end - text), text, c->str);
    return false;
  }
  if (tiers->n > 0 && below <= tiers->tier[tiers->n - 1].below) {
    nbdkit_error ("ratetier: thresholds must be strictly increasing, "
                  "but \"%.*s\" follows %" PRIu64 " in \"%s\"",
                  (int) (end - text), text,
                  tiers->tier[tiers->n - 1].below, c->str);
    return false;
  }
  tiers->tier[tiers->n].below = below;
  tiers->tier[tiers->n].weight = weight;
  tiers->n++;
  return true;
}

/* One "(blocks, weight)" tuple. */
static bool
tuple (struct cursor *c, struct tiers *tiers)
{
  const char *text;
  uint64_t below, weight;

  skip_blanks (c);
  text = c->p;
  if (!expect (c, '(') ||
      !number (c, "a block threshold", TIERS_NO_THRESHOLD - 1, &below) ||
      !expect (c, ',') ||
      !number (c, "a weight", TIERS_MAX_WEIGHT, &weight) ||
      !expect (c, ')'))
    return false;
  return add_tier (tiers, c, text, c->p, below, weight);
}

/* "((b, w), (b, w), ...)" or "()"; the opening '(' is consumed. */
static bool
tuple_form (struct cursor *c, struct tiers *tiers)
{
  if (take (c, ')'))
    return true;
  do {
    if (!tuple (c, tiers))
      return false;
  } while (take (c, ','));
  return expect (c, ')');
}

/* "b:w,b:w,..." */
static bool
colon_form (struct cursor *c, struct tiers *tiers)
{
  const char *text;
  uint64_t below, weight;

  do {
    skip_blanks (c);
    text = c->p;
    if (!number (c, "a block threshold", TIERS_NO_THRESHOLD - 1, &below) ||
        !expect (c, ':') ||
        !number (c, "a weight", TIERS_MAX_WEIGHT, &weight) ||
        !add_tier (tiers, c, text, c->p, below, weight))
      return false;
  } while (take (c, ','));
  return true;
}

struct tiers *
tiers_parse (const char *str)
{
  struct cursor c = { .str = str, .p = str };
  struct tiers *tiers;
  bool ok;

  tiers = g_malloc0 (sizeof *tiers + TIERS_MAX * sizeof tiers->tier[0]);

  skip_blanks (&c);
  if (*c.p == '\0') {
    nbdkit_error ("ratetier: the tier table is empty; write \"()\" for "
                  "only the implicit tier");
    ok = false;
  }
  else if (take (&c, '('))
    ok = tuple_form (&c, tiers);
  else
    ok = colon_form (&c, tiers);

  if (ok) {
    skip_blanks (&c);
    if (*c.p != '\0') {
      error_at (&c, "the end of the tier table");
      ok = false;
    }
  }
  if (!ok) {
    g_free (tiers);
    return NULL;
  }

  tiers->tier[tiers->n].below = TIERS_NO_THRESHOLD;
  tiers->tier[tiers->n].weight = 1;
  tiers->n++;
  return tiers;
}

void
tiers_free (struct tiers *tiers)
{
  g_free (tiers);
}

size_t
tiers_place (const struct tiers *tiers, uint64_t blocks)
{
  size_t i;

  for (i = 0; i < tiers->n - 1; i++)
    if (blocks < tiers->tier[i].below)
      return i;
  return tiers->n - 1;
}

uint64_t
tiers_weight_sum (const struct tiers *tiers)
{
  uint64_t sum = 0;
  size_t i;

  for (i = 0; i < tiers->n; i++)
    sum += tiers->tier[i].weight;
  return sum;
}

char *
tiers_format (const struct tiers *tiers)
{
  GString *s = g_string_new (NULL);
  size_t i;

  for (i = 0; i < tiers->n - 1; i++)
    g_string_append_printf (s, "%s%" PRIu64 ":%u", i ? "," : "",
                            tiers->tier[i].below, tiers->tier[i].weight);
  if (tiers->n == 1)
    g_string_append (s, "()");
  return g_string_free (s, FALSE);
}
