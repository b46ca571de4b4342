/* session.c - logging in and out (POST/GET/DELETE /api/v1/session), the
 * failed-login limiter, password hashing and the admin's user routes
 * (/api/v1/users). docs/workstation.md, "Sessions, cookies and CSRF". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/api/api_int.h"
#include "server/auth/limiter.h"
#include "server/auth/password.h"
#include "server/auth/tokens.h"
#include "server/core/vocabulary.h"

cs_status cs_api_init(cs_api *api, cs_error *err)
{
    /* Unknown users are checked against this, so a wrong name costs the
     * same time as a wrong password. */
    char random_pw[33];
    cs_id_new(random_pw, 16);
    return cs_password_hash(random_pw, api->dummy_pw_hash, err);
}

static json_t *session_json(const cs_api *api, const char *user, const char *role, const char *csrf,
                            int64_t created_at)
{
    return json_pack("{s:s, s:s, s:s, s:I, s:I}", "user", user, "role", role, "csrf_token", csrf,
                     "idle_timeout_s", (json_int_t)api->cfg->session_idle_s, "expires_at",
                     (json_int_t)(created_at + api->cfg->session_max_s));
}

/* A login posted from another site's page: a hostile page can post a
 * form (text/plain, no preflight) that logs the visitor's browser into
 * the attacker's account, where the visitor would then read and write
 * reports (login CSRF). Browsers say where a request comes from
 * (Sec-Fetch-Site); clients that do not (scripts, old browsers) pass. */
static bool from_other_site(struct MHD_Connection *c)
{
    const char *s = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Sec-Fetch-Site");
    return s && strcmp(s, "same-origin") != 0 && strcmp(s, "none") != 0;
}

/* The browser keeps frames and thumbnails for a year (frames.c), and a
 * cached frame opens without asking the server. So when a session ends by
 * logout, and at every login (the previous session on this browser may
 * have ended without one), the browser is told to drop its cache of this
 * site: the next person at it cannot open a patient's frames from there. */
#define CLEAR_CACHE "Clear-Site-Data", "\"cache\""

static enum MHD_Result login(const cs_api *api, struct MHD_Connection *c, cs_req *r)
{
    enum MHD_Result ret;
    cs_auth who = {0};
    cs_error e = {0};
    if (from_other_site(c))
        return cs_http_error(api->metrics, c, 403, false, "cross_site",
                             "log in from capscreen's own login page, not from another site");
    cs_client_ip(c, api->cfg->trusted_proxies, who.ip);
    json_t *o = cs_http_body_json(api->metrics, c, r, &ret);
    if (!o)
        return ret;
    const char *user = json_string_value(json_object_get(o, "user"));
    const char *pw = json_string_value(json_object_get(o, "password"));
    if (!user || !pw || strlen(user) >= CS_USER_MAX || strlen(pw) > CS_PASSWORD_MAX) {
        ret = cs_http_error(api->metrics, c, 400, false, "bad_json",
                            "body needs {\"user\": NAME, \"password\": PASSWORD}");
        goto done;
    }
    int64_t now_ms = cs_now_ms(), now = now_ms / 1000;
    cs_login_burst evicted;
    /* Bursts of refusals that have ended get their audit rows now. */
    cs_audit_flush_logins(api->audit, false);
    int64_t wait_ms = cs_limiter_admit(api->limiter, user, who.ip, now_ms, &evicted);
    cs_audit_login_limited(api->audit, &evicted);
    if (wait_ms > 0) {
        /* Not even checked: the pair's delay runs (audited per burst). */
        long long wait = (long long)((wait_ms + 999) / 1000);
        char ra[24];
        snprintf(ra, sizeof ra, "%lld", wait);
        const char *h[] = {"Retry-After", ra, NULL};
        ret = cs_http_error_h(api->metrics, c, 429, false, h, "too_many_attempts",
                              "too many failed logins; try again in %lld s", wait);
        goto done;
    }
    cs_user_rec u;
    bool found = false;
    if (cs_store_user_get(api->store, user, &found, &u, &e) != CS_OK) {
        ret = cs_http_error(api->metrics, c, 503, false, "store_unavailable", "%s", e.msg);
        goto done;
    }
    const char *hash = found ? u.pw_hash : api->dummy_pw_hash;
    bool match = false;
    if (cs_password_verify(hash, pw, &match, &e) != CS_OK) {
        /* Not checked, so not a failure: the caller may simply retry. */
        const char *h[] = {"Retry-After", "1", NULL};
        ret = cs_http_error_h(api->metrics, c, 503, false, h, "busy", "%s", e.msg);
        goto done;
    }
    bool ok = match && found && !u.disabled;
    snprintf(who.user, sizeof who.user, "%s", user);
    if (!ok) {
        /* The delay runs from now, after the (slow) hash check. */
        cs_limiter_failed(api->limiter, user, who.ip, cs_now_ms(), &evicted);
        cs_audit_login_limited(api->audit, &evicted);
        cs_audit(api->audit, &who, "session.login_failed", NULL, "%s",
                 !found       ? "unknown user"
                 : u.disabled ? "user disabled"
                              : "wrong password");
        ret = cs_http_error(api->metrics, c, 401, false, "bad_credentials",
                            "wrong user name or password");
        goto done;
    }
    cs_limiter_succeeded(api->limiter, user, who.ip, &evicted);
    cs_audit_login_limited(api->audit, &evicted);
    char id[CS_TOKEN_MAX];
    cs_session_rec sr = {0};
    cs_token_new(id);
    cs_token_hash(id, sr.id_hash);
    cs_id_new(sr.csrf, 32);
    snprintf(sr.user, sizeof sr.user, "%s", u.name);
    snprintf(sr.role, sizeof sr.role, "%s", u.role);
    snprintf(sr.ip, sizeof sr.ip, "%s", who.ip);
    sr.created_at = sr.last_seen = now;
    /* A new id at every login; the one the browser had (if any) ends. */
    const char *old = MHD_lookup_connection_value(c, MHD_COOKIE_KIND, "cs_session");
    if (old && strlen(old) < CS_TOKEN_MAX) {
        char oh[CS_HASH_HEX];
        cs_token_hash(old, oh);
        if (cs_store_session_delete(api->store, oh, &e) != CS_OK)
            fprintf(stderr, "capscreen: cannot end the previous session: %s\n", e.msg);
        cs_signals_sessions_changed(api->signals);
    }
    if (cs_store_session_create(api->store, &sr, &e) != CS_OK) {
        ret = cs_http_error(api->metrics, c, 503, false, "store_unavailable", "%s", e.msg);
        goto done;
    }
    snprintf(who.role, sizeof who.role, "%s", u.role);
    cs_audit(api->audit, &who, "session.login", NULL, "role %s", u.role);
    char cookie[CS_TOKEN_MAX + 96];
    snprintf(cookie, sizeof cookie, "cs_session=%s; Path=/; HttpOnly; SameSite=Strict%s", id,
             api->tls ? "; Secure" : "");
    const char *h[] = {"Set-Cookie", cookie, CLEAR_CACHE, NULL};
    ret = cs_http_json(c, 200, session_json(api, u.name, u.role, sr.csrf, now), false, h);
done:
    json_decref(o);
    return ret;
}

enum MHD_Result cs_api_session(const cs_api *api, struct MHD_Connection *c, cs_req *r)
{
    cs_auth a;
    cs_error e = {0};
    if (strcmp(r->method, "POST") == 0)
        return login(api, c, r);
    bool is_get = strcmp(r->method, "GET") == 0;
    a = r->auth;
    if (a.kind != CS_AUTH_USER)
        return cs_http_error(api->metrics, c, 400, false, "no_session",
                             "the admin token is not a session; log in as a user");
    if (is_get)
        return cs_http_json(c, 200, session_json(api, a.user, a.role, a.csrf, a.session_created_at),
                            false, NULL);
    if (cs_store_session_delete(api->store, a.session_hash, &e) != CS_OK)
        return cs_http_error(api->metrics, c, 503, false, "store_unavailable", "%s", e.msg);
    cs_signals_sessions_changed(api->signals); /* its event streams end */
    cs_audit(api->audit, &a, "session.logout", NULL, "%s", "");
    const char *h[] = {"Set-Cookie", "cs_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0",
                       CLEAR_CACHE, NULL};
    return cs_http_bytes(c, 204, NULL, NULL, 0, false, h);
}

static json_t *user_json(const cs_user_rec *u)
{
    return json_pack("{s:s, s:s, s:I, s:b}", "name", u->name, "role", u->role, "created_at",
                     (json_int_t)u->created_at, "disabled", u->disabled);
}

/* 400 bad_role naming every role of the vocabulary (the training roles
 * too), so the reason never drifts from what is accepted. */
static enum MHD_Result bad_role(const cs_api *api, struct MHD_Connection *c)
{
    char names[256];
    cs_vocab_join(cs_vocab_roles, names, sizeof names);
    return cs_http_error(api->metrics, c, 400, false, "bad_role", "role must be %s", names);
}

enum MHD_Result cs_api_users(const cs_api *api, struct MHD_Connection *c, cs_req *r)
{
    enum MHD_Result ret;
    cs_auth a;
    cs_error e = {0};
    a = r->auth;
    if (strcmp(r->method, "GET") == 0) {
        cs_user_rec *us = NULL;
        size_t n = 0;
        if (cs_store_user_list(api->store, &us, &n, &e) != CS_OK)
            return cs_http_error(api->metrics, c, 503, false, "store_unavailable", "%s", e.msg);
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(arr, user_json(&us[i]));
        free(us);
        return cs_http_json(c, 200, json_pack("{s:o}", "users", arr), false, NULL);
    }
    json_t *o = cs_http_body_json(api->metrics, c, r, &ret);
    if (!o)
        return ret;
    const char *name = json_string_value(json_object_get(o, "name"));
    const char *role = json_string_value(json_object_get(o, "role"));
    const char *pw = json_string_value(json_object_get(o, "password"));
    cs_user_rec u = {0};
    bool exists = false;
    if (!name || !cs_user_name_ok(name)) {
        ret = cs_http_error(api->metrics, c, 400, false, "bad_name",
                            "name must be 1-63 characters of a-z 0-9 . _ - (lower case)");
    } else if (!cs_role_bit(role)) {
        ret = bad_role(api, c);
    } else if (!pw || cs_password_hash(pw, u.pw_hash, &e) != CS_OK) {
        bool busy = pw && e.code == CS_ERR_NOMEM;
        ret =
            cs_http_error(api->metrics, c, busy ? 503 : 400, false, busy ? "busy" : "bad_password",
                          "%s", pw ? e.msg : "password is missing");
    } else {
        snprintf(u.name, sizeof u.name, "%s", name);
        snprintf(u.role, sizeof u.role, "%s", role);
        u.created_at = cs_now_s();
        if (cs_store_user_add(api->store, &u, &exists, &e) != CS_OK) {
            ret = cs_http_error(api->metrics, c, 503, false, "store_unavailable", "%s", e.msg);
        } else if (exists) {
            ret = cs_http_error(api->metrics, c, 409, false, "user_exists", "a user '%s' exists",
                                name);
        } else {
            cs_audit(api->audit, &a, "user.add", NULL, "%s as %s", name, role);
            ret = cs_http_json(c, 201, user_json(&u), false, NULL);
        }
    }
    json_decref(o);
    return ret;
}

enum MHD_Result cs_api_user(const cs_api *api, struct MHD_Connection *c, cs_req *r)
{
    enum MHD_Result ret;
    cs_auth a;
    cs_error e = {0};
    a = r->auth;
    cs_user_rec u;
    bool found = false;
    if (cs_store_user_get(api->store, r->name, &found, &u, &e) != CS_OK)
        return cs_http_error(api->metrics, c, 503, false, "store_unavailable", "%s", e.msg);
    if (!found)
        return cs_http_error(api->metrics, c, 404, false, "unknown_user", "no user '%s'", r->name);
    json_t *o = cs_http_body_json(api->metrics, c, r, &ret);
    if (!o)
        return ret;
    json_t *role = json_object_get(o, "role"), *pw = json_object_get(o, "password"),
           *dis = json_object_get(o, "disabled");
    char what[160] = "";
    if (role && !cs_role_bit(json_string_value(role))) {
        ret = bad_role(api, c);
        goto done;
    }
    if (dis && !json_is_boolean(dis)) {
        ret = cs_http_error(api->metrics, c, 400, false, "bad_json",
                            "disabled must be true or false");
        goto done;
    }
    if (pw &&
        (!json_is_string(pw) || cs_password_hash(json_string_value(pw), u.pw_hash, &e) != CS_OK)) {
        bool busy = json_is_string(pw) && e.code == CS_ERR_NOMEM;
        ret =
            cs_http_error(api->metrics, c, busy ? 503 : 400, false, busy ? "busy" : "bad_password",
                          "%s", json_is_string(pw) ? e.msg : "password must be a string");
        goto done;
    }
    if (role) {
        snprintf(u.role, sizeof u.role, "%s", json_string_value(role));
        snprintf(what + strlen(what), sizeof what - strlen(what), "role %s; ", u.role);
    }
    if (dis) {
        u.disabled = json_is_true(dis);
        snprintf(what + strlen(what), sizeof what - strlen(what), "%s; ",
                 u.disabled ? "disabled" : "enabled");
    }
    if (pw)
        snprintf(what + strlen(what), sizeof what - strlen(what), "password changed; ");
    /* Checked in the store's transaction: never leave no enabled admin. */
    cs_check_outcome outcome;
    if (cs_store_user_update_checked(api->store, &u, &outcome, &e) != CS_OK) {
        ret = cs_http_error(api->metrics, c, 503, false, "store_unavailable", "%s", e.msg);
        goto done;
    }
    if (outcome == CS_CHECK_LAST_ADMIN) {
        ret = cs_http_error(api->metrics, c, 409, false, "last_admin",
                            "'%s' is the last enabled admin: add or enable another admin first",
                            u.name);
        goto done;
    }
    if (outcome == CS_CHECK_NOT_FOUND) {
        ret = cs_http_error(api->metrics, c, 404, false, "unknown_user", "no user '%s'", u.name);
        goto done;
    }
    /* A disabled user's or changed password's sessions were ended by the
     * store; a new role applies at the next request: streams re-check. */
    cs_signals_sessions_changed(api->signals);
    cs_audit(api->audit, &a, "user.update", NULL, "%s: %s", u.name, what);
    ret = cs_http_json(c, 200, user_json(&u), false, NULL);
done:
    json_decref(o);
    return ret;
}
