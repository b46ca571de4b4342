/* test_tus_headers.c - the tus header parsers accept what the spec allows
 * and refuse junk with a reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "server/tus/tus_headers.h"

static void offsets_are_plain_decimal_numbers(void **state)
{
    (void)state;
    uint64_t v = 7;
    cs_error e = {0};
    assert_int_equal(cs_tus_parse_u64("0", &v, &e), CS_OK);
    assert_int_equal(v, 0);
    assert_int_equal(cs_tus_parse_u64("9223372036854775807", &v, &e), CS_OK);
    assert_true(v == 9223372036854775807ULL);
    const char *junk[] = {"",
                          "-1",
                          "+1",
                          " 1",
                          "1 ",
                          "0x10",
                          "1e3",
                          "12abc",
                          "9223372036854775808",
                          "99999999999999999999",
                          "1.0"};
    for (size_t i = 0; i < sizeof junk / sizeof junk[0]; i++) {
        memset(&e, 0, sizeof e);
        assert_int_equal(cs_tus_parse_u64(junk[i], &v, &e), CS_ERR_CORRUPT);
        assert_true(e.msg[0] != '\0');
    }
}

static void metadata_pairs_are_decoded(void **state)
{
    (void)state;
    cs_tus_meta *m = calloc(1, sizeof *m);
    cs_error e = {0};
    assert_int_equal(
        cs_tus_parse_metadata(
            "filename d29ybGRfZG9taW5hdGlvbl9wbGFuLnBkZg==,is_confidential,study MTIz", m, &e),
        CS_OK);
    assert_int_equal(m->n, 3);
    assert_string_equal(cs_tus_meta_get(m, "filename"), "world_domination_plan.pdf");
    assert_string_equal(cs_tus_meta_get(m, "is_confidential"), "");
    assert_false(m->pairs[1].has_value);
    assert_string_equal(cs_tus_meta_get(m, "study"), "123");
    assert_null(cs_tus_meta_get(m, "missing"));
    assert_int_equal(cs_tus_parse_metadata("", m, &e), CS_OK);
    assert_int_equal(m->n, 0);
    free(m);
}

static void bad_metadata_is_refused(void **state)
{
    (void)state;
    cs_tus_meta *m = calloc(1, sizeof *m);
    cs_error e = {0};
    const char *bad[] = {"a !!!!",  "a YQ",    "a YQ==,a Yg==", "a YQ==,",
                         ",a YQ==", "a  YQ==", "k\x01 YQ==",    "a YQ==,,b Yg=="};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(cs_tus_parse_metadata(bad[i], m, &e), CS_ERR_CORRUPT);
    char *big = malloc(CS_TUS_HEADER_MAX + 10);
    memset(big, 'a', CS_TUS_HEADER_MAX + 9);
    big[CS_TUS_HEADER_MAX + 9] = '\0';
    assert_int_equal(cs_tus_parse_metadata(big, m, &e), CS_ERR_TOO_LARGE);
    free(big);
    free(m);
}

static void checksums_name_a_known_algorithm_and_a_digest_of_its_size(void **state)
{
    (void)state;
    cs_tus_checksum c;
    cs_error e = {0};
    /* sha1("abc") and sha256("abc") in base64 */
    assert_int_equal(cs_tus_parse_checksum("sha1 qZk+NkcGgWq6PiVxeFDCbJzQ2J0=", &c, &e), CS_OK);
    assert_int_equal(c.algo, CS_TUS_SHA1);
    assert_int_equal(c.len, 20);
    assert_int_equal(c.digest[0], 0xa9);
    assert_int_equal(
        cs_tus_parse_checksum("sha256 ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=", &c, &e),
        CS_OK);
    assert_int_equal(c.algo, CS_TUS_SHA256);
    assert_int_equal(cs_tus_parse_checksum("md5 kAFQmDzST7DWlj99KOF/cg==", &c, &e),
                     CS_ERR_UNSUPPORTED);
    assert_int_equal(cs_tus_parse_checksum("sha1 AAAA", &c, &e), CS_ERR_CORRUPT);
    assert_int_equal(cs_tus_parse_checksum("sha1", &c, &e), CS_ERR_CORRUPT);
    assert_int_equal(cs_tus_parse_checksum(" sha1 qZk+NkcGgWq6PiVxeFDCbJzQ2J0=", &c, &e),
                     CS_ERR_CORRUPT);
    assert_int_equal(cs_tus_parse_checksum("sha1 qZk+NkcGgWq6PiVxeFDCbJzQ2J0", &c, &e),
                     CS_ERR_CORRUPT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(offsets_are_plain_decimal_numbers),
        cmocka_unit_test(metadata_pairs_are_decoded),
        cmocka_unit_test(bad_metadata_is_refused),
        cmocka_unit_test(checksums_name_a_known_algorithm_and_a_digest_of_its_size),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
