/* Turning an export name (hostile: chosen by the client, any bytes,
 * up to 4096 of them) into the base name of its heat map in
 * heatmap-dir.
 *
 * Contract of hm_map_basename (NAME): returns a newly allocated string
 * (free with g_free) that
 *   - ends in ".heatmap";
 *   - contains only [A-Za-z0-9._%~=-], never '/', and never starts
 *     with '.', so it is a plain file name in the directory and never a
 *     hidden, temporary or renamed-aside file of ours;
 *   - is at most HM_MAX_BASENAME bytes;
 *   - is different for different names (injective): bytes outside
 *     [A-Za-z0-9_-] and '.' (except a leading '.') are written %XX;
 *     the empty name (the default export) is "=default"; a name whose
 *     encoding would be too long is a prefix of its encoding, '~', and
 *     the SHA-256 of the whole name in hex.
 */
#ifndef SANDBAG_HEATMAP_EXPORT_NAME_H
#define SANDBAG_HEATMAP_EXPORT_NAME_H

#define HM_MAP_SUFFIX ".heatmap"
#define HM_MAX_BASENAME 200

char *hm_map_basename (const char *name);

#endif /* SANDBAG_HEATMAP_EXPORT_NAME_H */
