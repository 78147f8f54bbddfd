/* Pinned versions of an image: their names and their metadata, shared
 * by the sandbag plugin (which serves them), sandbag-publish (which
 * writes them) and the client (which asks for them).
 *
 * A served directory holds, for an image NAME:
 *   NAME@VERSION         one published version: a regular file that is
 *                        never modified, so the pinned name NAME@VERSION
 *                        always means the same bytes;
 *   .NAME@VERSION.meta   its metadata (below), written before the image
 *                        appears under its pinned name;
 *   NAME                 a symbolic link to NAME@VERSION: the current
 *                        version, switched by an atomic rename.
 * NAME follows the export name rules (exportname.h) and holds no '@'
 * and no ',' (which ends the pinned name in a description);
 * VERSION is a label of 1 to VERSION_LABEL_MAX bytes of [A-Za-z0-9._+~-]
 * starting with a letter or digit (sandbag-publish uses the UTC publish
 * time, YYYYMMDDTHHMMSSZ, unless told otherwise).
 *
 * The metadata file is text, exactly these lines in this order:
 *   sandbag-version 1
 *   name NAME
 *   version VERSION
 *   size BYTES            decimal, no sign or leading zero
 *   sha256 HEX            64 lowercase hex digits: the image's SHA-256
 *   published SECONDS     publish time, seconds since the epoch
 * Everything in a served directory is hostile input: version_meta_parse
 * accepts exactly this grammar, at most VERSION_META_MAX bytes, and
 * nothing else.
 *
 * Everything here is pure: no I/O, no allocation except where a
 * function says it returns a new string, thread-safe.
 */
#ifndef SANDBAG_VERSION_H
#define SANDBAG_VERSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VERSION_LABEL_MAX 64
#define VERSION_NAME_MAX 255            /* NAME@VERSION, one file name */
#define VERSION_META_MAX 1024
#define VERSION_META_SUFFIX ".meta"

struct version_meta {
  char name[VERSION_NAME_MAX + 1];      /* NAME */
  char version[VERSION_LABEL_MAX + 1];  /* VERSION */
  uint64_t size;                        /* bytes */
  char sha256[65];                      /* lowercase hex */
  int64_t published;                    /* seconds since the epoch */
};

/* Whether LABEL is a valid VERSION.  On false, *REASON (if not NULL)
 * is a static string that never quotes LABEL. */
extern bool version_label_check (const char *label, const char **reason);

/* Whether PINNED has the form NAME@VERSION with a non-empty NAME
 * holding no '@' and a valid VERSION; on true *NAME_LEN is the length
 * of NAME.  It does not check NAME against the export name rules. */
extern bool version_split (const char *pinned, size_t *name_len,
                           const char **reason);

/* Whether TARGET, the target of a link named NAME, makes that link the
 * current-version link of NAME: TARGET is exactly "NAME@VERSION". */
extern bool version_is_link_of (const char *name, const char *target);

/* Parse LEN bytes of TEXT (need not be NUL-terminated) into *M.  On
 * false, *REASON is a static string saying what is wrong. */
extern bool version_meta_parse (const char *text, size_t len,
                                struct version_meta *m, const char **reason);

/* The text of M (a new string, g_free it). */
extern char *version_meta_format (const struct version_meta *m);

/* How a server describes a version to clients (NBD_INFO_DESCRIPTION
 * and NBD_OPT_LIST), and all a client learns of it before reading:
 *
 *   NAME@VERSION, SIZE bytes, published YYYY-MM-DDTHH:MM:SSZ, sha256 HEX
 *
 * optionally followed by "; TEXT" (free text the server appends).
 */
struct version_ident {
  char pinned[VERSION_NAME_MAX + 1];
  uint64_t size;
  char sha256[65];
};

/* The description of M, without text (a new string, g_free it). */
extern char *version_describe (const struct version_meta *m);

/* Parse a description a server sent (hostile: any bytes, NUL-
 * terminated) into *ID.  False, with *REASON, if it does not describe a
 * version exactly as above. */
extern bool version_description_parse (const char *desc,
                                       struct version_ident *id,
                                       const char **reason);

#endif /* SANDBAG_VERSION_H */
