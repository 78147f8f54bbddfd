/* sandbag-heatmap: answers and pictures from the heat maps written by
 * nbdkit-heatmap-filter.
 *
 *   sandbag-heatmap summary FILE
 *   sandbag-heatmap top N FILE
 *   sandbag-heatmap csv FILE
 *   sandbag-heatmap render -o OUT.png FILE
 *   sandbag-heatmap merge -o OUT FILE1 FILE2 ...
 *
 * Every input is read whole and validated with the same code the filter
 * uses (heatmap-format.h), so a live map can be read while nbdkit updates it
 * (each field is read as one 64-bit value; fields of one record may be a
 * few reads apart).  Exit codes are the EXIT_* values below, documented
 * in sandbag-heatmap(1).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <glib.h>

#include "analysis.h"
#include "atomic-file.h"
#include "heatmap-file.h"
#include "heatmap-format.h"
#include "render.h"

enum {
  EXIT_OK = 0,
  EXIT_USAGE = 1,               /* bad command line */
  EXIT_IO = 2,                  /* cannot read an input or write output */
  EXIT_INVALID = 3,             /* an input is not a valid heat map */
  EXIT_MISMATCH = 4,            /* merge: maps of different versions */
};

/* Largest map the tool reads: 64 GiB of records, a 2 PiB image in
 * 1 MiB blocks. */
#define MAX_MAP_LEN (UINT64_C(64) << 30)

static const char *progname = "sandbag-heatmap";

typedef struct map {
  const char *path;
  uint8_t *buf;
  struct hm_header h;
  const struct hm_record *recs;
} Map;

static void
map_clear (struct map *m)
{
  g_free (m->buf);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Map, map_clear)

static void
usage (FILE *fp)
{
  fprintf (fp,
           "usage: %s summary FILE\n"
           "       %s top N FILE\n"
           "       %s csv FILE\n"
           "       %s render -o OUT.png FILE\n"
           "       %s merge -o OUT FILE1 FILE2 ...\n"
           "Read heat maps written by nbdkit-heatmap-filter; see "
           "sandbag-heatmap(1).\n",
           progname, progname, progname, progname, progname);
}

static int
usage_error (const char *msg)
{
  fprintf (stderr, "%s: %s\n", progname, msg);
  usage (stderr);
  return EXIT_USAGE;
}

/* Load and validate PATH into *M.  Returns EXIT_OK or an exit code
 * (after printing why). */
static int
load (const char *path, struct map *m)
{
  g_autoptr (GError) err = NULL;
  char why[256];
  size_t len;
  enum hm_status s;

  memset (m, 0, sizeof *m);
  m->path = path;
  if (file_read_bounded (path, MAX_MAP_LEN, &m->buf, &len, &err) == -1) {
    fprintf (stderr, "%s: %s\n", progname, err->message);
    return EXIT_IO;
  }
  s = hm_validate (m->buf, len, &m->h, why, sizeof why);
  if (s != HM_OK) {
    fprintf (stderr, "%s: %s: not a valid heat map (%s): %s\n",
             progname, path, hm_status_name (s), why);
    return EXIT_INVALID;
  }
  m->recs = (const struct hm_record *) (m->buf + HM_HEADER_SIZE);
  return EXIT_OK;
}

/* Time as "YYYY-MM-DDTHH:MM:SSZ", or "never" for 0. */
static const char *
iso_time (uint64_t us, char buf[32])
{
  time_t t = us / 1000000;
  struct tm tm;

  if (us == 0)
    return "never";
  if (gmtime_r (&t, &tm) == NULL ||
      strftime (buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
    return "?";
  return buf;
}

static char *
human (uint64_t bytes)
{
  return hm_format_size (bytes);
}

static uint64_t
block_size (const struct map *m)
{
  return UINT64_C(1) << m->h.block_shift;
}

/* Byte range of blocks [B, B+N) as "START-END (SIZE)". */
static char *
range_text (const struct map *m, uint64_t b, uint64_t n)
{
  uint64_t start = b * block_size (m);
  uint64_t end = (b + n) * block_size (m);
  g_autofree char *size = NULL;

  if (end > m->h.image_size)
    end = m->h.image_size;
  size = human (end - start);
  return g_strdup_printf ("%" PRIu64 "-%" PRIu64 " (%s)", start, end - 1,
                          size);
}

static int
cmd_summary (int argc, char **argv)
{
  g_auto (Map) m = { 0 };
  g_autoptr (GArray) ranges = NULL;
  g_autofree char *img = NULL, *blk = NULL, *served = NULL;
  uint64_t i, read_blocks = 0, reads = 0, bytes = 0;
  uint64_t first = 0, last = 0;
  const struct hm_range *hot = NULL, *cold = NULL;
  char idhex[17], t1[32], t2[32], t3[32];
  int r;

  if (argc != 2)
    return usage_error ("summary takes one FILE");
  if ((r = load (argv[1], &m)) != EXIT_OK)
    return r;

  for (i = 0; i < m.h.nr_blocks; i++) {
    const struct hm_record *rec = &m.recs[i];

    if (rec->count > 0)
      read_blocks++;
    reads = hm_sat_add (reads, rec->count);
    bytes = hm_sat_add (bytes, rec->bytes);
    if (rec->first_us && (first == 0 || rec->first_us < first))
      first = rec->first_us;
    if (rec->last_us > last)
      last = rec->last_us;
  }
  ranges = hm_ranges (m.recs, m.h.nr_blocks);
  for (i = 0; i < ranges->len; i++) {
    const struct hm_range *rg = &g_array_index (ranges, struct hm_range, i);

    if (rg->max_count > 0 && (hot == NULL || hm_range_cmp_hot (rg, hot) < 0))
      hot = rg;
    /* Coldest: the longest never-read range. */
    if (rg->max_count == 0 && (cold == NULL || rg->n > cold->n))
      cold = rg;
  }

  hm_identity_hex (m.h.identity, 8, idhex);
  img = human (m.h.image_size);
  blk = human (block_size (&m));
  served = human (bytes);
  printf ("file:           %s\n", m.path);
  printf ("export:         %s\n", m.h.label[0] ? m.h.label
          : "(default export)");
  printf ("image version:  %s (%s)\n", idhex, m.h.identity_text);
  printf ("map created:    %s\n", iso_time (m.h.created_us, t1));
  printf ("image size:     %" PRIu64 " bytes (%s)\n", m.h.image_size, img);
  printf ("heat block:     %" PRIu64 " bytes (%s), %" PRIu64 " blocks\n",
          block_size (&m), blk, m.h.nr_blocks);
  printf ("blocks read:    %" PRIu64 " of %" PRIu64 " (%.1f%%)\n",
          read_blocks, m.h.nr_blocks, 100.0 * read_blocks / m.h.nr_blocks);
  printf ("reads:          %" PRIu64 " (block reads: a read that touches "
          "k blocks counts k times)\n", reads);
  printf ("bytes served:   %" PRIu64 " (%s)\n", bytes, served);
  printf ("time span:      %s to %s\n", iso_time (first, t2),
          iso_time (last, t3));
  if (hot) {
    g_autofree char *rt = range_text (&m, hot->block, hot->n);
    printf ("hottest range:  %s, %" PRIu64 " to %" PRIu64
            " reads per block\n", rt, hot->min_count, hot->max_count);
  }
  else
    printf ("hottest range:  none (nothing read)\n");
  if (cold) {
    g_autofree char *rt = range_text (&m, cold->block, cold->n);
    printf ("coldest range:  %s, never read\n", rt);
  }
  else {
    /* Everything was read: the least-read range. */
    const struct hm_range *least = NULL;

    for (i = 0; i < ranges->len; i++) {
      const struct hm_range *rg = &g_array_index (ranges, struct hm_range, i);
      if (least == NULL || rg->max_count < least->max_count)
        least = rg;
    }
    if (least) {
      g_autofree char *rt = range_text (&m, least->block, least->n);
      printf ("coldest range:  %s, %" PRIu64 " to %" PRIu64
              " reads per block\n", rt, least->min_count, least->max_count);
    }
  }
  return EXIT_OK;
}

static int
cmd_top (int argc, char **argv)
{
  g_auto (Map) m = { 0 };
  g_autoptr (GArray) ranges = NULL;
  guint64 n;
  uint64_t i, shown = 0;
  int r;

  if (argc != 3)
    return usage_error ("top takes N and FILE");
  if (!g_ascii_string_to_unsigned (argv[1], 10, 1, G_MAXUINT32, &n, NULL))
    return usage_error ("top: N must be a positive number");
  if ((r = load (argv[2], &m)) != EXIT_OK)
    return r;

  ranges = hm_ranges (m.recs, m.h.nr_blocks);
  g_array_sort (ranges, hm_range_cmp_hot);
  printf ("%-16s %14s %10s %12s %14s  %s\n", "offset", "length",
          "reads", "per-block", "bytes", "last read");
  for (i = 0; i < ranges->len && shown < n; i++) {
    const struct hm_range *rg = &g_array_index (ranges, struct hm_range, i);
    uint64_t start = rg->block * block_size (&m);
    uint64_t end = (rg->block + rg->n) * block_size (&m);
    g_autofree char *per = NULL;
    char t[32];

    if (rg->max_count == 0)
      break;
    if (end > m.h.image_size)
      end = m.h.image_size;
    per = rg->min_count == rg->max_count
      ? g_strdup_printf ("%" PRIu64, rg->max_count)
      : g_strdup_printf ("%" PRIu64 "-%" PRIu64, rg->min_count,
                         rg->max_count);
    printf ("%-16" PRIu64 " %14" PRIu64 " %10" PRIu64 " %12s %14" PRIu64
            "  %s\n", start, end - start, rg->reads, per, rg->bytes,
            iso_time (rg->last_us, t));
    shown++;
  }
  return EXIT_OK;
}

/* Time as seconds since the epoch with six decimals, "0" for never. */
static void
print_epoch (uint64_t us)
{
  if (us == 0)
    fputs ("0", stdout);
  else
    printf ("%" PRIu64 ".%06" PRIu64, us / 1000000, us % 1000000);
}

static int
cmd_csv (int argc, char **argv)
{
  g_auto (Map) m = { 0 };
  uint64_t i;
  int r;

  if (argc != 2)
    return usage_error ("csv takes one FILE");
  if ((r = load (argv[1], &m)) != EXIT_OK)
    return r;

  printf ("offset,count,first,last,bytes\n");
  for (i = 0; i < m.h.nr_blocks; i++) {
    const struct hm_record *rec = &m.recs[i];

    printf ("%" PRIu64 ",%" PRIu64 ",", i * block_size (&m), rec->count);
    print_epoch (rec->first_us);
    putchar (',');
    print_epoch (rec->last_us);
    printf (",%" PRIu64 "\n", rec->bytes);
  }
  if (fflush (stdout) == EOF || ferror (stdout)) {
    fprintf (stderr, "%s: write error: %s\n", progname, g_strerror (errno));
    return EXIT_IO;
  }
  return EXIT_OK;
}

/* Parse "-o OUT" at ARGV[1..2]; returns OUT or NULL. */
static const char *
output_arg (int argc, char **argv)
{
  if (argc >= 3 && strcmp (argv[1], "-o") == 0 && argv[2][0] != '\0')
    return argv[2];
  return NULL;
}

static int
cmd_render (int argc, char **argv)
{
  g_auto (Map) m = { 0 };
  g_autoptr (GError) err = NULL;
  g_autofree char *base = NULL, *title = NULL;
  const char *out = output_arg (argc, argv);
  struct hm_geometry g;
  int r;

  if (out == NULL || argc != 4)
    return usage_error ("render takes -o OUT.png and one FILE");
  if ((r = load (argv[3], &m)) != EXIT_OK)
    return r;

  base = g_path_get_basename (m.path);
  title = g_strdup_printf ("%s: %s", base, m.h.label[0] ? m.h.label
                           : "default export");
  if (hm_render_png (&m.h, m.recs, title, out, &err) == -1) {
    fprintf (stderr, "%s: %s\n", progname, err->message);
    return EXIT_IO;
  }
  hm_render_geometry (m.h.nr_blocks, &g);
  printf ("%s: %" PRIu32 "x%" PRIu32 " pixels, %" PRIu64 " cells of %"
          PRIu64 " blocks\n", out, g.width, g.height, g.cells,
          g.cell_blocks);
  return EXIT_OK;
}

static int
cmd_merge (int argc, char **argv)
{
  g_autoptr (GError) err = NULL;
  const char *out = output_arg (argc, argv);
  struct map *maps;
  struct hm_record *sum = NULL;
  struct hm_header h;
  int i, n, r = EXIT_OK;

  if (out == NULL || argc < 5)
    return usage_error ("merge takes -o OUT and at least two FILEs");
  n = argc - 3;
  maps = g_new0 (struct map, n);
  for (i = 0; i < n; i++)
    if ((r = load (argv[3 + i], &maps[i])) != EXIT_OK)
      goto out;

  for (i = 1; i < n; i++) {
    if (memcmp (maps[i].h.identity, maps[0].h.identity,
                HM_IDENTITY_LEN) != 0 ||
        maps[i].h.image_size != maps[0].h.image_size) {
      char a[17], c[17];

      hm_identity_hex (maps[0].h.identity, 8, a);
      hm_identity_hex (maps[i].h.identity, 8, c);
      fprintf (stderr, "%s: %s and %s describe different image versions "
               "(%s: %s; %s: %s); refusing to merge\n", progname,
               maps[0].path, maps[i].path, a, maps[0].h.identity_text,
               c, maps[i].h.identity_text);
      r = EXIT_MISMATCH;
      goto out;
    }
    if (maps[i].h.block_shift != maps[0].h.block_shift) {
      fprintf (stderr, "%s: %s has heat blocks of %" PRIu64 " bytes but %s "
               "has %" PRIu64 "; refusing to merge\n", progname,
               maps[0].path, block_size (&maps[0]), maps[i].path,
               block_size (&maps[i]));
      r = EXIT_MISMATCH;
      goto out;
    }
  }

  h = maps[0].h;
  sum = g_new0 (struct hm_record, h.nr_blocks);
  for (i = 0; i < n; i++) {
    if (maps[i].h.created_us < h.created_us)
      h.created_us = maps[i].h.created_us;
    hm_merge_records (sum, maps[i].recs, h.nr_blocks);
  }
  if (hm_file_create (out, &h, sum, &err) == -1) {
    fprintf (stderr, "%s: %s\n", progname, err->message);
    r = EXIT_IO;
    goto out;
  }

 out:
  for (i = 0; i < n; i++)
    map_clear (&maps[i]);
  g_free (maps);
  g_free (sum);
  return r;
}

int
main (int argc, char *argv[])
{
  static const struct {
    const char *name;
    int (*fn) (int, char **);
  } cmds[] = {
    { "summary", cmd_summary }, { "top", cmd_top }, { "csv", cmd_csv },
    { "render", cmd_render }, { "merge", cmd_merge },
  };
  size_t i;

  if (argc < 2)
    return usage_error ("no command given");
  if (strcmp (argv[1], "--help") == 0 || strcmp (argv[1], "-h") == 0) {
    usage (stdout);
    return EXIT_OK;
  }
  for (i = 0; i < G_N_ELEMENTS (cmds); i++)
    if (strcmp (argv[1], cmds[i].name) == 0)
      return cmds[i].fn (argc - 1, argv + 1);
  fprintf (stderr, "%s: unknown command \"%s\"\n", progname, argv[1]);
  usage (stderr);
  return EXIT_USAGE;
}
