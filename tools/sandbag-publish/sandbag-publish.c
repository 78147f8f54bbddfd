/* sandbag-publish: publish image versions into a directory served by
 * the sandbag plugin, prune the expired ones, and list them.  See
 * sandbag-publish.pod.
 *
 * Exit codes: 0 done, 1 usage error, 2 failure (nothing half-done is
 * left visible: see publish.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <glib.h>

#include "duration.h"
#include "publish.h"
#include "versions.h"

#define DEFAULT_RETENTION "7d"

static const char usage_text[] =
  "usage: sandbag-publish publish [--version=V] [--move] [--retention=T]\n"
  "                               [--no-prune] DIR NAME IMAGE\n"
  "       sandbag-publish prune [--retention=T] DIR NAME...\n"
  "       sandbag-publish prune [--retention=T] --all DIR\n"
  "       sandbag-publish list [--retention=T] DIR NAME...\n";

static int
usage_error (const char *msg)
{
  fprintf (stderr, "sandbag-publish: %s\n%s", msg, usage_text);
  return 1;
}

static int
failure (GError *err)
{
  fprintf (stderr, "sandbag-publish: %s\n", err->message);
  return 2;
}

/* Options shared by the commands. */
static char *opt_version;
static gboolean opt_move, opt_no_prune, opt_all;
static char *opt_retention;

static const GOptionEntry publish_options[] = {
  { "version", 0, 0, G_OPTION_ARG_STRING, &opt_version,
    "Version label (default: the publish time, YYYYMMDDTHHMMSSZ)", "V" },
  { "move", 0, 0, G_OPTION_ARG_NONE, &opt_move,
    "Rename IMAGE into DIR instead of copying it", NULL },
  { "retention", 0, 0, G_OPTION_ARG_STRING, &opt_retention,
    "How long superseded versions stay servable (default " DEFAULT_RETENTION
    ")", "T" },
  { "no-prune", 0, 0, G_OPTION_ARG_NONE, &opt_no_prune,
    "Do not prune expired versions of NAME afterwards", NULL },
  { NULL },
};

static const GOptionEntry prune_options[] = {
  { "retention", 0, 0, G_OPTION_ARG_STRING, &opt_retention,
    "How long superseded versions stay servable (default " DEFAULT_RETENTION
    ")", "T" },
  { "all", 0, 0, G_OPTION_ARG_NONE, &opt_all,
    "Prune every NAME in DIR that links to a version", NULL },
  { NULL },
};

static const GOptionEntry list_options[] = {
  { "retention", 0, 0, G_OPTION_ARG_STRING, &opt_retention,
    "How long superseded versions stay servable (default " DEFAULT_RETENTION
    ")", "T" },
  { NULL },
};

/* Parse the options of COMMAND; on return argv holds the operands. */
static int
parse_options (const char *command, const GOptionEntry *entries,
               int *argc, char ***argv)
{
  g_autofree char *summary = g_strdup_printf ("%s", usage_text);
  g_autoptr (GOptionContext) ctx = g_option_context_new (command);
  g_autoptr (GError) err = NULL;

  g_option_context_set_summary (ctx, summary);
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, argc, argv, &err))
    return usage_error (err->message);
  return 0;
}

static int
retention_seconds (uint64_t *s)
{
  const char *value = opt_retention ? opt_retention : DEFAULT_RETENTION;
  uint64_t ms;

  switch (duration_parse_ms (value, &ms)) {
  case DURATION_OK:
    *s = ms / 1000;
    return 0;
  case DURATION_SYNTAX:
    fprintf (stderr, "sandbag-publish: --retention: " DURATION_SYNTAX_FMT
             "\n", value);
    return 1;
  default:
    fprintf (stderr, "sandbag-publish: --retention: " DURATION_TOO_LONG_FMT
             "\n", value);
    return 1;
  }
}

/* DIR opened as a directory, for prune and list. */
static int
open_dir (const char *dir)
{
  int fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

  if (fd == -1)
    fprintf (stderr, "sandbag-publish: %s: %s\n", dir, g_strerror (errno));
  return fd;
}

static int
cmd_publish (int argc, char **argv)
{
  struct publish_request req = { .now = time (NULL) };
  g_autoptr (GError) err = NULL;
  g_autofree char *pinned = NULL;
  uint64_t retention;
  int r;

  if ((r = parse_options ("publish DIR NAME IMAGE", publish_options,
                          &argc, &argv)) != 0 ||
      (r = retention_seconds (&retention)) != 0)
    return r;
  if (argc != 4)
    return usage_error ("publish needs DIR, NAME and IMAGE");
  req.dir = argv[1];
  req.name = argv[2];
  req.image = argv[3];
  req.version = opt_version;
  req.move = opt_move;
  pinned = publish (&req, &err);
  if (pinned == NULL)
    return failure (err);
  printf ("%s\n", pinned);
  if (!opt_no_prune) {
    int dirfd = open_dir (req.dir);

    if (dirfd == -1)
      return 2;
    /* Standard output is the pinned name alone, for scripts. */
    r = versions_prune (dirfd, req.dir, req.name, req.now, retention,
                        stderr, &err);
    close (dirfd);
    if (r == -1)
      return failure (err);
  }
  return 0;
}

/* Prune each of NAMES (NR of them) in DIR. */
static int
prune_names (const char *dir, int dirfd, char **names, guint nr,
             uint64_t retention)
{
  g_autoptr (GError) err = NULL;
  guint i;
  int r;

  for (i = 0, r = 0; i < nr && r != -1; i++)
    r = versions_prune (dirfd, dir, names[i], time (NULL), retention,
                        stdout, &err);
  return r == -1 ? failure (err) : 0;
}

/* prune --all: every NAME that links to a version, as the timer that
 * prunes a whole served directory needs. */
static int
prune_all (const char *dir, int dirfd, uint64_t retention)
{
  g_autoptr (GError) err = NULL;
  g_autoptr (GPtrArray) names = versions_names (dirfd, &err);

  if (names == NULL)
    return failure (err);
  return prune_names (dir, dirfd, (char **) names->pdata, names->len,
                      retention);
}

static int
cmd_prune (int argc, char **argv)
{
  uint64_t retention;
  int r, dirfd;

  if ((r = parse_options ("prune DIR NAME...", prune_options,
                          &argc, &argv)) != 0 ||
      (r = retention_seconds (&retention)) != 0)
    return r;
  if (opt_all && argc != 2)
    return usage_error ("prune --all needs DIR and no NAME");
  if (!opt_all && argc < 3)
    return usage_error ("prune needs DIR and at least one NAME");
  dirfd = open_dir (argv[1]);
  if (dirfd == -1)
    return 2;
  r = opt_all ? prune_all (argv[1], dirfd, retention)
    : prune_names (argv[1], dirfd, argv + 2, argc - 2, retention);
  close (dirfd);
  return r;
}

/* One line per version: VERSION STATE SIZE PUBLISHED SHA256 */
static void
print_versions (const char *name, GPtrArray *list,
                const char *current, int64_t now, uint64_t retention)
{
  guint i;

  for (i = 0; i < list->len; i++) {
    const struct version_entry *e = g_ptr_array_index (list, i);
    g_autofree char *state = NULL;

    if (!e->has_image)
      state = g_strdup ("orphaned-metadata");
    else if (!e->meta_ok)
      state = g_strdup_printf ("bad-metadata(%s)", e->problem);
    else if (e->current)
      state = g_strdup ("current");
    else if (e->superseded == 0)
      state = g_strdup ("not-current");
    else
      state = g_strdup_printf ("%s,superseded=%" PRId64 ",expires=%" PRId64,
                               version_expired (e, now, retention)
                               ? "expired" : "retained", e->superseded,
                               e->superseded + (int64_t) retention);
    if (e->meta_ok)
      printf ("%s@%s %s %" PRIu64 " %" PRId64 " %s\n", name, e->version,
              state, e->meta.size, e->meta.published, e->meta.sha256);
    else
      printf ("%s@%s %s - - -\n", name, e->version, state);
  }
  if (current == NULL && list->len > 0)
    printf ("%s not-a-version-link\n", name);
}

static int
cmd_list (int argc, char **argv)
{
  uint64_t retention;
  int i, r, dirfd;

  if ((r = parse_options ("list DIR NAME...", list_options,
                          &argc, &argv)) != 0 ||
      (r = retention_seconds (&retention)) != 0)
    return r;
  if (argc < 3)
    return usage_error ("list needs DIR and at least one NAME");
  dirfd = open_dir (argv[1]);
  if (dirfd == -1)
    return 2;
  for (i = 2; i < argc; i++) {
    g_autoptr (GError) err = NULL;
    g_autoptr (GPtrArray) list = NULL;
    g_autofree char *current = NULL;

    list = versions_scan (dirfd, argv[i], &current, &err);
    if (list == NULL) {
      close (dirfd);
      return failure (err);
    }
    print_versions (argv[i], list, current, time (NULL), retention);
  }
  close (dirfd);
  return 0;
}

int
main (int argc, char *argv[])
{
  if (argc < 2)
    return usage_error ("no command given");
  if (strcmp (argv[1], "--help") == 0 || strcmp (argv[1], "-h") == 0) {
    printf ("%s", usage_text);
    return 0;
  }
  if (strcmp (argv[1], "publish") == 0)
    return cmd_publish (argc - 1, argv + 1);
  if (strcmp (argv[1], "prune") == 0)
    return cmd_prune (argc - 1, argv + 1);
  if (strcmp (argv[1], "list") == 0)
    return cmd_list (argc - 1, argv + 1);
  return usage_error ("unknown command");
}
