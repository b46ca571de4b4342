/* store_sqlite_ws.c - the SQLite backend's reading-workstation calls
 * (schema 2): users, sessions, the audit log, findings, marks and reports;
 * like the rest of the backend, each call holds the mutex and is one
 * transaction, and every "LOCKED once signed" check runs inside it. */
#include "store/store_sqlite.h"

#include <ctype.h>
#include <jansson.h>
#include <string.h>

/* Whether `study` exists and whether its report is signed. */
static cs_status study_lock(sq_store *q, const char *study, bool *exists, bool *is_signed,
                            cs_error *err)
{
    sqlite3_stmt *st = NULL;
    cs_status r = prep(q,
                       "SELECT EXISTS (SELECT 1 FROM studies WHERE id = ?1),"
                       " EXISTS (SELECT 1 FROM reports WHERE study = ?1 AND state = 'signed')",
                       &st, err);
    if (r == CS_OK)
        r = sq_bind(q, st, err, sq_text(study));
    if (r == CS_OK) {
        if (sqlite3_step(st) != SQLITE_ROW) {
            r = db_fail(q, err, "read study state");
        } else {
            *exists = sqlite3_column_int(st, 0) != 0;
            *is_signed = sqlite3_column_int(st, 1) != 0;
        }
    }
    done(st);
    return r;
}

/* Fetch the one row `st` (bound by the caller) selects through `read`. */
static cs_status one_row(sq_store *q, sqlite3_stmt *st, void (*read)(sqlite3_stmt *, void *),
                         void *out, bool *found, const char *what, cs_error *err)
{
    int rc = sqlite3_step(st);
    *found = rc == SQLITE_ROW;
    if (rc == SQLITE_ROW)
        read(st, out);
    else if (rc != SQLITE_DONE)
        return db_fail(q, err, what);
    return CS_OK;
}

/* ---- users and sessions -------------------------------------------------- */

#define USER_COLS "name, role, pw_hash, created_at, disabled"

static void read_user(sqlite3_stmt *st, void *out)
{
    cs_user_rec *o = out;
    memset(o, 0, sizeof *o);
    text(st, 0, o->name, sizeof o->name);
    text(st, 1, o->role, sizeof o->role);
    text(st, 2, o->pw_hash, sizeof o->pw_hash);
    o->created_at = sqlite3_column_int64(st, 3);
    o->disabled = sqlite3_column_int(st, 4) != 0;
}

cs_status sq_user_add(cs_store *s, const cs_user_rec *u, bool *exists, cs_error *err)
{
    sq_store *q = SQ(s);
    int64_t disabled = u->disabled;
    int changes = 0;
    *exists = false;
    pthread_mutex_lock(&q->lock);
    /* OR IGNORE: only the primary key can conflict (nothing bound is NULL). */
    cs_status r = run(q, "INSERT OR IGNORE INTO users (" USER_COLS ") VALUES (?,?,?,?,?)", &changes,
                      err, sq_text(u->name), sq_text(u->role), sq_text(u->pw_hash),
                      sq_i64(u->created_at), sq_i64(disabled));
    pthread_mutex_unlock(&q->lock);
    *exists = r == CS_OK && changes == 0;
    return r;
}

cs_status sq_user_get(cs_store *s, const char *name, bool *found, cs_user_rec *out, cs_error *err)
{
    return get_by_id(SQ(s), "SELECT " USER_COLS " FROM users WHERE name = ?", name, read_user, out,
                     found, "read user", err);
}

/* The body of both user updates, under the lock: load the user, apply
 * the last-admin rule when `checked`, save, end sessions. */
static cs_status user_update(sq_store *q, const cs_user_rec *u, bool checked, cs_check_outcome *out,
                             cs_error *err)
{
    sqlite3_stmt *st = NULL;
    bool in_tx = false, found = false;
    cs_user_rec old;
    *out = CS_CHECK_NOT_FOUND;
    cs_status r = begin(q, &in_tx, err);
    if (r != CS_OK)
        goto fail;
    if ((r = prep(q, "SELECT " USER_COLS " FROM users WHERE name = ?", &st, err)) != CS_OK ||
        (r = sq_bind(q, st, err, sq_text(u->name))) != CS_OK)
        goto fail;
    if ((r = one_row(q, st, read_user, &old, &found, "read user", err)) != CS_OK || !found)
        goto fail;
    done(st);
    st = NULL;
    bool was_admin = strcmp(old.role, "admin") == 0 && !old.disabled;
    bool is_admin = strcmp(u->role, "admin") == 0 && !u->disabled;
    if (checked && was_admin && !is_admin) {
        /* Counted inside the transaction: two admins demoting each other
         * at once cannot both pass. */
        if ((r = prep(q,
                      "SELECT COUNT(*) FROM users WHERE role = 'admin' AND disabled = 0"
                      " AND name != ?",
                      &st, err)) != CS_OK ||
            (r = sq_bind(q, st, err, sq_text(u->name))) != CS_OK)
            goto fail;
        if (sqlite3_step(st) != SQLITE_ROW) {
            r = db_fail(q, err, "count admins");
            goto fail;
        }
        if (sqlite3_column_int64(st, 0) == 0) {
            *out = CS_CHECK_LAST_ADMIN;
            goto fail;
        }
        done(st);
        st = NULL;
    }
    if ((r = run(q, "UPDATE users SET role = ?, pw_hash = ?, disabled = ? WHERE name = ?", NULL,
                 err, sq_text(u->role), sq_text(u->pw_hash), sq_i64(u->disabled),
                 sq_text(u->name))) != CS_OK)
        goto fail;
    /* A disabled user or a new password: every session of the user ends,
     * in this transaction, so no request can slip in between. */
    if ((u->disabled || strcmp(old.pw_hash, u->pw_hash) != 0) &&
        (r = run(q, "DELETE FROM sessions WHERE user = ?", NULL, err, sq_text(u->name))) != CS_OK)
        goto fail;
    if ((r = commit(q, &in_tx, err)) == CS_OK)
        *out = CS_CHECK_OK;
fail:
    done(st);
    rollback(q, in_tx);
    if (r != CS_OK)
        *out = CS_CHECK_NOT_FOUND;
    return r;
}

cs_status sq_user_update(cs_store *s, const cs_user_rec *u, bool *found, cs_error *err)
{
    sq_store *q = SQ(s);
    cs_check_outcome out;
    pthread_mutex_lock(&q->lock);
    cs_status r = user_update(q, u, false, &out, err);
    pthread_mutex_unlock(&q->lock);
    *found = r == CS_OK && out == CS_CHECK_OK;
    return r;
}

cs_status sq_user_update_checked(cs_store *s, const cs_user_rec *u, cs_check_outcome *out,
                                 cs_error *err)
{
    sq_store *q = SQ(s);
    pthread_mutex_lock(&q->lock);
    cs_status r = user_update(q, u, true, out, err);
    pthread_mutex_unlock(&q->lock);
    return r;
}

cs_status sq_user_list(cs_store *s, cs_user_rec **out, size_t *n, cs_error *err)
{
    sq_store *q = SQ(s);
    sqlite3_stmt *st = NULL;
    void *v = NULL;
    *n = 0;
    pthread_mutex_lock(&q->lock);
    cs_status r = prep(q, "SELECT " USER_COLS " FROM users ORDER BY name", &st, err);
    if (r == CS_OK)
        r = list_rows(q, st, read_user, sizeof **out, &v, n, "list users", err);
    done(st);
    pthread_mutex_unlock(&q->lock);
    *out = v;
    return r;
}

cs_status sq_session_create(cs_store *s, const cs_session_rec *rec, cs_error *err)
{
    sq_store *q = SQ(s);
    pthread_mutex_lock(&q->lock);
    cs_status r = run(q,
                      "INSERT INTO sessions (id_hash, user, csrf, ip, created_at, last_seen)"
                      " VALUES (?,?,?,?,?,?)",
                      NULL, err, sq_text(rec->id_hash), sq_text(rec->user), sq_text(rec->csrf),
                      sq_text(rec->ip), sq_i64(rec->created_at), sq_i64(rec->last_seen));
    pthread_mutex_unlock(&q->lock);
    return r;
}

static void read_session(sqlite3_stmt *st, void *out)
{
    cs_session_rec *o = out;
    memset(o, 0, sizeof *o);
    text(st, 0, o->id_hash, sizeof o->id_hash);
    text(st, 1, o->user, sizeof o->user);
    text(st, 2, o->role, sizeof o->role);
    text(st, 3, o->csrf, sizeof o->csrf);
    text(st, 4, o->ip, sizeof o->ip);
    o->created_at = sqlite3_column_int64(st, 5);
    o->last_seen = sqlite3_column_int64(st, 6);
}

cs_status sq_session_get(cs_store *s, const char *id_hash, bool *found, cs_session_rec *out,
                         cs_error *err)
{
    /* The join is the check: a session outlives neither its user nor the
     * user's being enabled, and its role is always the user's current one. */
    return get_by_id(SQ(s),
                     "SELECT s.id_hash, s.user, u.role, s.csrf, s.ip, s.created_at,"
                     " s.last_seen FROM sessions s JOIN users u ON u.name = s.user"
                     " WHERE s.id_hash = ? AND u.disabled = 0",
                     id_hash, read_session, out, found, "read session", err);
}

cs_status sq_session_touch(cs_store *s, const char *id_hash, int64_t now, cs_error *err)
{
    sq_store *q = SQ(s);
    pthread_mutex_lock(&q->lock);
    cs_status r = run(q, "UPDATE sessions SET last_seen = ? WHERE id_hash = ?", NULL, err,
                      sq_i64(now), sq_text(id_hash));
    pthread_mutex_unlock(&q->lock);
    return r;
}

cs_status sq_session_delete(cs_store *s, const char *id_hash, cs_error *err)
{
    sq_store *q = SQ(s);
    pthread_mutex_lock(&q->lock);
    cs_status r = run(q, "DELETE FROM sessions WHERE id_hash = ?", NULL, err, sq_text(id_hash));
    pthread_mutex_unlock(&q->lock);
    return r;
}

cs_status sq_sessions_purge(cs_store *s, int64_t idle_before, int64_t created_before, int *n,
                            cs_error *err)
{
    sq_store *q = SQ(s);
    *n = 0;
    pthread_mutex_lock(&q->lock);
    cs_status r = run(q, "DELETE FROM sessions WHERE last_seen < ? OR created_at < ?", n, err,
                      sq_i64(idle_before), sq_i64(created_before));
    pthread_mutex_unlock(&q->lock);
    return r;
}

/* ---- the audit log -------------------------------------------------------- */

cs_status sq_audit_append(cs_store *s, const cs_audit_rec *rec, cs_error *err)
{
    sq_store *q = SQ(s);
    pthread_mutex_lock(&q->lock);
    cs_status r =
        run(q,
            "INSERT INTO audit (at_ms, user, role, action, study, detail, ip)"
            " VALUES (?,?,?,?,?,?,?)",
            NULL, err, sq_i64(rec->at_ms), sq_text(rec->user), sq_text(rec->role),
            sq_text(rec->action), sq_text(rec->study), sq_text(rec->detail), sq_text(rec->ip));
    pthread_mutex_unlock(&q->lock);
    return r;
}

static void read_audit(sqlite3_stmt *st, void *out)
{
    cs_audit_rec *o = out;
    memset(o, 0, sizeof *o);
    o->n = sqlite3_column_int64(st, 0);
    o->at_ms = sqlite3_column_int64(st, 1);
    text(st, 2, o->user, sizeof o->user);
    text(st, 3, o->role, sizeof o->role);
    text(st, 4, o->action, sizeof o->action);
    text(st, 5, o->study, sizeof o->study);
    text(st, 6, o->detail, sizeof o->detail);
    text(st, 7, o->ip, sizeof o->ip);
}

#define AUDIT_DEFAULT_LIMIT 200
#define AUDIT_MAX_LIMIT 1000

cs_status sq_audit_query(cs_store *s, const cs_audit_query *qy, cs_audit_rec **out, size_t *n,
                         cs_error *err)
{
    sq_store *q = SQ(s);
    sqlite3_stmt *st = NULL;
    void *v = NULL;
    /* Only the filters given go into the WHERE clause, so SQLite can pick
     * the index of the one that narrows most; the SQL is built from fixed
     * fragments, values are bound. since_ms and until_ms both inclusive. */
    char sql[512] = "SELECT n, at_ms, user, role, action, study, detail, ip FROM audit WHERE 1";
    const char *texts[3] = {0};
    int64_t ints[3] = {0};
    int nt = 0, ni = 0;
    if (qy->user && *qy->user) {
        strcat(sql, " AND user = ?");
        texts[nt++] = qy->user;
    }
    if (qy->action && *qy->action) {
        strcat(sql, " AND action = ?");
        texts[nt++] = qy->action;
    }
    if (qy->study && *qy->study) {
        strcat(sql, " AND study = ?");
        texts[nt++] = qy->study;
    }
    if (qy->since_ms) {
        strcat(sql, " AND at_ms >= ?");
        ints[ni++] = qy->since_ms;
    }
    if (qy->until_ms) {
        strcat(sql, " AND at_ms <= ?");
        ints[ni++] = qy->until_ms;
    }
    if (qy->before_n) {
        strcat(sql, " AND n < ?");
        ints[ni++] = qy->before_n;
    }
    strcat(sql, " ORDER BY n DESC LIMIT ?");
    size_t limit = qy->limit == 0                ? AUDIT_DEFAULT_LIMIT
                   : qy->limit > AUDIT_MAX_LIMIT ? AUDIT_MAX_LIMIT
                                                 : qy->limit;
    *n = 0;
    pthread_mutex_lock(&q->lock);
    cs_status r = prep(q, sql, &st, err);
    if (r == CS_OK) {
        sq_arg args[7];
        size_t k = 0;
        for (int i = 0; i < nt; i++)
            args[k++] = sq_text(texts[i]);
        for (int i = 0; i < ni; i++)
            args[k++] = sq_i64(ints[i]);
        args[k++] = sq_i64((int64_t)limit);
        r = bind_args(q, st, args, k, err);
    }
    if (r == CS_OK) {
        r = list_rows(q, st, read_audit, sizeof **out, &v, n, "query audit log", err);
    }
    done(st);
    pthread_mutex_unlock(&q->lock);
    *out = v;
    return r;
}

/* ---- findings --------------------------------------------------------------- */

/* The same columns in findings and finding_history (a snapshot is a copy). */
#define FINDING_COLS                                                      \
    "id, study, seq_from, seq_to, type, note, size_mm, version, deleted," \
    " created_by, created_at_ms, updated_by, updated_at_ms, segment,"     \
    " morphology, count, suspected_cancer"

static void read_finding(sqlite3_stmt *st, void *out)
{
    cs_finding_rec *o = out;
    memset(o, 0, sizeof *o);
    o->id = sqlite3_column_int64(st, 0);
    text(st, 1, o->study, sizeof o->study);
    o->seq_from = (uint64_t)sqlite3_column_int64(st, 2);
    o->seq_to = (uint64_t)sqlite3_column_int64(st, 3);
    text(st, 4, o->type, sizeof o->type);
    text(st, 5, o->note, sizeof o->note);
    o->size_mm = sqlite3_column_double(st, 6);
    o->version = sqlite3_column_int(st, 7);
    o->deleted = sqlite3_column_int(st, 8) != 0;
    text(st, 9, o->created_by, sizeof o->created_by);
    o->created_at_ms = sqlite3_column_int64(st, 10);
    text(st, 11, o->updated_by, sizeof o->updated_by);
    o->updated_at_ms = sqlite3_column_int64(st, 12);
    text(st, 13, o->segment, sizeof o->segment);
    text(st, 14, o->morphology, sizeof o->morphology);
    o->count = sqlite3_column_int(st, 15);
    o->suspected_cancer = sqlite3_column_int(st, 16) != 0;
}

/* Finding `id` of `study` as stored now; *found false when there is none. */
static cs_status finding_load(sq_store *q, const char *study, int64_t id, cs_finding_rec *out,
                              bool *found, cs_error *err)
{
    sqlite3_stmt *st = NULL;
    cs_status r =
        prep(q, "SELECT " FINDING_COLS " FROM findings WHERE id = ? AND study = ?", &st, err);
    if (r == CS_OK)
        r = sq_bind(q, st, err, sq_i64(id), sq_text(study));
    if (r == CS_OK) {
        r = one_row(q, st, read_finding, out, found, "read finding", err);
    }
    done(st);
    return r;
}

/* Copy finding `id` as it is now into its history. */
static cs_status finding_snapshot(sq_store *q, int64_t id, cs_error *err)
{
    return run(q,
               "INSERT INTO finding_history (" FINDING_COLS ") SELECT " FINDING_COLS
               " FROM findings WHERE id = ?",
               NULL, err, sq_i64(id));
}

/* The checks every change of a finding or a mark makes first, inside its
 * transaction: the study exists and its report is not signed. */
static cs_status check_open(sq_store *q, const char *study, cs_change_outcome *out, cs_error *err)
{
    bool exists = false, is_signed = false;
    cs_status r = study_lock(q, study, &exists, &is_signed, err);
    if (r == CS_OK)
        *out = !exists ? CS_CHANGE_NOT_FOUND : is_signed ? CS_CHANGE_LOCKED : CS_CHANGE_OK;
    return r;
}

/* A finding saved marked suspected cancer raises its alert in the same
 * transaction (store.h): both are stored or neither. Nothing for one
 * deleted or not marked; nothing new when its alert exists. */
static cs_status finding_alert(sq_store *q, const cs_finding_rec *saved, cs_error *err)
{
    if (!saved->suspected_cancer || saved->deleted)
        return CS_OK;
    cs_alert_rec a;
    cs_store_finding_alert(saved, &a);
    return sq_alert_insert(q, &a, NULL, err);
}

cs_status sq_finding_create(cs_store *s, cs_finding_rec *f, cs_change_outcome *out, cs_error *err)
{
    sq_store *q = SQ(s);
    bool in_tx = false;
    *out = CS_CHANGE_NOT_FOUND;
    pthread_mutex_lock(&q->lock);
    cs_status r = begin(q, &in_tx, err);
    if (r != CS_OK || (r = check_open(q, f->study, out, err)) != CS_OK || *out != CS_CHANGE_OK)
        goto fail;
    int64_t from = (int64_t)f->seq_from, to = (int64_t)f->seq_to;
    if ((r = run(q,
                 "INSERT INTO findings (study, seq_from, seq_to, type, note, size_mm,"
                 " version, deleted, created_by, created_at_ms, updated_by, updated_at_ms,"
                 " segment, morphology, count, suspected_cancer)"
                 " VALUES (?,?,?,?,?,?,1,0,?,?,?,?,?,?,?,?)",
                 NULL, err, sq_text(f->study), sq_i64(from), sq_i64(to), sq_text(f->type),
                 sq_text(f->note), sq_f64(f->size_mm), sq_text(f->created_by),
                 sq_i64(f->created_at_ms), sq_text(f->updated_by), sq_i64(f->updated_at_ms),
                 sq_text(f->segment), sq_text(f->morphology), sq_i64(f->count),
                 sq_i64(f->suspected_cancer))) != CS_OK)
        goto fail;
    cs_finding_rec saved = *f;
    saved.id = sqlite3_last_insert_rowid(q->db);
    saved.version = 1;
    saved.deleted = false;
    if ((r = finding_snapshot(q, saved.id, err)) != CS_OK ||
        (r = finding_alert(q, &saved, err)) != CS_OK || (r = commit(q, &in_tx, err)) != CS_OK)
        goto fail;
    *f = saved;
fail:
    rollback(q, in_tx);
    pthread_mutex_unlock(&q->lock);
    return r;
}

/* Update (or, when `by` is set, delete) finding cur->id: the shared body of
 * sq_finding_update and sq_finding_delete. On OK *saved holds the result. */
static cs_status finding_change(sq_store *q, const cs_finding_rec *f, const char *del_by,
                                int64_t del_at_ms, int expected_version, cs_change_outcome *out,
                                cs_finding_rec *saved, cs_error *err)
{
    bool in_tx = false, found = false;
    cs_finding_rec cur;
    *out = CS_CHANGE_NOT_FOUND;
    pthread_mutex_lock(&q->lock);
    cs_status r = begin(q, &in_tx, err);
    if (r != CS_OK || (r = check_open(q, f->study, out, err)) != CS_OK || *out != CS_CHANGE_OK)
        goto fail;
    if ((r = finding_load(q, f->study, f->id, &cur, &found, err)) != CS_OK)
        goto fail;
    if (!found || cur.deleted) {
        *out = CS_CHANGE_NOT_FOUND;
        goto fail;
    }
    if (expected_version != 0 && cur.version != expected_version) {
        *out = CS_CHANGE_CONFLICT;
        goto fail;
    }
    if (del_by) {
        r = run(q,
                "UPDATE findings SET deleted = 1, version = version + 1, updated_by = ?,"
                " updated_at_ms = ? WHERE id = ?",
                NULL, err, sq_text(del_by), sq_i64(del_at_ms), sq_i64(f->id));
    } else {
        int64_t from = (int64_t)f->seq_from, to = (int64_t)f->seq_to;
        r = run(q,
                "UPDATE findings SET seq_from = ?, seq_to = ?, type = ?, note = ?,"
                " size_mm = ?, segment = ?, morphology = ?, count = ?, suspected_cancer = ?,"
                " version = version + 1, updated_by = ?, updated_at_ms = ? WHERE id = ?",
                NULL, err, sq_i64(from), sq_i64(to), sq_text(f->type), sq_text(f->note),
                sq_f64(f->size_mm), sq_text(f->segment), sq_text(f->morphology), sq_i64(f->count),
                sq_i64(f->suspected_cancer), sq_text(f->updated_by), sq_i64(f->updated_at_ms),
                sq_i64(f->id));
    }
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
    r = commit(q, &in_tx, err);
fail:
    rollback(q, in_tx);
    pthread_mutex_unlock(&q->lock);
    if (r != CS_OK)
        *out = CS_CHANGE_NOT_FOUND;
    return r;
}

cs_status sq_finding_update(cs_store *s, cs_finding_rec *f, int expected_version,
                            cs_change_outcome *out, cs_error *err)
{
    cs_finding_rec saved;
    cs_status r = finding_change(SQ(s), f, NULL, 0, expected_version, out, &saved, err);
    if (r == CS_OK && *out == CS_CHANGE_OK)
        *f = saved;
    return r;
}

cs_status sq_finding_delete(cs_store *s, const char *study, int64_t id, const char *by,
                            int64_t at_ms, int expected_version, cs_change_outcome *out,
                            cs_error *err)
{
    cs_finding_rec key, saved;
    memset(&key, 0, sizeof key);
    snprintf(key.study, sizeof key.study, "%s", study);
    key.id = id;
    return finding_change(SQ(s), &key, by, at_ms, expected_version, out, &saved, err);
}

cs_status sq_findings_list(cs_store *s, const char *study, bool include_deleted,
                           cs_finding_rec **out, size_t *n, cs_error *err)
{
    sq_store *q = SQ(s);
    sqlite3_stmt *st = NULL;
    void *v = NULL;
    *n = 0;
    pthread_mutex_lock(&q->lock);
    cs_status r = prep(q,
                       "SELECT " FINDING_COLS " FROM findings WHERE study = ?"
                       " AND (? OR deleted = 0) ORDER BY seq_from, id",
                       &st, err);
    if (r == CS_OK)
        r = sq_bind(q, st, err, sq_text(study), sq_i64(include_deleted));
    if (r == CS_OK) {
        r = list_rows(q, st, read_finding, sizeof **out, &v, n, "list findings", err);
    }
    done(st);
    pthread_mutex_unlock(&q->lock);
    *out = v;
    return r;
}

cs_status sq_finding_history(cs_store *s, const char *study, int64_t id, cs_finding_rec **out,
                             size_t *n, cs_error *err)
{
    sq_store *q = SQ(s);
    sqlite3_stmt *st = NULL;
    void *v = NULL;
    *n = 0;
    pthread_mutex_lock(&q->lock);
    cs_status r = prep(q,
                       "SELECT " FINDING_COLS " FROM finding_history WHERE id = ?"
                       " AND study = ? ORDER BY version",
                       &st, err);
    if (r == CS_OK)
        r = sq_bind(q, st, err, sq_i64(id), sq_text(study));
    if (r == CS_OK) {
        r = list_rows(q, st, read_finding, sizeof **out, &v, n, "read finding history", err);
    }
    done(st);
    pthread_mutex_unlock(&q->lock);
    *out = v;
    return r;
}

/* ---- marks: landmarks and cleansing grades ---------------------------------- */

/* Set (insert or replace) or, with only_new, add (insert only: CONFLICT
 * when the mark exists). */
static cs_status mark_write(cs_store *s, const char *study, const cs_mark_rec *m, bool only_new,
                            cs_change_outcome *out, cs_error *err)
{
    sq_store *q = SQ(s);
    bool in_tx = false;
    int changes = 0;
    *out = CS_CHANGE_NOT_FOUND;
    pthread_mutex_lock(&q->lock);
    cs_status r = begin(q, &in_tx, err);
    if (r != CS_OK || (r = check_open(q, study, out, err)) != CS_OK || *out != CS_CHANGE_OK)
        goto fail;
    if ((r = run(q,
                 only_new ? "INSERT INTO marks (study, kind, key, value, seq, set_by, at_ms,"
                            " first_at_ms) VALUES (?,?,?,?,?,?,?,?)"
                            " ON CONFLICT (study, kind, key) DO NOTHING"
                          : "INSERT INTO marks (study, kind, key, value, seq, set_by, at_ms,"
                            " first_at_ms) VALUES (?,?,?,?,?,?,?,?) ON CONFLICT (study, kind, key)"
                            " DO UPDATE SET value = excluded.value, seq = excluded.seq,"
                            " set_by = excluded.set_by, at_ms = excluded.at_ms,"
                            " first_at_ms = " CS_MARK_FIRST_AT_MS_ON_UPDATE,
                 &changes, err, sq_text(study), sq_text(m->kind), sq_text(m->key),
                 sq_text(m->value), sq_i64(m->seq), sq_text(m->by), sq_i64(m->at_ms),
                 sq_i64(m->at_ms))) != CS_OK)
        goto fail;
    if (only_new && changes == 0) {
        *out = CS_CHANGE_CONFLICT;
        goto fail;
    }
    r = commit(q, &in_tx, err);
fail:
    rollback(q, in_tx);
    pthread_mutex_unlock(&q->lock);
    if (r != CS_OK)
        *out = CS_CHANGE_NOT_FOUND;
    return r;
}

cs_status sq_mark_set(cs_store *s, const char *study, const cs_mark_rec *m, cs_change_outcome *out,
                      cs_error *err)
{
    return mark_write(s, study, m, false, out, err);
}

cs_status sq_mark_add(cs_store *s, const char *study, const cs_mark_rec *m, cs_change_outcome *out,
                      cs_error *err)
{
    return mark_write(s, study, m, true, out, err);
}

cs_status sq_mark_delete(cs_store *s, const char *study, const char *kind, const char *key,
                         cs_change_outcome *out, cs_error *err)
{
    sq_store *q = SQ(s);
    bool in_tx = false;
    int changes = 0;
    *out = CS_CHANGE_NOT_FOUND;
    pthread_mutex_lock(&q->lock);
    cs_status r = begin(q, &in_tx, err);
    if (r != CS_OK || (r = check_open(q, study, out, err)) != CS_OK || *out != CS_CHANGE_OK)
        goto fail;
    if ((r = run(q, "DELETE FROM marks WHERE study = ? AND kind = ? AND key = ?", &changes, err,
                 sq_text(study), sq_text(kind), sq_text(key))) != CS_OK)
        goto fail;
    if (changes == 0) {
        *out = CS_CHANGE_NOT_FOUND;
        goto fail;
    }
    r = commit(q, &in_tx, err);
fail:
    rollback(q, in_tx);
    pthread_mutex_unlock(&q->lock);
    if (r != CS_OK)
        *out = CS_CHANGE_NOT_FOUND;
    return r;
}

static void read_mark(sqlite3_stmt *st, void *out)
{
    cs_mark_rec *o = out;
    memset(o, 0, sizeof *o);
    text(st, 0, o->kind, sizeof o->kind);
    text(st, 1, o->key, sizeof o->key);
    text(st, 2, o->value, sizeof o->value);
    o->seq = sqlite3_column_int64(st, 3);
    text(st, 4, o->by, sizeof o->by);
    o->at_ms = sqlite3_column_int64(st, 5);
    o->first_at_ms = sqlite3_column_int64(st, 6);
}

cs_status sq_marks_list(cs_store *s, const char *study, cs_mark_rec **out, size_t *n, cs_error *err)
{
    sq_store *q = SQ(s);
    sqlite3_stmt *st = NULL;
    void *v = NULL;
    *n = 0;
    pthread_mutex_lock(&q->lock);
    cs_status r = prep(q, CS_MARKS_SELECT " WHERE study = ? ORDER BY kind, key", &st, err);
    if (r == CS_OK)
        r = sq_bind(q, st, err, sq_text(study));
    if (r == CS_OK) {
        r = list_rows(q, st, read_mark, sizeof **out, &v, n, "list marks", err);
    }
    done(st);
    pthread_mutex_unlock(&q->lock);
    *out = v;
    return r;
}

/* ---- reports -------------------------------------------------------------------- */

#define REPORT_COLS                                                         \
    "study, state, content, version, updated_by, updated_at_ms, signed_by," \
    " signed_at_ms"

static void read_report(sqlite3_stmt *st, void *out)
{
    cs_report_rec *o = out;
    memset(o, 0, sizeof *o);
    text(st, 0, o->study, sizeof o->study);
    text(st, 1, o->state, sizeof o->state);
    text(st, 2, o->content, sizeof o->content);
    o->version = sqlite3_column_int(st, 3);
    text(st, 4, o->updated_by, sizeof o->updated_by);
    o->updated_at_ms = sqlite3_column_int64(st, 5);
    text(st, 6, o->signed_by, sizeof o->signed_by);
    o->signed_at_ms = sqlite3_column_int64(st, 7);
}

static cs_status report_load(sq_store *q, const char *study, cs_report_rec *out, bool *found,
                             cs_error *err)
{
    sqlite3_stmt *st = NULL;
    cs_status r = prep(q, "SELECT " REPORT_COLS " FROM reports WHERE study = ?", &st, err);
    if (r == CS_OK)
        r = sq_bind(q, st, err, sq_text(study));
    if (r == CS_OK) {
        r = one_row(q, st, read_report, out, found, "read report", err);
    }
    done(st);
    return r;
}

cs_status sq_report_get(cs_store *s, const char *study, bool *found, cs_report_rec *out,
                        cs_error *err)
{
    return get_by_id(SQ(s), "SELECT " REPORT_COLS " FROM reports WHERE study = ?", study,
                     read_report, out, found, "read report", err);
}

/* Reports are large (16 KiB of content): the calls below keep their
 * working copies on the heap. */
cs_status sq_report_save(cs_store *s, cs_report_rec *rep, int expected_version,
                         cs_change_outcome *out, cs_error *err)
{
    sq_store *q = SQ(s);
    bool in_tx = false, found = false;
    cs_report_rec *cur = malloc(sizeof *cur);
    *out = CS_CHANGE_NOT_FOUND;
    if (!cur)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory saving a report");
    pthread_mutex_lock(&q->lock);
    cs_status r = begin(q, &in_tx, err);
    if (r != CS_OK || (r = check_open(q, rep->study, out, err)) != CS_OK || *out != CS_CHANGE_OK)
        goto fail;
    if ((r = report_load(q, rep->study, cur, &found, err)) != CS_OK)
        goto fail;
    /* 0 stands for "no report yet", so expected 0 means "create". */
    if (expected_version >= 0 && (found ? cur->version : 0) != expected_version) {
        *out = CS_CHANGE_CONFLICT;
        goto fail;
    }
    if (found) {
        if ((r = run(q,
                     "INSERT INTO report_history (study, version, state, content, updated_by,"
                     " updated_at_ms) SELECT study, version, state, content, updated_by,"
                     " updated_at_ms FROM reports WHERE study = ?",
                     NULL, err, sq_text(rep->study))) != CS_OK ||
            (r = run(q,
                     "UPDATE reports SET state = ?, content = ?, updated_by = ?,"
                     " updated_at_ms = ?, version = version + 1 WHERE study = ?",
                     NULL, err, sq_text(rep->state), sq_text(rep->content),
                     sq_text(rep->updated_by), sq_i64(rep->updated_at_ms), sq_text(rep->study))) !=
                CS_OK)
            goto fail;
    } else if ((r = run(q,
                        "INSERT INTO reports (state, content, updated_by, updated_at_ms,"
                        " study, version) VALUES (?,?,?,?,?,1)",
                        NULL, err, sq_text(rep->state), sq_text(rep->content),
                        sq_text(rep->updated_by), sq_i64(rep->updated_at_ms),
                        sq_text(rep->study))) != CS_OK) {
        goto fail;
    }
    if ((r = report_load(q, rep->study, cur, &found, err)) != CS_OK ||
        (r = commit(q, &in_tx, err)) != CS_OK)
        goto fail;
    *rep = *cur;
fail:
    rollback(q, in_tx);
    pthread_mutex_unlock(&q->lock);
    free(cur);
    if (r != CS_OK)
        *out = CS_CHANGE_NOT_FOUND;
    return r;
}

cs_status sq_report_sign(cs_store *s, const char *study, const char *by, int64_t at_ms,
                         int expected_version, cs_change_outcome *outcome, cs_report_rec *out,
                         cs_error *err)
{
    sq_store *q = SQ(s);
    bool in_tx = false, found = false;
    cs_report_rec *cur = malloc(sizeof *cur);
    *outcome = CS_CHANGE_NOT_FOUND;
    if (!cur)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory signing a report");
    pthread_mutex_lock(&q->lock);
    cs_status r = begin(q, &in_tx, err);
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
    if ((r = run(q,
                 "UPDATE reports SET state = 'signed', signed_by = ?, signed_at_ms = ?"
                 " WHERE study = ?",
                 NULL, err, sq_text(by), sq_i64(at_ms), sq_text(study))) != CS_OK ||
        (r = report_load(q, study, cur, &found, err)) != CS_OK ||
        (r = commit(q, &in_tx, err)) != CS_OK)
        goto fail;
    *out = *cur;
    *outcome = CS_CHANGE_OK;
fail:
    rollback(q, in_tx);
    pthread_mutex_unlock(&q->lock);
    free(cur);
    if (r != CS_OK)
        *outcome = CS_CHANGE_NOT_FOUND;
    return r;
}

cs_status sq_report_signed(cs_store *s, const char *study, bool *is_signed, cs_error *err)
{
    sq_store *q = SQ(s);
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

/* Whether the study is complete enough to sign (store.h: the analysis
 * covers every stored upload byte, and every upload is COMPLETE or the
 * study is closed). */
static cs_status study_complete(sq_store *q, const char *study, bool *complete, cs_error *err)
{
    sqlite3_stmt *st = NULL;
    cs_status r = prep(q,
                       "SELECT s.closed_at_ms != 0, s.ingest_offset >="
                       " (SELECT COALESCE(SUM(u.offset),0) FROM uploads u WHERE u.study = s.id),"
                       " (SELECT COUNT(*) FROM uploads u WHERE u.study = s.id),"
                       " (SELECT COUNT(*) FROM uploads u WHERE u.study = s.id AND u.state != ?2)"
                       " FROM studies s WHERE s.id = ?1",
                       &st, err);
    *complete = false;
    if (r == CS_OK)
        r = sq_bind(q, st, err, sq_text(study), sq_i64(CS_UPLOAD_COMPLETE));
    if (r == CS_OK) {
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            bool closed = sqlite3_column_int(st, 0) != 0;
            bool analysed = sqlite3_column_int(st, 1) != 0;
            bool all_in = sqlite3_column_int64(st, 2) > 0 && sqlite3_column_int64(st, 3) == 0;
            *complete = analysed && (closed || all_in);
        } else if (rc != SQLITE_DONE) {
            r = db_fail(q, err, "read study completeness");
        }
    }
    done(st);
    return r;
}

/* The report basis stamp (store.h, cs_store_report_basis): the findings,
 * marks and patient fields a printed report shows, in a fixed order. */
static cs_status basis_stamp(sq_store *q, const char *study, char out[CS_REPORT_BASIS_HEX],
                             cs_error *err)
{
    static const char *const table[] = CS_BASIS_TABLES;
    static const char *const sql[] = CS_BASIS_SQL("?");
    cs_basis b;
    cs_basis_begin(&b);
    for (size_t i = 0; i < sizeof sql / sizeof *sql; i++) {
        sqlite3_stmt *st = NULL;
        cs_status r = prep(q, sql[i], &st, err);
        if (r == CS_OK)
            r = sq_bind(q, st, err, sq_text(study));
        cs_basis_table(&b, table[i]);
        int rc = SQLITE_DONE;
        while (r == CS_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
            cs_basis_row(&b);
            for (int c = 0; c < sqlite3_column_count(st); c++) {
                const char *t = (const char *)sqlite3_column_text(st, c);
                cs_basis_field(&b, t ? t : "", t ? (size_t)sqlite3_column_bytes(st, c) : 0);
            }
        }
        if (r == CS_OK && rc != SQLITE_DONE)
            r = db_fail(q, err, "read the report basis");
        done(st);
        if (r != CS_OK)
            return r;
    }
    cs_basis_end(&b, out);
    return CS_OK;
}

cs_status sq_report_basis(cs_store *s, const char *study, char basis[CS_REPORT_BASIS_HEX],
                          cs_error *err)
{
    sq_store *q = SQ(s);
    pthread_mutex_lock(&q->lock);
    cs_status r = basis_stamp(q, study, basis, err);
    pthread_mutex_unlock(&q->lock);
    return r;
}

cs_status sq_report_sign_checked(cs_store *s, const char *study, const char *by, int64_t at_ms,
                                 int shown_version, const char *shown_basis,
                                 cs_check_outcome *outcome, cs_report_rec *out, cs_error *err)
{
    char basis[CS_REPORT_BASIS_HEX];
    sq_store *q = SQ(s);
    bool in_tx = false, found = false, complete = false;
    cs_report_rec *cur = malloc(sizeof *cur);
    *outcome = CS_CHECK_NOT_FOUND;
    if (!cur)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory signing a report");
    pthread_mutex_lock(&q->lock);
    cs_status r = begin(q, &in_tx, err);
    if (r != CS_OK || (r = report_load(q, study, cur, &found, err)) != CS_OK || !found)
        goto fail;
    /* Every check reads what this transaction will sign: a save cannot
     * land between the check and the signature. */
    if (strcmp(cur->state, "signed") == 0) {
        *outcome = CS_CHECK_LOCKED;
        goto fail;
    }
    if (cur->version != shown_version) {
        *outcome = CS_CHECK_CONFLICT;
        goto fail;
    }
    /* The findings, marks and patient the printed report shows are those
     * the signer was shown: no finding added since slips under it. */
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
    if ((r = run(q,
                 "UPDATE reports SET state = 'signed', signed_by = ?, signed_at_ms = ?"
                 " WHERE study = ? AND version = ?",
                 NULL, err, sq_text(by), sq_i64(at_ms), sq_text(study), sq_i64(shown_version))) !=
            CS_OK ||
        (r = report_load(q, study, cur, &found, err)) != CS_OK ||
        (r = commit(q, &in_tx, err)) != CS_OK)
        goto fail;
    if (out)
        *out = *cur;
    *outcome = CS_CHECK_OK;
fail:
    rollback(q, in_tx);
    pthread_mutex_unlock(&q->lock);
    free(cur);
    if (r != CS_OK)
        *outcome = CS_CHECK_NOT_FOUND;
    return r;
}

/* ---- report addenda (issue 9) ------------------------------------------------ */

cs_status sq_addendum_add(cs_store *s, cs_addendum_rec *a, cs_check_outcome *outcome, cs_error *err)
{
    sq_store *q = SQ(s);
    bool in_tx = false, found = false;
    cs_report_rec *cur = malloc(sizeof *cur);
    *outcome = CS_CHECK_NOT_FOUND;
    if (!cur)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory adding an addendum");
    pthread_mutex_lock(&q->lock);
    cs_status r = begin(q, &in_tx, err);
    if (r != CS_OK || (r = report_load(q, a->study, cur, &found, err)) != CS_OK || !found)
        goto fail;
    if (strcmp(cur->state, "signed") != 0) {
        *outcome = CS_CHECK_INVALID;
        goto fail;
    }
    if ((r = run(q,
                 "INSERT INTO report_addenda (study, by_user, at_ms, reason, text)"
                 " VALUES (?,?,?,?,?)",
                 NULL, err, sq_text(a->study), sq_text(a->by), sq_i64(a->at_ms), sq_text(a->reason),
                 sq_text(a->text))) != CS_OK)
        goto fail;
    a->id = sqlite3_last_insert_rowid(q->db);
    if ((r = commit(q, &in_tx, err)) == CS_OK)
        *outcome = CS_CHECK_OK;
fail:
    rollback(q, in_tx);
    pthread_mutex_unlock(&q->lock);
    free(cur);
    if (r != CS_OK)
        *outcome = CS_CHECK_NOT_FOUND;
    return r;
}

static void read_addendum(sqlite3_stmt *st, void *out)
{
    cs_addendum_rec *o = out;
    memset(o, 0, sizeof *o);
    o->id = sqlite3_column_int64(st, 0);
    text(st, 1, o->study, sizeof o->study);
    text(st, 2, o->by, sizeof o->by);
    o->at_ms = sqlite3_column_int64(st, 3);
    text(st, 4, o->reason, sizeof o->reason);
    text(st, 5, o->text, sizeof o->text);
}

cs_status sq_addenda_list(cs_store *s, const char *study, cs_addendum_rec **out, size_t *n,
                          cs_error *err)
{
    sq_store *q = SQ(s);
    sqlite3_stmt *st = NULL;
    void *v = NULL;
    *n = 0;
    pthread_mutex_lock(&q->lock);
    cs_status r = prep(q,
                       "SELECT id, study, by_user, at_ms, reason, text FROM report_addenda"
                       " WHERE study = ? ORDER BY id",
                       &st, err);
    if (r == CS_OK)
        r = sq_bind(q, st, err, sq_text(study));
    if (r == CS_OK)
        r = list_rows(q, st, read_addendum, sizeof **out, &v, n, "list addenda", err);
    done(st);
    pthread_mutex_unlock(&q->lock);
    *out = v;
    return r;
}
