/* pipeline.c - the worker pool and in-order reorder window. */
#include "capscreen/pipeline.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Outcomes a worker may run ahead of the sink, per thread. */
#define WINDOW_PER_THREAD 16

void cs_analyze_item(cs_worker *w, const cs_item *item, uint64_t seq, cs_outcome *o)
{
    cs_error err = {0};
    cs_image decoded = {0};
    const cs_image *img = NULL;

    memset(o, 0, sizeof *o);
    o->seq = seq;
    memcpy(o->name, item->name, sizeof o->name);
    o->frame_index = item->frame_index;
    o->capture_time_us = item->capture_time_us;
    switch (item->kind) {
    case CS_ITEM_BROKEN:
        o->status = item->status ? item->status : CS_ERR_CORRUPT;
        memcpy(o->reason, item->reason, sizeof o->reason);
        return;
    case CS_ITEM_ENCODED:
        if (cs_decode_frame(item->data, item->len, &decoded, &err) != CS_OK) {
            o->status = err.code;
            snprintf(o->reason, sizeof o->reason, "%s", err.msg);
            return;
        }
        img = &decoded;
        break;
    case CS_ITEM_IMAGE:
        img = &item->image;
        break;
    }
    o->width = img->src_width;
    o->height = img->src_height;
    if (cs_worker_analyze(w, img, &o->result, &err) != CS_OK) {
        o->status = err.code;
        snprintf(o->reason, sizeof o->reason, "%s", err.msg);
    } else {
        o->ok = true;
        o->status = CS_OK;
    }
    cs_image_free(&decoded);
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

    pthread_mutex_t src_lock;  /* guards src, next_seq */
    uint64_t next_seq;

    pthread_mutex_t lock;      /* guards everything below */
    pthread_cond_t slot_ready; /* a slot filled, or reading ended */
    pthread_cond_t space;      /* the sink freed a slot, or abort */
    uint64_t folded;           /* outcomes passed to the sink */
    bool reading_done;
    uint64_t total;            /* valid once reading_done */
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
    cs_item item;

    if (cs_worker_new(p->eng, &w, &err) != CS_OK) {
        fail_pool(p, err.code, &err);
        return NULL;
    }
    for (;;) {
        pthread_mutex_lock(&p->src_lock);
        /* Back-pressure: never read further ahead than the window. */
        pthread_mutex_lock(&p->lock);
        while (!p->abort && p->next_seq >= p->folded + p->window)
            pthread_cond_wait(&p->space, &p->lock);
        bool stop = p->abort || p->reading_done;
        pthread_mutex_unlock(&p->lock);
        if (stop) {
            pthread_mutex_unlock(&p->src_lock);
            break;
        }
        cs_status st = cs_source_next(p->src, &item, &err);
        uint64_t seq = p->next_seq;
        if (st == CS_OK)
            p->next_seq++;
        pthread_mutex_unlock(&p->src_lock);

        if (st == CS_END) {
            pthread_mutex_lock(&p->lock);
            p->reading_done = true;
            p->total = seq;
            pthread_cond_broadcast(&p->slot_ready);
            pthread_mutex_unlock(&p->lock);
            break;
        }
        if (st != CS_OK) {
            fail_pool(p, st, &err);
            break;
        }
        slot *s = &p->slots[seq % p->window];
        cs_analyze_item(w, &item, seq, &s->outcome);
        cs_item_clear(&item);
        pthread_mutex_lock(&p->lock);
        s->ready = true;
        pthread_cond_broadcast(&p->slot_ready);
        pthread_mutex_unlock(&p->lock);
    }
    cs_worker_free(w);
    return NULL;
}

static cs_status run_inline(cs_source *src, const cs_engine *eng, cs_outcome_sink sink,
                            void *ctx, cs_error *err)
{
    cs_worker *w = NULL;
    cs_item item;
    cs_outcome *o = malloc(sizeof *o);
    cs_status st = o ? cs_worker_new(eng, &w, err)
                     : cs_error_set(err, CS_ERR_NOMEM, "out of memory starting analysis");
    for (uint64_t seq = 0; st == CS_OK; seq++) {
        st = cs_source_next(src, &item, err);
        if (st != CS_OK)
            break;
        cs_analyze_item(w, &item, seq, o);
        cs_item_clear(&item);
        st = sink(ctx, o, err);
    }
    cs_worker_free(w);
    free(o);
    return st == CS_END ? CS_OK : st;
}

cs_status cs_pipeline_run(cs_source *src, const cs_engine *eng, int threads,
                          cs_outcome_sink sink, void *ctx, cs_error *err)
{
    if (threads < 1 || threads > 256)
        return cs_error_set(err, CS_ERR_ARG, "thread count %d out of range 1..256", threads);
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
