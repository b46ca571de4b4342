/* config_args.c - the server configuration from a command line (server.h). */
#include <stdio.h>
#include <string.h>

#include "capscreen/server.h"

#define MAX_PAIRS 32

cs_status cs_server_config_from_args(cs_server_config *c, int argc, char **argv,
                                     const cs_cli_option *extra, cs_getenv_fn env, cs_error *err)
{
    const char *pairs[2 * MAX_PAIRS + 1] = {0};
    char keys[MAX_PAIRS][64];
    const char *file = NULL;
    int n = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *eq = strchr(a, '='), *val;
        size_t nl = eq ? (size_t)(eq - a) : strlen(a);
        if (strncmp(a, "--", 2) != 0 || nl < 3 || nl >= 64)
            return cs_error_set(err, CS_ERR_ARG, "unexpected argument '%.64s'", a);
        if (eq)
            val = eq + 1;
        else if (i + 1 < argc)
            val = argv[++i];
        else
            return cs_error_set(err, CS_ERR_ARG, "%s needs a value", a);
        bool taken = false;
        for (const cs_cli_option *o = extra; o && o->name && !taken; o++) {
            if (strlen(o->name) == nl && strncmp(o->name, a, nl) == 0) {
                *o->value = val;
                taken = true;
            }
        }
        if (taken)
            continue;
        if (nl == 8 && strncmp(a, "--config", 8) == 0) {
            file = val;
            continue;
        }
        if (n == MAX_PAIRS)
            return cs_error_set(err, CS_ERR_ARG, "too many options");
        memcpy(keys[n], a + 2, nl - 2);
        keys[n][nl - 2] = '\0';
        for (char *p = keys[n]; *p; p++)
            if (*p == '-')
                *p = '_';
        if (strcmp(keys[n], "data_dir") == 0)
            strcpy(keys[n], "data");
        pairs[2 * n] = keys[n];
        pairs[2 * n + 1] = val;
        n++;
    }
    pairs[2 * n] = NULL;
    return cs_server_config_resolve(c, file, env, pairs, err);
}
