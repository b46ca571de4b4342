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

enum MHD_Result cs_tus_handle(cs_server *s, struct MHD_Connection *c, cs_req *r, const char *method,
                              const char *data, size_t *size);
/* The request ended (completed, failed or cut off): close, fsync, persist,
 * unlock. */
void cs_tus_request_done(cs_server *s, cs_req *r, enum MHD_RequestTerminationCode toe);
void cs_tus_free(cs_tus_req *t);
/* At start: match each open upload's stored offset with its file. */
cs_status cs_tus_reconcile(cs_server *s, cs_error *err) CS_WARN_UNUSED;
/* Expire idle incomplete uploads. */
void cs_tus_sweep(cs_server *s);

#endif
