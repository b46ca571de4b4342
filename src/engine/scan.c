/* scan.c - the single pixel pass behind every per-frame measure. */
#include "engine/scan.h"

#include <stdlib.h>
#include <string.h>

/* Blood (strongly red and saturated), for the features; blood-like, a
 * little looser, for the box grid. See docs/engine.md. */
#define STRONG_RED_LRG 1.5f
#define STRONG_RED_SAT 128
#define BLOOD_LRG 1.3f
#define BLOOD_SAT 115
#define BLOOD_LUMA_MIN 15
/* Debris and bile are yellow-green: green close to red and above blue,
 * lit, coloured. */
#define DEBRIS_LRG 0.35f
#define DEBRIS_SAT 70
#define DEBRIS_LUMA_MIN 50
#define BUBBLE_LUMA_MIN 200
#define BUBBLE_SAT_MAX 60

void cs_scan_scratch_free(cs_scan_scratch *s)
{
    free(s->buf);
    s->buf = NULL;
    s->cap = 0;
}

int cs_lrg_bin_of(float v)
{
    int b = (int)((v - CS_LRG_MIN) / CS_LRG_STEP);
    return b < 0 ? 0 : b >= CS_LRG_BINS ? CS_LRG_BINS - 1 : b;
}

/* Flood from the image edge through dark pixels: that is the vignette. */
static void mark_border(const uint8_t *luma, int w, int h, uint8_t *border, int32_t *stack)
{
    int top = 0;
    memset(border, 0, (size_t)w * h);
    for (int x = 0; x < w; x++) {
        int a = x, b = (h - 1) * w + x;
        if (luma[a] < CS_BORDER_LUMA && !border[a]) {
            border[a] = 1;
            stack[top++] = a;
        }
        if (luma[b] < CS_BORDER_LUMA && !border[b]) {
            border[b] = 1;
            stack[top++] = b;
        }
    }
    for (int y = 0; y < h; y++) {
        int a = y * w, b = y * w + w - 1;
        if (luma[a] < CS_BORDER_LUMA && !border[a]) {
            border[a] = 1;
            stack[top++] = a;
        }
        if (luma[b] < CS_BORDER_LUMA && !border[b]) {
            border[b] = 1;
            stack[top++] = b;
        }
    }
    while (top > 0) {
        int i = stack[--top];
        int x = i % w;
        int nb[4] = {x > 0 ? i - 1 : -1, x < w - 1 ? i + 1 : -1, i >= w ? i - w : -1,
                     i < (h - 1) * w ? i + w : -1};
        for (int k = 0; k < 4; k++) {
            int j = nb[k];
            if (j >= 0 && !border[j] && luma[j] < CS_BORDER_LUMA) {
                border[j] = 1;
                stack[top++] = j;
            }
        }
    }
}

/* The bounding box of the pixels the border flood did not reach. */
static void lit_box(const uint8_t *border, int w, int h, cs_scan *s)
{
    int x0 = w, y0 = h, x1 = 0, y1 = 0;
    for (int y = 0; y < h; y++) {
        const uint8_t *b = border + (size_t)y * w;
        for (int x = 0; x < w; x++) {
            if (b[x])
                continue;
            x0 = x < x0 ? x : x0;
            x1 = x + 1 > x1 ? x + 1 : x1;
            y0 = y < y0 ? y : y0;
            y1 = y + 1;
        }
    }
    if (x1 <= x0 || y1 <= y0) {
        x0 = 0;
        y0 = 0;
        x1 = w;
        y1 = h;
    }
    s->lit_x0 = x0;
    s->lit_y0 = y0;
    s->lit_x1 = x1;
    s->lit_y1 = y1;
}

cs_status cs_scan_frame(const cs_image *img, cs_scan_scratch *scratch, cs_scan *s)
{
    const cs_colour_tables *t = cs_colour_tables_get();
    const int w = img->width, h = img->height;
    /* Colour statistics run on 2x2 blocks: the chroma of a 4:2:0 JPEG at
     * this scale has one sample per block anyway, and a quarter of the
     * iterations keeps the scan a fraction of the decode time. Luma-based
     * measures (border, sharpness) keep full resolution. */
    const int bw = w / 2, bh = h / 2;
    const size_t n = (size_t)w * h;
    /* stack[n] (int32), luma[n], border[n], three column->cell maps. */
    size_t need = n * sizeof(int32_t) + 2 * n + 3 * (size_t)bw;
    if (need > scratch->cap) {
        uint8_t *nb = realloc(scratch->buf, need);
        if (!nb)
            return CS_ERR_NOMEM;
        scratch->buf = nb;
        scratch->cap = need;
    }
    int32_t *stack = (int32_t *)scratch->buf;
    uint8_t *luma = scratch->buf + n * sizeof(int32_t);
    uint8_t *border = luma + n;
    uint8_t *col_cell = border + n, *col_grid = col_cell + bw, *col_sig = col_grid + bw;

    memset(s, 0, sizeof *s);
    s->w = bw;
    s->h = bh;
    s->full_w = w;
    s->full_h = h;
    for (size_t i = 0; i < n; i++)
        luma[i] = (uint8_t)cs_luma(img->rgb + 3 * i);
    mark_border(luma, w, h, border, stack);
    lit_box(border, w, h, s);
    for (int x = 0; x < bw; x++) {
        col_cell[x] = (uint8_t)(x * CS_FEAT_CELLS / bw);
        col_grid[x] = (uint8_t)(x * CS_BOX_GRID / bw);
        col_sig[x] = (uint8_t)(x * CS_SIG_GRID / bw);
    }
    const int strong_bin = cs_lrg_bin_of(STRONG_RED_LRG);
    const int blood_bin = cs_lrg_bin_of(BLOOD_LRG);
    const int debris_bin = cs_lrg_bin_of(DEBRIS_LRG);
    const size_t row = (size_t)w * 3;

    for (int by = 0; by < bh; by++) {
        const uint8_t *p0 = img->rgb + (size_t)(2 * by) * row, *p1 = p0 + row;
        const uint8_t *l0 = luma + (size_t)(2 * by) * w, *l1 = l0 + w;
        const uint8_t *b0 = border + (size_t)(2 * by) * w, *b1 = b0 + w;
        int cell_row = (by * CS_FEAT_CELLS / bh) * CS_FEAT_CELLS;
        int grid_row = (by * CS_BOX_GRID / bh) * CS_BOX_GRID;
        int sig_row = (by * CS_SIG_GRID / bh) * CS_SIG_GRID;
        for (int bx = 0; bx < bw; bx++, p0 += 6, p1 += 6, l0 += 2, l1 += 2, b0 += 2, b1 += 2) {
            uint8_t px[3];
            for (int k = 0; k < 3; k++)
                px[k] = (uint8_t)((p0[k] + p0[k + 3] + p1[k] + p1[k + 3] + 2) >> 2);
            const uint8_t *p = px;
            int sc = sig_row + col_sig[bx];
            s->sig_acc[3 * sc] += p[0];
            s->sig_acc[3 * sc + 1] += p[1];
            s->sig_acc[3 * sc + 2] += p[2];
            s->sig_n[sc]++;
            int g = grid_row + col_grid[bx];
            s->grid_n[g]++;
            /* A block is vignette when most of its pixels are. */
            if (b0[0] + b0[1] + b1[0] + b1[1] >= 3)
                continue;
            int Y = (l0[0] + l0[1] + l1[0] + l1[1] + 2) >> 2;
            int c15 = cs_rgb15(p);
            int lb = t->lrg_bin[cs_rg12(p)];
            int sat = t->sat_q[c15];
            s->inside++;
            s->sum_luma += (uint32_t)Y;
            s->grid_blood[g] += Y >= BLOOD_LUMA_MIN && lb >= blood_bin && sat >= BLOOD_SAT;
            if (Y < CS_DARK_LUMA) {
                s->dark++;
            } else {
                s->bright += Y > CS_BRIGHT_LUMA;
                if (Y > BUBBLE_LUMA_MIN && sat < BUBBLE_SAT_MAX)
                    s->bubble++;
                else if (lb < debris_bin && p[1] > p[2] && sat > DEBRIS_SAT && Y > DEBRIS_LUMA_MIN)
                    s->debris++;
            }
            if (Y < CS_VALID_LUMA_MIN || Y > CS_VALID_LUMA_MAX)
                continue;
            s->valid++;
            s->hs[t->hs_bin[c15]]++;
            s->lrg[lb]++;
            s->sat[sat >> 3]++;
            int strong = lb >= strong_bin && sat >= STRONG_RED_SAT;
            s->strong += (uint32_t)strong;
            s->dark_red += (uint32_t)(strong && Y < 80);
            int cell = cell_row + col_cell[bx];
            s->cell_n[cell]++;
            s->cell_lrg[cell] += (uint32_t)lb;
            s->cell_strong[cell] += (uint32_t)strong;
            s->sum_r += p[0];
            s->sum_g += p[1];
            s->sum_b += p[2];
            s->sum_y += (uint32_t)Y;
            s->sum_yy += (uint32_t)(Y * Y);
        }
    }

    /* Laplacian of luma where the pixel and its 4 neighbours are inside. */
    int64_t lsum = 0;
    uint64_t lsq = 0;
    for (int y = 1; y < h - 1; y++) {
        const uint8_t *l = luma + (size_t)y * w, *b = border + (size_t)y * w;
        for (int x = 1; x < w - 1; x++) {
            if (b[x] | b[x - 1] | b[x + 1] | b[x - w] | b[x + w])
                continue;
            int lap = l[x - 1] + l[x + 1] + l[x - w] + l[x + w] - 4 * l[x];
            lsum += lap;
            lsq += (uint64_t)(lap * lap);
            s->lap_n++;
        }
    }
    s->lap_sum = (double)lsum;
    s->lap_sq = (double)lsq;
    return CS_OK;
}
