/* latency.h - request-duration histograms by route class, for /metrics
 * (Prometheus histogram capscreen_request_duration_seconds).
 *
 * The server measures its own latency where it happens: from the moment a
 * request's headers are in (libmicrohttpd's first call) to the moment its
 * response has been handed to the socket (the completed callback). A tus
 * PATCH's time therefore includes receiving its body. Event streams (SSE)
 * have their own class, since they last as long as the client listens.
 *
 * Threads: cs_latency_observe() is lock-free (atomics) and may be called
 * from any thread; printing reads the counters without stopping writers,
 * so a scrape may see one observation in `count` before its bucket (the
 * usual Prometheus client behaviour). No allocation, no errors. */
#ifndef CS_SERVER_CORE_LATENCY_H
#define CS_SERVER_CORE_LATENCY_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

typedef enum cs_latency_class {
    CS_LC_TUS_PATCH, /* PATCH /uploads/{id}: a hub's frames arriving */
    CS_LC_TUS_OTHER, /* the rest of tus: HEAD (resume), POST, DELETE, OPTIONS */
    CS_LC_FRAMES,    /* the viewer's frames and thumbnails */
    CS_LC_EVENTS,    /* server-sent event streams */
    CS_LC_API,       /* every other /api/v1 route */
    CS_LC_OTHER,     /* pages, /metrics, /healthz, unknown paths */
    CS_LC_COUNT
} cs_latency_class;

#define CS_LATENCY_BUCKETS 14 /* upper bounds in cs_latency.c, +Inf extra */

typedef struct cs_latency_hist {
    atomic_ullong bucket[CS_LATENCY_BUCKETS + 1]; /* not cumulative; last = over the top bound */
    atomic_ullong count;
    atomic_ullong sum_us;
} cs_latency_hist;

/* The class of a request from its method and path (already decoded). */
cs_latency_class cs_latency_class_of(const char *method, const char *url);
const char *cs_latency_class_name(cs_latency_class k);
/* Count one request of `us` microseconds (negative counts as 0). */
void cs_latency_observe(cs_latency_hist *h, int64_t us);
/* Append the histograms of every class, in the Prometheus text format, to
 * buf[*n..cap). Stops (keeping *n <= cap - 1) when buf is full. */
void cs_latency_print(const cs_latency_hist h[CS_LC_COUNT], char *buf, size_t cap, size_t *n);
/* Microseconds on a monotonic clock (for durations only). */
int64_t cs_mono_us(void);

#endif
