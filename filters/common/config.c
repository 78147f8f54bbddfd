/* Parameter parsing (see config.h).
 *
 * The range checks come after nbdkit's own parsers so that the syntax
 * (and its error messages) is nbdkit's everywhere; the messages here
 * only add the range, always naming the parameter.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <nbdkit-filter.h>

#include "config.h"
#include "duration.h"

/* Keys seen so far (owned strings), created on first use. */
static GHashTable *seen;

int
config_once (const char *key)
{
  if (seen == NULL)
    seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  if (g_hash_table_contains (seen, key)) {
    nbdkit_error ("%s given more than once", key);
    return CONFIG_ERROR;
  }
  g_hash_table_add (seen, g_strdup (key));
  return CONFIG_OK;
}

void
config_reset (void)
{
  g_clear_pointer (&seen, g_hash_table_destroy);
}

int
config_u32 (const char *key, const char *value,
            uint32_t min, uint32_t max, uint32_t *out)
{
  uint64_t v;

  if (config_once (key) == CONFIG_ERROR ||
      nbdkit_parse_uint64_t (key, value, &v) == -1)
    return CONFIG_ERROR;
  if (v < min || v > max) {
    nbdkit_error ("%s: %s is not between %" PRIu32 " and %" PRIu32,
                  key, value, min, max);
    return CONFIG_ERROR;
  }
  *out = v;
  return CONFIG_OK;
}

int
config_size (const char *key, const char *value,
             int64_t min, int64_t max, int64_t *out)
{
  int64_t v;

  if (config_once (key) == CONFIG_ERROR)
    return CONFIG_ERROR;
  v = nbdkit_parse_size (value);
  if (v == -1)
    return CONFIG_ERROR;
  if (v < min || v > max) {
    nbdkit_error ("%s: %s is not between %" PRId64 " and %" PRId64
                  " bytes", key, value, min, max);
    return CONFIG_ERROR;
  }
  *out = v;
  return CONFIG_OK;
}

int
config_bool (const char *key, const char *value, bool *out)
{
  int v;

  if (config_once (key) == CONFIG_ERROR)
    return CONFIG_ERROR;
  v = nbdkit_parse_bool (value);
  if (v == -1) {
    nbdkit_error ("%s: expected a boolean, not \"%s\"", key, value);
    return CONFIG_ERROR;
  }
  *out = v;
  return CONFIG_OK;
}

int
config_choice (const char *key, const char *value,
               const char *const *choices, unsigned *out)
{
  g_autofree char *list = NULL;
  unsigned i;

  if (config_once (key) == CONFIG_ERROR)
    return CONFIG_ERROR;
  for (i = 0; choices[i] != NULL; i++)
    if (strcmp (value, choices[i]) == 0) {
      *out = i;
      return CONFIG_OK;
    }
  list = g_strjoinv ("|", (char **) choices);
  nbdkit_error ("%s: expected %s, not \"%s\"", key, list, value);
  return CONFIG_ERROR;
}

int
duration_parse (const char *name, const char *value, uint64_t *ms)
{
  switch (duration_parse_ms (value, ms)) {
  case DURATION_OK:
    return 0;
  case DURATION_SYNTAX:
    nbdkit_error ("%s: " DURATION_SYNTAX_FMT, name, value);
    return -1;
  case DURATION_TOO_LONG:
  default:
    nbdkit_error ("%s: " DURATION_TOO_LONG_FMT, name, value);
    return -1;
  }
}

int
config_duration (const char *key, const char *value,
                 uint64_t min_ms, uint64_t max_ms, uint64_t *out)
{
  uint64_t ms;

  if (config_once (key) == CONFIG_ERROR ||
      duration_parse (key, value, &ms) == -1)
    return CONFIG_ERROR;
  if (ms < min_ms || ms > max_ms) {
    nbdkit_error ("%s: %s is not between %" PRIu64 "ms and %" PRIu64 "ms",
                  key, value, min_ms, max_ms);
    return CONFIG_ERROR;
  }
  *out = ms;
  return CONFIG_OK;
}

int
config_path (const char *key, const char *value, char **out)
{
  if (config_once (key) == CONFIG_ERROR)
    return CONFIG_ERROR;
  *out = nbdkit_absolute_path (value);
  return *out ? CONFIG_OK : CONFIG_ERROR;
}

int
config_string (const char *key, const char *value, char **out)
{
  if (config_once (key) == CONFIG_ERROR)
    return CONFIG_ERROR;
  *out = strdup (value);
  if (*out == NULL) {
    nbdkit_error ("%s: strdup: %m", key);
    return CONFIG_ERROR;
  }
  return CONFIG_OK;
}
