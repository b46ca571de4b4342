/* http.h - the transport layer: the request context that every handler
 * gets (cs_req) and the response helpers (JSON, errors, bytes, empty).
 * Above core/ only; libmicrohttpd's callbacks live in router/dispatch.c.
 *
 * Threads: a cs_req belongs to its connection's thread. The helpers may be
 * called from any connection thread.
 * Errors: the helpers return MHD_NO when the response cannot be built
 * (out of memory); libmicrohttpd then closes the connection. */
#ifndef CS_SERVER_TRANSPORT_HTTP_H
#define CS_SERVER_TRANSPORT_HTTP_H

#include "server/core/core.h"

#define CS_API_BODY_MAX (64 * 1024) /* JSON request bodies (a report's content fits) */

typedef struct cs_tus_req cs_tus_req;

/* One request's state; owned by router/dispatch.c, freed when MHD says it completed. */
typedef struct cs_req {
    const struct cs_route_row *row; /* the route (router.h); NULL = none matched */
    bool tus;                       /* a tus route: the router sees every call */
    bool auth_done;                 /* the router has let the caller in */
    bool refused;                   /* the router refused it (a tus body is drained) */
    bool bad_path;                  /* the path holds %00, control bytes or bad UTF-8 */
    cs_auth auth;                   /* the caller, classified on the first call */
    cs_status auth_status;          /* CS_OK or the store's failure classifying it */
    char method[8];                 /* GET, POST, ... ("" when longer) */
    char id[CS_ID_MAX];             /* study or upload id from the path ({id}) */
    char name[CS_USER_MAX];         /* user name from the path ({name}) */
    uint64_t num;                   /* number from the path ({n}) */
    char key[32];                   /* landmark or segment from the path ({key}) */
    char url[512];                  /* the path (for static pages and audit) */
    char *body;                     /* JSON API request body, capped */
    size_t body_len;
    bool body_too_large;
    bool body_expected;             /* Content-Length > 0 or chunked */
    bool body_read;                 /* the last call came: the body was read to its end */
    bool collect;                   /* a non-tus request with a body: collect it */
    cs_tus_req *tus_state;          /* tus.c's state for a request with a body */
    bool tus_seen;                  /* tus.c has seen the request's first call */
    bool tus_deferred;              /* a bodiless tus POST/PATCH answered on its last call */
    int64_t started_us;             /* cs_mono_us() when the headers were in */
    cs_latency_class latency_class; /* its /metrics histogram */
} cs_req;

/* Queue `obj` (stolen: freed here) as a JSON response with `status`.
 * `tus` adds Tus-Resumable. Extra headers: NULL-terminated name, value list. */
enum MHD_Result cs_http_json(struct MHD_Connection *c, unsigned status, json_t *obj, bool tus,
                             const char *const *headers);
/* The JSON error {"error": code, "status": N, "reason": "..."}; counts it. */
enum MHD_Result cs_http_error(cs_metrics *m, struct MHD_Connection *c, unsigned status, bool tus,
                              const char *code, const char *fmt, ...) CS_PRINTF(6, 7);
/* Same with extra headers. */
enum MHD_Result cs_http_error_h(cs_metrics *m, struct MHD_Connection *c, unsigned status, bool tus,
                                const char *const *headers, const char *code, const char *fmt, ...)
    CS_PRINTF(7, 8);
/* An empty response with headers (tus HEAD/PATCH/DELETE answers). */
enum MHD_Result cs_http_empty(struct MHD_Connection *c, unsigned status,
                              const char *const *headers);
/* The status of the last response queued on this thread (one thread per
 * connection): lets the router audit only answers that succeeded. */
extern _Thread_local unsigned cs_http_last_status;
/* Parse the collected body as a JSON object, or answer 400 (NULL). */
json_t *cs_http_body_json(cs_metrics *m, struct MHD_Connection *c, const cs_req *r,
                          enum MHD_Result *ret);
/* Bytes as a response with a content type and extra headers. `body` is
 * copied unless `take` (then it is freed by MHD). */
enum MHD_Result cs_http_bytes(struct MHD_Connection *c, unsigned status, const char *type,
                              void *body, size_t len, bool take, const char *const *headers);

/* Is `s` printable UTF-8 text (no control bytes, no bad sequences)? */
bool cs_http_text_ok(const char *s);
/* Make `s` printable UTF-8 text in place: control bytes become spaces,
 * bad sequences '?'. */
void cs_http_text_clean(char *s);

#endif
