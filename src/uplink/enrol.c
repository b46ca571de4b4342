/* enrol.c - csu_enrol(): exchange a one-time code for a device token. */
#include "capscreen/uplink.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "uplink/device.h"
#include "uplink/http.h"
#include "uplink/json.h"

cs_status csu_enrol(const char *server_url, const char *code, const char *state_dir,
                    char *study_out, size_t study_cap, const char *ca_file, cs_error *err)
{
    csu_device d;
    csu_reply *r = NULL;
    char url[600], qcode[300], body[400];
    struct curl_slist *h = NULL, *n;
    CURL *curl = NULL;
    cs_status st = CS_OK;
    csu_http_opts o = {
        .connect_timeout_s = 10, .low_speed_bytes = 1, .low_speed_time_s = 30, .ca_file = ca_file};
    if (!server_url || !code || !state_dir || !*code)
        return cs_error_set(err, CS_ERR_ARG,
                            "enrol needs a server URL, a code "
                            "and a state folder");
    memset(&d, 0, sizeof d);
    size_t sl = strlen(server_url);
    while (sl > 0 && server_url[sl - 1] == '/')
        sl--;
    if (sl >= sizeof d.server ||
        snprintf(url, sizeof url, "%.*s/api/v1/devices/enrol", (int)sl, server_url) >=
            (int)sizeof url ||
        !csu_json_quote(code, qcode, sizeof qcode))
        return cs_error_set(err, CS_ERR_ARG, "server URL or code too long");
    snprintf(d.server, sizeof d.server, "%.*s", (int)sl, server_url);
    /* Refuse before the code is spent, not after. */
    char path[4096];
    if (snprintf(path, sizeof path, "%s/" CSU_DEVICE_FILE, state_dir) >= (int)sizeof path)
        return cs_error_set(err, CS_ERR_ARG, "state folder path too long");
    if (access(path, F_OK) == 0)
        return cs_error_set(err, CS_ERR_ARG,
                            "%s exists: this hub is already "
                            "enrolled (use a new state folder for a new study)",
                            path);
    snprintf(body, sizeof body, "{\"code\": %s}", qcode);

    r = calloc(1, sizeof *r);
    curl = curl_easy_init();
    if (!r || !curl || !(n = curl_slist_append(NULL, "Content-Type: application/json"))) {
        st = cs_error_set(err, CS_ERR_NOMEM, "enrol: out of memory");
        goto fail;
    }
    h = n;
    if (!(n = curl_slist_append(h, "Accept: application/json"))) {
        st = cs_error_set(err, CS_ERR_NOMEM, "enrol: out of memory");
        goto fail;
    }
    h = n;
    csu_http_do(curl, &o, "POST", url, h, body, strlen(body), r);
    if (r->code == 0) {
        st = cs_error_set(err, CS_ERR_IO, "enrol: %s", r->error);
        goto fail;
    }
    if (r->code != 200 && r->code != 201) {
        char reason[200] = "";
        if (!csu_json_get(r->body, "error", reason, sizeof reason))
            csu_json_get(r->body, "reason", reason, sizeof reason);
        st = cs_error_set(err, CS_ERR_UNSUPPORTED,
                          "enrol: the server refused "
                          "the code (HTTP %ld%s%s)",
                          r->code, reason[0] ? ": " : "", reason);
        goto fail;
    }
    if (!csu_json_get(r->body, "token", d.token, sizeof d.token) ||
        !csu_json_get(r->body, "study", d.study, sizeof d.study) || !d.token[0] || !d.study[0] ||
        strpbrk(d.token, " \r\n") || strpbrk(d.study, " \r\n")) {
        st = cs_error_set(err, CS_ERR_CORRUPT,
                          "enrol: reply lacks a usable "
                          "\"token\" and \"study\"");
        goto fail;
    }
    if ((st = csu_device_store(state_dir, &d, err)) != CS_OK)
        goto fail;
    if (study_out && study_cap)
        snprintf(study_out, study_cap, "%s", d.study);
fail:
    curl_slist_free_all(h);
    if (curl)
        curl_easy_cleanup(curl);
    free(r);
    return st;
}
