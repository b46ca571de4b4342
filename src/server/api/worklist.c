/* worklist.c - the worklist (GET /api/v1/worklist), reader assignment
 * and the workflow state of a study (docs/workstation.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "server/api/api_int.h"
#include "server/audit/repeat.h"
#include "server/core/id_set.h"

const char *cs_workflow_state(const char *ingest_state, const char *report_state)
{
    if (strcmp(ingest_state, "complete") != 0)
        return ingest_state; /* enrolled, receiving, analysing */
    if (strcmp(report_state, "signed") == 0 || strcmp(report_state, "read") == 0)
        return report_state;
    return "ready";
}

bool cs_ws_read_study(const cs_api *api, struct MHD_Connection *c, const char *study,
                      cs_study_rec *sr, enum MHD_Result *ret)
{
    bool found = false;
    cs_error e = {0};
    if (cs_store_study_get(api->store, study, &found, sr, &e) != CS_OK) {
        *ret = cs_http_error(api->metrics, c, 503, false, "store_unavailable", "%s", e.msg);
        return true;
    }
    if (!found) {
        *ret = cs_http_error(api->metrics, c, 404, false, "unknown_study", "no study '%s'", study);
        return true;
    }
    return false;
}

bool cs_api_study_gate(const cs_api *api, struct MHD_Connection *c, const cs_req *r,
                       enum MHD_Result *ret)
{
    if (cs_id_set_has(api->clinical_studies, r->id))
        return false;
    cs_study_rec sr;
    bool found = false;
    cs_error e = {0};
    if (cs_store_study_get(api->store, r->id, &found, &sr, &e) != CS_OK) {
        *ret = cs_http_error(api->metrics, c, 503, false, "store_unavailable", "%s", e.msg);
        return true;
    }
    if (found && !sr.training)
        cs_id_set_add(api->clinical_studies, r->id);
    if (!found || !sr.training)
        return false;
    *ret = cs_http_error(api->metrics, c, 409, false, "training_study",
                         "study '%s' holds a training case's frames and is no patient's study: "
                         "it is read through /api/v1/training/cases",
                         r->id);
    return true;
}

bool cs_ws_need_study(const cs_api *api, struct MHD_Connection *c, const char *study,
                      enum MHD_Result *ret)
{
    cs_study_rec sr;
    return cs_ws_read_study(api, c, study, &sr, ret);
}

bool cs_ws_change_failed(const cs_api *api, struct MHD_Connection *c, cs_change_outcome out,
                         const char *what, enum MHD_Result *ret)
{
    switch (out) {
    case CS_CHANGE_OK: return false;
    case CS_CHANGE_NOT_FOUND:
        *ret = cs_http_error(api->metrics, c, 404, false, "not_found", "no such %s", what);
        break;
    case CS_CHANGE_CONFLICT:
        *ret = cs_http_error(api->metrics, c, 409, false, "version_conflict",
                             "the %s was changed by someone else; reload it", what);
        break;
    case CS_CHANGE_LOCKED:
        *ret = cs_http_error(api->metrics, c, 409, false, "report_signed",
                             "the study's report is signed: its %s can no longer change", what);
        break;
    }
    return true;
}

/* What the worklist read for every study at once (NULL: read this one's). */
typedef struct prefetched {
    const cs_worklist_fact *fact;  /* NULL: a study created since (none yet) */
    const cs_reading_rec *reading; /* its rows of the reading-time list */
    size_t n_reading;
} prefetched;

/* The study's JSON (cs_api_study_rec_json) with the workstation's fields. */
static json_t *study_entry(const cs_api *api, const cs_study_rec *sr, bool lists,
                           const prefetched *pre, cs_error *err)
{
    char report_state[16];
    const cs_worklist_fact *f = pre ? pre->fact : NULL;
    json_t *o = f ? cs_api_study_json_counted(api, sr, &f->counts, lists, err)
                  : cs_api_study_rec_json(api, sr, lists, err);
    if (!o)
        return NULL;
    if (f)
        snprintf(report_state, sizeof report_state, "%s", f->report_state);
    else if (cs_ws_report_state(api, sr->id, report_state, sizeof report_state, err) != CS_OK) {
        json_decref(o);
        return NULL;
    }
    const char *ingest = json_string_value(json_object_get(o, "state"));
    json_object_set_new(o, "workflow_state",
                        json_string(cs_workflow_state(ingest ? ingest : "", report_state)));
    json_object_set_new(o, "assigned_reader", json_string(sr->assigned_reader));
    json_object_set_new(o, "report_state", json_string(report_state));
    json_object_set_new(o, "patient", cs_ws_patient_json(sr));
    json_object_set_new(o, "episode", cs_ws_episode_json(sr));
    bool urgent = false;
    if (f) {
        urgent = f->suspected_cancer;
    } else if (cs_ws_suspected_cancer(api, sr->id, &urgent, err) != CS_OK) {
        json_decref(o);
        return NULL;
    }
    json_object_set_new(o, "urgent", json_boolean(urgent));
    json_t *reading = pre ? cs_ws_reading_json_of(pre->reading, pre->n_reading)
                          : cs_ws_reading_json(api, sr->id, err);
    if (!reading) {
        if (pre)
            cs_error_set(err, CS_ERR_NOMEM, "out of memory");
        json_decref(o);
        return NULL;
    }
    json_object_set_new(o, "reading_time", reading);
    return o;
}

json_t *cs_ws_study_json(const cs_api *api, const char *id, bool *found, cs_error *err)
{
    cs_study_rec sr;
    *found = false;
    if (cs_store_study_get(api->store, id, found, &sr, err) != CS_OK || !*found)
        return NULL;
    return study_entry(api, &sr, true, NULL, err);
}

/* Case-insensitive: does `hay` contain `needle`? */
static bool contains_ci(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay; hay++)
        if (strncasecmp(hay, needle, n) == 0)
            return true;
    return n == 0;
}

/* Does the study match the worklist search `q`: its id, label, the
 * patient's names, or the NHS number (spaces in q ignored)? */
static bool matches(const cs_study_rec *sr, const char *q)
{
    char digits[32];
    size_t n = 0;
    for (const char *p = q; *p && n + 1 < sizeof digits; p++)
        if (*p != ' ')
            digits[n++] = *p;
    digits[n] = '\0';
    return contains_ci(sr->id, q) || contains_ci(sr->label, q) ||
           contains_ci(sr->patient.family, q) || contains_ci(sr->patient.given, q) ||
           (n > 0 && strstr(sr->patient.nhs_number, digits) != NULL);
}

/* Continue `h` over the patient and episode details a worklist row
 * discloses (with the study they belong to), for cs_audit_list_read. */
static uint64_t patient_digest(uint64_t h, const cs_study_rec *sr)
{
    const cs_patient_rec *p = &sr->patient;
    const cs_episode_rec *e = &sr->episode;
    const char *fields[] = {sr->id,     p->nhs_number, p->family,
                            p->given,   p->birth_date, p->sex,
                            e->pathway, e->indication, e->indication_detail,
                            e->referrer};
    for (size_t i = 0; i < sizeof fields / sizeof *fields; i++)
        h = cs_repeat_digest(h, fields[i], strlen(fields[i]) + 1); /* NUL: a field boundary */
    return h;
}

static int fact_key_cmp(const void *key, const void *f)
{
    return strcmp(key, ((const cs_worklist_fact *)f)->study);
}

static int reading_cmp(const void *a, const void *b)
{
    const cs_reading_rec *x = a, *y = b;
    int c = strcmp(x->study, y->study);
    if (!c)
        c = strcmp(x->reader, y->reader);
    return c ? c : strcmp(x->view, y->view);
}

/* Every study's facts and reading rows in two store calls (the worklist
 * made four a study: docs/server.md, "The worklist"); a study's share is
 * found by binary search. */
typedef struct worklist_data {
    cs_worklist_fact *facts;
    size_t n_facts;
    cs_reading_rec *reading; /* sorted by study (strcmp), reader, view */
    size_t n_reading;
} worklist_data;

static cs_status worklist_data_read(const cs_api *api, worklist_data *d, cs_error *err)
{
    memset(d, 0, sizeof *d);
    cs_status st = cs_store_worklist_facts(api->store, &d->facts, &d->n_facts, err);
    if (st == CS_OK)
        st = cs_store_reading_list(api->store, "", &d->reading, &d->n_reading, err);
    if (st == CS_OK && d->n_reading > 1)
        qsort(d->reading, d->n_reading, sizeof *d->reading, reading_cmp);
    return st;
}

static prefetched worklist_data_of(const worklist_data *d, const char *study)
{
    prefetched p = {0};
    p.fact =
        d->n_facts ? bsearch(study, d->facts, d->n_facts, sizeof *d->facts, fact_key_cmp) : NULL;
    size_t lo = 0, hi = d->n_reading; /* the first row of `study` or after it */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(d->reading[mid].study, study) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    p.reading = d->reading + lo;
    while (lo + p.n_reading < d->n_reading &&
           strcmp(d->reading[lo + p.n_reading].study, study) == 0)
        p.n_reading++;
    return p;
}

static void worklist_data_free(worklist_data *d)
{
    free(d->facts);
    free(d->reading);
}

enum MHD_Result cs_api_worklist(const cs_api *api, struct MHD_Connection *c, cs_req *r)
{
    cs_error e = {0};
    const char *want = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "state");
    const char *q = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "q");
    if (q && strlen(q) > 128)
        return cs_http_error(api->metrics, c, 400, false, "bad_query",
                             "q is at most 128 characters");
    size_t shown = 0;
    uint64_t digest = CS_REPEAT_DIGEST_INIT;
    cs_study_rec *list = NULL;
    size_t n = 0;
    worklist_data d;
    if (cs_store_studies_list(api->store, &list, &n, &e) != CS_OK)
        return cs_http_error(api->metrics, c, 503, false, "store_unavailable", "%s", e.msg);
    if (worklist_data_read(api, &d, &e) != CS_OK) {
        free(list);
        worklist_data_free(&d);
        return cs_http_error(api->metrics, c, 503, false, "store_unavailable", "%s", e.msg);
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        if (list[i].training)
            continue; /* a training case's frames, no patient's study */
        if (q && q[0] && !matches(&list[i], q))
            continue;
        /* The worklist needs counts, not the lists of flagged frames. */
        prefetched pre = worklist_data_of(&d, list[i].id);
        json_t *o = study_entry(api, &list[i], false, &pre, &e);
        if (!o) {
            free(list);
            worklist_data_free(&d);
            json_decref(arr);
            return cs_http_error(api->metrics, c, 503, false, "store_unavailable", "%s", e.msg);
        }
        const char *ws = json_string_value(json_object_get(o, "workflow_state"));
        if (want && want[0] && (!ws || strcmp(ws, want) != 0)) {
            json_decref(o);
        } else {
            if (cs_ws_has_patient(&list[i])) {
                shown++;
                digest = patient_digest(digest, &list[i]);
            }
            json_array_append_new(arr, o);
        }
    }
    free(list);
    worklist_data_free(&d);
    if (shown > 0) {
        char what[64];
        snprintf(what, sizeof what, "worklist: %zu patients", shown);
        /* polled every 2 s: audited when the patients shown change */
        cs_audit_list_read(api->audit, &r->auth, "patient.read", digest, "%s", what);
    }
    return cs_http_json(c, 200, json_pack("{s:o}", "studies", arr), false, NULL);
}

enum MHD_Result cs_api_study_assign(const cs_api *api, struct MHD_Connection *c, cs_req *r)
{
    enum MHD_Result ret;
    cs_auth a;
    cs_error e = {0};
    a = r->auth;
    json_t *o = cs_http_body_json(api->metrics, c, r, &ret);
    if (!o)
        return ret;
    const char *reader = json_string_value(json_object_get(o, "reader"));
    cs_user_rec u;
    bool found = false;
    if (!reader) {
        ret = cs_http_error(api->metrics, c, 400, false, "bad_json",
                            "body needs {\"reader\": NAME or \"\"}");
    } else if (reader[0] && cs_store_user_get(api->store, reader, &found, &u, &e) != CS_OK) {
        ret = cs_http_error(api->metrics, c, 503, false, "store_unavailable", "%s", e.msg);
    } else if (reader[0] && (!found || !(cs_role_bit(u.role) & CS_ROLES_EDIT))) {
        ret = cs_http_error(api->metrics, c, 400, false, "bad_reader",
                            "'%s' is not a reader or consultant", reader);
    } else if (cs_store_study_assign(api->store, r->id, reader, &found, &e) != CS_OK) {
        ret = cs_http_error(api->metrics, c, 503, false, "store_unavailable", "%s", e.msg);
    } else if (!found) {
        ret = cs_http_error(api->metrics, c, 404, false, "unknown_study", "no study '%s'", r->id);
    } else {
        cs_audit(api->audit, &a, "study.assign", r->id, "reader %s", reader[0] ? reader : "(none)");
        json_t *st = cs_ws_study_json(api, r->id, &found, &e);
        if (st && !json_is_null(json_object_get(st, "patient")))
            cs_ws_audit_patient_read(api, &a, r->id, "study.assign");
        ret = st ? cs_http_json(c, 200, st, false, NULL)
                 : cs_http_error(api->metrics, c, 503, false, "store_unavailable", "%s", e.msg);
    }
    json_decref(o);
    return ret;
}
