/* password.h - password hashes (argon2id through libsodium's
 * crypto_pwhash_str, interactive limits) and the rule for user names.
 * Shared by the session routes and the `capscreen user` command.
 *
 * Threads: any thread (after sodium_init, see tokens.h). Nothing to free:
 * outputs go to caller buffers. */
#ifndef CS_SERVER_PASSWORD_H
#define CS_SERVER_PASSWORD_H

#include <stdbool.h>

#include "capscreen/store.h"

#define CS_PASSWORD_MIN 10
#define CS_PASSWORD_MAX 1024

/* Hash a password into out (CS_PWHASH_MAX). Errors: CS_ERR_ARG (shorter
 * than CS_PASSWORD_MIN or longer than CS_PASSWORD_MAX bytes),
 * CS_ERR_NOMEM. */
cs_status cs_password_hash(const char *pw, char *out, cs_error *err) CS_WARN_UNUSED;

/* A user name: 1..63 of [a-z0-9._-], starting with a letter or digit. */
bool cs_user_name_ok(const char *name);

#endif
