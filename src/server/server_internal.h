/* server_internal.h - what the server's files share: the server object,
 * the per-request context, metrics counters, response helpers and the
 * entry points of each route family. Not a public header.
 *
 * Threads: the server object is shared by every connection thread and the
 * ingest threads. Its config, store, engine and paths are read-only after
 * start; counters are atomics; upload locks and the progress signal have
 * their own mutexes (docs/server.md, "Threads and locks"). */
#ifndef CS_SERVER_INTERNAL_H
#define CS_SERVER_INTERNAL_H

#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "capscreen/engine.h"
#include "capscreen/server.h"
#include "capscreen/store.h"

#define CS_API_BODY_MAX (64 * 1024)   /* JSON request bodies (a report's content fits) */
#define CS_TUS_VERSION "1.0.0"
#define CS_TUS_EXTENSIONS "creation,creation-defer-length,creation-with-upload,checksum," \
                          "termination,expiration"

/* Kinds of errors counted in capscreen_errors_total{kind=...}. */
typedef enum cs_err_kind {
    CS_EK_BAD_REQUEST, CS_EK_UNAUTHORISED, CS_EK_FORBIDDEN, CS_EK_NOT_FOUND, CS_EK_GONE,
    CS_EK_CONFLICT, CS_EK_CHECKSUM, CS_EK_TOO_LARGE, CS_EK_MEDIA_TYPE, CS_EK_VERSION,
    CS_EK_INTERNAL, CS_EK_CUT_OFF, CS_EK_FRAME_DAMAGED, CS_EK_FRAME_UNDECODABLE,
    CS_EK_COUNT
} cs_err_kind;
const char *cs_err_kind_name(cs_err_kind k);

typedef struct cs_ingest cs_ingest;
typedef struct cs_upload_lock cs_upload_lock;
typedef struct cs_login_limiter cs_login_limiter;
typedef struct cs_view_log cs_view_log;

struct cs_server {
    cs_server_config cfg;
    cs_store *store;
    cs_engine *engine;
    struct MHD_Daemon *mhd;
    cs_ingest *ingest;
    char bound[CS_CFG_STR + 16];
    char uploads_dir[CS_CFG_PATH + 16];

    atomic_bool stopping;
    atomic_int requests_active;
    atomic_long uploads_active;                 /* PATCH/POST bodies being received */
    atomic_ullong bytes_received;
    atomic_ullong frames_analysed;
    atomic_ullong errors[CS_EK_COUNT];

    pthread_mutex_t locks_mu;                   /* guards `locks`, `lock_tickets` */
    cs_upload_lock *locks;                      /* uploads with a body in flight */
    uint64_t lock_tickets;                      /* the last lock ticket handed out */

    char web_dir[CS_CFG_PATH];                  /* the pages served at / */
    bool tls;                                   /* HTTPS: cookies get Secure */
    char *tls_cert, *tls_key;                   /* PEM text when tls */
    cs_login_limiter *limiter;                  /* failed logins (session.c) */
    cs_view_log *views;                         /* frames.view batches (audit.c) */
    char dummy_pw_hash[CS_PWHASH_MAX];          /* checked for unknown users */

    pthread_mutex_t progress_mu;                /* guards progress_gen */
    pthread_cond_t progress_cv;                 /* broadcast when progress_gen moves */
    uint64_t progress_gen;
};

typedef enum cs_auth_kind {
    CS_AUTH_NONE, CS_AUTH_BAD, CS_AUTH_ADMIN, CS_AUTH_DEVICE,
    CS_AUTH_USER,               /* a logged-in user (session cookie) */
} cs_auth_kind;

/* Roles as bits, for "who may use this route". The admin bearer token
 * counts as CS_ROLE_ADMIN. */
enum {
    CS_ROLE_ADMIN = 1, CS_ROLE_READER = 2, CS_ROLE_CONSULTANT = 4, CS_ROLE_COORDINATOR = 8,
};
#define CS_ROLES_ANY (CS_ROLE_ADMIN | CS_ROLE_READER | CS_ROLE_CONSULTANT | CS_ROLE_COORDINATOR)
#define CS_ROLES_IMAGES (CS_ROLE_ADMIN | CS_ROLE_READER | CS_ROLE_CONSULTANT)
#define CS_ROLES_EDIT (CS_ROLE_READER | CS_ROLE_CONSULTANT)
/* The bit of a role name; 0 for an unknown name. */
unsigned cs_role_bit(const char *role);

typedef struct cs_auth {
    cs_auth_kind kind;
    char study[CS_ID_MAX];      /* CS_AUTH_DEVICE: the device's one study */
    /* CS_AUTH_USER */
    char user[CS_USER_MAX];
    char role[CS_ROLE_MAX];
    char csrf[CS_HASH_HEX_MAX];
    char session_hash[CS_HASH_HEX_MAX];
    int64_t session_created_at;
    bool expired;               /* CS_AUTH_BAD: the cookie named an ended session */
    char ip[CS_IP_MAX];         /* the client's address, for the audit log */
} cs_auth;

typedef struct cs_tus_req cs_tus_req;

/* One request's state; owned by http.c, freed when MHD says it completed. */
typedef struct cs_req {
    const struct cs_route_row *row; /* the route (router.h); NULL = none matched */
    bool tus;                   /* a tus route: the router sees every call */
    bool auth_done;             /* the router has let the caller in */
    bool refused;               /* the router refused it (a tus body is drained) */
    cs_auth auth;               /* the caller, classified on the first call */
    cs_status auth_status;      /* CS_OK or the store's failure classifying it */
    char method[8];             /* GET, POST, ... ("" when longer) */
    char id[CS_ID_MAX];         /* study or upload id from the path ({id}) */
    char name[CS_USER_MAX];     /* user name from the path ({name}) */
    uint64_t num;               /* number from the path ({n}) */
    char key[32];               /* landmark or segment from the path ({key}) */
    char url[512];              /* the path (for static pages and audit) */
    char *body;                 /* JSON API request body, capped */
    size_t body_len;
    bool body_too_large;
    bool collect;               /* a non-tus request with a body: collect it */
    cs_tus_req *tus_state;      /* tus.c's state for a request with a body */
    bool tus_seen;              /* tus.c has seen the request's first call */
    bool tus_deferred;          /* a bodiless tus POST/PATCH answered on its last call */
} cs_req;

/* ---- responses (http.c) ------------------------------------------------ */

/* Queue `obj` (stolen: freed here) as a JSON response with `status`.
 * `tus` adds Tus-Resumable. Extra headers: NULL-terminated name, value list. */
enum MHD_Result cs_http_json(struct MHD_Connection *c, unsigned status, json_t *obj, bool tus,
                             const char *const *headers);
/* The JSON error {"error": code, "status": N, "reason": "..."}; counts it. */
enum MHD_Result cs_http_error(cs_server *s, struct MHD_Connection *c, unsigned status, bool tus,
                              const char *code, const char *fmt, ...) CS_PRINTF(6, 7);
/* Same with extra headers. */
enum MHD_Result cs_http_error_h(cs_server *s, struct MHD_Connection *c, unsigned status, bool tus,
                                const char *const *headers, const char *code, const char *fmt,
                                ...) CS_PRINTF(7, 8);
/* An empty response with headers (tus HEAD/PATCH/DELETE answers). */
enum MHD_Result cs_http_empty(struct MHD_Connection *c, unsigned status,
                              const char *const *headers);
void cs_count_error(cs_server *s, cs_err_kind k);
/* The status of the last response queued on this thread (one thread per
 * connection): lets the router audit only answers that succeeded. */
extern _Thread_local unsigned cs_http_last_status;
/* libmicrohttpd callbacks (cls is the server). */
enum MHD_Result cs_http_on_request(void *cls, struct MHD_Connection *c, const char *url,
                                   const char *method, const char *version, const char *data,
                                   size_t *size, void **con_cls);
void cs_http_on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                          enum MHD_RequestTerminationCode toe);
/* Wake event streams: progress may have changed. */
void cs_progress_bump(cs_server *s);

/* ---- authentication (auth.c) ------------------------------------------- */


/* Classify the request: the Authorization header (none, a bad/revoked
 * token, the admin token, a device token), else the session cookie (a
 * live session, ended ones are deleted and reported as CS_AUTH_BAD).
 * Errors: CS_ERR_IO (store). */
cs_status cs_auth_check(cs_server *s, struct MHD_Connection *c, cs_auth *out, cs_error *err)
    CS_WARN_UNUSED;
/* The client's address as text into ip (CS_IP_MAX). */
void cs_client_ip(struct MHD_Connection *c, char *ip);

/* ---- the workstation (session.c, audit.c, api_ws_*.c) -------------------- */

/* Parse the collected body as a JSON object, or answer 400 (NULL). */
json_t *cs_http_body_json(cs_server *s, struct MHD_Connection *c, const cs_req *r,
                          enum MHD_Result *ret);
/* Bytes as a response with a content type and extra headers. `body` is
 * copied unless `take` (then it is freed by MHD). */
enum MHD_Result cs_http_bytes(struct MHD_Connection *c, unsigned status, const char *type,
                              void *body, size_t len, bool take, const char *const *headers);

cs_status cs_session_init(cs_server *s, cs_error *err) CS_WARN_UNUSED;
void cs_session_free(cs_server *s);
enum MHD_Result cs_api_session(cs_server *s, struct MHD_Connection *c, cs_req *r);
enum MHD_Result cs_api_users(cs_server *s, struct MHD_Connection *c, cs_req *r);
enum MHD_Result cs_api_user(cs_server *s, struct MHD_Connection *c, cs_req *r);
/* Hash a password (argon2id, interactive limits) into out (CS_PWHASH_MAX).
 * Errors: CS_ERR_ARG (shorter than CS_PASSWORD_MIN or over 1024 bytes),
 * CS_ERR_NOMEM. */
#define CS_PASSWORD_MIN 10
cs_status cs_password_hash(const char *pw, char *out, cs_error *err) CS_WARN_UNUSED;
/* A user name: 1..63 of [a-z0-9._-], starting with a letter or digit. */
bool cs_user_name_ok(const char *name);

/* Append to the audit log (who from `a`, or nobody). Failures are logged
 * to stderr and counted; they never fail the request. */
void cs_audit(cs_server *s, const cs_auth *a, const char *action, const char *study,
              const char *fmt, ...) CS_PRINTF(5, 6);
/* Note that a session was served frame `seq` of `study`: batched into
 * frames.view entries (docs/workstation.md). */
void cs_audit_frame_viewed(cs_server *s, const cs_auth *a, const char *study, uint64_t seq);
/* Write frames.view batches older than their window (all when `all`). */
void cs_audit_flush_views(cs_server *s, bool all);
cs_status cs_audit_init(cs_server *s, cs_error *err) CS_WARN_UNUSED;
void cs_audit_free(cs_server *s);
enum MHD_Result cs_api_audit(cs_server *s, struct MHD_Connection *c, cs_req *r);

enum MHD_Result cs_api_worklist(cs_server *s, struct MHD_Connection *c, cs_req *r);
/* POST /api/v1/studies/{id}/assign */
enum MHD_Result cs_api_study_assign(cs_server *s, struct MHD_Connection *c, cs_req *r);
/* The workflow state of a study (docs/workstation.md) from its ingest
 * state (cs_api_study_json's "state") and its report state ("" = none). */
const char *cs_workflow_state(const char *ingest_state, const char *report_state);
enum MHD_Result cs_static_handle(cs_server *s, struct MHD_Connection *c, cs_req *r);

/* ---- route families ------------------------------------------------------ */

enum MHD_Result cs_tus_handle(cs_server *s, struct MHD_Connection *c, cs_req *r,
                              const char *method, const char *data, size_t *size);
/* The request ended (completed, failed or cut off): close, fsync, persist,
 * unlock. */
void cs_tus_request_done(cs_server *s, cs_req *r, enum MHD_RequestTerminationCode toe);
void cs_tus_free(cs_tus_req *t);
/* At start: match each open upload's stored offset with its file. */
cs_status cs_tus_reconcile(cs_server *s, cs_error *err) CS_WARN_UNUSED;
/* Expire idle incomplete uploads. */
void cs_tus_sweep(cs_server *s);

enum MHD_Result cs_api_studies_create(cs_server *s, struct MHD_Connection *c, cs_req *r);
enum MHD_Result cs_api_study_get(cs_server *s, struct MHD_Connection *c, cs_req *r);
enum MHD_Result cs_api_study_revoke(cs_server *s, struct MHD_Connection *c, cs_req *r);
enum MHD_Result cs_api_enrol(cs_server *s, struct MHD_Connection *c, cs_req *r);
/* The study's state and progress as JSON (new reference), or NULL with
 * *found false. */
json_t *cs_api_study_json(cs_server *s, const char *id, bool *found, cs_error *err);
/* The same from a study record already read; without `lists` the
 * bleeding_frames and errors lists (two queries) are left out. */
json_t *cs_api_study_rec_json(cs_server *s, const cs_study_rec *sr, bool lists, cs_error *err);
enum MHD_Result cs_events_handle(cs_server *s, struct MHD_Connection *c, cs_req *r);
enum MHD_Result cs_metrics_handle(cs_server *s, struct MHD_Connection *c, cs_req *r);
enum MHD_Result cs_health_handle(cs_server *s, struct MHD_Connection *c, cs_req *r);
enum MHD_Result cs_api_vocabulary(cs_server *s, struct MHD_Connection *c, cs_req *r);

/* ---- live ingest (ingest.c) ---------------------------------------------- */

cs_status cs_ingest_new(cs_server *s, cs_ingest **out, cs_error *err) CS_WARN_UNUSED;
/* New bytes (or a closed upload) for `study`: start its analysis thread or
 * wake it. Never blocks on I/O. */
void cs_ingest_notify(cs_ingest *g, const char *study);
/* Frames the study's reader has handed out, or -1 when it is not running. */
int64_t cs_ingest_received(cs_ingest *g, const char *study);
/* Stop every analysis thread after it saved its place; frees. Accepts NULL. */
void cs_ingest_free(cs_ingest *g);

/* Milliseconds / seconds since the Unix epoch. */
int64_t cs_now_ms(void);
int64_t cs_now_s(void);

#endif
