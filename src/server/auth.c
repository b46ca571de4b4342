/* auth.c - who is asking: the admin token, a device token, or nobody. */
#include <string.h>

#include "server/server_internal.h"
#include "server/tokens.h"

cs_status cs_auth_check(cs_server *s, struct MHD_Connection *c, cs_auth *out, cs_error *err)
{
    memset(out, 0, sizeof *out);
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!h) {
        out->kind = CS_AUTH_NONE;
        return CS_OK;
    }
    out->kind = CS_AUTH_BAD;
    if (strncmp(h, "Bearer ", 7) != 0 || strlen(h + 7) == 0 || strlen(h + 7) >= CS_CFG_STR)
        return CS_OK;
    char given[CS_HASH_HEX], admin[CS_HASH_HEX];
    cs_token_hash(h + 7, given);
    if (s->cfg.admin_token[0]) {
        cs_token_hash(s->cfg.admin_token, admin);
        if (cs_hash_equal(given, admin)) {
            out->kind = CS_AUTH_ADMIN;
            return CS_OK;
        }
    }
    bool found = false;
    cs_status st = cs_store_device_study(s->store, given, &found, out->study, err);
    if (st != CS_OK)
        return st;
    if (found)
        out->kind = CS_AUTH_DEVICE;
    return CS_OK;
}

bool cs_auth_require_admin(cs_server *s, struct MHD_Connection *c, enum MHD_Result *ret)
{
    cs_auth a;
    cs_error e = {0};
    if (cs_auth_check(s, c, &a, &e) != CS_OK) {
        *ret = cs_http_error(s, c, 503, false, "store_unavailable", "%s", e.msg);
        return true;
    }
    switch (a.kind) {
    case CS_AUTH_ADMIN:
        return false;
    case CS_AUTH_DEVICE:
        *ret = cs_http_error(s, c, 403, false, "forbidden",
                             "a device token may only upload; this route needs the admin token");
        return true;
    case CS_AUTH_NONE:
        *ret = cs_http_error(s, c, 401, false, "unauthorised",
                             "this route needs 'Authorization: Bearer <admin token>'");
        return true;
    case CS_AUTH_BAD:
        break;
    }
    *ret = cs_http_error(s, c, 401, false, "unauthorised", "unknown or revoked token");
    return true;
}
