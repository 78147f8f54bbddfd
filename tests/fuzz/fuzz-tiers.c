/* libFuzzer harness: the ratetier= tier-table parser (tiers_parse).
 *
 * The input, NUL-terminated, is the parameter value.  Beyond "does not
 * crash" it checks the contract in filters/ratetier/tiers.h: a refused
 * string leaves an error that names ratetier; an accepted table has its
 * implicit last tier, strictly increasing thresholds and weights in
 * range; its canonical spelling parses back to the same table; and
 * placement always lands on a tier.  A violation aborts, which libFuzzer
 * reports as a crash.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "nbdkit-shim.h"
#include "tiers.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
check_table (const struct tiers *t)
{
  size_t i;

  if (t->n < 1 || t->n > TIERS_MAX)
    abort ();
  if (t->tier[t->n - 1].below != TIERS_NO_THRESHOLD ||
      t->tier[t->n - 1].weight != 1)
    abort ();
  for (i = 0; i < t->n; i++) {
    if (t->tier[i].weight < 1 || t->tier[i].weight > TIERS_MAX_WEIGHT)
      abort ();
    if (i > 0 && t->tier[i].below <= t->tier[i - 1].below)
      abort ();
    if (i < t->n - 1 && t->tier[i].below < 1)
      abort ();
  }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autofree char *str = g_strndup ((const char *) data, size);
  struct tiers *t, *again;
  g_autofree char *canon = NULL;
  uint64_t probes[] = { 0, 1, 999, 1000, UINT64_MAX - 1, UINT64_MAX };
  size_t i;

  shim_clear_error ();
  t = tiers_parse (str);
  if (t == NULL) {
    if (strstr (shim_last_error (), "ratetier") == NULL)
      abort ();                 /* refused without a useful message */
    return 0;
  }
  check_table (t);

  for (i = 0; i < G_N_ELEMENTS (probes); i++)
    if (tiers_place (t, probes[i]) >= t->n)
      abort ();
  for (i = 0; i + 1 < t->n; i++) {
    /* Just below a threshold is in that tier or an earlier one; at the
     * threshold it is in a later one. */
    if (tiers_place (t, t->tier[i].below - 1) > i ||
        tiers_place (t, t->tier[i].below) <= i)
      abort ();
  }
  if (tiers_weight_sum (t) < t->n)
    abort ();

  canon = tiers_format (t);
  again = tiers_parse (canon);
  if (again == NULL || again->n != t->n)
    abort ();
  for (i = 0; i < t->n; i++)
    if (again->tier[i].below != t->tier[i].below ||
        again->tier[i].weight != t->tier[i].weight)
      abort ();

  tiers_free (again);
  tiers_free (t);
  return 0;
}
