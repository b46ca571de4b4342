/* store.h - the metadata store: studies, enrolment codes, devices, tus
 * uploads and per-frame triage results. One interface; SQLite (WAL, in
 * DATA/capscreen.db) is the backend today, and the calls are shaped so a
 * PostgreSQL backend can sit behind the same table of operations
 * (src/store/store_backend.h): no SQL or backend types leak out.
 *
 * Ownership: records are plain values the caller owns; lists returned as
 * arrays are malloc'd and freed by the caller with free(). Strings passed
 * in are copied. cs_store_close() accepts NULL.
 *
 * Threads: a cs_store may be shared by any number of threads; every call
 * is one atomic transaction (the SQLite backend serialises calls on one
 * connection with a mutex).
 *
 * Errors: CS_ERR_IO (database failure; the message carries the backend's
 * reason), CS_ERR_ARG (bad arguments), CS_ERR_NOMEM. "Not found" is not an
 * error: lookups report it through a `found` flag. The schema is created
 * and migrated by cs_store_open() (table schema_version). */
#ifndef CAPSCREEN_STORE_H
#define CAPSCREEN_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "capscreen/status.h"

#define CS_ID_MAX 48           /* study and upload ids, NUL included */
#define CS_HASH_HEX_MAX 65     /* hex of a 32-byte hash, NUL included */
#define CS_LABEL_MAX 256
#define CS_STORE_META_MAX 4097 /* raw Upload-Metadata, NUL included */
#define CS_STORE_SCHEMA_VERSION 1

typedef struct cs_store cs_store;

/* Open the store in `data_dir` (created if missing), migrate the schema. */
cs_status cs_store_open(const char *data_dir, cs_store **out, cs_error *err) CS_WARN_UNUSED;
void cs_store_close(cs_store *s);
/* A cheap query that proves the database answers (for /healthz). */
cs_status cs_store_ping(cs_store *s, cs_error *err) CS_WARN_UNUSED;

/* ---- studies, enrolment, devices --------------------------------------- */

typedef struct cs_study_rec {
    char id[CS_ID_MAX];
    char label[CS_LABEL_MAX];
    int64_t created_at;        /* unix seconds */
    int64_t code_expires_at;   /* unix seconds */
    int64_t code_used_at;      /* 0 = not used yet */
    uint64_t ingest_offset;    /* study-stream bytes the analysis has read */
    uint64_t next_seq;         /* frames the analysis has stored */
    int64_t first_byte_ms, last_byte_ms; /* first/last upload bytes, unix ms; 0 = none */
} cs_study_rec;

/* Create a study whose enrolment code hashes to `code_hash`. */
cs_status cs_store_study_create(cs_store *s, const cs_study_rec *rec, const char *code_hash,
                                cs_error *err) CS_WARN_UNUSED;
cs_status cs_store_study_get(cs_store *s, const char *id, bool *found, cs_study_rec *out,
                             cs_error *err) CS_WARN_UNUSED;

typedef enum cs_enrol_outcome {
    CS_ENROL_OK,
    CS_ENROL_UNKNOWN,  /* no such code */
    CS_ENROL_USED,     /* the code was exchanged before */
    CS_ENROL_EXPIRED,
} cs_enrol_outcome;

/* Exchange a code for a device: in one transaction, check the code, mark it
 * used and record the device's token hash. `study` (CS_ID_MAX) gets the
 * study id when the outcome is CS_ENROL_OK. */
cs_status cs_store_enrol(cs_store *s, const char *code_hash, const char *token_hash,
                         int64_t now, cs_enrol_outcome *outcome, char *study,
                         cs_error *err) CS_WARN_UNUSED;
/* The study of the unrevoked device whose token hashes to `token_hash`. */
cs_status cs_store_device_study(cs_store *s, const char *token_hash, bool *found,
                                char *study, cs_error *err) CS_WARN_UNUSED;
/* Revoke every device of `study`; *n gets how many were live. */
cs_status cs_store_devices_revoke(cs_store *s, const char *study, int64_t now, int *n,
                                  cs_error *err) CS_WARN_UNUSED;

/* ---- uploads ------------------------------------------------------------ */

typedef enum cs_upload_state {
    CS_UPLOAD_OPEN,
    CS_UPLOAD_COMPLETE,    /* offset == length */
    CS_UPLOAD_TERMINATED,  /* DELETE: closed, its bytes stay in the study */
    CS_UPLOAD_EXPIRED,     /* idle too long: closed, its bytes stay */
} cs_upload_state;

typedef struct cs_upload_rec {
    char id[CS_ID_MAX];
    char study[CS_ID_MAX];
    int64_t length;           /* -1 while deferred */
    uint64_t offset;          /* bytes stored, fsynced */
    cs_upload_state state;
    int64_t created_at, updated_at, expires_at; /* unix seconds */
    int64_t checksum_base;    /* offset before a checksummed PATCH in flight, else -1 */
    char metadata[CS_STORE_META_MAX];
} cs_upload_rec;

cs_status cs_store_upload_create(cs_store *s, const cs_upload_rec *rec, cs_error *err)
    CS_WARN_UNUSED;
cs_status cs_store_upload_get(cs_store *s, const char *id, bool *found, cs_upload_rec *out,
                              cs_error *err) CS_WARN_UNUSED;
/* Save length, offset, state, updated_at, expires_at, checksum_base. */
cs_status cs_store_upload_update(cs_store *s, const cs_upload_rec *rec, cs_error *err)
    CS_WARN_UNUSED;
/* Uploads of `study` (NULL: of every study) in creation order; only those
 * still open when `only_open`. *out is malloc'd (NULL when *n is 0). */
cs_status cs_store_upload_list(cs_store *s, const char *study, bool only_open,
                               cs_upload_rec **out, size_t *n, cs_error *err) CS_WARN_UNUSED;
/* Note that upload bytes arrived for `study` at `now_ms`. */
cs_status cs_store_study_touch(cs_store *s, const char *study, int64_t now_ms, cs_error *err)
    CS_WARN_UNUSED;

/* ---- per-frame results -------------------------------------------------- */

typedef struct cs_frame_rec {
    uint64_t seq;              /* 0-based position in the study */
    int64_t frame_index;       /* -1 unknown */
    int64_t capture_time_us;   /* -1 unknown */
    bool ok;
    const char *status;        /* cs_status_name() */
    const char *error;         /* reason when !ok, else NULL */
    float bleeding_probability;
    bool bleeding;
    const char *exposure;      /* cs_exposure_name(); NULL when !ok */
    float sharpness, visibility;
    bool readable, blurry;
    int width, height;
} cs_frame_rec;

/* Store one frame and move the study's analysis position to
 * (ingest_offset, seq + 1) in the same transaction, so a restart resumes
 * exactly after the last stored frame. */
cs_status cs_store_frame_add(cs_store *s, const char *study, const cs_frame_rec *f,
                             uint64_t ingest_offset, cs_error *err) CS_WARN_UNUSED;
/* Store f[0..n) (consecutive seqs) and move the study's analysis position
 * to (ingest_offset, f[n-1].seq + 1), all in one transaction: the live
 * analysis batches its frames this way (docs/server.md). n == 0 does
 * nothing. */
cs_status cs_store_frames_add(cs_store *s, const char *study, const cs_frame_rec *f, size_t n,
                              uint64_t ingest_offset, cs_error *err) CS_WARN_UNUSED;
/* Move the analysis position without a frame (a file header was read). */
cs_status cs_store_study_set_ingest(cs_store *s, const char *study, uint64_t ingest_offset,
                                    cs_error *err) CS_WARN_UNUSED;

typedef struct cs_study_counts {
    uint64_t frames, analysed, failed, readable, bleeding, too_dark, too_bright, blurry;
    int64_t last_capture_time_us;  /* -1 none */
    uint64_t bytes_received;
    int uploads, uploads_open;
} cs_study_counts;

cs_status cs_store_study_counts(cs_store *s, const char *study, cs_study_counts *out,
                                cs_error *err) CS_WARN_UNUSED;

typedef struct cs_frame_brief {
    uint64_t seq;
    int64_t frame_index, capture_time_us;
    float bleeding_probability;
    char status[32];
    char error[256];
} cs_frame_brief;

/* Up to `cap` frames of `study` in seq order: the bleeding ones, or the
 * failed ones when `errors`. *n gets how many were written. */
cs_status cs_store_study_frames(cs_store *s, const char *study, bool errors,
                                cs_frame_brief *out, size_t cap, size_t *n,
                                cs_error *err) CS_WARN_UNUSED;

/* Ids of studies whose uploads hold bytes the analysis has not read yet,
 * or that have an open upload: malloc'd array of CS_ID_MAX strings. */
cs_status cs_store_studies_pending(cs_store *s, char (**ids)[CS_ID_MAX], size_t *n,
                                   cs_error *err) CS_WARN_UNUSED;

#endif
