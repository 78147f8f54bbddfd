/* ratetier: the tiered request scheduler (see scheduler.h).
 *
 * Data structures, all under s->lock:
 *  - struct waiter: one waiting request, on the stack of the thread
 *    that waits for it, with its own GCond;
 *  - struct flow: a client's FIFO of waiters, linked into the round
 *    robin ring of the tier of its oldest waiter.  Flows come from a
 *    free list (allocated only when the list is empty), and the
 *    client's sched pointer names its flow while it has one;
 *  - struct tier_state: slots, virtual time and the ring.
 *
 * dispatch () starts as many waiters as the rules allow.  It runs
 * wherever the state changes: when a request arrives, leaves, or is
 * abandoned.  So there is no scheduler thread and no polling.
 *
 * sched_enter holds the lock for its whole duration but for the waits
 * (g_cond_wait_until releases it) and the calls of alive (), around
 * which wait_admitted drops it.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <nbdkit-filter.h>

#include "scheduler.h"

const double sched_wait_bounds[SCHED_WAIT_BUCKETS] = {
  0.0001, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30
};

struct flow;

struct waiter {
  struct waiter *next, *prev;   /* in the flow's FIFO */
  struct flow *flow;
  unsigned tier;                /* placement */
  uint32_t cost;                /* blocks */
  uint64_t offset;              /* for the trace */
  int64_t queued_at;            /* monotonic microseconds */
  GCond cond;                   /* signalled when admitted or shut down */
  bool admitted;
};

struct flow {
  struct client *client;
  struct waiter *head, *tail;   /* FIFO, oldest first */
  struct flow *next, *prev;     /* ring of tier `tier`; free list: next */
  unsigned tier;                /* == head->tier */
  uint64_t vtime;               /* blocks started in this tier's ring */
  int64_t last_drop;            /* monotonic microseconds: when a waiter
                                 * of this flow last gave up */
};

/* Waiters of one client that give up are let go at least this far
 * apart (microseconds).  nbdkit 1.32 can abort (an assertion in
 * raw_send_socket) when several worker threads of a connection whose
 * client has hung up send replies at once and one of the sends fails;
 * nbdkit fixed this after 1.32 (commit 9d82aa4f, "server: Don't assert
 * on send if client hangs up early").  The waiters of a vanished client
 * all notice in the same slice, so without spacing their error replies
 * would race.  Spaced out, the first failed reply marks the connection
 * dead and the later waiters' replies are not sent at all.
 */
#define DROP_SPACING_US 20000

struct tier_state {
  unsigned weight;
  unsigned cap;                 /* weight x concurrency */
  unsigned running;
  unsigned waiting;             /* waiters placed here */
  struct flow *ring;            /* next in round-robin order; NULL =
                                 * no flow waits in this tier */
  uint64_t ring_clock;          /* vtime of the flow served last */
  double vtime;                 /* blocks started / weight */
  uint64_t admitted;
  uint64_t wait_count[SCHED_WAIT_BUCKETS + 1];
  double wait_sum;
};

struct sched {
  GMutex lock;                  /* protects everything below */
  struct sched_config config;
  size_t ntiers;
  struct tier_state *tier;
  unsigned running;             /* all tiers */
  double vclock;                /* latest virtual start time: the
                                 * largest tier vtime any request has
                                 * started at */
  bool closing;                 /* sched_shutdown was called */
  struct flow *free_flows;
};

struct sched *
sched_new (const struct sched_config *config)
{
  struct sched *s = g_new0 (struct sched, 1);
  size_t i;

  g_mutex_init (&s->lock);
  s->config = *config;
  if (s->config.concurrency < 1)
    s->config.concurrency = 1;
  if (s->config.slice_ms < 1)
    s->config.slice_ms = 1;
  s->ntiers = config->tiers->n;
  s->tier = g_new0 (struct tier_state, s->ntiers);
  for (i = 0; i < s->ntiers; i++) {
    s->tier[i].weight = config->tiers->tier[i].weight;
    s->tier[i].cap = s->tier[i].weight * s->config.concurrency;
  }
  return s;
}

void
sched_free (struct sched *s)
{
  struct flow *f;

  if (s == NULL)
    return;
  while ((f = s->free_flows) != NULL) {
    s->free_flows = f->next;
    g_free (f);
  }
  g_free (s->tier);
  g_mutex_clear (&s->lock);
  g_free (s);
}

static void
trace (struct sched *s, enum sched_event ev, const struct waiter *w,
       double waited)
{
  if (s->config.trace)
    s->config.trace (s->config.trace_opaque, ev, w->flow->client, w->tier,
                     w->cost, w->offset, waited);
}

/* --- activity and virtual time ----------------------------------------- */

static bool
active (const struct tier_state *t)
{
  return t->ring != NULL || t->running > 0;
}

/* Smallest virtual time among active tiers other than EXCEPT, or
 * INFINITY if there is none.
 */
static double
min_active_vtime (const struct sched *s, size_t except)
{
  double m = (double) INFINITY;
  size_t i;

  for (i = 0; i < s->ntiers; i++)
    if (i != except && active (&s->tier[i]) && s->tier[i].vtime < m)
      m = s->tier[i].vtime;
  return m;
}

/* Tier I is about to become active.  It resumes at the virtual time of
 * the latest start (start-time fair queueing), not behind it, so idle
 * time earns no credit; and not at the other tiers' next start, which
 * would make a client that sends one request at a time wait for a
 * running bulk request every time.
 */
static void
activate (struct sched *s, size_t i)
{
  if (min_active_vtime (s, i) == (double) INFINITY) {
    /* Nothing else is active: start everyone afresh, which also keeps
     * virtual times from growing without bound.
     */
    size_t j;
    for (j = 0; j < s->ntiers; j++)
      s->tier[j].vtime = 0;
    s->vclock = 0;
  }
  else if (s->tier[i].vtime < s->vclock)
    s->tier[i].vtime = s->vclock;
}

/* --- rings ------------------------------------------------------------- */

static void
ring_insert (struct sched *s, struct flow *f, unsigned tier)
{
  struct tier_state *t = &s->tier[tier];

  if (!active (t))
    activate (s, tier);
  f->tier = tier;
  f->vtime = t->ring_clock;     /* joins level with the last served */
  if (t->ring == NULL) {
    f->next = f->prev = f;
    t->ring = f;
  }
  else {                        /* at the back: just before the head */
    f->next = t->ring;
    f->prev = t->ring->prev;
    f->prev->next = f;
    t->ring->prev = f;
  }
}

static void
ring_remove (struct sched *s, struct flow *f)
{
  struct tier_state *t = &s->tier[f->tier];

  if (f->next == f)
    t->ring = NULL;
  else {
    f->prev->next = f->next;
    f->next->prev = f->prev;
    if (t->ring == f)
      t->ring = f->next;
  }
  f->next = f->prev = NULL;
}

/* The flow of tier T to serve next: the one with the smallest vtime,
 * the first in round-robin order among equals.
 */
static struct flow *
ring_choose (const struct tier_state *t)
{
  struct flow *best = t->ring, *f;

  for (f = t->ring->next; f != t->ring; f = f->next)
    if (f->vtime < best->vtime)
      best = f;
  return best;
}

/* --- flows ------------------------------------------------------------- */

static struct flow *
flow_get (struct sched *s, struct client *c)
{
  struct flow *f = c->sched;

  if (f)
    return f;
  if (s->free_flows) {
    f = s->free_flows;
    s->free_flows = f->next;
    memset (f, 0, sizeof *f);
  }
  else
    f = g_new0 (struct flow, 1);
  f->client = c;
  c->sched = f;
  return f;
}

static void
flow_put (struct sched *s, struct flow *f)
{
  f->client->sched = NULL;
  f->client = NULL;
  f->next = s->free_flows;
  s->free_flows = f;
}

/* Take W out of its flow, moving or releasing the flow as needed. */
static void
unqueue (struct sched *s, struct waiter *w)
{
  struct flow *f = w->flow;
  bool was_head = f->head == w;

  if (w->prev)
    w->prev->next = w->next;
  else
    f->head = w->next;
  if (w->next)
    w->next->prev = w->prev;
  else
    f->tail = w->prev;
  w->next = w->prev = NULL;
  s->tier[w->tier].waiting--;

  if (!was_head)
    return;
  if (f->head == NULL) {
    ring_remove (s, f);
    flow_put (s, f);
  }
  else if (f->head->tier != f->tier) {
    ring_remove (s, f);
    ring_insert (s, f, f->head->tier);
  }
}

/* --- dispatch ---------------------------------------------------------- */

static void
admit (struct sched *s, size_t i, struct flow *f)
{
  struct tier_state *t = &s->tier[i];
  struct waiter *w = f->head;
  double waited = (g_get_monotonic_time () - w->queued_at) / 1e6;
  size_t b;

  /* Start the request: take the slot and charge the tier before the
   * waiter leaves the queue, so the tier stays active throughout.
   */
  t->running++;
  s->running++;
  if (s->vclock < t->vtime)
    s->vclock = t->vtime;
  t->vtime += (double) w->cost / t->weight;
  t->admitted++;
  for (b = 0; b < SCHED_WAIT_BUCKETS && waited > sched_wait_bounds[b]; b++)
    ;
  t->wait_count[b]++;
  t->wait_sum += waited;

  /* Round robin: the next turn starts after this flow. */
  t->ring_clock = f->vtime;
  f->vtime += w->cost;
  t->ring = f->next;

  trace (s, SCHED_ADMITTED, w, waited);
  g_assert (w->tier == i);
  w->admitted = true;
  unqueue (s, w);
  g_cond_signal (&w->cond);
}

/* The tier allowed to start a request now, or -1. */
static ssize_t
pick_tier (const struct sched *s)
{
  ssize_t best = -1;
  size_t i;

  for (i = 0; i < s->ntiers; i++) {
    const struct tier_state *t = &s->tier[i];
    if (t->ring != NULL && t->running < t->cap &&
        (best == -1 || t->vtime < s->tier[best].vtime))
      best = i;
  }
  /* Not while another active tier (perhaps full, or with only running
   * requests) is behind it in virtual time.
   */
  if (best >= 0 && s->tier[best].vtime > min_active_vtime (s, best))
    return -1;
  return best;
}

static void
dispatch (struct sched *s)
{
  ssize_t i;

  if (s->closing ||
      (s->config.mode == SCHED_MODE_BATCH && s->running > 0))
    return;

  while ((i = pick_tier (s)) >= 0)
    admit (s, i, ring_choose (&s->tier[i]));
}

/* --- waiting, with the lock held ---------------------------------------- */

/* Queue W, of client C, at the tail of C's flow; start what may start. */
static void
enqueue (struct sched *s, struct client *c, struct waiter *w)
{
  struct flow *f = flow_get (s, c);

  w->flow = f;
  w->prev = f->tail;
  if (f->tail)
    f->tail->next = w;
  else
    f->head = w;
  f->tail = w;
  s->tier[w->tier].waiting++;
  if (f->head == w)
    ring_insert (s, f, w->tier);
  trace (s, SCHED_QUEUED, w, 0);
  dispatch (s);
}

/* Wait until W is admitted (true), or until the scheduler shuts down or
 * alive () fails (false, *ERRNUM set).  Every slice, alive () is called
 * with the lock dropped.
 */
static bool
wait_admitted (struct sched *s, struct waiter *w, int *errnum)
{
  int64_t slice = (int64_t) s->config.slice_ms * 1000;
  int64_t deadline = w->queued_at + slice;
  bool gone = false;

  while (!w->admitted && !s->closing && !gone) {
    if (g_cond_wait_until (&w->cond, &s->lock, deadline))
      continue;
    /* A slice has passed: is anyone still waiting for the answer? */
    g_mutex_unlock (&s->lock);
    if (s->config.alive && s->config.alive () == -1) {
      *errnum = errno;
      gone = true;
    }
    g_mutex_lock (&s->lock);
    deadline = g_get_monotonic_time () + slice;
  }
  return w->admitted;
}

/* W gives up, but not at the same moment as a waiter of the same
 * client (see DROP_SPACING_US).  True if W was admitted meanwhile.
 */
static bool
give_up (struct sched *s, struct waiter *w)
{
  struct flow *f = w->flow;

  while (!w->admitted &&
         g_get_monotonic_time () < f->last_drop + DROP_SPACING_US)
    g_cond_wait_until (&w->cond, &s->lock, f->last_drop + DROP_SPACING_US);
  if (w->admitted)
    return true;
  f->last_drop = g_get_monotonic_time ();
  trace (s, SCHED_DROPPED, w, (f->last_drop - w->queued_at) / 1e6);
  unqueue (s, w);
  dispatch (s);
  return false;
}

/* --- the public calls -------------------------------------------------- */

int
sched_enter (struct sched *s, struct client *c, uint32_t cost,
             uint64_t offset, struct sched_ticket *ticket)
{
  struct waiter w = { .cost = cost ? cost : 1, .offset = offset };
  int errnum = ESHUTDOWN;
  bool admitted = false;

  w.tier = tiers_place (s->config.tiers, client_delivered_blocks (c));
  w.queued_at = g_get_monotonic_time ();
  g_cond_init (&w.cond);
  {
    g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&s->lock);

    if (!s->closing) {
      enqueue (s, c, &w);
      admitted = wait_admitted (s, &w, &errnum) || give_up (s, &w);
    }
  }
  g_cond_clear (&w.cond);
  if (!admitted) {
    errno = errnum;
    return -1;
  }
  /* Even if the client has just gone: the slot is taken, so the request
   * runs (and fails quickly) and sched_leave frees the slot.
   */
  ticket->tier = w.tier;
  return 0;
}

void
sched_leave (struct sched *s, const struct sched_ticket *ticket)
{
  g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&s->lock);

  g_assert (s->tier[ticket->tier].running > 0);
  s->tier[ticket->tier].running--;
  s->running--;
  dispatch (s);
}

void
sched_shutdown (struct sched *s)
{
  g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&s->lock);
  size_t i;

  s->closing = true;
  for (i = 0; i < s->ntiers; i++) {
    struct flow *f = s->tier[i].ring;
    if (f == NULL)
      continue;
    do {
      struct waiter *w;
      for (w = f->head; w; w = w->next)
        g_cond_signal (&w->cond);
      f = f->next;
    } while (f != s->tier[i].ring);
  }
}

void
sched_get_stats (struct sched *s, struct sched_tier_stats *stats)
{
  g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&s->lock);
  size_t i;

  for (i = 0; i < s->ntiers; i++) {
    const struct tier_state *t = &s->tier[i];
    stats[i].weight = t->weight;
    stats[i].below = s->config.tiers->tier[i].below;
    stats[i].waiting = t->waiting;
    stats[i].running = t->running;
    stats[i].admitted = t->admitted;
    memcpy (stats[i].wait_count, t->wait_count, sizeof t->wait_count);
    stats[i].wait_sum = t->wait_sum;
  }
}
