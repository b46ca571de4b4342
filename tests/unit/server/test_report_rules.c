/* test_report_rules.c - the report's pure rules (care/report_rules.h) at
 * their edges: CC-CLEAR adequacy at segment scores 1 and 2 and totals 5-9;
 * the old grades' mapping; the readability suggestion at its thresholds
 * and the colon split into thirds; completeness and its reasons; the
 * recommendation table at 5/6 mm and 2/3 polyps, its order, and no answer
 * while cleansing is unknown; an override needs a reason; the mandatory
 * fields; and the protocol's "report_rules" key parsed strictly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "server/care/protocol.h"
#include "server/care/report_rules.h"

static void assess(int r, int t, int l, int want_total, const char *want)
{
    int s[3] = {r, t, l}, total = 0;
    const char *adequacy = NULL;
    cs_cc_clear_assess(s, &total, &adequacy);
    assert_int_equal(total, want_total);
    if (want)
        assert_string_equal(adequacy, want);
    else
        assert_null(adequacy);
}

static void cc_clear_adequacy_at_the_edges(void **state)
{
    (void)state;
    /* any segment at 1 or 0 is inadequate, whatever the total */
    assess(3, 3, 1, 7, "inadequate");
    assess(1, 3, 3, 7, "inadequate");
    assess(0, 3, 3, 6, "inadequate");
    assess(2, 2, 1, 5, "inadequate");
    /* every segment at 2 or more: 6-7 good, 8-9 excellent */
    assess(2, 2, 2, 6, "good");
    assess(3, 2, 2, 7, "good");
    assess(3, 3, 2, 8, "excellent");
    assess(3, 3, 3, 9, "excellent");
    /* not all confirmed: no total, no adequacy */
    assess(3, -1, 3, -1, NULL);
    assess(-1, -1, -1, -1, NULL);
    assess(4, 3, 3, -1, NULL); /* out of the scale */
}

static void old_grades_map_onto_cc_clear(void **state)
{
    (void)state;
    assert_int_equal(cs_cc_clear_from_legacy("excellent"), 3);
    assert_int_equal(cs_cc_clear_from_legacy("good"), 2);
    assert_int_equal(cs_cc_clear_from_legacy("fair"), 1);
    assert_int_equal(cs_cc_clear_from_legacy("poor"), 0);
    assert_int_equal(cs_cc_clear_from_legacy(""), -1);
    assert_int_equal(cs_cc_clear_from_legacy("Excellent"), -1);
    assert_int_equal(cs_cc_clear_from_legacy(NULL), -1);
}

static void readability_suggests_a_grade_at_its_thresholds(void **state)
{
    (void)state;
    assert_int_equal(cs_cc_clear_suggest(0, 0), -1);
    assert_int_equal(cs_cc_clear_suggest(90, 100), 3);
    assert_int_equal(cs_cc_clear_suggest(89, 100), 2);
    assert_int_equal(cs_cc_clear_suggest(75, 100), 2);
    assert_int_equal(cs_cc_clear_suggest(74, 100), 1);
    assert_int_equal(cs_cc_clear_suggest(50, 100), 1);
    assert_int_equal(cs_cc_clear_suggest(49, 100), 0);
    assert_int_equal(cs_cc_clear_suggest(0, 7), 0);
    assert_int_equal(cs_cc_clear_suggest(9, 7), 3); /* clamped */
}

static void the_colon_splits_into_thirds(void **state)
{
    (void)state;
    uint64_t from[3], to[3];
    cs_cc_clear_ranges(100, 400, from, to);
    assert_int_equal(from[0], 100);
    assert_int_equal(to[0], 200);
    assert_int_equal(from[1], 200);
    assert_int_equal(to[1], 300);
    assert_int_equal(from[2], 300);
    assert_int_equal(to[2], 400);
    cs_cc_clear_ranges(10, 12, from, to); /* 2 frames: every frame in one segment */
    assert_int_equal(to[0] - from[0] + to[1] - from[1] + to[2] - from[2], 2);
    assert_int_equal(from[0], 10);
    assert_int_equal(to[2], 12);
    cs_cc_clear_ranges(50, 40, from, to); /* excreted before the caecum: empty */
    for (int i = 0; i < 3; i++)
        assert_int_equal(to[i], from[i]);
}

static cs_report_facts good_facts(void)
{
    cs_report_facts f;
    memset(&f, 0, sizeof f);
    f.has_patient = f.has_indication = true;
    f.caecum_reached = f.excreted = true;
    f.cc_clear[0] = f.cc_clear[1] = f.cc_clear[2] = 3;
    f.largest_polyp_mm = -1;
    f.findings_complete = true;
    f.has_prep = true;
    f.recommendation = "no_further_test";
    f.has_follow_up = f.has_extracolonic = f.disclaimer_ack = f.has_reader = true;
    return f;
}

static void completeness_needs_caecum_excretion_and_clean_bowel(void **state)
{
    (void)state;
    const char *why[8];
    size_t n = 99;
    cs_report_facts f = good_facts();
    assert_string_equal(cs_report_completeness(&f, why, 8, &n), "complete");
    assert_int_equal(n, 0);
    f.excreted = false;
    assert_string_equal(cs_report_completeness(&f, why, 8, &n), "incomplete");
    assert_int_equal(n, 1);
    assert_string_equal(why[0], "not_excreted");
    f.caecum_reached = false;
    f.cc_clear[1] = 1;
    assert_string_equal(cs_report_completeness(&f, why, 8, &n), "incomplete");
    assert_int_equal(n, 3);
    assert_string_equal(why[0], "caecum_not_reached");
    assert_string_equal(why[1], "not_excreted");
    assert_string_equal(why[2], "cleansing_inadequate");
    f = good_facts();
    f.cc_clear[2] = -1;
    assert_string_equal(cs_report_completeness(&f, why, 8, &n), "incomplete");
    assert_int_equal(n, 1);
    assert_string_equal(why[0], "cleansing_not_graded");
    f.cc_clear[2] = 2; /* 3, 3, 2: adequate */
    assert_string_equal(cs_report_completeness(&f, why, 8, &n), "complete");
    /* the list is cut at cap, never overrun */
    f.caecum_reached = f.excreted = false;
    assert_string_equal(cs_report_completeness(&f, why, 1, &n), "incomplete");
    assert_int_equal(n, 1);
}

static const char *suggest(const cs_report_facts *f)
{
    /* static: the answer points into the table, which must outlive the call */
    static cs_report_rules r;
    cs_report_rules_default(&r);
    const cs_report_rule *rule = cs_report_suggest(&r, f);
    return rule ? rule->recommend : NULL;
}

static void recommendation_table_edges(void **state)
{
    (void)state;
    cs_report_facts f = good_facts();
    assert_string_equal(suggest(&f), "no_further_test");
    /* polyp size: 5 mm no, 6 mm yes */
    f.polyps = 1;
    f.largest_polyp_mm = 5.9;
    assert_string_equal(suggest(&f), "no_further_test");
    f.largest_polyp_mm = 6;
    assert_string_equal(suggest(&f), "colonoscopy");
    /* polyp count: 2 no, 3 yes */
    f.largest_polyp_mm = 4;
    f.polyps = 2;
    assert_string_equal(suggest(&f), "no_further_test");
    f.polyps = 3;
    assert_string_equal(suggest(&f), "colonoscopy");
    /* suspected cancer first, and urgent */
    f = good_facts();
    f.suspected_cancer = true;
    cs_report_rules r;
    cs_report_rules_default(&r);
    const cs_report_rule *rule = cs_report_suggest(&r, &f);
    assert_non_null(rule);
    assert_string_equal(rule->recommend, "colonoscopy");
    assert_true(rule->urgent);
    /* the otherwise rule carries the follow-up interval */
    f = good_facts();
    rule = cs_report_suggest(&r, &f);
    assert_int_equal(rule->when, CS_WHEN_OTHERWISE);
    assert_int_equal(rule->follow_up_months, 24);
    /* inadequate cleansing: repeat capsule; incomplete: colonoscopy */
    f.cc_clear[0] = 1;
    assert_string_equal(suggest(&f), "repeat_capsule");
    f = good_facts();
    f.excreted = false;
    assert_string_equal(suggest(&f), "colonoscopy");
    /* a big polyp wins over inadequate cleansing (the order of the table) */
    f = good_facts();
    f.cc_clear[0] = 0;
    f.polyps = 1;
    f.largest_polyp_mm = 10;
    assert_string_equal(suggest(&f), "colonoscopy");
}

static void no_suggestion_while_cleansing_is_unknown(void **state)
{
    (void)state;
    cs_report_facts f = good_facts();
    f.cc_clear[1] = -1;
    assert_null(suggest(&f)); /* "no further test" would be a guess */
    f.largest_polyp_mm = 8;   /* a finding rule before it still answers */
    f.polyps = 1;
    assert_string_equal(suggest(&f), "colonoscopy");
    f = good_facts();
    f.cc_clear[1] = -1;
    f.cc_clear[0] = 1; /* one confirmed segment at 1: inadequate already */
    assert_string_equal(suggest(&f), "repeat_capsule");
}

static void an_override_needs_a_reason(void **state)
{
    (void)state;
    assert_false(cs_report_is_override("colonoscopy", "colonoscopy"));
    assert_true(cs_report_is_override("no_further_test", "colonoscopy"));
    assert_true(cs_report_is_override("colonoscopy", NULL));
    assert_false(cs_report_is_override("", "colonoscopy"));
    cs_report_facts f = good_facts();
    f.polyps = 3; /* suggests colonoscopy; the reader chose no_further_test */
    const char *names[16];
    size_t n = 0;
    cs_report_mandatory_missing(&f, "colonoscopy", names, 16, &n);
    assert_int_equal(n, 1);
    assert_string_equal(names[0], "recommendation_reason");
    f.has_recommendation_reason = true;
    cs_report_mandatory_missing(&f, "colonoscopy", names, 16, &n);
    assert_int_equal(n, 0);
}

static void mandatory_fields_are_listed_in_order(void **state)
{
    (void)state;
    const char *names[16];
    size_t n = 0;
    cs_report_facts f = good_facts();
    cs_report_mandatory_missing(&f, "no_further_test", names, 16, &n);
    assert_int_equal(n, 0);
    cs_report_facts none;
    memset(&none, 0, sizeof none);
    for (int i = 0; i < 3; i++)
        none.cc_clear[i] = -1;
    none.recommendation = "";
    cs_report_mandatory_missing(&none, NULL, names, 16, &n);
    const char *want[] = {"patient",
                          "indication",
                          "bowel_preparation",
                          "cc_clear",
                          "cleansing_adequacy",
                          "completeness",
                          "findings",
                          "extracolonic",
                          "recommendation",
                          "follow_up_months",
                          "reader",
                          "upper_gi_disclaimer_ack"};
    assert_int_equal(n, sizeof want / sizeof want[0]);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(names[i], want[i]);
    cs_report_mandatory_missing(&none, NULL, names, 2, &n); /* cut at cap */
    assert_int_equal(n, 2);
}

static void parse_ok(const char *json, cs_protocol *p)
{
    cs_error e = {0};
    if (cs_protocol_parse(json, p, &e) != CS_OK)
        fail_msg("parse: %s", e.msg);
}

static void parse_fails(const char *json, const char *needle)
{
    cs_protocol p;
    cs_error e = {0};
    assert_int_equal(cs_protocol_parse(json, &p, &e), CS_ERR_ARG);
    if (!strstr(e.msg, needle))
        fail_msg("error '%s' does not name '%s'", e.msg, needle);
}

#define HEAD "{\"protocol_version\": 1, \"report_rules\": "

static void protocol_report_rules_parse_strictly(void **state)
{
    (void)state;
    cs_protocol p;
    parse_ok("{\"protocol_version\": 1}", &p); /* absent: the default table */
    assert_int_equal(p.report.n, 6);
    assert_int_equal(p.report.rule[1].when, CS_WHEN_POLYP_MM_AT_LEAST);
    assert_int_equal(p.report.rule[1].value, 6);
    parse_ok(HEAD "[{\"when\": \"polyp_mm_at_least\", \"value\": 10, \"recommend\": "
                  "\"colonoscopy\"}, {\"when\": \"otherwise\", \"recommend\": "
                  "\"repeat_capsule\", \"follow_up_months\": 36}]}",
             &p);
    assert_int_equal(p.report.n, 2);
    assert_int_equal(p.report.rule[0].value, 10);
    assert_int_equal(p.report.rule[1].follow_up_months, 36);
    assert_int_equal(p.report.rule[0].follow_up_months, -1);
    cs_report_facts f = good_facts();
    f.polyps = 1;
    f.largest_polyp_mm = 8; /* under this site's 10 mm */
    assert_string_equal(cs_report_suggest(&p.report, &f)->recommend, "repeat_capsule");
    parse_fails(HEAD "[]}", "report_rules must be a list");
    parse_fails(HEAD "{}}", "report_rules must be a list");
    parse_fails(HEAD "[{\"when\": \"sometimes\", \"recommend\": \"colonoscopy\"}]}",
                "report_rules[0] \"when\"");
    parse_fails(HEAD "[{\"when\": \"otherwise\", \"recommend\": \"ct_colonography\"}]}",
                "\"recommend\"");
    parse_fails(HEAD "[{\"when\": \"polyps_at_least\", \"recommend\": \"colonoscopy\"},"
                     " {\"when\": \"otherwise\", \"recommend\": \"no_further_test\"}]}",
                "needs \"value\"");
    parse_fails(HEAD "[{\"when\": \"polyps_at_least\", \"value\": \"3\", \"recommend\": "
                     "\"colonoscopy\"}, {\"when\": \"otherwise\", \"recommend\": "
                     "\"no_further_test\"}]}",
                "report_rules[0] value");
    parse_fails(HEAD "[{\"when\": \"otherwise\", \"value\": 3, \"recommend\": \"colonoscopy\"}]}",
                "only for the thresholds");
    parse_fails(HEAD "[{\"when\": \"otherwise\", \"recommend\": \"colonoscopy\", "
                     "\"follow_up_months\": 121}]}",
                "follow_up_months");
    parse_fails(HEAD "[{\"when\": \"otherwise\", \"recommend\": \"colonoscopy\", \"urgnet\": "
                     "true}]}",
                "unknown key \"urgnet\"");
    parse_fails(HEAD "[{\"when\": \"incomplete\", \"recommend\": \"colonoscopy\"}]}",
                "must end with an \"otherwise\"");
    parse_fails(HEAD "[{\"when\": \"otherwise\", \"recommend\": \"colonoscopy\"},"
                     " {\"when\": \"otherwise\", \"recommend\": \"colonoscopy\"}]}",
                "hides the rules after it");
}

static void the_shipped_protocol_holds_the_default_table(void **state)
{
    (void)state;
    const char *src = getenv("CS_SOURCE_DIR");
    assert_non_null(src); /* set by ctest */
    char path[4096];
    snprintf(path, sizeof path, "%s/etc/care-protocol.json", src);
    cs_protocol p;
    cs_error e = {0};
    if (cs_protocol_load(path, &p, NULL, &e) != CS_OK)
        fail_msg("%s", e.msg);
    cs_report_rules d;
    cs_report_rules_default(&d);
    assert_int_equal(p.report.n, d.n);
    for (int i = 0; i < d.n; i++) {
        assert_int_equal(p.report.rule[i].when, d.rule[i].when);
        assert_int_equal(p.report.rule[i].value, d.rule[i].value);
        assert_string_equal(p.report.rule[i].recommend, d.rule[i].recommend);
        assert_int_equal(p.report.rule[i].urgent, d.rule[i].urgent);
        assert_int_equal(p.report.rule[i].follow_up_months, d.rule[i].follow_up_months);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cc_clear_adequacy_at_the_edges),
        cmocka_unit_test(old_grades_map_onto_cc_clear),
        cmocka_unit_test(readability_suggests_a_grade_at_its_thresholds),
        cmocka_unit_test(the_colon_splits_into_thirds),
        cmocka_unit_test(completeness_needs_caecum_excretion_and_clean_bowel),
        cmocka_unit_test(recommendation_table_edges),
        cmocka_unit_test(no_suggestion_while_cleansing_is_unknown),
        cmocka_unit_test(an_override_needs_a_reason),
        cmocka_unit_test(mandatory_fields_are_listed_in_order),
        cmocka_unit_test(protocol_report_rules_parse_strictly),
        cmocka_unit_test(the_shipped_protocol_holds_the_default_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
