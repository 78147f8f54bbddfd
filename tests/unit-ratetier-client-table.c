/* Unit test: the bounded client table (filters/ratetier/client-table.c).
 *
 * Bounded size, eviction of the least recently seen idle client,
 * refusal when every client is connected, forgetting, decay, restore,
 * the memory per client, and the index against a simple model under a
 * long random sequence of operations.
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

/* Fill a default-sized table and report bytes per client. */
static void
test_memory (void)
{
  const uint32_t max = 65536;
  struct client_table *t = client_table_new (max, secret);
  struct client_table_stats st;
  uint32_t i;

  for (i = 0; i < max; i++) {
    struct client_key k = key (i);
    g_assert_true (client_table_restore (t, &k, i, i));
  }
  client_table_get_stats (t, &st);
  g_assert_cmpuint (st.tracked, ==, max);
  g_test_message ("%u clients: %zu bytes, %.1f bytes per client",
                  st.tracked, st.memory, (double) st.memory / st.tracked);
  g_assert_cmpuint (sizeof (struct client), ==, 64);
  g_assert_cmpuint (st.memory / st.tracked, <=, 128);
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

/* Random connects, disconnects and forgets against a model. */
static void
test_random_model (void)
{
  const uint32_t max = 200, keys = 600;
  struct client_table *t = client_table_new (max, secret);
  struct client *held[600] = { NULL };
  GRand *rand = g_rand_new_with_seed (42);
  int64_t now = 0;
  int step;

  for (step = 0; step < 50000; step++) {
    uint32_t n = g_rand_int_range (rand, 0, keys);
    struct client_key k = key (n);
    struct client_table_stats st;

    now++;
    if (held[n] == NULL) {
      held[n] = client_table_connect (t, &k, now);
      if (held[n]) {
        g_assert_true (client_key_equal (&held[n]->key, &k));
        client_add_blocks (held[n], 1);
      }
    }
    else if (g_rand_boolean (rand)) {
      client_table_disconnect (t, held[n], now);
      held[n] = NULL;
    }
    if (step % 1000 == 999)
      client_table_forget_idle (t, now - 500);
    client_table_get_stats (t, &st);
    g_assert_cmpuint (st.tracked, <=, max);
  }
  /* Every held client is still present and findable. */
  for (uint32_t n = 0; n < keys; n++)
    if (held[n]) {
      struct client_key k = key (n);
      struct client *c = client_table_connect (t, &k, ++now);
      g_assert_true (c == held[n]);
      client_table_disconnect (t, c, now);
      client_table_disconnect (t, held[n], now);
    }
  g_rand_free (rand);
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
