/* test_uplink_health.c - the hub's health report as JSON (uplink/health.h):
 * every value at its limits and one past them, the recorder's three states,
 * a message quoted as JSON text and one too long refused, so that the
 * firmware's bad values are never sent. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "uplink/health.h"

static bool json_of(int battery, int signal, int spool, const char *rec, const char *msg, char *out)
{
    csu_hub_health v = {battery, signal, spool, rec, msg};
    return csu_health_json(&v, out, 512);
}

static void values_at_their_limits_are_sent(void **state)
{
    (void)state;
    char j[512];
    assert_true(json_of(0, -150, 0, "recording", NULL, j));
    assert_string_equal(j, "{\"battery_pct\":0,\"signal_dbm\":-150,\"spool_used_pct\":0,"
                           "\"recorder\":\"recording\",\"message\":null}");
    assert_true(json_of(100, 0, 100, "stopped", NULL, j));
    assert_true(json_of(50, -70, 10, "error", NULL, j));
}

static void values_out_of_range_are_not(void **state)
{
    (void)state;
    char j[512];
    assert_false(json_of(-1, -70, 10, "recording", NULL, j));
    assert_false(json_of(101, -70, 10, "recording", NULL, j));
    assert_false(json_of(50, -151, 10, "recording", NULL, j));
    assert_false(json_of(50, 1, 10, "recording", NULL, j));
    assert_false(json_of(50, -70, -1, "recording", NULL, j)); /* -1 is resolved before */
    assert_false(json_of(50, -70, 101, "recording", NULL, j));
    assert_false(json_of(50, -70, 10, "paused", NULL, j));
    assert_false(json_of(50, -70, 10, NULL, NULL, j));
}

static void the_message_is_quoted_and_capped(void **state)
{
    (void)state;
    char j[512], longmsg[300];
    assert_true(json_of(50, -70, 10, "error", "card \"full\"\n", j));
    assert_non_null(strstr(j, "\"message\":\"card \\\"full\\\"\\u000a\""));
    memset(longmsg, 'x', 256);
    longmsg[256] = '\0';
    assert_false(json_of(50, -70, 10, "error", longmsg, j));
    longmsg[255] = '\0';
    assert_true(json_of(50, -70, 10, "error", longmsg, j));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(values_at_their_limits_are_sent),
        cmocka_unit_test(values_out_of_range_are_not),
        cmocka_unit_test(the_message_is_quoted_and_capped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
