/* store_pg.h - what the PostgreSQL backend's files share: the handle, the
 * statement helpers, and the calls store_pg_ws.c puts in store_pg.c's
 * table of operations.
 *
 * One libpq connection per store, calls serialised on it by a mutex (as
 * the SQLite backend does), each call one transaction. Between processes
 * (several servers on one database) the rule checks hold because every
 * call that reads before it writes takes a transaction-scoped advisory
 * lock first (pg_lock_study(), pg_lock_users()): the PostgreSQL form of
 * SQLite's BEGIN IMMEDIATE, narrowed to one study (or to the users). In
 * READ COMMITTED each later statement of the transaction then sees what
 * the previous lock holder committed.
 *
 * Every helper here runs with q->lock held by its caller. A lost
 * connection is reset on the next call (prepared statements are then
 * prepared again). */
#ifndef CS_STORE_PG_H
#define CS_STORE_PG_H

#include "store/store_backend.h"

#include <libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

/* Prepared statements, keyed by their SQL text (as the SQLite cache). */
#define PG_STMT_CACHE 160

typedef struct pg_cached {
    uint64_t hash;
    char *sql;
    char name[16];
} pg_cached;

typedef struct pg_store {
    struct cs_store base;
    PGconn *conn;
    pthread_mutex_t lock;
    pg_cached cache[PG_STMT_CACHE]; /* guarded by lock */
    size_t ncache;
    unsigned next_name;
} pg_store;

#define PGQ(s) ((pg_store *)(void *)(s))

/* A typed statement argument, as the SQLite backend's sq_arg: built with
 * pg_text/pg_i64/pg_f64/pg_null; sent as text. */
typedef enum { PGA_NULL, PGA_TEXT, PGA_I64, PGA_F64 } pg_kind;
typedef struct pg_arg {
    pg_kind kind;
    const char *t;
    int64_t i;
    double d;
} pg_arg;

static inline pg_arg pg_text(const char *v)
{
    return (pg_arg){.kind = v ? PGA_TEXT : PGA_NULL, .t = v};
}
static inline pg_arg pg_i64(int64_t v) { return (pg_arg){.kind = PGA_I64, .i = v}; }
static inline pg_arg pg_f64(double v) { return (pg_arg){.kind = PGA_F64, .d = v}; }
static inline pg_arg pg_null(void) { return (pg_arg){.kind = PGA_NULL}; }

#define PG_ARGS(...) \
    (const pg_arg[]){__VA_ARGS__}, sizeof((const pg_arg[]){__VA_ARGS__}) / sizeof(pg_arg)

/* Run `sql` ($1..$n placeholders) with args[0..n) as a cached prepared
 * statement. *res (when not NULL) gets the result (the caller PQclear()s
 * it; NULL on error); *changes (when not NULL) gets the rows changed.
 * `what` names the step in the error. Defined in store_pg.c. */
cs_status pg_exec(pg_store *q, const char *sql, const pg_arg *args, size_t n, PGresult **res,
                  int *changes, const char *what, cs_error *err);

/* pg_query(q, sql, &res, what, err, pg_text(a), ...): rows wanted. */
#define pg_query(q, sql, res, what, err, ...) \
    pg_exec((q), (sql), PG_ARGS(__VA_ARGS__), (res), NULL, (what), (err))
/* pg_run(q, sql, &changes or NULL, err, pg_text(a), ...): a write. */
#define pg_run(q, sql, changes, err, ...) \
    pg_exec((q), (sql), PG_ARGS(__VA_ARGS__), NULL, (changes), "update", (err))

/* A statement without arguments or a cached plan (BEGIN, COMMIT, a
 * migration); `what` names it in the error. */
cs_status pg_simple(pg_store *q, const char *sql, const char *what, cs_error *err);

/* BEGIN; the caller rolls back with pg_rollback() unless it commits. */
static inline cs_status pg_begin(pg_store *q, bool *in_tx, cs_error *err)
{
    cs_status r = pg_simple(q, "BEGIN", "begin", err);
    *in_tx = r == CS_OK;
    return r;
}

static inline cs_status pg_commit(pg_store *q, bool *in_tx, cs_error *err)
{
    cs_status r = pg_simple(q, "COMMIT", "commit", err);
    *in_tx = false; /* a failed COMMIT has ended the transaction too */
    return r;
}

static inline void pg_rollback(pg_store *q, bool in_tx)
{
    if (in_tx)
        PQclear(PQexec(q->conn, "ROLLBACK"));
}

/* BEGIN and take the study's transaction lock (see the top of this file):
 * every call that checks `study`'s state and then writes does this. */
static inline cs_status pg_begin_study(pg_store *q, const char *study, bool *in_tx, cs_error *err)
{
    cs_status r = pg_begin(q, in_tx, err);
    if (r == CS_OK)
        r = pg_query(q, "SELECT pg_advisory_xact_lock(hashtextextended('study:' || $1::text, 0))",
                     NULL, "lock study", err, pg_text(study));
    return r;
}

/* BEGIN and take the users' transaction lock (the last-admin rule). */
static inline cs_status pg_begin_users(pg_store *q, bool *in_tx, cs_error *err)
{
    cs_status r = pg_begin(q, in_tx, err);
    if (r == CS_OK)
        r = pg_simple(q, "SELECT pg_advisory_xact_lock(hashtextextended('users', 0))",
                      "lock the users", err);
    return r;
}

/* Column readers: text into out[cap] ("" for NULL), integers (0 for
 * NULL), doubles (0 for NULL). */
static inline void pg_col_text(const PGresult *res, int row, int col, char *out, size_t cap)
{
    snprintf(out, cap, "%s", PQgetisnull(res, row, col) ? "" : PQgetvalue(res, row, col));
}

static inline int64_t pg_col_i64(const PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) ? 0 : strtoll(PQgetvalue(res, row, col), NULL, 10);
}

static inline double pg_col_f64(const PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) ? 0.0 : strtod(PQgetvalue(res, row, col), NULL);
}

static inline bool pg_col_null(const PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) != 0;
}

/* Read every row of `res` through `read` into a malloc'd array of
 * `size`-byte records: *out (NULL when *n is 0). */
cs_status pg_list_rows(const PGresult *res, void (*read)(const PGresult *, int, void *),
                       size_t size, void **out, size_t *n, const char *what, cs_error *err);

/* The reading workstation's calls (store.h documents each); store_pg_ws.c. */
cs_status pg_user_add(cs_store *s, const cs_user_rec *u, bool *exists, cs_error *err);
cs_status pg_user_get(cs_store *s, const char *name, bool *found, cs_user_rec *out, cs_error *err);
cs_status pg_user_update(cs_store *s, const cs_user_rec *u, bool *found, cs_error *err);
cs_status pg_user_list(cs_store *s, cs_user_rec **out, size_t *n, cs_error *err);
cs_status pg_session_create(cs_store *s, const cs_session_rec *r, cs_error *err);
cs_status pg_session_get(cs_store *s, const char *id_hash, bool *found, cs_session_rec *out,
                         cs_error *err);
cs_status pg_session_touch(cs_store *s, const char *id_hash, int64_t now, cs_error *err);
cs_status pg_session_delete(cs_store *s, const char *id_hash, cs_error *err);
cs_status pg_sessions_purge(cs_store *s, int64_t idle_before, int64_t created_before, int *n,
                            cs_error *err);
cs_status pg_audit_append(cs_store *s, const cs_audit_rec *r, cs_error *err);
cs_status pg_audit_query(cs_store *s, const cs_audit_query *qy, cs_audit_rec **out, size_t *n,
                         cs_error *err);
cs_status pg_finding_create(cs_store *s, cs_finding_rec *f, cs_change_outcome *out, cs_error *err);
cs_status pg_finding_update(cs_store *s, cs_finding_rec *f, int expected_version,
                            cs_change_outcome *out, cs_error *err);
cs_status pg_finding_delete(cs_store *s, const char *study, int64_t id, const char *by,
                            int64_t at_ms, int expected_version, cs_change_outcome *out,
                            cs_error *err);
cs_status pg_findings_list(cs_store *s, const char *study, bool include_deleted,
                           cs_finding_rec **out, size_t *n, cs_error *err);
cs_status pg_finding_history(cs_store *s, const char *study, int64_t id, cs_finding_rec **out,
                             size_t *n, cs_error *err);
cs_status pg_mark_set(cs_store *s, const char *study, const cs_mark_rec *m, cs_change_outcome *out,
                      cs_error *err);
cs_status pg_mark_add(cs_store *s, const char *study, const cs_mark_rec *m, cs_change_outcome *out,
                      cs_error *err);
cs_status pg_mark_delete(cs_store *s, const char *study, const char *kind, const char *key,
                         cs_change_outcome *out, cs_error *err);
cs_status pg_marks_list(cs_store *s, const char *study, cs_mark_rec **out, size_t *n,
                        cs_error *err);
cs_status pg_report_get(cs_store *s, const char *study, bool *found, cs_report_rec *out,
                        cs_error *err);
cs_status pg_report_save(cs_store *s, cs_report_rec *r, int expected_version,
                         cs_change_outcome *out, cs_error *err);
cs_status pg_report_sign(cs_store *s, const char *study, const char *by, int64_t at_ms,
                         int expected_version, cs_change_outcome *outcome, cs_report_rec *out,
                         cs_error *err);
cs_status pg_report_signed(cs_store *s, const char *study, bool *is_signed, cs_error *err);
cs_status pg_addendum_add(cs_store *s, cs_addendum_rec *a, cs_check_outcome *outcome,
                          cs_error *err);
cs_status pg_addenda_list(cs_store *s, const char *study, cs_addendum_rec **out, size_t *n,
                          cs_error *err);
cs_status pg_report_sign_checked(cs_store *s, const char *study, const char *by, int64_t at_ms,
                                 int shown_version, const char *shown_basis,
                                 cs_check_outcome *outcome, cs_report_rec *out, cs_error *err);
cs_status pg_report_basis(cs_store *s, const char *study, char basis[CS_REPORT_BASIS_HEX],
                          cs_error *err);
cs_status pg_user_update_checked(cs_store *s, const cs_user_rec *u, cs_check_outcome *outcome,
                                 cs_error *err);
cs_status pg_study_close(cs_store *s, const char *study, const char *by, int64_t at_ms,
                         cs_check_outcome *outcome, cs_error *err);
cs_status pg_upload_update_checked(cs_store *s, const cs_upload_rec *rec, cs_check_outcome *outcome,
                                   cs_error *err);
cs_status pg_upload_create_checked(cs_store *s, const cs_upload_rec *rec, cs_check_outcome *outcome,
                                   cs_error *err);

/* The live care loop (schema 4); store_pg_care.c. */
cs_status pg_hub_status_put(cs_store *s, const char *study, const cs_hub_status_rec *st,
                            cs_hub_status_rec *previous, cs_check_outcome *outcome, cs_error *err);
cs_status pg_hub_status_get(cs_store *s, const char *study, cs_hub_status_rec *out, cs_error *err);
cs_status pg_hub_status_list(cs_store *s, cs_hub_status_item **out, size_t *n, cs_error *err);
cs_status pg_study_protocol_set(cs_store *s, const char *study, const char *json,
                                cs_check_outcome *outcome, cs_error *err);
cs_status pg_study_protocol_get(cs_store *s, const char *study, char **json, cs_error *err);
cs_status pg_alert_raise(cs_store *s, cs_alert_rec *rec, bool *raised, cs_check_outcome *outcome,
                         cs_error *err);
/* Insert alert `rec` unless its (study, kind, key) exists (*changes 0),
 * inside the caller's transaction (under its study's lock), under
 * q->lock: how another call raises an alert with the change that causes
 * it (a suspected-cancer finding). */
cs_status pg_alert_insert(pg_store *q, const cs_alert_rec *rec, int *changes, cs_error *err);
cs_status pg_pacs_enqueue_unrequested(cs_store *s, const char *by, int64_t now_ms, int *queued,
                                      cs_error *err);
cs_status pg_alerts_open(cs_store *s, size_t max, cs_alert_rec **out, size_t *n, cs_error *err);
cs_status pg_alerts_list(cs_store *s, const char *study, cs_alert_rec **out, size_t *n,
                         cs_error *err);
cs_status pg_alert_ack(cs_store *s, const char *study, int64_t id, const char *by, int64_t at_ms,
                       cs_check_outcome *outcome, cs_alert_rec *out, cs_error *err);
cs_status pg_alerts_due(cs_store *s, int64_t now_ms, size_t max, cs_alert_rec **out, size_t *n,
                        cs_error *err);
cs_status pg_alert_delivery(cs_store *s, int64_t id, int64_t delivered_at_ms, int attempts,
                            int64_t next_attempt_ms, cs_error *err);
cs_status pg_alert_claim(cs_store *s, int64_t id, int64_t seen_next_attempt_ms,
                         int64_t lease_until_ms, bool *claimed, cs_error *err);
/* store_pg_pacs.c: the PACS export queue (issue 9 part) */
cs_status pg_pacs_enqueue(cs_store *s, const char *study, const char *by, int64_t now_ms,
                          cs_check_outcome *outcome, cs_pacs_export_rec *out, cs_error *err);
cs_status pg_pacs_get(cs_store *s, const char *study, bool *found, cs_pacs_export_rec *out,
                      cs_error *err);
cs_status pg_pacs_due(cs_store *s, int64_t now_ms, size_t max, cs_pacs_export_rec **out, size_t *n,
                      cs_error *err);
cs_status pg_pacs_record(cs_store *s, const cs_pacs_export_rec *rec, bool *applied, cs_error *err);
cs_status pg_pacs_claim(cs_store *s, const cs_pacs_export_rec *seen, int64_t lease_until_ms,
                        bool *claimed, cs_error *err);
cs_status pg_patient_code_set(cs_store *s, const char *study, const char *code_hash,
                              int64_t expires_at, cs_check_outcome *outcome, cs_error *err);
cs_status pg_patient_study(cs_store *s, const char *code_hash, int64_t now, bool *found,
                           bool *expired, char *study, cs_error *err);
cs_status pg_prep_tick(cs_store *s, const char *study, const char *step, int64_t at_ms,
                       cs_check_outcome *outcome, cs_error *err);
cs_status pg_prep_ticks(cs_store *s, const char *study, cs_prep_tick_rec **out, size_t *n,
                        cs_error *err);

/* reader training (store_pg_training.c) */
cs_status pg_course_create(cs_store *s, const cs_course_rec *c, cs_check_outcome *outcome,
                           cs_error *err);
cs_status pg_course_get(cs_store *s, const char *id, bool *found, cs_course_rec *out,
                        cs_error *err);
cs_status pg_courses_list(cs_store *s, cs_course_rec **out, size_t *n, cs_error *err);
cs_status pg_case_create(cs_store *s, const cs_case_rec *c, cs_check_outcome *outcome,
                         cs_error *err);
cs_status pg_case_get(cs_store *s, const char *id, bool *found, cs_case_rec *out, cs_error *err);
cs_status pg_cases_list(cs_store *s, const char *course, cs_case_rec **out, size_t *n,
                        cs_error *err);
cs_status pg_attempt_open(cs_store *s, const char *case_id, const char *trainee, int64_t now_ms,
                          cs_attempt_rec *out, cs_check_outcome *outcome, cs_error *err);
cs_status pg_attempt_get(cs_store *s, int64_t id, bool *found, cs_attempt_rec *out, cs_error *err);
cs_status pg_attempt_answer(cs_store *s, int64_t id, const char *answer, cs_check_outcome *outcome,
                            cs_error *err);
cs_status pg_attempt_submit(cs_store *s, int64_t id, const char *answer, const char *score,
                            int64_t at_ms, cs_check_outcome *outcome, cs_error *err);
cs_status pg_attempts_list(cs_store *s, const char *course, const char *trainee,
                           cs_attempt_rec **out, size_t *n, cs_error *err);

cs_status pg_reading_add(cs_store *s, const char *study, const char *reader, const char *view,
                         double seconds, int64_t at_ms, cs_check_outcome *outcome, cs_error *err);
cs_status pg_reading_list(cs_store *s, const char *study, cs_reading_rec **out, size_t *n,
                          cs_error *err);

/* several servers on one database (schema 10); store_pg_shared.c */
cs_status pg_login_counts(cs_store *s, const char *user, const char *ip, int64_t now_ms,
                          int64_t forget_ms, cs_login_counts *out, cs_error *err);
cs_status pg_login_failed(cs_store *s, const char *user, const char *ip, int64_t now_ms,
                          int64_t forget_ms, cs_error *err);
cs_status pg_login_refused(cs_store *s, const char *user, const char *ip, int64_t now_ms,
                           cs_error *err);
cs_status pg_login_cleared(cs_store *s, const char *user, const char *ip, cs_login_burst_rec *ended,
                           cs_error *err);
cs_status pg_login_take_burst(cs_store *s, int64_t now_ms, int64_t quiet_ms, bool all,
                              int64_t forget_ms, bool *found, cs_login_burst_rec *out,
                              cs_error *err);
cs_status pg_upload_lease_take(cs_store *s, const char *id, int64_t stale_ms, bool *took,
                               cs_error *err);
cs_status pg_upload_lease_beat(cs_store *s, const char *id, bool *held, cs_error *err);
cs_status pg_upload_lease_drop(cs_store *s, const char *id, cs_error *err);
cs_status pg_upload_lease_held(cs_store *s, const char *id, bool *held, cs_error *err);
cs_status pg_ingest_claim(cs_store *s, const char *study, int64_t lease_ms, bool *got, bool *fresh,
                          cs_error *err);
cs_status pg_ingest_unclaim(cs_store *s, const char *study, bool *woken, cs_error *err);
cs_status pg_notify(cs_store *s, const char *channel, const char *payload, cs_error *err);
cs_status pg_listen(cs_store *s, const char *channel, cs_store_listener **out, cs_error *err);

#endif
