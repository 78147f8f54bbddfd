/* sandbag-attach: attaching and detaching versions (see attach.h). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "attach.h"
#include "state.h"
#include "version.h"

/* How long after starting a relay or nbdfuse its socket or file must
 * appear. */
#define READY_TIMEOUT_MS 10000

/* In a child, before exec: standard error appended to the file LOG. */
static void
stderr_to_log (gpointer log)
{
  int fd = open (log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);

  if (fd >= 0)
    dup2 (fd, STDERR_FILENO);
}

/* Run ARGV; with LOG, its standard error goes there, not into *ERR. */
static int
run_logged (const char *const *argv, const char *log, GError **err)
{
  g_autofree char *out = NULL, *errout = NULL, *cmd = NULL;
  g_autoptr (GError) spawn_err = NULL;
  int status;

  if (!g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH,
                     log ? stderr_to_log : NULL, (gpointer) log, &out,
                     &errout, &status, &spawn_err)) {
    g_set_error (err, G_SPAWN_ERROR, spawn_err->code, "%s",
                 spawn_err->message);
    return -1;
  }
  if (g_spawn_check_wait_status (status, NULL))
    return 0;
  cmd = g_strjoinv (" ", (char **) argv);
  g_set_error (err, G_SPAWN_ERROR, G_SPAWN_ERROR_FAILED, "%s failed: %s%s",
               cmd, errout ? g_strstrip (errout) : "", g_strstrip (out));
  return -1;
}

int
run_command (const char *const *argv, GError **err)
{
  return run_logged (argv, NULL, err);
}

/* Wait until PATH exists (as a socket or regular file). */
static bool
wait_for_path (const char *path)
{
  int i;

  for (i = 0; i < READY_TIMEOUT_MS / 20; i++) {
    if (g_file_test (path, G_FILE_TEST_EXISTS))
      return true;
    g_usleep (20000);
  }
  return false;
}

/* The pid in PIDFILE, or 0. */
static pid_t
read_pid (const char *pidfile)
{
  g_autofree char *text = NULL;
  uint64_t pid;

  if (!g_file_get_contents (pidfile, &text, NULL, NULL) ||
      !g_ascii_string_to_unsigned (g_strstrip (text), 10, 2, INT32_MAX,
                                   &pid, NULL))
    return 0;
  return pid;
}

/* SIGTERM the process in PIDFILE and wait (10 s at most) for it. */
static void
stop_pidfile (const char *pidfile)
{
  pid_t pid = read_pid (pidfile);
  int i;

  if (pid == 0 || kill (pid, SIGTERM) == -1)
    return;
  for (i = 0; i < 500 && kill (pid, 0) == 0; i++)
    g_usleep (20000);
  if (kill (pid, 0) == 0)
    kill (pid, SIGKILL);
}

/* Start the relay for V in DIR.  nbdkit forks into the background
 * once it listens (it logs to syslog).  Its own daemon mode matters:
 * nbdkit 1.32 always asks the kernel for SIGTERM when its parent dies
 * (PR_SET_PDEATHSIG, even without --exit-with-parent), and only its
 * fork into the background clears that. */
static int
start_relay (const struct mount_state *m, const char *dir,
             const struct version_ident *v, GError **err)
{
  g_autofree char *sock = g_build_filename (dir, "relay.sock", NULL);
  g_autofree char *pidfile = g_build_filename (dir, "relay.pid", NULL);
  g_autofree char *status = g_build_filename (dir, "status", NULL);
  g_autoptr (GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  const char *plugin = g_getenv ("SANDBAG_RELAY_PLUGIN");
  const char *log = g_getenv ("SANDBAG_ATTACH_RELAY_LOG");
  guint i;

  g_ptr_array_add (argv, g_strdup ("nbdkit"));
  g_ptr_array_add (argv, g_strdup ("-U"));
  g_ptr_array_add (argv, g_strdup (sock));
  g_ptr_array_add (argv, g_strdup ("-P"));
  g_ptr_array_add (argv, g_strdup (pidfile));
  /* For debugging: SANDBAG_ATTACH_RELAY_LOG=FILE makes the relay
   * verbose and logs it there (nbdkit's daemon keeps standard error
   * only when verbose). */
  if (log)
    g_ptr_array_add (argv, g_strdup ("-v"));
  g_ptr_array_add (argv, g_strdup (log ? "--log=stderr" : "--log=syslog"));
  g_ptr_array_add (argv, g_strdup (plugin ? plugin : "sandbag-relay"));
  for (i = 0; i < m->servers->len; i++)
    g_ptr_array_add (argv, g_strdup_printf ("server=%s",
                     (char *) g_ptr_array_index (m->servers, i)));
  g_ptr_array_add (argv, g_strdup_printf ("export=%s", v->pinned));
  g_ptr_array_add (argv, g_strdup_printf ("size=%" PRIu64, v->size));
  g_ptr_array_add (argv, g_strdup_printf ("sha256=%s", v->sha256));
  g_ptr_array_add (argv, g_strdup_printf ("give-up=%" PRIu64 "ms",
                                          m->give_up_ms));
  g_ptr_array_add (argv, g_strdup_printf ("status=%s", status));
  g_ptr_array_add (argv, NULL);

  if (run_logged ((const char *const *) argv->pdata, log, err) == -1)
    return -1;
  /* The socket is there before nbdkit forks; the pid file after. */
  if (!wait_for_path (pidfile)) {
    g_set_error (err, G_FILE_ERROR, G_FILE_ERROR_FAILED,
                 "the relay did not start (see the system log)");
    return -1;
  }
  return 0;
}

bool
attach_kernel_has_nbd (void)
{
  const char *const modprobe[] = { "modprobe", "nbd", NULL };

  if (g_file_test ("/sys/block/nbd0", G_FILE_TEST_EXISTS))
    return true;
  run_command (modprobe, NULL);
  return g_file_test ("/sys/block/nbd0", G_FILE_TEST_EXISTS);
}

/* Whether /dev/nbdN is free: no size, no client. */
static bool
nbd_free (unsigned n)
{
  g_autofree char *size = g_strdup_printf ("/sys/block/nbd%u/size", n);
  g_autofree char *pid = g_strdup_printf ("/sys/block/nbd%u/pid", n);
  g_autofree char *text = NULL;

  return g_file_get_contents (size, &text, NULL, NULL) &&
    strtoull (text, NULL, 10) == 0 && !g_file_test (pid, G_FILE_TEST_EXISTS);
}

/* Attach a free /dev/nbdN to the relay in DIR. */
static char *
attach_nbd (const struct mount_state *m, const char *dir,
            const struct version_ident *v, GError **err)
{
  g_autofree char *sock = g_build_filename (dir, "relay.sock", NULL);
  g_autofree char *timeout = g_strdup_printf ("%" PRIu64,
                                              m->give_up_ms / 1000 + 60);
  g_autofree char *conns = g_strdup_printf ("%u", m->connections);
  unsigned n;

  for (n = 0; n < 256; n++) {
    g_autofree char *dev = g_strdup_printf ("/dev/nbd%u", n);
    g_autofree char *sys = g_strdup_printf ("/sys/block/nbd%u", n);
    const char *const argv[] = {
      "nbd-client", "-unix", sock, dev, "-name", v->pinned,
      "-connections", conns, "-timeout", timeout, "-block-size", "4096",
      "-readonly", NULL
    };
    g_autoptr (GError) e = NULL;

    if (!g_file_test (sys, G_FILE_TEST_EXISTS))
      break;
    if (!nbd_free (n))
      continue;
    if (run_command (argv, &e) == 0)
      return g_steal_pointer (&dev);
    /* Another attach may have taken it meanwhile: try the next. */
    if (nbd_free (n)) {
      g_propagate_error (err, g_steal_pointer (&e));
      return NULL;
    }
  }
  g_set_error (err, G_FILE_ERROR, G_FILE_ERROR_NOSPC,
               "no free /dev/nbdN device (load nbd with a larger nbds_max)");
  return NULL;
}

/* Expose the relay in DIR with nbdfuse and set up a loop device. */
static char *
attach_fuse (const struct mount_state *m, const char *dir, GError **err)
{
  g_autofree char *sock = g_build_filename (dir, "relay.sock", NULL);
  g_autofree char *fusedir = g_build_filename (dir, "fuse", NULL);
  g_autofree char *file = g_build_filename (fusedir, "disk", NULL);
  g_autofree char *pidfile = g_build_filename (dir, "nbdfuse.pid", NULL);
  g_autofree char *conns = g_strdup_printf ("%u", m->connections);
  g_autofree char *out = NULL;
  const char *const fuse[] = {
    "nbdfuse", "-r", "-C", conns, "-P", pidfile, file, "--unix", sock, NULL
  };
  const char *losetup[] = {
    "losetup", "--find", "--show", "--read-only", file, NULL
  };
  GPid pid;
  int status;

  if (g_mkdir (fusedir, 0700) == -1 && errno != EEXIST) {
    g_set_error (err, G_FILE_ERROR, g_file_error_from_errno (errno),
                 "%s: %s", fusedir, g_strerror (errno));
    return NULL;
  }
  /* nbdfuse stays in the foreground: detached from our standard
   * streams, so that nobody waits for it to close them. */
  if (!g_spawn_async (NULL, (char **) fuse, NULL,
                      G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL |
                      G_SPAWN_STDERR_TO_DEV_NULL |
                      G_SPAWN_STDIN_FROM_DEV_NULL,
                      NULL, NULL, &pid, err))
    return NULL;
  if (!wait_for_path (file)) {
    g_set_error (err, G_FILE_ERROR, G_FILE_ERROR_FAILED,
                 "nbdfuse did not expose %s", file);
    kill (pid, SIGTERM);
    return NULL;
  }
  if (!g_spawn_sync (NULL, (char **) losetup, NULL, G_SPAWN_SEARCH_PATH,
                     NULL, NULL, &out, NULL, &status, err) ||
      !g_spawn_check_wait_status (status, err))
    return NULL;
  return g_strdup (g_strstrip (out));
}

/* Record DEVICE as the device of the version in DIR. */
static int
record_device (const char *dir, const char *device, GError **err)
{
  g_autofree char *path = g_build_filename (dir, "device", NULL);

  return g_file_set_contents (path, device, -1, err) ? 0 : -1;
}

char *
attach_version (const struct mount_state *m, const char *mount_dir,
                const struct version_ident *v, GError **err)
{
  g_autofree char *dir = state_version_dir (mount_dir, v->pinned);
  g_autofree char *device = NULL;

  if (g_mkdir_with_parents (dir, 0700) == -1) {
    g_set_error (err, G_FILE_ERROR, g_file_error_from_errno (errno),
                 "%s: %s", dir, g_strerror (errno));
    return NULL;
  }
  if (start_relay (m, dir, v, err) == -1)
    goto fail;
  device = m->fuse ? attach_fuse (m, dir, err) : attach_nbd (m, dir, v, err);
  if (device == NULL || record_device (dir, device, err) == -1)
    goto fail;
  return g_steal_pointer (&device);

 fail:
  {
    g_autoptr (GError) ignored = NULL;

    detach_version (m, mount_dir, v->pinned, &ignored);
  }
  return NULL;
}

char *
attached_device (const char *mount_dir, const char *pinned)
{
  g_autofree char *dir = state_version_dir (mount_dir, pinned);
  g_autofree char *path = g_build_filename (dir, "device", NULL);
  char *device = NULL;

  if (!g_file_get_contents (path, &device, NULL, NULL))
    return NULL;
  return device;
}

bool
attached_busy (const char *mount_dir, const char *pinned)
{
  g_autofree char *device = attached_device (mount_dir, pinned);
  int fd;

  if (device == NULL)
    return false;
  fd = open (device, O_RDONLY | O_EXCL | O_CLOEXEC);
  if (fd == -1)
    return errno == EBUSY;
  close (fd);
  return false;
}

int
detach_version (const struct mount_state *m, const char *mount_dir,
                const char *pinned, GError **err)
{
  g_autofree char *dir = state_version_dir (mount_dir, pinned);
  g_autofree char *device = attached_device (mount_dir, pinned);
  g_autofree char *relay_pid = g_build_filename (dir, "relay.pid", NULL);
  g_autofree char *fuse_pid = g_build_filename (dir, "nbdfuse.pid", NULL);
  g_autofree char *fusedir = g_build_filename (dir, "fuse", NULL);
  g_autofree char *rm = NULL;
  int r = 0;

  if (device && g_str_has_prefix (device, "/dev/nbd")) {
    const char *const argv[] = { "nbd-client", "-d", device, NULL };

    r = run_command (argv, err);
  }
  else if (device) {
    const char *const argv[] = { "losetup", "-d", device, NULL };

    r = run_command (argv, err);
  }
  if (g_file_test (fuse_pid, G_FILE_TEST_EXISTS)) {
    const char *const argv[] = { "fusermount3", "-u", fusedir, NULL };

    if (run_command (argv, NULL) == -1)
      stop_pidfile (fuse_pid);
  }
  stop_pidfile (relay_pid);
  if (r == 0) {
    const char *const argv[] = { "rm", "-rf", "--", dir, NULL };

    r = run_command (argv, err);
  }
  return r;
}
