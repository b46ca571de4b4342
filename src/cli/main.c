/* main.c - `capscreen` entry point: dispatches to a subcommand. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

#define CAPSCREEN_VERSION "0.1.0"

bool cli_parse_int(const char *s, long long lo, long long hi, long long *out)
{
    char *end;
    if (!s || !(isdigit((unsigned char)*s) || (*s == '-' && isdigit((unsigned char)s[1]))))
        return false;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (*end || errno == ERANGE || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

void cli_fail(const char *fmt, ...)
{
    va_list ap;
    fputs("capscreen: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static void usage(FILE *f)
{
    fputs("usage: capscreen COMMAND [ARGS]\n"
          "\n"
          "commands:\n"
          "  analyze PATH          triage a study (folder of frames, video, frame stream)\n"
          "  pack FOLDER OUT       write a frame-stream file from a folder of JPEG frames\n"
          "  eval --finding polyp|bleeding DIR LABELS.csv [--masks DIR]\n"
          "                        measure a detector on labelled frames\n"
          "  eval-bleeding DIR LABELS.csv\n"
          "                        the same as eval --finding bleeding\n"
          "  serve                 run the ingest server (tus uploads, JSON API, live triage)\n"
          "  study create|import|revoke-device\n"
          "                        create a study and its enrolment code, import a frame\n"
          "                        stream as a study; revoke its devices\n"
          "  user add|list         workstation accounts (password on stdin)\n"
          "  version               print the version\n"
          "\n"
          "Run 'capscreen COMMAND --help' for a command's options.\n",
          f);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "analyze") == 0)
        return cli_analyze(argc - 1, argv + 1);
    if (strcmp(cmd, "pack") == 0)
        return cli_pack(argc - 1, argv + 1);
    if (strcmp(cmd, "eval") == 0)
        return cli_eval(argc - 1, argv + 1);
    if (strcmp(cmd, "eval-bleeding") == 0)
        return cli_eval_bleeding(argc - 1, argv + 1);
#ifdef CS_HAVE_SERVER
    if (strcmp(cmd, "serve") == 0)
        return cli_serve(argc - 1, argv + 1);
    if (strcmp(cmd, "study") == 0)
        return cli_study(argc - 1, argv + 1);
    if (strcmp(cmd, "user") == 0)
        return cli_user(argc - 1, argv + 1);
#endif
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("capscreen %s\n", CAPSCREEN_VERSION);
        return 0;
    }
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        usage(stdout);
        return 0;
    }
    cli_fail("unknown command '%s' (try 'capscreen --help')", cmd);
    return 2;
}
