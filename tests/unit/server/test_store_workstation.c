/* test_store_workstation.c - the metadata store's schema 2, on both
 * backends (store_fixture.h): the migration from schema 1 (SQLite's), frame views, the worklist, users and sessions,
 * the append-only audit log, findings, marks and reports. */
#include <pthread.h>

#include "store_fixture.h"

#define open_store fx_open
#define close_store fx_close
#define remove_store fx_remove
#define make_dir fx_make_dir

static void add_study(cs_store *s, const char *id, int64_t created_at)
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

/* ---- migration -------------------------------------------------------------- */

/* Schema 1 exactly as the first release created it. */
static const char SCHEMA_1[] =
    "CREATE TABLE schema_version (version INTEGER NOT NULL);"
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
    " width INTEGER, height INTEGER, PRIMARY KEY (study, seq)) WITHOUT ROWID;"
    "INSERT INTO schema_version VALUES (1);"
    "INSERT INTO studies (id, label, created_at, code_hash, code_expires_at, next_seq)"
    " VALUES ('old', 'before schema 2', 1000, 'h', 2000, 1);"
    "INSERT INTO frames (study, seq, frame_index, capture_time_us, ok, status,"
    " bleeding_probability, bleeding, exposure, sharpness, visibility, readable, blurry,"
    " width, height) VALUES ('old', 0, 7, 123456, 1, 'ok', 0.75, 1, 'ok', 0.5, 0.9, 1, 0,"
    " 320, 320);";

static void a_schema_1_database_migrates_and_keeps_its_frames(void **state)
{
    (void)state;
    fx f;
    cs_error e = {0};
    if (fx_pg())
        skip(); /* no PostgreSQL database was ever at schema 1: that backend began at 3 */
    memset(&f, 0, sizeof f);
    make_dir(&f);
    fx_sql(&f, SCHEMA_1);

    assert_int_equal(fx_open_store(&f, &f.s, &e), CS_OK);
    cs_frame_view v[4];
    size_t n = 0;
    assert_int_equal(cs_store_frame_views(f.s, "old", 0, v, 4, &n, &e), CS_OK);
    assert_int_equal(n, 1);
    assert_int_equal(v[0].seq, 0);
    assert_int_equal(v[0].frame_index, 7);
    assert_int_equal(v[0].capture_time_us, 123456);
    assert_true(v[0].ok && v[0].bleeding && v[0].readable && !v[0].blurry);
    assert_float_equal(v[0].bleeding_probability, 0.75, 1e-6);
    assert_int_equal(v[0].payload_len, 0); /* the old frame has no image location */
    assert_int_equal(v[0].payload_offset, 0);
    assert_false(v[0].redundant);
    bool found = false;
    cs_study_rec st;
    assert_int_equal(cs_store_study_get(f.s, "old", &found, &st, &e), CS_OK);
    assert_true(found);
    assert_string_equal(st.label, "before schema 2");
    assert_string_equal(st.assigned_reader, "");
    assert_int_equal(st.next_seq, 1);
    /* The new tables answer. */
    cs_user_rec *users = NULL;
    assert_int_equal(cs_store_user_list(f.s, &users, &n, &e), CS_OK);
    assert_int_equal(n, 0);
    assert_null(users);
    cs_store_close(f.s);

    assert_int_equal(fx_sql_scalar(&f, "SELECT MAX(version) FROM schema_version"),
                     CS_STORE_SCHEMA_VERSION);
    /* Opening again runs nothing twice. */
    assert_int_equal(fx_open_store(&f, &f.s, &e), CS_OK);
    assert_int_equal(remove_store(&f), 0);
}

static void a_newer_schema_is_refused(void **state)
{
    fx *f = *state;
    cs_error e = {0};
    cs_store *s2 = NULL;
    fx_sql(f, "INSERT INTO schema_version VALUES (99)");
    assert_int_equal(fx_open_store(f, &s2, &e), CS_ERR_UNSUPPORTED);
    assert_non_null(strstr(e.msg, "newer than this program"));
}

/* Two processes (a server and `capscreen study create`, or two servers)
 * opening a new database at the same moment: both open it, and each
 * migration runs once. */
typedef struct opener {
    const fx *f;
    pthread_barrier_t *go;
    cs_status st;
    char msg[256];
} opener;

static void *open_at_once(void *arg)
{
    opener *o = arg;
    cs_store *s = NULL;
    cs_error e = {0};
    pthread_barrier_wait(o->go);
    o->st = fx_open_store(o->f, &s, &e);
    snprintf(o->msg, sizeof o->msg, "%s", e.msg);
    cs_store_close(s);
    return NULL;
}

static void two_first_opens_at_once_migrate_once(void **state)
{
    (void)state;
    for (int round = 0; round < 5; round++) {
        fx f;
        memset(&f, 0, sizeof f);
        make_dir(&f);
        pthread_barrier_t go;
        pthread_barrier_init(&go, NULL, 3);
        opener a = {.f = &f, .go = &go}, b = {.f = &f, .go = &go};
        pthread_t ta, tb;
        assert_int_equal(pthread_create(&ta, NULL, open_at_once, &a), 0);
        assert_int_equal(pthread_create(&tb, NULL, open_at_once, &b), 0);
        pthread_barrier_wait(&go);
        pthread_join(ta, NULL);
        pthread_join(tb, NULL);
        pthread_barrier_destroy(&go);
        if (a.st != CS_OK || b.st != CS_OK)
            fail_msg("round %d: %s / %s", round, a.msg, b.msg);
        assert_int_equal(fx_sql_scalar(&f, "SELECT COUNT(*) FROM schema_version"),
                         CS_STORE_SCHEMA_VERSION);
        cs_error e = {0};
        assert_int_equal(fx_open_store(&f, &f.s, &e), CS_OK);
        assert_int_equal(remove_store(&f), 0);
    }
}

/* A store that cannot be opened says why, and never echoes a password. */
static void a_bad_database_is_refused_with_its_reason(void **state)
{
    fx *f = *state;
    cs_error e = {0};
    cs_store *s2 = NULL;
    assert_int_equal(cs_store_open_db("mysql://h/x", f->dir, &s2, &e), CS_ERR_ARG);
    assert_null(s2);
    assert_non_null(strstr(e.msg, "postgresql://"));
    /* Port 1 on loopback: nothing listens, refused at once; the data
     * folder is not made for a store that did not open. */
    char never[300];
    snprintf(never, sizeof never, "%s/never", f->dir);
    assert_int_equal(cs_store_open_db("postgresql://cs:secret-pw@127.0.0.1:1/x?connect_timeout=5",
                                      never, &s2, &e),
                     CS_ERR_IO);
    assert_null(s2);
    assert_non_null(strstr(e.msg, "cannot connect to PostgreSQL"));
    assert_null(strstr(e.msg, "secret-pw"));
    assert_null(strchr(e.msg, '\n')); /* one line, libpq's hint included */
    assert_int_not_equal(access(never, F_OK), 0);
    assert_int_equal(cs_store_open_db(NULL, "", &s2, &e), CS_ERR_ARG);
}

/* PostgreSQL: a connection the server ended (a restart, a failover, an
 * idle timeout) costs at most the call that found it gone; the next call
 * reconnects and the data is all there. */
static void a_lost_connection_is_re_established(void **state)
{
    fx *f = *state;
    cs_error e = {0};
    if (!fx_pg())
        skip(); /* SQLite has no connection to lose */
    add_study(f->s, "before", 1);
    fx_sql(f, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
              " WHERE application_name = 'capscreen' AND pid <> pg_backend_pid()");
    cs_status first = cs_store_ping(f->s, &e); /* may fail: it finds the connection gone */
    assert_true(first == CS_OK || first == CS_ERR_IO);
    assert_int_equal(cs_store_ping(f->s, &e), CS_OK);
    add_study(f->s, "after", 2);
    cs_study_rec *v = NULL;
    size_t n = 0;
    assert_int_equal(cs_store_studies_list(f->s, &v, &n, &e), CS_OK);
    assert_int_equal(n, 2);
    assert_string_equal(v[0].id, "after");
    assert_string_equal(v[1].id, "before");
    free(v);
}

/* ---- frames and the worklist --------------------------------------------------- */

static void frames_keep_their_image_location_and_views_page_by_seq(void **state)
{
    fx *f = *state;
    cs_error e = {0};
    add_study(f->s, "s1", 100);
    cs_frame_rec fr[5];
    memset(fr, 0, sizeof fr);
    for (int i = 0; i < 5; i++) {
        fr[i].seq = (uint64_t)i;
        fr[i].frame_index = i == 3 ? -1 : 10 + i;
        fr[i].capture_time_us = 1000 * i;
        fr[i].ok = i != 4;
        fr[i].status = i == 4 ? "corrupt" : "ok";
        fr[i].error = i == 4 ? "bad record" : NULL;
        fr[i].exposure = "ok";
        fr[i].readable = true;
        fr[i].blurry = i == 1;
        fr[i].bleeding = i == 2;
        fr[i].bleeding_probability = i == 2 ? 0.9f : 0.1f;
        fr[i].payload_offset = i == 4 ? 0 : 5000000000ULL + 100u * (unsigned)i; /* > 4 GiB */
        fr[i].payload_len = i == 4 ? 0 : 4000000u + (unsigned)i;
        fr[i].mean_rgb = 0xFFEEDDu - (unsigned)i;
        fr[i].redundant = i == 3;
    }
    /* Polyp results and boxes (schema 3): frame 2 has both findings'
     * boxes; frame 4 failed, so its boxes are not stored. */
    fr[2].has_polyp = true;
    fr[2].polyp = true;
    fr[2].polyp_probability = 0.75f;
    fr[2].boxes = "{\"w\":320,\"h\":320,\"b\":[[1,2,30,40,900]],\"p\":[[5,6,70,80,750]]}";
    fr[4].boxes = "{\"w\":1,\"h\":1,\"b\":[],\"p\":[]}";
    assert_int_equal(cs_store_frames_add(f->s, "s1", fr, 5, 777, &e), CS_OK);

    cs_frame_view v[8];
    size_t n = 0;
    assert_int_equal(cs_store_frame_views(f->s, "s1", 2, v, 2, &n, &e), CS_OK);
    assert_int_equal(n, 2);
    assert_int_equal(v[0].seq, 2);
    assert_int_equal(v[1].seq, 3);
    assert_true(v[0].bleeding && !v[0].redundant);
    assert_float_equal(v[0].bleeding_probability, 0.9, 1e-6);
    assert_int_equal(v[0].payload_offset, 5000000200ULL);
    assert_int_equal(v[0].payload_len, 4000002u);
    assert_int_equal(v[0].mean_rgb, 0xFFEEDB);
    assert_true(v[1].redundant);
    assert_int_equal(v[1].frame_index, -1);
    assert_true(v[0].has_polyp && v[0].polyp);
    assert_float_equal(v[0].polyp_probability, 0.75, 1e-6);
    assert_string_equal(v[0].boxes, fr[2].boxes);
    assert_false(v[1].has_polyp);
    assert_string_equal(v[1].boxes, "");

    assert_int_equal(cs_store_frame_views(f->s, "s1", 3, v, 8, &n, &e), CS_OK);
    assert_int_equal(n, 2);
    assert_false(v[1].ok);
    assert_false(v[1].readable); /* not stored for a failed frame */
    assert_int_equal(v[1].payload_len, 0);
    assert_string_equal(v[1].boxes, "");
    assert_int_equal(cs_store_frame_views(f->s, "s1", 5, v, 8, &n, &e), CS_OK);
    assert_int_equal(n, 0);
    assert_int_equal(cs_store_frame_views(f->s, "nope", 0, v, 8, &n, &e), CS_OK);
    assert_int_equal(n, 0);
}

static void studies_list_newest_first_and_carry_their_reader(void **state)
{
    fx *f = *state;
    cs_error e = {0};
    cs_study_rec *v = NULL;
    size_t n = 9;
    assert_int_equal(cs_store_studies_list(f->s, &v, &n, &e), CS_OK);
    assert_int_equal(n, 0);
    assert_null(v);
    add_study(f->s, "b", 100);
    add_study(f->s, "c", 300);
    add_study(f->s, "a", 200);
    add_study(f->s, "d", 200); /* same time: by id */
    bool found = false;
    assert_int_equal(cs_store_study_assign(f->s, "a", "dr_who", &found, &e), CS_OK);
    assert_true(found);
    assert_int_equal(cs_store_study_assign(f->s, "zz", "dr_who", &found, &e), CS_OK);
    assert_false(found);
    assert_int_equal(cs_store_studies_list(f->s, &v, &n, &e), CS_OK);
    assert_int_equal(n, 4);
    assert_string_equal(v[0].id, "c");
    assert_string_equal(v[1].id, "a");
    assert_string_equal(v[2].id, "d");
    assert_string_equal(v[3].id, "b");
    assert_string_equal(v[1].assigned_reader, "dr_who");
    assert_string_equal(v[2].assigned_reader, "");
    free(v);
    cs_study_rec one;
    assert_int_equal(cs_store_study_assign(f->s, "a", "", &found, &e), CS_OK);
    assert_int_equal(cs_store_study_get(f->s, "a", &found, &one, &e), CS_OK);
    assert_string_equal(one.assigned_reader, "");
}

/* ---- users and sessions ---------------------------------------------------------- */

static void add_user(cs_store *s, const char *name, const char *role)
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

static void add_session(cs_store *s, const char *id, const char *user, int64_t created,
                        int64_t seen)
{
    cs_session_rec r;
    cs_error e = {0};
    memset(&r, 0, sizeof r);
    snprintf(r.id_hash, sizeof r.id_hash, "%s", id);
    snprintf(r.user, sizeof r.user, "%s", user);
    snprintf(r.csrf, sizeof r.csrf, "csrf-%s", id);
    snprintf(r.ip, sizeof r.ip, "10.0.0.1");
    r.created_at = created;
    r.last_seen = seen;
    assert_int_equal(cs_store_session_create(s, &r, &e), CS_OK);
}

static bool session_live(cs_store *s, const char *id)
{
    cs_session_rec r;
    cs_error e = {0};
    bool found = false;
    assert_int_equal(cs_store_session_get(s, id, &found, &r, &e), CS_OK);
    return found;
}

static void users_are_unique_and_listed_by_name(void **state)
{
    fx *f = *state;
    cs_error e = {0};
    add_user(f->s, "zoe", "reader");
    add_user(f->s, "adam", "admin");
    cs_user_rec u, *v = NULL;
    bool exists = false, found = false;
    memset(&u, 0, sizeof u);
    snprintf(u.name, sizeof u.name, "zoe");
    snprintf(u.role, sizeof u.role, "admin");
    snprintf(u.pw_hash, sizeof u.pw_hash, "other");
    assert_int_equal(cs_store_user_add(f->s, &u, &exists, &e), CS_OK);
    assert_true(exists);
    assert_int_equal(cs_store_user_get(f->s, "zoe", &found, &u, &e), CS_OK);
    assert_true(found);
    assert_string_equal(u.role, "reader"); /* the second add wrote nothing */
    assert_string_equal(u.pw_hash, "$argon2id$hash-of-zoe");
    assert_int_equal(u.created_at, 50);
    assert_int_equal(cs_store_user_get(f->s, "nobody", &found, &u, &e), CS_OK);
    assert_false(found);
    size_t n = 0;
    assert_int_equal(cs_store_user_list(f->s, &v, &n, &e), CS_OK);
    assert_int_equal(n, 2);
    assert_string_equal(v[0].name, "adam");
    assert_string_equal(v[1].name, "zoe");
    free(v);
    snprintf(u.name, sizeof u.name, "nobody");
    assert_int_equal(cs_store_user_update(f->s, &u, &found, &e), CS_OK);
    assert_false(found);
}

static void a_session_needs_an_enabled_user_and_takes_its_role(void **state)
{
    fx *f = *state;
    cs_error e = {0};
    bool found = false;
    cs_session_rec r;
    cs_user_rec u;
    add_user(f->s, "ann", "reader");
    add_session(f->s, "s-ann-1", "ann", 100, 100);
    add_session(f->s, "s-ann-2", "ann", 100, 100);
    add_session(f->s, "s-ghost", "ghost", 100, 100); /* no such user */
    assert_int_equal(cs_store_session_get(f->s, "s-ann-1", &found, &r, &e), CS_OK);
    assert_true(found);
    assert_string_equal(r.user, "ann");
    assert_string_equal(r.role, "reader");
    assert_string_equal(r.csrf, "csrf-s-ann-1");
    assert_string_equal(r.ip, "10.0.0.1");
    assert_false(session_live(f->s, "s-ghost"));

    /* A role change keeps the sessions and shows at once. */
    assert_int_equal(cs_store_user_get(f->s, "ann", &found, &u, &e), CS_OK);
    snprintf(u.role, sizeof u.role, "consultant");
    assert_int_equal(cs_store_user_update(f->s, &u, &found, &e), CS_OK);
    assert_true(found);
    assert_int_equal(cs_store_session_get(f->s, "s-ann-1", &found, &r, &e), CS_OK);
    assert_true(found);
    assert_string_equal(r.role, "consultant");

    /* A new password ends every session of the user. */
    snprintf(u.pw_hash, sizeof u.pw_hash, "$argon2id$new");
    assert_int_equal(cs_store_user_update(f->s, &u, &found, &e), CS_OK);
    assert_false(session_live(f->s, "s-ann-1"));
    assert_false(session_live(f->s, "s-ann-2"));

    /* Disabling does too, and re-enabling does not bring them back. */
    add_session(f->s, "s-ann-3", "ann", 100, 100);
    assert_true(session_live(f->s, "s-ann-3"));
    u.disabled = true;
    assert_int_equal(cs_store_user_update(f->s, &u, &found, &e), CS_OK);
    assert_false(session_live(f->s, "s-ann-3"));
    u.disabled = false;
    assert_int_equal(cs_store_user_update(f->s, &u, &found, &e), CS_OK);
    assert_false(session_live(f->s, "s-ann-3"));
    assert_int_equal(fx_sql_scalar(f, "SELECT COUNT(*) FROM sessions WHERE \"user\" = 'ann'"), 0);

    /* A session of a user disabled behind the store's back is not valid. */
    add_session(f->s, "s-ann-4", "ann", 100, 100);
    fx_sql(f, "UPDATE users SET disabled = 1 WHERE name = 'ann'");
    assert_false(session_live(f->s, "s-ann-4"));

    add_user(f->s, "bob", "reader");
    add_session(f->s, "s-bob", "bob", 100, 100);
    assert_int_equal(cs_store_session_delete(f->s, "s-bob", &e), CS_OK);
    assert_false(session_live(f->s, "s-bob"));
}

static void purge_ends_idle_and_old_sessions_only(void **state)
{
    fx *f = *state;
    cs_error e = {0};
    int n = -1;
    add_user(f->s, "cy", "reader");
    add_session(f->s, "idle", "cy", 1000, 1100); /* idle since 1100 */
    add_session(f->s, "old", "cy", 500, 1990);   /* created too long ago */
    add_session(f->s, "fresh", "cy", 1000, 1950);
    add_session(f->s, "touched", "cy", 1000, 1100);
    assert_int_equal(cs_store_session_touch(f->s, "touched", 1999, &e), CS_OK);
    assert_int_equal(cs_store_sessions_purge(f->s, 1200, 800, &n, &e), CS_OK);
    assert_int_equal(n, 2);
    assert_false(session_live(f->s, "idle"));
    assert_false(session_live(f->s, "old"));
    assert_true(session_live(f->s, "fresh"));
    cs_session_rec r;
    bool found = false;
    assert_int_equal(cs_store_session_get(f->s, "touched", &found, &r, &e), CS_OK);
    assert_true(found);
    assert_int_equal(r.last_seen, 1999);
    assert_int_equal(r.created_at, 1000);
    assert_int_equal(cs_store_sessions_purge(f->s, 1200, 800, &n, &e), CS_OK);
    assert_int_equal(n, 0);
}

/* ---- the audit log -------------------------------------------------------------- */

static void append(cs_store *s, int i)
{
    cs_audit_rec r;
    cs_error e = {0};
    memset(&r, 0, sizeof r);
    r.n = 999999; /* ignored: the log numbers its entries */
    r.at_ms = 1000 + i;
    snprintf(r.user, sizeof r.user, "%s", i % 2 ? "odd" : "even");
    snprintf(r.role, sizeof r.role, "reader");
    snprintf(r.action, sizeof r.action, "%s", i % 3 ? "frames.view" : "study.open");
    snprintf(r.study, sizeof r.study, "%s", i % 5 ? "" : "s5");
    snprintf(r.detail, sizeof r.detail, "entry %d", i);
    snprintf(r.ip, sizeof r.ip, "10.0.0.%d", i % 250);
    assert_int_equal(cs_store_audit_append(s, &r, &e), CS_OK);
}

static void the_audit_log_pages_newest_first_and_filters(void **state)
{
    fx *f = *state;
    cs_error e = {0};
    cs_audit_rec *v = NULL;
    size_t n = 0;
    cs_audit_query q = {0};
    assert_int_equal(cs_store_audit_query(f->s, &q, &v, &n, &e), CS_OK);
    assert_int_equal(n, 0);
    assert_null(v);
    for (int i = 1; i <= 25; i++)
        append(f->s, i);

    q.limit = 10;
    assert_int_equal(cs_store_audit_query(f->s, &q, &v, &n, &e), CS_OK);
    assert_int_equal(n, 10);
    assert_int_equal(v[0].n, 25);
    assert_int_equal(v[9].n, 16);
    assert_string_equal(v[0].detail, "entry 25");
    assert_string_equal(v[0].user, "odd");
    assert_string_equal(v[0].study, "s5");
    assert_string_equal(v[0].ip, "10.0.0.25");
    assert_int_equal(v[0].at_ms, 1025);
    q.before_n = v[9].n; /* the next page */
    free(v);
    assert_int_equal(cs_store_audit_query(f->s, &q, &v, &n, &e), CS_OK);
    assert_int_equal(n, 10);
    assert_int_equal(v[0].n, 15);
    assert_int_equal(v[9].n, 6);
    q.before_n = v[9].n;
    free(v);
    assert_int_equal(cs_store_audit_query(f->s, &q, &v, &n, &e), CS_OK);
    assert_int_equal(n, 5); /* the last page is short */
    assert_int_equal(v[4].n, 1);
    free(v);

    cs_audit_query byuser = {.user = "even", .action = "study.open"};
    assert_int_equal(cs_store_audit_query(f->s, &byuser, &v, &n, &e), CS_OK);
    assert_int_equal(n, 4); /* 6, 12, 18, 24 */
    assert_int_equal(v[0].n, 24);
    assert_int_equal(v[3].n, 6);
    free(v);
    cs_audit_query bystudy = {.study = "s5", .user = "", .since_ms = 1010, .until_ms = 1020};
    assert_int_equal(cs_store_audit_query(f->s, &bystudy, &v, &n, &e), CS_OK);
    assert_int_equal(n, 3); /* 10, 15, 20: both bounds inclusive */
    assert_int_equal(v[0].n, 20);
    assert_int_equal(v[2].n, 10);
    free(v);
}

static void the_audit_limit_defaults_to_200_and_stops_at_1000(void **state)
{
    fx *f = *state;
    cs_error e = {0};
    cs_audit_rec *v = NULL;
    size_t n = 0;
    for (int i = 1; i <= 1005; i++)
        append(f->s, i);
    cs_audit_query q = {0};
    assert_int_equal(cs_store_audit_query(f->s, &q, &v, &n, &e), CS_OK);
    assert_int_equal(n, 200);
    free(v);
    q.limit = 5000;
    assert_int_equal(cs_store_audit_query(f->s, &q, &v, &n, &e), CS_OK);
    assert_int_equal(n, 1000);
    assert_int_equal(v[999].n, 6);
    free(v);
}

static void the_audit_log_refuses_update_and_delete(void **state)
{
    fx *f = *state;
    cs_error e = {0};
    append(f->s, 1);
    append(f->s, 2);
    char msg[512] = "";
    assert_false(
        fx_sql_try(f, "UPDATE audit SET \"user\" = 'mallory' WHERE n = 1", msg, sizeof msg));
    assert_non_null(strstr(msg, "append-only"));
    msg[0] = '\0';
    assert_false(fx_sql_try(f, "DELETE FROM audit", msg, sizeof msg));
    assert_non_null(strstr(msg, "append-only"));
    /* SQLite's REPLACE deletes without DELETE triggers; PostgreSQL's
     * TRUNCATE skips row triggers: each has its own guard. */
    msg[0] = '\0';
    assert_false(fx_sql_try(f,
                            fx_pg() ? "TRUNCATE audit"
                                    : "INSERT OR REPLACE INTO audit (n, at_ms, action)"
                                      " VALUES (1, 0, 'forged')",
                            msg, sizeof msg));
    assert_non_null(strstr(msg, "append-only"));
    assert_int_equal(fx_sql_scalar(f, "SELECT COUNT(*) FROM audit"), 2);
    cs_audit_rec *v = NULL;
    size_t n = 0;
    cs_audit_query q = {0};
    assert_int_equal(cs_store_audit_query(f->s, &q, &v, &n, &e), CS_OK);
    assert_int_equal(n, 2);
    assert_string_equal(v[1].user, "odd"); /* entry 1, untouched */
    assert_string_equal(v[1].action, "frames.view");
    assert_string_equal(v[1].detail, "entry 1");
    free(v);
}

/* ---- findings, marks, reports -------------------------------------------------- */

static cs_finding_rec finding(const char *study, uint64_t from, const char *type, const char *note)
{
    cs_finding_rec r;
    memset(&r, 0, sizeof r);
    snprintf(r.study, sizeof r.study, "%s", study);
    r.seq_from = from;
    r.seq_to = from + 2;
    snprintf(r.type, sizeof r.type, "%s", type);
    snprintf(r.note, sizeof r.note, "%s", note);
    r.size_mm = -1;
    snprintf(r.created_by, sizeof r.created_by, "ann");
    r.created_at_ms = 5000;
    snprintf(r.updated_by, sizeof r.updated_by, "ann");
    r.updated_at_ms = 5000;
    return r;
}

static void findings_are_versioned_and_keep_every_snapshot(void **state)
{
    fx *f = *state;
    cs_error e = {0};
    cs_change_outcome out;
    add_study(f->s, "s", 1);
    cs_finding_rec a = finding("s", 40, "polyp", "first"), b = finding("s", 10, "ulcer", "");
    assert_int_equal(cs_store_finding_create(f->s, &a, &out, &e), CS_OK);
    assert_int_equal(out, CS_CHANGE_OK);
    assert_int_equal(a.version, 1);
    assert_true(a.id > 0);
    assert_int_equal(cs_store_finding_create(f->s, &b, &out, &e), CS_OK);
    assert_true(b.id != a.id);
    cs_finding_rec nos = finding("nostudy", 1, "polyp", "");
    assert_int_equal(cs_store_finding_create(f->s, &nos, &out, &e), CS_OK);
    assert_int_equal(out, CS_CHANGE_NOT_FOUND);

    /* Two editors start from version 1: the second is refused. */
    cs_finding_rec ed1 = a, ed2 = a;
    snprintf(ed1.note, sizeof ed1.note, "second");
    ed1.size_mm = 4.5;
    snprintf(ed1.updated_by, sizeof ed1.updated_by, "bob");
    ed1.updated_at_ms = 6000;
    assert_int_equal(cs_store_finding_update(f->s, &ed1, 1, &out, &e), CS_OK);
    assert_int_equal(out, CS_CHANGE_OK);
    assert_int_equal(ed1.version, 2);
    assert_string_equal(ed1.created_by, "ann"); /* creation stays */
    assert_int_equal(ed1.created_at_ms, 5000);
    snprintf(ed2.note, sizeof ed2.note, "lost");
    assert_int_equal(cs_store_finding_update(f->s, &ed2, 1, &out, &e), CS_OK);
    assert_int_equal(out, CS_CHANGE_CONFLICT);
    /* 0: any version. */
    snprintf(ed2.note, sizeof ed2.note, "third");
    ed2.seq_from = 41;
    ed2.seq_to = 45;
    assert_int_equal(cs_store_finding_update(f->s, &ed2, 0, &out, &e), CS_OK);
    assert_int_equal(out, CS_CHANGE_OK);
    assert_int_equal(ed2.version, 3);
    /* An id of another study is not found there. */
    cs_finding_rec wrong = ed2;
    snprintf(wrong.study, sizeof wrong.study, "other");
    add_study(f->s, "other", 2);
    assert_int_equal(cs_store_finding_update(f->s, &wrong, 0, &out, &e), CS_OK);
    assert_int_equal(out, CS_CHANGE_NOT_FOUND);

    assert_int_equal(cs_store_finding_delete(f->s, "s", a.id, "cy", 7000, 2, &out, &e), CS_OK);
    assert_int_equal(out, CS_CHANGE_CONFLICT);
    assert_int_equal(cs_store_finding_delete(f->s, "s", a.id, "cy", 7000, 3, &out, &e), CS_OK);
    assert_int_equal(out, CS_CHANGE_OK);
    assert_int_equal(cs_store_finding_update(f->s, &ed2, 0, &out, &e), CS_OK);
    assert_int_equal(out, CS_CHANGE_NOT_FOUND); /* deleted */
    assert_int_equal(cs_store_finding_delete(f->s, "s", a.id, "cy", 7000, 0, &out, &e), CS_OK);
    assert_int_equal(out, CS_CHANGE_NOT_FOUND);

    cs_finding_rec *v = NULL;
    size_t n = 0;
    assert_int_equal(cs_store_findings_list(f->s, "s", false, &v, &n, &e), CS_OK);
    assert_int_equal(n, 1);
    assert_int_equal(v[0].id, b.id);
    free(v);
    assert_int_equal(cs_store_findings_list(f->s, "s", true, &v, &n, &e), CS_OK);
    assert_int_equal(n, 2);
    assert_int_equal(v[0].id, b.id); /* by seq_from */
    assert_int_equal(v[1].id, a.id);
    assert_true(v[1].deleted);
    assert_int_equal(v[1].version, 4);
    assert_string_equal(v[1].updated_by, "cy");
    assert_string_equal(v[1].note, "third");
    free(v);

    assert_int_equal(cs_store_finding_history(f->s, "s", a.id, &v, &n, &e), CS_OK);
    assert_int_equal(n, 4);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(v[i].version, (int)i + 1);
    assert_string_equal(v[0].note, "first");
    assert_float_equal(v[0].size_mm, -1, 1e-9);
    assert_string_equal(v[1].note, "second");
    assert_float_equal(v[1].size_mm, 4.5, 1e-9);
    assert_string_equal(v[1].updated_by, "bob");
    assert_int_equal(v[2].seq_from, 41);
    assert_int_equal(v[2].seq_to, 45);
    assert_false(v[2].deleted);
    assert_true(v[3].deleted);
    assert_string_equal(v[3].type, "polyp"); /* a full snapshot, not a diff */
    assert_int_equal(v[3].updated_at_ms, 7000);
    free(v);
    assert_int_equal(cs_store_finding_history(f->s, "other", a.id, &v, &n, &e), CS_OK);
    assert_int_equal(n, 0);
    assert_null(v);
}

static cs_mark_rec mark(const char *kind, const char *key, const char *value, int64_t seq)
{
    cs_mark_rec m;
    memset(&m, 0, sizeof m);
    snprintf(m.kind, sizeof m.kind, "%s", kind);
    snprintf(m.key, sizeof m.key, "%s", key);
    snprintf(m.value, sizeof m.value, "%s", value);
    m.seq = seq;
    snprintf(m.by, sizeof m.by, "ann");
    m.at_ms = 9000 + seq;
    return m;
}

/* Schema 14: a mark stored before it keeps its time as first_at_ms, so
 * the boosters of a study marked before the upgrade do not move. */
static void marks_before_schema_14_keep_their_first_time(void **state)
{
    fx *f = *state;
    cs_error e = {0};
    cs_change_outcome out;
    add_study(f->s, "s", 1);
    cs_mark_rec m = mark("landmark", "first_duodenal", "", 40);
    assert_int_equal(cs_store_mark_set(f->s, "s", &m, &out, &e), CS_OK);
    fx_migrate_again(f, "ALTER TABLE marks DROP COLUMN first_at_ms;"
                        "DELETE FROM schema_version WHERE version > 13;");
    cs_mark_rec *v = NULL;
    size_t n = 0;
    assert_int_equal(cs_store_marks_list(f->s, "s", &v, &n, &e), CS_OK);
    assert_int_equal(n, 1);
    assert_int_equal(v[0].at_ms, 9040);
    assert_int_equal(v[0].first_at_ms, 9040);
    free(v);
    m.seq = 41; /* moved after the upgrade: the first time stays */
    m.at_ms = 70000;
    assert_int_equal(cs_store_mark_set(f->s, "s", &m, &out, &e), CS_OK);
    assert_int_equal(cs_store_marks_list(f->s, "s", &v, &n, &e), CS_OK);
    assert_int_equal(v[0].at_ms, 70000);
    assert_int_equal(v[0].first_at_ms, 9040);
    free(v);
    /* a row an older server wrote beside the migrated database (several
     * servers) has no first time: it reads as its at_ms, never 0 */
    fx_sql(f, "UPDATE marks SET first_at_ms = 0");
    assert_int_equal(cs_store_marks_list(f->s, "s", &v, &n, &e), CS_OK);
    assert_int_equal(v[0].first_at_ms, 70000);
    free(v);
}

static cs_report_rec report(const char *study, const char *state, const char *content)
{
    cs_report_rec r;
    memset(&r, 0, sizeof r);
    snprintf(r.study, sizeof r.study, "%s", study);
    snprintf(r.state, sizeof r.state, "%s", state);
    snprintf(r.content, sizeof r.content, "%s", content);
    snprintf(r.updated_by, sizeof r.updated_by, "ann");
    r.updated_at_ms = 10000;
    return r;
}

static void marks_are_one_per_key_and_replaced(void **state)
{
    fx *f = *state;
    cs_error e = {0};
    cs_change_outcome out;
    add_study(f->s, "s", 1);
    cs_mark_rec m = mark("landmark", "first_caecal", "", 100);
    assert_int_equal(cs_store_mark_set(f->s, "s", &m, &out, &e), CS_OK);
    assert_int_equal(out, CS_CHANGE_OK);
    m.seq = 120;
    m.at_ms = 50000; /* moved to another frame later, by someone else */
    snprintf(m.by, sizeof m.by, "bob");
    assert_int_equal(cs_store_mark_set(f->s, "s", &m, &out, &e), CS_OK);
    cs_mark_rec c = mark("cleansing", "small_bowel", "good", -1);
    assert_int_equal(cs_store_mark_set(f->s, "s", &c, &out, &e), CS_OK);
    c.at_ms = 60000; /* a grade edited takes its new time */
    snprintf(c.value, sizeof c.value, "fair");
    assert_int_equal(cs_store_mark_set(f->s, "s", &c, &out, &e), CS_OK);
    assert_int_equal(cs_store_mark_set(f->s, "nostudy", &c, &out, &e), CS_OK);
    assert_int_equal(out, CS_CHANGE_NOT_FOUND);
    cs_mark_rec *v = NULL;
    size_t n = 0;
    assert_int_equal(cs_store_marks_list(f->s, "s", &v, &n, &e), CS_OK);
    assert_int_equal(n, 2);
    assert_string_equal(v[0].kind, "cleansing");
    assert_string_equal(v[0].value, "fair");
    assert_int_equal(v[0].seq, -1);
    assert_int_equal(v[0].at_ms, 60000);
    assert_int_equal(v[0].first_at_ms, 60000); /* a grade's follows its edits */
    assert_string_equal(v[1].key, "first_caecal");
    assert_int_equal(v[1].seq, 120);
    /* who moved it and when: one marking, not bob's name on ann's time */
    assert_string_equal(v[1].by, "bob");
    assert_int_equal(v[1].at_ms, 50000);
    /* a landmark keeps the time it was first marked (the boosters count
     * from it: a correction must not put them off) */
    assert_int_equal(v[1].first_at_ms, 9100);
    free(v);
    assert_int_equal(cs_store_mark_delete(f->s, "s", "landmark", "first_caecal", &out, &e), CS_OK);
    assert_int_equal(out, CS_CHANGE_OK);
    assert_int_equal(cs_store_mark_delete(f->s, "s", "landmark", "first_caecal", &out, &e), CS_OK);
    assert_int_equal(out, CS_CHANGE_NOT_FOUND);
}

static void report_saves_are_versioned_and_keep_the_old_ones(void **state)
{
    fx *f = *state;
    cs_error e = {0};
    cs_change_outcome out;
    bool found = true;
    cs_report_rec r = report("s", "draft", "{\"v\":1}"), got;
    add_study(f->s, "s", 1);
    assert_int_equal(cs_store_report_get(f->s, "s", &found, &got, &e), CS_OK);
    assert_false(found);
    cs_report_rec stale = r;
    assert_int_equal(cs_store_report_save(f->s, &stale, 1, &out, &e), CS_OK);
    assert_int_equal(out, CS_CHANGE_CONFLICT); /* there is no version 1 yet */
    assert_int_equal(cs_store_report_save(f->s, &r, 0, &out, &e), CS_OK);
    assert_int_equal(out, CS_CHANGE_OK);
    assert_int_equal(r.version, 1);
    cs_report_rec again = report("s", "draft", "{\"v\":\"again\"}");
    assert_int_equal(cs_store_report_save(f->s, &again, 0, &out, &e), CS_OK);
    assert_int_equal(out, CS_CHANGE_CONFLICT); /* a second "new" report */
    cs_report_rec r2 = report("s", "read", "{\"v\":2}");
    assert_int_equal(cs_store_report_save(f->s, &r2, 1, &out, &e), CS_OK);
    assert_int_equal(out, CS_CHANGE_OK);
    assert_int_equal(r2.version, 2);
    assert_int_equal(cs_store_report_save(f->s, &stale, 1, &out, &e), CS_OK);
    assert_int_equal(out, CS_CHANGE_CONFLICT);
    cs_report_rec r3 = report("s", "draft", "{\"v\":3}");
    assert_int_equal(cs_store_report_save(f->s, &r3, -1, &out, &e), CS_OK);
    assert_int_equal(out, CS_CHANGE_OK);
    assert_int_equal(r3.version, 3);
    cs_report_rec bad = report("s", "signed", "{}");
    assert_int_equal(cs_store_report_save(f->s, &bad, -1, &out, &e), CS_ERR_ARG);
    cs_report_rec nos = report("nostudy", "draft", "{}");
    assert_int_equal(cs_store_report_save(f->s, &nos, -1, &out, &e), CS_OK);
    assert_int_equal(out, CS_CHANGE_NOT_FOUND);

    assert_int_equal(cs_store_report_get(f->s, "s", &found, &got, &e), CS_OK);
    assert_true(found);
    assert_string_equal(got.content, "{\"v\":3}");
    assert_string_equal(got.state, "draft");
    assert_int_equal(got.version, 3);
    assert_int_equal(fx_sql_scalar(f, "SELECT COUNT(*) FROM report_history WHERE study = 's'"), 2);
    assert_int_equal(fx_sql_scalar(f, "SELECT COUNT(*) FROM report_history WHERE study = 's'"
                                      " AND version = 2 AND state = 'read'"
                                      " AND content = '{\"v\":2}'"),
                     1);
}

/* cs_store_mark_add: insert only. An absent mark is added; a present one
 * (set meanwhile by a reader, on any server) is kept, with CONFLICT; a
 * signed report locks it like any change. */
static void a_mark_added_never_replaces_one_set_meanwhile(void **state)
{
    fx *f = *state;
    cs_error e = {0};
    cs_change_outcome out;
    add_study(f->s, "s", 1);
    cs_mark_rec reader = mark("landmark", "first_caecal", "", 101);
    snprintf(reader.by, sizeof reader.by, "reader");
    assert_int_equal(cs_store_mark_set(f->s, "s", &reader, &out, &e), CS_OK);
    assert_int_equal(out, CS_CHANGE_OK);
    cs_mark_rec click = mark("landmark", "first_caecal", "", 140);
    snprintf(click.by, sizeof click.by, "monitor");
    assert_int_equal(cs_store_mark_add(f->s, "s", &click, &out, &e), CS_OK);
    assert_int_equal(out, CS_CHANGE_CONFLICT);
    cs_mark_rec other = mark("landmark", "excreted", "", 200);
    assert_int_equal(cs_store_mark_add(f->s, "s", &other, &out, &e), CS_OK);
    assert_int_equal(out, CS_CHANGE_OK);
    assert_int_equal(cs_store_mark_add(f->s, "nostudy", &other, &out, &e), CS_OK);
    assert_int_equal(out, CS_CHANGE_NOT_FOUND);
    cs_mark_rec *v = NULL;
    size_t n = 0;
    assert_int_equal(cs_store_marks_list(f->s, "s", &v, &n, &e), CS_OK);
    assert_int_equal(n, 2);
    assert_string_equal(v[0].key, "excreted");
    assert_int_equal(v[0].seq, 200);
    assert_string_equal(v[1].key, "first_caecal");
    assert_int_equal(v[1].seq, 101); /* the reader's exact frame, kept */
    assert_string_equal(v[1].by, "reader");
    free(v);
    cs_report_rec r = report("s", "read", "{\"recommendation\":\"colonoscopy\"}");
    cs_report_rec signd;
    assert_int_equal(cs_store_report_save(f->s, &r, 0, &out, &e), CS_OK);
    assert_int_equal(cs_store_report_sign(f->s, "s", "dr", 11000, 1, &out, &signd, &e), CS_OK);
    assert_int_equal(out, CS_CHANGE_OK);
    cs_mark_rec late = mark("landmark", "first_gastric", "", 3);
    assert_int_equal(cs_store_mark_add(f->s, "s", &late, &out, &e), CS_OK);
    assert_int_equal(out, CS_CHANGE_LOCKED);
}

static void a_signed_report_locks_the_study(void **state)
{
    fx *f = *state;
    cs_error e = {0};
    cs_change_outcome out;
    cs_report_rec signd;
    bool is_signed = true;
    add_study(f->s, "s", 1);
    cs_finding_rec a = finding("s", 5, "polyp", "x");
    assert_int_equal(cs_store_finding_create(f->s, &a, &out, &e), CS_OK);
    cs_mark_rec m = mark("landmark", "pylorus", "", 3);
    assert_int_equal(cs_store_mark_set(f->s, "s", &m, &out, &e), CS_OK);

    assert_int_equal(cs_store_report_sign(f->s, "s", "dr", 11000, -1, &out, &signd, &e), CS_OK);
    assert_int_equal(out, CS_CHANGE_NOT_FOUND); /* nothing to sign yet */
    cs_report_rec r = report("s", "read", "{\"recommendation\":\"colonoscopy\"}");
    assert_int_equal(cs_store_report_save(f->s, &r, 0, &out, &e), CS_OK);
    assert_int_equal(cs_store_report_signed(f->s, "s", &is_signed, &e), CS_OK);
    assert_false(is_signed);
    assert_int_equal(cs_store_report_sign(f->s, "s", "dr", 11000, 2, &out, &signd, &e), CS_OK);
    assert_int_equal(out, CS_CHANGE_CONFLICT);
    assert_int_equal(cs_store_report_sign(f->s, "s", "dr", 11000, 1, &out, &signd, &e), CS_OK);
    assert_int_equal(out, CS_CHANGE_OK);
    assert_string_equal(signd.state, "signed");
    assert_string_equal(signd.signed_by, "dr");
    assert_int_equal(signd.signed_at_ms, 11000);
    assert_int_equal(signd.version, 1);
    assert_string_equal(signd.content, "{\"recommendation\":\"colonoscopy\"}");
    assert_int_equal(cs_store_report_signed(f->s, "s", &is_signed, &e), CS_OK);
    assert_true(is_signed);

    /* Everything about the study is read-only now. */
    assert_int_equal(cs_store_report_sign(f->s, "s", "dr", 12000, -1, &out, &signd, &e), CS_OK);
    assert_int_equal(out, CS_CHANGE_LOCKED);
    cs_report_rec r2 = report("s", "draft", "{}");
    assert_int_equal(cs_store_report_save(f->s, &r2, -1, &out, &e), CS_OK);
    assert_int_equal(out, CS_CHANGE_LOCKED);
    assert_int_equal(cs_store_report_save(f->s, &r2, 0, &out, &e), CS_OK);
    assert_int_equal(out, CS_CHANGE_LOCKED); /* locked before any version check */
    cs_finding_rec b = finding("s", 9, "ulcer", "");
    assert_int_equal(cs_store_finding_create(f->s, &b, &out, &e), CS_OK);
    assert_int_equal(out, CS_CHANGE_LOCKED);
    snprintf(a.note, sizeof a.note, "changed");
    assert_int_equal(cs_store_finding_update(f->s, &a, 0, &out, &e), CS_OK);
    assert_int_equal(out, CS_CHANGE_LOCKED);
    assert_int_equal(cs_store_finding_delete(f->s, "s", a.id, "dr", 1, 0, &out, &e), CS_OK);
    assert_int_equal(out, CS_CHANGE_LOCKED);
    m.seq = 4;
    assert_int_equal(cs_store_mark_set(f->s, "s", &m, &out, &e), CS_OK);
    assert_int_equal(out, CS_CHANGE_LOCKED);
    assert_int_equal(cs_store_mark_delete(f->s, "s", "landmark", "pylorus", &out, &e), CS_OK);
    assert_int_equal(out, CS_CHANGE_LOCKED);

    cs_report_rec got;
    bool found = false;
    assert_int_equal(cs_store_report_get(f->s, "s", &found, &got, &e), CS_OK);
    assert_string_equal(got.state, "signed");
    assert_string_equal(got.content, "{\"recommendation\":\"colonoscopy\"}");
    cs_finding_rec *v = NULL;
    size_t n = 0;
    assert_int_equal(cs_store_findings_list(f->s, "s", true, &v, &n, &e), CS_OK);
    assert_int_equal(n, 1);
    assert_string_equal(v[0].note, "x");
    assert_int_equal(v[0].version, 1);
    free(v);
    cs_mark_rec *mv = NULL;
    assert_int_equal(cs_store_marks_list(f->s, "s", &mv, &n, &e), CS_OK);
    assert_int_equal(n, 1);
    assert_int_equal(mv[0].seq, 3);
    free(mv);
    /* Another study is not affected. */
    add_study(f->s, "t", 2);
    cs_finding_rec c = finding("t", 1, "erosion", "");
    assert_int_equal(cs_store_finding_create(f->s, &c, &out, &e), CS_OK);
    assert_int_equal(out, CS_CHANGE_OK);
}

/* Schema 5 (docs/clinical-record.md): the patient and episode are stored
 * with the study, read back by get and list, corrected as a whole; the
 * structured fields of a finding survive create, update and history. */
static void the_clinical_record_round_trips(void **state)
{
    fx *f = *state;
    cs_error e = {0};
    cs_change_outcome out;
    cs_study_rec r, got;
    bool found = false;
    memset(&r, 0, sizeof r);
    snprintf(r.id, sizeof r.id, "p1");
    r.created_at = 10;
    r.code_expires_at = 3600;
    snprintf(r.patient.nhs_number, sizeof r.patient.nhs_number, "9434765919");
    snprintf(r.patient.family, sizeof r.patient.family, "O'Brien"); /* a quote, bound not spliced */
    snprintf(r.patient.given, sizeof r.patient.given, "Anna");
    snprintf(r.patient.birth_date, sizeof r.patient.birth_date, "1962-03-14");
    snprintf(r.patient.sex, sizeof r.patient.sex, "female");
    snprintf(r.episode.pathway, sizeof r.episode.pathway, "screening");
    snprintf(r.episode.indication, sizeof r.episode.indication, "fit_positive");
    snprintf(r.episode.referrer, sizeof r.episode.referrer, "Dr Khan");
    assert_int_equal(cs_store_study_create(f->s, &r, "code-p1", &e), CS_OK);
    add_study(f->s, "none", 20);
    assert_int_equal(cs_store_study_get(f->s, "p1", &found, &got, &e), CS_OK);
    assert_true(found);
    assert_memory_equal(&got.patient, &r.patient, sizeof r.patient);
    assert_memory_equal(&got.episode, &r.episode, sizeof r.episode);
    cs_study_rec *list = NULL;
    size_t n = 0;
    assert_int_equal(cs_store_studies_list(f->s, &list, &n, &e), CS_OK);
    assert_int_equal(n, 2);
    assert_string_equal(list[0].id, "none"); /* newest first */
    assert_string_equal(list[0].patient.nhs_number, "");
    assert_string_equal(list[1].patient.family, "O'Brien");
    free(list);

    cs_patient_rec p = r.patient;
    cs_episode_rec ep = {0};
    snprintf(p.family, sizeof p.family, "Smith");
    assert_int_equal(
        cs_store_study_patient_set(f->s, "p1", &p, &ep, NULL, NULL, &found, NULL, NULL, &e), CS_OK);
    assert_true(found);
    assert_int_equal(cs_store_study_get(f->s, "p1", &found, &got, &e), CS_OK);
    assert_string_equal(got.patient.family, "Smith");
    assert_string_equal(got.episode.indication, "");
    assert_int_equal(
        cs_store_study_patient_set(f->s, "nope", &p, &ep, NULL, NULL, &found, NULL, NULL, &e),
        CS_OK);
    assert_false(found);
    /* A correction made against what the caller read: applied while that
     * is still stored; refused (stale, nothing changed) once someone else
     * changed it; unknown study: not found, not stale. */
    bool stale = true;
    cs_study_rec read = got; /* family Smith */
    snprintf(p.family, sizeof p.family, "Jones");
    assert_int_equal(
        cs_store_study_patient_set(f->s, "p1", &p, &ep, &read, NULL, &found, &stale, NULL, &e),
        CS_OK);
    assert_true(found);
    assert_false(stale);
    snprintf(p.family, sizeof p.family, "Brown"); /* from the same, now old, read */
    assert_int_equal(
        cs_store_study_patient_set(f->s, "p1", &p, &ep, &read, NULL, &found, &stale, NULL, &e),
        CS_OK);
    assert_true(found);
    assert_true(stale);
    assert_int_equal(cs_store_study_get(f->s, "p1", &found, &got, &e), CS_OK);
    assert_string_equal(got.patient.family, "Jones");
    assert_int_equal(
        cs_store_study_patient_set(f->s, "nope", &p, &ep, &read, NULL, &found, &stale, NULL, &e),
        CS_OK);
    assert_false(found);
    assert_false(stale);

    cs_finding_rec a = finding("p1", 0, "polyp", "");
    snprintf(a.segment, sizeof a.segment, "left_colon");
    snprintf(a.morphology, sizeof a.morphology, "0-Isp");
    a.count = 3;
    a.suspected_cancer = true;
    a.size_mm = 7;
    assert_int_equal(cs_store_finding_create(f->s, &a, &out, &e), CS_OK);
    assert_int_equal(out, CS_CHANGE_OK);
    snprintf(a.morphology, sizeof a.morphology, "0-IIa");
    a.suspected_cancer = false;
    assert_int_equal(cs_store_finding_update(f->s, &a, 1, &out, &e), CS_OK);
    assert_int_equal(out, CS_CHANGE_OK);
    cs_finding_rec *h = NULL;
    assert_int_equal(cs_store_finding_history(f->s, "p1", a.id, &h, &n, &e), CS_OK);
    assert_int_equal(n, 2);
    assert_string_equal(h[0].segment, "left_colon");
    assert_string_equal(h[0].morphology, "0-Isp");
    assert_int_equal(h[0].count, 3);
    assert_true(h[0].suspected_cancer);
    assert_string_equal(h[1].morphology, "0-IIa");
    assert_false(h[1].suspected_cancer);
    free(h);
}

/* cs_store_worklist_facts says of every study what the per-study calls
 * say (counters, uploads, report state, a live suspected-cancer finding),
 * sorted by id. */
static void worklist_facts_match_the_per_study_calls(void **state)
{
    fx *f = *state;
    cs_error e = {0};
    cs_change_outcome out;
    cs_worklist_fact *facts = NULL;
    size_t n = 7;
    assert_int_equal(cs_store_worklist_facts(f->s, &facts, &n, &e), CS_OK);
    assert_int_equal(n, 0);
    assert_null(facts);
    add_study(f->s, "c", 1);
    add_study(f->s, "a", 2);
    add_study(f->s, "b", 3);
    /* a: counters, two uploads (one open), a read report, a suspected
     * cancer; c: a finding that is not one, and a deleted one that was. */
    fx_sql(f, "UPDATE studies SET n_frames = 9, n_ok = 8, n_readable = 7, n_bleeding = 2,"
              " n_too_dark = 1, n_too_bright = 1, n_blurry = 3, n_polyp = 4,"
              " last_capture_time_us = 123456 WHERE id = 'a'");
    fx_sql(f, "INSERT INTO uploads (id, study, length, \"offset\", state, created_at, updated_at,"
              " expires_at) VALUES ('u1', 'a', 100, 100, 1, 1, 1, 99),"
              " ('u2', 'a', 100, 40, 0, 1, 1, 99)");
    cs_report_rec r = report("a", "read", "{}");
    assert_int_equal(cs_store_report_save(f->s, &r, 0, &out, &e), CS_OK);
    assert_int_equal(out, CS_CHANGE_OK);
    cs_finding_rec sc = finding("a", 10, "mass", "");
    sc.suspected_cancer = true;
    assert_int_equal(cs_store_finding_create(f->s, &sc, &out, &e), CS_OK);
    cs_finding_rec plain = finding("c", 10, "polyp", ""), gone = finding("c", 20, "mass", "");
    gone.suspected_cancer = true;
    assert_int_equal(cs_store_finding_create(f->s, &plain, &out, &e), CS_OK);
    assert_int_equal(cs_store_finding_create(f->s, &gone, &out, &e), CS_OK);
    assert_int_equal(cs_store_finding_delete(f->s, "c", gone.id, "ann", 6000, 0, &out, &e), CS_OK);
    assert_int_equal(out, CS_CHANGE_OK);

    assert_int_equal(cs_store_worklist_facts(f->s, &facts, &n, &e), CS_OK);
    assert_int_equal(n, 3);
    const char *ids[] = {"a", "b", "c"};
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(facts[i].study, ids[i]);
        cs_study_counts c;
        assert_int_equal(cs_store_study_counts(f->s, ids[i], &c, &e), CS_OK);
        assert_memory_equal(&facts[i].counts, &c, sizeof c);
        bool found = false;
        cs_report_rec got;
        assert_int_equal(cs_store_report_get(f->s, ids[i], &found, &got, &e), CS_OK);
        assert_string_equal(facts[i].report_state, found ? got.state : "");
    }
    assert_int_equal(facts[0].counts.polyp, 4);
    assert_int_equal(facts[0].counts.uploads, 2);
    assert_int_equal(facts[0].counts.uploads_open, 1);
    assert_int_equal(facts[0].counts.bytes_received, 140);
    assert_int_equal(facts[0].counts.last_capture_time_us, 123456);
    assert_int_equal(facts[1].counts.last_capture_time_us, -1);
    assert_string_equal(facts[0].report_state, "read");
    assert_true(facts[0].suspected_cancer);
    assert_false(facts[1].suspected_cancer);
    assert_false(facts[2].suspected_cancer); /* only the deleted finding said so */
    free(facts);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, open_store, close_store)
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_schema_1_database_migrates_and_keeps_its_frames),
        T(a_newer_schema_is_refused),
        T(a_bad_database_is_refused_with_its_reason),
        cmocka_unit_test(two_first_opens_at_once_migrate_once),
        T(a_lost_connection_is_re_established),
        T(frames_keep_their_image_location_and_views_page_by_seq),
        T(studies_list_newest_first_and_carry_their_reader),
        T(users_are_unique_and_listed_by_name),
        T(a_session_needs_an_enabled_user_and_takes_its_role),
        T(purge_ends_idle_and_old_sessions_only),
        T(the_audit_log_pages_newest_first_and_filters),
        T(the_audit_limit_defaults_to_200_and_stops_at_1000),
        T(the_audit_log_refuses_update_and_delete),
        T(findings_are_versioned_and_keep_every_snapshot),
        T(marks_are_one_per_key_and_replaced),
        T(marks_before_schema_14_keep_their_first_time),
        T(a_mark_added_never_replaces_one_set_meanwhile),
        T(report_saves_are_versioned_and_keep_the_old_ones),
        T(a_signed_report_locks_the_study),
        T(the_clinical_record_round_trips),
        T(worklist_facts_match_the_per_study_calls),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
