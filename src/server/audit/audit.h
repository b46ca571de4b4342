/* audit.h - the audit layer: the append-only log of who did what to which
 * study, with frame views batched (docs/workstation.md). Refused logins
 * are batched too: one login.limited entry per burst (auth/limiter.h).
 * The log (cs_audit_log) is opaque: it holds the store it appends to and
 * its batches. Its query route is the API layer's.
 *
 * Threads: any thread; the view batches have their own lock. */
#ifndef CS_SERVER_AUDIT_H
#define CS_SERVER_AUDIT_H

#include "server/auth/auth.h"
#include "server/auth/limiter.h"

typedef struct cs_audit_log cs_audit_log;

/* Append to the audit log (who from `a`, or nobody). Failures are logged
 * to stderr and counted; they never fail the request. */
void cs_audit(cs_audit_log *s, const cs_auth *a, const char *action, const char *study,
              const char *fmt, ...) CS_PRINTF(5, 6);
/* Append an entry for a list answer (no one study) unless the same viewer
 * (session, or token and address) was audited for a list with the same
 * `digest` under the same action less than CS_AUDIT_LIST_REPEAT_MS ago:
 * a polled list is audited when what it shows changes, and again every
 * window while it is watched (audit/repeat.h). `digest` must cover
 * everything the answer discloses. */
#define CS_AUDIT_LIST_REPEAT_MS (15 * 60 * 1000LL)
void cs_audit_list_read(cs_audit_log *s, const cs_auth *a, const char *action, uint64_t digest,
                        const char *fmt, ...) CS_PRINTF(5, 6);
/* cs_audit_list_read for an answer about one study (entry's study set):
 * the companion page, polled every second, is audited as patient.read
 * once per patient code and address per window, and again when `digest`
 * (the patient details it shows) changes. */
void cs_audit_study_read(cs_audit_log *s, const cs_auth *a, const char *action, const char *study,
                         uint64_t digest, const char *fmt, ...) CS_PRINTF(6, 7);
/* An access.denied entry for a refusal on patient data (router.c), unless
 * the same caller (kind, user, role, address) was refused on the same
 * `route` (status, method and pattern: not the path, so varying ids or
 * codes collapse too) less than CS_AUDIT_DENIED_REPEAT_MS ago. The next
 * entry written for that caller and route says how many refusals went
 * unrecorded before it: a flood of wrong patient codes from one address
 * writes one entry a minute, not one per request. */
#define CS_AUDIT_DENIED_REPEAT_MS (60 * 1000LL)
void cs_audit_denied(cs_audit_log *s, const cs_auth *a, const char *study, const char *route,
                     const char *fmt, ...) CS_PRINTF(5, 6);
/* Note that a session was served frame `seq` of `study`: batched into
 * frames.view entries (docs/workstation.md). */
void cs_audit_frame_viewed(cs_audit_log *s, const cs_auth *a, const char *study, uint64_t seq);
/* Write frames.view batches older than their window (all when `all`). */
void cs_audit_flush_views(cs_audit_log *s, bool all);
/* One login.limited entry for a burst of refused logins (limiter.h);
 * nothing when b is NULL or b->refused is 0. */
void cs_audit_login_limited(cs_audit_log *s, const cs_login_burst *b);
/* Write the login.limited bursts that have ended (all when `all`). */
void cs_audit_flush_logins(cs_audit_log *s, bool all);
/* Both of the above flushes: what sweeps, queries and shutdown call. */
void cs_audit_flush(cs_audit_log *s, bool all);
/* A log that appends to `store`, takes login.limited bursts from
 * `limiter` (may be NULL) and counts failed appends in `metrics`. Both
 * must outlive it. Errors: CS_ERR_NOMEM. */
cs_status cs_audit_new(cs_store *store, cs_login_limiter *limiter, cs_metrics *metrics,
                       cs_audit_log **out, cs_error *err) CS_WARN_UNUSED;
/* Write the open batches, then free. Accepts NULL. */
void cs_audit_free(cs_audit_log *s);

#endif
