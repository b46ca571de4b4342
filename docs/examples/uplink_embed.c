/* uplink_embed.c - embedding libcsuplink in a hub program (docs/uplink.md).
 *
 * The uplink runs on its own thread; the main thread plays the recorder: it
 * drops each frame of a folder into the spool (write NAME.tmp, rename to
 * NAME.jpg), holds frames while the spool is full, and ends the study with
 * study.end; a callback gives the hub's health, which the uplink reports to
 * the care team. Build from a capscreen build folder:
 *
 *   cc -std=c11 -I include docs/examples/uplink_embed.c -L build \
 *      -lcsuplink -lcurl -lpthread -o uplink_embed
 *   ./uplink_embed STATE_DIR SPOOL_DIR FRAMES_DIR   (after capscreen-uplink enrol)
 */
#define _POSIX_C_SOURCE 200809L
#include <curl/curl.h>
#include <dirent.h>
#include <stdbool.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "capscreen/uplink.h"

/* Called on the uplink thread whenever the snapshot changes. */
static void on_status(void *user, const csu_status_info *st)
{
    (void)user;
    printf("uplink: %-11s queued %llu sent %llu%s%s\n", csu_state_name(st->state),
           (unsigned long long)st->frames_queued, (unsigned long long)st->frames_sent,
           st->last_error[0] ? "  last error: " : "", st->last_error);
    fflush(stdout);
}

/* Called on the uplink thread (at most once a second) for the hub's health,
 * which the uplink reports to the care team: read the hub's sensors here.
 * Return false while nothing is known. */
static bool on_health(void *user, csu_hub_health *out)
{
    (void)user;
    out->battery_pct = 87;       /* from the battery gauge */
    out->signal_dbm = -79;       /* from the modem */
    out->spool_used_pct = -1;    /* -1: the uplink's own spool use */
    out->recorder = "recording"; /* or "stopped", "error" */
    out->message = NULL;         /* or a short text for the care team */
    return true;
}

static void *uplink_thread(void *arg)
{
    cs_error err = {0};
    if (csu_uplink_run(arg, &err) != CS_OK && err.msg[0])
        fprintf(stderr, "uplink stopped: %s\n", err.msg);
    return NULL;
}

static void pause_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* The recorder's side of the drop protocol for one frame. */
static int drop_frame(const char *spool, const char *dir, const char *name)
{
    char from[4096], tmp[4096], to[4096], full[4096], buf[65536];
    size_t n;
    snprintf(from, sizeof from, "%s/%s", dir, name);
    snprintf(tmp, sizeof tmp, "%s/%s.tmp", spool, name);
    snprintf(to, sizeof to, "%s/%s", spool, name);
    snprintf(full, sizeof full, "%s/spool.full", spool);
    while (access(full, F_OK) == 0)
        pause_ms(100); /* the spool is full: hold the frame */
    FILE *in = fopen(from, "rb"), *out = fopen(tmp, "wb");
    if (!in || !out) {
        if (in)
            fclose(in);
        if (out)
            fclose(out);
        return -1;
    }
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        fwrite(buf, 1, n, out);
    fclose(in);
    if (fflush(out) != 0 || fsync(fileno(out)) != 0 || fclose(out) != 0)
        return -1;
    return rename(tmp, to); /* now the uplink may take it */
}

int main(int argc, char **argv)
{
    csu_config cfg;
    csu_uplink *u = NULL;
    cs_error err = {0};
    pthread_t th;
    struct dirent **names = NULL;
    int n, rc = 1;
    if (argc != 4) {
        fprintf(stderr, "usage: uplink_embed STATE_DIR SPOOL_DIR FRAMES_DIR\n");
        return 2;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return 1;
    csu_config_init(&cfg);
    cfg.state_dir = argv[1];
    cfg.spool_dir = argv[2];
    cfg.chunk_ms = 200;
    cfg.on_status = on_status;
    cfg.on_health = on_health;      /* health reports to the care team */
    cfg.health_interval_ms = 60000; /* at least once a minute; changes at once */
    if (csu_uplink_create(&cfg, &u, &err) != CS_OK) {
        fprintf(stderr, "uplink_embed: %s\n", err.msg);
        goto done;
    }
    if (pthread_create(&th, NULL, uplink_thread, u) != 0)
        goto done;
    n = scandir(argv[3], &names, NULL, alphasort);
    for (int i = 0; i < n; i++) {
        const char *name = names[i]->d_name;
        size_t len = strlen(name);
        if (len > 4 && strcmp(name + len - 4, ".jpg") == 0 &&
            drop_frame(argv[2], argv[3], name) != 0)
            fprintf(stderr, "uplink_embed: cannot drop %s\n", name);
        free(names[i]);
    }
    free(names);
    char end[4096];
    snprintf(end, sizeof end, "%s/study.end", argv[2]);
    FILE *f = fopen(end, "w"); /* the study is over */
    if (f)
        fclose(f);
    pthread_join(th, NULL); /* run() returns once the upload is closed;
                                csu_uplink_stop(u) would end it early */
    rc = 0;
done:
    csu_uplink_destroy(u);
    curl_global_cleanup();
    return rc;
}
