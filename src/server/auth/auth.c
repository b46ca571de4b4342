/* auth.c - who is asking: the admin token, a device token, a logged-in
 * user's session cookie, or nobody (docs/workstation.md). What each kind
 * of caller may do is the route table's business (router.c). */
#include <arpa/inet.h>
#include <string.h>
#include <strings.h>

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

/* The address of `sa` as 16 bytes (IPv4 as IPv4-mapped IPv6), so that a
 * proxy listed as 10.0.0.5 matches a peer seen as ::ffff:10.0.0.5. */
static bool addr16(int family, const void *addr, unsigned char out[16])
{
    if (family == AF_INET6) {
        memcpy(out, addr, 16);
        return true;
    }
    if (family != AF_INET)
        return false;
    memset(out, 0, 10);
    out[10] = out[11] = 0xff;
    memcpy(out + 12, addr, 4);
    return true;
}

/* Parse one address of text (n bytes, spaces around allowed) into 16 bytes. */
static bool parse16(const char *p, size_t n, unsigned char out[16])
{
    char one[INET6_ADDRSTRLEN];
    unsigned char bin[16];
    while (n > 0 && (*p == ' ' || *p == '\t'))
        p++, n--;
    while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
        n--;
    if (n == 0 || n >= sizeof one)
        return false;
    memcpy(one, p, n);
    one[n] = '\0';
    if (inet_pton(AF_INET, one, bin) == 1)
        return addr16(AF_INET, bin, out);
    return inet_pton(AF_INET6, one, bin) == 1 && addr16(AF_INET6, bin, out);
}

/* Is `peer` one of the comma-separated addresses of `list`? */
static bool listed(const char *list, const unsigned char peer[16])
{
    unsigned char a[16];
    for (const char *p = list; *p;) {
        size_t n = strcspn(p, ",");
        if (parse16(p, n, a) && memcmp(a, peer, 16) == 0)
            return true;
        p += n;
        if (*p == ',')
            p++;
    }
    return false;
}

/* Keep the value of the last X-Forwarded-For header (MHD_KeyValueIterator). */
static enum MHD_Result last_forwarded(void *cls, enum MHD_ValueKind kind, const char *key,
                                      const char *value)
{
    (void)kind;
    if (value && strcasecmp(key, "X-Forwarded-For") == 0)
        *(const char **)cls = value;
    return MHD_YES;
}

/* 16 bytes as text: IPv4-mapped addresses as plain IPv4. */
static void text16(const unsigned char a[16], char *ip)
{
    static const unsigned char MAPPED[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (memcmp(a, MAPPED, 12) == 0)
        inet_ntop(AF_INET, a + 12, ip, CS_IP_MAX);
    else
        inet_ntop(AF_INET6, a, ip, CS_IP_MAX);
}

void cs_client_ip(struct MHD_Connection *c, const char *trusted_proxies, char *ip)
{
    unsigned char peer[16];
    snprintf(ip, CS_IP_MAX, "?");
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (!ci || !ci->client_addr)
        return;
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET)
        addr16(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, peer);
    else if (sa->sa_family == AF_INET6)
        addr16(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, peer);
    else
        return;
    text16(peer, ip);
    if (!trusted_proxies || !trusted_proxies[0] || !listed(trusted_proxies, peer))
        return;
    /* The proxy adds its own header after any the client sent, and its
     * address last within it: only that element is the proxy's word. */
    const char *fwd = NULL, *last;
    unsigned char client[16];
    MHD_get_connection_values(c, MHD_HEADER_KIND, last_forwarded, &fwd);
    if (!fwd)
        return;
    last = strrchr(fwd, ',');
    last = last ? last + 1 : fwd;
    if (parse16(last, strlen(last), client))
        text16(client, ip);
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
    cs_client_ip(c, s->cfg->trusted_proxies, out->ip);
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
