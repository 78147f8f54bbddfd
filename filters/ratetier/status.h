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
 *
 * Tier 0 is the fastest; the last tier is the implicit one (below="+Inf").
 * status_format is pure.
 */
#ifndef RATETIER_STATUS_H
#define RATETIER_STATUS_H

#include <stddef.h>

#include <glib.h>

#include "client-table.h"
#include "scheduler.h"

extern void status_format (GString *out, const struct sched_tier_stats *t,
                           size_t ntiers,
                           const struct client_table_stats *clients);

/* Format and replace PATH.  Returns 0, or -1 with nbdkit_error. */
extern int status_write (const char *path, const struct sched_tier_stats *t,
                         size_t ntiers,
                         const struct client_table_stats *clients);

#endif /* RATETIER_STATUS_H */
