/* polyp.h - the polyp detector around its network: the frame resized to
 * the network's input, the frame score, and boxes from the heatmap.
 *
 * Pure functions on caller-owned buffers; any thread. */
#ifndef CAPSCREEN_ENGINE_POLYP_H
#define CAPSCREEN_ENGINE_POLYP_H

#include "capscreen/engine.h"
#include "capscreen/image.h"
#include "engine/polyp_net.h"

/* Resize `img` to side x side (the network's input side; stretching, as
 * training does) with a box filter (Pillow's BOX coefficients, the
 * resampling the training tool uses), and normalise to rgb / 127.5 - 1.
 * `in` holds side^2 x 3 floats; `tmp` side x img->height x 3 floats. */
void cs_polyp_input(const cs_image *img, int side, float *tmp, float *in);

/* The symmetries of a square (its 8 rotations and mirrors), as bits: */
#define CS_POLYP_FLIP_X 1    /* left-right */
#define CS_POLYP_FLIP_Y 2    /* top-bottom */
#define CS_POLYP_TRANSPOSE 4 /* rows become columns, applied first */

/* dst = symmetry `t` (0..7) of the side x side image `src` of `ch`
 * interleaved channels. `dst` must not overlap `src`. */
void cs_polyp_symmetry(const float *src, int side, int ch, int t, float *dst);

/* Add to `acc` the side x side map `src` taken back through symmetry `t`:
 * the inverse of cs_polyp_symmetry, so that a map computed on a transformed
 * image lands on the original's cells. */
void cs_polyp_add_unsymmetric(const float *src, int side, int t, float *acc);

/* Frame probability: sigmoid of the mean of the `topk` largest logits. */
float cs_polyp_score(const float *logits, int n, int topk);

/* Probabilities from logits, in place-safe (prob may equal logits). */
void cs_polyp_sigmoid(const float *logits, float *prob, int n);

/* A box bounds the cells around its region's peak at this share of that
 * peak (chosen on the shipped model's training folds: models/
 * MODEL_CARD-polyp.md, "Outlines"). */
#define CS_POLYP_CORE_CUT 0.7f

/* Boxes from a side x side probability map (side <= CS_POLYP_MAX_IN / 2;
 * 0 boxes otherwise): 4-connected regions at cs_polyp_level(peak), highest
 * peak first, at most CS_MAX_BOXES; regions under 3 cells are dropped
 * except the one holding the peak, so every frame has a top box. Each box
 * bounds its region's core: the connected cells around the region's peak
 * that reach CS_POLYP_CORE_CUT of it. Coordinates normalised to the frame
 * (0..1); score = the region's peak probability. Returns the number of
 * boxes. */
int cs_polyp_boxes(const float *prob, int side, cs_box *boxes);

/* The level the heatmap is cut at: 0.5, or half the peak below 1.0. */
float cs_polyp_level(float peak);

#endif
