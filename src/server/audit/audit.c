/* audit.c - the audit trail: appending entries (who, what, when, from
 * where), batching the frames a session is served into frames.view
 * entries, and refused logins into login.limited ones. The query route
 * (GET /api/v1/audit) is the API layer's (api/audit_api.c).
 * docs/workstation.md. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/audit/audit.h"
#include "server/audit/repeat.h"
#include "server/auth/limiter.h"

#define VIEW_WINDOW_MS 10000 /* a frames.view batch covers at most this long */
#define VIEW_SLOTS 256       /* sessions with an open batch at once */
#define LIST_VIEWERS 512     /* viewers whose last audited list is remembered */
#define DENIED_CALLERS 512   /* (caller, route) pairs whose last refusal is remembered */

/* The frames one session has been served of one study since the batch
 * began. */
typedef struct view_batch {
    bool open;
    char session[CS_HASH_HEX_MAX];
    cs_auth who;
    char study[CS_ID_MAX];
    uint64_t lo, hi, count;
    int64_t started_ms;
} view_batch;

struct cs_audit_log {
    cs_store *store;
    cs_metrics *metrics;       /* failed appends count as internal errors */
    cs_login_limiter *limiter; /* login.limited bursts come from here; may be NULL */
    pthread_mutex_t mu;        /* guards slots, lists and denials */
    view_batch slots[VIEW_SLOTS];
    cs_repeat_table *lists;   /* cs_audit_list_read's memory */
    cs_repeat_table *denials; /* cs_audit_denied's: its own, so a flood of
                                 refusals cannot evict the lists' viewers */
};

cs_status cs_audit_new(cs_store *store, cs_login_limiter *limiter, cs_metrics *metrics,
                       cs_audit_log **out, cs_error *err)
{
    cs_audit_log *s = calloc(1, sizeof *s);
    if (!s)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory");
    s->store = store;
    s->limiter = limiter;
    s->metrics = metrics;
    if (!(s->lists = cs_repeat_new(LIST_VIEWERS)) ||
        !(s->denials = cs_repeat_new(DENIED_CALLERS))) {
        cs_repeat_free(s->lists);
        free(s);
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory");
    }
    pthread_mutex_init(&s->mu, NULL);
    *out = s;
    return CS_OK;
}

void cs_audit_free(cs_audit_log *s)
{
    if (!s)
        return;
    cs_audit_flush(s, true);
    pthread_mutex_destroy(&s->mu);
    cs_repeat_free(s->lists);
    cs_repeat_free(s->denials);
    free(s);
}

static void append(cs_audit_log *s, const cs_audit_rec *rec)
{
    cs_error e = {0};
    if (cs_store_audit_append(s->store, rec, &e) != CS_OK) {
        cs_metrics_error(s->metrics, CS_EK_INTERNAL);
        fprintf(stderr, "capscreen: audit: cannot record %s by %s: %s\n", rec->action, rec->user,
                e.msg);
    }
}

void cs_audit(cs_audit_log *s, const cs_auth *a, const char *action, const char *study,
              const char *fmt, ...)
{
    cs_audit_rec rec = {0};
    rec.at_ms = cs_now_ms();
    if (a) {
        snprintf(rec.user, sizeof rec.user, "%s", a->user);
        snprintf(rec.role, sizeof rec.role, "%s", a->role);
        snprintf(rec.ip, sizeof rec.ip, "%s", a->ip);
    }
    snprintf(rec.action, sizeof rec.action, "%s", action);
    snprintf(rec.study, sizeof rec.study, "%s", study ? study : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rec.detail, sizeof rec.detail, fmt, ap);
    va_end(ap);
    append(s, &rec);
}

/* A read audited once per viewer, digest and window (repeat.h). */
static void read_once(cs_audit_log *s, const cs_auth *a, const char *action, const char *study,
                      uint64_t digest, const char *fmt, va_list ap) CS_PRINTF(6, 0);
static void read_once(cs_audit_log *s, const cs_auth *a, const char *action, const char *study,
                      uint64_t digest, const char *fmt, va_list ap)
{
    /* A session is one viewer; a token or patient code (no session) is
     * who, its study and from where. */
    char viewer[CS_REPEAT_VIEWER_MAX];
    if (a->session_hash[0])
        snprintf(viewer, sizeof viewer, "s:%s:%s", a->session_hash, action);
    else
        snprintf(viewer, sizeof viewer, "t:%d:%s:%s:%s:%s", (int)a->kind, a->user, a->study, a->ip,
                 action);
    pthread_mutex_lock(&s->mu);
    bool seen = cs_repeat_seen(s->lists, viewer, digest, cs_now_ms(), CS_AUDIT_LIST_REPEAT_MS);
    pthread_mutex_unlock(&s->mu);
    if (seen)
        return;
    char detail[CS_DETAIL_MAX];
    vsnprintf(detail, sizeof detail, fmt, ap);
    cs_audit(s, a, action, study, "%s", detail);
}

void cs_audit_list_read(cs_audit_log *s, const cs_auth *a, const char *action, uint64_t digest,
                        const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    read_once(s, a, action, "", digest, fmt, ap);
    va_end(ap);
}

void cs_audit_study_read(cs_audit_log *s, const cs_auth *a, const char *action, const char *study,
                         uint64_t digest, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    read_once(s, a, action, study, digest, fmt, ap);
    va_end(ap);
}

void cs_audit_denied(cs_audit_log *s, const cs_auth *a, const char *study, const char *route,
                     const char *fmt, ...)
{
    /* The caller as the refusal saw it: a wrong code and no credentials
     * are both user "" from the address, told apart by kind. The study is
     * part of it: which patients' records someone tried to open is what
     * this entry is for, so only refusals on one study collapse (the
     * companion page's routes have none: a flood of wrong codes is one). */
    char caller[CS_REPEAT_VIEWER_MAX];
    snprintf(caller, sizeof caller, "d:%d:%s:%s:%s:%s:%s", (int)a->kind, a->user, a->role, a->ip,
             route, study ? study : "");
    uint64_t skipped = 0;
    pthread_mutex_lock(&s->mu);
    bool seen = cs_repeat_seen_counted(s->denials, caller, 0, cs_now_ms(),
                                       CS_AUDIT_DENIED_REPEAT_MS, &skipped);
    pthread_mutex_unlock(&s->mu);
    if (seen)
        return;
    char detail[CS_DETAIL_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    if (skipped)
        cs_audit(s, a, "access.denied", study, "%s; %llu more like it since the last entry", detail,
                 (unsigned long long)skipped);
    else
        cs_audit(s, a, "access.denied", study, "%s", detail);
}

/* Turn a batch into its entry (called with the slot taken out of the
 * table, so no lock is held over the database write). */
static void write_batch(cs_audit_log *s, const view_batch *b)
{
    cs_audit_rec rec = {0};
    rec.at_ms = b->started_ms;
    snprintf(rec.user, sizeof rec.user, "%s", b->who.user);
    snprintf(rec.role, sizeof rec.role, "%s", b->who.role);
    snprintf(rec.ip, sizeof rec.ip, "%s", b->who.ip);
    snprintf(rec.action, sizeof rec.action, "frames.view");
    snprintf(rec.study, sizeof rec.study, "%s", b->study);
    snprintf(rec.detail, sizeof rec.detail, "seq %llu-%llu, %llu frames", (unsigned long long)b->lo,
             (unsigned long long)b->hi, (unsigned long long)b->count);
    append(s, &rec);
}

void cs_audit_frame_viewed(cs_audit_log *s, const cs_auth *a, const char *study, uint64_t seq)
{
    /* The admin token has no session: key its batches by its name. */
    const char *key = a->session_hash[0] ? a->session_hash : a->user;
    int64_t now = cs_now_ms();
    view_batch done[2];
    int ndone = 0;
    pthread_mutex_lock(&s->mu);
    view_batch *mine = NULL, *free_slot = NULL, *oldest = NULL;
    for (size_t i = 0; i < VIEW_SLOTS; i++) {
        view_batch *b = &s->slots[i];
        if (b->open && strcmp(b->session, key) == 0)
            mine = b;
        else if (!b->open && !free_slot)
            free_slot = b;
        else if (b->open && (!oldest || b->started_ms < oldest->started_ms))
            oldest = b;
    }
    if (mine && (strcmp(mine->study, study) != 0 || now - mine->started_ms >= VIEW_WINDOW_MS)) {
        done[ndone++] = *mine; /* the session moved on: close its batch */
        mine->open = false;
        free_slot = mine;
        mine = NULL;
    }
    if (!mine) {
        if (!free_slot) { /* table full: close the oldest batch early */
            done[ndone++] = *oldest;
            free_slot = oldest;
        }
        mine = free_slot;
        memset(mine, 0, sizeof *mine);
        mine->open = true;
        snprintf(mine->session, sizeof mine->session, "%s", key);
        mine->who = *a;
        snprintf(mine->study, sizeof mine->study, "%s", study);
        mine->lo = mine->hi = seq;
        mine->started_ms = now;
    }
    if (seq < mine->lo)
        mine->lo = seq;
    if (seq > mine->hi)
        mine->hi = seq;
    mine->count++;
    pthread_mutex_unlock(&s->mu);
    for (int i = 0; i < ndone; i++)
        write_batch(s, &done[i]);
}

void cs_audit_flush_views(cs_audit_log *s, bool all)
{
    int64_t now = cs_now_ms();
    for (;;) {
        view_batch b;
        bool found = false;
        pthread_mutex_lock(&s->mu);
        for (size_t i = 0; i < VIEW_SLOTS && !found; i++) {
            view_batch *t = &s->slots[i];
            if (t->open && (all || now - t->started_ms >= VIEW_WINDOW_MS)) {
                b = *t;
                t->open = false;
                found = true;
            }
        }
        pthread_mutex_unlock(&s->mu);
        if (!found)
            return;
        write_batch(s, &b);
    }
}

void cs_audit_login_limited(cs_audit_log *s, const cs_login_burst *b)
{
    if (!b || b->refused == 0)
        return;
    cs_audit_rec rec = {0};
    rec.at_ms = b->first_ms;
    snprintf(rec.user, sizeof rec.user, "%s", b->user);
    snprintf(rec.ip, sizeof rec.ip, "%s", b->ip);
    snprintf(rec.action, sizeof rec.action, "login.limited");
    snprintf(rec.detail, sizeof rec.detail, "refused %llu; first_ms %lld; last_ms %lld",
             (unsigned long long)b->refused, (long long)b->first_ms, (long long)b->last_ms);
    append(s, &rec);
}

void cs_audit_flush_logins(cs_audit_log *s, bool all)
{
    if (!s->limiter)
        return;
    int64_t now = cs_now_ms();
    cs_login_burst b;
    while (cs_limiter_take_burst(s->limiter, now, all, &b))
        cs_audit_login_limited(s, &b);
}

void cs_audit_flush(cs_audit_log *s, bool all)
{
    cs_audit_flush_views(s, all);
    cs_audit_flush_logins(s, all);
}
