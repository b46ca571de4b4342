/* server.h - the server (`capscreen serve`): uploads from hubs, live
 * analysis, and the reading workstation's API and pages. This header is
 * its configuration and its lifetime; what it serves is listed in
 * docs/api.md (every route is a row of src/server/router/routes.c), how it
 * is built in docs/server.md (the layers under src/server).
 *
 * Configuration: cs_server_config is plain data. cs_server_config_resolve()
 * fills it from, in increasing precedence, built-in defaults, a key=value
 * file, the environment (CAPSCREEN_<KEY> in upper case) and command-line
 * pairs. It is the only process-wide state and is read-only once the
 * server has started (the server keeps its own copy).
 *
 * Threads: cs_server_start() and cs_server_stop() are called from one
 * thread (main). Everything else the server does happens on its own
 * threads (libmicrohttpd's, one per connection, and a pool of analysis
 * threads shared by all studies); see docs/server.md.
 *
 * Errors: functions return cs_status and fill `err` with a one-line
 * reason. Nothing here prints or exits. */
#ifndef CAPSCREEN_SERVER_H
#define CAPSCREEN_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include "capscreen/status.h"

#define CS_CFG_STR 512
#define CS_CFG_PATH 4096

typedef struct cs_server_config {
    char listen[CS_CFG_STR];            /* listen: HOST:PORT, port 0 = any */
    char data_dir[CS_CFG_PATH];         /* data: DIR (capscreen.db, uploads/) */
    char db[CS_CFG_PATH];               /* db: the store; empty = SQLite in data_dir,
                                          or a postgresql:// URL (the study files stay
                                          in data_dir either way) */
    char admin_token[CS_CFG_STR];       /* admin_token: bearer token for admin routes;
                                          empty = admin routes refused */
    char admin_token_file[CS_CFG_PATH]; /* admin_token_file: read the token from a file */
    char model[CS_CFG_PATH];            /* model: bleeding model; empty = default */
    char polyp_model[CS_CFG_PATH];      /* polyp_model: polyp weights; empty = default
                                          ($CAPSCREEN_POLYP_MODEL, else the installed) */
    double polyp_threshold;             /* polyp_threshold: a site's polyp operating point
                                          in (0, 1); 0 = the weights file's own */
    int64_t code_ttl_s;                 /* code_ttl: enrolment code lifetime, s */
    int64_t upload_expiry_s;            /* upload_expiry: an idle incomplete upload
                                          expires this long after its last PATCH */
    uint64_t max_upload_size;           /* max_upload_size: Tus-Max-Size, bytes */
    int analysis_threads;               /* analysis_threads: analysis pool threads,
                                          shared by all studies */
    int max_connections;                /* max_connections */
    int connection_timeout_s;           /* connection_timeout: idle connection, s */
    int per_ip_connections;             /* per_ip_connections: open connections from one
                                          client address at most */
    int header_timeout_s;               /* header_timeout: a connection waiting for a
                                          request's headers is closed after this long
                                          without a byte, s */
    int shutdown_grace_s;               /* shutdown_grace: wait for requests, s */
    int lock_takeover_s;                /* lock_takeover: a request may take over an
                                          upload's lock whose holder has received
                                          nothing for this long, s */
    char web_dir[CS_CFG_PATH];          /* web_dir: the workstation's pages; empty =
                                          the built-in default (the source tree's web/) */
    int64_t session_idle_s;             /* session_idle: a session ends after this long
                                          without a request, s */
    int64_t session_max_s;              /* session_max: and this long after login, s */
    char tls_cert[CS_CFG_PATH];         /* tls_cert, tls_key: PEM files; both set = serve
                                          HTTPS (session cookies get Secure) */
    char tls_key[CS_CFG_PATH];
    char protocol[CS_CFG_PATH];            /* protocol: the care protocol (JSON, docs/care.md);
                                             empty = the built-in default */
    char webhook_url[CS_CFG_STR];          /* webhook_url: alerts are POSTed here; empty = none */
    char webhook_secret_file[CS_CFG_PATH]; /* webhook_secret_file: the HMAC key, in a file */
    char pacs[CS_CFG_STR];                 /* pacs: HOST:PORT of the PACS key frames are sent to
                                             (docs/pacs.md); empty = no export */
    char pacs_aet[17];                     /* pacs_aet: the PACS's AE title (default ORTHANC) */
    char pacs_calling_aet[17];             /* pacs_calling_aet: ours (default CAPSCREEN) */
    char trusted_proxies[CS_CFG_STR];      /* trusted_proxies: comma-separated addresses of
                                             reverse proxies whose last X-Forwarded-For is
                                             the client's address; empty = none */
    char public_url[CS_CFG_STR];           /* public_url: scheme://host[:port] that clients
                                             reach the server at, the base of the URLs in
                                             exports; empty = each request's scheme and Host */
} cs_server_config;

/* Built-in defaults: listen 127.0.0.1:8080, data ./capscreen-data, db
 * empty (SQLite in the data folder), code_ttl
 * 7 days, upload_expiry 24 h, max_upload_size 64 GiB, 1 analysis thread,
 * 1024 connections, 64 per client address, 60 s connection timeout, 10 s
 * header timeout, 10 s shutdown grace, 5 s lock
 * takeover, sessions idle 30 min / at most 12 h, plain HTTP. */
void cs_server_config_default(cs_server_config *c);

/* Set one key (names as in the comments above) from its text form.
 * Errors: CS_ERR_ARG (unknown key, bad number, value too long). */
cs_status cs_server_config_set(cs_server_config *c, const char *key, const char *value,
                               cs_error *err) CS_WARN_UNUSED;

/* Apply a key=value file: one pair a line, '#' comments and blank lines
 * ignored, spaces around key and value trimmed. Lines are capped at 8 KiB.
 * Errors: CS_ERR_IO (unreadable), CS_ERR_ARG (bad line, with its number). */
cs_status cs_server_config_load_file(cs_server_config *c, const char *path,
                                     cs_error *err) CS_WARN_UNUSED;

/* Looks up an environment variable; getenv() in production, a table in
 * tests. Returns NULL when unset. */
typedef const char *(*cs_getenv_fn)(const char *name);

/* Resolve the configuration: defaults, then `file` (may be NULL; else
 * CAPSCREEN_CONFIG from the environment when set), then the environment
 * (CAPSCREEN_LISTEN, CAPSCREEN_DATA, CAPSCREEN_ADMIN_TOKEN, ... for every
 * key), then `flags`: a NULL-terminated list of key, value, key, value...
 * (may be NULL). Setting admin_token at a level clears an admin_token_file
 * from a lower one and the other way round; at the end the token file, if
 * any, is read (first line, trimmed).
 * Errors: as cs_server_config_set() and _load_file(). */
cs_status cs_server_config_resolve(cs_server_config *c, const char *file, cs_getenv_fn env,
                                   const char *const *flags, cs_error *err) CS_WARN_UNUSED;

/* A command-line option a command handles itself (e.g. --label): its
 * value is stored in *value. */
typedef struct cs_cli_option {
    const char *name; /* "--label" */
    const char **value;
} cs_cli_option;

/* Resolve the configuration from a command line: argv[1..] holds
 * `--config FILE` and `--some-key VALUE` (or `--some-key=VALUE`) for each
 * config key (dashes for underscores), plus the caller's `extra` options
 * (array ending with a NULL name; may be NULL). Then as
 * cs_server_config_resolve(). Errors: CS_ERR_ARG (unknown option, missing
 * value, bad value: the message names it), CS_ERR_IO (unreadable file). */
cs_status cs_server_config_from_args(cs_server_config *c, int argc, char **argv,
                                     const cs_cli_option *extra, cs_getenv_fn env,
                                     cs_error *err) CS_WARN_UNUSED;

typedef struct cs_server cs_server;

/* Open (and migrate) the store (PostgreSQL at cfg->db, else SQLite under
 * cfg->data_dir), load the model, reconcile uploads cut off by a crash,
 * resume unfinished analysis, and start listening. `cfg` is copied. On success *out is the running server.
 * Errors: CS_ERR_IO (data folder, database, bind), CS_ERR_MODEL, CS_ERR_ARG
 * (bad listen address), CS_ERR_NOMEM. */
cs_status cs_server_start(const cs_server_config *cfg, cs_server **out,
                          cs_error *err) CS_WARN_UNUSED;

/* "HOST:PORT" actually bound (the real port when 0 was asked). Borrowed. */
const char *cs_server_bound(const cs_server *s);

/* Housekeeping the main thread runs now and then: expire idle uploads. */
void cs_server_sweep(cs_server *s);

/* Graceful stop: stop accepting, let in-flight requests finish (up to
 * shutdown_grace seconds), end event streams, stop the ingest threads after
 * they saved their place, fsync, close the database, free. Accepts NULL. */
void cs_server_stop(cs_server *s);

#endif
