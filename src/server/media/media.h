/* media.h - a study's frames as images for the reading workstation: the
 * JPEG payload of a frame exactly as the hub sent it, read from the study
 * stream (the study's uploads concatenated in creation order, located by
 * the payload offset the live analysis stored), and thumbnails made from
 * it (longest side at most CS_THUMB_MAX_SIDE px, JPEG quality 80), cached
 * on disk under DATA/thumbs/STUDY/SEQ.jpg (written to a temporary name,
 * then renamed, so a reader never sees half a file).
 *
 * Threads: safe from any connection thread; no state of its own beyond
 * the files.
 *
 * Ownership: *out is malloc'd; the caller frees it.
 *
 * Errors: CS_ERR_IO (a file could not be read or written, the study
 * stream is shorter than the stored offset says), CS_ERR_CORRUPT (the
 * payload does not decode, for thumbnails), CS_ERR_NOMEM. "No such frame"
 * (or a frame with no image, such as a damaged record) is not an error:
 * *found is false. */
#ifndef CS_SERVER_MEDIA_H
#define CS_SERVER_MEDIA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "server/transport/http.h"

#define CS_THUMB_MAX_SIDE 128
#define CS_THUMB_QUALITY 80

typedef struct cs_upload_files cs_upload_files;

/* What the media layer works with; filled by server.c. */
typedef struct cs_media {
    const char *data_dir;   /* thumbnails go under DATA/thumbs */
    const char *web_dir;    /* the pages served at / */
    cs_store *store;        /* where each frame's payload lies */
    cs_upload_files *files; /* the study stream's bytes */
    cs_metrics *metrics;
} cs_media;

/* Read `len` bytes at `offset` of `study`'s stream into buf (which may span
 * uploads). CS_ERR_IO when the stream is shorter. */
cs_status cs_media_stream_read(const cs_media *s, const char *study, uint64_t offset, uint8_t *buf,
                               size_t len, cs_error *err) CS_WARN_UNUSED;

/* The frame's JPEG bytes as received. */
cs_status cs_media_frame(const cs_media *s, const char *study, uint64_t seq, bool *found,
                         uint8_t **out, size_t *len, cs_error *err) CS_WARN_UNUSED;

/* The frame's thumbnail: from the cache, or made and cached now. */
cs_status cs_media_thumb(const cs_media *s, const char *study, uint64_t seq, bool *found,
                         uint8_t **out, size_t *len, cs_error *err) CS_WARN_UNUSED;

/* GET of a page or asset of web/ (the route table's fallback row). */
enum MHD_Result cs_static_handle(const cs_media *s, struct MHD_Connection *c, cs_req *r);

#endif
