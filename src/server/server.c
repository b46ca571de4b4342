/* server.c - the server's lifetime: start (store, model, reconciliation,
 * resumed analysis, libmicrohttpd), housekeeping and graceful stop.
 *
 * This file is the composition root: the only place that sees every
 * layer's context at once. It builds the shared objects (store, engine,
 * counters, signals, limiter), hands each layer a context that holds only
 * what that layer needs, and gives libmicrohttpd the router's. No layer
 * sees struct cs_server (docs/server.md, "Layers"). */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "capscreen/fileio.h"
#include "server/api/api.h"
#include "server/audit/audit.h"
#include "server/ingest/ingest.h"
#include "server/router/router.h"
#include "server/auth/limiter.h"
#include "server/core/id_set.h"
#include "server/core/relay.h"
#include "server/care/care.h"
#include "server/export/pacs.h"
#include "server/media/media.h"
#include "server/auth/tokens.h"
#include "server/files/tus_files.h"

struct cs_server {
    cs_server_config cfg; /* read-only after start; the contexts point into it */
    cs_store *store;
    cs_engine *engine;
    struct MHD_Daemon *mhd;
    char bound[CS_CFG_STR + 16];
    char web_dir[CS_CFG_PATH];
    bool tls;
    char *tls_cert, *tls_key; /* PEM text when tls */

    /* Shared by the layers that need them. */
    cs_metrics metrics;
    cs_signals signals;
    cs_login_limiter *limiter;
    cs_id_set *clinical_studies; /* studies known clinical: the training gate's cache */
    cs_upload_files *files;
    cs_audit_log *audit;
    cs_ingest *ingest;
    cs_care *care;
    cs_pacs *pacs;     /* the PACS export queue's worker */
    cs_relay *relay;   /* signals to and from other servers (shared store only) */
    cs_linger *linger; /* drains connections answered before their body was read */

    /* Each layer's context. */
    cs_auth_ctx auth;
    cs_tus tus;
    cs_media media;
    cs_api api;
    cs_router router;
};

/* Split HOST:PORT ([v6]:PORT too) and resolve it numerically or by name. */
static cs_status resolve(const char *listen, struct sockaddr_storage *ss, socklen_t *len, bool *v6,
                         cs_error *err)
{
    char host[CS_CFG_STR];
    const char *colon = strrchr(listen, ':');
    if (!colon || colon == listen || !colon[1])
        return cs_error_set(err, CS_ERR_ARG, "listen address '%s' is not HOST:PORT", listen);
    size_t hl = (size_t)(colon - listen);
    const char *h = listen;
    if (listen[0] == '[' && hl >= 2 && listen[hl - 1] == ']') {
        h++;
        hl -= 2;
    }
    memcpy(host, h, hl);
    host[hl] = '\0';
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    int rc = getaddrinfo(host, colon + 1, &hints, &res);
    if (rc != 0 || !res)
        return cs_error_set(err, CS_ERR_ARG, "cannot resolve listen address '%s': %s", listen,
                            gai_strerror(rc));
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    *v6 = res->ai_family == AF_INET6;
    freeaddrinfo(res);
    return CS_OK;
}

static void resume_pending(cs_server *s)
{
    char(*ids)[CS_ID_MAX] = NULL;
    size_t n = 0;
    cs_error e = {0};
    if (cs_store_studies_pending(s->store, &ids, &n, &e) != CS_OK)
        return;
    for (size_t i = 0; i < n; i++)
        cs_ingest_notify(s->ingest, ids[i]);
    free(ids);
}

/* A PEM file as a NUL-terminated string (what libmicrohttpd takes). */
static cs_status read_pem(const char *path, char **out, cs_error *err)
{
    uint8_t *buf = NULL;
    size_t n = 0;
    cs_status st = cs_file_read(path, 1 << 20, &buf, &n, err);
    if (st != CS_OK)
        return st;
    *out = malloc(n + 1);
    if (!*out) {
        free(buf);
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory");
    }
    memcpy(*out, buf, n);
    (*out)[n] = '\0';
    free(buf);
    return CS_OK;
}

/* Read the PEM files when tls_cert and tls_key are both set. */
static cs_status load_tls(cs_server *s, cs_error *err)
{
    if (!s->cfg.tls_cert[0] && !s->cfg.tls_key[0])
        return CS_OK;
    if (!s->cfg.tls_cert[0] || !s->cfg.tls_key[0])
        return cs_error_set(err, CS_ERR_ARG, "TLS needs both tls_cert and tls_key");
    cs_status st = read_pem(s->cfg.tls_cert, &s->tls_cert, err);
    if (st == CS_OK)
        st = read_pem(s->cfg.tls_key, &s->tls_key, err);
    s->tls = st == CS_OK;
    return st;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    fputs("capscreen: http: ", stderr);
    vfprintf(stderr, fmt, ap);
}

/* The live care loop: the protocol file (the built-in default unless
 * `protocol` names one) and the webhook, whose key is read from its file
 * (never from the command line, where `ps` would show it). */
static cs_status start_care(cs_server *s, cs_error *err)
{
    char secret[CS_CFG_STR] = "";
    if (s->cfg.webhook_secret_file[0]) {
        uint8_t *buf = NULL;
        size_t n = 0;
        cs_status st = cs_file_read(s->cfg.webhook_secret_file, sizeof secret - 1, &buf, &n, err);
        if (st != CS_OK)
            return st;
        while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
            n--;
        memcpy(secret, buf, n);
        secret[n] = '\0';
        sodium_memzero(buf, n);
        free(buf);
    }
    cs_care_deps d = {.store = s->store,
                      .metrics = &s->metrics,
                      .signals = &s->signals,
                      .protocol_path = s->cfg.protocol[0] ? s->cfg.protocol : CS_DEFAULT_PROTOCOL,
                      .webhook_url = s->cfg.webhook_url,
                      .webhook_secret = secret};
    cs_status st = cs_care_new(&d, &s->care, err);
    sodium_memzero(secret, sizeof secret);
    return st;
}

/* The PACS export reads frames through the media layer (above it). */
static cs_status pacs_frame(void *ctx, const char *study, uint64_t seq, bool *found, uint8_t **out,
                            size_t *len, cs_error *err)
{
    return cs_media_frame(ctx, study, seq, found, out, len, err);
}

/* Studies the training gate remembers as clinical (about 400 KB): more
 * than the studies a hospital reads in weeks; past it the set starts
 * again (id_set.h). */
enum { CLINICAL_STUDIES_CACHED = 4096 };

/* The PACS export (docs/pacs.md): its worker runs only with `pacs` set. */
static cs_status start_pacs(cs_server *s, cs_error *err)
{
    cs_pacs_deps d = {.store = s->store,
                      .pacs = s->cfg.pacs,
                      .called_aet = s->cfg.pacs_aet,
                      .calling_aet = s->cfg.pacs_calling_aet,
                      .frame = pacs_frame,
                      .frame_ctx = &s->media,
                      .audit = s->audit};
    cs_status st = cs_pacs_new(&d, &s->pacs, err);
    s->api.pacs = s->pacs;
    return st;
}

/* Fill each layer's context from the shared objects. */
static void wire(cs_server *s)
{
    s->auth = (cs_auth_ctx){.store = s->store, .cfg = &s->cfg, .signals = &s->signals};
    s->media = (cs_media){.data_dir = s->cfg.data_dir,
                          .web_dir = s->web_dir,
                          .store = s->store,
                          .files = s->files,
                          .metrics = &s->metrics};
    s->tus = (cs_tus){.cfg = &s->cfg,
                      .store = s->store,
                      .files = s->files,
                      .ingest = s->ingest,
                      .metrics = &s->metrics,
                      .signals = &s->signals};
    s->api.cfg = &s->cfg;
    s->api.store = s->store;
    s->api.metrics = &s->metrics;
    s->api.signals = &s->signals;
    s->api.audit = s->audit;
    s->api.auth = &s->auth;
    s->api.ingest = s->ingest;
    s->api.media = &s->media;
    s->api.care = s->care;
    s->api.limiter = s->limiter;
    s->api.clinical_studies = s->clinical_studies;
    s->api.tls = s->tls;
    s->router = (cs_router){.cfg = &s->cfg,
                            .metrics = &s->metrics,
                            .auth = &s->auth,
                            .audit = s->audit,
                            .api = &s->api,
                            .tus = &s->tus,
                            .media = &s->media,
                            .linger = s->linger};
}

cs_status cs_server_start(const cs_server_config *cfg, cs_server **out, cs_error *err)
{
    cs_status st;
    struct sockaddr_storage ss;
    socklen_t sl = 0;
    bool v6 = false;
    cs_server *s = calloc(1, sizeof *s);
    if (!s)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory starting the server");
    s->cfg = *cfg;
    cs_signals_init(&s->signals);
    snprintf(s->web_dir, sizeof s->web_dir, "%s", cfg->web_dir[0] ? cfg->web_dir : CS_WEB_DIR);
    if ((st = cs_tokens_init(err)) != CS_OK ||
        (st = resolve(cfg->listen, &ss, &sl, &v6, err)) != CS_OK ||
        (st = cs_store_open_db(cfg->db, cfg->data_dir, &s->store, err)) != CS_OK ||
        (st = cs_upload_files_open(cfg->data_dir, &s->files, err)) != CS_OK)
        goto fail;
    /* Several servers on one PostgreSQL: locks are leases in the store too
     * (and no start-up reconcile: others may be writing). */
    cs_upload_files_share(s->files, s->store, (int64_t)cfg->lock_takeover_s * 1000);
    s->limiter = cs_limiter_new_shared(s->store); /* in memory unless shared */
    s->clinical_studies = cs_id_set_new(CLINICAL_STUDIES_CACHED);
    if (!s->limiter || !s->clinical_studies) {
        st = cs_error_set(err, CS_ERR_NOMEM, "out of memory starting the server");
        goto fail;
    }
    /* Event streams and revocations wake on every server (shared only). */
    if ((st = cs_relay_start(s->store, &s->signals, &s->relay, err)) != CS_OK)
        goto fail;
    /* Both models: live analysis flags bleeding and polyps. */
    if ((st = cs_engine_load_models(cfg->model[0] ? cfg->model : NULL,
                                    cfg->polyp_model[0] ? cfg->polyp_model : NULL, &s->engine,
                                    err)) != CS_OK ||
        (cfg->polyp_threshold > 0 &&
         (st = cs_engine_set_polyp_threshold(s->engine, cfg->polyp_threshold, err)) != CS_OK) ||
        (!cs_store_shared(s->store) && (st = cs_tus_reconcile(s->files, s->store, err)) != CS_OK) ||
        (st = cs_audit_new(s->store, s->limiter, &s->metrics, &s->audit, err)) != CS_OK ||
        (st = load_tls(s, err)) != CS_OK)
        goto fail;
    /* The operating point flags every live frame: say which one runs, and
     * show it on /metrics, so that servers sharing a store can be checked
     * to agree. */
    s->metrics.polyp_threshold = cs_engine_polyp_threshold(s->engine);
    if (cfg->polyp_threshold > 0)
        fprintf(stderr,
                "capscreen: polyp threshold %.9g (site setting; the weights' own is %.9g)\n",
                (double)cs_engine_polyp_threshold(s->engine),
                (double)cs_engine_polyp_weights_threshold(s->engine));
    /* On record before the first frame is analysed: which detectors and
     * operating points flagged the frames from now on (docs/workstation.md,
     * "The audit log"). */
    cs_audit(s->audit, NULL, "server.start", NULL,
             "polyp weights %.160s crc32c %08x threshold %.9g (%s %.9g); bleeding model %.160s "
             "threshold %.9g",
             cs_engine_polyp_model_path(s->engine), cs_engine_polyp_weights_crc32c(s->engine),
             (double)cs_engine_polyp_threshold(s->engine),
             cfg->polyp_threshold > 0 ? "site setting; the weights' own" : "the weights' own",
             (double)cs_engine_polyp_weights_threshold(s->engine), cs_engine_model_path(s->engine),
             (double)cs_engine_threshold(s->engine));
    cs_ingest_deps deps = {.store = s->store,
                           .engine = s->engine,
                           .files = s->files,
                           .metrics = &s->metrics,
                           .signals = &s->signals,
                           .threads = cfg->analysis_threads};
    if ((st = cs_ingest_new(&deps, &s->ingest, err)) != CS_OK || (st = start_care(s, err)) != CS_OK)
        goto fail;
    /* As many lingering sockets as connections: a client cannot make the
     * server hold more than it already may. */
    if ((st = cs_linger_start(cfg->max_connections, CS_LINGER_IDLE_MS, CS_LINGER_TOTAL_MS,
                              &s->linger, err)) != CS_OK)
        goto fail;
    wire(s);
    if ((st = start_pacs(s, err)) != CS_OK || (st = cs_api_init(&s->api, err)) != CS_OK)
        goto fail;
    cs_tus_sweep(&s->tus);
    resume_pending(s);
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ITC |
                     MHD_USE_ERROR_LOG | MHD_USE_POLL | (v6 ? MHD_USE_IPv6 : 0) |
                     (s->tls ? MHD_USE_TLS : 0);
    /* The TLS options only with TLS on: libmicrohttpd complains of them
     * otherwise. */
    struct MHD_OptionItem tls_opts[] = {
        {s->tls ? MHD_OPTION_HTTPS_MEM_KEY : MHD_OPTION_END, 0, s->tls_key},
        {MHD_OPTION_HTTPS_MEM_CERT, 0, s->tls_cert},
        {MHD_OPTION_END, 0, NULL},
    };
    /* The logger comes first so that MHD reports through it. */
    s->mhd = MHD_start_daemon(
        flags, 0, NULL, NULL, cs_http_on_request, &s->router, MHD_OPTION_EXTERNAL_LOGGER, mhd_log,
        NULL, MHD_OPTION_ARRAY, tls_opts, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
        MHD_OPTION_NOTIFY_COMPLETED, cs_http_on_completed, &s->router, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)cfg->max_connections, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)cfg->connection_timeout_s, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        (unsigned)cfg->per_ip_connections, MHD_OPTION_NOTIFY_CONNECTION, cs_http_on_connection,
        &s->router, MHD_OPTION_UNESCAPE_CALLBACK, cs_http_unescape, NULL, MHD_OPTION_END);
    if (!s->mhd) {
        st = cs_error_set(err, CS_ERR_IO, "cannot listen on %s (address in use or not allowed?)",
                          cfg->listen);
        goto fail;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_BIND_PORT);
    char host[INET6_ADDRSTRLEN] = "?";
    if (ss.ss_family == AF_INET)
        inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, host, sizeof host);
    else
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, host, sizeof host);
    snprintf(s->bound, sizeof s->bound, v6 ? "[%s]:%u" : "%s:%u", host,
             info ? (unsigned)info->port : 0u);
    *out = s;
    return CS_OK;
fail:
    cs_server_stop(s);
    return st;
}

const char *cs_server_bound(const cs_server *s) { return s->bound; }

void cs_server_sweep(cs_server *s)
{
    if (!s)
        return;
    cs_tus_sweep(&s->tus);
    resume_pending(s);               /* studies imported while it runs (capscreen study import) */
    cs_audit_flush(s->audit, false); /* frames.view and login.limited batches */
    int64_t now = cs_now_s();
    int n = 0;
    cs_error e = {0};
    if (cs_store_sessions_purge(s->store, now - s->cfg.session_idle_s, now - s->cfg.session_max_s,
                                &n, &e) != CS_OK)
        fprintf(stderr, "capscreen: cannot purge ended sessions: %s\n", e.msg);
    else if (n > 0)
        cs_signals_sessions_changed(&s->signals); /* their event streams end */
}

void cs_server_stop(cs_server *s)
{
    if (!s)
        return;
    if (s->mhd) {
        /* Stop accepting; let requests in flight finish. Event streams end
         * when they see the stop signal. */
        MHD_quiesce_daemon(s->mhd);
        cs_signals_stop(&s->signals);
        for (int i = 0;
             i < s->cfg.shutdown_grace_s * 20 && atomic_load(&s->metrics.requests_active) > 0; i++)
            usleep(50 * 1000);
        MHD_stop_daemon(s->mhd); /* cuts what is left: bodies are fsynced on the way */
    }
    cs_linger_stop(s->linger); /* after the daemon: it adds to it until then */
    cs_signals_stop(&s->signals);
    cs_relay_stop(s->relay);
    cs_pacs_free(s->pacs); /* a send in flight ends (or times out) first */
    cs_care_free(s->care);
    cs_ingest_free(s->ingest);
    cs_audit_free(s->audit); /* writes the open frames.view and login.limited batches */
    cs_limiter_free(s->limiter);
    cs_id_set_free(s->clinical_studies);
    free(s->tls_key);
    free(s->tls_cert);
    cs_upload_files_close(s->files);
    cs_store_close(s->store);
    cs_engine_free(s->engine);
    cs_signals_destroy(&s->signals);
    free(s);
}
