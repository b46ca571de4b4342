/* image.c - format dispatch, area scaling and the cs_image lifetime. */
#include "decode/decode_internal.h"

#include <stdlib.h>
#include <string.h>

void cs_image_free(cs_image *img)
{
    if (!img)
        return;
    free(img->rgb);
    free(img->detail_rgb);
    memset(img, 0, sizeof *img);
}

cs_status cs_decode_frame(const uint8_t *data, size_t len, cs_image *out, cs_error *err)
{
    return cs_decode_frame_detail(data, len, 0, out, err);
}

cs_status cs_decode_frame_detail(const uint8_t *data, size_t len, int detail_min_side,
                                 cs_image *out, cs_error *err)
{
    static const uint8_t png_magic[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

    memset(out, 0, sizeof *out);
    if (!data || len == 0)
        return cs_error_set(err, CS_ERR_EMPTY, "empty frame (0 bytes)");
    if (len > CS_ENCODED_MAX_BYTES)
        return cs_error_set(err, CS_ERR_TOO_LARGE, "frame of %zu bytes exceeds the %u byte limit",
                            len, CS_ENCODED_MAX_BYTES);
    if (len >= 2 && data[0] == 0xFF && data[1] == 0xD8)
        return cs_decode_jpeg(data, len, detail_min_side, out, err);
    if (len >= 8 && memcmp(data, png_magic, 8) == 0)
        return cs_decode_png(data, len, detail_min_side, out, err);
    return cs_error_set(err, CS_ERR_NOT_IMAGE, "not a JPEG or PNG image (starts with %02x %02x)",
                        data[0], len > 1 ? data[1] : 0);
}

/* Classic TIFF, little- or big-endian (BigTIFF's 43 is not taken). */
static int is_tiff(const uint8_t *data, size_t len)
{
    return len >= 4 && (memcmp(data, "II*\0", 4) == 0 || memcmp(data, "MM\0*", 4) == 0);
}

cs_status cs_decode_image(const uint8_t *data, size_t len, cs_image *out, cs_error *err)
{
    return cs_decode_image_detail(data, len, 0, out, err);
}

cs_status cs_decode_image_detail(const uint8_t *data, size_t len, int detail_min_side,
                                 cs_image *out, cs_error *err)
{
    if (data && len <= CS_ENCODED_MAX_BYTES && is_tiff(data, len))
        return cs_decode_tiff(data, len, detail_min_side, out, err);
    cs_status st = cs_decode_frame_detail(data, len, detail_min_side, out, err);
    if (st == CS_ERR_NOT_IMAGE)
        cs_error_set(err, CS_ERR_NOT_IMAGE, "not a JPEG, PNG or TIFF image (starts with %02x %02x)",
                     data[0], len > 1 ? data[1] : 0);
    return st;
}

/* Area-average an RGB image down to ow x oh. Source pixels are assigned to
 * the output cell that contains them, so every source pixel counts exactly
 * once whatever the ratio. NULL when out of memory. */
static uint8_t *area_scale(const uint8_t *rgb, int w, int h, size_t stride, int ow, int oh)
{
    uint32_t *acc = calloc((size_t)ow * oh * 4, sizeof *acc);
    uint8_t *px = malloc((size_t)ow * oh * 3);
    if (!acc || !px) {
        free(acc);
        free(px);
        return NULL;
    }
    for (int y = 0; y < h; y++) {
        const uint8_t *row = rgb + (size_t)y * stride;
        uint32_t *cell_row = acc + (size_t)((int64_t)y * oh / h) * ow * 4;
        for (int x = 0; x < w; x++) {
            uint32_t *c = cell_row + (size_t)((int64_t)x * ow / w) * 4;
            c[0] += row[3 * x];
            c[1] += row[3 * x + 1];
            c[2] += row[3 * x + 2];
            c[3]++;
        }
    }
    for (int i = 0; i < ow * oh; i++) {
        uint32_t n = acc[4 * i + 3] ? acc[4 * i + 3] : 1;
        for (int k = 0; k < 3; k++)
            px[3 * i + k] = (uint8_t)((acc[4 * i + k] + n / 2) / n);
    }
    free(acc);
    return px;
}

cs_status cs_image_from_rgb(const uint8_t *rgb, int w, int h, size_t stride, cs_image *out,
                            cs_error *err)
{
    return cs_image_from_rgb_detail(rgb, w, h, stride, 0, out, err);
}

cs_status cs_image_from_rgb_detail(const uint8_t *rgb, int w, int h, size_t stride,
                                   int detail_min_side, cs_image *out, cs_error *err)
{
    memset(out, 0, sizeof *out);
    if (w < 1 || h < 1 || w > CS_IMAGE_MAX_SIDE || h > CS_IMAGE_MAX_SIDE)
        return cs_error_set(err, CS_ERR_TOO_LARGE, "image dimensions %dx%d out of range", w, h);
    int ow, oh, dw = 0, dh = 0;
    cs_analysis_size(w, h, &ow, &oh);
    if (detail_min_side > 0)
        cs_scaled_size(w, h, detail_min_side, &dw, &dh);
    uint8_t *px = area_scale(rgb, w, h, stride, ow, oh);
    uint8_t *detail = dw > ow ? area_scale(rgb, w, h, stride, dw, dh) : NULL;
    if (!px || (dw > ow && !detail)) {
        free(px);
        free(detail);
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory scaling image");
    }
    out->width = ow;
    out->height = oh;
    out->src_width = w;
    out->src_height = h;
    out->rgb = px;
    if (detail) {
        out->detail_width = dw;
        out->detail_height = dh;
        out->detail_rgb = detail;
    }
    return CS_OK;
}
