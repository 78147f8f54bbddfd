/* Unit test: the sandbag export description format and the sanitising
 * of sidecar text (plugins/sandbag/describe.h).
 */
#include <string.h>

#include <glib.h>

#include "describe.h"

static void
assert_sanitized (const char *in, size_t len, const char *expected)
{
  g_autofree char *buf = g_malloc (len + 1);
  size_t n;

  memcpy (buf, in, len);
  n = describe_sanitize (buf, len);
  g_assert_cmpstr (buf, ==, expected);
  g_assert_cmpuint (n, ==, strlen (expected));
  g_assert_true (g_utf8_validate (buf, -1, NULL));
}

static void
test_sanitize (void)
{
  assert_sanitized ("", 0, "");
  assert_sanitized ("plain text", 10, "plain text");
  assert_sanitized ("  lead and trail \n", 18, "lead and trail");
  assert_sanitized ("two\nlines\r\n", 11, "two lines");
  assert_sanitized ("tab\there", 8, "tab here");
  assert_sanitized ("esc\x1b[2Jclear", 12, "esc [2Jclear");
  assert_sanitized ("nul\0inside", 10, "nul inside");
  assert_sanitized ("del\x7f", 4, "del");
  assert_sanitized ("c1\xc2\x85next", 8, "c1 next");
  assert_sanitized ("caf\xc3\xa9", 5, "caf\xc3\xa9");
  assert_sanitized ("bad\xff\xfe", 5, "bad??");
  assert_sanitized ("cut\xe6\x97", 5, "cut??");        /* truncated seq */
  assert_sanitized ("over\xc0\xaf", 6, "over??");      /* overlong */
  assert_sanitized ("\n\n\n", 3, "");
}

static void
test_format (void)
{
  char buf[DESCRIBE_SIZE (64)];

  describe_format (buf, sizeof buf, 52428800, 1795530600, NULL);
  g_assert_cmpstr (buf, ==, "52428800 bytes, modified 2026-11-24T14:30:00Z");
  describe_format (buf, sizeof buf, 52428800, 1795530600, "");
  g_assert_cmpstr (buf, ==, "52428800 bytes, modified 2026-11-24T14:30:00Z");
  describe_format (buf, sizeof buf, 0, 0, "Debian 12; erofs");
  g_assert_cmpstr (buf, ==,
                   "0 bytes, modified 1970-01-01T00:00:00Z; Debian 12; erofs");
  describe_format (buf, sizeof buf, UINT64_MAX, 0, NULL);
  g_assert_cmpstr (buf, ==,
                   "18446744073709551615 bytes, modified 1970-01-01T00:00:00Z");
}

static void
test_format_longest (void)
{
  g_autofree char *text = g_strnfill (256, 'x');
  char buf[DESCRIBE_SIZE (256)];

  describe_format (buf, sizeof buf, UINT64_MAX, 253402300799, text);
  g_assert_true (g_str_has_prefix (buf, "18446744073709551615 bytes, "
                                   "modified 9999-12-31T23:59:59Z; xxx"));
  g_assert_cmpuint (strlen (buf), ==,
                    strlen ("18446744073709551615 bytes, modified "
                            "9999-12-31T23:59:59Z; ") + 256);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/sandbag/describe/sanitize", test_sanitize);
  g_test_add_func ("/sandbag/describe/format", test_format);
  g_test_add_func ("/sandbag/describe/format-longest", test_format_longest);
  return g_test_run ();
}
