/* Unit test: the bounded client table (filters/ratetier/client-table.c).
 *
 * Bounded size, eviction of the least recently seen idle client,
 * refusal when every client is connected, forgetting, decay, restore,
 * the memory per client against what nbdkit-ratetier-filter(1) promises,
 * and the whole table against a model (a plain list of clients with the
 * documented rules) under a long random sequence of operations.
 */
#include <stdint.h>
#include <string.h>

#include <glib.h>

#include "nbdkit-shim.h"
#include "../filters/ratetier/client-table.h"

static const uint8_t secret[16] = "sandbag-ratetier";

static struct client_key
key (uint32_t n)
{
  struct client_key k;

  memset (&k, 0, sizeof k);
  k.kind = CLIENT_KEY_IPV4;
  k.prefix = 32;
  k.u.bytes[0] = 10;
  k.u.bytes[1] = n >> 16;
  k.u.bytes[2] = n >> 8;
  k.u.bytes[3] = n;
  return k;
}

struct lookup {
  struct client_key key;
  bool found;
};

static void
lookup_one (const struct client *c, void *opaque)
{
  struct lookup *l = opaque;

  if (client_key_equal (&c->key, &l->key))
    l->found = true;
}

/* Is client N in the table?  (A walk, so nothing is changed.) */
static bool
present (struct client_table *t, uint32_t n)
{
  struct lookup l = { .key = key (n), .found = false };

  client_table_foreach (t, lookup_one, &l);
  return l.found;
}

static void
test_same_client (void)
{
  struct client_table *t = client_table_new (4, secret);
  struct client_key k = key (1);
  struct client *a, *b;

  a = client_table_connect (t, &k, 10);
  b = client_table_connect (t, &k, 11);
  g_assert_true (a == b);
  g_assert_cmpuint (client_table_connections (t, a), ==, 2);
  client_add_blocks (a, 5);
  client_table_disconnect (t, a, 12);
  client_table_disconnect (t, a, 12);
  b = client_table_connect (t, &k, 13);      /* reconnect: same counts */
  g_assert_cmpuint (client_delivered_blocks (b), ==, 5);
  client_table_disconnect (t, b, 14);
  client_table_free (t);
}

static void
test_eviction_lru (void)
{
  struct client_table *t = client_table_new (3, secret);
  struct client_table_stats st;
  struct client *c[5];
  struct client_key k;
  uint32_t i;

  for (i = 1; i <= 3; i++) {
    k = key (i);
    c[i] = client_table_connect (t, &k, i);
  }
  /* All three idle, 2 seen last, then 1, then 3. */
  client_table_disconnect (t, c[3], 20);
  client_table_disconnect (t, c[1], 30);
  client_table_disconnect (t, c[2], 40);

  k = key (4);
  c[4] = client_table_connect (t, &k, 50);  /* evicts 3 */
  g_assert_false (present (t, 3));
  g_assert_true (present (t, 1) && present (t, 2) && present (t, 4));
  client_table_get_stats (t, &st);
  g_assert_cmpuint (st.tracked, ==, 3);
  g_assert_cmpuint (st.evicted, ==, 1);

  /* Seeing 1 again makes 2 the oldest idle client. */
  k = key (1);
  c[1] = client_table_connect (t, &k, 60);
  client_table_disconnect (t, c[1], 61);
  k = key (5);
  c[0] = client_table_connect (t, &k, 70);  /* evicts 2 */
  g_assert_false (present (t, 2));
  g_assert_true (present (t, 1) && present (t, 4) && present (t, 5));
  client_table_free (t);
}

static void
test_full_of_connected (void)
{
  struct client_table *t = client_table_new (2, secret);
  struct client_key k1 = key (1), k2 = key (2), k3 = key (3);
  struct client *a, *b;

  a = client_table_connect (t, &k1, 1);
  b = client_table_connect (t, &k2, 1);
  shim_clear_error ();
  g_assert_null (client_table_connect (t, &k3, 2));
  g_assert_nonnull (strstr (shim_last_error (), "ratetier-max-clients"));
  client_table_disconnect (t, a, 3);
  g_assert_nonnull (client_table_connect (t, &k3, 4));   /* evicts 1 */
  g_assert_false (present (t, 1));
  client_table_disconnect (t, b, 5);
  client_table_free (t);
}

static void
test_forget_idle (void)
{
  struct client_table *t = client_table_new (10, secret);
  struct client_table_stats st;
  struct client_key k;
  struct client *c[4];
  uint32_t i;

  for (i = 1; i <= 3; i++) {
    k = key (i);
    c[i] = client_table_connect (t, &k, 0);
  }
  client_table_disconnect (t, c[1], 100);
  client_table_disconnect (t, c[2], 200);
  /* 3 stays connected: never forgotten. */
  g_assert_cmpuint (client_table_forget_idle (t, 150), ==, 1);
  g_assert_false (present (t, 1));
  g_assert_cmpuint (client_table_forget_idle (t, 1000), ==, 1);
  g_assert_false (present (t, 2));
  g_assert_true (present (t, 3));
  client_table_get_stats (t, &st);
  g_assert_cmpuint (st.forgotten, ==, 2);
  g_assert_cmpuint (st.tracked, ==, 1);
  g_assert_cmpuint (st.connected, ==, 1);
  client_table_disconnect (t, c[3], 1001);
  client_table_free (t);
}

static void
test_decay (void)
{
  struct client_table *t = client_table_new (10, secret);
  struct client_key k = key (1);
  struct client *c = client_table_connect (t, &k, 0);
  int i;

  client_add_blocks (c, 1000);
  client_table_decay (t, 0.5);
  g_assert_cmpuint (client_delivered_blocks (c), ==, 500);
  /* Many small steps shrink small counts too (sub-block precision). */
  for (i = 0; i < 1024; i++)
    client_table_decay (t, 0.99932);      /* about 2^(-1/1024) */
  g_assert_cmpuint (client_delivered_blocks (c), >=, 245);
  g_assert_cmpuint (client_delivered_blocks (c), <=, 251);
  client_table_disconnect (t, c, 1);
  client_table_free (t);
}

static void
test_restore (void)
{
  struct client_table *t = client_table_new (2, secret);
  struct client_key k1 = key (1), k2 = key (2), k3 = key (3);
  struct client *c;

  g_assert_true (client_table_restore (t, &k1, 10 * CLIENT_UNITS_PER_BLOCK,
                                       100));
  g_assert_true (client_table_restore (t, &k2, 20 * CLIENT_UNITS_PER_BLOCK,
                                       50));
  /* Full: an older record than the oldest present is not added. */
  g_assert_false (client_table_restore (t, &k3, 1, 10));
  /* A newer one replaces the oldest (2, seen at 50). */
  g_assert_true (client_table_restore (t, &k3, 30 * CLIENT_UNITS_PER_BLOCK,
                                       200));
  g_assert_false (present (t, 2));
  c = client_table_connect (t, &k1, 300);
  g_assert_cmpuint (client_delivered_blocks (c), ==, 10);
  client_table_disconnect (t, c, 301);
  client_table_free (t);
}

/* Memory, as nbdkit-ratetier-filter(1) states it: 64 bytes per entry
 * plus 8 to 16 bytes of index, entries allocated 1024 at a time; 72
 * bytes per client measured with the default 65536.  Checked at every
 * fill level: at most 80 bytes per client plus one chunk of 1024
 * entries not yet used and the table's fixed part (its size when
 * empty); and at most 80 per client, all included, in a full default
 * table.  (Not "at most 80 past the first few thousand clients", as the
 * man page also says: just after the index doubles and a chunk is
 * added, 4097 clients take 96 bytes each and 32769 take 82.)  Also: a
 * full table stays the same size when it evicts.
 */
static void
test_memory (void)
{
  const uint32_t max = 65536;
  const size_t per_client = 80, chunk = 1024 * sizeof (struct client);
  struct client_table *t = client_table_new (max, secret);
  struct client_table_stats st;
  size_t fixed, worst = 0;
  uint32_t i;

  g_assert_cmpuint (sizeof (struct client), ==, 64);
  client_table_get_stats (t, &st);
  fixed = st.memory;
  for (i = 0; i < max; i++) {
    struct client_key k = key (i);
    size_t over;

    g_assert_true (client_table_restore (t, &k, i, i));
    client_table_get_stats (t, &st);
    if (st.memory > fixed + chunk + (size_t) (i + 1) * per_client)
      g_error ("%u clients take %zu bytes: more than %zu per client plus "
               "one chunk (%zu) and the empty table (%zu)",
               i + 1, st.memory, per_client, chunk, fixed);
    over = st.memory - fixed > chunk ? st.memory - fixed - chunk : 0;
    if (over / (i + 1) > worst)
      worst = over / (i + 1);
  }
  g_assert_cmpuint (st.tracked, ==, max);
  g_test_message ("%u clients: %zu bytes, %.1f bytes per client; empty "
                  "table %zu bytes", st.tracked, st.memory,
                  (double) st.memory / st.tracked, fixed);
  g_assert_cmpuint (st.memory, <=, (size_t) max * per_client);
  /* One more evicts the oldest, and memory stays the same. */
  {
    struct client_key k = key (max);
    struct client *c = client_table_connect (t, &k, max);
    size_t before = st.memory;
    client_table_get_stats (t, &st);
    g_assert_cmpuint (st.memory, ==, before);
    g_assert_cmpuint (st.evicted, ==, 1);
    g_assert_false (present (t, 0));
    client_table_disconnect (t, c, max + 1);
  }
  client_table_free (t);
}

/* The largest table: its first client is served (the number of chunks
 * was computed in 32 bits, which wrapped around for a large maximum and
 * left no chunk), and beyond the largest is taken as the largest.
 */
static void
test_max_clients (void)
{
  const uint32_t maxes[] = { CLIENT_TABLE_MAX_CLIENTS, UINT32_MAX };
  size_t i;

  for (i = 0; i < G_N_ELEMENTS (maxes); i++) {
    struct client_table *t = client_table_new (maxes[i], secret);
    struct client_table_stats st;
    struct client_key k = key (1);
    struct client *c = client_table_connect (t, &k, 1);

    g_assert_nonnull (c);
    g_assert_cmpuint (client_table_capacity (t), ==,
                      CLIENT_TABLE_MAX_CLIENTS);
    client_table_get_stats (t, &st);
    /* One chunk of entries, and a pointer for each chunk there may be. */
    g_assert_cmpuint (st.memory, <, 1024 * sizeof (struct client)
                      + CLIENT_TABLE_MAX_CLIENTS / 1024 * sizeof (void *)
                      + 4096);
    client_table_disconnect (t, c, 2);
    client_table_free (t);
  }
}

static gint
cmp_int64 (gconstpointer a, gconstpointer b)
{
  int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;

  return x < y ? -1 : x > y;
}

/* The model: what the table must hold, by the rules in client-table.h.
 * A client is present or not; present clients have a connection count,
 * a delivered count, and, when they have no connection, the time they
 * last went idle.  A newcomer to a full table takes the place of the
 * idle client that went idle longest ago, or is refused if there is
 * none; forgetting removes idle clients that went idle before a time.
 */
#define MODEL_KEYS 400

struct model {
  uint32_t max, tracked, connected;
  uint64_t evicted, forgotten;
  bool present[MODEL_KEYS];
  uint32_t conns[MODEL_KEYS];
  uint64_t delivered[MODEL_KEYS];       /* blocks */
  int64_t idle_since[MODEL_KEYS];
};

static void
model_remove (struct model *m, uint32_t n)
{
  g_assert_true (m->present[n] && m->conns[n] == 0);
  m->present[n] = false;
  m->tracked--;
}

/* Returns false if the model refuses the connection. */
static bool
model_connect (struct model *m, uint32_t n)
{
  if (!m->present[n]) {
    if (m->tracked == m->max) {
      int64_t oldest = INT64_MAX;
      uint32_t victim = MODEL_KEYS, j;

      for (j = 0; j < MODEL_KEYS; j++)
        if (m->present[j] && m->conns[j] == 0 && m->idle_since[j] < oldest) {
          oldest = m->idle_since[j];
          victim = j;
        }
      if (victim == MODEL_KEYS)
        return false;
      model_remove (m, victim);
      m->evicted++;
    }
    m->present[n] = true;
    m->conns[n] = 0;
    m->delivered[n] = 0;
    m->tracked++;
  }
  if (m->conns[n]++ == 0)
    m->connected++;
  return true;
}

static void
model_disconnect (struct model *m, uint32_t n, int64_t now)
{
  g_assert_cmpuint (m->conns[n], >, 0);
  if (--m->conns[n] == 0) {
    m->connected--;
    m->idle_since[n] = now;
  }
}

static size_t
model_forget (struct model *m, int64_t before)
{
  size_t r = 0;
  uint32_t j;

  for (j = 0; j < MODEL_KEYS; j++)
    if (m->present[j] && m->conns[j] == 0 && m->idle_since[j] < before) {
      model_remove (m, j);
      r++;
    }
  m->forgotten += r;
  return r;
}

/* When the median idle client went idle (if none is, INT64_MAX). */
static int64_t
model_median_idle (const struct model *m)
{
  g_autoptr (GArray) times = g_array_new (FALSE, FALSE, sizeof (int64_t));
  uint32_t j;

  for (j = 0; j < MODEL_KEYS; j++)
    if (m->present[j] && m->conns[j] == 0)
      g_array_append_val (times, m->idle_since[j]);
  if (times->len == 0)
    return INT64_MAX;
  g_array_sort (times, cmp_int64);
  return g_array_index (times, int64_t, times->len / 2);
}

struct walk {
  const struct model *m;
  uint32_t seen;
};

/* client_table_foreach: each client in the table is in the model, with
 * the same counts.
 */
static void
walk_one (const struct client *c, void *opaque)
{
  struct walk *w = opaque;
  uint32_t n = ((uint32_t) c->key.u.bytes[1] << 16 |
                (uint32_t) c->key.u.bytes[2] << 8 | c->key.u.bytes[3]);

  g_assert_cmpuint (n, <, MODEL_KEYS);
  if (!w->m->present[n])
    g_error ("client %u is in the table, not in the model", n);
  g_assert_cmpuint (c->conns, ==, w->m->conns[n]);
  g_assert_cmpuint (client_delivered_blocks (c), ==, w->m->delivered[n]);
  if (c->conns == 0)
    g_assert_cmpint (c->last_seen, ==, w->m->idle_since[n]);
  w->seen++;
}

static void
assert_matches (struct client_table *t, const struct model *m)
{
  struct client_table_stats st;
  struct walk w = { .m = m, .seen = 0 };

  client_table_get_stats (t, &st);
  g_assert_cmpuint (st.tracked, ==, m->tracked);
  g_assert_cmpuint (st.connected, ==, m->connected);
  g_assert_cmpuint (st.evicted, ==, m->evicted);
  g_assert_cmpuint (st.forgotten, ==, m->forgotten);
  client_table_foreach (t, walk_one, &w);
  g_assert_cmpuint (w.seen, ==, m->tracked);
}

/* Random connects (up to two connections per client), disconnects and
 * forgets, with the table checked against the model: the counts after
 * every step, the whole contents every 50 steps.
 */
static void
test_random_model (void)
{
  const uint32_t max = 200;
  struct client_table *t = client_table_new (max, secret);
  struct client *held[MODEL_KEYS] = { NULL };  /* the entry, while conns */
  struct model *m = g_new0 (struct model, 1);
  GRand *rand = g_rand_new_with_seed (42);
  int64_t now = 0;
  uint64_t refused = 0;
  int step;

  m->max = max;
  for (step = 0; step < 50000; step++) {
    uint32_t n = g_rand_int_range (rand, 0, MODEL_KEYS);
    struct client_key k = key (n);

    now++;
    if (m->conns[n] == 0 ||
        (m->conns[n] == 1 && g_rand_int_range (rand, 0, 4) == 0)) {
      struct client *c = client_table_connect (t, &k, now);
      bool admitted = model_connect (m, n);

      g_assert_true ((c != NULL) == admitted);
      if (c) {
        /* Entries never move while a client has a connection. */
        g_assert_true (held[n] == NULL || held[n] == c);
        g_assert_true (client_key_equal (&c->key, &k));
        held[n] = c;
        client_add_blocks (c, 1);
        m->delivered[n]++;
      }
      else
        refused++;
    }
    else {
      client_table_disconnect (t, held[n], now);
      model_disconnect (m, n, now);
      if (m->conns[n] == 0)
        held[n] = NULL;
    }
    if (step % 250 == 249) {
      /* Forget those idle before the median idle client went idle:
       * that one ("last seen before BEFORE" is strict) stays.
       */
      int64_t before = model_median_idle (m);
      g_assert_cmpuint (client_table_forget_idle (t, before), ==,
                        model_forget (m, before));
    }
    if (step % 50 == 0 || step % 250 == 249)
      assert_matches (t, m);
    else {
      struct client_table_stats st;
      client_table_get_stats (t, &st);
      g_assert_cmpuint (st.tracked, ==, m->tracked);
      g_assert_cmpuint (st.evicted, ==, m->evicted);
    }
  }
  assert_matches (t, m);
  g_test_message ("%" G_GUINT64_FORMAT " evicted, %" G_GUINT64_FORMAT
                  " forgotten, %" G_GUINT64_FORMAT " refused",
                  m->evicted, m->forgotten, refused);
  /* The run went through every case. */
  g_assert_cmpuint (m->evicted, >, 0);
  g_assert_cmpuint (m->forgotten, >, 0);
  g_assert_cmpuint (refused, >, 0);
  g_rand_free (rand);
  g_free (m);
  for (uint32_t n = 0; n < MODEL_KEYS; n++)
    while (held[n] && client_table_connections (t, held[n]) > 0)
      client_table_disconnect (t, held[n], now);
  client_table_free (t);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/ratetier/client-table/same-client", test_same_client);
  g_test_add_func ("/ratetier/client-table/eviction-lru", test_eviction_lru);
  g_test_add_func ("/ratetier/client-table/full-of-connected",
                   test_full_of_connected);
  g_test_add_func ("/ratetier/client-table/forget-idle", test_forget_idle);
  g_test_add_func ("/ratetier/client-table/decay", test_decay);
  g_test_add_func ("/ratetier/client-table/restore", test_restore);
  g_test_add_func ("/ratetier/client-table/memory", test_memory);
  g_test_add_func ("/ratetier/client-table/max-clients", test_max_clients);
  g_test_add_func ("/ratetier/client-table/random-model",
                   test_random_model);
  return g_test_run ();
}
