/* fileio.h - read a whole file into memory, with a size cap.
 *
 * Ownership: on CS_OK *out is a malloc'd buffer (never NULL, even for a
 * zero-byte file) that the caller frees. Thread-safe. */
#ifndef CAPSCREEN_FILEIO_H
#define CAPSCREEN_FILEIO_H

#include <stddef.h>
#include <stdint.h>

#include "capscreen/status.h"

/* Errors: CS_ERR_IO (cannot open/read, or not a regular file; errno text in
 * the message), CS_ERR_TOO_LARGE (over max_bytes), CS_ERR_NOMEM. */
cs_status cs_file_read(const char *path, size_t max_bytes, uint8_t **out, size_t *len,
                       cs_error *err) CS_WARN_UNUSED;

#endif
