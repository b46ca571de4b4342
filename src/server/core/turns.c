/* turns.c - turns taken in order of asking (turns.h). */
#include "server/core/turns.h"

#include <errno.h>
#include <time.h>

#include "server/core/core.h"

/* A caller waiting for a turn, on its own stack while it waits. */
struct cs_turn_waiter {
    pthread_cond_t cv; /* its own: a turn given back wakes only its taker */
    bool granted;      /* the turn passed to it (held already counts it) */
    cs_turn_waiter *next;
};

static void unlink_waiter(cs_turns *t, cs_turn_waiter *w)
{
    cs_turn_waiter **p = &t->head, *prev = NULL;
    while (*p && *p != w) {
        prev = *p;
        p = &(*p)->next;
    }
    if (!*p)
        return;
    *p = w->next;
    if (t->tail == w)
        t->tail = prev;
    t->waiting--;
}

bool cs_turns_take(cs_turns *t, int wait_ms)
{
    pthread_mutex_lock(&t->mu);
    /* Free and nobody ahead: take it now. A turn is free only while nobody
     * waits (cs_turns_give hands it on), so this never passes a waiter. */
    if (t->held < t->limit && !t->head) {
        t->held++;
        pthread_mutex_unlock(&t->mu);
        return true;
    }
    if (wait_ms <= 0) {
        pthread_mutex_unlock(&t->mu);
        return false;
    }
    cs_turn_waiter w = {.granted = false, .next = NULL};
    pthread_condattr_t a;
    bool made = false;
    if (pthread_condattr_init(&a) == 0) {
        made = pthread_condattr_setclock(&a, CLOCK_MONOTONIC) == 0 &&
               pthread_cond_init(&w.cv, &a) == 0;
        pthread_condattr_destroy(&a);
    }
    if (!made) {
        pthread_mutex_unlock(&t->mu);
        return false;
    }
    if (t->tail)
        t->tail->next = &w;
    else
        t->head = &w;
    t->tail = &w;
    t->waiting++;
    struct timespec until = cs_deadline_ms(CLOCK_MONOTONIC, wait_ms);
    int rc = 0;
    while (!w.granted && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&w.cv, &t->mu, &until);
    /* Granted even if the deadline passed meanwhile: the turn is ours. */
    if (!w.granted)
        unlink_waiter(t, &w);
    pthread_mutex_unlock(&t->mu);
    pthread_cond_destroy(&w.cv);
    return w.granted;
}

void cs_turns_give(cs_turns *t)
{
    pthread_mutex_lock(&t->mu);
    cs_turn_waiter *w = t->head;
    if (w) { /* straight to the oldest waiter: held stays as it is */
        t->head = w->next;
        if (!t->head)
            t->tail = NULL;
        t->waiting--;
        w->granted = true;
        pthread_cond_signal(&w->cv);
    } else if (t->held > 0) {
        t->held--;
    }
    pthread_mutex_unlock(&t->mu);
}

int cs_turns_waiting(cs_turns *t)
{
    pthread_mutex_lock(&t->mu);
    int n = t->waiting;
    pthread_mutex_unlock(&t->mu);
    return n;
}

int cs_turns_held(cs_turns *t)
{
    pthread_mutex_lock(&t->mu);
    int n = t->held;
    pthread_mutex_unlock(&t->mu);
    return n;
}
