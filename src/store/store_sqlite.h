/* store_sqlite.h - what the SQLite backend's files share: the handle,
 * the statement helpers, and the calls of store_sqlite_ws.c (the reading
 * workstation), store_sqlite_close.c (rules checked in the transaction)
 * and store_sqlite_care.c (the live care loop) that store_sqlite.c puts
 * in its table of operations.
 * Every helper here but get_by_id() runs with q->lock held by its caller. */
#ifndef CS_STORE_SQLITE_H
#define CS_STORE_SQLITE_H

#include "store/store_backend.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>

/* Prepared statements cached on the connection, keyed by their SQL text:
 * prepared on first use, reset and cleared on each later use, finalized at
 * close. SQL that is built at run time (the audit query) is cached too: it
 * comes from a few fixed fragments, so there are few distinct texts. */
#define SQ_STMT_CACHE 128

typedef struct sq_cached {
    uint64_t hash; /* of sql: most lookups compare this only once */
    char *sql;     /* malloc'd copy of the key */
    sqlite3_stmt *st;
} sq_cached;

typedef struct sq_store {
    struct cs_store base;
    sqlite3 *db;
    pthread_mutex_t lock;
    sq_cached cache[SQ_STMT_CACHE]; /* guarded by lock */
    size_t ncache;
    /* the checkpointer */
    sqlite3 *ckdb;
    pthread_t ckthread;
    bool ckstarted, ckstop; /* ckstop guarded by ckmu */
    pthread_mutex_t ckmu;
    pthread_cond_t ckcv;
} sq_store;

#define SQ(s) ((sq_store *)(void *)(s))

/* A study's counters over a set of frames, in the order of the studies
 * table's n_* columns and cs_study_counts (the last: MAX capture time,
 * NULL when none). Used by the schema 3 back-fill, the frame calls (for
 * the rows a batch replaces) and the bench's reference query. */
#define SQ_FRAME_AGG                                                    \
    "COUNT(*), COALESCE(SUM(ok),0), COALESCE(SUM(readable),0),"         \
    " COALESCE(SUM(bleeding),0), COALESCE(SUM(exposure='too_dark'),0)," \
    " COALESCE(SUM(exposure='too_bright'),0), COALESCE(SUM(blurry),0)," \
    " COALESCE(SUM(polyp_flag),0), MAX(capture_time_us)"
#define SQ_N_COUNTERS 8

static inline cs_status db_fail(sq_store *q, cs_error *err, const char *what)
{
    return cs_error_set(err, CS_ERR_IO, "database: %s: %s", what, sqlite3_errmsg(q->db));
}

/* The cached statement for `sql`, reset with no bindings, under the lock.
 * The caller hands it back with done() (which resets it, so it holds no
 * read transaction open); it never finalizes it. One statement must not be
 * in use twice at once: helpers that share SQL finish with it before they
 * return. Defined in store_sqlite.c. */
cs_status sq_stmt(sq_store *q, const char *sql, sqlite3_stmt **st, cs_error *err);
/* Finalize every cached statement (at close). */
void sq_stmt_cache_clear(sq_store *q);

static inline cs_status prep(sq_store *q, const char *sql, sqlite3_stmt **st, cs_error *err)
{
    return sq_stmt(q, sql, st, err);
}

/* Hand a statement from prep() back (NULL is fine). */
static inline void done(sqlite3_stmt *st)
{
    if (st)
        sqlite3_reset(st);
}

/* Copy text column `col` into out[cap] ("" for NULL). */
static inline void text(sqlite3_stmt *st, int col, char *out, size_t cap)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    snprintf(out, cap, "%s", t ? (const char *)t : "");
}

/* A typed statement argument: build them with sq_text/sq_i64/sq_f64/
 * sq_null, so the compiler checks each value's type. */
typedef enum { SQ_NULL, SQ_TEXT, SQ_I64, SQ_F64 } sq_kind;
typedef struct sq_arg {
    sq_kind kind;
    const char *t;
    int64_t i;
    double d;
} sq_arg;

static inline sq_arg sq_text(const char *v)
{
    return (sq_arg){.kind = v ? SQ_TEXT : SQ_NULL, .t = v};
}
static inline sq_arg sq_i64(int64_t v) { return (sq_arg){.kind = SQ_I64, .i = v}; }
static inline sq_arg sq_f64(double v) { return (sq_arg){.kind = SQ_F64, .d = v}; }
static inline sq_arg sq_null(void) { return (sq_arg){.kind = SQ_NULL}; }

/* Bind args[0..n) to positions 1..n of `st`; a failed bind (out of memory,
 * a string too big) is reported once, here. */
static inline cs_status bind_args(sq_store *q, sqlite3_stmt *st, const sq_arg *args, size_t n,
                                  cs_error *err)
{
    for (size_t i = 0; i < n; i++) {
        int pos = (int)i + 1, rc;
        switch (args[i].kind) {
        case SQ_TEXT: rc = sqlite3_bind_text(st, pos, args[i].t, -1, SQLITE_TRANSIENT); break;
        case SQ_I64: rc = sqlite3_bind_int64(st, pos, args[i].i); break;
        case SQ_F64: rc = sqlite3_bind_double(st, pos, args[i].d); break;
        default: rc = sqlite3_bind_null(st, pos); break;
        }
        if (rc != SQLITE_OK)
            return db_fail(q, err, "bind");
    }
    return CS_OK;
}

#define SQ_ARGS(...) \
    (const sq_arg[]){__VA_ARGS__}, sizeof((const sq_arg[]){__VA_ARGS__}) / sizeof(sq_arg)
/* sq_bind(q, st, err, sq_text(a), sq_i64(b), ...) */
#define sq_bind(q, st, err, ...) bind_args((q), (st), SQ_ARGS(__VA_ARGS__), (err))

/* Run `sql` (a write, or a read whose rows are not wanted) with `args`;
 * *changes (when not NULL) gets the rows it changed. */
static inline cs_status run_args(sq_store *q, const char *sql, const sq_arg *args, size_t n,
                                 int *changes, cs_error *err)
{
    sqlite3_stmt *st = NULL;
    cs_status r = prep(q, sql, &st, err);
    if (r == CS_OK)
        r = bind_args(q, st, args, n, err);
    if (r == CS_OK && sqlite3_step(st) != SQLITE_DONE)
        r = db_fail(q, err, "update");
    if (r == CS_OK && changes)
        *changes = sqlite3_changes(q->db);
    done(st);
    return r;
}

/* run(q, sql, &changes or NULL, err, sq_text(a), ...) */
#define run(q, sql, changes, err, ...) run_args((q), (sql), SQ_ARGS(__VA_ARGS__), (changes), (err))

/* BEGIN IMMEDIATE: the write lock is taken now, so what a call reads
 * before it writes (a version, a signature) cannot change under it. */
static inline cs_status begin(sq_store *q, bool *in_tx, cs_error *err)
{
    if (sqlite3_exec(q->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return db_fail(q, err, "begin");
    *in_tx = true;
    return CS_OK;
}

static inline cs_status commit(sq_store *q, bool *in_tx, cs_error *err)
{
    if (sqlite3_exec(q->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        return db_fail(q, err, "commit");
    *in_tx = false;
    return CS_OK;
}

/* Undo an unfinished transaction (a refused change or a failure). */
static inline void rollback(sq_store *q, bool in_tx)
{
    if (in_tx)
        sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
}

/* Step `st` to the end, reading each row through `read` into a malloc'd
 * array of `size`-byte records: *out (NULL when *n is 0). `st` stays the
 * caller's to hand back with done(). */
static inline cs_status list_rows(sq_store *q, sqlite3_stmt *st,
                                  void (*read)(sqlite3_stmt *, void *), size_t size, void **out,
                                  size_t *n, const char *what, cs_error *err)
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

/* Every row `sql` selects with `args`, through `read`, into a malloc'd
 * array (*out, NULL when *n is 0). Takes q->lock itself: a whole call. */
static inline cs_status list_query(sq_store *q, const char *sql, const sq_arg *args, size_t nargs,
                                   void (*read)(sqlite3_stmt *, void *), size_t size, void **out,
                                   size_t *n, const char *what, cs_error *err)
{
    sqlite3_stmt *st = NULL;
    *out = NULL;
    *n = 0;
    pthread_mutex_lock(&q->lock);
    cs_status r = prep(q, sql, &st, err);
    if (r == CS_OK)
        r = bind_args(q, st, args, nargs, err);
    if (r == CS_OK)
        r = list_rows(q, st, read, size, out, n, what, err);
    done(st);
    pthread_mutex_unlock(&q->lock);
    return r;
}
/* list_query(q, sql, read, out, n, what, err, sq_text(a), ...): *out's
 * element size comes from its type. */
#define sq_list(q, sql, read, out, n, what, err, ...)                                         \
    list_query((q), (sql), SQ_ARGS(__VA_ARGS__), (read), sizeof **(out), (void **)(out), (n), \
               (what), (err))

/* Fetch the one row `sql` selects for `id` through `read` into `out`;
 * *found says whether there was one. Takes q->lock itself: a whole call. */
static inline cs_status get_by_id(sq_store *q, const char *sql, const char *id,
                                  void (*read)(sqlite3_stmt *, void *), void *out, bool *found,
                                  const char *what, cs_error *err)
{
    sqlite3_stmt *st = NULL;
    *found = false;
    pthread_mutex_lock(&q->lock);
    cs_status r = prep(q, sql, &st, err);
    if (r == CS_OK)
        r = sq_bind(q, st, err, sq_text(id));
    if (r == CS_OK) {
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            read(st, out);
            *found = true;
        } else if (rc != SQLITE_DONE) {
            r = db_fail(q, err, what);
        }
    }
    done(st);
    pthread_mutex_unlock(&q->lock);
    return r;
}

/* The reading workstation's calls (store.h documents each). */
cs_status sq_user_add(cs_store *s, const cs_user_rec *u, bool *exists, cs_error *err);
cs_status sq_user_get(cs_store *s, const char *name, bool *found, cs_user_rec *out, cs_error *err);
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
cs_status sq_finding_create(cs_store *s, cs_finding_rec *f, cs_change_outcome *out, cs_error *err);
cs_status sq_finding_update(cs_store *s, cs_finding_rec *f, int expected_version,
                            cs_change_outcome *out, cs_error *err);
cs_status sq_finding_delete(cs_store *s, const char *study, int64_t id, const char *by,
                            int64_t at_ms, int expected_version, cs_change_outcome *out,
                            cs_error *err);
cs_status sq_findings_list(cs_store *s, const char *study, bool include_deleted,
                           cs_finding_rec **out, size_t *n, cs_error *err);
cs_status sq_finding_history(cs_store *s, const char *study, int64_t id, cs_finding_rec **out,
                             size_t *n, cs_error *err);
cs_status sq_mark_set(cs_store *s, const char *study, const cs_mark_rec *m, cs_change_outcome *out,
                      cs_error *err);
cs_status sq_mark_add(cs_store *s, const char *study, const cs_mark_rec *m, cs_change_outcome *out,
                      cs_error *err);
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

/* Rules checked in the transaction (schema 3): sign and last admin in
 * store_sqlite_ws.c, close and the upload lock in store_sqlite_close.c. */
cs_status sq_addendum_add(cs_store *s, cs_addendum_rec *a, cs_check_outcome *outcome,
                          cs_error *err);
cs_status sq_addenda_list(cs_store *s, const char *study, cs_addendum_rec **out, size_t *n,
                          cs_error *err);
cs_status sq_report_sign_checked(cs_store *s, const char *study, const char *by, int64_t at_ms,
                                 int shown_version, const char *shown_basis,
                                 cs_check_outcome *outcome, cs_report_rec *out, cs_error *err);
cs_status sq_report_basis(cs_store *s, const char *study, char basis[CS_REPORT_BASIS_HEX],
                          cs_error *err);
cs_status sq_user_update_checked(cs_store *s, const cs_user_rec *u, cs_check_outcome *outcome,
                                 cs_error *err);
cs_status sq_study_close(cs_store *s, const char *study, const char *by, int64_t at_ms,
                         cs_check_outcome *outcome, cs_error *err);
cs_status sq_upload_update_checked(cs_store *s, const cs_upload_rec *rec, cs_check_outcome *outcome,
                                   cs_error *err);
cs_status sq_upload_create_checked(cs_store *s, const cs_upload_rec *rec, cs_check_outcome *outcome,
                                   cs_error *err);

/* The live care loop (schema 4): store_sqlite_care.c. */
cs_status sq_hub_status_put(cs_store *s, const char *study, const cs_hub_status_rec *st,
                            cs_hub_status_rec *previous, cs_check_outcome *outcome, cs_error *err);
cs_status sq_hub_status_get(cs_store *s, const char *study, cs_hub_status_rec *out, cs_error *err);
cs_status sq_hub_status_list(cs_store *s, cs_hub_status_item **out, size_t *n, cs_error *err);
cs_status sq_study_protocol_set(cs_store *s, const char *study, const char *json,
                                cs_check_outcome *outcome, cs_error *err);
cs_status sq_study_protocol_get(cs_store *s, const char *study, char **json, cs_error *err);
cs_status sq_alert_raise(cs_store *s, cs_alert_rec *rec, bool *raised, cs_check_outcome *outcome,
                         cs_error *err);
/* Insert alert `rec` unless its (study, kind, key) exists (*changes 0),
 * inside the caller's transaction, under q->lock: how another call raises
 * an alert with the change that causes it (a suspected-cancer finding). */
cs_status sq_alert_insert(sq_store *q, const cs_alert_rec *rec, int *changes, cs_error *err);
cs_status sq_pacs_enqueue_unrequested(cs_store *s, const char *by, int64_t now_ms, int *queued,
                                      cs_error *err);
cs_status sq_alerts_open(cs_store *s, size_t max, cs_alert_rec **out, size_t *n, cs_error *err);
cs_status sq_alerts_list(cs_store *s, const char *study, cs_alert_rec **out, size_t *n,
                         cs_error *err);
cs_status sq_alert_ack(cs_store *s, const char *study, int64_t id, const char *by, int64_t at_ms,
                       cs_check_outcome *outcome, cs_alert_rec *out, cs_error *err);
cs_status sq_alerts_due(cs_store *s, int64_t now_ms, size_t max, cs_alert_rec **out, size_t *n,
                        cs_error *err);
cs_status sq_alert_delivery(cs_store *s, int64_t id, int64_t delivered_at_ms, int attempts,
                            int64_t next_attempt_ms, cs_error *err);
cs_status sq_alert_claim(cs_store *s, int64_t id, int64_t seen_next_attempt_ms,
                         int64_t lease_until_ms, bool *claimed, cs_error *err);
/* store_sqlite_pacs.c: the PACS export queue (issue 9 part) */
cs_status sq_pacs_enqueue(cs_store *s, const char *study, const char *by, int64_t now_ms,
                          cs_check_outcome *outcome, cs_pacs_export_rec *out, cs_error *err);
cs_status sq_pacs_get(cs_store *s, const char *study, bool *found, cs_pacs_export_rec *out,
                      cs_error *err);
cs_status sq_pacs_due(cs_store *s, int64_t now_ms, size_t max, cs_pacs_export_rec **out, size_t *n,
                      cs_error *err);
cs_status sq_pacs_record(cs_store *s, const cs_pacs_export_rec *rec, bool *applied, cs_error *err);
cs_status sq_pacs_claim(cs_store *s, const cs_pacs_export_rec *seen, int64_t lease_until_ms,
                        bool *claimed, cs_error *err);
cs_status sq_patient_code_set(cs_store *s, const char *study, const char *code_hash,
                              int64_t expires_at, cs_check_outcome *outcome, cs_error *err);
cs_status sq_patient_study(cs_store *s, const char *code_hash, int64_t now, bool *found,
                           bool *expired, char *study, cs_error *err);
cs_status sq_prep_tick(cs_store *s, const char *study, const char *step, int64_t at_ms,
                       cs_check_outcome *outcome, cs_error *err);
cs_status sq_prep_ticks(cs_store *s, const char *study, cs_prep_tick_rec **out, size_t *n,
                        cs_error *err);

/* reader training (store_sqlite_training.c) */
cs_status sq_course_create(cs_store *s, const cs_course_rec *c, cs_check_outcome *outcome,
                           cs_error *err);
cs_status sq_course_get(cs_store *s, const char *id, bool *found, cs_course_rec *out,
                        cs_error *err);
cs_status sq_courses_list(cs_store *s, cs_course_rec **out, size_t *n, cs_error *err);
cs_status sq_case_create(cs_store *s, const cs_case_rec *c, cs_check_outcome *outcome,
                         cs_error *err);
cs_status sq_case_get(cs_store *s, const char *id, bool *found, cs_case_rec *out, cs_error *err);
cs_status sq_cases_list(cs_store *s, const char *course, cs_case_rec **out, size_t *n,
                        cs_error *err);
cs_status sq_attempt_open(cs_store *s, const char *case_id, const char *trainee, int64_t now_ms,
                          cs_attempt_rec *out, cs_check_outcome *outcome, cs_error *err);
cs_status sq_attempt_get(cs_store *s, int64_t id, bool *found, cs_attempt_rec *out, cs_error *err);
cs_status sq_attempt_answer(cs_store *s, int64_t id, const char *answer, cs_check_outcome *outcome,
                            cs_error *err);
cs_status sq_attempt_submit(cs_store *s, int64_t id, const char *answer, const char *score,
                            int64_t at_ms, cs_check_outcome *outcome, cs_error *err);
cs_status sq_attempts_list(cs_store *s, const char *course, const char *trainee,
                           cs_attempt_rec **out, size_t *n, cs_error *err);

cs_status sq_reading_add(cs_store *s, const char *study, const char *reader, const char *view,
                         double seconds, int64_t at_ms, cs_check_outcome *outcome, cs_error *err);
cs_status sq_reading_list(cs_store *s, const char *study, cs_reading_rec **out, size_t *n,
                          cs_error *err);

#endif
