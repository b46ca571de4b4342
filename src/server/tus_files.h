/* tus_files.h - the bytes side of tus uploads: one file per upload,
 * DATA/uploads/<upload-id>.bin, appended only; the in-memory per-upload
 * locks; reconciliation after a crash; the expiry sweep.
 *
 * Threads: every call may run on any connection thread. Locks never block:
 * cs_tus_lock_try() answers at once. Errors: CS_ERR_IO with errno's text. */
#ifndef CS_SERVER_TUS_FILES_H
#define CS_SERVER_TUS_FILES_H

#include "server/server_internal.h"

/* Path of an upload's file into `out` (CS_CFG_PATH + 64 bytes). */
void cs_tus_path(const cs_server *s, const char *id, char *out, size_t cap);
/* Create the empty file of a new upload (O_EXCL) and fsync it and the folder. */
cs_status cs_tus_file_create(const cs_server *s, const char *id, cs_error *err) CS_WARN_UNUSED;
/* Open for appending at `offset`: bytes past it (never acknowledged) are cut
 * off; a file shorter than `offset` is CS_ERR_CORRUPT. *fd gets the descriptor. */
cs_status cs_tus_file_open_at(const cs_server *s, const char *id, uint64_t offset, int *fd,
                              cs_error *err) CS_WARN_UNUSED;
/* Write all of `len` bytes (retrying short writes). */
cs_status cs_tus_file_write(int fd, const void *data, size_t len, cs_error *err) CS_WARN_UNUSED;

/* Take the upload's lock if free: true when this caller now holds it. */
bool cs_tus_lock_try(cs_server *s, const char *id);
bool cs_tus_lock_held(cs_server *s, const char *id);
void cs_tus_lock_release(cs_server *s, const char *id);
void cs_tus_locks_free(cs_server *s);

/* RFC 7231 date of unix time `t` into `out` (at least 40 bytes). */
void cs_http_date(int64_t t, char *out, size_t cap);

#endif
