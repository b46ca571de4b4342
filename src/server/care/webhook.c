/* webhook.c - signed alert deliveries over HTTP(S) with libcurl's multi
 * interface, a batch at once (webhook.h). */
#include <stdbool.h>
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

/* One alert's POST in flight: its body and headers live as long as the
 * handle that sends them. */
typedef struct delivery {
    cs_alert_rec alert;
    CURL *h;
    char *body;
    struct curl_slist *headers;
    char curl_err[CURL_ERROR_SIZE];
    CURLcode rc;
} delivery;

struct cs_webhook {
    char *url, *key;
    CURLM *multi;
    delivery *slot[CS_WEBHOOK_IN_FLIGHT_MAX]; /* NULL: free */
    size_t in_flight;
};

static void delivery_free(delivery *d)
{
    if (!d)
        return;
    if (d->h)
        curl_easy_cleanup(d->h);
    curl_slist_free_all(d->headers);
    free(d->body);
    sodium_memzero(d, sizeof *d); /* the alert's text */
    free(d);
}

/* The signed request for alert `a`, ready to add to a multi handle. On
 * an error *d holds what was made, for delivery_free. */
static cs_status prepare(delivery *d, const char *url, const char *key, const cs_alert_rec *a,
                         cs_error *err)
{
    json_t *o =
        json_pack("{s:I, s:s, s:s, s:s, s:I, s:s, s:i}", "id", (json_int_t)a->id, "study", a->study,
                  "kind", a->kind, "key", a->key, "raised_at_ms", (json_int_t)a->raised_at_ms,
                  "message", a->message, "attempt", a->attempts + 1);
    d->body = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!d->body || !(d->h = curl_easy_init()))
        return cs_error_set(err, CS_ERR_NOMEM, "webhook: out of memory");
    char sig[160], sig_h[200], id_h[64];
    cs_webhook_sign(key, cs_now_ms(), d->body, sig, sizeof sig);
    snprintf(sig_h, sizeof sig_h, "X-Capscreen-Signature: %s", sig);
    snprintf(id_h, sizeof id_h, "X-Capscreen-Alert-Id: %lld", (long long)a->id);
    const char *lines[] = {"Content-Type: application/json", sig_h, id_h};
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        struct curl_slist *l = curl_slist_append(d->headers, lines[i]);
        if (!l)
            return cs_error_set(err, CS_ERR_NOMEM, "webhook: out of memory");
        d->headers = l;
    }
    curl_easy_setopt(d->h, CURLOPT_URL, url);
    curl_easy_setopt(d->h, CURLOPT_POSTFIELDS, d->body);
    curl_easy_setopt(d->h, CURLOPT_HTTPHEADER, d->headers);
    curl_easy_setopt(d->h, CURLOPT_TIMEOUT, (long)CS_WEBHOOK_TIMEOUT_S);
    curl_easy_setopt(d->h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(d->h, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(d->h, CURLOPT_ERRORBUFFER, d->curl_err);
    curl_easy_setopt(d->h, CURLOPT_PROTOCOLS_STR, "http,https");
    return CS_OK;
}

/* How a finished transfer went: a 2xx answer, or the reason. */
static cs_status outcome(delivery *d, cs_error *err)
{
    if (d->rc != CURLE_OK)
        return cs_error_set(err, CS_ERR_IO, "webhook: %s",
                            d->curl_err[0] ? d->curl_err : curl_easy_strerror(d->rc));
    long status = 0;
    curl_easy_getinfo(d->h, CURLINFO_RESPONSE_CODE, &status);
    if (status < 200 || status > 299)
        return cs_error_set(err, CS_ERR_IO, "webhook: the receiver answered %ld", status);
    return CS_OK;
}

cs_status cs_webhook_new(const char *url, const char *key, cs_webhook **out, cs_error *err)
{
    *out = NULL;
    cs_webhook *w = calloc(1, sizeof *w);
    if (w) {
        w->url = strdup(url);
        w->key = strdup(key);
        w->multi = curl_multi_init();
    }
    if (!w || !w->url || !w->key || !w->multi) {
        cs_webhook_free(w);
        return cs_error_set(err, CS_ERR_NOMEM, "webhook: out of memory");
    }
    *out = w;
    return CS_OK;
}

void cs_webhook_free(cs_webhook *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < CS_WEBHOOK_IN_FLIGHT_MAX; i++)
        if (w->slot[i]) {
            curl_multi_remove_handle(w->multi, w->slot[i]->h);
            delivery_free(w->slot[i]);
        }
    if (w->multi)
        curl_multi_cleanup(w->multi);
    free(w->url);
    if (w->key) {
        sodium_memzero(w->key, strlen(w->key));
        free(w->key);
    }
    free(w);
}

size_t cs_webhook_in_flight(const cs_webhook *w) { return w->in_flight; }

cs_status cs_webhook_send(cs_webhook *w, const cs_alert_rec *a, cs_error *err)
{
    size_t i = 0;
    while (i < CS_WEBHOOK_IN_FLIGHT_MAX && w->slot[i])
        i++;
    if (i == CS_WEBHOOK_IN_FLIGHT_MAX)
        return cs_error_set(err, CS_ERR_ARG, "webhook: %d deliveries in flight already",
                            CS_WEBHOOK_IN_FLIGHT_MAX);
    delivery *d = calloc(1, sizeof *d);
    if (!d)
        return cs_error_set(err, CS_ERR_NOMEM, "webhook: out of memory");
    d->alert = *a;
    cs_status st = prepare(d, w->url, w->key, a, err);
    CURLMcode mc = st == CS_OK ? curl_multi_add_handle(w->multi, d->h) : CURLM_OK;
    if (mc != CURLM_OK)
        st = cs_error_set(err, CS_ERR_IO, "webhook: %s", curl_multi_strerror(mc));
    if (st != CS_OK) {
        delivery_free(d);
        return st;
    }
    w->slot[i] = d;
    w->in_flight++;
    return CS_OK;
}

cs_status cs_webhook_run(cs_webhook *w, int wait_ms, cs_webhook_done_fn done, void *ctx,
                         cs_error *err)
{
    int running = 0;
    CURLMcode mc = curl_multi_perform(w->multi, &running);
    /* Nothing finished yet: wait for a socket, the wait, or a wakeup. */
    if (mc == CURLM_OK && running == (int)w->in_flight)
        mc = curl_multi_poll(w->multi, NULL, 0, wait_ms, NULL);
    if (mc == CURLM_OK)
        mc = curl_multi_perform(w->multi, &running);
    CURLMsg *msg;
    int left = 0;
    while ((msg = curl_multi_info_read(w->multi, &left))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        for (size_t i = 0; i < CS_WEBHOOK_IN_FLIGHT_MAX; i++) {
            delivery *d = w->slot[i];
            if (!d || d->h != msg->easy_handle)
                continue;
            d->rc = msg->data.result;
            cs_error de = {0};
            cs_status st = outcome(d, &de);
            curl_multi_remove_handle(w->multi, d->h);
            w->slot[i] = NULL;
            w->in_flight--;
            done(ctx, &d->alert, st, &de);
            delivery_free(d);
            break;
        }
    }
    if (mc != CURLM_OK)
        return cs_error_set(err, CS_ERR_IO, "webhook: %s", curl_multi_strerror(mc));
    return CS_OK;
}

void cs_webhook_wakeup(cs_webhook *w)
{
    if (w)
        curl_multi_wakeup(w->multi);
}
