/* routes.c - the route table: every route the server answers, with who
 * may call it. Add a route here and nowhere else (docs/server.md,
 * "Adding a route"). */
#include <string.h>

#include "server/api/api.h"
#include "server/audit/audit.h"
#include "server/media/media.h"
#include "server/router/router.h"

/* Who, per family of routes. The admin token may do what the admin role
 * may, except use a workstation session's own routes. */
#define ANY (CS_WHO_SESSIONS | CS_WHO_ADMIN_TOKEN)
#define ADMINS CS_WHO_ADMINS
#define IMAGES (CS_ROLES_IMAGES | CS_WHO_ADMIN_TOKEN)
#define EDIT CS_ROLES_EDIT
#define CLOSERS (CS_ROLE_COORDINATOR | CS_WHO_ADMINS)
#define STAFF CS_ROLES_ANY /* every session role: the care team's monitor */
#define STAFF_OR_ADMIN (CS_ROLES_ANY | CS_WHO_ADMIN_TOKEN)
/* Reader training (docs/training.md): trainees reach only these routes and
 * their session's. */
#define SESSION (ANY | CS_ROLES_TRAINING)
#define TRAINERS (CS_ROLE_TRAINER | CS_WHO_ADMINS)
#define TRAINING (CS_ROLES_TRAINING | CS_WHO_ADMINS)
#define UPLOADERS (CS_WHO_DEVICE | CS_WHO_ADMIN_TOKEN)
#define PUBLIC CS_WHO_PUBLIC

/* Whose handler a row calls. */
#define API(f)                  \
    {                           \
        CS_RL_API, { .api = f } \
    }
#define MEDIA(f)                    \
    {                               \
        CS_RL_MEDIA, { .media = f } \
    }
#define ROUTER(f)                     \
    {                                 \
        CS_RL_ROUTER, { .router = f } \
    }
#define TUS                        \
    {                              \
        CS_RL_TUS, { .api = NULL } \
    }

/* Adapters from the table's one handler shape to handlers that take the
 * path's parameters as arguments. */
static enum MHD_Result frame_jpeg(const cs_api *api, struct MHD_Connection *c, cs_req *r)
{
    return cs_ws_frame_image(api, c, r, r->num, false);
}
static enum MHD_Result frame_thumb(const cs_api *api, struct MHD_Connection *c, cs_req *r)
{
    return cs_ws_frame_image(api, c, r, r->num, true);
}
static enum MHD_Result findings(const cs_api *api, struct MHD_Connection *c, cs_req *r)
{
    return cs_ws_findings(api, c, r, -1, false);
}
static enum MHD_Result finding(const cs_api *api, struct MHD_Connection *c, cs_req *r)
{
    return cs_ws_findings(api, c, r, (int64_t)r->num, false);
}
static enum MHD_Result finding_history(const cs_api *api, struct MHD_Connection *c, cs_req *r)
{
    return cs_ws_findings(api, c, r, (int64_t)r->num, true);
}
static enum MHD_Result landmark(const cs_api *api, struct MHD_Connection *c, cs_req *r)
{
    return cs_ws_mark_set(api, c, r, "landmark", r->key);
}
static enum MHD_Result cleansing(const cs_api *api, struct MHD_Connection *c, cs_req *r)
{
    return cs_ws_mark_set(api, c, r, "cleansing", r->key);
}

/* GET /api/v1/routes: this table, for admins and for the tests that walk it. */
static enum MHD_Result routes_list(const cs_router *rt, struct MHD_Connection *c, cs_req *r)
{
    (void)rt;
    (void)r;
    json_t *arr = json_array();
    for (const cs_route_row *row = cs_routes; row->method; row++)
        json_array_append_new(
            arr, json_pack("{s:s, s:s, s:o, s:b, s:b, s:o, s:b}", "method", row->method, "pattern",
                           row->pattern, "who", cs_route_who_json(row->who), "csrf", row->csrf,
                           "patient_data", row->patient, "audit",
                           row->audit ? json_string(row->audit) : json_null(), "tus", row->tus));
    return cs_http_json(c, 200, json_pack("{s:o}", "routes", arr), false, NULL);
}

#define S "/api/v1/studies/{id}"
#define T "/api/v1/training"
const cs_route_row cs_routes[] = {
    /* method  pattern                         who      csrf   patient audit  tus  handler */
    {"GET", "/healthz", PUBLIC, false, false, NULL, false, API(cs_health_handle)},
    {"GET", "/metrics", PUBLIC, false, false, NULL, false, API(cs_metrics_handle)},
    {"GET", "/api/v1/vocabulary", PUBLIC, false, false, NULL, false, API(cs_api_vocabulary)},
    /* uploads (tus 1.0.0): hubs and scripts, never a browser session */
    {"OPTIONS", "/uploads", PUBLIC, false, false, NULL, true, TUS},
    {"POST", "/uploads", UPLOADERS, false, false, NULL, true, TUS},
    {"OPTIONS", "/uploads/{id}", PUBLIC, false, false, NULL, true, TUS},
    {"HEAD", "/uploads/{id}", UPLOADERS, false, false, NULL, true, TUS},
    {"PATCH", "/uploads/{id}", UPLOADERS, false, false, NULL, true, TUS},
    {"DELETE", "/uploads/{id}", UPLOADERS, false, false, NULL, true, TUS},
    /* devices and studies (the ingest side) */
    {"POST", "/api/v1/devices/enrol", PUBLIC, false, false, "device.enrol", false,
     API(cs_api_enrol)},
    {"POST", "/api/v1/studies", ADMINS, true, true, "study.create", false,
     API(cs_api_studies_create)},
    {"GET", S, ANY, false, true, NULL, false, API(cs_api_study_get)},
    {"GET", S "/events", ANY, false, true, NULL, false, API(cs_events_handle)},
    {"POST", S "/revoke-devices", ADMINS, true, true, "device.revoke", false,
     API(cs_api_study_revoke)},
    {"POST", S "/close", CLOSERS, true, true, "study.close", false, API(cs_api_study_close)},
    {"PUT", S "/patient", CLOSERS, true, true, NULL, false, API(cs_api_study_patient_put)},
    /* the live care loop (docs/care.md) */
    {"POST", "/api/v1/devices/status", CS_WHO_DEVICE, false, false, NULL, false,
     API(cs_api_device_status)},
    {"GET", S "/care", ANY, false, true, NULL, false, API(cs_api_care)},
    {"GET", S "/alerts", ANY, false, true, NULL, false, API(cs_api_alerts)},
    {"POST", S "/alerts/{n}/ack", STAFF, true, true, NULL, false, API(cs_api_alert_ack)},
    {"POST", S "/stage", STAFF, true, true, NULL, false, API(cs_api_stage)},
    {"GET", S "/latest.jpg", STAFF, false, true, NULL, false, API(cs_api_latest_image)},
    {"GET", "/api/v1/monitor", STAFF_OR_ADMIN, false, true, NULL, false, API(cs_api_monitor)},
    {"GET", "/api/v1/monitor/events", STAFF_OR_ADMIN, false, true, NULL, false,
     API(cs_monitor_events)},
    /* the patient's companion page: a patient code, its own study only. It
     * shows the patient's first name and feeds the report's bowel
     * preparation, so it is patient data: a wrong or expired code is
     * access.denied. Its handlers audit patient.read (once per code and
     * window: the page polls), patient.prep and patient.call. */
    {"GET", "/api/v1/patient", CS_WHO_PATIENT, false, true, NULL, false, API(cs_api_patient)},
    {"PUT", "/api/v1/patient/prep/{key}", CS_WHO_PATIENT, false, true, NULL, false,
     API(cs_api_patient_prep)},
    {"POST", "/api/v1/patient/call", CS_WHO_PATIENT, false, true, NULL, false,
     API(cs_api_patient_call)},
    /* accounts */
    {"POST", "/api/v1/session", PUBLIC, false, false, NULL, false, API(cs_api_session)},
    {"GET", "/api/v1/session", SESSION, false, false, NULL, false, API(cs_api_session)},
    {"DELETE", "/api/v1/session", SESSION, true, false, NULL, false, API(cs_api_session)},
    {"GET", "/api/v1/users", ADMINS, false, false, NULL, false, API(cs_api_users)},
    {"POST", "/api/v1/users", ADMINS, true, false, NULL, false, API(cs_api_users)},
    {"PUT", "/api/v1/users/{name}", ADMINS, true, false, NULL, false, API(cs_api_user)},
    {"GET", "/api/v1/audit", ADMINS, false, false, NULL, false, API(cs_api_audit)},
    {"GET", "/api/v1/routes", ADMINS, false, false, NULL, false, ROUTER(routes_list)},
    /* the reading workstation */
    {"GET", "/api/v1/worklist", ANY, false, true, NULL, false, API(cs_api_worklist)},
    {"POST", S "/assign", CLOSERS, true, true, NULL, false, API(cs_api_study_assign)},
    {"GET", S "/frames", IMAGES, false, true, NULL, false, API(cs_ws_frame_index)},
    {"GET", S "/frames/{n}.jpg", IMAGES, false, true, NULL, false, API(frame_jpeg)},
    {"GET", S "/frames/{n}/thumb.jpg", IMAGES, false, true, NULL, false, API(frame_thumb)},
    {"GET", S "/findings", IMAGES, false, true, "findings.read", false, API(findings)},
    {"POST", S "/findings", EDIT, true, true, NULL, false, API(findings)},
    {"PUT", S "/findings/{n}", EDIT, true, true, NULL, false, API(finding)},
    {"DELETE", S "/findings/{n}", EDIT, true, true, NULL, false, API(finding)},
    /* a finding's past versions (deleted notes too) are read like the list */
    {"GET", S "/findings/{n}/history", IMAGES, false, true, "findings.read", false,
     API(finding_history)},
    {"GET", S "/marks", IMAGES, false, true, NULL, false, API(cs_ws_marks)},
    {"PUT", S "/landmarks/{key}", EDIT, true, true, NULL, false, API(landmark)},
    {"DELETE", S "/landmarks/{key}", EDIT, true, true, NULL, false, API(landmark)},
    {"PUT", S "/cleansing/{key}", EDIT, true, true, NULL, false, API(cleansing)},
    {"GET", S "/report", IMAGES, false, true, "report.read", false, API(cs_ws_report)},
    {"PUT", S "/report", EDIT, true, true, NULL, false, API(cs_ws_report)},
    {"POST", S "/report/sign", CS_ROLE_CONSULTANT, true, true, NULL, false, API(cs_ws_report_sign)},
    {"POST", S "/report/addenda", EDIT, true, true, NULL, false, API(cs_ws_report_addendum)},
    {"GET", S "/report.html", IMAGES, false, true, NULL, false, API(cs_ws_report_html)},
    {"POST", S "/reading-time", EDIT, true, false, NULL, false, API(cs_api_reading_time)},
    {"GET", "/api/v1/stats/reading-time", CS_ROLE_CONSULTANT | CS_WHO_ADMINS, false, false, NULL,
     false, API(cs_api_reading_stats)},
    {"GET", S "/report.fhir.json", IMAGES, false, true, "report.export", false,
     API(cs_ws_report_fhir)},
    /* reader training: known-answer cases, blinded until submitted */
    {"GET", T "/courses", TRAINING, false, false, NULL, false, API(cs_api_training_courses)},
    {"POST", T "/courses", TRAINERS, true, false, NULL, false, API(cs_api_training_courses)},
    {"GET", T "/courses/{id}/cases", TRAINING, false, false, NULL, false,
     API(cs_api_training_cases)},
    {"POST", T "/courses/{id}/cases", TRAINERS, true, true, NULL, false,
     API(cs_api_training_cases)},
    {"GET", T "/cases/{id}/reference", TRAINING, false, false, NULL, false,
     API(cs_api_training_reference)},
    {"GET", T "/cases/{id}/frames", TRAINING, false, false, NULL, false,
     API(cs_api_training_frames)},
    {"GET", T "/cases/{id}/frames/{n}.jpg", TRAINING, false, false, NULL, false,
     API(cs_api_training_frame)},
    {"GET", T "/cases/{id}/frames/{n}/thumb.jpg", TRAINING, false, false, NULL, false,
     API(cs_api_training_thumb)},
    {"POST", T "/cases/{id}/attempt", CS_ROLE_TRAINEE, true, false, NULL, false,
     API(cs_api_training_attempt_open)},
    {"GET", T "/attempts/{n}", TRAINING, false, false, NULL, false, API(cs_api_training_attempt)},
    {"PUT", T "/attempts/{n}", CS_ROLE_TRAINEE, true, false, NULL, false,
     API(cs_api_training_attempt)},
    {"POST", T "/attempts/{n}/submit", CS_ROLE_TRAINEE, true, false, NULL, false,
     API(cs_api_training_submit)},
    {"GET", T "/progress", TRAINING, false, false, NULL, false, API(cs_api_training_progress)},
    {"GET", T "/progress.csv", TRAINERS, false, false, NULL, false,
     API(cs_api_training_progress_csv)},
    {"POST", S "/pacs", CS_ROLE_CONSULTANT | ADMINS, true, true, "pacs.export", false,
     API(cs_api_study_pacs)},
    /* the pages of web/: anything else outside /api and /uploads */
    {"GET", "*", PUBLIC, false, false, NULL, false, MEDIA(cs_static_handle)},
    {NULL, NULL, 0, false, false, NULL, false, TUS},
};
