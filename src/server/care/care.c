/* care.c - the live care loop's service: the rules thread, the webhook
 * thread, hub status reports and the protocol in force per study
 * (care.h). */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server/care/care.h"
#include "server/care/webhook.h"

#define WEBHOOK_BACKOFF_MAX_S 300 /* retries slow down to one per 5 min, never stop */
/* a claimed delivery is held this long: well over one attempt's
 * CS_WEBHOOK_TIMEOUT_S, so only a dead server's claim runs out */
#define WEBHOOK_LEASE_S 120
#define RAISED_MAX 64        /* alert keys remembered per study */
#define RATE_SAMPLES 16      /* frame-count samples kept per study for its rate */
#define RATE_SPACING_MS 5000 /* at most one sample per 5 s */
#define RATE_WINDOW_MS 60000 /* the rate is over about the last minute */

/* A live study's recent frame counts, for its frames per minute. */
typedef struct study_rate {
    char id[CS_ID_MAX];
    int64_t t[RATE_SAMPLES];
    uint64_t frames[RATE_SAMPLES];
    int n, next;
    bool seen;
    struct study_rate *next_rate;
} study_rate;

/* What the rules thread remembers of one study, so that an alert already
 * raised costs no write per tick. Loaded from the store the first time
 * the study is seen (so a restart remembers too). */
typedef struct study_memo {
    char id[CS_ID_MAX];
    cs_protocol protocol;
    char raised[RAISED_MAX][CS_ALERT_KIND_MAX + CS_ALERT_KEY_MAX + 1];
    int nraised, next; /* a ring: the oldest keys are forgotten (the store still refuses them) */
    bool seen;         /* in the latest tick's list of live studies */
    /* The first tick that saw the hub report "recording" with no byte
     * arrived (0: not so). In memory: a restart starts it again, which
     * delays that no_frames by at most its threshold, never loses it. */
    int64_t recording_no_bytes_since_ms;
    struct study_memo *next_memo;
} study_memo;

struct cs_care {
    cs_care_deps d;
    cs_protocol protocol; /* the server's, for studies without one */
    char *protocol_text;
    cs_webhook *hook; /* NULL without a webhook; used by its thread, woken by any */

    pthread_mutex_t mu;
    pthread_cond_t cv; /* wake or stop */
    bool stop;
    bool wake_rules, wake_webhook; /* woken before the next tick */
    pthread_t rules_thread, webhook_thread;
    bool rules_started, webhook_started;
    study_memo *memos; /* owned by the rules thread */
    study_rate *rates; /* guarded by mu: written by the rules thread, read by the monitor */
    atomic_ullong webhook_failures;
};

/* Wait up to `ms` unless *woken is (or becomes) set; clears it. */
static void wait_tick(cs_care *c, int ms, bool *woken)
{
    struct timespec ts = cs_deadline_ms(CLOCK_REALTIME, ms);
    pthread_mutex_lock(&c->mu);
    if (!c->stop && !*woken)
        pthread_cond_timedwait(&c->cv, &c->mu, &ts);
    *woken = false;
    pthread_mutex_unlock(&c->mu);
}

static bool stopping(cs_care *c)
{
    pthread_mutex_lock(&c->mu);
    bool s = c->stop;
    pthread_mutex_unlock(&c->mu);
    return s;
}

void cs_care_wake(cs_care *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->mu);
    c->wake_rules = c->wake_webhook = true;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    cs_webhook_wakeup(c->hook);
}

cs_status cs_care_protocol_of(cs_care *c, const char *study, cs_protocol *p, char **text,
                              cs_error *err)
{
    char *t = NULL;
    cs_check_outcome out;
    if (text)
        *text = NULL;
    cs_status st = cs_store_study_protocol_get(c->d.store, study, &t, err);
    if (st == CS_OK && !t) {
        /* The study starts under the server's protocol now; set once, so a
         * racing caller's choice (the same text) wins just as well. */
        st = cs_store_study_protocol_set(c->d.store, study, c->protocol_text, &out, err);
        if (st == CS_OK)
            st = cs_store_study_protocol_get(c->d.store, study, &t, err);
        if (st == CS_OK && !t)
            return cs_error_set(err, CS_ERR_ARG, "care: no study '%s'", study);
    }
    if (st != CS_OK)
        return st;
    cs_error pe = {0};
    if (cs_protocol_parse(t, p, &pe) != CS_OK) {
        free(t);
        return cs_error_set(err, CS_ERR_CORRUPT, "care: the protocol stored with study '%s': %s",
                            study, pe.msg);
    }
    if (text)
        *text = t;
    else
        free(t);
    return CS_OK;
}

cs_status cs_care_facts_of(cs_care *c, const cs_study_rec *sr, cs_care_facts *f, cs_error *err)
{
    memset(f, 0, sizeof *f);
    f->now_ms = cs_now_ms();
    f->first_byte_ms = sr->first_byte_ms;
    f->last_byte_ms = sr->last_byte_ms;
    f->closed = sr->closed_at_ms != 0;
    cs_study_counts counts;
    cs_mark_rec *marks = NULL;
    size_t n = 0;
    cs_status st = cs_store_hub_status_get(c->d.store, sr->id, &f->hub, err);
    if (st == CS_OK)
        st = cs_store_study_counts(c->d.store, sr->id, &counts, err);
    if (st == CS_OK)
        st = cs_store_marks_list(c->d.store, sr->id, &marks, &n, err);
    if (st != CS_OK)
        return st;
    f->n_bleeding = counts.bleeding;
    f->n_frames = counts.frames;
    static const struct {
        const char *key;
        size_t off;
    } LANDMARKS[] = {
        {"first_gastric", offsetof(cs_care_facts, stomach_at_ms)},
        {"first_duodenal", offsetof(cs_care_facts, small_bowel_at_ms)},
        {"first_caecal", offsetof(cs_care_facts, colon_at_ms)},
        {"excreted", offsetof(cs_care_facts, excreted_at_ms)},
    };
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < sizeof LANDMARKS / sizeof LANDMARKS[0]; k++)
            if (strcmp(marks[i].kind, "landmark") == 0 &&
                strcmp(marks[i].key, LANDMARKS[k].key) == 0)
                *(int64_t *)(void *)((char *)f + LANDMARKS[k].off) =
                    marks[i].first_at_ms > 0 ? marks[i].first_at_ms : 1;
    free(marks);
    return CS_OK;
}

/* Raise `a` for `study` unless the memo says it was; remember it. */
static void raise_memo(cs_care *c, study_memo *m, const cs_care_alert *a)
{
    char k[CS_ALERT_KIND_MAX + CS_ALERT_KEY_MAX + 1];
    snprintf(k, sizeof k, "%.31s/%.63s", a->kind, a->key);
    for (int i = 0; i < m->nraised; i++)
        if (strcmp(m->raised[i], k) == 0)
            return;
    bool raised = false;
    cs_check_outcome out;
    cs_error e = {0};
    if (cs_care_raise(c, m->id, a->kind, a->key, a->message, &raised, &out, &e) != CS_OK) {
        fprintf(stderr, "capscreen: care: cannot raise %s for %s: %s\n", a->kind, m->id, e.msg);
        return; /* tried again next tick */
    }
    snprintf(m->raised[m->next], sizeof m->raised[m->next], "%s", k);
    m->next = (m->next + 1) % RAISED_MAX;
    if (m->nraised < RAISED_MAX)
        m->nraised++;
}

static study_memo *memo_of(cs_care *c, const char *study, cs_error *err)
{
    for (study_memo *m = c->memos; m; m = m->next_memo)
        if (strcmp(m->id, study) == 0)
            return m;
    study_memo *m = calloc(1, sizeof *m);
    if (!m) {
        cs_error_set(err, CS_ERR_NOMEM, "out of memory");
        return NULL;
    }
    snprintf(m->id, sizeof m->id, "%s", study);
    cs_alert_rec *al = NULL;
    size_t n = 0;
    if (cs_care_protocol_of(c, study, &m->protocol, NULL, err) != CS_OK ||
        cs_store_alerts_list(c->d.store, study, &al, &n, err) != CS_OK) {
        free(m);
        return NULL;
    }
    for (size_t i = 0; i < n && m->nraised < RAISED_MAX; i++) /* newest first */
        snprintf(m->raised[m->nraised++], sizeof m->raised[0], "%.31s/%.63s", al[i].kind,
                 al[i].key);
    m->next = m->nraised % RAISED_MAX;
    free(al);
    m->next_memo = c->memos;
    c->memos = m;
    return m;
}

/* Record the study's frame count now (at most every RATE_SPACING_MS). */
static void sample_rate(cs_care *c, const char *study, int64_t now, uint64_t frames)
{
    pthread_mutex_lock(&c->mu);
    study_rate *r = c->rates;
    while (r && strcmp(r->id, study) != 0)
        r = r->next_rate;
    if (!r && (r = calloc(1, sizeof *r)) != NULL) {
        snprintf(r->id, sizeof r->id, "%s", study);
        r->next_rate = c->rates;
        c->rates = r;
    }
    if (r) {
        r->seen = true;
        int last = (r->next + RATE_SAMPLES - 1) % RATE_SAMPLES;
        if (r->n == 0 || now - r->t[last] >= RATE_SPACING_MS) {
            r->t[r->next] = now;
            r->frames[r->next] = frames;
            r->next = (r->next + 1) % RATE_SAMPLES;
            if (r->n < RATE_SAMPLES)
                r->n++;
        }
    }
    pthread_mutex_unlock(&c->mu);
}

/* Drop the rates of studies the last pass did not see; mark the rest unseen. */
static void forget_rates(cs_care *c)
{
    pthread_mutex_lock(&c->mu);
    for (study_rate **pp = &c->rates; *pp;) {
        if (!(*pp)->seen) {
            study_rate *dead = *pp;
            *pp = dead->next_rate;
            free(dead);
        } else {
            (*pp)->seen = false;
            pp = &(*pp)->next_rate;
        }
    }
    pthread_mutex_unlock(&c->mu);
}

double cs_care_frames_per_min(cs_care *c, const char *study)
{
    double rate = -1;
    pthread_mutex_lock(&c->mu);
    study_rate *r = c->rates;
    while (r && strcmp(r->id, study) != 0)
        r = r->next_rate;
    if (r && r->n >= 2) {
        int newest = (r->next + RATE_SAMPLES - 1) % RATE_SAMPLES, oldest = newest;
        /* The oldest sample within the window (or the oldest kept). */
        for (int k = 1; k < r->n; k++) {
            int i = (newest - k + RATE_SAMPLES) % RATE_SAMPLES;
            oldest = i;
            if (r->t[newest] - r->t[i] >= RATE_WINDOW_MS)
                break;
        }
        int64_t dt = r->t[newest] - r->t[oldest];
        if (dt > 0)
            rate = (double)(r->frames[newest] - r->frames[oldest]) * 60000.0 / (double)dt;
    }
    pthread_mutex_unlock(&c->mu);
    return rate;
}

static int hub_key_cmp(const void *key, const void *item)
{
    return strcmp(key, ((const cs_hub_status_item *)item)->study);
}

/* One pass over the live studies. Two store calls find them, however many
 * studies there are: the list and every hub status (a study imported from
 * a file has no hub and is skipped without a call of its own). */
static void rules_pass(cs_care *c)
{
    cs_study_rec *studies = NULL;
    cs_hub_status_item *hubs = NULL;
    size_t n = 0, n_hubs = 0;
    cs_error e = {0};
    if (cs_store_studies_list(c->d.store, &studies, &n, &e) != CS_OK ||
        cs_store_hub_status_list(c->d.store, &hubs, &n_hubs, &e) != CS_OK) {
        fprintf(stderr, "capscreen: care: cannot list studies: %s\n", e.msg);
        free(studies);
        return;
    }
    for (study_memo *m = c->memos; m; m = m->next_memo)
        m->seen = false;
    for (size_t i = 0; i < n && !stopping(c); i++) {
        cs_study_rec *sr = &studies[i];
        if (sr->closed_at_ms || sr->training)
            continue; /* closed, or a training case's frames: nothing to watch */
        const cs_hub_status_item *hub =
            n_hubs ? bsearch(sr->id, hubs, n_hubs, sizeof *hubs, hub_key_cmp) : NULL;
        if (!cs_care_is_live(sr, hub ? &hub->status : NULL))
            continue; /* no hub: not started, or imported from a file */
        study_memo *m = memo_of(c, sr->id, &e);
        cs_care_facts f;
        if (!m || cs_care_facts_of(c, sr, &f, &e) != CS_OK) {
            fprintf(stderr, "capscreen: care: study %s: %s\n", sr->id, e.msg);
            continue;
        }
        m->seen = true;
        bool recording_no_bytes =
            !f.first_byte_ms && f.hub.at_ms && strcmp(f.hub.recorder, "recording") == 0;
        if (!recording_no_bytes)
            m->recording_no_bytes_since_ms = 0;
        else if (!m->recording_no_bytes_since_ms)
            m->recording_no_bytes_since_ms = f.now_ms;
        f.recording_no_bytes_since_ms = m->recording_no_bytes_since_ms;
        sample_rate(c, sr->id, f.now_ms, f.n_frames);
        cs_care_alert due[CS_CARE_ALERTS_MAX];
        size_t nd = cs_care_rules_timed(&m->protocol, &f, due, CS_CARE_ALERTS_MAX);
        for (size_t k = 0; k < nd; k++)
            raise_memo(c, m, &due[k]);
    }
    free(studies);
    free(hubs);
    forget_rates(c);
    /* Forget studies that are no longer live. */
    for (study_memo **pp = &c->memos; *pp;) {
        if (!(*pp)->seen) {
            study_memo *dead = *pp;
            *pp = dead->next_memo;
            free(dead);
        } else {
            pp = &(*pp)->next_memo;
        }
    }
}

static void *rules_main(void *arg)
{
    cs_care *c = arg;
    while (!stopping(c)) {
        rules_pass(c);
        /* Rates and silences change with time alone: let the monitor's
         * stream look again (it sends only what changed). */
        if (c->rates)
            cs_signals_progress(c->d.signals);
        wait_tick(c, c->d.tick_ms > 0 ? c->d.tick_ms : 1000, &c->wake_rules);
    }
    return NULL;
}

/* An ended delivery: record it (delivered, or due again after a backoff
 * that doubles up to WEBHOOK_BACKOFF_MAX_S). */
static void delivery_done(void *ctx, const cs_alert_rec *a, cs_status st, const cs_error *de)
{
    cs_care *c = ctx;
    cs_error e = {0};
    int64_t now = cs_now_ms();
    int attempts = a->attempts + 1;
    int64_t backoff_s = attempts >= 9 ? WEBHOOK_BACKOFF_MAX_S : (int64_t)1 << attempts;
    if (backoff_s > WEBHOOK_BACKOFF_MAX_S)
        backoff_s = WEBHOOK_BACKOFF_MAX_S;
    if (st != CS_OK) {
        atomic_fetch_add(&c->webhook_failures, 1);
        fprintf(stderr, "capscreen: care: alert %lld to the webhook (attempt %d): %s\n",
                (long long)a->id, attempts, de->msg);
    }
    if (cs_store_alert_delivery(c->d.store, a->id, st == CS_OK ? now : 0, attempts,
                                now + backoff_s * 1000, &e) != CS_OK)
        fprintf(stderr, "capscreen: care: cannot record a delivery: %s\n", e.msg);
}

/* Claim and start the due alerts while there is room in flight. */
static void send_due(cs_care *c)
{
    size_t room = CS_WEBHOOK_IN_FLIGHT_MAX - cs_webhook_in_flight(c->hook);
    cs_alert_rec *due = NULL;
    size_t n = 0;
    cs_error e = {0};
    if (room == 0)
        return;
    if (cs_store_alerts_due(c->d.store, cs_now_ms(), room, &due, &n, &e) != CS_OK)
        fprintf(stderr, "capscreen: care: webhook outbox: %s\n", e.msg);
    int64_t now = cs_now_ms();
    for (size_t i = 0; i < n; i++) {
        /* With several servers on one database, only the one whose claim
         * lands sends it; a dead holder's lease runs out. The lease also
         * keeps an alert in flight out of the next cs_store_alerts_due. */
        bool claimed = false;
        if (cs_store_alert_claim(c->d.store, due[i].id, due[i].next_attempt_ms,
                                 now + WEBHOOK_LEASE_S * 1000, &claimed, &e) != CS_OK)
            fprintf(stderr, "capscreen: care: webhook outbox: %s\n", e.msg);
        if (!claimed)
            continue;
        cs_error se = {0};
        cs_status st = cs_webhook_send(c->hook, &due[i], &se);
        if (st != CS_OK)
            delivery_done(c, &due[i], st, &se);
    }
    free(due);
}

/* Due alerts go out as they come, up to CS_WEBHOOK_IN_FLIGHT_MAX at once:
 * a receiver slow on one alert (or never answering it) holds no other
 * back. A stop lets the deliveries in flight end (one timeout at most)
 * and records them. */
static void *webhook_main(void *arg)
{
    cs_care *c = arg;
    int64_t next_look = 0;
    for (;;) {
        bool stop = stopping(c);
        if (stop && cs_webhook_in_flight(c->hook) == 0)
            break;
        pthread_mutex_lock(&c->mu);
        bool woken = c->wake_webhook;
        c->wake_webhook = false;
        pthread_mutex_unlock(&c->mu);
        if (!stop && (woken || cs_now_ms() >= next_look)) {
            send_due(c);
            next_look = cs_now_ms() + 1000;
        }
        size_t running = cs_webhook_in_flight(c->hook);
        cs_error e = {0};
        if (cs_webhook_run(c->hook, 1000, delivery_done, c, &e) != CS_OK) {
            fprintf(stderr, "capscreen: care: webhook: %s\n", e.msg);
            /* A stop does not wait on a failing multi handle: what is in
             * flight keeps its lease and is sent again when that runs out. */
            if (stop)
                break;
            bool unused = false; /* a wake stays set for the next pass */
            wait_tick(c, 1000, &unused);
        }
        if (cs_webhook_in_flight(c->hook) < running)
            next_look = 0; /* a slot came free: the next due alert goes now */
    }
    return NULL;
}

cs_status cs_care_raise(cs_care *c, const char *study, const char *kind, const char *key,
                        const char *message, bool *raised, cs_check_outcome *outcome, cs_error *err)
{
    cs_alert_rec a;
    memset(&a, 0, sizeof a);
    snprintf(a.study, sizeof a.study, "%s", study);
    snprintf(a.kind, sizeof a.kind, "%s", kind);
    snprintf(a.key, sizeof a.key, "%s", key);
    snprintf(a.message, sizeof a.message, "%s", message);
    a.raised_at_ms = cs_now_ms();
    cs_status st = cs_store_alert_raise(c->d.store, &a, raised, outcome, err);
    if (st == CS_OK && *raised) {
        cs_signals_progress(c->d.signals); /* event streams show it */
        cs_care_wake(c);                   /* the webhook sends it now */
    }
    return st;
}

cs_status cs_care_hub_status(cs_care *c, const char *study, cs_hub_status_rec *hs,
                             cs_check_outcome *outcome, cs_error *err)
{
    cs_study_rec sr;
    bool found = false;
    *outcome = CS_CHECK_NOT_FOUND;
    cs_status st = cs_store_study_get(c->d.store, study, &found, &sr, err);
    if (st != CS_OK || !found)
        return st;
    if (sr.closed_at_ms) {
        *outcome = CS_CHECK_LOCKED;
        return CS_OK;
    }
    hs->at_ms = cs_now_ms();
    /* The alerts first, the report after (care.h): the report is stored
     * only once the alerts its crossing raises are. When the store fails
     * in between, the hub's next report (its retry) is compared with the
     * same last report, crosses again and raises them. Stored the other
     * way round, a failed raise spent the crossing on a stored report and
     * the alert was lost. f.hub is the last report, the one replaced. */
    cs_protocol p;
    cs_care_facts f;
    if ((st = cs_care_protocol_of(c, study, &p, NULL, err)) != CS_OK ||
        (st = cs_care_facts_of(c, &sr, &f, err)) != CS_OK)
        return st;
    cs_care_alert due[CS_CARE_ALERTS_MAX];
    size_t n = cs_care_rules_status(&p, &f, &f.hub, hs, due, CS_CARE_ALERTS_MAX);
    /* A crossing while the study's last alert of that kind is still open
     * adds none: a spool hovering at the limit (or a hub flapping on
     * purpose) would raise one per report, each paged by the webhook,
     * without bound. The same check makes a retry after a failed store
     * raise nothing twice. */
    cs_alert_rec *al = NULL;
    size_t nal = 0;
    if (n && (st = cs_store_alerts_list(c->d.store, study, &al, &nal, err)) != CS_OK)
        return st;
    for (size_t i = 0; i < n && st == CS_OK; i++) {
        bool raised, open = false;
        cs_check_outcome ro;
        for (size_t k = 0; k < nal && !open; k++)
            open = strcmp(al[k].kind, due[i].kind) == 0 && !al[k].acked_at_ms;
        if (!open)
            st =
                cs_care_raise(c, study, due[i].kind, due[i].key, due[i].message, &raised, &ro, err);
    }
    free(al);
    if (st != CS_OK) /* the report is not stored: its retry crosses again */
        return st;
    if ((st = cs_store_hub_status_put(c->d.store, study, hs, NULL, outcome, err)) != CS_OK ||
        *outcome != CS_CHECK_OK)
        return st;
    cs_signals_progress(c->d.signals); /* the monitor shows the new status */
    cs_care_wake(c);                   /* hub_offline may have cleared or moved */
    return CS_OK;
}

bool cs_care_is_live(const cs_study_rec *sr, const cs_hub_status_rec *hub)
{
    if (sr->closed_at_ms)
        return false;
    /* A hub enrolled (its code was used) and sent bytes, or a hub reports.
     * A study imported from a file has bytes but no hub: nobody is waiting
     * at home, so no rule applies to it. */
    return (sr->code_used_at && sr->first_byte_ms) || (hub && hub->at_ms);
}

uint64_t cs_care_webhook_failures(const cs_care *c)
{
    return c ? atomic_load(&((cs_care *)c)->webhook_failures) : 0;
}

cs_status cs_care_new(const cs_care_deps *d, cs_care **out, cs_error *err)
{
    cs_care *c = calloc(1, sizeof *c);
    if (!c)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory starting the care loop");
    c->d = *d;
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    cs_status st = cs_protocol_load(d->protocol_path, &c->protocol, &c->protocol_text, err);
    if (st == CS_OK && d->webhook_url && d->webhook_url[0]) {
        if (strlen(d->webhook_url) >= CS_CFG_STR || (strncmp(d->webhook_url, "http://", 7) != 0 &&
                                                     strncmp(d->webhook_url, "https://", 8) != 0))
            st = cs_error_set(err, CS_ERR_ARG, "webhook_url must be an http:// or https:// URL");
        else if (!d->webhook_secret || strlen(d->webhook_secret) < 16 ||
                 strlen(d->webhook_secret) >= CS_CFG_STR)
            st = cs_error_set(err, CS_ERR_ARG,
                              "webhook_url needs webhook_secret_file: a key of 16 to %zu bytes",
                              (size_t)CS_CFG_STR - 1);
        else if ((st = cs_webhook_global_init(err)) == CS_OK)
            st = cs_webhook_new(d->webhook_url, d->webhook_secret, &c->hook, err);
    }
    if (st == CS_OK) {
        if (pthread_create(&c->rules_thread, NULL, rules_main, c) != 0)
            st = cs_error_set(err, CS_ERR_NOMEM, "cannot start the care rules thread");
        else
            c->rules_started = true;
    }
    if (st == CS_OK && c->hook) {
        if (pthread_create(&c->webhook_thread, NULL, webhook_main, c) != 0)
            st = cs_error_set(err, CS_ERR_NOMEM, "cannot start the webhook thread");
        else
            c->webhook_started = true;
    }
    if (st != CS_OK) {
        cs_care_free(c);
        return st;
    }
    *out = c;
    return CS_OK;
}

void cs_care_free(cs_care *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->mu);
    c->stop = true;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    cs_webhook_wakeup(c->hook);
    if (c->rules_started)
        pthread_join(c->rules_thread, NULL);
    if (c->webhook_started)
        pthread_join(c->webhook_thread, NULL);
    cs_webhook_free(c->hook);
    while (c->memos) {
        study_memo *n = c->memos->next_memo;
        free(c->memos);
        c->memos = n;
    }
    while (c->rates) {
        study_rate *n = c->rates->next_rate;
        free(c->rates);
        c->rates = n;
    }
    free(c->protocol_text);
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
    free(c);
}
