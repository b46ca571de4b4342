/* test_uplink_health.c - the hub's health report as JSON (uplink/health.h):
 * every value at its limits and one past them, the recorder's three states,
 * a message quoted as JSON text, made text the server takes (control
 * bytes, bad UTF-8) and cut at a character when too long, so that the
 * firmware's bad values are never sent and its message never holds a
 * report back. */
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
    return csu_health_json(&v, out, CSU_HEALTH_JSON_MAX);
}

static void values_at_their_limits_are_sent(void **state)
{
    (void)state;
    char j[CSU_HEALTH_JSON_MAX];
    assert_true(json_of(0, -150, 0, "recording", NULL, j));
    assert_string_equal(j, "{\"battery_pct\":0,\"signal_dbm\":-150,\"spool_used_pct\":0,"
                           "\"recorder\":\"recording\",\"message\":null}");
    assert_true(json_of(100, 0, 100, "stopped", NULL, j));
    assert_true(json_of(50, -70, 10, "error", NULL, j));
}

static void values_out_of_range_are_not(void **state)
{
    (void)state;
    char j[CSU_HEALTH_JSON_MAX];
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
    char j[CSU_HEALTH_JSON_MAX], longmsg[300];
    /* Control bytes become spaces (the server refuses them: a refused
     * report held back battery, spool and recorder state at every retry). */
    assert_true(json_of(50, -70, 10, "error", "card \"full\"\ncheck\tbelt", j));
    assert_non_null(strstr(j, "\"message\":\"card \\\"full\\\" check belt\""));
    /* bad UTF-8 becomes '?', good UTF-8 stays */
    assert_true(json_of(50, -70, 10, "error", "ok \xc3\xa9 bad \xff\xc3", j));
    assert_non_null(strstr(j, "\"message\":\"ok \xc3\xa9 bad ??\""));
    /* what a JSON parser refuses: overlong, surrogate, past U+10FFFF */
    assert_true(json_of(50, -70, 10, "error",
                        "a\xe0\x80\x80"
                        "b\xed\xa0\x80"
                        "c\xf4\x90\x80\x80"
                        "d",
                        j));
    assert_non_null(strstr(j, "\"message\":\"a???b???c????d\""));
    assert_true(json_of(50, -70, 10, "error", "\xe2\x82\xac\xf0\x9f\x98\x80", j)); /* kept */
    assert_non_null(strstr(j, "\"message\":\"\xe2\x82\xac\xf0\x9f\x98\x80\""));
    /* too long: cut to 255 bytes, at a character, and still sent */
    memset(longmsg, 'x', 256);
    longmsg[256] = '\0';
    assert_true(json_of(50, -70, 10, "error", longmsg, j));
    longmsg[255] = '\0';
    assert_non_null(strstr(j, longmsg));
    char x256[257];
    memset(x256, 'x', 256);
    x256[256] = '\0';
    assert_null(strstr(j, x256));
    memset(longmsg, 'x', 254);
    memcpy(longmsg + 254, "\xc3\xa9", 3); /* a 2-byte character across byte 255 */
    assert_true(json_of(50, -70, 10, "error", longmsg, j));
    assert_null(strstr(j, "\xc3"));
    /* the longest message escaped still fits */
    memset(longmsg, '"', 255);
    longmsg[255] = '\0';
    assert_true(json_of(100, -150, 100, "recording", longmsg, j));
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
