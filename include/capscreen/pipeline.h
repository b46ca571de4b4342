/* pipeline.h - runs the engine over a study source with a pool of worker
 * threads and hands the outcomes to a sink strictly in study order.
 *
 * Workers take items from the source one at a time (under a lock: sources
 * are single-threaded), decode and analyse them in parallel, and park the
 * outcome in a reorder window of fixed size; the calling thread passes
 * outcomes to the sink in order. The window bounds memory whatever the
 * study length, and ordering makes the output identical for any thread
 * count. With threads == 1 everything runs on the calling thread.
 *
 * Errors: a frame that cannot be decoded is an outcome with ok == false,
 * not an error. cs_pipeline_run() fails only if the source fails as a
 * whole, the sink returns an error, or workers cannot be started. */
#ifndef CAPSCREEN_PIPELINE_H
#define CAPSCREEN_PIPELINE_H

#include <stdbool.h>
#include <stdint.h>

#include "capscreen/engine.h"
#include "capscreen/source.h"

typedef struct cs_outcome {
    uint64_t seq; /* 0-based position in the study */
    char name[CS_NAME_MAX];
    int64_t frame_index;     /* from the source, -1 if none */
    int64_t capture_time_us; /* -1 if unknown */
    bool ok;                 /* false: status/reason say why */
    cs_status status;
    char reason[256];
    int width, height;      /* encoded size of the frame (when ok) */
    cs_frame_result result; /* valid when ok */
} cs_outcome;

/* Called on the thread that called cs_pipeline_run(), in seq order. A
 * non-CS_OK return stops the run; that status is returned. */
typedef cs_status (*cs_outcome_sink)(void *ctx, const cs_outcome *o, cs_error *err);

/* Decode and analyse one item into `o` (seq and names copied from item). */
void cs_analyze_item(cs_worker *w, const cs_item *item, uint64_t seq, cs_outcome *o);

cs_status cs_pipeline_run(cs_source *src, const cs_engine *eng, int threads, cs_outcome_sink sink,
                          void *ctx, cs_error *err) CS_WARN_UNUSED;

#endif
