/* A heat map read whole into memory and validated, as every command of
 * sandbag-heatmap reads its inputs, and the tool's exit codes
 * (documented in sandbag-heatmap(1)).
 *
 * A map is read with file_read_bounded into a private copy (so merge
 * may add into its records, and a live map that nbdkit keeps updating
 * cannot change under the reader; each field is read as one 64-bit
 * value) and checked with the filter's own hm_validate.
 *
 * Threads: no shared state.
 */
#ifndef SANDBAG_HEATMAP_MAP_LOAD_H
#define SANDBAG_HEATMAP_MAP_LOAD_H

#include <stdint.h>

#include <glib.h>

#include "heatmap-format.h"

#define HM_PROGNAME "sandbag-heatmap"

enum {
  EXIT_OK = 0,
  EXIT_USAGE = 1,               /* bad command line */
  EXIT_IO = 2,                  /* cannot read an input or write output */
  EXIT_INVALID = 3,             /* an input is not a valid heat map */
  EXIT_MISMATCH = 4,            /* merge: maps of different versions */
};

/* Largest map the tool reads: 64 GiB of records, a 2 PiB image in
 * 1 MiB heat blocks. */
#define MAX_MAP_LEN (UINT64_C(64) << 30)

typedef struct map {
  const char *path;             /* as given, not copied */
  uint8_t *buf;                 /* the whole file */
  struct hm_header h;
  struct hm_record *recs;       /* buf + HM_HEADER_SIZE */
} Map;

/* Load and validate PATH into *M.  Returns EXIT_OK, or EXIT_IO or
 * EXIT_INVALID after printing why on stderr (M is then empty). */
extern int map_load (const char *path, struct map *m);

/* Free what map_load allocated. */
extern void map_clear (struct map *m);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Map, map_clear)

/* Size of one heat block of M in bytes. */
static inline uint64_t
heat_block_size (const struct map *m)
{
  return UINT64_C(1) << m->h.heat_block_shift;
}

#endif /* SANDBAG_HEATMAP_MAP_LOAD_H */
