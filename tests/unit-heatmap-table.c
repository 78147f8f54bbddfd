/* Unit test: the filter's table of open maps (filters/heatmap/
 * map-table.h) on real files in a scratch directory: creation, reuse,
 * persistence, a new image version, bad files renamed aside, a map
 * that cannot be created, and no msync with the table's lock held.
 *
 * map-table.c is compiled into this file (not linked) so that the
 * msync below can see the table's static lock.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "map-account.h"
#include "map-table.c"
#include "nbdkit-shim.h"

/* msync calls, and those made while the table's lock was held. */
static unsigned msyncs, msyncs_locked;

/* Whether the table's lock is held (by another thread than this one). */
static gpointer
table_lock_held (gpointer unused)
{
  if (!g_mutex_trylock (&lock))
    return GINT_TO_POINTER (1);
  g_mutex_unlock (&lock);
  return GINT_TO_POINTER (0);
}

/* Every msync of the code under test comes here (this definition
 * comes first in the link): count it, note whether it was made with
 * the table's lock held, and do it. */
int
msync (void *addr, size_t len, int flags)
{
  msyncs++;
  if (g_thread_join (g_thread_new ("lock-probe", table_lock_held, NULL)))
    msyncs_locked++;
  return syscall (SYS_msync, addr, len, flags);
}

static const uint8_t id_a[HM_IDENTITY_LEN] = { 0xaa };
static const uint8_t id_b[HM_IDENTITY_LEN] = { 0xbb };
static char *dir;

/* Number of directory entries whose names start with PREFIX. */
static int
count_files (const char *prefix)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  const char *name;
  int n = 0;

  while ((name = g_dir_read_name (d)) != NULL)
    if (g_str_has_prefix (name, prefix))
      n++;
  return n;
}

static char *
path_of (const char *name)
{
  return g_build_filename (dir, name, NULL);
}

static void
test_create_and_reuse (void)
{
  g_autofree char *p = path_of ("reuse.heatmap");
  struct hm_map *m1, *m2;

  m1 = hm_table_acquire (p, 12, 10000, id_a, "size=10000", "x");
  g_assert_nonnull (m1);
  g_assert_true (g_file_test (p, G_FILE_TEST_IS_REGULAR));
  g_assert_cmpuint (m1->m.hdr.nr_heat_blocks, ==, 3);
  m2 = hm_table_acquire (p, 12, 10000, id_a, "size=10000", "x");
  g_assert_true (m1 == m2);
  g_assert_cmpuint (m1->refs, ==, 2);
  hm_table_release (m1);
  hm_table_release (m2);
  /* A current map stays open with no users, for the next connection. */
  g_assert_cmpuint (hm_table_count (), ==, 1);
  hm_table_close_all ();
  g_assert_cmpuint (hm_table_count (), ==, 0);
}

static void
test_persistence (void)
{
  g_autofree char *p = path_of ("persist.heatmap");
  struct hm_map *m;

  m = hm_table_acquire (p, 12, 10000, id_a, "", "");
  hm_account (m->m.recs, m->m.hdr.nr_heat_blocks, 12, 4000, 200, 123);
  hm_table_release (m);
  hm_table_close_all ();

  m = hm_table_acquire (p, 12, 10000, id_a, "", "");
  g_assert_cmpuint (m->m.recs[0].count, ==, 1);
  g_assert_cmpuint (m->m.recs[1].count, ==, 1);
  g_assert_cmpuint (m->m.recs[1].bytes, ==, 104);
  g_assert_cmpuint (m->m.recs[1].first_us, ==, 123);
  hm_table_release (m);
  hm_table_close_all ();
}

static void
test_new_version (void)
{
  g_autofree char *p = path_of ("ver.heatmap");
  struct hm_map *old, *new, *again;

  old = hm_table_acquire (p, 12, 10000, id_a, "", "");
  hm_account (old->m.recs, 3, 12, 0, 1, 5);
  new = hm_table_acquire (p, 12, 10000, id_b, "", "");
  g_assert_nonnull (new);
  g_assert_true (old != new);
  g_assert_cmpuint (new->m.recs[0].count, ==, 0);
  /* The old map was renamed aside and is still counted into. */
  g_assert_cmpint (count_files ("ver.heatmap."), ==, 1);
  g_assert_true (g_str_has_prefix (old->path, p));
  g_assert_nonnull (strstr (old->path, "-aa0000000000"));
  hm_account (old->m.recs, 3, 12, 0, 1, 6);
  /* Another connection of the old version gets the old map. */
  again = hm_table_acquire (p, 12, 10000, id_a, "", "");
  g_assert_true (again == old);
  hm_table_release (again);
  g_assert_cmpuint (hm_table_count (), ==, 2);
  hm_table_release (old);
  /* Retired and unused: closed. */
  g_assert_cmpuint (hm_table_count (), ==, 1);
  hm_table_release (new);
  hm_table_close_all ();

  /* A changed heat block size is a new layout too: the map of id_b is kept
   * aside and a new one is made. */
  new = hm_table_acquire (p, 13, 10000, id_b, "", "");
  g_assert_cmpuint (new->m.hdr.heat_block_shift, ==, 13);
  g_assert_cmpint (count_files ("ver.heatmap."), ==, 2);
  hm_table_release (new);
  hm_table_close_all ();
}

/* Write LEN bytes of DATA as PATH. */
static void
put_file (const char *path, const void *data, size_t len)
{
  g_assert_true (g_file_set_contents (path, data, len, NULL));
}

static void
check_renamed_aside (const char *name, const char *status)
{
  g_autofree char *p = path_of (name);
  g_autofree char *prefix = g_strdup_printf ("%s.%s-", name, status);
  struct hm_map *m;

  shim_clear_error ();
  m = hm_table_acquire (p, 12, 10000, id_a, "", "");
  g_assert_nonnull (m);
  g_assert_nonnull (strstr (shim_last_error (), status));
  g_assert_nonnull (strstr (shim_last_error (), "renamed it to"));
  g_assert_cmpint (count_files (prefix), ==, 1);
  hm_table_release (m);
  hm_table_close_all ();
}

static void
test_foreign (void)
{
  g_autofree char *p = path_of ("foreign.heatmap");

  put_file (p, "#!/bin/sh\necho hello\n", 21);
  check_renamed_aside ("foreign.heatmap", "foreign");
}

static void
test_truncated (void)
{
  g_autofree char *p = path_of ("trunc.heatmap");
  struct hm_map *m;

  m = hm_table_acquire (p, 12, 10000, id_a, "", "");
  hm_table_release (m);
  hm_table_close_all ();
  g_assert_cmpint (truncate (p, HM_HEADER_SIZE + 40), ==, 0);
  check_renamed_aside ("trunc.heatmap", "truncated");
}

static void
test_corrupt (void)
{
  g_autofree char *p = path_of ("corrupt.heatmap");
  struct hm_map *m;
  int fd;

  m = hm_table_acquire (p, 12, 10000, id_a, "", "");
  hm_table_release (m);
  hm_table_close_all ();
  fd = open (p, O_WRONLY);
  g_assert_cmpint (pwrite (fd, "X", 1, 30), ==, 1);
  close (fd);
  check_renamed_aside ("corrupt.heatmap", "corrupt");
}

/* A map removed or replaced behind the filter's back is not used for
 * new connections; connections that have it keep it. */
static void
test_removed (void)
{
  g_autofree char *p = path_of ("removed.heatmap");
  g_autofree char *moved = path_of ("archived.heatmap");
  struct hm_map *m1, *m2, *m3;

  m1 = hm_table_acquire (p, 12, 10000, id_a, "", "");
  hm_account (m1->m.recs, 3, 12, 0, 1, 5);
  g_assert_cmpint (rename (p, moved), ==, 0);
  m2 = hm_table_acquire (p, 12, 10000, id_a, "", "");
  g_assert_true (m2 != m1);
  g_assert_cmpuint (m2->m.recs[0].count, ==, 0);
  g_assert_true (g_file_test (p, G_FILE_TEST_IS_REGULAR));
  /* Still in use by its first connection, never handed out again. */
  hm_account (m1->m.recs, 3, 12, 0, 1, 6);
  m3 = hm_table_acquire (p, 12, 10000, id_a, "", "");
  g_assert_true (m3 == m2);
  hm_table_release (m1);
  hm_table_release (m2);
  hm_table_release (m3);
  hm_table_close_all ();

  /* The moved file kept every count. */
  m1 = hm_table_acquire (moved, 12, 10000, id_a, "", "");
  g_assert_cmpuint (m1->m.recs[0].count, ==, 2);
  hm_table_release (m1);

  /* Removed while unused: a new map on the next connection. */
  g_assert_cmpint (unlink (moved), ==, 0);
  m2 = hm_table_acquire (moved, 12, 10000, id_a, "", "");
  g_assert_cmpuint (m2->m.recs[0].count, ==, 0);
  hm_table_release (m2);
  hm_table_close_all ();
}

/* msync can take seconds and every connection's start and end waits
 * for the table's lock, so maps are synced only after it is released:
 * when a new version retires an unused map, when the last user of a
 * retired map goes, in hm_table_sync_all and when closing. */
static void
test_sync_outside_lock (void)
{
  g_autofree char *p = path_of ("unlocked.heatmap");
  struct hm_map *a, *b;

  a = hm_table_acquire (p, 12, 10000, id_a, "", "");
  hm_account (a->m.recs, 3, 12, 0, 1, 5);
  hm_table_release (a);
  msyncs = msyncs_locked = 0;
  /* Retires a, which nobody uses: it is synced and closed now. */
  b = hm_table_acquire (p, 12, 10000, id_b, "", "");
  g_assert_cmpuint (msyncs, ==, 1);
  g_assert_cmpuint (msyncs_locked, ==, 0);
  /* Retires b, still in use: synced when released. */
  a = hm_table_acquire (p, 12, 10000, id_a, "", "");
  g_assert_cmpuint (msyncs, ==, 1);
  hm_table_release (b);
  g_assert_cmpuint (msyncs, ==, 2);
  hm_table_sync_all ();
  g_assert_cmpuint (msyncs, ==, 3);
  hm_table_release (a);
  hm_table_close_all ();
  g_assert_cmpuint (msyncs, ==, 4);
  g_assert_cmpuint (msyncs_locked, ==, 0);
}

static void
test_unwritable (void)
{
  g_autofree char *p = path_of ("no-such-dir/x.heatmap");

  shim_clear_error ();
  g_assert_null (hm_table_acquire (p, 12, 10000, id_a, "", ""));
  g_assert_nonnull (strstr (shim_last_error (), "No such file"));
  g_assert_nonnull (strstr (shim_last_error (), "without a heat map"));
  /* Logged once only. */
  shim_clear_error ();
  g_assert_null (hm_table_acquire (p, 12, 10000, id_a, "", ""));
  g_assert_cmpstr (shim_last_error (), ==, "");
  /* No temporary files left behind anywhere. */
  g_assert_cmpint (count_files ("."), ==, 0);
}

int
main (int argc, char *argv[])
{
  int r;

  g_test_init (&argc, &argv, NULL);
  dir = g_dir_make_tmp ("unit-heatmap-table.XXXXXX", NULL);
  g_assert_nonnull (dir);
  g_test_add_func ("/heatmap/table/create-and-reuse", test_create_and_reuse);
  g_test_add_func ("/heatmap/table/persistence", test_persistence);
  g_test_add_func ("/heatmap/table/new-version", test_new_version);
  g_test_add_func ("/heatmap/table/foreign", test_foreign);
  g_test_add_func ("/heatmap/table/truncated", test_truncated);
  g_test_add_func ("/heatmap/table/corrupt", test_corrupt);
  g_test_add_func ("/heatmap/table/removed", test_removed);
  g_test_add_func ("/heatmap/table/sync-outside-lock",
                   test_sync_outside_lock);
  g_test_add_func ("/heatmap/table/unwritable", test_unwritable);
  r = g_test_run ();
  if (r == 0) {
    g_autofree char *cmd = g_strdup_printf ("rm -rf '%s'", dir);
    g_assert_cmpint (system (cmd), ==, 0);
  }
  return r;
}
