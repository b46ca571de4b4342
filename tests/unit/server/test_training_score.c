/* test_training_score.c - the training score's rule at its edges
 * (server/training/score.h, docs/training.md): overlap and adjacency
 * against the tolerance, a type mismatch never matches, one-to-one
 * matching independent of list order, missed and false findings listed,
 * sensitivity 0.5 with one of two found, landmark errors and missing or
 * extra landmarks, cleansing agreement, and the weighted kappa against
 * values worked by hand. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "server/training/score.h"

static cs_score_finding F(const char *type, uint64_t from, uint64_t to, int64_t id)
{
    cs_score_finding f;
    memset(&f, 0, sizeof f);
    snprintf(f.type, sizeof f.type, "%s", type);
    f.seq_from = from;
    f.seq_to = to;
    f.id = id;
    return f;
}

typedef struct run {
    size_t missed[16], false_idx[16], match_of_ref[16];
    cs_score_result r;
} run;

static void score(const cs_score_finding *ref, size_t nr, const cs_score_finding *mine, size_t nm,
                  uint64_t tol, run *o)
{
    memset(o, 0, sizeof *o);
    o->r.missed = o->missed;
    o->r.false_idx = o->false_idx;
    o->r.match_of_ref = o->match_of_ref;
    cs_score_case c = {
        .ref = ref, .n_ref = nr, .mine = mine, .n_mine = nm, .tolerance_frames = tol};
    assert_true(cs_score_case_run(&c, &o->r));
}

static void the_gap_is_zero_on_overlap_and_one_when_adjacent(void **state)
{
    (void)state;
    assert_int_equal(cs_score_gap(0, 2, 2, 5), 0); /* share frame 2 */
    assert_int_equal(cs_score_gap(0, 2, 3, 5), 1); /* adjacent */
    assert_int_equal(cs_score_gap(3, 5, 0, 2), 1); /* either order */
    assert_int_equal(cs_score_gap(0, 2, 10, 12), 8);
    assert_int_equal(cs_score_gap(4, 4, 0, 9), 0); /* inside */
}

static void overlap_adjacency_and_tolerance(void **state)
{
    (void)state;
    run o;
    cs_score_finding ref[] = {F("polyp", 10, 12, 1)};
    cs_score_finding overlapping[] = {F("polyp", 12, 20, 7)};
    cs_score_finding adjacent[] = {F("polyp", 13, 20, 7)};
    cs_score_finding five_away[] = {F("polyp", 17, 20, 7)};
    score(ref, 1, overlapping, 1, 0, &o);
    assert_int_equal(o.r.matched, 1);
    assert_int_equal(o.r.false_positives, 0);
    assert_true(o.r.sensitivity == 1.0);
    score(ref, 1, adjacent, 1, 0, &o); /* tolerance 0: adjacency is not overlap */
    assert_int_equal(o.r.matched, 0);
    assert_int_equal(o.r.n_missed, 1);
    assert_int_equal(o.r.false_positives, 1);
    score(ref, 1, adjacent, 1, 1, &o);
    assert_int_equal(o.r.matched, 1);
    score(ref, 1, five_away, 1, 4, &o); /* gap 5 */
    assert_int_equal(o.r.matched, 0);
    score(ref, 1, five_away, 1, 5, &o);
    assert_int_equal(o.r.matched, 1);
}

static void a_type_mismatch_never_matches(void **state)
{
    (void)state;
    run o;
    cs_score_finding ref[] = {F("polyp", 10, 12, 1)};
    cs_score_finding mine[] = {F("ulcer", 10, 12, 2)};
    score(ref, 1, mine, 1, 100, &o);
    assert_int_equal(o.r.matched, 0);
    assert_int_equal(o.r.n_missed, 1);
    assert_int_equal(o.missed[0], 0);
    assert_int_equal(o.r.false_positives, 1);
    assert_int_equal(o.false_idx[0], 0);
    assert_true(o.r.sensitivity == 0.0);
}

static void one_found_one_missed_is_half(void **state)
{
    (void)state;
    run o;
    cs_score_finding ref[] = {F("polyp", 10, 12, 1), F("fresh_blood", 100, 140, 2)};
    cs_score_finding mine[] = {F("polyp", 11, 11, 5), F("angioectasia", 300, 300, 6)};
    score(ref, 2, mine, 2, 0, &o);
    assert_int_equal(o.r.matched, 1);
    assert_true(o.r.sensitivity == 0.5);
    assert_int_equal(o.r.n_missed, 1);
    assert_int_equal(o.missed[0], 1); /* the blood */
    assert_int_equal(o.r.false_positives, 1);
    assert_int_equal(o.false_idx[0], 1);
    assert_int_equal(o.match_of_ref[0], 0);
    assert_int_equal(o.match_of_ref[1], SIZE_MAX);
}

static void matching_is_one_to_one_and_order_free(void **state)
{
    (void)state;
    run a, b;
    /* two references close together, one trainee finding between them:
     * it matches the one it overlaps, the other is missed */
    cs_score_finding ref[] = {F("polyp", 10, 10, 1), F("polyp", 14, 14, 2)};
    cs_score_finding mine[] = {F("polyp", 13, 14, 9)};
    score(ref, 2, mine, 1, 5, &a);
    assert_int_equal(a.r.matched, 1);
    assert_int_equal(a.match_of_ref[1], 0);
    assert_int_equal(a.missed[0], 0);
    cs_score_finding ref_rev[] = {ref[1], ref[0]};
    score(ref_rev, 2, mine, 1, 5, &b);
    assert_int_equal(b.match_of_ref[0], 0); /* still the one at 14 */
    assert_int_equal(b.missed[0], 1);
    /* two trainee findings on one reference: one matches, one is false */
    cs_score_finding one[] = {F("polyp", 10, 20, 1)};
    cs_score_finding two[] = {F("polyp", 12, 12, 3), F("polyp", 15, 15, 4)};
    score(one, 1, two, 2, 0, &a);
    assert_int_equal(a.r.matched, 1);
    assert_int_equal(a.r.false_positives, 1);
    /* no reference findings: sensitivity is undefined, not 0 or 1 */
    score(NULL, 0, two, 2, 0, &a);
    assert_true(isnan(a.r.sensitivity));
    assert_int_equal(a.r.false_positives, 2);
}

static void bad_ranges_are_refused(void **state)
{
    (void)state;
    size_t m[1], f[1], of[1];
    cs_score_result r = {.missed = m, .false_idx = f, .match_of_ref = of};
    cs_score_finding bad[] = {F("polyp", 12, 10, 1)};
    cs_score_finding ok[] = {F("polyp", 10, 12, 1)};
    cs_score_case c = {.ref = ok, .n_ref = 1, .mine = bad, .n_mine = 1};
    assert_false(cs_score_case_run(&c, &r));
}

static void landmarks_and_cleansing(void **state)
{
    (void)state;
    size_t m[1], f[1], of[1];
    cs_score_result r = {.missed = m, .false_idx = f, .match_of_ref = of};
    cs_score_landmark ref[] = {{"first_duodenal", 100}, {"first_caecal", 2000}, {"excreted", 5000}};
    cs_score_landmark mine[] = {
        {"first_caecal", 2030}, {"first_duodenal", 90}, {"first_gastric", 3}};
    cs_score_grade rg[] = {{"right_colon", 2}, {"transverse_colon", 3}, {"left_colon", 1}};
    cs_score_grade mg[] = {{"left_colon", 1}, {"right_colon", 3}, {"transverse_colon", -1}};
    cs_score_case c = {.ref_marks = ref,
                       .n_ref_marks = 3,
                       .my_marks = mine,
                       .n_my_marks = 3,
                       .ref_grades = rg,
                       .n_ref_grades = 3,
                       .my_grades = mg,
                       .n_my_grades = 3};
    assert_true(cs_score_case_run(&c, &r));
    assert_int_equal(r.landmarks_compared, 2);
    assert_true(fabs(r.landmark_error_mean - 20.0) < 1e-12); /* (10 + 30) / 2 */
    assert_int_equal(r.landmark_error_max, 30);
    assert_int_equal(r.landmarks_missing, 1); /* excreted */
    assert_int_equal(r.landmarks_extra, 1);   /* first_gastric */
    assert_int_equal(r.segments_compared, 2); /* transverse not scored by the trainee */
    assert_int_equal(r.segments_agreed, 1);   /* left colon */
}

static void weighted_kappa_by_hand(void **state)
{
    (void)state;
    int a[] = {0, 1, 2, 3}, same[] = {0, 1, 2, 3}, rev[] = {3, 2, 1, 0};
    assert_true(fabs(cs_score_weighted_kappa(a, same, 4) - 1.0) < 1e-12);
    /* Reversed: the observed mean weight is (1 + 1/9 + 1/9 + 1) / 4; with
     * uniform margins the expected mean weight is the sum over i, j of
     * (i - j)^2 / 9, over 16 cells: 40 / 144. */
    double k = cs_score_weighted_kappa(a, rev, 4);
    double obs = (1.0 + 1.0 / 9 + 1.0 / 9 + 1.0) / 4, exp_ = 40.0 / 144.0;
    assert_true(fabs(k - (1.0 - obs / exp_)) < 1e-12);
    assert_true(k < -0.5); /* systematic disagreement is worse than chance */
    int one[] = {3, 3, 3};
    assert_true(isnan(cs_score_weighted_kappa(one, one, 3))); /* no spread: undefined */
    assert_true(isnan(cs_score_weighted_kappa(a, same, 0)));
    /* one step off everywhere is far better than reversed */
    int b[] = {1, 2, 3, 3}, c[] = {0, 1, 2, 2};
    assert_true(cs_score_weighted_kappa(b, c, 4) > k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_gap_is_zero_on_overlap_and_one_when_adjacent),
        cmocka_unit_test(overlap_adjacency_and_tolerance),
        cmocka_unit_test(a_type_mismatch_never_matches),
        cmocka_unit_test(one_found_one_missed_is_half),
        cmocka_unit_test(matching_is_one_to_one_and_order_free),
        cmocka_unit_test(bad_ranges_are_refused),
        cmocka_unit_test(landmarks_and_cleansing),
        cmocka_unit_test(weighted_kappa_by_hand),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
