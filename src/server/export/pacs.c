/* pacs.c - the PACS export queue's worker (pacs.h, docs/pacs.md). */
#include "server/export/pacs.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server/core/core.h"
#include "server/export/uid.h"

#define PACS_BATCH 8
#define PACS_KEY_FRAMES_MAX 256 /* more than the report allows (report.c) */
/* Who requested an export the start-up sweep queued (requested_by). */
#define PACS_SWEEPER "capscreen (signed, never queued)"

struct cs_pacs {
    cs_pacs_deps d;
    char host[256];
    int port;
    char called_aet[17], calling_aet[17]; /* AE titles: at most 16 characters */

    pthread_mutex_t mu;
    pthread_cond_t cv; /* wake or stop */
    bool stop, woken;
    pthread_t thread;
    bool started;
};

static bool stopping(cs_pacs *p)
{
    pthread_mutex_lock(&p->mu);
    bool s = p->stop;
    pthread_mutex_unlock(&p->mu);
    return s;
}

/* One send's stop check (cs_dicom_peer.stop, and between key frames
 * while the instances are built): once the server stops (cs_pacs_free)
 * the send ends at the next instance rather than holding the stop for the
 * whole study; `fired` tells a stop from a failure. */
typedef struct send_stop {
    cs_pacs *p;
    bool fired;
} send_stop;

static bool send_should_stop(void *ctx)
{
    send_stop *s = ctx;
    if (!s->fired && stopping(s->p))
        s->fired = true;
    return s->fired;
}

void cs_pacs_accession(const char *study, char out[17]) { cs_uid_accession(study, out); }

/* A PN component: '^' '=' '\\' separate components, groups and values,
 * so a name's own become spaces. */
static void pn_clean(char *s)
{
    for (; *s; s++)
        if (*s == '^' || *s == '=' || *s == '\\')
            *s = ' ';
}

cs_status cs_pacs_identity_load(cs_store *store, const char *study, bool *found,
                                cs_dicom_identity *id, cs_error *err)
{
    cs_study_rec sr;
    memset(id, 0, sizeof *id);
    cs_status st = cs_store_study_get(store, study, found, &sr, err);
    if (st != CS_OK || !*found)
        return st;
    /* No route queues one now; an export queued before schema 12 made the
     * study a training study must not send it as a patient's. */
    if (sr.training)
        return cs_error_set(err, CS_ERR_ARG,
                            "study %s holds a training case's frames, no patient's: not exported",
                            study);
    if ((st = cs_uid_study(study, id->study_uid, err)) != CS_OK ||
        (st = cs_uid_key_frame_series(study, id->series_uid, err)) != CS_OK)
        return st;
    cs_pacs_accession(study, id->accession);
    cs_pacs_accession(study, id->study_id);
    time_t t = (time_t)sr.created_at;
    struct tm tm;
    if (localtime_r(&t, &tm)) {
        strftime(id->study_date, sizeof id->study_date, "%Y%m%d", &tm);
        strftime(id->study_time, sizeof id->study_time, "%H%M%S", &tm);
    }
    snprintf(id->study_description, sizeof id->study_description, "Capsule endoscopy");
    snprintf(id->series_description, sizeof id->series_description, "Key frames");
    id->series_number = 1;
    /* The patient (docs/clinical-record.md): PatientID the NHS number
     * (issuer "NHS"), PatientName "Family^Given", birth date YYYYMMDD, sex
     * M/F/O ("unknown": empty), referring physician the episode's
     * referrer. A study without a patient (a demo, an import) leaves them
     * empty (type 2: present, empty). */
    const cs_patient_rec *pt = &sr.patient;
    if (pt->nhs_number[0]) {
        snprintf(id->patient_id, sizeof id->patient_id, "%s", pt->nhs_number);
        snprintf(id->patient_id_issuer, sizeof id->patient_id_issuer, "NHS");
        char family[sizeof pt->family], given[sizeof pt->given];
        snprintf(family, sizeof family, "%s", pt->family);
        snprintf(given, sizeof given, "%s", pt->given);
        pn_clean(family);
        pn_clean(given);
        snprintf(id->patient_name, sizeof id->patient_name, "%s^%s", family, given);
        /* YYYY-MM-DD (checked on input) as DA. */
        if (strlen(pt->birth_date) == 10)
            snprintf(id->patient_birth_date, sizeof id->patient_birth_date, "%.4s%.2s%.2s",
                     pt->birth_date, pt->birth_date + 5, pt->birth_date + 8);
        const char *sex = strcmp(pt->sex, "female") == 0  ? "F"
                          : strcmp(pt->sex, "male") == 0  ? "M"
                          : strcmp(pt->sex, "other") == 0 ? "O"
                                                          : "";
        snprintf(id->patient_sex, sizeof id->patient_sex, "%s", sex);
    }
    /* The referrer is free text: all of it the family name component. */
    snprintf(id->referring_physician, sizeof id->referring_physician, "%s", sr.episode.referrer);
    pn_clean(id->referring_physician);
    return CS_OK;
}

/* The signed report's key frames (frame numbers); *n 0 when it has none. */
static cs_status key_frames(cs_store *store, const char *study, uint64_t *seqs, size_t cap,
                            size_t *n, cs_error *err)
{
    *n = 0;
    bool found = false;
    cs_report_rec *rep = malloc(sizeof *rep);
    if (!rep)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory reading the report");
    cs_status st = cs_store_report_get(store, study, &found, rep, err);
    if (st == CS_OK && (!found || strcmp(rep->state, "signed") != 0))
        st = cs_error_set(err, CS_ERR_ARG, "the study's report is not signed");
    json_t *content = st == CS_OK ? json_loads(rep->content, 0, NULL) : NULL;
    if (st == CS_OK && !content)
        st = cs_error_set(err, CS_ERR_CORRUPT, "the signed report's content is not JSON");
    json_t *kf = json_object_get(content, "key_frames");
    for (size_t i = 0; st == CS_OK && kf && i < json_array_size(kf) && *n < cap; i++) {
        json_t *v = json_array_get(kf, i);
        if (json_is_integer(v) && json_integer_value(v) >= 0)
            seqs[(*n)++] = (uint64_t)json_integer_value(v);
    }
    json_decref(content);
    free(rep);
    return st;
}

/* Build and send the study's key frames; *sent gets how many the PACS
 * stored, `what` (for the audit) which frames and the patient ID they
 * carried, `warned` (wcap bytes) the frames the PACS stored with a
 * warning status and what it said ("" when none). */
static cs_status send_study(cs_pacs *p, const char *study, int *sent, char *what, size_t cap,
                            char *warned, size_t wcap, send_stop *stop, cs_error *err)
{
    uint64_t seqs[PACS_KEY_FRAMES_MAX];
    size_t n = 0, stored = 0;
    bool found = false;
    cs_dicom_identity id;
    cs_error ie = {0};
    *sent = 0;
    warned[0] = '\0';
    cs_status st = key_frames(p->d.store, study, seqs, PACS_KEY_FRAMES_MAX, &n, err);
    if (st == CS_OK && (st = cs_pacs_identity_load(p->d.store, study, &found, &id, err)) == CS_OK &&
        !found)
        st = cs_error_set(err, CS_ERR_ARG, "no study '%s'", study);
    /* Details stored before their input rules (docs/clinical-record.md)
     * may not fit DICOM: the export fails saying which, never cuts them;
     * a correction (PUT .../patient) lets the next attempt through. */
    if (st == CS_OK && n > 0 && (st = cs_dicom_identity_check(&id, &ie)) != CS_OK)
        st = cs_error_set(err, st, "the study's patient or episode cannot be sent: %s", ie.msg);
    if (st == CS_OK) {
        size_t at = (size_t)snprintf(what, cap, "frames");
        for (size_t i = 0; i < n && at < cap; i++)
            at += (size_t)snprintf(what + at, cap - at, "%s%llu", i ? ", " : " ",
                                   (unsigned long long)seqs[i]);
        if (n == 0)
            snprintf(what, cap, "no key frames");
        if (at < cap)
            snprintf(what + at, cap - at, " as patient %s",
                     id.patient_id[0] ? id.patient_id : "(not recorded)");
    }
    if (st != CS_OK || n == 0)
        return st;
    cs_dicom_instance **inst = calloc(n, sizeof *inst);
    uint16_t *status = calloc(n, sizeof *status);
    if (!inst || !status) {
        free(inst);
        free(status);
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory building the instances");
    }
    for (size_t i = 0; i < n && st == CS_OK; i++) {
        if (send_should_stop(stop)) {
            st = cs_error_set(err, CS_ERR_IO,
                              "stopped before sending (%zu of %zu instance(s) built): the server "
                              "is shutting down",
                              i, n);
            break;
        }
        char uid[CS_UID_MAX];
        uint8_t *jpeg = NULL;
        size_t len = 0;
        bool have = false;
        if ((st = cs_uid_frame_instance(study, seqs[i], uid, err)) != CS_OK ||
            (st = p->d.frame(p->d.frame_ctx, study, seqs[i], &have, &jpeg, &len, err)) != CS_OK)
            break;
        if (!have) {
            st = cs_error_set(err, CS_ERR_IO, "key frame %llu has no image",
                              (unsigned long long)seqs[i]);
            break;
        }
        cs_error be = {0};
        st = cs_dicom_instance_build(&id, uid, (int)i + 1, "", "", jpeg, len, &inst[i], &be);
        if (st != CS_OK)
            st = cs_error_set(err, st, "key frame %llu: %s", (unsigned long long)seqs[i], be.msg);
        free(jpeg);
    }
    if (st == CS_OK) {
        cs_dicom_peer peer = {.host = p->host,
                              .port = p->port,
                              .called_aet = p->called_aet,
                              .calling_aet = p->calling_aet,
                              .timeout_s = CS_PACS_TIMEOUT_S,
                              .stop = send_should_stop,
                              .stop_ctx = stop};
        st = cs_dicom_send(&peer, inst, n, &stored, status, err);
    }
    /* A warning means stored (PS3.4 B.2.3): say which frames and why. */
    size_t at = 0;
    for (size_t i = 0; i < stored && i < n && at < wcap; i++) {
        const char *meaning = "";
        if (cs_dicom_store_status(status[i], &meaning) == CS_DICOM_STORE_WARNING)
            at += (size_t)snprintf(warned + at, wcap - at, "%sframe %llu: 0x%04x (%s)",
                                   at ? ", " : "", (unsigned long long)seqs[i], (unsigned)status[i],
                                   meaning);
    }
    for (size_t i = 0; i < n; i++)
        cs_dicom_instance_free(inst[i]);
    free(inst);
    free(status);
    *sent = (int)stored;
    return st;
}

/* Claim one due export (sending, with a lease), send it, record how it
 * went. A newer request made meanwhile stays queued (the store's check). */
static void export_one(cs_pacs *p, const cs_pacs_export_rec *due)
{
    cs_pacs_export_rec r = *due;
    cs_error e = {0}, se = {0};
    bool applied = false;
    int64_t now = cs_now_ms();
    bool claimed = false;
    if (cs_store_pacs_claim(p->d.store, due, now + CS_PACS_LEASE_MS, &claimed, &e) != CS_OK) {
        fprintf(stderr, "capscreen: pacs: cannot claim the export of %s: %s\n", r.study, e.msg);
        return;
    }
    /* Not claimed: requested again meanwhile (the next pass takes the new
     * request), or another server sharing the database took it. */
    if (!claimed)
        return;
    snprintf(r.state, sizeof r.state, "sending");
    r.attempts = due->attempts + 1;
    r.next_attempt_ms = now + CS_PACS_LEASE_MS;
    int sent = 0;
    char what[600] = "", warned[600] = "";
    send_stop stop = {.p = p};
    cs_status st =
        send_study(p, r.study, &sent, what, sizeof what, warned, sizeof warned, &stop, &se);
    now = cs_now_ms();
    if (st == CS_OK) {
        snprintf(r.state, sizeof r.state, "sent");
        r.last_error[0] = '\0';
        r.instances_sent = sent;
        r.sent_at_ms = now;
        r.next_attempt_ms = now;
        if (p->d.audit)
            cs_audit(p->d.audit, NULL, "pacs.sent", r.study,
                     "%d instance(s) to %s:%d (%s): %s; attempt %d, requested by %s%s", sent,
                     p->host, p->port, p->called_aet, what, r.attempts, r.requested_by,
                     warned[0] ? "; stored with warnings (pacs.warning)" : "");
        /* Stored, but the PACS said something about it: its own entry, so
         * the warnings can be found and read in full. */
        if (warned[0]) {
            fprintf(stderr, "capscreen: pacs: export of %s stored with warnings: %s\n", r.study,
                    warned);
            if (p->d.audit)
                cs_audit(p->d.audit, NULL, "pacs.warning", r.study,
                         "%s:%d (%s) stored with a warning status: %s; attempt %d", p->host,
                         p->port, p->called_aet, warned, r.attempts);
        }
    } else if (stop.fired) {
        /* Cut short by a stop, not refused by the PACS: queued again, due
         * at once when a server (this one restarted, or another) next
         * looks, and not counted as an attempt (no backoff grows). */
        snprintf(r.state, sizeof r.state, "queued");
        snprintf(r.last_error, sizeof r.last_error, "%s", se.msg);
        r.attempts = due->attempts;
        r.next_attempt_ms = now;
        fprintf(stderr, "capscreen: pacs: export of %s: %s; queued again\n", r.study, se.msg);
        if (p->d.audit)
            cs_audit(p->d.audit, NULL, "pacs.stopped", r.study,
                     "to %s:%d (%s): %s; %d instance(s) stored before the stop; queued again",
                     p->host, p->port, p->called_aet, se.msg, sent);
    } else {
        int max_s = p->d.backoff_max_s > 0 ? p->d.backoff_max_s : CS_PACS_BACKOFF_MAX_S;
        int64_t backoff_s = r.attempts >= 20 ? max_s : (int64_t)1 << r.attempts;
        if (backoff_s > max_s)
            backoff_s = max_s;
        snprintf(r.state, sizeof r.state, "failed");
        snprintf(r.last_error, sizeof r.last_error, "%s", se.msg);
        r.next_attempt_ms = now + backoff_s * 1000;
        fprintf(stderr, "capscreen: pacs: export of %s (attempt %d): %s\n", r.study, r.attempts,
                se.msg);
        if (p->d.audit)
            cs_audit(p->d.audit, NULL, "pacs.failed", r.study,
                     "attempt %d to %s:%d (%s): %s; %d instance(s) stored before it failed",
                     r.attempts, p->host, p->port, p->called_aet, se.msg, sent);
    }
    if (cs_store_pacs_record(p->d.store, &r, &applied, &e) != CS_OK)
        fprintf(stderr, "capscreen: pacs: cannot record the export of %s: %s\n", r.study, e.msg);
}

/* Queue the signed reports whose export was never requested (signed
 * while the export was off, or lost between signing and queueing); once a
 * start, retried each tick until the store answers. */
static bool queue_unrequested(cs_pacs *p)
{
    int n = 0;
    cs_error e = {0};
    if (cs_store_pacs_enqueue_unrequested(p->d.store, PACS_SWEEPER, cs_now_ms(), &n, &e) != CS_OK) {
        fprintf(stderr, "capscreen: pacs: finding signed reports never queued: %s\n", e.msg);
        return false;
    }
    if (n > 0)
        fprintf(stderr,
                "capscreen: pacs: queued %d signed report(s) whose export was never requested\n",
                n);
    return true;
}

static void *worker_main(void *arg)
{
    cs_pacs *p = arg;
    int tick = p->d.tick_ms > 0 ? p->d.tick_ms : 1000;
    bool swept = false;
    while (!stopping(p)) {
        if (!swept)
            swept = queue_unrequested(p);
        cs_pacs_export_rec *due = NULL;
        size_t n = 0;
        cs_error e = {0};
        if (cs_store_pacs_due(p->d.store, cs_now_ms(), PACS_BATCH, &due, &n, &e) != CS_OK)
            fprintf(stderr, "capscreen: pacs: export queue: %s\n", e.msg);
        for (size_t i = 0; i < n && !stopping(p); i++)
            export_one(p, &due[i]);
        free(due);
        if (n == PACS_BATCH)
            continue; /* more may be due */
        struct timespec ts = cs_deadline_ms(CLOCK_REALTIME, tick);
        pthread_mutex_lock(&p->mu);
        if (!p->stop && !p->woken)
            pthread_cond_timedwait(&p->cv, &p->mu, &ts);
        p->woken = false;
        pthread_mutex_unlock(&p->mu);
    }
    return NULL;
}

bool cs_pacs_configured(const cs_pacs *p) { return p && p->host[0]; }

cs_status cs_pacs_enqueue(cs_pacs *p, const char *study, const char *by, bool *queued,
                          cs_check_outcome *outcome, cs_error *err)
{
    cs_error ignored = {0};
    if (queued)
        *queued = false;
    *outcome = CS_CHECK_OK;
    if (!cs_pacs_configured(p))
        return CS_OK;
    cs_status st = cs_store_pacs_enqueue(p->d.store, study, by, cs_now_ms(), outcome, NULL,
                                         err ? err : &ignored);
    if (st == CS_OK && *outcome == CS_CHECK_OK) {
        if (queued)
            *queued = true;
        pthread_mutex_lock(&p->mu);
        p->woken = true;
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
    }
    return st;
}

/* "host:port" ("[v6]:port" too) into p->host, p->port. */
static cs_status parse_peer(cs_pacs *p, const char *s, cs_error *err)
{
    const char *colon = strrchr(s, ':');
    char *end = NULL;
    long port = colon ? strtol(colon + 1, &end, 10) : 0;
    size_t hl = colon ? (size_t)(colon - s) : 0;
    if (hl >= 2 && s[0] == '[' && s[hl - 1] == ']') {
        s++;
        hl -= 2;
    }
    if (!colon || hl == 0 || hl >= sizeof p->host || !end || *end || port < 1 || port > 65535)
        return cs_error_set(err, CS_ERR_ARG, "pacs '%s' is not HOST:PORT", s);
    memcpy(p->host, s, hl);
    p->host[hl] = '\0';
    p->port = (int)port;
    return CS_OK;
}

/* An AE title: 1 to 16 printable characters, no backslash (PS3.5 AE). */
static cs_status ae_title(const char *what, const char *v, char out[17], cs_error *err)
{
    size_t n = v ? strlen(v) : 0;
    bool ok = n >= 1 && n <= 16;
    for (size_t i = 0; ok && i < n; i++)
        ok = v[i] >= 0x20 && v[i] < 0x7F && v[i] != '\\';
    if (!ok || strspn(v, " ") == n)
        return cs_error_set(err, CS_ERR_ARG, "%s must be an AE title: 1 to 16 characters", what);
    memcpy(out, v, n + 1);
    return CS_OK;
}

cs_status cs_pacs_new(const cs_pacs_deps *d, cs_pacs **out, cs_error *err)
{
    *out = NULL;
    cs_pacs *p = calloc(1, sizeof *p);
    if (!p)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory starting the PACS export");
    p->d = *d;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    cs_status st = CS_OK;
    if (d->pacs && d->pacs[0]) {
        if ((st = parse_peer(p, d->pacs, err)) == CS_OK &&
            (st = ae_title("pacs_aet", d->called_aet, p->called_aet, err)) == CS_OK &&
            (st = ae_title("pacs_calling_aet", d->calling_aet, p->calling_aet, err)) == CS_OK &&
            !d->frame)
            st = cs_error_set(err, CS_ERR_ARG, "the PACS export needs a frame reader");
        if (st == CS_OK) {
            if (pthread_create(&p->thread, NULL, worker_main, p) != 0)
                st = cs_error_set(err, CS_ERR_NOMEM, "cannot start the PACS export thread");
            else
                p->started = true;
        }
    }
    if (st != CS_OK) {
        cs_pacs_free(p);
        return st;
    }
    *out = p;
    return CS_OK;
}

void cs_pacs_free(cs_pacs *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    if (p->started)
        pthread_join(p->thread, NULL);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p);
}
