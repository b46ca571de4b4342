/* relay.c - the signals between servers on one PostgreSQL store (relay.h). */
#include "server/core/relay.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/core/signals.h"

#define RELAY_CHANNEL "capscreen"
#define RELAY_TICK_MS 100

struct cs_relay {
    cs_store *store;
    cs_signals *signals;
    cs_store_listener *listener;
    char me[24]; /* this server's instance: random hex */
    pthread_t thread;
    atomic_bool stop;
    /* the relay thread's own: moves another server announced, to make here */
    bool move_p, move_s, move_d;
};

/* One notification: the letters of another server's payload (NULL: the
 * listener reconnected, so anything may have moved). */
static void on_payload(const char *payload, void *arg)
{
    cs_relay *r = arg;
    if (!payload) {
        r->move_p = r->move_s = r->move_d = true;
        return;
    }
    const char *colon = strchr(payload, ':');
    if (!colon ||
        ((size_t)(colon - payload) == strlen(r->me) && strncmp(payload, r->me, strlen(r->me)) == 0))
        return; /* not ours to read, or our own */
    r->move_p |= strchr(colon, 'p') != NULL;
    r->move_s |= strchr(colon, 's') != NULL;
    r->move_d |= strchr(colon, 'd') != NULL;
}

static void *relay_main(void *arg)
{
    cs_relay *r = arg;
    cs_signals *g = r->signals;
    uint64_t seen_p = cs_signals_progress_gen(g);
    unsigned long long seen_s = atomic_load(&g->session_gen);
    unsigned long long seen_d = atomic_load(&g->device_revocations);
    unsigned own_p = 0, own_s = 0, own_d = 0; /* moves this thread made since */
    bool failing = false;                     /* a failure is logged once, not every tick */
    while (!atomic_load(&r->stop) && !cs_signals_stopping(g)) {
        cs_error e = {0};
        bool ok = cs_store_listener_wait(r->listener, RELAY_TICK_MS, on_payload, r, &e) == CS_OK;
        if (!ok && !failing)
            fprintf(stderr, "capscreen: relay between servers: %s\n", e.msg);
        if (ok && failing)
            fprintf(stderr, "capscreen: relay between servers: listening again\n");
        failing = !ok;
        if (r->move_p) {
            own_p++;
            cs_signals_progress(g);
        }
        if (r->move_s) {
            own_s++;
            cs_signals_sessions_changed(g);
        }
        if (r->move_d) {
            own_d++;
            cs_signals_device_revoked(g);
        }
        r->move_p = r->move_s = r->move_d = false;
        /* What moved beyond our own moves moved here: announce it. */
        uint64_t p = cs_signals_progress_gen(g);
        unsigned long long s = atomic_load(&g->session_gen),
                           d = atomic_load(&g->device_revocations);
        char letters[4] = "";
        size_t k = 0;
        if (p - seen_p > own_p)
            letters[k++] = 'p';
        if (s - seen_s > own_s)
            letters[k++] = 's';
        if (d - seen_d > own_d)
            letters[k++] = 'd';
        letters[k] = '\0';
        seen_p = p;
        seen_s = s;
        seen_d = d;
        own_p = own_s = own_d = 0;
        if (k > 0) {
            char payload[40];
            snprintf(payload, sizeof payload, "%s:%s", r->me, letters);
            if (cs_store_notify(r->store, RELAY_CHANNEL, payload, &e) != CS_OK)
                fprintf(stderr, "capscreen: relay between servers: %s\n", e.msg);
        }
    }
    return NULL;
}

cs_status cs_relay_start(cs_store *store, cs_signals *signals, cs_relay **out, cs_error *err)
{
    *out = NULL;
    if (!cs_store_shared(store))
        return CS_OK;
    cs_relay *r = calloc(1, sizeof *r);
    if (!r)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory starting the relay");
    r->store = store;
    r->signals = signals;
    unsigned char id[8];
    randombytes_buf(id, sizeof id);
    sodium_bin2hex(r->me, sizeof r->me, id, sizeof id);
    cs_status st = cs_store_listen(store, RELAY_CHANNEL, &r->listener, err);
    if (st == CS_OK && pthread_create(&r->thread, NULL, relay_main, r) != 0)
        st = cs_error_set(err, CS_ERR_NOMEM, "cannot start the relay thread");
    if (st != CS_OK) {
        cs_store_listener_close(r->listener);
        free(r);
        return st;
    }
    *out = r;
    return CS_OK;
}

void cs_relay_stop(cs_relay *r)
{
    if (!r)
        return;
    atomic_store(&r->stop, true);
    pthread_join(r->thread, NULL);
    cs_store_listener_close(r->listener);
    free(r);
}
