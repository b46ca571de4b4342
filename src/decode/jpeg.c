/* jpeg.c - JPEG to analysis-size RGB through libjpeg-turbo's scaled DCT. */
#include "decode/decode_internal.h"

#include <stdio.h> /* before jpeglib.h, which uses FILE */

#include <jpeglib.h>
#include <jerror.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

/* libjpeg reports fatal errors through error_exit, which must not return:
 * we longjmp back to the decode call and turn the message into a cs_error. */
typedef struct jpeg_fail {
    struct jpeg_error_mgr mgr;
    jmp_buf jump;
    char msg[JMSG_LENGTH_MAX];     /* the fatal error, if any */
    char warning[JMSG_LENGTH_MAX]; /* the first warning */
    int warnings;
} jpeg_fail;

static void on_error_exit(j_common_ptr cinfo)
{
    jpeg_fail *f = (jpeg_fail *)cinfo->err;
    f->mgr.format_message(cinfo, f->msg);
    longjmp(f->jump, 1);
}

/* Warnings (corrupt data that libjpeg can step over, premature end of
 * data) are counted; a frame whose entropy data ran out is truncated. */
static void on_emit_message(j_common_ptr cinfo, int level)
{
    jpeg_fail *f = (jpeg_fail *)cinfo->err;
    if (level < 0) {
        if (f->warnings++ == 0)
            f->mgr.format_message(cinfo, f->warning);
    }
}

static void silent_output(j_common_ptr cinfo) { (void)cinfo; }

/* libjpeg-turbo scales by 1/2^k here; pick the largest reduction that keeps
 * the short side at or above min_side. */
static int pick_denom(int w, int h, int min_side)
{
    int shortest = w < h ? w : h;
    int denom = 1;
    /* Output sizes round up, as libjpeg's jdiv_round_up does. */
    while (denom < 8 && (shortest + denom * 2 - 1) / (denom * 2) >= min_side)
        denom *= 2;
    return denom;
}

void cs_scaled_size(int w, int h, int min_side, int *out_w, int *out_h)
{
    int d = pick_denom(w, h, min_side);
    /* Same rounding as libjpeg's jdiv_round_up(w, d). */
    *out_w = (w + d - 1) / d;
    *out_h = (h + d - 1) / d;
}

void cs_analysis_size(int w, int h, int *out_w, int *out_h)
{
    cs_scaled_size(w, h, CS_ANALYSIS_MIN_SIDE, out_w, out_h);
}

/* One decode at the scale whose short side is just >= min_side. */
static cs_status decode_scaled(const uint8_t *data, size_t len, int min_side, cs_image *out,
                               cs_error *err)
{
    struct jpeg_decompress_struct cinfo;
    jpeg_fail fail;
    /* volatile: modified between setjmp and a possible longjmp. */
    uint8_t *volatile pixels = NULL;
    cs_status st = CS_OK;

    memset(out, 0, sizeof *out);
    cinfo.err = jpeg_std_error(&fail.mgr);
    fail.mgr.error_exit = on_error_exit;
    fail.mgr.emit_message = on_emit_message;
    fail.mgr.output_message = silent_output;
    fail.msg[0] = fail.warning[0] = '\0';
    fail.warnings = 0;
    if (setjmp(fail.jump)) {
        /* A fatal error after "premature end" means the bytes ran out. */
        /* libjpeg refuses dimensions over 65500 itself, before our cap. */
        if (fail.mgr.msg_code == JERR_IMAGE_TOO_BIG || fail.mgr.msg_code == JERR_WIDTH_OVERFLOW)
            st = cs_error_set(err, CS_ERR_TOO_LARGE, "JPEG dimensions exceed the %d px limit (%s)",
                              CS_IMAGE_MAX_SIDE, fail.msg);
        else if (fail.warnings && strstr(fail.warning, "Premature end"))
            st = cs_error_set(err, CS_ERR_TRUNCATED, "truncated JPEG: %s (%s)", fail.warning,
                              fail.msg);
        else
            st = cs_error_set(err, CS_ERR_CORRUPT, "corrupt JPEG: %s", fail.msg);
        goto fail;
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, data, (unsigned long)len);
    if (jpeg_read_header(&cinfo, TRUE) != JPEG_HEADER_OK) {
        st = cs_error_set(err, CS_ERR_TRUNCATED, "truncated JPEG: no image header");
        goto fail;
    }
    if (cinfo.image_width > CS_IMAGE_MAX_SIDE || cinfo.image_height > CS_IMAGE_MAX_SIDE) {
        st = cs_error_set(err, CS_ERR_TOO_LARGE, "JPEG dimensions %ux%u exceed the %d px limit",
                          cinfo.image_width, cinfo.image_height, CS_IMAGE_MAX_SIDE);
        goto fail;
    }
    if (cinfo.image_width < 8 || cinfo.image_height < 8) {
        st = cs_error_set(err, CS_ERR_UNSUPPORTED, "JPEG dimensions %ux%u are too small to analyse",
                          cinfo.image_width, cinfo.image_height);
        goto fail;
    }
    if (cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK) {
        st = cs_error_set(err, CS_ERR_UNSUPPORTED, "CMYK JPEG frames are not supported");
        goto fail;
    }
    cinfo.out_color_space = JCS_RGB;
    cinfo.scale_num = 1;
    cinfo.scale_denom =
        (unsigned)pick_denom((int)cinfo.image_width, (int)cinfo.image_height, min_side);
    /* Plain replication upsampling of chroma: the analysis averages colour
     * over regions, so the smoother "fancy" filter buys nothing. */
    cinfo.do_fancy_upsampling = FALSE;
    cinfo.dct_method = JDCT_ISLOW;
    jpeg_start_decompress(&cinfo);

    size_t row = (size_t)cinfo.output_width * 3;
    pixels = malloc(row * cinfo.output_height);
    if (!pixels) {
        st = cs_error_set(err, CS_ERR_NOMEM, "out of memory decoding JPEG");
        goto fail;
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW rows[4];
        for (int i = 0; i < 4; i++)
            rows[i] = pixels + row * (cinfo.output_scanline + (unsigned)i < cinfo.output_height
                                          ? cinfo.output_scanline + (unsigned)i
                                          : cinfo.output_height - 1);
        jpeg_read_scanlines(&cinfo, rows, 4);
    }
    /* libjpeg fills missing entropy data with grey and warns: that frame is
     * truncated, and analysing half a grey frame would mislead the reader. */
    if (fail.warnings > 0) {
        int truncated = strstr(fail.warning, "Premature end") != NULL;
        st = cs_error_set(err, truncated ? CS_ERR_TRUNCATED : CS_ERR_CORRUPT, "%s JPEG: %s",
                          truncated ? "truncated" : "corrupt", fail.warning);
        goto fail;
    }
    jpeg_finish_decompress(&cinfo);
    out->width = (int)cinfo.output_width;
    out->height = (int)cinfo.output_height;
    out->src_width = (int)cinfo.image_width;
    out->src_height = (int)cinfo.image_height;
    out->rgb = pixels;
    jpeg_destroy_decompress(&cinfo);
    return CS_OK;

fail:
    jpeg_destroy_decompress(&cinfo);
    free(pixels);
    memset(out, 0, sizeof *out);
    return st;
}

cs_status cs_decode_jpeg(const uint8_t *data, size_t len, int detail_min_side, cs_image *out,
                         cs_error *err)
{
    cs_status st = decode_scaled(data, len, CS_ANALYSIS_MIN_SIDE, out, err);
    if (st != CS_OK || detail_min_side <= 0)
        return st;
    int w = out->src_width, h = out->src_height;
    if (pick_denom(w, h, detail_min_side) >= pick_denom(w, h, CS_ANALYSIS_MIN_SIDE))
        return CS_OK; /* the analysis image is already that large */
    /* A second decode rather than one larger decode scaled down: the
     * analysis image stays the bytes the other detectors were built on
     * (a 1/8 DC-only IDCT is not a box average of the 1/4 IDCT's output). */
    cs_image d;
    st = decode_scaled(data, len, detail_min_side, &d, err);
    if (st != CS_OK) {
        cs_image_free(out);
        return st;
    }
    out->detail_width = d.width;
    out->detail_height = d.height;
    out->detail_rgb = d.rgb;
    return CS_OK;
}
