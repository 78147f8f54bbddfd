/* ratetier: the state file (ratetier-state=FILE).
 *
 * It keeps clients' delivered counts across restarts, so that
 * restarting the server does not reset an abuser.  Format (all
 * integers little-endian):
 *
 *   header, 32 bytes:
 *     0  "RATETIER"            magic
 *     8  u32 version           STATE_VERSION
 *    12  u32 block_size        ratetier-block-size when written
 *    16  u8  ipv4_prefix       ratetier-ipv4-prefix when written
 *    17  u8  ipv6_prefix       ratetier-ipv6-prefix when written
 *    18  u16 zero
 *    20  u32 count             number of records
 *    24  i64 saved_at          wall clock, seconds since the epoch
 *   count records, 40 bytes each:
 *     0  24 bytes key          struct client_key, byte for byte
 *    24  u64 delivered         in 1/256 blocks
 *    32  u64 idle              seconds since last seen, at saved_at
 *   trailer, 32 bytes:         SHA-256 of everything before it
 *
 * Keys must be canonical (zero padding, zero bits past the prefix, the
 * header's prefix lengths) and of kind IPv4, IPv6, uid or vsock
 * (per-connection keys mean nothing after a restart and are never
 * written).
 *
 * state_decode is pure and checks everything before trusting anything;
 * it is meant to be fuzzed.  state_file_load handles the file: a
 * missing file is an empty state; a corrupt, foreign, incompatible or
 * oversized file is renamed to FILE.bad-TIMESTAMP (atomic-file.h's
 * file_rename_aside, which never replaces a file) with an error in the
 * log, and the filter starts empty.  state_file_save replaces the file
 * atomically and durably (atomic_file_replace).
 */
#ifndef RATETIER_STATE_FILE_H
#define RATETIER_STATE_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <glib.h>

#include "client-key.h"

#define STATE_MAGIC "RATETIER"
#define STATE_VERSION 1
#define STATE_HEADER_SIZE 32
#define STATE_RECORD_SIZE 40
#define STATE_TRAILER_SIZE 32

struct state_header {
  uint32_t block_size;
  uint8_t ipv4_prefix;
  uint8_t ipv6_prefix;
  uint32_t count;
  int64_t saved_at;
};

struct state_record {
  struct client_key key;
  uint64_t delivered;         /* 1/256 blocks */
  uint64_t idle;              /* seconds since last seen, at saved_at */
};

/* Encode header H (its count is taken from N) and records R[0..N-1]. */
extern GByteArray *state_encode (const struct state_header *h,
                                 const struct state_record *r, size_t n);

/* Called for each record R of a decoded file whose header is H. */
typedef void state_record_fn (void *opaque, const struct state_header *h,
                              const struct state_record *r);

/* Bytes of a file of N records. */
static inline size_t
state_file_size (size_t n)
{
  return STATE_HEADER_SIZE + n * STATE_RECORD_SIZE + STATE_TRAILER_SIZE;
}

/* Decode DATA (LEN bytes).  If EXPECT is not NULL, its block_size and
 * prefixes must match the file's.  On success fill *H, call FN on every
 * record, and return 0.  On failure return -1 and set *WHY to a
 * description (a static string); FN has not been called.
 */
extern int state_decode (const uint8_t *data, size_t len,
                         const struct state_header *expect,
                         struct state_header *h,
                         state_record_fn *fn, void *opaque,
                         const char **why);

/* Load PATH as above.  A file of more than MAX_RECORDS records (the
 * most the client table holds) is set aside like a corrupt one without
 * being read.  Returns 0 (loaded, missing, or set aside), or -1 if
 * PATH cannot be read or set aside (nbdkit_error called).
 */
extern int state_file_load (const char *path,
                            const struct state_header *expect,
                            size_t max_records,
                            state_record_fn *fn, void *opaque);

/* Save atomically and durably.  Returns 0, or -1 with nbdkit_error. */
extern int state_file_save (const char *path, const struct state_header *h,
                            const struct state_record *r, size_t n);

#endif /* RATETIER_STATE_FILE_H */
