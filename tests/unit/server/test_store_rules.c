/* test_store_rules.c - the rules the store checks inside its transactions
 * (schema 3): signing exactly what was shown, closing a study and the
 * upload lock that follows, never leaving no enabled admin; and the audit
 * log's byte-exact filters and gapless paging. */
#include <pthread.h>

#include "store_fixture.h"

static void save_report(cs_store *s, const char *study, const char *content, int *version)
{
    cs_report_rec r;
    cs_error e = {0};
    cs_change_outcome out;
    memset(&r, 0, sizeof r);
    snprintf(r.study, sizeof r.study, "%s", study);
    snprintf(r.state, sizeof r.state, "draft");
    snprintf(r.content, sizeof r.content, "%s", content);
    snprintf(r.updated_by, sizeof r.updated_by, "rita");
    r.updated_at_ms = 5000;
    assert_int_equal(cs_store_report_save(s, &r, -1, &out, &e), CS_OK);
    assert_int_equal(out, CS_CHANGE_OK);
    if (version)
        *version = r.version;
}

/* Sign version `shown` with the findings, marks and patient as they are
 * now (the basis stamp read just before). */
static cs_check_outcome sign(cs_store *s, const char *study, int shown, cs_report_rec *out)
{
    cs_error e = {0};
    cs_check_outcome o = CS_CHECK_OK;
    char basis[CS_REPORT_BASIS_HEX];
    assert_int_equal(cs_store_report_basis(s, study, basis, &e), CS_OK);
    assert_int_equal(
        cs_store_report_sign_checked(s, study, "cora", 9000, shown, basis, &o, out, &e), CS_OK);
    return o;
}

/* A study whose one upload is complete and fully analysed. */
static void complete_study(fx *f, const char *id)
{
    cs_error e = {0};
    fx_study(f->s, id, 100);
    char up[CS_ID_MAX];
    snprintf(up, sizeof up, "up-%s", id);
    fx_upload(f->s, up, id, 4096, 4096, CS_UPLOAD_COMPLETE);
    assert_int_equal(cs_store_study_set_ingest(f->s, id, 4096, &e), CS_OK);
}

static void signing_checks_version_recommendation_and_completeness(void **state)
{
    fx *f = *state;
    cs_error e = {0};
    cs_check_outcome o;
    cs_report_rec *rep = malloc(sizeof *rep);
    int v = 0;
    assert_non_null(rep);
    fx_study(f->s, "s", 100);
    assert_int_equal(sign(f->s, "s", 1, rep), CS_CHECK_NOT_FOUND);
    /* The version shown is required. */
    char basis[CS_REPORT_BASIS_HEX];
    assert_int_equal(cs_store_report_basis(f->s, "s", basis, &e), CS_OK);
    assert_int_equal(strlen(basis), CS_REPORT_BASIS_HEX - 1);
    assert_int_equal(cs_store_report_sign_checked(f->s, "s", "cora", 1, 0, basis, &o, rep, &e),
                     CS_ERR_ARG);
    assert_int_equal(cs_store_report_sign_checked(f->s, "s", "cora", 1, -1, basis, &o, rep, &e),
                     CS_ERR_ARG);
    /* ... and so is the basis stamp shown */
    assert_int_equal(cs_store_report_sign_checked(f->s, "s", "cora", 1, 1, NULL, &o, rep, &e),
                     CS_ERR_ARG);

    save_report(f->s, "s", "{\"findings\": \"none\"}", &v);
    assert_int_equal(sign(f->s, "s", v, rep), CS_CHECK_INVALID);
    save_report(f->s, "s", "{\"recommendation\": \" \\t\"}", &v);
    assert_int_equal(sign(f->s, "s", v, rep), CS_CHECK_INVALID);
    save_report(f->s, "s", "{\"recommendation\": 3}", &v);
    assert_int_equal(sign(f->s, "s", v, rep), CS_CHECK_INVALID);
    save_report(f->s, "s", "not json \"recommendation\": \"x\"", &v);
    assert_int_equal(sign(f->s, "s", v, rep), CS_CHECK_INVALID);
    save_report(f->s, "s", "{\"recommendation\": \"routine recall\"}", &v);
    /* Stale: the consultant was shown the version before. */
    assert_int_equal(sign(f->s, "s", v - 1, rep), CS_CHECK_CONFLICT);
    assert_int_equal(sign(f->s, "s", v + 1, rep), CS_CHECK_CONFLICT);

    /* Incomplete: no upload yet; an open upload; a complete one not yet
     * analysed to its end. */
    assert_int_equal(sign(f->s, "s", v, rep), CS_CHECK_INCOMPLETE);
    fx_upload(f->s, "u1", "s", 1000, 1000, CS_UPLOAD_COMPLETE);
    fx_upload(f->s, "u2", "s", 2000, 700, CS_UPLOAD_OPEN);
    assert_int_equal(cs_store_study_set_ingest(f->s, "s", 1700, &e), CS_OK);
    assert_int_equal(sign(f->s, "s", v, rep), CS_CHECK_INCOMPLETE);
    cs_upload_rec u;
    bool found = false;
    assert_int_equal(cs_store_upload_get(f->s, "u2", &found, &u, &e), CS_OK);
    u.offset = 2000;
    u.state = CS_UPLOAD_COMPLETE;
    assert_int_equal(cs_store_upload_update(f->s, &u, &e), CS_OK);
    assert_int_equal(sign(f->s, "s", v, rep), CS_CHECK_INCOMPLETE); /* 1700 < 3000 */
    assert_int_equal(cs_store_study_set_ingest(f->s, "s", 2999, &e), CS_OK);
    assert_int_equal(sign(f->s, "s", v, rep), CS_CHECK_INCOMPLETE);
    /* An expired (not complete) upload needs a close. */
    fx_upload(f->s, "u3", "s", 50, 10, CS_UPLOAD_EXPIRED);
    assert_int_equal(cs_store_study_set_ingest(f->s, "s", 3010, &e), CS_OK);
    assert_int_equal(sign(f->s, "s", v, rep), CS_CHECK_INCOMPLETE);
    bool is_signed = true;
    assert_int_equal(cs_store_report_signed(f->s, "s", &is_signed, &e), CS_OK);
    assert_false(is_signed);
    assert_int_equal(cs_store_study_close(f->s, "s", "cora", 8000, &o, &e), CS_OK);
    assert_int_equal(o, CS_CHECK_OK);

    assert_int_equal(sign(f->s, "s", v, rep), CS_CHECK_OK);
    assert_string_equal(rep->state, "signed");
    assert_string_equal(rep->signed_by, "cora");
    assert_int_equal(rep->signed_at_ms, 9000);
    assert_int_equal(rep->version, v);
    assert_string_equal(rep->content, "{\"recommendation\": \"routine recall\"}");
    assert_int_equal(sign(f->s, "s", v, rep), CS_CHECK_LOCKED);
    free(rep);
}

static void a_complete_study_signs_without_a_close(void **state)
{
    fx *f = *state;
    int v = 0;
    complete_study(f, "s");
    save_report(f->s, "s", "{\"recommendation\": \"colonoscopy\"}", &v);
    assert_int_equal(sign(f->s, "s", v, NULL), CS_CHECK_OK);
}

/* Two threads: one saves reports (with and without a recommendation) as
 * fast as it can, the other reads and signs what it read. The signature
 * must land on exactly the content the signer read, never on one without
 * a recommendation, and nothing may be saved after it. */
typedef struct race {
    cs_store *s;
    cs_store *s_save; /* the saver's store: s, or a second handle (connection) */
    int saves_ok, saves_locked;
    bool signed_ok;
    cs_report_rec *seen, *signed_rec;
} race;

static void *saver(void *arg)
{
    race *r = arg;
    cs_report_rec *rep = malloc(sizeof *rep);
    if (!rep)
        return NULL;
    for (int i = 0; i < 300; i++) {
        cs_error e = {0};
        cs_change_outcome out;
        memset(rep, 0, sizeof *rep);
        snprintf(rep->study, sizeof rep->study, "s");
        snprintf(rep->state, sizeof rep->state, "draft");
        snprintf(rep->content, sizeof rep->content,
                 i % 3 == 0   ? "{\"recommendation\": \"recall %d\"}"
                 : i % 3 == 1 ? "{\"recommendation\": \"\", \"n\": %d}"
                              : "{\"n\": %d}",
                 i);
        snprintf(rep->updated_by, sizeof rep->updated_by, "rita");
        rep->updated_at_ms = i;
        if (cs_store_report_save(r->s_save ? r->s_save : r->s, rep, -1, &out, &e) != CS_OK)
            break;
        if (out == CS_CHANGE_OK)
            r->saves_ok++;
        else if (out == CS_CHANGE_LOCKED)
            r->saves_locked++;
    }
    free(rep);
    return NULL;
}

static void *signer(void *arg)
{
    race *r = arg;
    for (int i = 0; i < 300 && !r->signed_ok; i++) {
        cs_error e = {0};
        bool found = false;
        cs_check_outcome o;
        char basis[CS_REPORT_BASIS_HEX];
        if (cs_store_report_basis(r->s, "s", basis, &e) != CS_OK ||
            cs_store_report_get(r->s, "s", &found, r->seen, &e) != CS_OK || !found)
            continue;
        if (cs_store_report_sign_checked(r->s, "s", "cora", 1, r->seen->version, basis, &o,
                                         r->signed_rec, &e) != CS_OK)
            break;
        r->signed_ok = o == CS_CHECK_OK;
    }
    return NULL;
}

static void race_saves_and_a_signature(fx *f, cs_store *saver_store)
{
    cs_error e = {0};
    complete_study(f, "s");
    race r = {.s = f->s, .s_save = saver_store};
    r.seen = malloc(sizeof *r.seen);
    r.signed_rec = malloc(sizeof *r.signed_rec);
    assert_non_null(r.seen);
    assert_non_null(r.signed_rec);
    pthread_t a, b;
    assert_int_equal(pthread_create(&a, NULL, saver, &r), 0);
    assert_int_equal(pthread_create(&b, NULL, signer, &r), 0);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    assert_int_equal(r.saves_ok + r.saves_locked, 300);
    cs_report_rec *now = malloc(sizeof *now);
    bool found = false;
    assert_non_null(now);
    assert_int_equal(cs_store_report_get(f->s, "s", &found, now, &e), CS_OK);
    assert_true(found);
    if (r.signed_ok) {
        /* exactly what the signer read, with a recommendation */
        assert_int_equal(r.signed_rec->version, r.seen->version);
        assert_string_equal(r.signed_rec->content, r.seen->content);
        assert_non_null(strstr(r.signed_rec->content, "\"recommendation\": \"recall"));
        /* and nothing saved after it */
        assert_string_equal(now->state, "signed");
        assert_int_equal(now->version, r.signed_rec->version);
        assert_string_equal(now->content, r.signed_rec->content);
        assert_int_equal(now->version, r.saves_ok);
    } else {
        /* The saver ended on a version without one, or the signer never
         * caught a signable version: then nothing is signed. */
        assert_string_equal(now->state, "draft");
        assert_int_equal(r.saves_locked, 0);
    }
    free(now);
    free(r.seen);
    free(r.signed_rec);
}

static void racing_saves_never_slip_under_a_signature(void **state)
{
    race_saves_and_a_signature(*state, NULL);
}

/* The same race with the saver on a connection of its own, as a second
 * server would be: the check-then-write must hold across connections
 * (SQLite: BEGIN IMMEDIATE; PostgreSQL: the study's advisory lock). */
static void saves_from_another_connection_never_slip_under_a_signature(void **state)
{
    fx *f = *state;
    cs_store *other = NULL;
    cs_error e = {0};
    assert_int_equal(fx_open_store(f, &other, &e), CS_OK);
    race_saves_and_a_signature(f, other);
    cs_store_close(other);
}

/* ---- closing a study ---------------------------------------------------------- */

static cs_check_outcome update_upload(cs_store *s, const char *id, uint64_t offset,
                                      cs_upload_state state)
{
    cs_upload_rec u;
    cs_error e = {0};
    bool found = false;
    cs_check_outcome o = CS_CHECK_OK;
    assert_int_equal(cs_store_upload_get(s, id, &found, &u, &e), CS_OK);
    assert_true(found);
    u.offset = offset;
    u.state = state;
    assert_int_equal(cs_store_upload_update_checked(s, &u, &o, &e), CS_OK);
    return o;
}

static cs_check_outcome create_upload(cs_store *s, const char *id, const char *study)
{
    cs_upload_rec u;
    cs_error e = {0};
    cs_check_outcome o = CS_CHECK_OK;
    memset(&u, 0, sizeof u);
    snprintf(u.id, sizeof u.id, "%s", id);
    snprintf(u.study, sizeof u.study, "%s", study);
    u.length = 100;
    u.checksum_base = -1;
    assert_int_equal(cs_store_upload_create_checked(s, &u, &o, &e), CS_OK);
    return o;
}

/* A creation whose answer was lost leaves an empty open upload behind; the
 * next creation ends it (nothing in it), so the study's analysis, which
 * reads the uploads in creation order, is not held back. An earlier upload
 * that holds bytes stays open, and other studies are untouched. */
static void a_new_upload_ends_the_study_s_empty_open_ones(void **state)
{
    fx *f = *state;
    cs_error e = {0};
    bool found = false;
    cs_upload_rec u;
    fx_study(f->s, "s", 100);
    fx_study(f->s, "t", 100);
    assert_int_equal(create_upload(f->s, "lost", "s"), CS_CHECK_OK);
    assert_int_equal(create_upload(f->s, "other-study", "t"), CS_CHECK_OK);
    fx_upload(f->s, "has-bytes", "s", 100, 10, CS_UPLOAD_OPEN);
    assert_int_equal(create_upload(f->s, "next", "s"), CS_CHECK_OK);

    assert_int_equal(cs_store_upload_get(f->s, "lost", &found, &u, &e), CS_OK);
    assert_true(found);
    assert_int_equal(u.state, CS_UPLOAD_TERMINATED);
    assert_int_equal(cs_store_upload_get(f->s, "has-bytes", &found, &u, &e), CS_OK);
    assert_int_equal(u.state, CS_UPLOAD_OPEN);
    assert_int_equal(u.offset, 10);
    assert_int_equal(cs_store_upload_get(f->s, "other-study", &found, &u, &e), CS_OK);
    assert_int_equal(u.state, CS_UPLOAD_OPEN);
    assert_int_equal(cs_store_upload_get(f->s, "next", &found, &u, &e), CS_OK);
    assert_int_equal(u.state, CS_UPLOAD_OPEN);
}

/* The race of a first body and a newer creation: the body's save was read
 * while the upload was open, the creation ended it, then the save came.
 * The store refuses it in the write's own transaction (CONFLICT): saved,
 * the ended upload would reopen and its bytes slide in front of the newer
 * upload's, under frames already analysed from there. */
static void an_ended_upload_is_never_saved_again(void **state)
{
    fx *f = *state;
    cs_error e = {0};
    bool found = false;
    cs_check_outcome o = CS_CHECK_OK;
    cs_upload_rec stale, u;
    fx_study(f->s, "s", 100);
    assert_int_equal(create_upload(f->s, "first", "s"), CS_CHECK_OK);
    assert_int_equal(cs_store_upload_get(f->s, "first", &found, &stale, &e), CS_OK);
    assert_int_equal(create_upload(f->s, "newer", "s"), CS_CHECK_OK);
    for (int i = 0; i < 2; i++) { /* open with its bytes, or closed as an orphan */
        stale.offset = 50;
        stale.state = i == 0 ? CS_UPLOAD_OPEN : CS_UPLOAD_TERMINATED;
        assert_int_equal(cs_store_upload_update_checked(f->s, &stale, &o, &e), CS_OK);
        assert_int_equal(o, CS_CHECK_CONFLICT);
        assert_int_equal(cs_store_upload_get(f->s, "first", &found, &u, &e), CS_OK);
        assert_int_equal(u.state, CS_UPLOAD_TERMINATED);
        assert_int_equal(u.offset, 0);
    }
    assert_int_equal(update_upload(f->s, "newer", 30, CS_UPLOAD_OPEN), CS_CHECK_OK);
}

static void a_closed_study_takes_no_more_bytes_devices_or_enrolment(void **state)
{
    fx *f = *state;
    cs_error e = {0};
    cs_check_outcome o;
    fx_study(f->s, "s", 100);
    fx_study(f->s, "other", 100);
    char study[CS_ID_MAX];
    cs_enrol_outcome eo;
    assert_int_equal(cs_store_enrol(f->s, "code-other", "tok-other", 200, &eo, study, &e), CS_OK);
    assert_int_equal(eo, CS_ENROL_OK);
    fx_upload(f->s, "u1", "s", 100, 100, CS_UPLOAD_COMPLETE);
    fx_upload(f->s, "u2", "s", 900, 40, CS_UPLOAD_OPEN);
    fx_upload(f->s, "u3", "other", 900, 40, CS_UPLOAD_OPEN);
    assert_int_equal(create_upload(f->s, "u4", "s"), CS_CHECK_OK);
    assert_int_equal(create_upload(f->s, "u5", "nope"), CS_CHECK_NOT_FOUND);
    assert_int_equal(update_upload(f->s, "u2", 80, CS_UPLOAD_OPEN), CS_CHECK_OK);
    /* a device of "s" too */
    fx_sql(f, "INSERT INTO devices (token_hash, study, created_at) VALUES ('tok-s', 's', 1)");

    assert_int_equal(cs_store_study_close(f->s, "nope", "cora", 5000, &o, &e), CS_OK);
    assert_int_equal(o, CS_CHECK_NOT_FOUND);
    assert_int_equal(cs_store_study_close(f->s, "s", "cora", 5000, &o, &e), CS_OK);
    assert_int_equal(o, CS_CHECK_OK);
    assert_int_equal(cs_store_study_close(f->s, "s", "cody", 6000, &o, &e), CS_OK);
    assert_int_equal(o, CS_CHECK_CONFLICT);
    cs_study_rec sr;
    bool found = false;
    assert_int_equal(cs_store_study_get(f->s, "s", &found, &sr, &e), CS_OK);
    assert_int_equal(sr.closed_at_ms, 5000); /* the first close stands */
    assert_string_equal(sr.closed_by, "cora");

    /* Its open uploads ended, their bytes kept; the other study's did not. */
    cs_upload_rec u;
    assert_int_equal(cs_store_upload_get(f->s, "u2", &found, &u, &e), CS_OK);
    assert_int_equal(u.state, CS_UPLOAD_TERMINATED);
    assert_int_equal(u.offset, 80);
    assert_int_equal(u.updated_at, 5);
    assert_int_equal(cs_store_upload_get(f->s, "u1", &found, &u, &e), CS_OK);
    assert_int_equal(u.state, CS_UPLOAD_COMPLETE);
    assert_int_equal(cs_store_upload_get(f->s, "u3", &found, &u, &e), CS_OK);
    assert_int_equal(u.state, CS_UPLOAD_OPEN);

    /* No byte moves, no upload starts, no device works, no code enrols. */
    assert_int_equal(update_upload(f->s, "u2", 120, CS_UPLOAD_OPEN), CS_CHECK_LOCKED);
    assert_int_equal(update_upload(f->s, "u4", 0, CS_UPLOAD_COMPLETE), CS_CHECK_LOCKED);
    assert_int_equal(cs_store_upload_get(f->s, "u2", &found, &u, &e), CS_OK);
    assert_int_equal(u.offset, 80);
    assert_int_equal(u.state, CS_UPLOAD_TERMINATED);
    assert_int_equal(create_upload(f->s, "u6", "s"), CS_CHECK_LOCKED);
    assert_int_equal(cs_store_upload_get(f->s, "u6", &found, &u, &e), CS_OK);
    assert_false(found);
    assert_int_equal(cs_store_device_study(f->s, "tok-s", &found, study, &e), CS_OK);
    assert_false(found);
    assert_int_equal(cs_store_enrol(f->s, "code-s", "tok-new", 200, &eo, study, &e), CS_OK);
    assert_int_equal(eo, CS_ENROL_USED);
    assert_int_equal(cs_store_device_study(f->s, "tok-new", &found, study, &e), CS_OK);
    assert_false(found);
    /* The other study goes on. */
    assert_int_equal(update_upload(f->s, "u3", 90, CS_UPLOAD_OPEN), CS_CHECK_OK);
    assert_int_equal(cs_store_device_study(f->s, "tok-other", &found, study, &e), CS_OK);
    assert_true(found);
    memset(&u, 0, sizeof u);
    snprintf(u.id, sizeof u.id, "nope");
    assert_int_equal(cs_store_upload_update_checked(f->s, &u, &o, &e), CS_OK);
    assert_int_equal(o, CS_CHECK_NOT_FOUND);
}

static void a_signed_report_locks_the_uploads_too(void **state)
{
    fx *f = *state;
    int v = 0;
    complete_study(f, "s");
    save_report(f->s, "s", "{\"recommendation\": \"recall\"}", &v);
    assert_int_equal(sign(f->s, "s", v, NULL), CS_CHECK_OK);
    assert_int_equal(update_upload(f->s, "up-s", 5000, CS_UPLOAD_OPEN), CS_CHECK_LOCKED);
    assert_int_equal(create_upload(f->s, "late", "s"), CS_CHECK_LOCKED);
}

/* ---- the last admin ----------------------------------------------------------------- */

static cs_check_outcome set_user(cs_store *s, const char *name, const char *role, bool disabled,
                                 const char *pw)
{
    cs_user_rec u;
    cs_error e = {0};
    bool found = false;
    cs_check_outcome o = CS_CHECK_OK;
    assert_int_equal(cs_store_user_get(s, name, &found, &u, &e), CS_OK);
    if (!found)
        snprintf(u.name, sizeof u.name, "%s", name);
    snprintf(u.role, sizeof u.role, "%s", role);
    u.disabled = disabled;
    if (pw)
        snprintf(u.pw_hash, sizeof u.pw_hash, "%s", pw);
    assert_int_equal(cs_store_user_update_checked(s, &u, &o, &e), CS_OK);
    return o;
}

static void the_last_enabled_admin_cannot_be_demoted_or_disabled(void **state)
{
    fx *f = *state;
    cs_error e = {0};
    fx_user(f->s, "ada", "admin");
    fx_user(f->s, "bob", "admin");
    fx_user(f->s, "rita", "reader");
    assert_int_equal(set_user(f->s, "nobody", "admin", false, NULL), CS_CHECK_NOT_FOUND);
    assert_int_equal(set_user(f->s, "bob", "reader", false, NULL), CS_CHECK_OK);
    assert_int_equal(set_user(f->s, "ada", "reader", false, NULL), CS_CHECK_LAST_ADMIN);
    assert_int_equal(set_user(f->s, "ada", "admin", true, NULL), CS_CHECK_LAST_ADMIN);
    cs_user_rec u;
    bool found = false;
    assert_int_equal(cs_store_user_get(f->s, "ada", &found, &u, &e), CS_OK);
    assert_string_equal(u.role, "admin");
    assert_false(u.disabled);
    /* What keeps an admin is fine. */
    assert_int_equal(set_user(f->s, "ada", "admin", false, "$argon2id$new"), CS_CHECK_OK);
    assert_int_equal(set_user(f->s, "rita", "consultant", true, NULL), CS_CHECK_OK);
    /* A disabled admin does not count as one. */
    assert_int_equal(set_user(f->s, "bob", "admin", true, NULL), CS_CHECK_OK);
    assert_int_equal(set_user(f->s, "ada", "coordinator", false, NULL), CS_CHECK_LAST_ADMIN);
    assert_int_equal(set_user(f->s, "bob", "admin", false, NULL), CS_CHECK_OK);
    assert_int_equal(set_user(f->s, "ada", "coordinator", false, NULL), CS_CHECK_OK);
    assert_int_equal(set_user(f->s, "bob", "admin", true, NULL), CS_CHECK_LAST_ADMIN);
}

/* Two connections each demote a different one of the two admins at the
 * same moment, many times over: exactly one may win each round, or the
 * service is left without an admin. */
typedef struct demote {
    cs_store *s;
    const char *name;
    pthread_barrier_t *go;
    cs_check_outcome o;
} demote;

static void *demoter(void *arg)
{
    demote *d = arg;
    pthread_barrier_wait(d->go);
    d->o = set_user(d->s, d->name, "reader", false, NULL);
    return NULL;
}

static void two_connections_cannot_demote_both_last_admins(void **state)
{
    fx *f = *state;
    cs_store *other = NULL;
    cs_error e = {0};
    assert_int_equal(fx_open_store(f, &other, &e), CS_OK);
    fx_user(f->s, "ada", "admin");
    fx_user(f->s, "bob", "admin");
    for (int round = 0; round < 20; round++) {
        pthread_barrier_t go;
        pthread_barrier_init(&go, NULL, 2);
        demote a = {.s = f->s, .name = "ada", .go = &go};
        demote b = {.s = other, .name = "bob", .go = &go};
        pthread_t ta, tb;
        assert_int_equal(pthread_create(&ta, NULL, demoter, &a), 0);
        assert_int_equal(pthread_create(&tb, NULL, demoter, &b), 0);
        pthread_join(ta, NULL);
        pthread_join(tb, NULL);
        pthread_barrier_destroy(&go);
        assert_true((a.o == CS_CHECK_OK) != (b.o == CS_CHECK_OK));
        assert_true(a.o == CS_CHECK_LAST_ADMIN || b.o == CS_CHECK_LAST_ADMIN);
        assert_int_equal(
            fx_sql_scalar(f, "SELECT COUNT(*) FROM users WHERE role = 'admin' AND disabled = 0"),
            1);
        /* both admins again for the next round */
        assert_int_equal(set_user(other, a.o == CS_CHECK_OK ? "ada" : "bob", "admin", false, NULL),
                         CS_CHECK_OK);
    }
    cs_store_close(other);
}

/* ---- the audit log ------------------------------------------------------------------- */

static void audit(cs_store *s, int64_t at_ms, const char *user, const char *action,
                  const char *study, int i)
{
    cs_audit_rec r;
    cs_error e = {0};
    memset(&r, 0, sizeof r);
    r.at_ms = at_ms;
    snprintf(r.user, sizeof r.user, "%s", user);
    snprintf(r.role, sizeof r.role, "reader");
    snprintf(r.action, sizeof r.action, "%s", action);
    snprintf(r.study, sizeof r.study, "%s", study);
    snprintf(r.detail, sizeof r.detail, "entry %d", i);
    assert_int_equal(cs_store_audit_append(s, &r, &e), CS_OK);
}

static size_t query(cs_store *s, const char *user, const char *action, const char *study,
                    cs_audit_rec **out)
{
    cs_audit_query q = {.user = user, .action = action, .study = study};
    cs_error e = {0};
    size_t n = 0;
    assert_int_equal(cs_store_audit_query(s, &q, out, &n, &e), CS_OK);
    return n;
}

static void audit_filters_match_bytes_exactly(void **state)
{
    fx *f = *state;
    static const char *const users[] = {
        "a%",  "a_",  "ab",   "A%",   "a%b", "o'brien",   "o\"q",
        "zoë", "zoe", "zoë ", " zoë", "ZOË", "100%_sure", "x\\y",
    };
    size_t nu = sizeof users / sizeof users[0];
    for (size_t i = 0; i < nu; i++)
        audit(f->s, 1000, users[i], i % 2 ? "study.o%en" : "study.open", i % 2 ? "s_1" : "s%1",
              (int)i);
    for (size_t i = 0; i < nu; i++) {
        cs_audit_rec *r = NULL;
        size_t n = query(f->s, users[i], NULL, NULL, &r);
        assert_int_equal(n, 1);
        assert_string_equal(r[0].user, users[i]);
        assert_string_equal(r[0].study, i % 2 ? "s_1" : "s%1");
        free(r);
    }
    cs_audit_rec *r = NULL;
    assert_int_equal(query(f->s, "%", NULL, NULL, &r), 0);
    assert_int_equal(query(f->s, "a", NULL, NULL, &r), 0);
    assert_int_equal(query(f->s, "zo_", NULL, NULL, &r), 0);
    assert_int_equal(query(f->s, NULL, "study.o%en", NULL, &r), nu / 2);
    free(r);
    assert_int_equal(query(f->s, NULL, "study.o_en", NULL, &r), 0);
    assert_int_equal(query(f->s, NULL, "STUDY.OPEN", NULL, &r), 0);
    assert_int_equal(query(f->s, NULL, NULL, "s_1", &r), nu / 2);
    free(r);
    assert_int_equal(query(f->s, NULL, NULL, "s%1", &r), nu - nu / 2);
    free(r);
    assert_int_equal(query(f->s, NULL, NULL, "s11", &r), 0);
    assert_int_equal(query(f->s, "zoë", "study.o%en", "s_1", &r), 1);
    assert_string_equal(r[0].detail, "entry 7");
    free(r);
}

static void audit_paging_leaves_no_row_out_when_times_tie(void **state)
{
    fx *f = *state;
    cs_error e = {0};
    enum { N = 2600 };
    for (int i = 0; i < N; i++)
        audit(f->s, i < 2000 ? 777 : 778, i % 3 ? "rita" : "cora", "frames.view", "s", i);
    static bool seen[N];
    memset(seen, 0, sizeof seen);
    /* Every page size, including more than the cap of 1000. */
    const size_t sizes[] = {7, 1000, 5000};
    for (size_t k = 0; k < 3; k++) {
        memset(seen, 0, sizeof seen);
        int64_t before = 0, last = INT64_MAX;
        size_t total = 0;
        for (;;) {
            cs_audit_query q = {
                .limit = sizes[k], .before_n = before, .since_ms = 777, .until_ms = 778};
            cs_audit_rec *r = NULL;
            size_t n = 0;
            assert_int_equal(cs_store_audit_query(f->s, &q, &r, &n, &e), CS_OK);
            if (n == 0)
                break;
            for (size_t i = 0; i < n; i++) {
                int idx = atoi(r[i].detail + strlen("entry "));
                assert_true(r[i].n < last); /* newest first, strictly */
                last = r[i].n;
                assert_false(seen[idx]);
                seen[idx] = true;
                total++;
            }
            before = r[n - 1].n;
            free(r);
        }
        assert_int_equal(total, N);
    }
    /* With a filter, too. */
    int64_t before = 0;
    size_t total = 0;
    for (;;) {
        cs_audit_query q = {.user = "cora", .limit = 13, .before_n = before};
        cs_audit_rec *r = NULL;
        size_t n = 0;
        assert_int_equal(cs_store_audit_query(f->s, &q, &r, &n, &e), CS_OK);
        if (n == 0)
            break;
        total += n;
        before = r[n - 1].n;
        free(r);
    }
    assert_int_equal(total, (N + 2) / 3);
}

/* The printed report lists the findings and derives from the marks and
 * the patient: a change to any of them after the consultant was shown the
 * report changes its basis stamp, and signing with the stamp shown is then
 * refused (nothing signed); the stamp shown now signs. */
static void a_finding_mark_or_patient_changed_since_shown_refuses_the_signature(void **state)
{
    fx *f = *state;
    cs_error e = {0};
    cs_change_outcome out;
    cs_check_outcome o;
    cs_report_rec *rep = malloc(sizeof *rep);
    assert_non_null(rep);
    complete_study(f, "s");
    int v = 0;
    save_report(f->s, "s", "{\"recommendation\": \"no_further_test\"}", &v);
    char shown[CS_REPORT_BASIS_HEX], again[CS_REPORT_BASIS_HEX], now[CS_REPORT_BASIS_HEX];
    assert_int_equal(cs_store_report_basis(f->s, "s", shown, &e), CS_OK);
    assert_int_equal(cs_store_report_basis(f->s, "s", again, &e), CS_OK);
    assert_string_equal(shown, again); /* a stamp of the data, nothing else */

    /* Each change moves the stamp; signing with the older one is refused. */
    cs_finding_rec fd = {.seq_from = 5, .seq_to = 5, .size_mm = 6, .count = 1};
    snprintf(fd.study, sizeof fd.study, "s");
    snprintf(fd.type, sizeof fd.type, "polyp");
    snprintf(fd.created_by, sizeof fd.created_by, "rita");
    snprintf(fd.updated_by, sizeof fd.updated_by, "rita");
    assert_int_equal(cs_store_finding_create(f->s, &fd, &out, &e), CS_OK);
    assert_int_equal(out, CS_CHANGE_OK);
    assert_int_equal(cs_store_report_basis(f->s, "s", now, &e), CS_OK);
    assert_string_not_equal(now, shown);
    assert_int_equal(cs_store_report_sign_checked(f->s, "s", "cora", 9000, v, shown, &o, rep, &e),
                     CS_OK);
    assert_int_equal(o, CS_CHECK_BASIS_CHANGED);
    memcpy(shown, now, sizeof shown);
    fd.size_mm = 7; /* an edit */
    assert_int_equal(cs_store_finding_update(f->s, &fd, fd.version, &out, &e), CS_OK);
    assert_int_equal(out, CS_CHANGE_OK);
    assert_int_equal(cs_store_report_basis(f->s, "s", now, &e), CS_OK);
    assert_string_not_equal(now, shown);
    memcpy(shown, now, sizeof shown);
    cs_mark_rec m = {.seq = 40, .at_ms = 1};
    snprintf(m.kind, sizeof m.kind, "landmark");
    snprintf(m.key, sizeof m.key, "first_caecal");
    snprintf(m.by, sizeof m.by, "rita");
    assert_int_equal(cs_store_mark_set(f->s, "s", &m, &out, &e), CS_OK);
    assert_int_equal(cs_store_report_basis(f->s, "s", now, &e), CS_OK);
    assert_string_not_equal(now, shown);
    memcpy(shown, now, sizeof shown);
    cs_patient_rec p = {0};
    cs_episode_rec ep = {0};
    snprintf(p.family, sizeof p.family, "Smith");
    bool found = false;
    assert_int_equal(
        cs_store_study_patient_set(f->s, "s", &p, &ep, NULL, NULL, &found, NULL, NULL, &e), CS_OK);
    assert_true(found);
    assert_int_equal(cs_store_report_basis(f->s, "s", now, &e), CS_OK);
    assert_string_not_equal(now, shown);
    assert_int_equal(cs_store_report_sign_checked(f->s, "s", "cora", 9000, v, shown, &o, rep, &e),
                     CS_OK);
    assert_int_equal(o, CS_CHECK_BASIS_CHANGED);
    bool is_signed = true;
    assert_int_equal(cs_store_report_signed(f->s, "s", &is_signed, &e), CS_OK);
    assert_false(is_signed);
    /* the stamp of what is there now signs */
    assert_int_equal(cs_store_report_sign_checked(f->s, "s", "cora", 9000, v, now, &o, rep, &e),
                     CS_OK);
    assert_int_equal(o, CS_CHECK_OK);
    free(rep);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, fx_open, fx_close)
        T(signing_checks_version_recommendation_and_completeness),
        T(a_complete_study_signs_without_a_close),
        T(a_finding_mark_or_patient_changed_since_shown_refuses_the_signature),
        T(racing_saves_never_slip_under_a_signature),
        T(saves_from_another_connection_never_slip_under_a_signature),
        T(a_new_upload_ends_the_study_s_empty_open_ones),
        T(an_ended_upload_is_never_saved_again),
        T(a_closed_study_takes_no_more_bytes_devices_or_enrolment),
        T(a_signed_report_locks_the_uploads_too),
        T(the_last_enabled_admin_cannot_be_demoted_or_disabled),
        T(two_connections_cannot_demote_both_last_admins),
        T(audit_filters_match_bytes_exactly),
        T(audit_paging_leaves_no_row_out_when_times_tie),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
