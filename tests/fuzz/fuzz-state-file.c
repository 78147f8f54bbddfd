/* libFuzzer harness: the ratetier state loader (state_decode in
 * filters/ratetier/state-file.c), which reads a file left by an earlier
 * run -- or by anyone who could write it.
 *
 * Each input is decoded as it is and, if it is long enough, again with
 * its SHA-256 trailer recomputed, so that the fuzzer gets past the hash
 * to the header and record checks.  When an input is accepted, encoding
 * the decoded header and records must give back exactly the input (the
 * format is canonical, so anything else was accepted without being
 * understood), every record must be a canonical, persistent key, and
 * decoding against the header it declares must succeed too.  A refused
 * input must come with a reason and must not have reached the record
 * callback.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "nbdkit-shim.h"
#include "state-file.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
collect (void *opaque, const struct state_header *h,
         const struct state_record *r)
{
  g_array_append_val ((GArray *) opaque, *r);
}

static void
check (const uint8_t *data, size_t size)
{
  g_autoptr (GArray) recs = g_array_new (FALSE, FALSE,
                                         sizeof (struct state_record));
  struct state_header h, h2;
  const char *why = NULL;
  GByteArray *again;
  size_t i, j;

  if (state_decode (data, size, NULL, &h, collect, recs, &why) == -1) {
    if (why == NULL || why[0] == '\0' || recs->len != 0)
      abort ();
    return;
  }
  if (recs->len != h.count)
    abort ();
  for (i = 0; i < recs->len; i++) {
    const struct state_record *r =
      &g_array_index (recs, struct state_record, i);

    if (r->key.kind == CLIENT_KEY_NONE ||
        r->key.kind == CLIENT_KEY_CONNECTION ||
        r->key.kind > CLIENT_KEY_VSOCK)
      abort ();
    for (j = 0; j < sizeof r->key.pad; j++)
      if (r->key.pad[j])
        abort ();
  }
  again = state_encode (&h, (const struct state_record *) recs->data,
                        recs->len);
  if (again->len != size || memcmp (again->data, data, size) != 0)
    abort ();
  g_byte_array_unref (again);

  g_array_set_size (recs, 0);
  if (state_decode (data, size, &h, &h2, collect, recs, &why) == -1 ||
      h2.count != h.count)
    abort ();
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autofree uint8_t *fixed = NULL;
  g_autoptr (GChecksum) sum = NULL;
  gsize digest_len = STATE_TRAILER_SIZE;

  check (data, size);
  if (size >= STATE_HEADER_SIZE + STATE_TRAILER_SIZE) {
    fixed = g_memdup2 (data, size);
    sum = g_checksum_new (G_CHECKSUM_SHA256);
    g_checksum_update (sum, fixed, size - STATE_TRAILER_SIZE);
    g_checksum_get_digest (sum, fixed + size - STATE_TRAILER_SIZE,
                           &digest_len);
    check (fixed, size);
  }
  return 0;
}
