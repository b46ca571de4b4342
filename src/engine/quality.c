/* quality.c - exposure, sharpness, visibility and the redundancy
 * signature, derived from the frame's scan (scan.c). */
#include "engine/features.h"

#include <math.h>
#include <string.h>

#include "engine/scan.h"

/* Frame-level verdicts. Set by looking at capsule frames (docs/engine.md);
 * no labelled quality data set exists yet to fit them. */
#define TOO_DARK_FRACTION 0.60f
#define TOO_DARK_MEAN 45.0f
#define TOO_BRIGHT_FRACTION 0.30f
#define BLUR_SHARPNESS 60.0f
#define SHARPNESS_SCALE 400.0f
#define READABLE_VISIBILITY 0.30f

const char *cs_exposure_name(cs_exposure e)
{
    switch (e) {
    case CS_EXPOSURE_OK: return "ok";
    case CS_EXPOSURE_TOO_DARK: return "too_dark";
    case CS_EXPOSURE_TOO_BRIGHT: return "too_bright";
    }
    return "unknown";
}

void cs_quality_from_scan(const cs_scan *s, cs_quality *q)
{
    /* Fractions are of the pixels inside the vignette; an all-black frame
     * has none, and comes out too dark with zero fractions. */
    const float n = s->inside ? (float)s->inside : 1.0f;
    memset(q, 0, sizeof *q);
    q->mean_luma = (float)s->sum_luma / n;
    q->dark_fraction = s->inside ? (float)s->dark / n : 1.0f;
    q->bright_fraction = (float)s->bright / n;
    if (q->dark_fraction > TOO_DARK_FRACTION || q->mean_luma < TOO_DARK_MEAN)
        q->exposure = CS_EXPOSURE_TOO_DARK;
    else if (q->bright_fraction > TOO_BRIGHT_FRACTION)
        q->exposure = CS_EXPOSURE_TOO_BRIGHT;
    else
        q->exposure = CS_EXPOSURE_OK;
    /* Variance of the Laplacian, scaled so frames analysed at different
     * sizes compare. */
    double var = 0;
    if (s->lap_n) {
        double m = s->lap_sum / s->lap_n;
        var = s->lap_sq / s->lap_n - m * m;
    }
    float scale =
        (float)(s->full_w < s->full_h ? s->full_w : s->full_h) / (float)CS_ANALYSIS_MIN_SIDE;
    q->sharpness = (float)var * scale * scale;
    q->sharpness_score = 1.0f - expf(-q->sharpness / SHARPNESS_SCALE);
    q->blurry = q->sharpness < BLUR_SHARPNESS;
    q->bubble_fraction = (float)s->bubble / n;
    q->debris_fraction = (float)s->debris / n;
    q->dark_lumen_fraction = q->dark_fraction;
    float vis = 1.0f - q->dark_fraction - q->debris_fraction - q->bubble_fraction;
    q->visibility = vis < 0 ? 0 : vis;
    q->readable =
        q->exposure == CS_EXPOSURE_OK && !q->blurry && q->visibility >= READABLE_VISIBILITY;
}

void cs_signature_from_scan(const cs_scan *s, uint8_t *sig)
{
    for (int c = 0; c < CS_SIG_GRID * CS_SIG_GRID; c++) {
        uint32_t cnt = s->sig_n[c];
        for (int k = 0; k < 3; k++)
            sig[3 * c + k] = (uint8_t)(cnt ? (s->sig_acc[3 * c + k] + cnt / 2) / cnt : 0);
    }
}

float cs_signature_distance(const uint8_t *a, const uint8_t *b)
{
    uint32_t d = 0;
    for (int i = 0; i < CS_SIG_LEN; i++)
        d += (uint32_t)(a[i] > b[i] ? a[i] - b[i] : b[i] - a[i]);
    return (float)d / CS_SIG_LEN;
}
