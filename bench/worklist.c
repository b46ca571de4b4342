/* worklist.c - how long the worklist's store calls take for every study,
 * with the schema 2 way of counting (COUNT/SUM over each study's frames,
 * kept here as the reference) and the schema 3 way (counters on the study
 * row), in the same run on the same database (bench/README.md).
 *
 *   bench-worklist [--studies N] [--frames F] [--dir DIR] [--reps R]
 *
 * Fills DIR/capscreen.db through the real store API (cs_store_frames_add
 * in batches of 1,000, as the live analysis stores them) unless it already
 * holds exactly N studies of F frames, then times, warm, R times each and
 * interleaved, the calls GET /api/v1/worklist makes per study:
 * cs_store_studies_list once, then per study the counts and
 * cs_store_report_get. Prints figures and one JSON line; never fails on a
 * number. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "capscreen/store.h"

#define BATCH 1000

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int die(const char *what, const cs_error *e)
{
    fprintf(stderr, "bench-worklist: %s: %s\n", what, e ? e->msg : "failed");
    return 1;
}

/* Whether the database already holds `studies` studies of `frames` frames. */
static int already_filled(const char *db_path, long studies, long frames)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int ok = 0;
    if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, "SELECT COUNT(*), MIN(n_frames), MAX(n_frames) FROM studies", -1,
                           &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        ok = sqlite3_column_int64(st, 0) == studies && sqlite3_column_int64(st, 1) == frames &&
             sqlite3_column_int64(st, 2) == frames;
    sqlite3_finalize(st);
    sqlite3_close(db);
    return ok;
}

static int fill(cs_store *s, long studies, long frames)
{
    cs_error e = {0};
    cs_frame_rec *fr = calloc(BATCH, sizeof *fr);
    if (!fr)
        return die("fill", NULL);
    double t0 = now_s();
    for (long i = 0; i < studies; i++) {
        cs_study_rec r;
        char code[64];
        memset(&r, 0, sizeof r);
        snprintf(r.id, sizeof r.id, "study-%06ld", i);
        snprintf(r.label, sizeof r.label, "bench study %ld", i);
        r.created_at = 1700000000 + i;
        r.code_expires_at = r.created_at + 86400;
        snprintf(code, sizeof code, "code-%ld", i);
        if (cs_store_study_create(s, &r, code, &e) != CS_OK)
            return free(fr), die("create study", &e);
        cs_upload_rec u;
        memset(&u, 0, sizeof u);
        snprintf(u.id, sizeof u.id, "up-%06ld", i);
        snprintf(u.study, sizeof u.study, "%s", r.id);
        u.length = u.offset = (uint64_t)frames * 20000u;
        u.state = CS_UPLOAD_COMPLETE;
        u.checksum_base = -1;
        if (cs_store_upload_create(s, &u, &e) != CS_OK)
            return free(fr), die("create upload", &e);
        for (long f = 0; f < frames; f += BATCH) {
            size_t n = (size_t)(frames - f < BATCH ? frames - f : BATCH);
            for (size_t k = 0; k < n; k++) {
                uint64_t seq = (uint64_t)(f + (long)k);
                cs_frame_rec *x = &fr[k];
                x->seq = seq;
                x->frame_index = (int64_t)seq;
                x->capture_time_us = (int64_t)seq * 500000;
                x->ok = seq % 997 != 0;
                x->status = x->ok ? "ok" : "corrupt";
                x->error = x->ok ? NULL : "bad record";
                x->bleeding = seq % 101 == 0;
                x->bleeding_probability = x->bleeding ? 0.9f : 0.05f;
                x->exposure = seq % 13 == 0 ? "too_dark" : "ok";
                x->sharpness = 0.5f;
                x->visibility = 0.8f;
                x->readable = seq % 7 != 0;
                x->blurry = seq % 11 == 0;
                x->width = x->height = 320;
                x->payload_offset = seq * 20000u + 40u;
                x->payload_len = 19000;
                x->mean_rgb = 0x804020u;
                x->has_polyp = true;
                x->polyp_probability = 0.1f;
                x->polyp = seq % 499 == 0;
            }
            if (cs_store_frames_add(s, r.id, fr, n, (f + (long)n) * 20000u, &e) != CS_OK)
                return free(fr), die("store frames", &e);
        }
        if ((i + 1) % 10 == 0 || i + 1 == studies)
            fprintf(stderr, "\rfilled %ld/%ld studies (%.0f s)", i + 1, studies, now_s() - t0);
    }
    fprintf(stderr, "\n");
    free(fr);
    printf("fill: %ld studies x %ld frames through cs_store_frames_add: %.1f s (%.0f frames/s)\n",
           studies, frames, now_s() - t0, (double)studies * (double)frames / (now_s() - t0));
    return 0;
}

/* The schema 2 counts, as sq_study_counts ran them before schema 3
 * (prepared per call, as it did). */
static int old_counts(sqlite3 *db, const char *study, cs_study_counts *o)
{
    sqlite3_stmt *st = NULL, *st2 = NULL;
    int ok = sqlite3_prepare_v2(db,
                                "SELECT COUNT(*), COALESCE(SUM(ok),0),"
                                " COALESCE(SUM(readable),0), COALESCE(SUM(bleeding),0),"
                                " COALESCE(SUM(exposure='too_dark'),0),"
                                " COALESCE(SUM(exposure='too_bright'),0),"
                                " COALESCE(SUM(blurry),0), MAX(capture_time_us)"
                                " FROM frames WHERE study = ?",
                                -1, &st, NULL) == SQLITE_OK &&
             sqlite3_prepare_v2(db,
                                "SELECT COUNT(*), COALESCE(SUM(state=0),0),"
                                " COALESCE(SUM(offset),0) FROM uploads WHERE study = ?",
                                -1, &st2, NULL) == SQLITE_OK;
    if (ok) {
        sqlite3_bind_text(st, 1, study, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st2, 1, study, -1, SQLITE_TRANSIENT);
        ok = sqlite3_step(st) == SQLITE_ROW && sqlite3_step(st2) == SQLITE_ROW;
    }
    if (ok) {
        memset(o, 0, sizeof *o);
        o->frames = (uint64_t)sqlite3_column_int64(st, 0);
        o->analysed = (uint64_t)sqlite3_column_int64(st, 1);
        o->bleeding = (uint64_t)sqlite3_column_int64(st, 3);
        o->uploads = sqlite3_column_int(st2, 0);
    }
    sqlite3_finalize(st);
    sqlite3_finalize(st2);
    return ok ? 0 : -1;
}

/* One worklist's store calls; `db` non-NULL: counts the schema 2 way.
 * *frames gets the frames counted (a check that both ways agree). */
static int worklist(cs_store *s, sqlite3 *db, cs_report_rec *rep, uint64_t *frames, double *secs)
{
    cs_error e = {0};
    cs_study_rec *list = NULL;
    size_t n = 0;
    double t0 = now_s();
    *frames = 0;
    if (cs_store_studies_list(s, &list, &n, &e) != CS_OK)
        return die("list studies", &e);
    for (size_t i = 0; i < n; i++) {
        cs_study_counts c;
        bool found = false;
        if (db ? old_counts(db, list[i].id, &c) != 0
               : cs_store_study_counts(s, list[i].id, &c, &e) != CS_OK) {
            free(list);
            return die("count", db ? NULL : &e);
        }
        if (cs_store_report_get(s, list[i].id, &found, rep, &e) != CS_OK) {
            free(list);
            return die("report", &e);
        }
        *frames += c.frames;
    }
    free(list);
    *secs = now_s() - t0;
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    long studies = 1000, frames = 100000;
    int reps = 3;
    const char *dir = "/tmp/capscreen-bench-worklist";
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--studies") == 0)
            studies = atol(argv[i + 1]);
        else if (strcmp(argv[i], "--frames") == 0)
            frames = atol(argv[i + 1]);
        else if (strcmp(argv[i], "--dir") == 0)
            dir = argv[i + 1];
        else if (strcmp(argv[i], "--reps") == 0)
            reps = atoi(argv[i + 1]);
        else {
            fprintf(stderr, "usage: bench-worklist [--studies N] [--frames F] [--dir DIR]"
                            " [--reps R]\n");
            return 2;
        }
    }
    if (studies < 1 || frames < 1 || reps < 1 || reps > 100) {
        fprintf(stderr, "bench-worklist: studies, frames and reps must be positive\n");
        return 2;
    }
    char db_path[4200];
    snprintf(db_path, sizeof db_path, "%s/capscreen.db", dir);
    cs_error e = {0};
    int filled = already_filled(db_path, studies, frames);
    if (!filled) {
        /* A database of another size: start again. */
        char p[4300];
        const char *sfx[] = {"", "-wal", "-shm"};
        for (int i = 0; i < 3; i++) {
            snprintf(p, sizeof p, "%s%s", db_path, sfx[i]);
            remove(p);
        }
    }
    cs_store *s = NULL;
    if (cs_store_open(dir, &s, &e) != CS_OK)
        return die("open store", &e);
    if (!filled) {
        if (fill(s, studies, frames) != 0)
            return cs_store_close(s), 1;
        /* Measure a settled database: closing checkpoints the WAL. */
        cs_store_close(s);
        if (cs_store_open(dir, &s, &e) != CS_OK)
            return die("reopen store", &e);
    }
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
        return cs_store_close(s), die("open reference connection", NULL);
    cs_report_rec *rep = malloc(sizeof *rep);
    double *before = calloc((size_t)reps, sizeof *before);
    double *after = calloc((size_t)reps, sizeof *after);
    int rc = !rep || !before || !after;
    uint64_t fb = 0, fa = 0;
    double warm = 0;
    /* Warm the page cache with one pass of each, then interleave. */
    if (!rc)
        rc = worklist(s, db, rep, &fb, &warm) || worklist(s, NULL, rep, &fa, &warm);
    for (int r = 0; r < reps && !rc; r++)
        rc = worklist(s, db, rep, &fb, &before[r]) || worklist(s, NULL, rep, &fa, &after[r]);
    if (!rc) {
        qsort(before, (size_t)reps, sizeof *before, cmp_double);
        qsort(after, (size_t)reps, sizeof *after, cmp_double);
        double b = before[reps / 2], a = after[reps / 2];
        printf("worklist of %ld studies x %ld frames (%" PRIu64 " frames counted both ways%s)\n",
               studies, frames, fa, fa == fb ? "" : ": MISMATCH");
        printf("  before (COUNT/SUM over the frames): median %.3f s, best %.3f s"
               " (%.1f us/study)\n",
               b, before[0], b * 1e6 / (double)studies);
        printf("  after (counters on the study row):  median %.4f s, best %.4f s"
               " (%.1f us/study)\n",
               a, after[0], a * 1e6 / (double)studies);
        printf("  speed-up: %.0fx\n", a > 0 ? b / a : 0.0);
        printf("{\"bench\":\"worklist\",\"studies\":%ld,\"frames_per_study\":%ld,\"reps\":%d,"
               "\"before_s\":%.6f,\"after_s\":%.6f,\"counts_agree\":%s}\n",
               studies, frames, reps, b, a, fa == fb ? "true" : "false");
    }
    free(rep);
    free(before);
    free(after);
    sqlite3_close(db);
    cs_store_close(s);
    return rc;
}
