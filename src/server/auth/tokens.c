/* tokens.c - ids, device tokens, enrolment codes and their hashes. */
#include "server/auth/tokens.h"

#include <ctype.h>
#include <sodium.h>
#include <string.h>

static const char CODE_ALPHABET[] = "ABCDEFGHJKMNPQRSTVWXYZ23456789";

cs_status cs_tokens_init(cs_error *err)
{
    if (sodium_init() < 0)
        return cs_error_set(err, CS_ERR_UNSUPPORTED, "libsodium failed to initialise");
    return CS_OK;
}

void cs_id_new(char *out, size_t bytes)
{
    unsigned char buf[64];
    if (bytes > sizeof buf)
        bytes = sizeof buf;
    randombytes_buf(buf, bytes);
    sodium_bin2hex(out, bytes * 2 + 1, buf, bytes);
}

void cs_token_new(char out[CS_TOKEN_MAX])
{
    unsigned char buf[CS_TOKEN_BYTES];
    randombytes_buf(buf, sizeof buf);
    sodium_bin2base64(out, CS_TOKEN_MAX, buf, sizeof buf, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(buf, sizeof buf);
}

void cs_token_hash(const char *s, char out[CS_HASH_HEX])
{
    unsigned char h[32];
    crypto_generichash(h, sizeof h, (const unsigned char *)s, strlen(s), NULL, 0);
    sodium_bin2hex(out, CS_HASH_HEX, h, sizeof h);
}

bool cs_hash_equal(const char *a, const char *b)
{
    if (!a || !b || strlen(a) != CS_HASH_HEX - 1 || strlen(b) != CS_HASH_HEX - 1)
        return false;
    return sodium_memcmp(a, b, CS_HASH_HEX - 1) == 0;
}

void cs_code_new(char out[CS_CODE_LEN + 1])
{
    size_t o = 0;
    for (int i = 0; i < 12; i++) {
        if (i && i % 4 == 0)
            out[o++] = '-';
        out[o++] = CODE_ALPHABET[randombytes_uniform(sizeof CODE_ALPHABET - 1)];
    }
    out[o] = '\0';
}

bool cs_code_normalise(const char *in, char out[CS_CODE_LEN + 1])
{
    size_t o = 0;
    if (!in || strnlen(in, 65) > 64)
        return false;
    for (size_t i = 0; in[i]; i++) {
        char c = (char)toupper((unsigned char)in[i]);
        if (c == '-' || c == ' ')
            continue;
        if (!strchr(CODE_ALPHABET, c) || c == '\0' || o == 12)
            return false;
        out[o++] = c;
    }
    if (o != 12)
        return false;
    /* Back to the grouped form, so hashes match those made at creation. */
    char tmp[13];
    memcpy(tmp, out, 12);
    size_t k = 0;
    for (int i = 0; i < 12; i++) {
        if (i && i % 4 == 0)
            out[k++] = '-';
        out[k++] = tmp[i];
    }
    out[k] = '\0';
    return true;
}
