/* ratetier: the guard's tracked connections (see guard-conns.h).
 *
 * A connection is "in the handshake" until it has been prepared for
 * transmission or has sent a request; handshakes are counted by a walk
 * of the list, which runs once per arriving connection and is as long
 * as the connections nbdkit has open.
 */
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>

#include "clock.h"
#include "guard-conns.h"

struct guard_client {
  struct client_key key;
  uint32_t conns;               /* tracked connections now */
  int64_t last_log_ms;          /* last logged trip or refusal, 0 = never */
};

struct guard_conn {
  struct guard_conn *next;      /* list of tracked connections */
  struct guard_client *client;
  int nbdkit_fd;                /* nbdkit's descriptor (not ours) */
  int dup_fd;                   /* ours; -1 once dropped */
  ino_t ino;                    /* the socket's inode */
  dev_t dev;
  int64_t arrived_ms;
  bool tripped;                 /* shutdown already done */
  int64_t last_ms;              /* atomic: latest request or prepare */
  int active;                   /* atomic: prepared, not finalized */
  int requests;                 /* atomic: any request seen */
  int in_flight;                /* atomic: requests started, not done */
};

/* lock protects everything below. */
static GMutex lock;
static struct guard_config cfg;
static uint8_t secret[SECRET_BYTES];
static GHashTable *clients;     /* struct client_key * -> guard_client */
static struct guard_conn *conns;
static uint64_t nr_conns;
static int64_t handshakes_last_log_ms; /* the handshake cap's last log */
static struct guard_stats stats;       /* all but tracked and untracked */

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

void
guard_conns_init (const struct guard_config *config,
                  const uint8_t key_secret[SECRET_BYTES])
{
  g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&lock);

  cfg = *config;
  memcpy (secret, key_secret, SECRET_BYTES);
  if (clients == NULL)
    clients = g_hash_table_new_full (key_hash, key_equal, NULL, g_free);
}

void
guard_conns_free (void)
{
  g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&lock);
  struct guard_conn *g;

  while ((g = conns) != NULL) {
    conns = g->next;
    if (g->dup_fd >= 0)
      close (g->dup_fd);
    g_free (g);
  }
  nr_conns = 0;
  g_clear_pointer (&clients, g_hash_table_destroy);
}

/* --- helpers, all called with the lock held ------------------------------ */

/* Whether something may be logged now, if it was last at *LAST_MS. */
static bool
may_log (int64_t *last_ms, int64_t now)
{
  if (*last_ms && now - *last_ms < (int64_t) cfg.log_interval_s * 1000)
    return false;
  *last_ms = now;
  return true;
}

static bool
established (const struct guard_conn *g)
{
  return __atomic_load_n (&g->active, __ATOMIC_ACQUIRE) > 0 ||
    __atomic_load_n (&g->requests, __ATOMIC_RELAXED);
}

static uint32_t
count_handshakes (void)
{
  const struct guard_conn *g;
  uint32_t n = 0;

  for (g = conns; g; g = g->next)
    if (!g->tripped && !established (g))
      n++;
  return n;
}

/* The one candidate that is not one of our duplicates, or -1. */
static int
pick_socket (const int *fds, size_t n)
{
  const struct guard_conn *g;
  int found = -1;
  size_t i, matches = 0;

  if (n > GUARD_MAX_CANDIDATES)
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

static struct guard_client *
client_get (const struct client_key *key)
{
  struct guard_client *c = g_hash_table_lookup (clients, key);

  if (c == NULL) {
    c = g_new0 (struct guard_client, 1);
    c->key = *key;
    g_hash_table_insert (clients, &c->key, c);
  }
  return c;
}

/* Forget C if nothing holds it: no tracked connection, and no logged
 * trip (or too many clients are kept only for that). */
static void
client_put (struct guard_client *c)
{
  if (c->conns == 0 &&
      (c->last_log_ms == 0 ||
       g_hash_table_size (clients) > GUARD_MAX_QUIET_CLIENTS))
    g_hash_table_remove (clients, &c->key);
}

/* The caps: may C open one more connection at NOW? */
static enum guard_admission
admit (struct guard_client *c, int64_t now, bool *log)
{
  if (cfg.max_handshakes && count_handshakes () >= cfg.max_handshakes) {
    /* A limit of the whole server: logged once per interval in all. */
    *log = may_log (&handshakes_last_log_ms, now);
    stats.refused_handshakes++;
    return GUARD_REFUSED_HANDSHAKES;
  }
  if (cfg.max_connections && c->conns >= cfg.max_connections) {
    *log = may_log (&c->last_log_ms, now);
    stats.refused++;
    return GUARD_REFUSED_CLIENT;
  }
  return GUARD_TRACKED;
}

/* A new entry for C's connection on nbdkit's descriptor FD, holding a
 * duplicate of it; NULL if the descriptor cannot be duplicated. */
static struct guard_conn *
conn_new (struct guard_client *c, int fd, int64_t now)
{
  struct guard_conn *g;
  struct stat st;
  int dup_fd = fcntl (fd, F_DUPFD_CLOEXEC, 3);

  if (dup_fd == -1)
    return NULL;
  if (fstat (dup_fd, &st) == -1) {
    close (dup_fd);
    return NULL;
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
  return g;
}

/* G is no longer tracked: unlink it from *PP and free it. */
static void
conn_free (struct guard_conn **pp, struct guard_conn *g)
{
  *pp = g->next;
  if (g->dup_fd >= 0)
    close (g->dup_fd);
  g->client->conns--;
  client_put (g->client);
  nr_conns--;
  g_free (g);
}

/* Whether nbdkit still holds its descriptor of G's socket. */
static bool
nbdkit_holds (const struct guard_conn *g)
{
  struct stat st;

  return fstat (g->nbdkit_fd, &st) == 0 &&
    st.st_ino == g->ino && st.st_dev == g->dev;
}

/* The deadline G has passed at NOW, if any: its description, and the
 * timeout in *SECS. */
static const char *
deadline_passed (const struct guard_conn *g, int64_t now, unsigned *secs)
{
  int64_t last = __atomic_load_n (&g->last_ms, __ATOMIC_RELAXED);

  if (!established (g)) {
    if (cfg.handshake_timeout_s &&
        now - g->arrived_ms >= (int64_t) cfg.handshake_timeout_s * 1000) {
      stats.handshake_timeouts++;
      *secs = cfg.handshake_timeout_s;
      return "handshake not finished";
    }
  }
  else if (cfg.idle_timeout_s &&
           __atomic_load_n (&g->in_flight, __ATOMIC_RELAXED) == 0 &&
           now - last >= (int64_t) cfg.idle_timeout_s * 1000) {
    stats.idle_timeouts++;
    *secs = cfg.idle_timeout_s;
    return "no request";
  }
  return NULL;
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

/* --- the calls ------------------------------------------------------------ */

enum guard_admission
guard_conns_add (const struct client_key *key, const int *fds, size_t nfds,
                 int64_t now, struct guard_conn **conn, bool *log)
{
  g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&lock);
  struct guard_client *c;
  enum guard_admission a;
  int fd = pick_socket (fds, nfds);

  *conn = NULL;
  *log = false;
  if (fd == -1)
    return GUARD_UNTRACKED;
  c = client_get (key);
  a = admit (c, now, log);
  if (a == GUARD_TRACKED) {
    *conn = conn_new (c, fd, now);
    if (*conn == NULL)
      a = GUARD_UNTRACKED;
  }
  client_put (c);
  return a;
}

size_t
guard_conns_tick (int64_t now, struct guard_trip *trips, size_t max)
{
  g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&lock);
  struct guard_conn **pp = &conns, *g;
  size_t n = 0;

  while ((g = *pp) != NULL) {
    const char *what;
    unsigned secs;

    if (!nbdkit_holds (g)) {
      conn_free (pp, g);
      continue;
    }
    if (!g->tripped && (what = deadline_passed (g, now, &secs)) != NULL) {
      shutdown (g->dup_fd, SHUT_RDWR);
      g->tripped = true;
      if (may_log (&g->client->last_log_ms, now) && n < max) {
        client_key_format (&g->client->key, trips[n].client);
        trips[n].what = what;
        trips[n].secs = secs;
        n++;
      }
    }
    pp = &g->next;
  }
  g_hash_table_foreach_remove (clients, quiet_expired, &now);
  return n;
}

void
guard_conns_shutdown_all (void)
{
  g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&lock);
  struct guard_conn *g;

  for (g = conns; g; g = g->next)
    if (g->dup_fd >= 0)
      shutdown (g->dup_fd, SHUT_RDWR);
}

void
guard_conns_drop_duplicates (void)
{
  g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&lock);
  struct guard_conn *g;

  for (g = conns; g; g = g->next)
    if (g->dup_fd >= 0) {
      close (g->dup_fd);
      g->dup_fd = -1;
    }
}

void
guard_conns_get_stats (struct guard_stats *s)
{
  g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&lock);

  *s = stats;
  s->tracked = nr_conns;
}

/* --- the per-handle calls of guard.h: atomics only ----------------------- */

void
guard_prepare (struct guard_conn *g)
{
  if (g) {
    __atomic_store_n (&g->last_ms, clock_mono_ms (), __ATOMIC_RELAXED);
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
guard_activity (struct guard_conn *g)
{
  if (g) {
    __atomic_add_fetch (&g->in_flight, 1, __ATOMIC_RELAXED);
    __atomic_store_n (&g->last_ms, clock_mono_ms (), __ATOMIC_RELAXED);
    if (!__atomic_load_n (&g->requests, __ATOMIC_RELAXED))
      __atomic_store_n (&g->requests, 1, __ATOMIC_RELAXED);
  }
}

void
guard_activity_done (struct guard_conn *g)
{
  if (g) {
    __atomic_store_n (&g->last_ms, clock_mono_ms (), __ATOMIC_RELAXED);
    __atomic_sub_fetch (&g->in_flight, 1, __ATOMIC_RELAXED);
  }
}
