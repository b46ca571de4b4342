/* cmd_eval.c - `capscreen eval-bleeding DIR LABELS.csv`: the bleeding
 * detector's confusion table and metrics on someone's labelled frames. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capscreen/engine.h"
#include "capscreen/fileio.h"
#include "capscreen/labels.h"
#include "capscreen/metrics.h"
#include "capscreen/pipeline.h"
#include "capscreen/source.h"
#include "cli/cli.h"

static void usage(FILE *f)
{
    fputs("usage: capscreen eval-bleeding [--model FILE] [--threshold T] DIR LABELS.csv\n"
          "\n"
          "Run the bleeding detector on the frames of DIR named in LABELS.csv (columns\n"
          "file,bleeding; others ignored) and print a confusion table, then one JSON\n"
          "object with n, accuracy, sensitivity, specificity, auroc, f1 as the last line.\n"
          "Frames that cannot be read are listed on stderr and left out of the metrics.\n",
          f);
}

static void print_json_number(const char *key, double v, int last)
{
    if (isfinite(v))
        printf("\"%s\": %.4f%s", key, v, last ? "" : ", ");
    else
        printf("\"%s\": null%s", key, last ? "" : ", ");
}

int cli_eval_bleeding(int argc, char **argv)
{
    static const struct option longopts[] = {{"model", required_argument, 0, 'm'},
                                             {"threshold", required_argument, 0, 't'},
                                             {"help", no_argument, 0, 'h'},
                                             {0, 0, 0, 0}};
    const char *model = NULL;
    double threshold = -1;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "m:h", longopts, NULL)) != -1) {
        char *end = NULL;
        switch (c) {
        case 'm': model = optarg; break;
        case 't':
            threshold = strtod(optarg, &end);
            if (*end || threshold < 0 || threshold > 1) {
                cli_fail("--threshold must be a number in [0, 1], not '%s'", optarg);
                return 2;
            }
            break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc - 2) {
        cli_fail("eval-bleeding needs DIR and LABELS.csv (try 'capscreen eval-bleeding --help')");
        return 2;
    }
    const char *dir = argv[optind], *csv = argv[optind + 1];
    cs_error err = {0};
    cs_labels labels = {0};
    cs_engine *eng = NULL;
    cs_worker *w = NULL;
    float *scores = NULL;
    int *truth = NULL;
    size_t used = 0, failed = 0;
    int rc = 1;

    if (cs_labels_read(csv, &labels, &err) != CS_OK) {
        cli_fail("%s", err.msg);
        return 1;
    }
    if (labels.n == 0) {
        cli_fail("%s lists no frames", csv);
        goto done;
    }
    if (cs_engine_load(model, &eng, &err) != CS_OK || cs_worker_new(eng, &w, &err) != CS_OK) {
        cli_fail("%s", err.msg);
        goto done;
    }
    if (threshold < 0)
        threshold = cs_engine_threshold(eng);
    scores = malloc(labels.n * sizeof *scores);
    truth = malloc(labels.n * sizeof *truth);
    if (!scores || !truth) {
        cli_fail("out of memory");
        goto done;
    }
    for (size_t i = 0; i < labels.n; i++) {
        char path[4096];
        cs_item item = {.kind = CS_ITEM_ENCODED, .frame_index = -1, .capture_time_us = -1};
        cs_outcome o;
        snprintf(path, sizeof path, "%s/%s", dir, labels.items[i].file);
        snprintf(item.name, sizeof item.name, "%s", labels.items[i].file);
        cs_error rerr = {0};
        if (cs_file_read(path, CS_ENCODED_MAX_BYTES, &item.data, &item.len, &rerr) != CS_OK) {
            item.kind = CS_ITEM_BROKEN;
            item.status = rerr.code;
            snprintf(item.reason, sizeof item.reason, "%s", rerr.msg);
        }
        cs_analyze_item(w, &item, i, &o);
        cs_item_clear(&item);
        if (!o.ok) {
            fprintf(stderr, "capscreen: eval-bleeding: skipped %s: %s\n", o.name, o.reason);
            failed++;
            continue;
        }
        scores[used] = o.result.bleeding_probability;
        truth[used++] = labels.items[i].bleeding;
    }
    if (used == 0) {
        cli_fail("no frame of %s could be analysed", csv);
        goto done;
    }
    cs_metrics m;
    cs_metrics_compute(scores, truth, used, threshold, &m);
    printf("bleeding detector on %zu frames (%zu unreadable, left out), threshold %.4f\n", used,
           failed, threshold);
    printf("                  predicted bleeding   predicted clean\n");
    printf("actual bleeding   %18zu   %15zu\n", m.tp, m.fn);
    printf("actual clean      %18zu   %15zu\n", m.fp, m.tn);
    printf("{\"n\": %zu, \"skipped\": %zu, \"tp\": %zu, \"fp\": %zu, \"tn\": %zu, \"fn\": %zu, ",
           m.n, failed, m.tp, m.fp, m.tn, m.fn);
    print_json_number("threshold", m.threshold, 0);
    print_json_number("accuracy", m.accuracy, 0);
    print_json_number("sensitivity", m.sensitivity, 0);
    print_json_number("specificity", m.specificity, 0);
    print_json_number("precision", m.precision, 0);
    print_json_number("f1", m.f1, 0);
    print_json_number("auroc", m.auroc, 1);
    printf("}\n");
    rc = 0;
done:
    free(scores);
    free(truth);
    cs_worker_free(w);
    cs_engine_free(eng);
    cs_labels_free(&labels);
    return rc;
}
