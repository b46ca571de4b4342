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

/* Frame probability: sigmoid of the mean of the `topk` largest logits. */
float cs_polyp_score(const float *logits, int n, int topk);

/* Probabilities from logits, in place-safe (prob may equal logits). */
void cs_polyp_sigmoid(const float *logits, float *prob, int n);

/* Boxes from a side x side probability map (side <= CS_POLYP_MAX_IN / 2;
 * 0 boxes otherwise): 4-connected regions at
 * cs_polyp_level(peak), highest peak first, at most CS_MAX_BOXES; regions
 * under 3 cells are dropped except the one holding the peak, so every frame
 * has a top box. Coordinates normalised to the frame (0..1); score = the
 * region's peak probability. Returns the number of boxes. */
int cs_polyp_boxes(const float *prob, int side, cs_box *boxes);

/* The level the heatmap is cut at: 0.5, or half the peak below 1.0. */
float cs_polyp_level(float peak);

#endif
