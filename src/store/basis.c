/* basis.c - the report basis stamp's digest (store_backend.h,
 * cs_store_report_basis): BLAKE2b-128 from libsodium over length-prefixed
 * fields, tagged rows and named tables. Pure; no store state. */
#include <stdint.h>
#include <string.h>

#include "store/store_backend.h"

#define BASIS_BYTES 16

void cs_basis_begin(cs_basis *b) { crypto_generichash_init(&b->st, NULL, 0, BASIS_BYTES); }

static void put_len(cs_basis *b, uint8_t tag, size_t len)
{
    uint8_t head[9] = {tag};
    for (int i = 0; i < 8; i++)
        head[1 + i] = (uint8_t)((uint64_t)len >> (8 * i));
    crypto_generichash_update(&b->st, head, sizeof head);
}

void cs_basis_table(cs_basis *b, const char *name)
{
    size_t n = strlen(name);
    put_len(b, 'T', n);
    crypto_generichash_update(&b->st, (const unsigned char *)name, n);
}

void cs_basis_row(cs_basis *b) { put_len(b, 'R', 0); }

void cs_basis_field(cs_basis *b, const char *text, size_t len)
{
    put_len(b, 'F', len);
    if (len)
        crypto_generichash_update(&b->st, (const unsigned char *)text, len);
}

void cs_basis_end(cs_basis *b, char hex[CS_REPORT_BASIS_HEX])
{
    unsigned char out[BASIS_BYTES];
    crypto_generichash_final(&b->st, out, sizeof out);
    sodium_bin2hex(hex, CS_REPORT_BASIS_HEX, out, sizeof out);
}
