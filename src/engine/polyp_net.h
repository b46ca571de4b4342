/* polyp_net.h - the polyp detector's network: the weights file (parse and
 * check) and its inference through oneDNN.
 *
 * The network is a compact U-Net of depthwise-separable convolutions
 * (tools/train_polyp.py, class PolypNet): an S x S RGB input, an S/2 x S/2
 * heatmap of logits out. Its layer list is fixed here and in the training
 * tool; the weights file carries the input and heatmap sides (version 2; a
 * version-1 file is 80/40), the widths and every tensor's shape, and
 * parsing refuses a file whose sides, shapes, version or checksum do not
 * match. A version-3 file is an ensemble: several version-1/2 files in one
 * container with its own threshold and checksum; the network then runs
 * each member and averages their logits. A version-4 file is a version-3
 * file with one more field, a crop gate: its threshold is for a frame
 * score that also reads the outline's crops (crops_in_score below).
 * File format: docs/engine.md, "Polyp weights file".
 *
 * Ownership and threads: a cs_polyp_model (the parsed weights, read-only)
 * is shared by all threads; a cs_polyp_net (oneDNN engine, stream,
 * primitives and activation buffers) belongs to one thread at a time.
 * Both free functions accept NULL. */
#ifndef CAPSCREEN_ENGINE_POLYP_NET_H
#define CAPSCREEN_ENGINE_POLYP_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "capscreen/status.h"

#define CS_POLYP_MAGIC "CSPOLYP1"
#define CS_POLYP_VERSION 2u               /* one network; version 1 (80/40) loads too */
#define CS_POLYP_ENSEMBLE_VERSION 3u      /* 2-4 networks of version 1 or 2, logits averaged */
#define CS_POLYP_CROP_ENSEMBLE_VERSION 4u /* version 3 and a crop gate: crops in the score */
#define CS_POLYP_MAX_MEMBERS 4
#define CS_POLYP_V1_IN 80  /* a version-1 file's input side, pixels */
#define CS_POLYP_MIN_IN 64 /* input sides allowed: multiples of 16 in this range */
#define CS_POLYP_MAX_IN 256
#define CS_POLYP_MAX_TOPK 64 /* cs_polyp_score pools at most this many logits */
#define CS_POLYP_NLAYERS 22
#define CS_POLYP_NWIDTHS 4
#define CS_POLYP_MAX_BYTES (16u * 1024u * 1024u)

typedef struct cs_polyp_layer {
    char name[17];
    int cout, cin_per_group, k, stride, groups;
    int relu;
    const float *weight; /* cout x cin_per_group x k x k (OIHW), in the model's bytes */
    const float *bias;   /* cout */
} cs_polyp_layer;

typedef struct cs_polyp_model {
    uint8_t *bytes; /* the file, 4-byte aligned copy; layers point into it */
    size_t len;
    int version;
    int in_side;  /* input side, pixels */
    int out_side; /* heatmap side: in_side / 2 */
    int widths[CS_POLYP_NWIDTHS];
    int topk;        /* frame score: sigmoid(mean of the topk largest logits) */
    float threshold; /* frame-level operating point */
    cs_polyp_layer layers[CS_POLYP_NLAYERS]; /* unused in an ensemble */
    /* An ensemble (version 3 or 4): its networks, each a version-1 or -2 model
     * of the same sides and top-k, whose logits are averaged; 0 and NULLs
     * for one network. The members' own thresholds are not used. */
    int n_members;
    struct cs_polyp_model *members[CS_POLYP_MAX_MEMBERS];
    /* How the frame score is read, which the threshold is for. false
     * (versions 1-3): the one pass's score alone. true (version 4 only):
     * when the one pass's score reaches crop_gate, the outline's
     * CS_POLYP_NCROPS crops (polyp.h) are scored too, and the frame's
     * probability is the highest of those six scores (engine.c,
     * polyp_analyze). crop_gate is in [0, 1); 0 and unused when
     * crops_in_score is false. */
    bool crops_in_score;
    float crop_gate;
} cs_polyp_model;

/* Whether a file's format version is an ensemble container (3, or 4 with
 * a crop gate). */
static inline bool cs_polyp_is_ensemble_version(uint32_t version)
{
    return version == CS_POLYP_ENSEMBLE_VERSION || version == CS_POLYP_CROP_ENSEMBLE_VERSION;
}

/* The networks a model runs: 1 (the model itself) or its members. */
int cs_polyp_model_networks(const cs_polyp_model *m);
const cs_polyp_model *cs_polyp_model_network(const cs_polyp_model *m, int i);

/* Parse and check a weights file held in memory (copied). Errors:
 * CS_ERR_MODEL (wrong magic, version, sides, widths or shapes; a bad value),
 * CS_ERR_TRUNCATED, CS_ERR_CHECKSUM, CS_ERR_TOO_LARGE, CS_ERR_NOMEM; the
 * reason names what is wrong. */
cs_status cs_polyp_model_parse(const uint8_t *data, size_t len, cs_polyp_model **out,
                               cs_error *err) CS_WARN_UNUSED;
/* Read and parse a weights file. Errors as above, and CS_ERR_MODEL when it
 * cannot be opened or read. */
cs_status cs_polyp_model_load(const char *path, cs_polyp_model **out, cs_error *err) CS_WARN_UNUSED;
void cs_polyp_model_free(cs_polyp_model *m);

typedef struct cs_polyp_net cs_polyp_net;

/* Build the network for one thread (oneDNN primitives, weights reordered
 * to the layout oneDNN prefers). Errors: CS_ERR_MODEL (oneDNN refused),
 * CS_ERR_NOMEM. */
cs_status cs_polyp_net_new(const cs_polyp_model *m, cs_polyp_net **out,
                           cs_error *err) CS_WARN_UNUSED;
void cs_polyp_net_free(cs_polyp_net *n);

/* Run the network on one input: `in` is in_side x in_side x 3 floats (the
 * model's), rows of interleaved RGB, already normalised (rgb / 127.5 - 1).
 * Writes out_side x out_side logits to `logits` (row-major); an ensemble's
 * are the mean of its members' (summed in member order, then divided by
 * their number, as the training tool's MeanLogits).
 * Single-threaded (the caller's thread); deterministic. Errors:
 * CS_ERR_MODEL if oneDNN fails. */
cs_status cs_polyp_net_run(cs_polyp_net *n, const float *in, float *logits,
                           cs_error *err) CS_WARN_UNUSED;

#endif
