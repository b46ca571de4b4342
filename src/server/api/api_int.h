/* api_int.h - what the API layer's files share and no other layer may
 * include: study JSON for the workstation, report state, and the common
 * answers (no such study, a refused change). */
#ifndef CS_SERVER_API_INT_H
#define CS_SERVER_API_INT_H

#include "server/api/api.h"
#include "server/audit/audit.h"
#include "server/auth/auth.h"
#include "server/care/care.h"
#include "server/ingest/ingest.h"

/* "draft", "read", "signed", or "" when the study has none. */
cs_status cs_ws_report_state(const cs_api *api, const char *study, char *state, size_t cap,
                             cs_error *err) CS_WARN_UNUSED;

/* The study's JSON (cs_api_study_json) plus workflow_state,
 * assigned_reader and report_state; NULL with *found false when none. */
json_t *cs_ws_study_json(const cs_api *api, const char *id, bool *found, cs_error *err);

/* GET .../report's answer for a stored report: the report, its `derived`
 * fields and its addenda (new reference); NULL (err set) on a store
 * failure (report.c). */
json_t *cs_ws_report_answer(const cs_api *api, const cs_report_rec *rep, cs_error *err);

/* The study's record JSON (docs/clinical-record.md, "The record JSON"):
 * {"study", "report" (null when none), "findings", "key_frames",
 * "base_url" (when base_url is non-empty)}, a new reference in *out. A
 * study that does not exist: CS_OK with *out NULL. Errors: the store's,
 * CS_ERR_NOMEM (record.c). */
cs_status cs_ws_record_json(const cs_api *api, const char *study, const char *base_url,
                            json_t **out, cs_error *err) CS_WARN_UNUSED;
/* The study's PACS export as the `pacs` object of GET /api/v1/studies/{id}
 * (docs/api.md; pacs_api.c): new reference, NULL on a store error. */
json_t *cs_ws_pacs_json(const cs_api *api, const char *study, cs_error *err);
/* A report was just signed: queue its export when a PACS is configured
 * (a failure to queue is logged and audited, never undoes the signature). */
void cs_ws_pacs_on_sign(const cs_api *api, const cs_auth *a, const char *study);

/* The answer for a study that does not exist (404) or a store failure
 * (503); true when it answered. */
/* The protocol's prep schedule with the patient's ticks: [{"id", "day",
 * "time", "text", "done_at_ms"}] (new reference), NULL on a store error. */
json_t *cs_ws_prep_json(const cs_api *api, const char *study, const cs_protocol *p, cs_error *err);

/* The same, with the study's record in *sr when it exists. */
bool cs_ws_read_study(const cs_api *api, struct MHD_Connection *c, const char *study,
                      cs_study_rec *sr, enum MHD_Result *ret);
bool cs_ws_need_study(const cs_api *api, struct MHD_Connection *c, const char *study,
                      enum MHD_Result *ret);
/* Answer a change outcome other than OK; true when it answered. */
bool cs_ws_change_failed(const cs_api *api, struct MHD_Connection *c, cs_change_outcome out,
                         const char *what, enum MHD_Result *ret);

/* Whether frame `seq` of `study` failed analysis (a damaged or
 * undecodable record: no image, so nobody can have read it there); false
 * for a frame not stored. (findings.c) */
cs_status cs_ws_frame_failed(const cs_api *api, const char *study, uint64_t seq, bool *failed,
                             cs_error *err) CS_WARN_UNUSED;

/* Does any current finding of the study carry the suspected-cancer mark
 * (the worklist's urgent flag)? (findings.c) */
cs_status cs_ws_suspected_cancer(const cs_api *api, const char *study, bool *any,
                                 cs_error *err) CS_WARN_UNUSED;

/* The study's frame index as GET .../frames answers it (frames.c); NULL
 * on a store error. *frames gets the count. */
json_t *cs_ws_frame_index_json(const cs_api *api, const char *study, uint64_t *frames,
                               cs_error *err);

/* The study's reading time: {"total_s", "by_reader": [{"reader", "view",
 * "seconds"}]} (reading_api.c); NULL on a store error. */
json_t *cs_ws_reading_json(const cs_api *api, const char *study, cs_error *err);
/* The same from rows already read (cs_store_reading_list); never NULL but
 * out of memory. */
json_t *cs_ws_reading_json_of(const cs_reading_rec *v, size_t n);
/* cs_api_study_rec_json with the study's counters already read (the
 * worklist reads every study's at once: cs_store_worklist_facts). */
json_t *cs_api_study_json_counted(const cs_api *api, const cs_study_rec *sr,
                                  const cs_study_counts *n, bool lists, cs_error *err);

/* ---- the patient and the episode (patient_details.c) ---- */

/* Parse body.patient and body.episode (each optional; null = none) into
 * *p and *e (zeroed first). false when it answered 400/422: a bad type or
 * value names the field; an invalid NHS number is 422 invalid_nhs_number,
 * an implausible date of birth 422 invalid_birth_date. */
bool cs_ws_patient_parse(const cs_api *api, struct MHD_Connection *c, json_t *body,
                         cs_patient_rec *p, cs_episode_rec *e, enum MHD_Result *ret);
/* Does the study carry a patient? */
bool cs_ws_has_patient(const cs_study_rec *sr);
/* The patient / episode objects of docs/clinical-record.md, or JSON null. */
json_t *cs_ws_patient_json(const cs_study_rec *sr);
json_t *cs_ws_episode_json(const cs_study_rec *sr);
/* Record that `a` was shown the study's patient details (`what` says
 * where: "study", "worklist", "report"). */
void cs_ws_audit_patient_read(const cs_api *api, const cs_auth *a, const char *study,
                              const char *what);

#endif
