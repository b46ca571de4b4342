/* store_pg_ws.c - the PostgreSQL backend's reading-workstation calls and
 * the rules checked in the transaction (schema 3): users, sessions, the
 * audit log, findings, marks, reports, signing, closing a study and the
 * upload lock. Each call holds the mutex and is one transaction; every
 * check-then-write takes the study's (or the users') advisory lock first
 * (store_pg.h), so the check and the write see the same state whichever
 * server runs them. Semantics as store_sqlite_ws.c and
 * store_sqlite_close.c. */
#include "store/store_pg.h"

#include <ctype.h>
#include <jansson.h>
#include <string.h>

/* Whether `study` exists and whether its report is signed. */
static cs_status study_lock(pg_store *q, const char *study, bool *exists, bool *is_signed,
                            cs_error *err)
{
    PGresult *res = NULL;
    cs_status r = pg_query(q,
                           "SELECT EXISTS (SELECT 1 FROM studies WHERE id = $1)::integer,"
                           " EXISTS (SELECT 1 FROM reports WHERE study = $1"
                           " AND state = 'signed')::integer",
                           &res, "read study state", err, pg_text(study));
    if (r == CS_OK) {
        *exists = pg_col_i64(res, 0, 0) != 0;
        *is_signed = pg_col_i64(res, 0, 1) != 0;
    }
    PQclear(res);
    return r;
}

/* ---- users and sessions -------------------------------------------------- */

#define USER_COLS "name, role, pw_hash, created_at, disabled"

static void read_user(const PGresult *res, int row, void *out)
{
    cs_user_rec *o = out;
    memset(o, 0, sizeof *o);
    pg_col_text(res, row, 0, o->name, sizeof o->name);
    pg_col_text(res, row, 1, o->role, sizeof o->role);
    pg_col_text(res, row, 2, o->pw_hash, sizeof o->pw_hash);
    o->created_at = pg_col_i64(res, row, 3);
    o->disabled = pg_col_i64(res, row, 4) != 0;
}

/* The one row `sql` selects with `args` through `read`; a whole call. */
static cs_status get_one(pg_store *q, const char *sql, const char *id,
                         void (*read)(const PGresult *, int, void *), void *out, bool *found,
                         const char *what, cs_error *err)
{
    PGresult *res = NULL;
    *found = false;
    pthread_mutex_lock(&q->lock);
    cs_status r = pg_query(q, sql, &res, what, err, pg_text(id));
    if (r == CS_OK && PQntuples(res) > 0) {
        read(res, 0, out);
        *found = true;
    }
    PQclear(res);
    pthread_mutex_unlock(&q->lock);
    return r;
}

/* A list query with `args`, as a whole call. */
static cs_status list_query(pg_store *q, const char *sql, const pg_arg *args, size_t nargs,
                            void (*read)(const PGresult *, int, void *), size_t size, void **out,
                            size_t *n, const char *what, cs_error *err)
{
    PGresult *res = NULL;
    *out = NULL;
    *n = 0;
    pthread_mutex_lock(&q->lock);
    cs_status r = pg_exec(q, sql, args, nargs, &res, NULL, what, err);
    if (r == CS_OK)
        r = pg_list_rows(res, read, size, out, n, what, err);
    PQclear(res);
    pthread_mutex_unlock(&q->lock);
    return r;
}

cs_status pg_user_add(cs_store *s, const cs_user_rec *u, bool *exists, cs_error *err)
{
    pg_store *q = PGQ(s);
    int changes = 0;
    pthread_mutex_lock(&q->lock);
    cs_status r = pg_run(q,
                         "INSERT INTO users (" USER_COLS ") VALUES ($1, $2, $3, $4, $5)"
                         " ON CONFLICT (name) DO NOTHING",
                         &changes, err, pg_text(u->name), pg_text(u->role), pg_text(u->pw_hash),
                         pg_i64(u->created_at), pg_i64(u->disabled));
    pthread_mutex_unlock(&q->lock);
    *exists = r == CS_OK && changes == 0;
    return r;
}

cs_status pg_user_get(cs_store *s, const char *name, bool *found, cs_user_rec *out, cs_error *err)
{
    return get_one(PGQ(s), "SELECT " USER_COLS " FROM users WHERE name = $1", name, read_user, out,
                   found, "read user", err);
}

/* The body of both user updates, under the lock: load the user, apply the
 * last-admin rule when `checked`, save, end sessions. */
static cs_status user_update(pg_store *q, const cs_user_rec *u, bool checked, cs_check_outcome *out,
                             cs_error *err)
{
    PGresult *res = NULL;
    bool in_tx = false;
    cs_user_rec old;
    *out = CS_CHECK_NOT_FOUND;
    cs_status r = pg_begin_users(q, &in_tx, err);
    if (r != CS_OK ||
        (r = pg_query(q, "SELECT " USER_COLS " FROM users WHERE name = $1", &res, "read user", err,
                      pg_text(u->name))) != CS_OK ||
        PQntuples(res) == 0)
        goto fail;
    read_user(res, 0, &old);
    PQclear(res);
    res = NULL;
    bool was_admin = strcmp(old.role, "admin") == 0 && !old.disabled;
    bool is_admin = strcmp(u->role, "admin") == 0 && !u->disabled;
    if (checked && was_admin && !is_admin) {
        /* Counted under the users' lock: two admins demoting each other
         * at once (on one server or two) cannot both pass. */
        if ((r = pg_query(q,
                          "SELECT COUNT(*) FROM users WHERE role = 'admin' AND disabled = 0"
                          " AND name <> $1",
                          &res, "count admins", err, pg_text(u->name))) != CS_OK)
            goto fail;
        if (pg_col_i64(res, 0, 0) == 0) {
            *out = CS_CHECK_LAST_ADMIN;
            goto fail;
        }
    }
    if ((r = pg_run(q, "UPDATE users SET role = $1, pw_hash = $2, disabled = $3 WHERE name = $4",
                    NULL, err, pg_text(u->role), pg_text(u->pw_hash), pg_i64(u->disabled),
                    pg_text(u->name))) != CS_OK)
        goto fail;
    /* A disabled user or a new password ends every session of the user in
     * this transaction. */
    if ((u->disabled || strcmp(old.pw_hash, u->pw_hash) != 0) &&
        (r = pg_run(q, "DELETE FROM sessions WHERE \"user\" = $1", NULL, err, pg_text(u->name))) !=
            CS_OK)
        goto fail;
    if ((r = pg_commit(q, &in_tx, err)) == CS_OK)
        *out = CS_CHECK_OK;
fail:
    PQclear(res);
    pg_rollback(q, in_tx);
    if (r != CS_OK)
        *out = CS_CHECK_NOT_FOUND;
    return r;
}

cs_status pg_user_update(cs_store *s, const cs_user_rec *u, bool *found, cs_error *err)
{
    pg_store *q = PGQ(s);
    cs_check_outcome out;
    pthread_mutex_lock(&q->lock);
    cs_status r = user_update(q, u, false, &out, err);
    pthread_mutex_unlock(&q->lock);
    *found = r == CS_OK && out == CS_CHECK_OK;
    return r;
}

cs_status pg_user_update_checked(cs_store *s, const cs_user_rec *u, cs_check_outcome *out,
                                 cs_error *err)
{
    pg_store *q = PGQ(s);
    pthread_mutex_lock(&q->lock);
    cs_status r = user_update(q, u, true, out, err);
    pthread_mutex_unlock(&q->lock);
    return r;
}

cs_status pg_user_list(cs_store *s, cs_user_rec **out, size_t *n, cs_error *err)
{
    void *v = NULL;
    cs_status r = list_query(PGQ(s), "SELECT " USER_COLS " FROM users ORDER BY name", NULL, 0,
                             read_user, sizeof **out, &v, n, "list users", err);
    *out = v;
    return r;
}

cs_status pg_session_create(cs_store *s, const cs_session_rec *rec, cs_error *err)
{
    pg_store *q = PGQ(s);
    pthread_mutex_lock(&q->lock);
    cs_status r = pg_run(q,
                         "INSERT INTO sessions (id_hash, \"user\", csrf, ip, created_at,"
                         " last_seen) VALUES ($1, $2, $3, $4, $5, $6)",
                         NULL, err, pg_text(rec->id_hash), pg_text(rec->user), pg_text(rec->csrf),
                         pg_text(rec->ip), pg_i64(rec->created_at), pg_i64(rec->last_seen));
    pthread_mutex_unlock(&q->lock);
    return r;
}

static void read_session(const PGresult *res, int row, void *out)
{
    cs_session_rec *o = out;
    memset(o, 0, sizeof *o);
    pg_col_text(res, row, 0, o->id_hash, sizeof o->id_hash);
    pg_col_text(res, row, 1, o->user, sizeof o->user);
    pg_col_text(res, row, 2, o->role, sizeof o->role);
    pg_col_text(res, row, 3, o->csrf, sizeof o->csrf);
    pg_col_text(res, row, 4, o->ip, sizeof o->ip);
    o->created_at = pg_col_i64(res, row, 5);
    o->last_seen = pg_col_i64(res, row, 6);
}

cs_status pg_session_get(cs_store *s, const char *id_hash, bool *found, cs_session_rec *out,
                         cs_error *err)
{
    /* The join is the check: a session outlives neither its user nor the
     * user's being enabled, and its role is the user's current one. */
    return get_one(PGQ(s),
                   "SELECT s.id_hash, s.\"user\", u.role, s.csrf, s.ip, s.created_at,"
                   " s.last_seen FROM sessions s JOIN users u ON u.name = s.\"user\""
                   " WHERE s.id_hash = $1 AND u.disabled = 0",
                   id_hash, read_session, out, found, "read session", err);
}

cs_status pg_session_touch(cs_store *s, const char *id_hash, int64_t now, cs_error *err)
{
    pg_store *q = PGQ(s);
    pthread_mutex_lock(&q->lock);
    cs_status r = pg_run(q, "UPDATE sessions SET last_seen = $1 WHERE id_hash = $2", NULL, err,
                         pg_i64(now), pg_text(id_hash));
    pthread_mutex_unlock(&q->lock);
    return r;
}

cs_status pg_session_delete(cs_store *s, const char *id_hash, cs_error *err)
{
    pg_store *q = PGQ(s);
    pthread_mutex_lock(&q->lock);
    cs_status r = pg_run(q, "DELETE FROM sessions WHERE id_hash = $1", NULL, err, pg_text(id_hash));
    pthread_mutex_unlock(&q->lock);
    return r;
}

cs_status pg_sessions_purge(cs_store *s, int64_t idle_before, int64_t created_before, int *n,
                            cs_error *err)
{
    pg_store *q = PGQ(s);
    *n = 0;
    pthread_mutex_lock(&q->lock);
    cs_status r = pg_run(q, "DELETE FROM sessions WHERE last_seen < $1 OR created_at < $2", n, err,
                         pg_i64(idle_before), pg_i64(created_before));
    pthread_mutex_unlock(&q->lock);
    return r;
}

/* ---- the audit log -------------------------------------------------------- */

cs_status pg_audit_append(cs_store *s, const cs_audit_rec *rec, cs_error *err)
{
    pg_store *q = PGQ(s);
    pthread_mutex_lock(&q->lock);
    cs_status r =
        pg_run(q,
               "INSERT INTO audit (at_ms, \"user\", role, action, study, detail, ip)"
               " VALUES ($1, $2, $3, $4, $5, $6, $7)",
               NULL, err, pg_i64(rec->at_ms), pg_text(rec->user), pg_text(rec->role),
               pg_text(rec->action), pg_text(rec->study), pg_text(rec->detail), pg_text(rec->ip));
    pthread_mutex_unlock(&q->lock);
    return r;
}

static void read_audit(const PGresult *res, int row, void *out)
{
    cs_audit_rec *o = out;
    memset(o, 0, sizeof *o);
    o->n = pg_col_i64(res, row, 0);
    o->at_ms = pg_col_i64(res, row, 1);
    pg_col_text(res, row, 2, o->user, sizeof o->user);
    pg_col_text(res, row, 3, o->role, sizeof o->role);
    pg_col_text(res, row, 4, o->action, sizeof o->action);
    pg_col_text(res, row, 5, o->study, sizeof o->study);
    pg_col_text(res, row, 6, o->detail, sizeof o->detail);
    pg_col_text(res, row, 7, o->ip, sizeof o->ip);
}

#define AUDIT_DEFAULT_LIMIT 200
#define AUDIT_MAX_LIMIT 1000

cs_status pg_audit_query(cs_store *s, const cs_audit_query *qy, cs_audit_rec **out, size_t *n,
                         cs_error *err)
{
    /* Only the filters given go into the WHERE clause (from fixed
     * fragments, values bound), so the planner picks the index of the one
     * that narrows most. since_ms and until_ms both inclusive. */
    char sql[640] = "SELECT n, at_ms, \"user\", role, action, study, detail, ip FROM audit"
                    " WHERE TRUE";
    pg_arg args[7];
    size_t k = 0;
    char frag[48];
#define ADD(cond, text_sql, arg)                                 \
    do {                                                         \
        if (cond) {                                              \
            snprintf(frag, sizeof frag, text_sql, (int)(k + 1)); \
            strcat(sql, frag);                                   \
            args[k++] = (arg);                                   \
        }                                                        \
    } while (0)
    ADD(qy->user && *qy->user, " AND \"user\" = $%d", pg_text(qy->user));
    ADD(qy->action && *qy->action, " AND action = $%d", pg_text(qy->action));
    ADD(qy->study && *qy->study, " AND study = $%d", pg_text(qy->study));
    ADD(qy->since_ms, " AND at_ms >= $%d", pg_i64(qy->since_ms));
    ADD(qy->until_ms, " AND at_ms <= $%d", pg_i64(qy->until_ms));
    ADD(qy->before_n, " AND n < $%d", pg_i64(qy->before_n));
    size_t limit = qy->limit == 0                ? AUDIT_DEFAULT_LIMIT
                   : qy->limit > AUDIT_MAX_LIMIT ? AUDIT_MAX_LIMIT
                                                 : qy->limit;
    ADD(true, " ORDER BY n DESC LIMIT $%d", pg_i64((int64_t)limit));
#undef ADD
    void *v = NULL;
    cs_status r =
        list_query(PGQ(s), sql, args, k, read_audit, sizeof **out, &v, n, "query audit log", err);
    *out = v;
    return r;
}

/* ---- findings --------------------------------------------------------------- */

#define FINDING_COLS                                                      \
    "id, study, seq_from, seq_to, type, note, size_mm, version, deleted," \
    " created_by, created_at_ms, updated_by, updated_at_ms, segment,"     \
    " morphology, count, suspected_cancer"

static void read_finding(const PGresult *res, int row, void *out)
{
    cs_finding_rec *o = out;
    memset(o, 0, sizeof *o);
    o->id = pg_col_i64(res, row, 0);
    pg_col_text(res, row, 1, o->study, sizeof o->study);
    o->seq_from = (uint64_t)pg_col_i64(res, row, 2);
    o->seq_to = (uint64_t)pg_col_i64(res, row, 3);
    pg_col_text(res, row, 4, o->type, sizeof o->type);
    pg_col_text(res, row, 5, o->note, sizeof o->note);
    o->size_mm = pg_col_f64(res, row, 6);
    o->version = (int)pg_col_i64(res, row, 7);
    o->deleted = pg_col_i64(res, row, 8) != 0;
    pg_col_text(res, row, 9, o->created_by, sizeof o->created_by);
    o->created_at_ms = pg_col_i64(res, row, 10);
    pg_col_text(res, row, 11, o->updated_by, sizeof o->updated_by);
    o->updated_at_ms = pg_col_i64(res, row, 12);
    pg_col_text(res, row, 13, o->segment, sizeof o->segment);
    pg_col_text(res, row, 14, o->morphology, sizeof o->morphology);
    o->count = (int)pg_col_i64(res, row, 15);
    o->suspected_cancer = pg_col_i64(res, row, 16) != 0;
}

static cs_status finding_load(pg_store *q, const char *study, int64_t id, cs_finding_rec *out,
                              bool *found, cs_error *err)
{
    PGresult *res = NULL;
    cs_status r = pg_query(q, "SELECT " FINDING_COLS " FROM findings WHERE id = $1 AND study = $2",
                           &res, "read finding", err, pg_i64(id), pg_text(study));
    *found = r == CS_OK && PQntuples(res) > 0;
    if (*found)
        read_finding(res, 0, out);
    PQclear(res);
    return r;
}

/* Copy finding `id` as it is now into its history. */
static cs_status finding_snapshot(pg_store *q, int64_t id, cs_error *err)
{
    return pg_run(q,
                  "INSERT INTO finding_history (" FINDING_COLS ") SELECT " FINDING_COLS
                  " FROM findings WHERE id = $1",
                  NULL, err, pg_i64(id));
}

/* BEGIN under the study's lock, then the checks every change of a finding
 * or a mark makes first: the study exists and its report is not signed. */
static cs_status begin_open(pg_store *q, const char *study, bool *in_tx, cs_change_outcome *out,
                            cs_error *err)
{
    bool exists = false, is_signed = false;
    cs_status r = pg_begin_study(q, study, in_tx, err);
    if (r == CS_OK)
        r = study_lock(q, study, &exists, &is_signed, err);
    *out = r != CS_OK  ? CS_CHANGE_NOT_FOUND
           : !exists   ? CS_CHANGE_NOT_FOUND
           : is_signed ? CS_CHANGE_LOCKED
                       : CS_CHANGE_OK;
    return r;
}

/* A finding saved marked suspected cancer raises its alert in the same
 * transaction (store.h): both are stored or neither. Nothing for one
 * deleted or not marked; nothing new when its alert exists. */
static cs_status finding_alert(pg_store *q, const cs_finding_rec *saved, cs_error *err)
{
    if (!saved->suspected_cancer || saved->deleted)
        return CS_OK;
    cs_alert_rec a;
    cs_store_finding_alert(saved, &a);
    return pg_alert_insert(q, &a, NULL, err);
}

cs_status pg_finding_create(cs_store *s, cs_finding_rec *f, cs_change_outcome *out, cs_error *err)
{
    pg_store *q = PGQ(s);
    PGresult *res = NULL;
    bool in_tx = false;
    pthread_mutex_lock(&q->lock);
    cs_status r = begin_open(q, f->study, &in_tx, out, err);
    if (r != CS_OK || *out != CS_CHANGE_OK)
        goto fail;
    if ((r = pg_query(q,
                      "INSERT INTO findings (study, seq_from, seq_to, type, note, size_mm,"
                      " version, deleted, created_by, created_at_ms, updated_by, updated_at_ms,"
                      " segment, morphology, count, suspected_cancer)"
                      " VALUES ($1, $2, $3, $4, $5, $6, 1, 0, $7, $8, $9, $10, $11, $12, $13, $14)"
                      " RETURNING id",
                      &res, "create finding", err, pg_text(f->study), pg_i64((int64_t)f->seq_from),
                      pg_i64((int64_t)f->seq_to), pg_text(f->type), pg_text(f->note),
                      pg_f64(f->size_mm), pg_text(f->created_by), pg_i64(f->created_at_ms),
                      pg_text(f->updated_by), pg_i64(f->updated_at_ms), pg_text(f->segment),
                      pg_text(f->morphology), pg_i64(f->count), pg_i64(f->suspected_cancer))) !=
        CS_OK)
        goto fail;
    cs_finding_rec saved = *f;
    saved.id = pg_col_i64(res, 0, 0);
    saved.version = 1;
    saved.deleted = false;
    if ((r = finding_snapshot(q, saved.id, err)) != CS_OK ||
        (r = finding_alert(q, &saved, err)) != CS_OK || (r = pg_commit(q, &in_tx, err)) != CS_OK)
        goto fail;
    *f = saved;
fail:
    PQclear(res);
    pg_rollback(q, in_tx);
    pthread_mutex_unlock(&q->lock);
    if (r != CS_OK)
        *out = CS_CHANGE_NOT_FOUND;
    return r;
}

/* Update (or, when `del_by` is set, delete) finding f->id: the shared body
 * of pg_finding_update and pg_finding_delete. On OK *saved holds it. */
static cs_status finding_change(pg_store *q, const cs_finding_rec *f, const char *del_by,
                                int64_t del_at_ms, int expected_version, cs_change_outcome *out,
                                cs_finding_rec *saved, cs_error *err)
{
    bool in_tx = false, found = false;
    cs_finding_rec cur;
    pthread_mutex_lock(&q->lock);
    cs_status r = begin_open(q, f->study, &in_tx, out, err);
    if (r != CS_OK || *out != CS_CHANGE_OK ||
        (r = finding_load(q, f->study, f->id, &cur, &found, err)) != CS_OK)
        goto fail;
    if (!found || cur.deleted) {
        *out = CS_CHANGE_NOT_FOUND;
        goto fail;
    }
    if (expected_version != 0 && cur.version != expected_version) {
        *out = CS_CHANGE_CONFLICT;
        goto fail;
    }
    if (del_by)
        r = pg_run(q,
                   "UPDATE findings SET deleted = 1, version = version + 1, updated_by = $1,"
                   " updated_at_ms = $2 WHERE id = $3",
                   NULL, err, pg_text(del_by), pg_i64(del_at_ms), pg_i64(f->id));
    else
        r = pg_run(q,
                   "UPDATE findings SET seq_from = $1, seq_to = $2, type = $3, note = $4,"
                   " size_mm = $5, segment = $6, morphology = $7, count = $8,"
                   " suspected_cancer = $9, version = version + 1, updated_by = $10,"
                   " updated_at_ms = $11 WHERE id = $12",
                   NULL, err, pg_i64((int64_t)f->seq_from), pg_i64((int64_t)f->seq_to),
                   pg_text(f->type), pg_text(f->note), pg_f64(f->size_mm), pg_text(f->segment),
                   pg_text(f->morphology), pg_i64(f->count), pg_i64(f->suspected_cancer),
                   pg_text(f->updated_by), pg_i64(f->updated_at_ms), pg_i64(f->id));
    if (r != CS_OK || (r = finding_snapshot(q, f->id, err)) != CS_OK ||
        (r = finding_load(q, f->study, f->id, saved, &found, err)) != CS_OK)
        goto fail;
    if (!found) {
        r = cs_error_set(err, CS_ERR_IO, "database: finding %lld vanished while saved",
                         (long long)f->id);
        goto fail;
    }
    if (!del_by && (r = finding_alert(q, saved, err)) != CS_OK)
        goto fail;
    r = pg_commit(q, &in_tx, err);
fail:
    pg_rollback(q, in_tx);
    pthread_mutex_unlock(&q->lock);
    if (r != CS_OK)
        *out = CS_CHANGE_NOT_FOUND;
    return r;
}

cs_status pg_finding_update(cs_store *s, cs_finding_rec *f, int expected_version,
                            cs_change_outcome *out, cs_error *err)
{
    cs_finding_rec saved;
    cs_status r = finding_change(PGQ(s), f, NULL, 0, expected_version, out, &saved, err);
    if (r == CS_OK && *out == CS_CHANGE_OK)
        *f = saved;
    return r;
}

cs_status pg_finding_delete(cs_store *s, const char *study, int64_t id, const char *by,
                            int64_t at_ms, int expected_version, cs_change_outcome *out,
                            cs_error *err)
{
    cs_finding_rec key, saved;
    memset(&key, 0, sizeof key);
    snprintf(key.study, sizeof key.study, "%s", study);
    key.id = id;
    return finding_change(PGQ(s), &key, by, at_ms, expected_version, out, &saved, err);
}

cs_status pg_findings_list(cs_store *s, const char *study, bool include_deleted,
                           cs_finding_rec **out, size_t *n, cs_error *err)
{
    void *v = NULL;
    cs_status r = list_query(PGQ(s),
                             "SELECT " FINDING_COLS " FROM findings WHERE study = $1"
                             " AND ($2::integer <> 0 OR deleted = 0) ORDER BY seq_from, id",
                             PG_ARGS(pg_text(study), pg_i64(include_deleted)), read_finding,
                             sizeof **out, &v, n, "list findings", err);
    *out = v;
    return r;
}

cs_status pg_finding_history(cs_store *s, const char *study, int64_t id, cs_finding_rec **out,
                             size_t *n, cs_error *err)
{
    void *v = NULL;
    cs_status r = list_query(PGQ(s),
                             "SELECT " FINDING_COLS " FROM finding_history WHERE id = $1"
                             " AND study = $2 ORDER BY version",
                             PG_ARGS(pg_i64(id), pg_text(study)), read_finding, sizeof **out, &v, n,
                             "read finding history", err);
    *out = v;
    return r;
}

/* ---- marks: landmarks and cleansing grades ---------------------------------- */

/* Set (insert or replace) or, with only_new, add (insert only: CONFLICT
 * when the mark exists). */
static cs_status mark_write(cs_store *s, const char *study, const cs_mark_rec *m, bool only_new,
                            cs_change_outcome *out, cs_error *err)
{
    pg_store *q = PGQ(s);
    bool in_tx = false;
    int changes = 0;
    pthread_mutex_lock(&q->lock);
    cs_status r = begin_open(q, study, &in_tx, out, err);
    if (r != CS_OK || *out != CS_CHANGE_OK)
        goto fail;
    if ((r = pg_run(q,
                    only_new ? "INSERT INTO marks (study, kind, key, value, seq, set_by, at_ms,"
                               " first_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $7)"
                               " ON CONFLICT (study, kind, key) DO NOTHING"
                             : "INSERT INTO marks (study, kind, key, value, seq, set_by, at_ms,"
                               " first_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $7)"
                               " ON CONFLICT (study, kind, key)"
                               " DO UPDATE SET value = EXCLUDED.value, seq = EXCLUDED.seq,"
                               " set_by = EXCLUDED.set_by, at_ms = EXCLUDED.at_ms,"
                               " first_at_ms = " CS_MARK_FIRST_AT_MS_ON_UPDATE,
                    &changes, err, pg_text(study), pg_text(m->kind), pg_text(m->key),
                    pg_text(m->value), pg_i64(m->seq), pg_text(m->by), pg_i64(m->at_ms))) != CS_OK)
        goto fail;
    if (only_new && changes == 0) {
        *out = CS_CHANGE_CONFLICT;
        goto fail;
    }
    r = pg_commit(q, &in_tx, err);
fail:
    pg_rollback(q, in_tx);
    pthread_mutex_unlock(&q->lock);
    if (r != CS_OK)
        *out = CS_CHANGE_NOT_FOUND;
    return r;
}

cs_status pg_mark_set(cs_store *s, const char *study, const cs_mark_rec *m, cs_change_outcome *out,
                      cs_error *err)
{
    return mark_write(s, study, m, false, out, err);
}

cs_status pg_mark_add(cs_store *s, const char *study, const cs_mark_rec *m, cs_change_outcome *out,
                      cs_error *err)
{
    return mark_write(s, study, m, true, out, err);
}

cs_status pg_mark_delete(cs_store *s, const char *study, const char *kind, const char *key,
                         cs_change_outcome *out, cs_error *err)
{
    pg_store *q = PGQ(s);
    bool in_tx = false;
    int changes = 0;
    pthread_mutex_lock(&q->lock);
    cs_status r = begin_open(q, study, &in_tx, out, err);
    if (r != CS_OK || *out != CS_CHANGE_OK)
        goto fail;
    if ((r = pg_run(q, "DELETE FROM marks WHERE study = $1 AND kind = $2 AND key = $3", &changes,
                    err, pg_text(study), pg_text(kind), pg_text(key))) != CS_OK)
        goto fail;
    if (changes == 0) {
        *out = CS_CHANGE_NOT_FOUND;
        goto fail;
    }
    r = pg_commit(q, &in_tx, err);
fail:
    pg_rollback(q, in_tx);
    pthread_mutex_unlock(&q->lock);
    if (r != CS_OK)
        *out = CS_CHANGE_NOT_FOUND;
    return r;
}

static void read_mark(const PGresult *res, int row, void *out)
{
    cs_mark_rec *o = out;
    memset(o, 0, sizeof *o);
    pg_col_text(res, row, 0, o->kind, sizeof o->kind);
    pg_col_text(res, row, 1, o->key, sizeof o->key);
    pg_col_text(res, row, 2, o->value, sizeof o->value);
    o->seq = pg_col_i64(res, row, 3);
    pg_col_text(res, row, 4, o->by, sizeof o->by);
    o->at_ms = pg_col_i64(res, row, 5);
    o->first_at_ms = pg_col_i64(res, row, 6);
}

cs_status pg_marks_list(cs_store *s, const char *study, cs_mark_rec **out, size_t *n, cs_error *err)
{
    void *v = NULL;
    cs_status r =
        list_query(PGQ(s), CS_MARKS_SELECT " WHERE study = $1 ORDER BY kind, key",
                   PG_ARGS(pg_text(study)), read_mark, sizeof **out, &v, n, "list marks", err);
    *out = v;
    return r;
}

/* ---- reports -------------------------------------------------------------------- */

#define REPORT_COLS                                                         \
    "study, state, content, version, updated_by, updated_at_ms, signed_by," \
    " signed_at_ms"

static void read_report(const PGresult *res, int row, void *out)
{
    cs_report_rec *o = out;
    memset(o, 0, sizeof *o);
    pg_col_text(res, row, 0, o->study, sizeof o->study);
    pg_col_text(res, row, 1, o->state, sizeof o->state);
    pg_col_text(res, row, 2, o->content, sizeof o->content);
    o->version = (int)pg_col_i64(res, row, 3);
    pg_col_text(res, row, 4, o->updated_by, sizeof o->updated_by);
    o->updated_at_ms = pg_col_i64(res, row, 5);
    pg_col_text(res, row, 6, o->signed_by, sizeof o->signed_by);
    o->signed_at_ms = pg_col_i64(res, row, 7);
}

static cs_status report_load(pg_store *q, const char *study, cs_report_rec *out, bool *found,
                             cs_error *err)
{
    PGresult *res = NULL;
    cs_status r = pg_query(q, "SELECT " REPORT_COLS " FROM reports WHERE study = $1", &res,
                           "read report", err, pg_text(study));
    *found = r == CS_OK && PQntuples(res) > 0;
    if (*found)
        read_report(res, 0, out);
    PQclear(res);
    return r;
}

cs_status pg_report_get(cs_store *s, const char *study, bool *found, cs_report_rec *out,
                        cs_error *err)
{
    return get_one(PGQ(s), "SELECT " REPORT_COLS " FROM reports WHERE study = $1", study,
                   read_report, out, found, "read report", err);
}

/* Reports are large (16 KiB of content): working copies on the heap. */
cs_status pg_report_save(cs_store *s, cs_report_rec *rep, int expected_version,
                         cs_change_outcome *out, cs_error *err)
{
    pg_store *q = PGQ(s);
    bool in_tx = false, found = false;
    cs_report_rec *cur = malloc(sizeof *cur);
    *out = CS_CHANGE_NOT_FOUND;
    if (!cur)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory saving a report");
    pthread_mutex_lock(&q->lock);
    cs_status r = begin_open(q, rep->study, &in_tx, out, err);
    if (r != CS_OK || *out != CS_CHANGE_OK ||
        (r = report_load(q, rep->study, cur, &found, err)) != CS_OK)
        goto fail;
    /* 0 stands for "no report yet", so expected 0 means "create". */
    if (expected_version >= 0 && (found ? cur->version : 0) != expected_version) {
        *out = CS_CHANGE_CONFLICT;
        goto fail;
    }
    if (found) {
        if ((r = pg_run(q,
                        "INSERT INTO report_history (study, version, state, content, updated_by,"
                        " updated_at_ms) SELECT study, version, state, content, updated_by,"
                        " updated_at_ms FROM reports WHERE study = $1",
                        NULL, err, pg_text(rep->study))) != CS_OK ||
            (r = pg_run(q,
                        "UPDATE reports SET state = $1, content = $2, updated_by = $3,"
                        " updated_at_ms = $4, version = version + 1 WHERE study = $5",
                        NULL, err, pg_text(rep->state), pg_text(rep->content),
                        pg_text(rep->updated_by), pg_i64(rep->updated_at_ms),
                        pg_text(rep->study))) != CS_OK)
            goto fail;
    } else if ((r = pg_run(q,
                           "INSERT INTO reports (state, content, updated_by, updated_at_ms,"
                           " study, version) VALUES ($1, $2, $3, $4, $5, 1)",
                           NULL, err, pg_text(rep->state), pg_text(rep->content),
                           pg_text(rep->updated_by), pg_i64(rep->updated_at_ms),
                           pg_text(rep->study))) != CS_OK) {
        goto fail;
    }
    if ((r = report_load(q, rep->study, cur, &found, err)) != CS_OK ||
        (r = pg_commit(q, &in_tx, err)) != CS_OK)
        goto fail;
    *rep = *cur;
fail:
    pg_rollback(q, in_tx);
    pthread_mutex_unlock(&q->lock);
    free(cur);
    if (r != CS_OK)
        *out = CS_CHANGE_NOT_FOUND;
    return r;
}

cs_status pg_report_sign(cs_store *s, const char *study, const char *by, int64_t at_ms,
                         int expected_version, cs_change_outcome *outcome, cs_report_rec *out,
                         cs_error *err)
{
    pg_store *q = PGQ(s);
    bool in_tx = false, found = false;
    cs_report_rec *cur = malloc(sizeof *cur);
    *outcome = CS_CHANGE_NOT_FOUND;
    if (!cur)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory signing a report");
    pthread_mutex_lock(&q->lock);
    cs_status r = pg_begin_study(q, study, &in_tx, err);
    if (r != CS_OK || (r = report_load(q, study, cur, &found, err)) != CS_OK || !found)
        goto fail;
    if (strcmp(cur->state, "signed") == 0) {
        *outcome = CS_CHANGE_LOCKED;
        goto fail;
    }
    if (expected_version >= 0 && cur->version != expected_version) {
        *outcome = CS_CHANGE_CONFLICT;
        goto fail;
    }
    /* Signing is not a save: the version (and so the history) stays. */
    if ((r = pg_run(q,
                    "UPDATE reports SET state = 'signed', signed_by = $1, signed_at_ms = $2"
                    " WHERE study = $3",
                    NULL, err, pg_text(by), pg_i64(at_ms), pg_text(study))) != CS_OK ||
        (r = report_load(q, study, cur, &found, err)) != CS_OK ||
        (r = pg_commit(q, &in_tx, err)) != CS_OK)
        goto fail;
    *out = *cur;
    *outcome = CS_CHANGE_OK;
fail:
    pg_rollback(q, in_tx);
    pthread_mutex_unlock(&q->lock);
    free(cur);
    if (r != CS_OK)
        *outcome = CS_CHANGE_NOT_FOUND;
    return r;
}

cs_status pg_report_signed(cs_store *s, const char *study, bool *is_signed, cs_error *err)
{
    pg_store *q = PGQ(s);
    bool exists = false;
    *is_signed = false;
    pthread_mutex_lock(&q->lock);
    cs_status r = study_lock(q, study, &exists, is_signed, err);
    pthread_mutex_unlock(&q->lock);
    return r;
}

/* ---- signing exactly (schema 3) ------------------------------------------------ */

/* Whether the report content (JSON text) has a "recommendation" string
 * with a non-blank character. */
static bool has_recommendation(const char *content)
{
    json_t *root = json_loads(content, 0, NULL);
    const char *v = json_string_value(json_object_get(root, "recommendation"));
    bool ok = false;
    for (; v && *v && !ok; v++)
        ok = !isspace((unsigned char)*v);
    json_decref(root);
    return ok;
}

/* Whether the study is complete enough to sign (store.h). */
static cs_status study_complete(pg_store *q, const char *study, bool *complete, cs_error *err)
{
    PGresult *res = NULL;
    cs_status r =
        pg_query(q,
                 "SELECT (s.closed_at_ms <> 0)::integer, (s.ingest_offset >="
                 " (SELECT COALESCE(SUM(u.\"offset\"),0) FROM uploads u"
                 " WHERE u.study = s.id))::integer,"
                 " (SELECT COUNT(*) FROM uploads u WHERE u.study = s.id),"
                 " (SELECT COUNT(*) FROM uploads u WHERE u.study = s.id AND u.state <> $2)"
                 " FROM studies s WHERE s.id = $1",
                 &res, "read study completeness", err, pg_text(study), pg_i64(CS_UPLOAD_COMPLETE));
    *complete = false;
    if (r == CS_OK && PQntuples(res) > 0) {
        bool closed = pg_col_i64(res, 0, 0) != 0;
        bool analysed = pg_col_i64(res, 0, 1) != 0;
        bool all_in = pg_col_i64(res, 0, 2) > 0 && pg_col_i64(res, 0, 3) == 0;
        *complete = analysed && (closed || all_in);
    }
    PQclear(res);
    return r;
}

/* The report basis stamp (store.h, cs_store_report_basis): the findings,
 * marks and patient fields a printed report shows, in a fixed order. */
static cs_status basis_stamp(pg_store *q, const char *study, char out[CS_REPORT_BASIS_HEX],
                             cs_error *err)
{
    static const char *const table[] = CS_BASIS_TABLES;
    static const char *const sql[] = CS_BASIS_SQL("$1");
    cs_basis b;
    cs_basis_begin(&b);
    for (size_t i = 0; i < sizeof sql / sizeof *sql; i++) {
        PGresult *res = NULL;
        cs_status r = pg_query(q, sql[i], &res, "read the report basis", err, pg_text(study));
        if (r != CS_OK) {
            PQclear(res);
            return r;
        }
        cs_basis_table(&b, table[i]);
        for (int row = 0; row < PQntuples(res); row++) {
            cs_basis_row(&b);
            for (int c = 0; c < PQnfields(res); c++)
                cs_basis_field(&b, PQgetvalue(res, row, c), (size_t)PQgetlength(res, row, c));
        }
        PQclear(res);
    }
    cs_basis_end(&b, out);
    return CS_OK;
}

cs_status pg_report_basis(cs_store *s, const char *study, char basis[CS_REPORT_BASIS_HEX],
                          cs_error *err)
{
    pg_store *q = PGQ(s);
    pthread_mutex_lock(&q->lock);
    cs_status r = basis_stamp(q, study, basis, err);
    pthread_mutex_unlock(&q->lock);
    return r;
}

cs_status pg_report_sign_checked(cs_store *s, const char *study, const char *by, int64_t at_ms,
                                 int shown_version, const char *shown_basis,
                                 cs_check_outcome *outcome, cs_report_rec *out, cs_error *err)
{
    char basis[CS_REPORT_BASIS_HEX];
    pg_store *q = PGQ(s);
    bool in_tx = false, found = false, complete = false;
    cs_report_rec *cur = malloc(sizeof *cur);
    *outcome = CS_CHECK_NOT_FOUND;
    if (!cur)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory signing a report");
    pthread_mutex_lock(&q->lock);
    /* Under the study's lock every check reads what this transaction will
     * sign: no save, upload or close (from any server) lands between. */
    cs_status r = pg_begin_study(q, study, &in_tx, err);
    if (r != CS_OK || (r = report_load(q, study, cur, &found, err)) != CS_OK || !found)
        goto fail;
    if (strcmp(cur->state, "signed") == 0) {
        *outcome = CS_CHECK_LOCKED;
        goto fail;
    }
    if (cur->version != shown_version) {
        *outcome = CS_CHECK_CONFLICT;
        goto fail;
    }
    /* The findings, marks and patient the printed report shows are those
     * the signer was shown (their writers take the same study lock). */
    if ((r = basis_stamp(q, study, basis, err)) != CS_OK)
        goto fail;
    if (strcmp(basis, shown_basis) != 0) {
        *outcome = CS_CHECK_BASIS_CHANGED;
        goto fail;
    }
    if (!has_recommendation(cur->content)) {
        *outcome = CS_CHECK_INVALID;
        goto fail;
    }
    if ((r = study_complete(q, study, &complete, err)) != CS_OK)
        goto fail;
    if (!complete) {
        *outcome = CS_CHECK_INCOMPLETE;
        goto fail;
    }
    if ((r = pg_run(q,
                    "UPDATE reports SET state = 'signed', signed_by = $1, signed_at_ms = $2"
                    " WHERE study = $3 AND version = $4",
                    NULL, err, pg_text(by), pg_i64(at_ms), pg_text(study),
                    pg_i64(shown_version))) != CS_OK ||
        (r = report_load(q, study, cur, &found, err)) != CS_OK ||
        (r = pg_commit(q, &in_tx, err)) != CS_OK)
        goto fail;
    if (out)
        *out = *cur;
    *outcome = CS_CHECK_OK;
fail:
    pg_rollback(q, in_tx);
    pthread_mutex_unlock(&q->lock);
    free(cur);
    if (r != CS_OK)
        *outcome = CS_CHECK_NOT_FOUND;
    return r;
}

/* ---- closing a study and the upload lock (schema 3) ----------------------------- */

/* Whether uploads of `study` are locked (closed or signed); *exists false
 * when there is no such study. */
static cs_status uploads_locked(pg_store *q, const char *study, bool *exists, bool *locked,
                                cs_error *err)
{
    PGresult *res = NULL;
    cs_status r = pg_query(q,
                           "SELECT (closed_at_ms <> 0 OR EXISTS (SELECT 1 FROM reports"
                           " WHERE study = $1 AND state = 'signed'))::integer FROM studies"
                           " WHERE id = $1",
                           &res, "read study lock", err, pg_text(study));
    *exists = r == CS_OK && PQntuples(res) > 0;
    *locked = *exists && pg_col_i64(res, 0, 0) != 0;
    PQclear(res);
    return r;
}

cs_status pg_study_close(cs_store *s, const char *study, const char *by, int64_t at_ms,
                         cs_check_outcome *outcome, cs_error *err)
{
    pg_store *q = PGQ(s);
    PGresult *res = NULL;
    bool in_tx = false;
    *outcome = CS_CHECK_NOT_FOUND;
    pthread_mutex_lock(&q->lock);
    cs_status r = pg_begin_study(q, study, &in_tx, err);
    if (r != CS_OK ||
        (r = pg_query(q, "SELECT closed_at_ms FROM studies WHERE id = $1", &res, "read study", err,
                      pg_text(study))) != CS_OK ||
        PQntuples(res) == 0)
        goto fail; /* no such study */
    if (pg_col_i64(res, 0, 0) != 0) {
        *outcome = CS_CHECK_CONFLICT;
        goto fail;
    }
    int64_t at_s = at_ms / 1000;
    /* The code is marked used and the devices revoked with the close, so
     * neither a new enrolment nor a live device can add an upload. */
    if ((r = pg_run(q,
                    "UPDATE studies SET closed_at_ms = $1, closed_by = $2, code_used_at ="
                    " CASE code_used_at WHEN 0 THEN $3 ELSE code_used_at END WHERE id = $4",
                    NULL, err, pg_i64(at_ms), pg_text(by), pg_i64(at_s), pg_text(study))) !=
            CS_OK ||
        (r = pg_run(q,
                    "UPDATE uploads SET state = $1, updated_at = $2 WHERE study = $3"
                    " AND state = $4",
                    NULL, err, pg_i64(CS_UPLOAD_TERMINATED), pg_i64(at_s), pg_text(study),
                    pg_i64(CS_UPLOAD_OPEN))) != CS_OK ||
        (r = pg_run(q, "UPDATE devices SET revoked_at = $1 WHERE study = $2 AND revoked_at = 0",
                    NULL, err, pg_i64(at_s), pg_text(study))) != CS_OK ||
        (r = pg_commit(q, &in_tx, err)) != CS_OK)
        goto fail;
    *outcome = CS_CHECK_OK;
fail:
    PQclear(res);
    pg_rollback(q, in_tx);
    pthread_mutex_unlock(&q->lock);
    if (r != CS_OK)
        *outcome = CS_CHECK_NOT_FOUND;
    return r;
}

cs_status pg_upload_update_checked(cs_store *s, const cs_upload_rec *u, cs_check_outcome *outcome,
                                   cs_error *err)
{
    pg_store *q = PGQ(s);
    PGresult *res = NULL;
    bool in_tx = false, exists = false, locked = false;
    char study[CS_ID_MAX];
    *outcome = CS_CHECK_NOT_FOUND;
    pthread_mutex_lock(&q->lock);
    /* An upload's study never changes: read it, then lock that study. */
    cs_status r = pg_query(q, "SELECT study FROM uploads WHERE id = $1", &res, "read upload", err,
                           pg_text(u->id));
    if (r != CS_OK || PQntuples(res) == 0)
        goto fail; /* no such upload */
    pg_col_text(res, 0, 0, study, sizeof study);
    if ((r = pg_begin_study(q, study, &in_tx, err)) != CS_OK ||
        (r = uploads_locked(q, study, &exists, &locked, err)) != CS_OK)
        goto fail;
    if (locked) {
        *outcome = CS_CHECK_LOCKED;
        goto fail;
    }
    /* Its state now, under the study's lock that a creation ending it
     * takes too: an ended upload is never saved again (store.h). */
    PQclear(res);
    res = NULL;
    if ((r = pg_query(q, "SELECT state FROM uploads WHERE id = $1", &res, "read upload", err,
                      pg_text(u->id))) != CS_OK)
        goto fail;
    if (PQntuples(res) == 1) {
        int64_t v = pg_col_i64(res, 0, 0);
        if (v == CS_UPLOAD_TERMINATED || v == CS_UPLOAD_EXPIRED) {
            *outcome = CS_CHECK_CONFLICT;
            goto fail;
        }
    }
    if ((r = pg_run(q,
                    "UPDATE uploads SET length = $1, \"offset\" = $2, state = $3,"
                    " updated_at = $4, expires_at = $5, checksum_base = $6 WHERE id = $7",
                    NULL, err, pg_i64(u->length), pg_i64((int64_t)u->offset), pg_i64(u->state),
                    pg_i64(u->updated_at), pg_i64(u->expires_at), pg_i64(u->checksum_base),
                    pg_text(u->id))) != CS_OK ||
        (r = pg_commit(q, &in_tx, err)) != CS_OK)
        goto fail;
    *outcome = CS_CHECK_OK;
fail:
    PQclear(res);
    pg_rollback(q, in_tx);
    pthread_mutex_unlock(&q->lock);
    if (r != CS_OK)
        *outcome = CS_CHECK_NOT_FOUND;
    return r;
}

cs_status pg_upload_create_checked(cs_store *s, const cs_upload_rec *u, cs_check_outcome *outcome,
                                   cs_error *err)
{
    pg_store *q = PGQ(s);
    bool in_tx = false, exists = false, locked = false;
    *outcome = CS_CHECK_NOT_FOUND;
    pthread_mutex_lock(&q->lock);
    cs_status r = pg_begin_study(q, u->study, &in_tx, err);
    if (r != CS_OK || (r = uploads_locked(q, u->study, &exists, &locked, err)) != CS_OK || !exists)
        goto fail;
    if (locked) {
        *outcome = CS_CHECK_LOCKED;
        goto fail;
    }
    /* An earlier open upload of the study that never stored a byte is
     * ended (store.h): left open, it would hold the study's analysis back
     * until it expired. It has no bytes, so nothing is lost. */
    if ((r = pg_run(q,
                    "UPDATE uploads SET state = $1, updated_at = $2 WHERE study = $3"
                    " AND state = $4 AND \"offset\" = 0 AND checksum_base = -1",
                    NULL, err, pg_i64(CS_UPLOAD_TERMINATED), pg_i64(u->created_at),
                    pg_text(u->study), pg_i64(CS_UPLOAD_OPEN))) != CS_OK ||
        (r = pg_run(q,
                    "INSERT INTO uploads (id, study, length, \"offset\", state, created_at,"
                    " updated_at, expires_at, checksum_base, metadata)"
                    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                    NULL, err, pg_text(u->id), pg_text(u->study), pg_i64(u->length),
                    pg_i64((int64_t)u->offset), pg_i64(u->state), pg_i64(u->created_at),
                    pg_i64(u->updated_at), pg_i64(u->expires_at), pg_i64(u->checksum_base),
                    pg_text(u->metadata))) != CS_OK ||
        (r = pg_commit(q, &in_tx, err)) != CS_OK)
        goto fail;
    *outcome = CS_CHECK_OK;
fail:
    pg_rollback(q, in_tx);
    pthread_mutex_unlock(&q->lock);
    if (r != CS_OK)
        *outcome = CS_CHECK_NOT_FOUND;
    return r;
}

/* ---- report addenda (issue 9) ------------------------------------------------ */

cs_status pg_addendum_add(cs_store *s, cs_addendum_rec *a, cs_check_outcome *outcome, cs_error *err)
{
    pg_store *q = PGQ(s);
    PGresult *res = NULL;
    bool in_tx = false, found = false;
    cs_report_rec *cur = malloc(sizeof *cur);
    *outcome = CS_CHECK_NOT_FOUND;
    if (!cur)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory adding an addendum");
    pthread_mutex_lock(&q->lock);
    cs_status r = pg_begin_study(q, a->study, &in_tx, err);
    if (r != CS_OK || (r = report_load(q, a->study, cur, &found, err)) != CS_OK || !found)
        goto fail;
    if (strcmp(cur->state, "signed") != 0) {
        *outcome = CS_CHECK_INVALID;
        goto fail;
    }
    if ((r = pg_query(q,
                      "INSERT INTO report_addenda (study, by_user, at_ms, reason, text)"
                      " VALUES ($1, $2, $3, $4, $5) RETURNING id",
                      &res, "add addendum", err, pg_text(a->study), pg_text(a->by),
                      pg_i64(a->at_ms), pg_text(a->reason), pg_text(a->text))) != CS_OK)
        goto fail;
    a->id = pg_col_i64(res, 0, 0);
    if ((r = pg_commit(q, &in_tx, err)) == CS_OK)
        *outcome = CS_CHECK_OK;
fail:
    PQclear(res);
    pg_rollback(q, in_tx);
    pthread_mutex_unlock(&q->lock);
    free(cur);
    if (r != CS_OK)
        *outcome = CS_CHECK_NOT_FOUND;
    return r;
}

static void read_addendum(const PGresult *res, int row, void *out)
{
    cs_addendum_rec *o = out;
    memset(o, 0, sizeof *o);
    o->id = pg_col_i64(res, row, 0);
    pg_col_text(res, row, 1, o->study, sizeof o->study);
    pg_col_text(res, row, 2, o->by, sizeof o->by);
    o->at_ms = pg_col_i64(res, row, 3);
    pg_col_text(res, row, 4, o->reason, sizeof o->reason);
    pg_col_text(res, row, 5, o->text, sizeof o->text);
}

cs_status pg_addenda_list(cs_store *s, const char *study, cs_addendum_rec **out, size_t *n,
                          cs_error *err)
{
    void *v = NULL;
    cs_status r = list_query(PGQ(s),
                             "SELECT id, study, by_user, at_ms, reason, text FROM report_addenda"
                             " WHERE study = $1 ORDER BY id",
                             PG_ARGS(pg_text(study)), read_addendum, sizeof **out, &v, n,
                             "list addenda", err);
    *out = v;
    return r;
}
