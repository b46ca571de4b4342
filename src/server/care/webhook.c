/* webhook.c - signed alert deliveries over HTTP(S) with libcurl
 * (webhook.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>
#include <sodium.h>

#include "server/care/webhook.h"
#include "server/core/core.h"

cs_status cs_webhook_global_init(cs_error *err)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
        return cs_error_set(err, CS_ERR_UNSUPPORTED, "webhook: libcurl would not start");
    return CS_OK;
}

void cs_webhook_sign(const char *key, int64_t t_ms, const char *body, char *out, size_t cap)
{
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    char hex[2 * sizeof mac + 1], t[24];
    crypto_auth_hmacsha256_state st;
    snprintf(t, sizeof t, "%lld", (long long)t_ms);
    crypto_auth_hmacsha256_init(&st, (const unsigned char *)key, strlen(key));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)t, strlen(t));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)".", 1);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)body, strlen(body));
    crypto_auth_hmacsha256_final(&st, mac);
    sodium_bin2hex(hex, sizeof hex, mac, sizeof mac);
    snprintf(out, cap, "t=%s,v1=%s", t, hex);
}

/* The receiver's answer is not wanted: read and drop it. */
static size_t discard(char *p, size_t size, size_t n, void *user)
{
    (void)p;
    (void)user;
    return size * n;
}

cs_status cs_webhook_deliver(const char *url, const char *key, const cs_alert_rec *a, cs_error *err)
{
    json_t *o =
        json_pack("{s:I, s:s, s:s, s:s, s:I, s:s, s:i}", "id", (json_int_t)a->id, "study", a->study,
                  "kind", a->kind, "key", a->key, "raised_at_ms", (json_int_t)a->raised_at_ms,
                  "message", a->message, "attempt", a->attempts + 1);
    char *body = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    CURL *h = body ? curl_easy_init() : NULL;
    if (!h) {
        free(body);
        return cs_error_set(err, CS_ERR_NOMEM, "webhook: out of memory");
    }
    char sig[160], sig_h[200], id_h[64];
    cs_webhook_sign(key, cs_now_ms(), body, sig, sizeof sig);
    snprintf(sig_h, sizeof sig_h, "X-Capscreen-Signature: %s", sig);
    snprintf(id_h, sizeof id_h, "X-Capscreen-Alert-Id: %lld", (long long)a->id);
    struct curl_slist *hs = curl_slist_append(NULL, "Content-Type: application/json");
    hs = curl_slist_append(hs, sig_h);
    hs = curl_slist_append(hs, id_h);
    char curl_err[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hs);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, (long)CS_WEBHOOK_TIMEOUT_S);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, curl_err);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    CURLcode rc = curl_easy_perform(h);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(hs);
    curl_easy_cleanup(h);
    free(body);
    if (rc != CURLE_OK)
        return cs_error_set(err, CS_ERR_IO, "webhook: %s",
                            curl_err[0] ? curl_err : curl_easy_strerror(rc));
    if (status < 200 || status > 299)
        return cs_error_set(err, CS_ERR_IO, "webhook: the receiver answered %ld", status);
    return CS_OK;
}
