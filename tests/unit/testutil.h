/* testutil.h - small helpers shared by the cmocka unit tests. */
#ifndef CS_TESTUTIL_H
#define CS_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>

/* Exit code ctest reads as "skipped" (SKIP_RETURN_CODE in tests/CMakeLists). */
#define CS_TEST_SKIP 77

/* Read a whole file into a new buffer (caller frees); NULL on failure. */
uint8_t *tu_read_file(const char *path, size_t *len);

/* Path under the source tree / shared folder, from the environment that
 * ctest sets (CS_SOURCE_DIR, CS_SHARED_DIR). Returns a buffer owned by the
 * calling thread, valid until its next call. */
const char *tu_source_path(const char *rel);
const char *tu_shared_path(const char *rel);

/* If the shared data set is absent, print why and exit with CS_TEST_SKIP. */
void tu_require_shared(void);

/* A fresh empty temporary directory (static buffer), removed by nobody:
 * it lives under $TMPDIR and is small. */
const char *tu_tmpdir(void);

/* ---- image helpers (libjpeg-turbo, libpng) ---------------------------- */

/* True when the shared data set is present; for tests that skip one case
 * (cmocka's skip()) rather than the whole executable. */
int tu_have_shared(void);

/* Read data/wcebleedgen/images/NAME from the shared folder (caller frees);
 * NULL if missing. */
uint8_t *tu_read_shared_frame(const char *name, size_t *len);

/* Write `len` bytes to `path` (created or truncated); 0 on success. */
int tu_write_file(const char *path, const void *data, size_t len);

/* Encode packed RGB (w*h*3 bytes) as a baseline 4:2:0 JPEG at `quality`.
 * *out is malloc'd (caller frees). 0 on success. */
int tu_jpeg_encode(const uint8_t *rgb, int w, int h, int quality, uint8_t **out, size_t *len);

/* Decode a JPEG at full size to packed RGB (caller frees); NULL if libjpeg
 * reports an error. */
uint8_t *tu_jpeg_decode_full(const uint8_t *data, size_t len, int *w, int *h);

/* Encode packed RGB as an 8-bit PNG through libpng's simplified API.
 * *out is malloc'd (caller frees). 0 on success. */
int tu_png_encode(const uint8_t *rgb, int w, int h, uint8_t **out, size_t *len);

/* Offset of the SOF0/SOF1/SOF2 marker's height field (the 2 bytes after the
 * precision byte) in a JPEG, or -1 if there is none. Width follows it. */
long tu_jpeg_sof_dims_offset(const uint8_t *data, size_t len);

#endif
