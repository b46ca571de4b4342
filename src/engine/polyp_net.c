/* polyp_net.c - the polyp weights file and the network's inference through
 * oneDNN (the convolutions; upsampling and concatenation are plain copies
 * done here, so the activation layout stays ours: NHWC). */
#include "engine/polyp_net.h"

#include <dnnl.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "capscreen/crc32c.h"

/* libgomp's, declared here rather than through omp.h: the library is not
 * built with -fopenmp (clang's fuzz builds would need libomp for that). */
extern void omp_set_num_threads(int n);

#define HEADER_V1_BYTES 48u /* magic, version, in, topk, nw, nl, threshold, widths */
#define HEADER_V2_BYTES 52u /* magic, version, in, out, topk, nw, nl, threshold, widths */
#define HEADER_V3_BYTES 20u /* magic, version, members, threshold */
#define HEADER_V4_BYTES 24u /* the same and the crop gate */
#define LAYER_HEAD_BYTES 32u
#define MAX_WIDTH 1024

/* The fixed layer list (tools/train_polyp.py: PolypNet, folded_layers).
 * `src` says where a layer reads from: the previous layer, the input, or
 * a concatenation buffer (upsampled deeper features + a skip). */
enum { SRC_PREV, SRC_INPUT, SRC_CAT2, SRC_CAT1, SRC_CAT0 };

typedef struct layer_spec {
    const char *name;
    int cin_w, cin_w2; /* input channels: widths[cin_w] (+ widths[cin_w2]), -1: 3 / none */
    int cout_w;        /* widths[cout_w]; -1: 1 (the head) */
    int k, stride, depthwise, relu, src;
} layer_spec;

static const layer_spec SPECS[CS_POLYP_NLAYERS] = {
    {"enc0", -1, -1, 0, 3, 2, 0, 1, SRC_INPUT},   {"enc1.dw", 0, -1, 0, 3, 2, 1, 1, SRC_PREV},
    {"enc1.pw", 0, -1, 1, 1, 1, 0, 1, SRC_PREV},  {"enc1b.dw", 1, -1, 1, 3, 1, 1, 1, SRC_PREV},
    {"enc1b.pw", 1, -1, 1, 1, 1, 0, 1, SRC_PREV}, {"enc2.dw", 1, -1, 1, 3, 2, 1, 1, SRC_PREV},
    {"enc2.pw", 1, -1, 2, 1, 1, 0, 1, SRC_PREV},  {"enc2b.dw", 2, -1, 2, 3, 1, 1, 1, SRC_PREV},
    {"enc2b.pw", 2, -1, 2, 1, 1, 0, 1, SRC_PREV}, {"enc3.dw", 2, -1, 2, 3, 2, 1, 1, SRC_PREV},
    {"enc3.pw", 2, -1, 3, 1, 1, 0, 1, SRC_PREV},  {"enc3b.dw", 3, -1, 3, 3, 1, 1, 1, SRC_PREV},
    {"enc3b.pw", 3, -1, 3, 1, 1, 0, 1, SRC_PREV}, {"enc3c.dw", 3, -1, 3, 3, 1, 1, 1, SRC_PREV},
    {"enc3c.pw", 3, -1, 3, 1, 1, 0, 1, SRC_PREV}, {"dec2.dw", 3, 2, 3, 3, 1, 1, 1, SRC_CAT2},
    {"dec2.pw", 3, 2, 2, 1, 1, 0, 1, SRC_PREV},   {"dec1.dw", 2, 1, 2, 3, 1, 1, 1, SRC_CAT1},
    {"dec1.pw", 2, 1, 1, 1, 1, 0, 1, SRC_PREV},   {"dec0.dw", 1, 0, 1, 3, 1, 1, 1, SRC_CAT0},
    {"dec0.pw", 1, 0, 0, 1, 1, 0, 1, SRC_PREV},   {"head", 0, -1, -1, 1, 1, 0, 0, SRC_PREV},
};
/* Layers whose outputs are the skips of dec2, dec1, dec0. */
#define SKIP2 8 /* enc2b.pw */
#define SKIP1 4 /* enc1b.pw */
#define SKIP0 0 /* enc0 */

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static int spec_cin(const layer_spec *s, const int *w)
{
    if (s->cin_w < 0)
        return 3;
    return w[s->cin_w] + (s->cin_w2 >= 0 ? w[s->cin_w2] : 0);
}

static int spec_cout(const layer_spec *s, const int *w)
{
    if (s->depthwise)
        return spec_cin(s, w);
    return s->cout_w < 0 ? 1 : w[s->cout_w];
}

/* Bytes of one layer's record: head, weights, bias. */
static size_t layer_bytes(const layer_spec *s, const int *w)
{
    size_t cout = (size_t)spec_cout(s, w);
    size_t cin_g = s->depthwise ? 1 : (size_t)spec_cin(s, w);
    return LAYER_HEAD_BYTES + 4u * (cout * cin_g * (size_t)s->k * (size_t)s->k + cout);
}

void cs_polyp_model_free(cs_polyp_model *m)
{
    if (!m)
        return;
    for (int i = 0; i < m->n_members; i++)
        cs_polyp_model_free(m->members[i]);
    free(m->bytes);
    free(m);
}

int cs_polyp_model_networks(const cs_polyp_model *m) { return m->n_members ? m->n_members : 1; }

const cs_polyp_model *cs_polyp_model_network(const cs_polyp_model *m, int i)
{
    return m->n_members ? m->members[i] : m;
}

static cs_status parse_network(const uint8_t *data, size_t len, cs_polyp_model **out,
                               cs_error *err);

/* A zeroed model owning a copy of the file's bytes (its layers point into
 * them), or NULL without memory. */
static cs_polyp_model *model_with_bytes(const uint8_t *data, size_t len)
{
    cs_polyp_model *m = calloc(1, sizeof *m);
    if (!m || !(m->bytes = malloc(len))) {
        free(m);
        return NULL;
    }
    memcpy(m->bytes, data, len);
    m->len = len;
    return m;
}

/* A version-3 file: magic, version, member count, threshold, then each
 * member as its byte length and a whole version-1 or -2 file, then the CRC-32C
 * of everything before it. A version-4 file has the crop gate after the
 * threshold, then the same. The container's checksum is checked first, so
 * a damaged file is named as such before any member is looked at. */
static cs_status parse_ensemble(const uint8_t *data, size_t len, cs_polyp_model **out,
                                cs_error *err)
{
    const uint32_t version = le32(data + 8);
    const bool crops = version == CS_POLYP_CROP_ENSEMBLE_VERSION;
    const uint32_t header = crops ? HEADER_V4_BYTES : HEADER_V3_BYTES;
    if (len < header + 4u)
        return cs_error_set(err, CS_ERR_TRUNCATED,
                            "polyp ensemble: %zu bytes, shorter than the %u-byte header", len,
                            header + 4u);
    uint32_t want = le32(data + len - 4), got = cs_crc32c(0, data, len - 4);
    if (want != got)
        return cs_error_set(err, CS_ERR_CHECKSUM,
                            "polyp weights damaged: CRC-32C %08x, the file says %08x", got, want);
    uint32_t k = le32(data + 12);
    float thr, gate = 0.0f;
    memcpy(&thr, data + 16, 4);
    if (crops)
        memcpy(&gate, data + 20, 4);
    if (k < 2 || k > CS_POLYP_MAX_MEMBERS)
        return cs_error_set(err, CS_ERR_MODEL, "polyp ensemble of %u networks (2 to %d)", k,
                            CS_POLYP_MAX_MEMBERS);
    if (!(thr > 0.0f && thr < 1.0f))
        return cs_error_set(err, CS_ERR_MODEL, "polyp ensemble: threshold %g outside (0, 1)",
                            (double)thr);
    /* NaN fails both comparisons; infinities fail one */
    if (!(gate >= 0.0f && gate < 1.0f))
        return cs_error_set(err, CS_ERR_MODEL, "polyp ensemble: crop gate %g outside [0, 1)",
                            (double)gate);
    cs_polyp_model *m = model_with_bytes(data, len);
    if (!m)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory loading polyp weights");
    m->version = (int)version;
    m->threshold = thr;
    m->crops_in_score = crops;
    m->crop_gate = gate;
    cs_status st = CS_OK;
    size_t off = header, end = len - 4;
    for (uint32_t i = 0; i < k; i++) {
        if (end - off < 4) {
            st = cs_error_set(err, CS_ERR_TRUNCATED, "polyp ensemble: member %u of %u missing",
                              i + 1, k);
            goto fail;
        }
        uint32_t n = le32(data + off);
        off += 4;
        if (n > end - off) {
            st = cs_error_set(err, CS_ERR_TRUNCATED,
                              "polyp ensemble: member %u of %u has %u bytes, %zu are left", i + 1,
                              k, n, end - off);
            goto fail;
        }
        cs_error e = {0};
        cs_polyp_model *mem = NULL;
        if (n >= 12 && cs_polyp_is_ensemble_version(le32(data + off + 8)))
            st = cs_error_set(&e, CS_ERR_MODEL,
                              "an ensemble; members must be single networks (version 1 or %u)",
                              CS_POLYP_VERSION);
        else
            st = parse_network(data + off, n, &mem, &e);
        if (st != CS_OK) {
            st = cs_error_set(err, st, "polyp ensemble member %u of %u: %s", i + 1, k, e.msg);
            goto fail;
        }
        m->members[m->n_members++] = mem;
        if (i == 0) {
            m->in_side = mem->in_side;
            m->out_side = mem->out_side;
            m->topk = mem->topk;
            memcpy(m->widths, mem->widths, sizeof m->widths);
        } else if (mem->in_side != m->in_side || mem->out_side != m->out_side ||
                   mem->topk != m->topk) {
            /* The engine's buffers are sized from member 1's sides. */
            st = cs_error_set(err, CS_ERR_MODEL,
                              "polyp ensemble member %u of %u: sides %d/%d, top-k %d; member 1 "
                              "has %d/%d, %d (members must agree)",
                              i + 1, k, mem->in_side, mem->out_side, mem->topk, m->in_side,
                              m->out_side, m->topk);
            goto fail;
        }
        off += n;
    }
    if (off != end) {
        st = cs_error_set(err, CS_ERR_MODEL, "polyp ensemble: %zu bytes after the last member",
                          end - off);
        goto fail;
    }
    *out = m;
    return CS_OK;
fail:
    cs_polyp_model_free(m);
    return st;
}

cs_status cs_polyp_model_parse(const uint8_t *data, size_t len, cs_polyp_model **out, cs_error *err)
{
    *out = NULL;
    if (len >= 12 && len <= CS_POLYP_MAX_BYTES && memcmp(data, CS_POLYP_MAGIC, 8) == 0 &&
        cs_polyp_is_ensemble_version(le32(data + 8)))
        return parse_ensemble(data, len, out, err);
    return parse_network(data, len, out, err);
}

/* One network: a version-1 or version-2 file. */
static cs_status parse_network(const uint8_t *data, size_t len, cs_polyp_model **out, cs_error *err)
{
    *out = NULL;
    if (len < HEADER_V1_BYTES + 4u)
        return cs_error_set(err, CS_ERR_TRUNCATED,
                            "polyp weights: %zu bytes, shorter than the %u-byte header", len,
                            HEADER_V1_BYTES + 4u);
    if (len > CS_POLYP_MAX_BYTES)
        return cs_error_set(err, CS_ERR_TOO_LARGE, "polyp weights: %zu bytes, more than %u", len,
                            CS_POLYP_MAX_BYTES);
    if (memcmp(data, CS_POLYP_MAGIC, 8) != 0)
        return cs_error_set(err, CS_ERR_MODEL, "not a polyp weights file (no %s signature)",
                            CS_POLYP_MAGIC);
    uint32_t version = le32(data + 8);
    if (version != 1u && version != CS_POLYP_VERSION)
        return cs_error_set(err, CS_ERR_MODEL,
                            "polyp weights format version %u; this build reads versions 1 to %u "
                            "(retrain with tools/train-polyp.sh)",
                            version, CS_POLYP_CROP_ENSEMBLE_VERSION);
    /* Version 2 adds the heatmap side after the input side; version 1 is
     * the 80 px network with its 40x40 heatmap. */
    const uint8_t *h = data + 12;
    uint32_t header = HEADER_V1_BYTES;
    uint32_t in = le32(h), hout = CS_POLYP_V1_IN / 2;
    if (version == 1u) {
        h += 4;
        if (in != CS_POLYP_V1_IN)
            return cs_error_set(err, CS_ERR_MODEL,
                                "polyp weights version 1 with input side %u (version 1 is %d)", in,
                                CS_POLYP_V1_IN);
    } else {
        header = HEADER_V2_BYTES;
        hout = le32(h + 4);
        h += 8;
        if (len < header + 4u)
            return cs_error_set(err, CS_ERR_TRUNCATED,
                                "polyp weights: %zu bytes, shorter than the %u-byte header", len,
                                header + 4u);
        if (in < CS_POLYP_MIN_IN || in > CS_POLYP_MAX_IN || in % 16 != 0)
            return cs_error_set(err, CS_ERR_MODEL,
                                "polyp weights: input side %u (a multiple of 16 from %d to %d)", in,
                                CS_POLYP_MIN_IN, CS_POLYP_MAX_IN);
        if (hout * 2 != in)
            return cs_error_set(err, CS_ERR_MODEL,
                                "polyp weights: heatmap side %u for input side %u (the network "
                                "gives half the input side, %u)",
                                hout, in, in / 2);
    }
    uint32_t topk = le32(h), nw = le32(h + 4), nl = le32(h + 8);
    float thr;
    memcpy(&thr, h + 12, 4);
    if (nw != CS_POLYP_NWIDTHS || nl != CS_POLYP_NLAYERS)
        return cs_error_set(err, CS_ERR_MODEL,
                            "polyp weights are for another network (%u widths, %u layers; this "
                            "build runs %d widths, %d layers)",
                            nw, nl, CS_POLYP_NWIDTHS, CS_POLYP_NLAYERS);
    if (topk < 1 || topk > hout * hout || topk > CS_POLYP_MAX_TOPK)
        return cs_error_set(err, CS_ERR_MODEL, "polyp weights: top-k %u out of range (1..%u)", topk,
                            hout * hout < CS_POLYP_MAX_TOPK ? hout * hout : CS_POLYP_MAX_TOPK);
    if (!(thr > 0.0f && thr < 1.0f))
        return cs_error_set(err, CS_ERR_MODEL, "polyp weights: threshold %g outside (0, 1)",
                            (double)thr);
    int w[CS_POLYP_NWIDTHS];
    for (int i = 0; i < CS_POLYP_NWIDTHS; i++) {
        uint32_t v = le32(h + 16 + 4 * i);
        if (v < 1 || v > MAX_WIDTH)
            return cs_error_set(err, CS_ERR_MODEL, "polyp weights: width %d is %u (1..%d)", i, v,
                                MAX_WIDTH);
        w[i] = (int)v;
    }
    size_t need = header + 4u;
    for (int i = 0; i < CS_POLYP_NLAYERS; i++)
        need += layer_bytes(&SPECS[i], w);
    if (len < need)
        return cs_error_set(err, CS_ERR_TRUNCATED,
                            "polyp weights truncated: %zu bytes, the network needs %zu", len, need);
    if (len > need)
        return cs_error_set(err, CS_ERR_MODEL, "polyp weights: %zu bytes after the network's %zu",
                            len - need, need);
    uint32_t want = le32(data + len - 4), got = cs_crc32c(0, data, len - 4);
    if (want != got)
        return cs_error_set(err, CS_ERR_CHECKSUM,
                            "polyp weights damaged: CRC-32C %08x, the file says %08x", got, want);

    cs_polyp_model *m = model_with_bytes(data, len);
    if (!m)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory loading polyp weights");
    memcpy(m->widths, w, sizeof w);
    m->version = (int)version;
    m->in_side = (int)in;
    m->out_side = (int)hout;
    m->topk = (int)topk;
    m->threshold = thr;
    size_t off = header;
    for (int i = 0; i < CS_POLYP_NLAYERS; i++) {
        const layer_spec *s = &SPECS[i];
        cs_polyp_layer *L = &m->layers[i];
        const uint8_t *p = m->bytes + off;
        memcpy(L->name, p, 16);
        L->name[16] = '\0';
        L->cout = spec_cout(s, w);
        L->groups = s->depthwise ? spec_cin(s, w) : 1;
        L->cin_per_group = s->depthwise ? 1 : spec_cin(s, w);
        L->k = s->k;
        L->stride = s->stride;
        L->relu = s->relu;
        uint32_t shape[4] = {le32(p + 16), le32(p + 20), le32(p + 24), le32(p + 28)};
        if (strcmp(L->name, s->name) != 0 || shape[0] != (uint32_t)L->cout ||
            shape[1] != (uint32_t)L->cin_per_group || shape[2] != (uint32_t)s->k ||
            shape[3] != (uint32_t)s->k) {
            cs_status st = cs_error_set(
                err, CS_ERR_MODEL,
                "polyp weights: layer %d is '%.16s' %ux%ux%ux%u; expected '%s' %dx%dx%dx%d", i,
                L->name, shape[0], shape[1], shape[2], shape[3], s->name, L->cout, L->cin_per_group,
                s->k, s->k);
            cs_polyp_model_free(m);
            return st;
        }
        L->weight = (const float *)(const void *)(p + LAYER_HEAD_BYTES);
        size_t nwt = (size_t)L->cout * (size_t)L->cin_per_group * (size_t)(s->k * s->k);
        L->bias = L->weight + nwt;
        for (size_t j = 0; j < nwt + (size_t)L->cout; j++) {
            if (!isfinite(L->weight[j])) {
                cs_status st =
                    cs_error_set(err, CS_ERR_MODEL,
                                 "polyp weights: layer '%s' holds a non-finite value", s->name);
                cs_polyp_model_free(m);
                return st;
            }
        }
        off += layer_bytes(s, w);
    }
    *out = m;
    return CS_OK;
}

cs_status cs_polyp_model_load(const char *path, cs_polyp_model **out, cs_error *err)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return cs_error_set(err, CS_ERR_MODEL,
                            "cannot open polyp weights %s: %s (set CAPSCREEN_POLYP_MODEL or "
                            "--polyp-model)",
                            path, strerror(errno));
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        fclose(f);
        return cs_error_set(err, CS_ERR_MODEL,
                            "polyp weights %s is not a regular file (a directory?): give the "
                            "weights file itself",
                            path);
    }
    uint8_t *buf = NULL;
    long n = -1;
    if (fseek(f, 0, SEEK_END) == 0)
        n = ftell(f);
    if (n < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return cs_error_set(err, CS_ERR_MODEL, "cannot read polyp weights %s", path);
    }
    if ((unsigned long)n > CS_POLYP_MAX_BYTES) {
        fclose(f);
        return cs_error_set(err, CS_ERR_TOO_LARGE, "polyp weights %s: %ld bytes, more than %u",
                            path, n, CS_POLYP_MAX_BYTES);
    }
    buf = malloc((size_t)n + 1);
    if (!buf) {
        fclose(f);
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory reading %s", path);
    }
    size_t got = fread(buf, 1, (size_t)n, f);
    fclose(f);
    if (got != (size_t)n) {
        free(buf);
        return cs_error_set(err, CS_ERR_MODEL, "cannot read polyp weights %s", path);
    }
    cs_error e = {0};
    cs_status st = cs_polyp_model_parse(buf, got, out, &e);
    free(buf);
    if (st != CS_OK)
        return cs_error_set(err, st, "%s: %s", path, e.msg);
    return CS_OK;
}

/* ------------------------------------------------------------------------ */

typedef struct net_layer {
    dnnl_primitive_t prim;
    dnnl_memory_t src, wei, bias, dst;
    float *wbuf; /* weights in oneDNN's preferred layout */
    float *out;  /* NHWC output activations */
    int h, c;    /* output side and channels */
    int in_h, in_c;
    const float *in; /* NHWC input (previous output, input or a concat buffer) */
} net_layer;

struct cs_polyp_net {
    const cs_polyp_model *m;
    /* An ensemble: one network per member, and a buffer for a member's
     * logits; the layers below are then unused. */
    int n_members;
    struct cs_polyp_net *members[CS_POLYP_MAX_MEMBERS];
    float *member_logits;
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    net_layer L[CS_POLYP_NLAYERS];
    float *input;  /* in_side^2 x 3, NHWC */
    float *cat[3]; /* concat buffers of dec2, dec1, dec0 */
};

#define DNNL_TRY(call, what)                                                               \
    do {                                                                                   \
        dnnl_status_t s_ = (call);                                                         \
        if (s_ != dnnl_success) {                                                          \
            st = cs_error_set(err, s_ == dnnl_out_of_memory ? CS_ERR_NOMEM : CS_ERR_MODEL, \
                              "oneDNN: %s failed (status %d)", (what), (int)s_);           \
            goto done;                                                                     \
        }                                                                                  \
    } while (0)

void cs_polyp_net_free(cs_polyp_net *n)
{
    if (!n)
        return;
    for (int i = 0; i < n->n_members; i++)
        cs_polyp_net_free(n->members[i]);
    free(n->member_logits);
    for (int i = 0; i < CS_POLYP_NLAYERS; i++) {
        net_layer *l = &n->L[i];
        if (l->prim)
            dnnl_primitive_destroy(l->prim);
        if (l->src)
            dnnl_memory_destroy(l->src);
        if (l->wei)
            dnnl_memory_destroy(l->wei);
        if (l->bias)
            dnnl_memory_destroy(l->bias);
        if (l->dst)
            dnnl_memory_destroy(l->dst);
        free(l->wbuf);
        free(l->out);
    }
    for (int i = 0; i < 3; i++)
        free(n->cat[i]);
    free(n->input);
    if (n->stream)
        dnnl_stream_destroy(n->stream);
    if (n->engine)
        dnnl_engine_destroy(n->engine);
    free(n);
}

/* Build layer i's primitive; its input buffer and size are already set. */
static cs_status build_layer(cs_polyp_net *n, int i, cs_error *err)
{
    cs_status st = CS_OK;
    const cs_polyp_layer *ml = &n->m->layers[i];
    net_layer *l = &n->L[i];
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t ops = NULL;
    dnnl_primitive_desc_t pd = NULL, rpd = NULL;
    dnnl_primitive_t reorder = NULL;
    dnnl_memory_t user_w = NULL;
    dnnl_memory_desc_t src_md, wany_md, wuser_md, bias_md, dst_md;
    dnnl_convolution_desc_t cd;
    int pad = ml->k / 2;

    l->h = (l->in_h + 2 * pad - ml->k) / ml->stride + 1;
    l->c = ml->cout;
    l->out = malloc(sizeof(float) * (size_t)l->h * (size_t)l->h * (size_t)l->c);
    if (!l->out)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory building the polyp network");

    dnnl_dims_t sd = {1, l->in_c, l->in_h, l->in_h}, dd = {1, l->c, l->h, l->h}, bd = {l->c},
                strides = {ml->stride, ml->stride}, pads = {pad, pad};
    DNNL_TRY(dnnl_memory_desc_init_by_tag(&src_md, 4, sd, dnnl_f32, dnnl_nhwc), "source layout");
    DNNL_TRY(dnnl_memory_desc_init_by_tag(&dst_md, 4, dd, dnnl_f32, dnnl_nhwc), "output layout");
    DNNL_TRY(dnnl_memory_desc_init_by_tag(&bias_md, 1, bd, dnnl_f32, dnnl_a), "bias layout");
    if (ml->groups > 1) {
        dnnl_dims_t wd = {ml->groups, 1, 1, ml->k, ml->k};
        DNNL_TRY(dnnl_memory_desc_init_by_tag(&wuser_md, 5, wd, dnnl_f32, dnnl_goihw), "weights");
        DNNL_TRY(dnnl_memory_desc_init_by_tag(&wany_md, 5, wd, dnnl_f32, dnnl_format_tag_any),
                 "weights");
    } else {
        dnnl_dims_t wd = {ml->cout, ml->cin_per_group, ml->k, ml->k};
        DNNL_TRY(dnnl_memory_desc_init_by_tag(&wuser_md, 4, wd, dnnl_f32, dnnl_oihw), "weights");
        DNNL_TRY(dnnl_memory_desc_init_by_tag(&wany_md, 4, wd, dnnl_f32, dnnl_format_tag_any),
                 "weights");
    }
    DNNL_TRY(dnnl_convolution_forward_desc_init(&cd, dnnl_forward_inference,
                                                dnnl_convolution_direct, &src_md, &wany_md,
                                                &bias_md, &dst_md, strides, pads, pads),
             "convolution descriptor");
    DNNL_TRY(dnnl_primitive_attr_create(&attr), "attributes");
    if (ml->relu) {
        DNNL_TRY(dnnl_post_ops_create(&ops), "post-ops");
        DNNL_TRY(dnnl_post_ops_append_eltwise(ops, 1.0f, dnnl_eltwise_relu, 0.0f, 0.0f), "ReLU");
        DNNL_TRY(dnnl_primitive_attr_set_post_ops(attr, ops), "post-ops");
    }
    DNNL_TRY(dnnl_primitive_desc_create(&pd, &cd, attr, n->engine, NULL), "convolution");
    DNNL_TRY(dnnl_primitive_create(&l->prim, pd), "convolution primitive");

    /* Weights: from the file's OIHW to what the primitive wants, once. */
    const dnnl_memory_desc_t *wmd = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    l->wbuf = malloc(dnnl_memory_desc_get_size(wmd) + 64);
    if (!l->wbuf) {
        st = cs_error_set(err, CS_ERR_NOMEM, "out of memory building the polyp network");
        goto done;
    }
    DNNL_TRY(dnnl_memory_create(&l->wei, wmd, n->engine, l->wbuf), "weights memory");
    DNNL_TRY(dnnl_memory_create(&user_w, &wuser_md, n->engine, (void *)ml->weight),
             "weights memory");
    DNNL_TRY(dnnl_reorder_primitive_desc_create(&rpd, &wuser_md, n->engine, wmd, n->engine, NULL),
             "weights reorder");
    DNNL_TRY(dnnl_primitive_create(&reorder, rpd), "weights reorder");
    dnnl_exec_arg_t rargs[2] = {{DNNL_ARG_FROM, user_w}, {DNNL_ARG_TO, l->wei}};
    DNNL_TRY(dnnl_primitive_execute(reorder, n->stream, 2, rargs), "weights reorder");
    DNNL_TRY(dnnl_stream_wait(n->stream), "weights reorder");
    DNNL_TRY(dnnl_memory_create(&l->bias, &bias_md, n->engine, (void *)ml->bias), "bias memory");
    DNNL_TRY(dnnl_memory_create(&l->src, &src_md, n->engine, (void *)l->in), "source memory");
    DNNL_TRY(dnnl_memory_create(&l->dst, &dst_md, n->engine, l->out), "output memory");
done:
    if (reorder)
        dnnl_primitive_destroy(reorder);
    if (rpd)
        dnnl_primitive_desc_destroy(rpd);
    if (user_w)
        dnnl_memory_destroy(user_w);
    if (pd)
        dnnl_primitive_desc_destroy(pd);
    if (ops)
        dnnl_post_ops_destroy(ops);
    if (attr)
        dnnl_primitive_attr_destroy(attr);
    return st;
}

cs_status cs_polyp_net_new(const cs_polyp_model *m, cs_polyp_net **out, cs_error *err)
{
    cs_status st = CS_OK;
    cs_polyp_net *n = calloc(1, sizeof *n);
    *out = NULL;
    if (!n)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory building the polyp network");
    n->m = m;
    if (m->n_members) {
        for (int i = 0; i < m->n_members; i++) {
            cs_error e = {0};
            if ((st = cs_polyp_net_new(m->members[i], &n->members[i], &e)) != CS_OK) {
                st = cs_error_set(err, st, "polyp ensemble member %d of %d: %s", i + 1,
                                  m->n_members, e.msg);
                goto done;
            }
            n->n_members++;
        }
        n->member_logits = malloc(sizeof(float) * (size_t)m->out_side * (size_t)m->out_side);
        if (!n->member_logits) {
            st = cs_error_set(err, CS_ERR_NOMEM, "out of memory building the polyp network");
            goto done;
        }
        *out = n;
        return CS_OK;
    }
    /* Weight reorders at build time run on this thread only, like inference. */
    omp_set_num_threads(1);
    DNNL_TRY(dnnl_engine_create(&n->engine, dnnl_cpu, 0), "CPU engine");
    DNNL_TRY(dnnl_stream_create(&n->stream, n->engine, dnnl_stream_default_flags), "stream");
    n->input = malloc(sizeof(float) * (size_t)m->in_side * (size_t)m->in_side * 3);
    if (!n->input) {
        st = cs_error_set(err, CS_ERR_NOMEM, "out of memory building the polyp network");
        goto done;
    }
    for (int i = 0; i < CS_POLYP_NLAYERS; i++) {
        net_layer *l = &n->L[i];
        int src = SPECS[i].src;
        if (src == SRC_INPUT) {
            l->in = n->input;
            l->in_h = m->in_side;
            l->in_c = 3;
        } else if (src == SRC_PREV) {
            l->in = n->L[i - 1].out;
            l->in_h = n->L[i - 1].h;
            l->in_c = n->L[i - 1].c;
        } else {
            int skip = src == SRC_CAT2 ? SKIP2 : src == SRC_CAT1 ? SKIP1 : SKIP0;
            int ci = src - SRC_CAT2;
            const net_layer *deep = &n->L[i - 1], *sk = &n->L[skip];
            if (deep->h * 2 != sk->h) {
                st = cs_error_set(err, CS_ERR_MODEL, "polyp network: layer %d does not fit", i);
                goto done;
            }
            l->in_h = sk->h;
            l->in_c = deep->c + sk->c;
            n->cat[ci] =
                malloc(sizeof(float) * (size_t)l->in_h * (size_t)l->in_h * (size_t)l->in_c);
            if (!n->cat[ci]) {
                st = cs_error_set(err, CS_ERR_NOMEM, "out of memory building the polyp network");
                goto done;
            }
            l->in = n->cat[ci];
        }
        if (l->in_c !=
            (m->layers[i].groups > 1 ? m->layers[i].groups : m->layers[i].cin_per_group)) {
            st = cs_error_set(err, CS_ERR_MODEL, "polyp network: layer %d has %d inputs, wants %d",
                              i, l->in_c, m->layers[i].cin_per_group);
            goto done;
        }
        st = build_layer(n, i, err);
        if (st != CS_OK)
            goto done;
    }
    if (n->L[CS_POLYP_NLAYERS - 1].h != m->out_side) {
        st = cs_error_set(err, CS_ERR_MODEL, "polyp network: heatmap side %d, expected %d",
                          n->L[CS_POLYP_NLAYERS - 1].h, m->out_side);
        goto done;
    }
    *out = n;
    return CS_OK;
done:
    cs_polyp_net_free(n);
    return st;
}

/* dst (2h x 2h x (cd + cs)) = [nearest-upsampled deep (h x h x cd), skip (2h x 2h x cs)] */
static void upsample_concat(float *dst, const float *deep, int h, int cd, const float *skip, int cs)
{
    int H = 2 * h, C = cd + cs;
    for (int y = 0; y < H; y++) {
        for (int x = 0; x < H; x++) {
            float *o = dst + ((size_t)y * H + x) * C;
            memcpy(o, deep + ((size_t)(y / 2) * h + x / 2) * cd, sizeof(float) * (size_t)cd);
            memcpy(o + cd, skip + ((size_t)y * H + x) * cs, sizeof(float) * (size_t)cs);
        }
    }
}

/* An ensemble's logits: the members' summed in order, then divided by
 * their number (float, as MeanLogits in the training tool). */
static cs_status run_members(cs_polyp_net *n, const float *in, float *logits, cs_error *err)
{
    size_t cells = (size_t)n->m->out_side * (size_t)n->m->out_side;
    cs_status st = cs_polyp_net_run(n->members[0], in, logits, err);
    for (int i = 1; i < n->n_members && st == CS_OK; i++) {
        st = cs_polyp_net_run(n->members[i], in, n->member_logits, err);
        for (size_t c = 0; c < cells && st == CS_OK; c++)
            logits[c] += n->member_logits[c];
    }
    for (size_t c = 0; c < cells && st == CS_OK; c++)
        logits[c] /= (float)n->n_members;
    return st;
}

cs_status cs_polyp_net_run(cs_polyp_net *n, const float *in, float *logits, cs_error *err)
{
    cs_status st = CS_OK;
    if (n->n_members)
        return run_members(n, in, logits, err);
    /* One thread per worker: the pipeline's parallelism is across frames,
     * and oneDNN's OpenMP team would otherwise take every core per call. */
    omp_set_num_threads(1);
    size_t in_side = (size_t)n->m->in_side, out_side = (size_t)n->m->out_side;
    memcpy(n->input, in, sizeof(float) * in_side * in_side * 3);
    for (int i = 0; i < CS_POLYP_NLAYERS; i++) {
        net_layer *l = &n->L[i];
        int src = SPECS[i].src;
        if (src >= SRC_CAT2) {
            int skip = src == SRC_CAT2 ? SKIP2 : src == SRC_CAT1 ? SKIP1 : SKIP0;
            const net_layer *deep = &n->L[i - 1], *sk = &n->L[skip];
            upsample_concat(n->cat[src - SRC_CAT2], deep->out, deep->h, deep->c, sk->out, sk->c);
        }
        dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, l->src},
                                   {DNNL_ARG_WEIGHTS, l->wei},
                                   {DNNL_ARG_BIAS, l->bias},
                                   {DNNL_ARG_DST, l->dst}};
        DNNL_TRY(dnnl_primitive_execute(l->prim, n->stream, 4, args), "convolution");
    }
    DNNL_TRY(dnnl_stream_wait(n->stream), "stream");
    memcpy(logits, n->L[CS_POLYP_NLAYERS - 1].out, sizeof(float) * out_side * out_side);
done:
    return st;
}
