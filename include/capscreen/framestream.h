/* framestream.h - the frame-stream file format (docs/frame-stream.md): a
 * writer and an incremental reader that can be fed any byte boundary.
 *
 * The reader never needs the whole stream: bytes are fed in chunks of any
 * size, events come out as soon as they are decided. It tracks absolute byte
 * offsets, resynchronises after damage by scanning for the next record
 * magic, and accepts a record only when its header CRC and payload CRC both
 * pass. Every byte it is fed ends up in exactly one event: a header, a
 * record, a damaged region, or a skipped lead-in.
 *
 * Threads: a reader is used by one thread at a time; different readers are
 * independent. The writer functions keep no state and are thread-safe
 * (writing to one FILE from several threads is the caller's problem).
 *
 * Integers are little-endian on disk whatever the host. */
#ifndef CAPSCREEN_FRAMESTREAM_H
#define CAPSCREEN_FRAMESTREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "capscreen/image.h"
#include "capscreen/status.h"

#define CS_FS_VERSION 1
#define CS_FS_FILE_MAGIC "CSFS"
#define CS_FS_RECORD_MAGIC "CSFR"
/* Sizes written by this version; readers accept longer headers (future
 * fields) up to the maxima and skip the bytes they do not know. */
#define CS_FS_FILE_HEADER_SIZE 16u
#define CS_FS_FILE_HEADER_MAX 4096u
#define CS_FS_RECORD_HEADER_SIZE 32u
#define CS_FS_RECORD_HEADER_MAX 256u
/* Bytes a record adds around its payload: header + payload CRC. */
#define CS_FS_RECORD_OVERHEAD (CS_FS_RECORD_HEADER_SIZE + 4u)
/* Default cap on a record payload; bigger records are damage. */
#define CS_FS_DEFAULT_MAX_PAYLOAD CS_ENCODED_MAX_BYTES
/* Record flag bits this version gives a meaning to: none yet. Every other
 * bit is kept, written and reported as it is, never rejected. */
#define CS_FS_RECORD_FLAGS_KNOWN 0x0000u

/* ---- writer ---------------------------------------------------------- */

/* Encode the version-1 file header into `out`. Never fails. */
void cs_fs_encode_file_header(uint8_t out[CS_FS_FILE_HEADER_SIZE]);

/* Encode the version-1 header of a record whose payload is `payload_len`
 * bytes into `out`. The caller then sends the payload and its CRC-32C (4
 * bytes, little-endian): this lets a sender stream a payload without
 * copying it. Does not check the payload cap. Never fails. */
void cs_fs_encode_record_header(uint8_t out[CS_FS_RECORD_HEADER_SIZE], uint64_t index,
                                int64_t time_us, uint16_t flags, uint32_t payload_len);

/* Encode a whole record (header, payload copied, payload CRC) into `buf` of
 * `buf_len` bytes; *written gets the record size, which is
 * CS_FS_RECORD_OVERHEAD + len. `payload` may be NULL when len is 0.
 * Errors: CS_ERR_ARG (NULL buf/written, or NULL payload with len > 0),
 * CS_ERR_TOO_LARGE (len over CS_FS_DEFAULT_MAX_PAYLOAD, or buf too small:
 * nothing is written then). */
cs_status cs_fs_encode_record(uint8_t *buf, size_t buf_len, uint64_t index, int64_t time_us,
                              uint16_t flags, const uint8_t *payload, uint32_t len, size_t *written,
                              cs_error *err) CS_WARN_UNUSED;

/* Write the file header to `f` at its current position.
 * Errors: CS_ERR_ARG (NULL f), CS_ERR_IO (short write; errno in message). */
cs_status cs_fs_write_header(FILE *f, cs_error *err) CS_WARN_UNUSED;

/* Append one record to `f`. The payload is not copied. Same argument rules
 * as cs_fs_encode_record(). Errors: CS_ERR_ARG, CS_ERR_TOO_LARGE, CS_ERR_IO.
 * After CS_ERR_IO part of the record may be in `f`; a reader reports such a
 * tail as truncated or damaged and loses nothing else. */
cs_status cs_fs_write_record(FILE *f, uint64_t index, int64_t time_us, uint16_t flags,
                             const uint8_t *payload, uint32_t len, cs_error *err) CS_WARN_UNUSED;

/* True when the file at `path` can be opened and starts with the file
 * magic "CSFS" (its header may still be damaged). Never fails: an
 * unreadable file is simply not a stream file. */
bool cs_fs_is_stream_file(const char *path);

/* ---- reader ---------------------------------------------------------- */

typedef struct cs_fs_reader cs_fs_reader;

typedef struct cs_fs_reader_opts {
    bool expect_header;    /* the first byte fed is a file header; a
                               missing or damaged one is damage */
    uint64_t start_offset; /* absolute offset of the first byte fed, so
                               events carry file offsets when reading
                               starts mid-file */
    uint32_t max_payload;  /* payload cap; 0 = CS_FS_DEFAULT_MAX_PAYLOAD */
} cs_fs_reader_opts;

typedef enum cs_fs_event_kind {
    CS_FS_EV_HEADER,  /* a valid file header: version, header_flags */
    CS_FS_EV_RECORD,  /* a record that passed both CRCs */
    CS_FS_EV_DAMAGE,  /* bytes skipped as damaged: status, reason */
    CS_FS_EV_SKIPPED, /* bytes before the first record when the reader
                          started mid-stream (expect_header false) */
} cs_fs_event_kind;

typedef struct cs_fs_event {
    cs_fs_event_kind kind;
    uint64_t offset; /* absolute offset of the first byte covered */
    uint64_t length; /* bytes covered (0 only for a missing file
                                 header directly followed by a record) */
    /* CS_FS_EV_HEADER */
    uint16_t version;
    uint32_t header_flags; /* reserved bits, reported as found */
    /* CS_FS_EV_RECORD; for DAMAGE too when has_index (header was intact) */
    bool has_index;
    uint64_t frame_index;
    int64_t capture_time_us; /* microseconds since the Unix epoch */
    uint16_t flags;          /* as written, unknown bits included */
    uint16_t unknown_flags;  /* flags & ~CS_FS_RECORD_FLAGS_KNOWN */
    const uint8_t *payload;  /* borrowed: valid until the next call on the
                                 reader; NULL when payload_len is 0 */
    uint32_t payload_len;
    /* CS_FS_EV_DAMAGE and CS_FS_EV_SKIPPED */
    cs_status status; /* CS_ERR_CHECKSUM, CS_ERR_CORRUPT,
                                 CS_ERR_TOO_LARGE, CS_ERR_TRUNCATED,
                                 CS_ERR_UNSUPPORTED, CS_ERR_EMPTY; CS_OK
                                 for SKIPPED */
    char reason[200]; /* one line for people, with byte offsets */
} cs_fs_event;

/* Create a reader. `opts` is copied; NULL means expect_header = true,
 * start_offset = 0 and the default cap. *out receives the reader, which the
 * caller frees with cs_fs_reader_free().
 * Errors: CS_ERR_ARG (NULL out), CS_ERR_NOMEM. */
cs_status cs_fs_reader_new(const cs_fs_reader_opts *opts, cs_fs_reader **out,
                           cs_error *err) CS_WARN_UNUSED;

/* Hand the reader `len` more bytes of the stream; they are copied, so `data`
 * may be reused at once. Drain with cs_fs_reader_next() until CS_AGAIN
 * between feeds: then the reader holds at most one incomplete record (the
 * payload cap plus CS_FS_RECORD_HEADER_MAX + 4 bytes) on top of the bytes
 * fed since. `data` may be NULL when len is 0. Payload pointers from earlier
 * events become invalid.
 * Errors: CS_ERR_ARG (NULL reader, NULL data with len > 0, feed after
 * finish), CS_ERR_NOMEM (nothing copied; the reader stays usable). */
cs_status cs_fs_reader_feed(cs_fs_reader *r, const uint8_t *data, size_t len,
                            cs_error *err) CS_WARN_UNUSED;

/* Declare the end of the stream: what is still incomplete will be reported
 * (a partial record as CS_ERR_TRUNCATED damage). Errors: CS_ERR_ARG (NULL). */
cs_status cs_fs_reader_finish(cs_fs_reader *r);

/* Next event. CS_OK: `ev` is filled. CS_AGAIN: more bytes are needed (feed,
 * or finish). CS_END: finish() was called and every byte has been reported.
 * CS_ERR_ARG: NULL argument. Damage is an event, never an error status: the
 * reader goes on after it. Pointers in `ev` are valid until the next call on
 * this reader. */
cs_status cs_fs_reader_next(cs_fs_reader *r, cs_fs_event *ev) CS_WARN_UNUSED;

/* Absolute offset of the first byte not yet reported in an event. */
uint64_t cs_fs_reader_offset(const cs_fs_reader *r);

/* Free the reader and its buffer. Accepts NULL. */
void cs_fs_reader_free(cs_fs_reader *r);

#endif
