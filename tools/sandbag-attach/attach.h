/* sandbag-attach: making one version of a mount a block device, and
 * undoing it.
 *
 * A version is attached in its own directory (state.h): a relay
 * (nbdkit with the sandbag-relay plugin, nbdkit-sandbag-relay-plugin(1),
 * logging to syslog) serves it on a Unix socket there, and the kernel's NBD device is
 * attached to that socket with nbd-client, so that the kernel's
 * connections never leave the machine and the relay alone deals with
 * the Internet.  Where the kernel has no nbd module, nbdfuse exposes
 * the socket as a file and a read-only loop device is set up on it.
 *
 * The kernel's request timeout on the local connection is the relay's
 * give-up time plus a minute, so that the relay decides when a read
 * fails (with EIO), never the kernel.
 *
 * Every program is run with an argument vector (never a shell), and
 * every failure says which command failed and what it printed.
 */
#ifndef SANDBAG_ATTACH_ATTACH_H
#define SANDBAG_ATTACH_ATTACH_H

#include <stdbool.h>

#include <glib.h>

#include "state.h"
#include "version.h"

/* Whether the kernel has NBD devices (loading the module if need be). */
extern bool attach_kernel_has_nbd (void);

/* Attach version V of mount M (state in MOUNT_DIR).  Returns the block
 * device's path (g_free it), or NULL and *ERR; on failure nothing is
 * left running. */
extern char *attach_version (const struct mount_state *m,
                             const char *mount_dir,
                             const struct version_ident *v, GError **err);

/* The block device of version PINNED, or NULL if it has none. */
extern char *attached_device (const char *mount_dir, const char *pinned);

/* Whether the device of PINNED is in use (mounted, or open by anyone):
 * an exclusive open of it fails. */
extern bool attached_busy (const char *mount_dir, const char *pinned);

/* Detach version PINNED: disconnect the device, stop the relay, remove
 * its directory.  0, or -1 and *ERR (then as much as could be undone
 * is). */
extern int detach_version (const struct mount_state *m,
                           const char *mount_dir, const char *pinned,
                           GError **err);

/* Run ARGV, failing with its output in *ERR unless it exits 0. */
extern int run_command (const char *const *argv, GError **err);

#endif /* SANDBAG_ATTACH_ATTACH_H */
