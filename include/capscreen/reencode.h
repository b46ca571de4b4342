/* reencode.h - resize and re-encode a JPEG frame, to check that analysis
 * does not depend on a frame's JPEG history (training augmentation, the
 * robustness test, the benchmark's study builder).
 *
 * Ownership: *out is a malloc'd buffer the caller frees. Thread-safe. */
#ifndef CAPSCREEN_REENCODE_H
#define CAPSCREEN_REENCODE_H

#include <stddef.h>
#include <stdint.h>

#include "capscreen/status.h"

/* Decode `data` at full size, resize to side x side with an area filter
 * (side <= 0 keeps the size), encode at `quality` (1..100, 4:2:0). */
cs_status cs_jpeg_reencode(const uint8_t *data, size_t len, int side, int quality,
                           uint8_t **out, size_t *out_len, cs_error *err) CS_WARN_UNUSED;

#endif
