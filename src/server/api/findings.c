/* findings.c - findings (create, edit, delete with history kept),
 * landmarks and cleansing grades of a study (docs/workstation.md). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/api/api_int.h"
#include "server/core/vocabulary.h"

static json_t *finding_json(const cs_finding_rec *f)
{
    json_t *o = json_pack("{s:I, s:s, s:I, s:I, s:s, s:s, s:i, s:b, s:s, s:I, s:s, s:I}", "id",
                          (json_int_t)f->id, "study", f->study, "seq_from", (json_int_t)f->seq_from,
                          "seq_to", (json_int_t)f->seq_to, "type", f->type, "note", f->note,
                          "version", f->version, "deleted", f->deleted, "created_by", f->created_by,
                          "created_at_ms", (json_int_t)f->created_at_ms, "updated_by",
                          f->updated_by, "updated_at_ms", (json_int_t)f->updated_at_ms);
    json_object_set_new(o, "size_mm", f->size_mm >= 0 ? json_real(f->size_mm) : json_null());
    json_object_set_new(o, "segment", json_string(f->segment));
    json_object_set_new(o, "morphology", json_string(f->morphology));
    json_object_set_new(o, "count", json_integer(f->count > 0 ? f->count : 1));
    json_object_set_new(o, "suspected_cancer", json_boolean(f->suspected_cancer));
    return o;
}

cs_status cs_ws_suspected_cancer(const cs_api *api, const char *study, bool *any, cs_error *err)
{
    cs_finding_rec *fs = NULL;
    size_t n = 0;
    *any = false;
    cs_status st = cs_store_findings_list(api->store, study, false, &fs, &n, err);
    for (size_t i = 0; st == CS_OK && i < n && !*any; i++)
        *any = fs[i].suspected_cancer;
    free(fs);
    return st;
}

/* The structured fields of docs/clinical-record.md: segment, morphology
 * and count (polyps only), suspected_cancer. 400 naming the field. */
static bool parse_structure(const cs_api *api, struct MHD_Connection *c, json_t *o,
                            cs_finding_rec *f, enum MHD_Result *ret)
{
    json_t *seg = json_object_get(o, "segment"), *mor = json_object_get(o, "morphology"),
           *cnt = json_object_get(o, "count"), *sc = json_object_get(o, "suspected_cancer");
    const char *segv = seg ? json_string_value(seg) : "";
    const char *morv = mor ? json_string_value(mor) : "";
    bool polyp = strcmp(f->type, "polyp") == 0;
    if (!segv || (segv[0] && !cs_vocab_has(cs_vocab_finding_segments, segv))) {
        *ret = cs_http_error(api->metrics, c, 400, false, "bad_segment",
                             "segment must be one of oesophagus, stomach, small_bowel, caecum, "
                             "right_colon, transverse_colon, left_colon, rectum (or \"\")");
        return false;
    }
    if (!morv || (morv[0] && !cs_vocab_has(cs_vocab_morphologies, morv))) {
        *ret = cs_http_error(api->metrics, c, 400, false, "bad_morphology",
                             "morphology must be a Paris class: 0-Ip, 0-Isp, 0-Is, 0-IIa, "
                             "0-IIb, 0-IIc, 0-III (or \"\")");
        return false;
    }
    if (morv[0] && !polyp) {
        *ret = cs_http_error(api->metrics, c, 400, false, "bad_morphology",
                             "morphology (Paris) is recorded for polyps only");
        return false;
    }
    if (cnt && (!json_is_integer(cnt) || json_integer_value(cnt) < 1 ||
                json_integer_value(cnt) > 99 || (!polyp && json_integer_value(cnt) != 1))) {
        *ret = cs_http_error(api->metrics, c, 400, false, "bad_count",
                             polyp ? "count must be a whole number 1..99"
                                   : "count is recorded for polyps only (1 otherwise)");
        return false;
    }
    if (sc && !json_is_boolean(sc)) {
        *ret = cs_http_error(api->metrics, c, 400, false, "bad_json",
                             "suspected_cancer must be true or false");
        return false;
    }
    snprintf(f->segment, sizeof f->segment, "%s", segv);
    snprintf(f->morphology, sizeof f->morphology, "%s", morv);
    f->count = cnt ? (int)json_integer_value(cnt) : 1;
    f->suspected_cancer = sc && json_is_true(sc);
    return true;
}

/* The number of frames the study has (for range checks). */
static cs_status frame_count(const cs_api *api, const char *study, uint64_t *n, cs_error *err)
{
    cs_study_counts k;
    cs_status st = cs_store_study_counts(api->store, study, &k, err);
    *n = k.frames;
    return st;
}

cs_status cs_ws_frame_failed(const cs_api *api, const char *study, uint64_t seq, bool *failed,
                             cs_error *err)
{
    size_t n = 0;
    cs_frame_view *v = malloc(sizeof *v);
    *failed = false;
    if (!v)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory reading a frame");
    cs_status st = cs_store_frame_views(api->store, study, seq, v, 1, &n, err);
    *failed = st == CS_OK && n == 1 && v->seq == seq && !v->ok;
    free(v);
    return st;
}

/* The ends of f's range are frames with an image: a finding starts and
 * ends where the reader saw it (a failed frame inside the range is fine).
 * 422 frame_failed naming the frame, or 503. */
static bool ends_readable(const cs_api *api, struct MHD_Connection *c, const cs_finding_rec *f,
                          enum MHD_Result *ret)
{
    cs_error e = {0};
    const uint64_t ends[2] = {f->seq_from, f->seq_to};
    for (int i = 0; i < 2; i++) {
        bool failed = false;
        if (cs_ws_frame_failed(api, f->study, ends[i], &failed, &e) != CS_OK) {
            *ret = cs_http_error(api->metrics, c, 503, false, "store_unavailable", "%s", e.msg);
            return false;
        }
        if (failed) {
            *ret = cs_http_error(api->metrics, c, 422, false, "frame_failed",
                                 "frame %llu failed analysis and has no image: a finding starts "
                                 "and ends on frames that can be seen",
                                 (unsigned long long)ends[i]);
            return false;
        }
    }
    return true;
}

/* Fill f's editable fields from a create/edit body; 400 on bad values. */
static bool parse_finding(const cs_api *api, struct MHD_Connection *c, json_t *o, cs_finding_rec *f,
                          enum MHD_Result *ret)
{
    cs_error e = {0};
    json_t *from = json_object_get(o, "seq_from"), *to = json_object_get(o, "seq_to"),
           *size = json_object_get(o, "size_mm"), *note = json_object_get(o, "note");
    const char *type = json_string_value(json_object_get(o, "type"));
    uint64_t frames = 0;
    if (!json_is_integer(from) || json_integer_value(from) < 0 ||
        (to && (!json_is_integer(to) || json_integer_value(to) < json_integer_value(from)))) {
        *ret = cs_http_error(api->metrics, c, 400, false, "bad_range",
                             "seq_from must be a frame number, seq_to (optional) >= seq_from");
        return false;
    }
    if (!cs_vocab_has(cs_vocab_finding_types, type)) {
        *ret = cs_http_error(api->metrics, c, 400, false, "bad_type",
                             "type must be fresh_blood, polyp, ulcer, angioectasia, erosion or "
                             "other");
        return false;
    }
    if (note && (!json_is_string(note) || strlen(json_string_value(note)) >= CS_NOTE_MAX)) {
        *ret = cs_http_error(api->metrics, c, 400, false, "bad_note",
                             "note must be a string of at most %d bytes", CS_NOTE_MAX - 1);
        return false;
    }
    if (size && !json_is_null(size) &&
        (!json_is_number(size) || json_number_value(size) < 0 || json_number_value(size) > 200 ||
         isnan(json_number_value(size)))) {
        *ret = cs_http_error(api->metrics, c, 400, false, "bad_size",
                             "size_mm must be 0..200 or null");
        return false;
    }
    if (frame_count(api, f->study, &frames, &e) != CS_OK) {
        *ret = cs_http_error(api->metrics, c, 503, false, "store_unavailable", "%s", e.msg);
        return false;
    }
    f->seq_from = (uint64_t)json_integer_value(from);
    f->seq_to = to ? (uint64_t)json_integer_value(to) : f->seq_from;
    if (f->seq_to >= frames) {
        *ret = cs_http_error(api->metrics, c, 400, false, "bad_range", "the study has %llu frames",
                             (unsigned long long)frames);
        return false;
    }
    if (!ends_readable(api, c, f, ret))
        return false;
    snprintf(f->type, sizeof f->type, "%s", type);
    snprintf(f->note, sizeof f->note, "%s", note ? json_string_value(note) : "");
    f->size_mm = size && json_is_number(size) ? json_number_value(size) : -1.0;
    return parse_structure(api, c, o, f, ret);
}

/* A finding marked suspected cancer raises the urgent notification at
 * once (docs/clinical-record.md): an alert of kind suspected_cancer, which
 * the care loop's webhook delivers, and the worklist's urgent flag (read
 * from the findings). The store raises the alert in the finding's own
 * transaction (cs_store_finding_create/_update), once per finding, so a
 * database error stores neither and the client gets the 503; here the
 * event streams and the webhook are only told at once. */
static void notify_suspected_cancer(const cs_api *api)
{
    cs_signals_progress(api->signals); /* monitors show the alert */
    cs_care_wake(api->care);           /* the webhook sends it now */
}

/* The body's "version" (0 when absent); false (400 answered) when bad. */
static bool body_version(const cs_api *api, struct MHD_Connection *c, json_t *o, int *v,
                         enum MHD_Result *ret)
{
    json_t *j = o ? json_object_get(o, "version") : NULL;
    *v = 0;
    if (!j)
        return true;
    if (!json_is_integer(j) || json_integer_value(j) < 1 || json_integer_value(j) > 1000000) {
        *ret = cs_http_error(api->metrics, c, 400, false, "bad_version",
                             "version must be a whole number");
        return false;
    }
    *v = (int)json_integer_value(j);
    return true;
}

static enum MHD_Result list(const cs_api *api, struct MHD_Connection *c, cs_req *r, int64_t fid,
                            bool history)
{
    cs_error e = {0};
    cs_finding_rec *fs = NULL;
    size_t n = 0;
    const char *d = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "deleted");
    cs_status st =
        history ? cs_store_finding_history(api->store, r->id, fid, &fs, &n, &e)
                : cs_store_findings_list(api->store, r->id, d && strcmp(d, "1") == 0, &fs, &n, &e);
    if (st != CS_OK)
        return cs_http_error(api->metrics, c, 503, false, "store_unavailable", "%s", e.msg);
    if (history && n == 0)
        return cs_http_error(api->metrics, c, 404, false, "not_found",
                             "no finding %lld in this study", (long long)fid);
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, finding_json(&fs[i]));
    free(fs);
    return cs_http_json(c, 200, json_pack("{s:o}", history ? "history" : "findings", arr), false,
                        NULL);
}

enum MHD_Result cs_ws_findings(const cs_api *api, struct MHD_Connection *c, cs_req *r, int64_t fid,
                               bool history)
{
    enum MHD_Result ret;
    cs_auth a;
    cs_error e = {0};
    bool get = strcmp(r->method, "GET") == 0;
    a = r->auth;
    if (cs_ws_need_study(api, c, r->id, &ret))
        return ret;
    if (history)
        return list(api, c, r, fid, true);
    if (fid < 0 && get)
        return list(api, c, r, -1, false);
    /* The route table lets only POST (collection), PUT and DELETE (one) here. */
    bool post = strcmp(r->method, "POST") == 0, del = strcmp(r->method, "DELETE") == 0;
    json_t *o = NULL;
    if (!del || r->body_len > 0) {
        o = cs_http_body_json(api->metrics, c, r, &ret);
        if (!o)
            return ret;
    }
    cs_finding_rec f = {0};
    cs_change_outcome out = CS_CHANGE_OK;
    int version = 0;
    snprintf(f.study, sizeof f.study, "%s", r->id);
    f.id = fid;
    int64_t now = cs_now_ms();
    if (!body_version(api, c, o, &version, &ret))
        goto done;
    if (del) {
        if (cs_store_finding_delete(api->store, r->id, fid, a.user, now, version, &out, &e) !=
            CS_OK) {
            ret = cs_http_error(api->metrics, c, 503, false, "store_unavailable", "%s", e.msg);
            goto done;
        }
    } else {
        if (!parse_finding(api, c, o, &f, &ret))
            goto done;
        snprintf(f.updated_by, sizeof f.updated_by, "%s", a.user);
        f.updated_at_ms = now;
        if (post) {
            snprintf(f.created_by, sizeof f.created_by, "%s", a.user);
            f.created_at_ms = now;
        }
        cs_status st = post ? cs_store_finding_create(api->store, &f, &out, &e)
                            : cs_store_finding_update(api->store, &f, version, &out, &e);
        if (st != CS_OK) {
            if (f.suspected_cancer)
                ret = cs_http_error(api->metrics, c, 503, false, "store_unavailable",
                                    "neither the finding nor its suspected-cancer alert was "
                                    "saved; try again: %s",
                                    e.msg);
            else
                ret = cs_http_error(api->metrics, c, 503, false, "store_unavailable", "%s", e.msg);
            goto done;
        }
    }
    if (cs_ws_change_failed(api, c, out, "finding", &ret))
        goto done;
    if (del) { /* answer with the record as it now stands */
        cs_finding_rec *h = NULL;
        size_t n = 0;
        if (cs_store_finding_history(api->store, r->id, fid, &h, &n, &e) != CS_OK || n == 0) {
            free(h);
            ret = cs_http_error(api->metrics, c, 503, false, "store_unavailable", "%s", e.msg);
            goto done;
        }
        f = h[n - 1];
        free(h);
    }
    if (!del && f.suspected_cancer)
        notify_suspected_cancer(api);
    cs_audit(api->audit, &a,
             post  ? "finding.create"
             : del ? "finding.delete"
                   : "finding.update",
             r->id, "finding %lld: %s, frames %llu-%llu, version %d", (long long)f.id, f.type,
             (unsigned long long)f.seq_from, (unsigned long long)f.seq_to, f.version);
    ret = cs_http_json(c, post ? 201 : 200, finding_json(&f), false, NULL);
done:
    json_decref(o);
    return ret;
}

/* The study's landmarks and cleansing grades as the answer. */
static enum MHD_Result marks_answer(const cs_api *api, struct MHD_Connection *c, const char *study)
{
    cs_error e = {0};
    cs_mark_rec *ms = NULL;
    size_t n = 0;
    if (cs_store_marks_list(api->store, study, &ms, &n, &e) != CS_OK)
        return cs_http_error(api->metrics, c, 503, false, "store_unavailable", "%s", e.msg);
    json_t *lm = json_object(), *cl = json_object();
    for (size_t i = 0; i < n; i++) {
        if (strcmp(ms[i].kind, "landmark") == 0)
            json_object_set_new(lm, ms[i].key,
                                json_pack("{s:I, s:s, s:I, s:I}", "seq", (json_int_t)ms[i].seq,
                                          "by", ms[i].by, "at_ms", (json_int_t)ms[i].at_ms,
                                          "first_at_ms", (json_int_t)ms[i].first_at_ms));
        else
            json_object_set_new(cl, ms[i].key,
                                json_pack("{s:s, s:s, s:I}", "grade", ms[i].value, "by", ms[i].by,
                                          "at_ms", (json_int_t)ms[i].at_ms));
    }
    free(ms);
    return cs_http_json(c, 200, json_pack("{s:o, s:o}", "landmarks", lm, "cleansing", cl), false,
                        NULL);
}

enum MHD_Result cs_ws_marks(const cs_api *api, struct MHD_Connection *c, cs_req *r)
{
    enum MHD_Result ret;
    if (cs_ws_need_study(api, c, r->id, &ret))
        return ret;
    return marks_answer(api, c, r->id);
}

enum MHD_Result cs_ws_mark_set(const cs_api *api, struct MHD_Connection *c, cs_req *r,
                               const char *kind, const char *key)
{
    enum MHD_Result ret;
    cs_auth a;
    cs_error e = {0};
    bool landmark = strcmp(kind, "landmark") == 0;
    bool del = strcmp(r->method, "DELETE") == 0; /* else PUT (route table) */
    a = r->auth;
    if (!cs_vocab_has(landmark ? cs_vocab_landmarks : cs_vocab_segments, key))
        return cs_http_error(api->metrics, c, 404, false,
                             landmark ? "unknown_landmark" : "unknown_segment",
                             landmark ? "landmarks: first_gastric, first_duodenal, first_caecal, "
                                        "excreted"
                                      : "segments: small_bowel, right_colon, transverse_colon, "
                                        "left_colon, rectum");
    if (cs_ws_need_study(api, c, r->id, &ret))
        return ret;
    cs_change_outcome out = CS_CHANGE_OK;
    if (del) {
        if (cs_store_mark_delete(api->store, r->id, kind, key, &out, &e) != CS_OK)
            return cs_http_error(api->metrics, c, 503, false, "store_unavailable", "%s", e.msg);
        if (cs_ws_change_failed(api, c, out, "landmark", &ret))
            return ret;
        cs_audit(api->audit, &a, "landmark.clear", r->id, "%s", key);
        cs_care_wake(api->care); /* the stage and its rules moved */
        return cs_http_bytes(c, 204, NULL, NULL, 0, false, NULL);
    }
    json_t *o = cs_http_body_json(api->metrics, c, r, &ret);
    if (!o)
        return ret;
    cs_mark_rec m = {0};
    snprintf(m.kind, sizeof m.kind, "%s", kind);
    snprintf(m.key, sizeof m.key, "%s", key);
    snprintf(m.by, sizeof m.by, "%s", a.user);
    m.at_ms = cs_now_ms();
    m.seq = -1;
    json_t *seq = json_object_get(o, "seq");
    const char *grade = json_string_value(json_object_get(o, "grade"));
    uint64_t frames = 0;
    if (landmark) {
        if (!json_is_integer(seq) || json_integer_value(seq) < 0) {
            ret = cs_http_error(api->metrics, c, 400, false, "bad_json",
                                "body needs {\"seq\": FRAME}");
            goto done;
        }
        if (frame_count(api, r->id, &frames, &e) != CS_OK) {
            ret = cs_http_error(api->metrics, c, 503, false, "store_unavailable", "%s", e.msg);
            goto done;
        }
        if ((uint64_t)json_integer_value(seq) >= frames) {
            ret = cs_http_error(api->metrics, c, 400, false, "bad_range",
                                "the study has %llu frames", (unsigned long long)frames);
            goto done;
        }
        m.seq = json_integer_value(seq);
    } else if (!cs_vocab_has(cs_vocab_grades, grade)) {
        ret = cs_http_error(api->metrics, c, 400, false, "bad_grade",
                            "body needs {\"grade\": excellent|good|fair|poor}");
        goto done;
    } else {
        snprintf(m.value, sizeof m.value, "%s", grade);
    }
    if (cs_store_mark_set(api->store, r->id, &m, &out, &e) != CS_OK) {
        ret = cs_http_error(api->metrics, c, 503, false, "store_unavailable", "%s", e.msg);
        goto done;
    }
    if (cs_ws_change_failed(api, c, out, landmark ? "landmark" : "cleansing grade", &ret))
        goto done;
    if (landmark) {
        cs_audit(api->audit, &a, "landmark.set", r->id, "%s at frame %lld", key, (long long)m.seq);
        cs_care_wake(api->care); /* the stage and its rules moved */
    } else
        cs_audit(api->audit, &a, "cleansing.set", r->id, "%s: %s", key, m.value);
    ret = marks_answer(api, c, r->id);
done:
    json_decref(o);
    return ret;
}
