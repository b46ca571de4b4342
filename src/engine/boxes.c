/* boxes.c - bleeding regions: blood-coloured grid cells joined into boxes. */
#include "engine/features.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/scan.h"

#define GRID CS_BOX_GRID
/* A cell is blood when this share of its blocks is blood coloured (a cell
 * is 2x2 blocks at 80 px analysis size, so: at least one block). */
#define CELL_BLOOD_SHARE 0.2f
/* Gap filling: passes in which an unmarked cell with at least two marked
 * neighbours joins, so a patchy bleed becomes one region, as a reader
 * (and the data set's annotators) would outline it. */
#define FILL_PASSES 2
/* Regions smaller than this many cells are noise (specks, vessels). */
#define MIN_REGION_CELLS 3
/* These values were chosen on the data set's annotated boxes: see
 * docs/engine.md for the sweep and the resulting recall and precision. */

typedef struct region {
    int x0, y0, x1, y1, cells;
    float share;
} region;

static int region_cmp(const void *a, const void *b)
{
    const region *ra = a, *rb = b;
    if (ra->cells != rb->cells)
        return rb->cells - ra->cells;
    /* Stable order for equal sizes: top-left first. */
    return (ra->y0 * GRID + ra->x0) - (rb->y0 * GRID + rb->x0);
}

int cs_bleed_boxes(const cs_scan *s, cs_box *boxes)
{
    float share[GRID * GRID];
    uint8_t mark[GRID * GRID];
    int16_t queue[GRID * GRID];
    region found[GRID * GRID];
    int n_found = 0;

    for (int c = 0; c < GRID * GRID; c++) {
        share[c] = s->grid_n[c] ? (float)s->grid_blood[c] / (float)s->grid_n[c] : 0.0f;
        mark[c] = share[c] >= CELL_BLOOD_SHARE;
    }
    for (int pass = 0; pass < FILL_PASSES; pass++) {
        uint8_t before[GRID * GRID];
        memcpy(before, mark, sizeof before);
        for (int c = 0; c < GRID * GRID; c++) {
            if (before[c])
                continue;
            int cx = c % GRID, cy = c / GRID, marked = 0;
            for (int dy = -1; dy <= 1; dy++)
                for (int dx = -1; dx <= 1; dx++) {
                    int nx = cx + dx, ny = cy + dy;
                    if (nx >= 0 && ny >= 0 && nx < GRID && ny < GRID)
                        marked += before[ny * GRID + nx];
                }
            mark[c] = marked >= 2;
        }
    }
    for (int start = 0; start < GRID * GRID; start++) {
        if (!mark[start])
            continue;
        region r = {GRID, GRID, -1, -1, 0, 0};
        int head = 0, tail = 0;
        queue[tail++] = (int16_t)start;
        mark[start] = 0;
        while (head < tail) {
            int c = queue[head++], cx = c % GRID, cy = c / GRID;
            r.cells++;
            r.share += share[c];
            if (cx < r.x0)
                r.x0 = cx;
            if (cy < r.y0)
                r.y0 = cy;
            if (cx > r.x1)
                r.x1 = cx;
            if (cy > r.y1)
                r.y1 = cy;
            for (int dy = -1; dy <= 1; dy++)
                for (int dx = -1; dx <= 1; dx++) {
                    int nx = cx + dx, ny = cy + dy;
                    if (nx < 0 || ny < 0 || nx >= GRID || ny >= GRID)
                        continue;
                    int nc = ny * GRID + nx;
                    if (mark[nc]) {
                        mark[nc] = 0;
                        queue[tail++] = (int16_t)nc;
                    }
                }
        }
        if (r.cells >= MIN_REGION_CELLS)
            found[n_found++] = r;
    }
    qsort(found, (size_t)n_found, sizeof found[0], region_cmp);
    int n = n_found < CS_MAX_BOXES ? n_found : CS_MAX_BOXES;
    for (int i = 0; i < n; i++) {
        boxes[i].x = (float)found[i].x0 / GRID;
        boxes[i].y = (float)found[i].y0 / GRID;
        boxes[i].w = (float)(found[i].x1 - found[i].x0 + 1) / GRID;
        boxes[i].h = (float)(found[i].y1 - found[i].y0 + 1) / GRID;
        boxes[i].score = found[i].share / (float)found[i].cells;
    }
    return n;
}

/* One axis of cs_box_pixels: edges [lo, hi) rounded and kept inside
 * [0, size], at least one pixel wide when size > 0. */
static void edge_pixels(float start, float len, int size, long *at, long *extent)
{
    long lo = lroundf(start * (float)size), hi = lroundf((start + len) * (float)size);
    lo = lo < 0 ? 0 : lo > size ? size : lo;
    hi = hi < 0 ? 0 : hi > size ? size : hi;
    if (size > 0 && hi <= lo) {
        if (lo >= size)
            lo = size - 1;
        hi = lo + 1;
    }
    *at = lo;
    *extent = hi - lo;
}

void cs_box_pixels(const cs_box *b, int width, int height, long out[4])
{
    edge_pixels(b->x, b->w, width, &out[0], &out[2]);
    edge_pixels(b->y, b->h, height, &out[1], &out[3]);
}
