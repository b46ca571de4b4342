/* test_pipeline.c - the worker pool (src/study/pipeline.c): outcomes reach
 * the sink exactly once each, in study order, identical for 1, 2, 4 and 7
 * threads; broken frames keep their place; a failing sink or source stops
 * the run with its status and nothing hangs or leaks.
 *
 * Studies: a frame-stream file of 40 real shared frames (synthetic JPEGs
 * without the shared set) with four bad records, a folder, and in-memory
 * sources built on the public cs_source vtable. An alarm turns a hang into
 * a failure. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "capscreen/framestream.h"
#include "capscreen/pipeline.h"
#include "testutil.h"

#define STREAM_FRAMES 44
/* Positions of the bad records in the stream study, and what they give. */
#define POS_EMPTY 5      /* zero-length payload */
#define POS_NOT_IMAGE 17 /* text */
#define POS_CHECKSUM 25  /* a payload byte flipped after writing */
#define POS_TRUNCATED 30 /* half a JPEG */

static cs_engine *eng;
static char tmp[4096];
static char stream_path[4200];

/* ---- the sink ------------------------------------------------------------ */

typedef struct collected {
    cs_outcome *o;
    size_t n, cap;
    size_t fail_after; /* return an error on this call (1-based); 0: never */
    cs_status fail_with;
} collected;

static cs_status collect(void *ctx, const cs_outcome *o, cs_error *err)
{
    collected *c = ctx;
    if (c->n == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 64;
        c->o = realloc(c->o, c->cap * sizeof *c->o);
        if (!c->o)
            return cs_error_set(err, CS_ERR_NOMEM, "test sink out of memory");
    }
    c->o[c->n++] = *o;
    if (c->fail_after && c->n == c->fail_after)
        return cs_error_set(err, c->fail_with, "test sink refuses outcome %zu", c->n);
    return CS_OK;
}

/* ---- studies ----------------------------------------------------------------- */

/* Payload of frame i of the stream study (caller frees). */
static uint8_t *frame_payload(int i, size_t *len)
{
    if (tu_have_shared()) {
        char name[64];
        snprintf(name, sizeof name, "wcb-%04d.jpg", i + 1);
        uint8_t *d = tu_read_shared_frame(name, len);
        assert_non_null(d);
        return d;
    }
    /* Synthetic: a frame whose colours depend on i. */
    const int w = 160, h = 160;
    uint8_t *px = malloc((size_t)w * h * 3), *jpg = NULL;
    assert_non_null(px);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *p = px + 3 * ((size_t)y * w + x);
            p[0] = (uint8_t)(100 + (x * (i + 1)) % 140);
            p[1] = (uint8_t)(40 + (y * 3 + i * 11) % 90);
            p[2] = (uint8_t)(30 + ((x ^ y) + i) % 60);
        }
    assert_int_equal(tu_jpeg_encode(px, w, h, 85, &jpg, len), 0);
    free(px);
    return jpg;
}

static void write_stream_study(void)
{
    snprintf(stream_path, sizeof stream_path, "%s/study.csfs", tmp);
    FILE *f = fopen(stream_path, "wb");
    assert_non_null(f);
    cs_error err = {0};
    assert_int_equal(cs_fs_write_header(f, &err), CS_OK);
    long checksum_at = -1;
    for (int i = 0; i < STREAM_FRAMES; i++) {
        size_t len = 0;
        uint8_t *data = frame_payload(i, &len);
        if (i == POS_EMPTY)
            len = 0;
        else if (i == POS_NOT_IMAGE)
            len = (size_t)snprintf((char *)data, len, "this is a text file, not a frame");
        else if (i == POS_TRUNCATED)
            len /= 2;
        else if (i == POS_CHECKSUM)
            checksum_at = ftell(f) + (long)CS_FS_RECORD_HEADER_SIZE + 100;
        assert_int_equal(cs_fs_write_record(f, 1000 + (uint64_t)i, 1700000000000000 + i * 250000, 0,
                                            len ? data : NULL, (uint32_t)len, &err),
                         CS_OK);
        free(data);
    }
    assert_int_equal(fclose(f), 0);
    /* Flip one payload byte: the record fails its CRC. */
    assert_true(checksum_at > 0);
    f = fopen(stream_path, "r+b");
    assert_non_null(f);
    assert_int_equal(fseek(f, checksum_at, SEEK_SET), 0);
    int b = fgetc(f);
    assert_true(b >= 0);
    assert_int_equal(fseek(f, checksum_at, SEEK_SET), 0);
    assert_int_equal(fputc(b ^ 0xFF, f), b ^ 0xFF);
    assert_int_equal(fclose(f), 0);
}

/* Open a folder or a frame-stream file by its backend, not through
 * cs_source_open(): the dispatcher would link FFmpeg into this test (see
 * src/study/source_open.c). The dispatcher has its own test in
 * test_source_video.c. */
static cs_status open_study(const char *path, cs_source **src, cs_error *err)
{
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return cs_source_open_folder(path, src, err);
    return cs_source_open_framestream(path, src, err);
}

static collected run_study(const char *path, int threads)
{
    cs_source *src = NULL;
    cs_error err = {0};
    assert_int_equal(open_study(path, &src, &err), CS_OK);
    collected c = {0};
    cs_status st = cs_pipeline_run(src, eng, threads, collect, &c, &err);
    if (st != CS_OK)
        fail_msg("pipeline failed with %d threads: %s", threads, err.msg);
    cs_source_close(src);
    return c;
}

/* ---- an in-memory source on the public vtable ------------------------------- */

typedef struct mem_source {
    struct cs_source base;
    int n, next;
    int fail_at; /* -1: never; else fail the whole source at item k */
} mem_source;

static cs_status mem_next(cs_source *src, cs_item *item, cs_error *err)
{
    mem_source *m = (mem_source *)src;
    if (m->next == m->fail_at)
        return cs_error_set(err, CS_ERR_IO, "mem source: disk vanished at item %d", m->next);
    if (m->next >= m->n)
        return CS_END;
    int i = m->next++;
    snprintf(item->name, sizeof item->name, "img %d", i);
    item->frame_index = i;
    if (i % 50 == 13) { /* a few broken items among them */
        item->kind = CS_ITEM_BROKEN;
        item->status = CS_ERR_CORRUPT;
        snprintf(item->reason, sizeof item->reason, "damaged item %d", i);
        return CS_OK;
    }
    const int w = 64, h = 64;
    uint8_t *px = malloc((size_t)w * h * 3);
    if (!px)
        return cs_error_set(err, CS_ERR_NOMEM, "mem source: out of memory");
    for (int p = 0; p < w * h; p++) {
        px[3 * p] = (uint8_t)(90 + (i * 7 + p) % 150);
        px[3 * p + 1] = (uint8_t)(50 + (i * 3 + p / w) % 100);
        px[3 * p + 2] = (uint8_t)(40 + i % 80);
    }
    item->kind = CS_ITEM_IMAGE;
    item->image = (cs_image){.width = w, .height = h, .src_width = w, .src_height = h, .rgb = px};
    return CS_OK;
}

static void mem_close(cs_source *src) { free(src); }

static cs_source *mem_open(int n, int fail_at)
{
    mem_source *m = calloc(1, sizeof *m);
    assert_non_null(m);
    m->base.type = CS_SOURCE_FOLDER;
    m->base.expected = n;
    m->base.next = mem_next;
    m->base.close = mem_close;
    m->n = n;
    m->fail_at = fail_at;
    return &m->base;
}

/* ---- checks ------------------------------------------------------------------ */

static void assert_in_order(const collected *c, size_t n)
{
    assert_int_equal(c->n, n);
    for (size_t i = 0; i < c->n; i++)
        assert_int_equal(c->o[i].seq, i);
}

static void assert_same_outcomes(const collected *a, const collected *b)
{
    assert_int_equal(a->n, b->n);
    for (size_t i = 0; i < a->n; i++) {
        assert_int_equal(a->o[i].seq, b->o[i].seq);
        assert_int_equal(a->o[i].ok, b->o[i].ok);
        assert_int_equal(a->o[i].status, b->o[i].status);
        assert_string_equal(a->o[i].name, b->o[i].name);
        assert_memory_equal(&a->o[i].result, &b->o[i].result, sizeof a->o[i].result);
    }
}

/* ---- tests --------------------------------------------------------------------- */

static void test_stream_outcomes_identical_for_1_2_4_7_threads(void **state)
{
    (void)state;
    static const int threads[] = {1, 2, 4, 7};
    collected base = run_study(stream_path, 1);
    assert_in_order(&base, STREAM_FRAMES);
    for (size_t t = 1; t < sizeof threads / sizeof threads[0]; t++) {
        collected c = run_study(stream_path, threads[t]);
        assert_in_order(&c, STREAM_FRAMES);
        assert_same_outcomes(&base, &c);
        free(c.o);
    }
    free(base.o);
}

static void test_stream_broken_frames_keep_their_place(void **state)
{
    (void)state;
    collected c = run_study(stream_path, 4);
    assert_in_order(&c, STREAM_FRAMES);
    for (size_t i = 0; i < c.n; i++) {
        const cs_outcome *o = &c.o[i];
        char name[32];
        snprintf(name, sizeof name, "frame %zu", 1000 + i);
        assert_string_equal(o->name, name);
        assert_int_equal(o->frame_index, 1000 + (int64_t)i);
        assert_int_equal(o->capture_time_us, 1700000000000000 + (int64_t)i * 250000);
        cs_status want = i == POS_EMPTY       ? CS_ERR_EMPTY
                         : i == POS_NOT_IMAGE ? CS_ERR_NOT_IMAGE
                         : i == POS_CHECKSUM  ? CS_ERR_CHECKSUM
                         : i == POS_TRUNCATED ? CS_ERR_TRUNCATED
                                              : CS_OK;
        assert_int_equal(o->status, want);
        assert_int_equal(o->ok, want == CS_OK);
        if (want != CS_OK)
            assert_true(strlen(o->reason) > 0);
        else
            assert_true(o->width > 0 && o->height > 0);
    }
    free(c.o);
}

static void test_folder_study_in_natural_order_with_broken_files(void **state)
{
    (void)state;
    char dir[4200], path[4300];
    snprintf(dir, sizeof dir, "%s/folder", tmp);
    assert_int_equal(mkdir(dir, 0700), 0);
    /* f1..f12 with f2 empty and f7 a text file; a hidden file and a
     * sub-folder that are not frames. */
    for (int i = 1; i <= 12; i++) {
        size_t len = 0;
        uint8_t *data = frame_payload(i, &len);
        snprintf(path, sizeof path, "%s/f%d.jpg", dir, i);
        if (i == 2)
            len = 0;
        if (i == 7)
            len = (size_t)snprintf((char *)data, len, "not a frame");
        assert_int_equal(tu_write_file(path, data, len), 0);
        free(data);
    }
    snprintf(path, sizeof path, "%s/.DS_Store", dir);
    assert_int_equal(tu_write_file(path, "x", 1), 0);
    snprintf(path, sizeof path, "%s/thumbs", dir);
    assert_int_equal(mkdir(path, 0700), 0);

    collected one = run_study(dir, 1), four = run_study(dir, 4);
    assert_in_order(&one, 12);
    assert_same_outcomes(&one, &four);
    for (int i = 0; i < 12; i++) {
        char name[32];
        snprintf(name, sizeof name, "f%d.jpg", i + 1);
        assert_string_equal(one.o[i].name, name);
        cs_status want = i == 1 ? CS_ERR_EMPTY : i == 6 ? CS_ERR_NOT_IMAGE : CS_OK;
        assert_int_equal(one.o[i].status, want);
        assert_int_equal(one.o[i].ok, want == CS_OK);
    }
    free(one.o);
    free(four.o);
}

static void test_many_items_pass_the_reorder_window_in_order(void **state)
{
    (void)state;
    /* 300 items: several times the window of 2 or 3 threads. */
    const int n = 300;
    collected ref = {0};
    cs_error err = {0};
    cs_source *src = mem_open(n, -1);
    assert_int_equal(cs_pipeline_run(src, eng, 1, collect, &ref, &err), CS_OK);
    cs_source_close(src);
    assert_in_order(&ref, (size_t)n);
    assert_false(ref.o[13].ok);
    assert_int_equal(ref.o[13].status, CS_ERR_CORRUPT);
    assert_string_equal(ref.o[13].reason, "damaged item 13");
    assert_true(ref.o[14].ok);
    assert_int_equal(ref.o[14].width, 64);
    static const int threads[] = {2, 3, 16};
    for (size_t t = 0; t < sizeof threads / sizeof threads[0]; t++) {
        collected c = {0};
        src = mem_open(n, -1);
        assert_int_equal(cs_pipeline_run(src, eng, threads[t], collect, &c, &err), CS_OK);
        cs_source_close(src);
        assert_in_order(&c, (size_t)n);
        assert_same_outcomes(&ref, &c);
        free(c.o);
    }
    free(ref.o);
}

static void sink_failure_stops_run(int threads, size_t fail_after)
{
    cs_source *src = NULL;
    cs_error err = {0};
    assert_int_equal(open_study(stream_path, &src, &err), CS_OK);
    collected c = {0};
    c.fail_after = fail_after;
    c.fail_with = CS_ERR_IO;
    assert_int_equal(cs_pipeline_run(src, eng, threads, collect, &c, &err), CS_ERR_IO);
    assert_int_equal(err.code, CS_ERR_IO);
    char want[64];
    snprintf(want, sizeof want, "test sink refuses outcome %zu", fail_after);
    assert_string_equal(err.msg, want);
    /* The sink is not called again after it failed. */
    assert_in_order(&c, fail_after);
    cs_source_close(src);
    free(c.o);
}

static void test_sink_error_stops_run_with_its_status_1_thread(void **state)
{
    (void)state;
    sink_failure_stops_run(1, 10);
    sink_failure_stops_run(1, 1);
}

static void test_sink_error_stops_run_with_its_status_4_threads(void **state)
{
    (void)state;
    sink_failure_stops_run(4, 10);
    sink_failure_stops_run(4, 1);
    sink_failure_stops_run(7, STREAM_FRAMES); /* on the very last outcome */
}

static void test_source_failure_stops_run_with_its_status(void **state)
{
    (void)state;
    static const int threads[] = {1, 4};
    for (size_t t = 0; t < 2; t++) {
        collected c = {0};
        cs_error err = {0};
        cs_source *src = mem_open(200, 120);
        assert_int_equal(cs_pipeline_run(src, eng, threads[t], collect, &c, &err), CS_ERR_IO);
        assert_int_equal(err.code, CS_ERR_IO);
        assert_non_null(strstr(err.msg, "disk vanished at item 120"));
        /* Whatever reached the sink came in order and before the failure. */
        assert_true(c.n <= 120);
        for (size_t i = 0; i < c.n; i++)
            assert_int_equal(c.o[i].seq, i);
        cs_source_close(src);
        free(c.o);
    }
}

static void test_thread_count_out_of_range_is_refused(void **state)
{
    (void)state;
    static const int bad[] = {0, -3, 257};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        collected c = {0};
        cs_error err = {0};
        cs_source *src = mem_open(5, -1);
        assert_int_equal(cs_pipeline_run(src, eng, bad[i], collect, &c, &err), CS_ERR_ARG);
        assert_true(strlen(err.msg) > 0);
        assert_int_equal(c.n, 0);
        cs_source_close(src);
    }
}

static void test_empty_source_gives_no_outcomes(void **state)
{
    (void)state;
    static const int threads[] = {1, 4};
    for (size_t t = 0; t < 2; t++) {
        collected c = {0};
        cs_error err = {0};
        cs_source *src = mem_open(0, -1);
        assert_int_equal(cs_pipeline_run(src, eng, threads[t], collect, &c, &err), CS_OK);
        assert_int_equal(c.n, 0);
        cs_source_close(src);
    }
}

static int setup(void **state)
{
    (void)state;
    cs_error err = {0};
    const char *d = tu_tmpdir();
    if (!d)
        return -1;
    snprintf(tmp, sizeof tmp, "%s", d);
    if (cs_engine_load(tu_source_path("models/bleeding-xgb.json"), &eng, &err) != CS_OK) {
        printf("cannot load the model: %s\n", err.msg);
        return -1;
    }
    if (!tu_have_shared())
        printf("note: shared frames not found; the stream study uses synthetic JPEGs\n");
    write_stream_study();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    cs_engine_free(eng);
    return 0;
}

int main(void)
{
    /* A deadlocked pool fails the test instead of hanging it; valgrind's
     * stage gives it longer (CS_TEST_ALARM_S). */
    const char *alarm_s = getenv("CS_TEST_ALARM_S");
    alarm(alarm_s && atoi(alarm_s) > 0 ? (unsigned)atoi(alarm_s) : 600);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stream_outcomes_identical_for_1_2_4_7_threads),
        cmocka_unit_test(test_stream_broken_frames_keep_their_place),
        cmocka_unit_test(test_folder_study_in_natural_order_with_broken_files),
        cmocka_unit_test(test_many_items_pass_the_reorder_window_in_order),
        cmocka_unit_test(test_sink_error_stops_run_with_its_status_1_thread),
        cmocka_unit_test(test_sink_error_stops_run_with_its_status_4_threads),
        cmocka_unit_test(test_source_failure_stops_run_with_its_status),
        cmocka_unit_test(test_thread_count_out_of_range_is_refused),
        cmocka_unit_test(test_empty_source_gives_no_outcomes),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
