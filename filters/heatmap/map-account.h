/* Lock-free accounting of one read into the records of a heat map.
 *
 * Contract: hm_account (RECS, NR, SHIFT, OFFSET, COUNT, NOW_US) records
 * that COUNT > 0 bytes starting at OFFSET were delivered at NOW_US
 * (µs since the epoch, > 0): every heat block of size 2^SHIFT that the
 * range overlaps gets count + 1, bytes + (size of the overlap),
 * first_us = min (first_us, NOW_US) (0 meaning "never") and last_us =
 * max (last_us, NOW_US).  Heat blocks at or past NR are ignored, so a range
 * past the end of the map cannot write outside it.
 *
 * Any number of threads (and processes sharing the mapping) may call
 * this at once on the same records: each field is updated with its own
 * atomic operation, no lock, no allocation, no system call.  Counters
 * saturate at UINT64_MAX instead of wrapping.  Fields are independent:
 * a reader may see the count of a read before its bytes or times.
 */
#ifndef SANDBAG_HEATMAP_MAP_ACCOUNT_H
#define SANDBAG_HEATMAP_MAP_ACCOUNT_H

#include <stdint.h>

#include "heatmap-format.h"

/* *P += V, stopping at UINT64_MAX. */
static inline void
hm_saturating_add (uint64_t *p, uint64_t v)
{
  uint64_t old = __atomic_load_n (p, __ATOMIC_RELAXED);
  uint64_t new;

  do {
    if (old == UINT64_MAX)
      return;
    new = old > UINT64_MAX - v ? UINT64_MAX : old + v;
  } while (!__atomic_compare_exchange_n (p, &old, new, 1,
                                         __ATOMIC_RELAXED,
                                         __ATOMIC_RELAXED));
}

/* *P = min (*P, V), where 0 in *P means "unset" (V > 0). */
static inline void
hm_atomic_min_nonzero (uint64_t *p, uint64_t v)
{
  uint64_t old = __atomic_load_n (p, __ATOMIC_RELAXED);

  while (old == 0 || v < old) {
    if (__atomic_compare_exchange_n (p, &old, v, 1,
                                     __ATOMIC_RELAXED, __ATOMIC_RELAXED))
      return;
  }
}

/* *P = max (*P, V). */
static inline void
hm_atomic_max (uint64_t *p, uint64_t v)
{
  uint64_t old = __atomic_load_n (p, __ATOMIC_RELAXED);

  while (v > old) {
    if (__atomic_compare_exchange_n (p, &old, v, 1,
                                     __ATOMIC_RELAXED, __ATOMIC_RELAXED))
      return;
  }
}

static inline void
hm_account (struct hm_record *recs, uint64_t nr, uint32_t shift,
            uint64_t offset, uint64_t count, uint64_t now_us)
{
  uint64_t end, b, last_b, start, stop;

  if (count == 0)
    return;
  end = offset + count;                 /* exclusive */
  if (end < offset)                     /* wrapped: clamp */
    end = UINT64_MAX;
  b = offset >> shift;
  last_b = (end - 1) >> shift;
  if (last_b >= nr)
    last_b = nr - 1;
  for (; b <= last_b && b < nr; b++) {
    struct hm_record *r = &recs[b];

    start = b << shift;
    stop = start + (UINT64_C(1) << shift);
    if (start < offset)
      start = offset;
    if (stop > end)
      stop = end;
    hm_saturating_add (&r->count, 1);
    hm_saturating_add (&r->bytes, stop - start);
    hm_atomic_min_nonzero (&r->first_us, now_us);
    hm_atomic_max (&r->last_us, now_us);
  }
}

#endif /* SANDBAG_HEATMAP_MAP_ACCOUNT_H */
