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

/* NAME{tier="TIER"} VALUE */
static void
tier_sample (GString *out, const char *name, size_t tier, uint64_t value)
{
  g_string_append_printf (out, "%s{tier=\"%zu\"} %" PRIu64 "\n",
                          name, tier, value);
}

/* NAME{LABEL="LABEL_VALUE"} VALUE, or NAME VALUE without LABEL. */
static void
sample (GString *out, const char *name, const char *label,
        const char *label_value, uint64_t value)
{
  if (label)
    g_string_append_printf (out, "%s{%s=\"%s\"} %" PRIu64 "\n",
                            name, label, label_value, value);
  else
    g_string_append_printf (out, "%s %" PRIu64 "\n", name, value);
}

static void
format_tiers (GString *out, const struct sched_tier_stats *t, size_t ntiers)
{
  size_t i;

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
    tier_sample (out, "ratetier_queue_length", i, t[i].waiting);
  help (out, "ratetier_running", "gauge",
        "Requests of the tier running in the backend.");
  for (i = 0; i < ntiers; i++)
    tier_sample (out, "ratetier_running", i, t[i].running);
  help (out, "ratetier_admitted_total", "counter",
        "Requests the tier has started.");
  for (i = 0; i < ntiers; i++)
    tier_sample (out, "ratetier_admitted_total", i, t[i].admitted);
}

/* The wait histogram: cumulative buckets, +Inf equal to _count. */
static void
format_waits (GString *out, const struct sched_tier_stats *t, size_t ntiers)
{
  size_t i, b;

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
    tier_sample (out, "ratetier_wait_seconds_count", i, cum);
  }
}

static void
format_clients (GString *out, const struct client_table_stats *c)
{
  help (out, "ratetier_clients_tracked", "gauge",
        "Clients in the client table.");
  sample (out, "ratetier_clients_tracked", NULL, NULL, c->tracked);
  help (out, "ratetier_clients_connected", "gauge",
        "Tracked clients with at least one connection open.");
  sample (out, "ratetier_clients_connected", NULL, NULL, c->connected);
  help (out, "ratetier_clients_forgotten_total", "counter",
        "Clients forgotten: evicted to make room, or idle for "
        "ratetier-forget-after.");
  sample (out, "ratetier_clients_forgotten_total", "reason", "evicted",
          c->evicted);
  sample (out, "ratetier_clients_forgotten_total", "reason", "idle",
          c->forgotten);
  help (out, "ratetier_client_table_bytes", "gauge",
        "Memory used by the client table.");
  sample (out, "ratetier_client_table_bytes", NULL, NULL, c->memory);
}

static void
format_guard (GString *out, const struct guard_stats *g)
{
  static const char trips[] = "ratetier_guard_trips_total";

  help (out, "ratetier_guard_connections_tracked", "gauge",
        "Connections the connection guard can close.");
  sample (out, "ratetier_guard_connections_tracked", NULL, NULL,
          g->tracked);
  help (out, "ratetier_guard_connections_untracked_total", "counter",
        "Connections the guard could not match to a socket (Unix).");
  sample (out, "ratetier_guard_connections_untracked_total", NULL, NULL,
          g->untracked);
  help (out, trips, "counter",
        "Connections closed on a timeout or refused over a cap.");
  sample (out, trips, "limit", "handshake-timeout", g->handshake_timeouts);
  sample (out, trips, "limit", "idle-timeout", g->idle_timeouts);
  sample (out, trips, "limit", "max-connections", g->refused);
  sample (out, trips, "limit", "max-handshakes", g->refused_handshakes);
}

void
status_format (GString *out, const struct sched_tier_stats *t, size_t ntiers,
               const struct client_table_stats *clients,
               const struct guard_stats *guard)
{
  format_tiers (out, t, ntiers);
  format_waits (out, t, ntiers);
  format_clients (out, clients);
  format_guard (out, guard);
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
