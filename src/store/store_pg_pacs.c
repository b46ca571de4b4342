/* store_pg_pacs.c - the PACS export queue on PostgreSQL (store.h,
 * docs/pacs.md). Semantics as store_sqlite_pacs.c; an enqueue takes the
 * study's advisory lock (store_pg.h). Several servers sharing the
 * database may each pick a due export: a send marks it "sending" with a
 * lease first, and a resend stores the same UIDs (the PACS replaces). */
#include <string.h>

#include "store/store_pg.h"

#define PACS_COLS                                                                         \
    "study, state, requested_at_ms, requested_by, attempts, next_attempt_ms, last_error," \
    " instances_sent, sent_at_ms"

static void read_pacs(const PGresult *res, int row, void *out)
{
    cs_pacs_export_rec *o = out;
    memset(o, 0, sizeof *o);
    pg_col_text(res, row, 0, o->study, sizeof o->study);
    pg_col_text(res, row, 1, o->state, sizeof o->state);
    o->requested_at_ms = pg_col_i64(res, row, 2);
    pg_col_text(res, row, 3, o->requested_by, sizeof o->requested_by);
    o->attempts = (int)pg_col_i64(res, row, 4);
    o->next_attempt_ms = pg_col_i64(res, row, 5);
    pg_col_text(res, row, 6, o->last_error, sizeof o->last_error);
    o->instances_sent = (int)pg_col_i64(res, row, 7);
    o->sent_at_ms = pg_col_i64(res, row, 8);
}

/* The study's row into *out. Under q->lock. */
static cs_status pacs_read(pg_store *q, const char *study, bool *found, cs_pacs_export_rec *out,
                           cs_error *err)
{
    PGresult *res = NULL;
    cs_status r = pg_query(q, "SELECT " PACS_COLS " FROM pacs_exports WHERE study = $1", &res,
                           "read PACS export", err, pg_text(study));
    *found = r == CS_OK && PQntuples(res) > 0;
    if (*found)
        read_pacs(res, 0, out);
    PQclear(res);
    return r;
}

cs_status pg_pacs_enqueue(cs_store *s, const char *study, const char *by, int64_t now_ms,
                          cs_check_outcome *outcome, cs_pacs_export_rec *out, cs_error *err)
{
    pg_store *q = PGQ(s);
    bool in_tx = false, found = false;
    PGresult *res = NULL;
    pthread_mutex_lock(&q->lock);
    cs_status r = pg_begin_study(q, study, &in_tx, err);
    if (r == CS_OK)
        r = pg_query(q, "SELECT 1 FROM studies WHERE id = $1", &res, "find study", err,
                     pg_text(study));
    found = r == CS_OK && PQntuples(res) > 0;
    PQclear(res);
    if (r == CS_OK && found &&
        (r = pg_run(q,
                    "INSERT INTO pacs_exports (study, state, requested_at_ms, requested_by,"
                    " attempts, next_attempt_ms, last_error) VALUES ($1, 'queued', $2, $3, 0, $4,"
                    " '') ON CONFLICT (study) DO UPDATE SET state = 'queued',"
                    " requested_at_ms = GREATEST(EXCLUDED.requested_at_ms,"
                    " pacs_exports.requested_at_ms + 1),"
                    " requested_by = EXCLUDED.requested_by, attempts = 0,"
                    " next_attempt_ms = EXCLUDED.next_attempt_ms, last_error = ''",
                    NULL, err, pg_text(study), pg_i64(now_ms), pg_text(by), pg_i64(now_ms))) ==
            CS_OK &&
        (r = pacs_read(q, study, &found, out, err)) == CS_OK &&
        (r = pg_commit(q, &in_tx, err)) == CS_OK)
        *outcome = CS_CHECK_OK;
    pg_rollback(q, in_tx);
    pthread_mutex_unlock(&q->lock);
    return r;
}

cs_status pg_pacs_get(cs_store *s, const char *study, bool *found, cs_pacs_export_rec *out,
                      cs_error *err)
{
    pg_store *q = PGQ(s);
    pthread_mutex_lock(&q->lock);
    cs_status r = pacs_read(q, study, found, out, err);
    pthread_mutex_unlock(&q->lock);
    return r;
}

cs_status pg_pacs_due(cs_store *s, int64_t now_ms, size_t max, cs_pacs_export_rec **out, size_t *n,
                      cs_error *err)
{
    pg_store *q = PGQ(s);
    PGresult *res = NULL;
    void *v = NULL;
    pthread_mutex_lock(&q->lock);
    cs_status r = pg_query(q,
                           "SELECT " PACS_COLS " FROM pacs_exports WHERE state <> 'sent'"
                           " AND next_attempt_ms <= $1 ORDER BY next_attempt_ms, study LIMIT $2",
                           &res, "list due PACS exports", err, pg_i64(now_ms),
                           pg_i64(max > INT64_MAX ? INT64_MAX : (int64_t)max));
    if (r == CS_OK)
        r = pg_list_rows(res, read_pacs, sizeof **out, &v, n, "list due PACS exports", err);
    PQclear(res);
    pthread_mutex_unlock(&q->lock);
    *out = v;
    return r;
}

cs_status pg_pacs_record(cs_store *s, const cs_pacs_export_rec *rec, bool *applied, cs_error *err)
{
    pg_store *q = PGQ(s);
    int changes = 0;
    pthread_mutex_lock(&q->lock);
    cs_status r =
        pg_run(q,
               "UPDATE pacs_exports SET state = $1, attempts = $2, next_attempt_ms = $3,"
               " last_error = $4, instances_sent = $5, sent_at_ms = $6"
               " WHERE study = $7 AND requested_at_ms = $8",
               &changes, err, pg_text(rec->state), pg_i64(rec->attempts),
               pg_i64(rec->next_attempt_ms), pg_text(rec->last_error), pg_i64(rec->instances_sent),
               pg_i64(rec->sent_at_ms), pg_text(rec->study), pg_i64(rec->requested_at_ms));
    pthread_mutex_unlock(&q->lock);
    *applied = r == CS_OK && changes > 0;
    return r;
}

/* One UPDATE that only the row as it was read matches: of two servers
 * that read the same due export, exactly one changes it. */
cs_status pg_pacs_claim(cs_store *s, const cs_pacs_export_rec *seen, int64_t lease_until_ms,
                        bool *claimed, cs_error *err)
{
    pg_store *q = PGQ(s);
    int changes = 0;
    pthread_mutex_lock(&q->lock);
    cs_status r = pg_run(q,
                         "UPDATE pacs_exports SET state = 'sending', attempts = attempts + 1,"
                         " next_attempt_ms = $1 WHERE study = $2 AND requested_at_ms = $3"
                         " AND state = $4 AND next_attempt_ms = $5 AND attempts = $6",
                         &changes, err, pg_i64(lease_until_ms), pg_text(seen->study),
                         pg_i64(seen->requested_at_ms), pg_text(seen->state),
                         pg_i64(seen->next_attempt_ms), pg_i64(seen->attempts));
    pthread_mutex_unlock(&q->lock);
    *claimed = r == CS_OK && changes == 1;
    return r;
}

/* Two servers starting at once may both find a study unrequested: the
 * second insert of it does nothing. */
cs_status pg_pacs_enqueue_unrequested(cs_store *s, const char *by, int64_t now_ms, int *queued,
                                      cs_error *err)
{
    pg_store *q = PGQ(s);
    pthread_mutex_lock(&q->lock);
    cs_status r = pg_run(q, CS_PACS_UNREQUESTED_SQL("$1", "$2") " ON CONFLICT (study) DO NOTHING",
                         queued, err, pg_i64(now_ms), pg_text(by));
    pthread_mutex_unlock(&q->lock);
    return r;
}
