/* Pinned versions: names and metadata (see version.h).
 *
 * The parser walks the text line by line with a fixed list of keys; a
 * value is checked by the rule of its key before anything is stored, so
 * a rejected file leaves *M partly filled but never with an unchecked
 * value.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <glib.h>

#include "version.h"

static bool
label_char (char c)
{
  return g_ascii_isalnum (c) || c == '.' || c == '_' || c == '+' ||
    c == '~' || c == '-';
}

bool
version_label_check (const char *label, const char **reason)
{
  const char *why = NULL;
  size_t i, len = strlen (label);

  if (len == 0)
    why = "empty version";
  else if (len > VERSION_LABEL_MAX)
    why = "version longer than 64 bytes";
  else if (!g_ascii_isalnum (label[0]))
    why = "version does not start with a letter or digit";
  else
    for (i = 0; i < len; i++)
      if (!label_char (label[i])) {
        why = "version holds a byte other than A-Z a-z 0-9 . _ + ~ -";
        break;
      }
  if (why && reason)
    *reason = why;
  return why == NULL;
}

bool
version_split (const char *pinned, size_t *name_len, const char **reason)
{
  const char *at = strchr (pinned, '@');

  if (at == NULL) {
    if (reason)
      *reason = "no '@' in the name";
    return false;
  }
  if (at == pinned) {
    if (reason)
      *reason = "empty name before '@'";
    return false;
  }
  /* A ',' would end the pinned name early in a description. */
  if (memchr (pinned, ',', at - pinned) != NULL) {
    if (reason)
      *reason = "',' in a versioned name";
    return false;
  }
  if (strlen (pinned) > VERSION_NAME_MAX) {
    if (reason)
      *reason = "pinned name longer than 255 bytes";
    return false;
  }
  if (!version_label_check (at + 1, reason))
    return false;
  *name_len = at - pinned;
  return true;
}

bool
version_is_link_of (const char *name, const char *target)
{
  size_t name_len;

  return version_split (target, &name_len, NULL) &&
    name_len == strlen (name) && memcmp (target, name, name_len) == 0;
}

/* Take the next line of *P (before END) if it is "KEY VALUE\n"; copy
 * VALUE into OUT (OUTSIZE bytes with its NUL) and advance *P. */
static bool
take_line (const char **p, const char *end, const char *key,
           char *out, size_t outsize)
{
  size_t klen = strlen (key);
  const char *nl, *v;

  if ((size_t) (end - *p) < klen + 1 || memcmp (*p, key, klen) != 0 ||
      (*p)[klen] != ' ')
    return false;
  v = *p + klen + 1;
  nl = memchr (v, '\n', end - v);
  if (nl == NULL || nl == v || (size_t) (nl - v) >= outsize ||
      memchr (v, '\0', nl - v) != NULL)
    return false;
  memcpy (out, v, nl - v);
  out[nl - v] = '\0';
  *p = nl + 1;
  return true;
}

/* A decimal without sign or leading zero, at most MAX. */
static bool
parse_decimal (const char *s, uint64_t max, uint64_t *out)
{
  uint64_t v = 0;

  if (s[0] == '\0' || (s[0] == '0' && s[1] != '\0'))
    return false;
  for (; *s; s++) {
    if (!g_ascii_isdigit (*s) || v > (max - (*s - '0')) / 10)
      return false;
    v = v * 10 + (*s - '0');
  }
  *out = v;
  return true;
}

static bool
is_sha256_hex (const char *s)
{
  size_t i;

  for (i = 0; i < 64; i++)
    if (!g_ascii_isdigit (s[i]) && !(s[i] >= 'a' && s[i] <= 'f'))
      return false;
  return s[64] == '\0';
}

/* Why TEXT is not valid metadata, or NULL if it is (then *M is set). */
static const char *
meta_problem (const char *text, size_t len, struct version_meta *m)
{
  const char *p = text, *end = text + len;
  char value[VERSION_NAME_MAX + 1];
  uint64_t n;

  if (len > VERSION_META_MAX)
    return "metadata larger than 1024 bytes";
  if (!take_line (&p, end, "sandbag-version", value, sizeof value) ||
      strcmp (value, "1") != 0)
    return "not a sandbag version 1 metadata file";
  if (!take_line (&p, end, "name", m->name, sizeof m->name) ||
      strpbrk (m->name, "@/,") != NULL || m->name[0] == '.')
    return "bad or missing name line";
  if (!take_line (&p, end, "version", m->version, sizeof m->version) ||
      !version_label_check (m->version, NULL))
    return "bad or missing version line";
  if (strlen (m->name) + 1 + strlen (m->version) > VERSION_NAME_MAX)
    return "pinned name longer than 255 bytes";
  if (!take_line (&p, end, "size", value, sizeof value) ||
      !parse_decimal (value, INT64_MAX, &m->size))
    return "bad or missing size line";
  if (!take_line (&p, end, "sha256", m->sha256, sizeof m->sha256) ||
      !is_sha256_hex (m->sha256))
    return "bad or missing sha256 line";
  if (!take_line (&p, end, "published", value, sizeof value) ||
      !parse_decimal (value, INT64_MAX, &n))
    return "bad or missing published line";
  m->published = n;
  if (p != end)
    return "unexpected text after the published line";
  return NULL;
}

bool
version_meta_parse (const char *text, size_t len, struct version_meta *m,
                    const char **reason)
{
  memset (m, 0, sizeof *m);
  *reason = meta_problem (text, len, m);
  return *reason == NULL;
}

char *
version_meta_format (const struct version_meta *m)
{
  return g_strdup_printf ("sandbag-version 1\n"
                          "name %s\n"
                          "version %s\n"
                          "size %" PRIu64 "\n"
                          "sha256 %s\n"
                          "published %" PRId64 "\n",
                          m->name, m->version, m->size, m->sha256,
                          m->published);
}

char *
version_describe (const struct version_meta *m)
{
  char when[32];
  time_t t = m->published;
  struct tm tm;

  /* Times too far away to format print as the epoch, not garbage. */
  if (gmtime_r (&t, &tm) == NULL ||
      strftime (when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
    g_strlcpy (when, "1970-01-01T00:00:00Z", sizeof when);
  return g_strdup_printf ("%s@%s, %" PRIu64 " bytes, published %s, "
                          "sha256 %s", m->name, m->version, m->size, when,
                          m->sha256);
}

/* Why DESC is not a version's description, or NULL (then *ID is set). */
static const char *
description_problem (const char *desc, struct version_ident *id)
{
  const char *comma, *p, *sha;
  size_t name_len, len;
  char number[24];

  comma = strchr (desc, ',');
  if (comma == NULL || (size_t) (comma - desc) > VERSION_NAME_MAX)
    return "no pinned name at the start of the description";
  memcpy (id->pinned, desc, comma - desc);
  id->pinned[comma - desc] = '\0';
  if (!version_split (id->pinned, &name_len, NULL))
    return "no pinned name at the start of the description";
  p = comma;
  if (strncmp (p, ", ", 2) != 0)
    return "malformed size";
  p += 2;
  len = strspn (p, "0123456789");
  if (len == 0 || len >= sizeof number || strncmp (p + len, " bytes, ", 8))
    return "malformed size";
  memcpy (number, p, len);
  number[len] = '\0';
  if (!parse_decimal (number, INT64_MAX, &id->size))
    return "malformed size";
  p += len + 8;
  if (strncmp (p, "published ", 10) != 0)
    return "no publish time";
  sha = strstr (p, ", sha256 ");
  if (sha == NULL)
    return "no sha256";
  sha += 9;
  memcpy (id->sha256, sha, strnlen (sha, 64));
  id->sha256[strnlen (sha, 64)] = '\0';
  if (!is_sha256_hex (id->sha256) ||
      (sha[64] != '\0' && strncmp (sha + 64, "; ", 2) != 0))
    return "malformed sha256";
  return NULL;
}

bool
version_description_parse (const char *desc, struct version_ident *id,
                           const char **reason)
{
  memset (id, 0, sizeof *id);
  *reason = description_problem (desc, id);
  return *reason == NULL;
}
