/* make_demo.c - builds the demo study in samples/demo/ from the WCEBleedGen
 * frames: a few hundred frames, resized to 320x320, in an order that looks
 * like a study (long clean stretches, a bleeding episode, a capsule that
 * stalls and sends near-identical frames), with labels.csv naming each
 * demo frame's source frame for attribution.
 *
 * Frames go to OUT/frames/, the labels to OUT/labels.csv (beside, not in,
 * the frames folder, which `capscreen analyze` reads whole).
 *
 * Deterministic: same data in, same files out. Usage:
 *   make-demo --data ../shared/data/wcebleedgen --out samples/demo */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "capscreen/fileio.h"
#include "capscreen/image.h"
#include "capscreen/labels.h"
#include "capscreen/reencode.h"

#define SIDE 320
#define QUALITY 85
#define N_CLEAN 160
#define N_BLEED 60
/* Stalls: a clean frame repeated, each copy re-encoded at another quality
 * so the copies are near-identical, not byte-identical. */
#define STALLS 4
#define STALL_LEN 6

static int write_frame(const char *data_dir, const char *src, const char *out_dir, int seq,
                       int quality, FILE *labels, int bleeding)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/images/%s", data_dir, src);
    uint8_t *buf = NULL;
    size_t n = 0;
    cs_error err = {0};
    if (cs_file_read(path, CS_ENCODED_MAX_BYTES, &buf, &n, &err) != CS_OK) {
        fprintf(stderr, "make-demo: %s\n", err.msg);
        return -1;
    }
    uint8_t *out = NULL;
    size_t out_len = 0;
    if (cs_jpeg_reencode(buf, n, SIDE, quality, &out, &out_len, &err) != CS_OK) {
        free(buf);
        fprintf(stderr, "make-demo: %s: %s\n", path, err.msg);
        return -1;
    }
    free(buf);
    char name[64];
    snprintf(name, sizeof name, "demo-%04d.jpg", seq);
    snprintf(path, sizeof path, "%s/frames/%s", out_dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(out, 1, out_len, f) != out_len || fclose(f) != 0) {
        free(out);
        fprintf(stderr, "make-demo: cannot write %s\n", path);
        return -1;
    }
    free(out);
    fprintf(labels, "%s,%d,%s\n", name, bleeding, src);
    return 0;
}

int main(int argc, char **argv)
{
    const char *data = "../shared/data/wcebleedgen", *out = "samples/demo";
    static const struct option longopts[] = {
        {"data", required_argument, 0, 'd'}, {"out", required_argument, 0, 'o'}, {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (c == 'd')
            data = optarg;
        else if (c == 'o')
            out = optarg;
        else {
            fprintf(stderr, "usage: make-demo [--data DIR] [--out DIR]\n");
            return 2;
        }
    }
    char path[4096];
    cs_labels labels;
    cs_error err = {0};
    snprintf(path, sizeof path, "%s/labels.csv", data);
    if (cs_labels_read(path, &labels, &err) != CS_OK) {
        fprintf(stderr, "make-demo: %s\n", err.msg);
        return 1;
    }
    /* Every k-th frame of each class, in the data set's (shuffled) order. */
    const cs_label *clean[N_CLEAN], *bleed[N_BLEED];
    size_t n_clean_all = 0, n_bleed_all = 0, nc = 0, nb = 0;
    for (size_t i = 0; i < labels.n; i++)
        labels.items[i].bleeding ? n_bleed_all++ : n_clean_all++;
    size_t kc = n_clean_all / N_CLEAN, kb = n_bleed_all / N_BLEED, ic = 0, ib = 0;
    for (size_t i = 0; i < labels.n; i++) {
        const cs_label *l = &labels.items[i];
        if (l->bleeding) {
            if (ib++ % kb == 0 && nb < N_BLEED)
                bleed[nb++] = l;
        } else if (ic++ % kc == 0 && nc < N_CLEAN) {
            clean[nc++] = l;
        }
    }
    mkdir(out, 0755);
    snprintf(path, sizeof path, "%s/frames", out);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/labels.csv", out);
    FILE *lf = fopen(path, "w");
    if (!lf) {
        fprintf(stderr, "make-demo: cannot write %s: %s\n", path, strerror(errno));
        return 1;
    }
    fprintf(lf, "file,bleeding,source\n");
    /* The story: clean stretch with stalls, a bleeding episode in the
     * middle, a second small episode, clean to the end. */
    int seq = 1, rc = 0;
    size_t ci = 0, bi = 0;
    for (int block = 0; block < 8 && rc == 0; block++) {
        for (int k = 0; k < (int)nc / 8 && ci < nc && rc == 0; k++, ci++) {
            rc |= write_frame(data, clean[ci]->file, out, seq++, QUALITY, lf, 0);
            if (k == 5 && block % 2 == 0 && block / 2 < STALLS)
                for (int r = 1; r < STALL_LEN && rc == 0; r++)
                    rc |= write_frame(data, clean[ci]->file, out, seq++, QUALITY - 2 * r, lf, 0);
        }
        size_t episode = block == 3 ? nb * 2 / 3 : block == 6 ? nb - nb * 2 / 3 : 0;
        for (size_t k = 0; k < episode && bi < nb && rc == 0; k++, bi++)
            rc |= write_frame(data, bleed[bi]->file, out, seq++, QUALITY, lf, 1);
    }
    fclose(lf);
    cs_labels_free(&labels);
    if (rc == 0)
        fprintf(stderr, "make-demo: wrote %d frames to %s\n", seq - 1, out);
    return rc ? 1 : 0;
}
