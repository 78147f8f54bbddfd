/* ratetier: the background thread (see housekeeping.h).
 *
 * Times: the client table keeps last_seen in seconds of the monotonic
 * clock (immune to clock changes while running); the state file keeps
 * idle times relative to the wall clock at which it was saved, the only
 * clock that means anything across a restart.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <glib.h>
#include <nbdkit-filter.h>

#include "clock.h"
#include "config.h"
#include "duration.h"
#include "housekeeping.h"
#include "state-file.h"
#include "status.h"

struct housekeeping {
  struct housekeeping_config config;
  struct client_table *table;
  struct sched *sched;
  const struct tiers *tiers;
  struct client_key_config key_config;
  uint32_t block_size;
  uint64_t decay_step_ms;       /* how often decay is applied */

  GThread *thread;
  GMutex lock;                  /* protects stop */
  GCond cond;                   /* signalled to stop */
  bool stop;
};

int
housekeeping_config (struct housekeeping_config *c, const char *key,
                     const char *value)
{
  if (strcmp (key, "ratetier-decay") == 0)
    return config_duration (key, value, 0, DURATION_MAX_MS, &c->decay_ms);
  else if (strcmp (key, "ratetier-forget-after") == 0)
    return config_duration (key, value, 0, DURATION_MAX_MS,
                            &c->forget_after_ms);
  else if (strcmp (key, "ratetier-state") == 0)
    return config_path (key, value, &c->state_path);
  else if (strcmp (key, "ratetier-status") == 0)
    return config_path (key, value, &c->status_path);
  else if (strcmp (key, "ratetier-state-interval") == 0)
    return config_duration (key, value, 1000, DURATION_MAX_MS,
                            &c->state_interval_ms);
  else if (strcmp (key, "ratetier-status-interval") == 0)
    return config_duration (key, value, 1000, DURATION_MAX_MS,
                            &c->status_interval_ms);
  else
    return CONFIG_NOT_MINE;
}

struct housekeeping *
housekeeping_new (const struct housekeeping_config *config,
                  struct client_table *table, struct sched *sched,
                  const struct tiers *tiers,
                  struct client_key_config key_config, uint32_t block_size)
{
  struct housekeeping *hk = g_new0 (struct housekeeping, 1);

  hk->config = *config;
  hk->table = table;
  hk->sched = sched;
  hk->tiers = tiers;
  hk->key_config = key_config;
  hk->block_size = block_size;
  hk->decay_step_ms = CLAMP (config->decay_ms / 1024, 1000, 60000);
  g_mutex_init (&hk->lock);
  g_cond_init (&hk->cond);
  return hk;
}

/* 2^(-ms / half-life) */
static double
decay_factor (const struct housekeeping *hk, double ms)
{
  return exp2 (-ms / (double) hk->config.decay_ms);
}

static struct state_header
header (const struct housekeeping *hk)
{
  struct state_header h = {
    .block_size = hk->block_size,
    .ipv4_prefix = hk->key_config.ipv4_prefix,
    .ipv6_prefix = hk->key_config.ipv6_prefix,
    .saved_at = clock_real_s (),
  };
  return h;
}

/* --- loading ----------------------------------------------------------- */

/* The file's values are not trusted to be sensible (only to be
 * canonical, state-file.h): every sum below saturates, and nothing is
 * multiplied into milliseconds.
 */
struct load {
  struct housekeeping *hk;
  int64_t now_real;             /* wall clock, seconds */
  int64_t now;                  /* monotonic seconds */
  uint64_t downtime;            /* seconds since the file was saved */
  size_t restored, skipped;
};

/* Seconds from THEN to NOW, 0 if THEN is later.  The difference of two
 * int64_t is exact in uint64_t arithmetic when it is positive. */
static uint64_t
seconds_since (int64_t then, int64_t now)
{
  return then >= now ? 0 : (uint64_t) now - (uint64_t) then;
}

static void
restore_one (void *opaque, const struct state_header *h,
             const struct state_record *r)
{
  struct load *l = opaque;
  const struct housekeeping_config *c = &l->hk->config;
  uint64_t idle;                /* seconds, at now */
  uint64_t delivered = MIN (r->delivered, CLIENT_MAX_UNITS);

  l->downtime = seconds_since (h->saved_at, l->now_real);
  if (!g_uint64_checked_add (&idle, r->idle, l->downtime))
    idle = UINT64_MAX;
  /* idle * 1000 >= forget_after_ms, without the product. */
  if (c->forget_after_ms && idle >= (c->forget_after_ms + 999) / 1000) {
    l->skipped++;
    return;
  }
  if (c->decay_ms)              /* <= 2^63 x a factor <= 1: no overflow */
    delivered = (uint64_t) ((double) delivered *
                            decay_factor (l->hk, l->downtime * 1000.0));
  if (client_table_restore (l->hk->table, &r->key, delivered,
                            l->now - (int64_t) MIN (idle, INT64_MAX / 2)))
    l->restored++;
  else
    l->skipped++;
}

int
housekeeping_load (struct housekeeping *hk)
{
  struct state_header expect = header (hk);
  struct load l = {
    .hk = hk, .now_real = expect.saved_at, .now = clock_mono_s (),
  };

  if (hk->config.state_path == NULL)
    return 0;
  if (state_file_load (hk->config.state_path, &expect,
                       client_table_capacity (hk->table), restore_one, &l)
      == -1)
    return -1;
  if (l.restored || l.skipped)
    nbdkit_debug ("ratetier-state: restored %zu clients, skipped %zu "
                  "(forgotten, or no room), down for %" PRIu64 "s",
                  l.restored, l.skipped, l.downtime);
  return 0;
}

/* --- saving ------------------------------------------------------------ */

struct snapshot {
  GArray *records;
  int64_t now;
};

static void
snapshot_one (const struct client *c, void *opaque)
{
  struct snapshot *s = opaque;
  struct state_record r;

  if (c->key.kind == CLIENT_KEY_CONNECTION)
    return;
  r.key = c->key;
  r.delivered = __atomic_load_n (&c->delivered, __ATOMIC_RELAXED);
  r.idle = c->conns > 0 || c->last_seen >= s->now ? 0
    : (uint64_t) (s->now - c->last_seen);
  g_array_append_val (s->records, r);
}

static void
save_state (struct housekeeping *hk)
{
  struct snapshot s = {
    .records = g_array_new (FALSE, FALSE, sizeof (struct state_record)),
    .now = clock_mono_s (),
  };
  struct state_header h = header (hk);

  client_table_foreach (hk->table, snapshot_one, &s);
  state_file_save (hk->config.state_path, &h,
                   (const struct state_record *) s.records->data,
                   s.records->len);
  g_array_free (s.records, TRUE);
}

static void
write_status (struct housekeeping *hk)
{
  g_autofree struct sched_tier_stats *t =
    g_new0 (struct sched_tier_stats, hk->tiers->n);
  struct client_table_stats c;
  struct guard_stats g;

  sched_get_stats (hk->sched, t);
  client_table_get_stats (hk->table, &c);
  guard_get_stats (&g);
  status_write (hk->config.status_path, t, hk->tiers->n, &c, &g);
}

/* --- the thread -------------------------------------------------------- */

/* When each periodic task is next due (monotonic ms). */
struct due {
  int64_t last_decay, next_status, next_state;
};

/* One pass of the thread at NOW: whatever is due. */
static void
run_once (struct housekeeping *hk, int64_t now, struct due *due)
{
  const struct housekeeping_config *c = &hk->config;

  if (c->decay_ms && now - due->last_decay >= (int64_t) hk->decay_step_ms) {
    client_table_decay (hk->table,
                        decay_factor (hk, (double) (now - due->last_decay)));
    due->last_decay = now;
  }
  if (c->forget_after_ms)
    client_table_forget_idle (hk->table, now / 1000 - (int64_t)
                              (c->forget_after_ms / 1000));
  if (c->status_path && now >= due->next_status) {
    write_status (hk);
    due->next_status = now + c->status_interval_ms;
  }
  if (c->state_path && now >= due->next_state) {
    save_state (hk);
    due->next_state = now + c->state_interval_ms;
  }
}

/* Wait up to a second to be told to stop; whether we were. */
static bool
stop_requested (struct housekeeping *hk)
{
  g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&hk->lock);

  if (!hk->stop)
    g_cond_wait_until (&hk->cond, &hk->lock,
                       g_get_monotonic_time () + G_USEC_PER_SEC);
  return hk->stop;
}

static gpointer
run (gpointer opaque)
{
  struct housekeeping *hk = opaque;
  int64_t now = clock_mono_ms ();
  struct due due = {
    .last_decay = now, .next_status = now,
    .next_state = now + hk->config.state_interval_ms,
  };

  do
    run_once (hk, clock_mono_ms (), &due);
  while (!stop_requested (hk));
  return NULL;
}

int
housekeeping_start (struct housekeeping *hk)
{
  g_autoptr (GError) error = NULL;

  if (!hk->config.decay_ms && !hk->config.forget_after_ms &&
      !hk->config.state_path && !hk->config.status_path)
    return 0;
  hk->thread = g_thread_try_new ("ratetier", run, hk, &error);
  if (hk->thread == NULL) {
    nbdkit_error ("ratetier: cannot start the housekeeping thread: %s",
                  error->message);
    return -1;
  }
  return 0;
}

static void
stop_thread (struct housekeeping *hk)
{
  if (hk->thread) {
    {
      g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&hk->lock);
      hk->stop = true;
      g_cond_signal (&hk->cond);
    }
    g_thread_join (hk->thread);
    hk->thread = NULL;
  }
}

void
housekeeping_stop (struct housekeeping *hk)
{
  stop_thread (hk);
  if (hk->config.state_path)
    save_state (hk);
  if (hk->config.status_path)
    write_status (hk);
}

void
housekeeping_free (struct housekeeping *hk)
{
  if (hk == NULL)
    return;
  stop_thread (hk);
  g_mutex_clear (&hk->lock);
  g_cond_clear (&hk->cond);
  g_free (hk);
}
