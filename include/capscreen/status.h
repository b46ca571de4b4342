/* status.h - the one result type of libcapscreen and the error record that
 * carries a human-readable reason with it.
 *
 * Contract: every fallible function returns cs_status (CS_OK == 0). Where a
 * function takes a `cs_error *err`, it fills it on failure with the code and
 * a one-line reason meant for people; `err` may be NULL. No function below
 * main() prints or exits. Thread-safe: no shared state. */
#ifndef CAPSCREEN_STATUS_H
#define CAPSCREEN_STATUS_H

#include <stddef.h>

#if defined(__GNUC__)
#define CS_WARN_UNUSED __attribute__((warn_unused_result))
#define CS_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define CS_WARN_UNUSED
#define CS_PRINTF(a, b)
#endif

typedef enum cs_status {
    CS_OK = 0,
    CS_END,   /* no more items: not an error */
    CS_AGAIN, /* need more input bytes (incremental readers) */
    CS_ERR_NOMEM,
    CS_ERR_IO,          /* read/write/open failed (errno in message) */
    CS_ERR_ARG,         /* caller passed something invalid */
    CS_ERR_EMPTY,       /* zero-byte input */
    CS_ERR_TRUNCATED,   /* input ends before the data it announces */
    CS_ERR_CORRUPT,     /* malformed bytes */
    CS_ERR_CHECKSUM,    /* CRC mismatch */
    CS_ERR_UNSUPPORTED, /* valid but not something we handle */
    CS_ERR_TOO_LARGE,   /* absurd dimensions or sizes, refused by a cap */
    CS_ERR_NOT_IMAGE,   /* bytes are not a JPEG or PNG */
    CS_ERR_MODEL,       /* model file missing or invalid */
} cs_status;

/* Short stable token for a status ("corrupt", "truncated", ...), used as
 * the `reason_code` in JSON output. Never NULL. */
const char *cs_status_name(cs_status s);

typedef struct cs_error {
    cs_status code;
    char msg[256];
} cs_error;

/* Fill `err` (if not NULL) with `code` and a printf-style message; returns
 * `code` so callers can write `return cs_error_set(err, CS_ERR_IO, ...)`. */
cs_status cs_error_set(cs_error *err, cs_status code, const char *fmt, ...) CS_PRINTF(3, 4);

#endif
