/* backoff.h - exponential backoff with full jitter for retries.
 *
 * The n-th consecutive failure (n = 1, 2, ...) waits a uniformly random time
 * in [min_ms, ceil_n] where ceil_n = min(max_ms, min_ms * 2^(n-1)): the
 * first retry waits min_ms, later ones spread over a doubling window up to
 * the cap, so many hubs that lost the same server do not return in step.
 * A success resets n to 0. The random source is a per-object xorshift64*,
 * so there is no global state. Thread rule: one object, one thread. */
#ifndef CSU_BACKOFF_H
#define CSU_BACKOFF_H

#include <stdint.h>

typedef struct csu_backoff {
    uint32_t min_ms, max_ms;
    uint32_t failures; /* consecutive failures since the last success */
    uint64_t rng;      /* xorshift64* state, never 0 */
} csu_backoff;

/* min_ms 0 is taken as 1; max_ms under min_ms is taken as min_ms; seed 0 is
 * replaced by a fixed non-zero constant. */
void csu_backoff_init(csu_backoff *b, uint32_t min_ms, uint32_t max_ms, uint64_t seed);
/* Count a failure and return how long to wait before the next try. */
uint32_t csu_backoff_fail(csu_backoff *b);
/* Count a success: the next failure waits min_ms again. */
void csu_backoff_reset(csu_backoff *b);
/* The next pseudo-random 64-bit number of the object's generator. */
uint64_t csu_backoff_random(csu_backoff *b);

#endif
