/* health_file.h - the hub's health read from the recorder's status file,
 * as a csu_health_cb (capscreen-uplink run --health-file FILE). The file
 * is JSON: {"battery_pct": 0..100, "signal_dbm": -150..0, "recorder":
 * "recording"|"stopped"|"error", "spool_used_pct"?: 0..100, "message"?:
 * TEXT}; without spool_used_pct the uplink reports its own spool's use.
 * A missing or incomplete file reports nothing (one warning on stderr). */
#ifndef CSU_CLI_HEALTH_FILE_H
#define CSU_CLI_HEALTH_FILE_H

#include <stdbool.h>

#include "capscreen/uplink.h"

typedef struct cli_health_file {
    const char *path;
    char recorder[16]; /* the strings handed to the uplink live here */
    char message[256];
    bool warned;
} cli_health_file;

/* csu_health_cb: `user` is a cli_health_file. */
bool cli_health_from_file(void *user, csu_hub_health *out);

#endif
