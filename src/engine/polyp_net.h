/* polyp_net.h - the polyp detector's network: the weights file (parse and
 * check) and its inference through oneDNN.
 *
 * The network is a compact U-Net of depthwise-separable convolutions
 * (tools/train_polyp.py, class PolypNet): an 80x80 RGB input, a 40x40
 * heatmap of logits out. Its layer list is fixed here and in the training
 * tool; the weights file carries the widths and every tensor's shape, and
 * parsing refuses a file whose shapes, version or checksum do not match.
 * File format: docs/engine.md, "Polyp weights file".
 *
 * Ownership and threads: a cs_polyp_model (the parsed weights, read-only)
 * is shared by all threads; a cs_polyp_net (oneDNN engine, stream,
 * primitives and activation buffers) belongs to one thread at a time.
 * Both free functions accept NULL. */
#ifndef CAPSCREEN_ENGINE_POLYP_NET_H
#define CAPSCREEN_ENGINE_POLYP_NET_H

#include <stddef.h>
#include <stdint.h>

#include "capscreen/status.h"

#define CS_POLYP_MAGIC "CSPOLYP1"
#define CS_POLYP_VERSION 1u
#define CS_POLYP_IN 80  /* input side, pixels */
#define CS_POLYP_OUT 40 /* heatmap side */
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
    int widths[CS_POLYP_NWIDTHS];
    int topk;        /* frame score: sigmoid(mean of the topk largest logits) */
    float threshold; /* frame-level operating point */
    cs_polyp_layer layers[CS_POLYP_NLAYERS];
} cs_polyp_model;

/* Parse and check a weights file held in memory (copied). Errors:
 * CS_ERR_MODEL (wrong magic, version, widths or shapes; a bad value),
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

/* Run the network on one input: `in` is CS_POLYP_IN x CS_POLYP_IN x 3
 * floats, rows of interleaved RGB, already normalised (rgb / 127.5 - 1).
 * Writes CS_POLYP_OUT x CS_POLYP_OUT logits to `logits` (row-major).
 * Single-threaded (the caller's thread); deterministic. Errors:
 * CS_ERR_MODEL if oneDNN fails. */
cs_status cs_polyp_net_run(cs_polyp_net *n, const float *in, float *logits,
                           cs_error *err) CS_WARN_UNUSED;

#endif
