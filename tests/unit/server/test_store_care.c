/* test_store_care.c - the store's live care calls (schema 4, store.h):
 * one alert per (study, kind, key) with its id given back either way; an
 * unknown study refused; acknowledging once (CONFLICT after, NOT_FOUND for
 * another study's alert); the open alerts of every study (the
 * monitor's); the webhook outbox (due by time, never-tried first, then
 * oldest, delivered ones gone); the hub status with the report it replaced; the
 * protocol set once; range checks before the backend is reached; a
 * patient code that ends when it expires or the study closes; prep ticks;
 * a finding marked suspected cancer and its alert stored together or not
 * at all (the alerts table refused by a trigger on a second connection). */
#include "store_fixture.h"

static cs_alert_rec alert(const char *study, const char *kind, const char *key, int64_t at)
{
    cs_alert_rec a;
    memset(&a, 0, sizeof a);
    snprintf(a.study, sizeof a.study, "%s", study);
    snprintf(a.kind, sizeof a.kind, "%s", kind);
    snprintf(a.key, sizeof a.key, "%s", key);
    snprintf(a.message, sizeof a.message, "%s %s", kind, key);
    a.raised_at_ms = at;
    return a;
}

static void an_alert_is_raised_once_per_key(void **state)
{
    fx *f = *state;
    cs_error e = {0};
    bool raised = false;
    cs_check_outcome out;
    fx_study(f->s, "s1", 1000);
    cs_alert_rec a = alert("s1", "no_frames", "5000", 6000);
    assert_int_equal(cs_store_alert_raise(f->s, &a, &raised, &out, &e), CS_OK);
    assert_true(raised);
    assert_int_equal(out, CS_CHECK_OK);
    int64_t id = a.id;
    assert_true(id > 0);
    cs_alert_rec again = alert("s1", "no_frames", "5000", 9000);
    assert_int_equal(cs_store_alert_raise(f->s, &again, &raised, &out, &e), CS_OK);
    assert_false(raised);
    assert_int_equal(again.id, id);
    assert_int_equal(again.raised_at_ms, 6000); /* the first one stands */
    cs_alert_rec other = alert("s1", "no_frames", "8000", 9000);
    assert_int_equal(cs_store_alert_raise(f->s, &other, &raised, &out, &e), CS_OK);
    assert_true(raised && other.id > id);
    cs_alert_rec nostudy = alert("nope", "no_frames", "1", 9000);
    assert_int_equal(cs_store_alert_raise(f->s, &nostudy, &raised, &out, &e), CS_OK);
    assert_false(raised);
    assert_int_equal(out, CS_CHECK_NOT_FOUND);
    cs_alert_rec *al = NULL;
    size_t n = 0;
    assert_int_equal(cs_store_alerts_list(f->s, "s1", &al, &n, &e), CS_OK);
    assert_int_equal(n, 2);
    assert_int_equal(al[0].id, other.id); /* newest first */
    free(al);
}

static void an_alert_is_acknowledged_once(void **state)
{
    fx *f = *state;
    cs_error e = {0};
    bool raised;
    cs_check_outcome out;
    fx_study(f->s, "s1", 1000);
    fx_study(f->s, "s2", 1000);
    cs_alert_rec a = alert("s1", "bleeding", "1", 6000), got;
    assert_int_equal(cs_store_alert_raise(f->s, &a, &raised, &out, &e), CS_OK);
    assert_int_equal(cs_store_alert_ack(f->s, "s2", a.id, "ann", 7000, &out, &got, &e), CS_OK);
    assert_int_equal(out, CS_CHECK_NOT_FOUND);
    assert_int_equal(cs_store_alert_ack(f->s, "s1", a.id, "ann", 7000, &out, &got, &e), CS_OK);
    assert_int_equal(out, CS_CHECK_OK);
    assert_string_equal(got.acked_by, "ann");
    assert_int_equal(got.acked_at_ms, 7000);
    assert_int_equal(cs_store_alert_ack(f->s, "s1", a.id, "bob", 8000, &out, &got, &e), CS_OK);
    assert_int_equal(out, CS_CHECK_CONFLICT);
    assert_string_equal(got.acked_by, "ann");
    assert_int_equal(cs_store_alert_ack(f->s, "s1", a.id, "", 8000, &out, &got, &e), CS_ERR_ARG);
}

static void open_alerts_of_every_study_newest_first(void **state)
{
    fx *f = *state;
    cs_error e = {0};
    bool raised;
    cs_check_outcome out;
    fx_study(f->s, "s1", 1000);
    fx_study(f->s, "s2", 1000);
    cs_alert_rec a = alert("s1", "call_requested", "after-0", 5000);
    cs_alert_rec b = alert("s2", "bleeding", "1", 6000);
    cs_alert_rec c = alert("s1", "no_frames", "none", 7000);
    assert_int_equal(cs_store_alert_raise(f->s, &a, &raised, &out, &e), CS_OK);
    assert_int_equal(cs_store_alert_raise(f->s, &b, &raised, &out, &e), CS_OK);
    assert_int_equal(cs_store_alert_raise(f->s, &c, &raised, &out, &e), CS_OK);
    cs_alert_rec *al = NULL;
    size_t n = 0;
    assert_int_equal(cs_store_alerts_open(f->s, 10, &al, &n, &e), CS_OK);
    assert_int_equal(n, 3);
    assert_int_equal(al[0].id, c.id); /* newest first */
    assert_string_equal(al[1].study, "s2");
    assert_int_equal(al[2].id, a.id);
    free(al);
    /* acknowledged: no longer open */
    cs_alert_rec got;
    assert_int_equal(cs_store_alert_ack(f->s, "s1", a.id, "ann", 8000, &out, &got, &e), CS_OK);
    assert_int_equal(cs_store_alerts_open(f->s, 10, &al, &n, &e), CS_OK);
    assert_int_equal(n, 2);
    assert_int_equal(al[0].id, c.id);
    assert_int_equal(al[1].id, b.id);
    free(al);
    /* at most max: the newest kept */
    assert_int_equal(cs_store_alerts_open(f->s, 1, &al, &n, &e), CS_OK);
    assert_int_equal(n, 1);
    assert_int_equal(al[0].id, c.id);
    free(al);
    assert_int_equal(cs_store_alert_ack(f->s, "s2", b.id, "ann", 8000, &out, &got, &e), CS_OK);
    assert_int_equal(cs_store_alert_ack(f->s, "s1", c.id, "ann", 8000, &out, &got, &e), CS_OK);
    assert_int_equal(cs_store_alerts_open(f->s, 10, &al, &n, &e), CS_OK);
    assert_int_equal(n, 0);
    free(al);
}

/* Due alerts: never-tried ones first, then the oldest due. */
static void the_outbox_gives_due_alerts_new_then_oldest(void **state)
{
    fx *f = *state;
    cs_error e = {0};
    bool raised;
    cs_check_outcome out;
    fx_study(f->s, "s1", 1000);
    cs_alert_rec a = alert("s1", "k", "a", 5000), b = alert("s1", "k", "b", 6000);
    assert_int_equal(cs_store_alert_raise(f->s, &a, &raised, &out, &e), CS_OK);
    assert_int_equal(cs_store_alert_raise(f->s, &b, &raised, &out, &e), CS_OK);
    cs_alert_rec *due = NULL;
    size_t n = 0;
    assert_int_equal(cs_store_alerts_due(f->s, 4999, 10, &due, &n, &e), CS_OK);
    assert_int_equal(n, 0);
    free(due);
    assert_int_equal(cs_store_alerts_due(f->s, 6000, 10, &due, &n, &e), CS_OK);
    assert_int_equal(n, 2);
    assert_int_equal(due[0].id, a.id);
    free(due);
    /* a fails (retry at 9000), b is delivered */
    assert_int_equal(cs_store_alert_delivery(f->s, a.id, 0, 1, 9000, &e), CS_OK);
    assert_int_equal(cs_store_alert_delivery(f->s, b.id, 6500, 1, 0, &e), CS_OK);
    assert_int_equal(cs_store_alerts_due(f->s, 8999, 10, &due, &n, &e), CS_OK);
    assert_int_equal(n, 0);
    free(due);
    assert_int_equal(cs_store_alerts_due(f->s, 9000, 10, &due, &n, &e), CS_OK);
    assert_int_equal(n, 1);
    assert_int_equal(due[0].id, a.id);
    assert_int_equal(due[0].attempts, 1);
    free(due);
    /* a new alert, due after the retry: never tried, so it goes first */
    cs_alert_rec c = alert("s1", "k", "c", 9500);
    assert_int_equal(cs_store_alert_raise(f->s, &c, &raised, &out, &e), CS_OK);
    assert_int_equal(cs_store_alerts_due(f->s, 9500, 10, &due, &n, &e), CS_OK);
    assert_int_equal(n, 2);
    assert_int_equal(due[0].id, c.id);
    assert_int_equal(due[1].id, a.id);
    free(due);
    assert_int_equal(cs_store_alerts_due(f->s, 9500, 1, &due, &n, &e), CS_OK);
    assert_int_equal(n, 1);
    assert_int_equal(due[0].id, c.id);
    free(due);
}

/* Two workers (two servers on one database) read the same due alert: only
 * one claim lands; the claim holds it until its lease ends; a delivered
 * alert cannot be claimed. */
static void a_due_alert_is_claimed_by_one_worker(void **state)
{
    fx *f = *state;
    cs_error e = {0};
    bool raised, claimed = true;
    cs_check_outcome out;
    fx_study(f->s, "s1", 1000);
    cs_alert_rec a = alert("s1", "k", "a", 5000);
    assert_int_equal(cs_store_alert_raise(f->s, &a, &raised, &out, &e), CS_OK);
    cs_alert_rec *due = NULL;
    size_t n = 0;
    assert_int_equal(cs_store_alerts_due(f->s, 5000, 10, &due, &n, &e), CS_OK);
    assert_int_equal(n, 1);
    int64_t seen = due[0].next_attempt_ms;
    free(due);
    assert_int_equal(cs_store_alert_claim(f->s, a.id, seen, 65000, &claimed, &e), CS_OK);
    assert_true(claimed);
    assert_int_equal(cs_store_alert_claim(f->s, a.id, seen, 65000, &claimed, &e), CS_OK);
    assert_false(claimed); /* the second worker read the same row: refused */
    assert_int_equal(cs_store_alerts_due(f->s, 64999, 10, &due, &n, &e), CS_OK);
    assert_int_equal(n, 0); /* held by the lease */
    free(due);
    /* the holder died: due again when the lease ends, and claimable once */
    assert_int_equal(cs_store_alerts_due(f->s, 65000, 10, &due, &n, &e), CS_OK);
    assert_int_equal(n, 1);
    assert_int_equal(due[0].next_attempt_ms, 65000);
    free(due);
    assert_int_equal(cs_store_alert_claim(f->s, a.id, 65000, 125000, &claimed, &e), CS_OK);
    assert_true(claimed);
    assert_int_equal(cs_store_alert_delivery(f->s, a.id, 66000, 1, 0, &e), CS_OK);
    assert_int_equal(cs_store_alert_claim(f->s, a.id, 0, 200000, &claimed, &e), CS_OK);
    assert_false(claimed); /* delivered */
}

static void the_hub_status_keeps_the_last_report(void **state)
{
    fx *f = *state;
    cs_error e = {0};
    cs_check_outcome out;
    fx_study(f->s, "s1", 1000);
    cs_hub_status_rec st = {.at_ms = 5000,
                            .battery_pct = 90,
                            .signal_dbm = -70,
                            .spool_used_pct = 10},
                      prev, got;
    snprintf(st.recorder, sizeof st.recorder, "recording");
    assert_int_equal(cs_store_hub_status_get(f->s, "s1", &got, &e), CS_OK);
    assert_int_equal(got.at_ms, 0);
    assert_int_equal(cs_store_hub_status_put(f->s, "s1", &st, &prev, &out, &e), CS_OK);
    assert_int_equal(out, CS_CHECK_OK);
    assert_int_equal(prev.at_ms, 0);
    st.at_ms = 6000;
    st.spool_used_pct = 95;
    snprintf(st.message, sizeof st.message, "nearly full");
    assert_int_equal(cs_store_hub_status_put(f->s, "s1", &st, &prev, &out, &e), CS_OK);
    assert_int_equal(prev.at_ms, 5000);
    assert_int_equal(prev.spool_used_pct, 10);
    assert_int_equal(cs_store_hub_status_get(f->s, "s1", &got, &e), CS_OK);
    assert_int_equal(got.spool_used_pct, 95);
    assert_string_equal(got.message, "nearly full");
    assert_int_equal(cs_store_hub_status_put(f->s, "nope", &st, &prev, &out, &e), CS_OK);
    assert_int_equal(out, CS_CHECK_NOT_FOUND);
    st.battery_pct = 101;
    assert_int_equal(cs_store_hub_status_put(f->s, "s1", &st, &prev, &out, &e), CS_ERR_ARG);

    /* The list: every study whose hub reported, sorted by id, each as the
     * one-study call reads it; a study without a report is not in it. */
    fx_study(f->s, "a0", 1000);
    fx_study(f->s, "quiet", 1000);
    cs_hub_status_rec other = {.at_ms = 7000, .battery_pct = 5, .signal_dbm = -120};
    snprintf(other.recorder, sizeof other.recorder, "error");
    assert_int_equal(cs_store_hub_status_put(f->s, "a0", &other, NULL, &out, &e), CS_OK);
    cs_hub_status_item *items = NULL;
    size_t n = 0;
    assert_int_equal(cs_store_hub_status_list(f->s, &items, &n, &e), CS_OK);
    assert_int_equal(n, 2);
    assert_string_equal(items[0].study, "a0");
    assert_string_equal(items[1].study, "s1");
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(cs_store_hub_status_get(f->s, items[i].study, &got, &e), CS_OK);
        assert_memory_equal(&items[i].status, &got, sizeof got);
    }
    assert_string_equal(items[0].status.recorder, "error");
    assert_string_equal(items[1].status.message, "nearly full");
    free(items);
}

static cs_finding_rec sc_finding(const char *study, uint64_t seq, bool cancer, int64_t at)
{
    cs_finding_rec r;
    memset(&r, 0, sizeof r);
    snprintf(r.study, sizeof r.study, "%s", study);
    r.seq_from = r.seq_to = seq;
    snprintf(r.type, sizeof r.type, "polyp");
    snprintf(r.segment, sizeof r.segment, "rectum");
    r.size_mm = -1;
    r.count = 1;
    r.suspected_cancer = cancer;
    snprintf(r.created_by, sizeof r.created_by, "ann");
    snprintf(r.updated_by, sizeof r.updated_by, "ann");
    r.created_at_ms = r.updated_at_ms = at;
    return r;
}

static int64_t count_of(const fx *f, const char *sql) { return fx_sql_scalar(f, sql); }

/* The alerts table refuses every insert (a trigger, on a second
 * connection), or takes them again. */
static void refuse_alerts(const fx *f, bool refuse)
{
    if (fx_pg())
        fx_sql(f, refuse ? "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS"
                           " $$ BEGIN RAISE EXCEPTION 'injected'; END $$;"
                           " CREATE TRIGGER inject BEFORE INSERT ON alerts FOR EACH ROW"
                           " EXECUTE FUNCTION refuse()"
                         : "DROP TRIGGER inject ON alerts; DROP FUNCTION refuse()");
    else
        fx_sql(f, refuse ? "CREATE TRIGGER inject BEFORE INSERT ON alerts"
                           " BEGIN SELECT RAISE(ABORT, 'injected'); END"
                         : "DROP TRIGGER inject");
}

static void a_suspected_cancer_finding_and_its_alert_are_stored_together(void **state)
{
    fx *f = *state;
    cs_error e = {0};
    cs_change_outcome out;
    cs_alert_rec *al = NULL;
    size_t n = 0;
    char key[64];
    fx_study(f->s, "s1", 1000);

    /* Created marked: its alert, keyed by the finding, from the finding. */
    cs_finding_rec a = sc_finding("s1", 3, true, 7000);
    assert_int_equal(cs_store_finding_create(f->s, &a, &out, &e), CS_OK);
    assert_int_equal(out, CS_CHANGE_OK);
    assert_int_equal(cs_store_alerts_list(f->s, "s1", &al, &n, &e), CS_OK);
    assert_int_equal(n, 1);
    assert_string_equal(al[0].kind, "suspected_cancer");
    snprintf(key, sizeof key, "finding-%lld", (long long)a.id);
    assert_string_equal(al[0].key, key);
    assert_int_equal(al[0].raised_at_ms, 7000);
    assert_string_equal(al[0].message, "Suspected cancer marked by ann: polyp in the rectum, "
                                       "frames 3-3");
    assert_int_equal(al[0].delivered_at_ms, 0); /* in the webhook's outbox */
    free(al);
    /* A plain finding raises nothing; an edit to the mark raises its own;
     * an edit of a marked finding raises nothing twice. */
    cs_finding_rec b = sc_finding("s1", 5, false, 7100);
    assert_int_equal(cs_store_finding_create(f->s, &b, &out, &e), CS_OK);
    assert_int_equal(count_of(f, "SELECT COUNT(*) FROM alerts"), 1);
    b.suspected_cancer = true;
    b.updated_at_ms = 7200;
    assert_int_equal(cs_store_finding_update(f->s, &b, 1, &out, &e), CS_OK);
    assert_int_equal(out, CS_CHANGE_OK);
    a.seq_to = 4;
    assert_int_equal(cs_store_finding_update(f->s, &a, 0, &out, &e), CS_OK);
    assert_int_equal(count_of(f, "SELECT COUNT(*) FROM alerts WHERE kind = 'suspected_cancer'"), 2);

    /* The store cannot take the alert: the finding is not stored either. */
    refuse_alerts(f, true);
    int64_t findings = count_of(f, "SELECT COUNT(*) FROM findings"),
            history = count_of(f, "SELECT COUNT(*) FROM finding_history");
    cs_finding_rec c = sc_finding("s1", 6, true, 7300);
    e.msg[0] = '\0';
    assert_int_not_equal(cs_store_finding_create(f->s, &c, &out, &e), CS_OK);
    assert_non_null(strstr(e.msg, "injected"));
    cs_finding_rec d = sc_finding("s1", 7, false, 7400);
    assert_int_equal(cs_store_finding_create(f->s, &d, &out, &e), CS_OK); /* not marked: stored */
    d.suspected_cancer = true;
    assert_int_not_equal(cs_store_finding_update(f->s, &d, 1, &out, &e), CS_OK);
    assert_int_equal(count_of(f, "SELECT COUNT(*) FROM findings"), findings + 1);
    assert_int_equal(count_of(f, "SELECT COUNT(*) FROM finding_history"), history + 1);
    assert_int_equal(count_of(f, "SELECT COUNT(*) FROM findings WHERE suspected_cancer <> 0"), 2);
    assert_int_equal(cs_store_finding_delete(f->s, "s1", a.id, "ann", 7500, 0, &out, &e), CS_OK);
    assert_int_equal(out, CS_CHANGE_OK); /* a deletion raises nothing */
    /* Taken again, the same calls store both. */
    refuse_alerts(f, false);
    assert_int_equal(cs_store_finding_create(f->s, &c, &out, &e), CS_OK);
    assert_int_equal(cs_store_finding_update(f->s, &d, 1, &out, &e), CS_OK);
    assert_int_equal(count_of(f, "SELECT COUNT(*) FROM alerts WHERE kind = 'suspected_cancer'"), 4);
}

static void the_protocol_is_set_once(void **state)
{
    fx *f = *state;
    cs_error e = {0};
    cs_check_outcome out;
    char *json = NULL;
    fx_study(f->s, "s1", 1000);
    assert_int_equal(cs_store_study_protocol_get(f->s, "s1", &json, &e), CS_OK);
    assert_null(json);
    assert_int_equal(cs_store_study_protocol_set(f->s, "s1", "{\"a\":1}", &out, &e), CS_OK);
    assert_int_equal(out, CS_CHECK_OK);
    assert_int_equal(cs_store_study_protocol_set(f->s, "s1", "{\"a\":2}", &out, &e), CS_OK);
    assert_int_equal(out, CS_CHECK_CONFLICT);
    assert_int_equal(cs_store_study_protocol_get(f->s, "s1", &json, &e), CS_OK);
    assert_string_equal(json, "{\"a\":1}");
    free(json);
    assert_int_equal(cs_store_study_protocol_set(f->s, "nope", "{}", &out, &e), CS_OK);
    assert_int_equal(out, CS_CHECK_NOT_FOUND);
}

static void a_patient_code_opens_its_open_study_until_it_expires(void **state)
{
    fx *f = *state;
    cs_error e = {0};
    cs_check_outcome out;
    bool found, expired;
    char study[CS_ID_MAX];
    fx_study(f->s, "s1", 1000);
    assert_int_equal(cs_store_patient_code_set(f->s, "s1", "hash-1", 5000, &out, &e), CS_OK);
    assert_int_equal(out, CS_CHECK_OK);
    assert_int_equal(cs_store_patient_study(f->s, "hash-1", 4999, &found, &expired, study, &e),
                     CS_OK);
    assert_true(found && !expired);
    assert_string_equal(study, "s1");
    assert_int_equal(cs_store_patient_study(f->s, "hash-1", 5000, &found, &expired, study, &e),
                     CS_OK);
    assert_true(!found && expired);
    assert_int_equal(cs_store_patient_study(f->s, "hash-2", 10, &found, &expired, study, &e),
                     CS_OK);
    assert_true(!found && !expired);
    assert_int_equal(cs_store_study_close(f->s, "s1", "ann", 2000000, &out, &e), CS_OK);
    assert_int_equal(cs_store_patient_study(f->s, "hash-1", 10, &found, &expired, study, &e),
                     CS_OK);
    assert_true(!found && expired); /* closed: the code ends with the study */
    assert_int_equal(cs_store_patient_code_set(f->s, "nope", "h", 5000, &out, &e), CS_OK);
    assert_int_equal(out, CS_CHECK_NOT_FOUND);
}

static void prep_ticks_keep_the_first_time_and_can_be_taken_back(void **state)
{
    fx *f = *state;
    cs_error e = {0};
    cs_check_outcome out;
    cs_prep_tick_rec *t = NULL;
    size_t n = 0;
    fx_study(f->s, "s1", 1000);
    assert_int_equal(cs_store_prep_tick(f->s, "s1", "swallow", 5000, &out, &e), CS_OK);
    assert_int_equal(cs_store_prep_tick(f->s, "s1", "swallow", 6000, &out, &e), CS_OK);
    assert_int_equal(cs_store_prep_tick(f->s, "s1", "diet", 7000, &out, &e), CS_OK);
    assert_int_equal(cs_store_prep_ticks(f->s, "s1", &t, &n, &e), CS_OK);
    assert_int_equal(n, 2);
    assert_string_equal(t[0].step, "swallow");
    assert_int_equal(t[0].at_ms, 5000);
    free(t);
    assert_int_equal(cs_store_prep_tick(f->s, "s1", "swallow", 0, &out, &e), CS_OK);
    assert_int_equal(cs_store_prep_ticks(f->s, "s1", &t, &n, &e), CS_OK);
    assert_int_equal(n, 1);
    assert_string_equal(t[0].step, "diet");
    free(t);
    assert_int_equal(cs_store_prep_tick(f->s, "nope", "diet", 7000, &out, &e), CS_OK);
    assert_int_equal(out, CS_CHECK_NOT_FOUND);
    assert_int_equal(cs_store_prep_tick(f->s, "s1", "", 7000, &out, &e), CS_ERR_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(an_alert_is_raised_once_per_key, fx_open, fx_close),
        cmocka_unit_test_setup_teardown(an_alert_is_acknowledged_once, fx_open, fx_close),
        cmocka_unit_test_setup_teardown(open_alerts_of_every_study_newest_first, fx_open, fx_close),
        cmocka_unit_test_setup_teardown(the_outbox_gives_due_alerts_new_then_oldest, fx_open,
                                        fx_close),
        cmocka_unit_test_setup_teardown(a_due_alert_is_claimed_by_one_worker, fx_open, fx_close),
        cmocka_unit_test_setup_teardown(the_hub_status_keeps_the_last_report, fx_open, fx_close),
        cmocka_unit_test_setup_teardown(the_protocol_is_set_once, fx_open, fx_close),
        cmocka_unit_test_setup_teardown(a_patient_code_opens_its_open_study_until_it_expires,
                                        fx_open, fx_close),
        cmocka_unit_test_setup_teardown(prep_ticks_keep_the_first_time_and_can_be_taken_back,
                                        fx_open, fx_close),
        cmocka_unit_test_setup_teardown(
            a_suspected_cancer_finding_and_its_alert_are_stored_together, fx_open, fx_close),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
