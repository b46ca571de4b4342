/* source.h - a study source yields a study's frames in order, whatever the
 * input: a folder of JPEG/PNG files (file-name order), a capsule video
 * (FFmpeg), or a frame-stream file (docs/frame-stream.md).
 *
 * An item is either an encoded frame (bytes still to decode; decoding
 * happens in the worker pool), an already-decoded image at analysis size
 * (video: the codec must run in order), or a broken frame that could not
 * even be read (a damaged frame-stream record, an unreadable file) with
 * its reason. Broken items are part of the study: they keep their place and
 * are reported, and the next item follows.
 *
 * Ownership: cs_source_next() hands the item's buffers to the caller, who
 * releases them with cs_item_clear(). Threads: a source is used by one
 * thread at a time. */
#ifndef CAPSCREEN_SOURCE_H
#define CAPSCREEN_SOURCE_H

#include <stdint.h>
#include <stdio.h>

#include "capscreen/image.h"
#include "capscreen/status.h"

#define CS_NAME_MAX 256

typedef enum cs_item_kind {
    CS_ITEM_ENCODED, /* data/len hold a JPEG or PNG */
    CS_ITEM_IMAGE,   /* image holds a decoded frame at analysis size */
    CS_ITEM_BROKEN,  /* status/reason say why there is no frame */
} cs_item_kind;

typedef struct cs_item {
    cs_item_kind kind;
    char name[CS_NAME_MAX];  /* file name, "frame 12", ... */
    int64_t frame_index;     /* index from the source (stream records,
                                   video frame number), else -1 */
    int64_t capture_time_us; /* capture time if known, else -1 */
    uint8_t *data;           /* CS_ITEM_ENCODED: owned bytes */
    size_t len;
    cs_image image;   /* CS_ITEM_IMAGE: owned image */
    cs_status status; /* CS_ITEM_BROKEN: why */
    char reason[256];
} cs_item;

void cs_item_clear(cs_item *item);

typedef enum cs_source_type {
    CS_SOURCE_FOLDER,
    CS_SOURCE_VIDEO,
    CS_SOURCE_FRAMESTREAM,
} cs_source_type;

typedef struct cs_source cs_source;

/* Open `path`: a directory becomes a folder source, a file that starts
 * with the frame-stream magic a frame-stream source, any other file a
 * video source. Errors (missing path, unreadable folder, a file FFmpeg
 * cannot open) come back with a one-line reason in `err`. */
cs_status cs_source_open(const char *path, cs_source **out, cs_error *err) CS_WARN_UNUSED;

cs_source_type cs_source_type_of(const cs_source *src);
const char *cs_source_type_name(cs_source_type t);

/* Number of items the source expects, or -1 when unknown (stream, video
 * without a frame count). Used for progress only. */
int64_t cs_source_expected(const cs_source *src);

/* Share of the input consumed so far, 0..1, or -1 when the source cannot
 * tell (then progress falls back to cs_source_expected()). For progress
 * display only: a frame-stream source answers by bytes read. */
double cs_source_fraction_done(const cs_source *src);

/* Next item. CS_OK: `item` is filled (possibly CS_ITEM_BROKEN). CS_END: no
 * more items. Any other status is a failure of the whole source (the
 * folder vanished, an I/O error on the stream file) with `err` filled. */
cs_status cs_source_next(cs_source *src, cs_item *item, cs_error *err) CS_WARN_UNUSED;

void cs_source_close(cs_source *src); /* accepts NULL */

/* Ask a source that decodes frames itself (video) to add a detail image
 * with this short side to each item's image (cs_image.detail_rgb; see
 * cs_decode_frame_detail), 0 for none. Sources of encoded frames ignore
 * it: the pipeline decodes those. cs_pipeline_run() sets it from the
 * engine (cs_engine_detail_side) before reading. */
void cs_source_want_detail(cs_source *src, int min_side);

/* Backend constructors, used by cs_source_open(); public so tests and the
 * server can pick one explicitly. */
cs_status cs_source_open_folder(const char *path, cs_source **out, cs_error *err) CS_WARN_UNUSED;
cs_status cs_source_open_video(const char *path, cs_source **out, cs_error *err) CS_WARN_UNUSED;
cs_status cs_source_open_framestream(const char *path, cs_source **out,
                                     cs_error *err) CS_WARN_UNUSED;

/* The vtable behind cs_source; backends embed `struct cs_source` first. */
struct cs_source {
    cs_source_type type;
    int64_t expected;
    cs_status (*next)(cs_source *src, cs_item *item, cs_error *err);
    void (*close)(cs_source *src);
    double (*fraction_done)(const cs_source *src); /* optional */
    int detail_side;                               /* cs_source_want_detail(); 0: none */
};

#endif
