/* Drawing a heat map as a PNG picture (sandbag-heatmap render).
 *
 * Layout: the volume is cut into cells, each covering CELL_HEAT_BLOCKS
 * consecutive heat blocks (a power of two, the smallest that keeps the
 * number of cells at most HM_RENDER_MAX_CELLS = 512 x 512).  Cells are
 * laid out left to right in rows of COLS cells, where COLS is the
 * smallest power of two whose square is at least the number of cells
 * (at most 512), so the map is roughly square.  Each cell is a square of
 * CELL_PX = 1024 / COLS pixels, so the map is always 1024 pixels wide and
 * ROWS * CELL_PX high.  A cell's colour is the sum of its heat blocks' read
 * counts on a log scale (dark grey: never read), with a legend on the
 * right and the offset of the first byte of every few rows on the left.
 *
 * The whole picture is HM_RENDER_LEFT + 1024 + HM_RENDER_RIGHT pixels
 * wide and HM_RENDER_TOP + max (map height, HM_RENDER_MIN_MAP) +
 * HM_RENDER_BOTTOM pixels high.  A 1 TiB volume in 1 MiB heat blocks gives
 * 512 x 512 cells of 4 MiB (2 GiB per row) in a 1024 x 1024 map.
 */
#ifndef SANDBAG_HEATMAP_RENDER_H
#define SANDBAG_HEATMAP_RENDER_H

#include <stdint.h>

#include <glib.h>

#include "heatmap-format.h"

#define HM_RENDER_MAX_CELLS (512 * 512)
#define HM_RENDER_MAP_WIDTH 1024
#define HM_RENDER_LEFT 130
#define HM_RENDER_RIGHT 220
#define HM_RENDER_TOP 80
#define HM_RENDER_BOTTOM 30
#define HM_RENDER_MIN_MAP 320

struct hm_geometry {
  uint64_t cell_heat_blocks;         /* heat blocks per cell */
  uint64_t cells;
  uint32_t cols, rows;
  uint32_t cell_px;
  uint32_t width, height;       /* of the whole picture */
};

/* BYTES for humans with IEC units and a plain space: "512 bytes",
 * "1.0 MiB", "4.5 TiB".  g_free the result. */
char *hm_format_size (uint64_t bytes);

/* The layout for a map of NR_BLOCKS (> 0) heat blocks. */
void hm_render_geometry (uint64_t nr_heat_blocks, struct hm_geometry *g);

/* Draw the map H/RECS, titled TITLE, as the PNG file OUT.  0, or -1 and
 * *ERR. */
int hm_render_png (const struct hm_header *h, const struct hm_record *recs,
                   const char *title, const char *out, GError **err);

#endif /* SANDBAG_HEATMAP_RENDER_H */
