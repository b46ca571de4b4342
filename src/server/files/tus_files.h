/* tus_files.h - the bytes side of tus uploads: one file per upload,
 * DATA/uploads/<upload-id>.bin, appended only; the in-memory per-upload
 * locks; reconciliation after a crash; the expiry sweep.
 *
 * Threads: every call may run on any connection thread. Locks never block:
 * every cs_tus_lock_* call answers at once (on a shared store, after one
 * statement at most). Errors: CS_ERR_IO with errno's text; a store failure
 * during a lock call counts as "not held". */
#ifndef CS_SERVER_TUS_FILES_H
#define CS_SERVER_TUS_FILES_H

#include "server/core/core.h"

/* The upload files of one data folder and their locks (opaque). */
typedef struct cs_upload_files cs_upload_files;

/* Open DATA/uploads (created when missing). Errors: CS_ERR_IO, CS_ERR_NOMEM. */
cs_status cs_upload_files_open(const char *data_dir, cs_upload_files **out,
                               cs_error *err) CS_WARN_UNUSED;
/* Several servers (a shared store, cs_store_shared): each lock is also a
 * lease in the store (store.h, "several servers"), so one request in the
 * whole service writes an upload at a time. The lease is taken with the
 * lock (or taken over when its holder's database connection is gone or it
 * has not beaten for `takeover_ms`), beaten by cs_tus_lock_enter at least
 * every takeover_ms / 3 while the holder works (so a working holder is
 * never taken for silent), and dropped on release. A holder that finds
 * its lease gone stops (cs_tus_lock_enter answers false). A takeover then
 * keeps only the stored offset, which another server's fsync made
 * durable: bytes a holder wrote past it are cut off by the next
 * cs_tus_file_open_at, and the client resends them after a HEAD. `store`
 * must outlive `f`. Call before any lock is taken. */
void cs_upload_files_share(cs_upload_files *f, cs_store *store, int64_t takeover_ms);
/* Free the lock set; the files stay. Accepts NULL. */
void cs_upload_files_close(cs_upload_files *f);

/* Path of an upload's file into `out` (CS_CFG_PATH + 64 bytes). */
void cs_tus_path(const cs_upload_files *s, const char *id, char *out, size_t cap);
/* Create the empty file of a new upload (O_EXCL) and fsync it and the folder. */
cs_status cs_tus_file_create(const cs_upload_files *s, const char *id,
                             cs_error *err) CS_WARN_UNUSED;
/* Open for appending at `offset`: bytes past it (never acknowledged) are cut
 * off; a file shorter than `offset` is CS_ERR_CORRUPT. *fd gets the descriptor. */
cs_status cs_tus_file_open_at(const cs_upload_files *s, const char *id, uint64_t offset, int *fd,
                              cs_error *err) CS_WARN_UNUSED;
/* Write all of `len` bytes (retrying short writes). */
cs_status cs_tus_file_write(int fd, const void *data, size_t len, cs_error *err) CS_WARN_UNUSED;

/* Per-upload locks. Each holder gets a ticket (nonzero). The holder is
 * either busy (doing server-side work: writing, fsyncing, storing) or idle
 * (waiting for the client's next bytes). An entry that has been idle for
 * longer than lock_takeover can be taken over by a newer request
 * (cs_tus_lock_takeover); the old holder's ticket then no longer matches,
 * cs_tus_lock_enter answers false and it must write nothing more. Every
 * call takes only the short mutex of the lock set: none waits. */

/* Take the upload's lock if free: this caller's ticket (the lock starts
 * busy), or 0 when another request holds it. */
uint64_t cs_tus_lock_try(cs_upload_files *s, const char *id);
/* The holder goes busy: false when `ticket` no longer holds the lock
 * (superseded); the caller must then write nothing. */
bool cs_tus_lock_enter(cs_upload_files *s, const char *id, uint64_t ticket);
/* The holder goes idle (waiting for its client) after activity now; a
 * takeover would keep `keep` bytes of the upload (the offset it reached,
 * or its start for a checksummed body). */
void cs_tus_lock_idle(cs_upload_files *s, const char *id, uint64_t ticket, uint64_t keep);
/* When the upload's holder has been idle for `idle_ms` or more, take the
 * lock over: true, *ticket is the caller's (busy) ticket and *keep the
 * offset to fsync and persist before cs_tus_lock_release() (0 on a shared
 * store when the upload's lease is no longer this server's: another server
 * may have written since, and the stored offset is the truth there). */
bool cs_tus_lock_takeover(cs_upload_files *s, const char *id, int64_t idle_ms, uint64_t *ticket,
                          uint64_t *keep);
/* A request of this process holds the lock, or (shared) a live other
 * server holds its lease. */
bool cs_tus_lock_held(cs_upload_files *s, const char *id);
/* Release the lock if `ticket` still holds it. */
void cs_tus_lock_release(cs_upload_files *s, const char *id, uint64_t ticket);

/* At start: match each open upload's stored offset (in `store`) with its
 * file: bytes never acknowledged are cut off; bytes a crashed request wrote
 * past the stored offset are fsynced before the offset records them (cut
 * off instead if the fsync fails). Not for a shared store
 * (other servers may be writing; cs_tus_file_open_at cuts instead).
 * Errors: CS_ERR_IO, the store's. */
cs_status cs_tus_reconcile(cs_upload_files *s, cs_store *store, cs_error *err) CS_WARN_UNUSED;

/* RFC 7231 date of unix time `t` into `out` (at least 40 bytes). */
void cs_http_date(int64_t t, char *out, size_t cap);

#endif
