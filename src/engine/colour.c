/* colour.c - builds the colour lookup tables of colour.h once. */
#include "engine/colour.h"

#include <math.h>
#include <pthread.h>

static cs_colour_tables tables;
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

static void hue_sat(float r, float g, float b, float *hue, float *sat)
{
    float mx = fmaxf(r, fmaxf(g, b)), mn = fminf(r, fminf(g, b));
    float d = mx - mn;
    *sat = mx > 0 ? d / mx : 0;
    if (d <= 0) {
        *hue = 0;
        return;
    }
    float h;
    if (mx == r)
        h = 60.0f * fmodf((g - b) / d, 6.0f);
    else if (mx == g)
        h = 60.0f * ((b - r) / d + 2.0f);
    else
        h = 60.0f * ((r - g) / d + 4.0f);
    if (h > 180.0f)
        h -= 360.0f; /* -180..180, red at 0 */
    if (h <= -180.0f)
        h += 360.0f;
    *hue = h;
}

static void build(void)
{
    for (int i = 0; i < 32768; i++) {
        /* Centre of the 8-level cell. */
        float r = (float)((i >> 10) & 31) * 8 + 4;
        float g = (float)((i >> 5) & 31) * 8 + 4;
        float b = (float)(i & 31) * 8 + 4;
        float h, s;
        hue_sat(r, g, b, &h, &s);
        int hb = (h >= -60.0f && h < 60.0f) ? (int)((h + 60.0f) / 10.0f) : CS_HUE_BINS - 1;
        if (hb > CS_HUE_BINS - 2 && h < 60.0f)
            hb = CS_HUE_BINS - 2;
        int sb = (int)(s * CS_SAT_BINS);
        if (sb >= CS_SAT_BINS)
            sb = CS_SAT_BINS - 1;
        tables.hs_bin[i] = (uint8_t)(hb * CS_SAT_BINS + sb);
        tables.sat_q[i] = (uint8_t)lrintf(s * 255.0f);
    }
    for (int i = 0; i < 64 * 64; i++) {
        float r = (float)(i >> 6) * 4 + 2, g = (float)(i & 63) * 4 + 2;
        float v = log2f((r + 1) / (g + 1));
        int bin = (int)floorf((v - CS_LRG_MIN) / CS_LRG_STEP);
        if (bin < 0)
            bin = 0;
        if (bin >= CS_LRG_BINS)
            bin = CS_LRG_BINS - 1;
        tables.lrg_bin[i] = (uint8_t)bin;
    }
}

const cs_colour_tables *cs_colour_tables_get(void)
{
    pthread_once(&tables_once, build);
    return &tables;
}
