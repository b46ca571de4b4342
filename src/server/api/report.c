/* report.c - the study's structured report: read, save (reader or
 * consultant, until signed), sign (consultant only; read-only after), and
 * the printable HTML with its key frames embedded, so a saved copy stands
 * on its own (docs/workstation.md). */
#include <sodium.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server/api/api_int.h"
#include "server/core/vocabulary.h"
#include "server/media/media.h"

#define KEY_FRAMES_MAX 24
#define TEXT_MAX 8000 /* findings_text, comments, prep_checklist */

/* The report's own choices; recommendations and finding types are the
 * shared vocabulary (core/vocabulary.h). "" (not recorded) is allowed. */
static const cs_vocab_word ADEQUACY[] = {
    {"adequate", "Adequate"}, {"inadequate", "Inadequate"}, {NULL, NULL}};
static const cs_vocab_word COMPLETENESS[] = {
    {"complete", "Complete"}, {"incomplete", "Incomplete"}, {NULL, NULL}};

cs_status cs_ws_report_state(const cs_api *api, const char *study, char *state, size_t cap,
                             cs_error *err)
{
    bool found = false;
    cs_report_rec *r = malloc(sizeof *r);
    if (!r)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory");
    cs_status st = cs_store_report_get(api->store, study, &found, r, err);
    snprintf(state, cap, "%s", st == CS_OK && found ? r->state : "");
    free(r);
    return st;
}

static json_t *report_json(const cs_report_rec *r)
{
    json_t *content = json_loads(r->content, 0, NULL);
    return json_pack("{s:s, s:s, s:i, s:s, s:I, s:s, s:I, s:o}", "study", r->study, "state",
                     r->state, "version", r->version, "updated_by", r->updated_by, "updated_at_ms",
                     (json_int_t)r->updated_at_ms, "signed_by", r->signed_by, "signed_at_ms",
                     (json_int_t)r->signed_at_ms, "content", content ? content : json_object());
}

/* Validate a save body's content and rebuild it with known fields only. */
static json_t *clean_content(const cs_api *api, struct MHD_Connection *c, json_t *in,
                             uint64_t frames, enum MHD_Result *ret)
{
    const char *text_keys[] = {"findings_text", "comments", "prep_checklist"};
    json_t *out = json_object();
    if (!json_is_object(in)) {
        *ret = cs_http_error(api->metrics, c, 400, false, "bad_json", "content must be an object");
        goto fail;
    }
    for (size_t i = 0; i < sizeof text_keys / sizeof text_keys[0]; i++) {
        json_t *v = json_object_get(in, text_keys[i]);
        if (v && (!json_is_string(v) || strlen(json_string_value(v)) > TEXT_MAX)) {
            *ret = cs_http_error(api->metrics, c, 400, false, "bad_json",
                                 "%s must be text of at most %d bytes", text_keys[i], TEXT_MAX);
            goto fail;
        }
        json_object_set_new(out, text_keys[i], json_string(v ? json_string_value(v) : ""));
    }
    struct {
        const char *key;
        const cs_vocab_word *set;
    } enums[] = {{"cleansing_adequacy", ADEQUACY},
                 {"completeness", COMPLETENESS},
                 {"recommendation", cs_vocab_recommendations}};
    for (int i = 0; i < 3; i++) {
        json_t *v = json_object_get(in, enums[i].key);
        const char *t = v ? json_string_value(v) : "";
        if (!t || (t[0] && !cs_vocab_has(enums[i].set, t))) {
            *ret = cs_http_error(api->metrics, c, 400, false, "bad_json", "%s has an unknown value",
                                 enums[i].key);
            goto fail;
        }
        json_object_set_new(out, enums[i].key, json_string(t));
    }
    json_t *kf = json_object_get(in, "key_frames"), *keep = json_array();
    json_object_set_new(out, "key_frames", keep);
    if (kf && (!json_is_array(kf) || json_array_size(kf) > KEY_FRAMES_MAX)) {
        *ret =
            cs_http_error(api->metrics, c, 400, false, "bad_json",
                          "key_frames must be a list of at most %d frame numbers", KEY_FRAMES_MAX);
        goto fail;
    }
    for (size_t i = 0; kf && i < json_array_size(kf); i++) {
        json_t *v = json_array_get(kf, i);
        if (!json_is_integer(v) || json_integer_value(v) < 0 ||
            (uint64_t)json_integer_value(v) >= frames) {
            *ret = cs_http_error(api->metrics, c, 400, false, "bad_json",
                                 "key_frames[%zu] is not a frame of this study", i);
            goto fail;
        }
        json_array_append(keep, v);
    }
    return out;
fail:
    json_decref(out);
    return NULL;
}

static enum MHD_Result save(const cs_api *api, struct MHD_Connection *c, cs_req *r,
                            const cs_auth *a)
{
    enum MHD_Result ret;
    cs_error e = {0};
    cs_study_counts k;
    if (cs_store_study_counts(api->store, r->id, &k, &e) != CS_OK)
        return cs_http_error(api->metrics, c, 503, false, "store_unavailable", "%s", e.msg);
    json_t *o = cs_http_body_json(api->metrics, c, r, &ret);
    if (!o)
        return ret;
    cs_report_rec *rep = calloc(1, sizeof *rep);
    json_t *content = NULL;
    json_t *ver = json_object_get(o, "version");
    const char *state =
        json_object_get(o, "state") ? json_string_value(json_object_get(o, "state")) : "draft";
    if (!rep) {
        ret = MHD_NO;
        goto done;
    }
    if (!state || (strcmp(state, "draft") != 0 && strcmp(state, "read") != 0)) {
        ret = cs_http_error(api->metrics, c, 400, false, "bad_state",
                            "state must be draft or read (signing is POST .../report/sign)");
        goto done;
    }
    if (ver && (!json_is_integer(ver) || json_integer_value(ver) < 0)) {
        ret = cs_http_error(api->metrics, c, 400, false, "bad_version",
                            "version must be a whole number");
        goto done;
    }
    if (!(content = clean_content(api, c, json_object_get(o, "content"), k.frames, &ret)))
        goto done;
    char *text = json_dumps(content, JSON_COMPACT);
    if (!text || strlen(text) >= sizeof rep->content) {
        free(text);
        ret =
            cs_http_error(api->metrics, c, 413, false, "body_too_large", "the report is too long");
        goto done;
    }
    snprintf(rep->content, sizeof rep->content, "%s", text);
    free(text);
    snprintf(rep->study, sizeof rep->study, "%s", r->id);
    snprintf(rep->state, sizeof rep->state, "%s", state);
    snprintf(rep->updated_by, sizeof rep->updated_by, "%s", a->user);
    rep->updated_at_ms = cs_now_ms();
    cs_change_outcome out = CS_CHANGE_OK;
    if (cs_store_report_save(api->store, rep, ver ? (int)json_integer_value(ver) : -1, &out, &e) !=
        CS_OK) {
        ret = cs_http_error(api->metrics, c, 503, false, "store_unavailable", "%s", e.msg);
        goto done;
    }
    if (cs_ws_change_failed(api, c, out, "report", &ret))
        goto done;
    cs_audit(api->audit, a, "report.save", r->id, "version %d, %s", rep->version, rep->state);
    ret = cs_http_json(c, 200, report_json(rep), false, NULL);
done:
    json_decref(content);
    json_decref(o);
    free(rep);
    return ret;
}

enum MHD_Result cs_ws_report(const cs_api *api, struct MHD_Connection *c, cs_req *r)
{
    enum MHD_Result ret;
    cs_auth a;
    cs_error e = {0};
    bool get = strcmp(r->method, "GET") == 0;
    a = r->auth;
    if (cs_ws_need_study(api, c, r->id, &ret))
        return ret;
    if (!get)
        return save(api, c, r, &a);
    cs_report_rec *rep = malloc(sizeof *rep);
    bool found = false;
    if (!rep)
        return MHD_NO;
    if (cs_store_report_get(api->store, r->id, &found, rep, &e) != CS_OK)
        ret = cs_http_error(api->metrics, c, 503, false, "store_unavailable", "%s", e.msg);
    else if (!found)
        ret = cs_http_error(api->metrics, c, 404, false, "no_report",
                            "study '%s' has no report yet", r->id);
    else
        ret = cs_http_json(c, 200, report_json(rep), false, NULL);
    free(rep);
    return ret;
}

/* POST .../report/sign {"version": N}: sign exactly version N, the one
 * the consultant was shown. Every rule (version current, recommendation
 * present, study complete, not signed yet) is checked by the store in the
 * signing transaction, so no save or upload can slip in between. */
enum MHD_Result cs_ws_report_sign(const cs_api *api, struct MHD_Connection *c, cs_req *r)
{
    enum MHD_Result ret;
    cs_auth a;
    cs_error e = {0};
    a = r->auth;
    if (cs_ws_need_study(api, c, r->id, &ret))
        return ret;
    json_t *o = r->body_len ? cs_http_body_json(api->metrics, c, r, &ret) : json_object();
    if (!o)
        return ret;
    json_t *ver = json_object_get(o, "version");
    cs_report_rec *rep = calloc(1, sizeof *rep);
    cs_check_outcome out = CS_CHECK_OK;
    if (!rep) {
        ret = MHD_NO;
        goto done;
    }
    if (!ver) {
        ret = cs_http_error(api->metrics, c, 422, false, "version_required",
                            "send {\"version\": N}, the report version you were shown");
        goto done;
    }
    if (!json_is_integer(ver) || json_integer_value(ver) < 1 ||
        json_integer_value(ver) > INT32_MAX) {
        ret = cs_http_error(api->metrics, c, 422, false, "bad_version",
                            "version must be a report version (a whole number from 1)");
        goto done;
    }
    int shown = (int)json_integer_value(ver);
    if (cs_store_report_sign_checked(api->store, r->id, a.user, cs_now_ms(), shown, &out, rep,
                                     &e) != CS_OK) {
        ret = cs_http_error(api->metrics, c, 503, false, "store_unavailable", "%s", e.msg);
        goto done;
    }
    switch (out) {
    case CS_CHECK_OK:
        cs_audit(api->audit, &a, "report.sign", r->id, "version %d", rep->version);
        cs_ws_pacs_on_sign(api, &a, r->id); /* key frames to the PACS (docs/pacs.md) */
        ret = cs_http_json(c, 200, report_json(rep), false, NULL);
        break;
    case CS_CHECK_NOT_FOUND:
        ret = cs_http_error(api->metrics, c, 404, false, "no_report",
                            "study '%s' has no report to sign", r->id);
        break;
    case CS_CHECK_LOCKED:
        ret = cs_http_error(api->metrics, c, 409, false, "report_signed",
                            "the report is already signed");
        break;
    case CS_CHECK_CONFLICT:
        ret = cs_http_error(api->metrics, c, 409, false, "version_conflict",
                            "version %d is not the current report: it changed since it was "
                            "shown; reload it and review before signing",
                            shown);
        break;
    case CS_CHECK_INVALID:
        ret = cs_http_error(api->metrics, c, 422, false, "no_recommendation",
                            "the report needs a recommendation before it is signed");
        break;
    case CS_CHECK_INCOMPLETE:
        ret = cs_http_error(api->metrics, c, 409, false, "ingest_incomplete",
                            "the study is not complete: uploads are still open or not all "
                            "analysed; a coordinator can close the study "
                            "(POST /api/v1/studies/%s/close)",
                            r->id);
        break;
    default:
        ret = cs_http_error(api->metrics, c, 409, false, cs_check_outcome_name(out),
                            "the report cannot be signed (%s)", cs_check_outcome_name(out));
        break;
    }
done:
    json_decref(o);
    free(rep);
    return ret;
}

/* ---- printable HTML ------------------------------------------------------ */

typedef struct html {
    char *buf;
    size_t len, cap;
    bool failed;
} html;

static void put(html *h, const char *t, size_t n)
{
    if (h->failed)
        return;
    if (h->len + n + 1 > h->cap) {
        size_t cap = (h->cap ? h->cap * 2 : 16384) + n;
        char *b = realloc(h->buf, cap);
        if (!b) {
            h->failed = true;
            return;
        }
        h->buf = b;
        h->cap = cap;
    }
    memcpy(h->buf + h->len, t, n);
    h->len += n;
    h->buf[h->len] = '\0';
}

static void puts_raw(html *h, const char *t) { put(h, t, strlen(t)); }

/* Text with <, >, &, " and ' escaped. */
static void puts_text(html *h, const char *t)
{
    for (; t && *t; t++) {
        switch (*t) {
        case '<': puts_raw(h, "&lt;"); break;
        case '>': puts_raw(h, "&gt;"); break;
        case '&': puts_raw(h, "&amp;"); break;
        case '"': puts_raw(h, "&quot;"); break;
        case '\'': puts_raw(h, "&#39;"); break;
        default: put(h, t, 1);
        }
    }
}

static void putf(html *h, const char *fmt, ...) CS_PRINTF(2, 3);
static void putf(html *h, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    puts_raw(h, tmp);
}

static void put_time(html *h, int64_t ms)
{
    char t[64];
    time_t sec = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&sec, &tm);
    strftime(t, sizeof t, "%Y-%m-%d %H:%M UTC", &tm);
    puts_raw(h, t);
}

static const char *label_of(const char *v)
{
    const cs_vocab_word *const lists[] = {cs_vocab_recommendations, ADEQUACY, COMPLETENESS,
                                          cs_vocab_finding_types};
    for (size_t l = 0; l < sizeof lists / sizeof lists[0]; l++)
        for (size_t i = 0; lists[l][i].name; i++)
            if (strcmp(v, lists[l][i].name) == 0)
                return lists[l][i].label;
    return v[0] ? v : "not recorded";
}

static void put_key_frame(const cs_api *api, html *h, const char *study, uint64_t seq)
{
    uint8_t *img = NULL;
    size_t len = 0;
    bool found = false;
    cs_error e = {0};
    if (cs_media_frame(api->media, study, seq, &found, &img, &len, &e) != CS_OK || !found) {
        putf(h, "<figure><figcaption>frame %llu: no image</figcaption></figure>",
             (unsigned long long)seq);
        return;
    }
    size_t b64len = sodium_base64_encoded_len(len, sodium_base64_VARIANT_ORIGINAL);
    char *b64 = malloc(b64len);
    if (b64) {
        sodium_bin2base64(b64, b64len, img, len, sodium_base64_VARIANT_ORIGINAL);
        puts_raw(h, "<figure><img alt=\"key frame\" src=\"data:image/jpeg;base64,");
        puts_raw(h, b64);
        putf(h, "\"><figcaption>frame %llu</figcaption></figure>", (unsigned long long)seq);
    }
    free(b64);
    free(img);
}

enum MHD_Result cs_ws_report_html(const cs_api *api, struct MHD_Connection *c, cs_req *r)
{
    cs_auth a;
    cs_error e = {0};
    a = r->auth;
    cs_study_rec sr;
    bool found = false;
    if (cs_store_study_get(api->store, r->id, &found, &sr, &e) != CS_OK)
        return cs_http_error(api->metrics, c, 503, false, "store_unavailable", "%s", e.msg);
    if (!found)
        return cs_http_error(api->metrics, c, 404, false, "unknown_study", "no study '%s'", r->id);
    cs_report_rec *rep = malloc(sizeof *rep);
    cs_finding_rec *fs = NULL;
    size_t nf = 0;
    html h = {0};
    if (!rep)
        return MHD_NO;
    if (cs_store_report_get(api->store, r->id, &found, rep, &e) != CS_OK ||
        cs_store_findings_list(api->store, r->id, false, &fs, &nf, &e) != CS_OK) {
        free(rep);
        return cs_http_error(api->metrics, c, 503, false, "store_unavailable", "%s", e.msg);
    }
    if (!found) {
        free(rep);
        free(fs);
        return cs_http_error(api->metrics, c, 404, false, "no_report",
                             "study '%s' has no report yet", r->id);
    }
    json_t *ct = json_loads(rep->content, 0, NULL);
#define FIELD(k) \
    (json_string_value(json_object_get(ct, k)) ? json_string_value(json_object_get(ct, k)) : "")
    puts_raw(&h,
             "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
             "<title>Capsule endoscopy report</title><style>"
             "body{font:15px/1.5 system-ui,sans-serif;max-width:50em;margin:2em auto;color:#111}"
             "h1{font-size:1.4em}h2{font-size:1.1em;border-bottom:1px solid #999}"
             "table{border-collapse:collapse}td,th{border:1px solid #bbb;padding:.2em "
             ".5em;text-align:left}"
             "figure{display:inline-block;margin:.3em}img{max-width:14em}"
             ".sig{margin-top:2em;padding:.5em;border:2px solid #333}"
             "@media print{body{margin:0}}</style></head><body>");
    puts_raw(&h, "<h1>Capsule endoscopy report</h1><p>Study <b>");
    puts_text(&h, sr.id);
    puts_raw(&h, "</b>");
    if (sr.label[0]) {
        puts_raw(&h, " &middot; ");
        puts_text(&h, sr.label);
    }
    puts_raw(&h, "</p><h2>Findings</h2>");
    if (nf == 0) {
        puts_raw(&h, "<p>No findings recorded.</p>");
    } else {
        puts_raw(&h, "<table><tr><th>Type</th><th>Frames</th><th>Size</th><th>Note</th></tr>");
        for (size_t i = 0; i < nf; i++) {
            puts_raw(&h, "<tr><td>");
            puts_text(&h, label_of(fs[i].type));
            putf(&h, "</td><td>%llu", (unsigned long long)fs[i].seq_from);
            if (fs[i].seq_to != fs[i].seq_from)
                putf(&h, "&ndash;%llu", (unsigned long long)fs[i].seq_to);
            puts_raw(&h, "</td><td>");
            if (fs[i].size_mm >= 0)
                putf(&h, "%.0f mm", fs[i].size_mm);
            puts_raw(&h, "</td><td>");
            puts_text(&h, fs[i].note);
            puts_raw(&h, "</td></tr>");
        }
        puts_raw(&h, "</table>");
    }
    puts_raw(&h, "<p>");
    puts_text(&h, FIELD("findings_text"));
    puts_raw(&h, "</p><h2>Assessment</h2><table><tr><th>Cleansing</th><td>");
    puts_text(&h, label_of(FIELD("cleansing_adequacy")));
    puts_raw(&h, "</td></tr><tr><th>Completeness</th><td>");
    puts_text(&h, label_of(FIELD("completeness")));
    puts_raw(&h, "</td></tr><tr><th>Recommendation</th><td><b>");
    puts_text(&h, label_of(FIELD("recommendation")));
    puts_raw(&h, "</b></td></tr></table>");
    if (FIELD("prep_checklist")[0]) {
        /* As saved in the report (and so as signed), never read live. */
        puts_raw(&h, "<h2>Bowel preparation: the patient's checklist</h2><p style=\"white-space:"
                     "pre-line\">");
        puts_text(&h, FIELD("prep_checklist"));
        puts_raw(&h, "</p>");
    }
    if (FIELD("comments")[0]) {
        puts_raw(&h, "<h2>Comments</h2><p>");
        puts_text(&h, FIELD("comments"));
        puts_raw(&h, "</p>");
    }
    json_t *kf = json_object_get(ct, "key_frames");
    if (json_array_size(kf) > 0) {
        puts_raw(&h, "<h2>Key frames</h2>");
        for (size_t i = 0; i < json_array_size(kf) && i < KEY_FRAMES_MAX; i++)
            put_key_frame(api, &h, r->id, (uint64_t)json_integer_value(json_array_get(kf, i)));
    }
    puts_raw(&h, "<div class=\"sig\">");
    if (strcmp(rep->state, "signed") == 0) {
        puts_raw(&h, "Signed by <b>");
        puts_text(&h, rep->signed_by);
        puts_raw(&h, "</b> on ");
        put_time(&h, rep->signed_at_ms);
    } else {
        puts_raw(&h, "<b>Not signed</b> (");
        puts_text(&h, rep->state);
        puts_raw(&h, ") &mdash; last saved by ");
        puts_text(&h, rep->updated_by);
        puts_raw(&h, " on ");
        put_time(&h, rep->updated_at_ms);
    }
    puts_raw(&h, "</div></body></html>\n");
#undef FIELD
    json_decref(ct);
    free(fs);
    free(rep);
    if (h.failed) {
        free(h.buf);
        return MHD_NO;
    }
    cs_audit(api->audit, &a, "report.export", r->id, "printable HTML");
    const char *hd[] = {"Cache-Control", "no-store", "Content-Security-Policy",
                        "default-src 'none'; img-src data:; style-src 'unsafe-inline'", NULL};
    return cs_http_bytes(c, 200, "text/html; charset=utf-8", h.buf, h.len, true, hd);
}
