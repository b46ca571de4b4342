/* test_metrics.c - classification metrics (src/engine/metrics.c) on small
 * hand-computed examples: AUROC with and without ties, confusion counts and
 * ratios at a threshold, and the best sensitivity at a specificity. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>

#include <cmocka.h>

#include "capscreen/metrics.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define EPS 1e-12

/* A six-frame example used by several tests:
 *   score  0.9 0.8 0.7 0.6 0.3 0.2
 *   label   1   1   0   1   0   0 */
static const float six_scores[] = {0.9f, 0.8f, 0.7f, 0.6f, 0.3f, 0.2f};
static const int six_labels[] = {1, 1, 0, 1, 0, 0};

static void test_auroc_perfect_separation_is_one(void **state)
{
    (void)state;
    const float s[] = {0.1f, 0.2f, 0.3f, 0.7f, 0.8f, 0.9f};
    const int l[] = {0, 0, 0, 1, 1, 1};
    assert_float_equal(cs_auroc(s, l, N(s)), 1.0, EPS);
}

static void test_auroc_reversed_scores_is_zero(void **state)
{
    (void)state;
    const float s[] = {0.1f, 0.2f, 0.3f, 0.7f, 0.8f, 0.9f};
    const int l[] = {1, 1, 1, 0, 0, 0};
    assert_float_equal(cs_auroc(s, l, N(s)), 0.0, EPS);
}

static void test_auroc_all_ties_is_half(void **state)
{
    (void)state;
    const float s[] = {0.5f, 0.5f, 0.5f, 0.5f, 0.5f};
    const int l[] = {1, 0, 0, 1, 0};
    assert_float_equal(cs_auroc(s, l, N(s)), 0.5, EPS);
}

static void test_auroc_hand_example_is_three_quarters(void **state)
{
    (void)state;
    /* Positives 0.35 and 0.8 against negatives 0.1 and 0.4: 3 of 4 pairs. */
    const float s[] = {0.1f, 0.4f, 0.35f, 0.8f};
    const int l[] = {0, 0, 1, 1};
    assert_float_equal(cs_auroc(s, l, N(s)), 0.75, EPS);
}

static void test_auroc_counts_a_tied_pair_as_half(void **state)
{
    (void)state;
    /* Pairs: (0.5+ vs 0.5-) = 1/2, the other three won: 3.5 / 4. */
    const float s[] = {0.5f, 0.5f, 0.2f, 0.9f};
    const int l[] = {1, 0, 0, 1};
    assert_float_equal(cs_auroc(s, l, N(s)), 0.875, EPS);
}

static void test_auroc_does_not_depend_on_input_order(void **state)
{
    (void)state;
    const float a[] = {0.9f, 0.8f, 0.7f, 0.6f, 0.3f, 0.2f};
    const int la[] = {1, 1, 0, 1, 0, 0};
    const float b[] = {0.3f, 0.6f, 0.9f, 0.2f, 0.7f, 0.8f};
    const int lb[] = {0, 1, 1, 0, 0, 1};
    /* 8 of the 9 positive-negative pairs are ordered right. */
    assert_float_equal(cs_auroc(a, la, N(a)), 8.0 / 9.0, EPS);
    assert_float_equal(cs_auroc(b, lb, N(b)), 8.0 / 9.0, EPS);
}

static void test_auroc_with_one_class_is_nan(void **state)
{
    (void)state;
    const float s[] = {0.1f, 0.4f, 0.9f};
    const int pos[] = {1, 1, 1}, neg[] = {0, 0, 0};
    assert_true(isnan(cs_auroc(s, pos, N(s))));
    assert_true(isnan(cs_auroc(s, neg, N(s))));
    assert_true(isnan(cs_auroc(NULL, NULL, 0)));
    cs_metrics m;
    cs_metrics_compute(s, pos, N(s), 0.5, &m);
    assert_true(isnan(m.auroc));
}

/* A ratio whose denominator is empty cannot be computed: NaN (null in the
 * JSON), never a 0 that reads as a measured failure; the ratios that can be
 * computed still are. */
static void test_ratio_with_empty_denominator_is_nan(void **state)
{
    (void)state;
    const float s[] = {0.1f, 0.4f, 0.9f};
    const int pos[] = {1, 1, 1}, neg[] = {0, 0, 0};
    cs_metrics m;
    /* no positive frame, none flagged at 0.95 */
    cs_metrics_compute(s, neg, N(s), 0.95, &m);
    assert_true(isnan(m.sensitivity));
    assert_true(isnan(m.precision));
    assert_true(isnan(m.f1)); /* 2tp + fp + fn = 0 */
    assert_float_equal(m.specificity, 1.0, EPS);
    assert_float_equal(m.accuracy, 1.0, EPS);
    /* no negative frame: specificity undefined, the rest computed */
    cs_metrics_compute(s, pos, N(s), 0.5, &m);
    assert_true(isnan(m.specificity));
    assert_float_equal(m.sensitivity, 1.0 / 3.0, EPS);
    assert_float_equal(m.precision, 1.0, EPS);
    assert_float_equal(m.f1, 0.5, EPS);
    /* nothing at all: every ratio undefined */
    cs_metrics_compute(NULL, NULL, 0, 0.5, &m);
    assert_true(isnan(m.accuracy) && isnan(m.sensitivity) && isnan(m.specificity));
}

static void test_confusion_counts_and_ratios_at_threshold(void **state)
{
    (void)state;
    cs_metrics m;
    /* At 0.5 the top four are predicted positive: tp 3, fp 1, tn 2, fn 0. */
    cs_metrics_compute(six_scores, six_labels, N(six_scores), 0.5, &m);
    assert_int_equal(m.n, 6);
    assert_int_equal(m.tp, 3);
    assert_int_equal(m.fp, 1);
    assert_int_equal(m.tn, 2);
    assert_int_equal(m.fn, 0);
    assert_float_equal(m.accuracy, 5.0 / 6.0, EPS);
    assert_float_equal(m.sensitivity, 1.0, EPS);
    assert_float_equal(m.specificity, 2.0 / 3.0, EPS);
    assert_float_equal(m.precision, 3.0 / 4.0, EPS);
    assert_float_equal(m.f1, 6.0 / 7.0, EPS);
    assert_float_equal(m.threshold, 0.5, EPS);
    assert_float_equal(m.auroc, 8.0 / 9.0, EPS);

    /* At 0.75: tp 2, fp 0, tn 3, fn 1. */
    cs_metrics_compute(six_scores, six_labels, N(six_scores), 0.75, &m);
    assert_int_equal(m.tp, 2);
    assert_int_equal(m.fp, 0);
    assert_int_equal(m.tn, 3);
    assert_int_equal(m.fn, 1);
    assert_float_equal(m.precision, 1.0, EPS);
    assert_float_equal(m.sensitivity, 2.0 / 3.0, EPS);
    assert_float_equal(m.f1, 4.0 / 5.0, EPS);
}

static void test_score_equal_to_threshold_is_positive(void **state)
{
    (void)state;
    cs_metrics m;
    cs_metrics_compute(six_scores, six_labels, N(six_scores), 0.7f, &m);
    /* 0.9, 0.8 and 0.7 (== threshold) are predicted positive. */
    assert_int_equal(m.tp, 2);
    assert_int_equal(m.fp, 1);
    assert_int_equal(m.fn, 1);
    assert_int_equal(m.tn, 2);
}

static void test_empty_denominators_give_zero(void **state)
{
    (void)state;
    const float s[] = {0.1f, 0.2f};
    const int l[] = {0, 0};
    cs_metrics m;
    cs_metrics_compute(s, l, N(s), 0.5, &m);
    assert_int_equal(m.tn, 2);
    assert_float_equal(m.accuracy, 1.0, EPS);
    assert_float_equal(m.specificity, 1.0, EPS);
    assert_float_equal(m.sensitivity, 0.0, EPS); /* no positives */
    assert_float_equal(m.precision, 0.0, EPS);   /* nothing predicted */
    assert_float_equal(m.f1, 0.0, EPS);

    cs_metrics_compute(NULL, NULL, 0, 0.5, &m);
    assert_int_equal(m.n, 0);
    assert_float_equal(m.accuracy, 0.0, EPS);
    assert_true(isnan(m.auroc));
}

static void test_sensitivity_at_specificity_hand_example(void **state)
{
    (void)state;
    /* Lowering the threshold: 0.9 (sens 1/3, spec 1), 0.8 (2/3, 1),
     * 0.7 (2/3, 2/3), 0.6 (1, 2/3), 0.3 (1, 1/3), 0.2 (1, 0). */
    double thr = -1;
    assert_float_equal(cs_sensitivity_at_specificity(six_scores, six_labels, 6, 0.9, &thr),
                       2.0 / 3.0, EPS);
    assert_float_equal(thr, 0.8f, 1e-6);

    assert_float_equal(cs_sensitivity_at_specificity(six_scores, six_labels, 6, 0.6, &thr), 1.0,
                       EPS);
    assert_float_equal(thr, 0.6f, 1e-6);

    /* No constraint: full sensitivity at the smallest threshold. */
    assert_float_equal(cs_sensitivity_at_specificity(six_scores, six_labels, 6, 0.0, &thr), 1.0,
                       EPS);
    assert_float_equal(thr, 0.2f, 1e-6);

    /* The threshold it returns really gives that operating point. */
    cs_metrics m;
    cs_sensitivity_at_specificity(six_scores, six_labels, 6, 0.9, &thr);
    cs_metrics_compute(six_scores, six_labels, 6, thr, &m);
    assert_true(m.specificity >= 0.9);
    assert_float_equal(m.sensitivity, 2.0 / 3.0, EPS);

    /* NULL threshold_out is allowed. */
    assert_float_equal(cs_sensitivity_at_specificity(six_scores, six_labels, 6, 0.6, NULL), 1.0,
                       EPS);
}

static void test_sensitivity_at_specificity_with_tied_scores(void **state)
{
    (void)state;
    /* A tie group that holds a negative cannot be split: at 0.5 both the
     * positive and the negative come in together. */
    const float s[] = {0.9f, 0.5f, 0.5f, 0.1f};
    const int l[] = {1, 1, 0, 0};
    double thr = -1;
    assert_float_equal(cs_sensitivity_at_specificity(s, l, 4, 0.75, &thr), 0.5, EPS);
    assert_float_equal(thr, 0.9f, 1e-6);
    assert_float_equal(cs_sensitivity_at_specificity(s, l, 4, 0.5, &thr), 1.0, EPS);
    assert_float_equal(thr, 0.5f, 1e-6);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_auroc_perfect_separation_is_one),
        cmocka_unit_test(test_auroc_reversed_scores_is_zero),
        cmocka_unit_test(test_auroc_all_ties_is_half),
        cmocka_unit_test(test_auroc_hand_example_is_three_quarters),
        cmocka_unit_test(test_auroc_counts_a_tied_pair_as_half),
        cmocka_unit_test(test_auroc_does_not_depend_on_input_order),
        cmocka_unit_test(test_auroc_with_one_class_is_nan),
        cmocka_unit_test(test_ratio_with_empty_denominator_is_nan),
        cmocka_unit_test(test_confusion_counts_and_ratios_at_threshold),
        cmocka_unit_test(test_score_equal_to_threshold_is_positive),
        cmocka_unit_test(test_empty_denominators_give_zero),
        cmocka_unit_test(test_sensitivity_at_specificity_hand_example),
        cmocka_unit_test(test_sensitivity_at_specificity_with_tied_scores),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
