/* training_api.c - reader training (issue 12, docs/training.md): courses,
 * known-answer cases made from signed studies, blinded attempts scored by
 * the rule of training/score.h, and each trainee's progress.
 *
 * Blinding is the server's: a trainee's session reaches only the routes
 * under /api/v1/training (the clinical routes do not list the trainee
 * role), a case shows its label and frames but never its study's patient,
 * label or id, and the reference answers 403 `reference_blind` to a trainee
 * until that trainee has submitted the case. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/api/api_int.h"
#include "server/auth/tokens.h"
#include "server/core/vocabulary.h"
#include "server/media/media.h"
#include "server/training/score.h"

#define DEFAULT_TOLERANCE 5
#define MAX_ANSWER_FINDINGS 512

/* v, or JSON null when v is NULL (a new reference either way). */
static json_t *or_null(json_t *v) { return v ? json_incref(v) : json_null(); }

static bool is_trainee(const cs_req *r)
{
    return r->auth.kind == CS_AUTH_USER && strcmp(r->auth.role, "trainee") == 0;
}

static const char *who_of(const cs_req *r)
{
    return r->auth.user[0] ? r->auth.user : "admin-token";
}

static enum MHD_Result store_failed(const cs_api *api, struct MHD_Connection *c, const cs_error *e)
{
    return cs_http_error(api->metrics, c, 503, false, "store_unavailable", "%s", e->msg);
}

/* ---- courses -------------------------------------------------------------- */

static json_t *course_json(const cs_course_rec *c)
{
    return json_pack("{s:s, s:s, s:b, s:i, s:{s:i, s:f}, s:s, s:I}", "id", c->id, "name", c->name,
                     "show_engine_flags", c->show_flags, "tolerance_frames", c->tolerance_frames,
                     "standard", "cases", c->standard_cases, "sensitivity", c->standard_sensitivity,
                     "created_by", c->created_by, "created_at_ms", (json_int_t)c->created_at_ms);
}

enum MHD_Result cs_api_training_courses(const cs_api *api, struct MHD_Connection *c, cs_req *r)
{
    enum MHD_Result ret;
    cs_error e = {0};
    if (strcmp(r->method, "GET") == 0) {
        cs_course_rec *v = NULL;
        size_t n = 0;
        if (cs_store_courses_list(api->store, &v, &n, &e) != CS_OK)
            return store_failed(api, c, &e);
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(arr, course_json(&v[i]));
        free(v);
        return cs_http_json(c, 200, json_pack("{s:o}", "courses", arr), false, NULL);
    }
    json_t *o = cs_http_body_json(api->metrics, c, r, &ret);
    if (!o)
        return ret;
    cs_course_rec cr;
    memset(&cr, 0, sizeof cr);
    const char *name = json_string_value(json_object_get(o, "name"));
    json_t *flags = json_object_get(o, "show_engine_flags"),
           *tol = json_object_get(o, "tolerance_frames");
    json_t *std = json_object_get(o, "standard");
    json_t *sc = std ? json_object_get(std, "cases") : NULL;
    json_t *ss = std ? json_object_get(std, "sensitivity") : NULL;
    if (!name || !name[strspn(name, " \t")] || strlen(name) >= sizeof cr.name)
        ret = cs_http_error(api->metrics, c, 400, false, "bad_json",
                            "name is required: text of at most %zu bytes", sizeof cr.name - 1);
    else if (flags && !json_is_boolean(flags))
        ret = cs_http_error(api->metrics, c, 400, false, "bad_json",
                            "show_engine_flags must be true or false");
    else if (tol && (!json_is_integer(tol) || json_integer_value(tol) < 0 ||
                     json_integer_value(tol) > 1000))
        ret = cs_http_error(api->metrics, c, 400, false, "bad_json",
                            "tolerance_frames must be a whole number 0..1000");
    else if (std && (!json_is_object(std) ||
                     (sc && (!json_is_integer(sc) || json_integer_value(sc) < 1 ||
                             json_integer_value(sc) > 10000)) ||
                     (ss && (!json_is_number(ss) || json_number_value(ss) < 0 ||
                             json_number_value(ss) > 1))))
        ret = cs_http_error(api->metrics, c, 400, false, "bad_json",
                            "standard must be {\"cases\": 1..10000, \"sensitivity\": 0..1}");
    else {
        cs_check_outcome out;
        cs_id_new(cr.id, 8);
        snprintf(cr.name, sizeof cr.name, "%s", name);
        cr.show_flags = flags ? json_is_true(flags) : false;
        cr.tolerance_frames = tol ? (int)json_integer_value(tol) : DEFAULT_TOLERANCE;
        cr.standard_cases = sc ? (int)json_integer_value(sc) : 20;
        cr.standard_sensitivity = ss ? json_number_value(ss) : 0.9;
        snprintf(cr.created_by, sizeof cr.created_by, "%s", who_of(r));
        cr.created_at_ms = cs_now_ms();
        if (cs_store_course_create(api->store, &cr, &out, &e) != CS_OK)
            ret = store_failed(api, c, &e);
        else if (out != CS_CHECK_OK)
            ret = cs_http_error(api->metrics, c, 409, false, "course_exists",
                                "a course with this id exists; try again");
        else {
            cs_audit(api->audit, &r->auth, "training.course", "", "course %s: %s", cr.id, cr.name);
            ret = cs_http_json(c, 201, course_json(&cr), false, NULL);
        }
    }
    json_decref(o);
    return ret;
}

/* ---- cases ------------------------------------------------------------------ */

/* Old five-level cleansing grades as CC-CLEAR scores (docs/training.md). */
static int grade_score(const char *g)
{
    static const char *const names[] = {"poor", "fair", "good", "excellent"};
    for (int i = 0; i < 4; i++)
        if (strcmp(g, names[i]) == 0)
            return i;
    return -1;
}

/* The reference of a signed study: its findings, landmarks and cleansing
 * scores (CC-CLEAR from the report when scored there, else the segment
 * grades). NULL with *ret answered. */
static json_t *reference_of(const cs_api *api, struct MHD_Connection *c, const char *study,
                            enum MHD_Result *ret)
{
    cs_error e = {0};
    bool is_signed = false;
    if (cs_store_report_signed(api->store, study, &is_signed, &e) != CS_OK) {
        *ret = store_failed(api, c, &e);
        return NULL;
    }
    if (!is_signed) {
        *ret = cs_http_error(api->metrics, c, 409, false, "not_signed",
                             "only a study with a signed report can become a training case");
        return NULL;
    }
    cs_finding_rec *fs = NULL;
    cs_mark_rec *ms = NULL;
    cs_report_rec *rep = malloc(sizeof *rep);
    size_t nf = 0, nm = 0;
    bool found = false;
    if (!rep || cs_store_findings_list(api->store, study, false, &fs, &nf, &e) != CS_OK ||
        cs_store_marks_list(api->store, study, &ms, &nm, &e) != CS_OK ||
        cs_store_report_get(api->store, study, &found, rep, &e) != CS_OK) {
        free(fs), free(ms), free(rep);
        *ret = store_failed(api, c, &e);
        return NULL;
    }
    json_t *findings = json_array(), *landmarks = json_object(), *cleansing = json_object();
    for (size_t i = 0; i < nf; i++)
        json_array_append_new(
            findings,
            json_pack("{s:I, s:s, s:I, s:I, s:s, s:o}", "id", (json_int_t)fs[i].id, "type",
                      fs[i].type, "seq_from", (json_int_t)fs[i].seq_from, "seq_to",
                      (json_int_t)fs[i].seq_to, "segment", fs[i].segment, "size_mm",
                      fs[i].size_mm >= 0 ? json_real(fs[i].size_mm) : json_null()));
    for (size_t i = 0; i < nm; i++) {
        if (strcmp(ms[i].kind, "landmark") == 0)
            json_object_set_new(landmarks, ms[i].key, json_integer(ms[i].seq));
        else if (grade_score(ms[i].value) >= 0)
            json_object_set_new(cleansing, ms[i].key, json_integer(grade_score(ms[i].value)));
    }
    /* CC-CLEAR scores the reader confirmed in the report win over grades. */
    json_t *content = found ? json_loads(rep->content, 0, NULL) : NULL;
    json_t *cc = content ? json_object_get(content, "cc_clear") : NULL;
    const char *seg;
    json_t *v;
    json_object_foreach(cc, seg, v)
    {
        if (json_is_integer(v) && json_integer_value(v) >= 0 && json_integer_value(v) <= 3)
            json_object_set(cleansing, seg, v);
    }
    json_decref(content);
    free(fs), free(ms), free(rep);
    return json_pack("{s:o, s:o, s:o}", "findings", findings, "landmarks", landmarks, "cleansing",
                     cleansing);
}

/* The course in which `study` is a case already, in *course ("" when none).
 * A study is a case of one course only: a trainee who has submitted one
 * case opens its reference, which would be the known answer of any other
 * case made from the same study. */
static cs_status case_of_study(const cs_api *api, const char *study, char course[CS_ID_MAX],
                               cs_error *e)
{
    cs_course_rec *cv = NULL;
    size_t nc = 0;
    course[0] = '\0';
    cs_status st = cs_store_courses_list(api->store, &cv, &nc, e);
    for (size_t i = 0; st == CS_OK && !course[0] && i < nc; i++) {
        cs_case_rec *kv = NULL;
        size_t nk = 0;
        st = cs_store_cases_list(api->store, cv[i].id, &kv, &nk, e);
        for (size_t j = 0; st == CS_OK && j < nk; j++)
            if (strcmp(kv[j].study, study) == 0)
                snprintf(course, CS_ID_MAX, "%s", cv[i].id);
        free(kv);
    }
    free(cv);
    return st;
}

static json_t *case_json(const cs_case_rec *k, bool for_trainee)
{
    json_t *o = json_pack("{s:s, s:s, s:s, s:I}", "id", k->id, "course", k->course, "label",
                          k->label, "created_at_ms", (json_int_t)k->created_at_ms);
    if (!for_trainee) /* the trainer knows where the case came from */
        json_object_set_new(o, "study", json_string(k->study));
    return o;
}

/* GET (list) and POST (create) /api/v1/training/courses/{id}/cases. */
enum MHD_Result cs_api_training_cases(const cs_api *api, struct MHD_Connection *c, cs_req *r)
{
    enum MHD_Result ret;
    cs_error e = {0};
    cs_course_rec course;
    bool found = false;
    if (cs_store_course_get(api->store, r->id, &found, &course, &e) != CS_OK)
        return store_failed(api, c, &e);
    if (!found)
        return cs_http_error(api->metrics, c, 404, false, "unknown_course", "no course '%s'",
                             r->id);
    if (strcmp(r->method, "GET") == 0) {
        cs_case_rec *v = NULL;
        size_t n = 0;
        if (cs_store_cases_list(api->store, r->id, &v, &n, &e) != CS_OK)
            return store_failed(api, c, &e);
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(arr, case_json(&v[i], is_trainee(r)));
        free(v);
        return cs_http_json(c, 200,
                            json_pack("{s:o, s:o}", "course", course_json(&course), "cases", arr),
                            false, NULL);
    }
    json_t *o = cs_http_body_json(api->metrics, c, r, &ret);
    if (!o)
        return ret;
    const char *study = json_string_value(json_object_get(o, "study"));
    const char *label = json_string_value(json_object_get(o, "label"));
    cs_case_rec *k = calloc(1, sizeof *k);
    cs_study_rec sr;
    json_t *ref = NULL;
    char *text = NULL, in_course[CS_ID_MAX];
    if (!k) {
        ret = cs_http_error(api->metrics, c, 503, false, "out_of_memory", "out of memory");
    } else if (!study || (json_object_get(o, "label") && !label) ||
               (label && strlen(label) >= sizeof k->label)) {
        ret = cs_http_error(api->metrics, c, 400, false, "bad_json",
                            "body needs {\"study\": ID, \"label\": TEXT (optional)}");
    } else if (cs_ws_read_study(api, c, study, &sr, &ret)) {
        /* answered: no such study */
    } else if (case_of_study(api, study, in_course, &e) != CS_OK) {
        ret = store_failed(api, c, &e);
    } else if (in_course[0]) {
        ret = cs_http_error(api->metrics, c, 409, false, "case_exists",
                            "this study is a case of course '%s' already; a study is a case of "
                            "one course only, or that case's reference would answer this one",
                            in_course);
    } else if ((ref = reference_of(api, c, study, &ret))) {
        text = json_dumps(ref, JSON_COMPACT);
        if (!text || strlen(text) >= sizeof k->reference) {
            ret = cs_http_error(api->metrics, c, 422, false, "reference_too_large",
                                "the study's reference is larger than a case holds");
        } else {
            cs_check_outcome out;
            cs_id_new(k->id, 8);
            snprintf(k->course, sizeof k->course, "%s", r->id);
            snprintf(k->study, sizeof k->study, "%s", study);
            /* The label replaces the study's: never the patient's details. */
            if (label && label[strspn(label, " \t")])
                snprintf(k->label, sizeof k->label, "%s", label);
            else
                snprintf(k->label, sizeof k->label, "Case %s", k->id);
            snprintf(k->reference, sizeof k->reference, "%s", text);
            snprintf(k->created_by, sizeof k->created_by, "%s", who_of(r));
            k->created_at_ms = cs_now_ms();
            if (cs_store_case_create(api->store, k, &out, &e) != CS_OK)
                ret = store_failed(api, c, &e);
            else if (out == CS_CHECK_CONFLICT)
                ret = cs_http_error(api->metrics, c, 409, false, "case_exists",
                                    "this study is a case already (of this course or "
                                    "another, made meanwhile)");
            else if (out != CS_CHECK_OK)
                ret = cs_http_error(api->metrics, c, 404, false, "not_found",
                                    "no such course or study");
            else {
                cs_audit(api->audit, &r->auth, "training.case", study, "case %s of course %s",
                         k->id, k->course);
                json_t *j = case_json(k, false);
                json_object_set(j, "reference", ref);
                ret = cs_http_json(c, 201, j, false, NULL);
            }
        }
    }
    free(text);
    json_decref(ref);
    json_decref(o);
    free(k);
    return ret;
}

/* The case and its course, or an answer (404 / 503). */
static bool load_case(const cs_api *api, struct MHD_Connection *c, const char *id, cs_case_rec *k,
                      cs_course_rec *course, enum MHD_Result *ret)
{
    cs_error e = {0};
    bool found = false;
    if (cs_store_case_get(api->store, id, &found, k, &e) != CS_OK ||
        (found && cs_store_course_get(api->store, k->course, &found, course, &e) != CS_OK)) {
        *ret = store_failed(api, c, &e);
        return false;
    }
    if (!found) {
        *ret = cs_http_error(api->metrics, c, 404, false, "unknown_case", "no case '%s'", id);
        return false;
    }
    return true;
}

/* Has this trainee submitted the case? */
static cs_status submitted(const cs_api *api, const char *case_id, const char *trainee, bool *yes,
                           cs_error *e)
{
    cs_attempt_rec *v = NULL;
    size_t n = 0;
    *yes = false;
    cs_status st = cs_store_attempts_list(api->store, "", trainee, &v, &n, e);
    for (size_t i = 0; st == CS_OK && i < n; i++)
        if (strcmp(v[i].case_id, case_id) == 0 && v[i].submitted_at_ms > 0)
            *yes = true;
    free(v);
    return st;
}

/* GET /api/v1/training/cases/{id}/reference: trainers always; a trainee
 * only after submitting the case (403 reference_blind before). */
enum MHD_Result cs_api_training_reference(const cs_api *api, struct MHD_Connection *c, cs_req *r)
{
    enum MHD_Result ret;
    cs_error e = {0};
    cs_case_rec *k = malloc(sizeof *k);
    cs_course_rec course;
    if (!k)
        return cs_http_error(api->metrics, c, 503, false, "out_of_memory", "out of memory");
    if (!load_case(api, c, r->id, k, &course, &ret)) {
        free(k);
        return ret;
    }
    bool done = true;
    if (is_trainee(r) && submitted(api, k->id, r->auth.user, &done, &e) != CS_OK) {
        free(k);
        return store_failed(api, c, &e);
    }
    if (!done) {
        free(k);
        cs_audit(api->audit, &r->auth, "access.denied", "", "reference of case %s before submit",
                 r->id);
        return cs_http_error(api->metrics, c, 403, false, "reference_blind",
                             "the reference opens once you have submitted this case");
    }
    /* the reference is the study's clinical read: every opening is audited */
    cs_audit(api->audit, &r->auth, "training.reference", k->study, "case %s", k->id);
    json_t *ref = json_loads(k->reference, 0, NULL);
    json_t *o = case_json(k, is_trainee(r));
    json_object_set_new(o, "reference", ref ? ref : json_object());
    free(k);
    return cs_http_json(c, 200, o, false, NULL);
}

/* GET /api/v1/training/cases/{id}/frames: the case study's frame index, with
 * the engine's flags, probabilities and boxes removed when the course hides
 * them; the study is never named. */
enum MHD_Result cs_api_training_frames(const cs_api *api, struct MHD_Connection *c, cs_req *r)
{
    enum MHD_Result ret;
    cs_error e = {0};
    cs_case_rec *k = malloc(sizeof *k);
    cs_course_rec course;
    uint64_t count = 0;
    if (!k)
        return cs_http_error(api->metrics, c, 503, false, "out_of_memory", "out of memory");
    if (!load_case(api, c, r->id, k, &course, &ret)) {
        free(k);
        return ret;
    }
    json_t *o = cs_ws_frame_index_json(api, k->study, &count, &e);
    if (!o) {
        free(k);
        return store_failed(api, c, &e);
    }
    json_object_set_new(o, "study", json_string(k->id)); /* the case, not the study */
    json_object_set_new(o, "case", json_string(k->id));
    json_object_set_new(o, "engine_flags_shown", json_boolean(course.show_flags));
    if (!course.show_flags) {
        /* keep "decoded" (bit 0) and "image kept" (bit 5): the viewer needs them */
        json_t *fl = json_object_get(o, "flags"), *v;
        size_t i;
        json_array_foreach(fl, i, v)
            json_array_set_new(fl, i, json_integer(json_integer_value(v) & 33));
        json_t *p = json_object_get(o, "p"), *pp = json_object_get(o, "polyp_p");
        json_array_foreach(p, i, v) json_array_set_new(p, i, json_integer(0));
        json_array_foreach(pp, i, v) json_array_set_new(pp, i, json_null());
        json_object_set_new(o, "boxes", json_object());
    }
    cs_audit(api->audit, &r->auth, "training.open", k->study, "case %s, %llu frames", k->id,
             (unsigned long long)count);
    free(k);
    return cs_http_json(c, 200, o, false, NULL);
}

/* GET /api/v1/training/cases/{id}/frames/{n}.jpg and .../thumb.jpg: the
 * case study's frame, named by the case. The ETag and every error name the
 * case and never the study: the study's id would tell a trainee that two
 * cases are the same study (so one's opened reference answers the other).
 * The view is audited against the study, as any frame view. */
static enum MHD_Result case_image(const cs_api *api, struct MHD_Connection *c, cs_req *r,
                                  bool thumb)
{
    enum MHD_Result ret;
    cs_error e = {0};
    cs_case_rec *k = malloc(sizeof *k);
    cs_course_rec course;
    if (!k)
        return cs_http_error(api->metrics, c, 503, false, "out_of_memory", "out of memory");
    if (!load_case(api, c, r->id, k, &course, &ret)) {
        free(k);
        return ret;
    }
    /* Stored frames never change: the case, seq and kind name the bytes. */
    char etag[CS_ID_MAX + 48];
    snprintf(etag, sizeof etag, "\"case-%s-%llu-%s\"", k->id, (unsigned long long)r->num,
             thumb ? "t" : "f");
    const char *cache = "private, max-age=31536000, immutable";
    const char *h[] = {"ETag", etag, "Cache-Control", cache, NULL};
    const char *inm =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_NONE_MATCH);
    uint8_t *img = NULL;
    size_t len = 0;
    bool found = false;
    cs_status st = CS_OK;
    if (inm && strstr(inm, etag))
        ret = cs_http_bytes(c, 304, NULL, NULL, 0, false, h);
    else if ((st = thumb ? cs_media_thumb(api->media, k->study, r->num, &found, &img, &len, &e)
                         : cs_media_frame(api->media, k->study, r->num, &found, &img, &len, &e)) !=
             CS_OK) {
        /* the detail (it may name the study's files) goes to the log only */
        fprintf(stderr, "capscreen: training case %s, frame %llu: %s\n", k->id,
                (unsigned long long)r->num, e.msg);
        ret = cs_http_error(api->metrics, c, st == CS_ERR_CORRUPT ? 422 : 503, false,
                            st == CS_ERR_CORRUPT ? "frame_undecodable" : "storage_failed",
                            "frame %llu of case '%s' could not be read", (unsigned long long)r->num,
                            k->id);
    } else if (!found) {
        ret = cs_http_error(api->metrics, c, 404, false, "unknown_frame",
                            "case '%s' has no frame %llu with an image", k->id,
                            (unsigned long long)r->num);
    } else {
        cs_audit_frame_viewed(api->audit, &r->auth, k->study, r->num);
        ret = cs_http_bytes(c, 200, "image/jpeg", img, len, true, h);
    }
    free(k);
    return ret;
}

enum MHD_Result cs_api_training_frame(const cs_api *api, struct MHD_Connection *c, cs_req *r)
{
    return case_image(api, c, r, false);
}

enum MHD_Result cs_api_training_thumb(const cs_api *api, struct MHD_Connection *c, cs_req *r)
{
    return case_image(api, c, r, true);
}

/* ---- attempts ------------------------------------------------------------- */

static json_t *score_of(json_t *ref, json_t *answer, int tolerance, int64_t wall_ms);

/* The score's finding lists. They are not stored: they copy findings of the
 * reference and of the answer, and with a large reference or answer they
 * outgrow the score's column (a saved answer could not be submitted). A
 * read scores the answer again instead: the rule is deterministic, and
 * neither the case's reference nor a submitted answer changes. */
static const char *const score_lists[] = {"missed", "false", "matches"};

/* The attempt as JSON; a submitted one's score with its finding lists put
 * back from the case `k` (the attempt's). */
static json_t *attempt_json(const cs_attempt_rec *a, const cs_case_rec *k)
{
    json_t *answer = json_loads(a->answer, 0, NULL);
    json_t *score = a->score[0] ? json_loads(a->score, 0, NULL) : NULL;
    if (json_is_object(score) && !json_object_get(score, "matches")) {
        json_t *ref = json_loads(k->reference, 0, NULL);
        int tolerance = (int)json_integer_value(json_object_get(score, "tolerance_frames"));
        json_t *full = ref && answer ? score_of(ref, answer, tolerance, 0) : NULL;
        for (size_t i = 0; full && i < sizeof score_lists / sizeof *score_lists; i++)
            json_object_set(score, score_lists[i], json_object_get(full, score_lists[i]));
        json_decref(full);
        json_decref(ref);
    }
    return json_pack("{s:I, s:s, s:s, s:s, s:I, s:o, s:o, s:o}", "id", (json_int_t)a->id, "case",
                     a->case_id, "course", a->course, "trainee", a->trainee, "started_at_ms",
                     (json_int_t)a->started_at_ms, "submitted_at_ms",
                     a->submitted_at_ms ? json_integer(a->submitted_at_ms) : json_null(), "answer",
                     answer ? answer : json_object(), "score", score ? score : json_null());
}

/* POST /api/v1/training/cases/{id}/attempt: the trainee's attempt (new or
 * the one started before). */
enum MHD_Result cs_api_training_attempt_open(const cs_api *api, struct MHD_Connection *c, cs_req *r)
{
    enum MHD_Result ret;
    cs_error e = {0};
    cs_case_rec *k = malloc(sizeof *k);
    cs_attempt_rec *a = malloc(sizeof *a);
    cs_course_rec course;
    cs_check_outcome out;
    if (!k || !a) {
        ret = cs_http_error(api->metrics, c, 503, false, "out_of_memory", "out of memory");
    } else if (!load_case(api, c, r->id, k, &course, &ret)) {
        /* answered */
    } else if (cs_store_attempt_open(api->store, k->id, r->auth.user, cs_now_ms(), a, &out, &e) !=
               CS_OK) {
        ret = store_failed(api, c, &e);
    } else if (out != CS_CHECK_OK) {
        ret = cs_http_error(api->metrics, c, 404, false, "unknown_case", "no case '%s'", r->id);
    } else {
        json_t *o = attempt_json(a, k);
        json_object_set_new(o, "label", json_string(k->label));
        json_object_set_new(o, "show_engine_flags", json_boolean(course.show_flags));
        ret = cs_http_json(c, 200, o, false, NULL);
    }
    free(k);
    free(a);
    return ret;
}

/* The attempt {n} when the caller may see it: its trainee, or a trainer or
 * admin. Answers 404 / 403 / 503 otherwise. */
static bool load_attempt(const cs_api *api, struct MHD_Connection *c, cs_req *r, cs_attempt_rec *a,
                         bool own_only, enum MHD_Result *ret)
{
    cs_error e = {0};
    bool found = false;
    if (cs_store_attempt_get(api->store, (int64_t)r->num, &found, a, &e) != CS_OK) {
        *ret = store_failed(api, c, &e);
        return false;
    }
    bool mine = r->auth.kind == CS_AUTH_USER && strcmp(a->trainee, r->auth.user) == 0;
    if (!found || (is_trainee(r) && !mine)) { /* another trainee's attempt does not exist for you */
        *ret = cs_http_error(api->metrics, c, 404, false, "unknown_attempt", "no attempt %llu",
                             (unsigned long long)r->num);
        return false;
    }
    if (own_only && !mine) {
        *ret = cs_http_error(api->metrics, c, 403, false, "forbidden",
                             "only the trainee who started an attempt answers it");
        return false;
    }
    return true;
}

/* Read a finding list of an answer into out (cap); false when malformed. */
static bool answer_findings(json_t *list, cs_score_finding *out, size_t cap, size_t *n, char *why,
                            size_t whycap)
{
    json_t *v;
    size_t i;
    *n = 0;
    if (!list)
        return true;
    if (!json_is_array(list) || json_array_size(list) > cap) {
        snprintf(why, whycap, "findings must be a list of at most %zu findings", cap);
        return false;
    }
    json_array_foreach(list, i, v)
    {
        const char *type = json_string_value(json_object_get(v, "type"));
        json_t *from = json_object_get(v, "seq_from"), *to = json_object_get(v, "seq_to");
        if (!cs_vocab_has(cs_vocab_finding_types, type) || !json_is_integer(from) ||
            json_integer_value(from) < 0 ||
            (to && (!json_is_integer(to) || json_integer_value(to) < json_integer_value(from)))) {
            snprintf(why, whycap,
                     "findings[%zu] needs a known type and seq_from (and seq_to >= seq_from)", i);
            return false;
        }
        cs_score_finding *f = &out[(*n)++];
        memset(f, 0, sizeof *f);
        snprintf(f->type, sizeof f->type, "%s", type);
        f->seq_from = (uint64_t)json_integer_value(from);
        f->seq_to = to ? (uint64_t)json_integer_value(to) : f->seq_from;
        f->id = (int64_t)i;
    }
    return true;
}

/* Check an answer body: findings, landmarks {key: seq}, cleansing {segment:
 * 0..3}, reading_time_s >= 0; every frame named below `frames`, the case's
 * frame count (a frame the case does not have was never read). Returns the
 * cleaned answer or NULL (400). */
static json_t *clean_answer(const cs_api *api, struct MHD_Connection *c, json_t *in,
                            uint64_t frames, enum MHD_Result *ret)
{
    char why[160] = "";
    size_t n = 0;
    json_t *lm = json_object_get(in, "landmarks"), *cl = json_object_get(in, "cleansing"),
           *rt = json_object_get(in, "reading_time_s"), *v;
    const char *key;
    cs_score_finding *buf = malloc(MAX_ANSWER_FINDINGS * sizeof *buf);
    bool ok = buf && answer_findings(json_object_get(in, "findings"), buf, MAX_ANSWER_FINDINGS, &n,
                                     why, sizeof why);
    for (size_t i = 0; ok && i < n; i++)
        if (buf[i].seq_to >= frames)
            ok = false, snprintf(why, sizeof why,
                                 "findings[%zu] ends at frame %llu: the case has frames 0..%lld", i,
                                 (unsigned long long)buf[i].seq_to, (long long)frames - 1);
    free(buf);
    if (ok && lm && !json_is_object(lm))
        ok = false, snprintf(why, sizeof why, "landmarks must be {KEY: FRAME}");
    json_object_foreach(ok ? lm : NULL, key,
                        v) if (ok && (!cs_vocab_has(cs_vocab_landmarks, key) ||
                                      !json_is_integer(v) || json_integer_value(v) < 0))
    {
        ok = false;
        snprintf(why, sizeof why, "landmarks.%.40s must be a known landmark and a frame", key);
    }
    json_object_foreach(ok ? lm : NULL, key, v) if (ok && (uint64_t)json_integer_value(v) >= frames)
    {
        ok = false;
        snprintf(why, sizeof why, "landmarks.%.40s is frame %lld: the case has frames 0..%lld", key,
                 (long long)json_integer_value(v), (long long)frames - 1);
    }
    if (ok && cl && !json_is_object(cl))
        ok = false, snprintf(why, sizeof why, "cleansing must be {SEGMENT: 0..3}");
    json_object_foreach(ok ? cl : NULL, key,
                        v) if (ok &&
                               (!cs_vocab_has(cs_vocab_segments, key) || !json_is_integer(v) ||
                                json_integer_value(v) < 0 || json_integer_value(v) > 3))
    {
        ok = false;
        snprintf(why, sizeof why, "cleansing.%.40s must be a segment scored 0..3 (CC-CLEAR)", key);
    }
    if (ok && rt &&
        (!json_is_number(rt) || json_number_value(rt) < 0 || isnan(json_number_value(rt))))
        ok = false, snprintf(why, sizeof why, "reading_time_s must be a number of seconds >= 0");
    if (!ok) {
        *ret = cs_http_error(api->metrics, c, 400, false, "bad_answer", "%s",
                             why[0] ? why : "out of memory");
        return NULL;
    }
    json_t *out = json_object();
    json_t *fl = json_object_get(in, "findings");
    json_object_set_new(out, "findings", fl ? json_incref(fl) : json_array());
    /* lm and cl are borrowed from `in`: a reference of their own, or a new
     * empty object that `out` then owns alone (json_object_set would leak it). */
    json_object_set_new(out, "landmarks", lm ? json_incref(lm) : json_object());
    json_object_set_new(out, "cleansing", cl ? json_incref(cl) : json_object());
    if (rt)
        json_object_set(out, "reading_time_s", rt);
    return out;
}

/* The score JSON of an answer against a case reference (score.h). */
static json_t *score_of(json_t *ref, json_t *answer, int tolerance, int64_t wall_ms)
{
    size_t nr = 0, nm = 0;
    char why[160];
    json_t *rf = json_object_get(ref, "findings"), *af = json_object_get(answer, "findings");
    size_t cap_r = json_array_size(rf) + 1, cap_m = json_array_size(af) + 1;
    cs_score_finding *refs = calloc(cap_r, sizeof *refs), *mine = calloc(cap_m, sizeof *mine);
    size_t *missed = calloc(cap_r, sizeof *missed), *falses = calloc(cap_m, sizeof *falses),
           *match = calloc(cap_r, sizeof *match);
    json_t *out = NULL;
    if (!refs || !mine || !missed || !falses || !match ||
        !answer_findings(rf, refs, cap_r, &nr, why, sizeof why) ||
        !answer_findings(af, mine, cap_m, &nm, why, sizeof why))
        goto done;
    cs_score_landmark rl[8], ml[8];
    cs_score_grade rg[8], mg[8];
    size_t nrl = 0, nml = 0, nrg = 0, nmg = 0;
    const char *key;
    json_t *v;
    json_object_foreach(json_object_get(ref, "landmarks"), key, v) if (nrl < 8)
    {
        snprintf(rl[nrl].key, sizeof rl[nrl].key, "%s", key);
        rl[nrl++].seq = json_integer_value(v);
    }
    json_object_foreach(json_object_get(answer, "landmarks"), key, v) if (nml < 8)
    {
        snprintf(ml[nml].key, sizeof ml[nml].key, "%s", key);
        ml[nml++].seq = json_integer_value(v);
    }
    json_object_foreach(json_object_get(ref, "cleansing"), key, v) if (nrg < 8)
    {
        snprintf(rg[nrg].segment, sizeof rg[nrg].segment, "%s", key);
        rg[nrg++].score = (int)json_integer_value(v);
    }
    json_object_foreach(json_object_get(answer, "cleansing"), key, v) if (nmg < 8)
    {
        snprintf(mg[nmg].segment, sizeof mg[nmg].segment, "%s", key);
        mg[nmg++].score = (int)json_integer_value(v);
    }
    cs_score_case sc = {.ref = refs,
                        .n_ref = nr,
                        .mine = mine,
                        .n_mine = nm,
                        .ref_marks = rl,
                        .n_ref_marks = nrl,
                        .my_marks = ml,
                        .n_my_marks = nml,
                        .ref_grades = rg,
                        .n_ref_grades = nrg,
                        .my_grades = mg,
                        .n_my_grades = nmg,
                        .tolerance_frames = (uint64_t)tolerance};
    cs_score_result res = {.missed = missed, .false_idx = falses, .match_of_ref = match};
    if (!cs_score_case_run(&sc, &res))
        goto done;
    json_t *missed_j = json_array(), *false_j = json_array(), *matched_j = json_array();
    for (size_t i = 0; i < res.n_missed; i++)
        json_array_append(missed_j, json_array_get(rf, missed[i]));
    for (size_t i = 0; i < res.false_positives; i++)
        json_array_append(false_j, json_array_get(af, falses[i]));
    for (size_t i = 0; i < nr; i++)
        if (match[i] != SIZE_MAX)
            json_array_append_new(matched_j,
                                  json_pack("{s:O, s:O}", "reference", json_array_get(rf, i),
                                            "yours", json_array_get(af, match[i])));
    json_t *rts = json_object_get(answer, "reading_time_s");
    out = json_pack(
        "{s:o, s:I, s:I, s:o, s:o, s:o, s:o, s:{s:I, s:I}, s:{s:I, s:I, s:I}, s:o,"
        " s:s, s:i}",
        "sensitivity", nr ? json_real(res.sensitivity) : json_null(), "matched",
        (json_int_t)res.matched, "false_positives", (json_int_t)res.false_positives, "missed",
        missed_j, "false", false_j, "matches", matched_j, "landmark_error_frames",
        res.landmarks_compared ? json_real(res.landmark_error_mean) : json_null(), "cleansing",
        "compared", (json_int_t)res.segments_compared, "agreed", (json_int_t)res.segments_agreed,
        "landmarks", "compared", (json_int_t)res.landmarks_compared, "missing",
        (json_int_t)res.landmarks_missing, "extra", (json_int_t)res.landmarks_extra,
        "reading_time_s",
        json_is_number(rts) ? json_real(json_number_value(rts))
                            : json_real((double)wall_ms / 1000.0),
        "reading_time_source", json_is_number(rts) ? "viewer" : "wall_clock", "tolerance_frames",
        tolerance);
    if (out && res.landmarks_compared)
        json_object_set_new(out, "landmark_error_max_frames", json_integer(res.landmark_error_max));
done:
    free(refs), free(mine), free(missed), free(falses), free(match);
    return out;
}

/* GET, PUT (save the answer) /api/v1/training/attempts/{n}, and POST
 * .../submit (score it; no more changes). */
static enum MHD_Result attempt_route(const cs_api *api, struct MHD_Connection *c, cs_req *r,
                                     bool submit)
{
    enum MHD_Result ret;
    cs_error e = {0};
    bool get = strcmp(r->method, "GET") == 0;
    cs_attempt_rec *a = malloc(sizeof *a);
    cs_case_rec *k = malloc(sizeof *k);
    cs_course_rec course;
    json_t *body = NULL, *answer = NULL, *ref = NULL, *score = NULL;
    char *atext = NULL, *stext = NULL;
    if (!a || !k) {
        ret = cs_http_error(api->metrics, c, 503, false, "out_of_memory", "out of memory");
        goto done;
    }
    if (!load_attempt(api, c, r, a, !get, &ret) || !load_case(api, c, a->case_id, k, &course, &ret))
        goto done;
    if (get) {
        /* A trainer's or admin's read of a trainee's attempt is audited: its
         * score lists the study's reference findings. */
        if (!is_trainee(r))
            cs_audit(api->audit, &r->auth, "training.attempt", k->study,
                     "attempt %lld of %s at case %s", (long long)a->id, a->trainee, k->id);
        ret = cs_http_json(c, 200, attempt_json(a, k), false, NULL);
        goto done;
    }
    if (a->submitted_at_ms > 0) {
        ret = cs_http_error(api->metrics, c, 409, false, "attempt_submitted",
                            "this attempt was submitted: it no longer changes");
        goto done;
    }
    if (r->body_len > 0 || !submit) {
        if (!(body = cs_http_body_json(api->metrics, c, r, &ret)))
            goto done;
        bool found = false;
        cs_study_rec sr;
        if (cs_store_study_get(api->store, k->study, &found, &sr, &e) != CS_OK) {
            ret = store_failed(api, c, &e);
            goto done;
        }
        if (!(answer = clean_answer(api, c, body, found ? sr.next_seq : 0, &ret)))
            goto done;
    } else {
        answer = json_loads(a->answer, 0, NULL); /* submit what was saved */
        if (!answer)
            answer = json_object();
    }
    atext = json_dumps(answer, JSON_COMPACT);
    if (!atext || strlen(atext) >= sizeof a->answer) {
        ret = cs_http_error(api->metrics, c, 413, false, "answer_too_large",
                            "the answer is larger than %zu bytes", sizeof a->answer - 1);
        goto done;
    }
    cs_check_outcome out;
    if (!submit) {
        if (cs_store_attempt_answer(api->store, a->id, atext, &out, &e) != CS_OK) {
            ret = store_failed(api, c, &e);
            goto done;
        }
    } else {
        ref = json_loads(k->reference, 0, NULL);
        int64_t now = cs_now_ms();
        if (!ref ||
            !(score = score_of(ref, answer, course.tolerance_frames, now - a->started_at_ms))) {
            ret = cs_http_error(api->metrics, c, 500, false, "score_failed",
                                "the case's reference could not be scored");
            goto done;
        }
        for (size_t i = 0; i < sizeof score_lists / sizeof *score_lists; i++)
            json_object_del(score, score_lists[i]); /* scored again when read */
        stext = json_dumps(score, JSON_COMPACT);
        if (!stext || strlen(stext) >= sizeof a->score) {
            ret = cs_http_error(api->metrics, c, 500, false, "score_too_large",
                                "the score is larger than an attempt holds");
            goto done;
        }
        if (cs_store_attempt_submit(api->store, a->id, atext, stext, now, &out, &e) != CS_OK) {
            ret = store_failed(api, c, &e);
            goto done;
        }
    }
    if (out == CS_CHECK_LOCKED) {
        ret = cs_http_error(api->metrics, c, 409, false, "attempt_submitted",
                            "this attempt was submitted: it no longer changes");
        goto done;
    }
    if (out != CS_CHECK_OK) {
        ret = cs_http_error(api->metrics, c, 404, false, "unknown_attempt", "no attempt %llu",
                            (unsigned long long)r->num);
        goto done;
    }
    if (submit)
        cs_audit(api->audit, &r->auth, "training.submit", "", "attempt %lld at case %s",
                 (long long)a->id, a->case_id);
    bool found = false;
    if (cs_store_attempt_get(api->store, a->id, &found, a, &e) != CS_OK || !found) {
        ret = store_failed(api, c, &e);
        goto done;
    }
    ret = cs_http_json(c, 200, attempt_json(a, k), false, NULL);
done:
    free(atext), free(stext);
    json_decref(body), json_decref(answer), json_decref(ref), json_decref(score);
    free(a), free(k);
    return ret;
}

enum MHD_Result cs_api_training_attempt(const cs_api *api, struct MHD_Connection *c, cs_req *r)
{
    return attempt_route(api, c, r, false);
}

enum MHD_Result cs_api_training_submit(const cs_api *api, struct MHD_Connection *c, cs_req *r)
{
    return attempt_route(api, c, r, true);
}

/* ---- progress -------------------------------------------------------------- */

/* GET /api/v1/training/progress[?trainee=NAME][&course=ID]: per trainee and
 * course, the submitted cases in order with sensitivity and reading time,
 * the mean sensitivity, the cleansing kappa, and whether the course's
 * standard is met. A trainee sees only their own. */
static enum MHD_Result progress_csv(struct MHD_Connection *c, json_t *rows);

/* An attempt's place in a trainee's progress: by submission time, then id
 * (the store lists attempts by when they were started). */
typedef struct submitted_order {
    int64_t at_ms, id;
    size_t i;
} submitted_order;

static int submitted_cmp(const void *x, const void *y)
{
    const submitted_order *a = x, *b = y;
    if (a->at_ms != b->at_ms)
        return a->at_ms < b->at_ms ? -1 : 1;
    return a->id < b->id ? -1 : a->id > b->id ? 1 : 0;
}

static enum MHD_Result progress(const cs_api *api, struct MHD_Connection *c, cs_req *r, bool csv)
{
    cs_error e = {0};
    const char *who = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "trainee");
    const char *course_q = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "course");
    if (is_trainee(r))
        who = r->auth.user;
    cs_attempt_rec *v = NULL;
    cs_course_rec *courses = NULL;
    size_t n = 0, nc = 0;
    if (cs_store_attempts_list(api->store, course_q ? course_q : "", who ? who : "", &v, &n, &e) !=
            CS_OK ||
        cs_store_courses_list(api->store, &courses, &nc, &e) != CS_OK) {
        free(v);
        return store_failed(api, c, &e);
    }
    cs_case_rec *kase = malloc(sizeof *kase);
    submitted_order *order = malloc((n + 1) * sizeof *order);
    if (!kase || !order) {
        free(v), free(courses), free(kase), free(order);
        return cs_http_error(api->metrics, c, 503, false, "out_of_memory", "out of memory");
    }
    /* the cases in the order they were submitted: the curves over time */
    for (size_t i = 0; i < n; i++)
        order[i] = (submitted_order){v[i].submitted_at_ms, v[i].id, i};
    if (n > 1)
        qsort(order, n, sizeof *order, submitted_cmp);
    json_t *groups = json_object(); /* "trainee\ncourse" -> entry */
    for (size_t oi = 0; oi < n; oi++) {
        size_t i = order[oi].i;
        if (!v[i].submitted_at_ms)
            continue;
        char key[CS_USER_MAX + CS_ID_MAX + 2];
        snprintf(key, sizeof key, "%s\n%s", v[i].trainee, v[i].course);
        json_t *g = json_object_get(groups, key);
        if (!g) {
            g = json_pack("{s:s, s:s, s:[], s:[], s:[]}", "trainee", v[i].trainee, "course",
                          v[i].course, "cases", "pairs_ref", "pairs_mine");
            json_object_set_new(groups, key, g);
        }
        json_t *score = json_loads(v[i].score, 0, NULL), *answer = json_loads(v[i].answer, 0, NULL);
        json_array_append_new(
            json_object_get(g, "cases"),
            json_pack("{s:s, s:I, s:I, s:o, s:o, s:o}", "case", v[i].case_id, "attempt",
                      (json_int_t)v[i].id, "submitted_at_ms", (json_int_t)v[i].submitted_at_ms,
                      "sensitivity", or_null(json_object_get(score, "sensitivity")),
                      "false_positives", or_null(json_object_get(score, "false_positives")),
                      "reading_time_s", or_null(json_object_get(score, "reading_time_s"))));
        /* cleansing pairs (reference, trainee) for the kappa across cases */
        bool found = false;
        if (cs_store_case_get(api->store, v[i].case_id, &found, kase, &e) == CS_OK && found) {
            json_t *ref = json_loads(kase->reference, 0, NULL);
            json_t *mine = json_object_get(answer, "cleansing"), *rs;
            const char *seg;
            json_object_foreach(json_object_get(ref, "cleansing"), seg, rs)
            {
                json_t *ms = json_object_get(mine, seg);
                if (json_is_integer(rs) && json_is_integer(ms)) {
                    json_array_append(json_object_get(g, "pairs_ref"), rs);
                    json_array_append(json_object_get(g, "pairs_mine"), ms);
                }
            }
            json_decref(ref);
        }
        json_decref(score);
        json_decref(answer);
    }
    json_t *out = json_array();
    const char *key;
    json_t *g;
    json_object_foreach(groups, key, g)
    {
        json_t *cases = json_object_get(g, "cases"), *x;
        size_t i, scored = 0;
        double sum = 0;
        json_array_foreach(cases, i, x)
        {
            json_t *s = json_object_get(x, "sensitivity");
            if (json_is_number(s))
                sum += json_number_value(s), scored++;
        }
        const cs_course_rec *cr = NULL;
        for (size_t k = 0; k < nc; k++)
            if (strcmp(courses[k].id, json_string_value(json_object_get(g, "course"))) == 0)
                cr = &courses[k];
        double mean = scored ? sum / (double)scored : NAN;
        bool met = cr && json_array_size(cases) >= (size_t)cr->standard_cases && scored &&
                   mean >= cr->standard_sensitivity;
        json_t *pr = json_object_get(g, "pairs_ref"), *pm = json_object_get(g, "pairs_mine");
        size_t np = json_array_size(pr);
        int *ra = calloc(np + 1, sizeof *ra), *rb = calloc(np + 1, sizeof *rb);
        for (size_t k = 0; ra && rb && k < np; k++) {
            ra[k] = (int)json_integer_value(json_array_get(pr, k));
            rb[k] = (int)json_integer_value(json_array_get(pm, k));
        }
        double kappa = ra && rb ? cs_score_weighted_kappa(ra, rb, np) : NAN;
        free(ra), free(rb);
        json_object_set_new(g, "cleansing_kappa", isnan(kappa) ? json_null() : json_real(kappa));
        json_object_set_new(g, "cleansing_pairs", json_integer((json_int_t)np));
        json_object_del(g, "pairs_ref");
        json_object_del(g, "pairs_mine");
        json_object_set_new(g, "cases_read", json_integer((json_int_t)json_array_size(cases)));
        json_object_set_new(g, "mean_sensitivity", scored ? json_real(mean) : json_null());
        json_object_set_new(g, "standard_met", json_boolean(met));
        if (cr)
            json_object_set_new(g, "standard",
                                json_pack("{s:i, s:f}", "cases", cr->standard_cases, "sensitivity",
                                          cr->standard_sensitivity));
        json_array_append(out, g);
    }
    json_decref(groups);
    free(v);
    free(courses);
    free(kase);
    free(order);
    if (!csv)
        return cs_http_json(c, 200, json_pack("{s:o}", "progress", out), false, NULL);
    return progress_csv(c, out);
}

/* Append a CSV field and `sep` ("," or "\r\n"): quoted, inner quotes
 * doubled; a leading =, +, - or @ gets a ' first so a spreadsheet never
 * runs a user name as a formula. false when out of memory. */
static bool csv_field(char **buf, size_t *len, size_t *cap, const char *v, const char *sep)
{
    size_t need = *len + 2 * strlen(v) + 8;
    if (need > *cap) {
        size_t nc = need * 2;
        char *nb = realloc(*buf, nc);
        if (!nb)
            return false;
        *buf = nb;
        *cap = nc;
    }
    char *o = *buf + *len;
    *o++ = '"';
    if (v[0] && strchr("=+-@", v[0]))
        *o++ = '\'';
    for (; *v; v++) {
        if (*v == '"')
            *o++ = '"';
        *o++ = *v;
    }
    *o++ = '"';
    for (; *sep; sep++)
        *o++ = *sep;
    *len = (size_t)(o - *buf);
    return true;
}

/* A number with 4 decimals, or "" for JSON null. */
static void csv_number(json_t *v, char out[32])
{
    if (json_is_number(v))
        snprintf(out, 32, "%.4f", json_number_value(v));
    else
        out[0] = '\0';
}

static enum MHD_Result progress_csv(struct MHD_Connection *c, json_t *rows)
{
    static const char head[] =
        "trainee,course,cases_read,mean_sensitivity,cleansing_kappa,standard_met\r\n";
    size_t len = sizeof head - 1, cap = 4096, i;
    char *buf = malloc(cap);
    bool ok = buf != NULL;
    json_t *g;
    if (ok)
        memcpy(buf, head, len);
    json_array_foreach(rows, i, g)
    {
        char n[32], ms[32], k[32];
        snprintf(n, sizeof n, "%lld",
                 (long long)json_integer_value(json_object_get(g, "cases_read")));
        csv_number(json_object_get(g, "mean_sensitivity"), ms);
        csv_number(json_object_get(g, "cleansing_kappa"), k);
        ok = ok &&
             csv_field(&buf, &len, &cap, json_string_value(json_object_get(g, "trainee")), ",") &&
             csv_field(&buf, &len, &cap, json_string_value(json_object_get(g, "course")), ",") &&
             csv_field(&buf, &len, &cap, n, ",") && csv_field(&buf, &len, &cap, ms, ",") &&
             csv_field(&buf, &len, &cap, k, ",") &&
             csv_field(&buf, &len, &cap,
                       json_is_true(json_object_get(g, "standard_met")) ? "yes" : "no", "\r\n");
    }
    json_decref(rows);
    if (!ok) {
        free(buf);
        return cs_http_bytes(c, 503, "text/plain", NULL, 0, false, NULL);
    }
    const char *h[] = {"Content-Disposition", "attachment; filename=\"training-progress.csv\"",
                       NULL};
    return cs_http_bytes(c, 200, "text/csv; charset=utf-8", buf, len, true, h);
}

enum MHD_Result cs_api_training_progress(const cs_api *api, struct MHD_Connection *c, cs_req *r)
{
    return progress(api, c, r, false);
}

/* GET /api/v1/training/progress.csv: the cohort as CSV (trainers, admins). */
enum MHD_Result cs_api_training_progress_csv(const cs_api *api, struct MHD_Connection *c, cs_req *r)
{
    return progress(api, c, r, true);
}
