/* sandbag: an nbdkit plugin that serves read-only images to the public.
 *
 * file=IMAGE serves one image as the default export; dir=DIRECTORY
 * serves every regular file in a directory as an export of that name.
 *
 * Design:
 *  - Snapshots: every connection opens its image in .open and keeps that
 *    descriptor (so that inode) until it closes.  Publishing a new
 *    version by renaming a file over the old name therefore affects new
 *    connections only.  The size is taken once, at open.
 *  - Read-only by construction: there is no .pwrite, .trim or .zero and
 *    can_write is 0, so nbdkit advertises the export read-only and
 *    answers any write, trim or zero with EPERM itself.
 *  - Hot path: pread on the connection's own descriptor; no lock, no
 *    allocation.  Extents use SEEK_DATA/SEEK_HOLE on the same descriptor
 *    (lseek's returned offset is all we use, so concurrent requests of one
 *    connection cannot disturb each other) and do a bounded amount of
 *    work per request.
 *  - Names from clients are checked by exportname.c and opened by
 *    imagedir.c beneath a directory descriptor held for the plugin's
 *    lifetime.  A refused name gets NBD_REP_ERR_UNKNOWN (nbdkit's answer
 *    to a failed .open) and the reason goes to the server log only.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>

#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

#include "config.h"
#include "exportname.h"
#include "imagedir.h"
#include "listing.h"
#include "pinned.h"
#include "version.h"

#define THREAD_MODEL NBDKIT_THREAD_MODEL_PARALLEL

/* file=: absolute path of the single image, or NULL in dir= mode. */
static char *filename;
/* dir=: absolute path of the image directory, or NULL in file= mode. */
static char *dirname_;
/* default=: the export served to clients asking for "" in dir= mode,
 * or NULL for none (then "" is an unknown export). */
static char *default_name;

/* Advertised request size limits in bytes (minimum=, preferred=,
 * maximum=; NBD_INFO_BLOCK_SIZE, which NBD calls block sizes).
 * Requests not aligned to the minimum or longer than the maximum are
 * refused with EINVAL (nbdkit 1.32 does not enforce them itself). */
static uint32_t minimum = 1;
static uint32_t preferred = 4096;
static uint32_t maximum = 32 * 1024 * 1024;

/* list-limit=: most exports listed by NBD_OPT_LIST in dir= mode.  At most
 * LIST_SCAN_FACTOR times as many directory entries are examined. */
static uint32_t list_limit = 1000;
#define LIST_SCAN_FACTOR 8

/* multi-conn=: whether multi-conn is advertised (default true). */
static bool multi_conn = true;

/* nbdkit servers before 1.33.10 abort on an assertion when a client
 * hangs up while other worker threads of its connection still have
 * replies to send (fixed upstream by "server: Don't assert on send if
 * client hangs up early").  Serializing the requests of each connection
 * leaves one thread per connection, which sends every reply, so any
 * client cannot take the whole server down. */
#define NBDKIT_SEND_RACE_FIXED                                  \
  (NBDKIT_VERSION_MAJOR > 1 || NBDKIT_VERSION_MINOR > 33 ||     \
   (NBDKIT_VERSION_MINOR == 33 && NBDKIT_VERSION_MICRO >= 10))

/* serialize=: handle one request at a time on each connection.  The
 * default (auto) is true when built against an nbdkit with that race. */
static bool serialize = !NBDKIT_SEND_RACE_FIXED;

/* The image directory (dir= mode), open from .get_ready to .unload. */
static int dir_fd = -1;

/* Most lseek calls one extents request may make (two per data extent). */
#define EXTENTS_MAX_SEEKS 1024

/* Per-connection state: the image as it was when the client connected. */
struct handle {
  int fd;                       /* read-only descriptor of the image */
  uint64_t size;                /* its size in bytes, at open */
  time_t mtime;                 /* its modification time, at open */
  const char *name;             /* export name, the pinned name for a
                                 * version (nbdkit-interned) */
  bool versioned;               /* a pinned version: META is set */
  struct version_meta meta;
};

/* A client-supplied name made safe to log: escaped and truncated. */
static char *
printable (const char *name)
{
  g_autofree char *cut = g_strndup (name, 64);
  g_autofree char *escaped = g_strescape (cut, NULL);

  return g_strconcat (escaped, strlen (name) > 64 ? "..." : "", NULL);
}

/* The reason imagedir_open gave, or errno's. */
static const char *
why (const char *reason)
{
  return reason != NULL ? reason : g_strerror (errno);
}

/* minimum=, preferred=, maximum=: checked against each other in
 * .config_complete. */
static int
config_block_size (const char *key, const char *value, uint32_t *out)
{
  int64_t v;

  if (config_size (key, value, 1, 64 * 1024 * 1024, &v) == -1)
    return -1;
  *out = v;
  return 0;
}

static int
sandbag_config (const char *key, const char *value)
{
  if (strcmp (key, "file") == 0)
    return config_path (key, value, &filename);
  else if (strcmp (key, "dir") == 0)
    return config_path (key, value, &dirname_);
  else if (strcmp (key, "default") == 0)
    return config_string (key, value, &default_name);
  else if (strcmp (key, "minimum") == 0)
    return config_block_size (key, value, &minimum);
  else if (strcmp (key, "preferred") == 0)
    return config_block_size (key, value, &preferred);
  else if (strcmp (key, "maximum") == 0)
    return config_block_size (key, value, &maximum);
  else if (strcmp (key, "list-limit") == 0)
    return config_u32 (key, value, 1, 10000, &list_limit);
  else if (strcmp (key, "multi-conn") == 0)
    return config_bool (key, value, &multi_conn);
  else if (strcmp (key, "serialize") == 0) {
    if (strcmp (value, "auto") != 0)
      return config_bool (key, value, &serialize);
    serialize = !NBDKIT_SEND_RACE_FIXED;
    return config_once (key);
  }
  else {
    nbdkit_error ("unknown parameter '%s'", key);
    return -1;
  }
}

static bool
is_power_of_2 (uint32_t v)
{
  return v != 0 && (v & (v - 1)) == 0;
}

static int
sandbag_config_complete (void)
{
  const char *reason;
  int fd;

  if ((filename == NULL) == (dirname_ == NULL)) {
    nbdkit_error ("exactly one of file= or dir= must be given");
    return -1;
  }
  if (default_name != NULL) {
    if (dirname_ == NULL) {
      nbdkit_error ("default: only meaningful with dir=");
      return -1;
    }
    if (!exportname_check (default_name, &reason)) {
      nbdkit_error ("default: invalid export name: %s", reason);
      return -1;
    }
  }

  if (!is_power_of_2 (minimum) || minimum > 65536) {
    nbdkit_error ("minimum: must be a power of 2 no larger than 64K");
    return -1;
  }
  if (!is_power_of_2 (preferred) || preferred < 512 ||
      preferred > 32 * 1024 * 1024 || preferred < minimum) {
    nbdkit_error ("preferred: must be a power of 2 between 512 and 32M "
                  "and at least minimum");
    return -1;
  }
  if (maximum < preferred || maximum % minimum != 0) {
    nbdkit_error ("maximum: must be at least preferred and "
                  "a multiple of minimum");
    return -1;
  }

  /* Fail early on an image or directory we could never serve. */
  if (filename != NULL) {
    fd = imagedir_open (AT_FDCWD, filename, IMAGEDIR_ANY_PATH, &reason);
    if (fd == -1) {
      nbdkit_error ("file: %s: %s", filename, why (reason));
      return -1;
    }
    close (fd);
  }
  else {
    fd = open (dirname_, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd == -1) {
      nbdkit_error ("dir: %s: %m", dirname_);
      return -1;
    }
    close (fd);
  }
  return 0;
}

#define sandbag_config_help \
  "file=<IMAGE>         Serve IMAGE as the default export.\n" \
  "dir=<DIRECTORY>      Serve each regular file in DIRECTORY as an export.\n" \
  "default=<NAME>       dir=: export served to clients asking for \"\".\n" \
  "minimum=<SIZE>       Minimum request size advertised (default 1).\n" \
  "preferred=<SIZE>     Preferred request size advertised (default 4096).\n" \
  "maximum=<SIZE>       Maximum request size advertised (default 32M).\n" \
  "list-limit=<N>       dir=: most exports listed (default 1000).\n" \
  "multi-conn=<BOOL>    Advertise multi-conn (default true).\n" \
  "serialize=<auto|BOOL> One request at a time per connection\n" \
  "                     (default auto: true with nbdkit before 1.33.10)."

static int
sandbag_get_ready (void)
{
  if (dirname_ == NULL)
    return 0;
  dir_fd = open (dirname_, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd == -1) {
    nbdkit_error ("dir: %s: %m", dirname_);
    return -1;
  }
  if (!imagedir_init (dir_fd))
    nbdkit_debug ("sandbag: openat2 RESOLVE_BENEATH unavailable, "
                  "so no symbolic link in the directory is followed");
  return 0;
}

static void
sandbag_unload (void)
{
  if (dir_fd >= 0)
    close (dir_fd);
  free (filename);
  free (dirname_);
  free (default_name);
  config_reset ();
}

/* Open an image for one connection, or NULL (the client then gets
 * NBD_REP_ERR_UNKNOWN; the reason is logged here).
 */
static void *
sandbag_open (int readonly)
{
  const char *name = nbdkit_export_name ();
  g_autofree struct handle *h = NULL;
  g_autofree char *shown = NULL;
  struct pinned_image img;
  const char *reason;
  struct stat st;
  int fd;

  if (name == NULL)
    return NULL;

  h = g_new0 (struct handle, 1);
  if (filename != NULL) {
    if (name[0] != '\0') {
      shown = printable (name);
      nbdkit_error ("export \"%s\" refused: only the default export \"\" "
                    "exists in file= mode", shown);
      return NULL;
    }
    fd = imagedir_open (AT_FDCWD, filename, IMAGEDIR_ANY_PATH, &reason);
    if (fd == -1) {
      nbdkit_error ("file: %s: %s", filename, why (reason));
      return NULL;
    }
  }
  else {
    if (!exportname_check (name, &reason) ||
        pinned_open (dir_fd, name, &img, &reason) == -1) {
      reason = why (reason);    /* before printable () touches errno */
      shown = printable (name);
      nbdkit_error ("export \"%s\" refused: %s", shown, reason);
      return NULL;
    }
    fd = img.fd;
    h->versioned = img.versioned;
    h->meta = img.meta;
    if (img.versioned)
      name = img.pinned;
  }

  if (fstat (fd, &st) == -1) {
    nbdkit_error ("fstat: %m");
    close (fd);
    return NULL;
  }
  h->fd = fd;
  h->size = st.st_size;
  h->mtime = st.st_mtime;
  h->name = nbdkit_strdup_intern (name);
  if (h->name == NULL) {
    close (fd);
    return NULL;
  }
  /* The name passed exportname_check (or is "" in file= mode). */
  nbdkit_debug ("sandbag: export \"%s\" opened: %" PRIu64 " bytes, "
                "inode %" PRIu64, name, h->size, (uint64_t) st.st_ino);
  return g_steal_pointer (&h);
}

static void
sandbag_close (void *handle)
{
  struct handle *h = handle;

  close (h->fd);
  g_free (h);
}

/* The description of an image (see describe.h), or NULL on error.
 * NAME is the export name in dir= mode, META the version's metadata or
 * NULL; in file= mode the sidecar sits next to the image.
 */
static char *
describe_image (const char *name, uint64_t size, time_t mtime,
                const struct version_meta *meta)
{
  g_autofree char *dir = NULL, *base = NULL;
  char *desc;
  int dfd;

  if (dir_fd >= 0)
    return listing_describe (dir_fd, name, size, mtime, meta);
  dir = g_path_get_dirname (filename);
  base = g_path_get_basename (filename);
  dfd = open (dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
  desc = listing_describe (dfd, base, size, mtime, NULL);
  if (dfd >= 0)
    close (dfd);
  return desc;
}

static const char *
sandbag_export_description (void *handle)
{
  struct handle *h = handle;
  g_autofree char *desc =
    describe_image (h->name, h->size, h->mtime,
                    h->versioned ? &h->meta : NULL);

  return nbdkit_strdup_intern (desc);
}

/* file= mode lists the default export, described as it is now. */
static int
list_file (struct nbdkit_exports *exports)
{
  g_autofree char *desc = NULL;
  const char *reason;
  struct stat st;
  int fd;

  fd = imagedir_open (AT_FDCWD, filename, IMAGEDIR_ANY_PATH, &reason);
  if (fd == -1) {
    nbdkit_error ("file: %s: %s", filename, why (reason));
    return -1;
  }
  if (fstat (fd, &st) == -1) {
    nbdkit_error ("fstat: %s: %m", filename);
    close (fd);
    return -1;
  }
  close (fd);
  desc = describe_image ("", st.st_size, st.st_mtime, NULL);
  return nbdkit_add_export (exports, "", desc);
}

static int
list_directory (struct nbdkit_exports *exports)
{
  g_autoptr (GPtrArray) found = NULL;
  struct listing_entry *e;
  guint i;

  found = listing_scan (dir_fd, list_limit, list_limit * LIST_SCAN_FACTOR);
  if (found == NULL) {
    nbdkit_error ("dir: %s: %m", dirname_);
    return -1;
  }
  for (i = 0; i < found->len; ++i) {
    e = g_ptr_array_index (found, i);
    if (nbdkit_add_export (exports, e->name, e->description) == -1)
      return -1;
  }
  return 0;
}

static int
sandbag_list_exports (int readonly, int is_tls,
                      struct nbdkit_exports *exports)
{
  if (dirname_ != NULL)
    return list_directory (exports);
  return list_file (exports);
}

static const char *
sandbag_default_export (int readonly, int is_tls)
{
  char pinned[VERSION_NAME_MAX + 1];

  if (dirname_ == NULL)
    return "";
  if (default_name == NULL)
    return NULL;                /* no default export */
  /* The canonical name of a versioned default export is its pinned
   * name: nbdkit opens that (so the connection gets the version named
   * here) and sends it as NBD_INFO_NAME. */
  if (pinned_resolve (dir_fd, default_name, pinned))
    return nbdkit_strdup_intern (pinned);
  return default_name;
}

static int64_t
sandbag_get_size (void *handle)
{
  struct handle *h = handle;

  return h->size;
}

static int
sandbag_block_size (void *handle,
                    uint32_t *min, uint32_t *pref, uint32_t *max)
{
  *min = minimum;
  *pref = preferred;
  *max = maximum;
  return 0;
}

static int
sandbag_can_write (void *handle)
{
  return 0;
}

static int
sandbag_thread_model (void)
{
  return serialize ? NBDKIT_THREAD_MODEL_SERIALIZE_REQUESTS
                   : NBDKIT_THREAD_MODEL_PARALLEL;
}

static int
sandbag_can_multi_conn (void *handle)
{
  return multi_conn;
}

static int
sandbag_can_extents (void *handle)
{
  return 1;
}

/* Native cache: posix_fadvise WILLNEED on at most `maximum` bytes per
 * request (longer requests are refused like reads), so a client cannot
 * make one request start unbounded read-ahead; the kernel does the
 * work asynchronously and the page cache is shared with reads.
 */
static int
sandbag_can_cache (void *handle)
{
  return NBDKIT_CACHE_NATIVE;
}

static int
sandbag_is_rotational (void *handle)
{
  return 0;
}

/* Requests must respect the advertised request size limits. */
static inline bool
request_ok (uint32_t count, uint64_t offset, const char *what)
{
  if (count > maximum || ((count | offset) & (minimum - 1)) != 0) {
    nbdkit_debug ("sandbag: %s refused: count %" PRIu32 " offset %" PRIu64
                  " outside the advertised request size limits", what, count, offset);
    nbdkit_set_error (EINVAL);
    return false;
  }
  return true;
}

static int
sandbag_pread (void *handle, void *buf, uint32_t count, uint64_t offset,
               uint32_t flags)
{
  struct handle *h = handle;
  char *p = buf;
  ssize_t r;

  if (!request_ok (count, offset, "read"))
    return -1;
  while (count > 0) {
    r = pread (h->fd, p, count, offset);
    if (r == -1) {
      if (errno == EINTR)
        continue;
      nbdkit_error ("pread: %s: %m", h->name);
      return -1;
    }
    if (r == 0) {
      /* The image shrank under us: it was modified in place. */
      nbdkit_error ("pread: %s: unexpected end of file", h->name);
      nbdkit_set_error (EIO);
      return -1;
    }
    p += r;
    count -= r;
    offset += r;
  }
  return 0;
}

static int
sandbag_cache (void *handle, uint32_t count, uint64_t offset,
               uint32_t flags)
{
  struct handle *h = handle;
  int r;

  if (!request_ok (count, offset, "cache"))
    return -1;
  r = posix_fadvise (h->fd, offset, count, POSIX_FADV_WILLNEED);
  if (r != 0) {
    errno = r;
    nbdkit_error ("posix_fadvise: %s: %m", h->name);
    return -1;
  }
  return 0;
}

/* Report data and holes from OFFSET, for at most EXTENTS_MAX_SEEKS
 * lseek calls; a client asking about a longer range gets a shorter
 * answer (allowed by the protocol) and asks again from where it ends.
 * The request length is a hint, so it is not limited to `maximum`.
 */
static int
sandbag_extents (void *handle, uint32_t count, uint64_t offset,
                 uint32_t flags, struct nbdkit_extents *extents)
{
  struct handle *h = handle;
  const bool req_one = flags & NBDKIT_FLAG_REQ_ONE;
  const uint64_t end = offset + count;
  uint64_t pos = offset;
  off_t data, hole;
  unsigned seeks = 0;

  while (pos < end && seeks < EXTENTS_MAX_SEEKS) {
    seeks++;
    data = lseek (h->fd, pos, SEEK_DATA);
    if (data == -1) {
      if (errno != ENXIO)
        goto all_data;
      /* No data from here to the end of the file. */
      return nbdkit_add_extent (extents, pos, h->size - pos,
                                NBDKIT_EXTENT_HOLE | NBDKIT_EXTENT_ZERO);
    }
    if ((uint64_t) data > pos) {
      if (nbdkit_add_extent (extents, pos, data - pos,
                             NBDKIT_EXTENT_HOLE | NBDKIT_EXTENT_ZERO) == -1)
        return -1;
      if (req_one)
        return 0;
      pos = data;
      if (pos >= end)
        break;
    }
    seeks++;
    hole = lseek (h->fd, pos, SEEK_HOLE);
    if (hole == -1)
      goto all_data;
    if ((uint64_t) hole <= pos || (uint64_t) hole > h->size)
      hole = h->size;
    if (nbdkit_add_extent (extents, pos, hole - pos, 0) == -1)
      return -1;
    if (req_one)
      return 0;
    pos = hole;
  }
  return 0;

 all_data:
  /* No hole information here: everything is data. */
  if (errno != EINVAL && errno != EOPNOTSUPP)
    nbdkit_debug ("sandbag: lseek: %s: %m", h->name);
  return nbdkit_add_extent (extents, pos, end - pos, 0);
}

static struct nbdkit_plugin plugin = {
  .name               = "sandbag",
  .longname           = "sandbag read-only image server",
  .version            = PACKAGE_VERSION,
  .unload             = sandbag_unload,
  .config             = sandbag_config,
  .config_complete    = sandbag_config_complete,
  .config_help        = sandbag_config_help,
  .magic_config_key   = "file",
  .get_ready          = sandbag_get_ready,
  .thread_model       = sandbag_thread_model,
  .list_exports       = sandbag_list_exports,
  .default_export     = sandbag_default_export,
  .open               = sandbag_open,
  .close              = sandbag_close,
  .export_description = sandbag_export_description,
  .get_size           = sandbag_get_size,
  .block_size         = sandbag_block_size,
  .can_write          = sandbag_can_write,
  .can_multi_conn     = sandbag_can_multi_conn,
  .can_extents        = sandbag_can_extents,
  .can_cache          = sandbag_can_cache,
  .is_rotational      = sandbag_is_rotational,
  .pread              = sandbag_pread,
  .cache              = sandbag_cache,
  .extents            = sandbag_extents,
  .errno_is_preserved = 1,
};

/* The one exported symbol (NBDKIT_REGISTER_PLUGIN defines it); declared
 * here for -Wmissing-prototypes. */
NBDKIT_DLL_PUBLIC struct nbdkit_plugin *plugin_init (void);
NBDKIT_REGISTER_PLUGIN (plugin)
