/* png.c - PNG frames through libpng's simplified API, then area-scaled. */
#include "decode/decode_internal.h"

#include <png.h>
#include <stdlib.h>
#include <string.h>

cs_status cs_decode_png(const uint8_t *data, size_t len, int detail_min_side, cs_image *out,
                        cs_error *err)
{
    png_image png;
    cs_status st;

    memset(out, 0, sizeof *out);
    memset(&png, 0, sizeof png);
    png.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_memory(&png, data, len))
        return cs_error_set(err, CS_ERR_CORRUPT, "corrupt PNG: %s", png.message);
    if (png.width > CS_IMAGE_MAX_SIDE || png.height > CS_IMAGE_MAX_SIDE) {
        st = cs_error_set(err, CS_ERR_TOO_LARGE, "PNG dimensions %ux%u exceed the %d px limit",
                          png.width, png.height, CS_IMAGE_MAX_SIDE);
        png_image_free(&png);
        return st;
    }
    if (png.width < 8 || png.height < 8) {
        st = cs_error_set(err, CS_ERR_UNSUPPORTED, "PNG dimensions %ux%u are too small to analyse",
                          png.width, png.height);
        png_image_free(&png);
        return st;
    }
    /* A 16-bit PNG without a gAMA or sRGB chunk is sRGB-encoded like an
     * 8-bit one; the simplified API would otherwise take it as linear light
     * and brighten it on the way to 8-bit sRGB. A gAMA chunk still wins.
     * Only settable after begin_read, which resets `flags`. */
    png.flags |= PNG_IMAGE_FLAG_16BIT_sRGB;
    png.format = PNG_FORMAT_RGB;
    size_t stride = (size_t)png.width * 3;
    uint8_t *full = malloc(stride * png.height);
    if (!full) {
        png_image_free(&png);
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory decoding PNG");
    }
    /* Transparency is composited onto black, the colour of "no image"
     * (a capsule frame's vignette; a mask's background). Without a
     * background libpng composites onto whatever the buffer holds, here
     * uninitialised heap: the pixels would differ from run to run. */
    static const png_color black = {0, 0, 0};
    if (!png_image_finish_read(&png, &black, full, (png_int_32)stride, NULL)) {
        st =
            cs_error_set(err,
                         strstr(png.message, "EOF") || strstr(png.message, "end") ? CS_ERR_TRUNCATED
                                                                                  : CS_ERR_CORRUPT,
                         "corrupt PNG: %s", png.message);
        png_image_free(&png);
        free(full);
        return st;
    }
    st = cs_image_from_rgb_detail(full, (int)png.width, (int)png.height, stride, detail_min_side,
                                  out, err);
    free(full);
    return st;
}
