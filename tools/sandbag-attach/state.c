/* sandbag-attach: the state directory (see state.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "atomic-file.h"
#include "nbd-uri.h"
#include "state.h"
#include "version.h"

#define MOUNT_FILE_MAX 65536

char *
state_mount_dir (const char *state_dir, const char *mountpoint)
{
  g_autofree char *id = g_uri_escape_string (mountpoint, NULL, FALSE);

  return g_build_filename (state_dir, id, NULL);
}

char *
state_version_dir (const char *mount_dir, const char *pinned)
{
  g_autofree char *id = g_uri_escape_string (pinned, NULL, FALSE);

  return g_build_filename (mount_dir, id, NULL);
}

void
mount_state_free (struct mount_state *m)
{
  if (m == NULL)
    return;
  g_free (m->mountpoint);
  g_free (m->name);
  if (m->servers)
    g_ptr_array_unref (m->servers);
  if (m->draining)
    g_ptr_array_unref (m->draining);
  g_free (m);
}

int
state_save (const char *mount_dir, const struct mount_state *m,
            GError **err)
{
  g_autoptr (GString) s = g_string_new ("sandbag-attach 1\n");
  g_autofree char *path = g_build_filename (mount_dir, "mount", NULL);
  guint i;

  g_string_append_printf (s, "mountpoint %s\nname %s\n", m->mountpoint,
                          m->name);
  for (i = 0; i < m->servers->len; i++)
    g_string_append_printf (s, "server %s\n",
                            (char *) g_ptr_array_index (m->servers, i));
  g_string_append_printf (s, "connections %u\ngive-up-ms %" PRIu64 "\n"
                          "mode %s\npinned %s\nsize %" PRIu64 "\n"
                          "sha256 %s\n", m->connections, m->give_up_ms,
                          m->fuse ? "fuse" : "nbd", m->current.pinned,
                          m->current.size, m->current.sha256);
  for (i = 0; i < m->draining->len; i++)
    g_string_append_printf (s, "draining %s\n",
                            (char *) g_ptr_array_index (m->draining, i));
  if (g_mkdir_with_parents (mount_dir, 0700) == -1) {
    g_set_error (err, G_FILE_ERROR, g_file_error_from_errno (errno),
                 "%s: %s", mount_dir, g_strerror (errno));
    return -1;
  }
  return atomic_file_replace (path, s->str, s->len, 0600, true, err);
}

/* An unsigned decimal of at most MAX. */
static bool
parse_u64 (const char *s, uint64_t max, uint64_t *out)
{
  char *end;

  if (!g_ascii_isdigit (s[0]))
    return false;
  errno = 0;
  *out = g_ascii_strtoull (s, &end, 10);
  return errno == 0 && *end == '\0' && *out <= max;
}

/* Apply one line KEY VALUE to M; false if it is not valid. */
static bool
apply_line (struct mount_state *m, const char *key, const char *value)
{
  size_t n;
  uint64_t v;

  if (strcmp (key, "mountpoint") == 0 && value[0] == '/' && !m->mountpoint)
    m->mountpoint = g_strdup (value);
  else if (strcmp (key, "name") == 0 && !m->name)
    m->name = g_strdup (value);
  else if (strcmp (key, "server") == 0) {
    g_autofree char *uri = nbd_uri_with_export (value, "x", NULL);

    if (uri == NULL)
      return false;
    g_ptr_array_add (m->servers, g_strdup (value));
  }
  else if (strcmp (key, "connections") == 0 && parse_u64 (value, 16, &v) &&
           v > 0)
    m->connections = v;
  else if (strcmp (key, "give-up-ms") == 0 &&
           parse_u64 (value, UINT64_C (7) * 86400 * 1000, &v))
    m->give_up_ms = v;
  else if (strcmp (key, "mode") == 0 &&
           (strcmp (value, "nbd") == 0 || strcmp (value, "fuse") == 0))
    m->fuse = strcmp (value, "fuse") == 0;
  else if (strcmp (key, "pinned") == 0 && version_split (value, &n, NULL))
    g_strlcpy (m->current.pinned, value, sizeof m->current.pinned);
  else if (strcmp (key, "size") == 0 && parse_u64 (value, INT64_MAX, &v))
    m->current.size = v;
  else if (strcmp (key, "sha256") == 0 && strlen (value) == 64)
    g_strlcpy (m->current.sha256, value, sizeof m->current.sha256);
  else if (strcmp (key, "draining") == 0 && version_split (value, &n, NULL)
           && m->draining->len < STATE_MAX_VERSIONS)
    g_ptr_array_add (m->draining, g_strdup (value));
  else
    return false;
  return true;
}

struct mount_state *
state_load (const char *mount_dir, GError **err)
{
  g_autofree char *path = g_build_filename (mount_dir, "mount", NULL);
  g_autofree uint8_t *text = NULL;
  g_auto (GStrv) lines = NULL;
  struct mount_state *m;
  size_t len;
  guint i = 0;

  if (file_read_bounded (path, MOUNT_FILE_MAX, &text, &len, err) == -1)
    return NULL;
  m = g_new0 (struct mount_state, 1);
  m->servers = g_ptr_array_new_with_free_func (g_free);
  m->draining = g_ptr_array_new_with_free_func (g_free);
  lines = g_strsplit ((char *) text, "\n", -1);
  if (lines[0] == NULL || strcmp (lines[0], "sandbag-attach 1") != 0)
    goto bad;
  for (i = 1; lines[i] && lines[i][0]; i++) {
    char *sp = strchr (lines[i], ' ');

    if (sp == NULL)
      goto bad;
    *sp = '\0';
    if (!apply_line (m, lines[i], sp + 1))
      goto bad;
  }
  if (m->mountpoint && m->name && m->servers->len > 0 && m->connections &&
      m->current.pinned[0] && m->current.size && m->current.sha256[0])
    return m;

 bad:
  g_set_error (err, G_FILE_ERROR, G_FILE_ERROR_INVAL,
               "%s: corrupt (line %u); remove the mount by hand", path,
               lines && lines[0] ? i + 1 : 1);
  mount_state_free (m);
  return NULL;
}

char **
state_list (const char *state_dir)
{
  g_autoptr (GPtrArray) dirs = g_ptr_array_new ();
  g_autoptr (GDir) d = g_dir_open (state_dir, 0, NULL);
  const char *n;

  while (d && (n = g_dir_read_name (d)) != NULL) {
    g_autofree char *file = g_build_filename (state_dir, n, "mount", NULL);

    if (g_file_test (file, G_FILE_TEST_IS_REGULAR))
      g_ptr_array_add (dirs, g_build_filename (state_dir, n, NULL));
  }
  g_ptr_array_add (dirs, NULL);
  return (char **) g_ptr_array_steal (dirs, NULL);
}
