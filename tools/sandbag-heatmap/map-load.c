/* sandbag-heatmap: loading a map (see map-load.h). */
#include <stdio.h>
#include <string.h>

#include <glib.h>

#include "atomic-file.h"
#include "heatmap-format.h"
#include "map-load.h"

void
map_clear (struct map *m)
{
  g_free (m->buf);
  m->buf = NULL;
  m->recs = NULL;
}

int
map_load (const char *path, struct map *m)
{
  g_autoptr (GError) err = NULL;
  char why[256];
  size_t len;
  enum hm_status s;

  memset (m, 0, sizeof *m);
  m->path = path;
  if (file_read_bounded (path, MAX_MAP_LEN, &m->buf, &len, &err) == -1) {
    fprintf (stderr, "%s: %s\n", HM_PROGNAME, err->message);
    return EXIT_IO;
  }
  s = hm_validate (m->buf, len, &m->h, why, sizeof why);
  if (s != HM_OK) {
    fprintf (stderr, "%s: %s: not a valid heat map (%s): %s\n",
             HM_PROGNAME, path, hm_status_name (s), why);
    map_clear (m);
    return EXIT_INVALID;
  }
  m->recs = (struct hm_record *) (m->buf + HM_HEADER_SIZE);
  return EXIT_OK;
}
