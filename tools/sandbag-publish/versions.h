/* sandbag-publish: the versions of one image in a served directory
 * (the layout is in filters/common/version.h), and pruning them.
 *
 * A version is "current" while NAME links to it; once a newer version
 * is published it is "superseded", at the publish time of the next
 * newer version, and it stays servable for the retention period after
 * that.  Pruning removes a superseded version whose retention has run
 * out: first the image (so no new connection can open it; connections
 * already open keep reading their descriptor), then its metadata.
 * Pruning never touches a file it does not understand: an image whose
 * metadata is missing or corrupt is reported and kept.  Metadata left
 * without its image by an interrupted prune is removed once it is a
 * minute old (younger, it may belong to a publish in progress).
 *
 * Everything in the directory is hostile input; errors are GErrors
 * naming the file.
 */
#ifndef SANDBAG_PUBLISH_VERSIONS_H
#define SANDBAG_PUBLISH_VERSIONS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <glib.h>

#include "version.h"

struct version_entry {
  char version[VERSION_LABEL_MAX + 1];
  bool has_image;               /* NAME@VERSION is a regular file */
  bool meta_ok;                 /* META parsed and agrees with the name */
  const char *problem;          /* why not, when !meta_ok (static) */
  struct version_meta meta;
  bool current;                 /* NAME links here */
  int64_t superseded;           /* seconds since the epoch, 0 = not */
};

/* The versions of NAME in DIRFD, by publish time (versions without
 * valid metadata last), as a GPtrArray of struct version_entry *, and
 * in *CURRENT the version NAME links to (g_free it; NULL if NAME is no
 * version link).  NULL and *ERR if the directory cannot be read. */
extern GPtrArray *versions_scan (int dirfd, const char *name,
                                 char **current, GError **err);

/* The names in DIRFD that have a current version: every entry NAME
 * (a valid export name) that is a symbolic link to NAME@VERSION, as a
 * sorted GPtrArray of strings; NULL and *ERR if the directory cannot
 * be read.  (prune --all prunes these.) */
extern GPtrArray *versions_names (int dirfd, GError **err);

/* Whether E may be removed at NOW (seconds since the epoch) with
 * RETENTION_S seconds of retention. */
extern bool version_expired (const struct version_entry *e, int64_t now,
                             uint64_t retention_s);

/* Prune NAME in DIRFD (DIR is its path, for messages): print one line
 * per removed file on REPORT, and one per kept problem on stderr.
 * Returns the number of versions removed, or -1 and *ERR. */
extern int versions_prune (int dirfd, const char *dir, const char *name,
                           int64_t now, uint64_t retention_s, FILE *report,
                           GError **err);

#endif /* SANDBAG_PUBLISH_VERSIONS_H */
