/* ingest.h - the live analysis layer: one analysis job per study that
 * reads its upload files as they grow and stores each frame's results.
 *
 * Threads: a pool of analysis threads shared by all studies; notify and
 * received may be called from any thread. Progress is signalled through
 * cs_signals (core/signals.h), which event streams wait on. */
#ifndef CS_SERVER_INGEST_H
#define CS_SERVER_INGEST_H

#include "server/core/core.h"

typedef struct cs_ingest cs_ingest;
typedef struct cs_upload_files cs_upload_files;

/* What the analysis works with; all must outlive it. */
typedef struct cs_ingest_deps {
    cs_store *store;        /* frames, offsets and counters are stored here */
    cs_engine *engine;      /* shared, read-only: each thread has its own worker */
    cs_upload_files *files; /* the upload files it reads */
    cs_metrics *metrics;    /* frames analysed, damaged or undecodable */
    cs_signals *signals;    /* progress is signalled here; stops when it says so */
    int threads;            /* analysis threads (at least 1) */
} cs_ingest_deps;

/* Start the pool. Errors: CS_ERR_NOMEM, the engine's. */
cs_status cs_ingest_new(const cs_ingest_deps *d, cs_ingest **out, cs_error *err) CS_WARN_UNUSED;
/* New bytes (or a closed upload) for `study`: start its analysis thread or
 * wake it. Never blocks on I/O. */
void cs_ingest_notify(cs_ingest *g, const char *study);
/* Frames the study's reader has handed out, or -1 when it is not running. */
int64_t cs_ingest_received(cs_ingest *g, const char *study);
/* Stop every analysis thread after it saved its place; frees. Call after
 * cs_signals_stop() so a thread mid-study stops at its next batch.
 * Accepts NULL. */
void cs_ingest_free(cs_ingest *g);

#endif
