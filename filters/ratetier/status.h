/* ratetier: the live status file (ratetier-status=FILE).
 *
 * The file is in the Prometheus text exposition format (version 0.0.4),
 * for node_exporter's textfile collector, and is replaced atomically
 * each time, so a reader never sees half of it.  Metrics:
 *
 *   ratetier_tier_info{tier,below,weight}        1 per tier
 *   ratetier_queue_length{tier}                  gauge: waiting requests
 *   ratetier_running{tier}                       gauge: requests running
 *   ratetier_admitted_total{tier}                counter: requests started
 *   ratetier_wait_seconds{tier}                  histogram: time waited
 *                                                before starting
 *   ratetier_clients_tracked                     gauge
 *   ratetier_clients_connected                   gauge
 *   ratetier_clients_forgotten_total{reason}     counter: "evicted" (to
 *                                                make room), "idle"
 *                                                (ratetier-forget-after)
 *   ratetier_client_table_bytes                  gauge
 *   ratetier_guard_connections_tracked           gauge: connections the
 *                                                guard can close
 *   ratetier_guard_connections_untracked_total   counter: connections it
 *                                                could not match (Unix)
 *   ratetier_guard_trips_total{limit}            counter: connections
 *                                                closed ("handshake-
 *                                                timeout", "idle-timeout")
 *                                                or refused ("max-
 *                                                connections", "max-
 *                                                handshakes")
 *
 * Tier 0 is the fastest; the last tier is the implicit one (below="+Inf").
 * status_format is pure.
 */
#ifndef RATETIER_STATUS_H
#define RATETIER_STATUS_H

#include <stddef.h>

#include <glib.h>

#include "client-table.h"
#include "guard.h"
#include "scheduler.h"

extern void status_format (GString *out, const struct sched_tier_stats *t,
                           size_t ntiers,
                           const struct client_table_stats *clients,
                           const struct guard_stats *guard);

/* Format and replace PATH.  Returns 0, or -1 with nbdkit_error. */
extern int status_write (const char *path, const struct sched_tier_stats *t,
                         size_t ntiers,
                         const struct client_table_stats *clients,
                         const struct guard_stats *guard);

#endif /* RATETIER_STATUS_H */
