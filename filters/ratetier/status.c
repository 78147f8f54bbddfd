/* ratetier: Prometheus text for the status file (see status.h). */
#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>

#include <glib.h>
#include <nbdkit-filter.h>

#include "atomic-file.h"
#include "status.h"

static void
help (GString *out, const char *name, const char *type, const char *text)
{
  g_string_append_printf (out, "# HELP %s %s\n# TYPE %s %s\n",
                          name, text, name, type);
}

void
status_format (GString *out, const struct sched_tier_stats *t, size_t ntiers,
               const struct client_table_stats *clients,
               const struct guard_stats *guard)
{
  size_t i, b;

  help (out, "ratetier_tier_info", "gauge",
        "Tiers: clients with fewer delivered blocks than below, and not "
        "below an earlier tier's, are served with this weight.");
  for (i = 0; i < ntiers; i++) {
    if (i + 1 < ntiers)
      g_string_append_printf (out, "ratetier_tier_info{tier=\"%zu\","
                              "below=\"%" PRIu64 "\",weight=\"%u\"} 1\n",
                              i, t[i].below, t[i].weight);
    else
      g_string_append_printf (out, "ratetier_tier_info{tier=\"%zu\","
                              "below=\"+Inf\",weight=\"%u\"} 1\n",
                              i, t[i].weight);
  }

  help (out, "ratetier_queue_length", "gauge",
        "Requests waiting in the tier's queue.");
  for (i = 0; i < ntiers; i++)
    g_string_append_printf (out, "ratetier_queue_length{tier=\"%zu\"} %"
                            PRIu32 "\n", i, t[i].waiting);

  help (out, "ratetier_running", "gauge",
        "Requests of the tier running in the backend.");
  for (i = 0; i < ntiers; i++)
    g_string_append_printf (out, "ratetier_running{tier=\"%zu\"} %"
                            PRIu32 "\n", i, t[i].running);

  help (out, "ratetier_admitted_total", "counter",
        "Requests the tier has started.");
  for (i = 0; i < ntiers; i++)
    g_string_append_printf (out, "ratetier_admitted_total{tier=\"%zu\"} %"
                            PRIu64 "\n", i, t[i].admitted);

  help (out, "ratetier_wait_seconds", "histogram",
        "Time requests waited in ratetier's queues before starting.");
  for (i = 0; i < ntiers; i++) {
    uint64_t cum = 0;
    for (b = 0; b <= SCHED_WAIT_BUCKETS; b++) {
      cum += t[i].wait_count[b];
      if (b < SCHED_WAIT_BUCKETS)
        g_string_append_printf (out, "ratetier_wait_seconds_bucket"
                                "{tier=\"%zu\",le=\"%g\"} %" PRIu64 "\n",
                                i, sched_wait_bounds[b], cum);
      else
        g_string_append_printf (out, "ratetier_wait_seconds_bucket"
                                "{tier=\"%zu\",le=\"+Inf\"} %" PRIu64 "\n",
                                i, cum);
    }
    g_string_append_printf (out, "ratetier_wait_seconds_sum{tier=\"%zu\"} "
                            "%.6f\n", i, t[i].wait_sum);
    g_string_append_printf (out, "ratetier_wait_seconds_count{tier=\"%zu\"} "
                            "%" PRIu64 "\n", i, cum);
  }

  help (out, "ratetier_clients_tracked", "gauge",
        "Clients in the client table.");
  g_string_append_printf (out, "ratetier_clients_tracked %" PRIu32 "\n",
                          clients->tracked);
  help (out, "ratetier_clients_connected", "gauge",
        "Tracked clients with at least one connection open.");
  g_string_append_printf (out, "ratetier_clients_connected %" PRIu32 "\n",
                          clients->connected);
  help (out, "ratetier_clients_forgotten_total", "counter",
        "Clients forgotten: evicted to make room, or idle for "
        "ratetier-forget-after.");
  g_string_append_printf (out, "ratetier_clients_forgotten_total"
                          "{reason=\"evicted\"} %" PRIu64 "\n"
                          "ratetier_clients_forgotten_total"
                          "{reason=\"idle\"} %" PRIu64 "\n",
                          clients->evicted, clients->forgotten);
  help (out, "ratetier_client_table_bytes", "gauge",
        "Memory used by the client table.");
  g_string_append_printf (out, "ratetier_client_table_bytes %zu\n",
                          clients->memory);

  help (out, "ratetier_guard_connections_tracked", "gauge",
        "Connections the connection guard can close.");
  g_string_append_printf (out, "ratetier_guard_connections_tracked %"
                          PRIu64 "\n", guard->tracked);
  help (out, "ratetier_guard_connections_untracked_total", "counter",
        "Connections the guard could not match to a socket (Unix).");
  g_string_append_printf (out, "ratetier_guard_connections_untracked_total %"
                          PRIu64 "\n", guard->untracked);
  help (out, "ratetier_guard_trips_total", "counter",
        "Connections closed on a timeout or refused over a cap.");
  g_string_append_printf (out,
                          "ratetier_guard_trips_total"
                          "{limit=\"handshake-timeout\"} %" PRIu64 "\n"
                          "ratetier_guard_trips_total"
                          "{limit=\"idle-timeout\"} %" PRIu64 "\n"
                          "ratetier_guard_trips_total"
                          "{limit=\"max-connections\"} %" PRIu64 "\n"
                          "ratetier_guard_trips_total"
                          "{limit=\"max-handshakes\"} %" PRIu64 "\n",
                          guard->handshake_timeouts, guard->idle_timeouts,
                          guard->refused, guard->refused_handshakes);
}

int
status_write (const char *path, const struct sched_tier_stats *t,
              size_t ntiers, const struct client_table_stats *clients,
              const struct guard_stats *guard)
{
  g_autoptr (GString) s = g_string_new (NULL);
  g_autoptr (GError) error = NULL;

  status_format (s, t, ntiers, clients, guard);
  if (atomic_file_replace (path, s->str, s->len, 0644, false, &error) == -1) {
    nbdkit_error ("ratetier-status: %s", error->message);
    return -1;
  }
  return 0;
}
