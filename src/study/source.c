/* source.c - item lifetime and the calls every study source shares.
 * The dispatcher by path (cs_source_open) lives in source_open.c, so that a
 * program that opens only folders or frame streams does not link FFmpeg. */
#include "capscreen/source.h"

#include <stdlib.h>
#include <string.h>

void cs_item_clear(cs_item *item)
{
    if (!item)
        return;
    free(item->data);
    cs_image_free(&item->image);
    memset(item, 0, sizeof *item);
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

void cs_source_want_detail(cs_source *src, int min_side)
{
    src->detail_side = min_side > 0 ? min_side : 0;
}

void cs_source_close(cs_source *src)
{
    if (src)
        src->close(src);
}
