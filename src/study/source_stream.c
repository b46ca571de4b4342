/* source_stream.c - the frame-stream file study source: reads the file in
 * 64 KiB chunks through the incremental reader (include/capscreen/framestream.h).
 *
 * Contract (see include/capscreen/source.h and docs/frame-stream.md):
 * - cs_source_open_framestream() fails only when the file cannot be opened;
 *   a missing or damaged file header is a CS_ITEM_BROKEN item, and the
 *   records behind it are still read.
 * - Each record that passes both CRCs becomes a CS_ITEM_ENCODED item named
 *   "frame <index>", with frame_index and capture_time_us from the record
 *   and data a malloc'd copy of the payload (the caller's: cs_item_clear()).
 * - Each damaged region becomes a CS_ITEM_BROKEN item whose reason gives the
 *   byte range skipped and why; when the record header was intact, the item
 *   is named "frame <index>" and carries the index and time, else it is
 *   named "bytes <first>..<last>" with frame_index -1. A partial record at
 *   the end of the file is CS_ERR_TRUNCATED.
 * - An I/O error while reading ends the source with CS_ERR_IO.
 * - Threads: one source, one thread at a time. */
#include "capscreen/source.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "capscreen/framestream.h"

#define STREAM_CHUNK (64u * 1024u)

typedef struct stream_source {
    struct cs_source base;
    FILE *f;
    cs_fs_reader *rd;
    bool eof;                /* the reader has been told the file ended */
    uint64_t size, consumed; /* file size at open, bytes fed so far */
    uint8_t chunk[STREAM_CHUNK];
} stream_source;

static void broken(cs_item *item, const cs_fs_event *ev, cs_status st)
{
    item->kind = CS_ITEM_BROKEN;
    item->status = st;
    if (ev->has_index) {
        snprintf(item->name, sizeof item->name, "frame %" PRIu64, ev->frame_index);
        item->frame_index = ev->frame_index <= INT64_MAX ? (int64_t)ev->frame_index : -1;
        item->capture_time_us = ev->capture_time_us;
    } else {
        snprintf(item->name, sizeof item->name, "bytes %" PRIu64 "..%" PRIu64, ev->offset,
                 ev->offset + (ev->length ? ev->length - 1 : 0));
    }
    snprintf(item->reason, sizeof item->reason, "%s", ev->reason);
}

/* Turn one reader event into an item; false for events that are not items
 * (a good file header). */
static bool to_item(const cs_fs_event *ev, cs_item *item, cs_error *err, cs_status *fail)
{
    memset(item, 0, sizeof *item);
    item->frame_index = -1;
    item->capture_time_us = -1;
    *fail = CS_OK;
    switch (ev->kind) {
    case CS_FS_EV_HEADER: return false;
    case CS_FS_EV_DAMAGE:
    case CS_FS_EV_SKIPPED: /* not expected: the source reads from offset 0 */
        broken(item, ev, ev->status != CS_OK ? ev->status : CS_ERR_CORRUPT);
        return true;
    case CS_FS_EV_RECORD: break;
    }
    if (ev->frame_index > INT64_MAX) {
        cs_fs_event bad = *ev;
        bad.has_index = false;
        snprintf(bad.reason, sizeof bad.reason,
                 "record at offset %" PRIu64 ": frame index %" PRIu64 " out of range", ev->offset,
                 ev->frame_index);
        broken(item, &bad, CS_ERR_CORRUPT);
        return true;
    }
    item->kind = CS_ITEM_ENCODED;
    snprintf(item->name, sizeof item->name, "frame %" PRIu64, ev->frame_index);
    item->frame_index = (int64_t)ev->frame_index;
    item->capture_time_us = ev->capture_time_us;
    item->len = ev->payload_len;
    item->data = malloc(ev->payload_len ? ev->payload_len : 1);
    if (!item->data) {
        *fail = cs_error_set(err, CS_ERR_NOMEM,
                             "frame-stream: out of memory "
                             "for a %u-byte frame",
                             (unsigned)ev->payload_len);
        return false;
    }
    if (ev->payload_len)
        memcpy(item->data, ev->payload, ev->payload_len);
    return true;
}

static cs_status stream_next(cs_source *src, cs_item *item, cs_error *err)
{
    stream_source *s = (stream_source *)src;
    cs_fs_event ev;

    for (;;) {
        cs_status st = cs_fs_reader_next(s->rd, &ev);
        if (st == CS_OK) {
            cs_status fail;
            if (to_item(&ev, item, err, &fail))
                return CS_OK;
            if (fail != CS_OK)
                return fail;
            continue;
        }
        if (st != CS_AGAIN)
            return st == CS_END ? CS_END
                                : cs_error_set(err, st,
                                               "frame-stream: reader "
                                               "failed (%s)",
                                               cs_status_name(st));
        if (s->eof) /* cannot happen: a finished reader never asks again */
            return cs_error_set(err, CS_ERR_CORRUPT,
                                "frame-stream: reader "
                                "stalled after end of file");
        size_t n = fread(s->chunk, 1, sizeof s->chunk, s->f);
        if (n == 0 && ferror(s->f))
            return cs_error_set(err, CS_ERR_IO,
                                "frame-stream: read failed: "
                                "%s",
                                strerror(errno));
        s->consumed += n;
        if (n > 0) {
            st = cs_fs_reader_feed(s->rd, s->chunk, n, err);
            if (st != CS_OK)
                return st;
        } else {
            s->eof = true;
            (void)cs_fs_reader_finish(s->rd);
        }
    }
}

static double stream_fraction(const cs_source *src)
{
    const stream_source *s = (const stream_source *)src;
    /* A file still growing (a live study) can pass its size at open. */
    if (s->size == 0)
        return -1.0;
    return s->consumed >= s->size ? 1.0 : (double)s->consumed / (double)s->size;
}

static void stream_close(cs_source *src)
{
    stream_source *s = (stream_source *)src;
    if (!s)
        return;
    if (s->f)
        fclose(s->f);
    cs_fs_reader_free(s->rd);
    free(s);
}

cs_status cs_source_open_framestream(const char *path, cs_source **out, cs_error *err)
{
    if (!path || !out)
        return cs_error_set(err, CS_ERR_ARG, "frame-stream: NULL argument");
    *out = NULL;
    stream_source *s = calloc(1, sizeof *s);
    if (!s)
        return cs_error_set(err, CS_ERR_NOMEM, "frame-stream: out of memory");
    s->base.type = CS_SOURCE_FRAMESTREAM;
    s->base.expected = -1;
    s->base.next = stream_next;
    s->base.close = stream_close;
    s->base.fraction_done = stream_fraction;
    s->f = fopen(path, "rb");
    if (!s->f) {
        cs_status st = cs_error_set(err, CS_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
        stream_close(&s->base);
        return st;
    }
    struct stat st_file;
    if (fstat(fileno(s->f), &st_file) == 0 && st_file.st_size > 0)
        s->size = (uint64_t)st_file.st_size;
    cs_fs_reader_opts opts = {.expect_header = true};
    cs_status st = cs_fs_reader_new(&opts, &s->rd, err);
    if (st != CS_OK) {
        stream_close(&s->base);
        return st;
    }
    *out = &s->base;
    return CS_OK;
}
