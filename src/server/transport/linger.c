/* linger.c - lingering close (linger.h): one thread drains the sockets of
 * connections answered before their body was read, then closes them. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "server/core/latency.h"
#include "server/transport/linger.h"

typedef struct held {
    int fd;
    int64_t idle_until_ms;  /* closed when no byte came by then */
    int64_t total_until_ms; /* closed by then whatever comes */
} held;

struct cs_linger {
    int capacity, idle_ms, total_ms;
    int wake[2]; /* a byte on wake[1] wakes the thread (new sockets, stop) */
    pthread_t thread;
    bool started;       /* the thread runs (and mu is initialised) */
    pthread_mutex_t mu; /* guards pending, npending, stopping */
    int *pending;       /* added, not yet taken by the thread */
    int npending;
    bool stopping;
    held *held; /* the thread's own */
    int nheld;
    struct pollfd *fds; /* the thread's own: wake[0], then held */
    atomic_int count;   /* pending + held */
    atomic_ulong total, refused;
    char scratch[64 * 1024]; /* what the clients send, thrown away */
};

static int64_t now_ms(void) { return cs_mono_us() / 1000; }

/* Read what is there; false when the socket is done (end of file, an
 * error). A few reads a turn, so one fast sender cannot starve the rest. */
static bool drain(cs_linger *l, held *h, int64_t now)
{
    for (int i = 0; i < 16; i++) {
        ssize_t n = read(h->fd, l->scratch, sizeof l->scratch);
        if (n > 0) {
            h->idle_until_ms = now + l->idle_ms;
            continue;
        }
        if (n == 0)
            return false;
        return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
    }
    return true;
}

/* Move the added sockets to the thread's own list; true when stopping. */
static bool take_pending(cs_linger *l, int64_t now)
{
    pthread_mutex_lock(&l->mu);
    bool stop = l->stopping;
    for (int i = 0; i < l->npending; i++)
        l->held[l->nheld++] = (held){.fd = l->pending[i],
                                     .idle_until_ms = now + l->idle_ms,
                                     .total_until_ms = now + l->total_ms};
    l->npending = 0;
    pthread_mutex_unlock(&l->mu);
    return stop;
}

static void *run(void *arg)
{
    cs_linger *l = arg;
    for (;;) {
        if (take_pending(l, now_ms()))
            return NULL;
        int64_t now = now_ms(), soonest = INT64_MAX;
        l->fds[0] = (struct pollfd){.fd = l->wake[0], .events = POLLIN};
        for (int i = 0; i < l->nheld; i++) {
            l->fds[i + 1] = (struct pollfd){.fd = l->held[i].fd, .events = POLLIN};
            int64_t until = l->held[i].idle_until_ms < l->held[i].total_until_ms
                                ? l->held[i].idle_until_ms
                                : l->held[i].total_until_ms;
            if (until < soonest)
                soonest = until;
        }
        int timeout = soonest == INT64_MAX ? -1 : soonest <= now ? 0 : (int)(soonest - now);
        if (poll(l->fds, (nfds_t)l->nheld + 1, timeout) < 0 && errno != EINTR)
            continue; /* EFAULT/EINVAL cannot happen; ENOMEM: try again */
        if (l->fds[0].revents & POLLIN) {
            char b[64];
            while (read(l->wake[0], b, sizeof b) > 0) {
            }
        }
        now = now_ms();
        int kept = 0;
        for (int i = 0; i < l->nheld; i++) {
            held h = l->held[i];
            bool open = true;
            if (l->fds[i + 1].revents)
                open = drain(l, &h, now);
            if (open && (now >= h.idle_until_ms || now >= h.total_until_ms))
                open = false;
            if (open) {
                l->held[kept++] = h;
            } else {
                close(h.fd);
                atomic_fetch_sub(&l->count, 1);
            }
        }
        l->nheld = kept;
    }
}

static bool nonblocking_cloexec(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    return fl >= 0 && fcntl(fd, F_SETFL, fl | O_NONBLOCK) == 0 &&
           fcntl(fd, F_SETFD, FD_CLOEXEC) == 0;
}

cs_status cs_linger_start(int capacity, int idle_ms, int total_ms, cs_linger **out, cs_error *err)
{
    *out = NULL;
    if (capacity < 1 || idle_ms < 1 || total_ms < 1)
        return cs_error_set(err, CS_ERR_ARG, "linger: capacity and times must be positive");
    cs_linger *l = calloc(1, sizeof *l);
    if (!l)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory starting the lingering close");
    l->capacity = capacity;
    l->idle_ms = idle_ms;
    l->total_ms = total_ms;
    l->wake[0] = l->wake[1] = -1;
    l->pending = calloc((size_t)capacity, sizeof *l->pending);
    l->held = calloc((size_t)capacity, sizeof *l->held);
    l->fds = calloc((size_t)capacity + 1, sizeof *l->fds);
    if (!l->pending || !l->held || !l->fds) {
        cs_linger_stop(l);
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory starting the lingering close");
    }
    if (pipe(l->wake) != 0 || !nonblocking_cloexec(l->wake[0]) ||
        !nonblocking_cloexec(l->wake[1])) {
        int e = errno;
        cs_linger_stop(l);
        return cs_error_set(err, CS_ERR_IO, "linger: cannot make a pipe: %s", strerror(e));
    }
    pthread_mutex_init(&l->mu, NULL);
    int e = pthread_create(&l->thread, NULL, run, l);
    l->started = e == 0;
    if (e != 0) {
        pthread_mutex_destroy(&l->mu);
        cs_linger_stop(l);
        return cs_error_set(err, CS_ERR_IO, "linger: cannot start a thread: %s", strerror(e));
    }
    *out = l;
    return CS_OK;
}

static void wake(cs_linger *l)
{
    ssize_t n = write(l->wake[1], "x", 1);
    (void)n; /* a full pipe already wakes the thread */
}

void cs_linger_stop(cs_linger *l)
{
    if (!l)
        return;
    if (l->started) { /* end the thread first; then the sockets are ours */
        pthread_mutex_lock(&l->mu);
        l->stopping = true;
        pthread_mutex_unlock(&l->mu);
        wake(l);
        pthread_join(l->thread, NULL);
        pthread_mutex_destroy(&l->mu);
        for (int i = 0; i < l->nheld; i++)
            close(l->held[i].fd);
        for (int i = 0; i < l->npending; i++)
            close(l->pending[i]);
    }
    for (int i = 0; i < 2; i++) /* -1 where the pipe was never made */
        if (l->wake[i] >= 0)
            close(l->wake[i]);
    free(l->pending);
    free(l->held);
    free(l->fds);
    free(l);
}

bool cs_linger_add(cs_linger *l, int fd)
{
    if (!l || fd < 0)
        return false;
    int d = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (d < 0) {
        atomic_fetch_add(&l->refused, 1);
        return false;
    }
    /* The answer is out; say so (FIN), and never block on the reads. */
    shutdown(d, SHUT_WR);
    int flags = fcntl(d, F_GETFL);
    if (flags >= 0)
        fcntl(d, F_SETFL, flags | O_NONBLOCK);
    pthread_mutex_lock(&l->mu);
    bool taken = !l->stopping && atomic_load(&l->count) < l->capacity;
    if (taken) {
        l->pending[l->npending++] = d;
        atomic_fetch_add(&l->count, 1);
    }
    pthread_mutex_unlock(&l->mu);
    if (!taken) {
        close(d);
        atomic_fetch_add(&l->refused, 1);
        return false;
    }
    atomic_fetch_add(&l->total, 1);
    wake(l);
    return true;
}

int cs_linger_count(cs_linger *l) { return l ? atomic_load(&l->count) : 0; }

unsigned long cs_linger_total(cs_linger *l) { return l ? atomic_load(&l->total) : 0; }

unsigned long cs_linger_refused(cs_linger *l) { return l ? atomic_load(&l->refused) : 0; }
