/* sha256.h - SHA-256 (FIPS 180-2) for the tus Upload-Checksum header.
 * Thread-safe: state lives in the caller's context. Never fails. */
#ifndef CSU_SHA256_H
#define CSU_SHA256_H

#include <stddef.h>
#include <stdint.h>

typedef struct csu_sha256_ctx {
    uint32_t h[8];
    uint64_t total; /* bytes hashed so far */
    uint8_t block[64];
    size_t used; /* bytes waiting in block */
} csu_sha256_ctx;

void csu_sha256_init(csu_sha256_ctx *c);
void csu_sha256_update(csu_sha256_ctx *c, const void *data, size_t len);
void csu_sha256_final(csu_sha256_ctx *c, uint8_t out[32]);
/* One-shot digest of `len` bytes. */
void csu_sha256(const void *data, size_t len, uint8_t out[32]);

#endif
