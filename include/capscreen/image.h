/* image.h - a decoded frame at analysis size, and the decoders that make one.
 *
 * The engine never needs a full-size frame: it analyses frames at about
 * CS_ANALYSIS_MIN_SIDE pixels on the short side. JPEGs are decoded with
 * libjpeg-turbo's scaled DCT (1/2, 1/4, 1/8), so most of the inverse DCT and
 * colour conversion work of a full decode is never done.
 *
 * Ownership: a cs_image owns `rgb`; release it with cs_image_free(), which
 * accepts a zeroed or already-freed image. Thread-safe: decoders keep no
 * shared state, so any number of threads may decode at once. */
#ifndef CAPSCREEN_IMAGE_H
#define CAPSCREEN_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "capscreen/status.h"

/* Short side the analysis wants at least; the scale picked is the smallest
 * libjpeg-turbo scale whose output short side is still >= this. */
#define CS_ANALYSIS_MIN_SIDE 64
/* Refuse frames larger than this on either side (absurd dimensions are a
 * sign of corruption or hostile input, and would cost memory). */
#define CS_IMAGE_MAX_SIDE 8192
/* Refuse encoded frames larger than this many bytes. */
#define CS_ENCODED_MAX_BYTES (32u * 1024u * 1024u)

typedef struct cs_image {
    int width, height;         /* analysis size, pixels */
    int src_width, src_height; /* size of the encoded frame */
    uint8_t *rgb;              /* width*height*3 bytes, rows packed */
    /* The same frame at a larger scale for a detector that needs more
     * pixels than the analysis image (the polyp network with an input over
     * 80 px): detail_width*detail_height*3 bytes, or NULL when not asked
     * for or not larger. Owned like rgb. The analysis image is the same
     * bytes whether or not a detail image is made. */
    int detail_width, detail_height;
    uint8_t *detail_rgb;
} cs_image;

void cs_image_free(cs_image *img);

/* Pick the analysis size for a frame of w x h: the output of the smallest
 * 1/2^k scale (k <= 3) whose short side stays >= CS_ANALYSIS_MIN_SIDE.
 * Used by the JPEG decoder and by sources that scale frames themselves
 * (video), so every source feeds the engine comparable images. */
void cs_analysis_size(int w, int h, int *out_w, int *out_h);
/* The same rule for another short side: the output of the smallest 1/2^k
 * scale (k <= 3) whose short side stays >= min_side (full size if none). */
void cs_scaled_size(int w, int h, int min_side, int *out_w, int *out_h);

/* Decode an encoded frame (JPEG or PNG, told apart by magic bytes) to
 * analysis size; a PNG's transparency is composited onto black. Errors: CS_ERR_EMPTY, CS_ERR_NOT_IMAGE, CS_ERR_TRUNCATED,
 * CS_ERR_CORRUPT, CS_ERR_UNSUPPORTED, CS_ERR_TOO_LARGE, CS_ERR_NOMEM, each
 * with a reason in `err`. On error `out` is left zeroed. */
cs_status cs_decode_frame(const uint8_t *data, size_t len, cs_image *out,
                          cs_error *err) CS_WARN_UNUSED;
/* cs_decode_frame, and when detail_min_side (cs_engine_detail_side) asks
 * for a larger scale than the analysis image's, the detail image too: a
 * second decode (JPEG: libjpeg-turbo's scaled DCT at that scale; PNG: an
 * area average of the full decode), so the analysis image is exactly what
 * cs_decode_frame gives. detail_min_side 0: no detail image. Errors as
 * cs_decode_frame. */
cs_status cs_decode_frame_detail(const uint8_t *data, size_t len, int detail_min_side,
                                 cs_image *out, cs_error *err) CS_WARN_UNUSED;

/* cs_decode_frame(_detail) for images that are not a study's frames: also
 * TIFF (the first image; any bit depth, grey, palette, the usual
 * compressions, through libtiff), as colonoscopy data sets ship frames and
 * masks (`capscreen eval`). Not for frames a reader is to be shown: a
 * browser cannot show a TIFF, so study frames stay JPEG or PNG. Errors as
 * cs_decode_frame (a TIFF cut short: CS_ERR_TRUNCATED or CS_ERR_CORRUPT). */
cs_status cs_decode_image(const uint8_t *data, size_t len, cs_image *out,
                          cs_error *err) CS_WARN_UNUSED;
cs_status cs_decode_image_detail(const uint8_t *data, size_t len, int detail_min_side,
                                 cs_image *out, cs_error *err) CS_WARN_UNUSED;

/* Scale an RGB image (rows of `stride` bytes) to analysis size with an area
 * average. `out` receives a new image. */
cs_status cs_image_from_rgb(const uint8_t *rgb, int w, int h, size_t stride, cs_image *out,
                            cs_error *err) CS_WARN_UNUSED;
/* cs_image_from_rgb, plus a detail image (area average to
 * cs_scaled_size(w, h, detail_min_side)) when that is larger. */
cs_status cs_image_from_rgb_detail(const uint8_t *rgb, int w, int h, size_t stride,
                                   int detail_min_side, cs_image *out,
                                   cs_error *err) CS_WARN_UNUSED;

#endif
