/* store_backend.h - the table of operations a metadata-store backend
 * implements (store.h documents each call); store.c dispatches to it.
 * Backends: store_sqlite.c (with store_sqlite_ws.c, store_sqlite_close.c)
 * and store_pg.c (with store_pg_ws.c); cs_store_open_db() picks one. */
#ifndef CS_STORE_BACKEND_H
#define CS_STORE_BACKEND_H

#include <sodium.h>
#include <string.h>

#include "capscreen/store.h"

/* The report basis stamp (cs_store_report_basis): each backend runs its
 * queries, in the order CS_BASIS_* names them, and feeds every row and
 * every column (as the text the database gives) here. Fields are length
 * prefixed and rows and tables tagged, so no two listings hash alike by
 * shifting text between columns. basis.c. */
/* What the stamp covers, one query a table, in this order (names hashed
 * as table tags); P is the backend's placeholder for the study id ("?" or
 * "$1"). One list, so the backends cannot stamp different things. The
 * study's own id is stamped too: two studies alike in findings, marks and
 * patient (a repeat capsule) would otherwise share a stamp, and a version
 * and stamp shown for one would sign the other's unseen content. The
 * last frame analysed is stamped too (the end of the primary key): a frame
 * analysed after the report was shown may be flagged, and moves the
 * engine's CC-CLEAR suggestions the report shows, so it is as much a change
 * under the signature as a finding. */
#define CS_BASIS_TABLES                        \
    {                                          \
        "findings", "marks", "study", "frames" \
    }
#define CS_BASIS_SQL(P)                                                                       \
    {                                                                                         \
        "SELECT id, version, deleted FROM findings WHERE study = " P " ORDER BY id",          \
            "SELECT kind, key, value, seq FROM marks WHERE study = " P " ORDER BY kind, key", \
            ("SELECT id, nhs_number, family, given, birth_date, sex, pathway, indication,"    \
             " indication_detail, referrer FROM studies WHERE id = " P),                      \
            "SELECT MAX(seq) FROM frames WHERE study = " P                                    \
    }

typedef struct cs_basis {
    crypto_generichash_state st;
} cs_basis;
void cs_basis_begin(cs_basis *b);
void cs_basis_table(cs_basis *b, const char *name); /* before each query's rows */
void cs_basis_row(cs_basis *b);                     /* before each row's fields */
void cs_basis_field(cs_basis *b, const char *text, size_t len);
void cs_basis_end(cs_basis *b, char hex[CS_REPORT_BASIS_HEX]);

/* Schema 12, the same on both backends: a study's purpose, 'clinical' or
 * 'training' (cs_study_rec.training). A study imported as a case before
 * it (its case made by `capscreen study import`, the only maker of such
 * cases) was a training study all along. */
#define CS_MIGRATION_12                                                       \
    "ALTER TABLE studies ADD COLUMN purpose TEXT NOT NULL DEFAULT 'clinical'" \
    " CHECK (purpose IN ('clinical', 'training'));"                           \
    "UPDATE studies SET purpose = 'training' WHERE id IN"                     \
    " (SELECT study FROM training_cases WHERE created_by = 'capscreen study import');"

/* Schema 13, the same on both backends: the open alerts of every study
 * (cs_store_alerts_open, read for each monitor) without reading the
 * acknowledged ones. IF NOT EXISTS: tests that undo later migrations
 * leave it in place. */
#define CS_MIGRATION_13 \
    "CREATE INDEX IF NOT EXISTS alerts_open ON alerts (id) WHERE acked_at_ms = 0;"

/* A mark set again: set_by and at_ms become the latest marking's; a
 * landmark keeps the time it was first marked in first_at_ms (the care
 * loop counts the boosters from it: a reader moving small-bowel entry to
 * another frame hours later must not put the patient's booster off by as
 * long); a cleansing grade's first_at_ms follows its latest edit. The same
 * on both backends (excluded/EXCLUDED are one name to SQL). */
#define CS_MARK_FIRST_AT_MS_ON_UPDATE \
    "CASE WHEN marks.kind = 'landmark' THEN marks.first_at_ms ELSE excluded.first_at_ms END"

/* The marks as cs_mark_rec reads them. A row that an older server wrote
 * beside a migrated database (several servers) has first_at_ms 0: its
 * at_ms is read instead, so no reader sees a mark first made at 0. */
#define CS_MARKS_SELECT                            \
    "SELECT kind, key, value, seq, set_by, at_ms," \
    " CASE WHEN first_at_ms > 0 THEN first_at_ms ELSE at_ms END FROM marks"

/* 14: when each mark was first made (cs_mark_rec.first_at_ms). Until now
 * a landmark's at_ms held that time while set_by named its latest
 * marker; the time is kept as first_at_ms, and at_ms stays that time
 * for the rows made before (the audit log has every marking). */
#define CS_MIGRATION_14                                                   \
    "ALTER TABLE marks ADD COLUMN first_at_ms BIGINT NOT NULL DEFAULT 0;" \
    "UPDATE marks SET first_at_ms = at_ms;"

/* cs_store_pacs_enqueue_unrequested: the signed clinical reports with no
 * export row, queued; the same on both backends (placeholders 1: now, 2:
 * by, given as P1 and P2). */
#define CS_PACS_UNREQUESTED_SQL(P1, P2)                                                \
    "INSERT INTO pacs_exports (study, state, requested_at_ms, requested_by, attempts," \
    " next_attempt_ms, last_error) SELECT r.study, 'queued', CAST(" P1 " AS BIGINT),"  \
    " CAST(" P2 " AS TEXT), 0, CAST(" P1 " AS BIGINT), ''"                             \
    " FROM reports r JOIN studies s ON s.id = r.study WHERE r.state = 'signed'"        \
    " AND s.purpose = 'clinical' AND NOT EXISTS"                                       \
    " (SELECT 1 FROM pacs_exports p WHERE p.study = r.study)"

/* The WHERE clause of a patient correction made only while the stored
 * patient and episode are still as the caller read them
 * (cs_store_study_patient_set's `was`): P(n) names the n-th of nine
 * placeholders, in the order nhs_number, family, given, birth_date, sex,
 * pathway, indication, indication_detail, referrer. */
#define CS_PATIENT_UNCHANGED_SQL(P1, P2, P3, P4, P5, P6, P7, P8, P9)                             \
    " AND nhs_number = " P1 " AND family = " P2 " AND given = " P3 " AND birth_date = " P4       \
    " AND sex = " P5 " AND pathway = " P6 " AND indication = " P7 " AND indication_detail = " P8 \
    " AND referrer = " P9

/* The purpose column's text for a study record, and back. */
static inline const char *cs_study_purpose(const cs_study_rec *s)
{
    return s->training ? "training" : "clinical";
}
static inline bool cs_study_purpose_is_training(const char *purpose)
{
    return purpose && strcmp(purpose, "training") == 0;
}

/* cs_store_worklist_facts: one row a study (its counters, uploads, report
 * state, whether a finding not deleted says suspected cancer), the same
 * SQL on both backends; each reads the columns in this order. */
#define CS_WORKLIST_FACTS_SQL                                                                      \
    "SELECT s.id, s.n_frames, s.n_ok, s.n_readable, s.n_bleeding, s.n_too_dark,"                   \
    " s.n_too_bright, s.n_blurry, s.n_polyp, s.last_capture_time_us,"                              \
    " COALESCE(u.n, 0), COALESCE(u.open, 0), COALESCE(u.bytes, 0), COALESCE(r.state, ''),"         \
    " CASE WHEN EXISTS (SELECT 1 FROM findings f WHERE f.study = s.id AND f.deleted = 0"           \
    " AND f.suspected_cancer <> 0) THEN 1 ELSE 0 END"                                              \
    " FROM studies s"                                                                              \
    " LEFT JOIN (SELECT study, COUNT(*) AS n, SUM(CASE WHEN state = 0 THEN 1 ELSE 0 END) AS open," \
    " SUM(\"offset\") AS bytes FROM uploads GROUP BY study) u ON u.study = s.id"                   \
    " LEFT JOIN reports r ON r.study = s.id"

/* The alert a finding marked suspected cancer raises (cs_store_finding_create
 * and _update, in the finding's own transaction): kind "suspected_cancer",
 * key "finding-<id>", raised at f->updated_at_ms, its message from the
 * finding (who marked it, what, where, which frames). store.c. */
void cs_store_finding_alert(const cs_finding_rec *f, cs_alert_rec *a);

typedef struct cs_store_ops {
    void (*close)(cs_store *s);
    cs_status (*ping)(cs_store *s, cs_error *err);
    cs_status (*study_create)(cs_store *s, const cs_study_rec *rec, const char *code_hash,
                              cs_error *err);
    cs_status (*study_get)(cs_store *s, const char *id, bool *found, cs_study_rec *out,
                           cs_error *err);
    cs_status (*study_patient_set)(cs_store *s, const char *id, const cs_patient_rec *p,
                                   const cs_episode_rec *e, const cs_study_rec *was,
                                   cs_addendum_rec *note, bool *found, bool *stale, bool *noted,
                                   cs_error *err);
    cs_status (*enrol)(cs_store *s, const char *code_hash, const char *token_hash, int64_t now,
                       cs_enrol_outcome *outcome, char *study, cs_error *err);
    cs_status (*device_study)(cs_store *s, const char *token_hash, bool *found, char *study,
                              cs_error *err);
    cs_status (*devices_revoke)(cs_store *s, const char *study, int64_t now, int *n, cs_error *err);
    cs_status (*upload_create)(cs_store *s, const cs_upload_rec *rec, cs_error *err);
    cs_status (*upload_get)(cs_store *s, const char *id, bool *found, cs_upload_rec *out,
                            cs_error *err);
    cs_status (*upload_update)(cs_store *s, const cs_upload_rec *rec, cs_error *err);
    cs_status (*upload_list)(cs_store *s, const char *study, bool only_open, cs_upload_rec **out,
                             size_t *n, cs_error *err);
    cs_status (*study_touch)(cs_store *s, const char *study, int64_t now_ms, cs_error *err);
    cs_status (*frames_add)(cs_store *s, const char *study, const cs_frame_rec *f, size_t n,
                            uint64_t ingest_offset, cs_error *err);
    cs_status (*study_set_ingest)(cs_store *s, const char *study, uint64_t ingest_offset,
                                  cs_error *err);
    cs_status (*study_counts)(cs_store *s, const char *study, cs_study_counts *out, cs_error *err);
    cs_status (*polyp_settings)(cs_store *s, const char *study, cs_polyp_setting *out, size_t cap,
                                size_t *n, cs_error *err);
    cs_status (*worklist_facts)(cs_store *s, cs_worklist_fact **out, size_t *n, cs_error *err);
    cs_status (*study_frames)(cs_store *s, const char *study, bool errors, cs_frame_brief *out,
                              size_t cap, size_t *n, cs_error *err);
    cs_status (*studies_pending)(cs_store *s, char (**ids)[CS_ID_MAX], size_t *n, cs_error *err);
    /* the reading workstation (schema 2) */
    cs_status (*studies_list)(cs_store *s, cs_study_rec **out, size_t *n, cs_error *err);
    cs_status (*study_assign)(cs_store *s, const char *study, const char *reader, bool *found,
                              cs_error *err);
    cs_status (*user_add)(cs_store *s, const cs_user_rec *u, bool *exists, cs_error *err);
    cs_status (*user_get)(cs_store *s, const char *name, bool *found, cs_user_rec *out,
                          cs_error *err);
    cs_status (*user_update)(cs_store *s, const cs_user_rec *u, bool *found, cs_error *err);
    cs_status (*user_list)(cs_store *s, cs_user_rec **out, size_t *n, cs_error *err);
    cs_status (*session_create)(cs_store *s, const cs_session_rec *r, cs_error *err);
    cs_status (*session_get)(cs_store *s, const char *id_hash, bool *found, cs_session_rec *out,
                             cs_error *err);
    cs_status (*session_touch)(cs_store *s, const char *id_hash, int64_t now, cs_error *err);
    cs_status (*session_delete)(cs_store *s, const char *id_hash, cs_error *err);
    cs_status (*sessions_purge)(cs_store *s, int64_t idle_before, int64_t created_before, int *n,
                                cs_error *err);
    cs_status (*audit_append)(cs_store *s, const cs_audit_rec *r, cs_error *err);
    cs_status (*audit_query)(cs_store *s, const cs_audit_query *q, cs_audit_rec **out, size_t *n,
                             cs_error *err);
    cs_status (*frame_views)(cs_store *s, const char *study, uint64_t from_seq, cs_frame_view *out,
                             size_t cap, size_t *n, cs_error *err);
    cs_status (*finding_create)(cs_store *s, cs_finding_rec *f, cs_change_outcome *out,
                                cs_error *err);
    cs_status (*finding_update)(cs_store *s, cs_finding_rec *f, int expected_version,
                                cs_change_outcome *out, cs_error *err);
    cs_status (*finding_delete)(cs_store *s, const char *study, int64_t id, const char *by,
                                int64_t at_ms, int expected_version, cs_change_outcome *out,
                                cs_error *err);
    cs_status (*findings_list)(cs_store *s, const char *study, bool include_deleted,
                               cs_finding_rec **out, size_t *n, cs_error *err);
    cs_status (*finding_history)(cs_store *s, const char *study, int64_t id, cs_finding_rec **out,
                                 size_t *n, cs_error *err);
    cs_status (*mark_set)(cs_store *s, const char *study, const cs_mark_rec *m,
                          cs_change_outcome *out, cs_error *err);
    cs_status (*mark_add)(cs_store *s, const char *study, const cs_mark_rec *m,
                          cs_change_outcome *out, cs_error *err);
    cs_status (*mark_delete)(cs_store *s, const char *study, const char *kind, const char *key,
                             cs_change_outcome *out, cs_error *err);
    cs_status (*marks_list)(cs_store *s, const char *study, cs_mark_rec **out, size_t *n,
                            cs_error *err);
    cs_status (*report_get)(cs_store *s, const char *study, bool *found, cs_report_rec *out,
                            cs_error *err);
    cs_status (*report_save)(cs_store *s, cs_report_rec *r, int expected_version,
                             cs_change_outcome *out, cs_error *err);
    cs_status (*report_sign)(cs_store *s, const char *study, const char *by, int64_t at_ms,
                             int expected_version, cs_change_outcome *outcome, cs_report_rec *out,
                             cs_error *err);
    cs_status (*report_signed)(cs_store *s, const char *study, bool *is_signed, cs_error *err);
    /* rules checked in the transaction (schema 3) */
    cs_status (*report_sign_checked)(cs_store *s, const char *study, const char *by, int64_t at_ms,
                                     int shown_version, const char *shown_basis,
                                     cs_check_outcome *outcome, cs_report_rec *out, cs_error *err);
    cs_status (*report_basis)(cs_store *s, const char *study, char basis[CS_REPORT_BASIS_HEX],
                              cs_error *err);
    cs_status (*study_close)(cs_store *s, const char *study, const char *by, int64_t at_ms,
                             cs_check_outcome *outcome, cs_error *err);
    cs_status (*upload_update_checked)(cs_store *s, const cs_upload_rec *rec,
                                       cs_check_outcome *outcome, cs_error *err);
    cs_status (*upload_create_checked)(cs_store *s, const cs_upload_rec *rec,
                                       cs_check_outcome *outcome, cs_error *err);
    cs_status (*user_update_checked)(cs_store *s, const cs_user_rec *u, cs_check_outcome *outcome,
                                     cs_error *err);
    /* the live care loop (schema 4) */
    cs_status (*hub_status_put)(cs_store *s, const char *study, const cs_hub_status_rec *st,
                                cs_hub_status_rec *previous, cs_check_outcome *outcome,
                                cs_error *err);
    cs_status (*hub_status_list)(cs_store *s, cs_hub_status_item **out, size_t *n, cs_error *err);
    cs_status (*hub_status_get)(cs_store *s, const char *study, cs_hub_status_rec *out,
                                cs_error *err);
    cs_status (*study_protocol_set)(cs_store *s, const char *study, const char *json,
                                    cs_check_outcome *outcome, cs_error *err);
    cs_status (*study_protocol_get)(cs_store *s, const char *study, char **json, cs_error *err);
    cs_status (*alert_raise)(cs_store *s, cs_alert_rec *rec, bool *raised,
                             cs_check_outcome *outcome, cs_error *err);
    cs_status (*alerts_list)(cs_store *s, const char *study, cs_alert_rec **out, size_t *n,
                             cs_error *err);
    cs_status (*alerts_open)(cs_store *s, size_t max, cs_alert_rec **out, size_t *n, cs_error *err);
    cs_status (*pacs_enqueue_unrequested)(cs_store *s, const char *by, int64_t now_ms, int *queued,
                                          cs_error *err);
    cs_status (*alert_ack)(cs_store *s, const char *study, int64_t id, const char *by,
                           int64_t at_ms, cs_check_outcome *outcome, cs_alert_rec *out,
                           cs_error *err);
    cs_status (*alerts_due)(cs_store *s, int64_t now_ms, size_t max, cs_alert_rec **out, size_t *n,
                            cs_error *err);
    cs_status (*alert_delivery)(cs_store *s, int64_t id, int64_t delivered_at_ms, int attempts,
                                int64_t next_attempt_ms, cs_error *err);
    cs_status (*alert_claim)(cs_store *s, int64_t id, int64_t seen_next_attempt_ms,
                             int64_t lease_until_ms, bool *claimed, cs_error *err);
    cs_status (*patient_code_set)(cs_store *s, const char *study, const char *code_hash,
                                  int64_t expires_at, cs_check_outcome *outcome, cs_error *err);
    cs_status (*patient_study)(cs_store *s, const char *code_hash, int64_t now, bool *found,
                               bool *expired, char *study, cs_error *err);
    cs_status (*prep_tick)(cs_store *s, const char *study, const char *step, int64_t at_ms,
                           cs_check_outcome *outcome, cs_error *err);
    cs_status (*prep_ticks)(cs_store *s, const char *study, cs_prep_tick_rec **out, size_t *n,
                            cs_error *err);
    /* reader training (schema 6) */
    cs_status (*course_create)(cs_store *s, const cs_course_rec *c, cs_check_outcome *outcome,
                               cs_error *err);
    cs_status (*course_get)(cs_store *s, const char *id, bool *found, cs_course_rec *out,
                            cs_error *err);
    cs_status (*courses_list)(cs_store *s, cs_course_rec **out, size_t *n, cs_error *err);
    cs_status (*case_create)(cs_store *s, const cs_case_rec *c, cs_check_outcome *outcome,
                             cs_error *err);
    cs_status (*case_get)(cs_store *s, const char *id, bool *found, cs_case_rec *out,
                          cs_error *err);
    cs_status (*cases_list)(cs_store *s, const char *course, cs_case_rec **out, size_t *n,
                            cs_error *err);
    cs_status (*attempt_open)(cs_store *s, const char *case_id, const char *trainee, int64_t now_ms,
                              cs_attempt_rec *out, cs_check_outcome *outcome, cs_error *err);
    cs_status (*attempt_get)(cs_store *s, int64_t id, bool *found, cs_attempt_rec *out,
                             cs_error *err);
    cs_status (*attempt_answer)(cs_store *s, int64_t id, const char *answer,
                                cs_check_outcome *outcome, cs_error *err);
    cs_status (*attempt_submit)(cs_store *s, int64_t id, const char *answer, const char *score,
                                int64_t at_ms, cs_check_outcome *outcome, cs_error *err);
    cs_status (*attempts_list)(cs_store *s, const char *course, const char *trainee,
                               cs_attempt_rec **out, size_t *n, cs_error *err);
    /* the PACS export queue (issue 9 part) */
    cs_status (*pacs_enqueue)(cs_store *s, const char *study, const char *by, int64_t now_ms,
                              cs_check_outcome *outcome, cs_pacs_export_rec *out, cs_error *err);
    cs_status (*pacs_get)(cs_store *s, const char *study, bool *found, cs_pacs_export_rec *out,
                          cs_error *err);
    cs_status (*pacs_due)(cs_store *s, int64_t now_ms, size_t max, cs_pacs_export_rec **out,
                          size_t *n, cs_error *err);
    cs_status (*pacs_claim)(cs_store *s, const cs_pacs_export_rec *seen, int64_t lease_until_ms,
                            bool *claimed, cs_error *err);
    cs_status (*pacs_record)(cs_store *s, const cs_pacs_export_rec *rec, bool *applied,
                             cs_error *err);
    /* reading time (schema 8) */
    cs_status (*reading_add)(cs_store *s, const char *study, const char *reader, const char *view,
                             double seconds, int64_t at_ms, cs_check_outcome *outcome,
                             cs_error *err);
    cs_status (*reading_list)(cs_store *s, const char *study, cs_reading_rec **out, size_t *n,
                              cs_error *err);
    /* several servers (schema 10): NULL on a backend that is not shared */
    cs_status (*login_counts)(cs_store *s, const char *user, const char *ip, int64_t now_ms,
                              int64_t forget_ms, cs_login_counts *out, cs_error *err);
    cs_status (*login_failed)(cs_store *s, const char *user, const char *ip, int64_t now_ms,
                              int64_t forget_ms, cs_error *err);
    cs_status (*login_refused)(cs_store *s, const char *user, const char *ip, int64_t now_ms,
                               cs_error *err);
    cs_status (*login_cleared)(cs_store *s, const char *user, const char *ip,
                               cs_login_burst_rec *ended, cs_error *err);
    cs_status (*login_take_burst)(cs_store *s, int64_t now_ms, int64_t quiet_ms, bool all,
                                  int64_t forget_ms, bool *found, cs_login_burst_rec *out,
                                  cs_error *err);
    cs_status (*upload_lease_take)(cs_store *s, const char *id, int64_t stale_ms, bool *took,
                                   cs_error *err);
    cs_status (*upload_lease_beat)(cs_store *s, const char *id, bool *held, cs_error *err);
    cs_status (*upload_lease_drop)(cs_store *s, const char *id, cs_error *err);
    cs_status (*upload_lease_held)(cs_store *s, const char *id, bool *held, cs_error *err);
    cs_status (*ingest_claim)(cs_store *s, const char *study, int64_t lease_ms, bool *got,
                              bool *fresh, cs_error *err);
    cs_status (*ingest_unclaim)(cs_store *s, const char *study, bool *woken, cs_error *err);
    cs_status (*notify)(cs_store *s, const char *channel, const char *payload, cs_error *err);
    cs_status (*listen)(cs_store *s, const char *channel, cs_store_listener **out, cs_error *err);
    /* issue 9 part: report addenda (schema 9) */
    cs_status (*addendum_add)(cs_store *s, cs_addendum_rec *a, cs_check_outcome *outcome,
                              cs_error *err);
    cs_status (*addenda_list)(cs_store *s, const char *study, cs_addendum_rec **out, size_t *n,
                              cs_error *err);
} cs_store_ops;

/* A listener (cs_store_listen): the backend's own; it knows how to wait
 * and close itself. */
struct cs_store_listener {
    cs_status (*wait)(cs_store_listener *l, int timeout_ms,
                      void (*on)(const char *payload, void *arg), void *arg, cs_error *err);
    void (*close)(cs_store_listener *l);
};

/* Every backend's handle starts with this. */
struct cs_store {
    const cs_store_ops *ops;
};

cs_status cs_store_sqlite_open(const char *data_dir, cs_store **out, cs_error *err);
/* `url`: a postgresql:// (or postgres://) connection URL (store_pg.c). */
cs_status cs_store_pg_open(const char *url, cs_store **out, cs_error *err);

#endif
