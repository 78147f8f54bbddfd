/* sandbag-heatmap metrics (see metrics.h).
 *
 * Two passes: every map is loaded, summed up into a struct map_summary
 * and freed, so that only one map is in memory at a time; then the
 * text is produced family by family (node_exporter wants all samples
 * of a family together, after one HELP and one TYPE line) and written
 * at once.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <glib.h>

#include "analysis.h"
#include "atomic-file.h"
#include "full-io.h"
#include "heatmap-format.h"
#include "map-load.h"
#include "metrics.h"

/* Largest included file copied: ratetier's status file is a few KiB. */
#define MAX_INCLUDE_LEN (4 << 20)

/* What the output says of one map. */
struct map_summary {
  char *file;                   /* base name: the map label */
  char export_name[HM_TEXT_LEN];
  char version[17];             /* identity, 16 hex digits */
  uint64_t image_size, heat_block_size, nr_heat_blocks, created_us;
  struct hm_totals t;
};

static void
map_summary_clear (gpointer p)
{
  g_free (((struct map_summary *) p)->file);
}

/* What was gathered, before any output. */
struct gathered {
  GArray *maps;                 /* struct map_summary */
  GHashTable *files;            /* base names seen, to keep labels unique */
  uint64_t unreadable;          /* maps that could not be loaded */
};

static void
usage_line (FILE *fp)
{
  fprintf (fp, "usage: %s metrics -o OUT.prom [--include FILE]... "
           "[MAP|DIR]...\n", HM_PROGNAME);
}

static int
metrics_usage_error (const char *msg)
{
  fprintf (stderr, "%s: metrics: %s\n", HM_PROGNAME, msg);
  usage_line (stderr);
  return EXIT_USAGE;
}

/* Load the map at PATH and add its summary to G. */
static void
gather_map (const char *path, struct gathered *g)
{
  g_auto (Map) m = { 0 };
  g_autofree char *base = g_path_get_basename (path);
  struct map_summary s = { 0 };

  if (g_hash_table_contains (g->files, base)) {
    fprintf (stderr, "%s: %s: another map of that file name was read "
             "already; left out (its labels would be the same)\n",
             HM_PROGNAME, path);
    g->unreadable++;
    return;
  }
  if (map_load (path, &m) != EXIT_OK) {
    g->unreadable++;            /* map_load said why */
    return;
  }
  g_strlcpy (s.export_name, m.h.label, sizeof s.export_name);
  hm_identity_hex (m.h.identity, 8, s.version);
  s.image_size = m.h.image_size;
  s.heat_block_size = heat_block_size (&m);
  s.nr_heat_blocks = m.h.nr_heat_blocks;
  s.created_us = m.h.created_us;
  hm_totals (m.recs, m.h.nr_heat_blocks, &s.t);
  s.file = g_strdup (base);
  g_hash_table_add (g->files, g_steal_pointer (&base));
  g_array_append_val (g->maps, s);
}

static gint
by_name (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

/* Whether NAME, an entry of a map directory, is a current map: a
 * visible "*.heatmap" (maps renamed aside have a suffix after it). */
static bool
is_map_name (const char *name)
{
  return name[0] != '.' && g_str_has_suffix (name, ".heatmap") &&
    strlen (name) > strlen (".heatmap");
}

/* Add the maps of directory DIR to G.  EXIT_OK, or EXIT_IO if DIR
 * cannot be listed. */
static int
gather_dir (const char *dir, struct gathered *g)
{
  g_autoptr (GPtrArray) paths = g_ptr_array_new_with_free_func (g_free);
  struct dirent *d;
  DIR *dp;
  guint i;

  dp = opendir (dir);
  if (dp == NULL) {
    fprintf (stderr, "%s: %s: %s\n", HM_PROGNAME, dir, g_strerror (errno));
    return EXIT_IO;
  }
  while ((d = readdir (dp)) != NULL) {
    g_autofree char *path = NULL;
    struct stat st;

    if (!is_map_name (d->d_name))
      continue;
    path = g_build_filename (dir, d->d_name, NULL);
    if (stat (path, &st) == 0 && S_ISREG (st.st_mode))
      g_ptr_array_add (paths, g_steal_pointer (&path));
  }
  closedir (dp);
  g_ptr_array_sort (paths, by_name);
  for (i = 0; i < paths->len; i++)
    gather_map (g_ptr_array_index (paths, i), g);
  return EXIT_OK;
}

/* Append VALUE as the inside of a quoted label value. */
static void
append_label_value (GString *out, const char *value)
{
  const char *p;

  for (p = value; *p; p++) {
    switch (*p) {
    case '\\': g_string_append (out, "\\\\"); break;
    case '"':  g_string_append (out, "\\\""); break;
    case '\n': g_string_append (out, "\\n"); break;
    default:   g_string_append_c (out, *p);
    }
  }
}

static void
family (GString *out, const char *name, const char *type, const char *help)
{
  g_string_append_printf (out, "# HELP %s %s\n# TYPE %s %s\n",
                          name, help, name, type);
}

/* Microseconds as seconds with six decimals. */
static void
append_seconds (GString *out, uint64_t us)
{
  g_string_append_printf (out, "%" PRIu64 ".%06" PRIu64, us / 1000000,
                          us % 1000000);
}

/* NAME{map,export,version} for map S, without the value. */
static void
map_sample (GString *out, const char *name, const struct map_summary *s)
{
  g_string_append_printf (out, "%s{map=\"", name);
  append_label_value (out, s->file);
  g_string_append (out, "\",export=\"");
  append_label_value (out, s->export_name);
  g_string_append_printf (out, "\",version=\"%s\"} ", s->version);
}

/* One family with one sample per map: the uint64_t at OFFSET of each
 * summary. */
static void
map_family (GString *out, const GArray *maps, const char *name,
            const char *type, const char *help, size_t offset)
{
  guint i;

  family (out, name, type, help);
  for (i = 0; i < maps->len; i++) {
    const struct map_summary *s =
      &g_array_index (maps, struct map_summary, i);

    map_sample (out, name, s);
    g_string_append_printf (out, "%" PRIu64 "\n",
                            *(const uint64_t *) ((const char *) s + offset));
  }
}

static void
emit_maps (GString *out, const struct gathered *g)
{
  const GArray *maps = g->maps;
  guint i;

  family (out, "sandbag_heatmap_maps", "gauge",
          "Heat maps read for these metrics, and those that could not be.");
  g_string_append_printf (out, "sandbag_heatmap_maps{state=\"valid\"} %u\n"
                          "sandbag_heatmap_maps{state=\"unreadable\"} %"
                          PRIu64 "\n", maps->len, g->unreadable);
  map_family (out, maps, "sandbag_heatmap_image_bytes", "gauge",
              "Size of the image version the map describes.",
              G_STRUCT_OFFSET (struct map_summary, image_size));
  map_family (out, maps, "sandbag_heatmap_block_bytes", "gauge",
              "Size of one heat block of the map.",
              G_STRUCT_OFFSET (struct map_summary, heat_block_size));
  map_family (out, maps, "sandbag_heatmap_blocks", "gauge",
              "Heat blocks of the map.",
              G_STRUCT_OFFSET (struct map_summary, nr_heat_blocks));
  map_family (out, maps, "sandbag_heatmap_blocks_read", "gauge",
              "Heat blocks read at least once.",
              G_STRUCT_OFFSET (struct map_summary, t.heat_blocks_read));
  map_family (out, maps, "sandbag_heatmap_reads_total", "counter",
              "Heat block reads (a read touching k heat blocks counts k).",
              G_STRUCT_OFFSET (struct map_summary, t.reads));
  map_family (out, maps, "sandbag_heatmap_served_bytes_total", "counter",
              "Bytes delivered from the image version.",
              G_STRUCT_OFFSET (struct map_summary, t.bytes));

  family (out, "sandbag_heatmap_created_timestamp_seconds", "gauge",
          "When the map was started (the version was first served).");
  for (i = 0; i < maps->len; i++) {
    const struct map_summary *s =
      &g_array_index (maps, struct map_summary, i);

    map_sample (out, "sandbag_heatmap_created_timestamp_seconds", s);
    append_seconds (out, s->created_us);
    g_string_append_c (out, '\n');
  }
  family (out, "sandbag_heatmap_last_read_timestamp_seconds", "gauge",
          "Time of the latest read (maps never read have no sample).");
  for (i = 0; i < maps->len; i++) {
    const struct map_summary *s =
      &g_array_index (maps, struct map_summary, i);

    if (s->t.last_us == 0)
      continue;
    map_sample (out, "sandbag_heatmap_last_read_timestamp_seconds", s);
    append_seconds (out, s->t.last_us);
    g_string_append_c (out, '\n');
  }
}

/* Whether TEXT (LEN bytes) looks like Prometheus text that
 * node_exporter would parse: UTF-8 without NUL, and every line empty, a
 * comment, or a sample (a metric name, labels in braces maybe, a blank
 * and a value, maybe a timestamp).  Label values are not checked to
 * the letter: this keeps out garbage, not every mistake.  On false,
 * *WHY says what is wrong. */
static bool
looks_like_prometheus_text (const char *text, size_t len, const char **why)
{
  g_autoptr (GRegex) sample = NULL;
  g_auto (GStrv) lines = NULL;
  char **l;

  if (memchr (text, '\0', len) != NULL || !g_utf8_validate (text, len, NULL)) {
    *why = "not UTF-8 text";
    return false;
  }
  sample = g_regex_new ("^[a-zA-Z_:][a-zA-Z0-9_:]*(\\{.*\\})? "
                        "[-+0-9.eEInfNa]+( -?[0-9]+)?$", 0, 0, NULL);
  lines = g_strsplit (text, "\n", -1);
  for (l = lines; *l; l++) {
    if (**l != '\0' && **l != '#' && !g_regex_match (sample, *l, 0, NULL)) {
      *why = "a line is neither a comment nor a sample";
      return false;
    }
  }
  return true;
}

/* What became of one --include FILE. */
struct included {
  const char *path;
  bool ok;                      /* copied */
  bool have_mtime;
  struct timespec mtime;
};

/* Copy the included file I->path into OUT if it reads as Prometheus
 * text, and note in *I whether it did and when the file was written. */
static void
include_file (struct included *i, GString *out)
{
  g_autoptr (GError) err = NULL;
  g_autofree uint8_t *buf = NULL;
  const char *why = NULL;
  struct stat st;
  size_t len;

  if (file_read_bounded (i->path, MAX_INCLUDE_LEN, &buf, &len, &err) == -1)
    fprintf (stderr, "%s: --include: %s\n", HM_PROGNAME, err->message);
  else if (!looks_like_prometheus_text ((char *) buf, len, &why))
    fprintf (stderr, "%s: --include: %s: left out: %s\n", HM_PROGNAME,
             i->path, why);
  else {
    g_string_append_len (out, (char *) buf, len);
    if (len > 0 && buf[len - 1] != '\n')
      g_string_append_c (out, '\n');
    i->ok = true;
    if (stat (i->path, &st) == 0) {
      i->have_mtime = true;
      i->mtime = st.st_mtim;
    }
  }
}

/* The included files, then what the output says about them. */
static void
emit_includes (GString *out, GArray *includes)
{
  guint i;

  if (includes->len == 0)
    return;
  for (i = 0; i < includes->len; i++)
    include_file (&g_array_index (includes, struct included, i), out);

  family (out, "sandbag_metrics_include_ok", "gauge",
          "Whether the included file was read and copied (1) or not (0).");
  for (i = 0; i < includes->len; i++) {
    const struct included *inc = &g_array_index (includes, struct included, i);

    g_string_append (out, "sandbag_metrics_include_ok{file=\"");
    append_label_value (out, inc->path);
    g_string_append_printf (out, "\"} %d\n", inc->ok);
  }
  family (out, "sandbag_metrics_include_modified_timestamp_seconds", "gauge",
          "When the included file was last written.");
  for (i = 0; i < includes->len; i++) {
    const struct included *inc = &g_array_index (includes, struct included, i);

    if (!inc->have_mtime)
      continue;
    g_string_append (out, "sandbag_metrics_include_modified_timestamp_seconds"
                     "{file=\"");
    append_label_value (out, inc->path);
    g_string_append_printf (out, "\"} %lld.%09ld\n",
                            (long long) inc->mtime.tv_sec,
                            inc->mtime.tv_nsec);
  }
}

/* Replace PATH with OUT atomically, mode 0644 whatever the umask:
 * node_exporter runs as a user of its own. */
static int
write_output (const char *path, const GString *out, GError **err)
{
  struct atomic_file f;

  if (atomic_file_begin (&f, path, 0644, err) == -1)
    return -1;
  if (fchmod (f.fd, 0644) == -1 || full_write (f.fd, out->str, out->len) == -1) {
    file_set_error (err, errno, "write %s", f.tmp_path);
    atomic_file_abort (&f);
    return -1;
  }
  return atomic_file_commit (&f, false, err);
}

int
hm_cmd_metrics (int argc, char **argv)
{
  g_autoptr (GArray) includes = g_array_new (FALSE, TRUE,
                                            sizeof (struct included));
  g_autoptr (GString) out = g_string_new (NULL);
  g_autoptr (GError) err = NULL;
  struct gathered g = { 0 };
  const char *output = NULL;
  int i, r = EXIT_OK;

  for (i = 1; i < argc && argv[i][0] == '-'; i += 2) {
    if (i + 1 >= argc || argv[i + 1][0] == '\0')
      return metrics_usage_error ("an option lacks its value");
    if (strcmp (argv[i], "-o") == 0 && output == NULL)
      output = argv[i + 1];
    else if (strcmp (argv[i], "--include") == 0) {
      struct included inc = { .path = argv[i + 1] };

      g_array_append_val (includes, inc);
    }
    else
      return metrics_usage_error ("unknown or repeated option");
  }
  if (output == NULL)
    return metrics_usage_error ("-o OUT.prom is required");

  g.maps = g_array_new (FALSE, TRUE, sizeof (struct map_summary));
  g_array_set_clear_func (g.maps, map_summary_clear);
  g.files = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  for (; i < argc && r == EXIT_OK; i++) {
    if (g_file_test (argv[i], G_FILE_TEST_IS_DIR))
      r = gather_dir (argv[i], &g);
    else
      gather_map (argv[i], &g);
  }

  if (r == EXIT_OK) {
    g_string_append (out, "# sandbag-heatmap metrics: heat maps and "
                     "included status files\n");
    emit_includes (out, includes);
    emit_maps (out, &g);
    if (write_output (output, out, &err) == -1) {
      fprintf (stderr, "%s: %s\n", HM_PROGNAME, err->message);
      r = EXIT_IO;
    }
  }
  g_array_unref (g.maps);
  g_hash_table_unref (g.files);
  return r;
}
