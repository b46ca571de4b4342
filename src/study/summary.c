/* summary.c - the streaming study-summary writer. */
#include "capscreen/summary.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define JSON_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(6))
/* A frame counts towards adequate cleansing from this visibility on. */
#define ADEQUATE_VISIBILITY 0.5f

typedef struct ranked {
    float priority; /* review_priority() */
    uint64_t seq;
    char name[CS_NAME_MAX];
    bool bleeding, polyp;
    float bleeding_probability, polyp_probability;
} ranked;

/* Findings a frame is flagged for, as bits. */
enum { FLAG_BLEEDING = 1, FLAG_POLYP = 2 };

static unsigned flags_of(const cs_frame_result *r)
{
    return (r->bleeding ? FLAG_BLEEDING : 0u) | (r->polyp ? FLAG_POLYP : 0u);
}

/* Review order: frames flagged for any finding first (1 + the highest
 * probability among their flagged findings), then the rest by their
 * highest probability. */
static float review_priority(const cs_frame_result *r)
{
    float flagged = -1.0f;
    if (r->bleeding)
        flagged = r->bleeding_probability;
    if (r->polyp && r->polyp_probability > flagged)
        flagged = r->polyp_probability;
    if (flagged >= 0.0f)
        return 1.0f + flagged;
    return r->bleeding_probability > r->polyp_probability ? r->bleeding_probability
                                                          : r->polyp_probability;
}

struct cs_summary {
    FILE *out;
    cs_summary_opts opts;
    FILE *reduced_tmp, *errors_tmp;
    uint64_t n_reduced, n_errors, n_frames_written;

    cs_outcome *run; /* the open run, at most opts.max_run outcomes */
    int run_len;
    bool run_flagged; /* the open run holds a flagged frame (at most one) */
    uint64_t run_id;
    bool have_prev;
    uint8_t prev_sig[CS_SIG_LEN];
    float prev_distance; /* distance of run[run_len-1] to its predecessor */
    float *run_distance; /* per frame in the run; NAN for the first */

    ranked *heap;           /* min-heap on (priority, -seq) of the top_n */
    int heap_len, heap_cap; /* cap grows to top_n as frames come */

    cs_summary_counts counts;
    double sum_visibility, sum_bubble, sum_debris, sum_dark;
    uint64_t adequate;
};

void cs_summary_opts_default(cs_summary_opts *o)
{
    memset(o, 0, sizeof *o);
    o->threshold = 0.5f;
    o->top_n = 200;
    o->redundancy_distance = 4.0f;
    o->max_run = 256;
}

static cs_status io_fail(cs_error *err, const char *what)
{
    return cs_error_set(err, CS_ERR_IO, "cannot write summary (%s): %s", what, strerror(errno));
}

static cs_status put_json(FILE *f, json_t *j, const char *prefix, cs_error *err)
{
    if (!j)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory building summary");
    int rc = (prefix && fputs(prefix, f) == EOF) || json_dumpf(j, f, JSON_FLAGS) != 0;
    json_decref(j);
    return rc ? io_fail(err, "json") : CS_OK;
}

/* A JSON string for a name that may not be UTF-8 (file names are bytes):
 * valid UTF-8 is kept, any other byte becomes "\xNN" text, so the summary
 * stays valid JSON and the reader can still tell which file it was. */
static json_t *name_json(const char *name)
{
    json_t *j = json_string(name);
    if (j)
        return j;
    char clean[CS_NAME_MAX * 4 + 1];
    size_t o = 0;
    const unsigned char *p = (const unsigned char *)name;
    while (*p && o + 5 < sizeof clean) {
        int len = *p < 0x80         ? 1
                  : (*p >> 5) == 6  ? 2
                  : (*p >> 4) == 14 ? 3
                  : (*p >> 3) == 30 ? 4
                                    : 0;
        int ok = len > 0;
        for (int k = 1; ok && k < len; k++)
            ok = (p[k] & 0xC0) == 0x80;
        if (ok && len > 1) {
            json_t *probe = json_stringn((const char *)p, (size_t)len);
            ok = probe != NULL; /* rejects overlongs and surrogates */
            json_decref(probe);
        }
        if (ok) {
            memcpy(clean + o, p, (size_t)len);
            o += (size_t)len;
            p += len;
        } else {
            o += (size_t)snprintf(clean + o, sizeof clean - o, "\\x%02X", *p);
            p++;
        }
    }
    clean[o] = '\0';
    return json_string(clean);
}

/* 6 significant digits, so output does not drift with float noise. */
static json_t *num(double v)
{
    if (!isfinite(v))
        return json_null();
    return json_real(v);
}

static json_t *frame_json(const cs_summary *s, const cs_outcome *o, float distance, uint64_t run,
                          bool representative)
{
    json_t *f = json_object();
    json_object_set_new(f, "seq", json_integer((json_int_t)o->seq));
    json_object_set_new(f, "name", name_json(o->name));
    if (o->frame_index >= 0)
        json_object_set_new(f, "frame_index", json_integer(o->frame_index));
    if (o->capture_time_us >= 0)
        json_object_set_new(f, "capture_time_us", json_integer(o->capture_time_us));
    if (!o->ok) {
        json_object_set_new(f, "error", json_string(cs_status_name(o->status)));
        json_object_set_new(f, "reason", name_json(o->reason));
        return f;
    }
    const cs_frame_result *r = &o->result;
    const cs_quality *q = &r->quality;
    json_object_set_new(f, "width", json_integer(o->width));
    json_object_set_new(f, "height", json_integer(o->height));
    json_object_set_new(f, "exposure", json_string(cs_exposure_name(q->exposure)));
    json_object_set_new(f, "mean_luma", num(q->mean_luma));
    json_object_set_new(f, "sharpness", num(q->sharpness));
    json_object_set_new(f, "sharpness_score", num(q->sharpness_score));
    json_object_set_new(f, "blurry", json_boolean(q->blurry));
    json_object_set_new(f, "visibility", num(q->visibility));
    json_object_set_new(f, "bubbles", num(q->bubble_fraction));
    json_object_set_new(f, "debris", num(q->debris_fraction));
    json_object_set_new(f, "dark_lumen", num(q->dark_lumen_fraction));
    json_object_set_new(f, "readable", json_boolean(q->readable));
    json_object_set_new(f, "bleeding_probability", num(r->bleeding_probability));
    json_object_set_new(f, "bleeding", json_boolean(r->bleeding));
    json_t *boxes = json_array();
    for (int i = 0; i < r->n_boxes; i++) {
        const cs_box *b = &r->boxes[i];
        json_array_append_new(boxes,
                              json_pack("{s:o,s:o,s:o,s:o,s:o}", "x", num(b->x), "y", num(b->y),
                                        "w", num(b->w), "h", num(b->h), "score", num(b->score)));
    }
    json_object_set_new(f, "boxes", boxes);
    json_object_set_new(f, "polyp_probability", num(r->polyp_probability));
    json_object_set_new(f, "polyp", json_boolean(r->polyp));
    /* Polyp boxes of a flagged frame, in the frame's own pixels. */
    json_t *pboxes = json_array();
    for (int i = 0; r->polyp && i < r->n_polyp_boxes; i++) {
        const cs_box *b = &r->polyp_boxes[i];
        long px[4];
        cs_box_pixels(b, o->width, o->height, px);
        json_array_append_new(pboxes, json_pack("{s:I,s:I,s:I,s:I,s:o}", "x", (json_int_t)px[0],
                                                "y", (json_int_t)px[1], "w", (json_int_t)px[2], "h",
                                                (json_int_t)px[3], "score", num(b->score)));
    }
    json_object_set_new(f, "polyp_boxes", pboxes);
    json_object_set_new(f, "redundancy",
                        json_pack("{s:o,s:I,s:b}", "distance_prev", num(distance), "run",
                                  (json_int_t)run, "representative", representative));
    (void)s;
    return f;
}

/* Which frame of a run a reader should see: its flagged frame above all (a
 * reduced view must never hide blood or a polyp; cs_summary_add gives a run
 * at most one flagged frame), then a readable one, then the clearest; the
 * earliest wins ties. */
static int representative_of(const cs_outcome *run, int n)
{
    int best = 0;
    for (int i = 1; i < n; i++) {
        const cs_frame_result *a = &run[i].result, *b = &run[best].result;
        bool fa = flags_of(a) != 0, fb = flags_of(b) != 0;
        if (fa != fb) {
            if (fa)
                best = i;
            continue;
        }
        if (a->quality.readable != b->quality.readable) {
            if (a->quality.readable)
                best = i;
            continue;
        }
        float qa = a->quality.sharpness_score * a->quality.visibility;
        float qb = b->quality.sharpness_score * b->quality.visibility;
        if (qa > qb)
            best = i;
    }
    return best;
}

static cs_status write_frame(cs_summary *s, json_t *f, cs_error *err)
{
    const char *sep = s->n_frames_written++ ? ",\n" : "\n";
    return put_json(s->out, f, sep, err);
}

static cs_status close_run(cs_summary *s, cs_error *err)
{
    if (s->run_len == 0)
        return CS_OK;
    int rep = representative_of(s->run, s->run_len);
    uint64_t id = s->run_id++;
    for (int i = 0; i < s->run_len; i++) {
        cs_status st =
            write_frame(s, frame_json(s, &s->run[i], s->run_distance[i], id, i == rep), err);
        if (st != CS_OK)
            return st;
    }
    json_t *r = json_pack("{s:I,s:I,s:o,s:I,s:I,s:i}", "run", (json_int_t)id, "representative",
                          (json_int_t)s->run[rep].seq, "name", name_json(s->run[rep].name), "first",
                          (json_int_t)s->run[0].seq, "last", (json_int_t)s->run[s->run_len - 1].seq,
                          "length", s->run_len);
    cs_status st = put_json(s->reduced_tmp, r, s->n_reduced++ ? ",\n" : "\n", err);
    s->counts.runs++;
    s->counts.redundant += (uint64_t)(s->run_len - 1);
    s->run_len = 0;
    return st;
}

static bool ranks_below(const ranked *a, const ranked *b)
{
    /* Lower priority ranks below; on ties the later frame ranks below. */
    return a->priority < b->priority || (a->priority == b->priority && a->seq > b->seq);
}

/* Room for one more ranked frame while the heap is under top_n. The heap
 * grows with the frames seen, not to top_n at the start: a --top larger
 * than any study ("rank them all") must not allocate for frames that never
 * come. False when out of memory. */
static bool heap_reserve(cs_summary *s)
{
    if (s->heap_len < s->heap_cap || s->heap_len >= s->opts.top_n)
        return true;
    int cap = s->heap_cap < s->opts.top_n / 2 ? s->heap_cap * 2 : s->opts.top_n;
    if (cap < 1)
        cap = 1;
    ranked *h = realloc(s->heap, (size_t)cap * sizeof *h);
    if (!h)
        return false;
    s->heap = h;
    s->heap_cap = cap;
    return true;
}

static void heap_push(cs_summary *s, const cs_outcome *o)
{
    const cs_frame_result *res = &o->result;
    ranked r = {review_priority(res),  o->seq,     {0},
                res->bleeding,         res->polyp, res->bleeding_probability,
                res->polyp_probability};
    memcpy(r.name, o->name, sizeof r.name);
    int n = s->opts.top_n;
    if (n <= 0)
        return;
    if (s->heap_len == n) {
        if (!ranks_below(&s->heap[0], &r))
            return;
        /* Replace the root and sift down. */
        int i = 0;
        for (;;) {
            int l = 2 * i + 1, m = i;
            ranked *cand = &r;
            if (l < n && ranks_below(&s->heap[l], cand)) {
                m = l;
                cand = &s->heap[l];
            }
            if (l + 1 < n && ranks_below(&s->heap[l + 1], cand))
                m = l + 1;
            if (m == i)
                break;
            s->heap[i] = s->heap[m];
            i = m;
        }
        s->heap[i] = r;
        return;
    }
    int i = s->heap_len++;
    while (i > 0 && ranks_below(&r, &s->heap[(i - 1) / 2])) {
        s->heap[i] = s->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    s->heap[i] = r;
}

cs_status cs_summary_begin(FILE *out, const cs_summary_opts *opts, cs_summary **sum, cs_error *err)
{
    cs_summary *s = calloc(1, sizeof *s);
    *sum = NULL;
    if (!s)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory starting summary");
    s->out = out;
    s->opts = *opts;
    if (s->opts.max_run < 1)
        s->opts.max_run = 1;
    s->run = malloc((size_t)s->opts.max_run * sizeof *s->run);
    s->run_distance = malloc((size_t)s->opts.max_run * sizeof *s->run_distance);
    s->heap_cap = s->opts.top_n < 256 ? s->opts.top_n : 256;
    s->heap = malloc((size_t)(s->heap_cap > 0 ? s->heap_cap : 1) * sizeof *s->heap);
    s->reduced_tmp = tmpfile();
    s->errors_tmp = tmpfile();
    if (!s->run || !s->run_distance || !s->heap || !s->reduced_tmp || !s->errors_tmp) {
        cs_summary_free(s);
        return cs_error_set(err, CS_ERR_IO, "cannot start summary: %s", strerror(errno));
    }
    /* the weights' CRC as 8 hex digits, as the audit log's server.start
     * entry names it: which weights flagged these frames */
    char crc[9];
    snprintf(crc, sizeof crc, "%08x", (unsigned)opts->polyp_weights_crc32c);
    const bool pm = opts->polyp_model_path != NULL;
    json_t *head = json_pack(
        "{s:i,s:{s:s?,s:s?},s:{s:s?,s:o},s:{s:s?,s:o,s:o,s:s?,s:o}}", "capscreen_summary",
        CS_SUMMARY_VERSION, "source", "path", opts->source_path, "type", opts->source_type, "model",
        "path", opts->model_path, "threshold", num(opts->threshold), "polyp_model", "path",
        opts->polyp_model_path, "threshold", pm ? num(opts->polyp_threshold) : json_null(),
        "weights_threshold", pm ? num(opts->polyp_weights_threshold) : json_null(), "crc32c",
        pm ? crc : NULL, "networks", pm ? json_integer(opts->polyp_networks) : json_null());
    /* how a version-4 file's scores were read; absent for one pass, so
     * that a summary made with a version 1-3 file is as it always was */
    if (head && pm && opts->polyp_crops_in_score)
        json_object_set_new(json_object_get(head, "polyp_model"), "crop_gate",
                            num(opts->polyp_crop_gate));
    /* 9 digits in the header: its thresholds read back as the floats the
     * detectors compared with (6 would not: 0.0405177586 -> 0.0405178). */
    char *text = head ? json_dumps(head, JSON_COMPACT | JSON_REAL_PRECISION(9)) : NULL;
    json_decref(head);
    if (!text) {
        cs_summary_free(s);
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory starting summary");
    }
    /* Drop the closing brace: the frames array streams in after it. */
    text[strlen(text) - 1] = '\0';
    int rc = fprintf(out, "%s,\"frames\":[", text);
    free(text);
    if (rc < 0) {
        cs_summary_free(s);
        return io_fail(err, "header");
    }
    *sum = s;
    return CS_OK;
}

cs_status cs_summary_add(void *ctx, const cs_outcome *o, cs_error *err)
{
    cs_summary *s = ctx;
    cs_status st;
    s->counts.frames++;
    if (!o->ok) {
        /* A broken frame ends the open run, so frames stay in order. */
        if ((st = close_run(s, err)) != CS_OK)
            return st;
        s->have_prev = false;
        s->counts.failed++;
        json_t *e =
            json_pack("{s:I,s:o,s:s,s:o}", "seq", (json_int_t)o->seq, "name", name_json(o->name),
                      "reason_code", cs_status_name(o->status), "reason", name_json(o->reason));
        if ((st = put_json(s->errors_tmp, e, s->n_errors++ ? ",\n" : "\n", err)) != CS_OK)
            return st;
        return write_frame(s, frame_json(s, o, NAN, 0, false), err);
    }

    if (!heap_reserve(s))
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory ranking %d frames for review",
                            s->heap_len + 1);
    const cs_frame_result *r = &o->result;
    s->counts.analysed++;
    s->counts.readable += r->quality.readable;
    s->counts.too_dark += r->quality.exposure == CS_EXPOSURE_TOO_DARK;
    s->counts.too_bright += r->quality.exposure == CS_EXPOSURE_TOO_BRIGHT;
    s->counts.blurry += r->quality.blurry;
    s->counts.bleeding += r->bleeding;
    s->counts.polyp += r->polyp;
    s->sum_visibility += r->quality.visibility;
    s->sum_bubble += r->quality.bubble_fraction;
    s->sum_debris += r->quality.debris_fraction;
    s->sum_dark += r->quality.dark_lumen_fraction;
    s->adequate += r->quality.visibility >= ADEQUATE_VISIBILITY;
    heap_push(s, o);

    float d = s->have_prev ? cs_signature_distance(s->prev_sig, r->signature) : NAN;
    bool joins = s->have_prev && d <= s->opts.redundancy_distance && s->run_len > 0 &&
                 s->run_len < s->opts.max_run;
    /* A reduced view never hides a flagged frame: a run holds at most one,
     * which is then its representative (representative_of). A second
     * flagged frame starts a new run, however alike the two look: a run
     * may drift over its length, and two near-identical frames may still
     * show two lesions. The live analysis keeps every flagged frame in its
     * reduced view the same way (src/server/ingest/ingest.c, redundant). */
    bool flagged = flags_of(r) != 0;
    if (joins && flagged && s->run_flagged)
        joins = false;
    if (!joins) {
        if ((st = close_run(s, err)) != CS_OK)
            return st;
        s->run_flagged = flagged;
    } else {
        s->run_flagged = s->run_flagged || flagged;
    }
    s->run[s->run_len] = *o;
    s->run_distance[s->run_len] = d;
    s->run_len++;
    memcpy(s->prev_sig, r->signature, CS_SIG_LEN);
    s->have_prev = true;
    return CS_OK;
}

static int ranked_desc(const void *a, const void *b)
{
    const ranked *x = a, *y = b;
    if (ranks_below(x, y))
        return 1;
    if (ranks_below(y, x))
        return -1;
    return 0;
}

static cs_status copy_section(cs_summary *s, FILE *tmp, const char *name, cs_error *err)
{
    char buf[65536];
    size_t n;
    if (fprintf(s->out, "],\n\"%s\":[", name) < 0 || fflush(tmp) != 0 ||
        fseek(tmp, 0, SEEK_SET) != 0)
        return io_fail(err, name);
    while ((n = fread(buf, 1, sizeof buf, tmp)) > 0)
        if (fwrite(buf, 1, n, s->out) != n)
            return io_fail(err, name);
    return ferror(tmp) ? io_fail(err, name) : CS_OK;
}

static const char *cleansing_grade(double mean_visibility)
{
    if (mean_visibility >= 0.75)
        return "excellent";
    if (mean_visibility >= 0.60)
        return "good";
    if (mean_visibility >= 0.45)
        return "fair";
    return "poor";
}

cs_status cs_summary_finish(cs_summary *s, cs_error *err)
{
    cs_status st = close_run(s, err);
    if (st != CS_OK)
        return st;
    if ((st = copy_section(s, s->reduced_tmp, "reduced_view", err)) != CS_OK)
        return st;
    if (fputs("],\n\"ranked_for_review\":[", s->out) == EOF)
        return io_fail(err, "ranking");
    qsort(s->heap, (size_t)s->heap_len, sizeof *s->heap, ranked_desc);
    for (int i = 0; i < s->heap_len; i++) {
        const ranked *r = &s->heap[i];
        json_t *j =
            json_pack("{s:i,s:I,s:o,s:o,s:o,s:b,s:o,s:b}", "rank", i + 1, "seq", (json_int_t)r->seq,
                      "name", name_json(r->name), "priority", num(r->priority),
                      "bleeding_probability", num(r->bleeding_probability), "bleeding", r->bleeding,
                      "polyp_probability", num(r->polyp_probability), "polyp", r->polyp);
        if ((st = put_json(s->out, j, i ? ",\n" : "\n", err)) != CS_OK)
            return st;
    }
    const cs_summary_counts *c = &s->counts;
    double n = c->analysed ? (double)c->analysed : 1.0;
    double mean_vis = s->sum_visibility / n;
    json_t *tail = json_pack(
        "{s:{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I},"
        "s:{s:o,s:o,s:s,s:b,s:o,s:o,s:o}}",
        "counts", "frames", (json_int_t)c->frames, "analysed", (json_int_t)c->analysed, "failed",
        (json_int_t)c->failed, "readable", (json_int_t)c->readable, "too_dark",
        (json_int_t)c->too_dark, "too_bright", (json_int_t)c->too_bright, "blurry",
        (json_int_t)c->blurry, "bleeding_flagged", (json_int_t)c->bleeding, "polyp_flagged",
        (json_int_t)c->polyp, "runs", (json_int_t)c->runs, "redundant", (json_int_t)c->redundant,
        "cleansing", "mean_visibility", num(c->analysed ? mean_vis : NAN), "adequate_fraction",
        num(c->analysed ? (double)s->adequate / n : NAN), "grade",
        c->analysed ? cleansing_grade(mean_vis) : "unknown", "adequate",
        c->analysed && mean_vis >= 0.60, "mean_bubbles", num(c->analysed ? s->sum_bubble / n : NAN),
        "mean_debris", num(c->analysed ? s->sum_debris / n : NAN), "mean_dark_lumen",
        num(c->analysed ? s->sum_dark / n : NAN));
    if (!tail)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory finishing summary");
    /* Splice the tail object's members in after the ranking. */
    char *text = json_dumps(tail, JSON_FLAGS);
    json_decref(tail);
    if (!text)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory finishing summary");
    text[strlen(text) - 1] = '\0';
    int rc = fprintf(s->out, "],\n%s,", text + 1);
    free(text);
    if (rc < 0)
        return io_fail(err, "counts");
    if (fputs("\n\"errors\":[", s->out) == EOF)
        return io_fail(err, "errors");
    /* copy_section writes "],\n\"name\":[" first; do it by hand here. */
    {
        char buf[65536];
        size_t k;
        if (fflush(s->errors_tmp) != 0 || fseek(s->errors_tmp, 0, SEEK_SET) != 0)
            return io_fail(err, "errors");
        while ((k = fread(buf, 1, sizeof buf, s->errors_tmp)) > 0)
            if (fwrite(buf, 1, k, s->out) != k)
                return io_fail(err, "errors");
    }
    if (fputs("]}\n", s->out) == EOF || fflush(s->out) != 0)
        return io_fail(err, "end");
    return CS_OK;
}

const cs_summary_counts *cs_summary_get_counts(const cs_summary *s) { return &s->counts; }

void cs_summary_free(cs_summary *s)
{
    if (!s)
        return;
    if (s->reduced_tmp)
        fclose(s->reduced_tmp);
    if (s->errors_tmp)
        fclose(s->errors_tmp);
    free(s->run);
    free(s->run_distance);
    free(s->heap);
    free(s);
}
