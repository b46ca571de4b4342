/* store.c - the metadata store's public calls, dispatched to a backend. */
#include "store/store_backend.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

bool cs_store_is_pg_url(const char *s)
{
    return s && (strncmp(s, "postgresql://", 13) == 0 || strncmp(s, "postgres://", 11) == 0);
}

cs_status cs_store_open_db(const char *db, const char *data_dir, cs_store **out, cs_error *err)
{
    if (!out)
        return cs_error_set(err, CS_ERR_ARG, "store: no handle to fill");
    if (db && *db) {
        if (!cs_store_is_pg_url(db))
            return cs_error_set(err, CS_ERR_ARG,
                                "store: db must be a postgresql:// URL (or empty for SQLite in"
                                " the data folder)");
        cs_status r = cs_store_pg_open(db, out, err);
        /* The study files live in the data folder whichever backend holds
         * the metadata: it exists once the store is open, as with SQLite. */
        if (r == CS_OK && data_dir && *data_dir && mkdir(data_dir, 0750) != 0 && errno != EEXIST) {
            r = cs_error_set(err, CS_ERR_IO, "cannot create data folder %s: %s", data_dir,
                             strerror(errno));
            cs_store_close(*out);
            *out = NULL;
        }
        return r;
    }
    if (!data_dir || !*data_dir)
        return cs_error_set(err, CS_ERR_ARG, "store: no data folder given");
    return cs_store_sqlite_open(data_dir, out, err);
}

cs_status cs_store_open(const char *location, cs_store **out, cs_error *err)
{
    if (cs_store_is_pg_url(location))
        return cs_store_open_db(location, NULL, out, err);
    return cs_store_open_db(NULL, location, out, err);
}

void cs_store_close(cs_store *s)
{
    if (s)
        s->ops->close(s);
}

#define CHECK(s) \
    if (!(s))    \
    return cs_error_set(err, CS_ERR_ARG, "store: NULL handle")

cs_status cs_store_ping(cs_store *s, cs_error *err)
{
    CHECK(s);
    return s->ops->ping(s, err);
}

cs_status cs_store_study_create(cs_store *s, const cs_study_rec *rec, const char *code_hash,
                                cs_error *err)
{
    CHECK(s && rec && code_hash);
    return s->ops->study_create(s, rec, code_hash, err);
}

cs_status cs_store_study_get(cs_store *s, const char *id, bool *found, cs_study_rec *out,
                             cs_error *err)
{
    CHECK(s && id && found && out);
    return s->ops->study_get(s, id, found, out, err);
}

cs_status cs_store_study_patient_set(cs_store *s, const char *id, const cs_patient_rec *p,
                                     const cs_episode_rec *e, const cs_study_rec *was,
                                     cs_addendum_rec *note, bool *found, bool *stale, bool *noted,
                                     cs_error *err)
{
    CHECK(s && id && p && e && found && (!was || stale));
    if (noted)
        *noted = false;
    if (stale)
        *stale = false;
    return s->ops->study_patient_set(s, id, p, e, was, note, found, stale, noted, err);
}

cs_status cs_store_enrol(cs_store *s, const char *code_hash, const char *token_hash, int64_t now,
                         cs_enrol_outcome *outcome, char *study, cs_error *err)
{
    CHECK(s && code_hash && token_hash && outcome && study);
    return s->ops->enrol(s, code_hash, token_hash, now, outcome, study, err);
}

cs_status cs_store_device_study(cs_store *s, const char *token_hash, bool *found, char *study,
                                cs_error *err)
{
    CHECK(s && token_hash && found && study);
    return s->ops->device_study(s, token_hash, found, study, err);
}

cs_status cs_store_devices_revoke(cs_store *s, const char *study, int64_t now, int *n,
                                  cs_error *err)
{
    CHECK(s && study && n);
    return s->ops->devices_revoke(s, study, now, n, err);
}

cs_status cs_store_upload_create(cs_store *s, const cs_upload_rec *rec, cs_error *err)
{
    CHECK(s && rec);
    return s->ops->upload_create(s, rec, err);
}

cs_status cs_store_upload_get(cs_store *s, const char *id, bool *found, cs_upload_rec *out,
                              cs_error *err)
{
    CHECK(s && id && found && out);
    return s->ops->upload_get(s, id, found, out, err);
}

cs_status cs_store_upload_update(cs_store *s, const cs_upload_rec *rec, cs_error *err)
{
    CHECK(s && rec);
    return s->ops->upload_update(s, rec, err);
}

cs_status cs_store_upload_list(cs_store *s, const char *study, bool only_open, cs_upload_rec **out,
                               size_t *n, cs_error *err)
{
    CHECK(s && out && n);
    return s->ops->upload_list(s, study, only_open, out, n, err);
}

cs_status cs_store_study_touch(cs_store *s, const char *study, int64_t now_ms, cs_error *err)
{
    CHECK(s && study);
    return s->ops->study_touch(s, study, now_ms, err);
}

cs_status cs_store_frame_add(cs_store *s, const char *study, const cs_frame_rec *f,
                             uint64_t ingest_offset, cs_error *err)
{
    CHECK(s && study && f);
    return s->ops->frames_add(s, study, f, 1, ingest_offset, err);
}

cs_status cs_store_frames_add(cs_store *s, const char *study, const cs_frame_rec *f, size_t n,
                              uint64_t ingest_offset, cs_error *err)
{
    CHECK(s && study && (f || n == 0));
    return s->ops->frames_add(s, study, f, n, ingest_offset, err);
}

cs_status cs_store_study_set_ingest(cs_store *s, const char *study, uint64_t ingest_offset,
                                    cs_error *err)
{
    CHECK(s && study);
    return s->ops->study_set_ingest(s, study, ingest_offset, err);
}

cs_status cs_store_study_counts(cs_store *s, const char *study, cs_study_counts *out, cs_error *err)
{
    CHECK(s && study && out);
    return s->ops->study_counts(s, study, out, err);
}

cs_status cs_store_polyp_settings(cs_store *s, const char *study, cs_polyp_setting *out, size_t cap,
                                  size_t *n, cs_error *err)
{
    CHECK(s && study && (out || cap == 0) && n);
    *n = 0;
    return s->ops->polyp_settings(s, study, out, cap, n, err);
}

static int fact_cmp(const void *a, const void *b)
{
    return strcmp(((const cs_worklist_fact *)a)->study, ((const cs_worklist_fact *)b)->study);
}

cs_status cs_store_worklist_facts(cs_store *s, cs_worklist_fact **out, size_t *n, cs_error *err)
{
    CHECK(s && out && n);
    *out = NULL;
    *n = 0;
    cs_status st = s->ops->worklist_facts(s, out, n, err);
    /* The backends' collations differ; the callers search with strcmp. */
    if (st == CS_OK && *n > 1)
        qsort(*out, *n, sizeof **out, fact_cmp);
    return st;
}

cs_status cs_store_study_frames(cs_store *s, const char *study, bool errors, cs_frame_brief *out,
                                size_t cap, size_t *n, cs_error *err)
{
    CHECK(s && study && out && n);
    return s->ops->study_frames(s, study, errors, out, cap, n, err);
}

cs_status cs_store_studies_pending(cs_store *s, char (**ids)[CS_ID_MAX], size_t *n, cs_error *err)
{
    CHECK(s && ids && n);
    return s->ops->studies_pending(s, ids, n, err);
}

/* ---- the reading workstation (schema 2) ---------------------------------- */

cs_status cs_store_studies_list(cs_store *s, cs_study_rec **out, size_t *n, cs_error *err)
{
    CHECK(s && out && n);
    return s->ops->studies_list(s, out, n, err);
}

cs_status cs_store_study_assign(cs_store *s, const char *study, const char *reader, bool *found,
                                cs_error *err)
{
    CHECK(s && study && reader && found);
    return s->ops->study_assign(s, study, reader, found, err);
}

cs_status cs_store_user_add(cs_store *s, const cs_user_rec *u, bool *exists, cs_error *err)
{
    CHECK(s && u && exists);
    return s->ops->user_add(s, u, exists, err);
}

cs_status cs_store_user_get(cs_store *s, const char *name, bool *found, cs_user_rec *out,
                            cs_error *err)
{
    CHECK(s && name && found && out);
    return s->ops->user_get(s, name, found, out, err);
}

cs_status cs_store_user_update(cs_store *s, const cs_user_rec *u, bool *found, cs_error *err)
{
    CHECK(s && u && found);
    return s->ops->user_update(s, u, found, err);
}

cs_status cs_store_user_list(cs_store *s, cs_user_rec **out, size_t *n, cs_error *err)
{
    CHECK(s && out && n);
    return s->ops->user_list(s, out, n, err);
}

cs_status cs_store_session_create(cs_store *s, const cs_session_rec *r, cs_error *err)
{
    CHECK(s && r);
    return s->ops->session_create(s, r, err);
}

cs_status cs_store_session_get(cs_store *s, const char *id_hash, bool *found, cs_session_rec *out,
                               cs_error *err)
{
    CHECK(s && id_hash && found && out);
    return s->ops->session_get(s, id_hash, found, out, err);
}

cs_status cs_store_session_touch(cs_store *s, const char *id_hash, int64_t now, cs_error *err)
{
    CHECK(s && id_hash);
    return s->ops->session_touch(s, id_hash, now, err);
}

cs_status cs_store_session_delete(cs_store *s, const char *id_hash, cs_error *err)
{
    CHECK(s && id_hash);
    return s->ops->session_delete(s, id_hash, err);
}

cs_status cs_store_sessions_purge(cs_store *s, int64_t idle_before, int64_t created_before, int *n,
                                  cs_error *err)
{
    CHECK(s && n);
    return s->ops->sessions_purge(s, idle_before, created_before, n, err);
}

cs_status cs_store_audit_append(cs_store *s, const cs_audit_rec *r, cs_error *err)
{
    CHECK(s && r);
    if (!r->action[0])
        return cs_error_set(err, CS_ERR_ARG, "store: an audit entry needs an action");
    return s->ops->audit_append(s, r, err);
}

cs_status cs_store_audit_query(cs_store *s, const cs_audit_query *q, cs_audit_rec **out, size_t *n,
                               cs_error *err)
{
    CHECK(s && q && out && n);
    return s->ops->audit_query(s, q, out, n, err);
}

cs_status cs_store_frame_views(cs_store *s, const char *study, uint64_t from_seq,
                               cs_frame_view *out, size_t cap, size_t *n, cs_error *err)
{
    CHECK(s && study && (out || cap == 0) && n);
    return s->ops->frame_views(s, study, from_seq, out, cap, n, err);
}

cs_status cs_store_finding_create(cs_store *s, cs_finding_rec *f, cs_change_outcome *out,
                                  cs_error *err)
{
    CHECK(s && f && out);
    return s->ops->finding_create(s, f, out, err);
}

void cs_store_finding_alert(const cs_finding_rec *f, cs_alert_rec *a)
{
    memset(a, 0, sizeof *a);
    snprintf(a->study, sizeof a->study, "%s", f->study);
    snprintf(a->kind, sizeof a->kind, "suspected_cancer");
    snprintf(a->key, sizeof a->key, "finding-%lld", (long long)f->id);
    snprintf(a->message, sizeof a->message,
             "Suspected cancer marked by %s: %s%s%s, frames %llu-%llu", f->updated_by, f->type,
             f->segment[0] ? " in the " : "", f->segment, (unsigned long long)f->seq_from,
             (unsigned long long)f->seq_to);
    a->raised_at_ms = f->updated_at_ms;
    a->next_attempt_ms = f->updated_at_ms;
}

cs_status cs_store_finding_update(cs_store *s, cs_finding_rec *f, int expected_version,
                                  cs_change_outcome *out, cs_error *err)
{
    CHECK(s && f && out);
    return s->ops->finding_update(s, f, expected_version, out, err);
}

cs_status cs_store_finding_delete(cs_store *s, const char *study, int64_t id, const char *by,
                                  int64_t at_ms, int expected_version, cs_change_outcome *out,
                                  cs_error *err)
{
    CHECK(s && study && by && out);
    return s->ops->finding_delete(s, study, id, by, at_ms, expected_version, out, err);
}

cs_status cs_store_findings_list(cs_store *s, const char *study, bool include_deleted,
                                 cs_finding_rec **out, size_t *n, cs_error *err)
{
    CHECK(s && study && out && n);
    return s->ops->findings_list(s, study, include_deleted, out, n, err);
}

cs_status cs_store_finding_history(cs_store *s, const char *study, int64_t id, cs_finding_rec **out,
                                   size_t *n, cs_error *err)
{
    CHECK(s && study && out && n);
    return s->ops->finding_history(s, study, id, out, n, err);
}

cs_status cs_store_mark_set(cs_store *s, const char *study, const cs_mark_rec *m,
                            cs_change_outcome *out, cs_error *err)
{
    CHECK(s && study && m && out);
    return s->ops->mark_set(s, study, m, out, err);
}

cs_status cs_store_mark_add(cs_store *s, const char *study, const cs_mark_rec *m,
                            cs_change_outcome *out, cs_error *err)
{
    CHECK(s && study && m && out);
    return s->ops->mark_add(s, study, m, out, err);
}

cs_status cs_store_mark_delete(cs_store *s, const char *study, const char *kind, const char *key,
                               cs_change_outcome *out, cs_error *err)
{
    CHECK(s && study && kind && key && out);
    return s->ops->mark_delete(s, study, kind, key, out, err);
}

cs_status cs_store_marks_list(cs_store *s, const char *study, cs_mark_rec **out, size_t *n,
                              cs_error *err)
{
    CHECK(s && study && out && n);
    return s->ops->marks_list(s, study, out, n, err);
}

cs_status cs_store_report_get(cs_store *s, const char *study, bool *found, cs_report_rec *out,
                              cs_error *err)
{
    CHECK(s && study && found && out);
    return s->ops->report_get(s, study, found, out, err);
}

cs_status cs_store_report_save(cs_store *s, cs_report_rec *r, int expected_version,
                               cs_change_outcome *out, cs_error *err)
{
    CHECK(s && r && out);
    /* Only a signature makes a report signed: a save cannot. */
    if (strcmp(r->state, "draft") != 0 && strcmp(r->state, "read") != 0)
        return cs_error_set(err, CS_ERR_ARG, "store: a report is saved as draft or read, not %s",
                            r->state);
    return s->ops->report_save(s, r, expected_version, out, err);
}

cs_status cs_store_report_sign(cs_store *s, const char *study, const char *by, int64_t at_ms,
                               int expected_version, cs_change_outcome *outcome, cs_report_rec *out,
                               cs_error *err)
{
    CHECK(s && study && by && outcome && out);
    return s->ops->report_sign(s, study, by, at_ms, expected_version, outcome, out, err);
}

cs_status cs_store_report_signed(cs_store *s, const char *study, bool *is_signed, cs_error *err)
{
    CHECK(s && study && is_signed);
    return s->ops->report_signed(s, study, is_signed, err);
}

/* ---- rules checked in the transaction ------------------------------------ */

const char *cs_check_outcome_name(cs_check_outcome o)
{
    switch (o) {
    case CS_CHECK_OK: return "ok";
    case CS_CHECK_NOT_FOUND: return "not_found";
    case CS_CHECK_CONFLICT: return "conflict";
    case CS_CHECK_LOCKED: return "locked";
    case CS_CHECK_INVALID: return "invalid";
    case CS_CHECK_INCOMPLETE: return "incomplete";
    case CS_CHECK_LAST_ADMIN: return "last_admin";
    case CS_CHECK_BASIS_CHANGED: return "basis_changed";
    }
    return "unknown";
}

cs_status cs_store_addendum_add(cs_store *s, cs_addendum_rec *a, cs_check_outcome *outcome,
                                cs_error *err)
{
    CHECK(s && a && outcome);
    *outcome = CS_CHECK_NOT_FOUND;
    if (!a->reason[0] || !a->text[0] || !a->by[0])
        return cs_error_set(err, CS_ERR_ARG, "store: an addendum needs who, why and what");
    return s->ops->addendum_add(s, a, outcome, err);
}

cs_status cs_store_addenda_list(cs_store *s, const char *study, cs_addendum_rec **out, size_t *n,
                                cs_error *err)
{
    CHECK(s && study && out && n);
    *out = NULL;
    *n = 0;
    return s->ops->addenda_list(s, study, out, n, err);
}

cs_status cs_store_report_basis(cs_store *s, const char *study, char basis[CS_REPORT_BASIS_HEX],
                                cs_error *err)
{
    CHECK(s && study && basis);
    basis[0] = '\0';
    return s->ops->report_basis(s, study, basis, err);
}

cs_status cs_store_report_sign_checked(cs_store *s, const char *study, const char *by,
                                       int64_t at_ms, int shown_version, const char *shown_basis,
                                       cs_check_outcome *outcome, cs_report_rec *out, cs_error *err)
{
    CHECK(s && study && by && outcome);
    *outcome = CS_CHECK_NOT_FOUND;
    if (shown_version <= 0)
        return cs_error_set(err, CS_ERR_ARG,
                            "store: signing needs the version the signer was shown (got %d)",
                            shown_version);
    if (!shown_basis)
        return cs_error_set(err, CS_ERR_ARG,
                            "store: signing needs the basis stamp the signer was shown");
    return s->ops->report_sign_checked(s, study, by, at_ms, shown_version, shown_basis, outcome,
                                       out, err);
}

cs_status cs_store_study_close(cs_store *s, const char *study, const char *by, int64_t at_ms,
                               cs_check_outcome *outcome, cs_error *err)
{
    CHECK(s && study && by && outcome);
    *outcome = CS_CHECK_NOT_FOUND;
    if (at_ms <= 0)
        return cs_error_set(err, CS_ERR_ARG, "store: closing a study needs a time");
    return s->ops->study_close(s, study, by, at_ms, outcome, err);
}

cs_status cs_store_upload_update_checked(cs_store *s, const cs_upload_rec *rec,
                                         cs_check_outcome *outcome, cs_error *err)
{
    CHECK(s && rec && outcome);
    *outcome = CS_CHECK_NOT_FOUND;
    return s->ops->upload_update_checked(s, rec, outcome, err);
}

cs_status cs_store_upload_create_checked(cs_store *s, const cs_upload_rec *rec,
                                         cs_check_outcome *outcome, cs_error *err)
{
    CHECK(s && rec && outcome);
    *outcome = CS_CHECK_NOT_FOUND;
    return s->ops->upload_create_checked(s, rec, outcome, err);
}

cs_status cs_store_user_update_checked(cs_store *s, const cs_user_rec *u, cs_check_outcome *outcome,
                                       cs_error *err)
{
    CHECK(s && u && outcome);
    *outcome = CS_CHECK_NOT_FOUND;
    return s->ops->user_update_checked(s, u, outcome, err);
}

/* ---- the live care loop -------------------------------------------------- */

static bool pct_ok(int v) { return v >= 0 && v <= 100; }

cs_status cs_store_hub_status_put(cs_store *s, const char *study, const cs_hub_status_rec *st,
                                  cs_hub_status_rec *previous, cs_check_outcome *outcome,
                                  cs_error *err)
{
    CHECK(s && study && st && outcome);
    *outcome = CS_CHECK_NOT_FOUND;
    if (st->at_ms <= 0 || !pct_ok(st->battery_pct) || !pct_ok(st->spool_used_pct) ||
        st->signal_dbm < -150 || st->signal_dbm > 0 || strlen(st->recorder) == 0)
        return cs_error_set(err, CS_ERR_ARG, "store: a hub status out of range");
    cs_hub_status_rec ignored;
    return s->ops->hub_status_put(s, study, st, previous ? previous : &ignored, outcome, err);
}

cs_status cs_store_hub_status_get(cs_store *s, const char *study, cs_hub_status_rec *out,
                                  cs_error *err)
{
    CHECK(s && study && out);
    memset(out, 0, sizeof *out);
    return s->ops->hub_status_get(s, study, out, err);
}

static int hub_item_cmp(const void *a, const void *b)
{
    return strcmp(((const cs_hub_status_item *)a)->study, ((const cs_hub_status_item *)b)->study);
}

cs_status cs_store_hub_status_list(cs_store *s, cs_hub_status_item **out, size_t *n, cs_error *err)
{
    CHECK(s && out && n);
    *out = NULL;
    *n = 0;
    cs_status st = s->ops->hub_status_list(s, out, n, err);
    if (st == CS_OK && *n > 1) /* the backends' collations differ */
        qsort(*out, *n, sizeof **out, hub_item_cmp);
    return st;
}

cs_status cs_store_study_protocol_set(cs_store *s, const char *study, const char *json,
                                      cs_check_outcome *outcome, cs_error *err)
{
    CHECK(s && study && json && outcome);
    *outcome = CS_CHECK_NOT_FOUND;
    if (strlen(json) >= CS_PROTOCOL_MAX)
        return cs_error_set(err, CS_ERR_ARG, "store: a protocol over %d bytes",
                            CS_PROTOCOL_MAX - 1);
    return s->ops->study_protocol_set(s, study, json, outcome, err);
}

cs_status cs_store_study_protocol_get(cs_store *s, const char *study, char **json, cs_error *err)
{
    CHECK(s && study && json);
    *json = NULL;
    return s->ops->study_protocol_get(s, study, json, err);
}

cs_status cs_store_alert_raise(cs_store *s, cs_alert_rec *rec, bool *raised,
                               cs_check_outcome *outcome, cs_error *err)
{
    CHECK(s && rec && raised && outcome);
    *raised = false;
    *outcome = CS_CHECK_NOT_FOUND;
    if (!rec->study[0] || !rec->kind[0] || rec->raised_at_ms <= 0)
        return cs_error_set(err, CS_ERR_ARG, "store: an alert needs a study, a kind and a time");
    return s->ops->alert_raise(s, rec, raised, outcome, err);
}

cs_status cs_store_alerts_list(cs_store *s, const char *study, cs_alert_rec **out, size_t *n,
                               cs_error *err)
{
    CHECK(s && study && out && n);
    return s->ops->alerts_list(s, study, out, n, err);
}

cs_status cs_store_pacs_enqueue_unrequested(cs_store *s, const char *by, int64_t now_ms,
                                            int *queued, cs_error *err)
{
    CHECK(s && by && queued);
    *queued = 0;
    return s->ops->pacs_enqueue_unrequested(s, by, now_ms, queued, err);
}

cs_status cs_store_alerts_open(cs_store *s, size_t max, cs_alert_rec **out, size_t *n,
                               cs_error *err)
{
    CHECK(s && out && n);
    return s->ops->alerts_open(s, max, out, n, err);
}

cs_status cs_store_alert_ack(cs_store *s, const char *study, int64_t id, const char *by,
                             int64_t at_ms, cs_check_outcome *outcome, cs_alert_rec *out,
                             cs_error *err)
{
    CHECK(s && study && by && outcome);
    *outcome = CS_CHECK_NOT_FOUND;
    if (at_ms <= 0 || !by[0])
        return cs_error_set(err, CS_ERR_ARG, "store: acknowledging needs a user and a time");
    cs_alert_rec ignored;
    return s->ops->alert_ack(s, study, id, by, at_ms, outcome, out ? out : &ignored, err);
}

cs_status cs_store_alerts_due(cs_store *s, int64_t now_ms, size_t max, cs_alert_rec **out,
                              size_t *n, cs_error *err)
{
    CHECK(s && out && n);
    *out = NULL;
    *n = 0;
    return s->ops->alerts_due(s, now_ms, max, out, n, err);
}

cs_status cs_store_alert_delivery(cs_store *s, int64_t id, int64_t delivered_at_ms, int attempts,
                                  int64_t next_attempt_ms, cs_error *err)
{
    CHECK(s);
    return s->ops->alert_delivery(s, id, delivered_at_ms, attempts, next_attempt_ms, err);
}

cs_status cs_store_alert_claim(cs_store *s, int64_t id, int64_t seen_next_attempt_ms,
                               int64_t lease_until_ms, bool *claimed, cs_error *err)
{
    CHECK(s && claimed);
    *claimed = false;
    return s->ops->alert_claim(s, id, seen_next_attempt_ms, lease_until_ms, claimed, err);
}

cs_status cs_store_patient_code_set(cs_store *s, const char *study, const char *code_hash,
                                    int64_t expires_at, cs_check_outcome *outcome, cs_error *err)
{
    CHECK(s && study && code_hash && outcome);
    *outcome = CS_CHECK_NOT_FOUND;
    if (!code_hash[0] || expires_at <= 0)
        return cs_error_set(err, CS_ERR_ARG, "store: a patient code needs a hash and an expiry");
    return s->ops->patient_code_set(s, study, code_hash, expires_at, outcome, err);
}

cs_status cs_store_patient_study(cs_store *s, const char *code_hash, int64_t now, bool *found,
                                 bool *expired, char *study, cs_error *err)
{
    CHECK(s && code_hash && found && expired && study);
    *found = *expired = false;
    study[0] = '\0';
    return s->ops->patient_study(s, code_hash, now, found, expired, study, err);
}

cs_status cs_store_prep_tick(cs_store *s, const char *study, const char *step, int64_t at_ms,
                             cs_check_outcome *outcome, cs_error *err)
{
    CHECK(s && study && step && outcome);
    *outcome = CS_CHECK_NOT_FOUND;
    if (!step[0] || strlen(step) >= sizeof((cs_prep_tick_rec *)0)->step || at_ms < 0)
        return cs_error_set(err, CS_ERR_ARG, "store: a prep tick needs a step id");
    return s->ops->prep_tick(s, study, step, at_ms, outcome, err);
}

cs_status cs_store_prep_ticks(cs_store *s, const char *study, cs_prep_tick_rec **out, size_t *n,
                              cs_error *err)
{
    CHECK(s && study && out && n);
    *out = NULL;
    *n = 0;
    return s->ops->prep_ticks(s, study, out, n, err);
}

/* ---- reader training ---------------------------------------------------- */

cs_status cs_store_course_create(cs_store *s, const cs_course_rec *c, cs_check_outcome *outcome,
                                 cs_error *err)
{
    CHECK(s && c && outcome);
    return s->ops->course_create(s, c, outcome, err);
}

cs_status cs_store_course_get(cs_store *s, const char *id, bool *found, cs_course_rec *out,
                              cs_error *err)
{
    CHECK(s && id && found && out);
    return s->ops->course_get(s, id, found, out, err);
}

cs_status cs_store_courses_list(cs_store *s, cs_course_rec **out, size_t *n, cs_error *err)
{
    CHECK(s && out && n);
    return s->ops->courses_list(s, out, n, err);
}

cs_status cs_store_case_create(cs_store *s, const cs_case_rec *c, cs_check_outcome *outcome,
                               cs_error *err)
{
    CHECK(s && c && outcome);
    return s->ops->case_create(s, c, outcome, err);
}

cs_status cs_store_case_get(cs_store *s, const char *id, bool *found, cs_case_rec *out,
                            cs_error *err)
{
    CHECK(s && id && found && out);
    return s->ops->case_get(s, id, found, out, err);
}

cs_status cs_store_cases_list(cs_store *s, const char *course, cs_case_rec **out, size_t *n,
                              cs_error *err)
{
    CHECK(s && course && out && n);
    return s->ops->cases_list(s, course, out, n, err);
}

cs_status cs_store_attempt_open(cs_store *s, const char *case_id, const char *trainee,
                                int64_t now_ms, cs_attempt_rec *out, cs_check_outcome *outcome,
                                cs_error *err)
{
    CHECK(s && case_id && trainee && out && outcome);
    return s->ops->attempt_open(s, case_id, trainee, now_ms, out, outcome, err);
}

cs_status cs_store_attempt_get(cs_store *s, int64_t id, bool *found, cs_attempt_rec *out,
                               cs_error *err)
{
    CHECK(s && found && out);
    return s->ops->attempt_get(s, id, found, out, err);
}

cs_status cs_store_attempt_answer(cs_store *s, int64_t id, const char *answer,
                                  cs_check_outcome *outcome, cs_error *err)
{
    CHECK(s && answer && outcome);
    return s->ops->attempt_answer(s, id, answer, outcome, err);
}

cs_status cs_store_attempt_submit(cs_store *s, int64_t id, const char *answer, const char *score,
                                  int64_t at_ms, cs_check_outcome *outcome, cs_error *err)
{
    CHECK(s && answer && score && outcome);
    return s->ops->attempt_submit(s, id, answer, score, at_ms, outcome, err);
}

cs_status cs_store_attempts_list(cs_store *s, const char *course, const char *trainee,
                                 cs_attempt_rec **out, size_t *n, cs_error *err)
{
    CHECK(s && course && trainee && out && n);
    return s->ops->attempts_list(s, course, trainee, out, n, err);
}

/* ---- the PACS export queue (issue 9 part) ---------------------------------- */

cs_status cs_store_pacs_enqueue(cs_store *s, const char *study, const char *by, int64_t now_ms,
                                cs_check_outcome *outcome, cs_pacs_export_rec *out, cs_error *err)
{
    CHECK(s && study && by && outcome);
    *outcome = CS_CHECK_NOT_FOUND;
    cs_pacs_export_rec ignored;
    return s->ops->pacs_enqueue(s, study, by, now_ms, outcome, out ? out : &ignored, err);
}

cs_status cs_store_pacs_get(cs_store *s, const char *study, bool *found, cs_pacs_export_rec *out,
                            cs_error *err)
{
    CHECK(s && study && found && out);
    *found = false;
    return s->ops->pacs_get(s, study, found, out, err);
}

cs_status cs_store_pacs_due(cs_store *s, int64_t now_ms, size_t max, cs_pacs_export_rec **out,
                            size_t *n, cs_error *err)
{
    CHECK(s && out && n);
    *out = NULL;
    *n = 0;
    return s->ops->pacs_due(s, now_ms, max, out, n, err);
}

cs_status cs_store_pacs_claim(cs_store *s, const cs_pacs_export_rec *seen, int64_t lease_until_ms,
                              bool *claimed, cs_error *err)
{
    CHECK(s && seen && claimed);
    *claimed = false;
    return s->ops->pacs_claim(s, seen, lease_until_ms, claimed, err);
}

cs_status cs_store_pacs_record(cs_store *s, const cs_pacs_export_rec *rec, bool *applied,
                               cs_error *err)
{
    CHECK(s && rec && applied);
    *applied = false;
    return s->ops->pacs_record(s, rec, applied, err);
}

/* ---- reading time ------------------------------------------------------- */

cs_status cs_store_reading_add(cs_store *s, const char *study, const char *reader, const char *view,
                               double seconds, int64_t at_ms, cs_check_outcome *outcome,
                               cs_error *err)
{
    CHECK(s && study && reader && view && outcome);
    *outcome = CS_CHECK_NOT_FOUND;
    return s->ops->reading_add(s, study, reader, view, seconds, at_ms, outcome, err);
}

cs_status cs_store_reading_list(cs_store *s, const char *study, cs_reading_rec **out, size_t *n,
                                cs_error *err)
{
    CHECK(s && study && out && n);
    *out = NULL;
    *n = 0;
    return s->ops->reading_list(s, study, out, n, err);
}

/* ---- several servers (schema 10) ---------------------------------------- */

bool cs_store_shared(const cs_store *s) { return s && s->ops->ingest_claim != NULL; }

#define SHARED(s, op)                            \
    if (!(s)->ops->op)                           \
    return cs_error_set(err, CS_ERR_UNSUPPORTED, \
                        "store: %s needs a store shared by several servers (PostgreSQL)", #op)

cs_status cs_store_login_counts(cs_store *s, const char *user, const char *ip, int64_t now_ms,
                                int64_t forget_ms, cs_login_counts *out, cs_error *err)
{
    CHECK(s && user && ip && out);
    memset(out, 0, sizeof *out);
    SHARED(s, login_counts);
    return s->ops->login_counts(s, user, ip, now_ms, forget_ms, out, err);
}

cs_status cs_store_login_failed(cs_store *s, const char *user, const char *ip, int64_t now_ms,
                                int64_t forget_ms, cs_error *err)
{
    CHECK(s && user && ip);
    SHARED(s, login_failed);
    return s->ops->login_failed(s, user, ip, now_ms, forget_ms, err);
}

cs_status cs_store_login_refused(cs_store *s, const char *user, const char *ip, int64_t now_ms,
                                 cs_error *err)
{
    CHECK(s && user && ip);
    SHARED(s, login_refused);
    return s->ops->login_refused(s, user, ip, now_ms, err);
}

cs_status cs_store_login_cleared(cs_store *s, const char *user, const char *ip,
                                 cs_login_burst_rec *ended, cs_error *err)
{
    CHECK(s && user && ip && ended);
    memset(ended, 0, sizeof *ended);
    SHARED(s, login_cleared);
    return s->ops->login_cleared(s, user, ip, ended, err);
}

cs_status cs_store_login_take_burst(cs_store *s, int64_t now_ms, int64_t quiet_ms, bool all,
                                    int64_t forget_ms, bool *found, cs_login_burst_rec *out,
                                    cs_error *err)
{
    CHECK(s && found && out);
    *found = false;
    memset(out, 0, sizeof *out);
    SHARED(s, login_take_burst);
    return s->ops->login_take_burst(s, now_ms, quiet_ms, all, forget_ms, found, out, err);
}

cs_status cs_store_upload_lease_take(cs_store *s, const char *id, int64_t stale_ms, bool *took,
                                     cs_error *err)
{
    CHECK(s && id && took);
    *took = false;
    SHARED(s, upload_lease_take);
    return s->ops->upload_lease_take(s, id, stale_ms, took, err);
}

cs_status cs_store_upload_lease_beat(cs_store *s, const char *id, bool *held, cs_error *err)
{
    CHECK(s && id && held);
    *held = false;
    SHARED(s, upload_lease_beat);
    return s->ops->upload_lease_beat(s, id, held, err);
}

cs_status cs_store_upload_lease_drop(cs_store *s, const char *id, cs_error *err)
{
    CHECK(s && id);
    SHARED(s, upload_lease_drop);
    return s->ops->upload_lease_drop(s, id, err);
}

cs_status cs_store_upload_lease_held(cs_store *s, const char *id, bool *held, cs_error *err)
{
    CHECK(s && id && held);
    *held = false;
    SHARED(s, upload_lease_held);
    return s->ops->upload_lease_held(s, id, held, err);
}

cs_status cs_store_ingest_claim(cs_store *s, const char *study, int64_t lease_ms, bool *got,
                                bool *fresh, cs_error *err)
{
    CHECK(s && study && got && fresh);
    *got = *fresh = false;
    SHARED(s, ingest_claim);
    return s->ops->ingest_claim(s, study, lease_ms, got, fresh, err);
}

cs_status cs_store_ingest_unclaim(cs_store *s, const char *study, bool *woken, cs_error *err)
{
    CHECK(s && study && woken);
    *woken = false;
    SHARED(s, ingest_unclaim);
    return s->ops->ingest_unclaim(s, study, woken, err);
}

cs_status cs_store_notify(cs_store *s, const char *channel, const char *payload, cs_error *err)
{
    CHECK(s && channel && payload);
    SHARED(s, notify);
    return s->ops->notify(s, channel, payload, err);
}

cs_status cs_store_listen(cs_store *s, const char *channel, cs_store_listener **out, cs_error *err)
{
    CHECK(s && channel && out);
    *out = NULL;
    SHARED(s, listen);
    return s->ops->listen(s, channel, out, err);
}

cs_status cs_store_listener_wait(cs_store_listener *l, int timeout_ms,
                                 void (*on)(const char *payload, void *arg), void *arg,
                                 cs_error *err)
{
    if (!l || !on)
        return cs_error_set(err, CS_ERR_ARG, "store: NULL listener");
    return l->wait(l, timeout_ms, on, arg, err);
}

void cs_store_listener_close(cs_store_listener *l)
{
    if (l)
        l->close(l);
}
