/* ratetier: the bounded table of known clients.
 *
 * One entry per client key (client-key.h) holds what ratetier knows
 * about that client: how many blocks it has been delivered, how many
 * connections it has open, and when it was last seen.  The table never
 * holds more than max_clients entries.  When it is full, a new client
 * takes the place of the least recently seen client that has no open
 * connection; if every tracked client has a connection open, the new
 * client is refused.
 *
 * Memory: an entry is 64 bytes (struct client) in chunks of 1024
 * entries allocated as the table grows, plus 4 bytes per index slot,
 * with between 2 and 4 slots per entry (the index doubles when it is
 * half full): 72 to 80 bytes per tracked client, never more.
 * client_table_memory reports the exact figure.  The table is its own
 * open-addressing hash table rather than a GHashTable because a
 * GHashTable costs a separate allocation per entry plus 20 bytes per
 * slot for hash, key and value pointers (over 130 bytes per client with
 * this entry), and because entries must not move: the connection
 * handles and the scheduler keep pointers to them.
 *
 * Locking: one mutex inside the table protects the index, the idle
 * list, conns and last_seen.  It is taken by the calls below and held
 * only for their duration (O(1), except forget and decay, which walk
 * the table from the background thread).  delivered is updated with
 * atomic operations and read without the lock, so the request path
 * never takes the table lock.  sched belongs to the scheduler and is
 * protected by the scheduler's lock.
 *
 * Lifetime: a struct client stays valid while it has an open
 * connection (conns > 0); only clients without connections are evicted
 * or forgotten.  Time is in whole seconds of a clock the caller
 * chooses (the filter uses the monotonic clock).
 *
 * Bounds: at most CLIENT_TABLE_MAX_CLIENTS entries (1.3 GB at 80 bytes
 * each), so that every count fits in 32 bits with room to spare: entry
 * numbers and the used, connected and allocated counts stay below
 * 2^24, the index below 2^26 slots (the doubling test, used * 2, and
 * the doubling itself cannot wrap).  conns counts a client's open
 * connections, each of which holds a thread and a descriptor.
 */
#ifndef RATETIER_CLIENT_TABLE_H
#define RATETIER_CLIENT_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client-key.h"
#include "secret.h"

/* The largest ratetier-max-clients: 2^24 clients. */
#define CLIENT_TABLE_MAX_CLIENTS (UINT32_C (1) << 24)

/* delivered is kept in units of 1/256 block so that decay can shrink
 * small counts smoothly; these convert.
 */
#define CLIENT_UNITS_PER_BLOCK 256

/* The largest delivered count a client starts with (restored from a
 * file): 2^63 - 1 units, so that adding every request the client will
 * ever make (2^40 units at most each) can never wrap it around to a
 * light client's count.
 */
#define CLIENT_MAX_UNITS ((uint64_t) INT64_MAX)

struct client {
  struct client_key key;      /* immutable while the entry is in use */
  uint64_t delivered;         /* 1/256 blocks served; atomic access only */
  int64_t last_seen;          /* seconds; table lock */
  uint32_t conns;             /* open connections; table lock */
  uint32_t lru_prev;          /* idle list (or free list) links, entry */
  uint32_t lru_next;          /*   index + 1, 0 = none; table lock */
  uint32_t reserved;          /* zero */
  void *sched;                /* owned by the scheduler, under its lock */
};

struct client_table_stats {
  uint32_t tracked;           /* clients in the table */
  uint32_t connected;         /* of which with a connection open */
  uint64_t evicted;           /* forgotten to make room (table full) */
  uint64_t forgotten;         /* forgotten after ratetier-forget-after */
  size_t memory;              /* bytes used by entries and index */
};

struct client_table;

/* A table for at most MAX_CLIENTS clients (from 1 to
 * CLIENT_TABLE_MAX_CLIENTS; outside, the nearest), hashing keys under
 * SECRET (copied; secret_generate's).
 */
extern struct client_table *client_table_new
  (uint32_t max_clients, const uint8_t secret[SECRET_BYTES]);
extern void client_table_free (struct client_table *t);

/* A connection from KEY arrives at NOW: find or add the client, count
 * the connection and return the client.  If the table is full and no
 * client can be evicted, call nbdkit_error and return NULL.
 */
extern struct client *client_table_connect (struct client_table *t,
                                            const struct client_key *key,
                                            int64_t now);

/* One of C's connections closed at NOW.  C may be evicted from now on
 * once it has no connection left, so do not use C afterwards.
 */
extern void client_table_disconnect (struct client_table *t,
                                     struct client *c, int64_t now);

/* Open connections of C (a snapshot). */
extern uint32_t client_table_connections (struct client_table *t,
                                          const struct client *c);

/* The MAX_CLIENTS the table was made for. */
extern uint32_t client_table_capacity (const struct client_table *t);

/* Add a client without a connection (restoring saved state), with
 * DELIVERED_UNITS (at most CLIENT_MAX_UNITS: larger is taken as that).
 * If KEY is already present, its delivered count becomes the larger of
 * the two.
 * When the table is full the least recently seen idle client makes
 * room, unless it was seen more recently than LAST_SEEN, in which case
 * nothing is added.  Returns true if the entry was added or updated.
 */
extern bool client_table_restore (struct client_table *t,
                                  const struct client_key *key,
                                  uint64_t delivered_units,
                                  int64_t last_seen);

/* Forget every client with no open connection last seen before
 * BEFORE.  Returns how many were forgotten.
 */
extern size_t client_table_forget_idle (struct client_table *t,
                                        int64_t before);

/* Multiply every client's delivered count by FACTOR (0 < FACTOR <= 1),
 * rounding down.
 */
extern void client_table_decay (struct client_table *t, double factor);

/* Call FN on every client, with the table lock held: FN must be quick
 * and must not call back into the table.
 */
extern void client_table_foreach (struct client_table *t,
                                  void (*fn) (const struct client *c,
                                              void *opaque),
                                  void *opaque);

extern void client_table_get_stats (struct client_table *t,
                                    struct client_table_stats *stats);

/* Delivered blocks of C, and adding to them: lock-free. */
static inline uint64_t
client_delivered_blocks (const struct client *c)
{
  return __atomic_load_n (&c->delivered, __ATOMIC_RELAXED)
    / CLIENT_UNITS_PER_BLOCK;
}

static inline void
client_add_blocks (struct client *c, uint64_t blocks)
{
  __atomic_fetch_add (&c->delivered, blocks * CLIENT_UNITS_PER_BLOCK,
                      __ATOMIC_RELAXED);
}

#endif /* RATETIER_CLIENT_TABLE_H */
