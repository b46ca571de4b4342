/* test_uplink_sha256.c - SHA-256 against the FIPS 180-2 examples, fed whole
 * and in odd pieces, and base64 against RFC 4648. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "uplink/base64.h"
#include "uplink/sha256.h"

static void hex(const uint8_t d[32], char out[65])
{
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

static void check(const char *msg, size_t len, const char *want)
{
    uint8_t d[32];
    char h[65];
    csu_sha256(msg, len, d);
    hex(d, h);
    assert_string_equal(h, want);
}

static void fips_180_2_one_block_message(void **state)
{
    (void)state;
    check("abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

static void fips_180_2_multi_block_message(void **state)
{
    const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    (void)state;
    check(m, strlen(m), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

static void fips_180_2_long_message_of_a_million_a(void **state)
{
    char *m = malloc(1000000);
    (void)state;
    assert_non_null(m);
    memset(m, 'a', 1000000);
    check(m, 1000000, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    free(m);
}

static void empty_message(void **state)
{
    (void)state;
    check("", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

static void pieces_of_any_size_give_the_one_shot_digest(void **state)
{
    uint8_t buf[1000], whole[32], parts[32];
    (void)state;
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)(i * 31 + 7);
    csu_sha256(buf, sizeof buf, whole);
    for (size_t step = 1; step < 130; step += 7) {
        csu_sha256_ctx c;
        csu_sha256_init(&c);
        for (size_t off = 0; off < sizeof buf; off += step)
            csu_sha256_update(&c, buf + off, sizeof buf - off < step ? sizeof buf - off : step);
        csu_sha256_final(&c, parts);
        assert_memory_equal(whole, parts, 32);
    }
}

static void base64_matches_rfc_4648_vectors(void **state)
{
    const char *in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    const char *out[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    char b[16];
    (void)state;
    for (size_t i = 0; i < 7; i++) {
        assert_true(csu_base64(in[i], strlen(in[i]), b, sizeof b));
        assert_string_equal(b, out[i]);
    }
    assert_false(csu_base64("foobar", 6, b, 8)); /* needs 9 */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fips_180_2_one_block_message),
        cmocka_unit_test(fips_180_2_multi_block_message),
        cmocka_unit_test(fips_180_2_long_message_of_a_million_a),
        cmocka_unit_test(empty_message),
        cmocka_unit_test(pieces_of_any_size_give_the_one_shot_digest),
        cmocka_unit_test(base64_matches_rfc_4648_vectors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
