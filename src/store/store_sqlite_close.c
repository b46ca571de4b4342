/* store_sqlite_close.c - the SQLite backend's study close and the upload
 * lock that follows from it (schema 3): once a study is closed or its
 * report signed, no upload of it can be created or moved, so no byte, and
 * so no frame, arrives under a signature. Each call holds the mutex and
 * checks and writes in one BEGIN IMMEDIATE transaction. */
#include "store/store_sqlite.h"

#include <string.h>

/* Whether uploads of `study` are locked: *exists false when there is no
 * such study. */
static cs_status uploads_locked(sq_store *q, const char *study, bool *exists, bool *locked,
                                cs_error *err)
{
    sqlite3_stmt *st = NULL;
    cs_status r = prep(q,
                       "SELECT closed_at_ms != 0 OR EXISTS (SELECT 1 FROM reports"
                       " WHERE study = ?1 AND state = 'signed') FROM studies WHERE id = ?1",
                       &st, err);
    if (r == CS_OK)
        r = sq_bind(q, st, err, sq_text(study));
    if (r == CS_OK) {
        int rc = sqlite3_step(st);
        *exists = rc == SQLITE_ROW;
        *locked = rc == SQLITE_ROW && sqlite3_column_int(st, 0) != 0;
        if (rc != SQLITE_ROW && rc != SQLITE_DONE)
            r = db_fail(q, err, "read study lock");
    }
    done(st);
    return r;
}

cs_status sq_study_close(cs_store *s, const char *study, const char *by, int64_t at_ms,
                         cs_check_outcome *outcome, cs_error *err)
{
    sq_store *q = SQ(s);
    sqlite3_stmt *st = NULL;
    bool in_tx = false;
    *outcome = CS_CHECK_NOT_FOUND;
    pthread_mutex_lock(&q->lock);
    cs_status r = begin(q, &in_tx, err);
    if (r != CS_OK ||
        (r = prep(q, "SELECT closed_at_ms FROM studies WHERE id = ?", &st, err)) != CS_OK ||
        (r = sq_bind(q, st, err, sq_text(study))) != CS_OK)
        goto fail;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE)
        goto fail; /* no such study */
    if (rc != SQLITE_ROW) {
        r = db_fail(q, err, "read study");
        goto fail;
    }
    bool closed = sqlite3_column_int64(st, 0) != 0;
    done(st);
    st = NULL;
    if (closed) {
        *outcome = CS_CHECK_CONFLICT;
        goto fail;
    }
    int64_t at_s = at_ms / 1000;
    /* The code is marked used and the devices revoked with the close, so
     * neither a new enrolment nor a live device can add an upload. */
    if ((r = run(q,
                 "UPDATE studies SET closed_at_ms = ?, closed_by = ?, code_used_at ="
                 " CASE code_used_at WHEN 0 THEN ? ELSE code_used_at END WHERE id = ?",
                 NULL, err, sq_i64(at_ms), sq_text(by), sq_i64(at_s), sq_text(study))) != CS_OK ||
        (r = run(q, "UPDATE uploads SET state = ?, updated_at = ? WHERE study = ? AND state = ?",
                 NULL, err, sq_i64(CS_UPLOAD_TERMINATED), sq_i64(at_s), sq_text(study),
                 sq_i64(CS_UPLOAD_OPEN))) != CS_OK ||
        (r = run(q, "UPDATE devices SET revoked_at = ? WHERE study = ? AND revoked_at = 0", NULL,
                 err, sq_i64(at_s), sq_text(study))) != CS_OK ||
        (r = commit(q, &in_tx, err)) != CS_OK)
        goto fail;
    *outcome = CS_CHECK_OK;
fail:
    done(st);
    rollback(q, in_tx);
    pthread_mutex_unlock(&q->lock);
    if (r != CS_OK)
        *outcome = CS_CHECK_NOT_FOUND;
    return r;
}

cs_status sq_upload_update_checked(cs_store *s, const cs_upload_rec *u, cs_check_outcome *outcome,
                                   cs_error *err)
{
    sq_store *q = SQ(s);
    sqlite3_stmt *st = NULL;
    bool in_tx = false, exists = false, locked = false;
    char study[CS_ID_MAX];
    *outcome = CS_CHECK_NOT_FOUND;
    pthread_mutex_lock(&q->lock);
    cs_status r = begin(q, &in_tx, err);
    if (r != CS_OK ||
        (r = prep(q, "SELECT study, state FROM uploads WHERE id = ?", &st, err)) != CS_OK ||
        (r = sq_bind(q, st, err, sq_text(u->id))) != CS_OK)
        goto fail;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE)
        goto fail; /* no such upload */
    if (rc != SQLITE_ROW) {
        r = db_fail(q, err, "read upload");
        goto fail;
    }
    text(st, 0, study, sizeof study);
    int64_t state = sqlite3_column_int64(st, 1);
    done(st);
    st = NULL;
    if ((r = uploads_locked(q, study, &exists, &locked, err)) != CS_OK)
        goto fail;
    if (locked) {
        *outcome = CS_CHECK_LOCKED;
        goto fail;
    }
    /* Ended (by a newer upload, DELETE, expiry or the study's close) in
     * this same transaction as the write: never saved again (store.h). */
    if (state == CS_UPLOAD_TERMINATED || state == CS_UPLOAD_EXPIRED) {
        *outcome = CS_CHECK_CONFLICT;
        goto fail;
    }
    if ((r = run(q,
                 "UPDATE uploads SET length = ?, offset = ?, state = ?, updated_at = ?,"
                 " expires_at = ?, checksum_base = ? WHERE id = ?",
                 NULL, err, sq_i64(u->length), sq_i64((int64_t)u->offset), sq_i64(u->state),
                 sq_i64(u->updated_at), sq_i64(u->expires_at), sq_i64(u->checksum_base),
                 sq_text(u->id))) != CS_OK ||
        (r = commit(q, &in_tx, err)) != CS_OK)
        goto fail;
    *outcome = CS_CHECK_OK;
fail:
    done(st);
    rollback(q, in_tx);
    pthread_mutex_unlock(&q->lock);
    if (r != CS_OK)
        *outcome = CS_CHECK_NOT_FOUND;
    return r;
}

cs_status sq_upload_create_checked(cs_store *s, const cs_upload_rec *u, cs_check_outcome *outcome,
                                   cs_error *err)
{
    sq_store *q = SQ(s);
    bool in_tx = false, exists = false, locked = false;
    *outcome = CS_CHECK_NOT_FOUND;
    pthread_mutex_lock(&q->lock);
    cs_status r = begin(q, &in_tx, err);
    if (r != CS_OK || (r = uploads_locked(q, u->study, &exists, &locked, err)) != CS_OK || !exists)
        goto fail;
    if (locked) {
        *outcome = CS_CHECK_LOCKED;
        goto fail;
    }
    /* An earlier open upload of the study that never stored a byte is
     * ended: its creator has moved on (typically a hub whose creation
     * answer was lost on the link, so it never learnt that upload's URL).
     * Left open, it would hold the study's analysis back until it expired,
     * since the stream is the uploads in creation order. It has no bytes,
     * so nothing of the study is lost. */
    if ((r = run(q,
                 "UPDATE uploads SET state = ?, updated_at = ? WHERE study = ? AND state = ?"
                 " AND offset = 0 AND checksum_base = -1",
                 NULL, err, sq_i64(CS_UPLOAD_TERMINATED), sq_i64(u->created_at), sq_text(u->study),
                 sq_i64(CS_UPLOAD_OPEN))) != CS_OK)
        goto fail;
    if ((r = run(q,
                 "INSERT INTO uploads (id, study, length, offset, state, created_at,"
                 " updated_at, expires_at, checksum_base, metadata)"
                 " VALUES (?,?,?,?,?,?,?,?,?,?)",
                 NULL, err, sq_text(u->id), sq_text(u->study), sq_i64(u->length),
                 sq_i64((int64_t)u->offset), sq_i64(u->state), sq_i64(u->created_at),
                 sq_i64(u->updated_at), sq_i64(u->expires_at), sq_i64(u->checksum_base),
                 sq_text(u->metadata))) != CS_OK ||
        (r = commit(q, &in_tx, err)) != CS_OK)
        goto fail;
    *outcome = CS_CHECK_OK;
fail:
    rollback(q, in_tx);
    pthread_mutex_unlock(&q->lock);
    if (r != CS_OK)
        *outcome = CS_CHECK_NOT_FOUND;
    return r;
}
