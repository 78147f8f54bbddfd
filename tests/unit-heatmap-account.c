/* Unit test: lock-free accounting of reads into heat map records
 * (filters/heatmap/map-account.h): reads that straddle heat blocks,
 * the end of the map, saturation, and exact totals when several
 * threads hammer the same records at once.
 */
#include <string.h>

#include <glib.h>

#include "map-account.h"

#define SHIFT 12                /* 4 KiB heat blocks */
#define BS (1 << SHIFT)

static void
test_single_block (void)
{
  struct hm_record r[4] = { 0 };

  hm_account (r, 4, SHIFT, 100, 200, 1000);
  g_assert_cmpuint (r[0].count, ==, 1);
  g_assert_cmpuint (r[0].bytes, ==, 200);
  g_assert_cmpuint (r[0].first_us, ==, 1000);
  g_assert_cmpuint (r[0].last_us, ==, 1000);
  g_assert_cmpuint (r[1].count, ==, 0);
}

static void
test_straddle (void)
{
  struct hm_record r[4] = { 0 };

  /* The last 10 bytes of block 0, all of block 1, 5 bytes of block 2. */
  hm_account (r, 4, SHIFT, BS - 10, 10 + BS + 5, 7);
  g_assert_cmpuint (r[0].count, ==, 1);
  g_assert_cmpuint (r[0].bytes, ==, 10);
  g_assert_cmpuint (r[1].count, ==, 1);
  g_assert_cmpuint (r[1].bytes, ==, BS);
  g_assert_cmpuint (r[2].count, ==, 1);
  g_assert_cmpuint (r[2].bytes, ==, 5);
  g_assert_cmpuint (r[3].count, ==, 0);
  g_assert_cmpuint (r[2].first_us, ==, 7);
}

static void
test_exact_block (void)
{
  struct hm_record r[4] = { 0 };

  /* Exactly block 1: blocks 0 and 2 are not touched. */
  hm_account (r, 4, SHIFT, BS, BS, 7);
  g_assert_cmpuint (r[0].count, ==, 0);
  g_assert_cmpuint (r[1].count, ==, 1);
  g_assert_cmpuint (r[2].count, ==, 0);
}

static void
test_past_end (void)
{
  struct hm_record r[3] = { 0 };

  /* Only r[0..1] belong to the map; r[2] is a guard. */
  hm_account (r, 2, SHIFT, BS, 10 * BS, 7);
  g_assert_cmpuint (r[1].count, ==, 1);
  g_assert_cmpuint (r[2].count, ==, 0);
  hm_account (r, 2, SHIFT, UINT64_MAX - 5, 100, 7);
  g_assert_cmpuint (r[2].count, ==, 0);
  hm_account (r, 2, SHIFT, 0, 0, 7);
  g_assert_cmpuint (r[0].count, ==, 0);
}

static void
test_times (void)
{
  struct hm_record r[1] = { 0 };

  hm_account (r, 1, SHIFT, 0, 1, 50);
  hm_account (r, 1, SHIFT, 0, 1, 20);   /* completed out of order */
  hm_account (r, 1, SHIFT, 0, 1, 90);
  hm_account (r, 1, SHIFT, 0, 1, 60);
  g_assert_cmpuint (r[0].first_us, ==, 20);
  g_assert_cmpuint (r[0].last_us, ==, 90);
  g_assert_cmpuint (r[0].count, ==, 4);
}

static void
test_saturate (void)
{
  struct hm_record r[1] = { { .count = UINT64_MAX - 1,
                              .bytes = UINT64_MAX - 3 } };

  hm_account (r, 1, SHIFT, 0, 100, 1);
  g_assert_cmpuint (r[0].count, ==, UINT64_MAX);
  g_assert_cmpuint (r[0].bytes, ==, UINT64_MAX);
  hm_account (r, 1, SHIFT, 0, 100, 1);
  g_assert_cmpuint (r[0].count, ==, UINT64_MAX);
  g_assert_cmpuint (r[0].bytes, ==, UINT64_MAX);
}

#define THREADS 4
#define ROUNDS 20000
static struct hm_record shared[3];

static gpointer
hammer (gpointer data)
{
  uint64_t t = GPOINTER_TO_UINT (data);
  int i;

  /* Each read covers the last byte of block 0 and the first of block 2. */
  for (i = 0; i < ROUNDS; i++)
    hm_account (shared, 3, SHIFT, BS - 1, BS + 2, 1000 + t * ROUNDS + i);
  return NULL;
}

static void
test_threads (void)
{
  GThread *th[THREADS];
  int i;

  for (i = 0; i < THREADS; i++)
    th[i] = g_thread_new ("hammer", hammer, GUINT_TO_POINTER (i));
  for (i = 0; i < THREADS; i++)
    g_thread_join (th[i]);
  for (i = 0; i < 3; i++)
    g_assert_cmpuint (shared[i].count, ==, THREADS * ROUNDS);
  g_assert_cmpuint (shared[0].bytes, ==, THREADS * ROUNDS);
  g_assert_cmpuint (shared[1].bytes, ==, (uint64_t) THREADS * ROUNDS * BS);
  g_assert_cmpuint (shared[2].bytes, ==, THREADS * ROUNDS);
  g_assert_cmpuint (shared[1].first_us, ==, 1000);
  g_assert_cmpuint (shared[1].last_us, ==, 1000 + THREADS * ROUNDS - 1);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/heatmap/account/single-block", test_single_block);
  g_test_add_func ("/heatmap/account/straddle", test_straddle);
  g_test_add_func ("/heatmap/account/exact-block", test_exact_block);
  g_test_add_func ("/heatmap/account/past-end", test_past_end);
  g_test_add_func ("/heatmap/account/times", test_times);
  g_test_add_func ("/heatmap/account/saturate", test_saturate);
  g_test_add_func ("/heatmap/account/threads", test_threads);
  return g_test_run ();
}
