/* store_backend.h - the table of operations a metadata-store backend
 * implements (store.h documents each call); store.c dispatches to it.
 * Backends: store_sqlite.c. A PostgreSQL backend adds a file and a case in
 * cs_store_open(). */
#ifndef CS_STORE_BACKEND_H
#define CS_STORE_BACKEND_H

#include "capscreen/store.h"

typedef struct cs_store_ops {
    void (*close)(cs_store *s);
    cs_status (*ping)(cs_store *s, cs_error *err);
    cs_status (*study_create)(cs_store *s, const cs_study_rec *rec, const char *code_hash,
                              cs_error *err);
    cs_status (*study_get)(cs_store *s, const char *id, bool *found, cs_study_rec *out,
                           cs_error *err);
    cs_status (*enrol)(cs_store *s, const char *code_hash, const char *token_hash, int64_t now,
                       cs_enrol_outcome *outcome, char *study, cs_error *err);
    cs_status (*device_study)(cs_store *s, const char *token_hash, bool *found, char *study,
                              cs_error *err);
    cs_status (*devices_revoke)(cs_store *s, const char *study, int64_t now, int *n,
                                cs_error *err);
    cs_status (*upload_create)(cs_store *s, const cs_upload_rec *rec, cs_error *err);
    cs_status (*upload_get)(cs_store *s, const char *id, bool *found, cs_upload_rec *out,
                            cs_error *err);
    cs_status (*upload_update)(cs_store *s, const cs_upload_rec *rec, cs_error *err);
    cs_status (*upload_list)(cs_store *s, const char *study, bool only_open,
                             cs_upload_rec **out, size_t *n, cs_error *err);
    cs_status (*study_touch)(cs_store *s, const char *study, int64_t now_ms, cs_error *err);
    cs_status (*frames_add)(cs_store *s, const char *study, const cs_frame_rec *f, size_t n,
                            uint64_t ingest_offset, cs_error *err);
    cs_status (*study_set_ingest)(cs_store *s, const char *study, uint64_t ingest_offset,
                                  cs_error *err);
    cs_status (*study_counts)(cs_store *s, const char *study, cs_study_counts *out,
                              cs_error *err);
    cs_status (*study_frames)(cs_store *s, const char *study, bool errors, cs_frame_brief *out,
                              size_t cap, size_t *n, cs_error *err);
    cs_status (*studies_pending)(cs_store *s, char (**ids)[CS_ID_MAX], size_t *n,
                                 cs_error *err);
} cs_store_ops;

/* Every backend's handle starts with this. */
struct cs_store {
    const cs_store_ops *ops;
};

cs_status cs_store_sqlite_open(const char *data_dir, cs_store **out, cs_error *err);

#endif
