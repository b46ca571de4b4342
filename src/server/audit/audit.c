/* audit.c - the audit trail: appending entries (who, what, when, from
 * where), batching the frames a session is served into frames.view
 * entries, and GET /api/v1/audit for admins. docs/workstation.md. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/audit/audit.h"
#include "server/auth/limiter.h"

#define VIEW_WINDOW_MS 10000 /* a frames.view batch covers at most this long */
#define VIEW_SLOTS 256       /* sessions with an open batch at once */

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

struct cs_view_log {
    pthread_mutex_t mu;
    view_batch slots[VIEW_SLOTS];
};

cs_status cs_audit_init(cs_server *s, cs_error *err)
{
    s->views = calloc(1, sizeof *s->views);
    if (!s->views)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory");
    pthread_mutex_init(&s->views->mu, NULL);
    return CS_OK;
}

void cs_audit_free(cs_server *s)
{
    if (!s->views)
        return;
    cs_audit_flush(s, true);
    pthread_mutex_destroy(&s->views->mu);
    free(s->views);
    s->views = NULL;
}

static void append(cs_server *s, const cs_audit_rec *rec)
{
    cs_error e = {0};
    if (cs_store_audit_append(s->store, rec, &e) != CS_OK) {
        cs_count_error(s, CS_EK_INTERNAL);
        fprintf(stderr, "capscreen: audit: cannot record %s by %s: %s\n", rec->action, rec->user,
                e.msg);
    }
}

void cs_audit(cs_server *s, const cs_auth *a, const char *action, const char *study,
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

/* Turn a batch into its entry (called with the slot taken out of the
 * table, so no lock is held over the database write). */
static void write_batch(cs_server *s, const view_batch *b)
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

void cs_audit_frame_viewed(cs_server *s, const cs_auth *a, const char *study, uint64_t seq)
{
    /* The admin token has no session: key its batches by its name. */
    const char *key = a->session_hash[0] ? a->session_hash : a->user;
    int64_t now = cs_now_ms();
    view_batch done[2];
    int ndone = 0;
    cs_view_log *v = s->views;
    pthread_mutex_lock(&v->mu);
    view_batch *mine = NULL, *free_slot = NULL, *oldest = NULL;
    for (size_t i = 0; i < VIEW_SLOTS; i++) {
        view_batch *b = &v->slots[i];
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
    pthread_mutex_unlock(&v->mu);
    for (int i = 0; i < ndone; i++)
        write_batch(s, &done[i]);
}

void cs_audit_flush_views(cs_server *s, bool all)
{
    if (!s->views)
        return;
    int64_t now = cs_now_ms();
    for (;;) {
        view_batch b;
        bool found = false;
        pthread_mutex_lock(&s->views->mu);
        for (size_t i = 0; i < VIEW_SLOTS && !found; i++) {
            view_batch *t = &s->views->slots[i];
            if (t->open && (all || now - t->started_ms >= VIEW_WINDOW_MS)) {
                b = *t;
                t->open = false;
                found = true;
            }
        }
        pthread_mutex_unlock(&s->views->mu);
        if (!found)
            return;
        write_batch(s, &b);
    }
}

void cs_audit_login_limited(cs_server *s, const cs_login_burst *b)
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

void cs_audit_flush_logins(cs_server *s, bool all)
{
    if (!s->limiter)
        return;
    int64_t now = cs_now_ms();
    cs_login_burst b;
    while (cs_limiter_take_burst(s->limiter, now, all, &b))
        cs_audit_login_limited(s, &b);
}

void cs_audit_flush(cs_server *s, bool all)
{
    cs_audit_flush_views(s, all);
    cs_audit_flush_logins(s, all);
}

/* A query argument as decoded (%XX, and + as a space; cs_http_unescape
 * leaves %00 as those three characters); NULL when absent or empty (no
 * filter). *bad when it holds a NUL all the same: as a C string it would
 * be cut short and filter by a different value. */
static const char *query_arg(struct MHD_Connection *c, const char *key, bool *bad)
{
    const char *v = NULL;
    size_t n = 0;
    if (MHD_lookup_connection_value_n(c, MHD_GET_ARGUMENT_KIND, key, strlen(key), &v, &n) !=
            MHD_YES ||
        !v)
        return NULL;
    if (strlen(v) != n)
        *bad = true;
    return v[0] ? v : NULL;
}

static int64_t query_i64(struct MHD_Connection *c, const char *key, bool *bad)
{
    const char *v = query_arg(c, key, bad);
    if (!v)
        return 0;
    char *end = NULL;
    long long x = strtoll(v, &end, 10);
    if (*end || x < 0)
        *bad = true;
    return (int64_t)x;
}

enum MHD_Result cs_api_audit(cs_server *s, struct MHD_Connection *c, cs_req *r)
{
    cs_auth a;
    cs_error e = {0};
    a = r->auth;
    /* Entries still batched in memory belong in the answer. */
    cs_audit_flush(s, true);
    bool bad = false;
    cs_audit_query q = {0};
    q.user = query_arg(c, "user", &bad);
    q.action = query_arg(c, "action", &bad);
    q.study = query_arg(c, "study", &bad);
    q.since_ms = query_i64(c, "since_ms", &bad);
    q.until_ms = query_i64(c, "until_ms", &bad);
    q.before_n = query_i64(c, "before", &bad);
    int64_t limit = query_i64(c, "limit", &bad);
    if (bad || limit > 1000)
        return cs_http_error(s, c, 400, false, "bad_query",
                             "since_ms, until_ms, before and limit (<= 1000) are whole numbers; "
                             "user, action and study hold no NUL (%%00)");
    q.limit = limit > 0 ? (size_t)limit : 200;
    cs_audit_rec *rows = NULL;
    size_t n = 0;
    if (cs_store_audit_query(s->store, &q, &rows, &n, &e) != CS_OK)
        return cs_http_error(s, c, 503, false, "store_unavailable", "%s", e.msg);
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(
            arr, json_pack("{s:I, s:I, s:s, s:s, s:s, s:s, s:s, s:s}", "n", (json_int_t)rows[i].n,
                           "at_ms", (json_int_t)rows[i].at_ms, "user", rows[i].user, "role",
                           rows[i].role, "action", rows[i].action, "study", rows[i].study, "detail",
                           rows[i].detail, "ip", rows[i].ip));
    json_t *next = n == q.limit && n > 0 ? json_integer(rows[n - 1].n) : json_null();
    free(rows);
    cs_audit(s, &a, "audit.query", q.study, "user=%s action=%s", q.user ? q.user : "*",
             q.action ? q.action : "*");
    return cs_http_json(c, 200, json_pack("{s:o, s:o}", "entries", arr, "next_before", next), false,
                        NULL);
}
