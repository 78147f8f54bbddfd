/* Unit test: the Prometheus status text (filters/ratetier/status.c).
 *
 * Checks the metric lines a node_exporter user would query, that the
 * histogram is cumulative and ends with +Inf = _count, and that the text
 * is well-formed Prometheus exposition: every metric family has exactly
 * one "# HELP" line with a text, then one "# TYPE" line with a known
 * type, both before its samples, and its samples together; counters end
 * in _total.
 */
#include <stdint.h>
#include <string.h>

#include <glib.h>

#include "nbdkit-shim.h"
#include "../filters/ratetier/status.h"

static void
assert_line (const char *text, const char *line)
{
  g_autofree char *l = g_strdup_printf ("\n%s\n", line);

  if (strstr (text, l) == NULL)
    g_error ("missing line \"%s\" in:\n%s", line, text);
}

/* The family a sample line belongs to: its metric name, without the
 * _bucket, _sum or _count of a histogram's series.
 */
static char *
family_of (const char *line, GHashTable *types)
{
  g_autofree char *name = g_strndup (line, strcspn (line, "{ "));
  static const char *const suffixes[] = { "_bucket", "_sum", "_count" };
  size_t i;

  for (i = 0; i < G_N_ELEMENTS (suffixes); i++)
    if (g_str_has_suffix (name, suffixes[i])) {
      g_autofree char *base =
        g_strndup (name, strlen (name) - strlen (suffixes[i]));
      if (g_strcmp0 (g_hash_table_lookup (types, base), "histogram") == 0)
        return g_steal_pointer (&base);
    }
  return g_steal_pointer (&name);
}

/* TEXT, read top to bottom as a Prometheus scraper would: HELP, then
 * TYPE, then the family's samples, for each family in turn.
 */
static void
assert_well_formed (const char *text)
{
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  g_autoptr (GHashTable) helps =
    g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr (GHashTable) types =
    g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_autoptr (GHashTable) sampled =
    g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autofree char *current = NULL;      /* the family being listed */
  GHashTableIter iter;
  gpointer name, type;
  size_t i;

  for (i = 0; lines[i]; i++) {
    const char *l = lines[i];
    g_auto (GStrv) w = NULL;

    if (l[0] == '\0')
      continue;
    if (g_str_has_prefix (l, "# HELP ")) {
      w = g_strsplit (l + 7, " ", 2);
      if (w[1] == NULL || w[1][0] == '\0')
        g_error ("HELP without a text: %s", l);
      if (g_hash_table_contains (helps, w[0]))
        g_error ("second HELP for %s", w[0]);
      g_hash_table_add (helps, g_strdup (w[0]));
      g_free (current);
      current = g_strdup (w[0]);
    }
    else if (g_str_has_prefix (l, "# TYPE ")) {
      w = g_strsplit (l + 7, " ", -1);
      if (g_strv_length (w) != 2 ||
          !g_strv_contains ((const char *const[]) { "counter", "gauge",
                                                    "histogram", NULL },
                            w[1]))
        g_error ("bad TYPE line: %s", l);
      if (g_strcmp0 (current, w[0]) != 0 ||
          g_hash_table_contains (types, w[0]))
        g_error ("TYPE for %s not right after its HELP", w[0]);
      if (strcmp (w[1], "counter") == 0 && !g_str_has_suffix (w[0], "_total"))
        g_error ("counter %s does not end in _total", w[0]);
      g_hash_table_insert (types, g_strdup (w[0]), g_strdup (w[1]));
    }
    else if (l[0] == '#')
      g_error ("unexpected comment: %s", l);
    else {
      g_autofree char *family = family_of (l, types);

      if (g_strcmp0 (family, current) != 0 ||
          !g_hash_table_contains (types, family))
        g_error ("sample of %s outside its family's HELP and TYPE "
                 "block: %s", family, l);
      g_hash_table_add (sampled, g_steal_pointer (&family));
    }
  }
  g_hash_table_iter_init (&iter, types);
  while (g_hash_table_iter_next (&iter, &name, &type))
    if (!g_hash_table_contains (sampled, name))
      g_error ("family %s has no sample", (const char *) name);
  /* Every HELP was followed by its TYPE. */
  g_assert_cmpuint (g_hash_table_size (types), ==,
                    g_hash_table_size (helps));
}

static void
test_format (void)
{
  struct sched_tier_stats t[2];
  struct client_table_stats c = {
    .tracked = 7, .connected = 2, .evicted = 3, .forgotten = 4,
    .memory = 70000,
  };
  const struct guard_stats g = {
    .tracked = 12, .untracked = 1, .handshake_timeouts = 2,
    .idle_timeouts = 3, .refused = 4, .refused_handshakes = 5,
  };
  GString *s = g_string_new ("\n");

  memset (t, 0, sizeof t);
  t[0].weight = 10;
  t[0].below = 1000;
  t[0].waiting = 5;
  t[0].running = 2;
  t[0].admitted = 100;
  t[0].wait_count[0] = 90;
  t[0].wait_count[3] = 9;
  t[0].wait_count[SCHED_WAIT_BUCKETS] = 1;
  t[0].wait_sum = 42.5;
  t[1].weight = 1;
  t[1].below = UINT64_MAX;

  status_format (s, t, 2, &c, &g);
  assert_line (s->str, "ratetier_tier_info{tier=\"0\",below=\"1000\","
               "weight=\"10\"} 1");
  assert_line (s->str, "ratetier_tier_info{tier=\"1\",below=\"+Inf\","
               "weight=\"1\"} 1");
  assert_line (s->str, "ratetier_queue_length{tier=\"0\"} 5");
  assert_line (s->str, "ratetier_running{tier=\"0\"} 2");
  assert_line (s->str, "ratetier_admitted_total{tier=\"0\"} 100");
  assert_line (s->str, "ratetier_wait_seconds_bucket{tier=\"0\","
               "le=\"0.0001\"} 90");
  assert_line (s->str, "ratetier_wait_seconds_bucket{tier=\"0\","
               "le=\"0.005\"} 90");
  assert_line (s->str, "ratetier_wait_seconds_bucket{tier=\"0\","
               "le=\"0.01\"} 99");
  assert_line (s->str, "ratetier_wait_seconds_bucket{tier=\"0\","
               "le=\"+Inf\"} 100");
  assert_line (s->str, "ratetier_wait_seconds_count{tier=\"0\"} 100");
  assert_line (s->str, "ratetier_wait_seconds_sum{tier=\"0\"} 42.500000");
  assert_line (s->str, "ratetier_clients_tracked 7");
  assert_line (s->str, "ratetier_clients_connected 2");
  assert_line (s->str, "ratetier_clients_forgotten_total{reason=\"evicted\"} 3");
  assert_line (s->str, "ratetier_clients_forgotten_total{reason=\"idle\"} 4");
  assert_line (s->str, "ratetier_client_table_bytes 70000");
  assert_line (s->str, "ratetier_guard_connections_tracked 12");
  assert_line (s->str, "ratetier_guard_connections_untracked_total 1");
  assert_line (s->str,
               "ratetier_guard_trips_total{limit=\"handshake-timeout\"} 2");
  assert_line (s->str,
               "ratetier_guard_trips_total{limit=\"idle-timeout\"} 3");
  assert_line (s->str,
               "ratetier_guard_trips_total{limit=\"max-connections\"} 4");
  assert_line (s->str,
               "ratetier_guard_trips_total{limit=\"max-handshakes\"} 5");

  assert_well_formed (s->str);
  g_string_free (s, TRUE);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/ratetier/status/format", test_format);
  return g_test_run ();
}
