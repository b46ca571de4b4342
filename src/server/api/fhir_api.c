/* fhir_api.c - GET /api/v1/studies/{id}/report.fhir.json: the study's
 * clinical record as a FHIR R4 Bundle (export/fhir.h), for the hospital's
 * record (docs/clinical-record.md, "FHIR R4 export"). The route row audits
 * every answer as report.export; an answer that names the patient is
 * audited as patient.read too, as every answer holding patient details is. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/api/api_int.h"
#include "server/export/fhir.h"

/* The configured public_url (checked on input), so the same record gives
 * the same Bundle however it was asked for; without one "<scheme>://<Host>"
 * from the request, so Media URLs point back at this server as the
 * client reached it ("" when the Host header is missing or holds
 * anything but a host name, an IP literal and a port). */
static void base_url_of(const cs_api *api, struct MHD_Connection *c, char *out, size_t cap)
{
    if (api->cfg->public_url[0]) {
        snprintf(out, cap, "%s", api->cfg->public_url);
        return;
    }
    const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host");
    out[0] = '\0';
    if (!host || !*host || strlen(host) > 255)
        return;
    for (const char *p = host; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              strchr(".-:[]", *p)))
            return;
    snprintf(out, cap, "%s://%s", api->tls ? "https" : "http", host);
}

enum MHD_Result cs_ws_report_fhir(const cs_api *api, struct MHD_Connection *c, cs_req *r)
{
    cs_error e = {0};
    char base[CS_CFG_STR]; /* public_url, or a scheme and a Host of 255 bytes at most */
    json_t *rec = NULL, *bundle = NULL;
    base_url_of(api, c, base, sizeof base);
    if (cs_ws_record_json(api, r->id, base, &rec, &e) != CS_OK)
        return cs_http_error(api->metrics, c, 503, false, "store_unavailable", "%s", e.msg);
    if (!rec)
        return cs_http_error(api->metrics, c, 404, false, "unknown_study", "no study '%s'", r->id);
    if (json_is_null(json_object_get(rec, "report"))) {
        json_decref(rec);
        return cs_http_error(api->metrics, c, 404, false, "no_report",
                             "study '%s' has no report yet", r->id);
    }
    cs_status st = cs_fhir_bundle(rec, NULL, &bundle, &e);
    bool has_patient = json_is_object(json_object_get(json_object_get(rec, "study"), "patient"));
    json_decref(rec);
    if (st != CS_OK)
        return cs_http_error(api->metrics, c, 500, false, "export_failed", "%s", e.msg);
    char *body = json_dumps(bundle, JSON_INDENT(1));
    json_decref(bundle);
    if (!body)
        return MHD_NO;
    if (has_patient)
        cs_ws_audit_patient_read(api, &r->auth, r->id, "FHIR export");
    const char *hd[] = {"Cache-Control", "no-store", NULL};
    return cs_http_bytes(c, 200, "application/fhir+json", body, strlen(body), true, hd);
}
