/* pacs_api.c - the study's export to the PACS over HTTP (docs/pacs.md):
 * POST /api/v1/studies/{id}/pacs queues it on demand, signing queues it
 * (report.c calls cs_ws_pacs_on_sign), and GET /api/v1/studies/{id}
 * shows it as its `pacs` object. The sending is the export layer's
 * (server/export/pacs.h). */
#include <stdio.h>
#include <string.h>

#include "server/api/api_int.h"
#include "server/export/pacs.h"

/* Who asked, for the queue: the user, or the admin token. */
static const char *requester(const cs_auth *a) { return a->user[0] ? a->user : "admin_token"; }

json_t *cs_ws_pacs_json(const cs_api *api, const char *study, cs_error *err)
{
    cs_pacs_export_rec x;
    bool found = false;
    if (cs_store_pacs_get(api->store, study, &found, &x, err) != CS_OK)
        return NULL;
    json_t *o = json_pack("{s:b}", "configured", cs_pacs_configured(api->pacs));
    if (!found) {
        json_object_set_new(o, "state", json_null());
        return o;
    }
    json_t *more = json_pack(
        "{s:s, s:I, s:s, s:i, s:I, s:s, s:i, s:I}", "state", x.state, "requested_at_ms",
        (json_int_t)x.requested_at_ms, "requested_by", x.requested_by, "attempts", x.attempts,
        "next_attempt_ms", (json_int_t)x.next_attempt_ms, "last_error", x.last_error,
        "instances_sent", x.instances_sent, "sent_at_ms", (json_int_t)x.sent_at_ms);
    json_object_update(o, more);
    json_decref(more);
    if (!x.sent_at_ms)
        json_object_set_new(o, "sent_at_ms", json_null());
    return o;
}

void cs_ws_pacs_on_sign(const cs_api *api, const cs_auth *a, const char *study)
{
    cs_error e = {0};
    cs_check_outcome out;
    bool queued = false;
    if (cs_pacs_enqueue(api->pacs, study, requester(a), &queued, &out, &e) != CS_OK) {
        /* The signature stands; the export can be asked for again. */
        fprintf(stderr, "capscreen: pacs: cannot queue the export of %s: %s\n", study, e.msg);
        cs_audit(api->audit, a, "pacs.export_failed", study, "%s", e.msg);
    } else if (queued) {
        cs_audit(api->audit, a, "pacs.export", study, "queued on signing");
    }
}

/* POST /api/v1/studies/{id}/pacs: 202 with the `pacs` object; 409
 * pacs_not_configured, 409 report_not_signed, 404 unknown_study. */
enum MHD_Result cs_api_study_pacs(const cs_api *api, struct MHD_Connection *c, cs_req *r)
{
    enum MHD_Result ret;
    cs_error e = {0};
    char state[16] = "";
    cs_check_outcome out = CS_CHECK_OK;
    if (!cs_pacs_configured(api->pacs))
        return cs_http_error(api->metrics, c, 409, false, "pacs_not_configured",
                             "no PACS is configured (the server's pacs setting, docs/pacs.md)");
    if (cs_ws_need_study(api, c, r->id, &ret))
        return ret;
    if (cs_ws_report_state(api, r->id, state, sizeof state, &e) != CS_OK)
        return cs_http_error(api->metrics, c, 503, false, "store_unavailable", "%s", e.msg);
    if (strcmp(state, "signed") != 0)
        return cs_http_error(api->metrics, c, 409, false, "report_not_signed",
                             "only a signed report's key frames go to the PACS; sign it first");
    if (cs_pacs_enqueue(api->pacs, r->id, requester(&r->auth), NULL, &out, &e) != CS_OK)
        return cs_http_error(api->metrics, c, 503, false, "store_unavailable", "%s", e.msg);
    if (out == CS_CHECK_NOT_FOUND)
        return cs_http_error(api->metrics, c, 404, false, "unknown_study", "no study '%s'", r->id);
    json_t *o = cs_ws_pacs_json(api, r->id, &e);
    if (!o)
        return cs_http_error(api->metrics, c, 503, false, "store_unavailable", "%s", e.msg);
    return cs_http_json(c, 202, json_pack("{s:s, s:o}", "study", r->id, "pacs", o), false, NULL);
}
