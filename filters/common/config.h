/* Parameter parsing shared by the sandbag plugin and the filters.
 *
 * Every component parses its parameters in a strcmp ladder in its
 * .config callback, calling these helpers, which check the value and
 * report a bad one with nbdkit_error naming the parameter.  Each helper
 * also refuses a parameter given twice ("KEY given more than once"):
 * every sandbag parameter may be given at most once, so "set once" is
 * part of parsing, not something each component tracks with flags.
 *
 * Sub-parsers: a component may hand keys it does not know to parsers
 * of its parts (ratetier's guard and housekeeping).  Every such parser
 * returns CONFIG_OK, CONFIG_ERROR (after nbdkit_error), or
 * CONFIG_NOT_MINE when KEY is not one of its parameters.
 *
 * Threads: .config runs single-threaded, before any connection; the
 * set of keys seen is a plain static table of the module that links
 * this file (each plugin and filter has its own copy).  config_reset
 * frees it (call it from .unload).
 */
#ifndef SANDBAG_CONFIG_H
#define SANDBAG_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

enum config_result {
  CONFIG_ERROR = -1,
  CONFIG_OK = 0,
  CONFIG_NOT_MINE = 1,
};

/* Record that KEY was given.  CONFIG_OK the first time; afterwards
 * nbdkit_error ("KEY given more than once") and CONFIG_ERROR.  The
 * helpers below call it; call it directly only for a parameter parsed
 * by hand. */
extern int config_once (const char *key);

/* Forget every key seen and free the table. */
extern void config_reset (void);

/* An unsigned integer (nbdkit_parse_uint64_t syntax) from MIN to MAX. */
extern int config_u32 (const char *key, const char *value,
                       uint32_t min, uint32_t max, uint32_t *out);

/* A size with nbdkit's suffixes (nbdkit_parse_size: 4K, 1M, ...) from
 * MIN to MAX bytes. */
extern int config_size (const char *key, const char *value,
                        int64_t min, int64_t max, int64_t *out);

/* A boolean (nbdkit_parse_bool: true/false, yes/no, on/off, 1/0). */
extern int config_bool (const char *key, const char *value, bool *out);

/* One of CHOICES (a NULL-terminated list); *OUT is its index. */
extern int config_choice (const char *key, const char *value,
                          const char *const *choices, unsigned *out);

/* A duration (duration.h) from MIN_MS to MAX_MS, in milliseconds. */
extern int config_duration (const char *key, const char *value,
                            uint64_t min_ms, uint64_t max_ms, uint64_t *out);

/* A path, made absolute (nbdkit_absolute_path) into *OUT (free() it;
 * it must be NULL on entry, which the set-once rule guarantees). */
extern int config_path (const char *key, const char *value, char **out);

/* A copy of VALUE as is (free() it). */
extern int config_string (const char *key, const char *value, char **out);

#endif /* SANDBAG_CONFIG_H */
