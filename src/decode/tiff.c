/* tiff.c - TIFF frames (CVC-ClinicDB, ETIS-LaribPolypDB and other
 * colonoscopy sets ship them) through libtiff's RGBA interface, which takes
 * any bit depth, palette, grey, YCbCr and the usual compressions; then
 * area-scaled like a PNG. Only the first image of a multi-page file is read.
 *
 * libtiff reports through handlers that are global unless given per file:
 * each decode opens its file with its own handlers (TIFFClientOpenExt), so
 * the first error is kept for the message and nothing goes to stderr, and
 * threads may decode at once. */
#include "decode/decode_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tiffio.h>

/* The bytes being read, as libtiff's client I/O sees a file. */
typedef struct tiff_mem {
    const uint8_t *data;
    size_t len, pos;
    char msg[256]; /* the first error libtiff reported */
} tiff_mem;

static tmsize_t mem_read(thandle_t h, void *buf, tmsize_t n)
{
    tiff_mem *m = h;
    size_t left = m->len - m->pos;
    size_t k = n < 0 ? 0 : (size_t)n < left ? (size_t)n : left;
    memcpy(buf, m->data + m->pos, k);
    m->pos += k;
    return (tmsize_t)k;
}

static tmsize_t mem_write(thandle_t h, void *buf, tmsize_t n)
{
    (void)h, (void)buf, (void)n;
    return -1;
}

static toff_t mem_seek(thandle_t h, toff_t off, int whence)
{
    tiff_mem *m = h;
    uint64_t base = whence == SEEK_CUR ? m->pos : whence == SEEK_END ? m->len : 0;
    if (whence != SEEK_SET && whence != SEEK_CUR && whence != SEEK_END)
        return (toff_t)-1;
    /* off is unsigned: a backward seek arrives as its two's complement. */
    uint64_t to = base + off;
    if (to > m->len)
        return (toff_t)-1;
    m->pos = (size_t)to;
    return to;
}

static int mem_close(thandle_t h)
{
    (void)h;
    return 0;
}

static toff_t mem_size(thandle_t h) { return ((tiff_mem *)h)->len; }

static int on_error(TIFF *tif, void *user, const char *module, const char *fmt, va_list ap)
{
    (void)tif, (void)module;
    tiff_mem *m = user;
    if (m->msg[0] == '\0')
        vsnprintf(m->msg, sizeof m->msg, fmt, ap);
    return 1; /* handled: not the global handler's stderr */
}

static int on_warning(TIFF *tif, void *user, const char *module, const char *fmt, va_list ap)
{
    (void)tif, (void)user, (void)module, (void)fmt, (void)ap;
    return 1; /* unknown tags and the like: nothing the frame needs */
}

/* A whole RGBA raster is w*h*4 bytes; libtiff's own buffers for one strip
 * or tile stay below this (a hostile header cannot make it allocate more). */
#define TIFF_MAX_ALLOC ((tmsize_t)CS_IMAGE_MAX_SIDE * CS_IMAGE_MAX_SIDE * 4)

cs_status cs_decode_tiff(const uint8_t *data, size_t len, int detail_min_side, cs_image *out,
                         cs_error *err)
{
    tiff_mem m = {.data = data, .len = len};
    uint32_t *raster = NULL;
    uint8_t *rgb = NULL;
    cs_status st;

    memset(out, 0, sizeof *out);
    TIFFOpenOptions *opts = TIFFOpenOptionsAlloc();
    if (!opts)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory decoding TIFF");
    TIFFOpenOptionsSetMaxSingleMemAlloc(opts, TIFF_MAX_ALLOC);
    TIFFOpenOptionsSetErrorHandlerExtR(opts, on_error, &m);
    TIFFOpenOptionsSetWarningHandlerExtR(opts, on_warning, &m);
    /* "rm": read only, never memory-map (there is no file). */
    TIFF *tif = TIFFClientOpenExt("frame", "rm", &m, mem_read, mem_write, mem_seek, mem_close,
                                  mem_size, NULL, NULL, opts);
    TIFFOpenOptionsFree(opts);
    if (!tif)
        return cs_error_set(err, CS_ERR_CORRUPT, "corrupt TIFF: %s",
                            m.msg[0] ? m.msg : "no readable image directory");
    uint32_t w = 0, h = 0;
    TIFFGetField(tif, TIFFTAG_IMAGEWIDTH, &w);
    TIFFGetField(tif, TIFFTAG_IMAGELENGTH, &h);
    char why[1024] = "";
    if (w > CS_IMAGE_MAX_SIDE || h > CS_IMAGE_MAX_SIDE) {
        st = cs_error_set(err, CS_ERR_TOO_LARGE, "TIFF dimensions %ux%u exceed the %d px limit", w,
                          h, CS_IMAGE_MAX_SIDE);
        goto done;
    }
    if (w < 8 || h < 8) {
        st = cs_error_set(err, CS_ERR_UNSUPPORTED, "TIFF dimensions %ux%u are too small to analyse",
                          w, h);
        goto done;
    }
    if (!TIFFRGBAImageOK(tif, why)) {
        st = cs_error_set(err, CS_ERR_UNSUPPORTED, "unsupported TIFF: %s", why);
        goto done;
    }
    raster = malloc((size_t)w * h * sizeof *raster);
    rgb = malloc((size_t)w * h * 3);
    if (!raster || !rgb) {
        st = cs_error_set(err, CS_ERR_NOMEM, "out of memory decoding TIFF");
        goto done;
    }
    /* stop on the first error: a frame with missing strips is not shown
     * half blank. */
    if (!TIFFReadRGBAImageOriented(tif, w, h, raster, ORIENTATION_TOPLEFT, 1) || m.msg[0]) {
        int cut = strstr(m.msg, "Read error") || strstr(m.msg, "unexpected end") ||
                  strstr(m.msg, "Premature") || strstr(m.msg, "Seek error");
        st = cs_error_set(err, cut ? CS_ERR_TRUNCATED : CS_ERR_CORRUPT, "%s TIFF: %s",
                          cut ? "truncated" : "corrupt", m.msg[0] ? m.msg : "unreadable pixels");
        goto done;
    }
    /* Alpha, if any, is already multiplied in (over black). */
    for (size_t i = 0; i < (size_t)w * h; i++) {
        rgb[3 * i] = (uint8_t)TIFFGetR(raster[i]);
        rgb[3 * i + 1] = (uint8_t)TIFFGetG(raster[i]);
        rgb[3 * i + 2] = (uint8_t)TIFFGetB(raster[i]);
    }
    st = cs_image_from_rgb_detail(rgb, (int)w, (int)h, (size_t)w * 3, detail_min_side, out, err);
done:
    TIFFClose(tif);
    free(raster);
    free(rgb);
    return st;
}
