/* tokens.h - random identifiers, device tokens and enrolment codes, and
 * their hashes (libsodium). Tokens and codes are never stored: only
 * cs_token_hash() of them is, and hashes are compared in constant time.
 *
 * Threads: safe from any thread once cs_tokens_init() has run (it calls
 * sodium_init()). Nothing to free: outputs go to caller buffers. */
#ifndef CS_SERVER_TOKENS_H
#define CS_SERVER_TOKENS_H

#include <stdbool.h>
#include <stddef.h>

#include "capscreen/status.h"

#define CS_TOKEN_BYTES 32
#define CS_TOKEN_MAX 64 /* base64url of 32 bytes (43) + NUL, rounded */
#define CS_HASH_HEX 65  /* 32-byte BLAKE2b hash in hex + NUL */
#define CS_CODE_LEN 14  /* XXXX-XXXX-XXXX */

/* sodium_init(); CS_ERR_UNSUPPORTED when libsodium cannot start. */
cs_status cs_tokens_init(cs_error *err) CS_WARN_UNUSED;
/* `bytes` random bytes as lower-case hex into out (2*bytes + 1). */
void cs_id_new(char *out, size_t bytes);
/* A new device token: 32 random bytes, base64url without padding. */
void cs_token_new(char out[CS_TOKEN_MAX]);
/* BLAKE2b-256 (crypto_generichash) of `s` as hex. */
void cs_token_hash(const char *s, char out[CS_HASH_HEX]);
/* Constant-time equality of two hashes in hex (sodium_memcmp); false when
 * either is not CS_HASH_HEX - 1 characters. */
bool cs_hash_equal(const char *a, const char *b);
/* A new enrolment code: 12 characters from an alphabet without look-alikes
 * (no 0/O, 1/I/L, U), grouped XXXX-XXXX-XXXX. */
void cs_code_new(char out[CS_CODE_LEN + 1]);
/* Canonical form of a typed code: upper case, dashes and spaces dropped.
 * False when it has other characters or is not 12 long. */
bool cs_code_normalise(const char *in, char out[CS_CODE_LEN + 1]);

#endif
