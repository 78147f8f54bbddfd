/* Unit test: the tiered scheduler (filters/ratetier/scheduler.c).
 *
 * Each request is a thread that enters the scheduler, records when it
 * is admitted, waits until the test releases it, and leaves.  The test
 * starts requests one at a time (waiting until each is queued) and
 * releases them one at a time (waiting until each has left), so the
 * order of admissions depends only on the scheduler's rules: every
 * assertion here is about order, never about time.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <glib.h>

#include "nbdkit-shim.h"
#include "../filters/ratetier/scheduler.h"
#include "../filters/ratetier/tiers.h"

enum { NEW, ADMITTED, RELEASED, LEFT, FAILED };

struct req {
  struct client *c;
  uint32_t cost;
  uint64_t id;                  /* passed as the offset */
  GThread *thread;
  int state;                    /* lock */
  int err;
  bool gone;                    /* atomic: alive () fails */
};

static GMutex lock;             /* protects the globals below and states */
static GCond cond;
static GString *admitted;       /* ids in admission order, "a1 b1 ..." */
static unsigned queued, dropped;
static int64_t drop_times[16];  /* monotonic microseconds of each drop */

static struct sched *s;
static GPrivate current_req;
static GPtrArray *started;        /* every started request, for trace () */

static void
trace (void *opaque, enum sched_event ev, const struct client *c,
       unsigned tier, uint32_t cost, uint64_t offset, double waited)
{
  g_mutex_lock (&lock);
  if (ev == SCHED_QUEUED)
    queued++;
  else if (ev == SCHED_ADMITTED) {
    guint i;
    g_string_append_printf (admitted, "%s%c%" G_GUINT64_FORMAT,
                            admitted->len ? " " : "",
                            (char) c->key.u.id, offset);
    /* Mark it admitted now, not when its thread wakes up, so that the
     * test sees admissions in the order the scheduler made them.
     */
    for (i = 0; i < started->len; i++) {
      struct req *r = g_ptr_array_index (started, i);
      if (r->c == c && r->id == offset && r->state == NEW)
        r->state = ADMITTED;
    }
  }
  else {
    if (dropped < G_N_ELEMENTS (drop_times))
      drop_times[dropped] = g_get_monotonic_time ();
    dropped++;
  }
  g_cond_broadcast (&cond);
  g_mutex_unlock (&lock);
}

static int
alive (void)
{
  struct req *r = g_private_get (&current_req);

  if (r && __atomic_load_n (&r->gone, __ATOMIC_SEQ_CST)) {
    errno = ESHUTDOWN;
    return -1;
  }
  return 0;
}

static void
setup (const char *tiers_str, enum sched_mode mode, unsigned concurrency,
       struct tiers **tiers)
{
  struct sched_config sc = {
    .mode = mode, .concurrency = concurrency, .slice_ms = 5,
    .alive = alive, .trace = trace,
  };

  *tiers = tiers_parse (tiers_str);
  g_assert_nonnull (*tiers);
  sc.tiers = *tiers;
  s = sched_new (&sc);
  g_string_truncate (admitted, 0);
  g_ptr_array_set_size (started, 0);
  queued = dropped = 0;
}

static void
teardown (struct tiers *tiers)
{
  sched_free (s);
  s = NULL;
  tiers_free (tiers);
}

static struct client *
client (char name, uint64_t delivered_blocks)
{
  struct client *c = g_new0 (struct client, 1);

  c->key.kind = CLIENT_KEY_CONNECTION;
  c->key.u.id = (unsigned char) name;
  client_add_blocks (c, delivered_blocks);
  return c;
}

static gpointer
worker (gpointer opaque)
{
  struct req *r = opaque;
  struct sched_ticket t;
  int ret;

  g_private_set (&current_req, r);
  ret = sched_enter (s, r->c, r->cost, r->id, &t);
  g_mutex_lock (&lock);
  if (ret == -1) {
    r->err = errno;
    r->state = FAILED;
    g_cond_broadcast (&cond);
    g_mutex_unlock (&lock);
    return NULL;
  }
  g_assert_cmpint (r->state, >=, ADMITTED);
  while (r->state != RELEASED)
    g_cond_wait (&cond, &lock);
  g_mutex_unlock (&lock);
  sched_leave (s, &t);
  g_mutex_lock (&lock);
  r->state = LEFT;
  g_cond_broadcast (&cond);
  g_mutex_unlock (&lock);
  return NULL;
}

/* Wait until the scheduler has finished what it is doing. */
static void
settle (void)
{
  struct sched_tier_stats st[TIERS_MAX];

  sched_get_stats (s, st);
}

/* Start request R and wait until it is queued (and dispatched). */
static void
start (struct req *r)
{
  unsigned before;

  g_mutex_lock (&lock);
  before = queued;
  r->state = NEW;
  g_ptr_array_add (started, r);
  r->thread = g_thread_new ("req", worker, r);
  while (queued == before)
    g_cond_wait (&cond, &lock);
  g_mutex_unlock (&lock);
  settle ();
}

static void
release (struct req *r)
{
  g_mutex_lock (&lock);
  g_assert_cmpint (r->state, ==, ADMITTED);
  r->state = RELEASED;
  g_cond_broadcast (&cond);
  while (r->state != LEFT)
    g_cond_wait (&cond, &lock);
  g_mutex_unlock (&lock);
  g_thread_join (r->thread);
  settle ();
}

static int
state_of (struct req *r)
{
  int st;

  g_mutex_lock (&lock);
  st = r->state;
  g_mutex_unlock (&lock);
  return st;
}

static void
assert_admitted (const char *expected)
{
  g_mutex_lock (&lock);
  if (strcmp (admitted->str, expected) != 0)
    g_error ("admitted \"%s\", expected \"%s\"", admitted->str, expected);
  g_mutex_unlock (&lock);
}

/* Release the admitted request that started first, repeatedly, until
 * all of REQS have left.
 */
static void
drain_fifo (struct req *reqs, size_t n)
{
  for (;;) {
    g_autofree char *order = NULL;
    g_auto (GStrv) ids = NULL;
    size_t i, j;
    bool progress = false;

    g_mutex_lock (&lock);
    order = g_strdup (admitted->str);
    g_mutex_unlock (&lock);
    ids = g_strsplit (order, " ", -1);
    for (i = 0; ids[i] && !progress; i++)
      for (j = 0; j < n; j++) {
        char name[32];
        g_snprintf (name, sizeof name, "%c%" G_GUINT64_FORMAT,
                    (char) reqs[j].c->key.u.id, reqs[j].id);
        if (strcmp (ids[i], name) == 0 && state_of (&reqs[j]) == ADMITTED) {
          release (&reqs[j]);
          progress = true;
          break;
        }
      }
    if (!progress)
      break;
  }
  for (size_t j = 0; j < n; j++)
    if (state_of (&reqs[j]) != LEFT)
      g_error ("request %zu never ran; admitted: %s", j, admitted->str);
}

/* A tier runs at most weight x concurrency requests; a client's
 * requests start in order.
 */
static void
test_slots_fifo (void)
{
  struct tiers *tiers;
  struct client *a = client ('a', 0);
  struct req r[4];
  int i;

  setup ("()", SCHED_MODE_CONTINUOUS, 2, &tiers);
  for (i = 0; i < 4; i++) {
    r[i] = (struct req) { .c = a, .cost = 1, .id = i + 1 };
    start (&r[i]);
  }
  assert_admitted ("a1 a2");
  g_assert_cmpint (state_of (&r[2]), ==, NEW);
  release (&r[1]);
  assert_admitted ("a1 a2 a3");
  release (&r[0]);
  assert_admitted ("a1 a2 a3 a4");
  release (&r[2]);
  release (&r[3]);
  teardown (tiers);
  g_free (a);
}

/* Clients of one tier take turns.  (A plug request holds the only slot
 * while the others queue up.)
 */
static void
test_round_robin (void)
{
  struct tiers *tiers;
  struct client *c[3] = { client ('a', 0), client ('b', 0), client ('c', 0) };
  struct client *p = client ('p', 0);
  struct req r[10];
  int i;

  setup ("()", SCHED_MODE_CONTINUOUS, 1, &tiers);
  r[9] = (struct req) { .c = p, .cost = 1, .id = 0 };
  start (&r[9]);
  for (i = 0; i < 9; i++) {
    r[i] = (struct req) { .c = c[i / 3], .cost = 4, .id = i % 3 + 1 };
    start (&r[i]);
  }
  drain_fifo (r, 10);
  assert_admitted ("p0 a1 b1 c1 a2 b2 c2 a3 b3 c3");
  teardown (tiers);
  for (i = 0; i < 3; i++)
    g_free (c[i]);
  g_free (p);
}

/* A client whose queue empties does not keep its place: arriving at an
 * idle tier it starts at once, and then takes turns like the others.
 */
static void
test_round_robin_fresh (void)
{
  struct tiers *tiers;
  struct client *c[3] = { client ('a', 0), client ('b', 0), client ('c', 0) };
  struct req r[9];
  int i;

  setup ("()", SCHED_MODE_CONTINUOUS, 1, &tiers);
  for (i = 0; i < 9; i++) {
    r[i] = (struct req) { .c = c[i / 3], .cost = 4, .id = i % 3 + 1 };
    start (&r[i]);
  }
  drain_fifo (r, 9);
  /* a1 ran at once, so a2 arrived as a new turn, level with b and c. */
  assert_admitted ("a1 a2 b1 c1 a3 b2 c2 b3 c3");
  teardown (tiers);
  for (i = 0; i < 3; i++)
    g_free (c[i]);
}

/* Turns are weighed in blocks: a client sending 1-block requests gets
 * 8 of them for each 8-block request of its tier-mate.
 */
static void
test_turns_in_blocks (void)
{
  struct tiers *tiers;
  struct client *big = client ('B', 0), *small = client ('s', 0);
  struct client *p = client ('p', 0);
  struct req r[1 + 3 + 24];
  int i, n = 0;

  setup ("()", SCHED_MODE_CONTINUOUS, 1, &tiers);
  r[n] = (struct req) { .c = p, .cost = 1, .id = 0 };
  start (&r[n++]);
  for (i = 0; i < 3; i++) {
    r[n] = (struct req) { .c = big, .cost = 8, .id = i + 1 };
    start (&r[n++]);
  }
  for (i = 0; i < 24; i++) {
    r[n] = (struct req) { .c = small, .cost = 1, .id = i + 1 };
    start (&r[n++]);
  }
  drain_fifo (r, n);
  assert_admitted ("p0 B1 s1 s2 s3 s4 s5 s6 s7 s8 B2 s9 s10 s11 s12 s13 s14 "
                   "s15 s16 B3 s17 s18 s19 s20 s21 s22 s23 s24");
  teardown (tiers);
  g_free (big);
  g_free (small);
  g_free (p);
}

/* Tiers share blocks by weight: a light client in a tier of weight 4
 * gets 4 blocks for each block of a heavy client in the implicit tier,
 * even though the light client's requests are running (not waiting)
 * when the heavy client's come up.
 */
static void
test_tier_shares (void)
{
  struct tiers *tiers;
  struct client *heavy = client ('H', 1000), *light = client ('L', 0);
  struct req r[6 + 24];
  int i, n = 0, h = 0, l = 0;
  g_auto (GStrv) ids = NULL;

  setup ("10:4", SCHED_MODE_CONTINUOUS, 1, &tiers);
  for (i = 0; i < 6; i++) {
    r[n] = (struct req) { .c = heavy, .cost = 8, .id = i + 1 };
    start (&r[n++]);
  }
  for (i = 0; i < 24; i++) {
    r[n] = (struct req) { .c = light, .cost = 8, .id = i + 1 };
    start (&r[n++]);
  }
  /* H1 started alone; L may run 4 at once (weight 4), H only 1. */
  assert_admitted ("H1 L1 L2 L3 L4");
  drain_fifo (r, n);
  /* After that, 4 light requests for every heavy one, until the light
   * client has no more.
   */
  assert_admitted ("H1 L1 L2 L3 L4 H2 L5 L6 L7 L8 H3 L9 L10 L11 L12 "
                   "H4 L13 L14 L15 L16 H5 L17 L18 L19 L20 H6 L21 L22 L23 L24");
  g_mutex_lock (&lock);
  ids = g_strsplit (admitted->str, " ", -1);
  g_mutex_unlock (&lock);
  for (i = 0; ids[i]; i++)
    ids[i][0] == 'H' ? h++ : l++;
  g_assert_cmpint (h, ==, 6);
  g_assert_cmpint (l, ==, 24);
  teardown (tiers);
  g_free (heavy);
  g_free (light);
}

/* A client that sends one request at a time, while a bulk client keeps
 * its tier busy, starts each request at once.
 */
static void
test_single_requests_not_held (void)
{
  struct tiers *tiers;
  struct client *heavy = client ('H', 1000), *light = client ('L', 0);
  struct req hr[3], lr[3];
  int i;

  setup ("10:4", SCHED_MODE_CONTINUOUS, 1, &tiers);
  for (i = 0; i < 3; i++) {
    hr[i] = (struct req) { .c = heavy, .cost = 256, .id = i + 1 };
    start (&hr[i]);
  }
  for (i = 0; i < 3; i++) {
    lr[i] = (struct req) { .c = light, .cost = 1, .id = i + 1 };
    start (&lr[i]);
    g_assert_cmpint (state_of (&lr[i]), ==, ADMITTED);
    release (&lr[i]);
  }
  assert_admitted ("H1 L1 L2 L3");
  for (i = 0; i < 3; i++)
    release (&hr[i]);
  teardown (tiers);
  g_free (heavy);
  g_free (light);
}

/* Placement follows delivered blocks at arrival, and a client's
 * requests still start in the order they arrived when they land in
 * different tiers: with tier 0 full (a plug holds its one slot), the
 * client's first request waits there, and its next two, placed in
 * tiers with free slots, wait behind it instead of overtaking it.
 */
static void
test_placement (void)
{
  struct tiers *tiers;
  struct client *a = client ('a', 0), *p = client ('p', 0);
  struct sched_tier_stats st[3];
  struct req plug, r[3];
  int i;

  setup ("2:1,4:8", SCHED_MODE_CONTINUOUS, 1, &tiers);
  plug = (struct req) { .c = p, .cost = 1, .id = 0 };
  start (&plug);                /* tier 0's only slot */
  r[0] = (struct req) { .c = a, .cost = 1, .id = 1 };
  start (&r[0]);                /* delivered 0: tier 0, full */
  client_add_blocks (a, 2);
  r[1] = (struct req) { .c = a, .cost = 1, .id = 2 };
  start (&r[1]);                /* delivered 2: tier 1, 8 slots free */
  client_add_blocks (a, 2);
  r[2] = (struct req) { .c = a, .cost = 1, .id = 3 };
  start (&r[2]);                /* delivered 4: implicit tier, free */
  assert_admitted ("p0");
  sched_get_stats (s, st);
  for (i = 0; i < 3; i++)
    g_assert_cmpuint (st[i].waiting, ==, 1);

  release (&plug);
  assert_admitted ("p0 a1 a2 a3");
  sched_get_stats (s, st);
  g_assert_cmpuint (st[0].admitted, ==, 2);     /* p0 a1 */
  g_assert_cmpuint (st[1].admitted, ==, 1);     /* a2 */
  g_assert_cmpuint (st[2].admitted, ==, 1);     /* a3 */
  for (i = 0; i < 3; i++)
    release (&r[i]);
  teardown (tiers);
  g_free (a);
  g_free (p);
}

/* Batch: the next iteration starts only when the whole batch is done. */
static void
test_batch (void)
{
  struct tiers *tiers;
  struct client *a = client ('a', 0);
  struct req r[5];
  int i;

  setup ("()", SCHED_MODE_BATCH, 2, &tiers);
  for (i = 0; i < 5; i++) {
    r[i] = (struct req) { .c = a, .cost = 1, .id = i + 1 };
    start (&r[i]);
  }
  /* a1 found the server idle: an iteration of one. */
  assert_admitted ("a1");
  release (&r[0]);
  assert_admitted ("a1 a2 a3");
  release (&r[1]);
  assert_admitted ("a1 a2 a3");  /* a slot is free, but not the batch */
  release (&r[2]);
  assert_admitted ("a1 a2 a3 a4 a5");
  release (&r[4]);
  release (&r[3]);
  teardown (tiers);
  g_free (a);
}

/* A request whose client goes away while it waits is dropped, counted
 * nowhere, and the requests behind it move up.
 */
static void
test_abandon (void)
{
  struct tiers *tiers;
  struct client *a = client ('a', 0), *b = client ('b', 0);
  struct sched_tier_stats st[1];
  struct req r[3];

  setup ("()", SCHED_MODE_CONTINUOUS, 1, &tiers);
  r[0] = (struct req) { .c = a, .cost = 1, .id = 1 };
  r[1] = (struct req) { .c = b, .cost = 1, .id = 1 };
  r[2] = (struct req) { .c = a, .cost = 1, .id = 2 };
  start (&r[0]);
  start (&r[1]);
  start (&r[2]);
  __atomic_store_n (&r[1].gone, true, __ATOMIC_SEQ_CST);
  g_mutex_lock (&lock);
  while (r[1].state != FAILED)
    g_cond_wait (&cond, &lock);
  g_assert_cmpint (r[1].err, ==, ESHUTDOWN);
  g_assert_cmpuint (dropped, ==, 1);
  g_mutex_unlock (&lock);
  g_thread_join (r[1].thread);
  settle ();
  sched_get_stats (s, st);
  g_assert_cmpuint (st[0].waiting, ==, 1);
  g_assert_cmpuint (st[0].admitted, ==, 1);
  release (&r[0]);
  assert_admitted ("a1 a2");
  release (&r[2]);
  sched_get_stats (s, st);
  g_assert_cmpuint (st[0].admitted, ==, 2);
  g_assert_cmpuint (st[0].waiting, ==, 0);
  g_assert_null (b->sched);
  teardown (tiers);
  g_free (a);
  g_free (b);
}

/* Waiters of one client that vanishes give up one at a time, at least
 * 20 ms apart (so that nbdkit 1.32 does not send their error replies at
 * once; see DROP_SPACING_US).  A lower bound on time, so never flaky.
 */
static void
test_drop_spacing (void)
{
  struct tiers *tiers;
  struct client *a = client ('a', 0), *b = client ('b', 0);
  struct req r[4];
  int i;

  setup ("()", SCHED_MODE_CONTINUOUS, 1, &tiers);
  r[0] = (struct req) { .c = a, .cost = 1, .id = 1 };
  start (&r[0]);                /* holds the only slot */
  for (i = 1; i < 4; i++) {
    r[i] = (struct req) { .c = b, .cost = 1, .id = i };
    start (&r[i]);
  }
  for (i = 1; i < 4; i++)
    __atomic_store_n (&r[i].gone, true, __ATOMIC_SEQ_CST);
  for (i = 1; i < 4; i++)
    g_thread_join (r[i].thread);
  g_assert_cmpuint (dropped, ==, 3);
  for (i = 1; i < 3; i++)
    g_assert_cmpint (drop_times[i] - drop_times[i - 1], >=, 20000);
  release (&r[0]);
  assert_admitted ("a1");
  teardown (tiers);
  g_free (a);
  g_free (b);
}

/* sched_shutdown makes every waiter give up, and later arrivals too. */
static void
test_shutdown (void)
{
  struct tiers *tiers;
  struct client *a = client ('a', 0);
  struct req r[4];
  int i;

  setup ("()", SCHED_MODE_CONTINUOUS, 1, &tiers);
  for (i = 0; i < 3; i++) {
    r[i] = (struct req) { .c = a, .cost = 1, .id = i + 1 };
    start (&r[i]);
  }
  sched_shutdown (s);
  for (i = 1; i < 3; i++) {
    g_thread_join (r[i].thread);
    g_assert_cmpint (r[i].state, ==, FAILED);
    g_assert_cmpint (r[i].err, ==, ESHUTDOWN);
  }
  r[3] = (struct req) { .c = a, .cost = 1, .id = 4 };
  r[3].thread = g_thread_new ("req", worker, &r[3]);
  g_thread_join (r[3].thread);
  g_assert_cmpint (r[3].state, ==, FAILED);
  release (&r[0]);              /* the running one still leaves */
  assert_admitted ("a1");
  teardown (tiers);
  g_free (a);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  admitted = g_string_new (NULL);
  started = g_ptr_array_new ();
  g_test_add_func ("/ratetier/scheduler/slots-fifo", test_slots_fifo);
  g_test_add_func ("/ratetier/scheduler/round-robin", test_round_robin);
  g_test_add_func ("/ratetier/scheduler/round-robin-fresh",
                   test_round_robin_fresh);
  g_test_add_func ("/ratetier/scheduler/turns-in-blocks",
                   test_turns_in_blocks);
  g_test_add_func ("/ratetier/scheduler/tier-shares", test_tier_shares);
  g_test_add_func ("/ratetier/scheduler/single-requests-not-held",
                   test_single_requests_not_held);
  g_test_add_func ("/ratetier/scheduler/placement", test_placement);
  g_test_add_func ("/ratetier/scheduler/batch", test_batch);
  g_test_add_func ("/ratetier/scheduler/abandon", test_abandon);
  g_test_add_func ("/ratetier/scheduler/drop-spacing", test_drop_spacing);
  g_test_add_func ("/ratetier/scheduler/shutdown", test_shutdown);
  return g_test_run ();
}
