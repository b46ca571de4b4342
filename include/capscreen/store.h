/* store.h - the metadata store: studies, enrolment codes, devices, tus
 * uploads and per-frame triage results. One interface, two backends
 * behind one table of operations (src/store/store_backend.h): SQLite (WAL,
 * in DATA/capscreen.db; the default) and PostgreSQL (libpq, chosen by a
 * postgresql:// URL). No SQL or backend types leak out.
 *
 * Ownership: records are plain values the caller owns; lists returned as
 * arrays are malloc'd and freed by the caller with free(). Strings passed
 * in are copied. cs_store_close() accepts NULL.
 *
 * Threads: a cs_store may be shared by any number of threads; every call
 * is one atomic transaction (each backend serialises calls on one
 * connection with a mutex). On PostgreSQL several processes may share the
 * database: the checks made in a transaction hold across them
 * (src/store/store_pg.h says how).
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

#define CS_ID_MAX 48       /* study and upload ids, NUL included */
#define CS_HASH_HEX_MAX 65 /* hex of a 32-byte hash, NUL included */
#define CS_LABEL_MAX 256
#define CS_STORE_META_MAX 4097 /* raw Upload-Metadata, NUL included */
#define CS_USER_MAX 64         /* user names, NUL included */
#define CS_ROLE_MAX 16         /* role names, NUL included */
#define CS_PWHASH_MAX 128      /* an argon2id hash string (crypto_pwhash_STRBYTES) */
#define CS_IP_MAX 64           /* a client address as text */
#define CS_NOTE_MAX 2048       /* a finding's note, NUL included */
#define CS_REPORT_MAX 16384    /* a report's content (JSON text), NUL included */
#define CS_DETAIL_MAX 512      /* an audit entry's detail, NUL included */
#define CS_STORE_SCHEMA_VERSION \
    14 /* 8: reading time; 9: report addenda; 10: several servers;
                                      11: polyp operating points; 12: training studies;
                                      13: an index of open alerts; 14: marks' first time */

typedef struct cs_store cs_store;

/* Open the store and create or migrate its schema. `db` empty or NULL:
 * SQLite in `data_dir`; a postgresql:// or postgres:// URL (libpq's form:
 * host, port, database, user, options; the password best from ~/.pgpass
 * or PGPASSFILE): that database, whose tables are created in the
 * connection's schema. Either way `data_dir` (may be NULL with a URL) is
 * created if missing: the study files live there. Errors: CS_ERR_ARG (no
 * folder, db not such a URL), CS_ERR_IO (cannot connect or migrate: the
 * backend's reason), CS_ERR_UNSUPPORTED (a schema newer than this
 * program). */
cs_status cs_store_open_db(const char *db, const char *data_dir, cs_store **out,
                           cs_error *err) CS_WARN_UNUSED;
/* cs_store_open_db() with `location` a postgresql:// URL, else a data
 * folder for SQLite. */
cs_status cs_store_open(const char *location, cs_store **out, cs_error *err) CS_WARN_UNUSED;
/* Whether `s` is a postgresql:// or postgres:// URL. */
bool cs_store_is_pg_url(const char *s);
void cs_store_close(cs_store *s);
/* A cheap query that proves the database answers (for /healthz). */
cs_status cs_store_ping(cs_store *s, cs_error *err) CS_WARN_UNUSED;

/* ---- studies, enrolment, devices --------------------------------------- */

/* Schema 5: who the study is of and why it was done (docs/clinical-record.md).
 * Checked by the API (server/core/patient.h) before it reaches the store;
 * all "" when the study has no patient (a demo, an import). */
typedef struct cs_patient_rec {
    char nhs_number[11]; /* 10 digits */
    char family[64];
    char given[64];
    char birth_date[11]; /* YYYY-MM-DD */
    char sex[8];         /* female | male | other | unknown */
} cs_patient_rec;

typedef struct cs_episode_rec {
    char pathway[16];    /* screening | symptomatic */
    char indication[32]; /* vocabulary "indications" */
    char indication_detail[256];
    char referrer[128];
} cs_episode_rec;

typedef struct cs_study_rec {
    char id[CS_ID_MAX];
    char label[CS_LABEL_MAX];
    int64_t created_at;                  /* unix seconds */
    int64_t code_expires_at;             /* unix seconds */
    int64_t code_used_at;                /* 0 = not used yet */
    uint64_t ingest_offset;              /* study-stream bytes the analysis has read */
    uint64_t next_seq;                   /* frames the analysis has stored */
    int64_t first_byte_ms, last_byte_ms; /* first/last upload bytes, unix ms; 0 = none */
    char assigned_reader[CS_USER_MAX];   /* user name; "" = none */
    /* Schema 3: set once by cs_store_study_close(); 0 / "" = open. */
    int64_t closed_at_ms;
    char closed_by[CS_USER_MAX];
    /* Schema 5; patient.nhs_number "" = no patient recorded. */
    cs_patient_rec patient;
    cs_episode_rec episode;
    /* Schema 12: a training-only study (`study import --course`): the
     * frames of a known-answer case, of no patient. Set at creation, never
     * changed. Never on the worklist; the study routes refuse it
     * (docs/training.md, "Importing a case"). */
    bool training;
} cs_study_rec;

/* Create a study whose enrolment code hashes to `code_hash`. */
cs_status cs_store_study_create(cs_store *s, const cs_study_rec *rec, const char *code_hash,
                                cs_error *err) CS_WARN_UNUSED;
cs_status cs_store_study_get(cs_store *s, const char *id, bool *found, cs_study_rec *out,
                             cs_error *err) CS_WARN_UNUSED;
/* Replace the patient and episode of study `id` (a correction; the caller
 * audits it). *found false: no such study. On a study whose report is
 * signed the patient and episode were under the signature (the report
 * basis stamp), so a correction must not pass as what was signed: when
 * `note` is given (the caller's account of what changed: study, by, at_ms,
 * reason, text) and the report is signed, it is appended to the report as
 * an addendum in the same transaction (note->id set, *noted true). `note`
 * and `noted` may be NULL (nothing is appended).
 *
 * `was` (may be NULL: the change is made whatever is stored) is the
 * study as the caller read it, from which it wrote the note's "old ->
 * new": the change is made only while the stored patient and episode are
 * still those, else nothing is changed and *stale is true (two
 * corrections at once would otherwise put a false "old" value under the
 * signed report). `stale` may be NULL only when `was` is. */
struct cs_addendum_rec;
cs_status cs_store_study_patient_set(cs_store *s, const char *id, const cs_patient_rec *p,
                                     const cs_episode_rec *e, const cs_study_rec *was,
                                     struct cs_addendum_rec *note, bool *found, bool *stale,
                                     bool *noted, cs_error *err) CS_WARN_UNUSED;

typedef enum cs_enrol_outcome {
    CS_ENROL_OK,
    CS_ENROL_UNKNOWN, /* no such code */
    CS_ENROL_USED,    /* the code was exchanged before */
    CS_ENROL_EXPIRED,
} cs_enrol_outcome;

/* Exchange a code for a device: in one transaction, check the code, mark it
 * used and record the device's token hash. `study` (CS_ID_MAX) gets the
 * study id when the outcome is CS_ENROL_OK. */
cs_status cs_store_enrol(cs_store *s, const char *code_hash, const char *token_hash, int64_t now,
                         cs_enrol_outcome *outcome, char *study, cs_error *err) CS_WARN_UNUSED;
/* The study of the unrevoked device whose token hashes to `token_hash`. */
cs_status cs_store_device_study(cs_store *s, const char *token_hash, bool *found, char *study,
                                cs_error *err) CS_WARN_UNUSED;
/* Revoke every device of `study`; *n gets how many were live. */
cs_status cs_store_devices_revoke(cs_store *s, const char *study, int64_t now, int *n,
                                  cs_error *err) CS_WARN_UNUSED;

/* ---- uploads ------------------------------------------------------------ */

typedef enum cs_upload_state {
    CS_UPLOAD_OPEN,
    CS_UPLOAD_COMPLETE,   /* offset == length */
    CS_UPLOAD_TERMINATED, /* DELETE: closed, its bytes stay in the study */
    CS_UPLOAD_EXPIRED,    /* idle too long: closed, its bytes stay */
} cs_upload_state;

typedef struct cs_upload_rec {
    char id[CS_ID_MAX];
    char study[CS_ID_MAX];
    int64_t length;  /* -1 while deferred */
    uint64_t offset; /* bytes stored, fsynced */
    cs_upload_state state;
    int64_t created_at, updated_at, expires_at; /* unix seconds */
    int64_t checksum_base; /* offset before a checksummed PATCH in flight, else -1 */
    char metadata[CS_STORE_META_MAX];
} cs_upload_rec;

cs_status cs_store_upload_create(cs_store *s, const cs_upload_rec *rec,
                                 cs_error *err) CS_WARN_UNUSED;
cs_status cs_store_upload_get(cs_store *s, const char *id, bool *found, cs_upload_rec *out,
                              cs_error *err) CS_WARN_UNUSED;
/* Save length, offset, state, updated_at, expires_at, checksum_base. */
cs_status cs_store_upload_update(cs_store *s, const cs_upload_rec *rec,
                                 cs_error *err) CS_WARN_UNUSED;
/* Uploads of `study` (NULL: of every study) in creation order; only those
 * still open when `only_open`. *out is malloc'd (NULL when *n is 0). */
cs_status cs_store_upload_list(cs_store *s, const char *study, bool only_open, cs_upload_rec **out,
                               size_t *n, cs_error *err) CS_WARN_UNUSED;
/* Note that upload bytes arrived for `study` at `now_ms`. */
cs_status cs_store_study_touch(cs_store *s, const char *study, int64_t now_ms,
                               cs_error *err) CS_WARN_UNUSED;

/* ---- per-frame results -------------------------------------------------- */

/* Room for a frame's boxes text (cs_frame_rec.boxes), with its NUL. */
#define CS_FRAME_BOXES_MAX 640

typedef struct cs_frame_rec {
    uint64_t seq;            /* 0-based position in the study */
    int64_t frame_index;     /* -1 unknown */
    int64_t capture_time_us; /* -1 unknown */
    bool ok;
    const char *status; /* cs_status_name() */
    const char *error;  /* reason when !ok, else NULL */
    float bleeding_probability;
    bool bleeding;
    const char *exposure; /* cs_exposure_name(); NULL when !ok */
    float sharpness, visibility;
    bool readable, blurry;
    int width, height;
    /* For the reading workstation (schema 2): where the frame's JPEG
     * payload lies in the study stream (payload_len 0 = none, e.g. a
     * damaged record), its mean colour (0xRRGGBB, for the timeline) and
     * whether it repeats the last kept frame (hidden by the reduced view). */
    uint64_t payload_offset;
    uint32_t payload_len;
    uint32_t mean_rgb;
    bool redundant;
    /* Schema 3: the polyp model's output. has_polyp false (what a
     * zero-initialised record says) = not computed: the probability is
     * stored as NULL and the frame is not counted as a polyp. Stored only
     * for ok frames, like the other results. */
    bool has_polyp;
    float polyp_probability;
    bool polyp; /* the model's decision (counted in cs_study_counts) */
    /* Schema 11: the polyp operating point the frame was analysed at, so
     * that a study says which weights and threshold flagged its frames
     * even across a restart with other settings (cs_store_polyp_settings).
     * Stored with the polyp result (ok frames with has_polyp only). */
    uint32_t polyp_weights_crc32c; /* the weights file's CRC-32C */
    float polyp_threshold;         /* the threshold in force */
    /* Schema 3: the boxes of the frame's flagged findings as compact JSON
     * text (docs/server.md, "Per-frame results"), at most
     * CS_FRAME_BOXES_MAX - 1 bytes; NULL or "" = none. Stored only for ok
     * frames. */
    const char *boxes;
} cs_frame_rec;

/* Store one frame and move the study's analysis position to
 * (ingest_offset, seq + 1) in the same transaction, so a restart resumes
 * exactly after the last stored frame. The study's counters
 * (cs_study_counts) move in that transaction too; a frame stored again at
 * a seq already present replaces it and is counted once. */
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

/* One polyp operating point a study's frames were analysed at: the
 * weights (by CRC-32C) and threshold, how many frames and which seqs.
 * recorded false: frames stored before schema 11 (crc and threshold 0). */
typedef struct cs_polyp_setting {
    bool recorded;
    uint32_t weights_crc32c;
    float threshold;
    uint64_t frames, first_seq, last_seq;
} cs_polyp_setting;

/* The distinct polyp operating points of the study's frames that have a
 * polyp result, ordered by their first frame: up to cap in out, the total
 * number of distinct ones in *n (more than cap = more than out holds).
 * One entry is the normal case; more mean the frames were flagged at
 * different settings. No frames (or no study): *n = 0. */
cs_status cs_store_polyp_settings(cs_store *s, const char *study, cs_polyp_setting *out, size_t cap,
                                  size_t *n, cs_error *err) CS_WARN_UNUSED;

typedef struct cs_study_counts {
    uint64_t frames, analysed, failed, readable, bleeding, too_dark, too_bright, blurry;
    uint64_t polyp;               /* frames with has_polyp and polyp (schema 3) */
    int64_t last_capture_time_us; /* -1 none */
    uint64_t bytes_received;
    int uploads, uploads_open;
} cs_study_counts;

/* The study's counters (schema 3: kept on the study row by the frame
 * calls, so this reads one row and the study's few uploads; it never scans
 * the frames). All zero (last_capture_time_us -1) for an unknown study. */
cs_status cs_store_study_counts(cs_store *s, const char *study, cs_study_counts *out,
                                cs_error *err) CS_WARN_UNUSED;

/* What the worklist shows of a study beyond its record: its counters (as
 * cs_store_study_counts), its report's state ("" without a report) and
 * whether a finding not deleted is marked suspected cancer. */
typedef struct cs_worklist_fact {
    char study[CS_ID_MAX];
    cs_study_counts counts;
    char report_state[16];
    bool suspected_cancer;
} cs_worklist_fact;

/* Those facts for every study in one statement (the worklist would
 * otherwise make three store calls a study: on PostgreSQL each is a round
 * trip). *out malloc'd, sorted by study id (strcmp), NULL when *n is 0. */
cs_status cs_store_worklist_facts(cs_store *s, cs_worklist_fact **out, size_t *n,
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
cs_status cs_store_study_frames(cs_store *s, const char *study, bool errors, cs_frame_brief *out,
                                size_t cap, size_t *n, cs_error *err) CS_WARN_UNUSED;

/* Ids of studies whose uploads hold bytes the analysis has not read yet,
 * or that have an open upload: malloc'd array of CS_ID_MAX strings. */
cs_status cs_store_studies_pending(cs_store *s, char (**ids)[CS_ID_MAX], size_t *n,
                                   cs_error *err) CS_WARN_UNUSED;

/* ---- the reading workstation (schema 2) ----------------------------------
 * Users, sessions, the audit log, study assignment, per-frame views,
 * findings (with history), landmarks and cleansing grades ("marks") and
 * reports. docs/workstation.md says what the server does with them. */

/* Studies in creation order, newest first. *out malloc'd (NULL when *n 0). */
cs_status cs_store_studies_list(cs_store *s, cs_study_rec **out, size_t *n,
                                cs_error *err) CS_WARN_UNUSED;
/* Set (or clear with "") the study's assigned reader. *found false when no
 * such study. */
cs_status cs_store_study_assign(cs_store *s, const char *study, const char *reader, bool *found,
                                cs_error *err) CS_WARN_UNUSED;

typedef struct cs_user_rec {
    char name[CS_USER_MAX];
    char role[CS_ROLE_MAX];      /* admin | reader | consultant | coordinator | trainer | trainee */
    char pw_hash[CS_PWHASH_MAX]; /* crypto_pwhash_str() output */
    int64_t created_at;          /* unix seconds */
    bool disabled;
} cs_user_rec;

/* Add a user; *exists true (and nothing written) when the name is taken. */
cs_status cs_store_user_add(cs_store *s, const cs_user_rec *u, bool *exists,
                            cs_error *err) CS_WARN_UNUSED;
cs_status cs_store_user_get(cs_store *s, const char *name, bool *found, cs_user_rec *out,
                            cs_error *err) CS_WARN_UNUSED;
/* Save role, pw_hash and disabled of the user named u->name. Disabling a
 * user or changing the password also ends the user's sessions. */
cs_status cs_store_user_update(cs_store *s, const cs_user_rec *u, bool *found,
                               cs_error *err) CS_WARN_UNUSED;
/* Every user by name. *out malloc'd (NULL when *n is 0). */
cs_status cs_store_user_list(cs_store *s, cs_user_rec **out, size_t *n,
                             cs_error *err) CS_WARN_UNUSED;

typedef struct cs_session_rec {
    char id_hash[CS_HASH_HEX_MAX]; /* hash of the cookie's session id */
    char user[CS_USER_MAX];
    char role[CS_ROLE_MAX];     /* filled by _get from the user's row */
    char csrf[CS_HASH_HEX_MAX]; /* the session's CSRF token */
    char ip[CS_IP_MAX];
    int64_t created_at, last_seen; /* unix seconds */
} cs_session_rec;

cs_status cs_store_session_create(cs_store *s, const cs_session_rec *r,
                                  cs_error *err) CS_WARN_UNUSED;
/* The session with this id hash, if its user exists and is not disabled. */
cs_status cs_store_session_get(cs_store *s, const char *id_hash, bool *found, cs_session_rec *out,
                               cs_error *err) CS_WARN_UNUSED;
cs_status cs_store_session_touch(cs_store *s, const char *id_hash, int64_t now,
                                 cs_error *err) CS_WARN_UNUSED;
cs_status cs_store_session_delete(cs_store *s, const char *id_hash, cs_error *err) CS_WARN_UNUSED;
/* Delete sessions idle since before `idle_before` or created before
 * `created_before`; *n gets how many. */
cs_status cs_store_sessions_purge(cs_store *s, int64_t idle_before, int64_t created_before, int *n,
                                  cs_error *err) CS_WARN_UNUSED;

/* The audit log is append-only: the schema refuses UPDATE and DELETE. */
typedef struct cs_audit_rec {
    int64_t n;              /* position in the log (set by _append) */
    int64_t at_ms;          /* unix ms */
    char user[CS_USER_MAX]; /* "" for a request with no user */
    char role[CS_ROLE_MAX];
    char action[32];       /* e.g. "study.open", "finding.create" */
    char study[CS_ID_MAX]; /* "" when none */
    char detail[CS_DETAIL_MAX];
    char ip[CS_IP_MAX];
} cs_audit_rec;

cs_status cs_store_audit_append(cs_store *s, const cs_audit_rec *r, cs_error *err) CS_WARN_UNUSED;

typedef struct cs_audit_query {
    const char *user, *action, *study; /* NULL or "": any */
    int64_t since_ms, until_ms;        /* 0: unbounded */
    int64_t before_n;                  /* 0: from the newest; else entries with n < before_n */
    size_t limit;                      /* at most this many (capped at 1000) */
} cs_audit_query;

/* Matching entries, newest first (by n). Filters are byte-exact equality
 * (no LIKE, no case folding, no trimming). A caller pages by passing the
 * last n it got as before_n: n is unique, so ties on at_ms or a limit cut
 * by the cap never skip or repeat an entry. *out malloc'd (NULL when *n
 * is 0). */
cs_status cs_store_audit_query(cs_store *s, const cs_audit_query *q, cs_audit_rec **out, size_t *n,
                               cs_error *err) CS_WARN_UNUSED;

/* What the viewer needs of one frame. */
typedef struct cs_frame_view {
    uint64_t seq;
    int64_t frame_index, capture_time_us; /* -1 unknown */
    bool ok, readable, blurry, bleeding, redundant;
    float bleeding_probability;
    uint32_t mean_rgb;
    uint64_t payload_offset;
    uint32_t payload_len;           /* 0: no image (a damaged record) */
    bool has_polyp, polyp;          /* schema 3; has_polyp false = not computed */
    float polyp_probability;        /* 0 when !has_polyp */
    char boxes[CS_FRAME_BOXES_MAX]; /* as cs_frame_rec.boxes; "" = none */
} cs_frame_view;

/* Up to `cap` frames of `study` with seq >= from_seq, in seq order. */
cs_status cs_store_frame_views(cs_store *s, const char *study, uint64_t from_seq,
                               cs_frame_view *out, size_t cap, size_t *n,
                               cs_error *err) CS_WARN_UNUSED;

typedef struct cs_finding_rec {
    int64_t id; /* set by _create */
    char study[CS_ID_MAX];
    uint64_t seq_from, seq_to; /* a frame (from == to) or a range */
    char type[32];             /* fresh_blood | polyp | ulcer | angioectasia | erosion | other */
    char note[CS_NOTE_MAX];
    double size_mm; /* < 0: not estimated */
    /* Schema 5 (docs/clinical-record.md): where, what shape, how many. */
    char segment[24];      /* vocabulary finding_segments; "" = not recorded */
    char morphology[8];    /* polyps: Paris class (0-Ip ...); "" = not recorded */
    int count;             /* polyps: 1-99; 1 otherwise */
    bool suspected_cancer; /* raises the urgent notification */
    int version;           /* 1 at creation, +1 per change */
    bool deleted;
    char created_by[CS_USER_MAX];
    int64_t created_at_ms;
    char updated_by[CS_USER_MAX];
    int64_t updated_at_ms;
} cs_finding_rec;

typedef enum cs_change_outcome {
    CS_CHANGE_OK,
    CS_CHANGE_NOT_FOUND, /* no such record (or a deleted finding) */
    CS_CHANGE_CONFLICT,  /* expected_version is not the current one */
    CS_CHANGE_LOCKED,    /* a signed report: read-only */
} cs_change_outcome;

/* Every change below is refused with CS_CHANGE_LOCKED, checked in the
 * same transaction, once the study's report is signed. */

/* Create: f->id and f->version (1) are set; the first history entry is
 * written in the same transaction. created_* and updated_* as given.
 * A finding marked suspected_cancer raises its urgent alert in the same
 * transaction (kind "suspected_cancer", key "finding-<id>", as
 * cs_store_alert_raise would; docs/care.md): both are stored or neither,
 * so an error stores no finding whose alert is missing. */
cs_status cs_store_finding_create(cs_store *s, cs_finding_rec *f, cs_change_outcome *out,
                                  cs_error *err) CS_WARN_UNUSED;

/* Update seq range, type, note, size_mm, segment, morphology, count and
 * suspected_cancer of finding f->id of f->study when
 * its version is `expected_version` (0: any); set updated_*, bump the
 * version, write a history entry. On OK *f holds the saved record. Saved
 * marked suspected_cancer, it raises the alert _create does, in the same
 * transaction, unless the finding's alert exists already. */
cs_status cs_store_finding_update(cs_store *s, cs_finding_rec *f, int expected_version,
                                  cs_change_outcome *out, cs_error *err) CS_WARN_UNUSED;
/* Mark deleted (the row and its history stay), bump the version, write a
 * history entry. */
cs_status cs_store_finding_delete(cs_store *s, const char *study, int64_t id, const char *by,
                                  int64_t at_ms, int expected_version, cs_change_outcome *out,
                                  cs_error *err) CS_WARN_UNUSED;
/* Findings of `study` by (seq_from, id); deleted ones too when asked. */
cs_status cs_store_findings_list(cs_store *s, const char *study, bool include_deleted,
                                 cs_finding_rec **out, size_t *n, cs_error *err) CS_WARN_UNUSED;
/* Every version of one finding, oldest first (each a full snapshot). */
cs_status cs_store_finding_history(cs_store *s, const char *study, int64_t id, cs_finding_rec **out,
                                   size_t *n, cs_error *err) CS_WARN_UNUSED;

/* Landmarks (kind "landmark", key e.g. "first_caecal", seq) and cleansing
 * grades (kind "cleansing", key a segment, value a grade): one value per
 * (study, kind, key). */
typedef struct cs_mark_rec {
    char kind[16];
    char key[32];
    char value[32];       /* cleansing grade; "" for landmarks */
    int64_t seq;          /* landmark frame; -1 for cleansing */
    char by[CS_USER_MAX]; /* who made the latest marking */
    int64_t at_ms;        /* and when */
    /* When the mark was first made: a landmark set again keeps it (the
     * care loop's boosters count from it), a cleansing grade takes its
     * latest edit's time (= at_ms). Listed only; set from at_ms (a row
     * an older server wrote lists its at_ms). */
    int64_t first_at_ms;
} cs_mark_rec;

/* Insert or replace (LOCKED once the report is signed): `by` and `at_ms`
 * become the latest marking's; a landmark keeps its first_at_ms. (Until
 * schema 14 a landmark set again kept its first at_ms under the latest
 * marker's name, so the pair named two markings.) */
cs_status cs_store_mark_set(cs_store *s, const char *study, const cs_mark_rec *m,
                            cs_change_outcome *out, cs_error *err) CS_WARN_UNUSED;
/* Insert only: CONFLICT, and nothing changed, when the study has such a
 * mark already (kind, key); LOCKED once the report is signed. The check
 * and the insert are one statement in the change's transaction, so two
 * servers cannot both take an absent mark, nor one overwrite a mark set
 * meanwhile (a click without a frame on a reader's exact landmark). */
cs_status cs_store_mark_add(cs_store *s, const char *study, const cs_mark_rec *m,
                            cs_change_outcome *out, cs_error *err) CS_WARN_UNUSED;
/* NOT_FOUND when there is no such mark; LOCKED once the report is signed. */
cs_status cs_store_mark_delete(cs_store *s, const char *study, const char *kind, const char *key,
                               cs_change_outcome *out, cs_error *err) CS_WARN_UNUSED;
/* Marks of `study` by kind, key. *out malloc'd (NULL when *n is 0). */
cs_status cs_store_marks_list(cs_store *s, const char *study, cs_mark_rec **out, size_t *n,
                              cs_error *err) CS_WARN_UNUSED;

typedef struct cs_report_rec {
    char study[CS_ID_MAX];
    char state[16];              /* draft | read | signed */
    char content[CS_REPORT_MAX]; /* the editable fields as JSON text */
    int version;                 /* 1 at the first save, +1 per save */
    char updated_by[CS_USER_MAX];
    int64_t updated_at_ms;
    char signed_by[CS_USER_MAX]; /* "" until signed */
    int64_t signed_at_ms;        /* 0 until signed */
} cs_report_rec;

cs_status cs_store_report_get(cs_store *s, const char *study, bool *found, cs_report_rec *out,
                              cs_error *err) CS_WARN_UNUSED;
/* Save content and state (draft or read) with updated_*, when the stored
 * version is `expected_version` (0: a new report, or any version when
 * expected_version < 0). The version and signature checks and the write
 * are one BEGIN IMMEDIATE transaction under the backend's mutex. LOCKED when the report is signed; CONFLICT on a
 * version mismatch. Each save keeps the previous version in a history
 * table. On OK *r holds the saved record. */
cs_status cs_store_report_save(cs_store *s, cs_report_rec *r, int expected_version,
                               cs_change_outcome *out, cs_error *err) CS_WARN_UNUSED;
/* Sign: state becomes signed with signed_by/at, when the version is
 * `expected_version` (< 0: any). Superseded by
 * cs_store_report_sign_checked (below), which also requires the version
 * shown, a recommendation and a complete study; kept so callers compile. NOT_FOUND when there is no report, LOCKED
 * when it is signed already. On OK *out holds the signed record. */
cs_status cs_store_report_sign(cs_store *s, const char *study, const char *by, int64_t at_ms,
                               int expected_version, cs_change_outcome *outcome, cs_report_rec *out,
                               cs_error *err) CS_WARN_UNUSED;
/* True when the study's report is signed (findings and marks are then
 * read-only). */
cs_status cs_store_report_signed(cs_store *s, const char *study, bool *is_signed,
                                 cs_error *err) CS_WARN_UNUSED;

/* ---- rules checked inside the store's transaction (schema 3) -------------
 * The calls below refuse a change that would break a clinical or access
 * rule, checking and writing in one transaction (under the backend's one
 * mutex), so no concurrent call can slip between the check and the write.
 * A refusal is not an error: the call returns CS_OK with an outcome other
 * than CS_CHECK_OK and changes nothing. CS_ERR_IO / CS_ERR_ARG /
 * CS_ERR_NOMEM as everywhere in this header; on an error *outcome is
 * CS_CHECK_NOT_FOUND and nothing is written.
 *
 * The outcomes are a separate enum (not new cs_change_outcome values) so
 * existing switches over cs_change_outcome keep compiling; the first four
 * have the same numbers and meanings as CS_CHANGE_*. */
typedef enum cs_check_outcome {
    CS_CHECK_OK = CS_CHANGE_OK,
    CS_CHECK_NOT_FOUND = CS_CHANGE_NOT_FOUND,
    CS_CHECK_CONFLICT = CS_CHANGE_CONFLICT, /* a stale version, or closed twice */
    CS_CHECK_LOCKED = CS_CHANGE_LOCKED,     /* signed report or closed study */
    CS_CHECK_INVALID,                       /* the report has no recommendation */
    CS_CHECK_INCOMPLETE,                    /* the study's data is not all in and analysed */
    CS_CHECK_LAST_ADMIN,                    /* the change would leave no enabled admin */
    CS_CHECK_BASIS_CHANGED,                 /* findings, marks or patient changed since shown */
} cs_check_outcome;

/* A short stable name for an outcome ("ok", "not_found", "conflict",
 * "locked", "invalid", "incomplete", "last_admin", "basis_changed"). */
const char *cs_check_outcome_name(cs_check_outcome o);

/* The report's basis stamp: a digest (BLAKE2b, CS_REPORT_BASIS_HEX - 1
 * hex digits) of what a printed report shows besides its content: the
 * study's findings (id, version, deleted: a finding's version rises with
 * every change), its marks (landmarks, cleansing grades, as kind, key,
 * value, frame) and its patient and episode fields, the study's id
 * (so no two studies share a stamp) and its last frame analysed (a frame
 * analysed since may be flagged). Any change to them changes the
 * stamp; the content has its own version. A reader of the report is
 * given both, and signing checks both (below). */
#define CS_REPORT_BASIS_HEX 33
cs_status cs_store_report_basis(cs_store *s, const char *study, char basis[CS_REPORT_BASIS_HEX],
                                cs_error *err) CS_WARN_UNUSED;

/* Sign exactly what the signer was shown. In one transaction:
 * NOT_FOUND  no report (or no study);
 * LOCKED     the report is signed already;
 * CONFLICT   the stored version is not `shown_version` (required, > 0:
 *            CS_ERR_ARG otherwise), so the content changed since it was
 *            shown;
 * BASIS_CHANGED the report's basis stamp (cs_store_report_basis) is not
 *            `shown_basis` (required: CS_ERR_ARG when NULL), so a finding,
 *            mark or patient field that the printed report shows changed,
 *            or a frame was analysed, since it was shown;
 * INVALID    the content (JSON text) has no "recommendation" that is a
 *            string with a non-blank character;
 * INCOMPLETE the study is not complete: it is complete when the analysis
 *            position (ingest_offset) covers every stored upload byte
 *            (the sum of the uploads' offsets, the study stream the
 *            ingest reads) AND either every upload is COMPLETE (and there
 *            is at least one) or the study was closed
 *            (cs_store_study_close). Analysis must have caught up even on
 *            a closed study, so no frame can be stored after the signature.
 * On OK the report is signed by `by` at `at_ms` and *out (may be NULL)
 * holds the signed record, whose content is the `shown_version` content. */
cs_status cs_store_report_sign_checked(cs_store *s, const char *study, const char *by,
                                       int64_t at_ms, int shown_version, const char *shown_basis,
                                       cs_check_outcome *outcome, cs_report_rec *out,
                                       cs_error *err) CS_WARN_UNUSED;

/* ---- report addenda (issue 9) ---------------------------------------------
 * A signed report changes only by an addendum: who, when, why and what,
 * appended in order; the signed content itself never changes. */
#define CS_ADDENDUM_REASON_MAX 256
#define CS_ADDENDUM_TEXT_MAX 4000

typedef struct cs_addendum_rec {
    int64_t id; /* set by cs_store_addendum_add; rises with each addendum */
    char study[CS_ID_MAX];
    char by[CS_USER_MAX];
    int64_t at_ms;
    char reason[CS_ADDENDUM_REASON_MAX];
    char text[CS_ADDENDUM_TEXT_MAX];
} cs_addendum_rec;

/* Append addendum *a to a->study's report, in one transaction with the
 * check: NOT_FOUND no report (or no study); INVALID the report is not
 * signed (a draft is corrected by saving it). On OK a->id is set. */
cs_status cs_store_addendum_add(cs_store *s, cs_addendum_rec *a, cs_check_outcome *outcome,
                                cs_error *err) CS_WARN_UNUSED;
/* The study's addenda, oldest first. *out malloc'd (NULL when *n is 0). */
cs_status cs_store_addenda_list(cs_store *s, const char *study, cs_addendum_rec **out, size_t *n,
                                cs_error *err) CS_WARN_UNUSED;

/* Close a study: no more data will come. In one transaction: set
 * closed_at_ms/closed_by, end every OPEN upload of the study (state
 * TERMINATED, updated_at = at_ms / 1000; its bytes stay), revoke its
 * devices and mark its enrolment code used (cs_store_enrol then answers
 * CS_ENROL_USED). NOT_FOUND: no such study; CONFLICT: closed already (not
 * idempotent: the first close's who/when stay, and the caller learns its
 * close was not the one recorded). */
cs_status cs_store_study_close(cs_store *s, const char *study, const char *by, int64_t at_ms,
                               cs_check_outcome *outcome, cs_error *err) CS_WARN_UNUSED;

/* cs_store_upload_update with the lock rule: LOCKED (nothing saved) when
 * the upload's study is closed or its report signed, so no byte (and so
 * no frame) can be added under a signature; CONFLICT (nothing saved) when
 * the stored upload is already ended (TERMINATED or EXPIRED: by a newer
 * upload's creation, DELETE, expiry or the study's close), read in the
 * write's own transaction, so an ended upload is never reopened and its
 * bytes never slide in front of a newer upload's; NOT_FOUND when there is
 * no upload rec->id. rec->study is ignored (the stored one counts). */
cs_status cs_store_upload_update_checked(cs_store *s, const cs_upload_rec *rec,
                                         cs_check_outcome *outcome, cs_error *err) CS_WARN_UNUSED;
/* cs_store_upload_create with the same rule: LOCKED when the study is
 * closed or its report signed, NOT_FOUND when there is no such study. In
 * the same transaction, the study's earlier uploads that are still open
 * but never stored a byte (offset 0, no checksummed body pending) are
 * TERMINATED: a creation whose answer was lost must not hold the study's
 * analysis (its uploads in creation order) back until it expires. */
cs_status cs_store_upload_create_checked(cs_store *s, const cs_upload_rec *rec,
                                         cs_check_outcome *outcome, cs_error *err) CS_WARN_UNUSED;

/* cs_store_user_update with the last-admin rule: LAST_ADMIN (nothing
 * saved) when the change would leave no enabled user with role "admin"
 * (demoting or disabling the last one); NOT_FOUND when there is no such
 * user. Sessions end as cs_store_user_update says. */
cs_status cs_store_user_update_checked(cs_store *s, const cs_user_rec *u, cs_check_outcome *outcome,
                                       cs_error *err) CS_WARN_UNUSED;

/* ---- the live care loop (schema 4, docs/care.md) ------------------------ */

#define CS_HUB_MSG_MAX 256    /* a hub status's message, NUL included */
#define CS_ALERT_KIND_MAX 32  /* an alert kind, NUL included */
#define CS_ALERT_KEY_MAX 64   /* an alert's dedupe key, NUL included */
#define CS_ALERT_MSG_MAX 512  /* an alert's message, NUL included */
#define CS_PROTOCOL_MAX 16384 /* a care protocol (JSON text), NUL included */

/* The last health report of a study's hub. */
typedef struct cs_hub_status_rec {
    int64_t at_ms;      /* when the server took it; 0 = never reported */
    int battery_pct;    /* 0..100 */
    int signal_dbm;     /* -150..0 */
    int spool_used_pct; /* 0..100 */
    char recorder[16];  /* "recording", "stopped" or "error" */
    char message[CS_HUB_MSG_MAX];
} cs_hub_status_rec;

/* Store `st` as the study's hub status; *previous (may be NULL) gets the
 * one it replaced (at_ms 0 when none). NOT_FOUND when there is no study. */
cs_status cs_store_hub_status_put(cs_store *s, const char *study, const cs_hub_status_rec *st,
                                  cs_hub_status_rec *previous, cs_check_outcome *outcome,
                                  cs_error *err) CS_WARN_UNUSED;
/* The study's hub status; at_ms 0 when it never reported. */
cs_status cs_store_hub_status_get(cs_store *s, const char *study, cs_hub_status_rec *out,
                                  cs_error *err) CS_WARN_UNUSED;

typedef struct cs_hub_status_item {
    char study[CS_ID_MAX];
    cs_hub_status_rec status;
} cs_hub_status_item;
/* Every study's hub status whose hub ever reported (at_ms > 0), in one
 * statement (the care loop's pass looks at every open study each second).
 * *out malloc'd, sorted by study id (strcmp), NULL when *n is 0. */
cs_status cs_store_hub_status_list(cs_store *s, cs_hub_status_item **out, size_t *n,
                                   cs_error *err) CS_WARN_UNUSED;

/* The care protocol in force for a study (JSON text, set when the study
 * is created or first needs one; never changed after). */
cs_status cs_store_study_protocol_set(cs_store *s, const char *study, const char *json,
                                      cs_check_outcome *outcome, cs_error *err) CS_WARN_UNUSED;
/* *json (malloc'd, NULL when none is stored) gets the study's protocol. */
cs_status cs_store_study_protocol_get(cs_store *s, const char *study, char **json,
                                      cs_error *err) CS_WARN_UNUSED;

typedef struct cs_alert_rec {
    int64_t id; /* assigned by the store, increasing */
    char study[CS_ID_MAX];
    char kind[CS_ALERT_KIND_MAX];
    char key[CS_ALERT_KEY_MAX]; /* one alert per (study, kind, key) */
    int64_t raised_at_ms;
    char message[CS_ALERT_MSG_MAX];
    char acked_by[CS_USER_MAX]; /* "" = open */
    int64_t acked_at_ms;        /* 0 = open */
    /* the webhook outbox */
    int64_t delivered_at_ms; /* 0 = not delivered yet */
    int attempts;
    int64_t next_attempt_ms;
} cs_alert_rec;

/* Raise an alert unless one with the same (study, kind, key) exists: the
 * rules may fire again after a restart and raise nothing twice. *raised
 * says whether it was new; rec->id gets the alert's id either way.
 * NOT_FOUND when there is no study. */
cs_status cs_store_alert_raise(cs_store *s, cs_alert_rec *rec, bool *raised,
                               cs_check_outcome *outcome, cs_error *err) CS_WARN_UNUSED;
/* The study's alerts, newest first. *out is malloc'd (NULL when *n is 0). */
cs_status cs_store_alerts_list(cs_store *s, const char *study, cs_alert_rec **out, size_t *n,
                               cs_error *err) CS_WARN_UNUSED;
/* The open (unacknowledged) alerts of every study, newest first, at most
 * `max`: the monitor shows a study that has one even when it is not live
 * (a call request before the hub started, an alert left open at close).
 * *out is malloc'd (NULL when *n is 0). */
cs_status cs_store_alerts_open(cs_store *s, size_t max, cs_alert_rec **out, size_t *n,
                               cs_error *err) CS_WARN_UNUSED;
/* Acknowledge alert `id` of `study`: NOT_FOUND (no such alert of that
 * study), CONFLICT (acknowledged already; *out holds who and when). *out
 * (may be NULL) gets the alert as stored. */
cs_status cs_store_alert_ack(cs_store *s, const char *study, int64_t id, const char *by,
                             int64_t at_ms, cs_check_outcome *outcome, cs_alert_rec *out,
                             cs_error *err) CS_WARN_UNUSED;
/* Up to `max` alerts not yet delivered to the webhook whose next attempt
 * is due at `now_ms`: those never tried first (a new alert does not queue
 * behind a backlog of retries to a receiver that was down), then the
 * oldest due. *out is malloc'd. */
cs_status cs_store_alerts_due(cs_store *s, int64_t now_ms, size_t max, cs_alert_rec **out,
                              size_t *n, cs_error *err) CS_WARN_UNUSED;
/* Take a due alert for one delivery attempt: its next attempt moves to
 * lease_until_ms, only if it is still undelivered and still due at
 * seen_next_attempt_ms (as cs_store_alerts_due returned it). *claimed
 * false: another server's worker took it first (several servers on one
 * database, docs/deploy.md), so this one must not send it. A worker that
 * dies holding it leaves it due again at lease_until_ms. */
cs_status cs_store_alert_claim(cs_store *s, int64_t id, int64_t seen_next_attempt_ms,
                               int64_t lease_until_ms, bool *claimed, cs_error *err) CS_WARN_UNUSED;
/* Record a delivery attempt: delivered_at_ms > 0 when it succeeded, else
 * the attempt count and when to try next. */
cs_status cs_store_alert_delivery(cs_store *s, int64_t id, int64_t delivered_at_ms, int attempts,
                                  int64_t next_attempt_ms, cs_error *err) CS_WARN_UNUSED;

/* The patient's code for the companion page: only its hash is stored.
 * NOT_FOUND when there is no such study. */
cs_status cs_store_patient_code_set(cs_store *s, const char *study, const char *code_hash,
                                    int64_t expires_at, cs_check_outcome *outcome,
                                    cs_error *err) CS_WARN_UNUSED;
/* The study whose patient code hashes to `code_hash`, if the code has not
 * expired at `now` (unix s) and the study is not closed: *found, and
 * `study` (CS_ID_MAX) gets its id. *expired says a matching code was found
 * but no longer works. */
cs_status cs_store_patient_study(cs_store *s, const char *code_hash, int64_t now, bool *found,
                                 bool *expired, char *study, cs_error *err) CS_WARN_UNUSED;

/* A prep step ticked by the patient (or the tick taken back). */
typedef struct cs_prep_tick_rec {
    char step[32];
    int64_t at_ms;
} cs_prep_tick_rec;
/* Tick (at_ms > 0; the first tick's time stands) or untick (at_ms 0) step
 * `step` of `study`. NOT_FOUND when there is no such study. */
cs_status cs_store_prep_tick(cs_store *s, const char *study, const char *step, int64_t at_ms,
                             cs_check_outcome *outcome, cs_error *err) CS_WARN_UNUSED;
/* The study's ticked steps. *out malloc'd (NULL when *n is 0). */
cs_status cs_store_prep_ticks(cs_store *s, const char *study, cs_prep_tick_rec **out, size_t *n,
                              cs_error *err) CS_WARN_UNUSED;

/* ---- reader training (schema 6, issue 12, docs/training.md) ------------- */

#define CS_TRAINING_JSON_MAX 16384 /* a case's reference, an attempt's answer or score */
#define CS_COURSE_NAME_MAX 128

typedef struct cs_course_rec {
    char id[CS_ID_MAX];
    char name[CS_COURSE_NAME_MAX];
    bool show_flags;             /* trainees see the engine's flags */
    int tolerance_frames;        /* the scoring rule's tolerance */
    int standard_cases;          /* the certificate: at least this many cases read */
    double standard_sensitivity; /* ... at this mean sensitivity or more */
    char created_by[CS_USER_MAX];
    int64_t created_at_ms;
} cs_course_rec;

/* A known-answer case: a signed study, its reference taken at creation. */
typedef struct cs_case_rec {
    char id[CS_ID_MAX];
    char course[CS_ID_MAX];
    char study[CS_ID_MAX];
    char label[CS_LABEL_MAX];             /* replaces the study's label */
    char reference[CS_TRAINING_JSON_MAX]; /* JSON: findings, landmarks, cleansing */
    char created_by[CS_USER_MAX];
    int64_t created_at_ms;
} cs_case_rec;

/* One trainee's read of one case: open until submitted. */
typedef struct cs_attempt_rec {
    int64_t id;
    char case_id[CS_ID_MAX];
    char course[CS_ID_MAX]; /* the case's course (reads fill it) */
    char trainee[CS_USER_MAX];
    int64_t started_at_ms;
    int64_t submitted_at_ms;           /* 0 = open */
    char answer[CS_TRAINING_JSON_MAX]; /* JSON: findings, landmarks, cleansing, reading time */
    char score[CS_TRAINING_JSON_MAX];  /* JSON; "" until submitted */
} cs_attempt_rec;

/* CONFLICT when the id is taken. */
cs_status cs_store_course_create(cs_store *s, const cs_course_rec *c, cs_check_outcome *outcome,
                                 cs_error *err) CS_WARN_UNUSED;
cs_status cs_store_course_get(cs_store *s, const char *id, bool *found, cs_course_rec *out,
                              cs_error *err) CS_WARN_UNUSED;
/* Every course by name, id. *out malloc'd (NULL when *n is 0). */
cs_status cs_store_courses_list(cs_store *s, cs_course_rec **out, size_t *n,
                                cs_error *err) CS_WARN_UNUSED;
/* NOT_FOUND when the course or the study does not exist; CONFLICT when the
 * study is a case already, of this course or any other (a trainee who
 * submitted one would open its reference, the other's answer): checked in
 * the write's transaction, under the study's lock on PostgreSQL. */
cs_status cs_store_case_create(cs_store *s, const cs_case_rec *c, cs_check_outcome *outcome,
                               cs_error *err) CS_WARN_UNUSED;
cs_status cs_store_case_get(cs_store *s, const char *id, bool *found, cs_case_rec *out,
                            cs_error *err) CS_WARN_UNUSED;
/* The course's cases, oldest first. *out malloc'd. */
cs_status cs_store_cases_list(cs_store *s, const char *course, cs_case_rec **out, size_t *n,
                              cs_error *err) CS_WARN_UNUSED;
/* The trainee's attempt at the case: the existing one, or a new open one
 * started at `now_ms`. NOT_FOUND when there is no such case. */
cs_status cs_store_attempt_open(cs_store *s, const char *case_id, const char *trainee,
                                int64_t now_ms, cs_attempt_rec *out, cs_check_outcome *outcome,
                                cs_error *err) CS_WARN_UNUSED;
cs_status cs_store_attempt_get(cs_store *s, int64_t id, bool *found, cs_attempt_rec *out,
                               cs_error *err) CS_WARN_UNUSED;
/* Save the answer of an open attempt: NOT_FOUND, LOCKED once submitted. */
cs_status cs_store_attempt_answer(cs_store *s, int64_t id, const char *answer,
                                  cs_check_outcome *outcome, cs_error *err) CS_WARN_UNUSED;
/* Submit: answer and score saved and submitted_at_ms set, in one
 * transaction; NOT_FOUND, LOCKED when submitted already. */
cs_status cs_store_attempt_submit(cs_store *s, int64_t id, const char *answer, const char *score,
                                  int64_t at_ms, cs_check_outcome *outcome,
                                  cs_error *err) CS_WARN_UNUSED;
/* Attempts of a course (course "" = any) by a trainee (trainee "" = any),
 * by started time, id. *out malloc'd. */
cs_status cs_store_attempts_list(cs_store *s, const char *course, const char *trainee,
                                 cs_attempt_rec **out, size_t *n, cs_error *err) CS_WARN_UNUSED;
/* ---- the PACS export queue (issue 9 part, docs/pacs.md) ------------------ */

#define CS_PACS_ERROR_MAX 256 /* the last attempt's reason, NUL included */

/* One study's export of key frames to the PACS: one row per study, the
 * latest request. State: "queued" (due at next_attempt_ms), "sending" (a
 * worker holds it until next_attempt_ms, its lease), "sent", "failed"
 * (the last attempt failed; retried at next_attempt_ms, never dropped). */
typedef struct cs_pacs_export_rec {
    char study[CS_ID_MAX];
    char state[16];
    int64_t requested_at_ms; /* the latest request; names it (a newer one replaces it) */
    char requested_by[CS_USER_MAX];
    int attempts; /* since the latest request */
    int64_t next_attempt_ms;
    char last_error[CS_PACS_ERROR_MAX]; /* "" after a success */
    int instances_sent;                 /* by the last successful send */
    int64_t sent_at_ms;                 /* 0 = never sent */
} cs_pacs_export_rec;

/* Request an export of `study` at `now_ms`: queued, due now, attempts 0,
 * last_error cleared; a newer request than any before (requested_at_ms
 * grows even within one ms), so a send in flight for an older request
 * does not mark this one sent. *out (may be NULL) gets the row. NOT_FOUND
 * when there is no such study. */
cs_status cs_store_pacs_enqueue(cs_store *s, const char *study, const char *by, int64_t now_ms,
                                cs_check_outcome *outcome, cs_pacs_export_rec *out,
                                cs_error *err) CS_WARN_UNUSED;
/* Queue, as cs_store_pacs_enqueue would, every clinical study whose
 * report is signed and whose export was never requested: signed while
 * the export was off, or lost between the signing and its queueing (a
 * crash, a store error). Requests already made are left as they are.
 * *queued gets how many were queued. */
cs_status cs_store_pacs_enqueue_unrequested(cs_store *s, const char *by, int64_t now_ms,
                                            int *queued, cs_error *err) CS_WARN_UNUSED;
/* The study's export; *found false when it was never requested. */
cs_status cs_store_pacs_get(cs_store *s, const char *study, bool *found, cs_pacs_export_rec *out,
                            cs_error *err) CS_WARN_UNUSED;
/* Up to `max` exports not sent whose next attempt is due at `now_ms`,
 * oldest due first. *out is malloc'd (NULL when *n is 0). */
cs_status cs_store_pacs_due(cs_store *s, int64_t now_ms, size_t max, cs_pacs_export_rec **out,
                            size_t *n, cs_error *err) CS_WARN_UNUSED;
/* Take a due export for one attempt: state "sending", attempts + 1,
 * next_attempt_ms = lease_until_ms (its lease), only if the row is still
 * as `seen` (the same request, state and next attempt, as
 * cs_store_pacs_due returned it). *claimed false: a newer request or
 * another server's worker came first; nothing is changed. */
cs_status cs_store_pacs_claim(cs_store *s, const cs_pacs_export_rec *seen, int64_t lease_until_ms,
                              bool *claimed, cs_error *err) CS_WARN_UNUSED;
/* Save state, attempts, next_attempt_ms, last_error, instances_sent and
 * sent_at_ms of rec->study, only while its request is still
 * rec->requested_at_ms: *applied false (nothing saved) when a newer
 * request replaced it meanwhile. */
cs_status cs_store_pacs_record(cs_store *s, const cs_pacs_export_rec *rec, bool *applied,
                               cs_error *err) CS_WARN_UNUSED;

/* ---- reading time (schema 8, issue 12 item 6, docs/workstation.md) ------ */

/* Active reading seconds of one reader on one study in one view. */
typedef struct cs_reading_rec {
    char study[CS_ID_MAX];
    char reader[CS_USER_MAX];
    char view[16]; /* "full" | "reduced" */
    double seconds;
    int64_t updated_at_ms;
} cs_reading_rec;

/* Add `seconds` to (study, reader, view). NOT_FOUND when there is no such
 * study. */
cs_status cs_store_reading_add(cs_store *s, const char *study, const char *reader, const char *view,
                               double seconds, int64_t at_ms, cs_check_outcome *outcome,
                               cs_error *err) CS_WARN_UNUSED;
/* The rows of `study` ("" = every study) by study, reader, view. *out
 * malloc'd (NULL when *n is 0). */
cs_status cs_store_reading_list(cs_store *s, const char *study, cs_reading_rec **out, size_t *n,
                                cs_error *err) CS_WARN_UNUSED;

/* ---- several servers on one database (schema 10, docs/deploy.md) --------
 * Only a PostgreSQL store is shared between processes: there N `capscreen
 * serve` processes keep in the database what one process keeps in memory
 * on SQLite: failed-login counts, the lease of an upload being written and
 * the claim on a study's live analysis. On SQLite (one server per data
 * folder) every call below answers CS_ERR_UNSUPPORTED and the server uses
 * its in-memory versions, exactly as before; the tables exist there too so
 * both backends have the same schema version.
 *
 * The holder of a lease or claim is the calling process's database
 * connection (its backend pid and start time): a holder whose connection
 * has gone (its server died or was killed) holds nothing, so another
 * server takes over at once instead of waiting out a timeout. Times are
 * the database's clock, so servers' clocks need not agree. */

/* Whether the store may be shared by several servers (PostgreSQL). */
bool cs_store_shared(const cs_store *s);

/* Failed-login counts of one (user, address) pair and of the address
 * alone; counts quiet for `forget_ms` read as 0. The rules (delays,
 * bursts) are server/auth/limiter.h's; the store only counts. */
typedef struct cs_login_counts {
    int pair_fails, addr_fails;
    int64_t pair_last_ms, addr_last_ms; /* the last counted failure */
} cs_login_counts;

/* Refused attempts of one pair not yet audited (refused 0: none). */
typedef struct cs_login_burst_rec {
    char user[CS_USER_MAX];
    char ip[CS_IP_MAX];
    uint64_t refused;
    int64_t first_ms, last_ms;
} cs_login_burst_rec;

cs_status cs_store_login_counts(cs_store *s, const char *user, const char *ip, int64_t now_ms,
                                int64_t forget_ms, cs_login_counts *out,
                                cs_error *err) CS_WARN_UNUSED;
/* A checked attempt failed: count it for the pair and the address (a
 * count quiet for forget_ms starts again at 1). */
cs_status cs_store_login_failed(cs_store *s, const char *user, const char *ip, int64_t now_ms,
                                int64_t forget_ms, cs_error *err) CS_WARN_UNUSED;
/* An attempt was refused while a delay ran: count it in the pair's burst. */
cs_status cs_store_login_refused(cs_store *s, const char *user, const char *ip, int64_t now_ms,
                                 cs_error *err) CS_WARN_UNUSED;
/* A checked attempt succeeded: the pair's row goes; *ended gets its open
 * burst (refused 0 when none). */
cs_status cs_store_login_cleared(cs_store *s, const char *user, const char *ip,
                                 cs_login_burst_rec *ended, cs_error *err) CS_WARN_UNUSED;
/* Take one burst quiet for quiet_ms (any open one when `all`) into *out
 * (*found); rows with neither a count younger than forget_ms nor a burst
 * are deleted on the way. Each burst is taken by one caller only. */
cs_status cs_store_login_take_burst(cs_store *s, int64_t now_ms, int64_t quiet_ms, bool all,
                                    int64_t forget_ms, bool *found, cs_login_burst_rec *out,
                                    cs_error *err) CS_WARN_UNUSED;

/* Take the lease of upload `id` for this process when it is free, this
 * process's already, its holder is gone, or its holder has not beaten for
 * stale_ms: *took. The lease's beat is now. */
cs_status cs_store_upload_lease_take(cs_store *s, const char *id, int64_t stale_ms, bool *took,
                                     cs_error *err) CS_WARN_UNUSED;
/* Beat the lease: *held false (nothing changed) when it is no longer this
 * process's. */
cs_status cs_store_upload_lease_beat(cs_store *s, const char *id, bool *held,
                                     cs_error *err) CS_WARN_UNUSED;
/* Drop the lease if this process holds it. */
cs_status cs_store_upload_lease_drop(cs_store *s, const char *id, cs_error *err) CS_WARN_UNUSED;
/* *held: a live process other than this one holds the lease. */
cs_status cs_store_upload_lease_held(cs_store *s, const char *id, bool *held,
                                     cs_error *err) CS_WARN_UNUSED;

/* Claim `study`'s live analysis for lease_ms from now: *got when it was
 * free, this process's, expired or held by a gone process. *fresh (with
 * *got): another process held it since this one last did, so what this
 * process remembers of the study's analysis is stale (reload it from the
 * stored position). Without *got the holder is asked to look again
 * (cs_store_ingest_unclaim's *woken), so new bytes are never left unread
 * between the holder's last look and its letting go. */
cs_status cs_store_ingest_claim(cs_store *s, const char *study, int64_t lease_ms, bool *got,
                                bool *fresh, cs_error *err) CS_WARN_UNUSED;
/* Let the claim go (if this process's), remembering who held it last;
 * unless another process asked since the claim was taken or last let go:
 * then *woken, the claim is kept and the holder should look again. */
cs_status cs_store_ingest_unclaim(cs_store *s, const char *study, bool *woken,
                                  cs_error *err) CS_WARN_UNUSED;

/* Notifications between servers (PostgreSQL LISTEN/NOTIFY): what moved on
 * one server (frames stored, sessions ended, devices revoked) wakes what
 * waits for it on the others. A payload is at most 200 bytes. */
cs_status cs_store_notify(cs_store *s, const char *channel, const char *payload,
                          cs_error *err) CS_WARN_UNUSED;
/* A listener: its own connection to `s`'s database, LISTENing on
 * `channel`. One thread uses it; close it before `s`. */
typedef struct cs_store_listener cs_store_listener;
cs_status cs_store_listen(cs_store *s, const char *channel, cs_store_listener **out,
                          cs_error *err) CS_WARN_UNUSED;
/* Wait up to timeout_ms for notifications and call on(payload, arg) for
 * each. A lost connection is re-established (then, since notifications
 * may have been missed, on(NULL, arg) is called once); failing that, the
 * call errs after its wait. */
cs_status cs_store_listener_wait(cs_store_listener *l, int timeout_ms,
                                 void (*on)(const char *payload, void *arg), void *arg,
                                 cs_error *err) CS_WARN_UNUSED;
void cs_store_listener_close(cs_store_listener *l);

#endif
