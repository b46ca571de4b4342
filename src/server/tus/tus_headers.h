/* tus_headers.h - strict parsers for the tus 1.0 request headers whose
 * values come from the network: Upload-Offset / Upload-Length (decimal
 * integers), Upload-Metadata (comma-separated `key base64value` pairs) and
 * Upload-Checksum (`algorithm base64digest`).
 *
 * Every parser caps its input (CS_TUS_HEADER_MAX bytes) and rejects junk
 * rather than guessing: a sign, spaces inside a number, a 20-digit offset,
 * bad base64, a duplicate metadata key. Errors: CS_ERR_CORRUPT (malformed:
 * the caller answers 400), CS_ERR_TOO_LARGE (over a cap: 400 too),
 * CS_ERR_UNSUPPORTED (a checksum algorithm other than sha1/sha256: 400),
 * CS_ERR_ARG (NULL arguments). `err` gets a one-line reason.
 *
 * Threads: pure functions, no shared state. Ownership: results are plain
 * values in caller-provided structs; nothing to free. */
#ifndef CS_SERVER_TUS_HEADERS_H
#define CS_SERVER_TUS_HEADERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "capscreen/status.h"

#define CS_TUS_HEADER_MAX 4096 /* longest header value accepted */
#define CS_TUS_META_MAX_PAIRS 32
#define CS_TUS_META_KEY_MAX 64     /* bytes, without the NUL */
#define CS_TUS_META_VALUE_MAX 1024 /* decoded bytes */

/* A decimal count in 0..INT64_MAX: ASCII digits only, 1 to 19 of them.
 * Used for Upload-Offset and Upload-Length. */
cs_status cs_tus_parse_u64(const char *s, uint64_t *out, cs_error *err) CS_WARN_UNUSED;

typedef struct cs_tus_meta_pair {
    char key[CS_TUS_META_KEY_MAX + 1];
    bool has_value; /* a key may come without a value */
    size_t value_len;
    char value[CS_TUS_META_VALUE_MAX + 1]; /* decoded, NUL-terminated (may
                                               hold NULs of its own) */
} cs_tus_meta_pair;

typedef struct cs_tus_meta {
    size_t n;
    cs_tus_meta_pair pairs[CS_TUS_META_MAX_PAIRS];
} cs_tus_meta;

/* Parse an Upload-Metadata value into `out` (overwritten). An empty string
 * is zero pairs. Keys are printable ASCII without spaces or commas, unique;
 * values are standard base64 with padding. */
cs_status cs_tus_parse_metadata(const char *s, cs_tus_meta *out, cs_error *err) CS_WARN_UNUSED;

/* The decoded value for `key`, or NULL when absent (a key without a value
 * gives ""). Borrowed from `m`. */
const char *cs_tus_meta_get(const cs_tus_meta *m, const char *key);

typedef enum cs_tus_algo {
    CS_TUS_SHA1,
    CS_TUS_SHA256,
} cs_tus_algo;

typedef struct cs_tus_checksum {
    cs_tus_algo algo;
    size_t len; /* 20 or 32 */
    uint8_t digest[32];
} cs_tus_checksum;

/* Parse an Upload-Checksum value: `sha1 <base64>` or `sha256 <base64>`,
 * one space between; the digest must have the algorithm's length. */
cs_status cs_tus_parse_checksum(const char *s, cs_tus_checksum *out, cs_error *err) CS_WARN_UNUSED;

#endif
