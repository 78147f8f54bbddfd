/* Unit test: the heat map file format (filters/common/heatmap-format.h):
 * a header round-trips, and hm_validate refuses each kind of bad file
 * with the right status while accepting any mixture of record values a
 * crash could leave.
 */
#include <string.h>

#include <glib.h>

#include "heatmap-format.h"

static const uint8_t id[HM_IDENTITY_LEN] = { 1, 2, 3, 4, 5 };

/* A valid map of an image of IMAGE_SIZE bytes in 64 KiB heat blocks. */
static uint8_t *
make_map (uint64_t image_size, size_t *len)
{
  struct hm_header h;
  uint8_t *buf;

  g_assert_cmpint (hm_header_init (&h, 16, image_size,
                                   UINT64_C(1700000000000000), id,
                                   "size=1 desc=x", "export"), ==, 0);
  *len = hm_file_size (h.nr_heat_blocks);
  buf = g_malloc0 (*len);
  hm_header_encode (&h, buf);
  return buf;
}

/* Re-checksum a header after a test changed a field. */
static void
reseal (uint8_t *buf)
{
  memset (buf + 596, 0, 4);
  uint32_t crc = hm_crc32 (0, buf, HM_HEADER_SIZE);
  memcpy (buf + 596, &crc, 4);
}

static void
test_crc (void)
{
  /* The standard check value of CRC-32/IEEE. */
  g_assert_cmphex (hm_crc32 (0, "123456789", 9), ==, 0xcbf43926);
  g_assert_cmphex (hm_crc32 (hm_crc32 (0, "1234", 4), "56789", 5), ==,
                   0xcbf43926);
}

static void
test_nr_blocks (void)
{
  g_assert_cmpuint (hm_nr_heat_blocks (1, 12), ==, 1);
  g_assert_cmpuint (hm_nr_heat_blocks (4096, 12), ==, 1);
  g_assert_cmpuint (hm_nr_heat_blocks (4097, 12), ==, 2);
  g_assert_cmpuint (hm_nr_heat_blocks (UINT64_C(1) << 40, 20), ==, 1 << 20);
  /* 1 TiB in 1 MiB heat blocks: 32 MiB of records plus the header. */
  g_assert_cmpuint (hm_file_size (1 << 20), ==, 4096 + (32 << 20));
  g_assert_cmpuint (hm_file_size (UINT64_MAX / 16), ==, 0);
}

static void
test_roundtrip (void)
{
  struct hm_header h;
  size_t len;
  g_autofree uint8_t *buf = make_map (1000000, &len);
  char why[200];

  g_assert_cmpint (hm_validate (buf, len, &h, why, sizeof why), ==, HM_OK);
  g_assert_cmpuint (h.version, ==, HM_VERSION);
  g_assert_cmpuint (h.heat_block_shift, ==, 16);
  g_assert_cmpuint (h.image_size, ==, 1000000);
  g_assert_cmpuint (h.nr_heat_blocks, ==, 16);
  g_assert_cmpuint (h.created_us, ==, UINT64_C(1700000000000000));
  g_assert_cmpmem (h.identity, HM_IDENTITY_LEN, id, HM_IDENTITY_LEN);
  g_assert_cmpstr (h.identity_text, ==, "size=1 desc=x");
  g_assert_cmpstr (h.label, ==, "export");
}

static void
test_init_refuses (void)
{
  struct hm_header h;

  g_assert_cmpint (hm_header_init (&h, 11, 4096, 1, id, "", ""), ==, -1);
  g_assert_cmpint (hm_header_init (&h, 31, 4096, 1, id, "", ""), ==, -1);
  g_assert_cmpint (hm_header_init (&h, 12, 0, 1, id, "", ""), ==, -1);
  g_assert_cmpint (hm_header_init (&h, 12, UINT64_MAX, 1, id, "", ""),
                   ==, -1);
}

static void
test_init_sanitises (void)
{
  struct hm_header h;
  g_autofree char *longtext = g_strnfill (1000, 'a');

  g_assert_cmpint (hm_header_init (&h, 12, 4096, 1, id, "a\nb\x80",
                                   longtext), ==, 0);
  g_assert_cmpstr (h.identity_text, ==, "a?b?");
  g_assert_cmpuint (strlen (h.label), ==, HM_TEXT_LEN - 1);
}

static void
expect (const uint8_t *buf, size_t len, enum hm_status want,
        const char *why_part)
{
  char why[200] = "";

  g_assert_cmpstr (hm_status_name (hm_validate (buf, len, NULL, why,
                                                sizeof why)), ==,
                   hm_status_name (want));
  g_assert_nonnull (strstr (why, why_part));
}

static void
test_foreign (void)
{
  size_t len;
  g_autofree uint8_t *buf = make_map (4096, &len);

  expect ((const uint8_t *) "hello, world\n", 13, HM_FOREIGN, "magic");
  expect ((const uint8_t *) "", 0, HM_TRUNCATED, "shorter");
  buf[0] = 'X';
  expect (buf, len, HM_FOREIGN, "magic");
}

static void
test_truncated (void)
{
  size_t len;
  g_autofree uint8_t *buf = make_map (1 << 20, &len);

  expect (buf, 4, HM_TRUNCATED, "shorter than the magic");
  expect (buf, 100, HM_TRUNCATED, "shorter than the 4096-byte header");
  expect (buf, HM_HEADER_SIZE, HM_TRUNCATED, "the header says");
  expect (buf, len - 1, HM_TRUNCATED, "the header says");
}

static void
test_longer (void)
{
  size_t len;
  g_autofree uint8_t *buf = make_map (4096, &len);
  g_autofree uint8_t *big = g_malloc0 (len + 32);

  memcpy (big, buf, len);
  expect (big, len + 32, HM_CORRUPT, "longer than");
}

static void
test_version (void)
{
  size_t len;
  g_autofree uint8_t *buf = make_map (4096, &len);

  buf[8] = 2;
  reseal (buf);
  expect (buf, len, HM_UNSUPPORTED, "version 2");
}

static void
test_checksum (void)
{
  size_t len;
  g_autofree uint8_t *buf = make_map (4096, &len);

  buf[100] ^= 1;
  expect (buf, len, HM_CORRUPT, "checksum");
  buf[100] ^= 1;
  buf[4000] = 1;                /* reserved bytes are covered too */
  expect (buf, len, HM_CORRUPT, "checksum");
}

static void
test_fields (void)
{
  size_t len;
  g_autofree uint8_t *buf = make_map (1 << 20, &len);
  g_autofree uint8_t *orig = g_memdup2 (buf, len);
  uint64_t v;

  buf[20] = 11;                 /* heat block shift below 4 KiB */
  reseal (buf);
  expect (buf, len, HM_CORRUPT, "out of range");

  memcpy (buf, orig, len);
  buf[20] = 40;                 /* above 1 GiB */
  reseal (buf);
  expect (buf, len, HM_CORRUPT, "out of range");

  memcpy (buf, orig, len);
  v = 17;                       /* records do not match the image */
  memcpy (buf + 32, &v, 8);
  reseal (buf);
  expect (buf, len, HM_CORRUPT, "do not match");

  memcpy (buf, orig, len);
  v = 0;                        /* empty image */
  memcpy (buf + 24, &v, 8);
  reseal (buf);
  expect (buf, len, HM_CORRUPT, "image size");

  memcpy (buf, orig, len);
  v = UINT64_MAX;               /* image size that overflows */
  memcpy (buf + 24, &v, 8);
  reseal (buf);
  expect (buf, len, HM_CORRUPT, "image size");

  memcpy (buf, orig, len);
  buf[13] = 0;                  /* header size */
  reseal (buf);
  expect (buf, len, HM_CORRUPT, "header size");

  memcpy (buf, orig, len);
  buf[80] = '\n';               /* identity text not printable */
  reseal (buf);
  expect (buf, len, HM_CORRUPT, "printable");

  memcpy (buf, orig, len);
  memset (buf + 336, 'a', HM_TEXT_LEN);   /* label not terminated */
  reseal (buf);
  expect (buf, len, HM_CORRUPT, "printable");

  memcpy (buf, orig, len);
  buf[592] = 1;                 /* unknown flag */
  reseal (buf);
  expect (buf, len, HM_CORRUPT, "flags");

  memcpy (buf, orig, len);
  buf[700] = 1;                 /* reserved */
  reseal (buf);
  expect (buf, len, HM_CORRUPT, "reserved");
}

/* A crash may leave any mixture of old and new field values: a count
 * without bytes or times, times without a count.  All must load. */
static void
test_partial_records_load (void)
{
  size_t len;
  g_autofree uint8_t *buf = make_map (1 << 20, &len);
  struct hm_record r[4] = {
    { .count = 1 },
    { .bytes = 4096 },
    { .first_us = 1700000000000000 },
    { .count = 3, .last_us = 1700000000000000 },
  };

  memcpy (buf + HM_HEADER_SIZE, r, sizeof r);
  g_assert_cmpint (hm_validate (buf, len, NULL, NULL, 0), ==, HM_OK);
}

static void
test_garbage_record (void)
{
  size_t len;
  g_autofree uint8_t *buf = make_map (1 << 20, &len);
  struct hm_record r = { .count = 1, .last_us = UINT64_MAX };

  memcpy (buf + HM_HEADER_SIZE + 5 * HM_RECORD_SIZE, &r, sizeof r);
  expect (buf, len, HM_CORRUPT, "record 5");
}

static void
test_unaligned (void)
{
  size_t len;
  g_autofree uint8_t *buf = make_map (1 << 20, &len);
  g_autofree uint8_t *odd = g_malloc (len + 1);

  memcpy (odd + 1, buf, len);
  g_assert_cmpint (hm_validate (odd + 1, len, NULL, NULL, 0), ==, HM_OK);
}

static void
test_identity_hex (void)
{
  char out[13];

  hm_identity_hex (id, 6, out);
  g_assert_cmpstr (out, ==, "010203040500");
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/heatmap/format/crc", test_crc);
  g_test_add_func ("/heatmap/format/nr-blocks", test_nr_blocks);
  g_test_add_func ("/heatmap/format/roundtrip", test_roundtrip);
  g_test_add_func ("/heatmap/format/init-refuses", test_init_refuses);
  g_test_add_func ("/heatmap/format/init-sanitises", test_init_sanitises);
  g_test_add_func ("/heatmap/format/foreign", test_foreign);
  g_test_add_func ("/heatmap/format/truncated", test_truncated);
  g_test_add_func ("/heatmap/format/longer", test_longer);
  g_test_add_func ("/heatmap/format/version", test_version);
  g_test_add_func ("/heatmap/format/checksum", test_checksum);
  g_test_add_func ("/heatmap/format/fields", test_fields);
  g_test_add_func ("/heatmap/format/partial-records",
                   test_partial_records_load);
  g_test_add_func ("/heatmap/format/garbage-record", test_garbage_record);
  g_test_add_func ("/heatmap/format/unaligned", test_unaligned);
  g_test_add_func ("/heatmap/format/identity-hex", test_identity_hex);
  return g_test_run ();
}
