/* engine.h - per-frame triage: exposure, sharpness, visibility/cleansing,
 * a redundancy signature, the suspected-bleeding probability with the
 * bleeding regions as boxes, and the polyp probability with boxes from the
 * polyp detector's heatmap (a small CNN run through oneDNN).
 *
 * Threads: a cs_engine holds the loaded models and is read-only after
 * cs_engine_load(); share it between threads. Each thread that analyses
 * frames owns one cs_worker (scratch buffers, its own classifier handle and
 * its own oneDNN network, which runs on the calling thread only); a worker
 * is used by one thread at a time.
 *
 * Ownership: cs_engine_free()/cs_worker_free() accept NULL. Results are
 * plain values; the caller owns them. */
#ifndef CAPSCREEN_ENGINE_H
#define CAPSCREEN_ENGINE_H

#include <stdbool.h>
#include <stdint.h>

#include "capscreen/image.h"
#include "capscreen/status.h"

#define CS_MAX_BOXES 8
/* Redundancy signature: mean RGB of an 8x8 grid over the frame. */
#define CS_SIG_GRID 8
#define CS_SIG_LEN (CS_SIG_GRID * CS_SIG_GRID * 3)

typedef enum cs_exposure {
    CS_EXPOSURE_OK,
    CS_EXPOSURE_TOO_DARK,
    CS_EXPOSURE_TOO_BRIGHT,
} cs_exposure;

const char *cs_exposure_name(cs_exposure e);

/* Image quality of one frame. Fractions are of the frame's pixels. */
typedef struct cs_quality {
    float mean_luma;       /* 0..255 */
    float dark_fraction;   /* luma < 35 */
    float bright_fraction; /* luma > 235 (saturated, glare) */
    cs_exposure exposure;
    float sharpness;       /* variance of the Laplacian of luma, scale-normalised */
    float sharpness_score; /* 0..1, 1 = crisp */
    bool blurry;
    float bubble_fraction;     /* small bright specular blobs (bubbles, foam) */
    float debris_fraction;     /* yellow-green-brown content (stool, bile) */
    float dark_lumen_fraction; /* dark regions (lumen not lit) */
    float visibility;          /* 0..1 share of mucosa that can be read */
    bool readable;             /* exposure ok, not blurry, visibility >= 0.3 */
} cs_quality;

typedef struct cs_box {
    float x, y, w, h; /* top-left corner and size, normalised to 0..1 */
    float score;      /* mean blood likelihood inside the box, 0..1 */
} cs_box;

typedef struct cs_frame_result {
    cs_quality quality;
    float bleeding_probability; /* 0..1 from the trained model */
    bool bleeding;              /* probability >= the model's threshold */
    int n_boxes;
    cs_box boxes[CS_MAX_BOXES]; /* bleeding regions, largest first */
    uint8_t signature[CS_SIG_LEN];
    /* Polyp detector (models/MODEL_CARD-polyp.md). Boxes are computed for
     * every frame (the top box is where the heatmap peaks); a box's score
     * is its peak polyp probability. The probability is one network pass;
     * a flagged frame's heatmap and boxes average nine (docs/engine.md,
     * "Outline of a flagged frame"). Coordinates as for bleeding boxes:
     * normalised to the whole frame, so any frame size maps back. */
    float polyp_probability; /* 0..1 */
    bool polyp;              /* probability >= the polyp threshold */
    int n_polyp_boxes;
    cs_box polyp_boxes[CS_MAX_BOXES]; /* highest peak first */
} cs_frame_result;

typedef struct cs_engine cs_engine;
typedef struct cs_worker cs_worker;

/* Load the bleeding model from `model_path` (NULL: $CAPSCREEN_MODEL, else
 * the installed default models/bleeding-xgb.json) and the polyp weights
 * from their default (see cs_engine_load_models). Errors: CS_ERR_MODEL
 * (missing or invalid file), CS_ERR_NOMEM, and the polyp loader's. */
cs_status cs_engine_load(const char *model_path, cs_engine **out, cs_error *err) CS_WARN_UNUSED;
/* Load the bleeding model and the polyp weights. NULL paths take the
 * defaults: bleeding as cs_engine_load(); polyp $CAPSCREEN_POLYP_MODEL,
 * else the installed models/polyp-unet.bin. cs_engine_load() is this with
 * polyp_path NULL. Errors: CS_ERR_MODEL, CS_ERR_CHECKSUM, CS_ERR_TRUNCATED,
 * CS_ERR_TOO_LARGE (a missing, damaged or wrong polyp weights file, with
 * the reason), CS_ERR_NOMEM. */
cs_status cs_engine_load_models(const char *bleeding_path, const char *polyp_path, cs_engine **out,
                                cs_error *err) CS_WARN_UNUSED;
void cs_engine_free(cs_engine *eng);

/* The polyp detector's frame-level threshold in use: the one stored in its
 * weights file (chosen on held-out capsule material), unless a site set its
 * own with cs_engine_set_polyp_threshold(). Also the weights file's own
 * threshold, whatever is in use, and the weights file's path. */
float cs_engine_polyp_threshold(const cs_engine *eng);
float cs_engine_polyp_weights_threshold(const cs_engine *eng);
/* A site's own polyp operating point t in (0, 1), in place of the weights
 * file's (chosen on the site's labelled capsule frames, `capscreen eval
 * --target-specificity`, docs/engine.md). A frame is flagged, and outlined
 * with the extra passes, when its probability is >= t. Call it before any
 * worker analyses a frame: the engine is read-only once shared between
 * threads. Errors: CS_ERR_ARG (t outside (0, 1) or not a number; the
 * threshold in use is unchanged). */
cs_status cs_engine_set_polyp_threshold(cs_engine *eng, double t, cs_error *err) CS_WARN_UNUSED;
const char *cs_engine_polyp_model_path(const cs_engine *eng);
/* The CRC-32C the polyp weights file carries in its last four bytes (checked
 * at load): it names the weights a frame was analysed with. */
uint32_t cs_engine_polyp_weights_crc32c(const cs_engine *eng);
/* How many networks the polyp weights file holds: 1, or an ensemble's
 * members (their logits averaged; docs/engine.md, "Version 3"). */
int cs_engine_polyp_networks(const cs_engine *eng);
/* Whether the polyp weights file reads five crops into the frame score
 * (version 4; docs/engine.md, "Polyps", step 3), and if so its crop gate
 * (*gate, the one-pass score from which the crops are read). false, *gate
 * untouched: the score is the one pass's. */
bool cs_engine_polyp_crop_gate(const cs_engine *eng, float *gate);
/* The polyp network's input side (pixels) and heatmap side (cells, the
 * side of cs_worker_polyp_heatmap), both from its weights file. */
int cs_engine_polyp_input_side(const cs_engine *eng);
int cs_engine_polyp_heatmap_side(const cs_engine *eng);
/* The short side the frame's detail decode must have for the polyp
 * network (pass it to cs_decode_frame_detail), or 0 when the analysis
 * image is enough (the 80 px network). Frames decoded without it still
 * analyse; the network then reads the upscaled analysis image. */
int cs_engine_detail_side(const cs_engine *eng);

/* Decision threshold stored with the model (chosen in training for the
 * operating point in models/MODEL_CARD.md). */
float cs_engine_threshold(const cs_engine *eng);
const char *cs_engine_model_path(const cs_engine *eng);

cs_status cs_worker_new(const cs_engine *eng, cs_worker **out, cs_error *err) CS_WARN_UNUSED;
void cs_worker_free(cs_worker *w);
/* cs_engine_detail_side of the worker's engine. */
int cs_worker_detail_side(const cs_worker *w);

/* Analyse one decoded frame. Deterministic: the same image gives the same
 * result on any thread. Errors: CS_ERR_MODEL if prediction fails,
 * CS_ERR_NOMEM. */
cs_status cs_worker_analyze(cs_worker *w, const cs_image *img, cs_frame_result *out,
                            cs_error *err) CS_WARN_UNUSED;

/* Frames a batch may hold. */
#define CS_BATCH_MAX 16

/* Analyse n (1..CS_BATCH_MAX) frames with a single model call: out[i] is
 * what cs_worker_analyze(imgs[i]) gives, whatever the batch (the model is
 * called per row in the same way), but one call per batch saves most of
 * XGBoost's per-call cost (about 50 us a call). Errors as above; on error
 * no result is valid. */
cs_status cs_worker_analyze_batch(cs_worker *w, const cs_image *const *imgs, size_t n,
                                  cs_frame_result *out, cs_error *err) CS_WARN_UNUSED;

/* The polyp probability map (cs_engine_polyp_heatmap_side()^2 floats, row-major,
 * covering the whole frame; for a flagged frame the nine-pass outline the
 * boxes come from; for a frame read through its lit field, 0 outside that
 * field: docs/engine.md, "Polyps") of frame i of the worker's last batch;
 * valid until the worker's next call. NULL if i is outside that batch. */
const float *cs_worker_polyp_heatmap(const cs_worker *w, size_t i);

/* A side x side map covering the frame (such as a polyp heatmap) at the
 * frame point (u, v) in 0..1: bilinear between cell centres, the edge
 * cells held beyond them. */
float cs_heatmap_at(const float *map, int side, float u, float v);

/* Box b in whole pixels of a width x height frame, as every writer of
 * pixel boxes (summary, live ingest) must give it: {x, y, w, h}. The edges
 * are rounded, not the size, so a box never runs past the frame (rounding
 * x and w apart can reach one pixel beyond it) and boxes that touch still
 * touch; the box keeps at least one pixel each way inside a frame that has
 * one. */
void cs_box_pixels(const cs_box *b, int width, int height, long out[4]);

/* Mean absolute difference of two signatures, 0..255. */
float cs_signature_distance(const uint8_t *a, const uint8_t *b);

#endif
