/* store_sqlite.h - what the SQLite backend's two files share: the handle,
 * the statement helpers, and the reading workstation's calls
 * (store_sqlite_ws.c) that store_sqlite.c puts in its table of operations.
 * Every helper here but get_by_id() runs with q->lock held by its caller. */
#ifndef CS_STORE_SQLITE_H
#define CS_STORE_SQLITE_H

#include "store/store_backend.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct sq_store {
    struct cs_store base;
    sqlite3 *db;
    pthread_mutex_t lock;
    /* the checkpointer */
    sqlite3 *ckdb;
    pthread_t ckthread;
    bool ckstarted, ckstop;   /* ckstop guarded by ckmu */
    pthread_mutex_t ckmu;
    pthread_cond_t ckcv;
} sq_store;

#define SQ(s) ((sq_store *)(void *)(s))

static inline cs_status db_fail(sq_store *q, cs_error *err, const char *what)
{
    return cs_error_set(err, CS_ERR_IO, "database: %s: %s", what, sqlite3_errmsg(q->db));
}

/* Prepare under the lock; the caller finalizes `*st`. */
static inline cs_status prep(sq_store *q, const char *sql, sqlite3_stmt **st, cs_error *err)
{
    if (sqlite3_prepare_v2(q->db, sql, -1, st, NULL) != SQLITE_OK)
        return db_fail(q, err, "prepare");
    return CS_OK;
}

/* Copy text column `col` into out[cap] ("" for NULL). */
static inline void text(sqlite3_stmt *st, int col, char *out, size_t cap)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    snprintf(out, cap, "%s", t ? (const char *)t : "");
}

/* Run `sql` with binds given as a format: 't' text, 'i' int64, 'd' double.
 * *changes (when not NULL) gets the rows it changed. */
static inline cs_status run(sq_store *q, const char *sql, const char *fmt,
                            const void *const *args, int *changes, cs_error *err)
{
    sqlite3_stmt *st = NULL;
    cs_status r = prep(q, sql, &st, err);
    for (int i = 0; r == CS_OK && fmt[i]; i++) {
        if (fmt[i] == 't')
            sqlite3_bind_text(st, i + 1, args[i], -1, SQLITE_TRANSIENT);
        else if (fmt[i] == 'd')
            sqlite3_bind_double(st, i + 1, *(const double *)args[i]);
        else
            sqlite3_bind_int64(st, i + 1, *(const int64_t *)args[i]);
    }
    if (r == CS_OK && sqlite3_step(st) != SQLITE_DONE)
        r = db_fail(q, err, "update");
    if (r == CS_OK && changes)
        *changes = sqlite3_changes(q->db);
    sqlite3_finalize(st);
    return r;
}

/* Step `st` to the end, reading each row through `read` into a malloc'd
 * array of `size`-byte records: *out (NULL when *n is 0). `st` stays the
 * caller's to finalize. */
static inline cs_status list_rows(sq_store *q, sqlite3_stmt *st,
                                  void (*read)(sqlite3_stmt *, void *), size_t size,
                                  void **out, size_t *n, const char *what, cs_error *err)
{
    char *v = NULL;
    size_t cnt = 0, cap = 0;
    int rc;
    *out = NULL;
    *n = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (cnt == cap) {
            size_t nc = cap ? cap * 2 : 8;
            char *nv = realloc(v, nc * size);
            if (!nv) {
                free(v);
                return cs_error_set(err, CS_ERR_NOMEM, "out of memory: %s", what);
            }
            v = nv;
            cap = nc;
        }
        read(st, v + cnt++ * size);
    }
    if (rc != SQLITE_DONE) {
        free(v);
        return db_fail(q, err, what);
    }
    *out = v;
    *n = cnt;
    return CS_OK;
}

/* Fetch the one row `sql` selects for `id` through `read` into `out`;
 * *found says whether there was one. Takes q->lock itself: a whole call. */
static inline cs_status get_by_id(sq_store *q, const char *sql, const char *id,
                                  void (*read)(sqlite3_stmt *, void *), void *out,
                                  bool *found, const char *what, cs_error *err)
{
    sqlite3_stmt *st = NULL;
    *found = false;
    pthread_mutex_lock(&q->lock);
    cs_status r = prep(q, sql, &st, err);
    if (r == CS_OK) {
        sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            read(st, out);
            *found = true;
        } else if (rc != SQLITE_DONE) {
            r = db_fail(q, err, what);
        }
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&q->lock);
    return r;
}

/* The reading workstation's calls (store.h documents each). */
cs_status sq_user_add(cs_store *s, const cs_user_rec *u, bool *exists, cs_error *err);
cs_status sq_user_get(cs_store *s, const char *name, bool *found, cs_user_rec *out,
                      cs_error *err);
cs_status sq_user_update(cs_store *s, const cs_user_rec *u, bool *found, cs_error *err);
cs_status sq_user_list(cs_store *s, cs_user_rec **out, size_t *n, cs_error *err);
cs_status sq_session_create(cs_store *s, const cs_session_rec *r, cs_error *err);
cs_status sq_session_get(cs_store *s, const char *id_hash, bool *found, cs_session_rec *out,
                         cs_error *err);
cs_status sq_session_touch(cs_store *s, const char *id_hash, int64_t now, cs_error *err);
cs_status sq_session_delete(cs_store *s, const char *id_hash, cs_error *err);
cs_status sq_sessions_purge(cs_store *s, int64_t idle_before, int64_t created_before, int *n,
                            cs_error *err);
cs_status sq_audit_append(cs_store *s, const cs_audit_rec *r, cs_error *err);
cs_status sq_audit_query(cs_store *s, const cs_audit_query *qy, cs_audit_rec **out, size_t *n,
                         cs_error *err);
cs_status sq_finding_create(cs_store *s, cs_finding_rec *f, cs_change_outcome *out,
                            cs_error *err);
cs_status sq_finding_update(cs_store *s, cs_finding_rec *f, int expected_version,
                            cs_change_outcome *out, cs_error *err);
cs_status sq_finding_delete(cs_store *s, const char *study, int64_t id, const char *by,
                            int64_t at_ms, int expected_version, cs_change_outcome *out,
                            cs_error *err);
cs_status sq_findings_list(cs_store *s, const char *study, bool include_deleted,
                           cs_finding_rec **out, size_t *n, cs_error *err);
cs_status sq_finding_history(cs_store *s, const char *study, int64_t id, cs_finding_rec **out,
                             size_t *n, cs_error *err);
cs_status sq_mark_set(cs_store *s, const char *study, const cs_mark_rec *m,
                      cs_change_outcome *out, cs_error *err);
cs_status sq_mark_delete(cs_store *s, const char *study, const char *kind, const char *key,
                         cs_change_outcome *out, cs_error *err);
cs_status sq_marks_list(cs_store *s, const char *study, cs_mark_rec **out, size_t *n,
                        cs_error *err);
cs_status sq_report_get(cs_store *s, const char *study, bool *found, cs_report_rec *out,
                        cs_error *err);
cs_status sq_report_save(cs_store *s, cs_report_rec *r, int expected_version,
                         cs_change_outcome *out, cs_error *err);
cs_status sq_report_sign(cs_store *s, const char *study, const char *by, int64_t at_ms,
                         int expected_version, cs_change_outcome *outcome, cs_report_rec *out,
                         cs_error *err);
cs_status sq_report_signed(cs_store *s, const char *study, bool *is_signed, cs_error *err);

#endif
