/* ratetier: nbdkit glue for per-client tiered scheduling.
 *
 * This file only connects nbdkit to the parts that do the work:
 * params.c (the parameters), tiers.c (the ratetier= table),
 * client-key.c (who a client is),
 * client-table.c (what we know about each client), scheduler.c (who
 * goes next), housekeeping.c (decay, forgetting, the state and status
 * files, on a background thread).  See nbdkit-ratetier-filter.pod.
 *
 * Connections: a connection is counted against its client from .open
 * to .close; the handle keeps the client, so the request path never
 * looks it up.  What .preconnect learns for .open (the guard's entry for
 * the connection) is handed over in one thread-local, preconnect_guard,
 * below.
 *
 * Lifetimes: nbdkit calls .cleanup and .unload only once every
 * connection thread has returned (server/sockets.c waits for them), and
 * without calling .close for connections still open at that point.
 * Every callback of this filter has returned by then, the background
 * threads are joined in .cleanup, and the filter registers no code that
 * runs when a thread exits (which happens after nbdkit has counted the
 * thread out, so it could run after .unload, or after nbdkit has
 * unloaded the filter: test-ratetier-unload.sh).  So .unload frees
 * everything.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <sys/socket.h>

#include <glib.h>
#include <nbdkit-filter.h>

#include "client-key.h"
#include "client-table.h"
#include "clock.h"
#include "config.h"
#include "guard.h"
#include "housekeeping.h"
#include "params.h"
#include "scheduler.h"
#include "secret.h"
#include "tiers.h"

/* -D ratetier.sched=1: trace every scheduling decision. */
NBDKIT_DLL_PUBLIC int ratetier_debug_sched;

/* Set by .config and .config_complete, fixed afterwards. */
static struct params params = PARAMS_DEFAULT;

/* State, created in .get_ready. */
static struct client_table *table;
static struct sched *sched;
static struct housekeeping *hk;

/* Keys the hash tables of clients (the client table, the guard's):
 * set in .get_ready. */
static uint8_t secret[SECRET_BYTES];

/* Connection numbers for ratetier-key=connection; atomic. */
static uint64_t next_connection = 1;

/* The guard's entry for this thread's connection (guard.h; NULL if
 * untracked), from .preconnect to the connection's .open calls, which
 * nbdkit runs on the same thread.  No destructor: see Lifetimes above.
 */
static GPrivate preconnect_guard = G_PRIVATE_INIT (NULL);

struct handle {
  struct client *client;        /* counted in from .open to .close */
  struct guard_conn *guard;     /* guard.h; NULL if not tracked */
};

static void
ratetier_unload (void)
{
  /* No callback or thread of ours runs any more: see Lifetimes. */
  guard_unload ();
  housekeeping_free (hk);
  sched_free (sched);
  client_table_free (table);
  params_free (&params);
}

static int
ratetier_config (nbdkit_next_config *next, nbdkit_backend *nxdata,
                 const char *key, const char *value)
{
  int r = params_config (&params, key, value);

  return r == CONFIG_NOT_MINE ? next (nxdata, key, value) : r;
}

static int
ratetier_config_complete (nbdkit_next_config_complete *next,
                          nbdkit_backend *nxdata)
{
  if (params_complete (&params) == -1)
    return -1;
  return next (nxdata);
}

#define ratetier_config_help PARAMS_HELP

/* Trace hook for the scheduler: nbdkit_debug when -D ratetier.sched=1. */
static void
trace_sched (void *opaque, enum sched_event event, const struct client *c,
             unsigned tier, uint32_t cost, uint64_t offset, double waited)
{
  static const char *const names[] = {
    [SCHED_QUEUED] = "queue", [SCHED_ADMITTED] = "admit",
    [SCHED_DROPPED] = "drop",
  };
  char key[CLIENT_KEY_STRLEN];

  if (!ratetier_debug_sched)
    return;
  nbdkit_debug ("ratetier: sched: %s client=%s tier=%u blocks=%" PRIu32
                " offset=%" PRIu64 " delivered=%" PRIu64 " waited=%.6f",
                names[event], client_key_format (&c->key, key), tier, cost,
                offset, client_delivered_blocks (c), waited);
}

/* Is the client of this request still there, and the server running?
 * nbdkit_nanosleep returns -1 at once (errno ESHUTDOWN) if the server
 * is shutting down or the connection is closing or closed.
 */
static int
still_wanted (void)
{
  return nbdkit_nanosleep (0, 0);
}

static int
ratetier_get_ready (int thread_model)
{
  const struct params *p = &params;
  struct sched_config sc = {
    .tiers = p->tiers, .mode = p->mode, .concurrency = p->concurrency,
    .slice_ms = 200, .alive = still_wanted, .trace = trace_sched,
  };
  g_autofree char *t = tiers_format (p->tiers);

  secret_generate (secret);
  table = client_table_new (p->max_clients, secret);
  sched = sched_new (&sc);
  hk = housekeeping_new (&p->housekeeping, table, sched, p->tiers, p->key,
                         p->block_size);
  if (housekeeping_load (hk) == -1)
    return -1;
  nbdkit_debug ("ratetier: tiers %s, block size %" PRIu32 ", %s schedule",
                t, p->block_size,
                p->mode == SCHED_MODE_BATCH ? "batch" : "continuous");
  return 0;
}

/* The server is told to quit: queued requests must not be admitted
 * into a backend that is shutting down (as freed slots would admit
 * them); they fail at once with ESHUTDOWN. */
static void
stop_admitting (void)
{
  sched_shutdown (sched);
}

static int
ratetier_after_fork (nbdkit_backend *nxdata)
{
  if (housekeeping_start (hk) == -1)
    return -1;
  guard_set_quit_hook (stop_admitting);
  return guard_start (&params.guard, &params.key, secret);
}

static void
ratetier_cleanup (nbdkit_backend *nxdata)
{
  /* Every connection is gone: stop the thread, write the files. */
  guard_stop ();
  if (hk)
    housekeeping_stop (hk);
  if (sched)
    sched_shutdown (sched);
}

/* Find (or add) the client of the current connection and count the
 * connection in.  NULL after nbdkit_error if it cannot be told or the
 * table has no room.
 */
static struct client *
connect_client (void)
{
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  struct client_key key;
  int64_t uid = -1;

  if (!params.key.per_connection) {
    if (nbdkit_peer_name ((struct sockaddr *) &ss, &len) == -1)
      return NULL;
    if (ss.ss_family == AF_UNIX)
      uid = nbdkit_peer_uid ();
  }
  if (client_key_from_sockaddr (&params.key, (struct sockaddr *) &ss, len,
                                uid,
                                __atomic_fetch_add (&next_connection, 1,
                                                    __ATOMIC_RELAXED),
                                &key) == -1)
    return NULL;
  return client_table_connect (table, &key, clock_mono_s ());
}

static int
ratetier_preconnect (nbdkit_next_preconnect *next, nbdkit_backend *nxdata,
                     int readonly)
{
  struct guard_conn *g;

  if (guard_preconnect (&g) == -1)
    return -1;
  g_private_set (&preconnect_guard, g);
  return next (nxdata, readonly);
}

static void *
ratetier_open (nbdkit_next_open *next, nbdkit_context *nxdata,
               int readonly, const char *exportname, int is_tls)
{
  struct handle *h;
  struct client *c;

  if (next (nxdata, readonly, exportname) == -1)
    return NULL;
  c = connect_client ();
  if (c == NULL)
    return NULL;
  h = g_new0 (struct handle, 1);
  h->client = c;
  h->guard = g_private_get (&preconnect_guard);
  return h;
}

/* The guard tells the handshake from transmission by these two. */
static int
ratetier_prepare (nbdkit_next *next, void *handle, int readonly)
{
  guard_prepare (((struct handle *) handle)->guard);
  return 0;
}

static int
ratetier_finalize (nbdkit_next *next, void *handle)
{
  guard_finalize (((struct handle *) handle)->guard);
  return 0;
}

static void
ratetier_close (void *handle)
{
  struct handle *h = handle;

  client_table_disconnect (table, h->client, clock_mono_s ());
  guard_close (h->guard);
  g_free (h);
}

/* --- the data path: every request goes through the scheduler ---------- */

static uint32_t
blocks_of (uint32_t count)
{
  return count == 0 ? 1 : (count - 1) / params.block_size + 1;
}

/* A request in the scheduler, from request_enter to request_leave. */
struct request {
  struct sched_ticket ticket;
  uint32_t blocks;              /* its cost, delivered if it succeeds */
};

/* Wait until a request of BLOCKS blocks at OFFSET may run.  0, or -1
 * with *ERR set when it was abandoned (then do not call
 * request_leave).
 */
static inline int
request_enter (struct handle *h, struct request *rq, uint32_t blocks,
               uint64_t offset, int *err)
{
  guard_activity (h->guard);
  rq->blocks = blocks;
  if (sched_enter (sched, h->client, blocks, offset, &rq->ticket) == -1) {
    *err = errno;
    guard_activity_done (h->guard);
    return -1;
  }
  return 0;
}

/* The request has run in the backend with result R (0 or -1): count
 * its blocks to the client if it succeeded, free its slot, return R.
 * The callers pass the backend call itself as R, which C evaluates
 * before request_leave runs.
 */
static inline int
request_leave (struct handle *h, const struct request *rq, int r)
{
  if (r == 0)
    client_add_blocks (h->client, rq->blocks);
  sched_leave (sched, &rq->ticket);
  guard_activity_done (h->guard);
  return r;
}

static int
ratetier_pread (nbdkit_next *next, void *handle, void *buf, uint32_t count,
                uint64_t offset, uint32_t flags, int *err)
{
  struct request rq;

  if (request_enter (handle, &rq, blocks_of (count), offset, err) == -1)
    return -1;
  return request_leave (handle, &rq,
                        next->pread (next, buf, count, offset, flags, err));
}

static int
ratetier_pwrite (nbdkit_next *next, void *handle, const void *buf,
                 uint32_t count, uint64_t offset, uint32_t flags, int *err)
{
  struct request rq;

  if (request_enter (handle, &rq, blocks_of (count), offset, err) == -1)
    return -1;
  return request_leave (handle, &rq,
                        next->pwrite (next, buf, count, offset, flags, err));
}

static int
ratetier_trim (nbdkit_next *next, void *handle, uint32_t count,
               uint64_t offset, uint32_t flags, int *err)
{
  struct request rq;

  if (request_enter (handle, &rq, 1, offset, err) == -1)
    return -1;
  return request_leave (handle, &rq,
                        next->trim (next, count, offset, flags, err));
}

static int
ratetier_zero (nbdkit_next *next, void *handle, uint32_t count,
               uint64_t offset, uint32_t flags, int *err)
{
  struct request rq;

  if (request_enter (handle, &rq, 1, offset, err) == -1)
    return -1;
  return request_leave (handle, &rq,
                        next->zero (next, count, offset, flags, err));
}

static int
ratetier_flush (nbdkit_next *next, void *handle, uint32_t flags, int *err)
{
  struct request rq;

  if (request_enter (handle, &rq, 1, 0, err) == -1)
    return -1;
  return request_leave (handle, &rq, next->flush (next, flags, err));
}

static int
ratetier_extents (nbdkit_next *next, void *handle, uint32_t count,
                  uint64_t offset, uint32_t flags,
                  struct nbdkit_extents *extents, int *err)
{
  struct request rq;

  if (request_enter (handle, &rq, 1, offset, err) == -1)
    return -1;
  return request_leave (handle, &rq,
                        next->extents (next, count, offset, flags, extents,
                                       err));
}

static int
ratetier_cache (nbdkit_next *next, void *handle, uint32_t count,
                uint64_t offset, uint32_t flags, int *err)
{
  struct request rq;

  if (request_enter (handle, &rq, blocks_of (count), offset, err) == -1)
    return -1;
  return request_leave (handle, &rq,
                        next->cache (next, count, offset, flags, err));
}

static struct nbdkit_filter filter = {
  .name              = "ratetier",
  .longname          = "nbdkit ratetier filter",
  .unload            = ratetier_unload,
  .config            = ratetier_config,
  .config_complete   = ratetier_config_complete,
  .config_help       = ratetier_config_help,
  .get_ready         = ratetier_get_ready,
  .after_fork        = ratetier_after_fork,
  .cleanup           = ratetier_cleanup,
  .preconnect        = ratetier_preconnect,
  .open              = ratetier_open,
  .prepare           = ratetier_prepare,
  .finalize          = ratetier_finalize,
  .close             = ratetier_close,
  .pread             = ratetier_pread,
  .pwrite            = ratetier_pwrite,
  .trim              = ratetier_trim,
  .zero              = ratetier_zero,
  .flush             = ratetier_flush,
  .extents           = ratetier_extents,
  .cache             = ratetier_cache,
};

/* The one exported symbol (NBDKIT_REGISTER_FILTER defines it); declared
 * here for -Wmissing-prototypes. */
NBDKIT_DLL_PUBLIC struct nbdkit_filter *filter_init (void);
NBDKIT_REGISTER_FILTER (filter)
