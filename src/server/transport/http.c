/* http.c - the response helpers (JSON, errors, bytes, empty) and the JSON
 * body parser. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/transport/http.h"

static void add_headers(struct MHD_Response *resp, bool tus, const char *const *headers)
{
    if (tus)
        MHD_add_response_header(resp, "Tus-Resumable", CS_TUS_VERSION);
    for (size_t i = 0; headers && headers[i] && headers[i + 1]; i += 2)
        MHD_add_response_header(resp, headers[i], headers[i + 1]);
}

_Thread_local unsigned cs_http_last_status;

static enum MHD_Result queue(struct MHD_Connection *c, unsigned status, struct MHD_Response *resp)
{
    if (!resp)
        return MHD_NO;
    cs_http_last_status = status;
    enum MHD_Result r = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    return r;
}

/* Replace what is not printable UTF-8 text (bad sequences, control bytes)
 * with '?', in place: request bytes quoted in an error must not make the
 * JSON unbuildable (jansson refuses invalid UTF-8). */
static size_t text_char_len(const unsigned char *u)
{
    size_t n = *u < 0x80             ? 1
               : (*u & 0xe0) == 0xc0 ? 2
               : (*u & 0xf0) == 0xe0 ? 3
               : (*u & 0xf8) == 0xf0 ? 4
                                     : 0;
    bool ok = n > 0 && !(n == 2 && *u < 0xc2) && !(n == 4 && *u > 0xf4);
    for (size_t i = 1; ok && i < n; i++)
        ok = (u[i] & 0xc0) == 0x80;
    if (ok && n == 1 && (*u < 0x20 || *u == 0x7f))
        ok = false;
    return ok ? n : 0;
}

static void utf8_clean(char *p)
{
    unsigned char *u = (unsigned char *)p;
    while (*u) {
        size_t n = text_char_len(u);
        if (!n)
            *u++ = '?';
        else
            u += n;
    }
}

void cs_http_text_clean(char *p)
{
    unsigned char *u = (unsigned char *)p;
    while (*u) {
        size_t n = text_char_len(u);
        if (n) {
            u += n;
        } else {
            *u = *u < 0x20 || *u == 0x7f ? ' ' : '?';
            u++;
        }
    }
}

bool cs_http_text_ok(const char *p)
{
    const unsigned char *u = (const unsigned char *)p;
    while (*u) {
        size_t n = text_char_len(u);
        if (!n)
            return false;
        u += n;
    }
    return true;
}

enum MHD_Result cs_http_json(struct MHD_Connection *c, unsigned status, json_t *obj, bool tus,
                             const char *const *headers)
{
    char *text = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
    json_decref(obj);
    if (!text) { /* never an empty reply: say what went wrong */
        static const char FALLBACK[] = "{\"error\":\"internal\",\"status\":500,"
                                       "\"reason\":\"the answer could not be encoded\"}";
        text = strdup(FALLBACK);
        status = 500;
        headers = NULL;
        if (!text)
            return MHD_NO;
    }
    size_t n = strlen(text);
    text[n] = '\0';
    char *body = realloc(text, n + 2);
    if (!body) {
        free(text);
        return MHD_NO;
    }
    body[n] = '\n';
    struct MHD_Response *resp = MHD_create_response_from_buffer(n + 1, body, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    add_headers(resp, tus, headers);
    return queue(c, status, resp);
}

static cs_err_kind kind_of(unsigned status, const char *code)
{
    if (strcmp(code, "checksum_mismatch") == 0)
        return CS_EK_CHECKSUM;
    switch (status) {
    case 400: return CS_EK_BAD_REQUEST;
    case 401: return CS_EK_UNAUTHORISED;
    case 403: return CS_EK_FORBIDDEN;
    case 404: return CS_EK_NOT_FOUND;
    case 405: return CS_EK_BAD_REQUEST; /* a method the route does not have */
    case 410: return CS_EK_GONE;
    case 409:
    case 423: return CS_EK_CONFLICT;
    case 413: return CS_EK_TOO_LARGE;
    case 415: return CS_EK_MEDIA_TYPE;
    case 412: return CS_EK_VERSION;
    case 422: return CS_EK_BAD_REQUEST;  /* well-formed but refused (no recommendation) */
    case 429: return CS_EK_UNAUTHORISED; /* failed logins limited */
    case 460: return CS_EK_CHECKSUM;
    default: return CS_EK_INTERNAL;
    }
}

static enum MHD_Result verror(cs_metrics *m, struct MHD_Connection *c, unsigned status, bool tus,
                              const char *const *headers, const char *code, const char *fmt,
                              va_list ap)
{
    char reason[512];
    vsnprintf(reason, sizeof reason, fmt, ap);
    utf8_clean(reason);
    cs_metrics_error(m, kind_of(status, code));
    json_t *o =
        json_pack("{s:s, s:i, s:s}", "error", code, "status", (int)status, "reason", reason);
    const char *extra[16] = {0};
    size_t k = 0;
    for (size_t i = 0; headers && headers[i] && headers[i + 1] && k < 12; i += 2) {
        extra[k++] = headers[i];
        extra[k++] = headers[i + 1];
    }
    if (status == 401) {
        extra[k++] = "WWW-Authenticate";
        extra[k++] = "Bearer";
    }
    return cs_http_json(c, status, o, tus, extra);
}

enum MHD_Result cs_http_error(cs_metrics *m, struct MHD_Connection *c, unsigned status, bool tus,
                              const char *code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    enum MHD_Result r = verror(m, c, status, tus, NULL, code, fmt, ap);
    va_end(ap);
    return r;
}

enum MHD_Result cs_http_error_h(cs_metrics *m, struct MHD_Connection *c, unsigned status, bool tus,
                                const char *const *headers, const char *code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    enum MHD_Result r = verror(m, c, status, tus, headers, code, fmt, ap);
    va_end(ap);
    return r;
}

enum MHD_Result cs_http_empty(struct MHD_Connection *c, unsigned status, const char *const *headers)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    if (!resp)
        return MHD_NO;
    add_headers(resp, true, headers);
    return queue(c, status, resp);
}

json_t *cs_http_body_json(cs_metrics *m, struct MHD_Connection *c, const cs_req *r,
                          enum MHD_Result *ret)
{
    json_error_t je;
    json_t *o = json_loadb(r->body ? r->body : "{}", r->body ? r->body_len : 2, 0, &je);
    if (!o || !json_is_object(o)) {
        *ret = cs_http_error(m, c, 400, false, "bad_json", "body must be a JSON object: %s",
                             o ? "not an object" : je.text);
        json_decref(o);
        return NULL;
    }
    return o;
}

enum MHD_Result cs_http_bytes(struct MHD_Connection *c, unsigned status, const char *type,
                              void *body, size_t len, bool take, const char *const *headers)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, len ? body : NULL,
                                                                !len   ? MHD_RESPMEM_PERSISTENT
                                                                : take ? MHD_RESPMEM_MUST_FREE
                                                                       : MHD_RESPMEM_MUST_COPY);
    if (!resp) {
        if (take)
            free(body);
        return MHD_NO;
    }
    if (take && !len)
        free(body);
    if (type)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    add_headers(resp, false, headers);
    return queue(c, status, resp);
}
