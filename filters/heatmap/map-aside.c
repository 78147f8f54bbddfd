/* Names for heat map files moved out of the way (see map-aside.h). */
#include <time.h>

#include <glib.h>

#include "atomic-file.h"
#include "clock.h"
#include "map-aside.h"

/* US (µs since the epoch) as "YYYYMMDDTHHMMSSZ" (UTC). */
static void
compact_time (uint64_t us, char out[17])
{
  time_t t = us / 1000000;
  struct tm tm;

  if (gmtime_r (&t, &tm) == NULL ||
      strftime (out, 17, "%Y%m%dT%H%M%SZ", &tm) == 0)
    g_strlcpy (out, "00000000T000000Z", 17);
}

char *
hm_aside_other_version (const char *path, const struct hm_header *h,
                        GError **err)
{
  g_autofree char *tag = NULL;
  char created[17], id[13];

  compact_time (h->created_us, created);
  hm_identity_hex (h->identity, 6, id);
  tag = g_strdup_printf ("%s-%s", created, id);
  return file_rename_aside (path, tag, err);
}

char *
hm_aside_invalid (const char *path, enum hm_status status, GError **err)
{
  g_autofree char *tag = NULL;
  char now[17];

  compact_time (clock_real_us (), now);
  tag = g_strdup_printf ("%s-%s", hm_status_name (status), now);
  return file_rename_aside (path, tag, err);
}
