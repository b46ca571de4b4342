/* api_ws.h - the route handlers under /api/v1/studies/{id}/ that the
 * workstation uses, split by concern; api_worklist.c's cs_api_study_sub()
 * parses the sub-path and calls them. Each checks its own roles. */
#ifndef CS_SERVER_API_WS_H
#define CS_SERVER_API_WS_H

#include "server/server_internal.h"

/* frames (api_ws_frames.c): index, JPEG, thumbnail (`thumb`). */
enum MHD_Result cs_ws_frame_index(cs_server *s, struct MHD_Connection *c, cs_req *r);
enum MHD_Result cs_ws_frame_image(cs_server *s, struct MHD_Connection *c, cs_req *r,
                                  uint64_t seq, bool thumb);

/* findings and marks (api_ws_findings.c). fid < 0: the collection. */
enum MHD_Result cs_ws_findings(cs_server *s, struct MHD_Connection *c, cs_req *r, int64_t fid,
                               bool history);
enum MHD_Result cs_ws_marks(cs_server *s, struct MHD_Connection *c, cs_req *r);
/* kind "landmark" or "cleansing"; key the landmark kind or segment. */
enum MHD_Result cs_ws_mark_set(cs_server *s, struct MHD_Connection *c, cs_req *r,
                               const char *kind, const char *key);

/* the report (api_ws_report.c). */
enum MHD_Result cs_ws_report(cs_server *s, struct MHD_Connection *c, cs_req *r);
enum MHD_Result cs_ws_report_sign(cs_server *s, struct MHD_Connection *c, cs_req *r);
enum MHD_Result cs_ws_report_html(cs_server *s, struct MHD_Connection *c, cs_req *r);
/* "draft", "read", "signed", or "" when the study has none. */
cs_status cs_ws_report_state(cs_server *s, const char *study, char *state, size_t cap,
                             cs_error *err) CS_WARN_UNUSED;

/* The study's JSON (cs_api_study_json) plus workflow_state,
 * assigned_reader and report_state; NULL with *found false when none. */
json_t *cs_ws_study_json(cs_server *s, const char *id, bool *found, cs_error *err);

/* The answer for a study that does not exist (404) or a store failure
 * (503); true when it answered. */
bool cs_ws_need_study(cs_server *s, struct MHD_Connection *c, const char *study,
                      enum MHD_Result *ret);
/* Answer a change outcome other than OK; true when it answered. */
bool cs_ws_change_failed(cs_server *s, struct MHD_Connection *c, cs_change_outcome out,
                         const char *what, enum MHD_Result *ret);
/* Answer 405 with Allow. */
enum MHD_Result cs_ws_bad_method(cs_server *s, struct MHD_Connection *c, const cs_req *r,
                                 const char *allow);

#endif
