/* password.c - password hashing and user-name rules (password.h). */
#include <sodium.h>
#include <string.h>

#include "server/auth/password.h"

cs_status cs_password_hash(const char *pw, char *out, cs_error *err)
{
    size_t n = strlen(pw);
    if (n < CS_PASSWORD_MIN || n > CS_PASSWORD_MAX)
        return cs_error_set(err, CS_ERR_ARG, "a password must be %d to %d bytes long",
                            CS_PASSWORD_MIN, CS_PASSWORD_MAX);
    if (crypto_pwhash_str(out, pw, n, crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory hashing a password");
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
