/* features.c - colour features of a frame for the bleeding classifier,
 * derived from the frame's scan (scan.c). */
#include "engine/features.h"

#include <math.h>
#include <string.h>

#include "engine/scan.h"

static float percentile(const uint32_t *hist, int bins, uint32_t total, float q, float lo,
                        float step)
{
    if (total == 0)
        return lo;
    uint32_t target = (uint32_t)(q * (float)(total - 1));
    uint32_t seen = 0;
    for (int i = 0; i < bins; i++) {
        seen += hist[i];
        if (seen > target)
            return lo + ((float)i + 0.5f) * step;
    }
    return lo + (float)bins * step;
}

cs_status cs_bleed_features(const cs_image *img, float *feat)
{
    cs_scan_scratch scratch = {0};
    cs_scan scan;
    cs_status st = cs_scan_frame(img, &scratch, &scan);
    if (st == CS_OK)
        cs_bleed_features_from_scan(&scan, feat);
    cs_scan_scratch_free(&scratch);
    return st;
}

void cs_bleed_features_from_scan(const cs_scan *s, float *feat)
{
    int f = 0;
    const float n = s->valid ? (float)s->valid : 1.0f;
    feat[f++] = (float)s->valid / (float)(s->w * s->h);
    for (int i = 0; i < CS_HS_BINS; i++)
        feat[f++] = (float)s->hs[i] / n;
    for (int i = 0; i < 16; i++) {
        uint32_t c = 0;
        for (int j = 0; j < CS_LRG_BINS / 16; j++)
            c += s->lrg[i * (CS_LRG_BINS / 16) + j];
        feat[f++] = (float)c / n;
    }
    static const float q[7] = {0.10f, 0.25f, 0.50f, 0.75f, 0.90f, 0.95f, 0.99f};
    for (int k = 0; k < 7; k++)
        feat[f++] = percentile(s->lrg, CS_LRG_BINS, s->valid, q[k], CS_LRG_MIN, CS_LRG_STEP);
    static const float qs[3] = {0.50f, 0.90f, 0.99f};
    for (int k = 0; k < 3; k++)
        feat[f++] = percentile(s->sat, 32, s->valid, qs[k], 0.0f, 8.0f / 255.0f);

    /* Chromaticity of the frame as ratios of sums (no per-pixel divide). */
    double rgb = (double)(s->sum_r + s->sum_g + s->sum_b) + 1.0;
    feat[f++] = (float)((double)s->sum_r / rgb);
    feat[f++] = (float)((double)s->sum_g / rgb);
    double m1 = 0, m2 = 0, sat_mean = 0;
    for (int i = 0; i < CS_LRG_BINS; i++) {
        double v = cs_lrg_value(i);
        m1 += v * s->lrg[i];
        m2 += v * v * s->lrg[i];
    }
    m1 /= n;
    feat[f++] = (float)sqrt(fmax(0.0, m2 / n - m1 * m1));
    for (int i = 0; i < 32; i++)
        sat_mean += (i + 0.5) * 8.0 / 255.0 * s->sat[i];
    feat[f++] = (float)(sat_mean / n);
    double my = (double)s->sum_y / n;
    feat[f++] = (float)(my / 255.0);
    feat[f++] = (float)(sqrt(fmax(0.0, (double)s->sum_yy / n - my * my)) / 255.0);

    /* Blood is often local: the reddest cells carry the signal. Cells with
     * too few valid pixels (border, glare) are left out. */
    const uint32_t min_cell = (uint32_t)(s->w * s->h / (CS_FEAT_CELLS * CS_FEAT_CELLS) / 4);
    float best = -2, second = -2, worst = 6, best_strong = 0;
    for (int c = 0; c < CS_FEAT_CELLS * CS_FEAT_CELLS; c++) {
        if (s->cell_n[c] < min_cell || s->cell_n[c] == 0)
            continue;
        float m = cs_lrg_value(0) + CS_LRG_STEP * (float)s->cell_lrg[c] / (float)s->cell_n[c];
        if (m > best) {
            second = best;
            best = m;
        } else if (m > second) {
            second = m;
        }
        if (m < worst)
            worst = m;
        float fs = (float)s->cell_strong[c] / (float)s->cell_n[c];
        if (fs > best_strong)
            best_strong = fs;
    }
    if (second < -1.5f)
        second = best;
    if (worst > 5.5f)
        worst = best;
    feat[f++] = best;
    feat[f++] = second;
    feat[f++] = worst;
    feat[f++] = best_strong;

    static const float thresholds[5] = {1.0f, 1.5f, 2.0f, 2.5f, 3.0f};
    for (int k = 0; k < 5; k++) {
        uint32_t above = 0;
        for (int i = cs_lrg_bin_of(thresholds[k]); i < CS_LRG_BINS; i++)
            above += s->lrg[i];
        feat[f++] = (float)above / n;
    }
    feat[f++] = (float)s->dark_red / n;
    feat[f++] = (float)s->strong / n;
}
