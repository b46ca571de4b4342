/* studies.h - creating and importing studies: shared by the
 * admin API (studies_api.c) and the `capscreen study` command.
 *
 * Threads: as the store (any thread). Errors: the store's. */
#ifndef CS_SERVER_STUDIES_H
#define CS_SERVER_STUDIES_H

#include "capscreen/store.h"
#include "server/auth/tokens.h"

/* A patient code opens the study's companion page for this long at most
 * (and only while the study is open). */
#define CS_PATIENT_CODE_TTL_S (14 * 86400)

/* Create a study labelled `label` (may be NULL), of the patient `p` for the
 * episode `e` (each may be NULL: none; checked by the caller), with a fresh enrolment code
 * valid for `code_ttl_s` seconds and a patient code for the companion page
 * (CS_PATIENT_CODE_TTL_S). `id` (CS_ID_MAX), `code` and `patient_code`
 * (CS_CODE_LEN + 1 each; patient_code may be NULL: none is made) get the
 * new values; only the codes' hashes are stored.
 * Errors: CS_ERR_ARG (label over CS_LABEL_MAX - 1 bytes), store errors. */
cs_status cs_study_create(cs_store *st, const char *label, const cs_patient_rec *p,
                          const cs_episode_rec *e, int64_t code_ttl_s, char *id, char *code,
                          int64_t *code_expires_at, char *patient_code,
                          cs_error *err) CS_WARN_UNUSED;
/* Import the frame-stream file at `path` as a new study labelled `label`:
 * the file is copied (and fsynced) into DATA/uploads/ as one complete
 * upload, so the server analyses it like a streamed study (at its start,
 * or within a sweep interval when it runs). `id` (CS_ID_MAX) gets the
 * study id. `training`: the study is a training case's frames, of no
 * patient (cs_study_rec.training: never on the worklist, refused by the
 * study routes); else a clinical study without a patient (a demo).
 * Errors: CS_ERR_IO (the file or the data folder), store errors; on error
 * no upload is left behind (the study row may remain, empty). */
cs_status cs_study_import(cs_store *st, const char *data_dir, const char *label, const char *path,
                          bool training, char *id, cs_error *err) CS_WARN_UNUSED;

#endif
