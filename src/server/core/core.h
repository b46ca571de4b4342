/* core.h - the bottom layer of the server: what every layer shares. The
 * caller of a request (cs_auth, filled by auth/), the roles as bits, the
 * clock, and the two shared objects every layer may be handed: the
 * counters (metrics.h) and the signals that long-running work waits on
 * (signals.h).
 *
 * No layer sees the server object (struct cs_server, private to
 * server.c): each layer gets a context of its own that holds only what it
 * needs (docs/server.md, "Layers").
 *
 * Every layer may include this header; it includes no other server
 * header outside core/. Threads: see metrics.h and signals.h. */
#ifndef CS_SERVER_CORE_H
#define CS_SERVER_CORE_H

#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>

#include "capscreen/engine.h"
#include "capscreen/server.h"
#include "capscreen/store.h"
#include "server/core/latency.h"
#include "server/core/metrics.h"
#include "server/core/signals.h"

#define CS_TUS_VERSION "1.0.0"

typedef enum cs_auth_kind {
    CS_AUTH_NONE,
    CS_AUTH_BAD,
    CS_AUTH_ADMIN,
    CS_AUTH_DEVICE,
    CS_AUTH_USER,    /* a logged-in user (session cookie) */
    CS_AUTH_PATIENT, /* a patient code: the study's companion page only */
} cs_auth_kind;

/* Roles as bits, for "who may use this route". The admin bearer token
 * counts as CS_ROLE_ADMIN. */
enum {
    CS_ROLE_ADMIN = 1,
    CS_ROLE_READER = 2,
    CS_ROLE_CONSULTANT = 4,
    CS_ROLE_COORDINATOR = 8,
    CS_ROLE_TRAINER = 16, /* reader training (docs/training.md): courses and cases */
    CS_ROLE_TRAINEE = 32, /* reads training cases only: no patient, no clinical study */
};
#define CS_ROLES_ANY (CS_ROLE_ADMIN | CS_ROLE_READER | CS_ROLE_CONSULTANT | CS_ROLE_COORDINATOR)
#define CS_ROLES_IMAGES (CS_ROLE_ADMIN | CS_ROLE_READER | CS_ROLE_CONSULTANT)
#define CS_ROLES_EDIT (CS_ROLE_READER | CS_ROLE_CONSULTANT)
/* Training roles are outside CS_ROLES_ANY on purpose: the clinical routes
 * (worklist, studies, monitor) never answer them. */
#define CS_ROLES_TRAINING (CS_ROLE_TRAINER | CS_ROLE_TRAINEE)
/* The bit of a role name; 0 for an unknown name. */
unsigned cs_role_bit(const char *role);

typedef struct cs_auth {
    cs_auth_kind kind;
    char study[CS_ID_MAX]; /* CS_AUTH_DEVICE, CS_AUTH_PATIENT: the one study */
    /* CS_AUTH_DEVICE: the signals' device_revocations, read before the
     * token was looked up. A revocation the lookup did not see moves the
     * count past this (it is committed, then counted), so work that goes
     * on under this token re-checks it when the count differs. */
    unsigned long long device_revocations;
    /* CS_AUTH_USER: the signals' session_gen, read before the session was
     * looked up; the same reasoning for a session ended (deleted, then
     * signalled) while this request was being authenticated. */
    unsigned long long session_gen;
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

/* The time `ms` (>= 0) milliseconds from now on `clock`, as
 * pthread_cond_timedwait() takes it (CLOCK_REALTIME, or the clock the
 * condition was made with). */
struct timespec cs_deadline_ms(clockid_t clock, int64_t ms);

#endif
