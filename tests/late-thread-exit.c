/* Preloaded into nbdkit by test-ratetier-unload.sh: runs the ratetier
 * filter's thread-exit destructors late, and says so.
 *
 * nbdkit waits for its connection threads before it calls .cleanup and
 * .unload and unloads the filter, but it counts a thread out before the
 * thread's exit-time destructors (pthread_key_create, GPrivate) run.  A
 * destructor of the filter therefore races with .unload and dlclose.
 * This library makes the race certain to be lost: every destructor
 * whose code is in the filter (its file name contains "ratetier") is
 * wrapped so that it writes "late-thread-exit: ratetier destructor" to
 * stderr, sleeps 1.5 s, then runs; and the process's exit waits (up to
 * 10 s) for the late ones.  The filter must register no such destructor
 * at all, so the message must never appear.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SLOTS 8
static void (*wrapped[SLOTS]) (void *);
static int used;                /* atomic: slots taken */
static int pending;             /* atomic: late destructors not done */

static void
late (int slot, void *value)
{
  static const char msg[] = "late-thread-exit: ratetier destructor\n";

  __atomic_add_fetch (&pending, 1, __ATOMIC_SEQ_CST);
  if (write (2, msg, sizeof msg - 1) == -1) {
    /* nothing to do */
  }
  usleep (1500000);
  wrapped[slot] (value);
  __atomic_sub_fetch (&pending, 1, __ATOMIC_SEQ_CST);
}

#define WRAPPER(i) static void wrapper##i (void *v) { late (i, v); }
WRAPPER (0) WRAPPER (1) WRAPPER (2) WRAPPER (3)
WRAPPER (4) WRAPPER (5) WRAPPER (6) WRAPPER (7)
static void (*const wrappers[SLOTS]) (void *) = {
  wrapper0, wrapper1, wrapper2, wrapper3,
  wrapper4, wrapper5, wrapper6, wrapper7,
};

static void
wait_for_late (void)
{
  int i;

  for (i = 0; i < 100 && __atomic_load_n (&pending, __ATOMIC_SEQ_CST); i++)
    usleep (100000);
}

static bool
in_ratetier (void (*fn) (void *))
{
  Dl_info info;

  return dladdr ((void *) fn, &info) && info.dli_fname &&
    strstr (info.dli_fname, "ratetier") != NULL;
}

int
pthread_key_create (pthread_key_t *key, void (*destructor) (void *))
{
  int (*next) (pthread_key_t *, void (*) (void *)) =
    (int (*) (pthread_key_t *, void (*) (void *)))
    dlsym (RTLD_NEXT, "pthread_key_create");

  if (destructor && in_ratetier (destructor)) {
    int slot = __atomic_fetch_add (&used, 1, __ATOMIC_SEQ_CST);

    if (slot < SLOTS) {
      /* Registered now, so that it runs before nbdkit's exit handlers. */
      if (slot == 0)
        atexit (wait_for_late);
      wrapped[slot] = destructor;
      destructor = wrappers[slot];
    }
  }
  return next (key, destructor);
}
