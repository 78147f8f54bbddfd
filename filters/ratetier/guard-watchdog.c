/* ratetier: the guard's watchdog (see guard-watchdog.h). */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <glib.h>
#include <nbdkit-filter.h>

#include "clock.h"
#include "guard-conns.h"
#include "guard-watchdog.h"

static GThread *thread;
static int wake_fd = -1;        /* eventfd: written to wake the thread */
static int stopping;            /* atomic: the thread is to return */
static int hurry;               /* atomic: a connection is closing */
static unsigned log_interval;   /* seconds, for the log only */

/* Set by quit_handler, which then calls nbdkit's handler. */
static const int quit_signals[] = { SIGINT, SIGQUIT, SIGTERM, SIGHUP };
static struct sigaction old_actions[G_N_ELEMENTS (quit_signals)];
static bool handlers_installed;
static volatile sig_atomic_t quit_signalled;
static void (*quit_hook) (void);

void
guard_watchdog_set_quit_hook (void (*hook) (void))
{
  quit_hook = hook;
}

/* Async-signal-safe. */
static void
wake (void)
{
  uint64_t one = 1;

  if (wake_fd >= 0 && write (wake_fd, &one, sizeof one) == -1) {
    /* EAGAIN: the counter is already non-zero, so it will wake. */
  }
}

static void
quit_handler (int sig)
{
  int saved_errno = errno;
  size_t i;

  quit_signalled = 1;
  wake ();
  for (i = 0; i < G_N_ELEMENTS (quit_signals); i++)
    if (quit_signals[i] == sig &&
        old_actions[i].sa_handler != SIG_DFL &&
        old_actions[i].sa_handler != SIG_IGN)
      old_actions[i].sa_handler (sig);
  errno = saved_errno;
}

/* Sleep up to MS, or until woken. */
static void
sleep_until_woken (int ms)
{
  struct pollfd pfd = { .fd = wake_fd, .events = POLLIN };
  uint64_t counter;

  if (poll (&pfd, 1, ms) == 1 &&
      read (wake_fd, &counter, sizeof counter) == -1) {
    /* EAGAIN: someone else drained it; nothing to do. */
  }
}

static void
log_trips (const struct guard_trip *trips, size_t n)
{
  size_t i;

  for (i = 0; i < n; i++)
    nbdkit_error ("ratetier: client %s: %s after %u s, connection "
                  "closed; this client's trips are not logged again "
                  "for %u s", trips[i].client, trips[i].what,
                  trips[i].secs, log_interval);
}

static gpointer
watchdog_main (gpointer unused)
{
  struct guard_trip trips[16];
  bool quit_handled = false;
  int64_t fast_until = 0;

  while (!g_atomic_int_get (&stopping)) {
    int64_t now = clock_mono_ms ();
    size_t n;

    if (quit_signalled && !quit_handled) {
      /* End every tracked connection now, so that nbdkit's wait for
       * its connection threads ends. */
      quit_handled = true;
      if (quit_hook)
        quit_hook ();
      guard_conns_shutdown_all ();
    }
    if (g_atomic_int_compare_and_exchange (&hurry, 1, 0))
      fast_until = now + 1000;
    n = guard_conns_tick (now, trips, G_N_ELEMENTS (trips));
    log_trips (trips, n);
    if (n == 0)
      sleep_until_woken (now < fast_until ? GUARD_FAST_TICK_MS
                         : GUARD_TICK_MS);
  }
  return NULL;
}

/* In front of nbdkit's quit handlers. */
static int
install_handlers (void)
{
  size_t i;

  for (i = 0; i < G_N_ELEMENTS (quit_signals); i++) {
    struct sigaction sa;

    memset (&sa, 0, sizeof sa);
    sa.sa_handler = quit_handler;
    sa.sa_flags = SA_RESTART;
    sigemptyset (&sa.sa_mask);
    if (sigaction (quit_signals[i], &sa, &old_actions[i]) == -1) {
      nbdkit_error ("ratetier: sigaction: %m");
      while (i-- > 0)
        sigaction (quit_signals[i], &old_actions[i], NULL);
      return -1;
    }
  }
  handlers_installed = true;
  return 0;
}

int
guard_watchdog_start (unsigned log_interval_s)
{
  g_autoptr (GError) error = NULL;

  log_interval = log_interval_s;
  g_atomic_int_set (&stopping, 0);
  wake_fd = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd == -1) {
    nbdkit_error ("ratetier: eventfd: %m");
    return -1;
  }
  thread = g_thread_try_new ("ratetier-guard", watchdog_main, NULL, &error);
  if (thread == NULL) {
    nbdkit_error ("ratetier: cannot start the connection guard thread: %s",
                  error->message);
    return -1;
  }
  return install_handlers ();
}

void
guard_watchdog_stop (void)
{
  size_t i;

  if (handlers_installed)
    for (i = 0; i < G_N_ELEMENTS (quit_signals); i++)
      sigaction (quit_signals[i], &old_actions[i], NULL);
  handlers_installed = false;
  if (thread) {
    g_atomic_int_set (&stopping, 1);
    wake ();
    g_thread_join (thread);
    thread = NULL;
  }
  if (wake_fd >= 0)
    close (wake_fd);
  wake_fd = -1;
}

void
guard_watchdog_hurry (void)
{
  g_atomic_int_set (&hurry, 1);
  wake ();
}
