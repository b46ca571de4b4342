/* ingest.h - the live analysis layer: one analysis job per study that
 * reads its upload files as they grow and stores each frame's results;
 * and the progress signal that event streams wait on.
 *
 * Threads: a pool of analysis threads shared by all studies; notify and
 * received may be called from any thread. */
#ifndef CS_SERVER_INGEST_H
#define CS_SERVER_INGEST_H

#include "server/core/core.h"

cs_status cs_ingest_new(cs_server *s, cs_ingest **out, cs_error *err) CS_WARN_UNUSED;
/* New bytes (or a closed upload) for `study`: start its analysis thread or
 * wake it. Never blocks on I/O. */
void cs_ingest_notify(cs_ingest *g, const char *study);
/* Frames the study's reader has handed out, or -1 when it is not running. */
int64_t cs_ingest_received(cs_ingest *g, const char *study);
/* Stop every analysis thread after it saved its place; frees. Accepts NULL. */
void cs_ingest_free(cs_ingest *g);
/* Wake event streams: progress may have changed. */
void cs_progress_bump(cs_server *s);

#endif
