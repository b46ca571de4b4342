/* score.c - the scoring rule of a training attempt (score.h). */
#include "server/training/score.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FINDINGS 4096

uint64_t cs_score_gap(uint64_t a_from, uint64_t a_to, uint64_t b_from, uint64_t b_to)
{
    if (a_to < b_from)
        return b_from - a_to;
    if (b_to < a_from)
        return a_from - b_to;
    return 0;
}

static uint64_t overlap(const cs_score_finding *a, const cs_score_finding *b)
{
    uint64_t lo = a->seq_from > b->seq_from ? a->seq_from : b->seq_from;
    uint64_t hi = a->seq_to < b->seq_to ? a->seq_to : b->seq_to;
    return hi >= lo ? hi - lo + 1 : 0;
}

typedef struct pair {
    size_t ref, mine;
    uint64_t gap, overlap;
} pair;

static int pair_cmp(const void *x, const void *y)
{
    const pair *a = x, *b = y;
    if (a->gap != b->gap)
        return a->gap < b->gap ? -1 : 1;
    if (a->overlap != b->overlap)
        return a->overlap > b->overlap ? -1 : 1;
    if (a->ref != b->ref)
        return a->ref < b->ref ? -1 : 1;
    return a->mine < b->mine ? -1 : a->mine > b->mine ? 1 : 0;
}

static bool valid(const cs_score_finding *f, size_t n)
{
    if (n > MAX_FINDINGS || (n > 0 && !f))
        return false;
    for (size_t i = 0; i < n; i++)
        if (f[i].seq_from > f[i].seq_to)
            return false;
    return true;
}

static const cs_score_landmark *mark_of(const cs_score_landmark *m, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(m[i].key, key) == 0 && m[i].seq >= 0)
            return &m[i];
    return NULL;
}

static const cs_score_grade *grade_of(const cs_score_grade *g, size_t n, const char *seg)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(g[i].segment, seg) == 0 && g[i].score >= 0 && g[i].score < CS_CC_CLEAR_LEVELS)
            return &g[i];
    return NULL;
}

/* The findings: candidate pairs sorted by the rule, taken greedily. */
static bool match_findings(const cs_score_case *c, cs_score_result *r)
{
    size_t cap = c->n_ref * c->n_mine, np = 0;
    pair *pairs = cap ? malloc(cap * sizeof *pairs) : NULL;
    bool *used = c->n_mine ? calloc(c->n_mine, sizeof *used) : NULL;
    if ((cap && !pairs) || (c->n_mine && !used)) {
        free(pairs);
        free(used);
        return false;
    }
    for (size_t i = 0; i < c->n_ref; i++) {
        r->match_of_ref[i] = SIZE_MAX;
        for (size_t j = 0; j < c->n_mine; j++) {
            const cs_score_finding *a = &c->ref[i], *b = &c->mine[j];
            if (strcmp(a->type, b->type) != 0)
                continue;
            uint64_t g = cs_score_gap(a->seq_from, a->seq_to, b->seq_from, b->seq_to);
            if (g > c->tolerance_frames)
                continue;
            pairs[np++] = (pair){i, j, g, overlap(a, b)};
        }
    }
    if (np > 1) /* qsort's array may not be NULL, even for no elements */
        qsort(pairs, np, sizeof *pairs, pair_cmp);
    for (size_t k = 0; k < np; k++) {
        if (r->match_of_ref[pairs[k].ref] != SIZE_MAX || used[pairs[k].mine])
            continue;
        r->match_of_ref[pairs[k].ref] = pairs[k].mine;
        used[pairs[k].mine] = true;
        r->matched++;
    }
    for (size_t i = 0; i < c->n_ref; i++)
        if (r->match_of_ref[i] == SIZE_MAX)
            r->missed[r->n_missed++] = i;
    for (size_t j = 0; j < c->n_mine; j++)
        if (!used[j])
            r->false_idx[r->false_positives++] = j;
    free(pairs);
    free(used);
    return true;
}

bool cs_score_case_run(const cs_score_case *c, cs_score_result *r)
{
    if (!c || !r || !valid(c->ref, c->n_ref) || !valid(c->mine, c->n_mine) ||
        (c->n_ref && (!r->missed || !r->match_of_ref)) || (c->n_mine && !r->false_idx))
        return false;
    r->n_ref = c->n_ref;
    r->matched = r->false_positives = r->n_missed = 0;
    if (!match_findings(c, r))
        return false;
    r->sensitivity = c->n_ref ? (double)r->matched / (double)c->n_ref : NAN;

    r->landmarks_compared = r->landmarks_missing = r->landmarks_extra = 0;
    r->landmark_error_mean = -1;
    r->landmark_error_max = -1;
    double sum = 0;
    for (size_t i = 0; i < c->n_ref_marks; i++) {
        const cs_score_landmark *ref = &c->ref_marks[i];
        if (ref->seq < 0)
            continue;
        const cs_score_landmark *mine = mark_of(c->my_marks, c->n_my_marks, ref->key);
        if (!mine) {
            r->landmarks_missing++;
            continue;
        }
        int64_t err = llabs(mine->seq - ref->seq);
        sum += (double)err;
        if (err > r->landmark_error_max)
            r->landmark_error_max = err;
        r->landmarks_compared++;
    }
    for (size_t i = 0; i < c->n_my_marks; i++)
        if (c->my_marks[i].seq >= 0 && !mark_of(c->ref_marks, c->n_ref_marks, c->my_marks[i].key))
            r->landmarks_extra++;
    if (r->landmarks_compared)
        r->landmark_error_mean = sum / (double)r->landmarks_compared;

    r->segments_compared = r->segments_agreed = 0;
    for (size_t i = 0; i < c->n_ref_grades; i++) {
        const cs_score_grade *ref = &c->ref_grades[i];
        if (ref->score < 0 || ref->score >= CS_CC_CLEAR_LEVELS)
            continue;
        const cs_score_grade *mine = grade_of(c->my_grades, c->n_my_grades, ref->segment);
        if (!mine)
            continue;
        r->segments_compared++;
        r->segments_agreed += mine->score == ref->score;
    }
    return true;
}

double cs_score_weighted_kappa(const int *a, const int *b, size_t n)
{
    enum { K = CS_CC_CLEAR_LEVELS };
    double obs[K][K] = {{0}}, ra[K] = {0}, rb[K] = {0};
    size_t used = 0;
    for (size_t i = 0; i < n; i++) {
        if (a[i] < 0 || a[i] >= K || b[i] < 0 || b[i] >= K)
            continue;
        obs[a[i]][b[i]] += 1;
        ra[a[i]] += 1;
        rb[b[i]] += 1;
        used++;
    }
    if (used == 0)
        return NAN;
    double num = 0, den = 0;
    for (int i = 0; i < K; i++)
        for (int j = 0; j < K; j++) {
            double w = (double)((i - j) * (i - j)) / (double)((K - 1) * (K - 1));
            num += w * obs[i][j] / (double)used;
            den += w * (ra[i] / (double)used) * (rb[j] / (double)used);
        }
    if (den == 0)
        return NAN;
    return 1.0 - num / den;
}
