/* Unit test: export names to image versions (plugins/sandbag/pinned.h):
 * a current-version link resolves to its pinned name, a pinned name
 * needs metadata that agrees with the image, and every way the layout
 * can be wrong or hostile is refused with a reason.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "imagedir.h"
#include "pinned.h"
#include "version.h"

static char *dir;
static int dirfd_;

#define SHA "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void
write_file (const char *name, const char *data)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);

  g_assert_true (g_file_set_contents (path, data, -1, NULL));
}

static void
make_link (const char *target, const char *name)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);

  g_assert_cmpint (symlink (target, path), ==, 0);
}

static void
write_meta (const char *name, const char *version, size_t size)
{
  g_autofree char *file = g_strdup_printf (".%s@%s.meta", name, version);
  g_autofree char *text =
    g_strdup_printf ("sandbag-version 1\nname %s\nversion %s\nsize %zu\n"
                     "sha256 " SHA "\npublished 1795966200\n",
                     name, version, size);

  write_file (file, text);
}

static void
setup (void)
{
  dir = g_dir_make_tmp ("sandbag-pinned-XXXXXX", NULL);
  g_assert_nonnull (dir);
  write_file ("vol@1", "version one");
  write_meta ("vol", "1", 11);
  write_file ("vol@2", "version two!");
  write_meta ("vol", "2", 12);
  make_link ("vol@2", "vol");
  write_file ("plain", "unversioned");
  make_link ("plain", "alias");               /* not a version link */
  write_file ("nometa@1", "x");
  write_file ("badsize@1", "xyz");
  write_meta ("badsize", "1", 99);
  write_file ("other@1", "abc");
  write_meta ("vol", "1", 3);                 /* overwritten below */
  write_meta ("vol", "1", 11);
  {
    g_autofree char *t = g_strdup_printf ("sandbag-version 1\nname vol\n"
                                          "version 1\nsize 3\nsha256 " SHA
                                          "\npublished 1\n");
    write_file (".other@1.meta", t);          /* names another version */
  }
  make_link ("vol@1", "linked@1");            /* a pinned name as a link */
  write_meta ("linked", "1", 11);
  make_link ("plain@1", "liar");              /* link to another NAME */
  write_file ("corrupt@1", "abc");
  write_file (".corrupt@1.meta", "sandbag-version 1\nname corrupt\n");
  dirfd_ = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  g_assert_cmpint (dirfd_, >=, 0);
  imagedir_init (dirfd_);
}

static void
teardown (void)
{
  g_autofree char *cmd = g_strdup_printf ("rm -rf '%s'", dir);

  close (dirfd_);
  g_assert_cmpint (system (cmd), ==, 0);
  g_clear_pointer (&dir, g_free);
}

/* Open NAME; it must give CONTENT, versioned as PINNED (or not, NULL). */
static void
assert_serves (const char *name, const char *content, const char *pinned)
{
  struct pinned_image img;
  const char *reason = NULL;
  char buf[64] = "";
  ssize_t n;

  if (pinned_open (dirfd_, name, &img, &reason) == -1)
    g_error ("%s refused: %s", name, reason ? reason : g_strerror (errno));
  n = pread (img.fd, buf, sizeof buf - 1, 0);
  g_assert_cmpint (n, ==, strlen (content));
  g_assert_cmpstr (buf, ==, content);
  close (img.fd);
  g_assert_cmpint (img.versioned, ==, pinned != NULL);
  if (pinned) {
    g_assert_cmpstr (img.pinned, ==, pinned);
    g_assert_cmpstr (img.meta.sha256, ==, SHA);
  }
}

static void
assert_refused (const char *name, const char *why)
{
  struct pinned_image img;
  const char *reason = NULL;

  if (pinned_open (dirfd_, name, &img, &reason) != -1)
    g_error ("%s was served", name);
  if (why && (reason == NULL || strcmp (reason, why) != 0))
    g_error ("%s: expected \"%s\", got \"%s\"", name, why,
             reason ? reason : g_strerror (errno));
}

static void
test_resolve (void)
{
  char pinned[VERSION_NAME_MAX + 1];

  setup ();
  g_assert_true (pinned_resolve (dirfd_, "vol", pinned));
  g_assert_cmpstr (pinned, ==, "vol@2");
  g_assert_true (pinned_resolve (dirfd_, "vol@1", pinned));
  g_assert_cmpstr (pinned, ==, "vol@1");
  g_assert_false (pinned_resolve (dirfd_, "plain", pinned));
  g_assert_false (pinned_resolve (dirfd_, "alias", pinned));
  g_assert_false (pinned_resolve (dirfd_, "liar", pinned));
  g_assert_false (pinned_resolve (dirfd_, "missing", pinned));
  teardown ();
}

static void
test_open (void)
{
  setup ();
  assert_serves ("vol", "version two!", "vol@2");
  assert_serves ("vol@1", "version one", "vol@1");
  assert_serves ("vol@2", "version two!", "vol@2");
  assert_serves ("plain", "unversioned", NULL);
  assert_serves ("alias", "unversioned", NULL);
  assert_refused ("vol@3", "no such file");
  assert_refused ("nometa@1", "version metadata missing or unreadable");
  assert_refused ("badsize@1", "version metadata gives another size");
  assert_refused ("other@1", "version metadata names another version");
  assert_refused ("linked@1", "symbolic link refused");
  assert_refused ("corrupt@1", "bad or missing version line");
  assert_refused ("vol@", "empty version");
  assert_refused ("vol@.x", NULL);
  /* A link to NAME@VERSION of another NAME is not a version link, and
   * it leads nowhere. */
  assert_refused ("liar", NULL);
  teardown ();
}

/* Republishing switches the link: a new open gets the new version. */
static void
test_switch (void)
{
  g_autofree char *link = NULL, *tmp = NULL;

  setup ();
  assert_serves ("vol", "version two!", "vol@2");
  link = g_build_filename (dir, "vol", NULL);
  tmp = g_build_filename (dir, ".vol.tmp", NULL);
  g_assert_cmpint (symlink ("vol@1", tmp), ==, 0);
  g_assert_cmpint (rename (tmp, link), ==, 0);
  assert_serves ("vol", "version one", "vol@1");
  teardown ();
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/sandbag/pinned/resolve", test_resolve);
  g_test_add_func ("/sandbag/pinned/open", test_open);
  g_test_add_func ("/sandbag/pinned/switch", test_switch);
  return g_test_run ();
}
