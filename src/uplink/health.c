/* health.c - the hub's health reports (health.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "uplink/health.h"
#include "uplink/json.h"

#define ASK_EVERY_MS 1000  /* the firmware is asked at most this often */
#define REPORT_TIMEOUT_S 5 /* connect, or a stalled answer: the report gives up */

struct csu_health {
    csu_health_cb cb;
    void *user;
    uint32_t interval_ms;
    uint64_t spool_max_bytes;
    CURL *curl;
    csu_http_opts http;
    char url[600];
    char auth[600];
    int64_t asked_ms, sent_ms;           /* monotonic; 0 = never */
    char last_json[CSU_HEALTH_JSON_MAX]; /* the last report taken, or refused for what it says */
    uint64_t sent;
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

cs_status csu_health_new(const csu_config *cfg, const char *server_url, const char *token,
                         const csu_http_opts *http, csu_health **out, cs_error *err)
{
    *out = NULL;
    if (!cfg->on_health)
        return CS_OK;
    csu_health *h = calloc(1, sizeof *h);
    if (!h)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory");
    h->cb = cfg->on_health;
    h->user = cfg->health_user;
    h->interval_ms = cfg->health_interval_ms ? cfg->health_interval_ms : 60000;
    h->spool_max_bytes = cfg->spool_max_bytes;
    h->http = *http;
    if (h->http.connect_timeout_s > REPORT_TIMEOUT_S || h->http.connect_timeout_s <= 0)
        h->http.connect_timeout_s = REPORT_TIMEOUT_S;
    h->http.low_speed_time_s = REPORT_TIMEOUT_S;
    h->http.max_send_rate = 0;
    size_t n = strlen(server_url);
    while (n > 0 && server_url[n - 1] == '/')
        n--;
    if (snprintf(h->url, sizeof h->url, "%.*s/api/v1/devices/status", (int)n, server_url) >=
            (int)sizeof h->url ||
        snprintf(h->auth, sizeof h->auth, "Authorization: Bearer %s", token) >=
            (int)sizeof h->auth) {
        free(h);
        return cs_error_set(err, CS_ERR_ARG, "server URL or token too long");
    }
    h->curl = curl_easy_init();
    if (!h->curl) {
        free(h);
        return cs_error_set(err, CS_ERR_NOMEM, "cannot make a curl handle");
    }
    *out = h;
    return CS_OK;
}

void csu_health_free(csu_health *h)
{
    if (!h)
        return;
    curl_easy_cleanup(h->curl);
    free(h);
}

uint64_t csu_health_sent(const csu_health *h) { return h ? h->sent : 0; }

/* The length of the UTF-8 character at u (1-4), 0 for a bad sequence. */
static size_t utf8_len(const unsigned char *u)
{
    size_t n = *u < 0x80             ? 1
               : (*u & 0xe0) == 0xc0 ? 2
               : (*u & 0xf0) == 0xe0 ? 3
               : (*u & 0xf8) == 0xf0 ? 4
                                     : 0;
    bool ok = n > 0 && !(n == 2 && *u < 0xc2) && !(n == 4 && *u > 0xf4);
    for (size_t i = 1; ok && i < n; i++)
        ok = (u[i] & 0xc0) == 0x80;
    /* What a JSON parser refuses too: overlong forms, UTF-16 surrogates,
     * code points past U+10FFFF (the server would answer 400). */
    if (ok &&
        ((n == 3 && u[0] == 0xe0 && u[1] < 0xa0) || (n == 3 && u[0] == 0xed && u[1] >= 0xa0) ||
         (n == 4 && u[0] == 0xf0 && u[1] < 0x90) || (n == 4 && u[0] == 0xf4 && u[1] >= 0x90)))
        ok = false;
    return ok ? n : 0;
}

/* The firmware's message as the server takes it (printable UTF-8 text,
 * at most CSU_HEALTH_MSG_MAX bytes): control bytes become spaces, bad
 * sequences '?', and a longer text is cut at a character. A message the
 * server refused would hold back the whole report, battery and spool and
 * recorder state with it, at every retry. */
static void clean_message(const char *in, char out[CSU_HEALTH_MSG_MAX + 1])
{
    const unsigned char *u = (const unsigned char *)in;
    size_t o = 0;
    while (*u) {
        /* The character itself, or one byte in its place. */
        size_t n = utf8_len(u);
        unsigned char sub = n == 1 && (*u < 0x20 || *u == 0x7f) ? ' ' : n ? 0 : '?';
        if (sub)
            n = 1;
        if (o + n > CSU_HEALTH_MSG_MAX)
            break;
        memcpy(out + o, sub ? &sub : u, n);
        o += n;
        u += n;
    }
    out[o] = '\0';
}

bool csu_health_json(const csu_hub_health *v, char *out, size_t cap)
{
    const char *rec = v->recorder ? v->recorder : "";
    if (v->battery_pct < 0 || v->battery_pct > 100 || v->signal_dbm < -150 || v->signal_dbm > 0 ||
        v->spool_used_pct < 0 || v->spool_used_pct > 100 ||
        (strcmp(rec, "recording") != 0 && strcmp(rec, "stopped") != 0 && strcmp(rec, "error") != 0))
        return false;
    char msg[6 * CSU_HEALTH_MSG_MAX + 8] = "null", text[CSU_HEALTH_MSG_MAX + 1];
    if (v->message) {
        clean_message(v->message, text);
        if (!csu_json_quote(text, msg, sizeof msg))
            return false;
    }
    return snprintf(out, cap,
                    "{\"battery_pct\":%d,\"signal_dbm\":%d,\"spool_used_pct\":%d,"
                    "\"recorder\":\"%s\",\"message\":%s}",
                    v->battery_pct, v->signal_dbm, v->spool_used_pct, rec, msg) < (int)cap;
}

void csu_health_tick(csu_health *h, bool link_up, uint64_t spool_bytes)
{
    if (!h || !link_up)
        return;
    int64_t now = mono_ms();
    if (h->asked_ms && now - h->asked_ms < ASK_EVERY_MS)
        return;
    h->asked_ms = now;
    csu_hub_health v = {.battery_pct = -1, .signal_dbm = 1, .spool_used_pct = -1};
    if (!h->cb(h->user, &v))
        return;
    if (v.spool_used_pct == -1 && h->spool_max_bytes > 0) { /* the uplink's own spool */
        uint64_t pct = spool_bytes * 100 / h->spool_max_bytes;
        v.spool_used_pct = pct > 100 ? 100 : (int)pct;
    }
    char json[CSU_HEALTH_JSON_MAX];
    if (!csu_health_json(&v, json, sizeof json))
        return; /* out of range: the firmware's values are not sent */
    bool changed = strcmp(json, h->last_json) != 0;
    if (!changed && h->sent_ms && now - h->sent_ms < (int64_t)h->interval_ms)
        return;
    struct curl_slist *hs = curl_slist_append(NULL, "Content-Type: application/json");
    hs = curl_slist_append(hs, h->auth);
    csu_reply r;
    csu_http_do(h->curl, &h->http, "POST", h->url, hs, json, strlen(json), &r);
    curl_slist_free_all(hs);
    h->sent_ms = now; /* tried: the next try waits for a change or the interval */
    if (r.code == 204) {
        snprintf(h->last_json, sizeof h->last_json, "%s", json);
        h->sent++;
    } else if (r.code >= 400 && r.code < 500 && r.code != 408 && r.code != 429) {
        /* Refused for what it says (a closed study, a report the server
         * cannot take): sending it again every second changes nothing, so
         * it waits for a change or the interval like a report taken. */
        snprintf(h->last_json, sizeof h->last_json, "%s", json);
        fprintf(stderr, "capscreen-uplink: health report refused (HTTP %ld): %.200s\n",
                (long)r.code, r.body);
    }
}
