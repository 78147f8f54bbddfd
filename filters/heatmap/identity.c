/* Image version identity (see identity.h): SHA-256 over a
 * length-prefixed encoding of size, description and samples, so that no
 * two different inputs encode alike.
 */
#include <stdio.h>
#include <string.h>

#include <glib.h>

#include "identity.h"

static void
update_u64 (GChecksum *c, uint64_t v)
{
  uint8_t le[8];
  int i;

  for (i = 0; i < 8; i++)
    le[i] = (uint8_t) (v >> (8 * i));
  g_checksum_update (c, le, sizeof le);
}

static void
update_blob (GChecksum *c, const void *p, size_t len)
{
  update_u64 (c, len);
  if (len > 0)
    g_checksum_update (c, p, len);
}

void
hm_identity_compute (uint64_t size, const char *description,
                     const void *head, size_t head_len,
                     const void *tail, size_t tail_len,
                     uint8_t digest[HM_IDENTITY_LEN],
                     char text[HM_TEXT_LEN])
{
  g_autoptr (GChecksum) c = g_checksum_new (G_CHECKSUM_SHA256);
  gsize dlen = HM_IDENTITY_LEN;
  size_t i, n;

  g_checksum_update (c, (const guchar *) "sandbag-heatmap identity 1", 26);
  update_u64 (c, size);
  update_u64 (c, description != NULL);
  if (description)
    update_blob (c, description, strlen (description));
  update_blob (c, head, head_len);
  update_blob (c, tail, tail_len);
  g_checksum_get_digest (c, digest, &dlen);

  n = snprintf (text, HM_TEXT_LEN, "size=%" G_GUINT64_FORMAT " desc=%s",
                size, description ? description : "(none)");
  if (n >= HM_TEXT_LEN)
    n = HM_TEXT_LEN - 1;
  for (i = 0; i < n; i++) {
    unsigned char ch = text[i];
    if (ch < 0x20 || ch >= 0x7f)
      text[i] = '?';
  }
}
