/* writer.c - encodes frame-stream file headers and records (to a buffer or a FILE). */
#include "capscreen/framestream.h"

#include <errno.h>
#include <string.h>

#include "capscreen/crc32c.h"

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

void cs_fs_encode_file_header(uint8_t out[CS_FS_FILE_HEADER_SIZE])
{
    memcpy(out, CS_FS_FILE_MAGIC, 4);
    put16(out + 4, CS_FS_VERSION);
    put16(out + 6, CS_FS_FILE_HEADER_SIZE);
    put32(out + 8, 0); /* flags: all reserved */
    put32(out + 12, cs_crc32c(0, out, 12));
}

void cs_fs_encode_record_header(uint8_t out[CS_FS_RECORD_HEADER_SIZE], uint64_t index,
                                int64_t time_us, uint16_t flags, uint32_t payload_len)
{
    memcpy(out, CS_FS_RECORD_MAGIC, 4);
    put16(out + 4, CS_FS_RECORD_HEADER_SIZE);
    put16(out + 6, flags);
    put64(out + 8, index);
    put64(out + 16, (uint64_t)time_us); /* two's complement on disk */
    put32(out + 24, payload_len);
    put32(out + 28, cs_crc32c(0, out, 28));
}

static cs_status check_payload(const uint8_t *payload, uint32_t len, cs_error *err)
{
    if (!payload && len > 0)
        return cs_error_set(err, CS_ERR_ARG,
                            "frame-stream record: NULL "
                            "payload with length %u",
                            (unsigned)len);
    if (len > CS_FS_DEFAULT_MAX_PAYLOAD)
        return cs_error_set(err, CS_ERR_TOO_LARGE,
                            "frame-stream record: "
                            "payload of %u bytes is over the cap of %u",
                            (unsigned)len, (unsigned)CS_FS_DEFAULT_MAX_PAYLOAD);
    return CS_OK;
}

cs_status cs_fs_encode_record(uint8_t *buf, size_t buf_len, uint64_t index, int64_t time_us,
                              uint16_t flags, const uint8_t *payload, uint32_t len, size_t *written,
                              cs_error *err)
{
    if (!buf || !written)
        return cs_error_set(err, CS_ERR_ARG,
                            "frame-stream record: NULL "
                            "buffer or size");
    cs_status st = check_payload(payload, len, err);
    if (st != CS_OK)
        return st;
    size_t need = (size_t)CS_FS_RECORD_OVERHEAD + len;
    if (buf_len < need)
        return cs_error_set(err, CS_ERR_TOO_LARGE,
                            "frame-stream record: "
                            "needs %zu bytes, buffer has %zu",
                            need, buf_len);
    cs_fs_encode_record_header(buf, index, time_us, flags, len);
    if (len > 0)
        memcpy(buf + CS_FS_RECORD_HEADER_SIZE, payload, len);
    put32(buf + CS_FS_RECORD_HEADER_SIZE + len, cs_crc32c(0, payload, len));
    *written = need;
    return CS_OK;
}

static cs_status write_all(FILE *f, const void *p, size_t n, const char *what, cs_error *err)
{
    if (n > 0 && fwrite(p, 1, n, f) != n)
        return cs_error_set(err, CS_ERR_IO,
                            "frame-stream: writing %s "
                            "failed: %s",
                            what, strerror(errno));
    return CS_OK;
}

cs_status cs_fs_write_header(FILE *f, cs_error *err)
{
    uint8_t h[CS_FS_FILE_HEADER_SIZE];
    if (!f)
        return cs_error_set(err, CS_ERR_ARG, "frame-stream: NULL file");
    cs_fs_encode_file_header(h);
    return write_all(f, h, sizeof h, "the file header", err);
}

cs_status cs_fs_write_record(FILE *f, uint64_t index, int64_t time_us, uint16_t flags,
                             const uint8_t *payload, uint32_t len, cs_error *err)
{
    uint8_t h[CS_FS_RECORD_HEADER_SIZE], crc[4];
    if (!f)
        return cs_error_set(err, CS_ERR_ARG, "frame-stream: NULL file");
    cs_status st = check_payload(payload, len, err);
    if (st != CS_OK)
        return st;
    cs_fs_encode_record_header(h, index, time_us, flags, len);
    put32(crc, cs_crc32c(0, payload, len));
    if ((st = write_all(f, h, sizeof h, "a record header", err)) != CS_OK ||
        (st = write_all(f, payload, len, "a record payload", err)) != CS_OK ||
        (st = write_all(f, crc, sizeof crc, "a record CRC", err)) != CS_OK)
        return st;
    return CS_OK;
}

bool cs_fs_is_stream_file(const char *path)
{
    uint8_t m[4];
    FILE *f = path ? fopen(path, "rb") : NULL;
    if (!f)
        return false;
    bool yes = fread(m, 1, 4, f) == 4 && memcmp(m, CS_FS_FILE_MAGIC, 4) == 0;
    fclose(f);
    return yes;
}
