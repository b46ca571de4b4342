/* auth.c - who is asking: the admin token, a device token, a logged-in
 * user's session cookie, or nobody (docs/workstation.md). What each kind
 * of caller may do is the route table's business (router.c). */
#include <arpa/inet.h>
#include <string.h>

#include "server/auth/auth.h"
#include "server/core/vocabulary.h"
#include "server/auth/tokens.h"

#define SESSION_TOUCH_S 15 /* last_seen is written at most this often */

unsigned cs_role_bit(const char *role)
{
    for (unsigned i = 0; role && cs_vocab_roles[i].name; i++)
        if (strcmp(role, cs_vocab_roles[i].name) == 0)
            return 1u << i;
    return 0;
}

void cs_client_ip(struct MHD_Connection *c, char *ip)
{
    snprintf(ip, CS_IP_MAX, "?");
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (!ci || !ci->client_addr)
        return;
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, ip,
                  CS_IP_MAX);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, ip,
                  CS_IP_MAX);
}

static bool session_ended(const cs_auth_ctx *s, const cs_session_rec *r, int64_t now)
{
    return now - r->last_seen > s->cfg->session_idle_s ||
           now - r->created_at > s->cfg->session_max_s;
}

cs_status cs_auth_session_alive(const cs_auth_ctx *s, const char *session_hash, bool *alive,
                                cs_error *err)
{
    cs_session_rec r;
    bool found = false;
    *alive = false;
    cs_status st = cs_store_session_get(s->store, session_hash, &found, &r, err);
    if (st == CS_OK && found)
        *alive = !session_ended(s, &r, cs_now_s());
    return st;
}

/* The session named by the cs_session cookie, if it is live. */
static cs_status check_session(const cs_auth_ctx *s, const char *cookie, cs_auth *out,
                               cs_error *err)
{
    char hash[CS_HASH_HEX];
    cs_session_rec r;
    bool found = false;
    out->kind = CS_AUTH_BAD;
    if (strlen(cookie) == 0 || strlen(cookie) >= CS_TOKEN_MAX)
        return CS_OK;
    cs_token_hash(cookie, hash);
    /* Before the lookup: a session ended after it moves the count past
     * this one (cs_auth.session_gen). */
    out->session_gen = atomic_load(&s->signals->session_gen);
    cs_status st = cs_store_session_get(s->store, hash, &found, &r, err);
    if (st != CS_OK || !found)
        return st;
    int64_t now = cs_now_s();
    if (session_ended(s, &r, now)) {
        out->expired = true;
        st = cs_store_session_delete(s->store, hash, err);
        cs_signals_sessions_changed(s->signals);
        return st;
    }
    if (now - r.last_seen >= SESSION_TOUCH_S &&
        (st = cs_store_session_touch(s->store, hash, now, err)) != CS_OK)
        return st;
    out->kind = CS_AUTH_USER;
    snprintf(out->user, sizeof out->user, "%s", r.user);
    snprintf(out->role, sizeof out->role, "%s", r.role);
    snprintf(out->csrf, sizeof out->csrf, "%s", r.csrf);
    snprintf(out->session_hash, sizeof out->session_hash, "%s", hash);
    out->session_created_at = r.created_at;
    return CS_OK;
}

cs_status cs_auth_check(const cs_auth_ctx *s, struct MHD_Connection *c, cs_auth *out, cs_error *err)
{
    memset(out, 0, sizeof *out);
    cs_client_ip(c, out->ip);
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!h) {
        const char *cookie = MHD_lookup_connection_value(c, MHD_COOKIE_KIND, "cs_session");
        if (cookie)
            return check_session(s, cookie, out, err);
        out->kind = CS_AUTH_NONE;
        return CS_OK;
    }
    out->kind = CS_AUTH_BAD;
    if (strncmp(h, "Bearer ", 7) != 0 || strlen(h + 7) == 0 || strlen(h + 7) >= CS_CFG_STR)
        return CS_OK;
    char given[CS_HASH_HEX], admin[CS_HASH_HEX];
    cs_token_hash(h + 7, given);
    if (s->cfg->admin_token[0]) {
        cs_token_hash(s->cfg->admin_token, admin);
        if (cs_hash_equal(given, admin)) {
            out->kind = CS_AUTH_ADMIN;
            snprintf(out->user, sizeof out->user, "admin-token");
            snprintf(out->role, sizeof out->role, "admin");
            return CS_OK;
        }
    }
    bool found = false, expired = false;
    /* Before the lookup: a revocation committed after it moves the count
     * past this one (cs_auth.device_revocations). */
    out->device_revocations = atomic_load(&s->signals->device_revocations);
    cs_status st = cs_store_device_study(s->store, given, &found, out->study, err);
    if (st != CS_OK)
        return st;
    if (found) {
        out->kind = CS_AUTH_DEVICE;
        return CS_OK;
    }
    /* A patient code, as typed (lower case, spaces and dashes allowed). */
    char code[CS_CODE_LEN + 1], code_hash[CS_HASH_HEX];
    if (!cs_code_normalise(h + 7, code))
        return CS_OK;
    cs_token_hash(code, code_hash);
    st = cs_store_patient_study(s->store, code_hash, cs_now_s(), &found, &expired, out->study, err);
    if (st == CS_OK && found) {
        out->kind = CS_AUTH_PATIENT;
        snprintf(out->user, sizeof out->user, "patient");
        snprintf(out->role, sizeof out->role, "patient");
    }
    if (expired) { /* said plainly to the patient (router.c) */
        out->expired = true;
        snprintf(out->role, sizeof out->role, "patient");
    }
    return st;
}
