/* test_decimal.c - cs_parse_decimal: plain decimals in, everything else
 * strtod would take refused (decimal.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "capscreen/decimal.h"

static void plain_decimals_are_read(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        double want;
    } good[] = {{"0.5", 0.5},     {".5", 0.5},       {"5.", 5.0},
                {"0", 0.0},       {"1", 1.0},        {"5e-1", 0.5},
                {"5E-1", 0.5},    {"0.25e+0", 0.25}, {"0.178260222", 0.178260222},
                {"00.125", 0.125}};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        double v = -1;
        assert_true(cs_parse_decimal(good[i].text, &v));
        assert_true(v == good[i].want);
    }
}

static void everything_else_is_refused_and_out_untouched(void **state)
{
    (void)state;
    static const char *const bad[] = {"",     " 0.5", "0.5 ", "+0.5",   "-0.5",  "0x.8", "0x1p-1",
                                      "inf",  "nan",  "NaN",  ".",      "e5",    "5e",   "5e+",
                                      "0.5x", "1,5",  "1..2", "1e-400", "1e400", "0.5\n"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        double v = 42;
        assert_false(cs_parse_decimal(bad[i], &v));
        assert_true(v == 42);
    }
    double v = 42;
    assert_false(cs_parse_decimal(NULL, &v));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(plain_decimals_are_read),
        cmocka_unit_test(everything_else_is_refused_and_out_untouched),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
