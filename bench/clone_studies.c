/* clone_studies.c - fill a store with many studies that have real frame
 * bytes, for bench/pg-studies.sh (bench/README.md, "Worklist and frames
 * with 1,000 studies on PostgreSQL").
 *
 *   bench-clone-studies --data DIR [--db postgresql://...] --template ID
 *                       --studies N
 *
 * ID is a study the real path made: `capscreen study import` of a packed
 * stream, analysed by `capscreen serve`. This program adds studies until
 * the store holds N, each a copy of ID made through the real store API:
 * cs_store_study_create, cs_store_upload_create (a complete upload whose
 * file in DIR/uploads is a hard link to the template's, so every study's
 * frames can be fetched and are byte-identical to the template's) and
 * cs_store_frames_add in batches of 1,000 (as the live analysis stores
 * them) with the template's per-frame results (cs_store_frame_views).
 * Fields the view does not carry (sharpness, visibility, size, exposure of
 * ok frames) are fixed values: the worklist and the viewer do not read
 * them. Run with no server on a SQLite store (one writer). Prints one JSON
 * line; errors to stderr, exit 1. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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
    fprintf(stderr, "bench-clone-studies: %s: %s\n", what, e && e->msg[0] ? e->msg : "failed");
    return 1;
}

/* All the template's frame views, in seq order (*out malloc'd). */
static int template_frames(cs_store *s, const char *study, cs_frame_view **out, size_t *n)
{
    cs_error e = {0};
    size_t cap = 4096, have = 0;
    cs_frame_view *v = malloc(cap * sizeof *v);
    if (!v)
        return die("template frames", NULL);
    for (;;) {
        size_t got = 0;
        if (have + BATCH > cap) {
            cs_frame_view *w = realloc(v, 2 * cap * sizeof *v);
            if (!w)
                return free(v), die("template frames", NULL);
            v = w, cap *= 2;
        }
        uint64_t from = have ? v[have - 1].seq + 1 : 0;
        if (cs_store_frame_views(s, study, from, v + have, BATCH, &got, &e) != CS_OK)
            return free(v), die("template frames", &e);
        have += got;
        if (got < BATCH)
            break;
    }
    *out = v;
    *n = have;
    return 0;
}

static void to_rec(const cs_frame_view *v, cs_frame_rec *r)
{
    memset(r, 0, sizeof *r);
    r->seq = v->seq;
    r->frame_index = v->frame_index;
    r->capture_time_us = v->capture_time_us;
    r->ok = v->ok;
    r->status = v->ok ? "ok" : "corrupt";
    r->error = v->ok ? NULL : "copied from the template";
    r->bleeding_probability = v->bleeding_probability;
    r->bleeding = v->bleeding;
    r->exposure = v->ok ? "ok" : NULL;
    r->sharpness = 0.5f;
    r->visibility = 0.8f;
    r->readable = v->readable;
    r->blurry = v->blurry;
    r->width = r->height = 256;
    r->payload_offset = v->payload_offset;
    r->payload_len = v->payload_len;
    r->mean_rgb = v->mean_rgb;
    r->redundant = v->redundant;
    r->has_polyp = v->has_polyp;
    r->polyp_probability = v->polyp_probability;
    r->polyp = v->polyp;
    r->boxes = v->boxes;
}

int main(int argc, char **argv)
{
    const char *data = NULL, *db = NULL, *tpl = NULL;
    long studies = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--data") == 0)
            data = argv[i + 1];
        else if (strcmp(argv[i], "--db") == 0)
            db = argv[i + 1];
        else if (strcmp(argv[i], "--template") == 0)
            tpl = argv[i + 1];
        else if (strcmp(argv[i], "--studies") == 0)
            studies = atol(argv[i + 1]);
        else
            break;
    }
    if (!data || !tpl || studies < 1 || argc % 2 == 0) {
        fprintf(stderr, "usage: bench-clone-studies --data DIR [--db postgresql://...]"
                        " --template STUDY --studies N\n");
        return 2;
    }
    cs_error e = {0};
    cs_store *s = NULL;
    if (cs_store_open_db(db, data, &s, &e) != CS_OK)
        return die("open store", &e);
    int rc = 1;
    cs_study_rec t;
    bool found = false;
    cs_upload_rec *ups = NULL;
    size_t n_ups = 0, n_frames = 0;
    cs_frame_view *views = NULL;
    cs_frame_rec *recs = NULL;
    cs_study_rec *list = NULL;
    size_t have = 0;
    if (cs_store_study_get(s, tpl, &found, &t, &e) != CS_OK || !found) {
        rc = die("template study", found ? &e : NULL);
        goto out;
    }
    if (cs_store_upload_list(s, tpl, false, &ups, &n_ups, &e) != CS_OK || n_ups != 1 ||
        ups[0].state != CS_UPLOAD_COMPLETE) {
        rc = die("the template must have one complete upload", &e);
        goto out;
    }
    if (template_frames(s, tpl, &views, &n_frames) != 0 || n_frames == 0 ||
        !(recs = calloc(n_frames, sizeof *recs))) {
        rc = die("the template has no analysed frames", NULL);
        goto out;
    }
    for (size_t k = 0; k < n_frames; k++)
        to_rec(&views[k], &recs[k]);
    if (cs_store_studies_list(s, &list, &have, &e) != CS_OK) {
        rc = die("list studies", &e);
        goto out;
    }
    char src[4200];
    snprintf(src, sizeof src, "%s/uploads/%s.bin", data, ups[0].id);
    double t0 = now_s();
    long made = 0;
    for (long i = (long)have; i < studies; i++, made++) {
        cs_study_rec r = t;
        char code[64], dst[4200];
        snprintf(r.id, sizeof r.id, "bench-%06ld", i);
        snprintf(r.label, sizeof r.label, "bench copy %ld", i);
        r.created_at = t.created_at + i;
        r.code_expires_at = r.created_at + 86400;
        r.next_seq = 0;
        r.ingest_offset = 0;
        snprintf(code, sizeof code, "bench-code-%ld-%lld", i, (long long)t.created_at);
        if (cs_store_study_create(s, &r, code, &e) != CS_OK) {
            rc = die("create study", &e);
            goto out;
        }
        cs_upload_rec u = ups[0];
        snprintf(u.id, sizeof u.id, "bench-up-%06ld", i);
        snprintf(u.study, sizeof u.study, "%s", r.id);
        snprintf(dst, sizeof dst, "%s/uploads/%s.bin", data, u.id);
        if (link(src, dst) != 0 && errno != EEXIST) {
            fprintf(stderr, "bench-clone-studies: link %s: %s\n", dst, strerror(errno));
            goto out;
        }
        if (cs_store_upload_create(s, &u, &e) != CS_OK) {
            rc = die("create upload", &e);
            goto out;
        }
        for (size_t f = 0; f < n_frames; f += BATCH) {
            size_t n = n_frames - f < BATCH ? n_frames - f : BATCH;
            uint64_t ingest = f + n == n_frames ? t.ingest_offset : recs[f + n].payload_offset;
            if (cs_store_frames_add(s, r.id, recs + f, n, ingest, &e) != CS_OK) {
                rc = die("store frames", &e);
                goto out;
            }
        }
        if ((i + 1) % 100 == 0 || i + 1 == studies)
            fprintf(stderr, "\rbench-clone-studies: %ld/%ld studies (%.0f s)", i + 1, studies,
                    now_s() - t0);
    }
    fprintf(stderr, "\n");
    printf("{\"studies\":%ld,\"made\":%ld,\"frames_per_study\":%zu,\"fill_s\":%.1f}\n", studies,
           made, n_frames, now_s() - t0);
    rc = 0;
out:
    free(list);
    free(recs);
    free(views);
    free(ups);
    cs_store_close(s);
    return rc;
}
