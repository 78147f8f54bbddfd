/* sandbag-heatmap metrics: the heat maps' summaries, and status files
 * of the server (ratetier's, sandbag-server's), as one file of
 * Prometheus text for node_exporter's textfile collector.
 *
 *   sandbag-heatmap metrics -o OUT.prom [--include FILE]... [MAP|DIR]...
 *
 * A DIR stands for its maps: the regular files named *.heatmap in it
 * (not hidden ones, not maps renamed aside), in name order.  Each map
 * gives one sample of each sandbag_heatmap_* family, labelled with its
 * file name (map), its export (export) and its image version (version,
 * the first 16 hex digits of its identity).  Each --include FILE that
 * reads as Prometheus text is copied in whole.  A map or included file
 * that cannot be read is reported on stderr and in the metrics
 * (sandbag_heatmap_maps{state="unreadable"},
 * sandbag_metrics_include_ok), never fatal: one bad map must not hide
 * the others.
 *
 * node_exporter drops a whole file it cannot parse, and may read it at
 * any moment: OUT is replaced atomically (atomic-file.h) with mode
 * 0644, and an included file is copied only if every line is empty, a
 * comment or starts with a metric name.  Maps are read one at a time,
 * so memory is that of the largest map.
 *
 * Returns an exit code of map-load.h: EXIT_OK once OUT is written,
 * EXIT_USAGE, or EXIT_IO if a DIR cannot be listed or OUT cannot be
 * written (OUT is then left as it was).
 */
#ifndef SANDBAG_HEATMAP_METRICS_H
#define SANDBAG_HEATMAP_METRICS_H

/* ARGV[0] is "metrics". */
extern int hm_cmd_metrics (int argc, char **argv);

#endif /* SANDBAG_HEATMAP_METRICS_H */
