/* sandbag-attach: mount a volume from sandbag servers so that it
 * survives dropped connections, server restarts and new releases.  See
 * sandbag-attach.pod.
 *
 * Commands: mount (resolve the current pinned version, attach it
 * through a local relay, mount it read-only), update (move a mount to
 * the newest version: a fresh device and a remount, then detach the
 * old one once nothing uses it), status, detach.
 *
 * Exit codes: 0 done (update: also "already newest"), 1 usage error,
 * 2 failure.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "attach.h"
#include "duration.h"
#include "resolve.h"
#include "state.h"
#include "version.h"

static const char usage_text[] =
  "usage: sandbag-attach mount [OPTIONS] NAME MOUNTPOINT SERVER...\n"
  "       sandbag-attach update [OPTIONS] MOUNTPOINT\n"
  "       sandbag-attach status [OPTIONS] [MOUNTPOINT]\n"
  "       sandbag-attach detach [OPTIONS] MOUNTPOINT\n";

/* Options (see the man page). */
static char *opt_state_dir;
static gint opt_connections = 2;
static char *opt_give_up = (char *) "5m";
static char *opt_timeout = (char *) "10s";
static char *opt_drain = (char *) "10s";
static gboolean opt_fuse, opt_lazy;

static const GOptionEntry options[] = {
  { "state-dir", 0, 0, G_OPTION_ARG_FILENAME, &opt_state_dir,
    "Where mounts are remembered (default " STATE_DIR_DEFAULT ")", "DIR" },
  { "connections", 'C', 0, G_OPTION_ARG_INT, &opt_connections,
    "Connections per device, each with its own server connection "
    "(default 2)", "N" },
  { "give-up", 0, 0, G_OPTION_ARG_STRING, &opt_give_up,
    "Retry a read this long before EIO (default 5m)", "T" },
  { "timeout", 0, 0, G_OPTION_ARG_STRING, &opt_timeout,
    "Per server, when resolving the version (default 10s)", "T" },
  { "drain-timeout", 0, 0, G_OPTION_ARG_STRING, &opt_drain,
    "update: wait this long for the old version to be unused "
    "(default 10s)", "T" },
  { "fuse", 0, 0, G_OPTION_ARG_NONE, &opt_fuse,
    "Use nbdfuse and a loop device instead of the kernel's nbd", NULL },
  { "lazy", 0, 0, G_OPTION_ARG_NONE, &opt_lazy,
    "detach: unmount lazily even if the file system is busy", NULL },
  { NULL },
};

static int
usage_error (const char *msg)
{
  fprintf (stderr, "sandbag-attach: %s\n%s", msg, usage_text);
  return 1;
}

static int
failure (const GError *err)
{
  fprintf (stderr, "sandbag-attach: %s\n", err->message);
  return 2;
}

static const char *
state_dir (void)
{
  return opt_state_dir ? opt_state_dir : STATE_DIR_DEFAULT;
}

/* A duration option in ms, or -1 with a message. */
static int64_t
duration_option (const char *name, const char *value)
{
  uint64_t ms;

  switch (duration_parse_ms (value, &ms)) {
  case DURATION_OK:
    return ms;
  case DURATION_SYNTAX:
    fprintf (stderr, "sandbag-attach: --%s: " DURATION_SYNTAX_FMT "\n",
             name, value);
    return -1;
  default:
    fprintf (stderr, "sandbag-attach: --%s: " DURATION_TOO_LONG_FMT "\n",
             name, value);
    return -1;
  }
}

/* The absolute path of an existing directory, or NULL with a message. */
static char *
mountpoint_path (const char *arg)
{
  g_autofree char *path = realpath (arg, NULL);

  if (path == NULL || !g_file_test (path, G_FILE_TEST_IS_DIR)) {
    fprintf (stderr, "sandbag-attach: %s: not a directory\n", arg);
    return NULL;
  }
  return g_steal_pointer (&path);
}

static bool
is_mounted (const char *path)
{
  const char *const argv[] = { "mountpoint", "-q", path, NULL };

  return run_command (argv, NULL) == 0;
}

static int
mount_ro (const char *device, const char *path, GError **err)
{
  const char *const argv[] = { "mount", "-o", "ro,nodev,nosuid", device,
                               path, NULL };

  return run_command (argv, err);
}

/* Forget the mount whose state is in MOUNT_DIR. */
static int
remove_mount_dir (const char *mount_dir, GError **err)
{
  const char *const rm[] = { "rm", "-rf", "--", mount_dir, NULL };

  return run_command (rm, err);
}

/* Detach the draining versions of M that nothing uses any more. */
static void
reap_draining (struct mount_state *m, const char *mount_dir)
{
  guint i = 0;
  bool changed = false;

  while (i < m->draining->len) {
    const char *pinned = g_ptr_array_index (m->draining, i);
    g_autoptr (GError) err = NULL;

    if (!attached_busy (mount_dir, pinned) &&
        detach_version (m, mount_dir, pinned, &err) == 0) {
      printf ("detached %s\n", pinned);
      g_ptr_array_remove_index (m->draining, i);
      changed = true;
    }
    else
      i++;
  }
  if (changed) {
    g_autoptr (GError) err = NULL;

    if (state_save (mount_dir, m, &err) == -1)
      failure (err);
  }
}

static int
cmd_mount (int argc, char **argv)
{
  g_autoptr (GError) err = NULL;
  g_autofree char *mp = NULL, *mount_dir = NULL, *device = NULL;
  struct mount_state *m;
  int64_t give_up, timeout;
  int i, r = 2;

  if (argc < 4)
    return usage_error ("mount needs NAME, MOUNTPOINT and a SERVER");
  if (opt_connections < 1 || opt_connections > 16)
    return usage_error ("--connections must be from 1 to 16");
  give_up = duration_option ("give-up", opt_give_up);
  timeout = duration_option ("timeout", opt_timeout);
  if (give_up < 0 || timeout < 0 || (mp = mountpoint_path (argv[2])) == NULL)
    return 1;
  mount_dir = state_mount_dir (state_dir (), mp);
  if (g_file_test (mount_dir, G_FILE_TEST_EXISTS)) {
    fprintf (stderr, "sandbag-attach: %s is attached already (update or "
             "detach it)\n", mp);
    return 2;
  }
  m = g_new0 (struct mount_state, 1);
  m->mountpoint = g_strdup (mp);
  m->name = g_strdup (argv[1]);
  m->servers = g_ptr_array_new_with_free_func (g_free);
  m->draining = g_ptr_array_new_with_free_func (g_free);
  for (i = 3; i < argc; i++)
    g_ptr_array_add (m->servers, g_strdup (argv[i]));
  g_ptr_array_add (m->servers, NULL);
  m->connections = opt_connections;
  m->give_up_ms = give_up;
  m->fuse = opt_fuse || !attach_kernel_has_nbd ();
  if (m->fuse && !opt_fuse)
    fprintf (stderr, "sandbag-attach: no nbd module in this kernel: "
             "using nbdfuse and a loop device\n");

  if (resolve_version ((char *const *) m->servers->pdata, m->name, timeout,
                       &m->current, &err) == -1)
    goto out;
  g_ptr_array_remove_index (m->servers, m->servers->len - 1);
  if (state_save (mount_dir, m, &err) == -1)
    goto out;
  device = attach_version (m, mount_dir, &m->current, &err);
  if (device == NULL || mount_ro (device, mp, &err) == -1) {
    g_autoptr (GError) ignored = NULL;

    if (device)
      detach_version (m, mount_dir, m->current.pinned, &ignored);
    remove_mount_dir (mount_dir, NULL);
    goto out;
  }
  printf ("%s %s\n", m->current.pinned, device);
  r = 0;

 out:
  if (r)
    failure (err);
  mount_state_free (m);
  return r;
}

/* Load the mount at ARG, or NULL with a message. */
static struct mount_state *
load_mount (const char *arg, char **mount_dir)
{
  g_autoptr (GError) err = NULL;
  g_autofree char *mp = mountpoint_path (arg);
  struct mount_state *m;

  if (mp == NULL)
    return NULL;
  *mount_dir = state_mount_dir (state_dir (), mp);
  m = state_load (*mount_dir, &err);
  if (m == NULL) {
    if (g_error_matches (err, G_FILE_ERROR, G_FILE_ERROR_NOENT))
      fprintf (stderr, "sandbag-attach: %s is not attached\n", mp);
    else
      failure (err);
    return NULL;
  }
  return m;
}

/* Wait up to DRAIN_MS for PINNED to be unused, then detach it. */
static void
drain (struct mount_state *m, const char *mount_dir, int64_t drain_ms)
{
  int64_t until = g_get_monotonic_time () / 1000 + drain_ms;

  for (;;) {
    reap_draining (m, mount_dir);
    if (m->draining->len == 0)
      return;
    if (g_get_monotonic_time () / 1000 >= until)
      break;
    g_usleep (100000);
  }
  fprintf (stderr, "sandbag-attach: %u older version(s) still in use; "
           "detached by a later update, status or detach\n",
           m->draining->len);
}

static int
cmd_update (int argc, char **argv)
{
  g_autoptr (GError) err = NULL;
  g_autofree char *mount_dir = NULL, *device = NULL, *check = NULL;
  struct mount_state *m;
  struct version_ident newest;
  int64_t timeout, drain_ms;
  int r = 2;

  if (argc != 2)
    return usage_error ("update needs MOUNTPOINT");
  timeout = duration_option ("timeout", opt_timeout);
  drain_ms = duration_option ("drain-timeout", opt_drain);
  if (timeout < 0 || drain_ms < 0)
    return 1;
  m = load_mount (argv[1], &mount_dir);
  if (m == NULL)
    return 2;
  reap_draining (m, mount_dir);
  g_ptr_array_add (m->servers, NULL);
  if (resolve_version ((char *const *) m->servers->pdata, m->name, timeout,
                       &newest, &err) == -1)
    goto out;
  g_ptr_array_remove_index (m->servers, m->servers->len - 1);
  if (strcmp (newest.pinned, m->current.pinned) == 0) {
    printf ("%s is the newest version\n", newest.pinned);
    r = 0;
    goto out;
  }
  device = attach_version (m, mount_dir, &newest, &err);
  if (device == NULL)
    goto out;
  /* Make sure the new version mounts before touching the old mount. */
  check = g_build_filename (mount_dir, "check", NULL);
  g_mkdir (check, 0700);
  if (mount_ro (device, check, &err) == -1) {
    g_autoptr (GError) ignored = NULL;

    detach_version (m, mount_dir, newest.pinned, &ignored);
    goto out;
  }
  {
    const char *const umount_check[] = { "umount", check, NULL };
    const char *const umount_old[] = { "umount", "--lazy", m->mountpoint,
                                       NULL };

    if (run_command (umount_check, &err) == -1 ||
        run_command (umount_old, &err) == -1 ||
        mount_ro (device, m->mountpoint, &err) == -1)
      goto out;
  }
  g_ptr_array_add (m->draining, g_strdup (m->current.pinned));
  m->current = newest;
  if (state_save (mount_dir, m, &err) == -1)
    goto out;
  printf ("%s %s\n", newest.pinned, device);
  drain (m, mount_dir, drain_ms);
  r = 0;

 out:
  if (r)
    failure (err);
  mount_state_free (m);
  return r;
}

/* Print the status of the mount in MOUNT_DIR. */
static int
print_status (const char *mount_dir)
{
  g_autoptr (GError) err = NULL;
  struct mount_state *m = state_load (mount_dir, &err);
  g_autofree char *vdir = NULL, *status_path = NULL, *status = NULL;
  g_autofree char *device = NULL;
  guint i;

  if (m == NULL)
    return failure (err);
  reap_draining (m, mount_dir);
  vdir = state_version_dir (mount_dir, m->current.pinned);
  status_path = g_build_filename (vdir, "status", NULL);
  device = attached_device (mount_dir, m->current.pinned);
  printf ("mount %s\nname %s\ndevice %s\nmode %s\nmounted %s\n",
          m->mountpoint, m->name, device ? device : "none",
          m->fuse ? "fuse" : "nbd",
          is_mounted (m->mountpoint) ? "yes" : "no");
  for (i = 0; i < m->draining->len; i++)
    printf ("draining %s\n", (char *) g_ptr_array_index (m->draining, i));
  if (g_file_get_contents (status_path, &status, NULL, NULL))
    fputs (status, stdout);
  else
    printf ("pinned %s\nstate relay-not-running\n", m->current.pinned);
  mount_state_free (m);
  return 0;
}

static int
cmd_status (int argc, char **argv)
{
  g_auto (GStrv) dirs = NULL;
  g_autofree char *mount_dir = NULL;
  struct mount_state *m;
  int i, r = 0;

  if (argc > 2)
    return usage_error ("status takes at most one MOUNTPOINT");
  if (argc == 2) {
    m = load_mount (argv[1], &mount_dir);
    if (m == NULL)
      return 2;
    mount_state_free (m);
    return print_status (mount_dir);
  }
  dirs = state_list (state_dir ());
  for (i = 0; dirs[i]; i++) {
    if (i > 0)
      printf ("\n");
    r |= print_status (dirs[i]);
  }
  return r;
}

static int
cmd_detach (int argc, char **argv)
{
  g_autoptr (GError) err = NULL;
  g_autofree char *mount_dir = NULL;
  struct mount_state *m;
  int r = 2;

  if (argc != 2)
    return usage_error ("detach needs MOUNTPOINT");
  m = load_mount (argv[1], &mount_dir);
  if (m == NULL)
    return 2;
  if (is_mounted (m->mountpoint)) {
    const char *const umount[] = { "umount", m->mountpoint, NULL };
    const char *const umount_lazy[] = { "umount", "--lazy", m->mountpoint,
                                        NULL };

    if (run_command (opt_lazy ? umount_lazy : umount, &err) == -1) {
      fprintf (stderr, "sandbag-attach: %s is busy; close what uses it, "
               "or detach --lazy\n", m->mountpoint);
      goto out;
    }
  }
  g_ptr_array_add (m->draining, g_strdup (m->current.pinned));
  drain (m, mount_dir, duration_option ("drain-timeout", opt_drain));
  if (m->draining->len > 0) {
    g_set_error (&err, G_FILE_ERROR, G_FILE_ERROR_FAILED,
                 "%s: still in use; run detach again once it is not",
                 m->mountpoint);
    goto out;
  }
  if (remove_mount_dir (mount_dir, &err) == -1)
    goto out;
  r = 0;

 out:
  if (r && err)
    failure (err);
  mount_state_free (m);
  return r;
}

int
main (int argc, char *argv[])
{
  g_autoptr (GOptionContext) ctx = NULL;
  g_autoptr (GError) err = NULL;
  const char *command;

  ctx = g_option_context_new ("COMMAND ARGS...");
  g_option_context_set_summary (ctx, usage_text);
  g_option_context_add_main_entries (ctx, options, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &err))
    return usage_error (err->message);
  if (argc < 2)
    return usage_error ("no command given");
  command = argv[1];
  if (strcmp (command, "mount") == 0)
    return cmd_mount (argc - 1, argv + 1);
  if (strcmp (command, "update") == 0)
    return cmd_update (argc - 1, argv + 1);
  if (strcmp (command, "status") == 0)
    return cmd_status (argc - 1, argv + 1);
  if (strcmp (command, "detach") == 0)
    return cmd_detach (argc - 1, argv + 1);
  return usage_error ("unknown command");
}
