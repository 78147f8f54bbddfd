/* The client side: one server connection (see upstream.h).
 *
 * Waits use libnbd's asynchronous API and nbd_poll with a timeout of at
 * most a second, so that both the deadline and STILL_WANTED are checked
 * while the server is silent.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <libnbd.h>

#include "clock.h"
#include "upstream.h"
#include "version.h"

/* The reason for the last failure in this thread. */
static __thread char reason_buf[512];

static const char *
say (const char *fs, ...) G_GNUC_PRINTF (1, 2);

static const char *
say (const char *fs, ...)
{
  va_list args;

  va_start (args, fs);
  g_vsnprintf (reason_buf, sizeof reason_buf, fs, args);
  va_end (args);
  return reason_buf;
}

/* Run libnbd until DONE (U) is true or DEADLINE_MS passes. */
static enum upstream_result
wait_for (struct nbd_handle *nbd, int (*done) (struct nbd_handle *, void *),
          void *opaque, int64_t deadline_ms, upstream_still_wanted *still,
          const char **reason)
{
  for (;;) {
    int r = done (nbd, opaque);
    int64_t left;

    if (r != 0)
      return r > 0 ? UPSTREAM_OK : UPSTREAM_FAILED;
    left = deadline_ms - clock_mono_ms ();
    if (left <= 0) {
      *reason = say ("no answer within the timeout");
      return UPSTREAM_FAILED;
    }
    if (still && !still ()) {
      *reason = say ("stopped");
      return UPSTREAM_STOPPED;
    }
    if (nbd_poll (nbd, MIN (left, 1000)) == -1) {
      *reason = say ("%s", nbd_get_error ());
      return UPSTREAM_FAILED;
    }
  }
}

/* Connecting is done when the handle is ready (1) or dead (-1). */
static int
connect_done (struct nbd_handle *nbd, void *opaque)
{
  if (nbd_aio_is_connecting (nbd) == 1)
    return 0;
  return nbd_aio_is_ready (nbd) == 1 ? 1 : -1;
}

/* Whether ID is the version EXPECT->pinned names: that pinned name,
 * or (only when learning) a version of that plain name. */
static bool
names_version (const struct version_ident *expect,
               const struct version_ident *id)
{
  size_t len = strlen (expect->pinned);

  if (strcmp (id->pinned, expect->pinned) == 0)
    return true;
  return expect->size == 0 && strchr (expect->pinned, '@') == NULL &&
    strncmp (id->pinned, expect->pinned, len) == 0 && id->pinned[len] == '@';
}

/* Whether the connected server serves EXPECT (or, learning, a version
 * named EXPECT->pinned, which is then recorded in *EXPECT). */
static enum upstream_result
check_identity (struct nbd_handle *nbd, struct version_ident *expect,
                const char **reason)
{
  g_autofree char *desc = nbd_get_export_description (nbd);
  struct version_ident id;
  const char *why;
  int64_t size = nbd_get_size (nbd);

  if (desc == NULL) {
    *reason = say ("no export description (not a sandbag server?)");
    return UPSTREAM_WRONG_VERSION;
  }
  if (!version_description_parse (desc, &id, &why)) {
    *reason = say ("export description does not describe a version: %s",
                   why);
    return UPSTREAM_WRONG_VERSION;
  }
  if (!names_version (expect, &id)) {
    *reason = say ("serves %s, not %s", id.pinned, expect->pinned);
    return UPSTREAM_WRONG_VERSION;
  }
  if (size < 0 || (uint64_t) size != id.size) {
    *reason = say ("export size %" G_GINT64_FORMAT " disagrees with its "
                   "description", size);
    return UPSTREAM_WRONG_VERSION;
  }
  if (expect->size == 0) {
    *expect = id;
    return UPSTREAM_OK;
  }
  if (id.size != expect->size || strcmp (id.sha256, expect->sha256) != 0) {
    *reason = say ("serves other bytes as %s (size %" G_GUINT64_FORMAT
                   ", sha256 %.12s..., expected %" G_GUINT64_FORMAT
                   ", %.12s...)", id.pinned, id.size, id.sha256,
                   expect->size, expect->sha256);
    return UPSTREAM_WRONG_VERSION;
  }
  return UPSTREAM_OK;
}

enum upstream_result
upstream_connect (struct upstream *u, const char *uri,
                  struct version_ident *expect, int timeout_ms,
                  upstream_still_wanted *still, const char **reason)
{
  struct nbd_handle *nbd = nbd_create ();
  enum upstream_result r;

  u->nbd = NULL;
  *reason = NULL;
  if (nbd == NULL) {
    *reason = say ("%s", nbd_get_error ());
    return UPSTREAM_FAILED;
  }
  if (nbd_set_full_info (nbd, true) == -1 ||
      nbd_aio_connect_uri (nbd, uri) == -1) {
    *reason = say ("%s", nbd_get_error ());
    nbd_close (nbd);
    return UPSTREAM_FAILED;
  }
  r = wait_for (nbd, connect_done, NULL, clock_mono_ms () + timeout_ms,
                still, reason);
  if (r == UPSTREAM_FAILED && *reason == NULL)
    *reason = say ("%s", nbd_get_error () ? nbd_get_error ()
                   : "handshake failed");
  if (r == UPSTREAM_OK)
    r = check_identity (nbd, expect, reason);
  if (r != UPSTREAM_OK) {
    nbd_close (nbd);
    return r;
  }
  u->nbd = nbd;
  return UPSTREAM_OK;
}

/* A command is done when libnbd has retired it: 1 ok, -1 failed. */
static int
command_done (struct nbd_handle *nbd, void *cookie)
{
  return nbd_aio_command_completed (nbd, *(int64_t *) cookie);
}

enum upstream_result
upstream_pread (struct upstream *u, void *buf, uint32_t count,
                uint64_t offset, int timeout_ms,
                upstream_still_wanted *still, const char **reason)
{
  int64_t cookie = nbd_aio_pread (u->nbd, buf, count, offset,
                                  NBD_NULL_COMPLETION, 0);
  enum upstream_result r;

  *reason = NULL;
  if (cookie == -1) {
    *reason = say ("%s", nbd_get_error ());
    return UPSTREAM_FAILED;
  }
  r = wait_for (u->nbd, command_done, &cookie,
                clock_mono_ms () + timeout_ms, still, reason);
  if (r == UPSTREAM_FAILED && *reason == NULL)
    *reason = say ("%s", nbd_get_error () ? nbd_get_error ()
                   : "read failed");
  return r;
}

void
upstream_close (struct upstream *u)
{
  if (u->nbd)
    nbd_close (u->nbd);
  u->nbd = NULL;
}
