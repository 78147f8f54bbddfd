/* ratetier: connection guards (handshake and idle timeouts, connection
 * caps): parameters, start and stop, and .preconnect.  See guard.h for
 * the design and the contract; the tracked connections are in
 * guard-conns.c, the thread in guard-watchdog.c.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include <nbdkit-filter.h>

#include "clock.h"
#include "config.h"
#include "guard-conns.h"
#include "guard-watchdog.h"
#include "guard.h"
#include "peer-socket.h"

/* Set by .config (guard_config fills ratetier.c's copy) and copied by
 * guard_start; fixed afterwards. */
static struct guard_config cfg = GUARD_CONFIG_DEFAULT;
static struct client_key_config keycfg;
static bool started;

/* Connections the guard could not track (atomic). */
static uint64_t untracked;

int
guard_config (struct guard_config *c, const char *key, const char *value)
{
  if (strcmp (key, "ratetier-handshake-timeout") == 0)
    return config_u32 (key, value, 0, GUARD_MAX_SECS,
                       &c->handshake_timeout_s);
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
  return cfg.handshake_timeout_s || cfg.idle_timeout_s ||
    cfg.max_connections || cfg.max_handshakes;
}

void
guard_set_quit_hook (void (*hook) (void))
{
  guard_watchdog_set_quit_hook (hook);
}

int
guard_start (const struct guard_config *config,
             const struct client_key_config *key_config,
             const uint8_t secret[SECRET_BYTES])
{
  cfg = *config;
  if (!enabled () || started)
    return 0;
  keycfg = *key_config;
  keycfg.per_connection = false;
  guard_conns_init (&cfg, secret);
  started = true;
  return guard_watchdog_start (cfg.log_interval_s);
}

void
guard_stop (void)
{
  if (started) {
    guard_watchdog_stop ();
    /* Nothing of ours may keep a socket open once nbdkit exits. */
    guard_conns_drop_duplicates ();
  }
}

void
guard_unload (void)
{
  guard_stop ();
  if (started)
    guard_conns_free ();
  started = false;
}

/* --- .preconnect ---------------------------------------------------------- */

/* Who the connection is (*KEY) and which of this process's sockets may
 * be its own (FDS, *NFDS).  -1 if it cannot be tracked: not TCP. */
static int
identify (struct client_key *key, int fds[GUARD_MAX_CANDIDATES],
          size_t *nfds)
{
  struct sockaddr_storage peer;
  socklen_t len = sizeof peer;

  memset (&peer, 0, sizeof peer);
  if (nbdkit_peer_name ((struct sockaddr *) &peer, &len) == -1 ||
      (peer.ss_family != AF_INET && peer.ss_family != AF_INET6) ||
      client_key_from_sockaddr (&keycfg, (struct sockaddr *) &peer, len,
                                -1, 0, key) == -1)
    return -1;
  *nfds = peer_socket_find (&peer, fds, GUARD_MAX_CANDIDATES);
  return 0;
}

/* Count, log and turn into .preconnect's answer the admission A of
 * client KEY; LOG says whether a refusal may be logged now. */
static int
report (enum guard_admission a, const struct client_key *key, bool log)
{
  char name[CLIENT_KEY_STRLEN];

  switch (a) {
  case GUARD_TRACKED:
    return 0;
  case GUARD_UNTRACKED:
    __atomic_add_fetch (&untracked, 1, __ATOMIC_RELAXED);
    nbdkit_debug ("ratetier: connection not tracked by the guard");
    return 0;
  case GUARD_REFUSED_HANDSHAKES:
    if (log)
      nbdkit_error ("ratetier: %u connections are in the handshake "
                    "(ratetier-max-handshakes), refusing more (client %s); "
                    "not logged again for %u s", cfg.max_handshakes,
                    client_key_format (key, name), cfg.log_interval_s);
    break;
  case GUARD_REFUSED_CLIENT:
    client_key_format (key, name);
    if (log)
      nbdkit_error ("ratetier: client %s has %u connections "
                    "(ratetier-max-connections), refusing more; "
                    "not logged again for %u s", name, cfg.max_connections,
                    cfg.log_interval_s);
    else
      nbdkit_debug ("ratetier: client %s at the connection cap", name);
    break;
  }
  return -1;
}

int
guard_preconnect (struct guard_conn **conn)
{
  struct client_key key;
  int fds[GUARD_MAX_CANDIDATES];
  size_t nfds;
  enum guard_admission a = GUARD_UNTRACKED;
  bool log = false;

  *conn = NULL;
  if (!enabled ())
    return 0;
  if (identify (&key, fds, &nfds) == 0)
    a = guard_conns_add (&key, fds, nfds, clock_mono_ms (), conn, &log);
  return report (a, &key, log);
}

/* --- the rest of the per-handle calls are in guard-conns.c ---------------- */

void
guard_close (struct guard_conn *g)
{
  /* nbdkit closes its descriptor right after this: look soon. */
  if (g)
    guard_watchdog_hurry ();
}

void
guard_get_stats (struct guard_stats *s)
{
  guard_conns_get_stats (s);
  s->untracked = __atomic_load_n (&untracked, __ATOMIC_RELAXED);
}
