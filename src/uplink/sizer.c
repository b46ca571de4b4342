/* sizer.c - PATCH sizes that follow the measured throughput (sizer.h). */
#include "uplink/sizer.h"

static uint64_t clamp(uint64_t v, uint64_t lo, uint64_t hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

void csu_sizer_init(csu_sizer *z, uint64_t max, uint32_t target_ms)
{
    z->max = max ? max : 1;
    z->min = z->max < CSU_SIZER_MIN_BYTES ? z->max : CSU_SIZER_MIN_BYTES;
    z->target_ms = target_ms;
    z->cur = !target_ms ? z->max : z->max < CSU_SIZER_START_BYTES ? z->max : CSU_SIZER_START_BYTES;
}

uint64_t csu_sizer_bytes(const csu_sizer *z) { return z->cur; }

uint64_t csu_sizer_next_max(const csu_sizer *z)
{
    if (!z->target_ms)
        return z->max;
    uint64_t hi = z->cur > UINT64_MAX / 4 ? UINT64_MAX : z->cur * 4;
    return clamp(hi, z->min, z->max);
}

void csu_sizer_sent(csu_sizer *z, uint64_t bytes, int64_t elapsed_ms)
{
    if (!z->target_ms || bytes * 2 < z->cur)
        return;
    if (elapsed_ms < 1)
        elapsed_ms = 1;
    /* in double: bytes * target_ms can pass 2^64 on a fast link */
    double want = (double)bytes / (double)elapsed_ms * (double)z->target_ms;
    uint64_t w = want >= (double)UINT64_MAX / 2 ? UINT64_MAX / 2 : (uint64_t)want;
    uint64_t lo = z->cur / 4, hi = z->cur > UINT64_MAX / 4 ? UINT64_MAX : z->cur * 4;
    z->cur = clamp(clamp(w, lo, hi), z->min, z->max);
}

void csu_sizer_failed(csu_sizer *z)
{
    if (!z->target_ms)
        return;
    z->cur = z->cur / 2 < z->min ? z->min : z->cur / 2;
}
