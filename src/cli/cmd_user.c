/* cmd_user.c - `capscreen user add|list`: workstation accounts on the
 * server's data folder (works while the server runs). The password is read
 * from standard input, never from the command line (where `ps` shows it). */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "capscreen/server.h"
#include "capscreen/store.h"
#include "cli/cli.h"
#include "server/auth/auth.h"
#include "server/auth/password.h"
#include "server/auth/tokens.h"
#include "server/core/vocabulary.h"

static const char *env_lookup(const char *name) { return getenv(name); }

static void usage(FILE *f)
{
    fputs("usage: capscreen user add --data DIR --name NAME --role ROLE < password\n"
          "       capscreen user list --data DIR\n"
          "\n"
          "add: create a workstation account. ROLE is admin, reader, consultant,\n"
          "coordinator, trainer or trainee; NAME 1-63 characters of a-z 0-9 . _ -.\n"
          "The password is the first line of standard input (at least 10\n"
          "characters); only its argon2id hash is stored. Prints\n"
          "{\"user\": NAME, \"role\": ROLE}.\n"
          "list: one JSON object per user.\n"
          "With --db postgresql://... (or CAPSCREEN_DB, or db in the --config file)\n"
          "the store is that PostgreSQL database, as for capscreen serve.\n",
          f);
}

/* The first line of stdin without its line end; false when empty. */
static bool read_password(char *out, size_t cap)
{
    if (!fgets(out, (int)cap, stdin))
        return false;
    out[strcspn(out, "\r\n")] = '\0';
    return out[0] != '\0';
}

int cli_user(int argc, char **argv)
{
    cs_server_config cfg;
    cs_store *st = NULL;
    cs_error err = {0};
    const char *name = NULL, *role = NULL;
    int rc = 1;
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *sub = argv[1];
    if (strcmp(sub, "add") != 0 && strcmp(sub, "list") != 0) {
        cli_fail("user: unknown subcommand '%s' (add, list)", sub);
        return 2;
    }
    for (int i = 2; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        }
    const cs_cli_option extra[] = {{"--name", &name}, {"--role", &role}, {NULL, NULL}};
    if (cs_server_config_from_args(&cfg, argc - 1, argv + 1, extra, env_lookup, &err) != CS_OK) {
        cli_fail("user %s: %s (try 'capscreen user --help')", sub, err.msg);
        return 2;
    }
    if (strcmp(sub, "add") == 0) {
        if (!name || !cs_user_name_ok(name)) {
            cli_fail("user add: --name must be 1-63 characters of a-z 0-9 . _ -");
            return 2;
        }
        if (!role || !cs_role_bit(role)) {
            char names[256];
            cs_vocab_join(cs_vocab_roles, names, sizeof names);
            cli_fail("user add: --role must be %s", names);
            return 2;
        }
    }
    if (cs_tokens_init(&err) != CS_OK ||
        cs_store_open_db(cfg.db, cfg.data_dir, &st, &err) != CS_OK) {
        cli_fail("user: %s", err.msg);
        return 1;
    }
    if (strcmp(sub, "list") == 0) {
        cs_user_rec *us = NULL;
        size_t n = 0;
        if (cs_store_user_list(st, &us, &n, &err) != CS_OK) {
            cli_fail("user list: %s", err.msg);
            goto fail;
        }
        for (size_t i = 0; i < n; i++)
            printf("{\"user\": \"%s\", \"role\": \"%s\", \"disabled\": %s}\n", us[i].name,
                   us[i].role, us[i].disabled ? "true" : "false");
        free(us);
        rc = 0;
        goto fail;
    }
    char pw[1100];
    cs_user_rec u = {0};
    bool exists = false;
    if (!read_password(pw, sizeof pw)) {
        cli_fail("user add: no password on standard input");
        rc = 2;
        goto fail;
    }
    if (cs_password_hash(pw, u.pw_hash, &err) != CS_OK) {
        sodium_memzero(pw, sizeof pw);
        cli_fail("user add: %s", err.msg);
        rc = 2;
        goto fail;
    }
    sodium_memzero(pw, sizeof pw);
    snprintf(u.name, sizeof u.name, "%s", name);
    snprintf(u.role, sizeof u.role, "%s", role);
    u.created_at = (int64_t)time(NULL);
    if (cs_store_user_add(st, &u, &exists, &err) != CS_OK) {
        cli_fail("user add: %s", err.msg);
        goto fail;
    }
    if (exists) {
        cli_fail("user add: a user '%s' exists already", name);
        goto fail;
    }
    printf("{\"user\": \"%s\", \"role\": \"%s\"}\n", u.name, u.role);
    rc = 0;
fail:
    cs_store_close(st);
    return rc;
}
