/* stream.c - picking intact records out of a growing frame-stream file. */
#include "uplink/stream.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "capscreen/crc32c.h"
#include "capscreen/framestream.h"

static uint64_t get(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

cs_status csu_stream_read(int fd, uint64_t off, uint8_t *buf, size_t len, cs_error *err)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = pread(fd, buf + got, len - got, (off_t)(off + got));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return cs_error_set(err, CS_ERR_IO, "reading the source stream: %s", strerror(errno));
        if (n == 0)
            return cs_error_set(err, CS_ERR_TRUNCATED,
                                "source stream ends at "
                                "%llu",
                                (unsigned long long)(off + got));
        got += (size_t)n;
    }
    return CS_OK;
}

/* Skip from *pos to the next record magic after it within `size` bytes. */
static void skip_damage(int fd, uint64_t *pos, uint64_t size, const char *why,
                        csu_stream_result *res, cs_error *err)
{
    uint8_t buf[4096];
    uint64_t from = *pos, at = *pos + 1;
    while (at + 4 <= size) {
        size_t n = size - at < sizeof buf ? (size_t)(size - at) : sizeof buf;
        if (csu_stream_read(fd, at, buf, n, NULL) != CS_OK)
            break;
        for (size_t i = 0; i + 4 <= n; i++)
            if (memcmp(buf + i, CS_FS_RECORD_MAGIC, 4) == 0) {
                at += i;
                goto found;
            }
        at += n - 3;
    }
    at = size > 3 && size - 3 > from ? size - 3 : from + 1;
found:
    *pos = at;
    *res = CSU_STREAM_SKIPPED;
    cs_error_set(err, CS_ERR_CORRUPT,
                 "source stream: %s at offset %llu; "
                 "skipped %llu bytes",
                 why, (unsigned long long)from, (unsigned long long)(at - from));
}

cs_status csu_stream_next(int fd, uint64_t *pos, uint8_t *payload, size_t cap, csu_entry *e,
                          csu_stream_result *res, cs_error *err)
{
    uint8_t h[CS_FS_RECORD_HEADER_MAX], crc[4];
    struct stat sb;
    cs_status st;
    *res = CSU_STREAM_WAIT;
    if (fstat(fd, &sb) != 0)
        return cs_error_set(err, CS_ERR_IO, "source stream: %s", strerror(errno));
    uint64_t size = (uint64_t)sb.st_size;
    if (*pos == 0) { /* the file header */
        if (size < CS_FS_FILE_HEADER_SIZE)
            return CS_OK;
        if ((st = csu_stream_read(fd, 0, h, 8, err)) != CS_OK)
            return st;
        uint64_t hl = get(h + 6, 2);
        if (memcmp(h, CS_FS_FILE_MAGIC, 4) == 0 && hl >= CS_FS_FILE_HEADER_SIZE &&
            hl <= CS_FS_FILE_HEADER_MAX) {
            if (size < hl)
                return CS_OK;
            *pos = hl;
            return CS_OK; /* nothing yet; the caller asks again */
        }
        skip_damage(fd, pos, size, "no file header", res, err);
        return CS_OK;
    }
    if (size < *pos + CS_FS_RECORD_HEADER_SIZE)
        return CS_OK;
    if ((st = csu_stream_read(fd, *pos, h, CS_FS_RECORD_HEADER_SIZE, err)) != CS_OK)
        return st;
    uint64_t hl = get(h + 4, 2);
    if (memcmp(h, CS_FS_RECORD_MAGIC, 4) != 0 || hl < CS_FS_RECORD_HEADER_SIZE ||
        hl > CS_FS_RECORD_HEADER_MAX) {
        skip_damage(fd, pos, size, "no record", res, err);
        return CS_OK;
    }
    if (size < *pos + hl)
        return CS_OK;
    if ((st = csu_stream_read(fd, *pos, h, (size_t)hl, err)) != CS_OK)
        return st;
    if (cs_crc32c(0, h, (size_t)hl - 4) != (uint32_t)get(h + hl - 4, 4)) {
        skip_damage(fd, pos, size, "record header CRC mismatch", res, err);
        return CS_OK;
    }
    uint64_t plen = get(h + 24, 4);
    if (plen > cap) {
        skip_damage(fd, pos, size, "record payload over the frame cap", res, err);
        return CS_OK;
    }
    if (size < *pos + hl + plen + 4)
        return CS_OK;
    if ((st = csu_stream_read(fd, *pos + hl, payload, (size_t)plen, err)) != CS_OK ||
        (st = csu_stream_read(fd, *pos + hl + plen, crc, 4, err)) != CS_OK)
        return st;
    if (cs_crc32c(0, payload, (size_t)plen) != (uint32_t)get(crc, 4)) {
        skip_damage(fd, pos, size, "record payload CRC mismatch", res, err);
        return CS_OK;
    }
    memset(e, 0, sizeof *e);
    e->index = get(h + 8, 8);
    e->time_us = (int64_t)get(h + 16, 8);
    e->size = (uint32_t)plen;
    e->src_off = *pos + hl;
    *pos += hl + plen + 4;
    *res = CSU_STREAM_RECORD;
    return CS_OK;
}
