/* ingest.c - live triage: a fixed pool of analysis threads shared by all
 * studies. A study with unread upload bytes is queued; a pool thread takes
 * it (one thread at a time per study, so its frames stay in order), reads
 * the study stream (its uploads, concatenated in creation order) through
 * the incremental frame-stream reader, runs the engine on each record and
 * stores the outcomes in batches, each batch in one transaction with the
 * stream offset just past its last item, so a restart resumes exactly after
 * the last stored frame. After a bounded slice of work the study goes back
 * to the end of the queue, so 500 live studies share the threads fairly.
 * Analysis threads run at a lower priority (nice) than request handling.
 * Each frame row also says where its JPEG payload lies in the stream, its
 * mean colour, whether it repeats the study's last kept frame, the polyp
 * model's output and the boxes of the frame's flagged findings
 * (docs/server.md, "Per-frame results").
 *
 * Several servers on one PostgreSQL store (cs_store_shared): a study is
 * analysed by one server at a time, the holder of its claim in the store
 * (store.h, "several servers"). A slice begins by claiming the study
 * (skipped when another live server holds it: that server is asked to
 * look again before it lets go), each batch renews the claim before it is
 * stored (a holder that lost it stores nothing and reloads), and a study
 * with nothing more to read is let go. A claim that changed hands since
 * this server last held it means the reader here is stale: it is reloaded
 * from the stored position, which every server moves in the frame
 * batch's transaction. So each frame is stored once, and a server that
 * dies mid-batch leaves its claim to the next server that is notified
 * (a PATCH, or the sweep's pending studies). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "capscreen/framestream.h"
#include "capscreen/pipeline.h"
#include "capscreen/summary.h"
#include "server/ingest/ingest.h"
#include "server/files/tus_files.h"

#define READ_CHUNK (64u * 1024u)
#define BATCH_MAX 64u    /* frames stored per transaction, at most */
#define SLICE_ITEMS 64u  /* items a thread analyses for one study before requeueing it */
#define ANALYSIS_NICE 10 /* analysis threads yield the CPU to request handling */
/* A live server renews its claim every batch; one that hangs this long
 * loses it (a dead one at once: store.h). */
#define CLAIM_LEASE_MS 30000

typedef struct study_rt {
    char id[CS_ID_MAX];
    /* guarded by cs_ingest.mu */
    bool queued, running, wake;
    int64_t received; /* items the reader handed out; -1 when not loaded */
    struct study_rt *next, *next_ready;
    /* owned by the pool thread that is running the study */
    cs_fs_reader *rd; /* NULL: not loaded (load from the stored position) */
    uint64_t fed;     /* stream offset of the next byte to feed */
    uint64_t seq;     /* study seq of the next item */
    bool finished;    /* every upload closed: reader finished */
    /* The last kept (non-redundant) ok frame, for redundancy. Lives only in
     * memory: after a restart the study's first analysed frame is kept. */
    bool have_kept;
    uint64_t kept_seq;
    uint8_t kept_sig[CS_SIG_LEN];
} study_rt;

struct cs_ingest {
    cs_ingest_deps d; /* what it works with, from cs_ingest_new */
    pthread_mutex_t mu;
    pthread_cond_t cv; /* a study was queued, or stop */
    bool stop;
    study_rt *studies;
    study_rt *ready_head, *ready_tail;
    pthread_t *threads;
    int nthreads;
    float redundancy_distance; /* the CLI summary's default; read-only */
};

/* One pool thread's own state. */
typedef struct pool_thread {
    cs_ingest *g;
    cs_worker *w;
    cs_outcome o;
    cs_frame_rec batch[BATCH_MAX];
    char batch_err[BATCH_MAX][256];
    char batch_boxes[BATCH_MAX][CS_FRAME_BOXES_MAX];
    size_t nbatch;
    uint64_t batch_end; /* stream offset just past the last batched item */
    bool lost_claim;    /* shared store: another server took the study over */
    uint8_t buf[READ_CHUNK];
} pool_thread;

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
    snprintf(item->reason, sizeof item->reason, "%s",
             ev->kind == CS_FS_EV_SKIPPED ? "bytes before the next record when analysis resumed"
                                          : ev->reason);
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
    if (ev->kind != CS_FS_EV_RECORD) {
        to_broken(item, ev);
        return CS_OK;
    }
    item->kind = CS_ITEM_ENCODED;
    snprintf(item->name, sizeof item->name, "frame %" PRIu64, ev->frame_index);
    /* The format's index is a u64, the store's an int64: an intact frame
     * with an index past INT64_MAX is still analysed, its index unknown. */
    item->frame_index = ev->frame_index <= INT64_MAX ? (int64_t)ev->frame_index : -1;
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
static cs_status feed_more(pool_thread *pt, study_rt *rt, bool *fed_any, bool *closed,
                           cs_error *err)
{
    const cs_ingest_deps *s = &pt->g->d;
    cs_upload_rec *ups = NULL;
    size_t n = 0;
    *fed_any = false;
    *closed = true;
    cs_status st = cs_store_upload_list(s->store, rt->id, false, &ups, &n, err);
    if (st != CS_OK)
        return st;
    uint64_t base = 0;
    for (size_t i = 0; i < n && !*fed_any; i++) {
        cs_upload_rec *u = &ups[i];
        if (u->state == CS_UPLOAD_OPEN)
            *closed = false;
        if (rt->fed < base + u->offset) {
            char path[CS_CFG_PATH + 96];
            cs_tus_path(s->files, u->id, path, sizeof path);
            int fd = open(path, O_RDONLY | O_CLOEXEC);
            uint64_t want = base + u->offset - rt->fed;
            size_t len = want < READ_CHUNK ? (size_t)want : READ_CHUNK;
            ssize_t got = fd < 0 ? -1 : pread(fd, pt->buf, len, (off_t)(rt->fed - base));
            if (fd >= 0)
                close(fd);
            if (got <= 0) {
                st = cs_error_set(err, CS_ERR_IO, "cannot read %s: %s", path,
                                  got < 0 ? strerror(errno) : "shorter than recorded");
                break;
            }
            if ((st = cs_fs_reader_feed(rt->rd, pt->buf, (size_t)got, err)) != CS_OK)
                break;
            rt->fed += (uint64_t)got;
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

/* Store the batched outcomes and the stream position just past them. */
static void unload(study_rt *rt)
{
    cs_fs_reader_free(rt->rd);
    rt->rd = NULL;
}

/* Shared store: claim (or renew) the study's analysis. *mine false: another
 * server holds it. A claim that changed hands makes this server's reader
 * stale: *mine is then true only with `reload` (the slice's start). */
static cs_status claim(pool_thread *pt, study_rt *rt, bool reload, bool *mine, cs_error *err)
{
    bool got = false, fresh = false;
    *mine = true;
    if (!cs_store_shared(pt->g->d.store))
        return CS_OK;
    cs_status st = cs_store_ingest_claim(pt->g->d.store, rt->id, CLAIM_LEASE_MS, &got, &fresh, err);
    if (st != CS_OK)
        return st;
    if (got && fresh) {
        unload(rt);
        rt->have_kept = false; /* frames stored elsewhere came after it */
    }
    *mine = got && (reload || !fresh);
    return CS_OK;
}

static cs_status flush(pool_thread *pt, study_rt *rt, cs_error *err)
{
    const cs_ingest_deps *s = &pt->g->d;
    if (pt->nbatch == 0)
        return CS_OK;
    bool mine = true;
    cs_status st = claim(pt, rt, false, &mine, err);
    if (st != CS_OK || !mine) {
        pt->nbatch = 0; /* analysed again by the holder, from the stored position */
        pt->lost_claim = !mine;
        unload(rt);
        return st;
    }
    st = cs_store_frames_add(s->store, rt->id, pt->batch, pt->nbatch, pt->batch_end, err);
    if (st == CS_OK) {
        atomic_fetch_add(&s->metrics->frames_analysed, pt->nbatch);
        cs_signals_progress(s->signals);
    }
    pt->nbatch = 0;
    return st;
}

/* Mean colour 0xRRGGBB of a frame: the mean of its signature's grid cells. */
static uint32_t mean_rgb(const uint8_t sig[CS_SIG_LEN])
{
    const uint32_t cells = CS_SIG_GRID * CS_SIG_GRID;
    uint32_t acc[3] = {0, 0, 0}, rgb = 0;
    for (uint32_t c = 0; c < cells; c++)
        for (int k = 0; k < 3; k++)
            acc[k] += sig[3 * c + k];
    for (int k = 0; k < 3; k++)
        rgb = (rgb << 8) | ((acc[k] + cells / 2) / cells);
    return rgb;
}

/* printf onto out[*len..cap); *len counts what would have been written,
 * so an overflow shows as *len >= cap. */
static void append(char *out, size_t cap, size_t *len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void append(char *out, size_t cap, size_t *len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t at = *len < cap ? *len : cap - 1;
    int k = vsnprintf(out + at, cap - at, fmt, ap);
    va_end(ap);
    *len += k > 0 ? (size_t)k : 0;
}

/* Append boxes b[0..n) as [x,y,w,h,score per mille] in pixels of a
 * width x height frame. */
static void put_boxes(char *out, size_t cap, size_t *len, const char *key, const cs_box *b, int n,
                      int width, int height)
{
    append(out, cap, len, ",\"%s\":[", key);
    for (int i = 0; i < n; i++) {
        long px[4];
        cs_box_pixels(&b[i], width, height, px);
        append(out, cap, len, "%s[%ld,%ld,%ld,%ld,%ld]", i ? "," : "", px[0], px[1], px[2], px[3],
               lroundf(b[i].score * 1000.0f));
    }
    append(out, cap, len, "]");
}

/* The boxes of the flagged findings of ok frame `o` as compact JSON:
 * {"w":W,"h":H,"b":[[x,y,w,h,s],...],"p":[...]} in the frame's own
 * pixels, score per mille ("b" bleeding regions, largest first; "p" polyp
 * regions, highest peak first). Only a flagged finding's boxes are kept:
 * the polyp detector boxes its heatmap's peak on every frame, and storing
 * those for 400,000 frames would cost more than the frames' other results.
 * "" when neither finding is flagged. CS_MAX_BOXES boxes of each kind fit
 * CS_FRAME_BOXES_MAX (16 x 27 bytes + the keys). */
static const char *boxes_json(const cs_outcome *o, char *out, size_t cap)
{
    const cs_frame_result *r = &o->result;
    int nb = r->bleeding ? r->n_boxes : 0, np = r->polyp ? r->n_polyp_boxes : 0;
    out[0] = '\0';
    if (nb == 0 && np == 0)
        return out;
    size_t len = 0;
    append(out, cap, &len, "{\"w\":%d,\"h\":%d", o->width, o->height);
    put_boxes(out, cap, &len, "b", r->boxes, nb, o->width, o->height);
    put_boxes(out, cap, &len, "p", r->polyp_boxes, np, o->width, o->height);
    append(out, cap, &len, "}");
    if (len >= cap)
        out[0] = '\0'; /* cannot happen with CS_MAX_BOXES boxes; never store cut JSON */
    return out;
}

/* True when ok frame `o` repeats the study's last kept frame (signature
 * distance within the summary's redundancy distance) and is flagged
 * neither bleeding nor polyp, since a reduced view must never hide a
 * flagged frame; otherwise it becomes the last kept frame. Failed frames
 * are never redundant and keep nothing. */
static bool redundant(cs_ingest *g, study_rt *rt, const cs_outcome *o, uint64_t seq)
{
    if (!o->ok)
        return false;
    const uint8_t *sig = o->result.signature;
    if (!o->result.bleeding && !o->result.polyp && rt->have_kept &&
        cs_signature_distance(rt->kept_sig, sig) <= g->redundancy_distance)
        return true;
    memcpy(rt->kept_sig, sig, CS_SIG_LEN);
    rt->kept_seq = seq;
    rt->have_kept = true;
    return false;
}

/* Batch the outcome of the item read from `ev`, numbered rt->seq. */
static void add_outcome(pool_thread *pt, study_rt *rt, const cs_outcome *o, const cs_fs_event *ev)
{
    const cs_ingest_deps *s = &pt->g->d;
    size_t i = pt->nbatch++;
    cs_frame_rec *f = &pt->batch[i];
    memset(f, 0, sizeof *f);
    f->seq = rt->seq;
    /* A record is header, payload, payload CRC (4 bytes); the header's
     * length may grow in later versions, so count back from the end. */
    if (ev->kind == CS_FS_EV_RECORD && ev->payload_len > 0) {
        f->payload_offset = ev->offset + ev->length - 4u - ev->payload_len;
        f->payload_len = ev->payload_len;
    }
    f->frame_index = o->frame_index;
    f->capture_time_us = o->capture_time_us;
    f->ok = o->ok;
    f->status = cs_status_name(o->status);
    if (o->ok) {
        const cs_quality *q = &o->result.quality;
        f->bleeding_probability = o->result.bleeding_probability;
        f->bleeding = o->result.bleeding;
        f->exposure = cs_exposure_name(q->exposure);
        f->sharpness = q->sharpness_score;
        f->visibility = q->visibility;
        f->readable = q->readable;
        f->blurry = q->blurry;
        f->width = o->width;
        f->height = o->height;
        f->mean_rgb = mean_rgb(o->result.signature);
        f->has_polyp = true;
        f->polyp_probability = o->result.polyp_probability;
        f->polyp = o->result.polyp;
        /* the operating point it was flagged at, stored with it */
        f->polyp_weights_crc32c = cs_engine_polyp_weights_crc32c(pt->g->d.engine);
        f->polyp_threshold = cs_engine_polyp_threshold(pt->g->d.engine);
        f->boxes = boxes_json(o, pt->batch_boxes[i], sizeof pt->batch_boxes[i]);
        f->redundant = redundant(pt->g, rt, o, rt->seq);
    } else {
        snprintf(pt->batch_err[i], sizeof pt->batch_err[i], "%s", o->reason);
        f->error = pt->batch_err[i];
        bool damaged = o->status == CS_ERR_CHECKSUM || o->status == CS_ERR_TRUNCATED ||
                       strncmp(o->name, "bytes ", 6) == 0;
        cs_metrics_error(s->metrics, damaged ? CS_EK_FRAME_DAMAGED : CS_EK_FRAME_UNDECODABLE);
    }
    pt->batch_end = ev->offset + ev->length;
}

/* Load the study's reader at its stored analysis position. */
static cs_status load(pool_thread *pt, study_rt *rt, cs_error *err)
{
    cs_study_rec sr;
    bool found = false;
    cs_status st = cs_store_study_get(pt->g->d.store, rt->id, &found, &sr, err);
    if (st != CS_OK)
        return st;
    if (!found)
        return cs_error_set(err, CS_ERR_ARG, "no such study");
    cs_fs_reader_opts opts = {.expect_header = sr.ingest_offset == 0,
                              .start_offset = sr.ingest_offset};
    if ((st = cs_fs_reader_new(&opts, &rt->rd, err)) != CS_OK)
        return st;
    rt->fed = sr.ingest_offset;
    rt->seq = sr.next_seq;
    rt->finished = false;
    /* Reloaded after a failed store: a kept frame that was never stored
     * will be analysed again, so forget it. */
    if (rt->have_kept && rt->kept_seq >= sr.next_seq)
        rt->have_kept = false;
    return CS_OK;
}

/* Analyse what the study has now, at most SLICE_ITEMS items. *more: stopped
 * at the slice's end with work left. */
static cs_status run_slice(pool_thread *pt, study_rt *rt, bool *more, cs_error *err)
{
    cs_ingest *g = pt->g;
    const cs_ingest_deps *s = &g->d;
    cs_status st = CS_OK;
    unsigned done = 0;
    bool moved = false; /* read past bytes that were no frame (a file header) */
    *more = false;
    pt->lost_claim = false;
    bool mine = true;
    if ((st = claim(pt, rt, true, &mine, err)) != CS_OK || !mine)
        return st; /* !mine: another server is analysing it */
    if (!rt->rd && (st = load(pt, rt, err)) != CS_OK)
        return st;
    while (!cs_signals_stopping(s->signals)) {
        if (done >= SLICE_ITEMS) {
            *more = true;
            break;
        }
        cs_fs_event ev;
        st = cs_fs_reader_next(rt->rd, &ev);
        if (st == CS_OK) {
            cs_item item;
            bool is_item;
            if ((st = to_item(&ev, &item, &is_item)) != CS_OK) {
                st = cs_error_set(err, st, "out of memory copying a frame");
                break;
            }
            if (!is_item) {
                moved = true;
                continue;
            }
            cs_analyze_item(pt->w, &item, 0, &pt->o);
            cs_item_clear(&item);
            add_outcome(pt, rt, &pt->o, &ev);
            rt->seq++;
            done++;
            moved = false;
            pthread_mutex_lock(&g->mu);
            rt->received = (int64_t)rt->seq;
            pthread_mutex_unlock(&g->mu);
            if (pt->nbatch >= BATCH_MAX && ((st = flush(pt, rt, err)) != CS_OK || pt->lost_claim))
                break;
            continue;
        }
        if (st == CS_END) { /* every upload closed and read: done for now */
            st = CS_OK;
            break;
        }
        if (st != CS_AGAIN) {
            st = cs_error_set(err, st, "frame-stream reader failed");
            break;
        }
        bool fed = false, closed = false;
        if ((st = feed_more(pt, rt, &fed, &closed, err)) != CS_OK)
            break;
        if (fed)
            continue;
        if (closed && !rt->finished) {
            (void)cs_fs_reader_finish(rt->rd);
            rt->finished = true;
            continue;
        }
        break; /* nothing more now: a PATCH queues the study again */
    }
    cs_error ferr = {0};
    if (flush(pt, rt, &ferr) != CS_OK && st == CS_OK) {
        st = ferr.code;
        *err = ferr;
    }
    if (st == CS_OK && moved && !pt->lost_claim &&
        (st = claim(pt, rt, false, &mine, err)) == CS_OK && mine) {
        uint64_t off = cs_fs_reader_offset(rt->rd);
        if (cs_store_study_set_ingest(s->store, rt->id, off, err) != CS_OK)
            fprintf(stderr, "capscreen: study %s: %s\n", rt->id, err->msg);
    }
    if (st != CS_OK || rt->finished)
        unload(rt); /* reloaded from the stored position when needed */
    return st;
}

static void enqueue(cs_ingest *g, study_rt *rt)
{
    rt->queued = true;
    rt->next_ready = NULL;
    if (g->ready_tail)
        g->ready_tail->next_ready = rt;
    else
        g->ready_head = rt;
    g->ready_tail = rt;
    pthread_cond_signal(&g->cv);
}

static void *pool_main(void *arg)
{
    pool_thread *pt = arg;
    cs_ingest *g = pt->g;
    const cs_ingest_deps *s = &g->d;
    /* Request handling comes first: analysis takes what CPU is left. */
    (void)setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), ANALYSIS_NICE);
    pthread_mutex_lock(&g->mu);
    for (;;) {
        while (!g->stop && !g->ready_head)
            pthread_cond_wait(&g->cv, &g->mu);
        if (g->stop)
            break;
        study_rt *rt = g->ready_head;
        g->ready_head = rt->next_ready;
        if (!g->ready_head)
            g->ready_tail = NULL;
        rt->queued = false;
        rt->running = true;
        rt->wake = false;
        pthread_mutex_unlock(&g->mu);

        bool more = false;
        cs_error err = {0};
        cs_status st = run_slice(pt, rt, &more, &err);
        if (st != CS_OK) {
            cs_metrics_error(s->metrics, CS_EK_INTERNAL);
            fprintf(stderr, "capscreen: analysis of study %s stopped: %s\n", rt->id, err.msg);
        }
        cs_signals_progress(s->signals);
        /* Shared store: a study with nothing more here is let go, unless
         * another server stored bytes meanwhile and asked us to look. */
        bool woken = false;
        if (!more && cs_store_shared(s->store) &&
            cs_store_ingest_unclaim(s->store, rt->id, &woken, &err) != CS_OK)
            fprintf(stderr, "capscreen: study %s: %s\n", rt->id, err.msg);

        pthread_mutex_lock(&g->mu);
        rt->running = false;
        if (woken)
            rt->wake = true;
        if (!rt->rd)
            rt->received = -1;
        if (!g->stop && (more || rt->wake))
            enqueue(g, rt);
    }
    pthread_mutex_unlock(&g->mu);
    cs_worker_free(pt->w);
    free(pt);
    return NULL;
}

cs_status cs_ingest_new(const cs_ingest_deps *d, cs_ingest **out, cs_error *err)
{
    cs_ingest *g = calloc(1, sizeof *g);
    if (!g)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory starting the analysis");
    g->d = *d;
    cs_summary_opts so;
    cs_summary_opts_default(&so);
    g->redundancy_distance = so.redundancy_distance;
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
    int n = d->threads > 0 ? d->threads : 1;
    g->threads = calloc((size_t)n, sizeof *g->threads);
    if (!g->threads) {
        cs_ingest_free(g);
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory starting the analysis");
    }
    for (int i = 0; i < n; i++) {
        pool_thread *pt = calloc(1, sizeof *pt);
        cs_status st = pt ? cs_worker_new(d->engine, &pt->w, err)
                          : cs_error_set(err, CS_ERR_NOMEM, "out of memory starting the analysis");
        if (st == CS_OK) {
            pt->g = g;
            if (pthread_create(&g->threads[i], NULL, pool_main, pt) != 0)
                st = cs_error_set(err, CS_ERR_NOMEM, "cannot start analysis threads");
        }
        if (st != CS_OK) {
            if (pt)
                cs_worker_free(pt->w);
            free(pt);
            cs_ingest_free(g);
            return st;
        }
        g->nthreads++;
    }
    *out = g;
    return CS_OK;
}

void cs_ingest_notify(cs_ingest *g, const char *study)
{
    if (!g || cs_signals_stopping(g->d.signals))
        return;
    pthread_mutex_lock(&g->mu);
    study_rt *rt = g->studies;
    while (rt && strcmp(rt->id, study) != 0)
        rt = rt->next;
    if (!rt && (rt = calloc(1, sizeof *rt)) != NULL) {
        snprintf(rt->id, sizeof rt->id, "%s", study);
        rt->received = -1;
        rt->next = g->studies;
        g->studies = rt;
    }
    if (rt) {
        rt->wake = true; /* a running study is requeued when its slice ends */
        if (!rt->queued && !rt->running && !g->stop)
            enqueue(g, rt);
    }
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
    /* The server is stopping (signals): each thread stores its last batch and ends. */
    pthread_mutex_lock(&g->mu);
    g->stop = true;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
    for (int i = 0; i < g->nthreads; i++)
        pthread_join(g->threads[i], NULL);
    free(g->threads);
    while (g->studies) {
        study_rt *n = g->studies->next;
        unload(g->studies);
        free(g->studies);
        g->studies = n;
    }
    pthread_cond_destroy(&g->cv);
    pthread_mutex_destroy(&g->mu);
    free(g);
}
