/* patient_details.c - the patient and the episode of a study
 * (docs/clinical-record.md): parsed and checked from a request body,
 * written as JSON for the roles that need them, and corrected through
 * PUT /api/v1/studies/{id}/patient. Every answer that carries them is
 * audited as patient.read by its handler (cs_ws_audit_patient_read). A
 * correction after the report is signed is appended to the report as an
 * addendum (the details were under the signature; every export carries
 * its addenda), never passed off as what was signed. */
#include <stdio.h>
#include <string.h>

#include "server/api/api_int.h"
#include "server/core/patient.h"

bool cs_ws_patient_parse(const cs_api *api, struct MHD_Connection *c, json_t *body,
                         cs_patient_rec *p, cs_episode_rec *e, enum MHD_Result *ret)
{
    char today[11], code[32], msg[512];
    cs_date_utc(cs_now_s(), today);
    int status = cs_patient_from_json(body, today, p, e, code, msg, sizeof msg);
    if (status == 0)
        return true;
    *ret = cs_http_error(api->metrics, c, (unsigned)status, false, code, "%s", msg);
    return false;
}

bool cs_ws_has_patient(const cs_study_rec *sr) { return sr->patient.nhs_number[0] != '\0'; }

json_t *cs_ws_patient_json(const cs_study_rec *sr)
{
    if (!cs_ws_has_patient(sr))
        return json_null();
    const cs_patient_rec *p = &sr->patient;
    return json_pack("{s:s, s:s, s:s, s:s, s:s}", "nhs_number", p->nhs_number, "family", p->family,
                     "given", p->given, "birth_date", p->birth_date, "sex", p->sex);
}

json_t *cs_ws_episode_json(const cs_study_rec *sr)
{
    const cs_episode_rec *e = &sr->episode;
    if (!e->pathway[0] && !e->indication[0] && !e->indication_detail[0] && !e->referrer[0])
        return json_null();
    return json_pack("{s:s, s:s, s:s, s:s}", "pathway", e->pathway, "indication", e->indication,
                     "indication_detail", e->indication_detail, "referrer", e->referrer);
}

void cs_ws_audit_patient_read(const cs_api *api, const cs_auth *a, const char *study,
                              const char *what)
{
    cs_audit(api->audit, a, "patient.read", study, "%s", what);
}

/* What a correction changes, field by field ("NHS number 9434765919 ->
 * 4010232137; ..."), into note->text; false when nothing changes. */
static bool correction_text(const cs_study_rec *was, const cs_patient_rec *p,
                            const cs_episode_rec *e, cs_addendum_rec *note)
{
    const struct {
        const char *label, *old, *new;
    } f[] = {
        {"NHS number", was->patient.nhs_number, p->nhs_number},
        {"family name", was->patient.family, p->family},
        {"given name", was->patient.given, p->given},
        {"date of birth", was->patient.birth_date, p->birth_date},
        {"sex", was->patient.sex, p->sex},
        {"pathway", was->episode.pathway, e->pathway},
        {"indication", was->episode.indication, e->indication},
        {"indication detail", was->episode.indication_detail, e->indication_detail},
        {"referrer", was->episode.referrer, e->referrer},
    };
    size_t at = 0;
    note->text[0] = '\0';
    for (size_t i = 0; i < sizeof f / sizeof *f; i++) {
        if (strcmp(f[i].old, f[i].new) == 0)
            continue;
        int n = snprintf(note->text + at, sizeof note->text - at, "%s%s: \"%s\" -> \"%s\"",
                         at ? "; " : "", f[i].label, f[i].old, f[i].new);
        if (n > 0)
            at = at + (size_t)n < sizeof note->text ? at + (size_t)n : sizeof note->text - 1;
    }
    return at > 0;
}

enum MHD_Result cs_api_study_patient_put(const cs_api *api, struct MHD_Connection *c, cs_req *r)
{
    enum MHD_Result ret;
    cs_error e = {0};
    cs_study_rec sr;
    if (cs_ws_read_study(api, c, r->id, &sr, &ret))
        return ret;
    json_t *o = cs_http_body_json(api->metrics, c, r, &ret);
    if (!o)
        return ret;
    cs_patient_rec p;
    cs_episode_rec ep;
    bool found = false;
    if (!json_is_object(json_object_get(o, "patient"))) {
        ret = cs_http_error(api->metrics, c, 400, false, "bad_json",
                            "body needs {\"patient\": {...}, \"episode\": {...}}");
    } else if (cs_ws_patient_parse(api, c, o, &p, &ep, &ret)) {
        if (!json_object_get(o, "episode"))
            ep = sr.episode; /* a patient correction keeps the episode */
        /* A signed report was signed with these details: a correction is
         * appended to it as an addendum, by whoever made it (the store
         * does so only when the report is signed). */
        cs_addendum_rec note = {0};
        bool noted = false, changed = correction_text(&sr, &p, &ep, &note);
        snprintf(note.study, sizeof note.study, "%s", r->id);
        snprintf(note.by, sizeof note.by, "%s", r->auth.user[0] ? r->auth.user : "admin-token");
        snprintf(note.reason, sizeof note.reason, "Patient details corrected after signing");
        note.at_ms = cs_now_ms();
        /* Made only while the details are still those read above, from
         * which the note's "old -> new" was written: of two corrections at
         * once, the second gets 409 rather than a false "old" value under
         * the signed report. */
        bool stale = false;
        if (cs_store_study_patient_set(api->store, r->id, &p, &ep, &sr, changed ? &note : NULL,
                                       &found, &stale, &noted, &e) != CS_OK) {
            ret = cs_http_error(api->metrics, c, 503, false, "store_unavailable", "%s", e.msg);
        } else if (stale) {
            ret = cs_http_error(api->metrics, c, 409, false, "patient_changed",
                                "the patient details were changed by someone else meanwhile; "
                                "reload them and correct again");
        } else if (!found) {
            ret =
                cs_http_error(api->metrics, c, 404, false, "unknown_study", "no study '%s'", r->id);
        } else {
            const char *was = cs_ws_has_patient(&sr) ? sr.patient.nhs_number : "none";
            cs_audit(api->audit, &r->auth, "patient.update", r->id, "NHS number %s (was %s)%s",
                     p.nhs_number, was,
                     noted ? "; appended to the signed report as an addendum" : "");
            json_t *st = cs_ws_study_json(api, r->id, &found, &e);
            ret = st ? cs_http_json(c, 200, st, false, NULL)
                     : cs_http_error(api->metrics, c, 503, false, "store_unavailable", "%s", e.msg);
        }
    }
    json_decref(o);
    return ret;
}
