/* auth.h - the auth layer: who is asking (the admin token, a device
 * token, a user's session cookie, or nobody). What each caller may do is
 * decided by the route table (router/), not here. tokens.h (token and
 * code generation, hashing) is this layer's other public header.
 *
 * Threads: any connection thread. Errors: CS_ERR_IO from the store. */
#ifndef CS_SERVER_AUTH_H
#define CS_SERVER_AUTH_H

#include "server/transport/http.h"

/* What the auth layer works with; filled by server.c, read-only after
 * start. */
typedef struct cs_auth_ctx {
    cs_store *store;
    const cs_server_config *cfg; /* admin_token, session_idle_s, session_max_s */
    cs_signals *signals;         /* sessions it ends move session_gen */
} cs_auth_ctx;

/* The bit of a role name (CS_ROLE_*); 0 for an unknown name. */
unsigned cs_role_bit(const char *role);

/* Classify the request: the Authorization header (none, a bad/revoked
 * token, the admin token, a device token), else the session cookie (a
 * live session, ended ones are deleted and reported as CS_AUTH_BAD).
 * A device token's lookup is preceded by reading the signals'
 * device_revocations into out->device_revocations, and a session's
 * lookup by reading session_gen into out->session_gen (see cs_auth).
 * Errors: CS_ERR_IO (store). */
cs_status cs_auth_check(const cs_auth_ctx *s, struct MHD_Connection *c, cs_auth *out,
                        cs_error *err) CS_WARN_UNUSED;
/* Whether the session with this id hash is still live (exists, its user
 * enabled, not idle or too old), without touching it: for event streams
 * that re-check their session. Errors: CS_ERR_IO (store). */
cs_status cs_auth_session_alive(const cs_auth_ctx *s, const char *session_hash, bool *alive,
                                cs_error *err) CS_WARN_UNUSED;
/* The client's address as text into ip (CS_IP_MAX; IPv4 as a.b.c.d even
 * on an IPv6 socket). When the peer is one of `trusted_proxies` (the
 * config's comma-separated list; NULL or empty: none), the address is
 * the last element of the last X-Forwarded-For header, which such a
 * proxy adds (HAProxy's `option forwardfor`); anything a client wrote
 * before it is ignored, and so is an element that is not an address
 * (then the proxy's own address stands). Login limits and the audit log
 * see this address (docs/deploy.md, "HAProxy"). */
void cs_client_ip(struct MHD_Connection *c, const char *trusted_proxies, char *ip);

#endif
