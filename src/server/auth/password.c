/* password.c - password hashing and user-name rules (password.h), and the
 * gate that bounds how many hashes run at once. */
#include <sodium.h>
#include <string.h>

#include "server/auth/password.h"
#include "server/core/turns.h"

_Static_assert(CS_PASSWORD_MEM == crypto_pwhash_MEMLIMIT_INTERACTIVE,
               "CS_PASSWORD_MEM states the memory of one hash");

/* The gate, process-wide because the memory it guards is the process's:
 * turns in order of asking (core/turns.h), so that in a flood of logins
 * the ones that waited longest are served first. */
static cs_turns gate = CS_TURNS_INIT(CS_PASSWORD_PARALLEL);

/* Take a turn, waiting up to CS_PASSWORD_WAIT_MS; false when none came. */
static bool gate_enter(void) { return cs_turns_take(&gate, CS_PASSWORD_WAIT_MS); }

static void gate_leave(void) { cs_turns_give(&gate); }

static cs_status busy(cs_error *err)
{
    return cs_error_set(err, CS_ERR_NOMEM,
                        "the server is busy checking other passwords; try again in a moment");
}

cs_status cs_password_hash(const char *pw, char *out, cs_error *err)
{
    size_t n = strlen(pw);
    if (n < CS_PASSWORD_MIN || n > CS_PASSWORD_MAX)
        return cs_error_set(err, CS_ERR_ARG, "a password must be %d to %d bytes long",
                            CS_PASSWORD_MIN, CS_PASSWORD_MAX);
    if (!gate_enter())
        return busy(err);
    int rc = crypto_pwhash_str(out, pw, n, crypto_pwhash_OPSLIMIT_INTERACTIVE,
                               crypto_pwhash_MEMLIMIT_INTERACTIVE);
    gate_leave();
    if (rc != 0)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory hashing a password");
    return CS_OK;
}

cs_status cs_password_verify(const char *hash, const char *pw, bool *match, cs_error *err)
{
    *match = false;
    if (!gate_enter())
        return busy(err);
    *match = crypto_pwhash_str_verify(hash, pw, strlen(pw)) == 0;
    gate_leave();
    return CS_OK;
}

bool cs_user_name_ok(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n >= CS_USER_MAX || name[0] == '.' || name[0] == '-' || name[0] == '_')
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = name[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' ||
              ch == '-'))
            return false;
    }
    return true;
}
