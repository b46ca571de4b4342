/* metrics.c - confusion counts, AUROC and operating points. */
#include "capscreen/metrics.h"

#include <math.h>
#include <stdlib.h>

typedef struct scored {
    float score;
    int label;
} scored;

static int by_score_desc(const void *a, const void *b)
{
    const scored *x = a, *y = b;
    return (x->score < y->score) - (x->score > y->score);
}

static scored *sorted_desc(const float *scores, const int *labels, size_t n)
{
    scored *s = malloc((n ? n : 1) * sizeof *s);
    if (!s)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        s[i].score = scores[i];
        s[i].label = labels[i] != 0;
    }
    qsort(s, n, sizeof *s, by_score_desc);
    return s;
}

double cs_auroc(const float *scores, const int *labels, size_t n)
{
    scored *s = sorted_desc(scores, labels, n);
    if (!s)
        return NAN;
    double pos = 0, neg = 0, area = 0, tp = 0;
    for (size_t i = 0; i < n; i++)
        pos += s[i].label;
    neg = (double)n - pos;
    /* Walk groups of tied scores; each negative scores against the
     * positives strictly above it, plus half the tied positives. */
    for (size_t i = 0; i < n;) {
        size_t j = i;
        double gp = 0, gn = 0;
        while (j < n && s[j].score == s[i].score) {
            gp += s[j].label;
            gn += !s[j].label;
            j++;
        }
        area += gn * (tp + gp / 2);
        tp += gp;
        i = j;
    }
    free(s);
    if (pos == 0 || neg == 0)
        return NAN;
    return area / (pos * neg);
}

void cs_metrics_compute(const float *scores, const int *labels, size_t n, double threshold,
                        cs_metrics *m)
{
    *m = (cs_metrics){0};
    m->n = n;
    m->threshold = threshold;
    for (size_t i = 0; i < n; i++) {
        int pred = scores[i] >= threshold, truth = labels[i] != 0;
        m->tp += pred && truth;
        m->fp += pred && !truth;
        m->tn += !pred && !truth;
        m->fn += !pred && truth;
    }
    /* An empty denominator (no positive frame, nothing flagged...) has no
     * ratio: NaN, which the JSON writers print as null, never a 0 that
     * reads as a measured failure. */
#define RATIO(a, b) ((b) ? (double)(a) / (double)(b) : NAN)
    m->accuracy = RATIO(m->tp + m->tn, n);
    m->sensitivity = RATIO(m->tp, m->tp + m->fn);
    m->specificity = RATIO(m->tn, m->tn + m->fp);
    m->precision = RATIO(m->tp, m->tp + m->fp);
    m->f1 = RATIO(2 * m->tp, 2 * m->tp + m->fp + m->fn);
#undef RATIO
    m->auroc = cs_auroc(scores, labels, n);
}

double cs_sensitivity_at_specificity(const float *scores, const int *labels, size_t n,
                                     double min_spec, double *threshold_out)
{
    scored *s = sorted_desc(scores, labels, n);
    double pos = 0, neg, best = 0, best_thr = INFINITY;
    if (!s)
        return 0;
    for (size_t i = 0; i < n; i++)
        pos += s[i].label;
    neg = (double)n - pos;
    double tp = 0, fp = 0;
    /* Lower the threshold one tie group at a time. */
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && s[j].score == s[i].score) {
            tp += s[j].label;
            fp += !s[j].label;
            j++;
        }
        /* tn / neg, as cs_metrics_compute counts it (1 - fp / neg can land
         * one rounding step below it and miss an exact target). */
        double spec = neg > 0 ? (neg - fp) / neg : 1.0;
        if (spec >= min_spec) {
            double sens = pos > 0 ? tp / pos : 0;
            if (sens >= best) {
                best = sens;
                best_thr = s[i].score;
            }
        }
        i = j;
    }
    free(s);
    if (threshold_out)
        *threshold_out = best_thr;
    return best;
}
