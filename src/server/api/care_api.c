/* care_api.c - the live care loop's routes (docs/care.md, docs/api.md):
 * a hub's health report, a study's alerts and their acknowledgement, the
 * study's care view (stage, hub, protocol) and marking its stage. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/api/api_int.h"
#include "server/core/vocabulary.h"
#include "server/media/media.h"

/* A whole number in [lo, hi] at `key` (required): false with *why set. */
static bool int_field(json_t *o, const char *key, int lo, int hi, int *out, char *why, size_t cap)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) {
        snprintf(why, cap, "%s must be a whole number from %d to %d", key, lo, hi);
        return false;
    }
    *out = (int)json_integer_value(v);
    return true;
}

/* POST /api/v1/devices/status (a device token): the hub's health. */
enum MHD_Result cs_api_device_status(const cs_api *api, struct MHD_Connection *c, cs_req *r)
{
    enum MHD_Result ret;
    json_t *o = cs_http_body_json(api->metrics, c, r, &ret);
    if (!o)
        return ret;
    cs_hub_status_rec hs;
    memset(&hs, 0, sizeof hs);
    char why[160] = "";
    const char *rec = json_string_value(json_object_get(o, "recorder"));
    json_t *msg = json_object_get(o, "message");
    if (!int_field(o, "battery_pct", 0, 100, &hs.battery_pct, why, sizeof why) ||
        !int_field(o, "signal_dbm", -150, 0, &hs.signal_dbm, why, sizeof why) ||
        !int_field(o, "spool_used_pct", 0, 100, &hs.spool_used_pct, why, sizeof why)) {
    } else if (!rec || (strcmp(rec, "recording") != 0 && strcmp(rec, "stopped") != 0 &&
                        strcmp(rec, "error") != 0)) {
        snprintf(why, sizeof why, "recorder must be \"recording\", \"stopped\" or \"error\"");
    } else if (msg && !json_is_null(msg) &&
               (!json_is_string(msg) || strlen(json_string_value(msg)) >= CS_HUB_MSG_MAX)) {
        snprintf(why, sizeof why, "message must be text of at most %d bytes", CS_HUB_MSG_MAX - 1);
    } else {
        snprintf(hs.recorder, sizeof hs.recorder, "%s", rec);
        /* A line break or tab in a recorder's message is no reason to
         * lose the report (battery, spool, recorder state): it is shown
         * as a space. */
        if (json_is_string(msg)) {
            snprintf(hs.message, sizeof hs.message, "%s", json_string_value(msg));
            cs_http_text_clean(hs.message);
        }
    }
    json_decref(o);
    if (why[0])
        return cs_http_error(api->metrics, c, 400, false, "bad_status", "%s", why);
    cs_check_outcome out;
    cs_error e = {0};
    if (cs_care_hub_status(api->care, r->auth.study, &hs, &out, &e) != CS_OK)
        return cs_http_error(api->metrics, c, 503, false, "store_unavailable", "%s", e.msg);
    if (out == CS_CHECK_LOCKED)
        return cs_http_error(api->metrics, c, 409, false, "study_closed",
                             "the study is closed: it takes no more reports");
    if (out != CS_CHECK_OK)
        return cs_http_error(api->metrics, c, 404, false, "unknown_study", "no study '%s'",
                             r->auth.study);
    return cs_http_bytes(c, 204, NULL, NULL, 0, false, NULL);
}

static json_t *alert_json(const cs_alert_rec *a)
{
    return json_pack("{s:I, s:s, s:I, s:s, s:o, s:o}", "id", (json_int_t)a->id, "kind", a->kind,
                     "raised_at_ms", (json_int_t)a->raised_at_ms, "message", a->message, "acked_by",
                     a->acked_at_ms ? json_string(a->acked_by) : json_null(), "acked_at_ms",
                     a->acked_at_ms ? json_integer(a->acked_at_ms) : json_null());
}

/* GET /api/v1/studies/{id}/alerts: newest first. */
enum MHD_Result cs_api_alerts(const cs_api *api, struct MHD_Connection *c, cs_req *r)
{
    enum MHD_Result ret;
    if (cs_ws_need_study(api, c, r->id, &ret))
        return ret;
    cs_alert_rec *al = NULL;
    size_t n = 0;
    cs_error e = {0};
    if (cs_store_alerts_list(api->store, r->id, &al, &n, &e) != CS_OK)
        return cs_http_error(api->metrics, c, 503, false, "store_unavailable", "%s", e.msg);
    json_t *arr = json_array();
    size_t open = 0;
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(arr, alert_json(&al[i]));
        open += al[i].acked_at_ms == 0;
    }
    free(al);
    return cs_http_json(c, 200, json_pack("{s:o, s:I}", "alerts", arr, "open", (json_int_t)open),
                        false, NULL);
}

/* POST /api/v1/studies/{id}/alerts/{n}/ack */
enum MHD_Result cs_api_alert_ack(const cs_api *api, struct MHD_Connection *c, cs_req *r)
{
    enum MHD_Result ret;
    if (cs_ws_need_study(api, c, r->id, &ret))
        return ret;
    cs_alert_rec a;
    cs_check_outcome out;
    cs_error e = {0};
    if (cs_store_alert_ack(api->store, r->id, (int64_t)r->num, r->auth.user, cs_now_ms(), &out, &a,
                           &e) != CS_OK)
        return cs_http_error(api->metrics, c, 503, false, "store_unavailable", "%s", e.msg);
    if (out == CS_CHECK_NOT_FOUND)
        return cs_http_error(api->metrics, c, 404, false, "unknown_alert",
                             "study '%s' has no alert %llu", r->id, (unsigned long long)r->num);
    if (out == CS_CHECK_CONFLICT)
        return cs_http_error(api->metrics, c, 409, false, "already_acked",
                             "alert %llu was acknowledged by %s", (unsigned long long)r->num,
                             a.acked_by);
    cs_audit(api->audit, &r->auth, "alert.ack", r->id, "alert %lld (%s)", (long long)a.id, a.kind);
    cs_signals_progress(api->signals); /* the monitor shows it */
    return cs_http_json(c, 200, alert_json(&a), false, NULL);
}

json_t *cs_ws_prep_json(const cs_api *api, const char *study, const cs_protocol *p, cs_error *err)
{
    cs_prep_tick_rec *ticks = NULL;
    size_t nt = 0;
    if (cs_store_prep_ticks(api->store, study, &ticks, &nt, err) != CS_OK)
        return NULL;
    json_t *prep = json_array();
    for (int i = 0; i < p->nprep; i++) {
        int64_t done = 0;
        for (size_t k = 0; k < nt; k++)
            if (strcmp(ticks[k].step, p->prep[i].id) == 0)
                done = ticks[k].at_ms;
        json_array_append_new(prep, json_pack("{s:s, s:s, s:s, s:s, s:o}", "id", p->prep[i].id,
                                              "day", p->prep[i].day, "time", p->prep[i].time,
                                              "text", p->prep[i].text, "done_at_ms",
                                              done ? json_integer(done) : json_null()));
    }
    free(ticks);
    return prep;
}

static json_t *hub_json(const cs_hub_status_rec *h)
{
    if (!h->at_ms)
        return json_null();
    return json_pack("{s:I, s:i, s:i, s:i, s:s, s:s}", "at_ms", (json_int_t)h->at_ms, "battery_pct",
                     h->battery_pct, "signal_dbm", h->signal_dbm, "spool_used_pct",
                     h->spool_used_pct, "recorder", h->recorder, "message", h->message);
}

/* GET /api/v1/studies/{id}/care: stage, hub, protocol. */
enum MHD_Result cs_api_care(const cs_api *api, struct MHD_Connection *c, cs_req *r)
{
    cs_study_rec sr;
    cs_error e = {0};
    enum MHD_Result ret;
    if (cs_ws_read_study(api, c, r->id, &sr, &ret))
        return ret;
    cs_care_facts f;
    cs_protocol p;
    char *text = NULL;
    if (cs_care_facts_of(api->care, &sr, &f, &e) != CS_OK ||
        cs_care_protocol_of(api->care, r->id, &p, &text, &e) != CS_OK)
        return cs_http_error(api->metrics, c, 503, false, "store_unavailable", "%s", e.msg);
    json_t *proto = json_loads(text, 0, NULL);
    free(text);
    /* The prep schedule with the patient's ticks (the report page fills
     * its checklist from it). */
    json_t *prep = cs_ws_prep_json(api, r->id, &p, &e);
    if (!prep) {
        json_decref(proto);
        return cs_http_error(api->metrics, c, 503, false, "store_unavailable", "%s", e.msg);
    }
    return cs_http_json(c, 200,
                        json_pack("{s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o}", "study", r->id,
                                  "stage", cs_care_stage(&f), "first_byte_ms",
                                  f.first_byte_ms ? json_integer(f.first_byte_ms) : json_null(),
                                  "last_byte_ms",
                                  f.last_byte_ms ? json_integer(f.last_byte_ms) : json_null(),
                                  "closed", json_boolean(f.closed), "hub", hub_json(&f.hub),
                                  "protocol", proto ? proto : json_null(), "prep", prep),
                        false, NULL);
}

/* POST /api/v1/studies/{id}/stage {"stage": S, "seq"?: N}: one click on
 * the monitor marks the stage as the landmark it stands for, at frame N or
 * the latest analysed frame (without N, only when not marked yet). */
enum MHD_Result cs_api_stage(const cs_api *api, struct MHD_Connection *c, cs_req *r)
{
    static const struct {
        const char *stage, *landmark;
    } STAGES[] = {
        {"stomach", "first_gastric"},
        {"small_bowel", "first_duodenal"},
        {"colon", "first_caecal"},
        {"excreted", "excreted"},
    };
    enum MHD_Result ret;
    json_t *o = cs_http_body_json(api->metrics, c, r, &ret);
    if (!o)
        return ret;
    const char *stage = json_string_value(json_object_get(o, "stage"));
    json_t *seq = json_object_get(o, "seq");
    const char *landmark = NULL;
    for (size_t i = 0; stage && i < sizeof STAGES / sizeof STAGES[0]; i++)
        if (strcmp(stage, STAGES[i].stage) == 0)
            landmark = STAGES[i].landmark;
    cs_study_rec sr;
    cs_error e = {0};
    cs_mark_rec m = {0};
    if (!landmark) {
        ret = cs_http_error(api->metrics, c, 400, false, "bad_stage",
                            "body needs {\"stage\": stomach|small_bowel|colon|excreted}");
        goto done;
    }
    if (cs_ws_read_study(api, c, r->id, &sr, &ret))
        goto done;
    if (seq && (!json_is_integer(seq) || json_integer_value(seq) < 0 ||
                (uint64_t)json_integer_value(seq) >= sr.next_seq)) {
        ret = cs_http_error(api->metrics, c, 400, false, "bad_range",
                            "seq must be a frame of the study (it has %llu)",
                            (unsigned long long)sr.next_seq);
        goto done;
    }
    if (!seq && sr.next_seq == 0) {
        ret = cs_http_error(api->metrics, c, 409, false, "no_frames",
                            "the study has no analysed frame to mark yet");
        goto done;
    }
    snprintf(m.kind, sizeof m.kind, "landmark");
    snprintf(m.key, sizeof m.key, "%s", landmark);
    snprintf(m.by, sizeof m.by, "%s", r->auth.user);
    m.at_ms = cs_now_ms();
    m.seq = seq ? json_integer_value(seq) : (int64_t)sr.next_seq - 1;
    /* A click without a frame on a stage already marked changes nothing:
     * it would move the landmark (perhaps a reader's, set on the exact
     * frame) to the latest frame, and with it the report's transit times.
     * Moving it takes a frame (the viewer's correction). So without a
     * frame the landmark is only added, in one statement: a mark set
     * meanwhile, on any server, is kept and named. After signing a click
     * changes nothing either way, and says so as a change would (409
     * report_signed). */
    cs_change_outcome out = CS_CHANGE_OK;
    if ((seq ? cs_store_mark_set(api->store, r->id, &m, &out, &e)
             : cs_store_mark_add(api->store, r->id, &m, &out, &e)) != CS_OK) {
        ret = cs_http_error(api->metrics, c, 503, false, "store_unavailable", "%s", e.msg);
        goto done;
    }
    if (!seq && out == CS_CHANGE_CONFLICT) {
        int64_t have = -1;
        cs_mark_rec *ms = NULL;
        size_t n = 0;
        if (cs_store_marks_list(api->store, r->id, &ms, &n, &e) != CS_OK) {
            ret = cs_http_error(api->metrics, c, 503, false, "store_unavailable", "%s", e.msg);
            goto done;
        }
        for (size_t i = 0; i < n && have < 0; i++)
            if (strcmp(ms[i].kind, "landmark") == 0 && strcmp(ms[i].key, landmark) == 0)
                have = ms[i].seq;
        free(ms);
        /* removed again in between: say so rather than name no frame */
        if (have < 0 && cs_ws_change_failed(api, c, CS_CHANGE_CONFLICT, "stage", &ret))
            goto done;
        ret = cs_http_json(c, 200,
                           json_pack("{s:s, s:s, s:I, s:b}", "stage", stage, "landmark", landmark,
                                     "seq", (json_int_t)have, "unchanged", 1),
                           false, NULL);
        goto done;
    }
    if (cs_ws_change_failed(api, c, out, "stage", &ret))
        goto done;
    cs_audit(api->audit, &r->auth, "stage.mark", r->id, "%s (%s) at frame %lld", stage, landmark,
             (long long)m.seq);
    cs_care_wake(api->care);
    cs_signals_progress(api->signals);
    ret = cs_http_json(c, 200,
                       json_pack("{s:s, s:s, s:I}", "stage", stage, "landmark", landmark, "seq",
                                 (json_int_t)m.seq),
                       false, NULL);
done:
    json_decref(o);
    return ret;
}

/* ---- the care team's monitor ------------------------------------------------ */

static json_t *tile_json(const cs_api *api, const cs_study_rec *sr, const cs_care_facts *f,
                         cs_error *err)
{
    cs_alert_rec *al = NULL;
    size_t n = 0;
    if (cs_store_alerts_list(api->store, sr->id, &al, &n, err) != CS_OK)
        return NULL;
    json_t *open = json_array();
    for (size_t i = 0; i < n; i++)
        if (!al[i].acked_at_ms)
            json_array_append_new(open, alert_json(&al[i]));
    free(al);
    cs_prep_tick_rec *ticks = NULL;
    size_t nt = 0;
    if (cs_store_prep_ticks(api->store, sr->id, &ticks, &nt, err) != CS_OK) {
        json_decref(open);
        return NULL;
    }
    json_t *prep = json_array();
    for (size_t i = 0; i < nt; i++)
        json_array_append_new(prep, json_pack("{s:s, s:I}", "id", ticks[i].step, "done_at_ms",
                                              (json_int_t)ticks[i].at_ms));
    free(ticks);
    double rate = cs_care_frames_per_min(api->care, sr->id);
    return json_pack("{s:s, s:s, s:I, s:s, s:o, s:o, s:I, s:o, s:o, s:o, s:o}", "study", sr->id,
                     "label", sr->label, "created_at", (json_int_t)sr->created_at, "stage",
                     cs_care_stage(f), "first_byte_ms",
                     f->first_byte_ms ? json_integer(f->first_byte_ms) : json_null(),
                     "last_byte_ms", f->last_byte_ms ? json_integer(f->last_byte_ms) : json_null(),
                     "frames", (json_int_t)f->n_frames, "frames_per_min",
                     rate >= 0 ? json_real((double)(int64_t)(rate * 10 + 0.5) / 10) : json_null(),
                     "hub", hub_json(&f->hub), "open_alerts", open, "prep_done", prep);
}

/* Alerts ordered by study, to find a study's among them. */
static int alert_study_cmp(const void *a, const void *b)
{
    return strcmp(((const cs_alert_rec *)a)->study, ((const cs_alert_rec *)b)->study);
}

/* The open alerts the monitor reads at most (the newest): far more than a
 * ward can have open; past it a study not live may miss its tile (and is
 * logged). */
#define MONITOR_OPEN_ALERTS_MAX 10000

json_t *cs_api_monitor_json(const cs_api *api, cs_error *err)
{
    cs_study_rec *studies = NULL;
    cs_alert_rec *open = NULL;
    size_t n = 0, n_open = 0;
    if (cs_store_alerts_open(api->store, MONITOR_OPEN_ALERTS_MAX, &open, &n_open, err) != CS_OK)
        return NULL;
    if (n_open == MONITOR_OPEN_ALERTS_MAX)
        fprintf(stderr,
                "capscreen: monitor: %d open alerts or more: studies that are not live "
                "may be missing from the monitor\n",
                MONITOR_OPEN_ALERTS_MAX);
    /* `excreted` only says the recording is complete: it brings no study
     * back to the monitor (every study that ended would otherwise stay). */
    size_t kept = 0;
    for (size_t i = 0; i < n_open; i++)
        if (strcmp(open[i].kind, "excreted") != 0)
            open[kept++] = open[i];
    n_open = kept;
    if (n_open)
        qsort(open, n_open, sizeof *open, alert_study_cmp);
    if (cs_store_studies_list(api->store, &studies, &n, err) != CS_OK) {
        free(open);
        return NULL;
    }
    /* Live studies first; the others, shown for their open alerts, after. */
    json_t *tiles = json_array(), *others = json_array();
    for (size_t i = 0; i < n; i++) {
        cs_care_facts f;
        if (studies[i].training)
            continue; /* no patient's study */
        /* A study not live (closed, not started, imported) is shown while it
         * has an open alert: a patient's call request before the hub
         * started, or an alert left open when the study was closed, would
         * otherwise be on no screen. */
        cs_alert_rec key;
        snprintf(key.study, sizeof key.study, "%s", studies[i].id);
        bool has_open = n_open && bsearch(&key, open, n_open, sizeof *open, alert_study_cmp);
        if (studies[i].closed_at_ms && !has_open)
            continue;
        if (cs_care_facts_of(api->care, &studies[i], &f, err) != CS_OK) {
            json_decref(tiles);
            tiles = NULL;
            break;
        }
        bool live = cs_care_is_live(&studies[i], &f.hub);
        if (!live && !has_open)
            continue; /* not started, or imported from a file */
        json_t *t = tile_json(api, &studies[i], &f, err);
        if (!t) {
            json_decref(tiles);
            tiles = NULL;
            break;
        }
        json_object_set_new(t, "live", json_boolean(live));
        json_object_set_new(t, "closed", json_boolean(studies[i].closed_at_ms != 0));
        json_array_append_new(live ? tiles : others, t);
    }
    free(studies);
    free(open);
    if (tiles)
        json_array_extend(tiles, others);
    json_decref(others);
    return tiles ? json_pack("{s:o}", "studies", tiles) : NULL;
}

/* GET /api/v1/monitor */
enum MHD_Result cs_api_monitor(const cs_api *api, struct MHD_Connection *c, cs_req *r)
{
    (void)r;
    cs_error e = {0};
    json_t *o = cs_api_monitor_json(api, &e);
    if (!o)
        return cs_http_error(api->metrics, c, 503, false, "store_unavailable", "%s", e.msg);
    return cs_http_json(c, 200, o, false, NULL);
}

/* GET /api/v1/studies/{id}/latest.jpg: the thumbnail of the study's latest
 * frame that has an image (the monitor's live picture), for every staff
 * role; audited with the frames a session is served. */
enum MHD_Result cs_api_latest_image(const cs_api *api, struct MHD_Connection *c, cs_req *r)
{
    cs_study_rec sr;
    cs_error e = {0};
    enum MHD_Result ret;
    if (cs_ws_read_study(api, c, r->id, &sr, &ret))
        return ret;
    /* The latest few frames: a damaged record has no image. */
    for (uint64_t k = 0; k < 8 && k < sr.next_seq; k++) {
        uint64_t seq = sr.next_seq - 1 - k;
        uint8_t *img = NULL;
        size_t len = 0;
        bool has = false;
        cs_status st = cs_media_thumb(api->media, r->id, seq, &has, &img, &len, &e);
        if (st == CS_ERR_CORRUPT)
            continue; /* a frame that does not decode: an earlier one */
        if (st != CS_OK)
            return cs_http_error(api->metrics, c, 503, false, "media_unavailable", "%s", e.msg);
        if (!has)
            continue;
        cs_audit_frame_viewed(api->audit, &r->auth, r->id, seq);
        char s_seq[24];
        snprintf(s_seq, sizeof s_seq, "%llu", (unsigned long long)seq);
        const char *h[] = {"Cache-Control", "no-store", "X-Frame-Seq", s_seq, NULL};
        return cs_http_bytes(c, 200, "image/jpeg", img, len, true, h);
    }
    return cs_http_error(api->metrics, c, 404, false, "no_image",
                         "study '%s' has no analysed frame with an image yet", r->id);
}
