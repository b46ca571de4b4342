/* store_sqlite_care.c - the live care loop's calls on SQLite (schema 4):
 * the hub's last health report, the care protocol in force per study, and
 * alerts with their webhook outbox (store.h, docs/care.md). */
#include <string.h>

#include "store/store_sqlite.h"

/* Does the study exist? Under q->lock. */
static cs_status study_exists(sq_store *q, const char *study, bool *exists, cs_error *err)
{
    sqlite3_stmt *st = NULL;
    *exists = false;
    cs_status r = prep(q, "SELECT 1 FROM studies WHERE id = ?", &st, err);
    if (r == CS_OK && (r = sq_bind(q, st, err, sq_text(study))) == CS_OK) {
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW)
            *exists = true;
        else if (rc != SQLITE_DONE)
            r = db_fail(q, err, "find study");
    }
    done(st);
    return r;
}

/* The HUB_COLS columns from column `c` on. */
static void read_hub_status(sqlite3_stmt *st, int c, cs_hub_status_rec *o)
{
    memset(o, 0, sizeof *o);
    o->at_ms = sqlite3_column_int64(st, c);
    o->battery_pct = sqlite3_column_int(st, c + 1);
    o->signal_dbm = sqlite3_column_int(st, c + 2);
    o->spool_used_pct = sqlite3_column_int(st, c + 3);
    text(st, c + 4, o->recorder, sizeof o->recorder);
    text(st, c + 5, o->message, sizeof o->message);
}

#define HUB_COLS "at_ms, battery_pct, signal_dbm, spool_used_pct, recorder, message"

/* The study's hub status into *out (at_ms 0 when none). Under q->lock. */
static cs_status hub_status_read(sq_store *q, const char *study, cs_hub_status_rec *out,
                                 cs_error *err)
{
    sqlite3_stmt *st = NULL;
    memset(out, 0, sizeof *out);
    cs_status r = prep(q, "SELECT " HUB_COLS " FROM hub_status WHERE study = ?", &st, err);
    if (r == CS_OK && (r = sq_bind(q, st, err, sq_text(study))) == CS_OK) {
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW)
            read_hub_status(st, 0, out);
        else if (rc != SQLITE_DONE)
            r = db_fail(q, err, "read hub status");
    }
    done(st);
    return r;
}

cs_status sq_hub_status_put(cs_store *s, const char *study, const cs_hub_status_rec *hs,
                            cs_hub_status_rec *previous, cs_check_outcome *outcome, cs_error *err)
{
    sq_store *q = SQ(s);
    bool in_tx = false, exists = false;
    *outcome = CS_CHECK_NOT_FOUND;
    pthread_mutex_lock(&q->lock);
    cs_status r = begin(q, &in_tx, err);
    if (r == CS_OK)
        r = study_exists(q, study, &exists, err);
    if (r == CS_OK && exists && (r = hub_status_read(q, study, previous, err)) == CS_OK &&
        (r = run(q,
                 "INSERT OR REPLACE INTO hub_status (study, " HUB_COLS
                 ") VALUES (?, ?, ?, ?, ?, ?, ?)",
                 NULL, err, sq_text(study), sq_i64(hs->at_ms), sq_i64(hs->battery_pct),
                 sq_i64(hs->signal_dbm), sq_i64(hs->spool_used_pct), sq_text(hs->recorder),
                 sq_text(hs->message))) == CS_OK &&
        (r = commit(q, &in_tx, err)) == CS_OK)
        *outcome = CS_CHECK_OK;
    rollback(q, in_tx);
    pthread_mutex_unlock(&q->lock);
    return r;
}

cs_status sq_hub_status_get(cs_store *s, const char *study, cs_hub_status_rec *out, cs_error *err)
{
    sq_store *q = SQ(s);
    pthread_mutex_lock(&q->lock);
    cs_status r = hub_status_read(q, study, out, err);
    pthread_mutex_unlock(&q->lock);
    return r;
}

static void read_hub_item(sqlite3_stmt *st, void *out)
{
    cs_hub_status_item *it = out;
    memset(it, 0, sizeof *it);
    text(st, 0, it->study, sizeof it->study);
    read_hub_status(st, 1, &it->status);
}

cs_status sq_hub_status_list(cs_store *s, cs_hub_status_item **out, size_t *n, cs_error *err)
{
    return list_query(SQ(s), "SELECT study, " HUB_COLS " FROM hub_status WHERE at_ms > 0", NULL, 0,
                      read_hub_item, sizeof **out, (void **)out, n, "list hub status", err);
}

cs_status sq_study_protocol_set(cs_store *s, const char *study, const char *json,
                                cs_check_outcome *outcome, cs_error *err)
{
    sq_store *q = SQ(s);
    int changes = 0;
    pthread_mutex_lock(&q->lock);
    /* Set once: the protocol a study started under stays its protocol. */
    cs_status r = run(q, "UPDATE studies SET protocol = ? WHERE id = ? AND protocol IS NULL",
                      &changes, err, sq_text(json), sq_text(study));
    bool exists = false;
    if (r == CS_OK && changes == 0)
        r = study_exists(q, study, &exists, err);
    pthread_mutex_unlock(&q->lock);
    *outcome = changes > 0 ? CS_CHECK_OK : exists ? CS_CHECK_CONFLICT : CS_CHECK_NOT_FOUND;
    return r;
}

cs_status sq_study_protocol_get(cs_store *s, const char *study, char **json, cs_error *err)
{
    sq_store *q = SQ(s);
    sqlite3_stmt *st = NULL;
    pthread_mutex_lock(&q->lock);
    cs_status r = prep(q, "SELECT protocol FROM studies WHERE id = ?", &st, err);
    if (r == CS_OK && (r = sq_bind(q, st, err, sq_text(study))) == CS_OK) {
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
            const char *t = (const char *)sqlite3_column_text(st, 0);
            *json = strdup(t ? t : "");
            if (!*json)
                r = cs_error_set(err, CS_ERR_NOMEM, "out of memory reading a protocol");
        } else if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
            r = db_fail(q, err, "read protocol");
        }
    }
    done(st);
    pthread_mutex_unlock(&q->lock);
    return r;
}

#define ALERT_COLS                                                                         \
    "id, study, kind, key, raised_at_ms, message, acked_by, acked_at_ms, delivered_at_ms," \
    " attempts, next_attempt_ms"

static void read_alert(sqlite3_stmt *st, void *out)
{
    cs_alert_rec *o = out;
    memset(o, 0, sizeof *o);
    o->id = sqlite3_column_int64(st, 0);
    text(st, 1, o->study, sizeof o->study);
    text(st, 2, o->kind, sizeof o->kind);
    text(st, 3, o->key, sizeof o->key);
    o->raised_at_ms = sqlite3_column_int64(st, 4);
    text(st, 5, o->message, sizeof o->message);
    text(st, 6, o->acked_by, sizeof o->acked_by);
    o->acked_at_ms = sqlite3_column_int64(st, 7);
    o->delivered_at_ms = sqlite3_column_int64(st, 8);
    o->attempts = sqlite3_column_int(st, 9);
    o->next_attempt_ms = sqlite3_column_int64(st, 10);
}

/* The one alert `sql` selects with `args` into *out; *found. Under q->lock. */
static cs_status alert_one(sq_store *q, const char *sql, const sq_arg *args, size_t nargs,
                           cs_alert_rec *out, bool *found, cs_error *err)
{
    sqlite3_stmt *st = NULL;
    *found = false;
    cs_status r = prep(q, sql, &st, err);
    if (r == CS_OK && (r = bind_args(q, st, args, nargs, err)) == CS_OK) {
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            read_alert(st, out);
            *found = true;
        } else if (rc != SQLITE_DONE) {
            r = db_fail(q, err, "read alert");
        }
    }
    done(st);
    return r;
}

cs_status sq_alert_insert(sq_store *q, const cs_alert_rec *rec, int *changes, cs_error *err)
{
    return run(q,
               "INSERT OR IGNORE INTO alerts (study, kind, key, raised_at_ms, message,"
               " next_attempt_ms) VALUES (?, ?, ?, ?, ?, ?)",
               changes, err, sq_text(rec->study), sq_text(rec->kind), sq_text(rec->key),
               sq_i64(rec->raised_at_ms), sq_text(rec->message), sq_i64(rec->raised_at_ms));
}

cs_status sq_alert_raise(cs_store *s, cs_alert_rec *rec, bool *raised, cs_check_outcome *outcome,
                         cs_error *err)
{
    sq_store *q = SQ(s);
    bool in_tx = false, exists = false, found = false;
    int changes = 0;
    cs_alert_rec stored;
    pthread_mutex_lock(&q->lock);
    cs_status r = begin(q, &in_tx, err);
    if (r == CS_OK)
        r = study_exists(q, rec->study, &exists, err);
    if (r == CS_OK && exists && (r = sq_alert_insert(q, rec, &changes, err)) == CS_OK &&
        (r = alert_one(q,
                       "SELECT " ALERT_COLS " FROM alerts WHERE study = ? AND kind = ? AND key = ?",
                       SQ_ARGS(sq_text(rec->study), sq_text(rec->kind), sq_text(rec->key)), &stored,
                       &found, err)) == CS_OK &&
        (r = commit(q, &in_tx, err)) == CS_OK && found) {
        *rec = stored;
        *raised = changes > 0;
        *outcome = CS_CHECK_OK;
    }
    rollback(q, in_tx);
    pthread_mutex_unlock(&q->lock);
    return r;
}

cs_status sq_alerts_list(cs_store *s, const char *study, cs_alert_rec **out, size_t *n,
                         cs_error *err)
{
    return sq_list(SQ(s), "SELECT " ALERT_COLS " FROM alerts WHERE study = ? ORDER BY id DESC",
                   read_alert, out, n, "list alerts", err, sq_text(study));
}

cs_status sq_alerts_open(cs_store *s, size_t max, cs_alert_rec **out, size_t *n, cs_error *err)
{
    return sq_list(
        SQ(s), "SELECT " ALERT_COLS " FROM alerts WHERE acked_at_ms = 0 ORDER BY id DESC LIMIT ?",
        read_alert, out, n, "list open alerts", err,
        sq_i64(max > INT64_MAX ? INT64_MAX : (int64_t)max));
}

cs_status sq_alert_ack(cs_store *s, const char *study, int64_t id, const char *by, int64_t at_ms,
                       cs_check_outcome *outcome, cs_alert_rec *out, cs_error *err)
{
    sq_store *q = SQ(s);
    bool in_tx = false, found = false;
    pthread_mutex_lock(&q->lock);
    cs_status r = begin(q, &in_tx, err);
    if (r == CS_OK)
        r = alert_one(q, "SELECT " ALERT_COLS " FROM alerts WHERE id = ? AND study = ?",
                      SQ_ARGS(sq_i64(id), sq_text(study)), out, &found, err);
    if (r == CS_OK && found) {
        if (out->acked_at_ms != 0) {
            *outcome = CS_CHECK_CONFLICT;
        } else if ((r = run(q, "UPDATE alerts SET acked_by = ?, acked_at_ms = ? WHERE id = ?", NULL,
                            err, sq_text(by), sq_i64(at_ms), sq_i64(id))) == CS_OK &&
                   (r = commit(q, &in_tx, err)) == CS_OK) {
            snprintf(out->acked_by, sizeof out->acked_by, "%s", by);
            out->acked_at_ms = at_ms;
            *outcome = CS_CHECK_OK;
        }
    }
    rollback(q, in_tx);
    pthread_mutex_unlock(&q->lock);
    return r;
}

cs_status sq_alerts_due(cs_store *s, int64_t now_ms, size_t max, cs_alert_rec **out, size_t *n,
                        cs_error *err)
{
    return sq_list(SQ(s),
                   "SELECT " ALERT_COLS " FROM alerts WHERE delivered_at_ms = 0"
                   " AND next_attempt_ms <= ? ORDER BY attempts > 0, next_attempt_ms, id LIMIT ?",
                   read_alert, out, n, "list due alerts", err, sq_i64(now_ms),
                   sq_i64((int64_t)max));
}

cs_status sq_alert_delivery(cs_store *s, int64_t id, int64_t delivered_at_ms, int attempts,
                            int64_t next_attempt_ms, cs_error *err)
{
    sq_store *q = SQ(s);
    pthread_mutex_lock(&q->lock);
    cs_status r = run(q,
                      "UPDATE alerts SET delivered_at_ms = ?, attempts = ?, next_attempt_ms = ?"
                      " WHERE id = ?",
                      NULL, err, sq_i64(delivered_at_ms), sq_i64(attempts), sq_i64(next_attempt_ms),
                      sq_i64(id));
    pthread_mutex_unlock(&q->lock);
    return r;
}

cs_status sq_alert_claim(cs_store *s, int64_t id, int64_t seen_next_attempt_ms,
                         int64_t lease_until_ms, bool *claimed, cs_error *err)
{
    sq_store *q = SQ(s);
    int changes = 0;
    pthread_mutex_lock(&q->lock);
    cs_status r =
        run(q,
            "UPDATE alerts SET next_attempt_ms = ?"
            " WHERE id = ? AND delivered_at_ms = 0 AND next_attempt_ms = ?",
            &changes, err, sq_i64(lease_until_ms), sq_i64(id), sq_i64(seen_next_attempt_ms));
    pthread_mutex_unlock(&q->lock);
    *claimed = r == CS_OK && changes == 1;
    return r;
}

/* ---- the patient's companion page ------------------------------------------- */

cs_status sq_patient_code_set(cs_store *s, const char *study, const char *code_hash,
                              int64_t expires_at, cs_check_outcome *outcome, cs_error *err)
{
    sq_store *q = SQ(s);
    int changes = 0;
    pthread_mutex_lock(&q->lock);
    cs_status r = run(q,
                      "UPDATE studies SET patient_code_hash = ?, patient_code_expires_at = ?"
                      " WHERE id = ?",
                      &changes, err, sq_text(code_hash), sq_i64(expires_at), sq_text(study));
    pthread_mutex_unlock(&q->lock);
    *outcome = changes > 0 ? CS_CHECK_OK : CS_CHECK_NOT_FOUND;
    return r;
}

cs_status sq_patient_study(cs_store *s, const char *code_hash, int64_t now, bool *found,
                           bool *expired, char *study, cs_error *err)
{
    sq_store *q = SQ(s);
    sqlite3_stmt *st = NULL;
    pthread_mutex_lock(&q->lock);
    cs_status r = prep(q,
                       "SELECT id, patient_code_expires_at, closed_at_ms FROM studies"
                       " WHERE patient_code_hash = ?",
                       &st, err);
    if (r == CS_OK && (r = sq_bind(q, st, err, sq_text(code_hash))) == CS_OK) {
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            if (sqlite3_column_int64(st, 1) <= now || sqlite3_column_int64(st, 2) != 0) {
                *expired = true;
            } else {
                *found = true;
                text(st, 0, study, CS_ID_MAX);
            }
        } else if (rc != SQLITE_DONE) {
            r = db_fail(q, err, "find patient code");
        }
    }
    done(st);
    pthread_mutex_unlock(&q->lock);
    return r;
}

cs_status sq_prep_tick(cs_store *s, const char *study, const char *step, int64_t at_ms,
                       cs_check_outcome *outcome, cs_error *err)
{
    sq_store *q = SQ(s);
    bool exists = false;
    pthread_mutex_lock(&q->lock);
    cs_status r = study_exists(q, study, &exists, err);
    if (r == CS_OK && exists) {
        if (at_ms > 0)
            r = run(q, "INSERT OR IGNORE INTO prep_ticks (study, step, at_ms) VALUES (?, ?, ?)",
                    NULL, err, sq_text(study), sq_text(step), sq_i64(at_ms));
        else
            r = run(q, "DELETE FROM prep_ticks WHERE study = ? AND step = ?", NULL, err,
                    sq_text(study), sq_text(step));
    }
    pthread_mutex_unlock(&q->lock);
    *outcome = r == CS_OK && exists ? CS_CHECK_OK : CS_CHECK_NOT_FOUND;
    return r;
}

static void read_tick(sqlite3_stmt *st, void *out)
{
    cs_prep_tick_rec *o = out;
    memset(o, 0, sizeof *o);
    text(st, 0, o->step, sizeof o->step);
    o->at_ms = sqlite3_column_int64(st, 1);
}

cs_status sq_prep_ticks(cs_store *s, const char *study, cs_prep_tick_rec **out, size_t *n,
                        cs_error *err)
{
    return sq_list(SQ(s), "SELECT step, at_ms FROM prep_ticks WHERE study = ? ORDER BY at_ms",
                   read_tick, out, n, "list prep ticks", err, sq_text(study));
}
