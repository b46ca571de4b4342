/* test_uplink_backoff.c - retry delays stay within the doubling window,
 * are capped, spread over the window (full jitter), and reset on success. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "uplink/backoff.h"

static void first_retry_waits_the_minimum(void **state)
{
    csu_backoff b;
    (void)state;
    csu_backoff_init(&b, 1000, 60000, 42);
    assert_int_equal(csu_backoff_fail(&b), 1000);
}

static void nth_retry_stays_within_min_and_doubling_ceiling(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed < 200; seed++) {
        csu_backoff b;
        uint64_t ceil = 1000;
        csu_backoff_init(&b, 1000, 60000, seed);
        for (int n = 1; n <= 20; n++) {
            uint32_t d = csu_backoff_fail(&b);
            assert_true(d >= 1000);
            assert_true(d <= ceil);
            assert_true(d <= 60000);
            ceil = ceil * 2 > 60000 ? 60000 : ceil * 2;
        }
    }
}

static void delays_at_the_cap_spread_over_the_whole_window(void **state)
{
    csu_backoff b;
    uint32_t lo = UINT32_MAX, hi = 0;
    uint32_t buckets[10] = {0};
    (void)state;
    csu_backoff_init(&b, 1000, 60000, 7);
    for (int i = 0; i < 10; i++)
        csu_backoff_fail(&b); /* reach the cap */
    for (int i = 0; i < 10000; i++) {
        uint32_t d = csu_backoff_fail(&b);
        lo = d < lo ? d : lo;
        hi = d > hi ? d : hi;
        buckets[(d - 1000) * 10 / 59001]++;
    }
    assert_true(lo < 1000 + 600);  /* reaches the bottom ... */
    assert_true(hi > 60000 - 600); /* ... and the top of the window */
    for (int i = 0; i < 10; i++)   /* roughly uniform: 1000 expected each */
        assert_in_range(buckets[i], 800, 1200);
}

static void success_resets_to_the_minimum(void **state)
{
    csu_backoff b;
    (void)state;
    csu_backoff_init(&b, 500, 8000, 3);
    for (int i = 0; i < 8; i++)
        csu_backoff_fail(&b);
    csu_backoff_reset(&b);
    assert_int_equal(csu_backoff_fail(&b), 500);
}

static void different_seeds_do_not_retry_in_step(void **state)
{
    csu_backoff a, b;
    int same = 0;
    (void)state;
    csu_backoff_init(&a, 1000, 60000, 11);
    csu_backoff_init(&b, 1000, 60000, 12);
    for (int i = 0; i < 30; i++)
        same += csu_backoff_fail(&a) == csu_backoff_fail(&b);
    assert_true(same < 5); /* the first is 1000 for both, the rest differ */
}

static void odd_bounds_are_made_sane(void **state)
{
    csu_backoff b;
    (void)state;
    csu_backoff_init(&b, 0, 0, 0);
    for (int i = 0; i < 5; i++)
        assert_int_equal(csu_backoff_fail(&b), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(first_retry_waits_the_minimum),
        cmocka_unit_test(nth_retry_stays_within_min_and_doubling_ceiling),
        cmocka_unit_test(delays_at_the_cap_spread_over_the_whole_window),
        cmocka_unit_test(success_resets_to_the_minimum),
        cmocka_unit_test(different_seeds_do_not_retry_in_step),
        cmocka_unit_test(odd_bounds_are_made_sane),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
