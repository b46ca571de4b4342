/* router.h - the route table and the one place where a request is
 * authenticated, authorised, CSRF-checked and dispatched.
 *
 * Every route is one row of cs_routes (routes.c): method, path pattern,
 * who may call it, whether a session must send X-CSRF-Token, the audit
 * action written after a 2xx answer, and the handler. Handlers run only
 * after the router let the caller in; they read the caller from r->auth
 * and the path parameters from r (id, name, num, key).
 *
 * Path patterns: literal segments and the placeholders {id} (a study or
 * upload id: 1..CS_ID_MAX-1 of [0-9a-z-]), {name} (a user name), {n} (a
 * decimal number, into r->num), {n}.jpg, and {key} (1..31 of [a-z0-9_-]).
 * The pattern "*" is the static pages' fallback (any path outside /api).
 * A GET row also serves HEAD.
 *
 * Threads: the table is constant; dispatch runs on the connection's
 * thread. Errors: answered as JSON (docs/api.md). */
#ifndef CS_SERVER_ROUTER_H
#define CS_SERVER_ROUTER_H

#include "server/api/api.h"
#include "server/audit/audit.h"
#include "server/auth/auth.h"
#include "server/media/media.h"
#include "server/transport/http.h"
#include "server/transport/linger.h"
#include "server/tus/tus.h"

/* Who may use a route (cs_route_row.who). The role bits are CS_ROLE_*. */
enum {
    CS_WHO_PUBLIC = 1u << 8,       /* anyone, no credentials needed */
    CS_WHO_DEVICE = 1u << 9,       /* a hub's device token */
    CS_WHO_ADMIN_TOKEN = 1u << 10, /* the admin bearer token */
    CS_WHO_PATIENT = 1u << 11,     /* a patient code: its study's companion page */
};
#define CS_WHO_ADMINS (CS_ROLE_ADMIN | CS_WHO_ADMIN_TOKEN)
#define CS_WHO_SESSIONS CS_ROLES_ANY

typedef struct cs_router cs_router;

/* A handler gets its own layer's context and nothing more of the server:
 * the row says whose handler it is. */
typedef enum cs_route_layer {
    CS_RL_TUS,    /* cs_tus_handle (tus.h), called on every call */
    CS_RL_API,    /* an API handler (api.h) */
    CS_RL_MEDIA,  /* the static pages (media.h) */
    CS_RL_ROUTER, /* the router's own (the route list) */
} cs_route_layer;

typedef struct cs_route_handler {
    cs_route_layer layer;
    union {
        enum MHD_Result (*api)(const cs_api *api, struct MHD_Connection *c, cs_req *r);
        enum MHD_Result (*media)(const cs_media *m, struct MHD_Connection *c, cs_req *r);
        enum MHD_Result (*router)(const cs_router *rt, struct MHD_Connection *c, cs_req *r);
    } fn;
} cs_route_handler;

/* What the router works with: the contexts of the layers it dispatches
 * to, and what it needs itself. Filled by server.c; all outlive it. */
struct cs_router {
    const cs_server_config *cfg; /* connection and header timeouts */
    cs_metrics *metrics;         /* requests, connections, latency, errors */
    const cs_auth_ctx *auth;     /* who is asking */
    cs_audit_log *audit;         /* access.denied and the rows' actions */
    const cs_api *api;
    const cs_tus *tus;
    const cs_media *media;
    cs_linger *linger; /* connections answered before their body was read */
};

typedef struct cs_route_row {
    const char *method;       /* "GET" (HEAD too), "POST", ... */
    const char *pattern;      /* see above */
    unsigned who;             /* CS_WHO_* and CS_ROLE_* bits */
    bool csrf;                /* a session must send its X-CSRF-Token */
    bool patient;             /* patient data: refusals are audited as access.denied */
    const char *audit;        /* action audited after a 2xx answer; NULL = none */
    bool tus;                 /* the tus handler: sees every call, body included */
    cs_route_handler handler; /* tus rows: CS_RL_TUS */
} cs_route_row;

/* The table, ending with a row whose method is NULL. */
extern const cs_route_row cs_routes[];

/* The request's first call (headers only): choose its row, classify the
 * caller. Sets r->row (NULL: no row matches method and path) and r->tus. */
void cs_router_begin(const cs_router *rt, struct MHD_Connection *c, cs_req *r, const char *url,
                     const char *method);

/* Answer the request: refusals (401/403/CSRF, audited when the row holds
 * patient data), 404, 405 with Allow from the table, or the row's handler.
 * Non-tus requests come here once, with the whole body collected; tus
 * requests on every call. */
enum MHD_Result cs_router_dispatch(const cs_router *rt, struct MHD_Connection *c, cs_req *r,
                                   const char *url, const char *method, const char *data,
                                   size_t *size);

/* libmicrohttpd callbacks (cls is the router, a const cs_router *). */
enum MHD_Result cs_http_on_request(void *cls, struct MHD_Connection *c, const char *url,
                                   const char *method, const char *version, const char *data,
                                   size_t *size, void **con_cls);
void cs_http_on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                          enum MHD_RequestTerminationCode toe);
/* Percent-decode `uri` in place, except %00, which stays as it is so the
 * router can refuse it (a NUL would silently cut the path). */
size_t cs_http_unescape(void *cls, struct MHD_Connection *c, char *uri);
/* A connection opened or closed: while it waits for a request's headers
 * its idle limit is header_timeout, then connection_timeout. */
void cs_http_on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                           enum MHD_ConnectionNotificationCode toe);

/* The "who" bits of a row as JSON: an array of names (public,
 * device_token, admin_token, patient_code, then every role of the
 * vocabulary the row admits); new reference. */
json_t *cs_route_who_json(unsigned who);

#endif
