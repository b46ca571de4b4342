/* test_decode.c - frame decoding (src/decode/): the analysis size each
 * frame decodes to, JPEG and PNG agreeing on colour, 16-bit PNG agreeing
 * with 8-bit unless a gAMA chunk says otherwise, the exact status of each
 * kind of bad input, and the area average of cs_image_from_rgb.
 *
 * Most inputs are made at test time with libjpeg-turbo and libpng; the
 * cases on a real capsule frame skip (cmocka skip) without the shared set. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <jpeglib.h>
#include <png.h>
#include <tiffio.h>

#include "capscreen/image.h"
#include "capscreen/reencode.h"
#include "testutil.h"

#define REAL_FRAME "wcb-0604.jpg"

/* A smooth colourful test card with some texture, w x h packed RGB. */
static uint8_t *test_card(int w, int h)
{
    uint8_t *px = malloc((size_t)w * h * 3);
    assert_non_null(px);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *p = px + 3 * ((size_t)y * w + x);
            p[0] = (uint8_t)(40 + 180 * x / w);
            p[1] = (uint8_t)(30 + 150 * y / h);
            p[2] = (uint8_t)(((x / 8 + y / 8) & 1) ? 170 : 90);
        }
    return px;
}

static void jpeg_card(int w, int h, int quality, uint8_t **out, size_t *len)
{
    uint8_t *px = test_card(w, h);
    assert_int_equal(tu_jpeg_encode(px, w, h, quality, out, len), 0);
    free(px);
}

/* Fill `img` with a pattern so a decoder that forgets to zero it shows. */
static void dirty(cs_image *img) { memset(img, 0xA5, sizeof *img); }

static void assert_zeroed(const cs_image *img)
{
    assert_null(img->rgb);
    assert_int_equal(img->width, 0);
    assert_int_equal(img->height, 0);
    assert_int_equal(img->src_width, 0);
    assert_int_equal(img->src_height, 0);
}

/* Decode expecting failure with `want` (CS_OK: any error); check the
 * reason is filled and `out` zeroed. Returns the status. */
static cs_status decode_fails(const uint8_t *data, size_t len, cs_status want)
{
    cs_image img;
    cs_error err = {0};
    dirty(&img);
    cs_status st = cs_decode_frame(data, len, &img, &err);
    assert_int_not_equal(st, CS_OK);
    if (want != CS_OK)
        assert_int_equal(st, want);
    assert_int_equal(err.code, st);
    assert_true(strlen(err.msg) > 0);
    assert_zeroed(&img);
    return st;
}

static void mean_rgb(const cs_image *img, double m[3])
{
    size_t n = (size_t)img->width * img->height;
    double s[3] = {0, 0, 0};
    for (size_t i = 0; i < n; i++)
        for (int k = 0; k < 3; k++)
            s[k] += img->rgb[3 * i + k];
    for (int k = 0; k < 3; k++)
        m[k] = s[k] / (double)n;
}

/* ---- analysis size ----------------------------------------------------- */

static void test_analysis_size_picks_smallest_scale_keeping_64(void **state)
{
    (void)state;
    static const struct {
        int w, h, ow, oh;
    } cases[] = {
        {640, 640, 80, 80}, {336, 336, 84, 84},       {224, 224, 112, 112}, {576, 576, 72, 72},
        {256, 256, 64, 64}, {100, 100, 100, 100},     {300, 200, 150, 100}, {200, 300, 100, 150},
        {333, 333, 84, 84}, {8192, 8192, 1024, 1024}, {16, 16, 16, 16},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int ow = -1, oh = -1;
        cs_analysis_size(cases[i].w, cases[i].h, &ow, &oh);
        assert_int_equal(ow, cases[i].ow);
        assert_int_equal(oh, cases[i].oh);
    }
}

static void test_real_jpeg_decodes_to_80x80(void **state)
{
    (void)state;
    if (!tu_have_shared()) {
        printf("SKIP: shared frames not found\n");
        skip();
    }
    size_t len = 0;
    uint8_t *data = tu_read_shared_frame(REAL_FRAME, &len);
    assert_non_null(data);
    cs_image img;
    cs_error err = {0};
    dirty(&img);
    assert_int_equal(cs_decode_frame(data, len, &img, &err), CS_OK);
    assert_int_equal(img.src_width, 640);
    assert_int_equal(img.src_height, 640);
    assert_int_equal(img.width, 80);
    assert_int_equal(img.height, 80);
    assert_non_null(img.rgb);
    /* A capsule frame is reddish mucosa, not grey fill. */
    double m[3];
    mean_rgb(&img, m);
    assert_true(m[0] > m[1] + 20);
    cs_image_free(&img);
    assert_null(img.rgb);
    cs_image_free(&img); /* a freed image may be freed again */
    free(data);
}

static void test_reencoded_real_jpeg_sizes_follow_analysis_size(void **state)
{
    (void)state;
    if (!tu_have_shared()) {
        printf("SKIP: shared frames not found\n");
        skip();
    }
    size_t len = 0;
    uint8_t *data = tu_read_shared_frame(REAL_FRAME, &len);
    assert_non_null(data);
    static const int sides[] = {336, 224, 333, 130, 129, 70};
    for (size_t i = 0; i < sizeof sides / sizeof sides[0]; i++) {
        uint8_t *small = NULL;
        size_t small_len = 0;
        cs_error err = {0};
        assert_int_equal(cs_jpeg_reencode(data, len, sides[i], 80, &small, &small_len, &err),
                         CS_OK);
        cs_image img;
        assert_int_equal(cs_decode_frame(small, small_len, &img, &err), CS_OK);
        int ow, oh;
        cs_analysis_size(sides[i], sides[i], &ow, &oh);
        assert_int_equal(img.src_width, sides[i]);
        assert_int_equal(img.width, ow);
        assert_int_equal(img.height, oh);
        assert_true(img.width >= CS_ANALYSIS_MIN_SIDE);
        cs_image_free(&img);
        free(small);
    }
    free(data);
}

static void test_synthetic_jpeg_sizes_336_224_and_non_square(void **state)
{
    (void)state;
    static const struct {
        int w, h, ow, oh;
    } cases[] = {
        {336, 336, 84, 84},
        {224, 224, 112, 112},
        {300, 200, 150, 100},
        {64, 96, 64, 96},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t *jpg = NULL;
        size_t len = 0;
        jpeg_card(cases[i].w, cases[i].h, 90, &jpg, &len);
        cs_image img;
        cs_error err = {0};
        assert_int_equal(cs_decode_frame(jpg, len, &img, &err), CS_OK);
        assert_int_equal(img.width, cases[i].ow);
        assert_int_equal(img.height, cases[i].oh);
        assert_int_equal(img.src_width, cases[i].w);
        assert_int_equal(img.src_height, cases[i].h);
        cs_image_free(&img);
        free(jpg);
    }
}

/* ---- PNG ---------------------------------------------------------------- */

static void test_png_decodes_with_jpeg_colours(void **state)
{
    (void)state;
    const int w = 640, h = 480;
    uint8_t *px = test_card(w, h);
    uint8_t *jpg = NULL, *png = NULL;
    size_t jpg_len = 0, png_len = 0;
    assert_int_equal(tu_jpeg_encode(px, w, h, 95, &jpg, &jpg_len), 0);
    assert_int_equal(tu_png_encode(px, w, h, &png, &png_len), 0);

    cs_image a, b;
    cs_error err = {0};
    assert_int_equal(cs_decode_frame(jpg, jpg_len, &a, &err), CS_OK);
    dirty(&b);
    assert_int_equal(cs_decode_frame(png, png_len, &b, &err), CS_OK);
    assert_int_equal(b.src_width, w);
    assert_int_equal(b.src_height, h);
    assert_int_equal(b.width, a.width); /* 160x120: same analysis size */
    assert_int_equal(b.height, a.height);
    assert_int_equal(b.width, 160);

    double ma[3], mb[3];
    mean_rgb(&a, ma);
    mean_rgb(&b, mb);
    double pixel_diff = 0;
    for (size_t i = 0; i < (size_t)a.width * a.height * 3; i++)
        pixel_diff += abs((int)a.rgb[i] - (int)b.rgb[i]);
    pixel_diff /= (double)a.width * a.height * 3;
    for (int k = 0; k < 3; k++)
        assert_true(ma[k] - mb[k] < 3.0 && mb[k] - ma[k] < 3.0);
    assert_true(pixel_diff < 8.0);
    /* The colours are the card's, not flat grey. */
    assert_true(mb[0] > 120 && mb[0] < 140);
    cs_image_free(&a);
    cs_image_free(&b);
    free(px);
    free(jpg);
    free(png);
}

/* Encode packed RGB as a striped TIFF file with libtiff (8 rows a strip,
 * `compression` one of libtiff's COMPRESSION_*); the bytes, malloc'd. */
static uint8_t *tiff_encode(const uint8_t *rgb, int w, int h, int compression, size_t *len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/card.tif", tu_tmpdir());
    TIFF *t = TIFFOpen(path, "w");
    assert_non_null(t);
    TIFFSetField(t, TIFFTAG_IMAGEWIDTH, (uint32_t)w);
    TIFFSetField(t, TIFFTAG_IMAGELENGTH, (uint32_t)h);
    TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, 3);
    TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, 8);
    TIFFSetField(t, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_RGB);
    TIFFSetField(t, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
    TIFFSetField(t, TIFFTAG_COMPRESSION, compression);
    TIFFSetField(t, TIFFTAG_ROWSPERSTRIP, 8);
    for (int y = 0; y < h; y++)
        assert_int_equal(TIFFWriteScanline(t, (void *)(rgb + (size_t)y * w * 3), (uint32_t)y, 0),
                         1);
    TIFFClose(t);
    uint8_t *data = tu_read_file(path, len);
    assert_non_null(data);
    return data;
}

/* cs_decode_image: a TIFF (raw or LZW) holds the PNG's exact pixels: the
 * same analysis image, byte for byte; cut short, it is an error, not a
 * half-grey frame. cs_decode_frame (a study's frames) refuses it. */
static void test_tiff_decodes_like_png(void **state)
{
    (void)state;
    const int w = 384, h = 288;
    uint8_t *px = test_card(w, h);
    uint8_t *png = NULL;
    size_t png_len = 0;
    assert_int_equal(tu_png_encode(px, w, h, &png, &png_len), 0);
    cs_image a, b;
    cs_error err = {0};
    assert_int_equal(cs_decode_image(png, png_len, &a, &err), CS_OK);
    static const int compressions[] = {COMPRESSION_NONE, COMPRESSION_LZW};
    for (int c = 0; c < 2; c++) {
        size_t len = 0;
        uint8_t *tif = tiff_encode(px, w, h, compressions[c], &len);
        dirty(&b);
        assert_int_equal(cs_decode_frame(tif, len, &b, &err), CS_ERR_NOT_IMAGE);
        assert_null(b.rgb);
        dirty(&b);
        assert_int_equal(cs_decode_image(tif, len, &b, &err), CS_OK);
        assert_int_equal(b.src_width, w);
        assert_int_equal(b.src_height, h);
        assert_int_equal(b.width, a.width);
        assert_int_equal(b.height, a.height);
        assert_memory_equal(a.rgb, b.rgb, (size_t)a.width * a.height * 3);
        cs_image_free(&b);
        /* libtiff writes the directory after the strips: half the file
         * has none (a cut after the directory, with rows missing, is
         * cli_eval_formats.sh's). */
        dirty(&b);
        cs_status st = cs_decode_image(tif, len / 2, &b, &err);
        assert_true(st == CS_ERR_TRUNCATED || st == CS_ERR_CORRUPT);
        assert_non_null(strstr(err.msg, "TIFF"));
        assert_null(b.rgb);
        free(tif);
    }
    cs_image_free(&a);
    free(px);
    free(png);
}

/* Decode `png` after leaving `junk` bytes in a freed heap block of the
 * size the decoder allocates for a 64x64 frame (malloc hands it back). */
static void decode_after_junk(const uint8_t *png, size_t len, uint8_t junk, cs_image *out)
{
    uint8_t *heap = malloc(64 * 64 * 3);
    assert_non_null(heap);
    memset(heap, junk, 64 * 64 * 3);
    free(heap);
    cs_error err = {0};
    assert_int_equal(cs_decode_frame(png, len, out, &err), CS_OK);
}

/* A PNG with transparency (RGBA, or a mask kept in grey + alpha) is
 * composited onto black, the same every time: libpng given no background
 * composites onto whatever the output buffer held. */
static void test_png_alpha_is_composited_onto_black(void **state)
{
    (void)state;
    enum { W = 64, H = 64 };
    uint8_t *rgba = malloc(W * H * 4);
    assert_non_null(rgba);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            uint8_t *p = rgba + ((size_t)y * W + x) * 4;
            int opaque = x < W / 2, half = x == W / 2;
            p[0] = opaque ? 200 : 255;
            p[1] = opaque ? 100 : 255;
            p[2] = opaque ? 50 : 255;
            p[3] = opaque ? 255 : half ? 128 : 0;
        }
    png_image pi;
    memset(&pi, 0, sizeof pi);
    pi.version = PNG_IMAGE_VERSION;
    pi.width = W;
    pi.height = H;
    pi.format = PNG_FORMAT_RGBA;
    png_alloc_size_t len = 0;
    assert_true(png_image_write_to_memory(&pi, NULL, &len, 0, rgba, 0, NULL));
    uint8_t *png = malloc(len);
    assert_non_null(png);
    assert_true(png_image_write_to_memory(&pi, png, &len, 0, rgba, 0, NULL));

    cs_image a, b;
    decode_after_junk(png, len, 0x5A, &a);
    decode_after_junk(png, len, 0xFF, &b);
    assert_int_equal(a.width, W);
    assert_int_equal(a.height, H);
    assert_memory_equal(a.rgb, b.rgb, (size_t)W * H * 3);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            const uint8_t *p = a.rgb + ((size_t)y * W + x) * 3;
            if (x < W / 2) { /* opaque: its own colour */
                assert_int_equal(p[0], 200);
                assert_int_equal(p[1], 100);
                assert_int_equal(p[2], 50);
            } else if (x > W / 2) { /* transparent: black */
                assert_int_equal(p[0] | p[1] | p[2], 0);
            } else { /* half white over black: grey, not white or black */
                assert_true(p[0] > 60 && p[0] < 230 && p[0] == p[1] && p[1] == p[2]);
            }
        }
    cs_image_free(&a);
    cs_image_free(&b);
    free(png);
    free(rgba);
}

static void test_truncated_png_is_an_error(void **state)
{
    (void)state;
    uint8_t *px = test_card(128, 128), *png = NULL;
    size_t len = 0;
    assert_int_equal(tu_png_encode(px, 128, 128, &png, &len), 0);
    cs_status st = decode_fails(png, len / 2, CS_OK);
    assert_true(st == CS_ERR_TRUNCATED || st == CS_ERR_CORRUPT);
    /* Cut inside the IHDR chunk too. */
    decode_fails(png, 20, CS_OK);
    free(px);
    free(png);
}

static void test_tiny_png_is_unsupported(void **state)
{
    (void)state;
    uint8_t *px = test_card(4, 4), *png = NULL;
    size_t len = 0;
    assert_int_equal(tu_png_encode(px, 4, 4, &png, &len), 0);
    decode_fails(png, len, CS_ERR_UNSUPPORTED);
    free(px);
    free(png);
}

/* ---- 16-bit PNG ----------------------------------------------------------- */

/* A PNG made with libpng's own write API (the simplified writer always adds
 * gamma information), so the file carries exactly the chunks asked for.
 * `v8` holds w*h*channels 8-bit values; at depth 16 each is written as
 * v*257, the same level. gama: 0 writes no gAMA chunk, else its value in
 * PNG units (100000 = gamma 1.0, linear light). */
struct membuf {
    uint8_t *p;
    size_t n, cap;
};

static void membuf_write(png_structp png, png_bytep data, size_t len)
{
    struct membuf *b = png_get_io_ptr(png);
    if (b->n + len > b->cap) {
        size_t cap = (b->n + len) * 2;
        uint8_t *p = realloc(b->p, cap);
        if (!p)
            png_error(png, "out of memory");
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, data, len);
    b->n += len;
}

static void membuf_flush(png_structp png) { (void)png; }

static void png_encode_depth(const uint8_t *v8, int w, int h, int channels, int depth,
                             png_fixed_point gama, uint8_t **out, size_t *len)
{
    const int bytes = depth / 8;
    const size_t row_len = (size_t)w * channels * bytes;
    uint8_t *rows = malloc(row_len * h);
    png_bytep *rowp = malloc(sizeof *rowp * h);
    assert_non_null(rows);
    assert_non_null(rowp);
    for (size_t i = 0; i < (size_t)w * h * channels; i++) {
        if (depth == 16) {
            unsigned s = v8[i] * 257u;
            rows[2 * i] = (uint8_t)(s >> 8); /* PNG samples are big-endian */
            rows[2 * i + 1] = (uint8_t)(s & 0xFF);
        } else {
            rows[i] = v8[i];
        }
    }
    for (int y = 0; y < h; y++)
        rowp[y] = rows + row_len * y;

    struct membuf buf = {0};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    assert_non_null(png);
    png_infop info = png_create_info_struct(png);
    assert_non_null(info);
    if (setjmp(png_jmpbuf(png)))
        fail_msg("libpng failed writing the test PNG");
    png_set_write_fn(png, &buf, membuf_write, membuf_flush);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, depth,
                 channels == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (gama)
        png_set_gAMA_fixed(png, info, gama);
    png_write_info(png, info);
    png_write_image(png, rowp);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    free(rowp);
    free(rows);
    *out = buf.p;
    *len = buf.n;
}

/* 64x64 decodes at its own size, so pixels compare one to one. */
#define P16_SIDE 64

/* Gradients across the whole 0..255 range, with flat 8x8 patches in blue. */
static uint8_t *p16_card(void)
{
    uint8_t *px = malloc((size_t)P16_SIDE * P16_SIDE * 3);
    assert_non_null(px);
    for (int y = 0; y < P16_SIDE; y++)
        for (int x = 0; x < P16_SIDE; x++) {
            uint8_t *p = px + 3 * ((size_t)y * P16_SIDE + x);
            p[0] = (uint8_t)(x * 255 / (P16_SIDE - 1));
            p[1] = (uint8_t)(y * 255 / (P16_SIDE - 1));
            p[2] = (uint8_t)(((x / 8) * 8 + y / 8) * 4);
        }
    return px;
}

static void decode_ok(const uint8_t *data, size_t len, cs_image *img)
{
    cs_error err = {0};
    dirty(img);
    assert_int_equal(cs_decode_frame(data, len, img, &err), CS_OK);
    assert_int_equal(img->width, P16_SIDE);
    assert_int_equal(img->height, P16_SIDE);
}

/* Without gAMA/sRGB/iCCP a 16-bit PNG is sRGB-encoded like an 8-bit one
 * (libpng's simplified reader would otherwise take it as linear light and
 * brighten it: a mid grey 128 came out as 186). */
static void test_png16_without_gama_decodes_like_png8(void **state)
{
    (void)state;
    uint8_t *px = p16_card(), *p8 = NULL, *p16 = NULL;
    size_t len8 = 0, len16 = 0;
    png_encode_depth(px, P16_SIDE, P16_SIDE, 3, 8, 0, &p8, &len8);
    png_encode_depth(px, P16_SIDE, P16_SIDE, 3, 16, 0, &p16, &len16);

    cs_image a, b;
    decode_ok(p8, len8, &a);
    decode_ok(p16, len16, &b);
    for (size_t i = 0; i < (size_t)P16_SIDE * P16_SIDE * 3; i++) {
        assert_int_equal(a.rgb[i], px[i]); /* the 8-bit file is exact */
        if (abs((int)a.rgb[i] - (int)b.rgb[i]) > 1)
            fail_msg("byte %zu: 8-bit decodes %d, 16-bit %d (written %d)", i, a.rgb[i], b.rgb[i],
                     px[i]);
    }
    cs_image_free(&a);
    cs_image_free(&b);
    free(px);
    free(p8);
    free(p16);
}

/* A 16-bit greyscale mask (eval --masks decodes masks the same way): white
 * 65535 is 255, a mid grey 128*257 stays 128, black stays 0. */
static void test_png16_gray_mask_decodes_white_255(void **state)
{
    (void)state;
    uint8_t *g = malloc((size_t)P16_SIDE * P16_SIDE);
    assert_non_null(g);
    for (int y = 0; y < P16_SIDE; y++)
        for (int x = 0; x < P16_SIDE; x++)
            g[y * P16_SIDE + x] = x < 32 ? 255 : y < 32 ? 128 : 0;
    uint8_t *png = NULL;
    size_t len = 0;
    png_encode_depth(g, P16_SIDE, P16_SIDE, 1, 16, 0, &png, &len);

    cs_image img;
    decode_ok(png, len, &img);
    for (int y = 0; y < P16_SIDE; y++)
        for (int x = 0; x < P16_SIDE; x++)
            for (int k = 0; k < 3; k++) {
                int got = img.rgb[3 * (y * P16_SIDE + x) + k];
                int want = g[y * P16_SIDE + x];
                if (abs(got - want) > (want == 128 ? 1 : 0))
                    fail_msg("(%d,%d)[%d]: %d, want %d", x, y, k, got, want);
            }
    cs_image_free(&img);
    free(png);
    free(g);
}

/* A gAMA chunk is still followed: 16-bit (and 8-bit) data marked linear
 * (gamma 1.0) is converted to sRGB, so 128 comes out near 186 (libpng's
 * sRGB is a 2.2 power); marked gamma 1/2.2 it is left alone. */
static void test_png_with_gama_follows_the_chunk(void **state)
{
    (void)state;
    uint8_t *px = malloc((size_t)P16_SIDE * P16_SIDE * 3);
    assert_non_null(px);
    memset(px, 128, (size_t)P16_SIDE * P16_SIDE * 3);
    static const struct {
        int depth;
        png_fixed_point gama;
        int want;
    } cases[] = {
        {16, PNG_GAMMA_LINEAR, 186}, {8, PNG_GAMMA_LINEAR, 186}, {16, 45455, 128}, /* 1/2.2 */
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        uint8_t *png = NULL;
        size_t len = 0;
        png_encode_depth(px, P16_SIDE, P16_SIDE, 3, cases[c].depth, cases[c].gama, &png, &len);
        cs_image img;
        decode_ok(png, len, &img);
        for (size_t i = 0; i < (size_t)P16_SIDE * P16_SIDE * 3; i++)
            if (abs((int)img.rgb[i] - cases[c].want) > 1)
                fail_msg("case %zu byte %zu: %d, want %d", c, i, img.rgb[i], cases[c].want);
        cs_image_free(&img);
        free(png);
    }
    free(px);
}

/* ---- bad input, exact statuses -------------------------------------------- */

static void test_zero_bytes_is_empty(void **state)
{
    (void)state;
    uint8_t one = 0xFF;
    decode_fails(&one, 0, CS_ERR_EMPTY);
    decode_fails(NULL, 0, CS_ERR_EMPTY);
}

static void test_random_bytes_are_not_an_image(void **state)
{
    (void)state;
    uint8_t junk[1000];
    uint32_t x = 12345;
    for (size_t i = 0; i < sizeof junk; i++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        junk[i] = (uint8_t)x;
    }
    junk[0] = 'G'; /* not 0xFF or 0x89 by chance */
    decode_fails(junk, sizeof junk, CS_ERR_NOT_IMAGE);
    decode_fails(junk, 1, CS_ERR_NOT_IMAGE);
    /* One byte of a JPEG magic is not a JPEG. */
    uint8_t ff = 0xFF;
    decode_fails(&ff, 1, CS_ERR_NOT_IMAGE);
}

static void test_jpeg_cut_in_half_is_truncated(void **state)
{
    (void)state;
    uint8_t *jpg = NULL;
    size_t len = 0;
    jpeg_card(640, 640, 90, &jpg, &len);
    decode_fails(jpg, len / 2, CS_ERR_TRUNCATED);
    /* Cut right after the SOI and inside the headers: still truncated. */
    decode_fails(jpg, 2, CS_ERR_TRUNCATED);
    decode_fails(jpg, 100, CS_ERR_TRUNCATED);
    free(jpg);
}

static void test_real_jpeg_cut_in_half_is_truncated(void **state)
{
    (void)state;
    if (!tu_have_shared()) {
        printf("SKIP: shared frames not found\n");
        skip();
    }
    size_t len = 0;
    uint8_t *data = tu_read_shared_frame(REAL_FRAME, &len);
    assert_non_null(data);
    decode_fails(data, len / 2, CS_ERR_TRUNCATED);
    free(data);
}

static void test_garbage_in_entropy_data_is_an_error(void **state)
{
    (void)state;
    uint8_t *jpg = NULL;
    size_t len = 0;
    jpeg_card(640, 640, 90, &jpg, &len);
    /* Markers inside the entropy-coded data: libjpeg meets them early. */
    uint32_t x = 99;
    for (size_t i = len / 2; i < len / 2 + 200; i++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        jpg[i] = (i % 7 == 0) ? 0xFF : (uint8_t)x;
    }
    cs_status st = decode_fails(jpg, len, CS_OK);
    assert_true(st == CS_ERR_CORRUPT || st == CS_ERR_TRUNCATED);
    free(jpg);
}

static void test_huge_dimensions_are_too_large(void **state)
{
    (void)state;
    uint8_t *jpg = NULL;
    size_t len = 0;
    jpeg_card(64, 64, 90, &jpg, &len);
    long off = tu_jpeg_sof_dims_offset(jpg, len);
    assert_true(off > 0);
    assert_int_equal(jpg[off] << 8 | jpg[off + 1], 64); /* found the height */
    /* 60000 = 0xEA60, height then width. */
    jpg[off] = 0xEA, jpg[off + 1] = 0x60, jpg[off + 2] = 0xEA, jpg[off + 3] = 0x60;
    decode_fails(jpg, len, CS_ERR_TOO_LARGE);
    /* Just over the cap on one side only. */
    jpg[off] = 0x00, jpg[off + 1] = 0x40;
    jpg[off + 2] = (CS_IMAGE_MAX_SIDE + 1) >> 8, jpg[off + 3] = (CS_IMAGE_MAX_SIDE + 1) & 0xFF;
    decode_fails(jpg, len, CS_ERR_TOO_LARGE);
    free(jpg);
}

static void test_4x4_jpeg_is_unsupported(void **state)
{
    (void)state;
    uint8_t *jpg = NULL;
    size_t len = 0;
    jpeg_card(4, 4, 90, &jpg, &len);
    decode_fails(jpg, len, CS_ERR_UNSUPPORTED);
    free(jpg);
}

/* A one-component (greyscale) JPEG, as some exporters write. */
static void gray_jpeg(int w, int h, uint8_t **out, size_t *len)
{
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr mgr;
    unsigned char *buf = NULL;
    unsigned long n = 0;
    uint8_t *row = malloc((size_t)w);
    assert_non_null(row);
    c.err = jpeg_std_error(&mgr);
    jpeg_create_compress(&c);
    jpeg_mem_dest(&c, &buf, &n);
    c.image_width = (JDIMENSION)w;
    c.image_height = (JDIMENSION)h;
    c.input_components = 1;
    c.in_color_space = JCS_GRAYSCALE;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, 90, TRUE);
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < c.image_height) {
        for (int x = 0; x < w; x++)
            row[x] = (uint8_t)(60 + (x + (int)c.next_scanline) % 120);
        JSAMPROW r = row;
        jpeg_write_scanlines(&c, &r, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    free(row);
    *out = buf;
    *len = n;
}

static void test_grayscale_jpeg_decodes_to_grey_rgb(void **state)
{
    (void)state;
    uint8_t *jpg = NULL;
    size_t len = 0;
    gray_jpeg(128, 128, &jpg, &len);
    cs_image img;
    cs_error err = {0};
    assert_int_equal(cs_decode_frame(jpg, len, &img, &err), CS_OK);
    assert_int_equal(img.width, 64);
    assert_int_equal(img.height, 64);
    double m[3];
    mean_rgb(&img, m);
    assert_true(m[0] > 100 && m[0] < 140);
    for (int i = 0; i < img.width * img.height; i++) {
        assert_int_equal(img.rgb[3 * i], img.rgb[3 * i + 1]);
        assert_int_equal(img.rgb[3 * i], img.rgb[3 * i + 2]);
    }
    cs_image_free(&img);
    free(jpg);
}

/* ---- cs_image_from_rgb ---------------------------------------------------- */

static void test_from_rgb_checkerboard_averages_to_mean(void **state)
{
    (void)state;
    const int w = 128, h = 128;
    const size_t stride = (size_t)w * 3 + 5; /* padded rows */
    static const uint8_t c0[3] = {10, 200, 60}, c1[3] = {30, 100, 250};
    uint8_t *px = malloc(stride * h);
    assert_non_null(px);
    memset(px, 0xEE, stride * h); /* padding must never be read */
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            memcpy(px + (size_t)y * stride + 3 * x, ((x + y) & 1) ? c1 : c0, 3);
    cs_image img;
    cs_error err = {0};
    dirty(&img);
    assert_int_equal(cs_image_from_rgb(px, w, h, stride, &img, &err), CS_OK);
    assert_int_equal(img.width, 64);
    assert_int_equal(img.height, 64);
    assert_int_equal(img.src_width, w);
    assert_int_equal(img.src_height, h);
    for (int i = 0; i < img.width * img.height; i++) {
        assert_int_equal(img.rgb[3 * i], 20);
        assert_int_equal(img.rgb[3 * i + 1], 150);
        assert_int_equal(img.rgb[3 * i + 2], 155);
    }
    cs_image_free(&img);
    free(px);
}

static void test_from_rgb_keeps_small_images_exactly(void **state)
{
    (void)state;
    const int w = 100, h = 90;
    uint8_t *px = test_card(w, h);
    cs_image img;
    cs_error err = {0};
    assert_int_equal(cs_image_from_rgb(px, w, h, (size_t)w * 3, &img, &err), CS_OK);
    assert_int_equal(img.width, w);
    assert_int_equal(img.height, h);
    assert_memory_equal(img.rgb, px, (size_t)w * h * 3);
    cs_image_free(&img);
    free(px);
}

static void test_from_rgb_rejects_bad_dimensions(void **state)
{
    (void)state;
    uint8_t px[3 * 4] = {0};
    static const int bad[][2] = {{0, 10}, {10, 0}, {-1, 5}, {CS_IMAGE_MAX_SIDE + 1, 10}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cs_image img;
        cs_error err = {0};
        dirty(&img);
        cs_status st = cs_image_from_rgb(px, bad[i][0], bad[i][1], 12, &img, &err);
        assert_int_not_equal(st, CS_OK);
        assert_true(strlen(err.msg) > 0);
        assert_zeroed(&img);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_analysis_size_picks_smallest_scale_keeping_64),
        cmocka_unit_test(test_real_jpeg_decodes_to_80x80),
        cmocka_unit_test(test_reencoded_real_jpeg_sizes_follow_analysis_size),
        cmocka_unit_test(test_synthetic_jpeg_sizes_336_224_and_non_square),
        cmocka_unit_test(test_png_decodes_with_jpeg_colours),
        cmocka_unit_test(test_tiff_decodes_like_png),
        cmocka_unit_test(test_png_alpha_is_composited_onto_black),
        cmocka_unit_test(test_truncated_png_is_an_error),
        cmocka_unit_test(test_tiny_png_is_unsupported),
        cmocka_unit_test(test_png16_without_gama_decodes_like_png8),
        cmocka_unit_test(test_png16_gray_mask_decodes_white_255),
        cmocka_unit_test(test_png_with_gama_follows_the_chunk),
        cmocka_unit_test(test_zero_bytes_is_empty),
        cmocka_unit_test(test_random_bytes_are_not_an_image),
        cmocka_unit_test(test_jpeg_cut_in_half_is_truncated),
        cmocka_unit_test(test_real_jpeg_cut_in_half_is_truncated),
        cmocka_unit_test(test_garbage_in_entropy_data_is_an_error),
        cmocka_unit_test(test_huge_dimensions_are_too_large),
        cmocka_unit_test(test_4x4_jpeg_is_unsupported),
        cmocka_unit_test(test_grayscale_jpeg_decodes_to_grey_rgb),
        cmocka_unit_test(test_from_rgb_checkerboard_averages_to_mean),
        cmocka_unit_test(test_from_rgb_keeps_small_images_exactly),
        cmocka_unit_test(test_from_rgb_rejects_bad_dimensions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
