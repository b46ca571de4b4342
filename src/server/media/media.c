/* media.c - a study's frames and thumbnails for the reading workstation,
 * read from the study stream by the payload offsets the live analysis
 * stored, thumbnails cached under DATA/thumbs (media.h). */
#include "server/media/media.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "capscreen/fileio.h"
#include "capscreen/image.h"
#include "capscreen/reencode.h"
#include "server/files/tus_files.h"

/* A cached thumbnail is a few KiB; anything this big is not one of ours. */
#define THUMB_FILE_MAX (1024u * 1024u)

/* Read all of `len` bytes at `off` of the file at `path`. */
static cs_status pread_all(const char *path, uint64_t off, uint8_t *buf, size_t len, cs_error *err)
{
    cs_status st = CS_OK;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return cs_error_set(err, CS_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    while (len > 0) {
        ssize_t got = pread(fd, buf, len, (off_t)off);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0) {
            st = cs_error_set(err, CS_ERR_IO, "cannot read %s at %" PRIu64 ": %s", path, off,
                              got < 0 ? strerror(errno) : "shorter than recorded");
            goto fail;
        }
        buf += got;
        len -= (size_t)got;
        off += (uint64_t)got;
    }
fail:
    close(fd);
    return st;
}

cs_status cs_media_stream_read(const cs_media *s, const char *study, uint64_t offset, uint8_t *buf,
                               size_t len, cs_error *err)
{
    cs_upload_rec *ups = NULL;
    size_t n = 0;
    if (len == 0)
        return CS_OK;
    if (offset > UINT64_MAX - len)
        return cs_error_set(err, CS_ERR_IO, "stream range out of bounds");
    cs_status st = cs_store_upload_list(s->store, study, false, &ups, &n, err);
    if (st != CS_OK)
        return st;
    uint64_t base = 0, end = offset + len;
    /* The stream as the analysis reads it (ingest.c, feed_more): each
     * upload's stored bytes in creation order, up to the first open one,
     * after which nothing can be placed yet. */
    for (size_t i = 0; i < n && offset < end; i++) {
        const cs_upload_rec *u = &ups[i];
        uint64_t u_end = base + u->offset;
        if (offset < u_end) {
            size_t take = (size_t)((end < u_end ? end : u_end) - offset);
            char path[CS_CFG_PATH + 96];
            cs_tus_path(s->files, u->id, path, sizeof path);
            if ((st = pread_all(path, offset - base, buf, take, err)) != CS_OK)
                goto fail;
            buf += take;
            offset += take;
        }
        base = u_end;
        if (u->state == CS_UPLOAD_OPEN)
            break;
    }
    if (offset < end)
        st = cs_error_set(err, CS_ERR_IO,
                          "study %s: stream ends at %" PRIu64 ", before byte %" PRIu64, study, base,
                          end - 1);
fail:
    free(ups);
    return st;
}

cs_status cs_media_frame(const cs_media *s, const char *study, uint64_t seq, bool *found,
                         uint8_t **out, size_t *len, cs_error *err)
{
    cs_frame_view v;
    size_t n = 0;
    uint8_t *buf = NULL;
    *found = false;
    *out = NULL;
    *len = 0;
    cs_status st = cs_store_frame_views(s->store, study, seq, &v, 1, &n, err);
    if (st != CS_OK || n == 0 || v.seq != seq || v.payload_len == 0)
        return st;
    if (v.payload_len > CS_ENCODED_MAX_BYTES)
        return cs_error_set(err, CS_ERR_IO,
                            "study %s frame %" PRIu64 ": stored payload length %" PRIu32
                            " over the cap",
                            study, seq, v.payload_len);
    buf = malloc(v.payload_len);
    if (!buf)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory reading a frame");
    if ((st = cs_media_stream_read(s, study, v.payload_offset, buf, v.payload_len, err)) != CS_OK)
        goto fail;
    *found = true;
    *out = buf;
    *len = v.payload_len;
    return CS_OK;
fail:
    free(buf);
    return st;
}

/* Study ids are made by the server (tokens.c); refuse anything else before
 * it reaches a path. */
static bool safe_id(const char *id)
{
    size_t n = strnlen(id, CS_ID_MAX);
    if (n == 0 || n >= CS_ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = id[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return false;
    }
    return true;
}

/* The same failure under this module's code (media.h's error list). */
static cs_status recode(cs_error *err, cs_status code)
{
    if (err)
        err->code = code;
    return code;
}

static cs_status make_dir(const char *path, cs_error *err)
{
    if (mkdir(path, 0750) != 0 && errno != EEXIST)
        return cs_error_set(err, CS_ERR_IO, "cannot create %s: %s", path, strerror(errno));
    return CS_OK;
}

/* Write `data` to `path` through a temporary file of this maker's own and a
 * rename, so a reader never sees half a file and two makers of the same
 * thumbnail each rename a whole one (the same bytes) into place. */
static cs_status write_cached(const char *dir, const char *path, const uint8_t *data, size_t len,
                              cs_error *err)
{
    char tmp[CS_CFG_PATH + 160];
    cs_status st = CS_OK;
    snprintf(tmp, sizeof tmp, "%s/.tmp-XXXXXX", dir);
    int fd = mkstemp(tmp);
    if (fd < 0)
        return cs_error_set(err, CS_ERR_IO, "cannot create a file in %s: %s", dir, strerror(errno));
    if ((st = cs_tus_file_write(fd, data, len, err)) != CS_OK)
        goto fail;
    /* Without it a crash could leave an empty file under the final name,
     * served as the thumbnail for ever. */
    if (fsync(fd) != 0) {
        st = cs_error_set(err, CS_ERR_IO, "cannot fsync %s: %s", tmp, strerror(errno));
        goto fail;
    }
    if (fchmod(fd, 0640) != 0 || close(fd) != 0) {
        fd = -1;
        st = cs_error_set(err, CS_ERR_IO, "cannot finish %s: %s", tmp, strerror(errno));
        goto fail;
    }
    fd = -1;
    if (rename(tmp, path) != 0) {
        st = cs_error_set(err, CS_ERR_IO, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
        goto fail;
    }
    return CS_OK;
fail:
    if (fd >= 0)
        close(fd);
    (void)unlink(tmp);
    return st;
}

cs_status cs_media_thumb(const cs_media *s, const char *study, uint64_t seq, bool *found,
                         uint8_t **out, size_t *len, cs_error *err)
{
    char dir[CS_CFG_PATH + 96], path[CS_CFG_PATH + 128];
    uint8_t *jpeg = NULL, *thumb = NULL;
    size_t jpeg_len = 0, thumb_len = 0;
    cs_status st;
    *found = false;
    *out = NULL;
    *len = 0;
    if (!safe_id(study))
        return CS_OK;
    snprintf(dir, sizeof dir, "%s/thumbs/%s", s->data_dir, study);
    snprintf(path, sizeof path, "%s/%" PRIu64 ".jpg", dir, seq);
    /* Frames never change once stored, so a cached thumbnail is current. */
    if (access(path, F_OK) == 0) {
        if ((st = cs_file_read(path, THUMB_FILE_MAX, out, len, err)) != CS_OK)
            return st == CS_ERR_NOMEM ? st : recode(err, CS_ERR_IO);
        *found = true;
        return CS_OK;
    }
    if ((st = cs_media_frame(s, study, seq, found, &jpeg, &jpeg_len, err)) != CS_OK || !*found)
        return st;
    *found = false;
    st = cs_jpeg_thumbnail(jpeg, jpeg_len, CS_THUMB_MAX_SIDE, CS_THUMB_QUALITY, &thumb, &thumb_len,
                           NULL, NULL, err);
    if (st != CS_OK) {
        if (st != CS_ERR_NOMEM && st != CS_ERR_IO)
            st = recode(err, CS_ERR_CORRUPT); /* the payload does not decode */
        goto fail;
    }
    char top[CS_CFG_PATH + 16];
    snprintf(top, sizeof top, "%s/thumbs", s->data_dir);
    if ((st = make_dir(top, err)) != CS_OK || (st = make_dir(dir, err)) != CS_OK ||
        (st = write_cached(dir, path, thumb, thumb_len, err)) != CS_OK)
        goto fail;
    free(jpeg);
    *found = true;
    *out = thumb;
    *len = thumb_len;
    return CS_OK;
fail:
    free(jpeg);
    free(thumb);
    return st;
}
