/* crc32c.h - CRC-32C (Castagnoli), the checksum of the frame-stream format.
 *
 * Parameters: reflected polynomial 0x1EDC6F41 (0x82F63B78 reversed), initial
 * value 0xFFFFFFFF, final XOR 0xFFFFFFFF; the check value of "123456789" is
 * 0xE3069283. This is the CRC of iSCSI, SCTP, ext4 and the x86 SSE4.2 CRC32
 * instruction, so any of those implementations can check our files.
 *
 * Thread-safe: pure function over constant tables. */
#ifndef CAPSCREEN_CRC32C_H
#define CAPSCREEN_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Extend the finished CRC-32C `crc` of some bytes with `len` more bytes at
 * `data`, and return the finished CRC of the whole. Start with crc = 0 (the
 * CRC of no bytes); the inversions happen inside, as in zlib's crc32(), so
 *   cs_crc32c(cs_crc32c(0, a, n), b, m) == CRC of a followed by b.
 * `data` may be NULL when len is 0. Never fails. */
uint32_t cs_crc32c(uint32_t crc, const void *data, size_t len);

#endif
