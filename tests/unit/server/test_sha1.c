/* test_sha1.c - SHA-1 against the RFC 3174 test vectors, fed whole and in
 * odd-sized pieces. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "server/tus/sha1.h"

static void hex(const uint8_t *d, char *out)
{
    for (int i = 0; i < CS_SHA1_LEN; i++)
        sprintf(out + 2 * i, "%02x", d[i]);
}

static void check(const char *msg, size_t repeat, const char *want)
{
    for (size_t piece = 1; piece <= 67; piece += 33) {
        cs_sha1 c;
        uint8_t d[CS_SHA1_LEN];
        char got[41];
        cs_sha1_init(&c);
        size_t n = strlen(msg);
        for (size_t r = 0; r < repeat; r++)
            for (size_t off = 0; off < n; off += piece)
                cs_sha1_update(&c, msg + off, n - off < piece ? n - off : piece);
        cs_sha1_final(&c, d);
        hex(d, got);
        assert_string_equal(got, want);
    }
}

static void rfc3174_vectors_match(void **state)
{
    (void)state;
    check("abc", 1, "a9993e364706816aba3e25717850c26c9cd0d89d");
    check("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 1,
          "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
    check("a", 1000000, "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
    check("0123456701234567012345670123456701234567012345670123456701234567", 10,
          "dea356a2cddd90c7a7ecedc5ebb563934f460452");
}

static void empty_input_hashes_to_the_known_value(void **state)
{
    (void)state;
    check("", 1, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rfc3174_vectors_match),
        cmocka_unit_test(empty_input_hashes_to_the_known_value),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
