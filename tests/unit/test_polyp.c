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

#define HEAT40 40 /* the 80 px network's heatmap side */
#define NHEAT (HEAT40 * HEAT40)

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

/* One single network (a version-1 or -2 file) from the shipped weights:
 * the file itself, or its first member when it is an ensemble (version 3:
 * a 20-byte header, then each member as its length and whole file;
 * version 4: a 24-byte header). The loader and ensemble tests rewrap and
 * tamper with a single network, so they do not depend on which kind
 * ships. Caller frees. */
static uint8_t *read_one_network(size_t *len)
{
    uint8_t *b = read_source("models/polyp-unet.bin", len);
    size_t head = rd32(b + 8) == CS_POLYP_ENSEMBLE_VERSION        ? 20
                  : rd32(b + 8) == CS_POLYP_CROP_ENSEMBLE_VERSION ? 24
                                                                  : 0;
    if (!head)
        return b;
    assert_true(*len > head + 4);
    size_t first = rd32(b + head);
    assert_true(first <= *len - head - 8);
    uint8_t *one = malloc(first);
    assert_non_null(one);
    memcpy(one, b + head + 4, first);
    free(b);
    *len = first;
    return one;
}

/* Where a weights file's header fields are (docs/engine.md): version 2
 * adds the heatmap side after the input side. */
typedef struct hdr {
    size_t in, out, topk, nw, thr, widths, layers; /* byte offsets; out 0 in version 1 */
} hdr;

static hdr header_of(const uint8_t *b)
{
    if (rd32(b + 8) == 1)
        return (hdr){12, 0, 16, 20, 28, 32, 48};
    return (hdr){12, 16, 20, 24, 32, 36, 52};
}

/* The same weights under another header: version 1 (input 80 implied by
 * the format) or 2 with the given sides. The convolutions do not depend on
 * the input side, so either file is a working network. Caller frees. */
static uint8_t *rewrap(const uint8_t *good, size_t len, uint32_t version, uint32_t in, uint32_t out,
                       uint32_t topk, size_t *out_len)
{
    hdr g = header_of(good);
    size_t body = len - 4 - g.layers, head = version == 1 ? 48 : 52;
    uint8_t *b = malloc(head + body + 4);
    assert_non_null(b);
    memcpy(b, good, 8);
    wr32(b + 8, version);
    wr32(b + 12, in);
    size_t at = 16;
    if (version != 1) {
        wr32(b + 16, out);
        at = 20;
    }
    wr32(b + at, topk);
    memcpy(b + at + 4, good + g.nw, 8 + 4 + 16); /* widths count, layers, threshold, widths */
    memcpy(b + head, good + g.layers, body);
    *out_len = head + body + 4;
    reseal(b, *out_len);
    return b;
}

/* ---- the network against PyTorch ------------------------------------------ */

/* CS_POLYP_CHECK_WEIGHTS and CS_POLYP_CHECK_REF (absolute paths) check
 * another weights file and its reference instead: the smoke training test
 * checks a freshly written ensemble that way. */
static void c_matches_pytorch(void **state)
{
    (void)state;
    size_t wlen, rlen;
    const char *wpath = getenv("CS_POLYP_CHECK_WEIGHTS"), *rpath = getenv("CS_POLYP_CHECK_REF");
    uint8_t *wb = wpath ? tu_read_file(wpath, &wlen) : read_source("models/polyp-unet.bin", &wlen);
    uint8_t *rb =
        rpath ? tu_read_file(rpath, &rlen) : read_source("tests/data/polyp-ref.bin", &rlen);
    assert_non_null(wb);
    assert_non_null(rb);
    assert_memory_equal(rb, "CSPREF01", 8);
    cs_polyp_model *m = NULL;
    cs_polyp_net *net = NULL;
    cs_error err = {0};
    assert_int_equal(cs_polyp_model_parse(wb, wlen, &m, &err), CS_OK);
    assert_int_equal(cs_polyp_net_new(m, &net, &err), CS_OK);
    /* the reference is for the shipped model's sides */
    const int IN = m->in_side, NH = m->out_side * m->out_side;
    assert_int_equal(rd32(rb + 8), IN);
    assert_int_equal(rd32(rb + 12), m->out_side);
    assert_int_equal(m->out_side * 2, IN);
    size_t npix = (size_t)IN * IN * 3;
    assert_int_equal(rlen, 20 + npix + 4 * (size_t)NH);
    float want_score;
    memcpy(&want_score, rb + 16, 4);
    const float *want = (const float *)(const void *)(rb + 20 + npix);

    cs_image img = {.width = IN, .height = IN, .src_width = IN, .src_height = IN, .rgb = rb + 20};
    float *tmp = malloc(sizeof(float) * npix), *in = malloc(sizeof(float) * npix);
    float *got = malloc(sizeof(float) * (size_t)NH), *again = malloc(sizeof(float) * (size_t)NH);
    assert_non_null(tmp);
    assert_non_null(in);
    assert_non_null(got);
    assert_non_null(again);
    cs_polyp_input(&img, IN, tmp, in);
    assert_int_equal(cs_polyp_net_run(net, in, got, &err), CS_OK);
    float maxdiff = 0, maxabs = 0;
    for (int i = 0; i < NH; i++) {
        maxdiff = fmaxf(maxdiff, fabsf(got[i] - want[i]));
        maxabs = fmaxf(maxabs, fabsf(want[i]));
    }
    printf("C vs PyTorch: max |logit difference| %.2e (logits up to %.2f)\n", (double)maxdiff,
           (double)maxabs);
    assert_true(maxdiff < 2e-3f + 1e-4f * maxabs);
    float score = cs_polyp_score(got, NH, m->topk);
    assert_true(fabsf(score - want_score) < 1e-4f);
    /* the same frame again: bit for bit the same (no state carried over) */
    assert_int_equal(cs_polyp_net_run(net, in, again, &err), CS_OK);
    assert_memory_equal(got, again, sizeof(float) * (size_t)NH);

    free(got);
    free(again);
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

/* The checks that do not depend on the version, on file b (len bytes). */
static void refuses_damage(const uint8_t *good, size_t len)
{
    hdr h = header_of(good);
    uint8_t *b = malloc(len + 8);
    assert_non_null(b);

    expect_refused(good, 0, CS_ERR_TRUNCATED, "header");
    expect_refused(good, 40, CS_ERR_TRUNCATED, "header");
    expect_refused(good, h.layers + 40, CS_ERR_TRUNCATED, "truncated");

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
    wr32(b + h.nw, 5); /* five widths: another network */
    reseal(b, len);
    expect_refused(b, len, CS_ERR_MODEL, "another network");

    memcpy(b, good, len);
    wr32(b + h.widths + 12, rd32(b + h.widths + 12) + 1); /* a wider bottleneck: other shapes */
    reseal(b, len);
    expect_refused(b, len, CS_ERR_TRUNCATED, "truncated");

    memcpy(b, good, len);
    float thr = 1.5f;
    memcpy(b + h.thr, &thr, 4);
    reseal(b, len);
    expect_refused(b, len, CS_ERR_MODEL, "threshold");

    memcpy(b, good, len);
    wr32(b + h.topk, 0);
    reseal(b, len);
    expect_refused(b, len, CS_ERR_MODEL, "top-k 0");

    memcpy(b, good, len);
    wr32(b + h.topk, CS_POLYP_MAX_TOPK + 1); /* more than the score pools */
    reseal(b, len);
    expect_refused(b, len, CS_ERR_MODEL, "top-k");

    memcpy(b, good, len);
    memcpy(b + h.layers, "enc9", 4); /* the first layer's name */
    reseal(b, len);
    expect_refused(b, len, CS_ERR_MODEL, "layer 0");

    memcpy(b, good, len);
    float nan = NAN;
    memcpy(b + h.layers + 32, &nan, 4); /* the first weight */
    reseal(b, len);
    expect_refused(b, len, CS_ERR_MODEL, "non-finite");
    free(b);
}

static void loader_refuses_bad_files(void **state)
{
    (void)state;
    size_t len, v1len, v2len;
    uint8_t *good = read_one_network(&len);
    hdr g = header_of(good);
    uint32_t topk = rd32(good + g.topk);
    /* the same weights as a version-1 (80/40) and a version-2 128/64 file */
    uint8_t *v1 = rewrap(good, len, 1, 80, 0, topk, &v1len);
    uint8_t *v2 = rewrap(good, len, 2, 128, 64, topk, &v2len);
    refuses_damage(v1, v1len);
    refuses_damage(v2, v2len);

    /* version 1 is the 80 px network */
    uint8_t *b = malloc(v2len);
    assert_non_null(b);
    memcpy(b, v1, v1len);
    wr32(b + 12, 96);
    reseal(b, v1len);
    expect_refused(b, v1len, CS_ERR_MODEL, "version 1 with input side 96");

    /* version 2: the sides must be ones the network and engine take */
    static const struct {
        uint32_t in, out;
        const char *words;
    } bad[] = {
        {100, 50, "input side 100"},  /* not a multiple of 16 */
        {48, 24, "input side 48"},    /* too small */
        {512, 256, "input side 512"}, /* too large */
        {0, 0, "input side 0"},         {128, 40, "heatmap side 40 for input side 128"},
        {128, 128, "heatmap side 128"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        memcpy(b, v2, v2len);
        wr32(b + 12, bad[i].in);
        wr32(b + 16, bad[i].out);
        reseal(b, v2len);
        expect_refused(b, v2len, CS_ERR_MODEL, bad[i].words);
    }
    /* a version-2 file cut inside its longer header */
    expect_refused(v2, 50, CS_ERR_TRUNCATED, "header");

    /* the intact files load, with their sides, and build */
    const uint8_t *files[3] = {good, v1, v2};
    const size_t lens[3] = {len, v1len, v2len};
    const int want_in[3] = {(int)rd32(good + 12), 80, 128};
    for (int i = 0; i < 3; i++) {
        cs_polyp_model *m = NULL;
        cs_polyp_net *net = NULL;
        cs_error err = {0};
        assert_int_equal(cs_polyp_model_parse(files[i], lens[i], &m, &err), CS_OK);
        assert_true(m->threshold > 0 && m->threshold < 1);
        assert_int_equal(m->in_side, want_in[i]);
        assert_int_equal(m->out_side, want_in[i] / 2);
        assert_int_equal(m->version, i == 0 ? (int)rd32(good + 8) : i);
        assert_int_equal(cs_polyp_net_new(m, &net, &err), CS_OK);
        /* a flat grey input runs and gives finite logits over the heatmap */
        size_t nin = (size_t)m->in_side * m->in_side * 3, nh = (size_t)m->out_side * m->out_side;
        float *in = calloc(nin, sizeof *in), *lg = malloc(nh * sizeof *lg);
        assert_non_null(in);
        assert_non_null(lg);
        assert_int_equal(cs_polyp_net_run(net, in, lg, &err), CS_OK);
        for (size_t k = 0; k < nh; k++)
            assert_true(isfinite(lg[k]));
        free(in);
        free(lg);
        cs_polyp_net_free(net);
        cs_polyp_model_free(m);
    }
    free(b);
    free(v1);
    free(v2);
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

/* ---- ensembles (version 3) -------------------------------------------------- */

/* A version-3 file: k whole member files (version 2) under one header
 * with threshold thr, `extra` zero bytes after the last member, sealed.
 * Caller frees. */
static uint8_t *make_ensemble(const uint8_t *const *mem, const size_t *mlen, uint32_t k, float thr,
                              size_t extra, size_t *len)
{
    size_t n = 20 + extra + 4;
    for (uint32_t i = 0; i < k; i++)
        n += 4 + mlen[i];
    uint8_t *b = calloc(1, n);
    assert_non_null(b);
    memcpy(b, CS_POLYP_MAGIC, 8);
    wr32(b + 8, CS_POLYP_ENSEMBLE_VERSION);
    wr32(b + 12, k);
    memcpy(b + 16, &thr, 4);
    size_t off = 20;
    for (uint32_t i = 0; i < k; i++) {
        wr32(b + off, (uint32_t)mlen[i]);
        memcpy(b + off + 4, mem[i], mlen[i]);
        off += 4 + mlen[i];
    }
    *len = n;
    reseal(b, n);
    return b;
}

static float *run_model(const cs_polyp_model *m, const float *in)
{
    cs_polyp_net *net = NULL;
    cs_error err = {0};
    float *lg = malloc(sizeof(float) * (size_t)m->out_side * (size_t)m->out_side);
    assert_non_null(lg);
    assert_int_equal(cs_polyp_net_new(m, &net, &err), CS_OK);
    assert_int_equal(cs_polyp_net_run(net, in, lg, &err), CS_OK);
    cs_polyp_net_free(net);
    return lg;
}

/* An ensemble's logits are its members' mean, summed in order then
 * divided, bit for bit as the training tool's MeanLogits; the container's
 * threshold is the one used. Member b is the shipped network with its
 * head's bias raised by 1 (the last value before the checksum). */
static void ensemble_averages_its_members(void **state)
{
    (void)state;
    size_t alen, elen, flen;
    uint8_t *a = read_one_network(&alen);
    uint8_t *b = malloc(alen);
    assert_non_null(b);
    memcpy(b, a, alen);
    float bias;
    memcpy(&bias, b + alen - 8, 4);
    bias += 1.0f;
    memcpy(b + alen - 8, &bias, 4);
    reseal(b, alen);
    const uint8_t *mem[2] = {a, b};
    const size_t mlen[2] = {alen, alen};
    uint8_t *e = make_ensemble(mem, mlen, 2, 0.25f, 0, &elen);
    const uint8_t *same[2] = {a, a};
    uint8_t *f = make_ensemble(same, mlen, 2, 0.5f, 0, &flen);
    cs_polyp_model *ma = NULL, *mb = NULL, *me = NULL, *mf = NULL;
    cs_error err = {0};
    assert_int_equal(cs_polyp_model_parse(a, alen, &ma, &err), CS_OK);
    assert_int_equal(cs_polyp_model_parse(b, alen, &mb, &err), CS_OK);
    assert_int_equal(cs_polyp_model_parse(e, elen, &me, &err), CS_OK);
    assert_int_equal(cs_polyp_model_parse(f, flen, &mf, &err), CS_OK);
    assert_int_equal(me->version, 3);
    assert_int_equal(me->n_members, 2);
    assert_int_equal(cs_polyp_model_networks(me), 2);
    assert_int_equal(cs_polyp_model_networks(ma), 1);
    assert_ptr_equal(cs_polyp_model_network(ma, 0), ma);
    assert_true(me->threshold == 0.25f && mf->threshold == 0.5f);
    assert_int_equal(me->in_side, ma->in_side);
    assert_int_equal(me->out_side, ma->out_side);
    assert_int_equal(me->topk, ma->topk);
    const size_t npix = (size_t)ma->in_side * (size_t)ma->in_side * 3;
    const int cells = ma->out_side * ma->out_side;
    float *in = malloc(sizeof(float) * npix);
    assert_non_null(in);
    for (size_t i = 0; i < npix; i++)
        in[i] = (float)((i * 2654435761u) >> 24) / 127.5f - 1.0f;
    float *la = run_model(ma, in), *lb = run_model(mb, in), *le = run_model(me, in),
          *lf = run_model(mf, in);
    for (int c = 0; c < cells; c++) {
        /* the members differ by the bias, to float rounding at the logit's
         * size (noise input can drive a logit to -2000) */
        assert_true(fabsf(lb[c] - la[c] - 1.0f) < 1e-4f + 1e-6f * fabsf(la[c]));
        float mean = (la[c] + lb[c]) / 2.0f;
        assert_memory_equal(&le[c], &mean, sizeof(float));
        assert_memory_equal(&lf[c], &la[c], sizeof(float)); /* a network and itself */
    }
    free(la);
    free(lb);
    free(le);
    free(lf);
    free(in);
    cs_polyp_model_free(ma);
    cs_polyp_model_free(mb);
    cs_polyp_model_free(me);
    cs_polyp_model_free(mf);
    free(e);
    free(f);
    free(b);
    free(a);
}

/* What an ensemble file may not be, each refused with its reason. */
static void ensemble_refusals(void **state)
{
    (void)state;
    size_t alen, len, vlen, wlen;
    uint8_t *a = read_one_network(&alen);
    const uint8_t *five[5] = {a, a, a, a, a};
    const size_t flen[5] = {alen, alen, alen, alen, alen};
    uint8_t *b;

    b = make_ensemble(five, flen, 1, 0.5f, 0, &len);
    expect_refused(b, len, CS_ERR_MODEL, "ensemble of 1 networks (2 to 4)");
    free(b);
    b = make_ensemble(five, flen, 5, 0.5f, 0, &len);
    expect_refused(b, len, CS_ERR_MODEL, "ensemble of 5 networks");
    free(b);
    static const float bad_thr[] = {1.5f, 0.0f, 1.0f, -0.25f, NAN};
    for (size_t i = 0; i < sizeof bad_thr / sizeof *bad_thr; i++) {
        b = make_ensemble(five, flen, 2, bad_thr[i], 0, &len);
        expect_refused(b, len, CS_ERR_MODEL, "threshold");
        free(b);
    }
    /* the container's checksum, before any member */
    b = make_ensemble(five, flen, 2, 0.5f, 0, &len);
    b[len - 100] ^= 0x40; /* inside the second member */
    expect_refused(b, len, CS_ERR_CHECKSUM, "damaged");
    /* a member's own checksum, the container resealed */
    reseal(b, len);
    expect_refused(b, len, CS_ERR_CHECKSUM, "member 2 of 2");
    free(b);
    /* cut inside the second member */
    b = make_ensemble(five, flen, 2, 0.5f, 0, &len);
    reseal(b, len - 100);
    expect_refused(b, len - 100, CS_ERR_TRUNCATED, "member 2 of 2");
    reseal(b, 20 + 4 + alen + 2 + 4); /* the second member's length cut */
    expect_refused(b, 20 + 4 + alen + 2 + 4, CS_ERR_TRUNCATED, "member 2 of 2 missing");
    free(b);
    b = make_ensemble(five, flen, 2, 0.5f, 8, &len);
    expect_refused(b, len, CS_ERR_MODEL, "8 bytes after the last member");
    free(b);
    /* members must be single networks (version 1 or 2) of the same sides */
    uint8_t *v = rewrap(a, alen, 2, 96, 48, rd32(a + header_of(a).topk), &vlen);
    const uint8_t *other[2] = {a, v};
    const size_t olen[2] = {alen, vlen};
    b = make_ensemble(other, olen, 2, 0.5f, 0, &len);
    expect_refused(b, len, CS_ERR_MODEL, "members must agree");
    free(b);
    free(v);
    v = rewrap(a, alen, 2, 80, 40, rd32(a + header_of(a).topk) + 1, &vlen); /* top-k only */
    other[1] = v;
    const size_t tlen[2] = {alen, vlen};
    b = make_ensemble(other, tlen, 2, 0.5f, 0, &len);
    expect_refused(b, len, CS_ERR_MODEL, "members must agree");
    free(b);
    /* a version-1 and a version-2 file of one network: the same member */
    uint8_t *w = rewrap(a, alen, 2, 80, 40, rd32(a + header_of(a).topk), &wlen);
    const uint8_t *mixed[2] = {a, w};
    const size_t wlens[2] = {alen, wlen};
    b = make_ensemble(mixed, wlens, 2, 0.5f, 0, &len);
    cs_polyp_model *m = NULL;
    cs_error err = {0};
    assert_int_equal(cs_polyp_model_parse(b, len, &m, &err), CS_OK);
    assert_int_equal(m->members[0]->version + m->members[1]->version, 3);
    cs_polyp_model_free(m);
    const uint8_t *nested[2] = {a, b};
    const size_t nlen[2] = {alen, len};
    size_t blen;
    uint8_t *c = make_ensemble(nested, nlen, 2, 0.5f, 0, &blen);
    expect_refused(c, blen, CS_ERR_MODEL, "members must be single networks");
    free(c);
    free(b);
    free(w);
    free(v);
    free(a);
}

/* The engine loads an ensemble file like any weights file: a network and
 * itself score every frame as the network alone; the CRC named in the
 * audit log is the container's. */
static void engine_runs_an_ensemble_file(void **state)
{
    (void)state;
    size_t alen, elen;
    uint8_t *a = read_one_network(&alen);
    float thr;
    memcpy(&thr, a + header_of(a).thr, 4);
    const uint8_t *same[2] = {a, a};
    const size_t mlen[2] = {alen, alen};
    uint8_t *e = make_ensemble(same, mlen, 2, thr, 0, &elen);
    char path[512], single[512];
    snprintf(path, sizeof path, "%s/ensemble.bin", tu_tmpdir());
    assert_int_equal(tu_write_file(path, e, elen), 0);
    snprintf(single, sizeof single, "%s/single.bin", tu_tmpdir());
    assert_int_equal(tu_write_file(single, a, alen), 0);
    cs_engine *one = NULL, *two = NULL;
    cs_worker *w1 = NULL, *w2 = NULL;
    cs_error err = {0};
    char bleeding[512]; /* tu_source_path reuses its buffer */
    snprintf(bleeding, sizeof bleeding, "%s", tu_source_path("models/bleeding-xgb.json"));
    assert_int_equal(cs_engine_load_models(bleeding, single, &one, &err), CS_OK);
    assert_int_equal(cs_engine_load_models(bleeding, path, &two, &err), CS_OK);
    assert_int_equal(cs_worker_new(one, &w1, &err), CS_OK);
    assert_int_equal(cs_worker_new(two, &w2, &err), CS_OK);
    assert_true(cs_engine_polyp_threshold(two) == thr);
    assert_int_equal(cs_engine_polyp_weights_crc32c(two), rd32(e + elen - 4));
    assert_int_equal(cs_engine_polyp_weights_crc32c(one), rd32(a + alen - 4));
    size_t rlen;
    uint8_t *rb = read_source("tests/data/polyp-ref.bin", &rlen);
    const int R = (int)rd32(rb + 8);
    cs_image img = {.width = R, .height = R, .src_width = R, .src_height = R, .rgb = rb + 20};
    cs_frame_result r1, r2;
    assert_int_equal(cs_worker_analyze(w1, &img, &r1, &err), CS_OK);
    assert_int_equal(cs_worker_analyze(w2, &img, &r2, &err), CS_OK);
    assert_memory_equal(&r1.polyp_probability, &r2.polyp_probability, sizeof(float));
    assert_int_equal(r1.polyp, r2.polyp);
    assert_int_equal(r1.n_polyp_boxes, r2.n_polyp_boxes);
    assert_memory_equal(r1.polyp_boxes, r2.polyp_boxes, sizeof(cs_box) * (size_t)r1.n_polyp_boxes);
    cs_worker_free(w1);
    cs_worker_free(w2);
    cs_engine_free(one);
    cs_engine_free(two);
    free(rb);
    free(e);
    free(a);
}

/* ---- crops in the frame score (version 4) ---------------------------------- */

/* The version-4 file of version-3 file `e`: its header, then the crop gate,
 * then its members, sealed. Caller frees. */
static uint8_t *with_crop_gate(const uint8_t *e, size_t elen, float gate, size_t *len)
{
    assert_int_equal(rd32(e + 8), CS_POLYP_ENSEMBLE_VERSION);
    uint8_t *b = malloc(elen + 4);
    assert_non_null(b);
    memcpy(b, e, 20);
    wr32(b + 8, CS_POLYP_CROP_ENSEMBLE_VERSION);
    memcpy(b + 20, &gate, 4);
    memcpy(b + 24, e + 20, elen - 20);
    *len = elen + 4;
    reseal(b, *len);
    return b;
}

/* A version-4 file loads as its version-3 file with the gate read back and
 * crops in its score (the same members, the same logits); versions 1-3
 * keep the one pass. A gate outside [0, 1), damage, and everything a
 * version-3 file may not be, are refused with the reason, naming the
 * file when it is loaded from one. */
static void crop_gate_is_read_or_refused(void **state)
{
    (void)state;
    size_t alen, elen, len;
    uint8_t *a = read_one_network(&alen);
    const uint8_t *five[5] = {a, a, a, a, a};
    const size_t flen[5] = {alen, alen, alen, alen, alen};
    uint8_t *e = make_ensemble(five, flen, 2, 0.5f, 0, &elen);
    uint8_t *b;

    static const struct {
        float gate;
        const char *words;
    } bad[] = {
        {NAN, "crop gate nan outside [0, 1)"}, {-0.1f, "crop gate -0.1 outside [0, 1)"},
        {1.0f, "crop gate 1 outside [0, 1)"},  {1.5f, "crop gate 1.5 outside [0, 1)"},
        {INFINITY, "crop gate inf outside"},   {-0.0001f, "crop gate -0.0001 outside"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        b = with_crop_gate(e, elen, bad[i].gate, &len);
        expect_refused(b, len, CS_ERR_MODEL, bad[i].words);
        free(b);
    }

    /* good gates: read back bit for bit, the members after them */
    cs_polyp_model *m3 = NULL, *m1 = NULL;
    cs_error err = {0};
    assert_int_equal(cs_polyp_model_parse(e, elen, &m3, &err), CS_OK);
    assert_int_equal(cs_polyp_model_parse(a, alen, &m1, &err), CS_OK);
    assert_false(m3->crops_in_score);
    assert_true(m3->crop_gate == 0.0f);
    assert_false(m1->crops_in_score);
    const size_t npix = (size_t)m3->in_side * (size_t)m3->in_side * 3;
    float *in = malloc(sizeof(float) * npix);
    assert_non_null(in);
    for (size_t i = 0; i < npix; i++)
        in[i] = (float)((i * 2654435761u) >> 24) / 127.5f - 1.0f;
    float *l3 = run_model(m3, in);
    const float good[] = {0.0f, 0.25f, 0.99999994f};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        b = with_crop_gate(e, elen, good[i], &len);
        cs_polyp_model *m4 = NULL;
        assert_int_equal(cs_polyp_model_parse(b, len, &m4, &err), CS_OK);
        assert_int_equal(m4->version, 4);
        assert_true(m4->crops_in_score);
        assert_memory_equal(&m4->crop_gate, &good[i], sizeof(float));
        assert_true(m4->threshold == 0.5f);
        assert_int_equal(m4->n_members, 2);
        assert_int_equal(m4->in_side, m3->in_side);
        assert_int_equal(m4->topk, m3->topk);
        float *l4 = run_model(m4, in);
        assert_memory_equal(l4, l3, sizeof(float) * (size_t)m3->out_side * (size_t)m3->out_side);
        free(l4);
        cs_polyp_model_free(m4);
        free(b);
    }
    free(l3);
    free(in);
    cs_polyp_model_free(m1);
    cs_polyp_model_free(m3);

    /* damage: the container's checksum first (the gate is under it), then
     * the member's; cut short; bytes after the last member */
    b = with_crop_gate(e, elen, 0.1f, &len);
    b[21] ^= 0x01; /* inside the gate */
    expect_refused(b, len, CS_ERR_CHECKSUM, "damaged");
    b[21] ^= 0x01;
    b[len - 100] ^= 0x40; /* inside the second member */
    expect_refused(b, len, CS_ERR_CHECKSUM, "damaged");
    reseal(b, len);
    expect_refused(b, len, CS_ERR_CHECKSUM, "member 2 of 2");
    free(b);
    b = with_crop_gate(e, elen, 0.1f, &len);
    reseal(b, len - 100);
    expect_refused(b, len - 100, CS_ERR_TRUNCATED, "member 2 of 2");
    reseal(b, 24 + 4 + alen + 2 + 4); /* the second member's length cut */
    expect_refused(b, 24 + 4 + alen + 2 + 4, CS_ERR_TRUNCATED, "member 2 of 2 missing");
    expect_refused(b, 27, CS_ERR_TRUNCATED, "28-byte header");
    free(b);
    uint8_t *x = make_ensemble(five, flen, 2, 0.5f, 8, &len);
    b = with_crop_gate(x, len, 0.1f, &len);
    expect_refused(b, len, CS_ERR_MODEL, "8 bytes after the last member");
    free(b);
    free(x);
    x = make_ensemble(five, flen, 5, 0.5f, 0, &len);
    b = with_crop_gate(x, len, 0.1f, &len);
    expect_refused(b, len, CS_ERR_MODEL, "ensemble of 5 networks");
    free(b);
    free(x);
    x = make_ensemble(five, flen, 2, 1.0f, 0, &len);
    b = with_crop_gate(x, len, 0.1f, &len);
    expect_refused(b, len, CS_ERR_MODEL, "threshold 1 outside (0, 1)");
    free(b);
    free(x);
    /* a version-4 file is not a member */
    b = with_crop_gate(e, elen, 0.1f, &len);
    const uint8_t *nested[2] = {a, b};
    const size_t nlen[2] = {alen, len};
    size_t clen;
    uint8_t *c = make_ensemble(nested, nlen, 2, 0.5f, 0, &clen);
    expect_refused(c, clen, CS_ERR_MODEL, "members must be single networks");
    free(c);
    /* a later version is named with the ones this build reads */
    wr32(b + 8, 5);
    reseal(b, len);
    expect_refused(b, len, CS_ERR_MODEL, "version 5; this build reads versions 1 to 4");
    free(b);

    /* from a file: the reason names it */
    char path[512];
    snprintf(path, sizeof path, "%s/gate-1.5.bin", tu_tmpdir());
    b = with_crop_gate(e, elen, 1.5f, &len);
    assert_int_equal(tu_write_file(path, b, len), 0);
    cs_polyp_model *m = (cs_polyp_model *)1;
    assert_int_equal(cs_polyp_model_load(path, &m, &err), CS_ERR_MODEL);
    assert_null(m);
    assert_non_null(strstr(err.msg, "gate-1.5.bin"));
    assert_non_null(strstr(err.msg, "crop gate 1.5 outside [0, 1)"));
    free(b);
    free(e);
    free(a);
}

/* ---- resize, score, boxes -------------------------------------------------- */

static void input_resize_is_a_box_filter(void **state)
{
    (void)state;
    /* 2N x 2N of 2x2 blocks: the box filter gives each block's mean, for
     * the 80 px network and a larger one */
    static const int sides[] = {80, 128};
    for (size_t t = 0; t < sizeof sides / sizeof *sides; t++) {
        const int N = sides[t], S = 2 * N;
        uint8_t *rgb = malloc((size_t)S * S * 3);
        assert_non_null(rgb);
        for (int y = 0; y < S; y++)
            for (int x = 0; x < S; x++)
                for (int c = 0; c < 3; c++)
                    rgb[(y * S + x) * 3 + c] =
                        (uint8_t)(((x / 2) * 3 + (y / 2) * 5 + c * 7 + ((x + y) & 1) * 2) & 0xff);
        cs_image img = {.width = S, .height = S, .src_width = S, .src_height = S, .rgb = rgb};
        float *tmp = malloc(sizeof(float) * (size_t)N * S * 3);
        float *in = malloc(sizeof(float) * (size_t)N * N * 3);
        assert_non_null(tmp);
        assert_non_null(in);
        cs_polyp_input(&img, N, tmp, in);
        for (int y = 0; y < N; y++)
            for (int x = 0; x < N; x++)
                for (int c = 0; c < 3; c++) {
                    float mean = 0;
                    for (int k = 0; k < 4; k++)
                        mean += rgb[((2 * y + k / 2) * S + 2 * x + k % 2) * 3 + c];
                    mean /= 4;
                    float want = mean / 127.5f - 1.0f;
                    assert_true(fabsf(in[(y * N + x) * 3 + c] - want) < 1e-5f);
                }
        free(rgb);
        free(tmp);
        free(in);
    }
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
            p[y * HEAT40 + x] = 0.6f;
    p[4 * HEAT40 + 5] = 0.7f;
    for (int y = 20; y < 30; y++)
        for (int x = 24; x < 36; x++)
            p[y * HEAT40 + x] = 0.8f;
    p[25 * HEAT40 + 30] = 0.95f;
    p[35 * HEAT40 + 2] = 0.6f;
    cs_box b[CS_MAX_BOXES];
    int n = cs_polyp_boxes(p, HEAT40, b);
    assert_int_equal(n, 2);
    assert_true(fabsf(b[0].score - 0.95f) < 1e-6f);
    assert_true(fabsf(b[0].x - 24.0f / 40) < 1e-6f && fabsf(b[0].y - 20.0f / 40) < 1e-6f);
    assert_true(fabsf(b[0].w - 12.0f / 40) < 1e-6f && fabsf(b[0].h - 10.0f / 40) < 1e-6f);
    assert_true(fabsf(b[1].x - 3.0f / 40) < 1e-6f && fabsf(b[1].w - 7.0f / 40) < 1e-6f);

    /* a cold frame still has a top box: where the heatmap peaks */
    for (int i = 0; i < NHEAT; i++)
        p[i] = 0.01f;
    p[10 * HEAT40 + 11] = 0.04f;
    n = cs_polyp_boxes(p, HEAT40, b);
    assert_int_equal(n, 1);
    assert_true(fabsf(b[0].x - 11.0f / 40) < 1e-6f && fabsf(b[0].y - 10.0f / 40) < 1e-6f);

    /* a 64x64 heatmap (the 128 px network): coordinates in its cells, and
     * no more than CS_MAX_BOXES boxes, the strongest first */
    enum { H = 64 };
    float *q = malloc(sizeof(float) * H * H);
    assert_non_null(q);
    for (int i = 0; i < H * H; i++)
        q[i] = 0.01f;
    for (int k = 0; k < CS_MAX_BOXES + 3; k++) /* 2x2 blobs along the diagonal */
        for (int d = 0; d < 4; d++)
            q[(k * 4 + d / 2) * H + k * 4 + d % 2] = 0.6f + 0.01f * (float)k;
    n = cs_polyp_boxes(q, H, b);
    assert_int_equal(n, CS_MAX_BOXES);
    int last = CS_MAX_BOXES + 2;
    assert_true(fabsf(b[0].score - (0.6f + 0.01f * (float)last)) < 1e-6f);
    assert_true(fabsf(b[0].x - (float)(last * 4) / H) < 1e-6f);
    assert_true(fabsf(b[0].w - 2.0f / H) < 1e-6f && fabsf(b[0].h - 2.0f / H) < 1e-6f);
    for (int i = 1; i < n; i++)
        assert_true(b[i].score < b[i - 1].score);
    /* a side the boxes cannot hold gives none */
    assert_int_equal(cs_polyp_boxes(q, CS_POLYP_MAX_IN / 2 + 1, b), 0);
    free(q);

    /* A hot core (0.95) with a warm tail (0.51) running off to the right: the
     * region at 0.5 holds both, the box only the core (cells >=
     * CS_POLYP_CORE_CUT x 0.95), so its centre stays on the core. */
    for (int i = 0; i < NHEAT; i++)
        p[i] = 0.01f;
    for (int y = 10; y < 14; y++)
        for (int x = 10; x < 30; x++)
            p[y * HEAT40 + x] = x < 14 ? 0.95f : 0.51f;
    n = cs_polyp_boxes(p, HEAT40, b);
    assert_int_equal(n, 1);
    assert_true(fabsf(b[0].x - 10.0f / 40) < 1e-6f && fabsf(b[0].w - 4.0f / 40) < 1e-6f);
    assert_true(fabsf(b[0].y - 10.0f / 40) < 1e-6f && fabsf(b[0].h - 4.0f / 40) < 1e-6f);
    /* a core cut never reaches below the level that found the region: a
     * weak second region (peak 0.6, so its own cut 0.55 x 0.6 = 0.33 lies
     * under the level 0.5) keeps its cells of 0.51 and does not grow into a
     * neighbouring cell of 0.4 */
    for (int y = 30; y < 33; y++)
        for (int x = 5; x < 9; x++)
            p[y * HEAT40 + x] = y == 31 && x == 6 ? 0.6f : 0.51f;
    p[33 * HEAT40 + 6] = 0.4f;
    n = cs_polyp_boxes(p, HEAT40, b);
    assert_int_equal(n, 2);
    assert_true(fabsf(b[1].x - 5.0f / 40) < 1e-6f && fabsf(b[1].w - 4.0f / 40) < 1e-6f);
    assert_true(fabsf(b[1].y - 30.0f / 40) < 1e-6f && fabsf(b[1].h - 3.0f / 40) < 1e-6f);
}

/* The four mirror images: each is undone by cs_polyp_add_unmirrored, the
 * mirrors are what they say, and they are four different images. */
static void mirrors_undo(void **state)
{
    (void)state;
    enum { S = 6, C = 3 };
    float src[S * S * C], dst[S * S * C], back[S * S], plane[S * S], seen[4][S * S * C];
    for (int i = 0; i < S * S * C; i++)
        src[i] = (float)i;
    for (int t = 0; t < 4; t++) {
        cs_polyp_mirror(src, S, C, t, dst);
        memcpy(seen[t], dst, sizeof dst);
        for (int c = 0; c < C; c++) { /* one channel back through the inverse */
            for (int i = 0; i < S * S; i++) {
                plane[i] = dst[i * C + c];
                back[i] = 0;
            }
            cs_polyp_add_unmirrored(plane, S, t, back);
            for (int i = 0; i < S * S; i++)
                assert_true(back[i] == src[i * C + c]);
        }
        for (int u = 0; u < t; u++)
            assert_true(memcmp(seen[u], seen[t], sizeof dst) != 0);
    }
    /* left-right: pixel (y, x) comes from (y, S-1-x); top-bottom likewise */
    cs_polyp_mirror(src, S, C, CS_POLYP_FLIP_X, dst);
    assert_true(dst[(1 * S + 0) * C + 2] == src[(1 * S + S - 1) * C + 2]);
    cs_polyp_mirror(src, S, C, CS_POLYP_FLIP_Y, dst);
    assert_true(dst[(0 * S + 4) * C + 1] == src[((S - 1) * S + 4) * C + 1]);
}

/* The crops: centre and corners at the share of the sides, inside the
 * image; a crop's input is the input of that rectangle cut out; a map
 * resampled onto the part of the frame it covers lands on exactly the
 * cells whose centres lie in it, with its values there. */
static void crops_cover_the_frame(void **state)
{
    (void)state;
    int x0, y0, w, h;
    cs_polyp_crop_rect(100, 50, 0, &x0, &y0, &w, &h);
    assert_int_equal(w, 60);
    assert_int_equal(h, 30);
    assert_int_equal(x0, 20);
    assert_int_equal(y0, 10);
    cs_polyp_crop_rect(100, 50, 4, &x0, &y0, &w, &h);
    assert_int_equal(x0, 40);
    assert_int_equal(y0, 20);
    cs_polyp_crop_rect(100, 50, 1, &x0, &y0, &w, &h);
    assert_int_equal(x0 + y0, 0);
    for (int k = 0; k < CS_POLYP_NCROPS; k++) { /* a tiny image still gives a pixel */
        cs_polyp_crop_rect(1, 1, k, &x0, &y0, &w, &h);
        assert_true(w == 1 && h == 1 && x0 == 0 && y0 == 0);
    }

    enum { W = 90, HH = 70, N = 16 };
    uint8_t *rgb = malloc(W * HH * 3), *cut = malloc(W * HH * 3);
    assert_true(rgb && cut);
    for (int i = 0; i < W * HH * 3; i++)
        rgb[i] = (uint8_t)((i * 37 + i / 7) & 0xff);
    cs_image img = {.width = W, .height = HH, .src_width = W, .src_height = HH, .rgb = rgb};
    cs_polyp_crop_rect(W, HH, 2, &x0, &y0, &w, &h); /* top right */
    for (int y = 0; y < h; y++)
        memcpy(cut + (size_t)y * w * 3, rgb + ((size_t)(y0 + y) * W + x0) * 3, (size_t)w * 3);
    cs_image part = {.width = w, .height = h, .src_width = w, .src_height = h, .rgb = cut};
    float tmp[N * HH * 3], a[N * N * 3], b[N * N * 3];
    cs_polyp_input_rect(&img, x0, y0, w, h, N, tmp, a);
    cs_polyp_input(&part, N, tmp, b);
    assert_memory_equal(a, b, sizeof a);
    free(rgb);
    free(cut);

    enum { S = 10 };
    float src[S * S], sum[S * S] = {0}, count[S * S] = {0};
    for (int i = 0; i < S * S; i++)
        src[i] = 3.0f;
    cs_polyp_add_resampled(src, S, 0.5f, 0.0f, 0.5f, 0.5f, sum, count); /* top right quarter */
    for (int j = 0; j < S; j++)
        for (int i = 0; i < S; i++) {
            int in_part = i >= 5 && j < 5;
            assert_true(count[j * S + i] == (in_part ? 1.0f : 0.0f));
            assert_true(fabsf(sum[j * S + i] - (in_part ? 3.0f : 0.0f)) < 1e-6f);
        }
    /* the whole frame: the map itself */
    for (int i = 0; i < S * S; i++) {
        src[i] = (float)i;
        sum[i] = count[i] = 0;
    }
    cs_polyp_add_resampled(src, S, 0.0f, 0.0f, 1.0f, 1.0f, sum, count);
    for (int i = 0; i < S * S; i++)
        assert_true(fabsf(sum[i] - src[i]) < 1e-4f && count[i] == 1.0f);
}

/* ---- the engine ------------------------------------------------------------ */

/* The engine's heatmap for `img`, recomputed from the network: one pass for
 * an unflagged frame; for a flagged one, each cell's mean logit over the
 * frame, its three mirror images (mirrored back) and the crops that cover
 * it (resampled). The probability is read as the shipped file reads it:
 * the one pass's score, or for a version-4 file whose one-pass score
 * reaches its crop gate, the highest of that and the five crops' scores
 * (the crop tests check that reading against the version-3 one). */
static void expect_outline(const cs_engine *eng, const cs_image *img, const cs_frame_result *r,
                           const float *heat)
{
    cs_polyp_model *m = NULL;
    cs_polyp_net *net = NULL;
    cs_error err = {0};
    size_t len;
    uint8_t *wb = read_source("models/polyp-unet.bin", &len);
    assert_int_equal(cs_polyp_model_parse(wb, len, &m, &err), CS_OK);
    assert_int_equal(cs_polyp_net_new(m, &net, &err), CS_OK);
    assert_int_equal(m->in_side, cs_engine_polyp_input_side(eng));
    const int N = m->in_side, H = m->out_side;
    float *tmp = malloc(sizeof(float) * (size_t)N * (size_t)img->height * 3);
    float *in = malloc(sizeof(float) * (size_t)N * N * 3);
    float *view = malloc(sizeof(float) * (size_t)N * N * 3);
    float *lg = malloc(sizeof(float) * (size_t)H * H);
    float *sum = calloc((size_t)H * H, sizeof(float));
    float *count = calloc((size_t)H * H, sizeof(float));
    assert_true(tmp && in && view && lg && sum && count);
    cs_polyp_input(img, N, tmp, in);
    int mirrors = r->polyp ? 4 : 1;
    float want_p = 0.0f;
    for (int t = 0; t < mirrors; t++) { /* t: 0, FLIP_X, FLIP_Y, both */
        cs_polyp_mirror(in, N, 3, t, view);
        assert_int_equal(cs_polyp_net_run(net, view, lg, &err), CS_OK);
        if (t == 0)
            want_p = cs_polyp_score(lg, H * H, m->topk);
        cs_polyp_add_unmirrored(lg, H, t, sum);
        for (int i = 0; i < H * H; i++)
            count[i] += 1.0f;
    }
    const bool crops_scored = m->crops_in_score && want_p >= m->crop_gate;
    for (int k = 0; (r->polyp || crops_scored) && k < CS_POLYP_NCROPS; k++) {
        int x0, y0, cw, ch;
        cs_polyp_crop_rect(img->width, img->height, k, &x0, &y0, &cw, &ch);
        cs_polyp_input_rect(img, x0, y0, cw, ch, N, tmp, view);
        assert_int_equal(cs_polyp_net_run(net, view, lg, &err), CS_OK);
        if (crops_scored)
            want_p = fmaxf(want_p, cs_polyp_score(lg, H * H, m->topk));
        if (r->polyp)
            cs_polyp_add_resampled(lg, H, (float)x0 / (float)img->width,
                                   (float)y0 / (float)img->height, (float)cw / (float)img->width,
                                   (float)ch / (float)img->height, sum, count);
    }
    assert_true(fabsf(want_p - r->polyp_probability) < 1e-6f);
    int crop_cells = 0;
    for (int i = 0; i < H * H; i++) {
        float want = (float)(1.0 / (1.0 + exp(-(double)(sum[i] / count[i]))));
        assert_true(fabsf(heat[i] - want) < 1e-5f);
        crop_cells += count[i] > (float)mirrors;
    }
    /* the crops of a flagged frame cover every cell (centre and corners) */
    assert_int_equal(crop_cells, r->polyp ? H * H : 0);
    free(tmp);
    free(in);
    free(view);
    free(lg);
    free(sum);
    free(count);
    free(wb);
    cs_polyp_net_free(net);
    cs_polyp_model_free(m);
}

/* The reference frame of tests/data/polyp-ref.bin resampled (nearest) to
 * w x h, each channel raised to at least `floor` (0: as it is). */
static cs_image reference_frame_at(int w, int h, uint8_t floor)
{
    size_t rlen;
    uint8_t *rb = read_source("tests/data/polyp-ref.bin", &rlen);
    const int R = (int)rd32(rb + 8); /* the reference frame's side */
    cs_image img = {
        .width = w, .height = h, .src_width = w, .src_height = h, .rgb = malloc((size_t)w * h * 3)};
    assert_non_null(img.rgb);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < 3; c++) {
                uint8_t v = rb[20 + ((size_t)(y * R / h) * R + (size_t)(x * R / w)) * 3 + c];
                img.rgb[((size_t)y * w + x) * 3 + c] = v < floor ? floor : v;
            }
    free(rb);
    return img;
}

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
    cs_image img = reference_frame_at(112, 96, 0);
    cs_frame_result r1, r2;
    assert_int_equal(cs_worker_analyze(w, &img, &r1, &err), CS_OK);
    assert_true(r1.polyp_probability >= 0 && r1.polyp_probability <= 1);
    assert_int_equal(r1.polyp, r1.polyp_probability >= cs_engine_polyp_threshold(eng));
    assert_true(r1.n_polyp_boxes >= 1);
    assert_non_null(cs_worker_polyp_heatmap(w, 0));
    assert_null(cs_worker_polyp_heatmap(w, 1));
    printf("reference frame: %.4f, %s\n", (double)r1.polyp_probability,
           r1.polyp ? "flagged (nine-pass outline)" : "not flagged");
    expect_outline(eng, &img, &r1, cs_worker_polyp_heatmap(w, 0));
    /* a batch gives each frame what it gets alone */
    const cs_image *batch[3] = {&img, &img, &img};
    cs_frame_result rb3[3];
    assert_int_equal(cs_worker_analyze_batch(w, batch, 3, rb3, &err), CS_OK);
    r2 = rb3[2];
    assert_memory_equal(&r1.polyp_probability, &r2.polyp_probability, sizeof(float));
    assert_int_equal(r1.n_polyp_boxes, r2.n_polyp_boxes);
    assert_memory_equal(r1.polyp_boxes, r2.polyp_boxes, sizeof(cs_box) * (size_t)r1.n_polyp_boxes);

    /* A detail image (the larger decode a larger network reads): the polyp
     * detector reads it, everything else still reads the analysis image. */
    cs_image flat = {.width = 112,
                     .height = 96,
                     .src_width = 112,
                     .src_height = 96,
                     .rgb = calloc(112 * 96 * 3, 1)};
    assert_non_null(flat.rgb);
    cs_image both = flat;
    both.detail_width = img.width;
    both.detail_height = img.height;
    both.detail_rgb = img.rgb;
    cs_frame_result rf, rd;
    assert_int_equal(cs_worker_analyze(w, &flat, &rf, &err), CS_OK);
    assert_false(rf.polyp);
    expect_outline(eng, &flat, &rf, cs_worker_polyp_heatmap(w, 0));
    assert_int_equal(cs_worker_analyze(w, &both, &rd, &err), CS_OK);
    assert_memory_equal(&rd.polyp_probability, &r1.polyp_probability, sizeof(float));
    assert_int_equal(rd.n_polyp_boxes, r1.n_polyp_boxes);
    assert_memory_equal(rd.polyp_boxes, r1.polyp_boxes, sizeof(cs_box) * (size_t)r1.n_polyp_boxes);
    assert_memory_equal(&rd.bleeding_probability, &rf.bleeding_probability, sizeof(float));
    assert_memory_equal(&rd.quality, &rf.quality, sizeof rf.quality);
    assert_memory_equal(rd.signature, rf.signature, sizeof rf.signature);
    free(flat.rgb);
    free(img.rgb);
    cs_worker_free(w);
    cs_engine_free(eng);
}

/* The rule for reading a frame through its lit field: a box under
 * CS_POLYP_FIELD_CROP of a side, and at least CS_POLYP_FIELD_MIN of both. */
static void field_rule(void **state)
{
    (void)state;
    assert_false(cs_polyp_reads_field(100, 80, 0, 0, 100, 80));  /* no border */
    assert_false(cs_polyp_reads_field(100, 80, 5, 0, 95, 80));   /* 0.90 wide: kept whole */
    assert_true(cs_polyp_reads_field(100, 80, 5, 0, 94, 80));    /* 0.89 wide */
    assert_true(cs_polyp_reads_field(100, 80, 0, 10, 100, 70));  /* 0.75 high */
    assert_true(cs_polyp_reads_field(100, 80, 25, 0, 75, 80));   /* 0.50 wide: the least */
    assert_false(cs_polyp_reads_field(100, 80, 25, 0, 74, 80));  /* 0.49: mostly dark */
    assert_false(cs_polyp_reads_field(100, 80, 10, 30, 90, 69)); /* 0.49 high */
    assert_false(cs_polyp_reads_field(100, 80, -1, 0, 80, 80));  /* not a box of the frame */
    assert_false(cs_polyp_reads_field(100, 80, 0, 0, 101, 70));
    assert_false(cs_polyp_reads_field(100, 80, 50, 0, 50, 80)); /* empty */
    assert_false(cs_polyp_reads_field(0, 0, 0, 0, 0, 0));
}

/* `content` placed at (x0, y0) in a black width x height canvas. */
static cs_image on_black(const cs_image *content, int width, int height, int x0, int y0)
{
    cs_image c = {.width = width,
                  .height = height,
                  .src_width = width,
                  .src_height = height,
                  .rgb = calloc((size_t)width * height * 3, 1)};
    assert_non_null(c.rgb);
    for (int y = 0; y < content->height; y++)
        memcpy(c.rgb + ((size_t)(y0 + y) * width + x0) * 3,
               content->rgb + (size_t)y * content->width * 3, (size_t)content->width * 3);
    return c;
}

/* A frame with a wide black border (letterboxed) is read through its lit
 * field: the same probability, flag and boxes as the field alone, the boxes
 * taken onto the frame, and nothing of the heatmap outside the field. A
 * narrow border, or a field under half a side, is read whole as before. */
static void engine_reads_a_bordered_frame_through_its_field(void **state)
{
    (void)state;
    cs_engine *eng = NULL;
    cs_worker *w = NULL;
    cs_error err = {0};
    assert_int_equal(cs_engine_load(tu_source_path("models/bleeding-xgb.json"), &eng, &err), CS_OK);
    assert_int_equal(cs_worker_new(eng, &w, &err), CS_OK);
    /* the field: the reference frame at 72x80, lifted above the border's
     * luma so that the flood from the edge stops exactly at its edge */
    const int FW = 72, FH = 80;
    cs_image field = reference_frame_at(FW, FH, 48);
    cs_frame_result rf, rl;
    assert_int_equal(cs_worker_analyze(w, &field, &rf, &err), CS_OK);
    expect_outline(eng, &field, &rf, cs_worker_polyp_heatmap(w, 0));
    float *field_heat = malloc(sizeof(float) * NHEAT);
    assert_non_null(field_heat);
    memcpy(field_heat, cs_worker_polyp_heatmap(w, 0), sizeof(float) * NHEAT);

    /* letterboxed: 72 of 128 columns lit (0.56 of the width) */
    const int LW = 128, X0 = 28;
    cs_image letter = on_black(&field, LW, FH, X0, 0);
    assert_int_equal(cs_worker_analyze(w, &letter, &rl, &err), CS_OK);
    assert_memory_equal(&rl.polyp_probability, &rf.polyp_probability, sizeof(float));
    assert_int_equal(rl.polyp, rf.polyp);
    assert_int_equal(rl.n_polyp_boxes, rf.n_polyp_boxes);
    const float u0 = (float)X0 / LW, su = (float)FW / LW;
    for (int i = 0; i < rf.n_polyp_boxes; i++) {
        const cs_box *a = &rf.polyp_boxes[i], *b = &rl.polyp_boxes[i];
        assert_true(fabsf(b->x - (u0 + a->x * su)) < 1e-6f);
        assert_true(fabsf(b->w - a->w * su) < 1e-6f);
        assert_true(fabsf(b->y - a->y) < 1e-6f && fabsf(b->h - a->h) < 1e-6f);
        assert_memory_equal(&b->score, &a->score, sizeof(float));
        assert_true(b->x >= u0 - 1e-6f && b->x + b->w <= u0 + su + 1e-6f);
    }
    /* the heatmap: 0 on cells whose centre is outside the field, the
     * field's own map sampled inside it */
    const float *lh = cs_worker_polyp_heatmap(w, 0);
    for (int j = 0; j < HEAT40; j++)
        for (int i = 0; i < HEAT40; i++) {
            float cu = (((float)i + 0.5f) / HEAT40 - u0) / su;
            if (cu < 0.0f || cu >= 1.0f) {
                assert_true(lh[j * HEAT40 + i] == 0.0f);
            } else {
                float cv = ((float)j + 0.5f) / HEAT40;
                assert_true(fabsf(lh[j * HEAT40 + i] - cs_heatmap_at(field_heat, HEAT40, cu, cv)) <
                            1e-6f);
            }
        }

    /* a narrow border (0.95 of the width lit) and a field under half the
     * width (0.45): read whole, exactly as before the field rule */
    cs_image narrow = on_black(&field, 76, FH, 2, 0);
    cs_frame_result rn;
    assert_int_equal(cs_worker_analyze(w, &narrow, &rn, &err), CS_OK);
    expect_outline(eng, &narrow, &rn, cs_worker_polyp_heatmap(w, 0));
    cs_image mostly_dark = on_black(&field, 160, FH, 40, 0);
    assert_int_equal(cs_worker_analyze(w, &mostly_dark, &rn, &err), CS_OK);
    expect_outline(eng, &mostly_dark, &rn, cs_worker_polyp_heatmap(w, 0));

    free(narrow.rgb);
    free(mostly_dark.rgb);
    free(letter.rgb);
    free(field_heat);
    free(field.rgb);
    cs_worker_free(w);
    cs_engine_free(eng);
}

/* A site's own operating point (cs_engine_set_polyp_threshold): frames are
 * flagged, and flagged frames outlined with the extra passes, at it; the
 * probability does not move; the weights' own threshold is still reported;
 * a value outside (0, 1) is refused and changes nothing. */
static cs_frame_result analyze_at(cs_engine *eng, const cs_image *img)
{
    cs_worker *w = NULL;
    cs_error err = {0};
    cs_frame_result r;
    assert_int_equal(cs_worker_new(eng, &w, &err), CS_OK);
    assert_int_equal(cs_worker_analyze(w, img, &r, &err), CS_OK);
    expect_outline(eng, img, &r, cs_worker_polyp_heatmap(w, 0));
    cs_worker_free(w);
    return r;
}

static void engine_takes_a_site_polyp_threshold(void **state)
{
    (void)state;
    cs_engine *eng = NULL;
    cs_error err = {0};
    assert_int_equal(cs_engine_load(tu_source_path("models/bleeding-xgb.json"), &eng, &err), CS_OK);
    const float own = cs_engine_polyp_weights_threshold(eng);
    assert_true(cs_engine_polyp_threshold(eng) == own);
    /* 0.99999999 and 1e-50 are inside (0, 1) as doubles, but 1.0f and 0.0f
     * as the float the engine compares with: every polyp, or every frame. */
    static const double bad[] = {0.0, 1.0, -0.5, 2.0, NAN, 0.99999999, 1e-50};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(cs_engine_set_polyp_threshold(eng, bad[i], &err), CS_ERR_ARG);
        assert_non_null(strstr(err.msg, "(0, 1)"));
        assert_true(cs_engine_polyp_threshold(eng) == own);
    }
    /* a plain grey frame: a low probability, not flagged at the weights' own */
    cs_image img = {
        .width = 96, .height = 96, .src_width = 96, .src_height = 96, .rgb = malloc(96 * 96 * 3)};
    assert_non_null(img.rgb);
    for (int i = 0; i < 96 * 96 * 3; i++)
        img.rgb[i] = (uint8_t)(90 + (i % 3) * 20 + (i / 3 % 96) / 8);
    cs_frame_result r0 = analyze_at(eng, &img);
    assert_true(r0.polyp_probability < own);
    assert_false(r0.polyp);
    /* a site threshold just under it flags it, with the nine-pass outline */
    assert_int_equal(cs_engine_set_polyp_threshold(eng, r0.polyp_probability * 0.999, &err), CS_OK);
    assert_true(cs_engine_polyp_weights_threshold(eng) == own);
    cs_frame_result r1 = analyze_at(eng, &img);
    assert_true(r1.polyp);
    assert_memory_equal(&r1.polyp_probability, &r0.polyp_probability, sizeof(float));
    /* exactly at it: flagged (probability >= threshold) */
    assert_int_equal(cs_engine_set_polyp_threshold(eng, r0.polyp_probability, &err), CS_OK);
    assert_true(analyze_at(eng, &img).polyp);
    /* and one just over it does not, with the boxes of the weights' own */
    assert_int_equal(cs_engine_set_polyp_threshold(eng, r0.polyp_probability * 1.001 + 1e-6, &err),
                     CS_OK);
    cs_frame_result r2 = analyze_at(eng, &img);
    assert_false(r2.polyp);
    assert_memory_equal(&r2.polyp_probability, &r0.polyp_probability, sizeof(float));
    assert_int_equal(r2.n_polyp_boxes, r0.n_polyp_boxes);
    assert_memory_equal(r2.polyp_boxes, r0.polyp_boxes, sizeof(cs_box) * (size_t)r0.n_polyp_boxes);
    free(img.rgb);
    cs_engine_free(eng);
}

/* ---- crops in the frame score (version 4): the engine ---------------------- */

/* A 112x96 grey frame (lit: never read through a field) with the reference
 * frame shrunk to `side` x `side` pasted at its centre: a small polyp,
 * larger in the centre crop than in the whole frame. Caller frees rgb. */
static cs_image small_polyp_frame(int side)
{
    const int W = 112, H = 96;
    cs_image img = {
        .width = W, .height = H, .src_width = W, .src_height = H, .rgb = malloc((size_t)W * H * 3)};
    assert_non_null(img.rgb);
    for (int i = 0; i < W * H * 3; i++)
        img.rgb[i] = (uint8_t)(90 + (i % 3) * 20 + (i / 3 % W) / 8);
    cs_image p = reference_frame_at(side, side, 0);
    for (int y = 0; y < side; y++)
        memcpy(img.rgb + ((size_t)((H - side) / 2 + y) * W + (W - side) / 2) * 3,
               p.rgb + (size_t)y * side * 3, (size_t)side * 3);
    free(p.rgb);
    return img;
}

/* The scores the engine reads of `img` with weights file `wb`, recomputed
 * here from the network: the one pass's, and each crop's. */
static void scores_by_hand(const uint8_t *wb, size_t wlen, const cs_image *img, float *one,
                           float crops[CS_POLYP_NCROPS])
{
    cs_polyp_model *m = NULL;
    cs_polyp_net *net = NULL;
    cs_error err = {0};
    assert_int_equal(cs_polyp_model_parse(wb, wlen, &m, &err), CS_OK);
    assert_int_equal(cs_polyp_net_new(m, &net, &err), CS_OK);
    const int N = m->in_side, cells = m->out_side * m->out_side;
    float *tmp = malloc(sizeof(float) * (size_t)N * (size_t)img->height * 3);
    float *in = malloc(sizeof(float) * (size_t)N * N * 3);
    float *lg = malloc(sizeof(float) * (size_t)cells);
    assert_true(tmp && in && lg);
    cs_polyp_input(img, N, tmp, in);
    assert_int_equal(cs_polyp_net_run(net, in, lg, &err), CS_OK);
    *one = cs_polyp_score(lg, cells, m->topk);
    for (int k = 0; k < CS_POLYP_NCROPS; k++) {
        int x0, y0, cw, ch;
        cs_polyp_crop_rect(img->width, img->height, k, &x0, &y0, &cw, &ch);
        cs_polyp_input_rect(img, x0, y0, cw, ch, N, tmp, in);
        assert_int_equal(cs_polyp_net_run(net, in, lg, &err), CS_OK);
        crops[k] = cs_polyp_score(lg, cells, m->topk);
    }
    free(tmp);
    free(in);
    free(lg);
    cs_polyp_net_free(net);
    cs_polyp_model_free(m);
}

/* A version-3 file: the shipped one when it is one, else the shipped
 * network twice at its own threshold. Caller frees. */
static uint8_t *a_version3_file(size_t *len)
{
    uint8_t *b = read_source("models/polyp-unet.bin", len);
    if (rd32(b + 8) == CS_POLYP_ENSEMBLE_VERSION)
        return b;
    free(b);
    size_t alen;
    uint8_t *a = read_one_network(&alen);
    float thr;
    memcpy(&thr, a + header_of(a).thr, 4);
    const uint8_t *two[2] = {a, a};
    const size_t mlen[2] = {alen, alen};
    b = make_ensemble(two, mlen, 2, thr, 0, len);
    free(a);
    return b;
}

/* The engine tests' material: a version-3 file and a frame whose crops
 * score clearly above its one pass (the first of a few small pastes that
 * does, with the network in use), with its scores recomputed by hand. */
typedef struct crop_case {
    uint8_t *v3;
    size_t v3_len;
    cs_image img;
    float one, crops[CS_POLYP_NCROPS], best; /* best: the highest of the six */
} crop_case;

static crop_case crop_case_new(void)
{
    crop_case c = {0};
    c.v3 = a_version3_file(&c.v3_len);
    static const int sides[] = {48, 56, 40, 64, 32, 24};
    for (size_t i = 0; i < sizeof sides / sizeof *sides; i++) {
        c.img = small_polyp_frame(sides[i]);
        scores_by_hand(c.v3, c.v3_len, &c.img, &c.one, c.crops);
        c.best = c.one;
        for (int k = 0; k < CS_POLYP_NCROPS; k++)
            c.best = c.crops[k] > c.best ? c.crops[k] : c.best;
        if (c.best > c.one + 0.01f && c.best < 0.999f) {
            printf("small-polyp frame (%d px): one pass %.4f, crops %.4f %.4f %.4f %.4f %.4f\n",
                   sides[i], (double)c.one, (double)c.crops[0], (double)c.crops[1],
                   (double)c.crops[2], (double)c.crops[3], (double)c.crops[4]);
            return c;
        }
        free(c.img.rgb);
    }
    fail_msg("no test frame whose crops score above its one pass");
    return c;
}

static void crop_case_free(crop_case *c)
{
    free(c->img.rgb);
    free(c->v3);
}

/* An engine on polyp weights `wb` (through a temporary file `name`), with
 * one worker. */
typedef struct crop_engine {
    cs_engine *eng;
    cs_worker *w;
    int cells;
} crop_engine;

static crop_engine crop_engine_new(const char *name, const uint8_t *wb, size_t len)
{
    char path[512], bleeding[512]; /* tu_source_path reuses its buffer */
    snprintf(path, sizeof path, "%s/%s", tu_tmpdir(), name);
    assert_int_equal(tu_write_file(path, wb, len), 0);
    snprintf(bleeding, sizeof bleeding, "%s", tu_source_path("models/bleeding-xgb.json"));
    crop_engine e = {0};
    cs_error err = {0};
    assert_int_equal(cs_engine_load_models(bleeding, path, &e.eng, &err), CS_OK);
    assert_int_equal(cs_worker_new(e.eng, &e.w, &err), CS_OK);
    e.cells = cs_engine_polyp_heatmap_side(e.eng) * cs_engine_polyp_heatmap_side(e.eng);
    return e;
}

/* The version-4 file of the case's version-3 file at crop gate `gate`. */
static crop_engine crop_engine_gated(const crop_case *c, const char *name, float gate)
{
    size_t len;
    uint8_t *b = with_crop_gate(c->v3, c->v3_len, gate, &len);
    crop_engine e = crop_engine_new(name, b, len);
    free(b);
    return e;
}

static void crop_engine_free(crop_engine *e)
{
    cs_worker_free(e->w);
    cs_engine_free(e->eng);
}

/* `img` through engine e at its polyp threshold `thr` (0: the weights'
 * own); its heatmap copied to heat (e->cells floats). */
static cs_frame_result crop_analyze(crop_engine *e, double thr, const cs_image *img, float *heat)
{
    cs_error err = {0};
    cs_frame_result r;
    if (thr > 0)
        assert_int_equal(cs_engine_set_polyp_threshold(e->eng, thr, &err), CS_OK);
    else
        assert_int_equal(
            cs_engine_set_polyp_threshold(e->eng, cs_engine_polyp_weights_threshold(e->eng), &err),
            CS_OK);
    assert_int_equal(cs_worker_analyze(e->w, img, &r, &err), CS_OK);
    memcpy(heat, cs_worker_polyp_heatmap(e->w, 0), sizeof(float) * (size_t)e->cells);
    return r;
}

/* Two results with the same flag, boxes and heatmap (and probability,
 * when `same_probability`). */
static void expect_same_polyp(const cs_frame_result *a, const float *ha, const cs_frame_result *b,
                              const float *hb, int cells, bool same_probability)
{
    if (same_probability)
        assert_memory_equal(&a->polyp_probability, &b->polyp_probability, sizeof(float));
    assert_int_equal(a->polyp, b->polyp);
    assert_int_equal(a->n_polyp_boxes, b->n_polyp_boxes);
    assert_memory_equal(a->polyp_boxes, b->polyp_boxes, sizeof(cs_box) * (size_t)a->n_polyp_boxes);
    assert_memory_equal(ha, hb, sizeof(float) * (size_t)cells);
}

/* A version-4 file's frame score: with its gate at 0 (or exactly at the
 * one pass's score) the probability is the highest of the one pass's and
 * the five crops' scores, as computed here from the network, and above the
 * version-3 file's; with the gate just above the one pass's score, the
 * frame is read exactly as the version-3 file reads it. A batch gives each
 * frame what it gets alone. */
static void engine_scores_crops_from_the_gate(void **state)
{
    (void)state;
    crop_case c = crop_case_new();
    crop_engine e3 = crop_engine_new("v3.bin", c.v3, c.v3_len);
    crop_engine g0 = crop_engine_gated(&c, "v4-gate0.bin", 0.0f);
    crop_engine gat = crop_engine_gated(&c, "v4-gate-at.bin", c.one);
    crop_engine gup = crop_engine_gated(&c, "v4-gate-above.bin", nextafterf(c.one, 1.0f));
    const int cells = e3.cells;
    float *h3 = malloc(sizeof(float) * (size_t)cells), *h4 = malloc(sizeof(float) * (size_t)cells);
    assert_true(h3 && h4);
    const float own = cs_engine_polyp_weights_threshold(e3.eng);
    assert_true(cs_engine_polyp_weights_threshold(g0.eng) == own);

    cs_frame_result r3 = crop_analyze(&e3, 0, &c.img, h3);
    assert_memory_equal(&r3.polyp_probability, &c.one, sizeof(float));
    cs_frame_result r4 = crop_analyze(&g0, 0, &c.img, h4);
    assert_memory_equal(&r4.polyp_probability, &c.best, sizeof(float));
    assert_true(r4.polyp_probability > r3.polyp_probability);
    assert_int_equal(r4.polyp, r4.polyp_probability >= own);
    r4 = crop_analyze(&gat, 0, &c.img, h4); /* the gate is reached at equality */
    assert_memory_equal(&r4.polyp_probability, &c.best, sizeof(float));
    r4 = crop_analyze(&gup, 0, &c.img, h4);
    expect_same_polyp(&r4, h4, &r3, h3, cells, true);

    /* a batch: the frame, the grey frame alone, the frame */
    cs_image grey = small_polyp_frame(0);
    float one_grey, crops_grey[CS_POLYP_NCROPS];
    scores_by_hand(c.v3, c.v3_len, &grey, &one_grey, crops_grey);
    float best_grey = one_grey;
    for (int k = 0; k < CS_POLYP_NCROPS; k++)
        best_grey = crops_grey[k] > best_grey ? crops_grey[k] : best_grey;
    const cs_image *batch[3] = {&c.img, &grey, &c.img};
    cs_frame_result rb[3];
    cs_error err = {0};
    assert_int_equal(cs_worker_analyze_batch(g0.w, batch, 3, rb, &err), CS_OK);
    const float want[3] = {c.best, best_grey, c.best};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(cs_worker_analyze_batch(g0.w, batch, 3, rb, &err), CS_OK);
        assert_memory_equal(&rb[i].polyp_probability, &want[i], sizeof(float));
        memcpy(h3, cs_worker_polyp_heatmap(g0.w, (size_t)i), sizeof(float) * (size_t)cells);
        cs_frame_result alone = crop_analyze(&g0, 0, batch[i], h4);
        expect_same_polyp(&rb[i], h3, &alone, h4, cells, true);
    }
    free(grey.rgb);
    free(h3);
    free(h4);
    crop_engine_free(&e3);
    crop_engine_free(&g0);
    crop_engine_free(&gat);
    crop_engine_free(&gup);
    crop_case_free(&c);
}

/* A version-4 file outlines a flagged frame as the version-3 file does,
 * reusing the crops its score read: at a site threshold under both
 * probabilities, the same heatmap and boxes; at one between them (flagged
 * only by the crops), the same outline; above both, the one pass's
 * heatmap. Flagged under its gate (crops not read for the score), its
 * outline runs its own crops, not those of the frame before. */
static void crop_score_outline_reuses_the_crops(void **state)
{
    (void)state;
    crop_case c = crop_case_new();
    crop_engine e3 = crop_engine_new("v3.bin", c.v3, c.v3_len);
    crop_engine g0 = crop_engine_gated(&c, "v4-gate0.bin", 0.0f);
    crop_engine gup = crop_engine_gated(&c, "v4-gate-above.bin", nextafterf(c.one, 1.0f));
    const int cells = e3.cells;
    float *outline = malloc(sizeof(float) * (size_t)cells);
    float *single = malloc(sizeof(float) * (size_t)cells);
    float *h4 = malloc(sizeof(float) * (size_t)cells);
    assert_true(outline && single && h4);
    const double lo = c.one * 0.5, mid = ((double)c.one + c.best) / 2,
                 hi = nextafterf(c.best, 1.0f);

    /* both flagged: the nine-pass outline, the same from either file */
    cs_frame_result r3 = crop_analyze(&e3, lo, &c.img, outline);
    assert_true(r3.polyp);
    cs_frame_result r4 = crop_analyze(&g0, lo, &c.img, h4);
    assert_true(r4.polyp);
    assert_memory_equal(&r4.polyp_probability, &c.best, sizeof(float));
    expect_same_polyp(&r4, h4, &r3, outline, cells, false);
    /* flagged by the crops only */
    cs_frame_result r3m = crop_analyze(&e3, mid, &c.img, single);
    assert_false(r3m.polyp);
    assert_true(memcmp(single, outline, sizeof(float) * (size_t)cells) != 0);
    r4 = crop_analyze(&g0, mid, &c.img, h4);
    assert_true(r4.polyp);
    expect_same_polyp(&r4, h4, &r3, outline, cells, false);
    /* flagged by neither: the one pass's heatmap and boxes */
    r4 = crop_analyze(&g0, hi, &c.img, h4);
    assert_false(r4.polyp);
    assert_memory_equal(&r4.polyp_probability, &c.best, sizeof(float));
    expect_same_polyp(&r4, h4, &r3m, single, cells, false);

    /* under the gate but flagged at a low site threshold, after a frame
     * whose crops were read (the reference frame scores above the gate) */
    cs_image ref = reference_frame_at(112, 96, 0);
    float ref_one, ref_crops[CS_POLYP_NCROPS];
    scores_by_hand(c.v3, c.v3_len, &ref, &ref_one, ref_crops);
    assert_true(ref_one >= nextafterf(c.one, 1.0f));
    crop_analyze(&gup, lo, &ref, h4);
    r4 = crop_analyze(&gup, lo, &c.img, h4);
    assert_true(r4.polyp);
    expect_same_polyp(&r4, h4, &r3, outline, cells, true);
    free(ref.rgb);
    free(outline);
    free(single);
    free(h4);
    crop_engine_free(&e3);
    crop_engine_free(&g0);
    crop_engine_free(&gup);
    crop_case_free(&c);
}

/* Real frames, both held out from the shipped model's training (Kvasir-SEG
 * fold 4, a held-out WCEBleedGen group): the polyp frame is flagged with its
 * top box centred inside the polyp's mask; the capsule frame is not. */
#define HELD_OUT_POLYP "cju2pjb9v0ywn0878j5g5n69j.jpg"
#define HELD_OUT_CAPSULE "wcb-0820.jpg"

/* A shared frame decoded as the pipeline decodes it for this engine (with
 * the detail image its polyp network needs, if any). */
static cs_image decode_shared(const char *rel, int detail_side)
{
    size_t len;
    uint8_t *b = tu_read_file(tu_shared_path(rel), &len);
    assert_non_null(b);
    cs_image img = {0}, plain = {0};
    cs_error err = {0};
    assert_int_equal(cs_decode_frame_detail(b, len, detail_side, &img, &err), CS_OK);
    /* the analysis image is the same bytes with or without the detail */
    assert_int_equal(cs_decode_frame(b, len, &plain, &err), CS_OK);
    assert_int_equal(plain.width, img.width);
    assert_int_equal(plain.height, img.height);
    assert_memory_equal(plain.rgb, img.rgb, (size_t)img.width * img.height * 3);
    if (img.detail_rgb) {
        int dw, dh;
        cs_scaled_size(img.src_width, img.src_height, detail_side, &dw, &dh);
        assert_int_equal(img.detail_width, dw);
        assert_int_equal(img.detail_height, dh);
        assert_true(dw > img.width);
    }
    cs_image_free(&plain);
    free(b);
    return img;
}

/* Decoding with a detail side: the analysis image is unchanged, the detail
 * image has the scale asked for, and none is made when the
 * analysis image is already that large. */
static void detail_decode_keeps_the_analysis_image(void **state)
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
    cs_image a = decode_shared(rel, 102); /* what a 128 px network asks for */
    assert_non_null(a.detail_rgb);
    assert_true(a.detail_width >= 102 && a.detail_height >= 102);
    cs_image_free(&a);
    cs_image b = decode_shared(rel, 0);
    assert_null(b.detail_rgb);
    cs_image_free(&b);
    cs_image c = decode_shared(rel, 40); /* smaller than the analysis image */
    assert_null(c.detail_rgb);
    cs_image_free(&c);
    /* a one-channel JPEG (the mask) */
    snprintf(rel, sizeof rel, "data/kvasir-seg/masks/%s", HELD_OUT_POLYP);
    cs_image m = decode_shared(rel, 102);
    cs_image_free(&m);
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
    const int detail = cs_engine_detail_side(eng);
    cs_image polyp = decode_shared(rel, detail);
    snprintf(rel, sizeof rel, "data/kvasir-seg/masks/%s", HELD_OUT_POLYP);
    cs_image mask = decode_shared(rel, 0);
    snprintf(rel, sizeof rel, "data/wcebleedgen/images/%s", HELD_OUT_CAPSULE);
    cs_image capsule = decode_shared(rel, detail);
    cs_frame_result r;
    assert_int_equal(cs_worker_analyze(w, &polyp, &r, &err), CS_OK);
    printf("held-out polyp frame: %.4f (threshold %.4f)\n", (double)r.polyp_probability,
           (double)cs_engine_polyp_threshold(eng));
    assert_true(r.polyp);
    if (!polyp.detail_rgb) /* flagged: its outline is the four passes' */
        expect_outline(eng, &polyp, &r, cs_worker_polyp_heatmap(w, 0));
    assert_true(r.n_polyp_boxes >= 1);
    const cs_box *b = &r.polyp_boxes[0];
    int cx = (int)((b->x + b->w / 2) * mask.width), cy = (int)((b->y + b->h / 2) * mask.height);
    assert_true(mask.rgb[((size_t)cy * mask.width + cx) * 3] >= 128);
    assert_int_equal(cs_worker_analyze(w, &capsule, &r, &err), CS_OK);
    printf("held-out capsule frame: %.4f\n", (double)r.polyp_probability);
    assert_false(r.polyp);
    if (!capsule.detail_rgb) /* not flagged: one pass */
        expect_outline(eng, &capsule, &r, cs_worker_polyp_heatmap(w, 0));
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
        cmocka_unit_test(ensemble_averages_its_members),
        cmocka_unit_test(ensemble_refusals),
        cmocka_unit_test(engine_runs_an_ensemble_file),
        cmocka_unit_test(crop_gate_is_read_or_refused),
        cmocka_unit_test(input_resize_is_a_box_filter),
        cmocka_unit_test(score_is_the_top_k_mean),
        cmocka_unit_test(boxes_follow_the_heatmap),
        cmocka_unit_test(mirrors_undo),
        cmocka_unit_test(crops_cover_the_frame),
        cmocka_unit_test(engine_fills_polyp_fields),
        cmocka_unit_test(field_rule),
        cmocka_unit_test(engine_reads_a_bordered_frame_through_its_field),
        cmocka_unit_test(engine_takes_a_site_polyp_threshold),
        cmocka_unit_test(engine_scores_crops_from_the_gate),
        cmocka_unit_test(crop_score_outline_reuses_the_crops),
        cmocka_unit_test(detail_decode_keeps_the_analysis_image),
        cmocka_unit_test(real_frames_held_out),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
