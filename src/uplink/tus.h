/* tus.h - the tus 1.0 requests the uplink makes (core, creation,
 * creation-defer-length, checksum): OPTIONS, POST (create), HEAD, PATCH.
 * Each returns the raw reply; deciding what a status means is the caller's
 * job (uplink.c). Owns its curl easy handle (connections are reused).
 * Thread rule: one thread at a time. */
#ifndef CSU_TUS_H
#define CSU_TUS_H

#include <stdbool.h>
#include <stdint.h>

#include "capscreen/status.h"
#include "uplink/http.h"

typedef struct csu_tus {
    CURL *curl;
    csu_http_opts http;
    char uploads_url[512]; /* server + "/uploads/" */
    char auth[1100];       /* "Authorization: Bearer ..." */
    char metadata[1100];   /* "Upload-Metadata: ..." */
    bool checksum;         /* send Upload-Checksum: sha256 */
} csu_tus;

/* Set up for server_url, token, study and device (all copied).
 * Errors: CS_ERR_ARG (values too long), CS_ERR_NOMEM (curl handle). */
cs_status csu_tus_init(csu_tus *t, const char *server_url, const char *token, const char *study,
                       const char *device, const csu_http_opts *http, cs_error *err) CS_WARN_UNUSED;
void csu_tus_cleanup(csu_tus *t);

void csu_tus_options(csu_tus *t, csu_reply *r);
/* POST /uploads/ with Upload-Defer-Length: 1. r->location is made absolute. */
void csu_tus_create(csu_tus *t, csu_reply *r);
void csu_tus_head(csu_tus *t, const char *url, csu_reply *r);
/* DELETE (tus termination) of an upload being abandoned. */
void csu_tus_delete(csu_tus *t, const char *url, csu_reply *r);
/* PATCH `len` bytes at `offset`; with `final`, also Upload-Length:
 * offset + len, which closes a deferred-length upload. With checksums on,
 * `sha256` (may be NULL: computed here) is the body's digest, worked out
 * beforehand by the caller. */
void csu_tus_patch(csu_tus *t, const char *url, uint64_t offset, const uint8_t *data, size_t len,
                   bool final, const uint8_t *sha256, csu_reply *r);

#endif
