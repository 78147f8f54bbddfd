/* Unit test: the names of heat map files moved out of the way
 * (filters/heatmap/map-aside.h), which users see: PATH.CREATED-ID for
 * a map of another version, PATH.STATUS-NOW for a file that is not a
 * valid map, ".1" when the name is taken, and the file itself kept.
 */
#include <string.h>
#include <time.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "clock.h"
#include "map-aside.h"

static char *dir;

static char *
path_of (const char *name)
{
  return g_build_filename (dir, name, NULL);
}

/* Write CONTENT as PATH. */
static void
put (const char *path, const char *content)
{
  g_assert_true (g_file_set_contents (path, content, -1, NULL));
}

/* PATH holds CONTENT. */
static void
assert_holds (const char *path, const char *content)
{
  g_autofree char *got = NULL;

  g_assert_true (g_file_get_contents (path, &got, NULL, NULL));
  g_assert_cmpstr (got, ==, content);
}

static void
test_other_version (void)
{
  g_autofree char *p = path_of ("v.heatmap");
  g_autofree char *want = path_of ("v.heatmap.20231114T221320Z-aabb01000000");
  g_autofree char *want1 = g_strconcat (want, ".1", NULL);
  g_autoptr (GError) err = NULL;
  struct hm_header h = {
    .created_us = UINT64_C(1700000000123456),  /* 2023-11-14T22:13:20Z */
    .identity = { 0xaa, 0xbb, 0x01, 0, 0, 0, 0xff },
  };
  g_autofree char *to = NULL, *to1 = NULL;

  put (p, "old");
  to = hm_aside_other_version (p, &h, &err);
  g_assert_no_error (err);
  g_assert_cmpstr (to, ==, want);
  g_assert_false (g_file_test (p, G_FILE_TEST_EXISTS));
  assert_holds (to, "old");
  /* The name is taken: the next one gets ".1", the first is kept. */
  put (p, "older");
  to1 = hm_aside_other_version (p, &h, &err);
  g_assert_cmpstr (to1, ==, want1);
  assert_holds (to, "old");
  assert_holds (to1, "older");
}

/* The current time as in the names, from the clock they are made from
 * (CLOCK_REALTIME, clock_real_us): time (NULL) reads a coarser clock
 * that can lag it by a tick, so near the turn of a second the name
 * could be a second later than "after".
 */
static void
now_text (char out[17])
{
  time_t t = clock_real_us () / 1000000;
  struct tm tm;

  gmtime_r (&t, &tm);
  strftime (out, 17, "%Y%m%dT%H%M%SZ", &tm);
}

static void
test_invalid (void)
{
  g_autofree char *p = path_of ("bad.heatmap");
  g_autofree char *prefix = path_of ("bad.heatmap.corrupt-");
  g_autoptr (GError) err = NULL;
  g_autofree char *to = NULL;
  char before[17], after[17];
  const char *when;

  put (p, "garbage");
  now_text (before);
  to = hm_aside_invalid (p, HM_CORRUPT, &err);
  now_text (after);
  g_assert_no_error (err);
  g_assert_true (g_str_has_prefix (to, prefix));
  when = to + strlen (prefix);
  g_assert_cmpuint (strlen (when), ==, 16);
  g_assert_cmpstr (when, >=, before);
  g_assert_cmpstr (when, <=, after);
  assert_holds (to, "garbage");
  g_assert_false (g_file_test (p, G_FILE_TEST_EXISTS));
}

static void
test_missing (void)
{
  g_autofree char *p = path_of ("none.heatmap");
  g_autoptr (GError) err = NULL;

  g_assert_null (hm_aside_invalid (p, HM_FOREIGN, &err));
  g_assert_error (err, G_FILE_ERROR, G_FILE_ERROR_NOENT);
}

int
main (int argc, char *argv[])
{
  int r;

  g_test_init (&argc, &argv, NULL);
  dir = g_dir_make_tmp ("unit-heatmap-aside.XXXXXX", NULL);
  g_assert_nonnull (dir);
  g_test_add_func ("/heatmap/aside/other-version", test_other_version);
  g_test_add_func ("/heatmap/aside/invalid", test_invalid);
  g_test_add_func ("/heatmap/aside/missing", test_missing);
  r = g_test_run ();
  if (r == 0) {
    g_autofree char *cmd = g_strdup_printf ("rm -rf '%s'", dir);
    g_assert_cmpint (system (cmd), ==, 0);
  }
  return r;
}
