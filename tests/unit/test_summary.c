/* test_summary.c - the streaming study summary (src/study/summary.c) fed
 * with hand-made outcomes: valid JSON, frame order, redundant runs and
 * their representatives, broken frames, run splitting, the review ranking,
 * counts, and byte-identical output for identical input.
 *
 * Signatures are filled by hand: a signature of all `v` bytes is at
 * distance |v - w| from one of all `w`, so runs are easy to arrange. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "capscreen/summary.h"
#include "testutil.h"

/* ---- building outcomes --------------------------------------------------- */

static cs_outcome good(uint64_t seq, uint8_t sig, float prob)
{
    cs_outcome o;
    memset(&o, 0, sizeof o);
    o.seq = seq;
    snprintf(o.name, sizeof o.name, "f%03llu.jpg", (unsigned long long)seq);
    o.frame_index = (int64_t)seq;
    o.capture_time_us = 1000 * (int64_t)seq;
    o.ok = true;
    o.status = CS_OK;
    o.width = o.height = 640;
    cs_quality *q = &o.result.quality;
    q->mean_luma = 120;
    q->exposure = CS_EXPOSURE_OK;
    q->sharpness = 500;
    q->sharpness_score = 0.5f;
    q->visibility = 0.8f;
    q->readable = true;
    o.result.bleeding_probability = prob;
    o.result.bleeding = prob >= 0.5f;
    memset(o.result.signature, sig, CS_SIG_LEN);
    return o;
}

static cs_outcome broken(uint64_t seq, cs_status st, const char *reason)
{
    cs_outcome o;
    memset(&o, 0, sizeof o);
    o.seq = seq;
    snprintf(o.name, sizeof o.name, "f%03llu.jpg", (unsigned long long)seq);
    o.frame_index = -1;
    o.capture_time_us = -1;
    o.ok = false;
    o.status = st;
    snprintf(o.reason, sizeof o.reason, "%s", reason);
    return o;
}

static cs_summary_opts opts_default(void)
{
    cs_summary_opts o;
    cs_summary_opts_default(&o);
    o.source_path = "/studies/s1";
    o.source_type = "folder";
    o.model_path = "models/bleeding-xgb.json";
    o.threshold = 0.5f;
    return o;
}

/* ---- running a summary ------------------------------------------------------ */

typedef struct result {
    json_t *root;
    char *text; /* the whole output */
    size_t len;
    cs_summary_counts counts;
} result;

/* Feed `n` outcomes, finish, and parse the output from a file on disk. */
static result summarise(const cs_outcome *o, size_t n, const cs_summary_opts *opts)
{
    static char dir[4096];
    static int k;
    char path[4200];
    if (!dir[0]) {
        const char *d = tu_tmpdir();
        assert_non_null(d);
        snprintf(dir, sizeof dir, "%s", d);
    }
    snprintf(path, sizeof path, "%s/summary-%d.json", dir, k++);
    FILE *f = fopen(path, "w");
    assert_non_null(f);

    cs_summary *sum = NULL;
    cs_error err = {0};
    assert_int_equal(cs_summary_begin(f, opts, &sum, &err), CS_OK);
    cs_status st = CS_OK;
    size_t added = 0;
    while (st == CS_OK && added < n)
        st = cs_summary_add(sum, &o[added++], &err);
    if (st == CS_OK)
        st = cs_summary_finish(sum, &err);
    if (st != CS_OK) {
        cs_summary_free(sum); /* no leak report on top of the failure */
        fclose(f);
        fail_msg("summary failed at outcome %zu of %zu: %s", added, n, err.msg);
    }
    result r;
    memset(&r, 0, sizeof r);
    r.counts = *cs_summary_get_counts(sum);
    cs_summary_free(sum);
    assert_int_equal(fclose(f), 0);

    r.text = (char *)tu_read_file(path, &r.len);
    assert_non_null(r.text);
    json_error_t jerr;
    r.root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (!r.root)
        fail_msg("summary is not valid JSON: %s at line %d col %d", jerr.text, jerr.line,
                 jerr.column);
    return r;
}

static void result_free(result *r)
{
    json_decref(r->root);
    free(r->text);
}

static json_t *section(const result *r, const char *name)
{
    json_t *a = json_object_get(r->root, name);
    assert_non_null(a);
    return a;
}

static json_int_t int_at(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_integer(v))
        fail_msg("key '%s' missing or not an integer", key);
    return json_integer_value(v);
}

static json_t *frame(const result *r, size_t i)
{
    json_t *f = json_array_get(section(r, "frames"), i);
    assert_non_null(f);
    return f;
}

static json_t *redundancy(json_t *frame_obj)
{
    json_t *red = json_object_get(frame_obj, "redundancy");
    assert_non_null(red);
    return red;
}

/* o flagged (at 0.5) or not for a polyp of probability prob, one box. */
static cs_outcome with_polyp(cs_outcome o, float prob)
{
    o.result.polyp_probability = prob;
    o.result.polyp = prob >= 0.5f;
    o.result.n_polyp_boxes = 1;
    o.result.polyp_boxes[0] = (cs_box){0.25f, 0.5f, 0.125f, 0.25f, prob};
    return o;
}

/* The scenario most tests read:
 *   0-2   one run (signatures 10, 11, 12), frame 1 flagged bleeding
 *   3-5   one run (100, 101, 102), frame 3 not readable, frame 4 sharpest
 *   6     broken (truncated)
 *   7     signature 102 again, but the broken frame breaks the run
 *   8     a frame of its own (200) */
static size_t scenario(cs_outcome *o)
{
    o[0] = good(0, 10, 0.10f);
    o[1] = good(1, 11, 0.90f);
    o[1].result.quality.readable = false; /* blood wins even when unreadable */
    o[1].result.quality.sharpness_score = 0.1f;
    o[2] = good(2, 12, 0.20f);
    o[2].result.quality.sharpness_score = 0.95f;
    o[3] = good(3, 100, 0.05f);
    o[3].result.quality.readable = false;
    o[3].result.quality.sharpness_score = 0.99f;
    o[4] = good(4, 101, 0.30f);
    o[4].result.quality.sharpness_score = 0.90f;
    o[5] = good(5, 102, 0.40f);
    o[5].result.quality.sharpness_score = 0.30f;
    o[6] = broken(6, CS_ERR_TRUNCATED, "truncated JPEG: premature end");
    o[7] = good(7, 102, 0.45f);
    o[8] = good(8, 200, 0.01f);
    return 9;
}

/* ---- tests ------------------------------------------------------------------ */

static void test_summary_is_valid_json_with_header_and_frames_in_order(void **state)
{
    (void)state;
    cs_outcome o[16];
    size_t n = scenario(o);
    cs_summary_opts opts = opts_default();
    result r = summarise(o, n, &opts);

    assert_int_equal(int_at(r.root, "capscreen_summary"), CS_SUMMARY_VERSION);
    json_t *src = section(&r, "source");
    assert_string_equal(json_string_value(json_object_get(src, "path")), "/studies/s1");
    assert_string_equal(json_string_value(json_object_get(src, "type")), "folder");
    json_t *model = section(&r, "model");
    assert_float_equal(json_real_value(json_object_get(model, "threshold")), 0.5, 1e-6);

    json_t *frames = section(&r, "frames");
    assert_int_equal(json_array_size(frames), n);
    for (size_t i = 0; i < n; i++) {
        json_t *f = frame(&r, i);
        assert_int_equal(int_at(f, "seq"), (json_int_t)i);
        assert_string_equal(json_string_value(json_object_get(f, "name")), o[i].name);
    }
    json_t *f1 = frame(&r, 1);
    assert_true(json_is_true(json_object_get(f1, "bleeding")));
    assert_float_equal(json_real_value(json_object_get(f1, "bleeding_probability")), 0.9, 1e-5);
    assert_int_equal(int_at(f1, "frame_index"), 1);
    assert_int_equal(int_at(f1, "capture_time_us"), 1000);
    assert_int_equal(int_at(f1, "width"), 640);
    result_free(&r);
}

static void test_run_of_near_identical_frames_is_represented_by_the_bleeding_one(void **state)
{
    (void)state;
    cs_outcome o[16];
    size_t n = scenario(o);
    cs_summary_opts opts = opts_default();
    result r = summarise(o, n, &opts);

    json_t *rv = section(&r, "reduced_view");
    json_t *run0 = json_array_get(rv, 0);
    assert_non_null(run0);
    assert_int_equal(int_at(run0, "first"), 0);
    assert_int_equal(int_at(run0, "last"), 2);
    assert_int_equal(int_at(run0, "length"), 3);
    /* Frame 1 is blurry and unreadable, frame 2 is sharper: the reduced
     * view must still show the bleeding frame. */
    assert_int_equal(int_at(run0, "representative"), 1);
    assert_string_equal(json_string_value(json_object_get(run0, "name")), "f001.jpg");

    /* The frames say the same. */
    json_int_t id = int_at(redundancy(frame(&r, 0)), "run");
    for (size_t i = 0; i < 3; i++) {
        json_t *red = redundancy(frame(&r, i));
        assert_int_equal(int_at(red, "run"), id);
        assert_int_equal(json_is_true(json_object_get(red, "representative")), i == 1);
    }
    assert_true(json_is_null(json_object_get(redundancy(frame(&r, 0)), "distance_prev")));
    assert_float_equal(json_real_value(json_object_get(redundancy(frame(&r, 1)), "distance_prev")),
                       1.0, 1e-6);
    assert_int_not_equal(int_at(redundancy(frame(&r, 3)), "run"), id);
    result_free(&r);
}

static void test_every_bleeding_frame_of_near_identical_frames_is_shown(void **state)
{
    (void)state;
    /* three near-identical bleeding frames, then two clean ones: each
     * bleeding frame represents a run of its own (a reduced view never
     * hides a flagged frame), and the clean repeats join the last one */
    cs_outcome o[5] = {good(0, 50, 0.7f), good(1, 51, 0.95f), good(2, 52, 0.6f), good(3, 52, 0.1f),
                       good(4, 53, 0.1f)};
    cs_summary_opts opts = opts_default();
    result r = summarise(o, 5, &opts);
    json_t *rv = section(&r, "reduced_view");
    assert_int_equal(json_array_size(rv), 3);
    for (int i = 0; i < 3; i++)
        assert_int_equal(int_at(json_array_get(rv, (size_t)i), "representative"), i);
    assert_int_equal(int_at(json_array_get(rv, 2), "last"), 4);
    assert_int_equal(r.counts.redundant, 2);
    result_free(&r);
}

static void test_clean_frames_before_a_flagged_one_are_represented_by_it(void **state)
{
    (void)state;
    /* clean, clean, polyp, clean, then a second polyp frame still alike:
     * two runs, each shown by its polyp frame */
    cs_outcome o[5] = {good(0, 40, 0.1f), good(1, 41, 0.1f), with_polyp(good(2, 42, 0.1f), 0.7f),
                       good(3, 43, 0.1f), with_polyp(good(4, 44, 0.1f), 0.6f)};
    o[2].result.quality.sharpness_score = 0.01f; /* flagged wins over sharp */
    cs_summary_opts opts = opts_default();
    result r = summarise(o, 5, &opts);
    json_t *rv = section(&r, "reduced_view");
    assert_int_equal(json_array_size(rv), 2);
    assert_int_equal(int_at(json_array_get(rv, 0), "first"), 0);
    assert_int_equal(int_at(json_array_get(rv, 0), "last"), 3);
    assert_int_equal(int_at(json_array_get(rv, 0), "representative"), 2);
    assert_int_equal(int_at(json_array_get(rv, 1), "representative"), 4);
    for (size_t i = 0; i < 5; i++) {
        json_t *f = frame(&r, i);
        if (json_is_true(json_object_get(f, "polyp")))
            assert_true(json_is_true(json_object_get(redundancy(f), "representative")));
    }
    result_free(&r);
}

static void test_run_without_blood_is_represented_by_a_readable_sharp_frame(void **state)
{
    (void)state;
    cs_outcome o[16];
    size_t n = scenario(o);
    cs_summary_opts opts = opts_default();
    result r = summarise(o, n, &opts);
    json_t *run1 = json_array_get(section(&r, "reduced_view"), 1);
    assert_non_null(run1);
    assert_int_equal(int_at(run1, "first"), 3);
    assert_int_equal(int_at(run1, "last"), 5);
    /* Frame 3 is the sharpest but unreadable; of the readable 4 and 5,
     * frame 4 is sharper. */
    assert_int_equal(int_at(run1, "representative"), 4);
    result_free(&r);
}

static void test_broken_frame_is_an_error_entry_and_breaks_the_run(void **state)
{
    (void)state;
    cs_outcome o[16];
    size_t n = scenario(o);
    cs_summary_opts opts = opts_default();
    result r = summarise(o, n, &opts);

    json_t *errors = section(&r, "errors");
    assert_int_equal(json_array_size(errors), 1);
    json_t *e = json_array_get(errors, 0);
    assert_int_equal(int_at(e, "seq"), 6);
    assert_string_equal(json_string_value(json_object_get(e, "name")), "f006.jpg");
    assert_string_equal(json_string_value(json_object_get(e, "reason_code")),
                        cs_status_name(CS_ERR_TRUNCATED));
    assert_string_equal(json_string_value(json_object_get(e, "reason")),
                        "truncated JPEG: premature end");

    /* The broken frame keeps its place among the frames. */
    json_t *f6 = frame(&r, 6);
    assert_string_equal(json_string_value(json_object_get(f6, "error")),
                        cs_status_name(CS_ERR_TRUNCATED));
    assert_null(json_object_get(f6, "bleeding"));

    /* Frame 7 has frame 5's signature but starts a new run. */
    json_t *rv = section(&r, "reduced_view");
    assert_int_equal(json_array_size(rv), 4);
    json_t *run2 = json_array_get(rv, 2);
    assert_int_equal(int_at(run2, "first"), 7);
    assert_int_equal(int_at(run2, "last"), 7);
    assert_true(json_is_null(json_object_get(redundancy(frame(&r, 7)), "distance_prev")));
    assert_int_not_equal(int_at(redundancy(frame(&r, 7)), "run"),
                         int_at(redundancy(frame(&r, 5)), "run"));
    result_free(&r);
}

static void test_reduced_view_covers_every_analysed_frame_once(void **state)
{
    (void)state;
    cs_outcome o[16];
    size_t n = scenario(o);
    cs_summary_opts opts = opts_default();
    result r = summarise(o, n, &opts);
    json_t *rv = section(&r, "reduced_view");
    int covered[16] = {0};
    json_int_t prev_last = -1;
    for (size_t i = 0; i < json_array_size(rv); i++) {
        json_t *run = json_array_get(rv, i);
        json_int_t first = int_at(run, "first"), last = int_at(run, "last");
        json_int_t rep = int_at(run, "representative");
        assert_true(first > prev_last && first <= last);
        assert_true(rep >= first && rep <= last);
        assert_int_equal(int_at(run, "length"), last - first + 1);
        assert_int_equal(int_at(run, "run"), (json_int_t)i);
        for (json_int_t s = first; s <= last; s++)
            covered[s]++;
        prev_last = last;
    }
    for (size_t i = 0; i < n; i++)
        assert_int_equal(covered[i], o[i].ok ? 1 : 0);
    result_free(&r);
}

static void test_max_run_splits_long_runs(void **state)
{
    (void)state;
    cs_outcome o[10];
    for (int i = 0; i < 10; i++)
        o[i] = good((uint64_t)i, 77, 0.1f); /* all identical */
    cs_summary_opts opts = opts_default();
    opts.max_run = 4;
    result r = summarise(o, 10, &opts);
    json_t *rv = section(&r, "reduced_view");
    assert_int_equal(json_array_size(rv), 3);
    static const int first[] = {0, 4, 8}, len[] = {4, 4, 2};
    for (int i = 0; i < 3; i++) {
        json_t *run = json_array_get(rv, (size_t)i);
        assert_int_equal(int_at(run, "first"), first[i]);
        assert_int_equal(int_at(run, "length"), len[i]);
    }
    assert_int_equal(r.counts.runs, 3);
    assert_int_equal(r.counts.redundant, 7);
    result_free(&r);

    /* Without the cap they are one run. */
    opts.max_run = 256;
    r = summarise(o, 10, &opts);
    assert_int_equal(json_array_size(section(&r, "reduced_view")), 1);
    result_free(&r);
}

static void test_distance_over_threshold_starts_a_new_run(void **state)
{
    (void)state;
    cs_outcome o[3] = {good(0, 10, 0.1f), good(1, 14, 0.1f), good(2, 19, 0.1f)};
    cs_summary_opts opts = opts_default();
    opts.redundancy_distance = 4.0f;
    /* 10 -> 14 is exactly the distance (joins), 14 -> 19 is over it. */
    result r = summarise(o, 3, &opts);
    json_t *rv = section(&r, "reduced_view");
    assert_int_equal(json_array_size(rv), 2);
    assert_int_equal(int_at(json_array_get(rv, 0), "last"), 1);
    assert_int_equal(int_at(json_array_get(rv, 1), "first"), 2);
    result_free(&r);
}

static void test_ranking_by_probability_then_seq_limited_to_top_n(void **state)
{
    (void)state;
    static const float p[] = {0.5f, 0.9f, 0.5f, 0.2f, 0.9f, 0.7f, 0.5f};
    cs_outcome o[8];
    for (int i = 0; i < 7; i++)
        o[i] = good((uint64_t)i, (uint8_t)(40 * i), p[i]);
    o[7] = broken(7, CS_ERR_CORRUPT, "bad"); /* never ranked */
    cs_summary_opts opts = opts_default();
    opts.top_n = 5;
    result r = summarise(o, 8, &opts);
    json_t *rk = section(&r, "ranked_for_review");
    static const int want[] = {1, 4, 5, 0, 2}; /* seq 6 (0.5) loses the tie */
    assert_int_equal(json_array_size(rk), 5);
    for (size_t i = 0; i < 5; i++) {
        json_t *e = json_array_get(rk, i);
        assert_int_equal(int_at(e, "rank"), (json_int_t)i + 1);
        assert_int_equal(int_at(e, "seq"), want[i]);
        assert_float_equal(json_real_value(json_object_get(e, "bleeding_probability")), p[want[i]],
                           1e-5);
        assert_int_equal(json_is_true(json_object_get(e, "bleeding")), p[want[i]] >= 0.5f);
    }
    result_free(&r);

    opts.top_n = 0;
    r = summarise(o, 8, &opts);
    assert_int_equal(json_array_size(section(&r, "ranked_for_review")), 0);
    result_free(&r);
}

static int by_prob_desc_seq_asc(const void *a, const void *b)
{
    const cs_outcome *x = a, *y = b;
    float px = x->result.bleeding_probability, py = y->result.bleeding_probability;
    if (px != py)
        return px < py ? 1 : -1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void test_ranking_matches_a_full_sort_on_many_frames(void **state)
{
    (void)state;
    enum { N = 600, TOP = 50 };
    cs_outcome *o = malloc(N * sizeof *o), *sorted = malloc(N * sizeof *o);
    assert_non_null(o);
    assert_non_null(sorted);
    uint32_t x = 7;
    for (int i = 0; i < N; i++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        /* 40 distinct values: plenty of ties around the cut-off. */
        o[i] = good((uint64_t)i, (uint8_t)(x >> 8), (float)(x % 40) / 40.0f);
    }
    memcpy(sorted, o, N * sizeof *o);
    qsort(sorted, N, sizeof *sorted, by_prob_desc_seq_asc);
    cs_summary_opts opts = opts_default();
    opts.top_n = TOP;
    result r = summarise(o, N, &opts);
    json_t *rk = section(&r, "ranked_for_review");
    assert_int_equal(json_array_size(rk), TOP);
    for (size_t i = 0; i < TOP; i++)
        assert_int_equal(int_at(json_array_get(rk, i), "seq"), (json_int_t)sorted[i].seq);
    result_free(&r);
    free(o);
    free(sorted);
}

static void test_counts_match_the_outcomes(void **state)
{
    (void)state;
    cs_outcome o[16];
    size_t n = scenario(o);
    o[8].result.quality.exposure = CS_EXPOSURE_TOO_DARK;
    o[8].result.quality.readable = false;
    o[7].result.quality.exposure = CS_EXPOSURE_TOO_BRIGHT;
    o[7].result.quality.readable = false;
    o[0].result.quality.blurry = true;
    o[0].result.quality.readable = false;
    cs_summary_opts opts = opts_default();
    result r = summarise(o, n, &opts);
    json_t *c = section(&r, "counts");
    assert_int_equal(int_at(c, "frames"), 9);
    assert_int_equal(int_at(c, "analysed"), 8);
    assert_int_equal(int_at(c, "failed"), 1);
    /* readable: 2, 4, 5 (0 blurry, 1 and 3 unreadable, 7 and 8 exposure). */
    assert_int_equal(int_at(c, "readable"), 3);
    assert_int_equal(int_at(c, "too_dark"), 1);
    assert_int_equal(int_at(c, "too_bright"), 1);
    assert_int_equal(int_at(c, "blurry"), 1);
    assert_int_equal(int_at(c, "bleeding_flagged"), 1);
    assert_int_equal(int_at(c, "runs"), 4);
    assert_int_equal(int_at(c, "redundant"), 4);
    /* The counts the API returns are the ones written. */
    assert_int_equal(r.counts.frames, 9);
    assert_int_equal(r.counts.failed, 1);
    assert_int_equal(r.counts.readable, 3);
    assert_int_equal(r.counts.runs, 4);
    json_t *cl = section(&r, "cleansing");
    assert_float_equal(json_real_value(json_object_get(cl, "mean_visibility")), 0.8, 1e-5);
    assert_string_equal(json_string_value(json_object_get(cl, "grade")), "excellent");
    result_free(&r);
}

static void test_empty_study_gives_valid_empty_summary(void **state)
{
    (void)state;
    cs_summary_opts opts = opts_default();
    opts.source_path = NULL; /* optional */
    result r = summarise(NULL, 0, &opts);
    assert_int_equal(json_array_size(section(&r, "frames")), 0);
    assert_int_equal(json_array_size(section(&r, "reduced_view")), 0);
    assert_int_equal(json_array_size(section(&r, "ranked_for_review")), 0);
    assert_int_equal(json_array_size(section(&r, "errors")), 0);
    assert_int_equal(int_at(section(&r, "counts"), "frames"), 0);
    json_t *cl = section(&r, "cleansing");
    assert_true(json_is_null(json_object_get(cl, "mean_visibility")));
    assert_string_equal(json_string_value(json_object_get(cl, "grade")), "unknown");
    result_free(&r);
}

static void test_same_outcomes_give_byte_identical_summary(void **state)
{
    (void)state;
    cs_outcome o[16];
    size_t n = scenario(o);
    cs_summary_opts opts = opts_default();
    result a = summarise(o, n, &opts), b = summarise(o, n, &opts);
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.text, b.text, a.len);
    /* And a different study does not. */
    o[4].result.bleeding_probability = 0.31f;
    result c = summarise(o, n, &opts);
    assert_true(c.len != a.len || memcmp(a.text, c.text, a.len) != 0);
    result_free(&a);
    result_free(&b);
    result_free(&c);
}

static void test_write_failure_is_io_error(void **state)
{
    (void)state;
    FILE *f = fopen("/dev/full", "w");
    if (!f) {
        printf("SKIP: /dev/full not available\n");
        skip();
    }
    cs_outcome o[16];
    size_t n = scenario(o);
    cs_summary_opts opts = opts_default();
    cs_summary *sum = NULL;
    cs_error err = {0};
    cs_status st = cs_summary_begin(f, &opts, &sum, &err);
    for (size_t i = 0; st == CS_OK && i < n; i++)
        st = cs_summary_add(sum, &o[i], &err);
    if (st == CS_OK)
        st = cs_summary_finish(sum, &err);
    assert_int_equal(st, CS_ERR_IO);
    assert_int_equal(err.code, CS_ERR_IO);
    assert_true(strlen(err.msg) > 0);
    cs_summary_free(sum);
    fclose(f);
}

/* A frame name that is not valid UTF-8 (a Latin-1 file name in a folder
 * study) once made jansson refuse the string and lost the whole summary;
 * now invalid bytes are written as "\xNN" text and the summary stays valid. */
static void test_non_utf8_frame_name_does_not_break_the_summary(void **state)
{
    (void)state;
    cs_outcome o[3] = {good(0, 10, 0.1f), good(1, 100, 0.9f), broken(2, CS_ERR_CORRUPT, "x")};
    snprintf(o[1].name, sizeof o[1].name, "caf\xe9.jpg");
    snprintf(o[2].name, sizeof o[2].name, "na\xefve.jpg");
    cs_summary_opts opts = opts_default();
    result r = summarise(o, 3, &opts);
    assert_int_equal(json_array_size(section(&r, "frames")), 3);
    assert_string_equal(json_string_value(json_object_get(frame(&r, 1), "name")), "caf\\xE9.jpg");
    assert_int_equal(json_array_size(section(&r, "errors")), 1);
    result_free(&r);
}

/* ---- polyps ----------------------------------------------------------------- */

static void test_polyp_frame_represents_its_run_with_boxes_in_pixels(void **state)
{
    (void)state;
    /* a clean sharp frame, a blurry unreadable polyp frame, a clean one */
    cs_outcome o[3] = {good(0, 60, 0.1f), with_polyp(good(1, 61, 0.1f), 0.8f), good(2, 62, 0.1f)};
    o[1].result.quality.readable = false;
    o[1].result.quality.sharpness_score = 0.05f;
    o[1].width = 320;
    o[1].height = 200;
    cs_summary_opts opts = opts_default();
    opts.polyp_model_path = "models/polyp-unet.bin";
    opts.polyp_threshold = 0.5f;
    opts.polyp_weights_crc32c = 0x0a1b2c3du; /* a leading zero hex digit kept */
    opts.polyp_networks = 3;
    opts.polyp_crops_in_score = true; /* a version-4 file: its crop gate named */
    opts.polyp_crop_gate = 0.1f;
    result r = summarise(o, 3, &opts);
    json_t *run0 = json_array_get(section(&r, "reduced_view"), 0);
    assert_int_equal(int_at(run0, "length"), 3);
    assert_int_equal(int_at(run0, "representative"), 1);
    json_t *f1 = frame(&r, 1);
    assert_true(json_is_true(json_object_get(f1, "polyp")));
    json_t *b = json_array_get(json_object_get(f1, "polyp_boxes"), 0);
    assert_non_null(b);
    assert_int_equal(int_at(b, "x"), 80);  /* 0.25 x 320 */
    assert_int_equal(int_at(b, "y"), 100); /* 0.5 x 200 */
    assert_int_equal(int_at(b, "w"), 40);
    assert_int_equal(int_at(b, "h"), 50);
    /* unflagged frames list no polyp boxes */
    assert_int_equal(json_array_size(json_object_get(frame(&r, 0), "polyp_boxes")), 0);
    assert_int_equal(r.counts.polyp, 1);
    assert_string_equal(json_string_value(json_object_get(section(&r, "polyp_model"), "path")),
                        "models/polyp-unet.bin");
    /* which weights flagged the frames */
    assert_string_equal(json_string_value(json_object_get(section(&r, "polyp_model"), "crc32c")),
                        "0a1b2c3d");
    assert_int_equal(int_at(section(&r, "polyp_model"), "networks"), 3);
    assert_float_equal(json_real_value(json_object_get(section(&r, "polyp_model"), "crop_gate")),
                       0.1, 1e-7);
    /* ranked first, ahead of frames with a higher unflagged probability */
    json_t *top = json_array_get(section(&r, "ranked_for_review"), 0);
    assert_int_equal(int_at(top, "seq"), 1);
    assert_true(json_is_true(json_object_get(top, "polyp")));
    result_free(&r);
}

static void test_flagged_frames_never_share_a_run(void **state)
{
    (void)state;
    /* near-identical frames: bleeding-only, polyp-only, clean, polyp-only.
     * Every flagged frame starts a run of its own and represents it; the
     * clean frame joins the polyp frame before it. */
    cs_outcome o[4] = {good(0, 70, 0.9f), with_polyp(good(1, 71, 0.1f), 0.7f), good(2, 72, 0.1f),
                       with_polyp(good(3, 72, 0.1f), 0.9f)};
    cs_summary_opts opts = opts_default();
    result r = summarise(o, 4, &opts);
    /* no polyp model named: which weights is null, as the thresholds are */
    assert_true(json_is_null(json_object_get(section(&r, "polyp_model"), "crc32c")));
    assert_true(json_is_null(json_object_get(section(&r, "polyp_model"), "networks")));
    /* one-pass scores (versions 1-3, or no model): no crop gate at all */
    assert_null(json_object_get(section(&r, "polyp_model"), "crop_gate"));
    json_t *rv = section(&r, "reduced_view");
    assert_int_equal(json_array_size(rv), 3);
    assert_int_equal(int_at(json_array_get(rv, 0), "representative"), 0);
    assert_int_equal(int_at(json_array_get(rv, 1), "first"), 1);
    assert_int_equal(int_at(json_array_get(rv, 1), "last"), 2);
    assert_int_equal(int_at(json_array_get(rv, 1), "representative"), 1);
    assert_int_equal(int_at(json_array_get(rv, 2), "representative"), 3);
    /* a frame with both findings, then other flagged frames: each shown */
    cs_outcome both = with_polyp(good(0, 80, 0.9f), 0.6f);
    cs_outcome p[3] = {both, good(1, 81, 0.95f), with_polyp(good(2, 82, 0.1f), 0.99f)};
    result r2 = summarise(p, 3, &opts);
    json_t *rv2 = section(&r2, "reduced_view");
    assert_int_equal(json_array_size(rv2), 3);
    for (int i = 0; i < 3; i++)
        assert_int_equal(int_at(json_array_get(rv2, (size_t)i), "representative"), i);
    result_free(&r);
    result_free(&r2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_summary_is_valid_json_with_header_and_frames_in_order),
        cmocka_unit_test(test_run_of_near_identical_frames_is_represented_by_the_bleeding_one),
        cmocka_unit_test(test_every_bleeding_frame_of_near_identical_frames_is_shown),
        cmocka_unit_test(test_clean_frames_before_a_flagged_one_are_represented_by_it),
        cmocka_unit_test(test_run_without_blood_is_represented_by_a_readable_sharp_frame),
        cmocka_unit_test(test_broken_frame_is_an_error_entry_and_breaks_the_run),
        cmocka_unit_test(test_reduced_view_covers_every_analysed_frame_once),
        cmocka_unit_test(test_max_run_splits_long_runs),
        cmocka_unit_test(test_distance_over_threshold_starts_a_new_run),
        cmocka_unit_test(test_ranking_by_probability_then_seq_limited_to_top_n),
        cmocka_unit_test(test_ranking_matches_a_full_sort_on_many_frames),
        cmocka_unit_test(test_counts_match_the_outcomes),
        cmocka_unit_test(test_empty_study_gives_valid_empty_summary),
        cmocka_unit_test(test_same_outcomes_give_byte_identical_summary),
        cmocka_unit_test(test_write_failure_is_io_error),
        cmocka_unit_test(test_non_utf8_frame_name_does_not_break_the_summary),
        cmocka_unit_test(test_polyp_frame_represents_its_run_with_boxes_in_pixels),
        cmocka_unit_test(test_flagged_frames_never_share_a_run),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
