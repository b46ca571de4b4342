/* record.c - a study's clinical record as one JSON object (the record
 * JSON, docs/clinical-record.md): the study as GET /api/v1/studies/{id}
 * gives it, the report, the findings and the report's key frames. The
 * exports (FHIR now, DICOM next) build from this one object, so they name
 * the same things the workstation shows. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/api/api_int.h"

/* The report as GET .../report answers it (derived fields and addenda
 * included), or JSON null when there is none. */
static json_t *report_record(const cs_api *api, const char *study, cs_error *err)
{
    bool found = false;
    cs_report_rec *r = malloc(sizeof *r);
    if (!r) {
        cs_error_set(err, CS_ERR_NOMEM, "out of memory");
        return NULL;
    }
    json_t *o = NULL;
    if (cs_store_report_get(api->store, study, &found, r, err) == CS_OK)
        o = found ? cs_ws_report_answer(api, r, err) : json_null();
    free(r);
    return o;
}

/* The study's live findings as GET .../findings lists them (findings.c's
 * finding_json, private there: same fields). */
static json_t *findings_record(const cs_api *api, const char *study, cs_error *err)
{
    cs_finding_rec *fs = NULL;
    size_t n = 0;
    if (cs_store_findings_list(api->store, study, false, &fs, &n, err) != CS_OK)
        return NULL;
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        const cs_finding_rec *f = &fs[i];
        json_t *o = json_pack("{s:I, s:I, s:I, s:s, s:s, s:i, s:b, s:s, s:I, s:s, s:I}", "id",
                              (json_int_t)f->id, "seq_from", (json_int_t)f->seq_from, "seq_to",
                              (json_int_t)f->seq_to, "type", f->type, "note", f->note, "version",
                              f->version, "deleted", f->deleted, "created_by", f->created_by,
                              "created_at_ms", (json_int_t)f->created_at_ms, "updated_by",
                              f->updated_by, "updated_at_ms", (json_int_t)f->updated_at_ms);
        json_object_set_new(o, "size_mm", f->size_mm >= 0 ? json_real(f->size_mm) : json_null());
        json_object_set_new(o, "segment", json_string(f->segment));
        json_object_set_new(o, "morphology", json_string(f->morphology));
        json_object_set_new(o, "count", json_integer(f->count > 0 ? f->count : 1));
        json_object_set_new(o, "suspected_cancer", json_boolean(f->suspected_cancer));
        json_array_append_new(arr, o);
    }
    free(fs);
    return arr;
}

cs_status cs_ws_record_json(const cs_api *api, const char *study, const char *base_url,
                            json_t **out, cs_error *err)
{
    cs_error e = {0};
    bool found = false;
    *out = NULL;
    json_t *st = cs_ws_study_json(api, study, &found, &e);
    if (!st && !found && e.code == CS_OK)
        return CS_OK; /* no such study */
    json_t *rep = st ? report_record(api, study, &e) : NULL;
    json_t *fs = rep ? findings_record(api, study, &e) : NULL;
    if (!fs) {
        json_decref(st);
        json_decref(rep);
        if (e.code == CS_OK)
            cs_error_set(&e, CS_ERR_NOMEM, "out of memory");
        if (err)
            *err = e;
        return e.code;
    }
    /* The frame lists are the viewer's, not the record's. */
    json_object_del(st, "bleeding_frames");
    json_object_del(st, "errors");
    json_t *kf = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(json_object_get(rep, "content"), "key_frames"), i, v)
    {
        if (!json_is_integer(v) || json_integer_value(v) < 0)
            continue;
        char url[160];
        snprintf(url, sizeof url, "/api/v1/studies/%s/frames/%" JSON_INTEGER_FORMAT ".jpg", study,
                 json_integer_value(v));
        json_array_append_new(kf,
                              json_pack("{s:I, s:s}", "seq", json_integer_value(v), "url", url));
    }
    *out = json_pack("{s:o, s:o, s:o, s:o}", "study", st, "report", rep, "findings", fs,
                     "key_frames", kf);
    if (*out && base_url && *base_url)
        json_object_set_new(*out, "base_url", json_string(base_url));
    return *out ? CS_OK : cs_error_set(err, CS_ERR_NOMEM, "out of memory");
}
