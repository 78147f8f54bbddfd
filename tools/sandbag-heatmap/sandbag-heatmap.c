/* sandbag-heatmap: answers and pictures from the heat maps written by
 * nbdkit-heatmap-filter.
 *
 *   sandbag-heatmap summary FILE
 *   sandbag-heatmap top N FILE
 *   sandbag-heatmap csv FILE
 *   sandbag-heatmap render -o OUT.png FILE
 *   sandbag-heatmap merge -o OUT FILE1 FILE2 ...
 *   sandbag-heatmap metrics -o OUT.prom [--include FILE]... [MAP|DIR]...
 *
 * Every input is read whole and validated with the same code the filter
 * uses (map-load.h), so a live map can be read while nbdkit updates it
 * (each field is read as one 64-bit value; fields of one record may be a
 * few reads apart).  Exit codes are the EXIT_* values of map-load.h,
 * documented in sandbag-heatmap(1).  metrics is in metrics.c.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <glib.h>

#include "analysis.h"
#include "atomic-file.h"
#include "heatmap-file.h"
#include "heatmap-format.h"
#include "map-load.h"
#include "metrics.h"
#include "render.h"

static const char *progname = HM_PROGNAME;

static void
usage (FILE *fp)
{
  fprintf (fp,
           "usage: %s summary FILE\n"
           "       %s top N FILE\n"
           "       %s csv FILE\n"
           "       %s render -o OUT.png FILE\n"
           "       %s merge -o OUT FILE1 FILE2 ...\n"
           "       %s metrics -o OUT.prom [--include FILE]... "
           "[MAP|DIR]...\n"
           "Read heat maps written by nbdkit-heatmap-filter; see "
           "sandbag-heatmap(1).\n",
           progname, progname, progname, progname, progname, progname);
}

static int
usage_error (const char *msg)
{
  fprintf (stderr, "%s: %s\n", progname, msg);
  usage (stderr);
  return EXIT_USAGE;
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

/* Byte range of heat blocks [B, B+N) as "START-END (SIZE)". */
static char *
range_text (const struct map *m, uint64_t b, uint64_t n)
{
  uint64_t start = b * heat_block_size (m);
  uint64_t end = (b + n) * heat_block_size (m);
  g_autofree char *size = NULL;

  if (end > m->h.image_size)
    end = m->h.image_size;
  size = hm_format_size (end - start);
  return g_strdup_printf ("%" PRIu64 "-%" PRIu64 " (%s)", start, end - 1,
                          size);
}

static void field (const char *label, const char *fs, ...)
  G_GNUC_PRINTF (2, 3);

/* One line of the summary: "LABEL:", padded to the value column, and
 * the value. */
static void
field (const char *label, const char *fs, ...)
{
  g_autofree char *with_colon = g_strconcat (label, ":", NULL);
  va_list args;

  printf ("%-18s", with_colon);
  va_start (args, fs);
  vprintf (fs, args);
  va_end (args);
  putchar ('\n');
}

/* The summary lines about the map itself. */
static void
summarize_map (const struct map *m)
{
  g_autofree char *image = hm_format_size (m->h.image_size);
  g_autofree char *heat_block = hm_format_size (heat_block_size (m));
  char idhex[17], created[32];

  hm_identity_hex (m->h.identity, 8, idhex);
  field ("file", "%s", m->path);
  field ("export", "%s", m->h.label[0] ? m->h.label : "(default export)");
  field ("image version", "%s (%s)", idhex, m->h.identity_text);
  field ("map created", "%s", iso_time (m->h.created_us, created));
  field ("image size", "%" PRIu64 " bytes (%s)", m->h.image_size, image);
  field ("heat block", "%" PRIu64 " bytes (%s), %" PRIu64 " heat blocks",
         heat_block_size (m), heat_block, m->h.nr_heat_blocks);
}

/* A summary line about range R (NULL: there is none). */
static void
summarize_range (const char *label, const struct map *m,
                 const struct hm_range *r)
{
  g_autofree char *where = NULL;

  if (r == NULL) {
    field (label, "none (nothing read)");
    return;
  }
  where = range_text (m, r->first, r->n);
  if (r->max_count == 0)
    field (label, "%s, never read", where);
  else
    field (label, "%s, %" PRIu64 " to %" PRIu64 " reads per heat block",
           where, r->min_count, r->max_count);
}

/* The summary lines about what was read. */
static void
summarize_reads (const struct map *m)
{
  g_autoptr (GArray) ranges = hm_ranges (m->recs, m->h.nr_heat_blocks);
  g_autofree char *served = NULL;
  struct hm_totals t;
  char first[32], last[32];

  hm_totals (m->recs, m->h.nr_heat_blocks, &t);
  served = hm_format_size (t.bytes);
  field ("heat blocks read", "%" PRIu64 " of %" PRIu64 " (%.1f%%)",
         t.heat_blocks_read, m->h.nr_heat_blocks,
         100.0 * t.heat_blocks_read / m->h.nr_heat_blocks);
  field ("reads", "%" PRIu64 " (heat block reads: a read that touches "
         "k heat blocks counts k times)", t.reads);
  field ("bytes served", "%" PRIu64 " (%s)", t.bytes, served);
  field ("time span", "%s to %s", iso_time (t.first_us, first),
         iso_time (t.last_us, last));
  summarize_range ("hottest range", m, hm_hottest_range (ranges));
  summarize_range ("coldest range", m, hm_coldest_range (ranges));
}

static int
cmd_summary (int argc, char **argv)
{
  g_auto (Map) m = { 0 };
  int r;

  if (argc != 2)
    return usage_error ("summary takes one FILE");
  if ((r = map_load (argv[1], &m)) != EXIT_OK)
    return r;
  summarize_map (&m);
  summarize_reads (&m);
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
  if ((r = map_load (argv[2], &m)) != EXIT_OK)
    return r;

  ranges = hm_ranges (m.recs, m.h.nr_heat_blocks);
  g_array_sort (ranges, hm_range_cmp_hot);
  printf ("%-16s %14s %10s %14s %14s  %s\n", "offset", "length",
          "reads", "per-heat-block", "bytes", "last read");
  for (i = 0; i < ranges->len && shown < n; i++) {
    const struct hm_range *rg = &g_array_index (ranges, struct hm_range, i);
    uint64_t start = rg->first * heat_block_size (&m);
    uint64_t end = (rg->first + rg->n) * heat_block_size (&m);
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
    printf ("%-16" PRIu64 " %14" PRIu64 " %10" PRIu64 " %14s %14" PRIu64
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
  if ((r = map_load (argv[1], &m)) != EXIT_OK)
    return r;

  printf ("offset,count,first,last,bytes\n");
  for (i = 0; i < m.h.nr_heat_blocks; i++) {
    const struct hm_record *rec = &m.recs[i];

    printf ("%" PRIu64 ",%" PRIu64 ",", i * heat_block_size (&m), rec->count);
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
  if ((r = map_load (argv[3], &m)) != EXIT_OK)
    return r;

  base = g_path_get_basename (m.path);
  title = g_strdup_printf ("%s: %s", base, m.h.label[0] ? m.h.label
                           : "default export");
  if (hm_render_png (&m.h, m.recs, title, out, &err) == -1) {
    fprintf (stderr, "%s: %s\n", progname, err->message);
    return EXIT_IO;
  }
  hm_render_geometry (m.h.nr_heat_blocks, &g);
  printf ("%s: %" PRIu32 "x%" PRIu32 " pixels, %" PRIu64 " cells of %"
          PRIu64 " heat blocks\n", out, g.width, g.height, g.cells,
          g.cell_heat_blocks);
  return EXIT_OK;
}

/* Can FIRST and M be merged (the same image version and heat block
 * size)?  EXIT_OK, or EXIT_MISMATCH after saying why not. */
static int
check_mergeable (const struct map *first, const struct map *m)
{
  char a[17], b[17];

  if (memcmp (m->h.identity, first->h.identity, HM_IDENTITY_LEN) != 0 ||
      m->h.image_size != first->h.image_size) {
    hm_identity_hex (first->h.identity, 8, a);
    hm_identity_hex (m->h.identity, 8, b);
    fprintf (stderr, "%s: %s and %s describe different image versions "
             "(%s: %s; %s: %s); refusing to merge\n", progname,
             first->path, m->path, a, first->h.identity_text,
             b, m->h.identity_text);
    return EXIT_MISMATCH;
  }
  if (m->h.heat_block_shift != first->h.heat_block_shift) {
    fprintf (stderr, "%s: %s has heat blocks of %" PRIu64 " bytes but %s "
             "has %" PRIu64 "; refusing to merge\n", progname,
             first->path, heat_block_size (first), m->path,
             heat_block_size (m));
    return EXIT_MISMATCH;
  }
  return EXIT_OK;
}

/* Add the map at PATH into SUM, which holds FIRST and the maps merged
 * so far: its records, and its creation time if earlier. */
static int
merge_one (const char *path, struct map *sum)
{
  g_auto (Map) m = { 0 };
  int r;

  if ((r = map_load (path, &m)) != EXIT_OK ||
      (r = check_mergeable (sum, &m)) != EXIT_OK)
    return r;
  sum->h.created_us = MIN (sum->h.created_us, m.h.created_us);
  hm_merge_records (sum->recs, m.recs, sum->h.nr_heat_blocks);
  return EXIT_OK;
}

/* Inputs are read one at a time and added into the first, so merging
 * holds two maps in memory whatever their number. */
static int
cmd_merge (int argc, char **argv)
{
  g_autoptr (GError) err = NULL;
  const char *out = output_arg (argc, argv);
  g_auto (Map) sum = { 0 };
  int i, r;

  if (out == NULL || argc < 5)
    return usage_error ("merge takes -o OUT and at least two FILEs");
  r = map_load (argv[3], &sum);
  for (i = 4; i < argc && r == EXIT_OK; i++)
    r = merge_one (argv[i], &sum);
  if (r == EXIT_OK && hm_file_create (out, &sum.h, sum.recs, &err) == -1) {
    fprintf (stderr, "%s: %s\n", progname, err->message);
    r = EXIT_IO;
  }
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
    { "metrics", hm_cmd_metrics },
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
