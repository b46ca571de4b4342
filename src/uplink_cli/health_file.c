/* health_file.c - capscreen-uplink's health callback: the values come from
 * a small JSON file the recorder writes (--health-file, docs/uplink.md,
 * "Health reports"), read again each time the uplink asks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "uplink/json.h"
#include "uplink_cli/health_file.h"

#define FILE_MAX 4096

static bool int_member(const char *json, const char *key, int *out)
{
    char v[32], *end = NULL;
    if (!csu_json_get(json, key, v, sizeof v))
        return false;
    long x = strtol(v, &end, 10);
    if (!end || *end || end == v || x < -1000 || x > 1000)
        return false;
    *out = (int)x;
    return true;
}

bool cli_health_from_file(void *user, csu_hub_health *out)
{
    cli_health_file *hf = user;
    FILE *f = fopen(hf->path, "rb");
    if (!f)
        return false; /* not written yet: nothing known */
    char json[FILE_MAX + 1];
    size_t n = fread(json, 1, FILE_MAX, f);
    fclose(f);
    json[n] = '\0';
    int battery, signal, spool = -1;
    bool ok = int_member(json, "battery_pct", &battery) &&
              int_member(json, "signal_dbm", &signal) &&
              csu_json_get(json, "recorder", hf->recorder, sizeof hf->recorder);
    if (ok && csu_json_get(json, "spool_used_pct", hf->message, sizeof hf->message))
        ok = int_member(json, "spool_used_pct", &spool);
    hf->message[0] = '\0';
    bool has_msg = ok && csu_json_get(json, "message", hf->message, sizeof hf->message);
    if (!ok) {
        if (!hf->warned)
            fprintf(stderr,
                    "capscreen-uplink: %s: needs battery_pct, signal_dbm and recorder "
                    "(spool_used_pct, message optional); not reporting until it does\n",
                    hf->path);
        hf->warned = true;
        return false;
    }
    hf->warned = false;
    out->battery_pct = battery;
    out->signal_dbm = signal;
    out->spool_used_pct = spool;
    out->recorder = hf->recorder;
    out->message = has_msg ? hf->message : NULL;
    return true;
}
