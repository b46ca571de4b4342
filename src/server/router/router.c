/* router.c - matching a request to its row of the route table, and the
 * checks every row gets before its handler runs: who is calling, their
 * role, the session's CSRF token, 401/403 auditing on patient data, 404
 * and 405 (with Allow made from the table). */
#include <stdio.h>
#include <string.h>

#include "server/api/api.h"
#include "server/audit/audit.h"
#include "server/core/vocabulary.h"
#include "server/router/router.h"
#include "server/tus/tus.h"
#include "server/auth/password.h"
#include "server/auth/tokens.h"

/* Copy one path segment of at most CS_ID_MAX-1 id characters [0-9a-z-]. */
static bool take_id(const char *p, size_t n, char *out)
{
    if (n == 0 || n >= CS_ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'z') || p[i] == '-'))
            return false;
    memcpy(out, p, n);
    out[n] = '\0';
    return true;
}

static bool take_u64(const char *p, size_t n, uint64_t *out)
{
    uint64_t v = 0;
    if (n == 0 || n > 15)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        v = v * 10 + (uint64_t)(p[i] - '0');
    }
    *out = v;
    return true;
}

static bool take_key(const char *p, size_t n, char *out)
{
    if (n == 0 || n >= 32)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'z') || p[i] == '-' ||
              p[i] == '_'))
            return false;
    memcpy(out, p, n);
    out[n] = '\0';
    return true;
}

static bool take_name(const char *p, size_t n, char *out)
{
    if (n == 0 || n >= CS_USER_MAX)
        return false;
    memcpy(out, p, n);
    out[n] = '\0';
    return cs_user_name_ok(out);
}

/* One placeholder or literal segment `ps` (length pn) against `us`. */
static bool match_segment(const char *ps, size_t pn, const char *us, size_t un, cs_req *r)
{
    if (pn == 4 && memcmp(ps, "{id}", 4) == 0)
        return take_id(us, un, r->id);
    if (pn == 6 && memcmp(ps, "{name}", 6) == 0)
        return take_name(us, un, r->name);
    if (pn == 5 && memcmp(ps, "{key}", 5) == 0)
        return take_key(us, un, r->key);
    if (pn == 3 && memcmp(ps, "{n}", 3) == 0)
        return take_u64(us, un, &r->num);
    if (pn == 7 && memcmp(ps, "{n}.jpg", 7) == 0)
        return un > 4 && memcmp(us + un - 4, ".jpg", 4) == 0 && take_u64(us, un - 4, &r->num);
    return pn == un && memcmp(ps, us, un) == 0;
}

static bool is_api(const char *url)
{
    return strncmp(url, "/api/", 5) == 0 || strcmp(url, "/api") == 0;
}

static bool is_tus_path(const char *url)
{
    return strcmp(url, "/uploads") == 0 || strncmp(url, "/uploads/", 9) == 0;
}

/* Does `url` match the row's pattern? Fills r's path parameters. */
static bool match_path(const char *pat, const char *url, cs_req *r)
{
    if (strcmp(pat, "*") == 0)
        return !is_api(url) && !is_tus_path(url);
    if (strcmp(url, "/uploads/") == 0) /* tus clients may add the slash */
        url = "/uploads";
    const char *p = pat, *u = url;
    while (*p == '/' && *u == '/') {
        p++;
        u++;
        const char *pe = strchr(p, '/'), *ue = strchr(u, '/');
        size_t pn = pe ? (size_t)(pe - p) : strlen(p), un = ue ? (size_t)(ue - u) : strlen(u);
        if (!match_segment(p, pn, u, un, r))
            return false;
        p += pn;
        u += un;
    }
    return *p == '\0' && *u == '\0';
}

static bool method_matches(const char *row, const char *method)
{
    return strcmp(row, method) == 0 || (strcmp(row, "GET") == 0 && strcmp(method, "HEAD") == 0);
}

static bool changes_state(const char *method)
{
    return strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0 &&
           strcmp(method, "OPTIONS") != 0;
}

void cs_router_begin(const cs_router *rt, struct MHD_Connection *c, cs_req *r, const char *url,
                     const char *method)
{
    snprintf(r->url, sizeof r->url, "%s", url);
    r->tus = is_tus_path(url);
    /* dispatch.c's unescaper leaves %00 as it is: a NUL would cut the path. */
    r->bad_path = strstr(url, "%00") || !cs_http_text_ok(url);
    for (const cs_route_row *row = cs_routes; row->method; row++) {
        if (method_matches(row->method, method) && match_path(row->pattern, url, r)) {
            r->row = row;
            r->tus = row->tus;
            /* A HEAD served by a GET row: the handler answers as for GET and
             * libmicrohttpd leaves the body out. */
            if (strcmp(method, "HEAD") == 0 && strcmp(row->method, "GET") == 0)
                snprintf(r->method, sizeof r->method, "GET");
            break;
        }
    }
    /* Public rows need no caller: spare the store a session lookup for
     * every page, script and /healthz. */
    if (r->row && (r->row->who & CS_WHO_PUBLIC)) {
        cs_client_ip(c, rt->cfg->trusted_proxies, r->auth.ip);
        return;
    }
    cs_error e = {0};
    r->auth_status = cs_auth_check(rt->auth, c, &r->auth, &e);
}

/* The caller's bit among CS_WHO_* / CS_ROLE_*, or 0 for nobody. */
static unsigned caller_bit(const cs_auth *a)
{
    switch (a->kind) {
    case CS_AUTH_ADMIN: return CS_WHO_ADMIN_TOKEN;
    case CS_AUTH_DEVICE: return CS_WHO_DEVICE;
    case CS_AUTH_USER: return cs_role_bit(a->role);
    case CS_AUTH_PATIENT: return CS_WHO_PATIENT;
    case CS_AUTH_NONE:
    case CS_AUTH_BAD: break;
    }
    return 0;
}

static bool csrf_ok(struct MHD_Connection *c, const cs_auth *a)
{
    const char *t = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-CSRF-Token");
    char th[CS_HASH_HEX], sh[CS_HASH_HEX];
    /* Compare hashes: equal length, constant time. */
    cs_token_hash(t ? t : "", th);
    cs_token_hash(a->csrf, sh);
    return t && cs_hash_equal(th, sh);
}

/* A refusal; audited as access.denied on patient-data rows (`pattern`:
 * the row's), repeats of one caller on one row collapsed
 * (cs_audit_denied): a flood of wrong patient codes is one entry a
 * minute with a count, not one per request. */
static enum MHD_Result refuse(const cs_router *rt, struct MHD_Connection *c, cs_req *r, bool audit,
                              const char *pattern, unsigned status, const char *code,
                              const char *reason)
{
    if (audit) {
        char route[160];
        snprintf(route, sizeof route, "%u %.8s %.120s", status, r->method, pattern);
        cs_audit_denied(rt->audit, &r->auth, r->id, route, "%u %.8s %.200s", status, r->method,
                        r->url);
    }
    return cs_http_error(rt->metrics, c, status, r->tus, code, "%s", reason);
}

/* Answer a caller `who` does not admit, or return false to go on. */
static bool check_access(const cs_router *rt, struct MHD_Connection *c, cs_req *r, unsigned who,
                         bool csrf, bool patient, const char *pattern, enum MHD_Result *ret)
{
    const cs_auth *a = &r->auth;
    if (who & CS_WHO_PUBLIC)
        return false;
    if (r->auth_status != CS_OK) {
        *ret = cs_http_error(rt->metrics, c, 503, r->tus, "store_unavailable",
                             "the store could not check the credentials");
        return true;
    }
    if (a->kind == CS_AUTH_NONE || a->kind == CS_AUTH_BAD) {
        const char *why =
            a->kind == CS_AUTH_BAD && a->expired && strcmp(a->role, "patient") == 0
                ? "this patient code has expired: the study is over"
            : a->kind == CS_AUTH_BAD ? (a->expired ? "the session has ended: log in again"
                                                   : "unknown or revoked token or session")
            : (who & CS_WHO_DEVICE)  ? "uploads need 'Authorization: Bearer <device token>'"
                                     : "log in (POST /api/v1/session) or send 'Authorization: "
                                       "Bearer <admin token>'";
        *ret = refuse(rt, c, r, patient, pattern, 401, "unauthorised", why);
        return true;
    }
    if (!(caller_bit(a) & who)) {
        char why[160];
        if (a->kind == CS_AUTH_DEVICE)
            snprintf(why, sizeof why,
                     "a device token may only upload and report the hub's status; this "
                     "route needs a user session or the admin token");
        else if (a->kind == CS_AUTH_PATIENT)
            snprintf(why, sizeof why, "a patient code opens the companion page only");
        else if (who & CS_WHO_DEVICE)
            snprintf(why, sizeof why,
                     "uploads need a device token or the admin token, not a "
                     "user session");
        else
            snprintf(why, sizeof why, "the %s role may not use this route",
                     a->kind == CS_AUTH_ADMIN ? "admin token" : a->role);
        *ret = refuse(rt, c, r, patient, pattern, 403, "forbidden", why);
        return true;
    }
    if (csrf && a->kind == CS_AUTH_USER && changes_state(r->method) && !csrf_ok(c, a)) {
        *ret = refuse(rt, c, r, patient, pattern, 403, "csrf_failed",
                      "this request changes state and needs the session's X-CSRF-Token "
                      "header");
        return true;
    }
    return false;
}

/* No row for this method: 405 with the path's methods, or 404. Callers
 * without credentials learn nothing about /api paths (401 first). */
static enum MHD_Result no_row(const cs_router *rt, struct MHD_Connection *c, cs_req *r,
                              const char *url, const char *method)
{
    char allow[96] = "";
    unsigned who = 0;
    bool patient = false;
    const char *pattern = NULL; /* the first row of the path (it has several) */
    cs_req scratch;
    for (const cs_route_row *row = cs_routes; row->method; row++) {
        memset(&scratch, 0, sizeof scratch);
        if (!match_path(row->pattern, url, &scratch))
            continue;
        who |= row->who;
        patient |= row->patient;
        if (!pattern)
            pattern = row->pattern;
        if (!strstr(allow, row->method) && strlen(allow) + strlen(row->method) + 8 < sizeof allow) {
            if (allow[0])
                strcat(allow, ", ");
            strcat(allow, row->method);
            if (strcmp(row->method, "GET") == 0)
                strcat(allow, ", HEAD");
        }
    }
    enum MHD_Result ret;
    if (!who && is_api(url))
        who = CS_WHO_SESSIONS | CS_WHO_ADMIN_TOKEN; /* unknown /api path: 401 before 404 */
    if (!(who & CS_WHO_PUBLIC) &&
        (r->auth.kind == CS_AUTH_NONE || r->auth.kind == CS_AUTH_BAD || r->auth_status != CS_OK) &&
        check_access(rt, c, r, who, false, patient, pattern ? pattern : "(no route)", &ret))
        return ret;
    if (!allow[0])
        return cs_http_error(rt->metrics, c, 404, r->tus, "not_found", "no route for %.16s %.200s",
                             method, url);
    const char *h[] = {"Allow", allow, NULL};
    return cs_http_error_h(rt->metrics, c, 405, r->tus, h, "method_not_allowed",
                           "%.16s is not allowed here (allowed: %s)", method, allow);
}

/* A route of one study, /api/v1/studies/{id}/...: the API gates it on the
 * study's purpose (cs_api_study_gate) before its handler runs. */
static bool is_study_route(const cs_route_row *row)
{
    static const char prefix[] = "/api/v1/studies/{id}";
    size_t n = sizeof prefix - 1;
    return strncmp(row->pattern, prefix, n) == 0 &&
           (row->pattern[n] == '\0' || row->pattern[n] == '/');
}

/* The request announces no body (tus HEAD, DELETE, OPTIONS, creation
 * without data, an empty PATCH). */
static bool bodiless(struct MHD_Connection *c)
{
    const char *cl =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    bool body = (cl && strcmp(cl, "0") != 0) ||
                MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING);
    return !body;
}

enum MHD_Result cs_router_dispatch(const cs_router *rt, struct MHD_Connection *c, cs_req *r,
                                   const char *url, const char *method, const char *data,
                                   size_t *size)
{
    const cs_route_row *row = r->row;
    enum MHD_Result ret;
    if (r->bad_path && !r->refused) {
        r->refused = true;
        return cs_http_error(rt->metrics, c, 400, r->tus, "bad_path",
                             "the path must be UTF-8 text without %%00 or control characters");
    }
    if (r->refused) { /* answered already; drain the body */
        *size = 0;
        return MHD_YES;
    }
    if (!row)
        return no_row(rt, c, r, url, method);
    if (row->tus && !r->tus_deferred && !r->auth_done && bodiless(c)) {
        /* libmicrohttpd closes the connection after a response queued
         * before the request is read to its end: answer a tus request
         * without a body on its last call, so the connection stays open. */
        r->tus_deferred = true;
        return MHD_YES;
    }
    if (!r->auth_done) {
        if (check_access(rt, c, r, row->who, row->csrf, row->patient, row->pattern, &ret)) {
            r->refused = true;
            return ret;
        }
        r->auth_done = true;
    }
    if (row->tus)
        return cs_tus_handle(rt->tus, c, r, method, data, size);
    if (is_study_route(row) && cs_api_study_gate(rt->api, c, r, &ret))
        return ret;
    cs_http_last_status = 0;
    switch (row->handler.layer) {
    case CS_RL_API: ret = row->handler.fn.api(rt->api, c, r); break;
    case CS_RL_MEDIA: ret = row->handler.fn.media(rt->media, c, r); break;
    case CS_RL_ROUTER: ret = row->handler.fn.router(rt, c, r); break;
    default: /* tus rows went to cs_tus_handle above */
        ret = cs_http_error(rt->metrics, c, 500, false, "internal", "route has no handler");
        break;
    }
    if (row->audit && cs_http_last_status >= 200 && cs_http_last_status < 300)
        cs_audit(rt->audit, &r->auth, row->audit, r->id, "%.8s %.200s", r->method, r->url);
    return ret;
}

json_t *cs_route_who_json(unsigned who)
{
    static const struct {
        unsigned bit;
        const char *name;
    } NAMES[] = {
        {CS_WHO_PUBLIC, "public"},
        {CS_WHO_DEVICE, "device_token"},
        {CS_WHO_ADMIN_TOKEN, "admin_token"},
        {CS_WHO_PATIENT, "patient_code"},
    };
    json_t *a = json_array();
    for (size_t i = 0; i < sizeof NAMES / sizeof NAMES[0]; i++)
        if (who & NAMES[i].bit)
            json_array_append_new(a, json_string(NAMES[i].name));
    /* Every role by its bit (cs_role_bit): a role added to the vocabulary
     * is named here, and walked by the tests, without a second list. */
    for (unsigned i = 0; cs_vocab_roles[i].name; i++)
        if (who & cs_role_bit(cs_vocab_roles[i].name))
            json_array_append_new(a, json_string(cs_vocab_roles[i].name));
    return a;
}
