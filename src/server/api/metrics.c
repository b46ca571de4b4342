/* metrics.c - GET /metrics (Prometheus text format 0.0.4) and GET /healthz. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/api/api.h"

enum MHD_Result cs_metrics_handle(const cs_api *api, struct MHD_Connection *c, cs_req *req)
{
    (void)req;
    size_t n = 0, cap = 32768; /* the histograms take ~12 KB */
    char *buf = malloc(cap);
    if (!buf)
        return MHD_NO;
    n += (size_t)snprintf(
        buf + n, cap - n,
        "# HELP capscreen_requests_active Requests being answered now (event streams "
        "included; this one too).\n"
        "# TYPE capscreen_requests_active gauge\n"
        "capscreen_requests_active %d\n"
        "# HELP capscreen_uploads_active Upload bodies being received now.\n"
        "# TYPE capscreen_uploads_active gauge\n"
        "capscreen_uploads_active %ld\n"
        "# HELP capscreen_bytes_received_total Upload bytes written to study files.\n"
        "# TYPE capscreen_bytes_received_total counter\n"
        "capscreen_bytes_received_total %llu\n"
        "# HELP capscreen_frames_analysed_total Frames the live analysis stored (failed ones "
        "too).\n"
        "# TYPE capscreen_frames_analysed_total counter\n"
        "capscreen_frames_analysed_total %llu\n"
        "# HELP capscreen_connections_total Connections accepted (requests / connections shows "
        "keep-alive).\n"
        "# TYPE capscreen_connections_total counter\n"
        "capscreen_connections_total %llu\n"
        "# HELP capscreen_connections_lingered_total Connections answered before their body was "
        "read, drained before closing so the client reads the answer.\n"
        "# TYPE capscreen_connections_lingered_total counter\n"
        "capscreen_connections_lingered_total %llu\n"
        "# HELP capscreen_requests_total Requests received.\n"
        "# TYPE capscreen_requests_total counter\n"
        "capscreen_requests_total %llu\n"
        "# HELP capscreen_polyp_threshold The polyp probability at which live frames are "
        "flagged (the weights' own, or the polyp_threshold setting).\n"
        "# TYPE capscreen_polyp_threshold gauge\n"
        "capscreen_polyp_threshold %.9g\n"
        "# HELP capscreen_errors_total Errors by kind: refused requests, cut-off bodies, bad "
        "frames.\n"
        "# TYPE capscreen_errors_total counter\n",
        atomic_load(&api->metrics->requests_active), atomic_load(&api->metrics->uploads_active),
        (unsigned long long)atomic_load(&api->metrics->bytes_received),
        (unsigned long long)atomic_load(&api->metrics->frames_analysed),
        (unsigned long long)atomic_load(&api->metrics->connections_opened),
        (unsigned long long)atomic_load(&api->metrics->connections_lingered),
        (unsigned long long)atomic_load(&api->metrics->requests_total),
        (double)api->metrics->polyp_threshold);
    for (int k = 0; k < CS_EK_COUNT && n < cap; k++)
        n += (size_t)snprintf(buf + n, cap - n, "capscreen_errors_total{kind=\"%s\"} %llu\n",
                              cs_err_kind_name((cs_err_kind)k),
                              (unsigned long long)atomic_load(&api->metrics->errors[k]));
    if (n >= cap)
        n = cap - 1;
    cs_latency_print(api->metrics->latency, buf, cap, &n);
    struct MHD_Response *resp = MHD_create_response_from_buffer(n, buf, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(buf);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; version=0.0.4");
    enum MHD_Result r = MHD_queue_response(c, 200, resp);
    MHD_destroy_response(resp);
    return r;
}

enum MHD_Result cs_health_handle(const cs_api *api, struct MHD_Connection *c, cs_req *r)
{
    (void)r;
    cs_error e = {0};
    if (cs_store_ping(api->store, &e) != CS_OK)
        return cs_http_error(api->metrics, c, 503, false, "database_unavailable", "%s", e.msg);
    return cs_http_json(c, 200,
                        json_pack("{s:s, s:s, s:i}", "status", "ok", "database", "ok",
                                  "schema_version", CS_STORE_SCHEMA_VERSION),
                        false, NULL);
}
