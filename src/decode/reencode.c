/* reencode.c - full and scaled decode, area resize and JPEG encode with
 * libjpeg-turbo. */
#include "capscreen/reencode.h"

#include <stdio.h> /* before jpeglib.h, which uses FILE */

#include <jpeglib.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include "capscreen/image.h"

typedef struct fail_mgr {
    struct jpeg_error_mgr mgr;
    jmp_buf jump;
    char msg[JMSG_LENGTH_MAX];
} fail_mgr;

static void on_error_exit(j_common_ptr cinfo)
{
    fail_mgr *f = (fail_mgr *)cinfo->err;
    f->mgr.format_message(cinfo, f->msg);
    longjmp(f->jump, 1);
}

static void silent(j_common_ptr cinfo, int level)
{
    (void)cinfo;
    (void)level;
}

/* Decode at the smallest 1/2^k scale (k <= 3) whose longest side is still
 * >= `min_longest` (0: full size); NULL with `err` filled on failure. */
static uint8_t *decode_scaled(const uint8_t *data, size_t len, int min_longest, int *w, int *h,
                              cs_error *err)
{
    struct jpeg_decompress_struct d;
    fail_mgr f;
    uint8_t *volatile px = NULL;
    d.err = jpeg_std_error(&f.mgr);
    f.mgr.error_exit = on_error_exit;
    f.mgr.emit_message = silent;
    if (setjmp(f.jump)) {
        jpeg_destroy_decompress(&d);
        free(px);
        cs_error_set(err, CS_ERR_CORRUPT, "corrupt JPEG: %s", f.msg);
        return NULL;
    }
    jpeg_create_decompress(&d);
    jpeg_mem_src(&d, data, (unsigned long)len);
    jpeg_read_header(&d, TRUE);
    if (d.image_width > CS_IMAGE_MAX_SIDE || d.image_height > CS_IMAGE_MAX_SIDE) {
        jpeg_destroy_decompress(&d);
        cs_error_set(err, CS_ERR_TOO_LARGE, "JPEG too large to re-encode");
        return NULL;
    }
    d.out_color_space = JCS_RGB;
    int longest = (int)(d.image_width > d.image_height ? d.image_width : d.image_height);
    unsigned denom = 1;
    /* Output sizes round up, as libjpeg's jdiv_round_up does. */
    while (min_longest > 0 && denom < 8 &&
           (longest + (int)denom * 2 - 1) / ((int)denom * 2) >= min_longest)
        denom *= 2;
    d.scale_num = 1;
    d.scale_denom = denom;
    jpeg_start_decompress(&d);
    size_t row = (size_t)d.output_width * 3;
    px = malloc(row * d.output_height);
    if (!px) {
        jpeg_destroy_decompress(&d);
        cs_error_set(err, CS_ERR_NOMEM, "out of memory decoding JPEG");
        return NULL;
    }
    while (d.output_scanline < d.output_height) {
        JSAMPROW r = px + row * d.output_scanline;
        jpeg_read_scanlines(&d, &r, 1);
    }
    jpeg_finish_decompress(&d);
    *w = (int)d.output_width;
    *h = (int)d.output_height;
    jpeg_destroy_decompress(&d);
    return px;
}

/* Area resize: each output pixel averages the source pixels whose centres
 * fall in its footprint (at least one). */
static void resize_area(const uint8_t *src, int sw, int sh, uint8_t *dst, int dw, int dh)
{
    for (int y = 0; y < dh; y++) {
        int y0 = y * sh / dh, y1 = (y + 1) * sh / dh;
        if (y1 <= y0)
            y1 = y0 + 1;
        for (int x = 0; x < dw; x++) {
            int x0 = x * sw / dw, x1 = (x + 1) * sw / dw;
            if (x1 <= x0)
                x1 = x0 + 1;
            uint32_t acc[3] = {0, 0, 0}, n = 0;
            for (int yy = y0; yy < y1; yy++)
                for (int xx = x0; xx < x1; xx++) {
                    const uint8_t *p = src + 3 * ((size_t)yy * sw + xx);
                    acc[0] += p[0];
                    acc[1] += p[1];
                    acc[2] += p[2];
                    n++;
                }
            for (int k = 0; k < 3; k++)
                dst[3 * ((size_t)y * dw + x) + k] = (uint8_t)((acc[k] + n / 2) / n);
        }
    }
}

/* Encode packed RGB; kept apart from the resize so that setjmp guards
 * only the libjpeg calls and no caller variable can be clobbered. */
cs_status cs_jpeg_encode_rgb(const uint8_t *px, int w, int h, int quality, uint8_t **out,
                             size_t *out_len, cs_error *err)
{
    struct jpeg_compress_struct c;
    fail_mgr f;
    unsigned char *buf = NULL;
    unsigned long buf_len = 0;
    c.err = jpeg_std_error(&f.mgr);
    f.mgr.error_exit = on_error_exit;
    if (setjmp(f.jump)) {
        jpeg_destroy_compress(&c);
        free(buf);
        return cs_error_set(err, CS_ERR_IO, "JPEG encode failed: %s", f.msg);
    }
    jpeg_create_compress(&c);
    jpeg_mem_dest(&c, &buf, &buf_len);
    c.image_width = (JDIMENSION)w;
    c.image_height = (JDIMENSION)h;
    c.input_components = 3;
    c.in_color_space = JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, quality, TRUE);
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < c.image_height) {
        JSAMPROW r = (JSAMPROW)(px + (size_t)c.next_scanline * w * 3);
        jpeg_write_scanlines(&c, &r, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    *out = buf;
    *out_len = buf_len;
    return CS_OK;
}

cs_status cs_jpeg_decode_rgb(const uint8_t *data, size_t len, uint8_t **out, int *w, int *h,
                             cs_error *err)
{
    cs_error local = {0};
    *out = decode_scaled(data, len, 0, w, h, err ? err : &local);
    return *out ? CS_OK : (err ? err->code : local.code);
}

cs_status cs_jpeg_reencode(const uint8_t *data, size_t len, int side, int quality, uint8_t **out,
                           size_t *out_len, cs_error *err)
{
    int w = 0, h = 0;
    *out = NULL;
    *out_len = 0;
    if (quality < 1 || quality > 100 || side > CS_IMAGE_MAX_SIDE)
        return cs_error_set(err, CS_ERR_ARG, "bad re-encode parameters (side %d, quality %d)", side,
                            quality);
    uint8_t *full = decode_scaled(data, len, 0, &w, &h, err);
    if (!full)
        return err ? err->code : CS_ERR_CORRUPT;
    uint8_t *px = full;
    int ow = w, oh = h;
    if (side > 0) {
        ow = oh = side;
        px = malloc((size_t)ow * oh * 3);
        if (!px) {
            free(full);
            return cs_error_set(err, CS_ERR_NOMEM, "out of memory re-encoding");
        }
        resize_area(full, w, h, px, ow, oh);
        free(full);
    }
    cs_status st = cs_jpeg_encode_rgb(px, ow, oh, quality, out, out_len, err);
    free(px);
    return st;
}

cs_status cs_jpeg_thumbnail(const uint8_t *data, size_t len, int max_side, int quality,
                            uint8_t **out, size_t *out_len, int *tw, int *th, cs_error *err)
{
    int w = 0, h = 0;
    *out = NULL;
    *out_len = 0;
    if (quality < 1 || quality > 100 || max_side < 1 || max_side > CS_IMAGE_MAX_SIDE)
        return cs_error_set(err, CS_ERR_ARG, "bad thumbnail parameters (side %d, quality %d)",
                            max_side, quality);
    uint8_t *big = decode_scaled(data, len, max_side, &w, &h, err);
    if (!big)
        return err ? err->code : CS_ERR_CORRUPT;
    uint8_t *px = big;
    int ow = w, oh = h;
    if (w > max_side || h > max_side) {
        /* Keep the aspect ratio; the longest side becomes max_side. */
        if (w >= h) {
            ow = max_side;
            oh = (int)(((int64_t)h * max_side + w / 2) / w);
        } else {
            oh = max_side;
            ow = (int)(((int64_t)w * max_side + h / 2) / h);
        }
        ow = ow < 1 ? 1 : ow;
        oh = oh < 1 ? 1 : oh;
        px = malloc((size_t)ow * oh * 3);
        if (!px) {
            free(big);
            return cs_error_set(err, CS_ERR_NOMEM, "out of memory making a thumbnail");
        }
        resize_area(big, w, h, px, ow, oh);
        free(big);
    }
    cs_status st = cs_jpeg_encode_rgb(px, ow, oh, quality, out, out_len, err);
    free(px);
    if (st == CS_OK && tw)
        *tw = ow;
    if (st == CS_OK && th)
        *th = oh;
    return st;
}
