/* summary.h - folds per-frame outcomes, in study order, into the study
 * summary JSON (schema: docs/summary-schema.md) and streams it out.
 *
 * Memory stays flat in study length: each frame is written as soon as its
 * redundant run closes (runs are capped at max_run frames), the reduced
 * view and the error list go to temporary files that are copied out at the
 * end, and the review ranking keeps only the top_n frames in a heap.
 *
 * Output is a pure function of the outcomes: no times, no thread counts,
 * so the summary is byte-identical however the study was processed.
 *
 * Threads: one thread per summary. Ownership: the summary does not own
 * `out`; cs_summary_free() accepts NULL. */
#ifndef CAPSCREEN_SUMMARY_H
#define CAPSCREEN_SUMMARY_H

#include <stdbool.h>
#include <stdio.h>

#include "capscreen/pipeline.h"

#define CS_SUMMARY_VERSION 1

typedef struct cs_summary_opts {
    const char *source_path;
    const char *source_type;
    const char *model_path;
    float threshold;
    int top_n;                     /* frames kept in ranked_for_review */
    float redundancy_distance;     /* signature distance joining a run */
    int max_run;                   /* longest run before it is split */
    const char *polyp_model_path;  /* NULL: "polyp_model" written with nulls */
    float polyp_threshold;         /* the one in use (a site's, or the weights') */
    float polyp_weights_threshold; /* the weights file's own */
    uint32_t polyp_weights_crc32c; /* the weights file's checksum: which weights */
    int polyp_networks;            /* networks in the weights file (1, or an ensemble's) */
    bool polyp_crops_in_score;     /* a version-4 file: its score also reads crops... */
    float polyp_crop_gate;         /* ...from this one-pass score ("crop_gate") */
} cs_summary_opts;

/* Sensible defaults for the fields above (paths left NULL). */
void cs_summary_opts_default(cs_summary_opts *o);

typedef struct cs_summary_counts {
    uint64_t frames, analysed, failed, readable, too_dark, too_bright, blurry;
    uint64_t bleeding, runs, redundant;
    uint64_t polyp; /* frames flagged for a polyp */
} cs_summary_counts;

typedef struct cs_summary cs_summary;

cs_status cs_summary_begin(FILE *out, const cs_summary_opts *opts, cs_summary **sum,
                           cs_error *err) CS_WARN_UNUSED;
/* Add the next outcome (a cs_outcome_sink). Errors: CS_ERR_IO on write. */
cs_status cs_summary_add(void *sum, const cs_outcome *o, cs_error *err);
/* Close the open run and write the remaining sections. */
cs_status cs_summary_finish(cs_summary *sum, cs_error *err) CS_WARN_UNUSED;
const cs_summary_counts *cs_summary_get_counts(const cs_summary *sum);
void cs_summary_free(cs_summary *sum);

#endif
