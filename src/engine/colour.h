/* colour.h - lookup tables that turn an RGB pixel into the colour measures
 * the detectors use (luma, hue/saturation bin, log red-green ratio bin),
 * so the per-pixel loops do table reads instead of divisions and atan2.
 *
 * Threads: the tables are built once by cs_colour_tables() (thread-safe,
 * pthread_once) and read-only afterwards. */
#ifndef CS_ENGINE_COLOUR_H
#define CS_ENGINE_COLOUR_H

#include <stdint.h>

/* Hue bins: 12 bins of 10 degrees from -60 (magenta) to +60 (yellow),
 * centred on red, where blood, mucosa and bile differ; one bin for any
 * other hue (green, blue). Saturation: 4 bins. */
#define CS_HUE_BINS 13
#define CS_SAT_BINS 4
#define CS_HS_BINS (CS_HUE_BINS * CS_SAT_BINS)
/* log2((R+1)/(G+1)) in 1/32 steps from -2 to +6, clamped. */
#define CS_LRG_BINS 256
#define CS_LRG_MIN (-2.0f)
#define CS_LRG_STEP (8.0f / CS_LRG_BINS)

typedef struct cs_colour_tables {
    /* Indexed by (R>>3)<<10 | (G>>3)<<5 | (B>>3). */
    uint8_t hs_bin[32768];    /* hue*CS_SAT_BINS + sat, 0..CS_HS_BINS-1 */
    uint8_t sat_q[32768];     /* saturation * 255 */
    uint8_t lrg_bin[64 * 64]; /* indexed by (R>>2)<<6 | (G>>2) */
} cs_colour_tables;

const cs_colour_tables *cs_colour_tables_get(void);

static inline int cs_luma(const uint8_t *p) { return (77 * p[0] + 150 * p[1] + 29 * p[2]) >> 8; }

static inline int cs_rgb15(const uint8_t *p)
{
    return (p[0] >> 3) << 10 | (p[1] >> 3) << 5 | (p[2] >> 3);
}

static inline int cs_rg12(const uint8_t *p) { return (p[0] >> 2) << 6 | (p[1] >> 2); }

static inline float cs_lrg_value(int bin) { return CS_LRG_MIN + (bin + 0.5f) * CS_LRG_STEP; }

#endif
