/* engine.c - the loaded models (bleeding: XGBoost; polyp: a small CNN run
 * through oneDNN, src/engine/polyp*.c) and per-thread workers that run all
 * per-frame measures on a decoded frame. */
#include "capscreen/engine.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <xgboost/c_api.h>

#include "engine/features.h"
#include "engine/polyp.h"
#include "engine/polyp_net.h"
#include "engine/scan.h"

/* Attributes the training tool stores inside the XGBoost model file, so the
 * model and its operating point travel as one file. */
#define ATTR_THRESHOLD "cs_threshold"
#define ATTR_NFEAT "cs_features"
#define MODEL_MAX_BYTES (64u * 1024u * 1024u)

struct cs_engine {
    char *model_path;
    uint8_t *model; /* the model file's bytes; workers load from these */
    size_t model_len;
    float threshold;
    char *polyp_path;
    cs_polyp_model *polyp; /* read-only, shared by the workers */
    float polyp_threshold; /* the weights' own, or a site's (cs_engine_set_polyp_threshold) */
};

struct cs_worker {
    const cs_engine *eng;
    BoosterHandle booster;
    cs_scan_scratch scratch;
    cs_scan scans[CS_BATCH_MAX];              /* one per frame of a batch */
    float feat[CS_BATCH_MAX][CS_BLEED_NFEAT]; /* the model's input rows */
    char array_json[160];
    cs_polyp_net *polyp_net;
    float *polyp_in;  /* in_side^2 x 3: the network's input */
    float *polyp_tmp; /* in_side x height x 3 for the resize */
    size_t polyp_tmp_len;
    float *polyp_heat;     /* CS_BATCH_MAX heatmaps of out_side^2 */
    float *polyp_view_in;  /* in_side^2 x 3: a mirrored or cropped input */
    float *polyp_view_out; /* out_side^2: its logits */
    float *polyp_sum;      /* out_side^2: the outline's logits, summed */
    float *polyp_count;    /* out_side^2: passes summed into each cell */
    float *polyp_crops;    /* CS_POLYP_NCROPS x out_side^2: the frame's crops' logits */
    uint8_t *polyp_field;  /* the lit field's pixels of a bordered frame */
    size_t polyp_field_len;
    size_t last_batch;
};

static cs_status booster_from(const cs_engine *eng, BoosterHandle *out, cs_error *err)
{
    BoosterHandle b = NULL;
    if (XGBoosterCreate(NULL, 0, &b) != 0 ||
        XGBoosterLoadModelFromBuffer(b, eng->model, eng->model_len) != 0 ||
        XGBoosterSetParam(b, "nthread", "1") != 0) {
        /* XGBoost appends a stack trace: keep its first line. */
        cs_status st =
            cs_error_set(err, CS_ERR_MODEL, "cannot load bleeding model %s: %.*s", eng->model_path,
                         (int)strcspn(XGBGetLastError(), "\n"), XGBGetLastError());
        if (b)
            XGBoosterFree(b);
        return st;
    }
    *out = b;
    return CS_OK;
}

static char *default_model_path(void)
{
    const char *env = getenv("CAPSCREEN_MODEL");
    if (env && *env)
        return strdup(env);
    return strdup(CS_DEFAULT_MODEL_DIR "/bleeding-xgb.json");
}

static char *default_polyp_path(void)
{
    const char *env = getenv("CAPSCREEN_POLYP_MODEL");
    if (env && *env)
        return strdup(env);
    return strdup(CS_DEFAULT_MODEL_DIR "/polyp-unet.bin");
}

cs_status cs_engine_load(const char *model_path, cs_engine **out, cs_error *err)
{
    return cs_engine_load_models(model_path, NULL, out, err);
}

cs_status cs_engine_load_models(const char *model_path, const char *polyp_path, cs_engine **out,
                                cs_error *err)
{
    cs_status st = CS_OK;
    FILE *f = NULL;
    BoosterHandle b = NULL;
    cs_engine *eng = calloc(1, sizeof *eng);

    *out = NULL;
    if (!eng)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory loading model");
    eng->model_path = model_path ? strdup(model_path) : default_model_path();
    if (!eng->model_path) {
        st = cs_error_set(err, CS_ERR_NOMEM, "out of memory loading model");
        goto fail;
    }
    f = fopen(eng->model_path, "rb");
    if (!f) {
        st = cs_error_set(err, CS_ERR_MODEL,
                          "cannot open bleeding model %s: %s "
                          "(set CAPSCREEN_MODEL or --model)",
                          eng->model_path, strerror(errno));
        goto fail;
    }
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        st = cs_error_set(err, CS_ERR_MODEL,
                          "bleeding model %s is not a regular file (a directory?): give the "
                          "model file itself",
                          eng->model_path);
        goto fail;
    }
    if (fseek(f, 0, SEEK_END) != 0 || ftell(f) <= 0 || (size_t)ftell(f) > MODEL_MAX_BYTES) {
        st = cs_error_set(err, CS_ERR_MODEL, "bleeding model %s is empty or too large",
                          eng->model_path);
        goto fail;
    }
    eng->model_len = (size_t)ftell(f);
    rewind(f);
    eng->model = malloc(eng->model_len);
    if (!eng->model || fread(eng->model, 1, eng->model_len, f) != eng->model_len) {
        st = cs_error_set(err, CS_ERR_MODEL, "cannot read bleeding model %s", eng->model_path);
        goto fail;
    }
    st = booster_from(eng, &b, err);
    if (st != CS_OK)
        goto fail;
    const char *v = NULL;
    int ok = 0;
    if (XGBoosterGetAttr(b, ATTR_NFEAT, &v, &ok) != 0 || !ok || atoi(v) != CS_BLEED_NFEAT) {
        st = cs_error_set(err, CS_ERR_MODEL,
                          "bleeding model %s was trained for other features "
                          "(%s=%s, this build has %d): retrain with tools/train-bleeding",
                          eng->model_path, ATTR_NFEAT, ok ? v : "missing", CS_BLEED_NFEAT);
        goto fail;
    }
    if (XGBoosterGetAttr(b, ATTR_THRESHOLD, &v, &ok) != 0 || !ok) {
        st = cs_error_set(err, CS_ERR_MODEL, "bleeding model %s has no %s attribute",
                          eng->model_path, ATTR_THRESHOLD);
        goto fail;
    }
    eng->threshold = strtof(v, NULL);
    XGBoosterFree(b);
    b = NULL;
    fclose(f);
    f = NULL;
    eng->polyp_path = polyp_path ? strdup(polyp_path) : default_polyp_path();
    if (!eng->polyp_path) {
        st = cs_error_set(err, CS_ERR_NOMEM, "out of memory loading model");
        goto fail;
    }
    st = cs_polyp_model_load(eng->polyp_path, &eng->polyp, err);
    if (st != CS_OK)
        goto fail;
    eng->polyp_threshold = eng->polyp->threshold;
    *out = eng;
    return CS_OK;

fail:
    if (b)
        XGBoosterFree(b);
    if (f)
        fclose(f);
    cs_engine_free(eng);
    return st;
}

void cs_engine_free(cs_engine *eng)
{
    if (!eng)
        return;
    free(eng->model_path);
    free(eng->model);
    free(eng->polyp_path);
    cs_polyp_model_free(eng->polyp);
    free(eng);
}

int cs_engine_polyp_input_side(const cs_engine *eng) { return eng->polyp->in_side; }
int cs_engine_polyp_heatmap_side(const cs_engine *eng) { return eng->polyp->out_side; }

int cs_engine_detail_side(const cs_engine *eng)
{
    /* The decode the network sees has a short side of at least 4/5 of its
     * input, as the 80 px network's (the analysis image, >= 64 px) always
     * had: so an 80 px model needs no second decode. */
    int need = eng->polyp->in_side * CS_ANALYSIS_MIN_SIDE / CS_POLYP_V1_IN;
    return need > CS_ANALYSIS_MIN_SIDE ? need : 0;
}

float cs_engine_threshold(const cs_engine *eng) { return eng->threshold; }
float cs_engine_polyp_threshold(const cs_engine *eng) { return eng->polyp_threshold; }
float cs_engine_polyp_weights_threshold(const cs_engine *eng) { return eng->polyp->threshold; }

cs_status cs_engine_set_polyp_threshold(cs_engine *eng, double t, cs_error *err)
{
    /* The same range the weights file's own threshold must lie in: at 0
     * every frame, at 1 none would be flagged. Checked on the float the
     * engine compares with: 0.99999999 is 1.0f, 1e-50 is 0.0f. */
    float f = (float)t;
    if (!(f > 0.0f && f < 1.0f))
        return cs_error_set(err, CS_ERR_ARG, "polyp threshold %.9g outside (0, 1) as a float", t);
    eng->polyp_threshold = f;
    return CS_OK;
}
const char *cs_engine_polyp_model_path(const cs_engine *eng) { return eng->polyp_path; }

uint32_t cs_engine_polyp_weights_crc32c(const cs_engine *eng)
{
    const uint8_t *p = eng->polyp->bytes + eng->polyp->len - 4; /* little-endian */
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
int cs_engine_polyp_networks(const cs_engine *eng) { return cs_polyp_model_networks(eng->polyp); }

bool cs_engine_polyp_crop_gate(const cs_engine *eng, float *gate)
{
    if (!eng->polyp->crops_in_score)
        return false;
    *gate = eng->polyp->crop_gate;
    return true;
}
const char *cs_engine_model_path(const cs_engine *eng) { return eng->model_path; }

cs_status cs_worker_new(const cs_engine *eng, cs_worker **out, cs_error *err)
{
    cs_worker *w = calloc(1, sizeof *w);
    *out = NULL;
    if (!w)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory creating worker");
    w->eng = eng;
    cs_status st = booster_from(eng, &w->booster, err);
    if (st == CS_OK)
        st = cs_polyp_net_new(eng->polyp, &w->polyp_net, err);
    if (st == CS_OK) {
        size_t in = (size_t)eng->polyp->in_side, hs = (size_t)eng->polyp->out_side;
        w->polyp_in = malloc(sizeof(float) * in * in * 3);
        w->polyp_heat = malloc(sizeof(float) * CS_BATCH_MAX * hs * hs);
        w->polyp_view_in = malloc(sizeof(float) * in * in * 3);
        w->polyp_view_out = malloc(sizeof(float) * hs * hs);
        w->polyp_sum = malloc(sizeof(float) * hs * hs);
        w->polyp_count = malloc(sizeof(float) * hs * hs);
        w->polyp_crops = malloc(sizeof(float) * CS_POLYP_NCROPS * hs * hs);
        if (!w->polyp_in || !w->polyp_heat || !w->polyp_view_in || !w->polyp_view_out ||
            !w->polyp_sum || !w->polyp_count || !w->polyp_crops)
            st = cs_error_set(err, CS_ERR_NOMEM, "out of memory creating worker");
    }
    if (st != CS_OK) {
        cs_worker_free(w);
        return st;
    }
    *out = w;
    return CS_OK;
}

int cs_worker_detail_side(const cs_worker *w) { return cs_engine_detail_side(w->eng); }

void cs_worker_free(cs_worker *w)
{
    if (!w)
        return;
    if (w->booster)
        XGBoosterFree(w->booster);
    cs_scan_scratch_free(&w->scratch);
    cs_polyp_net_free(w->polyp_net);
    free(w->polyp_tmp);
    free(w->polyp_in);
    free(w->polyp_heat);
    free(w->polyp_view_in);
    free(w->polyp_view_out);
    free(w->polyp_sum);
    free(w->polyp_count);
    free(w->polyp_crops);
    free(w->polyp_field);
    free(w);
}

/* The network on the CS_POLYP_NCROPS crops of `img` (cs_polyp_crop_rect),
 * in order, their logits into the worker's polyp_crops. */
static cs_status polyp_read_crops(cs_worker *w, const cs_image *img, cs_error *err)
{
    const cs_polyp_model *m = w->eng->polyp;
    const size_t cells = (size_t)m->out_side * (size_t)m->out_side;
    for (int k = 0; k < CS_POLYP_NCROPS; k++) {
        int x0, y0, cw, ch;
        cs_polyp_crop_rect(img->width, img->height, k, &x0, &y0, &cw, &ch);
        cs_polyp_input_rect(img, x0, y0, cw, ch, m->in_side, w->polyp_tmp, w->polyp_view_in);
        cs_status st = cs_polyp_net_run(w->polyp_net, w->polyp_view_in,
                                        w->polyp_crops + (size_t)k * cells, err);
        if (st != CS_OK)
            return st;
    }
    return CS_OK;
}

/* The outline of a flagged frame, into `heat` (which holds the first pass's
 * logits of `img`, the image the network read): each cell's logit is the
 * mean over the passes that cover it, the frame itself and its three mirror
 * images (mirrored back) for every cell, and CS_POLYP_NCROPS crops
 * (resampled onto the cells each covers), in which a polyp fills more of
 * the network's input. One pass's outline misses more polyps
 * (models/MODEL_CARD-polyp.md, "Outlines"); running the eight more passes
 * only on flagged frames keeps the cost off the normal frames that make up
 * most of a study. `crops_read`: the frame score has already run the crops
 * (polyp_read_crops) and their logits are reused; the network gives the
 * same logits for the same input, so the outline is the same either way. */
static cs_status polyp_outline(cs_worker *w, const cs_image *img, float *heat, bool crops_read,
                               cs_error *err)
{
    static const int mirrors[3] = {CS_POLYP_FLIP_X, CS_POLYP_FLIP_Y,
                                   CS_POLYP_FLIP_X | CS_POLYP_FLIP_Y};
    const cs_polyp_model *m = w->eng->polyp;
    const int S = m->out_side, cells = S * S;
    float *sum = w->polyp_sum, *count = w->polyp_count;
    for (int i = 0; i < cells; i++) {
        sum[i] = heat[i];
        count[i] = 1.0f;
    }
    for (int k = 0; k < 3; k++) {
        cs_polyp_mirror(w->polyp_in, m->in_side, 3, mirrors[k], w->polyp_view_in);
        cs_status st = cs_polyp_net_run(w->polyp_net, w->polyp_view_in, w->polyp_view_out, err);
        if (st != CS_OK)
            return st;
        cs_polyp_add_unmirrored(w->polyp_view_out, S, mirrors[k], sum);
        for (int i = 0; i < cells; i++)
            count[i] += 1.0f;
    }
    if (!crops_read) {
        cs_status st = polyp_read_crops(w, img, err);
        if (st != CS_OK)
            return st;
    }
    for (int k = 0; k < CS_POLYP_NCROPS; k++) {
        int x0, y0, cw, ch;
        cs_polyp_crop_rect(img->width, img->height, k, &x0, &y0, &cw, &ch);
        cs_polyp_add_resampled(w->polyp_crops + (size_t)k * (size_t)cells, S,
                               (float)x0 / (float)img->width, (float)y0 / (float)img->height,
                               (float)cw / (float)img->width, (float)ch / (float)img->height, sum,
                               count);
    }
    for (int i = 0; i < cells; i++)
        heat[i] = sum[i] / count[i];
    return CS_OK;
}

/* The lit field of a bordered frame (cs_polyp_reads_field), copied out of
 * `img` into the worker as an image of its own: the box found on the
 * analysis image (`scan`), scaled to `img` (the analysis image or its
 * detail decode). Sets *in_field false, and leaves `field` alone, when the
 * frame is read whole; `box` (u0, v0, su, sv) is the field normalised to the
 * frame. CS_ERR_NOMEM when the copy cannot grow. */
static cs_status polyp_field(cs_worker *w, const cs_image *frame, const cs_scan *scan,
                             const cs_image *img, cs_image *field, float box[4], bool *in_field,
                             cs_error *err)
{
    *in_field = false;
    if (!cs_polyp_reads_field(frame->width, frame->height, scan->lit_x0, scan->lit_y0, scan->lit_x1,
                              scan->lit_y1))
        return CS_OK;
    /* the same box in img's pixels, rounded outwards */
    int x0 = scan->lit_x0 * img->width / frame->width;
    int y0 = scan->lit_y0 * img->height / frame->height;
    int x1 = (scan->lit_x1 * img->width + frame->width - 1) / frame->width;
    int y1 = (scan->lit_y1 * img->height + frame->height - 1) / frame->height;
    int fw = x1 - x0, fh = y1 - y0;
    size_t need = (size_t)fw * (size_t)fh * 3;
    if (need > w->polyp_field_len) {
        uint8_t *p = realloc(w->polyp_field, need);
        if (!p)
            return cs_error_set(err, CS_ERR_NOMEM, "out of memory analysing a %dx%d frame",
                                img->width, img->height);
        w->polyp_field = p;
        w->polyp_field_len = need;
    }
    for (int y = 0; y < fh; y++)
        memcpy(w->polyp_field + (size_t)y * fw * 3,
               img->rgb + ((size_t)(y0 + y) * img->width + x0) * 3, (size_t)fw * 3);
    *field = (cs_image){.width = fw,
                        .height = fh,
                        .src_width = frame->src_width,
                        .src_height = frame->src_height,
                        .rgb = w->polyp_field};
    box[0] = (float)x0 / (float)img->width;
    box[1] = (float)y0 / (float)img->height;
    box[2] = (float)fw / (float)img->width;
    box[3] = (float)fh / (float)img->height;
    *in_field = true;
    return CS_OK;
}

/* A heatmap and boxes found on the lit field `box` (normalised to the
 * frame) taken onto the whole frame: the boxes' coordinates, and the
 * probability map resampled onto the frame's cells (0 outside the field). */
static void polyp_unfield(cs_worker *w, const float box[4], float *prob, cs_frame_result *out)
{
    const int S = w->eng->polyp->out_side, cells = S * S;
    for (int i = 0; i < out->n_polyp_boxes; i++) {
        cs_box *b = &out->polyp_boxes[i];
        b->x = box[0] + b->x * box[2];
        b->y = box[1] + b->y * box[3];
        b->w *= box[2];
        b->h *= box[3];
    }
    memcpy(w->polyp_view_out, prob, sizeof(float) * (size_t)cells);
    for (int i = 0; i < cells; i++) {
        w->polyp_sum[i] = 0.0f;
        w->polyp_count[i] = 0.0f;
    }
    cs_polyp_add_resampled(w->polyp_view_out, S, box[0], box[1], box[2], box[3], w->polyp_sum,
                           w->polyp_count);
    for (int i = 0; i < cells; i++)
        prob[i] = w->polyp_count[i] > 0.0f ? w->polyp_sum[i] / w->polyp_count[i] : 0.0f;
}

/* The polyp detector on one frame: its probability, flag and boxes, and its
 * heatmap kept in the worker for cs_worker_polyp_heatmap(). It reads the
 * frame's detail decode where the decoder made one (a network with a
 * larger input than the analysis image), else the analysis image; of a
 * bordered frame, only its lit field (polyp_field). The probability is the
 * one pass's score (cs_polyp_score). A model with crops in its score
 * (version 4) also scores the CS_POLYP_NCROPS crops when the one pass's
 * score reaches its crop gate, and the probability is the highest of the
 * six; the outline then reuses those crops' logits. The flag is the
 * probability against the engine's threshold; a flagged frame's heatmap
 * and boxes come from nine passes (polyp_outline), an unflagged frame's
 * from the one pass. */
static cs_status polyp_analyze(cs_worker *w, const cs_image *frame, const cs_scan *scan,
                               size_t slot, cs_frame_result *out, cs_error *err)
{
    const cs_polyp_model *m = w->eng->polyp;
    cs_image detail = {.width = frame->detail_width,
                       .height = frame->detail_height,
                       .src_width = frame->src_width,
                       .src_height = frame->src_height,
                       .rgb = frame->detail_rgb};
    const cs_image *img = frame->detail_rgb ? &detail : frame;
    cs_image field;
    /* the whole frame; polyp_field sets it when a lit field is found (and
     * -O3's inliner cannot see that box is read only then) */
    float box[4] = {0.0f, 0.0f, 1.0f, 1.0f};
    bool in_field;
    cs_status fst = polyp_field(w, frame, scan, img, &field, box, &in_field, err);
    if (fst != CS_OK)
        return fst;
    if (in_field)
        img = &field;
    size_t need = (size_t)m->in_side * (size_t)img->height * 3;
    if (need > w->polyp_tmp_len) {
        float *t = realloc(w->polyp_tmp, need * sizeof *t);
        if (!t)
            return cs_error_set(err, CS_ERR_NOMEM, "out of memory analysing a %dx%d frame",
                                img->width, img->height);
        w->polyp_tmp = t;
        w->polyp_tmp_len = need;
    }
    cs_polyp_input(img, m->in_side, w->polyp_tmp, w->polyp_in);
    int cells = m->out_side * m->out_side;
    float *heat = w->polyp_heat + slot * (size_t)cells;
    cs_status st = cs_polyp_net_run(w->polyp_net, w->polyp_in, heat, err);
    if (st != CS_OK)
        return st;
    float p = cs_polyp_score(heat, cells, m->topk);
    bool crops_read = m->crops_in_score && p >= m->crop_gate;
    if (crops_read) {
        st = polyp_read_crops(w, img, err);
        if (st != CS_OK)
            return st;
        for (int k = 0; k < CS_POLYP_NCROPS; k++) {
            float pk = cs_polyp_score(w->polyp_crops + (size_t)k * (size_t)cells, cells, m->topk);
            if (pk > p)
                p = pk;
        }
    }
    out->polyp_probability = p;
    out->polyp = p >= w->eng->polyp_threshold;
    if (out->polyp) {
        st = polyp_outline(w, img, heat, crops_read, err);
        if (st != CS_OK)
            return st;
    }
    cs_polyp_sigmoid(heat, heat, cells);
    out->n_polyp_boxes = cs_polyp_boxes(heat, m->out_side, out->polyp_boxes);
    if (in_field)
        polyp_unfield(w, box, heat, out);
    return CS_OK;
}

const float *cs_worker_polyp_heatmap(const cs_worker *w, size_t i)
{
    size_t cells = (size_t)w->eng->polyp->out_side * (size_t)w->eng->polyp->out_side;
    return i < w->last_batch ? w->polyp_heat + i * cells : NULL;
}

/* One model call for n rows of features; probabilities to prob[0..n-1]. */
static cs_status bleeding_predict(cs_worker *w, size_t n, float *prob, cs_error *err)
{
    /* In-place prediction from dense rows: no DMatrix per call. */
    static const char config[] = "{\"type\": 0, \"training\": false, \"iteration_begin\": 0, "
                                 "\"iteration_end\": 0, \"strict_shape\": false, \"missing\": NaN, "
                                 "\"cache_id\": 0}";
    const bst_ulong *shape = NULL;
    bst_ulong dim = 0;
    const float *res = NULL;
    snprintf(w->array_json, sizeof w->array_json,
             "{\"data\": [%llu, true], \"shape\": [%zu, %d], \"typestr\": \"<f4\", \"version\": 3}",
             (unsigned long long)(uintptr_t)w->feat, n, CS_BLEED_NFEAT);
    if (XGBoosterPredictFromDense(w->booster, w->array_json, config, NULL, &shape, &dim, &res) != 0)
        return cs_error_set(err, CS_ERR_MODEL, "bleeding model prediction failed: %.*s",
                            (int)strcspn(XGBGetLastError(), "\n"), XGBGetLastError());
    memcpy(prob, res, n * sizeof *prob);
    return CS_OK;
}

cs_status cs_worker_analyze_batch(cs_worker *w, const cs_image *const *imgs, size_t n,
                                  cs_frame_result *out, cs_error *err)
{
    float prob[CS_BATCH_MAX];

    w->last_batch = 0;
    if (n < 1 || n > CS_BATCH_MAX)
        return cs_error_set(err, CS_ERR_ARG, "batch of %zu frames (1..%d)", n, CS_BATCH_MAX);
    for (size_t i = 0; i < n; i++) {
        memset(&out[i], 0, sizeof out[i]);
        if (cs_scan_frame(imgs[i], &w->scratch, &w->scans[i]) != CS_OK)
            return cs_error_set(err, CS_ERR_NOMEM, "out of memory analysing a %dx%d frame",
                                imgs[i]->width, imgs[i]->height);
        cs_quality_from_scan(&w->scans[i], &out[i].quality);
        cs_signature_from_scan(&w->scans[i], out[i].signature);
        cs_bleed_features_from_scan(&w->scans[i], w->feat[i]);
    }
    cs_status st = bleeding_predict(w, n, prob, err);
    if (st != CS_OK)
        return st;
    for (size_t i = 0; i < n; i++) {
        out[i].bleeding_probability = prob[i];
        out[i].bleeding = prob[i] >= w->eng->threshold;
        /* Boxes only where the frame is flagged: the reader looks at boxes
         * on flagged frames, and unflagged red specks would be noise. */
        if (out[i].bleeding)
            out[i].n_boxes = cs_bleed_boxes(&w->scans[i], out[i].boxes);
        st = polyp_analyze(w, imgs[i], &w->scans[i], i, &out[i], err);
        if (st != CS_OK)
            return st;
    }
    w->last_batch = n;
    return CS_OK;
}

cs_status cs_worker_analyze(cs_worker *w, const cs_image *img, cs_frame_result *out, cs_error *err)
{
    return cs_worker_analyze_batch(w, &img, 1, out, err);
}
