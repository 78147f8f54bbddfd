/* Unit test: files never seen half-written (filters/common/
 * atomic-file.c): replacement leaves no temporary file and keeps the
 * old content on failure, renaming aside never replaces a file,
 * bounded reads refuse what is too large or not a regular file, and
 * errors name the call, the file and errno's reason.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "atomic-file.h"

static char *dir;

static gint
compare_names (gconstpointer a, gconstpointer b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

/* The names in DIR, sorted and joined by spaces. */
static char *
listing (void)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  const char *n;

  while ((n = g_dir_read_name (d)) != NULL)
    g_ptr_array_add (names, g_strdup (n));
  g_ptr_array_sort (names, compare_names);
  g_ptr_array_add (names, NULL);
  return g_strjoinv (" ", (char **) names->pdata);
}

static char *
path_of (const char *name)
{
  return g_build_filename (dir, name, NULL);
}

static void
test_replace (void)
{
  g_autofree char *p = path_of ("state");
  g_autofree char *content = NULL;
  g_autofree char *names = NULL;
  g_autoptr (GError) err = NULL;
  struct stat st;

  g_assert_cmpint (atomic_file_replace (p, "one", 3, 0600, true, &err),
                   ==, 0);
  g_assert_cmpint (atomic_file_replace (p, "two!", 4, 0600, false, &err),
                   ==, 0);
  g_assert_true (g_file_get_contents (p, &content, NULL, NULL));
  g_assert_cmpstr (content, ==, "two!");
  g_assert_cmpint (stat (p, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);
  names = listing ();
  g_assert_cmpstr (names, ==, "state");
  g_unlink (p);
}

static void
test_abort_keeps_old (void)
{
  g_autofree char *p = path_of ("kept");
  g_autofree char *content = NULL;
  g_autofree char *names = NULL;
  g_autoptr (GError) err = NULL;
  struct atomic_file f;

  g_assert_cmpint (atomic_file_replace (p, "old", 3, 0644, true, &err),
                   ==, 0);
  g_assert_cmpint (atomic_file_begin (&f, p, 0644, &err), ==, 0);
  /* The temporary file is hidden and next to its target. */
  g_assert_true (g_str_has_prefix (f.tmp_path, dir));
  g_assert_nonnull (strstr (f.tmp_path, "/.kept.tmp."));
  g_assert_cmpint (write (f.fd, "new", 3), ==, 3);
  atomic_file_abort (&f);
  g_assert_true (g_file_get_contents (p, &content, NULL, NULL));
  g_assert_cmpstr (content, ==, "old");
  names = listing ();
  g_assert_cmpstr (names, ==, "kept");
  g_unlink (p);
}

static void
test_failed_rename (void)
{
  g_autofree char *p = path_of ("adir");
  g_autofree char *names = NULL;
  g_autoptr (GError) err = NULL;

  /* A directory in the way: the rename fails, nothing is left over. */
  g_assert_cmpint (g_mkdir (p, 0755), ==, 0);
  g_assert_cmpint (atomic_file_replace (p, "x", 1, 0644, true, &err),
                   ==, -1);
  g_assert_nonnull (err);
  g_assert_nonnull (strstr (err->message, p));
  names = listing ();
  g_assert_cmpstr (names, ==, "adir");
  g_rmdir (p);
}

static void
test_commit_new (void)
{
  g_autofree char *p = path_of ("once");
  g_autofree char *content = NULL;
  g_autofree char *names = NULL;
  g_autoptr (GError) err = NULL;
  struct atomic_file f;

  g_assert_cmpint (atomic_file_begin (&f, p, 0444, &err), ==, 0);
  g_assert_cmpint (write (f.fd, "first", 5), ==, 5);
  g_assert_cmpint (atomic_file_commit_new (&f, true, &err), ==, 0);
  /* A second file for the same name is refused; the first stays. */
  g_assert_cmpint (atomic_file_begin (&f, p, 0444, &err), ==, 0);
  g_assert_cmpint (write (f.fd, "second", 6), ==, 6);
  g_assert_cmpint (atomic_file_commit_new (&f, true, &err), ==, -1);
  g_assert_true (g_error_matches (err, G_FILE_ERROR, G_FILE_ERROR_EXIST));
  g_assert_true (g_file_get_contents (p, &content, NULL, NULL));
  g_assert_cmpstr (content, ==, "first");
  names = listing ();
  g_assert_cmpstr (names, ==, "once");
  g_unlink (p);
}

static void
test_rename_aside (void)
{
  g_autofree char *p = path_of ("map");
  g_autofree char *names = NULL;
  g_autoptr (GError) err = NULL;
  int i;

  for (i = 0; i < 3; i++) {
    g_autofree char *to = NULL;
    g_autofree char *content = NULL;
    g_autofree char *want = g_strdup_printf ("v%d", i);

    g_assert_true (g_file_set_contents (p, want, -1, NULL));
    to = file_rename_aside (p, "bad-7", &err);
    g_assert_no_error (err);
    g_assert_true (g_file_get_contents (to, &content, NULL, NULL));
    g_assert_cmpstr (content, ==, want);
  }
  names = listing ();
  g_assert_cmpstr (names, ==, "map.bad-7 map.bad-7.1 map.bad-7.2");
  /* Nothing to rename is an error naming the file. */
  g_assert_null (file_rename_aside (p, "bad-7", &err));
  g_assert_true (g_error_matches (err, G_FILE_ERROR, G_FILE_ERROR_NOENT));
  for (i = 0; i < 3; i++) {
    g_autofree char *n = i == 0 ? path_of ("map.bad-7")
      : g_strdup_printf ("%s/map.bad-7.%d", dir, i);
    g_unlink (n);
  }
}

static void
test_read_bounded (void)
{
  g_autofree char *p = path_of ("small");
  g_autoptr (GError) err = NULL;
  uint8_t *buf = NULL;
  size_t len = 0;

  g_assert_true (g_file_set_contents (p, "12345", 5, NULL));
  g_assert_cmpint (file_read_bounded (p, 5, &buf, &len, &err), ==, 0);
  g_assert_cmpuint (len, ==, 5);
  g_assert_cmpstr ((char *) buf, ==, "12345");
  g_free (buf);
  g_assert_cmpint (file_read_bounded (p, 4, &buf, &len, &err), ==, -1);
  g_assert_nonnull (strstr (err->message, "larger than 4 bytes"));
  g_clear_error (&err);
  g_assert_cmpint (file_read_bounded (dir, 100, &buf, &len, &err), ==, -1);
  g_assert_nonnull (strstr (err->message, "not a regular file"));
  g_clear_error (&err);
  g_unlink (p);
  g_assert_cmpint (file_read_bounded (p, 100, &buf, &len, &err), ==, -1);
  g_assert_true (g_error_matches (err, G_FILE_ERROR, G_FILE_ERROR_NOENT));
}

/* Errors for a caller's own file I/O: the errno's code and text, after
 * the call and file named by the caller. */
static void
test_set_error (void)
{
  g_autoptr (GError) err = NULL;

  file_set_error (&err, ENOSPC, "allocate %d bytes: %s", 42, "/x/y");
  g_assert_true (g_error_matches (err, G_FILE_ERROR, G_FILE_ERROR_NOSPC));
  g_assert_cmpstr (err->message, ==, "allocate 42 bytes: /x/y: "
                   "No space left on device");
  /* A caller that does not want the error may pass NULL. */
  file_set_error (NULL, EIO, "read %s", "/x/y");
}

int
main (int argc, char *argv[])
{
  int r;

  g_test_init (&argc, &argv, NULL);
  dir = g_dir_make_tmp ("unit-atomic-XXXXXX", NULL);
  g_assert_nonnull (dir);
  g_test_add_func ("/common/atomic-file/replace", test_replace);
  g_test_add_func ("/common/atomic-file/abort", test_abort_keeps_old);
  g_test_add_func ("/common/atomic-file/failed-rename", test_failed_rename);
  g_test_add_func ("/common/atomic-file/commit-new", test_commit_new);
  g_test_add_func ("/common/atomic-file/rename-aside", test_rename_aside);
  g_test_add_func ("/common/atomic-file/read-bounded", test_read_bounded);
  g_test_add_func ("/common/atomic-file/set-error", test_set_error);
  r = g_test_run ();
  g_rmdir (dir);
  g_free (dir);
  return r;
}
