/* Unit test: parameter parsing shared by every component
 * (filters/common/config.c): ranges, choices, and the set-once rule
 * with its one message, "KEY given more than once".
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "nbdkit-shim.h"
#include "config.h"

/* Assert that the last call failed with a message containing WHAT. */
static void
assert_refused (int r, const char *what)
{
  g_assert_cmpint (r, ==, CONFIG_ERROR);
  if (strstr (shim_last_error (), what) == NULL)
    g_error ("expected an error mentioning \"%s\", got \"%s\"",
             what, shim_last_error ());
  shim_clear_error ();
}

static void
test_once (void)
{
  uint32_t v;

  config_reset ();
  g_assert_cmpint (config_u32 ("k-num", "5", 1, 10, &v), ==, CONFIG_OK);
  g_assert_cmpuint (v, ==, 5);
  assert_refused (config_u32 ("k-num", "6", 1, 10, &v),
                  "k-num given more than once");
  g_assert_cmpuint (v, ==, 5);
  /* Another key is independent; a reset forgets everything. */
  g_assert_cmpint (config_once ("k-other"), ==, CONFIG_OK);
  config_reset ();
  g_assert_cmpint (config_u32 ("k-num", "7", 1, 10, &v), ==, CONFIG_OK);
  g_assert_cmpuint (v, ==, 7);
  config_reset ();
}

static void
test_u32 (void)
{
  static const char *bad[] = { "0", "11", "-1", "x", "", "4294967296",
                               "99999999999999999999" };
  uint32_t v = 42;
  size_t i;

  for (i = 0; i < G_N_ELEMENTS (bad); i++) {
    config_reset ();
    g_assert_cmpint (config_u32 ("k-num", bad[i], 1, 10, &v), ==,
                     CONFIG_ERROR);
    g_assert_nonnull (strstr (shim_last_error (), "k-num"));
    g_assert_cmpuint (v, ==, 42);
  }
  config_reset ();
  g_assert_cmpint (config_u32 ("k-num", "4294967295", 0, UINT32_MAX, &v),
                   ==, CONFIG_OK);
  g_assert_cmpuint (v, ==, UINT32_MAX);
  config_reset ();
}

static void
test_size (void)
{
  int64_t v;

  config_reset ();
  g_assert_cmpint (config_size ("k-size", "4K", 1, 1 << 20, &v), ==,
                   CONFIG_OK);
  g_assert_cmpint (v, ==, 4096);
  config_reset ();
  assert_refused (config_size ("k-size", "2M", 1, 1 << 20, &v), "k-size");
  config_reset ();
  assert_refused (config_size ("k-size", "0", 1, 1 << 20, &v), "k-size");
  config_reset ();
}

static void
test_bool_choice (void)
{
  static const char *const modes[] = { "continuous", "batch", NULL };
  unsigned m = 9;
  bool b = false;

  config_reset ();
  g_assert_cmpint (config_bool ("k-bool", "yes", &b), ==, CONFIG_OK);
  g_assert_true (b);
  config_reset ();
  assert_refused (config_bool ("k-bool", "maybe", &b), "k-bool");
  g_assert_cmpint (config_choice ("k-mode", "batch", modes, &m), ==,
                   CONFIG_OK);
  g_assert_cmpuint (m, ==, 1);
  config_reset ();
  assert_refused (config_choice ("k-mode", "fast", modes, &m),
                  "expected continuous|batch, not \"fast\"");
  g_assert_cmpuint (m, ==, 1);
  config_reset ();
}

static void
test_duration_path (void)
{
  uint64_t ms = 0;
  char *p = NULL;

  config_reset ();
  g_assert_cmpint (config_duration ("k-time", "2s", 1000, 5000, &ms), ==,
                   CONFIG_OK);
  g_assert_cmpuint (ms, ==, 2000);
  config_reset ();
  assert_refused (config_duration ("k-time", "500ms", 1000, 5000, &ms),
                  "k-time");
  config_reset ();
  g_assert_cmpint (config_path ("k-path", "/x/y", &p), ==, CONFIG_OK);
  g_assert_cmpstr (p, ==, "/x/y");
  free (p);
  config_reset ();
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/common/config/once", test_once);
  g_test_add_func ("/common/config/u32", test_u32);
  g_test_add_func ("/common/config/size", test_size);
  g_test_add_func ("/common/config/bool-choice", test_bool_choice);
  g_test_add_func ("/common/config/duration-path", test_duration_path);
  return g_test_run ();
}
