/* Encoding and validation of the heat map format (see heatmap-format.h).
 *
 * Everything here is pure: buffers in, buffers out, no I/O and no
 * allocation, so the validator can be fuzzed and unit-tested and the
 * same code decides what the filter accepts and what the tool reads.
 * Fields are read with memcpy so that a buffer need not be aligned.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "heatmap-format.h"

/* Header field offsets, as documented in heatmap-format.h. */
enum {
  OFF_MAGIC = 0,
  OFF_VERSION = 8,
  OFF_HEADER_SIZE = 12,
  OFF_RECORD_SIZE = 16,
  OFF_SHIFT = 20,
  OFF_IMAGE_SIZE = 24,
  OFF_NR_HEAT_BLOCKS = 32,
  OFF_CREATED = 40,
  OFF_IDENTITY = 48,
  OFF_IDENTITY_TEXT = 80,
  OFF_LABEL = 336,
  OFF_FLAGS = 592,
  OFF_CRC = 596,
  OFF_RESERVED = 600,
};

const char *
hm_status_name (enum hm_status s)
{
  switch (s) {
  case HM_OK: return "ok";
  case HM_FOREIGN: return "foreign";
  case HM_UNSUPPORTED: return "unsupported";
  case HM_TRUNCATED: return "truncated";
  case HM_CORRUPT: return "corrupt";
  }
  return "invalid";
}

/* Bit by bit: headers are 4 KiB and read once per map, so a table
 * (and its initialisation, shared between threads) is not worth it. */
uint32_t
hm_crc32 (uint32_t crc, const void *buf, size_t len)
{
  const uint8_t *p = buf;
  size_t i;
  int k;

  crc = ~crc;
  for (i = 0; i < len; i++) {
    crc ^= p[i];
    for (k = 0; k < 8; k++)
      crc = (crc >> 1) ^ (0xedb88320U & -(crc & 1));
  }
  return ~crc;
}

uint64_t
hm_nr_heat_blocks (uint64_t image_size, uint32_t shift)
{
  uint64_t n = image_size >> shift;

  if (image_size & ((UINT64_C(1) << shift) - 1))
    n++;
  return n;
}

uint64_t
hm_file_size (uint64_t nr_heat_blocks)
{
  /* Keep the file within a signed 63-bit off_t and a size_t. */
  uint64_t limit = (uint64_t) INT64_MAX;

  if (SIZE_MAX < limit)
    limit = SIZE_MAX;
  if (nr_heat_blocks > (limit - HM_HEADER_SIZE) / HM_RECORD_SIZE)
    return 0;
  return HM_HEADER_SIZE + nr_heat_blocks * HM_RECORD_SIZE;
}

/* Copy SRC into DST[HM_TEXT_LEN] as printable ASCII, NUL-terminated. */
static void
copy_text (char *dst, const char *src)
{
  size_t i;

  memset (dst, 0, HM_TEXT_LEN);
  for (i = 0; src && src[i] && i < HM_TEXT_LEN - 1; i++) {
    unsigned char c = src[i];
    dst[i] = (c >= 0x20 && c < 0x7f) ? (char) c : '?';
  }
}

int
hm_header_init (struct hm_header *h, uint32_t heat_block_shift,
                uint64_t image_size, uint64_t created_us,
                const uint8_t identity[HM_IDENTITY_LEN],
                const char *identity_text, const char *label)
{
  memset (h, 0, sizeof *h);
  if (heat_block_shift < HM_MIN_SHIFT || heat_block_shift > HM_MAX_SHIFT ||
      image_size == 0 || image_size > (uint64_t) INT64_MAX)
    return -1;
  h->version = HM_VERSION;
  h->heat_block_shift = heat_block_shift;
  h->image_size = image_size;
  h->nr_heat_blocks = hm_nr_heat_blocks (image_size, heat_block_shift);
  if (hm_file_size (h->nr_heat_blocks) == 0)
    return -1;
  h->created_us = created_us;
  memcpy (h->identity, identity, HM_IDENTITY_LEN);
  copy_text (h->identity_text, identity_text);
  copy_text (h->label, label);
  return 0;
}

static void
put32 (uint8_t *p, uint32_t v)
{
  memcpy (p, &v, sizeof v);
}

static void
put64 (uint8_t *p, uint64_t v)
{
  memcpy (p, &v, sizeof v);
}

static uint32_t
get32 (const uint8_t *p)
{
  uint32_t v;

  memcpy (&v, p, sizeof v);
  return v;
}

static uint64_t
get64 (const uint8_t *p)
{
  uint64_t v;

  memcpy (&v, p, sizeof v);
  return v;
}

void
hm_header_encode (const struct hm_header *h, uint8_t out[HM_HEADER_SIZE])
{
  memset (out, 0, HM_HEADER_SIZE);
  memcpy (out + OFF_MAGIC, HM_MAGIC, HM_MAGIC_LEN);
  put32 (out + OFF_VERSION, h->version);
  put32 (out + OFF_HEADER_SIZE, HM_HEADER_SIZE);
  put32 (out + OFF_RECORD_SIZE, HM_RECORD_SIZE);
  put32 (out + OFF_SHIFT, h->heat_block_shift);
  put64 (out + OFF_IMAGE_SIZE, h->image_size);
  put64 (out + OFF_NR_HEAT_BLOCKS, h->nr_heat_blocks);
  put64 (out + OFF_CREATED, h->created_us);
  memcpy (out + OFF_IDENTITY, h->identity, HM_IDENTITY_LEN);
  memcpy (out + OFF_IDENTITY_TEXT, h->identity_text, HM_TEXT_LEN);
  memcpy (out + OFF_LABEL, h->label, HM_TEXT_LEN);
  out[OFF_IDENTITY_TEXT + HM_TEXT_LEN - 1] = '\0';
  out[OFF_LABEL + HM_TEXT_LEN - 1] = '\0';
  put32 (out + OFF_FLAGS, 0);
  put32 (out + OFF_CRC, hm_crc32 (0, out, HM_HEADER_SIZE));
}

static enum hm_status
fail (enum hm_status s, char *why, size_t whylen, const char *fs, ...)
  __attribute__ ((format (printf, 4, 5)));

static enum hm_status
fail (enum hm_status s, char *why, size_t whylen, const char *fs, ...)
{
  va_list args;

  if (why && whylen > 0) {
    va_start (args, fs);
    vsnprintf (why, whylen, fs, args);
    va_end (args);
  }
  return s;
}

/* A text field must be NUL-terminated printable ASCII, zero-padded. */
static int
text_ok (const uint8_t *p)
{
  size_t i = 0;

  while (i < HM_TEXT_LEN && p[i] != 0) {
    if (p[i] < 0x20 || p[i] >= 0x7f)
      return 0;
    i++;
  }
  if (i == HM_TEXT_LEN)
    return 0;
  for (; i < HM_TEXT_LEN; i++)
    if (p[i] != 0)
      return 0;
  return 1;
}

/* Is BUF[0..LEN) the start of a heat map of this version, with its
 * whole header? */
static enum hm_status
check_identification (const uint8_t *p, size_t len, char *why,
                      size_t whylen)
{
  uint32_t version;

  if (len < HM_MAGIC_LEN || memcmp (p, HM_MAGIC, HM_MAGIC_LEN) != 0) {
    if (len < HM_MAGIC_LEN && memcmp (p, HM_MAGIC, len) == 0)
      return fail (HM_TRUNCATED, why, whylen,
                   "file is %zu bytes, shorter than the magic", len);
    return fail (HM_FOREIGN, why, whylen,
                 "not a sandbag heat map (wrong magic)");
  }
  if (len < OFF_VERSION + 4)
    return fail (HM_TRUNCATED, why, whylen,
                 "file is %zu bytes, shorter than the header", len);
  version = get32 (p + OFF_VERSION);
  if (version != HM_VERSION)
    return fail (HM_UNSUPPORTED, why, whylen,
                 "heat map version %" PRIu32 ", this build reads "
                 "version %d", version, HM_VERSION);
  if (len < HM_HEADER_SIZE)
    return fail (HM_TRUNCATED, why, whylen,
                 "file is %zu bytes, shorter than the %d-byte header",
                 len, HM_HEADER_SIZE);
  return HM_OK;
}

static enum hm_status
check_checksum (const uint8_t *p, char *why, size_t whylen)
{
  uint8_t copy[HM_HEADER_SIZE];
  uint32_t crc;

  memcpy (copy, p, HM_HEADER_SIZE);
  crc = get32 (copy + OFF_CRC);
  put32 (copy + OFF_CRC, 0);
  if (hm_crc32 (0, copy, HM_HEADER_SIZE) != crc)
    return fail (HM_CORRUPT, why, whylen, "header checksum mismatch");
  return HM_OK;
}

/* The sizes: of the header and records, of the heat blocks and the
 * image, and the number of records, which give the file size,
 * *FILE_SIZE. */
static enum hm_status
check_geometry (const uint8_t *p, uint64_t *file_size, char *why,
                size_t whylen)
{
  uint32_t shift = get32 (p + OFF_SHIFT);
  uint64_t image_size = get64 (p + OFF_IMAGE_SIZE);
  uint64_t nr = get64 (p + OFF_NR_HEAT_BLOCKS);

  if (get32 (p + OFF_HEADER_SIZE) != HM_HEADER_SIZE ||
      get32 (p + OFF_RECORD_SIZE) != HM_RECORD_SIZE)
    return fail (HM_CORRUPT, why, whylen,
                 "header size %" PRIu32 " or record size %" PRIu32
                 " is not %d/%d",
                 get32 (p + OFF_HEADER_SIZE), get32 (p + OFF_RECORD_SIZE),
                 HM_HEADER_SIZE, HM_RECORD_SIZE);
  if (shift < HM_MIN_SHIFT || shift > HM_MAX_SHIFT)
    return fail (HM_CORRUPT, why, whylen,
                 "heat block size 2^%" PRIu32 " is out of range "
                 "(2^%d to 2^%d)", shift, HM_MIN_SHIFT, HM_MAX_SHIFT);
  if (image_size == 0 || image_size > (uint64_t) INT64_MAX)
    return fail (HM_CORRUPT, why, whylen,
                 "image size %" PRIu64 " is out of range", image_size);
  if (nr != hm_nr_heat_blocks (image_size, shift))
    return fail (HM_CORRUPT, why, whylen,
                 "%" PRIu64 " records do not match an image of %" PRIu64
                 " bytes in heat blocks of %" PRIu64 " bytes",
                 nr, image_size, UINT64_C(1) << shift);
  *file_size = hm_file_size (nr);
  if (*file_size == 0)
    return fail (HM_CORRUPT, why, whylen,
                 "%" PRIu64 " records are too many", nr);
  return HM_OK;
}

/* The creation time, texts, flags and reserved bytes. */
static enum hm_status
check_contents (const uint8_t *p, char *why, size_t whylen)
{
  size_t i;

  if (get64 (p + OFF_CREATED) > HM_MAX_TIME_US)
    return fail (HM_CORRUPT, why, whylen, "creation time is implausible");
  if (!text_ok (p + OFF_IDENTITY_TEXT) || !text_ok (p + OFF_LABEL))
    return fail (HM_CORRUPT, why, whylen,
                 "identity text or label is not terminated printable text");
  if (get32 (p + OFF_FLAGS) != 0)
    return fail (HM_CORRUPT, why, whylen, "unknown flags 0x%" PRIx32,
                 get32 (p + OFF_FLAGS));
  for (i = OFF_RESERVED; i < HM_HEADER_SIZE; i++)
    if (p[i] != 0)
      return fail (HM_CORRUPT, why, whylen,
                   "reserved header byte %zu is not zero", i);
  return HM_OK;
}

static enum hm_status
check_length (uint64_t file_len, uint64_t want_len, char *why,
              size_t whylen)
{
  if (file_len < want_len)
    return fail (HM_TRUNCATED, why, whylen,
                 "file is %" PRIu64 " bytes, the header says %" PRIu64,
                 file_len, want_len);
  if (file_len > want_len)
    return fail (HM_CORRUPT, why, whylen,
                 "file is %" PRIu64 " bytes, longer than the %" PRIu64
                 " the header says", file_len, want_len);
  return HM_OK;
}

/* The fields of a valid header P into *H. */
static void
decode_header (const uint8_t *p, struct hm_header *h)
{
  memset (h, 0, sizeof *h);
  h->version = get32 (p + OFF_VERSION);
  h->heat_block_shift = get32 (p + OFF_SHIFT);
  h->image_size = get64 (p + OFF_IMAGE_SIZE);
  h->nr_heat_blocks = get64 (p + OFF_NR_HEAT_BLOCKS);
  h->created_us = get64 (p + OFF_CREATED);
  memcpy (h->identity, p + OFF_IDENTITY, HM_IDENTITY_LEN);
  memcpy (h->identity_text, p + OFF_IDENTITY_TEXT, HM_TEXT_LEN);
  memcpy (h->label, p + OFF_LABEL, HM_TEXT_LEN);
}

/* The checks in the order of the fields a reader needs: what the file
 * is, whether it is intact, what it describes, and its length. */
enum hm_status
hm_validate_header (const void *buf, size_t len, uint64_t file_len,
                    struct hm_header *h, char *why, size_t whylen)
{
  const uint8_t *p = buf;
  uint64_t want_len = 0;
  enum hm_status s;

  s = check_identification (p, len, why, whylen);
  if (s == HM_OK)
    s = check_checksum (p, why, whylen);
  if (s == HM_OK)
    s = check_geometry (p, &want_len, why, whylen);
  if (s == HM_OK)
    s = check_contents (p, why, whylen);
  if (s == HM_OK)
    s = check_length (file_len, want_len, why, whylen);
  if (s == HM_OK && h)
    decode_header (p, h);
  return s;
}

uint64_t
hm_check_records (const void *recs, uint64_t nr)
{
  const uint8_t *p = recs;
  struct hm_record r;
  uint64_t i;

  for (i = 0; i < nr; i++) {
    memcpy (&r, p + i * HM_RECORD_SIZE, sizeof r);
    if (r.first_us > HM_MAX_TIME_US || r.last_us > HM_MAX_TIME_US)
      return i;
  }
  return nr;
}

enum hm_status
hm_validate (const void *buf, size_t len, struct hm_header *h,
             char *why, size_t whylen)
{
  struct hm_header hdr;
  enum hm_status s;
  uint64_t bad;

  s = hm_validate_header (buf, len, len, &hdr, why, whylen);
  if (s != HM_OK)
    return s;
  bad = hm_check_records ((const uint8_t *) buf + HM_HEADER_SIZE,
                          hdr.nr_heat_blocks);
  if (bad < hdr.nr_heat_blocks)
    return fail (HM_CORRUPT, why, whylen,
                 "record %" PRIu64 " has an implausible time", bad);
  if (h)
    *h = hdr;
  return HM_OK;
}

void
hm_identity_hex (const uint8_t identity[HM_IDENTITY_LEN], size_t nbytes,
                 char *out)
{
  static const char hex[] = "0123456789abcdef";
  size_t i;

  if (nbytes > HM_IDENTITY_LEN)
    nbytes = HM_IDENTITY_LEN;
  for (i = 0; i < nbytes; i++) {
    out[2 * i] = hex[identity[i] >> 4];
    out[2 * i + 1] = hex[identity[i] & 15];
  }
  out[2 * nbytes] = '\0';
}
