/* Unit test: the Prometheus status text (filters/ratetier/status.c).
 *
 * Checks the metric lines a node_exporter user would query, that the
 * histogram is cumulative and ends with +Inf = _count, and that every
 * metric has HELP and TYPE lines.
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
  g_auto (GStrv) lines = NULL;
  size_t i;

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

  /* Every sample's metric family has a TYPE line before it. */
  lines = g_strsplit (s->str, "\n", -1);
  for (i = 0; lines[i]; i++) {
    g_autofree char *family = NULL;
    g_autofree char *type = NULL;
    if (lines[i][0] == '\0' || lines[i][0] == '#')
      continue;
    family = g_strndup (lines[i], strcspn (lines[i], "{ "));
    if (g_str_has_prefix (family, "ratetier_wait_seconds_"))
      family[strlen ("ratetier_wait_seconds")] = '\0';
    type = g_strdup_printf ("# TYPE %s ", family);
    g_assert_nonnull (strstr (s->str, type));
  }
  g_string_free (s, TRUE);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/ratetier/status/format", test_format);
  return g_test_run ();
}
