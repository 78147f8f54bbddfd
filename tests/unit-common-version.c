/* Unit test: pinned version names and metadata (filters/common/
 * version.c): the exact grammar, every truncation and every flipped
 * byte of a valid file refused or parsed into checked values, and
 * format/parse round trips.
 */
#include <stdint.h>
#include <string.h>

#include <glib.h>

#include "version.h"

#define SHA "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static const char good[] =
  "sandbag-version 1\n"
  "name debian-12\n"
  "version 20261129T153000Z\n"
  "size 770048\n"
  "sha256 " SHA "\n"
  "published 1795966200\n";

static void
test_labels (void)
{
  static const char *ok[] = { "1", "20261129T153000Z", "6.1.190-1",
                              "v2+deb12u1~rc1", "a_b" };
  static const char *bad[] = { "", ".hidden", "-x", "a/b", "a@b", "a b",
                               "ä", "x\n",
    "12345678901234567890123456789012345678901234567890123456789012345" };
  const char *reason;
  size_t i;

  for (i = 0; i < G_N_ELEMENTS (ok); i++)
    g_assert_true (version_label_check (ok[i], &reason));
  for (i = 0; i < G_N_ELEMENTS (bad); i++) {
    reason = NULL;
    if (version_label_check (bad[i], &reason))
      g_error ("label \"%s\" accepted", bad[i]);
    g_assert_nonnull (reason);
  }
}

static void
test_split (void)
{
  const char *reason;
  size_t n;

  g_assert_true (version_split ("debian@v1", &n, &reason));
  g_assert_cmpuint (n, ==, 6);
  g_assert_false (version_split ("debian", &n, &reason));
  g_assert_false (version_split ("@v1", &n, &reason));
  g_assert_false (version_split ("a@b@c", &n, &reason));
  g_assert_false (version_split ("a@", &n, &reason));
  g_assert_false (version_split ("a,b@1", &n, &reason));
  g_assert_cmpstr (reason, ==, "',' in a versioned name");
}

static void
test_parse_good (void)
{
  struct version_meta m;
  const char *reason = NULL;
  g_autofree char *again = NULL;

  g_assert_true (version_meta_parse (good, strlen (good), &m, &reason));
  g_assert_cmpstr (m.name, ==, "debian-12");
  g_assert_cmpstr (m.version, ==, "20261129T153000Z");
  g_assert_cmpuint (m.size, ==, 770048);
  g_assert_cmpint (m.published, ==, 1795966200);
  again = version_meta_format (&m);
  g_assert_cmpstr (again, ==, good);
}

static void
test_parse_bad (void)
{
  static const char *bad[] = {
    "",
    "sandbag-version 2\n",
    "sandbag-version 1\nname x@y\n",
    "sandbag-version 1\nname .x\n",
    "sandbag-version 1\nname a/b\n",
    "sandbag-version 1\nname Wi, debian\nversion 1\nsize 1\nsha256 " SHA
    "\npublished 1\n",
    "sandbag-version 1\nname a\nversion -1\n",
    "sandbag-version 1\nname a\nversion 1\nsize 01\n",
    "sandbag-version 1\nname a\nversion 1\nsize -1\n",
    "sandbag-version 1\nname a\nversion 1\nsize 9223372036854775808\n",
    "sandbag-version 1\nname a\nversion 1\nsize 1\nsha256 00\n",
    "sandbag-version 1\nname a\nversion 1\nsize 1\nsha256 "
    "0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef\n",
  };
  struct version_meta m;
  const char *reason;
  size_t i;

  for (i = 0; i < G_N_ELEMENTS (bad); i++) {
    reason = NULL;
    if (version_meta_parse (bad[i], strlen (bad[i]), &m, &reason))
      g_error ("bad metadata %zu accepted", i);
    g_assert_nonnull (reason);
  }
}

/* Every proper prefix is refused; every single-byte change is refused
 * or parses into values that pass their own checks. */
static void
test_mutations (void)
{
  size_t len = strlen (good), i;
  struct version_meta m;
  const char *reason;
  char buf[sizeof good];

  for (i = 0; i < len; i++)
    g_assert_false (version_meta_parse (good, i, &m, &reason));
  for (i = 0; i < len; i++) {
    unsigned bit;

    for (bit = 0; bit < 8; bit++) {
      memcpy (buf, good, sizeof good);
      buf[i] ^= 1 << bit;
      if (version_meta_parse (buf, len, &m, &reason)) {
        g_assert_true (version_label_check (m.version, NULL));
        g_assert_null (strchr (m.name, '@'));
        g_assert_cmpuint (strlen (m.sha256), ==, 64);
      }
    }
  }
  /* Trailing text, or a NUL inside a value, is refused. */
  g_assert_false (version_meta_parse ("sandbag-version 1\nname a\0b\n",
                                      26, &m, &reason));
  {
    g_autofree char *longer = g_strconcat (good, "x\n", NULL);

    g_assert_false (version_meta_parse (longer, strlen (longer), &m,
                                        &reason));
    g_assert_cmpstr (reason, ==, "unexpected text after the published line");
  }
}

static void
test_description (void)
{
  static const char *bad[] = {
    "",
    "300 bytes, modified 2026-11-29T15:30:00Z",
    "vol@1 300 bytes",
    "vol@1, -3 bytes, published x, sha256 " SHA,
    "vol@1, 300 bytes, published x, sha256 " SHA "0",
    "vol@1, 300 bytes, published x, sha256 " SHA "x",
    "vol@1, 300 bytes, published x, sha256 0123",
    "vol@1, 300 bytes, modified x, sha256 " SHA,
    "vol, 300 bytes, published x, sha256 " SHA,
    "@1, 300 bytes, published x, sha256 " SHA,
    "vol@1, 99999999999999999999 bytes, published x, sha256 " SHA,
  };
  struct version_meta m;
  struct version_ident id;
  const char *reason;
  g_autofree char *desc = NULL, *with_text = NULL;
  size_t i;

  g_assert_true (version_meta_parse (good, strlen (good), &m, &reason));
  desc = version_describe (&m);
  g_assert_cmpstr (desc, ==, "debian-12@20261129T153000Z, 770048 bytes, "
                   "published 2026-11-29T15:30:00Z, sha256 " SHA);
  g_assert_true (version_description_parse (desc, &id, &reason));
  g_assert_cmpstr (id.pinned, ==, "debian-12@20261129T153000Z");
  g_assert_cmpuint (id.size, ==, 770048);
  g_assert_cmpstr (id.sha256, ==, SHA);
  with_text = g_strconcat (desc, "; Debian 12, sha256 "
                           "ffffffffffffffffffffffffffffffffffffffffffffff"
                           "ffffffffffffffffff", NULL);
  g_assert_true (version_description_parse (with_text, &id, &reason));
  g_assert_cmpstr (id.sha256, ==, SHA);
  for (i = 0; i < G_N_ELEMENTS (bad); i++) {
    reason = NULL;
    if (version_description_parse (bad[i], &id, &reason))
      g_error ("description %zu accepted: %s", i, bad[i]);
    g_assert_nonnull (reason);
  }
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/common/version/labels", test_labels);
  g_test_add_func ("/common/version/split", test_split);
  g_test_add_func ("/common/version/parse-good", test_parse_good);
  g_test_add_func ("/common/version/parse-bad", test_parse_bad);
  g_test_add_func ("/common/version/mutations", test_mutations);
  g_test_add_func ("/common/version/description", test_description);
  return g_test_run ();
}
