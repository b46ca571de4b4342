/* state.h - the uplink's saved progress (STATE_DIR/progress): the upload
 * URL, counters, and the chunk packed but not yet confirmed (the "outbox":
 * which frames, with which index and time, from which stream offset).
 *
 * The file is text, one "key value" per line, ending with the line "end"; it
 * is replaced atomically (temp + fsync + rename), so a crash leaves the old
 * or the new version; a stray progress.tmp is ignored. A file without its
 * "end" line or with a line not understood is CS_ERR_CORRUPT.
 * Thread rule: plain data, no sharing. */
#ifndef CSU_STATE_H
#define CSU_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "capscreen/status.h"
#include "uplink/spool.h"

#define CSU_CHUNK_FRAMES_MAX 1024u
#define CSU_URL_MAX 512
#define CSU_STATE_FILE "progress"

/* One frame of the outbox. */
typedef struct csu_entry {
    uint64_t index;          /* frame index written in its record */
    int64_t time_us;         /* capture time written in its record */
    uint32_t size;           /* payload bytes */
    uint16_t flags;          /* record flags (stream mode keeps the source's) */
    uint64_t src_off;        /* stream mode: payload offset in the source file */
    char name[CSU_NAME_MAX]; /* spool mode: the frame's file name */
} csu_entry;

typedef struct csu_saved {
    char upload_url[CSU_URL_MAX]; /* "" before an upload exists */
    uint64_t next_index;          /* spool mode: index of the next frame packed */
    uint64_t source_pos;          /* stream mode: next source byte to pack */
    uint64_t frames_sent;         /* frames confirmed before the outbox */
    uint64_t bytes_sent;          /* bytes confirmed before the outbox, all uploads */
    uint64_t offset;              /* the server's last known offset in upload_url */
    bool finished;                /* Upload-Length sent and accepted */
    /* The outbox: records for offsets seg_start .. seg_start + seg_len of
     * the upload, CRC-32C seg_crc over those bytes; n == 0 and seg_len == 0
     * when empty. seg_header: it begins with the file header (the study's
     * first bytes; a later upload of the same study continues the stream
     * without one). */
    uint64_t seg_start, seg_len;
    uint32_t seg_crc;
    bool seg_header;
    size_t n;
    csu_entry entries[CSU_CHUNK_FRAMES_MAX];
} csu_saved;

/* Reset to a fresh state (no upload, nothing sent). */
void csu_saved_init(csu_saved *s);

/* Save to dir/progress atomically and durably. Errors: CS_ERR_IO,
 * CS_ERR_NOMEM. */
cs_status csu_saved_store(const csu_saved *s, const char *dir, cs_error *err) CS_WARN_UNUSED;

/* Load dir/progress into *s; a missing file gives a fresh state and
 * *found = false. Errors: CS_ERR_IO, CS_ERR_CORRUPT, CS_ERR_NOMEM. */
cs_status csu_saved_load(csu_saved *s, const char *dir, bool *found, cs_error *err) CS_WARN_UNUSED;

#endif
