/* Unit test: durations in parameters
 * (filters/common/duration.c).
 */
#include <stdint.h>
#include <string.h>

#include <glib.h>

#include "nbdkit-shim.h"
#include "../filters/common/duration.h"

static void
test_good (void)
{
  static const struct { const char *s; uint64_t ms; } good[] = {
    { "0", 0 }, { "90", 90000 }, { "90s", 90000 }, { "500ms", 500 },
    { "1.5h", 5400000 }, { "2m", 120000 }, { "7d", 604800000 },
    { "0.25", 250 }, { ".5s", 500 }, { "3.", 3000 },
  };
  size_t i;
  uint64_t ms;

  for (i = 0; i < G_N_ELEMENTS (good); i++) {
    g_assert_cmpint (duration_parse ("ratetier-decay", good[i].s, &ms), ==, 0);
    g_assert_cmpuint (ms, ==, good[i].ms);
  }
}

static void
test_bad (void)
{
  static const char *bad[] = {
    "", "s", "-1", "1 s", " 1", "1x", "1e3", "0x10", "inf", "nan", "1.2.3",
    "1hh", "99999999999999999999", "40000d",
  };
  size_t i;
  uint64_t ms;

  for (i = 0; i < G_N_ELEMENTS (bad); i++) {
    shim_clear_error ();
    if (duration_parse ("ratetier-forget-after", bad[i], &ms) != -1)
      g_error ("\"%s\" was accepted", bad[i]);
    g_assert_nonnull (strstr (shim_last_error (), "ratetier-forget-after"));
  }
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/common/duration/good", test_good);
  g_test_add_func ("/common/duration/bad", test_bad);
  return g_test_run ();
}
