/* test_store_addenda.c - report addenda in the store (issue 9; both
 * backends): refused on no report (NOT_FOUND) and on a report not signed
 * (INVALID), appended in order with who, when, why and what once signed,
 * listed per study only, and the signed report itself unchanged. */
#include "store_fixture.h"

static void signed_report(fx *f, const char *id)
{
    cs_error e = {0};
    fx_study(f->s, id, 100);
    char up[CS_ID_MAX];
    snprintf(up, sizeof up, "up-%s", id);
    fx_upload(f->s, up, id, 4096, 4096, CS_UPLOAD_COMPLETE);
    assert_int_equal(cs_store_study_set_ingest(f->s, id, 4096, &e), CS_OK);
    cs_report_rec *r = calloc(1, sizeof *r);
    assert_non_null(r);
    cs_change_outcome out;
    snprintf(r->study, sizeof r->study, "%s", id);
    snprintf(r->state, sizeof r->state, "read");
    snprintf(r->content, sizeof r->content, "{\"recommendation\": \"colonoscopy\"}");
    snprintf(r->updated_by, sizeof r->updated_by, "rita");
    r->updated_at_ms = 5000;
    assert_int_equal(cs_store_report_save(f->s, r, -1, &out, &e), CS_OK);
    assert_int_equal(out, CS_CHANGE_OK);
    free(r);
}

static cs_check_outcome add(fx *f, const char *study, const char *by, int64_t at,
                            const char *reason, const char *text, int64_t *id)
{
    cs_addendum_rec a;
    cs_error e = {0};
    cs_check_outcome o = CS_CHECK_OK;
    memset(&a, 0, sizeof a);
    snprintf(a.study, sizeof a.study, "%s", study);
    snprintf(a.by, sizeof a.by, "%s", by);
    a.at_ms = at;
    snprintf(a.reason, sizeof a.reason, "%s", reason);
    snprintf(a.text, sizeof a.text, "%s", text);
    assert_int_equal(cs_store_addendum_add(f->s, &a, &o, &e), CS_OK);
    if (id)
        *id = a.id;
    return o;
}

static void addenda_only_on_a_signed_report_in_order(void **state)
{
    fx *f = *state;
    cs_error e = {0};
    cs_check_outcome o;
    fx_study(f->s, "empty", 100);
    assert_int_equal(add(f, "empty", "rita", 1, "why", "what", NULL), CS_CHECK_NOT_FOUND);
    assert_int_equal(add(f, "nosuch", "rita", 1, "why", "what", NULL), CS_CHECK_NOT_FOUND);
    signed_report(f, "s");
    signed_report(f, "t");
    assert_int_equal(add(f, "s", "rita", 1, "why", "what", NULL), CS_CHECK_INVALID);
    cs_addendum_rec *list = NULL;
    size_t n = 9;
    assert_int_equal(cs_store_addenda_list(f->s, "s", &list, &n, &e), CS_OK);
    assert_int_equal(n, 0); /* the refused one left nothing */
    free(list);

    cs_report_rec *rep = calloc(1, sizeof *rep), *after = calloc(1, sizeof *after);
    char basis[CS_REPORT_BASIS_HEX];
    assert_int_equal(cs_store_report_basis(f->s, "s", basis, &e), CS_OK);
    assert_int_equal(cs_store_report_sign_checked(f->s, "s", "cora", 9000, 1, basis, &o, rep, &e),
                     CS_OK);
    assert_int_equal(o, CS_CHECK_OK);
    int64_t id1 = 0, id2 = 0;
    assert_int_equal(add(f, "s", "rita", 10000, "histology", "Tubular adenoma.", &id1),
                     CS_CHECK_OK);
    assert_int_equal(add(f, "s", "cora", 11000, "typo", "Left, not right.", &id2), CS_CHECK_OK);
    assert_true(id2 > id1);
    assert_int_equal(add(f, "t", "rita", 1, "why", "what", NULL),
                     CS_CHECK_INVALID); /* t unsigned */

    assert_int_equal(cs_store_addenda_list(f->s, "s", &list, &n, &e), CS_OK);
    assert_int_equal(n, 2);
    assert_int_equal(list[0].id, id1);
    assert_string_equal(list[0].study, "s");
    assert_string_equal(list[0].by, "rita");
    assert_int_equal(list[0].at_ms, 10000);
    assert_string_equal(list[0].reason, "histology");
    assert_string_equal(list[0].text, "Tubular adenoma.");
    assert_string_equal(list[1].by, "cora");
    assert_string_equal(list[1].text, "Left, not right.");
    free(list);
    assert_int_equal(cs_store_addenda_list(f->s, "t", &list, &n, &e), CS_OK);
    assert_int_equal(n, 0);
    free(list);

    bool found = false;
    assert_int_equal(cs_store_report_get(f->s, "s", &found, after, &e), CS_OK);
    assert_true(found);
    assert_string_equal(after->state, "signed");
    assert_int_equal(after->version, rep->version);
    assert_string_equal(after->content, rep->content);
    free(rep);
    free(after);
}

static void an_addendum_needs_who_why_and_what(void **state)
{
    fx *f = *state;
    cs_addendum_rec a;
    cs_error e = {0};
    cs_check_outcome o;
    memset(&a, 0, sizeof a);
    snprintf(a.study, sizeof a.study, "s");
    snprintf(a.by, sizeof a.by, "rita");
    snprintf(a.text, sizeof a.text, "text");
    assert_int_equal(cs_store_addendum_add(f->s, &a, &o, &e), CS_ERR_ARG); /* no reason */
    assert_int_equal(o, CS_CHECK_NOT_FOUND);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, fx_open, fx_close)
        T(addenda_only_on_a_signed_report_in_order),
        T(an_addendum_needs_who_why_and_what),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
