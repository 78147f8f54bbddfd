/* Unit test: opening images safely beneath a directory, with openat2
 * RESOLVE_BENEATH and with the fallback that follows no symbolic link
 * (plugins/sandbag/imagedir.h), and reading sidecar files.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "imagedir.h"

static char *root;              /* scratch directory, holds images/ */
static int dirfd_;              /* images/, as the plugin holds it */

static void
write_file (const char *rel, const char *data, size_t len)
{
  g_autofree char *path = g_build_filename (root, rel, NULL);
  g_autoptr (GError) err = NULL;

  g_assert_true (g_file_set_contents (path, data, len, &err));
}

static void
make_symlink (const char *target, const char *rel)
{
  g_autofree char *path = g_build_filename (root, rel, NULL);

  g_assert_cmpint (symlink (target, path), ==, 0);
}

static void
setup (void)
{
  g_autoptr (GError) err = NULL;
  g_autofree char *images = NULL, *fifo = NULL, *sock = NULL;
  g_autofree char *big = g_strnfill (1000, 'x');
  struct sockaddr_un sun = { .sun_family = AF_UNIX };
  int s;

  root = g_dir_make_tmp ("sandbag-imagedir-XXXXXX", &err);
  g_assert_nonnull (root);
  images = g_build_filename (root, "images", NULL);
  g_assert_cmpint (g_mkdir (images, 0755), ==, 0);
  write_file ("outside", "secret", 6);
  write_file ("images/good", "good data", 9);
  write_file ("images/.good.description", "  hello\n", 8);
  write_file ("images/.big.description", big, 1000);
  make_symlink ("good", "images/inside");
  make_symlink ("../images/good", "images/up-and-back");
  make_symlink ("/etc/passwd", "images/absolute");
  make_symlink ("../outside", "images/relative");
  make_symlink ("relative", "images/chained");
  make_symlink ("nowhere", "images/dangling");
  make_symlink ("good", "images/.linked.description");
  {
    g_autofree char *sub = g_build_filename (images, "subdir", NULL);
    g_assert_cmpint (g_mkdir (sub, 0755), ==, 0);
  }
  fifo = g_build_filename (images, "fifo", NULL);
  g_assert_cmpint (mkfifo (fifo, 0644), ==, 0);
  {
    g_autofree char *fd = g_build_filename (images, ".fifo.description",
                                            NULL);
    g_assert_cmpint (mkfifo (fd, 0644), ==, 0);
  }
  sock = g_build_filename (images, "socket", NULL);
  g_assert_cmpuint (strlen (sock), <, sizeof sun.sun_path);
  strcpy (sun.sun_path, sock);
  s = socket (AF_UNIX, SOCK_STREAM, 0);
  g_assert_cmpint (bind (s, (struct sockaddr *) &sun, sizeof sun), ==, 0);
  close (s);

  dirfd_ = open (images, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  g_assert_cmpint (dirfd_, >=, 0);
}

static void
teardown (void)
{
  g_autofree char *cmd = g_strdup_printf ("rm -rf '%s'", root);

  close (dirfd_);
  g_assert_cmpint (system (cmd), ==, 0);
  g_clear_pointer (&root, g_free);
}

static void
assert_opens (const char *name, const char *contents)
{
  const char *reason = NULL;
  char buf[64] = "";
  int fd, flags;

  fd = imagedir_open (dirfd_, name, IMAGEDIR_BENEATH, &reason);
  if (fd == -1)
    g_error ("%s: refused: %s: %s", name, reason, g_strerror (errno));
  g_assert_cmpint (read (fd, buf, sizeof buf - 1), ==, strlen (contents));
  g_assert_cmpstr (buf, ==, contents);
  flags = fcntl (fd, F_GETFL);
  g_assert_cmpint (flags & O_ACCMODE, ==, O_RDONLY);
  g_assert_cmpint (flags & O_NONBLOCK, ==, 0);
  g_assert_cmpint (fcntl (fd, F_GETFD) & FD_CLOEXEC, ==, FD_CLOEXEC);
  close (fd);
}

static void
assert_refused (const char *name, const char *expected)
{
  const char *reason = "unset";

  g_assert_cmpint (imagedir_open (dirfd_, name, IMAGEDIR_BENEATH, &reason), ==, -1);
  g_assert_cmpstr (reason, ==, expected);
}

static void
test_beneath (void)
{
  setup ();
  if (!imagedir_init (dirfd_)) {
    teardown ();
    g_test_skip ("openat2 RESOLVE_BENEATH not available here");
    return;
  }
  assert_opens ("good", "good data");
  assert_opens ("inside", "good data");
  /* Even a link that leaves and comes back is refused. */
  assert_refused ("up-and-back", "symbolic link leads outside the directory");
  assert_refused ("absolute", "symbolic link leads outside the directory");
  assert_refused ("relative", "symbolic link leads outside the directory");
  assert_refused ("chained", "symbolic link leads outside the directory");
  assert_refused ("dangling", "no such file");
  assert_refused ("missing", "no such file");
  assert_refused ("subdir", "not a regular file");
  assert_refused ("fifo", "not a regular file");
  assert_refused ("socket", "not a regular file");
  teardown ();
}

static void
test_fallback (void)
{
  setup ();
  imagedir_init (dirfd_);
  imagedir_set_openat2 (false);
  assert_opens ("good", "good data");
  /* No symbolic link at all is followed. */
  assert_refused ("inside", "symbolic link refused");
  assert_refused ("up-and-back", "symbolic link refused");
  assert_refused ("absolute", "symbolic link refused");
  assert_refused ("relative", "symbolic link refused");
  assert_refused ("dangling", "symbolic link refused");
  assert_refused ("missing", "no such file");
  assert_refused ("subdir", "not a regular file");
  assert_refused ("fifo", "not a regular file");
  assert_refused ("socket", "not a regular file");
  teardown ();
}

/* Read the description sidecar of NAME as the listing does. */
static ssize_t
read_description (int dirfd, const char *name, char *buf)
{
  return imagedir_read_sidecar (dirfd, name, "description",
                                IMAGEDIR_BENEATH, buf,
                                IMAGEDIR_SIDECAR_MAX);
}

static void
test_sidecar (void)
{
  char buf[IMAGEDIR_SIDECAR_MAX + 1];

  setup ();
  imagedir_init (dirfd_);
  g_assert_cmpint (read_description (dirfd_, "good", buf), ==, 8);
  g_assert_cmpstr (buf, ==, "  hello\n");
  g_assert_cmpint (read_description (dirfd_, "big", buf), ==,
                   IMAGEDIR_SIDECAR_MAX);
  g_assert_cmpuint (strlen (buf), ==, IMAGEDIR_SIDECAR_MAX);
  g_assert_cmpint (read_description (dirfd_, "none", buf), ==, -1);
  g_assert_cmpstr (buf, ==, "");
  /* A FIFO sidecar is skipped, not waited on. */
  g_assert_cmpint (read_description (dirfd_, "fifo", buf), ==, -1);
  /* No directory: no sidecar, no error. */
  g_assert_cmpint (read_description (-1, "good", buf), ==, -1);
  teardown ();
}

static void
test_unconfined (void)
{
  g_autofree char *path = NULL;
  const char *reason;
  int fd;

  setup ();
  imagedir_init (dirfd_);
  /* file= mode: the administrator's path, symbolic links followed. */
  path = g_build_filename (root, "images", "inside", NULL);
  fd = imagedir_open (AT_FDCWD, path, IMAGEDIR_ANY_PATH, &reason);
  g_assert_cmpint (fd, >=, 0);
  close (fd);
  g_free (path);
  path = g_build_filename (root, "images", "fifo", NULL);
  g_assert_cmpint (imagedir_open (AT_FDCWD, path, IMAGEDIR_ANY_PATH, &reason), ==, -1);
  g_assert_cmpstr (reason, ==, "not a regular file");
  teardown ();
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/sandbag/imagedir/beneath", test_beneath);
  g_test_add_func ("/sandbag/imagedir/fallback", test_fallback);
  g_test_add_func ("/sandbag/imagedir/sidecar", test_sidecar);
  g_test_add_func ("/sandbag/imagedir/unconfined", test_unconfined);
  return g_test_run ();
}
