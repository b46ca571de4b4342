/* source.c - the study-source dispatcher and item lifetime. */
#include "capscreen/source.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "capscreen/framestream.h"

void cs_item_clear(cs_item *item)
{
    if (!item)
        return;
    free(item->data);
    cs_image_free(&item->image);
    memset(item, 0, sizeof *item);
}

cs_status cs_source_open(const char *path, cs_source **out, cs_error *err)
{
    struct stat st;
    *out = NULL;
    if (stat(path, &st) != 0)
        return cs_error_set(err, CS_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    if (S_ISDIR(st.st_mode))
        return cs_source_open_folder(path, out, err);
    if (!S_ISREG(st.st_mode))
        return cs_error_set(err, CS_ERR_ARG, "%s is neither a folder nor a regular file", path);
    if (st.st_size == 0)
        return cs_error_set(err, CS_ERR_EMPTY, "%s is empty (0 bytes)", path);
    if (cs_fs_is_stream_file(path))
        return cs_source_open_framestream(path, out, err);
    return cs_source_open_video(path, out, err);
}

cs_source_type cs_source_type_of(const cs_source *src) { return src->type; }
int64_t cs_source_expected(const cs_source *src) { return src->expected; }

const char *cs_source_type_name(cs_source_type t)
{
    switch (t) {
    case CS_SOURCE_FOLDER: return "folder";
    case CS_SOURCE_VIDEO: return "video";
    case CS_SOURCE_FRAMESTREAM: return "frame-stream";
    }
    return "unknown";
}

double cs_source_fraction_done(const cs_source *src)
{
    return src->fraction_done ? src->fraction_done(src) : -1.0;
}

cs_status cs_source_next(cs_source *src, cs_item *item, cs_error *err)
{
    memset(item, 0, sizeof *item);
    item->frame_index = -1;
    item->capture_time_us = -1;
    return src->next(src, item, err);
}

void cs_source_close(cs_source *src)
{
    if (src)
        src->close(src);
}
