/* sandbag-attach: what it remembers about each mount, in a state
 * directory (default /run/sandbag-attach; it is gone after a reboot,
 * as the mounts are).
 *
 * STATE/MOUNT-ID/ holds, for the mount point whose absolute path
 * escapes to MOUNT-ID:
 *   mount           the mount's settings (KEY VALUE lines, below);
 *   PINNED/         one directory per version attached: the relay's
 *                   socket, pid file and status file, and the device.
 * The mount file is written atomically; it is read back strictly (it
 * is root's own file, but a corrupt one must give a clear error, not a
 * crash).
 */
#ifndef SANDBAG_ATTACH_STATE_H
#define SANDBAG_ATTACH_STATE_H

#include <stdbool.h>
#include <stdint.h>

#include <glib.h>

#include "version.h"

#define STATE_DIR_DEFAULT "/run/sandbag-attach"
#define STATE_MAX_VERSIONS 8      /* current plus draining ones */

struct mount_state {
  char *mountpoint;               /* absolute */
  char *name;                     /* as the user gave it */
  GPtrArray *servers;             /* char * */
  unsigned connections;           /* per device */
  uint64_t give_up_ms;
  bool fuse;                      /* nbdfuse + loop instead of nbd.ko */
  struct version_ident current;   /* the version mounted now */
  GPtrArray *draining;            /* char *: pinned names being retired */
};

/* The directory for MOUNTPOINT (g_free it). */
extern char *state_mount_dir (const char *state_dir, const char *mountpoint);

/* The directory for version PINNED of the mount in MOUNT_DIR. */
extern char *state_version_dir (const char *mount_dir, const char *pinned);

extern void mount_state_free (struct mount_state *m);

/* Write M to MOUNT_DIR/mount.  0, or -1 and *ERR. */
extern int state_save (const char *mount_dir, const struct mount_state *m,
                       GError **err);

/* Read MOUNT_DIR/mount.  NULL and *ERR (G_FILE_ERROR_NOENT if there is
 * no such mount). */
extern struct mount_state *state_load (const char *mount_dir, GError **err);

/* The mount file's format, one KEY VALUE line each:
 *   sandbag-attach 1
 *   mountpoint PATH
 *   name NAME
 *   server URI            (one line per server, at least one)
 *   connections N
 *   give-up-ms N
 *   mode nbd|fuse
 *   pinned NAME@VERSION
 *   size BYTES
 *   sha256 HEX
 *   draining NAME@VERSION (zero or more)
 */

/* The mount directories under STATE_DIR (g_strfreev them). */
extern char **state_list (const char *state_dir);

#endif /* SANDBAG_ATTACH_STATE_H */
