/* Pure computations over heat map records, for sandbag-heatmap.
 *
 * Heat ranges: hm_ranges splits NR records into maximal runs of adjacent
 * heat blocks of the same heat level, where the level of a count is 0 for
 * never read and otherwise 1 + floor (log2 (count)) (counts within a
 * factor of two of each other share a level).  Every heat block belongs to
 * exactly one range, in order; never-read runs are ranges too.
 * hm_range_cmp_hot orders ranges hottest first: by highest heat block count,
 * then by total reads, then by offset.
 *
 * Merging: hm_merge_records adds SRC into DST, record by record:
 * counts and bytes are summed (saturating at UINT64_MAX), first_us is
 * the earliest non-zero time (0 means never) and last_us the latest.
 * Merging is commutative and associative, and merging into all-zero
 * records copies.
 */
#ifndef SANDBAG_HEATMAP_ANALYSIS_H
#define SANDBAG_HEATMAP_ANALYSIS_H

#include <stdint.h>

#include <glib.h>

#include "heatmap-format.h"

struct hm_range {
  uint64_t first, n;            /* heat blocks [first, first + n) */
  uint64_t reads;               /* sum of counts (saturating) */
  uint64_t min_count, max_count;
  uint64_t bytes;               /* sum of bytes (saturating) */
  uint64_t last_us;             /* latest read, 0 if never */
};

/* A new GArray of struct hm_range (free with g_array_unref). */
GArray *hm_ranges (const struct hm_record *recs, uint64_t nr);

/* qsort-style comparison of two struct hm_range, hottest first. */
int hm_range_cmp_hot (gconstpointer a, gconstpointer b);

/* In RANGES (from hm_ranges, in offset order): the hottest range that
 * was read (hm_range_cmp_hot), or NULL if none was. */
const struct hm_range *hm_hottest_range (const GArray *ranges);

/* In RANGES (from hm_ranges, in offset order): the coldest range, that
 * is the longest never-read range, or if every heat block was read the
 * range with the lowest highest count; the first of equals; NULL if
 * RANGES is empty. */
const struct hm_range *hm_coldest_range (const GArray *ranges);

/* Totals over NR records. */
struct hm_totals {
  uint64_t heat_blocks_read;    /* records with a count */
  uint64_t reads;               /* sum of counts (saturating) */
  uint64_t bytes;               /* sum of bytes (saturating) */
  uint64_t first_us, last_us;   /* earliest and latest read, 0: never */
};
void hm_totals (const struct hm_record *recs, uint64_t nr,
                struct hm_totals *t);

/* A + B, stopping at UINT64_MAX. */
uint64_t hm_sat_add (uint64_t a, uint64_t b);

void hm_merge_records (struct hm_record *dst, const struct hm_record *src,
                       uint64_t nr);

#endif /* SANDBAG_HEATMAP_ANALYSIS_H */
