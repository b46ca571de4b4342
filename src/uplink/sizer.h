/* sizer.h - how many bytes the next PATCH should carry.
 *
 * Each PATCH costs a round trip for its answer plus both sides' checksum
 * hashing and fsyncs, during which the link carries nothing: with fixed
 * 256 KiB PATCHes, a 20 Mbit/s link with a 100 ms round trip carried 36%
 * of what one plain curl PATCH did (bench/goodput.sh). So the size follows
 * the measured throughput: after a PATCH of at least half the current size
 * that took T ms for B bytes, the next carries about B / T * target_ms
 * bytes (the overhead is then a small share of each PATCH), limited to a
 * quarter of the current size downwards and four times it upwards, and to
 * [min, max]. A failed PATCH halves the size: on a link that keeps
 * breaking, a checksummed body that breaks off is discarded whole, so
 * smaller PATCHes lose less work. Short PATCHes (the tail of a chunk, a
 * live trickle) say little about the link and change nothing.
 * target_ms 0 turns this off: every PATCH may carry `max` bytes.
 * Pure arithmetic; no clock, no I/O. Thread rule: one owner. */
#ifndef CSU_SIZER_H
#define CSU_SIZER_H

#include <stdint.h>

/* An adaptive sizer's floor and first size (each capped at max). */
#define CSU_SIZER_MIN_BYTES (256u * 1024u)
#define CSU_SIZER_START_BYTES (1024u * 1024u)

typedef struct csu_sizer {
    uint64_t min, max, cur;
    uint32_t target_ms;
} csu_sizer;

/* max at least 1. Starts at min(CSU_SIZER_START_BYTES, max), or at max
 * when target_ms is 0; never below min(CSU_SIZER_MIN_BYTES, max). */
void csu_sizer_init(csu_sizer *z, uint64_t max, uint32_t target_ms);
/* The byte budget of the next PATCH (and of the chunk packed for it). */
uint64_t csu_sizer_bytes(const csu_sizer *z);
/* The most csu_sizer_bytes() can be after the next csu_sizer_sent() or
 * csu_sizer_failed(): what a chunk packed ahead of time may need. */
uint64_t csu_sizer_next_max(const csu_sizer *z);
/* A PATCH carried `bytes` in `elapsed_ms` (request to answer). */
void csu_sizer_sent(csu_sizer *z, uint64_t bytes, int64_t elapsed_ms);
/* A PATCH failed (no answer, or an answer that was not success). */
void csu_sizer_failed(csu_sizer *z);

#endif
