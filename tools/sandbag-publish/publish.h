/* sandbag-publish: publishing one image version into a served
 * directory (the layout is in filters/common/version.h).
 *
 * Steps, each safe to interrupt at any point:
 *  1. the image is copied under a hidden temporary name in the
 *     directory (or, with MOVE, taken as it is), hashing it on the way;
 *  2. its metadata ".NAME@VERSION.meta" is written, never replacing an
 *     existing one;
 *  3. the image is renamed to NAME@VERSION, never replacing an existing
 *     one, and made read-only: from here on the pinned name is servable
 *     and always means these bytes;
 *  4. the link NAME is switched to NAME@VERSION by an atomic rename.
 * Everything is fsynced before the next step depends on it.  A crash
 * leaves at most a hidden temporary file (which prune removes) or
 * metadata without an image (likewise), never a pinned name for other
 * bytes.  Publishing the same bytes again under the current version is
 * a no-op; any other reuse of a pinned name is refused.
 */
#ifndef SANDBAG_PUBLISH_PUBLISH_H
#define SANDBAG_PUBLISH_PUBLISH_H

#include <stdbool.h>
#include <stdint.h>

#include <glib.h>

struct publish_request {
  const char *dir;              /* the served directory */
  const char *name;             /* NAME: an export name without '@' */
  const char *image;            /* the image to publish */
  const char *version;          /* VERSION, or NULL for the publish time */
  bool move;                    /* rename IMAGE in instead of copying */
  int64_t now;                  /* publish time, seconds since the epoch */
};

/* Publish as above.  Returns the pinned name (g_free it), or NULL and
 * *ERR. */
extern char *publish (const struct publish_request *req, GError **err);

#endif /* SANDBAG_PUBLISH_PUBLISH_H */
