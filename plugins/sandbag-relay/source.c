/* sandbag-relay: sources and their health (see source.h). */
#include <inttypes.h>
#include <math.h>
#include <string.h>

#include <glib.h>

#include "nbd-uri.h"
#include "source.h"

#define BACKOFF_FIRST_MS 200
#define BACKOFF_MAX_MS 2000
#define WRONG_VERSION_WAIT_MS 60000

struct source_set {
  GMutex lock;                  /* protects the fields marked in source.h */
  size_t n;
  struct source sources[SOURCES_MAX];
};

struct source_set *
sources_new (char *const *uris, size_t n, const char *pinned, GError **err)
{
  struct source_set *set;
  size_t i;

  if (n == 0 || n > SOURCES_MAX) {
    g_set_error (err, G_URI_ERROR, G_URI_ERROR_FAILED,
                 "between 1 and %d servers are needed", SOURCES_MAX);
    return NULL;
  }
  set = g_new0 (struct source_set, 1);
  g_mutex_init (&set->lock);
  for (i = 0; i < n; i++) {
    set->sources[i].uri = g_strdup (uris[i]);
    set->sources[i].connect_uri = nbd_uri_with_export (uris[i], pinned, err);
    set->n++;
    if (set->sources[i].connect_uri == NULL) {
      sources_free (set);
      return NULL;
    }
  }
  return set;
}

void
sources_free (struct source_set *set)
{
  size_t i;

  if (set == NULL)
    return;
  for (i = 0; i < set->n; i++) {
    g_free (set->sources[i].uri);
    g_free (set->sources[i].connect_uri);
  }
  g_mutex_clear (&set->lock);
  g_free (set);
}

size_t
sources_count (const struct source_set *set)
{
  return set->n;
}

struct source *
sources_get (struct source_set *set, size_t i)
{
  return &set->sources[i];
}

struct source *
sources_pick (struct source_set *set, int64_t now_ms, int64_t *wait_ms)
{
  g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&set->lock);
  struct source *best = NULL;
  int64_t first_retry = INT64_MAX;
  size_t i;

  for (i = 0; i < set->n; i++) {
    struct source *s = &set->sources[i];

    if (s->retry_at_ms > now_ms) {
      first_retry = MIN (first_retry, s->retry_at_ms);
      continue;
    }
    if (best == NULL || s->latency_ms < best->latency_ms ||
        (s->latency_ms == best->latency_ms &&
         s->connections < best->connections))
      best = s;
  }
  *wait_ms = best ? 0 : first_retry - now_ms;
  return best;
}

void
source_connected (struct source_set *set, struct source *s,
                  double connect_ms)
{
  g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&set->lock);

  s->failures = 0;
  s->retry_at_ms = 0;
  s->wrong_version = false;
  s->latency_ms = s->latency_ms == 0 ? connect_ms
    : 0.75 * s->latency_ms + 0.25 * connect_ms;
  s->connections++;
}

void
source_disconnected (struct source_set *set, struct source *s)
{
  g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&set->lock);

  if (s->connections > 0)
    s->connections--;
}

void
source_failed (struct source_set *set, struct source *s, int64_t now_ms,
               bool wrong_version)
{
  g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&set->lock);
  double wait;

  s->failures = MIN (s->failures + 1, 30u);
  s->wrong_version = wrong_version;
  wait = wrong_version ? WRONG_VERSION_WAIT_MS
    : MIN ((double) BACKOFF_MAX_MS,
           BACKOFF_FIRST_MS * exp2 (s->failures - 1));
  s->retry_at_ms = now_ms + (int64_t) (wait * g_random_double_range (0.5,
                                                                      1.5));
}

void
sources_status (struct source_set *set, int64_t now_ms, GString *out)
{
  g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&set->lock);
  size_t i;

  for (i = 0; i < set->n; i++) {
    const struct source *s = &set->sources[i];

    g_string_append_printf (out,
      "source %s %s connections=%u failures=%u latency_ms=%.1f "
      "retry_in_ms=%" PRId64 " requests=%" PRIu64 " bytes=%" PRIu64 "\n",
      s->uri,
      s->wrong_version ? "wrong-version"
      : s->connections > 0 ? "up" : s->failures > 0 ? "down" : "idle",
      s->connections, s->failures, s->latency_ms,
      MAX (s->retry_at_ms - now_ms, 0),
      __atomic_load_n (&s->requests, __ATOMIC_RELAXED),
      __atomic_load_n (&s->bytes, __ATOMIC_RELAXED));
  }
}
