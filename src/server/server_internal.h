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

#define CS_API_BODY_MAX (16 * 1024)   /* JSON request bodies */
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

    pthread_mutex_t progress_mu;                /* guards progress_gen */
    pthread_cond_t progress_cv;                 /* broadcast when progress_gen moves */
    uint64_t progress_gen;
};

/* Route of a request, decided on its first call. */
typedef enum cs_route {
    CS_R_NONE, CS_R_HEALTH, CS_R_METRICS, CS_R_TUS_ROOT, CS_R_TUS_UPLOAD, CS_R_STUDIES,
    CS_R_STUDY, CS_R_STUDY_EVENTS, CS_R_STUDY_REVOKE, CS_R_ENROL,
} cs_route;

typedef struct cs_tus_req cs_tus_req;

/* One request's state; owned by http.c, freed when MHD says it completed. */
typedef struct cs_req {
    cs_route route;
    char id[CS_ID_MAX];         /* study or upload id from the path */
    char *body;                 /* JSON API request body, capped */
    size_t body_len;
    bool body_too_large;
    cs_tus_req *tus;            /* tus.c's state for a request with a body */
    bool tus_seen;              /* tus.c has seen the request's first call */
    bool tus_deferred;          /* tus.c answers this bodiless POST/PATCH on its last call */
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
/* libmicrohttpd callbacks (cls is the server). */
enum MHD_Result cs_http_on_request(void *cls, struct MHD_Connection *c, const char *url,
                                   const char *method, const char *version, const char *data,
                                   size_t *size, void **con_cls);
void cs_http_on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                          enum MHD_RequestTerminationCode toe);
/* Wake event streams: progress may have changed. */
void cs_progress_bump(cs_server *s);

/* ---- authentication (auth.c) ------------------------------------------- */

typedef enum cs_auth_kind { CS_AUTH_NONE, CS_AUTH_BAD, CS_AUTH_ADMIN, CS_AUTH_DEVICE } cs_auth_kind;

typedef struct cs_auth {
    cs_auth_kind kind;
    char study[CS_ID_MAX];      /* CS_AUTH_DEVICE: the device's one study */
} cs_auth;

/* Classify the request's Authorization header: none, a bad/revoked token,
 * the admin token, or a device token. Errors: CS_ERR_IO (store). */
cs_status cs_auth_check(cs_server *s, struct MHD_Connection *c, cs_auth *out, cs_error *err)
    CS_WARN_UNUSED;
/* Answer 401/403 for a request that needs the admin token; MHD_NO means
 * "not answered: go on". */
bool cs_auth_require_admin(cs_server *s, struct MHD_Connection *c, enum MHD_Result *ret);

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
enum MHD_Result cs_events_handle(cs_server *s, struct MHD_Connection *c, cs_req *r);
enum MHD_Result cs_metrics_handle(cs_server *s, struct MHD_Connection *c);
enum MHD_Result cs_health_handle(cs_server *s, struct MHD_Connection *c);

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
