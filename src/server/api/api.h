/* api.h - the API layer: the handlers of /api/v1 (studies, devices,
 * sessions and users, the worklist, frames, findings, marks, the report,
 * events, vocabulary) and /healthz, /metrics. Each handler runs after the
 * router let the caller in: it reads the caller from r->auth and the path
 * parameters from r. Private to this layer: api_int.h.
 *
 * Threads: any connection thread. Errors: answered as JSON (docs/api.md). */
#ifndef CS_SERVER_API_H
#define CS_SERVER_API_H

#include "server/transport/http.h"

typedef struct cs_audit_log cs_audit_log;
typedef struct cs_auth_ctx cs_auth_ctx;
typedef struct cs_care cs_care;
typedef struct cs_id_set cs_id_set;
typedef struct cs_ingest cs_ingest;
typedef struct cs_login_limiter cs_login_limiter;
typedef struct cs_media cs_media;
typedef struct cs_pacs cs_pacs;

/* What the API layer works with; filled by server.c (the pointers, all
 * outliving it) and cs_api_init (the dummy hash); read-only while
 * requests run. */
typedef struct cs_api {
    const cs_server_config *cfg;
    cs_store *store;
    cs_metrics *metrics;
    cs_signals *signals;               /* event streams wait here; revocations, logouts move it */
    cs_audit_log *audit;               /* who did what */
    const cs_auth_ctx *auth;           /* event streams re-check their session */
    cs_ingest *ingest;                 /* live counts; a close wakes the analysis */
    const cs_media *media;             /* frame images, for the viewer and the report */
    cs_care *care;                     /* hub status, alerts, stage (docs/care.md) */
    cs_login_limiter *limiter;         /* failed logins (shared with the audit log) */
    cs_pacs *pacs;                     /* the PACS export queue (docs/pacs.md) */
    cs_id_set *clinical_studies;       /* studies the gate found clinical (NULL: none kept) */
    bool tls;                          /* HTTPS: cookies get Secure */
    char dummy_pw_hash[CS_PWHASH_MAX]; /* checked for unknown users */
} cs_api;

/* Make the dummy password hash. Errors: CS_ERR_NOMEM. */
cs_status cs_api_init(cs_api *api, cs_error *err) CS_WARN_UNUSED;
enum MHD_Result cs_api_session(const cs_api *api, struct MHD_Connection *c, cs_req *r);
enum MHD_Result cs_api_users(const cs_api *api, struct MHD_Connection *c, cs_req *r);
enum MHD_Result cs_api_user(const cs_api *api, struct MHD_Connection *c, cs_req *r);

enum MHD_Result cs_api_worklist(const cs_api *api, struct MHD_Connection *c, cs_req *r);
/* The router's check before any /api/v1/studies/{id} route: a training
 * study (cs_study_rec.training, a case imported with `study import
 * --course`) is no patient's study and is read only through the training
 * routes, so it answers 409 training_study (503 when the store fails).
 * A study found clinical is remembered in api->clinical_studies (a
 * study's purpose never changes and studies are not deleted), so a
 * frame's 304 costs no store read.
 * Returns true with *ret set when it answered; false (an unknown study
 * too: the handler's 404) to go on. */
bool cs_api_study_gate(const cs_api *api, struct MHD_Connection *c, const cs_req *r,
                       enum MHD_Result *ret);
/* POST /api/v1/studies/{id}/assign */
enum MHD_Result cs_api_study_assign(const cs_api *api, struct MHD_Connection *c, cs_req *r);
/* The workflow state of a study (docs/workstation.md) from its ingest
 * state (cs_api_study_json's "state") and its report state ("" = none). */
const char *cs_workflow_state(const char *ingest_state, const char *report_state);
enum MHD_Result cs_api_studies_create(const cs_api *api, struct MHD_Connection *c, cs_req *r);
/* Reader training (training_api.c, docs/training.md). */
enum MHD_Result cs_api_training_courses(const cs_api *api, struct MHD_Connection *c, cs_req *r);
enum MHD_Result cs_api_training_cases(const cs_api *api, struct MHD_Connection *c, cs_req *r);
enum MHD_Result cs_api_training_reference(const cs_api *api, struct MHD_Connection *c, cs_req *r);
enum MHD_Result cs_api_training_frames(const cs_api *api, struct MHD_Connection *c, cs_req *r);
enum MHD_Result cs_api_training_frame(const cs_api *api, struct MHD_Connection *c, cs_req *r);
enum MHD_Result cs_api_training_thumb(const cs_api *api, struct MHD_Connection *c, cs_req *r);
enum MHD_Result cs_api_training_attempt_open(const cs_api *api, struct MHD_Connection *c,
                                             cs_req *r);
enum MHD_Result cs_api_training_attempt(const cs_api *api, struct MHD_Connection *c, cs_req *r);
enum MHD_Result cs_api_training_submit(const cs_api *api, struct MHD_Connection *c, cs_req *r);
enum MHD_Result cs_api_training_progress(const cs_api *api, struct MHD_Connection *c, cs_req *r);
enum MHD_Result cs_api_training_progress_csv(const cs_api *api, struct MHD_Connection *c,
                                             cs_req *r);
/* Reading time (reading_api.c). */
enum MHD_Result cs_api_reading_time(const cs_api *api, struct MHD_Connection *c, cs_req *r);
enum MHD_Result cs_api_reading_stats(const cs_api *api, struct MHD_Connection *c, cs_req *r);
/* PUT /api/v1/studies/{id}/patient: correct the patient and episode. */
enum MHD_Result cs_api_study_patient_put(const cs_api *api, struct MHD_Connection *c, cs_req *r);
enum MHD_Result cs_api_study_get(const cs_api *api, struct MHD_Connection *c, cs_req *r);
enum MHD_Result cs_api_study_revoke(const cs_api *api, struct MHD_Connection *c, cs_req *r);
/* POST /api/v1/studies/{id}/close: no more data will come. 200 with the
 * study; 409 study_closed when it was closed already. */
enum MHD_Result cs_api_study_close(const cs_api *api, struct MHD_Connection *c, cs_req *r);
enum MHD_Result cs_api_enrol(const cs_api *api, struct MHD_Connection *c, cs_req *r);
/* The study's state and progress as JSON (new reference), or NULL with
 * *found false. */
json_t *cs_api_study_json(const cs_api *api, const char *id, bool *found, cs_error *err);
/* The same from a study record already read; without `lists` the
 * bleeding_frames and errors lists (two queries) are left out. */
json_t *cs_api_study_rec_json(const cs_api *api, const cs_study_rec *sr, bool lists, cs_error *err);
enum MHD_Result cs_events_handle(const cs_api *api, struct MHD_Connection *c, cs_req *r);
enum MHD_Result cs_metrics_handle(const cs_api *api, struct MHD_Connection *c, cs_req *r);
enum MHD_Result cs_health_handle(const cs_api *api, struct MHD_Connection *c, cs_req *r);
enum MHD_Result cs_api_audit(const cs_api *api, struct MHD_Connection *c, cs_req *r);
enum MHD_Result cs_api_vocabulary(const cs_api *api, struct MHD_Connection *c, cs_req *r);

/* Under /api/v1/studies/{id}/ for the workstation. */
/* frames (frames.c): index, JPEG, thumbnail (`thumb`). */
enum MHD_Result cs_ws_frame_index(const cs_api *api, struct MHD_Connection *c, cs_req *r);
enum MHD_Result cs_ws_frame_image(const cs_api *api, struct MHD_Connection *c, cs_req *r,
                                  uint64_t seq, bool thumb);

/* findings and marks (findings.c). fid < 0: the collection. */
enum MHD_Result cs_ws_findings(const cs_api *api, struct MHD_Connection *c, cs_req *r, int64_t fid,
                               bool history);
enum MHD_Result cs_ws_marks(const cs_api *api, struct MHD_Connection *c, cs_req *r);
/* kind "landmark" or "cleansing"; key the landmark kind or segment. */
enum MHD_Result cs_ws_mark_set(const cs_api *api, struct MHD_Connection *c, cs_req *r,
                               const char *kind, const char *key);

/* the live care loop (care_api.c, docs/care.md). */
enum MHD_Result cs_api_device_status(const cs_api *api, struct MHD_Connection *c, cs_req *r);
enum MHD_Result cs_api_alerts(const cs_api *api, struct MHD_Connection *c, cs_req *r);
enum MHD_Result cs_api_alert_ack(const cs_api *api, struct MHD_Connection *c, cs_req *r);
enum MHD_Result cs_api_care(const cs_api *api, struct MHD_Connection *c, cs_req *r);
enum MHD_Result cs_api_stage(const cs_api *api, struct MHD_Connection *c, cs_req *r);
/* The care team's monitor: every live study as a tile (docs/care.md). */
json_t *cs_api_monitor_json(const cs_api *api, cs_error *err);
enum MHD_Result cs_api_monitor(const cs_api *api, struct MHD_Connection *c, cs_req *r);
enum MHD_Result cs_monitor_events(const cs_api *api, struct MHD_Connection *c, cs_req *r);
enum MHD_Result cs_api_latest_image(const cs_api *api, struct MHD_Connection *c, cs_req *r);
/* The patient's companion page (patient_api.c). */
enum MHD_Result cs_api_patient(const cs_api *api, struct MHD_Connection *c, cs_req *r);
enum MHD_Result cs_api_patient_prep(const cs_api *api, struct MHD_Connection *c, cs_req *r);
enum MHD_Result cs_api_patient_call(const cs_api *api, struct MHD_Connection *c, cs_req *r);
/* the report (report.c). */
enum MHD_Result cs_ws_report(const cs_api *api, struct MHD_Connection *c, cs_req *r);
enum MHD_Result cs_ws_report_sign(const cs_api *api, struct MHD_Connection *c, cs_req *r);
enum MHD_Result cs_ws_report_html(const cs_api *api, struct MHD_Connection *c, cs_req *r);
/* GET .../report.fhir.json: the record as a FHIR R4 Bundle (fhir_api.c). */
enum MHD_Result cs_ws_report_fhir(const cs_api *api, struct MHD_Connection *c, cs_req *r);
/* POST .../pacs: queue the signed study's key frames for the PACS (pacs_api.c). */
enum MHD_Result cs_api_study_pacs(const cs_api *api, struct MHD_Connection *c, cs_req *r);
enum MHD_Result cs_ws_report_addendum(const cs_api *api, struct MHD_Connection *c, cs_req *r);

#endif
