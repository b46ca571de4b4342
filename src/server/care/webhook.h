/* webhook.h - signed deliveries of alerts to the hospital's webhook
 * (docs/care.md, "Webhook"). The body is the alert as JSON; the header
 *   X-Capscreen-Signature: t=<unix ms>,v1=<hex HMAC-SHA256(key, "<t>.<body>")>
 * lets the receiver check that capscreen sent it and when (refuse old
 * timestamps to stop replays); X-Capscreen-Alert-Id lets it drop repeats
 * (a delivery whose answer was lost is sent again).
 *
 * curl_global_init is done by cs_webhook_global_init before threads
 * start. */
#ifndef CS_SERVER_CARE_WEBHOOK_H
#define CS_SERVER_CARE_WEBHOOK_H

#include <stddef.h>
#include <stdint.h>

#include "capscreen/store.h"

#define CS_WEBHOOK_TIMEOUT_S 10
#define CS_WEBHOOK_IN_FLIGHT_MAX 16

/* Once, before any thread uses the webhook. Errors: CS_ERR_UNSUPPORTED. */
cs_status cs_webhook_global_init(cs_error *err) CS_WARN_UNUSED;

/* The signature header's value for `body` at `t_ms` with `key` into out
 * (at least 96 bytes). */
void cs_webhook_sign(const char *key, int64_t t_ms, const char *body, char *out, size_t cap);

/* A sender: up to CS_WEBHOOK_IN_FLIGHT_MAX POSTs in flight at once (one
 * libcurl multi handle), each under its own CS_WEBHOOK_TIMEOUT_S, so an
 * alert the receiver never answers holds no other back: a new alert is
 * sent while older ones still wait.
 *
 * Threads: one thread owns a sender and makes every call on it but
 * cs_webhook_wakeup, which any thread may call while the sender lives. */
typedef struct cs_webhook cs_webhook;

/* url (http:// or https://) and key are copied. Errors: CS_ERR_NOMEM. */
cs_status cs_webhook_new(const char *url, const char *key, cs_webhook **out,
                         cs_error *err) CS_WARN_UNUSED;
/* Abandons the deliveries in flight (reported nowhere). Accepts NULL. */
void cs_webhook_free(cs_webhook *w);

/* Start POSTing alert `a` (copied); its outcome comes from cs_webhook_run.
 * Errors: CS_ERR_ARG when CS_WEBHOOK_IN_FLIGHT_MAX are in flight,
 * CS_ERR_NOMEM, CS_ERR_IO (libcurl refused the transfer). */
cs_status cs_webhook_send(cs_webhook *w, const cs_alert_rec *a, cs_error *err) CS_WARN_UNUSED;
size_t cs_webhook_in_flight(const cs_webhook *w);

/* An ended delivery: st CS_OK only for a 2xx answer; CS_ERR_IO with the
 * reason in *err (connection, timeout, the HTTP status) otherwise. `a`
 * and `err` live for the call only. */
typedef void (*cs_webhook_done_fn)(void *ctx, const cs_alert_rec *a, cs_status st,
                                   const cs_error *err);
/* Move the transfers on, waiting up to wait_ms for one to progress (less
 * when cs_webhook_wakeup is called), and report each one that ended
 * through done. Errors: CS_ERR_IO (libcurl's multi handle failed). */
cs_status cs_webhook_run(cs_webhook *w, int wait_ms, cs_webhook_done_fn done, void *ctx,
                         cs_error *err) CS_WARN_UNUSED;
/* Any thread: end a cs_webhook_run's wait now. */
void cs_webhook_wakeup(cs_webhook *w);

#endif
