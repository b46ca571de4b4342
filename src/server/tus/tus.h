/* tus.h - the tus layer: resumable uploads (tus 1.0.0) into study files
 * (docs/api.md, "Uploads"). The router has authenticated the caller (a
 * device token or the admin token) before cs_tus_handle runs. Private to
 * this layer: tus_headers.h (header parsing), sha1.h.
 *
 * Threads: any connection thread; an upload is written by one request at
 * a time (upload locks, docs/server.md). */
#ifndef CS_SERVER_TUS_H
#define CS_SERVER_TUS_H

#include "server/transport/http.h"

#define CS_TUS_EXTENSIONS                                           \
    "creation,creation-defer-length,creation-with-upload,checksum," \
    "termination,expiration"

typedef struct cs_ingest cs_ingest;
typedef struct cs_upload_files cs_upload_files;

/* What the tus layer works with; filled by server.c, all outliving it. */
typedef struct cs_tus {
    const cs_server_config *cfg; /* max_upload_size, upload_expiry_s, lock_takeover_s */
    cs_store *store;             /* upload records */
    cs_upload_files *files;      /* the upload files and their locks */
    cs_ingest *ingest;           /* told of new bytes */
    cs_metrics *metrics;
    cs_signals *signals; /* progress; device revocations end bodies in flight */
} cs_tus;

enum MHD_Result cs_tus_handle(const cs_tus *s, struct MHD_Connection *c, cs_req *r,
                              const char *method, const char *data, size_t *size);
/* The request ended (completed, failed or cut off): close, fsync, persist,
 * unlock. */
void cs_tus_request_done(const cs_tus *s, cs_req *r, enum MHD_RequestTerminationCode toe);
void cs_tus_free(cs_tus_req *t);
/* Expire idle incomplete uploads. */
void cs_tus_sweep(const cs_tus *s);

#endif
