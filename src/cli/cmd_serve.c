/* cmd_serve.c - `capscreen serve`: run the ingest server until SIGINT or
 * SIGTERM, then stop gracefully. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "capscreen/server.h"
#include "cli/cli.h"
#include <stdlib.h>

#define SWEEP_S 30

static const char *env_lookup(const char *name) { return getenv(name); }

static void usage(FILE *f)
{
    fputs("usage: capscreen serve [--listen HOST:PORT] [--data DIR] [--config FILE] [OPTIONS]\n"
          "\n"
          "Run the server: tus uploads at /uploads/, the JSON API at /api/v1/, the\n"
          "reading workstation at /, /healthz and /metrics (docs/api.md,\n"
          "docs/workstation.md, docs/server.md). Prints one JSON line\n"
          "{\"listening\": \"HOST:PORT\"} once it accepts connections; stops cleanly on\n"
          "SIGINT or SIGTERM.\n"
          "\n"
          "Every setting is a flag, a CAPSCREEN_<KEY> environment variable or a key in\n"
          "the --config file (flags > environment > file > defaults):\n"
          "  --listen HOST:PORT           default 127.0.0.1:8080 (port 0: any free port)\n"
          "  --data DIR                   capscreen.db and uploads/ (default capscreen-data)\n"
          "  --db postgresql://...        keep the store in PostgreSQL instead of\n"
          "                               DIR/capscreen.db (uploads stay in DIR)\n"
          "  --admin-token-file FILE      admin bearer token (or CAPSCREEN_ADMIN_TOKEN)\n"
          "  --model FILE                 bleeding model (default: the installed one)\n"
          "  --polyp-model FILE           polyp weights (default: $CAPSCREEN_POLYP_MODEL or\n"
          "                               the installed one)\n"
          "  --polyp-threshold T          flag polyp frames at T in (0, 1) instead of the\n"
          "                               weights' own threshold: the site's operating point\n"
          "                               (capscreen eval --target-specificity; docs/engine.md)\n"
          "  --code-ttl SECONDS           enrolment codes live this long (default 7 days)\n"
          "  --upload-expiry SECONDS      idle incomplete uploads expire (default 24 h)\n"
          "  --max-upload-size BYTES      Tus-Max-Size (default 64 GiB)\n"
          "  --analysis-threads N         engine threads per study (default 1)\n"
          "  --max-connections N          default 1024\n"
          "  --connection-timeout SECONDS idle connections are closed (default 60)\n"
          "  --lock-takeover SECONDS      a PATCH silent this long loses its upload lock (default "
          "5)\n"
          "  --shutdown-grace SECONDS     wait for requests on stop (default 10)\n"
          "  --web-dir DIR                the workstation's pages (default: the built-in web/)\n"
          "  --session-idle SECONDS       a session ends after this long unused (default 1800)\n"
          "  --session-max SECONDS        and this long after login (default 43200)\n"
          "  --tls-cert FILE --tls-key FILE  serve HTTPS (PEM); cookies get Secure\n"
          "  --public-url URL             https://host[:port] clients reach this server at,\n"
          "                               the base of export URLs (default: each request's)\n"
          "  --pacs HOST:PORT             send signed studies' key frames to this PACS\n"
          "                               (DICOM C-STORE; --pacs-aet ORTHANC,\n"
          "                               --pacs-calling-aet CAPSCREEN; docs/pacs.md)\n",
          f);
}

int cli_serve(int argc, char **argv)
{
    cs_server_config cfg;
    cs_server *srv = NULL;
    cs_error err = {0};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        }
    }
    if (cs_server_config_from_args(&cfg, argc, argv, NULL, env_lookup, &err) != CS_OK) {
        cli_fail("serve: %s (try 'capscreen serve --help')", err.msg);
        return 2;
    }
    /* Block the stop signals in every thread; main waits for them. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (cs_server_start(&cfg, &srv, &err) != CS_OK) {
        cli_fail("serve: %s", err.msg);
        return 1;
    }
    printf("{\"listening\": \"%s\"}\n", cs_server_bound(srv));
    fflush(stdout);
    for (;;) {
        struct timespec ts = {SWEEP_S, 0};
        int sig = sigtimedwait(&stop, NULL, &ts);
        if (sig == SIGINT || sig == SIGTERM)
            break;
        if (sig < 0 && errno != EAGAIN && errno != EINTR)
            break;
        cs_server_sweep(srv);
    }
    fprintf(stderr, "capscreen: stopping\n");
    cs_server_stop(srv);
    return 0;
}
