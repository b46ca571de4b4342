/* test_audit_repeat.c - the polled-list audit rule (server/audit/repeat.h):
 * the same viewer and list within the window is seen; another list, another
 * viewer, or the window running out is not; a full table evicts the viewer
 * recorded longest ago, who is audited again (never a change lost); a
 * viewer name too long for the table is always audited; the digest tells
 * field boundaries apart; the counting form hands the repeats it skipped to
 * the next entry. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "server/audit/repeat.h"

#define W 1000 /* window, ms */

static uint64_t digest_of(const char *a, const char *b)
{
    uint64_t h = cs_repeat_digest(CS_REPEAT_DIGEST_INIT, a, strlen(a) + 1);
    return cs_repeat_digest(h, b, strlen(b) + 1);
}

static void test_same_list_within_window_is_seen(void **state)
{
    (void)state;
    cs_repeat_table *t = cs_repeat_new(4);
    assert_non_null(t);
    assert_false(cs_repeat_seen(t, "s:abc", 7, 10000, W)); /* first answer: audited */
    assert_true(cs_repeat_seen(t, "s:abc", 7, 10500, W));  /* the 2 s poll: not again */
    assert_true(cs_repeat_seen(t, "s:abc", 7, 10999, W));
    /* the window counts from the audited answer, not the last poll */
    assert_false(cs_repeat_seen(t, "s:abc", 7, 11000, W));
    assert_true(cs_repeat_seen(t, "s:abc", 7, 11001, W));
    cs_repeat_free(t);
}

static void test_changed_list_or_other_viewer_is_audited(void **state)
{
    (void)state;
    cs_repeat_table *t = cs_repeat_new(4);
    assert_false(cs_repeat_seen(t, "s:abc", 7, 0, W));
    assert_false(cs_repeat_seen(t, "s:abc", 8, 10, W)); /* a patient added or corrected */
    assert_false(cs_repeat_seen(t, "s:abc", 7, 20, W)); /* and back: audited again */
    assert_false(cs_repeat_seen(t, "s:xyz", 7, 30, W)); /* another session */
    assert_true(cs_repeat_seen(t, "s:abc", 7, 40, W));
    assert_true(cs_repeat_seen(t, "s:xyz", 7, 40, W));
    /* a clock that went back is no reason to skip */
    assert_false(cs_repeat_seen(t, "s:xyz", 7, 5, W));
    cs_repeat_free(t);
}

static void test_full_table_evicts_oldest_and_loses_nothing(void **state)
{
    (void)state;
    cs_repeat_table *t = cs_repeat_new(2);
    assert_false(cs_repeat_seen(t, "a", 1, 0, W));
    assert_false(cs_repeat_seen(t, "b", 1, 1, W));
    assert_false(cs_repeat_seen(t, "c", 1, 2, W)); /* evicts a, the oldest */
    assert_true(cs_repeat_seen(t, "b", 1, 3, W));
    assert_true(cs_repeat_seen(t, "c", 1, 3, W));
    assert_false(cs_repeat_seen(t, "a", 1, 4, W)); /* forgotten: audited again (evicts b) */
    assert_false(cs_repeat_seen(t, "b", 1, 5, W));
    cs_repeat_free(t);
}

static void test_overlong_viewer_always_audited(void **state)
{
    (void)state;
    cs_repeat_table *t = cs_repeat_new(2);
    char v[CS_REPEAT_VIEWER_MAX + 8];
    memset(v, 'x', sizeof v - 1);
    v[sizeof v - 1] = '\0';
    assert_false(cs_repeat_seen(t, v, 1, 0, W));
    assert_false(cs_repeat_seen(t, v, 1, 1, W));
    cs_repeat_free(t);
}

static void test_digest_tells_fields_apart(void **state)
{
    (void)state;
    assert_int_not_equal(digest_of("ab", "c"), digest_of("a", "bc"));
    assert_int_equal(digest_of("ab", "c"), digest_of("ab", "c"));
    assert_int_not_equal(digest_of("Smith", "John"), digest_of("Smith", "Jon"));
}

/* The counting form, for collapsed refusals: each repeat within the
 * window is counted, and the next entry recorded gets the count (then it
 * starts again); a new viewer starts at 0. */
static void test_counted_repeats_are_handed_to_the_next_entry(void **state)
{
    (void)state;
    cs_repeat_table *t = cs_repeat_new(4);
    uint64_t skipped = 99;
    assert_false(cs_repeat_seen_counted(t, "ip:1", 7, 10000, W, &skipped));
    assert_int_equal(skipped, 0);
    for (int i = 1; i <= 5; i++)
        assert_true(cs_repeat_seen_counted(t, "ip:1", 7, 10000 + i * 100, W, &skipped));
    assert_false(cs_repeat_seen_counted(t, "ip:1", 7, 11000, W, &skipped)); /* window over */
    assert_int_equal(skipped, 5);
    assert_true(cs_repeat_seen_counted(t, "ip:1", 7, 11100, W, &skipped));
    assert_false(cs_repeat_seen_counted(t, "ip:1", 7, 12000, W, &skipped));
    assert_int_equal(skipped, 1); /* counted again from the last entry */
    assert_false(cs_repeat_seen_counted(t, "ip:2", 7, 12000, W, &skipped));
    assert_int_equal(skipped, 0);
    assert_false(cs_repeat_seen_counted(t, "ip:1", 8, 12100, W, NULL)); /* another route */
    cs_repeat_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_list_within_window_is_seen),
        cmocka_unit_test(test_changed_list_or_other_viewer_is_audited),
        cmocka_unit_test(test_full_table_evicts_oldest_and_loses_nothing),
        cmocka_unit_test(test_overlong_viewer_always_audited),
        cmocka_unit_test(test_digest_tells_fields_apart),
        cmocka_unit_test(test_counted_repeats_are_handed_to_the_next_entry),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
