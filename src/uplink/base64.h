/* base64.h - standard base64 (RFC 4648, with padding) for tus headers.
 * Thread-safe, no state. */
#ifndef CSU_BASE64_H
#define CSU_BASE64_H

#include <stdbool.h>
#include <stddef.h>

/* Encode `len` bytes into `out` (NUL-terminated). Returns false, writing
 * nothing useful, when `out_cap` is under 4 * ceil(len / 3) + 1. */
bool csu_base64(const void *data, size_t len, char *out, size_t out_cap);

#endif
