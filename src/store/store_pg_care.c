/* store_pg_care.c - the live care loop's calls on PostgreSQL (schema 4):
 * the hub's last health report, the care protocol in force per study,
 * alerts with their webhook outbox, the patient's code and prep ticks
 * (store.h, docs/care.md). Semantics as store_sqlite_care.c; the calls
 * that read before they write take the study's advisory lock
 * (store_pg.h). */
#include <string.h>

#include "store/store_pg.h"

/* Does the study exist? Under q->lock. */
static cs_status study_exists(pg_store *q, const char *study, bool *exists, cs_error *err)
{
    PGresult *res = NULL;
    cs_status r =
        pg_query(q, "SELECT 1 FROM studies WHERE id = $1", &res, "find study", err, pg_text(study));
    *exists = r == CS_OK && PQntuples(res) > 0;
    PQclear(res);
    return r;
}

#define HUB_COLS "at_ms, battery_pct, signal_dbm, spool_used_pct, recorder, message"

/* The HUB_COLS columns of `row` from column `c` on. */
static void read_hub_cols(const PGresult *res, int row, int c, cs_hub_status_rec *o)
{
    o->at_ms = pg_col_i64(res, row, c);
    o->battery_pct = (int)pg_col_i64(res, row, c + 1);
    o->signal_dbm = (int)pg_col_i64(res, row, c + 2);
    o->spool_used_pct = (int)pg_col_i64(res, row, c + 3);
    pg_col_text(res, row, c + 4, o->recorder, sizeof o->recorder);
    pg_col_text(res, row, c + 5, o->message, sizeof o->message);
}

/* The study's hub status into *out (at_ms 0 when none). Under q->lock. */
static cs_status hub_status_read(pg_store *q, const char *study, cs_hub_status_rec *out,
                                 cs_error *err)
{
    PGresult *res = NULL;
    memset(out, 0, sizeof *out);
    cs_status r = pg_query(q, "SELECT " HUB_COLS " FROM hub_status WHERE study = $1", &res,
                           "read hub status", err, pg_text(study));
    if (r == CS_OK && PQntuples(res) > 0)
        read_hub_cols(res, 0, 0, out);
    PQclear(res);
    return r;
}

cs_status pg_hub_status_put(cs_store *s, const char *study, const cs_hub_status_rec *hs,
                            cs_hub_status_rec *previous, cs_check_outcome *outcome, cs_error *err)
{
    pg_store *q = PGQ(s);
    bool in_tx = false, exists = false;
    cs_hub_status_rec prev;
    *outcome = CS_CHECK_NOT_FOUND;
    pthread_mutex_lock(&q->lock);
    cs_status r = pg_begin_study(q, study, &in_tx, err);
    if (r == CS_OK)
        r = study_exists(q, study, &exists, err);
    if (r == CS_OK && exists && (r = hub_status_read(q, study, &prev, err)) == CS_OK &&
        (r = pg_run(q,
                    "INSERT INTO hub_status (study, " HUB_COLS
                    ") VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (study) DO UPDATE SET"
                    " at_ms = EXCLUDED.at_ms, battery_pct = EXCLUDED.battery_pct,"
                    " signal_dbm = EXCLUDED.signal_dbm, spool_used_pct = EXCLUDED.spool_used_pct,"
                    " recorder = EXCLUDED.recorder, message = EXCLUDED.message",
                    NULL, err, pg_text(study), pg_i64(hs->at_ms), pg_i64(hs->battery_pct),
                    pg_i64(hs->signal_dbm), pg_i64(hs->spool_used_pct), pg_text(hs->recorder),
                    pg_text(hs->message))) == CS_OK &&
        (r = pg_commit(q, &in_tx, err)) == CS_OK) {
        *outcome = CS_CHECK_OK;
        if (previous)
            *previous = prev;
    }
    pg_rollback(q, in_tx);
    pthread_mutex_unlock(&q->lock);
    return r;
}

cs_status pg_hub_status_get(cs_store *s, const char *study, cs_hub_status_rec *out, cs_error *err)
{
    pg_store *q = PGQ(s);
    pthread_mutex_lock(&q->lock);
    cs_status r = hub_status_read(q, study, out, err);
    pthread_mutex_unlock(&q->lock);
    return r;
}

static void read_hub_item(const PGresult *res, int row, void *out)
{
    cs_hub_status_item *it = out;
    memset(it, 0, sizeof *it);
    pg_col_text(res, row, 0, it->study, sizeof it->study);
    read_hub_cols(res, row, 1, &it->status);
}

cs_status pg_hub_status_list(cs_store *s, cs_hub_status_item **out, size_t *n, cs_error *err)
{
    pg_store *q = PGQ(s);
    PGresult *res = NULL;
    void *v = NULL;
    pthread_mutex_lock(&q->lock);
    cs_status r = pg_exec(q, "SELECT study, " HUB_COLS " FROM hub_status WHERE at_ms > 0", NULL, 0,
                          &res, NULL, "list hub status", err);
    if (r == CS_OK)
        r = pg_list_rows(res, read_hub_item, sizeof **out, &v, n, "list hub status", err);
    PQclear(res);
    pthread_mutex_unlock(&q->lock);
    *out = v;
    return r;
}

cs_status pg_study_protocol_set(cs_store *s, const char *study, const char *json,
                                cs_check_outcome *outcome, cs_error *err)
{
    pg_store *q = PGQ(s);
    int changes = 0;
    bool exists = false;
    pthread_mutex_lock(&q->lock);
    /* Set once: the protocol a study started under stays its protocol. */
    cs_status r = pg_run(q, "UPDATE studies SET protocol = $1 WHERE id = $2 AND protocol IS NULL",
                         &changes, err, pg_text(json), pg_text(study));
    if (r == CS_OK && changes == 0)
        r = study_exists(q, study, &exists, err);
    pthread_mutex_unlock(&q->lock);
    *outcome = changes > 0 ? CS_CHECK_OK : exists ? CS_CHECK_CONFLICT : CS_CHECK_NOT_FOUND;
    return r;
}

cs_status pg_study_protocol_get(cs_store *s, const char *study, char **json, cs_error *err)
{
    pg_store *q = PGQ(s);
    PGresult *res = NULL;
    *json = NULL;
    pthread_mutex_lock(&q->lock);
    cs_status r = pg_query(q, "SELECT protocol FROM studies WHERE id = $1", &res, "read protocol",
                           err, pg_text(study));
    if (r == CS_OK && PQntuples(res) > 0 && !pg_col_null(res, 0, 0) &&
        !(*json = strdup(PQgetvalue(res, 0, 0))))
        r = cs_error_set(err, CS_ERR_NOMEM, "out of memory reading a protocol");
    PQclear(res);
    pthread_mutex_unlock(&q->lock);
    return r;
}

#define ALERT_COLS                                                                         \
    "id, study, kind, key, raised_at_ms, message, acked_by, acked_at_ms, delivered_at_ms," \
    " attempts, next_attempt_ms"

static void read_alert(const PGresult *res, int row, void *out)
{
    cs_alert_rec *o = out;
    memset(o, 0, sizeof *o);
    o->id = pg_col_i64(res, row, 0);
    pg_col_text(res, row, 1, o->study, sizeof o->study);
    pg_col_text(res, row, 2, o->kind, sizeof o->kind);
    pg_col_text(res, row, 3, o->key, sizeof o->key);
    o->raised_at_ms = pg_col_i64(res, row, 4);
    pg_col_text(res, row, 5, o->message, sizeof o->message);
    pg_col_text(res, row, 6, o->acked_by, sizeof o->acked_by);
    o->acked_at_ms = pg_col_i64(res, row, 7);
    o->delivered_at_ms = pg_col_i64(res, row, 8);
    o->attempts = (int)pg_col_i64(res, row, 9);
    o->next_attempt_ms = pg_col_i64(res, row, 10);
}

/* The one alert `sql` selects with `args` into *out; *found. Under q->lock. */
static cs_status alert_one(pg_store *q, const char *sql, const pg_arg *args, size_t nargs,
                           cs_alert_rec *out, bool *found, cs_error *err)
{
    PGresult *res = NULL;
    cs_status r = pg_exec(q, sql, args, nargs, &res, NULL, "read alert", err);
    *found = r == CS_OK && PQntuples(res) > 0;
    if (*found)
        read_alert(res, 0, out);
    PQclear(res);
    return r;
}

/* Every row `sql` selects with `args` as alerts; a whole call. */
static cs_status alert_list(pg_store *q, const char *sql, const pg_arg *args, size_t nargs,
                            cs_alert_rec **out, size_t *n, const char *what, cs_error *err)
{
    PGresult *res = NULL;
    void *v = NULL;
    *n = 0;
    pthread_mutex_lock(&q->lock);
    cs_status r = pg_exec(q, sql, args, nargs, &res, NULL, what, err);
    if (r == CS_OK)
        r = pg_list_rows(res, read_alert, sizeof **out, &v, n, what, err);
    PQclear(res);
    pthread_mutex_unlock(&q->lock);
    *out = v;
    return r;
}

cs_status pg_alert_insert(pg_store *q, const cs_alert_rec *rec, int *changes, cs_error *err)
{
    return pg_run(q,
                  "INSERT INTO alerts (study, kind, key, raised_at_ms, message,"
                  " next_attempt_ms) VALUES ($1, $2, $3, $4, $5, $6)"
                  " ON CONFLICT (study, kind, key) DO NOTHING",
                  changes, err, pg_text(rec->study), pg_text(rec->kind), pg_text(rec->key),
                  pg_i64(rec->raised_at_ms), pg_text(rec->message), pg_i64(rec->raised_at_ms));
}

cs_status pg_alert_raise(cs_store *s, cs_alert_rec *rec, bool *raised, cs_check_outcome *outcome,
                         cs_error *err)
{
    pg_store *q = PGQ(s);
    bool in_tx = false, exists = false, found = false;
    int changes = 0;
    cs_alert_rec stored;
    *outcome = CS_CHECK_NOT_FOUND;
    pthread_mutex_lock(&q->lock);
    cs_status r = pg_begin_study(q, rec->study, &in_tx, err);
    if (r == CS_OK)
        r = study_exists(q, rec->study, &exists, err);
    if (r == CS_OK && exists && (r = pg_alert_insert(q, rec, &changes, err)) == CS_OK &&
        (r = alert_one(
             q, "SELECT " ALERT_COLS " FROM alerts WHERE study = $1 AND kind = $2 AND key = $3",
             PG_ARGS(pg_text(rec->study), pg_text(rec->kind), pg_text(rec->key)), &stored, &found,
             err)) == CS_OK &&
        (r = pg_commit(q, &in_tx, err)) == CS_OK && found) {
        *rec = stored;
        *raised = changes > 0;
        *outcome = CS_CHECK_OK;
    }
    pg_rollback(q, in_tx);
    pthread_mutex_unlock(&q->lock);
    return r;
}

cs_status pg_alerts_list(cs_store *s, const char *study, cs_alert_rec **out, size_t *n,
                         cs_error *err)
{
    return alert_list(PGQ(s), "SELECT " ALERT_COLS " FROM alerts WHERE study = $1 ORDER BY id DESC",
                      PG_ARGS(pg_text(study)), out, n, "list alerts", err);
}

cs_status pg_alerts_open(cs_store *s, size_t max, cs_alert_rec **out, size_t *n, cs_error *err)
{
    return alert_list(
        PGQ(s), "SELECT " ALERT_COLS " FROM alerts WHERE acked_at_ms = 0 ORDER BY id DESC LIMIT $1",
        PG_ARGS(pg_i64(max > INT64_MAX ? INT64_MAX : (int64_t)max)), out, n, "list open alerts",
        err);
}

cs_status pg_alert_ack(cs_store *s, const char *study, int64_t id, const char *by, int64_t at_ms,
                       cs_check_outcome *outcome, cs_alert_rec *out, cs_error *err)
{
    pg_store *q = PGQ(s);
    bool in_tx = false, found = false;
    cs_alert_rec cur;
    *outcome = CS_CHECK_NOT_FOUND;
    pthread_mutex_lock(&q->lock);
    cs_status r = pg_begin_study(q, study, &in_tx, err);
    if (r == CS_OK)
        r = alert_one(q, "SELECT " ALERT_COLS " FROM alerts WHERE id = $1 AND study = $2",
                      PG_ARGS(pg_i64(id), pg_text(study)), &cur, &found, err);
    if (r == CS_OK && found) {
        if (cur.acked_at_ms != 0) {
            *outcome = CS_CHECK_CONFLICT;
        } else if ((r = pg_run(q, "UPDATE alerts SET acked_by = $1, acked_at_ms = $2 WHERE id = $3",
                               NULL, err, pg_text(by), pg_i64(at_ms), pg_i64(id))) == CS_OK &&
                   (r = pg_commit(q, &in_tx, err)) == CS_OK) {
            snprintf(cur.acked_by, sizeof cur.acked_by, "%s", by);
            cur.acked_at_ms = at_ms;
            *outcome = CS_CHECK_OK;
        }
        if (out && r == CS_OK)
            *out = cur;
    }
    pg_rollback(q, in_tx);
    pthread_mutex_unlock(&q->lock);
    return r;
}

cs_status pg_alerts_due(cs_store *s, int64_t now_ms, size_t max, cs_alert_rec **out, size_t *n,
                        cs_error *err)
{
    return alert_list(
        PGQ(s),
        "SELECT " ALERT_COLS " FROM alerts WHERE delivered_at_ms = 0"
        " AND next_attempt_ms <= $1 ORDER BY attempts > 0, next_attempt_ms, id LIMIT $2",
        PG_ARGS(pg_i64(now_ms), pg_i64(max > INT64_MAX ? INT64_MAX : (int64_t)max)), out, n,
        "list due alerts", err);
}

cs_status pg_alert_delivery(cs_store *s, int64_t id, int64_t delivered_at_ms, int attempts,
                            int64_t next_attempt_ms, cs_error *err)
{
    pg_store *q = PGQ(s);
    pthread_mutex_lock(&q->lock);
    cs_status r = pg_run(q,
                         "UPDATE alerts SET delivered_at_ms = $1, attempts = $2,"
                         " next_attempt_ms = $3 WHERE id = $4",
                         NULL, err, pg_i64(delivered_at_ms), pg_i64(attempts),
                         pg_i64(next_attempt_ms), pg_i64(id));
    pthread_mutex_unlock(&q->lock);
    return r;
}

/* One UPDATE that only a still-due row matches: of two servers that read
 * the same due alert, exactly one changes it. */
cs_status pg_alert_claim(cs_store *s, int64_t id, int64_t seen_next_attempt_ms,
                         int64_t lease_until_ms, bool *claimed, cs_error *err)
{
    pg_store *q = PGQ(s);
    int changes = 0;
    pthread_mutex_lock(&q->lock);
    cs_status r =
        pg_run(q,
               "UPDATE alerts SET next_attempt_ms = $1"
               " WHERE id = $2 AND delivered_at_ms = 0 AND next_attempt_ms = $3",
               &changes, err, pg_i64(lease_until_ms), pg_i64(id), pg_i64(seen_next_attempt_ms));
    pthread_mutex_unlock(&q->lock);
    *claimed = r == CS_OK && changes == 1;
    return r;
}

/* ---- the patient's companion page ------------------------------------------- */

cs_status pg_patient_code_set(cs_store *s, const char *study, const char *code_hash,
                              int64_t expires_at, cs_check_outcome *outcome, cs_error *err)
{
    pg_store *q = PGQ(s);
    int changes = 0;
    pthread_mutex_lock(&q->lock);
    cs_status r = pg_run(q,
                         "UPDATE studies SET patient_code_hash = $1, patient_code_expires_at = $2"
                         " WHERE id = $3",
                         &changes, err, pg_text(code_hash), pg_i64(expires_at), pg_text(study));
    pthread_mutex_unlock(&q->lock);
    *outcome = changes > 0 ? CS_CHECK_OK : CS_CHECK_NOT_FOUND;
    return r;
}

cs_status pg_patient_study(cs_store *s, const char *code_hash, int64_t now, bool *found,
                           bool *expired, char *study, cs_error *err)
{
    pg_store *q = PGQ(s);
    PGresult *res = NULL;
    pthread_mutex_lock(&q->lock);
    cs_status r = pg_query(q,
                           "SELECT id, patient_code_expires_at, closed_at_ms FROM studies"
                           " WHERE patient_code_hash = $1",
                           &res, "find patient code", err, pg_text(code_hash));
    if (r == CS_OK && PQntuples(res) > 0) {
        if (pg_col_i64(res, 0, 1) <= now || pg_col_i64(res, 0, 2) != 0) {
            *expired = true;
        } else {
            *found = true;
            pg_col_text(res, 0, 0, study, CS_ID_MAX);
        }
    }
    PQclear(res);
    pthread_mutex_unlock(&q->lock);
    return r;
}

cs_status pg_prep_tick(cs_store *s, const char *study, const char *step, int64_t at_ms,
                       cs_check_outcome *outcome, cs_error *err)
{
    pg_store *q = PGQ(s);
    bool exists = false;
    pthread_mutex_lock(&q->lock);
    cs_status r = study_exists(q, study, &exists, err);
    if (r == CS_OK && exists) {
        /* The first tick's time stands. */
        if (at_ms > 0)
            r = pg_run(q,
                       "INSERT INTO prep_ticks (study, step, at_ms) VALUES ($1, $2, $3)"
                       " ON CONFLICT (study, step) DO NOTHING",
                       NULL, err, pg_text(study), pg_text(step), pg_i64(at_ms));
        else
            r = pg_run(q, "DELETE FROM prep_ticks WHERE study = $1 AND step = $2", NULL, err,
                       pg_text(study), pg_text(step));
    }
    pthread_mutex_unlock(&q->lock);
    *outcome = r == CS_OK && exists ? CS_CHECK_OK : CS_CHECK_NOT_FOUND;
    return r;
}

static void read_tick(const PGresult *res, int row, void *out)
{
    cs_prep_tick_rec *o = out;
    memset(o, 0, sizeof *o);
    pg_col_text(res, row, 0, o->step, sizeof o->step);
    o->at_ms = pg_col_i64(res, row, 1);
}

cs_status pg_prep_ticks(cs_store *s, const char *study, cs_prep_tick_rec **out, size_t *n,
                        cs_error *err)
{
    pg_store *q = PGQ(s);
    PGresult *res = NULL;
    void *v = NULL;
    *n = 0;
    pthread_mutex_lock(&q->lock);
    cs_status r =
        pg_query(q, "SELECT step, at_ms FROM prep_ticks WHERE study = $1 ORDER BY at_ms, step",
                 &res, "list prep ticks", err, pg_text(study));
    if (r == CS_OK)
        r = pg_list_rows(res, read_tick, sizeof **out, &v, n, "list prep ticks", err);
    PQclear(res);
    pthread_mutex_unlock(&q->lock);
    *out = v;
    return r;
}
