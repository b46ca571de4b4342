/* core.c - the error counters, the session generation and the clock
 * every layer uses. */
#include <time.h>

#include "server/core/core.h"

static const char *const ERR_KIND_NAMES[CS_EK_COUNT] = {
    "bad_request", "unauthorised", "forbidden",     "not_found",         "gone",
    "conflict",    "checksum",     "too_large",     "media_type",        "version",
    "internal",    "cut_off",      "frame_damaged", "frame_undecodable",
};

const char *cs_err_kind_name(cs_err_kind k)
{
    return k < CS_EK_COUNT ? ERR_KIND_NAMES[k] : "internal";
}

void cs_count_error(cs_server *s, cs_err_kind k)
{
    if (k < CS_EK_COUNT)
        atomic_fetch_add(&s->errors[k], 1);
}

void cs_sessions_changed(cs_server *s)
{
    atomic_fetch_add(&s->session_gen, 1);
    pthread_mutex_lock(&s->progress_mu);
    pthread_cond_broadcast(&s->progress_cv);
    pthread_mutex_unlock(&s->progress_mu);
}

int64_t cs_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t cs_now_s(void) { return (int64_t)time(NULL); }
