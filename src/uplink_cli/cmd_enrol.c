/* cmd_enrol.c - `capscreen-uplink enrol`: one-time code -> device token. */
#include <getopt.h>
#include <stdio.h>

#include "capscreen/uplink.h"
#include "uplink_cli/cli.h"

static void usage(FILE *f)
{
    fputs("usage: capscreen-uplink enrol --server URL --code CODE --state DIR\n"
          "\n"
          "Exchange the study's one-time enrolment code for a device token\n"
          "(POST URL/api/v1/devices/enrol) and keep it, with the study id, in\n"
          "DIR/device (mode 0600). Prints the study id. A code works once; a hub\n"
          "already enrolled in DIR is refused.\n"
          "\n"
          "  --server URL    the hospital server, e.g. https://ingest.example.org\n"
          "  --code CODE     the enrolment code given with the capsule\n"
          "  --state DIR     the uplink's state folder (created, mode 0700)\n"
          "  --ca-file F     extra CA certificates (PEM) for HTTPS\n",
          f);
}

int cli_enrol(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"server", required_argument, 0, 's'}, {"code", required_argument, 0, 'c'},
        {"state", required_argument, 0, 'd'},  {"ca-file", required_argument, 0, 'a'},
        {"help", no_argument, 0, 'h'},         {0, 0, 0, 0}};
    const char *server = NULL, *code = NULL, *state = NULL, *ca = NULL;
    char study[128];
    cs_error err = {0};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 's': server = optarg; break;
        case 'c': code = optarg; break;
        case 'd': state = optarg; break;
        case 'a': ca = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc || !server || !code || !state) {
        cli_fail("enrol needs --server, --code and --state (try 'capscreen-uplink "
                 "enrol --help')");
        return 2;
    }
    if (csu_enrol(server, code, state, study, sizeof study, ca, &err) != CS_OK) {
        cli_fail("%s", err.msg);
        return 1;
    }
    printf("%s\n", study);
    return 0;
}
