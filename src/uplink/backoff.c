/* backoff.c - full-jitter exponential backoff (see backoff.h). */
#include "uplink/backoff.h"

void csu_backoff_init(csu_backoff *b, uint32_t min_ms, uint32_t max_ms, uint64_t seed)
{
    b->min_ms = min_ms ? min_ms : 1;
    b->max_ms = max_ms < b->min_ms ? b->min_ms : max_ms;
    b->failures = 0;
    b->rng = seed ? seed : 0x9E3779B97F4A7C15ull;
}

uint64_t csu_backoff_random(csu_backoff *b)
{
    uint64_t x = b->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    b->rng = x;
    return x * 0x2545F4914F6CDD1Dull;
}

uint32_t csu_backoff_fail(csu_backoff *b)
{
    uint64_t ceil = b->min_ms;
    if (b->failures < 64)
        b->failures++;
    for (uint32_t i = 1; i < b->failures && ceil < b->max_ms; i++)
        ceil *= 2;
    if (ceil > b->max_ms)
        ceil = b->max_ms;
    uint64_t span = ceil - b->min_ms + 1;
    return b->min_ms + (uint32_t)(csu_backoff_random(b) % span);
}

void csu_backoff_reset(csu_backoff *b) { b->failures = 0; }
