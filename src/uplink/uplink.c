/* uplink.c - the csu_uplink life cycle (create, run, stop, destroy) and its
 * status snapshot and status file. */
#include "uplink/health.h"
#include "uplink/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "capscreen/framestream.h"
#include "uplink/fileio.h"
#include "uplink/json.h"

#define LOCK_FILE "lock"

const char *csu_state_name(csu_state s)
{
    switch (s) {
    case CSU_STATE_IDLE: return "idle";
    case CSU_STATE_ENROLLED: return "enrolled";
    case CSU_STATE_UPLOADING: return "uploading";
    case CSU_STATE_BACKING_OFF: return "backing_off";
    case CSU_STATE_SPOOL_FULL: return "spool_full";
    case CSU_STATE_FINISHED: return "finished";
    case CSU_STATE_ERROR: return "error";
    }
    return "unknown";
}

void csu_config_init(csu_config *c)
{
    memset(c, 0, sizeof *c);
    c->chunk_bytes = 16u * 1024u * 1024u;
    c->chunk_target_ms = 8000;
    c->chunk_frames = CSU_CHUNK_FRAMES_MAX;
    c->chunk_ms = 2000;
    c->spool_max_bytes = 1024ull * 1024u * 1024u;
    c->max_frame_bytes = 2u * 1024u * 1024u;
    c->backoff_min_ms = 1000;
    c->backoff_max_ms = 60000;
    c->poll_ms = 200;
    c->connect_timeout_s = 10;
    c->low_speed_bytes = 100;
    c->low_speed_time_s = 20;
    c->checksum = CSU_CHECKSUM_AUTO;
    c->read_ahead = true;
}

static bool copy(char *dst, size_t cap, const char *src)
{
    if (!src) {
        dst[0] = '\0';
        return true;
    }
    return snprintf(dst, cap, "%s", src) < (int)cap;
}

static cs_status check_config(const csu_config *c, cs_error *err)
{
    if (!c->state_dir || !*c->state_dir)
        return cs_error_set(err, CS_ERR_ARG, "a state folder is required");
    if (!(c->spool_dir && *c->spool_dir) == !(c->stream_path && *c->stream_path))
        return cs_error_set(err, CS_ERR_ARG,
                            "give exactly one of a spool "
                            "folder and a stream file");
    if (c->chunk_frames < 1 || c->chunk_frames > CSU_CHUNK_FRAMES_MAX)
        return cs_error_set(err, CS_ERR_ARG, "chunk frames must be 1..%u", CSU_CHUNK_FRAMES_MAX);
    if (c->chunk_bytes < 1024 || c->chunk_bytes > 256u * 1024u * 1024u)
        return cs_error_set(err, CS_ERR_ARG,
                            "chunk bytes must be 1 KiB .. "
                            "256 MiB");
    if (c->max_frame_bytes < 1 || c->max_frame_bytes > CS_FS_DEFAULT_MAX_PAYLOAD)
        return cs_error_set(err, CS_ERR_ARG, "max frame bytes must be 1 .. %u",
                            (unsigned)CS_FS_DEFAULT_MAX_PAYLOAD);
    if (c->poll_ms < 1 || c->backoff_min_ms < 1 || c->backoff_max_ms < c->backoff_min_ms)
        return cs_error_set(err, CS_ERR_ARG,
                            "poll and backoff times must be "
                            "positive, the backoff cap at least its minimum");
    return CS_OK;
}

/* One uplink per state folder: an advisory lock, released by the kernel
 * when the process dies, so a crash never leaves it stale. */
static cs_status lock_state(const char *dir, int *fd_out, cs_error *err)
{
    char path[CSU_PATH_MAX];
    if (!csu_path(path, sizeof path, dir, LOCK_FILE))
        return cs_error_set(err, CS_ERR_ARG, "state folder path too long");
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return cs_error_set(err, CS_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        close(fd);
        return cs_error_set(err, CS_ERR_ARG, "another uplink is using %s", dir);
    }
    *fd_out = fd;
    return CS_OK;
}

cs_status csu_uplink_create(const csu_config *cfg, csu_uplink **out, cs_error *err)
{
    csu_uplink *u = NULL;
    cs_status st;
    bool found = false, valid = false;
    if (!cfg || !out)
        return cs_error_set(err, CS_ERR_ARG, "NULL config or handle");
    *out = NULL;
    if ((st = check_config(cfg, err)) != CS_OK)
        return st;
    u = calloc(1, sizeof *u);
    if (!u)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory");
    u->stream_fd = -1;
    u->lock_fd = -1;
    u->full_marker = -1;
    u->cfg = *cfg;
    if (!copy(u->state_dir, sizeof u->state_dir, cfg->state_dir) ||
        !copy(u->spool_dir, sizeof u->spool_dir, cfg->spool_dir) ||
        !copy(u->stream_path, sizeof u->stream_path, cfg->stream_path) ||
        !copy(u->status_file, sizeof u->status_file, cfg->status_file) ||
        !copy(u->device_id, sizeof u->device_id, cfg->device_id ? cfg->device_id : "hub") ||
        !copy(u->ca_file, sizeof u->ca_file, cfg->ca_file)) {
        st = cs_error_set(err, CS_ERR_ARG, "a path or the device id is too long");
        goto fail;
    }
    if ((st = csu_dir_ensure(u->state_dir, 0700, err)) != CS_OK ||
        (st = lock_state(u->state_dir, &u->lock_fd, err)) != CS_OK ||
        (st = csu_device_load(u->state_dir, &u->dev, err)) != CS_OK)
        goto fail;
    if (!copy(u->server, sizeof u->server, cfg->server_url ? cfg->server_url : u->dev.server) ||
        !u->server[0]) {
        st = cs_error_set(err, CS_ERR_ARG, "no usable server URL");
        goto fail;
    }
    csu_http_opts http = {
        .connect_timeout_s = cfg->connect_timeout_s,
        .low_speed_bytes = cfg->low_speed_bytes,
        .low_speed_time_s = cfg->low_speed_time_s,
        .ca_file = u->ca_file[0] ? u->ca_file : NULL,
        .max_send_rate = cfg->max_send_rate,
        .stop = &u->stop,
    };
    if ((st = csu_tus_init(&u->tus, u->server, u->dev.token, u->dev.study, u->device_id, &http,
                           err)) != CS_OK)
        goto fail;
    u->tus.checksum = cfg->checksum == CSU_CHECKSUM_ALWAYS;
    if ((st = csu_health_new(cfg, u->server, u->dev.token, &http, &u->health, err)) != CS_OK)
        goto fail;
    csu_backoff_init(&u->backoff, cfg->backoff_min_ms, cfg->backoff_max_ms,
                     cfg->rng_seed ? cfg->rng_seed
                                   : (uint64_t)csu_wall_us() ^ ((uint64_t)getpid() << 32) ^
                                         (uint64_t)(uintptr_t)u);
    csu_sizer_init(&u->sizer, cfg->chunk_bytes, cfg->chunk_target_ms);
    u->scratch_cap = cfg->max_frame_bytes;
    u->saved = malloc(sizeof *u->saved);
    u->scratch = malloc(u->scratch_cap);
    if (!u->saved || !u->scratch) {
        st = cs_error_set(err, CS_ERR_NOMEM, "out of memory");
        goto fail;
    }
    if ((st = csu_outbox_init(&u->ob,
                              cfg->chunk_bytes + cfg->max_frame_bytes + CS_FS_RECORD_OVERHEAD +
                                  CS_FS_FILE_HEADER_SIZE,
                              err)) != CS_OK ||
        (st = csu_saved_load(u->saved, u->state_dir, &found, err)) != CS_OK)
        goto fail;
    if (u->spool_dir[0] && cfg->read_ahead &&
        (st = csu_ahead_init(&u->ahead, u->ob.cap, cfg->max_frame_bytes, err)) != CS_OK)
        goto fail;
    if (u->stream_path[0])
        u->stream_fd = open(u->stream_path, O_RDONLY | O_CLOEXEC);
    /* An outbox was waiting: check it. A stale one is rebuilt by the first
     * step that needs its bytes, after the HEAD (step.c). */
    if (u->saved->seg_len &&
        (st = csu_outbox_load(&u->ob, u->saved, u->state_dir, &valid, err)) != CS_OK)
        goto fail;
    u->ob_stale = u->saved->seg_len && !valid;
    csu__refresh_status(u);
    *out = u;
    return CS_OK;
fail:
    csu_uplink_destroy(u);
    return st;
}

void csu_uplink_destroy(csu_uplink *u)
{
    if (!u)
        return;
    csu_ahead_free(&u->ahead);
    csu_tus_cleanup(&u->tus);
    csu_health_free(u->health);
    csu_outbox_free(&u->ob);
    csu_spool_list_free(&u->list);
    free(u->saved);
    free(u->scratch);
    if (u->stream_fd >= 0)
        close(u->stream_fd);
    if (u->lock_fd >= 0)
        close(u->lock_fd);
    free(u);
}

void csu_uplink_stop(csu_uplink *u)
{
    if (u)
        atomic_store(&u->stop, 1);
}

void csu_uplink_status(const csu_uplink *u, csu_status_info *st)
{
    if (u && st)
        *st = u->info;
}

static void iso_time(int64_t us, char *out, size_t cap)
{
    struct tm tm;
    time_t t = (time_t)(us / 1000000);
    if (us <= 0 || !gmtime_r(&t, &tm)) {
        snprintf(out, cap, "null");
        return;
    }
    strftime(out, cap, "\"%Y-%m-%dT%H:%M:%SZ\"", &tm);
}

static void write_status_file(csu_uplink *u)
{
    const csu_status_info *i = &u->info;
    char text[2048], when[40], now[40], err[600], url[1100];
    iso_time(i->last_success_us, when, sizeof when);
    iso_time(csu_wall_us(), now, sizeof now);
    if (!i->last_error[0] || !csu_json_quote(i->last_error, err, sizeof err))
        snprintf(err, sizeof err, "null");
    if (!i->upload_url[0] || !csu_json_quote(i->upload_url, url, sizeof url))
        snprintf(url, sizeof url, "null");
    int n = snprintf(text, sizeof text,
                     "{\"state\": \"%s\", \"frames_queued\": %" PRIu64 ", \"spool_bytes\": %" PRIu64
                     ", \"frames_sent\": %" PRIu64 ", \"bytes_sent\": %" PRIu64
                     ", \"upload_offset\": %" PRIu64 ", \"last_success\": %s, "
                     "\"last_error\": %s, \"upload_url\": %s, \"updated\": %s}\n",
                     csu_state_name(i->state), i->frames_queued, i->spool_bytes, i->frames_sent,
                     i->bytes_sent, i->upload_offset, when, err, url, now);
    /* Best effort: the display file must never stop the upload. */
    if (n > 0 && (size_t)n < sizeof text &&
        csu_file_replace(u->status_file, text, (size_t)n, 0644, false, NULL) != CS_OK)
        csu__set_error(u, "cannot write the status file %s", u->status_file);
}

void csu__refresh_status(csu_uplink *u)
{
    const csu_saved *s = u->saved;
    csu_status_info *i = &u->info;
    uint64_t confirmed = 0;
    for (size_t k = 0; s->seg_len && k < s->n; k++)
        if (csu_outbox_entry_end(s, k) <= s->offset)
            confirmed++;
    i->frames_queued = u->spool_dir[0] ? u->list.n : s->n - confirmed + u->pending_frames;
    if (s->finished)
        i->state = CSU_STATE_FINISHED;
    else if (u->full)
        i->state = CSU_STATE_SPOOL_FULL;
    else if (u->retry_at_ms > csu_mono_ms())
        i->state = u->refused ? CSU_STATE_ERROR : CSU_STATE_BACKING_OFF;
    else if (s->seg_len || i->frames_queued || !u->looked)
        i->state = CSU_STATE_UPLOADING; /* frames wait, or none looked for yet */
    else if (!s->upload_url[0])
        i->state = CSU_STATE_ENROLLED;
    else
        i->state = CSU_STATE_IDLE;
    i->spool_bytes = u->list.bytes;
    i->frames_sent = s->frames_sent + confirmed;
    i->bytes_sent =
        s->bytes_sent + (s->seg_len && s->offset > s->seg_start ? s->offset - s->seg_start : 0);
    i->upload_offset = s->offset;
    snprintf(i->upload_url, sizeof i->upload_url, "%s", s->upload_url);
    if (memcmp(i, &u->written, sizeof *i) == 0)
        return;
    u->written = *i;
    if (u->status_file[0])
        write_status_file(u);
    if (u->cfg.on_status)
        u->cfg.on_status(u->cfg.user, i);
}

cs_status csu_uplink_step(csu_uplink *u, uint32_t *wait_ms, cs_error *err)
{
    uint32_t wait = 0;
    if (!u)
        return cs_error_set(err, CS_ERR_ARG, "NULL uplink");
    cs_status st = csu__step(u, &wait, err);
    csu__refresh_status(u);
    /* The link is up when the server answered the last exchange. */
    csu_health_tick(u->health,
                    u->info.state != CSU_STATE_BACKING_OFF && u->info.state != CSU_STATE_ERROR,
                    u->info.spool_bytes);
    if (wait_ms)
        *wait_ms = wait;
    return st;
}

cs_status csu_uplink_run(csu_uplink *u, cs_error *err)
{
    if (!u)
        return cs_error_set(err, CS_ERR_ARG, "NULL uplink");
    while (!atomic_load(&u->stop)) {
        uint32_t wait = 0;
        cs_status st = csu_uplink_step(u, &wait, err);
        if (st == CS_END)
            return CS_OK;
        if (st != CS_OK)
            return st;
        for (uint32_t slept = 0; slept < wait && !atomic_load(&u->stop);) {
            uint32_t ms = wait - slept < 50 ? wait - slept : 50;
            struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)ms * 1000000L};
            nanosleep(&ts, NULL);
            slept += ms;
        }
    }
    return CS_AGAIN;
}
