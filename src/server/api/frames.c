/* frames.c - what the viewer loads: a study's frame index (one
 * column per field, so 400,000 frames stay a few MB; the boxes of flagged
 * frames keyed by seq), each frame's JPEG as
 * received and its thumbnail, with caching headers (frames never change
 * once stored) and frames.view audit batches. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/api/api_int.h"
#include "server/media/media.h"

#define INDEX_PAGE 4096 /* frame views read from the store per call */

json_t *cs_ws_frame_index_json(const cs_api *api, const char *study, uint64_t *frames,
                               cs_error *err)
{
    cs_error e = {0};
    cs_frame_view *page = malloc(INDEX_PAGE * sizeof *page);
    json_t *fi = json_array(), *ct = json_array(), *fl = json_array(), *p = json_array(),
           *rgb = json_array(), *pp = json_array(), *boxes = json_object();
    uint64_t next = 0, count = 0;
    bool ok = page && fi && ct && fl && p && rgb && pp && boxes;
    while (ok) {
        size_t n = 0;
        if (cs_store_frame_views(api->store, study, next, page, INDEX_PAGE, &n, &e) != CS_OK) {
            ok = false;
            break;
        }
        for (size_t i = 0; i < n; i++) {
            const cs_frame_view *v = &page[i];
            /* seq is the position: a gap (never expected) would shift
             * every later frame, so refuse rather than mislead. */
            if (v->seq != count) {
                ok = false;
                snprintf(e.msg, sizeof e.msg, "frame index has a gap at seq %llu",
                         (unsigned long long)count);
                break;
            }
            /* A flagged frame is never redundant to a reader, whatever the
             * row says: rows written before the live analysis kept that
             * rule (or by an older server sharing the store) may mark one,
             * and a reduced view would then hide it. */
            bool redundant = v->redundant && !v->bleeding && !v->polyp;
            int flags = (v->ok ? 1 : 0) | (v->readable ? 2 : 0) | (v->bleeding ? 4 : 0) |
                        (redundant ? 8 : 0) | (v->blurry ? 16 : 0) | (v->payload_len > 0 ? 32 : 0) |
                        (v->polyp ? 64 : 0) | (v->has_polyp ? 128 : 0);
            json_array_append_new(fi, json_integer(v->frame_index));
            json_array_append_new(ct, json_integer(v->capture_time_us));
            json_array_append_new(fl, json_integer(flags));
            json_array_append_new(
                p, json_integer((json_int_t)(v->bleeding_probability * 1000.0f + 0.5f)));
            json_array_append_new(rgb, json_integer(v->mean_rgb));
            json_array_append_new(
                pp, v->has_polyp ? json_integer((json_int_t)(v->polyp_probability * 1000.0f + 0.5f))
                                 : json_null());
            /* The store wrote this text (the ingest's boxes_json); text it
             * cannot parse is left out rather than failing the index. */
            if (v->boxes[0]) {
                json_t *b = json_loads(v->boxes, 0, NULL);
                char key[24];
                snprintf(key, sizeof key, "%llu", (unsigned long long)v->seq);
                if (json_is_object(b))
                    json_object_set_new(boxes, key, b);
                else
                    json_decref(b);
            }
            count++;
        }
        if (n < INDEX_PAGE)
            break;
        next = page[n - 1].seq + 1;
    }
    free(page);
    if (!ok) {
        json_decref(fi), json_decref(ct), json_decref(fl), json_decref(p), json_decref(rgb);
        json_decref(pp), json_decref(boxes);
        cs_error_set(err, CS_ERR_IO, "%s", e.msg[0] ? e.msg : "out of memory");
        return NULL;
    }
    *frames = count;
    return json_pack("{s:s, s:I, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "study", study, "count",
                     (json_int_t)count, "frame_index", fi, "capture_time_us", ct, "flags", fl, "p",
                     p, "rgb", rgb, "polyp_p", pp, "boxes", boxes);
}

enum MHD_Result cs_ws_frame_index(const cs_api *api, struct MHD_Connection *c, cs_req *r)
{
    enum MHD_Result ret;
    cs_error e = {0};
    uint64_t count = 0;
    if (cs_ws_need_study(api, c, r->id, &ret))
        return ret;
    json_t *o = cs_ws_frame_index_json(api, r->id, &count, &e);
    if (!o)
        return cs_http_error(api->metrics, c, 503, false, "store_unavailable", "%s", e.msg);
    cs_audit(api->audit, &r->auth, "study.open", r->id, "%llu frames", (unsigned long long)count);
    return cs_http_json(c, 200, o, false, NULL);
}

enum MHD_Result cs_ws_frame_image(const cs_api *api, struct MHD_Connection *c, cs_req *r,
                                  uint64_t seq, bool thumb)
{
    enum MHD_Result ret;
    cs_auth a;
    cs_error e = {0};
    a = r->auth;
    /* Stored frames never change: the study, seq and kind name the bytes. */
    char etag[CS_ID_MAX + 40];
    snprintf(etag, sizeof etag, "\"%s-%llu-%s\"", r->id, (unsigned long long)seq,
             thumb ? "t" : "f");
    const char *cache = "private, max-age=31536000, immutable";
    const char *inm =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_NONE_MATCH);
    if (inm && strstr(inm, etag)) {
        const char *h[] = {"ETag", etag, "Cache-Control", cache, NULL};
        return cs_http_bytes(c, 304, NULL, NULL, 0, false, h);
    }
    uint8_t *img = NULL;
    size_t len = 0;
    bool found = false;
    cs_status st = thumb ? cs_media_thumb(api->media, r->id, seq, &found, &img, &len, &e)
                         : cs_media_frame(api->media, r->id, seq, &found, &img, &len, &e);
    if (st != CS_OK)
        return cs_http_error(api->metrics, c, st == CS_ERR_CORRUPT ? 422 : 503, false,
                             st == CS_ERR_CORRUPT ? "frame_undecodable" : "storage_failed", "%s",
                             e.msg);
    if (!found) {
        if (cs_ws_need_study(api, c, r->id, &ret))
            return ret;
        return cs_http_error(api->metrics, c, 404, false, "unknown_frame",
                             "study '%s' has no frame %llu with an image", r->id,
                             (unsigned long long)seq);
    }
    cs_audit_frame_viewed(api->audit, &a, r->id, seq);
    const char *h[] = {"ETag", etag, "Cache-Control", cache, NULL};
    return cs_http_bytes(c, 200, "image/jpeg", img, len, true, h);
}
