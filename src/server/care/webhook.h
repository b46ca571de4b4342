/* webhook.h - one signed delivery of an alert to the hospital's webhook
 * (docs/care.md, "Webhook"). The body is the alert as JSON; the header
 *   X-Capscreen-Signature: t=<unix ms>,v1=<hex HMAC-SHA256(key, "<t>.<body>")>
 * lets the receiver check that capscreen sent it and when (refuse old
 * timestamps to stop replays); X-Capscreen-Alert-Id lets it drop repeats
 * (a delivery whose answer was lost is sent again).
 *
 * Threads: any (libcurl easy handles, one per call; curl_global_init is
 * done by cs_webhook_global_init before threads start). */
#ifndef CS_SERVER_CARE_WEBHOOK_H
#define CS_SERVER_CARE_WEBHOOK_H

#include <stddef.h>
#include <stdint.h>

#include "capscreen/store.h"

#define CS_WEBHOOK_TIMEOUT_S 10

/* Once, before any thread uses the webhook. Errors: CS_ERR_UNSUPPORTED. */
cs_status cs_webhook_global_init(cs_error *err) CS_WARN_UNUSED;

/* The signature header's value for `body` at `t_ms` with `key` into out
 * (at least 96 bytes). */
void cs_webhook_sign(const char *key, int64_t t_ms, const char *body, char *out, size_t cap);

/* POST alert `a` to `url`. CS_OK only for a 2xx answer; CS_ERR_IO with
 * the reason (connection, timeout, the HTTP status) otherwise. */
cs_status cs_webhook_deliver(const char *url, const char *key, const cs_alert_rec *a,
                             cs_error *err) CS_WARN_UNUSED;

#endif
