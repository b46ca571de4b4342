/* store_sqlite_pacs.c - the PACS export queue on SQLite (store.h,
 * docs/pacs.md): one row per study, the latest request and how its
 * sending goes. */
#include <string.h>

#include "store/store_sqlite.h"

#define PACS_COLS                                                                         \
    "study, state, requested_at_ms, requested_by, attempts, next_attempt_ms, last_error," \
    " instances_sent, sent_at_ms"

static void read_pacs(sqlite3_stmt *st, void *out)
{
    cs_pacs_export_rec *o = out;
    memset(o, 0, sizeof *o);
    text(st, 0, o->study, sizeof o->study);
    text(st, 1, o->state, sizeof o->state);
    o->requested_at_ms = sqlite3_column_int64(st, 2);
    text(st, 3, o->requested_by, sizeof o->requested_by);
    o->attempts = sqlite3_column_int(st, 4);
    o->next_attempt_ms = sqlite3_column_int64(st, 5);
    text(st, 6, o->last_error, sizeof o->last_error);
    o->instances_sent = sqlite3_column_int(st, 7);
    o->sent_at_ms = sqlite3_column_int64(st, 8);
}

/* The study's row into *out. Under q->lock. */
static cs_status pacs_read(sq_store *q, const char *study, bool *found, cs_pacs_export_rec *out,
                           cs_error *err)
{
    sqlite3_stmt *st = NULL;
    *found = false;
    cs_status r = prep(q, "SELECT " PACS_COLS " FROM pacs_exports WHERE study = ?", &st, err);
    if (r == CS_OK && (r = sq_bind(q, st, err, sq_text(study))) == CS_OK) {
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            read_pacs(st, out);
            *found = true;
        } else if (rc != SQLITE_DONE) {
            r = db_fail(q, err, "read PACS export");
        }
    }
    done(st);
    return r;
}

cs_status sq_pacs_enqueue(cs_store *s, const char *study, const char *by, int64_t now_ms,
                          cs_check_outcome *outcome, cs_pacs_export_rec *out, cs_error *err)
{
    sq_store *q = SQ(s);
    bool in_tx = false, found = false;
    sqlite3_stmt *st = NULL;
    pthread_mutex_lock(&q->lock);
    cs_status r = begin(q, &in_tx, err);
    if (r == CS_OK && (r = prep(q, "SELECT 1 FROM studies WHERE id = ?", &st, err)) == CS_OK &&
        (r = sq_bind(q, st, err, sq_text(study))) == CS_OK) {
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW)
            found = true;
        else if (rc != SQLITE_DONE)
            r = db_fail(q, err, "find study");
    }
    done(st);
    if (r == CS_OK && found &&
        (r = run(q,
                 "INSERT INTO pacs_exports (study, state, requested_at_ms, requested_by,"
                 " attempts, next_attempt_ms, last_error) VALUES (?, 'queued', ?, ?, 0, ?, '')"
                 " ON CONFLICT (study) DO UPDATE SET state = 'queued',"
                 " requested_at_ms = MAX(excluded.requested_at_ms,"
                 " pacs_exports.requested_at_ms + 1),"
                 " requested_by = excluded.requested_by, attempts = 0,"
                 " next_attempt_ms = excluded.next_attempt_ms, last_error = ''",
                 NULL, err, sq_text(study), sq_i64(now_ms), sq_text(by), sq_i64(now_ms))) ==
            CS_OK &&
        (r = pacs_read(q, study, &found, out, err)) == CS_OK &&
        (r = commit(q, &in_tx, err)) == CS_OK)
        *outcome = CS_CHECK_OK;
    rollback(q, in_tx);
    pthread_mutex_unlock(&q->lock);
    return r;
}

cs_status sq_pacs_get(cs_store *s, const char *study, bool *found, cs_pacs_export_rec *out,
                      cs_error *err)
{
    sq_store *q = SQ(s);
    pthread_mutex_lock(&q->lock);
    cs_status r = pacs_read(q, study, found, out, err);
    pthread_mutex_unlock(&q->lock);
    return r;
}

cs_status sq_pacs_due(cs_store *s, int64_t now_ms, size_t max, cs_pacs_export_rec **out, size_t *n,
                      cs_error *err)
{
    return sq_list(SQ(s),
                   "SELECT " PACS_COLS " FROM pacs_exports WHERE state <> 'sent'"
                   " AND next_attempt_ms <= ? ORDER BY next_attempt_ms, study LIMIT ?",
                   read_pacs, out, n, "list due PACS exports", err, sq_i64(now_ms),
                   sq_i64((int64_t)max));
}

cs_status sq_pacs_record(cs_store *s, const cs_pacs_export_rec *rec, bool *applied, cs_error *err)
{
    sq_store *q = SQ(s);
    int changes = 0;
    pthread_mutex_lock(&q->lock);
    cs_status r =
        run(q,
            "UPDATE pacs_exports SET state = ?, attempts = ?, next_attempt_ms = ?,"
            " last_error = ?, instances_sent = ?, sent_at_ms = ?"
            " WHERE study = ? AND requested_at_ms = ?",
            &changes, err, sq_text(rec->state), sq_i64(rec->attempts), sq_i64(rec->next_attempt_ms),
            sq_text(rec->last_error), sq_i64(rec->instances_sent), sq_i64(rec->sent_at_ms),
            sq_text(rec->study), sq_i64(rec->requested_at_ms));
    pthread_mutex_unlock(&q->lock);
    *applied = r == CS_OK && changes > 0;
    return r;
}

cs_status sq_pacs_claim(cs_store *s, const cs_pacs_export_rec *seen, int64_t lease_until_ms,
                        bool *claimed, cs_error *err)
{
    sq_store *q = SQ(s);
    int changes = 0;
    pthread_mutex_lock(&q->lock);
    cs_status r = run(q,
                      "UPDATE pacs_exports SET state = 'sending', attempts = attempts + 1,"
                      " next_attempt_ms = ? WHERE study = ? AND requested_at_ms = ?"
                      " AND state = ? AND next_attempt_ms = ? AND attempts = ?",
                      &changes, err, sq_i64(lease_until_ms), sq_text(seen->study),
                      sq_i64(seen->requested_at_ms), sq_text(seen->state),
                      sq_i64(seen->next_attempt_ms), sq_i64(seen->attempts));
    pthread_mutex_unlock(&q->lock);
    *claimed = r == CS_OK && changes == 1;
    return r;
}

cs_status sq_pacs_enqueue_unrequested(cs_store *s, const char *by, int64_t now_ms, int *queued,
                                      cs_error *err)
{
    sq_store *q = SQ(s);
    pthread_mutex_lock(&q->lock);
    cs_status r =
        run(q, CS_PACS_UNREQUESTED_SQL("?1", "?2"), queued, err, sq_i64(now_ms), sq_text(by));
    pthread_mutex_unlock(&q->lock);
    return r;
}
