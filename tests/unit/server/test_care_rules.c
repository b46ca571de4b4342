/* test_care_rules.c - the care protocol (care/protocol.h) and its alert
 * rules (care/rules.h), with facts and a clock the test sets: the shipped
 * default parses; typos, wrong types, out-of-range values, duplicate ids
 * and bad times are refused with the key named; each rule fires at its
 * threshold and not a millisecond before, keyed by its episode; boosters
 * count from small-bowel entry, or from a colon mark made without it; a
 * closed study or an excreted capsule silences the data rules, excretion
 * not bleeding; a recorder recording with no byte arrived raises
 * no_frames; status rules fire on the crossing only, a recorder error
 * before any bytes too; the stage follows the furthest landmark. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "server/care/protocol.h"
#include "server/care/rules.h"

#define T0 1700000000000LL

static const char *SHORT =
    "{\"protocol_version\": 1, \"name\": \"t\", \"no_frames_alert_s\": 60,"
    " \"hub_offline_alert_s\": 30, \"spool_full_pct\": 90, \"gastric_retention_alert_s\": 3600,"
    " \"boosters\": [{\"id\": \"b1\", \"after\": \"small_bowel_entry\", \"delay_s\": 0,"
    " \"instruction\": \"one\"}, {\"id\": \"b2\", \"after\": \"small_bowel_entry\","
    " \"delay_s\": 600, \"instruction\": \"two\"}]}";

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

static void the_shipped_default_parses(void **state)
{
    (void)state;
    const char *src = getenv("CS_SOURCE_DIR");
    assert_non_null(src); /* set by ctest */
    char path[4096];
    snprintf(path, sizeof path, "%s/etc/care-protocol.json", src);
    cs_protocol p;
    char *text = NULL;
    cs_error e = {0};
    if (cs_protocol_load(path, &p, &text, &e) != CS_OK)
        fail_msg("%s", e.msg);
    assert_non_null(text);
    assert_int_equal(p.no_frames_alert_s, 600);
    assert_int_equal(p.gastric_retention_alert_s, 3600);
    assert_int_equal(p.nboosters, 2);
    assert_true(p.nprep >= 3);
    assert_true(p.bleeding_live && p.end_of_recording_incomplete);
    free(text);
}

static void bad_protocols_name_the_key(void **state)
{
    (void)state;
    parse_fails("{\"protocol_version\": 1, \"no_frame_alert_s\": 5}", "\"no_frame_alert_s\"");
    parse_fails("{\"protocol_version\": 2}", "protocol_version");
    parse_fails("{\"no_frames_alert_s\": 60}", "protocol_version");
    parse_fails("{\"protocol_version\": 1, \"no_frames_alert_s\": \"60\"}", "no_frames_alert_s");
    parse_fails("{\"protocol_version\": 1, \"no_frames_alert_s\": 0}", "no_frames_alert_s");
    parse_fails("{\"protocol_version\": 1, \"spool_full_pct\": 101}", "spool_full_pct");
    parse_fails("{\"protocol_version\": 1, \"bleeding_live\": 1}", "bleeding_live");
    parse_fails("{\"protocol_version\": 1, \"boosters\": [{\"id\": \"b\", \"after\": "
                "\"small_bowel_entry\"}]}",
                "instruction");
    parse_fails("{\"protocol_version\": 1, \"boosters\": [{\"id\": \"b\", \"after\": \"colon\","
                " \"instruction\": \"x\"}]}",
                "after");
    parse_fails("{\"protocol_version\": 1, \"boosters\": [{\"id\": \"b\", \"after\": "
                "\"small_bowel_entry\", \"instruction\": \"x\"}, {\"id\": \"b\", \"after\": "
                "\"small_bowel_entry\", \"instruction\": \"y\"}]}",
                "twice");
    parse_fails("{\"protocol_version\": 1, \"prep\": [{\"id\": \"p\", \"day\": \"day_of\","
                " \"time\": \"25:00\", \"text\": \"x\"}]}",
                "HH:MM");
    parse_fails("{\"protocol_version\": 1, \"prep\": [{\"id\": \"p\", \"day\": \"monday\","
                " \"time\": \"08:00\", \"text\": \"x\"}]}",
                "day");
    parse_fails("{\"protocol_version\": 1, \"protocol_version\": 1}", "not JSON");
    parse_fails("[1, 2]", "object");
    parse_fails("", "not JSON");
}

static cs_care_facts facts(void)
{
    cs_care_facts f;
    memset(&f, 0, sizeof f);
    f.first_byte_ms = T0;
    f.last_byte_ms = T0 + 1000;
    f.now_ms = T0 + 2000;
    return f;
}

/* The alerts due, and whether one of `kind` (with `key` when not NULL) is among them. */
static bool has(const cs_protocol *p, const cs_care_facts *f, const char *kind, const char *key)
{
    cs_care_alert a[CS_CARE_ALERTS_MAX];
    size_t n = cs_care_rules_timed(p, f, a, CS_CARE_ALERTS_MAX);
    for (size_t i = 0; i < n; i++)
        if (strcmp(a[i].kind, kind) == 0 && (!key || strcmp(a[i].key, key) == 0))
            return true;
    return false;
}

static void timed_rules_fire_at_their_threshold(void **state)
{
    (void)state;
    cs_protocol p;
    parse_ok(SHORT, &p);
    cs_care_facts f = facts();
    assert_false(has(&p, &f, "no_frames", NULL));
    f.now_ms = f.last_byte_ms + 60000 - 1;
    assert_false(has(&p, &f, "no_frames", NULL));
    f.now_ms = f.last_byte_ms + 60000;
    assert_true(has(&p, &f, "no_frames", "1700000001000"));
    /* New bytes, then silence again: a new episode, a new key. */
    f.last_byte_ms = T0 + 500000;
    f.now_ms = f.last_byte_ms + 60000;
    assert_true(has(&p, &f, "no_frames", "1700000500000"));

    f = facts();
    f.hub.at_ms = T0;
    f.now_ms = T0 + 30000 - 1;
    assert_false(has(&p, &f, "hub_offline", NULL));
    f.now_ms = T0 + 30000;
    assert_true(has(&p, &f, "hub_offline", "1700000000000"));

    f = facts();
    f.now_ms = T0 + 3600000 - 1;
    assert_false(has(&p, &f, "gastric_retention", NULL));
    f.now_ms = T0 + 3600000;
    assert_true(has(&p, &f, "gastric_retention", "1"));
    f.small_bowel_at_ms = T0 + 100; /* entry marked: no retention */
    assert_false(has(&p, &f, "gastric_retention", NULL));
}

static void boosters_follow_small_bowel_entry(void **state)
{
    (void)state;
    cs_protocol p;
    parse_ok(SHORT, &p);
    cs_care_facts f = facts();
    assert_false(has(&p, &f, "booster_due", NULL));
    f.small_bowel_at_ms = T0 + 5000;
    f.now_ms = T0 + 5000;
    assert_true(has(&p, &f, "booster_due", "b1"));
    assert_false(has(&p, &f, "booster_due", "b2"));
    f.now_ms = T0 + 5000 + 600000 - 1;
    assert_false(has(&p, &f, "booster_due", "b2"));
    f.now_ms = T0 + 5000 + 600000;
    assert_true(has(&p, &f, "booster_due", "b2"));
}

/* Staff who first see the capsule in the colon mark "colon" alone: it
 * went through the small bowel, so the boosters are due from that mark
 * (they never were: the patient was never told to take them). */
static void boosters_follow_a_colon_mark_without_small_bowel(void **state)
{
    (void)state;
    cs_protocol p;
    parse_ok(SHORT, &p);
    cs_care_facts f = facts();
    f.colon_at_ms = T0 + 5000;
    f.now_ms = T0 + 5000;
    assert_int_equal(cs_care_small_bowel_entry_ms(&f), T0 + 5000);
    assert_true(has(&p, &f, "booster_due", "b1"));
    assert_false(has(&p, &f, "booster_due", "b2"));
    f.now_ms = T0 + 5000 + 600000;
    assert_true(has(&p, &f, "booster_due", "b2"));
    /* Small bowel marked too: the earlier of the two marks counts. */
    f.small_bowel_at_ms = T0 + 9000;
    assert_int_equal(cs_care_small_bowel_entry_ms(&f), T0 + 5000);
    f.small_bowel_at_ms = T0 + 1000;
    assert_int_equal(cs_care_small_bowel_entry_ms(&f), T0 + 1000);
    f = facts();
    assert_int_equal(cs_care_small_bowel_entry_ms(&f), 0);
}

static void closed_or_excreted_studies_are_not_watched(void **state)
{
    (void)state;
    cs_protocol p;
    parse_ok(SHORT, &p);
    cs_care_facts f = facts();
    f.hub.at_ms = T0;
    f.n_bleeding = 3;
    f.now_ms = T0 + 7200000;
    assert_true(has(&p, &f, "no_frames", NULL) && has(&p, &f, "hub_offline", NULL) &&
                has(&p, &f, "bleeding", "1"));
    f.excreted_at_ms = T0 + 7000000;
    assert_false(has(&p, &f, "no_frames", NULL) || has(&p, &f, "hub_offline", NULL) ||
                 has(&p, &f, "gastric_retention", NULL));
    assert_true(has(&p, &f, "excreted", "1"));
    /* The hub's backlog arrives after excretion: its bleeding still alerts. */
    assert_true(has(&p, &f, "bleeding", "1"));
    f.excreted_at_ms = 0;
    f.closed = true;
    assert_false(has(&p, &f, "no_frames", NULL) || has(&p, &f, "bleeding", NULL));
    p.bleeding_live = false;
    f.closed = false;
    assert_false(has(&p, &f, "bleeding", NULL));
}

static void recording_without_bytes_raises_no_frames(void **state)
{
    (void)state;
    cs_protocol p;
    parse_ok(SHORT, &p); /* no_frames_alert_s 60 */
    cs_care_facts f = facts();
    f.first_byte_ms = f.last_byte_ms = 0;
    f.hub.at_ms = T0;
    snprintf(f.hub.recorder, sizeof f.hub.recorder, "recording");
    f.recording_no_bytes_since_ms = T0;
    f.now_ms = T0 + 59999;
    assert_false(has(&p, &f, "no_frames", NULL));
    f.now_ms = T0 + 60000;
    assert_true(has(&p, &f, "no_frames", "none"));
    f.recording_no_bytes_since_ms = 0; /* not recording (care.c): nothing */
    assert_false(has(&p, &f, "no_frames", NULL));
    f.recording_no_bytes_since_ms = T0;
    f.closed = true;
    assert_false(has(&p, &f, "no_frames", NULL));
    f.closed = false;
    f.excreted_at_ms = T0;
    assert_false(has(&p, &f, "no_frames", NULL));
}

static size_t status_alerts(const cs_protocol *p, const cs_care_facts *f, int before_pct,
                            const char *before_rec, int now_pct, const char *now_rec,
                            cs_care_alert *a)
{
    cs_hub_status_rec b, n;
    memset(&b, 0, sizeof b);
    memset(&n, 0, sizeof n);
    if (before_rec) {
        b.at_ms = T0;
        b.spool_used_pct = before_pct;
        snprintf(b.recorder, sizeof b.recorder, "%s", before_rec);
    }
    n.at_ms = T0 + 1000;
    n.spool_used_pct = now_pct;
    snprintf(n.recorder, sizeof n.recorder, "%s", now_rec);
    return cs_care_rules_status(p, f, &b, &n, a, CS_CARE_ALERTS_MAX);
}

static void status_rules_fire_on_the_crossing(void **state)
{
    (void)state;
    cs_protocol p;
    parse_ok(SHORT, &p);
    cs_care_facts f = facts();
    cs_care_alert a[CS_CARE_ALERTS_MAX];
    assert_int_equal(status_alerts(&p, &f, 50, "recording", 89, "recording", a), 0);
    assert_int_equal(status_alerts(&p, &f, 50, "recording", 90, "recording", a), 1);
    assert_string_equal(a[0].kind, "spool_full");
    assert_string_equal(a[0].key, "1700000000000"); /* the report crossed from */
    assert_int_equal(status_alerts(&p, &f, 91, "recording", 95, "recording", a), 0);
    assert_int_equal(status_alerts(&p, &f, 0, NULL, 95, "recording", a), 1); /* first report */
    assert_int_equal(status_alerts(&p, &f, 10, "recording", 10, "stopped", a), 1);
    assert_string_equal(a[0].kind, "recording_ended_incomplete");
    assert_int_equal(status_alerts(&p, &f, 10, "stopped", 10, "error", a), 0);
    f.excreted_at_ms = T0;
    assert_int_equal(status_alerts(&p, &f, 10, "recording", 10, "stopped", a), 0);
    f.excreted_at_ms = 0;
    f.first_byte_ms = 0; /* not started: a stopped recorder is no incomplete study */
    assert_int_equal(status_alerts(&p, &f, 10, "recording", 10, "stopped", a), 0);
    /* but a recorder in error is, bytes or none, first report or not */
    assert_int_equal(status_alerts(&p, &f, 10, "recording", 10, "error", a), 1);
    assert_string_equal(a[0].kind, "recording_ended_incomplete");
    assert_int_equal(status_alerts(&p, &f, 0, NULL, 10, "error", a), 1);
    assert_int_equal(status_alerts(&p, &f, 10, "stopped", 10, "error", a), 0);
    p.end_of_recording_incomplete = false;
    f.first_byte_ms = T0;
    assert_int_equal(status_alerts(&p, &f, 10, "recording", 10, "stopped", a), 0);
    f.closed = true;
    assert_int_equal(status_alerts(&p, &f, 10, "recording", 99, "recording", a), 0);
}

static void the_stage_is_the_furthest_landmark(void **state)
{
    (void)state;
    cs_care_facts f;
    memset(&f, 0, sizeof f);
    assert_string_equal(cs_care_stage(&f), "awaiting");
    f.first_byte_ms = T0;
    assert_string_equal(cs_care_stage(&f), "ingested");
    f.stomach_at_ms = T0;
    assert_string_equal(cs_care_stage(&f), "stomach");
    f.colon_at_ms = T0; /* small bowel skipped: the furthest counts */
    assert_string_equal(cs_care_stage(&f), "colon");
    f.excreted_at_ms = T0;
    assert_string_equal(cs_care_stage(&f), "excreted");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_shipped_default_parses),
        cmocka_unit_test(bad_protocols_name_the_key),
        cmocka_unit_test(timed_rules_fire_at_their_threshold),
        cmocka_unit_test(boosters_follow_small_bowel_entry),
        cmocka_unit_test(boosters_follow_a_colon_mark_without_small_bowel),
        cmocka_unit_test(closed_or_excreted_studies_are_not_watched),
        cmocka_unit_test(recording_without_bytes_raises_no_frames),
        cmocka_unit_test(status_rules_fire_on_the_crossing),
        cmocka_unit_test(the_stage_is_the_furthest_landmark),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
