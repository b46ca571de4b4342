/* audit.h - the audit layer: the append-only log of who did what to which
 * study, with frame views batched (docs/workstation.md), and its query
 * route GET /api/v1/audit. Refused logins are batched too: one
 * login.limited entry per burst (auth/limiter.h).
 *
 * Threads: any thread; the view batches have their own lock. */
#ifndef CS_SERVER_AUDIT_H
#define CS_SERVER_AUDIT_H

#include "server/auth/auth.h"
#include "server/auth/limiter.h"

/* Append to the audit log (who from `a`, or nobody). Failures are logged
 * to stderr and counted; they never fail the request. */
void cs_audit(cs_server *s, const cs_auth *a, const char *action, const char *study,
              const char *fmt, ...) CS_PRINTF(5, 6);
/* Note that a session was served frame `seq` of `study`: batched into
 * frames.view entries (docs/workstation.md). */
void cs_audit_frame_viewed(cs_server *s, const cs_auth *a, const char *study, uint64_t seq);
/* Write frames.view batches older than their window (all when `all`). */
void cs_audit_flush_views(cs_server *s, bool all);
/* One login.limited entry for a burst of refused logins (limiter.h);
 * nothing when b is NULL or b->refused is 0. */
void cs_audit_login_limited(cs_server *s, const cs_login_burst *b);
/* Write the login.limited bursts that have ended (all when `all`). */
void cs_audit_flush_logins(cs_server *s, bool all);
/* Both of the above flushes: what sweeps, queries and shutdown call. */
void cs_audit_flush(cs_server *s, bool all);
cs_status cs_audit_init(cs_server *s, cs_error *err) CS_WARN_UNUSED;
void cs_audit_free(cs_server *s);
enum MHD_Result cs_api_audit(cs_server *s, struct MHD_Connection *c, cs_req *r);

#endif
