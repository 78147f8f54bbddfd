/* The PNG picture of a heat map (see render.h), drawn with cairo.
 *
 * Cells are summed first (saturating), then painted straight into the
 * image surface's pixels, which is far quicker than one cairo rectangle
 * per cell for a quarter of a million cells; text, legend and frame are
 * drawn with cairo.
 */
#include <math.h>
#include <string.h>

#include <cairo.h>
#include <fontconfig/fontconfig.h>
#include <glib.h>

#include "render.h"

char *
hm_format_size (uint64_t bytes)
{
  static const char *const units[] = {
    "KiB", "MiB", "GiB", "TiB", "PiB", "EiB",
  };
  double v = bytes;
  int i = -1;

  if (bytes < 1024)
    return g_strdup_printf ("%" G_GUINT64_FORMAT " bytes", bytes);
  while (v >= 1024 && i < 5) {
    v /= 1024;
    i++;
  }
  return g_strdup_printf ("%.1f %s", v, units[i]);
}

void
hm_render_geometry (uint64_t nr_heat_blocks, struct hm_geometry *g)
{
  uint32_t map_h;

  memset (g, 0, sizeof *g);
  g->cell_heat_blocks = 1;
  while (nr_heat_blocks / g->cell_heat_blocks +
         (nr_heat_blocks % g->cell_heat_blocks != 0) > HM_RENDER_MAX_CELLS)
    g->cell_heat_blocks *= 2;
  g->cells = nr_heat_blocks / g->cell_heat_blocks +
    (nr_heat_blocks % g->cell_heat_blocks != 0);
  g->cols = 1;
  while ((uint64_t) g->cols * g->cols < g->cells && g->cols < 512)
    g->cols *= 2;
  g->rows = (g->cells + g->cols - 1) / g->cols;
  g->cell_px = HM_RENDER_MAP_WIDTH / g->cols;
  map_h = g->rows * g->cell_px;
  if (map_h < HM_RENDER_MIN_MAP)
    map_h = HM_RENDER_MIN_MAP;
  g->width = HM_RENDER_LEFT + HM_RENDER_MAP_WIDTH + HM_RENDER_RIGHT;
  g->height = HM_RENDER_TOP + map_h + HM_RENDER_BOTTOM;
}

struct rgb { double r, g, b; };

/* Never read. */
static const struct rgb unread = { 0.86, 0.86, 0.86 };

/* Colour at T in [0, 1]: dark purple (one read) through red and orange
 * to pale yellow (the hottest cell). */
static struct rgb
ramp (double t)
{
  static const struct rgb stops[] = {
    { 0.12, 0.05, 0.35 }, { 0.47, 0.11, 0.52 }, { 0.80, 0.22, 0.33 },
    { 0.98, 0.55, 0.10 }, { 1.00, 0.95, 0.50 },
  };
  const int n = G_N_ELEMENTS (stops) - 1;
  double x;
  int i;
  struct rgb c;

  if (t <= 0) return stops[0];
  if (t >= 1) return stops[n];
  i = (int) (t * n);
  x = t * n - i;
  c.r = stops[i].r + (stops[i + 1].r - stops[i].r) * x;
  c.g = stops[i].g + (stops[i + 1].g - stops[i].g) * x;
  c.b = stops[i].b + (stops[i + 1].b - stops[i].b) * x;
  return c;
}

/* Position of V >= 1 on the log scale up to MAXV. */
static double
scale (uint64_t v, uint64_t maxv)
{
  if (maxv <= 1)
    return 1.0;
  return log ((double) v) / log ((double) maxv);
}

static uint32_t
pixel (struct rgb c)
{
  return (uint32_t) (c.r * 255 + 0.5) << 16 |
    (uint32_t) (c.g * 255 + 0.5) << 8 | (uint32_t) (c.b * 255 + 0.5);
}

static void
text_at (cairo_t *cr, double x, double y, double size, int align_right,
         const char *s)
{
  cairo_text_extents_t ext;

  cairo_set_font_size (cr, size);
  cairo_text_extents (cr, s, &ext);
  cairo_move_to (cr, align_right ? x - ext.x_advance : x, y);
  cairo_show_text (cr, s);
}

/* "1", "10", ..., "1k", "10k", ..., "1M", ... */
static char *
short_count (uint64_t v)
{
  if (v >= UINT64_C(1000000000000))
    return g_strdup_printf ("%" G_GUINT64_FORMAT "T", v / UINT64_C(1000000000000));
  if (v >= 1000000000)
    return g_strdup_printf ("%" G_GUINT64_FORMAT "G", v / 1000000000);
  if (v >= 1000000)
    return g_strdup_printf ("%" G_GUINT64_FORMAT "M", v / 1000000);
  if (v >= 1000)
    return g_strdup_printf ("%" G_GUINT64_FORMAT "k", v / 1000);
  return g_strdup_printf ("%" G_GUINT64_FORMAT, v);
}

static void
draw_legend (cairo_t *cr, const struct hm_geometry *g, uint64_t maxv)
{
  const double x = HM_RENDER_LEFT + HM_RENDER_MAP_WIDTH + 40;
  const double y0 = HM_RENDER_TOP + 20, h = 256, w = 24;
  uint64_t v;
  int i;

  cairo_set_source_rgb (cr, 0, 0, 0);
  text_at (cr, x - 10, HM_RENDER_TOP + 8, 12, 0, "reads per cell");

  /* Gradient, hottest at the top. */
  for (i = 0; i < (int) h; i++) {
    struct rgb c = ramp (1.0 - i / (h - 1));
    cairo_set_source_rgb (cr, c.r, c.g, c.b);
    cairo_rectangle (cr, x, y0 + i, w, 1);
    cairo_fill (cr);
  }
  cairo_set_source_rgb (cr, 0, 0, 0);
  cairo_set_line_width (cr, 1);
  cairo_rectangle (cr, x + 0.5, y0 + 0.5, w - 1, h - 1);
  cairo_stroke (cr);

  /* Ticks at powers of ten, and the maximum. */
  for (v = 1; maxv > 0 && v <= maxv; v *= 10) {
    g_autofree char *s = short_count (v);
    double y = y0 + (h - 1) * (1.0 - scale (v, maxv));

    cairo_move_to (cr, x + w, y + 0.5);
    cairo_line_to (cr, x + w + 5, y + 0.5);
    cairo_stroke (cr);
    text_at (cr, x + w + 8, y + 4, 11, 0, s);
    if (v > UINT64_MAX / 10)
      break;
  }
  if (maxv > 0) {
    g_autofree char *s = g_strdup_printf ("max %" G_GUINT64_FORMAT, maxv);
    text_at (cr, x - 10, y0 + h + 20, 11, 0, s);
  }

  /* Never read. */
  cairo_set_source_rgb (cr, unread.r, unread.g, unread.b);
  cairo_rectangle (cr, x, y0 + h + 32, w, 14);
  cairo_fill (cr);
  cairo_set_source_rgb (cr, 0, 0, 0);
  text_at (cr, x + w + 8, y0 + h + 44, 11, 0, "never read");
}

/* The sum of the read counts of each cell's heat blocks (saturating),
 * a new array of G->cells; *MAXV is the largest. */
static uint64_t *
sum_cells (const struct hm_header *h, const struct hm_record *recs,
           const struct hm_geometry *g, uint64_t *maxv)
{
  uint64_t *cells = g_new0 (uint64_t, g->cells);
  uint64_t i;

  for (i = 0; i < h->nr_heat_blocks; i++) {
    uint64_t *c = &cells[i / g->cell_heat_blocks];
    *c = *c > UINT64_MAX - recs[i].count ? UINT64_MAX : *c + recs[i].count;
  }
  *maxv = 0;
  for (i = 0; i < g->cells; i++)
    if (cells[i] > *maxv)
      *maxv = cells[i];
  return cells;
}

/* Paint every cell straight into SURFACE's pixels. */
static void
paint_cells (cairo_surface_t *surface, const struct hm_geometry *g,
             const uint64_t *cells, uint64_t maxv)
{
  uint32_t *px, row, col, y, x;
  int stride;
  uint64_t i;

  cairo_surface_flush (surface);
  px = (uint32_t *) cairo_image_surface_get_data (surface);
  stride = cairo_image_surface_get_stride (surface) / 4;
  for (i = 0; i < g->cells; i++) {
    uint32_t colour = pixel (cells[i] ? ramp (scale (cells[i], maxv))
                             : unread);

    row = i / g->cols;
    col = i % g->cols;
    for (y = 0; y < g->cell_px; y++) {
      uint32_t *line = px + (size_t) (HM_RENDER_TOP + row * g->cell_px + y)
        * stride + HM_RENDER_LEFT + col * g->cell_px;
      for (x = 0; x < g->cell_px; x++)
        line[x] = colour;
    }
  }
  cairo_surface_mark_dirty (surface);
}

/* The title, and a subtitle with the sizes of the image, a cell and a
 * row. */
static void
draw_titles (cairo_t *cr, const struct hm_header *h,
             const struct hm_geometry *g, const char *title)
{
  uint64_t heat_block = UINT64_C(1) << h->heat_block_shift;
  g_autofree char *image = hm_format_size (h->image_size);
  g_autofree char *cell = hm_format_size (g->cell_heat_blocks * heat_block);
  g_autofree char *row =
    hm_format_size (g->cell_heat_blocks * heat_block * g->cols);
  g_autofree char *subtitle =
    g_strdup_printf ("image %s, %s per cell, %s per row; %s",
                     image, cell, row, h->identity_text);

  cairo_select_font_face (cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL,
                          CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_source_rgb (cr, 0, 0, 0);
  text_at (cr, HM_RENDER_LEFT, 28, 18, 0, title);
  text_at (cr, HM_RENDER_LEFT, 52, 12, 0, subtitle);
}

/* The offset of the first byte of a row, about every 24 pixels, and a
 * frame around the map. */
static void
draw_rows (cairo_t *cr, const struct hm_header *h,
           const struct hm_geometry *g)
{
  uint64_t heat_block = UINT64_C(1) << h->heat_block_shift;
  uint32_t label_every = 1, row;

  while (label_every * g->cell_px < 24)
    label_every *= 2;
  for (row = 0; row < g->rows; row += label_every) {
    uint64_t off = (uint64_t) row * g->cols * g->cell_heat_blocks * heat_block;
    g_autofree char *s = off == 0 ? g_strdup ("0") : hm_format_size (off);
    double yy = HM_RENDER_TOP + row * g->cell_px;

    text_at (cr, HM_RENDER_LEFT - 8, yy + 10, 11, 1, s);
    cairo_move_to (cr, HM_RENDER_LEFT - 5, yy + 0.5);
    cairo_line_to (cr, HM_RENDER_LEFT, yy + 0.5);
    cairo_stroke (cr);
  }
  cairo_set_line_width (cr, 1);
  cairo_rectangle (cr, HM_RENDER_LEFT - 0.5, HM_RENDER_TOP - 0.5,
                   HM_RENDER_MAP_WIDTH + 1, g->rows * g->cell_px + 1);
  cairo_stroke (cr);
}

int
hm_render_png (const struct hm_header *h, const struct hm_record *recs,
               const char *title, const char *out, GError **err)
{
  struct hm_geometry g;
  g_autofree uint64_t *cells = NULL;
  cairo_surface_t *surface;
  cairo_status_t status;
  cairo_t *cr;
  uint64_t maxv;

  hm_render_geometry (h->nr_heat_blocks, &g);
  cells = sum_cells (h, recs, &g, &maxv);
  surface = cairo_image_surface_create (CAIRO_FORMAT_RGB24,
                                        g.width, g.height);
  cr = cairo_create (surface);
  cairo_set_source_rgb (cr, 1, 1, 1);
  cairo_paint (cr);
  paint_cells (surface, &g, cells, maxv);
  draw_titles (cr, h, &g, title);
  draw_rows (cr, h, &g);
  draw_legend (cr, &g, maxv);
  cairo_destroy (cr);
  status = cairo_surface_write_to_png (surface, out);
  cairo_surface_destroy (surface);
  /* Free cairo's and fontconfig's caches, so that leak checkers see a
   * clean exit (no cairo object is alive any more). */
  cairo_debug_reset_static_data ();
  FcFini ();
  if (status != CAIRO_STATUS_SUCCESS) {
    g_set_error (err, G_FILE_ERROR, G_FILE_ERROR_FAILED,
                 "%s: cannot write PNG: %s", out,
                 cairo_status_to_string (status));
    return -1;
  }
  return 0;
}
