/* sha1.h - SHA-1 (RFC 3174), only for the tus checksum extension, which
 * requires the `sha1` algorithm; libsodium has no SHA-1. Never use it for
 * anything that needs collision resistance.
 *
 * Threads: a context is used by one thread at a time; no shared state. */
#ifndef CS_SERVER_SHA1_H
#define CS_SERVER_SHA1_H

#include <stddef.h>
#include <stdint.h>

#define CS_SHA1_LEN 20

typedef struct cs_sha1 {
    uint32_t h[5];
    uint64_t total; /* bytes hashed so far */
    uint8_t block[64];
    size_t used; /* bytes waiting in block */
} cs_sha1;

void cs_sha1_init(cs_sha1 *c);
/* `data` may be NULL when len is 0. */
void cs_sha1_update(cs_sha1 *c, const void *data, size_t len);
void cs_sha1_final(cs_sha1 *c, uint8_t out[CS_SHA1_LEN]);

#endif
