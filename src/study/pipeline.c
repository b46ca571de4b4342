/* pipeline.c - the worker pool and in-order reorder window. */
#include "capscreen/pipeline.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Outcomes a worker may run ahead of the sink, per thread. */
#define WINDOW_PER_THREAD 32
/* Items a worker takes from the source at once and analyses with one
 * model call (cs_worker_analyze_batch). Small enough that the window holds
 * a batch per thread twice over. */
#define BATCH CS_BATCH_MAX

/* Decode and analyse items[0..n-1] (seq0, seq0+1, ...) into outs[i]. The
 * frames that decode go to the model together; the rest get their reason. */
static void analyze_items(cs_worker *w, const cs_item *items, size_t n, uint64_t seq0,
                          cs_outcome *const *outs)
{
    cs_image decoded[BATCH];
    const cs_image *imgs[BATCH];
    cs_frame_result results[BATCH];
    size_t which[BATCH], m = 0;
    cs_error err = {0};
    const int detail_side = cs_worker_detail_side(w);

    for (size_t i = 0; i < n; i++) {
        const cs_item *item = &items[i];
        cs_outcome *o = outs[i];
        memset(o, 0, sizeof *o);
        memset(&decoded[i], 0, sizeof decoded[i]);
        o->seq = seq0 + i;
        memcpy(o->name, item->name, sizeof o->name);
        o->frame_index = item->frame_index;
        o->capture_time_us = item->capture_time_us;
        const cs_image *img = NULL;
        switch (item->kind) {
        case CS_ITEM_BROKEN:
            o->status = item->status ? item->status : CS_ERR_CORRUPT;
            memcpy(o->reason, item->reason, sizeof o->reason);
            continue;
        case CS_ITEM_ENCODED:
            if (cs_decode_frame_detail(item->data, item->len, detail_side, &decoded[i], &err) !=
                CS_OK) {
                o->status = err.code;
                snprintf(o->reason, sizeof o->reason, "%s", err.msg);
                continue;
            }
            img = &decoded[i];
            break;
        case CS_ITEM_IMAGE: img = &item->image; break;
        }
        o->width = img->src_width;
        o->height = img->src_height;
        imgs[m] = img;
        which[m++] = i;
    }
    if (m > 0) {
        cs_status st = cs_worker_analyze_batch(w, imgs, m, results, &err);
        for (size_t k = 0; k < m; k++) {
            cs_outcome *o = outs[which[k]];
            if (st != CS_OK) {
                o->status = err.code;
                snprintf(o->reason, sizeof o->reason, "%s", err.msg);
            } else {
                o->ok = true;
                o->status = CS_OK;
                o->result = results[k];
            }
        }
    }
    for (size_t i = 0; i < n; i++)
        cs_image_free(&decoded[i]);
}

void cs_analyze_item(cs_worker *w, const cs_item *item, uint64_t seq, cs_outcome *o)
{
    analyze_items(w, item, 1, seq, &o);
}

typedef struct slot {
    bool ready;
    cs_outcome outcome;
} slot;

typedef struct pool {
    cs_source *src;
    const cs_engine *eng;
    size_t window;
    slot *slots;

    pthread_mutex_t src_lock; /* guards src, next_seq */
    uint64_t next_seq;

    pthread_mutex_t lock;      /* guards everything below */
    pthread_cond_t slot_ready; /* a slot filled, or reading ended */
    pthread_cond_t space;      /* the sink freed a slot, or abort */
    uint64_t folded;           /* outcomes passed to the sink */
    bool reading_done;
    uint64_t total; /* valid once reading_done */
    bool abort;
    int workers_failed;
    cs_status failure;
    cs_error failure_err;
} pool;

static void fail_pool(pool *p, cs_status st, const cs_error *err)
{
    pthread_mutex_lock(&p->lock);
    if (p->failure == CS_OK) {
        p->failure = st;
        if (err)
            p->failure_err = *err;
    }
    p->abort = true;
    pthread_cond_broadcast(&p->slot_ready);
    pthread_cond_broadcast(&p->space);
    pthread_mutex_unlock(&p->lock);
}

static void *worker_main(void *arg)
{
    pool *p = arg;
    cs_worker *w = NULL;
    cs_error err = {0};
    cs_item items[BATCH];
    cs_outcome *outs[BATCH];

    if (cs_worker_new(p->eng, &w, &err) != CS_OK) {
        fail_pool(p, err.code, &err);
        return NULL;
    }
    for (;;) {
        size_t n = 0;
        uint64_t seq0 = 0;
        bool stop = false;
        pthread_mutex_lock(&p->src_lock);
        /* Back-pressure: never read further ahead than the window; wait for
         * room for one item, then take what fits, up to a batch. */
        pthread_mutex_lock(&p->lock);
        while (!p->abort && p->next_seq >= p->folded + p->window)
            pthread_cond_wait(&p->space, &p->lock);
        stop = p->abort || p->reading_done;
        uint64_t limit = p->folded + p->window;
        pthread_mutex_unlock(&p->lock);
        seq0 = p->next_seq;
        while (!stop && n < BATCH && p->next_seq < limit) {
            cs_status st = cs_source_next(p->src, &items[n], &err);
            if (st == CS_OK) {
                p->next_seq++;
                n++;
                continue;
            }
            pthread_mutex_lock(&p->lock);
            if (st == CS_END) {
                p->reading_done = true;
                p->total = p->next_seq;
                pthread_cond_broadcast(&p->slot_ready);
            }
            pthread_mutex_unlock(&p->lock);
            if (st != CS_END)
                fail_pool(p, st, &err);
            stop = true;
        }
        pthread_mutex_unlock(&p->src_lock);

        if (n > 0) {
            for (size_t i = 0; i < n; i++)
                outs[i] = &p->slots[(seq0 + i) % p->window].outcome;
            analyze_items(w, items, n, seq0, outs);
            for (size_t i = 0; i < n; i++)
                cs_item_clear(&items[i]);
            pthread_mutex_lock(&p->lock);
            for (size_t i = 0; i < n; i++)
                p->slots[(seq0 + i) % p->window].ready = true;
            pthread_cond_broadcast(&p->slot_ready);
            pthread_mutex_unlock(&p->lock);
        }
        if (stop)
            break;
    }
    cs_worker_free(w);
    return NULL;
}

static cs_status run_inline(cs_source *src, const cs_engine *eng, cs_outcome_sink sink, void *ctx,
                            cs_error *err)
{
    cs_worker *w = NULL;
    cs_item items[BATCH];
    cs_outcome *buf = malloc(BATCH * sizeof *buf), *outs[BATCH];
    cs_status st = buf ? cs_worker_new(eng, &w, err)
                       : cs_error_set(err, CS_ERR_NOMEM, "out of memory starting analysis");
    for (size_t i = 0; i < BATCH && buf; i++)
        outs[i] = &buf[i];
    uint64_t seq = 0;
    bool end = false;
    while (st == CS_OK && !end) {
        size_t n = 0;
        while (n < BATCH) {
            st = cs_source_next(src, &items[n], err);
            if (st != CS_OK)
                break;
            n++;
        }
        if (st == CS_END) {
            end = true;
            st = CS_OK;
        }
        if (n > 0)
            analyze_items(w, items, n, seq, outs);
        for (size_t i = 0; i < n; i++)
            cs_item_clear(&items[i]);
        /* A failed source still hands over the frames read before it. */
        for (size_t i = 0; i < n; i++) {
            cs_status sst = sink(ctx, outs[i], err);
            if (sst != CS_OK) {
                st = sst;
                break;
            }
        }
        seq += n;
    }
    cs_worker_free(w);
    free(buf);
    return st;
}

cs_status cs_pipeline_run(cs_source *src, const cs_engine *eng, int threads, cs_outcome_sink sink,
                          void *ctx, cs_error *err)
{
    if (threads < 1 || threads > 256)
        return cs_error_set(err, CS_ERR_ARG, "thread count %d out of range 1..256", threads);
    cs_source_want_detail(src, cs_engine_detail_side(eng));
    if (threads == 1)
        return run_inline(src, eng, sink, ctx, err);

    pool p;
    memset(&p, 0, sizeof p);
    p.src = src;
    p.eng = eng;
    p.window = (size_t)threads * WINDOW_PER_THREAD;
    p.slots = calloc(p.window, sizeof *p.slots);
    pthread_t *tids = calloc((size_t)threads, sizeof *tids);
    if (!p.slots || !tids) {
        free(p.slots);
        free(tids);
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory starting %d workers", threads);
    }
    pthread_mutex_init(&p.src_lock, NULL);
    pthread_mutex_init(&p.lock, NULL);
    pthread_cond_init(&p.slot_ready, NULL);
    pthread_cond_init(&p.space, NULL);

    int started = 0;
    for (; started < threads; started++)
        if (pthread_create(&tids[started], NULL, worker_main, &p) != 0)
            break;
    if (started == 0)
        fail_pool(&p, cs_error_set(err, CS_ERR_NOMEM, "cannot start worker threads"), err);

    /* Fold outcomes into the sink in study order. */
    for (;;) {
        pthread_mutex_lock(&p.lock);
        slot *s = &p.slots[p.folded % p.window];
        while (!p.abort && !s->ready && !(p.reading_done && p.folded >= p.total))
            pthread_cond_wait(&p.slot_ready, &p.lock);
        bool finished = p.abort || (!s->ready && p.reading_done && p.folded >= p.total);
        pthread_mutex_unlock(&p.lock);
        if (finished)
            break;
        cs_error sink_err = {0};
        cs_status st = sink(ctx, &s->outcome, &sink_err);
        if (st != CS_OK) {
            fail_pool(&p, st, &sink_err);
            break;
        }
        pthread_mutex_lock(&p.lock);
        s->ready = false;
        p.folded++;
        pthread_cond_broadcast(&p.space);
        pthread_mutex_unlock(&p.lock);
    }
    for (int i = 0; i < started; i++)
        pthread_join(tids[i], NULL);

    cs_status result = p.failure;
    if (result != CS_OK && err)
        *err = p.failure_err;
    pthread_mutex_destroy(&p.src_lock);
    pthread_mutex_destroy(&p.lock);
    pthread_cond_destroy(&p.slot_ready);
    pthread_cond_destroy(&p.space);
    free(p.slots);
    free(tids);
    return result;
}
