/* Unit test: the small parsers and encoders of the heatmap filter:
 * export name to map file name (export-name.h) and image version
 * identities (identity.h).
 */
#include <string.h>

#include <glib.h>

#include "export-name.h"
#include "identity.h"
#include "nbdkit-shim.h"

static void
check_basename (const char *name, const char *want)
{
  g_autofree char *got = hm_map_basename (name);

  g_assert_cmpstr (got, ==, want);
}

static void
test_names_plain (void)
{
  check_basename ("debian-12.img", "debian-12.img.heatmap");
  check_basename ("a_b", "a_b.heatmap");
  check_basename ("", "=default.heatmap");
}

static void
test_names_hostile (void)
{
  check_basename ("../../etc/passwd", "%2E.%2F..%2Fetc%2Fpasswd.heatmap");
  check_basename (".", "%2E.heatmap");
  check_basename ("..", "%2E..heatmap");
  check_basename ("a b\n", "a%20b%0A.heatmap");
  check_basename ("=default", "%3Ddefault.heatmap");
  check_basename ("caf\xc3\xa9", "caf%C3%A9.heatmap");
  check_basename ("~x%", "%7Ex%25.heatmap");
}

static void
test_names_long (void)
{
  g_autofree char *a = g_strnfill (4096, 'a');
  g_autofree char *b = g_strnfill (4096, 'a');
  g_autofree char *slashes = g_strnfill (4096, '/');
  g_autofree char *ea = NULL, *eb = NULL, *es = NULL;

  b[4095] = 'b';
  ea = hm_map_basename (a);
  eb = hm_map_basename (b);
  es = hm_map_basename (slashes);
  g_assert_cmpuint (strlen (ea), <=, HM_MAX_BASENAME);
  g_assert_cmpuint (strlen (es), <=, HM_MAX_BASENAME);
  g_assert_cmpstr (ea, !=, eb);
  g_assert_nonnull (strchr (ea, '~'));
  g_assert_null (strchr (es, '/'));
  g_assert_true (g_str_has_suffix (es, ".heatmap"));
  /* The cut never leaves half an escape before '~'. */
  g_assert_null (strstr (es, "%~"));
  g_assert_null (g_strrstr (es, "%2~"));
}

/* Every byte value, alone or after a letter, gives a safe name. */
static void
test_names_every_byte (void)
{
  int c;

  for (c = 1; c < 256; c++) {
    char name[3] = { (char) c, 0, 0 };
    char name2[3] = { 'x', (char) c, 0 };
    g_autofree char *e = hm_map_basename (name);
    g_autofree char *e2 = hm_map_basename (name2);

    g_assert_null (strchr (e, '/'));
    g_assert_null (strchr (e2, '/'));
    g_assert_cmpint (e[0], !=, '.');
  }
}

static void
test_identity (void)
{
  uint8_t d1[HM_IDENTITY_LEN], d2[HM_IDENTITY_LEN];
  char t1[HM_TEXT_LEN], t2[HM_TEXT_LEN];
  g_autofree char *longdesc = g_strnfill (1000, 'x');

  hm_identity_compute (10, "d", "ab", 2, "cd", 2, d1, t1);
  hm_identity_compute (10, "d", "ab", 2, "cd", 2, d2, t2);
  g_assert_cmpmem (d1, sizeof d1, d2, sizeof d2);
  g_assert_cmpstr (t1, ==, "size=10 desc=d");

  /* Each input matters, and boundaries between them too. */
  hm_identity_compute (11, "d", "ab", 2, "cd", 2, d2, t2);
  g_assert_true (memcmp (d1, d2, sizeof d1) != 0);
  hm_identity_compute (10, NULL, "ab", 2, "cd", 2, d2, t2);
  g_assert_true (memcmp (d1, d2, sizeof d1) != 0);
  g_assert_cmpstr (t2, ==, "size=10 desc=(none)");
  hm_identity_compute (10, "", "ab", 2, "cd", 2, d2, t2);
  g_assert_true (memcmp (d1, d2, sizeof d1) != 0);
  hm_identity_compute (10, "d", "abc", 3, "d", 1, d2, t2);
  g_assert_true (memcmp (d1, d2, sizeof d1) != 0);
  hm_identity_compute (10, "d", "ab", 2, "ce", 2, d2, t2);
  g_assert_true (memcmp (d1, d2, sizeof d1) != 0);

  hm_identity_compute (10, longdesc, "", 0, "", 0, d2, t2);
  g_assert_cmpuint (strlen (t2), ==, HM_TEXT_LEN - 1);
  hm_identity_compute (10, "a\tb", "", 0, "", 0, d2, t2);
  g_assert_cmpstr (t2, ==, "size=10 desc=a?b");
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/heatmap/names/plain", test_names_plain);
  g_test_add_func ("/heatmap/names/hostile", test_names_hostile);
  g_test_add_func ("/heatmap/names/long", test_names_long);
  g_test_add_func ("/heatmap/names/every-byte", test_names_every_byte);
  g_test_add_func ("/heatmap/identity", test_identity);
  return g_test_run ();
}
