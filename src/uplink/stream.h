/* stream.h - stream mode: finding the complete, intact records of a
 * frame-stream file that a recorder is still appending to. Bytes past the
 * last complete record are left for later; a damaged region is skipped to
 * the next record magic and reported. Thread rule: plain functions. */
#ifndef CSU_STREAM_H
#define CSU_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "capscreen/status.h"
#include "uplink/state.h"

typedef enum csu_stream_result {
    CSU_STREAM_RECORD,  /* *e and payload filled; *pos moved past it */
    CSU_STREAM_WAIT,    /* no complete record at *pos yet */
    CSU_STREAM_SKIPPED, /* *pos moved past damaged bytes (reason in err) */
} csu_stream_result;

/* Look at the source file `fd` at *pos. A record's payload goes into
 * `payload` (cap bytes; larger records are skipped as damage). e->index and
 * e->time_us come from the record, e->src_off is the payload's offset.
 * Returns CS_OK with *res set, or CS_ERR_IO. */
cs_status csu_stream_next(int fd, uint64_t *pos, uint8_t *payload, size_t cap, csu_entry *e,
                          csu_stream_result *res, cs_error *err) CS_WARN_UNUSED;

/* Read `len` payload bytes at `off` (a rebuild). Errors: CS_ERR_IO,
 * CS_ERR_TRUNCATED. */
cs_status csu_stream_read(int fd, uint64_t off, uint8_t *buf, size_t len,
                          cs_error *err) CS_WARN_UNUSED;

#endif
