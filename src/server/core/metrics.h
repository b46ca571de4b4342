/* metrics.h - the server's counters for /metrics: requests, connections,
 * bytes, analysed frames, errors by kind, and the request-duration
 * histograms (latency.h). One cs_metrics per server; every layer that
 * answers requests or does work on them gets a pointer to it and nothing
 * more of the server.
 *
 * Threads: every field is an atomic; any thread may count. Reading for
 * /metrics does not stop writers. No allocation, no errors. */
#ifndef CS_SERVER_CORE_METRICS_H
#define CS_SERVER_CORE_METRICS_H

#include <stdatomic.h>

#include "server/core/latency.h"

/* Kinds of errors counted in capscreen_errors_total{kind=...}. */
typedef enum cs_err_kind {
    CS_EK_BAD_REQUEST,
    CS_EK_UNAUTHORISED,
    CS_EK_FORBIDDEN,
    CS_EK_NOT_FOUND,
    CS_EK_GONE,
    CS_EK_CONFLICT,
    CS_EK_CHECKSUM,
    CS_EK_TOO_LARGE,
    CS_EK_MEDIA_TYPE,
    CS_EK_VERSION,
    CS_EK_INTERNAL,
    CS_EK_CUT_OFF,
    CS_EK_FRAME_DAMAGED,
    CS_EK_FRAME_UNDECODABLE,
    CS_EK_COUNT
} cs_err_kind;
const char *cs_err_kind_name(cs_err_kind k);

typedef struct cs_metrics {
    atomic_int requests_active;
    atomic_long uploads_active; /* PATCH/POST bodies being received */
    atomic_ullong bytes_received;
    atomic_ullong frames_analysed;
    atomic_ullong connections_opened;   /* connections accepted */
    atomic_ullong connections_lingered; /* drained after an early answer (linger.h) */
    atomic_ullong requests_total;       /* requests begun */
    atomic_ullong errors[CS_EK_COUNT];
    cs_latency_hist latency[CS_LC_COUNT]; /* request durations */
    float polyp_threshold; /* the live polyp operating point; set before serving, then read-only */
} cs_metrics;

/* Count one error of kind k in capscreen_errors_total. */
void cs_metrics_error(cs_metrics *m, cs_err_kind k);

#endif
