/* ratetier: connection guards (handshake and idle timeouts, per-client
 * connection cap).  See guard.h for the design and the contract.
 *
 * Data: every tracked connection is a struct guard_conn on one list;
 * every client with tracked connections (or a recent logged trip) is a
 * struct guard_client in a hash table keyed by its client key.  Both are
 * protected by `lock`.  The fields a request touches (last_ms, active)
 * are atomics, so guard_activity never takes the lock.
 *
 * Lifetime of a guard_conn: created in guard_preconnect with a duplicate
 * of nbdkit's socket descriptor; freed by the watchdog once nbdkit's own
 * descriptor no longer refers to the socket (fstat of nbdkit's fd number
 * gives another inode, or fails), which nbdkit only does after the last
 * .close of the connection, so no handle can still point to it.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <glib.h>
#include <nbdkit-filter.h>

#include "client-key.h"
#include "config.h"
#include "guard.h"
#include "peer-socket.h"

/* Configuration, copied by guard_start. */
static struct guard_config cfg = GUARD_CONFIG_DEFAULT;

/* Tick of the watchdog while nothing is closing (ms), and while a
 * closed connection waits for nbdkit to drop its descriptor. */
#define TICK_MS 250
#define FAST_TICK_MS 10
/* Clients kept only for their log time are capped at this many. */
#define MAX_QUIET_CLIENTS 65536

struct guard_client {
  struct client_key key;
  uint32_t conns;               /* tracked connections now */
  int64_t last_log_ms;          /* last logged trip, 0 = never */
};

struct guard_conn {
  struct guard_conn *next;      /* list of tracked connections */
  struct guard_client *client;
  int nbdkit_fd;                /* nbdkit's descriptor (not ours) */
  int dup_fd;                   /* ours, closed when nbdkit is done */
  ino_t ino;                    /* the socket's inode */
  dev_t dev;
  int64_t arrived_ms;
  bool tripped;                 /* shutdown already done */
  int64_t last_ms;              /* atomic: latest request or prepare */
  int active;                   /* atomic: prepared, not finalized */
  int requests;                 /* atomic: any request seen */
};

/* `lock` protects clients, conns, nr_conns, closing and the watchdog's
 * stop flag.  Writing to wake_fd (an eventfd) wakes the watchdog early;
 * the quit-signal handler does so too. */
static GMutex lock;
static int wake_fd = -1;
static GHashTable *clients;     /* struct client_key * -> guard_client */
static struct guard_conn *conns;
static uint64_t nr_conns;
static bool closing;            /* some .close waits for reaping */
static bool stopping;
static GThread *watchdog;
static struct client_key_config keycfg = CLIENT_KEY_CONFIG_DEFAULT;
static uint8_t secret[16];

/* nbdkit 1.32 answers SIGTERM (and SIGINT, SIGQUIT, SIGHUP) by waiting
 * for every connection thread to end, and a thread blocked reading from
 * a silent client never does: one stalled connection keeps the server
 * up forever.  The guard chains its own handler in front of nbdkit's
 * (installed before .after_fork), so that the watchdog shuts down every
 * tracked connection at once.  quit_signalled is set by that handler. */
static const int quit_signals[] = { SIGINT, SIGQUIT, SIGTERM, SIGHUP };
static struct sigaction old_actions[G_N_ELEMENTS (quit_signals)];
static volatile sig_atomic_t quit_signalled;
static bool quit_handled;       /* lock: connections already shut down */

/* Statistics (atomics). */
static uint64_t st_untracked, st_handshake, st_idle, st_refused;
static uint64_t st_refused_hs;

/* This connection's entry, from .preconnect to .open (same thread). */
static __thread struct guard_conn *this_conn;

static int64_t
now_ms (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
wake_watchdog (void)
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
  wake_watchdog ();
  for (i = 0; i < G_N_ELEMENTS (quit_signals); i++)
    if (quit_signals[i] == sig &&
        old_actions[i].sa_handler != SIG_DFL &&
        old_actions[i].sa_handler != SIG_IGN)
      old_actions[i].sa_handler (sig);
  errno = saved_errno;
}

int
guard_config (struct guard_config *c, const char *key, const char *value)
{
  if (strcmp (key, "ratetier-handshake-timeout") == 0)
    return config_u32 (key, value, 0, GUARD_MAX_SECS, &c->handshake_timeout_s);
  else if (strcmp (key, "ratetier-idle-timeout") == 0)
    return config_u32 (key, value, 0, GUARD_MAX_SECS, &c->idle_timeout_s);
  else if (strcmp (key, "ratetier-guard-log-interval") == 0)
    return config_u32 (key, value, 0, GUARD_MAX_SECS, &c->log_interval_s);
  else if (strcmp (key, "ratetier-max-connections") == 0)
    return config_u32 (key, value, 0, UINT32_MAX, &c->max_connections);
  else if (strcmp (key, "ratetier-max-handshakes") == 0)
    return config_u32 (key, value, 0, UINT32_MAX, &c->max_handshakes);
  else
    return CONFIG_NOT_MINE;
}

static bool
enabled (void)
{
  return cfg.handshake_timeout_s || cfg.idle_timeout_s || cfg.max_connections ||
    cfg.max_handshakes;
}

static bool
established (const struct guard_conn *g)
{
  return __atomic_load_n (&g->active, __ATOMIC_ACQUIRE) > 0 ||
    __atomic_load_n (&g->requests, __ATOMIC_RELAXED);
}

/* Tracked connections still in the handshake; the caller holds the
 * lock.  A walk of the list: it runs once per arriving connection, and
 * the list is as long as the connections nbdkit has open. */
static unsigned
count_handshakes (void)
{
  const struct guard_conn *g;
  unsigned n = 0;

  for (g = conns; g; g = g->next)
    if (!g->tripped && !established (g))
      n++;
  return n;
}

static guint
key_hash (gconstpointer k)
{
  return (guint) client_key_hash (k, secret);
}

static gboolean
key_equal (gconstpointer a, gconstpointer b)
{
  return client_key_equal (a, b);
}

/* Whether a trip of C may be logged now; the caller holds the lock. */
static bool
may_log (struct guard_client *c, int64_t now)
{
  if (c->last_log_ms &&
      now - c->last_log_ms < (int64_t) cfg.log_interval_s * 1000)
    return false;
  c->last_log_ms = now;
  return true;
}

/* At most this many sockets with the connection's peer are considered;
 * more means something odd is going on, and the guard stays out. */
#define MAX_CANDIDATES 4

/* The one candidate that is not one of our duplicates, or -1.  The
 * caller holds the lock. */
static int
pick_socket (const int *fds, size_t n)
{
  struct guard_conn *g;
  int found = -1;
  size_t i, matches = 0;

  if (n > MAX_CANDIDATES)
    return -1;
  for (i = 0; i < n; i++) {
    for (g = conns; g; g = g->next)
      if (g->dup_fd == fds[i])
        break;
    if (g == NULL) {
      found = fds[i];
      matches++;
    }
  }
  return matches == 1 ? found : -1;
}

int
guard_preconnect (void)
{
  struct sockaddr_storage peer;
  socklen_t len = sizeof peer;
  struct client_key key;
  struct guard_client *c;
  struct guard_conn *g;
  struct stat st;
  int fd, dup_fd, fds[MAX_CANDIDATES];
  size_t nfds;
  int64_t now = now_ms ();
  char name[CLIENT_KEY_STRLEN];

  this_conn = NULL;
  if (!enabled ())
    return 0;
  memset (&peer, 0, sizeof peer);
  if (nbdkit_peer_name ((struct sockaddr *) &peer, &len) == -1 ||
      (peer.ss_family != AF_INET && peer.ss_family != AF_INET6) ||
      client_key_from_sockaddr (&keycfg, (struct sockaddr *) &peer, len,
                                -1, 0, &key) == -1)
    goto untracked;

  nfds = peer_socket_find (&peer, fds, MAX_CANDIDATES);
  g_mutex_lock (&lock);
  fd = pick_socket (fds, nfds);
  if (fd == -1 || (dup_fd = fcntl (fd, F_DUPFD_CLOEXEC, 3)) == -1) {
    g_mutex_unlock (&lock);
    goto untracked;
  }
  if (fstat (dup_fd, &st) == -1) {
    close (dup_fd);
    g_mutex_unlock (&lock);
    goto untracked;
  }

  c = g_hash_table_lookup (clients, &key);
  if (c == NULL) {
    c = g_new0 (struct guard_client, 1);
    c->key = key;
    g_hash_table_insert (clients, &c->key, c);
  }
  if (cfg.max_handshakes && count_handshakes () >= cfg.max_handshakes) {
    /* A limit of the whole server: logged once per interval in all. */
    static int64_t last_log_ms;
    bool log = last_log_ms == 0 ||
      now - last_log_ms >= (int64_t) cfg.log_interval_s * 1000;

    if (log)
      last_log_ms = now;
    if (c->conns == 0 && c->last_log_ms == 0)
      g_hash_table_remove (clients, &key);
    g_mutex_unlock (&lock);
    close (dup_fd);
    __atomic_add_fetch (&st_refused_hs, 1, __ATOMIC_RELAXED);
    client_key_format (&key, name);
    if (log)
      nbdkit_error ("ratetier: %u connections are in the handshake "
                    "(ratetier-max-handshakes), refusing more (client %s); "
                    "not logged again for %u s",
                    cfg.max_handshakes, name, cfg.log_interval_s);
    return -1;
  }
  if (cfg.max_connections && c->conns >= cfg.max_connections) {
    bool log = may_log (c, now);

    g_mutex_unlock (&lock);
    close (dup_fd);
    __atomic_add_fetch (&st_refused, 1, __ATOMIC_RELAXED);
    client_key_format (&key, name);
    if (log)
      nbdkit_error ("ratetier: client %s has %u connections "
                    "(ratetier-max-connections), refusing more; "
                    "not logged again for %u s", name, cfg.max_connections,
                    cfg.log_interval_s);
    else
      nbdkit_debug ("ratetier: client %s at the connection cap", name);
    return -1;
  }

  g = g_new0 (struct guard_conn, 1);
  g->client = c;
  g->nbdkit_fd = fd;
  g->dup_fd = dup_fd;
  g->ino = st.st_ino;
  g->dev = st.st_dev;
  g->arrived_ms = now;
  g->last_ms = now;
  g->next = conns;
  conns = g;
  nr_conns++;
  c->conns++;
  g_mutex_unlock (&lock);
  this_conn = g;
  return 0;

 untracked:
  __atomic_add_fetch (&st_untracked, 1, __ATOMIC_RELAXED);
  nbdkit_debug ("ratetier: connection not tracked by the guard");
  return 0;
}

struct guard_conn *
guard_open (void)
{
  return this_conn;
}

void
guard_prepare (struct guard_conn *g)
{
  if (g) {
    __atomic_store_n (&g->last_ms, now_ms (), __ATOMIC_RELAXED);
    __atomic_add_fetch (&g->active, 1, __ATOMIC_RELEASE);
  }
}

void
guard_finalize (struct guard_conn *g)
{
  if (g)
    __atomic_sub_fetch (&g->active, 1, __ATOMIC_RELEASE);
}

void
guard_close (struct guard_conn *g)
{
  if (g) {
    /* nbdkit closes its descriptor right after this: look soon. */
    g_mutex_lock (&lock);
    closing = true;
    g_mutex_unlock (&lock);
    wake_watchdog ();
  }
}

void
guard_activity (struct guard_conn *g)
{
  if (g) {
    __atomic_store_n (&g->last_ms, now_ms (), __ATOMIC_RELAXED);
    if (!__atomic_load_n (&g->requests, __ATOMIC_RELAXED))
      __atomic_store_n (&g->requests, 1, __ATOMIC_RELAXED);
  }
}

void
guard_get_stats (struct guard_stats *s)
{
  g_mutex_lock (&lock);
  s->tracked = nr_conns;
  g_mutex_unlock (&lock);
  s->untracked = __atomic_load_n (&st_untracked, __ATOMIC_RELAXED);
  s->handshake_timeouts = __atomic_load_n (&st_handshake, __ATOMIC_RELAXED);
  s->idle_timeouts = __atomic_load_n (&st_idle, __ATOMIC_RELAXED);
  s->refused = __atomic_load_n (&st_refused, __ATOMIC_RELAXED);
  s->refused_handshakes = __atomic_load_n (&st_refused_hs,
                                           __ATOMIC_RELAXED);
}

/* Whether nbdkit still holds its descriptor of G's socket. */
static bool
nbdkit_holds (const struct guard_conn *g)
{
  struct stat st;

  return fstat (g->nbdkit_fd, &st) == 0 &&
    st.st_ino == g->ino && st.st_dev == g->dev;
}

/* A log line to emit after the lock is dropped. */
struct trip {
  char client[CLIENT_KEY_STRLEN];
  const char *what;
  unsigned secs;
};

/* One pass over the tracked connections, with the lock held: reap the
 * finished ones, close the overdue ones.  Fills TRIPS (at most MAX) with
 * what may be logged.  Returns how many trips it filled in. */
static size_t
tick (int64_t now, struct trip *trips, size_t max)
{
  struct guard_conn **pp = &conns, *g;
  size_t n = 0;

  while ((g = *pp) != NULL) {
    bool is_established, overdue = false;
    const char *what = NULL;
    unsigned secs = 0;

    if (!nbdkit_holds (g)) {
      *pp = g->next;
      if (g->dup_fd >= 0)
        close (g->dup_fd);
      g->client->conns--;
      if (g->client->conns == 0 &&
          (g->client->last_log_ms == 0 ||
           g_hash_table_size (clients) > MAX_QUIET_CLIENTS))
        g_hash_table_remove (clients, &g->client->key);
      nr_conns--;
      g_free (g);
      continue;
    }
    is_established = established (g);
    if (!g->tripped) {
      if (!is_established && cfg.handshake_timeout_s &&
          now - g->arrived_ms >= (int64_t) cfg.handshake_timeout_s * 1000) {
        overdue = true;
        what = "handshake not finished";
        secs = cfg.handshake_timeout_s;
        __atomic_add_fetch (&st_handshake, 1, __ATOMIC_RELAXED);
      }
      else if (is_established && cfg.idle_timeout_s &&
               now - __atomic_load_n (&g->last_ms, __ATOMIC_RELAXED) >=
               (int64_t) cfg.idle_timeout_s * 1000) {
        overdue = true;
        what = "no request";
        secs = cfg.idle_timeout_s;
        __atomic_add_fetch (&st_idle, 1, __ATOMIC_RELAXED);
      }
    }
    if (overdue) {
      /* nbdkit's next read sees end of file and ends the connection. */
      shutdown (g->dup_fd, SHUT_RDWR);
      g->tripped = true;
      if (may_log (g->client, now) && n < max) {
        client_key_format (&g->client->key, trips[n].client);
        trips[n].what = what;
        trips[n].secs = secs;
        n++;
      }
    }
    pp = &g->next;
  }
  return n;
}

/* Forget clients kept only for their log time once it has passed. */
static gboolean
quiet_expired (gpointer k, gpointer v, gpointer now_p)
{
  const struct guard_client *c = v;
  int64_t now = *(const int64_t *) now_p;

  return c->conns == 0 &&
    now - c->last_log_ms >= (int64_t) cfg.log_interval_s * 1000;
}

static gpointer
watchdog_main (gpointer unused)
{
  struct trip trips[16];
  size_t n, i;
  int64_t now, fast_until = 0;
  struct guard_conn *g;

  g_mutex_lock (&lock);
  while (!stopping) {
    struct pollfd pfd = { .fd = wake_fd, .events = POLLIN };
    uint64_t counter;

    now = now_ms ();
    if (quit_signalled && !quit_handled) {
      /* The server is quitting: end every tracked connection now so
       * that nbdkit's wait for its connection threads ends. */
      quit_handled = true;
      for (g = conns; g; g = g->next)
        if (g->dup_fd >= 0)
          shutdown (g->dup_fd, SHUT_RDWR);
    }
    if (closing) {
      closing = false;
      fast_until = now + 1000;
    }
    n = tick (now, trips, G_N_ELEMENTS (trips));
    g_hash_table_foreach_remove (clients, quiet_expired, &now);
    g_mutex_unlock (&lock);
    for (i = 0; i < n; i++)
      nbdkit_error ("ratetier: client %s: %s after %u s, connection "
                    "closed; this client's trips are not logged again "
                    "for %u s", trips[i].client, trips[i].what,
                    trips[i].secs, cfg.log_interval_s);
    if (n == 0 &&
        poll (&pfd, 1, now < fast_until ? FAST_TICK_MS : TICK_MS) == 1 &&
        read (wake_fd, &counter, sizeof counter) == -1) {
      /* EAGAIN: someone else drained it; nothing to do. */
    }
    g_mutex_lock (&lock);
  }
  g_mutex_unlock (&lock);
  return NULL;
}

int
guard_start (const struct guard_config *config,
              const struct client_key_config *key_config)
{
  cfg = *config;
  if (!enabled () || watchdog)
    return 0;
  keycfg = *key_config;
  keycfg.per_connection = false;
  g_mutex_lock (&lock);
  /* A per-process secret for the table's hash (see client-key.h). */
  for (size_t i = 0; i < sizeof secret; i += sizeof (guint32)) {
    guint32 r = g_random_int ();
    memcpy (secret + i, &r, sizeof r);
  }
  clients = g_hash_table_new_full (key_hash, key_equal, NULL, g_free);
  stopping = false;
  g_mutex_unlock (&lock);
  wake_fd = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd == -1) {
    nbdkit_error ("ratetier: eventfd: %m");
    return -1;
  }
  watchdog = g_thread_try_new ("ratetier-guard", watchdog_main, NULL, NULL);
  if (watchdog == NULL) {
    nbdkit_error ("ratetier: cannot start the connection guard thread");
    return -1;
  }
  /* In front of nbdkit's quit handlers, which are in place by now. */
  for (size_t i = 0; i < G_N_ELEMENTS (quit_signals); i++) {
    struct sigaction sa;

    memset (&sa, 0, sizeof sa);
    sa.sa_handler = quit_handler;
    sa.sa_flags = SA_RESTART;
    sigemptyset (&sa.sa_mask);
    if (sigaction (quit_signals[i], &sa, &old_actions[i]) == -1) {
      nbdkit_error ("ratetier: sigaction: %m");
      return -1;
    }
  }
  return 0;
}

void
guard_stop (void)
{
  struct guard_conn *g;

  if (watchdog == NULL)
    return;
  for (size_t i = 0; i < G_N_ELEMENTS (quit_signals); i++)
    sigaction (quit_signals[i], &old_actions[i], NULL);
  g_mutex_lock (&lock);
  stopping = true;
  g_mutex_unlock (&lock);
  wake_watchdog ();
  g_thread_join (watchdog);
  watchdog = NULL;
  close (wake_fd);
  wake_fd = -1;

  /* Connections may still be open (nbdkit is exiting, and its
   * connection threads may yet call us): drop our duplicates so that
   * nothing keeps their sockets alive, but keep the entries, which their
   * handles may still point to, reachable until the process ends. */
  g_mutex_lock (&lock);
  for (g = conns; g; g = g->next)
    if (g->dup_fd >= 0) {
      close (g->dup_fd);
      g->dup_fd = -1;
    }
  g_mutex_unlock (&lock);
}
