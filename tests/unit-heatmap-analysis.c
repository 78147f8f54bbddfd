/* Unit test: the tool's computations over records
 * (tools/sandbag-heatmap/analysis.h): heat ranges, their hottest-first
 * order, the hottest and coldest range and the totals of a summary, and
 * merging maps of several mirrors.
 */
#include <glib.h>

#include "analysis.h"

static const struct hm_range *
range_at (GArray *a, guint i)
{
  return &g_array_index (a, struct hm_range, i);
}

static void
test_ranges (void)
{
  /* Levels: 0 | 1 | 2,3 (level 2) | 4,7 (level 3) | 8 | 0,0 */
  struct hm_record r[9] = {
    { 0 }, { .count = 1, .bytes = 10, .last_us = 5 },
    { .count = 2 }, { .count = 3, .last_us = 9 },
    { .count = 4 }, { .count = 7, .bytes = 1 },
    { .count = 8 }, { 0 }, { 0 },
  };
  g_autoptr (GArray) a = hm_ranges (r, 9);

  g_assert_cmpuint (a->len, ==, 6);
  g_assert_cmpuint (range_at (a, 0)->first, ==, 0);
  g_assert_cmpuint (range_at (a, 0)->n, ==, 1);
  g_assert_cmpuint (range_at (a, 0)->max_count, ==, 0);
  g_assert_cmpuint (range_at (a, 1)->bytes, ==, 10);
  g_assert_cmpuint (range_at (a, 2)->first, ==, 2);
  g_assert_cmpuint (range_at (a, 2)->n, ==, 2);
  g_assert_cmpuint (range_at (a, 2)->reads, ==, 5);
  g_assert_cmpuint (range_at (a, 2)->min_count, ==, 2);
  g_assert_cmpuint (range_at (a, 2)->max_count, ==, 3);
  g_assert_cmpuint (range_at (a, 2)->last_us, ==, 9);
  g_assert_cmpuint (range_at (a, 3)->min_count, ==, 4);
  g_assert_cmpuint (range_at (a, 3)->max_count, ==, 7);
  g_assert_cmpuint (range_at (a, 4)->first, ==, 6);
  g_assert_cmpuint (range_at (a, 5)->first, ==, 7);
  g_assert_cmpuint (range_at (a, 5)->n, ==, 2);

  g_array_sort (a, hm_range_cmp_hot);
  g_assert_cmpuint (range_at (a, 0)->max_count, ==, 8);
  g_assert_cmpuint (range_at (a, 1)->max_count, ==, 7);
  g_assert_cmpuint (range_at (a, 2)->max_count, ==, 3);
  g_assert_cmpuint (range_at (a, 3)->max_count, ==, 1);
  /* Never-read ranges last, by offset. */
  g_assert_cmpuint (range_at (a, 4)->first, ==, 0);
  g_assert_cmpuint (range_at (a, 5)->first, ==, 7);
}

static void
test_ranges_empty (void)
{
  g_autoptr (GArray) a = hm_ranges (NULL, 0);

  g_assert_cmpuint (a->len, ==, 0);
}

static void
test_hottest_coldest (void)
{
  /* Ranges: 0 (1 heat block) | 1 | 2,3 | 4,7 | 8 | 0,0 (2). */
  const struct hm_record r[9] = {
    { 0 }, { .count = 1 }, { .count = 2 }, { .count = 3 }, { .count = 4 },
    { .count = 7 }, { .count = 8 }, { 0 }, { 0 },
  };
  /* Every heat block read: levels 1 | 3 | 2 | 1 (two ranges of count 1). */
  const struct hm_record all[4] = {
    { .count = 1 }, { .count = 5 }, { .count = 2 }, { .count = 1 },
  };
  const struct hm_record none[3] = { { 0 } };
  g_autoptr (GArray) a = hm_ranges (r, 9);
  g_autoptr (GArray) b = hm_ranges (all, 4);
  g_autoptr (GArray) c = hm_ranges (none, 3);
  g_autoptr (GArray) empty = hm_ranges (NULL, 0);

  g_assert_cmpuint (hm_hottest_range (a)->first, ==, 6);
  /* The longest never-read range, not the first. */
  g_assert_cmpuint (hm_coldest_range (a)->first, ==, 7);
  g_assert_cmpuint (hm_coldest_range (a)->n, ==, 2);
  g_assert_cmpuint (hm_hottest_range (b)->first, ==, 1);
  /* Nothing never read: the least read, the first of equals. */
  g_assert_cmpuint (hm_coldest_range (b)->first, ==, 0);
  g_assert_cmpuint (hm_coldest_range (b)->max_count, ==, 1);
  g_assert_null (hm_hottest_range (c));
  g_assert_cmpuint (hm_coldest_range (c)->n, ==, 3);
  g_assert_null (hm_hottest_range (empty));
  g_assert_null (hm_coldest_range (empty));
}

static void
test_totals (void)
{
  const struct hm_record r[4] = {
    { .count = 2, .bytes = 10, .first_us = 50, .last_us = 90 },
    { .count = UINT64_MAX, .bytes = 5, .first_us = 30, .last_us = 40 },
    { 0 },
    { .count = 1, .bytes = UINT64_MAX, .first_us = 70, .last_us = 99 },
  };
  struct hm_totals t;

  hm_totals (r, 4, &t);
  g_assert_cmpuint (t.heat_blocks_read, ==, 3);
  g_assert_cmpuint (t.reads, ==, UINT64_MAX);
  g_assert_cmpuint (t.bytes, ==, UINT64_MAX);
  /* "Never" (0) is not the earliest time. */
  g_assert_cmpuint (t.first_us, ==, 30);
  g_assert_cmpuint (t.last_us, ==, 99);
  hm_totals (r + 2, 1, &t);
  g_assert_cmpuint (t.heat_blocks_read, ==, 0);
  g_assert_cmpuint (t.first_us, ==, 0);
  g_assert_cmpuint (t.last_us, ==, 0);
}

static void
test_merge (void)
{
  struct hm_record a[3] = {
    { .count = 1, .bytes = 100, .first_us = 50, .last_us = 60 },
    { 0 },
    { .count = UINT64_MAX - 1, .bytes = 5, .first_us = 10, .last_us = 10 },
  };
  const struct hm_record b[3] = {
    { .count = 2, .bytes = 1, .first_us = 40, .last_us = 45 },
    { .count = 3, .bytes = 3, .first_us = 70, .last_us = 80 },
    { .count = 5, .bytes = UINT64_MAX, .first_us = 0, .last_us = 0 },
  };

  hm_merge_records (a, b, 3);
  g_assert_cmpuint (a[0].count, ==, 3);
  g_assert_cmpuint (a[0].bytes, ==, 101);
  g_assert_cmpuint (a[0].first_us, ==, 40);
  g_assert_cmpuint (a[0].last_us, ==, 60);
  /* Into a never-read record: a copy. */
  g_assert_cmpuint (a[1].count, ==, 3);
  g_assert_cmpuint (a[1].first_us, ==, 70);
  g_assert_cmpuint (a[1].last_us, ==, 80);
  /* Saturation, and "never" (0) is not the earliest time. */
  g_assert_cmpuint (a[2].count, ==, UINT64_MAX);
  g_assert_cmpuint (a[2].bytes, ==, UINT64_MAX);
  g_assert_cmpuint (a[2].first_us, ==, 10);
  g_assert_cmpuint (a[2].last_us, ==, 10);
}

static void
test_merge_commutes (void)
{
  const struct hm_record x[2] = { { 1, 2, 30, 40 }, { 0 } };
  const struct hm_record y[2] = { { 5, 6, 20, 35 }, { 7, 8, 1, 2 } };
  struct hm_record xy[2] = { { 0 } }, yx[2] = { { 0 } };

  hm_merge_records (xy, x, 2);
  hm_merge_records (xy, y, 2);
  hm_merge_records (yx, y, 2);
  hm_merge_records (yx, x, 2);
  g_assert_cmpmem (xy, sizeof xy, yx, sizeof yx);
  g_assert_cmpuint (xy[0].first_us, ==, 20);
  g_assert_cmpuint (xy[0].last_us, ==, 40);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/heatmap/analysis/ranges", test_ranges);
  g_test_add_func ("/heatmap/analysis/ranges-empty", test_ranges_empty);
  g_test_add_func ("/heatmap/analysis/hottest-coldest",
                   test_hottest_coldest);
  g_test_add_func ("/heatmap/analysis/totals", test_totals);
  g_test_add_func ("/heatmap/analysis/merge", test_merge);
  g_test_add_func ("/heatmap/analysis/merge-commutes", test_merge_commutes);
  return g_test_run ();
}
