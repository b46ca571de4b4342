/* device.c - reading and writing the device file (server, token, study). */
#include "uplink/device.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "uplink/fileio.h"

cs_status csu_device_load(const char *state_dir, csu_device *d, cs_error *err)
{
    char path[4096], *buf = NULL;
    cs_status st;
    memset(d, 0, sizeof *d);
    if (!csu_path(path, sizeof path, state_dir, CSU_DEVICE_FILE))
        return cs_error_set(err, CS_ERR_ARG, "state folder path too long");
    st = csu_file_read(path, 4096, &buf, NULL, err);
    if (st == CS_ERR_IO && errno == ENOENT)
        return cs_error_set(err, CS_ERR_ARG,
                            "not enrolled: %s is missing "
                            "(run 'capscreen-uplink enrol' first)",
                            path);
    if (st != CS_OK)
        return st;
    for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
        char *sp = strchr(line, ' ');
        if (!sp)
            continue;
        *sp = '\0';
        if (strcmp(line, "server") == 0)
            snprintf(d->server, sizeof d->server, "%s", sp + 1);
        else if (strcmp(line, "token") == 0)
            snprintf(d->token, sizeof d->token, "%s", sp + 1);
        else if (strcmp(line, "study") == 0)
            snprintf(d->study, sizeof d->study, "%s", sp + 1);
    }
    free(buf);
    if (!d->token[0] || !d->study[0])
        return cs_error_set(err, CS_ERR_CORRUPT,
                            "%s lacks the token or the "
                            "study",
                            path);
    return CS_OK;
}

cs_status csu_device_store(const char *state_dir, const csu_device *d, cs_error *err)
{
    char path[4096], text[1400];
    cs_status st;
    if (!csu_path(path, sizeof path, state_dir, CSU_DEVICE_FILE))
        return cs_error_set(err, CS_ERR_ARG, "state folder path too long");
    if (access(path, F_OK) == 0)
        return cs_error_set(err, CS_ERR_ARG,
                            "%s exists: this hub is already "
                            "enrolled (use a new state folder for a new study)",
                            path);
    if ((st = csu_dir_ensure(state_dir, 0700, err)) != CS_OK)
        return st;
    int n = snprintf(text, sizeof text, "server %s\ntoken %s\nstudy %s\n", d->server, d->token,
                     d->study);
    return csu_file_replace(path, text, (size_t)n, 0600, true, err);
}
