/* config.c - the server configuration: defaults, key=value file,
 * environment and flags, in that order of precedence (server.h). */
#include "capscreen/server.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "capscreen/decimal.h"

#define LINE_MAX_BYTES 8192

typedef enum {
    K_STR,
    K_PATH,
    K_I64,
    K_U64,
    K_INT,
    K_OPEN_UNIT, /* a double strictly between 0 and 1 */
} kind;

typedef struct key_def {
    const char *name;
    const char *env;
    kind k;
    size_t off;
    size_t size;
    int64_t min, max;
} key_def;

#define F(m) offsetof(cs_server_config, m), sizeof(((cs_server_config *)0)->m)
static const key_def KEYS[] = {
    {"listen", "CAPSCREEN_LISTEN", K_STR, F(listen), 0, 0},
    {"data", "CAPSCREEN_DATA", K_PATH, F(data_dir), 0, 0},
    {"db", "CAPSCREEN_DB", K_PATH, F(db), 0, 0},
    {"admin_token", "CAPSCREEN_ADMIN_TOKEN", K_STR, F(admin_token), 0, 0},
    {"admin_token_file", "CAPSCREEN_ADMIN_TOKEN_FILE", K_PATH, F(admin_token_file), 0, 0},
    {"model", "CAPSCREEN_MODEL_PATH", K_PATH, F(model), 0, 0},
    {"polyp_model", "CAPSCREEN_POLYP_MODEL_PATH", K_PATH, F(polyp_model), 0, 0},
    {"polyp_threshold", "CAPSCREEN_POLYP_THRESHOLD", K_OPEN_UNIT, F(polyp_threshold), 0, 0},
    {"code_ttl", "CAPSCREEN_CODE_TTL", K_I64, F(code_ttl_s), 1, 366LL * 86400},
    {"upload_expiry", "CAPSCREEN_UPLOAD_EXPIRY", K_I64, F(upload_expiry_s), 1, 366LL * 86400},
    {"max_upload_size", "CAPSCREEN_MAX_UPLOAD_SIZE", K_U64, F(max_upload_size), 1, INT64_MAX},
    {"analysis_threads", "CAPSCREEN_ANALYSIS_THREADS", K_INT, F(analysis_threads), 1, 64},
    {"max_connections", "CAPSCREEN_MAX_CONNECTIONS", K_INT, F(max_connections), 1, 100000},
    {"connection_timeout", "CAPSCREEN_CONNECTION_TIMEOUT", K_INT, F(connection_timeout_s), 1,
     86400},
    {"per_ip_connections", "CAPSCREEN_PER_IP_CONNECTIONS", K_INT, F(per_ip_connections), 1, 100000},
    {"header_timeout", "CAPSCREEN_HEADER_TIMEOUT", K_INT, F(header_timeout_s), 1, 3600},
    {"shutdown_grace", "CAPSCREEN_SHUTDOWN_GRACE", K_INT, F(shutdown_grace_s), 0, 3600},
    {"lock_takeover", "CAPSCREEN_LOCK_TAKEOVER", K_INT, F(lock_takeover_s), 1, 86400},
    {"web_dir", "CAPSCREEN_WEB_DIR", K_PATH, F(web_dir), 0, 0},
    {"session_idle", "CAPSCREEN_SESSION_IDLE", K_I64, F(session_idle_s), 60, 7LL * 86400},
    {"session_max", "CAPSCREEN_SESSION_MAX", K_I64, F(session_max_s), 60, 30LL * 86400},
    {"tls_cert", "CAPSCREEN_TLS_CERT", K_PATH, F(tls_cert), 0, 0},
    {"tls_key", "CAPSCREEN_TLS_KEY", K_PATH, F(tls_key), 0, 0},
    {"protocol", "CAPSCREEN_PROTOCOL", K_PATH, F(protocol), 0, 0},
    {"webhook_url", "CAPSCREEN_WEBHOOK_URL", K_STR, F(webhook_url), 0, 0},
    {"webhook_secret_file", "CAPSCREEN_WEBHOOK_SECRET_FILE", K_PATH, F(webhook_secret_file), 0, 0},
    {"pacs", "CAPSCREEN_PACS", K_STR, F(pacs), 0, 0},
    {"pacs_aet", "CAPSCREEN_PACS_AET", K_STR, F(pacs_aet), 0, 0},
    {"pacs_calling_aet", "CAPSCREEN_PACS_CALLING_AET", K_STR, F(pacs_calling_aet), 0, 0},
    {"trusted_proxies", "CAPSCREEN_TRUSTED_PROXIES", K_STR, F(trusted_proxies), 0, 0},
    {"public_url", "CAPSCREEN_PUBLIC_URL", K_STR, F(public_url), 0, 0},
};
#undef F

void cs_server_config_default(cs_server_config *c)
{
    memset(c, 0, sizeof *c);
    snprintf(c->listen, sizeof c->listen, "127.0.0.1:8080");
    snprintf(c->data_dir, sizeof c->data_dir, "capscreen-data");
    c->code_ttl_s = 7 * 86400;
    c->upload_expiry_s = 24 * 3600;
    c->max_upload_size = 64ULL << 30;
    c->analysis_threads = 1;
    c->max_connections = 1024;
    c->connection_timeout_s = 60;
    c->per_ip_connections = 64;
    c->header_timeout_s = 10;
    c->shutdown_grace_s = 10;
    c->lock_takeover_s = 5;
    c->session_idle_s = 30 * 60;
    c->session_max_s = 12 * 3600;
    snprintf(c->pacs_aet, sizeof c->pacs_aet, "ORTHANC");
    snprintf(c->pacs_calling_aet, sizeof c->pacs_calling_aet, "CAPSCREEN");
}

/* Empty, or IPv4/IPv6 addresses separated by commas (spaces allowed). */
static bool address_list_ok(const char *v)
{
    while (*v) {
        char one[INET6_ADDRSTRLEN];
        unsigned char bin[sizeof(struct in6_addr)];
        size_t n = strcspn(v, ",");
        const char *p = v;
        while (n > 0 && *p == ' ')
            p++, n--;
        while (n > 0 && p[n - 1] == ' ')
            n--;
        if (n == 0 || n >= sizeof one)
            return false;
        memcpy(one, p, n);
        one[n] = '\0';
        if (inet_pton(AF_INET, one, bin) != 1 && inet_pton(AF_INET6, one, bin) != 1)
            return false;
        v = p + n;
        while (*v == ' ')
            v++;
        if (*v == ',' && !*++v)
            return false; /* a trailing comma */
    }
    return true;
}

/* A host name of a URL: dot-separated labels of 1 to 63 letters, digits,
 * '-' (not first or last) or '_'; all-numeric labels only as an IPv4
 * address. */
static bool host_name_ok(const char *h, size_t n)
{
    bool numeric = true;
    for (size_t i = 0, start = 0; i <= n; i++) {
        if (i < n && h[i] != '.') {
            if (!isalnum((unsigned char)h[i]) && h[i] != '-' && h[i] != '_')
                return false;
            numeric = numeric && (isdigit((unsigned char)h[i]) || h[i] == '.');
            continue;
        }
        size_t len = i - start;
        if (len == 0 || len > 63 || h[start] == '-' || h[i - 1] == '-')
            return false;
        start = i + 1;
    }
    if (numeric) {
        char ip[INET_ADDRSTRLEN];
        unsigned char bin[sizeof(struct in_addr)];
        if (n >= sizeof ip)
            return false;
        memcpy(ip, h, n);
        ip[n] = '\0';
        return inet_pton(AF_INET, ip, bin) == 1;
    }
    return true;
}

/* Empty, or http:// or https:// (any case) and a host (a name, an IPv4
 * address or a bracketed IPv6 one) with an optional port: no path, query,
 * user or trailing slash, since export URLs are this plus an absolute
 * path. */
static bool public_url_ok(const char *v)
{
    if (!*v)
        return true;
    const char *host = strncasecmp(v, "https://", 8) == 0  ? v + 8
                       : strncasecmp(v, "http://", 7) == 0 ? v + 7
                                                           : NULL;
    if (!host || !*host || strlen(host) > 255)
        return false;
    const char *port = NULL;
    if (*host == '[') {
        const char *close = strchr(host, ']');
        char ip[INET6_ADDRSTRLEN];
        unsigned char bin[sizeof(struct in6_addr)];
        size_t n = close ? (size_t)(close - host - 1) : 0;
        if (n == 0 || n >= sizeof ip)
            return false;
        memcpy(ip, host + 1, n);
        ip[n] = '\0';
        if (inet_pton(AF_INET6, ip, bin) != 1)
            return false;
        port = close + 1;
    } else {
        size_t n = strcspn(host, ":");
        if (!host_name_ok(host, n))
            return false;
        port = host + n;
    }
    if (!*port)
        return true;
    if (*port != ':' || !port[1] || strlen(port + 1) > 5)
        return false;
    for (const char *p = port + 1; *p; p++)
        if (!isdigit((unsigned char)*p))
            return false;
    long n = strtol(port + 1, NULL, 10);
    return n >= 1 && n <= 65535;
}

cs_status cs_server_config_set(cs_server_config *c, const char *key, const char *value,
                               cs_error *err)
{
    if (!c || !key || !value)
        return cs_error_set(err, CS_ERR_ARG, "config: missing key or value");
    const key_def *d = NULL;
    for (size_t i = 0; i < sizeof KEYS / sizeof KEYS[0]; i++)
        if (strcmp(KEYS[i].name, key) == 0)
            d = &KEYS[i];
    if (!d)
        return cs_error_set(err, CS_ERR_ARG, "config: unknown key '%.64s'", key);
    char *field = (char *)c + d->off;
    if (d->k == K_STR || d->k == K_PATH) {
        if (strlen(value) >= d->size)
            return cs_error_set(err, CS_ERR_ARG, "config: %s is longer than %zu bytes", key,
                                d->size - 1);
        /* The store takes SQLite (empty) or a PostgreSQL URL, nothing else:
         * a typo must not silently fall back to SQLite. */
        if (strcmp(key, "db") == 0 && *value && strncmp(value, "postgresql://", 13) != 0 &&
            strncmp(value, "postgres://", 11) != 0)
            return cs_error_set(err, CS_ERR_ARG,
                                "config: db must be a postgresql:// URL, or empty for SQLite in"
                                " the data folder");
        /* A typo in a proxy's address must not silently leave every
         * client behind it sharing one address (auth.h, cs_client_ip). */
        if (strcmp(key, "trusted_proxies") == 0 && !address_list_ok(value))
            return cs_error_set(err, CS_ERR_ARG,
                                "config: trusted_proxies must be IP addresses separated by "
                                "commas, got '%.64s'",
                                value);
        if (strcmp(key, "public_url") == 0 && !public_url_ok(value))
            return cs_error_set(err, CS_ERR_ARG,
                                "config: public_url must be http:// or https:// and a host with "
                                "an optional port, no path (https://capscreen.example.org), got "
                                "'%.64s'",
                                value);
        memcpy(field, value, strlen(value) + 1);
        /* The later of admin_token / admin_token_file wins. */
        if (strcmp(key, "admin_token") == 0)
            c->admin_token_file[0] = '\0';
        else if (strcmp(key, "admin_token_file") == 0)
            c->admin_token[0] = '\0';
        return CS_OK;
    }
    errno = 0;
    char *end = NULL;
    if (d->k == K_OPEN_UNIT) {
        /* Strictly inside (0, 1) as the float the engine compares with. */
        double v;
        if (!cs_parse_decimal(value, &v) || !((float)v > 0 && (float)v < 1))
            return cs_error_set(err, CS_ERR_ARG,
                                "config: %s must be a number between 0 and 1 (exclusive), got "
                                "'%.64s'",
                                key, value);
        *(double *)(void *)field = v;
        return CS_OK;
    }
    if (!isdigit((unsigned char)value[0]))
        return cs_error_set(err, CS_ERR_ARG, "config: %s must be a number, got '%.64s'", key,
                            value);
    long long v = strtoll(value, &end, 10);
    if (errno || *end || v < d->min || v > d->max)
        return cs_error_set(err, CS_ERR_ARG,
                            "config: %s must be a number in %lld..%lld, got '%.64s'", key,
                            (long long)d->min, (long long)d->max, value);
    if (d->k == K_I64)
        *(int64_t *)(void *)field = v;
    else if (d->k == K_U64)
        *(uint64_t *)(void *)field = (uint64_t)v;
    else
        *(int *)(void *)field = (int)v;
    return CS_OK;
}

static char *trim(char *s)
{
    while (*s && isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

cs_status cs_server_config_load_file(cs_server_config *c, const char *path, cs_error *err)
{
    cs_status st = CS_OK;
    char *line = malloc(LINE_MAX_BYTES + 2);
    FILE *f = fopen(path, "r");
    if (!line) {
        st = cs_error_set(err, CS_ERR_NOMEM, "config: out of memory");
        goto fail;
    }
    if (!f) {
        st = cs_error_set(err, CS_ERR_IO, "config: cannot open %s: %s", path, strerror(errno));
        goto fail;
    }
    for (int no = 1; fgets(line, LINE_MAX_BYTES + 2, f); no++) {
        if (strlen(line) > LINE_MAX_BYTES) {
            st = cs_error_set(err, CS_ERR_ARG, "config: %s line %d is longer than %d bytes", path,
                              no, LINE_MAX_BYTES);
            goto fail;
        }
        char *s = trim(line);
        if (*s == '\0' || *s == '#')
            continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            st =
                cs_error_set(err, CS_ERR_ARG, "config: %s line %d: expected key = value", path, no);
            goto fail;
        }
        *eq = '\0';
        cs_error inner = {0};
        if (cs_server_config_set(c, trim(s), trim(eq + 1), &inner) != CS_OK) {
            st = cs_error_set(err, inner.code, "%s line %d: %s", path, no, inner.msg);
            goto fail;
        }
    }
    if (ferror(f))
        st = cs_error_set(err, CS_ERR_IO, "config: cannot read %s", path);
fail:
    if (f)
        fclose(f);
    free(line);
    return st;
}

static cs_status read_token_file(cs_server_config *c, cs_error *err)
{
    char buf[CS_CFG_STR + 2];
    FILE *f = fopen(c->admin_token_file, "r");
    if (!f)
        return cs_error_set(err, CS_ERR_IO, "cannot open admin token file %s: %s",
                            c->admin_token_file, strerror(errno));
    char *got = fgets(buf, sizeof buf, f);
    fclose(f);
    char *t = got ? trim(buf) : NULL;
    if (!t || strlen(t) < 16 || strlen(t) >= sizeof c->admin_token)
        return cs_error_set(err, CS_ERR_ARG,
                            "admin token file %s must hold one token of 16..%zu characters",
                            c->admin_token_file, sizeof c->admin_token - 1);
    memcpy(c->admin_token, t, strlen(t) + 1);
    return CS_OK;
}

cs_status cs_server_config_resolve(cs_server_config *c, const char *file, cs_getenv_fn env,
                                   const char *const *flags, cs_error *err)
{
    cs_status st;
    cs_server_config_default(c);
    if (!file && env)
        file = env("CAPSCREEN_CONFIG");
    if (file && *file && (st = cs_server_config_load_file(c, file, err)) != CS_OK)
        return st;
    for (size_t i = 0; env && i < sizeof KEYS / sizeof KEYS[0]; i++) {
        const char *v = env(KEYS[i].env);
        cs_error inner = {0};
        if (v && (st = cs_server_config_set(c, KEYS[i].name, v, &inner)) != CS_OK)
            return cs_error_set(err, st, "%s: %s", KEYS[i].env, inner.msg);
    }
    for (size_t i = 0; flags && flags[i] && flags[i + 1]; i += 2)
        if ((st = cs_server_config_set(c, flags[i], flags[i + 1], err)) != CS_OK)
            return st;
    if (c->admin_token_file[0])
        return read_token_file(c, err);
    return CS_OK;
}
