/* password.h - password hashes (argon2id through libsodium's
 * crypto_pwhash_str, interactive limits) and the rule for user names.
 * Shared by the session routes and the `capscreen user` command.
 *
 * Memory: each hash or check takes CS_PASSWORD_MEM bytes for its run
 * (about 0.1 s). So that a flood of logins costs time, never the
 * server's memory, at most CS_PASSWORD_PARALLEL of them run at once in
 * the process; a caller waits up to CS_PASSWORD_WAIT_MS for its turn, and
 * turns go in order of asking (core/turns.h).
 *
 * Threads: any thread (after sodium_init, see tokens.h). Nothing to free:
 * outputs go to caller buffers. */
#ifndef CS_SERVER_PASSWORD_H
#define CS_SERVER_PASSWORD_H

#include <stdbool.h>

#include "capscreen/store.h"

#define CS_PASSWORD_MIN 10
#define CS_PASSWORD_MAX 1024
#define CS_PASSWORD_MEM (64u << 20) /* crypto_pwhash_MEMLIMIT_INTERACTIVE */
#define CS_PASSWORD_PARALLEL 4      /* hashes and checks running at once */
#define CS_PASSWORD_WAIT_MS 10000   /* the longest wait for a turn */

/* Hash a password into out (CS_PWHASH_MAX). Errors: CS_ERR_ARG (shorter
 * than CS_PASSWORD_MIN or longer than CS_PASSWORD_MAX bytes),
 * CS_ERR_NOMEM (out of memory, or no turn within CS_PASSWORD_WAIT_MS). */
cs_status cs_password_hash(const char *pw, char *out, cs_error *err) CS_WARN_UNUSED;

/* Check pw against a hash made by cs_password_hash: *match is true only
 * when they agree (false for a wrong password or a malformed hash).
 * Errors: CS_ERR_NOMEM (no turn within CS_PASSWORD_WAIT_MS: the server is
 * busy checking other passwords; *match is false). */
cs_status cs_password_verify(const char *hash, const char *pw, bool *match,
                             cs_error *err) CS_WARN_UNUSED;

/* A user name: 1..63 of [a-z0-9._-], starting with a letter or digit. */
bool cs_user_name_ok(const char *name);

#endif
