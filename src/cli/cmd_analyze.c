/* cmd_analyze.c - `capscreen analyze PATH`: triage a study, write its summary. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "capscreen/decimal.h"
#include "capscreen/engine.h"
#include "capscreen/pipeline.h"
#include "capscreen/source.h"
#include "capscreen/summary.h"
#include "cli/cli.h"
#include "cli/output.h"
#include "cli/progress.h"

typedef struct analyze_ctx {
    cs_summary *summary;
    progress prog;
} analyze_ctx;

static cs_status on_outcome(void *ctx, const cs_outcome *o, cs_error *err)
{
    analyze_ctx *a = ctx;
    cs_status st = cs_summary_add(a->summary, o, err);
    progress_tick(&a->prog);
    return st;
}

/* True when `output` names the study file itself (the same file, through
 * any path, link or hard link): the summary would replace the study. */
static bool output_is_study(const char *output, const char *path)
{
    struct stat o, p;
    return stat(output, &o) == 0 && stat(path, &p) == 0 && S_ISREG(p.st_mode) &&
           o.st_dev == p.st_dev && o.st_ino == p.st_ino;
}

static void usage(FILE *f)
{
    fputs("usage: capscreen analyze [--output FILE] [--threads N] [--model FILE] [--polyp-model "
          "FILE]\n"
          "                         [--polyp-threshold T] [--top N] [--redundancy D] PATH\n"
          "\n"
          "Triage every frame of a study and write the summary JSON (docs/summary-schema.md)\n"
          "to stdout, or to FILE. PATH is a folder of JPEG/PNG frames (natural file-name\n"
          "order), a capsule video (MP4, AVI, MKV...), or a frame-stream file.\n"
          "\n"
          "  -o, --output FILE   write the summary to FILE (atomically) instead of stdout\n"
          "  -j, --threads N     worker threads (default: 1); output is identical for any N\n"
          "  -m, --model FILE    bleeding model (default: $CAPSCREEN_MODEL or the built-in)\n"
          "      --polyp-model FILE\n"
          "                      polyp weights (default: $CAPSCREEN_POLYP_MODEL or the built-in)\n"
          "      --polyp-threshold T\n"
          "                      flag polyp frames at T in (0, 1) instead of the weights' own\n"
          "                      threshold: a site's operating point, chosen on its own labelled\n"
          "                      capsule frames (capscreen eval --target-specificity)\n"
          "      --top N         frames kept in ranked_for_review (default 200)\n"
          "      --redundancy D  signature distance that joins a redundant run (default 4)\n"
          "\n"
          "Unreadable or corrupt frames are listed in the summary with their reason; the exit\n"
          "status is 0 when at least one frame was analysed.\n",
          f);
}

int cli_analyze(int argc, char **argv)
{
    static const struct option longopts[] = {{"output", required_argument, 0, 'o'},
                                             {"threads", required_argument, 0, 'j'},
                                             {"model", required_argument, 0, 'm'},
                                             {"top", required_argument, 0, 'T'},
                                             {"redundancy", required_argument, 0, 'R'},
                                             {"help", no_argument, 0, 'h'},
                                             {"polyp-model", required_argument, 0, 'P'},
                                             {"polyp-threshold", required_argument, 0, 'H'},
                                             {0, 0, 0, 0}};
    const char *output = NULL, *model = NULL, *polyp_model = NULL;
    int threads = 1, c;
    double polyp_threshold = -1; /* < 0: the weights' own */
    cs_summary_opts sopts;
    cs_summary_opts_default(&sopts);

    optind = 1;
    while ((c = getopt_long(argc, argv, "o:j:m:h", longopts, NULL)) != -1) {
        long long v;
        switch (c) {
        case 'o': output = optarg; break;
        case 'm': model = optarg; break;
        case 'P': polyp_model = optarg; break;
        case 'H':
            /* In (0, 1) as the float the engine compares with. */
            if (!cs_parse_decimal(optarg, &polyp_threshold) ||
                !((float)polyp_threshold > 0 && (float)polyp_threshold < 1)) {
                cli_fail("--polyp-threshold must be a number in (0, 1), not '%s'", optarg);
                return 2;
            }
            break;
        case 'j':
            if (!cli_parse_int(optarg, 1, 256, &v)) {
                cli_fail("--threads must be a number from 1 to 256, not '%s'", optarg);
                return 2;
            }
            threads = (int)v;
            break;
        case 'T':
            if (!cli_parse_int(optarg, 0, INT_MAX, &v)) {
                cli_fail("--top must be a number from 0 to %d, not '%s'", INT_MAX, optarg);
                return 2;
            }
            sopts.top_n = (int)v;
            break;
        case 'R': {
            /* A plain decimal: no nan (no run would ever join) or inf. */
            double d;
            if (!cs_parse_decimal(optarg, &d) || !isfinite((float)d)) {
                cli_fail("--redundancy must be a number >= 0, not '%s'", optarg);
                return 2;
            }
            sopts.redundancy_distance = (float)d;
            break;
        }
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc - 1) {
        cli_fail("analyze needs exactly one PATH (try 'capscreen analyze --help')");
        return 2;
    }
    const char *path = argv[optind];
    if (output && output_is_study(output, path)) {
        cli_fail("--output %s is the study %s itself; its summary would replace it", output, path);
        return 2;
    }

    cs_error err = {0};
    cs_source *src = NULL;
    cs_engine *eng = NULL;
    analyze_ctx ctx = {0};
    FILE *out = stdout;
    cli_output file = {0};
    int rc = 1;

    if (cs_source_open(path, &src, &err) != CS_OK) {
        cli_fail("%s", err.msg);
        return 1;
    }
    if (cs_engine_load_models(model, polyp_model, &eng, &err) != CS_OK ||
        (polyp_threshold > 0 &&
         cs_engine_set_polyp_threshold(eng, polyp_threshold, &err) != CS_OK)) {
        cli_fail("%s", err.msg);
        goto done;
    }
    if (output) {
        if (cli_output_open(&file, output) != 0)
            goto done;
        out = file.f;
    }
    sopts.source_path = path;
    sopts.source_type = cs_source_type_name(cs_source_type_of(src));
    sopts.model_path = cs_engine_model_path(eng);
    sopts.threshold = cs_engine_threshold(eng);
    sopts.polyp_model_path = cs_engine_polyp_model_path(eng);
    sopts.polyp_threshold = cs_engine_polyp_threshold(eng);
    sopts.polyp_weights_threshold = cs_engine_polyp_weights_threshold(eng);
    sopts.polyp_weights_crc32c = cs_engine_polyp_weights_crc32c(eng);
    sopts.polyp_networks = cs_engine_polyp_networks(eng);
    sopts.polyp_crops_in_score = cs_engine_polyp_crop_gate(eng, &sopts.polyp_crop_gate);
    if (cs_summary_begin(out, &sopts, &ctx.summary, &err) != CS_OK) {
        cli_fail("%s", err.msg);
        goto done;
    }
    progress_start(&ctx.prog, src);
    cs_status st = cs_pipeline_run(src, eng, threads, on_outcome, &ctx, &err);
    progress_end(&ctx.prog);
    if (st != CS_OK) {
        cli_fail("%s: %s", path, err.msg);
        goto done;
    }
    if (cs_summary_finish(ctx.summary, &err) != CS_OK) {
        cli_fail("%s", err.msg);
        goto done;
    }
    if (output && cli_output_commit(&file) != 0)
        goto done;
    const cs_summary_counts *counts = cs_summary_get_counts(ctx.summary);
    if (counts->frames == 0) {
        /* e.g. a video cut short before its first frame: no reasons to
         * point at, so say what is there. */
        cli_fail("%s: holds no frame at all (an empty stream, or a video cut before its "
                 "first frame); the summary lists none",
                 path);
        goto done;
    }
    if (counts->analysed == 0) {
        cli_fail("%s: none of its %llu frames could be analysed (reasons in the summary)", path,
                 (unsigned long long)counts->frames);
        goto done;
    }
    if (isatty(STDERR_FILENO))
        fprintf(stderr,
                "capscreen: analysed %llu of %llu frames; %llu failed, %llu flagged for bleeding\n",
                (unsigned long long)counts->analysed, (unsigned long long)counts->frames,
                (unsigned long long)counts->failed, (unsigned long long)counts->bleeding);
    rc = 0;

done:
    cli_output_abort(&file);
    cs_summary_free(ctx.summary);
    cs_engine_free(eng);
    cs_source_close(src);
    return rc;
}
