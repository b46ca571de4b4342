/* test_server_login_limiter.c - the failed-login limiter (auth/limiter.h) with a
 * clock the test moves: per-pair delays that grow and are capped, another
 * address unaffected, a failure stamped after an attempt read the clock
 * refusing nothing within the free failures, IPv6 counted by its /64, a success clearing the pair,
 * the high per-address ceiling, bursts of refusals taken once quiet, and a
 * full table that evicts without losing a burst. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "server/auth/limiter.h"

#define T0 1700000000000LL

/* Fail `n` times, each one after any delay has run (the clock moves past
 * the longest delay first, so no attempt is refused); the time of the
 * last failure. */
static int64_t fail_n(cs_login_limiter *l, const char *user, const char *ip, int n, int64_t now)
{
    cs_login_burst ev;
    for (int i = 0; i < n; i++) {
        now += CS_LIMIT_PAIR_MAX_S * 1000;
        assert_int_equal(cs_limiter_admit(l, user, ip, now, &ev), 0);
        cs_limiter_failed(l, user, ip, now, &ev);
        assert_int_equal(ev.refused, 0);
    }
    return now;
}

static void test_pair_delay_grows_and_is_capped(void **state)
{
    (void)state;
    cs_login_limiter *l = cs_limiter_new();
    cs_login_burst ev;
    int64_t now = fail_n(l, "alice", "10.0.0.2", CS_LIMIT_PAIR_FREE, T0);
    assert_int_equal(cs_limiter_admit(l, "alice", "10.0.0.2", now, &ev), 0);
    int64_t prev = 0;
    for (int k = 1; k <= 14; k++) {
        now = fail_n(l, "alice", "10.0.0.2", 1, now);
        int64_t w = cs_limiter_admit(l, "alice", "10.0.0.2", now, &ev);
        int64_t want = (k < 10 ? (1LL << k) : CS_LIMIT_PAIR_MAX_S) * 1000;
        assert_int_equal(w, want);
        assert_true(w >= prev);
        prev = w;
    }
    assert_int_equal(prev, CS_LIMIT_PAIR_MAX_S * 1000);
    cs_limiter_free(l);
}

/* Logins run side by side: one reads the clock, another fails and is
 * stamped later, then the first is admitted. Within the free failures
 * nothing may refuse it (the old rule "last failure + no delay - now"
 * refused it for the difference: 429 to 1 of 48 logins at once). */
static void test_a_later_stamp_within_the_free_failures_refuses_nothing(void **state)
{
    (void)state;
    cs_login_limiter *l = cs_limiter_new();
    cs_login_burst ev;
    cs_limiter_failed(l, "flood-1", "10.0.0.5", T0 + 50, &ev);
    assert_int_equal(cs_limiter_admit(l, "flood-2", "10.0.0.5", T0, &ev), 0); /* the address */
    assert_int_equal(cs_limiter_admit(l, "flood-1", "10.0.0.5", T0, &ev), 0); /* the pair */
    assert_int_equal(ev.refused, 0);
    /* past the free failures the delay still runs from the last failure */
    int64_t now = fail_n(l, "flood-1", "10.0.0.5", CS_LIMIT_PAIR_FREE - 1, T0 + 50);
    assert_int_equal(cs_limiter_admit(l, "flood-1", "10.0.0.5", now, &ev), 0);
    cs_limiter_failed(l, "flood-1", "10.0.0.5", now, &ev);
    assert_int_equal(cs_limiter_admit(l, "flood-1", "10.0.0.5", now, &ev), 2000);
    cs_limiter_free(l);
}

static void test_other_address_not_blocked(void **state)
{
    (void)state;
    cs_login_limiter *l = cs_limiter_new();
    cs_login_burst ev;
    int64_t now = fail_n(l, "alice", "10.0.0.2", 12, T0);
    assert_true(cs_limiter_admit(l, "alice", "10.0.0.2", now, &ev) > 0);
    assert_int_equal(cs_limiter_admit(l, "alice", "10.0.0.1", now, &ev), 0);
    assert_int_equal(cs_limiter_admit(l, "bob", "10.0.0.2", now, &ev), 0);
    cs_limiter_free(l);
}

/* An IPv6 host may take any address of its /64: the counts follow the
 * /64, so fresh addresses there bring no fresh attempts; another /64 and
 * IPv4 are apart, and the burst names the /64. */
static void test_ipv6_counts_by_its_64(void **state)
{
    (void)state;
    cs_login_limiter *l = cs_limiter_new();
    cs_login_burst ev, b;
    char ip[64];
    int64_t now = T0;
    for (int i = 0; i <= CS_LIMIT_PAIR_FREE; i++) {
        snprintf(ip, sizeof ip, "2001:db8:0:1::%x", i + 1);
        now = fail_n(l, "alice", ip, 1, now);
    }
    assert_int_equal(cs_limiter_admit(l, "alice", "2001:db8:0:1:ffff:1:2:3", now, &ev), 2000);
    assert_int_equal(cs_limiter_admit(l, "alice", "2001:db8:0:2::1", now, &ev), 0);
    assert_int_equal(cs_limiter_admit(l, "alice", "10.0.0.1", now, &ev), 0);
    assert_true(cs_limiter_take_burst(l, now, true, &b));
    assert_string_equal(b.ip, "2001:db8:0:1::/64");
    assert_int_equal(b.refused, 1);
    /* A success anywhere in the /64 clears it. */
    cs_limiter_succeeded(l, "alice", "2001:db8:0:1::99", &ev);
    assert_int_equal(cs_limiter_admit(l, "alice", "2001:db8:0:1::5", now, &ev), 0);
    cs_limiter_free(l);
}

static void test_success_clears_pair(void **state)
{
    (void)state;
    cs_login_limiter *l = cs_limiter_new();
    cs_login_burst b;
    int64_t now = fail_n(l, "alice", "10.0.0.1", 5, T0);
    assert_true(cs_limiter_admit(l, "alice", "10.0.0.1", now, &b) > 0);
    now += cs_limiter_admit(l, "alice", "10.0.0.1", now, &b);
    assert_int_equal(cs_limiter_admit(l, "alice", "10.0.0.1", now, &b), 0);
    cs_limiter_succeeded(l, "alice", "10.0.0.1", &b);
    assert_int_equal(b.refused, 2); /* the two refusals above end with the pair */
    now = fail_n(l, "alice", "10.0.0.1", CS_LIMIT_PAIR_FREE, now);
    assert_int_equal(cs_limiter_admit(l, "alice", "10.0.0.1", now, &b), 0);
    cs_limiter_free(l);
}

static void test_address_ceiling_high_and_capped(void **state)
{
    (void)state;
    cs_login_limiter *l = cs_limiter_new();
    cs_login_burst ev;
    char name[32];
    int64_t now = T0;
    /* A ward: many people, each failing within their free attempts. */
    for (int i = 0; i < CS_LIMIT_ADDR_FREE; i++) {
        snprintf(name, sizeof name, "u%d", i);
        assert_int_equal(cs_limiter_admit(l, name, "10.9.9.9", now, &ev), 0);
        cs_limiter_failed(l, name, "10.9.9.9", now, &ev);
        now += 10;
    }
    assert_int_equal(cs_limiter_admit(l, "nurse", "10.9.9.9", now, &ev), 0);
    for (int i = 0; i < 20; i++) {
        snprintf(name, sizeof name, "spray%d", i);
        now += cs_limiter_admit(l, name, "10.9.9.9", now, &ev);
        cs_limiter_failed(l, name, "10.9.9.9", now, &ev);
    }
    int64_t w = cs_limiter_admit(l, "nurse", "10.9.9.9", now, &ev);
    assert_true(w > 0);
    assert_true(w <= CS_LIMIT_ADDR_MAX_S * 1000);
    assert_int_equal(cs_limiter_admit(l, "nurse", "10.9.9.10", now, &ev), 0);
    cs_limiter_free(l);
}

static void test_bursts_taken_when_quiet(void **state)
{
    (void)state;
    cs_login_limiter *l = cs_limiter_new();
    cs_login_burst b;
    int64_t now = fail_n(l, "alice", "10.0.0.2", 8, T0);
    for (int i = 0; i < 50; i++)
        assert_true(cs_limiter_admit(l, "alice", "10.0.0.2", now + i * 100, &b) > 0);
    int64_t last = now + 49 * 100;
    assert_false(cs_limiter_take_burst(l, last + 1, false, &b));
    assert_true(cs_limiter_take_burst(l, last + CS_LIMIT_BURST_QUIET_MS, false, &b));
    assert_int_equal(b.refused, 50);
    assert_int_equal(b.first_ms, now);
    assert_int_equal(b.last_ms, last);
    assert_string_equal(b.user, "alice");
    assert_string_equal(b.ip, "10.0.0.2");
    assert_false(cs_limiter_take_burst(l, last + CS_LIMIT_BURST_QUIET_MS, true, &b));
    /* `all` takes an open burst at once (shutdown, an audit query). */
    assert_true(cs_limiter_admit(l, "alice", "10.0.0.2", last + 200, &b) > 0);
    assert_true(cs_limiter_take_burst(l, last + 201, true, &b));
    assert_int_equal(b.refused, 1);
    cs_limiter_free(l);
}

static void test_full_table_evicts_and_hands_back_bursts(void **state)
{
    (void)state;
    cs_login_limiter *l = cs_limiter_new();
    cs_login_burst ev;
    int64_t now = fail_n(l, "alice", "10.0.0.2", 8, T0);
    assert_true(cs_limiter_admit(l, "alice", "10.0.0.2", now, &ev) > 0);
    uint64_t handed_back = 0;
    char name[32], ip[32];
    /* Many other pairs (from many addresses, so no address ceiling): the
     * table stays the same size, and alice's burst comes back once. */
    for (int i = 0; i < CS_LIMIT_PAIRS + 10; i++) {
        snprintf(name, sizeof name, "u%d", i);
        snprintf(ip, sizeof ip, "10.1.%d.%d", i / 250, i % 250);
        cs_limiter_failed(l, name, ip, now + 1 + i, &ev);
        handed_back += ev.refused;
    }
    assert_int_equal(handed_back, 1);
    cs_limiter_free(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pair_delay_grows_and_is_capped),
        cmocka_unit_test(test_a_later_stamp_within_the_free_failures_refuses_nothing),
        cmocka_unit_test(test_other_address_not_blocked),
        cmocka_unit_test(test_ipv6_counts_by_its_64),
        cmocka_unit_test(test_success_clears_pair),
        cmocka_unit_test(test_address_ceiling_high_and_capped),
        cmocka_unit_test(test_bursts_taken_when_quiet),
        cmocka_unit_test(test_full_table_evicts_and_hands_back_bursts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
