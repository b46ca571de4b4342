/* report.c - the study's structured report: read (with the `derived`
 * fields the server computes: CC-CLEAR, completeness, the suggested
 * recommendation, the mandatory fields missing), save (reader or
 * consultant, until signed), sign (consultant only; 422 while a Nyborg
 * 2025 mandatory field is missing; read-only after), addenda to a signed
 * report, and the printable HTML with its key frames embedded, so a saved
 * copy stands on its own (docs/workstation.md, docs/clinical-record.md).
 * The clinical decisions themselves are pure functions in
 * care/report_rules.c; this file gathers their facts. */
#include <sodium.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server/api/api_int.h"
#include "server/care/report_rules.h"
#include "server/core/metrics.h"
#include "server/core/vocabulary.h"
#include "server/media/media.h"

#define KEY_FRAMES_MAX 24
#define TEXT_MAX 8000   /* findings_text, comments, prep_checklist, extracolonic */
#define REASON_MAX 1000 /* recommendation_reason */
#define FOLLOW_UP_MAX 120
#define VIEWS_PAGE 256 /* frames read per store call for the CC-CLEAR suggestion */

/* The generic disclaimer the Nyborg 2025 consensus recommends; the page
 * shows it from `derived.upper_gi_disclaimer`, the printout prints it. */
static const char UPPER_GI_DISCLAIMER[] =
    "Colon capsule endoscopy is designed to examine the colon. The oesophagus, stomach and small "
    "bowel are seen only in passing and incompletely: a normal appearance there does not exclude "
    "disease, and findings there are reported as seen.";

/* The report's own choices; recommendations and finding types are the
 * shared vocabulary (core/vocabulary.h). "" (not recorded) is allowed. */
static const cs_vocab_word ADEQUACY[] = {
    {"adequate", "Adequate"}, {"inadequate", "Inadequate"}, {NULL, NULL}};
static const cs_vocab_word COMPLETENESS[] = {
    {"complete", "Complete"}, {"incomplete", "Incomplete"}, {NULL, NULL}};

cs_status cs_ws_report_state(const cs_api *api, const char *study, char *state, size_t cap,
                             cs_error *err)
{
    bool found = false;
    cs_report_rec *r = malloc(sizeof *r);
    if (!r)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory");
    cs_status st = cs_store_report_get(api->store, study, &found, r, err);
    snprintf(state, cap, "%s", st == CS_OK && found ? r->state : "");
    free(r);
    return st;
}

static json_t *report_json(const cs_report_rec *r)
{
    json_t *content = json_loads(r->content, 0, NULL);
    return json_pack("{s:s, s:s, s:i, s:s, s:I, s:s, s:I, s:o}", "study", r->study, "state",
                     r->state, "version", r->version, "updated_by", r->updated_by, "updated_at_ms",
                     (json_int_t)r->updated_at_ms, "signed_by", r->signed_by, "signed_at_ms",
                     (json_int_t)r->signed_at_ms, "content", content ? content : json_object());
}

/* ---- what the report is derived from ----------------------------------------- */

/* The study's patient and episode as the report needs them. The one place
 * that reads them from the study record (issue 9 part 1 adds them). */
typedef struct study_clinical {
    bool has_patient;
    char nhs_number[16], family[64], given[64], birth_date[16], sex[16];
    char pathway[16], indication[32], indication_detail[256], referrer[128];
} study_clinical;

static void read_clinical(const cs_study_rec *sr, study_clinical *out)
{
    memset(out, 0, sizeof *out);
    const cs_patient_rec *p = &sr->patient;
    const cs_episode_rec *e = &sr->episode;
    /* nhs_number "" = no patient recorded (store.h); the API checks the
     * rest of the block whenever one is given. */
    out->has_patient = p->nhs_number[0] && p->family[0] && p->given[0] && p->birth_date[0];
    snprintf(out->nhs_number, sizeof out->nhs_number, "%s", p->nhs_number);
    snprintf(out->family, sizeof out->family, "%s", p->family);
    snprintf(out->given, sizeof out->given, "%s", p->given);
    snprintf(out->birth_date, sizeof out->birth_date, "%s", p->birth_date);
    snprintf(out->sex, sizeof out->sex, "%s", p->sex);
    snprintf(out->pathway, sizeof out->pathway, "%s", e->pathway);
    snprintf(out->indication, sizeof out->indication, "%s", e->indication);
    snprintf(out->indication_detail, sizeof out->indication_detail, "%s", e->indication_detail);
    snprintf(out->referrer, sizeof out->referrer, "%s", e->referrer);
}

/* A finding's structured fields (issue 9 part 2) as the rules need them. */
static void finding_structure(const cs_finding_rec *f, const char **segment, int *count,
                              bool *suspected_cancer)
{
    *segment = f->segment;
    *count = f->count >= 1 ? f->count : 1;
    *suspected_cancer = f->suspected_cancer;
}

/* Everything the derived fields come from, gathered once per answer. */
typedef struct report_basis {
    cs_report_facts f;
    cs_report_rules rules;
    int64_t first_caecal, excreted; /* landmark frames, -1 none */
    int migrated[CS_CC_SEGMENTS];   /* old four-word grades on the 0-3 scale, -1 none */
    bool from_content[CS_CC_SEGMENTS];
    int suggested[CS_CC_SEGMENTS]; /* -1: no frames to judge */
    uint64_t seg_from[CS_CC_SEGMENTS], seg_to[CS_CC_SEGMENTS];
    uint64_t seg_frames[CS_CC_SEGMENTS], seg_readable[CS_CC_SEGMENTS];
    const cs_report_rule *rule; /* into rules; NULL: no suggestion */
} report_basis;

/* Whether code point u prints as nothing: controls, Unicode white space
 * (no-break, en, em, ideographic... spaces, line and paragraph
 * separators), the Braille blank, and Unicode's default-ignorable code
 * points, the invisible format characters a paste carries (soft hyphen,
 * zero-width spaces and joiners, direction marks, word joiner, byte-order
 * mark, Hangul fillers, variation selectors, Mongolian free variation
 * selectors, tag characters). */
static bool invisible(uint32_t u)
{
    return u <= 0x20 || (u >= 0x7f && u <= 0xa0) || u == 0xad || u == 0x34f || u == 0x61c ||
           u == 0x115f || u == 0x1160 || u == 0x1680 || u == 0x17b4 || u == 0x17b5 ||
           (u >= 0x180b && u <= 0x180f) || (u >= 0x2000 && u <= 0x200f) ||
           (u >= 0x2028 && u <= 0x202f) || (u >= 0x205f && u <= 0x206f) || u == 0x2800 ||
           u == 0x3000 || u == 0x3164 || (u >= 0xfe00 && u <= 0xfe0f) || u == 0xfeff ||
           u == 0xffa0 || (u >= 0xfff0 && u <= 0xfff8) || (u >= 0x1bca0 && u <= 0x1bca3) ||
           (u >= 0x1d173 && u <= 0x1d17a) || (u >= 0xe0000 && u <= 0xe0fff);
}

/* The code point at *p (valid UTF-8, as jansson keeps every string);
 * *p moves past it. */
static uint32_t next_code_point(const unsigned char **p)
{
    const unsigned char *s = *p;
    int more = s[0] < 0xc0 ? 0 : s[0] < 0xe0 ? 1 : s[0] < 0xf0 ? 2 : 3;
    uint32_t u = more ? s[0] & (0x3fu >> more) : s[0];
    int i = 1;
    for (; i <= more && (s[i] & 0xc0) == 0x80; i++)
        u = u << 6 | (s[i] & 0x3fu);
    *p = s + i;
    return u;
}

/* Whether ct[key] is text with something visible in it: a mandatory
 * field, an addendum's reason or text filled with no-break or zero-width
 * spaces prints as blank, so it is as unset as one of plain spaces. */
static bool text_set(json_t *ct, const char *key)
{
    const unsigned char *t = (const unsigned char *)json_string_value(json_object_get(ct, key));
    while (t && *t)
        if (!invisible(next_code_point(&t)))
            return true;
    return false;
}

/* Count readable frames per CC-CLEAR segment between the landmarks. */
static cs_status readability(const cs_api *api, const char *study, uint64_t frames, report_basis *b,
                             cs_error *err)
{
    memset(b->seg_frames, 0, sizeof b->seg_frames);
    memset(b->seg_readable, 0, sizeof b->seg_readable);
    if (b->first_caecal < 0) {
        cs_cc_clear_ranges(0, 0, b->seg_from, b->seg_to);
        return CS_OK;
    }
    uint64_t end = b->excreted > b->first_caecal ? (uint64_t)b->excreted : frames;
    cs_cc_clear_ranges((uint64_t)b->first_caecal, end, b->seg_from, b->seg_to);
    cs_frame_view *v = malloc(VIEWS_PAGE * sizeof *v);
    if (!v)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory reading frames");
    uint64_t at = (uint64_t)b->first_caecal;
    cs_status st = CS_OK;
    while (at < end) {
        size_t n = 0;
        if ((st = cs_store_frame_views(api->store, study, at, v, VIEWS_PAGE, &n, err)) != CS_OK ||
            n == 0)
            break;
        for (size_t i = 0; i < n && v[i].seq < end; i++)
            for (int g = 0; g < CS_CC_SEGMENTS; g++)
                if (v[i].seq >= b->seg_from[g] && v[i].seq < b->seg_to[g]) {
                    b->seg_frames[g]++;
                    b->seg_readable[g] += v[i].ok && v[i].readable;
                }
        at = v[n - 1].seq + 1;
    }
    free(v);
    return st;
}

/* Fill *b from the study, its marks, findings and protocol and the
 * report's content `ct` (updated_by: who saved it, "" when unsaved). */
static cs_status gather(const cs_api *api, const char *study, json_t *ct, const char *updated_by,
                        report_basis *b, cs_error *err)
{
    memset(b, 0, sizeof *b);
    b->first_caecal = b->excreted = -1;
    cs_study_rec sr;
    bool found = false;
    cs_study_counts k;
    cs_status st;
    if ((st = cs_store_study_get(api->store, study, &found, &sr, err)) != CS_OK ||
        (st = cs_store_study_counts(api->store, study, &k, err)) != CS_OK)
        return st;
    study_clinical cl;
    read_clinical(&sr, &cl);
    b->f.has_patient = cl.has_patient;
    b->f.has_indication = cl.indication[0] != '\0';
    /* The site's rule table, from the protocol the study runs under. */
    cs_protocol *p = malloc(sizeof *p);
    if (!p)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory reading the protocol");
    if (api->care && found)
        st = cs_care_protocol_of(api->care, study, p, NULL, err);
    else
        cs_report_rules_default(&p->report);
    if (st == CS_OK)
        b->rules = p->report;
    free(p);
    if (st != CS_OK)
        return st;
    /* Landmarks and the old cleansing grades. */
    cs_mark_rec *ms = NULL;
    size_t nm = 0;
    if ((st = cs_store_marks_list(api->store, study, &ms, &nm, err)) != CS_OK)
        return st;
    for (int g = 0; g < CS_CC_SEGMENTS; g++)
        b->migrated[g] = -1;
    for (size_t i = 0; i < nm; i++) {
        if (strcmp(ms[i].kind, "landmark") == 0 && strcmp(ms[i].key, "first_caecal") == 0)
            b->first_caecal = ms[i].seq;
        else if (strcmp(ms[i].kind, "landmark") == 0 && strcmp(ms[i].key, "excreted") == 0)
            b->excreted = ms[i].seq;
        else if (strcmp(ms[i].kind, "cleansing") == 0)
            for (int g = 0; g < CS_CC_SEGMENTS; g++)
                if (strcmp(ms[i].key, cs_cc_clear_segments[g]) == 0)
                    b->migrated[g] = cs_cc_clear_from_legacy(ms[i].value);
    }
    free(ms);
    b->f.caecum_reached = b->first_caecal >= 0;
    b->f.excreted = b->excreted >= 0;
    /* CC-CLEAR: the reader's confirmed grade, else a migrated old one. */
    json_t *cc = json_object_get(ct, "cc_clear");
    for (int g = 0; g < CS_CC_SEGMENTS; g++) {
        json_t *v = json_object_get(cc, cs_cc_clear_segments[g]);
        b->from_content[g] = json_is_integer(v);
        b->f.cc_clear[g] = json_is_integer(v) ? (int)json_integer_value(v) : b->migrated[g];
    }
    if ((st = readability(api, study, k.frames, b, err)) != CS_OK)
        return st;
    for (int g = 0; g < CS_CC_SEGMENTS; g++)
        b->suggested[g] = cs_cc_clear_suggest(b->seg_readable[g], b->seg_frames[g]);
    /* Findings. */
    cs_finding_rec *fs = NULL;
    size_t nf = 0;
    if ((st = cs_store_findings_list(api->store, study, false, &fs, &nf, err)) != CS_OK)
        return st;
    b->f.largest_polyp_mm = -1;
    b->f.findings_complete = true;
    for (size_t i = 0; i < nf; i++) {
        const char *segment;
        int count;
        bool cancer;
        finding_structure(&fs[i], &segment, &count, &cancer);
        bool polyp = strcmp(fs[i].type, "polyp") == 0;
        b->f.suspected_cancer = b->f.suspected_cancer || cancer;
        if (polyp) {
            b->f.polyps += count;
            if (fs[i].size_mm > b->f.largest_polyp_mm)
                b->f.largest_polyp_mm = fs[i].size_mm;
        }
        if (!segment[0] || (polyp && fs[i].size_mm < 0))
            b->f.findings_complete = false;
    }
    free(fs);
    /* The saved content. */
    const char *rec = json_string_value(json_object_get(ct, "recommendation"));
    b->f.recommendation = rec ? rec : "";
    b->f.has_recommendation_reason = text_set(ct, "recommendation_reason");
    b->f.has_prep = text_set(ct, "prep_checklist");
    b->f.has_follow_up = json_is_integer(json_object_get(ct, "follow_up_months"));
    b->f.has_extracolonic = text_set(ct, "extracolonic");
    b->f.disclaimer_ack = json_is_true(json_object_get(ct, "upper_gi_disclaimer_ack"));
    b->f.has_reader = updated_by && updated_by[0];
    b->rule = cs_report_suggest(&b->rules, &b->f);
    return CS_OK;
}

static json_t *int_or_null(int v) { return v >= 0 ? json_integer(v) : json_null(); }

/* The `derived` object (docs/clinical-record.md); *missing (may be NULL)
 * gets a new reference to the mandatory_missing list. */
static json_t *derived_json(const report_basis *b, json_t **missing)
{
    int total;
    const char *adequacy;
    cs_cc_clear_assess(b->f.cc_clear, &total, &adequacy);
    const char *reasons[8], *names[24];
    size_t nr = 0, nn = 0;
    const char *completeness = cs_report_completeness(&b->f, reasons, 8, &nr);
    const char *suggested = b->rule ? b->rule->recommend : NULL;
    cs_report_mandatory_missing(&b->f, suggested, names, 24, &nn);
    json_t *cc = json_object(), *src = json_object(), *sug = json_object(), *basis = json_object();
    for (int g = 0; g < CS_CC_SEGMENTS; g++) {
        const char *seg = cs_cc_clear_segments[g];
        json_object_set_new(cc, seg, int_or_null(b->f.cc_clear[g]));
        json_object_set_new(src, seg,
                            b->from_content[g]      ? json_string("reader")
                            : b->f.cc_clear[g] >= 0 ? json_string("migrated_grade")
                                                    : json_null());
        json_object_set_new(sug, seg, int_or_null(b->suggested[g]));
        json_object_set_new(
            basis, seg,
            json_pack("{s:I, s:I, s:I, s:I}", "from_seq", (json_int_t)b->seg_from[g], "to_seq",
                      (json_int_t)b->seg_to[g], "frames", (json_int_t)b->seg_frames[g], "readable",
                      (json_int_t)b->seg_readable[g]));
    }
    json_t *why = json_array(), *miss = json_array();
    for (size_t i = 0; i < nr; i++)
        json_array_append_new(why, json_string(reasons[i]));
    for (size_t i = 0; i < nn; i++)
        json_array_append_new(miss, json_string(names[i]));
    if (missing)
        *missing = json_incref(miss);
    char rule[64] = "";
    if (b->rule) {
        if (b->rule->when == CS_WHEN_POLYP_MM_AT_LEAST || b->rule->when == CS_WHEN_POLYPS_AT_LEAST)
            snprintf(rule, sizeof rule, "%s %d", cs_report_when_name(b->rule->when),
                     b->rule->value);
        else
            snprintf(rule, sizeof rule, "%s", cs_report_when_name(b->rule->when));
    }
    json_t *d = json_pack(
        "{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:b, s:s, s:o, s:o, s:o, s:b, s:o, s:b, s:o}",
        "cc_clear", cc, "cc_clear_source", src, "cc_clear_total", int_or_null(total),
        "cleansing_adequacy", adequacy ? json_string(adequacy) : json_null(), "cc_clear_suggested",
        sug, "cc_clear_suggested_basis", basis, "landmarks",
        json_pack("{s:o, s:o}", "first_caecal",
                  b->first_caecal >= 0 ? json_integer(b->first_caecal) : json_null(), "excreted",
                  b->excreted >= 0 ? json_integer(b->excreted) : json_null()),
        "excreted", b->f.excreted, "completeness", completeness, "completeness_reasons", why,
        "recommendation_suggested", suggested ? json_string(suggested) : json_null(),
        "recommendation_rule", b->rule ? json_string(rule) : json_null(), "recommendation_urgent",
        b->rule && b->rule->urgent, "follow_up_months_suggested",
        b->rule ? int_or_null(b->rule->follow_up_months) : json_null(), "recommendation_override",
        cs_report_is_override(b->f.recommendation, suggested), "mandatory_missing", miss);
    json_object_set_new(d, "upper_gi_disclaimer", json_string(UPPER_GI_DISCLAIMER));
    return d;
}

static json_t *addendum_json(const cs_addendum_rec *ad)
{
    return json_pack("{s:I, s:s, s:I, s:s, s:s}", "id", (json_int_t)ad->id, "by", ad->by, "at_ms",
                     (json_int_t)ad->at_ms, "reason", ad->reason, "text", ad->text);
}

static json_t *addenda_json(const cs_addendum_rec *ad, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, addendum_json(&ad[i]));
    return a;
}

/* The whole answer: the report, its `derived` fields and its addenda;
 * NULL (err set) on a store failure. */
/* The findings a printed report lists (printable_report), for the page
 * that shows the report before it is signed. */
static json_t *findings_json(const cs_finding_rec *fs, size_t nf)
{
    json_t *a = json_array();
    for (size_t i = 0; i < nf; i++) {
        const char *segment;
        int count;
        bool cancer;
        finding_structure(&fs[i], &segment, &count, &cancer);
        json_array_append_new(
            a, json_pack("{s:I, s:i, s:s, s:s, s:I, s:I, s:o, s:s, s:i, s:b, s:s}", "id",
                         (json_int_t)fs[i].id, "version", fs[i].version, "type", fs[i].type,
                         "segment", segment, "seq_from", (json_int_t)fs[i].seq_from, "seq_to",
                         (json_int_t)fs[i].seq_to, "size_mm",
                         fs[i].size_mm >= 0 ? json_real(fs[i].size_mm) : json_null(), "morphology",
                         fs[i].morphology, "count", count, "suspected_cancer", cancer, "note",
                         fs[i].note));
    }
    return a;
}

json_t *cs_ws_report_answer(const cs_api *api, const cs_report_rec *rep, cs_error *err)
{
    json_t *o = report_json(rep);
    report_basis *b = malloc(sizeof *b);
    cs_addendum_rec *ad = NULL;
    cs_finding_rec *fs = NULL;
    size_t na = 0, nf = 0;
    char stamp[CS_REPORT_BASIS_HEX];
    cs_status st = b ? CS_OK : cs_error_set(err, CS_ERR_NOMEM, "out of memory");
    /* The stamp first: a change landing while the rest is read makes what
     * is shown newer than the stamp, so signing it is refused (safe), never
     * the other way round. */
    if (st == CS_OK)
        st = cs_store_report_basis(api->store, rep->study, stamp, err);
    if (st == CS_OK)
        st = cs_store_findings_list(api->store, rep->study, false, &fs, &nf, err);
    if (st == CS_OK)
        st = gather(api, rep->study, json_object_get(o, "content"), rep->updated_by, b, err);
    if (st == CS_OK)
        st = cs_store_addenda_list(api->store, rep->study, &ad, &na, err);
    if (st == CS_OK) {
        json_object_set_new(o, "derived", derived_json(b, NULL));
        json_object_set_new(o, "addenda", addenda_json(ad, na));
        json_object_set_new(o, "findings", findings_json(fs, nf));
        json_object_set_new(o, "basis", json_string(stamp));
    }
    free(fs);
    free(ad);
    free(b);
    if (st != CS_OK) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* Validate a save body's content and rebuild it with known fields only. */
static json_t *clean_content(const cs_api *api, struct MHD_Connection *c, const char *study,
                             json_t *in, uint64_t frames, enum MHD_Result *ret)
{
    const char *text_keys[] = {"findings_text", "comments", "prep_checklist", "extracolonic"};
    json_t *out = json_object();
    if (!json_is_object(in)) {
        *ret = cs_http_error(api->metrics, c, 400, false, "bad_json", "content must be an object");
        goto fail;
    }
    for (size_t i = 0; i < sizeof text_keys / sizeof text_keys[0]; i++) {
        json_t *v = json_object_get(in, text_keys[i]);
        if (v && (!json_is_string(v) || strlen(json_string_value(v)) > TEXT_MAX)) {
            *ret = cs_http_error(api->metrics, c, 400, false, "bad_json",
                                 "%s must be text of at most %d bytes", text_keys[i], TEXT_MAX);
            goto fail;
        }
        json_object_set_new(out, text_keys[i], json_string(v ? json_string_value(v) : ""));
    }
    /* cleansing_adequacy and completeness were chosen by the reader before
     * issue 9; they are derived now (`derived`), but still accepted and
     * kept so a report saved or signed with them reads as it was. */
    struct {
        const char *key;
        const cs_vocab_word *set;
    } enums[] = {{"cleansing_adequacy", ADEQUACY},
                 {"completeness", COMPLETENESS},
                 {"recommendation", cs_vocab_recommendations}};
    for (int i = 0; i < 3; i++) {
        json_t *v = json_object_get(in, enums[i].key);
        const char *t = v ? json_string_value(v) : "";
        if (!t || (t[0] && !cs_vocab_has(enums[i].set, t))) {
            *ret = cs_http_error(api->metrics, c, 400, false, "bad_json", "%s has an unknown value",
                                 enums[i].key);
            goto fail;
        }
        json_object_set_new(out, enums[i].key, json_string(t));
    }
    /* CC-CLEAR: the three segments, each 0-3 or null (not confirmed). */
    json_t *cc = json_object_get(in, "cc_clear"), *cc_out = json_object();
    json_object_set_new(out, "cc_clear", cc_out);
    if (cc && !json_is_null(cc) && !json_is_object(cc)) {
        *ret = cs_http_error(api->metrics, c, 400, false, "bad_json",
                             "cc_clear must be an object {right_colon, transverse_colon, "
                             "left_colon}");
        goto fail;
    }
    const char *ck;
    json_t *cv;
    json_object_foreach(json_is_object(cc) ? cc : NULL, ck, cv)
    {
        bool known = false;
        for (int g = 0; g < CS_CC_SEGMENTS; g++)
            known = known || strcmp(ck, cs_cc_clear_segments[g]) == 0;
        if (!known) {
            *ret = cs_http_error(api->metrics, c, 400, false, "bad_json",
                                 "cc_clear has an unknown segment \"%.40s\" (right_colon, "
                                 "transverse_colon, left_colon)",
                                 ck);
            goto fail;
        }
        if (!json_is_null(cv) &&
            (!json_is_integer(cv) || json_integer_value(cv) < 0 || json_integer_value(cv) > 3)) {
            *ret = cs_http_error(api->metrics, c, 400, false, "bad_json",
                                 "cc_clear.%s must be a whole number 0-3 or null", ck);
            goto fail;
        }
    }
    for (int g = 0; g < CS_CC_SEGMENTS; g++) {
        json_t *v = json_is_object(cc) ? json_object_get(cc, cs_cc_clear_segments[g]) : NULL;
        json_object_set_new(cc_out, cs_cc_clear_segments[g],
                            json_is_integer(v) ? json_integer(json_integer_value(v)) : json_null());
    }
    json_t *reason = json_object_get(in, "recommendation_reason");
    if (reason && (!json_is_string(reason) || strlen(json_string_value(reason)) > REASON_MAX)) {
        *ret = cs_http_error(api->metrics, c, 400, false, "bad_json",
                             "recommendation_reason must be text of at most %d bytes", REASON_MAX);
        goto fail;
    }
    json_object_set_new(out, "recommendation_reason",
                        json_string(reason ? json_string_value(reason) : ""));
    json_t *months = json_object_get(in, "follow_up_months");
    if (months && !json_is_null(months) &&
        (!json_is_integer(months) || json_integer_value(months) < 0 ||
         json_integer_value(months) > FOLLOW_UP_MAX)) {
        *ret = cs_http_error(api->metrics, c, 400, false, "bad_json",
                             "follow_up_months must be a whole number 0-%d or null", FOLLOW_UP_MAX);
        goto fail;
    }
    json_object_set_new(out, "follow_up_months",
                        json_is_integer(months) ? json_integer(json_integer_value(months))
                                                : json_null());
    json_t *ack = json_object_get(in, "upper_gi_disclaimer_ack");
    if (ack && !json_is_boolean(ack)) {
        *ret = cs_http_error(api->metrics, c, 400, false, "bad_json",
                             "upper_gi_disclaimer_ack must be true or false");
        goto fail;
    }
    json_object_set_new(out, "upper_gi_disclaimer_ack", json_boolean(json_is_true(ack)));
    json_t *kf = json_object_get(in, "key_frames"), *keep = json_array();
    json_object_set_new(out, "key_frames", keep);
    if (kf && (!json_is_array(kf) || json_array_size(kf) > KEY_FRAMES_MAX)) {
        *ret =
            cs_http_error(api->metrics, c, 400, false, "bad_json",
                          "key_frames must be a list of at most %d frame numbers", KEY_FRAMES_MAX);
        goto fail;
    }
    for (size_t i = 0; kf && i < json_array_size(kf); i++) {
        json_t *v = json_array_get(kf, i);
        if (!json_is_integer(v) || json_integer_value(v) < 0 ||
            (uint64_t)json_integer_value(v) >= frames) {
            *ret = cs_http_error(api->metrics, c, 400, false, "bad_json",
                                 "key_frames[%zu] is not a frame of this study", i);
            goto fail;
        }
        /* A key frame is an image in the printout and the PACS. */
        bool failed = false;
        cs_error e = {0};
        if (cs_ws_frame_failed(api, study, (uint64_t)json_integer_value(v), &failed, &e) != CS_OK) {
            *ret = cs_http_error(api->metrics, c, 503, false, "store_unavailable", "%s", e.msg);
            goto fail;
        }
        if (failed) {
            *ret = cs_http_error(api->metrics, c, 422, false, "frame_failed",
                                 "key_frames[%zu]: frame %lld failed analysis and has no image", i,
                                 (long long)json_integer_value(v));
            goto fail;
        }
        /* Each key frame is one image with its own UID in the PACS and
         * the FHIR export: a frame listed twice is a slip, refused. */
        for (size_t j = 0; j < i; j++)
            if (json_integer_value(json_array_get(kf, j)) == json_integer_value(v)) {
                *ret = cs_http_error(api->metrics, c, 422, false, "duplicate_key_frame",
                                     "key_frames[%zu] is frame %lld again (key_frames[%zu]): "
                                     "list each key frame once",
                                     i, (long long)json_integer_value(v), j);
                goto fail;
            }
        json_array_append(keep, v);
    }
    return out;
fail:
    json_decref(out);
    return NULL;
}

static enum MHD_Result save(const cs_api *api, struct MHD_Connection *c, cs_req *r,
                            const cs_auth *a)
{
    enum MHD_Result ret;
    cs_error e = {0};
    cs_study_counts k;
    if (cs_store_study_counts(api->store, r->id, &k, &e) != CS_OK)
        return cs_http_error(api->metrics, c, 503, false, "store_unavailable", "%s", e.msg);
    json_t *o = cs_http_body_json(api->metrics, c, r, &ret);
    if (!o)
        return ret;
    cs_report_rec *rep = calloc(1, sizeof *rep);
    json_t *content = NULL;
    json_t *ver = json_object_get(o, "version");
    const char *state =
        json_object_get(o, "state") ? json_string_value(json_object_get(o, "state")) : "draft";
    if (!rep) {
        ret = MHD_NO;
        goto done;
    }
    if (!state || (strcmp(state, "draft") != 0 && strcmp(state, "read") != 0)) {
        ret = cs_http_error(api->metrics, c, 400, false, "bad_state",
                            "state must be draft or read (signing is POST .../report/sign)");
        goto done;
    }
    if (ver && (!json_is_integer(ver) || json_integer_value(ver) < 0)) {
        ret = cs_http_error(api->metrics, c, 400, false, "bad_version",
                            "version must be a whole number");
        goto done;
    }
    if (!(content = clean_content(api, c, r->id, json_object_get(o, "content"), k.frames, &ret)))
        goto done;
    char *text = json_dumps(content, JSON_COMPACT);
    if (!text || strlen(text) >= sizeof rep->content) {
        free(text);
        ret =
            cs_http_error(api->metrics, c, 413, false, "body_too_large", "the report is too long");
        goto done;
    }
    snprintf(rep->content, sizeof rep->content, "%s", text);
    free(text);
    snprintf(rep->study, sizeof rep->study, "%s", r->id);
    snprintf(rep->state, sizeof rep->state, "%s", state);
    snprintf(rep->updated_by, sizeof rep->updated_by, "%s", a->user);
    rep->updated_at_ms = cs_now_ms();
    cs_change_outcome out = CS_CHANGE_OK;
    if (cs_store_report_save(api->store, rep, ver ? (int)json_integer_value(ver) : -1, &out, &e) !=
        CS_OK) {
        ret = cs_http_error(api->metrics, c, 503, false, "store_unavailable", "%s", e.msg);
        goto done;
    }
    if (cs_ws_change_failed(api, c, out, "report", &ret))
        goto done;
    cs_audit(api->audit, a, "report.save", r->id, "version %d, %s", rep->version, rep->state);
    json_t *answer = cs_ws_report_answer(api, rep, &e);
    ret = answer ? cs_http_json(c, 200, answer, false, NULL)
                 : cs_http_error(api->metrics, c, 503, false, "store_unavailable", "%s", e.msg);
done:
    json_decref(content);
    json_decref(o);
    free(rep);
    return ret;
}

enum MHD_Result cs_ws_report(const cs_api *api, struct MHD_Connection *c, cs_req *r)
{
    enum MHD_Result ret;
    cs_auth a;
    cs_error e = {0};
    bool get = strcmp(r->method, "GET") == 0;
    a = r->auth;
    if (cs_ws_need_study(api, c, r->id, &ret))
        return ret;
    if (!get)
        return save(api, c, r, &a);
    cs_report_rec *rep = malloc(sizeof *rep);
    bool found = false;
    if (!rep)
        return MHD_NO;
    if (cs_store_report_get(api->store, r->id, &found, rep, &e) != CS_OK)
        ret = cs_http_error(api->metrics, c, 503, false, "store_unavailable", "%s", e.msg);
    else if (!found)
        ret = cs_http_error(api->metrics, c, 404, false, "no_report",
                            "study '%s' has no report yet", r->id);
    else {
        json_t *answer = cs_ws_report_answer(api, rep, &e);
        ret = answer ? cs_http_json(c, 200, answer, false, NULL)
                     : cs_http_error(api->metrics, c, 503, false, "store_unavailable", "%s", e.msg);
    }
    free(rep);
    return ret;
}

/* Whether the study is complete enough to sign, as the store's signing
 * transaction judges it (store.h, cs_store_report_sign_checked): read
 * here only to keep the order of the answers; the store checks again. */
static cs_status study_complete(const cs_api *api, const char *study, bool *complete, cs_error *err)
{
    cs_study_rec sr;
    bool found = false;
    cs_upload_rec *up = NULL;
    size_t n = 0;
    *complete = false;
    cs_status st = cs_store_study_get(api->store, study, &found, &sr, err);
    if (st != CS_OK || !found ||
        (st = cs_store_upload_list(api->store, study, false, &up, &n, err)) != CS_OK)
        return st;
    uint64_t bytes = 0;
    bool all_in = n > 0;
    for (size_t i = 0; i < n; i++) {
        bytes += up[i].offset;
        all_in = all_in && up[i].state == CS_UPLOAD_COMPLETE;
    }
    free(up);
    *complete = sr.ingest_offset >= bytes && (sr.closed_at_ms != 0 || all_in);
    return CS_OK;
}

/* The Nyborg 2025 mandatory fields of version `shown`: answers 422
 * mandatory_missing with the list (true) when any is missing. It lets the
 * store's own refusals answer first (no report, signed already, a stale
 * version, no recommendation, an incomplete study: false here), so their
 * order stays. The
 * content checked is the shown version's, which cannot change; the marks
 * and findings checked are those of the shown basis stamp (a stale stamp
 * is left to the store's basis_changed), and if they change between this
 * check and the signing transaction the stamp no longer matches there. */
static bool mandatory_refused(const cs_api *api, struct MHD_Connection *c, const char *study,
                              int shown, const char *shown_basis, enum MHD_Result *ret)
{
    char stamp[CS_REPORT_BASIS_HEX];
    cs_error e = {0};
    bool found = false, refused = false;
    cs_report_rec *rep = malloc(sizeof *rep);
    report_basis *b = malloc(sizeof *b);
    json_t *ct = NULL, *missing = NULL, *derived = NULL;
    if (!rep || !b) {
        *ret = MHD_NO;
        refused = true;
        goto done;
    }
    if (cs_store_report_get(api->store, study, &found, rep, &e) != CS_OK)
        goto store_failed;
    ct = found ? json_loads(rep->content, 0, NULL) : NULL;
    if (!found || strcmp(rep->state, "signed") == 0 || rep->version != shown ||
        !text_set(ct, "recommendation"))
        goto done;
    bool complete = false;
    if (study_complete(api, study, &complete, &e) != CS_OK)
        goto store_failed;
    if (!complete)
        goto done;
    if (cs_store_report_basis(api->store, study, stamp, &e) != CS_OK)
        goto store_failed;
    if (strcmp(stamp, shown_basis) != 0)
        goto done;
    if (gather(api, study, ct, rep->updated_by, b, &e) != CS_OK)
        goto store_failed;
    derived = derived_json(b, &missing);
    if (json_array_size(missing) > 0) {
        char list[512] = "";
        size_t i;
        json_t *m;
        json_array_foreach(missing, i, m)
        {
            size_t at = strlen(list);
            snprintf(list + at, sizeof list - at, "%s%s", i ? ", " : "", json_string_value(m));
        }
        cs_metrics_error(api->metrics, CS_EK_BAD_REQUEST);
        *ret = cs_http_json(
            c, 422,
            json_pack("{s:s, s:i, s:s+, s:O}", "error", "mandatory_missing", "status", 422,
                      "reason", "the report cannot be signed without: ", list, "missing", missing),
            false, NULL);
        refused = true;
    }
    goto done;
store_failed:
    *ret = cs_http_error(api->metrics, c, 503, false, "store_unavailable", "%s", e.msg);
    refused = true;
done:
    json_decref(derived);
    json_decref(missing);
    json_decref(ct);
    free(b);
    free(rep);
    return refused;
}

/* POST .../report/sign {"version": N, "basis": B}: sign exactly version N
 * with the findings, marks and patient of basis stamp B, what the
 * consultant was shown. Every rule (version and stamp current,
 * recommendation present, study complete, not signed yet) is checked by
 * the store in the signing transaction, so no save, finding or upload can
 * slip in between. */
enum MHD_Result cs_ws_report_sign(const cs_api *api, struct MHD_Connection *c, cs_req *r)
{
    enum MHD_Result ret;
    cs_auth a;
    cs_error e = {0};
    a = r->auth;
    if (cs_ws_need_study(api, c, r->id, &ret))
        return ret;
    json_t *o = r->body_len ? cs_http_body_json(api->metrics, c, r, &ret) : json_object();
    if (!o)
        return ret;
    json_t *ver = json_object_get(o, "version");
    cs_report_rec *rep = calloc(1, sizeof *rep);
    cs_check_outcome out = CS_CHECK_OK;
    if (!rep) {
        ret = MHD_NO;
        goto done;
    }
    if (!ver) {
        ret = cs_http_error(api->metrics, c, 422, false, "version_required",
                            "send {\"version\": N}, the report version you were shown");
        goto done;
    }
    if (!json_is_integer(ver) || json_integer_value(ver) < 1 ||
        json_integer_value(ver) > INT32_MAX) {
        ret = cs_http_error(api->metrics, c, 422, false, "bad_version",
                            "version must be a report version (a whole number from 1)");
        goto done;
    }
    int shown = (int)json_integer_value(ver);
    json_t *basis = json_object_get(o, "basis");
    if (!basis) {
        ret = cs_http_error(api->metrics, c, 422, false, "basis_required",
                            "send {\"version\": N, \"basis\": B}, the report version and the "
                            "basis stamp of the report you were shown (REPORT.basis)");
        goto done;
    }
    if (!json_is_string(basis) || json_string_length(basis) != CS_REPORT_BASIS_HEX - 1) {
        ret = cs_http_error(api->metrics, c, 422, false, "bad_basis",
                            "basis must be the %d-character stamp of the report you were shown",
                            CS_REPORT_BASIS_HEX - 1);
        goto done;
    }
    if (mandatory_refused(api, c, r->id, shown, json_string_value(basis), &ret))
        goto done;
    if (cs_store_report_sign_checked(api->store, r->id, a.user, cs_now_ms(), shown,
                                     json_string_value(basis), &out, rep, &e) != CS_OK) {
        ret = cs_http_error(api->metrics, c, 503, false, "store_unavailable", "%s", e.msg);
        goto done;
    }
    switch (out) {
    case CS_CHECK_OK:
        /* the stamp too: what the signer was shown, findable later */
        cs_audit(api->audit, &a, "report.sign", r->id, "version %d; basis %s", rep->version,
                 json_string_value(basis));
        cs_ws_pacs_on_sign(api, &a, r->id); /* key frames to the PACS (docs/pacs.md) */
        json_t *answer = cs_ws_report_answer(api, rep, &e);
        /* Signed either way: a failing re-read still says so. */
        ret = cs_http_json(c, 200, answer ? answer : report_json(rep), false, NULL);
        break;
    case CS_CHECK_NOT_FOUND:
        ret = cs_http_error(api->metrics, c, 404, false, "no_report",
                            "study '%s' has no report to sign", r->id);
        break;
    case CS_CHECK_LOCKED:
        ret = cs_http_error(api->metrics, c, 409, false, "report_signed",
                            "the report is already signed");
        break;
    case CS_CHECK_CONFLICT:
        ret = cs_http_error(api->metrics, c, 409, false, "version_conflict",
                            "version %d is not the current report: it changed since it was "
                            "shown; reload it and review before signing",
                            shown);
        break;
    case CS_CHECK_BASIS_CHANGED:
        ret = cs_http_error(api->metrics, c, 409, false, "basis_changed",
                            "the findings, landmarks, cleansing grades or patient details "
                            "that the report shows, or the study's frames, changed since it was "
                            "shown; reload it and review before signing");
        break;
    case CS_CHECK_INVALID:
        ret = cs_http_error(api->metrics, c, 422, false, "no_recommendation",
                            "the report needs a recommendation before it is signed");
        break;
    case CS_CHECK_INCOMPLETE:
        ret = cs_http_error(api->metrics, c, 409, false, "ingest_incomplete",
                            "the study is not complete: uploads are still open or not all "
                            "analysed; a coordinator can close the study "
                            "(POST /api/v1/studies/%s/close)",
                            r->id);
        break;
    default:
        ret = cs_http_error(api->metrics, c, 409, false, cs_check_outcome_name(out),
                            "the report cannot be signed (%s)", cs_check_outcome_name(out));
        break;
    }
done:
    json_decref(o);
    free(rep);
    return ret;
}

/* POST .../report/addenda {"reason", "text"}: a correction to a signed
 * report (reader or consultant). The signed content never changes; the
 * addendum is appended with who and when, audited, and shown after it. */
enum MHD_Result cs_ws_report_addendum(const cs_api *api, struct MHD_Connection *c, cs_req *r)
{
    enum MHD_Result ret;
    cs_auth a = r->auth;
    cs_error e = {0};
    if (cs_ws_need_study(api, c, r->id, &ret))
        return ret;
    json_t *o = cs_http_body_json(api->metrics, c, r, &ret);
    if (!o)
        return ret;
    cs_addendum_rec *ad = calloc(1, sizeof *ad);
    if (!ad) {
        json_decref(o);
        return MHD_NO;
    }
    const struct {
        const char *key;
        char *out;
        size_t cap;
    } fields[] = {{"reason", ad->reason, sizeof ad->reason}, {"text", ad->text, sizeof ad->text}};
    for (size_t i = 0; i < 2; i++) {
        json_t *v = json_object_get(o, fields[i].key);
        if (!json_is_string(v) || !text_set(o, fields[i].key) ||
            strlen(json_string_value(v)) >= fields[i].cap) {
            ret = cs_http_error(api->metrics, c, 400, false, "bad_json",
                                "%s must be text of 1 to %zu bytes", fields[i].key,
                                fields[i].cap - 1);
            goto done;
        }
        snprintf(fields[i].out, fields[i].cap, "%s", json_string_value(v));
    }
    snprintf(ad->study, sizeof ad->study, "%s", r->id);
    snprintf(ad->by, sizeof ad->by, "%s", a.user);
    ad->at_ms = cs_now_ms();
    cs_check_outcome out = CS_CHECK_NOT_FOUND;
    if (cs_store_addendum_add(api->store, ad, &out, &e) != CS_OK) {
        ret = cs_http_error(api->metrics, c, 503, false, "store_unavailable", "%s", e.msg);
        goto done;
    }
    if (out == CS_CHECK_NOT_FOUND)
        ret = cs_http_error(api->metrics, c, 404, false, "no_report", "study '%s' has no report",
                            r->id);
    else if (out != CS_CHECK_OK)
        ret = cs_http_error(api->metrics, c, 409, false, "report_not_signed",
                            "only a signed report takes an addendum: save the draft instead");
    else {
        cs_audit(api->audit, &a, "report.addendum", r->id, "addendum %lld: %.200s",
                 (long long)ad->id, ad->reason);
        ret = cs_http_json(c, 201, addendum_json(ad), false, NULL);
    }
done:
    free(ad);
    json_decref(o);
    return ret;
}

/* ---- printable HTML ------------------------------------------------------ */

typedef struct html {
    char *buf;
    size_t len, cap;
    bool failed;
} html;

static void put(html *h, const char *t, size_t n)
{
    if (h->failed)
        return;
    if (h->len + n + 1 > h->cap) {
        size_t cap = (h->cap ? h->cap * 2 : 16384) + n;
        char *b = realloc(h->buf, cap);
        if (!b) {
            h->failed = true;
            return;
        }
        h->buf = b;
        h->cap = cap;
    }
    memcpy(h->buf + h->len, t, n);
    h->len += n;
    h->buf[h->len] = '\0';
}

static void puts_raw(html *h, const char *t) { put(h, t, strlen(t)); }

/* Text with <, >, &, " and ' escaped. */
static void puts_text(html *h, const char *t)
{
    for (; t && *t; t++) {
        switch (*t) {
        case '<': puts_raw(h, "&lt;"); break;
        case '>': puts_raw(h, "&gt;"); break;
        case '&': puts_raw(h, "&amp;"); break;
        case '"': puts_raw(h, "&quot;"); break;
        case '\'': puts_raw(h, "&#39;"); break;
        default: put(h, t, 1);
        }
    }
}

static void putf(html *h, const char *fmt, ...) CS_PRINTF(2, 3);
static void putf(html *h, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    puts_raw(h, tmp);
}

static void put_time(html *h, int64_t ms)
{
    char t[64];
    time_t sec = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&sec, &tm);
    strftime(t, sizeof t, "%Y-%m-%d %H:%M UTC", &tm);
    puts_raw(h, t);
}

static const char *label_of(const char *v)
{
    const cs_vocab_word *const lists[] = {cs_vocab_recommendations, ADEQUACY, COMPLETENESS,
                                          cs_vocab_finding_types};
    for (size_t l = 0; l < sizeof lists / sizeof lists[0]; l++)
        for (size_t i = 0; lists[l][i].name; i++)
            if (strcmp(v, lists[l][i].name) == 0)
                return lists[l][i].label;
    return v[0] ? v : "not recorded";
}

static void put_key_frame(const cs_api *api, html *h, const char *study, uint64_t seq)
{
    uint8_t *img = NULL;
    size_t len = 0;
    bool found = false;
    cs_error e = {0};
    if (cs_media_frame(api->media, study, seq, &found, &img, &len, &e) != CS_OK || !found) {
        putf(h, "<figure><figcaption>frame %llu: no image</figcaption></figure>",
             (unsigned long long)seq);
        return;
    }
    size_t b64len = sodium_base64_encoded_len(len, sodium_base64_VARIANT_ORIGINAL);
    char *b64 = malloc(b64len);
    if (b64) {
        sodium_bin2base64(b64, b64len, img, len, sodium_base64_VARIANT_ORIGINAL);
        puts_raw(h, "<figure><img alt=\"key frame\" src=\"data:image/jpeg;base64,");
        puts_raw(h, b64);
        putf(h, "\"><figcaption>frame %llu</figcaption></figure>", (unsigned long long)seq);
    }
    free(b64);
    free(img);
}

/* One row of the mandatory-field table: the label, then the value. */
static void put_row(html *h, const char *label, const char *value)
{
    puts_raw(h, "<tr><th>");
    puts_text(h, label);
    puts_raw(h, "</th><td>");
    puts_text(h, value && value[0] ? value : "not recorded");
    puts_raw(h, "</td></tr>");
}

static void put_patient(html *h, const study_clinical *cl)
{
    puts_raw(h, "<h2>Patient</h2><table>");
    if (!cl->has_patient) {
        puts_raw(h, "<tr><td>No patient recorded for this study.</td></tr></table>");
        return;
    }
    char name[160];
    snprintf(name, sizeof name, "%s, %s", cl->family, cl->given);
    put_row(h, "Name", name);
    put_row(h, "NHS number", cl->nhs_number);
    put_row(h, "Date of birth", cl->birth_date);
    put_row(h, "Sex", cl->sex);
    put_row(h, "Pathway", cl->pathway);
    char ind[300];
    snprintf(ind, sizeof ind, "%s%s%s", cl->indication, cl->indication_detail[0] ? ": " : "",
             cl->indication_detail);
    put_row(h, "Indication", ind);
    put_row(h, "Referrer", cl->referrer);
    puts_raw(h, "</table>");
}

static void put_cc_clear(html *h, const report_basis *b)
{
    int total;
    const char *adequacy;
    cs_cc_clear_assess(b->f.cc_clear, &total, &adequacy);
    puts_raw(h, "<h2>Bowel cleansing (CC-CLEAR)</h2><table><tr><th>Segment</th><th>Score "
                "(0-3)</th><th>Engine suggestion</th></tr>");
    static const char *const LABELS[CS_CC_SEGMENTS] = {"Right colon", "Transverse colon",
                                                       "Left colon"};
    for (int g = 0; g < CS_CC_SEGMENTS; g++) {
        puts_raw(h, "<tr><td>");
        puts_text(h, LABELS[g]);
        puts_raw(h, "</td><td>");
        if (b->f.cc_clear[g] >= 0)
            putf(h, "%d%s", b->f.cc_clear[g], b->from_content[g] ? "" : " (from the old grade)");
        else
            puts_raw(h, "not confirmed");
        puts_raw(h, "</td><td>");
        if (b->suggested[g] >= 0)
            putf(h, "%d", b->suggested[g]);
        else
            puts_raw(h, "&ndash;");
        puts_raw(h, "</td></tr>");
    }
    puts_raw(h, "<tr><th>Total</th><td colspan=\"2\">");
    if (total >= 0)
        putf(h, "%d / 9: %s", total, adequacy);
    else
        puts_raw(h, "not complete");
    puts_raw(h, "</td></tr></table>");
}

enum MHD_Result cs_ws_report_html(const cs_api *api, struct MHD_Connection *c, cs_req *r)
{
    cs_auth a;
    cs_error e = {0};
    a = r->auth;
    cs_study_rec sr;
    bool found = false;
    if (cs_store_study_get(api->store, r->id, &found, &sr, &e) != CS_OK)
        return cs_http_error(api->metrics, c, 503, false, "store_unavailable", "%s", e.msg);
    if (!found)
        return cs_http_error(api->metrics, c, 404, false, "unknown_study", "no study '%s'", r->id);
    cs_report_rec *rep = malloc(sizeof *rep);
    report_basis *b = malloc(sizeof *b);
    cs_finding_rec *fs = NULL;
    cs_addendum_rec *ad = NULL;
    size_t nf = 0, na = 0;
    html h = {0};
    json_t *ct = NULL;
    if (!rep || !b) {
        free(rep);
        free(b);
        return MHD_NO;
    }
    cs_status st = cs_store_report_get(api->store, r->id, &found, rep, &e);
    if (st == CS_OK && found) {
        ct = json_loads(rep->content, 0, NULL);
        if ((st = cs_store_findings_list(api->store, r->id, false, &fs, &nf, &e)) == CS_OK &&
            (st = cs_store_addenda_list(api->store, r->id, &ad, &na, &e)) == CS_OK)
            st = gather(api, r->id, ct, rep->updated_by, b, &e);
    }
    if (st != CS_OK) {
        json_decref(ct);
        free(rep);
        free(b);
        free(fs);
        free(ad);
        return cs_http_error(api->metrics, c, 503, false, "store_unavailable", "%s", e.msg);
    }
    if (!found) {
        free(rep);
        free(b);
        free(fs);
        free(ad);
        return cs_http_error(api->metrics, c, 404, false, "no_report",
                             "study '%s' has no report yet", r->id);
    }
    study_clinical cl;
    read_clinical(&sr, &cl);
#define FIELD(k) \
    (json_string_value(json_object_get(ct, k)) ? json_string_value(json_object_get(ct, k)) : "")
    puts_raw(&h,
             "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
             "<title>Capsule endoscopy report</title><style>"
             "body{font:15px/1.5 system-ui,sans-serif;max-width:50em;margin:2em auto;color:#111}"
             "h1{font-size:1.4em}h2{font-size:1.1em;border-bottom:1px solid #999}"
             "table{border-collapse:collapse}td,th{border:1px solid #bbb;padding:.2em "
             ".5em;text-align:left}"
             "figure{display:inline-block;margin:.3em}img{max-width:14em}"
             ".sig{margin-top:2em;padding:.5em;border:2px solid #333}"
             ".urgent{color:#a00;font-weight:bold}.addendum{border-left:4px solid #555;"
             "padding-left:.7em;margin:.7em 0}"
             "@media print{body{margin:0}}</style></head><body>");
    puts_raw(&h, "<h1>Colon capsule endoscopy report</h1><p>Study <b>");
    puts_text(&h, sr.id);
    puts_raw(&h, "</b>");
    if (sr.label[0]) {
        puts_raw(&h, " &middot; ");
        puts_text(&h, sr.label);
    }
    puts_raw(&h, "</p>");
    put_patient(&h, &cl);

    /* A report saved before CC-CLEAR (no "cc_clear" in its content) prints
     * the assessment its reader chose and its signer saw, not one derived
     * now. */
    if (!json_object_get(ct, "cc_clear")) {
        puts_raw(&h, "<h2>Assessment</h2><table>");
        put_row(&h, "Cleansing", label_of(FIELD("cleansing_adequacy")));
        put_row(&h, "Completeness", label_of(FIELD("completeness")));
        puts_raw(&h, "</table><p class=\"small\">Reported before the CC-CLEAR scale: as "
                     "saved.</p>");
        goto findings;
    }
    const char *reasons[8];
    size_t nr = 0;
    const char *completeness = cs_report_completeness(&b->f, reasons, 8, &nr);
    puts_raw(&h, "<h2>Examination</h2><table>");
    put_row(&h, "Bowel preparation", FIELD("prep_checklist")[0] ? "as below" : "");
    int total;
    const char *adequacy;
    cs_cc_clear_assess(b->f.cc_clear, &total, &adequacy);
    put_row(&h, "Cleansing adequacy", adequacy);
    char comp[256];
    snprintf(comp, sizeof comp, "%s", completeness);
    for (size_t i = 0; i < nr; i++) {
        size_t at = strlen(comp);
        snprintf(comp + at, sizeof comp - at, "%s%s", i ? ", " : " (", reasons[i]);
    }
    if (nr)
        snprintf(comp + strlen(comp), sizeof comp - strlen(comp), ")");
    put_row(&h, "Completeness", comp);
    put_row(&h, "Caecum reached", b->f.caecum_reached ? "yes" : "no");
    put_row(&h, "Capsule excreted within the recording", b->f.excreted ? "yes" : "no");
    puts_raw(&h, "</table>");
    put_cc_clear(&h, b);
findings:
    puts_raw(&h, "<h2>Findings</h2>");
    if (nf == 0) {
        puts_raw(&h, "<p>No findings recorded.</p>");
    } else {
        puts_raw(&h, "<table><tr><th>Type</th><th>Segment</th><th>Frames</th><th>Size</th>"
                     "<th>Morphology (Paris)</th><th>Note</th></tr>");
        for (size_t i = 0; i < nf; i++) {
            const char *segment;
            int count;
            bool cancer;
            finding_structure(&fs[i], &segment, &count, &cancer);
            puts_raw(&h, "<tr><td>");
            puts_text(&h, label_of(fs[i].type));
            if (count > 1)
                putf(&h, " &times;%d", count);
            if (cancer)
                puts_raw(&h, " <span class=\"urgent\">suspected cancer</span>");
            puts_raw(&h, "</td><td>");
            puts_text(&h, segment[0] ? segment : "not recorded");
            putf(&h, "</td><td>%llu", (unsigned long long)fs[i].seq_from);
            if (fs[i].seq_to != fs[i].seq_from)
                putf(&h, "&ndash;%llu", (unsigned long long)fs[i].seq_to);
            puts_raw(&h, "</td><td>");
            /* As stored (0.5 mm steps): "%.0f" rounded 5.5 to "6 mm", over
             * the 6 mm that the recommendation rules compare the raw 5.5
             * with. */
            if (fs[i].size_mm >= 0)
                putf(&h, "%g mm*", fs[i].size_mm);
            puts_raw(&h, "</td><td>");
            puts_text(&h, fs[i].morphology);
            puts_raw(&h, "</td><td>");
            puts_text(&h, fs[i].note);
            puts_raw(&h, "</td></tr>");
        }
        puts_raw(&h, "</table>");
        puts_raw(&h, "<p class=\"small\">* Sizes are capsule estimates, which run 3&ndash;4 mm "
                     "large.</p>");
    }
    if (FIELD("findings_text")[0]) {
        puts_raw(&h, "<p>");
        puts_text(&h, FIELD("findings_text"));
        puts_raw(&h, "</p>");
    }
    puts_raw(&h, "<h2>Extracolonic and small-bowel findings</h2><p>");
    puts_text(&h, FIELD("extracolonic")[0] ? FIELD("extracolonic") : "not recorded");
    puts_raw(&h, "</p>");

    puts_raw(&h, "<h2>Recommendation</h2><table><tr><th>Recommendation</th><td><b>");
    puts_text(&h, label_of(FIELD("recommendation")));
    puts_raw(&h, "</b>");
    if (b->rule && b->rule->urgent && strcmp(FIELD("recommendation"), b->rule->recommend) == 0)
        puts_raw(&h, " <span class=\"urgent\">urgent</span>");
    puts_raw(&h, "</td></tr>");
    if (b->rule && cs_report_is_override(FIELD("recommendation"), b->rule->recommend)) {
        puts_raw(&h, "<tr><th>Suggested by the site's rules</th><td>");
        puts_text(&h, label_of(b->rule->recommend));
        puts_raw(&h, "</td></tr>");
        put_row(&h, "Reason for the different recommendation", FIELD("recommendation_reason"));
    }
    json_t *months = json_object_get(ct, "follow_up_months");
    char interval[32] = "";
    if (json_is_integer(months))
        snprintf(interval, sizeof interval, "%lld months", (long long)json_integer_value(months));
    put_row(&h, "Follow-up interval", interval);
    puts_raw(&h, "</table>");
    if (FIELD("prep_checklist")[0]) {
        /* As saved in the report (and so as signed), never read live. */
        puts_raw(&h, "<h2>Bowel preparation: the patient's checklist</h2><p style=\"white-space:"
                     "pre-line\">");
        puts_text(&h, FIELD("prep_checklist"));
        puts_raw(&h, "</p>");
    }
    if (FIELD("comments")[0]) {
        puts_raw(&h, "<h2>Comments</h2><p>");
        puts_text(&h, FIELD("comments"));
        puts_raw(&h, "</p>");
    }
    json_t *kf = json_object_get(ct, "key_frames");
    if (json_array_size(kf) > 0) {
        puts_raw(&h, "<h2>Key frames</h2>");
        for (size_t i = 0; i < json_array_size(kf) && i < KEY_FRAMES_MAX; i++)
            put_key_frame(api, &h, r->id, (uint64_t)json_integer_value(json_array_get(kf, i)));
    }
    puts_raw(&h, "<h2>Upper gastrointestinal tract</h2><p>");
    puts_text(&h, UPPER_GI_DISCLAIMER);
    puts_raw(&h, "</p><div class=\"sig\">Reader: <b>");
    puts_text(&h, rep->updated_by);
    puts_raw(&h, "</b> (last saved ");
    put_time(&h, rep->updated_at_ms);
    puts_raw(&h, ")<br>");
    if (strcmp(rep->state, "signed") == 0) {
        puts_raw(&h, "Signed by <b>");
        puts_text(&h, rep->signed_by);
        puts_raw(&h, "</b> (validator) on ");
        put_time(&h, rep->signed_at_ms);
    } else {
        puts_raw(&h, "<b>Not signed</b> (");
        puts_text(&h, rep->state);
        puts_raw(&h, ")");
    }
    puts_raw(&h, "</div>");
    if (na > 0) {
        puts_raw(&h, "<h2>Addenda</h2>");
        for (size_t i = 0; i < na; i++) {
            puts_raw(&h, "<div class=\"addendum\"><p><b>Addendum ");
            putf(&h, "%zu", i + 1);
            puts_raw(&h, "</b> by ");
            puts_text(&h, ad[i].by);
            puts_raw(&h, " on ");
            put_time(&h, ad[i].at_ms);
            puts_raw(&h, ". Reason: ");
            puts_text(&h, ad[i].reason);
            puts_raw(&h, "</p><p style=\"white-space:pre-line\">");
            puts_text(&h, ad[i].text);
            puts_raw(&h, "</p></div>");
        }
    }
    puts_raw(&h, "</body></html>\n");
#undef FIELD
    json_decref(ct);
    free(fs);
    free(ad);
    free(b);
    free(rep);
    if (h.failed) {
        free(h.buf);
        return MHD_NO;
    }
    cs_audit(api->audit, &a, "report.export", r->id, "printable HTML");
    if (cl.has_patient) /* the patient block: every read of it is audited */
        cs_audit(api->audit, &a, "patient.read", r->id, "printable report");
    const char *hd[] = {"Cache-Control", "no-store", "Content-Security-Policy",
                        "default-src 'none'; img-src data:; style-src 'unsafe-inline'", NULL};
    return cs_http_bytes(c, 200, "text/html; charset=utf-8", h.buf, h.len, true, hd);
}
