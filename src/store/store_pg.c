/* store_pg.c - the PostgreSQL backend of the metadata store (libpq),
 * selected by a postgresql:// URL (store.h, cs_store_open_db). The schema
 * and its semantics mirror the SQLite backend's (store_sqlite.c), version
 * for version; store_pg.h says how calls are serialised and locked. The
 * reading workstation's calls live in store_pg_ws.c, the care loop's in
 * store_pg_care.c. */
#include "store/store_pg.h"

#include <inttypes.h>
#include <string.h>

/* The counters a set of frames adds up to, in the order of the studies
 * table's n_* columns (the last: MAX capture time, NULL when none); as
 * the SQLite backend's SQ_FRAME_AGG. */
#define PG_FRAME_AGG                                                             \
    "COUNT(*), COALESCE(SUM(ok),0), COALESCE(SUM(readable),0),"                  \
    " COALESCE(SUM(bleeding),0), COUNT(*) FILTER (WHERE exposure = 'too_dark')," \
    " COUNT(*) FILTER (WHERE exposure = 'too_bright'), COALESCE(SUM(blurry),0)," \
    " COALESCE(SUM(polyp_flag),0), MAX(capture_time_us)"
#define PG_N_COUNTERS 8

/* Migrations, applied in order; schema_version holds how many ran. The
 * versions mean what the SQLite backend's mean. "user" and "offset" are
 * reserved words in PostgreSQL, so those columns are quoted. Flags are
 * INTEGER 0/1, as in SQLite, so the counters sum them alike. */
static const char *const MIGRATIONS[] = {
    "CREATE TABLE studies ("
    " id TEXT PRIMARY KEY, label TEXT NOT NULL DEFAULT '', created_at BIGINT NOT NULL,"
    " code_hash TEXT UNIQUE, code_expires_at BIGINT NOT NULL,"
    " code_used_at BIGINT NOT NULL DEFAULT 0,"
    " ingest_offset BIGINT NOT NULL DEFAULT 0, next_seq BIGINT NOT NULL DEFAULT 0,"
    " first_byte_ms BIGINT NOT NULL DEFAULT 0, last_byte_ms BIGINT NOT NULL DEFAULT 0);"
    "CREATE TABLE devices ("
    " token_hash TEXT PRIMARY KEY, study TEXT NOT NULL REFERENCES studies(id),"
    " created_at BIGINT NOT NULL, revoked_at BIGINT NOT NULL DEFAULT 0);"
    "CREATE INDEX devices_study ON devices(study);"
    "CREATE TABLE uploads ("
    " n BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, id TEXT NOT NULL UNIQUE,"
    " study TEXT NOT NULL REFERENCES studies(id), length BIGINT NOT NULL,"
    " \"offset\" BIGINT NOT NULL DEFAULT 0, state INTEGER NOT NULL DEFAULT 0,"
    " created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, expires_at BIGINT NOT NULL,"
    " checksum_base BIGINT NOT NULL DEFAULT -1, metadata TEXT NOT NULL DEFAULT '');"
    "CREATE INDEX uploads_study ON uploads(study, n);"
    "CREATE TABLE frames ("
    " study TEXT NOT NULL REFERENCES studies(id), seq BIGINT NOT NULL,"
    " frame_index BIGINT, capture_time_us BIGINT, ok INTEGER NOT NULL,"
    " status TEXT NOT NULL, error TEXT, bleeding_probability DOUBLE PRECISION,"
    " bleeding INTEGER, exposure TEXT, sharpness DOUBLE PRECISION,"
    " visibility DOUBLE PRECISION, readable INTEGER, blurry INTEGER,"
    " width INTEGER, height INTEGER, PRIMARY KEY (study, seq));",
    /* 2: the reading workstation. The audit log refuses UPDATE, DELETE and
     * TRUNCATE in the schema itself (a trigger), whoever connects. */
    "ALTER TABLE frames ADD COLUMN payload_offset BIGINT NOT NULL DEFAULT 0;"
    "ALTER TABLE frames ADD COLUMN payload_len BIGINT NOT NULL DEFAULT 0;"
    "ALTER TABLE frames ADD COLUMN mean_rgb BIGINT NOT NULL DEFAULT 0;"
    "ALTER TABLE frames ADD COLUMN redundant INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE studies ADD COLUMN assigned_reader TEXT NOT NULL DEFAULT '';"
    "CREATE INDEX studies_created ON studies(created_at DESC, id);"
    "CREATE TABLE users ("
    " name TEXT PRIMARY KEY, role TEXT NOT NULL, pw_hash TEXT NOT NULL,"
    " created_at BIGINT NOT NULL, disabled INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE sessions ("
    " id_hash TEXT PRIMARY KEY, \"user\" TEXT NOT NULL, csrf TEXT NOT NULL,"
    " ip TEXT NOT NULL DEFAULT '', created_at BIGINT NOT NULL, last_seen BIGINT NOT NULL);"
    "CREATE INDEX sessions_user ON sessions(\"user\");"
    "CREATE TABLE audit ("
    " n BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, at_ms BIGINT NOT NULL,"
    " \"user\" TEXT NOT NULL DEFAULT '', role TEXT NOT NULL DEFAULT '', action TEXT NOT NULL,"
    " study TEXT NOT NULL DEFAULT '', detail TEXT NOT NULL DEFAULT '',"
    " ip TEXT NOT NULL DEFAULT '');"
    "CREATE INDEX audit_study ON audit(study, n);"
    "CREATE INDEX audit_user ON audit(\"user\", n);"
    "CREATE INDEX audit_action ON audit(action, n);"
    "CREATE INDEX audit_at ON audit(at_ms);"
    "CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS"
    " $$BEGIN RAISE EXCEPTION 'audit log is append-only'; END$$;"
    "CREATE TRIGGER audit_no_change BEFORE UPDATE OR DELETE ON audit"
    " FOR EACH ROW EXECUTE FUNCTION audit_append_only();"
    "CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit"
    " FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();"
    "CREATE TABLE findings ("
    " id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
    " study TEXT NOT NULL REFERENCES studies(id),"
    " seq_from BIGINT NOT NULL, seq_to BIGINT NOT NULL, type TEXT NOT NULL,"
    " note TEXT NOT NULL DEFAULT '', size_mm DOUBLE PRECISION NOT NULL DEFAULT -1,"
    " version INTEGER NOT NULL, deleted INTEGER NOT NULL DEFAULT 0,"
    " created_by TEXT NOT NULL, created_at_ms BIGINT NOT NULL,"
    " updated_by TEXT NOT NULL, updated_at_ms BIGINT NOT NULL);"
    "CREATE INDEX findings_study ON findings(study, seq_from, id);"
    "CREATE TABLE finding_history ("
    " id BIGINT NOT NULL REFERENCES findings(id), study TEXT NOT NULL,"
    " seq_from BIGINT NOT NULL, seq_to BIGINT NOT NULL, type TEXT NOT NULL,"
    " note TEXT NOT NULL, size_mm DOUBLE PRECISION NOT NULL, version INTEGER NOT NULL,"
    " deleted INTEGER NOT NULL, created_by TEXT NOT NULL, created_at_ms BIGINT NOT NULL,"
    " updated_by TEXT NOT NULL, updated_at_ms BIGINT NOT NULL,"
    " PRIMARY KEY (id, version));"
    "CREATE TABLE marks ("
    " study TEXT NOT NULL REFERENCES studies(id), kind TEXT NOT NULL, key TEXT NOT NULL,"
    " value TEXT NOT NULL DEFAULT '', seq BIGINT NOT NULL DEFAULT -1,"
    " set_by TEXT NOT NULL, at_ms BIGINT NOT NULL,"
    " PRIMARY KEY (study, kind, key));"
    "CREATE TABLE reports ("
    " study TEXT PRIMARY KEY REFERENCES studies(id), state TEXT NOT NULL,"
    " content TEXT NOT NULL, version INTEGER NOT NULL,"
    " updated_by TEXT NOT NULL, updated_at_ms BIGINT NOT NULL,"
    " signed_by TEXT NOT NULL DEFAULT '', signed_at_ms BIGINT NOT NULL DEFAULT 0);"
    "CREATE TABLE report_history ("
    " study TEXT NOT NULL REFERENCES studies(id), version INTEGER NOT NULL,"
    " state TEXT NOT NULL, content TEXT NOT NULL,"
    " updated_by TEXT NOT NULL, updated_at_ms BIGINT NOT NULL,"
    " PRIMARY KEY (study, version));",
    /* 3: counters on the study row (moved in the frame-batch transaction),
     * the polyp results and boxes, closed studies; existing frames are
     * counted once here. */
    "ALTER TABLE frames ADD COLUMN polyp DOUBLE PRECISION;"
    "ALTER TABLE frames ADD COLUMN polyp_flag INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE frames ADD COLUMN boxes TEXT;"
    "ALTER TABLE studies ADD COLUMN n_frames BIGINT NOT NULL DEFAULT 0,"
    " ADD COLUMN n_ok BIGINT NOT NULL DEFAULT 0,"
    " ADD COLUMN n_readable BIGINT NOT NULL DEFAULT 0,"
    " ADD COLUMN n_bleeding BIGINT NOT NULL DEFAULT 0,"
    " ADD COLUMN n_too_dark BIGINT NOT NULL DEFAULT 0,"
    " ADD COLUMN n_too_bright BIGINT NOT NULL DEFAULT 0,"
    " ADD COLUMN n_blurry BIGINT NOT NULL DEFAULT 0,"
    " ADD COLUMN n_polyp BIGINT NOT NULL DEFAULT 0,"
    " ADD COLUMN last_capture_time_us BIGINT,"
    " ADD COLUMN closed_at_ms BIGINT NOT NULL DEFAULT 0,"
    " ADD COLUMN closed_by TEXT NOT NULL DEFAULT '';"
    "UPDATE studies SET (n_frames, n_ok, n_readable, n_bleeding, n_too_dark, n_too_bright,"
    " n_blurry, n_polyp, last_capture_time_us) = (SELECT " PG_FRAME_AGG
    " FROM frames f WHERE f.study = studies.id);",
    /* 4: the live care loop (docs/care.md): the protocol in force per
     * study, the hub's last health report, alerts once per (study, kind,
     * key) with their webhook outbox, the patient's code and prep ticks. */
    "ALTER TABLE studies ADD COLUMN protocol TEXT;"
    "CREATE TABLE hub_status ("
    " study TEXT PRIMARY KEY REFERENCES studies(id), at_ms BIGINT NOT NULL,"
    " battery_pct INTEGER NOT NULL, signal_dbm INTEGER NOT NULL,"
    " spool_used_pct INTEGER NOT NULL, recorder TEXT NOT NULL, message TEXT NOT NULL);"
    "CREATE TABLE alerts ("
    " id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
    " study TEXT NOT NULL REFERENCES studies(id),"
    " kind TEXT NOT NULL, key TEXT NOT NULL, raised_at_ms BIGINT NOT NULL,"
    " message TEXT NOT NULL, acked_by TEXT NOT NULL DEFAULT '',"
    " acked_at_ms BIGINT NOT NULL DEFAULT 0, delivered_at_ms BIGINT NOT NULL DEFAULT 0,"
    " attempts INTEGER NOT NULL DEFAULT 0, next_attempt_ms BIGINT NOT NULL DEFAULT 0,"
    " UNIQUE (study, kind, key));"
    "CREATE INDEX alerts_outbox ON alerts (next_attempt_ms) WHERE delivered_at_ms = 0;"
    "ALTER TABLE studies ADD COLUMN patient_code_hash TEXT,"
    " ADD COLUMN patient_code_expires_at BIGINT NOT NULL DEFAULT 0;"
    "CREATE UNIQUE INDEX studies_patient_code ON studies (patient_code_hash)"
    " WHERE patient_code_hash IS NOT NULL;"
    "CREATE TABLE prep_ticks ("
    " study TEXT NOT NULL REFERENCES studies(id), step TEXT NOT NULL,"
    " at_ms BIGINT NOT NULL, PRIMARY KEY (study, step));",
    /* 5: the clinical record (docs/clinical-record.md): the patient and
     * episode on the study; segment, morphology, count and the
     * suspected-cancer mark on findings and their history. */
    "ALTER TABLE studies ADD COLUMN nhs_number TEXT NOT NULL DEFAULT '',"
    " ADD COLUMN family TEXT NOT NULL DEFAULT '', ADD COLUMN given TEXT NOT NULL DEFAULT '',"
    " ADD COLUMN birth_date TEXT NOT NULL DEFAULT '', ADD COLUMN sex TEXT NOT NULL DEFAULT '',"
    " ADD COLUMN pathway TEXT NOT NULL DEFAULT '',"
    " ADD COLUMN indication TEXT NOT NULL DEFAULT '',"
    " ADD COLUMN indication_detail TEXT NOT NULL DEFAULT '',"
    " ADD COLUMN referrer TEXT NOT NULL DEFAULT '';"
    "CREATE INDEX studies_nhs ON studies(nhs_number) WHERE nhs_number <> '';"
    "ALTER TABLE findings ADD COLUMN segment TEXT NOT NULL DEFAULT '',"
    " ADD COLUMN morphology TEXT NOT NULL DEFAULT '',"
    " ADD COLUMN count INTEGER NOT NULL DEFAULT 1,"
    " ADD COLUMN suspected_cancer INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE finding_history ADD COLUMN segment TEXT NOT NULL DEFAULT '',"
    " ADD COLUMN morphology TEXT NOT NULL DEFAULT '',"
    " ADD COLUMN count INTEGER NOT NULL DEFAULT 1,"
    " ADD COLUMN suspected_cancer INTEGER NOT NULL DEFAULT 0;",
    /* 6: reader training (issue 12, docs/training.md). */
    "CREATE TABLE courses ("
    " id TEXT PRIMARY KEY, name TEXT NOT NULL, show_flags INTEGER NOT NULL,"
    " tolerance_frames INTEGER NOT NULL, standard_cases INTEGER NOT NULL,"
    " standard_sensitivity DOUBLE PRECISION NOT NULL, created_by TEXT NOT NULL,"
    " created_at_ms BIGINT NOT NULL);"
    "CREATE TABLE training_cases ("
    " id TEXT PRIMARY KEY, course TEXT NOT NULL REFERENCES courses(id),"
    " study TEXT NOT NULL REFERENCES studies(id), label TEXT NOT NULL,"
    " reference TEXT NOT NULL, created_by TEXT NOT NULL, created_at_ms BIGINT NOT NULL,"
    " UNIQUE (course, study));"
    "CREATE TABLE training_attempts ("
    " id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
    " case_id TEXT NOT NULL REFERENCES training_cases(id), trainee TEXT NOT NULL,"
    " started_at_ms BIGINT NOT NULL, submitted_at_ms BIGINT NOT NULL DEFAULT 0,"
    " answer TEXT NOT NULL DEFAULT '{}', score TEXT NOT NULL DEFAULT '',"
    " UNIQUE (case_id, trainee));"
    "CREATE INDEX training_attempts_trainee ON training_attempts (trainee, started_at_ms);",
    /* 7: issue 9 part: PACS export queue (docs/pacs.md): one row per study,
     * the latest request and how its sending goes. */
    "CREATE TABLE pacs_exports ("
    " study TEXT PRIMARY KEY REFERENCES studies(id), state TEXT NOT NULL,"
    " requested_at_ms BIGINT NOT NULL, requested_by TEXT NOT NULL,"
    " attempts INTEGER NOT NULL DEFAULT 0, next_attempt_ms BIGINT NOT NULL,"
    " last_error TEXT NOT NULL DEFAULT '', instances_sent INTEGER NOT NULL DEFAULT 0,"
    " sent_at_ms BIGINT NOT NULL DEFAULT 0);"
    "CREATE INDEX pacs_exports_due ON pacs_exports (next_attempt_ms) WHERE state <> 'sent';",
    /* 8: reading time (issue 12 item 6). */
    "CREATE TABLE reading_time ("
    " study TEXT NOT NULL REFERENCES studies(id), reader TEXT NOT NULL, view TEXT NOT NULL,"
    " seconds DOUBLE PRECISION NOT NULL DEFAULT 0, updated_at_ms BIGINT NOT NULL,"
    " PRIMARY KEY (study, reader, view));",
    /* 9 (issue 9 part): report addenda (docs/clinical-record.md). A signed
     * report changes only by an addendum, appended in id order. */
    "CREATE TABLE report_addenda ("
    " id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
    " study TEXT NOT NULL REFERENCES studies(id),"
    " by_user TEXT NOT NULL, at_ms BIGINT NOT NULL, reason TEXT NOT NULL,"
    " text TEXT NOT NULL);"
    "CREATE INDEX report_addenda_study ON report_addenda (study, id);",
    /* 10: several servers on one database (store.h, "several servers"):
     * failed-login counts ('pair' rows per user and address, 'addr' rows
     * per address with user_name ''), upload leases and analysis claims. */
    "CREATE TABLE login_limits ("
    " kind TEXT NOT NULL, user_name TEXT NOT NULL, ip TEXT NOT NULL,"
    " fails INTEGER NOT NULL DEFAULT 0, last_fail_ms BIGINT NOT NULL DEFAULT 0,"
    " refused BIGINT NOT NULL DEFAULT 0, first_refused_ms BIGINT NOT NULL DEFAULT 0,"
    " last_refused_ms BIGINT NOT NULL DEFAULT 0, PRIMARY KEY (kind, user_name, ip));"
    "CREATE TABLE upload_leases ("
    " upload_id TEXT PRIMARY KEY, holder TEXT NOT NULL, beat_ms BIGINT NOT NULL);"
    "CREATE TABLE ingest_claims ("
    " study TEXT PRIMARY KEY, holder TEXT NOT NULL, until_ms BIGINT NOT NULL,"
    " wake INTEGER NOT NULL DEFAULT 0);",
    /* 11: the polyp operating point each frame was analysed at (weights
     * CRC-32C, threshold in force); NULL for frames stored before. */
    ("ALTER TABLE frames ADD COLUMN polyp_crc BIGINT;"
     "ALTER TABLE frames ADD COLUMN polyp_threshold DOUBLE PRECISION;"),
    /* 12: a study's purpose (cs_study_rec.training); see store_backend.h. */
    CS_MIGRATION_12,
    /* 13: an index of the open alerts; see store_backend.h. */
    CS_MIGRATION_13,
    /* 14: when each mark was first made; see store_backend.h. */
    CS_MIGRATION_14,
};
#define N_MIGRATIONS ((int)(sizeof MIGRATIONS / sizeof MIGRATIONS[0]))

/* libpq's message on one line (its hints follow a newline and a tab),
 * without a trailing newline. */
static const char *pg_msg(const char *m, char *buf, size_t cap)
{
    size_t n = 0;
    for (const char *p = m ? m : ""; *p && n + 1 < cap; p++) {
        if (*p == '\n' || *p == '\t') {
            if (n > 0 && buf[n - 1] != ' ')
                buf[n++] = ' ';
        } else {
            buf[n++] = *p;
        }
    }
    while (n > 0 && buf[n - 1] == ' ')
        n--;
    buf[n] = '\0';
    return buf;
}

static cs_status conn_fail(pg_store *q, cs_error *err, const char *what)
{
    char m[512];
    return cs_error_set(err, CS_ERR_IO, "database: %s: %s", what,
                        pg_msg(PQerrorMessage(q->conn), m, sizeof m));
}

static cs_status res_fail(pg_store *q, const PGresult *res, cs_error *err, const char *what)
{
    char m[512];
    const char *e = res ? PQresultErrorMessage(res) : NULL;
    return cs_error_set(err, CS_ERR_IO, "database: %s: %s", what,
                        pg_msg(e && *e ? e : PQerrorMessage(q->conn), m, sizeof m));
}

/* Reconnect a connection that was lost (a restarted server, a network
 * cut): the prepared statements went with it. Not inside a transaction:
 * a call whose connection broke has failed already. */
static cs_status ensure_conn(pg_store *q, cs_error *err)
{
    if (PQstatus(q->conn) == CONNECTION_OK)
        return CS_OK;
    for (size_t i = 0; i < q->ncache; i++)
        free(q->cache[i].sql);
    q->ncache = 0;
    PQreset(q->conn);
    if (PQstatus(q->conn) != CONNECTION_OK)
        return conn_fail(q, err, "connection lost and not re-established");
    return CS_OK;
}

cs_status pg_simple(pg_store *q, const char *sql, const char *what, cs_error *err)
{
    cs_status r = ensure_conn(q, err);
    if (r != CS_OK)
        return r;
    PGresult *res = PQexec(q->conn, sql);
    ExecStatusType rs = PQresultStatus(res);
    if (rs != PGRES_COMMAND_OK && rs != PGRES_TUPLES_OK)
        r = res_fail(q, res, err, what);
    PQclear(res);
    return r;
}

/* FNV-1a: the cache's key hash. */
static uint64_t sql_hash(const char *sql)
{
    uint64_t h = 14695981039346656037ULL;
    for (const unsigned char *p = (const unsigned char *)sql; *p; p++)
        h = (h ^ *p) * 1099511628211ULL;
    return h;
}

/* The name of the prepared statement for `sql`, prepared on first use.
 * A full cache drops its oldest entry (DEALLOCATE). */
static cs_status stmt_name(pg_store *q, const char *sql, const char **name, cs_error *err)
{
    uint64_t h = sql_hash(sql);
    for (size_t i = 0; i < q->ncache; i++) {
        if (q->cache[i].hash == h && strcmp(q->cache[i].sql, sql) == 0) {
            *name = q->cache[i].name;
            return CS_OK;
        }
    }
    if (q->ncache == PG_STMT_CACHE) {
        char dealloc[48];
        snprintf(dealloc, sizeof dealloc, "DEALLOCATE %s", q->cache[0].name);
        PQclear(PQexec(q->conn, dealloc));
        free(q->cache[0].sql);
        memmove(&q->cache[0], &q->cache[1], (q->ncache - 1) * sizeof q->cache[0]);
        q->ncache--;
    }
    pg_cached *c = &q->cache[q->ncache];
    snprintf(c->name, sizeof c->name, "cs%u", q->next_name++);
    PGresult *res = PQprepare(q->conn, c->name, sql, 0, NULL);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        cs_status r = res_fail(q, res, err, "prepare");
        PQclear(res);
        return r;
    }
    PQclear(res);
    if (!(c->sql = strdup(sql)))
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory caching a statement");
    c->hash = h;
    q->ncache++;
    *name = c->name;
    return CS_OK;
}

#define PG_MAX_ARGS 32

/* args[0..n) as libpq's text parameters: vals[i] points at the text (or
 * into num[i]), NULL for SQL NULL. */
static void args_text(const pg_arg *args, size_t n, char (*num)[32], const char **vals)
{
    for (size_t i = 0; i < n; i++) {
        switch (args[i].kind) {
        case PGA_TEXT: vals[i] = args[i].t; break;
        case PGA_I64:
            snprintf(num[i], sizeof num[i], "%" PRId64, args[i].i);
            vals[i] = num[i];
            break;
        case PGA_F64:
            /* 17 digits: the double comes back exactly. */
            snprintf(num[i], sizeof num[i], "%.17g", args[i].d);
            vals[i] = num[i];
            break;
        default: vals[i] = NULL; break;
        }
    }
}

cs_status pg_exec(pg_store *q, const char *sql, const pg_arg *args, size_t n, PGresult **res,
                  int *changes, const char *what, cs_error *err)
{
    char num[PG_MAX_ARGS][32];
    const char *vals[PG_MAX_ARGS];
    const char *name = NULL;
    if (res)
        *res = NULL;
    if (n > PG_MAX_ARGS)
        return cs_error_set(err, CS_ERR_ARG, "database: %zu arguments (at most %d)", n,
                            PG_MAX_ARGS);
    cs_status r = ensure_conn(q, err);
    if (r != CS_OK || (r = stmt_name(q, sql, &name, err)) != CS_OK)
        return r;
    args_text(args, n, num, vals);
    PGresult *pr = PQexecPrepared(q->conn, name, (int)n, vals, NULL, NULL, 0);
    ExecStatusType rs = PQresultStatus(pr);
    if (rs != PGRES_COMMAND_OK && rs != PGRES_TUPLES_OK) {
        r = res_fail(q, pr, err, what);
        PQclear(pr);
        return r;
    }
    if (changes)
        *changes = atoi(PQcmdTuples(pr));
    if (res)
        *res = pr;
    else
        PQclear(pr);
    return CS_OK;
}

/* Run the write `sql` once per row of args (rows x nargs, row-major) in
 * libpq's pipeline mode: every row is sent before any answer is awaited,
 * so a frame batch costs one round trip instead of one per frame. The
 * first failure is reported; the rows after it are aborted by the server
 * (the caller's transaction then rolls back). */
static cs_status pg_exec_rows(pg_store *q, const char *sql, const pg_arg *args, size_t nargs,
                              size_t rows, const char *what, cs_error *err)
{
    char num[PG_MAX_ARGS][32];
    const char *vals[PG_MAX_ARGS];
    const char *name = NULL;
    if (nargs > PG_MAX_ARGS)
        return cs_error_set(err, CS_ERR_ARG, "database: %zu arguments (at most %d)", nargs,
                            PG_MAX_ARGS);
    cs_status r = ensure_conn(q, err);
    if (r != CS_OK || (r = stmt_name(q, sql, &name, err)) != CS_OK)
        return r;
    if (PQenterPipelineMode(q->conn) != 1)
        return conn_fail(q, err, what);
    size_t sent = 0;
    for (; sent < rows; sent++) {
        args_text(args + sent * nargs, nargs, num, vals);
        if (PQsendQueryPrepared(q->conn, name, (int)nargs, vals, NULL, NULL, 0) != 1) {
            r = conn_fail(q, err, what);
            break;
        }
    }
    bool synced = PQpipelineSync(q->conn) == 1;
    if (!synced && r == CS_OK)
        r = conn_fail(q, err, what);
    /* Each query's results end with a NULL; the sync's with its own. */
    for (size_t i = 0; i < sent && PQstatus(q->conn) == CONNECTION_OK; i++) {
        PGresult *res;
        while ((res = PQgetResult(q->conn)) != NULL) {
            ExecStatusType rs = PQresultStatus(res);
            if (rs != PGRES_COMMAND_OK && rs != PGRES_TUPLES_OK && r == CS_OK)
                r = res_fail(q, res, err, what);
            PQclear(res);
        }
    }
    if (synced && PQstatus(q->conn) == CONNECTION_OK) {
        PGresult *res = PQgetResult(q->conn);
        if (PQresultStatus(res) != PGRES_PIPELINE_SYNC && r == CS_OK)
            r = res_fail(q, res, err, what);
        PQclear(res);
    }
    if (PQexitPipelineMode(q->conn) != 1 && r == CS_OK)
        r = conn_fail(q, err, what);
    return r;
}

cs_status pg_list_rows(const PGresult *res, void (*read)(const PGresult *, int, void *),
                       size_t size, void **out, size_t *n, const char *what, cs_error *err)
{
    int rows = PQntuples(res);
    *out = NULL;
    *n = 0;
    if (rows == 0)
        return CS_OK;
    char *v = malloc((size_t)rows * size);
    if (!v)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory: %s", what);
    for (int i = 0; i < rows; i++)
        read(res, i, v + (size_t)i * size);
    *out = v;
    *n = (size_t)rows;
    return CS_OK;
}

/* Create or bring the schema up to date. Two servers starting at once
 * take turns (a session advisory lock); each migration is one
 * transaction with its version row. */
static cs_status migrate(pg_store *q, cs_error *err)
{
    PGresult *res = NULL;
    int version = 0;
    bool in_tx = false;
    cs_status r = pg_simple(q, "SELECT pg_advisory_lock(hashtextextended('capscreen.migrate', 0))",
                            "lock the migration", err);
    if (r != CS_OK)
        return r;
    if ((r = pg_simple(q, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)",
                       "create schema_version", err)) != CS_OK ||
        (r = pg_query(q, "SELECT COALESCE(MAX(version), 0) FROM schema_version", &res,
                      "read schema_version", err)) != CS_OK)
        goto out;
    version = (int)pg_col_i64(res, 0, 0);
    PQclear(res);
    if (version > N_MIGRATIONS) {
        r = cs_error_set(err, CS_ERR_UNSUPPORTED,
                         "database schema version %d is newer than this program (%d)", version,
                         N_MIGRATIONS);
        goto out;
    }
    static const char *const names[] = {"migration to schema 1",
                                        "migration to schema 2",
                                        "migration to schema 3",
                                        "migration to schema 4",
                                        "migration to schema 5",
                                        "migration to schema 6",
                                        "migration to schema 7 (PACS export queue)",
                                        "migration to schema 8 (reading time)",
                                        "migration to schema 9 (report addenda)",
                                        "migration to schema 10 (several servers)",
                                        "migration to schema 11 (polyp operating points)",
                                        "migration to schema 12 (training studies)",
                                        "migration to schema 13 (open alerts index)",
                                        "migration to schema 14 (marks' first time)"};
    _Static_assert(sizeof names / sizeof names[0] == N_MIGRATIONS, "a name per migration");
    for (int v = version; v < N_MIGRATIONS && r == CS_OK; v++) {
        if ((r = pg_begin(q, &in_tx, err)) != CS_OK ||
            (r = pg_simple(q, MIGRATIONS[v], names[v], err)) != CS_OK ||
            (r = pg_run(q, "INSERT INTO schema_version VALUES ($1::integer)", NULL, err,
                        pg_i64(v + 1))) != CS_OK ||
            (r = pg_commit(q, &in_tx, err)) != CS_OK) {
            pg_rollback(q, in_tx);
            in_tx = false;
        }
    }
out:
    PQclear(PQexec(q->conn, "SELECT pg_advisory_unlock(hashtextextended('capscreen.migrate', 0))"));
    return r;
}

static void pg_close(cs_store *s)
{
    pg_store *q = PGQ(s);
    for (size_t i = 0; i < q->ncache; i++)
        free(q->cache[i].sql);
    if (q->conn)
        PQfinish(q->conn);
    pthread_mutex_destroy(&q->lock);
    free(q);
}

static cs_status pg_ping(cs_store *s, cs_error *err)
{
    pg_store *q = PGQ(s);
    pthread_mutex_lock(&q->lock);
    cs_status r = pg_query(q, "SELECT COUNT(*) FROM schema_version", NULL, "ping", err);
    pthread_mutex_unlock(&q->lock);
    return r;
}

/* ---- studies, enrolment, devices --------------------------------------- */

/* Schema 5: the patient and episode columns, in cs_patient_rec then
 * cs_episode_rec order. */
#define PG_PATIENT_COLS                                                \
    "nhs_number, family, given, birth_date, sex, pathway, indication," \
    " indication_detail, referrer"

static cs_status pg_study_create(cs_store *s, const cs_study_rec *rec, const char *code_hash,
                                 cs_error *err)
{
    pg_store *q = PGQ(s);
    pthread_mutex_lock(&q->lock);
    cs_status r =
        pg_exec(q,
                "INSERT INTO studies (id, label, created_at, code_hash, code_expires_at,"
                " " PG_PATIENT_COLS ", purpose) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9,"
                " $10, $11, $12, $13, $14, $15)",
                PG_ARGS(pg_text(rec->id), pg_text(rec->label), pg_i64(rec->created_at),
                        pg_text(code_hash), pg_i64(rec->code_expires_at),
                        pg_text(rec->patient.nhs_number), pg_text(rec->patient.family),
                        pg_text(rec->patient.given), pg_text(rec->patient.birth_date),
                        pg_text(rec->patient.sex), pg_text(rec->episode.pathway),
                        pg_text(rec->episode.indication), pg_text(rec->episode.indication_detail),
                        pg_text(rec->episode.referrer), pg_text(cs_study_purpose(rec))),
                NULL, NULL, "create study", err);
    pthread_mutex_unlock(&q->lock);
    return r;
}

#define STUDY_COLS                                                           \
    "id, label, created_at, code_expires_at, code_used_at, ingest_offset,"   \
    " next_seq, first_byte_ms, last_byte_ms, assigned_reader, closed_at_ms," \
    " closed_by, " PG_PATIENT_COLS ", purpose"

static void read_study(const PGresult *res, int row, void *out)
{
    cs_study_rec *o = out;
    memset(o, 0, sizeof *o);
    pg_col_text(res, row, 0, o->id, sizeof o->id);
    pg_col_text(res, row, 1, o->label, sizeof o->label);
    o->created_at = pg_col_i64(res, row, 2);
    o->code_expires_at = pg_col_i64(res, row, 3);
    o->code_used_at = pg_col_i64(res, row, 4);
    o->ingest_offset = (uint64_t)pg_col_i64(res, row, 5);
    o->next_seq = (uint64_t)pg_col_i64(res, row, 6);
    o->first_byte_ms = pg_col_i64(res, row, 7);
    o->last_byte_ms = pg_col_i64(res, row, 8);
    pg_col_text(res, row, 9, o->assigned_reader, sizeof o->assigned_reader);
    o->closed_at_ms = pg_col_i64(res, row, 10);
    pg_col_text(res, row, 11, o->closed_by, sizeof o->closed_by);
    pg_col_text(res, row, 12, o->patient.nhs_number, sizeof o->patient.nhs_number);
    pg_col_text(res, row, 13, o->patient.family, sizeof o->patient.family);
    pg_col_text(res, row, 14, o->patient.given, sizeof o->patient.given);
    pg_col_text(res, row, 15, o->patient.birth_date, sizeof o->patient.birth_date);
    pg_col_text(res, row, 16, o->patient.sex, sizeof o->patient.sex);
    pg_col_text(res, row, 17, o->episode.pathway, sizeof o->episode.pathway);
    pg_col_text(res, row, 18, o->episode.indication, sizeof o->episode.indication);
    pg_col_text(res, row, 19, o->episode.indication_detail, sizeof o->episode.indication_detail);
    pg_col_text(res, row, 20, o->episode.referrer, sizeof o->episode.referrer);
    char purpose[16];
    pg_col_text(res, row, 21, purpose, sizeof purpose);
    o->training = cs_study_purpose_is_training(purpose);
}

/* The one row `sql` selects for `id` through `read` into `out`; a whole
 * call (takes q->lock). */
static cs_status get_by_id(pg_store *q, const char *sql, const char *id,
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

static cs_status pg_study_get(cs_store *s, const char *id, bool *found, cs_study_rec *out,
                              cs_error *err)
{
    return get_by_id(PGQ(s), "SELECT " STUDY_COLS " FROM studies WHERE id = $1", id, read_study,
                     out, found, "read study", err);
}

static cs_status pg_study_patient_set(cs_store *s, const char *id, const cs_patient_rec *p,
                                      const cs_episode_rec *e, const cs_study_rec *was,
                                      cs_addendum_rec *note, bool *found, bool *stale, bool *noted,
                                      cs_error *err)
{
    pg_store *q = PGQ(s);
    PGresult *res = NULL;
    int changes = 0;
    bool in_tx = false, added = false, exists = false;
    pthread_mutex_lock(&q->lock);
    /* Under the study's lock, as a signature reads the patient (the report
     * basis stamp) in its own transaction under it. */
    cs_status r = pg_begin_study(q, id, &in_tx, err);
    if (r == CS_OK && !was)
        r = pg_run(q,
                   "UPDATE studies SET nhs_number = $1, family = $2, given = $3,"
                   " birth_date = $4, sex = $5, pathway = $6, indication = $7,"
                   " indication_detail = $8, referrer = $9 WHERE id = $10",
                   &changes, err, pg_text(p->nhs_number), pg_text(p->family), pg_text(p->given),
                   pg_text(p->birth_date), pg_text(p->sex), pg_text(e->pathway),
                   pg_text(e->indication), pg_text(e->indication_detail), pg_text(e->referrer),
                   pg_text(id));
    else if (r == CS_OK)
        r = pg_run(q,
                   "UPDATE studies SET nhs_number = $1, family = $2, given = $3,"
                   " birth_date = $4, sex = $5, pathway = $6, indication = $7,"
                   " indication_detail = $8, referrer = $9 WHERE id = $10" CS_PATIENT_UNCHANGED_SQL(
                       "$11", "$12", "$13", "$14", "$15", "$16", "$17", "$18", "$19"),
                   &changes, err, pg_text(p->nhs_number), pg_text(p->family), pg_text(p->given),
                   pg_text(p->birth_date), pg_text(p->sex), pg_text(e->pathway),
                   pg_text(e->indication), pg_text(e->indication_detail), pg_text(e->referrer),
                   pg_text(id), pg_text(was->patient.nhs_number), pg_text(was->patient.family),
                   pg_text(was->patient.given), pg_text(was->patient.birth_date),
                   pg_text(was->patient.sex), pg_text(was->episode.pathway),
                   pg_text(was->episode.indication), pg_text(was->episode.indication_detail),
                   pg_text(was->episode.referrer));
    /* Nothing changed: no such study, or (with `was`) changed meanwhile. */
    if (r == CS_OK && changes == 0 && was) {
        r = pg_query(q, "SELECT 1 FROM studies WHERE id = $1", &res, "find study", err,
                     pg_text(id));
        exists = r == CS_OK && PQntuples(res) > 0;
        PQclear(res);
        res = NULL;
    }
    /* A signed report's patient was under its signature: the correction
     * is appended to it, in this transaction (store.h). */
    if (r == CS_OK && changes > 0 && note &&
        (r = pg_query(q,
                      "INSERT INTO report_addenda (study, by_user, at_ms, reason, text)"
                      " SELECT $1, $2, $3, $4, $5 WHERE EXISTS"
                      " (SELECT 1 FROM reports WHERE study = $1 AND state = 'signed')"
                      " RETURNING id",
                      &res, "note the correction", err, pg_text(id), pg_text(note->by),
                      pg_i64(note->at_ms), pg_text(note->reason), pg_text(note->text))) == CS_OK &&
        PQntuples(res) == 1) {
        note->id = pg_col_i64(res, 0, 0);
        added = true;
    }
    if (r == CS_OK)
        r = pg_commit(q, &in_tx, err);
    PQclear(res);
    pg_rollback(q, in_tx);
    pthread_mutex_unlock(&q->lock);
    *found = r == CS_OK && (changes > 0 || exists);
    if (stale)
        *stale = r == CS_OK && changes == 0 && exists;
    if (noted)
        *noted = r == CS_OK && added;
    return r;
}

static cs_status pg_enrol(cs_store *s, const char *code_hash, const char *token_hash, int64_t now,
                          cs_enrol_outcome *outcome, char *study, cs_error *err)
{
    pg_store *q = PGQ(s);
    PGresult *res = NULL;
    bool in_tx = false;
    *outcome = CS_ENROL_UNKNOWN;
    pthread_mutex_lock(&q->lock);
    cs_status r = pg_query(q, "SELECT id FROM studies WHERE code_hash = $1", &res, "look up code",
                           err, pg_text(code_hash));
    if (r != CS_OK || PQntuples(res) == 0)
        goto fail; /* unknown */
    pg_col_text(res, 0, 0, study, CS_ID_MAX);
    PQclear(res);
    res = NULL;
    /* Read again under the study's lock: a concurrent enrolment or close
     * has committed by then. */
    if ((r = pg_begin_study(q, study, &in_tx, err)) != CS_OK ||
        (r = pg_query(q,
                      "SELECT code_expires_at, code_used_at, closed_at_ms FROM studies"
                      " WHERE id = $1",
                      &res, "look up code", err, pg_text(study))) != CS_OK ||
        PQntuples(res) == 0)
        goto fail;
    int64_t expires = pg_col_i64(res, 0, 0), used = pg_col_i64(res, 0, 1);
    /* A closed study takes no device (its close also marked the code used). */
    if (used || pg_col_i64(res, 0, 2) != 0) {
        *outcome = CS_ENROL_USED;
        goto fail;
    }
    if (now >= expires) {
        *outcome = CS_ENROL_EXPIRED;
        goto fail;
    }
    if ((r = pg_run(q, "UPDATE studies SET code_used_at = $1 WHERE id = $2", NULL, err, pg_i64(now),
                    pg_text(study))) != CS_OK ||
        (r = pg_run(q, "INSERT INTO devices (token_hash, study, created_at) VALUES ($1, $2, $3)",
                    NULL, err, pg_text(token_hash), pg_text(study), pg_i64(now))) != CS_OK ||
        (r = pg_commit(q, &in_tx, err)) != CS_OK)
        goto fail;
    *outcome = CS_ENROL_OK;
fail:
    PQclear(res);
    pg_rollback(q, in_tx);
    pthread_mutex_unlock(&q->lock);
    if (r != CS_OK)
        *outcome = CS_ENROL_UNKNOWN;
    return r;
}

static cs_status pg_device_study(cs_store *s, const char *token_hash, bool *found, char *study,
                                 cs_error *err)
{
    pg_store *q = PGQ(s);
    PGresult *res = NULL;
    *found = false;
    pthread_mutex_lock(&q->lock);
    cs_status r = pg_query(q, "SELECT study FROM devices WHERE token_hash = $1 AND revoked_at = 0",
                           &res, "look up device", err, pg_text(token_hash));
    if (r == CS_OK && PQntuples(res) > 0) {
        pg_col_text(res, 0, 0, study, CS_ID_MAX);
        *found = true;
    }
    PQclear(res);
    pthread_mutex_unlock(&q->lock);
    return r;
}

static cs_status pg_devices_revoke(cs_store *s, const char *study, int64_t now, int *n,
                                   cs_error *err)
{
    pg_store *q = PGQ(s);
    pthread_mutex_lock(&q->lock);
    cs_status r =
        pg_run(q, "UPDATE devices SET revoked_at = $1 WHERE study = $2 AND revoked_at = 0", n, err,
               pg_i64(now), pg_text(study));
    pthread_mutex_unlock(&q->lock);
    return r;
}

/* ---- uploads ------------------------------------------------------------ */

static cs_status pg_upload_create(cs_store *s, const cs_upload_rec *u, cs_error *err)
{
    pg_store *q = PGQ(s);
    pthread_mutex_lock(&q->lock);
    cs_status r = pg_run(q,
                         "INSERT INTO uploads (id, study, length, \"offset\", state, created_at,"
                         " updated_at, expires_at, checksum_base, metadata)"
                         " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                         NULL, err, pg_text(u->id), pg_text(u->study), pg_i64(u->length),
                         pg_i64((int64_t)u->offset), pg_i64(u->state), pg_i64(u->created_at),
                         pg_i64(u->updated_at), pg_i64(u->expires_at), pg_i64(u->checksum_base),
                         pg_text(u->metadata));
    pthread_mutex_unlock(&q->lock);
    return r;
}

#define UPLOAD_COLS                                                             \
    "id, study, length, \"offset\", state, created_at, updated_at, expires_at," \
    " checksum_base, metadata"

static void read_upload(const PGresult *res, int row, void *out)
{
    cs_upload_rec *o = out;
    memset(o, 0, sizeof *o);
    pg_col_text(res, row, 0, o->id, sizeof o->id);
    pg_col_text(res, row, 1, o->study, sizeof o->study);
    o->length = pg_col_i64(res, row, 2);
    o->offset = (uint64_t)pg_col_i64(res, row, 3);
    o->state = (cs_upload_state)pg_col_i64(res, row, 4);
    o->created_at = pg_col_i64(res, row, 5);
    o->updated_at = pg_col_i64(res, row, 6);
    o->expires_at = pg_col_i64(res, row, 7);
    o->checksum_base = pg_col_i64(res, row, 8);
    pg_col_text(res, row, 9, o->metadata, sizeof o->metadata);
}

static cs_status pg_upload_get(cs_store *s, const char *id, bool *found, cs_upload_rec *out,
                               cs_error *err)
{
    return get_by_id(PGQ(s), "SELECT " UPLOAD_COLS " FROM uploads WHERE id = $1", id, read_upload,
                     out, found, "read upload", err);
}

static cs_status pg_upload_update(cs_store *s, const cs_upload_rec *u, cs_error *err)
{
    pg_store *q = PGQ(s);
    pthread_mutex_lock(&q->lock);
    cs_status r = pg_run(q,
                         "UPDATE uploads SET length = $1, \"offset\" = $2, state = $3,"
                         " updated_at = $4, expires_at = $5, checksum_base = $6 WHERE id = $7",
                         NULL, err, pg_i64(u->length), pg_i64((int64_t)u->offset), pg_i64(u->state),
                         pg_i64(u->updated_at), pg_i64(u->expires_at), pg_i64(u->checksum_base),
                         pg_text(u->id));
    pthread_mutex_unlock(&q->lock);
    return r;
}

static cs_status pg_upload_list(cs_store *s, const char *study, bool only_open, cs_upload_rec **out,
                                size_t *n, cs_error *err)
{
    pg_store *q = PGQ(s);
    PGresult *res = NULL;
    void *v = NULL;
    pthread_mutex_lock(&q->lock);
    cs_status r = pg_query(q,
                           "SELECT " UPLOAD_COLS " FROM uploads WHERE ($1::text IS NULL OR"
                           " study = $1::text) AND ($2::integer = 0 OR state = 0) ORDER BY n",
                           &res, "list uploads", err, pg_text(study), pg_i64(only_open));
    *n = 0;
    if (r == CS_OK)
        r = pg_list_rows(res, read_upload, sizeof **out, &v, n, "list uploads", err);
    *out = v;
    PQclear(res);
    pthread_mutex_unlock(&q->lock);
    return r;
}

static cs_status pg_study_touch(cs_store *s, const char *study, int64_t now_ms, cs_error *err)
{
    pg_store *q = PGQ(s);
    pthread_mutex_lock(&q->lock);
    cs_status r = pg_run(q,
                         "UPDATE studies SET first_byte_ms = CASE first_byte_ms WHEN 0 THEN"
                         " $1::bigint ELSE first_byte_ms END, last_byte_ms = $1::bigint"
                         " WHERE id = $2",
                         NULL, err, pg_i64(now_ms), pg_text(study));
    pthread_mutex_unlock(&q->lock);
    return r;
}

/* ---- per-frame results -------------------------------------------------- */

/* What frames add to the counters (PG_FRAME_AGG's order). */
typedef struct frame_tally {
    int64_t n[PG_N_COUNTERS];
    bool has_time;
    int64_t max_time;
} frame_tally;

static void tally_frame(frame_tally *t, const cs_frame_rec *f)
{
    t->n[0]++;
    if (f->ok) {
        t->n[1]++;
        t->n[2] += f->readable;
        t->n[3] += f->bleeding;
        t->n[4] += f->exposure && strcmp(f->exposure, "too_dark") == 0;
        t->n[5] += f->exposure && strcmp(f->exposure, "too_bright") == 0;
        t->n[6] += f->blurry;
        t->n[7] += f->has_polyp && f->polyp;
    }
    if (f->capture_time_us >= 0 && (!t->has_time || f->capture_time_us > t->max_time)) {
        t->has_time = true;
        t->max_time = f->capture_time_us;
    }
}

/* Subtract what the stored frames with seq in [from, to] count: the rows
 * the batch is about to replace (none, normally). */
static cs_status untally_stored(pg_store *q, const char *study, uint64_t from, uint64_t to,
                                frame_tally *t, int64_t *replaced, cs_error *err)
{
    PGresult *res = NULL;
    cs_status r = pg_query(q,
                           "SELECT " PG_FRAME_AGG " FROM frames WHERE study = $1"
                           " AND seq BETWEEN $2 AND $3",
                           &res, "count replaced frames", err, pg_text(study),
                           pg_i64((int64_t)from), pg_i64((int64_t)to));
    if (r == CS_OK) {
        for (int i = 0; i < PG_N_COUNTERS; i++)
            t->n[i] -= pg_col_i64(res, 0, i);
        *replaced += pg_col_i64(res, 0, 0);
    }
    PQclear(res);
    return r;
}

#define FRAME_NARGS 25
#define FRAME_INSERT                                                                        \
    "INSERT INTO frames (study, seq, frame_index, capture_time_us, ok, status, error,"      \
    " bleeding_probability, bleeding, exposure, sharpness, visibility, readable, blurry,"   \
    " width, height, payload_offset, payload_len, mean_rgb, redundant, polyp, polyp_flag,"  \
    " boxes, polyp_crc, polyp_threshold) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,"   \
    "$13,$14,$15,$16,$17,$18,$19,$20,$21,$22,$23,$24,$25) ON CONFLICT (study, seq) DO"      \
    " UPDATE SET frame_index ="                                                             \
    " EXCLUDED.frame_index, capture_time_us = EXCLUDED.capture_time_us, ok = EXCLUDED.ok,"  \
    " status = EXCLUDED.status, error = EXCLUDED.error, bleeding_probability ="             \
    " EXCLUDED.bleeding_probability, bleeding = EXCLUDED.bleeding, exposure ="              \
    " EXCLUDED.exposure, sharpness = EXCLUDED.sharpness, visibility = EXCLUDED.visibility," \
    " readable = EXCLUDED.readable, blurry = EXCLUDED.blurry, width = EXCLUDED.width,"      \
    " height = EXCLUDED.height, payload_offset = EXCLUDED.payload_offset, payload_len ="    \
    " EXCLUDED.payload_len, mean_rgb = EXCLUDED.mean_rgb, redundant = EXCLUDED.redundant,"  \
    " polyp = EXCLUDED.polyp, polyp_flag = EXCLUDED.polyp_flag, boxes = EXCLUDED.boxes,"    \
    " polyp_crc = EXCLUDED.polyp_crc, polyp_threshold = EXCLUDED.polyp_threshold"

/* The insert's arguments for frame `f` of `study` (replacing one at its
 * seq). Results other than the image location are stored only for ok
 * frames (NULL otherwise), as the counters count them. */
static void frame_args(pg_arg *a, const char *study, const cs_frame_rec *f)
{
    bool ok = f->ok, polyp = ok && f->has_polyp;
    const pg_arg v[FRAME_NARGS] = {
        pg_text(study),
        pg_i64((int64_t)f->seq),
        f->frame_index >= 0 ? pg_i64(f->frame_index) : pg_null(),
        f->capture_time_us >= 0 ? pg_i64(f->capture_time_us) : pg_null(),
        pg_i64(ok),
        pg_text(f->status ? f->status : ""),
        pg_text(f->error),
        ok ? pg_f64(f->bleeding_probability) : pg_null(),
        ok ? pg_i64(f->bleeding) : pg_null(),
        ok ? pg_text(f->exposure ? f->exposure : "") : pg_null(),
        ok ? pg_f64(f->sharpness) : pg_null(),
        ok ? pg_f64(f->visibility) : pg_null(),
        ok ? pg_i64(f->readable) : pg_null(),
        ok ? pg_i64(f->blurry) : pg_null(),
        ok ? pg_i64(f->width) : pg_null(),
        ok ? pg_i64(f->height) : pg_null(),
        pg_i64((int64_t)f->payload_offset),
        pg_i64(f->payload_len),
        pg_i64(f->mean_rgb),
        pg_i64(f->redundant),
        polyp ? pg_f64(f->polyp_probability) : pg_null(),
        pg_i64(polyp && f->polyp),
        ok && f->boxes && f->boxes[0] ? pg_text(f->boxes) : pg_null(),
        polyp ? pg_i64(f->polyp_weights_crc32c) : pg_null(),
        polyp ? pg_f64(f->polyp_threshold) : pg_null(),
    };
    memcpy(a, v, sizeof v);
}

/* Frames f[0..n), the study's counters and its new analysis position, one
 * transaction under the study's lock. */
static cs_status pg_frames_add(cs_store *s, const char *study, const cs_frame_rec *f, size_t n,
                               uint64_t ingest_offset, cs_error *err)
{
    pg_store *q = PGQ(s);
    bool in_tx = false;
    frame_tally t;
    int64_t replaced = 0;
    pg_arg *args = NULL;
    if (n == 0)
        return CS_OK;
    memset(&t, 0, sizeof t);
    pthread_mutex_lock(&q->lock);
    cs_status r = pg_begin_study(q, study, &in_tx, err);
    if (r != CS_OK)
        goto fail;
    /* Rows about to be replaced, one range per run of consecutive seqs. */
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && f[j].seq == f[j - 1].seq + 1)
            j++;
        if ((r = untally_stored(q, study, f[i].seq, f[j - 1].seq, &t, &replaced, err)) != CS_OK)
            goto fail;
        i = j;
    }
    if (!(args = malloc(n * FRAME_NARGS * sizeof *args))) {
        r = cs_error_set(err, CS_ERR_NOMEM, "out of memory storing %zu frames", n);
        goto fail;
    }
    for (size_t i = 0; i < n; i++) {
        frame_args(args + i * FRAME_NARGS, study, &f[i]);
        tally_frame(&t, &f[i]);
    }
    if ((r = pg_exec_rows(q, FRAME_INSERT, args, FRAME_NARGS, n, "store frame", err)) != CS_OK)
        goto fail;
    if ((r = pg_run(q,
                    "UPDATE studies SET ingest_offset = $1, next_seq = $2,"
                    " n_frames = n_frames + $3, n_ok = n_ok + $4, n_readable = n_readable + $5,"
                    " n_bleeding = n_bleeding + $6, n_too_dark = n_too_dark + $7,"
                    " n_too_bright = n_too_bright + $8, n_blurry = n_blurry + $9,"
                    " n_polyp = n_polyp + $10, last_capture_time_us = CASE"
                    " WHEN $11::bigint IS NULL THEN last_capture_time_us"
                    " WHEN last_capture_time_us IS NULL OR last_capture_time_us < $11::bigint"
                    " THEN $11::bigint ELSE last_capture_time_us END WHERE id = $12",
                    NULL, err, pg_i64((int64_t)ingest_offset), pg_i64((int64_t)f[n - 1].seq + 1),
                    pg_i64(t.n[0]), pg_i64(t.n[1]), pg_i64(t.n[2]), pg_i64(t.n[3]), pg_i64(t.n[4]),
                    pg_i64(t.n[5]), pg_i64(t.n[6]), pg_i64(t.n[7]),
                    t.has_time ? pg_i64(t.max_time) : pg_null(), pg_text(study))) != CS_OK)
        goto fail;
    /* A replaced row may have held the latest capture time: recount it. */
    if (replaced > 0 &&
        (r = pg_run(q,
                    "UPDATE studies SET last_capture_time_us = (SELECT MAX(capture_time_us)"
                    " FROM frames WHERE study = $1) WHERE id = $1",
                    NULL, err, pg_text(study))) != CS_OK)
        goto fail;
    r = pg_commit(q, &in_tx, err);
fail:
    pg_rollback(q, in_tx);
    pthread_mutex_unlock(&q->lock);
    free(args);
    return r;
}

static cs_status pg_study_set_ingest(cs_store *s, const char *study, uint64_t ingest_offset,
                                     cs_error *err)
{
    pg_store *q = PGQ(s);
    pthread_mutex_lock(&q->lock);
    cs_status r = pg_run(q, "UPDATE studies SET ingest_offset = $1 WHERE id = $2", NULL, err,
                         pg_i64((int64_t)ingest_offset), pg_text(study));
    pthread_mutex_unlock(&q->lock);
    return r;
}

/* The counters from the study row and the study's uploads: no frame is
 * read. */
/* The 12 counter columns of a study (as pg_study_counts and
 * CS_WORKLIST_FACTS_SQL select them) from column `c` of `row` on. */
static void read_counts(const PGresult *res, int row, int c, cs_study_counts *o)
{
    o->frames = (uint64_t)pg_col_i64(res, row, c);
    o->analysed = (uint64_t)pg_col_i64(res, row, c + 1);
    o->failed = o->frames - o->analysed;
    o->readable = (uint64_t)pg_col_i64(res, row, c + 2);
    o->bleeding = (uint64_t)pg_col_i64(res, row, c + 3);
    o->too_dark = (uint64_t)pg_col_i64(res, row, c + 4);
    o->too_bright = (uint64_t)pg_col_i64(res, row, c + 5);
    o->blurry = (uint64_t)pg_col_i64(res, row, c + 6);
    o->polyp = (uint64_t)pg_col_i64(res, row, c + 7);
    o->last_capture_time_us = pg_col_null(res, row, c + 8) ? -1 : pg_col_i64(res, row, c + 8);
    o->uploads = (int)pg_col_i64(res, row, c + 9);
    o->uploads_open = (int)pg_col_i64(res, row, c + 10);
    o->bytes_received = (uint64_t)pg_col_i64(res, row, c + 11);
}

static cs_status pg_study_counts(cs_store *s, const char *study, cs_study_counts *o, cs_error *err)
{
    pg_store *q = PGQ(s);
    PGresult *res = NULL;
    memset(o, 0, sizeof *o);
    o->last_capture_time_us = -1;
    pthread_mutex_lock(&q->lock);
    cs_status r = pg_query(q,
                           "SELECT n_frames, n_ok, n_readable, n_bleeding, n_too_dark,"
                           " n_too_bright, n_blurry, n_polyp, last_capture_time_us,"
                           " (SELECT COUNT(*) FROM uploads u WHERE u.study = $1),"
                           " (SELECT COUNT(*) FROM uploads u WHERE u.study = $1 AND u.state = 0),"
                           " (SELECT COALESCE(SUM(u.\"offset\"),0) FROM uploads u"
                           " WHERE u.study = $1) FROM studies WHERE id = $1",
                           &res, "read study counters", err, pg_text(study));
    if (r == CS_OK && PQntuples(res) > 0)
        read_counts(res, 0, 0, o);
    PQclear(res);
    pthread_mutex_unlock(&q->lock);
    return r;
}

static cs_status pg_polyp_settings(cs_store *s, const char *study, cs_polyp_setting *out,
                                   size_t cap, size_t *n, cs_error *err)
{
    pg_store *q = PGQ(s);
    PGresult *res = NULL;
    pthread_mutex_lock(&q->lock);
    cs_status r = pg_query(q,
                           "SELECT polyp_crc, polyp_threshold, COUNT(*), MIN(seq), MAX(seq)"
                           " FROM frames WHERE study = $1 AND polyp IS NOT NULL"
                           " GROUP BY polyp_crc, polyp_threshold ORDER BY MIN(seq)",
                           &res, "read the study's polyp settings", err, pg_text(study));
    if (r == CS_OK) {
        *n = (size_t)PQntuples(res);
        for (int i = 0; i < PQntuples(res) && (size_t)i < cap; i++) {
            cs_polyp_setting *p = &out[i];
            p->recorded = !PQgetisnull(res, i, 0);
            p->weights_crc32c = (uint32_t)pg_col_i64(res, i, 0);
            p->threshold = (float)pg_col_f64(res, i, 1);
            p->frames = (uint64_t)pg_col_i64(res, i, 2);
            p->first_seq = (uint64_t)pg_col_i64(res, i, 3);
            p->last_seq = (uint64_t)pg_col_i64(res, i, 4);
        }
    }
    PQclear(res);
    pthread_mutex_unlock(&q->lock);
    return r;
}

static void read_fact(const PGresult *res, int row, void *out)
{
    cs_worklist_fact *f = out;
    memset(f, 0, sizeof *f);
    snprintf(f->study, sizeof f->study, "%s", PQgetvalue(res, row, 0));
    read_counts(res, row, 1, &f->counts);
    snprintf(f->report_state, sizeof f->report_state, "%s", PQgetvalue(res, row, 13));
    f->suspected_cancer = pg_col_i64(res, row, 14) != 0;
}

static cs_status pg_worklist_facts(cs_store *s, cs_worklist_fact **out, size_t *n, cs_error *err)
{
    pg_store *q = PGQ(s);
    PGresult *res = NULL;
    void *v = NULL;
    pthread_mutex_lock(&q->lock);
    cs_status r = pg_exec(q, CS_WORKLIST_FACTS_SQL, NULL, 0, &res, NULL,
                          "read the worklist's study facts", err);
    if (r == CS_OK)
        r = pg_list_rows(res, read_fact, sizeof **out, &v, n, "read the worklist's study facts",
                         err);
    PQclear(res);
    pthread_mutex_unlock(&q->lock);
    *out = v;
    return r;
}

static int64_t cap_i64(uint64_t v) { return v > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)v; }

static cs_status pg_study_frames(cs_store *s, const char *study, bool errors, cs_frame_brief *out,
                                 size_t cap, size_t *n, cs_error *err)
{
    pg_store *q = PGQ(s);
    PGresult *res = NULL;
    *n = 0;
    pthread_mutex_lock(&q->lock);
    cs_status r = pg_query(q,
                           errors ? "SELECT seq, frame_index, capture_time_us, 0, status, error"
                                    " FROM frames WHERE study = $1 AND ok = 0 ORDER BY seq"
                                    " LIMIT $2"
                                  : "SELECT seq, frame_index, capture_time_us,"
                                    " bleeding_probability, status, '' FROM frames"
                                    " WHERE study = $1 AND bleeding = 1 ORDER BY seq LIMIT $2",
                           &res, "list frames", err, pg_text(study), pg_i64(cap_i64(cap)));
    for (int i = 0; r == CS_OK && i < PQntuples(res) && *n < cap; i++) {
        cs_frame_brief *b = &out[(*n)++];
        b->seq = (uint64_t)pg_col_i64(res, i, 0);
        b->frame_index = pg_col_null(res, i, 1) ? -1 : pg_col_i64(res, i, 1);
        b->capture_time_us = pg_col_null(res, i, 2) ? -1 : pg_col_i64(res, i, 2);
        b->bleeding_probability = (float)pg_col_f64(res, i, 3);
        pg_col_text(res, i, 4, b->status, sizeof b->status);
        pg_col_text(res, i, 5, b->error, sizeof b->error);
    }
    PQclear(res);
    pthread_mutex_unlock(&q->lock);
    return r;
}

static cs_status pg_studies_pending(cs_store *s, char (**ids)[CS_ID_MAX], size_t *n, cs_error *err)
{
    pg_store *q = PGQ(s);
    PGresult *res = NULL;
    *ids = NULL;
    *n = 0;
    pthread_mutex_lock(&q->lock);
    cs_status r = pg_query(q,
                           "SELECT s.id FROM studies s WHERE s.ingest_offset <"
                           " (SELECT COALESCE(SUM(u.\"offset\"),0) FROM uploads u"
                           " WHERE u.study = s.id) OR EXISTS (SELECT 1 FROM uploads u"
                           " WHERE u.study = s.id AND u.state = 0)",
                           &res, "list studies", err);
    int rows = r == CS_OK ? PQntuples(res) : 0;
    if (rows > 0) {
        char(*v)[CS_ID_MAX] = malloc((size_t)rows * sizeof *v);
        if (!v) {
            r = cs_error_set(err, CS_ERR_NOMEM, "out of memory listing studies");
        } else {
            for (int i = 0; i < rows; i++)
                pg_col_text(res, i, 0, v[i], CS_ID_MAX);
            *ids = v;
            *n = (size_t)rows;
        }
    }
    PQclear(res);
    pthread_mutex_unlock(&q->lock);
    return r;
}

static cs_status pg_studies_list(cs_store *s, cs_study_rec **out, size_t *n, cs_error *err)
{
    pg_store *q = PGQ(s);
    PGresult *res = NULL;
    void *v = NULL;
    *n = 0;
    pthread_mutex_lock(&q->lock);
    cs_status r = pg_query(q, "SELECT " STUDY_COLS " FROM studies ORDER BY created_at DESC, id",
                           &res, "list studies", err);
    if (r == CS_OK)
        r = pg_list_rows(res, read_study, sizeof **out, &v, n, "list studies", err);
    *out = v;
    PQclear(res);
    pthread_mutex_unlock(&q->lock);
    return r;
}

static cs_status pg_study_assign(cs_store *s, const char *study, const char *reader, bool *found,
                                 cs_error *err)
{
    pg_store *q = PGQ(s);
    int changes = 0;
    pthread_mutex_lock(&q->lock);
    cs_status r = pg_run(q, "UPDATE studies SET assigned_reader = $1 WHERE id = $2", &changes, err,
                         pg_text(reader), pg_text(study));
    pthread_mutex_unlock(&q->lock);
    *found = r == CS_OK && changes > 0;
    return r;
}

static cs_status pg_frame_views(cs_store *s, const char *study, uint64_t from_seq,
                                cs_frame_view *out, size_t cap, size_t *n, cs_error *err)
{
    pg_store *q = PGQ(s);
    PGresult *res = NULL;
    *n = 0;
    if (cap == 0)
        return CS_OK;
    pthread_mutex_lock(&q->lock);
    cs_status r = pg_query(q,
                           "SELECT seq, frame_index, capture_time_us, ok, readable, blurry,"
                           " bleeding, redundant, bleeding_probability, mean_rgb, payload_offset,"
                           " payload_len, polyp, polyp_flag, boxes FROM frames WHERE study = $1"
                           " AND seq >= $2 ORDER BY seq LIMIT $3",
                           &res, "list frame views", err, pg_text(study), pg_i64(cap_i64(from_seq)),
                           pg_i64(cap_i64(cap)));
    for (int i = 0; r == CS_OK && i < PQntuples(res) && *n < cap; i++) {
        cs_frame_view *v = &out[(*n)++];
        v->seq = (uint64_t)pg_col_i64(res, i, 0);
        v->frame_index = pg_col_null(res, i, 1) ? -1 : pg_col_i64(res, i, 1);
        v->capture_time_us = pg_col_null(res, i, 2) ? -1 : pg_col_i64(res, i, 2);
        v->ok = pg_col_i64(res, i, 3) != 0;
        v->readable = pg_col_i64(res, i, 4) != 0;
        v->blurry = pg_col_i64(res, i, 5) != 0;
        v->bleeding = pg_col_i64(res, i, 6) != 0;
        v->redundant = pg_col_i64(res, i, 7) != 0;
        v->bleeding_probability = (float)pg_col_f64(res, i, 8);
        v->mean_rgb = (uint32_t)pg_col_i64(res, i, 9);
        v->payload_offset = (uint64_t)pg_col_i64(res, i, 10);
        v->payload_len = (uint32_t)pg_col_i64(res, i, 11);
        v->has_polyp = !pg_col_null(res, i, 12);
        v->polyp_probability = v->has_polyp ? (float)pg_col_f64(res, i, 12) : 0.0f;
        v->polyp = pg_col_i64(res, i, 13) != 0;
        /* Text longer than the view holds is dropped whole (as SQLite's). */
        const char *bx = pg_col_null(res, i, 14) ? "" : PQgetvalue(res, i, 14);
        size_t bl = strlen(bx);
        if (bl < sizeof v->boxes)
            memcpy(v->boxes, bx, bl + 1);
        else
            v->boxes[0] = '\0';
    }
    PQclear(res);
    pthread_mutex_unlock(&q->lock);
    return r;
}

static const cs_store_ops PG_OPS = {
    .close = pg_close,
    .ping = pg_ping,
    .study_create = pg_study_create,
    .study_get = pg_study_get,
    .study_patient_set = pg_study_patient_set,
    .course_create = pg_course_create,
    .course_get = pg_course_get,
    .courses_list = pg_courses_list,
    .case_create = pg_case_create,
    .case_get = pg_case_get,
    .cases_list = pg_cases_list,
    .attempt_open = pg_attempt_open,
    .attempt_get = pg_attempt_get,
    .attempt_answer = pg_attempt_answer,
    .attempt_submit = pg_attempt_submit,
    .attempts_list = pg_attempts_list,
    .reading_add = pg_reading_add,
    .reading_list = pg_reading_list,
    .enrol = pg_enrol,
    .device_study = pg_device_study,
    .devices_revoke = pg_devices_revoke,
    .upload_create = pg_upload_create,
    .upload_get = pg_upload_get,
    .upload_update = pg_upload_update,
    .upload_list = pg_upload_list,
    .study_touch = pg_study_touch,
    .frames_add = pg_frames_add,
    .study_set_ingest = pg_study_set_ingest,
    .study_counts = pg_study_counts,
    .polyp_settings = pg_polyp_settings,
    .worklist_facts = pg_worklist_facts,
    .study_frames = pg_study_frames,
    .studies_pending = pg_studies_pending,
    .studies_list = pg_studies_list,
    .study_assign = pg_study_assign,
    .user_add = pg_user_add,
    .user_get = pg_user_get,
    .user_update = pg_user_update,
    .user_list = pg_user_list,
    .session_create = pg_session_create,
    .session_get = pg_session_get,
    .session_touch = pg_session_touch,
    .session_delete = pg_session_delete,
    .sessions_purge = pg_sessions_purge,
    .audit_append = pg_audit_append,
    .audit_query = pg_audit_query,
    .frame_views = pg_frame_views,
    .finding_create = pg_finding_create,
    .finding_update = pg_finding_update,
    .finding_delete = pg_finding_delete,
    .findings_list = pg_findings_list,
    .finding_history = pg_finding_history,
    .mark_set = pg_mark_set,
    .mark_add = pg_mark_add,
    .mark_delete = pg_mark_delete,
    .marks_list = pg_marks_list,
    .report_get = pg_report_get,
    .report_save = pg_report_save,
    .report_sign = pg_report_sign,
    .report_signed = pg_report_signed,
    .report_sign_checked = pg_report_sign_checked,
    .report_basis = pg_report_basis,
    .addendum_add = pg_addendum_add,
    .addenda_list = pg_addenda_list,
    .study_close = pg_study_close,
    .upload_update_checked = pg_upload_update_checked,
    .upload_create_checked = pg_upload_create_checked,
    .user_update_checked = pg_user_update_checked,
    .hub_status_put = pg_hub_status_put,
    .hub_status_get = pg_hub_status_get,
    .hub_status_list = pg_hub_status_list,
    .study_protocol_set = pg_study_protocol_set,
    .study_protocol_get = pg_study_protocol_get,
    .alert_raise = pg_alert_raise,
    .alerts_list = pg_alerts_list,
    .alerts_open = pg_alerts_open,
    .pacs_enqueue_unrequested = pg_pacs_enqueue_unrequested,
    .alert_ack = pg_alert_ack,
    .alerts_due = pg_alerts_due,
    .alert_delivery = pg_alert_delivery,
    .alert_claim = pg_alert_claim,
    .pacs_enqueue = pg_pacs_enqueue,
    .pacs_get = pg_pacs_get,
    .pacs_due = pg_pacs_due,
    .pacs_record = pg_pacs_record,
    .pacs_claim = pg_pacs_claim,
    .patient_code_set = pg_patient_code_set,
    .patient_study = pg_patient_study,
    .prep_tick = pg_prep_tick,
    .prep_ticks = pg_prep_ticks,
    .login_counts = pg_login_counts,
    .login_failed = pg_login_failed,
    .login_refused = pg_login_refused,
    .login_cleared = pg_login_cleared,
    .login_take_burst = pg_login_take_burst,
    .upload_lease_take = pg_upload_lease_take,
    .upload_lease_beat = pg_upload_lease_beat,
    .upload_lease_drop = pg_upload_lease_drop,
    .upload_lease_held = pg_upload_lease_held,
    .ingest_claim = pg_ingest_claim,
    .ingest_unclaim = pg_ingest_unclaim,
    .notify = pg_notify,
    .listen = pg_listen,
};

/* Notices (e.g. "relation exists, skipping") are not errors and must not
 * reach stderr from below main(). */
static void quiet_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

cs_status cs_store_pg_open(const char *url, cs_store **out, cs_error *err)
{
    pg_store *q = calloc(1, sizeof *q);
    if (!q)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory opening the store");
    q->base.ops = &PG_OPS;
    pthread_mutex_init(&q->lock, NULL);
    /* expand_dbname: the URL carries host, port, database, user and any
     * libpq option; the password may come from ~/.pgpass or PGPASSFILE
     * rather than the URL. */
    const char *const keys[] = {"dbname", "fallback_application_name", NULL};
    const char *const vals[] = {url, "capscreen", NULL};
    q->conn = PQconnectdbParams(keys, vals, 1);
    cs_status r = CS_OK;
    if (!q->conn) {
        r = cs_error_set(err, CS_ERR_NOMEM, "out of memory connecting to PostgreSQL");
        goto fail;
    }
    if (PQstatus(q->conn) != CONNECTION_OK) {
        /* libpq's message names host and port, never the password. */
        r = conn_fail(q, err, "cannot connect to PostgreSQL");
        goto fail;
    }
    PQsetNoticeProcessor(q->conn, quiet_notice, NULL);
    if ((r = pg_simple(q, "SET client_min_messages = warning", "set up the session", err)) !=
            CS_OK ||
        (r = migrate(q, err)) != CS_OK)
        goto fail;
    *out = &q->base;
    return CS_OK;
fail:
    pg_close(&q->base);
    return r;
}
