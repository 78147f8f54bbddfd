/* sandbag: resolving an export name to the image a connection gets, in
 * dir= mode, with pinned versions (the layout is in version.h).
 *
 *  - "NAME@VERSION" is a pinned version: the regular file of that name
 *    (never through a symbolic link), whose metadata ".NAME@VERSION.meta"
 *    must exist, parse, and agree with it (name, version, size).
 *  - "NAME" that is a symbolic link whose target is exactly
 *    "NAME@VERSION" is the current version: the link is read once and
 *    the pinned name it gives is opened as above, so a connection is
 *    served exactly the version it is told about, even if a publish
 *    switches the link meanwhile.
 *  - Any other name is an unversioned image, opened as before
 *    (imagedir_open with IMAGEDIR_BENEATH); it has no pinned name.
 *
 * NAME has already passed exportname_check.  Nothing here calls nbdkit:
 * failures return -1 with errno and *REASON set as imagedir.h says
 * (static strings that never quote the name).  Thread-safe.
 */
#ifndef SANDBAG_PINNED_H
#define SANDBAG_PINNED_H

#include <stdbool.h>

#include "version.h"

struct pinned_image {
  int fd;                       /* the image, read-only */
  bool versioned;               /* false: no pinned name, META unset */
  char pinned[VERSION_NAME_MAX + 1];    /* NAME@VERSION */
  struct version_meta meta;
};

/* Open what NAME names in DIRFD into *IMG.  Returns 0, or -1. */
extern int pinned_open (int dirfd, const char *name,
                        struct pinned_image *img, const char **reason);

/* The pinned name NAME resolves to now, into PINNED: NAME itself if it
 * is a pinned name, the target of the link if NAME is a current-version
 * link, else false (an unversioned image, or nothing).  Reads one link
 * at most; opens nothing. */
extern bool pinned_resolve (int dirfd, const char *name,
                            char pinned[VERSION_NAME_MAX + 1]);

#endif /* SANDBAG_PINNED_H */
