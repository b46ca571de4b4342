/* reading_api.c - reading time (issue 12 item 6, docs/workstation.md
 * "Reading time"): the viewer reports the active seconds a reader spends
 * on a study, per view (full or reduced); the study carries them, the
 * worklist shows them, and GET /api/v1/stats/reading-time gives the median
 * seconds per study by reader and by view, so the engine's effect on
 * reading time can be shown from real use. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/api/api_int.h"

#define REPORT_MAX_S 600.0 /* one report covers at most 10 minutes */

/* POST /api/v1/studies/{id}/reading-time {"view": "full"|"reduced", "seconds": N} */
enum MHD_Result cs_api_reading_time(const cs_api *api, struct MHD_Connection *c, cs_req *r)
{
    enum MHD_Result ret;
    cs_error e = {0};
    json_t *o = cs_http_body_json(api->metrics, c, r, &ret);
    if (!o)
        return ret;
    const char *view = json_string_value(json_object_get(o, "view"));
    json_t *sec = json_object_get(o, "seconds");
    cs_check_outcome out;
    if (!view || (strcmp(view, "full") != 0 && strcmp(view, "reduced") != 0) ||
        !json_is_number(sec) || !(json_number_value(sec) > 0) ||
        json_number_value(sec) > REPORT_MAX_S) {
        ret = cs_http_error(api->metrics, c, 400, false, "bad_json",
                            "body needs {\"view\": \"full\" or \"reduced\", \"seconds\": 0 < N <= "
                            "%.0f}",
                            REPORT_MAX_S);
    } else if (cs_store_reading_add(api->store, r->id, r->auth.user, view, json_number_value(sec),
                                    cs_now_ms(), &out, &e) != CS_OK) {
        ret = cs_http_error(api->metrics, c, 503, false, "store_unavailable", "%s", e.msg);
    } else if (out != CS_CHECK_OK) {
        ret = cs_http_error(api->metrics, c, 404, false, "unknown_study", "no study '%s'", r->id);
    } else {
        ret = cs_http_bytes(c, 204, NULL, NULL, 0, false, NULL);
    }
    json_decref(o);
    return ret;
}

json_t *cs_ws_reading_json(const cs_api *api, const char *study, cs_error *err)
{
    cs_reading_rec *v = NULL;
    size_t n = 0;
    if (cs_store_reading_list(api->store, study, &v, &n, err) != CS_OK)
        return NULL;
    json_t *o = cs_ws_reading_json_of(v, n);
    free(v);
    if (!o)
        cs_error_set(err, CS_ERR_NOMEM, "out of memory");
    return o;
}

json_t *cs_ws_reading_json_of(const cs_reading_rec *v, size_t n)
{
    double total = 0;
    json_t *by = json_array();
    for (size_t i = 0; i < n; i++) {
        total += v[i].seconds;
        json_array_append_new(by, json_pack("{s:s, s:s, s:f}", "reader", v[i].reader, "view",
                                            v[i].view, "seconds", v[i].seconds));
    }
    return json_pack("{s:f, s:o}", "total_s", total, "by_reader", by);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The median of v[0..n) (sorted in place); NAN when n is 0. */
static double median(double *v, size_t n)
{
    if (n == 0)
        return NAN;
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* GET /api/v1/stats/reading-time: per (reader, view) and per view, the
 * median of the seconds each study took, with how many studies. */
enum MHD_Result cs_api_reading_stats(const cs_api *api, struct MHD_Connection *c, cs_req *r)
{
    (void)r;
    cs_error e = {0};
    cs_reading_rec *v = NULL;
    size_t n = 0;
    if (cs_store_reading_list(api->store, "", &v, &n, &e) != CS_OK)
        return cs_http_error(api->metrics, c, 503, false, "store_unavailable", "%s", e.msg);
    double *buf = malloc((n + 1) * sizeof *buf);
    if (!buf) {
        free(v);
        return cs_http_error(api->metrics, c, 503, false, "out_of_memory", "out of memory");
    }
    json_t *by_reader = json_array(), *by_view = json_array();
    /* rows are sorted by study, reader, view: group by scanning */
    for (size_t i = 0; i < n; i++) {
        bool first = true;
        for (size_t j = 0; j < i && first; j++)
            if (strcmp(v[j].reader, v[i].reader) == 0 && strcmp(v[j].view, v[i].view) == 0)
                first = false;
        if (!first)
            continue;
        size_t k = 0;
        for (size_t j = i; j < n; j++)
            if (strcmp(v[j].reader, v[i].reader) == 0 && strcmp(v[j].view, v[i].view) == 0)
                buf[k++] = v[j].seconds;
        json_array_append_new(by_reader, json_pack("{s:s, s:s, s:I, s:f}", "reader", v[i].reader,
                                                   "view", v[i].view, "studies", (json_int_t)k,
                                                   "median_s", median(buf, k)));
    }
    static const char *const views[] = {"full", "reduced"};
    for (int w = 0; w < 2; w++) {
        /* per study: the sum over its readers in this view (rows come by
         * study, so an earlier row of the same study is the last one kept) */
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
            if (strcmp(v[i].view, views[w]) != 0)
                continue;
            bool same = false;
            for (size_t j = 0; j < i; j++)
                if (strcmp(v[j].view, views[w]) == 0 && strcmp(v[j].study, v[i].study) == 0)
                    same = true;
            if (same) {
                buf[k - 1] += v[i].seconds;
            } else {
                buf[k++] = v[i].seconds;
            }
        }
        double m = median(buf, k);
        json_array_append_new(by_view, json_pack("{s:s, s:I, s:o}", "view", views[w], "studies",
                                                 (json_int_t)k, "median_s",
                                                 isnan(m) ? json_null() : json_real(m)));
    }
    free(buf);
    free(v);
    return cs_http_json(c, 200, json_pack("{s:o, s:o}", "by_reader", by_reader, "by_view", by_view),
                        false, NULL);
}
