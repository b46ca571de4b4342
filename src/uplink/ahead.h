/* ahead.h - reading ahead: the next chunk's records, packed in memory by a
 * worker thread while the current PATCH is on the wire.
 *
 * Between two PATCHes the link stands idle while the uplink packs the next
 * chunk: reading up to 1,024 frame files, encoding their records and
 * hashing the body for Upload-Checksum (0.1-0.4 s per 13 MB chunk on the
 * project's VM, and the idle link then restarts TCP's slow start). So while
 * a PATCH of the spool's frames is sent, a worker reads the frames listed
 * after it, encodes their records and hashes them; the next pack copies
 * the records that are still what the spool holds (same name, size and
 * time, same frame index). When the new chunk is exactly the read-ahead
 * (the usual case while a backlog drains) the packer takes its buffer,
 * CRC, hash and outbox file as they are: then nothing but the progress
 * file stands between two PATCHes.
 *
 * It is a cache and nothing else: the worker reads spool files and writes
 * one file of its own, STATE_DIR/outbox.csfs.ahead (the would-be outbox
 * file, which the packer renames to outbox.csfs when it takes the chunk
 * whole); it deletes nothing and changes no progress, so durability and
 * the order "outbox, progress, send" stay as they were (outbox.csfs is a
 * cache checked against the progress by length and CRC anyway). A
 * frame it cannot use as is (over the size cap, unreadable, not a JPEG, a
 * size that changed since the listing) ends the read-ahead there; the
 * normal packing then meets that frame and handles it as before.
 *
 * Thread rule: the uplink's thread calls every function. Between
 * csu_ahead_start() and csu_ahead_finish() the worker owns the csu_ahead and
 * reads `files`, which the caller must leave unchanged until finish. */
#ifndef CSU_AHEAD_H
#define CSU_AHEAD_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "capscreen/status.h"
#include "uplink/spool.h"
#include "uplink/state.h"

#define CSU_AHEAD_FILE "outbox.csfs.ahead"

typedef struct csu_ahead {
    uint8_t *data;      /* the records, back to back (never a file header) */
    size_t len, cap;    /* cap fixed at init */
    csu_entry *entries; /* CSU_CHUNK_FRAMES_MAX; entries[i]'s record follows
                           entries[i-1]'s */
    size_t n;
    uint8_t sha256[32]; /* of data[0..len) when `hashed` */
    bool hashed;
    uint32_t crc;     /* CRC-32C of data[0..len) */
    bool saved;       /* data[0..len) is in STATE_DIR/CSU_AHEAD_FILE */
    uint8_t *scratch; /* one frame file */
    size_t scratch_cap;

    /* the job, set by csu_ahead_start() */
    const char *spool_dir, *state_dir;
    const csu_spool_file *files;
    size_t nfiles, max_frames;
    uint64_t first_index, budget;
    bool hash;
    pthread_t thread;
    bool running;
    atomic_int cancel;
} csu_ahead;

/* Buffers: `cap` bytes of records (as the outbox's), one frame of
 * `max_frame` bytes. Errors: CS_ERR_NOMEM. */
cs_status csu_ahead_init(csu_ahead *a, size_t cap, size_t max_frame, cs_error *err) CS_WARN_UNUSED;
/* Waits for a running worker first. NULL is fine. */
void csu_ahead_free(csu_ahead *a);

/* Drop any earlier result and start the worker on files[0..nfiles) of
 * spool_dir: records with frame indices first_index, first_index + 1, ...,
 * as many whole records as fit in `budget` bytes (the first always, when
 * it fits the buffer) and at most max_frames; then their CRC-32C, SHA-256
 * when `hash`, and a copy in state_dir/CSU_AHEAD_FILE (best effort).
 * `spool_dir`, `state_dir` and `files` are borrowed until
 * csu_ahead_finish().
 * Returns false when nothing was started (no file, or no thread: then the
 * packing just happens later, as without read-ahead). */
bool csu_ahead_start(csu_ahead *a, const char *spool_dir, const char *state_dir,
                     const csu_spool_file *files, size_t nfiles, uint64_t first_index,
                     uint64_t budget, size_t max_frames, bool hash);
/* Wait for the worker (if one runs). `cancel`: ask it to stop at the next
 * frame and drop what it packed (the PATCH failed: the chunk may change). */
void csu_ahead_finish(csu_ahead *a, bool cancel);
/* Forget the result (n = 0). Only when no worker runs. */
void csu_ahead_drop(csu_ahead *a);

#endif
