/* source_video.c - the capsule-video study source: demuxes a video file with
 * libavformat, decodes its best video stream with libavcodec and scales each
 * frame with libswscale to packed RGB24 at analysis size (and, when asked
 * through cs_source_want_detail, a second time to the detail size).
 *
 * Contract (see include/capscreen/source.h and docs/video-import.md):
 * - cs_source_open_video() fails, with a one-line reason, only when the file
 *   cannot be opened, is not a container FFmpeg reads, has no video stream or
 *   no decoder for it. Everything after that is per item.
 * - Each decoded frame becomes a CS_ITEM_IMAGE named "frame <n>", n counting
 *   from 0 in the decoder's output order; capture_time_us is the frame's
 *   best-effort timestamp in microseconds (container time, not shifted to
 *   start at 0), or -1 when the container has none.
 * - A packet or frame the decoder rejects, a damaged container read, a frame
 *   larger than CS_IMAGE_MAX_SIDE or in a pixel format swscale cannot convert
 *   becomes a CS_ITEM_BROKEN item that takes the next frame number, with
 *   FFmpeg's reason; the source then goes on with the next packet. Frames the
 *   decoder repaired itself (error concealment) are passed on as images.
 * - The item's image (rgb, malloc'd) belongs to the caller: cs_item_clear().
 * - Threads: one source, one thread at a time; decoding is single-threaded
 *   (thread_count = 1). Side effect: the first open sets FFmpeg's global log
 *   level to AV_LOG_QUIET (once, via pthread_once) so that libav* never
 *   writes to stderr; reasons come from av_strerror() instead. */
#include "capscreen/source.h"

#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/display.h>
#include <libavutil/imgutils.h>
#include <libavutil/log.h>
#include <libswscale/swscale.h>

/* After this many av_read_frame() (or avcodec_receive_frame()) errors in a
 * row, the rest of the file is taken as unreadable (the decoder drained). */
#define VIDEO_MAX_READ_ERRORS 32

typedef struct video_source {
    struct cs_source base;
    AVFormatContext *fmt;
    AVCodecContext *dec;
    AVPacket *pkt;
    AVFrame *frame;
    int stream;           /* index of the video stream in fmt */
    AVRational time_base; /* of that stream */
    int turns;            /* clockwise quarter turns to show it upright */
    int64_t next_index;   /* frame number of the next item */
    int read_errors;      /* consecutive av_read_frame() failures */
    int recv_errors;      /* consecutive receive_frame() failures */
    int draining;         /* flush packet sent: only receive now */
    int done;             /* decoder returned EOF */
    int64_t listed;       /* frames the container lists (nb_frames), or 0 */
    int64_t packets;      /* packets of our stream the demuxer gave */
    int shortfall_told;   /* the missing frames were reported */
    /* Scaler state; rebuilt when the frame's geometry or format changes. */
    struct SwsContext *sws;
    int sws_w, sws_h, sws_fmt, sws_space, sws_range;
    int out_w, out_h;
    uint8_t *tmp[4]; /* aligned scaler output, av_image_alloc */
    int tmp_stride[4];
    /* The detail scaler, when the source's detail side asks for more
     * pixels than the analysis size (else sws2 is NULL). */
    struct SwsContext *sws2;
    int det_side; /* the detail side it was built for */
    int det_w, det_h;
    uint8_t *tmp2[4];
    int tmp2_stride[4];
} video_source;

static pthread_once_t quiet_once = PTHREAD_ONCE_INIT;
static void quiet_ffmpeg(void) { av_log_set_level(AV_LOG_QUIET); }

static const char *av_reason(int averr, char *buf, size_t len)
{
    if (av_strerror(averr, buf, len) < 0)
        snprintf(buf, len, "FFmpeg error %d", averr);
    return buf;
}

static int64_t to_us(int64_t ts, AVRational tb)
{
    if (ts == AV_NOPTS_VALUE)
        return -1;
    return av_rescale_q(ts, tb, AV_TIME_BASE_Q);
}

/* Start a broken item in the next frame slot. */
static cs_status broken(video_source *vs, cs_item *item, cs_status code, int64_t time_us,
                        const char *fmt, ...) CS_PRINTF(5, 6);
static cs_status broken(video_source *vs, cs_item *item, cs_status code, int64_t time_us,
                        const char *fmt, ...)
{
    va_list ap;
    memset(item, 0, sizeof *item);
    item->kind = CS_ITEM_BROKEN;
    item->frame_index = vs->next_index;
    snprintf(item->name, sizeof item->name, "frame %" PRId64, vs->next_index);
    item->capture_time_us = time_us;
    item->status = code;
    va_start(ap, fmt);
    vsnprintf(item->reason, sizeof item->reason, fmt, ap);
    va_end(ap);
    vs->next_index++;
    return CS_OK;
}

static void free_scaler(video_source *vs)
{
    sws_freeContext(vs->sws);
    vs->sws = NULL;
    av_freep(&vs->tmp[0]);
    sws_freeContext(vs->sws2);
    vs->sws2 = NULL;
    av_freep(&vs->tmp2[0]);
}

/* A swscale context from f to RGB24 at w x h, honouring the stream's YUV
 * matrix and range (swscale assumes BT.601 limited range otherwise; yuvj*
 * formats already imply full range). NULL on failure. */
static struct SwsContext *rgb_scaler(const AVFrame *f, int w, int h)
{
    struct SwsContext *sws = sws_getContext(f->width, f->height, f->format, w, h, AV_PIX_FMT_RGB24,
                                            SWS_AREA, NULL, NULL, NULL);
    if (!sws)
        return NULL;
    int *inv, *tab, src_range, dst_range, bri, con, sat;
    if (sws_getColorspaceDetails(sws, &inv, &src_range, &tab, &dst_range, &bri, &con, &sat) >= 0) {
        if (f->colorspace != AVCOL_SPC_UNSPECIFIED)
            inv = (int *)sws_getCoefficients(f->colorspace);
        if (f->color_range == AVCOL_RANGE_JPEG)
            src_range = 1;
        sws_setColorspaceDetails(sws, inv, src_range, tab, dst_range, bri, con, sat);
    }
    return sws;
}

/* Scale f with sws into a new packed w x h RGB buffer (via the aligned
 * tmp); NULL when out of memory. */
static uint8_t *scale_packed(struct SwsContext *sws, const AVFrame *f, uint8_t *const tmp[4],
                             const int stride[4], int w, int h)
{
    size_t row = (size_t)w * 3;
    uint8_t *rgb = malloc(row * (size_t)h);
    if (!rgb)
        return NULL;
    sws_scale(sws, (const uint8_t *const *)f->data, f->linesize, 0, f->height, tmp, stride);
    for (int y = 0; y < h; y++)
        memcpy(rgb + (size_t)y * row, tmp[0] + (size_t)y * stride[0], row);
    return rgb;
}

/* Make sure vs->sws converts frames like `f`; 0 on success. */
static int ensure_scaler(video_source *vs, const AVFrame *f)
{
    if (vs->sws && vs->sws_w == f->width && vs->sws_h == f->height && vs->sws_fmt == f->format &&
        vs->sws_space == (int)f->colorspace && vs->sws_range == (int)f->color_range &&
        vs->det_side == vs->base.detail_side)
        return 0;
    free_scaler(vs);
    cs_analysis_size(f->width, f->height, &vs->out_w, &vs->out_h);
    vs->sws = rgb_scaler(f, vs->out_w, vs->out_h);
    if (!vs->sws)
        return -1;
    if (av_image_alloc(vs->tmp, vs->tmp_stride, vs->out_w, vs->out_h, AV_PIX_FMT_RGB24, 64) < 0) {
        free_scaler(vs);
        return -1;
    }
    vs->det_side = vs->base.detail_side;
    vs->det_w = vs->det_h = 0;
    if (vs->det_side > 0)
        cs_scaled_size(f->width, f->height, vs->det_side, &vs->det_w, &vs->det_h);
    if (vs->det_w > vs->out_w) {
        vs->sws2 = rgb_scaler(f, vs->det_w, vs->det_h);
        if (!vs->sws2 || av_image_alloc(vs->tmp2, vs->tmp2_stride, vs->det_w, vs->det_h,
                                        AV_PIX_FMT_RGB24, 64) < 0) {
            free_scaler(vs);
            return -1;
        }
    }
    vs->sws_w = f->width;
    vs->sws_h = f->height;
    vs->sws_fmt = f->format;
    vs->sws_space = (int)f->colorspace;
    vs->sws_range = (int)f->color_range;
    return 0;
}

/* Clockwise quarter turns (0..3) that show the stream as a player does
 * (and as `ffmpeg -i` extracts its frames), from its display matrix; 0
 * without one. Same rounding as fftools' autorotate. */
static int display_turns(const AVStream *st)
{
#if LIBAVCODEC_VERSION_INT >= AV_VERSION_INT(60, 29, 100)
    const AVPacketSideData *sd = av_packet_side_data_get(
        st->codecpar->coded_side_data, st->codecpar->nb_coded_side_data, AV_PKT_DATA_DISPLAYMATRIX);
    const int32_t *m = sd && sd->size >= 36 ? (const int32_t *)sd->data : NULL;
#else
    size_t size = 0;
    const int32_t *m =
        (const int32_t *)av_stream_get_side_data(st, AV_PKT_DATA_DISPLAYMATRIX, &size);
    if (size < 36)
        m = NULL;
#endif
    if (!m)
        return 0;
    double theta = -round(av_display_rotation_get(m)); /* clockwise degrees */
    if (isnan(theta))
        return 0;
    theta -= 360 * floor(theta / 360 + 0.9 / 360);
    return (int)lround(theta / 90) % 4;
}

/* A new packed RGB image: `src` (w x h) turned `turns` quarter turns
 * clockwise; *w and *h become its size. NULL when out of memory. */
static uint8_t *turn_rgb(const uint8_t *src, int *w, int *h, int turns)
{
    int sw = *w, sh = *h;
    int dw = turns % 2 ? sh : sw, dh = turns % 2 ? sw : sh;
    uint8_t *dst = malloc((size_t)sw * (size_t)sh * 3);
    if (!dst)
        return NULL;
    for (int y = 0; y < sh; y++)
        for (int x = 0; x < sw; x++) {
            int dx = turns == 1 ? sh - 1 - y : turns == 2 ? sw - 1 - x : y;
            int dy = turns == 1 ? x : turns == 2 ? sh - 1 - y : sw - 1 - x;
            memcpy(dst + ((size_t)dy * dw + dx) * 3, src + ((size_t)y * sw + x) * 3, 3);
        }
    *w = dw;
    *h = dh;
    return dst;
}

/* Turn the image upright (vs->turns); false when out of memory. */
static bool turn_upright(const video_source *vs, cs_image *im)
{
    if (vs->turns == 0)
        return true;
    uint8_t *rgb = turn_rgb(im->rgb, &im->width, &im->height, vs->turns);
    if (!rgb)
        return false;
    free(im->rgb);
    im->rgb = rgb;
    if (vs->turns % 2) {
        int t = im->src_width;
        im->src_width = im->src_height;
        im->src_height = t;
    }
    if (im->detail_rgb) {
        uint8_t *d = turn_rgb(im->detail_rgb, &im->detail_width, &im->detail_height, vs->turns);
        if (!d)
            return false;
        free(im->detail_rgb);
        im->detail_rgb = d;
    }
    return true;
}

/* Turn the decoded vs->frame into an item (image or broken). */
static cs_status frame_to_item(video_source *vs, cs_item *item, cs_error *err)
{
    AVFrame *f = vs->frame;
    int64_t t = to_us(f->best_effort_timestamp, vs->time_base);
    if (f->width <= 0 || f->height <= 0 || f->width > CS_IMAGE_MAX_SIDE ||
        f->height > CS_IMAGE_MAX_SIDE)
        return broken(vs, item, CS_ERR_TOO_LARGE, t,
                      "frame of %dx%d pixels exceeds the %d-pixel limit", f->width, f->height,
                      CS_IMAGE_MAX_SIDE);
    if (ensure_scaler(vs, f) != 0)
        return broken(vs, item, CS_ERR_UNSUPPORTED, t, "cannot convert %dx%d %s frames to RGB",
                      f->width, f->height,
                      av_get_pix_fmt_name(f->format) ? av_get_pix_fmt_name(f->format)
                                                     : "unknown-format");
    uint8_t *rgb = scale_packed(vs->sws, f, vs->tmp, vs->tmp_stride, vs->out_w, vs->out_h);
    uint8_t *detail =
        vs->sws2 ? scale_packed(vs->sws2, f, vs->tmp2, vs->tmp2_stride, vs->det_w, vs->det_h)
                 : NULL;
    if (!rgb || (vs->sws2 && !detail)) {
        free(rgb);
        free(detail);
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory for a %dx%d frame", vs->out_w,
                            vs->out_h);
    }
    memset(item, 0, sizeof *item);
    item->kind = CS_ITEM_IMAGE;
    item->frame_index = vs->next_index;
    snprintf(item->name, sizeof item->name, "frame %" PRId64, vs->next_index);
    item->capture_time_us = t;
    item->image.width = vs->out_w;
    item->image.height = vs->out_h;
    item->image.src_width = f->width;
    item->image.src_height = f->height;
    item->image.rgb = rgb;
    if (detail) {
        item->image.detail_width = vs->det_w;
        item->image.detail_height = vs->det_h;
        item->image.detail_rgb = detail;
    }
    if (!turn_upright(vs, &item->image)) {
        free(item->image.rgb);
        free(item->image.detail_rgb);
        memset(item, 0, sizeof *item);
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory turning a %dx%d frame upright",
                            vs->out_w, vs->out_h);
    }
    vs->next_index++;
    return CS_OK;
}

/* The end of the study: CS_END, but first, once, a broken `truncated` item
 * when the demuxer gave fewer packets than the container lists frames
 * (MP4, MOV and AVI keep a count). A file cut short otherwise ends as if
 * complete, and the reader would take a partial study for a whole one.
 * Packets, not decoded frames: an intact file's decoder may drop a few
 * (frames before the first keyframe, an edit list's cuts), which are not
 * missing data; and a few packets of slack (2 + 0.5 %) for containers
 * whose count and packets differ by a drop frame or two. */
static cs_status end_of_video(video_source *vs, cs_item *item)
{
    int64_t slack = 2 + vs->listed / 200;
    if (vs->shortfall_told || vs->listed <= 0 || vs->packets + slack >= vs->listed)
        return CS_END;
    vs->shortfall_told = 1;
    return broken(vs, item, CS_ERR_TRUNCATED, -1,
                  "the video's data ends after %" PRId64 " of the %" PRId64
                  " frames its container lists (file cut short?)",
                  vs->packets, vs->listed);
}

static cs_status video_next(cs_source *src, cs_item *item, cs_error *err)
{
    video_source *vs = (video_source *)src;
    char why[AV_ERROR_MAX_STRING_SIZE];

    for (;;) {
        if (vs->done)
            return end_of_video(vs, item);
        /* 1. Hand out any frame the decoder already has. */
        int ret = avcodec_receive_frame(vs->dec, vs->frame);
        if (ret >= 0) {
            vs->recv_errors = 0;
            cs_status s = frame_to_item(vs, item, err);
            av_frame_unref(vs->frame);
            return s;
        }
        if (ret == AVERROR_EOF) {
            vs->done = 1;
            continue;
        }
        if (ret != AVERROR(EAGAIN)) {
            /* A frame failed to decode; go on, but stop if the decoder
             * only ever returns errors. */
            if (++vs->recv_errors >= VIDEO_MAX_READ_ERRORS)
                vs->done = 1;
            return broken(vs, item, CS_ERR_CORRUPT, -1, "frame failed to decode: %s",
                          av_reason(ret, why, sizeof why));
        }
        vs->recv_errors = 0;
        if (vs->draining) { /* EAGAIN after flush: decoder misbehaves */
            vs->done = 1;
            continue;
        }

        /* 2. Feed the next packet of our stream, or the flush packet. */
        ret = av_read_frame(vs->fmt, vs->pkt);
        if (ret == AVERROR(EAGAIN))
            continue;
        if (ret < 0) {
            int at_end = ret == AVERROR_EOF || ++vs->read_errors >= VIDEO_MAX_READ_ERRORS ||
                         (vs->fmt->pb && avio_feof(vs->fmt->pb));
            if (at_end) {
                vs->draining = 1;
                (void)avcodec_send_packet(vs->dec, NULL);
            }
            if (ret == AVERROR_EOF)
                continue;
            return broken(vs, item, CS_ERR_CORRUPT, -1, "damaged video data: %s",
                          av_reason(ret, why, sizeof why));
        }
        vs->read_errors = 0;
        if (vs->pkt->stream_index != vs->stream) {
            av_packet_unref(vs->pkt);
            continue;
        }
        vs->packets++;
        int64_t pkt_us =
            to_us(vs->pkt->pts != AV_NOPTS_VALUE ? vs->pkt->pts : vs->pkt->dts, vs->time_base);
        ret = avcodec_send_packet(vs->dec, vs->pkt);
        av_packet_unref(vs->pkt);
        /* EAGAIN cannot happen: the decoder's output was drained above. */
        if (ret < 0 && ret != AVERROR(EAGAIN)) {
            if (vs->dec->width > CS_IMAGE_MAX_SIDE || vs->dec->height > CS_IMAGE_MAX_SIDE)
                return broken(vs, item, CS_ERR_TOO_LARGE, pkt_us,
                              "frame of %dx%d pixels exceeds the %d-pixel "
                              "limit",
                              vs->dec->width, vs->dec->height, CS_IMAGE_MAX_SIDE);
            return broken(vs, item, CS_ERR_CORRUPT, pkt_us, "packet failed to decode: %s",
                          av_reason(ret, why, sizeof why));
        }
    }
}

static void video_close(cs_source *src)
{
    video_source *vs = (video_source *)src;
    free_scaler(vs);
    av_frame_free(&vs->frame);
    av_packet_free(&vs->pkt);
    avcodec_free_context(&vs->dec);
    avformat_close_input(&vs->fmt);
    free(vs);
}

/* Frame count from the container, else duration * frame rate, else -1. */
static int64_t expected_frames(const AVFormatContext *fmt, const AVStream *st)
{
    if (st->nb_frames > 0)
        return st->nb_frames;
    AVRational rate = st->avg_frame_rate;
    if (rate.num <= 0 || rate.den <= 0)
        return -1;
    double secs = -1;
    if (st->duration != AV_NOPTS_VALUE && st->duration > 0)
        secs = (double)st->duration * av_q2d(st->time_base);
    else if (fmt->duration != AV_NOPTS_VALUE && fmt->duration > 0)
        secs = (double)fmt->duration / AV_TIME_BASE;
    return secs > 0 ? (int64_t)(secs * av_q2d(rate) + 0.5) : -1;
}

cs_status cs_source_open_video(const char *path, cs_source **out, cs_error *err)
{
    char why[AV_ERROR_MAX_STRING_SIZE];
    cs_status code;
    int ret;

    if (!path || !out)
        return cs_error_set(err, CS_ERR_ARG, "no path or output given");
    *out = NULL;
    struct stat st_file;
    if (stat(path, &st_file) == 0 && S_ISREG(st_file.st_mode) && st_file.st_size == 0)
        return cs_error_set(err, CS_ERR_EMPTY, "empty file: %s", path);
    pthread_once(&quiet_once, quiet_ffmpeg);

    video_source *vs = calloc(1, sizeof *vs);
    if (!vs)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory");
    vs->base.type = CS_SOURCE_VIDEO;
    vs->base.expected = -1;
    vs->base.next = video_next;
    vs->base.close = video_close;

    ret = avformat_open_input(&vs->fmt, path, NULL, NULL);
    if (ret < 0) {
        if (ret == AVERROR(ENOENT) || ret == AVERROR(EACCES) || ret == AVERROR(EISDIR))
            code = cs_error_set(err, CS_ERR_IO, "cannot open %s: %s", path,
                                av_reason(ret, why, sizeof why));
        else
            code = cs_error_set(err, CS_ERR_UNSUPPORTED, "not a video FFmpeg can read: %s",
                                av_reason(ret, why, sizeof why));
        goto fail;
    }
    ret = avformat_find_stream_info(vs->fmt, NULL);
    if (ret < 0) {
        code = cs_error_set(err, CS_ERR_CORRUPT, "cannot read the video's stream information: %s",
                            av_reason(ret, why, sizeof why));
        goto fail;
    }
    const AVCodec *codec = NULL;
    ret = av_find_best_stream(vs->fmt, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
    if (ret < 0) {
        code =
            cs_error_set(err, CS_ERR_UNSUPPORTED,
                         ret == AVERROR_DECODER_NOT_FOUND ? "no decoder for the file's video stream"
                                                          : "file has no video stream");
        goto fail;
    }
    vs->stream = ret;
    AVStream *st = vs->fmt->streams[vs->stream];
    vs->time_base = st->time_base;
    vs->turns = display_turns(st);
    vs->base.expected = expected_frames(vs->fmt, st);
    vs->listed = st->nb_frames > 0 ? st->nb_frames : 0;

    vs->dec = avcodec_alloc_context3(codec);
    vs->pkt = av_packet_alloc();
    vs->frame = av_frame_alloc();
    if (!vs->dec || !vs->pkt || !vs->frame) {
        code = cs_error_set(err, CS_ERR_NOMEM, "out of memory");
        goto fail;
    }
    ret = avcodec_parameters_to_context(vs->dec, st->codecpar);
    if (ret >= 0) {
        vs->dec->pkt_timebase = st->time_base;
        vs->dec->thread_count = 1;
        /* Let the codec refuse absurd sizes before allocating for them. */
        vs->dec->max_pixels = (int64_t)CS_IMAGE_MAX_SIDE * CS_IMAGE_MAX_SIDE;
        ret = avcodec_open2(vs->dec, codec, NULL);
    }
    if (ret < 0) {
        code = cs_error_set(err, CS_ERR_UNSUPPORTED, "cannot open the %s decoder: %s", codec->name,
                            av_reason(ret, why, sizeof why));
        goto fail;
    }
    *out = &vs->base;
    return CS_OK;

fail:
    video_close(&vs->base);
    return code;
}
