/* features.h - the colour features the bleeding model reads, and the
 * per-pixel blood likelihood behind the bleeding boxes.
 *
 * The features are built to survive JPEG history: colour statistics over
 * the frame and over coarse cells, from an image that was DCT-downscaled to
 * analysis size (so block artefacts and re-encoding noise are averaged
 * away), with no high-frequency texture measure. The training tool and the
 * engine call the same function, so they cannot drift apart.
 *
 * Threads: pure functions of their inputs. */
#ifndef CS_ENGINE_FEATURES_H
#define CS_ENGINE_FEATURES_H

#include "capscreen/engine.h"
#include "capscreen/image.h"

#define CS_BLEED_NFEAT 96

struct cs_scan;

/* Fill feat[CS_BLEED_NFEAT] from a scan of the frame. */
void cs_bleed_features_from_scan(const struct cs_scan *scan, float *feat);

/* Scan `img` and fill feat[CS_BLEED_NFEAT] (the training tool's entry).
 * Errors: CS_ERR_NOMEM. */
cs_status cs_bleed_features(const cs_image *img, float *feat);

/* Bleeding regions: blood-coloured cells of a 20x20 grid, gaps filled,
 * joined into 8-connected regions of at least three cells (docs/engine.md).
 * Writes up to CS_MAX_BOXES boxes, largest first; returns how many. */
int cs_bleed_boxes(const struct cs_scan *scan, cs_box *boxes);

/* Image quality (exposure, sharpness, visibility) and the redundancy
 * signature, from a scan. */
void cs_quality_from_scan(const struct cs_scan *scan, cs_quality *q);
void cs_signature_from_scan(const struct cs_scan *scan, uint8_t *sig);

#endif
