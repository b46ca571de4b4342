/* store_pg_shared.c - what several servers on one PostgreSQL database
 * share beyond the records (schema 10, store.h "several servers"): the
 * failed-login counts, upload leases and analysis claims, and the
 * notifications (LISTEN/NOTIFY) that carry wake-ups between servers.
 *
 * A holder is a database connection, named by its backend pid and start
 * time (PG_ME); PG_ALIVE(h) asks pg_stat_activity whether that connection
 * still exists. PostgreSQL ends a backend whose client's socket closed, so
 * a killed server's leases and claims fall free within moments, with no
 * timeout to wait out. Where backend_start is hidden (another role without
 * pg_read_all_stats) the pid alone counts: a holder is then taken for
 * alive while any backend has its pid, which errs towards waiting, never
 * towards two holders. Each call is one statement (its own transaction);
 * the upserts' WHERE decides between racing servers. */
#include "store/store_pg.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <time.h>

/* This connection as a holder name; any connection's liveness. */
#define PG_ME                                                               \
    "(SELECT a.pid::text || ':' ||"                                         \
    " COALESCE((extract(epoch FROM a.backend_start) * 1000000)::bigint, 0)" \
    " FROM pg_stat_activity a WHERE a.pid = pg_backend_pid())"
#define PG_ALIVE(h)                                                               \
    "EXISTS (SELECT 1 FROM pg_stat_activity a"                                    \
    " WHERE a.pid::text = split_part(" h ", ':', 1) AND (a.backend_start IS NULL" \
    " OR (extract(epoch FROM a.backend_start) * 1000000)::bigint::text ="         \
    " split_part(" h ", ':', 2)))"
/* The database's clock in unix milliseconds. */
#define PG_NOW_MS "(extract(epoch FROM clock_timestamp()) * 1000)::bigint"

/* ---- failed logins ------------------------------------------------------ */

cs_status pg_login_counts(cs_store *s, const char *user, const char *ip, int64_t now_ms,
                          int64_t forget_ms, cs_login_counts *out, cs_error *err)
{
    pg_store *q = PGQ(s);
    PGresult *res = NULL;
    pthread_mutex_lock(&q->lock);
    cs_status r = pg_query(q,
                           "SELECT kind, fails, last_fail_ms FROM login_limits"
                           " WHERE ((kind = 'pair' AND user_name = $1) OR"
                           " (kind = 'addr' AND user_name = '')) AND ip = $2"
                           " AND fails > 0 AND $3::bigint - last_fail_ms < $4::bigint",
                           &res, "login counts", err, pg_text(user), pg_text(ip), pg_i64(now_ms),
                           pg_i64(forget_ms));
    for (int i = 0; r == CS_OK && i < PQntuples(res); i++) {
        bool pair = strcmp(PQgetvalue(res, i, 0), "pair") == 0;
        int fails = (int)pg_col_i64(res, i, 1);
        int64_t last = pg_col_i64(res, i, 2);
        if (pair) {
            out->pair_fails = fails;
            out->pair_last_ms = last;
        } else {
            out->addr_fails = fails;
            out->addr_last_ms = last;
        }
    }
    PQclear(res);
    pthread_mutex_unlock(&q->lock);
    return r;
}

cs_status pg_login_failed(cs_store *s, const char *user, const char *ip, int64_t now_ms,
                          int64_t forget_ms, cs_error *err)
{
    pg_store *q = PGQ(s);
    bool in_tx = false;
    pthread_mutex_lock(&q->lock);
    static const char *const sql =
        "INSERT INTO login_limits AS l (kind, user_name, ip, fails, last_fail_ms)"
        " VALUES ($1, $2, $3, 1, $4::bigint) ON CONFLICT (kind, user_name, ip) DO UPDATE SET"
        " fails = CASE WHEN $4::bigint - l.last_fail_ms >= $5::bigint THEN 1"
        " ELSE l.fails + 1 END, last_fail_ms = $4::bigint";
    cs_status r = pg_begin(q, &in_tx, err);
    if (r == CS_OK)
        r = pg_run(q, sql, NULL, err, pg_text("pair"), pg_text(user), pg_text(ip), pg_i64(now_ms),
                   pg_i64(forget_ms));
    if (r == CS_OK)
        r = pg_run(q, sql, NULL, err, pg_text("addr"), pg_text(""), pg_text(ip), pg_i64(now_ms),
                   pg_i64(forget_ms));
    if (r == CS_OK)
        r = pg_commit(q, &in_tx, err);
    pg_rollback(q, in_tx);
    pthread_mutex_unlock(&q->lock);
    return r;
}

cs_status pg_login_refused(cs_store *s, const char *user, const char *ip, int64_t now_ms,
                           cs_error *err)
{
    pg_store *q = PGQ(s);
    pthread_mutex_lock(&q->lock);
    cs_status r =
        pg_run(q,
               "INSERT INTO login_limits AS l (kind, user_name, ip, refused, first_refused_ms,"
               " last_refused_ms) VALUES ('pair', $1, $2, 1, $3::bigint, $3::bigint)"
               " ON CONFLICT (kind, user_name, ip) DO UPDATE SET refused = l.refused + 1,"
               " first_refused_ms = CASE WHEN l.refused = 0 THEN $3::bigint"
               " ELSE l.first_refused_ms END, last_refused_ms = $3::bigint",
               NULL, err, pg_text(user), pg_text(ip), pg_i64(now_ms));
    pthread_mutex_unlock(&q->lock);
    return r;
}

static void read_burst(const PGresult *res, int row, cs_login_burst_rec *b)
{
    pg_col_text(res, row, 0, b->user, sizeof b->user);
    pg_col_text(res, row, 1, b->ip, sizeof b->ip);
    b->refused = (uint64_t)pg_col_i64(res, row, 2);
    b->first_ms = pg_col_i64(res, row, 3);
    b->last_ms = pg_col_i64(res, row, 4);
}

cs_status pg_login_cleared(cs_store *s, const char *user, const char *ip, cs_login_burst_rec *ended,
                           cs_error *err)
{
    pg_store *q = PGQ(s);
    PGresult *res = NULL;
    pthread_mutex_lock(&q->lock);
    cs_status r = pg_query(q,
                           "DELETE FROM login_limits WHERE kind = 'pair' AND user_name = $1"
                           " AND ip = $2 RETURNING user_name, ip, refused, first_refused_ms,"
                           " last_refused_ms",
                           &res, "login cleared", err, pg_text(user), pg_text(ip));
    if (r == CS_OK && PQntuples(res) == 1)
        read_burst(res, 0, ended);
    PQclear(res);
    pthread_mutex_unlock(&q->lock);
    return r;
}

cs_status pg_login_take_burst(cs_store *s, int64_t now_ms, int64_t quiet_ms, bool all,
                              int64_t forget_ms, bool *found, cs_login_burst_rec *out,
                              cs_error *err)
{
    pg_store *q = PGQ(s);
    PGresult *res = NULL;
    pthread_mutex_lock(&q->lock);
    cs_status r = pg_run(q,
                         "DELETE FROM login_limits WHERE refused = 0"
                         " AND $1::bigint - last_fail_ms >= $2::bigint",
                         NULL, err, pg_i64(now_ms), pg_i64(forget_ms));
    /* The old burst comes back from the row as it was before the update:
     * the subquery locks it (SKIP LOCKED: another server is taking it). */
    if (r == CS_OK)
        r = pg_query(q,
                     "WITH b AS (SELECT kind, user_name, ip, refused, first_refused_ms,"
                     " last_refused_ms FROM login_limits WHERE kind = 'pair' AND refused > 0"
                     " AND ($3::integer = 1 OR $1::bigint - last_refused_ms >= $2::bigint)"
                     " LIMIT 1 FOR UPDATE SKIP LOCKED)"
                     " UPDATE login_limits l SET refused = 0, first_refused_ms = 0,"
                     " last_refused_ms = 0 FROM b WHERE l.kind = b.kind"
                     " AND l.user_name = b.user_name AND l.ip = b.ip"
                     " RETURNING b.user_name, b.ip, b.refused, b.first_refused_ms,"
                     " b.last_refused_ms",
                     &res, "take a login burst", err, pg_i64(now_ms), pg_i64(quiet_ms),
                     pg_i64(all ? 1 : 0));
    if (r == CS_OK && PQntuples(res) == 1) {
        read_burst(res, 0, out);
        *found = true;
    }
    PQclear(res);
    pthread_mutex_unlock(&q->lock);
    return r;
}

/* ---- upload leases ------------------------------------------------------ */

cs_status pg_upload_lease_take(cs_store *s, const char *id, int64_t stale_ms, bool *took,
                               cs_error *err)
{
    pg_store *q = PGQ(s);
    int n = 0;
    pthread_mutex_lock(&q->lock);
    cs_status r = pg_run(q,
                         "INSERT INTO upload_leases AS l (upload_id, holder, beat_ms)"
                         " VALUES ($1, " PG_ME ", " PG_NOW_MS ")"
                         " ON CONFLICT (upload_id) DO UPDATE SET holder = excluded.holder,"
                         " beat_ms = excluded.beat_ms WHERE l.holder = excluded.holder"
                         " OR l.beat_ms <= excluded.beat_ms - $2::bigint"
                         " OR NOT " PG_ALIVE("l.holder"),
                         &n, err, pg_text(id), pg_i64(stale_ms));
    *took = r == CS_OK && n == 1;
    pthread_mutex_unlock(&q->lock);
    return r;
}

cs_status pg_upload_lease_beat(cs_store *s, const char *id, bool *held, cs_error *err)
{
    pg_store *q = PGQ(s);
    int n = 0;
    pthread_mutex_lock(&q->lock);
    cs_status r = pg_run(q,
                         "UPDATE upload_leases SET beat_ms = " PG_NOW_MS
                         " WHERE upload_id = $1 AND holder = " PG_ME,
                         &n, err, pg_text(id));
    *held = r == CS_OK && n == 1;
    pthread_mutex_unlock(&q->lock);
    return r;
}

cs_status pg_upload_lease_drop(cs_store *s, const char *id, cs_error *err)
{
    pg_store *q = PGQ(s);
    pthread_mutex_lock(&q->lock);
    cs_status r = pg_run(q, "DELETE FROM upload_leases WHERE upload_id = $1 AND holder = " PG_ME,
                         NULL, err, pg_text(id));
    pthread_mutex_unlock(&q->lock);
    return r;
}

cs_status pg_upload_lease_held(cs_store *s, const char *id, bool *held, cs_error *err)
{
    pg_store *q = PGQ(s);
    PGresult *res = NULL;
    pthread_mutex_lock(&q->lock);
    cs_status r = pg_query(q,
                           "SELECT 1 FROM upload_leases l WHERE upload_id = $1"
                           " AND holder <> " PG_ME " AND " PG_ALIVE("l.holder"),
                           &res, "upload lease", err, pg_text(id));
    *held = r == CS_OK && PQntuples(res) > 0;
    PQclear(res);
    pthread_mutex_unlock(&q->lock);
    return r;
}

/* ---- analysis claims ---------------------------------------------------- */

static cs_status claim_once(cs_store *s, const char *study, int64_t lease_ms, bool *got,
                            bool *fresh, bool retried, cs_error *err)
{
    pg_store *q = PGQ(s);
    PGresult *res = NULL;
    pthread_mutex_lock(&q->lock);
    /* `prev` is read before the upsert: a claim that changed hands in
     * between makes *fresh true, which only costs a reload. The wake flag
     * is cleared only by the unclaim that sees it (a renewal mid-slice
     * has not read what was stored after it began). */
    cs_status r = pg_query(q,
                           "WITH prev AS (SELECT holder FROM ingest_claims WHERE study = $1)"
                           " INSERT INTO ingest_claims AS c (study, holder, until_ms)"
                           " VALUES ($1, " PG_ME ", " PG_NOW_MS " + $2::bigint)"
                           " ON CONFLICT (study) DO UPDATE SET holder = excluded.holder,"
                           " until_ms = excluded.until_ms"
                           " WHERE c.holder = excluded.holder OR c.until_ms < " PG_NOW_MS
                           " OR NOT " PG_ALIVE("c.holder") //
                           " RETURNING COALESCE((SELECT holder FROM prev), '') <> c.holder",
                           &res, "claim analysis", err, pg_text(study), pg_i64(lease_ms));
    if (r == CS_OK && PQntuples(res) == 1) {
        *got = true;
        *fresh = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    }
    PQclear(res);
    /* Not got: ask the holder to look again. Had it let go just now (no
     * row still held), claiming again may now succeed: one more try. */
    int asked = 0;
    if (r == CS_OK && !*got && !retried)
        r = pg_run(q, "UPDATE ingest_claims SET wake = 1 WHERE study = $1 AND until_ms <> 0",
                   &asked, err, pg_text(study));
    pthread_mutex_unlock(&q->lock);
    if (r == CS_OK && !*got && !retried && asked == 0)
        return claim_once(s, study, lease_ms, got, fresh, true, err);
    return r;
}

cs_status pg_ingest_claim(cs_store *s, const char *study, int64_t lease_ms, bool *got, bool *fresh,
                          cs_error *err)
{
    return claim_once(s, study, lease_ms, got, fresh, false, err);
}

cs_status pg_ingest_unclaim(cs_store *s, const char *study, bool *woken, cs_error *err)
{
    pg_store *q = PGQ(s);
    PGresult *res = NULL;
    pthread_mutex_lock(&q->lock);
    cs_status r = pg_query(q,
                           "UPDATE ingest_claims SET until_ms = CASE WHEN wake = 1 THEN until_ms"
                           " ELSE 0 END, wake = 0 WHERE study = $1 AND holder = " PG_ME
                           " RETURNING until_ms <> 0",
                           &res, "let analysis go", err, pg_text(study));
    *woken = r == CS_OK && PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    PQclear(res);
    pthread_mutex_unlock(&q->lock);
    return r;
}

/* ---- notifications (LISTEN/NOTIFY) -------------------------------------- */

cs_status pg_notify(cs_store *s, const char *channel, const char *payload, cs_error *err)
{
    pg_store *q = PGQ(s);
    pthread_mutex_lock(&q->lock);
    cs_status r = pg_query(q, "SELECT pg_notify($1, $2)", NULL, "notify", err, pg_text(channel),
                           pg_text(payload));
    pthread_mutex_unlock(&q->lock);
    return r;
}

typedef struct pg_listener {
    cs_store_listener base;
    PGconn *conn;
    char channel[64];
} pg_listener;

static void listener_quiet(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

/* LISTEN on l->conn; a channel name is an identifier, quoted by libpq. */
static cs_status listen_on(pg_listener *l, cs_error *err)
{
    char *id = PQescapeIdentifier(l->conn, l->channel, strlen(l->channel));
    if (!id)
        return cs_error_set(err, CS_ERR_IO, "database: listen: %s", PQerrorMessage(l->conn));
    char sql[160];
    snprintf(sql, sizeof sql, "LISTEN %s", id);
    PQfreemem(id);
    PGresult *res = PQexec(l->conn, sql);
    cs_status r =
        PQresultStatus(res) == PGRES_COMMAND_OK
            ? CS_OK
            : cs_error_set(err, CS_ERR_IO, "database: listen: %s", PQerrorMessage(l->conn));
    PQclear(res);
    return r;
}

static cs_status listener_wait(cs_store_listener *base, int timeout_ms,
                               void (*on)(const char *payload, void *arg), void *arg, cs_error *err)
{
    pg_listener *l = (pg_listener *)(void *)base;
    if (PQstatus(l->conn) != CONNECTION_OK) {
        PQreset(l->conn);
        if (PQstatus(l->conn) != CONNECTION_OK || listen_on(l, err) != CS_OK) {
            struct timespec ts = {timeout_ms / 1000, (long)(timeout_ms % 1000) * 1000000L};
            nanosleep(&ts, NULL); /* the caller loops: do not spin */
            return cs_error_set(err, CS_ERR_IO, "database: listener: %s", PQerrorMessage(l->conn));
        }
        on(NULL, arg); /* notifications may have been missed */
    }
    int fd = PQsocket(l->conn);
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (fd >= 0 && poll(&p, 1, timeout_ms) < 0 && errno != EINTR)
        return cs_error_set(err, CS_ERR_IO, "database: listener: poll: %s", strerror(errno));
    if (!PQconsumeInput(l->conn))
        return cs_error_set(err, CS_ERR_IO, "database: listener: %s", PQerrorMessage(l->conn));
    PGnotify *n;
    while ((n = PQnotifies(l->conn)) != NULL) {
        on(n->extra, arg);
        PQfreemem(n);
    }
    return CS_OK;
}

static void listener_close(cs_store_listener *base)
{
    pg_listener *l = (pg_listener *)(void *)base;
    PQfinish(l->conn);
    free(l);
}

cs_status pg_listen(cs_store *s, const char *channel, cs_store_listener **out, cs_error *err)
{
    pg_store *q = PGQ(s);
    pg_listener *l = calloc(1, sizeof *l);
    if (!l)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory");
    l->base.wait = listener_wait;
    l->base.close = listener_close;
    snprintf(l->channel, sizeof l->channel, "%s", channel);
    /* The same parameters as the store's own connection. */
    pthread_mutex_lock(&q->lock);
    PQconninfoOption *opts = PQconninfo(q->conn);
    pthread_mutex_unlock(&q->lock);
    if (!opts) {
        free(l);
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory");
    }
    size_t n = 0;
    for (PQconninfoOption *o = opts; o->keyword; o++)
        n++;
    const char **keys = calloc(n + 1, sizeof *keys), **vals = calloc(n + 1, sizeof *vals);
    size_t k = 0;
    for (PQconninfoOption *o = opts; keys && vals && o->keyword; o++) {
        if (o->val && *o->val) {
            keys[k] = o->keyword;
            vals[k++] = o->val;
        }
    }
    cs_status r = CS_OK;
    if (!keys || !vals)
        r = cs_error_set(err, CS_ERR_NOMEM, "out of memory");
    else
        l->conn = PQconnectdbParams(keys, vals, 0);
    free(keys);
    free(vals);
    PQconninfoFree(opts);
    if (r == CS_OK && PQstatus(l->conn) != CONNECTION_OK)
        r = cs_error_set(err, CS_ERR_IO, "database: listener: %s", PQerrorMessage(l->conn));
    if (r == CS_OK) {
        PQsetNoticeProcessor(l->conn, listener_quiet, NULL);
        r = listen_on(l, err);
    }
    if (r != CS_OK) {
        PQfinish(l->conn);
        free(l);
        return r;
    }
    *out = &l->base;
    return CS_OK;
}
