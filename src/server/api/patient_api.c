/* patient_api.c - the patient's companion page (docs/care.md, "The
 * companion page"): what the page shows, ticking the prep schedule, and
 * "please call me". The caller is a patient code (router: CS_WHO_PATIENT),
 * which names one study; nothing here takes a study id from the request,
 * so no other study can be reached. The page shows no patient details.
 *
 * Texts are plain English for a reading age of about 9: short sentences,
 * common words, one instruction at a time. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/api/api_int.h"
#include "server/audit/repeat.h"

/* The recording's state and what to tell the patient about it. */
static const char *recording_state(const cs_protocol *p, const cs_care_facts *f, char *msg,
                                   size_t cap)
{
    if (f->excreted_at_ms || f->closed) {
        snprintf(msg, cap,
                 "Your test is complete. Thank you! You can take off the belt. Return the kit as "
                 "your care team told you.");
        return "complete";
    }
    if (f->hub.at_ms && strcmp(f->hub.recorder, "recording") != 0) {
        snprintf(msg, cap,
                 "The recorder has stopped. Please press \"Please call me\". We will phone you.");
        return "stopped";
    }
    if (!f->first_byte_ms) {
        snprintf(msg, cap,
                 "We have not had any pictures yet. Check the light on the hub is green and that "
                 "you are wearing the belt.");
        return "waiting";
    }
    int64_t age_s = (f->now_ms - f->last_byte_ms) / 1000;
    if (age_s < 0)
        age_s = 0;
    if (age_s >= p->no_frames_alert_s) {
        snprintf(msg, cap,
                 "We have not had any pictures for %lld %s. Check the hub is plugged in and "
                 "near you. If this does not help, press \"Please call me\".",
                 (long long)(age_s < 120 ? age_s : age_s / 60),
                 age_s < 120 ? "seconds" : "minutes");
        return "no_pictures";
    }
    snprintf(msg, cap,
             "Your recording is working. We have %llu pictures. The last one came %lld %s ago.",
             (unsigned long long)f->n_frames, (long long)(age_s < 120 ? age_s : age_s / 60),
             age_s < 120 ? (age_s == 1 ? "second" : "seconds") : "minutes");
    return "working";
}

/* GET /api/v1/patient */
enum MHD_Result cs_api_patient(const cs_api *api, struct MHD_Connection *c, cs_req *r)
{
    const char *study = r->auth.study;
    cs_study_rec sr;
    bool found = false;
    cs_error e = {0};
    cs_care_facts f;
    cs_protocol p;
    cs_alert_rec *al = NULL;
    json_t *prep = NULL;
    size_t na = 0;
    if (cs_store_study_get(api->store, study, &found, &sr, &e) != CS_OK || !found ||
        cs_care_facts_of(api->care, &sr, &f, &e) != CS_OK ||
        cs_care_protocol_of(api->care, study, &p, NULL, &e) != CS_OK ||
        !(prep = cs_ws_prep_json(api, study, &p, &e)) ||
        cs_store_alerts_list(api->store, study, &al, &na, &e) != CS_OK) {
        json_decref(prep);
        return cs_http_error(api->metrics, c, 503, false, "store_unavailable",
                             "we cannot show your study just now: %s", e.msg);
    }
    char msg[400];
    const char *state = recording_state(&p, &f, msg, sizeof msg);

    json_t *boosters = json_array();
    const char *next = NULL;
    int64_t entry = cs_care_small_bowel_entry_ms(&f);
    for (int i = 0; i < p.nboosters; i++) {
        int64_t due_at = entry ? entry + p.boosters[i].delay_s * 1000 : 0;
        bool due = due_at && f.now_ms >= due_at && !f.excreted_at_ms;
        if (due)
            next = p.boosters[i].instruction; /* the latest booster due */
        json_array_append_new(boosters,
                              json_pack("{s:s, s:s, s:b, s:o}", "id", p.boosters[i].id,
                                        "instruction", p.boosters[i].instruction, "due", due,
                                        "due_at_ms", due_at ? json_integer(due_at) : json_null()));
    }
    int64_t call_at = 0;
    for (size_t i = 0; i < na; i++)
        if (strcmp(al[i].kind, "call_requested") == 0 && !al[i].acked_at_ms && !call_at)
            call_at = al[i].raised_at_ms;
    free(al);
    /* The page polls every second: one patient.read per code and address
     * per CS_AUDIT_LIST_REPEAT_MS, and again when the patient details it
     * shows (the first name, of this study) change. The recording facts
     * change every poll and are the study's progress, not the patient's
     * details: they are not in the digest. */
    uint64_t digest = cs_repeat_digest(CS_REPEAT_DIGEST_INIT, study, strlen(study) + 1);
    digest = cs_repeat_digest(digest, sr.patient.given, strlen(sr.patient.given) + 1);
    cs_audit_study_read(api->audit, &r->auth, "patient.read", study, digest,
                        "companion page: first name %s", sr.patient.given[0] ? "shown" : "none");
    json_t *hub =
        f.hub.at_ms ? json_pack("{s:i, s:i, s:s}", "battery_pct", f.hub.battery_pct,
                                "spool_used_pct", f.hub.spool_used_pct, "recorder", f.hub.recorder)
                    : json_null();
    return cs_http_json(
        c, 200,
        json_pack("{s:o, s:s, s:{s:s, s:I, s:o, s:s}, s:o, s:o, s:o, s:o, s:o}", "first_name",
                  /* the first name at most: never the family name or the NHS number */
                  sr.patient.given[0] ? json_string(sr.patient.given) : json_null(), "stage",
                  cs_care_stage(&f), "recording", "state", state, "pictures",
                  (json_int_t)f.n_frames, "last_picture_ms",
                  f.last_byte_ms ? json_integer(f.last_byte_ms) : json_null(), "message", msg,
                  "hub", hub, "prep", prep, "boosters", boosters, "next_step",
                  next ? json_string(next) : json_null(), "call_requested_at_ms",
                  call_at ? json_integer(call_at) : json_null()),
        false, NULL);
}

/* PUT /api/v1/patient/prep/{key} {"done": true|false} */
enum MHD_Result cs_api_patient_prep(const cs_api *api, struct MHD_Connection *c, cs_req *r)
{
    enum MHD_Result ret;
    cs_protocol p;
    cs_error e = {0};
    if (cs_care_protocol_of(api->care, r->auth.study, &p, NULL, &e) != CS_OK)
        return cs_http_error(api->metrics, c, 503, false, "store_unavailable", "%s", e.msg);
    bool known = false;
    for (int i = 0; i < p.nprep && !known; i++)
        known = strcmp(p.prep[i].id, r->key) == 0;
    if (!known)
        return cs_http_error(api->metrics, c, 404, false, "unknown_step",
                             "your plan has no step '%s'", r->key);
    json_t *o = cs_http_body_json(api->metrics, c, r, &ret);
    if (!o)
        return ret;
    json_t *done = json_object_get(o, "done");
    if (!json_is_boolean(done)) {
        json_decref(o);
        return cs_http_error(api->metrics, c, 400, false, "bad_json",
                             "body needs {\"done\": true} or {\"done\": false}");
    }
    cs_check_outcome out;
    int64_t at = json_is_true(done) ? cs_now_ms() : 0;
    json_decref(o);
    if (cs_store_prep_tick(api->store, r->auth.study, r->key, at, &out, &e) != CS_OK)
        return cs_http_error(api->metrics, c, 503, false, "store_unavailable", "%s", e.msg);
    /* Every tick and untick: it feeds the signed report's "Bowel
     * preparation" (a tick again keeps the first tick's time). */
    cs_audit(api->audit, &r->auth, "patient.prep", r->auth.study, "step %s %s", r->key,
             at > 0 ? "done" : "undone");
    cs_signals_progress(api->signals); /* the monitor shows it */
    return cs_http_json(c, 200, json_pack("{s:s, s:b}", "id", r->key, "done", at > 0), false, NULL);
}

/* The key of the patient's call request: "after-N", N the newest
 * acknowledged call_requested alert (0: none). A press while a request is
 * still open maps to that request's key and adds nothing; a press after
 * staff acknowledged it is a new request. *open_id: the open request with
 * that key, 0 when none. */
static cs_status call_key(const cs_api *api, const char *study, char *key, size_t cap,
                          int64_t *open_id, cs_error *err)
{
    cs_alert_rec *al = NULL;
    size_t n = 0;
    cs_status st = cs_store_alerts_list(api->store, study, &al, &n, err);
    if (st != CS_OK)
        return st;
    int64_t after = 0;
    for (size_t i = 0; i < n && !after; i++) /* newest first */
        if (strcmp(al[i].kind, "call_requested") == 0 && al[i].acked_at_ms)
            after = al[i].id;
    snprintf(key, cap, "after-%lld", (long long)after);
    *open_id = 0;
    for (size_t i = 0; i < n; i++)
        if (strcmp(al[i].kind, "call_requested") == 0 && strcmp(al[i].key, key) == 0 &&
            !al[i].acked_at_ms)
            *open_id = al[i].id;
    free(al);
    return CS_OK;
}

/* POST /api/v1/patient/call: "please call me" raises call_requested,
 * unless the patient's last request is still waiting (not acknowledged).
 * Keyed by the acknowledged request before it (call_key), so a press after
 * an acknowledgement is never taken for the request already answered. */
enum MHD_Result cs_api_patient_call(const cs_api *api, struct MHD_Connection *c, cs_req *r)
{
    char key[40];
    bool raised = false;
    int64_t open_id = 0;
    cs_check_outcome out = CS_CHECK_OK;
    cs_error e = {0};
    cs_status st = CS_OK;
    /* A key whose request was acknowledged between call_key and the raise
     * is looked up again: at most a few tries, each after a new ack. */
    for (int tries = 0; tries < 3 && st == CS_OK && out == CS_CHECK_OK && !raised; tries++) {
        if ((st = call_key(api, r->auth.study, key, sizeof key, &open_id, &e)) != CS_OK)
            break;
        if (open_id)
            break; /* still waiting: this press joins it */
        st = cs_care_raise(api->care, r->auth.study, "call_requested", key,
                           "The patient asked to be called.", &raised, &out, &e);
    }
    if (st != CS_OK || out != CS_CHECK_OK || (!raised && !open_id))
        return cs_http_error(api->metrics, c, 503, false, "store_unavailable",
                             "we could not send your request: please phone the number on your "
                             "leaflet (%s)",
                             e.msg[0] ? e.msg : "try again");
    cs_audit(api->audit, &r->auth, "patient.call", r->auth.study, "%s",
             raised ? "new request" : "repeated while the request waits");
    return cs_http_json(
        c, 200,
        json_pack("{s:b, s:s}", "requested", 1, "message", "Thank you. We will phone you soon."),
        false, NULL);
}
