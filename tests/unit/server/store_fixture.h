/* store_fixture.h - what the store's unit tests share: a store in a fresh
 * temporary folder, a raw second connection for what the store's
 * interface cannot do, and small builders. Header-only (each test is one
 * executable built from one .c file). */
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
#include <sqlite3.h>

#include "capscreen/store.h"

typedef struct fx {
    char dir[256], db[300];
    cs_store *s;
} fx;

static inline void fx_make_dir(fx *f)
{
    snprintf(f->dir, sizeof f->dir, "%s/cs-store-XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->db, sizeof f->db, "%s/capscreen.db", f->dir);
}

static inline int fx_open(void **state)
{
    fx *f = calloc(1, sizeof *f);
    cs_error e = {0};
    if (!f)
        return -1;
    fx_make_dir(f);
    if (cs_store_open(f->dir, &f->s, &e) != CS_OK)
        return -1;
    *state = f;
    return 0;
}

/* Close the store and remove its folder. */
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
    return rmdir(f->dir);
}

static inline int fx_close(void **state)
{
    fx *f = *state;
    int r = fx_remove(f);
    free(f);
    return r;
}

static inline sqlite3 *fx_raw(const fx *f)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    return db;
}

static inline int64_t fx_scalar(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static inline void fx_exec(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK)
        fail_msg("%s: %s", sql, msg ? msg : "?");
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
