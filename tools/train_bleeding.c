/* train_bleeding.c - trains the bleeding model on the WCEBleedGen frames
 * with grouped k-fold cross-validation, and writes the model (XGBoost JSON
 * with its threshold inside) and a metrics report.
 *
 * Reproducible: fixed seed, deterministic fold assignment by group, and
 * XGBoost's histogram tree method (deterministic for a fixed seed). Usage: see --help or tools/train-bleeding. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xgboost/c_api.h>

#include "capscreen/fileio.h"
#include "capscreen/image.h"
#include "capscreen/labels.h"
#include "capscreen/metrics.h"
#include "capscreen/reencode.h"
#include "engine/features.h"

#define NF CS_BLEED_NFEAT
/* The robustness check the issue asks for: 336x336 at JPEG quality 70.
 * It is held out of augmentation so the check stays honest. */
#define TEST_SIDE 336
#define TEST_QUALITY 70

typedef struct options {
    const char *data_dir;
    const char *out;
    const char *metrics_out;
    int folds, rounds, depth, seed, threads;
    double target_spec;
    int cv_only;
} options;

/* Per-frame features: as shipped, the augmentation copy, the test copy. */
typedef struct sample {
    float orig[NF], aug[NF], test[NF];
    int label, fold, ok;
    long group;
} sample;

typedef struct job {
    const options *opt;
    const cs_labels *labels;
    sample *samples;
    size_t next;
    pthread_mutex_t lock;
} job;

/* Augmentation sizes and qualities, none equal to the test transform. */
static const int aug_side[] = {256, 288, 400, 512, 224, 448};
static const int aug_quality[] = {50, 60, 80, 90, 55, 85};

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

static int features_of(const uint8_t *data, size_t len, float *feat, cs_error *err)
{
    cs_image img;
    if (cs_decode_frame(data, len, &img, err) != CS_OK)
        return -1;
    cs_status st = cs_bleed_features(&img, feat);
    cs_image_free(&img);
    if (st != CS_OK)
        return cs_error_set(err, st, "out of memory computing features"), -1;
    return 0;
}

static int variant_features(const uint8_t *data, size_t len, int side, int q, float *feat,
                            cs_error *err)
{
    uint8_t *re = NULL;
    size_t re_len = 0;
    if (cs_jpeg_reencode(data, len, side, q, &re, &re_len, err) != CS_OK)
        return -1;
    int rc = features_of(re, re_len, feat, err);
    free(re);
    return rc;
}

static void *extract_worker(void *arg)
{
    job *j = arg;
    char path[4096];
    for (;;) {
        pthread_mutex_lock(&j->lock);
        size_t i = j->next++;
        pthread_mutex_unlock(&j->lock);
        if (i >= j->labels->n)
            return NULL;
        const cs_label *l = &j->labels->items[i];
        sample *s = &j->samples[i];
        s->label = l->bleeding;
        s->group = l->group >= 0 ? l->group : (long)i;
        snprintf(path, sizeof path, "%s/images/%s", j->opt->data_dir, l->file);
        uint8_t *buf = NULL;
        size_t n = 0;
        cs_error err = {0};
        if (cs_file_read(path, CS_ENCODED_MAX_BYTES, &buf, &n, &err) != CS_OK) {
            fprintf(stderr, "train-bleeding: skip: %s\n", err.msg);
            continue;
        }
        size_t k =
            mix((uint64_t)i ^ (uint64_t)j->opt->seed) % (sizeof aug_side / sizeof aug_side[0]);
        if (features_of(buf, n, s->orig, &err) == 0 &&
            variant_features(buf, n, aug_side[k], aug_quality[k], s->aug, &err) == 0 &&
            variant_features(buf, n, TEST_SIDE, TEST_QUALITY, s->test, &err) == 0)
            s->ok = 1;
        else
            fprintf(stderr, "train-bleeding: skip %s: %s\n", path, err.msg);
        free(buf);
    }
}

/* Groups go to folds in a seeded random order, each to the fold with the
 * fewest frames so far: near-duplicates never straddle train and test. */
#define MAX_GROUP 0xFFFFF /* groups fit the 20 low bits of a shuffle key */

static void assign_folds(sample *s, size_t n, int folds, int seed)
{
    long max_group = 0;
    for (size_t i = 0; i < n; i++)
        if (s[i].group > max_group)
            max_group = s[i].group;
    long ng = max_group + 1;
    long *fold_of = malloc((size_t)ng * sizeof *fold_of);
    long *size = calloc((size_t)ng, sizeof *size);
    uint64_t *order = malloc((size_t)ng * sizeof *order);
    size_t count[64] = {0};
    for (size_t i = 0; i < n; i++)
        size[s[i].group]++;
    for (long g = 0; g < ng; g++)
        order[g] = (mix((uint64_t)g * 2654435761u + (uint64_t)seed) << 20) | (uint64_t)g;
    /* Sort by the hashed key: a seeded shuffle. */
    for (long a = 1; a < ng; a++) {
        uint64_t v = order[a];
        long b = a - 1;
        while (b >= 0 && order[b] > v) {
            order[b + 1] = order[b];
            b--;
        }
        order[b + 1] = v;
    }
    for (long k = 0; k < ng; k++) {
        long g = (long)(order[k] & MAX_GROUP);
        int best = 0;
        for (int f = 1; f < folds; f++)
            if (count[f] < count[best])
                best = f;
        fold_of[g] = best;
        count[best] += (size_t)size[g];
    }
    for (size_t i = 0; i < n; i++)
        s[i].fold = (int)fold_of[s[i].group];
    free(fold_of);
    free(size);
    free(order);
}

#define XGB(call)                                                                \
    do {                                                                         \
        if ((call) != 0) {                                                       \
            fprintf(stderr, "train-bleeding: XGBoost: %s\n", XGBGetLastError()); \
            exit(1);                                                             \
        }                                                                        \
    } while (0)

/* Train on every usable sample not in `hold_out` (-1: train on all), with
 * each training frame present as shipped and as one re-encoded copy. */
static BoosterHandle train(const sample *s, size_t n, int hold_out, const options *opt)
{
    size_t rows = 0;
    float *x = malloc(2 * n * NF * sizeof *x), *y = malloc(2 * n * sizeof *y);
    for (size_t i = 0; i < n; i++) {
        if (!s[i].ok || s[i].fold == hold_out)
            continue;
        memcpy(x + rows * NF, s[i].orig, sizeof s[i].orig);
        y[rows++] = (float)s[i].label;
        memcpy(x + rows * NF, s[i].aug, sizeof s[i].aug);
        y[rows++] = (float)s[i].label;
    }
    DMatrixHandle d;
    BoosterHandle b;
    char buf[32];
    XGB(XGDMatrixCreateFromMat(x, rows, NF, NAN, &d));
    XGB(XGDMatrixSetFloatInfo(d, "label", y, rows));
    XGB(XGBoosterCreate(&d, 1, &b));
    XGB(XGBoosterSetParam(b, "objective", "binary:logistic"));
    XGB(XGBoosterSetParam(b, "tree_method", "hist"));
    snprintf(buf, sizeof buf, "%d", opt->depth);
    XGB(XGBoosterSetParam(b, "max_depth", buf));
    XGB(XGBoosterSetParam(b, "eta", "0.1"));
    XGB(XGBoosterSetParam(b, "min_child_weight", "2"));
    XGB(XGBoosterSetParam(b, "colsample_bytree", "0.7"));
    XGB(XGBoosterSetParam(b, "subsample", "0.8"));
    snprintf(buf, sizeof buf, "%d", opt->seed);
    XGB(XGBoosterSetParam(b, "seed", buf));
    snprintf(buf, sizeof buf, "%d", opt->threads);
    XGB(XGBoosterSetParam(b, "nthread", buf));
    for (int it = 0; it < opt->rounds; it++)
        XGB(XGBoosterUpdateOneIter(b, it, d));
    XGB(XGDMatrixFree(d));
    free(x);
    free(y);
    return b;
}

static void predict(BoosterHandle b, const float *row, float *out)
{
    DMatrixHandle d;
    bst_ulong len;
    const float *res;
    XGB(XGDMatrixCreateFromMat(row, 1, NF, NAN, &d));
    XGB(XGBoosterPredict(b, d, 0, 0, 0, &len, &res));
    *out = res[0];
    XGB(XGDMatrixFree(d));
}

static void print_metrics(FILE *f, const char *name, const cs_metrics *m, double sens95,
                          const char *tail)
{
    fprintf(f,
            "  \"%s\": {\"n\": %zu, \"accuracy\": %.4f, \"sensitivity\": %.4f, "
            "\"specificity\": %.4f, \"f1\": %.4f, \"auroc\": %.4f, "
            "\"sensitivity_at_specificity_0.95\": %.4f, \"threshold\": %.4f}%s\n",
            name, m->n, m->accuracy, m->sensitivity, m->specificity, m->f1, m->auroc, sens95,
            m->threshold, tail);
}

static void usage(FILE *f)
{
    fprintf(f, "usage: train-bleeding [--data DIR] [--out MODEL.json] [--metrics FILE.json]\n"
               "                      [--folds K] [--rounds N] [--depth D] [--seed S]\n"
               "                      [--threads T] [--target-specificity S] [--cv-only]\n"
               "Trains the bleeding model on DIR/labels.csv + DIR/images with grouped\n"
               "K-fold cross-validation (by the 'group' column), prints the metrics as\n"
               "JSON, and (unless --cv-only) writes the final model trained on all frames.\n");
}

int main(int argc, char **argv)
{
    options opt = {
        "../shared/data/wcebleedgen", "models/bleeding-xgb.json", NULL, 5, 200, 4, 7, 2, 0.97, 0};
    static const struct option longopts[] = {{"data", required_argument, 0, 'd'},
                                             {"out", required_argument, 0, 'o'},
                                             {"metrics", required_argument, 0, 'm'},
                                             {"folds", required_argument, 0, 'k'},
                                             {"rounds", required_argument, 0, 'r'},
                                             {"depth", required_argument, 0, 'D'},
                                             {"seed", required_argument, 0, 's'},
                                             {"threads", required_argument, 0, 't'},
                                             {"target-specificity", required_argument, 0, 'p'},
                                             {"cv-only", no_argument, 0, 'c'},
                                             {"help", no_argument, 0, 'h'},
                                             {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'd': opt.data_dir = optarg; break;
        case 'o': opt.out = optarg; break;
        case 'm': opt.metrics_out = optarg; break;
        case 'k': opt.folds = atoi(optarg); break;
        case 'r': opt.rounds = atoi(optarg); break;
        case 'D': opt.depth = atoi(optarg); break;
        case 's': opt.seed = atoi(optarg); break;
        case 't': opt.threads = atoi(optarg); break;
        case 'p': opt.target_spec = atof(optarg); break;
        case 'c': opt.cv_only = 1; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (opt.folds < 2 || opt.folds > 64 || opt.rounds < 1 || opt.threads < 1) {
        fprintf(stderr, "train-bleeding: bad --folds/--rounds/--threads\n");
        return 2;
    }

    char path[4096];
    cs_labels labels;
    cs_error err = {0};
    snprintf(path, sizeof path, "%s/labels.csv", opt.data_dir);
    if (cs_labels_read(path, &labels, &err) != CS_OK) {
        fprintf(stderr, "train-bleeding: %s\n", err.msg);
        return 1;
    }
    /* assign_folds indexes groups directly and keeps 20 bits of each in
     * its shuffle key: a larger group number would allocate wildly or
     * fold wrongly, so it is refused here with its line. */
    for (size_t i = 0; i < labels.n; i++)
        if (labels.items[i].group > MAX_GROUP) {
            fprintf(stderr, "train-bleeding: %s:%ld: group %ld is above %ld\n", path,
                    labels.items[i].line, labels.items[i].group, (long)MAX_GROUP);
            cs_labels_free(&labels);
            return 1;
        }
    size_t n = labels.n;
    job j = {.opt = &opt, .labels = &labels, .samples = calloc(n, sizeof(sample))};
    pthread_mutex_init(&j.lock, NULL);
    pthread_t th[16];
    int nt = opt.threads < 16 ? opt.threads : 16;
    for (int t = 0; t < nt; t++)
        pthread_create(&th[t], NULL, extract_worker, &j);
    for (int t = 0; t < nt; t++)
        pthread_join(th[t], NULL);
    sample *s = j.samples;
    assign_folds(s, n, opt.folds, opt.seed);

    float *oof = malloc(n * sizeof *oof), *oof_test = malloc(n * sizeof *oof_test);
    int *lab = malloc(n * sizeof *lab);
    size_t used = 0;
    double fold_auc[64];
    for (int f = 0; f < opt.folds; f++) {
        BoosterHandle b = train(s, n, f, &opt);
        size_t start = used;
        for (size_t i = 0; i < n; i++) {
            if (!s[i].ok || s[i].fold != f)
                continue;
            predict(b, s[i].orig, &oof[used]);
            predict(b, s[i].test, &oof_test[used]);
            lab[used++] = s[i].label;
        }
        fold_auc[f] = cs_auroc(oof + start, lab + start, used - start);
        fprintf(stderr, "train-bleeding: fold %d: %zu frames, AUROC %.4f\n", f + 1, used - start,
                fold_auc[f]);
        XGB(XGBoosterFree(b));
    }

    /* Operating point of the shipped model: the highest sensitivity whose
     * out-of-fold specificity is at least --target-specificity (0.97: a
     * margin above the 0.95 the issue asks for, since a threshold picked
     * on the edge of the ROC curve lands below it on new data half the
     * time). Missed blood costs more than a false flag a reader dismisses
     * in seconds, hence sensitivity first. */
    double thr = 0.5;
    cs_sensitivity_at_specificity(oof, lab, used, opt.target_spec, &thr);
    double sens95 = cs_sensitivity_at_specificity(oof, lab, used, 0.95, NULL);
    double sens95_test = cs_sensitivity_at_specificity(oof_test, lab, used, 0.95, NULL);
    cs_metrics m, mt, m05, mt05;
    cs_metrics_compute(oof, lab, used, thr, &m);
    cs_metrics_compute(oof_test, lab, used, thr, &mt);
    cs_metrics_compute(oof, lab, used, 0.5, &m05);
    cs_metrics_compute(oof_test, lab, used, 0.5, &mt05);

    FILE *mf = opt.metrics_out ? fopen(opt.metrics_out, "w") : NULL;
    for (int pass = 0; pass < (mf ? 2 : 1); pass++) {
        FILE *o = pass == 0 ? stdout : mf;
        fprintf(o, "{\n  \"data\": \"WCEBleedGen (%zu frames used of %zu)\",\n", used, n);
        fprintf(o,
                "  \"folds\": %d, \"grouped_by\": \"group\", \"rounds\": %d, \"max_depth\": %d, "
                "\"seed\": %d, \"features\": %d,\n",
                opt.folds, opt.rounds, opt.depth, opt.seed, NF);
        fprintf(o, "  \"fold_auroc\": [");
        for (int f = 0; f < opt.folds; f++)
            fprintf(o, "%s%.4f", f ? ", " : "", fold_auc[f]);
        fprintf(o, "],\n");
        print_metrics(o, "out_of_fold", &m, sens95, ",");
        print_metrics(o, "out_of_fold_reencoded_336_q70", &mt, sens95_test, ",");
        print_metrics(o, "out_of_fold_at_0.5", &m05, sens95, ",");
        print_metrics(o, "out_of_fold_reencoded_336_q70_at_0.5", &mt05, sens95_test, ",");
        fprintf(o, "  \"reencode_accuracy_drop_points\": %.2f\n}\n",
                100.0 * (m.accuracy - mt.accuracy));
    }
    if (mf)
        fclose(mf);

    if (!opt.cv_only) {
        BoosterHandle b = train(s, n, -1, &opt);
        char buf[64];
        snprintf(buf, sizeof buf, "%.6f", thr);
        XGB(XGBoosterSetAttr(b, "cs_threshold", buf));
        snprintf(buf, sizeof buf, "%d", NF);
        XGB(XGBoosterSetAttr(b, "cs_features", buf));
        XGB(XGBoosterSaveModel(b, opt.out));
        XGB(XGBoosterFree(b));
        fprintf(stderr, "train-bleeding: wrote %s (threshold %.6f)\n", opt.out, thr);
    }
    free(oof);
    free(oof_test);
    free(lab);
    free(s);
    cs_labels_free(&labels);
    return 0;
}
