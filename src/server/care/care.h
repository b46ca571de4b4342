/* care.h - the live care loop (docs/care.md): the hub's health reports,
 * the care protocol in force per study, and alerts raised when the
 * protocol's rules fire, kept in the store and delivered to a webhook.
 *
 * A cs_care runs two threads. The rules thread looks at every live study
 * once per tick (and at once when woken by a status report or a landmark),
 * gathers its facts from the store, asks rules.c which alerts are due and
 * raises the new ones. The webhook thread POSTs undelivered alerts, signed
 * (webhook.h), retrying with backoff. Both are driven by what is stored,
 * so a restart loses no alert and raises none twice.
 *
 * Threads: every call may come from any thread. Errors: the store's,
 * CS_ERR_ARG for a bad protocol or webhook setting at start. */
#ifndef CS_SERVER_CARE_H
#define CS_SERVER_CARE_H

#include "server/care/protocol.h"
#include "server/care/rules.h"
#include "server/core/core.h"

typedef struct cs_care cs_care;

/* What the care loop works with; all must outlive it. */
typedef struct cs_care_deps {
    cs_store *store;
    cs_metrics *metrics;
    cs_signals *signals;        /* a raised alert moves progress; stops with it */
    const char *protocol_path;  /* the server's protocol file (for new studies) */
    const char *webhook_url;    /* "" = no webhook */
    const char *webhook_secret; /* the HMAC key (webhook_url set: 16 bytes or more) */
    int tick_ms;                /* how often the rules run; 0 = 1000 */
} cs_care_deps;

cs_status cs_care_new(const cs_care_deps *d, cs_care **out, cs_error *err) CS_WARN_UNUSED;
/* Stop both threads and free. Accepts NULL. */
void cs_care_free(cs_care *c);

/* Something a rule looks at changed (a landmark, a close): run the rules
 * now rather than at the next tick. */
void cs_care_wake(cs_care *c);

/* A hub's health report for `study` (at_ms set here): the status rules
 * run against the report it replaces; an alert they return is not raised
 * while the study has an open (unacknowledged) one of its kind. The
 * alerts are stored first and the report only after them, so an error
 * stores no report whose crossing's alert is missing: the caller answers
 * 503, and the hub's retry is compared with the same last report and
 * raises the alert (never twice: it is open). *outcome NOT_FOUND when
 * there is no such study, LOCKED when it is closed. */
cs_status cs_care_hub_status(cs_care *c, const char *study, cs_hub_status_rec *st,
                             cs_check_outcome *outcome, cs_error *err) CS_WARN_UNUSED;

/* Raise one alert now (call_requested, from people rather than rules).
 * *raised false when the same (kind, key) was raised before. (A
 * suspected-cancer finding's alert is raised by the store with the
 * finding, cs_store_finding_create; the API then calls cs_care_wake.) */
cs_status cs_care_raise(cs_care *c, const char *study, const char *kind, const char *key,
                        const char *message, bool *raised, cs_check_outcome *outcome,
                        cs_error *err) CS_WARN_UNUSED;

/* The protocol in force for `study`: the one stored with it, else the
 * server's, which is stored with it now. *text (may be NULL) gets its
 * JSON text (malloc'd). */
cs_status cs_care_protocol_of(cs_care *c, const char *study, cs_protocol *p, char **text,
                              cs_error *err) CS_WARN_UNUSED;

/* The facts the rules look at for a study read now (care.h's view of the
 * store: upload times, hub status, landmarks, bleeding counter). */
cs_status cs_care_facts_of(cs_care *c, const cs_study_rec *sr, cs_care_facts *f,
                           cs_error *err) CS_WARN_UNUSED;

/* The study's frames per minute over about the last minute (sampled by
 * the rules thread each tick), or -1 when not known yet. */
double cs_care_frames_per_min(cs_care *c, const char *study);

/* Is the study live, for the rules and the monitor: open, and a hub that
 * enrolled sent bytes or reports (`hub` may be NULL: bytes only). A study
 * imported from a file has no hub and is never live. */
bool cs_care_is_live(const cs_study_rec *sr, const cs_hub_status_rec *hub);

/* Webhook deliveries that failed since start (for /metrics). */
uint64_t cs_care_webhook_failures(const cs_care *c);

#endif
