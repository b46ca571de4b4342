/* core.h - the bottom layer of the server: what every layer shares. The
 * server object (its config, store, engine, counters and locks), the
 * caller of a request (cs_auth, filled by auth/), the roles as bits, the
 * kinds of errors counted in /metrics, and the clock.
 *
 * Every layer may include this header; it includes no other server
 * header. Narrowing what each layer sees of struct cs_server is issue 14's
 * next step (docs/server.md, "Layers").
 *
 * Threads: the server object is shared by every connection thread and the
 * ingest threads. Its config, store, engine and paths are read-only after
 * start; counters are atomics; upload locks and the progress signal have
 * their own mutexes (docs/server.md, "Threads and locks"). */
#ifndef CS_SERVER_CORE_H
#define CS_SERVER_CORE_H

#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "capscreen/engine.h"
#include "capscreen/server.h"
#include "capscreen/store.h"
#include "server/core/latency.h"

#define CS_TUS_VERSION "1.0.0"

/* Kinds of errors counted in capscreen_errors_total{kind=...}. */
typedef enum cs_err_kind {
    CS_EK_BAD_REQUEST,
    CS_EK_UNAUTHORISED,
    CS_EK_FORBIDDEN,
    CS_EK_NOT_FOUND,
    CS_EK_GONE,
    CS_EK_CONFLICT,
    CS_EK_CHECKSUM,
    CS_EK_TOO_LARGE,
    CS_EK_MEDIA_TYPE,
    CS_EK_VERSION,
    CS_EK_INTERNAL,
    CS_EK_CUT_OFF,
    CS_EK_FRAME_DAMAGED,
    CS_EK_FRAME_UNDECODABLE,
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
    atomic_long uploads_active; /* PATCH/POST bodies being received */
    atomic_ullong bytes_received;
    atomic_ullong frames_analysed;
    atomic_ullong connections_opened; /* connections accepted */
    atomic_ullong requests_total;     /* requests begun */
    atomic_ullong errors[CS_EK_COUNT];
    cs_latency_hist latency[CS_LC_COUNT]; /* request durations (latency.h) */
    atomic_ullong device_revocations;     /* +1 per revoke: tus re-checks a body's token */

    pthread_mutex_t locks_mu; /* guards `locks`, `lock_tickets` */
    cs_upload_lock *locks;    /* uploads with a body in flight */
    uint64_t lock_tickets;    /* the last lock ticket handed out */

    char web_dir[CS_CFG_PATH];         /* the pages served at / */
    bool tls;                          /* HTTPS: cookies get Secure */
    char *tls_cert, *tls_key;          /* PEM text when tls */
    cs_login_limiter *limiter;         /* failed logins (api/session.c) */
    cs_view_log *views;                /* frames.view batches (audit.c) */
    char dummy_pw_hash[CS_PWHASH_MAX]; /* checked for unknown users */

    pthread_mutex_t progress_mu; /* guards progress_gen */
    pthread_cond_t progress_cv;  /* broadcast when progress_gen moves */
    uint64_t progress_gen;
    atomic_ullong session_gen; /* moves when sessions end (logout, a user
                                                   disabled, changed or a session purged);
                                                   event streams re-check theirs */
};

typedef enum cs_auth_kind {
    CS_AUTH_NONE,
    CS_AUTH_BAD,
    CS_AUTH_ADMIN,
    CS_AUTH_DEVICE,
    CS_AUTH_USER, /* a logged-in user (session cookie) */
} cs_auth_kind;

/* Roles as bits, for "who may use this route". The admin bearer token
 * counts as CS_ROLE_ADMIN. */
enum {
    CS_ROLE_ADMIN = 1,
    CS_ROLE_READER = 2,
    CS_ROLE_CONSULTANT = 4,
    CS_ROLE_COORDINATOR = 8,
};
#define CS_ROLES_ANY (CS_ROLE_ADMIN | CS_ROLE_READER | CS_ROLE_CONSULTANT | CS_ROLE_COORDINATOR)
#define CS_ROLES_IMAGES (CS_ROLE_ADMIN | CS_ROLE_READER | CS_ROLE_CONSULTANT)
#define CS_ROLES_EDIT (CS_ROLE_READER | CS_ROLE_CONSULTANT)
/* The bit of a role name; 0 for an unknown name. */
unsigned cs_role_bit(const char *role);

typedef struct cs_auth {
    cs_auth_kind kind;
    char study[CS_ID_MAX]; /* CS_AUTH_DEVICE: the device's one study */
    /* CS_AUTH_USER */
    char user[CS_USER_MAX];
    char role[CS_ROLE_MAX];
    char csrf[CS_HASH_HEX_MAX];
    char session_hash[CS_HASH_HEX_MAX];
    int64_t session_created_at;
    bool expired;       /* CS_AUTH_BAD: the cookie named an ended session */
    char ip[CS_IP_MAX]; /* the client's address, for the audit log */
} cs_auth;

/* Milliseconds / seconds since the Unix epoch. */
int64_t cs_now_ms(void);
int64_t cs_now_s(void);

/* Sessions may have ended: move session_gen and wake the event streams
 * (they wait on progress_cv) so each re-checks its session now. */
void cs_sessions_changed(cs_server *s);

/* Count one error of kind k in capscreen_errors_total. */
void cs_count_error(cs_server *s, cs_err_kind k);

#endif
