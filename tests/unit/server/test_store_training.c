/* test_store_training.c - the store's reader-training calls (schema 6,
 * store.h), on SQLite and again on PostgreSQL (the .pg variant): a course
 * id is taken once; a case needs its course and study and is one per
 * study, in any course; an attempt is one per trainee and case (a second
 * start returns it); answers change until the submit and never after;
 * lists filter by course and trainee; a study's purpose (schema 12) is
 * kept, and the migration to it makes the studies of imported cases
 * training studies. */
#include "store_fixture.h"

static cs_course_rec course(const char *id, const char *name)
{
    cs_course_rec c;
    memset(&c, 0, sizeof c);
    snprintf(c.id, sizeof c.id, "%s", id);
    snprintf(c.name, sizeof c.name, "%s", name);
    c.show_flags = true;
    c.tolerance_frames = 3;
    c.standard_cases = 20;
    c.standard_sensitivity = 0.9;
    snprintf(c.created_by, sizeof c.created_by, "teach");
    c.created_at_ms = 1000;
    return c;
}

static cs_case_rec *kase(const char *id, const char *crs, const char *study)
{
    cs_case_rec *k = calloc(1, sizeof *k);
    assert_non_null(k);
    snprintf(k->id, sizeof k->id, "%s", id);
    snprintf(k->course, sizeof k->course, "%s", crs);
    snprintf(k->study, sizeof k->study, "%s", study);
    snprintf(k->label, sizeof k->label, "Case %s", id);
    snprintf(k->reference, sizeof k->reference, "{\"findings\": []}");
    snprintf(k->created_by, sizeof k->created_by, "teach");
    k->created_at_ms = 2000;
    return k;
}

static void courses_cases_and_attempts(void **state)
{
    fx *f = *state;
    cs_error e = {0};
    cs_check_outcome out;
    bool found = false;
    fx_study(f->s, "s1", 10);
    fx_study(f->s, "s2", 20);
    fx_study(f->s, "s3", 30);

    cs_course_rec c1 = course("c1", "Beta"), c2 = course("c2", "Alpha");
    assert_int_equal(cs_store_course_create(f->s, &c1, &out, &e), CS_OK);
    assert_int_equal(out, CS_CHECK_OK);
    assert_int_equal(cs_store_course_create(f->s, &c2, &out, &e), CS_OK);
    assert_int_equal(cs_store_course_create(f->s, &c1, &out, &e), CS_OK);
    assert_int_equal(out, CS_CHECK_CONFLICT);
    cs_course_rec *cl = NULL, got;
    size_t n = 0;
    assert_int_equal(cs_store_courses_list(f->s, &cl, &n, &e), CS_OK);
    assert_int_equal(n, 2);
    assert_string_equal(cl[0].name, "Alpha"); /* by name */
    free(cl);
    assert_int_equal(cs_store_course_get(f->s, "c1", &found, &got, &e), CS_OK);
    assert_true(found);
    assert_true(got.show_flags && got.tolerance_frames == 3 && got.standard_cases == 20);
    assert_true(got.standard_sensitivity > 0.899 && got.standard_sensitivity < 0.901);

    cs_case_rec *k1 = kase("k1", "c1", "s1"), *k2 = kase("k2", "c1", "s2"),
                *dup = kase("k3", "c1", "s1"), *nocourse = kase("k4", "nope", "s1"),
                *nostudy = kase("k5", "c1", "nope"), *other = kase("k6x", "c2", "s1"),
                *k6 = kase("k6", "c2", "s3");
    assert_int_equal(cs_store_case_create(f->s, k1, &out, &e), CS_OK);
    assert_int_equal(out, CS_CHECK_OK);
    assert_int_equal(cs_store_case_create(f->s, k2, &out, &e), CS_OK);
    assert_int_equal(cs_store_case_create(f->s, dup, &out, &e), CS_OK);
    assert_int_equal(out, CS_CHECK_CONFLICT);
    assert_int_equal(cs_store_case_create(f->s, nocourse, &out, &e), CS_OK);
    assert_int_equal(out, CS_CHECK_NOT_FOUND);
    assert_int_equal(cs_store_case_create(f->s, nostudy, &out, &e), CS_OK);
    assert_int_equal(out, CS_CHECK_NOT_FOUND);
    /* s1 is a case of c1: not of another course too (its reference, opened
     * after submitting one, would answer the other) */
    assert_int_equal(cs_store_case_create(f->s, other, &out, &e), CS_OK);
    assert_int_equal(out, CS_CHECK_CONFLICT);
    assert_int_equal(cs_store_case_create(f->s, k6, &out, &e), CS_OK);
    assert_int_equal(out, CS_CHECK_OK);
    cs_case_rec *ks = NULL;
    assert_int_equal(cs_store_cases_list(f->s, "c1", &ks, &n, &e), CS_OK);
    assert_int_equal(n, 2);
    free(ks);

    cs_attempt_rec *a = calloc(1, sizeof *a), *b = calloc(1, sizeof *b);
    assert_non_null(a);
    assert_non_null(b);
    assert_int_equal(cs_store_attempt_open(f->s, "k1", "ann", 5000, a, &out, &e), CS_OK);
    assert_int_equal(out, CS_CHECK_OK);
    assert_string_equal(a->course, "c1");
    assert_int_equal(a->submitted_at_ms, 0);
    assert_int_equal(cs_store_attempt_open(f->s, "k1", "ann", 9000, b, &out, &e), CS_OK);
    assert_int_equal(b->id, a->id);
    assert_int_equal(b->started_at_ms, 5000); /* the first start stands */
    assert_int_equal(cs_store_attempt_open(f->s, "nope", "ann", 9000, b, &out, &e), CS_OK);
    assert_int_equal(out, CS_CHECK_NOT_FOUND);
    assert_int_equal(cs_store_attempt_open(f->s, "k6", "ann", 6000, b, &out, &e), CS_OK);
    assert_int_equal(cs_store_attempt_open(f->s, "k2", "bob", 7000, b, &out, &e), CS_OK);

    assert_int_equal(cs_store_attempt_answer(f->s, a->id, "{\"findings\": [1]}", &out, &e), CS_OK);
    assert_int_equal(out, CS_CHECK_OK);
    assert_int_equal(
        cs_store_attempt_submit(f->s, a->id, "{\"findings\": [2]}", "{\"s\": 1}", 8000, &out, &e),
        CS_OK);
    assert_int_equal(out, CS_CHECK_OK);
    assert_int_equal(cs_store_attempt_answer(f->s, a->id, "{}", &out, &e), CS_OK);
    assert_int_equal(out, CS_CHECK_LOCKED);
    assert_int_equal(cs_store_attempt_submit(f->s, a->id, "{}", "{}", 9000, &out, &e), CS_OK);
    assert_int_equal(out, CS_CHECK_LOCKED);
    assert_int_equal(cs_store_attempt_answer(f->s, 999999, "{}", &out, &e), CS_OK);
    assert_int_equal(out, CS_CHECK_NOT_FOUND);
    assert_int_equal(cs_store_attempt_get(f->s, a->id, &found, b, &e), CS_OK);
    assert_true(found);
    assert_string_equal(b->answer, "{\"findings\": [2]}");
    assert_string_equal(b->score, "{\"s\": 1}");
    assert_int_equal(b->submitted_at_ms, 8000);

    cs_attempt_rec *v = NULL;
    assert_int_equal(cs_store_attempts_list(f->s, "", "", &v, &n, &e), CS_OK);
    assert_int_equal(n, 3);
    free(v);
    assert_int_equal(cs_store_attempts_list(f->s, "c1", "", &v, &n, &e), CS_OK);
    assert_int_equal(n, 2);
    free(v);
    assert_int_equal(cs_store_attempts_list(f->s, "", "ann", &v, &n, &e), CS_OK);
    assert_int_equal(n, 2);
    assert_string_equal(v[0].case_id, "k1"); /* by start time */
    free(v);
    assert_int_equal(cs_store_attempts_list(f->s, "c2", "bob", &v, &n, &e), CS_OK);
    assert_int_equal(n, 0);
    free(v);
    free(a), free(b), free(k1), free(k2), free(dup), free(nocourse), free(nostudy), free(other),
        free(k6);
}

/* A training study stays one (cs_study_rec.training); a database at
 * schema 11 gets it for the studies of cases `capscreen study import`
 * made, and only for those (a case made from a signed clinical study
 * keeps its study on the worklist). */
static void a_study_keeps_its_purpose_and_imported_cases_migrate(void **state)
{
    fx *f = *state;
    cs_error e = {0};
    cs_check_outcome out;
    bool found = false;
    cs_study_rec r, got;
    memset(&r, 0, sizeof r);
    snprintf(r.id, sizeof r.id, "trainonly");
    r.training = true;
    r.created_at = 5;
    r.code_expires_at = 6;
    assert_int_equal(cs_store_study_create(f->s, &r, "code-trainonly", &e), CS_OK);
    fx_study(f->s, "clinical", 7);
    assert_int_equal(cs_store_study_get(f->s, "trainonly", &found, &got, &e), CS_OK);
    assert_true(found && got.training);
    assert_int_equal(cs_store_study_get(f->s, "clinical", &found, &got, &e), CS_OK);
    assert_true(found && !got.training);
    cs_study_rec *list = NULL;
    size_t n = 0;
    assert_int_equal(cs_store_studies_list(f->s, &list, &n, &e), CS_OK);
    assert_int_equal(n, 2);
    assert_string_equal(list[0].id, "clinical"); /* newest first */
    assert_false(list[0].training);
    assert_true(list[1].training);
    free(list);

    /* Schema 11: imported cases' studies were clinical rows. */
    fx_study(f->s, "imported", 8);
    fx_study(f->s, "signed", 9);
    cs_course_rec c = course("c1", "Course");
    assert_int_equal(cs_store_course_create(f->s, &c, &out, &e), CS_OK);
    cs_case_rec *ki = kase("ki", "c1", "imported"), *ks = kase("ks", "c1", "signed");
    snprintf(ki->created_by, sizeof ki->created_by, "capscreen study import");
    assert_int_equal(cs_store_case_create(f->s, ki, &out, &e), CS_OK);
    assert_int_equal(out, CS_CHECK_OK);
    assert_int_equal(cs_store_case_create(f->s, ks, &out, &e), CS_OK);
    assert_int_equal(out, CS_CHECK_OK);
    fx_migrate_again(f, "ALTER TABLE studies DROP COLUMN purpose;"
                        "ALTER TABLE marks DROP COLUMN first_at_ms;"
                        "DELETE FROM schema_version WHERE version > 11;");
    const struct {
        const char *id;
        bool training;
    } want[] = {{"imported", true}, {"signed", false}, {"clinical", false}, {"trainonly", false}};
    /* (trainonly's purpose was dropped with the column: no case says it was
     * imported, so it comes back clinical, as any study of schema 11) */
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        assert_int_equal(cs_store_study_get(f->s, want[i].id, &found, &got, &e), CS_OK);
        assert_true(found);
        if (got.training != want[i].training)
            fail_msg("study %s: training %d after the migration", want[i].id, got.training);
    }
    /* The column takes no other purpose. */
    assert_false(fx_sql_try(f, "UPDATE studies SET purpose = 'demo' WHERE id = 'signed'", NULL, 0));
    free(ki), free(ks);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(courses_cases_and_attempts, fx_open, fx_close),
        cmocka_unit_test_setup_teardown(a_study_keeps_its_purpose_and_imported_cases_migrate,
                                        fx_open, fx_close),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
