/* Unit test: which export names the sandbag plugin accepts in dir= mode
 * (filters/common/exportname.h).  Each case names the rule it checks.
 */
#include <string.h>

#include <glib.h>

#include "exportname.h"

static void
assert_refused (const char *name, const char *expected_reason)
{
  const char *reason = NULL;

  g_assert_false (exportname_check (name, &reason));
  g_assert_cmpstr (reason, ==, expected_reason);
}

static void
test_accepted (void)
{
  static const char *const ok[] = {
    "debian-12.erofs", "a", "image with spaces", "x.y.z", "A_b-C~1",
    "caf\xc3\xa9.img",                        /* é, two bytes */
    "\xe6\x97\xa5\xe6\x9c\xac.img",           /* CJK, three bytes each */
    "\xf0\x9f\x98\x80",                       /* U+1F600, four bytes */
    "trailing.", "not.leading..dots",
  };
  size_t i;

  for (i = 0; i < G_N_ELEMENTS (ok); ++i)
    g_assert_true (exportname_check (ok[i], NULL));
}

static void
test_empty_and_dots (void)
{
  assert_refused ("", "empty name");
  assert_refused (".", "name begins with '.'");
  assert_refused ("..", "name begins with '.'");
  assert_refused (".hidden", "name begins with '.'");
  assert_refused (".img.description", "name begins with '.'");
}

static void
test_slash (void)
{
  assert_refused ("a/b", "name contains '/'");
  assert_refused ("/etc/passwd", "name contains '/'");
  assert_refused ("x/../../etc/passwd", "name contains '/'");
  assert_refused ("trailing/", "name contains '/'");
}

static void
test_control (void)
{
  char name[] = "a?b";
  int c;

  for (c = 1; c < 0x20; ++c) {
    name[1] = c;
    assert_refused (name, "name contains a control character");
  }
  assert_refused ("a\x7f", "name contains a control character");
  assert_refused ("a\xc2\x80", "name contains a control character");  /* C1 */
  assert_refused ("a\xc2\x9f", "name contains a control character");
  g_assert_true (exportname_check ("a\xc2\xa0", NULL));    /* U+00A0 */
  assert_refused ("\x1b[31mred", "name contains a control character");
}

static void
test_utf8 (void)
{
  assert_refused ("\xff", "name is not valid UTF-8");
  assert_refused ("a\x80", "name is not valid UTF-8");       /* lone cont. */
  assert_refused ("\xc3", "name is not valid UTF-8");        /* truncated */
  assert_refused ("\xe6\x97", "name is not valid UTF-8");
  assert_refused ("\xc0\xaf", "name is not valid UTF-8");    /* overlong / */
  assert_refused ("\xe0\x80\xaf", "name is not valid UTF-8");
  assert_refused ("\xed\xa0\x80", "name is not valid UTF-8");  /* surrogate */
  assert_refused ("\xf4\x90\x80\x80", "name is not valid UTF-8"); /* >10FFFF */
  assert_refused ("\xf8\x88\x80\x80\x80", "name is not valid UTF-8");
}

static void
test_length (void)
{
  char name[EXPORTNAME_MAX + 2];

  memset (name, 'x', EXPORTNAME_MAX);
  name[EXPORTNAME_MAX] = '\0';
  g_assert_true (exportname_check (name, NULL));
  name[EXPORTNAME_MAX] = 'x';
  name[EXPORTNAME_MAX + 1] = '\0';
  assert_refused (name, "name too long");

  /* A multi-byte character straddling the limit. */
  memset (name, 'x', EXPORTNAME_MAX - 1);
  name[EXPORTNAME_MAX - 1] = '\xc3';
  name[EXPORTNAME_MAX] = '\xa9';
  name[EXPORTNAME_MAX + 1] = '\0';
  assert_refused (name, "name too long");

  /* A 4 KiB name, as NBD allows. */
  {
    g_autofree char *big = g_strnfill (4096, 'a');
    assert_refused (big, "name too long");
  }
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/common/exportname/accepted", test_accepted);
  g_test_add_func ("/common/exportname/empty-and-dots", test_empty_and_dots);
  g_test_add_func ("/common/exportname/slash", test_slash);
  g_test_add_func ("/common/exportname/control", test_control);
  g_test_add_func ("/common/exportname/utf8", test_utf8);
  g_test_add_func ("/common/exportname/length", test_length);
  return g_test_run ();
}
