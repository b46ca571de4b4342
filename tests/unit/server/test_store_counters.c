/* test_store_counters.c (both backends: store_fixture.h) - schema 3's per-study counters: kept by the frame
 * calls in the frame transaction (replacements counted once), equal to a
 * count over the frames, read without the frames, back-filled by the
 * migration from schema 2; and the frames' polyp results. */
#include <sys/stat.h>
#include <time.h>

#include "store_fixture.h"

/* Frame i of a synthetic study: every kind of result, spread by i. */
static void make_frame(cs_frame_rec *fr, uint64_t seq, unsigned salt)
{
    unsigned k = (unsigned)seq * 7u + salt;
    memset(fr, 0, sizeof *fr);
    fr->seq = seq;
    fr->frame_index = (int64_t)seq;
    fr->capture_time_us = k % 11 == 0 ? -1 : (int64_t)(seq * 500000u + salt);
    fr->ok = k % 13 != 0;
    fr->status = fr->ok ? "ok" : "corrupt";
    fr->error = fr->ok ? NULL : "bad record";
    fr->bleeding = k % 5 == 0;
    fr->bleeding_probability = fr->bleeding ? 0.9f : 0.1f;
    fr->exposure = k % 3 == 0 ? "too_dark" : k % 3 == 1 ? "too_bright" : "ok";
    fr->readable = k % 4 != 0;
    fr->blurry = k % 6 == 0;
    fr->has_polyp = k % 2 == 0;
    fr->polyp_probability = (float)(k % 10) / 10.0f;
    fr->polyp = fr->has_polyp && k % 8 == 0;
    fr->payload_len = 100;
}

/* The counters as a scan of the frames computes them (the schema 2
 * query, in SQL both backends take). */
static void scan_counts(const fx *f, const char *study, int64_t v[9])
{
    char sql[640];
    snprintf(sql, sizeof sql,
             "SELECT COUNT(*), COALESCE(SUM(ok),0), COALESCE(SUM(readable),0),"
             " COALESCE(SUM(bleeding),0),"
             " COALESCE(SUM(CASE WHEN exposure = 'too_dark' THEN 1 ELSE 0 END),0),"
             " COALESCE(SUM(CASE WHEN exposure = 'too_bright' THEN 1 ELSE 0 END),0),"
             " COALESCE(SUM(blurry),0), COALESCE(SUM(polyp_flag),0),"
             " COALESCE(MAX(capture_time_us),-1) FROM frames WHERE study = '%s'",
             study);
    fx_sql_row(f, sql, v, 9);
}

static void assert_counts_match_scan(const fx *f, const char *study)
{
    cs_study_counts c;
    cs_error e = {0};
    int64_t v[9];
    scan_counts(f, study, v);
    assert_int_equal(cs_store_study_counts(f->s, study, &c, &e), CS_OK);
    assert_int_equal(c.frames, v[0]);
    assert_int_equal(c.analysed, v[1]);
    assert_int_equal(c.failed, v[0] - v[1]);
    assert_int_equal(c.readable, v[2]);
    assert_int_equal(c.bleeding, v[3]);
    assert_int_equal(c.too_dark, v[4]);
    assert_int_equal(c.too_bright, v[5]);
    assert_int_equal(c.blurry, v[6]);
    assert_int_equal(c.polyp, v[7]);
    assert_int_equal(c.last_capture_time_us, v[8]);
}

static void add_frames(cs_store *s, const char *study, uint64_t from, size_t n, unsigned salt)
{
    cs_frame_rec *fr = calloc(n, sizeof *fr);
    cs_error e = {0};
    assert_non_null(fr);
    for (size_t i = 0; i < n; i++)
        make_frame(&fr[i], from + i, salt);
    assert_int_equal(cs_store_frames_add(s, study, fr, n, 1000 * (from + n), &e), CS_OK);
    free(fr);
}

static void counters_follow_every_batch_and_replacements_count_once(void **state)
{
    fx *f = *state;
    cs_error e = {0};
    cs_study_counts c;
    fx_study(f->s, "a", 100);
    fx_study(f->s, "b", 200);
    assert_int_equal(cs_store_study_counts(f->s, "a", &c, &e), CS_OK);
    assert_int_equal(c.frames, 0);
    assert_int_equal(c.last_capture_time_us, -1);
    add_frames(f->s, "a", 0, 50, 0);
    add_frames(f->s, "b", 0, 30, 1);
    add_frames(f->s, "a", 50, 70, 0);
    assert_counts_match_scan(f, "a");
    assert_counts_match_scan(f, "b");
    assert_int_equal(cs_store_study_counts(f->s, "a", &c, &e), CS_OK);
    assert_int_equal(c.frames, 120);
    assert_true(c.bleeding > 0 && c.polyp > 0 && c.too_dark > 0 && c.failed > 0);

    /* Frames 40..79 again, with other results and earlier times: each
     * replaced row leaves the counters before its new one enters. */
    add_frames(f->s, "a", 40, 40, 3);
    assert_counts_match_scan(f, "a");
    /* One frame alone, and a batch with a gap in its seqs. */
    cs_frame_rec one[3];
    make_frame(&one[0], 119, 5);
    one[0].capture_time_us = 1; /* the latest time was frame 119's: it goes */
    assert_int_equal(cs_store_frame_add(f->s, "a", &one[0], 120000, &e), CS_OK);
    assert_counts_match_scan(f, "a");
    make_frame(&one[0], 5, 9);
    make_frame(&one[1], 6, 9);
    make_frame(&one[2], 200, 9);
    assert_int_equal(cs_store_frames_add(f->s, "a", one, 3, 201000, &e), CS_OK);
    assert_counts_match_scan(f, "a");
    assert_counts_match_scan(f, "b");
    /* The analysis position moved with them. */
    cs_study_rec sr;
    bool found = false;
    assert_int_equal(cs_store_study_get(f->s, "a", &found, &sr, &e), CS_OK);
    assert_true(found);
    assert_int_equal(sr.ingest_offset, 201000);
    assert_int_equal(sr.next_seq, 201);
}

static void counts_come_from_the_study_row_not_the_frames(void **state)
{
    fx *f = *state;
    cs_error e = {0};
    cs_study_counts c;
    fx_study(f->s, "a", 100);
    add_frames(f->s, "a", 0, 20, 0);
    fx_upload(f->s, "u1", "a", 500, 500, CS_UPLOAD_COMPLETE);
    fx_upload(f->s, "u2", "a", 900, 300, CS_UPLOAD_OPEN);
    /* Frames removed behind the store's back: the counters stand (what
     * the worklist reads costs one row, whatever the study's size). */
    fx_sql(f, "DELETE FROM frames");
    assert_int_equal(cs_store_study_counts(f->s, "a", &c, &e), CS_OK);
    assert_int_equal(c.frames, 20);
    assert_int_equal(c.uploads, 2);
    assert_int_equal(c.uploads_open, 1);
    assert_int_equal(c.bytes_received, 800);
    /* An unknown study counts nothing. */
    assert_int_equal(cs_store_study_counts(f->s, "nope", &c, &e), CS_OK);
    assert_int_equal(c.frames, 0);
    assert_int_equal(c.uploads, 0);
    assert_int_equal(c.last_capture_time_us, -1);
}

static void polyp_results_are_stored_and_unknown_stays_unknown(void **state)
{
    fx *f = *state;
    cs_error e = {0};
    fx_study(f->s, "a", 100);
    cs_frame_rec fr[3];
    memset(fr, 0, sizeof fr);
    for (int i = 0; i < 3; i++) {
        fr[i].seq = (uint64_t)i;
        fr[i].ok = true;
        fr[i].status = "ok";
        fr[i].exposure = "ok";
    }
    /* 0: zero-initialised (an engine without the polyp model) */
    fr[1].has_polyp = true;
    fr[1].polyp_probability = 0.25f;
    fr[2].has_polyp = true;
    fr[2].polyp_probability = 0.875f;
    fr[2].polyp = true;
    assert_int_equal(cs_store_frames_add(f->s, "a", fr, 3, 10, &e), CS_OK);
    cs_frame_view v[3];
    size_t n = 0;
    assert_int_equal(cs_store_frame_views(f->s, "a", 0, v, 3, &n, &e), CS_OK);
    assert_int_equal(n, 3);
    assert_false(v[0].has_polyp);
    assert_false(v[0].polyp);
    assert_true(v[1].has_polyp);
    assert_false(v[1].polyp);
    assert_true(v[1].polyp_probability == 0.25f);
    assert_true(v[2].has_polyp && v[2].polyp);
    assert_true(v[2].polyp_probability == 0.875f);
    assert_int_equal(fx_sql_scalar(f, "SELECT COUNT(*) FROM frames WHERE polyp IS NULL"), 1);
    cs_study_counts c;
    assert_int_equal(cs_store_study_counts(f->s, "a", &c, &e), CS_OK);
    assert_int_equal(c.polyp, 1);
}

/* Frame seq of study "a" analysed at (crc, thr); has_polyp only when crc. */
static void add_at(const fx *f, uint64_t from, size_t n, uint32_t crc, float thr)
{
    cs_frame_rec fr[4];
    cs_error e = {0};
    assert_true(n <= 4);
    memset(fr, 0, sizeof fr);
    for (size_t i = 0; i < n; i++) {
        fr[i].seq = from + i;
        fr[i].ok = true;
        fr[i].status = "ok";
        fr[i].exposure = "ok";
        fr[i].has_polyp = crc != 0;
        fr[i].polyp_probability = 0.4f;
        fr[i].polyp = 0.4f >= thr;
        fr[i].polyp_weights_crc32c = crc;
        fr[i].polyp_threshold = thr;
    }
    assert_int_equal(cs_store_frames_add(f->s, "a", fr, n, 10 * (from + n), &e), CS_OK);
}

static void expect_setting(const cs_polyp_setting *p, uint32_t crc, float thr, uint64_t frames,
                           uint64_t first, uint64_t last)
{
    assert_true(p->recorded);
    assert_int_equal(p->weights_crc32c, crc);
    assert_true(p->threshold == thr); /* the float that flagged, exactly */
    assert_int_equal(p->frames, frames);
    assert_int_equal(p->first_seq, first);
    assert_int_equal(p->last_seq, last);
}

/* Schema 11: each frame keeps the polyp operating point it was analysed
 * at, and the study lists them in frame order: one normally, more after a
 * restart with other weights or another threshold. Frames without a
 * polyp result are not counted; a replaced frame moves to its new point;
 * rows from before schema 11 are listed as not recorded. */
static void a_study_lists_the_polyp_operating_points_its_frames_had(void **state)
{
    fx *f = *state;
    cs_error e = {0};
    cs_polyp_setting ps[4];
    size_t n = 99;
    fx_study(f->s, "a", 100);
    assert_int_equal(cs_store_polyp_settings(f->s, "a", ps, 4, &n, &e), CS_OK);
    assert_int_equal(n, 0);
    const uint32_t A = 0xfedcba98u, B = 0x0000abcdu; /* a CRC above 2^31, one with zeros */
    const float low = 0.371480703f, high = 0.5f;
    add_at(f, 0, 4, A, low);
    add_at(f, 4, 2, A, high);
    add_at(f, 6, 1, 0, 0.0f); /* no polyp model: not a setting */
    add_at(f, 7, 2, B, low);
    assert_int_equal(cs_store_polyp_settings(f->s, "a", ps, 4, &n, &e), CS_OK);
    assert_int_equal(n, 3);
    expect_setting(&ps[0], A, low, 4, 0, 3);
    expect_setting(&ps[1], A, high, 2, 4, 5);
    expect_setting(&ps[2], B, low, 2, 7, 8);
    /* room for two: the count still says three */
    memset(ps, 0, sizeof ps);
    assert_int_equal(cs_store_polyp_settings(f->s, "a", ps, 2, &n, &e), CS_OK);
    assert_int_equal(n, 3);
    expect_setting(&ps[1], A, high, 2, 4, 5);
    assert_int_equal(ps[2].frames, 0);
    /* frames 4-5 analysed again at the first point: it covers 0-5 */
    add_at(f, 4, 2, A, low);
    assert_int_equal(cs_store_polyp_settings(f->s, "a", ps, 4, &n, &e), CS_OK);
    assert_int_equal(n, 2);
    expect_setting(&ps[0], A, low, 6, 0, 5);
    expect_setting(&ps[1], B, low, 2, 7, 8);
    /* a row stored before schema 11 */
    fx_sql(f, "UPDATE frames SET polyp_crc = NULL, polyp_threshold = NULL WHERE seq = 8");
    assert_int_equal(cs_store_polyp_settings(f->s, "a", ps, 4, &n, &e), CS_OK);
    assert_int_equal(n, 3);
    assert_false(ps[2].recorded);
    assert_int_equal(ps[2].frames, 1);
    assert_int_equal(ps[2].first_seq, 8);
    /* another study has none */
    assert_int_equal(cs_store_polyp_settings(f->s, "nope", ps, 4, &n, &e), CS_OK);
    assert_int_equal(n, 0);
}

/* A batch the database refuses (its study does not exist) stores nothing,
 * moves no counter, says why, and leaves the store working (PostgreSQL
 * sends a batch pipelined: the rows after the failure are aborted). */
static void a_refused_batch_stores_nothing_and_the_store_goes_on(void **state)
{
    fx *f = *state;
    cs_error e = {0};
    cs_frame_rec fr[8];
    fx_study(f->s, "a", 100);
    for (int i = 0; i < 8; i++)
        make_frame(&fr[i], (uint64_t)i, 0);
    assert_int_equal(cs_store_frames_add(f->s, "nope", fr, 8, 1000, &e), CS_ERR_IO);
    assert_non_null(strstr(e.msg, "database"));
    assert_int_equal(fx_sql_scalar(f, "SELECT COUNT(*) FROM frames"), 0);
    add_frames(f->s, "a", 0, 8, 0);
    assert_counts_match_scan(f, "a");
    cs_study_counts c;
    assert_int_equal(cs_store_study_counts(f->s, "a", &c, &e), CS_OK);
    assert_int_equal(c.frames, 8);
    assert_int_equal(cs_store_ping(f->s, &e), CS_OK);
}

/* A schema 2 database: one made by this store, with schema 3's additions
 * dropped again and rows its counters never saw. */
static void a_schema_2_database_migrates_and_back_fills_the_counters(void **state)
{
    (void)state;
    fx f;
    cs_error e = {0};
    memset(&f, 0, sizeof f);
    fx_make_dir(&f);
    assert_int_equal(fx_open_store(&f, &f.s, &e), CS_OK);
    fx_study(f.s, "a", 100);
    fx_study(f.s, "b", 200);
    fx_study(f.s, "empty", 300);
    add_frames(f.s, "a", 0, 64, 0);
    add_frames(f.s, "b", 0, 10, 1);
    cs_store_close(f.s);
    /* Undo the later migrations first (schema 14: marks' first time; 12: training studies;
     * 11: polyp operating points; 10: several servers; 9: addenda; 8: reading time; 7: the PACS export
     * queue; 6: reader training). */
    fx_sql(&f, "ALTER TABLE marks DROP COLUMN first_at_ms;"
               "ALTER TABLE studies DROP COLUMN purpose; ALTER TABLE frames DROP COLUMN polyp_crc;"
               "ALTER TABLE frames DROP COLUMN polyp_threshold; DROP TABLE ingest_claims; DROP "
               "TABLE upload_leases; DROP TABLE login_limits;"
               "DROP TABLE report_addenda; DROP TABLE reading_time; DROP TABLE pacs_exports;"
               "DROP TABLE training_attempts; DROP TABLE training_cases; DROP TABLE courses;"
               "DELETE FROM schema_version WHERE version > 5;");
    /* (schema 5: the clinical record) */
    fx_sql(&f,
           "DROP INDEX studies_nhs;"
           "ALTER TABLE studies DROP COLUMN nhs_number; ALTER TABLE studies DROP COLUMN family;"
           "ALTER TABLE studies DROP COLUMN given; ALTER TABLE studies DROP COLUMN birth_date;"
           "ALTER TABLE studies DROP COLUMN sex; ALTER TABLE studies DROP COLUMN pathway;"
           "ALTER TABLE studies DROP COLUMN indication;"
           "ALTER TABLE studies DROP COLUMN indication_detail;"
           "ALTER TABLE studies DROP COLUMN referrer;"
           "ALTER TABLE findings DROP COLUMN segment; ALTER TABLE findings DROP COLUMN morphology;"
           "ALTER TABLE findings DROP COLUMN count;"
           "ALTER TABLE findings DROP COLUMN suspected_cancer;"
           "ALTER TABLE finding_history DROP COLUMN segment;"
           "ALTER TABLE finding_history DROP COLUMN morphology;"
           "ALTER TABLE finding_history DROP COLUMN count;"
           "ALTER TABLE finding_history DROP COLUMN suspected_cancer;"
           "DELETE FROM schema_version WHERE version > 4;");
    /* (schema 4: the care loop) */
    fx_sql(&f, "DROP TABLE alerts; DROP TABLE hub_status; DROP TABLE prep_ticks;"
               "DROP INDEX studies_patient_code; ALTER TABLE studies DROP COLUMN protocol;"
               "ALTER TABLE studies DROP COLUMN patient_code_hash;"
               "ALTER TABLE studies DROP COLUMN patient_code_expires_at;"
               "DELETE FROM schema_version WHERE version > 3;");
    fx_sql(&f, "ALTER TABLE studies DROP COLUMN n_frames; ALTER TABLE studies DROP COLUMN n_ok;"
               "ALTER TABLE studies DROP COLUMN n_readable;"
               "ALTER TABLE studies DROP COLUMN n_bleeding;"
               "ALTER TABLE studies DROP COLUMN n_too_dark;"
               "ALTER TABLE studies DROP COLUMN n_too_bright;"
               "ALTER TABLE studies DROP COLUMN n_blurry; ALTER TABLE studies DROP COLUMN n_polyp;"
               "ALTER TABLE studies DROP COLUMN last_capture_time_us;"
               "ALTER TABLE studies DROP COLUMN closed_at_ms;"
               "ALTER TABLE studies DROP COLUMN closed_by;"
               "ALTER TABLE frames DROP COLUMN polyp; ALTER TABLE frames DROP COLUMN polyp_flag;"
               "ALTER TABLE frames DROP COLUMN boxes;"
               "DELETE FROM schema_version WHERE version = 3;"
               /* written by a schema 2 server: the counters never saw it */
               "INSERT INTO frames (study, seq, frame_index, capture_time_us, ok, status,"
               " bleeding_probability, bleeding, exposure, sharpness, visibility, readable,"
               " blurry, width, height) VALUES ('b', 10, 10, 99000000, 1, 'ok', 0.9, 1,"
               " 'too_dark', 0.5, 0.9, 1, 1, 320, 320);");
    assert_int_equal(fx_sql_scalar(&f, "SELECT MAX(version) FROM schema_version"), 2);

    assert_int_equal(fx_open_store(&f, &f.s, &e), CS_OK);
    assert_int_equal(fx_sql_scalar(&f, "SELECT MAX(version) FROM schema_version"),
                     CS_STORE_SCHEMA_VERSION);
    assert_int_equal(fx_sql_scalar(&f, "SELECT COUNT(*) FROM frames WHERE polyp IS NOT NULL"), 0);
    assert_int_equal(fx_sql_scalar(&f, "SELECT COUNT(*) FROM frames WHERE boxes IS NOT NULL"), 0);
    assert_counts_match_scan(&f, "a");
    assert_counts_match_scan(&f, "b");
    assert_counts_match_scan(&f, "empty");
    cs_study_counts c;
    assert_int_equal(cs_store_study_counts(f.s, "b", &c, &e), CS_OK);
    assert_int_equal(c.frames, 11);
    assert_int_equal(c.last_capture_time_us, 99000000);
    assert_int_equal(cs_store_study_counts(f.s, "empty", &c, &e), CS_OK);
    assert_int_equal(c.last_capture_time_us, -1);
    /* and keeps counting from there */
    add_frames(f.s, "b", 11, 5, 2);
    assert_counts_match_scan(&f, "b");
    cs_study_rec sr;
    bool found = false;
    assert_int_equal(cs_store_study_get(f.s, "a", &found, &sr, &e), CS_OK);
    assert_int_equal(sr.closed_at_ms, 0);
    assert_string_equal(sr.closed_by, "");
    assert_int_equal(fx_remove(&f), 0);
}

/* The checkpointer copies the WAL into the database while the store is
 * open (it once never did: its connection had not read the database). */
static void the_wal_is_checkpointed_while_the_store_is_open(void **state)
{
    fx *f = *state;
    if (fx_pg())
        skip(); /* SQLite's WAL only */
    fx_study(f->s, "a", 100);
    add_frames(f->s, "a", 0, 3000, 0);
    struct stat sb;
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        assert_int_equal(stat(f->db, &sb), 0);
        if (sb.st_size > 64 * 1024)
            break;
        clock_gettime(CLOCK_MONOTONIC, &t);
        if (t.tv_sec - t0.tv_sec > 20)
            fail_msg("no checkpoint in 20 s: database still %lld bytes", (long long)sb.st_size);
        struct timespec nap = {0, 20 * 1000 * 1000};
        nanosleep(&nap, NULL); /* poll the condition; the checkpointer runs each second */
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, fx_open, fx_close)
        T(counters_follow_every_batch_and_replacements_count_once),
        T(counts_come_from_the_study_row_not_the_frames),
        T(polyp_results_are_stored_and_unknown_stays_unknown),
        T(a_study_lists_the_polyp_operating_points_its_frames_had),
        T(a_refused_batch_stores_nothing_and_the_store_goes_on),
        T(the_wal_is_checkpointed_while_the_store_is_open),
        cmocka_unit_test(a_schema_2_database_migrates_and_back_fills_the_counters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
