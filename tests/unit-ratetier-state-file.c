/* Unit test: the ratetier state file (filters/ratetier/state-file.c).
 *
 * Round trip; every kind of damage refused before any record is
 * handed out; files: missing means empty, corrupt or larger than the
 * table allows is moved aside.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "nbdkit-shim.h"
#include "../filters/ratetier/state-file.h"

static const struct state_header hdr = {
  .block_size = 4096, .ipv4_prefix = 24, .ipv6_prefix = 64,
  .saved_at = 1700000000,
};

static struct state_record recs[3];

static void
make_records (void)
{
  memset (recs, 0, sizeof recs);
  recs[0].key.kind = CLIENT_KEY_IPV4;
  recs[0].key.prefix = 24;
  recs[0].key.u.bytes[0] = 192;
  recs[0].key.u.bytes[2] = 2;
  recs[0].delivered = 12345;
  recs[0].idle = 60;
  recs[1].key.kind = CLIENT_KEY_IPV6;
  recs[1].key.prefix = 64;
  recs[1].key.u.bytes[0] = 0x20;
  recs[1].key.u.bytes[1] = 0x01;
  recs[1].key.u.bytes[7] = 0x42;
  recs[1].delivered = UINT64_MAX;
  recs[2].key.kind = CLIENT_KEY_UID;
  recs[2].key.u.id = 1000;
  recs[2].delivered = 1;
  recs[2].idle = 7;
}

struct collected {
  GArray *recs;
};

static void
collect (void *opaque, const struct state_header *h,
         const struct state_record *r)
{
  g_assert_cmpint (h->saved_at, ==, hdr.saved_at);
  g_array_append_val (((struct collected *) opaque)->recs, *r);
}

static int
decode (GByteArray *b, const struct state_header *expect, GArray **out,
        const char **why)
{
  struct collected c = { g_array_new (FALSE, FALSE,
                                      sizeof (struct state_record)) };
  struct state_header h;
  int r = state_decode (b->data, b->len, expect, &h, collect, &c, why);

  if (r == 0) {
    g_assert_cmpuint (h.count, ==, c.recs->len);
    g_assert_cmpint (h.saved_at, ==, hdr.saved_at);
  }
  else
    g_assert_cmpuint (c.recs->len, ==, 0);   /* nothing handed out */
  *out = c.recs;
  return r;
}

static void
test_round_trip (void)
{
  GByteArray *b = state_encode (&hdr, recs, 3);
  GArray *got;
  const char *why;

  g_assert_cmpuint (b->len, ==, STATE_HEADER_SIZE + 3 * STATE_RECORD_SIZE
                    + STATE_TRAILER_SIZE);
  g_assert_cmpint (decode (b, &hdr, &got, &why), ==, 0);
  g_assert_cmpuint (got->len, ==, 3);
  g_assert_cmpmem (got->data, 3 * sizeof recs[0], recs, sizeof recs);
  g_array_free (got, TRUE);
  g_byte_array_unref (b);

  b = state_encode (&hdr, NULL, 0);     /* empty is valid */
  g_assert_cmpint (decode (b, &hdr, &got, &why), ==, 0);
  g_array_free (got, TRUE);
  g_byte_array_unref (b);
}

/* Flip every byte in turn: each damaged file must be refused. */
static void
test_every_byte (void)
{
  GByteArray *b = state_encode (&hdr, recs, 3);
  GArray *got;
  const char *why;
  guint i;

  for (i = 0; i < b->len; i++) {
    b->data[i] ^= 0x41;
    if (decode (b, &hdr, &got, &why) == 0)
      g_error ("byte %u flipped was accepted", i);
    g_array_free (got, TRUE);
    b->data[i] ^= 0x41;
  }
  g_byte_array_unref (b);
}

static void
test_truncated (void)
{
  GByteArray *b = state_encode (&hdr, recs, 3);
  GArray *got;
  const char *why;
  guint len = b->len, i;

  for (i = 0; i < len; i++) {
    g_byte_array_set_size (b, i);
    g_assert_cmpint (decode (b, &hdr, &got, &why), ==, -1);
    g_array_free (got, TRUE);
  }
  g_byte_array_unref (b);
}

/* A file with a valid checksum but bad contents (as if written by a
 * buggy or hostile program) is refused too.
 */
static void
test_invalid_keys (void)
{
  struct state_record bad[1];
  GByteArray *b;
  GArray *got;
  const char *why;
  int i;

  for (i = 0; i < 5; i++) {
    bad[0] = recs[0];
    switch (i) {
    case 0: bad[0].key.u.bytes[3] = 1; break;         /* past the /24 */
    case 1: bad[0].key.pad[2] = 1; break;
    case 2: bad[0].key.kind = CLIENT_KEY_CONNECTION; break;
    case 3: bad[0].key.kind = 99; break;
    case 4: bad[0].key.prefix = 32; break;            /* header says 24 */
    }
    b = state_encode (&hdr, bad, 1);
    g_assert_cmpint (decode (b, &hdr, &got, &why), ==, -1);
    g_assert_nonnull (strstr (why, "key"));
    g_array_free (got, TRUE);
    g_byte_array_unref (b);
  }
}

static void
test_incompatible (void)
{
  struct state_header other = hdr;
  GByteArray *b = state_encode (&hdr, recs, 3);
  GArray *got;
  const char *why;

  other.block_size = 512;
  g_assert_cmpint (decode (b, &other, &got, &why), ==, -1);
  g_assert_nonnull (strstr (why, "ratetier-block-size"));
  g_array_free (got, TRUE);
  other = hdr;
  other.ipv6_prefix = 48;
  g_assert_cmpint (decode (b, &other, &got, &why), ==, -1);
  g_array_free (got, TRUE);
  g_byte_array_unref (b);
}

static void
test_files (void)
{
  g_autofree char *dir = g_dir_make_tmp ("ratetier-state-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "state", NULL);
  struct collected c = { g_array_new (FALSE, FALSE,
                                      sizeof (struct state_record)) };
  g_autoptr (GDir) d = NULL;
  const char *name;
  int aside = 0;

  /* Missing: empty, no error. */
  shim_clear_error ();
  g_assert_cmpint (state_file_load (path, &hdr, 3, collect, &c), ==, 0);
  g_assert_cmpuint (c.recs->len, ==, 0);
  g_assert_cmpstr (shim_last_error (), ==, "");

  /* Saved, then loaded. */
  g_assert_cmpint (state_file_save (path, &hdr, recs, 3), ==, 0);
  g_assert_cmpint (state_file_load (path, &hdr, 3, collect, &c), ==, 0);
  g_assert_cmpuint (c.recs->len, ==, 3);
  g_array_set_size (c.recs, 0);

  /* Larger than 2 records: moved aside unread, nothing loaded. */
  shim_clear_error ();
  g_assert_cmpint (state_file_load (path, &hdr, 2, collect, &c), ==, 0);
  g_assert_cmpuint (c.recs->len, ==, 0);
  g_assert_nonnull (strstr (shim_last_error (), "larger than 144 bytes"));
  g_assert_nonnull (strstr (shim_last_error (), "moved it aside"));
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));

  /* Corrupt: moved aside with a message, nothing loaded. */
  g_assert_true (g_file_set_contents (path, "garbage\n", -1, NULL));
  shim_clear_error ();
  g_assert_cmpint (state_file_load (path, &hdr, 3, collect, &c), ==, 0);
  g_assert_cmpuint (c.recs->len, ==, 0);
  g_assert_nonnull (strstr (shim_last_error (), "moved it aside"));
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
  d = g_dir_open (dir, 0, NULL);
  while ((name = g_dir_read_name (d)) != NULL) {
    g_autofree char *p = g_build_filename (dir, name, NULL);
    if (g_str_has_prefix (name, "state.bad-"))
      aside++;
    g_unlink (p);
  }
  g_assert_cmpint (aside, ==, 2);
  g_rmdir (dir);
  g_array_free (c.recs, TRUE);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  make_records ();
  g_test_add_func ("/ratetier/state-file/round-trip", test_round_trip);
  g_test_add_func ("/ratetier/state-file/every-byte", test_every_byte);
  g_test_add_func ("/ratetier/state-file/truncated", test_truncated);
  g_test_add_func ("/ratetier/state-file/invalid-keys", test_invalid_keys);
  g_test_add_func ("/ratetier/state-file/incompatible", test_incompatible);
  g_test_add_func ("/ratetier/state-file/files", test_files);
  return g_test_run ();
}
