/* sandbag-relay: an nbdkit plugin that serves, on the client's own
 * machine, one pinned version read from one or more sandbag servers,
 * so that the kernel's NBD device (attached to this local server by
 * sandbag-attach) never sees the Internet's dropped connections.
 * See nbdkit-sandbag-relay-plugin.pod.
 *
 * Design:
 *  - Each local connection (the kernel opens one per nbd-client
 *    connection) has its own upstream connection, made lazily and
 *    remade whenever it fails, to the best source (source.h), always
 *    asking for the pinned name and checking that it is exactly the
 *    expected version before reading a byte (upstream.h).
 *  - A read is retried, on a new upstream connection each time, until
 *    it succeeds or the give-up time has passed since it arrived; only
 *    then does the local client get EIO.
 *  - Requests of one local connection are serialized (one upstream
 *    connection, used by one thread at a time); clients that want
 *    parallel reads open several connections, as they must with
 *    sandbag servers on nbdkit 1.32 anyway.
 *  - A background thread rewrites the status file once a second.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

#include "atomic-file.h"
#include "clock.h"
#include "config.h"
#include "source.h"
#include "upstream.h"
#include "version.h"

#define THREAD_MODEL NBDKIT_THREAD_MODEL_SERIALIZE_REQUESTS

/* server=: the sources, as given (at most SOURCES_MAX). */
static char *servers[SOURCES_MAX];
static size_t nr_servers;
/* export=, size=, sha256=: the version served; size 0 until known. */
static struct version_ident ident;
static bool ident_given;
/* Timeouts in ms. */
static uint64_t give_up_ms = 5 * 60 * 1000;
static uint64_t connect_timeout_ms = 10 * 1000;
static uint64_t request_timeout_ms = 30 * 1000;
/* status=: the status file, or NULL. */
static char *status_path;

static struct source_set *sources;

/* Totals (atomics). */
static uint64_t st_reconnects, st_requests, st_bytes, st_errors;
static unsigned st_connections;         /* upstream connections now */
static unsigned st_reconnecting;        /* local connections without one */

/* The status thread; status_lock protects status_stop. */
static GThread *status_thread;
static GMutex status_lock;
static GCond status_cond;
static bool status_stop;

struct handle {
  struct upstream up;
  struct source *source;        /* of UP, when connected */
  uint64_t reads;               /* reads done on UP */
};

/* Every open handle.  nbdkit 1.32 does not call .close for connections
 * still open when it quits, so .unload closes their server connections
 * and frees them.  handles_lock protects the set. */
static GMutex handles_lock;
static GHashTable *handles;

static void disconnect (struct handle *h);

static void
relay_unload (void)
{
  size_t i;

  if (handles) {
    GHashTableIter iter;
    gpointer h;

    g_hash_table_iter_init (&iter, handles);
    while (g_hash_table_iter_next (&iter, &h, NULL)) {
      disconnect (h);
      g_free (h);
    }
    g_hash_table_destroy (handles);
  }
  sources_free (sources);
  for (i = 0; i < nr_servers; i++)
    g_free (servers[i]);
  free (status_path);
  config_reset ();
}

static int
parse_sha256 (const char *key, const char *value)
{
  size_t i;

  if (config_once (key) == CONFIG_ERROR)
    return -1;
  for (i = 0; i < 64; i++)
    if (!g_ascii_isxdigit (value[i]) || g_ascii_isupper (value[i]))
      break;
  if (i != 64 || value[64] != '\0') {
    nbdkit_error ("%s: expected 64 lowercase hex digits", key);
    return -1;
  }
  memcpy (ident.sha256, value, 65);
  return 0;
}

static int
relay_config (const char *key, const char *value)
{
  const char *reason;
  size_t name_len;
  int64_t size;

  if (strcmp (key, "server") == 0) {
    if (nr_servers == SOURCES_MAX) {
      nbdkit_error ("server: at most %d servers", SOURCES_MAX);
      return -1;
    }
    servers[nr_servers++] = g_strdup (value);
    return 0;
  }
  else if (strcmp (key, "export") == 0) {
    if (config_once (key) == CONFIG_ERROR)
      return -1;
    if (!version_split (value, &name_len, &reason)) {
      nbdkit_error ("export: \"%s\" is not a pinned name NAME@VERSION: %s",
                    value, reason);
      return -1;
    }
    g_strlcpy (ident.pinned, value, sizeof ident.pinned);
    return 0;
  }
  else if (strcmp (key, "size") == 0) {
    if (config_size (key, value, 1, INT64_MAX, &size) == CONFIG_ERROR)
      return -1;
    ident.size = size;
    return 0;
  }
  else if (strcmp (key, "sha256") == 0)
    return parse_sha256 (key, value);
  else if (strcmp (key, "give-up") == 0)
    return config_duration (key, value, 1000, UINT64_C (7) * 86400 * 1000,
                            &give_up_ms);
  else if (strcmp (key, "connect-timeout") == 0)
    return config_duration (key, value, 100, 3600 * 1000,
                            &connect_timeout_ms);
  else if (strcmp (key, "request-timeout") == 0)
    return config_duration (key, value, 100, 3600 * 1000,
                            &request_timeout_ms);
  else if (strcmp (key, "status") == 0)
    return config_path (key, value, &status_path);
  nbdkit_error ("unknown parameter '%s'", key);
  return -1;
}

static int
relay_config_complete (void)
{
  if (nr_servers == 0 || ident.pinned[0] == '\0') {
    nbdkit_error ("server= (at least one) and export=NAME@VERSION are "
                  "required");
    return -1;
  }
  if ((ident.size == 0) != (ident.sha256[0] == '\0')) {
    nbdkit_error ("give both size= and sha256=, or neither (to learn "
                  "them from the first server that answers)");
    return -1;
  }
  ident_given = ident.size != 0;
  return 0;
}

#define relay_config_help \
  "server=URI            A sandbag server (nbd://HOST[:PORT]); repeat for " \
  "mirrors.\n" \
  "export=NAME@VERSION   The pinned version to serve (required).\n" \
  "size=BYTES, sha256=HEX  Its identity (default: learned at start).\n" \
  "give-up=DURATION      Retry a read this long before EIO (default 5m).\n" \
  "connect-timeout=DURATION  Per connection attempt (default 10s).\n" \
  "request-timeout=DURATION  Per upstream read (default 30s).\n" \
  "status=FILE           Status file, rewritten every second."

/* Whether the local connection is still worth serving. */
static bool
still_wanted (void)
{
  return nbdkit_nanosleep (0, 0) == 0;
}

/* Learn the version's identity from the first source that answers. */
static int
learn_identity (void)
{
  size_t i;

  for (i = 0; i < sources_count (sources); i++) {
    struct source *s = sources_get (sources, i);
    struct upstream up;
    const char *reason;

    if (upstream_connect (&up, s->connect_uri, &ident, connect_timeout_ms,
                          NULL, &reason) == UPSTREAM_OK) {
      upstream_close (&up);
      nbdkit_debug ("relay: %s is %" PRIu64 " bytes, sha256 %s, from %s",
                    ident.pinned, ident.size, ident.sha256, s->uri);
      return 0;
    }
    nbdkit_error ("relay: %s: %s", s->uri, reason);
  }
  nbdkit_error ("relay: no server answered for %s", ident.pinned);
  return -1;
}

static int
relay_get_ready (void)
{
  g_autoptr (GError) err = NULL;

  sources = sources_new (servers, nr_servers, ident.pinned, &err);
  if (sources == NULL) {
    nbdkit_error ("server: %s", err->message);
    return -1;
  }
  return ident_given ? 0 : learn_identity ();
}

/* --- status ------------------------------------------------------------ */

static void
write_status (void)
{
  g_autoptr (GString) s = g_string_new (NULL);
  g_autoptr (GError) err = NULL;
  unsigned reconnecting = __atomic_load_n (&st_reconnecting,
                                           __ATOMIC_RELAXED);

  g_string_append_printf (s,
    "pinned %s\nsize %" PRIu64 "\nsha256 %s\nstate %s\n"
    "connections %u\nreconnects %" PRIu64 "\nrequests %" PRIu64 "\n"
    "bytes %" PRIu64 "\nerrors %" PRIu64 "\n",
    ident.pinned, ident.size, ident.sha256,
    reconnecting ? "reconnecting" : "up",
    __atomic_load_n (&st_connections, __ATOMIC_RELAXED),
    __atomic_load_n (&st_reconnects, __ATOMIC_RELAXED),
    __atomic_load_n (&st_requests, __ATOMIC_RELAXED),
    __atomic_load_n (&st_bytes, __ATOMIC_RELAXED),
    __atomic_load_n (&st_errors, __ATOMIC_RELAXED));
  sources_status (sources, clock_mono_ms (), s);
  if (atomic_file_replace (status_path, s->str, s->len, 0644, false,
                           &err) == -1)
    nbdkit_debug ("relay: status: %s", err->message);
}

static gpointer
status_main (gpointer unused)
{
  g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&status_lock);

  while (!status_stop) {
    gint64 until = g_get_monotonic_time () + G_USEC_PER_SEC;

    g_mutex_unlock (&status_lock);
    write_status ();
    g_mutex_lock (&status_lock);
    while (!status_stop && g_cond_wait_until (&status_cond, &status_lock,
                                              until))
      ;
  }
  return NULL;
}

static int
relay_after_fork (void)
{
  if (status_path == NULL)
    return 0;
  status_thread = g_thread_try_new ("relay-status", status_main, NULL, NULL);
  if (status_thread == NULL) {
    nbdkit_error ("relay: cannot start the status thread");
    return -1;
  }
  return 0;
}

static void
relay_cleanup (void)
{
  if (status_thread == NULL)
    return;
  g_mutex_lock (&status_lock);
  status_stop = true;
  g_cond_signal (&status_cond);
  g_mutex_unlock (&status_lock);
  g_thread_join (status_thread);
  status_thread = NULL;
  write_status ();
}

/* --- connections ------------------------------------------------------- */

static void *
relay_open (int readonly)
{
  struct handle *h = g_new0 (struct handle, 1);
  g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&handles_lock);

  if (handles == NULL)
    handles = g_hash_table_new (NULL, NULL);
  g_hash_table_add (handles, h);
  return h;
}

static void
disconnect (struct handle *h)
{
  if (h->up.nbd == NULL)
    return;
  upstream_close (&h->up);
  source_disconnected (sources, h->source);
  __atomic_sub_fetch (&st_connections, 1, __ATOMIC_RELAXED);
  h->source = NULL;
}

static void
relay_close (void *handle)
{
  struct handle *h = handle;

  {
    g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&handles_lock);

    g_hash_table_remove (handles, h);
  }
  disconnect (h);
  g_free (h);
}

/* Connect H to the best source, waiting out backoffs, until
 * DEADLINE_MS.  0, or the errno for the local client. */
static int
reconnect (struct handle *h, int64_t deadline_ms)
{
  for (;;) {
    int64_t now = clock_mono_ms (), wait_ms;
    struct source *s = sources_pick (sources, now, &wait_ms);
    enum upstream_result r;
    const char *reason;
    struct version_ident expect = ident;

    if (s == NULL) {
      wait_ms = MIN (wait_ms, deadline_ms - now);
      if (wait_ms <= 0 ||
          nbdkit_nanosleep (wait_ms / 1000, wait_ms % 1000 * 1000000) == -1)
        break;
      continue;
    }
    r = upstream_connect (&h->up, s->connect_uri, &expect,
                          MIN (connect_timeout_ms,
                               (uint64_t) MAX (deadline_ms - now, 1)),
                          still_wanted, &reason);
    if (r == UPSTREAM_OK) {
      source_connected (sources, s, clock_mono_ms () - now);
      __atomic_add_fetch (&st_connections, 1, __ATOMIC_RELAXED);
      h->source = s;
      h->reads = 0;
      return 0;
    }
    if (r == UPSTREAM_STOPPED)
      break;
    source_failed (sources, s, clock_mono_ms (),
                   r == UPSTREAM_WRONG_VERSION);
    nbdkit_error ("relay: %s: %s%s", s->uri, reason,
                  r == UPSTREAM_WRONG_VERSION ? "; not used for 60 s" : "");
  }
  return still_wanted () ? EIO : ESHUTDOWN;
}

static int
relay_pread (void *handle, void *buf, uint32_t count, uint64_t offset,
             uint32_t flags)
{
  struct handle *h = handle;
  int64_t deadline_ms = clock_mono_ms () + give_up_ms;
  bool counted = false;
  int e = 0;

  for (;;) {
    enum upstream_result r;
    const char *reason;

    if (h->up.nbd == NULL) {
      if (!counted) {
        __atomic_add_fetch (&st_reconnecting, 1, __ATOMIC_RELAXED);
        counted = true;
      }
      e = reconnect (h, deadline_ms);
      if (e != 0)
        break;
    }
    r = upstream_pread (&h->up, buf, count, offset, request_timeout_ms,
                        still_wanted, &reason);
    if (r == UPSTREAM_OK) {
      __atomic_add_fetch (&h->source->requests, 1, __ATOMIC_RELAXED);
      __atomic_add_fetch (&h->source->bytes, count, __ATOMIC_RELAXED);
      __atomic_add_fetch (&st_requests, 1, __ATOMIC_RELAXED);
      __atomic_add_fetch (&st_bytes, count, __ATOMIC_RELAXED);
      h->reads++;
      break;
    }
    nbdkit_error ("relay: %s: read failed: %s; reconnecting",
                  h->source->uri, reason);
    /* A connection that served reads and then failed was probably
     * closed while idle (servers recycle idle connections): reconnect
     * at once.  One that fails its first read counts against the
     * source, so that a server failing every read is not hammered. */
    if (h->reads == 0)
      source_failed (sources, h->source, clock_mono_ms (), false);
    disconnect (h);
    __atomic_add_fetch (&st_reconnects, 1, __ATOMIC_RELAXED);
    if (r == UPSTREAM_STOPPED) {
      e = ESHUTDOWN;
      break;
    }
  }
  if (counted)
    __atomic_sub_fetch (&st_reconnecting, 1, __ATOMIC_RELAXED);
  if (e == 0)
    return 0;
  if (e == EIO) {
    __atomic_add_fetch (&st_errors, 1, __ATOMIC_RELAXED);
    nbdkit_error ("relay: giving up a read of %" PRIu32 " bytes at %"
                  PRIu64 " after %" PRIu64 " ms", count, offset, give_up_ms);
  }
  nbdkit_set_error (e);
  return -1;
}

static int64_t
relay_get_size (void *handle)
{
  return ident.size;
}

static int
relay_can_write (void *handle)
{
  return 0;
}

static int
relay_can_multi_conn (void *handle)
{
  return 1;                     /* one immutable version */
}

static const char *
relay_export_description (void *handle)
{
  return ident.pinned;
}

static struct nbdkit_plugin plugin = {
  .name               = "sandbag-relay",
  .longname           = "sandbag relay: a pinned version from mirrors",
  .version            = PACKAGE_VERSION,
  .unload             = relay_unload,
  .config             = relay_config,
  .config_complete    = relay_config_complete,
  .config_help        = relay_config_help,
  .magic_config_key   = "server",
  .get_ready          = relay_get_ready,
  .after_fork         = relay_after_fork,
  .cleanup            = relay_cleanup,
  .open               = relay_open,
  .close              = relay_close,
  .get_size           = relay_get_size,
  .can_write          = relay_can_write,
  .can_multi_conn     = relay_can_multi_conn,
  .export_description = relay_export_description,
  .pread              = relay_pread,
  .errno_is_preserved = 0,
};

/* The one exported symbol (NBDKIT_REGISTER_PLUGIN defines it). */
NBDKIT_DLL_PUBLIC struct nbdkit_plugin *plugin_init (void);
NBDKIT_REGISTER_PLUGIN (plugin)
