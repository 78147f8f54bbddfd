/* sandbag-relay: the servers (mirrors) a version may be read from, and
 * what the relay knows of each: whether it is worth trying now, how
 * fast it answered, and what it has delivered.
 *
 * Choosing: sources_pick returns the source with the lowest connect
 * latency (an exponentially weighted average; an untried source counts
 * as fastest) among those not waiting out a backoff.  After a failure a
 * source waits 200 ms, doubling per consecutive failure up to 2 s, each
 * wait drawn from 50% to 150% of that (jitter, so that many clients
 * reconnecting after a server restart do not arrive in step).  A source
 * that answers with another version waits 60 s, and is logged.
 *
 * Locking: one mutex inside the set protects every source's health
 * fields; it is held only inside these calls, never across I/O.  The
 * counters (bytes, requests) are atomics, updated without the lock on
 * the request path.
 *
 * Lifetime: the set and its sources live from .get_ready to .unload.
 */
#ifndef SANDBAG_RELAY_SOURCE_H
#define SANDBAG_RELAY_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <glib.h>

#define SOURCES_MAX 16

struct source {
  char *uri;                    /* as given */
  char *connect_uri;            /* the same, asking for the pinned name */
  /* Under the set's lock: */
  unsigned failures;            /* consecutive failures */
  int64_t retry_at_ms;          /* monotonic ms; not tried before this */
  bool wrong_version;           /* last answer was another version */
  double latency_ms;            /* connect time, weighted average; 0 =
                                 * never connected */
  unsigned connections;         /* upstream connections open now */
  /* Atomics: */
  uint64_t bytes;               /* bytes read from it */
  uint64_t requests;            /* reads it answered */
};

struct source_set;

/* Sources for the pinned name PINNED from URIS (N of them, 1 to
 * SOURCES_MAX).  A URI must be nbd:, nbds:, nbd+unix: or nbds+unix:
 * with no export name of its own.  NULL and *ERR if one is not. */
extern struct source_set *sources_new (char *const *uris, size_t n,
                                       const char *pinned, GError **err);
extern void sources_free (struct source_set *set);
extern size_t sources_count (const struct source_set *set);
extern struct source *sources_get (struct source_set *set, size_t i);

/* The source to try now, or NULL if all are waiting: then *WAIT_MS is
 * how long until the first of them may be tried. */
extern struct source *sources_pick (struct source_set *set, int64_t now_ms,
                                    int64_t *wait_ms);

/* A connection to S is up (it took CONNECT_MS), or ended. */
extern void source_connected (struct source_set *set, struct source *s,
                              double connect_ms);
extern void source_disconnected (struct source_set *set, struct source *s);

/* Connecting to S, or a read from it, failed at NOW_MS; WRONG_VERSION if
 * it answered with other bytes than the pinned version. */
extern void source_failed (struct source_set *set, struct source *s,
                           int64_t now_ms, bool wrong_version);

/* One status line per source (see nbdkit-sandbag-relay-plugin.pod),
 * appended to OUT. */
extern void sources_status (struct source_set *set, int64_t now_ms,
                            GString *out);

#endif /* SANDBAG_RELAY_SOURCE_H */
