/* store_fixture.h - what the store's unit tests share: a store of its own
 * per test, raw SQL for what the store's interface cannot do, and small
 * builders. Header-only (each test is one executable built from one .c
 * file).
 *
 * Backends: SQLite in a fresh temporary folder by default. With
 * CS_TEST_PG=1 (tests/lib/with-pg.sh sets it, with libpq's PGHOST, PGPORT
 * and PGUSER pointing at a throwaway server it started), each test gets a
 * fresh PostgreSQL database of its own, dropped at the end, and the same
 * assertions run against the PostgreSQL backend. Raw SQL given to fx_sql*
 * must be valid on both (quote "user"; no SQLite-only syntax), or be
 * chosen by fx_pg(). */
#ifndef CS_TEST_STORE_FIXTURE_H
#define CS_TEST_STORE_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <libpq-fe.h>
#include <sqlite3.h>

#include "capscreen/store.h"

typedef struct fx {
    char dir[256], db[300]; /* the folder, and SQLite's capscreen.db in it */
    char pgname[64];        /* PostgreSQL: this test's schema; "" on SQLite */
    char url[160];          /* its postgresql:// URL (host etc. from PG* variables) */
    cs_store *s;
} fx;

/* Whether this run is against PostgreSQL. */
static inline bool fx_pg(void)
{
    const char *v = getenv("CS_TEST_PG");
    return v && strcmp(v, "1") == 0;
}

static inline void fx_pg_quiet(void *arg, const char *message)
{
    (void)arg;
    (void)message; /* "drop cascades to ..." */
}

/* A statement on the server's maintenance database (CREATE/DROP SCHEMA). */
static inline void fx_pg_admin(const char *sql)
{
    PGconn *c = PQconnectdb("dbname=postgres");
    if (PQstatus(c) != CONNECTION_OK)
        fail_msg("CS_TEST_PG=1 but no PostgreSQL answers (PGHOST=%s PGPORT=%s): %s",
                 getenv("PGHOST") ? getenv("PGHOST") : "", getenv("PGPORT") ? getenv("PGPORT") : "",
                 PQerrorMessage(c));
    PQsetNoticeProcessor(c, fx_pg_quiet, NULL);
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
}

/* A fresh folder (and, on PostgreSQL, a fresh empty schema). */
static inline void fx_make_dir(fx *f)
{
    static unsigned counter;
    snprintf(f->dir, sizeof f->dir, "%s/cs-store-XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->db, sizeof f->db, "%s/capscreen.db", f->dir);
    f->pgname[0] = f->url[0] = '\0';
    if (fx_pg()) {
        char sql[128];
        snprintf(f->pgname, sizeof f->pgname, "cs_t_%ld_%u", (long)getpid(), counter++);
        snprintf(sql, sizeof sql, "CREATE SCHEMA %s", f->pgname);
        fx_pg_admin(sql);
        snprintf(f->url, sizeof f->url, "postgresql:///postgres?options=-csearch_path%%3D%s",
                 f->pgname);
    }
}

/* Open f's store (either backend) into *s. */
static inline cs_status fx_open_store(const fx *f, cs_store **s, cs_error *e)
{
    return cs_store_open_db(f->url[0] ? f->url : NULL, f->dir, s, e);
}

static inline int fx_open(void **state)
{
    fx *f = calloc(1, sizeof *f);
    cs_error e = {0};
    if (!f)
        return -1;
    fx_make_dir(f);
    if (fx_open_store(f, &f->s, &e) != CS_OK) {
        print_error("opening the store: %s\n", e.msg);
        return -1;
    }
    *state = f;
    return 0;
}

/* Close the store and remove its folder (and its schema). */
static inline int fx_remove(fx *f)
{
    char path[320];
    cs_store_close(f->s);
    f->s = NULL;
    const char *sfx[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s%s", f->db, sfx[i]);
        unlink(path);
    }
    if (f->pgname[0]) {
        char sql[128];
        snprintf(sql, sizeof sql, "DROP SCHEMA %s CASCADE", f->pgname);
        fx_pg_admin(sql);
    }
    return rmdir(f->dir);
}

static inline int fx_close(void **state)
{
    fx *f = *state;
    int r = fx_remove(f);
    free(f);
    return r;
}

/* Run `sql` (one or more statements) on a second connection to f's
 * database. Returns true when it succeeded; on failure the backend's
 * message goes to msg[cap] (may be NULL). */
static inline bool fx_sql_try(const fx *f, const char *sql, char *msg, size_t cap)
{
    bool ok;
    if (f->url[0]) {
        PGconn *c = PQconnectdb(f->url);
        assert_int_equal(PQstatus(c), CONNECTION_OK);
        PGresult *r = PQexec(c, sql);
        ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
        if (!ok && msg)
            snprintf(msg, cap, "%s", PQerrorMessage(c));
        PQclear(r);
        PQfinish(c);
        return ok;
    }
    sqlite3 *db = NULL;
    char *m = NULL;
    assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    ok = sqlite3_exec(db, sql, NULL, NULL, &m) == SQLITE_OK;
    if (!ok && msg)
        snprintf(msg, cap, "%s", m ? m : "?");
    sqlite3_free(m);
    sqlite3_close(db);
    return ok;
}

static inline void fx_sql(const fx *f, const char *sql)
{
    char msg[512];
    if (!fx_sql_try(f, sql, msg, sizeof msg))
        fail_msg("%s: %s", sql, msg);
}

/* The first row of `sql`: its first n columns as integers (NULL: -1). */
static inline void fx_sql_row(const fx *f, const char *sql, int64_t *v, int n)
{
    if (f->url[0]) {
        PGconn *c = PQconnectdb(f->url);
        assert_int_equal(PQstatus(c), CONNECTION_OK);
        PGresult *r = PQexec(c, sql);
        if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) < 1 || PQnfields(r) < n)
            fail_msg("%s: %s", sql, PQerrorMessage(c));
        for (int i = 0; i < n; i++)
            v[i] = PQgetisnull(r, 0, i) ? -1 : strtoll(PQgetvalue(r, 0, i), NULL, 10);
        PQclear(r);
        PQfinish(c);
        return;
    }
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(db));
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    for (int i = 0; i < n; i++)
        v[i] = sqlite3_column_type(st, i) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, i);
    sqlite3_finalize(st);
    sqlite3_close(db);
}

static inline int64_t fx_sql_scalar(const fx *f, const char *sql)
{
    int64_t v = 0;
    fx_sql_row(f, sql, &v, 1);
    return v;
}

/* Close f's store, undo later migrations by hand (`undo`: their changes and
 * their schema_version rows) and open it again: those migrations run once
 * more, up to CS_STORE_SCHEMA_VERSION. */
static inline void fx_migrate_again(fx *f, const char *undo)
{
    cs_error e = {0};
    cs_store_close(f->s);
    f->s = NULL;
    fx_sql(f, undo);
    assert_int_equal(fx_open_store(f, &f->s, &e), CS_OK);
    assert_int_equal(fx_sql_scalar(f, "SELECT MAX(version) FROM schema_version"),
                     CS_STORE_SCHEMA_VERSION);
}

static inline void fx_study(cs_store *s, const char *id, int64_t created_at)
{
    cs_study_rec r;
    cs_error e = {0};
    char code[64];
    memset(&r, 0, sizeof r);
    snprintf(r.id, sizeof r.id, "%s", id);
    snprintf(r.label, sizeof r.label, "label of %s", id);
    r.created_at = created_at;
    r.code_expires_at = created_at + 3600;
    snprintf(code, sizeof code, "code-%s", id);
    assert_int_equal(cs_store_study_create(s, &r, code, &e), CS_OK);
}

static inline void fx_upload(cs_store *s, const char *id, const char *study, int64_t length,
                             uint64_t offset, cs_upload_state state)
{
    cs_upload_rec u;
    cs_error e = {0};
    memset(&u, 0, sizeof u);
    snprintf(u.id, sizeof u.id, "%s", id);
    snprintf(u.study, sizeof u.study, "%s", study);
    u.length = length;
    u.offset = offset;
    u.state = state;
    u.created_at = u.updated_at = 100;
    u.expires_at = 100000;
    u.checksum_base = -1;
    assert_int_equal(cs_store_upload_create(s, &u, &e), CS_OK);
}

static inline void fx_user(cs_store *s, const char *name, const char *role)
{
    cs_user_rec u;
    cs_error e = {0};
    bool exists = true;
    memset(&u, 0, sizeof u);
    snprintf(u.name, sizeof u.name, "%s", name);
    snprintf(u.role, sizeof u.role, "%s", role);
    snprintf(u.pw_hash, sizeof u.pw_hash, "$argon2id$hash-of-%s", name);
    u.created_at = 50;
    assert_int_equal(cs_store_user_add(s, &u, &exists, &e), CS_OK);
    assert_false(exists);
}

#endif
