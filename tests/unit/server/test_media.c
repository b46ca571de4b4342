/* test_media.c - the workstation's frames and thumbnails (media.c) on a real
 * server: a frame stream split over two uploads is analysed by the real
 * live ingest, which stores each frame's payload location, mean colour and
 * redundancy; media then serves the exact payload bytes and cached
 * thumbnails. The fixture composes just the layers under test (store,
 * upload files, engine, live analysis, media), as server.c does, without
 * HTTP. */
#include <dirent.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "capscreen/framestream.h"
#include "capscreen/reencode.h"
#include "server/media/media.h"
#include "server/ingest/ingest.h"
#include "server/api/studies.h"
#include "server/files/tus_files.h"
#include "server/auth/tokens.h"

#define W 320
#define H 240
#define NFRAMES 6 /* records written (one more item: the damage) */
#define NITEMS (NFRAMES + 1)
#define GARBAGE 40     /* damaged bytes written after record 2 */
#define SPLIT_RECORD 4 /* the first upload ends inside this record's payload */

typedef struct fixture {
    char dir[64]; /* the data folder */
    cs_store *store;
    cs_engine *engine;
    cs_upload_files *files;
    cs_metrics metrics;
    cs_signals signals;
    cs_ingest *ingest;
    cs_media media;
    char study[CS_ID_MAX];
    uint8_t *jpeg[NFRAMES];
    size_t jpeg_len[NFRAMES];
    uint64_t payload_at[NFRAMES]; /* stream offset of each record's payload */
    uint64_t split;               /* size of the first upload */
} fixture;

/* Frame colours: 1 repeats 0; 3 and 4 are close to 2 (4 comes after the
 * damaged bytes, which do not change the last kept frame); 5 is new. */
static const uint8_t colour[NFRAMES][3] = {
    {110, 130, 90}, {110, 130, 90}, {60, 90, 150}, {61, 91, 151}, {60, 90, 150}, {150, 150, 70},
};

static uint8_t *make_jpeg(const uint8_t rgb[3], size_t *len)
{
    uint8_t *px = malloc((size_t)W * H * 3), *out = NULL;
    assert_non_null(px);
    for (size_t i = 0; i < (size_t)W * H; i++)
        memcpy(px + 3 * i, rgb, 3);
    cs_error e = {0};
    assert_int_equal(cs_jpeg_encode_rgb(px, W, H, 90, &out, len, &e), CS_OK);
    free(px);
    return out;
}

static void append(uint8_t **buf, size_t *len, const void *data, size_t n)
{
    *buf = realloc(*buf, *len + n);
    assert_non_null(*buf);
    memcpy(*buf + *len, data, n);
    *len += n;
}

/* Store bytes [from, to) of `stream` as one closed upload of the study. */
static void add_upload(fixture *fx, const uint8_t *stream, size_t from, size_t to, int64_t at)
{
    cs_error e = {0};
    cs_upload_rec u;
    memset(&u, 0, sizeof u);
    cs_id_new(u.id, 12);
    snprintf(u.study, sizeof u.study, "%s", fx->study);
    u.length = (int64_t)(to - from);
    u.offset = to - from;
    u.state = CS_UPLOAD_COMPLETE;
    u.created_at = u.updated_at = at;
    u.expires_at = at + 3600;
    u.checksum_base = -1;
    int fd = -1;
    assert_int_equal(cs_tus_file_create(fx->files, u.id, &e), CS_OK);
    assert_int_equal(cs_tus_file_open_at(fx->files, u.id, 0, &fd, &e), CS_OK);
    assert_int_equal(cs_tus_file_write(fd, stream + from, to - from, &e), CS_OK);
    close(fd);
    assert_int_equal(cs_store_upload_create(fx->store, &u, &e), CS_OK);
}

static int setup(void **state)
{
    fixture *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    snprintf(fx->dir, sizeof fx->dir, "/tmp/cs-media-XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    cs_error e = {0};
    cs_signals_init(&fx->signals);
    if (cs_tokens_init(&e) != CS_OK || cs_store_open(fx->dir, &fx->store, &e) != CS_OK ||
        cs_upload_files_open(fx->dir, &fx->files, &e) != CS_OK ||
        cs_engine_load_models(NULL, NULL, &fx->engine, &e) != CS_OK) {
        fprintf(stderr, "cannot set up: %s\n", e.msg);
        return -1;
    }
    cs_ingest_deps deps = {.store = fx->store,
                           .engine = fx->engine,
                           .files = fx->files,
                           .metrics = &fx->metrics,
                           .signals = &fx->signals,
                           .threads = 1};
    assert_int_equal(cs_ingest_new(&deps, &fx->ingest, &e), CS_OK);
    fx->media = (cs_media){.data_dir = fx->dir,
                           .web_dir = "",
                           .store = fx->store,
                           .files = fx->files,
                           .metrics = &fx->metrics};
    char code[CS_CODE_LEN + 1];
    assert_int_equal(
        cs_study_create(fx->store, "media", NULL, NULL, 3600, fx->study, code, NULL, NULL, &e),
        CS_OK);

    /* The stream: header, records 0..2, garbage, records 3..5. */
    uint8_t *stream = NULL, fh[CS_FS_FILE_HEADER_SIZE];
    size_t len = 0;
    cs_fs_encode_file_header(fh);
    append(&stream, &len, fh, sizeof fh);
    for (int i = 0; i < NFRAMES; i++) {
        if (i == 3) {
            uint8_t junk[GARBAGE];
            memset(junk, 0xAA, sizeof junk);
            append(&stream, &len, junk, sizeof junk);
        }
        fx->jpeg[i] = make_jpeg(colour[i], &fx->jpeg_len[i]);
        size_t rec_len = CS_FS_RECORD_OVERHEAD + fx->jpeg_len[i];
        uint8_t *rec = malloc(rec_len);
        size_t written = 0;
        assert_non_null(rec);
        assert_int_equal(cs_fs_encode_record(rec, rec_len, (uint64_t)(100 + i),
                                             1700000000000000 + i * 500000, 0, fx->jpeg[i],
                                             (uint32_t)fx->jpeg_len[i], &written, &e),
                         CS_OK);
        fx->payload_at[i] = len + CS_FS_RECORD_HEADER_SIZE;
        append(&stream, &len, rec, written);
        free(rec);
    }
    fx->split = fx->payload_at[SPLIT_RECORD] + fx->jpeg_len[SPLIT_RECORD] / 2;
    int64_t now = (int64_t)time(NULL);
    add_upload(fx, stream, 0, fx->split, now);
    add_upload(fx, stream, fx->split, len, now + 1);
    free(stream);

    /* Let the real analysis read it, and wait until every item is stored. */
    cs_ingest_notify(fx->ingest, fx->study);
    for (int waited_ms = 0;; waited_ms += 50) {
        cs_study_rec sr;
        bool found = false;
        assert_int_equal(cs_store_study_get(fx->store, fx->study, &found, &sr, &e), CS_OK);
        if (sr.next_seq >= NITEMS)
            break;
        assert_true(waited_ms < 300000); /* valgrind is slow */
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fixture *fx = *state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", fx->dir);
    cs_signals_stop(&fx->signals);
    cs_ingest_free(fx->ingest);
    cs_upload_files_close(fx->files);
    cs_store_close(fx->store);
    cs_engine_free(fx->engine);
    cs_signals_destroy(&fx->signals);
    assert_int_equal(system(cmd), 0);
    for (int i = 0; i < NFRAMES; i++)
        free(fx->jpeg[i]);
    free(fx);
    return 0;
}

/* seq of record i: the damaged bytes are item 3. */
static uint64_t seq_of(int i) { return (uint64_t)(i < 3 ? i : i + 1); }

static void ingest_stores_payload_location_colour_and_redundancy(void **state)
{
    fixture *fx = *state;
    cs_frame_view v[NITEMS + 1];
    size_t n = 0;
    cs_error e = {0};
    assert_int_equal(cs_store_frame_views(fx->store, fx->study, 0, v, NITEMS + 1, &n, &e), CS_OK);
    assert_int_equal(n, NITEMS);
    assert_false(v[3].ok);
    assert_int_equal(v[3].payload_len, 0);
    assert_false(v[3].redundant);
    const bool want_redundant[NFRAMES] = {false, true, false, true, true, false};
    for (int i = 0; i < NFRAMES; i++) {
        const cs_frame_view *f = &v[seq_of(i)];
        assert_int_equal(f->seq, seq_of(i));
        assert_true(f->ok);
        assert_false(f->bleeding);
        assert_int_equal(f->frame_index, 100 + i);
        assert_int_equal(f->payload_offset, fx->payload_at[i]);
        assert_int_equal(f->payload_len, fx->jpeg_len[i]);
        /* JPEG keeps a flat colour within a couple of levels. */
        for (int k = 0; k < 3; k++) {
            int got = (int)((f->mean_rgb >> (16 - 8 * k)) & 0xFF);
            assert_true(abs(got - colour[i][k]) <= 3);
        }
        if (f->redundant != want_redundant[i])
            fail_msg("frame %d: redundant is %d", i, f->redundant);
    }
}

static void frame_is_the_exact_payload_even_across_two_uploads(void **state)
{
    fixture *fx = *state;
    cs_error e = {0};
    for (int i = 0; i < NFRAMES; i++) {
        bool found = false;
        uint8_t *out = NULL;
        size_t len = 0;
        assert_int_equal(cs_media_frame(&fx->media, fx->study, seq_of(i), &found, &out, &len, &e),
                         CS_OK);
        assert_true(found);
        assert_int_equal(len, fx->jpeg_len[i]);
        assert_memory_equal(out, fx->jpeg[i], len);
        free(out);
    }
    /* The split record really spans both uploads. */
    assert_true(fx->payload_at[SPLIT_RECORD] < fx->split &&
                fx->split < fx->payload_at[SPLIT_RECORD] + fx->jpeg_len[SPLIT_RECORD]);
}

static void missing_or_damaged_frame_is_not_found(void **state)
{
    fixture *fx = *state;
    cs_error e = {0};
    const uint64_t seqs[] = {3, NITEMS, NITEMS + 1000};
    for (size_t i = 0; i < sizeof seqs / sizeof seqs[0]; i++) {
        bool found = true;
        uint8_t *out = (uint8_t *)&found;
        size_t len = 1;
        assert_int_equal(cs_media_frame(&fx->media, fx->study, seqs[i], &found, &out, &len, &e),
                         CS_OK);
        assert_false(found);
        assert_null(out);
        found = true;
        assert_int_equal(cs_media_thumb(&fx->media, fx->study, seqs[i], &found, &out, &len, &e),
                         CS_OK);
        assert_false(found);
        assert_null(out);
    }
    bool found = true;
    uint8_t *out = NULL;
    size_t len = 0;
    assert_int_equal(cs_media_frame(&fx->media, "no-such-study", 0, &found, &out, &len, &e), CS_OK);
    assert_false(found);
    assert_int_equal(cs_media_thumb(&fx->media, "../../etc", 0, &found, &out, &len, &e), CS_OK);
    assert_false(found);
}

static void stream_read_past_the_end_is_an_io_error(void **state)
{
    fixture *fx = *state;
    cs_error e = {0};
    uint8_t buf[16];
    uint64_t end = fx->payload_at[NFRAMES - 1] + fx->jpeg_len[NFRAMES - 1] + 4;
    assert_int_equal(cs_media_stream_read(&fx->media, fx->study, end - 8, buf, 8, &e), CS_OK);
    assert_int_equal(cs_media_stream_read(&fx->media, fx->study, end - 8, buf, 9, &e), CS_ERR_IO);
}

static void thumbnail_is_a_small_jpeg_made_once_then_cached(void **state)
{
    fixture *fx = *state;
    cs_error e = {0};
    uint64_t seq = seq_of(SPLIT_RECORD);
    bool found = false;
    uint8_t *out = NULL, *rgb = NULL;
    size_t len = 0;
    int w = 0, h = 0;
    assert_int_equal(cs_media_thumb(&fx->media, fx->study, seq, &found, &out, &len, &e), CS_OK);
    assert_true(found);
    assert_int_equal(cs_jpeg_decode_rgb(out, len, &rgb, &w, &h, &e), CS_OK);
    assert_int_equal(w, CS_THUMB_MAX_SIDE); /* 320x240 keeps its aspect */
    assert_int_equal(h, CS_THUMB_MAX_SIDE * H / W);
    assert_true(abs(rgb[0] - colour[SPLIT_RECORD][0]) <= 3);
    free(rgb);

    char path[CS_CFG_PATH + 128];
    snprintf(path, sizeof path, "%s/thumbs/%s/%llu.jpg", fx->dir, fx->study,
             (unsigned long long)seq);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal((size_t)sb.st_size, len);

    /* Served from the cache: replace the cached file and get it back. */
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite("cached", 1, 6, f), 6);
    fclose(f);
    uint8_t *again = NULL;
    size_t again_len = 0;
    assert_int_equal(cs_media_thumb(&fx->media, fx->study, seq, &found, &again, &again_len, &e),
                     CS_OK);
    assert_true(found);
    assert_int_equal(again_len, 6);
    assert_memory_equal(again, "cached", 6);
    free(again);
    free(out);
}

typedef struct maker {
    fixture *fx;
    uint64_t seq;
    cs_status st;
    bool found;
    uint8_t *out;
    size_t len;
} maker;

static void *make_thumb(void *arg)
{
    maker *m = arg;
    cs_error e = {0};
    m->st = cs_media_thumb(&m->fx->media, m->fx->study, m->seq, &m->found, &m->out, &m->len, &e);
    return NULL;
}

static void concurrent_makers_of_one_thumbnail_each_get_a_whole_one(void **state)
{
    fixture *fx = *state;
    maker m[4];
    pthread_t t[4];
    for (int i = 0; i < 4; i++) {
        m[i] = (maker){.fx = fx, .seq = seq_of(5)};
        assert_int_equal(pthread_create(&t[i], NULL, make_thumb, &m[i]), 0);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(m[i].st, CS_OK);
        assert_true(m[i].found);
        assert_int_equal(m[i].len, m[0].len);
        assert_memory_equal(m[i].out, m[0].out, m[0].len);
    }
    for (int i = 0; i < 4; i++)
        free(m[i].out);
    /* No temporary file is left behind. */
    char dir[CS_CFG_PATH + 96];
    snprintf(dir, sizeof dir, "%s/thumbs/%s", fx->dir, fx->study);
    DIR *d = opendir(dir);
    assert_non_null(d);
    for (struct dirent *de; (de = readdir(d)) != NULL;)
        if (strncmp(de->d_name, ".tmp", 4) == 0)
            fail_msg("left behind: %s", de->d_name);
    closedir(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ingest_stores_payload_location_colour_and_redundancy),
        cmocka_unit_test(frame_is_the_exact_payload_even_across_two_uploads),
        cmocka_unit_test(missing_or_damaged_frame_is_not_found),
        cmocka_unit_test(stream_read_past_the_end_is_an_io_error),
        cmocka_unit_test(thumbnail_is_a_small_jpeg_made_once_then_cached),
        cmocka_unit_test(concurrent_makers_of_one_thumbnail_each_get_a_whole_one),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
