/* test_engine.c - per-frame triage (src/engine/): exposure, sharpness,
 * vignette handling, debris and visibility on synthetic frames; the
 * redundancy signature; the bleeding verdict and boxes on real capsule
 * frames; determinism; model loading errors.
 *
 * Synthetic frames are built at analysis size directly as cs_image values.
 * The real-frame cases skip (cmocka skip) without the shared set. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "capscreen/engine.h"
#include "testutil.h"

/* Chosen from a run of the shipped model over the shared set: a frame
 * labelled bleeding with probability ~1.0, one labelled clean with ~0.0. */
#define BLEEDING_FRAME "wcb-0604.jpg"
#define CLEAN_FRAME "wcb-0668.jpg"

typedef struct fixture {
    cs_engine *eng;
    cs_worker *w;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    cs_error err = {0};
    if (!f)
        return -1;
    if (cs_engine_load(tu_source_path("models/bleeding-xgb.json"), &f->eng, &err) != CS_OK ||
        cs_worker_new(f->eng, &f->w, &err) != CS_OK) {
        printf("cannot load the model: %s\n", err.msg);
        cs_engine_free(f->eng);
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    cs_worker_free(f->w);
    cs_engine_free(f->eng);
    free(f);
    return 0;
}

/* ---- synthetic frames ------------------------------------------------------ */

static cs_image new_image(int w, int h)
{
    cs_image img = {.width = w,
                    .height = h,
                    .src_width = w * 8,
                    .src_height = h * 8,
                    .rgb = calloc((size_t)w * h * 3, 1)};
    assert_non_null(img.rgb);
    return img;
}

static void put(cs_image *img, int x, int y, uint8_t r, uint8_t g, uint8_t b)
{
    uint8_t *p = img->rgb + 3 * ((size_t)y * img->width + x);
    p[0] = r, p[1] = g, p[2] = b;
}

static cs_image solid(int w, int h, uint8_t r, uint8_t g, uint8_t b)
{
    cs_image img = new_image(w, h);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            put(&img, x, y, r, g, b);
    return img;
}

/* Pinkish mucosa-like checkerboard of `cell`-pixel squares. */
static cs_image checkerboard(int w, int h, int cell)
{
    cs_image img = new_image(w, h);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            int on = ((x / cell) + (y / cell)) & 1;
            put(&img, x, y, on ? 220 : 120, on ? 150 : 70, on ? 140 : 60);
        }
    return img;
}

/* (2r+1)^2 box filter, clamped at the edges, applied `passes` times. */
static void box_blur(cs_image *img, int r, int passes)
{
    const int w = img->width, h = img->height;
    uint8_t *tmp = malloc((size_t)w * h * 3);
    assert_non_null(tmp);
    for (int pass = 0; pass < passes; pass++) {
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                for (int k = 0; k < 3; k++) {
                    int s = 0, n = 0;
                    for (int dy = -r; dy <= r; dy++)
                        for (int dx = -r; dx <= r; dx++) {
                            int xx = x + dx, yy = y + dy;
                            if (xx < 0 || yy < 0 || xx >= w || yy >= h)
                                continue;
                            s += img->rgb[3 * ((size_t)yy * w + xx) + k];
                            n++;
                        }
                    tmp[3 * ((size_t)y * w + x) + k] = (uint8_t)((s + n / 2) / n);
                }
        memcpy(img->rgb, tmp, (size_t)w * h * 3);
    }
    free(tmp);
}

/* Black outside a centred circle of radius `radius`, like a capsule frame. */
static void vignette(cs_image *img, double radius)
{
    const double cx = (img->width - 1) / 2.0, cy = (img->height - 1) / 2.0;
    for (int y = 0; y < img->height; y++)
        for (int x = 0; x < img->width; x++)
            if ((x - cx) * (x - cx) + (y - cy) * (y - cy) > radius * radius)
                put(img, x, y, 0, 0, 0);
}

static cs_frame_result analyze(fixture *f, const cs_image *img)
{
    cs_frame_result r;
    cs_error err = {0};
    memset(&r, 0xA5, sizeof r);
    assert_int_equal(cs_worker_analyze(f->w, img, &r, &err), CS_OK);
    return r;
}

static cs_image decode_shared(const char *name)
{
    size_t len = 0;
    uint8_t *data = tu_read_shared_frame(name, &len);
    assert_non_null(data);
    cs_image img;
    cs_error err = {0};
    assert_int_equal(cs_decode_frame(data, len, &img, &err), CS_OK);
    free(data);
    return img;
}

#define NEED_SHARED()                                  \
    do {                                               \
        if (!tu_have_shared()) {                       \
            printf("SKIP: shared frames not found\n"); \
            skip();                                    \
        }                                              \
    } while (0)

/* ---- exposure -------------------------------------------------------------- */

static void test_all_black_frame_is_too_dark(void **state)
{
    cs_image img = solid(80, 80, 0, 0, 0);
    cs_frame_result r = analyze(*state, &img);
    assert_int_equal(r.quality.exposure, CS_EXPOSURE_TOO_DARK);
    assert_false(r.quality.readable);
    assert_false(r.bleeding);
    assert_int_equal(r.n_boxes, 0);
    assert_string_equal(cs_exposure_name(r.quality.exposure), "too_dark");
    cs_image_free(&img);
}

static void test_dim_frame_is_too_dark(void **state)
{
    /* Lit but dim everywhere (luma ~30): not vignette, still too dark. */
    cs_image img = solid(80, 80, 40, 25, 20);
    cs_frame_result r = analyze(*state, &img);
    assert_int_equal(r.quality.exposure, CS_EXPOSURE_TOO_DARK);
    assert_true(r.quality.dark_fraction > 0.9f);
    cs_image_free(&img);
}

static void test_mid_grey_frame_is_well_exposed(void **state)
{
    cs_image img = solid(80, 80, 128, 128, 128);
    cs_frame_result r = analyze(*state, &img);
    assert_int_equal(r.quality.exposure, CS_EXPOSURE_OK);
    assert_float_equal(r.quality.mean_luma, 128.0f, 2.0f);
    assert_float_equal(r.quality.dark_fraction, 0.0f, 1e-6f);
    assert_float_equal(r.quality.bright_fraction, 0.0f, 1e-6f);
    assert_string_equal(cs_exposure_name(r.quality.exposure), "ok");
    cs_image_free(&img);
}

static void test_mostly_white_frame_is_too_bright(void **state)
{
    /* 80% saturated white, a band of mid grey. */
    cs_image img = solid(80, 80, 255, 255, 255);
    for (int y = 64; y < 80; y++)
        for (int x = 0; x < 80; x++)
            put(&img, x, y, 128, 128, 128);
    cs_frame_result r = analyze(*state, &img);
    assert_int_equal(r.quality.exposure, CS_EXPOSURE_TOO_BRIGHT);
    assert_float_equal(r.quality.bright_fraction, 0.8f, 0.03f);
    assert_false(r.quality.readable);
    cs_image_free(&img);
}

/* ---- sharpness ------------------------------------------------------------- */

static void test_sharp_checkerboard_beats_its_blurred_copy(void **state)
{
    cs_image sharp = checkerboard(80, 80, 4);
    cs_image blurred = checkerboard(80, 80, 4);
    box_blur(&blurred, 2, 2);
    cs_frame_result a = analyze(*state, &sharp), b = analyze(*state, &blurred);
    assert_true(a.quality.sharpness > 4.0f * b.quality.sharpness);
    assert_true(a.quality.sharpness_score > b.quality.sharpness_score);
    assert_false(a.quality.blurry);
    assert_true(b.quality.blurry);
    assert_true(a.quality.sharpness_score > 0.0f && a.quality.sharpness_score <= 1.0f);
    cs_image_free(&sharp);
    cs_image_free(&blurred);
}

static void test_sharpness_is_comparable_across_analysis_sizes(void **state)
{
    /* The same scene at 80 and 160 px (a 2x finer checkerboard pixel grid
     * is the same picture): the scale normalisation keeps the two within
     * a factor of 4 rather than the raw 4x-16x gap. */
    cs_image small = checkerboard(80, 80, 8);
    cs_image big = checkerboard(160, 160, 16);
    box_blur(&small, 1, 1);
    box_blur(&big, 2, 1);
    cs_frame_result a = analyze(*state, &small), b = analyze(*state, &big);
    assert_true(a.quality.sharpness > 0 && b.quality.sharpness > 0);
    float ratio = a.quality.sharpness / b.quality.sharpness;
    assert_true(ratio > 0.25f && ratio < 4.0f);
    cs_image_free(&small);
    cs_image_free(&big);
}

/* ---- vignette, lumen, debris -------------------------------------------- */

static void test_black_vignette_is_not_dark_lumen(void **state)
{
    cs_image img = checkerboard(96, 96, 6);
    vignette(&img, 44.0);
    cs_frame_result r = analyze(*state, &img);
    /* About 34% of the frame is black corners: none of it counts. */
    assert_true(r.quality.dark_lumen_fraction < 0.02f);
    assert_true(r.quality.dark_fraction < 0.02f);
    assert_int_equal(r.quality.exposure, CS_EXPOSURE_OK);
    assert_true(r.quality.mean_luma > 80.0f);
    assert_true(r.quality.visibility > 0.8f);
    cs_image_free(&img);
}

static void test_dark_lumen_inside_vignette_is_counted(void **state)
{
    /* The same frame with an unlit lumen (not joined to the edge) in the
     * middle: the lumen counts, the corners still do not. */
    cs_image img = checkerboard(96, 96, 6);
    vignette(&img, 44.0);
    for (int y = 33; y < 63; y++)
        for (int x = 33; x < 63; x++)
            put(&img, x, y, 5, 3, 3);
    cs_frame_result r = analyze(*state, &img);
    /* 30x30 of the ~6080 pixels inside the circle: ~0.15. */
    assert_true(r.quality.dark_lumen_fraction > 0.10f);
    assert_true(r.quality.dark_lumen_fraction < 0.22f);
    assert_true(r.quality.visibility < 0.9f);
    cs_image_free(&img);
}

static void test_yellow_green_frame_is_debris_with_low_visibility(void **state)
{
    cs_image img = solid(80, 80, 170, 190, 40);
    cs_frame_result r = analyze(*state, &img);
    assert_true(r.quality.debris_fraction > 0.8f);
    assert_true(r.quality.visibility < 0.2f);
    assert_false(r.quality.readable);
    /* Mucosa-coloured frame: no debris. */
    cs_image pink = checkerboard(80, 80, 4);
    cs_frame_result p = analyze(*state, &pink);
    assert_true(p.quality.debris_fraction < 0.05f);
    assert_true(p.quality.visibility > 0.8f);
    assert_true(p.quality.readable);
    cs_image_free(&img);
    cs_image_free(&pink);
}

/* ---- signature ------------------------------------------------------------- */

static void test_signature_of_uniform_frame_is_its_colour(void **state)
{
    cs_image img = solid(80, 80, 200, 90, 30);
    cs_frame_result r = analyze(*state, &img);
    for (int c = 0; c < CS_SIG_GRID * CS_SIG_GRID; c++) {
        assert_int_equal(r.signature[3 * c], 200);
        assert_int_equal(r.signature[3 * c + 1], 90);
        assert_int_equal(r.signature[3 * c + 2], 30);
    }
    cs_image_free(&img);
}

static void test_signature_distance_self_zero_different_large(void **state)
{
    cs_image a = checkerboard(80, 80, 4);
    cs_image b = solid(80, 80, 40, 60, 200);
    cs_frame_result ra = analyze(*state, &a), rb = analyze(*state, &b);
    assert_float_equal(cs_signature_distance(ra.signature, ra.signature), 0.0f, 0.0f);
    float d = cs_signature_distance(ra.signature, rb.signature);
    assert_true(d > 10.0f);
    assert_float_equal(d, cs_signature_distance(rb.signature, ra.signature), 0.0f);

    /* Hand-made signatures: a constant difference of 7 is a distance of 7,
     * and the extremes give 255. */
    uint8_t s0[CS_SIG_LEN], s1[CS_SIG_LEN];
    memset(s0, 100, sizeof s0);
    memset(s1, 107, sizeof s1);
    assert_float_equal(cs_signature_distance(s0, s1), 7.0f, 1e-5f);
    memset(s0, 0, sizeof s0);
    memset(s1, 255, sizeof s1);
    assert_float_equal(cs_signature_distance(s0, s1), 255.0f, 1e-5f);
    cs_image_free(&a);
    cs_image_free(&b);
}

static void test_signature_follows_layout(void **state)
{
    /* Left half red, right half blue: the signature's left columns are red
     * and its right columns blue. */
    cs_image img = new_image(80, 80);
    for (int y = 0; y < 80; y++)
        for (int x = 0; x < 80; x++)
            put(&img, x, y, x < 40 ? 200 : 20, 40, x < 40 ? 20 : 200);
    cs_frame_result r = analyze(*state, &img);
    for (int gy = 0; gy < CS_SIG_GRID; gy++) {
        const uint8_t *left = &r.signature[3 * (gy * CS_SIG_GRID)];
        const uint8_t *right = &r.signature[3 * (gy * CS_SIG_GRID + CS_SIG_GRID - 1)];
        assert_int_equal(left[0], 200);
        assert_int_equal(right[2], 200);
    }
    cs_image_free(&img);
}

/* ---- bleeding on real frames ----------------------------------------------- */

static void test_real_bleeding_frame_is_flagged_with_boxes(void **state)
{
    NEED_SHARED();
    fixture *f = *state;
    cs_image img = decode_shared(BLEEDING_FRAME);
    cs_frame_result r = analyze(f, &img);
    assert_true(r.bleeding);
    assert_true(r.bleeding_probability >= cs_engine_threshold(f->eng));
    assert_true(r.bleeding_probability <= 1.0f);
    assert_true(r.n_boxes >= 1 && r.n_boxes <= CS_MAX_BOXES);
    for (int i = 0; i < r.n_boxes; i++) {
        const cs_box *b = &r.boxes[i];
        assert_true(b->w * b->h > 0.0f);
        assert_true(b->x >= 0.0f && b->y >= 0.0f);
        assert_true(b->x + b->w <= 1.0f + 1e-6f && b->y + b->h <= 1.0f + 1e-6f);
        assert_true(b->score > 0.0f && b->score <= 1.0f);
    }
    cs_image_free(&img);
}

static void test_real_clean_frame_is_not_flagged(void **state)
{
    NEED_SHARED();
    fixture *f = *state;
    cs_image img = decode_shared(CLEAN_FRAME);
    cs_frame_result r = analyze(f, &img);
    assert_false(r.bleeding);
    assert_true(r.bleeding_probability < cs_engine_threshold(f->eng));
    assert_true(r.bleeding_probability >= 0.0f);
    assert_int_equal(r.n_boxes, 0);
    cs_image_free(&img);
}

static void test_threshold_comes_from_the_model(void **state)
{
    fixture *f = *state;
    float t = cs_engine_threshold(f->eng);
    assert_true(t > 0.0f && t < 1.0f);
    assert_non_null(strstr(cs_engine_model_path(f->eng), "bleeding-xgb.json"));
}

/* ---- determinism ----------------------------------------------------------- */

static void test_same_image_gives_bit_identical_results(void **state)
{
    fixture *f = *state;
    cs_image a, b;
    if (tu_have_shared()) {
        a = decode_shared(BLEEDING_FRAME);
        b = decode_shared(CLEAN_FRAME);
    } else {
        a = checkerboard(80, 80, 3);
        b = solid(160, 120, 30, 200, 30);
    }
    cs_frame_result r1 = analyze(f, &a);
    /* A different (and differently sized) frame in between must leave no
     * trace in the worker's scratch. */
    cs_frame_result other = analyze(f, &b);
    cs_frame_result r2 = analyze(f, &a);
    assert_memory_equal(&r1, &r2, sizeof r1);
    assert_memory_not_equal(&r1, &other, sizeof r1);

    /* A second worker on the same engine agrees. */
    cs_worker *w2 = NULL;
    cs_error err = {0};
    assert_int_equal(cs_worker_new(f->eng, &w2, &err), CS_OK);
    cs_frame_result r3;
    memset(&r3, 0x5A, sizeof r3);
    assert_int_equal(cs_worker_analyze(w2, &a, &r3, &err), CS_OK);
    assert_memory_equal(&r1, &r3, sizeof r1);
    cs_worker_free(w2);
    cs_image_free(&a);
    cs_image_free(&b);
}

/* ---- model loading errors ------------------------------------------------ */

static void assert_model_error(const char *path)
{
    cs_engine *eng = (cs_engine *)(uintptr_t)1;
    cs_error err = {0};
    assert_int_equal(cs_engine_load(path, &eng, &err), CS_ERR_MODEL);
    assert_null(eng);
    assert_int_equal(err.code, CS_ERR_MODEL);
    assert_non_null(strstr(err.msg, path));
}

static void test_missing_model_file_is_model_error_naming_path(void **state)
{
    (void)state;
    const char *dir = tu_tmpdir();
    assert_non_null(dir);
    char path[4200];
    snprintf(path, sizeof path, "%s/no-such-model.json", dir);
    assert_model_error(path);
}

/* A directory given as a model (fopen opens it; ftell said LONG_MAX bytes)
 * is refused as what it is, for either detector. */
static void test_directory_as_model_is_model_error_saying_so(void **state)
{
    (void)state;
    const char *dir = tu_tmpdir();
    assert_non_null(dir);
    assert_model_error(dir);
    cs_engine *eng = NULL;
    cs_error err = {0};
    assert_int_equal(
        cs_engine_load_models(tu_source_path("models/bleeding-xgb.json"), dir, &eng, &err),
        CS_ERR_MODEL);
    assert_null(eng);
    assert_non_null(strstr(err.msg, dir));
    assert_non_null(strstr(err.msg, "not a regular file"));
}

static void test_garbage_model_file_is_model_error_naming_path(void **state)
{
    (void)state;
    const char *dir = tu_tmpdir();
    assert_non_null(dir);
    char path[4200];

    snprintf(path, sizeof path, "%s/garbage.json", dir);
    static const char junk[] = "this is not an XGBoost model \x01\x02\x03 {[";
    assert_int_equal(tu_write_file(path, junk, sizeof junk - 1), 0);
    assert_model_error(path);

    snprintf(path, sizeof path, "%s/empty.json", dir);
    assert_int_equal(tu_write_file(path, "", 0), 0);
    assert_model_error(path);

    /* Valid JSON, but a model of nothing. */
    snprintf(path, sizeof path, "%s/object.json", dir);
    assert_int_equal(tu_write_file(path, "{}", 2), 0);
    assert_model_error(path);

    /* The real model cut in half. */
    size_t len = 0;
    uint8_t *model = tu_read_file(tu_source_path("models/bleeding-xgb.json"), &len);
    assert_non_null(model);
    snprintf(path, sizeof path, "%s/half.json", dir);
    assert_int_equal(tu_write_file(path, model, len / 2), 0);
    assert_model_error(path);
    free(model);
}

/* Pixel boxes never run past the frame: the edges are rounded, not the
 * size. Every box the polyp heatmap can give (edges on its 40-cell grid,
 * and the half cells of a box at a region's core), on every frame width
 * up to 2,000 px; rounding x and w apart reached one pixel beyond the
 * frame on widths such as 529 and 622. */
static void test_box_pixels_stay_inside_the_frame(void **state)
{
    (void)state;
    const int cells = 80; /* half cells of a 40-cell heatmap */
    for (int size = 1; size <= 2000; size++)
        for (int a = 0; a < cells; a++)
            for (int b = a + 1; b <= cells; b += 7) {
                cs_box box = {(float)a / cells, (float)a / cells, (float)(b - a) / cells,
                              (float)(b - a) / cells, 0.5f};
                long px[4];
                cs_box_pixels(&box, size, size, px);
                if (px[0] < 0 || px[2] < 1 || px[0] + px[2] > size || px[1] + px[3] > size)
                    fail_msg("size %d box %d..%d: x %ld w %ld", size, a, b, px[0], px[2]);
            }
    /* the case found: 529 px high, the lower half */
    cs_box half = {0.0f, 0.5f, 1.0f, 0.5f, 0.9f};
    long px[4];
    cs_box_pixels(&half, 622, 529, px);
    assert_int_equal(px[0], 0);
    assert_int_equal(px[2], 622);
    assert_int_equal(px[1] + px[3], 529);
    /* a box too thin to round to a pixel keeps one; an empty frame none */
    cs_box thin = {0.999f, 0.0f, 0.0001f, 1.0f, 0.5f};
    cs_box_pixels(&thin, 100, 100, px);
    assert_int_equal(px[0], 99);
    assert_int_equal(px[2], 1);
    cs_box_pixels(&thin, 0, 0, px);
    assert_int_equal(px[2], 0);
    assert_int_equal(px[3], 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_box_pixels_stay_inside_the_frame),
        cmocka_unit_test(test_all_black_frame_is_too_dark),
        cmocka_unit_test(test_dim_frame_is_too_dark),
        cmocka_unit_test(test_mid_grey_frame_is_well_exposed),
        cmocka_unit_test(test_mostly_white_frame_is_too_bright),
        cmocka_unit_test(test_sharp_checkerboard_beats_its_blurred_copy),
        cmocka_unit_test(test_sharpness_is_comparable_across_analysis_sizes),
        cmocka_unit_test(test_black_vignette_is_not_dark_lumen),
        cmocka_unit_test(test_dark_lumen_inside_vignette_is_counted),
        cmocka_unit_test(test_yellow_green_frame_is_debris_with_low_visibility),
        cmocka_unit_test(test_signature_of_uniform_frame_is_its_colour),
        cmocka_unit_test(test_signature_distance_self_zero_different_large),
        cmocka_unit_test(test_signature_follows_layout),
        cmocka_unit_test(test_real_bleeding_frame_is_flagged_with_boxes),
        cmocka_unit_test(test_real_clean_frame_is_not_flagged),
        cmocka_unit_test(test_threshold_comes_from_the_model),
        cmocka_unit_test(test_same_image_gives_bit_identical_results),
        cmocka_unit_test(test_missing_model_file_is_model_error_naming_path),
        cmocka_unit_test(test_directory_as_model_is_model_error_saying_so),
        cmocka_unit_test(test_garbage_model_file_is_model_error_naming_path),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
