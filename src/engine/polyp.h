/* polyp.h - the polyp detector around its network: the frame resized to
 * the network's input, the frame score, and boxes from the heatmap.
 *
 * Pure functions on caller-owned buffers; any thread. */
#ifndef CAPSCREEN_ENGINE_POLYP_H
#define CAPSCREEN_ENGINE_POLYP_H

#include <stdbool.h>

#include "capscreen/engine.h"
#include "capscreen/image.h"
#include "engine/polyp_net.h"

/* Resize `img` to side x side (the network's input side; stretching, as
 * training does) with a box filter (Pillow's BOX coefficients, the
 * resampling the training tool uses), and normalise to rgb / 127.5 - 1.
 * `in` holds side^2 x 3 floats; `tmp` side x img->height x 3 floats. */
void cs_polyp_input(const cs_image *img, int side, float *tmp, float *in);

/* The same for the rectangle (x0, y0, w, h) of `img` (inside it): the
 * rectangle is resized to side x side. `tmp` holds side x h x 3 floats. */
void cs_polyp_input_rect(const cs_image *img, int x0, int y0, int w, int h, int side, float *tmp,
                         float *in);

/* The outline of a flagged frame also reads crops of it: CS_POLYP_NCROPS
 * rectangles of CS_POLYP_CROP_SHARE of its sides, at its centre and its
 * four corners, each seen by the network at its full input side, so a
 * polyp fills more of the input. Chosen on the shipped model's training
 * folds (models/MODEL_CARD-polyp.md, "Outlines"). A version-4 weights
 * file's frame score reads the same crops (polyp_net.h, crops_in_score). */
#define CS_POLYP_NCROPS 5
#define CS_POLYP_CROP_SHARE 0.6f

/* Crop k (0 = centre, then top left, top right, bottom left, bottom right)
 * of a width x height image, in its pixels. */
void cs_polyp_crop_rect(int width, int height, int k, int *x0, int *y0, int *w, int *h);

/* A frame with a wide black border (a 4:3 scope shown on a 16:9 frame, a
 * scope image inside a larger black video frame) is read through its lit
 * field: stretched whole to the square input, its content would be
 * squeezed and a third of the input black, which training never showed
 * (models/MODEL_CARD-polyp.md, "Another hospital's frame geometry"). The
 * detector reads the lit field's box instead when that box covers less
 * than CS_POLYP_FIELD_CROP of the frame's width or height and at least
 * CS_POLYP_FIELD_MIN of both (a frame mostly dark is not zoomed into). */
#define CS_POLYP_FIELD_CROP 0.9f
#define CS_POLYP_FIELD_MIN 0.5f

/* Whether a width x height image whose lit field's box is (x0, y0)-(x1,
 * y1) (end exclusive, in its pixels) is read through that box, by the rule
 * above. */
bool cs_polyp_reads_field(int width, int height, int x0, int y0, int x1, int y1);

/* Add a side x side map `src` covering the part (u0, v0, su, sv) of the
 * frame (normalised: origin and size) to the frame's side x side map: each
 * frame cell whose centre lies in that part gets the bilinear sample of
 * `src` at its centre added to `sum` and 1 to `count`. */
void cs_polyp_add_resampled(const float *src, int side, float u0, float v0, float su, float sv,
                            float *sum, float *count);

/* The mirror images of a square image, as bits: */
#define CS_POLYP_FLIP_X 1 /* left-right */
#define CS_POLYP_FLIP_Y 2 /* top-bottom */

/* dst = mirror `t` (0..3, CS_POLYP_FLIP_* bits) of the side x side image
 * `src` of `ch` interleaved channels. `dst` must not overlap `src`. */
void cs_polyp_mirror(const float *src, int side, int ch, int t, float *dst);

/* Add to `acc` the side x side map `src` taken back through mirror `t` (a
 * mirror is its own inverse), so that a map computed on a mirrored image
 * lands on the original's cells. */
void cs_polyp_add_unmirrored(const float *src, int side, int t, float *acc);

/* Frame probability: sigmoid of the mean of the `topk` largest logits. */
float cs_polyp_score(const float *logits, int n, int topk);

/* Probabilities from logits, in place-safe (prob may equal logits). */
void cs_polyp_sigmoid(const float *logits, float *prob, int n);

/* A box bounds the cells around its region's peak at this share of that
 * peak (chosen on the shipped model's training folds: models/
 * MODEL_CARD-polyp.md, "Outlines"). */
#define CS_POLYP_CORE_CUT 0.55f

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
