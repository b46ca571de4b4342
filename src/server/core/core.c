/* core.c - the error-kind names, the error counters and the clock every
 * layer uses. */
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

void cs_metrics_error(cs_metrics *m, cs_err_kind k)
{
    if (m && k < CS_EK_COUNT)
        atomic_fetch_add(&m->errors[k], 1);
}

int64_t cs_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t cs_now_s(void) { return (int64_t)time(NULL); }

struct timespec cs_deadline_ms(clockid_t clock, int64_t ms)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    ts.tv_sec += (time_t)(ms / 1000);
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}
