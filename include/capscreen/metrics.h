/* metrics.h - binary classification metrics for the bleeding detector:
 * confusion counts at a threshold, AUROC, and the best sensitivity at a
 * required specificity. Used by `capscreen eval-bleeding` and by the
 * training tool, so both report the same numbers the same way.
 *
 * Pure functions; the caller owns every array. */
#ifndef CAPSCREEN_METRICS_H
#define CAPSCREEN_METRICS_H

#include <stddef.h>

typedef struct cs_metrics {
    size_t n, tp, fp, tn, fn;
    double accuracy, sensitivity, specificity, precision, f1;
    double auroc;
    double threshold;
} cs_metrics;

/* labels[i] is 0 or 1; scores[i] higher means more likely 1. Predictions
 * are scores >= threshold. A ratio with an empty denominator (sensitivity
 * without positive frames, precision with none flagged...) is NaN, as is
 * AUROC with only one class present (JSON writers print null). */
void cs_metrics_compute(const float *scores, const int *labels, size_t n, double threshold,
                        cs_metrics *out);

/* Area under the ROC curve (ties counted half). */
double cs_auroc(const float *scores, const int *labels, size_t n);

/* The highest sensitivity reachable with specificity >= min_spec, and the
 * threshold that gives it (the smallest score threshold meeting min_spec). */
double cs_sensitivity_at_specificity(const float *scores, const int *labels, size_t n,
                                     double min_spec, double *threshold_out);

#endif
