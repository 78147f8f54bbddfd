/* Per-process hash secrets (see secret.h). */
#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include <glib.h>

#include "secret.h"

void
secret_generate (uint8_t secret[SECRET_BYTES])
{
  size_t i;

  if (getrandom (secret, SECRET_BYTES, 0) == SECRET_BYTES)
    return;
  for (i = 0; i < SECRET_BYTES; i += sizeof (guint32)) {
    guint32 r = g_random_int ();

    memcpy (secret + i, &r, sizeof r);
  }
}
