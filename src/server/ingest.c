/* ingest.c - live triage: one analysis thread per study that has unread
 * upload bytes. It reads the study stream (its uploads, concatenated in
 * creation order) through the incremental frame-stream reader, runs the
 * engine's worker pool on each record (cs_pipeline_run with a live source)
 * and stores each outcome with the stream offset just past it, in one
 * transaction, so a restart resumes exactly after the last stored frame. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "capscreen/framestream.h"
#include "capscreen/pipeline.h"
#include "server/server_internal.h"
#include "server/tus_files.h"

#define READ_CHUNK (64u * 1024u)
#define ENDS_RING 8192u  /* > the pipeline's window (256 threads x 16) */

typedef struct study_rt {
    char id[CS_ID_MAX];
    struct cs_ingest *g;
    pthread_t thread;
    bool started, exited;   /* guarded by cs_ingest.mu */
    bool wake;              /* guarded by cs_ingest.mu */
    int64_t received;       /* items handed out; guarded by cs_ingest.mu */
    struct study_rt *next;
} study_rt;

struct cs_ingest {
    cs_server *srv;
    pthread_mutex_t mu;
    pthread_cond_t cv;      /* wakes analysis threads: new bytes or stop */
    study_rt *studies;
};

typedef struct live_src {
    struct cs_source base;
    cs_ingest *g;
    study_rt *rt;
    cs_fs_reader *rd;
    uint64_t fed;           /* stream offset of the next byte to feed */
    uint64_t seq0;          /* study seq of this run's first item */
    uint64_t handed;        /* items handed out in this run */
    bool finished;
    uint64_t ends[ENDS_RING]; /* item -> stream offset just past it */
    pthread_mutex_t ends_mu;
    uint8_t buf[READ_CHUNK];
} live_src;

static void to_broken(cs_item *item, const cs_fs_event *ev)
{
    item->kind = CS_ITEM_BROKEN;
    item->status = ev->status != CS_OK ? ev->status : CS_ERR_CORRUPT;
    if (ev->has_index && ev->frame_index <= INT64_MAX) {
        snprintf(item->name, sizeof item->name, "frame %" PRIu64, ev->frame_index);
        item->frame_index = (int64_t)ev->frame_index;
        item->capture_time_us = ev->capture_time_us;
    } else {
        snprintf(item->name, sizeof item->name, "bytes %" PRIu64 "..%" PRIu64, ev->offset,
                 ev->offset + (ev->length ? ev->length - 1 : 0));
    }
    snprintf(item->reason, sizeof item->reason, "%s", ev->kind == CS_FS_EV_SKIPPED
             ? "bytes before the next record when analysis resumed" : ev->reason);
}

/* Event -> item; false for events that are not frames (a file header). */
static cs_status to_item(const cs_fs_event *ev, cs_item *item, bool *is_item)
{
    memset(item, 0, sizeof *item);
    item->frame_index = -1;
    item->capture_time_us = -1;
    *is_item = true;
    if (ev->kind == CS_FS_EV_HEADER || (ev->kind == CS_FS_EV_SKIPPED && ev->length == 0)) {
        *is_item = false;
        return CS_OK;
    }
    if (ev->kind != CS_FS_EV_RECORD || ev->frame_index > INT64_MAX) {
        to_broken(item, ev);
        return CS_OK;
    }
    item->kind = CS_ITEM_ENCODED;
    snprintf(item->name, sizeof item->name, "frame %" PRIu64, ev->frame_index);
    item->frame_index = (int64_t)ev->frame_index;
    item->capture_time_us = ev->capture_time_us;
    item->len = ev->payload_len;
    item->data = malloc(ev->payload_len ? ev->payload_len : 1);
    if (!item->data)
        return CS_ERR_NOMEM;
    if (ev->payload_len)
        memcpy(item->data, ev->payload, ev->payload_len);
    return CS_OK;
}

/* Feed the reader the next bytes of the study stream. *fed_any false when
 * nothing is available now; *closed true when every upload is closed. */
static cs_status feed_more(live_src *ls, bool *fed_any, bool *closed, cs_error *err)
{
    cs_server *s = ls->g->srv;
    cs_upload_rec *ups = NULL;
    size_t n = 0;
    *fed_any = false;
    *closed = true;
    cs_status st = cs_store_upload_list(s->store, ls->rt->id, false, &ups, &n, err);
    if (st != CS_OK)
        return st;
    uint64_t base = 0;
    for (size_t i = 0; i < n && !*fed_any; i++) {
        cs_upload_rec *u = &ups[i];
        if (u->state == CS_UPLOAD_OPEN)
            *closed = false;
        if (ls->fed < base + u->offset) {
            char path[CS_CFG_PATH + 96];
            cs_tus_path(s, u->id, path, sizeof path);
            int fd = open(path, O_RDONLY | O_CLOEXEC);
            uint64_t want = base + u->offset - ls->fed;
            size_t len = want < READ_CHUNK ? (size_t)want : READ_CHUNK;
            ssize_t got = fd < 0 ? -1 : pread(fd, ls->buf, len, (off_t)(ls->fed - base));
            if (fd >= 0)
                close(fd);
            if (got <= 0) {
                st = cs_error_set(err, CS_ERR_IO, "cannot read %s: %s", path,
                                  got < 0 ? strerror(errno) : "shorter than recorded");
                break;
            }
            if ((st = cs_fs_reader_feed(ls->rd, ls->buf, (size_t)got, err)) != CS_OK)
                break;
            ls->fed += (uint64_t)got;
            *fed_any = true;
        }
        base += u->offset;
        /* An open upload may still grow: what follows it cannot be placed
         * in the stream yet (the hub moves on by terminating or letting it
         * expire). */
        if (u->state == CS_UPLOAD_OPEN)
            break;
    }
    for (size_t i = 0; i < n; i++)
        if (ups[i].state == CS_UPLOAD_OPEN)
            *closed = false;
    free(ups);
    return st;
}

static cs_status live_next(cs_source *src, cs_item *item, cs_error *err)
{
    live_src *ls = (live_src *)src;
    cs_ingest *g = ls->g;
    for (;;) {
        cs_fs_event ev;
        cs_status st = cs_fs_reader_next(ls->rd, &ev);
        if (st == CS_OK) {
            bool is_item;
            if ((st = to_item(&ev, item, &is_item)) != CS_OK)
                return cs_error_set(err, st, "out of memory copying a frame");
            if (!is_item)
                continue;
            pthread_mutex_lock(&ls->ends_mu);
            ls->ends[ls->handed % ENDS_RING] = ev.offset + ev.length;
            ls->handed++;
            pthread_mutex_unlock(&ls->ends_mu);
            pthread_mutex_lock(&g->mu);
            ls->rt->received = (int64_t)(ls->seq0 + ls->handed);
            pthread_mutex_unlock(&g->mu);
            return CS_OK;
        }
        if (st == CS_END)
            return CS_END;
        if (st != CS_AGAIN)
            return cs_error_set(err, st, "frame-stream reader failed");
        if (atomic_load(&g->srv->stopping))
            return CS_END;
        bool fed = false, closed = false;
        if ((st = feed_more(ls, &fed, &closed, err)) != CS_OK)
            return st;
        if (fed)
            continue;
        if (closed && !ls->finished) {
            (void)cs_fs_reader_finish(ls->rd);
            ls->finished = true;
            continue;
        }
        /* Nothing new: sleep until a PATCH wakes us (or 1 s passes). */
        pthread_mutex_lock(&g->mu);
        if (!ls->rt->wake && !atomic_load(&g->srv->stopping)) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += 1;
            pthread_cond_timedwait(&g->cv, &g->mu, &ts);
        }
        ls->rt->wake = false;
        pthread_mutex_unlock(&g->mu);
    }
}

static void live_close(cs_source *src)
{
    (void)src; /* owned by run_study() */
}

typedef struct sink_ctx {
    live_src *ls;
    cs_server *srv;
} sink_ctx;

static cs_status sink(void *ctx, const cs_outcome *o, cs_error *err)
{
    sink_ctx *k = ctx;
    cs_server *s = k->srv;
    pthread_mutex_lock(&k->ls->ends_mu);
    uint64_t end = k->ls->ends[o->seq % ENDS_RING];
    pthread_mutex_unlock(&k->ls->ends_mu);
    cs_frame_rec f = {0};
    f.seq = k->ls->seq0 + o->seq;
    f.frame_index = o->frame_index;
    f.capture_time_us = o->capture_time_us;
    f.ok = o->ok;
    f.status = cs_status_name(o->status);
    if (o->ok) {
        const cs_quality *q = &o->result.quality;
        f.bleeding_probability = o->result.bleeding_probability;
        f.bleeding = o->result.bleeding;
        f.exposure = cs_exposure_name(q->exposure);
        f.sharpness = q->sharpness_score;
        f.visibility = q->visibility;
        f.readable = q->readable;
        f.blurry = q->blurry;
        f.width = o->width;
        f.height = o->height;
    } else {
        f.error = o->reason;
        bool damaged = o->status == CS_ERR_CHECKSUM || o->status == CS_ERR_TRUNCATED ||
                       strncmp(o->name, "bytes ", 6) == 0;
        cs_count_error(s, damaged ? CS_EK_FRAME_DAMAGED : CS_EK_FRAME_UNDECODABLE);
    }
    cs_status st = cs_store_frame_add(s->store, k->ls->rt->id, &f, end, err);
    if (st == CS_OK) {
        atomic_fetch_add(&s->frames_analysed, 1);
        cs_progress_bump(s);
    }
    return st;
}

static void *run_study(void *arg)
{
    study_rt *rt = arg;
    cs_ingest *g = rt->g;
    cs_server *s = g->srv;
    live_src *ls = calloc(1, sizeof *ls);
    cs_error err = {0};
    cs_study_rec sr;
    bool found = false;
    if (!ls || cs_store_study_get(s->store, rt->id, &found, &sr, &err) != CS_OK || !found)
        goto fail;
    pthread_mutex_init(&ls->ends_mu, NULL);
    ls->base.type = CS_SOURCE_FRAMESTREAM;
    ls->base.expected = -1;
    ls->base.next = live_next;
    ls->base.close = live_close;
    ls->g = g;
    ls->rt = rt;
    ls->fed = sr.ingest_offset;
    ls->seq0 = sr.next_seq;
    cs_fs_reader_opts opts = {.expect_header = sr.ingest_offset == 0,
                              .start_offset = sr.ingest_offset};
    if (cs_fs_reader_new(&opts, &ls->rd, &err) != CS_OK)
        goto fail_mu;
    sink_ctx k = {ls, s};
    if (cs_pipeline_run(&ls->base, s->engine, s->cfg.analysis_threads, sink, &k, &err) == CS_OK) {
        /* Every event handed out is stored; bytes after the last frame that
         * were no frame (a file header) are read too. */
        uint64_t off = cs_fs_reader_offset(ls->rd);
        if (off > sr.ingest_offset &&
            cs_store_study_set_ingest(s->store, rt->id, off, &err) != CS_OK)
            fprintf(stderr, "capscreen: study %s: %s\n", rt->id, err.msg);
    } else {
        cs_count_error(s, CS_EK_INTERNAL);
        fprintf(stderr, "capscreen: analysis of study %s stopped: %s\n", rt->id, err.msg);
    }
    cs_progress_bump(s);
    cs_fs_reader_free(ls->rd);
fail_mu:
    pthread_mutex_destroy(&ls->ends_mu);
fail:
    free(ls);
    pthread_mutex_lock(&g->mu);
    rt->exited = true;
    pthread_mutex_unlock(&g->mu);
    return NULL;
}

cs_status cs_ingest_new(cs_server *s, cs_ingest **out, cs_error *err)
{
    cs_ingest *g = calloc(1, sizeof *g);
    if (!g)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory starting the analysis");
    g->srv = s;
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
    *out = g;
    return CS_OK;
}

void cs_ingest_notify(cs_ingest *g, const char *study)
{
    if (!g || atomic_load(&g->srv->stopping))
        return;
    pthread_mutex_lock(&g->mu);
    study_rt *rt = g->studies;
    while (rt && strcmp(rt->id, study) != 0)
        rt = rt->next;
    if (rt && rt->started && rt->exited) { /* finished before: reap, run again */
        pthread_join(rt->thread, NULL);
        rt->started = rt->exited = false;
    }
    if (!rt && (rt = calloc(1, sizeof *rt)) != NULL) {
        snprintf(rt->id, sizeof rt->id, "%s", study);
        rt->g = g;
        rt->received = -1;
        rt->next = g->studies;
        g->studies = rt;
    }
    if (rt && !rt->started) {
        rt->exited = false;
        rt->started = pthread_create(&rt->thread, NULL, run_study, rt) == 0;
    }
    if (rt)
        rt->wake = true;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

int64_t cs_ingest_received(cs_ingest *g, const char *study)
{
    int64_t n = -1;
    if (!g)
        return n;
    pthread_mutex_lock(&g->mu);
    for (study_rt *rt = g->studies; rt; rt = rt->next)
        if (strcmp(rt->id, study) == 0)
            n = rt->received;
    pthread_mutex_unlock(&g->mu);
    return n;
}

void cs_ingest_free(cs_ingest *g)
{
    if (!g)
        return;
    /* srv->stopping is set: threads return CS_END at their next wait. */
    pthread_mutex_lock(&g->mu);
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
    for (study_rt *rt = g->studies; rt; rt = rt->next)
        if (rt->started)
            pthread_join(rt->thread, NULL);
    while (g->studies) {
        study_rt *n = g->studies->next;
        free(g->studies);
        g->studies = n;
    }
    pthread_cond_destroy(&g->cv);
    pthread_mutex_destroy(&g->mu);
    free(g);
}
