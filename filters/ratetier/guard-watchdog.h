/* ratetier: the guard's watchdog thread and its quit-signal handling.
 *
 * What: one thread that calls guard_conns_tick (guard-conns.h) every
 * GUARD_TICK_MS, or every GUARD_FAST_TICK_MS for a second after a
 * connection closed (so that the duplicate descriptor is dropped, and
 * the client sees the close, within milliseconds), and logs the trips
 * it returns.
 *
 * Quitting: nbdkit 1.32 answers SIGINT, SIGQUIT, SIGTERM and SIGHUP by
 * waiting for every connection thread to end, and a thread stuck
 * reading from a silent client never does: one stalled connection keeps
 * the server up for ever.  guard_watchdog_start installs a handler for
 * those signals in front of nbdkit's (which are in place by
 * .after_fork) that wakes the watchdog and then calls nbdkit's; the
 * watchdog then calls the quit hook (guard_watchdog_set_quit_hook: the
 * scheduler stops admitting, so that no queued request reaches a
 * backend that is shutting down) and shuts down every tracked
 * connection at once (guard_conns_shutdown_all).  guard_watchdog_stop
 * puts nbdkit's handlers back.
 *
 * Locking: none of its own.  The thread is woken through an eventfd,
 * which the signal handler may write to; the stop and hurry requests
 * are atomics.  The thread takes guard-conns' lock only inside its
 * calls, and logs with no lock held.
 *
 * Lifetime: started in .after_fork, stopped and joined in .cleanup (or
 * .unload) within one tick, so that it never delays the server's exit.
 */
#ifndef RATETIER_GUARD_WATCHDOG_H
#define RATETIER_GUARD_WATCHDOG_H

/* Ticks (ms): while nothing is closing, and while a closed connection
 * waits for nbdkit to drop its descriptor. */
#define GUARD_TICK_MS 250
#define GUARD_FAST_TICK_MS 10

/* HOOK is called once, on the watchdog thread, when a quit signal
 * arrives.  Set it before guard_watchdog_start. */
extern void guard_watchdog_set_quit_hook (void (*hook) (void));

/* Start the thread and install the quit handlers; LOG_INTERVAL_S is
 * quoted in the log of each trip.  Returns 0, or nbdkit_error and -1. */
extern int guard_watchdog_start (unsigned log_interval_s);

/* Restore nbdkit's handlers, stop the thread and join it.  Safe to call
 * when guard_watchdog_start was not, or failed. */
extern void guard_watchdog_stop (void);

/* A connection is closing: tick fast for a while.  Lock-free. */
extern void guard_watchdog_hurry (void);

#endif /* RATETIER_GUARD_WATCHDOG_H */
