/* test_store_pacs.c - the PACS export queue (store.h, docs/pacs.md) on
 * both backends: a request for an unknown study refused; a request queued
 * and due at once; a worker's claim and outcome saved only while the
 * request it worked on is the latest (a request made during a send is
 * not marked sent by it); a failed export stays due at its next attempt,
 * never dropped; a sent one is no longer due; the start-up sweep queues
 * signed reports whose export was never requested, once; a name's own
 * DICOM separators go out as spaces (docs/pacs.md); a training study's
 * identity is refused. */
#include "store_fixture.h"

#include "server/export/pacs.h"

static void a_request_is_queued_due_now_and_unknown_studies_are_refused(void **state)
{
    fx *f = *state;
    cs_error e = {0};
    cs_check_outcome out = CS_CHECK_OK;
    cs_pacs_export_rec r;
    bool found = true;
    assert_int_equal(cs_store_pacs_enqueue(f->s, "nosuch", "cons", 5000, &out, &r, &e), CS_OK);
    assert_int_equal(out, CS_CHECK_NOT_FOUND);
    fx_study(f->s, "s1", 1000);
    assert_int_equal(cs_store_pacs_get(f->s, "s1", &found, &r, &e), CS_OK);
    assert_false(found);
    assert_int_equal(cs_store_pacs_enqueue(f->s, "s1", "cons", 5000, &out, &r, &e), CS_OK);
    assert_int_equal(out, CS_CHECK_OK);
    assert_string_equal(r.state, "queued");
    assert_string_equal(r.requested_by, "cons");
    assert_int_equal(r.requested_at_ms, 5000);
    assert_int_equal(r.next_attempt_ms, 5000);
    cs_pacs_export_rec *due = NULL;
    size_t n = 9;
    assert_int_equal(cs_store_pacs_due(f->s, 4999, 10, &due, &n, &e), CS_OK);
    assert_int_equal(n, 0);
    assert_int_equal(cs_store_pacs_due(f->s, 5000, 10, &due, &n, &e), CS_OK);
    assert_int_equal(n, 1);
    assert_string_equal(due[0].study, "s1");
    free(due);
}

static void failures_stay_due_and_a_send_marks_only_its_own_request(void **state)
{
    fx *f = *state;
    cs_error e = {0};
    cs_check_outcome out;
    cs_pacs_export_rec r, got;
    bool applied = false, found = false;
    fx_study(f->s, "s1", 1000);
    assert_int_equal(cs_store_pacs_enqueue(f->s, "s1", "cons", 5000, &out, &r, &e), CS_OK);

    /* A failed attempt: kept, due again later, with the reason. */
    snprintf(r.state, sizeof r.state, "failed");
    r.attempts = 1;
    r.next_attempt_ms = 7000;
    snprintf(r.last_error, sizeof r.last_error, "connection refused");
    assert_int_equal(cs_store_pacs_record(f->s, &r, &applied, &e), CS_OK);
    assert_true(applied);
    cs_pacs_export_rec *due = NULL;
    size_t n = 0;
    assert_int_equal(cs_store_pacs_due(f->s, 6999, 10, &due, &n, &e), CS_OK);
    assert_int_equal(n, 0);
    assert_int_equal(cs_store_pacs_due(f->s, 7000, 10, &due, &n, &e), CS_OK);
    assert_int_equal(n, 1);
    assert_string_equal(due[0].last_error, "connection refused");
    assert_int_equal(due[0].attempts, 1);
    free(due);

    /* A worker claims it; meanwhile it is requested again (same ms): the
     * claim's outcome is not saved over the new request. */
    cs_pacs_export_rec claim = r;
    snprintf(claim.state, sizeof claim.state, "sending");
    claim.next_attempt_ms = 600000;
    assert_int_equal(cs_store_pacs_record(f->s, &claim, &applied, &e), CS_OK);
    assert_true(applied);
    cs_pacs_export_rec again;
    assert_int_equal(cs_store_pacs_enqueue(f->s, "s1", "admin", 5000, &out, &again, &e), CS_OK);
    assert_true(again.requested_at_ms > claim.requested_at_ms);
    assert_string_equal(again.state, "queued");
    assert_int_equal(again.attempts, 0);
    assert_string_equal(again.last_error, "");
    snprintf(claim.state, sizeof claim.state, "sent");
    claim.sent_at_ms = 8000;
    claim.instances_sent = 3;
    assert_int_equal(cs_store_pacs_record(f->s, &claim, &applied, &e), CS_OK);
    assert_false(applied);
    assert_int_equal(cs_store_pacs_get(f->s, "s1", &found, &got, &e), CS_OK);
    assert_true(found);
    assert_string_equal(got.state, "queued");
    assert_string_equal(got.requested_by, "admin");

    /* The latest request sent: no longer due. */
    snprintf(again.state, sizeof again.state, "sent");
    again.sent_at_ms = 9000;
    again.instances_sent = 2;
    assert_int_equal(cs_store_pacs_record(f->s, &again, &applied, &e), CS_OK);
    assert_true(applied);
    assert_int_equal(cs_store_pacs_due(f->s, INT64_MAX, 10, &due, &n, &e), CS_OK);
    assert_int_equal(n, 0);
    assert_int_equal(cs_store_pacs_get(f->s, "s1", &found, &got, &e), CS_OK);
    assert_string_equal(got.state, "sent");
    assert_int_equal(got.instances_sent, 2);
    assert_int_equal(got.sent_at_ms, 9000);
    /* A resend queued: the last completed send is still what the PACS
     * holds (docs/api.md), until the resend completes. */
    assert_int_equal(cs_store_pacs_enqueue(f->s, "s1", "admin", 10000, &out, &again, &e), CS_OK);
    assert_string_equal(again.state, "queued");
    assert_int_equal(again.instances_sent, 2);
    assert_int_equal(again.sent_at_ms, 9000);
}

/* Two workers (two servers on one database) read the same due export:
 * only one claim lands (sending, attempts + 1, the lease); a request made
 * after the read makes the stale claim fail too. */
static void a_due_export_is_claimed_by_one_worker(void **state)
{
    fx *f = *state;
    cs_error e = {0};
    cs_check_outcome out;
    cs_pacs_export_rec r, got;
    bool claimed = false, found = false;
    fx_study(f->s, "s1", 1000);
    assert_int_equal(cs_store_pacs_enqueue(f->s, "s1", "cons", 5000, &out, &r, &e), CS_OK);
    cs_pacs_export_rec *due = NULL;
    size_t n = 0;
    assert_int_equal(cs_store_pacs_due(f->s, 5000, 10, &due, &n, &e), CS_OK);
    assert_int_equal(n, 1);
    cs_pacs_export_rec seen = due[0];
    free(due);
    assert_int_equal(cs_store_pacs_claim(f->s, &seen, 605000, &claimed, &e), CS_OK);
    assert_true(claimed);
    assert_int_equal(cs_store_pacs_claim(f->s, &seen, 605000, &claimed, &e), CS_OK);
    assert_false(claimed);
    assert_int_equal(cs_store_pacs_get(f->s, "s1", &found, &got, &e), CS_OK);
    assert_string_equal(got.state, "sending");
    assert_int_equal(got.attempts, seen.attempts + 1);
    assert_int_equal(got.next_attempt_ms, 605000);
    assert_int_equal(cs_store_pacs_due(f->s, 604999, 10, &due, &n, &e), CS_OK);
    assert_int_equal(n, 0);
    free(due);
    /* the holder died; the lease ends; meanwhile a new request came: the
     * stale read cannot claim it, a fresh read can */
    assert_int_equal(cs_store_pacs_due(f->s, 605000, 10, &due, &n, &e), CS_OK);
    assert_int_equal(n, 1);
    cs_pacs_export_rec stale = due[0];
    free(due);
    assert_int_equal(cs_store_pacs_enqueue(f->s, "s1", "admin", 606000, &out, &r, &e), CS_OK);
    assert_int_equal(cs_store_pacs_claim(f->s, &stale, 1206000, &claimed, &e), CS_OK);
    assert_false(claimed);
    assert_int_equal(cs_store_pacs_due(f->s, 606000, 10, &due, &n, &e), CS_OK);
    assert_int_equal(n, 1);
    assert_int_equal(cs_store_pacs_claim(f->s, &due[0], 1206000, &claimed, &e), CS_OK);
    assert_true(claimed);
    free(due);
}

/* The start-up sweep: a signed clinical report whose export was never
 * requested is queued once; a draft, a training study's report and a
 * request already made (sent here) are left as they are. */
static void signed_reports_never_requested_are_queued(void **state)
{
    fx *f = *state;
    cs_error e = {0};
    cs_check_outcome out;
    cs_pacs_export_rec r;
    bool found = false;
    int n = -1;
    const char *ids[] = {"signed", "draft", "training", "sent"};
    for (size_t i = 0; i < 4; i++)
        fx_study(f->s, ids[i], 1000);
    fx_sql(f, "INSERT INTO reports (study, state, content, version, updated_by, updated_at_ms,"
              " signed_by, signed_at_ms) VALUES"
              " ('signed', 'signed', '{}', 2, 'rdr', 1000, 'cons', 2000),"
              " ('draft', 'draft', '{}', 1, 'rdr', 1000, '', 0),"
              " ('training', 'signed', '{}', 2, 'rdr', 1000, 'cons', 2000),"
              " ('sent', 'signed', '{}', 2, 'rdr', 1000, 'cons', 2000);"
              "UPDATE studies SET purpose = 'training' WHERE id = 'training';");
    assert_int_equal(cs_store_pacs_enqueue(f->s, "sent", "cons", 3000, &out, &r, &e), CS_OK);
    r.instances_sent = 2;
    r.sent_at_ms = 3500;
    snprintf(r.state, sizeof r.state, "sent");
    bool applied = false;
    assert_int_equal(cs_store_pacs_record(f->s, &r, &applied, &e), CS_OK);
    assert_true(applied);
    assert_int_equal(cs_store_pacs_enqueue_unrequested(f->s, "sweep", 9000, &n, &e), CS_OK);
    assert_int_equal(n, 1);
    assert_int_equal(cs_store_pacs_get(f->s, "signed", &found, &r, &e), CS_OK);
    assert_true(found);
    assert_string_equal(r.state, "queued");
    assert_string_equal(r.requested_by, "sweep");
    assert_int_equal(r.next_attempt_ms, 9000);
    for (size_t i = 1; i < 3; i++) {
        assert_int_equal(cs_store_pacs_get(f->s, ids[i], &found, &r, &e), CS_OK);
        assert_false(found);
    }
    assert_int_equal(cs_store_pacs_get(f->s, "sent", &found, &r, &e), CS_OK);
    assert_string_equal(r.state, "sent");
    assert_string_equal(r.requested_by, "cons");
    /* a second start queues nothing again */
    assert_int_equal(cs_store_pacs_enqueue_unrequested(f->s, "sweep", 9500, &n, &e), CS_OK);
    assert_int_equal(n, 0);
}

/* '^' '=' '\\' inside a name would split it into components, groups or
 * values in DICOM: the identity carries them as spaces, and the result
 * passes the writer's check (which refuses a backslash). */
static void a_names_own_separators_go_out_as_spaces(void **state)
{
    fx *f = *state;
    cs_error e = {0};
    cs_study_rec r;
    memset(&r, 0, sizeof r);
    snprintf(r.id, sizeof r.id, "p1");
    r.created_at = 10;
    r.code_expires_at = 3600;
    snprintf(r.patient.nhs_number, sizeof r.patient.nhs_number, "9434765919");
    snprintf(r.patient.family, sizeof r.patient.family, "Smith^Jones");
    snprintf(r.patient.given, sizeof r.patient.given, "Anna=B\\C");
    snprintf(r.patient.sex, sizeof r.patient.sex, "female");
    snprintf(r.episode.referrer, sizeof r.episode.referrer, "Dr^Khan\\GP");
    assert_int_equal(cs_store_study_create(f->s, &r, "code-p1", &e), CS_OK);
    cs_dicom_identity id;
    bool found = false;
    assert_int_equal(cs_pacs_identity_load(f->s, "p1", &found, &id, &e), CS_OK);
    assert_true(found);
    assert_string_equal(id.patient_name, "Smith Jones^Anna B C");
    assert_string_equal(id.referring_physician, "Dr Khan GP");
    assert_string_equal(id.patient_id, "9434765919");
    assert_string_equal(id.patient_sex, "F");
    assert_int_equal(cs_dicom_identity_check(&id, &e), CS_OK);
}

/* An export queued before schema 12 made its study a training case (no
 * route queues one now) is refused, never sent as a patient's study; an
 * unknown study is not found. */
static void a_training_study_is_never_exported(void **state)
{
    fx *f = *state;
    cs_error e = {0};
    cs_dicom_identity id;
    bool found = true;
    fx_study(f->s, "case1", 1000);
    fx_sql(f, "UPDATE studies SET purpose = 'training' WHERE id = 'case1';");
    assert_int_equal(cs_pacs_identity_load(f->s, "case1", &found, &id, &e), CS_ERR_ARG);
    assert_non_null(strstr(e.msg, "training case"));
    assert_int_equal(cs_pacs_identity_load(f->s, "nosuch", &found, &id, &e), CS_OK);
    assert_false(found);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(a_request_is_queued_due_now_and_unknown_studies_are_refused,
                                        fx_open, fx_close),
        cmocka_unit_test_setup_teardown(failures_stay_due_and_a_send_marks_only_its_own_request,
                                        fx_open, fx_close),
        cmocka_unit_test_setup_teardown(a_due_export_is_claimed_by_one_worker, fx_open, fx_close),
        cmocka_unit_test_setup_teardown(signed_reports_never_requested_are_queued, fx_open,
                                        fx_close),
        cmocka_unit_test_setup_teardown(a_names_own_separators_go_out_as_spaces, fx_open, fx_close),
        cmocka_unit_test_setup_teardown(a_training_study_is_never_exported, fx_open, fx_close),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
