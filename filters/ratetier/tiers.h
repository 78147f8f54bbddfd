/* ratetier: the tier table given by the ratetier= parameter.
 *
 * A tier table is a list of (threshold, weight) tuples in strictly
 * increasing threshold order, followed by an implicit last tier of
 * weight 1 that has no threshold.  A client whose delivered block
 * count is below tier i's threshold, and not below any earlier
 * tier's, belongs to tier i; a client past every threshold belongs to
 * the implicit tier.
 *
 * Two spellings are accepted, with blanks (space, tab, newline)
 * anywhere between tokens:
 *
 *   ((1000, 10), (10000, 4), (100000, 2))     tuple form
 *   1000:10,10000:4,100000:2                   colon form
 *   ()                                         only the implicit tier
 *
 * Thresholds are decimal integers >= 1 and strictly increasing;
 * weights are decimal integers in [1, TIERS_MAX_WEIGHT].  At most
 * TIERS_MAX - 1 tuples may be given.
 *
 * This file is pure: no global state, no threads, nothing but
 * nbdkit_error for diagnostics.  It is meant to be fuzzed.
 */
#ifndef RATETIER_TIERS_H
#define RATETIER_TIERS_H

#include <stddef.h>
#include <stdint.h>

#define TIERS_MAX 64                 /* tiers, including the implicit one */
#define TIERS_MAX_WEIGHT 65536
#define TIERS_NO_THRESHOLD UINT64_MAX /* threshold of the implicit tier */

struct tier {
  uint64_t below;     /* blocks: a client with fewer delivered blocks
                       * (and not below an earlier tier's threshold)
                       * is placed here; TIERS_NO_THRESHOLD for the
                       * implicit last tier */
  unsigned weight;    /* >= 1; see scheduler.h for what it buys */
};

struct tiers {
  size_t n;           /* number of tiers, >= 1, implicit one included */
  struct tier tier[]; /* tier[n - 1] is the implicit tier, weight 1 */
};

/* Parse STR.  On success return a new table (free with tiers_free).
 * On error call nbdkit_error with a message that names "ratetier" and
 * quotes the offending part of STR, and return NULL.
 */
extern struct tiers *tiers_parse (const char *str);

extern void tiers_free (struct tiers *tiers);

/* The index of the tier a client with BLOCKS delivered blocks belongs
 * in: the first tier whose threshold is greater than BLOCKS.  Always
 * < tiers->n.
 */
extern size_t tiers_place (const struct tiers *tiers, uint64_t blocks);

/* Sum of all weights, implicit tier included. */
extern uint64_t tiers_weight_sum (const struct tiers *tiers);

/* A canonical spelling (colon form, implicit tier omitted; "()" when
 * there is only the implicit tier), for logs.  Free with g_free.
 */
extern char *tiers_format (const struct tiers *tiers);

#endif /* RATETIER_TIERS_H */
