/* latency.c - request-duration histograms (latency.h). */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "capscreen/status.h"
#include "server/core/latency.h"

/* Upper bounds in seconds: from a cached frame (well under a millisecond)
 * to a slow PATCH over a mobile link (seconds). */
static const double BOUNDS_S[CS_LATENCY_BUCKETS] = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1.0, 2.5, 5.0, 10.0,
};

static const char *const CLASS_NAMES[CS_LC_COUNT] = {
    "tus_patch", "tus_other", "frames", "events", "api", "other",
};

const char *cs_latency_class_name(cs_latency_class k)
{
    return k < CS_LC_COUNT ? CLASS_NAMES[k] : "other";
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

cs_latency_class cs_latency_class_of(const char *method, const char *url)
{
    if (strncmp(url, "/uploads", 8) == 0 && (url[8] == '\0' || url[8] == '/'))
        return strcmp(method, "PATCH") == 0 ? CS_LC_TUS_PATCH : CS_LC_TUS_OTHER;
    if (strncmp(url, "/api/", 5) != 0)
        return CS_LC_OTHER;
    if (ends_with(url, "/events"))
        return CS_LC_EVENTS;
    /* /api/v1/studies/{id}/frames, /frames/{n}.jpg, /thumbs/{n}.jpg */
    if (strncmp(url, "/api/v1/studies/", 16) == 0 &&
        (strstr(url, "/frames") || strstr(url, "/thumbs")))
        return CS_LC_FRAMES;
    return CS_LC_API;
}

void cs_latency_observe(cs_latency_hist *h, int64_t us)
{
    if (us < 0)
        us = 0;
    double s = (double)us / 1e6;
    size_t b = 0;
    while (b < CS_LATENCY_BUCKETS && s > BOUNDS_S[b])
        b++;
    atomic_fetch_add(&h->bucket[b], 1);
    atomic_fetch_add(&h->sum_us, (unsigned long long)us);
    atomic_fetch_add(&h->count, 1);
}

static void put(char *buf, size_t cap, size_t *n, const char *fmt, ...) CS_PRINTF(4, 5);
static void put(char *buf, size_t cap, size_t *n, const char *fmt, ...)
{
    if (*n + 1 >= cap)
        return;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(buf + *n, cap - *n, fmt, ap);
    va_end(ap);
    if (k < 0)
        return;
    *n = *n + (size_t)k >= cap ? cap - 1 : *n + (size_t)k;
}

void cs_latency_print(const cs_latency_hist h[CS_LC_COUNT], char *buf, size_t cap, size_t *n)
{
    put(buf, cap, n,
        "# HELP capscreen_request_duration_seconds Time from a request's headers to its "
        "response sent, by route class.\n"
        "# TYPE capscreen_request_duration_seconds histogram\n");
    for (int k = 0; k < CS_LC_COUNT; k++) {
        const char *name = CLASS_NAMES[k];
        unsigned long long cum = 0;
        for (int b = 0; b < CS_LATENCY_BUCKETS; b++) {
            cum += atomic_load(&h[k].bucket[b]);
            put(buf, cap, n,
                "capscreen_request_duration_seconds_bucket{class=\"%s\",le=\"%g\"} %llu\n", name,
                BOUNDS_S[b], cum);
        }
        cum += atomic_load(&h[k].bucket[CS_LATENCY_BUCKETS]);
        put(buf, cap, n,
            "capscreen_request_duration_seconds_bucket{class=\"%s\",le=\"+Inf\"} %llu\n", name,
            cum);
        put(buf, cap, n, "capscreen_request_duration_seconds_sum{class=\"%s\"} %.6f\n", name,
            (double)atomic_load(&h[k].sum_us) / 1e6);
        /* count = the +Inf bucket, as Prometheus requires, even while writers run */
        put(buf, cap, n, "capscreen_request_duration_seconds_count{class=\"%s\"} %llu\n", name,
            cum);
    }
}

int64_t cs_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}
