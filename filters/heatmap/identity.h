/* The identity of an image version, as the heatmap filter sees it.
 *
 * The filter sits above the plugin and cannot see inodes or mtimes, so
 * it identifies a version from what the backend tells every client:
 *   - the size;
 *   - the export description (sandbag's includes the image's size and
 *     modification time; other plugins may give none);
 *   - the first and the last HM_ID_SAMPLE bytes of the image (read
 *     through the backend when a connection starts; "last" ends at the
 *     image size rounded down to the backend's NBD minimum block size, so
 *     changing that setting can change the identity of an image whose
 *     size is not a multiple of it).
 * Two versions with the same identity share a map.  The samples catch a
 * republished image of the same size even when the plugin gives no
 * description, at the cost of two 64 KiB reads per connection; a change
 * confined to the middle of an image that keeps its size and
 * description is not noticed.  A description that changes without the
 * data changing (a touched file under sandbag) starts a new map.
 *
 * Contract of hm_identity_compute: a pure function of its arguments
 * (DESCRIPTION may be NULL, meaning none, which differs from "").
 * DIGEST receives the SHA-256 of an unambiguous encoding of all the
 * inputs; TEXT (HM_TEXT_LEN bytes) receives a human-readable,
 * printable-ASCII, NUL-terminated summary "size=N desc=..." (the
 * description truncated if need be).
 */
#ifndef SANDBAG_HEATMAP_IDENTITY_H
#define SANDBAG_HEATMAP_IDENTITY_H

#include <stddef.h>
#include <stdint.h>

#include "heatmap-format.h"

#define HM_ID_SAMPLE 65536

void hm_identity_compute (uint64_t size, const char *description,
                          const void *head, size_t head_len,
                          const void *tail, size_t tail_len,
                          uint8_t digest[HM_IDENTITY_LEN],
                          char text[HM_TEXT_LEN]);

#endif /* SANDBAG_HEATMAP_IDENTITY_H */
