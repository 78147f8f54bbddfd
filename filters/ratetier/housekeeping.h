/* ratetier: background work on the client table.
 *
 * One thread, started after nbdkit has forked (.after_fork) and stopped
 * at .cleanup, wakes up about once a second and:
 *  - decays delivered counts with half-life ratetier-decay (if set),
 *    in steps of half-life / 1024 (at least 1 s, at most 60 s);
 *  - forgets clients idle (no connection) for ratetier-forget-after;
 *  - rewrites ratetier-status every ratetier-status-interval;
 *  - saves ratetier-state every ratetier-state-interval.
 * At start-up (before the thread) housekeeping_load reads the state
 * file, applying the decay and forgetting owed for the time the server
 * was down.  At stop the state and status files are written a last
 * time.
 *
 * The thread takes the client table lock only inside client_table_*
 * calls, and the scheduler lock only to copy statistics.
 */
#ifndef RATETIER_HOUSEKEEPING_H
#define RATETIER_HOUSEKEEPING_H

#include <stdint.h>

#include "client-key.h"
#include "client-table.h"
#include "scheduler.h"
#include "tiers.h"

struct housekeeping_config {
  uint64_t decay_ms;          /* half-life; 0 = counts never decay */
  uint64_t forget_after_ms;   /* 0 = idle clients are kept (until evicted) */
  char *state_path;           /* NULL = no state file; malloc'd */
  uint64_t state_interval_ms;
  char *status_path;          /* NULL = no status file; malloc'd */
  uint64_t status_interval_ms;
};

#define HOUSEKEEPING_CONFIG_DEFAULT \
  { .state_interval_ms = 60000, .status_interval_ms = 5000 }

#define HOUSEKEEPING_CONFIG_HELP \
  "ratetier-decay=DURATION     Half-life of delivered counts (default: none).\n" \
  "ratetier-forget-after=DURATION  Forget clients idle this long\n" \
  "                            (default: never).\n" \
  "ratetier-state=FILE         Keep counts across restarts in FILE.\n" \
  "ratetier-state-interval=DURATION  Save the state this often (default 60s).\n" \
  "ratetier-status=FILE        Write Prometheus metrics to FILE.\n" \
  "ratetier-status-interval=DURATION  Rewrite the status this often\n" \
  "                            (default 5s)."

/* .config: parameter KEY=VALUE into *CONFIG if it is one of the above.
 * Returns CONFIG_OK, CONFIG_ERROR (after nbdkit_error) or
 * CONFIG_NOT_MINE (config.h).  The paths are free()d by the caller.
 */
extern int housekeeping_config (struct housekeeping_config *config,
                                const char *key, const char *value);

struct housekeeping;

extern struct housekeeping *housekeeping_new
  (const struct housekeeping_config *config, struct client_table *table,
   struct sched *sched, const struct tiers *tiers,
   struct client_key_config key_config, uint32_t block_size);

/* Load the state file, if any.  Returns 0 or -1 (nbdkit_error). */
extern int housekeeping_load (struct housekeeping *hk);

/* Start the thread.  Returns 0 or -1 (nbdkit_error). */
extern int housekeeping_start (struct housekeeping *hk);

/* Stop the thread (if started) and write the files a last time. */
extern void housekeeping_stop (struct housekeeping *hk);

/* Stop the thread if housekeeping_stop did not, and free HK. */
extern void housekeeping_free (struct housekeeping *hk);

#endif /* RATETIER_HOUSEKEEPING_H */
