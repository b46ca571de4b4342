/* health.h - the hub's health reports to the server (docs/uplink.md,
 * "Health reports"): POST /api/v1/devices/status with the device token,
 * every health_interval_ms and at once when the values change (checked at
 * most once a second). The values come from the firmware's callback
 * (csu_config.on_health). A report that fails is dropped: the next one
 * carries the news; it never holds the upload back for long (5 s at most).
 * A report the server refuses (4xx but 408 and 429) is not sent again
 * until the values change or the interval passes.
 *
 * Thread rule: called from the thread that runs the uplink, as the rest
 * of it. Owns its own curl handle, so a report never disturbs the
 * upload's connection. */
#ifndef CSU_HEALTH_H
#define CSU_HEALTH_H

#include <stdbool.h>
#include <stdint.h>

#include "capscreen/uplink.h"
#include "uplink/http.h"

typedef struct csu_health csu_health;

/* The longest message a report carries, in bytes (the server's limit):
 * a longer one is cut at a character. */
#define CSU_HEALTH_MSG_MAX 255
/* Room for any report's JSON, the longest message escaped included. */
#define CSU_HEALTH_JSON_MAX 1024

/* NULL (and CS_OK) when cfg->on_health is not set: no reports. Errors:
 * CS_ERR_NOMEM, CS_ERR_ARG (URL or token too long). */
cs_status csu_health_new(const csu_config *cfg, const char *server_url, const char *token,
                         const csu_http_opts *http, csu_health **out, cs_error *err) CS_WARN_UNUSED;
void csu_health_free(csu_health *h);

/* Ask the firmware and report when due. `link_up`: the last upload
 * exchange got an answer (reports wait while the link is down);
 * `spool_bytes`: the uplink's own spool, for a spool_used_pct of -1. */
void csu_health_tick(csu_health *h, bool link_up, uint64_t spool_bytes);

/* Reports the server took (204) since start; for tests and the display. */
uint64_t csu_health_sent(const csu_health *h);

/* The report's JSON for `v` into out (CSU_HEALTH_JSON_MAX bytes); false
 * when a value is out of range (then nothing is sent). The message is
 * made text the server takes: control bytes become spaces, bad UTF-8 '?',
 * and it is cut to CSU_HEALTH_MSG_MAX bytes at a character. */
bool csu_health_json(const csu_hub_health *v, char *out, size_t cap);

#endif
