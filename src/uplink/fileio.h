/* fileio.h - small durable-file helpers: atomic replace (temp + fsync +
 * rename + fsync of the folder), capped whole-file reads, clocks.
 * Thread-safe as the file system is; errors carry errno text. */
#ifndef CSU_FILEIO_H
#define CSU_FILEIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "capscreen/status.h"

/* Replace `path` by `len` bytes atomically: write `path`.tmp with `mode`,
 * fsync it, rename it over `path`, fsync the folder when `durable`.
 * A crash leaves either the old or the new file (maybe a stray .tmp, which
 * readers ignore). Errors: CS_ERR_IO. */
cs_status csu_file_replace(const char *path, const void *data, size_t len, mode_t mode,
                           bool durable, cs_error *err) CS_WARN_UNUSED;

/* fsync the folder `dir` itself, so that names added to or removed from it
 * survive a power cut. Errors: CS_ERR_IO. */
cs_status csu_dir_sync(const char *dir, cs_error *err) CS_WARN_UNUSED;

/* Read the whole file into a new NUL-terminated buffer (*out, freed by the
 * caller), refusing files over `cap` bytes. Errors: CS_ERR_IO (errno
 * ENOENT is kept in errno for the caller), CS_ERR_TOO_LARGE, CS_ERR_NOMEM. */
cs_status csu_file_read(const char *path, size_t cap, char **out, size_t *len,
                        cs_error *err) CS_WARN_UNUSED;

/* mkdir -p for one level with `mode`; an existing folder is fine. */
cs_status csu_dir_ensure(const char *path, mode_t mode, cs_error *err) CS_WARN_UNUSED;

/* Join dir and name into out (capped); false when it does not fit. */
bool csu_path(char *out, size_t cap, const char *dir, const char *name);

int64_t csu_wall_us(void); /* CLOCK_REALTIME, microseconds */
int64_t csu_mono_ms(void); /* CLOCK_MONOTONIC, milliseconds */

#endif
