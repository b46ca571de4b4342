/* http.h - one HTTP exchange over a libcurl easy handle, with the reply
 * headers tus needs picked out and the body kept up to a cap. libcurl
 * errors are translated here: a reply with code 0 means no HTTP answer
 * (network trouble, timeout, stop), with curl's reason in `error`.
 * Thread rule: a handle is used by one thread at a time. */
#ifndef CSU_HTTP_H
#define CSU_HTTP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>

#define CSU_REPLY_BODY_MAX 4096

typedef struct csu_reply {
    long code;       /* HTTP status; 0 when none came */
    char error[256]; /* why there was no answer, or "" */
    bool has_offset;
    uint64_t offset; /* Upload-Offset */
    bool has_length;
    uint64_t length;               /* Upload-Length */
    char location[512];            /* Location, as sent */
    char tus_extension[256];       /* Tus-Extension */
    char tus_checksum[128];        /* Tus-Checksum-Algorithm */
    char body[CSU_REPLY_BODY_MAX]; /* first bytes of the body, NUL-ended */
    size_t body_len;
} csu_reply;

typedef struct csu_http_opts {
    long connect_timeout_s;
    long low_speed_bytes, low_speed_time_s;
    const char *ca_file;    /* NULL: system CAs */
    uint64_t max_send_rate; /* bytes/s, 0: no cap */
    atomic_int *stop;       /* non-zero aborts a transfer; may be NULL */
} csu_http_opts;

/* Perform `method` on `url` with extra `headers` and `len` bytes of body
 * (body may be NULL when len is 0; for HEAD and OPTIONS none is sent).
 * Fills *r. Never fails otherwise: trouble is r->code == 0. */
void csu_http_do(CURL *curl, const csu_http_opts *o, const char *method, const char *url,
                 struct curl_slist *headers, const void *body, size_t len, csu_reply *r);

#endif
