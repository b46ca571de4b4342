/* main.c - `capscreen-uplink` entry point: enrol a hub, run the uploader. */
#include <curl/curl.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "uplink_cli/cli.h"

#define CSU_VERSION "0.1.0"

void cli_fail(const char *fmt, ...)
{
    va_list ap;
    fputs("capscreen-uplink: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

bool cli_number(const char *opt, const char *text, uint64_t min, uint64_t max, bool suffix,
                uint64_t *out)
{
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    uint64_t mul = 1;
    if (suffix && end && *end && !end[1]) {
        switch (*end) {
        case 'k':
        case 'K':
            mul = 1024;
            end++;
            break;
        case 'm':
        case 'M':
            mul = 1024 * 1024;
            end++;
            break;
        case 'g':
        case 'G':
            mul = 1024ull * 1024 * 1024;
            end++;
            break;
        default: break;
        }
    }
    if (errno || end == text || *end || text[0] == '-' || (mul > 1 && v > UINT64_MAX / mul) ||
        v * mul < min || v * mul > max) {
        cli_fail("%s must be a number in %llu..%llu%s, not '%s'", opt, (unsigned long long)min,
                 (unsigned long long)max, suffix ? " (K, M, G allowed)" : "", text);
        return false;
    }
    *out = v * mul;
    return true;
}

static void usage(FILE *f)
{
    fputs("usage: capscreen-uplink COMMAND [OPTIONS]\n"
          "\n"
          "The home hub's uploader: sends a capsule study's frames to the hospital\n"
          "over tus, resuming after network loss, crashes and reboots.\n"
          "\n"
          "commands:\n"
          "  enrol --server URL --code CODE --state DIR\n"
          "                 exchange a one-time enrolment code for a device token\n"
          "  run --state DIR --spool DIR | --stream FILE [OPTIONS]\n"
          "                 upload frames until the study is finished\n"
          "  version        print the version\n"
          "\n"
          "Run 'capscreen-uplink COMMAND --help' for a command's options;\n"
          "docs/uplink.md describes the spool protocol and the status file.\n",
          f);
}

int main(int argc, char **argv)
{
    int rc;
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("capscreen-uplink %s (%s)\n", CSU_VERSION, curl_version());
        return 0;
    }
    if (strcmp(cmd, "enrol") != 0 && strcmp(cmd, "run") != 0) {
        cli_fail("unknown command '%s' (try 'capscreen-uplink --help')", cmd);
        return 2;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        cli_fail("cannot initialise libcurl");
        return 1;
    }
    rc = strcmp(cmd, "enrol") == 0 ? cli_enrol(argc - 1, argv + 1) : cli_run(argc - 1, argv + 1);
    curl_global_cleanup();
    return rc;
}
