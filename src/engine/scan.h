/* scan.h - one pass over a frame's pixels that gathers every statistic the
 * per-frame measures need (quality, bleeding features, bleeding boxes,
 * redundancy signature). The measures then derive their numbers from the
 * scan, so the pixels are read once and no loop divides per pixel.
 *
 * Threads: a scan and its scratch belong to one thread. */
#ifndef CS_ENGINE_SCAN_H
#define CS_ENGINE_SCAN_H

#include <stdint.h>

#include "capscreen/engine.h"
#include "engine/colour.h"

#define CS_FEAT_CELLS 4 /* bleeding features: 4x4 cells */
#define CS_BOX_GRID 20  /* bleeding boxes: 20x20 cells */

/* Luma thresholds shared by the measures. */
#define CS_BORDER_LUMA 24  /* black vignette joined to the edge */
#define CS_DARK_LUMA 35    /* unlit lumen */
#define CS_BRIGHT_LUMA 235 /* saturated glare */
#define CS_VALID_LUMA_MIN 20
#define CS_VALID_LUMA_MAX 245

/* Growable scratch memory for scans; zero-initialise, then reuse. */
typedef struct cs_scan_scratch {
    uint8_t *buf;
    size_t cap;
} cs_scan_scratch;

void cs_scan_scratch_free(cs_scan_scratch *s);

typedef struct cs_scan {
    int w, h;           /* size of the 2x2-block grid the colour counts use */
    int full_w, full_h; /* analysis size (the Laplacian's resolution) */
    /* quality, over pixels inside the vignette */
    uint32_t inside, dark, bright, bubble, debris;
    uint64_t sum_luma;
    double lap_sum, lap_sq;
    uint32_t lap_n;
    /* bleeding features, over valid pixels (lit, not glare, not border) */
    uint32_t valid, strong, dark_red;
    uint32_t hs[CS_HS_BINS], lrg[CS_LRG_BINS], sat[32];
    uint64_t sum_r, sum_g, sum_b, sum_y, sum_yy;
    uint32_t cell_n[CS_FEAT_CELLS * CS_FEAT_CELLS];
    uint32_t cell_lrg[CS_FEAT_CELLS * CS_FEAT_CELLS]; /* sum of lrg bins */
    uint32_t cell_strong[CS_FEAT_CELLS * CS_FEAT_CELLS];
    /* bleeding boxes, over all pixels */
    uint32_t grid_n[CS_BOX_GRID * CS_BOX_GRID], grid_blood[CS_BOX_GRID * CS_BOX_GRID];
    /* redundancy signature, over all pixels */
    uint32_t sig_acc[CS_SIG_LEN], sig_n[CS_SIG_GRID * CS_SIG_GRID];
    /* the lit field: bounding box of the pixels that are not border, in
     * analysis pixels, end exclusive (the whole frame when all is border) */
    int lit_x0, lit_y0, lit_x1, lit_y1;
} cs_scan;

/* Scan `img`. Returns CS_ERR_NOMEM if scratch cannot grow. */
cs_status cs_scan_frame(const cs_image *img, cs_scan_scratch *scratch, cs_scan *out);

/* Thresholds in lrg-bin units. */
int cs_lrg_bin_of(float log2_ratio);

#endif
