/* ratetier: the filter's parameters (ratetier= and ratetier-*).
 *
 * What: every parameter the filter takes, parsed with the shared
 * helpers of config.h (so each may be given at most once, with one
 * message for a second time), range-checked, and gathered in one
 * struct that ratetier.c hands to the parts.  The guard's and
 * housekeeping's own parameters are parsed by guard_config and
 * housekeeping_config into their members.
 *
 * Adding a parameter: a member and its default here, a line in
 * params_config's ladder (or in the part's *_config), a line in
 * PARAMS_HELP (or the part's *_CONFIG_HELP) and an =item in
 * nbdkit-ratetier-filter.pod; test-ratetier-config.sh checks that the
 * help and the man page list the same parameters.
 *
 * Threads: .config and .config_complete run single-threaded before any
 * connection; the struct is read-only afterwards.  Lifetime: the struct
 * owns tiers and the housekeeping paths, which params_free frees.
 */
#ifndef RATETIER_PARAMS_H
#define RATETIER_PARAMS_H

#include <stdint.h>

#include "client-key.h"
#include "guard.h"
#include "housekeeping.h"
#include "scheduler.h"
#include "tiers.h"

#define PARAMS_DEFAULT_TIERS "1000:10,10000:4,100000:2"

struct params {
  struct tiers *tiers;          /* ratetier= (default set by
                                 * params_complete) */
  uint32_t block_size;          /* ratetier-block-size, bytes */
  struct client_key_config key; /* ratetier-key, -ipv4/6-prefix */
  uint32_t max_clients;         /* ratetier-max-clients */
  enum sched_mode mode;         /* ratetier-schedule */
  uint32_t concurrency;         /* ratetier-concurrency: slots per unit
                                 * of weight */
  struct housekeeping_config housekeeping;
  struct guard_config guard;
};

#define PARAMS_DEFAULT                                                  \
  { .block_size = 4096, .key = CLIENT_KEY_CONFIG_DEFAULT,               \
    .max_clients = 65536, .mode = SCHED_MODE_CONTINUOUS,                \
    .concurrency = 1, .housekeeping = HOUSEKEEPING_CONFIG_DEFAULT,      \
    .guard = GUARD_CONFIG_DEFAULT }

#define PARAMS_HELP \
  "ratetier=TIERS              ((BLOCKS, WEIGHT), ...) or BLOCKS:WEIGHT,...\n" \
  "                            (default " PARAMS_DEFAULT_TIERS ").\n" \
  "ratetier-block-size=SIZE    Bytes per block (default 4096).\n" \
  "ratetier-key=address|connection  Who a client is (default address).\n" \
  "ratetier-ipv4-prefix=BITS   IPv4 prefix per client (default 32).\n" \
  "ratetier-ipv6-prefix=BITS   IPv6 prefix per client (default 64).\n" \
  "ratetier-max-clients=N      Clients tracked at most (default 65536).\n" \
  "ratetier-schedule=continuous|batch  Refill slots at once or per\n" \
  "                            iteration (default continuous).\n" \
  "ratetier-concurrency=N      Requests in flight per unit of weight\n" \
  "                            (default 1).\n" \
  HOUSEKEEPING_CONFIG_HELP "\n" \
  GUARD_CONFIG_HELP

/* .config: KEY=VALUE into *P if KEY is ratetier= or ratetier-*.
 * Returns CONFIG_OK, CONFIG_ERROR (after nbdkit_error; an unknown
 * ratetier-* key is an error) or CONFIG_NOT_MINE (not a ratetier key:
 * the caller passes it on).
 */
extern int params_config (struct params *p, const char *key,
                          const char *value);

/* .config_complete: defaults and checks across parameters.  0, or -1
 * after nbdkit_error. */
extern int params_complete (struct params *p);

/* .unload: free what *P owns, and forget the keys seen. */
extern void params_free (struct params *p);

#endif /* RATETIER_PARAMS_H */
