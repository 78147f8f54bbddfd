/* ratetier: state file encoding, decoding and files (see state-file.h).
 *
 * Decoding checks the size first (it must be exactly header + count
 * records + trailer, so a count read from the file never drives an
 * allocation or a read past the end), then the checksum, then every
 * record, and only then hands records to the caller.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <glib.h>
#include <nbdkit-filter.h>

#include "atomic-file.h"
#include "clock.h"
#include "state-file.h"

G_STATIC_ASSERT (sizeof (struct client_key) == 24);

static void
put_u16 (GByteArray *b, uint16_t v)
{
  uint8_t x[2] = { v, v >> 8 };
  g_byte_array_append (b, x, 2);
}

static void
put_u32 (GByteArray *b, uint32_t v)
{
  put_u16 (b, v);
  put_u16 (b, v >> 16);
}

static void
put_u64 (GByteArray *b, uint64_t v)
{
  put_u32 (b, v);
  put_u32 (b, v >> 32);
}

static uint64_t
get_le (const uint8_t *p, int bytes)
{
  uint64_t v = 0;

  while (bytes-- > 0)
    v = (v << 8) | p[bytes];
  return v;
}

static void
sha256 (const uint8_t *data, size_t len, uint8_t out[32])
{
  GChecksum *c = g_checksum_new (G_CHECKSUM_SHA256);
  gsize n = 32;

  g_checksum_update (c, data, len);
  g_checksum_get_digest (c, out, &n);
  g_checksum_free (c);
}

GByteArray *
state_encode (const struct state_header *h, const struct state_record *r,
              size_t n)
{
  GByteArray *b = g_byte_array_sized_new (state_file_size (n));
  uint8_t digest[32];
  size_t i;

  g_byte_array_append (b, (const uint8_t *) STATE_MAGIC, 8);
  put_u32 (b, STATE_VERSION);
  put_u32 (b, h->block_size);
  g_byte_array_append (b, &h->ipv4_prefix, 1);
  g_byte_array_append (b, &h->ipv6_prefix, 1);
  put_u16 (b, 0);
  put_u32 (b, n);
  put_u64 (b, (uint64_t) h->saved_at);
  for (i = 0; i < n; i++) {
    g_byte_array_append (b, (const uint8_t *) &r[i].key, 24);
    put_u64 (b, r[i].delivered);
    put_u64 (b, r[i].idle);
  }
  sha256 (b->data, b->len, digest);
  g_byte_array_append (b, digest, 32);
  return b;
}

/* Is K a canonical key for a file written with header H? */
static bool
key_ok (const struct client_key *k, const struct state_header *h)
{
  size_t addr_len, i;
  unsigned prefix;

  for (i = 0; i < sizeof k->pad; i++)
    if (k->pad[i] != 0)
      return false;
  switch (k->kind) {
  case CLIENT_KEY_IPV4:
    addr_len = 4;
    prefix = h->ipv4_prefix;
    break;
  case CLIENT_KEY_IPV6:
    addr_len = 16;
    prefix = h->ipv6_prefix;
    break;
  case CLIENT_KEY_UID:
  case CLIENT_KEY_VSOCK:
    return k->prefix == 0;
  default:
    return false;
  }
  if (k->prefix != prefix)
    return false;
  for (i = 0; i < 16; i++) {
    unsigned keep = prefix >= 8 * (i + 1) ? 8
      : prefix > 8 * i ? prefix - 8 * i : 0;
    uint8_t mask = (uint8_t) (0xff00 >> keep);
    if (i >= addr_len ? k->u.bytes[i] != 0 : (k->u.bytes[i] & ~mask) != 0)
      return false;
  }
  return true;
}

static void
get_record (const uint8_t *p, struct state_record *r)
{
  memcpy (&r->key, p, 24);
  r->delivered = get_le (p + 24, 8);
  r->idle = get_le (p + 32, 8);
}

int
state_decode (const uint8_t *data, size_t len,
              const struct state_header *expect, struct state_header *h,
              state_record_fn *fn, void *opaque, const char **why)
{
  uint8_t digest[32];
  struct state_record r;
  size_t i;

  if (len < STATE_HEADER_SIZE + STATE_TRAILER_SIZE ||
      memcmp (data, STATE_MAGIC, 8) != 0) {
    *why = "not a ratetier state file (bad magic)";
    return -1;
  }
  if (get_le (data + 8, 4) != STATE_VERSION) {
    *why = "unsupported state file version";
    return -1;
  }
  h->block_size = get_le (data + 12, 4);
  h->ipv4_prefix = data[16];
  h->ipv6_prefix = data[17];
  h->count = get_le (data + 20, 4);
  h->saved_at = (int64_t) get_le (data + 24, 8);
  if (get_le (data + 18, 2) != 0 || h->ipv4_prefix > 32 ||
      h->ipv6_prefix > 128 || h->block_size == 0) {
    *why = "corrupt header";
    return -1;
  }
  if ((len - STATE_HEADER_SIZE - STATE_TRAILER_SIZE) % STATE_RECORD_SIZE
      != 0 ||
      (len - STATE_HEADER_SIZE - STATE_TRAILER_SIZE) / STATE_RECORD_SIZE
      != h->count) {
    *why = "truncated or overlong (size does not match the record count)";
    return -1;
  }
  sha256 (data, len - STATE_TRAILER_SIZE, digest);
  if (memcmp (digest, data + len - STATE_TRAILER_SIZE, 32) != 0) {
    *why = "checksum mismatch";
    return -1;
  }
  if (expect && (expect->block_size != h->block_size ||
                 expect->ipv4_prefix != h->ipv4_prefix ||
                 expect->ipv6_prefix != h->ipv6_prefix)) {
    *why = "written with a different ratetier-block-size, "
      "ratetier-ipv4-prefix or ratetier-ipv6-prefix";
    return -1;
  }
  for (i = 0; i < h->count; i++) {
    get_record (data + STATE_HEADER_SIZE + i * STATE_RECORD_SIZE, &r);
    if (!key_ok (&r.key, h)) {
      *why = "invalid client key in a record";
      return -1;
    }
  }
  for (i = 0; i < h->count; i++) {
    get_record (data + STATE_HEADER_SIZE + i * STATE_RECORD_SIZE, &r);
    fn (opaque, h, &r);
  }
  return 0;
}

/* Set PATH aside as FILE.bad-TIME after WHY, and start empty. */
static int
set_aside (const char *path, const char *why)
{
  g_autofree char *tag = g_strdup_printf ("bad-%" PRId64, clock_real_s ());
  g_autofree char *aside = NULL;
  g_autoptr (GError) error = NULL;

  aside = file_rename_aside (path, tag, &error);
  if (aside == NULL) {
    nbdkit_error ("ratetier-state: %s: %s, and it cannot be moved aside: %s",
                  path, why, error->message);
    return -1;
  }
  nbdkit_error ("ratetier-state: %s: %s; moved it aside to %s and "
                "started with empty counters", path, why, aside);
  return 0;
}

int
state_file_load (const char *path, const struct state_header *expect,
                 size_t max_records, state_record_fn *fn, void *opaque)
{
  g_autofree uint8_t *data = NULL;
  g_autofree char *too_large = NULL;
  g_autoptr (GError) error = NULL;
  struct state_header h;
  const char *why;
  size_t len, max_len = state_file_size (max_records);

  if (file_read_bounded (path, max_len, &data, &len, &error) == -1) {
    if (g_error_matches (error, G_FILE_ERROR, G_FILE_ERROR_NOENT)) {
      nbdkit_debug ("ratetier-state: %s does not exist yet: "
                    "starting with empty counters", path);
      return 0;
    }
    if (g_error_matches (error, G_FILE_ERROR, G_FILE_ERROR_FAILED)) {
      /* Larger than max_len: more clients than this table can hold. */
      too_large = g_strdup_printf ("larger than %zu bytes: more clients "
                                   "than ratetier-max-clients=%zu",
                                   max_len, max_records);
      return set_aside (path, too_large);
    }
    nbdkit_error ("ratetier-state: %s", error->message);
    return -1;
  }
  if (state_decode (data, len, expect, &h, fn, opaque, &why) == -1)
    return set_aside (path, why);
  nbdkit_debug ("ratetier-state: %s: loaded %" PRIu32 " clients",
                path, h.count);
  return 0;
}

int
state_file_save (const char *path, const struct state_header *h,
                 const struct state_record *r, size_t n)
{
  g_autoptr (GByteArray) b = state_encode (h, r, n);
  g_autoptr (GError) error = NULL;

  if (atomic_file_replace (path, b->data, b->len, 0644, true, &error) == -1) {
    nbdkit_error ("ratetier-state: %s", error->message);
    return -1;
  }
  return 0;
}
