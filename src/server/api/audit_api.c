/* audit_api.c - GET /api/v1/audit for admins: the audit log, newest
 * first, filtered by user, action, study and time, in pages
 * (docs/workstation.md, "Audit"). */
#include <stdlib.h>
#include <string.h>

#include "server/api/api_int.h"

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

enum MHD_Result cs_api_audit(const cs_api *api, struct MHD_Connection *c, cs_req *r)
{
    cs_auth a;
    cs_error e = {0};
    a = r->auth;
    /* Entries still batched in memory belong in the answer. */
    cs_audit_flush(api->audit, true);
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
        return cs_http_error(api->metrics, c, 400, false, "bad_query",
                             "since_ms, until_ms, before and limit (<= 1000) are whole numbers; "
                             "user, action and study hold no NUL (%%00)");
    q.limit = limit > 0 ? (size_t)limit : 200;
    cs_audit_rec *rows = NULL;
    size_t n = 0;
    if (cs_store_audit_query(api->store, &q, &rows, &n, &e) != CS_OK)
        return cs_http_error(api->metrics, c, 503, false, "store_unavailable", "%s", e.msg);
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(
            arr, json_pack("{s:I, s:I, s:s, s:s, s:s, s:s, s:s, s:s}", "n", (json_int_t)rows[i].n,
                           "at_ms", (json_int_t)rows[i].at_ms, "user", rows[i].user, "role",
                           rows[i].role, "action", rows[i].action, "study", rows[i].study, "detail",
                           rows[i].detail, "ip", rows[i].ip));
    json_t *next = n == q.limit && n > 0 ? json_integer(rows[n - 1].n) : json_null();
    free(rows);
    cs_audit(api->audit, &a, "audit.query", q.study, "user=%s action=%s", q.user ? q.user : "*",
             q.action ? q.action : "*");
    return cs_http_json(c, 200, json_pack("{s:o, s:o}", "entries", arr, "next_before", next), false,
                        NULL);
}
