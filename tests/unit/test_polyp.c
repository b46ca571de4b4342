/* test_polyp.c - the polyp detector (src/engine/polyp*.c): the C network
 * against the training tool's PyTorch output for one frame
 * (tests/data/polyp-ref.bin, written by tools/train_polyp.py with the
 * shipped weights); the weights loader's checks, each with its reason; the
 * input resize, frame score and boxes; and the engine's polyp fields. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "capscreen/crc32c.h"
#include "capscreen/engine.h"
#include "engine/polyp.h"
#include "engine/polyp_net.h"
#include "testutil.h"

#define NHEAT (CS_POLYP_OUT * CS_POLYP_OUT)

static uint8_t *read_source(const char *rel, size_t *len)
{
    uint8_t *b = tu_read_file(tu_source_path(rel), len);
    assert_non_null(b);
    return b;
}

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void wr32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* Recompute the trailing CRC, so a test reaches the check after it. */
static void reseal(uint8_t *b, size_t len) { wr32(b + len - 4, cs_crc32c(0, b, len - 4)); }

/* ---- the network against PyTorch ------------------------------------------ */

static void c_matches_pytorch(void **state)
{
    (void)state;
    size_t wlen, rlen;
    uint8_t *wb = read_source("models/polyp-unet.bin", &wlen);
    uint8_t *rb = read_source("tests/data/polyp-ref.bin", &rlen);
    assert_memory_equal(rb, "CSPREF01", 8);
    assert_int_equal(rd32(rb + 8), CS_POLYP_IN);
    assert_int_equal(rd32(rb + 12), CS_POLYP_OUT);
    size_t npix = (size_t)CS_POLYP_IN * CS_POLYP_IN * 3;
    assert_int_equal(rlen, 20 + npix + 4 * NHEAT);
    float want_score;
    memcpy(&want_score, rb + 16, 4);
    const float *want = (const float *)(const void *)(rb + 20 + npix);

    cs_polyp_model *m = NULL;
    cs_polyp_net *net = NULL;
    cs_error err = {0};
    assert_int_equal(cs_polyp_model_parse(wb, wlen, &m, &err), CS_OK);
    assert_int_equal(cs_polyp_net_new(m, &net, &err), CS_OK);

    cs_image img = {CS_POLYP_IN, CS_POLYP_IN, CS_POLYP_IN, CS_POLYP_IN, rb + 20};
    float *tmp = malloc(sizeof(float) * npix), *in = malloc(sizeof(float) * npix);
    float got[NHEAT];
    assert_non_null(tmp);
    assert_non_null(in);
    cs_polyp_input(&img, tmp, in);
    assert_int_equal(cs_polyp_net_run(net, in, got, &err), CS_OK);
    float maxdiff = 0, maxabs = 0;
    for (int i = 0; i < NHEAT; i++) {
        maxdiff = fmaxf(maxdiff, fabsf(got[i] - want[i]));
        maxabs = fmaxf(maxabs, fabsf(want[i]));
    }
    printf("C vs PyTorch: max |logit difference| %.2e (logits up to %.2f)\n", (double)maxdiff,
           (double)maxabs);
    assert_true(maxdiff < 2e-3f + 1e-4f * maxabs);
    float score = cs_polyp_score(got, NHEAT, m->topk);
    assert_true(fabsf(score - want_score) < 1e-4f);
    /* the same frame again: bit for bit the same (no state carried over) */
    float again[NHEAT];
    assert_int_equal(cs_polyp_net_run(net, in, again, &err), CS_OK);
    assert_memory_equal(got, again, sizeof got);

    free(tmp);
    free(in);
    cs_polyp_net_free(net);
    cs_polyp_model_free(m);
    free(wb);
    free(rb);
}

/* ---- the loader ------------------------------------------------------------ */

static void expect_refused(const uint8_t *b, size_t len, cs_status code, const char *words)
{
    cs_polyp_model *m = (cs_polyp_model *)1;
    cs_error err = {0};
    assert_int_equal(cs_polyp_model_parse(b, len, &m, &err), code);
    assert_null(m);
    if (!strstr(err.msg, words))
        fail_msg("reason '%s' does not say '%s'", err.msg, words);
}

static void loader_refuses_bad_files(void **state)
{
    (void)state;
    size_t len;
    uint8_t *good = read_source("models/polyp-unet.bin", &len);
    uint8_t *b = malloc(len + 8);
    assert_non_null(b);

    expect_refused(good, 0, CS_ERR_TRUNCATED, "header");
    expect_refused(good, 40, CS_ERR_TRUNCATED, "header");

    memcpy(b, good, len);
    memcpy(b, "GIF89a..", 8);
    expect_refused(b, len, CS_ERR_MODEL, "not a polyp weights file");

    memcpy(b, good, len);
    wr32(b + 8, 7);
    expect_refused(b, len, CS_ERR_MODEL, "version 7");

    memcpy(b, good, len);
    expect_refused(b, len - 100, CS_ERR_TRUNCATED, "truncated");

    memcpy(b, good, len);
    b[len] = 0;
    expect_refused(b, len + 1, CS_ERR_MODEL, "1 bytes after");

    memcpy(b, good, len);
    b[len / 2] ^= 0x10; /* one flipped bit inside the weights */
    expect_refused(b, len, CS_ERR_CHECKSUM, "damaged");

    memcpy(b, good, len);
    wr32(b + 12, 96); /* another input size */
    reseal(b, len);
    expect_refused(b, len, CS_ERR_MODEL, "another network");

    memcpy(b, good, len);
    wr32(b + 32 + 12, rd32(b + 32 + 12) + 1); /* a wider bottleneck: other shapes */
    reseal(b, len);
    expect_refused(b, len, CS_ERR_TRUNCATED, "truncated");

    memcpy(b, good, len);
    float thr = 1.5f;
    memcpy(b + 28, &thr, 4);
    reseal(b, len);
    expect_refused(b, len, CS_ERR_MODEL, "threshold");

    memcpy(b, good, len);
    memcpy(b + 48, "enc9", 4); /* the first layer's name */
    reseal(b, len);
    expect_refused(b, len, CS_ERR_MODEL, "layer 0");

    memcpy(b, good, len);
    float nan = NAN;
    memcpy(b + 48 + 32, &nan, 4); /* the first weight */
    reseal(b, len);
    expect_refused(b, len, CS_ERR_MODEL, "non-finite");

    /* the intact file still loads */
    cs_polyp_model *m = NULL;
    cs_error err = {0};
    assert_int_equal(cs_polyp_model_parse(good, len, &m, &err), CS_OK);
    assert_true(m->threshold > 0 && m->threshold < 1);
    cs_polyp_model_free(m);
    free(b);
    free(good);
}

static void engine_load_names_the_bad_polyp_file(void **state)
{
    (void)state;
    const char *dir = tu_tmpdir();
    char path[512];
    snprintf(path, sizeof path, "%s/damaged.bin", dir);
    size_t len;
    uint8_t *b = read_source("models/polyp-unet.bin", &len);
    b[len - 1] ^= 1;
    assert_int_equal(tu_write_file(path, b, len), 0);
    cs_engine *eng = NULL;
    cs_error err = {0};
    assert_int_equal(
        cs_engine_load_models(tu_source_path("models/bleeding-xgb.json"), path, &eng, &err),
        CS_ERR_CHECKSUM);
    assert_null(eng);
    assert_non_null(strstr(err.msg, "damaged.bin"));
    snprintf(path, sizeof path, "%s/missing.bin", dir);
    assert_int_equal(
        cs_engine_load_models(tu_source_path("models/bleeding-xgb.json"), path, &eng, &err),
        CS_ERR_MODEL);
    assert_non_null(strstr(err.msg, "missing.bin"));
    free(b);
}

/* ---- resize, score, boxes -------------------------------------------------- */

static void input_resize_is_a_box_filter(void **state)
{
    (void)state;
    /* 160x160 of 2x2 blocks: the box filter gives each block's mean */
    enum { S = 2 * CS_POLYP_IN };
    uint8_t *rgb = malloc(S * S * 3);
    assert_non_null(rgb);
    for (int y = 0; y < S; y++)
        for (int x = 0; x < S; x++)
            for (int c = 0; c < 3; c++)
                rgb[(y * S + x) * 3 + c] =
                    (uint8_t)(((x / 2) * 3 + (y / 2) * 5 + c * 7 + ((x + y) & 1) * 2) & 0xff);
    cs_image img = {S, S, S, S, rgb};
    float *tmp = malloc(sizeof(float) * CS_POLYP_IN * S * 3);
    float *in = malloc(sizeof(float) * CS_POLYP_IN * CS_POLYP_IN * 3);
    assert_non_null(tmp);
    assert_non_null(in);
    cs_polyp_input(&img, tmp, in);
    for (int y = 0; y < CS_POLYP_IN; y++)
        for (int x = 0; x < CS_POLYP_IN; x++)
            for (int c = 0; c < 3; c++) {
                float mean = 0;
                for (int k = 0; k < 4; k++)
                    mean += rgb[((2 * y + k / 2) * S + 2 * x + k % 2) * 3 + c];
                mean /= 4;
                float want = mean / 127.5f - 1.0f;
                assert_true(fabsf(in[(y * CS_POLYP_IN + x) * 3 + c] - want) < 1e-5f);
            }
    free(rgb);
    free(tmp);
    free(in);
}

static void score_is_the_top_k_mean(void **state)
{
    (void)state;
    float lg[NHEAT];
    for (int i = 0; i < NHEAT; i++)
        lg[i] = -5.0f;
    for (int i = 0; i < 16; i++)
        lg[i * 97] = 2.0f; /* exactly 16 high cells */
    lg[5] = 4.0f;          /* one higher: replaces a 2.0 in the top 16 */
    float want = (float)(1.0 / (1.0 + exp(-(15 * 2.0 + 4.0) / 16.0)));
    assert_true(fabsf(cs_polyp_score(lg, NHEAT, 16) - want) < 1e-6f);
    float low = cs_polyp_score(lg, NHEAT, 64); /* includes -5s: lower */
    assert_true(low < want);
}

static void boxes_follow_the_heatmap(void **state)
{
    (void)state;
    float p[NHEAT];
    for (int i = 0; i < NHEAT; i++)
        p[i] = 0.01f;
    /* a weaker blob (peak 0.7) top left, a stronger one (0.95) lower right,
     * a single hot cell (0.6) that is too small to be a box */
    for (int y = 2; y < 8; y++)
        for (int x = 3; x < 10; x++)
            p[y * CS_POLYP_OUT + x] = 0.6f;
    p[4 * CS_POLYP_OUT + 5] = 0.7f;
    for (int y = 20; y < 30; y++)
        for (int x = 24; x < 36; x++)
            p[y * CS_POLYP_OUT + x] = 0.8f;
    p[25 * CS_POLYP_OUT + 30] = 0.95f;
    p[35 * CS_POLYP_OUT + 2] = 0.6f;
    cs_box b[CS_MAX_BOXES];
    int n = cs_polyp_boxes(p, b);
    assert_int_equal(n, 2);
    assert_true(fabsf(b[0].score - 0.95f) < 1e-6f);
    assert_true(fabsf(b[0].x - 24.0f / 40) < 1e-6f && fabsf(b[0].y - 20.0f / 40) < 1e-6f);
    assert_true(fabsf(b[0].w - 12.0f / 40) < 1e-6f && fabsf(b[0].h - 10.0f / 40) < 1e-6f);
    assert_true(fabsf(b[1].x - 3.0f / 40) < 1e-6f && fabsf(b[1].w - 7.0f / 40) < 1e-6f);

    /* a cold frame still has a top box: where the heatmap peaks */
    for (int i = 0; i < NHEAT; i++)
        p[i] = 0.01f;
    p[10 * CS_POLYP_OUT + 11] = 0.04f;
    n = cs_polyp_boxes(p, b);
    assert_int_equal(n, 1);
    assert_true(fabsf(b[0].x - 11.0f / 40) < 1e-6f && fabsf(b[0].y - 10.0f / 40) < 1e-6f);
}

/* ---- the engine ------------------------------------------------------------ */

static void engine_fills_polyp_fields(void **state)
{
    (void)state;
    cs_engine *eng = NULL;
    cs_worker *w = NULL;
    cs_error err = {0};
    assert_int_equal(cs_engine_load(tu_source_path("models/bleeding-xgb.json"), &eng, &err), CS_OK);
    assert_int_equal(cs_worker_new(eng, &w, &err), CS_OK);
    assert_true(cs_engine_polyp_threshold(eng) > 0 && cs_engine_polyp_threshold(eng) < 1);
    /* the reference frame, analysed at another size (112x96): the engine
     * resizes; the result must be a probability with a top box */
    size_t rlen;
    uint8_t *rb = read_source("tests/data/polyp-ref.bin", &rlen);
    cs_image img = {112, 96, 112, 96, malloc(112 * 96 * 3)};
    assert_non_null(img.rgb);
    for (int y = 0; y < 96; y++)
        for (int x = 0; x < 112; x++)
            memcpy(img.rgb + (y * 112 + x) * 3,
                   rb + 20 + ((y * CS_POLYP_IN / 96) * CS_POLYP_IN + x * CS_POLYP_IN / 112) * 3, 3);
    cs_frame_result r1, r2;
    assert_int_equal(cs_worker_analyze(w, &img, &r1, &err), CS_OK);
    assert_true(r1.polyp_probability >= 0 && r1.polyp_probability <= 1);
    assert_int_equal(r1.polyp, r1.polyp_probability >= cs_engine_polyp_threshold(eng));
    assert_true(r1.n_polyp_boxes >= 1);
    assert_non_null(cs_worker_polyp_heatmap(w, 0));
    assert_null(cs_worker_polyp_heatmap(w, 1));
    /* a batch gives each frame what it gets alone */
    const cs_image *batch[3] = {&img, &img, &img};
    cs_frame_result rb3[3];
    assert_int_equal(cs_worker_analyze_batch(w, batch, 3, rb3, &err), CS_OK);
    r2 = rb3[2];
    assert_memory_equal(&r1.polyp_probability, &r2.polyp_probability, sizeof(float));
    assert_int_equal(r1.n_polyp_boxes, r2.n_polyp_boxes);
    assert_memory_equal(r1.polyp_boxes, r2.polyp_boxes, sizeof(cs_box) * (size_t)r1.n_polyp_boxes);
    free(img.rgb);
    free(rb);
    cs_worker_free(w);
    cs_engine_free(eng);
}

/* Real frames, both held out from the shipped model's training (Kvasir-SEG
 * fold 4, a held-out WCEBleedGen group): the polyp frame is flagged with its
 * top box centred inside the polyp's mask; the capsule frame is not. */
#define HELD_OUT_POLYP "cju2pjb9v0ywn0878j5g5n69j.jpg"
#define HELD_OUT_CAPSULE "wcb-0820.jpg"

static cs_image decode_shared(const char *rel)
{
    size_t len;
    uint8_t *b = tu_read_file(tu_shared_path(rel), &len);
    assert_non_null(b);
    cs_image img = {0};
    cs_error err = {0};
    assert_int_equal(cs_decode_frame(b, len, &img, &err), CS_OK);
    free(b);
    return img;
}

static void real_frames_held_out(void **state)
{
    (void)state;
    if (!tu_have_shared())
        skip();
    char rel[256];
    snprintf(rel, sizeof rel, "data/kvasir-seg/images/%s", HELD_OUT_POLYP);
    FILE *probe = fopen(tu_shared_path(rel), "rb");
    if (!probe)
        skip();
    fclose(probe);
    cs_engine *eng = NULL;
    cs_worker *w = NULL;
    cs_error err = {0};
    assert_int_equal(cs_engine_load(tu_source_path("models/bleeding-xgb.json"), &eng, &err), CS_OK);
    assert_int_equal(cs_worker_new(eng, &w, &err), CS_OK);
    cs_image polyp = decode_shared(rel);
    snprintf(rel, sizeof rel, "data/kvasir-seg/masks/%s", HELD_OUT_POLYP);
    cs_image mask = decode_shared(rel);
    snprintf(rel, sizeof rel, "data/wcebleedgen/images/%s", HELD_OUT_CAPSULE);
    cs_image capsule = decode_shared(rel);
    cs_frame_result r;
    assert_int_equal(cs_worker_analyze(w, &polyp, &r, &err), CS_OK);
    printf("held-out polyp frame: %.4f (threshold %.4f)\n", (double)r.polyp_probability,
           (double)cs_engine_polyp_threshold(eng));
    assert_true(r.polyp);
    assert_true(r.n_polyp_boxes >= 1);
    const cs_box *b = &r.polyp_boxes[0];
    int cx = (int)((b->x + b->w / 2) * mask.width), cy = (int)((b->y + b->h / 2) * mask.height);
    assert_true(mask.rgb[((size_t)cy * mask.width + cx) * 3] >= 128);
    assert_int_equal(cs_worker_analyze(w, &capsule, &r, &err), CS_OK);
    printf("held-out capsule frame: %.4f\n", (double)r.polyp_probability);
    assert_false(r.polyp);
    cs_image_free(&polyp);
    cs_image_free(&mask);
    cs_image_free(&capsule);
    cs_worker_free(w);
    cs_engine_free(eng);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(c_matches_pytorch),
        cmocka_unit_test(loader_refuses_bad_files),
        cmocka_unit_test(engine_load_names_the_bad_polyp_file),
        cmocka_unit_test(input_resize_is_a_box_filter),
        cmocka_unit_test(score_is_the_top_k_mean),
        cmocka_unit_test(boxes_follow_the_heatmap),
        cmocka_unit_test(engine_fills_polyp_fields),
        cmocka_unit_test(real_frames_held_out),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
