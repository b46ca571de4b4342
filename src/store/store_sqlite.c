/* store_sqlite.c - the SQLite backend of the metadata store: one
 * connection in WAL mode at DATA/capscreen.db, calls serialised by a
 * mutex, each call one transaction. Routine checkpoints (which fsync) never run
 * under that mutex: automatic checkpoints are off and a thread of its own,
 * with its own connection, runs a passive checkpoint every CKPT_MS (and,
 * rarely, a truncating one under the mutex: see checkpointer()). The
 * reading workstation's calls live in store_sqlite_ws.c. */
#include "store/store_sqlite.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define CKPT_MS 1000
/* WAL frames (pages) past which the checkpointer truncates the WAL. */
#define CKPT_TRUNCATE_FRAMES 65536

#define SQ_MIGRATION_5                                                             \
    "ALTER TABLE studies ADD COLUMN nhs_number TEXT NOT NULL DEFAULT '';"          \
    "ALTER TABLE studies ADD COLUMN family TEXT NOT NULL DEFAULT '';"              \
    "ALTER TABLE studies ADD COLUMN given TEXT NOT NULL DEFAULT '';"               \
    "ALTER TABLE studies ADD COLUMN birth_date TEXT NOT NULL DEFAULT '';"          \
    "ALTER TABLE studies ADD COLUMN sex TEXT NOT NULL DEFAULT '';"                 \
    "ALTER TABLE studies ADD COLUMN pathway TEXT NOT NULL DEFAULT '';"             \
    "ALTER TABLE studies ADD COLUMN indication TEXT NOT NULL DEFAULT '';"          \
    "ALTER TABLE studies ADD COLUMN indication_detail TEXT NOT NULL DEFAULT '';"   \
    "ALTER TABLE studies ADD COLUMN referrer TEXT NOT NULL DEFAULT '';"            \
    "CREATE INDEX studies_nhs ON studies(nhs_number) WHERE nhs_number <> '';"      \
    "ALTER TABLE findings ADD COLUMN segment TEXT NOT NULL DEFAULT '';"            \
    "ALTER TABLE findings ADD COLUMN morphology TEXT NOT NULL DEFAULT '';"         \
    "ALTER TABLE findings ADD COLUMN count INTEGER NOT NULL DEFAULT 1;"            \
    "ALTER TABLE findings ADD COLUMN suspected_cancer INTEGER NOT NULL DEFAULT 0;" \
    "ALTER TABLE finding_history ADD COLUMN segment TEXT NOT NULL DEFAULT '';"     \
    "ALTER TABLE finding_history ADD COLUMN morphology TEXT NOT NULL DEFAULT '';"  \
    "ALTER TABLE finding_history ADD COLUMN count INTEGER NOT NULL DEFAULT 1;"     \
    "ALTER TABLE finding_history ADD COLUMN suspected_cancer INTEGER NOT NULL DEFAULT 0;"

/* Schema 5: the patient and episode columns, in cs_patient_rec then
 * cs_episode_rec order. */
#define SQ_PATIENT_COLS                                                \
    "nhs_number, family, given, birth_date, sex, pathway, indication," \
    " indication_detail, referrer"

/* Migrations, applied in order; schema_version holds how many ran. */
static const char *const MIGRATIONS[] = {
    "CREATE TABLE studies ("
    " id TEXT PRIMARY KEY, label TEXT NOT NULL DEFAULT '', created_at INTEGER NOT NULL,"
    " code_hash TEXT UNIQUE, code_expires_at INTEGER NOT NULL, code_used_at INTEGER NOT NULL "
    "DEFAULT 0,"
    " ingest_offset INTEGER NOT NULL DEFAULT 0, next_seq INTEGER NOT NULL DEFAULT 0,"
    " first_byte_ms INTEGER NOT NULL DEFAULT 0, last_byte_ms INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE devices ("
    " token_hash TEXT PRIMARY KEY, study TEXT NOT NULL REFERENCES studies(id),"
    " created_at INTEGER NOT NULL, revoked_at INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX devices_study ON devices(study);"
    "CREATE TABLE uploads ("
    " n INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE,"
    " study TEXT NOT NULL REFERENCES studies(id), length INTEGER NOT NULL,"
    " offset INTEGER NOT NULL DEFAULT 0, state INTEGER NOT NULL DEFAULT 0,"
    " created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, expires_at INTEGER NOT NULL,"
    " checksum_base INTEGER NOT NULL DEFAULT -1, metadata TEXT NOT NULL DEFAULT '');"
    "CREATE INDEX uploads_study ON uploads(study, n);"
    "CREATE TABLE frames ("
    " study TEXT NOT NULL REFERENCES studies(id), seq INTEGER NOT NULL,"
    " frame_index INTEGER, capture_time_us INTEGER, ok INTEGER NOT NULL,"
    " status TEXT NOT NULL, error TEXT, bleeding_probability REAL, bleeding INTEGER,"
    " exposure TEXT, sharpness REAL, visibility REAL, readable INTEGER, blurry INTEGER,"
    " width INTEGER, height INTEGER, PRIMARY KEY (study, seq)) WITHOUT ROWID;",
    /* 2: the reading workstation (docs/workstation.md). Frames learn where
     * their JPEG lies in the study stream; studies get a reader. The audit
     * log refuses UPDATE, DELETE and INSERT OR REPLACE in the schema itself,
     * so no code path (ours or a hand-run sqlite3) can rewrite it. Findings
     * and reports keep every version: finding_history holds a full snapshot
     * per version (the current one included), report_history the replaced
     * ones. */
    "ALTER TABLE frames ADD COLUMN payload_offset INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE frames ADD COLUMN payload_len INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE frames ADD COLUMN mean_rgb INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE frames ADD COLUMN redundant INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE studies ADD COLUMN assigned_reader TEXT NOT NULL DEFAULT '';"
    "CREATE INDEX studies_created ON studies(created_at DESC, id);"
    "CREATE TABLE users ("
    " name TEXT PRIMARY KEY, role TEXT NOT NULL, pw_hash TEXT NOT NULL,"
    " created_at INTEGER NOT NULL, disabled INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE sessions ("
    " id_hash TEXT PRIMARY KEY, user TEXT NOT NULL, csrf TEXT NOT NULL,"
    " ip TEXT NOT NULL DEFAULT '', created_at INTEGER NOT NULL, last_seen INTEGER NOT NULL);"
    "CREATE INDEX sessions_user ON sessions(user);"
    "CREATE TABLE audit ("
    " n INTEGER PRIMARY KEY AUTOINCREMENT, at_ms INTEGER NOT NULL,"
    " user TEXT NOT NULL DEFAULT '', role TEXT NOT NULL DEFAULT '', action TEXT NOT NULL,"
    " study TEXT NOT NULL DEFAULT '', detail TEXT NOT NULL DEFAULT '',"
    " ip TEXT NOT NULL DEFAULT '');"
    "CREATE INDEX audit_study ON audit(study, n);"
    "CREATE INDEX audit_user ON audit(user, n);"
    "CREATE INDEX audit_action ON audit(action, n);"
    "CREATE INDEX audit_at ON audit(at_ms);"
    "CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit"
    " BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;"
    "CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit"
    " BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;"
    /* REPLACE deletes the old row without firing DELETE triggers. */
    "CREATE TRIGGER audit_no_replace BEFORE INSERT ON audit"
    " WHEN EXISTS (SELECT 1 FROM audit WHERE n = NEW.n)"
    " BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;"
    "CREATE TABLE findings ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT, study TEXT NOT NULL REFERENCES studies(id),"
    " seq_from INTEGER NOT NULL, seq_to INTEGER NOT NULL, type TEXT NOT NULL,"
    " note TEXT NOT NULL DEFAULT '', size_mm REAL NOT NULL DEFAULT -1,"
    " version INTEGER NOT NULL, deleted INTEGER NOT NULL DEFAULT 0,"
    " created_by TEXT NOT NULL, created_at_ms INTEGER NOT NULL,"
    " updated_by TEXT NOT NULL, updated_at_ms INTEGER NOT NULL);"
    "CREATE INDEX findings_study ON findings(study, seq_from, id);"
    "CREATE TABLE finding_history ("
    " id INTEGER NOT NULL REFERENCES findings(id), study TEXT NOT NULL,"
    " seq_from INTEGER NOT NULL, seq_to INTEGER NOT NULL, type TEXT NOT NULL,"
    " note TEXT NOT NULL, size_mm REAL NOT NULL, version INTEGER NOT NULL,"
    " deleted INTEGER NOT NULL, created_by TEXT NOT NULL, created_at_ms INTEGER NOT NULL,"
    " updated_by TEXT NOT NULL, updated_at_ms INTEGER NOT NULL,"
    " PRIMARY KEY (id, version)) WITHOUT ROWID;"
    "CREATE TABLE marks ("
    " study TEXT NOT NULL REFERENCES studies(id), kind TEXT NOT NULL, key TEXT NOT NULL,"
    " value TEXT NOT NULL DEFAULT '', seq INTEGER NOT NULL DEFAULT -1,"
    " set_by TEXT NOT NULL, at_ms INTEGER NOT NULL,"
    " PRIMARY KEY (study, kind, key)) WITHOUT ROWID;"
    "CREATE TABLE reports ("
    " study TEXT PRIMARY KEY REFERENCES studies(id), state TEXT NOT NULL,"
    " content TEXT NOT NULL, version INTEGER NOT NULL,"
    " updated_by TEXT NOT NULL, updated_at_ms INTEGER NOT NULL,"
    " signed_by TEXT NOT NULL DEFAULT '', signed_at_ms INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE report_history ("
    " study TEXT NOT NULL REFERENCES studies(id), version INTEGER NOT NULL,"
    " state TEXT NOT NULL, content TEXT NOT NULL,"
    " updated_by TEXT NOT NULL, updated_at_ms INTEGER NOT NULL,"
    " PRIMARY KEY (study, version)) WITHOUT ROWID;",
    /* 3: the store stays honest at scale (issue 14). Each study row keeps
     * its frame counters, moved by the frame calls in the transaction that
     * stores the frames, so the worklist never scans the frames table; the
     * existing frames are counted once here. Frames get the polyp model's
     * probability (NULL: not computed) and decision, and the boxes of the
     * flagged findings (compact JSON text, NULL: none); studies can be
     * closed. */
    "ALTER TABLE frames ADD COLUMN polyp REAL;"
    "ALTER TABLE frames ADD COLUMN polyp_flag INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE frames ADD COLUMN boxes TEXT;"
    "ALTER TABLE studies ADD COLUMN n_frames INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE studies ADD COLUMN n_ok INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE studies ADD COLUMN n_readable INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE studies ADD COLUMN n_bleeding INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE studies ADD COLUMN n_too_dark INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE studies ADD COLUMN n_too_bright INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE studies ADD COLUMN n_blurry INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE studies ADD COLUMN n_polyp INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE studies ADD COLUMN last_capture_time_us INTEGER;"
    "ALTER TABLE studies ADD COLUMN closed_at_ms INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE studies ADD COLUMN closed_by TEXT NOT NULL DEFAULT '';"
    "UPDATE studies SET (n_frames, n_ok, n_readable, n_bleeding, n_too_dark, n_too_bright,"
    " n_blurry, n_polyp, last_capture_time_us) = (SELECT " SQ_FRAME_AGG
    " FROM frames f WHERE f.study = studies.id);",
    /* 4: the live care loop (issue 8, docs/care.md). Each study keeps the
     * care protocol in force (JSON text) and its hub's last health report;
     * alerts are raised once per (study, kind, key), so rules that fire
     * again after a restart add nothing, and carry their webhook delivery
     * state (the outbox). */
    "ALTER TABLE studies ADD COLUMN protocol TEXT;"
    "CREATE TABLE hub_status ("
    " study TEXT PRIMARY KEY REFERENCES studies(id), at_ms INTEGER NOT NULL,"
    " battery_pct INTEGER NOT NULL, signal_dbm INTEGER NOT NULL,"
    " spool_used_pct INTEGER NOT NULL, recorder TEXT NOT NULL, message TEXT NOT NULL)"
    " WITHOUT ROWID;"
    "CREATE TABLE alerts ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT, study TEXT NOT NULL REFERENCES studies(id),"
    " kind TEXT NOT NULL, key TEXT NOT NULL, raised_at_ms INTEGER NOT NULL,"
    " message TEXT NOT NULL, acked_by TEXT NOT NULL DEFAULT '',"
    " acked_at_ms INTEGER NOT NULL DEFAULT 0, delivered_at_ms INTEGER NOT NULL DEFAULT 0,"
    " attempts INTEGER NOT NULL DEFAULT 0, next_attempt_ms INTEGER NOT NULL DEFAULT 0,"
    " UNIQUE (study, kind, key));"
    "CREATE INDEX alerts_outbox ON alerts (next_attempt_ms) WHERE delivered_at_ms = 0;"
    /* the patient's companion page: its code (hashed) and the prep steps
     * ticked */
    "ALTER TABLE studies ADD COLUMN patient_code_hash TEXT;"
    "ALTER TABLE studies ADD COLUMN patient_code_expires_at INTEGER NOT NULL DEFAULT 0;"
    "CREATE UNIQUE INDEX studies_patient_code ON studies (patient_code_hash)"
    " WHERE patient_code_hash IS NOT NULL;"
    "CREATE TABLE prep_ticks ("
    " study TEXT NOT NULL REFERENCES studies(id), step TEXT NOT NULL,"
    " at_ms INTEGER NOT NULL, PRIMARY KEY (study, step)) WITHOUT ROWID;",
    /* 5: the clinical record (issue 9, docs/clinical-record.md). Studies
     * carry the patient and the episode; findings their segment, Paris
     * morphology, count and the suspected-cancer mark, in the history too. */
    SQ_MIGRATION_5,
    /* 6: reader training (issue 12, docs/training.md): courses, known-answer
     * cases (the reference taken when the case is made) and one attempt
     * per trainee and case. */
    "CREATE TABLE courses ("
    " id TEXT PRIMARY KEY, name TEXT NOT NULL, show_flags INTEGER NOT NULL,"
    " tolerance_frames INTEGER NOT NULL, standard_cases INTEGER NOT NULL,"
    " standard_sensitivity REAL NOT NULL, created_by TEXT NOT NULL,"
    " created_at_ms INTEGER NOT NULL);"
    "CREATE TABLE training_cases ("
    " id TEXT PRIMARY KEY, course TEXT NOT NULL REFERENCES courses(id),"
    " study TEXT NOT NULL REFERENCES studies(id), label TEXT NOT NULL,"
    " reference TEXT NOT NULL, created_by TEXT NOT NULL, created_at_ms INTEGER NOT NULL,"
    " UNIQUE (course, study));"
    "CREATE TABLE training_attempts ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " case_id TEXT NOT NULL REFERENCES training_cases(id), trainee TEXT NOT NULL,"
    " started_at_ms INTEGER NOT NULL, submitted_at_ms INTEGER NOT NULL DEFAULT 0,"
    " answer TEXT NOT NULL DEFAULT '{}', score TEXT NOT NULL DEFAULT '',"
    " UNIQUE (case_id, trainee));"
    "CREATE INDEX training_attempts_trainee ON training_attempts (trainee, started_at_ms);",
    /* 7: issue 9 part: PACS export queue (docs/pacs.md). One row per study:
     * the latest request and how its sending goes; the worker picks
     * those due (not sent, next attempt passed). */
    "CREATE TABLE pacs_exports ("
    " study TEXT PRIMARY KEY REFERENCES studies(id), state TEXT NOT NULL,"
    " requested_at_ms INTEGER NOT NULL, requested_by TEXT NOT NULL,"
    " attempts INTEGER NOT NULL DEFAULT 0, next_attempt_ms INTEGER NOT NULL,"
    " last_error TEXT NOT NULL DEFAULT '', instances_sent INTEGER NOT NULL DEFAULT 0,"
    " sent_at_ms INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;"
    "CREATE INDEX pacs_exports_due ON pacs_exports (next_attempt_ms) WHERE state <> 'sent';",
    /* 8: reading time (issue 12 item 6): active seconds per study, reader
     * and view, added to as the viewer reports them. */
    "CREATE TABLE reading_time ("
    " study TEXT NOT NULL REFERENCES studies(id), reader TEXT NOT NULL, view TEXT NOT NULL,"
    " seconds REAL NOT NULL DEFAULT 0, updated_at_ms INTEGER NOT NULL,"
    " PRIMARY KEY (study, reader, view)) WITHOUT ROWID;",
    /* 9 (issue 9 part): report addenda (docs/clinical-record.md). A signed
     * report changes only by an addendum, appended in id order. */
    "CREATE TABLE report_addenda ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT, study TEXT NOT NULL REFERENCES studies(id),"
    " by_user TEXT NOT NULL, at_ms INTEGER NOT NULL, reason TEXT NOT NULL,"
    " text TEXT NOT NULL);"
    "CREATE INDEX report_addenda_study ON report_addenda (study, id);",
    /* 10: several servers on one database (store.h, "several servers").
     * A SQLite store serves one process, which keeps these in memory: the
     * tables stay empty here; they exist so that both backends share
     * schema versions. */
    "CREATE TABLE login_limits ("
    " kind TEXT NOT NULL, user_name TEXT NOT NULL, ip TEXT NOT NULL,"
    " fails INTEGER NOT NULL DEFAULT 0, last_fail_ms INTEGER NOT NULL DEFAULT 0,"
    " refused INTEGER NOT NULL DEFAULT 0, first_refused_ms INTEGER NOT NULL DEFAULT 0,"
    " last_refused_ms INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (kind, user_name, ip))"
    " WITHOUT ROWID;"
    "CREATE TABLE upload_leases ("
    " upload_id TEXT PRIMARY KEY, holder TEXT NOT NULL, beat_ms INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE ingest_claims ("
    " study TEXT PRIMARY KEY, holder TEXT NOT NULL, until_ms INTEGER NOT NULL,"
    " wake INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;",
    /* 11: the polyp operating point each frame was analysed at (weights
     * CRC-32C, threshold in force); NULL for frames stored before. */
    ("ALTER TABLE frames ADD COLUMN polyp_crc INTEGER;"
     "ALTER TABLE frames ADD COLUMN polyp_threshold REAL;"),
    /* 12: a study's purpose (cs_study_rec.training). Studies imported as
     * cases before it (their case made by `capscreen study import`) are
     * training studies too. */
    CS_MIGRATION_12,
    /* 13: an index of the open alerts; see store_backend.h. */
    CS_MIGRATION_13,
    /* 14: when each mark was first made; see store_backend.h. */
    CS_MIGRATION_14,
};
#define N_MIGRATIONS ((int)(sizeof MIGRATIONS / sizeof MIGRATIONS[0]))

static cs_status migrate(sq_store *q, cs_error *err)
{
    sqlite3_stmt *st = NULL;
    int version = 0;
    if (sqlite3_exec(q->db, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);",
                     NULL, NULL, NULL) != SQLITE_OK)
        return db_fail(q, err, "create schema_version");
    if (sqlite3_prepare_v2(q->db, "SELECT MAX(version) FROM schema_version", -1, &st, NULL) !=
        SQLITE_OK)
        return db_fail(q, err, "read schema_version");
    if (sqlite3_step(st) == SQLITE_ROW)
        version = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    if (version > N_MIGRATIONS)
        return cs_error_set(err, CS_ERR_UNSUPPORTED,
                            "database schema version %d is newer than this program (%d)", version,
                            N_MIGRATIONS);
    for (int v = version; v < N_MIGRATIONS; v++) {
        char bump[96];
        snprintf(bump, sizeof bump, "INSERT INTO schema_version VALUES (%d);", v + 1);
        if (sqlite3_exec(q->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
            return db_fail(q, err, "begin migration");
        /* Another process opening the same new database may have run this
         * migration between our read and our lock: read again under it. */
        int now = 0;
        if (sqlite3_prepare_v2(q->db, "SELECT COALESCE(MAX(version), 0) FROM schema_version", -1,
                               &st, NULL) == SQLITE_OK &&
            sqlite3_step(st) == SQLITE_ROW)
            now = sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
        st = NULL;
        if (now > v) {
            sqlite3_exec(q->db, "COMMIT", NULL, NULL, NULL);
            v = now - 1; /* the loop's v++ resumes after it */
            continue;
        }
        if (sqlite3_exec(q->db, MIGRATIONS[v], NULL, NULL, NULL) != SQLITE_OK ||
            sqlite3_exec(q->db, bump, NULL, NULL, NULL) != SQLITE_OK) {
            cs_status s = db_fail(q, err, "migration");
            sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
            return s;
        }
        if (sqlite3_exec(q->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
            return db_fail(q, err, "commit migration");
    }
    return CS_OK;
}

/* FNV-1a: the cache's key hash. */
static uint64_t sql_hash(const char *sql)
{
    uint64_t h = 14695981039346656037ULL;
    for (const unsigned char *p = (const unsigned char *)sql; *p; p++)
        h = (h ^ *p) * 1099511628211ULL;
    return h;
}

cs_status sq_stmt(sq_store *q, const char *sql, sqlite3_stmt **st, cs_error *err)
{
    uint64_t h = sql_hash(sql);
    *st = NULL;
    for (size_t i = 0; i < q->ncache; i++) {
        if (q->cache[i].hash == h && strcmp(q->cache[i].sql, sql) == 0) {
            sqlite3_reset(q->cache[i].st);
            sqlite3_clear_bindings(q->cache[i].st);
            *st = q->cache[i].st;
            return CS_OK;
        }
    }
    sqlite3_stmt *nst = NULL;
    if (sqlite3_prepare_v3(q->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &nst, NULL) != SQLITE_OK)
        return db_fail(q, err, "prepare");
    if (q->ncache == SQ_STMT_CACHE) {
        /* Full (the audit query alone has 64 shapes): the oldest statement
         * no caller is stepping through makes room. */
        size_t v = 0;
        while (v < q->ncache && sqlite3_stmt_busy(q->cache[v].st))
            v++;
        if (v == q->ncache) {
            sqlite3_finalize(nst);
            return cs_error_set(err, CS_ERR_IO, "database: every cached statement is in use");
        }
        sqlite3_finalize(q->cache[v].st);
        free(q->cache[v].sql);
        memmove(&q->cache[v], &q->cache[v + 1], (q->ncache - v - 1) * sizeof q->cache[0]);
        q->ncache--;
    }
    char *key = strdup(sql);
    if (!key) {
        sqlite3_finalize(nst);
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory caching a statement");
    }
    q->cache[q->ncache++] = (sq_cached){.hash = h, .sql = key, .st = nst};
    *st = nst;
    return CS_OK;
}

void sq_stmt_cache_clear(sq_store *q)
{
    for (size_t i = 0; i < q->ncache; i++) {
        sqlite3_finalize(q->cache[i].st);
        free(q->cache[i].sql);
    }
    q->ncache = 0;
}

static void *checkpointer(void *arg)
{
    sq_store *q = arg;
    pthread_mutex_lock(&q->ckmu);
    while (!q->ckstop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += (long)CKPT_MS * 1000000L;
        ts.tv_sec += ts.tv_nsec / 1000000000L;
        ts.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&q->ckcv, &q->ckmu, &ts);
        pthread_mutex_unlock(&q->ckmu);
        /* Passive: copies what it can without waiting for (or blocking)
         * the serving connection's readers and writers. */
        int log = 0, done_frames = 0;
        (void)sqlite3_wal_checkpoint_v2(q->ckdb, NULL, SQLITE_CHECKPOINT_PASSIVE, &log,
                                        &done_frames);
        /* Under a steady stream of writes a passive checkpoint never ends
         * with the whole WAL copied, so the WAL is never restarted and
         * grows without bound (7.6 GB while bench-worklist stored 50 M
         * frames). Past CKPT_TRUNCATE_FRAMES (256 MiB of 4 KiB pages),
         * the store's calls wait once while the rest is copied and the WAL
         * truncated: its pages are mostly copied already, so the wait is
         * short, and a reader of another process makes it give up after
         * 100 ms rather than stall the server. */
        if (log > CKPT_TRUNCATE_FRAMES) {
            pthread_mutex_lock(&q->lock);
            sqlite3_busy_timeout(q->ckdb, 100);
            (void)sqlite3_wal_checkpoint_v2(q->ckdb, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
            sqlite3_busy_timeout(q->ckdb, 5000);
            pthread_mutex_unlock(&q->lock);
        }
        pthread_mutex_lock(&q->ckmu);
    }
    pthread_mutex_unlock(&q->ckmu);
    return NULL;
}

static void sq_close(cs_store *s)
{
    sq_store *q = SQ(s);
    if (q->ckstarted) {
        pthread_mutex_lock(&q->ckmu);
        q->ckstop = true;
        pthread_cond_signal(&q->ckcv);
        pthread_mutex_unlock(&q->ckmu);
        pthread_join(q->ckthread, NULL);
    }
    if (q->ckdb)
        sqlite3_close(q->ckdb);
    sq_stmt_cache_clear(q);
    if (q->db)
        sqlite3_close(q->db); /* the last connection checkpoints the rest */
    pthread_cond_destroy(&q->ckcv);
    pthread_mutex_destroy(&q->ckmu);
    pthread_mutex_destroy(&q->lock);
    free(q);
}

static cs_status sq_ping(cs_store *s, cs_error *err)
{
    sq_store *q = SQ(s);
    pthread_mutex_lock(&q->lock);
    int rc = sqlite3_exec(q->db, "SELECT COUNT(*) FROM schema_version", NULL, NULL, NULL);
    cs_status r = rc == SQLITE_OK ? CS_OK : db_fail(q, err, "ping");
    pthread_mutex_unlock(&q->lock);
    return r;
}

static cs_status sq_study_create(cs_store *s, const cs_study_rec *rec, const char *code_hash,
                                 cs_error *err)
{
    sq_store *q = SQ(s);
    sqlite3_stmt *st = NULL;
    pthread_mutex_lock(&q->lock);
    cs_status r = prep(q,
                       "INSERT INTO studies (id, label, created_at, code_hash, code_expires_at,"
                       " " SQ_PATIENT_COLS ", purpose) VALUES (?,?,?,?,?, ?,?,?,?,?,?,?,?,?, ?)",
                       &st, err);
    const cs_patient_rec *p = &rec->patient;
    const cs_episode_rec *e = &rec->episode;
    if (r == CS_OK)
        r = sq_bind(q, st, err, sq_text(rec->id), sq_text(rec->label), sq_i64(rec->created_at),
                    sq_text(code_hash), sq_i64(rec->code_expires_at), sq_text(p->nhs_number),
                    sq_text(p->family), sq_text(p->given), sq_text(p->birth_date), sq_text(p->sex),
                    sq_text(e->pathway), sq_text(e->indication), sq_text(e->indication_detail),
                    sq_text(e->referrer), sq_text(cs_study_purpose(rec)));
    if (r == CS_OK) {
        if (sqlite3_step(st) != SQLITE_DONE)
            r = db_fail(q, err, "create study");
    }
    done(st);
    pthread_mutex_unlock(&q->lock);
    return r;
}

#define STUDY_COLS                                                           \
    "id, label, created_at, code_expires_at, code_used_at, ingest_offset,"   \
    " next_seq, first_byte_ms, last_byte_ms, assigned_reader, closed_at_ms," \
    " closed_by, " SQ_PATIENT_COLS ", purpose"

static void read_study(sqlite3_stmt *st, cs_study_rec *o)
{
    memset(o, 0, sizeof *o);
    text(st, 0, o->id, sizeof o->id);
    text(st, 1, o->label, sizeof o->label);
    o->created_at = sqlite3_column_int64(st, 2);
    o->code_expires_at = sqlite3_column_int64(st, 3);
    o->code_used_at = sqlite3_column_int64(st, 4);
    o->ingest_offset = (uint64_t)sqlite3_column_int64(st, 5);
    o->next_seq = (uint64_t)sqlite3_column_int64(st, 6);
    o->first_byte_ms = sqlite3_column_int64(st, 7);
    o->last_byte_ms = sqlite3_column_int64(st, 8);
    text(st, 9, o->assigned_reader, sizeof o->assigned_reader);
    o->closed_at_ms = sqlite3_column_int64(st, 10);
    text(st, 11, o->closed_by, sizeof o->closed_by);
    text(st, 12, o->patient.nhs_number, sizeof o->patient.nhs_number);
    text(st, 13, o->patient.family, sizeof o->patient.family);
    text(st, 14, o->patient.given, sizeof o->patient.given);
    text(st, 15, o->patient.birth_date, sizeof o->patient.birth_date);
    text(st, 16, o->patient.sex, sizeof o->patient.sex);
    text(st, 17, o->episode.pathway, sizeof o->episode.pathway);
    text(st, 18, o->episode.indication, sizeof o->episode.indication);
    text(st, 19, o->episode.indication_detail, sizeof o->episode.indication_detail);
    text(st, 20, o->episode.referrer, sizeof o->episode.referrer);
    o->training = cs_study_purpose_is_training((const char *)sqlite3_column_text(st, 21));
}

static void read_study_row(sqlite3_stmt *st, void *out) { read_study(st, out); }

static cs_status sq_study_get(cs_store *s, const char *id, bool *found, cs_study_rec *out,
                              cs_error *err)
{
    return get_by_id(SQ(s), "SELECT " STUDY_COLS " FROM studies WHERE id = ?", id, read_study_row,
                     out, found, "read study", err);
}

static cs_status sq_study_patient_set(cs_store *s, const char *id, const cs_patient_rec *p,
                                      const cs_episode_rec *e, const cs_study_rec *was,
                                      cs_addendum_rec *note, bool *found, bool *stale, bool *noted,
                                      cs_error *err)
{
    sq_store *q = SQ(s);
    int changes = 0, added = 0;
    bool in_tx = false, exists = false;
    pthread_mutex_lock(&q->lock);
    cs_status r = begin(q, &in_tx, err);
    if (r == CS_OK && !was)
        r = run(q,
                "UPDATE studies SET nhs_number = ?, family = ?, given = ?, birth_date = ?,"
                " sex = ?, pathway = ?, indication = ?, indication_detail = ?, referrer = ?"
                " WHERE id = ?",
                &changes, err, sq_text(p->nhs_number), sq_text(p->family), sq_text(p->given),
                sq_text(p->birth_date), sq_text(p->sex), sq_text(e->pathway),
                sq_text(e->indication), sq_text(e->indication_detail), sq_text(e->referrer),
                sq_text(id));
    else if (r == CS_OK)
        r = run(
            q,
            "UPDATE studies SET nhs_number = ?, family = ?, given = ?, birth_date = ?,"
            " sex = ?, pathway = ?, indication = ?, indication_detail = ?, referrer = ?"
            " WHERE id = ?" CS_PATIENT_UNCHANGED_SQL("?", "?", "?", "?", "?", "?", "?", "?", "?"),
            &changes, err, sq_text(p->nhs_number), sq_text(p->family), sq_text(p->given),
            sq_text(p->birth_date), sq_text(p->sex), sq_text(e->pathway), sq_text(e->indication),
            sq_text(e->indication_detail), sq_text(e->referrer), sq_text(id),
            sq_text(was->patient.nhs_number), sq_text(was->patient.family),
            sq_text(was->patient.given), sq_text(was->patient.birth_date),
            sq_text(was->patient.sex), sq_text(was->episode.pathway),
            sq_text(was->episode.indication), sq_text(was->episode.indication_detail),
            sq_text(was->episode.referrer));
    /* Nothing changed: no such study, or (with `was`) changed meanwhile. */
    if (r == CS_OK && changes == 0 && was) {
        sqlite3_stmt *st = NULL;
        if ((r = prep(q, "SELECT 1 FROM studies WHERE id = ?", &st, err)) == CS_OK &&
            (r = sq_bind(q, st, err, sq_text(id))) == CS_OK) {
            int rc = sqlite3_step(st);
            exists = rc == SQLITE_ROW;
            if (rc != SQLITE_ROW && rc != SQLITE_DONE)
                r = db_fail(q, err, "find study");
        }
        done(st);
    }
    /* A signed report's patient was under its signature: the correction
     * is appended to it, in this transaction (store.h). */
    if (r == CS_OK && changes > 0 && note)
        r = run(q,
                "INSERT INTO report_addenda (study, by_user, at_ms, reason, text)"
                " SELECT ?1, ?2, ?3, ?4, ?5 WHERE EXISTS"
                " (SELECT 1 FROM reports WHERE study = ?1 AND state = 'signed')",
                &added, err, sq_text(id), sq_text(note->by), sq_i64(note->at_ms),
                sq_text(note->reason), sq_text(note->text));
    if (r == CS_OK && added > 0)
        note->id = sqlite3_last_insert_rowid(q->db);
    if (r == CS_OK)
        r = commit(q, &in_tx, err);
    rollback(q, in_tx);
    pthread_mutex_unlock(&q->lock);
    *found = r == CS_OK && (changes > 0 || exists);
    if (stale)
        *stale = r == CS_OK && changes == 0 && exists;
    if (noted)
        *noted = r == CS_OK && added > 0;
    return r;
}

static cs_status sq_enrol(cs_store *s, const char *code_hash, const char *token_hash, int64_t now,
                          cs_enrol_outcome *outcome, char *study, cs_error *err)
{
    sq_store *q = SQ(s);
    sqlite3_stmt *st = NULL;
    bool in_tx = false;
    *outcome = CS_ENROL_UNKNOWN;
    pthread_mutex_lock(&q->lock);
    cs_status r = CS_OK;
    if (sqlite3_exec(q->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
        r = db_fail(q, err, "begin");
        goto fail;
    }
    in_tx = true;
    if ((r = prep(q,
                  "SELECT id, code_expires_at, code_used_at, closed_at_ms FROM studies"
                  " WHERE code_hash = ?",
                  &st, err)) != CS_OK)
        goto fail;
    if ((r = sq_bind(q, st, err, sq_text(code_hash))) != CS_OK)
        goto fail;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE)
        goto fail; /* unknown */
    if (rc != SQLITE_ROW) {
        r = db_fail(q, err, "look up code");
        goto fail;
    }
    text(st, 0, study, CS_ID_MAX);
    int64_t expires = sqlite3_column_int64(st, 1), used = sqlite3_column_int64(st, 2);
    /* A closed study takes no device (its close also marked the code used). */
    if (used || sqlite3_column_int64(st, 3) != 0) {
        *outcome = CS_ENROL_USED;
        goto fail;
    }
    if (now >= expires) {
        *outcome = CS_ENROL_EXPIRED;
        goto fail;
    }
    if ((r = run(q, "UPDATE studies SET code_used_at = ? WHERE id = ?", NULL, err, sq_i64(now),
                 sq_text(study))) != CS_OK ||
        (r = run(q, "INSERT INTO devices (token_hash, study, created_at) VALUES (?,?,?)", NULL, err,
                 sq_text(token_hash), sq_text(study), sq_i64(now))) != CS_OK)
        goto fail;
    if (sqlite3_exec(q->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        r = db_fail(q, err, "commit");
        goto fail;
    }
    in_tx = false;
    *outcome = CS_ENROL_OK;
fail:
    done(st);
    if (in_tx)
        sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
    pthread_mutex_unlock(&q->lock);
    return r;
}

static cs_status sq_device_study(cs_store *s, const char *token_hash, bool *found, char *study,
                                 cs_error *err)
{
    sq_store *q = SQ(s);
    sqlite3_stmt *st = NULL;
    *found = false;
    pthread_mutex_lock(&q->lock);
    cs_status r =
        prep(q, "SELECT study FROM devices WHERE token_hash = ? AND revoked_at = 0", &st, err);
    if (r == CS_OK)
        r = sq_bind(q, st, err, sq_text(token_hash));
    if (r == CS_OK) {
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            text(st, 0, study, CS_ID_MAX);
            *found = true;
        } else if (rc != SQLITE_DONE) {
            r = db_fail(q, err, "look up device");
        }
    }
    done(st);
    pthread_mutex_unlock(&q->lock);
    return r;
}

static cs_status sq_devices_revoke(cs_store *s, const char *study, int64_t now, int *n,
                                   cs_error *err)
{
    sq_store *q = SQ(s);
    pthread_mutex_lock(&q->lock);
    cs_status r = run(q, "UPDATE devices SET revoked_at = ? WHERE study = ? AND revoked_at = 0", n,
                      err, sq_i64(now), sq_text(study));
    pthread_mutex_unlock(&q->lock);
    return r;
}

static cs_status sq_upload_create(cs_store *s, const cs_upload_rec *u, cs_error *err)
{
    sq_store *q = SQ(s);
    int64_t state = u->state, off = (int64_t)u->offset;
    pthread_mutex_lock(&q->lock);
    cs_status r = run(q,
                      "INSERT INTO uploads (id, study, length, offset, state, created_at,"
                      " updated_at, expires_at, checksum_base, metadata)"
                      " VALUES (?,?,?,?,?,?,?,?,?,?)",
                      NULL, err, sq_text(u->id), sq_text(u->study), sq_i64(u->length), sq_i64(off),
                      sq_i64(state), sq_i64(u->created_at), sq_i64(u->updated_at),
                      sq_i64(u->expires_at), sq_i64(u->checksum_base), sq_text(u->metadata));
    pthread_mutex_unlock(&q->lock);
    return r;
}

#define UPLOAD_COLS                                                         \
    "id, study, length, offset, state, created_at, updated_at, expires_at," \
    " checksum_base, metadata"

static void read_upload(sqlite3_stmt *st, cs_upload_rec *o)
{
    memset(o, 0, sizeof *o);
    text(st, 0, o->id, sizeof o->id);
    text(st, 1, o->study, sizeof o->study);
    o->length = sqlite3_column_int64(st, 2);
    o->offset = (uint64_t)sqlite3_column_int64(st, 3);
    o->state = (cs_upload_state)sqlite3_column_int(st, 4);
    o->created_at = sqlite3_column_int64(st, 5);
    o->updated_at = sqlite3_column_int64(st, 6);
    o->expires_at = sqlite3_column_int64(st, 7);
    o->checksum_base = sqlite3_column_int64(st, 8);
    text(st, 9, o->metadata, sizeof o->metadata);
}

static void read_upload_row(sqlite3_stmt *st, void *out) { read_upload(st, out); }

static cs_status sq_upload_get(cs_store *s, const char *id, bool *found, cs_upload_rec *out,
                               cs_error *err)
{
    return get_by_id(SQ(s), "SELECT " UPLOAD_COLS " FROM uploads WHERE id = ?", id, read_upload_row,
                     out, found, "read upload", err);
}

static cs_status sq_upload_update(cs_store *s, const cs_upload_rec *u, cs_error *err)
{
    sq_store *q = SQ(s);
    int64_t state = u->state, off = (int64_t)u->offset;
    pthread_mutex_lock(&q->lock);
    cs_status r =
        run(q,
            "UPDATE uploads SET length = ?, offset = ?, state = ?, updated_at = ?,"
            " expires_at = ?, checksum_base = ? WHERE id = ?",
            NULL, err, sq_i64(u->length), sq_i64(off), sq_i64(state), sq_i64(u->updated_at),
            sq_i64(u->expires_at), sq_i64(u->checksum_base), sq_text(u->id));
    pthread_mutex_unlock(&q->lock);
    return r;
}

static cs_status sq_upload_list(cs_store *s, const char *study, bool only_open, cs_upload_rec **out,
                                size_t *n, cs_error *err)
{
    sq_store *q = SQ(s);
    sqlite3_stmt *st = NULL;
    cs_upload_rec *v = NULL;
    size_t cnt = 0, cap = 0;
    *out = NULL;
    *n = 0;
    pthread_mutex_lock(&q->lock);
    cs_status r = prep(q,
                       "SELECT " UPLOAD_COLS " FROM uploads WHERE (?1 IS NULL OR study = ?1)"
                       " AND (?2 = 0 OR state = 0) ORDER BY n",
                       &st, err);
    if (r != CS_OK)
        goto fail;
    if ((r = sq_bind(q, st, err, sq_text(study), sq_i64(only_open))) != CS_OK)
        goto fail;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (cnt == cap) {
            size_t nc = cap ? cap * 2 : 8;
            cs_upload_rec *nv = realloc(v, nc * sizeof *nv);
            if (!nv) {
                r = cs_error_set(err, CS_ERR_NOMEM, "out of memory listing uploads");
                goto fail;
            }
            v = nv;
            cap = nc;
        }
        read_upload(st, &v[cnt++]);
    }
    if (rc != SQLITE_DONE) {
        r = db_fail(q, err, "list uploads");
        goto fail;
    }
    *out = v;
    *n = cnt;
    v = NULL;
fail:
    free(v);
    done(st);
    pthread_mutex_unlock(&q->lock);
    return r;
}

static cs_status sq_study_touch(cs_store *s, const char *study, int64_t now_ms, cs_error *err)
{
    sq_store *q = SQ(s);
    pthread_mutex_lock(&q->lock);
    cs_status r = run(q,
                      "UPDATE studies SET first_byte_ms = CASE first_byte_ms WHEN 0 THEN ?1"
                      " ELSE first_byte_ms END, last_byte_ms = ?1 WHERE id = ?2",
                      NULL, err, sq_i64(now_ms), sq_text(study));
    pthread_mutex_unlock(&q->lock);
    return r;
}

/* Bind frame `f` of `study` to the frame insert below. Results other
 * than the image location are bound only for ok frames (NULL otherwise),
 * as the counters count them. */
static cs_status bind_frame(sq_store *q, sqlite3_stmt *st, const char *study, const cs_frame_rec *f,
                            cs_error *err)
{
    bool ok = f->ok, polyp = ok && f->has_polyp;
    return sq_bind(
        q, st, err, sq_text(study), sq_i64((int64_t)f->seq),
        f->frame_index >= 0 ? sq_i64(f->frame_index) : sq_null(),
        f->capture_time_us >= 0 ? sq_i64(f->capture_time_us) : sq_null(), sq_i64(ok),
        sq_text(f->status ? f->status : ""), sq_text(f->error),
        ok ? sq_f64(f->bleeding_probability) : sq_null(), ok ? sq_i64(f->bleeding) : sq_null(),
        ok ? sq_text(f->exposure ? f->exposure : "") : sq_null(),
        ok ? sq_f64(f->sharpness) : sq_null(), ok ? sq_f64(f->visibility) : sq_null(),
        ok ? sq_i64(f->readable) : sq_null(), ok ? sq_i64(f->blurry) : sq_null(),
        ok ? sq_i64(f->width) : sq_null(), ok ? sq_i64(f->height) : sq_null(),
        sq_i64((int64_t)f->payload_offset), sq_i64(f->payload_len), sq_i64(f->mean_rgb),
        sq_i64(f->redundant), polyp ? sq_f64(f->polyp_probability) : sq_null(),
        sq_i64(polyp && f->polyp), ok && f->boxes && f->boxes[0] ? sq_text(f->boxes) : sq_null(),
        polyp ? sq_i64(f->polyp_weights_crc32c) : sq_null(),
        polyp ? sq_f64(f->polyp_threshold) : sq_null());
}

/* What frames add to the counters (SQ_FRAME_AGG's order). */
typedef struct frame_tally {
    int64_t n[SQ_N_COUNTERS];
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
 * the batch is about to replace (none, normally). *replaced gets how many. */
static cs_status untally_stored(sq_store *q, const char *study, uint64_t from, uint64_t to,
                                frame_tally *t, int64_t *replaced, cs_error *err)
{
    sqlite3_stmt *st = NULL;
    cs_status r = prep(q,
                       "SELECT " SQ_FRAME_AGG " FROM frames WHERE study = ?"
                       " AND seq BETWEEN ? AND ?",
                       &st, err);
    if (r == CS_OK)
        r = sq_bind(q, st, err, sq_text(study), sq_i64((int64_t)from), sq_i64((int64_t)to));
    if (r == CS_OK && sqlite3_step(st) != SQLITE_ROW)
        r = db_fail(q, err, "count replaced frames");
    if (r == CS_OK) {
        for (int i = 0; i < SQ_N_COUNTERS; i++)
            t->n[i] -= sqlite3_column_int64(st, i);
        *replaced += sqlite3_column_int64(st, 0);
    }
    done(st);
    return r;
}

/* Frames f[0..n), the study's counters and its new analysis position, one
 * transaction. */
static cs_status sq_frames_add(cs_store *s, const char *study, const cs_frame_rec *f, size_t n,
                               uint64_t ingest_offset, cs_error *err)
{
    sq_store *q = SQ(s);
    sqlite3_stmt *st = NULL;
    bool in_tx = false;
    frame_tally t;
    int64_t replaced = 0;
    if (n == 0)
        return CS_OK;
    memset(&t, 0, sizeof t);
    pthread_mutex_lock(&q->lock);
    cs_status r = CS_OK;
    if (sqlite3_exec(q->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
        r = db_fail(q, err, "begin");
        goto fail;
    }
    in_tx = true;
    /* Rows about to be replaced, one range per run of consecutive seqs
     * (a batch is one run), before they are. */
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && f[j].seq == f[j - 1].seq + 1)
            j++;
        if ((r = untally_stored(q, study, f[i].seq, f[j - 1].seq, &t, &replaced, err)) != CS_OK)
            goto fail;
        i = j;
    }
    if ((r = prep(q,
                  "INSERT OR REPLACE INTO frames (study, seq, frame_index,"
                  " capture_time_us, ok, status, error, bleeding_probability, bleeding,"
                  " exposure, sharpness, visibility, readable, blurry, width, height,"
                  " payload_offset, payload_len, mean_rgb, redundant, polyp, polyp_flag, boxes,"
                  " polyp_crc, polyp_threshold)"
                  " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                  &st, err)) != CS_OK)
        goto fail;
    for (size_t i = 0; i < n; i++) {
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        if ((r = bind_frame(q, st, study, &f[i], err)) != CS_OK)
            goto fail;
        if (sqlite3_step(st) != SQLITE_DONE) {
            r = db_fail(q, err, "store frame");
            goto fail;
        }
        tally_frame(&t, &f[i]);
    }
    done(st);
    st = NULL;
    if ((r = run(q,
                 "UPDATE studies SET ingest_offset = ?, next_seq = ?, n_frames = n_frames + ?,"
                 " n_ok = n_ok + ?, n_readable = n_readable + ?, n_bleeding = n_bleeding + ?,"
                 " n_too_dark = n_too_dark + ?, n_too_bright = n_too_bright + ?,"
                 " n_blurry = n_blurry + ?, n_polyp = n_polyp + ?,"
                 " last_capture_time_us = CASE WHEN ?11 IS NULL THEN last_capture_time_us"
                 " WHEN last_capture_time_us IS NULL OR last_capture_time_us < ?11 THEN ?11"
                 " ELSE last_capture_time_us END WHERE id = ?12",
                 NULL, err, sq_i64((int64_t)ingest_offset), sq_i64((int64_t)f[n - 1].seq + 1),
                 sq_i64(t.n[0]), sq_i64(t.n[1]), sq_i64(t.n[2]), sq_i64(t.n[3]), sq_i64(t.n[4]),
                 sq_i64(t.n[5]), sq_i64(t.n[6]), sq_i64(t.n[7]),
                 t.has_time ? sq_i64(t.max_time) : sq_null(), sq_text(study))) != CS_OK)
        goto fail;
    /* A replaced row may have held the latest capture time: recount it
     * (rare: the analysis resumes after the last stored frame). */
    if (replaced > 0 &&
        (r = run(q,
                 "UPDATE studies SET last_capture_time_us = (SELECT MAX(capture_time_us)"
                 " FROM frames WHERE study = ?1) WHERE id = ?1",
                 NULL, err, sq_text(study))) != CS_OK)
        goto fail;
    if (sqlite3_exec(q->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        r = db_fail(q, err, "commit frames");
        goto fail;
    }
    in_tx = false;
fail:
    done(st);
    if (in_tx)
        sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
    pthread_mutex_unlock(&q->lock);
    return r;
}

static cs_status sq_study_set_ingest(cs_store *s, const char *study, uint64_t ingest_offset,
                                     cs_error *err)
{
    sq_store *q = SQ(s);
    int64_t off = (int64_t)ingest_offset;
    pthread_mutex_lock(&q->lock);
    cs_status r = run(q, "UPDATE studies SET ingest_offset = ? WHERE id = ?", NULL, err,
                      sq_i64(off), sq_text(study));
    pthread_mutex_unlock(&q->lock);
    return r;
}

/* The 12 counter columns of a study (as sq_study_counts and
 * CS_WORKLIST_FACTS_SQL select them) from column `c` on. */
static void read_counts(sqlite3_stmt *st, int c, cs_study_counts *o)
{
    o->frames = (uint64_t)sqlite3_column_int64(st, c);
    o->analysed = (uint64_t)sqlite3_column_int64(st, c + 1);
    o->failed = o->frames - o->analysed;
    o->readable = (uint64_t)sqlite3_column_int64(st, c + 2);
    o->bleeding = (uint64_t)sqlite3_column_int64(st, c + 3);
    o->too_dark = (uint64_t)sqlite3_column_int64(st, c + 4);
    o->too_bright = (uint64_t)sqlite3_column_int64(st, c + 5);
    o->blurry = (uint64_t)sqlite3_column_int64(st, c + 6);
    o->polyp = (uint64_t)sqlite3_column_int64(st, c + 7);
    o->last_capture_time_us =
        sqlite3_column_type(st, c + 8) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, c + 8);
    o->uploads = sqlite3_column_int(st, c + 9);
    o->uploads_open = sqlite3_column_int(st, c + 10);
    o->bytes_received = (uint64_t)sqlite3_column_int64(st, c + 11);
}

/* The counters from the study row (schema 3) and the study's uploads
 * (a handful of rows, by the uploads_study index): no frame is read. */
static cs_status sq_study_counts(cs_store *s, const char *study, cs_study_counts *o, cs_error *err)
{
    sq_store *q = SQ(s);
    sqlite3_stmt *st = NULL;
    memset(o, 0, sizeof *o);
    o->last_capture_time_us = -1;
    pthread_mutex_lock(&q->lock);
    cs_status r = prep(q,
                       "SELECT n_frames, n_ok, n_readable, n_bleeding, n_too_dark,"
                       " n_too_bright, n_blurry, n_polyp, last_capture_time_us,"
                       " (SELECT COUNT(*) FROM uploads u WHERE u.study = ?1),"
                       " (SELECT COALESCE(SUM(state=0),0) FROM uploads u WHERE u.study = ?1),"
                       " (SELECT COALESCE(SUM(offset),0) FROM uploads u WHERE u.study = ?1)"
                       " FROM studies WHERE id = ?1",
                       &st, err);
    if (r == CS_OK)
        r = sq_bind(q, st, err, sq_text(study));
    if (r != CS_OK)
        goto fail;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE)
        goto fail; /* no such study: zeros */
    if (rc != SQLITE_ROW) {
        r = db_fail(q, err, "read study counters");
        goto fail;
    }
    read_counts(st, 0, o);
fail:
    done(st);
    pthread_mutex_unlock(&q->lock);
    return r;
}

static cs_status sq_polyp_settings(cs_store *s, const char *study, cs_polyp_setting *out,
                                   size_t cap, size_t *n, cs_error *err)
{
    sq_store *q = SQ(s);
    sqlite3_stmt *st = NULL;
    pthread_mutex_lock(&q->lock);
    cs_status r = prep(q,
                       "SELECT polyp_crc, polyp_threshold, COUNT(*), MIN(seq), MAX(seq) FROM frames"
                       " WHERE study = ? AND polyp IS NOT NULL GROUP BY polyp_crc, polyp_threshold"
                       " ORDER BY MIN(seq)",
                       &st, err);
    if (r == CS_OK)
        r = sq_bind(q, st, err, sq_text(study));
    int rc;
    while (r == CS_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n < cap) {
            cs_polyp_setting *p = &out[*n];
            p->recorded = sqlite3_column_type(st, 0) != SQLITE_NULL;
            p->weights_crc32c = (uint32_t)sqlite3_column_int64(st, 0);
            p->threshold = (float)sqlite3_column_double(st, 1);
            p->frames = (uint64_t)sqlite3_column_int64(st, 2);
            p->first_seq = (uint64_t)sqlite3_column_int64(st, 3);
            p->last_seq = (uint64_t)sqlite3_column_int64(st, 4);
        }
        ++*n;
    }
    if (r == CS_OK && rc != SQLITE_DONE)
        r = db_fail(q, err, "read the study's polyp settings");
    done(st);
    pthread_mutex_unlock(&q->lock);
    return r;
}

static void read_fact(sqlite3_stmt *st, void *out)
{
    cs_worklist_fact *f = out;
    memset(f, 0, sizeof *f);
    snprintf(f->study, sizeof f->study, "%s", (const char *)sqlite3_column_text(st, 0));
    read_counts(st, 1, &f->counts);
    const unsigned char *state = sqlite3_column_text(st, 13);
    snprintf(f->report_state, sizeof f->report_state, "%s", state ? (const char *)state : "");
    f->suspected_cancer = sqlite3_column_int(st, 14) != 0;
}

static cs_status sq_worklist_facts(cs_store *s, cs_worklist_fact **out, size_t *n, cs_error *err)
{
    return list_query(SQ(s), CS_WORKLIST_FACTS_SQL, NULL, 0, read_fact, sizeof **out, (void **)out,
                      n, "read the worklist's study facts", err);
}

static cs_status sq_study_frames(cs_store *s, const char *study, bool errors, cs_frame_brief *out,
                                 size_t cap, size_t *n, cs_error *err)
{
    sq_store *q = SQ(s);
    sqlite3_stmt *st = NULL;
    *n = 0;
    pthread_mutex_lock(&q->lock);
    cs_status r = prep(q,
                       errors ? "SELECT seq, frame_index, capture_time_us, 0, status, error FROM"
                                " frames WHERE study = ? AND ok = 0 ORDER BY seq LIMIT ?"
                              : "SELECT seq, frame_index, capture_time_us, bleeding_probability,"
                                " status, '' FROM frames WHERE study = ? AND bleeding = 1"
                                " ORDER BY seq LIMIT ?",
                       &st, err);
    if (r == CS_OK)
        r = sq_bind(q, st, err, sq_text(study),
                    sq_i64(cap > (size_t)INT64_MAX ? INT64_MAX : (int64_t)cap));
    if (r == CS_OK) {
        int rc;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW && *n < cap) {
            cs_frame_brief *b = &out[(*n)++];
            b->seq = (uint64_t)sqlite3_column_int64(st, 0);
            b->frame_index =
                sqlite3_column_type(st, 1) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 1);
            b->capture_time_us =
                sqlite3_column_type(st, 2) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 2);
            b->bleeding_probability = (float)sqlite3_column_double(st, 3);
            text(st, 4, b->status, sizeof b->status);
            text(st, 5, b->error, sizeof b->error);
        }
        if (rc != SQLITE_DONE && rc != SQLITE_ROW)
            r = db_fail(q, err, "list frames");
    }
    done(st);
    pthread_mutex_unlock(&q->lock);
    return r;
}

static cs_status sq_studies_pending(cs_store *s, char (**ids)[CS_ID_MAX], size_t *n, cs_error *err)
{
    sq_store *q = SQ(s);
    sqlite3_stmt *st = NULL;
    char(*v)[CS_ID_MAX] = NULL;
    size_t cnt = 0, cap = 0;
    *ids = NULL;
    *n = 0;
    pthread_mutex_lock(&q->lock);
    cs_status r = prep(q,
                       "SELECT s.id FROM studies s WHERE s.ingest_offset <"
                       " (SELECT COALESCE(SUM(u.offset),0) FROM uploads u WHERE u.study = s.id)"
                       " OR EXISTS (SELECT 1 FROM uploads u WHERE u.study = s.id AND u.state = 0)",
                       &st, err);
    if (r != CS_OK)
        goto fail;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (cnt == cap) {
            size_t nc = cap ? cap * 2 : 8;
            char(*nv)[CS_ID_MAX] = realloc(v, nc * sizeof *nv);
            if (!nv) {
                r = cs_error_set(err, CS_ERR_NOMEM, "out of memory listing studies");
                goto fail;
            }
            v = nv;
            cap = nc;
        }
        text(st, 0, v[cnt++], CS_ID_MAX);
    }
    if (rc != SQLITE_DONE) {
        r = db_fail(q, err, "list studies");
        goto fail;
    }
    *ids = v;
    *n = cnt;
    v = NULL;
fail:
    free(v);
    done(st);
    pthread_mutex_unlock(&q->lock);
    return r;
}

static void read_study_item(sqlite3_stmt *st, void *out) { read_study(st, out); }

static cs_status sq_studies_list(cs_store *s, cs_study_rec **out, size_t *n, cs_error *err)
{
    sq_store *q = SQ(s);
    sqlite3_stmt *st = NULL;
    *out = NULL;
    *n = 0;
    pthread_mutex_lock(&q->lock);
    cs_status r =
        prep(q, "SELECT " STUDY_COLS " FROM studies ORDER BY created_at DESC, id", &st, err);
    void *v = NULL;
    if (r == CS_OK)
        r = list_rows(q, st, read_study_item, sizeof **out, &v, n, "list studies", err);
    *out = v;
    done(st);
    pthread_mutex_unlock(&q->lock);
    return r;
}

static cs_status sq_study_assign(cs_store *s, const char *study, const char *reader, bool *found,
                                 cs_error *err)
{
    sq_store *q = SQ(s);
    int changes = 0;
    *found = false;
    pthread_mutex_lock(&q->lock);
    cs_status r = run(q, "UPDATE studies SET assigned_reader = ? WHERE id = ?", &changes, err,
                      sq_text(reader), sq_text(study));
    pthread_mutex_unlock(&q->lock);
    *found = r == CS_OK && changes > 0;
    return r;
}

static cs_status sq_frame_views(cs_store *s, const char *study, uint64_t from_seq,
                                cs_frame_view *out, size_t cap, size_t *n, cs_error *err)
{
    sq_store *q = SQ(s);
    sqlite3_stmt *st = NULL;
    *n = 0;
    if (cap == 0)
        return CS_OK;
    pthread_mutex_lock(&q->lock);
    cs_status r =
        prep(q,
             "SELECT seq, frame_index, capture_time_us, ok, readable, blurry,"
             " bleeding, redundant, bleeding_probability, mean_rgb, payload_offset,"
             " payload_len, polyp, polyp_flag, boxes FROM frames WHERE study = ? AND seq >= ?"
             " ORDER BY seq LIMIT ?",
             &st, err);
    if (r == CS_OK)
        r = sq_bind(q, st, err, sq_text(study),
                    sq_i64(from_seq > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)from_seq),
                    sq_i64((uint64_t)cap > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)cap));
    if (r == CS_OK) {
        int rc = SQLITE_DONE;
        while (*n < cap && (rc = sqlite3_step(st)) == SQLITE_ROW) {
            cs_frame_view *v = &out[(*n)++];
            v->seq = (uint64_t)sqlite3_column_int64(st, 0);
            v->frame_index =
                sqlite3_column_type(st, 1) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 1);
            v->capture_time_us =
                sqlite3_column_type(st, 2) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 2);
            v->ok = sqlite3_column_int(st, 3) != 0;
            v->readable = sqlite3_column_int(st, 4) != 0;
            v->blurry = sqlite3_column_int(st, 5) != 0;
            v->bleeding = sqlite3_column_int(st, 6) != 0;
            v->redundant = sqlite3_column_int(st, 7) != 0;
            v->bleeding_probability = (float)sqlite3_column_double(st, 8);
            v->mean_rgb = (uint32_t)sqlite3_column_int64(st, 9);
            v->payload_offset = (uint64_t)sqlite3_column_int64(st, 10);
            v->payload_len = (uint32_t)sqlite3_column_int64(st, 11);
            v->has_polyp = sqlite3_column_type(st, 12) != SQLITE_NULL;
            v->polyp_probability = v->has_polyp ? (float)sqlite3_column_double(st, 12) : 0.0f;
            v->polyp = sqlite3_column_int(st, 13) != 0;
            /* Longer text than the view holds (never written by this
             * program) is dropped whole rather than cut into bad JSON. */
            const unsigned char *bx = sqlite3_column_text(st, 14);
            size_t bl = bx ? strlen((const char *)bx) : 0;
            if (bl < sizeof v->boxes)
                memcpy(v->boxes, bx ? (const char *)bx : "", bl + 1);
            else
                v->boxes[0] = '\0';
        }
        if (*n < cap && rc != SQLITE_DONE)
            r = db_fail(q, err, "list frame views");
    }
    done(st);
    pthread_mutex_unlock(&q->lock);
    return r;
}

static const cs_store_ops SQLITE_OPS = {
    .close = sq_close,
    .ping = sq_ping,
    .study_create = sq_study_create,
    .study_get = sq_study_get,
    .study_patient_set = sq_study_patient_set,
    .enrol = sq_enrol,
    .device_study = sq_device_study,
    .devices_revoke = sq_devices_revoke,
    .upload_create = sq_upload_create,
    .upload_get = sq_upload_get,
    .upload_update = sq_upload_update,
    .upload_list = sq_upload_list,
    .study_touch = sq_study_touch,
    .frames_add = sq_frames_add,
    .study_set_ingest = sq_study_set_ingest,
    .study_counts = sq_study_counts,
    .polyp_settings = sq_polyp_settings,
    .worklist_facts = sq_worklist_facts,
    .study_frames = sq_study_frames,
    .studies_pending = sq_studies_pending,
    .studies_list = sq_studies_list,
    .study_assign = sq_study_assign,
    .user_add = sq_user_add,
    .user_get = sq_user_get,
    .user_update = sq_user_update,
    .user_list = sq_user_list,
    .session_create = sq_session_create,
    .session_get = sq_session_get,
    .session_touch = sq_session_touch,
    .session_delete = sq_session_delete,
    .sessions_purge = sq_sessions_purge,
    .audit_append = sq_audit_append,
    .audit_query = sq_audit_query,
    .frame_views = sq_frame_views,
    .finding_create = sq_finding_create,
    .finding_update = sq_finding_update,
    .finding_delete = sq_finding_delete,
    .findings_list = sq_findings_list,
    .finding_history = sq_finding_history,
    .mark_set = sq_mark_set,
    .mark_add = sq_mark_add,
    .mark_delete = sq_mark_delete,
    .marks_list = sq_marks_list,
    .report_get = sq_report_get,
    .report_save = sq_report_save,
    .report_sign = sq_report_sign,
    .report_signed = sq_report_signed,
    .report_sign_checked = sq_report_sign_checked,
    .report_basis = sq_report_basis,
    .addendum_add = sq_addendum_add,
    .addenda_list = sq_addenda_list,
    .study_close = sq_study_close,
    .upload_update_checked = sq_upload_update_checked,
    .upload_create_checked = sq_upload_create_checked,
    .user_update_checked = sq_user_update_checked,
    .hub_status_put = sq_hub_status_put,
    .hub_status_get = sq_hub_status_get,
    .hub_status_list = sq_hub_status_list,
    .study_protocol_set = sq_study_protocol_set,
    .study_protocol_get = sq_study_protocol_get,
    .alert_raise = sq_alert_raise,
    .alerts_list = sq_alerts_list,
    .alerts_open = sq_alerts_open,
    .pacs_enqueue_unrequested = sq_pacs_enqueue_unrequested,
    .alert_ack = sq_alert_ack,
    .alerts_due = sq_alerts_due,
    .alert_delivery = sq_alert_delivery,
    .alert_claim = sq_alert_claim,
    .pacs_enqueue = sq_pacs_enqueue,
    .pacs_get = sq_pacs_get,
    .pacs_due = sq_pacs_due,
    .pacs_record = sq_pacs_record,
    .pacs_claim = sq_pacs_claim,
    .patient_code_set = sq_patient_code_set,
    .patient_study = sq_patient_study,
    .prep_tick = sq_prep_tick,
    .prep_ticks = sq_prep_ticks,
    .course_create = sq_course_create,
    .course_get = sq_course_get,
    .courses_list = sq_courses_list,
    .case_create = sq_case_create,
    .case_get = sq_case_get,
    .cases_list = sq_cases_list,
    .attempt_open = sq_attempt_open,
    .attempt_get = sq_attempt_get,
    .attempt_answer = sq_attempt_answer,
    .attempt_submit = sq_attempt_submit,
    .attempts_list = sq_attempts_list,
    .reading_add = sq_reading_add,
    .reading_list = sq_reading_list,
};

cs_status cs_store_sqlite_open(const char *data_dir, cs_store **out, cs_error *err)
{
    char path[4200];
    cs_status r = CS_OK;
    sq_store *q = calloc(1, sizeof *q);
    if (!q)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory opening the store");
    q->base.ops = &SQLITE_OPS;
    pthread_mutex_init(&q->lock, NULL);
    pthread_mutex_init(&q->ckmu, NULL);
    pthread_cond_init(&q->ckcv, NULL);
    if (mkdir(data_dir, 0750) != 0 && errno != EEXIST) {
        r = cs_error_set(err, CS_ERR_IO, "cannot create data folder %s: %s", data_dir,
                         strerror(errno));
        goto fail;
    }
    snprintf(path, sizeof path, "%s/capscreen.db", data_dir);
    if (sqlite3_open_v2(path, &q->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        r = cs_error_set(err, CS_ERR_IO, "cannot open database %s: %s", path,
                         q->db ? sqlite3_errmsg(q->db) : "out of memory");
        goto fail;
    }
    sqlite3_busy_timeout(q->db, 5000);
    /* Switching a new database to WAL needs it to itself, and SQLite
     * answers BUSY at once (no busy handler) while another process opening
     * it at the same moment holds a lock: retry for up to the busy timeout. */
    int rc = SQLITE_BUSY;
    for (int tries = 0; tries < 500 && rc == SQLITE_BUSY; tries++) {
        rc = sqlite3_exec(q->db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL);
        if (rc == SQLITE_BUSY)
            sqlite3_sleep(10);
    }
    if (rc != SQLITE_OK || sqlite3_exec(q->db, "PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
                                        NULL, NULL, NULL) != SQLITE_OK) {
        r = db_fail(q, err, "set WAL mode");
        goto fail;
    }
    if ((r = migrate(q, err)) != CS_OK)
        goto fail;
    if (sqlite3_open_v2(path, &q->ckdb, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK) {
        r = cs_error_set(err, CS_ERR_IO, "cannot open database %s for checkpoints: %s", path,
                         q->ckdb ? sqlite3_errmsg(q->ckdb) : "out of memory");
        goto fail;
    }
    sqlite3_busy_timeout(q->ckdb, 5000);
    /* A connection learns that the database is in WAL mode when it first
     * reads it; until then its checkpoints do nothing (they report a log
     * of -1), so the WAL grew without bound. */
    if (sqlite3_exec(q->ckdb, "SELECT COUNT(*) FROM schema_version", NULL, NULL, NULL) !=
        SQLITE_OK) {
        r = cs_error_set(err, CS_ERR_IO, "database %s: checkpoint connection: %s", path,
                         sqlite3_errmsg(q->ckdb));
        goto fail;
    }
    sqlite3_wal_autocheckpoint(q->db, 0);
    sqlite3_wal_autocheckpoint(q->ckdb, 0);
    q->ckstarted = pthread_create(&q->ckthread, NULL, checkpointer, q) == 0;
    if (!q->ckstarted)
        sqlite3_wal_autocheckpoint(q->db, 1000); /* fall back to SQLite's own */
    *out = &q->base;
    return CS_OK;
fail:
    sq_close(&q->base);
    return r;
}
