/* test_uplink_sizer.c - PATCH sizes follow the measured throughput: they
 * start at 1 MiB, grow to about target_ms worth of the link's rate, never
 * pass the configured cap, halve after a failure, ignore short PATCHes, and
 * stay fixed when adaptation is off. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "uplink/sizer.h"

#define KIB 1024ull
#define MIB (1024ull * 1024ull)

/* Simulate PATCHes over a link of `rate` bytes/s with `overhead_ms` per
 * request (round trip + fsync); return the size after n of them. */
static uint64_t after_patches(csu_sizer *z, double rate, int overhead_ms, int n)
{
    for (int i = 0; i < n; i++) {
        uint64_t b = csu_sizer_bytes(z);
        csu_sizer_sent(z, b, (int64_t)(b / rate * 1000) + overhead_ms);
    }
    return csu_sizer_bytes(z);
}

static void starts_at_1_mib_or_the_cap_if_smaller(void **state)
{
    csu_sizer z;
    (void)state;
    csu_sizer_init(&z, 8 * MIB, 4000);
    assert_int_equal(csu_sizer_bytes(&z), 1 * MIB);
    csu_sizer_init(&z, 64 * KIB, 4000);
    assert_int_equal(csu_sizer_bytes(&z), 64 * KIB);
}

static void grows_to_target_duration_of_the_link_rate(void **state)
{
    csu_sizer z;
    (void)state;
    /* 20 Mbit/s = 2.5 MB/s, 150 ms per request, 4 s target: ~10 MB wanted,
     * but the cap is 16 MiB: settles near 2.5 MB/s * 4 s less overhead */
    csu_sizer_init(&z, 16 * MIB, 4000);
    uint64_t b = after_patches(&z, 2.5e6, 150, 8);
    assert_in_range(b, 9000000, 10000000);
    /* each PATCH then spends under 5% of its time on overhead */
    double t = b / 2.5e6;
    assert_true(t / (t + 0.150) > 0.95);
}

static void never_passes_the_cap(void **state)
{
    csu_sizer z;
    (void)state;
    csu_sizer_init(&z, 8 * MIB, 4000);
    assert_int_equal(after_patches(&z, 1e9, 1, 20), 8 * MIB);
}

static void grows_at_most_fourfold_per_patch(void **state)
{
    csu_sizer z;
    (void)state;
    csu_sizer_init(&z, 256 * MIB, 4000);
    csu_sizer_sent(&z, 1 * MIB, 1); /* "infinitely fast" */
    assert_int_equal(csu_sizer_bytes(&z), 4 * MIB);
}

static void slow_link_shrinks_to_the_floor_but_not_below(void **state)
{
    csu_sizer z;
    (void)state;
    csu_sizer_init(&z, 8 * MIB, 4000);
    after_patches(&z, 2.5e6, 100, 10);
    assert_true(csu_sizer_bytes(&z) > 4 * MIB);
    /* the link drops to 10 kB/s: a quarter per PATCH at most, down to 256 KiB */
    csu_sizer_sent(&z, csu_sizer_bytes(&z), 600000);
    assert_true(csu_sizer_bytes(&z) >= 1 * MIB);
    assert_int_equal(after_patches(&z, 1e4, 100, 10), 256 * KIB);
}

static void failure_halves_down_to_the_floor(void **state)
{
    csu_sizer z;
    (void)state;
    csu_sizer_init(&z, 8 * MIB, 4000);
    after_patches(&z, 1e9, 1, 10);
    assert_int_equal(csu_sizer_bytes(&z), 8 * MIB);
    csu_sizer_failed(&z);
    assert_int_equal(csu_sizer_bytes(&z), 4 * MIB);
    for (int i = 0; i < 10; i++)
        csu_sizer_failed(&z);
    assert_int_equal(csu_sizer_bytes(&z), 256 * KIB);
}

static void short_patches_change_nothing(void **state)
{
    csu_sizer z;
    (void)state;
    csu_sizer_init(&z, 8 * MIB, 4000);
    after_patches(&z, 2.5e6, 100, 10);
    uint64_t before = csu_sizer_bytes(&z);
    csu_sizer_sent(&z, 30 * KIB, 300); /* a live trickle: 100 kB/s */
    assert_int_equal(csu_sizer_bytes(&z), before);
}

static void target_zero_keeps_the_cap(void **state)
{
    csu_sizer z;
    (void)state;
    csu_sizer_init(&z, 256 * KIB, 0);
    assert_int_equal(csu_sizer_bytes(&z), 256 * KIB);
    csu_sizer_failed(&z);
    csu_sizer_sent(&z, 256 * KIB, 100000);
    assert_int_equal(csu_sizer_bytes(&z), 256 * KIB);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(starts_at_1_mib_or_the_cap_if_smaller),
        cmocka_unit_test(grows_to_target_duration_of_the_link_rate),
        cmocka_unit_test(never_passes_the_cap),
        cmocka_unit_test(grows_at_most_fourfold_per_patch),
        cmocka_unit_test(slow_link_shrinks_to_the_floor_but_not_below),
        cmocka_unit_test(failure_halves_down_to_the_floor),
        cmocka_unit_test(short_patches_change_nothing),
        cmocka_unit_test(target_zero_keeps_the_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
