/* cmd_pack.c - `capscreen pack FOLDER OUT`: a folder of JPEG frames to a
 * frame-stream file (docs/frame-stream.md). */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "capscreen/decimal.h"
#include "capscreen/framestream.h"
#include "capscreen/source.h"
#include "cli/cli.h"
#include "cli/output.h"

/* 9999-12-31T23:59:59Z in microseconds since the epoch. */
#define CS_PACK_MAX_START_US 253402300799000000LL

static void usage(FILE *f)
{
    fputs("usage: capscreen pack [--fps F] [--start-us T] FOLDER OUT\n"
          "\n"
          "Write the JPEG frames of FOLDER (natural file-name order) to the frame-stream\n"
          "file OUT, one record per frame with indexes 0, 1, 2, ... Files that are not\n"
          "JPEG are reported on stderr and left out. OUT appears only when complete.\n"
          "\n"
          "  --fps F       capture times T + i/F seconds (default: each file's mtime)\n"
          "  --start-us T  first capture time, microseconds since the epoch (default 0)\n",
          f);
}

/* True when OUT is an existing, listed (not hidden) file of FOLDER that is
 * not a frame stream (an earlier pack's OUT may be replaced): a frame that
 * the new stream would replace. */
static bool out_is_a_frame(const char *out, const char *folder)
{
    struct stat o, d, f;
    char *copy = strdup(out), *copy2 = strdup(out);
    bool r = copy && copy2 && basename(copy2)[0] != '.' && stat(out, &o) == 0 &&
             S_ISREG(o.st_mode) && stat(dirname(copy), &d) == 0 && stat(folder, &f) == 0 &&
             d.st_dev == f.st_dev && d.st_ino == f.st_ino && !cs_fs_is_stream_file(out);
    free(copy);
    free(copy2);
    return r;
}

static int64_t mtime_us(const char *dir, const char *name)
{
    char path[4096];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (stat(path, &st) != 0)
        return -1;
    return (int64_t)st.st_mtim.tv_sec * 1000000 + st.st_mtim.tv_nsec / 1000;
}

int cli_pack(int argc, char **argv)
{
    static const struct option longopts[] = {{"fps", required_argument, 0, 'f'},
                                             {"start-us", required_argument, 0, 's'},
                                             {"help", no_argument, 0, 'h'},
                                             {0, 0, 0, 0}};
    double fps = 0;
    long long start_us = 0;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'f':
            /* A plain decimal: nan would silently mean "use the mtimes". */
            if (!cs_parse_decimal(optarg, &fps) || fps <= 0 || fps > 1000) {
                cli_fail("--fps must be a number in (0, 1000], not '%s'", optarg);
                return 2;
            }
            break;
        case 's':
            /* Up to the year 9999, so that T + i/F cannot overflow. */
            if (!cli_parse_int(optarg, 0, CS_PACK_MAX_START_US, &start_us)) {
                cli_fail("--start-us must be a number from 0 to %lld, not '%s'",
                         (long long)CS_PACK_MAX_START_US, optarg);
                return 2;
            }
            break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc - 2) {
        cli_fail("pack needs FOLDER and OUT (try 'capscreen pack --help')");
        return 2;
    }
    const char *folder = argv[optind], *out_path = argv[optind + 1];
    if (out_is_a_frame(out_path, folder)) {
        cli_fail("OUT %s is a frame of FOLDER %s; the stream would replace it", out_path, folder);
        return 2;
    }
    cs_error err = {0};
    cs_source *src = NULL;
    cs_item item;
    cli_output file;
    uint64_t packed = 0, skipped = 0;
    int rc = 1;

    if (cs_source_open_folder(folder, &src, &err) != CS_OK) {
        cli_fail("%s", err.msg);
        return 1;
    }
    if (cli_output_open(&file, out_path) != 0) {
        cs_source_close(src);
        return 1;
    }
    FILE *out = file.f;
    if (cs_fs_write_header(out, &err) != CS_OK) {
        cli_fail("%s", err.msg);
        goto done;
    }
    for (;;) {
        cs_status st = cs_source_next(src, &item, &err);
        if (st == CS_END)
            break;
        if (st != CS_OK) {
            cli_fail("%s", err.msg);
            goto done;
        }
        if (item.kind != CS_ITEM_ENCODED || item.len < 2 || item.data[0] != 0xFF ||
            item.data[1] != 0xD8) {
            fprintf(stderr, "capscreen: pack: skipped %s: %s\n", item.name,
                    item.kind == CS_ITEM_BROKEN ? item.reason : "not a JPEG file");
            skipped++;
            cs_item_clear(&item);
            continue;
        }
        int64_t t = fps > 0 ? start_us + (int64_t)((double)packed * 1e6 / fps)
                            : mtime_us(folder, item.name);
        st = cs_fs_write_record(out, packed, t, 0, item.data, (uint32_t)item.len, &err);
        cs_item_clear(&item);
        if (st != CS_OK) {
            cli_fail("%s", err.msg);
            goto done;
        }
        packed++;
    }
    if (packed == 0) {
        cli_fail("%s holds no JPEG frame to pack", folder);
        goto done;
    }
    rc = 0;
done:
    if (rc == 0 && cli_output_commit(&file) != 0)
        rc = 1;
    cli_output_abort(&file);
    if (rc == 0 && (isatty(STDERR_FILENO) || skipped))
        fprintf(stderr, "capscreen: packed %llu frames into %s (%llu skipped)\n",
                (unsigned long long)packed, out_path, (unsigned long long)skipped);
    cs_source_close(src);
    return rc;
}
