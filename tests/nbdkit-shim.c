/* Stand-ins for nbdkit's server API, for unit tests and fuzzers.
 *
 * The parse functions follow nbdkit's documented contract (decimal,
 * octal or hex as strtol base 0; the whole string must be consumed; an
 * error message naming WHAT on failure) closely enough for the callers'
 * logic to be tested; the real ones are used whenever nbdkit loads us.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <glib.h>
#include <nbdkit-plugin.h>

#include "nbdkit-shim.h"

/* nbdkit's header declares these without a format attribute; add it so
 * that format strings passed through are checked (and -Wformat-nonliteral
 * knows FS is a format). */
void nbdkit_verror (const char *fs, va_list args)
  __attribute__ ((__format__ (__printf__, 1, 0)));
void nbdkit_vdebug (const char *fs, va_list args)
  __attribute__ ((__format__ (__printf__, 1, 0)));
void nbdkit_error (const char *fs, ...)
  __attribute__ ((__format__ (__printf__, 1, 2)));
void nbdkit_debug (const char *fs, ...)
  __attribute__ ((__format__ (__printf__, 1, 2)));

/* The latest nbdkit_error message, for assertions.  Tests and fuzzers
 * are single-threaded where they look at it; the lock only keeps
 * concurrent callers from corrupting it. */
static GMutex last_error_lock;
static char last_error[1024];

const char *
shim_last_error (void)
{
  return last_error;
}

void
shim_clear_error (void)
{
  g_mutex_lock (&last_error_lock);
  last_error[0] = '\0';
  g_mutex_unlock (&last_error_lock);
}

void
nbdkit_verror (const char *fs, va_list args)
{
  g_mutex_lock (&last_error_lock);
  vsnprintf (last_error, sizeof last_error, fs, args);
  g_mutex_unlock (&last_error_lock);
  if (getenv ("SHIM_DEBUG"))
    fprintf (stderr, "error: %s\n", last_error);
}

void
nbdkit_error (const char *fs, ...)
{
  va_list args;
  int saved_errno = errno;

  va_start (args, fs);
  errno = saved_errno;          /* for %m */
  nbdkit_verror (fs, args);
  va_end (args);
}

void
nbdkit_vdebug (const char *fs, va_list args)
{
  if (getenv ("SHIM_DEBUG")) {
    vfprintf (stderr, fs, args);
    fputc ('\n', stderr);
  }
}

void
nbdkit_debug (const char *fs, ...)
{
  va_list args;

  va_start (args, fs);
  nbdkit_vdebug (fs, args);
  va_end (args);
}

static int
parse_signed (const char *what, const char *str, long long min,
              long long max, long long *r)
{
  char *end;

  errno = 0;
  *r = strtoll (str, &end, 0);
  if (errno == ERANGE || *r < min || *r > max) {
    nbdkit_error ("%s: %s: value out of range", what, str);
    return -1;
  }
  if (end == str || *end != '\0' || errno != 0) {
    nbdkit_error ("%s: could not parse number: \"%s\"", what, str);
    return -1;
  }
  return 0;
}

static int
parse_unsigned (const char *what, const char *str, unsigned long long max,
                unsigned long long *r)
{
  char *end;

  /* strtoull silently negates "-1"; nbdkit rejects it, so do we. */
  if (strchr (str, '-') != NULL) {
    nbdkit_error ("%s: negative numbers are not allowed", what);
    return -1;
  }
  errno = 0;
  *r = strtoull (str, &end, 0);
  if (errno == ERANGE || *r > max) {
    nbdkit_error ("%s: %s: value out of range", what, str);
    return -1;
  }
  if (end == str || *end != '\0' || errno != 0) {
    nbdkit_error ("%s: could not parse number: \"%s\"", what, str);
    return -1;
  }
  return 0;
}

int
nbdkit_parse_int (const char *what, const char *str, int *rp)
{
  long long r;

  if (parse_signed (what, str, INT_MIN, INT_MAX, &r) == -1)
    return -1;
  if (rp)
    *rp = r;
  return 0;
}

int
nbdkit_parse_unsigned (const char *what, const char *str, unsigned *rp)
{
  unsigned long long r;

  if (parse_unsigned (what, str, UINT_MAX, &r) == -1)
    return -1;
  if (rp)
    *rp = r;
  return 0;
}

int
nbdkit_parse_uint32_t (const char *what, const char *str, uint32_t *rp)
{
  unsigned long long r;

  if (parse_unsigned (what, str, UINT32_MAX, &r) == -1)
    return -1;
  if (rp)
    *rp = r;
  return 0;
}

int
nbdkit_parse_uint64_t (const char *what, const char *str, uint64_t *rp)
{
  unsigned long long r;

  if (parse_unsigned (what, str, UINT64_MAX, &r) == -1)
    return -1;
  if (rp)
    *rp = r;
  return 0;
}

int
nbdkit_parse_int64_t (const char *what, const char *str, int64_t *rp)
{
  long long r;

  if (parse_signed (what, str, INT64_MIN, INT64_MAX, &r) == -1)
    return -1;
  if (rp)
    *rp = r;
  return 0;
}

/* A size with an optional binary suffix (b, k, M, G, T, P, E). */
int64_t
nbdkit_parse_size (const char *str)
{
  static const char suffixes[] = "bkmgtpe";
  const char *s;
  char *end;
  unsigned long long size;
  int shift = 0;

  if (strchr (str, '-') != NULL) {
    nbdkit_error ("size cannot be negative: %s", str);
    return -1;
  }
  errno = 0;
  size = strtoull (str, &end, 10);
  if (end == str || errno != 0) {
    nbdkit_error ("could not parse size string (%s)", str);
    return -1;
  }
  if (*end != '\0') {
    s = strchr (suffixes, g_ascii_tolower (*end));
    if (s == NULL || end[1] != '\0') {
      nbdkit_error ("could not parse size: unknown suffix '%s'", end);
      return -1;
    }
    shift = 10 * (int) (s - suffixes);
  }
  if (shift > 0 && size > (unsigned long long) INT64_MAX >> shift) {
    nbdkit_error ("size (%s) exceeds maximum value", str);
    return -1;
  }
  size <<= shift;
  if (size > INT64_MAX) {
    nbdkit_error ("size (%s) exceeds maximum value", str);
    return -1;
  }
  return size;
}

int
nbdkit_parse_bool (const char *str)
{
  if (!strcmp (str, "1") || !g_ascii_strcasecmp (str, "true") ||
      !g_ascii_strcasecmp (str, "t") || !g_ascii_strcasecmp (str, "yes") ||
      !g_ascii_strcasecmp (str, "y") || !g_ascii_strcasecmp (str, "on"))
    return 1;
  if (!strcmp (str, "0") || !g_ascii_strcasecmp (str, "false") ||
      !g_ascii_strcasecmp (str, "f") || !g_ascii_strcasecmp (str, "no") ||
      !g_ascii_strcasecmp (str, "n") || !g_ascii_strcasecmp (str, "off"))
    return 0;
  nbdkit_error ("could not decipher boolean (%s)", str);
  return -1;
}

char *
nbdkit_absolute_path (const char *path)
{
  g_autofree char *cwd = NULL;
  g_autofree char *full = NULL;

  if (path == NULL || *path == '\0') {
    nbdkit_error ("cannot convert null or empty path to an absolute path");
    return NULL;
  }
  if (*path == '/')
    return strdup (path);
  cwd = g_get_current_dir ();
  full = g_build_filename (cwd, path, NULL);
  return strdup (full);
}

int
nbdkit_nanosleep (unsigned sec, unsigned nsec)
{
  struct timespec ts = { .tv_sec = sec, .tv_nsec = nsec };

  while (nanosleep (&ts, &ts) == -1 && errno == EINTR)
    ;
  return 0;
}
