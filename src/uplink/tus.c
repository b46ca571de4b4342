/* tus.c - tus 1.0 client requests over http.c. */
#include "uplink/tus.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "uplink/base64.h"
#include "uplink/sha256.h"

cs_status csu_tus_init(csu_tus *t, const char *server_url, const char *token, const char *study,
                       const char *device, const csu_http_opts *http, cs_error *err)
{
    char b_study[400], b_device[400];
    size_t sl = strlen(server_url);
    memset(t, 0, sizeof *t);
    t->http = *http;
    while (sl > 0 && server_url[sl - 1] == '/')
        sl--;
    if (snprintf(t->uploads_url, sizeof t->uploads_url, "%.*s/uploads/", (int)sl, server_url) >=
            (int)sizeof t->uploads_url ||
        snprintf(t->auth, sizeof t->auth, "Authorization: Bearer %s", token) >=
            (int)sizeof t->auth ||
        !csu_base64(study, strlen(study), b_study, sizeof b_study) ||
        !csu_base64(device, strlen(device), b_device, sizeof b_device))
        return cs_error_set(err, CS_ERR_ARG,
                            "server URL, token, study or "
                            "device id too long");
    snprintf(t->metadata, sizeof t->metadata, "Upload-Metadata: study %s,device %s,filetype %s",
             b_study, b_device, "YXBwbGljYXRpb24vdm5kLmNhcHNjcmVlbi5jc2Zz");
    t->curl = curl_easy_init();
    if (!t->curl)
        return cs_error_set(err, CS_ERR_NOMEM, "curl_easy_init failed");
    return CS_OK;
}

void csu_tus_cleanup(csu_tus *t)
{
    if (t && t->curl)
        curl_easy_cleanup(t->curl);
    if (t)
        t->curl = NULL;
}

/* Common headers; NULL (and an error reply) when out of memory. */
static struct curl_slist *base_headers(csu_tus *t, csu_reply *r, const char *content_type)
{
    struct curl_slist *h = NULL, *n;
    const char *lines[] = {"Tus-Resumable: 1.0.0", t->auth, "Expect:", content_type};
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        n = curl_slist_append(h, lines[i]);
        if (!n) {
            curl_slist_free_all(h);
            memset(r, 0, sizeof *r);
            snprintf(r->error, sizeof r->error, "out of memory");
            return NULL;
        }
        h = n;
    }
    return h;
}

static struct curl_slist *add(struct curl_slist *h, const char *line, bool *ok)
{
    struct curl_slist *n = *ok ? curl_slist_append(h, line) : NULL;
    if (!n) {
        *ok = false;
        return h;
    }
    return n;
}

void csu_tus_options(csu_tus *t, csu_reply *r)
{
    struct curl_slist *h = base_headers(t, r, "Content-Type:");
    if (!h)
        return;
    csu_http_do(t->curl, &t->http, "OPTIONS", t->uploads_url, h, NULL, 0, r);
    curl_slist_free_all(h);
}

/* Make r->location absolute against the uploads URL. */
static void resolve_location(csu_tus *t, csu_reply *r)
{
    CURLU *u = curl_url();
    char *abs = NULL;
    if (u && curl_url_set(u, CURLUPART_URL, t->uploads_url, 0) == CURLUE_OK &&
        curl_url_set(u, CURLUPART_URL, r->location, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_URL, &abs, 0) == CURLUE_OK && strlen(abs) < sizeof r->location)
        snprintf(r->location, sizeof r->location, "%s", abs);
    else
        r->location[0] = '\0';
    curl_free(abs);
    curl_url_cleanup(u);
}

void csu_tus_create(csu_tus *t, csu_reply *r)
{
    bool ok = true;
    struct curl_slist *h = base_headers(t, r, "Content-Type:");
    if (!h)
        return;
    h = add(h, "Upload-Defer-Length: 1", &ok);
    h = add(h, t->metadata, &ok);
    if (!ok) {
        memset(r, 0, sizeof *r);
        snprintf(r->error, sizeof r->error, "out of memory");
    } else {
        csu_http_do(t->curl, &t->http, "POST", t->uploads_url, h, NULL, 0, r);
        if (r->code == 201 && r->location[0])
            resolve_location(t, r);
    }
    curl_slist_free_all(h);
}

void csu_tus_head(csu_tus *t, const char *url, csu_reply *r)
{
    struct curl_slist *h = base_headers(t, r, "Content-Type:");
    if (!h)
        return;
    csu_http_do(t->curl, &t->http, "HEAD", url, h, NULL, 0, r);
    curl_slist_free_all(h);
}

void csu_tus_delete(csu_tus *t, const char *url, csu_reply *r)
{
    struct curl_slist *h = base_headers(t, r, "Content-Type:");
    if (!h)
        return;
    csu_http_do(t->curl, &t->http, "DELETE", url, h, NULL, 0, r);
    curl_slist_free_all(h);
}

void csu_tus_patch(csu_tus *t, const char *url, uint64_t offset, const uint8_t *data, size_t len,
                   bool final, const uint8_t *sha256, csu_reply *r)
{
    char off[64], length[64], sum[80], b64[48];
    uint8_t digest[32];
    bool ok = true;
    struct curl_slist *h = base_headers(t, r, "Content-Type: application/offset+octet-stream");
    if (!h)
        return;
    snprintf(off, sizeof off, "Upload-Offset: %" PRIu64, offset);
    snprintf(length, sizeof length, "Upload-Length: %" PRIu64, offset + (uint64_t)len);
    h = add(h, off, &ok);
    if (final)
        h = add(h, length, &ok);
    if (t->checksum) {
        if (sha256)
            memcpy(digest, sha256, sizeof digest);
        else
            csu_sha256(data, len, digest);
        csu_base64(digest, sizeof digest, b64, sizeof b64);
        snprintf(sum, sizeof sum, "Upload-Checksum: sha256 %s", b64);
        h = add(h, sum, &ok);
    }
    if (!ok) {
        memset(r, 0, sizeof *r);
        snprintf(r->error, sizeof r->error, "out of memory");
    } else {
        csu_http_do(t->curl, &t->http, "PATCH", url, h, data, len, r);
    }
    curl_slist_free_all(h);
}
