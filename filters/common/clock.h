/* Clocks, in the units each use needs.  Header-only, so that the
 * request path (heatmap's last-read time) pays one vDSO clock_gettime.
 *
 * Monotonic time never jumps and is what every timeout, interval and
 * age within one run uses; real (wall-clock) time is what is written to
 * files that outlive the process (heat maps, the ratetier state file).
 */
#ifndef SANDBAG_CLOCK_H
#define SANDBAG_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline int64_t
clock_mono_ms (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline int64_t
clock_mono_s (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec;
}

/* Microseconds since the epoch. */
static inline uint64_t
clock_real_us (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_REALTIME, &ts);
  return (uint64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Seconds since the epoch. */
static inline int64_t
clock_real_s (void)
{
  return time (NULL);
}

#endif /* SANDBAG_CLOCK_H */
