/* signals.c - the generations that event streams, tus bodies and the
 * analysis threads wait on or re-check (signals.h). */
#include <time.h>

#include "server/core/signals.h"

void cs_signals_init(cs_signals *g)
{
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
    g->progress_gen = 0;
    atomic_init(&g->session_gen, 0);
    atomic_init(&g->device_revocations, 0);
    atomic_init(&g->stopping, false);
}

void cs_signals_destroy(cs_signals *g)
{
    pthread_cond_destroy(&g->cv);
    pthread_mutex_destroy(&g->mu);
}

static void wake(cs_signals *g, bool progress)
{
    pthread_mutex_lock(&g->mu);
    if (progress)
        g->progress_gen++;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

void cs_signals_progress(cs_signals *g) { wake(g, true); }

void cs_signals_sessions_changed(cs_signals *g)
{
    atomic_fetch_add(&g->session_gen, 1);
    wake(g, false);
}

void cs_signals_device_revoked(cs_signals *g) { atomic_fetch_add(&g->device_revocations, 1); }

void cs_signals_stop(cs_signals *g)
{
    atomic_store(&g->stopping, true);
    wake(g, false);
}

bool cs_signals_stopping(cs_signals *g) { return atomic_load(&g->stopping); }

uint64_t cs_signals_progress_gen(cs_signals *g)
{
    pthread_mutex_lock(&g->mu);
    uint64_t gen = g->progress_gen;
    pthread_mutex_unlock(&g->mu);
    return gen;
}

void cs_signals_wait(cs_signals *g, uint64_t seen_progress, uint64_t seen_session,
                     int64_t timeout_ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += (time_t)(timeout_ms / 1000);
    ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&g->mu);
    if (g->progress_gen == seen_progress && atomic_load(&g->session_gen) == seen_session &&
        !atomic_load(&g->stopping))
        pthread_cond_timedwait(&g->cv, &g->mu, &ts);
    pthread_mutex_unlock(&g->mu);
}
