/* signals.h - what long-running work waits on or re-checks: the progress
 * generation (moves when any study's analysis stored something; event
 * streams wait for it), the session generation (moves when sessions end:
 * logout, a user disabled or changed, sessions purged; event streams
 * re-check theirs), the device-revocation count (tus bodies in flight
 * re-check their token when it moves) and the stop flag.
 *
 * One cs_signals per server, shared by the layers that need it; it knows
 * nothing of what moved, only that something did.
 *
 * Threads: any thread. progress_gen is guarded by `mu`; the others are
 * atomics. cs_signals_wait() blocks on `cv`. */
#ifndef CS_SERVER_CORE_SIGNALS_H
#define CS_SERVER_CORE_SIGNALS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct cs_signals {
    pthread_mutex_t mu; /* guards progress_gen */
    pthread_cond_t cv;  /* broadcast when any generation moves or on stop */
    uint64_t progress_gen;
    atomic_ullong session_gen;
    atomic_ullong device_revocations;
    atomic_bool stopping;
} cs_signals;

void cs_signals_init(cs_signals *g);
void cs_signals_destroy(cs_signals *g);

/* Progress may have changed: move progress_gen, wake the waiters. */
void cs_signals_progress(cs_signals *g);
/* Sessions may have ended: move session_gen, wake the waiters. */
void cs_signals_sessions_changed(cs_signals *g);
/* A device was revoked: move device_revocations. */
void cs_signals_device_revoked(cs_signals *g);
/* The server is stopping: set the flag, wake the waiters. */
void cs_signals_stop(cs_signals *g);
bool cs_signals_stopping(cs_signals *g);

/* The current progress generation. */
uint64_t cs_signals_progress_gen(cs_signals *g);
/* Wait up to timeout_ms while progress_gen == seen_progress and
 * session_gen == seen_session and the server is not stopping. Returns at
 * once when any has moved already. */
void cs_signals_wait(cs_signals *g, uint64_t seen_progress, uint64_t seen_session,
                     int64_t timeout_ms);

#endif
