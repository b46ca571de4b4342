/* password.c - password hashing and user-name rules (password.h), and the
 * gate that bounds how many hashes run at once. */
#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <string.h>
#include <time.h>

#include "server/auth/password.h"
#include "server/core/core.h"

_Static_assert(CS_PASSWORD_MEM == crypto_pwhash_MEMLIMIT_INTERACTIVE,
               "CS_PASSWORD_MEM states the memory of one hash");

/* The gate: a counting semaphore with a deadline, process-wide because the
 * memory it guards is the process's. Its condition waits on the monotonic
 * clock, so a clock step neither cuts nor stretches a wait. */
static pthread_once_t gate_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_free;
static int gate_running;

static void gate_init(void)
{
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(&gate_free, &a);
    pthread_condattr_destroy(&a);
}

/* Take a turn, waiting up to CS_PASSWORD_WAIT_MS; false when none came. */
static bool gate_enter(void)
{
    pthread_once(&gate_once, gate_init);
    struct timespec until = cs_deadline_ms(CLOCK_MONOTONIC, CS_PASSWORD_WAIT_MS);
    pthread_mutex_lock(&gate_lock);
    int rc = 0;
    while (gate_running >= CS_PASSWORD_PARALLEL && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&gate_free, &gate_lock, &until);
    bool in = gate_running < CS_PASSWORD_PARALLEL;
    if (in)
        gate_running++;
    pthread_mutex_unlock(&gate_lock);
    return in;
}

static void gate_leave(void)
{
    pthread_mutex_lock(&gate_lock);
    gate_running--;
    pthread_cond_signal(&gate_free);
    pthread_mutex_unlock(&gate_lock);
}

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
