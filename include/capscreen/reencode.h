/* reencode.h - resize and re-encode a JPEG frame, to check that analysis
 * does not depend on a frame's JPEG history (training augmentation, the
 * robustness test, the benchmark's study builder), and to make the reading
 * workstation's thumbnails.
 *
 * Ownership: *out is a malloc'd buffer the caller frees. Thread-safe. */
#ifndef CAPSCREEN_REENCODE_H
#define CAPSCREEN_REENCODE_H

#include <stddef.h>
#include <stdint.h>

#include "capscreen/status.h"

/* Decode `data` at full size, resize to side x side with an area filter
 * (side <= 0 keeps the size), encode at `quality` (1..100, 4:2:0). */
cs_status cs_jpeg_reencode(const uint8_t *data, size_t len, int side, int quality, uint8_t **out,
                           size_t *out_len, cs_error *err) CS_WARN_UNUSED;

/* A thumbnail of a JPEG: decode at the smallest libjpeg-turbo DCT scale
 * (1/2, 1/4, 1/8) whose longest side is still >= max_side, area-resize to
 * longest side max_side (aspect kept; a smaller frame keeps its size),
 * encode at `quality`. tw and th (either may be NULL) get the thumbnail's
 * size. Errors: CS_ERR_ARG (max_side outside 1..CS_IMAGE_MAX_SIDE, quality
 * outside 1..100), CS_ERR_CORRUPT (not a decodable JPEG), CS_ERR_TOO_LARGE
 * (a side over CS_IMAGE_MAX_SIDE), CS_ERR_NOMEM, CS_ERR_IO (encode). */
cs_status cs_jpeg_thumbnail(const uint8_t *data, size_t len, int max_side, int quality,
                            uint8_t **out, size_t *out_len, int *tw, int *th,
                            cs_error *err) CS_WARN_UNUSED;

/* Decode a JPEG at full size to packed RGB (*out malloc'd, caller frees).
 * Errors: CS_ERR_CORRUPT, CS_ERR_TOO_LARGE (a side over CS_IMAGE_MAX_SIDE),
 * CS_ERR_NOMEM. Used by the re-encoder and by tests. */
cs_status cs_jpeg_decode_rgb(const uint8_t *data, size_t len, uint8_t **out, int *w, int *h,
                             cs_error *err) CS_WARN_UNUSED;

/* Encode packed RGB (w*h*3 bytes) as a baseline 4:2:0 JPEG at `quality`;
 * *out is malloc'd (caller frees). Errors: CS_ERR_IO. */
cs_status cs_jpeg_encode_rgb(const uint8_t *rgb, int w, int h, int quality, uint8_t **out,
                             size_t *out_len, cs_error *err) CS_WARN_UNUSED;

#endif
