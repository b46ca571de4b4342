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

cs_status cs_session_init(cs_server *s, cs_error *err) CS_WARN_UNUSED;
void cs_session_free(cs_server *s);
enum MHD_Result cs_api_session(cs_server *s, struct MHD_Connection *c, cs_req *r);
enum MHD_Result cs_api_users(cs_server *s, struct MHD_Connection *c, cs_req *r);
enum MHD_Result cs_api_user(cs_server *s, struct MHD_Connection *c, cs_req *r);
/* Hash a password (argon2id, interactive limits) into out (CS_PWHASH_MAX).
 * Errors: CS_ERR_ARG (shorter than CS_PASSWORD_MIN or over 1024 bytes),
 * CS_ERR_NOMEM. */
#define CS_PASSWORD_MIN 10
cs_status cs_password_hash(const char *pw, char *out, cs_error *err) CS_WARN_UNUSED;
/* A user name: 1..63 of [a-z0-9._-], starting with a letter or digit. */
bool cs_user_name_ok(const char *name);

enum MHD_Result cs_api_worklist(cs_server *s, struct MHD_Connection *c, cs_req *r);
/* POST /api/v1/studies/{id}/assign */
enum MHD_Result cs_api_study_assign(cs_server *s, struct MHD_Connection *c, cs_req *r);
/* The workflow state of a study (docs/workstation.md) from its ingest
 * state (cs_api_study_json's "state") and its report state ("" = none). */
const char *cs_workflow_state(const char *ingest_state, const char *report_state);
enum MHD_Result cs_api_studies_create(cs_server *s, struct MHD_Connection *c, cs_req *r);
enum MHD_Result cs_api_study_get(cs_server *s, struct MHD_Connection *c, cs_req *r);
enum MHD_Result cs_api_study_revoke(cs_server *s, struct MHD_Connection *c, cs_req *r);
/* POST /api/v1/studies/{id}/close: no more data will come. 200 with the
 * study; 409 study_closed when it was closed already. */
enum MHD_Result cs_api_study_close(cs_server *s, struct MHD_Connection *c, cs_req *r);
enum MHD_Result cs_api_enrol(cs_server *s, struct MHD_Connection *c, cs_req *r);
/* The study's state and progress as JSON (new reference), or NULL with
 * *found false. */
json_t *cs_api_study_json(cs_server *s, const char *id, bool *found, cs_error *err);
/* The same from a study record already read; without `lists` the
 * bleeding_frames and errors lists (two queries) are left out. */
json_t *cs_api_study_rec_json(cs_server *s, const cs_study_rec *sr, bool lists, cs_error *err);
enum MHD_Result cs_events_handle(cs_server *s, struct MHD_Connection *c, cs_req *r);
enum MHD_Result cs_metrics_handle(cs_server *s, struct MHD_Connection *c, cs_req *r);
enum MHD_Result cs_health_handle(cs_server *s, struct MHD_Connection *c, cs_req *r);
enum MHD_Result cs_api_vocabulary(cs_server *s, struct MHD_Connection *c, cs_req *r);

/* Under /api/v1/studies/{id}/ for the workstation. */
/* frames (frames.c): index, JPEG, thumbnail (`thumb`). */
enum MHD_Result cs_ws_frame_index(cs_server *s, struct MHD_Connection *c, cs_req *r);
enum MHD_Result cs_ws_frame_image(cs_server *s, struct MHD_Connection *c, cs_req *r, uint64_t seq,
                                  bool thumb);

/* findings and marks (findings.c). fid < 0: the collection. */
enum MHD_Result cs_ws_findings(cs_server *s, struct MHD_Connection *c, cs_req *r, int64_t fid,
                               bool history);
enum MHD_Result cs_ws_marks(cs_server *s, struct MHD_Connection *c, cs_req *r);
/* kind "landmark" or "cleansing"; key the landmark kind or segment. */
enum MHD_Result cs_ws_mark_set(cs_server *s, struct MHD_Connection *c, cs_req *r, const char *kind,
                               const char *key);

/* the report (report.c). */
enum MHD_Result cs_ws_report(cs_server *s, struct MHD_Connection *c, cs_req *r);
enum MHD_Result cs_ws_report_sign(cs_server *s, struct MHD_Connection *c, cs_req *r);
enum MHD_Result cs_ws_report_html(cs_server *s, struct MHD_Connection *c, cs_req *r);

#endif
