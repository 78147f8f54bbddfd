/* ratetier: the bounded client table (see client-table.h).
 *
 * Entries live in fixed chunks of CHUNK entries, never moved or freed
 * before the table is, and are named by their index + 1 (0 = none) so
 * that links take 4 bytes.  Unused entries sit on a free list threaded
 * through lru_next.  Entries of clients without a connection sit on
 * the idle list, a doubly linked list in order of last_seen (oldest at
 * the head): the eviction victim is its head, and forgetting idle
 * clients walks it from the head.  Clients with a connection are on no
 * list, so they cannot be evicted.
 *
 * The index is an open-addressing hash table of entry numbers with
 * linear probing and backward-shift deletion (no tombstones), doubled
 * when it gets half full.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <nbdkit-filter.h>

#include "client-table.h"

#define CHUNK_SHIFT 10
#define CHUNK (1u << CHUNK_SHIFT)
#define MIN_SLOTS 64

G_STATIC_ASSERT (sizeof (struct client) == 64);

struct client_table {
  GMutex lock;                /* protects everything below */
  uint8_t secret[SECRET_BYTES]; /* hash key */
  uint32_t max;               /* most entries in use */
  uint32_t used;              /* entries in use */
  uint32_t connected;         /* entries with conns > 0 */
  uint32_t allocated;         /* entries in allocated chunks */
  struct client **chunks;     /* chunks_for (max) chunk pointers */
  uint32_t free_head;         /* free list of allocated entries */
  uint32_t idle_head;         /* idle list, oldest first */
  uint32_t idle_tail;
  uint32_t *slots;            /* index: entry number or 0 */
  uint32_t nslots;            /* power of 2 */
  uint64_t evicted;
  uint64_t forgotten;
};

static struct client *
entry (const struct client_table *t, uint32_t n)
{
  return &t->chunks[(n - 1) >> CHUNK_SHIFT][(n - 1) & (CHUNK - 1)];
}

static uint32_t
number (const struct client_table *t, const struct client *c)
{
  uint32_t i;

  /* The entry number is not stored, to keep entries at 64 bytes; find
   * the chunk that holds C (there are few chunks).
   */
  for (i = 0; i < t->allocated / CHUNK; i++)
    if (c >= t->chunks[i] && c < t->chunks[i] + CHUNK)
      return i * CHUNK + (uint32_t) (c - t->chunks[i]) + 1;
  g_assert_not_reached ();
}

/* Chunks needed for N entries (in 64 bits: N + CHUNK - 1 must not wrap). */
static uint32_t
chunks_for (uint32_t n)
{
  return ((uint64_t) n + CHUNK - 1) / CHUNK;
}

struct client_table *
client_table_new (uint32_t max_clients, const uint8_t secret[SECRET_BYTES])
{
  struct client_table *t = g_new0 (struct client_table, 1);

  g_mutex_init (&t->lock);
  memcpy (t->secret, secret, sizeof t->secret);
  t->max = CLAMP (max_clients, 1, CLIENT_TABLE_MAX_CLIENTS);
  t->chunks = g_new0 (struct client *, chunks_for (t->max));
  t->nslots = MIN_SLOTS;
  t->slots = g_new0 (uint32_t, t->nslots);
  return t;
}

void
client_table_free (struct client_table *t)
{
  uint32_t i;

  if (t == NULL)
    return;
  for (i = 0; i < t->allocated / CHUNK; i++)
    g_free (t->chunks[i]);
  g_free (t->chunks);
  g_free (t->slots);
  g_mutex_clear (&t->lock);
  g_free (t);
}

/* --- index ----------------------------------------------------------- */

static uint32_t
home_slot (const struct client_table *t, const struct client_key *key)
{
  return client_key_hash (key, t->secret) & (t->nslots - 1);
}

/* The slot holding KEY, or the empty slot where it would go. */
static uint32_t
find_slot (const struct client_table *t, const struct client_key *key)
{
  uint32_t s = home_slot (t, key);

  while (t->slots[s] != 0 && !client_key_equal (&entry (t, t->slots[s])->key,
                                                key))
    s = (s + 1) & (t->nslots - 1);
  return s;
}

static void
index_grow (struct client_table *t)
{
  uint32_t *old = t->slots, oldn = t->nslots, i;

  t->nslots *= 2;
  t->slots = g_new0 (uint32_t, t->nslots);
  for (i = 0; i < oldn; i++)
    if (old[i] != 0)
      t->slots[find_slot (t, &entry (t, old[i])->key)] = old[i];
  g_free (old);
}

/* Remove the slot S, shifting later members of its probe run back. */
static void
index_remove (struct client_table *t, uint32_t s)
{
  uint32_t mask = t->nslots - 1, j = s, home;

  t->slots[s] = 0;
  for (;;) {
    j = (j + 1) & mask;
    if (t->slots[j] == 0)
      return;
    home = home_slot (t, &entry (t, t->slots[j])->key);
    /* Move j's entry into the hole at s unless its home lies in the
     * cyclic range (s, j].
     */
    if (((j - home) & mask) >= ((j - s) & mask)) {
      t->slots[s] = t->slots[j];
      t->slots[j] = 0;
      s = j;
    }
  }
}

/* --- idle list --------------------------------------------------------- */

static void
idle_unlink (struct client_table *t, struct client *c)
{
  if (c->lru_prev)
    entry (t, c->lru_prev)->lru_next = c->lru_next;
  else
    t->idle_head = c->lru_next;
  if (c->lru_next)
    entry (t, c->lru_next)->lru_prev = c->lru_prev;
  else
    t->idle_tail = c->lru_prev;
  c->lru_prev = c->lru_next = 0;
}

/* Append C (number N) to the idle list, most recent at the tail.
 * Restored clients may be older than the tail; walk back to keep the
 * list in last_seen order (restoring happens once, at start-up).
 */
static void
idle_append (struct client_table *t, struct client *c, uint32_t n)
{
  uint32_t after = t->idle_tail;

  while (after && entry (t, after)->last_seen > c->last_seen)
    after = entry (t, after)->lru_prev;
  c->lru_prev = after;
  c->lru_next = after ? entry (t, after)->lru_next : t->idle_head;
  if (c->lru_prev)
    entry (t, c->lru_prev)->lru_next = n;
  else
    t->idle_head = n;
  if (c->lru_next)
    entry (t, c->lru_next)->lru_prev = n;
  else
    t->idle_tail = n;
}

/* --- entries ----------------------------------------------------------- */

/* Forget the idle client number N. */
static void
remove_entry (struct client_table *t, uint32_t n)
{
  struct client *c = entry (t, n);

  g_assert (c->conns == 0 && c->sched == NULL);
  idle_unlink (t, c);
  index_remove (t, find_slot (t, &c->key));
  memset (c, 0, sizeof *c);
  c->lru_next = t->free_head;
  t->free_head = n;
  t->used--;
}

/* A fresh entry for KEY, evicting if needed; 0 if the table is full of
 * connected clients.  The caller has checked that KEY is absent and
 * passes the slot find_slot returned.
 */
static uint32_t
add_entry (struct client_table *t, const struct client_key *key,
           uint32_t slot)
{
  struct client *c;
  uint32_t n;

  if (t->used >= t->max) {
    if (t->idle_head == 0)
      return 0;
    remove_entry (t, t->idle_head);
    t->evicted++;
    slot = find_slot (t, key);  /* removal may have shifted the run */
  }
  if (t->free_head == 0) {
    uint32_t i = t->allocated / CHUNK;
    t->chunks[i] = g_new0 (struct client, CHUNK);
    for (n = t->allocated + CHUNK; n > t->allocated; n--) {
      entry (t, n)->lru_next = t->free_head;
      t->free_head = n;
    }
    t->allocated += CHUNK;
  }
  n = t->free_head;
  c = entry (t, n);
  t->free_head = c->lru_next;
  memset (c, 0, sizeof *c);
  c->key = *key;
  t->slots[slot] = n;
  t->used++;
  if (t->used * 2 > t->nslots)
    index_grow (t);
  return n;
}

/* client_table_connect with the lock held; NULL if there is no room. */
static struct client *
connect_locked (struct client_table *t, const struct client_key *key,
                int64_t now)
{
  struct client *c;
  uint32_t s = find_slot (t, key), n = t->slots[s];

  if (n == 0) {
    n = add_entry (t, key, s);
    if (n == 0)
      return NULL;
    c = entry (t, n);
  }
  else {
    c = entry (t, n);
    if (c->conns == 0)
      idle_unlink (t, c);
  }
  if (c->conns++ == 0)
    t->connected++;
  c->last_seen = now;
  return c;
}

struct client *
client_table_connect (struct client_table *t, const struct client_key *key,
                      int64_t now)
{
  struct client *c;
  char name[CLIENT_KEY_STRLEN];

  {
    g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&t->lock);
    c = connect_locked (t, key, now);
  }
  if (c == NULL)
    nbdkit_error ("ratetier: cannot track client %s: all %" PRIu32
                  " clients allowed by ratetier-max-clients have a "
                  "connection open", client_key_format (key, name), t->max);
  return c;
}

void
client_table_disconnect (struct client_table *t, struct client *c,
                         int64_t now)
{
  g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&t->lock);

  g_assert (c->conns > 0);
  c->last_seen = now;
  if (--c->conns == 0) {
    t->connected--;
    idle_append (t, c, number (t, c));
  }
}

uint32_t
client_table_connections (struct client_table *t, const struct client *c)
{
  g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&t->lock);

  return c->conns;
}

uint32_t
client_table_capacity (const struct client_table *t)
{
  return t->max;                /* immutable */
}

bool
client_table_restore (struct client_table *t, const struct client_key *key,
                      uint64_t delivered_units, int64_t last_seen)
{
  g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&t->lock);
  struct client *c;
  uint32_t s = find_slot (t, key), n = t->slots[s];

  delivered_units = MIN (delivered_units, CLIENT_MAX_UNITS);
  if (n != 0) {
    c = entry (t, n);
    if (delivered_units > c->delivered)
      __atomic_store_n (&c->delivered, delivered_units, __ATOMIC_RELAXED);
  }
  else if (t->used >= t->max &&
           (t->idle_head == 0 ||
            entry (t, t->idle_head)->last_seen > last_seen))
    return false;
  else {
    n = add_entry (t, key, s);
    c = entry (t, n);
    c->delivered = delivered_units;
    c->last_seen = last_seen;
    idle_append (t, c, n);
  }
  return true;
}

size_t
client_table_forget_idle (struct client_table *t, int64_t before)
{
  g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&t->lock);
  size_t r = 0;

  while (t->idle_head && entry (t, t->idle_head)->last_seen < before) {
    remove_entry (t, t->idle_head);
    r++;
  }
  t->forgotten += r;
  return r;
}

void
client_table_decay (struct client_table *t, double factor)
{
  g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&t->lock);
  uint32_t n;

  for (n = 1; n <= t->allocated; n++) {
    struct client *c = entry (t, n);
    uint64_t old, new;

    if (c->key.kind == CLIENT_KEY_NONE)
      continue;
    old = __atomic_load_n (&c->delivered, __ATOMIC_RELAXED);
    do
      new = (uint64_t) ((double) old * factor);
    while (!__atomic_compare_exchange_n (&c->delivered, &old, new, false,
                                         __ATOMIC_RELAXED, __ATOMIC_RELAXED));
  }
}

void
client_table_foreach (struct client_table *t,
                      void (*fn) (const struct client *c, void *opaque),
                      void *opaque)
{
  g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&t->lock);
  uint32_t n;

  for (n = 1; n <= t->allocated; n++)
    if (entry (t, n)->key.kind != CLIENT_KEY_NONE)
      fn (entry (t, n), opaque);
}

void
client_table_get_stats (struct client_table *t,
                        struct client_table_stats *stats)
{
  g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&t->lock);

  stats->tracked = t->used;
  stats->connected = t->connected;
  stats->evicted = t->evicted;
  stats->forgotten = t->forgotten;
  stats->memory = sizeof *t
    + (size_t) t->allocated * sizeof (struct client)
    + (size_t) chunks_for (t->max) * sizeof (struct client *)
    + (size_t) t->nslots * sizeof (uint32_t);
}
