/* events.c - server-sent event streams: GET /api/v1/studies/{id}/events
 * (a `progress` event with the study's JSON) and GET /api/v1/monitor/events
 * (a `monitor` event with every live study's tile, care_api.c). One event
 * at once and whenever what it shows changes (the progress signal moved
 * and the JSON differs), a heartbeat comment every 15 s. The content callback runs on the
 * connection's own thread (thread per connection), so it may wait.
 *
 * A stream opened with a session lives only as long as the session: it
 * re-checks it at once when session_gen moves (logout, a user disabled or
 * changed, an expired session found) and at least every SESSION_CHECK_S
 * (idle or maximum age reached), and then sends `event: session_ended`
 * and ends the response.
 *
 * A stream whose client is gone (it closed or reset the connection) ends
 * within a second, not at the next heartbeat: until then its connection
 * holds a thread and one of its address's per_ip_connections slots.
 *
 * An event may be larger than the buffer libmicrohttpd offers one call
 * (what is left of the connection's 32 KiB memory pool, not EVENT_MAX):
 * it is kept and handed over in pieces, over as many calls as it needs.
 * The monitor of 50 live studies is about that size; before, such an
 * event ended the stream, and the monitor showed nothing. */
#define _GNU_SOURCE /* POLLRDHUP: the peer closed its end (TLS close_notify or not) */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server/api/api_int.h"
#include "server/auth/auth.h"
#include "server/ingest/ingest.h"

#define HEARTBEAT_S 15
#define EVENT_MAX (64 * 1024)
#define SESSION_CHECK_S 2
#define MONITOR_GAP_MS 1000

/* What a stream sends: JSON for `id` (new reference), NULL on failure. */
typedef json_t *(*sse_producer)(const cs_api *api, const char *id, cs_error *err);

typedef struct sse {
    const cs_api *api;
    sse_producer produce;
    const char *event; /* the event's name */
    char id[CS_ID_MAX];
    uint64_t seen_gen;
    char *last; /* last progress JSON sent */
    bool first;
    char session[CS_HASH_HEX_MAX]; /* the caller's session; "" for the admin token */
    uint64_t session_gen;          /* signals' session_gen when last checked */
    int64_t session_checked_s;
    bool ended;           /* session_ended sent: end the stream */
    int64_t min_gap_ms;   /* at most one event per this long (0: no limit) */
    int64_t last_sent_ms; /* cs_now_ms() of the last event */
    int fd;               /* the connection's socket, to notice the client gone; -1 unknown */
    char *out;            /* an event not yet handed over in full (malloc'd), or NULL */
    size_t out_len, out_off;
} sse;

/* Has the client closed or reset the connection? It sends nothing after
 * its request, so any end of its side means it is gone. */
static bool client_gone(const sse *e)
{
    if (e->fd < 0)
        return false;
    struct pollfd p = {.fd = e->fd, .events = POLLRDHUP};
    return poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL));
}

static void sse_free(void *cls)
{
    sse *e = cls;
    free(e->last);
    free(e->out);
    free(e);
}

/* Whether the stream's session is over (checked when session_gen moved
 * or SESSION_CHECK_S passed). A store error ends the stream too: it cannot
 * tell that the caller may still read. */
static bool session_over(sse *e)
{
    uint64_t gen = atomic_load(&e->api->signals->session_gen);
    if (!e->session[0]) { /* the admin token: nothing to re-check */
        e->session_gen = gen;
        return false;
    }
    int64_t now = cs_now_s();
    if (gen == e->session_gen && now - e->session_checked_s < SESSION_CHECK_S)
        return false;
    e->session_gen = gen;
    e->session_checked_s = now;
    bool alive = false;
    cs_error err = {0};
    if (cs_auth_session_alive(e->api->auth, e->session, &alive, &err) != CS_OK)
        return true;
    return !alive;
}

/* Hand over the rest of e->out, as much as MHD's buffer takes now. */
static ssize_t drain(sse *e, char *buf, size_t max)
{
    size_t n = e->out_len - e->out_off;
    if (n > max)
        n = max;
    memcpy(buf, e->out + e->out_off, n);
    e->out_off += n;
    if (e->out_off == e->out_len) {
        free(e->out);
        e->out = NULL;
    }
    return (ssize_t)n;
}

/* Send `text` (taken: malloc'd), in pieces if MHD's buffer is smaller. */
static ssize_t emit_owned(sse *e, char *buf, size_t max, char *text)
{
    if (!text)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    if (max == 0) { /* never seen; an empty answer would end the stream */
        free(text);
        return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    e->out = text;
    e->out_len = strlen(text);
    e->out_off = 0;
    return drain(e, buf, max);
}

static ssize_t emit(sse *e, char *buf, size_t max, const char *text)
{
    return emit_owned(e, buf, max, strdup(text));
}

static ssize_t sse_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    sse *e = cls;
    const cs_api *api = e->api;
    (void)pos;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += HEARTBEAT_S;
    if (e->out)
        return drain(e, buf, max); /* the rest of the event begun */
    if (e->ended)
        return MHD_CONTENT_READER_END_OF_STREAM;
    for (;;) {
        if (cs_signals_stopping(api->signals))
            return MHD_CONTENT_READER_END_OF_STREAM;
        if (client_gone(e))
            return MHD_CONTENT_READER_END_WITH_ERROR;
        if (session_over(e)) {
            e->ended = true;
            return emit(e, buf, max, "event: session_ended\ndata: {}\n\n");
        }
        uint64_t gen = cs_signals_progress_gen(api->signals);
        int64_t early = e->last_sent_ms + e->min_gap_ms - cs_now_ms();
        if (!e->first && gen != e->seen_gen && early > 0) {
            /* A busy stream (the monitor: every frame batch moves it) sends
             * at most one event per min_gap_ms; what moved meanwhile goes in
             * the next one. */
            struct timespec ts = {early / 1000, (long)(early % 1000) * 1000000L};
            nanosleep(&ts, NULL);
            continue;
        }
        if (e->first || gen != e->seen_gen) {
            cs_error err = {0};
            e->seen_gen = gen;
            json_t *o = e->produce(api, e->id, &err);
            char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
            json_decref(o);
            if (!text)
                return MHD_CONTENT_READER_END_WITH_ERROR;
            if (e->first || !e->last || strcmp(text, e->last) != 0) {
                e->first = false;
                e->last_sent_ms = cs_now_ms();
                free(e->last);
                e->last = text;
                size_t cap = strlen(text) + strlen(e->event) + 32;
                char *ev = malloc(cap);
                if (!ev)
                    return MHD_CONTENT_READER_END_WITH_ERROR;
                snprintf(ev, cap, "event: %s\ndata: %s\n\n", e->event, text);
                return emit_owned(e, buf, max, ev);
            }
            free(text);
        }
        /* Wait for a change, a heartbeat, or 1 s (to notice shutdown and a
         * client gone). */
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        if (now.tv_sec >= until.tv_sec)
            return emit(e, buf, max, ": heartbeat\n\n");
        cs_signals_wait(api->signals, e->seen_gen, e->session_gen, 1000);
    }
}

static json_t *study_progress(const cs_api *api, const char *id, cs_error *err)
{
    bool found = false;
    return cs_api_study_json(api, id, &found, err);
}

/* Answer with a stream of `event` events made by `produce` for `id`. */
static enum MHD_Result open_stream(const cs_api *api, struct MHD_Connection *c, cs_req *r,
                                   sse_producer produce, const char *event, const char *id,
                                   int64_t min_gap_ms)
{
    enum MHD_Result ret;
    sse *e = calloc(1, sizeof *e);
    if (!e)
        return MHD_NO;
    e->api = api;
    e->produce = produce;
    e->event = event;
    e->min_gap_ms = min_gap_ms;
    e->first = true;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    e->fd = ci ? ci->connect_fd : -1;
    snprintf(e->id, sizeof e->id, "%s", id);
    if (r->auth.kind == CS_AUTH_USER)
        snprintf(e->session, sizeof e->session, "%s", r->auth.session_hash);
    /* The count the session check started from, not the count now: a
     * session ended between that check and this line would otherwise go
     * unseen until the next periodic re-check. */
    e->session_gen = r->auth.kind == CS_AUTH_USER ? r->auth.session_gen
                                                  : atomic_load(&api->signals->session_gen);
    e->session_checked_s = cs_now_s();
    struct MHD_Response *resp =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, EVENT_MAX, sse_read, e, sse_free);
    if (!resp) {
        sse_free(e);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    ret = MHD_queue_response(c, 200, resp);
    MHD_destroy_response(resp);
    return ret;
}

enum MHD_Result cs_events_handle(const cs_api *api, struct MHD_Connection *c, cs_req *r)
{
    enum MHD_Result ret;
    if (cs_ws_need_study(api, c, r->id, &ret))
        return ret;
    return open_stream(api, c, r, study_progress, "progress", r->id, 0);
}

static json_t *monitor_tiles(const cs_api *api, const char *id, cs_error *err)
{
    (void)id;
    return cs_api_monitor_json(api, err);
}

enum MHD_Result cs_monitor_events(const cs_api *api, struct MHD_Connection *c, cs_req *r)
{
    /* One event a second at most: within the page's 2 s promise, and a
     * monitor of 50 live studies is not rebuilt for every frame batch. */
    return open_stream(api, c, r, monitor_tiles, "monitor", "", MONITOR_GAP_MS);
}
