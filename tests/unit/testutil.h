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
 * ctest sets (CS_SOURCE_DIR, CS_SHARED_DIR). Returns a static buffer. */
const char *tu_source_path(const char *rel);
const char *tu_shared_path(const char *rel);

/* If the shared data set is absent, print why and exit with CS_TEST_SKIP. */
void tu_require_shared(void);

/* A fresh empty temporary directory (static buffer), removed by nobody:
 * it lives under $TMPDIR and is small. */
const char *tu_tmpdir(void);

#endif
