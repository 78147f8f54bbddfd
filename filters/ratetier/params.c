/* ratetier: the filter's parameters (see params.h). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <nbdkit-filter.h>

#include "client-table.h"
#include "config.h"
#include "params.h"

/* ratetier-key and ratetier-schedule, in the order of their meanings. */
static const char *const key_choices[] = { "address", "connection", NULL };
static const char *const schedule_choices[] = {
  [SCHED_MODE_CONTINUOUS] = "continuous", [SCHED_MODE_BATCH] = "batch", NULL
};

static int
config_tiers (struct params *p, const char *key, const char *value)
{
  if (config_once (key) == CONFIG_ERROR)
    return CONFIG_ERROR;
  p->tiers = tiers_parse (value);
  return p->tiers ? CONFIG_OK : CONFIG_ERROR;
}

/* ratetier-block-size: bytes, at most 1 GiB. */
static int
config_block_size (struct params *p, const char *key, const char *value)
{
  int64_t v;

  if (config_size (key, value, 1, 1 << 30, &v) == CONFIG_ERROR)
    return CONFIG_ERROR;
  p->block_size = v;
  return CONFIG_OK;
}

static int
config_key (struct params *p, const char *key, const char *value)
{
  unsigned i;

  if (config_choice (key, value, key_choices, &i) == CONFIG_ERROR)
    return CONFIG_ERROR;
  p->key.per_connection = i == 1;
  return CONFIG_OK;
}

static int
config_schedule (struct params *p, const char *key, const char *value)
{
  unsigned i;

  if (config_choice (key, value, schedule_choices, &i) == CONFIG_ERROR)
    return CONFIG_ERROR;
  p->mode = i;
  return CONFIG_OK;
}

/* Parameters of the parts (the guard, housekeeping), then unknown. */
static int
config_parts (struct params *p, const char *key, const char *value)
{
  int r = guard_config (&p->guard, key, value);

  if (r == CONFIG_NOT_MINE)
    r = housekeeping_config (&p->housekeeping, key, value);
  if (r == CONFIG_NOT_MINE) {
    nbdkit_error ("%s: unknown ratetier parameter (see "
                  "nbdkit-ratetier-filter(1))", key);
    r = CONFIG_ERROR;
  }
  return r;
}

int
params_config (struct params *p, const char *key, const char *value)
{
  if (strcmp (key, "ratetier") == 0)
    return config_tiers (p, key, value);
  else if (strncmp (key, "ratetier-", 9) != 0)
    return CONFIG_NOT_MINE;
  else if (strcmp (key, "ratetier-block-size") == 0)
    return config_block_size (p, key, value);
  else if (strcmp (key, "ratetier-key") == 0)
    return config_key (p, key, value);
  else if (strcmp (key, "ratetier-ipv4-prefix") == 0)
    return config_u32 (key, value, 0, 32, &p->key.ipv4_prefix);
  else if (strcmp (key, "ratetier-ipv6-prefix") == 0)
    return config_u32 (key, value, 0, 128, &p->key.ipv6_prefix);
  else if (strcmp (key, "ratetier-max-clients") == 0)
    return config_u32 (key, value, 1, CLIENT_TABLE_MAX_CLIENTS,
                       &p->max_clients);
  else if (strcmp (key, "ratetier-schedule") == 0)
    return config_schedule (p, key, value);
  else if (strcmp (key, "ratetier-concurrency") == 0)
    return config_u32 (key, value, 1, 1024, &p->concurrency);
  else
    return config_parts (p, key, value);
}

int
params_complete (struct params *p)
{
  if (p->tiers == NULL)
    p->tiers = tiers_parse (PARAMS_DEFAULT_TIERS);
  if (tiers_weight_sum (p->tiers) * p->concurrency > 1000000) {
    nbdkit_error ("ratetier: the weights times ratetier-concurrency allow "
                  "more than 1000000 requests in flight");
    return -1;
  }
  return 0;
}

void
params_free (struct params *p)
{
  g_clear_pointer (&p->tiers, tiers_free);
  g_clear_pointer (&p->housekeeping.state_path, free);
  g_clear_pointer (&p->housekeeping.status_path, free);
  config_reset ();
}
