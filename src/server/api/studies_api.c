/* studies_api.c - /api/v1/studies (create, read, revoke devices) and
 * /api/v1/devices/enrol (a hub exchanges its one-time code). Who may call
 * each is the route table's business (router/routes.c). */
#include <stdio.h>
#include <string.h>

#include "server/api/api_int.h"
#include "server/api/studies.h"
#include "server/auth/tokens.h"

#define LIST_MAX 100 /* bleeding frames / errors listed per study */

enum MHD_Result cs_api_studies_create(const cs_api *api, struct MHD_Connection *c, cs_req *r)
{
    enum MHD_Result ret;
    json_t *o = cs_http_body_json(api->metrics, c, r, &ret);
    if (!o)
        return ret;
    json_t *lab = json_object_get(o, "label");
    char id[CS_ID_MAX], code[CS_CODE_LEN + 1], patient[CS_CODE_LEN + 1];
    int64_t expires = 0;
    cs_error e = {0};
    cs_patient_rec pr;
    cs_episode_rec er;
    if (lab && !json_is_string(lab)) {
        ret = cs_http_error(api->metrics, c, 400, false, "bad_json", "label must be a string");
    } else if (!cs_ws_patient_parse(api, c, o, &pr, &er, &ret)) {
        /* answered: the field at fault is named */
    } else if (cs_study_create(api->store, lab ? json_string_value(lab) : NULL, &pr, &er,
                               api->cfg->code_ttl_s, id, code, &expires, patient, &e) != CS_OK) {
        ret = cs_http_error(api->metrics, c, e.code == CS_ERR_ARG ? 400 : 500, false,
                            e.code == CS_ERR_ARG ? "bad_json" : "storage_failed", "%s", e.msg);
    } else {
        char loc[CS_ID_MAX + 32];
        snprintf(loc, sizeof loc, "/api/v1/studies/%s", id);
        const char *h[] = {"Location", loc, NULL};
        snprintf(r->id, sizeof r->id, "%s", id); /* for the route's study.create audit */
        ret =
            cs_http_json(c, 201,
                         json_pack("{s:s, s:s, s:I, s:s}", "study", id, "enrolment_code", code,
                                   "code_expires_at", (json_int_t)expires, "patient_code", patient),
                         false, h);
    }
    json_decref(o);
    return ret;
}

enum MHD_Result cs_api_enrol(const cs_api *api, struct MHD_Connection *c, cs_req *r)
{
    enum MHD_Result ret;
    json_t *o = cs_http_body_json(api->metrics, c, r, &ret);
    if (!o)
        return ret;
    const char *given = json_string_value(json_object_get(o, "code"));
    char code[CS_CODE_LEN + 1], code_hash[CS_HASH_HEX], token[CS_TOKEN_MAX],
        token_hash[CS_HASH_HEX], study[CS_ID_MAX];
    cs_enrol_outcome out = CS_ENROL_UNKNOWN;
    cs_error e = {0};
    if (!given) {
        ret = cs_http_error(api->metrics, c, 400, false, "bad_json",
                            "body needs {\"code\": \"XXXX-XXXX-XXXX\"}");
        goto done;
    }
    if (!cs_code_normalise(given, code)) {
        ret = cs_http_error(api->metrics, c, 404, false, "unknown_code", "no such enrolment code");
        goto done;
    }
    cs_token_hash(code, code_hash);
    cs_token_new(token);
    cs_token_hash(token, token_hash);
    if (cs_store_enrol(api->store, code_hash, token_hash, cs_now_s(), &out, study, &e) != CS_OK) {
        ret = cs_http_error(api->metrics, c, 503, false, "store_unavailable", "%s", e.msg);
        goto done;
    }
    switch (out) {
    case CS_ENROL_OK:
        snprintf(r->id, sizeof r->id, "%s", study); /* for the route's device.enrol audit */
        ret = cs_http_json(c, 200, json_pack("{s:s, s:s}", "token", token, "study", study), false,
                           NULL);
        break;
    case CS_ENROL_USED:
        ret = cs_http_error(api->metrics, c, 409, false, "code_used",
                            "this enrolment code was already used");
        break;
    case CS_ENROL_EXPIRED:
        ret = cs_http_error(api->metrics, c, 410, false, "code_expired",
                            "this enrolment code has expired");
        break;
    default:
        ret = cs_http_error(api->metrics, c, 404, false, "unknown_code", "no such enrolment code");
        break;
    }
done:
    json_decref(o);
    return ret;
}

enum MHD_Result cs_api_study_revoke(const cs_api *api, struct MHD_Connection *c, cs_req *r)
{
    cs_error e = {0};
    cs_study_rec sr;
    bool found = false;
    int n = 0;
    if (cs_store_study_get(api->store, r->id, &found, &sr, &e) != CS_OK)
        return cs_http_error(api->metrics, c, 503, false, "store_unavailable", "%s", e.msg);
    if (!found)
        return cs_http_error(api->metrics, c, 404, false, "unknown_study", "no study '%s'", r->id);
    if (cs_store_devices_revoke(api->store, r->id, cs_now_s(), &n, &e) != CS_OK)
        return cs_http_error(api->metrics, c, 500, false, "storage_failed", "%s", e.msg);
    /* Bodies in flight from the revoked tokens end at their next chunk. */
    cs_signals_device_revoked(api->signals);
    return cs_http_json(c, 200, json_pack("{s:s, s:i}", "study", r->id, "revoked", n), false, NULL);
}

enum MHD_Result cs_api_study_close(const cs_api *api, struct MHD_Connection *c, cs_req *r)
{
    cs_error e = {0};
    cs_check_outcome out = CS_CHECK_OK;
    const char *by = r->auth.user[0] ? r->auth.user : "admin-token";
    if (cs_store_study_close(api->store, r->id, by, cs_now_ms(), &out, &e) != CS_OK)
        return cs_http_error(api->metrics, c, 503, false, "store_unavailable", "%s", e.msg);
    if (out == CS_CHECK_NOT_FOUND)
        return cs_http_error(api->metrics, c, 404, false, "unknown_study", "no study '%s'", r->id);
    if (out == CS_CHECK_CONFLICT) {
        cs_study_rec sr;
        bool found = false;
        if (cs_store_study_get(api->store, r->id, &found, &sr, &e) != CS_OK || !found)
            return cs_http_error(api->metrics, c, 409, false, "study_closed",
                                 "the study was closed already");
        return cs_http_error(api->metrics, c, 409, false, "study_closed",
                             "the study was closed already, by %s at %lld ms", sr.closed_by,
                             (long long)sr.closed_at_ms);
    }
    if (out != CS_CHECK_OK)
        return cs_http_error(api->metrics, c, 409, false, cs_check_outcome_name(out),
                             "the study cannot be closed (%s)", cs_check_outcome_name(out));
    /* The store revoked the devices and ended the open uploads: cut their
     * bodies in flight, and let the analysis read the last stored bytes. */
    cs_signals_device_revoked(api->signals);
    cs_ingest_notify(api->ingest, r->id);
    cs_signals_progress(api->signals);
    bool found = false;
    json_t *o = cs_ws_study_json(api, r->id, &found, &e);
    if (!o)
        return cs_http_error(api->metrics, c, 503, false, "store_unavailable", "%s", e.msg);
    if (!json_is_null(json_object_get(o, "patient")))
        cs_ws_audit_patient_read(api, &r->auth, r->id, "study.close");
    return cs_http_json(c, 200, o, false, NULL);
}

static const char *state_of(const cs_study_counts *n, const cs_study_rec *sr)
{
    if (sr->closed_at_ms > 0) /* closed: complete once the analysis caught up */
        return sr->ingest_offset < n->bytes_received ? "analysing" : "complete";
    if (n->uploads == 0)
        return "enrolled";
    if (n->uploads_open > 0)
        return "receiving";
    if (sr->ingest_offset < n->bytes_received)
        return "analysing";
    return "complete";
}

static json_t *frame_list(const cs_api *api, const char *id, bool errors, cs_error *err)
{
    cs_frame_brief *b = calloc(LIST_MAX, sizeof *b);
    size_t n = 0;
    json_t *a = json_array();
    if (!b || !a || cs_store_study_frames(api->store, id, errors, b, LIST_MAX, &n, err) != CS_OK) {
        free(b);
        json_decref(a);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_pack("{s:I}", "seq", (json_int_t)b[i].seq);
        if (b[i].frame_index >= 0)
            json_object_set_new(o, "frame_index", json_integer(b[i].frame_index));
        if (b[i].capture_time_us >= 0)
            json_object_set_new(o, "capture_time_us", json_integer(b[i].capture_time_us));
        if (errors) {
            json_object_set_new(o, "reason_code", json_string(b[i].status));
            json_object_set_new(o, "reason", json_string(b[i].error));
        } else {
            json_object_set_new(o, "bleeding_probability", json_real(b[i].bleeding_probability));
        }
        json_array_append_new(a, o);
    }
    free(b);
    return a;
}

json_t *cs_api_study_json(const cs_api *api, const char *id, bool *found, cs_error *err)
{
    cs_study_rec sr;
    *found = false;
    if (cs_store_study_get(api->store, id, found, &sr, err) != CS_OK || !*found)
        return NULL;
    return cs_api_study_rec_json(api, &sr, true, err);
}

json_t *cs_api_study_rec_json(const cs_api *api, const cs_study_rec *rec, bool lists, cs_error *err)
{
    cs_study_counts n;
    if (cs_store_study_counts(api->store, rec->id, &n, err) != CS_OK)
        return NULL;
    return cs_api_study_json_counted(api, rec, &n, lists, err);
}

json_t *cs_api_study_json_counted(const cs_api *api, const cs_study_rec *rec,
                                  const cs_study_counts *counts, bool lists, cs_error *err)
{
    const cs_study_rec sr = *rec;
    const char *id = sr.id;
    const cs_study_counts n = *counts;
    int64_t received = cs_ingest_received(api->ingest, id);
    if (received < (int64_t)n.frames)
        received = (int64_t)n.frames;
    double secs = (double)(sr.last_byte_ms - sr.first_byte_ms) / 1000.0;
    double rate = secs > 0 ? (double)n.bytes_received / secs : 0.0;
    json_t *bleeding = lists ? frame_list(api, id, false, err) : json_array();
    json_t *errors = !bleeding ? NULL : lists ? frame_list(api, id, true, err) : json_array();
    if (!errors) {
        json_decref(bleeding);
        return NULL;
    }
    json_t *o = json_pack(
        "{s:s, s:s, s:s, s:I, s:{s:I, s:I, s:I, s:I, s:I, s:f, s:i, s:i},"
        " s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I}, s:o, s:o}",
        "study", sr.id, "label", sr.label, "state", state_of(&n, &sr), "created_at",
        (json_int_t)sr.created_at, "progress", "bytes_received", (json_int_t)n.bytes_received,
        "bytes_analysed", (json_int_t)sr.ingest_offset, "frames_received", (json_int_t)received,
        "frames_analysed", (json_int_t)n.frames, "frames_failed", (json_int_t)n.failed,
        "data_rate_bytes_per_s", rate, "uploads", n.uploads, "uploads_open", n.uploads_open,
        "counts", "analysed", (json_int_t)n.analysed, "failed", (json_int_t)n.failed, "readable",
        (json_int_t)n.readable, "bleeding", (json_int_t)n.bleeding, "too_dark",
        (json_int_t)n.too_dark, "too_bright", (json_int_t)n.too_bright, "blurry",
        (json_int_t)n.blurry, "bleeding_frames", bleeding, "errors", errors);
    if (o) {
        json_object_set_new(json_object_get(o, "counts"), "polyp",
                            json_integer((json_int_t)n.polyp));
        json_t *p = json_object_get(o, "progress");
        json_object_set_new(p, "last_frame_time_us",
                            n.last_capture_time_us >= 0 ? json_integer(n.last_capture_time_us)
                                                        : json_null());
        json_object_set_new(p, "last_byte_at_ms",
                            sr.last_byte_ms ? json_integer(sr.last_byte_ms) : json_null());
        json_object_set_new(o, "closed_at_ms",
                            sr.closed_at_ms ? json_integer(sr.closed_at_ms) : json_null());
        json_object_set_new(o, "closed_by",
                            sr.closed_by[0] ? json_string(sr.closed_by) : json_null());
        if (!lists) {
            json_object_del(o, "bleeding_frames");
            json_object_del(o, "errors");
        }
    }
    return o;
}

/* The polyp operating points the study's frames were analysed at
 * (cs_store_polyp_settings), oldest first: normally one; more when the
 * server restarted with other weights or another threshold mid-study, so
 * the reader knows the flags are not all alike. The first
 * MAX_POLYP_SETTINGS are listed; *total says how many there are. NULL on
 * a store error. */
#define MAX_POLYP_SETTINGS 8
static json_t *polyp_settings_json(const cs_api *api, const char *study, size_t *total,
                                   cs_error *err)
{
    cs_polyp_setting ps[MAX_POLYP_SETTINGS];
    size_t n = 0;
    if (cs_store_polyp_settings(api->store, study, ps, MAX_POLYP_SETTINGS, &n, err) != CS_OK)
        return NULL;
    *total = n;
    json_t *a = json_array();
    for (size_t i = 0; a && i < n && i < MAX_POLYP_SETTINGS; i++) {
        char crc[9];
        snprintf(crc, sizeof crc, "%08x", (unsigned)ps[i].weights_crc32c);
        json_array_append_new(
            a, json_pack("{s:o,s:o,s:I,s:I,s:I}", "weights_crc32c",
                         ps[i].recorded ? json_string(crc) : json_null(), "threshold",
                         ps[i].recorded ? json_real((double)ps[i].threshold) : json_null(),
                         "frames", (json_int_t)ps[i].frames, "first_seq",
                         (json_int_t)ps[i].first_seq, "last_seq", (json_int_t)ps[i].last_seq));
    }
    return a;
}

enum MHD_Result cs_api_study_get(const cs_api *api, struct MHD_Connection *c, cs_req *r)
{
    cs_error e = {0};
    bool found = false;
    json_t *o = cs_ws_study_json(api, r->id, &found, &e);
    if (!o && (found || e.code != CS_OK))
        return cs_http_error(api->metrics, c, 503, false, "store_unavailable", "%s", e.msg);
    if (!o)
        return cs_http_error(api->metrics, c, 404, false, "unknown_study", "no study '%s'", r->id);
    if (!json_is_null(json_object_get(o, "patient")))
        cs_ws_audit_patient_read(api, &r->auth, r->id, "study");
    json_t *pacs = cs_ws_pacs_json(api, r->id, &e); /* docs/pacs.md */
    if (!pacs) {
        json_decref(o);
        return cs_http_error(api->metrics, c, 503, false, "store_unavailable", "%s", e.msg);
    }
    json_object_set_new(o, "pacs", pacs);
    /* The settings are a note beside the frames: when they cannot be read
     * the study still opens (null: the viewer says nothing rather than
     * something untrue), so that no flagged frame is kept from a reader. */
    size_t n_settings = 0;
    json_t *settings = polyp_settings_json(api, r->id, &n_settings, &e);
    if (!settings)
        fprintf(stderr, "capscreen: study %s: polyp settings not read: %s\n", r->id, e.msg);
    json_object_set_new(o, "polyp_settings", settings ? settings : json_null());
    json_object_set_new(o, "polyp_settings_total",
                        settings ? json_integer((json_int_t)n_settings) : json_null());
    return cs_http_json(c, 200, o, false, NULL);
}
