/* cmd_run.c - `capscreen-uplink run`: the uploader loop, stopped by SIGINT
 * or SIGTERM (progress is always on disk, so any stop is safe). */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "capscreen/uplink.h"
#include "uplink_cli/cli.h"
#include "uplink_cli/health_file.h"

/* Exit statuses of run --once (docs/uplink.md). */
enum { EXIT_DONE = 0, EXIT_LOCAL = 1, EXIT_USAGE = 2, EXIT_FULL = 3, EXIT_PENDING = 4 };

/* The one handle a signal may stop; set while run() works. */
static csu_uplink *volatile running;

static void on_signal(int sig)
{
    (void)sig;
    csu_uplink_stop(running);
}

static void usage(FILE *f)
{
    fputs("usage: capscreen-uplink run --state DIR (--spool DIR | --stream FILE) [OPTIONS]\n"
          "\n"
          "Upload a study's frames with tus until it is finished. Spool mode: the\n"
          "recorder writes NAME.tmp and renames it to NAME.jpg; frames go in natural\n"
          "name order and are deleted once the server has confirmed them. Stream\n"
          "mode: follow a frame-stream file being appended. The study ends with\n"
          "--finish, a study.end file in the spool, or FILE.end beside the stream.\n"
          "\n"
          "  --server URL            server (default: the one enrolled with)\n"
          "  --status-file F         JSON status for the hub's display\n"
          "  --health-file F         the recorder's health (JSON: battery_pct, signal_dbm,\n"
          "                          recorder, spool_used_pct?, message?), reported to\n"
          "                          the care team (docs/uplink.md, \"Health reports\")\n"
          "  --health-interval-ms N  report at least this often (default 60000); a\n"
          "                          change is reported within a second\n"
          "  --device ID             device id sent in Upload-Metadata (default hub)\n"
          "  --chunk-bytes N         most bytes per PATCH (default 16M)\n"
          "  --chunk-target-ms N     size PATCHes to last this long at the measured\n"
          "                          rate, 256K up to --chunk-bytes (default 8000;\n"
          "                          0: always --chunk-bytes)\n"
          "  --no-read-ahead         do not pack the next chunk while a PATCH is\n"
          "                          sent (saves a chunk buffer; spool mode)\n"
          "  --chunk-frames N        most frames per PATCH (default and max 1024)\n"
          "  --chunk-ms N            send what came in this long (default 2000)\n"
          "  --spool-max-bytes N     spool cap in bytes (default 1G; 0 none)\n"
          "  --spool-max-frames N    spool cap in frames (default 0: none)\n"
          "  --max-frame-bytes N     larger frames are set aside (default 2M)\n"
          "  --backoff-min-ms N      first retry delay (default 1000)\n"
          "  --backoff-max-ms N      retry delay cap (default 60000)\n"
          "  --poll-ms N             spool scan interval (default 200)\n"
          "  --connect-timeout S     seconds (default 10)\n"
          "  --low-speed B:S         drop a transfer under B bytes/s for S s (100:20)\n"
          "  --max-rate N            cap uploads at N bytes/s (default 0: none)\n"
          "  --checksum MODE         auto (if the server offers sha256), always, never\n"
          "  --ca-file F             extra CA certificates (PEM) for HTTPS\n"
          "  --seed N                jitter seed (tests; default: clock and pid)\n"
          "  --finish                close the study once everything is sent\n"
          "  --once                  send what is there now, then exit: 0 all sent,\n"
          "                          3 spool full, 4 not all sent (server unreachable)\n",
          f);
}

static bool parse_low_speed(const char *s, csu_config *c)
{
    long b = 0, t = 0;
    char extra;
    if (sscanf(s, "%ld:%ld%c", &b, &t, &extra) != 2 || b < 1 || t < 1 || t > 3600) {
        cli_fail("--low-speed must be BYTES:SECONDS (e.g. 100:20), not '%s'", s);
        return false;
    }
    c->low_speed_bytes = b;
    c->low_speed_time_s = t;
    return true;
}

static int run_once(csu_uplink *u)
{
    cs_error err = {0};
    csu_status_info st;
    for (;;) {
        uint32_t wait = 0;
        cs_status rc = csu_uplink_step(u, &wait, &err);
        if (rc == CS_END)
            return EXIT_DONE;
        if (rc != CS_OK) {
            cli_fail("%s", err.msg);
            return EXIT_LOCAL;
        }
        csu_uplink_status(u, &st);
        if (st.state == CSU_STATE_SPOOL_FULL)
            return EXIT_FULL;
        if (st.state == CSU_STATE_BACKING_OFF || st.state == CSU_STATE_ERROR) {
            fprintf(stderr, "capscreen-uplink: not all sent: %s\n", st.last_error);
            return EXIT_PENDING;
        }
        if (st.state == CSU_STATE_IDLE || st.state == CSU_STATE_ENROLLED)
            return EXIT_DONE;
        if (wait) {
            struct timespec ts = {wait / 1000, (long)(wait % 1000) * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
}

int cli_run(int argc, char **argv)
{
    static const struct option longopts[] = {{"state", required_argument, 0, 'd'},
                                             {"spool", required_argument, 0, 'p'},
                                             {"stream", required_argument, 0, 'S'},
                                             {"server", required_argument, 0, 's'},
                                             {"status-file", required_argument, 0, 'f'},
                                             {"device", required_argument, 0, 'D'},
                                             {"chunk-bytes", required_argument, 0, 1},
                                             {"chunk-frames", required_argument, 0, 2},
                                             {"chunk-ms", required_argument, 0, 3},
                                             {"spool-max-bytes", required_argument, 0, 4},
                                             {"spool-max-frames", required_argument, 0, 5},
                                             {"max-frame-bytes", required_argument, 0, 6},
                                             {"backoff-min-ms", required_argument, 0, 7},
                                             {"backoff-max-ms", required_argument, 0, 8},
                                             {"poll-ms", required_argument, 0, 9},
                                             {"connect-timeout", required_argument, 0, 10},
                                             {"low-speed", required_argument, 0, 11},
                                             {"checksum", required_argument, 0, 12},
                                             {"ca-file", required_argument, 0, 13},
                                             {"finish", no_argument, 0, 14},
                                             {"once", no_argument, 0, 15},
                                             {"seed", required_argument, 0, 16},
                                             {"max-rate", required_argument, 0, 17},
                                             {"chunk-target-ms", required_argument, 0, 18},
                                             {"health-file", required_argument, 0, 19},
                                             {"health-interval-ms", required_argument, 0, 20},
                                             {"no-read-ahead", no_argument, 0, 21},
                                             {"help", no_argument, 0, 'h'},
                                             {0, 0, 0, 0}};
    csu_config cfg;
    cli_health_file health = {0};
    csu_uplink *u = NULL;
    cs_error err = {0};
    bool once = false;
    uint64_t v = 0;
    int c, rc = EXIT_LOCAL;
    csu_config_init(&cfg);
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'd': cfg.state_dir = optarg; break;
        case 'p': cfg.spool_dir = optarg; break;
        case 'S': cfg.stream_path = optarg; break;
        case 's': cfg.server_url = optarg; break;
        case 'f': cfg.status_file = optarg; break;
        case 'D': cfg.device_id = optarg; break;
        case 1:
            if (!cli_number("--chunk-bytes", optarg, 1024, 256u << 20, true, &v))
                return 2;
            cfg.chunk_bytes = v;
            break;
        case 2:
            if (!cli_number("--chunk-frames", optarg, 1, 1024, false, &v))
                return 2;
            cfg.chunk_frames = (uint32_t)v;
            break;
        case 3:
            if (!cli_number("--chunk-ms", optarg, 0, 3600000, false, &v))
                return 2;
            cfg.chunk_ms = (uint32_t)v;
            break;
        case 4:
            if (!cli_number("--spool-max-bytes", optarg, 0, UINT64_MAX, true, &v))
                return 2;
            cfg.spool_max_bytes = v;
            break;
        case 5:
            if (!cli_number("--spool-max-frames", optarg, 0, 100000000, false, &v))
                return 2;
            cfg.spool_max_frames = (uint32_t)v;
            break;
        case 6:
            if (!cli_number("--max-frame-bytes", optarg, 1, 32u << 20, true, &v))
                return 2;
            cfg.max_frame_bytes = (uint32_t)v;
            break;
        case 7:
            if (!cli_number("--backoff-min-ms", optarg, 1, 3600000, false, &v))
                return 2;
            cfg.backoff_min_ms = (uint32_t)v;
            break;
        case 8:
            if (!cli_number("--backoff-max-ms", optarg, 1, 3600000, false, &v))
                return 2;
            cfg.backoff_max_ms = (uint32_t)v;
            break;
        case 9:
            if (!cli_number("--poll-ms", optarg, 1, 60000, false, &v))
                return 2;
            cfg.poll_ms = (uint32_t)v;
            break;
        case 10:
            if (!cli_number("--connect-timeout", optarg, 1, 600, false, &v))
                return 2;
            cfg.connect_timeout_s = (long)v;
            break;
        case 11:
            if (!parse_low_speed(optarg, &cfg))
                return 2;
            break;
        case 12:
            if (strcmp(optarg, "auto") == 0)
                cfg.checksum = CSU_CHECKSUM_AUTO;
            else if (strcmp(optarg, "always") == 0)
                cfg.checksum = CSU_CHECKSUM_ALWAYS;
            else if (strcmp(optarg, "never") == 0)
                cfg.checksum = CSU_CHECKSUM_NEVER;
            else {
                cli_fail("--checksum must be auto, always or never, not '%s'", optarg);
                return 2;
            }
            break;
        case 13: cfg.ca_file = optarg; break;
        case 14: cfg.finish = true; break;
        case 15: once = true; break;
        case 16:
            if (!cli_number("--seed", optarg, 1, UINT64_MAX, false, &v))
                return 2;
            cfg.rng_seed = v;
            break;
        case 17:
            if (!cli_number("--max-rate", optarg, 0, UINT64_MAX, true, &v))
                return 2;
            cfg.max_send_rate = v;
            break;
        case 18:
            if (!cli_number("--chunk-target-ms", optarg, 0, 600000, false, &v))
                return 2;
            cfg.chunk_target_ms = (uint32_t)v;
            break;
        case 19:
            health.path = optarg;
            cfg.on_health = cli_health_from_file;
            cfg.health_user = &health;
            break;
        case 20:
            if (!cli_number("--health-interval-ms", optarg, 1000, 3600000, false, &v))
                return 2;
            cfg.health_interval_ms = (uint32_t)v;
            break;
        case 21: cfg.read_ahead = false; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc || !cfg.state_dir || !cfg.spool_dir == !cfg.stream_path) {
        cli_fail("run needs --state and one of --spool or --stream (try "
                 "'capscreen-uplink run --help')");
        return 2;
    }
    if (cfg.backoff_max_ms < cfg.backoff_min_ms) {
        cli_fail("--backoff-max-ms must be at least --backoff-min-ms");
        return 2;
    }
    if (once)
        cfg.chunk_ms = 0; /* send what is there now */
    if (csu_uplink_create(&cfg, &u, &err) != CS_OK) {
        cli_fail("%s", err.msg);
        return err.code == CS_ERR_ARG ? EXIT_USAGE : EXIT_LOCAL;
    }
    if (once) {
        rc = run_once(u);
    } else {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_signal;
        sigemptyset(&sa.sa_mask);
        running = u;
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        cs_status st = csu_uplink_run(u, &err);
        running = NULL;
        if (st == CS_OK || st == CS_AGAIN)
            rc = EXIT_DONE;
        else
            cli_fail("%s", err.msg);
    }
    csu_uplink_destroy(u);
    return rc;
}
