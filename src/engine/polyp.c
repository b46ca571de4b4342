/* polyp.c - input resize, frame score and boxes of the polyp detector. */
#include "engine/polyp.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_OUT (CS_POLYP_MAX_IN / 2)
#define MIN_REGION_CELLS 3

/* Pillow's BOX coefficients for one output index: the input pixels whose
 * centres fall in the output pixel's footprint, equally weighted. */
static void box_span(int in, int out, int i, int *lo, int *hi)
{
    double scale = (double)in / out;
    double fs = scale > 1.0 ? scale : 1.0;
    double support = 0.5 * fs;
    double center = (i + 0.5) * scale;
    int xmin = (int)(center - support + 0.5);
    int xmax = (int)(center + support + 0.5);
    if (xmin < 0)
        xmin = 0;
    if (xmax > in)
        xmax = in;
    /* Pillow keeps x with -0.5 < (x + xmin - center + 0.5) / fs <= 0.5. */
    int a = xmax, b = xmin;
    for (int x = xmin; x < xmax; x++) {
        double t = (x - center + 0.5) / fs;
        if (t > -0.5 && t <= 0.5) {
            if (x < a)
                a = x;
            b = x + 1;
        }
    }
    if (a >= b) { /* cannot happen for in, out >= 1; keep one pixel */
        a = xmin < in ? xmin : in - 1;
        b = a + 1;
    }
    *lo = a;
    *hi = b;
}

void cs_polyp_input_rect(const cs_image *img, int x0, int y0, int w, int h, int side, float *tmp,
                         float *in)
{
    const int W = img->width, N = side;
    /* horizontal pass: h rows of N pixels */
    for (int x = 0; x < N; x++) {
        int lo, hi;
        box_span(w, N, x, &lo, &hi);
        float inv = 1.0f / (float)(hi - lo);
        for (int y = 0; y < h; y++) {
            const uint8_t *p = img->rgb + ((size_t)(y0 + y) * W + x0 + lo) * 3;
            float r = 0, g = 0, b = 0;
            for (int k = lo; k < hi; k++, p += 3) {
                r += p[0];
                g += p[1];
                b += p[2];
            }
            float *o = tmp + ((size_t)y * N + x) * 3;
            o[0] = r * inv;
            o[1] = g * inv;
            o[2] = b * inv;
        }
    }
    /* vertical pass, then normalise */
    for (int y = 0; y < N; y++) {
        int lo, hi;
        box_span(h, N, y, &lo, &hi);
        float inv = 1.0f / (float)(hi - lo);
        for (int x = 0; x < N; x++) {
            float r = 0, g = 0, b = 0;
            for (int k = lo; k < hi; k++) {
                const float *p = tmp + ((size_t)k * N + x) * 3;
                r += p[0];
                g += p[1];
                b += p[2];
            }
            float *o = in + ((size_t)y * N + x) * 3;
            o[0] = r * inv / 127.5f - 1.0f;
            o[1] = g * inv / 127.5f - 1.0f;
            o[2] = b * inv / 127.5f - 1.0f;
        }
    }
}

void cs_polyp_input(const cs_image *img, int side, float *tmp, float *in)
{
    cs_polyp_input_rect(img, 0, 0, img->width, img->height, side, tmp, in);
}

void cs_polyp_crop_rect(int width, int height, int k, int *x0, int *y0, int *w, int *h)
{
    /* centre, then the corners: top left, top right, bottom left, bottom right */
    static const int at[CS_POLYP_NCROPS][2] = {{1, 1}, {0, 0}, {2, 0}, {0, 2}, {2, 2}};
    *w = (int)lroundf((float)width * CS_POLYP_CROP_SHARE);
    *h = (int)lroundf((float)height * CS_POLYP_CROP_SHARE);
    if (*w < 1)
        *w = 1;
    if (*h < 1)
        *h = 1;
    *x0 = (width - *w) * at[k][0] / 2;
    *y0 = (height - *h) * at[k][1] / 2;
}

bool cs_polyp_reads_field(int width, int height, int x0, int y0, int x1, int y1)
{
    if (width < 1 || height < 1 || x0 < 0 || y0 < 0 || x1 > width || y1 > height || x1 <= x0 ||
        y1 <= y0)
        return false;
    float sw = (float)(x1 - x0) / (float)width, sh = (float)(y1 - y0) / (float)height;
    return (sw < CS_POLYP_FIELD_CROP || sh < CS_POLYP_FIELD_CROP) && sw >= CS_POLYP_FIELD_MIN &&
           sh >= CS_POLYP_FIELD_MIN;
}

float cs_heatmap_at(const float *map, int side, float u, float v)
{
    float x = u * (float)side - 0.5f, y = v * (float)side - 0.5f;
    int xi = (int)floorf(x), yi = (int)floorf(y);
    float fx = x - (float)xi, fy = y - (float)yi, acc = 0.0f;
    for (int dy = 0; dy < 2; dy++)
        for (int dx = 0; dx < 2; dx++) {
            int xx = xi + dx < 0 ? 0 : xi + dx >= side ? side - 1 : xi + dx;
            int yy = yi + dy < 0 ? 0 : yi + dy >= side ? side - 1 : yi + dy;
            acc += map[yy * side + xx] * (dx ? fx : 1.0f - fx) * (dy ? fy : 1.0f - fy);
        }
    return acc;
}

void cs_polyp_add_resampled(const float *src, int side, float u0, float v0, float su, float sv,
                            float *sum, float *count)
{
    for (int j = 0; j < side; j++)
        for (int i = 0; i < side; i++) {
            /* this cell's centre, in the part of the frame `src` covers */
            float cu = (((float)i + 0.5f) / (float)side - u0) / su;
            float cv = (((float)j + 0.5f) / (float)side - v0) / sv;
            if (cu < 0.0f || cv < 0.0f || cu >= 1.0f || cv >= 1.0f)
                continue;
            sum[j * side + i] += cs_heatmap_at(src, side, cu, cv);
            count[j * side + i] += 1.0f;
        }
}

/* Where pixel (y, x) of the image under mirror `t` comes from. */
static inline size_t mirror_source(int y, int x, int side, int t)
{
    int sy = (t & CS_POLYP_FLIP_Y) ? side - 1 - y : y;
    int sx = (t & CS_POLYP_FLIP_X) ? side - 1 - x : x;
    return (size_t)sy * (size_t)side + (size_t)sx;
}

void cs_polyp_mirror(const float *src, int side, int ch, int t, float *dst)
{
    for (int y = 0; y < side; y++)
        for (int x = 0; x < side; x++) {
            const float *s = src + mirror_source(y, x, side, t) * (size_t)ch;
            float *d = dst + ((size_t)y * side + x) * ch;
            for (int c = 0; c < ch; c++)
                d[c] = s[c];
        }
}

void cs_polyp_add_unmirrored(const float *src, int side, int t, float *acc)
{
    for (int y = 0; y < side; y++)
        for (int x = 0; x < side; x++)
            acc[mirror_source(y, x, side, t)] += src[(size_t)y * side + x];
}

float cs_polyp_score(const float *logits, int n, int topk)
{
    /* the topk largest, kept sorted descending in a small array */
    float top[64];
    int k = topk < 64 ? topk : 64, m = 0;
    if (k > n)
        k = n;
    for (int i = 0; i < n; i++) {
        float v = logits[i];
        if (m == k && v <= top[m - 1])
            continue;
        int j = m < k ? m++ : m - 1;
        while (j > 0 && top[j - 1] < v) {
            top[j] = top[j - 1];
            j--;
        }
        top[j] = v;
    }
    double s = 0;
    for (int i = 0; i < m; i++)
        s += top[i];
    return (float)(1.0 / (1.0 + exp(-(s / (m > 0 ? m : 1)))));
}

void cs_polyp_sigmoid(const float *logits, float *prob, int n)
{
    for (int i = 0; i < n; i++)
        prob[i] = (float)(1.0 / (1.0 + exp(-(double)logits[i])));
}

float cs_polyp_level(float peak) { return peak < 1.0f ? fminf(0.5f, 0.5f * peak) : 0.5f; }

typedef struct region {
    int x0, y0, x1, y1, cells;
    float peak;
    int peak_at;
} region;

static int region_before(const region *ra, const region *rb)
{
    if (ra->peak != rb->peak)
        return ra->peak > rb->peak;
    return ra->peak_at < rb->peak_at; /* the first in raster order */
}

/* Keep the CS_MAX_BOXES best regions, best first (a total order: peak_at
 * is unique), in `best` holding *n of them. */
static void keep_best(region *best, int *n, const region *r)
{
    int i = *n < CS_MAX_BOXES ? (*n)++ : CS_MAX_BOXES;
    if (i == CS_MAX_BOXES && !region_before(r, &best[CS_MAX_BOXES - 1]))
        return;
    if (i == CS_MAX_BOXES)
        i--;
    while (i > 0 && region_before(r, &best[i - 1])) {
        best[i] = best[i - 1];
        i--;
    }
    best[i] = *r;
}

/* The 4-connected region of cells >= level around `start`, into *r (its
 * bounding box, cell count and peak); marks its cells in `seen`. */
static void flood(const float *prob, int side, int start, float level, uint8_t *seen,
                  int16_t *queue, region *r)
{
    static const int dx[4] = {1, -1, 0, 0}, dy[4] = {0, 0, 1, -1};
    *r = (region){start % side, start / side, start % side, start / side, 0, prob[start], start};
    int head = 0, tail = 0;
    queue[tail++] = (int16_t)start;
    seen[start] = 1;
    while (head < tail) {
        int c = queue[head++], cx = c % side, cy = c / side;
        r->cells++;
        if (cx < r->x0)
            r->x0 = cx;
        if (cx > r->x1)
            r->x1 = cx;
        if (cy < r->y0)
            r->y0 = cy;
        if (cy > r->y1)
            r->y1 = cy;
        if (prob[c] > r->peak) {
            r->peak = prob[c];
            r->peak_at = c;
        }
        for (int d = 0; d < 4; d++) {
            int nx = cx + dx[d], ny = cy + dy[d];
            if (nx < 0 || ny < 0 || nx >= side || ny >= side)
                continue;
            int ni = ny * side + nx;
            if (!seen[ni] && prob[ni] >= level) {
                seen[ni] = 1;
                queue[tail++] = (int16_t)ni;
            }
        }
    }
}

int cs_polyp_boxes(const float *prob, int side, cs_box *boxes)
{
    const int OUT = side;
    uint8_t seen[MAX_OUT * MAX_OUT];
    int16_t queue[MAX_OUT * MAX_OUT];
    region best[CS_MAX_BOXES];
    int nreg = 0, peak_at = 0;
    if (side < 1 || side > MAX_OUT)
        return 0;
    for (int i = 1; i < OUT * OUT; i++)
        if (prob[i] > prob[peak_at])
            peak_at = i;
    float level = cs_polyp_level(prob[peak_at]);
    memset(seen, 0, (size_t)(OUT * OUT));
    for (int i = 0; i < OUT * OUT; i++) {
        if (seen[i] || prob[i] < level)
            continue;
        region r;
        flood(prob, OUT, i, level, seen, queue, &r);
        int holds_peak = r.peak_at == peak_at || prob[r.peak_at] == prob[peak_at];
        if (r.cells >= MIN_REGION_CELLS || holds_peak)
            keep_best(best, &nreg, &r);
    }
    /* Each box is the region's core: the cells around its peak at
     * CS_POLYP_CORE_CUT of that peak (never below the level that found it),
     * so a region that runs on into the tissue beside a polyp does not pull
     * the box's centre off it. */
    uint8_t core_seen[MAX_OUT * MAX_OUT];
    for (int i = 0; i < nreg; i++) {
        float cut = fmaxf(level, CS_POLYP_CORE_CUT * best[i].peak);
        memset(core_seen, 0, (size_t)(OUT * OUT));
        region core;
        flood(prob, OUT, best[i].peak_at, cut, core_seen, queue, &core);
        best[i].x0 = core.x0;
        best[i].y0 = core.y0;
        best[i].x1 = core.x1;
        best[i].y1 = core.y1;
    }
    for (int i = 0; i < nreg; i++) {
        boxes[i].x = (float)best[i].x0 / OUT;
        boxes[i].y = (float)best[i].y0 / OUT;
        boxes[i].w = (float)(best[i].x1 + 1 - best[i].x0) / OUT;
        boxes[i].h = (float)(best[i].y1 + 1 - best[i].y0) / OUT;
        boxes[i].score = best[i].peak;
    }
    return nreg;
}
