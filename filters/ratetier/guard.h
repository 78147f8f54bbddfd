/* ratetier: connection guards for a public server.
 *
 * nbdkit 1.32 has no handshake timeout, no idle timeout, no per-client
 * connection cap, and no API for a filter to close a connection.  The
 * guard provides the three limits:
 *
 *   ratetier-handshake-timeout=SECS   (default 10, 0 disables)
 *       A connection that has not entered transmission (NBD_OPT_GO
 *       answered) SECS after it arrived is closed.
 *   ratetier-idle-timeout=SECS        (default 3600, 0 disables)
 *       An established connection with no request for SECS is closed.
 *   ratetier-max-connections=N        (default 16, 0 disables)
 *       A client (its address under ratetier-ipv4-prefix and
 *       ratetier-ipv6-prefix, whatever ratetier-key says) may hold N
 *       connections, counted from arrival (.preconnect), handshake
 *       included; more are refused in .preconnect, before the handshake.
 *   ratetier-max-handshakes=N         (default 256, 0 disables)
 *       At most N connections (from all clients) may be in the handshake
 *       at once; more are refused in .preconnect.  nbdkit's limit filter
 *       counts a connection only once its handshake is done, so without
 *       this many addresses (an IPv6 /64 each is cheap) could hold a
 *       thread each for the whole handshake timeout.
 *   ratetier-guard-log-interval=SECS  (default 60)
 *       A limit that trips is logged at most once per client per SECS.
 *
 * How a connection is closed without an API: in .preconnect, which runs
 * on the connection's own thread, the guard finds the connection's
 * socket among the process's file descriptors: the one socket whose
 * peer address (getpeername) equals nbdkit_peer_name's.  For TCP the
 * peer address and port identify the connection; if no socket or more
 * than one matches (Unix sockets all have the same unnamed peer), the
 * connection is not tracked: no timeouts and no cap for it, rather than
 * a risk of closing another one.  The guard keeps a duplicate of the
 * descriptor, so the number cannot be reused for another connection
 * under it, and on a deadline calls shutdown (SHUT_RDWR) on it: nbdkit's
 * next read sees end of file and it ends the connection the usual way.
 *
 * Holding a duplicate keeps the socket open after nbdkit closes its own
 * descriptor, so the duplicate must go as soon as nbdkit is done: the
 * watchdog drops it when it sees that nbdkit's descriptor no longer
 * refers to the socket (it compares socket inodes, once per tick, and
 * every few milliseconds for a second after a .close).
 *
 * Files: guard.c (parameters, start and stop, .preconnect: identifying
 * the connection and reporting the verdict), guard-conns.c (the tracked
 * connections, the caps and deadlines, and the per-handle calls below),
 * guard-watchdog.c (the thread and the quit signals).
 *
 * Threads and locks: one watchdog thread, started in .after_fork and
 * stopped (and joined) in .cleanup within one tick.  guard-conns.c's one
 * mutex protects the tracked connections and the per-client counts; the
 * per-handle calls take no lock (guard_activity, on the request path,
 * only stores a timestamp).
 *
 * Lifetime: a struct guard_conn stays valid until nbdkit has closed the
 * connection's socket, so for every handle of that connection (see
 * guard-conns.h), and until guard_unload.
 */
#ifndef RATETIER_GUARD_H
#define RATETIER_GUARD_H

#include <stdint.h>

#include "client-key.h"
#include "secret.h"

struct guard_conn;

/* Counters for the status file. */
struct guard_stats {
  uint64_t tracked;             /* connections tracked now */
  uint64_t untracked;           /* connections not trackable (total) */
  uint64_t handshake_timeouts;  /* connections closed: handshake */
  uint64_t idle_timeouts;       /* connections closed: idle */
  uint64_t refused;             /* connections refused: per-client cap */
  uint64_t refused_handshakes;  /* connections refused: max-handshakes */
};

#define GUARD_CONFIG_HELP \
  "ratetier-handshake-timeout=SECS  Close connections still in the handshake\n" \
  "                                 after SECS (default 10, 0 = never).\n" \
  "ratetier-idle-timeout=SECS       Close connections idle for SECS\n" \
  "                                 (default 3600, 0 = never).\n" \
  "ratetier-max-connections=N       Connections per client (default 16,\n" \
  "                                 0 = no cap).\n" \
  "ratetier-max-handshakes=N        Connections in the handshake at once,\n" \
  "                                 all clients (default 256, 0 = no cap).\n" \
  "ratetier-guard-log-interval=SECS Log a tripped limit at most once per\n" \
  "                                 client per SECS (default 60)."

/* The parameters above; 0 disables a timeout or a cap. */
struct guard_config {
  uint32_t handshake_timeout_s;
  uint32_t idle_timeout_s;
  uint32_t max_connections;     /* per client */
  uint32_t max_handshakes;      /* in the handshake, all clients */
  uint32_t log_interval_s;
};

#define GUARD_CONFIG_DEFAULT                                            \
  { .handshake_timeout_s = 10, .idle_timeout_s = 3600,                  \
    .max_connections = 16, .max_handshakes = 256, .log_interval_s = 60 }

/* The longest timeout or log interval: a week, in seconds. */
#define GUARD_MAX_SECS (7 * 24 * 3600)

/* .config: parameter KEY=VALUE into *CONFIG if it is one of the
 * guard's.  Returns CONFIG_OK, CONFIG_ERROR (after nbdkit_error) or
 * CONFIG_NOT_MINE (config.h).
 */
extern int guard_config (struct guard_config *config, const char *key,
                         const char *value);

/* .after_fork: start the watchdog with CONFIG.  KEY_CONFIG gives the
 * prefixes (its per_connection is ignored: the cap always counts by
 * address); SECRET keys the hash of the client table.  Returns 0, or
 * nbdkit_error and -1.  Does nothing if every limit is disabled.
 */
extern int guard_start (const struct guard_config *config,
                        const struct client_key_config *key_config,
                        const uint8_t secret[SECRET_BYTES]);

/* Before guard_start: HOOK runs once when the server is told to quit
 * (a quit signal), before connections are shut down.  Without a
 * watchdog (every limit disabled) it never runs.
 */
extern void guard_set_quit_hook (void (*hook) (void));

/* .cleanup: stop and join the watchdog, drop every duplicate.  Safe to
 * call when guard_start was not, and more than once.
 */
extern void guard_stop (void);

/* .unload: guard_stop, then free every entry. */
extern void guard_unload (void);

/* .preconnect, before calling next: track this connection and set
 * *CONN to its entry (NULL if it cannot be tracked), or refuse it (-1,
 * the caller returns -1) when a cap is reached.  The caller hands
 * *CONN to the connection's handles (.open), which pass it to the
 * calls below; they accept NULL.
 */
extern int guard_preconnect (struct guard_conn **conn);

/* .prepare / .finalize: the handle enters / leaves transmission (an
 * NBD_OPT_INFO handle is prepared and finalized during the handshake;
 * an NBD_OPT_GO handle stays prepared).
 */
extern void guard_prepare (struct guard_conn *g);
extern void guard_finalize (struct guard_conn *g);

/* .close: the connection may be over; its duplicate and its place in
 * the client's count are released as soon as nbdkit closes the socket.
 */
extern void guard_close (struct guard_conn *g);

/* At the start and at the end of every request (queued and run, or
 * abandoned): the idle timer runs only while no request is in flight,
 * from the end of the last one, so that a request waiting in a queue
 * or running long is never cut off as idle.  Lock-free. */
extern void guard_activity (struct guard_conn *g);
extern void guard_activity_done (struct guard_conn *g);

extern void guard_get_stats (struct guard_stats *stats);

#endif /* RATETIER_GUARD_H */
