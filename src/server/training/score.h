/* score.h - scoring a trainee's read of a known-answer case against its
 * reference (issue 12, docs/training.md "Scoring"). Pure functions on
 * caller-owned arrays; any thread; no allocation except where a result
 * says so.
 *
 * The rule:
 *  - A trainee finding MATCHES a reference finding when their types agree
 *    and their frame ranges overlap or lie within `tolerance_frames` of
 *    each other (cs_score_gap: 0 when they share a frame, 1 when
 *    adjacent; tolerance 0 demands an overlap).
 *  - Matching is one to one: pairs are taken in order of the smallest gap,
 *    then the largest overlap, then the earliest reference and trainee
 *    finding, so the result does not depend on the order of the lists.
 *  - Reference findings left unmatched are MISSED; trainee findings left
 *    unmatched are FALSE POSITIVES.
 *  - Sensitivity = matched / reference findings (undefined, NaN, when the
 *    case has none). False positives are counted per case.
 *  - Landmark error: for each landmark both set, |trainee seq - reference
 *    seq| in frames; a landmark only one side set is counted as missing or
 *    extra, not as an error in frames.
 *  - Cleansing: per segment scored by both (CC-CLEAR 0-3), agreement is
 *    exact equality; across a trainee's cases the agreement is Cohen's
 *    kappa with quadratic weights over every (reference, trainee) pair. */
#ifndef CS_SERVER_TRAINING_SCORE_H
#define CS_SERVER_TRAINING_SCORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CS_SCORE_TYPE_MAX 32
#define CS_SCORE_KEY_MAX 32
#define CS_CC_CLEAR_LEVELS 4 /* scores 0..3 */

typedef struct cs_score_finding {
    char type[CS_SCORE_TYPE_MAX];
    uint64_t seq_from, seq_to; /* seq_from <= seq_to */
    int64_t id;                /* the caller's id, copied into the results */
} cs_score_finding;

typedef struct cs_score_landmark {
    char key[CS_SCORE_KEY_MAX]; /* e.g. "first_caecal" */
    int64_t seq;                /* < 0: not set */
} cs_score_landmark;

typedef struct cs_score_grade {
    char segment[CS_SCORE_KEY_MAX]; /* "right_colon", ... */
    int score;                      /* 0..3; < 0: not scored */
} cs_score_grade;

typedef struct cs_score_case {
    const cs_score_finding *ref, *mine;
    size_t n_ref, n_mine;
    const cs_score_landmark *ref_marks, *my_marks;
    size_t n_ref_marks, n_my_marks;
    const cs_score_grade *ref_grades, *my_grades;
    size_t n_ref_grades, n_my_grades;
    uint64_t tolerance_frames;
} cs_score_case;

typedef struct cs_score_result {
    size_t n_ref, matched, false_positives;
    double sensitivity; /* NaN when n_ref is 0 */
    /* indexes into ref[] of the missed findings, in ref[] order; the
     * caller's array of at least n_ref entries */
    size_t *missed;
    size_t n_missed;
    /* indexes into mine[] of the false positives, in mine[] order; at
     * least n_mine entries */
    size_t *false_idx;
    /* for each ref[i], the index into mine[] it matched, or SIZE_MAX */
    size_t *match_of_ref;
    /* landmarks: both set, mean and max |error| in frames; -1 when none */
    size_t landmarks_compared, landmarks_missing, landmarks_extra;
    double landmark_error_mean;
    int64_t landmark_error_max;
    /* cleansing: segments scored by both, and how many agreed exactly */
    size_t segments_compared, segments_agreed;
} cs_score_result;

/* The gap in frames between two ranges: 0 when they share a frame, else
 * the distance between their nearest frames (1 for adjacent ranges such
 * as 0-2 and 3-5). */
uint64_t cs_score_gap(uint64_t a_from, uint64_t a_to, uint64_t b_from, uint64_t b_to);

/* Score one case. `r`'s missed, false_idx and match_of_ref point to the
 * caller's arrays sized as documented above (may be NULL when n_ref /
 * n_mine is 0). Returns false (nothing scored) when an argument is bad: a
 * range with seq_from > seq_to, or more than 4096 findings on a side. */
bool cs_score_case_run(const cs_score_case *c, cs_score_result *r);

/* Cohen's kappa with quadratic weights between paired CC-CLEAR scores
 * a[i] (reference) and b[i] (trainee), each 0..3. NaN when n is 0 or when
 * the expected disagreement is 0 (both raters used one and the same
 * score throughout). */
double cs_score_weighted_kappa(const int *a, const int *b, size_t n);

#endif
