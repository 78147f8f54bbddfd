/* Heat ranges and merging of records (see analysis.h).  No I/O, so
 * the tool's answers can be unit-tested on records built in memory. */
#include <stdint.h>
#include <string.h>

#include <glib.h>

#include "analysis.h"

uint64_t
hm_sat_add (uint64_t a, uint64_t b)
{
  return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static int
level (uint64_t count)
{
  return count == 0 ? 0 : 64 - __builtin_clzll (count);
}

GArray *
hm_ranges (const struct hm_record *recs, uint64_t nr)
{
  GArray *a = g_array_new (FALSE, FALSE, sizeof (struct hm_range));
  struct hm_range *last = NULL;
  uint64_t i;

  for (i = 0; i < nr; i++) {
    const struct hm_record *r = &recs[i];

    if (last == NULL || level (last->max_count) != level (r->count)) {
      struct hm_range fresh = { .first = i, .min_count = r->count };

      g_array_append_val (a, fresh);
      last = &g_array_index (a, struct hm_range, a->len - 1);
    }
    last->n++;
    last->reads = hm_sat_add (last->reads, r->count);
    last->bytes = hm_sat_add (last->bytes, r->bytes);
    if (r->count > last->max_count)
      last->max_count = r->count;
    if (r->count < last->min_count)
      last->min_count = r->count;
    if (r->last_us > last->last_us)
      last->last_us = r->last_us;
  }
  return a;
}

int
hm_range_cmp_hot (gconstpointer a, gconstpointer b)
{
  const struct hm_range *x = a, *y = b;

  if (x->max_count != y->max_count)
    return x->max_count > y->max_count ? -1 : 1;
  if (x->reads != y->reads)
    return x->reads > y->reads ? -1 : 1;
  return x->first < y->first ? -1 : x->first > y->first;
}

const struct hm_range *
hm_hottest_range (const GArray *ranges)
{
  const struct hm_range *hot = NULL;
  guint i;

  for (i = 0; i < ranges->len; i++) {
    const struct hm_range *r = &g_array_index (ranges, struct hm_range, i);

    if (r->max_count > 0 && (hot == NULL || hm_range_cmp_hot (r, hot) < 0))
      hot = r;
  }
  return hot;
}

const struct hm_range *
hm_coldest_range (const GArray *ranges)
{
  const struct hm_range *never = NULL, *least = NULL;
  guint i;

  for (i = 0; i < ranges->len; i++) {
    const struct hm_range *r = &g_array_index (ranges, struct hm_range, i);

    if (r->max_count == 0 && (never == NULL || r->n > never->n))
      never = r;
    if (least == NULL || r->max_count < least->max_count)
      least = r;
  }
  return never ? never : least;
}

void
hm_totals (const struct hm_record *recs, uint64_t nr, struct hm_totals *t)
{
  uint64_t i;

  memset (t, 0, sizeof *t);
  for (i = 0; i < nr; i++) {
    const struct hm_record *r = &recs[i];

    if (r->count > 0)
      t->heat_blocks_read++;
    t->reads = hm_sat_add (t->reads, r->count);
    t->bytes = hm_sat_add (t->bytes, r->bytes);
    if (r->first_us && (t->first_us == 0 || r->first_us < t->first_us))
      t->first_us = r->first_us;
    if (r->last_us > t->last_us)
      t->last_us = r->last_us;
  }
}

void
hm_merge_records (struct hm_record *dst, const struct hm_record *src,
                  uint64_t nr)
{
  uint64_t i;

  for (i = 0; i < nr; i++) {
    struct hm_record *d = &dst[i];
    const struct hm_record *s = &src[i];

    d->count = hm_sat_add (d->count, s->count);
    d->bytes = hm_sat_add (d->bytes, s->bytes);
    if (s->first_us != 0 && (d->first_us == 0 || s->first_us < d->first_us))
      d->first_us = s->first_us;
    if (s->last_us > d->last_us)
      d->last_us = s->last_us;
  }
}
