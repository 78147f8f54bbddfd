/* ratetier: the connections the guard tracks, and their clients.
 *
 * What: every connection the guard can close (guard.h) is a struct
 * guard_conn on one list, holding a duplicate of nbdkit's socket
 * descriptor; every client (its key under the prefixes) with a tracked
 * connection, or with a trip logged within the log interval, is a
 * struct guard_client in a hash table keyed by the client key.  Here
 * are decided the admission caps (ratetier-max-connections,
 * ratetier-max-handshakes), the deadlines (handshake and idle
 * timeouts), and which trips may be logged.  guard.c identifies
 * connections and reports; guard-watchdog.c calls guard_conns_tick.
 *
 * Locking: one mutex, private to guard-conns.c, protects the list, the
 * table, every guard_client and the non-atomic fields of every
 * guard_conn.  Each call below takes it for its own duration (O(tracked
 * connections) at most), makes no call that can sleep while holding it,
 * and returns with it released; callers hold no lock.  The fields a
 * request touches (its last activity, whether it is in transmission)
 * are atomics, so guard_activity, guard_prepare and guard_finalize
 * (guard.h, implemented here) never take the lock.
 *
 * Lifetime: a guard_conn is created by guard_conns_add on the
 * connection's thread in .preconnect, and freed by guard_conns_tick
 * once nbdkit's own descriptor no longer refers to the socket (fstat of
 * nbdkit's descriptor number gives another inode, or fails), which
 * nbdkit does only after the last .close of the connection: so no
 * handle still points to it.  guard_conns_free, at .unload (when nbdkit
 * has no connection thread left), frees whatever remains.  A
 * guard_client lives while it has tracked connections, then until its
 * last logged trip is log_interval_s old (at most
 * GUARD_MAX_QUIET_CLIENTS of those).
 */
#ifndef RATETIER_GUARD_CONNS_H
#define RATETIER_GUARD_CONNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client-key.h"
#include "guard.h"
#include "secret.h"

/* At most this many sockets with the connection's peer are considered
 * in guard_conns_add; more means something odd is going on, and the
 * guard stays out. */
#define GUARD_MAX_CANDIDATES 4

/* Clients kept only for their log time are capped at this many. */
#define GUARD_MAX_QUIET_CLIENTS 65536

enum guard_admission {
  GUARD_TRACKED,                /* tracked from now on */
  GUARD_UNTRACKED,              /* let in, but the guard cannot close it */
  GUARD_REFUSED_CLIENT,         /* the client is at max_connections */
  GUARD_REFUSED_HANDSHAKES,     /* max_handshakes are in the handshake */
};

/* A closed connection, to be logged once the lock is dropped. */
struct guard_trip {
  char client[CLIENT_KEY_STRLEN];
  const char *what;             /* "handshake not finished", "no request" */
  unsigned secs;                /* the timeout that passed */
};

/* Start empty, with the limits of CONFIG (copied) and the table's hash
 * keyed by SECRET (copied). */
extern void guard_conns_init (const struct guard_config *config,
                              const uint8_t secret[SECRET_BYTES]);

/* Free every entry (see Lifetime). */
extern void guard_conns_free (void);

/* A connection from client KEY arrives at NOW (monotonic ms); FDS are
 * the NFDS descriptors of this process whose peer is the connection's
 * (peer-socket.h; NFDS may exceed GUARD_MAX_CANDIDATES, then FDS holds
 * that many).  Track it if exactly one of FDS is not already tracked
 * and the caps allow, and set *CONN.  *LOG says whether a refusal may
 * be logged now (once per client, or for the handshake cap once in
 * all, per log interval). */
extern enum guard_admission guard_conns_add (const struct client_key *key,
                                             const int *fds, size_t nfds,
                                             int64_t now,
                                             struct guard_conn **conn,
                                             bool *log);

/* The watchdog's pass at NOW (monotonic ms): free the connections
 * nbdkit is done with, shut down those past a deadline (nbdkit's next
 * read then sees end of file), and forget quiet clients.  Fills TRIPS
 * (at most MAX) with the closures that may be logged; returns how
 * many. */
extern size_t guard_conns_tick (int64_t now, struct guard_trip *trips,
                                size_t max);

/* Shut down every tracked connection now (the server is quitting). */
extern void guard_conns_shutdown_all (void);

/* Close every duplicate descriptor, so that nothing of the guard keeps
 * a socket open; the entries stay until guard_conns_free. */
extern void guard_conns_drop_duplicates (void);

/* Connections tracked now, closed on each timeout, refused on each cap
 * (the fields of struct guard_stats but untracked). */
extern void guard_conns_get_stats (struct guard_stats *stats);

#endif /* RATETIER_GUARD_CONNS_H */
