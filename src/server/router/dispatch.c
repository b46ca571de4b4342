/* dispatch.c - libmicrohttpd's callbacks: a request's context is made on
 * its first call, a JSON body is collected (capped), then the router
 * answers; the context is freed when libmicrohttpd says the request ended. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "server/router/router.h"
#include "server/tus/tus.h"

/* The request announces a body (a length over 0, or chunks). */
static bool body_expected(struct MHD_Connection *c)
{
    const char *len =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (len && strspn(len, "0") != strlen(len))
        return true;
    return MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING) !=
           NULL;
}

/* What the router keeps of a connection (its socket context). */
typedef struct cs_conn {
    atomic_bool linger; /* answered with its body unread: drain before closing */
} cs_conn;

/* The MHD access handler: called once with the headers, then with each
 * piece of the body, then once more with none (the last call). */
enum MHD_Result cs_http_on_request(void *cls, struct MHD_Connection *c, const char *url,
                                   const char *method, const char *version, const char *data,
                                   size_t *size, void **con_cls)
{
    const cs_router *rt = cls;
    cs_req *r = *con_cls;
    (void)version;
    if (r && *size == 0)
        r->body_read = true; /* the last call comes only once the body is in */
    if (!r) {
        r = calloc(1, sizeof *r);
        if (!r)
            return MHD_NO;
        *con_cls = r;
        r->started_us = cs_mono_us();
        r->latency_class = cs_latency_class_of(method, url);
        atomic_fetch_add(&rt->metrics->requests_active, 1);
        atomic_fetch_add(&rt->metrics->requests_total, 1);
        /* The headers are in: from now on the body may take its time. */
        MHD_set_connection_option(c, MHD_CONNECTION_OPTION_TIMEOUT,
                                  (unsigned)rt->cfg->connection_timeout_s);
        r->body_expected = body_expected(c);
        if (strlen(method) < sizeof r->method)
            memcpy(r->method, method, strlen(method) + 1);
        cs_router_begin(rt, c, r, url, method);
        /* Answer no request on its first call: libmicrohttpd closes the
         * connection after a response queued before the request (even a
         * GET without a body) has been read to its end. Only tus sees the
         * first call, to start writing an upload's body. */
        r->collect = !(r->row && r->row->tus);
        if (r->collect)
            return MHD_YES; /* the body (if any) follows, then the last call */
    }
    if (r->collect && *size > 0) { /* collect the JSON body, capped */
        if (!r->body_too_large && r->body_len + *size <= CS_API_BODY_MAX) {
            char *nb = realloc(r->body, r->body_len + *size + 1);
            if (!nb)
                return MHD_NO;
            r->body = nb;
            memcpy(r->body + r->body_len, data, *size);
            r->body_len += *size;
            r->body[r->body_len] = '\0';
        } else {
            r->body_too_large = true;
        }
        *size = 0;
        return MHD_YES;
    }
    if (r->body_too_large)
        return cs_http_error(rt->metrics, c, 413, false, "body_too_large",
                             "request body over %d bytes", CS_API_BODY_MAX);
    return cs_router_dispatch(rt, c, r, url, method, data, size);
}

void cs_http_on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                          enum MHD_RequestTerminationCode toe)
{
    const cs_router *rt = cls;
    cs_req *r = *con_cls;
    /* Waiting for the next request's headers (keep-alive). */
    MHD_set_connection_option(c, MHD_CONNECTION_OPTION_TIMEOUT,
                              (unsigned)rt->cfg->header_timeout_s);
    if (!r)
        return;
    /* Answered before the body was read: libmicrohttpd closes the
     * connection next; linger so the client reads the answer (linger.h). */
    if (toe == MHD_REQUEST_TERMINATED_COMPLETED_OK && r->body_expected && !r->body_read) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
        cs_conn *conn = ci ? ci->socket_context : NULL;
        if (conn)
            atomic_store(&conn->linger, true);
    }
    if (r->tus_state) {
        cs_tus_request_done(rt->tus, r, toe);
        cs_tus_free(r->tus_state);
    }
    cs_latency_observe(&rt->metrics->latency[r->latency_class], cs_mono_us() - r->started_us);
    free(r->body);
    free(r);
    *con_cls = NULL;
    atomic_fetch_sub(&rt->metrics->requests_active, 1);
}

void cs_http_on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                           enum MHD_ConnectionNotificationCode toe)
{
    const cs_router *rt = cls;
    if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
        /* Called just before libmicrohttpd closes the socket. */
        cs_conn *conn = *socket_context;
        *socket_context = NULL;
        if (conn && atomic_load(&conn->linger)) {
            const union MHD_ConnectionInfo *ci =
                MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
            if (ci && cs_linger_add(rt->linger, ci->connect_fd))
                atomic_fetch_add(&rt->metrics->connections_lingered, 1);
        }
        free(conn);
        return;
    }
    if (toe != MHD_CONNECTION_NOTIFY_STARTED)
        return;
    *socket_context = calloc(1, sizeof(cs_conn)); /* NULL: this one never lingers */
    atomic_fetch_add(&rt->metrics->connections_opened, 1);
    MHD_set_connection_option(c, MHD_CONNECTION_OPTION_TIMEOUT,
                              (unsigned)rt->cfg->header_timeout_s);
}

static int hex_digit(char ch)
{
    return ch >= '0' && ch <= '9'   ? ch - '0'
           : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
           : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
                                    : -1;
}

size_t cs_http_unescape(void *cls, struct MHD_Connection *c, char *uri)
{
    (void)cls;
    (void)c;
    char *w = uri;
    for (const char *p = uri; *p; p++) {
        int hi, lo;
        if (*p == '%' && (hi = hex_digit(p[1])) >= 0 && (lo = hex_digit(p[2])) >= 0 &&
            (hi | lo) != 0) {
            *w++ = (char)(hi * 16 + lo);
            p += 2;
        } else {
            *w++ = *p;
        }
    }
    *w = '\0';
    return (size_t)(w - uri);
}
