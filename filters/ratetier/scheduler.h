/* ratetier: the tiered request scheduler.
 *
 * Every request that reaches the backend first enters the scheduler
 * (sched_enter), which blocks its thread until the request may run,
 * and leaves it when the backend has answered (sched_leave).
 *
 * Placement.  On arrival a request is placed in the tier its client's
 * delivered block count selects (tiers_place).  Each client has one
 * FIFO of waiting requests (so a client's requests start in the order
 * they came); the client takes part in the round robin of the tier of
 * its oldest waiting request.
 *
 * What a weight buys.  Two things, both in proportion to the weight:
 *  - Slots: tier i has at most weight_i x concurrency requests running
 *    at once.  A fast tier's slots are its own, so a light client never
 *    queues behind bulk transfers for a slot, and the slowest tier
 *    cannot fill the server (or the rate filter below) with its
 *    requests.
 *  - A share of the blocks: while several tiers have work (requests
 *    waiting or running), each receives blocks in proportion to its
 *    weight.  Each tier keeps a virtual time, advanced by
 *    cost / weight as its requests start (cost = the request's blocks);
 *    a tier may start a request only if its virtual time is not ahead
 *    of any other active tier's.  A tier that becomes active again
 *    resumes at the virtual time of the latest start (start-time fair
 *    queueing), so idle time is not banked, and a client that sends
 *    one request at a time starts it at once.
 *  Blocks, not requests, are the currency because requests differ in
 *  size by a factor of 256 (4 KiB random reads, 1 MiB scans): counting
 *  requests would hand a scanner 256 times a reader's share.  A tier
 *  stays active while its requests run (not only while they wait),
 *  because a light client has few requests outstanding: it is rarely
 *  seen waiting, and a rule that only counted waiting requests would
 *  let bulk requests take its share whenever its own were running.
 *
 * Within a tier, clients take turns, one request per turn, and the
 * turns are weighed in blocks (start-time fair queueing): the next
 * request comes from the client that has started the fewest blocks
 * since it joined the tier's queue, the earliest in round-robin order
 * among equals.  So a client with a deep queue cannot hold its
 * tier-mates back, clients with equal requests alternate, and a 4 KiB
 * reader is not starved of blocks by a 1 MiB scanner in its tier.
 * Choosing costs O(clients waiting in the tier) per request.
 *
 * Modes.  CONTINUOUS refills a slot as soon as a request leaves.  BATCH
 * starts requests only when none is running: an iteration starts up to
 * weight x concurrency requests per tier and the next iteration waits
 * for all of them to finish.
 *
 * Waiting.  A waiting thread sleeps on its own condition variable (no
 * busy waiting, no extra threads).  Every slice_ms it calls
 * config->alive (); if that fails (the client went away, or the server
 * is shutting down) the request is removed from the queue, counted
 * nowhere, and sched_enter fails with the errno alive left.  Waiters
 * of one client that give up leave at least 20 ms apart (a workaround
 * for nbdkit 1.32, see DROP_SPACING_US in scheduler.c).
 * sched_shutdown makes every waiter fail at once, and admits nothing
 * more (requests already running finish).
 *
 * Locking: one mutex per scheduler, held only for O(tiers) queue work;
 * never across alive () or the backend call.
 */
#ifndef RATETIER_SCHEDULER_H
#define RATETIER_SCHEDULER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client-table.h"
#include "tiers.h"

enum sched_mode {
  SCHED_MODE_CONTINUOUS = 0,
  SCHED_MODE_BATCH = 1,
};

/* Upper bounds (seconds) of the wait-time histogram buckets; the last
 * bucket, +Inf, is implicit.
 */
#define SCHED_WAIT_BUCKETS 10
extern const double sched_wait_bounds[SCHED_WAIT_BUCKETS];

/* What the trace hook is told, under the scheduler lock. */
enum sched_event {
  SCHED_QUEUED,               /* a request was placed in TIER */
  SCHED_ADMITTED,             /* it may start now */
  SCHED_DROPPED,              /* it was abandoned while waiting */
};

typedef void sched_trace_fn (void *opaque, enum sched_event event,
                             const struct client *c, unsigned tier,
                             uint32_t cost, uint64_t offset,
                             double waited /* seconds */);

struct sched_config {
  const struct tiers *tiers;  /* borrowed; must outlive the scheduler */
  enum sched_mode mode;
  unsigned concurrency;       /* >= 1: slots per unit of weight */
  unsigned slice_ms;          /* >= 1: how often waiters call alive */
  int (*alive) (void);        /* 0 = go on waiting, -1 = give up */
  sched_trace_fn *trace;      /* NULL, or called for every decision */
  void *trace_opaque;
};

struct sched_tier_stats {
  unsigned weight;
  uint64_t below;             /* the tier's threshold */
  uint32_t waiting;           /* requests placed in the tier, waiting */
  uint32_t running;           /* requests started, not yet left */
  uint64_t admitted;          /* requests started since the start */
  uint64_t wait_count[SCHED_WAIT_BUCKETS + 1]; /* per bucket, not
                                                * cumulative */
  double wait_sum;            /* seconds waited by admitted requests */
};

struct sched_ticket {
  unsigned tier;              /* where the request ran */
};

struct sched;

extern struct sched *sched_new (const struct sched_config *config);
extern void sched_free (struct sched *s);

/* Wait until a request of COST (>= 1) blocks from client C may start.
 * OFFSET is only used in the trace.  Returns 0 and fills *TICKET; the
 * caller must then call sched_leave exactly once.  Returns -1 with
 * errno set if the request was abandoned.  C must stay valid until
 * sched_leave (the caller holds one of C's connections).
 */
extern int sched_enter (struct sched *s, struct client *c, uint32_t cost,
                        uint64_t offset, struct sched_ticket *ticket);

/* The request holding TICKET has finished (successfully or not). */
extern void sched_leave (struct sched *s, const struct sched_ticket *ticket);

/* Make every waiter, present and future, fail with ESHUTDOWN. */
extern void sched_shutdown (struct sched *s);

/* Copy per-tier statistics into STATS (tiers->n entries). */
extern void sched_get_stats (struct sched *s, struct sched_tier_stats *stats);

#endif /* RATETIER_SCHEDULER_H */
