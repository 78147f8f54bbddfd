/* The on-disk format of a heat map, shared by the heatmap filter and
 * the sandbag-heatmap tool.
 *
 * A map file is a fixed 4096-byte header followed by one fixed-size
 * record per heat block of the image, and nothing else:
 *
 *   offset  size  field
 *        0     8  magic "SBHEATMP"
 *        8     4  version (HM_VERSION)
 *       12     4  header size in bytes (HM_HEADER_SIZE)
 *       16     4  record size in bytes (HM_RECORD_SIZE)
 *       20     4  log2 of the heat block size (HM_MIN_SHIFT..HM_MAX_SHIFT)
 *       24     8  image size in bytes (> 0)
 *       32     8  number of records = ceil (image size / heat block size)
 *       40     8  creation time, microseconds since the Unix epoch
 *       48    32  identity: SHA-256 of the image version's identity
 *       80   256  identity text: what the identity was made of, for
 *                 humans (NUL-terminated, printable ASCII)
 *      336   256  label: the export name, maybe truncated (NUL-terminated,
 *                 printable ASCII; empty for the default export)
 *      592     4  flags (0; a reader refuses any unknown flag)
 *      596     4  CRC-32 (IEEE) of the whole header with this field zero
 *      600  3496  reserved, zero
 *
 * All integers are little-endian.  Each record is four independent
 * 64-bit counters (struct hm_record), naturally aligned because the
 * header is a page:
 *
 *   count     reads that touched the heat block (saturating)
 *   bytes     bytes delivered from the heat block (saturating)
 *   first_us  time of the first read, µs since the epoch (0 = never)
 *   last_us   time of the latest read, µs since the epoch (0 = never)
 *
 * The header is written once, when the file is created, and never
 * changes; records are updated in place.  Because every record field
 * is independently meaningful and monotonic, any mixture of older and
 * newer field values (a crash in the middle of an update, a page written
 * back while it changed) is still a valid map; so the loader checks the
 * header and the file length strictly, and records only for values no
 * writer could have produced (times after the year 2200).
 *
 * Cost: HM_RECORD_SIZE bytes per heat block.  With the default 1 MiB
 * heat block that is 32 MiB of file (and at most that much page cache)
 * per TiB of image; 4 KiB heat blocks would cost 8 GiB per TiB.
 */
#ifndef SANDBAG_HEATMAP_FORMAT_H
#define SANDBAG_HEATMAP_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
/* Records are updated in place with the host's atomics, so the host
 * must use the file's byte order. */
#error "the heat map format is little-endian; this host is not"
#endif

#define HM_MAGIC          "SBHEATMP"
#define HM_MAGIC_LEN      8
#define HM_VERSION        1
#define HM_HEADER_SIZE    4096
#define HM_RECORD_SIZE    32
#define HM_MIN_SHIFT      12            /* 4 KiB heat blocks */
#define HM_MAX_SHIFT      30            /* 1 GiB heat blocks */
#define HM_DEFAULT_SHIFT  20            /* 1 MiB heat blocks */
#define HM_IDENTITY_LEN   32            /* SHA-256 */
#define HM_TEXT_LEN       256           /* identity text and label */
/* Latest plausible timestamp (2200-01-01T00:00:00Z, µs); later ones can
 * only come from garbage. */
#define HM_MAX_TIME_US    UINT64_C(7258118400000000)

struct hm_record {
  uint64_t count;
  uint64_t bytes;
  uint64_t first_us;
  uint64_t last_us;
};
_Static_assert (sizeof (struct hm_record) == HM_RECORD_SIZE,
                "record layout");

/* The decoded header. */
struct hm_header {
  uint32_t version;
  uint32_t heat_block_shift;
  uint64_t image_size;
  uint64_t nr_heat_blocks;
  uint64_t created_us;
  uint8_t identity[HM_IDENTITY_LEN];
  char identity_text[HM_TEXT_LEN];      /* NUL-terminated */
  char label[HM_TEXT_LEN];              /* NUL-terminated */
};

/* Why a buffer is not a valid map.  The filter renames a file that is
 * not HM_OK aside; the tool maps these to exit codes. */
enum hm_status {
  HM_OK = 0,
  HM_FOREIGN,           /* not a heat map at all (magic) */
  HM_UNSUPPORTED,       /* a heat map of another version */
  HM_TRUNCATED,         /* shorter than its header says */
  HM_CORRUPT,           /* checksum, sizes or values are wrong */
};

/* A short name for a status ("foreign", "corrupt", ...). */
const char *hm_status_name (enum hm_status s);

/* CRC-32 (IEEE 802.3, as zlib's crc32) of LEN bytes, continuing from
 * CRC (start with 0). */
uint32_t hm_crc32 (uint32_t crc, const void *buf, size_t len);

/* Number of heat blocks for an image: ceil (image_size / 2^shift).
 * Requires HM_MIN_SHIFT <= shift <= HM_MAX_SHIFT. */
uint64_t hm_nr_heat_blocks (uint64_t image_size, uint32_t shift);

/* Total file size for NR_HEAT_BLOCKS records, or 0 if it would not fit in
 * an off_t / size_t. */
uint64_t hm_file_size (uint64_t nr_heat_blocks);

/* Fill in H for a new map (nr_heat_blocks computed, texts sanitised to
 * printable ASCII and truncated).  Returns -1 if the shift or image
 * size is out of range or the file would be too large. */
int hm_header_init (struct hm_header *h, uint32_t heat_block_shift,
                    uint64_t image_size, uint64_t created_us,
                    const uint8_t identity[HM_IDENTITY_LEN],
                    const char *identity_text, const char *label);

/* Encode H into exactly HM_HEADER_SIZE bytes at OUT, checksum
 * included. */
void hm_header_encode (const struct hm_header *h,
                       uint8_t out[HM_HEADER_SIZE]);

/* Validate a whole map file held in BUF[0..LEN): header fields and
 * checksum, file length against the header, and every record.  Pure:
 * no I/O, no allocation, safe on any input (this is the fuzzing entry
 * point).  On HM_OK fills *H (if H != NULL).  On failure writes a
 * one-line reason into WHY (if WHY != NULL and WHYLEN > 0). */
enum hm_status hm_validate (const void *buf, size_t len,
                            struct hm_header *h,
                            char *why, size_t whylen);

/* Validate only the header in BUF[0..LEN) against a file of FILE_LEN
 * bytes (LEN may be shorter than the file; at least the header is
 * needed).  Same contract as hm_validate, without the record check. */
enum hm_status hm_validate_header (const void *buf, size_t len,
                                   uint64_t file_len,
                                   struct hm_header *h,
                                   char *why, size_t whylen);

/* Check NR records starting at RECS, which need not be aligned (see
 * above for what is checked).  Returns the index of the first bad
 * record, or NR if all are good. */
uint64_t hm_check_records (const void *recs, uint64_t nr);

/* Lowercase hex of the first NBYTES of an identity (NBYTES <= 32) into
 * OUT, which must hold 2 * NBYTES + 1 bytes. */
void hm_identity_hex (const uint8_t identity[HM_IDENTITY_LEN],
                      size_t nbytes, char *out);

#endif /* SANDBAG_HEATMAP_FORMAT_H */
